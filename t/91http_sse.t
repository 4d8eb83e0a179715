#!/usr/bin/python3
# Streamed answers.  Accept: text/event-stream gives Server-Sent Events:
# "retry: <ms>" first, then a "chunk" event per chunk as it arrives and
# "end" {"chunks": N} (a stream), "result" (a plain method) or "error"
# {code, error, request_id}, every event with an id 1, 2, 3...; ": keep-
# alive" comments while the dealer is silent.  No payload byte can start
# an SSE field of its own.  GET /stream/M?args=... is the same for
# EventSource; its reconnect after a stream ended (Last-Event-ID) gets 204,
# which stops EventSource, and a HEAD gets the headers: neither runs the
# method again.  Accept: application/x-ndjson gives a line per chunk as it
# arrives; an error ends it with a line {code, error, request_id}.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

SSE = {"Accept": "text/event-stream"}
gw = HttpGateway({"http": {"keepalive": "200ms"}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000091")
wire.register(group="Wire", methods=("echo", "count"))
wire.recv()
ThreadedDealer(gw.endpoint).start()


def chunk(call, data):
    wire.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                          "data": data})


def shape(items):
    """(id, event, decoded data) of SSE items."""
    out = []
    for e in items:
        try:
            data = json.loads(e["data"]) if e.get("data") is not None else None
        except ValueError:
            data = ("(not JSON)", e["data"])
        out.append((e.get("id"), e.get("event"), data))
    return out


# -- a stream, event by event --
s = gw.open("POST", "/invoke/Wire.count", json=[3], headers=SSE)
call = wire.expect_call(3)
is_(s.head(), 200, "an SSE call answers 200 at once")
is_(s.header("Content-Type", "").split(";")[0], "text/event-stream",
    "as text/event-stream")
first = sse_events(s, count=1, timeout=2)
is_([(e.get("retry"), e.get("event"), e.get("data")) for e in first],
    [(3000, None, None)], "the stream starts with retry: 3000 (http.retry 3s)")
chunk(call, {"i": 0})
is_(shape(sse_events(s, count=1, timeout=2)), [("1", "chunk", {"i": 0})],
    "a chunk arrives as event chunk, id 1, before the next is sent")
chunk(call, "one")
chunk(call, [2, {"x": None}])
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
is_(shape(sse_events(s)),
    [("2", "chunk", "one"), ("3", "chunk", [2, {"x": None}]),
     ("4", "end", {"chunks": 3})],
    "then one chunk event per chunk and end {chunks: 3}, ids counting on")
is_(s.read(2), b"", "and the stream ends")
ok(s.done, "with the end of the chunked body")

# -- a plain method --
s = gw.open("POST", "/invoke/Wire.echo", json=["plain"], headers=SSE)
call = wire.expect_call(3)
wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": {"v": "plain"}})
items = sse_events(s)
is_([(e.get("retry"), e.get("event")) for e in items[:1]], [(3000, None)],
    "a plain method's stream starts with retry too")
is_(shape(items[1:]), [("1", "result", {"v": "plain"})],
    "then its answer as one result event, id 1")
ok(s.read(2) == b"" and s.done, "and ends")

# -- an error --
s = gw.open("POST", "/invoke/Wire.count", json=[2], headers=SSE)
call = wire.expect_call(3)
chunk(call, 0)
wire.reply(call.cid, {"type": "error", "error": "it broke"})
s.head()
rid = s.header("X-Request-Id")
is_(shape(sse_events(s)[1:]),
    [("1", "chunk", 0),
     ("2", "error", {"code": "dealer_error", "error": "it broke",
                     "request_id": rid})],
    "a dealer error mid-stream is event error {code, error, request_id}")
ok(s.read(2) == b"" and s.done, "and ends the stream")

s = gw.open("POST", "/invoke/Wire.count", json=[2],
            headers=dict(SSE, **{"X-Request-Timeout": "300ms"}))
call = wire.expect_call(3)
chunk(call, "before the deadline")
items = sse_events(s, timeout=3)
is_([(i, n, d.get("code") if isinstance(d, dict) else d)
     for i, n, d in shape(items[1:])],
    [("1", "chunk", "before the deadline"), ("2", "error", "timeout")],
    "a deadline mid-stream is event error with code timeout")
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
is_(s.read(0.5), b"", "the dealer's late end adds nothing")

# -- keep-alive --
s = gw.open("POST", "/invoke/Wire.count", json=[1], headers=SSE)
call = wire.expect_call(3)
items = sse_events(s, comments=True, until=(), timeout=1.0)
comments = [e["comment"] for e in items if "comment" in e]
cmp_ok(len(comments), ">=", 2,
       "a silent dealer: keep-alive comments (http.keepalive 200ms)")
is_(sorted(set(comments)), ["keep-alive"], "reading ': keep-alive'")
chunk(call, "late")
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
is_(shape([e for e in sse_events(s) if "comment" not in e]),
    [("1", "chunk", "late"), ("2", "end", {"chunks": 1})],
    "the stream goes on after them")

# -- payload bytes never start a field --
evil = "x\n\nid: 99\nevent: evil\ndata: {}\r\n\r\nretry: 1\n\n"
s = gw.open("POST", "/invoke/Wire.count", json=[2], headers=SSE)
call = wire.expect_call(3)
chunk(call, {"text": evil})
# A dealer may send pretty-printed JSON: raw line breaks inside the reply.
pretty = ('{"type": "streaming", "request_id": "%s", "data": {\n\n'
          '  "a": [1,\r\n  2],\r  "b": "id: 98"\n}}' % call.request_id)
