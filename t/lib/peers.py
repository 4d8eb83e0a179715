"""peers: ZeroMQ peers that speak PROTOCOL.md, for the tests in t/.

curve_keys()    a CURVE key pair; every peer takes curve=(server public,
                client public, client secret) to connect as a CURVE client
RawPeer         a DEALER that sends and receives exactly the frames a test
                gives it (with small helpers for clients and dealers)
ThreadedDealer  behaves like Part A's threaded Python dealer (c6ec37ea)
AsyncDealer     behaves like Part A's asyncio dealer (518d8bd3)
PyClient        behaves like Part A's ClientDealer
Method          a handler with its decorator metadata; ref_methods() is the
                RefService of the A.12 transcripts

Written from PROTOCOL.md Part A (and the Python peers' observable
behaviour); it shares no code with the Python package.  Durations are
nominal seconds, stretched with vrtest.scaled() where they are waits.

Handlers get the dealer as their first argument, as Python methods get
self.  Dealers run in background threads of the test process; peer_main.py
runs one as a separate process.
"""

import asyncio
import inspect
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid

import zmq
import zmq.asyncio
from zmq.utils.monitor import recv_monitor_message

from vrtest import scaled, at_cleanup

__all__ = [
    "CTX", "curve_keys", "use_curve", "ROUTER_INFO_KEYS", "SERVICE_INFO_KEYS",
    "METHOD_META_KEYS",
    "QUEUE_STAT_KEYS", "missing_keys", "frame", "loads", "request_json",
    "remote_addr", "register_json", "error_code", "Call", "RawPeer",
    "call_on",
    "Method", "method_table", "ref_methods", "echo", "add", "count", "fail",
    "fail_stream", "slow", "aslow", "astream", "whoami", "ThreadedDealer",
    "AsyncDealer", "PyClient", "DealerProcess",
]

CTX = zmq.Context.instance()

# ---- processes ------------------------------------------------------------

def serve_until_signalled(dealer, say):
    """For a peer started as a process of its own: starts dealer, serves
    until SIGTERM or SIGINT, then leaves like the Python dealer (shutdown),
    says "stopped" and exits 0."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    dealer.start(wait=False)
    while not done.wait(0.5):
        pass
    dealer.stop()
    say("stopped")
    sys.stdout.flush()
    os._exit(0)


def die_with_parent():
    """For a peer started as a process of its own: exits when the test
    process that started it is gone, so a killed test leaves no peer
    behind.  (PR_SET_PDEATHSIG would fire when the *thread* that started
    the process ends, such as a test's chaos thread, long before the test;
    so a watchdog thread polls the parent pid instead.)"""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


# ---- CURVE ----------------------------------------------------------------

def curve_keys():
    """A new CURVE key pair (public, secret), Z85 str."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def use_curve(sock, curve):
    """Makes sock a CURVE client before it connects, as the Python peers
    do with VOIDRAIL_USE_CURVE.  curve: None (plain) or (server public,
    client public, client secret), each Z85 str or bytes."""
    if curve is None:
        return sock
    server, public, secret = (k.encode("ascii") if isinstance(k, str)
                              else k for k in curve)
    sock.curve_serverkey = server
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    return sock


# ---- the JSON shapes of A.3 ------------------------------------------------

ROUTER_INFO_KEYS = (
    "mode", "address", "idle_heartbeat_timeout", "busy_heartbeat_timeout",
    "max_busy_without_heartbeat", "active_services_count",
    "busy_services_count", "idle_services_count", "inactive_services_count",
    "total_services_count", "uptime", "total_requests", "total_responses",
    "requests_in_process", "requests_in_queue", "service_by_group",
    "service_sources", "client_api_keys_require", "dealer_api_keys_require",
)
SERVICE_INFO_KEYS = (
    "service_id", "group", "methods", "state", "current_load",
    "request_count", "reply_count", "last_heartbeat",
)
METHOD_META_KEYS = ("description", "params", "stream", "metadata")
QUEUE_STAT_KEYS = ("queue_length", "available_services", "busy_services")


def missing_keys(mapping, keys):
    """The keys of `keys` that `mapping` lacks (a sorted list)."""
    if not isinstance(mapping, dict):
        return sorted(keys)
    return sorted(k for k in keys if k not in mapping)


