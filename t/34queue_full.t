#!/usr/bin/python3
# Each method's queue is bounded (B.3): router.max_queue for all, or a
# per-method max_queue under router.methods.  A call beyond the bound ends
# with queue_full at once; the calls already queued are served.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"max_queue": 2,
                         "methods": {"RefService.slow": {"max_queue": 1}}}}
             ).start()
dealer = ThreadedDealer(gw.endpoint).start()

busy = RawPeer(gw.endpoint, identity="client-34-busy")
window = scaled(1.5)           # the dealer stays busy this long
busy_rid = busy.call("RefService.slow", window)
ok(dealer.wait_event("call"), "a slow call occupies the only dealer")


def queue_length(method):
    return gw.queue_status().get(method, {}).get("queue_length")


clients = {}
for method, limit in (("RefService.echo", 2), ("RefService.slow", 1)):
    accepted = []
    for i in range(limit):
        c = RawPeer(gw.endpoint, identity="client-34-%s-%d" % (method[11:], i))
        rid = c.call(method, 0.1)
        ok(wait_until(lambda: queue_length(method) == i + 1),
           "%s: call %d is queued" % (method, i + 1))
        accepted.append((c, rid))
    clients[method] = accepted
    c = RawPeer(gw.endpoint, identity="client-34-%s-over" % method[11:])
    t0 = time.monotonic()
    rid = c.call(method, 0.1)
    is_(error_code(c.recv(2), rid), "queue_full",
        "%s: the call beyond max_queue %d ends with queue_full"
        % (method, limit))
    cmp_ok(time.monotonic() - t0, "<", scaled(0.5), "%s: at once" % method)
    is_(queue_length(method), limit, "%s: the queue keeps its %d calls"
        % (method, limit))

is_(busy.recv_json(5)[1].get("result"), {"slept": window},
    "the slow call ends")
for method, accepted in clients.items():
    for c, rid in accepted:
        kind, body = c.recv_json(5)
        is_((kind, body.get("type") if isinstance(body, dict) else body,
             body.get("request_id") if isinstance(body, dict) else None),
            ("reply_from_router", "reply", rid),
            "%s: a queued call is served" % method)

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
