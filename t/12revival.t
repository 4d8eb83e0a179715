#!/usr/bin/python3
# Any message from an inactive dealer revives it (A.2.2, B.4): a heartbeat
# is acknowledged, the dealer is active again and the queue is drained to it
# at once.  A non-heartbeat message (router_monitor) revives it as well.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"heartbeat_timeout": "2s",
                         "no_service_wait": duration(10)}}).start()


def state(sid):
    return gw.clusters().get(sid, {}).get("state")


a = RawPeer(gw.endpoint, identity="RefService-aaaa0001")
b = RawPeer(gw.endpoint, identity="Other-bbbb0002")
a.register()
b.register(group="Other")
is_([a.recv(), b.recv()], [[b"register_ack", b""]] * 2, "two dealers register")
ok(wait_until(lambda: state(a.identity.decode()) == "inactive"
              and state(b.identity.decode()) == "inactive", timeout=5.0),
   "both go inactive when silent")

c = RawPeer(gw.endpoint, identity="client-12")
rid = c.call("RefService.echo", "back again")
is_(c.expect_nothing(0.5), None,
    "a call for the inactive dealer's method waits (no_service_wait)")

a.heartbeat()
got = [a.recv(), a.recv()]
ok([b"heartbeat_ack", b""] in got,
   "the inactive dealer's heartbeat is acknowledged") or diag(got)
call = next((Call(m) for m in got if m and m[0] == b"call_from_router"), None)
ok(call and call.request_id == rid,
   "the revived dealer gets the waiting call at once") or diag(got)
is_(state("RefService-aaaa0001"), "active", "clusters lists it as active")
ok("RefService.echo" in gw.methods(), "its method is offered again")
a.reply(call.cid, {"type": "reply", "request_id": rid, "result": "back again"})
kind, body = c.recv_json()
is_((kind, body), ("reply_from_router",
                   {"type": "reply", "request_id": rid, "result": "back again"}),
    "and the client gets the reply")

b.send(["router_monitor", ""])
is_(b.recv(), [b"heartbeat_ack", b""], "router_monitor is answered")
is_(state("Other-bbbb0002"), "active",
    "any message (here router_monitor) revives an inactive dealer")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
