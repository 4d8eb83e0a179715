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
# The figures are the broker's own: in flight and queued while a dealer
# holds a call (orphans, calls whose caller left, counted in flight as
# /metrics does), latency percentiles from the histogram buckets, the
# rate over the last 10 whole seconds, the host and pid a dealer
# registered with.  A method whose last dealer left stays listed with its
# figures (the next dealer's calls count on), but not in queue_status.
import json, os, re, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import parse_metrics

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

# -- the figures while work flows --
def status():
    return gw.get("/status.json", headers=KEY).json()


def method(doc, name):
    return {m["name"]: m for m in doc["methods"]}.get(name, {})


def metrics():
    return parse_metrics(gw.get("/metrics", headers=KEY).text)


HOST = {"hostname": "gpu-box-7", "ip": "10.0.0.7", "pid": 4242}
HOLD_S = 0.4
slow = RawPeer(gw.endpoint, identity="Slow-00000088")
slow.register(group="Slow", methods=("work",), host_info=HOST)
slow.recv()
first = c.call("Slow.work", 1)
second = c.call("Slow.work", 2)
call1 = slow.expect_call(3)
ok(wait_until(lambda: method(status(), "Slow.work").get("queue_length") == 1),
   "the second call waits behind the first")
doc = status()
w = method(doc, "Slow.work")
is_((w.get("in_flight"), w.get("queue_length"), w.get("dealers_available"),
     w.get("dealers_busy")), (1, 1, 0, 1),
    "Slow.work: 1 in flight, 1 queued, its one dealer busy")
is_((doc["totals"]["in_flight"], doc["totals"]["queued"],
     doc["totals"]["orphaned"]), (1, 1, 0), "totals: 1 in flight, 1 queued")
row = {d["id"]: d for d in doc["dealers"]}.get("Slow-00000088", {})
is_((row.get("host"), row.get("pid"), row.get("in_flight"),
     row.get("capacity"), row.get("state")), ("gpu-box-7", 4242, 1, 1, "active"),
    "the dealer: the host and pid it registered with, 1 of 1 in flight")
time.sleep(HOLD_S)
slow.reply(call1.cid, {"type": "reply", "request_id": call1.request_id,
                       "result": 1})
call2 = slow.expect_call(3)
time.sleep(HOLD_S)
slow.reply(call2.cid, {"type": "reply", "request_id": call2.request_id,
                       "result": 2})
answers = sorted(c.recv_json(5)[1].get("result") for _ in range(2))
is_(answers, [1, 2], "both calls are answered")

w = method(status(), "Slow.work")
wait, served = w.get("queue_wait_ms", {}), w.get("dealer_time_ms", {})
# Both dealer times are >= 400 ms: both samples sit in buckets above 250.
cmp_ok(served.get("p50", 0), ">=", 250, "dealer time p50 >= 250 ms (held "
       "400 ms each)")
cmp_ok(served.get("p99", 0), ">=", served.get("p50", 0), "p99 >= p50")
cmp_ok(served.get("p99", 0), "<=", max(2500, 1000 * scaled(1.0)),
       "and within reason")
# The first waited for nothing, the second for the first's 400 ms.
cmp_ok(wait.get("p50", 1e9), "<", 250, "queue wait p50 < 250 ms (one call "
       "did not wait)")
cmp_ok(wait.get("p99", 0), ">=", 250, "queue wait p99 >= 250 ms (one "
       "waited 400 ms)")
ok(wait_until(lambda: method(status(), "Slow.work").get("rate_per_s") == 0.2,
              timeout=4), "rate_per_s: 2 calls over the last 10 s = 0.2")

# A call whose caller gives up becomes an orphan: still held by the dealer.
c.call("Slow.work", 3)
call3 = slow.expect_call(3)
hr = gw.open("POST", "/invoke/Slow.work", json=[4],
             headers=dict(KEY, **{"X-Request-Timeout": "200ms"}))
r = hr.response(5)
is_(r and r.status, 504, "an HTTP call behind it times out (200 ms)")
hr.close()
ok(wait_until(lambda: status()["totals"]["queued"] == 0), "nothing queued")
slow.reply(call3.cid, {"type": "reply", "request_id": call3.request_id,
                       "result": 3})
c.recv_json(5)
hr = gw.open("POST", "/invoke/Slow.work", json=[7],
             headers=dict(KEY, **{"X-Request-Timeout": "300ms"}))
call7 = slow.expect_call(3)
r = hr.response(5)
is_(r and r.status, 504, "a call held by the dealer times out (300 ms)")
hr.close()
t = status()["totals"]
is_((t["in_flight"], t["orphaned"]), (1, 1),
    "totals: the orphan is in flight (the dealer still holds it), orphaned 1")
mx = metrics()
is_((mx.get("voidrail_requests_in_flight"),
     mx.get("voidrail_requests_orphaned")), (1.0, 1.0),
    "as /metrics says: in flight 1, orphaned 1")
slow.reply(call7.cid, {"type": "reply", "request_id": call7.request_id,
                       "result": 7})
ok(wait_until(lambda: status()["totals"]["in_flight"] == 0),
   "its late reply ends it")

# -- a method outlives its dealers (a deploy) --
before = method(status(), "Slow.work").get("calls")
slow.send(["shutdown", ""])
slow.recv()
doc = status()
w = method(doc, "Slow.work")
is_((w.get("calls"), w.get("dealers_available"), w.get("dealers_busy")),
    (before, 0, 0), "a method whose last dealer left keeps its figures")
ok("Slow-00000088" not in {d["id"] for d in doc["dealers"]},
   "while the dealer itself is gone")
ok('voidrail_method_calls_total{method="Slow.work"}' in metrics(),
   "and /metrics still has its counters")
kind, q = c.command("queue_status")
ok(kind == "queue_status_ack" and "Slow.work" not in (q or {}).get("result", {}),
   "queue_status lists only methods in use")
again = RawPeer(gw.endpoint, identity="Slow-10000088")
again.register(group="Slow", methods=("work",))
again.recv()
c.call("Slow.work", 8)
call8 = again.expect_call(3)
again.reply(call8.cid, {"type": "reply", "request_id": call8.request_id,
                        "result": 8})
c.recv_json(5)
is_(method(status(), "Slow.work").get("calls"), before + 1,
    "the next dealer's calls count on")

# -- operators' marks and draining show --
gw.post("/admin/methods/RefService.add/disable", headers=KEY)
doc = gw.get("/status.json", headers=KEY).json()
is_(doc["gateway"]["disabled_methods"], ["RefService.add"],
    "a disabled method is listed")
gw.signal(signal.SIGTERM)
time.sleep(scaled(0.2))
is_(gw.proc.wait(scaled(5)), 0, "the gateway drains and exits 0")
done_testing()
