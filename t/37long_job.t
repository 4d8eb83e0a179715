#!/usr/bin/python3
# A long job completes (B.4): a job of over a minute on a Python-style
# threaded dealer that heartbeats every 3 s, and so only every 12 s while
# busy, against `voidrail router` with its defaults (idle dealers expire
# after heartbeat + 3 s): the dealer is not expired (the busy limit
# applies) and, kept alive by the gateway's probes, it never reconnects.
# VR_TEST_LONG=1 makes it a job of two minutes.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

job = 120 if LONG else 65
INTERVAL = 3.0                  # busy: a heartbeat every 4 * 3 s
gw = Gateway(router_args=[]).start()
dealer = ThreadedDealer(gw.endpoint, heartbeat_interval=INTERVAL).start()

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
cmp_ok(dealer.heartbeats_sent - beats_before, "<=", job / (4 * INTERVAL) + 2,
       "the dealer heartbeated only every 12 s meanwhile")
is_((dealer.reconnects, dealer.deadlocked), (0, False),
    "it never reconnected")
cmp_ok(dealer.acks, ">", dealer.heartbeats_sent,
       "it received more heartbeat_acks than it sent heartbeats (probes)")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
