#!/usr/bin/python3
# A long job completes (B.4): a busy threaded dealer heartbeats only every
# 4*I, far less often than router.heartbeat_timeout, yet it is not expired
# (router.busy_timeout applies) and, kept alive by the gateway's probes, it
# never reconnects.  The real promise is a job of over 60 s: VR_TEST_LONG=1
# runs that; the short tier runs an 8 s job, 4 times heartbeat_timeout and
# longer than the dealer's own 6.4 s reconnect threshold.  (The deadline,
# router.request_timeout, is set above the job's length.)
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

job = 70 if LONG else 8
gw = Gateway({"router": {"heartbeat_timeout": "2s",
                         "request_timeout": "%ds" % (job + 60)}}).start()
dealer = ThreadedDealer(gw.endpoint, heartbeat_interval=1.0).start()

c = RawPeer(gw.endpoint, identity="client-37")
rid = c.call("RefService.slow", job)
ok(dealer.wait_event("call"), "a %d s job starts" % job)
beats_before = dealer.heartbeats_sent

time.sleep(job / 2)             # the job's own time, not a wait: unscaled
is_(gw.clusters().get(dealer.service_id, {}).get("state"), "active",
    "half way through, the dealer is still active")
is_(c.recv_json(job / 2 + 5), ("reply_from_router", {
    "type": "reply", "request_id": rid, "result": {"slept": job}}),
    "the job's result arrives")
cmp_ok(dealer.heartbeats_sent - beats_before, "<=", job / 4 + 2,
       "the dealer heartbeated only every 4 s meanwhile")
is_((dealer.reconnects, dealer.deadlocked), (0, False),
    "it never reconnected")
cmp_ok(dealer.acks, ">", dealer.heartbeats_sent,
       "it received more heartbeat_acks than it sent heartbeats (probes)")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
