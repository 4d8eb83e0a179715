#!/usr/bin/python3
# A reply_from_dealer is forwarded only for a request in flight on that
# dealer (A.2.2, B.2): from an unknown dealer it is answered with
# "Unknown message type: reply_from_dealer"; a forged reply from another
# dealer, a duplicate after the end, and a reply for a client that never
# called are dropped.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
c = RawPeer(gw.endpoint, identity="client-62")

stranger = RawPeer(gw.endpoint, identity="RefService-5a5a5a5a")
stranger.reply(b"client-62", {"type": "reply", "request_id": "x", "result": 0})
kind, body = stranger.recv_json()
is_((kind, body.get("error") if isinstance(body, dict) else body),
    ("error", "Unknown message type: reply_from_dealer"),
    "a reply from an unregistered dealer is answered with the Part A error")
is_(c.expect_nothing(0.3), None, "and not forwarded")

one = RawPeer(gw.endpoint, identity="RefService-01010101")
two = RawPeer(gw.endpoint, identity="RefService-02020202")
for d in (one, two):
    d.register()
    d.recv()
rid = c.call("RefService.echo", "real")
call, holder = None, None
for d in (one, two):
    call = d.expect_call(0.5)
    if call:
        holder, forger = d, (two if d is one else one)
        break
ok(call and call.request_id == rid, "a call is dispatched to one dealer")

forger.reply(b"client-62", {"type": "reply", "request_id": rid,
                            "result": "forged"})
is_(c.expect_nothing(0.3), None, "the other dealer's forged reply is dropped")
holder.reply(b"client-62", {"type": "reply", "request_id": rid,
                            "result": "real"})
is_(c.recv_json(), ("reply_from_router", {"type": "reply", "request_id": rid,
                                          "result": "real"}),
    "the real reply is forwarded")
holder.reply(b"client-62", {"type": "reply", "request_id": rid,
                            "result": "again"})
is_(c.expect_nothing(0.3), None, "a second reply after the end is dropped")

other = RawPeer(gw.endpoint, identity="client-62-other")
other.send(["router_monitor", ""])
other.recv()                    # now the gateway knows this client
holder.reply(b"client-62-other", {"type": "reply", "request_id": "never",
                                  "result": 1})
is_(other.expect_nothing(0.3), None,
    "a reply for a client that never called is dropped")

rid = c.call("RefService.echo", "still")
got = [d.expect_call(0.5) for d in (one, two)]
call = next((g for g in got if g), None)
ok(call and call.request_id == rid, "the dealers still get calls")
(one if got[0] else two).reply(b"client-62", {"type": "reply",
                                              "request_id": rid, "result": 1})
is_(c.recv_json()[1], {"type": "reply", "request_id": rid, "result": 1},
    "and their replies are forwarded")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
