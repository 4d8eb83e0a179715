#!/usr/bin/python3
# HTTPS (http.tls) and the admin listener (http.admin_listen).  With a test
# CA made here by openssl: curl --cacert calls a method and streams SSE
# over HTTPS, beside plain HTTP; a client that does not trust the CA is
# refused, and plain HTTP on the HTTPS port gets no HTTP answer.  With
# admin_listen set, /status.json, /metrics and /status are served there
# alone (404 elsewhere).  A reload with new certificate files serves the
# new certificate to new connections while a connection opened before
# goes on; a reload with a key that is not the certificate's is refused
# (the running certificate stays), and `voidrail -t` names the key and the
# file.  The private key never shows in the log.
import http.client, json, os, re, shutil, socket, ssl, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

if shutil.which("openssl") is None or shutil.which("curl") is None:
    skip_all("openssl and curl are needed (apt-get install openssl curl)")

D = tempdir()
CA = TestCA(D)
path = CA.path
make_cert = CA.issue
make_cert("one", "vr-one")
make_cert("two", "vr-two")
CERT, KEY = path("server.pem"), path("server.key")


def install(name):
    """Puts certificate `name` where the gateway reads it (by rename)."""
    for src, dst in ((name + ".pem", CERT), (name + ".key", KEY)):
        shutil.copy(path(src), dst + ".new")
        os.rename(dst + ".new", dst)


install("one")
TLS_PORT, ADMIN_PORT = free_port(), free_port()


def config(listen=None):
    """The file; listen: the plain HTTP port (the test's gateway sets it at
    first, every reload must keep it)."""
    return {"http": {"listen": "127.0.0.1:%d" % (listen or PLAIN_PORT),
                     "tls": {"listen": "127.0.0.1:%d" % TLS_PORT,
                             "cert": CERT, "key": KEY},
                     "admin_listen": "127.0.0.1:%d" % ADMIN_PORT,
                     "access_log": "off"},
            "log": {"level": "info"}}


PLAIN_PORT = None
gw = OpsGateway(config(listen=1)).start()
PLAIN_PORT = gw.http_port
gw.use_http(ADMIN_PORT)         # the reloads' checks read /metrics there
AsyncDealer(gw.endpoint, max_concurrent=4).start()
ok(wait_until(lambda: "RefService.echo" in (gw.methods() or {})),
   "a dealer registered")
HTTPS = "https://127.0.0.1:%d" % TLS_PORT


