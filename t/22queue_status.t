#!/usr/bin/python3
# The load while one slow call runs and a second one waits: queue_status
# shows queue_length / available_services / busy_services per method, and
# router_info counts each request once (A.12.7 as amended by B.5), and the
# dealer's current_load in clusters.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()
dealer = ThreadedDealer(gw.endpoint).start()

status = gw.queue_status()
ok(isinstance(status, dict), "queue_status answers a mapping")

first = RawPeer(gw.endpoint, identity="client-22-1")
second = RawPeer(gw.endpoint, identity="client-22-2")
window = scaled(2.0)           # the first call runs this long
rid1 = first.call("RefService.slow", window)
ok(dealer.wait_event("call"), "the first slow call reaches the dealer")
rid2 = second.call("RefService.slow", 0.1)
ok(wait_until(lambda: gw.queue_status().get("RefService.slow", {})
              .get("queue_length") == 1), "the second one waits in the queue")

stat = gw.queue_status().get("RefService.slow", {})
is_(missing_keys(stat, QUEUE_STAT_KEYS), [], "QueueStat has every key of A.3")
is_({k: stat.get(k) for k in QUEUE_STAT_KEYS},
    {"queue_length": 1, "available_services": 0, "busy_services": 1},
    "one waiting, no free dealer, one busy dealer")
info = gw.info()
is_({k: info.get(k) for k in ("requests_in_process", "requests_in_queue",
                              "busy_services_count", "idle_services_count",
                              "total_requests")},
    {"requests_in_process": 1, "requests_in_queue": 1,
     "busy_services_count": 1, "idle_services_count": 0, "total_requests": 2},
    "router_info counts one request in process, one in the queue")
is_(gw.clusters()[dealer.service_id].get("current_load"), 1,
    "clusters shows the dealer's current_load as 1")

is_(first.recv_json(5)[1], {"type": "reply", "request_id": rid1,
                            "result": {"slept": window}},
    "the first call ends")
is_(second.recv_json(5)[1], {"type": "reply", "request_id": rid2,
                             "result": {"slept": 0.1}},
    "then the second one runs and ends")
is_({k: gw.queue_status().get("RefService.slow", {}).get(k)
     for k in QUEUE_STAT_KEYS},
    {"queue_length": 0, "available_services": 1, "busy_services": 0},
    "afterwards the queue is empty and the dealer available")
info = gw.info()
is_((info.get("requests_in_process"), info.get("requests_in_queue"),
     info.get("idle_services_count")), (0, 0, 1),
    "and router_info shows no load")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
