#!/usr/bin/python3
# How many jobs the gateway holds: a finished job is forgotten after
# jobs.keep, and beyond jobs.max_finished the oldest finished ones go
# first (then GET is 404); more than jobs.max_active jobs queued or
# running at once is 429 too_many_jobs.  A job keeps its newest
# jobs.max_events events, and jobs.max_event_bytes of their data, for
# replay (its last event always); a replay that misses some starts with
# an event "dropped" saying how many and the first id kept, and GET
# /jobs/ID counts them (chunks_dropped).  All jobs together keep at most
# jobs.max_memory of event data (reloadable): past it the oldest finished
# jobs are forgotten first (404), then the oldest events of the job that
# receives one, then those of the active job holding the most, each job's
# newest event always kept; /status.json (totals.jobs.event_bytes) and
# /metrics (voidrail_jobs_event_bytes) show the total.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import OpsGateway


def start_job(gw, method, args):
    r = gw.post("/jobs/" + method, json=args)
    return ((r and r.json()) or {}).get("id", "?") if r and r.status == 202 \
        else None


def status(gw, job_id):
    r = gw.get("/jobs/" + job_id)
    return r and r.status


def finish(dealer, result):
    call = dealer.expect_call(3)
    if call:
        dealer.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                                "result": result})
    return call


# -- jobs.keep --
gw = HttpGateway({"jobs": {"keep": duration(1.0)}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("echo",))
wire.recv()
job = start_job(gw, "Wire.echo", ["kept"])
ok(finish(wire, "kept"), "a job runs")
ok(wait_until(lambda: (gw.get("/jobs/" + job).json() or {}).get("state")
              == "succeeded"), "and succeeds")
t_done = time.monotonic()
is_(status(gw, job), 200, "a finished job is readable")
ok(wait_until(lambda: status(gw, job) == 404, timeout=4.0),
   "with jobs.keep 1s it is forgotten (404)")
cmp_ok(time.monotonic() - t_done, ">=", scaled(1.0) - 0.1,
       "not before jobs.keep")
r = gw.get("/jobs/%s/events" % job)
is_(r and r.status, 404, "its events are gone too")
is_(gw.stop(), 0, "the gateway exits 0")

# -- jobs.max_finished and jobs.max_active --
gw = HttpGateway({"jobs": {"max_finished": 2, "max_active": 2}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("echo",))
wire.recv()
done = []
for i in range(3):
    done.append(start_job(gw, "Wire.echo", [i]))
    finish(wire, i)
    ok(wait_until(lambda: (gw.get("/jobs/" + done[-1]).json() or {})
                  .get("state") == "succeeded"), "job %d finishes" % (i + 1))
ok(wait_until(lambda: status(gw, done[0]) == 404, timeout=3.0),
   "beyond jobs.max_finished 2 the oldest finished job is forgotten")
is_([status(gw, j) for j in done[1:]], [200, 200], "the two newest stay")

running = start_job(gw, "Wire.echo", ["running"])
call = wire.expect_call(3)
queued = start_job(gw, "Wire.echo", ["queued"])
ok(running and queued, "two jobs are active (one running, one queued)")
r = gw.post("/jobs/Wire.echo", json=["third"])
is_(r and (r.status, (r.json() or {}).get("code")), (429, "too_many_jobs"),
    "a third one beyond jobs.max_active 2 is 429 too_many_jobs")
is_(problem_of(r), "", "as a problem")
is_(wire.expect_nothing(0.2, ignore=("heartbeat_ack",)), None,
    "and is not called")
wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": "ok"})
finish(wire, "ok")
ok(wait_until(lambda: (gw.get("/jobs/" + queued).json() or {})
              .get("state") == "succeeded"), "once they finish")
ok(start_job(gw, "Wire.echo", ["again"]), "a new job is accepted")
finish(wire, "again")

is_(gw.stop(), 0, "the gateway exits 0")

# -- jobs.max_events --
def stream_job(gw, wire, chunks, end=None):
    """A job of the chunks (and end, or a result): its id, once finished."""
    job = start_job(gw, "Wire.count", [len(chunks)])
    call = wire.expect_call(3)
    if call is None:
        return job
    for data in chunks:
        wire.reply(call.cid, {"type": "streaming",
                              "request_id": call.request_id, "data": data})
    if end is None:
        wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
    else:
        wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                              "result": end})
    wait_until(lambda: (gw.get("/jobs/" + job).json() or {}).get("state")
               == "succeeded")
    return job


def replay(gw, job, last=None):
    """(id, event, data) of the job's events, after Last-Event-ID last."""
    s = gw.open("GET", "/jobs/%s/events" % job,
                headers={"Last-Event-ID": str(last)} if last else None)
    return [(e.get("id"), e.get("event"), json.loads(e["data"]))
            for e in sse_events(s) if e.get("event")]


