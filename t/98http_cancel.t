#!/usr/bin/python3
# HTTP calls live in the broker's queues.  A client that hangs up cancels
# its call: while queued it leaves the queue; while on a dealer that
# registered with "capabilities": ["cancel"] that dealer gets
# [cancel_from_router, cid, {"request_id": rid}] (a dealer without the
# capability gets nothing), and the dealer's late reply is dropped.  The
# hang-up is seen when bytes wait unread before it: a client that sent
# more (a pipelined request) and closed, an HTTPS client that closed
# cleanly (TLS close_notify); a client that sent more and stays gets its
# answers.  HTTP and ZeroMQ clients share one queue: served in arrival
# order.
import json, os, shutil, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway().start()


def dealer(name, **extra):
    d = RawPeer(gw.endpoint, identity="%s-00000098" % name)
    d.register(group=name, methods=("work",), **extra)
    d.recv()
    return d


def answer(d, call, result):
    d.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                       "result": result})


def http_queue(method):
    try:
        r = gw.get("/queues")
    except OSError:                 # the gateway is gone: show it as None
        return None
    return ((r and r.json()) or {}).get(method, {}).get("queue_length")


def zmq_queue(method):
    try:
        return gw.queue_status().get(method, {}).get("queue_length")
    except AssertionError:          # no answer
        return None


# -- a call on a dealer without the cancel capability --
plain = dealer("Plain")
c = gw.open("POST", "/invoke/Plain.work", json=["gone"])
call = plain.expect_call(3)
c.close()
is_(plain.expect_nothing(0.5, ignore=("heartbeat_ack",)), None,
    "a dealer without capabilities [cancel] is not told")
answer(plain, call, "late")
c = gw.open("POST", "/invoke/Plain.work", json=["next"])
call = plain.expect_call(3)
is_(call and call.request.get("args"), ["next"],
    "its late reply is dropped and it gets the next call")
answer(plain, call, "next")
is_(c.response().json(), "next", "which gets its own answer")

# -- a call on a dealer that can cancel --
able = dealer("Able", capabilities=["cancel"])
for how, headers in (("a JSON call", {}),
                     ("an SSE call", {"Accept": "text/event-stream"})):
    c = gw.open("POST", "/invoke/Able.work", json=[how], headers=headers)
    call = able.expect_call(3)
    if headers:
        able.reply(call.cid, {"type": "streaming",
                              "request_id": call.request_id, "data": 1})
        ok(sse_events(c, until=("chunk",)), "%s: the client reads" % how)
    c.close()
    msg = able.recv(2, ignore=("heartbeat_ack",))
    is_(msg and msg[:2], [b"cancel_from_router", call.cid],
        "%s: when its client hangs up the dealer gets cancel_from_router"
        % how)
    is_(msg and len(msg) == 3 and loads(msg[2]),
        {"request_id": call.request_id}, "%s: with {request_id}" % how)
    answer(able, call, "late")
    c = gw.open("POST", "/invoke/Able.work", json=["after"])
    call = able.expect_call(3)
    answer(able, call, "after")
    is_(c.response().json(), "after",
        "%s: the late reply is dropped; the next call gets its answer" % how)

# -- a hang-up after bytes the gateway has not read --
def cancelled(d, call, how):
    msg = d.recv(2, ignore=("heartbeat_ack",))
    is_(msg and msg[:2], [b"cancel_from_router", call and call.cid],
        "%s: the dealer gets cancel_from_router" % how)
    if call:
        answer(d, call, "late")


NEXT = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
c = gw.open("POST", "/invoke/Able.work", json=["pipelined"])
call = able.expect_call(3)
sleep(0.2)                      # parked and watched: the next bytes wait
c.send_raw(NEXT)
sleep(0.2)
c.close()
cancelled(able, call, "a client that sent a pipelined request and closed")

c = gw.open("POST", "/invoke/Able.work", json=["stays"])
call = able.expect_call(3)
sleep(0.2)
c.send_raw(NEXT)
sleep(0.2)
answer(able, call, "stays")
first, second = c.response(), c.next_response()
is_([first and first.json(), second and second.status], ["stays", 200],
    "a client that sent a pipelined request and stays gets both answers")