def frame(value):
    """One wire frame: bytes as they are, str as UTF-8, else JSON as the
    Python peers write it (json.dumps defaults)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8")


def loads(data):
    """A payload frame decoded: JSON value, "" for an empty frame, or the
    raw text when it is not JSON."""
    if data is None or data == b"":
        return "" if data == b"" else None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return data.decode("utf-8", "replace")


def request_json(method, args=(), kwargs=None, request_id=None, func_name=None):
    """A RequestJSON as the Python client builds it (same key order)."""
    return {
        "type": "request",
        "request_id": request_id or str(uuid.uuid4()),
        "func_name": func_name or method,
        "request_step": "READY",
        "args": list(args),
        "kwargs": dict(kwargs or {}),
    }


def _local_ip():
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def remote_addr(service_id):
    """The remote_addr a Python dealer announces for service_id."""
    sid = service_id.decode("utf-8", "replace") \
        if isinstance(service_id, bytes) else service_id
    tail = sid.split("-")[-1] if "-" in sid else sid[-8:]
    return "%s [PID:%d, ID:%s]" % (_local_ip(), os.getpid(), tail)


def register_json(service_id, group="RefService", methods=("echo",),
                  api_key=None, **extra):
    """A RegisterJSON as a Python dealer sends it.  methods: bare names
    (metadata all defaults) or a dict name -> MethodMeta.  extra keys (such
    as max_concurrent) are added at the end."""
    if not isinstance(methods, dict):
        methods = {name: {"description": None, "params": None,
                          "stream": False, "metadata": {}} for name in methods}
    body = {
        "group": group,
        "methods": methods,
        "api_key": api_key,
        "remote_addr": remote_addr(service_id),
        "host_info": {"hostname": socket.gethostname(), "ip": _local_ip(),
                      "pid": os.getpid()},
    }
    body.update(extra)
    return body


def error_code(frames, request_id):
    """The code of a gateway-generated terminal error for request_id:
    [reply_from_router, {"type": "error", "request_id": RID, "error": TEXT,
    "code": CODE}].  When frames are something else, a short text saying
    what they are (so that is_() shows it)."""
    if frames is None:
        return "(nothing received)"
    if len(frames) != 2 or frames[0] != b"reply_from_router":
        return "(not a reply_from_router: %r)" % (frames,)
    body = loads(frames[1])
    if not isinstance(body, dict) or body.get("type") != "error":
        return "(not an error: %r)" % (body,)
    if body.get("request_id") != request_id:
        return "(request_id %r, expected %r)" % (body.get("request_id"),
                                                 request_id)
    if not isinstance(body.get("error"), str) or not body["error"]:
        return "(no error text: %r)" % (body,)
    return body.get("code", "(no code: %r)" % (body,))


# ---- raw peer --------------------------------------------------------------

class Call:
    """A call_from_router as a dealer receives it."""

    def __init__(self, frames):
        self.frames = frames
        self.cid = frames[1]
        self.method = frames[2].decode("utf-8", "replace")
        self.body = frames[3] if len(frames) > 3 else b""
        self.request = loads(self.body)
        self.request_id = self.request.get("request_id") \
            if isinstance(self.request, dict) else None

    def __repr__(self):
        return "Call(%r)" % (self.frames,)


class RawPeer:
    """A DEALER socket under the test's control.  identity: bytes or str
    (None lets libzmq pick one); curve: see use_curve()."""

    _monitor = None                 # watch() sets it

    def __init__(self, endpoint, identity=None, curve=None):
        self.endpoint = endpoint
        self.identity = None if identity is None else frame(identity)
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if self.identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, self.identity)
        use_curve(self.sock, curve)
        self.sock.connect(endpoint)
        at_cleanup(self.close)

    def close(self):
        if self.sock is not None:
            if self._monitor is not None:
                self.sock.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            self.sock.close(linger=0)
            self.sock = None

    def watch(self):
        """Starts counting how often the gateway closes this socket's
        connection (a ZeroMQ socket monitor; libzmq reconnects by itself,
        unseen by recv()); drops() says how often so far.  Returns self."""
        self._monitor = self.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self._drops = 0
        return self

    def drops(self):
        """Disconnections of this socket since watch()."""
        while self._monitor.poll(0):
            recv_monitor_message(self._monitor)
            self._drops += 1
        return self._drops

    def send(self, frames):
        """Sends frames (each bytes, str, or a JSON value)."""
        self.sock.send_multipart([frame(f) for f in frames])

    def recv(self, timeout=2.0, ignore=()):
        """The next message as a list of bytes frames, or None when nothing
        arrives within the (scaled) timeout.  Messages whose type (frame 0)
        is in ignore are skipped."""
        skip = {frame(t) for t in ignore}
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if not self.sock.poll(max(0, int(left * 1000))):
                return None
            msg = self.sock.recv_multipart()
            if msg and msg[0] not in skip:
                return msg

    def collect(self, seconds, ignore=()):
        """Every message that arrives within `seconds` (scaled)."""
        got = []
        deadline = time.monotonic() + scaled(seconds)
        while True:
            left = deadline - time.monotonic()
            msg = self.recv(left / scaled(1.0), ignore) if left > 0 else None
            if msg is None:
                return got
            got.append(msg)

    def recv_json(self, timeout=2.0, ignore=()):
        """(type, decoded last frame) of the next message, or (None, None)."""
        msg = self.recv(timeout, ignore)
        if msg is None:
            return None, None
        return (msg[0].decode("utf-8", "replace"),
                loads(msg[-1]) if len(msg) > 1 else None)

    def expect_nothing(self, seconds=0.5, ignore=()):
        """None when no message arrives for `seconds` (scaled); otherwise
        the message that did."""
        return self.recv(seconds, ignore)

    # -- as a client --

    def call(self, method, *args, kwargs=None, request_id=None,
             func_name=None, extra_frames=()):
        """Sends call_from_client with a Python-style RequestJSON; returns
        the request_id."""
        body = request_json(method, args, kwargs, request_id, func_name)
        self.send(["call_from_client", method, body] + list(extra_frames))
        return body["request_id"]

    def command(self, name, timeout=2.0):
        """Sends [name, ""] and returns (type, decoded body) of the answer."""
        self.send([name, ""])
        return self.recv_json(timeout)

    # -- as a dealer --

    def register(self, group="RefService", methods=("echo",), api_key=None,
                 **extra):
        self.send(["register", register_json(self.identity, group, methods,
                                             api_key, **extra)])

    def heartbeat(self, processing_requests=0, api_key=None):
        self.send(["heartbeat", {"api_key": api_key,
                                 "processing_requests": processing_requests,
                                 "is_busy": processing_requests > 0}])

    def expect_call(self, timeout=2.0):
        """The next call_from_router (unsolicited heartbeat_acks skipped),
        or None."""
        msg = self.recv(timeout, ignore=("heartbeat_ack",))
        if msg is None or msg[0] != b"call_from_router" or len(msg) < 4:
            return None
        return Call(msg)

    def reply(self, cid, body):
        """Sends reply_from_dealer for client cid."""
        self.send(["reply_from_dealer", cid, body])


def call_on(dealers, timeout=3.0):
    """(dealer, Call) of the first of some RawPeer dealers that gets a
    call within the (scaled) timeout, or (None, None)."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        for d in dealers:
            c = d.expect_call(0.05)
            if c is not None:
                return d, c
    return None, None


