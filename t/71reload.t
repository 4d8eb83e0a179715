#!/usr/bin/python3
# Reloading: SIGHUP (or `voidrail -s reload -c FILE`, which signals the pid
# in process.pid_file) reads the file again, checks all of it and puts it
# in force at once, or refuses it and leaves the running configuration as
# it was.  A refusal is logged (FILE:LINE:COL: for what the parser and the
# checks find) and counted: /status.json gateway.reloads, reload_failures
# and last_reload {at, ok: false, error}; config_generation moves only on
# success; /metrics has voidrail_config_generation, _reloads_total and
# _reload_failures_total.  Refused: a YAML syntax error, a bad value, a
# file that cannot be read, an http.listen address or a router.bind
# endpoint that another socket holds, a log.file, process.pid_file or
# http.access_log that cannot be opened; a refused reload leaves a client
# that had logged in logged in, and the pid file in place.  (`voidrail -s
# reload` with a bad file says so itself and signals nothing.)  A burst of
# SIGHUPs is one reload (or a few) of the file as it is at the end.
import os, re, signal, socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

PID = os.path.join(tempdir(), "gateway.pid")
ADMIN = "key-71-admin"


def conf(key):
    """The file, with `key` as the one client key besides ADMIN's."""
    return {"auth": {"client_keys": [ADMIN, key]},
            "process": {"pid_file": PID}}


def accepted(*keys):
    """The keys of `keys` that GET /services accepts now."""
    out = []
    for k in keys:
        r = gw.get("/services", headers={"X-API-Key": k})
        if r is not None and r.status == 200:
            out.append(k)
    return out


def with_line(text, after, line):
    """text with `line` inserted after the first line equal to `after`;
    (new text, 1-based number of the inserted line)."""
    lines = text.split("\n")
    at = lines.index(after) + 1
    lines.insert(at, line)
    return "\n".join(lines), at + 1


def listening_socket():
    """A socket of this test that holds a 127.0.0.1 port; (socket, port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    at_cleanup(s.close)
    return s, s.getsockname()[1]


gw = OpsGateway(conf("key-71-one")).start()
path = gw.config_path
dealer = ThreadedDealer(gw.endpoint).start()
client = PyClient(gw.endpoint, api_key=ADMIN).connect()
probe = RawPeer(gw.endpoint, identity="client-71-probe")


def login():
    probe.send(["auth", {"api_key": ADMIN, "client_id": "client-71-probe"}])
    return probe.recv_json()[0]


def invoke(method, *args):
    """The client's answer, or the text of its error."""
    try:
        return client.invoke(method, *args)
    except (RuntimeError, TimeoutError) as e:
        return "error: %s" % e

g = gw.gateway()
is_([g.get(k) for k in ("config_generation", "reloads", "reload_failures",
                        "last_reload")], [1, 0, 0, None],
    "at start: generation 1, no reload yet, last_reload null")
is_(accepted("key-71-one", "key-71-two"), ["key-71-one"],
    "the first file's key is in force")

# -- refused reloads: the file asks for key-71-two, and has an error --
good = to_yaml(gw.full_config(conf("key-71-two"))) + "\n"
failures = 0


