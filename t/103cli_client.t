#!/usr/bin/python3
# `voidrail client`: every flag of the Python CLI (A.8) and ours, the
# --args forms (an array is the positional arguments, unlike the Python
# CLI's bug), streams printed as they arrive, and each exit status:
# 0 ok, 2 usage, 3 no connection, 4 the call failed, 5 timeout, 6 key
# refused.
import json, os, re, sys, time
import zmq
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

BUILD = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
EXAMPLES = os.path.join(BUILD, "examples")
if not os.path.exists(os.path.join(EXAMPLES, "echo.so")):
    skip_all("examples/*.so are not built")

gw = Gateway({}).start()
ep = gw.endpoint
port = str(gw.port)
dealers = [Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", ep,
                             "--module", os.path.join(EXAMPLES, m + ".so")],
                name="dealer-" + m) for m in ("echo", "math", "stream")]
ok(wait_until(lambda: {"Echo.echo", "Math.add", "Stream.count"}
              <= set(gw.methods()), 10), "the example modules serve")


def client(*args, env=None, timeout=20.0):
    return run_voidrail(["client"] + [str(a) for a in args], env=env,
                        timeout=timeout)


# -- help and usage --
rc, out, err = client("--help")
is_(rc, 0, "--help exits 0")
for code in ("0", "2", "3", "4", "5", "6"):
    like(out, r"(?m)^  %s  " % code, "--help documents exit status %s" % code)
rc, out2, err = client("-h")
ok(rc == 0 and out2 == out, "-h is help (not --host)")
for args, why in ((["-p", port], "no operation"),
                  (["--frobnicate"], "an unknown option"),
                  (["-p", port, "-c", "Echo.echo", "-t", "soon"],
                   "a timeout that is not a number"),
                  (["-p", port, "-a", "[1]"], "--args without --call"),
                  (["-p", port, "-l", "extra"], "a stray argument"),
                  (["-p", port, "-l", "--logger-level", "LOUD"],
                   "an unknown logger level")):
    rc, out, err = client(*args)
    is_(rc, 2, "usage error: %s: exit 2" % why)
    ok(err.strip() != "", "... with a message on stderr")

# -- where the gateway is --
rc, out, err = client("--host", "127.0.0.1", "--port", port, "--call",
                      "Echo.echo", "--args", '"hi"')
is_((rc, out), (0, '"hi"\n'), "--host, --port, --call, --args")
is_(client("-p", port, "-c", "Echo.echo", "-a", '"hi"')[:2], (0, '"hi"\n'),
    "-p, -c, -a")
is_(client("--endpoint", ep, "-c", "Echo.echo", "-a", '"hi"')[:2],
    (0, '"hi"\n'), "--endpoint")

# -- --args --
is_(client("-p", port, "-c", "Math.add", "-a", '{"a": 40, "b": 2}')[:2],
    (0, "42\n"), "a JSON object is the keyword arguments")
is_(client("-p", port, "-c", "Math.add", "-a", "[1, 2]")[:2], (0, "3\n"),
    "a JSON array is the positional arguments (not one list argument)")
is_(client("-p", port, "-c", "Math.square", "-a", "3")[:2], (0, "9\n"),
    "any other JSON value is one argument")
is_(client("-p", port, "-c", "Echo.echo", "-a", "[[1, 2]]")[:2],
    (0, "[1, 2]\n"), "a list argument is a list in a list")
is_(client("-p", port, "-c", "Echo.echo", "-a", "hello world")[:2],
    (0, '"hello world"\n'), "text that is not JSON is one string")
is_(client("-p", port, "-c", "Echo.echo", "-a", '{"message": 0.1}')[:2],
    (0, "0.1\n"), "values pass through as written")

# -- streams --
rc, out, err = client("-p", port, "-c", "Stream.count", "-a", "[3]")
is_((rc, out), (0, '{"i": 0}\n{"i": 1}\n{"i": 2}\n'),
    "a stream: one JSON value per line")
p = Proc(wrapper() + [voidrail_bin(), "client", "-p", port, "-c",
                      "Stream.count", "-a", "[3, 0.6]"], name="streamer",
         lines=True)
ok(p.expect_line(r'^\{"i": 0\}$', 10), "the first chunk is printed ...")
ok(p.running(), "... while the stream goes on")
ok(p.expect_line(r'^\{"i": 2\}$', 10), "the last one")
is_(p.wait(10), 0, "exit 0 at the end of the stream")

# -- discovery --
rc, out, err = client("-p", port, "-l")
is_(rc, 0, "-l exits 0")
like(out, r"(?m)^  Echo\.echo$", "--list names the methods")
like(out, r"(?m)^    description: Add two numbers$", "... their description")
like(out, r"(?m)^    params: a: first number; b: second number;$",
     "... their parameters")
like(out, r"(?m)^  Stream\.count \(stream\)$", "... which ones stream")
like(out, r"(?m)^Active instances \(3\):$", "... and the live dealers")
like(out, r"(?m)^  Echo-[0-9a-f]{8} \(group Echo\)$", "... with their group")
rc, out2, err = client("-p", port, "--list")
is_(out2, out, "--list is -l")
rc, out, err = client("-p", port, "--list", "--json")
lines = out.splitlines()
ok(rc == 0 and len(lines) == 2 and "Echo.echo" in json.loads(lines[0])
   and len(json.loads(lines[1])) == 3, "--list --json: methods and clusters "
   "as JSON")

