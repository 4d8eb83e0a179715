#!/usr/bin/python3
# Local workers (workers: in the file).  The gateway starts `instances`
# processes per entry, each in a process group of its own, with
# {instance} (0..n-1) replaced in the command and the env and
# VOIDRAIL_INSTANCE set; workers can be dealers that register with it.  A
# process that ends is started again (restart: always; on-failure: only
# after a failure; never: not) after a backoff that doubles, 1 s, 2 s,
# 4 s ...  /status.json "workers" shows name, instance, pid, state
# (running, backoff, stopping, exited), restarts and last_exit.  A reload
# adds, removes and resizes entries and restarts only the processes whose
# entry changed; a removed process gets SIGTERM, then SIGKILL after its
# stop_grace.  On quit every worker's group gets SIGTERM, then SIGKILL
# after stop_grace (a worker that ignores SIGTERM is killed), and none is
# left.
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()
PEER_MAIN = os.path.join(T_DIR, "lib", "peer_main.py")
STUBBORN = stubborn_command(D + "/stubborn")


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def echo_entry(who):
    return {"name": "echo", "instances": 2, "env": {"WHO": who},
            "command": ["sh", "-c", "echo $VOIDRAIL_INSTANCE $WHO {instance} "
                        "> %s/out-{instance}; exec sleep 600" % D]}


PORT = free_port()               # the dealers' command names it
workers = [
    echo_entry("w{instance}"),
    {"name": "dealers", "instances": 2,
     "command": ["/usr/bin/python3", PEER_MAIN, "tcp://127.0.0.1:%d" % PORT,
                 "--service", "Worker{instance}"]},
    {"name": "crash",          # notes when it starts, and fails
     "command": ["sh", "-c", "date +%%s.%%N >> %s/crash; exit 3" % D]},
    {"name": "ok-once", "restart": "on-failure", "command": ["true"]},
    {"name": "fail-on", "restart": "on-failure",
     "command": ["sh", "-c", "exit 5"]},
    {"name": "never", "restart": "never", "command": ["sh", "-c", "exit 5"]},
]
conf = {"router": {"bind": "tcp://127.0.0.1:%d" % PORT},
        "process": {"drain_timeout": "0s"}, "workers": workers}
gw = OpsGateway(conf).start()

def by_instance(name):
    return {w.get("instance"): w for w in gw.workers(name)}


# -- starting --
ok(wait_until(lambda: read(D + "/out-0") and read(D + "/out-1")),
   "two echo workers start")
is_([read(D + "/out-0"), read(D + "/out-1")], ["0 w0 0", "1 w1 1"],
    "{instance} is replaced in command and env, VOIDRAIL_INSTANCE is set")
echo = by_instance("echo")
is_([(i, w.get("state"), w.get("restarts"), w.get("last_exit"))
     for i, w in sorted(echo.items())],
    [(0, "running", 0, None), (1, "running", 0, None)],
    "/status.json: both running, no restart, no last_exit")
pids = {i: w.get("pid") for i, w in echo.items()}
ok(all(isinstance(p, int) and alive(p) for p in pids.values()),
   "with the pids of live processes")
is_([os.getpgid(p) if alive(p) else None for p in pids.values()],
    list(pids.values()), "each in a process group of its own")

ok(wait_until(lambda: {"Worker0.echo", "Worker1.echo"} <= set(gw.methods()),
              timeout=10), "the two dealer workers register")
py = PyClient(gw.endpoint).connect()
like(py.invoke("Worker1.whoami")[0], r"^Worker1-", "and serve calls")
dealer_pids = {w.get("pid") for w in gw.workers("dealers")}
is_({d.get("pid") for d in gw.status().get("dealers") or []}, dealer_pids,
    "the registered dealers are the worker processes")
dealer_ids = sorted(d.get("id") for d in gw.status().get("dealers") or [])

# -- restart policies --
ok(wait_until(lambda: [w.get("state") for w in gw.workers("ok-once")]
              == ["exited"]), "on-failure: a worker that exits 0 stays exited")
is_([(w.get("restarts"), w.get("last_exit"), w.get("pid"))
     for w in gw.workers("ok-once")], [(0, "exit 0", None)],
    "with no restart, last_exit \"exit 0\", no pid")
ok(wait_until(lambda: [w.get("restarts", 0) >= 1
                       for w in gw.workers("fail-on")] == [True]),
   "on-failure: a worker that exits 5 is started again")
is_([w.get("last_exit") for w in gw.workers("fail-on")], ["exit 5"],
    "last_exit \"exit 5\"")
is_([(w.get("state"), w.get("restarts"), w.get("last_exit"))
     for w in gw.workers("never")], [("exited", 0, "exit 5")],
    "never: a worker that exits 5 stays exited")

# -- a killed worker comes back --
os.kill(pids[0], signal.SIGKILL)
ok(wait_until(lambda: (by_instance("echo").get(0) or {}).get("pid")
              not in (None, pids[0])), "echo/0 killed: it comes back")
w0 = by_instance("echo").get(0) or {}
is_([w0.get("state"), w0.get("restarts"), w0.get("last_exit")],
    ["running", 1, "signal 9 (Killed)"],
    "running, restarts 1, last_exit says signal 9")
ok(alive(w0.get("pid") or 0), "with a new pid")
pids[0] = w0.get("pid")
is_((by_instance("echo").get(1) or {}).get("pid"), pids[1],
    "echo/1 is untouched")

