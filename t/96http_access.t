#!/usr/bin/python3
# Who may call over HTTP and what is recorded.  auth.client_keys guard
# HTTP: "Authorization: Bearer KEY" or "X-API-Key: KEY", else 401 with
# WWW-Authenticate: Bearer; the GET routes of a job are public (its id is
# the capability), creating and cancelling need a key.  CORS is off by
# default; http.cors_origins lists the origins that get
# Access-Control-Allow-Origin, and OPTIONS preflights answer 204.
# http.access_log writes one line per request; of a job's id (a
# capability) it shows only the first 8 characters.
import hashlib, os, re, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

KEY, KEY2 = "key-96-plain", "key-96-hashed"
gw = HttpGateway({"auth": {"client_keys": [
    KEY, "sha256:" + hashlib.sha256(KEY2.encode()).hexdigest()]}}).start()
ThreadedDealer(gw.endpoint).start()
BEARER = {"Authorization": "Bearer " + KEY}


def code(r):
    return r and (r.status, (r.json() or {}).get("code"))


# -- API keys --
r = gw.post("/invoke/RefService.echo", json=["x"])
is_(code(r), (401, "unauthorized"), "a call without a key is 401 unauthorized")
is_(problem_of(r), "", "as a problem")
like(r and r.header("WWW-Authenticate"), r"^Bearer\b",
     "with WWW-Authenticate: Bearer")
r = gw.post("/invoke/RefService.echo", json=["x"],
            headers={"Authorization": "Bearer wrong"})
is_(code(r), (401, "unauthorized"), "a wrong bearer key is 401")
like(r and r.header("WWW-Authenticate"), r"^Bearer\b", "with WWW-Authenticate")
r = gw.post("/invoke/RefService.echo", json=["x"],
            headers={"X-API-Key": "wrong"})
is_(code(r), (401, "unauthorized"), "a wrong X-API-Key is 401")
r = gw.post("/invoke/RefService.echo", json=["bearer"], headers=BEARER)
is_(r and (r.status, r.json()), (200, "bearer"), "Authorization: Bearer KEY")
r = gw.post("/invoke/RefService.echo", json=["x-api-key"],
            headers={"X-API-Key": KEY})
is_(r and (r.status, r.json()), (200, "x-api-key"), "X-API-Key: KEY")
r = gw.post("/invoke/RefService.echo", json=["hashed"],
            headers={"Authorization": "Bearer " + KEY2})
is_(r and (r.status, r.json()), (200, "hashed"),
    "a key configured as sha256:<hex>")
for path in ("/services", "/router/info", "/queues",
             "/stream/RefService.echo?args=" + quote_json([1])):
    r = gw.get(path)
    is_(code(r), (401, "unauthorized"), "GET %s needs a key" % path)
r = gw.get("/services", headers=BEARER)
is_(r and r.status, 200, "and answers with one")

# -- jobs: the id is the capability --
r = gw.post("/jobs/RefService.echo", json=["job"])
is_(code(r), (401, "unauthorized"), "POST /jobs needs a key")
hold = RawPeer(gw.endpoint, identity="Hold-00000096")
hold.register(group="Hold", methods=("wait",))
hold.recv()
r = gw.post("/jobs/Hold.wait", json=[], headers=BEARER)
is_(r and r.status, 202, "with a key it is created")
job = ((r and r.json()) or {}).get("id", "?")
ok(hold.expect_call(3), "and runs")
r = gw.get("/jobs/" + job)
is_(r and r.status, 200, "GET /jobs/ID needs no key")
s = gw.open("GET", "/jobs/%s/events" % job)
is_(s.head(), 200, "GET /jobs/ID/events needs no key")
r = gw.delete("/jobs/" + job)
is_(code(r), (401, "unauthorized"), "DELETE /jobs/ID needs a key")
is_((gw.get("/jobs/" + job).json() or {}).get("state"), "running",
    "and DELETE without a key did not cancel it")
r = gw.delete("/jobs/" + job, headers={"X-API-Key": KEY})
is_(r and (r.status, (r.json() or {}).get("state")), (200, "cancelled"),
    "with a key it cancels it")

