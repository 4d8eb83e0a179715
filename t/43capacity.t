#!/usr/bin/python3
# Dealer capacity (B.3): how many requests a dealer holds at once.  1 by
# default; a dealer may announce max_concurrent in register; the config sets
# router.dealer_capacity (the default) and router.services.<group>.capacity.
# Calls beyond the capacity wait in the queue.  A reload computes the
# capacities of the dealers already registered again.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrops import *


def check_capacity(gw, dealer, capacity, what):
    """Sends capacity + 1 slow calls from as many clients; the dealer must
    hold `capacity` of them at once while the last one waits."""
    method = dealer.group + ".slow"
    clients = []
    for i in range(capacity + 1):
        c = RawPeer(gw.endpoint, identity="client-43-%s-%d" % (dealer.group, i))
        clients.append((c, c.call(method, scaled(1.0))))
    ok(wait_until(lambda: len(dealer.calls) == capacity),
       "%s: the dealer runs %d calls at once" % (what, capacity))
    ok(wait_until(lambda: gw.queue_status().get(method, {})
                  .get("queue_length") == 1), "%s: one call waits" % what)
    is_(len(dealer.calls), capacity, "%s: and not more" % what)
    answered = [c.recv_json(6)[1] for c, rid in clients]
    is_([a.get("request_id") if isinstance(a, dict) else a for a in answered],
        [rid for c, rid in clients], "%s: all calls are answered" % what)


gw = Gateway().start()
check_capacity(gw, ThreadedDealer(gw.endpoint, service_name="Narrow").start(),
               1, "default")
check_capacity(gw, ThreadedDealer(gw.endpoint, service_name="Wide",
                                  max_concurrent=2).start(),
               2, "max_concurrent 2 in register")
is_(gw.stop(), 0, "the gateway exits 0")

gw = Gateway({"router": {"dealer_capacity": 3,
                         "services": {"Pair": {"capacity": 2}}}}).start()
check_capacity(gw, ThreadedDealer(gw.endpoint, service_name="Plain").start(),
               3, "router.dealer_capacity 3")
check_capacity(gw, ThreadedDealer(gw.endpoint, service_name="Pair").start(),
               2, "router.services.Pair.capacity 2")
is_(gw.stop(), 0, "the gateway exits 0")

# The same dealers, before and after reloads that change the capacities.
conf = {"router": {"dealer_capacity": 1}}
gw = OpsGateway(conf).start()
grow = ThreadedDealer(gw.endpoint, service_name="Grow").start()
capped = ThreadedDealer(gw.endpoint, service_name="Capped",
                        max_concurrent=3).start()
check_capacity(gw, grow, 1, "before the reload")
conf["router"] = {"dealer_capacity": 2, "max_capacity": 2}
last = gw.reload(conf)
ok(last and last.get("ok"), "reload: dealer_capacity 2, max_capacity 2")
grow.calls.clear()
check_capacity(gw, grow, 2, "dealer_capacity 2 after a reload")
check_capacity(gw, capped, 2, "max_concurrent 3, max_capacity 2 after a "
               "reload")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
