#!/usr/bin/python3
# POST /invoke/Service.method: the body becomes the call's arguments (an
# array: positional, an object: keyword, any other JSON value: one
# positional, nothing: none, application/vnd.voidrail.call+json: both);
# the dealer gets exactly the RequestJSON a Python client would send, with
# the request id of the X-Request-Id header; the answer is the result as
# JSON (a streaming method's chunks as an array) with X-Request-Id and
# Server-Timing.  A body that is not JSON is 415 unless its type says JSON
# (then 400).  Both Python dealer kinds serve HTTP calls.
import json, os, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *

gw = HttpGateway().start()
wire = RawPeer(gw.endpoint, identity="Wire-00000090")
wire.register(group="Wire", methods=("echo", "count"))
wire.recv()


def call_reaching_the_dealer(conn):
    """The call_from_router that an HTTP request turned into."""
    return wire.expect_call(3)


def answer(call, result):
    wire.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                          "result": result})


# -- the arguments, as the dealer sees them --
forms = [
    ("an array is the positional args", "application/json",
     '[1, "two", null]', [1, "two", None], {}),
    ("an object is the kwargs", "application/json",
     '{"a": 1, "b": [2]}', [], {"a": 1, "b": [2]}),
    ("a string is one positional arg", "application/json",
     '"scalar"', ["scalar"], {}),
    ("a number is one positional arg", "application/json", '42', [42], {}),
    ("null is one positional arg", "application/json", 'null', [None], {}),
    ("an empty body is no args", None, '', [], {}),
    ("application/vnd.voidrail.call+json gives args and kwargs",
     "application/vnd.voidrail.call+json",
     '{"args": [1], "kwargs": {"k": "v"}}', [1], {"k": "v"}),
    ("a +json type is JSON", "application/x-custom+json; charset=utf-8",
     '[true]', [True], {}),
]
for name, ctype, body, args, kwargs in forms:
    headers = {"Content-Type": ctype} if ctype else {}
    c = gw.open("POST", "/invoke/Wire.echo", headers=headers, body=body)
    call = call_reaching_the_dealer(c)
    if not ok(call is not None, name + ": the call reaches the dealer"):
        continue
    rid = call.request_id
    is_(call.request, request_json("Wire.echo", args, kwargs, request_id=rid),
        name)
    answer(call, "done")
    r = c.response()
    is_(r and (r.status, r.json()), (200, "done"), name + ": 200 with the result")
    is_(r and r.header("X-Request-Id"), rid,
        name + ": X-Request-Id is the request_id the dealer got")

# -- the RequestJSON byte for byte --
args = [1, "x", {"y": [2.5, None]}]
c = gw.open("POST", "/invoke/Wire.echo", body=json.dumps(args),
            headers={"Content-Type": "application/json",
                     "X-Request-Id": "rid-90-exact"})
call = call_reaching_the_dealer(c)
expected = json.dumps(request_json("Wire.echo", args,
                                   request_id="rid-90-exact")).encode()
is_(call and call.frames[2:], [b"Wire.echo", expected],
    "the dealer gets [method, RequestJSON] exactly as the Python client "
    "writes them (type, request_id, func_name, request_step, args, kwargs)")
is_(call and list(call.request), ["type", "request_id", "func_name",
                                   "request_step", "args", "kwargs"],
    "the keys in the Python client's order")
answer(call, {"ok": "h\u00e9llo \u2713"})
r = c.response()
is_(r and r.header("X-Request-Id"), "rid-90-exact",
    "a client's X-Request-Id is kept")
is_(r and r.content_type, "application/json", "the answer is application/json")
is_(r and r.json(), {"ok": "h\u00e9llo \u2713"}, "the result is the body")

# -- Server-Timing --
c = gw.open("POST", "/invoke/Wire.echo", json=["slowly"])
call = call_reaching_the_dealer(c)
time.sleep(0.3)
answer(call, "slowly")
r = c.response()
timing = parse_server_timing(r and r.header("Server-Timing"))
is_(sorted(timing or {}), ["dealer", "queue"],
    "Server-Timing has the form 'queue;dur=N, dealer;dur=N'")
cmp_ok(timing and timing.get("dealer"), ">=", 250,
       "dealer;dur counts the dealer's 300 ms")
cmp_ok(timing and timing.get("queue"), "<", 250,
       "queue;dur does not count them")

