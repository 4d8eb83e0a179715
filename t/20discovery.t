#!/usr/bin/python3
# Discovery: methods_ack lists "<group>.<name>" -> MethodMeta of active
# dealers; clusters_ack lists every dealer with all ServiceInfo keys of A.3.
# Dealer classes sharing a group merge into one namespace; the first
# registered dealer's metadata wins.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()

dealer = ThreadedDealer(gw.endpoint, methods=list(ref_methods().values()) + [
    Method(echo, name="tagged", description="an echo", version="2",
           tags=["a", "b"])]).start()
expected = {"RefService." + n: m.meta() for n, m in dealer.methods.items()}

c = RawPeer(gw.endpoint, identity="client-20")
kind, body = c.command("methods")
is_(kind, "methods_ack", "methods is answered with methods_ack")
ok(isinstance(body, dict) and body.get("type") == "reply"
   and isinstance(body.get("request_id"), str) and body.get("request_id"),
   "as a Reply with a request_id")
result = body.get("result") if isinstance(body, dict) else None
is_(result, expected, "result maps every <group>.<name> to its MethodMeta")
is_(result.get("RefService.add"),
    {"description": "Add two numbers",
     "params": {"a": "first number", "b": "second number"},
     "stream": False, "metadata": {}},
    "description and params are passed on")
is_((result["RefService.count"]["stream"], result["RefService.astream"]["stream"],
     result["RefService.echo"]["stream"]), (True, True, False),
    "generators are marked as streams")
is_(result.get("RefService.tagged", {}).get("metadata"),
    {"version": "2", "tags": ["a", "b"]}, "extra decorator keys are metadata")

kind, body = c.command("clusters")
is_(kind, "clusters_ack", "clusters is answered with clusters_ack")
result = body.get("result", {}) if isinstance(body, dict) else {}
is_(list(result), [dealer.service_id], "it lists the one dealer by service_id")
info = result.get(dealer.service_id, {})
is_(missing_keys(info, SERVICE_INFO_KEYS), [],
    "the ServiceInfo has every key of A.3")
is_({k: info.get(k) for k in ("service_id", "group", "state", "current_load",
                               "request_count", "reply_count")},
    {"service_id": dealer.service_id, "group": "RefService", "state": "active",
     "current_load": 0, "request_count": 0, "reply_count": 0},
    "service_id, group, state and counters")
is_(info.get("methods"), expected, "its methods are full names with MethodMeta")
last = info.get("last_heartbeat")
ok(isinstance(last, (int, float)) and abs(last - time.time()) < 60,
   "last_heartbeat is epoch seconds") or diag(last)

PyClient(gw.endpoint).connect().invoke("RefService.echo", 1)
info = gw.clusters().get(dealer.service_id, {})
is_((info.get("request_count"), info.get("reply_count")), (1, 1),
    "request_count and reply_count count a call")

# another class in the same group adds its names; the first dealer's
# metadata wins for the names both offer
later = ThreadedDealer(gw.endpoint, service_name="Extra", group="RefService",
                       methods=[Method(echo, description="later echo"),
                                Method(add, name="extra")]).start()
result = gw.methods()
ok("RefService.extra" in result, "a second class in the group adds its methods")
is_(result.get("RefService.echo", {}).get("description"), None,
    "for a shared name the first registered dealer's metadata wins")
is_(len(gw.clusters()), 2, "clusters lists both dealers")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
