#!/usr/bin/python3
# What a reload changes in the http section, each seen in behaviour from
# the next request on (http.listen and drain_timeout are
# t/74reload_addresses.t's, the certificate files t/54https.t's):
# http.max_body (413 for a body that passed before), http.max_header
# (431), http.max_streams (503 too_many_streams), http.stream_buffer (a
# reader that falls behind by less than before is cut off), http.keepalive
# and http.retry (a new SSE stream gets the new retry: hint and keep-alive
# comments), http.cors_origins (Access-Control-Allow-Origin for an added
# origin), http.access_log (new lines go to the new file, none with
# "off"), http.admin_listen (/status.json moves to the admin address) and
# http.tls.listen (an HTTPS address opens).
import os, shutil, socket, ssl, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()
SSE = {"Accept": "text/event-stream"}
LOG_A, LOG_B = os.path.join(D, "a.log"), os.path.join(D, "b.log")
conf = {"http": {"access_log": LOG_A, "keepalive": "30s", "retry": "3s",
                 "stream_buffer": "8MiB"},
        "router": {"heartbeat_timeout": duration(30)}}
gw = OpsGateway(conf).start()
MAIN = gw.http_port
ThreadedDealer(gw.endpoint).start()
wire = RawPeer(gw.endpoint, identity="Wire-00073200")
wire.register(group="Wire", methods=("work",), max_concurrent=20)
wire.recv()


def reload(**http):
    conf["http"].update(http)
    last = gw.reload(conf)
    return bool(last and last.get("ok"))


def code(r):
    return r and (r.status, (r.json() or {}).get("code")
                  if r.status >= 400 else None)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def end(call):
    wire.reply(call.cid, {"type": "end", "request_id": call.request_id})


# -- http.max_body --
r = gw.post("/invoke/RefService.echo", json="x" * 8000)
is_(r and r.status, 200, "max_body 16MiB: an 8 KB body is served")
ok(reload(max_body="4KiB"), "reload: http.max_body 4KiB")
r = gw.post("/invoke/RefService.echo", json="x" * 8000)
is_(code(r), (413, "payload_too_large"), "now the 8 KB body is 413")
r = gw.post("/invoke/RefService.echo", json="x" * 3000)
is_(r and r.status, 200, "a 3 KB one is served")

# -- http.max_header --
r = gw.get("/healthz", headers={"X-Filler": "a" * 3000})
is_(r and r.status, 200, "max_header 4KiB: 3 KB of headers are fine")
ok(reload(max_header="2KiB"), "reload: http.max_header 2KiB")
r = gw.get("/healthz", headers={"X-Filler": "a" * 3000})
is_(r and r.status, 431, "now they are 431")
r = gw.get("/healthz", headers={"X-Filler": "a" * 1000})
is_(r and r.status, 200, "1 KB of headers are fine")

# -- http.max_streams --
ok(reload(max_streams=1), "reload: http.max_streams 1")
s = gw.open("POST", "/invoke/Wire.work", json=["one"], headers=SSE)
is_(s.head(), 200, "one stream opens")
held = wire.expect_call(3)
r = gw.post("/invoke/Wire.work", json=["two"], headers=SSE)
is_(code(r), (503, "too_many_streams"), "a second is 503 too_many_streams")
ok(reload(max_streams=2), "reload: http.max_streams 2")
s2 = gw.open("POST", "/invoke/Wire.work", json=["two"], headers=SSE)
is_(s2.head(), 200, "now a second one opens")
held2 = wire.expect_call(3)
ok(held and held2, "both calls reach the dealer")
for c in (held, held2):
    if c:
        end(c)
is_([[e.get("event") for e in sse_events(x) if e.get("event")]
     for x in (s, s2)], [["end"], ["end"]], "and both streams end")

# -- http.keepalive and http.retry --
def silent_stream():
    """retry: and the comments of a new stream whose dealer says nothing
    for a second."""
    s = gw.open("POST", "/invoke/Wire.work", json=["quiet"], headers=SSE)
    call = wire.expect_call(3)
    items = sse_events(s, comments=True, until=(), timeout=1.0) \
        if s.head() == 200 else []
    if call:
        end(call)
    sse_events(s)
    s.close()
    return ([e.get("retry") for e in items if e.get("retry")],
            sorted(set(e["comment"] for e in items if "comment" in e)))


is_(silent_stream(), ([3000], []), "keepalive 30s, retry 3s: retry: 3000 "
    "and no keep-alive comment within a second")
ok(reload(keepalive="200ms", retry="1500ms"),
   "reload: http.keepalive 200ms, http.retry 1500ms")
is_(silent_stream(), ([1500], ["keep-alive"]), "a new stream: retry: 1500 "
    "and keep-alive comments")

