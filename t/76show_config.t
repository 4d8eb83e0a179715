#!/usr/bin/python3
# `voidrail -T -c FILE` prints the effective configuration: every key of
# every section (those of `voidrail -K`), defaults filled in, values in
# their canonical form.  What it prints is a configuration itself:
# `voidrail -t` accepts it, -T of it prints the same text apart from the
# first comment line, and a gateway started from it has the same settings
# (keys with quotes, backslashes and non-ASCII letters included).  A bad
# file: exit 1, FILE:LINE:COL: on stderr, nothing on stdout.
import json, os, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

router_port, http_port = free_port(), free_port()
ENDPOINT = "tcp://127.0.0.1:%d" % router_port
ODD_KEY = 'quote"back\\slash ünïcødé-ключ'
original = """\
# a hand-written file
log: { level: notice }
router:
  bind: %s
  mode: load_balance
  heartbeat_timeout: 90s        # busy_timeout follows it
  request_timeout: 1500ms
  max_queue: 77
  max_message: 64KiB
  methods:
    "Images.*": { timeout: 300s, max_queue: 100 }
    "Math.square": { max_attempts: 3 }
  services:
    Resize: { capacity: 4 }
auth:
  client_keys:
    - plain-key
    - %s
    - { key: scoped-key, name: "images team", methods: ["Images.*"],
        rate: 30/m, burst: 5, concurrency: 2 }
http:
  listen: 127.0.0.1:%d
  cors_origins: ["*"]
  access_log: "off"
workers:
  - name: "idle: one"
    command: [sleep, "60"]
    env: { WHO: "worker {instance}", EMPTY: "" }
    restart: on-failure
    stop_grace: 2500ms
process:
  pid_file: %s
""" % (ENDPOINT, json.dumps(ODD_KEY), http_port,
       json.dumps(os.path.join(tempdir(), "pid file")))
path = os.path.join(tempdir(), "original.yaml")
with open(path, "w") as f:
    f.write(original)

rc, shown, err = run_voidrail(["-T", "-c", path])
is_(rc, 0, "voidrail -T -c FILE exits 0")
lines = shown.split("\n")
like(lines[0], r"^# ", "the first line is a comment")

# Every key that -K lists is there, in its place: nested blocks by their
# indentation, list entries ("- ") numbered.  A key of list entries must be
# in every entry of workers, and in at least one of any other list (an
# optional key without a default, such as a key's name, shows where set).
rc, keys, _ = run_voidrail(["-K"])
paths, stack, counts = set(), [], {}
for line in lines[1:]:
    text = line.lstrip(" ")
    indent = len(line) - len(text)
    entry = text.startswith("- ")
    if entry:
        text, indent = text[2:], indent + 2
    m = re.match(r'^([a-z_]+|"[^"]*"):', text)
    if not m:
        continue
    while stack and stack[-1][0] >= indent - entry:
        stack.pop()
    parent = stack[-1][1] if stack else ""
    if entry:
        n = counts.get(parent, 0)
        counts[parent] = n + 1
        stack.append((indent - 1, "%s[%d]" % (parent, n)))
        parent = stack[-1][1]
    name = "<x>" if m.group(1).startswith('"') else m.group(1)
    path = (parent + "." + name).lstrip(".")
    paths.add(path)
    stack.append((indent, path))
missing = []
for row in keys.splitlines():
    key = row.split("\t")[0]
    if "<" in key or key not in ("workers",) and key.endswith("]"):
        continue
    if "[]" not in key:
        if key not in paths:
            missing.append(key)
        continue
    lst, _, name = key.partition("[].")
    have = [i for i in range(counts.get(lst, 0))
            if "%s[%d].%s" % (lst, i, name) in paths]
    want = counts.get(lst, 0) if lst == "workers" else min(1, counts.get(lst, 0))
    if len(have) < want:
        missing.append(key)
is_(missing, [], "every key of voidrail -K is shown (%d)"
    % len(keys.splitlines()))
