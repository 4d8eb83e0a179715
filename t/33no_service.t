#!/usr/bin/python3
# A call for a method no live dealer offers ends with no_service, at once
# by default (B.2, B.5; the Python router queued it forever).  With
# router.no_service_wait it waits that long for a dealer to come.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
ThreadedDealer(gw.endpoint).start()
c = RawPeer(gw.endpoint, identity="client-33")

for method in ("Nobody.here", "RefService.nope"):
    t0 = time.monotonic()
    rid = c.call(method)
    msg = c.recv(2)
    is_(error_code(msg, rid), "no_service", "%s ends with no_service" % method)
    cmp_ok(time.monotonic() - t0, "<", scaled(0.5), "%s: at once" % method)
    is_(c.expect_nothing(0.3), None, "%s: and nothing else" % method)
is_(PyClient(gw.endpoint).connect().invoke("RefService.echo", 1), [1],
    "the gateway goes on serving")
is_(gw.stop(), 0, "the gateway exits 0")

gw = Gateway({"router": {"no_service_wait": duration(1.5)}}).start()
c = RawPeer(gw.endpoint, identity="client-33")
t0 = time.monotonic()
rid = c.call("RefService.echo", "late")
msg = c.recv(3 + 1.5)
elapsed = time.monotonic() - t0
is_(error_code(msg, rid), "no_service",
    "with no_service_wait, a call nobody takes still ends with no_service")
cmp_ok(elapsed, ">=", scaled(1.5) - 0.3, "after about no_service_wait")

rid = c.call("RefService.echo", "late")
is_(c.expect_nothing(0.5), None, "a waiting call is not answered at once")
dealer = ThreadedDealer(gw.endpoint).start()
is_(c.recv_json(), ("reply_from_router", {"type": "reply", "request_id": rid,
                                          "result": "late"}),
    "a dealer that registers meanwhile takes it")
is_(gw.stop(), 0, "the gateway exits 0")

done_testing()
