#!/usr/bin/python3
# A dealer leaves with shutdown, overload or resume: the record is deleted
# and the answer is the two-frame shutdown_ack (A.2.2, B.4).
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()

for word in ("shutdown", "overload", "resume"):
    sid = "Leaver-%s" % word[:8].ljust(8, "0")
    d = RawPeer(gw.endpoint, identity=sid)
    d.register(group="Leaver")
    is_(d.recv(), [b"register_ack", b""], "%s: the dealer registers" % word)
    ok("Leaver.echo" in gw.methods(), "%s: its method is offered" % word)
    d.send([word, ""])
    is_(d.recv(), [b"shutdown_ack"],
        "%s is answered with shutdown_ack and no payload frame" % word)
    ok(sid not in gw.clusters(), "%s: the record is gone from clusters" % word)
    ok("Leaver.echo" not in gw.methods(),
       "%s: its method is no longer offered" % word)
    d.heartbeat()
    is_(d.expect_nothing(0.5), None,
        "%s: a heartbeat after leaving is not answered" % word)

d = RawPeer(gw.endpoint, identity="Leaver-comeback")
d.register(group="Leaver")
d.recv()
d.send(["shutdown", ""])
d.recv()
d.register(group="Leaver")
is_(d.recv(), [b"register_ack", b""], "a dealer that left may register again")
ok("Leaver.echo" in gw.methods(), "and is offered again")

stranger = RawPeer(gw.endpoint, identity="Leaver-stranger")
stranger.send(["shutdown", ""])
is_(stranger.expect_nothing(0.5), None,
    "shutdown from an unknown identity is not answered")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
