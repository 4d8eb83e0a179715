#!/usr/bin/python3
# Malformed input (A.2, A.12.6, B.1): an error reply where Part A has one,
# bad_request for a call whose request_id can be read, silence otherwise;
# identities are opaque bytes; frames over router.max_message are refused.
# The gateway keeps serving after each of them.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"max_message": "64KiB"}}).start()
ThreadedDealer(gw.endpoint).start()
c = RawPeer(gw.endpoint, identity="client-60")


def still_serving(what):
    rid = c.call("RefService.echo", what)
    is_(c.recv_json(), ("reply_from_router",
                        {"type": "reply", "request_id": rid, "result": what}),
        "after %s the gateway still serves calls" % what)


def router_error(kind, body):
    if not isinstance(body, dict):
        return (kind, body)
    return (kind, body.get("type"), body.get("error"), body.get("state"),
            isinstance(body.get("request_id"), str))


for frames, text, what in (
        (["frobnicate", ""], "Unknown message type: frobnicate",
         "an unknown type"),
        (["lonely"], "Unknown message type: lonely", "a single frame"),
        (["register"], "Invalid register format", "register without payload")):
    c.send(frames)
    is_(router_error(*c.recv_json()), ("error", "error", text, "error", True),
        "%s is answered with error %r" % (what, text))
still_serving("errors")

for frames, what in (
        (["call_from_client"], "a call without method and request"),
        (["call_from_client", "RefService.echo"], "a call without request"),
        (["call_from_client", "RefService.echo", "{not json"],
         "a call whose JSON is broken"),
        (["call_from_client", "RefService.echo", '["request_id", "r"]'],
         "a call whose request is not an object"),
        (["call_from_client", "RefService.echo",
          '{"type": "request", "args": [1]}'], "a call without request_id")):
    c.send(frames)
    is_(c.expect_nothing(0.4), None, "%s gets no answer" % what)
still_serving("unreadable calls")

for rid, body, what in (
        ("r-60-args", {"type": "request", "request_id": "r-60-args",
                       "func_name": "RefService.echo", "args": "x",
                       "kwargs": {}}, "args that are not a list"),
        ("r-60-kwargs", {"type": "request", "request_id": "r-60-kwargs",
                         "func_name": "RefService.echo", "args": [],
                         "kwargs": [1]}, "kwargs that are not an object"),
        ("r-60-cut", '{"type": "request", "request_id": "r-60-cut", "args": [1',
         "JSON cut short after a readable request_id"),
        ("r-60-\u00e9\"q", '{"type": "request", "request_id": '
         '"r-60-\\u00e9\\"q", "args": "x"}', "an escaped request_id"),
        ("", '{"type": "request", "request_id": "", "args": "x"}',
         "an empty request_id")):
    c.send(["call_from_client", "RefService.echo", body])
    is_(error_code(c.recv(), rid), "bad_request",
        "a call with %s ends with bad_request" % what)

big = request_json("RefService.echo", ["x" * 70000], request_id="r-60-big")
c.send(["call_from_client", "RefService.echo", big])
is_(error_code(c.recv(), "r-60-big"), "bad_request",
    "a call over max_message ends with bad_request")
fits = request_json("RefService.echo", ["y" * 60000], request_id="r-60-fits")
c.send(["call_from_client", "RefService.echo", fits])
kind, body = c.recv_json()
is_((kind, isinstance(body, dict) and body.get("result") == "y" * 60000),
    ("reply_from_router", True), "a call just under max_message is served")
still_serving("big frames")

# identities are opaque bytes, not UTF-8
dealer_id, client_id = b"\xfe\xff\x80dealer", b"\xff\xfe\x80client"
d = RawPeer(gw.endpoint, identity=dealer_id)
d.register(group="Bin")
is_(d.recv(), [b"register_ack", b""], "a dealer with a binary identity registers")
bc = RawPeer(gw.endpoint, identity=client_id)
rid = bc.call("Bin.echo", "bytes")
call = d.expect_call()
is_(call and call.cid, client_id, "it gets a call with the binary client id")
d.reply(client_id, {"type": "reply", "request_id": rid, "result": "bytes"})
is_(bc.recv_json(), ("reply_from_router", {"type": "reply", "request_id": rid,
                                           "result": "bytes"}),
    "and the reply reaches the binary client")
ok(isinstance(gw.clusters(), dict), "clusters still answers with it listed")
still_serving("binary identities")

# -- register fields out of bounds --
def register_refused(gw, what, group):
    big = RawPeer(gw.endpoint, identity="Big-0000060")
    big.register(group=group)
    kind, body = big.recv_json(5)
    is_((kind, (body or {}).get("error") if isinstance(body, dict) else body),
        ("error", 'Registration failed: "group" must be a string of 1..255 '
                  'bytes, no NUL'), "register with %s is refused" % what)
    big.close()


register_refused(gw, "a 256-byte group", "G" * 256)
still_serving("a 256-byte group")
gw16 = Gateway(name="gateway-16MiB").start()      # the default max_message
register_refused(gw16, "a 4 MB group", "G" * (4 << 20))
ok(gw16.info() is not None, "and the gateway goes on")
is_(gw16.stop(), 0, "it exits 0")
ok255 = RawPeer(gw.endpoint, identity="Big-0000061")
ok255.register(group="G" * 255, methods=("m" * 256,))
is_(ok255.recv(), [b"register_ack", b""],
    "a 255-byte group with a 256-byte method name registers")
ok(("G" * 255 + "." + "m" * 256) in (gw.methods() or {}),
   "and offers the 512-byte method")

# -- a dealer's answer over max_message ends its request at once --
huge = RawPeer(gw.endpoint, identity="Huge-00000060")
huge.register(group="Huge", methods=("big",))
huge.recv()
rid = c.call("Huge.big")
call = huge.expect_call()
t0 = time.monotonic()
huge.reply(call.cid, {"type": "reply", "request_id": rid,
                      "result": "x" * (70 << 10)})
kind, body = c.recv_json(5)
is_((kind, (body or {}).get("code"), (body or {}).get("request_id")),
    ("reply_from_router", "dealer_error", rid),
    "a reply over max_message: the client gets dealer_error")
cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "at once")
rid = c.call("Huge.big")
call = huge.expect_call()
ok(call is not None, "the dealer's slot is free again")
huge.reply(call.cid, {"type": "reply", "request_id": rid, "result": "small"})
is_(c.recv_json()[1], {"type": "reply", "request_id": rid, "result": "small"},
    "and its next answer goes through")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
