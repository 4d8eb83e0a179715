#!/usr/bin/python3
# GET /status.json is the dashboard's data in one document: the gateway
# (version, uptime, config file and generation, last reload, mode, bind,
# HTTP listen, draining), totals, one entry per method (queue, dealers,
# rate, p50/p99 of queue wait and dealer time, errors by code, 300 points
# of per-second history), one per dealer (identity, group, host, pid,
# state, load, served, heartbeat age, methods) and the recent errors,
# newest first.  GET /status/events pushes the same document as an SSE
# "snapshot" about once a second.  With client keys, both take the key
# as ?api_key= too (EventSource sends no headers); the page needs none.
import json, os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway({"auth": {"client_keys": ["ck-88"]}}).start()
KEY = {"X-API-Key": "ck-88"}
dealer = ThreadedDealer(gw.endpoint).start()
c = RawPeer(gw.endpoint, identity="client-88")
c.send(["auth", json.dumps({"api_key": "ck-88"})])
c.recv()
for i in range(4):
    c.call("RefService.echo", i)
    c.recv_json()
c.call("RefService.fail", "first")
c.recv_json()
c.call("RefService.fail", "second")
c.recv_json()

r = gw.get("/status.json")
is_(r and r.status, 401, "without a key /status.json is refused")
r = gw.get("/status.json?api_key=ck-88")
is_(r and r.status, 200, "with ?api_key= it answers")
doc = r.json()
ok(isinstance(doc, dict) and {"gateway", "totals", "methods", "dealers",
                              "recent_errors", "workers"} <= set(doc),
   "gateway, totals, methods, dealers, recent_errors and workers are there")

g = doc["gateway"]
is_((g["version"], g["config_generation"], g["reloads"], g["last_reload"],
     g["mode"], g["draining"]), ("0.1.0", 1, 0, None, "fifo", False),
    "the gateway: version, generation 1, never reloaded, fifo, not draining")
is_(g["config_file"], gw.config_path, "the configuration file it runs")
is_(g["bind"], [gw.endpoint], "its bind endpoints")
is_(g["http_listen"], ["127.0.0.1:%d" % gw.http_port], "its HTTP addresses")
ok(g["uptime_s"] >= 0 and g["started_at"] > time.time() - 60,
   "its start time and uptime")

t = doc["totals"]
is_((t["requests"], t["responses"], t["errors"]["dealer_error"],
     t["dealers_active"], t["dealers_inactive"]), (6, 6, 2, 1, 0),
    "totals: 6 requests, 6 answered by the dealer, 2 dealer errors, one "
    "active dealer")

methods = {m["name"]: m for m in doc["methods"]}
echo = methods.get("RefService.echo", {})
is_((echo.get("calls"), echo.get("queue_length"), echo.get("in_flight"),
     echo.get("dealers_available"), echo.get("dealers_busy"),
     echo.get("disabled")), (4, 0, 0, 1, 0, False),
    "RefService.echo: 4 calls, nothing waiting, one free dealer")
ok(set(echo.get("queue_wait_ms", {})) == {"p50", "p99"}
   and set(echo.get("dealer_time_ms", {})) == {"p50", "p99"},
   "with p50/p99 of queue wait and dealer time")
hist = echo.get("history", [])
is_(len(hist), 300, "and 300 seconds of history")
is_(sum(p["calls"] for p in hist), 4, "whose points add up to its 4 calls")
ok(all(b["t"] == a["t"] + 1 for a, b in zip(hist, hist[1:])),
   "one point per second, oldest first")
is_(methods.get("RefService.fail", {}).get("errors"), {"dealer_error": 2},
    "RefService.fail: errors by code")

d = doc["dealers"][0] if doc["dealers"] else {}
is_((d.get("id"), d.get("group"), d.get("state"), d.get("capacity"),
     d.get("served"), d.get("pid")),
    (dealer.service_id, "RefService", "active", 1, 6, os.getpid()),
    "the dealer: identity, group, state, capacity, served, pid")
ok(0 <= d.get("last_heartbeat_age_s", -1) < scaled(5),
   "its last heartbeat is recent")
ok("RefService.echo" in d.get("methods", []), "and its methods")

errs = doc["recent_errors"]
is_([(e["method"], e["code"], e["message"]) for e in errs[:2]],
    [("RefService.fail", "dealer_error", "second"),
     ("RefService.fail", "dealer_error", "first")],
    "recent errors, newest first, with their message")

# -- the stream of snapshots --
conn = gw.conn()
conn.send("GET", "/status/events?api_key=ck-88")
events = sse_events(conn, timeout=4, until=(), count=4)
conn.close()
snaps = [e for e in events if e.get("event") == "snapshot"]
ok(len(snaps) >= 3, "/status/events sends a snapshot about once a second")
ok(all(json.loads(e["data"])["gateway"]["version"] == "0.1.0" for e in snaps),
   "each one the whole document")
ok([int(e["id"]) for e in snaps] == sorted(int(e["id"]) for e in snaps),
   "with growing ids")

r = gw.get("/status")
is_((r.status, r.header("Content-Type")), (200, "text/html; charset=utf-8"),
    "the page itself needs no key")

# -- operators' marks and draining show --
gw.post("/admin/methods/RefService.add/disable", headers=KEY)
doc = gw.get("/status.json", headers=KEY).json()
is_(doc["gateway"]["disabled_methods"], ["RefService.add"],
    "a disabled method is listed")
gw.signal(signal.SIGTERM)
time.sleep(scaled(0.2))
is_(gw.proc.wait(scaled(5)), 0, "the gateway drains and exits 0")
done_testing()
