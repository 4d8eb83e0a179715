#!/usr/bin/python3
# Taking work out of rotation: `voidrail ctl drain|undrain DEALER` and
# `disable|enable METHOD`, or POST /admin/dealers/ID/drain|undrain and
# /admin/methods/NAME/disable|enable.  A drained dealer finishes what it
# holds and gets no new work: another dealer of the method takes it, and
# with none left the calls end with no_service.  A disabled method's calls
# end with no_service at once (HTTP 503), its queued ones too.
# /status.json shows both (dealer state "draining", method "disabled",
# gateway.disabled_methods), and both outlast a reload.  ctl exits 0 when
# done, 1 on bad usage or no connection, 2 when refused (an unknown
# dealer: 404).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

KEY = "key-79"
H = {"X-API-Key": KEY}
# (The raw dealers send no heartbeats: they must not expire meanwhile.)
conf = {"auth": {"client_keys": [KEY]},
        "router": {"heartbeat_timeout": duration(30)}}
gw = OpsGateway(conf).start()


def ctl(*args):
    return gw.ctl("--api-key", KEY, *args)


def pool_dealer(n):
    p = RawPeer(gw.endpoint, identity="Pool-0000007%d" % n)
    p.register(group="Pool", methods=("work",))
    p.recv()
    return p


X, Y = pool_dealer(1), pool_dealer(2)
name = {X: "Pool-00000071", Y: "Pool-00000072"}
ThreadedDealer(gw.endpoint, service_name="Other").start()
client = RawPeer(gw.endpoint, identity="client-79")
client.send(["auth", {"api_key": KEY, "client_id": "client-79"}])
client.recv()
box = Answers(client)


def finish(dealer, call, result="done"):
    dealer.reply(call.cid, {"type": "reply", "request_id": call.request_id,
                            "result": result})


def queue_length(method):
    return (gw.queue_status().get(method) or {}).get("queue_length")


# -- draining a dealer --
r1 = client.call("Pool.work", 1)
call1, held, other = None, None, None
deadline = time.monotonic() + scaled(3)
while call1 is None and time.monotonic() < deadline:
    for d, o in ((X, Y), (Y, X)):
        c = d.expect_call(0.05)
        if c is not None:
            call1, held, other = c, d, o
ok(call1 is not None and held is not None, "a call goes to one Pool dealer")
rc, out, err = ctl("drain", name[held])
is_(rc, 0, "voidrail ctl drain DEALER exits 0")
is_(gw.dealer_state(name[held]), "draining",
    "/status.json shows the dealer as draining")
r2 = client.call("Pool.work", 2)
call2 = other.expect_call(3)
is_(call2 and call2.request_id, r2, "the next call goes to the other dealer")
finish(held, call1)
is_(box.get(r1), "reply", "the drained dealer finishes the call it held")
r3 = client.call("Pool.work", 3)
ok(wait_until(lambda: queue_length("Pool.work") == 1),
   "with the other one busy, a third call waits in the queue")
is_(held.expect_nothing(0.5, ignore=("heartbeat_ack",)), None,
    "rather than going to the free but drained dealer")
rc, out, err = ctl("drain", name[other])
is_(box.get(r3), "no_service",
    "draining the other one too: the queued call ends with no_service")
r4 = client.call("Pool.work", 4)
is_(box.get(r4), "no_service", "and so does a new one")
r = gw.post("/invoke/Pool.work", json=[5], headers=H)
is_(r and (r.status, (r.json() or {}).get("code")), (503, "no_service"),
    "over HTTP: 503 no_service")
finish(other, call2)
is_(box.get(r2), "reply", "the other drained dealer finishes its call")
rc, out, err = ctl("undrain", name[other])
is_(rc, 0, "voidrail ctl undrain DEALER exits 0")
is_(gw.dealer_state(name[other]), "active", "it is active again")
r6 = client.call("Pool.work", 6)
call6 = other.expect_call(3)
is_(call6 and call6.request_id, r6, "and gets work again")
finish(other, call6)
box.get(r6)

# -- the admin routes --
r = gw.post("/admin/dealers/%s/undrain" % name[held], headers=H)
is_(r and (r.status, r.json()), (200, {"dealer": name[held], "drained": False}),
    "POST /admin/dealers/ID/undrain answers 200 {dealer, drained: false}")
r = gw.post("/admin/dealers/%s/drain" % name[held], headers=H)
is_(r and (r.status, r.json()), (200, {"dealer": name[held], "drained": True}),
    "POST /admin/dealers/ID/drain answers 200 {dealer, drained: true}")
