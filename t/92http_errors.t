#!/usr/bin/python3
# Errors over HTTP are RFC 9457 problems (application/problem+json with
# type, title, status, detail, code, request_id): 400 bad_request, 404
# not_found (unknown route), 405 method_not_allowed with Allow, 415
# unsupported_media_type, 429 queue_full with Retry-After, 500
# dealer_error (the dealer's message as detail), 502 dealer_lost, 502
# response_too_large (a stream asked for as one JSON answer outgrew
# http.stream_buffer: counted as such, its dealer told to stop), 503
# no_service with Retry-After (a method nobody offers is never 404), 504
# timeout.
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import parse_metrics

gw = HttpGateway({"router": {"max_queue": 1, "request_timeout": "60s"}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000092")
wire.register(group="Wire", methods=("echo", "slow"))
wire.recv()


def expect_problem(r, status, code, name):
    """Status, code and the problem shape of a response."""
    is_(r and r.status, status, "%s: %s" % (name, status))
    is_(r and (r.json() or {}).get("code"), code, "%s: code %s" % (name, code))
    is_(problem_of(r), "", "%s: an RFC 9457 problem" % name)


# -- requests the gateway refuses itself --
r = gw.post("/invoke/nodot", json=[1], headers={"X-Request-Id": "rid-92-400"})
expect_problem(r, 400, "bad_request", "a method name without a dot")
is_(r and (r.json() or {}).get("request_id"), "rid-92-400",
    "the problem carries the client's request id")
r = gw.post("/invoke/Wire.echo", body="[1,", headers={"Content-Type":
                                                      "application/json"})
expect_problem(r, 400, "bad_request", "a JSON body that does not parse")
r = gw.get("/no/such/route")
expect_problem(r, 404, "not_found", "an unknown route")
r = gw.get("/invoke/Wire.echo")
expect_problem(r, 405, "method_not_allowed", "GET on /invoke/")
is_(r and r.header("Allow"), "POST", "with Allow: POST")
r = gw.request("DELETE", "/services")
expect_problem(r, 405, "method_not_allowed", "DELETE /services")
is_(r and r.header("Allow"), "GET", "with Allow: GET")
r = gw.post("/invoke/Wire.echo", body="<x/>",
            headers={"Content-Type": "application/xml"})
expect_problem(r, 415, "unsupported_media_type", "an XML body")
is_(wire.expect_nothing(0.2, ignore=("heartbeat_ack",)), None,
    "none of them reached the dealer")

# -- no_service --
for method in ("Nobody.home", "Wire.nosuchmethod"):
    r = gw.post("/invoke/" + method, json=[])
    expect_problem(r, 503, "no_service", "%s (offered by nobody)" % method)
    like(r and r.header("Retry-After"), r"^[1-9][0-9]*$",
         "%s: with Retry-After in seconds" % method)

# -- dealer_error --
c = gw.open("POST", "/invoke/Wire.echo", json=["x"])
call = wire.expect_call(3)
wire.reply(call.cid, {"type": "error", "error": "Méthode cassée: \"x\""})
r = c.response()
expect_problem(r, 500, "dealer_error", "a dealer's error")
is_(r and (r.json() or {}).get("detail"), "Méthode cassée: \"x\"",
    "the dealer's message is the detail")

# -- queue_full: one slow dealer, router.max_queue 1 --
busy = gw.open("POST", "/invoke/Wire.slow", json=[1])
busy_call = wire.expect_call(3)
ok(busy_call, "a call occupies the only dealer")
queued = gw.open("POST", "/invoke/Wire.slow", json=[2])
ok(wait_until(lambda: gw.queue_status().get("Wire.slow", {})
              .get("queue_length") == 1),
   "the next one waits in the queue")
t0 = time.monotonic()
r = gw.post("/invoke/Wire.slow", json=[3])
expect_problem(r, 429, "queue_full", "one more than router.max_queue")
like(r and r.header("Retry-After"), r"^[1-9][0-9]*$",
     "queue_full: with Retry-After")
cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "queue_full: at once")
wire.reply(busy_call.cid, {"type": "reply", "request_id":
                           busy_call.request_id, "result": 1})
is_(busy.response().json(), 1, "the first call is served")
call = wire.expect_call(3)
wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": 2})
is_(queued.response().json(), 2, "and then the queued one")

# -- timeout --
t0 = time.monotonic()
r = gw.post("/invoke/Wire.slow", json=[9],
            headers={"X-Request-Timeout": "300ms"})
expect_problem(r, 504, "timeout", "a dealer slower than the deadline")
cmp_ok(time.monotonic() - t0, "<", scaled(2.0), "timeout: after ~300 ms")
call = wire.expect_call(1)
if call:                            # give the dealer its slot back
    wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                          "result": "late"})

