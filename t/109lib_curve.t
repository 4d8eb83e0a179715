#!/usr/bin/python3
# CURVE in libvoidrail: a client and a dealer encrypt to a router that
# has a CURVE server key (here a small Python ROUTER, as the Python
# router's curve_server_key_file set-up), with the key given in Z85 or
# hex through VOIDRAIL_USE_CURVE / VOIDRAIL_CURVE_SERVER_KEY; a wrong key
# never connects (unreachable), and a plain client cannot talk to it.
import json, os, signal, subprocess, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
import vrtest
import zmq
import zmq.utils.z85

PEER = built("t/unit/test_lib_peer")
if not zmq.has("curve"):
    skip_all("this libzmq has no CURVE")

public, secret = zmq.curve_keypair()
hexkey = zmq.utils.z85.decode(public).hex()
other, _ = zmq.curve_keypair()

port = free_port()
ep = "tcp://127.0.0.1:%d" % port
router = CTX.socket(zmq.ROUTER)
router.setsockopt(zmq.LINGER, 0)
router.curve_server = True
router.curve_publickey = public
router.curve_secretkey = secret
router.bind(ep)
seen = []
stop = threading.Event()


def serve():
    """Answers router_info and registers, as a router would."""
    while not stop.is_set():
        if not router.poll(50):
            continue
        frames = router.recv_multipart()
        seen.append(frames)
        ident, kind = frames[0], frames[1]
        if kind == b"router_info":
            router.send_multipart([ident, b"router_info_ack", json.dumps(
                {"type": "reply", "request_id": "x",
                 "result": {"mode": "fifo", "curve": True}}).encode()])
        elif kind == b"register":
            router.send_multipart([ident, b"register_ack", b""])
        elif kind == b"heartbeat":
            router.send_multipart([ident, b"heartbeat_ack", b""])


t = threading.Thread(target=serve, daemon=True)
t.start()
at_cleanup(lambda: (stop.set(), t.join(2), router.close(0)))


def peer(*args, env=None, wait=3):
    argv = wrapper() + [PEER, "--timeout", str(int(scaled(wait) * 1000))] \
        + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(30), env=vrtest._clean_env(env))
    return p.returncode, p.stdout.decode().splitlines()


rc, lines = peer("query", ep, "router_info",
                 env={"VOIDRAIL_USE_CURVE": "1",
                      "VOIDRAIL_CURVE_SERVER_KEY": public.decode()})
is_((rc, lines), (0, ['RESULT {"mode": "fifo", "curve": true}']),
    "a client with the server's Z85 key talks to a CURVE router")
rc, lines = peer("query", ep, "router_info",
                 env={"VOIDRAIL_USE_CURVE": "true",
                      "VOIDRAIL_CURVE_SERVER_KEY": hexkey})
is_(lines, ['RESULT {"mode": "fifo", "curve": true}'], "... with its hex key")
rc, lines = peer("query", ep, "router_info",
                 env={"VOIDRAIL_USE_CURVE": "1",
                      "VOIDRAIL_CURVE_SERVER_KEY": other.decode()}, wait=1)
like(" ".join(lines), r"^ERROR unreachable ", "a wrong server key: no "
     "connection")
rc, lines = peer("query", ep, "router_info", wait=1)
like(" ".join(lines), r"^ERROR unreachable ", "a plain client: no "
     "connection")

d = Proc(wrapper() + [PEER, "dealer", ep, "Secret", "--heartbeat", "200"],
         name="curve-dealer", lines=True,
         env={"VOIDRAIL_CURVE_SERVER_KEY": public.decode()})
ok(d.expect_line(r"^ID Secret-", 10), "a dealer with VOIDRAIL_CURVE_SERVER_KEY")
ok(wait_until(lambda: any(f[1] == b"register" and f[0].startswith(b"Secret-")
                          for f in list(seen)), 10),
   "... registers over CURVE")
ok(wait_until(lambda: any(f[1] == b"heartbeat" for f in list(seen)), 5),
   "... and heartbeats")
d.signal(signal.SIGTERM)
is_(d.wait(10), 0, "it stops cleanly")

done_testing()
