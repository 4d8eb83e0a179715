#!/usr/bin/python3
# Abuse, all at once, on loopback, for 15 s (VR_TEST_LONG=1: 60 s):
# slowloris (200 HTTP connections sending their headers a byte at a time),
# oversized bodies, headers and request lines, 1,000 idle SSE streams
# (5,000 in the long tier; calls a dealer never answers), a flood of
# malformed ZeroMQ messages from 50 peers with binary identities (random
# frame counts and bytes, known commands with garbage), and 100 half-open
# TCP connections to the broker port (a partial ZMTP greeting, or
# nothing).  Throughout,
# /status.json, a ZeroMQ call and an HTTP call are made every 0.25 s:
# every one is answered, each within a scaled bound.  Oversized requests
# get 413/414/431 or a closed connection, never a crash.  Afterwards
# everything is released (the dealer is told to cancel the calls of the
# streams that hung up) and the gateway serves on and exits 0.
#
# The idle streams need file descriptors (two per stream: ours and the
# gateway's); with a low RLIMIT_NOFILE there are fewer, and the test says
# so.
import os, random, resource, signal, socket, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from ledger import write_report
import zmq

# Writing to a connection the gateway closed (it refuses an oversized
# request before reading all of it) is EPIPE here, not a signal.
signal.signal(signal.SIGPIPE, signal.SIG_IGN)

SEED = int(os.environ.get("VR_CHAOS_SEED") or time.time())
rnd = random.Random(SEED)
ABUSE = 60.0 if LONG else 15.0  # seconds of abuse, real
BOUND = 2.0                     # each probe's answer within (nominal)
SLOW, FLOOD_PEERS, HALF_OPEN = 200, 50, 100
SSE = {"Accept": "text/event-stream"}
note("seed %d" % SEED)

# File descriptors: raise the soft limit as far as allowed (the gateway
# inherits it), then size the idle streams to fit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
IDLE = 5000 if LONG else 1000   # idle SSE streams wanted
want = 2 * IDLE + 6192
if hard != resource.RLIM_INFINITY:
    want = min(hard, want)
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = want
spare = soft - (SLOW + HALF_OPEN + 3 * FLOOD_PEERS + 400)
STREAMS = max(0, min(IDLE, spare))
if STREAMS < IDLE:
    skip("RLIMIT_NOFILE %d: %d idle streams instead of %d"
         % (soft, STREAMS, IDLE))

gw = HttpGateway({
    "router": {"max_message": "64KiB", "request_timeout": duration(120),
               "max_capacity": STREAMS + 24},
    "http": {"access_log": "off", "max_body": "64KiB",
             "idle_timeout": duration(60)},
}).start()
# The probes' dealer.  Not the threaded kind: under load its ack check
# (three idle heartbeats without an ack within 100 ms) trips, and it goes
# silent for good holding a probe call, as the Python one would.
AsyncDealer(gw.endpoint).start()
zport = int(gw.endpoint.rsplit(":", 1)[1])
halt = threading.Event()


def code(r):
    return r and (r.status, (r.json() or {}).get("code"))


# -- the probes: what must keep answering --
probes = []                     # (what, seconds or None, detail)


def probe_loop():
    c = RawPeer(gw.endpoint, identity="client-66-probe")
    n = 0
    while not halt.is_set():
        n += 1
        t0 = time.monotonic()
        try:
            r = gw.get("/status.json", timeout=BOUND * 2)
            good = r is not None and r.status == 200 and \
                isinstance(r.json(), dict)
        except OSError as e:
            good, r = False, e
        probes.append(("status.json", time.monotonic() - t0 if good
                       else None, None if good else repr(r)))
        t0 = time.monotonic()
        rid = c.call("RefService.echo", n)
        msg = c.recv(BOUND * 2)
        good = msg is not None and loads(msg[-1]).get("request_id") == rid \
            and loads(msg[-1]).get("result") == n
        probes.append(("zmq call", time.monotonic() - t0 if good else None,
                       None if good else msg))
        t0 = time.monotonic()
        try:
            r = gw.post("/invoke/RefService.echo", json=[n],
                        timeout=BOUND * 2)
            good = r is not None and r.status == 200 and r.json() == n
        except OSError as e:
            good, r = False, e
        probes.append(("http call", time.monotonic() - t0 if good else None,
                       None if good else repr(r)))
        halt.wait(0.25)


# -- slowloris --
def slowloris():
    socks = []
    for i in range(SLOW):
        s = socket.create_connection(("127.0.0.1", gw.http_port))
        socks.append(s)
    at_cleanup(lambda: [s.close() for s in socks])
    text = b"POST /invoke/RefService.echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + \
        b"a" * 100000
    i = 0
    while not halt.is_set() and i < len(text):
        for s in socks:
            try:
                s.send(text[i:i + 1])
            except OSError:
                pass
        i += 1
        halt.wait(0.05)
    slow_state["bytes"] = i
    for s in socks:
        s.close()


slow_state = {}


