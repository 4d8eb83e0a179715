#!/usr/bin/python3
"""ledger_dealer: a dealer process that writes down everything it executes,
for the ledger-checked reliability tests (t/63-66).

usage: ledger_dealer.py ENDPOINT --ledger FILE [--kind async|threaded]
                        [--service NAME] [--heartbeat SECONDS]
                        [--max-concurrent N]

It is a peers.py dealer (AsyncDealer by default: it behaves like the
asyncio Python dealer, and it survives a cut link) offering

    work(lid, ms)       naps ms, returns {"lid": lid, "by": service_id}
    stream(lid, n, ms)  yields {"lid": lid, "i": i} for i < n, a nap of ms
                        before each
    fail(lid)           raises RuntimeError("fail:<lid>")
    hold(lid, ms)       as work, meant for long naps

and the same as rwork and rstream (so that a test can declare only those
retryable in the gateway's configuration).  A nap is taken in steps of
20 ms, so that time spent stopped (SIGSTOP) does not count: after SIGCONT
the method still has its remaining work to do, and its reply leaves well
after the dealer is back on line.

The ledger FILE gets one JSON line per event, appended with one write(2)
each (so that a SIGKILL loses at most the event it interrupts):

    {"t": MONOTONIC, "sid": SERVICE_ID, "pid": PID, "ev": EVENT, ...}

    ev "start"  the process is up
    ev "call"   a call_from_router arrived: rid, lid, m (func_name)
    ev "done"   the method finished, its answer is being sent: rid, lid,
                how ("reply", "end" or "error")

time.monotonic() is CLOCK_MONOTONIC, one clock for every process of the
machine (network namespaces included), so these times compare with the
test's own.

On stdout it prints "ID <service_id>" first, then "register_ack" lines.
SIGTERM or SIGINT: it leaves like the Python dealer and exits 0.  It dies
with the test process (peers.die_with_parent).
"""

import argparse
import asyncio
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402

STEP = 0.02


class Book:
    """The ledger file: one line per event, one write(2) per line."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.sid = None

    def write(self, ev, **fields):
        rec = {"t": time.monotonic(), "sid": self.sid, "pid": os.getpid(),
               "ev": ev}
        rec.update(fields)
        os.write(self.fd, (json.dumps(rec) + "\n").encode("utf-8"))


BOOK = None


def steps(ms):
    return max(0, int(round(float(ms) / 1000.0 / STEP)))


# -- the methods, async (AsyncDealer) --

async def a_work(dealer, lid, ms=0):
    for _ in range(steps(ms)):
        await asyncio.sleep(STEP)
    BOOK.write("done", lid=lid, how="reply")
    return {"lid": lid, "by": dealer.service_id}


async def a_stream(dealer, lid, n=3, ms=0):
    for i in range(int(n)):
        for _ in range(steps(ms)):
            await asyncio.sleep(STEP)
        yield {"lid": lid, "i": i}
    BOOK.write("done", lid=lid, how="end")


async def a_fail(dealer, lid):
    BOOK.write("done", lid=lid, how="error")
    raise RuntimeError("fail:%s" % lid)


# -- the same, sync (ThreadedDealer: each call in a worker thread) --

def t_work(dealer, lid, ms=0):
    for _ in range(steps(ms)):
        time.sleep(STEP)
    BOOK.write("done", lid=lid, how="reply")
    return {"lid": lid, "by": dealer.service_id}


def t_stream(dealer, lid, n=3, ms=0):
    for i in range(int(n)):
        for _ in range(steps(ms)):
            time.sleep(STEP)
        yield {"lid": lid, "i": i}
    BOOK.write("done", lid=lid, how="end")


def t_fail(dealer, lid):
    BOOK.write("done", lid=lid, how="error")
    raise RuntimeError("fail:%s" % lid)


def methods(kind):
    work, stream, fail = (a_work, a_stream, a_fail) if kind == "async" \
        else (t_work, t_stream, t_fail)
    return {"work": work, "rwork": work, "hold": work, "stream": stream,
            "rstream": stream, "fail": fail}


def main():
    global BOOK
    peers.die_with_parent()
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--kind", choices=("threaded", "async"), default="async")
    ap.add_argument("--service", default="Chaos")
    ap.add_argument("--heartbeat", type=float, default=1.0)
    ap.add_argument("--max-concurrent", type=int)
    opt = ap.parse_args()

    BOOK = Book(opt.ledger)
    lock = threading.Lock()

    def say(line):
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_event(name, detail):
        if name == "call" and isinstance(detail, dict):
            args = detail.get("args") or [None]
            BOOK.write("call", rid=detail.get("request_id"),
                       lid=args[0] if args else None,
                       m=detail.get("func_name"))
        elif name in ("register_ack", "reconnect", "deadlock",
                      "router_shutdown"):
            say(name)

    kind = peers.AsyncDealer if opt.kind == "async" else peers.ThreadedDealer
    extra = {}
    if opt.kind == "threaded":
        # Enough worker threads for what it announces.
        extra["max_workers"] = max(4, opt.max_concurrent or 1)
    dealer = kind(opt.endpoint, methods=methods(opt.kind),
                  service_name=opt.service, heartbeat_interval=opt.heartbeat,
                  max_concurrent=opt.max_concurrent, on_event=on_event,
                  **extra)
    BOOK.sid = dealer.service_id
    BOOK.write("start", kind=opt.kind)
    say("ID " + dealer.service_id)

    peers.serve_until_signalled(dealer, say)


if __name__ == "__main__":
    main()
