#!/usr/bin/python3
# Client keys with a scope and limits (auth.client_keys entries that are
# maps), over ZeroMQ and HTTP alike:
#   methods      globs the key may call; others end with code forbidden
#                (HTTP 403)
#   rate/burst   a token bucket; beyond it, code rate_limited (HTTP 429
#                with Retry-After), and the bucket refills at the rate
#   concurrency  calls of the key in progress at once; beyond, code
#                rate_limited (HTTP 429), and a slot frees when a call ends
# A key given as sha256:<hex> works as its plain text does.  Wrong keys
# are counted per address: past auth.max_failures within
# auth.failure_window every attempt from that address is refused with
# rate_limited (HTTP 429, Retry-After), the right key too, until the window
# ends.  A reload keeps a kept key's bucket.  No key ever shows in the
# log, /status.json, /metrics or -T.
import hashlib, json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

HASHED = "hashed-key-53"
KEYS = {
    "admin": "admin-key-53",
    "echo": "echo-only-key-53",
    "rate": "rate-key-53",
    "fast": "fast-key-53",
    "conc": "conc-key-53",
}
WINDOW_S = 2


def config():
    return {
        "router": {"request_timeout": duration(20)},
        "auth": {
            "client_keys": [
                KEYS["admin"],
                {"key": KEYS["echo"], "name": "echo-team",
                 "methods": ["RefService.echo", "Other.*"]},
                {"key": KEYS["rate"], "name": "rated", "rate": "1/m",
                 "burst": 2},
                {"key": KEYS["fast"], "name": "fast", "rate": "2/s"},
                {"key": KEYS["conc"], "name": "one-at-a-time",
                 "concurrency": 1},
                {"key": "sha256:" + hashlib.sha256(
                    HASHED.encode()).hexdigest(), "name": "hashed"},
            ],
            "max_failures": 3,
            "failure_window": duration(WINDOW_S),
        },
        "http": {"access_log": "off"},
        "log": {"level": "info"},
    }


gw = OpsGateway(config()).start()
gw.admin_key = KEYS["admin"]
dealer = AsyncDealer(gw.endpoint, max_concurrent=8).start()
ok(wait_until(lambda: "RefService.echo" in (gw.methods() or {})),
   "a dealer of RefService registered")


def zclient(name, key):
    peer = RawPeer(gw.endpoint, identity="client-53-" + name)
    peer.send(["auth", {"api_key": key, "client_id": "client-53-" + name}])
    kind, _ = peer.recv_json()
    return peer, kind


def zcall(peer, box, method, *args):
    rid = peer.call(method, *args)
    return box.body(rid, 5) or {}


def problem(r):
    """(status, code) of a problem answer; its flaw instead of the code
    when it is no RFC 9457 problem."""
    return r and (r.status, problem_of(r) or (r.json() or {}).get("code"))


def hcall(key, method, args):
    return gw.post("/invoke/" + method, json=args,
                   headers={"X-API-Key": key})


# -- method scopes --
echo, kind = zclient("echo", KEYS["echo"])
is_(kind, "auth_ack", "a scoped key logs in")
box = Answers(echo)
is_(zcall(echo, box, "RefService.echo", "in scope").get("result"), "in scope",
    "ZeroMQ: a method in its scope is served")
body = zcall(echo, box, "RefService.add", 1, 2)
is_((body.get("type"), body.get("code")), ("error", "forbidden"),
    "ZeroMQ: a method out of its scope ends with code forbidden")
like(body.get("error", ""), r"echo-team.*may not call RefService\.add",
     "naming the key's name and the method")
r = hcall(KEYS["echo"], "RefService.echo", ["over http"])
is_(r and (r.status, r.json()), (200, "over http"),
    "HTTP: a method in its scope is served")
r = hcall(KEYS["echo"], "RefService.add", [1, 2])
is_(problem(r), (403, "forbidden"),
    "HTTP: a method out of its scope is 403 forbidden")
r = hcall(KEYS["admin"], "RefService.add", [1, 2])
is_(r and (r.status, r.json()), (200, 3),
    "a plain key may call any method")

# -- a hashed key --
r = hcall(HASHED, "RefService.echo", ["hashed"])
is_(r and (r.status, r.json()), (200, "hashed"),
    "HTTP: a key configured as sha256:<hex> is taken in plain text")
hashed, kind = zclient("hashed", HASHED)
is_(kind, "auth_ack", "ZeroMQ: so is its auth")
r = hcall("sha256:" + hashlib.sha256(HASHED.encode()).hexdigest(),
          "RefService.echo", ["digest"])
is_(r and r.status, 401, "its digest itself is no key")

# -- rate --
rated, kind = zclient("rate", KEYS["rate"])
box = Answers(rated)
got = [zcall(rated, box, "RefService.echo", i).get("code", "ok")
       for i in range(3)]