# -- reloads --
workers[0]["instances"] = 3
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: echo gets 3 instances")
ok(wait_until(lambda: (by_instance("echo").get(2) or {}).get("state")
              == "running"), "a third echo worker appears")
is_({i: w.get("pid") for i, w in by_instance("echo").items() if i < 2},
    pids, "the first two keep their pids")
is_({w.get("pid") for w in gw.workers("dealers")}, dealer_pids,
    "the dealers are untouched")

workers[0]["env"] = {"WHO": "v{instance}"}
os.unlink(D + "/out-0")
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: echo's env changes")
ok(wait_until(lambda: read(D + "/out-0") == "0 v0 0"),
   "echo's processes start again with the new env")
ok(wait_until(lambda: all(w.get("pid") not in pids.values()
                          and w.get("state") == "running"
                          for w in gw.workers("echo"))),
   "all three with new pids")
ok(not any(alive(p) for p in pids.values()), "the old ones are gone")
is_({w.get("pid") for w in gw.workers("dealers")}, dealer_pids,
    "the dealers are untouched")
is_(sorted(d.get("id") for d in gw.status().get("dealers") or []),
    dealer_ids, "and registered no new dealer")

pids = {i: w.get("pid") for i, w in by_instance("echo").items()}
workers[0]["instances"] = 2
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: echo down to 2 instances")
ok(wait_until(lambda: sorted(by_instance("echo")) == [0, 1]
              and not alive(pids[2])), "the third one ends and is gone")
is_({i: w.get("pid") for i, w in by_instance("echo").items()},
    {0: pids[0], 1: pids[1]}, "the first two keep their pids")

workers.append({"name": "stubborn", "command": STUBBORN,
                "stop_grace": duration(1)})
last = gw.reload(conf)
is_(last and last.get("ok"), True, "reload: a stubborn worker is added")
ok(wait_until(lambda: [str(w.get("pid")) for w in gw.workers("stubborn")]
              == (read(D + "/stubborn") or "").split()[:1]),
   "it runs, ignoring SIGTERM")
stubborn = gw.workers("stubborn")[0].get("pid")
del workers[1]                     # "dealers"
workers.pop()                      # "stubborn"
t0 = time.monotonic()
last = gw.reload(conf)
is_(last and last.get("ok"), True,
    "reload: the dealers and the stubborn worker are removed")
ok(wait_until(lambda: not any(alive(p) for p in dealer_pids)),
   "the dealer processes end")
is_([w.get("state") for w in gw.workers("stubborn")], ["stopping"],
    "the stubborn one, ignoring SIGTERM, shows as stopping")
ok(wait_until(lambda: not group_alive(stubborn), timeout=10),
   "it is killed")
took = time.monotonic() - t0
ok(scaled(1.0) - 0.1 <= took < scaled(1.0) + scaled(1.5),
   "when its 1 s stop_grace is over (%.2fs)" % took)
ok(wait_until(lambda: gw.workers("dealers") == []
              and gw.workers("stubborn") == []),
   "removed entries leave /status.json")

# -- the backoff of a worker that keeps crashing --
ok(wait_until(lambda: len((read(D + "/crash") or "").split()) >= 4,
              timeout=12), "a worker that keeps exiting 3 is started again "
   "and again")
starts = [float(t) for t in (read(D + "/crash") or "").split()]
note("crash: started at %s" % ", ".join("%.2fs" % (t - starts[0])
                                        for t in starts))
for i, gap in enumerate((1.0, 2.0, 4.0)):
    if i + 1 < len(starts):
        took = starts[i + 1] - starts[i]
        ok(gap - 0.1 <= took <= gap + scaled(0.5),
           "the backoff doubles: %.0f s before start %d (%.2fs)"
           % (gap, i + 2, took))


def crash():
    return [(w.get("state"), w.get("last_exit"), w.get("restarts", 0) >= 3)
            for w in gw.workers("crash")]


wait_until(lambda: crash() == [("backoff", "exit 3", True)])
is_(crash(), [("backoff", "exit 3", True)], "meanwhile it shows state "
    "backoff, last_exit \"exit 3\", and its restarts")

# -- quitting --
os.unlink(D + "/stubborn")
workers.append({"name": "stubborn", "command": STUBBORN,
                "stop_grace": duration(1)})
last = gw.reload(conf)
ok(wait_until(lambda: [str(w.get("pid")) for w in gw.workers("stubborn")]
              == (read(D + "/stubborn") or "").split()[:1]),
   "a stubborn worker runs again")
stubborn, child = [int(p) for p in read(D + "/stubborn").split()]
groups = [w.get("pid") for w in gw.workers() if w.get("pid")]
t0 = time.monotonic()
gw.signal(signal.SIGTERM)
ok(wait_until(lambda: not alive(child)) and alive(stubborn),
   "SIGTERM goes to each worker's process group: the stubborn worker's "
   "child ends at once, the worker does not")
is_(gw.proc.wait(10), 0, "the gateway exits 0")
took = time.monotonic() - t0
ok(scaled(1.0) - 0.1 <= took < scaled(1.0) + scaled(3.0),
   "after the stubborn worker's 1 s stop_grace (%.2fs)" % took)
is_([g for g in groups if group_alive(g)], [],
    "no worker process, nor a child of one, is left")
done_testing()