# ---- methods ---------------------------------------------------------------

class Method:
    """A dealer method: the handler plus what the Python decorator
    @service_method(name=, description=, params=, **metadata) records."""

    def __init__(self, fn, name=None, description=None, params=None,
                 **metadata):
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description
        self.params = params
        self.metadata = metadata
        self.is_asyncgen = inspect.isasyncgenfunction(fn)
        self.is_generator = inspect.isgeneratorfunction(fn)
        self.is_coroutine = inspect.iscoroutinefunction(fn)
        self.stream = self.is_asyncgen or self.is_generator

    def meta(self):
        """The MethodMeta of A.3."""
        return {"description": self.description, "params": self.params,
                "stream": self.stream, "metadata": self.metadata}


def method_table(methods):
    """{name: Method} from a dict name -> callable|Method or a list of
    callables/Methods."""
    table = {}
    items = methods.items() if isinstance(methods, dict) else \
        ((None, m) for m in methods)
    for name, m in items:
        if not isinstance(m, Method):
            m = Method(m, name=name)
        elif name is not None and name != m.name:
            m = Method(m.fn, name=name, description=m.description,
                       params=m.params, **m.metadata)
        table[m.name] = m
    return table


def echo(dealer, value):
    return value


def add(dealer, a, b):
    return a + b


def count(dealer, n, delay=0):
    for i in range(n):
        if delay:
            time.sleep(delay)
        yield {"i": i}


def fail(dealer, message):
    raise RuntimeError(message)


def fail_stream(dealer):
    yield 0
    yield 1
    raise RuntimeError("stream broke")


def slow(dealer, seconds):
    time.sleep(seconds)
    return {"slept": seconds}


async def aslow(dealer, seconds):
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def astream(dealer, n, delay=0.3):
    for i in range(n):
        await asyncio.sleep(delay)
        yield i


def whoami(dealer):
    return dealer.service_id


def ref_methods():
    """The RefService of the A.12 transcripts (plus whoami)."""
    return method_table([
        echo,
        Method(add, description="Add two numbers",
               params={"a": "first number", "b": "second number"}),
        count, fail, fail_stream, slow, aslow, astream, whoami,
    ])


# ---- dealers ---------------------------------------------------------------