# -- CORS off by default --
r = gw.post("/invoke/RefService.echo", json=["x"],
            headers=dict(BEARER, Origin="http://a.example"))
is_(r and r.status, 200, "a call with an Origin")
is_(r and r.header("Access-Control-Allow-Origin"), None,
    "gets no Access-Control-Allow-Origin by default")
is_(gw.stop(), 0, "the gateway exits 0")

# -- CORS for listed origins, and the access log --
log_path = os.path.join(tempdir(), "access-96.log")
gw = HttpGateway({"http": {"cors_origins": ["http://a.example"],
                           "access_log": log_path}}).start()
ThreadedDealer(gw.endpoint).start()
A, B = {"Origin": "http://a.example"}, {"Origin": "http://b.example"}
r = gw.post("/invoke/RefService.echo", json=["cors"],
            headers=dict(A, **{"X-Request-Id": "rid-96-post"}))
is_(r and (r.status, r.header("Access-Control-Allow-Origin")),
    (200, "http://a.example"), "a listed Origin gets Access-Control-Allow-Origin")
r = gw.post("/invoke/RefService.echo", json=["cors"], headers=B)
is_(r and (r.status, r.header("Access-Control-Allow-Origin")), (200, None),
    "another origin does not")
r = gw.get("/nope", headers=dict(A, **{"X-Request-Id": "rid-96-404"}))
is_(r and (r.status, r.header("Access-Control-Allow-Origin")),
    (404, "http://a.example"), "errors carry it too (a page can read them)")
s = gw.open("GET", "/stream/RefService.count?args=" + quote_json([2]),
            headers=dict(A, **{"X-Request-Id": "rid-96-sse"}))
is_(s.head() and s.header("Access-Control-Allow-Origin"), "http://a.example",
    "and SSE streams (EventSource across origins)")
sse_events(s)
r = gw.request("OPTIONS", "/invoke/RefService.echo", headers=dict(
    A, **{"Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type, authorization",
          "X-Request-Id": "rid-96-options"}))
is_(r and r.status, 204, "an OPTIONS preflight answers 204")
like(r and r.header("Access-Control-Allow-Methods"), r"\bPOST\b",
     "with Access-Control-Allow-Methods")
is_(r and r.header("Access-Control-Allow-Origin"), "http://a.example",
    "and Access-Control-Allow-Origin")
r = gw.request("OPTIONS", "/invoke/RefService.echo", headers=dict(
    B, **{"Access-Control-Request-Method": "POST"}))
is_(r and (r.header("Access-Control-Allow-Origin"),
           r.header("Access-Control-Allow-Methods")), (None, None),
    "a preflight from another origin is not allowed")


def log_lines():
    try:
        with open(log_path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def lines_for(rid):
    return [l for l in log_lines() if l.split()[-1:] == [rid]]


expected = {
    "rid-96-post": ("POST", "/invoke/RefService.echo", 200),
    "rid-96-404": ("GET", "/nope", 404),
    "rid-96-sse": ("GET", "/stream/RefService.count", 200),
    "rid-96-options": ("OPTIONS", "/invoke/RefService.echo", 204),
}
ok(wait_until(lambda: all(lines_for(rid) for rid in expected)),
   "http.access_log gets a line for each request")
for rid, (method, path, status) in sorted(expected.items()):
    lines = lines_for(rid)
    is_(len(lines), 1, "%s: one line" % rid)
    like(lines[0] if lines else None,
         r'^\d{4}-\d\d-\d\dT\S+ 127\.0\.0\.1 "%s %s[^"]*" %d \d+ \d+(ms)? %s$'
         % (method, re.escape(path), status, re.escape(rid)),
         "%s: time, client, \"%s %s\", %d, bytes, ms, request id"
         % (rid, method, path, status))

# Lines are gathered and written before the loop sleeps, at most PIPE_BUF
# bytes per write: 60 requests at once with 1.5 KB paths (90 KB of lines,
# over the gateway's buffer too) still give one whole line each.
many = {"rid-96-many-%02d" % i: "/nope/%02d-%s" % (i, "p" * 1500)
        for i in range(60)}
conns = [gw.open("GET", path, headers={"X-Request-Id": rid})
         for rid, path in sorted(many.items())]
statuses = [c.response() for c in conns]
is_([r and r.status for r in statuses], [404] * 60,
    "60 requests at once with long paths are answered")
for c in conns:
    c.close()
ok(wait_until(lambda: all(lines_for(rid) for rid in many)),
   "each of them gets its line")
bad = [rid for rid, path in sorted(many.items())
       if [re.match(r'^\d{4}-\d\d-\d\dT\S+ 127\.0\.0\.1 "GET %s[^"]*" 404 '
                    r'\d+ \d+(ms)? %s$' % (re.escape(path), re.escape(rid)), l)
           is not None for l in lines_for(rid)] != [True]]
is_(bad, [], "exactly one whole line each")
r = gw.get("/nope/" + "q" * 3000)
is_(r and r.status, 404, "a request with a 3000-byte path is answered")
r = gw.get("/nope/after", headers={"X-Request-Id": "rid-96-after-long"})
ok(wait_until(lambda: lines_for("rid-96-after-long")),
   "the request after it gets its line")
cut = [l for l in log_lines() if "/nope/qqqq" in l]
is_([(len(l), l.split()[2][:11]) for l in cut], [(2046, '"GET')],
    "the long one's line is cut at 2 KB but ends where it should")
is_([l[:80] for l in log_lines()
     if not re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1 '
                     r'"[A-Z]+ /[^" ]*" \d{3} \d+ \d+ms \S+$', l)
     and l not in cut], [],
    "and no line of the log is cut or run into another")

