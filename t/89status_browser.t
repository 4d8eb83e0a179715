#!/usr/bin/python3
# The /status dashboard in a real browser: a headless chromium (the system
# one, driven by t/browser/status.mjs with npm playwright-core) loads
# /status from a gateway with two dealers; the page goes "live" on the
# SSE snapshots of /status/events, its numbers follow the calls made over
# HTTP and ZeroMQ (totals, per-method counters, errors by code, recent
# errors), a dealer that sends shutdown and one that is killed leave the
# dealer table or show inactive, and when the gateway stops the connection
# marker says "reconnecting".  With auth.client_keys the page passes
# ?key= on as ?api_key=, and says so when it has none.  Screenshots (dark
# and light) go to t/out/ (VR_TEST_OUT to choose another directory).
#
# Needs /usr/bin/chromium (VR_CHROMIUM) and `npm ci` in t/browser;
# without them the test is skipped.
import json, os, shutil, signal, subprocess, sys, tempfile, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

BROWSER_DIR = os.path.join(T_DIR, "browser")
SCRIPT = os.path.join(BROWSER_DIR, "status.mjs")
CHROMIUM = os.environ.get("VR_CHROMIUM") or "/usr/bin/chromium"
NODE = shutil.which("node")

if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    skip_all("no chromium at %s (apt-get install chromium, or set VR_CHROMIUM)"
             % CHROMIUM)
if NODE is None:
    skip_all("no node in PATH")
if not os.path.isfile(os.path.join(BROWSER_DIR, "node_modules",
                                   "playwright-core", "package.json")):
    skip_all("no playwright-core in t/browser/node_modules "
             "(cd t/browser && npm ci)")


def out_dir():
    """Where screenshots go: $VR_TEST_OUT, else t/out of the build
    directory ($VR_BUILDDIR under make check, else the working directory
    when it has a t/), else a directory of its own that is kept."""
    path = os.environ.get("VR_TEST_OUT")
    build = os.environ.get("VR_BUILDDIR") or os.getcwd()
    if not path and os.path.isdir(os.path.join(build, "t")):
        path = os.path.join(build, "t", "out")
    if path:
        try:
            os.makedirs(path, exist_ok=True)
            return path
        except OSError:
            pass
    return tempfile.mkdtemp(prefix="vr-status-shots-")


