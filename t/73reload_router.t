#!/usr/bin/python3
# What a reload changes in the router section, each seen in behaviour from
# the next request on (router.max_queue, request_timeout and a per-method
# timeout are t/73reload_changes.t's, dealer_capacity and max_capacity
# t/43capacity.t's): router.mode (fifo to load_balance: short calls stop
# going to the dealer that holds a long one), router.services.<group>.
# capacity (a dealer of the group takes a queued call at once),
# router.max_message (a larger call ends with bad_request),
# router.no_service_wait (a call for a method nobody offers waits for a
# dealer), router.methods.<glob>.max_queue (queue_full) and max_attempts
# (a call whose dealer is lost goes to another), router.probe_interval
# (a busy dealer gets heartbeat_acks), router.max_capable_clients (the
# clients whose announced request_id_errors are remembered: trimmed to the
# ones seen last, then bounded), router.heartbeat_timeout and
# busy_timeout (a silent dealer expires sooner, a busy one later).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

conf = {"router": {"mode": "fifo", "heartbeat_timeout": duration(30),
                   "busy_timeout": duration(60), "probe_interval": "30s",
                   "request_timeout": duration(60)},
        "http": {"access_log": "off"}}
gw = OpsGateway(conf).start()


def reload(**router):
    conf["router"].update(router)
    last = gw.reload(conf)
    return bool(last and last.get("ok"))


serial = [0]


def raw_dealer(group, methods=("m",)):
    serial[0] += 1
    d = RawPeer(gw.endpoint, identity="%s-%08d" % (group, 73100 + serial[0]))
    d.register(group=group, methods=methods)
    is_(d.recv(), [b"register_ack", b""], "dealer %s registers" %
        d.identity.decode())
    return d


def answer(d, c, result=0):
    d.reply(c.cid, {"type": "reply", "request_id": c.request_id,
                    "result": result})


client = RawPeer(gw.endpoint, identity="client-73r")
box = Answers(client)


def call(method, *args):
    """A call from a client of its own (a dealer holds one request of a
    client at a time): (its answers, the request_id)."""
    serial[0] += 1
    peer = RawPeer(gw.endpoint, identity="client-73r-%d" % serial[0])
    return Answers(peer), peer.call(method, *args)


def get(handle, timeout=3.0):
    return handle[0].get(handle[1], timeout)


# -- router.mode --
one = ThreadedDealer(gw.endpoint, max_concurrent=2).start()
two = ThreadedDealer(gw.endpoint, max_concurrent=2).start()
window = scaled(6.0)
long_rid = client.call("RefService.slow", window)
ok(wait_until(lambda: one.calls or two.calls), "a long call starts")
loaded, idle = (one, two) if one.calls else (two, one)
py = PyClient(gw.endpoint).connect()
seq = [py.invoke("RefService.whoami")[0] for _ in range(6)]
ok(loaded.service_id in seq and idle.service_id in seq,
   "fifo: the short calls go to both dealers in turn")
ok(reload(mode="load_balance"), "reload: router.mode load_balance")
seq = [py.invoke("RefService.whoami")[0] for _ in range(6)]
is_(seq, [idle.service_id] * 6, "load_balance: every short call goes to "
    "the dealer without load")
is_(box.get(long_rid, window + 5), "reply", "the long call completes")
one.stop()
two.stop()

# -- router.services.<group>.capacity --
cap = raw_dealer("Cap")
first = call("Cap.m", 1)
second = call("Cap.m", 2)
c1 = cap.expect_call(3)
ok(c1 is not None, "capacity 1: the dealer gets one call")
is_(cap.expect_call(0.5), None, "and not the second")
ok(reload(services={"Cap": {"capacity": 2}}),
   "reload: router.services.Cap.capacity 2")
c2 = cap.expect_call(3)
ok(c2 is not None and c2.request_id == second[1],
   "the queued call reaches the dealer at once")
answer(cap, c1)
answer(cap, c2)
is_([get(first), get(second)], ["reply", "reply"],
    "both are answered")