rc, out, err = client("-p", port, "--router-info")
is_(rc, 0, "--router-info exits 0")
like(out, r"(?m)^  mode: fifo$", "--router-info: the mode")
like(out, r"(?m)^  address: tcp://127\.0\.0\.1:%s$" % port, "... the address")
like(out, r"(?m)^  active: 3$", "... the live dealers")
like(out, r"(?m)^  Echo: 1 instances$", "... the groups")
rc, out, err = client("-p", port, "--router-info", "--json")
is_(missing_keys(json.loads(out), ROUTER_INFO_KEYS), [],
    "--router-info --json: every key")

rc, out, err = client("-p", port, "--queue-status")
is_(rc, 0, "--queue-status exits 0")
like(out, r"(?m)^  Echo\.echo: length 0, available 1, busy 0$",
     "--queue-status: one line per method")
rc, out, err = client("-p", port, "-l", "--router-info", "--queue-status")
ok(rc == 0 and "Methods" in out and "Router:" in out and "Queues" in out,
   "several operations at once")
is_(client("-p", port, "-l", "--logger-level", "DEBUG")[0], 0,
    "--logger-level DEBUG")
rc, out, err = run_voidrail(["--debug", "client", "-p", port, "-c",
                             "Echo.echo", "-a", "7", "--logger-level",
                             "ERROR"])
is_((rc, out), (0, "7\n"), "voidrail --debug client (the global flag)")
like(err, r": debug: call \S+ of Echo\.echo",
     "... logs at debug level, whatever --logger-level says")
unlike(client("-p", port, "-c", "Echo.echo", "-a", "7")[2], r": debug: ",
       "without it: no debug lines")

# -- failures and their exit status --
rc, out, err = client("-p", port, "-c", "Echo.nope")
is_(rc, 4, "a method nobody offers: exit 4")
like(err, r"no_service", "... no_service on stderr")
rc, out, err = client("-p", port, "-c", "Math.add", "-a", '["a", 1]')
is_(rc, 4, "the dealer's error: exit 4")
like(err, r"dealer_error: add takes two numbers", "... with its text")
t0 = time.monotonic()
rc, out, err = client("-p", port, "-c", "Echo.slow_echo", "-a",
                      '["x", %g]' % scaled(1.5),
                      "-t", scaled(0.5))
is_(rc, 5, "no answer within -t: exit 5")
like(err, r"timeout", "... timeout on stderr")
rc, out, err = client("-p", port, "-c", "Echo.slow_echo", "-a", '["y", 0.2]',
                      "--timeout", scaled(5))
is_((rc, out), (0, '"y"\n'), "--timeout long enough")
rc, out, err = client("-p", free_port(), "-l", "-t", scaled(0.5))
is_(rc, 3, "no gateway: exit 3")
like(err, r"no connection", "... said on stderr")

# -- an answer that breaks the protocol: exit 1 --

fake_port = free_port()
fake = CTX.socket(zmq.ROUTER)
fake.setsockopt(zmq.LINGER, 0)
fake.bind("tcp://127.0.0.1:%d" % fake_port)
at_cleanup(lambda: fake.close(0))
p = Proc(wrapper() + [voidrail_bin(), "client", "-p", str(fake_port),
                      "--router-info", "-t", str(scaled(5))], name="bad-reply")
kind = b"auth"
while kind == b"auth" and fake.poll(int(scaled(5) * 1000)):
    # The login (which announces the capabilities) goes unanswered.
    ident, kind, _ = fake.recv_multipart()
if kind != b"auth":
    fake.send_multipart([ident, kind + b"_ack", b"this is not JSON"])
is_(p.wait(10), 1, "an answer that is not JSON: exit 1")
like(open(p.log_path).read(), r"bad_reply", "... bad_reply on stderr")

# -- keys --
kgw = Gateway({"auth": {"client_keys": ["ck1"]}}, name="keyed").start()
kport = str(kgw.port)
Proc(wrapper() + [voidrail_bin(), "dealer", "--endpoint", kgw.endpoint,
                  "--module", os.path.join(EXAMPLES, "echo.so")],
     name="keyed-dealer")
ok(wait_until(lambda: "Echo.echo" in kgw.methods(), 10), "a gateway with "
   "client keys")
is_(client("-p", kport, "-c", "Echo.echo", "-a", "1", "--api-key",
           "ck1")[:2], (0, "1\n"), "--api-key")
is_(client("-p", kport, "-c", "Echo.echo", "-a", "1",
           env={"VOIDRAIL_API_KEY": "ck1"})[:2], (0, "1\n"),
    "VOIDRAIL_API_KEY")
rc, out, err = client("-p", kport, "-c", "Echo.echo", "-a", "1", "--api-key",
                      "wrong")
is_(rc, 6, "a wrong key: exit 6")
like(err, r"Authentication failed", "... the gateway's text")
is_(client("-p", kport, "-c", "Echo.echo", "-a", "1")[0], 6,
    "no key for a call: exit 6")
is_(client("-p", kport, "-l")[0], 6, "no key for --list: exit 6")

done_testing()
