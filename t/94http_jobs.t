#!/usr/bin/python3
# Jobs: POST /jobs/M answers 202 {id, state, links} with Location at once;
# GET /jobs/ID shows the state (queued, running, succeeded, failed,
# cancelled) and the result, chunks or error; GET /jobs/ID/events is the
# job as SSE (ids 1..n), resumable after Last-Event-ID (or
# ?last_event_id=) mid-job and after the end (204 once all was seen);
# DELETE /jobs/ID cancels (an error event with code cancelled, the
# dealer's late reply dropped), 409 once finished, 404 for an unknown id.
import json, os, re, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway().start()
wire = RawPeer(gw.endpoint, identity="Wire-00000094")
wire.register(group="Wire", methods=("echo", "count"))
wire.recv()


def send(call, kind, **body):
    body.update({"type": kind, "request_id": call.request_id})
    wire.reply(call.cid, body)


def job(job_id):
    r = gw.get("/jobs/" + job_id)
    return r.json() if r and r.status == 200 else {"status": r and r.status}


def shape(items):
    return [(e.get("id"), e.get("event"),
             json.loads(e["data"]) if e.get("data") is not None else None)
            for e in items if e.get("event")]


# -- creating --
r = gw.post("/jobs/Wire.count", json=[3], headers={"X-Request-Id": "job-94-a"})
is_(r and r.status, 202, "POST /jobs/Wire.count answers 202")
a = (r and r.json()) or {}
like(a.get("id"), r"^[A-Za-z0-9_-]{43}$", "the id is 43 characters base64url")
a_id = a.get("id", "?")
is_(a.get("links"), {"self": "/jobs/" + a_id, "events": "/jobs/%s/events" % a_id},
    "links: self and events")
is_(r and r.header("Location"), "/jobs/" + a_id, "Location is the job's URL")
ok(a.get("state") in ("queued", "running"), "state queued or running")
call_a = wire.expect_call(3)
is_(call_a and (call_a.request_id, call_a.request.get("args")),
    ("job-94-a", [3]), "the dealer gets the call with the job's request id")

r = gw.post("/jobs/Wire.echo", json=["b"])
b_id = ((r and r.json()) or {}).get("id", "?")
is_(job(b_id).get("state"), "queued", "a job behind a busy dealer is queued")
a = job(a_id)
is_(a.get("state"), "running", "the one on the dealer is running")
is_([a.get(k) for k in ("id", "method", "request_id", "finished_at")],
    [a_id, "Wire.count", "job-94-a", None],
    "GET /jobs/ID: id, method, request_id, no finished_at yet")