# A path is decoded before it is logged: %0A must not forge a line.
r = gw.get("/nope%0A2099-01-01T00:00:00.000Z%20127.0.0.1%20%22GET%20/admin"
           "%22%20200", headers={"X-Request-Id": "rid-96-forged"})
is_(r and r.status, 404, "a path with an encoded line break is answered")
ok(wait_until(lambda: lines_for("rid-96-forged")), "and logged")
is_([l for l in log_lines() if l.startswith("2099-")], [],
    "on one line: its line break is escaped, no line is forged")
like(" ".join(lines_for("rid-96-forged")), r'"GET /nope\\x0a2099-',
     "the break shows as \\x0a")

# A job id is a capability: the log shows its first 8 characters.
r = gw.post("/jobs/RefService.echo", json=["logged"],
            headers={"X-Request-Id": "rid-96-job"})
job = ((r and r.json()) or {}).get("id", "")
cmp_ok(len(job), ">", 8, "a job is started")
ok(wait_until(lambda: (gw.get("/jobs/" + job).json() or {}).get("state")
              == "succeeded"), "and finishes")
job_lines = {
    "rid-96-job-get": ("GET", "/jobs/" + job, 200),
    "rid-96-job-events": ("GET", "/jobs/%s/events" % job, 200),
    "rid-96-job-delete": ("DELETE", "/jobs/" + job, 409),
}
for rid, (method, path, status) in sorted(job_lines.items()):
    r = gw.request(method, path, headers={"X-Request-Id": rid})
    is_(r and r.status, status, "%s: %s answers %d" % (rid, method, status))
ok(wait_until(lambda: all(lines_for(rid) for rid in job_lines)),
   "each gets its line")
for rid, (method, path, status) in sorted(job_lines.items()):
    shown = path.replace(job, job[:8] + "\u2026")
    like(" ".join(lines_for(rid)), r'"%s %s" %d ' % (method, re.escape(shown),
                                                     status),
         "%s: the path shows the job id's first 8 characters and …" % rid)
like(" ".join(lines_for("rid-96-job")), r'"POST /jobs/RefService\.echo" 202 ',
     "POST /jobs/METHOD shows its method in full")
is_([l for l in log_lines() if job in l], [],
    "no line holds the whole job id")

is_(gw.stop(), 0, "the gateway exits 0")

# -- any origin --
gw = HttpGateway({"http": {"cors_origins": ["*"], "access_log": "off"}}).start()
r = gw.get("/healthz", headers={"Origin": "http://c.example"})
ok(r and r.header("Access-Control-Allow-Origin") in ("*", "http://c.example"),
   "with cors_origins [\"*\"] any origin is allowed")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