def refused(what, text=None, log_pattern=None, status_pattern=None,
            before_signal=None, after=None):
    """Reloads with `text` (or the file as it is) and checks that it was
    refused and that nothing changed."""
    global failures
    mark = len(gw.log_text())
    login()
    if text is not None:
        gw.write_config(text=text)
    if before_signal:
        before_signal()
    t0 = time.time()
    last = gw.reload()
    if after:
        after()
    failures += 1
    g = gw.gateway()
    ok(last is not None and last.get("ok") is False
       and isinstance(last.get("error"), str) and last["error"] != "",
       "%s: last_reload says ok: false with an error" % what)
    if status_pattern:
        like(last and last.get("error"), status_pattern,
             "%s: the error in /status.json names the place" % what)
    cmp_ok((last or {}).get("at", 0), ">=", t0 - 1,
           "%s: last_reload.at is the time of the attempt" % what)
    is_([g.get(k) for k in ("config_generation", "reloads",
                            "reload_failures")], [1, failures, failures],
        "%s: reload_failures %d, config_generation stays 1" % (what, failures))
    if log_pattern:
        like(gw.log_since(mark), log_pattern, "%s: the log says why" % what)
    is_(accepted("key-71-one", "key-71-two"), ["key-71-one"],
        "%s: the running key stays in force, the new one is not" % what)
    is_(probe.command("methods")[0], "methods_ack",
        "%s: a client that had logged in is still logged in" % what)
    ok(os.path.exists(PID), "%s: the pid file is still there" % what)


bad, line = with_line(good, "router:", "  mode: [fifo")
refused("a YAML syntax error", bad,
        re.escape(path) + r":\d+:\d+: YAML syntax error",
        "^" + re.escape(path) + r":\d+:\d+: ")

bad, line = with_line(good, "router:", "  max_queue: -3")
refused("a bad value", bad,
        re.escape(path) + r":%d:14: \"router\.max_queue\" must be" % line,
        "^" + re.escape(path) + r":%d:14: " % line)

bad, line = with_line(good, "router:", "  max_qeueu: 5")
refused("an unknown key", bad,
        re.escape(path) + r":%d:3: \"router\.max_qeueu\" unknown key" % line)

gw.write_config(text=good)
refused("a file that cannot be read",
        before_signal=lambda: os.rename(path, path + ".away"),
        after=lambda: os.rename(path + ".away", path),
        log_pattern=r"reload failed.*" + re.escape(path))

holder, port = listening_socket()
taken = "127.0.0.1:%d" % port
where = (re.escape(path) + r":\d+:\d+: \"http\.listen\" cannot listen "
         r"for HTTP on %s" % re.escape(taken))
refused("an http.listen address another socket holds",
        to_yaml(gw.full_config(dict(conf("key-71-two"), http={
            "listen": ["127.0.0.1:%d" % gw.http_port, taken]}))) + "\n",
        where, status_pattern=where)
r = gw.get("/healthz")
is_(r and r.status, 200, "the running HTTP address still answers")

holder, port = listening_socket()
taken = "tcp://127.0.0.1:%d" % port
where = (re.escape(path) + r":\d+:\d+: \"router\.bind\" cannot bind %s"
         % re.escape(taken))
refused("a router.bind endpoint another socket holds",
        to_yaml(gw.full_config(dict(conf("key-71-two"), router={
            "bind": [gw.endpoint, taken]}))) + "\n",
        where, status_pattern=where)
is_(gw.gateway().get("bind"), [gw.endpoint],
    "router.bind is still only the running endpoint")
client._authenticate()     # (so that this checks router.bind alone)
is_(invoke("RefService.echo", "still"), ["still"],
    "a client on it still gets answers from its dealer")

# Files the new configuration names that cannot be opened.
missing = os.path.join(tempdir(), "no-such-dir")
for what, section, key in (("a log.file", "log", "file"),
                           ("a process.pid_file", "process", "pid_file"),
                           ("an http.access_log", "http", "access_log")):
    target = os.path.join(missing, "71-" + key)
    changed = conf("key-71-two")
    changed.setdefault(section, {})[key] = target
    text = to_yaml(gw.full_config(changed)) + "\n"
    where = (re.escape(path) + r":%d:%d: " % place_of(text, target)
             + r"\"%s\.%s\" cannot (open|write) \"%s\": No such file or "
             r"directory" % (section, key, re.escape(target)))
    refused("%s that cannot be opened" % what, text, where,
            status_pattern="^" + where)
    if section == "http":
        r = gw.get("/healthz")
        is_(r and r.status, 200, "the running HTTP address still answers")

