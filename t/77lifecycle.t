#!/usr/bin/python3
# The gateway's life.  The pid file (process.pid_file) is written at start
# and removed at exit; `voidrail -s SIGNAL` without one exits 1 saying so.
# A pid file, log file or access log that cannot be opened stops the start
# (exit 1, FILE:LINE:COL and the key).
# SIGUSR1 (and `-s reopen`) reopens log.file and http.access_log: after a
# rename, new lines go to fresh files.  SIGTERM, SIGQUIT and `-s quit`
# drain: new calls end with shutting_down (HTTP 503), /readyz is 503,
# calls in flight and queued may finish within process.drain_timeout, the
# rest then end with shutting_down; dealers get router_shutdown; exit 0.
# A SIGHUP meanwhile reloads nothing and is logged as ignored.
# SIGINT, or a second SIGTERM, stops at once: calls in flight end with
# shutting_down right away.
import json, os, re, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()
PID = os.path.join(D, "gateway.pid")


def hold_dealer(gw, name):
    peer = RawPeer(gw.endpoint, identity="%s-00000077" % name)
    peer.register(group=name, methods=("wait",))
    peer.recv()
    return peer


_boxes = {}


def answer_of(peer, rid, timeout=10.0):
    """"reply" or the error code of the answer for rid (or None)."""
    return _boxes.setdefault(id(peer), Answers(peer)).get(rid, timeout)


def queued(gw, method, n=1):
    """True once n calls of method wait in the gateway's queue (a call
    sent is not yet received: a signal may overtake it)."""
    return gw.queue_status().get(method, {}).get("queue_length") == n


def reply(dealer, call, result="ok"):
    dealer.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                            "result": result})


# -- `voidrail -s` needs a pid file --
plain = os.path.join(D, "plain.yaml")
with open(plain, "w") as f:
    f.write("router: { bind: tcp://127.0.0.1:%d }\n" % free_port())
rc, out, err = run_voidrail(["-s", "reload", "-c", plain])
is_(rc, 1, "-s reload with no process.pid_file exits 1")
like(err, r"pid_file", "saying that there is no pid file")

# -- files that cannot be opened stop the start --
for section, key in (("log", "file"), ("process", "pid_file"),
                     ("http", "access_log")):
    target = os.path.join(D, "no-such-dir", key)
    conf = {"router": {"bind": "tcp://127.0.0.1:%d" % free_port()},
            "http": {"listen": []}}
    conf.setdefault(section, {})[key] = target
    text = to_yaml(conf) + "\n"
    start = os.path.join(D, "start-%s.yaml" % key)
    with open(start, "w") as f:
        f.write(text)
    rc, out, err = run_voidrail(["-c", start])
    is_(rc, 1, "%s.%s in a missing directory: the start fails, exit 1"
        % (section, key))
    like(err, re.escape(start) + r":%d:%d: " % place_of(text, target)
         + r"\"%s\.%s\" cannot (open|write) \"%s\": No such file"
         % (section, key, re.escape(target)),
         "saying FILE:LINE:COL, the key and why")

# -- the pid file, reopening logs, and a drain that finishes --
LOG = os.path.join(D, "voidrail.log")
ACCESS = os.path.join(D, "access.log")
gw = OpsGateway({"process": {"pid_file": PID, "drain_timeout": duration(5)},
                 "log": {"file": LOG, "level": "info"},
                 "http": {"access_log": ACCESS}}).start()
is_(read_file(PID), "%d\n" % gw.pid, "the pid file holds the gateway's pid")

gw.get("/vrtest-before")
ok(wait_until(lambda: "/vrtest-before" in (read_file(ACCESS) or "")),
   "the access log file gets a line per request")
os.rename(LOG, LOG + ".1")
os.rename(ACCESS, ACCESS + ".1")
gw.signal(signal.SIGUSR1)
ok(wait_until(lambda: os.path.exists(LOG) and os.path.exists(ACCESS)),
   "after a rename, SIGUSR1 makes fresh log and access log files")
gw.get("/vrtest-after")
first = hold_dealer(gw, "Hold")
ok(wait_until(lambda: "/vrtest-after" in (read_file(ACCESS) or "")),
   "new requests go to the fresh access log")
ok(wait_until(lambda: "dealer Hold-00000077 registered" in (read_file(LOG) or "")),
   "new log lines go to the fresh log file")
ok("/vrtest-after" not in read_file(ACCESS + ".1")
   and "Hold-00000077" not in read_file(LOG + ".1"),
   "and none to the renamed ones")
os.rename(ACCESS, ACCESS + ".2")
rc, out, err = run_voidrail(["-s", "reopen", "-c", gw.config_path])
is_(rc, 0, "voidrail -s reopen exits 0")
ok(wait_until(lambda: os.path.exists(ACCESS)), "and reopens the files too")

streamer = AsyncDealer(gw.endpoint, service_name="Streamer",
                       max_concurrent=5).start()