# -- router.max_message --
big = "x" * 6000
rid = client.call("Cap.m", big)
c = cap.expect_call(3)
ok(c is not None, "router.max_message 16MiB: a 6 KB call reaches the dealer")
answer(cap, c)
is_(box.get(rid), "reply", "and is answered")
ok(reload(max_message="4KiB"), "reload: router.max_message 4KiB")
rid = client.call("Cap.m", big)
is_(box.get(rid), "bad_request", "now a 6 KB call ends with bad_request")
is_(cap.expect_call(0.3), None, "it does not reach the dealer")
rid = client.call("Cap.m", "small")
c = cap.expect_call(3)
ok(c is not None, "a small call still does")
answer(cap, c)
is_(box.get(rid), "reply", "and is answered")

# -- router.no_service_wait --
rid = client.call("Late.m", 1)
is_(box.get(rid), "no_service", "no_service_wait 0s: a call for a method "
    "nobody offers ends with no_service")
ok(reload(no_service_wait=duration(5)), "reload: router.no_service_wait 5s")
rid = client.call("Late.m", 2)
is_(box.get(rid, 0.5), None, "now such a call waits")
late = raw_dealer("Late")
c = late.expect_call(3)
ok(c is not None and c.request_id == rid, "a dealer that comes takes it")
answer(late, c)
is_(box.get(rid), "reply", "and answers it")

# -- router.methods.<glob>.max_queue --
held = call("Cap.m", "held-1")
held2 = call("Cap.m", "held-2")
h1, h2 = cap.expect_call(3), cap.expect_call(3)
ok(h1 and h2, "the Cap dealer holds two calls (its capacity)")
q1 = call("Cap.m", "q1")
q2 = call("Cap.m", "q2")
ok(wait_until(lambda: (gw.queue_status().get("Cap.m") or {})
              .get("queue_length") == 2), "two more wait in the queue")
ok(reload(methods={"Cap.*": {"max_queue": 2}}),
   "reload: router.methods Cap.* max_queue 2")
is_(get(call("Cap.m", "q3")), "queue_full",
    "the next call ends with queue_full")
r = gw.post("/invoke/Cap.m", json=["q4"])
is_(r and r.status, 429, "over HTTP too: 429")
ok(reload(methods={"Cap.*": {"max_queue": 3}}), "reload: max_queue 3")
q3 = call("Cap.m", "q3")
ok(wait_until(lambda: (gw.queue_status().get("Cap.m") or {})
              .get("queue_length") == 3), "a third call is queued")
answer(cap, h1)
answer(cap, h2)
for _ in range(3):
    c = cap.expect_call(3)
    ok(c is not None, "the dealer gets %s" % (c and c.request["args"]))
    if c is not None:
        answer(cap, c)
is_([get(h) for h in (held, held2, q1, q2, q3)], ["reply"] * 5,
    "all five are answered")

# -- router.probe_interval --
probe = raw_dealer("Probe")
rid = client.call("Probe.m", 1)
c = probe.expect_call(3)
ok(c is not None, "a dealer holds a call")
is_(probe.collect(1.2), [], "probe_interval 30s: no heartbeat_ack meanwhile")
answer(probe, c)
is_(box.get(rid), "reply", "(answered)")
ok(reload(probe_interval="200ms"), "reload: router.probe_interval 200ms")
rid = client.call("Probe.m", 2)
c = probe.expect_call(3)
got = probe.collect(1.2)
ok(got and all(m == [b"heartbeat_ack", b""] for m in got) and
   len(got) >= 3, "now the busy dealer gets heartbeat_acks (%d)" % len(got))
answer(probe, c)
is_(box.get(rid), "reply", "(answered)")

# -- router.max_attempts --
ok(reload(probe_interval="100ms"), "reload: router.probe_interval 100ms")
w1, w2 = raw_dealer("Wire"), raw_dealer("Wire")



rid = client.call("Wire.m", 1)
lost, c = call_on([w1, w2])
ok(c is not None, "a call reaches a Wire dealer")
lost.close()
is_(box.get(rid, 5), "dealer_lost", "max_attempts 1: when it is lost the "
    "call ends with dealer_lost")
