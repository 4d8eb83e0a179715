#!/usr/bin/python3
# The command line: help, version, config test (-t) with FILE:LINE:COL
# errors, and the `voidrail router` command of the Python CLI (A.8, A.9).
import os, re, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *


def conf(name, text):
    path = os.path.join(tempdir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


# -- help and version --

rc, out, err = run_voidrail(["-h"])
is_(rc, 0, "voidrail -h exits 0")
like(out + err, r"-c", "voidrail -h mentions -c")

rc, out, err = run_voidrail(["-V"])
is_(rc, 0, "voidrail -V exits 0")
like(out + err, r"\d+\.\d+\.\d+", "voidrail -V prints a version number")

# -- the config test --

good = conf("good.yaml", """\
router:
  bind: tcp://127.0.0.1:%d
  mode: fifo
  heartbeat_timeout: 10s
  busy_timeout: 60s
  probe_interval: 1s
  request_timeout: 60s
  no_service_wait: 0s
  max_queue: 10000
  max_message: 16MiB
  dealer_capacity: 1
  send_router_shutdown: true
  methods:
    "Svc.slow": { timeout: 2s, max_queue: 5, max_attempts: 1 }
  services:
    Svc: { capacity: 2 }
auth:
  dealer_keys: []
  client_keys: []
log:
  level: info
  file: stderr
""" % free_port())
rc, out, err = run_voidrail(["-t", "-c", good])
is_(rc, 0, "voidrail -t accepts the documented configuration") or diag(err)

other = conf("other.yaml", """\
router:
  bind:
    - tcp://127.0.0.1:%d
    - tcp://127.0.0.1:%d
  mode: load_balance
  heartbeat_timeout: 250ms
  busy_timeout: 2m
  request_timeout: 5
  methods:
    "Svc.*": { max_queue: 3 }
auth:
  client_keys: ["sha256:%s"]
""" % (free_port(), free_port(), "ab" * 32))
rc, out, err = run_voidrail(["-t", "-c", other])
is_(rc, 0, "voidrail -t accepts a bind list, other units and a sha256 key") \
    or diag(err)

# (file, text, line, allowed columns, key path or None)
bad = [
    ("syntax.yaml", "router:\n\tmode: fifo\n", 2, None, None),
    ("unknown.yaml", "router:\n  mode: fifo\n  frobnicate: 1\n",
     3, (3, 15), "router.frobnicate"),
    ("type.yaml", "router:\n  max_queue: [1, 2]\n", 2, (3, 14),
     "router.max_queue"),
    ("range.yaml", "router:\n  mode: fifo\n  max_queue: -1\n", 3, (3, 14),
     "router.max_queue"),
    ("duplicate.yaml", "router:\n  mode: fifo\n  mode: load_balance\n",
     3, (3, 9), "router.mode"),
]
for name, text, line, cols, key in bad:
    path = conf(name, text)
    what = name[:-5]
    rc, out, err = run_voidrail(["-t", "-c", path])
    is_(rc, 1, "voidrail -t exits 1 on a %s error" % what)
    pattern = r"^(voidrail: )?%s:%d:(%s): %s\S" % (
        re.escape(path), line,
        "|".join(str(c) for c in cols) if cols else r"\d+",
        '"%s" ' % re.escape(key) if key else "")
    like(err, pattern, "the %s error reads FILE:LINE:COL: %s problem" % (
        what, '"%s"' % key if key else "message"))

# -- voidrail router --

for flag in ("--help", "-h"):
    rc, out, err = run_voidrail(["router", flag])
    is_(rc, 0, "voidrail router %s exits 0" % flag)
    like(out + err, r"--port", "voidrail router %s describes --port" % flag)

days = {time.strftime("%y%m%d", time.localtime()),
        time.strftime("%y%m%d", time.gmtime())}
keys = []
for run in range(2):
    rc, out, err = run_voidrail(["router", "--generate-keys"])
    is_(rc, 0, "voidrail router --generate-keys exits 0")
    found = {}
    for prefix in ("dealer", "client"):
        m = re.search(r"\b%s_(\d{6})_([A-Za-z0-9_-]{16,})\b" % prefix, out)
        ok(m and m.group(1) in days,
           "it prints a %s_<yymmdd>_<base64url> key of today" % prefix) \
            or diag(out + err)
        found[prefix] = m.group(0) if m else None
    keys.append(found)
ok(keys[0]["dealer"] != keys[1]["dealer"]
   and keys[0]["client"] != keys[1]["client"],
   "two runs generate different keys")

# --heartbeat 1: an idle dealer expires after about 1 + 3 seconds
gw = Gateway(router_args=["--heartbeat", "1"]).start()
is_(float(gw.info().get("idle_heartbeat_timeout", 0)), 4.0,
    "router --heartbeat 1 has an idle heartbeat timeout of 4 s")
d = RawPeer(gw.endpoint, identity="RefService-00c11c11")
d.register()
is_(d.recv(), [b"register_ack", b""], "router mode answers register")
t0 = time.monotonic()
time.sleep(2.0)
is_(gw.clusters().get("RefService-00c11c11", {}).get("state"), "active",
    "the silent dealer is still active after 2 s")
state = wait_until(lambda: gw.clusters().get("RefService-00c11c11", {})
                   .get("state") == "inactive", timeout=5.0, interval=0.1)
elapsed = time.monotonic() - t0
ok(state, "the silent dealer becomes inactive")
cmp_ok(elapsed, ">=", 3.0, "not before about 4 s of silence")
is_(gw.stop(), 0, "router mode exits 0 on SIGTERM")

# keys from the environment are added to those of the command line
gw = Gateway(router_args=["--dealer-keys", "dk0"],
             env={"VOIDRAIL_DEALER_API_KEYS": "dk1,dk2",
                  "VOIDRAIL_CLIENT_API_KEYS": "ck1,ck2"}).start()
for key, answer in (("dk0", "register_ack"), ("dk2", "register_ack"),
                    ("nope", "error")):
    d = RawPeer(gw.endpoint, identity="RefService-%s" % key.ljust(8, "0"))
    d.register(api_key=key)
    is_(d.recv_json()[0], answer, "dealer key %s: %s" % (key, answer))
for key, answer in (("ck2", "auth_ack"), ("nope", "error")):
    c = RawPeer(gw.endpoint)
    c.send(["auth", {"api_key": key, "client_id": "x"}])
    is_(c.recv_json()[0], answer, "client key %s: %s" % (key, answer))
kind, body = RawPeer(gw.endpoint).command("methods")
is_((kind, body.get("error") if isinstance(body, dict) else body),
    ("error", "Not authenticated"),
    "client keys from the environment require authentication")
is_(gw.stop(), 0, "it exits 0")

# --mode, -p, --client-keys, --logger-level and --http
http_port = free_port()
gw = Gateway(router_args=["--mode", "load_balance", "--client-keys", "ckA",
                          "--client-keys", "ckB", "--logger-level", "DEBUG",
                          "--http", "127.0.0.1:%d" % http_port],
             admin_key="ckB").start()
is_(gw.info().get("mode"), "load_balance", "--mode load_balance")
for key, answer in (("ckA", "auth_ack"), ("nope", "error")):
    c = RawPeer(gw.endpoint)
    c.send(["auth", {"api_key": key, "client_id": "x"}])
    is_(c.recv_json()[0], answer, "--client-keys %s: %s" % (key, answer))
r = HttpConn(http_port).send("GET", "/healthz").response()
is_(r and r.status, 200, "--http HOST:PORT serves HTTP")
RawPeer(gw.endpoint, identity="stray-05").heartbeat()
ok(wait_until(lambda: re.search(r" debug heartbeat from unregistered "
                                r"stray-05", gw.log_text())),
   "--logger-level DEBUG logs debug lines")
is_(gw.stop(), 0, "it exits 0")
port = free_port()
p = Proc([voidrail_bin(), "router", "--host", "127.0.0.1", "-p", str(port)],
         name="router-p")
probe = RawPeer("tcp://127.0.0.1:%d" % port)
ok(wait_until(lambda: probe.command("router_info", 0.2)[0]
              == "router_info_ack"), "-p PORT is the port")
is_(p.stop(), 0, "and it exits 0 on SIGTERM")
rc, out, err = run_voidrail(["router", "--mode", "bogus"])
is_(rc, 1, "--mode bogus exits 1")
like(err, r"--mode must be fifo or load_balance", "naming the option")

rc, out, err = run_voidrail(["router", "--host", "127.0.0.1", "--port",
                             str(free_port()), "--require-auth"])
is_(rc, 1, "router --require-auth without any key exits 1")
like(err, r"\S", "and says why on stderr")

done_testing()
