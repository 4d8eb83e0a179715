#!/usr/bin/python3
# While a dealer holds a request the gateway sends it an unsolicited
# heartbeat_ack every router.probe_interval, so a Python dealer never sees
# a long silence (B.4); so does a dealer whose last heartbeat said it was
# busy, until one says it is idle.  Idle dealers get no probes.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrops import registers

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

# A dealer whose last heartbeat said it was busy (a threaded Python dealer
# sends the next one only 4 intervals later, and reconnects after less
# silence than that once its work is done) is probed until a heartbeat
# says it is idle.
rid = c.call("RefService.echo", "y")
call = d.expect_call()
ok(call and call.request_id == rid, "the dealer gets another call")
d.heartbeat(processing_requests=1)
d.recv(0.5)                             # the ack (or a probe)
d.reply(call.cid, {"type": "reply", "request_id": rid, "result": "y"})
is_(c.recv_json()[0], "reply_from_router", "it answers")
probes = d.collect(2.4)
ok(probes and all(p == [b"heartbeat_ack", b""] for p in probes),
   "its last heartbeat said busy: it goes on receiving heartbeat_acks") \
    or diag(probes)
cmp_ok(len(probes), ">=", 3, "about every 500 ms")
d.heartbeat(processing_requests=0)
is_(d.recv(1), [b"heartbeat_ack", b""], "a heartbeat saying idle is acked")
d.recv(0.2)                  # a probe may have crossed the heartbeat
is_(d.expect_nothing(1.5), None, "and then the probes stop")

# The same with a threaded dealer: its heartbeat a second after register
# goes out while it is busy, the next one 4 s later; its work ends
# half a second after that first one.  Without probes it would reconnect
# after 3.2 s of silence, before that next heartbeat.
td = ThreadedDealer(gw.endpoint, service_name="Td").start()
py = PyClient(gw.endpoint).connect()
t0 = time.monotonic()
while time.monotonic() - t0 < 1.5:
    py.invoke("Td.slow", 0.2)
ok(td.wait_event("heartbeat_ack", 1), "a threaded dealer was busy for "
   "1.5 s")
time.sleep(5.0)
is_((td.reconnects, registers(td)), (0, 1),
    "5 s after its work ended it has not reconnected or registered again")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
