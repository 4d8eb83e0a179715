#!/usr/bin/python3
# A call: call_from_client reaches the dealer as call_from_router with the
# client identity inserted and every later frame copied unchanged; the
# dealer's reply reaches the client byte for byte (A.2, A.5).  Then args and
# kwargs through the Python-style client and both dealer kinds.
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()

# -- on the wire --
d = RawPeer(gw.endpoint, identity="Wire-00000030")
d.register(group="Wire")
d.recv()
c = RawPeer(gw.endpoint, identity="client-30")

body = json.dumps(request_json("Wire.echo", ["hello"],
                               request_id="r-30-1")).encode()
c.send(["call_from_client", "Wire.echo", body])
call = d.expect_call()
is_(call and call.frames,
    [b"call_from_router", b"client-30", b"Wire.echo", body],
    "the dealer gets [call_from_router, cid, method, request] unchanged")

reply = b'{"type":"reply","request_id":"r-30-1","result":"h\\u00e9llo \xe2\x9c\x93"}'
d.reply(b"client-30", reply)
is_(c.recv(), [b"reply_from_router", reply],
    "the client gets [reply_from_router, payload] byte for byte")

body = json.dumps(request_json("Wire.echo", [1], request_id="r-30-2")).encode()
c.send(["call_from_client", "Wire.echo", body, "extra", ""])
call = d.expect_call()
is_(call and call.frames,
    [b"call_from_router", b"client-30", b"Wire.echo", body, b"extra", b""],
    "frames after the request are copied too")
d.reply(b"client-30", {"type": "reply", "request_id": "r-30-2", "result": 1})
is_(c.recv_json()[1], {"type": "reply", "request_id": "r-30-2", "result": 1},
    "and the call completes")

body = json.dumps(request_json("Wire.echo", [2], request_id="r-30-3",
                               func_name="Anything.else.echo")).encode()
c.send(["call_from_client", "Wire.echo", body])
call = d.expect_call()
ok(call and call.method == "Wire.echo" and call.body == body,
   "routing follows the method frame, not func_name")
d.reply(b"client-30", {"type": "reply", "request_id": "r-30-3", "result": 2})
c.recv()

# -- Python-style peers --
ThreadedDealer(gw.endpoint).start()
AsyncDealer(gw.endpoint, service_name="AsyncService").start()
py = PyClient(gw.endpoint).connect()

is_(py.invoke("RefService.echo", "hello"), ["hello"],
    "invoke returns the result in a list")
is_(py.invoke("RefService.add", 40, 2), [42], "positional args")
is_(py.invoke("RefService.add", a=40, b=2), [42], "keyword args")
is_(py.invoke("RefService.add", 40, b=2), [42], "both")
value = {"ü": [1, 2.5, None, True, "✓"], "nested": {"k": []}}
is_(py.invoke("RefService.echo", value), [value],
    "JSON values (unicode, nested, null, bool) survive the round trip")
is_(list(py.stream("RefService.echo", "once")), ["once"],
    "stream() of a plain method yields the one result")
is_(py.invoke("AsyncService.echo", "async"), ["async"],
    "the asyncio dealer answers")
is_(py.invoke("AsyncService.aslow", 0.1), [{"slept": 0.1}],
    "an async handler")
is_(py.invoke("AsyncService.add", a=1, b=2), [3],
    "kwargs through the asyncio dealer")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