class _Dealer:
    """What both dealer kinds share: identity, methods, register body and an
    event log that tests can wait on."""

    def __init__(self, endpoint, methods=None, service_name="RefService",
                 group=None, heartbeat_interval=1.0, api_key=None,
                 service_id=None, max_concurrent=None, register_extra=None,
                 on_event=None, curve=None):
        self.endpoint = endpoint
        self.curve = curve          # see use_curve()
        self.service_name = service_name
        self.group = group or service_name
        self.service_id = service_id or "%s-%s" % (service_name,
                                                   uuid.uuid4().hex[:8])
        self.identity = self.service_id.encode("utf-8")
        self.interval = heartbeat_interval
        self.api_key = api_key
        self.methods = method_table(ref_methods() if methods is None
                                    else methods)
        self.register_extra = dict(register_extra or {})
        if max_concurrent is not None:
            self.register_extra["max_concurrent"] = max_concurrent
        self.remote_addr = remote_addr(self.service_id)
        self.on_event = on_event
        self.events = []            # (monotonic time, name, detail)
        self.calls = []             # RequestJSON dicts, in arrival order
        self.wire = []              # (monotonic time, "in"|"out", frames)
        self.acks = 0               # heartbeat_acks received
        self.heartbeats_sent = 0
        self.reconnects = 0
        self.deadlocked = False
        self.last_rx = time.monotonic()
        self._cond = threading.Condition()
        self._thread = None

    def register_body(self):
        body = {
            "group": self.group,
            "methods": {n: m.meta() for n, m in self.methods.items()},
            "api_key": self.api_key,
            "remote_addr": self.remote_addr,
            "host_info": {"hostname": socket.gethostname(), "ip": _local_ip(),
                          "pid": os.getpid()},
        }
        body.update(self.register_extra)
        return json.dumps(body).encode("utf-8")

    def _event(self, name, detail=None):
        with self._cond:
            self.events.append((time.monotonic(), name, detail))
            self._cond.notify_all()
        if self.on_event:
            self.on_event(name, detail)

    def count_events(self, name):
        with self._cond:
            return sum(1 for e in self.events if e[1] == name)

    def wait_event(self, name, timeout=5.0, count=1):
        """Waits (scaled timeout) until `count` events called name have
        happened; returns the count-th one (time, name, detail) or None."""
        deadline = time.monotonic() + scaled(timeout)
        with self._cond:
            while True:
                found = [e for e in self.events if e[1] == name]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def _received(self, parts):
        self.last_rx = time.monotonic()
        self.wire.append((self.last_rx, "in", parts))

    def _started(self, wait, timeout):
        at_cleanup(self.crash)
        if wait and not self.wait_event("register_ack", timeout):
            raise RuntimeError("%s got no register_ack" % self.service_id)
        return self

    def _heartbeat_body(self, load_key, load):
        return json.dumps({"api_key": self.api_key, load_key: load,
                           "is_busy": load > 0}).encode("utf-8")


