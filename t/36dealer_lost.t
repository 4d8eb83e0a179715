#!/usr/bin/python3
# A dealer that dies with a request ends it as dealer_lost (B.4): a killed
# process shows at once (its connection is gone, the next probe fails), so
# the client knows within about a second; a stopped one (SIGSTOP, connection
# alive) is found by router.busy_timeout.  Its late reply is dropped.
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"busy_timeout": "4s", "heartbeat_timeout": "2s",
                         "request_timeout": "60s"}}).start()

# -- SIGKILL --
victim = DealerProcess(gw.endpoint)
ok(victim.expect(r"^register_ack"), "a dealer process registers")
c = RawPeer(gw.endpoint, identity="client-36-kill")
rid = c.call("RefService.slow", 30)
ok(victim.expect(r"^call %s" % rid), "it gets a long call")
victim.signal(signal.SIGKILL)
t0 = time.monotonic()
msg = c.recv(6)
elapsed = time.monotonic() - t0
is_(error_code(msg, rid), "dealer_lost",
    "when it is killed the client gets dealer_lost")
cmp_ok(elapsed, "<", scaled(1.5), "within about a second")
is_(c.expect_nothing(0.3), None, "and nothing else")
isnt(gw.clusters().get(victim.service_id, {}).get("state"), "active",
     "the dead dealer is no longer active")

# -- SIGSTOP --
sleeper = DealerProcess(gw.endpoint, heartbeat=0.5)
ok(sleeper.expect(r"^register_ack"), "another dealer process registers")
c = RawPeer(gw.endpoint, identity="client-36-stop")
rid = c.call("RefService.slow", 2)
ok(sleeper.expect(r"^call %s" % rid), "it gets a call")
sleeper.signal(signal.SIGSTOP)
t0 = time.monotonic()
msg = c.recv(4 + 6)
elapsed = time.monotonic() - t0
is_(error_code(msg, rid), "dealer_lost",
    "when it stops answering the client gets dealer_lost")
cmp_ok(elapsed, ">=", 2.5, "not before about busy_timeout (4 s)")
cmp_ok(elapsed, "<", 4 + scaled(2.0), "nor much after")
sleeper.signal(signal.SIGCONT)
is_(c.expect_nothing(3.0), None,
    "its reply after it resumes (slow(2) finishing) is dropped")
ok(wait_until(lambda: gw.clusters().get(sleeper.service_id, {})
              .get("state") == "active", timeout=5.0),
   "the resumed dealer is active again")
py = PyClient(gw.endpoint).connect()
is_(py.invoke("RefService.echo", "alive"), ["alive"], "and serves calls")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