is_(got, ["ok", "ok", "rate_limited"],
    "ZeroMQ: burst 2 at 1/m, then the third call ends rate_limited")
r = hcall(KEYS["rate"], "RefService.echo", [1])
is_(problem(r), (429, "rate_limited"),
    "HTTP shares the key's bucket: 429 rate_limited")
retry_s = int((r and r.header("Retry-After")) or 0)
ok(30 <= retry_s <= 60, "with Retry-After the wait for a token at 1/m "
   "(%d s)" % retry_s)
is_((gw.reload(config()) or {}).get("ok"), True, "reload with the same keys")
is_(zcall(rated, box, "RefService.echo", "after").get("code"),
    "rate_limited", "the emptied bucket stays empty across the reload")
fast, kind = zclient("fast", KEYS["fast"])
box = Answers(fast)
zcall(fast, box, "RefService.echo", "take")
time.sleep(0.6)
is_(zcall(fast, box, "RefService.echo", "x").get("result"), "x",
    "at 2/s a token is back after half a second")

# -- concurrency --
conc, kind = zclient("conc", KEYS["conc"])
box = Answers(conc)
first = conc.call("RefService.aslow", 1.0)
time.sleep(0.2)
is_(zcall(conc, box, "RefService.echo", "second").get("code"),
    "rate_limited", "ZeroMQ: a second call while one is running is "
    "refused (concurrency 1)")
r = hcall(KEYS["conc"], "RefService.echo", ["http"])
is_(problem(r), (429, "rate_limited"),
    "HTTP: so is a call over HTTP (429)")
is_(box.get(first, 5), "reply", "the running call finishes")
is_(zcall(conc, box, "RefService.echo", "third").get("result"), "third",
    "and its slot is free again")

# -- status shows names and counters, never keys --
status = gw.get("/status.json", headers={"X-API-Key": KEYS["admin"]}).json()
keys_seen = {k.get("name"): k for k in (status.get("keys") or [])}
ok({"echo-team", "rated", "one-at-a-time"} <= set(keys_seen),
   "/status.json lists the keys by name (%s)" % sorted(keys_seen))
cmp_ok((keys_seen.get("echo-team") or {}).get("forbidden", 0), ">=", 2,
       "with the calls each refused as forbidden")
cmp_ok((keys_seen.get("rated") or {}).get("limited", 0), ">=", 2,
       "and as rate_limited")

# -- failures per address --
# (the digest above was a wrong key: its window is over first)
time.sleep(scaled(WINDOW_S) + 0.2)
for i in range(3):
    r = hcall("wrong-%d" % i, "RefService.echo", [i])
    is_(r and r.status, 401, "wrong key %d: 401" % (i + 1))
t_blocked = time.monotonic()
r = hcall(KEYS["admin"], "RefService.echo", ["right"])
is_(problem(r), (429, "rate_limited"),
    "past auth.max_failures even the right key is 429 rate_limited")
cmp_ok(int(r.header("Retry-After") or 0), ">=", 1, "with a Retry-After")
late, kind = zclient("late", KEYS["admin"])
is_(kind, "error", "a ZeroMQ auth from that address is refused too")
is_(echo.command("methods")[0], "methods_ack",
    "a client that logged in before goes on")
wait_until(lambda: time.monotonic() - t_blocked > scaled(WINDOW_S) + 0.3,
           WINDOW_S + 2)
r = hcall(KEYS["admin"], "RefService.echo", ["again"])
is_(r and (r.status, r.json()), (200, "again"),
    "when the window is over the right key works again")

# -- EventSource sends no headers: /stream takes ?api_key= --
c = gw.open("GET", "/stream/RefService.astream?args=" + quote_json([2, 0.01])
            + "&api_key=" + KEYS["admin"])
is_([e.get("event") for e in sse_events(c) if e.get("event")],
    ["chunk", "chunk", "end"], "GET /stream with ?api_key= streams")
r = gw.get("/stream/RefService.astream?args=" + quote_json([2, 0.01])
           + "&api_key=wrong-53")
is_(r and r.status, 401, "and with a wrong ?api_key= is 401")

# -- no key in any output --
gw.get("/metrics", headers={"X-API-Key": KEYS["admin"]})
texts = {
    "the log": gw.log_text(),
    "/status.json": json.dumps(gw.get(
        "/status.json", headers={"X-API-Key": KEYS["admin"]}).json()),
    "/metrics": gw.get("/metrics",
                       headers={"X-API-Key": KEYS["admin"]}).text,
    "-T": run_voidrail(["-T", "-c", gw.config_path])[1],
}
for where, text in texts.items():
    is_([k for k in list(KEYS.values()) + [HASHED] if k in text], [],
        "no key appears in %s" % where)
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
