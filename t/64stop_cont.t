#!/usr/bin/python3
# Ledger-checked stops and deadlines (t/lib/ledger.py).
#
# Stop: under load over ZeroMQ and HTTP (300 calls in 12 s; VR_TEST_LONG=1:
# 2,000 in 40 s), a dealer process that holds calls is SIGSTOPped past
# router.busy_timeout, then SIGCONTed.  The gateway expires it; the calls it
# held end as dealer_lost or, for the retryable methods, run again elsewhere
# and end ok; when it resumes it finishes them, and those late replies are
# dropped and counted (late_replies), never delivered; it is revived
# (PROTOCOL.md B.4) and serves again.
#
# Deadlines: a burst of calls with a short method timeout on one dealer of
# capacity 2: some end ok, some expire while the dealer runs them (their
# late replies are dropped), the rest expire in the queue; nothing is
# dispatched after its request ended (the dealer's ledger), the queue ends
# empty.
#
# A retryable stream whose dealer dies after its first chunk runs again on
# another dealer when none of it reached the client (an HTTP call answered
# as one JSON array), and ends dealer_lost when some did (SSE, ZeroMQ).
#
# Cancel: a ZeroMQ client that vanishes in the middle of a stream: the
# next chunk cannot be delivered, the call ends cancelled, a dealer with
# the cancel capability is told, and once it ends the call its slot goes
# to the next one.  HTTP clients that hang up while queued leave the queue
# at once, all of them (t/98http_cancel.t: one at a time).
import json, os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import parse_metrics
from ledger import *

SEED = int(os.environ.get("VR_CHAOS_SEED") or time.time())
ATTEMPTS = 3
TIMEOUT = scaled(15.0)          # the Chaos calls' deadline
GRACE = scaled(2.0)
BUSY = 3.0                      # router.busy_timeout, nominal
DEADLINE = 1.0                  # the Dl calls' timeout, nominal
SSE = {"Accept": "text/event-stream"}
HB = 0.5                        # the dealers' heartbeat interval (s)
LOAD, LOAD_S = (2000, 40.0) if LONG else (300, 12.0)   # calls, seconds
note("seed %d (VR_CHAOS_SEED=%d reproduces the load)" % (SEED, SEED))

gw = HttpGateway({
    "router": {
        "heartbeat_timeout": duration(3),
        "busy_timeout": duration(BUSY),
        "probe_interval": "200ms",
        "request_timeout": "%dms" % int(TIMEOUT * 1000),
        "no_service_wait": duration(5),
        "methods": {"Chaos.rwork": {"max_attempts": ATTEMPTS},
                    "Chaos.rstream": {"max_attempts": ATTEMPTS},
                    "Dl.*": {"timeout": duration(DEADLINE)},
                    "Rs.*": {"max_attempts": 2}},
    },
    "http": {"access_log": "off"},
}).start()


def state(sid):
    return gw.clusters().get(sid, {}).get("state")


def open_calls(d):
    """Ids d's ledger shows as received and not finished."""
    recs = read_dealer_ledgers([d.ledger_path])
    opened = {r["lid"] for r in recs if r["ev"] == "call"}
    return opened - {r["lid"] for r in recs if r["ev"] == "done"}


# ==== a stopped dealer ======================================================
pool = DealerPool(gw.endpoint, [{"kind": "async", "max_concurrent": 3,
                                 "heartbeat": HB}] * 3)
pool.start()
ok(wait_until(lambda: gw.info()["active_services_count"] == 3, 10),
   "three dealer processes registered")
late_before = gw.info().get("late_replies", 0)
ledger = Ledger()
load = Load(ledger, gw.endpoint, gw.http_port, LOAD, scaled(LOAD_S), TIMEOUT,
            grace=GRACE, zmq_seq=2, zmq_pipe=1, http=2, seed=SEED,
            prefix="s64")
load.start()
sleep(2.0)

# Stop it while it holds calls (it may finish them between the look at
# its ledger and the signal: then it is resumed and tried again).
victim, held = pool.alive[0], set()
t_stop, stop_by = time.monotonic(), time.monotonic() + scaled(10)
while time.monotonic() < stop_by:
    if not open_calls(victim):
        time.sleep(0.02)
        continue
    victim.signal(signal.SIGSTOP)
    t_stop = time.monotonic()
    time.sleep(0.05)
    held = open_calls(victim)       # final: the process is stopped
    if held:
        break
    victim.signal(signal.SIGCONT)
ok(held, "a dealer is stopped while it holds %d calls (%s)"
   % (len(held), ", ".join(sorted(held))))
with pool.lock:
    pool.kills.append((t_stop, victim.sid, None))    # an outage, so far

