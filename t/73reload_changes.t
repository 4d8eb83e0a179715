#!/usr/bin/python3
# What a reload changes, seen in behaviour from the next request on: the
# client keys (a removed key gets HTTP 401; a ZeroMQ client that logged in
# with it gets "Not authenticated" / "未认证" until it logs in again with a
# key still valid; one with a kept key goes on), the dealer keys (register
# with a removed key is refused), router.max_queue (queue_full), router.
# request_timeout (timeout, HTTP 504), a per-method timeout under router.
# methods, and log.level (debug lines appear, info lines go away).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

conf = {"log": {"level": "warn"},
        "auth": {"client_keys": ["ck-stay", "ck-old"],
                 "dealer_keys": ["dk-stay", "dk-old"]},
        "router": {"max_queue": 3, "request_timeout": duration(30),
                   # raw dealers send no heartbeats: keep them meanwhile
                   "heartbeat_timeout": duration(30)}}
gw = OpsGateway(conf).start()


def reload(**change):
    """Reloads with conf's sections updated by change (deep, one level)."""
    for section, values in change.items():
        conf.setdefault(section, {}).update(values)
    last = gw.reload(conf)
    return bool(last and last.get("ok"))


def login(peer, key):
    peer.send(["auth", {"api_key": key, "client_id": "x"}])
    kind, body = peer.recv_json()
    return kind if kind != "error" else body.get("error")


def call(peer, method, *args, timeout=5.0):
    """(code or "reply", elapsed) of one call from a raw client."""
    t0 = time.monotonic()
    rid = peer.call(method, *args)
    msg = peer.recv(timeout)
    took = time.monotonic() - t0
    if msg is not None and msg[0] == b"reply_from_router" and \
            (loads(msg[1]) or {}).get("type") == "reply":
        return "reply", took
    if msg is not None and msg[0] == b"error":
        body = loads(msg[-1])
        return "error %s %s" % (body.get("error"), body.get("code")), took
    return error_code(msg, rid), took


def http_code(r):
    return r and (r.status, (r.json() or {}).get("code")
                  if r.status >= 400 else None)


hold = RawPeer(gw.endpoint, identity="Hold-00000073")
hold.register(group="Hold", methods=("wait",), api_key="dk-stay")
hold.recv()
ref = AsyncDealer(gw.endpoint, api_key="dk-stay", max_concurrent=10).start()
old = RawPeer(gw.endpoint, identity="client-73-old")
stay = RawPeer(gw.endpoint, identity="client-73-stay")
is_([login(old, "ck-old"), login(stay, "ck-stay")], ["auth_ack", "auth_ack"],
    "two clients log in, one with each key")
is_([call(old, "RefService.echo", 1)[0], call(stay, "RefService.echo", 2)[0]],
    ["reply", "reply"], "and call")
r = gw.get("/services", headers={"X-API-Key": "ck-old"})
is_(r and r.status, 200, "HTTP takes ck-old")

# -- client and dealer keys --
ok(reload(auth={"client_keys": ["ck-stay", "ck-new"],
                "dealer_keys": ["dk-stay", "dk-new"]}),
   "reload: ck-old and dk-old removed, ck-new and dk-new added")
r = gw.get("/services", headers={"X-API-Key": "ck-old"})
is_(http_code(r), (401, "unauthorized"), "HTTP: ck-old is now 401")
r = gw.get("/services", headers={"X-API-Key": "ck-new"})
is_(r and r.status, 200, "HTTP: ck-new is taken")
is_(old.command("methods")[1].get("error"), "Not authenticated",
    "the client that logged in with ck-old: methods is Not authenticated")
is_(call(old, "RefService.echo", 3)[0], "error 未认证 unauthorized",
    "and a call is the 未认证 error")
is_(login(old, "ck-old"), "Authentication failed",
    "it cannot log in with ck-old again")
is_(login(old, "ck-new"), "auth_ack", "it logs in with ck-new")
is_(call(old, "RefService.echo", 4)[0], "reply", "and calls again")
is_(call(stay, "RefService.echo", 5)[0], "reply",
    "the client with the kept key goes on without logging in again")
d = RawPeer(gw.endpoint, identity="Late-00000001")
d.register(group="Late", api_key="dk-old")
kind, body = d.recv_json()
is_((kind, isinstance(body, dict) and body.get("error")),
    ("error", "Registration failed: invalid API key or other issue"),
    "a dealer registering with dk-old is refused")