wire.reply(call.cid, pretty.encode())
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
items = sse_events(s)[1:]
is_(shape(items), [("1", "chunk", {"text": evil}),
                   ("2", "chunk", {"a": [1, 2], "b": "id: 98"}),
                   ("3", "end", {"chunks": 2})],
    "a string with '\\n\\nid: 99\\nevent: evil' is data of one chunk event")
is_([e.get("unknown") for e in items], [None, None, None],
    "no block has a field other than id, event and data")
raw_lines = items[1]["lines"] if len(items) > 1 else []
is_([l.split(":", 1)[0] for l in raw_lines],
    ["id", "event"] + ["data"] * 6,
    "the pretty-printed chunk's every line gets its own 'data: '")
ok(all(e.get("id") != "99" and e.get("event") != "evil" for e in items),
   "nothing named evil, no id 99")

# -- GET /stream for EventSource --
s = gw.open("GET", "/stream/RefService.count?args=" + quote_json([3]))
is_(s.head(), 200, "GET /stream answers 200")
is_(s.header("Content-Type", "").split(";")[0], "text/event-stream",
    "as SSE without asking")
items = sse_events(s)
is_(items[:1] and items[0].get("retry"), 3000, "retry first")
is_(shape(items[1:]), [("1", "chunk", {"i": 0}), ("2", "chunk", {"i": 1}),
                       ("3", "chunk", {"i": 2}), ("4", "end", {"chunks": 3})],
    "then the chunks of a Python dealer's generator and end")
s = gw.open("GET", "/stream/RefService.add?args=" +
            quote_json({"a": 40, "b": 2}), headers=SSE)
is_(shape(sse_events(s)[1:]), [("1", "result", 42)],
    "args as an object are kwargs; a plain method gives result")

# EventSource reconnects whenever a stream ends, with the last id it saw.
path = "/stream/Wire.count?args=" + quote_json([1])
r = gw.get(path, headers={"Last-Event-ID": "2"})
is_(r and (r.status, r.body), (204, b""),
    "GET /stream with Last-Event-ID answers 204 (EventSource stops)")
r = gw.request("HEAD", path)
is_(r and (r.status, r.content_type), (200, "text/event-stream"),
    "HEAD /stream answers the headers of the stream")
is_(wire.expect_nothing(0.5), None, "neither reaches the dealer")
s = gw.open("GET", path)
call = wire.expect_call(3)
ok(call is not None, "the same GET without Last-Event-ID calls the dealer")
wire.reply(call.cid, {"type": "end", "request_id": call and call.request_id})
is_([e.get("event") for e in sse_events(s)[1:]], ["end"], "and streams")

# -- NDJSON --
s = gw.open("POST", "/invoke/Wire.count", json=[3],
            headers={"Accept": "application/x-ndjson"})
call = wire.expect_call(3)
is_(s.head(), 200, "an NDJSON call answers 200")
is_(s.header("Content-Type", "").split(";")[0], "application/x-ndjson",
    "as application/x-ndjson")
chunk(call, {"i": 0})
is_([v for _, v in ndjson_lines(s, count=1, timeout=2)], [{"i": 0}],
    "a chunk arrives as a line before the next is sent")
chunk(call, "two\nlines")
chunk(call, [3])
wire.reply(call.cid, ('{"type": "streaming", "request_id": "%s", "data": {\n'
                      '  "a": [1,\r\n  2]\n}}' % call.request_id).encode())
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
is_([v for _, v in ndjson_lines(s, timeout=3)],
    ["two\nlines", [3], {"a": [1, 2]}],
    "one line per chunk (a pretty-printed one too), then the body ends")
ok(s.done, "at the end of the stream")

# An error ends an NDJSON stream with a line of its own: {code, error,
# request_id}, the request id that of the X-Request-Id header.
ND = {"Accept": "application/x-ndjson"}
s = gw.open("POST", "/invoke/Wire.count", json=[3], headers=ND)
call = wire.expect_call(3)
chunk(call, {"i": 0})
chunk(call, {"i": 1})
wire.reply(call.cid, {"type": "error", "request_id": call.request_id,
                      "error": "it broke"})
s.head()
rid = s.header("X-Request-Id")
is_([v for _, v in ndjson_lines(s, timeout=3)],
    [{"i": 0}, {"i": 1},
     {"code": "dealer_error", "error": "it broke", "request_id": rid}],
    "a dealer error midway: the chunks, then the line {code, error, "
    "request_id}")
ok(s.done, "and the body ends")
s = gw.open("POST", "/invoke/Wire.count", json=[2],
            headers=dict(ND, **{"X-Request-Timeout": "300ms"}))
call = wire.expect_call(3)
chunk(call, "before the deadline")
s.head()
rid = s.header("X-Request-Id")
lines = [v for _, v in ndjson_lines(s, timeout=3)]
last = lines[-1] if len(lines) == 2 and isinstance(lines[-1], dict) else {}
is_(lines[:1], ["before the deadline"], "a deadline midway: the chunk")
is_((sorted(last), last.get("code"), last.get("request_id")),
    (["code", "error", "request_id"], "timeout", rid),
    "then the last line, {code: timeout, error, request_id}")
like(last.get("error"), r"timed out after \d+ ms", "saying so")
ok(s.done, "and the body ends")
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