ok(wait_until(lambda: state(victim.sid) == "inactive", BUSY + 3),
   "the gateway takes it out of service")
t_out = time.monotonic() - t_stop
# Silence counts from the dealer's last message, which may precede the
# stop by up to its busy heartbeat interval (4 x HB).
cmp_ok(t_out, ">=", scaled(BUSY) - 4 * HB - 0.1,
       "not before router.busy_timeout, less the dealer's heartbeat "
       "interval (%.2f s)" % t_out)
cmp_ok(t_out, "<", scaled(BUSY + 1.5), "nor long after")
ok(wait_until(lambda: all(ledger.done(l) for l in held), 2.0),
   "every call it held has ended")
sleep(1.0)                          # stopped well past its timeout
t_cont = time.monotonic()
reconnects_before = list(victim.lines).count("reconnect")
victim.signal(signal.SIGCONT)
with pool.lock:
    pool.kills[-1] = (t_stop, victim.sid, t_cont)
ok(wait_until(lambda: state(victim.sid) == "active", 5.0),
   "after SIGCONT it is active again (revived or re-registered)")
ok(load.join(scaled(LOAD_S * 3) + TIMEOUT), "the load generator finished")

# After the stop, more load: the resumed dealer takes its share.
load2 = Load(ledger, gw.endpoint, gw.http_port, 60, scaled(3.0), TIMEOUT,
             grace=GRACE, zmq_seq=2, zmq_pipe=1, http=2, seed=SEED + 1,
             prefix="s64b")
load2.start()
ok(load2.join(scaled(20) + TIMEOUT), "a second load finished")
ledger.wait_all(GRACE)
is_(load.errors + load2.errors, [], "no client thread failed")
sleep(0.5)

records = pool.records()
rep = check(ledger, records, pool.kills, grace=GRACE,
            retry={"Chaos.rwork": ATTEMPTS, "Chaos.rstream": ATTEMPTS},
            allowed={"Chaos.fail": {"dealer_error"}},
            lost_window=scaled(BUSY + 1.5))
for line in rep.lines():
    note(line)
is_(rep.bad(), {"lost": 0, "duplicated": 0, "unexpected": 0,
                "misrouted": 0},
    "nothing lost, duplicated, unexpected or misrouted")
is_(rep.problems[:20], [], "no problem: dealer_lost only from the stopped "
    "dealer and within busy_timeout, retryable calls ok, no execution "
    "after the end (but for %d calls it read after SIGCONT)"
    % rep.figures["stale_executions"])
outcomes = {rep.by_lid[l] for l in held}
ok(outcomes <= {"ok", "error:dealer_lost"},
   "the calls it held ended ok (run again) or dealer_lost: %s"
   % sorted(outcomes))
retry_held = [l for l in held if ledger.reqs[l]["m"] == "Chaos.rwork"]
is_([rep.by_lid[l] for l in retry_held], ["ok"] * len(retry_held),
    "the retryable rwork calls among them ended ok (%d)" % len(retry_held))
ok(all(ledger.reqs[l]["terms"][0][0] < t_cont for l in held),
   "all of them ended before it resumed")
finished_late = [r for r in records if r["sid"] == victim.sid
                 and r["ev"] == "done" and r["lid"] in held
                 and r["t"] > t_cont]
is_(len(finished_late), len(held),
    "after SIGCONT it finished every one of them")
info = gw.info()
late = info.get("late_replies", 0) - late_before
# On waking after its stop the dealer may find the link silent and
# reconnect, closing its socket with LINGER 0 as the Python asyncio
# dealer does: replies still in that socket's pipe never leave it.
# The ledger check above holds either way: none of them was delivered.
if list(victim.lines).count("reconnect") > reconnects_before:
    note("the dealer reconnected after SIGCONT: of its %d late replies the "
         "gateway got and counted %d" % (len(finished_late), late))
else:
    cmp_ok(late, ">=", len(finished_late),
           "their replies were dropped and counted as late_replies (%d)"
           % late)
metrics = parse_metrics(gw.get("/metrics").text)
is_(metrics.get("voidrail_late_replies_total"),
    float(info.get("late_replies", -1)),
    "/metrics voidrail_late_replies_total is router_info late_replies")
served = [r for r in records if r["sid"] == victim.sid and r["ev"] == "call"
          and ledger.reqs.get(r["lid"], {}).get("t", 0) > t_cont]
cmp_ok(len(served), ">", 0,
       "the resumed dealer serves new calls (%d)" % len(served))
ok(all(rep.by_lid.get(r["lid"]) == "ok" for r in served
       if not ledger.reqs[r["lid"]]["m"].endswith("fail")),
   "and they end ok")
