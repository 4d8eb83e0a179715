#!/usr/bin/python3
# The A.12 transcripts, replayed with the Python-style peers (threaded and
# asyncio dealers, ClientDealer) and checked frame by frame on both ends, as
# amended by Part B: what a client sends reaches the dealer with its identity
# inserted, what a dealer sends reaches the client byte for byte.
import os, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *


def frames(peer, way, kinds, since=0):
    return [f for t, w, f in peer.wire[since:] if w == way and f[0] in kinds]


def relay(client, dealer, action):
    """Runs action(); returns what it returned and whether every call the
    client sent meanwhile reached the dealer, and every reply the dealer
    sent reached the client, unchanged (plus the frames, for diag)."""
    c0, d0 = len(client.wire), len(dealer.wire)
    try:
        result = action()
    except RuntimeError as e:
        result = e
    calls = frames(client, "out", (b"call_from_client",), c0)
    got = frames(dealer, "in", (b"call_from_router",), d0)
    replies = frames(dealer, "out", (b"reply_from_dealer",), d0)
    back = frames(client, "in", (b"reply_from_router",), c0)
    same = (got == [[b"call_from_router", client.identity] + f[1:] for f in calls]
            and back == [[b"reply_from_router", f[2]] for f in replies]
            and len(calls) > 0 and len(replies) > 0)
    if not same:
        diag("client sent %r\ndealer got %r\ndealer sent %r\nclient got %r"
             % (calls, got, replies, back))
    return result, same


# `voidrail router`, as the transcripts' Python router ran: --heartbeat 1
# expires idle dealers after 1 + 3 s.
gw = Gateway(router_args=["--heartbeat", "1"]).start()

# A.12.1 register + heartbeat
td = ThreadedDealer(gw.endpoint).start()
ok(td.wait_event("heartbeat_ack"),
   "A.12.1: the threaded dealer's first heartbeat is acknowledged")
is_(frames(td, "in", (b"register_ack", b"heartbeat_ack"))[:2],
    [[b"register_ack", b""], [b"heartbeat_ack", b""]],
    "A.12.1: register_ack, then heartbeat_ack")

# A.12.2 discovery
py = PyClient(gw.endpoint).connect()
is_(py.wire[0][2], [b"methods", b""], "A.12.2: the client asks for methods")
is_(py.wire[1][2][0], b"methods_ack", "A.12.2: and gets methods_ack")
is_(py.available, {"RefService." + n: m.meta() for n, m in td.methods.items()},
    "A.12.2: with every RefService method and its metadata")
clusters = py.discover_clusters()
is_((list(clusters), clusters.get(td.service_id, {}).get("state")),
    ([td.service_id], "active"), "A.12.2: clusters lists the active dealer")
py.discover_services()

# A.12.3 invoke, args and kwargs
is_(relay(py, td, lambda: py.invoke("RefService.echo", "hello")),
    (["hello"], True), "A.12.3: echo 'hello' is relayed both ways unchanged")
is_(relay(py, td, lambda: py.invoke("RefService.add", a=40, b=2)),
    ([42], True), "A.12.3: add(a=40, b=2) with kwargs")

# A.12.4 stream
is_(relay(py, td, lambda: py.invoke("RefService.count", 3)),
    ([{"i": 0}, {"i": 1}, {"i": 2}], True),
    "A.12.4: count(3): three chunks and the end, unchanged")
is_(relay(py, td, lambda: list(py.stream("RefService.astream", 3, delay=0.05))),
    ([0, 1, 2], True), "A.12.4: an async generator on the threaded dealer")

# A.12.5 errors
result, same = relay(py, td, lambda: py.invoke("RefService.fail", "kaputt"))
is_((repr(result), same), (repr(RuntimeError("kaputt")), True),
    "A.12.5: fail raises RuntimeError('kaputt'), relayed unchanged")
result, same = relay(py, td, lambda: py.invoke("RefService.fail_stream"))
is_((repr(result), same), (repr(RuntimeError("stream broke")), True),
    "A.12.5: a broken stream raises RuntimeError('stream broke')")
ad = AsyncDealer(gw.endpoint, service_name="AsyncService").start()
result, same = relay(py, ad, lambda: py.invoke("AsyncService.fail", "kaputt"))
is_((repr(result), same),
    (repr(RuntimeError("Method execution error: kaputt")), True),
    "A.12.5: the asyncio dealer's error text")

