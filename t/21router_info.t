#!/usr/bin/python3
# router_info has every key of A.3 with true values, and its counters are
# right (B.5): total_requests counts calls, total_responses counts finished
# requests, stream chunks are counted apart in total_stream_chunks.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"heartbeat_timeout": "3s",
                         "busy_timeout": "20s"}}).start()
dealer = ThreadedDealer(gw.endpoint).start()

c = RawPeer(gw.endpoint, identity="client-21")
kind, body = c.command("router_info")
is_(kind, "router_info_ack", "router_info is answered with router_info_ack")
ok(isinstance(body, dict) and body.get("type") == "reply"
   and isinstance(body.get("request_id"), str), "as a Reply")
info = body.get("result", {}) if isinstance(body, dict) else {}
is_(missing_keys(info, ROUTER_INFO_KEYS + ("total_stream_chunks",)), [],
    "it has every key of A.3 and total_stream_chunks")
is_(info.get("mode"), "fifo", "mode is fifo by default")
is_(info.get("address"), gw.endpoint, "address is the bind endpoint")
is_((info.get("idle_heartbeat_timeout"), info.get("busy_heartbeat_timeout")),
    (3, 20), "the idle and busy timeouts are router.heartbeat_timeout and "
    "router.busy_timeout in seconds")
ok(isinstance(info.get("max_busy_without_heartbeat"), (int, float)),
   "max_busy_without_heartbeat is a number")
ok(isinstance(info.get("uptime"), int) and info["uptime"] >= 0,
   "uptime is whole seconds")
is_({k: info.get(k) for k in (
    "active_services_count", "busy_services_count", "idle_services_count",
    "inactive_services_count", "total_services_count", "total_requests",
    "total_responses", "total_stream_chunks", "requests_in_process",
    "requests_in_queue", "client_api_keys_require",
    "dealer_api_keys_require")},
    {"active_services_count": 1, "busy_services_count": 0,
     "idle_services_count": 1, "inactive_services_count": 0,
     "total_services_count": 1, "total_requests": 0, "total_responses": 0,
     "total_stream_chunks": 0, "requests_in_process": 0,
     "requests_in_queue": 0, "client_api_keys_require": False,
     "dealer_api_keys_require": False},
    "the counts of one idle dealer and no traffic")
is_(info.get("service_by_group"),
    {"RefService": {"count": 1, "sources": {dealer.remote_addr: 1}}},
    "service_by_group counts the dealer by its remote_addr")
is_(info.get("service_sources"),
    {"%s (RefService)" % dealer.remote_addr: [dealer.service_id]},
    "service_sources lists its service_id")

py = PyClient(gw.endpoint).connect()
is_(py.invoke("RefService.echo", "x"), ["x"], "one call")
is_(py.invoke("RefService.count", 3), [{"i": 0}, {"i": 1}, {"i": 2}],
    "one stream of three chunks")
try:
    py.invoke("RefService.fail", "no")
except RuntimeError:
    pass
info = gw.info()
is_({k: info.get(k) for k in ("total_requests", "total_responses",
                              "total_stream_chunks", "requests_in_process",
                              "requests_in_queue")},
    {"total_requests": 3, "total_responses": 3, "total_stream_chunks": 3,
     "requests_in_process": 0, "requests_in_queue": 0},
    "three calls, three finished requests, three chunks counted apart")
sleep(1.1)
cmp_ok(gw.info().get("uptime", -1), ">=", 1, "uptime grows")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
