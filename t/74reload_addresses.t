#!/usr/bin/python3
# A reload moves the gateway's addresses.  http.listen: the new address
# accepts at once, the old one stops accepting, and a stream open on it
# goes on: to its end when that comes within http.drain_timeout, cut off
# when the drain time is over.  router.bind: an added endpoint takes
# dealers and clients at once; a removed one takes no new connection while
# a dealer on a remaining endpoint goes on serving, never registering
# again.  New addresses are opened before old ones are closed: a reload
# whose only new address cannot be opened is refused and the old address
# keeps working; a reload that removes an endpoint and is refused for
# another reason (an http.listen address that is taken) keeps it, and the
# peers connected to it stay connected and served.
import json, os, re, socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

conf = {"http": {"drain_timeout": duration(1.5)}}
gw = OpsGateway(conf).start()
E1 = gw.endpoint
A = gw.http_port
streamer = AsyncDealer(E1, service_name="Streamer", max_concurrent=10).start()


def refuses(port):
    """True when nothing accepts connections on 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(scaled(1.0))
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def healthz(port):
    try:
        r = HttpConn(port).send("GET", "/healthz").response()
    except OSError:
        return None
    return r and r.status


def held_port():
    """A port of 127.0.0.1 that a socket of this test holds."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    at_cleanup(s.close)
    return s.getsockname()[1]


def chunks(conn, timeout=5.0):
    return [json.loads(e["data"]) if e.get("event") == "chunk" else e["event"]
            for e in sse_events(conn, timeout=timeout) if e.get("event")]


def answers(endpoint):
    """router_info is answered on endpoint (a fresh connection)."""
    p = RawPeer(endpoint)
    try:
        p.send(["router_info", ""])
        return p.recv(1.0) is not None
    finally:
        p.close()


# -- http.listen --
short = gw.open("GET", "/stream/Streamer.astream?args=" + quote_json([5, 0.2]))
long_ = gw.open("GET", "/stream/Streamer.astream?args=" + quote_json([100, 0.1]))
is_([short.head(), long_.head()], [200, 200], "two streams open on address A")
B = free_port()
t_reload = time.monotonic()
last = gw.reload(dict(conf, http=dict(conf["http"],
                                      listen="127.0.0.1:%d" % B)),
                 http_port=B)
is_(last and last.get("ok"), True, "reload: http.listen moves from A to B")
is_(healthz(B), 200, "B accepts at once")
ok(refuses(A), "A takes no new connection")
is_(gw.gateway().get("http_listen"), ["127.0.0.1:%d" % B],
    "/status.json says http_listen [B]")
is_(chunks(short), [0, 1, 2, 3, 4, "end"],
    "the short stream on A goes on to its end")
ok(long_.closed_by_server(timeout=4 * 1.5), "the long one is cut off")
took = time.monotonic() - t_reload
ok(scaled(1.5) - 0.2 <= took < scaled(1.5) + scaled(1.5),
   "when the 1.5 s of http.drain_timeout are over (%.2fs)" % took)

held = held_port()
last = gw.reload(dict(conf, http=dict(conf["http"],
                                      listen="127.0.0.1:%d" % held)))
is_(last and last.get("ok"), False,
    "reload to an address another socket holds instead of B is refused")
is_(healthz(B), 200, "B still accepts")
is_(gw.gateway().get("http_listen"), ["127.0.0.1:%d" % B],
    "http_listen is still [B]")

# -- router.bind --
E2 = "tcp://127.0.0.1:%d" % free_port()
last = gw.reload(dict(conf, router={"bind": [E1, E2]}))
is_(last and last.get("ok"), True, "reload: router.bind [E1, E2]")
is_(gw.gateway().get("bind"), [E1, E2], "/status.json says bind [E1, E2]")
ok(answers(E2), "E2 answers at once")
second = ThreadedDealer(E2, service_name="Second").start(wait=False)
ok(second.wait_event("register_ack"), "a dealer on E2 registers")
c1 = PyClient(E1).connect()
is_(c1.invoke("Second.echo", "via E1"), ["via E1"],
    "a client on E1 reaches it")
c1_raw = RawPeer(E1, identity="client-74")

# A reload that drops E2 and is refused for another reason (an
# http.listen address another socket holds) keeps E2 and its connections.
watched = RawPeer(E2, identity="Watched-00000074").watch()
watched.register(group="Watched", methods=("m",))
is_(watched.recv(), [b"register_ack", b""],
    "another dealer on E2 registers (its connection watched)")
failures = gw.gateway().get("reload_failures")
held = held_port()
last = gw.reload(dict(conf, router={"bind": [E1]}, http=dict(
    conf["http"], listen=["127.0.0.1:%d" % B, "127.0.0.1:%d" % held])))
is_(last and last.get("ok"), False, "reload: router.bind [E1] (E2 removed) "
    "and an http.listen address another socket holds: refused")
like(last and last.get("error"), "^" + re.escape(gw.config_path)
     + r":\d+:\d+: \"http\.listen\" cannot listen for HTTP on "
     r"127\.0\.0\.1:%d" % held, "the error names the file, line and column")
is_(gw.gateway().get("reload_failures"), failures + 1,
    "/status.json counts the failure")
is_(gw.gateway().get("bind"), [E1, E2], "/status.json still says bind "
    "[E1, E2]")
is_(watched.expect_nothing(0.5), None, "the dealer on E2 hears nothing")
is_(watched.drops(), 0, "its connection was never closed")
rid = c1_raw.call("Watched.m", "after")
c = watched.expect_call(3)
ok(c is not None and c.request_id == rid,
   "a call from a client on E1 reaches it")
if c is not None:
    watched.reply(c.cid, {"type": "reply", "request_id": c.request_id,
                          "result": "served"})
is_(loads((c1_raw.recv(3) or [b"", b"null"])[-1]),
    {"type": "reply", "request_id": rid, "result": "served"},
    "and its answer comes back")
ok(answers(E2), "E2 still takes new connections")
watched.close()

last = gw.reload(dict(conf, router={"bind": [E2]}))
is_(last and last.get("ok"), True, "reload: router.bind [E2] (E1 removed)")
is_(gw.gateway().get("bind"), [E2], "/status.json says bind [E2]")
ok(not answers(E1), "E1 takes no new connection")
c2 = PyClient(E2).connect()
is_(c2.invoke("Second.echo", "via E2"), ["via E2"],
    "the dealer on E2 goes on serving")

E3 = "tcp://127.0.0.1:%d" % held_port()
last = gw.reload(dict(conf, router={"bind": [E3]}))
is_(last and last.get("ok"), False,
    "reload to an endpoint another socket holds instead of E2 is refused")
is_(gw.gateway().get("bind"), [E2], "bind is still [E2]")
ok(answers(E2), "E2 still takes new connections")
is_(c2.invoke("Second.echo", "still"), ["still"],
    "and its dealer still serves")
is_([registers(second), second.count_events("register_ack"),
     second.reconnects], [1, 1, 0],
    "it registered once and never reconnected")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
