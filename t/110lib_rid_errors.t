#!/usr/bin/python3
# Clients that announce "request_id_errors" in their auth message (as
# libvoidrail does) get the request_id added to the errors of Python
# dealers, which send none: a libvoidrail client with several calls in
# flight on several Python dealers gets each error under its own call.
# Clients that announce nothing (the Python client) get the dealer's bytes
# unchanged.  After a gateway restart (the library logs in again), with
# client keys, after a re-login without the list, and with
# router.max_capable_clients 0 (the capability forgotten: the library can
# only guess the oldest call).
import json, os, re, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
import vrtest

PEER = built("t/unit/test_lib_peer")


def batch(ep, *specs, key=None):
    """test_lib_peer batch: {index: outcome line} of calls started at once."""
    argv = wrapper() + [PEER, "--timeout", str(int(scaled(8) * 1000))] \
        + (["--key", key] if key else []) + ["batch", ep] + list(specs)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(60), env=vrtest._clean_env())
    if p.returncode != 0 or p.stderr.strip():
        diag("test_lib_peer batch: status %d\n%s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")))
    got = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        word, i, rest = line.split(" ", 2)
        if word == "CALL":
            got[int(i)] = rest
    return got


def mix_dealers(ep, n, **kw):
    """n threaded Python dealers of group Mix (one job each)."""
    for _ in range(n):
        ThreadedDealer(ep, service_name="Mix", **kw).start()


# The slow call goes first: it is the oldest in flight when the error of
# the second comes back, the case that a guess gets wrong.
SLOW = "%g" % round(scaled(0.6), 2)
SPECS = ["Mix.slow=[%s]" % SLOW, 'Mix.fail=["kaputt"]', 'Mix.echo=["x"]']
WANT = {0: 'RESULT {"slept": %s}' % SLOW,
        1: "ERROR dealer_error kaputt", 2: 'RESULT "x"'}

gw = Gateway().start()
ep = gw.endpoint
mix_dealers(ep, 3)

is_(batch(ep, *SPECS), WANT, "three calls in flight on three Python dealers, "
    "the second raises: the error goes to its own call, the others succeed")
AsyncDealer(ep, service_name="Amix").start()
AsyncDealer(ep, service_name="Amix").start()
is_(batch(ep, "Amix.aslow=[%s]" % SLOW, "Amix.fail_stream=[]"),
    {0: 'RESULT {"slept": %s}' % SLOW,
     1: 'ERROR dealer_error Method execution error: stream broke'},
    "asyncio dealers: a stream that breaks under a slower call")

# -- the bytes on the wire --
py = RawPeer(ep, identity="py-client-110")
rid = py.call("Mix.fail", "plain")
is_(py.recv(5), [b"reply_from_router",
                 b'{"type": "error", "error": "plain"}'],
    "a client that never logged in: the dealer's bytes unchanged")
py.send(["auth", {"api_key": "k", "client_id": "py-client-110"}])
is_(py.recv_json(5)[0], "auth_ack", "a Python-style login: auth_ack")
py.call("Mix.fail", "plain")
is_(py.recv(5), [b"reply_from_router",
                 b'{"type": "error", "error": "plain"}'],
    "... and the bytes are still unchanged")

lib = RawPeer(ep, identity="lib-client-110")
lib.send(["auth", {"api_key": None, "client_id": "lib-client-110",
                   "capabilities": ["request_id_errors", "future_thing"]}])
is_(lib.recv_json(5)[0], "auth_ack",
    "a login announcing capabilities (one unknown): auth_ack")
rid = lib.call("Mix.fail", "named")
is_(lib.recv(5), [b"reply_from_router",
                  ('{"request_id": %s, "type": "error", "error": "named"}'
                   % json.dumps(rid)).encode()],
    "for it the dealer's error gets the request_id, nothing else changes")