write_report("64stop_cont", dict(rep.figures, held=len(held),
                                 out_of_service_after=round(t_out, 3),
                                 late_replies=info.get("late_replies")))
pool.stop_all()

# ==== deadlines ==============================================================
dl = DealerPool(gw.endpoint, [{"kind": "async", "max_concurrent": 2,
                               "heartbeat": HB}], service="Dl")
dl.start()
late_before = gw.info().get("late_replies", 0)
errors_before = dict(gw.info().get("total_errors") or {})
led2 = Ledger()
burst = Load(led2, gw.endpoint, gw.http_port, 40, 0.2, scaled(DEADLINE),
             grace=GRACE, zmq_seq=0, zmq_pipe=3, http=4, pipe_depth=12,
             pipe_mix=[("hold", 1)], http_mix=[("hold", 1)], service="Dl",
             seed=SEED, prefix="d64")
burst.start()
ok(burst.join(scaled(20)), "a burst of 40 calls with a 1 s deadline")
led2.wait_all(GRACE)
is_(burst.errors, [], "no client thread failed")
sleep(1.5)                          # whatever still runs finishes
ok(wait_until(lambda: gw.queue_status().get("Dl.hold", {})
              .get("in_flight") == 0, 3.0), "the dealer is idle")
records = dl.records()
rep = check(led2, records, dl.kills, grace=GRACE,
            allowed={"Dl.hold": {"timeout"}})
for line in rep.lines():
    note(line)
is_(rep.bad(), {"lost": 0, "duplicated": 0, "unexpected": 0,
                "misrouted": 0},
    "nothing lost, duplicated, unexpected or misrouted")
is_(rep.problems[:20], [], "no problem: no execution began after its "
    "request ended, no error but timeout")
ok(set(rep.classes) <= {"ok", "error:timeout"},
   "the calls end ok or timeout (%s)" % dict(rep.classes))
executed = {r["lid"] for r in records if r["ev"] == "call"}
timeouts = [l for l, c in rep.by_lid.items() if c == "error:timeout"]
in_flight = [l for l in timeouts if l in executed]
in_queue = [l for l in timeouts if l not in executed]
cmp_ok(rep.count("ok"), ">", 0, "some ended ok (%d)" % rep.count("ok"))
cmp_ok(len(in_flight), ">", 0,
       "some expired while the dealer ran them (%d)" % len(in_flight))
cmp_ok(len(in_queue), ">", 0,
       "some expired in the queue and never reached it (%d)" % len(in_queue))
ok(all(led2.reqs[l]["terms"][0][0] - led2.reqs[l]["t"]
       < scaled(DEADLINE) + GRACE for l in timeouts),
   "each timeout came by its deadline")
info = gw.info()
errors = info.get("total_errors") or {}
is_(errors.get("timeout", 0) - errors_before.get("timeout", 0),
    len(timeouts), "router_info counts each timeout once")
cmp_ok(info.get("late_replies", 0) - late_before, ">=", len(in_flight),
       "the replies of the calls that expired in flight were dropped")
is_((gw.queue_status().get("Dl.hold", {}).get("queue_length"),
     info.get("requests_in_queue")), (0, 0), "nothing is left queued")
write_report("64deadlines", dict(rep.figures, expired_in_flight=len(
    in_flight), expired_in_queue=len(in_queue)))
dl.stop_all()

# ==== a retryable stream lost after its first chunks ========================
def stream_dealer(name):
    d = RawPeer(gw.endpoint, identity="Rs-%s" % name)
    d.register(group="Rs", methods=("stream",))
    d.recv()
    return d


def lost_after_a_chunk(how, headers, via_zmq=False):
    """A call of Rs.stream whose first dealer sends one chunk and dies; a
    second dealer runs it again if that is safe.  Returns what the client
    got."""
    first, second = stream_dealer("1-" + how), stream_dealer("2-" + how)
    if via_zmq:
        c = RawPeer(gw.endpoint, identity="client-64-rs-" + how)
        c.call("Rs.stream", how)
    else:
        c = gw.open("POST", "/invoke/Rs.stream", json=[how], headers=headers)
    calls = [(d, d.expect_call(1)) for d in (first, second)]
    d, call = next(((d, x) for d, x in calls if x), (None, None))
    other = second if d is first else first
    if call is None:
        return None
    d.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                       "data": "from the first"})
    time.sleep(0.2)
    d.close()                       # gone: the next probe finds out
    again = other.expect_call(3)
    if again:
        other.reply(again.cid, {"type": "streaming",
                                "request_id": again.request_id,
                                "data": "from the second"})
        other.reply(again.cid, {"type": "end",
                                "request_id": again.request_id})
    if via_zmq:
        got = []
        while True:
            msg = c.recv(3)
            if msg is None:
                break
            body = loads(msg[-1])
            got.append(body.get("data") if body.get("type") == "streaming"
                       else body.get("code") or body.get("type"))
            if body.get("type") in ("end", "error"):
                break
        other.close()
        return again is not None, got
    if headers:
        got = [json.loads(e["data"]) if e.get("event") == "chunk"
               else (json.loads(e["data"]) or {}).get("code")
               for e in sse_events(c) if e.get("event")]
    else:
        r = c.response()
        got = r and (r.status, r.json())
    other.close()
    return again is not None, got


