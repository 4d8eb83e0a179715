#!/usr/bin/python3
# router.curve and its checks: the allow-list changes with a reload and
# applies to new connections (open ones stay), and so do the certificates
# in allow_dir, read again on each reload; a reload that changes the
# server key, turns CURVE off or names a bad file is refused (logged with
# FILE:LINE:COL and the key) and the running list stays; `voidrail -t`
# names the key of a bad value; a secret_key shows only as a digest in
# -T; CURVE without an allow-list lets any key in and warns at start.
import copy, hashlib, os, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrops import OpsGateway
import zmq
import zmq.auth

if not zmq.has("curve"):
    skip_all("this libzmq has no CURVE")

tmp = tempdir()
server = curve_keys()
admin, a, b = curve_keys(), curve_keys(), curve_keys()
base = {"router": {"curve": {"secret_key": server[1],
                             "allow": [admin[0], a[0]]}}}


def conf_with(**curve):
    conf = copy.deepcopy(base)
    conf["router"]["curve"].update(curve)
    for k in [k for k, v in curve.items() if v is None]:
        del conf["router"]["curve"][k]
    return conf


gw = OpsGateway(base, curve=(server[0], admin[0], admin[1])).start()


def answers(keys, server_key=None):
    """Does a new connection with this client pair get router_info?"""
    peer = RawPeer(gw.endpoint, curve=(server_key or server[0],) + keys)
    try:
        kind, _ = peer.command("router_info", timeout=1.0)
        return kind == "router_info_ack"
    finally:
        peer.close()


ok(answers(a), "a listed key is let in")
ok(not answers(b), "an unlisted key is not")

open_a = RawPeer(gw.endpoint, curve=(server[0],) + a)
is_(open_a.command("router_info")[0], "router_info_ack",
    "a connection with key a is open")
last = gw.reload(conf_with(allow=[admin[0], b[0]]))
is_(last and last.get("ok"), True, "reload: the list now has b, not a")
ok(answers(b), "b is let in after the reload")
ok(not answers(a), "a new connection with a is refused")
is_(open_a.command("router_info")[0], "router_info_ack",
    "the connection a opened before stays")
open_a.close()

# allow_dir: its certificates are read again on each reload.
cdir = os.path.join(tmp, "clients")
os.mkdir(cdir)
cbase = os.path.join(tmp, "c")
rc, _, err = run_voidrail(["keygen", "--curve", "--out", cbase])
is_(rc, 0, "keygen --curve makes a client certificate") or diag(err)
pub, sec = zmq.auth.load_certificate(cbase + ".key_secret")
c = (pub.decode(), sec.decode())
last = gw.reload(conf_with(allow=[admin[0], b[0]], allow_dir=cdir))
is_(last and last.get("ok"), True, "reload: an empty allow_dir")
ok(not answers(c), "key c is not let in")
os.rename(cbase + ".key", os.path.join(cdir, "c.key"))
last = gw.reload(conf_with(allow=[admin[0], b[0]], allow_dir=cdir))
is_(last and last.get("ok"), True, "reload: c.key is in allow_dir now")
ok(answers(c), "key c is let in")
ok(answers(b), "and b still is")
os.unlink(os.path.join(cdir, "c.key"))
last = gw.reload(conf_with(allow=[admin[0], b[0]], allow_dir=cdir))
is_(last and last.get("ok"), True, "reload: c.key removed from allow_dir")
ok(not answers(c), "key c is not let in any more")

