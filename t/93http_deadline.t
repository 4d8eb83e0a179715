#!/usr/bin/python3
# A caller's deadline: X-Request-Timeout: 300ms (or ?timeout=300ms)
# shortens it and the call ends 504 timeout then; a longer one is cut to
# the configured deadline (router.request_timeout, or the timeout of the
# first router.methods glob that matches); a malformed one is 400.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

DEFAULT = 1.5                   # router.request_timeout, nominal seconds
GLOB = 0.6                      # router.methods."Wire.quick*".timeout
gw = HttpGateway({"router": {
    "request_timeout": duration(DEFAULT),
    "methods": {"Wire.quick*": {"timeout": duration(GLOB)}}}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000093")
wire.register(group="Wire", methods=("slow", "quick_slow"), max_concurrent=50)
wire.recv()


def timed_call(path, headers=None):
    """(response, seconds) of a call the dealer never answers in time."""
    t0 = time.monotonic()
    c = gw.open("POST", path, json=[], headers=headers)
    call = wire.expect_call(3)
    r = c.response(timeout=DEFAULT + 5)
    elapsed = time.monotonic() - t0
    if call:                        # a late answer frees the slot
        wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                              "result": None})
    return r, elapsed, call


def code(r):
    return r and (r.status, (r.json() or {}).get("code"))


r, t, call = timed_call("/invoke/Wire.slow",
                        headers={"X-Request-Timeout": "300ms"})
ok(call, "the call reached the dealer")
is_(code(r), (504, "timeout"), "X-Request-Timeout: 300ms ends it 504 timeout")
cmp_ok(t, ">=", 0.25, "not before 300 ms")
cmp_ok(t, "<", scaled(1.0), "but soon after, long before request_timeout")

r, t, call = timed_call("/invoke/Wire.slow?timeout=300ms")
is_(code(r), (504, "timeout"), "?timeout=300ms does the same")
cmp_ok(t, ">=", 0.25, "not before 300 ms")
cmp_ok(t, "<", scaled(1.0), "but soon after")

r, t, call = timed_call("/invoke/Wire.slow")
is_(code(r), (504, "timeout"), "without one, router.request_timeout applies")
cmp_ok(t, ">=", scaled(DEFAULT) - 0.1, "after request_timeout")
cmp_ok(t, "<", scaled(DEFAULT + 1.0), "and not much later")

r, t, call = timed_call("/invoke/Wire.slow",
                        headers={"X-Request-Timeout": "30s"})
is_(code(r), (504, "timeout"), "a longer deadline than request_timeout")
cmp_ok(t, "<", scaled(DEFAULT + 1.0), "is cut to request_timeout")

r, t, call = timed_call("/invoke/Wire.quick_slow?timeout=30s")
is_(code(r), (504, "timeout"),
    "a method under router.methods with a glob timeout")
cmp_ok(t, ">=", scaled(GLOB) - 0.1, "ends after the method's timeout")
cmp_ok(t, "<", scaled(DEFAULT) - 0.1,
       "a longer ?timeout is cut to it, not to request_timeout")

r, t, call = timed_call("/invoke/Wire.quick_slow",
                        headers={"X-Request-Timeout": "200ms"})
is_(code(r), (504, "timeout"), "a shorter one than the method's applies")
cmp_ok(t, "<", scaled(GLOB) - 0.1, "before the method's timeout")

for how, value in (("X-Request-Timeout", "soon"),
                   ("X-Request-Timeout", "-1s"),
                   ("X-Request-Timeout", "300 parsecs"),
                   ("query", "xyz")):
    if how == "query":
        r = gw.post("/invoke/Wire.slow?timeout=" + value, json=[])
    else:
        r = gw.post("/invoke/Wire.slow", json=[], headers={how: value})
    is_(code(r), (400, "bad_request"), "%s %r is 400 bad_request" % (how, value))
is_(wire.expect_nothing(0.2, ignore=("heartbeat_ack",)), None,
    "malformed deadlines never reach the dealer")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