c.close()

if shutil.which("openssl"):
    ca = TestCA()
    cert, key = ca.issue("server", "vr-98")
    tls_port = free_port()
    tgw = HttpGateway({"http": {"tls": {
        "listen": "127.0.0.1:%d" % tls_port, "cert": cert, "key": key}}},
        name="https").start()
    tls_dealer = RawPeer(tgw.endpoint, identity="Able-10000098")
    tls_dealer.register(group="Able", methods=("work",),
                        capabilities=["cancel"])
    tls_dealer.recv()
    c = HttpConn(tls_port, tls=ca.context())
    c.send("POST", "/invoke/Able.work", json=["over tls"])
    call = tls_dealer.expect_call(3)
    ok(call, "an HTTPS call reaches its dealer")
    sleep(0.2)
    c.close_tls()
    cancelled(tls_dealer, call, "an HTTPS client that closed cleanly "
              "(close_notify)")
    c = HttpConn(tls_port, tls=ca.context())
    c.send("POST", "/invoke/Able.work", json=["after"])
    call = tls_dealer.expect_call(3)
    answer(tls_dealer, call, "after")
    is_(c.response().json(), "after", "the next HTTPS call gets its answer")
    is_(tgw.stop(), 0, "the HTTPS gateway exits 0")
else:
    note("SKIPPED HTTPS: openssl is not installed")

# -- HTTP and ZeroMQ share one queue --
shared = dealer("Shared")
blocker = gw.open("POST", "/invoke/Shared.work", json=["blocker"])
hold = shared.expect_call(3)
order, waiting, zmq_clients = [], [], []
for i, via in enumerate(("http", "zmq", "http", "zmq", "http")):
    rid = "rid-98-%d-%s" % (i, via)
    if via == "http":
        waiting.append((rid, gw.open("POST", "/invoke/Shared.work", json=[rid],
                                     headers={"X-Request-Id": rid})))
    else:
        z = RawPeer(gw.endpoint, identity="client-98-%d" % i)
        z.call("Shared.work", rid, request_id=rid)
        waiting.append((rid, z))
    order.append(rid)
    ok(wait_until(lambda: zmq_queue("Shared.work") == i + 1),
       "call %d (%s) is queued" % (i + 1, via))
answer(shared, hold, "blocker")
served = []
for _ in order:
    call = shared.expect_call(3)
    if call is None:
        break
    served.append(call.request_id)
    answer(shared, call, call.request_id)
is_(served, order, "one slow dealer serves HTTP and ZeroMQ calls "
    "in arrival order")
got = []
for rid, peer in waiting:
    if isinstance(peer, RawPeer):
        got.append(peer.recv_json(3)[1].get("result"))
    else:
        got.append(peer.response().json())
is_(got, order, "each client gets its own answer")

# -- a queued call leaves the queue --
queue = dealer("Queue")
for how, headers in (("a JSON call", {}),
                     ("an SSE call", {"Accept": "text/event-stream"})):
    if not ok(gw.proc.running(), "%s: the gateway still runs" % how):
        break
    first = gw.open("POST", "/invoke/Queue.work", json=["first"])
    call = queue.expect_call(3)
    ok(call, "%s: a call occupies the only dealer" % how)
    second = gw.open("POST", "/invoke/Queue.work", json=["second"],
                     headers=headers)
    ok(wait_until(lambda: http_queue("Queue.work") == 1),
       "%s: the next one waits (GET /queues: queue_length 1)" % how)
    is_(zmq_queue("Queue.work"), 1, "%s: ZeroMQ queue_status agrees" % how)
    second.close()
    ok(wait_until(lambda: zmq_queue("Queue.work") == 0, timeout=2.0),
       "%s: when its client hangs up it leaves the queue" % how)
    is_(http_queue("Queue.work"), 0, "%s: GET /queues agrees" % how)
    if call:
        answer(queue, call, "first")
    is_(first.response().json() if gw.proc.running() else "(gateway died)",
        "first", "%s: the first call is answered" % how)
    is_(queue.expect_nothing(0.5, ignore=("heartbeat_ack",)), None,
        "%s: and the dealer never gets the second" % how)

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
