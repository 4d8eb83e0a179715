#!/usr/bin/python3
# What a reload changes in the auth and jobs sections, each seen in
# behaviour from the next request on (adding and removing keys is
# t/73reload_changes.t's): a client key's methods (403 forbidden), name
# (the refusal names it), rate and burst (a key that had no rate starts
# with a full bucket), concurrency (429 rate_limited);
# auth.max_clients (beyond it the least recent ZeroMQ clients are logged
# out), auth.max_failures and failure_window (how many wrong keys an
# address may present, and for how long it is refused); jobs.max_active
# (429 too_many_jobs), jobs.max_events (the replay), jobs.keep and
# jobs.max_finished (a finished job is forgotten: 404).
import os, re, signal, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

ADMIN = "k73-admin"
KEYS = {"scope": "k73-scope", "rate": "k73-rate", "burst": "k73-burst",
        "conc": "k73-conc"}
conf = {"auth": {"client_keys": [ADMIN] + sorted(KEYS.values()),
                 "max_failures": 20, "failure_window": "1h"},
        "router": {"heartbeat_timeout": duration(30)},
        "http": {"access_log": "off"}, "log": {"level": "info"}}
gw = OpsGateway(conf).start()
gw.admin_key = ADMIN
gw.key_headers = {"X-API-Key": ADMIN}
generation = [1]


def reload():
    """Writes conf and reloads, waiting for the log line (the HTTP
    checks of OpsGateway.reload could be refused here)."""
    generation[0] += 1
    gw.write_config(conf)
    gw.signal(signal.SIGHUP)
    return bool(wait_until(lambda: "configuration generation %d in force"
                           % generation[0] in gw.log_text()))


def set_key(which, **entry):
    """Makes the entry of KEYS[which] a map with entry, or plain."""
    keys = conf["auth"]["client_keys"]
    i = [k.get("key") if isinstance(k, dict) else k
         for k in keys].index(KEYS[which])
    keys[i] = dict(key=KEYS[which], **entry) if entry else KEYS[which]


def problem(r):
    return r and (r.status, (r.json() or {}).get("code")
                  if r.status >= 400 else None)


def hcall(key, method, *args):
    return gw.post("/invoke/" + method, json=list(args),
                   headers={"X-API-Key": key})


AsyncDealer(gw.endpoint, max_concurrent=8).start()
wire = RawPeer(gw.endpoint, identity="Wire-00073300")
wire.register(group="Wire", methods=("work",), max_concurrent=8)
wire.recv()
ok(wait_until(lambda: "RefService.echo" in (gw.methods() or {})),
   "the dealers registered")

# -- methods and name --
is_(problem(hcall(KEYS["scope"], "RefService.add", 1, 2)), (200, None),
    "a plain key may call any method")
set_key("scope", name="team-a", methods=["RefService.echo"])
ok(reload(), "reload: the key's methods [RefService.echo], name team-a")
r = hcall(KEYS["scope"], "RefService.add", 1, 2)
is_(problem(r), (403, "forbidden"), "now RefService.add is 403 forbidden")
like((r and r.json() or {}).get("detail", ""), r"team-a",
     "the refusal names team-a")
is_(problem(hcall(KEYS["scope"], "RefService.echo", 1)), (200, None),
    "RefService.echo is served")
set_key("scope", name="team-b", methods=["RefService.echo"])
ok(reload(), "reload: the key's name team-b")
r = hcall(KEYS["scope"], "RefService.add", 1, 2)
ok(r and r.status == 403 and "team-b" in (r.json() or {}).get("detail", "")
   and "team-a" not in (r.json() or {}).get("detail", ""),
   "the refusal names team-b now")

# -- rate and burst --
is_([problem(hcall(KEYS["rate"], "RefService.echo", i))[0]
     for i in range(4)], [200] * 4, "no rate: four calls are served")
set_key("rate", rate="1/m", burst=2)
ok(reload(), "reload: the key's rate 1/m, burst 2")
is_([problem(hcall(KEYS["rate"], "RefService.echo", i))
     for i in range(3)], [(200, None), (200, None), (429, "rate_limited")],
    "two calls, then 429 rate_limited (a key that had no rate starts "
    "with a full bucket)")
set_key("rate")
ok(reload(), "reload: no rate")
is_(problem(hcall(KEYS["rate"], "RefService.echo", 9)), (200, None),
    "it is served again")
set_key("burst", rate="1/m", burst=4)
ok(reload(), "reload: another key's rate 1/m, burst 4")
is_([problem(hcall(KEYS["burst"], "RefService.echo", i))[0]
     for i in range(5)], [200] * 4 + [429], "four calls, then 429")

# -- concurrency --
def held_call(key):
    """A call over HTTP that Wire holds: (connection, the dealer's Call)."""
    c = gw.open("POST", "/invoke/Wire.work", json=[key],
                headers={"X-API-Key": key})
    return c, wire.expect_call(3)


def answer(call):
    wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                          "result": "done"})


one, c1 = held_call(KEYS["conc"])
two, c2 = held_call(KEYS["conc"])
ok(c1 and c2, "no concurrency limit: two calls of the key run at once")
for conn, c in ((one, c1), (two, c2)):
    if c:
        answer(c)
    conn.response()
set_key("conc", concurrency=1)
ok(reload(), "reload: the key's concurrency 1")
one, c1 = held_call(KEYS["conc"])
ok(c1, "one call runs")
is_(problem(hcall(KEYS["conc"], "RefService.echo", 2)),
    (429, "rate_limited"), "a second one meanwhile is 429 rate_limited")