def dropped(n, first):
    return (None, "dropped", {"dropped": n, "first_id": first,
                              "reason": "the job keeps its newest events "
                              "only (jobs.max_events, jobs.max_event_bytes, "
                              "jobs.max_memory)"})


gw = HttpGateway({"jobs": {"max_events": 3}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("count",))
wire.recv()
job = stream_job(gw, wire, [0, 1, 2, 3, 4])
is_(replay(gw, job),
    [dropped(3, 4), ("4", "chunk", 3), ("5", "chunk", 4),
     ("6", "end", {"chunks": 5})],
    "with jobs.max_events 3 the replay keeps the newest 3, ids unchanged, "
    "after an event dropped saying how many went")
is_(replay(gw, job, last=1)[:1], [dropped(2, 4)],
    "a follower that saw event 1 is told it missed 2")
is_(replay(gw, job, last=4), [("5", "chunk", 4), ("6", "end", {"chunks": 5})],
    "one that saw event 4 gets the rest, nothing dropped")
doc = gw.get("/jobs/" + job).json() or {}
is_((doc.get("chunks"), doc.get("chunks_dropped")), ([3, 4], 3),
    "GET /jobs/ID: the chunks kept and how many were dropped")
is_(gw.stop(), 0, "the gateway exits 0")

# -- jobs.max_event_bytes --
BOUND = 1024
gw = HttpGateway({"jobs": {"max_event_bytes": BOUND}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("count",))
wire.recv()
chunks = ["%d:%s" % (i, "x" * 290) for i in range(10)]
sizes = [len(json.dumps(c)) for c in chunks] + [len('{"chunks":10}')]
kept = []                       # what the rule keeps: the newest that fit
for i in range(len(sizes)):
    kept.append(i)
    while len(kept) > 1 and sum(sizes[k] for k in kept) > BOUND:
        kept.pop(0)
job = start_job(gw, "Wire.count", [10])
call = wire.expect_call(3)
follower = gw.open("GET", "/jobs/%s/events" % job)
is_(follower.head(), 200, "a follower from the start")
for data in chunks:
    wire.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                          "data": data})
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
live = [e.get("id") for e in sse_events(follower) if e.get("event")]
is_(live, [str(i + 1) for i in range(11)], "gets all 11 events as they come")
ok(wait_until(lambda: (gw.get("/jobs/" + job).json() or {}).get("state")
              == "succeeded"), "the job of 10 chunks of 300 bytes finishes")
first = kept[0] + 1
is_(replay(gw, job),
    [dropped(first - 1, first)]
    + [(str(k + 1), "chunk", chunks[k]) for k in kept[:-1]]
    + [("11", "end", {"chunks": 10})],
    "with jobs.max_event_bytes 1KiB a replay keeps the newest %d events that "
    "fit (%d bytes), after an event dropped" % (len(kept), sum(
        sizes[k] for k in kept)))
big = "y" * (2 * BOUND)
job = stream_job(gw, wire, ["small"], end=big)
doc = gw.get("/jobs/" + job).json() or {}
is_((doc.get("result"), doc.get("chunks"), doc.get("chunks_dropped")),
    (big, [], 1), "a result larger than the bound is kept (the last event "
    "always is); the chunk before it went")
is_(replay(gw, job), [dropped(1, 2), ("2", "result", big)],
    "and a replay says so")
is_(gw.stop(), 0, "the gateway exits 0")

# -- jobs.max_memory --
MEMORY = 4096
conf = {"jobs": {"max_memory": MEMORY},
        "router": {"heartbeat_timeout": duration(60)}}
gw = OpsGateway(conf).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("echo", "count"), max_concurrent=8)
wire.recv()


def text(tag, size):
    """A JSON string that the gateway keeps as size bytes (its quotes
    included)."""
    return tag + "x" * (size - 2 - len(tag))


def memory():
    """(totals.jobs.event_bytes of /status.json, voidrail_jobs_event_bytes
    of /metrics)."""
    jobs = (gw.status().get("totals") or {}).get("jobs") or {}
    return jobs.get("event_bytes"), gw.metrics().get("voidrail_jobs_event_bytes")


def statuses(jobs):
    return [status(gw, j) for j in jobs]


def events_of(job):
    return (gw.get("/jobs/" + job).json() or {}).get("events")


def send(call, job, kind, **body):
    """Sends the job's next event (streaming, reply, end) and waits until
    the gateway counted it."""
    before = events_of(job)
    body.update(type=kind, request_id=call.request_id)
    wire.reply(call.cid, body)
    return wait_until(lambda: events_of(job) == (before or 0) + 1)


def follow(job, n):
    """The first n events (id, event, data) a follower from the start of
    the job gets now."""
    s = gw.open("GET", "/jobs/%s/events" % job)
    got = [(e.get("id"), e.get("event"), json.loads(e["data"]))
           for e in sse_events(s, until=(), count=n + 1) if e.get("event")]
    s.close()
    return got


