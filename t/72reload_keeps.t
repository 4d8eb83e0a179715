#!/usr/bin/python3
# What a reload leaves alone: the ROUTER socket and every registered dealer
# (none registers again: no second register, no second register_ack),
# requests in flight and in a queue (they end under the deadline they
# arrived with, even when the reload changes router.request_timeout), a
# kept-alive HTTP connection, an SSE stream, a job and its follower, the
# /status/events feed, a client identity that logged in.  The same holds
# when the reload is refused, early (a bad value) or late (an http.listen
# address that another socket holds).
import json, os, socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

KEY = "key-72"
H = {"X-API-Key": KEY}
SSE = dict(H, Accept="text/event-stream")


def conf(timeout, **extra):
    c = {"auth": {"client_keys": [KEY]},
         "router": {"request_timeout": duration(timeout),
                    "heartbeat_timeout": duration(30),
                    "busy_timeout": duration(30),
                    # streams and jobs outlive the short deadlines
                    "methods": {"Wire.*": {"timeout": duration(30)}}}}
    c.update(extra)
    return c


gw = OpsGateway(conf(2)).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000072")
wire.register(group="Wire", methods=("count",), max_concurrent=10)
wire.recv()
slot = RawPeer(gw.endpoint, identity="Slot-00000072")
slot.register(group="Slot", methods=("hold",))
slot.recv()
td = ThreadedDealer(gw.endpoint, service_name="Threaded").start()
ad = AsyncDealer(gw.endpoint, service_name="Async").start()
client = RawPeer(gw.endpoint, identity="client-72")
client.send(["auth", {"api_key": KEY, "client_id": "client-72"}])
client.recv()
py = PyClient(gw.endpoint, api_key=KEY).connect()

r = gw.post("/jobs/Threaded.echo", json=["done before"], headers=H)
done_job = ((r and r.json()) or {}).get("id", "?")
wait_until(lambda: (gw.get("/jobs/" + done_job).json() or {}).get("state")
           == "succeeded")


def get(path):
    """GET path: a Response, or None (no answer, or no gateway)."""
    try:
        return gw.get(path)
    except OSError:
        return None


def send(call, kind, **body):
    body.update({"type": kind, "request_id": call.request_id})
    wire.reply(call.cid, body)


def events(conn, **kw):
    return [(e.get("event"), json.loads(e["data"]))
            for e in sse_events(conn, timeout=3, **kw) if e.get("event")]


box = Answers(client)


def answer(peer, rid, timeout=3.0):
    """(type of the answer for rid, result or code) for the client."""
    body = box.body(rid, timeout)
    if body is None:
        return None
    kind = body.get("type")
    return (kind, body.get("result") if kind == "reply" else body.get("code"))


