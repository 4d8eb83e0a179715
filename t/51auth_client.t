#!/usr/bin/python3
# Client keys (A.2.1, A.5, B.2, B.5): with auth.client_keys a client must
# send `auth` with one of them first; its identity is remembered.  Without
# it, commands answer "Not authenticated" and calls the Part A "未认证" error
# with code unauthorized.  A gateway without client keys answers `auth`
# with one auth_ack (the Python router sent two errors).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *


def router_error(kind, body):
    """(type, error text, state) of a Part A RouterError message."""
    if not isinstance(body, dict):
        return (kind, body)
    return (kind, body.get("type"), body.get("error"), body.get("state"))


gw = Gateway({"auth": {"client_keys": ["ck1", "ck2"]}}).start()
dealer = ThreadedDealer(gw.endpoint).start()

good = RawPeer(gw.endpoint, identity="client-51-good")
good.send(["auth", {"api_key": "ck2", "client_id": "client-51-good"}])
kind, body = good.recv_json()
is_((kind, body.get("type"), body.get("result"))
    if isinstance(body, dict) else kind,
    ("auth_ack", "reply", {"status": "authenticated"}),
    "the right key is answered with auth_ack {status: authenticated}")
is_(good.command("methods")[0], "methods_ack", "then methods is answered")
good_rid = good.call("RefService.echo", "hi")
is_(good.recv_json()[1], {"type": "reply", "request_id": good_rid,
                          "result": "hi"},
    "and calls go through")
is_(good.expect_nothing(0.3), None, "with nothing extra")
is_(gw.info().get("client_api_keys_require"), True,
    "router_info says client keys are required")

bad = RawPeer(gw.endpoint, identity="client-51-bad")
bad.send(["auth", {"api_key": "nope", "client_id": "client-51-bad"}])
is_(router_error(*bad.recv_json()),
    ("error", "error", "Authentication failed", "error"),
    "a wrong key is answered with error Authentication failed")
bad.send(["auth"])
is_(router_error(*bad.recv_json()),
    ("error", "error", "Invalid auth format", "error"),
    "auth without payload: Invalid auth format")

for who, peer in (("wrong key", bad),
                  ("no auth", RawPeer(gw.endpoint, identity="client-51-none"))):
    for command in ("methods", "clusters", "router_info", "queue_status"):
        is_(router_error(*peer.command(command)),
            ("error", "error", "Not authenticated", "error"),
            "%s: %s is answered with Not authenticated" % (who, command))
    rid = peer.call("RefService.echo", "sneak")
    kind, body = peer.recv_json()
    is_((kind, body.get("type"), body.get("error"), body.get("state"),
         body.get("code")) if isinstance(body, dict) else kind,
        ("error", "error", "未认证", "error", "unauthorized"),
        "%s: a call is answered with the 未认证 error, code unauthorized" % who)
    ok(isinstance(body, dict) and isinstance(body.get("request_id"), str),
       "%s: with a request_id" % who)
is_([c.get("request_id") for c in dealer.calls], [good_rid],
    "the dealer only ever got the authenticated call")

py = PyClient(gw.endpoint, api_key="ck1").connect()
ok(py.authenticated, "the Python-style client with a right key authenticates")
is_(py.invoke("RefService.echo", 5), [5], "and calls")
try:
    PyClient(gw.endpoint, api_key="nope").connect()
    ok(False, "the Python-style client with a wrong key fails to connect")
except RuntimeError as e:
    is_(str(e), "Not authenticated",
        "the Python-style client with a wrong key fails with Not authenticated")
is_(gw.stop(), 0, "the gateway exits 0")

# no client keys: one auth_ack, and the next call is not poisoned
gw = Gateway().start()
ThreadedDealer(gw.endpoint).start()
c = RawPeer(gw.endpoint, identity="client-51-free")
c.send(["auth", {"api_key": "k", "client_id": "client-51-free"}])
kind, body = c.recv_json()
is_((kind, body.get("type") if isinstance(body, dict) else body),
    ("auth_ack", "reply"),
    "auth to a gateway without client keys is answered with auth_ack")
is_(c.expect_nothing(0.5), None, "just once")
rid = c.call("RefService.echo", "clean")
is_(c.recv_json()[1], {"type": "reply", "request_id": rid, "result": "clean"},
    "the next call gets its own reply")
is_(PyClient(gw.endpoint, api_key="any").connect().invoke(
    "RefService.echo", "py"), ["py"],
    "a Python-style client with a key works against it")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
