#!/usr/bin/python3
# A job followed by a browser's EventSource (headless chromium): the page
# opens /jobs/ID/events, reads the first events, loses its connection (a
# proxy between it and the gateway cuts it) while the job goes on,
# reconnects by itself with Last-Event-ID and gets exactly the events it
# missed, then the rest live, each event once and in order.  A second
# EventSource on the finished job gets the whole replay once: its
# reconnect after the end is answered 204 and it stops (readyState
# CLOSED), with no further request.
import json, os, socket, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from vrtest import *
from peers import *
from vrhttp import *
from vrbrowser import *

need_browser()


class CuttingProxy:
    """Forwards 127.0.0.1:port to the gateway's HTTP port; cut() closes
    every connection open now.  Keeps the head of each request (on
    kept-alive connections too)."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.open_socks = []
        self.heads = []
        threading.Thread(target=self._accept, daemon=True).start()
        at_cleanup(self.close)

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open_socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False),
                             daemon=True).start()

    def _pump(self, src, dst, upstream):
        pending = b""           # requests without bodies (the page GETs)
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if upstream and data:
                pending += data
                while b"\r\n\r\n" in pending:
                    head, pending = pending.split(b"\r\n\r\n", 1)
                    with self.lock:
                        self.heads.append(head.decode("latin-1"))
            if not data:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def cut(self):
        with self.lock:
            socks, self.open_socks = self.open_socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def event_requests(self, job_id):
        """Heads of the GET /jobs/ID/events requests, in order."""
        with self.lock:
            return [h for h in self.heads
                    if h.startswith("GET /jobs/%s/events" % job_id)]

    def close(self):
        self.lsock.close()
        self.cut()


def last_event_id(head):
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "last-event-id":
            return value.strip()
    return None


gw = HttpGateway({"http": {"retry": "300ms"}}).start()
wire = RawPeer(gw.endpoint, identity="Wire-00000942")
wire.register(group="Wire", methods=("count",))
wire.recv()
proxy = CuttingProxy(gw.http_port)
browser = Browser()
a = browser.do("open", url="http://127.0.0.1:%d/healthz" % proxy.port,
               timeout=60.0)
if not ok(a and a.get("ok") and a.get("status") == 200,
          "chromium loads a page of the gateway (through the proxy)"):
    diag("browser log:\n" + browser.log_text())
    done_testing()

r = gw.post("/jobs/Wire.count", json=[4])
job_id = ((r and r.json()) or {}).get("id", "?")
call = wire.expect_call(3)


def send(kind, **body):
    body.update({"type": kind, "request_id": call.request_id})
    wire.reply(call.cid, body)


FOLLOW = """(() => {
  const w = window.jobs = window.jobs || {};
  const f = w[%(name)s] = { got: [], opens: 0, state: null };
  const es = new EventSource(%(url)s);
  f.es = es;
  es.onopen = () => { f.opens++; };
  for (const name of ['chunk', 'result', 'end', 'error']) {
    es.addEventListener(name, (e) => {
      // EventSource's own "error" (a lost connection) carries no data.
      if (e.data !== undefined) {
        f.got.push([e.lastEventId, name, JSON.parse(e.data)]);
      }
    });
  }
  return true;
})()"""


def follow(name, url):
    return browser.eval(FOLLOW % {"name": json.dumps(name),
                                  "url": json.dumps(url)})


def seen(name):
    return browser.eval("""(() => { const f = window.jobs[%s];
        return { got: f.got, opens: f.opens, state: f.es.readyState }; })()"""
                        % json.dumps(name)) or {}


ok(follow("live", "/jobs/%s/events" % job_id), "the page follows the job")
send("streaming", data=0)
send("streaming", data=1)
ok(wait_until(lambda: len(seen("live").get("got", [])) == 2, timeout=10),
   "the page gets the first two chunks")
proxy.cut()
send("streaming", data=2)
ok(wait_until(lambda: len(seen("live").get("got", [])) == 3, timeout=10),
   "after the cut it reconnects by itself and gets the chunk it missed")
send("streaming", data=3)
send("end")
ok(wait_until(lambda: len(seen("live").get("got", [])) == 5, timeout=10),
   "then the rest, live")
live = seen("live")
is_(live.get("got"), [["1", "chunk", 0], ["2", "chunk", 1], ["3", "chunk", 2],
                      ["4", "chunk", 3], ["5", "end", {"chunks": 4}]],
    "every event once, in order, with its id")
cmp_ok(live.get("opens", 0), ">=", 2, "the stream was opened again")
heads = proxy.event_requests(job_id)
is_([last_event_id(h) for h in heads[:2]], [None, "2"],
    "the reconnect carried Last-Event-ID: 2")
browser.eval("window.jobs.live.es.close(), true")

# -- the finished job, from the start: replayed once, then 204 stops it --
before = len(proxy.event_requests(job_id))
ok(follow("replay", "/jobs/%s/events" % job_id), "a second EventSource")
ok(wait_until(lambda: seen("replay").get("state") == 2, timeout=10),
   "stops by itself (CLOSED) after the replay")
is_([e[0] for e in seen("replay").get("got", [])], ["1", "2", "3", "4", "5"],
    "having got the replay once")
after = proxy.event_requests(job_id)[before:]
is_([last_event_id(h) for h in after], [None, "5"],
    "its reconnect (Last-Event-ID: 5) was the last request")
time.sleep(scaled(0.8))
is_(len(proxy.event_requests(job_id)) - before, 2, "and none came after it")
is_([e for e in browser.page_errors() if "ERR_" not in e], [],
    "no script errors on the page")

browser.close()
is_(gw.stop(), 0, "the gateway exits 0")
done_testing()
