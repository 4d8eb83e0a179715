#!/usr/bin/python3
# router.curve: the ROUTER is a CURVE server with keys from `voidrail
# keygen --curve` (key_file, allow_dir) and an allow list.  A Python-style
# dealer and client with listed keys are served; a wrong server key, an
# unlisted client key and a plain peer never get through (the refusals
# are counted and logged); a dealer identity belongs to the key that
# registered it; libvoidrail's client and dealer work in CURVE mode; no
# secret key shows in the log or in -T.
import os, re, signal, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
import vrtest
import zmq
import zmq.auth

if not zmq.has("curve"):
    skip_all("this libzmq has no CURVE")

tmp = tempdir()
clients = os.path.join(tmp, "clients")
os.mkdir(clients)


def keygen(base):
    rc, out, err = run_voidrail(["keygen", "--curve", "--out", base])
    if rc != 0:
        raise AssertionError("keygen --curve failed: %r" % err)
    public, secret = zmq.auth.load_certificate(base + ".key_secret")
    return out.strip(), public.decode(), secret.decode()


printed, spub, ssec = keygen(os.path.join(tmp, "server"))
is_(printed, spub, "keygen --curve --out prints the public key of its files")
ok(oct(os.stat(os.path.join(tmp, "server.key_secret")).st_mode & 0o777)
   == "0o600", "the secret certificate is private (0600)")
is_(zmq.auth.load_certificate(os.path.join(tmp, "server.key"))[1], None,
    "BASE.key holds no secret key")
_, d1pub, d1sec = keygen(os.path.join(clients, "dealer1"))
os.rename(os.path.join(clients, "dealer1.key_secret"),
          os.path.join(tmp, "dealer1.key_secret"))   # allow_dir: public only
rc, out, _ = run_voidrail(["keygen", "--curve"])
lines = out.splitlines()
ok(rc == 0 and len(lines) == 2 and lines[0].startswith("public-key: ")
   and lines[1].startswith("secret-key: "), "keygen --curve prints a pair")
ok(len(lines) == 2 and zmq.curve_public(lines[1][12:].encode()).decode()
   == lines[0][12:], "... whose public key is the secret key's")

admin = curve_keys()
caller = curve_keys()
d2 = curve_keys()
rogue = curve_keys()
other_server = curve_keys()

gw = Gateway({"router": {"curve": {
    "key_file": os.path.join(tmp, "server.key_secret"),
    "allow": [admin[0], caller[0], zmq.utils.z85.decode(d2[0]).hex()],
    "allow_dir": clients}}},
    curve=(spub, admin[0], admin[1])).start()
info = gw.info()
is_(info.get("curve"), True, "router_info says CURVE is on")
like(gw.log_text(), r"CURVE on: server public key " + re.escape(spub),
     "the log names the server's public key")
unlike(gw.log_text(), r"without an allow-list", "no warning: there is a list")

dealer = ThreadedDealer(gw.endpoint, service_name="Safe",
                        curve=(spub, d1pub, d1sec)).start()
ok(True, "a Python-style dealer with a key of allow_dir registers")
client = PyClient(gw.endpoint, curve=(spub, caller[0], caller[1])).connect()
is_(client.invoke("Safe.echo", "over curve"), ["over curve"],
    "a Python-style client with a listed key is served")

# A wrong server key: the handshake fails on the client's side.
peer = RawPeer(gw.endpoint, curve=(other_server[0], caller[0], caller[1]))
peer.send(["router_info", ""])
is_(peer.expect_nothing(1.0), None, "a wrong server key: no answer")
peer.close()

# An unlisted client key: the ZAP handler refuses it.
before = info.get("curve_refused")
peer = RawPeer(gw.endpoint, identity="Safe-rogue0001",
               curve=(spub, rogue[0], rogue[1]))
peer.register(group="Safe", methods=("echo",))
peer.send(["router_info", ""])
is_(peer.expect_nothing(1.0), None, "an unlisted client key: no answer")
ok(wait_until(lambda: gw.info().get("curve_refused", 0) > before, 5),
   "the refusal is counted (router_info curve_refused)")
like(gw.log_text(), r"client key %s from 127\.0\.0\.1 is not in "
     r"router\.curve\.allow" % re.escape(rogue[0]), "... and logged")
ok("Safe-rogue0001" not in gw.clusters(), "its register never arrived")
peer.close()

# A plain peer cannot talk to a CURVE router.
peer = RawPeer(gw.endpoint)
peer.send(["router_info", ""])
is_(peer.expect_nothing(1.0), None, "a plain (non-CURVE) peer: no answer")
peer.close()

# Identity binding: the key that registered an identity owns it.
victim = RawPeer(gw.endpoint, identity="Bound-00000001",
                 curve=(spub, d2[0], d2[1]))
victim.register(group="Bound", methods=("echo",))
is_(victim.recv(), [b"register_ack", b""], "a dealer registers under key d2")
thief = RawPeer(gw.endpoint, identity="Bound-00000001",
                curve=(spub, caller[0], caller[1]))
thief.register(group="Bound", methods=("echo",))
is_(thief.expect_nothing(1.0), None,
    "a second connection under a live identity gets nothing")
caller_peer = RawPeer(gw.endpoint, identity="caller-52",
                      curve=(spub, caller[0], caller[1]))
