#!/usr/bin/python3
# Dealer keys (A.2.2, A.5, B.4, B.8): with auth.dealer_keys, register needs
# one of them (plain or as sha256:<hex>).  A dealer with a wrong or missing
# key gets the Part A error, no heartbeat_ack, no work, and nothing it
# sends is forwarded.
import hashlib, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"auth": {"dealer_keys": [
    "dk1", "sha256:" + hashlib.sha256(b"dk2").hexdigest()]}}).start()
info = gw.info()
is_((info.get("dealer_api_keys_require"), info.get("client_api_keys_require")),
    (True, False), "router_info says dealer keys are required, client keys not")

for key in ("dk1", "dk2"):
    d = RawPeer(gw.endpoint, identity="RefService-good%s" % key[-1].ljust(4, "0"))
    d.register(api_key=key)
    is_(d.recv(), [b"register_ack", b""], "dealer key %s is accepted" % key)
    d.heartbeat(api_key=key)
    is_(d.recv(), [b"heartbeat_ack", b""], "%s: heartbeats are acknowledged" % key)
ok("RefService.echo" in gw.methods(), "the method is offered")

client = RawPeer(gw.endpoint, identity="client-50")
for i, (key, what) in enumerate((
        ("wrong", "a wrong key"), (None, "no key"),
        ("sha256:" + hashlib.sha256(b"dk2").hexdigest(),
         "the configured hash itself"))):
    sid = "Rogue-%08d" % i
    d = RawPeer(gw.endpoint, identity=sid)
    d.register(group="Rogue", api_key=key)
    kind, body = d.recv_json()
    is_((kind, body.get("type"), body.get("error"), body.get("state"))
        if isinstance(body, dict) else (kind, body),
        ("error", "error", "Registration failed: invalid API key or other issue",
         "error"), "%s: register is answered with the Part A error" % what)
    ok(isinstance(body, dict) and isinstance(body.get("request_id"), str),
       "%s: the error has a request_id" % what)
    d.heartbeat(api_key=key)
    is_(d.expect_nothing(0.5), None, "%s: heartbeats are not answered" % what)
    ok(sid not in gw.clusters(), "%s: the dealer is not listed" % what)
    ok("Rogue.echo" not in gw.methods(), "%s: its method is not offered" % what)
    d.reply(b"client-50", {"type": "reply", "request_id": "x", "result": 1})
    is_(client.expect_nothing(0.3), None,
        "%s: its replies are not forwarded" % what)

rid = client.call("Rogue.echo", 1)
is_(error_code(client.recv(), rid), "no_service",
    "a call for the rejected dealers' method finds no service")

dealer = ThreadedDealer(gw.endpoint, service_name="Keyed", api_key="dk1").start()
is_(PyClient(gw.endpoint).connect().invoke("Keyed.echo", "in"), ["in"],
    "a Python-style dealer with a right key serves calls")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