like(a.get("created_at"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "created_at")
is_(a.get("links"), {"self": "/jobs/" + a_id, "events": "/jobs/%s/events" % a_id},
    "links")

# -- following a job live --
f = gw.open("GET", "/jobs/%s/events" % a_id)
is_(f.head(), 200, "GET /jobs/ID/events answers 200")
is_(f.header("Content-Type", "").split(";")[0], "text/event-stream", "as SSE")
first = sse_events(f, count=1, timeout=2)
is_(first[:1] and first[0].get("retry"), 3000, "retry first")
send(call_a, "streaming", data={"i": 0})
is_(shape(sse_events(f, count=1)), [("1", "chunk", {"i": 0})],
    "a chunk reaches the follower as it comes, id 1")
send(call_a, "streaming", data={"i": 1})
send(call_a, "streaming", data={"i": 2})
send(call_a, "end")
is_(shape(sse_events(f)), [("2", "chunk", {"i": 1}), ("3", "chunk", {"i": 2}),
                           ("4", "end", {"chunks": 3})],
    "then the rest and end")
ok(f.read(2) == b"" and f.done, "the event stream ends with the job")
a = job(a_id)
is_([a.get(k) for k in ("state", "chunks", "events")],
    ["succeeded", [{"i": 0}, {"i": 1}, {"i": 2}], 4],
    "the job succeeded with its chunks and 4 events")
like(a.get("finished_at"), r"^\d{4}-\d\d-\d\dT", "finished_at is set")

call_b = wire.expect_call(3)
send(call_b, "reply", result={"echo": "b"})
ok(wait_until(lambda: job(b_id).get("state") == "succeeded"),
   "the queued job runs and succeeds")
is_(job(b_id).get("result"), {"echo": "b"}, "with its result")

# -- replay after the end --
def replay(headers=None, query=""):
    s = gw.open("GET", "/jobs/%s/events%s" % (a_id, query), headers=headers)
    items = sse_events(s, until=())
    ok(s.done, "the replay ends (%s)" % (headers or query or "from the start"))
    return shape(items)


is_([i for i, _, _ in replay()], ["1", "2", "3", "4"],
    "a finished job's events replay from 1")
is_(replay({"Last-Event-ID": "2"}),
    [("3", "chunk", {"i": 2}), ("4", "end", {"chunks": 3})],
    "Last-Event-ID: 2 replays only the events after 2")
is_([i for i, _, _ in replay(query="?last_event_id=3")], ["4"],
    "?last_event_id=3 replays only event 4")
r = gw.get("/jobs/%s/events" % a_id, headers={"Last-Event-ID": "4"})
is_(r and (r.status, r.body), (204, b""),
    "Last-Event-ID: 4 of a finished job with 4 events is 204 (EventSource "
    "stops reconnecting)")

# -- reconnecting mid-job --
r = gw.post("/jobs/Wire.count", json=[9])
c_id = ((r and r.json()) or {}).get("id", "?")
call_c = wire.expect_call(3)
f = gw.open("GET", "/jobs/%s/events" % c_id)
send(call_c, "streaming", data=0)
send(call_c, "streaming", data=1)
is_([i for i, _, _ in shape(sse_events(f, count=3))], ["1", "2"],
    "a follower reads events 1 and 2")
f.close()
send(call_c, "streaming", data=2)
ok(wait_until(lambda: job(c_id).get("events") == 3),
   "event 3 happens while it is away")
f = gw.open("GET", "/jobs/%s/events" % c_id, headers={"Last-Event-ID": "2"})
is_(shape(sse_events(f, count=2)), [("3", "chunk", 2)],
    "reconnecting with Last-Event-ID: 2 gets only event 3")
send(call_c, "streaming", data=3)
send(call_c, "end")
is_(shape(sse_events(f)), [("4", "chunk", 3), ("5", "end", {"chunks": 4})],
    "then follows live to the end")

# -- failing --
r = gw.post("/jobs/Wire.echo", json=["x"])
d_id = ((r and r.json()) or {}).get("id", "?")
call_d = wire.expect_call(3)
wire.reply(call_d.cid, {"type": "error", "error": "no good"})
ok(wait_until(lambda: job(d_id).get("state") == "failed"),
   "a dealer error fails the job")
is_(job(d_id).get("error"), {"code": "dealer_error", "error": "no good"},
    "error {code, error}")

# -- cancelling --
r = gw.post("/jobs/Wire.count", json=[5])
e_id = ((r and r.json()) or {}).get("id", "?")
call_e = wire.expect_call(3)
f = gw.open("GET", "/jobs/%s/events" % e_id)
send(call_e, "streaming", data="before")
is_(len(shape(sse_events(f, count=2))), 1, "a follower sees the first chunk")
r = gw.delete("/jobs/" + e_id)
is_(r and r.status, 200, "DELETE /jobs/ID answers 200")
is_(r and (r.json() or {}).get("state"), "cancelled", "with state cancelled")
items = shape(sse_events(f))
is_([(i, n, isinstance(d, dict) and d.get("code")) for i, n, d in items],
    [("2", "error", "cancelled")],
    "the follower gets an error event with code cancelled")
ok(f.read(2) == b"" and f.done, "and its stream ends")
send(call_e, "streaming", data="after")
send(call_e, "end")
time.sleep(scaled(0.3))
e = job(e_id)
is_([e.get("state"), e.get("events"), e.get("chunks")],
    ["cancelled", 2, ["before"]], "the dealer's late reply is dropped")
is_((e.get("error") or {}).get("code"), "cancelled", "error code cancelled")

r = gw.delete("/jobs/" + e_id)
is_(r and (r.status, (r.json() or {}).get("code")), (409, "job_finished"),
    "DELETE on a finished job is 409 job_finished")
is_(problem_of(r), "", "as a problem")
r = gw.delete("/jobs/" + a_id)
is_(r and r.status, 409, "also on a succeeded one")
unknown = "A" * 43
for method, path in (("GET", "/jobs/" + unknown),
                     ("GET", "/jobs/%s/events" % unknown),
                     ("DELETE", "/jobs/" + unknown)):
    r = gw.request(method, path)
    is_(r and (r.status, (r.json() or {}).get("code")), (404, "not_found"),
        "%s on an unknown job id is 404" % method)

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