def run(what, do_reload, good=False):
    # A request in flight on Slot and one queued behind it.
    a = client.call("Slot.hold", "a")
    call_a = slot.expect_call(3)
    t_b = time.monotonic()
    b = client.call("Slot.hold", "b")
    ok(call_a is not None and wait_until(
        lambda: (gw.queue_status().get("Slot.hold") or {}).get("queue_length")
        == 1), "%s: before it, one request in flight and one queued" % what)
    # A kept-alive HTTP connection.
    conn = gw.conn()
    first = conn.send("POST", "/invoke/Threaded.echo", headers=H,
                      json=["before"]).response()
    # An SSE stream and a job with a follower, both half way.
    s = gw.open("POST", "/invoke/Wire.count", headers=SSE, json=[2])
    call_s = wire.expect_call(3)
    send(call_s, "streaming", data="s0")
    r = gw.post("/jobs/Wire.count", json=[2], headers=H)
    job = ((r and r.json()) or {}).get("id", "?")
    call_j = wire.expect_call(3)
    f = gw.open("GET", "/jobs/%s/events" % job)
    send(call_j, "streaming", data="j0")
    is_([events(s, count=2), events(f, count=2)],
        [[("chunk", "s0")], [("chunk", "j0")]],
        "%s: before it, a stream and a job's follower got their first chunk"
        % what)
    feed = gw.open("GET", "/status/events?api_key=" + KEY)
    ok(any(e.get("event") == "snapshot"
           for e in sse_events(feed, count=2, until=(), timeout=3)),
       "%s: before it, /status/events sends snapshots" % what)

    t_reload = time.monotonic()
    last = do_reload()
    is_(last and last.get("ok"), good, "%s: the reload %s" % (
        what, "is done" if good else "is refused"))

    # The request in flight: answered after the new (shorter) timeout
    # would have passed, it still gets its answer.
    if good:
        time.sleep(max(0, t_reload + scaled(1.0) - time.monotonic()))
    if call_a is not None:
        slot.reply(call_a.cid, {"type": "reply", "request_id": a,
                                "result": "A"})
    is_(answer(client, a), ("reply", "A"),
        "%s: the request that was in flight gets its answer" % what)
    call_b = slot.expect_call(3)
    is_(call_b and call_b.request_id, b,
        "%s: the queued one goes to the dealer next" % what)
    if good:
        got = answer(client, b, timeout=5)
        took = time.monotonic() - t_b
        is_(got, ("error", "timeout"),
            "%s: unanswered, it ends with timeout" % what)
        ok(scaled(2.0) - 0.15 <= took < scaled(2.0) + scaled(1.0),
           "%s: at the 2 s deadline it arrived with, not the new 0.5 s "
           "(%.2fs)" % (what, took))
        if call_b is not None:      # late: it frees the dealer's slot
            slot.reply(call_b.cid, {"type": "reply", "request_id": b,
                                    "result": "late"})
    else:
        if call_b is not None:
            slot.reply(call_b.cid, {"type": "reply", "request_id": b,
                                    "result": "B"})
        is_(answer(client, b), ("reply", "B"),
            "%s: and gets its answer" % what)

    again = conn.send("POST", "/invoke/Threaded.echo", headers=H,
                      json=["after"]).response()
    is_([first and (first.status, first.json()),
         again and (again.status, again.json())],
        [(200, "before"), (200, "after")],
        "%s: the kept-alive HTTP connection serves the next request" % what)
    send(call_s, "streaming", data="s1")
    send(call_s, "end")
    is_(events(s), [("chunk", "s1"), ("end", {"chunks": 2})],
        "%s: the SSE stream goes on to its end" % what)
    send(call_j, "streaming", data="j1")
    send(call_j, "end")
    is_(events(f), [("chunk", "j1"), ("end", {"chunks": 2})],
        "%s: the job's follower goes on to its end" % what)
    r = get("/jobs/" + job)
    is_(r and (r.status, (r.json() or {}).get("chunks")), (200, ["j0", "j1"]),
        "%s: the job succeeded with both chunks" % what)
    r = get("/jobs/" + done_job)
    is_(r and (r.status, (r.json() or {}).get("result")), (200, "done before"),
        "%s: a job that had finished before is still there" % what)
    if not ok(gw.proc.running(), "%s: the gateway still runs" % what):
        diag("its exit status: %r" % gw.proc.wait(0))
        return
    ok(any(e.get("event") == "snapshot"
           for e in sse_events(feed, count=2, until=(), timeout=3)),
       "%s: /status/events still sends snapshots" % what)
    feed.close()
    is_(client.command("methods")[0], "methods_ack",
        "%s: the client that had logged in is still logged in" % what)
    try:
        served = [py.invoke("Threaded.echo", 1), py.invoke("Async.echo", 2)]
    except (RuntimeError, TimeoutError) as e:
        served = str(e)
    is_(served, [[1], [2]], "%s: both Python dealers still serve" % what)
    is_([registers(td), td.count_events("register_ack"),
         registers(ad), ad.count_events("register_ack"),
         td.reconnects, ad.reconnects], [1, 1, 1, 1, 0, 0],
        "%s: and neither registered again" % what)
    is_(len(gw.status().get("dealers") or []), 4,
        "%s: all four dealers are known" % what)


run("a good reload", lambda: gw.reload(conf(0.5)), good=True)
ok(gw.reload(conf(2)).get("ok"), "(another good reload puts the 2 s back)")
run("a refused reload (a bad value)",
    lambda: gw.reload(text=to_yaml(gw.full_config(conf(0.5))).replace(
        "router:\n", "router:\n  dealer_capacity: 0\n", 1) + "\n"))

holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
holder.bind(("127.0.0.1", 0))
holder.listen(1)
at_cleanup(holder.close)
taken = "127.0.0.1:%d" % holder.getsockname()[1]
run("a refused reload (http.listen taken)",
    lambda: gw.reload(conf(0.5, http={
        "listen": ["127.0.0.1:%d" % gw.http_port, taken]})))
is_(gw.gateway().get("config_generation"), 3,
    "two good reloads: config generation 3")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
