#!/usr/bin/python3
# What the gateway tells about itself over HTTP: GET /services (each
# method with the metadata its dealer registered, its dealers
# [{id, state, in_flight, capacity}], live_dealers, queue_length,
# in_flight), GET /router/info and GET /queues (the documents of the
# ZeroMQ router_info and queue_status), GET /healthz, GET /readyz and GET
# /openapi.json (OpenAPI 3.1.0 documenting every route); on every
# address of http.listen.
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
