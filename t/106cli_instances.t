#!/usr/bin/python3
# `voidrail dealer --instances N`: N dealer processes, supervised as the
# seed's CLI does: each registers (N of each service of a module); one
# that crashes is started again;
# instances that keep dying are restarted with growing pauses; SIGTERM
# (and SIGINT) stops them all cleanly; a killed supervisor takes its
# instances with it.
import os, re, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

BUILD = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
ECHO = os.path.join(BUILD, "examples", "echo.so")
if not os.path.exists(ECHO):
    skip_all("examples/echo.so is not built")


def children(pid):
    """Pids whose parent is pid (from /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(name))
    return sorted(found)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def echo_ids(gw, state="active"):
    return sorted(s for s, i in gw.clusters().items()
                  if i["group"] == "Echo" and i["state"] == state)


gw = Gateway({"router": {"heartbeat_timeout": duration(1)}}).start()
ep = gw.endpoint

sup = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep, "-m",
                        ECHO, "--instances", "3", "--heartbeat", "0.2"],
           name="supervisor")
ok(wait_until(lambda: len(echo_ids(gw)) == 3, 15), "--instances 3: three "
   "dealers register")
kids = children(sup.pid)
is_(len(kids), 3, "three child processes of the supervisor")
first = echo_ids(gw)
cl = PyClient(ep).connect()
is_(cl.invoke("Echo.echo", "x"), ["x"], "they serve")

# -- a crashed instance comes back --
os.kill(kids[0], signal.SIGKILL)
ok(wait_until(lambda: len(children(sup.pid)) == 3
              and kids[0] not in children(sup.pid), 10),
   "an instance killed with SIGKILL is started again")
ok(wait_until(lambda: len(set(echo_ids(gw)) - set(first)) == 1, 10),
   "... and registers (a new identity)")
ok(wait_until(lambda: len(echo_ids(gw)) == 3, 10),
   "... while the dead one expires: three live dealers again")
like(open(sup.log_path).read(), r"killed by signal 9; starting it again",
     "the supervisor says so")

# -- SIGTERM stops every instance cleanly --
kids = children(sup.pid)
live = echo_ids(gw)
sup.signal(signal.SIGTERM)
is_(sup.wait(15), 0, "SIGTERM: the supervisor exits 0")
ok(wait_until(lambda: not any(alive(k) for k in kids), 5),
   "... after every instance")
ok(wait_until(lambda: not set(live) & set(gw.clusters()), 5),
   "... each having left the gateway (shutdown)")
like(open(sup.log_path).read(), r"every instance has stopped",
     "the supervisor's last word")

# -- SIGINT too, and a killed supervisor takes its instances along --
sup2 = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep, "-m",
                         ECHO, "-n", "2"], name="supervisor2")
ok(wait_until(lambda: len(children(sup2.pid)) == 2 and len(echo_ids(gw)) == 2,
              15), "-n 2: two instances")
kids = children(sup2.pid)
sup2.signal(signal.SIGINT)
is_(sup2.wait(15), 0, "SIGINT: exit 0")
ok(not any(alive(k) for k in kids), "no instance is left")

sup3 = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep, "-m",
                         ECHO, "-n", "2"], name="supervisor3")
ok(wait_until(lambda: len(children(sup3.pid)) == 2, 15), "two more")
kids = children(sup3.pid)
sup3.kill()
ok(wait_until(lambda: not any(alive(k) for k in kids), 10),
   "SIGKILL of the supervisor: its instances end too")

# -- several services: N instances of each --
FAILINIT = os.path.join(BUILD, "t", "modules", ".libs", "failinit.so")
if os.path.exists(FAILINIT):
    per = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep, "-m",
                            FAILINIT, "--class", "Fine", "--class", "Other",
                            "-n", "2"], name="per-class")

    def groups():
        return sorted(i["group"] for i in gw.clusters().values()
                      if i["state"] == "active"
                      and i["group"] in ("Fine", "Other"))

    ok(wait_until(lambda: groups() == ["Fine", "Fine", "Other", "Other"], 15),
       "two services with -n 2: two dealers of each")
    is_(len(children(per.pid)), 4, "... four processes, one service each")
    per.signal(signal.SIGTERM)
    is_(per.wait(15), 0, "... which stop with the supervisor")
    ok(wait_until(lambda: groups() == [], 5), "... and leave the gateway")
else:
    ok(False, "t/modules/failinit.so is built (make check builds it)")

# -- instances that keep failing: growing pauses --
bad = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep,
                        "--exec", "exit 1", "--service", "Bad", "-n", "1",
                        "--instances", "2"], name="failing")
ok(wait_until(lambda: len(re.findall(r"starting it again in 1000 ms",
                                     open(bad.log_path).read())) > 0, 20),
   "a failing instance is restarted after 250, 500, 1000 ms ...")
ok(bad.running(), "the supervisor keeps going")
bad.signal(signal.SIGTERM)
is_(bad.wait(15), 0, "and stops on SIGTERM")

done_testing()
