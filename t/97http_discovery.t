#!/usr/bin/python3
# What the gateway tells about itself over HTTP: GET /services (each
# method with the metadata its dealer registered, its dealers
# [{id, state, in_flight, capacity}], live_dealers, queue_length,
# in_flight), GET /router/info and GET /queues (the documents of the
# ZeroMQ router_info and queue_status), GET /healthz, GET /readyz and GET
# /openapi.json (OpenAPI 3.1.0 documenting every route and every status
# it can answer, as read out of the sources); on every address of
# http.listen.
import json, os, re, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway().start()


def _try_healthz(port):
    """The status of GET /healthz on port, None when it does not answer."""
    try:
        c = HttpConn(port)
        c.send("GET", "/healthz")
        r = c.response(1)
        c.close()
        return r and r.status
    except OSError:
        return None


def tally(dealer, n):
    for i in range(n):
        yield i


meta = ThreadedDealer(gw.endpoint, service_name="Meta", methods=[
    echo,
    Method(add, description="Add two numbers",
           params={"a": "first number", "b": "second number"},
           tags=["math"], cost=2),
    Method(tally, name="count", description="Counts"),
]).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000097")
wire.register(group="Wire", methods=("hold",))
wire.recv()

# -- /services --
r = gw.get("/services")
is_(r and (r.status, r.content_type), (200, "application/json"),
    "GET /services answers JSON")
services = (r and r.json()) or {}
is_(sorted(services), ["Meta.add", "Meta.count", "Meta.echo", "Wire.hold"],
    "every method offered, by full name")
add_entry = services.get("Meta.add", {})
is_({k: add_entry.get(k) for k in METHOD_META_KEYS},
    {"description": "Add two numbers",
     "params": {"a": "first number", "b": "second number"},
     "stream": False, "metadata": {"tags": ["math"], "cost": 2}},
    "a method's description, params, stream and metadata as registered")
is_(services.get("Meta.count", {}).get("stream"), True,
    "a generator is stream: true")
is_(add_entry.get("dealers"),
    [{"id": meta.service_id, "state": "active", "in_flight": 0,
      "capacity": 1}],
    "its dealers: id, state, in_flight, capacity")
is_([add_entry.get(k) for k in ("live_dealers", "queue_length", "in_flight")],
    [1, 0, 0], "live_dealers, queue_length, in_flight")

held = gw.open("POST", "/invoke/Wire.hold", json=[1])
call = wire.expect_call(3)
waiting = gw.open("POST", "/invoke/Wire.hold", json=[2])
ok(wait_until(lambda: (gw.get("/services").json() or {}).get("Wire.hold", {})
              .get("queue_length") == 1), "a second call waits")
hold = (gw.get("/services").json() or {}).get("Wire.hold", {})
is_([hold.get(k) for k in ("live_dealers", "queue_length", "in_flight")],
    [1, 1, 1], "/services shows one in flight and one queued")
is_([d.get("in_flight") for d in hold.get("dealers", [])], [1],
    "and the dealer's in_flight")

# -- /queues and /router/info are the ZeroMQ documents --
r = gw.get("/queues")
is_(r and r.status, 200, "GET /queues answers 200")
is_(r and r.json(), gw.queue_status(),
    "with the same document as the ZeroMQ queue_status")
is_(((r and r.json()) or {}).get("Wire.hold", {}).get("queue_length"), 1,
    "which shows the queued call")
r = gw.get("/router/info")
is_(r and r.status, 200, "GET /router/info answers 200")
http_info = (r and r.json()) or {}
zmq_info = gw.info()
is_(missing_keys(http_info, ROUTER_INFO_KEYS), [],
    "with every router_info key")
for doc in (http_info, zmq_info):
    doc.pop("uptime", None)
is_(http_info, zmq_info, "and the same values as the ZeroMQ router_info")

wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": 1})
call = wire.expect_call(3)
wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                      "result": 2})
is_([held.response().json(), waiting.response().json()], [1, 2],
    "both calls are served")