# -- half-open TCP connections to the broker port --
def half_open():
    socks = []
    for i in range(HALF_OPEN):
        s = socket.create_connection(("127.0.0.1", zport))
        if i % 2 == 0:
            # The first 10 of the 64 bytes of a ZMTP 3 greeting.
            s.send(b"\xff" + b"\x00" * 8 + b"\x7f")
        socks.append(s)
    half_state["open"] = len(socks)
    halt.wait()
    for s in socks:
        s.close()


half_state = {}


# -- malformed ZeroMQ messages --
COMMANDS = [b"call_from_client", b"register", b"heartbeat",
            b"reply_from_dealer", b"auth", b"router_info", b"methods",
            b"clusters", b"queue_status", b"shutdown", b"router_monitor",
            b"nonsense", b""]
GARBAGE = [b"", b"{", b"null", b"[]", b"[1,2]", b"\"x\"", b"{\"type\": 5}",
           b"{\"methods\": 5}", b"{\"methods\": {\"x\": 1}}",
           b"{\"request_id\": [], \"args\": {}}", b"\xff\xfe\x00",
           b"{\"api_key\": 7}", b"{\"group\": \"\"}"]


def malformed(r):
    """One malformed message: random frames, or a known command with
    garbage; now and then with a frame over router.max_message."""
    n = r.randint(1, 6)
    if r.random() < 0.5:
        frames = [bytes(r.getrandbits(8) for _ in range(r.randint(0, 64)))
                  for _ in range(n)]
    else:
        frames = [r.choice(COMMANDS)] + [
            r.choice(GARBAGE) if r.random() < 0.7 else
            b"client-66-probe" for _ in range(n - 1)]
    if r.random() < 0.02:
        frames.append(b"x" * (70 << 10))
    return frames


