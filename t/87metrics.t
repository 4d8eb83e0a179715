#!/usr/bin/python3
# GET /metrics speaks the Prometheus text exposition format: every family
# has HELP and TYPE, names start with voidrail_, counters end in _total,
# histograms (queue wait and dealer time per method) have cumulative
# buckets up to le="+Inf" with _sum and _count; the values are the
# broker's own counts and gauges (streams open, dealers, calls in flight
# and queued per method); labels stay bounded (method, code, state, class:
# never a request or dealer id).  promtool lints it when it is installed.
import os, re, shutil, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{name: {"type", "help", "samples": [(labels dict, value)]}}; raises
    on a line that is not exposition format."""
    families, kinds = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            families.setdefault(name, {"samples": []})["help"] = help_
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ", 1)
            families.setdefault(name, {"samples": []})["type"] = kind
            kinds[name] = kind
        elif line:
            m = SAMPLE.match(line)
            if not m:
                raise ValueError("not exposition format: %r" % line)
            name, labels = m.group(1), dict(LABEL.findall(m.group(3) or ""))
            base = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and kinds.get(name[:-len(suffix)]) \
                        == "histogram":
                    base = name[:-len(suffix)]
            families.setdefault(base, {"samples": []})["samples"].append(
                (name, labels, float(m.group(4))))
    return families


def value(families, name, **labels):
    for f in families.values():
        for n, l, v in f["samples"]:
            if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
                return v
    return None


gw = HttpGateway().start()
dealer = ThreadedDealer(gw.endpoint).start()
c = RawPeer(gw.endpoint, identity="client-87")
for i in range(3):
    c.call("RefService.echo", i)
    c.recv_json()
c.call("RefService.fail", "bad")
c.recv_json()
c.call("RefService.nope", 1)
c.recv_json()
r = gw.post("/invoke/RefService.add", json={"a": 1, "b": 2})
is_(r and r.status, 200, "an HTTP call is served too")

r = gw.get("/metrics")
is_(r and r.status, 200, "GET /metrics answers 200")
like(r.header("Content-Type"), r"^text/plain; version=0\.0\.4",
     "in the text exposition format, version 0.0.4")
try:
    fams = parse(r.text)
    ok(True, "every line parses")
except ValueError as e:
    fams = {}
    ok(False, "every line parses: %s" % e)

ok(all(n.startswith("voidrail_") for n in fams), "every name starts voidrail_")
ok(all("help" in f and "type" in f for f in fams.values()),
   "every family has HELP and TYPE")
bad = [n for n, f in fams.items()
       if f.get("type") == "counter" and not n.endswith("_total")]
is_(bad, [], "every counter ends in _total")

is_(value(fams, "voidrail_requests_total"), 6.0,
    "voidrail_requests_total counts the six calls (ZMQ and HTTP)")
is_(value(fams, "voidrail_responses_total"), 5.0,
    "voidrail_responses_total counts the five a dealer finished")
is_(value(fams, "voidrail_errors_total", code="no_service"), 1.0,
    "errors by code: one no_service")
is_(value(fams, "voidrail_errors_total", code="dealer_error"), 1.0,
    "and one dealer_error")
is_(value(fams, "voidrail_method_calls_total", method="RefService.echo"), 3.0,
    "calls per method")
is_(value(fams, "voidrail_method_errors_total", method="RefService.fail",
          code="dealer_error"), 1.0, "errors per method and code")
is_(value(fams, "voidrail_dealers", state="active"), 1.0,
    "one active dealer")
is_(value(fams, "voidrail_requests_queued"), 0.0, "nothing queued")
is_(value(fams, "voidrail_config_generation"), 1.0, "configuration generation 1")
is_(value(fams, "voidrail_http_requests_total") >= 2.0, True,
    "HTTP requests are counted")

for hist in ("voidrail_queue_wait_seconds", "voidrail_dealer_seconds"):
    f = fams.get(hist, {})
    is_(f.get("type"), "histogram", "%s is a histogram" % hist)
    buckets = [(float("inf") if l["le"] == "+Inf" else float(l["le"]), v)
               for n, l, v in f.get("samples", [])
               if n == hist + "_bucket" and l.get("method") == "RefService.echo"]
    ok(len(buckets) > 5 and buckets[-1][0] == float("inf"),
       "%s has buckets up to +Inf for RefService.echo" % hist)
    ok(all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
       "%s buckets are ordered and cumulative" % hist)
    is_(value(fams, hist + "_count", method="RefService.echo"), 3.0,
        "%s_count is the three echo calls" % hist)
    is_(buckets and buckets[-1][1], 3.0, "and +Inf holds all of them")
    ok(value(fams, hist + "_sum", method="RefService.echo") is not None,
       "%s_sum is there" % hist)

labels = set()
for f in fams.values():
    for n, l, v in f["samples"]:
        labels.update(l)
is_(sorted(labels - {"method", "code", "state", "class", "le", "version"}), [],
    "no label beyond method, code, state, class, le, version")
ok(dealer.service_id not in r.text and "client-87" not in r.text,
   "no dealer or client identity appears")

# -- gauges, while work is under way --
def gauges():
    fams = parse(gw.get("/metrics").text)
    return (value(fams, "voidrail_http_streams"),
            value(fams, "voidrail_method_dealers", method="Gauge.work"),
            value(fams, "voidrail_method_in_flight", method="Gauge.work"),
            value(fams, "voidrail_method_queue_length", method="Gauge.work"))


pair = []
for i in range(2):
    d = RawPeer(gw.endpoint, identity="Gauge-%08d" % i)
    d.register(group="Gauge", methods=("work",))
    d.recv()
    pair.append(d)
is_(gauges()[:3], (0.0, 2.0, 0.0),
    "two idle dealers: no stream, voidrail_method_dealers 2, none in flight")
stream = gw.open("POST", "/invoke/Gauge.work", json=["sse"],
                 headers={"Accept": "text/event-stream"})
first = call_on(pair)
plain = gw.open("POST", "/invoke/Gauge.work", json=["plain"])
second = call_on(pair)
queued = gw.open("POST", "/invoke/Gauge.work", json=["queued"])
ok(stream.head() == 200 and first[1] and second[1],
   "an SSE stream and a JSON call occupy both dealers")
ok(wait_until(lambda: gauges()[3] == 1.0), "a third call waits")
is_(gauges(), (1.0, 2.0, 2.0, 1.0),
    "voidrail_http_streams 1, method_dealers 2, method_in_flight 2, "
    "method_queue_length 1")
for d, call in (first, second):
    d.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                       "result": "done"})
third = call_on(pair)
ok(third[1], "the queued call gets a dealer")
third[0].reply(third[1].cid, {"type": "reply",
                              "request_id": third[1].request_id,
                              "result": "done"})
sse_events(stream)
is_([r and r.status for r in (plain.response(), queued.response())],
    [200, 200], "every call is answered")
ok(wait_until(lambda: gauges() == (0.0, 2.0, 0.0, 0.0)),
   "then no stream, nothing in flight or queued")
pair[1].send(["shutdown", ""])
ok(wait_until(lambda: gauges()[1] == 1.0),
   "a dealer that leaves: voidrail_method_dealers 1")

promtool = shutil.which("promtool")
if promtool:
    p = subprocess.run([promtool, "check", "metrics"], input=r.body,
                       capture_output=True)
    is_((p.returncode, p.stdout.decode() + p.stderr.decode()), (0, ""),
        "promtool check metrics finds nothing to complain about")
else:
    note("SKIPPED promtool lint: promtool is not installed (Debian package "
         "prometheus)")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
