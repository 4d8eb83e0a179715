#!/usr/bin/python3
# `voidrail dealer --exec`: any program as a worker over JSON Lines.  The
# documented ten-line Python worker (examples/upper.py) and the sh worker
# (examples/echo.sh) serve; a test program streams, fails, answers out of
# order (matched by id), takes cancel lines, and dies in the middle of a
# request (the request ends with an error, the program is started again);
# a bad method list stops the command; --instances runs N programs.
import json, os, signal, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

SRC = os.environ.get("VR_SRCDIR") or os.path.dirname(T_DIR)
EXAMPLES = os.path.join(SRC, "examples")
PY = "/usr/bin/python3"

WORKER = r'''
import json, os, sys, threading, time
lock = threading.Lock()
def send(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
send({"methods": {"count": {"stream": True, "description": "counts"},
                  "fail": {}, "die": {}, "slow": {}, "pid": {}, "hold": {},
                  "kw": {"params": {"x": "anything"}}}, "cancel": True})
print("a line that is not JSON", flush=True)
held = []
for line in sys.stdin:
    req = json.loads(line)
    if req.get("cancel"):
        with open(os.environ["MARKER"], "a") as f:
            f.write("cancel %d\n" % req["id"])
        continue
    m, a, rid = req["method"], req["args"], req["id"]
    if m == "count":
        for i in range(a[0]):
            send({"id": rid, "chunk": {"i": i}})
        send({"id": rid, "end": True})
    elif m == "fail":
        send({"id": rid, "error": a[0]})
    elif m == "die":
        sys.exit(3)
    elif m == "slow":
        def later(r=rid, s=a[0]):
            time.sleep(s)
            send({"id": r, "result": "slept"})
        threading.Thread(target=later, daemon=True).start()
    elif m == "pid":
        send({"id": rid, "result": os.getpid()})
    elif m == "kw":
        send({"id": rid, "result": req["kwargs"]})
    elif m == "hold":
        held.append(req)
        if len(held) == 2:
            for r in reversed(held):
                send({"id": r["id"], "result": r["args"][0]})
            del held[:]
'''


def dealer(*args, env=None, name="exec"):
    return Proc(wrapper() + [voidrail_bin(), "dealer"] + [str(a) for a in args],
                name=name, env=env)


def reply_of(raw, timeout=5.0):
    frames = raw.recv(timeout)
    if frames is None or frames[0] != b"reply_from_router":
        return frames
    return loads(frames[-1])


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


worker = os.path.join(tempdir(), "worker.py")
with open(worker, "w") as f:
    f.write(WORKER)
marker = os.path.join(tempdir(), "marker")
gw = Gateway({"router": {"methods": {"Work.slow": {"timeout": "500ms"}}}}
             ).start()
ep = gw.endpoint
cl = PyClient(ep).connect()

# -- the documented workers --
up = dealer("--endpoint", ep, "--exec",
            "%s %s" % (PY, os.path.join(EXAMPLES, "upper.py")), "--service",
            "Text", name="upper")
ok(wait_until(lambda: "Text.upper" in gw.methods(), 10),
   "the ten-line Python worker serves Text.upper")
is_(gw.methods()["Text.upper"], {"description": "upper-cases a text",
                                 "params": {"text": "a string"},
                                 "stream": False, "metadata": {}},
    "its method list becomes the metadata")
is_(cl.invoke("Text.upper", "hello"), ["HELLO"], "a positional argument")
is_(cl.invoke("Text.upper", text="kw"), ["KW"], "a keyword argument")
rc, out, err = run_voidrail(["client", "--endpoint", ep, "-c", "Text.upper",
                             "-a", "shout"])
is_((rc, out), (0, '"SHOUT"\n'), "the CLI client calls it")

sh = dealer("--endpoint", ep, "--exec", "sh " + os.path.join(EXAMPLES,
                                                              "echo.sh"),
            "--service", "Sh", name="sh")
ok(wait_until(lambda: "Sh.echo" in gw.methods(), 10),
   "the sh worker serves Sh.echo")
is_(cl.invoke("Sh.echo", 1, {"a": "b, c"}, [2]), [[1, {"a": "b, c"}, [2]]],
    "its arguments come back")

