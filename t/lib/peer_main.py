#!/usr/bin/python3
"""peer_main: one dealer of peers.py as a process of its own, so that a
test can SIGKILL or SIGSTOP it by pid.

usage: peer_main.py ENDPOINT [--kind threaded|async] [--service NAME]
                    [--group GROUP] [--heartbeat SECONDS] [--api-key KEY]
                    [--max-concurrent N]

It offers the RefService methods (peers.ref_methods()).  On stdout it
prints "ID <service_id>" first, then one line per event: "register_ack",
"call <request_id> <func_name>", "error <text>", "router_shutdown",
"reconnect <seconds>", ...  SIGTERM or SIGINT: it leaves like the Python
dealer (shutdown) and exits 0.  It dies with the test process
(peers.die_with_parent), so a killed test leaves no dealer behind.
"""

import argparse
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402


def main():
    peers.die_with_parent()
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--kind", choices=("threaded", "async"), default="threaded")
    ap.add_argument("--service", default="RefService")
    ap.add_argument("--group")
    ap.add_argument("--heartbeat", type=float, default=1.0)
    ap.add_argument("--api-key")
    ap.add_argument("--max-concurrent", type=int)
    opt = ap.parse_args()

    lock = threading.Lock()

    def say(line):
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_event(name, detail):
        if name == "heartbeat_ack":
            return
        if name == "call" and isinstance(detail, dict):
            say("call %s %s" % (detail.get("request_id"),
                                detail.get("func_name")))
        elif detail is None:
            say(name)
        else:
            say("%s %s" % (name, detail))

    kind = peers.ThreadedDealer if opt.kind == "threaded" else peers.AsyncDealer
    dealer = kind(opt.endpoint, service_name=opt.service, group=opt.group,
                  heartbeat_interval=opt.heartbeat, api_key=opt.api_key,
                  max_concurrent=opt.max_concurrent, on_event=on_event)
    say("ID " + dealer.service_id)

    peers.serve_until_signalled(dealer, say)


if __name__ == "__main__":
    main()