def curl(*args):
    p = subprocess.run(["curl", "-s", "--max-time", str(scaled(10))]
                       + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def served_cn():
    """The CN of the certificate a new HTTPS connection gets (verified)."""
    ctx = CA.context()
    with socket.create_connection(("127.0.0.1", TLS_PORT),
                                  timeout=scaled(5)) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            subject = dict(x[0] for x in t.getpeercert()["subject"])
            return subject.get("commonName")


# -- HTTPS beside HTTP --
rc, out = curl("--cacert", path("ca.pem"), "-X", "POST",
               "-H", "Content-Type: application/json", "-d", '["over tls"]',
               HTTPS + "/invoke/RefService.echo")
is_((rc, out), (0, '"over tls"'), "curl --cacert: a call over HTTPS")
rc, out = curl("--cacert", path("ca.pem"), "-N", HTTPS + "/stream/"
               "RefService.astream?args=" + quote_json([3, 0.05]))
is_([json.loads(line[6:]) for e in out.split("\n\n") if "event: chunk" in e
     for line in e.split("\n") if line.startswith("data: ")], [0, 1, 2],
    "and an SSE stream over HTTPS, chunk by chunk")
is_(served_cn(), "vr-one", "the HTTPS listener serves the configured "
    "certificate")
rc, out = curl(HTTPS + "/healthz")
is_(rc, 60, "a client that does not trust the CA is refused (curl exit 60)")
r = HttpConn(TLS_PORT).send("GET", "/healthz").response(2)
ok(r is None or r.status >= 400, "plain HTTP on the HTTPS port gets no "
   "HTTP answer (%r)" % (r and r.status))
r = HttpConn(PLAIN_PORT).send("POST", "/invoke/RefService.echo",
                             json=["plain"]).response()
is_(r and (r.status, r.json()), (200, "plain"), "plain HTTP goes on beside")

# -- the admin listener --
for route in ("/status.json", "/metrics", "/status"):
    r = HttpConn(PLAIN_PORT).send("GET", route).response()
    is_(r and r.status, 404, "%s is 404 on the plain listener" % route)
    rc, out = curl("--cacert", path("ca.pem"), "-o", "/dev/null", "-w",
                   "%{http_code}", HTTPS + route)
    is_(out, "404", "%s is 404 on the HTTPS listener" % route)
    r = HttpConn(ADMIN_PORT).send("GET", route).response()
    is_(r and r.status, 200, "%s is served on http.admin_listen" % route)
status = HttpConn(ADMIN_PORT).send("GET", "/status.json").response().json()
is_([status["gateway"].get(k) for k in ("http_listen", "https_listen",
                                         "admin_listen")],
    [["127.0.0.1:%d" % p] for p in (PLAIN_PORT, TLS_PORT, ADMIN_PORT)],
    "/status.json lists the three kinds of listeners")

# -- a new certificate by reload --
ctx = CA.context()
before = http.client.HTTPSConnection("127.0.0.1", TLS_PORT, context=ctx,
                                     timeout=scaled(5))
before.request("GET", "/healthz")
is_(before.getresponse().read() and True, True,
    "a keep-alive HTTPS connection is open")
install("two")
is_((gw.reload(config()) or {}).get("ok"), True,
    "reload with new certificate files")
is_(served_cn(), "vr-two", "new connections get the new certificate")
before.request("GET", "/healthz")
resp = before.getresponse()
is_((resp.status, resp.getheader("Connection", "keep-alive") != "close"),
    (200, True), "the connection opened before goes on")
before.close()
rc, out = curl("--cacert", path("ca.pem"), "-X", "POST", "-H",
               "Content-Type: application/json", "-d", "[2]",
               HTTPS + "/invoke/RefService.echo")
is_((rc, out), (0, "2"), "and calls go on over HTTPS")

# -- a bad pair is refused, the running certificate stays --
shutil.copy(path("two.pem"), CERT + ".new")
os.rename(CERT + ".new", CERT)
shutil.copy(path("one.key"), KEY + ".new")
os.rename(KEY + ".new", KEY)
last = gw.reload(config()) or {}
is_(last.get("ok"), False, "a reload with a key that is not the "
    "certificate's is refused")
like(last.get("error") or "", r"http\.tls\.key.*does not belong",
     "naming http.tls.key")
is_(served_cn(), "vr-two", "the running certificate is still served")
rc, out, err = run_voidrail(["-t", "-c", gw.config_path])
is_(rc, 1, "voidrail -t refuses the file too")
like(err, re.escape(gw.config_path) + r":\d+:\d+: \"http\.tls\.key\"",
     "with FILE:LINE:COL and the key")
bad = dict(config())
bad["http"] = dict(bad["http"], tls=dict(bad["http"]["tls"],
                                         cert=path("missing.pem")))
gw2_conf = os.path.join(D, "missing.yaml")
with open(gw2_conf, "w") as f:
    f.write(to_yaml(gw.full_config(bad)) + "\n")
rc, out, err = run_voidrail(["-t", "-c", gw2_conf])
is_(rc, 1, "a missing certificate file fails -t")
like(err, r"\"http\.tls\.cert\" cannot read .*missing\.pem",
     "naming the key and the file")

text = gw.log_text()
with open(path("one.key")) as f:
    secret_lines = [l for l in f.read().splitlines()
                    if l and not l.startswith("-----")]
is_([l for l in secret_lines if l in text], [],
    "no line of a private key is in the log")
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
