#!/usr/bin/python3
# One method's queue is first in, first out (A.7, B.3): calls that wait for
# a busy dealer reach it in the order they arrived.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
dealer = ThreadedDealer(gw.endpoint).start()

blocker = RawPeer(gw.endpoint, identity="client-40-blocker")
blocker.call("RefService.slow", scaled(1.0))
ok(dealer.wait_event("call"), "a slow call occupies the dealer")

clients, order = [], []
for i in range(6):
    c = RawPeer(gw.endpoint, identity="client-40-%d" % i)
    order.append(c.call("RefService.echo", i))
    clients.append(c)
    ok(wait_until(lambda: gw.queue_status().get("RefService.echo", {})
                  .get("queue_length") == i + 1),
       "call %d is queued" % i)

for i, c in enumerate(clients):
    is_(c.recv_json(5)[1], {"type": "reply", "request_id": order[i],
                            "result": i}, "call %d is answered" % i)
is_([r.get("request_id") for r in dealer.calls[1:]], order,
    "the dealer got the queued calls in arrival order")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