# -- response_too_large: a JSON answer over http.stream_buffer (1MiB) --
big = RawPeer(gw.endpoint, identity="Big-00000092")
big.register(group="Big", methods=("stream",), capabilities=["cancel"])
big.recv()
CHUNK = "z" * (256 * 1024)
COUNTED = ("response_too_large", "cancelled", "dealer_error")


def counted():
    errors = ((gw.get("/status.json").json() or {}).get("totals", {})
              .get("errors", {}))
    return [errors.get(code) for code in COUNTED]


before = counted()
c = gw.open("POST", "/invoke/Big.stream", json=[8])
call = big.expect_call(3)
for i in range(8):
    big.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                         "data": CHUNK})
r = c.response()
expect_problem(r, 502, "response_too_large",
               "a stream of 8 x 256 KiB asked for as one JSON answer")
like(r and (r.json() or {}).get("detail"),
     r"http\.stream_buffer.*text/event-stream.*application/x-ndjson.*job",
     "the detail names http.stream_buffer, SSE, NDJSON and jobs")
msg = big.recv(2, ignore=("heartbeat_ack",))
is_(msg and msg[:2], [b"cancel_from_router", call.cid],
    "the dealer is told to stop")
big.reply(call.cid, {"type": "end", "request_id": call.request_id})
after = counted()
is_([a - b if None not in (a, b) else None for a, b in zip(after, before)],
    [1, 0, 0], "/status.json counts it as response_too_large (not "
    "cancelled, not dealer_error)")
doc = gw.get("/status.json").json() or {}
is_({m["name"]: m.get("errors") for m in doc.get("methods", [])}
    .get("Big.stream"), {"response_too_large": 1}, "for its method too")
is_([e.get("code") for e in doc.get("recent_errors", [])[:1]],
    ["response_too_large"], "and lists it in recent_errors")
mx = parse_metrics(gw.get("/metrics").text)
is_(mx.get('voidrail_errors_total{code="response_too_large"}'), 1.0,
    "/metrics too")
s = gw.open("POST", "/invoke/Big.stream", json=[8],
            headers={"Accept": "text/event-stream"})
call = big.expect_call(3)
events = sse_events(s, count=1)                 # retry:
for i in range(8):                              # read as it comes
    big.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                         "data": CHUNK})
    events += sse_events(s, count=1)
big.reply(call.cid, {"type": "end", "request_id": call.request_id})
events += sse_events(s)
is_([e.get("event") for e in events[1:]], ["chunk"] * 8 + ["end"],
    "the same stream asked for as SSE arrives whole")

# -- dealer_lost --
victim = DealerProcess(gw.endpoint, service="Doomed")
ok(victim.expect(r"^register_ack"), "a dealer process registers")
c = gw.open("POST", "/invoke/Doomed.slow", json=[30])
ok(victim.expect(r"^call \S+ Doomed\.slow"), "it gets a long call")
victim.signal(signal.SIGKILL)
t0 = time.monotonic()
r = c.response(timeout=6)
expect_problem(r, 502, "dealer_lost", "its process is SIGKILLed")
cmp_ok(time.monotonic() - t0, "<", scaled(3.0), "dealer_lost: soon")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