if c1:
    answer(c1)
is_(one.response() and one.status, 200, "the first one is answered")
is_(problem(hcall(KEYS["conc"], "RefService.echo", 3)), (200, None),
    "and then a call is served again")

# -- auth.max_clients --
def zclient(name):
    peer = RawPeer(gw.endpoint, identity="client-73-" + name)
    peer.send(["auth", {"api_key": ADMIN, "client_id": "client-73-" + name}])
    kind, _ = peer.recv_json()
    return peer, kind


clients = {}
for name in "abc":
    clients[name], kind = zclient(name)
    is_(kind, "auth_ack", "ZeroMQ client %s logs in" % name)
for name in "abc":
    is_(clients[name].command("methods")[0], "methods_ack",
        "client %s is served" % name)
conf["auth"]["max_clients"] = 2
ok(reload(), "reload: auth.max_clients 2")
clients["d"], kind = zclient("d")
is_(kind, "auth_ack", "a fourth client logs in")
is_([clients[n].command("methods")[1].get("error")
     if clients[n].command("methods")[0] != "methods_ack" else "served"
     for n in "abcd"],
    ["Not authenticated", "Not authenticated", "served", "served"],
    "the two least recent are logged out, the two others are served")

# -- jobs.max_active --
H = {"X-API-Key": ADMIN}


def start_job(method, *args):
    r = gw.post("/jobs/" + method, json=list(args), headers=H)
    return (r.json() or {}).get("id") if r and r.status == 202 else \
        (r and r.status)


def job_status(job):
    r = gw.get("/jobs/" + job, headers=H)
    return r and r.status


def job_state(job):
    r = gw.get("/jobs/" + job, headers=H)
    return r and r.status == 200 and (r.json() or {}).get("state")


j1 = start_job("Wire.work", 1)
j2 = start_job("Wire.work", 2)
running = [wire.expect_call(3), wire.expect_call(3)]
ok(isinstance(j1, str) and isinstance(j2, str) and all(running),
   "max_active 10000: two jobs run")
conf["jobs"] = {"max_active": 2}
ok(reload(), "reload: jobs.max_active 2")
r = gw.post("/jobs/Wire.work", json=[3], headers=H)
is_(problem(r), (429, "too_many_jobs"), "a third job is 429 too_many_jobs")
for c in running:
    if c:
        answer(c)
ok(wait_until(lambda: job_state(j1) == job_state(j2) == "succeeded"),
   "the two finish")

# -- jobs.keep and jobs.max_finished --
time.sleep(scaled(1.5))                 # jobs are swept every second
is_(job_status(j1), 200, "keep 1h: a finished job stays readable")
conf["jobs"]["max_finished"] = 1
ok(reload(), "reload: jobs.max_finished 1")
j3 = start_job("Wire.work", 3)
c = wire.expect_call(3)
if c:
    answer(c)
ok(wait_until(lambda: job_state(j3) == "succeeded"), "another job finishes")
ok(wait_until(lambda: [job_status(j) for j in (j1, j2, j3)]
              == [404, 404, 200]), "only the newest finished job is kept")
conf["jobs"]["keep"] = duration(1)
ok(reload(), "reload: jobs.keep 1s")
ok(wait_until(lambda: job_status(j3) == 404, 4), "the finished job is "
   "forgotten")

# -- jobs.max_events --
def replay(job):
    s = gw.open("GET", "/jobs/%s/events" % job, headers=H)
    return [(e.get("id"), e.get("event")) for e in sse_events(s)
            if e.get("event")]


def job_of_five():
    job = start_job("Wire.work", 5)
    c = wire.expect_call(3)
    for i in range(5):
        wire.reply(c.cid, {"type": "streaming", "request_id": c.request_id,
                           "data": i})
    wire.reply(c.cid, {"type": "end", "request_id": c.request_id})
    wait_until(lambda: job_state(job) == "succeeded")
    return replay(job)


conf["jobs"]["keep"] = "1h"
ok(reload(), "reload: jobs.keep 1h")
is_(len(job_of_five()), 6, "max_events 10000: a job's replay has its "
    "six events")
conf["jobs"]["max_events"] = 3
ok(reload(), "reload: jobs.max_events 3")
is_(job_of_five(), [(None, "dropped"), ("4", "chunk"), ("5", "chunk"),
                    ("6", "end")],
    "the next job's replay keeps the newest three (after an event dropped)")

# -- auth.max_failures and failure_window --
# (at the end: the address is refused for a while)
is_([hcall("wrong-%d" % i, "RefService.echo", i).status for i in range(3)],
    [401] * 3, "max_failures 20: three wrong keys are 401")
is_(problem(hcall(ADMIN, "RefService.echo", 1)), (200, None),
    "the right key is served")
conf["auth"]["max_failures"] = 4
ok(reload(), "reload: auth.max_failures 4")
is_(hcall("wrong-3", "RefService.echo", 3).status, 401,
    "a fourth wrong key is 401")
is_(problem(hcall(ADMIN, "RefService.echo", 1)), (429, "rate_limited"),
    "now the right key is 429 rate_limited: the address is refused")
late, kind = zclient("late")
is_(kind, "error", "so is a ZeroMQ login from it")
conf["auth"]["failure_window"] = duration(1)
ok(reload(), "reload: auth.failure_window 1s")
ok(wait_until(lambda: hcall(ADMIN, "RefService.echo", 2).status == 200, 4),
   "the window, counted from the first failure, is over: the right key "
   "is served again")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
