#!/usr/bin/python3
# router_monitor, the undocumented ping of A.2.1: any peer, registered or
# not, with or without payload, is answered [heartbeat_ack, ""].
import os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *

gw = Gateway().start()

stranger = RawPeer(gw.endpoint, identity="monitor-61")
for frames in (["router_monitor", ""], ["router_monitor"],
               ["router_monitor", "x", "y"]):
    stranger.send(frames)
    is_(stranger.recv(), [b"heartbeat_ack", b""],
        "router_monitor with %d frame(s) is answered with heartbeat_ack"
        % len(frames))

d = RawPeer(gw.endpoint, identity="RefService-61616161")
d.register()
d.recv()
d.send(["router_monitor", ""])
is_(d.recv(), [b"heartbeat_ack", b""], "a registered dealer gets it too")
is_(stranger.expect_nothing(0.3), None, "nothing else is sent")

is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