rid = lib.call("Mix.fail_stream")
got = [loads(m[-1]) for m in [lib.recv(5)] + lib.collect(0.3)]
is_(got, [{"type": "streaming", "request_id": rid, "data": 0},
          {"type": "streaming", "request_id": rid, "data": 1},
          {"request_id": rid, "type": "error", "error": "stream broke"}],
    "a broken stream: the chunks as sent, the error with the request_id")
rid = lib.call("Mix.echo", "fine")
is_(loads(lib.recv(5)[-1]),
    {"type": "reply", "request_id": rid, "result": "fine"},
    "results are not touched")
lib.send(["auth", {"api_key": None, "client_id": "lib-client-110"}])
is_(lib.recv_json(5)[0], "auth_ack", "a login again, without the list")
lib.call("Mix.fail", "again")
is_(lib.recv(5), [b"reply_from_router",
                  b'{"type": "error", "error": "again"}'],
    "... forgets the capability: the bytes are unchanged")
lib.send(["auth", {"api_key": None, "client_id": "lib-client-110",
                   "capabilities": "request_id_errors"}])
is_(lib.recv_json(5)[0], "auth_ack", "capabilities that are not a list: "
    "still logged in")
lib.call("Mix.fail", "string")
is_(lib.recv(5), [b"reply_from_router",
                  b'{"type": "error", "error": "string"}'],
    "... with no capability taken")
ok(wait_until(lambda: re.search(r'lib-client-110: "capabilities" is not a '
                                r'list', gw.log_text()), 5),
   "... and a warning logged")

# -- a client that lives through a gateway restart announces it again --
port = free_port()
fixed = {"router": {"bind": "tcp://127.0.0.1:%d" % port}}
gw4 = Gateway(fixed, name="before").start()
pause = scaled(6)
argv = wrapper() + [PEER, "--timeout", str(int(scaled(8) * 1000)), "--pause",
                    str(int(pause * 1000)), "batch", gw4.endpoint] + SPECS
client = Proc(argv, name="restart-client", lines=True)
ok(client.expect_line(r"^PAUSED$", 10), "a client connected, waiting")
t0 = time.monotonic()
gw4.stop()
gw5 = Gateway(fixed, name="after").start()
mix_dealers(gw5.endpoint, 3)
ok(time.monotonic() - t0 < pause, "the gateway restarted, dealers ready, "
   "before the client's calls go out")
got = {}
for i in range(3):
    m = client.expect_line(r"^CALL (\d) (.*)$", 30)
    if m:
        got[int(m.group(1))] = m.group(2)
is_(got, WANT, "after the restart each error still reaches its own call: "
    "the client logged in again with its capabilities")
is_(client.wait(10), 0, "the client exits 0")

# -- with client keys --
gw2 = Gateway({"auth": {"client_keys": ["ck1"]}}).start()
mix_dealers(gw2.endpoint, 3)
is_(batch(gw2.endpoint, *SPECS, key="ck1"), WANT,
    "with client keys: each error under its own call")
bad = RawPeer(gw2.endpoint, identity="bad-client-110")
bad.send(["auth", {"api_key": "wrong", "client_id": "bad-client-110",
                   "capabilities": ["request_id_errors"]}])
is_(bad.recv_json(5)[1].get("error"), "Authentication failed",
    "a wrong key with the list: refused")
is_(batch(gw2.endpoint, 'Mix.echo=["k"]')[0].split(" ")[:2],
    ["ERROR", "unauthorized"],
    "the library without a key: its calls are unauthorized, as before")

# -- the capability not remembered --
gw3 = Gateway({"router": {"max_capable_clients": 0}}).start()
mix_dealers(gw3.endpoint, 3)
got = batch(gw3.endpoint, *SPECS)
is_(got.get(0), "ERROR dealer_error kaputt", "max_capable_clients 0: the "
    "error without a request_id lands on the oldest call (a guess)")
is_(got.get(1, "").split(" ")[:2], ["ERROR", "timeout"],
    "... and the call that failed waits in vain")

done_testing()
