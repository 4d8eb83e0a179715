#!/usr/bin/python3
# What a reload changes in a workers entry that keeps its name, besides
# its command, env and size (t/78workers.t): restart (never to always: an
# instance that has ended is started again at once; always to never: one
# waiting to be started again after a crash is not), cwd (the instances
# start again in the new directory) and stop_grace (the next stop waits
# the new time before SIGKILL; the instance itself keeps running).
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from vrhttp import *
from vrops import *

D = tempdir()
for sub in ("a", "b"):
    os.mkdir(os.path.join(D, sub))
ONCE = os.path.join(D, "once")
CRASHES = os.path.join(D, "crashes")
workers = [
    # Ends with exit 0 the first time; started again, it stays.
    {"name": "once", "restart": "never",
     "command": ["sh", "-c", "if [ -e %s ]; then echo again >> %s; exec "
                 "sleep 600; fi; echo first > %s" % (ONCE, ONCE, ONCE)]},
    # Notes each start and fails.
    {"name": "crash",
     "command": ["sh", "-c", "echo start >> %s; exit 3" % CRASHES]},
    # Writes where it runs.
    {"name": "where", "cwd": os.path.join(D, "a"),
     "command": ["sh", "-c", "pwd > %s/cwd; exec sleep 600" % D]},
    {"name": "stubborn", "stop_grace": duration(60),
     "command": stubborn_command(D + "/stubborn")},
]
conf = {"process": {"drain_timeout": "0s"}, "workers": workers}
gw = OpsGateway(conf).start()


def entry(name):
    return next(w for w in workers if w["name"] == name)


def state(name):
    """(state, pid) of the entry's one instance in /status.json."""
    ws = gw.workers(name)
    return (ws[0].get("state"), ws[0].get("pid")) if ws else (None, None)


def starts(path):
    return (read_file(path) or "").split()


def reload(what):
    last = gw.reload(conf)
    return ok(last and last.get("ok"), "reload: %s" % what)


# -- restart: never to always --
ok(wait_until(lambda: state("once")[0] == "exited"),
   "restart never: the worker that exits 0 stays exited")
is_(starts(ONCE), ["first"], "it ran once")
entry("once")["restart"] = "always"
reload("once gets restart always")
ok(wait_until(lambda: starts(ONCE) == ["first", "again"]),
   "the exited instance is started again")
st, pid = state("once")
ok(st == "running" and isinstance(pid, int) and alive(pid),
   "and runs (%s, pid %s)" % (st, pid))

# -- restart: always to never --
ok(wait_until(lambda: state("crash")[0] == "backoff"
              and len(starts(CRASHES)) >= 2, timeout=10),
   "restart always: the failing worker is waiting to be started again")
entry("crash")["restart"] = "never"
reload("crash gets restart never")
n = len(starts(CRASHES))
is_(state("crash"), ("exited", None), "it is exited at once")
time.sleep(scaled(3.0))                     # past its backoff (at most 2 s)
is_([len(starts(CRASHES)), state("crash")[0]], [n, "exited"],
    "and never started again")

# -- cwd --
ok(wait_until(lambda: read_file(D + "/cwd") == os.path.join(D, "a") + "\n"),
   "the worker runs in its cwd a")
_, before = state("where")
entry("where")["cwd"] = os.path.join(D, "b")
reload("where gets cwd b")
ok(wait_until(lambda: read_file(D + "/cwd") == os.path.join(D, "b") + "\n"),
   "it is started again in b")
st, pid = state("where")
ok(st == "running" and pid not in (None, before) and not alive(before),
   "a new process (pid %s, the old one %s gone)" % (pid, before))

# -- stop_grace --
ok(wait_until(lambda: [str(state("stubborn")[1])]
              == (read_file(D + "/stubborn") or "").split()[:1]),
   "a worker that ignores SIGTERM runs, stop_grace 60s")
_, stubborn = state("stubborn")
entry("stubborn")["stop_grace"] = duration(1)
reload("stubborn gets stop_grace 1s")
is_(state("stubborn"), ("running", stubborn), "it keeps running, same pid")
workers.remove(entry("stubborn"))
t0 = time.monotonic()
reload("the stubborn entry is removed")
ok(wait_until(lambda: not group_alive(stubborn), timeout=10),
   "the worker is killed")
took = time.monotonic() - t0
ok(scaled(1.0) - 0.1 <= took < scaled(1.0) + scaled(1.5),
   "once the new stop_grace of 1 s is over (%.2fs)" % took)

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
