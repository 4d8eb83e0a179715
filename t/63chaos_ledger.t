#!/usr/bin/python3
# Ledger-checked chaos: clients call over ZeroMQ (one call at a time, and
# several in flight) and over HTTP (JSON answers and SSE streams) while
# dealer processes are SIGKILLed, 1-3 at a time every 0.5-3 s, and new ones
# started.  The load generator books every request (id, time, deadline)
# and every message it gets back; the dealers book every call they get.
# The checker then classifies each id (ok, error:<code>, lost, duplicated,
# unexpected, misrouted; t/lib/ledger.py).  Required: nothing lost,
# duplicated, unexpected or misrouted; dealer_lost only for a request held
# by a dealer that was killed, and within about a second of the kill; the
# retryable methods (max_attempts 4) all end ok; nothing executed more
# often than its attempts allow, nor after its request ended; the
# gateway's counters agree with the ledger.
#
# Short tier: 1,000 requests in about 25 s.  VR_TEST_LONG=1 (make
# check-chaos): 10,000 requests in about 3 minutes.
import os, random, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import parse_metrics
from ledger import *

TOTAL, DURATION = (10000, 170.0) if LONG else (1000, 25.0)
TOTAL = int(os.environ.get("VR_CHAOS_REQUESTS") or TOTAL)
DURATION = float(os.environ.get("VR_CHAOS_DURATION") or DURATION)
SEED = int(os.environ.get("VR_CHAOS_SEED") or time.time())
ATTEMPTS = 4
TIMEOUT = scaled(15.0)          # every request's deadline
GRACE = scaled(2.0)             # lost: nothing by deadline + 2 s
rnd = random.Random(SEED)
note("seed %d (VR_CHAOS_SEED=%d reproduces the kills and the load)"
     % (SEED, SEED))

gw = HttpGateway({
    "router": {
        "heartbeat_timeout": duration(3),
        "busy_timeout": duration(10),
        "probe_interval": "200ms",
        "request_timeout": "%dms" % int(TIMEOUT * 1000),
        "no_service_wait": duration(5),
        "methods": {"Chaos.rwork": {"max_attempts": ATTEMPTS},
                    "Chaos.rstream": {"max_attempts": ATTEMPTS}},
    },
    "http": {"access_log": "off"},
}).start()

# Six dealers: asyncio ones holding 1, 2 or 3 calls at once, and a
# threaded one (4 worker threads, 2 announced).
pool = DealerPool(gw.endpoint, [
    {"kind": "async"}, {"kind": "async", "max_concurrent": 2},
    {"kind": "async", "max_concurrent": 3}, {"kind": "threaded",
                                             "max_concurrent": 2},
    {"kind": "async"}, {"kind": "async", "max_concurrent": 2},
])
pool.start()
ok(wait_until(lambda: gw.info()["active_services_count"] == 6, 10),
   "six dealer processes registered")

ledger = Ledger()
load = Load(ledger, gw.endpoint, gw.http_port, TOTAL, DURATION, TIMEOUT,
            grace=GRACE, zmq_seq=3, zmq_pipe=1, http=3, seed=SEED,
            prefix="c63")
chaos = Chaos(pool, rnd, every=(0.5, 3.0), batch=(1, 3), keep=3,
              restart=(0.1, 1.0))
t_start = time.monotonic()
load.start()
chaos.start()
ok(load.join(DURATION * 3 + TIMEOUT + GRACE + scaled(30)),
   "the load generator finished")
chaos.stop()
is_(chaos.error, None, "the chaos thread ran without a hitch")
left = ledger.wait_all(GRACE)
t_run = time.monotonic() - t_start
is_(load.errors, [], "no client thread failed")

# What the gateway counted, once everything is over.
time.sleep(scaled(0.5))
info = gw.info()
metrics = parse_metrics(gw.get("/metrics").text)
records = pool.records()
rep = check(ledger, records, pool.kills, grace=GRACE,
            retry={"Chaos.rwork": ATTEMPTS, "Chaos.rstream": ATTEMPTS},
            allowed={"Chaos.fail": {"dealer_error"}},
            lost_window=scaled(2.0))