is_(gw.dealer_state(name[held]), "draining", "and drains it")
r = gw.post("/admin/dealers/Nobody-00000079/drain", headers=H)
is_(r and (r.status, (r.json() or {}).get("code")), (404, "not_found"),
    "an unknown dealer is 404 not_found")
is_(problem_of(r), "", "as a problem")
r = gw.post("/admin/dealers/%s/drain" % name[held])
is_(r and r.status, 401, "without a key: 401")

# -- disabling a method --
r7 = client.call("Pool.work", 7)
call7 = other.expect_call(3)
r8 = client.call("Pool.work", 8)
ok(call7 and wait_until(lambda: queue_length("Pool.work") == 1),
   "one call in flight, one queued")
t0 = time.monotonic()
rc, out, err = ctl("disable", "Pool.work")
is_(rc, 0, "voidrail ctl disable METHOD exits 0")
is_(box.get(r8), "no_service", "the queued call ends with no_service")
cmp_ok(time.monotonic() - t0, "<", scaled(1.0), "at once")
t0 = time.monotonic()
r9 = client.call("Pool.work", 9)
is_(box.get(r9), "no_service", "a new call ends with no_service")
cmp_ok(time.monotonic() - t0, "<", scaled(0.5), "at once")
r = gw.post("/invoke/Pool.work", json=[10], headers=H)
is_(r and (r.status, (r.json() or {}).get("code")), (503, "no_service"),
    "over HTTP: 503 no_service")
m = gw.method_status("Pool.work") or {}
is_(m.get("disabled"), True, "/status.json: the method says disabled: true")
is_(gw.gateway().get("disabled_methods"), ["Pool.work"],
    "and gateway.disabled_methods lists it")
is_((gw.method_status("Other.echo") or {}).get("disabled"), False,
    "another method is not disabled")
finish(other, call7)
r = gw.post("/admin/methods/Other.echo/disable", headers=H)
is_(r and (r.status, r.json()), (200, {"method": "Other.echo",
                                       "disabled": True}),
    "POST /admin/methods/NAME/disable answers 200 {method, disabled: true}")
r = gw.post("/invoke/Other.echo", json=[1], headers=H)
is_(r and r.status, 503, "and disables it")

# -- both outlast a reload --
last = gw.reload(dict(conf, router=dict(conf["router"], max_queue=500)))
is_(last and last.get("ok"), True, "a good reload")
is_(gw.dealer_state(name[held]), "draining", "the drained dealer still drains")
is_(sorted(gw.gateway().get("disabled_methods") or []),
    ["Other.echo", "Pool.work"], "both methods are still disabled")
r11 = client.call("Pool.work", 11)
is_(box.get(r11), "no_service", "and still answer no_service")

# -- back --
rc, out, err = ctl("enable", "Pool.work")
is_(rc, 0, "voidrail ctl enable METHOD exits 0")
r = gw.post("/admin/methods/Other.echo/enable", headers=H)
is_(r and (r.status, r.json()), (200, {"method": "Other.echo",
                                       "disabled": False}),
    "POST /admin/methods/NAME/enable answers 200 {method, disabled: false}")
is_(gw.gateway().get("disabled_methods"), [], "no method is disabled")
r = gw.post("/invoke/Other.echo", json=["back"], headers=H)
is_(r and (r.status, r.json()), (200, "back"), "Other.echo is served again")
rc, out, err = ctl("undrain", name[held])
r12 = client.call("Pool.work", 12)
r13 = client.call("Pool.work", 13)
calls = [X.expect_call(3), Y.expect_call(3)]
ok(all(calls), "Pool.work is served again, by both dealers")
for d, c in zip((X, Y), calls):
    if c:
        finish(d, c)
is_([box.get(r12), box.get(r13)], ["reply", "reply"], "both calls answered")

# -- ctl's exit status --
rc, out, err = ctl("drain", "Nobody-00000079")
is_(rc, 2, "ctl drain of an unknown dealer exits 2 (refused)")
like(err, r"404", "saying 404")
rc, out, err = gw.ctl("drain", name[X])
is_(rc, 2, "ctl without the key exits 2 (refused: 401)")
rc, out, err = ctl("frobnicate", "x")
is_(rc, 1, "an unknown command exits 1")
rc, out, err = ctl("drain")
is_(rc, 1, "a missing name exits 1")
rc, out, err = gw.ctl("--api-key", KEY, "drain", name[X],
                      url="http://127.0.0.1:%d" % free_port())
is_(rc, 1, "nothing listening at --url: exit 1")
like(err, r"cannot connect", "saying it cannot connect")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
