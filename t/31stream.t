#!/usr/bin/python3
# Streaming: every chunk is forwarded as it comes, in order, then the end
# (A.5).  A stream holds its dealer until its end: in-flight accounting is
# per request, not per message (B.2, fixing A.12.9).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
threaded = ThreadedDealer(gw.endpoint).start()
asyncd = AsyncDealer(gw.endpoint, service_name="AsyncService").start()

py = PyClient(gw.endpoint).connect()
is_(list(py.stream("RefService.count", 5)), [{"i": i} for i in range(5)],
    "stream() yields every chunk in order")
is_(py.invoke("RefService.count", 2), [{"i": 0}, {"i": 1}],
    "invoke() collects the chunks in a list")
is_(py.invoke("RefService.count", 0), [], "an empty stream")
is_(py.invoke("RefService.astream", 3, delay=0.01), [0, 1, 2],
    "an async generator on the threaded dealer")
is_(py.invoke("AsyncService.astream", 3, delay=0.01), [0, 1, 2],
    "an async generator on the asyncio dealer")
is_(py.invoke("AsyncService.count", 3), [{"i": i} for i in range(3)],
    "a sync generator on the asyncio dealer")

c = RawPeer(gw.endpoint, identity="client-31")
rid = c.call("RefService.count", 3)
got = [c.recv_json() for _ in range(4)]
is_(got, [("reply_from_router", {"type": "streaming", "request_id": rid,
                                 "data": {"i": i}}) for i in range(3)]
    + [("reply_from_router", {"type": "end", "request_id": rid})],
    "on the wire: three streaming messages, then end")
is_(c.expect_nothing(0.3), None, "and nothing after the end")

# chunks are forwarded live, not collected
for method, args in (("RefService.count", (3, 0.4)),
                     ("AsyncService.astream", (3, 0.4))):
    rid = c.call(method, *args)
    first = c.recv(3)
    t_first = time.monotonic()
    rest = [c.recv(3) for _ in range(3)]
    t_end = time.monotonic()
    ok(first and loads(first[-1]).get("type") == "streaming"
       and rest[-1] and loads(rest[-1][-1]).get("type") == "end",
       "%s: chunks then end" % method)
    cmp_ok(t_end - t_first, ">=", 0.6,
           "%s: the first chunk arrives while the stream still runs" % method)

# a streaming dealer (capacity 1) gets no second request before its end
a = RawPeer(gw.endpoint, identity="client-31-a")
b = RawPeer(gw.endpoint, identity="client-31-b")
threaded.calls.clear()
rid_a = a.call("RefService.count", 3, kwargs={"delay": 0.3})
first = a.recv(3)
ok(first and loads(first[-1]).get("type") == "streaming",
   "the stream has started")
rid_b = b.call("RefService.echo", "after")
is_(b.recv_json(5)[1], {"type": "reply", "request_id": rid_b,
                        "result": "after"}, "a call behind it completes")
ends = [t for t, way, frames in threaded.wire
        if way == "out" and frames[0] == b"reply_from_dealer"
        and loads(frames[-1]).get("type") == "end"
        and loads(frames[-1]).get("request_id") == rid_a]
calls = [t for t, way, frames in threaded.wire
         if way == "in" and frames[0] == b"call_from_router"
         and loads(frames[-1]).get("request_id") == rid_b]
ok(ends and calls and calls[0] >= ends[0],
   "but reaches the dealer only after the stream's end was sent")
is_(len(a.collect(0.3)), 3, "the stream itself completed (2 chunks + end)")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
