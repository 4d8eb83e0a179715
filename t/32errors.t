#!/usr/bin/python3
# Errors raised by a dealer reach the client verbatim, as the final message
# of the request (A.5, A.12.5): plainly, in the middle of a stream (after the
# chunks, instead of the end), and for a func_name the dealer does not know.
# The dealer is free again afterwards.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
ThreadedDealer(gw.endpoint).start()
AsyncDealer(gw.endpoint, service_name="AsyncService").start()
c = RawPeer(gw.endpoint, identity="client-32")


def outcome(method, *args, func_name=None):
    """Everything the client receives for one call, up to a quiet 0.3 s."""
    global rid
    rid = c.call(method, *args, func_name=func_name)
    first = c.recv(5)
    return ([first] if first else []) + c.collect(0.3)


is_(outcome("RefService.fail", "kaputt"),
    [[b"reply_from_router", b'{"type": "error", "error": "kaputt"}']],
    "a handler's exception is forwarded byte for byte")
is_([loads(m[-1]) for m in outcome("RefService.fail_stream")],
    [{"type": "streaming", "request_id": rid, "data": 0},
     {"type": "streaming", "request_id": rid, "data": 1},
     {"type": "error", "error": "stream broke"}],
    "a stream that breaks: its chunks, then the error, no end")
is_(outcome("RefService.echo", "x", func_name="RefService.nope"),
    [[b"reply_from_router",
      b'{"type": "error", "error": "\\u65b9\\u6cd5 nope \\u672a\\u6ce8\\u518c"}']],
    "a func_name the threaded dealer lacks: its error text as it sent it")
is_([(loads(m[-1]).get("type"), loads(m[-1]).get("result"))
     for m in outcome("RefService.echo", "ok")], [("reply", "ok")],
    "the dealer serves the next call")

is_([loads(m[-1]) for m in outcome("AsyncService.fail", "kaputt")],
    [{"type": "error", "error": "Method execution error: kaputt"}],
    "the asyncio dealer's error text")
is_([loads(m[-1]).get("type") for m in outcome("AsyncService.fail_stream")],
    ["streaming", "streaming", "error"],
    "the asyncio dealer's broken stream")
is_([loads(m[-1]) for m in outcome("AsyncService.echo", 1,
                                   func_name="AsyncService.nope")],
    [{"type": "error", "error": "Method AsyncService.nope not found"}],
    "the asyncio dealer's unknown method text")

py = PyClient(gw.endpoint).connect()
try:
    py.invoke("RefService.fail", "for python")
    ok(False, "the Python-style client raises RuntimeError")
except RuntimeError as e:
    is_(str(e), "for python", "the Python-style client raises RuntimeError(text)")
chunks = []
try:
    for chunk in py.stream("RefService.fail_stream"):
        chunks.append(chunk)
    ok(False, "a broken stream raises")
except RuntimeError as e:
    is_((chunks, str(e)), ([0, 1], "stream broke"),
        "a broken stream yields its chunks, then raises")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