# `voidrail -s reload` reads the file to find the pid file: a bad one is
# reported by the command itself, and the gateway is left alone.
bad, line = with_line(good, "router:", "  max_queue: -3")
gw.write_config(text=bad)
before = gw.gateway().get("reloads")
rc, out, err = run_voidrail(["-s", "reload", "-c", path])
is_(rc, 1, "voidrail -s reload -c FILE with a bad FILE exits 1")
like(err, re.escape(path) + r":%d:14: " % line, "naming FILE:LINE:COL")
time.sleep(scaled(0.3))
is_(gw.gateway().get("reloads"), before, "and signals nothing")

# -- a good reload through `voidrail -s reload` --
gw.write_config(text=good)
before = gw.gateway().get("reloads")
t0 = time.time()
rc, out, err = run_voidrail(["-s", "reload", "-c", path])
is_(rc, 0, "voidrail -s reload -c FILE exits 0")
ok(wait_until(lambda: gw.gateway().get("reloads") == before + 1),
   "and the gateway reloads")
g = gw.gateway()
is_([g.get(k) for k in ("config_generation", "reloads", "reload_failures")],
    [2, failures + 1, failures],
    "a good reload: config_generation 2, reload_failures unchanged")
last = g.get("last_reload") or {}
is_([last.get("ok"), last.get("error")], [True, ""],
    "last_reload says ok: true, no error")
cmp_ok(last.get("at", 0), ">=", t0 - 1, "last_reload.at is its time")
is_(accepted("key-71-one", "key-71-two"), ["key-71-two"],
    "the new file's key is in force, the old one is refused")
is_(gw.info().get("config_generation"), 2,
    "router_info says config_generation 2 as well")
m = gw.metrics()
is_([m.get("voidrail_config_generation"),
     m.get("voidrail_config_reloads_total"),
     m.get("voidrail_config_reload_failures_total")],
    [2, failures + 1, failures],
    "/metrics: voidrail_config_generation, _reloads_total, "
    "_reload_failures_total")

# -- a burst of SIGHUPs --
# While the gateway is stopped, three files come and go with a SIGHUP
# each: it finds one reload to do, of the last file.
before = gw.gateway().get("reloads")
gw.signal(signal.SIGSTOP)
try:
    for key in ("burst-1", "burst-2", "burst-3"):
        gw.write_config(conf(key))
        os.kill(gw.pid, signal.SIGHUP)
finally:
    gw.signal(signal.SIGCONT)
ok(wait_until(lambda: gw.gateway().get("reloads", 0) > before),
   "SIGHUPs that arrive together are acted on")
time.sleep(scaled(0.5))
g = gw.gateway()
is_([g.get("reloads") - before, g.get("config_generation")], [1, 3],
    "three pending SIGHUPs are one reload (generation 3)")
is_(accepted("burst-1", "burst-2", "burst-3"), ["burst-3"],
    "of the file as it was at the end")

# Sent back to back to a running gateway: one or a few reloads, the last
# file wins.
before = g.get("reloads")
for i in range(1, 6):
    gw.write_config(conf("tight-%d" % i))
    os.kill(gw.pid, signal.SIGHUP)
ok(wait_until(lambda: gw.gateway().get("reloads", 0) > before),
   "five SIGHUPs back to back are acted on")
time.sleep(scaled(0.5))
g = gw.gateway()
n = g.get("reloads") - before
ok(1 <= n <= 5, "with one to five reloads (%d)" % n)
is_([g.get("config_generation"), g.get("reload_failures")],
    [3 + n, failures], "each of them a good one")
is_(accepted(*["tight-%d" % i for i in range(1, 6)]), ["tight-5"],
    "the last file wins")
is_(invoke("RefService.echo", "end"), ["end"],
    "the client and the dealer never noticed")
is_([registers(dealer), dealer.count_events("register_ack")], [1, 1],
    "the dealer registered once")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