d = RawPeer(gw.endpoint, identity="Late-00000002")
d.register(group="Late", api_key="dk-new")
is_(d.recv(), [b"register_ack", b""], "one with dk-new is taken")
is_(call(stay, "RefService.echo", 6)[0], "reply",
    "the dealer that registered with dk-stay still serves")

# -- router.max_queue --
first = stay.call("Hold.wait")
hold_first = hold.expect_call(3)
ok(hold_first, "Hold is busy with one call")
queued = [RawPeer(gw.endpoint, identity="client-73-q%d" % i) for i in range(3)]
for q in queued:
    login(q, "ck-stay")
for q in queued[:2]:
    q.call("Hold.wait")
ok(wait_until(lambda: (gw.queue_status().get("Hold.wait") or {})
              .get("queue_length") == 2),
   "with max_queue 3, two calls wait in its queue")
ok(reload(router={"max_queue": 2}), "reload: max_queue 2")
is_(call(queued[2], "Hold.wait", timeout=2)[0], "queue_full",
    "the next call ends with queue_full")
r = gw.post("/invoke/Hold.wait", json=[], headers={"X-API-Key": "ck-stay"})
is_(http_code(r), (429, "queue_full"), "over HTTP too: 429 queue_full")
is_((gw.queue_status().get("Hold.wait") or {}).get("queue_length"), 2,
    "the two queued calls are kept")

# -- router.request_timeout --
is_(call(stay, "RefService.aslow", scaled(1.0))[0], "reply",
    "with request_timeout 30s a 1 s call is answered")
ok(reload(router={"request_timeout": duration(0.5)}),
   "reload: request_timeout 0.5s")
got, took = call(stay, "RefService.aslow", scaled(2.0))
is_(got, "timeout", "now a 2 s call ends with timeout")
ok(scaled(0.5) - 0.1 <= took < scaled(0.5) + scaled(0.8),
   "after 0.5 s (%.2fs)" % took)
t0 = time.monotonic()
r = gw.post("/invoke/RefService.aslow", json=[scaled(2.0)],
            headers={"X-API-Key": "ck-stay"})
took = time.monotonic() - t0
is_(http_code(r), (504, "timeout"), "over HTTP: 504 timeout")
ok(took < scaled(0.5) + scaled(0.8), "after 0.5 s as well (%.2fs)" % took)

# -- a per-method timeout --
ok(reload(router={"request_timeout": duration(30),
                  "methods": {"RefService.a*": {"timeout": duration(0.5)}}}),
   "reload: request_timeout 30s, RefService.a* timeout 0.5s")
is_(call(stay, "RefService.slow", scaled(1.0))[0], "reply",
    "RefService.slow takes 1 s and is answered")
got, took = call(stay, "RefService.aslow", scaled(1.0))
is_(got, "timeout", "RefService.aslow (matching RefService.a*) ends with "
    "timeout")
ok(took < scaled(0.5) + scaled(0.8), "after 0.5 s (%.2fs)" % took)
ok(reload(router={"methods": {}}), "reload: no per-method policy")
is_(call(stay, "RefService.aslow", scaled(1.0))[0], "reply",
    "RefService.aslow takes 1 s and is answered again")

# -- log.level --
stranger = RawPeer(gw.endpoint, identity="Stranger-00000073")
mark = len(gw.log_text())
stranger.heartbeat()
late = RawPeer(gw.endpoint, identity="Late-00000003")
late.register(group="Late", api_key="dk-new")
late.recv()
is_(call(stay, "RefService.echo", 7)[0], "reply", "(a call in between)")
unlike(gw.log_since(mark), r" (debug|info) ",
       "with log.level warn: no debug or info line")
ok(reload(log={"level": "debug"}), "reload: log.level debug")
mark = len(gw.log_text())
stranger.heartbeat()
late = RawPeer(gw.endpoint, identity="Late-00000004")
late.register(group="Late", api_key="dk-new")
late.recv()
is_(call(stay, "RefService.echo", 8)[0], "reply", "(a call in between)")
ok(wait_until(lambda: " debug heartbeat from unregistered Stranger-00000073"
              in gw.log_since(mark)),
   "now a heartbeat from an unregistered identity is logged at debug")
like(gw.log_since(mark), r" info dealer Late-00000004 registered",
     "and a dealer registering at info")

# Hold answers what it got, so that nothing is left when the gateway stops.
hold.reply(hold_first.cid, {"type": "reply", "request_id":
                            hold_first.request_id, "result": 0})
for i in range(2):
    c = hold.expect_call(3)
    if c is not None:
        hold.reply(c.cid, {"type": "reply", "request_id": c.request_id,
                           "result": i + 1})
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
