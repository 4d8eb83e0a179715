#!/usr/bin/python3
# Reloading under load: while ZeroMQ and HTTP clients call in loops and
# SSE streams (GET /stream/ on a slow streaming method, and a job's
# /events) are open, the file alternates between two good variants and
# gets 20 SIGHUPs.  The variants differ in limits, timeouts, per-method
# policy, the client keys (one key the clients use is kept, another is
# replaced each time) and the HTTP addresses (one stays, the other moves
# between two ports; a stream is open on the one that goes first).  After
# each reload the new key and the new address work and the old ones do
# not.  No call fails, no stream is cut, no dealer registers again, and
# every reload is counted as a good one.
import json, os, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

RELOADS = 20
DELAY = 0.1                               # between two chunks of a stream
KEY = "k75-kept"                          # the clients' key, always there
KEYED = {"X-API-Key": KEY}
MAIN, MOVING = free_port(), [free_port(), free_port()]


def rotating_key(n):
    return "k75-rotating-%d" % n


def variant(n):
    """Two good files that differ in several sections; the second HTTP
    address and the second key change with each n."""
    # (max_failures 0: the old keys tried after each reload are wrong
    # keys, which would otherwise end with the address refused)
    common = {"auth": {"client_keys": [KEY, rotating_key(n)],
                       "max_failures": 0},
              "http": {"listen": ["127.0.0.1:%d" % MAIN,
                                  "127.0.0.1:%d" % MOVING[n % 2]],
                       "drain_timeout": "120s"}}
    if n % 2:
        conf = {"router": {"max_queue": 1000,
                           "request_timeout": duration(60),
                           "methods": {"RefService.*": {"max_queue": 900}}},
                "http": {"keepalive": "10s", "max_streams": 100},
                "jobs": {"keep": "10m"}}
    else:
        conf = {"router": {"max_queue": 2000,
                           "request_timeout": duration(70)},
                "http": {"keepalive": "15s", "max_streams": 200},
                "jobs": {"keep": "20m"}}
    for section, values in common.items():
        conf.setdefault(section, {}).update(values)
    return conf


gw = OpsGateway(variant(0))
gw.use_http(MAIN)                         # the address that stays
gw.config["http"]["listen"] = variant(0)["http"]["listen"]
gw.start()
gw.key_headers = KEYED
workers = [ThreadedDealer(gw.endpoint, max_concurrent=4).start()
           for _ in range(2)]
streamer = AsyncDealer(gw.endpoint, service_name="Streamer",
                       max_concurrent=20).start()
dealers = workers + [streamer]

stop = threading.Event()
lock = threading.Lock()
tally = {"zmq": 0, "http": 0}
failures = []


def fail(what):
    with lock:
        failures.append(what)


def zmq_loop(n):
    client = PyClient(gw.endpoint, api_key=KEY).connect()
    i = 0
    while not stop.is_set():
        i += 1
        try:
            got = client.invoke("RefService.echo", [n, i])
        except (RuntimeError, TimeoutError) as e:
            got = "error: %s" % e
        if got != [[n, i]]:
            fail("zmq client %d call %d: %r" % (n, i, got))
        with lock:
            tally["zmq"] += 1


def http_loop(n, keep_alive):
    conn = None
    i = 0
    while not stop.is_set():
        i += 1
        try:
            if keep_alive:
                conn = conn or gw.conn()
                r = conn.send("POST", "/invoke/RefService.echo",
                              json=[[n, i]], headers=KEYED).response()
            else:
                r = gw.post("/invoke/RefService.echo", json=[[n, i]],
                            headers=KEYED)
        except OSError as e:
            r = e
        if not (isinstance(r, Response) and r.status == 200
                and r.json() == [n, i]):
            fail("http client %d call %d: %r" % (n, i, r))
        with lock:
            tally["http"] += 1


# Streams long enough to outlast the reloads (4 s of chunks, 20 s under
# valgrind).
count = int(max(4.0, scaled(2.0)) / DELAY)
streams = {}                    # name -> {"conn", "items", "ended_at"}