done = []
for i in range(3):
    done.append(start_job(gw, "Wire.echo", [i]))
    finish(wire, text("f%d" % i, 1000))
    ok(wait_until(lambda: (gw.get("/jobs/" + done[-1]).json() or {})
                  .get("state") == "succeeded"), "finished job %d holds a "
       "result of 1000 bytes" % i)
is_(memory(), (3000, 3000), "/status.json and /metrics: 3000 bytes of "
    "event data kept")

a = start_job(gw, "Wire.count", [5])
call_a = wire.expect_call(3)
live = gw.open("GET", "/jobs/%s/events" % a)
is_(live.head(), 200, "an active job A, followed live from its start")
chunks_a = [text("a%d" % i, 1000) for i in range(5)]
ok(send(call_a, a, "streaming", data=chunks_a[0]), "A gets a chunk of 1000 "
   "bytes")
is_((statuses(done), memory()), ([200, 200, 200], (4000, 4000)),
    "4000 bytes under jobs.max_memory 4KiB: every finished job is kept")
send(call_a, a, "streaming", data=chunks_a[1])
is_((statuses(done), memory()), ([404, 200, 200], (4000, 4000)),
    "A's next chunk would go over: the oldest finished job is forgotten "
    "(404), the others stay")
send(call_a, a, "streaming", data=chunks_a[2])
send(call_a, a, "streaming", data=chunks_a[3])
is_((statuses(done), memory()), ([404, 404, 404], (4000, 4000)),
    "two chunks more: the two other finished jobs are forgotten, oldest "
    "first")
send(call_a, a, "streaming", data=chunks_a[4])
is_(memory(), (4000, 4000), "the fifth chunk: no finished job is left, "
    "A's own oldest event goes")
is_(follow(a, 5), [dropped(1, 2)] + [(str(i + 1), "chunk", chunks_a[i])
                                      for i in range(1, 5)],
    "a follower of A from 0 is told first that event 1 was dropped, then "
    "gets events 2-5")

b = start_job(gw, "Wire.count", [2])
call_b = wire.expect_call(3)
send(call_b, b, "streaming", data=text("b0", 100))
is_((follow(a, 1), memory()), ([dropped(2, 3)], (3100, 3100)),
    "active job B's first chunk (100 bytes), B holding nothing older: "
    "A's oldest event goes (3100 bytes)")
send(call_b, b, "streaming", data=text("b1", 100))
c = start_job(gw, "Wire.count", [1])
call_c = wire.expect_call(3)
send(call_c, c, "streaming", data=text("c0", 1000))
is_((follow(a, 1), follow(b, 2), memory()),
    ([dropped(3, 4)], [("1", "chunk", text("b0", 100)),
                       ("2", "chunk", text("b1", 100))], (3200, 3200)),
    "job C's first chunk (1000 bytes) takes A's oldest, A holding the most "
    "(2000 bytes besides its newest event), not B's (100)")

send(call_a, a, "end")
send(call_b, b, "end")
is_([e.get("id") for e in sse_events(live) if e.get("event")],
    [str(i) for i in range(1, 7)], "A's live follower got every event as "
    "it came, 1-6, none dropped")
is_(memory(), (3224, 3224), "A and B end ({\"chunks\":N}: 12 bytes each)")
big = text("c", 5000)
send(call_c, c, "reply", result=big)
doc = gw.get("/jobs/" + c).json() or {}
is_((statuses([a, b]), doc.get("result") == big, doc.get("chunks"),
     doc.get("chunks_dropped")), ([404, 404], True, [], 1),
    "C's result of 5000 bytes: A and B (finished) are forgotten, then C's "
    "chunk is dropped, and the result is kept though over the bound "
    "(a job's newest event always is)")
is_(memory(), (5000, 5000), "5000 bytes are kept")

conf["jobs"]["max_memory"] = 16384
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: jobs.max_memory 16KiB")
more = []
for i in range(3):
    more.append(start_job(gw, "Wire.echo", [i]))
    finish(wire, text("r%d" % i, 3000))
    wait_until(lambda: (gw.get("/jobs/" + more[-1]).json() or {})
               .get("state") == "succeeded")
is_((statuses([c] + more), memory()), ([200, 200, 200, 200], (14000, 14000)),
    "three more finished jobs of 3000 bytes: all four are kept (14000 "
    "bytes), the new bound in force")
conf["jobs"]["max_memory"] = 8192
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: jobs.max_memory 8KiB")
ok(wait_until(lambda: statuses([c] + more) == [404, 404, 200, 200]),
   "within a sweep the oldest two finished jobs are forgotten")
is_(memory(), (6000, 6000), "6000 bytes are left, under 8KiB")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