# -- http.stream_buffer --
def kernel_sndbuf_max():
    """The most a TCP socket's send buffer grows to by itself (tcp_wmem):
    what the kernel may take off the gateway's hands for a reader that
    does not read."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


# More than the kernel can hold, and less than 8 MiB.
FLOOD = min(kernel_sndbuf_max() + (1 << 20), 7 << 20)


def lazy_stream(size=32768):
    """A stream whose reader reads only after FLOOD bytes of chunks of size
    bytes were sent: (chunks it got, it got the end), or what went wrong
    before the flood."""
    count = FLOOD // size
    lazy = gw.open("POST", "/invoke/Wire.work", json=["flood"], headers=SSE,
                   rcvbuf=4096)
    call = wire.expect_call(3)
    status = lazy.head()
    if not (call and status == 200):
        return ("dealer got the call", bool(call), "status", status)
    big = "b" * size
    for i in range(count):
        wire.reply(call.cid, {"type": "streaming",
                              "request_id": call.request_id, "data": big})
    end(call)
    time.sleep(scaled(0.5))
    items = sse_events(lazy, timeout=10)
    lazy.close()
    return (sum(1 for e in items if e.get("event") == "chunk"),
            any(e.get("event") == "end" for e in items))


is_(lazy_stream(), (FLOOD // 32768, True), "stream_buffer 8MiB: a reader "
    "%d KiB behind gets every chunk and the end" % (FLOOD >> 10))
ok(reload(stream_buffer="64KiB"), "reload: http.stream_buffer 64KiB")
got = lazy_stream()
ok(len(got) == 2 and got[0] < FLOOD // 32768 and not got[1],
   "now the same reader is cut off (%r)" % (got,))
ok(wait_until(lambda: gw.get("/healthz").status == 200),
   "the gateway goes on serving")

# -- http.cors_origins --
A = {"Origin": "http://a.example"}
r = gw.post("/invoke/RefService.echo", json=["cors"], headers=A)
is_(r and (r.status, r.header("Access-Control-Allow-Origin")), (200, None),
    "cors_origins []: no Access-Control-Allow-Origin")
ok(reload(cors_origins=["http://a.example"]),
   "reload: http.cors_origins [http://a.example]")
r = gw.post("/invoke/RefService.echo", json=["cors"], headers=A)
is_(r and (r.status, r.header("Access-Control-Allow-Origin")),
    (200, "http://a.example"), "now it has Access-Control-Allow-Origin")
r = gw.request("OPTIONS", "/invoke/RefService.echo", headers=dict(
    A, **{"Access-Control-Request-Method": "POST"}))
is_(r and (r.status, r.header("Access-Control-Allow-Origin")),
    (204, "http://a.example"), "and a preflight is allowed")
r = gw.post("/invoke/RefService.echo", json=["cors"],
            headers={"Origin": "http://b.example"})
is_(r and r.header("Access-Control-Allow-Origin"), None,
    "another origin is not")

# -- http.access_log --
gw.get("/healthz", headers={"X-Request-Id": "mark-a1"})
ok(wait_until(lambda: "mark-a1" in read(LOG_A)), "access_log a.log: "
   "a request is logged there")
ok(reload(access_log=LOG_B), "reload: http.access_log b.log")
gw.get("/healthz", headers={"X-Request-Id": "mark-b1"})
ok(wait_until(lambda: "mark-b1" in read(LOG_B)), "now the next request "
   "is logged in b.log")
ok("mark-b1" not in read(LOG_A), "and not in a.log")
ok(reload(access_log="off"), "reload: http.access_log off")
gw.get("/healthz", headers={"X-Request-Id": "mark-c1"})
time.sleep(scaled(0.5))
ok("mark-c1" not in read(LOG_A) + read(LOG_B) + gw.log_text(),
   "now no request is logged anywhere")

# -- http.admin_listen --
r = gw.get("/status.json")
is_(r and r.status, 200, "admin_listen []: /status.json on the listener")
ADMIN = free_port()
conf["http"].update(listen="127.0.0.1:%d" % MAIN,
                    admin_listen="127.0.0.1:%d" % ADMIN)
last = gw.reload(conf, http_port=ADMIN)
ok(last and last.get("ok"), "reload: http.admin_listen on a new port")
is_([gw.get(p).status for p in ("/status.json", "/metrics")], [200, 200],
    "the admin address serves /status.json and /metrics")
gw.use_http(MAIN)
is_([gw.get(p).status for p in ("/status.json", "/metrics")], [404, 404],
    "the listener no longer does")
r = gw.post("/invoke/RefService.echo", json=["still"])
is_(r and (r.status, r.json()), (200, "still"), "it serves calls")
gw.use_http(ADMIN)

# -- http.tls.listen --
if shutil.which("openssl") is None:
    skip("no openssl: http.tls.listen is not tried")
else:
    cert, key = os.path.join(D, "cert.pem"), os.path.join(D, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=vr-73",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    TLS = free_port()
    conf["http"]["tls"] = {"listen": "127.0.0.1:%d" % TLS, "cert": cert,
                           "key": key}
    last = gw.reload(conf)
    ok(last and last.get("ok"), "reload: http.tls.listen with a certificate")
    ctx = ssl.create_default_context(cafile=cert)

    def https_health():
        with socket.create_connection(("127.0.0.1", TLS),
                                      timeout=scaled(5)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    part = s.recv(4096)
                    if not part:
                        return data
                    data += part
    try:
        answer = https_health()
    except (OSError, ssl.SSLError) as e:
        answer = repr(e).encode()
    like(answer.decode("latin-1"), r"^HTTP/1\.1 200 ",
         "the HTTPS address answers GET /healthz")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
