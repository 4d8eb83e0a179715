#!/usr/bin/python3
# A dealer that reconnects with the same identity (the Python dealers do)
# and registers again keeps its in-flight requests: their replies still
# reach the clients, and its capacity stays taken until then (B.1
# ROUTER_HANDOVER, B.4).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
sid = "RefService-4e4e4e4e"

old = RawPeer(gw.endpoint, identity=sid)
old.register()
is_(old.recv(), [b"register_ack", b""], "the dealer registers")

c1 = RawPeer(gw.endpoint, identity="client-16-1")
rid1 = c1.call("RefService.echo", "first")
call = old.expect_call()
ok(call and call.request_id == rid1, "it gets a call")

old.close()
new = RawPeer(gw.endpoint, identity=sid)
new.register()
is_(new.recv(ignore=("heartbeat_ack",)), [b"register_ack", b""],
    "the same identity on a new connection registers again")
is_(list(gw.clusters()).count(sid), 1, "it is listed once")

c2 = RawPeer(gw.endpoint, identity="client-16-2")
rid2 = c2.call("RefService.echo", "second")
is_(new.expect_call(0.5), None,
    "the request it held still counts: a second call waits")

new.reply(call.cid, {"type": "reply", "request_id": rid1, "result": "first"})
is_(c1.recv_json(), ("reply_from_router",
                     {"type": "reply", "request_id": rid1, "result": "first"}),
    "the reply sent on the new connection reaches the first client")
call2 = new.expect_call()
ok(call2 and call2.request_id == rid2,
   "then the waiting call is dispatched to the dealer")
new.reply(call2.cid, {"type": "reply", "request_id": rid2, "result": "second"})
is_(c2.recv_json()[1], {"type": "reply", "request_id": rid2,
                        "result": "second"}, "and answered")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
