#!/usr/bin/python3
# The /status dashboard in a real browser: a headless chromium (the system
# one, driven by t/browser/status.mjs with npm playwright-core) loads
# /status from a gateway with two dealers; the page goes "live" on the
# SSE snapshots of /status/events, its numbers follow the calls made over
# HTTP and ZeroMQ (totals, per-method counters, errors by code, recent
# errors), a dealer that leaves (shutdown, with LINGER 0 as the Python one
# does) and one that is killed stop showing active at once, the killed one
# shows inactive, and both disappear from the table once the gateway
# forgets them (10 x heartbeat_timeout); when the gateway stops the connection
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
from vrbrowser import *

need_browser()


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
   "a dealer that left is no longer active (%s)"
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
is_(d1_row and d1_row["state"], "inactive",
    "a killed dealer shows inactive after the heartbeat timeout")
is_(page.get("totals", {}).get("dealers_active"), 0, "totals: none active")
page = browser.wait(lambda p: not ({d1.service_id, d2.service_id}
                                   & set(p["dealers"])), timeout=45.0)
is_(sorted(set(page.get("dealers", {})) & {d1.service_id, d2.service_id}),
    [], "both disappear from the table once the gateway forgets them")

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