client = RawPeer(gw.endpoint, identity="client-77")
a = client.call("Hold.wait", "a")
call_a = first.expect_call(3)
b = client.call("Hold.wait", "b")
stream = gw.open("GET", "/stream/Streamer.astream?args=" + quote_json([5, 0.3]))
ok(call_a and wait_until(lambda: queued(gw, "Hold.wait"))
   and stream.head() == 200,
   "in flight: a call on Hold, another queued behind it, an SSE stream")

t0 = time.monotonic()
gw.signal(signal.SIGTERM)
ok(wait_until(lambda: gw.gateway().get("draining")),
   "SIGTERM: /status.json says draining")
late = RawPeer(gw.endpoint, identity="client-77-late")
t1 = time.monotonic()
rid = late.call("Streamer.echo", 1)
is_(answer_of(late, rid), "shutting_down", "a new call ends with shutting_down")
cmp_ok(time.monotonic() - t1, "<", scaled(0.5), "at once")
r = gw.post("/invoke/Streamer.echo", json=[1])
is_(r and (r.status, (r.json() or {}).get("code")), (503, "shutting_down"),
    "over HTTP: 503 shutting_down")
r = gw.get("/readyz")
is_(r and r.status, 503, "/readyz answers 503")
reply(first, call_a, "A")
is_(answer_of(client, a), "reply", "the call in flight finishes")
call_b = first.expect_call(10)
ok(call_b, "the queued one goes to the dealer")
if call_b:
    reply(first, call_b, "B")
is_(answer_of(client, b), "reply", "and finishes too")
is_([json.loads(e["data"]) for e in sse_events(stream)
     if e.get("event") == "chunk"], [0, 1, 2, 3, 4],
    "the SSE stream runs to its end")
is_(first.recv(5, ignore=("heartbeat_ack",)), [b"router_shutdown", b""],
    "with nothing left, the dealer gets router_shutdown")
is_(gw.proc.wait(5), 0, "and the gateway exits 0")
cmp_ok(time.monotonic() - t0, "<", scaled(5.0),
       "before the 5 s drain_timeout")
ok(not os.path.exists(PID), "the pid file is removed at exit")

# -- `voidrail -s quit`: the drain time runs out --
gw = OpsGateway({"process": {"pid_file": PID,
                             "drain_timeout": duration(1)}}).start()
hold = hold_dealer(gw, "Hold")
client2 = RawPeer(gw.endpoint, identity="client-77-q")
a = client2.call("Hold.wait", "a")
ok(hold.expect_call(3), "a call in flight, never answered")
b = client2.call("Hold.wait", "b")
ok(wait_until(lambda: queued(gw, "Hold.wait")), "another one queued")
t0 = time.monotonic()
rc, out, err = run_voidrail(["-s", "quit", "-c", gw.config_path])
is_(rc, 0, "voidrail -s quit exits 0")
is_([answer_of(client2, a, 5), answer_of(client2, b, 5)],
    ["shutting_down", "shutting_down"],
    "when process.drain_timeout is over, the calls in flight and queued "
    "end with shutting_down")
took = time.monotonic() - t0
ok(scaled(1.0) - 0.15 <= took < scaled(1.0) + scaled(1.5),
   "after the 1 s drain_timeout (%.2fs)" % took)
is_(hold.recv(3, ignore=("heartbeat_ack",)), [b"router_shutdown", b""],
    "the dealer gets router_shutdown")
is_(gw.proc.wait(5), 0, "the gateway exits 0")
ok(not os.path.exists(PID), "and removes its pid file")

# -- fast stops --
for how in ("SIGINT", "a second SIGTERM"):
    gw = OpsGateway({"process": {"drain_timeout": duration(30)}}).start()
    hold = hold_dealer(gw, "Hold")
    c = RawPeer(gw.endpoint, identity="client-77-fast")
    rid = c.call("Hold.wait")
    ok(hold.expect_call(3), "%s: a call in flight" % how)
    if how == "SIGINT":
        t0 = time.monotonic()
        gw.signal(signal.SIGINT)
    else:
        gw.signal(signal.SIGTERM)
        ok(wait_until(lambda: gw.gateway().get("draining")),
           "%s: the first one drains" % how)
        mark = len(gw.log_text())
        gw.signal(signal.SIGHUP)
        ok(wait_until(lambda: re.search(r" warn SIGHUP ignored: the gateway "
                                        r"is stopping", gw.log_since(mark))),
           "a SIGHUP while it drains is logged as ignored")
        is_([gw.gateway().get(k) for k in ("reloads", "config_generation")],
            [0, 1], "and reloads nothing")
        t0 = time.monotonic()
        gw.signal(signal.SIGTERM)
    is_(answer_of(c, rid), "shutting_down",
        "%s: the call in flight ends with shutting_down" % how)
    cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "%s: at once" % how)
    is_(gw.proc.wait(5), 0, "%s: the gateway exits 0" % how)
done_testing()