class ThreadedDealer(_Dealer):
    """Like the threaded Python dealer (c6ec37ea):

    * identity <service>-<8 hex>; register, then one heartbeat at once;
    * heartbeat {"api_key", "pending_requests", "is_busy"} every I seconds
      while idle, every 4*I while it holds requests;
    * 4 worker threads; dispatch on func_name after the last dot; errors
      as str(exception) or "方法 <name> 未注册"; sync generators stream live,
      async generators are collected first;
    * reconnects (same identity) after 0.8*(I+3) s of silence, 0.8*2*(I+3)
      while busy;
    * goes silent for good ("deadlocked") where the Python one deadlocks:
      on router_shutdown or reregister_required, and when three idle
      heartbeats in a row get no ack within 100 ms (scaled here, so that a
      slow run under valgrind does not trip it).
    """

    LOAD_KEY = "pending_requests"

    def __init__(self, endpoint, max_workers=4, **kw):
        super().__init__(endpoint, **kw)
        self.max_workers = max_workers
        self.sock = None
        self.pending = 0
        self._plock = threading.Lock()
        self._jobs = queue.Queue()
        self._outbox = queue.Queue()
        self._rfd, self._wfd = os.pipe()
        os.set_blocking(self._rfd, False)
        os.set_blocking(self._wfd, False)
        self._stop = threading.Event()
        self._stop_mode = None

    # -- lifecycle --

    def start(self, wait=True, timeout=5.0):
        """Starts the threads; with wait, returns once register_ack came
        (raises otherwise).  Returns self."""
        for i in range(self.max_workers):
            threading.Thread(target=self._worker, daemon=True,
                             name="%s-w%d" % (self.service_id, i)).start()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=self.service_id)
        self._thread.start()
        return self._started(wait, timeout)

    def stop(self, timeout=2.0):
        """Leaves as the Python dealer does: sends shutdown without waiting
        and closes the socket at once (LINGER 0)."""
        self._finish("shutdown", timeout)

    def crash(self, timeout=2.0):
        """Vanishes without a word: the socket is closed."""
        self._finish("crash", timeout)

    def _finish(self, mode, timeout):
        if self._thread is None:
            return
        if self._stop_mode is None:
            self._stop_mode = mode
        self._stop.set()
        self._wake()
        self._thread.join(scaled(timeout))
        if not self._thread.is_alive() and self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def _wake(self):
        try:
            os.write(self._wfd, b"x")
        except (BlockingIOError, OSError):
            pass

    # -- the I/O thread (sole owner of the socket) --

    def _connect(self):
        """New DEALER with our identity; waits (2 s) until it can send,
        then register + heartbeat.  False when the router is not there."""
        if self.sock is not None:
            self.sock.close(linger=0)
        s = CTX.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, self.identity)
        s.setsockopt(zmq.SNDHWM, 1000)
        s.setsockopt(zmq.RCVHWM, 1000)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IMMEDIATE, 1)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        use_curve(s, self.curve)
        s.connect(self.endpoint)
        if not s.poll(int(scaled(2.0) * 1000), zmq.POLLOUT):
            s.close(linger=0)
            self.sock = None
            self._event("connect_failed")
            return False
        self.sock = s
        self._send([b"register", self.register_body()])
        self._send_heartbeat()
        self.last_rx = time.monotonic()
        return True

    def _send(self, frames):
        self.wire.append((time.monotonic(), "out", frames))
        try:
            self.sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.ZMQError as e:
            self._event("send_failed", str(e))

    def _send_heartbeat(self):
        self.heartbeats_sent += 1
        self._send([b"heartbeat", self._heartbeat_body(self.LOAD_KEY,
                                                       self.pending)])

    def _deadlock(self, why):
        self.deadlocked = True
        self._event("deadlock", why)

    def _run(self):
        I = self.interval
        while not self._connect():
            if self._stop.wait(1.0):
                return
        now = time.monotonic()
        next_hb = now + I
        next_watch = now + 0.2
        ack_check = None            # (when, acks when the heartbeat left)
        missing = 0
        while not self._stop.is_set() and not self.deadlocked:
            now = time.monotonic()
            wake_at = min(next_hb, next_watch,
                          ack_check[0] if ack_check else next_hb)
            poller = zmq.Poller()
            poller.register(self.sock, zmq.POLLIN)
            poller.register(self._rfd, zmq.POLLIN)
            ready = dict(poller.poll(max(0, int((wake_at - now) * 1000)) + 1))
            if self.sock in ready:
                while not self.deadlocked:
                    try:
                        parts = self.sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._dispatch(parts)
            if self._rfd in ready:
                try:
                    while os.read(self._rfd, 4096):
                        pass
                except BlockingIOError:
                    pass
            if self.deadlocked:
                break
            while True:
                try:
                    self._send(self._outbox.get_nowait())
                except queue.Empty:
                    break
            now = time.monotonic()
            busy = self.pending > 0
            if now >= next_hb:
                acks_before = self.acks
                self._send_heartbeat()
                next_hb = now + (4 * I if busy else I)
                if busy:
                    missing, ack_check = 0, None
                else:
                    ack_check = (now + scaled(min(0.1, 0.3 * I)), acks_before)
            if ack_check and now >= ack_check[0]:
                if self.acks == ack_check[1] and self.pending == 0:
                    missing += 1
                    if missing >= 3:
                        self._deadlock("3 heartbeats without ack")
                        break
                else:
                    missing = 0
                ack_check = None
            if now >= next_watch:
                next_watch = now + 0.2
                limit = 0.8 * (2 * (I + 3) if busy else I + 3)
                if now - self.last_rx > limit:
                    self.reconnects += 1
                    self._event("reconnect", now - self.last_rx)
                    while not self._connect():
                        if self._stop.wait(1.0):
                            return
                    next_hb = time.monotonic() + I
        if self._stop_mode == "shutdown" and not self.deadlocked:
            self._send([b"shutdown", b""])
        if not self.deadlocked and self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def _dispatch(self, parts):
        self._received(parts)
        kind = parts[0]
        if kind == b"call_from_router":
            if len(parts) < 3 or not parts[-1]:
                self._event("bad_call", parts)
                return
            try:
                req = json.loads(parts[-1].decode("utf-8"))
            except ValueError:
                self._event("bad_call", parts)
                return
            with self._plock:
                self.pending += 1
            self.calls.append(req)
            self._event("call", req)
            self._jobs.put((parts[1], req))
        elif kind == b"heartbeat_ack":
            self.acks += 1
            self._event("heartbeat_ack")
        elif kind == b"error":
            self._event("error", loads(parts[1]) if len(parts) > 1 else None)
        elif kind in (b"router_shutdown", b"reregister_required"):
            self._event(kind.decode())
            self._deadlock(kind.decode())
        elif kind == b"register_ack":
            self._event("register_ack")
        else:
            self._event("unknown", parts)

    # -- workers --

    def _worker(self):
        while True:
            cid, req = self._jobs.get()
            try:
                self._process(cid, req)
            finally:
                with self._plock:
                    self.pending -= 1
                self._wake()

    def _reply(self, cid, message):
        self._outbox.put([b"reply_from_dealer", cid,
                          json.dumps(message).encode("utf-8")])
        self._wake()

    def _process(self, cid, req):
        name = str(req.get("func_name", "")).split(".")[-1]
        rid = req.get("request_id")
        m = self.methods.get(name)
        if m is None:
            self._reply(cid, {"type": "error", "error": "方法 %s 未注册" % name})
            return
        try:
            args, kwargs = req.get("args", []), req.get("kwargs", {})
            if m.is_asyncgen:
                async def collect():
                    return [item async for item in m.fn(self, *args, **kwargs)]
                for chunk in asyncio.run(collect()):
                    self._reply(cid, {"type": "streaming", "request_id": rid,
                                      "data": chunk})
            elif m.is_generator:
                try:
                    for chunk in m.fn(self, *args, **kwargs):
                        self._reply(cid, {"type": "streaming",
                                          "request_id": rid, "data": chunk})
                except Exception as e:
                    self._reply(cid, {"type": "error", "error": str(e)})
                    return
            elif m.is_coroutine:
                result = asyncio.run(m.fn(self, *args, **kwargs))
            else:
                result = m.fn(self, *args, **kwargs)
        except Exception as e:
            self._reply(cid, {"type": "error", "error": str(e)})
            return
        if m.stream:
            self._reply(cid, {"type": "end", "request_id": rid})
        else:
            self._reply(cid, {"type": "reply", "request_id": rid,
                              "result": result})


