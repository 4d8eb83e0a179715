#!/usr/bin/python3
# The error log (log.file), apart from the access log: one line per event,
# "TIME LEVEL MESSAGE" with the time in UTC to the millisecond and the
# level one of debug, info, notice, warn, error.  A line about a request
# names it "request ID" (its request_id; for a call over HTTP the
# X-Request-Id that the access log shows too), a line about a dealer
# "dealer ID".  A request id or a dealer identity with a line break in it
# is written with the break as \x0a: nobody can forge a line.
import os, re, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()
LOG = os.path.join(D, "error.log")
ACCESS = os.path.join(D, "access.log")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                  r"(debug|info|notice|warn|error) \S.*$")

gw = OpsGateway({"log": {"file": LOG, "level": "debug"},
                 "http": {"access_log": ACCESS},
                 "router": {"max_message": "4KiB",
                            "heartbeat_timeout": duration(30)}}).start()


def lines():
    try:
        with open(LOG, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def line_with(*parts, timeout=3.0):
    """The first log line that has every one of parts (or None)."""
    found = []

    def look():
        found[:] = [l for l in lines() if all(p in l for p in parts)]
        return found
    wait_until(look, timeout)
    return found[0] if found else None


def check(what, level, *parts):
    line = line_with(*parts)
    ok(line is not None, "%s: logged (%s)" % (what, line))
    ok(line is not None and LINE.match(line) and
       line.split(" ")[1] == level, "%s: time, level %s, message" %
       (what, level))


dealer = RawPeer(gw.endpoint, identity="Log-00000081")
dealer.register(group="Log", methods=("m",))
is_(dealer.recv(), [b"register_ack", b""], "a dealer registers")
check("the registration", "info", "dealer Log-00000081 registered")
client = RawPeer(gw.endpoint, identity="client-81")

# -- request lines over ZeroMQ --
rid = client.call("Log.m", 1, request_id="rq-81-malformed")
c = dealer.expect_call(3)
dealer.reply(c.cid, {"request_id": rid, "result": 1})
is_(Answers(client).get(rid), "dealer_error", "a malformed answer: "
    "dealer_error")
check("the malformed answer", "warn", "dealer Log-00000081",
      "request rq-81-malformed")

rid = client.call("Log.m", 2, request_id="rq-81-big")
c = dealer.expect_call(3)
dealer.reply(c.cid, {"type": "reply", "request_id": rid,
                     "result": "x" * 8192})
is_(Answers(client).get(rid), "dealer_error", "an answer over "
    "router.max_message: dealer_error")
check("the answer too large", "warn", "dealer Log-00000081",
      "request rq-81-big", "router.max_message")

dealer.reply(b"client-81", {"type": "reply", "request_id": "rq-81-stray",
                            "result": 0})
check("an answer for no request", "info", "dealer Log-00000081",
      "request rq-81-stray", "matches no request")

# -- a request over HTTP: the access log's id --
box = {}


def invoke():
    box["r"] = gw.post("/invoke/Log.m", json=[3],
                       headers={"X-Request-Id": "http-81-a"})


t = threading.Thread(target=invoke, daemon=True)
t.start()
c = dealer.expect_call(3)
ok(c is not None and c.request_id == "http-81-a",
   "the call over HTTP reaches the dealer with its X-Request-Id")
dealer.reply(c.cid, {"request_id": "http-81-a", "result": 3})
t.join(scaled(5))
is_(box.get("r") and box["r"].status, 500, "a malformed answer: HTTP 500")
check("the HTTP call's malformed answer", "warn", "dealer Log-00000081",
      "request http-81-a")
ok(wait_until(lambda: "http-81-a" in (open(ACCESS).read()
                                      if os.path.exists(ACCESS) else "")),
   "the access log has the same id")
ok(not any("http-81-a" in l and '"POST /invoke' in l for l in lines()),
   "and the error log has no access log line")

# -- nothing forges a line --
forged = "2026-01-01T00:00:00.000Z error forged"
rid = client.call("Log.m", 4, request_id="rq-81\n" + forged)
c = dealer.expect_call(3)
dealer.reply(c.cid, {"request_id": rid, "result": 4})
is_(Answers(client).get(rid), "dealer_error", "a request id with a line "
    "break: its malformed answer is dealer_error")
check("its line", "warn", "request rq-81\\x0a" + forged)
evil = RawPeer(gw.endpoint, identity="Evil\n" + forged)
evil.register(group="Evil", methods=("m",))
is_(evil.recv(), [b"register_ack", b""], "a dealer whose identity has a "
    "line break registers")
check("its registration", "info", "dealer Evil\\x0a" + forged)
evil.send(["shutdown", ""])
check("its leaving", "info", "dealer Evil\\x0a" + forged, "left")
ok(not any(l.startswith(forged) for l in lines()), "no line was forged")

# -- every line --
dealer.send(["shutdown", ""])
check("a dealer leaving", "info", "dealer Log-00000081 left")
is_(gw.stop(), 0, "the gateway exits 0")
text = lines()
bad = [l for l in text if not LINE.match(l)]
ok(len(text) > 10, "the log has %d lines" % len(text))
is_(bad, [], "every one is TIME LEVEL MESSAGE")
done_testing()
