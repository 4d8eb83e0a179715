#!/usr/bin/python3
# `voidrail dealer --module`: the example modules (Echo, Math, Stream) as
# workers; the demo `voidrail dealer --module examples/echo.so --port P`
# serves Echo.echo; module lookup, --class, --max-concurrent (and the
# module's default), --api-key against dealer keys, --heartbeat, option
# errors (exit 2), serving failures (exit 1: a module's init, a bad
# endpoint), and the clean stop on SIGTERM and SIGINT.
import json, os, re, signal, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

BUILD = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
EXAMPLES = os.path.join(BUILD, "examples")
ECHO = os.path.join(EXAMPLES, "echo.so")
if not os.path.exists(ECHO):
    skip_all("examples/*.so are not built")


def dealer(*args, env=None, name="dealer"):
    return Proc(wrapper() + [voidrail_bin(), "dealer"] + [str(a) for a in args],
                name=name, env=env)


def reply_of(raw, timeout=5.0):
    frames = raw.recv(timeout)
    if frames is None or frames[0] != b"reply_from_router":
        return frames
    return loads(frames[-1])


# -- options --
rc, out, err = run_voidrail(["dealer", "--help"])
is_(rc, 0, "--help exits 0")
like(out, r"--module", "--help documents --module")
like(out, r"--exec", "... and --exec")
for args, why in (([], "neither --module nor --exec"),
                  (["-m", ECHO, "--exec", "cat", "--service", "S"], "both"),
                  (["--exec", "cat"], "--exec without --service"),
                  (["--exec", "cat", "--service", "a.b"], "a dotted service"),
                  (["-m", ECHO, "-n", "0"], "--instances 0"),
                  (["-m", ECHO, "--max-concurrent", "x"], "--max-concurrent x"),
                  (["-m", ECHO, "--heartbeat", "0"], "--heartbeat 0"),
                  (["-m", ECHO, "--frobnicate"], "an unknown option"),
                  (["-m", "/nonexistent/lib.so"], "a module that is not there"),
                  (["-m", "/lib/x86_64-linux-gnu/libc.so.6"],
                   "a library that is not a service module"),
                  (["-m", ECHO, "--class", "Nope"], "a class it does not have")):
    rc, out, err = run_voidrail(["dealer", "-p", "1"] + args, timeout=10)
    is_(rc, 2, "exit 2: %s" % why) or diag(err)

# -- the demo worker --
gw = Gateway({"router": {"dealer_capacity": 1}}).start()
ep, port = gw.endpoint, str(gw.port)
demo = dealer("--module", ECHO, "--port", port, name="demo")
ok(wait_until(lambda: "Echo.echo" in gw.methods(), 10),
   "voidrail dealer --module examples/echo.so --port P serves Echo.echo")
is_(gw.methods()["Echo.echo"]["description"], "Returns its argument",
    "... with the module's metadata")
cl = PyClient(ep).connect()
is_(cl.invoke("Echo.echo", {"k": [1, 2]}), [{"k": [1, 2]}],
    "a Python client calls it")
ids = [sid for sid, i in gw.clusters().items() if i["group"] == "Echo"]
ok(len(ids) == 1 and ids[0].startswith("Echo-"), "group = the module's "
   "service name, identity Echo-<hex>")
is_(gw.clusters()[ids[0]].get("max_concurrent"), 1, "capacity 1 by default")

# -- stop: a running call still ends --
raw = RawPeer(ep, identity="raw-stop")
raw.call("Echo.slow_echo", "last", 1)
ok(wait_until(lambda: gw.clusters()[ids[0]].get("current_load") == 1),
   "a call runs on the dealer")
time.sleep(scaled(0.3))         # from the gateway's socket into its hands
demo.signal(signal.SIGTERM)
body = reply_of(raw, 5)
is_(body and body.get("result"), "last", "SIGTERM: the running call ends "
    "with its result")
is_(demo.wait(10), 0, "... the dealer exits 0")
ok(wait_until(lambda: ids[0] not in gw.clusters(), 5), "... having left the "
   "gateway")

# -- --host with -p, --logger-level --
quiet = dealer("--host", "127.0.0.1", "-p", port, "-m", ECHO,
               "--logger-level", "WARNING", name="quiet")
ok(wait_until(lambda: "Echo.echo" in gw.methods(), 10), "--host and -p")
quiet.signal(signal.SIGTERM)
is_(quiet.wait(10), 0, "... stops")
unlike(open(quiet.log_path).read(), r": info: ",
       "--logger-level WARNING: no info lines")
loud = Proc(wrapper() + [voidrail_bin(), "--debug", "dealer", "-p", port,
                         "-m", ECHO, "--logger-level", "WARNING"],
            name="debug")
ok(wait_until(lambda: "Echo.echo" in gw.methods(), 10),
   "voidrail --debug dealer (the global flag)")
is_(PyClient(ep).connect().invoke("Echo.echo", "d"), ["d"], "... serves")
ok(wait_until(lambda: re.search(r": debug: call \S+ of echo",
                                open(loud.log_path).read()), 5),
   "... and logs at debug level, whatever --logger-level says")
loud.signal(signal.SIGTERM)
is_(loud.wait(10), 0, "... stops")