# Bad values: the reload is refused, the list in force stays.
for what, change, pattern in (
        ("a missing allow_dir", {"allow_dir": os.path.join(tmp, "none")},
         r"router\.curve\.allow_dir.*cannot read the directory"),
        ("a malformed allow item", {"allow": [admin[0], "not-a-key"]},
         r"router\.curve\.allow.*item 2 is not a CURVE public key"),
        ("an unreadable key_file", {"secret_key": None,
                                    "key_file": os.path.join(tmp, "none")},
         r"router\.curve\.key_file.*cannot read"),
        ("a new server key", {"secret_key": curve_keys()[1]},
         "^" + re.escape(gw.config_path) + r":\d+:\d+: \"router\.curve\."
         r"secret_key\" turning CURVE on or off or changing the server key "
         r"needs a restart"),
        ("CURVE off", {"secret_key": None, "allow": None},
         "^" + re.escape(gw.config_path) + r":\d+:\d+: \"router\.curve\" "
         r"turning CURVE on or off .* needs a restart")):
    last = gw.reload(conf_with(**dict({"allow": [admin[0], b[0]]}, **change)))
    is_(last and last.get("ok"), False, "%s: the reload is refused" % what)
    like(last and last.get("error"), pattern, "%s: the error says why" % what)
    ok(answers(b) and not answers(a), "%s: the list in force stays" % what)
ok(answers(b), "the server key in force stays")

# -t names the key; -T shows the secret as a digest.
path = os.path.join(tmp, "check.yaml")


def check(curve):
    with open(path, "w") as f:
        f.write(to_yaml({"router": {"curve": curve}}) + "\n")
    return run_voidrail(["-t", "-c", path])


rc, out, err = check({"key_file": os.path.join(tmp, "missing.key_secret")})
is_(rc, 1, "-t: an unreadable key_file fails the check")
like(err, r"check\.yaml:\d+:\d+: \"router\.curve\.key_file\" cannot read "
     r".*missing\.key_secret", "... with FILE:LINE:COL and the key")
pub_file = os.path.join(tmp, "srv")
run_voidrail(["keygen", "--curve", "--out", pub_file])
rc, out, err = check({"key_file": pub_file + ".key"})
like(err, r"\"router\.curve\.key_file\" .* has no secret-key",
     "-t: a public certificate as key_file is refused")
rc, out, err = check({"secret_key": "x" * 39 + "~"})
like(err, r"\"router\.curve\.secret_key\" is not a CURVE key",
     "-t: a malformed secret_key is refused")
unlike(err, r"xxxx", "... without showing it")
rc, out, err = check({"key_file": pub_file + ".key_secret",
                      "public_key": curve_keys()[0]})
like(err, r"\"router\.curve\.public_key\" is not the public key of the "
     r"server's secret key", "-t: a public_key of another pair is refused")
rc, out, err = check({"allow": [a[0]]})
like(err, r"\"router\.curve\.allow\" needs router\.curve\.key_file",
     "-t: an allow-list without a server key is refused")
rc, out, err = check({"key_file": pub_file + ".key_secret",
                      "secret_key": server[1]})
like(err, r"\"router\.curve\.secret_key\" and router\.curve\.key_file are "
     r"two ways", "-t: key_file and secret_key together are refused")
rc, out, err = check({"key_file": pub_file + ".key_secret",
                      "allow_dir": tmp})
is_(rc, 0, "-t: key_file and allow_dir of keygen's files pass")

gw.write_config(base)
rc, shown, _ = run_voidrail(["-T", "-c", gw.config_path])
like(shown, r"secret_key: \"sha256:%s\""
     % hashlib.sha256(server[1].encode()).hexdigest(),
     "-T shows secret_key as its digest")

# CURVE without an allow-list: any key, and a warning at start.
open_gw = Gateway({"router": {"curve": {"secret_key": server[1]}}},
                  name="open", curve=(server[0],) + curve_keys()).start()
like(open_gw.log_text(), r"warn CURVE is on without an allow-list",
     "no allow-list: a warning at start")
peer = RawPeer(open_gw.endpoint, curve=(server[0],) + curve_keys())
is_(peer.command("router_info")[0], "router_info_ack",
    "no allow-list: any client key is let in")
peer.close()
is_(open_gw.stop(), 0, "that gateway exits 0")

is_(gw.stop(), 0, "the gateway exits 0")
for name, text in (("gateway", gw.log_text()), ("open", open_gw.log_text()),
                   ("-T", shown)):
    ok(server[1] not in text, "the server's secret key is not in the %s "
       "output" % name)
done_testing()