# -- a streaming method without SSE: a JSON array of its chunks --
c = gw.open("POST", "/invoke/Wire.count", json=[3])
call = call_reaching_the_dealer(c)
for chunk in ({"i": 0}, "one", [2]):
    wire.reply(call.cid, {"type": "streaming", "request_id": call.request_id,
                          "data": chunk})
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
r = c.response()
is_(r and (r.status, r.json()), (200, [{"i": 0}, "one", [2]]),
    "a stream answers a JSON array of its chunks")
c = gw.open("POST", "/invoke/Wire.count", json=[0])
call = call_reaching_the_dealer(c)
wire.reply(call.cid, {"type": "end", "request_id": call.request_id})
r = c.response()
is_(r and (r.status, r.json()), (200, []), "an empty stream answers []")

# -- bodies that are not JSON --
r = gw.post("/invoke/Wire.echo", body="a=b",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
is_(r and r.status, 415, "a form body a=b is 415")
is_(r and (r.json() or {}).get("code"), "unsupported_media_type",
    "with code unsupported_media_type")
is_(problem_of(r), "", "as a problem+json")
r = gw.post("/invoke/Wire.echo", body="hello there",
            headers={"Content-Type": "text/plain; charset=utf-8"})
is_(r and (r.status, (r.json() or {}).get("code")),
    (415, "unsupported_media_type"),
    "plain text that is not JSON under text/plain (not a JSON type) is 415")
r = gw.post("/invoke/Wire.echo", body="{not json",
            headers={"Content-Type": "application/json"})
is_(r and (r.status, (r.json() or {}).get("code")), (400, "bad_request"),
    "a body that is not JSON under application/json is 400 bad_request")
r = gw.post("/invoke/Wire.echo", body='{"args": 1}',
            headers={"Content-Type": "application/vnd.voidrail.call+json"})
is_(r and r.status, 400, "call+json whose args is not an array is 400")
is_(wire.expect_nothing(0.2, ignore=("heartbeat_ack",)), None,
    "none of these reached the dealer")

# curl -d sends application/x-www-form-urlencoded: a JSON body is accepted.
curl = subprocess.Popen(
    ["curl", "-sS", "--max-time", str(int(scaled(10))), "-o", "-",
     "-w", "\n%{http_code} %{content_type}", "-d", '["via curl"]',
     gw.base + "/invoke/Wire.echo"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
at_cleanup(lambda: curl.poll() is None and curl.kill())
call = wire.expect_call(5)
is_(call and call.request.get("args"), ["via curl"],
    "a JSON body under curl's default form type is accepted")
if call:
    answer(call, "curl ok")
out, err = curl.communicate(timeout=scaled(10))
is_(out.decode().split("\n"), ['"curl ok"', "200 application/json"],
    "curl gets 200 and the result")

# -- Python dealers --
ThreadedDealer(gw.endpoint).start()
AsyncDealer(gw.endpoint, service_name="AsyncService").start()
for svc in ("RefService", "AsyncService"):
    r = gw.post("/invoke/%s.echo" % svc, json=["hello"])
    is_(r and (r.status, r.json()), (200, "hello"), "%s: echo" % svc)
    r = gw.post("/invoke/%s.add" % svc, json={"a": 40, "b": 2})
    is_(r and r.json(), 42, "%s: kwargs" % svc)
    r = gw.post("/invoke/%s.add" % svc, json=[40, 2])
    is_(r and r.json(), 42, "%s: positional args" % svc)
    r = gw.post("/invoke/%s.add" % svc, json={"args": [40], "kwargs": {"b": 2}},
                headers={"Content-Type": "application/vnd.voidrail.call+json"})
    is_(r and r.json(), 42, "%s: both" % svc)
    r = gw.post("/invoke/%s.count" % svc, json=[3])
    is_(r and r.json(), [{"i": 0}, {"i": 1}, {"i": 2}],
        "%s: a generator's chunks" % svc)
    r = gw.post("/invoke/%s.fail" % svc, json=["boom-%s" % svc])
    is_(r and r.status, 500, "%s: an exception is 500" % svc)
    like(r and (r.json() or {}).get("detail"), "boom-%s" % svc,
         "%s: with the dealer's message as detail" % svc)
r = gw.post("/invoke/AsyncService.astream", json={"n": 3, "delay": 0.05})
is_(r and r.json(), [0, 1, 2], "an async generator streams through HTTP")
r = gw.post("/invoke/AsyncService.aslow", json=[0.1])
is_(r and r.json(), {"slept": 0.1}, "an async handler")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