# -- a bare name is looked for in the current directory --
bare = subprocess.Popen(wrapper() + [os.path.abspath(voidrail_bin()), "dealer",
                                     "--module", "math.so", "--endpoint", ep,
                                     "--heartbeat", "0.5"],
                        cwd=EXAMPLES, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
at_cleanup(lambda: bare.poll() is None and bare.kill())
ok(wait_until(lambda: "Math.add" in gw.methods(), 10),
   "--module math.so is found in the current directory")
is_(cl.invoke("Math.add", 1.5, 2), [3.5], "Math.add")
is_(cl.invoke("Math.square", x=3), [9], "Math.square with a keyword")
math_id = [s for s, i in gw.clusters().items() if i["group"] == "Math"][0]
is_(gw.clusters()[math_id].get("max_concurrent"), 4,
    "the module's default capacity (4)")
bare.send_signal(signal.SIGINT)
is_(bare.wait(scaled(10)), 0, "SIGINT: exit 0")

# -- --class, --max-concurrent, --stop-timeout, a stream, init/fini --
st = dealer("-m", os.path.join(EXAMPLES, "stream.so"), "--class", "Stream",
            "--max-concurrent", 3, "--endpoint", ep, "--stop-timeout", "0.5",
            name="stream")
ok(wait_until(lambda: "Stream.count" in gw.methods(), 10),
   "--class Stream serves Stream.count")
sid = [s for s, i in gw.clusters().items() if i["group"] == "Stream"][0]
is_(gw.clusters()[sid].get("max_concurrent"), 3, "--max-concurrent 3")
is_(list(cl.stream("Stream.count", 4)), [{"i": i} for i in range(4)],
    "a stream, chunk by chunk")
peers_ = [RawPeer(ep, identity="st-%d" % i) for i in range(3)]
for p in peers_:
    p.call("Stream.count", 3, 0.5)
ok(wait_until(lambda: gw.clusters()[sid].get("current_load") == 3,
              timeout=3, interval=0.02),
   "... in parallel: the dealer holds all 3 at once")
ends = 0
for p in peers_:
    for _ in range(4):
        body = reply_of(p, 5)
        ends += isinstance(body, dict) and body.get("type") == "end"
is_(ends, 3, "3 streams at once")
raw.call("Stream.count", 100, 0.1)
time.sleep(scaled(0.3))
t0 = time.monotonic()
st.signal(signal.SIGTERM)
is_(st.wait(10), 0, "SIGTERM during a long stream: exit 0")
cmp_ok(time.monotonic() - t0, "<", scaled(0.5) + 2,
       "... after --stop-timeout 0.5")

# -- a module whose init fails: exit 1 --
FAILINIT = os.path.join(BUILD, "t", "modules", ".libs", "failinit.so")
if os.path.exists(FAILINIT):
    trace = os.path.join(tempdir(), "failinit.trace")
    rc, out, err = run_voidrail(["dealer", "-m", FAILINIT, "--class",
                                 "Broken", "--endpoint", ep], timeout=15)
    is_(rc, 1, "the service's init fails: exit 1")
    like(err, r"the init of service Broken failed", "... said on stderr")
    rc, out, err = run_voidrail(["dealer", "-m", FAILINIT, "--class", "Fine",
                                 "--class", "Broken", "--endpoint", ep],
                                timeout=15,
                                env={"VR_FAILINIT_TRACE": trace})
    is_(rc, 1, "the second service's init fails: exit 1")
    is_(open(trace).read().splitlines(),
        ["Fine init", "Broken init", "Fine fini"],
        "... the first service, started, is stopped and its fini runs")
    ok(wait_until(lambda: not [i for i in gw.clusters().values()
                               if i["group"] in ("Fine", "Broken")], 5),
       "... and neither is left at the gateway")
    rc, out, err = run_voidrail(["dealer", "-m", FAILINIT, "--endpoint", ep],
                                timeout=15)
    is_(rc, 2, "a module of several services without --class: exit 2")
    like(err, r"has 3 services; pick with --class: Fine Broken Other",
         "... naming them")
    os.unlink(trace)
    two = dealer("-m", FAILINIT, "--class", "Fine", "--class", "Other",
                 "--endpoint", ep, env={"VR_FAILINIT_TRACE": trace},
                 name="two-classes")
    ok(wait_until(lambda: {"Fine.echo", "Other.echo"} <= set(gw.methods()),
                  10), "--class twice: one process serves both services")
    is_([cl.invoke("Fine.echo", 1), cl.invoke("Other.echo", 2)], [[1], [2]],
        "... each under its own name")
    two.signal(signal.SIGTERM)
    is_(two.wait(10), 0, "... and stops with 0")
    is_(open(trace).read().splitlines(), ["Fine init", "Fine fini"],
        "... running the init and fini of the service that has them")
else:
    ok(False, "t/modules/failinit.so is built (make check builds it)")
rc, out, err = run_voidrail(["dealer", "-m", ECHO, "--endpoint", "bogus://x"],
                            timeout=15)
is_(rc, 1, "an endpoint ZeroMQ cannot connect to: exit 1")
like(err, r"cannot serve Echo at bogus://x", "... said on stderr")

# -- dealer keys --
kgw = Gateway({"auth": {"dealer_keys": ["dk1"]}}, name="keyed").start()
bad = dealer("-m", ECHO, "--endpoint", kgw.endpoint, "--api-key", "wrong",
             name="bad-key")
good = dealer("-m", ECHO, "--endpoint", kgw.endpoint, "--heartbeat", "0.2",
              env={"VOIDRAIL_API_KEY": "dk1"}, name="env-key")
ok(wait_until(lambda: "Echo.echo" in kgw.methods(), 10),
   "VOIDRAIL_API_KEY registers with dealer keys")
is_(len(kgw.clusters()), 1, "--api-key wrong does not")
ok(bad.running(), "... and keeps trying instead of exiting")
flag = dealer("-m", ECHO, "--endpoint", kgw.endpoint, "--api-key", "dk1",
              name="flag-key")
ok(wait_until(lambda: len(kgw.clusters()) == 2, 10), "--api-key dk1 registers")
for p in (bad, good, flag):
    p.signal(signal.SIGTERM)
is_([p.wait(10) for p in (bad, good, flag)], [0, 0, 0], "all stop with 0")

done_testing()
