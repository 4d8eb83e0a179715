#!/usr/bin/python3
# A job takes the same input as POST /invoke and is refused the same way:
# a method nobody offers is 503 no_service with Retry-After and creates no
# job; a form body is 415, malformed JSON and a malformed timeout 400;
# X-Request-Timeout and ?timeout= shorten the job's deadline (it fails with
# code timeout).  A follower of a silent job gets keep-alive comments; a
# HEAD of its events answers the headers and returns at once.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway({"http": {"keepalive": "200ms"}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000941")
wire.register(group="Wire", methods=("echo",))
wire.recv()


def jobs_active():
    r = gw.get("/status.json")
    return ((r and r.json() or {}).get("totals") or {}).get("jobs", {}) \
        .get("active")


def job_of(r):
    return ((r and r.status == 202 and r.json()) or {}).get("id", "?")


# -- refusals answer at once, and leave no job --
r = gw.post("/jobs/Nobody.work", json=[1])
is_(r and (r.status, (r.json() or {}).get("code")), (503, "no_service"),
    "a method no dealer offers: 503 no_service, not 202")
is_(r and r.header("Retry-After"), "5", "with Retry-After")
is_(problem_of(r), "", "as a problem")
is_(jobs_active(), 0, "and no job is left behind")

r = gw.post("/jobs/Wire.echo", body=b"a=1&b=2",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
is_(r and (r.status, (r.json() or {}).get("code")),
    (415, "unsupported_media_type"), "a form body is 415")
r = gw.post("/jobs/Wire.echo", body=b"[1,",
            headers={"Content-Type": "application/json"})
is_(r and r.status, 400, "malformed JSON is 400")
r = gw.post("/jobs/Wire.echo", json=[1],
            headers={"X-Request-Timeout": "soon"})
is_(r and (r.status, (r.json() or {}).get("code")), (400, "bad_request"),
    "a malformed X-Request-Timeout is 400")
is_(wire.expect_nothing(0.3), None, "none of them reached the dealer")
is_(jobs_active(), 0, "and none left a job")

# -- the caller's deadline --
for how, path, headers in (
        ("X-Request-Timeout: 300ms", "/jobs/Wire.echo",
         {"X-Request-Timeout": "300ms"}),
        ("?timeout=300ms", "/jobs/Wire.echo?timeout=300ms", None)):
    t0 = time.monotonic()
    r = gw.post(path, json=["slow"], headers=headers)
    job_id = job_of(r)
    is_(r and r.status, 202, "a job with %s is accepted" % how)
    call = wire.expect_call(3)
    ok(call is not None, "and reaches the dealer")
    ok(wait_until(lambda: (gw.get("/jobs/" + job_id).json() or {})
                  .get("state") == "failed", timeout=5),
       "the silent dealer's job fails")
    took = time.monotonic() - t0
    j = gw.get("/jobs/" + job_id).json() or {}
    is_((j.get("error") or {}).get("code"), "timeout",
        "with code timeout (%s)" % how)
    cmp_ok(took, "<", scaled(4.0), "long before the configured deadline")
    wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                          "result": "late"})
    time.sleep(scaled(0.1))
    is_((gw.get("/jobs/" + job_id).json() or {}).get("result"), None,
        "the late reply is dropped")

# -- following a silent job --
r = gw.post("/jobs/Wire.echo", json=["quiet"])
job_id = job_of(r)
call = wire.expect_call(3)
r = gw.request("HEAD", "/jobs/%s/events" % job_id, timeout=2)
is_(r and (r.status, r.content_type), (200, "text/event-stream"),
    "HEAD of a running job's events answers the headers at once")
f = gw.open("GET", "/jobs/%s/events" % job_id)
items = sse_events(f, comments=True, until=(), timeout=1.0)
comments = [e["comment"] for e in items if "comment" in e]
cmp_ok(len(comments), ">=", 2,
       "a follower of a silent job gets keep-alive comments (200ms)")
is_(sorted(set(comments)), ["keep-alive"], "reading ': keep-alive'")
wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": "done"})
is_([(e.get("id"), e.get("event"), e.get("data")) for e in sse_events(f)
     if "comment" not in e], [("1", "result", '"done"')],
    "then the job's result event")
ok(f.read(2) == b"" and f.done, "and the stream ends")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