# A.12.6 unknown method: caught by the client, nothing sent
n = len(py.wire)
try:
    py.invoke("RefService.nope")
    ok(False, "A.12.6: an unknown method raises")
except RuntimeError as e:
    like(str(e), r"Streaming method 'RefService.nope' not found",
         "A.12.6: an unknown method raises on the client")
is_([f[0] for t, w, f in py.wire[n:] if w == "out"], [b"methods"],
    "A.12.6: after asking for methods once more, nothing is sent")

# A.12.7 router_info; two slow calls on one dealer
info = py.get_router_info()
is_(missing_keys(info, ROUTER_INFO_KEYS), [],
    "A.12.7: router_info has every key")
results = {}


def call_slow(name, seconds):
    results[name] = PyClient(gw.endpoint).connect().invoke(
        "RefService.slow", seconds)


calls_before = td.count_events("call")
first = threading.Thread(target=call_slow, args=("first", scaled(1.0)))
first.start()
td.wait_event("call", count=calls_before + 1)
second = threading.Thread(target=call_slow, args=("second", 0.2))
second.start()
wait_until(lambda: py.get_queue_status().get("RefService.slow", {})
           .get("queue_length") == 1)
stat = py.get_queue_status().get("RefService.slow", {})
is_({k: stat.get(k) for k in QUEUE_STAT_KEYS},
    {"queue_length": 1, "available_services": 0, "busy_services": 1},
    "A.12.7: queue_status while one slow call runs and one waits")
info = py.get_router_info()
is_((info.get("busy_services_count"), info.get("requests_in_process"),
     info.get("requests_in_queue")), (1, 1, 1),
    "A.12.7: router_info counts the running request once (B.5)")
first.join(scaled(5))
second.join(scaled(5))
is_(results, {"first": [{"slept": scaled(1.0)}], "second": [{"slept": 0.2}]},
    "A.12.7: both complete")

# A.12.9 amended: a stream holds its dealer until the end (B.2)
raw = RawPeer(gw.endpoint, identity="rawB")
a0 = len(ad.wire)
rid_stream = raw.call("AsyncService.astream", 3, kwargs={"delay": 0.3})
rid_fail = raw.call("AsyncService.fail_stream")
got = [loads(m[-1]) for m in [raw.recv(3) for _ in range(7)] if m]
is_([(g.get("request_id"), g.get("type")) for g in got],
    [(rid_stream, "streaming")] * 3 + [(rid_stream, "end"),
     (rid_fail, "streaming"), (rid_fail, "streaming"), (None, "error")],
    "A.12.9: the second call runs only after the stream's end")

# A.12.10: one client, two calls at once on two dealers
td2 = ThreadedDealer(gw.endpoint).start()
raw = RawPeer(gw.endpoint, identity="raw-70-10")
rid_slow = raw.call("RefService.slow", 0.5)
rid_echo = raw.call("RefService.echo", "second")
got = [raw.recv_json(3)[1] for _ in range(2)]
is_([g.get("request_id") if isinstance(g, dict) else g for g in got],
    [rid_echo, rid_slow],
    "A.12.10: two calls of one client run at once on two dealers")

# A.12.11: the asyncio dealer leaves
ad.stop()
ok(ad.service_id not in gw.clusters(), "A.12.11: a dealer that leaves is gone")

is_(gw.stop(), 0, "the gateway exits 0")

# A.12.8 auth
gw = Gateway(router_args=["--dealer-keys", "dk1", "--client-keys", "ck1",
                          "--require-auth"], admin_key="ck1").start()
rogue = ThreadedDealer(gw.endpoint, api_key="wrong").start(wait=False)
event = rogue.wait_event("error")
is_(event and event[2].get("error"),
    "Registration failed: invalid API key or other issue",
    "A.12.8: a dealer with a wrong key is refused")
keyed = ThreadedDealer(gw.endpoint, api_key="dk1").start()
ok(keyed.count_events("register_ack") == 1, "A.12.8: the right key registers")
is_(PyClient(gw.endpoint, api_key="ck1").connect().invoke(
    "RefService.echo", "in"), ["in"], "A.12.8: a client with the right key calls")
for key in ("nope", None):
    try:
        PyClient(gw.endpoint, api_key=key).connect()
        ok(False, "A.12.8: a client with key %r is refused" % key)
    except RuntimeError as e:
        is_(str(e), "Not authenticated",
            "A.12.8: a client with key %r gets Not authenticated" % key)
is_(rogue.count_events("register_ack"), 0,
    "A.12.8: the refused dealer never got register_ack")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