box = caller_peer.call("Bound.echo", "mine")
call = victim.expect_call()
ok(call is not None, "calls still reach the identity's own dealer")
if call is not None:
    victim.reply(call.cid, {"type": "reply", "request_id": box,
                            "result": "mine"})
    kind, body = caller_peer.recv_json()
    is_(body.get("result") if isinstance(body, dict) else body, "mine",
        "... and its reply the caller")
thief.close()
victim.close()


def register_as(identity, keys, methods=("echo",)):
    """Registers under identity as a dealer does: with no answer (its old
    connection may not be seen closed yet), it connects again.  Returns
    (peer, kind, body) of the first answer."""
    for attempt in range(3):
        peer = RawPeer(gw.endpoint, identity=identity, curve=(spub,) + keys)
        peer.register(group="Bound", methods=methods)
        kind, body = peer.recv_json(1.0)
        if kind is not None:
            return peer, kind, body
        peer.close()
    return None, None, None


before = gw.info().get("identity_refused")
thief, kind, body = register_as("Bound-00000001", caller,
                                ("echo", "steal"))
is_((kind, body.get("error") if isinstance(body, dict) else body),
    ("error", "Registration failed: this identity belongs to another CURVE "
     "key"), "another key registering the identity is refused")
thief.heartbeat()
is_(thief.expect_nothing(0.5), None, "its heartbeats are not answered")
ok("Bound.steal" not in gw.methods(), "its methods are not offered")
cmp_ok(gw.info().get("identity_refused", 0), ">=", before + 2,
       "the refusals are counted (router_info identity_refused)")
like(gw.log_text(), r"dealer identity Bound-00000001 from CURVE key %s"
     % re.escape(caller[0]), "... and logged")
thief.close()
victim, kind, body = register_as("Bound-00000001", d2)
is_(kind, "register_ack", "the owner's key registers again")
victim.close()

# libvoidrail: client and dealer with their own pair, and the env vars.
BUILD = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
PEER = os.path.join(BUILD, "t", "unit", "test_lib_peer")


def lib_peer(*args, env=None, wait=5):
    argv = wrapper() + [PEER, "--timeout", str(int(scaled(wait) * 1000))] \
        + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(30), env=vrtest._clean_env(env))
    return p.stdout.decode().splitlines()


if not os.access(PEER, os.X_OK):
    raise AssertionError("t/unit/test_lib_peer is not built (make check "
                         "builds it)")
if True:
    is_(lib_peer("--curve", spub, caller[0], caller[1], "invoke", gw.endpoint,
                 "Safe.echo", '["lib"]'), ['RESULT "lib"'],
        "libvoidrail's client with a listed pair is served")
    hexkey = zmq.utils.z85.decode(spub.encode()).hex()
    like(" ".join(lib_peer("invoke", gw.endpoint, "Safe.echo", '["x"]',
                           wait=1, env={"VOIDRAIL_USE_CURVE": "1",
                                        "VOIDRAIL_CURVE_SERVER_KEY": hexkey})),
         r"^ERROR unreachable ", "... with a fresh, unlisted pair: refused")
    env = {"VOIDRAIL_USE_CURVE": "1", "VOIDRAIL_CURVE_SERVER_KEY": spub,
           "VOIDRAIL_CURVE_SECRET_KEY": caller[1]}
    is_(lib_peer("invoke", gw.endpoint, "Safe.echo", '["env"]', env=env),
        ['RESULT "env"'], "... with its listed pair from "
        "VOIDRAIL_CURVE_SECRET_KEY: served")
    rc, out, err = run_voidrail(["client", "--host", "127.0.0.1", "--port",
                                 gw.endpoint.rsplit(":", 1)[1], "--call",
                                 "Safe.echo", "--args", '"cli"'], env=env)
    is_((rc, out.strip()), (0, '"cli"'),
        "voidrail client with VOIDRAIL_CURVE_SECRET_KEY is served")
    rc, out, err = run_voidrail(
        ["client", "--host", "127.0.0.1", "--port",
         gw.endpoint.rsplit(":", 1)[1], "--call", "Safe.echo", "--args",
         '"cli"', "--timeout", str(scaled(1))],
        env=dict(env, VOIDRAIL_CURVE_SECRET_KEY=rogue[1]))
    ok(rc != 0, "with an unlisted secret key it is not (exit %d)" % rc)
    d = Proc(wrapper() + [PEER, "--curve", spub, d2[0], d2[1], "dealer",
                          gw.endpoint, "LibSafe", "--heartbeat", "200"],
             name="lib-curve-dealer", lines=True)
    ok(d.expect_line(r"^ID LibSafe-", 10), "libvoidrail's dealer starts")
    ok(wait_until(lambda: "LibSafe.echo" in gw.methods(), 10),
       "... and registers over CURVE")
    is_(client.invoke("LibSafe.echo", "to lib"), ["to lib"],
        "... and serves a call")
    d.signal(signal.SIGTERM)
    is_(d.wait(10), 0, "it stops cleanly")

# No secret key in the log or in -T.
rc, shown, _ = run_voidrail(["-T", "-c", gw.config_path])
is_(rc, 0, "-T shows the configuration")
like(shown, r"key_file: \"%s\"" % re.escape(os.path.join(tmp,
     "server.key_secret")), "-T shows the key file's name")
dealer.stop()
is_(gw.stop(), 0, "the gateway exits 0")
log = gw.log_text()
for name, secret in (("server", ssec), ("dealer1", d1sec), ("d2", d2[1]),
                     ("caller", caller[1]), ("admin", admin[1])):
    ok(secret not in log and secret not in shown,
       "the %s secret key is in neither the log nor -T" % name)

done_testing()