def flood(i):
    r = random.Random("%d-%d" % (SEED, i))
    ident = bytes([r.randint(1, 255)]) + \
        bytes(r.getrandbits(8) for _ in range(r.randint(0, 30)))
    # Made up front and sent in turn: making them as they go would cost
    # this process more CPU than the gateway spends on them, and starve
    # the probes and the gateway under a parallel make check.
    pool = [malformed(r) for _ in range(200)]
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.IDENTITY, ident)
    s.setsockopt(zmq.SNDHWM, 100)
    s.connect(gw.endpoint)
    sent = 0
    try:
        while not halt.is_set():
            try:
                s.send_multipart(pool[sent % len(pool)], zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                pass
            while s.poll(0):
                s.recv_multipart()
            if sent % 10 == 0:
                # At most 200 messages a second from each peer, 10,000 in
                # all: a flood that leaves the gateway, the probes and the
                # other tests of a parallel run their CPU.
                time.sleep(0.05)
    finally:
        flood_sent.append(sent)
        s.close(linger=0)


flood_sent = []


# -- oversized requests --
def oversized():
    """Each kind once per round; (kind, outcome) where outcome is the
    status or "closed"."""
    kinds = {
        "body announced": dict(content_length=100 << 20),
        "512 KiB body chunked": 512,
        "2 MiB body chunked": 2048,
        "one 64 KiB header": dict(headers={"X-Big": "b" * (64 << 10)}),
        "2000 headers": dict(headers={"X-H%d" % j: "v" for j in range(2000)}),
        "100 KiB path": dict(path="/invoke/RefService.echo?" + "q" * 100000),
    }
    while not halt.is_set():
        for kind, kw in kinds.items():
            got = "closed"
            try:
                if isinstance(kw, int):
                    c = gw.conn()
                    c.sock.sendall(b"POST /invoke/RefService.echo HTTP/1.1\r\n"
                                   b"Host: x\r\nContent-Type: application/json"
                                   b"\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
                    for _ in range(kw // 64):
                        c.sock.sendall(chunk)
                    c.sock.sendall(b"0\r\n\r\n")
                else:
                    kw = dict(kw)
                    path = kw.pop("path", "/invoke/RefService.echo")
                    c = gw.open("POST", path, json=[1], **kw)
                r = c.response(timeout=BOUND * 2)
                c.close()
                got = r.status if r is not None else "closed"
            except OSError:
                pass
            big.append((kind, got))
        halt.wait(0.5)


big = []

# -- idle SSE streams: a dealer that takes them and never answers --
idle = RawPeer(gw.endpoint, identity="Idle-00000066")
idle.register(group="Idle", methods=("stream",), max_concurrent=STREAMS + 24,
              capabilities=["cancel"])
idle.recv()
idle_calls, idle_cancels = [], []
idle_halt = threading.Event()


def idle_reader():
    beat = 0.0
    while not idle_halt.is_set():
        if time.monotonic() - beat > 1.0:
            # Heard from while it holds calls (router.busy_timeout).
            idle.heartbeat(processing_requests=len(idle_calls))
            beat = time.monotonic()
        msg = idle.recv(0.2, ignore=("heartbeat_ack",))
        if msg and msg[0] == b"call_from_router":
            idle_calls.append(Call(msg))
        elif msg and msg[0] == b"cancel_from_router":
            idle_cancels.append(msg)


idle_thread = threading.Thread(target=idle_reader, daemon=True)
idle_thread.start()

threads = [threading.Thread(target=probe_loop, daemon=True)]
t_start = time.monotonic()
threads[0].start()
sleep(0.5)
work = [threading.Thread(target=f, daemon=True)
        for f in (slowloris, half_open, oversized)] + \
    [threading.Thread(target=flood, args=(i,), daemon=True)
     for i in range(FLOOD_PEERS)]
for t in work:
    t.start()
streams = []
for i in range(STREAMS):
    streams.append(gw.open("POST", "/invoke/Idle.stream", json=[i],
                           headers=SSE))
heads = [c.head(BOUND * 2) for c in streams]
is_(heads.count(200), STREAMS,
    "%d idle SSE streams are open (200 each)" % STREAMS)
ok(wait_until(lambda: len(idle_calls) >= STREAMS, 10),
   "and their calls are held by the dealer (%d)" % len(idle_calls))
while time.monotonic() - t_start < ABUSE:
    time.sleep(0.1)
    if not gw.proc.running():
        break
ok(gw.proc.running(), "the gateway ran through %.0f s of abuse" % ABUSE)
info = gw.info()
cmp_ok(info.get("requests_in_process"), ">=", STREAMS,
       "the idle streams' calls are still in flight")
halt.set()
for t in threads + work:
    t.join(scaled(10))
ok(not any(t.is_alive() for t in threads + work), "the abusers stopped")

# What the probes saw.
bad = [p for p in probes if p[1] is None]
is_(bad[:5], [], "every probe was answered (%d probes)" % len(probes))
by = {}
for what, t, _ in probes:
    if t is not None:
        by[what] = max(by.get(what, 0), t)
for what in ("status.json", "zmq call", "http call"):
    cmp_ok(by.get(what), "<", scaled(BOUND),
           "%s kept answering, the slowest in %.3f s"
           % (what, by.get(what) or -1))
cmp_ok(slow_state.get("bytes", 0), ">", 10,
       "the slowloris connections sent their headers a byte at a time "
       "(%d bytes each)" % slow_state.get("bytes", 0))
is_(half_state.get("open"), HALF_OPEN, "%d half-open connections to the "
    "broker port were held" % HALF_OPEN)
cmp_ok(sum(flood_sent), ">", 1000, "the flood sent %d malformed messages"
       % sum(flood_sent))
cmp_ok(info.get("dropped_messages", 0), ">", 0,
       "the gateway dropped and counted them (%d)"
       % info.get("dropped_messages", 0))
outcomes = {}
for kind, got in big:
    outcomes.setdefault(kind, set()).add(got)
note("oversized: %s" % {k: sorted(map(str, v)) for k, v in outcomes.items()})
ok(len(big) >= 5 and all(g in (413, 414, 431, "closed") for _, g in big),
   "oversized requests got 413, 414, 431 or a closed connection (%d)"
   % len(big))
is_(outcomes.get("body announced"), {413}, "an announced 100 MiB body: 413")
is_(outcomes.get("512 KiB body chunked"), {413},
    "a chunked body over http.max_body is read, thrown away and 413")
is_(outcomes.get("2 MiB body chunked"), {"closed"},
    "past 1 MiB of it the connection is closed")
ok(outcomes.get("one 64 KiB header") and
   outcomes["one 64 KiB header"] <= {431, "closed"},
   "a 64 KiB header: 431 or closed")

write_report("66abuse", {
    "tier": "long" if LONG else "short", "seed": SEED, "scale": SCALE,
    "abuse_seconds": ABUSE, "probes": len(probes), "probes_failed": len(bad),
    "slowest": {k: round(v, 3) for k, v in by.items()},
    "slowloris": SLOW, "slowloris_bytes_each": slow_state.get("bytes"),
    "idle_streams": STREAMS, "half_open": HALF_OPEN,
    "flood_peers": FLOOD_PEERS, "flood_messages": sum(flood_sent),
    "dropped_messages": info.get("dropped_messages"),
    "oversized": len(big),
    "oversized_outcomes": {k: sorted(map(str, v))
                           for k, v in outcomes.items()}})

# Released: everything is answered again, the streams end.
for c in streams:
    c.abort()
ok(wait_until(lambda: len(idle_cancels) >= STREAMS, 10),
   "when their clients hang up, the dealer is told to cancel each of the "
   "idle streams' calls (%d)" % len(idle_cancels))
idle_halt.set()
idle_thread.join(scaled(5))
for call in idle_calls:
    idle.reply(call.cid, {"type": "end", "request_id": call.request_id})
ok(wait_until(lambda: gw.info().get("requests_in_process") == 0, 10),
   "once it ends them, nothing is left in flight")
c = RawPeer(gw.endpoint, identity="client-66-after")
rid = c.call("RefService.echo", "after")
is_(c.recv_json(3), ("reply_from_router", {"type": "reply", "request_id": rid,
                                           "result": "after"}),
    "afterwards a ZeroMQ call is answered")
r = gw.get("/status.json")
is_(r and r.status, 200, "and /status.json")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
