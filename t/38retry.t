#!/usr/bin/python3
# Retries (router.methods.<glob>.max_attempts): a request whose dealer is
# lost before anything of its answer reached the client goes to another
# dealer, first in line, with the same request_id, and the client gets one
# answer.  A stream whose chunks the client has seen (ZeroMQ, SSE) cannot
# start over: it ends with dealer_lost.  An HTTP call that answers one JSON
# array collects the chunks until the end, so a lost stream starts over and
# the array holds the new dealer's chunks alone.  When the attempts are
# used up the request ends with dealer_lost; a method without max_attempts
# is never retried.  A dealer that registers again on a new connection
# while holding calls gets no new one until a heartbeat shows which of
# them it still holds; those it lost are retried or end dealer_lost.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import Answers

gw = HttpGateway({"router": {"probe_interval": "100ms",
                             "methods": {"Wire.*": {"max_attempts": 2}}},
                  "http": {"access_log": "off"}}).start()
serial = [0]


def wire_dealer(group="Wire"):
    serial[0] += 1
    d = RawPeer(gw.endpoint, identity="%s-%08d" % (group, 38000 + serial[0]))
    d.register(group=group, methods=("work", "stream"))
    ok(d.recv() is not None, "dealer %s registered" % d.identity.decode())
    return d



def chunk(d, call, value):
    d.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                       "data": value})


def lose(d, dealers):
    """The dealer's connection goes away, as when its process dies."""
    d.close()
    dealers.remove(d)


client = RawPeer(gw.endpoint, identity="client-38")
box = Answers(client)

# -- a plain call is retried on the other dealer --
dealers = [wire_dealer(), wire_dealer()]
rid = client.call("Wire.work", 1)
first, call = call_on(dealers)
ok(call and call.request_id == rid, "the call reaches a dealer")
lose(first, dealers)
other, again = call_on(dealers)
is_(again and again.request_id, rid,
    "when that dealer is lost the call goes to the other one, same "
    "request_id")
other.reply(again.cid, {"type": "reply", "request_id": rid, "result": 2})
is_(box.body(rid), {"type": "reply", "request_id": rid, "result": 2},
    "the client gets the other dealer's answer")
is_(client.expect_nothing(0.3), None, "and nothing else")

# -- attempts used up --
dealers.append(wire_dealer())
rid = client.call("Wire.work", 2)
first, call = call_on(dealers)
lose(first, dealers)
second, again = call_on(dealers)
ok(again and again.request_id == rid, "attempt 2 on another dealer")
lose(second, dealers)
is_(box.get(rid, 5), "dealer_lost",
    "when the second dealer is lost too, max_attempts 2 is used up: "
    "dealer_lost")
is_(gw.info().get("retries"), 2, "router_info counts the two retries")

# -- a ZeroMQ stream the client has seen part of --
dealers = [wire_dealer(), wire_dealer()]
rid = client.call("Wire.stream", 3)
first, call = call_on(dealers)
chunk(first, call, 0)
msg = client.recv(3)
ok(msg is not None and loads(msg[-1]).get("type") == "streaming",
   "ZeroMQ: the client got a chunk")
lose(first, dealers)
is_(box.get(rid, 5), "dealer_lost",
    "the dealer is lost after it: the stream ends with dealer_lost")
is_(call_on(dealers, 0.5), (None, None), "and does not start over")

# -- an SSE stream the client has seen part of --
dealers.append(wire_dealer())
sse = gw.open("GET", "/stream/Wire.stream?args=" + quote_json([3]))
first, call = call_on(dealers)
chunk(first, call, "a")
events = []
parser = SSEParser()
deadline = time.monotonic() + scaled(3)
while not any(e.get("event") == "chunk" for e in events) \
        and time.monotonic() < deadline:
    events += parser.feed(sse.read_some(0.2) or b"")
ok(any(e.get("event") == "chunk" for e in events), "SSE: a chunk arrived")
lose(first, dealers)
rest = sse_events(sse)
is_([(e.get("event"), json.loads(e.get("data") or "{}").get("code"))
     for e in rest if e.get("event") == "error"], [("error", "dealer_lost")],
    "then the stream ends with an error event dealer_lost")
is_(call_on(dealers, 0.5), (None, None), "and does not start over")