class AsyncDealer(_Dealer):
    """Like the asyncio Python dealer (518d8bd3):

    * register (no heartbeat right after it); heartbeat
      {"api_key", "processing_requests", "is_busy"} every I idle / 4*I busy;
    * a request whose type is not "request" is ignored (no reply);
    * errors "Method execution error: <exc>" / "Method <func_name> not
      found"; sync and async generators both stream live;
    * reconnects (same identity, register again) on router_shutdown and
      after 0.8*(I+3) s of silence (three times that while busy).
    Sync handlers run on the event loop, blocking it, as in Python."""

    LOAD_KEY = "processing_requests"

    def __init__(self, endpoint, **kw):
        super().__init__(endpoint, **kw)
        self.sock = None
        self._loop = None
        self._stop_evt = None
        self._stop_mode = None
        self._tasks = set()
        self._rx = None
        self._ready = threading.Event()

    def start(self, wait=True, timeout=5.0):
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()),
                                        daemon=True, name=self.service_id)
        self._thread.start()
        self._ready.wait(scaled(timeout))
        return self._started(wait, timeout)

    def stop(self, timeout=3.0):
        """Leaves as the Python dealer does: shutdown, then waits at most
        0.5 s for the ack."""
        self._finish("shutdown", timeout)

    def crash(self, timeout=3.0):
        self._finish("crash", timeout)

    def _finish(self, mode, timeout):
        if self._thread is None or self._loop is None:
            return
        if self._stop_mode is None:
            self._stop_mode = mode
        try:
            self._loop.call_soon_threadsafe(self._stop_evt.set)
        except RuntimeError:        # loop already closed
            pass
        self._thread.join(scaled(timeout))

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._stop_evt = asyncio.Event()
        self._actx = zmq.asyncio.Context.shadow(CTX.underlying)
        self._ready.set()
        await self._connect()
        helpers = [asyncio.create_task(self._heartbeat_loop()),
                   asyncio.create_task(self._monitor())]
        await self._stop_evt.wait()
        for t in helpers:
            t.cancel()
        if self._stop_mode == "shutdown":
            self._rx.cancel()
            try:
                await asyncio.wait_for(self._send([b"shutdown", b""]), 1.0)
                self._received(await asyncio.wait_for(
                    self.sock.recv_multipart(), 0.5))
            except (asyncio.TimeoutError, zmq.ZMQError):
                pass
        for t in [self._rx] + list(self._tasks):
            t.cancel()
        self.sock.close(linger=0)
        self.sock = None

    async def _connect(self):
        if self._rx is not None:
            self._rx.cancel()
        if self.sock is not None:
            self.sock.close(linger=0)
        s = self._actx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, self.identity)
        s.setsockopt(zmq.SNDHWM, 1000)
        s.setsockopt(zmq.RCVHWM, 1000)
        s.setsockopt(zmq.LINGER, 0)
        use_curve(s, self.curve)
        s.connect(self.endpoint)
        self.sock = s
        self.last_rx = time.monotonic()
        self._rx = asyncio.create_task(self._receiver())
        await self._send([b"register", self.register_body()])

    async def _send(self, frames):
        self.wire.append((time.monotonic(), "out", frames))
        await self.sock.send_multipart(frames)

    async def _heartbeat_loop(self):
        I = self.interval
        last = time.monotonic()
        while True:
            now = time.monotonic()
            busy = len(self._tasks) > 0
            interval = 4 * I if busy else I
            timeout = 2 * (I + 3) if busy else I + 3
            if now - last >= interval or now - self.last_rx > timeout:
                self.heartbeats_sent += 1
                await self._send([b"heartbeat", self._heartbeat_body(
                    self.LOAD_KEY, len(self._tasks))])
                last = now
            await asyncio.sleep(min(0.2, interval / 4))

    async def _monitor(self):
        I = self.interval
        while True:
            busy = len(self._tasks) > 0
            interval = 4 * I if busy else I
            await asyncio.sleep(min(0.2, interval / 3))
            limit = 0.8 * (2 * (I + 3) if busy else I + 3)
            silence = time.monotonic() - self.last_rx
            if silence > limit and not (busy and silence <= 3 * limit):
                self.reconnects += 1
                self._event("reconnect", silence)
                await self._connect()

    async def _receiver(self):
        while True:
            parts = await self.sock.recv_multipart()
            self._received(parts)
            kind = parts[0]
            if kind == b"call_from_router" and len(parts) >= 3:
                try:
                    req = json.loads(parts[-1].decode("utf-8"))
                except ValueError:
                    self._event("bad_call", parts)
                    continue
                self.calls.append(req)
                self._event("call", req)
                if isinstance(req, dict) and req.get("type") == "request":
                    task = asyncio.create_task(self._process(parts[1], req))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            elif kind == b"heartbeat_ack":
                self.acks += 1
                self._event("heartbeat_ack")
            elif kind == b"register_ack":
                self._event("register_ack")
            elif kind == b"error":
                self._event("error", loads(parts[1]) if len(parts) > 1 else None)
            elif kind == b"router_shutdown":
                self._event("router_shutdown")
                self.reconnects += 1
                asyncio.create_task(self._connect())
                return
            else:
                self._event("unknown", parts)

    async def _reply(self, cid, message):
        await self._send([b"reply_from_dealer", cid,
                          json.dumps(message).encode("utf-8")])

    async def _process(self, cid, req):
        func_name = req.get("func_name", "")
        rid = req.get("request_id")
        m = self.methods.get(str(func_name).split(".")[-1])
        if m is None:
            await self._reply(cid, {"type": "error",
                                    "error": "Method %s not found" % func_name})
            return
        args, kwargs = req.get("args", []), req.get("kwargs", {})
        try:
            if m.stream:
                if m.is_asyncgen:
                    chunks = m.fn(self, *args, **kwargs)
                else:
                    async def live(gen):
                        for item in gen:
                            yield item
                            await asyncio.sleep(0)
                    chunks = live(m.fn(self, *args, **kwargs))
                async for chunk in chunks:
                    await self._reply(cid, {"type": "streaming",
                                            "request_id": rid, "data": chunk})
                await self._reply(cid, {"type": "end", "request_id": rid})
            else:
                if m.is_coroutine:
                    result = await m.fn(self, *args, **kwargs)
                else:
                    result = m.fn(self, *args, **kwargs)
                await self._reply(cid, {"type": "reply", "request_id": rid,
                                        "result": result})
        except zmq.ZMQError:
            pass
        except Exception as e:
            await self._reply(cid, {"type": "error",
                                    "error": "Method execution error: %s" % e})


