#!/usr/bin/python3
# libvoidrail's dealer (t/unit/test_lib_peer dealer) served through the
# gateway to Python-protocol clients: the metadata it registers, results,
# streams and errors as the Python client reads them, its capacity,
# heartbeats while a handler runs past the gateway's heartbeat timeout,
# cancel (B.7) after a deadline, and the clean stop of vr_dealer_run() on
# SIGTERM, on SIGINT, where signalfd() fails (it waits with sigwaitinfo(),
# which needs no descriptor), and when a handler calls vr_dealer_stop().
import json, os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

PEER = built("t/unit/test_lib_peer")
NOSIGNALFD = built("t/modules/.libs/nosignalfd.so")


def c_dealer(ep, service, *opts, env=None):
    p = Proc(wrapper() + [PEER, "dealer", ep, service] + [str(o) for o in opts],
             name="c-dealer-" + service, lines=True, env=env)
    m = p.expect_line(r"^ID (\S+)$", 10)
    return p, (m.group(1) if m else None)


def reply_of(raw, timeout=5.0):
    """The decoded body of the next reply_from_router (heartbeats skipped)."""
    frames = raw.recv(timeout)
    if frames is None or frames[0] != b"reply_from_router":
        return frames
    return loads(frames[-1])


gw = Gateway({"router": {"heartbeat_timeout": duration(1.5),
                         "busy_timeout": duration(1.5),
                         "methods": {"Slow.sleep": {"timeout": "500ms"}}}}
             ).start()
ep = gw.endpoint

calc, calc_id = c_dealer(ep, "Calc", "--workers", 4, "--heartbeat", 200,
                         "--cancel")
ok(calc_id and calc_id.startswith("Calc-"), "the C dealer's identity: "
   "%s" % calc_id)
ok(wait_until(lambda: "Calc.add" in gw.methods(), 10), "it registers")

# -- what it registered --
methods = gw.methods()
is_(methods.get("Calc.add"), {"description": "Add two numbers",
                              "params": {"a": "first number",
                                         "b": "second number"},
                              "stream": False, "metadata": {"since": "0.1"}},
    "MethodMeta of a method with metadata")
is_(methods.get("Calc.echo"), {"description": None, "params": None,
                               "stream": False, "metadata": {}},
    "MethodMeta of a plain method: the Python decorator's defaults")
is_(methods.get("Calc.count", {}).get("stream"), True, "a streaming method")
info = gw.clusters().get(calc_id, {})
is_(info.get("group"), "Calc", "clusters: group = service name")
is_(info.get("max_concurrent"), 4, "clusters: its capacity (max_concurrent)")
is_(sorted(info.get("capabilities", [])), ["cancel", "request_id_errors"],
    "clusters: its capabilities")

# -- a Python client --
cl = PyClient(ep).connect()
is_(cl.invoke("Calc.echo", "hello"), ["hello"], "Python client: invoke")
is_(cl.invoke("Calc.add", a=40, b=2), [42], "Python client: kwargs")
is_(list(cl.stream("Calc.count", 3)), [{"i": 0}, {"i": 1}, {"i": 2}],
    "Python client: a stream")
try:
    cl.invoke("Calc.fail", "kaputt")
    ok(False, "Python client: an error raises")
except RuntimeError as e:
    is_(str(e), "kaputt", "Python client: an error raises with its text")
is_(cl.invoke("Calc.whoami"), [calc_id], "whoami: the method's data")

raw = RawPeer(ep, identity="raw-1")
rid = raw.call("Calc.fail", "with id")
body = reply_of(raw)
is_(body, {"type": "error", "request_id": rid, "error": "with id"},
    "its errors carry the request_id")
rid = raw.call("Calc.echo", "x", func_name="Calc.nope")
body = reply_of(raw)
is_(body and body.get("error"), "Method Calc.nope not found",
    "an unknown func_name: the asyncio dealer's text")

