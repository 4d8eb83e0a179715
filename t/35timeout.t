#!/usr/bin/python3
# Deadlines (B.2): a request ends with timeout when its deadline passes,
# both while it waits in the queue (it never reaches a dealer) and while a
# dealer runs it (its late reply is dropped).  router.request_timeout is the
# default; router.methods.<name>.timeout overrides it, shorter or longer.
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway({"router": {"request_timeout": "1s",
                         "methods": {"RefService.echo": {"timeout": "500ms"},
                                     "RefService.count": {"timeout": "5s"}}}}
             ).start()
dealer = ThreadedDealer(gw.endpoint).start()

running = RawPeer(gw.endpoint, identity="client-35-running")
waiting = RawPeer(gw.endpoint, identity="client-35-waiting")
t0 = time.monotonic()
rid_running = running.call("RefService.slow", 3)
ok(dealer.wait_event("call"), "a slow call runs on the only dealer")
rid_waiting = waiting.call("RefService.echo", "queued")

is_(error_code(waiting.recv(3), rid_waiting), "timeout",
    "a call waiting in the queue ends with timeout")
cmp_ok(time.monotonic() - t0, ">=", 0.4, "after its method's 500 ms")
is_(error_code(running.recv(3), rid_running), "timeout",
    "the running call ends with timeout")
elapsed = time.monotonic() - t0
cmp_ok(elapsed, ">=", 0.9, "after about request_timeout (1 s)")
cmp_ok(elapsed, "<", 1 + scaled(1.5), "not much later")

is_(running.expect_nothing(2.7), None,
    "the dealer's late reply (after 3 s) is dropped")
ok(any(way == "out" and frames[0] == b"reply_from_dealer"
       for t, way, frames in dealer.wire),
   "(the dealer did send that late reply)")
is_(waiting.expect_nothing(0.1), None, "the queued call got nothing more")
is_([c.get("func_name") for c in dealer.calls], ["RefService.slow"],
    "and never reached the dealer")

py = PyClient(gw.endpoint).connect()
try:
    py.invoke("RefService.slow", 2)
    ok(False, "the Python-style client raises RuntimeError on timeout")
except RuntimeError as e:
    ok(str(e), "the Python-style client raises RuntimeError(text) on timeout")

sleep(1.2)          # the dealer finishes that slow(2)
is_(py.invoke("RefService.count", 3, delay=0.6),
    [{"i": 0}, {"i": 1}, {"i": 2}],
    "a method with its own 5 s timeout may run 1.8 s")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
