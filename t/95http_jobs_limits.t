#!/usr/bin/python3
# How many jobs the gateway holds: a finished job is forgotten after
# jobs.keep, and beyond jobs.max_finished the oldest finished ones go
# first (then GET is 404); more than jobs.max_active jobs queued or
# running at once is 429 too_many_jobs; a job keeps its newest
# jobs.max_events events for replay.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *


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
gw = HttpGateway({"jobs": {"max_events": 3}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000095")
wire.register(group="Wire", methods=("count",))
wire.recv()
job = start_job(gw, "Wire.count", [5])
call = wire.expect_call(3)
for i in range(5):
    wire.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                          "data": i})
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
ok(wait_until(lambda: (gw.get("/jobs/" + job).json() or {})
              .get("state") == "succeeded"), "a job of 6 events finishes")
s = gw.open("GET", "/jobs/%s/events" % job)
is_([(e.get("id"), e.get("event")) for e in sse_events(s) if e.get("event")],
    [("4", "chunk"), ("5", "chunk"), ("6", "end")],
    "with jobs.max_events 3 the replay keeps the newest 3, ids unchanged")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
