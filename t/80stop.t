#!/usr/bin/python3
# Stopping (A.5, B.4): on SIGTERM the gateway sends router_shutdown to its
# live dealers and exits 0; with router.send_router_shutdown: false it
# sends them nothing.  The asyncio dealer reconnects after router_shutdown;
# the threaded one goes silent (it deadlocks in Python, B.9).
import os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
raw = RawPeer(gw.endpoint, identity="RefService-80808080")
raw.register()
raw.recv()
td = ThreadedDealer(gw.endpoint, service_name="Threaded").start()
ad = AsyncDealer(gw.endpoint, service_name="Async").start()

t0 = time.monotonic()
gw.signal(signal.SIGTERM)
is_(raw.recv(5), [b"router_shutdown", b""],
    "on SIGTERM a dealer gets [router_shutdown, '']")
ok(td.wait_event("router_shutdown"), "the threaded dealer gets router_shutdown")
ok(ad.wait_event("router_shutdown"), "the asyncio dealer gets router_shutdown")
is_(gw.stop(), 0, "the gateway exits 0")
cmp_ok(time.monotonic() - t0, "<", scaled(5.0), "within 5 s")
is_(raw.expect_nothing(0.3), None, "nothing else was sent")
td.crash()
ad.crash()

gw = Gateway({"router": {"send_router_shutdown": False}}).start()
raw = RawPeer(gw.endpoint, identity="RefService-80808081")
raw.register()
raw.recv()
td = ThreadedDealer(gw.endpoint, service_name="Threaded").start()
is_(gw.stop(), 0, "with send_router_shutdown: false the gateway exits 0")
is_(raw.expect_nothing(0.5), None, "and its dealers get no router_shutdown")
is_(td.count_events("router_shutdown"), 0,
    "so the threaded dealer does not deadlock")
done_testing()
