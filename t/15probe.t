#!/usr/bin/python3
# While a dealer holds a request the gateway sends it an unsolicited
# heartbeat_ack every router.probe_interval, so a Python dealer never sees
# a long silence (B.4).  Idle dealers get no probes.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"probe_interval": "500ms",
                         "heartbeat_timeout": duration(30),
                         "busy_timeout": duration(60)}}).start()

d = RawPeer(gw.endpoint, identity="RefService-9e0be001")
d.register()
is_(d.recv(), [b"register_ack", b""], "the dealer registers")
is_(d.expect_nothing(1.5), None, "an idle dealer gets no probe")

c = RawPeer(gw.endpoint, identity="client-15")
rid = c.call("RefService.echo", "x")
call = d.expect_call()
ok(call and call.request_id == rid, "the dealer gets a call")

probes = d.collect(2.4)
ok(probes and all(p == [b"heartbeat_ack", b""] for p in probes),
   "while it holds the request it receives heartbeat_acks") or diag(probes)
cmp_ok(len(probes), ">=", 3, "about every 500 ms")

d.reply(call.cid, {"type": "reply", "request_id": rid, "result": "x"})
is_(c.recv_json()[0], "reply_from_router", "the reply reaches the client")
d.recv(0.2)                  # a probe may have crossed the reply
is_(d.expect_nothing(1.5), None, "once idle again it gets no more probes")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