rep.figures.update({
    "tier": "long" if LONG else "short", "seed": SEED,
    "kills": len(pool.kills), "kill_batches": chaos.batches,
    "restarts": chaos.restarts, "dealers_started": len(pool.all),
    "run_seconds": round(t_run, 1), "scale": SCALE,
    "gateway": {k: info.get(k) for k in (
        "total_requests", "total_responses", "total_stream_chunks",
        "total_errors", "retries", "dealers_lost", "late_replies",
        "dropped_messages")},
})
for line in rep.lines():
    note(line)
note("gateway: %s" % rep.figures["gateway"])
write_report("63chaos_ledger-" + rep.figures["tier"], rep.figures)

is_(rep.figures["requests"], TOTAL, "%d requests were sent" % TOTAL)
cmp_ok(len(pool.kills), ">=", 5 if not LONG else 50,
       "dealers were killed all along (%d kills)" % len(pool.kills))
is_(rep.bad(), {"lost": 0, "duplicated": 0, "unexpected": 0,
                "misrouted": 0},
    "nothing lost, duplicated, unexpected or misrouted")
is_(rep.problems[:20], [], "no problem: dealer_lost only where a killed "
    "dealer held the call, retryable calls all ok, no execution beyond "
    "its attempts or after the end")
outcomes = set(rep.classes)
ok(outcomes <= {"ok", "error:dealer_lost", "error:dealer_error"},
   "outcomes are ok, dealer_lost and the fail method's dealer_error only "
   "(%s)" % sorted(outcomes))
# A retryable call is run again when its dealer is lost before it
# answered; a stream that already delivered chunks is not (it would repeat
# them) and ends dealer_lost.
retryable = [lid for lid, r in ledger.reqs.items()
             if r["m"] in ("Chaos.rwork", "Chaos.rstream")]
started = [lid for lid in retryable if ledger.reqs[lid]["chunks"]]
is_(sorted({rep.by_lid[l] for l in retryable if l not in started}), ["ok"],
    "all %d calls of the retryable methods that had no answer yet when "
    "their dealer was lost ended ok" % (len(retryable) - len(started)))
ok(all(rep.by_lid[l] in ("ok", "error:dealer_lost") for l in started),
   "streams lost after their first chunks ended dealer_lost, or ok")
fails = [l for l, r in ledger.reqs.items() if r["m"] == "Chaos.fail"]
ok(all(rep.by_lid[l] in ("error:dealer_error", "error:dealer_lost")
       for l in fails), "the fail method ends dealer_error (or dealer_lost)")
cmp_ok(rep.count("error:dealer_lost"), ">", 0,
       "some calls were in flight on a killed dealer (%d dealer_lost)"
       % rep.count("error:dealer_lost"))
cmp_ok(rep.figures["reexecuted"], ">", 0,
       "some calls were run again on another dealer (%d)"
       % rep.figures["reexecuted"])

# The gateway's own books agree.
errors = info.get("total_errors") or {}
is_(info.get("total_requests"), TOTAL,
    "router_info total_requests counts every call once")
is_(errors.get("dealer_lost", 0), rep.count("error:dealer_lost"),
    "its dealer_lost count is the ledger's")
is_(errors.get("dealer_error", 0), rep.count("error:dealer_error"),
    "its dealer_error count is the ledger's")
is_({k: v for k, v in errors.items()
     if k not in ("dealer_lost", "dealer_error") and v}, {},
    "and it counted no other error")
cmp_ok(info.get("retries", 0), ">=", rep.figures["reexecuted"],
       "its retries count at least the calls run again")
is_(metrics.get("voidrail_retries_total"), float(info.get("retries", -1)),
    "/metrics voidrail_retries_total is router_info retries")
is_((info.get("requests_in_process"), info.get("requests_in_queue")), (0, 0),
    "nothing is left in flight or queued")

# Still serving with the dealers that are left.
c = RawPeer(gw.endpoint, identity="c63-after")
rid = c.call("Chaos.work", "c63-after", 1)
body = loads((c.recv(5) or [b"", b"null"])[-1])
is_(body and body.get("result", {}).get("lid"), "c63-after",
    "after the run a call is answered")
pool.stop_all()
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
