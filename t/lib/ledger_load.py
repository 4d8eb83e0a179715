#!/usr/bin/python3
"""ledger_load: the ledger's load generator (ledger.Load) in a process of
its own, for a client that must run elsewhere than the test (another
network namespace: ip netns exec NS ledger_load.py ...).

usage: ledger_load.py --endpoint TCP --http-host ADDR --http-port PORT
                      --total N --duration SECONDS --timeout SECONDS
                      --out FILE [--grace SECONDS] [--zmq-seq N]
                      [--zmq-pipe N] [--http N] [--mix OP:W,...]
                      [--prefix TEXT] [--seed N]

It sends N requests over SECONDS as ledger.Load does (--mix sets the
weights of ledger.OPS names for every kind of client), waits until every
request has ended or is past its deadline + grace, and writes the ledger
to FILE (Ledger.dump; the test reads it with Ledger.load and checks it).
Its times are CLOCK_MONOTONIC, the test's clock.  Timeouts are real
seconds (the test scales them).  Exit status 0; 1 when a client thread
failed (the tracebacks go to stderr); it dies with its parent.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402
from ledger import Ledger, Load  # noqa: E402


def mix(text):
    out = []
    for item in text.split(","):
        name, _, weight = item.partition(":")
        out.append((name, float(weight or 1)))
    return out


def main():
    peers.die_with_parent()
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--http-host", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--grace", type=float, default=2.0)
    ap.add_argument("--zmq-seq", type=int, default=2)
    ap.add_argument("--zmq-pipe", type=int, default=1)
    ap.add_argument("--http", type=int, default=2)
    ap.add_argument("--mix")
    ap.add_argument("--prefix", default="LL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    opt = ap.parse_args()

    weights = mix(opt.mix) if opt.mix else None
    ledger = Ledger()
    load = Load(ledger, opt.endpoint, opt.http_port, opt.total,
                opt.duration, opt.timeout, grace=opt.grace,
                zmq_seq=opt.zmq_seq, zmq_pipe=opt.zmq_pipe, http=opt.http,
                seq_mix=weights, pipe_mix=weights, http_mix=weights,
                prefix=opt.prefix, seed=opt.seed, http_host=opt.http_host)
    load.start()
    load.join(opt.duration * 3 + opt.timeout + opt.grace + 30)
    ledger.wait_all(opt.grace)
    ledger.dump(opt.out)
    for e in load.errors:
        sys.stderr.write(e + "\n")
    sys.stdout.flush()
    os._exit(1 if load.errors else 0)


if __name__ == "__main__":
    main()