# -- capacity: 4 at once --
peers_ = [RawPeer(ep, identity="cap-%d" % i) for i in range(4)]
t0 = time.monotonic()
for p in peers_:
    p.call("Calc.sleep", 0.5)
got = [reply_of(p, 5) for p in peers_]
took = time.monotonic() - t0
is_([g and g.get("result") for g in got], [{"slept": 0.5}] * 4,
    "4 calls, 4 workers: all answered")
cmp_ok(took, "<", scaled(0.5) + 0.7, "... at the same time (%.2f s)" % took)

# -- heartbeats while a handler runs longer than the heartbeat timeout --
rid = raw.call("Calc.sleep", 3)
body = reply_of(raw, 10)
is_(body and body.get("result"), {"slept": 3},
    "a 3 s job outlives a 1.5 s heartbeat timeout: heartbeats kept flowing")
is_(gw.clusters().get(calc_id, {}).get("state"), "active",
    "the dealer was never expired")

# -- cancel after the gateway's deadline --
slow, slow_id = c_dealer(ep, "Slow", "--workers", 1, "--heartbeat", 200,
                         "--cancel")
ok(wait_until(lambda: "Slow.sleep" in gw.methods(), 10), "a 1-worker dealer")
rid = raw.call("Slow.sleep", 30)
body = reply_of(raw, 5)
is_(body and body.get("code"), "timeout", "the gateway's deadline passes")
ok(slow.expect_line(r"^CANCELLED " + rid, 5), "the handler sees the cancel")
t0 = time.monotonic()
rid = raw.call("Slow.echo", "next")
body = reply_of(raw, 5)
is_(body and body.get("result"), "next", "its slot is free again at once")
cmp_ok(time.monotonic() - t0, "<", scaled(2), "... not after 30 s")

# -- stop --
rid = raw.call("Calc.sleep", 1)
ok(wait_until(lambda: gw.clusters()[calc_id].get("current_load") == 1),
   "a call runs on the dealer")
time.sleep(scaled(0.2))         # from the gateway's socket into its hands
calc.signal(signal.SIGTERM)
body = reply_of(raw, 5)
is_(body and body.get("result"), {"slept": 1},
    "SIGTERM during a call: the call still ends with its result")
ok(calc.expect_line(r"^STOPPED 0$", 10), "the dealer stops")
is_(calc.wait(10), 0, "... and exits 0")
ok(wait_until(lambda: calc_id not in gw.clusters(), 5),
   "it left the gateway (shutdown)")
ok("Calc.add" not in gw.methods(), "its methods are gone")
slow.signal(signal.SIGINT)
is_(slow.wait(10), 0, "SIGINT stops it too")


def stops_cleanly(p, dealer_id, how):
    ok(p.expect_line(r"^STOPPED 0$", 10), how + ": vr_dealer_run() returns")
    is_(p.wait(10), 0, "... the dealer exits 0")
    ok(wait_until(lambda: dealer_id not in gw.clusters(), 5),
       "... having left the gateway")


# ASan wants its runtime first among the libraries; a preload comes first.
nofd, nofd_id = c_dealer(ep, "NoFd", env={
    "LD_PRELOAD": NOSIGNALFD,
    "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")
    + ":verify_asan_link_order=0"})
ok(wait_until(lambda: "NoFd.echo" in gw.methods(), 10),
   "a dealer in which signalfd() fails (EMFILE, preloaded) registers")
is_(cl.invoke("NoFd.echo", 1), [1], "... and serves")
nofd.signal(signal.SIGTERM)
stops_cleanly(nofd, nofd_id, "SIGTERM stops it")

stopper, stopper_id = c_dealer(ep, "Stopper")
ok(wait_until(lambda: "Stopper.stop" in gw.methods(), 10), "another dealer")
is_(cl.invoke("Stopper.stop"), ["stopping"],
    "a handler calls vr_dealer_stop() and answers")
stops_cleanly(stopper, stopper_id, "with no signal")

done_testing()
