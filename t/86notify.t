#!/usr/bin/python3
# The service manager's notifications (sd_notify(3), Type=notify): with
# NOTIFY_SOCKET set, the gateway sends one datagram per change of state to
# that AF_UNIX socket: READY=1 once it serves, RELOADING=1 (with
# MONOTONIC_USEC=) when a SIGHUP starts a reload and READY=1 when it is done,
# refused or not, STOPPING=1 when SIGTERM starts the drain or SIGINT stops it
# at once.  A name beginning with "@" is in the abstract namespace.  A
# socket that is not there costs a warning and nothing else.
import os, re, signal, socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrops import *

D = tempdir()


def listener(name):
    """A datagram socket bound to name (a path, or "@..." abstract)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name[1:] if name.startswith("@") else name)
    at_cleanup(s.close)
    return s


def messages(sock, count, timeout=5.0):
    """The next count datagrams (fewer when they do not come in time)."""
    got = []
    deadline = time.monotonic() + scaled(timeout)
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            got.append(sock.recv(4096).decode("utf-8", "replace"))
        except socket.timeout:
            break
    return got


def nothing_more(sock, wait=0.3):
    return messages(sock, 1, wait) == []


def reloading(msg):
    """True when msg is RELOADING=1 with a plausible MONOTONIC_USEC."""
    lines = msg.split("\n")
    if lines[0] != "RELOADING=1" or len(lines) != 2 or \
            not lines[1].startswith("MONOTONIC_USEC="):
        return False
    usec = int(lines[1][len("MONOTONIC_USEC="):])
    return abs(usec / 1e6 - time.monotonic()) < scaled(5)


# -- a socket path: start, reload, a refused reload, SIGTERM --
path = os.path.join(D, "notify.sock")
sock = listener(path)
gw = OpsGateway({}, env={"NOTIFY_SOCKET": path}).start()
is_(messages(sock, 1), ["READY=1"], "started: READY=1")
ok(nothing_more(sock), "and nothing else")

last = gw.reload({"router": {"max_queue": 7}})
ok(last and last.get("ok"), "a good reload")
got = messages(sock, 2)
ok(len(got) == 2 and reloading(got[0]),
   "it begins with RELOADING=1 and MONOTONIC_USEC= (%r)" % got[:1])
is_(got[1:], ["READY=1"], "and ends with READY=1")

last = gw.reload(text="router: [unclosed\n")
ok(last and last.get("ok") is False, "a refused reload")
got = messages(sock, 2)
ok(len(got) == 2 and reloading(got[0]), "RELOADING=1 again")
is_(got[1:], ["READY=1"], "then READY=1: the old configuration serves")
r = gw.get("/healthz")
is_(r and r.status, 200, "and it does")

gw.signal(signal.SIGTERM)
is_(messages(sock, 1), ["STOPPING=1"], "SIGTERM: STOPPING=1")
is_(gw.proc.wait(scaled(10)), 0, "the gateway exits 0")
ok(nothing_more(sock), "nothing after STOPPING=1")

# -- the abstract namespace, SIGINT --
name = "@voidrail-test-86-%d-%d" % (os.getpid(), free_port())
sock = listener(name)
gw = OpsGateway({}, env={"NOTIFY_SOCKET": name}).start()
is_(messages(sock, 1), ["READY=1"], "an abstract socket: READY=1")
gw.signal(signal.SIGINT)
is_(messages(sock, 1), ["STOPPING=1"], "SIGINT: STOPPING=1")
is_(gw.proc.wait(scaled(10)), 0, "the gateway exits 0")

# -- a socket that is not there --
gone = os.path.join(D, "nobody.sock")
gw = OpsGateway({}, env={"NOTIFY_SOCKET": gone}).start()
r = gw.get("/healthz")
is_(r and r.status, 200, "NOTIFY_SOCKET naming no socket: the gateway serves")
like(gw.log_text(), r"warn NOTIFY_SOCKET %s: READY=1 not sent: " %
     re.escape(gone), "and warns that READY=1 was not sent")
is_(gw.stop(), 0, "it exits 0")
done_testing()
