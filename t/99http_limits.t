#!/usr/bin/python3
# Limits of the HTTP front end: a body announced over http.max_body is 413
# before it is read; headers over http.max_header are 431; beyond
# http.max_streams open streams a new one is 503 too_many_streams; a
# reader that does not read is cut off once http.stream_buffer bytes wait
# for it, and the gateway keeps serving the others; a connection idle for
# http.idle_timeout is closed, and beyond http.max_connections a new one
# waits for a free slot.  On SIGTERM with HTTP
# connections and streams open the gateway exits 0 (once the calls still
# running had process.drain_timeout to finish).
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

SSE = {"Accept": "text/event-stream"}
DRAIN = 1.0                     # process.drain_timeout: calls left at SIGTERM
gw = HttpGateway({"http": {"max_body": "1KiB", "max_streams": 2,
                           "stream_buffer": "64KiB"},
                  "process": {"drain_timeout": duration(DRAIN)}}).start()
ThreadedDealer(gw.endpoint).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000099")
wire.register(group="Wire", methods=("work",), max_concurrent=20)
wire.recv()


def code(r):
    return r and (r.status, (r.json() or {}).get("code"))


def open_streams():
    """The streams the gateway counts as open (/status.json)."""
    r = gw.get("/status.json")
    doc = r.json() if r and r.status == 200 else None
    return ((doc or {}).get("totals") or {}).get("http", {}).get("streams")


# -- http.max_body --
c = gw.open("POST", "/invoke/RefService.echo", content_length=100 << 20,
            headers={"Content-Type": "application/json"})
t0 = time.monotonic()
r = c.response(timeout=3)
is_(code(r), (413, "payload_too_large"),
    "Content-Length over http.max_body (100 MiB announced, none sent) is 413")
cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "answered at once, unread")
is_(problem_of(r), "", "as a problem")
r = gw.post("/invoke/RefService.echo", json="x" * 2000)
is_(code(r), (413, "payload_too_large"), "a 2 KB body is 413")
c = gw.open("POST", "/invoke/RefService.echo",
            headers={"Content-Type": "application/json",
                     "Transfer-Encoding": "chunked"},
            body=b"".join(b"%x\r\n%s\r\n" % (len(p), p)
                          for p in [b'"' + b"y" * 700] * 3 + [b'"'])
            + b"0\r\n\r\n")
is_(code(c.response()), (413, "payload_too_large"),
    "so is a chunked body that grows over it")
r = gw.post("/invoke/RefService.echo", json="z" * 900)
is_(r and (r.status, r.json()), (200, "z" * 900), "a body under it is served")

# -- http.max_header --
r = gw.get("/healthz", headers={"X-Filler": "a" * 5000})
is_(r and r.status, 431, "headers over http.max_header (4 KiB) are 431")
is_(problem_of(r), "", "as a problem")
r = gw.get("/healthz", headers={"X-Filler": "a" * 3000})
is_(r and r.status, 200, "3 KB of headers are fine")

# -- http.max_streams --
streams = []
for i in range(2):
    s = gw.open("POST", "/invoke/Wire.work", json=["stream %d" % i],
                headers=SSE if i == 0 else {"Accept": "application/x-ndjson"})
    is_(s.head(), 200, "stream %d (%s) opens" % (i + 1, ["SSE", "NDJSON"][i]))
    streams.append((s, wire.expect_call(3)))
r = gw.post("/invoke/Wire.work", json=["third"], headers=SSE)
is_(code(r), (503, "too_many_streams"),
    "a third stream beyond http.max_streams 2 is 503 too_many_streams")
is_(problem_of(r), "", "as a problem")
got = wire.recv(0.5, ignore=("heartbeat_ack",))
is_(got and loads(got[3]).get("args") if got and len(got) > 3 else got, None,
    "and its call never reaches a dealer")
r = gw.post("/invoke/RefService.echo", json=["plain"])
is_(r and (r.status, r.json()), (200, "plain"),
    "calls without a stream are still served")
