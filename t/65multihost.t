#!/usr/bin/python3
# Several hosts (network namespaces made here, ledger-checked): the
# gateway in one, ledger dealers in two others (two processes each), a
# client (t/lib/ledger_load.py, over ZeroMQ and HTTP) in a fourth, all on
# one bridge in a fifth "switch" namespace, on 10.231.65.0/24 (used only
# inside these namespaces).  The test itself talks to the gateway over an
# ipc:// endpoint.
#
# Under load (300 calls in 14 s; VR_TEST_LONG=1: 1,500 in 40 s), one dealer
# host's link is cut silently (its switch port set down: no RST, no FIN): the
# gateway takes its dealers out of service within router.heartbeat_timeout,
# answers the calls they held (dealer_lost, or run again on the other host for
# the retryable methods) and serves on with the other host.  When the link
# comes back, the dealers there come back (revived or re-registered) and
# serve again.
#
# Needs root and ip(8) (iproute2); without them it is skipped, saying why.
import os, shutil, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from ledger import *

if os.geteuid() != 0:
    skip_all("network namespaces need root")
IP = shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip")
                                 if os.access(p, os.X_OK)), None)
if IP is None:
    skip_all("no ip(8) command (Debian package iproute2)")

SEED = int(os.environ.get("VR_CHAOS_SEED") or time.time())
HBT = 3.0                       # router.heartbeat_timeout, nominal
TIMEOUT = scaled(15.0)
GRACE = scaled(2.0)
ATTEMPTS = 4
CUT_LOAD, CUT_LOAD_S = (1500, 40.0) if LONG else (300, 14.0)
NET = "10.231.65."
TAG = "vr65-%d" % os.getpid()
HOSTS = {"gw": NET + "1", "d1": NET + "11", "d2": NET + "12",
         "cl": NET + "21"}
NS = {h: "%s-%s" % (TAG, h) for h in list(HOSTS) + ["sw"]}
note("seed %d; namespaces %s-*" % (SEED, TAG))


def ip(*args, check=True):
    p = subprocess.run([IP] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args),
                                          p.stderr.decode().strip()))
    return p


def drop_namespaces():
    for ns in NS.values():
        ip("netns", "del", ns, check=False)


# Made here, deleted at exit whatever happens (registered before any
# process is started, so it runs after they are killed).
at_cleanup(drop_namespaces)
p = ip("netns", "add", NS["sw"], check=False)
if p.returncode != 0:
    skip_all("cannot make a network namespace: %s"
             % p.stderr.decode().strip())
try:
    for h in HOSTS:
        ip("netns", "add", NS[h])
    ip("-n", NS["sw"], "link", "add", "br0", "type", "bridge")
    ip("-n", NS["sw"], "link", "set", "br0", "up")
    for h, addr in HOSTS.items():
        port = "p-" + h
        ip("-n", NS["sw"], "link", "add", port, "type", "veth", "peer",
           "name", "eth0", "netns", NS[h])
        ip("-n", NS["sw"], "link", "set", port, "master", "br0", "up")
        ip("-n", NS[h], "addr", "add", addr + "/24", "dev", "eth0")
        ip("-n", NS[h], "link", "set", "eth0", "up")
        ip("-n", NS[h], "link", "set", "lo", "up")
except RuntimeError as e:
    # A kernel without bridges or veth pairs (a container, say).
    skip_all("cannot make the hosts' network: %s" % e)


def netns(h):
    return [IP, "netns", "exec", NS[h]]


# The gateway, in its namespace (VR_TEST_WRAPPER is what starts it).
os.environ["VR_TEST_WRAPPER"] = " ".join(netns("gw")) + " " + \
    os.environ.get("VR_TEST_WRAPPER", "")