# ---- client ----------------------------------------------------------------

class PyClient:
    """Like the Python ClientDealer, but blocking instead of asyncio:

    * identity = uuid4 hex; on connect: auth (when it has an api_key, one
      answer read), then `methods`;
    * an RPC name (with a dot) missing from the cached methods is looked up
      once more and then fails locally, nothing sent;
    * replies are matched by arrival order: whatever message comes next is
      the answer, its type frame ignored, only the last frame read;
    * invoke() returns a list, stream() yields; an error raises
      RuntimeError(text); a receive longer than timeout raises
      TimeoutError.  The Python default timeout is None (forever); here it
      is 10 s (scaled) so that a test cannot hang."""

    def __init__(self, endpoint, api_key=None, timeout=10.0, curve=None):
        self.endpoint = endpoint
        self.curve = curve          # see use_curve()
        self.client_id = uuid.uuid4().hex
        self.identity = self.client_id.encode("ascii")
        self.api_key = api_key
        self.timeout = timeout
        self.available = {}
        self.authenticated = False
        self.sock = None
        self.wire = []              # (monotonic time, "in"|"out", frames)
        at_cleanup(self.close)

    def connect(self):
        if self.sock is None:
            s = CTX.socket(zmq.DEALER)
            s.setsockopt(zmq.IDENTITY, self.identity)
            s.setsockopt(zmq.LINGER, 0)
            use_curve(s, self.curve)
            s.connect(self.endpoint)
            self.sock = s
            if self.api_key:
                self._authenticate()
            self.discover_services()
        return self

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None
        self.available = {}
        self.authenticated = False

    def _send(self, frames):
        frames = [frame(f) for f in frames]
        self.wire.append((time.monotonic(), "out", frames))
        self.sock.send_multipart(frames)

    def _recv(self, timeout, what):
        t = self.timeout if timeout is None else timeout
        if not self.sock.poll(int(scaled(t) * 1000)):
            raise TimeoutError("[%s] %s timeout" % (self.endpoint, what))
        frames = self.sock.recv_multipart()
        self.wire.append((time.monotonic(), "in", frames))
        return frames

    def _authenticate(self):
        self._send(["auth", {"api_key": self.api_key,
                             "client_id": self.client_id}])
        try:
            frames = self._recv(None, "auth")
        except TimeoutError:
            return False
        body = loads(frames[-1])
        self.authenticated = frames[0] == b"auth_ack" and \
            isinstance(body, dict) and body.get("type") == "reply"
        return self.authenticated

    def _command(self, name, timeout, cache):
        if self.sock is None:
            self.connect()
        self._send([name, ""])
        response = json.loads(self._recv(timeout, "Invoke '%s'" % name)[-1])
        if response.get("type") == "reply":
            if cache:
                self.available = response.get("result", {})
            return response.get("result", {})
        if response.get("type") == "error":
            raise RuntimeError(response.get("error"))
        raise ValueError("Unexpected response type: %r" % response.get("type"))

    def discover_services(self, timeout=None):
        return self.invoke("methods", timeout=timeout)

    def discover_clusters(self, timeout=None):
        return self.invoke("clusters", timeout=timeout)

    def get_router_info(self, timeout=None):
        return self._command("router_info", timeout, cache=False)

    def get_queue_status(self, timeout=None):
        return self._command("queue_status", timeout, cache=False)

    def invoke(self, method, *args, timeout=None, **kwargs):
        if "." in method:
            return list(self._stream(method, args, kwargs, timeout))
        return self._command(method, timeout, cache=True)

    def stream(self, method, *args, timeout=None, **kwargs):
        if "." in method:
            yield from self._stream(method, args, kwargs, timeout)
        else:
            yield self._command(method, timeout, cache=True)

    def _stream(self, method, args, kwargs, timeout):
        if self.sock is None:
            self.connect()
        if method not in self.available:
            self.discover_services()
            if method not in self.available:
                raise RuntimeError(
                    "[%s] Streaming method '%s' not found. [%s] Available "
                    "methods: %s" % (self.endpoint, method, self.endpoint,
                                     list(self.available.keys())))
        request = request_json(method, args, kwargs)
        self._send(["call_from_client", method, request])
        while True:
            response = json.loads(
                self._recv(timeout, "Streaming '%s'" % method)[-1])
            kind = response.get("type")
            if kind == "streaming":
                yield response.get("data")
            elif kind == "end":
                return
            elif kind == "reply":
                yield response.get("result")
                return
            elif kind == "error":
                raise RuntimeError(response.get("error"))
            else:
                yield response


