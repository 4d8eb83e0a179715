#!/usr/bin/python3
# How the gateway starts a worker, and that it dies with the gateway.  The
# pid /status.json shows is the worker's command itself, the gateway's
# child, leading its process group, with the entry's arguments, cwd and
# environment (its command searched in the gateway's PATH even when the
# entry's env sets another); a command that cannot be started is logged
# with the reason and waits in backoff.  A gateway killed by SIGKILL
# cannot stop its workers: each gets SIGTERM from the kernel and is gone
# within moments, so a gateway started again finds none of them running.
import os, signal, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from vrhttp import *
from vrops import *

D = tempdir()
workers = [
    {"name": "sleep", "instances": 2, "command": ["sleep", "600"]},
    {"name": "shell", "cwd": D, "env": {"WHO": "w{instance}"},
     "command": ["sh", "-c", "exec sleep 601"]},
    {"name": "path", "env": {"PATH": "/nonexistent"},
     "command": ["sleep", "602"]},
    {"name": "missing", "command": ["/nonexistent/worker", "x"]},
]
gw = OpsGateway({"workers": workers}).start()


def proc_file(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def cmdline(pid):
    raw = proc_file(pid, "cmdline")
    return None if raw is None else raw.decode().split("\0")[:-1]


def environ(pid):
    raw = proc_file(pid, "environ") or b""
    return dict(v.decode().split("=", 1) for v in raw.split(b"\0") if b"=" in v)


def ppid(pid):
    raw = proc_file(pid, "stat")
    return None if raw is None else int(raw.decode().rsplit(")", 1)[1].split()[1])


def running():
    return [w for w in gw.workers() if w.get("state") == "running"]


ok(wait_until(lambda: len(running()) == 4), "four workers run")
pids = {(w["name"], w["instance"]): w.get("pid") for w in running()}
ok(all(isinstance(p, int) and alive(p) for p in pids.values()),
   "/status.json shows the pid of each, alive")
is_({k: cmdline(p) for k, p in pids.items()},
    {("sleep", 0): ["sleep", "600"], ("sleep", 1): ["sleep", "600"],
     ("shell", 0): ["sleep", "601"], ("path", 0): ["sleep", "602"]},
    "each pid is the worker's command itself (/proc/PID/cmdline)")
is_({k: ppid(p) for k, p in pids.items()}, {k: gw.pid for k in pids},
    "a child of the gateway")
is_({k: os.getpgid(p) for k, p in pids.items()}, pids,
    "leading a process group of its own")
shell = pids[("shell", 0)]
is_(os.readlink("/proc/%d/cwd" % shell), os.path.realpath(D),
    "in the entry's cwd")
env = environ(shell)
is_((env.get("WHO"), env.get("VOIDRAIL_INSTANCE")), ("w0", "0"),
    "with the entry's env and VOIDRAIL_INSTANCE")
is_(environ(pids[("path", 0)]).get("PATH"), "/nonexistent",
    "an entry that sets PATH gets it, its command found in the gateway's")

missing = gw.workers("missing")
is_([(w.get("state"), w.get("pid")) for w in missing], [("backoff", None)],
    "a command that does not exist: state backoff, no pid")
like(gw.log_text(), r"worker missing/0: cannot start /nonexistent/worker: "
     r"No such file or directory", "logged with the reason")

gw.signal(signal.SIGKILL)
is_(gw.proc.wait(5), -signal.SIGKILL, "the gateway is killed by SIGKILL")
ok(wait_until(lambda: not any(alive(p) for p in pids.values()), timeout=3),
   "every worker it started is gone within 3 s")
is_([k for k, p in pids.items() if alive(p)], [], "none is left")
done_testing()