# -- the test program --
w = dealer("--endpoint", ep, "--exec", "%s %s" % (PY, worker), "--service",
           "Work", "--max-concurrent", 2, env={"MARKER": marker},
           name="worker")
ok(wait_until(lambda: "Work.count" in gw.methods(), 10), "a test program")
is_(gw.methods()["Work.count"]["stream"], True, "a streaming method")
is_(list(cl.stream("Work.count", 3)), [{"i": 0}, {"i": 1}, {"i": 2}],
    "chunk lines stream, the end line ends")
is_(cl.invoke("Work.kw", x=[1, 0.5]), [{"x": [1, 0.5]}], "kwargs pass through")
try:
    cl.invoke("Work.fail", "bad input")
    ok(False, "an error line fails the call")
except RuntimeError as e:
    is_(str(e), "bad input", "an error line fails the call with its text")
like(open(w.log_path).read(), r"not a JSON object",
     "a line that is not JSON is reported and ignored")

a, b = RawPeer(ep, identity="hold-a"), RawPeer(ep, identity="hold-b")
ra = a.call("Work.hold", "first")
ok(wait_until(lambda: sum(i.get("current_load", 0)
                          for i in gw.clusters().values()
                          if i.get("group") == "Work") == 1),
   "the first call is with the program")
rb = b.call("Work.hold", "second")
ba, bb = reply_of(a), reply_of(b)
is_((ba and ba.get("result"), bb and bb.get("result")), ("first", "second"),
    "answers out of order are matched to their requests by id")

raw = RawPeer(ep, identity="raw-cancel")
rid = raw.call("Work.slow", 5)
body = reply_of(raw)
is_(body and body.get("code"), "timeout", "a deadline passes")
ok(wait_until(lambda: os.path.exists(marker)
              and "cancel" in open(marker).read(), 5),
   "the program that declared cancel gets a cancel line")

pid1 = cl.invoke("Work.pid")[0]
t0 = time.monotonic()
rid = raw.call("Work.die")
body = reply_of(raw, 10)
is_(body and body.get("type"), "error", "the program dies mid-request: the "
    "request ends with an error")
like(body and body.get("error"), r"exited with status 3",
     "... saying how it ended")
cmp_ok(time.monotonic() - t0, "<", scaled(3), "... at once, no hang")
ok(wait_until(lambda: not alive(pid1), 5), "the old program is gone")
pid2 = None
for _ in range(int(scaled(40))):
    try:
        pid2 = cl.invoke("Work.pid")[0]
        break
    except RuntimeError:
        time.sleep(0.25)
ok(pid2 is not None and pid2 != pid1, "the program was started again "
   "(%s -> %s)" % (pid1, pid2))

w.signal(signal.SIGTERM)
is_(w.wait(15), 0, "SIGTERM: exit 0")
ok(wait_until(lambda: not alive(pid2), 5), "... and the program is stopped")

# -- a program that does not list its methods --
rc, out, err = run_voidrail(["dealer", "--endpoint", ep, "--exec",
                             "echo '{\"oops\": 1}'", "--service", "Bad"],
                            timeout=20)
is_(rc, 1, "a bad method list: exit 1")
like(err, r"method list", "... saying why")
rc, out, err = run_voidrail(["dealer", "--endpoint", ep, "--exec", "true",
                             "--service", "Bad"], timeout=20)
is_(rc, 1, "a program that says nothing and ends: exit 1")

# -- several instances, several programs --
many = dealer("--endpoint", ep, "--exec", "%s %s" % (PY, worker),
              "--service", "Many", "-n", 2, env={"MARKER": marker},
              name="many")
ok(wait_until(lambda: sum(1 for i in gw.clusters().values()
                          if i["group"] == "Many") == 2, 15),
   "--instances 2: two dealers")
pids = {cl.invoke("Many.pid")[0] for _ in range(6)}
is_(len(pids), 2, "... each with a program of its own")
many.signal(signal.SIGTERM)
is_(many.wait(15), 0, "they stop with the supervisor")
ok(wait_until(lambda: not any(alive(p) for p in pids), 5),
   "... and so do their programs")

for p in (up, sh):
    p.signal(signal.SIGINT)
is_([up.wait(10), sh.wait(10)], [0, 0], "SIGINT stops the others")

done_testing()
