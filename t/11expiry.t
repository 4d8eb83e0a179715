#!/usr/bin/python3
# A silent dealer expires after router.heartbeat_timeout: it turns
# "inactive" in clusters, its methods leave `methods`, and after 10 times
# the timeout its record is removed (B.4).  Heartbeats keep a dealer alive.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"heartbeat_timeout": "1s"}}).start()

alive = ThreadedDealer(gw.endpoint, service_name="Alive",
                       heartbeat_interval=0.25).start()

sid = "RefService-5113e47a"
d = RawPeer(gw.endpoint, identity=sid)
d.register()
is_(d.recv(), [b"register_ack", b""], "the dealer registers")
t0 = time.monotonic()
ok("RefService.echo" in gw.methods(), "its method is offered")


def state():
    return gw.clusters().get(sid, {}).get("state")


ok(wait_until(lambda: state() == "inactive", timeout=4.0, interval=0.05),
   "after it stays silent, clusters lists it as inactive")
cmp_ok(time.monotonic() - t0, ">=", 0.9, "not before heartbeat_timeout")
ok("RefService.echo" not in gw.methods(),
   "its method is no longer offered")
info = gw.info()
is_((info.get("inactive_services_count"), info.get("active_services_count"),
     info.get("total_services_count")), (1, 1, 2),
    "router_info counts one inactive and one active dealer")
is_(gw.clusters().get(alive.service_id, {}).get("state"), "active",
    "a dealer that heartbeats every 250 ms stays active")
ok("Alive.echo" in gw.methods(), "and its methods stay offered")

ok(wait_until(lambda: sid not in gw.clusters(), timeout=14.0, interval=0.25),
   "the inactive record is removed later")
cmp_ok(time.monotonic() - t0, ">=", 9.0,
       "after about 10 x heartbeat_timeout")
is_(gw.clusters().get(alive.service_id, {}).get("state"), "active",
    "the heartbeating dealer is still active")
ok(not alive.deadlocked and alive.reconnects == 0,
   "and never missed an ack")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