is_(lost_after_a_chunk("json", {}),
    (True, (200, ["from the second"])),
    "answered as one JSON array, nothing reached the client yet: it runs "
    "again on another dealer and only that run's chunks are answered")
is_(lost_after_a_chunk("sse", SSE),
    (False, ["from the first", "dealer_lost"]),
    "as SSE, the first chunk was delivered: it ends dealer_lost")
is_(lost_after_a_chunk("zmq", None, via_zmq=True),
    (False, ["from the first", "dealer_lost"]),
    "over ZeroMQ the same")

# ==== cancel =================================================================
errors_before = dict(gw.info().get("total_errors") or {})
dz = RawPeer(gw.endpoint, identity="Cz-00000064")
dz.register(group="Cz", methods=("stream",), capabilities=["cancel"])
dz.recv()
z1 = RawPeer(gw.endpoint, identity="client-64-vanish")
rid1 = z1.call("Cz.stream", 1)
call = dz.expect_call(3)
ok(call and call.request_id == rid1, "a stream runs on a dealer that can "
   "cancel")
dz.reply(call.cid, {"type": "streaming", "request_id": rid1, "data": 0})
kind, body = z1.recv_json(3)
is_(body and body.get("data"), 0, "its client reads the first chunk")
z1.close()
z2 = RawPeer(gw.endpoint, identity="client-64-next")
rid2 = z2.call("Cz.stream", 2)
ok(wait_until(lambda: gw.queue_status().get("Cz.stream", {})
              .get("queue_length") == 1), "the next call waits in the queue")
cancel = None
for i in range(1, 40):
    time.sleep(0.1)
    dz.reply(call.cid, {"type": "streaming", "request_id": rid1, "data": i})
    cancel = dz.recv(0.2, ignore=("heartbeat_ack",))
    if cancel:
        break
is_(cancel and cancel[:2], [b"cancel_from_router", call.cid],
    "a chunk for the vanished client cannot be delivered: the dealer gets "
    "cancel_from_router")
is_(cancel and len(cancel) == 3 and loads(cancel[2]),
    {"request_id": rid1}, "for that call")
dz.reply(call.cid, {"type": "end", "request_id": rid1})
nxt = dz.expect_call(3)
is_(nxt and nxt.request_id, rid2,
    "once the dealer ends it, its slot goes to the next call")
dz.reply(nxt.cid, {"type": "end", "request_id": rid2})
is_(z2.recv_json(3), ("reply_from_router", {"type": "end",
                                            "request_id": rid2}),
    "which is answered")
errors = gw.info().get("total_errors") or {}
is_(errors.get("cancelled", 0) - errors_before.get("cancelled", 0), 1,
    "router_info counts the vanished client's call as cancelled")

# HTTP clients that hang up while queued.
dh = RawPeer(gw.endpoint, identity="Ch-00000064")
dh.register(group="Ch", methods=("work",))
dh.recv()
first = gw.open("POST", "/invoke/Ch.work", json=["first"])
hold = dh.expect_call(3)
ok(hold, "a call occupies the only dealer")
waiting = [gw.open("POST", "/invoke/Ch.work", json=[i]) for i in range(20)]
ok(wait_until(lambda: gw.queue_status().get("Ch.work", {})
              .get("queue_length") == 20), "20 HTTP calls wait behind it")
for c in waiting:
    c.abort()
ok(wait_until(lambda: gw.queue_status().get("Ch.work", {})
              .get("queue_length") == 0, 3.0),
   "when their clients hang up, all of them leave the queue")
last = gw.open("POST", "/invoke/Ch.work", json=["last"])
dh.reply(hold.cid, {"type": "reply", "request_id": hold.request_id,
                    "result": "first"})
is_(first.response().json(), "first", "the first call is answered")
call = dh.expect_call(3)
is_(call and call.request.get("args"), ["last"],
    "the next call after them gets the dealer at once")
if call:
    dh.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                        "result": "last"})
is_(last.response().json(), "last", "and is answered")
is_(dh.expect_nothing(0.3, ignore=("heartbeat_ack",)), None,
    "the dealer never saw the calls that left")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