is_([counts.get(k) for k in ("workers", "auth.client_keys")], [1, 3],
    "the one workers entry and the three client keys are shown")

for pattern, what in (
        (r"^  busy_timeout: 90s$", "busy_timeout follows heartbeat_timeout"),
        (r"^  request_timeout: 1500ms$", "a duration in its own unit"),
        (r"^  max_message: 64KiB$", "a size in its own unit"),
        (r"^  hwm: 10000$", "a default: router.hwm"),
        (r"^  max_clients: 100000$", "a default: auth.max_clients"),
        (r"^  drain_timeout: 30s$", "a default: http.drain_timeout"),
        (r"^  drain_timeout: 10s$", "a default: process.drain_timeout"),
        (r'^    "Images\.\*":$', "router.methods keeps its globs"),
        (r"^      timeout: 5m$", "300s shown as 5m"),
        (r"^    stop_grace: 2500ms$", "a worker's stop_grace"),
        (r"^    instances: 1$", "a worker's default instances"),
        (r'^    - name: "images team"$', "a client key's name"),
        (r'^      methods: \["Images\.\*"\]$', "a client key's methods"),
        (r'^      methods: \["\*"\]$', "a plain key's default methods"),
        (r"^      rate: 30/m$", "a rate in its own unit"),
        (r"^    - key: \"sha256:[0-9a-f]{64}\"$", "keys only as digests")):
    like(shown, pattern, "-T shows %s" % what)

shown_path = os.path.join(tempdir(), "shown.yaml")
with open(shown_path, "w") as f:
    f.write(shown)
rc, out, err = run_voidrail(["-t", "-c", shown_path])
is_(rc, 0, "voidrail -t accepts what -T printed")
rc, again, err = run_voidrail(["-T", "-c", shown_path])
is_((rc, again.split("\n")[1:]), (0, lines[1:]),
    "-T of it prints the same, apart from the first line")

# A gateway started from the shown file has the original's settings.
gw = Gateway(shown).start()
is_(gw.endpoint, ENDPOINT, "a gateway starts from the shown file")
peer = RawPeer(ENDPOINT, identity="client-76")
peer.send(["auth", {"api_key": ODD_KEY, "client_id": "client-76"}])
is_(peer.recv_json()[0], "auth_ack",
    "the key with a quote, a backslash and non-ASCII letters is taken")
peer.send(["auth", {"api_key": ODD_KEY[:-1], "client_id": "client-76"}])
is_(peer.recv_json()[0], "error", "a key one letter short is not")
gw.admin_key = "plain-key"
info = gw.info()
is_([info.get(k) for k in ("mode", "request_timeout", "max_queue",
                           "busy_heartbeat_timeout")],
    ["load_balance", 1.5, 77, 90.0],
    "router_info: mode, request_timeout, max_queue, busy timeout")
r = HttpConn(http_port).send("GET", "/status.json",
                             headers={"X-API-Key": "plain-key"}).response()
status = (r and r.json()) or {}
is_([(status.get("gateway") or {}).get(k) for k in ("bind", "http_listen")],
    [[ENDPOINT], ["127.0.0.1:%d" % http_port]],
    "/status.json: bind and http_listen")
is_([(w.get("name"), w.get("state")) for w in status.get("workers") or []],
    [("idle: one", "running")], "the worker runs")
is_(gw.stop(), 0, "the gateway exits 0")

# -- a bad file --
bad = os.path.join(tempdir(), "bad.yaml")
with open(bad, "w") as f:
    f.write("router:\n  mode: fifo\n  max_queue: lots\n")
rc, out, err = run_voidrail(["-T", "-c", bad])
is_([rc, out], [1, ""], "-T of a bad file exits 1 and prints nothing")
like(err, re.escape(bad) + r":3:14: \"router\.max_queue\"",
     "the error names FILE:LINE:COL and the key")
done_testing()