# -- health --
r = gw.get("/healthz")
is_(r and r.status, 200, "GET /healthz answers 200")
r = gw.get("/readyz")
is_(r and r.status, 200, "GET /readyz answers 200 when ready")

# -- /openapi.json --
r = gw.get("/openapi.json")
is_(r and r.status, 200, "GET /openapi.json answers 200")
spec = r and r.json()
ok(isinstance(spec, dict), "with valid JSON")
spec = spec or {}
is_(spec.get("openapi"), "3.1.0", "openapi 3.1.0")
ok(isinstance(spec.get("info"), dict) and spec["info"].get("title")
   and spec["info"].get("version"), "with info.title and info.version")
documented = set()
for path, item in (spec.get("paths") or {}).items():
    for verb in item if isinstance(item, dict) else ():
        if verb in ("get", "post", "delete", "put", "patch", "options"):
            documented.add((verb.upper(), re.sub(r"\{[^}]*\}", "{}", path)))
# The routes the modules serve, read out of their route tables: a route
# added without its description fails here.
routes = set()
mdir = os.path.join(os.environ.get("VR_SRCDIR", "."), "modules")
for name in sorted(os.listdir(mdir)):
    if name.endswith(".c"):
        with open(os.path.join(mdir, name)) as src:
            for verb, path, flags in re.findall(
                    r'\{\s*"(GET|POST|DELETE|PUT)",\s*"(/[^"]*)",\s*([A-Z_| 0]+),',
                    src.read()):
                routes.add((verb, path, "VR_ROUTE_PREFIX" in flags))
cmp_ok(len(routes), ">=", 18, "the route tables of the modules are read")


def covered(verb, path, prefix):
    if not prefix:
        return (verb, path) in documented
    return any(v == verb and p.startswith(path) and len(p) > len(path)
               for v, p in documented)


is_(sorted("%s %s" % (v, p) for v, p, prefix in routes
           if not covered(v, p, prefix)), [], "it documents every route")

# -- every status a route can answer is documented --
# Read out of the sources: a route's handler, what it calls in its module
# (its origin's callbacks too), the statuses it answers itself and those
# of the core's helpers it calls, as their contract comments name them (a
# call's problem: any status of the code table, bar 499, which no client
# gets); the key check (401, 429) on routes that need a key, 413 on
# routes that take a body.  The core's own answers to any request are in
# info.description.
def source(path):
    with open(os.path.join(SRC, path)) as f:
        return f.read()


ANSWER = re.compile(r"\bvr_http_(?:problem|respond|respond_json)\(\s*"
                    r"[\w>.-]+,\s*(\d{3})\b")


def contract_statuses(header):
    """{function: statuses its contract comment names} of a header."""
    out = {}
    for m in re.finditer(r"/\*((?:(?!\*/).)*)\*/[ \t]*\n((?:(?!/\*)[^\n;]+\n)*?"
                         r"(?!/\*)[^\n]*;[ \t]*\n(?:(?!/\*)[^\n]+\n)*)",
                         header, re.S):
        said = {int(x) for x in re.findall(r"\b([1-5]\d\d)\b", m.group(1))}
        for fn in re.findall(r"\b(vr_\w+)\s*\(", m.group(2)):
            out.setdefault(fn, set()).update(said)
    return out


def definitions(text):
    """{name: body} of a C file's functions and initialized objects (in
    the project's style: names at the start of a line)."""
    defs = {}
    for m in re.finditer(r"^(\w+)\([^)]*\)\s*\n\{\n(.*?)^\}", text,
                         re.S | re.M):
        defs[m.group(1)] = m.group(2)
    for m in re.finditer(r"^(?:static\s+)?(?:const\s+)?\w+\s+(\w+)(?:\[\])?"
                         r"\s*=\s*\{(.*?)^\};", text, re.S | re.M):
        defs[m.group(1)] = m.group(2)
    return defs


def answers(defs, name, seen):
    if name in seen or name not in defs:
        return set()
    seen.add(name)
    out = {int(x) for x in ANSWER.findall(defs[name])}
    for ident in set(re.findall(r"\b(vr_\w+)\b", defs[name])):
        out |= helpers.get(ident) or answers(defs, ident, seen)
    return out


