#!/usr/bin/python3
# What a reload changes in the log and process sections and the router's
# goodbye, each seen in behaviour (log.level is t/73reload_changes.t's):
# log.file (new lines go to the new file, then to stderr), process.pid_file
# (the file moves: the new one holds the pid, the old one is gone; "" removes
# it), and at the stop that follows, process.drain_timeout (a held call ends
# with shutting_down after the new, shorter drain) and
# router.send_router_shutdown (turned on: the dealer gets router_shutdown).
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()
LOG_A, LOG_B = os.path.join(D, "a.log"), os.path.join(D, "b.log")
PID_A, PID_B = os.path.join(D, "a.pid"), os.path.join(D, "b.pid")
conf = {"log": {"file": LOG_A, "level": "info"},
        "process": {"pid_file": PID_A, "drain_timeout": duration(60)},
        "router": {"send_router_shutdown": False,
                   "heartbeat_timeout": duration(30)},
        "http": {"access_log": "off"}}
gw = OpsGateway(conf).start()


def reload(section, **values):
    conf[section].update(values)
    last = gw.reload(conf)
    return bool(last and last.get("ok"))


serial = [0]


def registered(path, group="Proc"):
    """Registers a new dealer of group; (its line shows up in path's log
    (None: the gateway's stderr), the line, the dealer)."""
    serial[0] += 1
    d = RawPeer(gw.endpoint, identity="%s-%08d" % (group, 73400 + serial[0]))
    d.register(group=group, methods=("m",))
    d.recv()
    line = "dealer %s registered" % d.identity.decode()
    text = (lambda: gw.log_text()) if path is None else (lambda: read_file(path))
    return wait_until(lambda: line in (text() or "")), line, d


# -- log.file --
got, line, _ = registered(LOG_A)
ok(got, "log.file a.log: a dealer's registration is logged there")
ok(reload("log", file=LOG_B), "reload: log.file b.log")
got, line, _ = registered(LOG_B)
ok(got, "the next one is logged in b.log")
ok(line not in (read_file(LOG_A) or ""), "and not in a.log")
like(read_file(LOG_B) or "", r"configuration generation 2 in force",
     "b.log has the end of the reload itself")
ok(reload("log", file="stderr"), "reload: log.file stderr")
got, line, _ = registered(None)
ok(got, "the next one is logged on stderr")
ok(line not in (read_file(LOG_A) or "") + (read_file(LOG_B) or ""),
   "and in neither file")

# -- process.pid_file --
pid = str(gw.pid)
is_((read_file(PID_A) or "").strip(), pid, "pid_file a.pid holds the pid")
ok(reload("process", pid_file=PID_B), "reload: process.pid_file b.pid")
is_([(read_file(PID_B) or "").strip(), read_file(PID_A)], [pid, None],
    "b.pid holds it, a.pid is gone")
rc, out, err = run_voidrail(["-s", "reopen", "-c", gw.config_path])
is_(rc, 0, "voidrail -s finds the gateway through b.pid")
ok(reload("process", pid_file=""), "reload: process.pid_file \"\"")
is_(read_file(PID_B), None, "b.pid is gone")
ok(reload("process", pid_file=PID_A), "reload: process.pid_file a.pid")
is_((read_file(PID_A) or "").strip(), pid, "a.pid holds the pid again")

# -- process.drain_timeout and router.send_router_shutdown --
got, line, hold = registered(None, "Hold")
client = RawPeer(gw.endpoint, identity="client-73p")
rid = client.call("Hold.m", 1)
ok(hold.expect_call(3) is not None, "a dealer holds a call")
ok(reload("process", drain_timeout=duration(1)),
   "reload: process.drain_timeout 1s (was 60s)")
ok(reload("router", send_router_shutdown=True),
   "reload: router.send_router_shutdown true (was false)")
t0 = time.monotonic()
gw.signal(signal.SIGTERM)
is_(Answers(client).get(rid, 10), "shutting_down",
    "SIGTERM: the held call ends with shutting_down")
took = time.monotonic() - t0
ok(scaled(1) - 0.3 <= took < scaled(1) + scaled(5),
   "after the new drain_timeout (%.1fs)" % took)
is_(hold.recv(5, ignore=("heartbeat_ack",)), [b"router_shutdown", b""],
    "the dealer gets router_shutdown")
is_(gw.proc.wait(scaled(10)), 0, "the gateway exits 0")
is_(read_file(PID_A), None, "and removes its pid file")
done_testing()
