#!/usr/bin/python3
# Registration and heartbeats are acknowledged at once (A.2.2, B.4): the
# threaded Python dealer gives up on acks slower than 100 ms.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()

d = RawPeer(gw.endpoint, identity="RefService-0a1b2c3d")
t0 = time.monotonic()
d.register()
msg = d.recv()
elapsed = time.monotonic() - t0
is_(msg, [b"register_ack", b""], "register is answered with register_ack")
cmp_ok(elapsed, "<", scaled(0.1), "register_ack arrives within 100 ms")

answers, slowest = [], 0.0
for body in ({"api_key": None, "pending_requests": 0, "is_busy": False},
             {"api_key": None, "processing_requests": 0, "is_busy": False},
             {"api_key": None, "pending_requests": 0, "is_busy": False},
             "not json at all", ""):
    t0 = time.monotonic()
    d.send(["heartbeat", body])
    answers.append(d.recv())
    slowest = max(slowest, time.monotonic() - t0)
is_(answers, [[b"heartbeat_ack", b""]] * 5,
    "every heartbeat gets heartbeat_ack (threaded and async bodies, "
    "non-JSON and empty payloads too)")
cmp_ok(slowest, "<", scaled(0.1), "each heartbeat_ack arrives within 100 ms")

d.send(["heartbeat"])
is_(d.recv(), [b"heartbeat_ack", b""],
    "a heartbeat without payload frame is acknowledged too")

stranger = RawPeer(gw.endpoint, identity="RefService-ffffffff")
stranger.heartbeat()
is_(stranger.expect_nothing(0.5), None,
    "a heartbeat from an unregistered identity is not answered")

ok("RefService.echo" in gw.methods(), "the registered method is offered")
is_(gw.clusters().get("RefService-0a1b2c3d", {}).get("state"), "active",
    "the dealer is listed as active")

d.register(methods=("echo", "add"))
is_(d.recv(), [b"register_ack", b""], "a second register is acknowledged")
offered = gw.methods()
ok("RefService.echo" in offered and "RefService.add" in offered,
   "and replaces the dealer's method list")
is_(len([s for s in gw.clusters() if s == "RefService-0a1b2c3d"]), 1,
    "the dealer is still listed once")

# the Python-style dealers stay registered through many heartbeats
td = ThreadedDealer(gw.endpoint, heartbeat_interval=0.2).start()
ad = AsyncDealer(gw.endpoint, heartbeat_interval=0.2,
                 service_name="AsyncService").start()
sleep(1.5)
cmp_ok(td.acks, ">=", 4, "the threaded dealer's heartbeats are acknowledged")
ok(not td.deadlocked and td.reconnects == 0,
   "the threaded dealer never misses an ack (no deadlock, no reconnect)")
cmp_ok(ad.acks, ">=", 4, "the asyncio dealer's heartbeats are acknowledged")
is_(ad.reconnects, 0, "the asyncio dealer never reconnects")
td.crash()
ad.crash()

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