SRC = os.environ.get("VR_SRCDIR", ".")
helpers = {}
for header in ("src/vr_http.h", "src/vr_http_call.h"):
    helpers.update(contract_statuses(source(header)))
for fn in ("vr_http_problem", "vr_http_respond", "vr_http_respond_json"):
    helpers.pop(fn, None)           # their status is the argument
helpers["vr_http_call_problem"] = {int(x) for x in re.findall(
    r'\[VR_CODE_\w+\]\s*=\s*\{\s*"\w+",\s*(\d{3})',
    source("src/vr_request.c"))} - {499}
ok(len(helpers["vr_http_call_problem"]) >= 6
   and {401, 403, 429} <= helpers.get("vr_http_admit_call", set())
   and {400, 415} <= helpers.get("vr_http_call_read", set())
   and 503 in helpers.get("vr_http_stream_start", set()),
   "the helpers' statuses are read (code table, contract comments)")
# What the sources allow but cannot happen, and why.
NOT_ANSWERED = {
    ("GET", "/stream/", 415): "its arguments come in the query, not a body",
    ("GET", "/stream/", 500): "once the call is queued its stream has "
                              "started: a later error is an SSE event",
    ("GET", "/stream/", 502): "as 500",
    ("GET", "/stream/", 504): "as 500",
    ("POST", "/jobs/", 502): "once the job is queued its errors are the "
                             "job's (GET /jobs/ID, its error event)",
    ("POST", "/jobs/", 504): "as 502",
    ("GET", "/status", 404): "the page is compiled in",
}
ROUTE = re.compile(r'\{\s*"(GET|POST|DELETE|PUT)",\s*"(/[^"]*)",\s*'
                   r'([A-Z_| 0]+),\s*(\w+),')
missing, scanned = [], 0
for name in sorted(os.listdir(mdir)):
    if not name.endswith(".c"):
        continue
    text = source(os.path.join("modules", name))
    defs = definitions(text)
    for verb, path, flags, handler in ROUTE.findall(text):
        can = answers(defs, handler, set())
        if "VR_ROUTE_PUBLIC" not in flags:
            can |= helpers["vr_http_auth_check"]
        if "VR_ROUTE_BODY" in flags:
            can.add(413)
        scanned += bool(can)
        norm = re.sub(r"\{[^}]*\}", "{}", path)
        ops = [op for p, item in (spec.get("paths") or {}).items()
               for v, op in (item or {}).items()
               if v.upper() == verb
               and (re.sub(r"\{[^}]*\}", "{}", p) == norm
                    or ("VR_ROUTE_PREFIX" in flags and p.startswith(path)
                        and len(p) > len(path)))]
        documented = {int(c) for op in ops
                      for c in (op.get("responses") or {}) if c.isdigit()}
        missing += ["%s %s %d" % (verb, path, st) for st in sorted(can)
                    if st not in documented
                    and (verb, path, st) not in NOT_ANSWERED]
cmp_ok(scanned, ">=", 18, "the statuses of %d routes are read" % scanned)
is_(missing, [], "each route documents every status it can answer")
core = definitions(source("src/vr_http.c"))
own = set()
for fn in ("vr_http_admit", "vr_http_access", "vr_http_respond_json"):
    own |= {int(x) for x in ANSWER.findall(core.get(fn, ""))}
ok({404, 405, 431} <= own, "the core's own answers are read (%s)"
   % sorted(own))
is_([st for st in sorted(own)
     if not re.search(r"\b%d\b" % st, spec.get("info", {})
                      .get("description", ""))], [],
    "info.description names each of them")

is_(gw.stop(), 0, "the gateway exits 0")

# -- http.listen as a list --
ports = [free_port(), free_port()]
gw = Gateway({"http": {"listen": ["127.0.0.1:%d" % p for p in ports]}},
             name="two-listeners").start()
answers = []
for p in ports:
    c = wait_until(lambda: _try_healthz(p))
    answers.append(c)
is_(answers, [200, 200], "with http.listen a list, every address answers")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
