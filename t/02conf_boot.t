#!/usr/bin/python3
# The shipped conf/voidrail.yaml runs as it is for a newcomer (tools/setup
# run: ./src/voidrail -c conf/voidrail.yaml in the built tree), with only
# its ports moved to free ones: the demo worker it starts registers
# Echo.echo, POST /invoke/Echo.echo with ["hello"] answers "hello", and
# SIGTERM stops the gateway (exit 0) and the worker with it.
import os, re, signal, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from vrhttp import HttpConn
from vrops import alive, group_alive

shipped = read_file(os.path.join(os.path.dirname(T_DIR), "conf",
                                 "voidrail.yaml"))
ok(shipped is not None, "conf/voidrail.yaml is there")
shipped = shipped or ""
ok(re.search(r"^  bind: tcp://127\.0\.0\.1:5555$", shipped, re.M)
   and '"--port", "5555"' in shipped
   and re.search(r"^  listen: 127\.0\.0\.1:8080$", shipped, re.M),
   "it binds the router to 127.0.0.1:5555, its demo worker connects to "
   "port 5555, HTTP listens on 127.0.0.1:8080")
ok(os.path.exists(os.path.join(BUILD_DIR, "examples", "echo.so")),
   "examples/echo.so, which the demo worker serves, is built (make)")
HTTP = free_port()
text = re.sub(r"\b5555\b", "%%PORT%%", shipped)
text = text.replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:%d" % HTTP)
gw = Gateway(text, name="shipped", cwd=BUILD_DIR).start()


def request(method, path, json=None):
    try:
        return HttpConn(HTTP).send(method, path, json=json).response()
    except OSError:
        return None


def demo_workers():
    r = request("GET", "/status.json")
    body = r.json() if r is not None and r.status == 200 else None
    return [w for w in (body or {}).get("workers") or []
            if w.get("name") == "demo"]


ok(wait_until(lambda: "Echo.echo" in gw.methods(), timeout=10),
   "the demo worker registers Echo.echo")
demo = demo_workers()
is_([w.get("state") for w in demo], ["running"],
    "/status.json shows the one demo worker running")
pid = demo[0].get("pid") if demo else None
if isinstance(pid, int):
    at_cleanup(lambda: group_alive(pid) and os.killpg(pid, signal.SIGKILL))
r = request("POST", "/invoke/Echo.echo", json=["hello"])
is_(r and (r.status, r.json()), (200, "hello"),
    'POST /invoke/Echo.echo ["hello"] answers "hello"')
is_(gw.stop(), 0, "SIGTERM: the gateway exits 0")
ok(isinstance(pid, int) and not alive(pid) and not group_alive(pid),
   "and the demo worker (pid %s) is gone, with its process group" % pid)
done_testing()