zport, hport = free_port(), free_port()
tcp = "tcp://%s:%d" % (HOSTS["gw"], zport)
gw = Gateway({
    "router": {
        "bind": ["ipc://%s/gw.ipc" % tempdir(), tcp],
        "heartbeat_timeout": duration(HBT),
        "busy_timeout": duration(HBT),
        "probe_interval": "200ms",
        "request_timeout": "%dms" % int(TIMEOUT * 1000),
        "no_service_wait": duration(5),
        "methods": {"Chaos.rwork": {"max_attempts": ATTEMPTS},
                    "Chaos.rstream": {"max_attempts": ATTEMPTS}},
    },
    "http": {"listen": "%s:%d" % (HOSTS["gw"], hport), "access_log": "off"},
}).start()

spec = [{"kind": "async", "max_concurrent": 2, "heartbeat": 0.5}] * 2
pools = {h: DealerPool(tcp, spec, prefix=netns(h)) for h in ("d1", "d2")}
for pool in pools.values():
    pool.start()
sids = {h: {d.sid for d in pools[h].all} for h in pools}
ok(wait_until(lambda: gw.info()["active_services_count"] == 4, 10),
   "two dealer processes on each of two hosts registered")


def states(h):
    cl = gw.clusters()
    return {cl.get(s, {}).get("state") for s in sids[h]}


run_serial = [0]


def client(total, seconds, mix="work:4,rwork:3,stream:1,rstream:1"):
    """Starts ledger_load.py in the client namespace; returns (Proc, the
    ledger's path)."""
    run_serial[0] += 1
    out = os.path.join(tempdir(), "client-%d.json" % run_serial[0])
    argv = netns("cl") + [sys.executable, os.path.join(T_DIR, "lib",
                                                       "ledger_load.py"),
        "--endpoint", tcp, "--http-host", HOSTS["gw"],
        "--http-port", str(hport), "--total", str(total),
        "--duration", str(seconds), "--timeout", str(TIMEOUT),
        "--grace", str(GRACE), "--zmq-seq", "2", "--zmq-pipe", "1",
        "--http", "2", "--mix", mix, "--prefix", "m65r%d" % run_serial[0],
        "--seed", str(SEED + run_serial[0]), "--out", out]
    return Proc(argv, name="client"), out


def finish(proc, out, limit):
    rc = proc.wait(limit)
    if rc is None:
        proc.kill()
    return rc, (Ledger.load(out) if os.path.exists(out) else None)


def executed_on(records, h, after=0.0):
    return [r for r in records if r["ev"] == "call" and r["sid"] in sids[h]
            and r["t"] > after]


def records(run=None):
    """The dealers' books (of one client run: run_serial[0])."""
    recs = pools["d1"].records() + pools["d2"].records()
    if run is None:
        return recs
    return [r for r in recs if str(r.get("lid")).startswith(
        "m65r%d-" % run)]


# -- both hosts serve --
proc, out = client(60, scaled(3.0))
rc, led = finish(proc, out, 30 + TIMEOUT)
is_(rc, 0, "a client on the fourth host ran 60 calls")
rep = check(led, records(run_serial[0]), grace=GRACE) if led else None
ok(rep and set(rep.classes) == {"ok"},
   "all of them ended ok (%s)" % (rep and dict(rep.classes)))
ok(all(executed_on(records(), h) for h in pools),
   "dealers on both hosts executed calls")

# -- one host's link is cut under load --
proc, out = client(CUT_LOAD, scaled(CUT_LOAD_S))
sleep(3.0)
t_cut = time.monotonic()
ip("-n", NS["sw"], "link", "set", "p-d1", "down")
kills = [(t_cut, s, None) for s in sids["d1"]]
ok(wait_until(lambda: states("d1") == {"inactive"}, HBT + 3, 0.02),
   "the gateway takes the cut host's dealers out of service")
t_out = time.monotonic() - t_cut
cmp_ok(t_out, "<", scaled(HBT) + scaled(0.5),
       "within router.heartbeat_timeout (%.2f s)" % t_out)