def follow(name, conn):
    s = streams[name] = {"conn": conn, "items": [], "ended_at": None}

    def read():
        if conn.head(10) != 200:
            return
        s["items"] = sse_events(conn, timeout=count * DELAY + 30)
        s["ended_at"] = time.monotonic()
    t = threading.Thread(target=read, daemon=True)
    t.start()
    s["thread"] = t


STREAM = "/stream/Streamer.astream?args=" + quote_json([count, DELAY])
for i in range(3):
    follow("stream %d" % i, gw.open("GET", STREAM, headers=KEYED))
follow("stream on the address that moves",
       HttpConn(MOVING[0]).send("GET", STREAM, headers=KEYED))
r = gw.post("/jobs/Streamer.astream", json=[count, DELAY], headers=KEYED)
job = ((r and r.json()) or {}).get("id", "?")
follow("job events", gw.open("GET", "/jobs/%s/events" % job,
                             headers=KEYED))


def status_with_key(key):
    r = gw.get("/services", headers={"X-API-Key": key})
    return r and r.status


def health_on(port):
    """200 when port serves /healthz, "refused" when nothing listens."""
    try:
        c = HttpConn(port)
    except ConnectionRefusedError:
        return "refused"
    try:
        r = c.send("GET", "/healthz").response()
    except OSError as e:
        return repr(e)
    finally:
        c.close()
    return r and r.status


def swapped(n):
    """What does not hold after reload n: the new key and address work,
    the previous ones do not."""
    got = {"new key": status_with_key(rotating_key(n)),
           "old key": status_with_key(rotating_key(n - 1)),
           "new address": health_on(MOVING[n % 2]),
           "old address": health_on(MOVING[(n - 1) % 2])}
    want = {"new key": 200, "old key": 401, "new address": 200,
            "old address": "refused"}
    return ["reload %d: %s %r" % (n, k, got[k]) for k in want
            if got[k] != want[k]]

threads = [threading.Thread(target=zmq_loop, args=(n,), daemon=True)
           for n in range(3)]
threads += [threading.Thread(target=http_loop, args=(n, n == 0), daemon=True)
            for n in range(3)]
for t in threads:
    t.start()

good = 0
wrong = []
t0 = time.monotonic()
for n in range(1, RELOADS + 1):
    last = gw.reload(variant(n))
    good += bool(last and last.get("ok"))
    wrong += swapped(n)
    time.sleep(0.05)                    # calls in between
last_reload_at = time.monotonic()
note("%d reloads in %.1fs" % (RELOADS, last_reload_at - t0))
stop.set()
for t in threads:
    t.join(scaled(10))

is_(good, RELOADS, "%d SIGHUPs under load: %d good reloads" % (RELOADS, good))
g = gw.gateway()
is_([g.get("config_generation"), g.get("reload_failures")],
    [RELOADS + 1, 0], "config_generation %d, no failure" % (RELOADS + 1))
is_(wrong[:5], [], "after each reload the new key and the new address "
    "work, the old ones do not")
note("calls made: %r" % tally)
ok(tally["zmq"] >= RELOADS and tally["http"] >= RELOADS,
   "the clients kept calling all along")
is_(failures[:5], [], "no call failed")

for name, s in streams.items():
    s["thread"].join(count * DELAY + scaled(30))
    got = [json.loads(e["data"]) if e.get("event") == "chunk" else e["event"]
           for e in s["items"] if e.get("event")]
    is_(got, list(range(count)) + ["end"],
        "%s: every chunk, then end" % name)
    ok(s["ended_at"] is not None and s["ended_at"] > last_reload_at,
       "%s: it was open across all the reloads" % name)
is_([(d.service_id, registers(d), d.count_events("register_ack"),
      d.reconnects) for d in dealers],
    [(d.service_id, 1, 1, 0) for d in dealers],
    "no dealer registered again or reconnected")
is_(len(gw.status().get("dealers") or []), 3, "the three dealers are there")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