# ---- a dealer in a process of its own ---------------------------------------

class DealerProcess:
    """peer_main.py as a child process (see there): a dealer a test can
    SIGKILL or SIGSTOP by pid.  service_id is read from its first line."""

    PEER_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "peer_main.py")

    def __init__(self, endpoint, kind="threaded", service="RefService",
                 heartbeat=1.0, api_key=None, max_concurrent=None):
        import sys
        from vrtest import Proc
        argv = [sys.executable, self.PEER_MAIN, endpoint, "--kind", kind,
                "--service", service, "--heartbeat", str(heartbeat)]
        if api_key is not None:
            argv += ["--api-key", api_key]
        if max_concurrent is not None:
            argv += ["--max-concurrent", str(max_concurrent)]
        self.proc = Proc(argv, name="dealer-" + service, lines=True)
        self.pid = self.proc.pid
        m = self.proc.expect_line(r"^ID (\S+)")
        self.service_id = m.group(1) if m else None

    def expect(self, pattern, timeout=5.0):
        """The match of the next stdout line matching pattern, or None."""
        return self.proc.expect_line(pattern, timeout)

    def signal(self, sig):
        self.proc.signal(sig)

    def stop(self, timeout=5.0):
        return self.proc.stop(timeout=timeout)

    def kill(self):
        self.proc.kill()