w3 = raw_dealer("Wire")
ok(reload(methods={"Wire.*": {"max_attempts": 2}}),
   "reload: router.methods Wire.* max_attempts 2")
left = [d for d in (w1, w2, w3) if d is not lost]
rid = client.call("Wire.m", 2)
lost, c = call_on(left)
ok(c is not None, "a call reaches a Wire dealer")
lost.close()
left.remove(lost)
other, again = call_on(left)
ok(again is not None and again.request_id == rid,
   "when it is lost the call goes to the other one")
if again is not None:
    answer(other, again, 2)
is_(box.get(rid), "reply", "which answers it")

# -- router.max_capable_clients --
caps = raw_dealer("Caps")


def capable_client(name):
    """A client logged in announcing request_id_errors (as libvoidrail)."""
    c = RawPeer(gw.endpoint, identity="client-73caps-%s" % name)
    login(c)
    return c


def login(c):
    c.send(["auth", {"api_key": None, "client_id": c.identity.decode(),
                     "capabilities": ["request_id_errors"]}])
    is_(c.recv_json()[0], "auth_ack", "%s logs in announcing "
        "request_id_errors" % c.identity.decode())


def named(*clients):
    """For each client: does a dealer's error without a request_id (a
    Python dealer's) reach it with its request_id added?"""
    out = []
    for c in clients:
        rid = c.call("Caps.m")
        got = caps.expect_call(3)
        if got is not None:
            caps.reply(got.cid, {"type": "error", "error": "kaputt"})
        body = loads((c.recv(3) or [b"", b"null"])[-1]) or {}
        out.append(body.get("request_id") == rid if body.get("error")
                   == "kaputt" else None)
    return out


c1, c2, c3 = [capable_client(n) for n in ("1", "2", "3")]
is_(named(c1, c2, c3), [True, True, True], "max_capable_clients 100000: "
    "all three are remembered")
ok(reload(max_capable_clients=1), "reload: router.max_capable_clients 1")
is_(named(c1, c2, c3), [False, False, True],
    "only the one seen last is remembered")
ok(reload(max_capable_clients=2), "reload: router.max_capable_clients 2")
login(c1)
is_(named(c1, c2, c3), [True, False, True],
    "a client that logs in again is remembered beside it")
login(c2)
is_(named(c1, c2, c3), [False, True, True],
    "a third one makes the one seen least recently forgotten")
ok(reload(max_capable_clients=0), "reload: router.max_capable_clients 0")
is_(named(c1, c2, c3), [False, False, False], "none is remembered")
login(c1)
is_(named(c1), [False], "not even one that logs in again")

# -- router.heartbeat_timeout and busy_timeout --
quiet = raw_dealer("Quiet")
busy = raw_dealer("Busy")
t_last = time.monotonic()               # neither says anything from now on
rid = client.call("Busy.m", 1)
ok(busy.expect_call(3) is not None, "a dealer holds a call, another is idle")
time.sleep(scaled(1.5))
is_([gw.dealer_state(d.identity.decode()) for d in (quiet, busy)],
    ["active", "active"], "heartbeat_timeout 30s: both silent 1.5 s, "
    "both active")
t0 = time.monotonic()
ok(reload(heartbeat_timeout=duration(1), busy_timeout=duration(4)),
   "reload: heartbeat_timeout 1s, busy_timeout 4s")
ok(wait_until(lambda: gw.dealer_state(quiet.identity.decode()) != "active",
              3), "the idle dealer expires")
is_(gw.dealer_state(busy.identity.decode()), "active",
    "the busy one is still there (%.1fs)" % (time.monotonic() - t0))
is_(box.get(rid, 8), "dealer_lost", "after busy_timeout it expires too: "
    "its call ends with dealer_lost")
took = time.monotonic() - t_last
ok(took >= scaled(4) - 0.5, "not before busy_timeout after its last "
   "message (%.1fs)" % took)
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