is_(states("d2"), {"active"}, "the other host's dealers stay in service")
sleep(2.0)
t_mid = time.monotonic()
ok(wait_until(lambda: len(executed_on(records(), "d2", t_mid)) > 0, 3),
   "while the link is down, the other host serves")
t_back = time.monotonic()
ip("-n", NS["sw"], "link", "set", "p-d1", "up")
kills = [(t_cut, s, t_back) for s in sids["d1"]]
ok(wait_until(lambda: states("d1") == {"active"}, 15),
   "when the link is back, its dealers come back")
note("back in %.2f s after the link" % (time.monotonic() - t_back))
rc, led = finish(proc, out, scaled(CUT_LOAD_S * 3) + TIMEOUT)
is_(rc, 0, "the client ran %d calls meanwhile" % CUT_LOAD)
rep = check(led, records(run_serial[0]), kills, grace=GRACE,
            retry={"Chaos.rwork": ATTEMPTS, "Chaos.rstream": ATTEMPTS},
            allowed={}, lost_window=scaled(HBT) + scaled(1.0)) \
    if led else Report()
is_(rep.figures.get("requests"), CUT_LOAD,
    "its ledger books all %d of them" % CUT_LOAD)
for line in rep.lines():
    note(line)
is_(rep.bad(), {"lost": 0, "duplicated": 0, "unexpected": 0,
                "misrouted": 0},
    "nothing lost, duplicated, unexpected or misrouted")
# When the link is back, a cut host's dealer may reconnect once more (a
# new socket, same identity), and calls the gateway had sent to the
# socket it dropped are lost with it.  The gateway gives a dealer that
# registered again while holding calls no new one until a heartbeat shows
# which it still holds, then ends the others at once: retried (and ok)
# when retryable, dealer_lost otherwise.  Such a dealer_lost, after the
# link came back, is explained by the reconnection; a timeout never is.
RETRYABLE = ("Chaos.rwork", "Chaos.rstream")
aftermath = {l for l, c in rep.by_lid.items()
             if c == "error:dealer_lost" and led.reqs[l]["m"] not in RETRYABLE
             and led.reqs[l]["terms"][0][0] > t_back}
for l in sorted(aftermath):
    note("after the reconnection: %s %s %r" % (l, rep.by_lid[l],
                                               led.reqs[l]["terms"][0][2]))
# At most what the cut host's dealers hold at once (2 processes of
# capacity 2), for each of two connections that may be dropped.
cmp_ok(len(aftermath), "<=", 2 * 2 * 2, "dealer_lost after the link came "
       "back: no more than its dealers could hold (%d)" % len(aftermath))
problems = [p for p in rep.problems if p.split(" ")[0].rstrip(":")
            not in aftermath]
is_(problems[:20], [], "no problem: dealer_lost only on the cut host "
    "and within heartbeat_timeout (or after its reconnection), retryable "
    "calls ok, no late dispatch")
ok(set(rep.classes) <= {"ok", "error:dealer_lost"},
   "calls end ok or dealer_lost, none at its deadline (%s)"
   % dict(rep.classes))
write_report("65multihost", dict(rep.figures, out_of_service_after=round(
    t_out, 3), after_reconnection=len(aftermath)))

# -- the host that came back serves --
t_now = time.monotonic()
proc, out = client(60, scaled(3.0))
rc, led = finish(proc, out, 30 + TIMEOUT)
is_(rc, 0, "after the link is back, the client runs 60 more calls")
rep = check(led, records(run_serial[0]), grace=GRACE) if led else None
ok(rep and set(rep.classes) == {"ok"},
   "all of them ended ok (%s)" % (rep and dict(rep.classes)))
cmp_ok(len(executed_on(records(), "d1", t_now)), ">", 0,
       "the dealers of the host that was cut off executed some")

for pool in pools.values():
    pool.stop_all()
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
