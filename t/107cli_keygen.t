#!/usr/bin/python3
# `voidrail keygen`: API keys in the Python package's format
# (<prefix>_<yymmdd>_<43 base64url characters>, 256 random bits), --prefix,
# --hash (the sha256:<hex> form the configuration takes), and a gateway
# that keeps only the hash lets the key in.
import hashlib, os, re, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

KEY = r"[A-Za-z0-9_-]{43}"

rc, out, err = run_voidrail(["keygen"])
is_(rc, 0, "keygen exits 0")
today = time.strftime("%y%m%d")
like(out, r"\Aclient_\d{6}_%s\n\Z" % KEY, "one key, client_ by default")
ok(out.split("_")[1] in (today, time.strftime("%y%m%d",
                                               time.localtime(time.time() - 60))),
   "... dated today (yymmdd)")
rc, out2, err = run_voidrail(["keygen"])
isnt(out2, out, "two keys differ")

rc, out, err = run_voidrail(["keygen", "--prefix", "dealer"])
like(out, r"\Adealer_\d{6}_%s\n\Z" % KEY, "--prefix dealer")

rc, out, err = run_voidrail(["keygen", "--prefix", "client", "--hash"])
lines = out.splitlines()
is_(len(lines), 2, "--hash: two lines")
like(lines[0], r"\Aclient_\d{6}_%s\Z" % KEY, "the key")
is_(lines[1], "sha256:" + hashlib.sha256(lines[0].encode()).hexdigest(),
    "its sha256:<hex> form")

for args, why in ((["--prefix", "a b"], "a prefix with a space"),
                  (["--prefix", ""], "an empty prefix"),
                  (["--prefix", "x" * 33], "a prefix too long"),
                  (["--frobnicate"], "an unknown option"),
                  (["extra"], "a stray argument")):
    rc, out, err = run_voidrail(["keygen"] + args)
    is_(rc, 2, "exit 2: %s" % why)
rc, out, err = run_voidrail(["keygen", "--help"])
ok(rc == 0 and "--hash" in out, "--help")

# -- the hash in the configuration lets the key in --
key, digest = lines
gw = Gateway({"auth": {"client_keys": [digest]}}).start()
rc, out, err = run_voidrail(["client", "--endpoint", gw.endpoint,
                             "--router-info", "--api-key", key])
is_(rc, 0, "a gateway that keeps only sha256:<hex> accepts the key")
rc, out, err = run_voidrail(["client", "--endpoint", gw.endpoint,
                             "--router-info", "--api-key", digest])
is_(rc, 6, "... and not the hash itself")

done_testing()
