#!/usr/bin/python3
# load_balance mode sends each call to the dealer with the lowest load
# ratio, in flight / capacity (B.3): while one dealer holds a long call,
# every short call goes to the other one, although both have free capacity.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"mode": "load_balance"}}).start()
is_(gw.info().get("mode"), "load_balance", "router_info shows the mode")
one = ThreadedDealer(gw.endpoint, max_concurrent=2).start()
two = ThreadedDealer(gw.endpoint, max_concurrent=2).start()

long_call = RawPeer(gw.endpoint, identity="client-42-long")
window = scaled(3.0)           # the long call runs this long
rid = long_call.call("RefService.slow", window)
ok(wait_until(lambda: one.calls or two.calls), "a long call starts")
loaded, idle = (one, two) if one.calls else (two, one)

py = PyClient(gw.endpoint).connect()
seq = [py.invoke("RefService.whoami")[0] for _ in range(6)]
is_(seq, [idle.service_id] * 6,
    "every short call goes to the dealer without load")
is_(long_call.recv_json(5)[1].get("result"), {"slept": window},
    "the long call completes")
is_(len(loaded.calls), 1, "the loaded dealer got nothing else")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
