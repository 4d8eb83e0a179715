#!/usr/bin/python3
# libvoidrail's client (driven through t/unit/test_lib_peer) against the
# gateway and Python-protocol dealers (peers.py) and a C dealer: results,
# kwargs, streams, errors with and without request_id, discovery, many
# calls in flight on one client (one thread, and threads sharing it),
# timeouts and client keys.
import json, os, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
import vrtest

PEER = built("t/unit/test_lib_peer")


def peer(*args, timeout=30.0):
    """Runs test_lib_peer (under VR_TEST_WRAPPER); (status, lines)."""
    argv = wrapper() + [PEER, "--timeout", str(int(scaled(8) * 1000))] \
        + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(timeout), env=vrtest._clean_env())
    if p.returncode != 0 or p.stderr.strip():
        diag("test_lib_peer %s: status %d\n%s" % (
            " ".join(map(str, args)), p.returncode,
            p.stderr.decode("utf-8", "replace")))
    return p.returncode, p.stdout.decode("utf-8", "replace").splitlines()


def result(lines):
    """The JSON after RESULT, or ("ERROR", code, text)."""
    for line in lines:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
        if line.startswith("ERROR "):
            code, _, text = line[6:].partition(" ")
            return ("ERROR", code, text)
    return ("nothing", lines)


def code(r):
    """(ERROR, code) of an error result, else the result itself."""
    return r[:2] if isinstance(r, tuple) else r


gw = Gateway({"router": {"heartbeat_timeout": duration(10)}}).start()
ep = gw.endpoint
ThreadedDealer(ep).start()
AsyncDealer(ep, service_name="AsyncService").start()
ThreadedDealer(ep, service_name="Pair", methods={"echo": echo}).start()
ThreadedDealer(ep, service_name="Pair", methods={"echo": echo}).start()

# -- results and arguments --
rc, lines = peer("invoke", ep, "RefService.echo", '["hello"]')
is_(rc, 0, "the peer exits 0")
is_(result(lines), "hello", "invoke: a Python dealer's result")
is_(result(peer("invoke", ep, "RefService.add", "[]",
                '{"a": 40, "b": 2}')[1]), 42, "invoke: keyword arguments")
is_(result(peer("invoke", ep, "RefService.echo", '[{"x": [1, 0.5]}]')[1]),
    {"x": [1, 0.5]}, "invoke: a structured result")
is_(result(peer("invoke", ep, "RefService.count", "[3]")[1]),
    [{"i": 0}, {"i": 1}, {"i": 2}], "invoke of a stream: the chunks as a list")

# -- streams --
rc, lines = peer("call", ep, "RefService.count", "[3]")
is_(lines, ['ITEM {"i": 0}', 'ITEM {"i": 1}', 'ITEM {"i": 2}', "END"],
    "stream: each chunk, then the end")
rc, lines = peer("call", ep, "AsyncService.astream", "[3]", '{"delay": 0.05}')
is_(lines, ["ITEM 0", "ITEM 1", "ITEM 2", "END"],
    "stream from the asyncio dealer")
rc, lines = peer("call", ep, "RefService.fail_stream")
is_(lines, ["ITEM 0", "ITEM 1", "ERROR dealer_error stream broke"],
    "stream that breaks: the chunks, then the error")
rc, lines = peer("call", ep, "RefService.echo", '["one"]')
is_(lines, ['ITEM "one"', "END"], "a plain call read as a stream: its result")

# -- errors --
is_(result(peer("invoke", ep, "RefService.fail", '["kaputt"]')[1]),
    ("ERROR", "dealer_error", "kaputt"),
    "a threaded Python dealer's error (no request_id): dealer_error")
is_(result(peer("invoke", ep, "AsyncService.fail", '["kaputt"]')[1]),
    ("ERROR", "dealer_error", "Method execution error: kaputt"),
    "the asyncio dealer's error")
r = result(peer("invoke", ep, "RefService.nope")[1])
is_(code(r), ("ERROR", "no_service"), "a method nobody offers: no_service")
r = result(peer("invoke", ep, "RefService.slow", "[%g]" % scaled(3),
                "--timeout", int(scaled(0.4) * 1000))[1])
is_(code(r), ("ERROR", "timeout"), "no answer in time: timeout")
r = result(peer("invoke", ep, "RefService.echo", '{"not": "a list"}')[1])
is_(code(r), ("ERROR", "usage"), "args that are not a list: refused locally")

# -- discovery --
methods = result(peer("query", ep, "methods")[1])
ok(isinstance(methods, dict) and "RefService.add" in methods
   and "AsyncService.echo" in methods, "methods: every live method")
is_(methods.get("RefService.add", {}).get("description"), "Add two numbers",
    "methods: metadata as the dealer sent it")
clusters = result(peer("query", ep, "clusters")[1])
is_(len(clusters), 4, "clusters: the four dealers")
info = result(peer("query", ep, "router_info")[1])
is_(missing_keys(info, ROUTER_INFO_KEYS), [], "router_info: every key")
queues = result(peer("query", ep, "queue_status")[1])
ok(isinstance(queues, dict) and "RefService.echo" in queues,
   "queue_status: the methods called")

# -- many calls in flight on one client --
rc, lines = peer("many", ep, "Pair.echo", 100, timeout=60)
is_(lines[-1:], ["GOOD 100 OF 100"], "100 calls in flight on one client "
    "(two Python dealers): each gets its own answer")
rc, lines = peer("threads", ep, "Pair.echo", 100, 4, timeout=60)
is_(lines[-1:], ["GOOD 100 OF 100"], "4 threads sharing one client")

c_dealer = Proc(wrapper() + [PEER, "dealer", ep, "Wide", "--workers", "8",
                             "--heartbeat", "200"], name="c-dealer",
                lines=True)
ok(c_dealer.expect_line(r"^ID Wide-[0-9a-f]{8}$"), "a C dealer with 8 workers")
ok(wait_until(lambda: "Wide.echo" in gw.methods(), 10), "... registered")
rc, lines = peer("many", ep, "Wide.echo", 300, timeout=60)
is_(lines[-1:], ["GOOD 300 OF 300"], "300 calls in flight against it")
c_dealer.stop()

# -- client keys --
gw2 = Gateway({"auth": {"client_keys": ["ck1"]}}).start()
ThreadedDealer(gw2.endpoint).start()
is_(result(peer("invoke", gw2.endpoint, "RefService.echo", '["k"]', "--key",
                "ck1")[1]), "k", "with the right key: served")
r = result(peer("invoke", gw2.endpoint, "RefService.echo", '["k"]', "--key",
                "wrong")[1])
is_(code(r), ("ERROR", "unauthorized"), "a wrong key: refused at connect")
ok("Authentication failed" in str(r[-1]), "... with the gateway's text")
r = result(peer("invoke", gw2.endpoint, "RefService.echo", '["k"]')[1])
is_(code(r), ("ERROR", "unauthorized"), "no key: the call is unauthorized")
r = result(peer("query", gw2.endpoint, "methods")[1])
is_(code(r), ("ERROR", "unauthorized"), "no key: discovery is unauthorized")

# -- no gateway --
r = result(peer("invoke", "tcp://127.0.0.1:%d" % free_port(), "A.b",
                "--timeout", int(scaled(0.3) * 1000))[1])
is_(code(r), ("ERROR", "unreachable"), "no gateway: unreachable")

done_testing()