# -- an HTTP JSON answer collects the chunks: it starts over --
dealers.append(wire_dealer())
c = gw.open("POST", "/invoke/Wire.stream", json=[3])
first, call = call_on(dealers)
chunk(first, call, "lost-0")
chunk(first, call, "lost-1")
time.sleep(0.2)
lose(first, dealers)
other, again = call_on(dealers)
ok(again is not None, "HTTP JSON: the stream goes to the other dealer")
if again:
    for v in ("new-0", "new-1", "new-2"):
        chunk(other, again, v)
    other.reply(again.cid, {"type": "end", "request_id": again.request_id})
r = c.response()
is_(r and (r.status, r.json()), (200, ["new-0", "new-1", "new-2"]),
    "the answer holds the new dealer's chunks alone")

# -- a dealer that reconnects (a new connection under its identity, as a
# Python dealer does) and then reports that it works on nothing: what was
# sent to its old connection is lost, retried at once --
dealers.append(wire_dealer())
rid = client.call("Wire.work", 3)
first, call = call_on(dealers)
ident = first.identity
first.close()
dealers.remove(first)
again_peer = RawPeer(gw.endpoint, identity=ident)
again_peer.register(group="Wire", methods=("work", "stream"))
ok(again_peer.recv() is not None, "the dealer registers again on a new "
   "connection")
is_(call_on(dealers, 0.3), (None, None), "its call stays with it meanwhile")
again_peer.heartbeat(processing_requests=0)
other, again = call_on(dealers + [again_peer])
is_(again and again.request_id, rid, "when it says it works on nothing, "
    "the call it lost is given again")
other.reply(again.cid, {"type": "reply", "request_id": rid, "result": 3})
is_(box.body(rid), {"type": "reply", "request_id": rid, "result": 3},
    "and answered")
dealers.append(again_peer)

# -- a dealer that reconnects holding calls gets no new one until a
# heartbeat shows which of them it still holds (its load cannot tell them
# from new ones otherwise) --
def back_dealer(ident):
    d = RawPeer(gw.endpoint, identity=ident)
    d.register(group="Back", methods=("work",), max_concurrent=4)
    ok(d.recv() is not None, "dealer %s registered" % ident)
    return d


boxes = {}


def back_call(n):
    """A call from a client of its own (a dealer holds one call of each
    client at a time); returns its request_id."""
    peer = RawPeer(gw.endpoint, identity="client-38-back-%d" % n)
    rid = peer.call("Back.work", n)
    boxes[rid] = Answers(peer)
    return rid


def answered(d, call, n):
    d.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                       "result": n})
    return boxes[call.request_id].body(call.request_id) == {
        "type": "reply", "request_id": call.request_id, "result": n}


b1 = back_dealer("Back-00038001")
rid1 = back_call(1)
c1 = b1.expect_call()
b1.close()
b2 = back_dealer("Back-00038001")
rid2 = back_call(2)
is_(b2.expect_call(0.5), None, "a dealer that registered again while "
    "holding a call gets no new call meanwhile")
b2.heartbeat(processing_requests=1)
c2 = b2.expect_call()
is_(c2 and c2.request_id, rid2, "once a heartbeat counts the call it "
    "holds, it takes work again")
ok(answered(b2, c1, 1), "the call it kept is answered over its new "
   "connection")
ok(answered(b2, c2, 2), "as is the new one")
rid3, rid4 = back_call(3), back_call(4)
c3, c4 = b2.expect_call(), b2.expect_call()
b2.close()
b3 = back_dealer("Back-00038001")
b3.heartbeat(processing_requests=1)
rid5 = back_call(5)
is_(b3.expect_call(0.5), None, "reconnected holding two calls, it says it "
    "works on one: no new call, none given up yet")
ok(answered(b3, c3, 3), "it answers the one it has")
b3.heartbeat(processing_requests=0)
is_(boxes[rid4].get(rid4), "dealer_lost", "then it works on none: the "
    "other was lost with the old connection and ends dealer_lost (no "
    "max_attempts)")
c5 = b3.expect_call()
is_(c5 and c5.request_id, rid5, "and it takes work again")
ok(answered(b3, c5, 5), "answered")

# -- no max_attempts: never retried --
solo = [wire_dealer("Solo"), wire_dealer("Solo")]
rid = client.call("Solo.work", 1)
first, call = call_on(solo)
lose(first, solo)
is_(box.get(rid, 5), "dealer_lost", "a method without max_attempts ends "
    "dealer_lost")
is_(call_on(solo, 0.5), (None, None), "and is not given to another dealer")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
