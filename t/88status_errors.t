#!/usr/bin/python3
# /status.json shows every error whatever its text: recent_errors lists
# the last 50, newest first, and gateway.last_reload the last reload's.
# A message or request id longer than its field is cut between two
# characters and ends with "…", and bytes that are not UTF-8 show as
# U+FFFD; no error is left out for its text.
import os, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import OpsGateway

CUT = "\u2026"
RING = 50
gw = OpsGateway().start()
wire = RawPeer(gw.endpoint, identity="Wire-00000088")
wire.register(group="Wire", methods=("echo",))
wire.recv()
client = RawPeer(gw.endpoint, identity="client-88-errors")


def fail_over_http(rid, reply):
    """A call whose dealer answers with `reply` (a dict, or raw bytes made
    from the call's request_id); the HTTP response."""
    c = gw.open("POST", "/invoke/Wire.echo", json=[rid],
                headers={"X-Request-Id": rid})
    call = wire.expect_call(3)
    if call is None:
        return None
    wire.reply(call.cid, reply(call.request_id))
    return c.response()


def recent():
    r = gw.get("/status.json")
    return ((r and r.json()) or {}).get("recent_errors")


def by_rid(errors, prefix):
    return [e for e in errors or [] if e.get("request_id", "").startswith(prefix)]


def cut_of(whole, shown):
    """How many characters of `whole` `shown` keeps before "…" (None when
    shown is not a prefix of whole followed by "…")."""
    if not isinstance(shown, str) or not shown.endswith(CUT):
        return None
    kept = shown[:-1]
    return len(kept) if whole.startswith(kept) else None


# -- texts longer than their field, and bytes that are not UTF-8 --
long_message = "错误" * 60                    # 120 characters, 360 bytes
r = fail_over_http("rid-88-long", lambda rid: {
    "type": "error", "request_id": rid, "error": long_message})
is_(r and (r.status, (r.json() or {}).get("detail")), (500, long_message),
    "a dealer error of 360 bytes of Chinese: the caller gets all of it")
r = fail_over_http("rid-88-bytes", lambda rid: (
    b'{"type": "error", "request_id": "%s", "error": "bad \xff\xfe bytes"}'
    % rid.encode()))
is_(r and r.status, 500, "a dealer error with bytes that are not UTF-8: 500")
long_rid = "标识" * 20                         # 40 characters, 120 bytes
client.call("Nobody.offers", 1, request_id=long_rid)
is_(error_code(client.recv(3), long_rid), "no_service",
    "a call with a 120-byte Chinese request_id ends no_service")

errors = recent()
ok(isinstance(errors, list), "/status.json has recent_errors")
entry = (by_rid(errors, "rid-88-long") or [{}])[0]
kept = cut_of(long_message, entry.get("message"))
ok(kept is not None, "the long message is listed, cut on a character "
   "boundary and marked with …")
ok(kept is not None and 0 < kept < len(long_message)
   and len(entry["message"].encode()) < 200,
   "it keeps a part of the message (%r characters) within its field" % kept)
entry = (by_rid(errors, "rid-88-bytes") or [{}])[0]
like(entry.get("message"), "bad \ufffd\ufffd bytes",
     "the message with bytes that are not UTF-8 is listed, each as U+FFFD")
entry = ([e for e in errors or [] if e.get("code") == "no_service"] or [{}])[0]
kept = cut_of(long_rid, entry.get("request_id"))
ok(kept is not None and 0 < kept < len(long_rid),
   "the long request_id is listed, cut on a character boundary with …")
is_([e.get("code") for e in errors or []],
    ["no_service", "dealer_error", "dealer_error"],
    "all three are listed, newest first")

# -- the ring: the newest 50 --
rids = ["rid-88-ring-%02d" % i for i in range(RING + 12)]
for rid in rids:
    client.call("Nobody.offers", 1, request_id=rid)
    client.recv(3)
errors = recent() or []
is_(len(errors), RING, "after %d more errors %d are listed" % (len(rids), RING))
is_([e.get("request_id") for e in errors], rids[::-1][:RING],
    "the newest ones, newest first")

# -- the last reload's error --
key = "错" * 200                               # 600 bytes
last = gw.reload(text=to_yaml(gw.full_config({})) + "\n%s: 1\n" % key)
ok(isinstance(last, dict) and last.get("ok") is False,
   "a reload refused for a 600-byte Chinese key shows as last_reload")
like(last and last.get("error"), r'^%s:\d+:\d+: "错+%s$'
     % (re.escape(gw.config_path), CUT),
     "with its error, cut on a character boundary with …")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