class Browser:
    """node status.mjs as a child in a session of its own (so that the
    chromium it starts goes with it), one JSON line per command."""

    def __init__(self):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=tempdir())
        self.log_path = os.path.join(tempdir(), "browser.log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(
            [NODE, SCRIPT, profile, CHROMIUM], cwd=BROWSER_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            start_new_session=True)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()
        at_cleanup(self.kill)

    def _reader(self):
        for raw in iter(self.p.stdout.readline, b""):
            with self.cond:
                self.lines.append(raw)
                self.cond.notify_all()

    def do(self, op, timeout=20.0, **args):
        """Runs one command; its answer (a dict), or None after the scaled
        timeout."""
        args["op"] = op
        args.setdefault("timeout_ms", int(scaled(timeout) * 1000))
        try:
            self.p.stdin.write((json.dumps(args) + "\n").encode())
            self.p.stdin.flush()
        except OSError:
            return None
        deadline = time.monotonic() + scaled(timeout)
        with self.cond:
            while not self.lines:
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))
            raw = self.lines.pop(0)
        try:
            answer = json.loads(raw)
        except ValueError:
            return {"ok": False, "error": "not JSON: %r" % raw}
        if not answer.get("ok"):
            diag("browser %s: %s" % (op, answer.get("error")))
        return answer

    def read(self):
        a = self.do("read", timeout=10.0)
        return a.get("page") if a and a.get("ok") else None

    def page_errors(self):
        a = self.do("read", timeout=10.0)
        return a.get("page_errors") if a and a.get("ok") else ["(no answer)"]

    def requests(self):
        a = self.do("read", timeout=10.0)
        return a.get("requests") if a and a.get("ok") else None

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, predicate, timeout=10.0):
        """Polls the page until predicate(page) is true (scaled timeout);
        returns the last page read (and shows it when the wait failed)."""
        last = [None]

        def probe():
            last[0] = self.read()
            try:
                return last[0] is not None and predicate(last[0])
            except (KeyError, TypeError, AttributeError):
                return False
        if not wait_until(probe, timeout=timeout, interval=0.2):
            diag("page: " + json.dumps(last[0], sort_keys=True)[:3000])
        return last[0] or {}

    def close(self):
        self.do("close", timeout=15.0)
        try:
            self.p.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self):
        """The node process and everything in its session, by process
        group id (the group is the one started here)."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=scaled(5))
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.p.poll() is None:
            self.p.wait()
        self.log.close()


def status_json(gw):
    r = gw.get("/status.json")
    return r.json() if r is not None and r.status == 200 else None


# -- a gateway with HTTP and two dealers --
gw = HttpGateway({"router": {"heartbeat_timeout": duration(3)}}).start()
d1 = ThreadedDealer(gw.endpoint, service_name="Svc").start()
d2 = ThreadedDealer(gw.endpoint, service_name="Svc").start()
shots = out_dir()
browser = Browser()

a = browser.do("open", url="%s/status" % gw.base, width=1440, height=900,
               timeout=60.0)
if not ok(a and a.get("ok") and a.get("status") == 200,
          "chromium loads /status"):
    diag("browser log:\n" + browser.log_text())
    done_testing()
like(a and a.get("content_type"), r"^text/html", "as text/html")
for name, kind in (("status.css", "text/css"), ("status.js", "text/javascript")):
    r = gw.get("/status/" + name)
    is_(r and (r.status, r.content_type), (200, kind),
        "/status/%s is served as %s" % (name, kind))

page = browser.wait(lambda p: p["conn"] == "live")
is_(page.get("conn"), "live", "the connection marker says live")
like(page.get("conn_age"), r"updated", "with the time since the last update")
is_(page.get("version"), "v" + (status_json(gw) or {}).get(
    "gateway", {}).get("version", "?"), "the header shows the version")
is_(page.get("pid"), gw.pid, "and the gateway's pid")
page = browser.wait(lambda p: set(p["dealers"]) >= {d1.service_id, d2.service_id})
is_(sorted((k, v["state"]) for k, v in page.get("dealers", {}).items()),
    sorted([(d1.service_id, "active"), (d2.service_id, "active")]),
    "both dealers are listed, active")
is_(page.get("totals", {}).get("dealers_active"), 2, "totals: 2 dealers active")
is_(page.get("totals", {}).get("requests"), 0, "no requests yet")
ok("Svc.echo" in page.get("methods", {}), "Svc.echo has a row")

# -- calls over HTTP and ZeroMQ --
for i in range(5):
    r = gw.post("/invoke/Svc.echo", json=["hi %d" % i])
    if r is None or r.status != 200:
        diag("HTTP call %d: %r" % (i, r))
client = RawPeer(gw.endpoint)
for i in range(3):
    client.call("Svc.add", i, 1)
    if client.recv(5.0) is None:
        diag("ZMQ call %d got no answer" % i)
client.call("Svc.fail", "kaputt")
client.recv(5.0)

doc = status_json(gw) or {}
is_(doc.get("totals", {}).get("requests"), 9, "/status.json counts 9 requests")
page = browser.wait(lambda p: p["totals"]["requests"] == 9
                    and p["methods"]["Svc.fail"]["errors"] == 1)
is_(page.get("totals", {}).get("requests"), 9, "the page's total follows: 9")
calls = {m: page.get("methods", {}).get(m, {}).get("calls")
         for m in ("Svc.echo", "Svc.add", "Svc.fail")}
is_(calls, {"Svc.echo": 5, "Svc.add": 3, "Svc.fail": 1},
    "per-method call counters on the page")
is_(page.get("methods", {}).get("Svc.fail", {}).get("error_codes"),
    {"dealer_error": 1}, "Svc.fail shows its error by code")
is_(page.get("totals", {}).get("errors"), 1, "totals: 1 error")
is_(page.get("error_codes"), {"dealer_error": 1}, "broken down by code")
is_([(e["method"], e["code"], e["message"])
     for e in page.get("recent_errors", [])][:1],
    [("Svc.fail", "dealer_error", "kaputt")],
    "the recent errors list it with its message")
ok("Svc.count" not in page.get("methods", {}), "methods not called yet are "
   "folded away (Svc.count has no row)")
like(page.get("idle_toggle"), r"^\+ \d+ not called yet$",
     "behind a toggle that says how many")
page = browser.wait(lambda p: p["methods"]["Svc.echo"]["spark_calls"] >= 5)
cmp_ok(page.get("methods", {}).get("Svc.echo", {}).get("spark_calls", 0),
       ">=", 5, "the sparkline of Svc.echo holds its calls")

# -- a dealer that says goodbye, one that is killed --
d2.stop()
page = browser.wait(lambda p: d2.service_id not in p["dealers"]
                    or p["dealers"][d2.service_id]["state"] != "active")
d2_row = page.get("dealers", {}).get(d2.service_id)
ok(d2_row is None or d2_row["state"] == "inactive",
   "a dealer that sent shutdown leaves the table or shows inactive (%s)"
   % ("gone" if d2_row is None else d2_row["state"]))
is_(page.get("dealers", {}).get(d1.service_id, {}).get("state"), "active",
    "the other one stays active")
is_(page.get("totals", {}).get("dealers_active"), 1, "totals: 1 dealer active")

path = os.path.join(shots, "89status_browser.png")
a = browser.do("screenshot", path=path, scheme="dark")
ok(a and a.get("ok") and os.path.getsize(path) > 10000,
   "a screenshot of the page (dark)")
diag("screenshot: %s" % path)
path = os.path.join(shots, "89status_browser-light.png")
a = browser.do("screenshot", path=path, scheme="light")
ok(a and a.get("ok") and os.path.getsize(path) > 10000,
   "and one in the light scheme")
diag("screenshot: %s" % path)

d1.crash()
page = browser.wait(lambda p: d1.service_id not in p["dealers"]
                    or p["dealers"][d1.service_id]["state"] != "active",
                    timeout=10.0)
d1_row = page.get("dealers", {}).get(d1.service_id)
ok(d1_row is None or d1_row["state"] == "inactive",
   "a killed dealer leaves the table or shows inactive after the heartbeat "
   "timeout (%s)" % ("gone" if d1_row is None else d1_row["state"]))
is_(page.get("totals", {}).get("dealers_active"), 0, "totals: none active")

# -- the gateway goes away --
is_(page.get("conn"), "live", "still live before the gateway stops")
is_(gw.stop(), 0, "the gateway exits 0 with the page connected")
page = browser.wait(lambda p: p["conn"] == "reconnecting")
is_(page.get("conn"), "reconnecting",
    "the connection marker says reconnecting once the gateway is gone")
like(page.get("title"), r"reconnecting", "and so does the window title")
is_(browser.page_errors(), [], "no script errors on the page")
is_([u for u in browser.requests() or ["(no answer)"]
     if not u.startswith(gw.base + "/") and not u.startswith("data:")], [],
    "the page loads nothing but from the gateway (no CDN, no fonts)")

# -- a gateway with client keys: ?key= is passed on --
KEY = "key-96-status"
gk = HttpGateway({"auth": {"client_keys": [KEY]}}).start()
ThreadedDealer(gk.endpoint, service_name="Svc").start()
r = gk.get("/status.json")
is_(r and r.status, 401, "with client keys, /status.json needs a key")
r = gk.get("/status.json?api_key=" + KEY)
is_(r and r.status, 200, "and takes it as ?api_key=")

a = browser.do("open", url="%s/status?key=%s" % (gk.base, KEY), timeout=30.0)
ok(a and a.get("ok"), "the page opens with ?key=")
page = browser.wait(lambda p: p["conn"] == "live" and p["dealers"])
is_(page.get("conn"), "live", "and goes live with the key")
is_(len(page.get("dealers", {})), 1, "showing the dealer")

a = browser.do("open", url="%s/status" % gk.base, timeout=30.0)
page = browser.wait(lambda p: p["conn"] == "unauthorized")
is_(page.get("conn"), "unauthorized", "without a key it says unauthorized")
like(page.get("banner"), r"key", "and tells how to pass one")

browser.close()
is_(gk.stop(), 0, "the second gateway exits 0")
done_testing()
