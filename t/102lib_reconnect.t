#!/usr/bin/python3
# Dealers built on libvoidrail come back by themselves when the gateway
# restarts on the same endpoint: after a clean stop (router_shutdown) and
# after a SIGKILL, a C dealer (test_lib_peer) and a module dealer
# (voidrail dealer --module) register again within a few seconds and
# serve; a process that keeps a client reconnects and logs in again.
import os, signal, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

BUILD = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
PEER = os.path.join(BUILD, "t", "unit", "test_lib_peer")
ECHO = os.path.join(BUILD, "examples", "echo.so")
if not os.access(PEER, os.X_OK) or not os.path.exists(ECHO):
    skip_all("test_lib_peer and examples/echo.so are not built")

first = Gateway({"router": {"heartbeat_timeout": duration(5)}},
                name="first").start()
ep = first.endpoint
conf = {"router": {"bind": ep, "heartbeat_timeout": duration(5)}}

c = Proc(wrapper() + [PEER, "dealer", ep, "Calc", "--heartbeat", "200"],
         name="c-dealer", lines=True)
m = c.expect_line(r"^ID (\S+)$", 10)
c_id = m.group(1) if m else "?"
mod = Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep,
                        "--module", ECHO, "--heartbeat", "0.2"],
           name="module-dealer")


def serving(gw):
    try:
        methods = gw.methods()
    except (AssertionError, Exception):
        return False
    return "Calc.echo" in methods and "Echo.echo" in methods


def calls_work(gw):
    cl = PyClient(gw.endpoint).connect()
    try:
        return (cl.invoke("Calc.echo", 1), cl.invoke("Echo.echo", 2))
    finally:
        cl.close()


ok(wait_until(lambda: serving(first), 10), "both dealers serve the first "
   "gateway")
is_(calls_work(first), ([1], [2]), "calls work")

# -- a clean stop: router_shutdown, then a new gateway on the same port --
is_(first.stop(), 0, "the first gateway stops (sending router_shutdown)")
second = Gateway(conf, name="second").start()
t0 = time.monotonic()
ok(wait_until(lambda: serving(second), 10), "both dealers register with the "
   "new gateway")
diag("re-registered after %.2f s" % (time.monotonic() - t0))
is_(second.clusters().get(c_id, {}).get("service_id"), c_id,
    "the C dealer keeps its identity")
is_(calls_work(second), ([1], [2]), "calls work again")

# -- a crash: no router_shutdown --
second.signal(signal.SIGKILL)
second.proc.wait(5)
third = Gateway(conf, name="third").start()
ok(wait_until(lambda: serving(third), 10), "after a SIGKILL of the gateway "
   "too")
is_(calls_work(third), ([1], [2]), "calls work again")

# -- a client (the C library's) that lives through a restart, with a key --
third.stop()
keyed = dict(conf, auth={"client_keys": ["ck1"]})
fourth = Gateway(keyed, name="fourth").start()
ok(wait_until(lambda: serving(fourth), 10), "a gateway with client keys")
client = Proc(wrapper() + [PEER, "twice", ep, "Calc.echo", '["again"]',
                           str(int(scaled(4) * 1000)), "--key", "ck1",
                           "--timeout", str(int(scaled(10) * 1000))],
              name="c-client", lines=True)
ok(client.expect_line(r'^RESULT "again"$', 10), "a C client is served")
ok(client.expect_line(r"^PAUSED$", 5), "... and waits")
fourth.stop()
fifth = Gateway(keyed, name="fifth").start()
ok(client.expect_line(r'^RESULT "again"$', 20), "after the gateway restarted "
   "its next call is served: it reconnected and logged in again") \
    or diag("\n".join(client.lines))
is_(client.wait(10), 0, "the client exits 0")
ok(c.running() and mod.running(), "the dealers never exited")

fifth.stop()
c.signal(signal.SIGTERM)
mod.signal(signal.SIGTERM)
is_(c.wait(10), 0, "the C dealer stops cleanly without a gateway")
is_(mod.wait(10), 0, "the module dealer too")

done_testing()