streams[0][0].close()
ok(wait_until(lambda: open_streams() == 1), "the gateway sees one close")
s = gw.open("GET", "/stream/Wire.work?args=" + quote_json(["again"]))
is_(s.head(), 200, "once one closes a new stream opens")
streams[0] = (s, wire.expect_call(3))
for s, call in streams:
    if call:
        wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
    s.read(2)
    s.close()
ok(wait_until(lambda: open_streams() == 0), "... and the others end")

# -- http.stream_buffer: a reader that does not read --
lazy = gw.open("POST", "/invoke/Wire.work", json=["flood"], headers=SSE,
               rcvbuf=4096)
call = wire.expect_call(3)
ok(call and lazy.head() == 200, "a stream whose reader stops reading")
SENT, big = 400, "b" * 32768
for i in range(SENT):          # 12.5 MiB, far more than the socket buffers
    wire.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                          "data": big})
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
t0 = time.monotonic()
r = gw.post("/invoke/RefService.echo", json=["meanwhile"])
is_(r and (r.status, r.json()), (200, "meanwhile"),
    "meanwhile the gateway serves other calls")
cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "promptly")
time.sleep(scaled(0.5))
items = sse_events(lazy, timeout=10)
chunks = sum(1 for e in items if e.get("event") == "chunk")
ok(lazy.eof, "the lazy reader finds its connection closed")
cmp_ok(chunks, "<", SENT, "it got only part of the chunks (%d)" % chunks)
is_([e.get("event") for e in items if e.get("event") == "end"], [],
    "and no end event: it was cut off")
r = gw.get("/healthz")
is_(r and r.status, 200, "the gateway is fine")

# -- SIGTERM with connections and streams open --
# (at the end of this section the gateway is gone)
idle = gw.conn()
idle.send("GET", "/healthz")
is_(idle.response() and idle.status, 200,
    "a keep-alive connection stays open after its request")
stream = gw.open("POST", "/invoke/Wire.work", json=["open"], headers=SSE)
ok(stream.head() == 200 and wire.expect_call(3), "an SSE stream is open")
parked = gw.open("POST", "/invoke/Wire.work", json=["waiting"])
ok(wire.expect_call(3), "a JSON call waits for its dealer")
r = gw.post("/jobs/Wire.work", json=["job"])
job = ((r and r.json()) or {}).get("id", "?")
follower = gw.open("GET", "/jobs/%s/events" % job)
ok(follower.head() == 200 and wire.expect_call(3), "a job's events are followed")
t0 = time.monotonic()
is_(gw.stop(timeout=DRAIN + 10), 0, "on SIGTERM the gateway exits 0")
cmp_ok(time.monotonic() - t0, "<", scaled(DRAIN + 3.0),
       "soon after process.drain_timeout (1 s)")
ok(all(c.closed_by_server(2) for c in (idle, stream, parked, follower)),
   "and every connection is closed")

# -- http.max_connections and http.idle_timeout --
IDLE = 2.0
gw = HttpGateway({"http": {"max_connections": 2,
                           "idle_timeout": duration(IDLE)}}).start()
a, b = gw.conn(), gw.conn()
for c in (a, b):
    c.send("GET", "/healthz")
is_([c.response() and c.status for c in (a, b)], [200, 200],
    "two keep-alive connections are served")
third = gw.conn()
third.send("GET", "/healthz")
is_(third.head(0.5), None,
    "beyond http.max_connections 2 a third connection is not served")
a.close()
is_(third.response() and third.status, 200, "until one of them closes")
t0 = time.monotonic()
ok(b.closed_by_server(IDLE + 2) and third.closed_by_server(IDLE + 2),
   "http.idle_timeout closes connections that stay idle")
cmp_ok(time.monotonic() - t0, ">=", scaled(IDLE) - 0.5,
       "after about http.idle_timeout (2 s)")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
