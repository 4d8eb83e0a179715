"""ledger: ledger-checked reliability runs (t/63-66).

A run has three kinds of books, all stamped with time.monotonic() (one
clock for every process of the machine, network namespaces included):

* the client Ledger: every request the load generator sends (its id, the
  time, its deadline, method and channel) and every message it gets back
  for it (stream chunks, terminal messages), plus messages for ids it never
  sent ("strays");
* the dealers' ledgers: ledger_dealer.py processes append a JSON line for
  each call they receive ("call") and finish ("done");
* the kills: which dealer (service id) was SIGKILLed, stopped or cut off,
  and when.

check() reads them together and classifies every id as

    ok            exactly one terminal message, a success, in time
    error:<code>  exactly one terminal message, an error with that code
    lost          no terminal message by its deadline + grace
    duplicated    more than one terminal message (or a repeated chunk, or
                  a method that may not be retried executed twice)
    misrouted     a result, chunk or error that belongs to another id

and counts "unexpected" messages (for ids that were never sent) and
executions of ids that were never sent.  Besides, it lists problems: a
dealer_lost with no kill to explain it, a retryable method that did not end
ok, more executions than attempts allowed, an execution that began after
its request had ended, an ok result from a dealer that never got the call,
an error code the run does not allow.

The load generator (Load) sends over ZeroMQ (clients with one call at a
time like the Python client, and clients with several calls in flight) and
over HTTP (plain JSON answers, Server-Sent Events streams), at a steady
pace.  DealerPool starts ledger_dealer.py processes; Chaos SIGKILLs 1-3 of
them every 0.5-3 s and starts new ones.

Stdlib + zmq.  Durations given to these classes are real seconds (the
tests scale them with vrtest.scaled() where they are waits).
"""

import collections
import itertools
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time

import zmq

from vrtest import Proc, SCALE, at_cleanup, diag, note, scaled, tempdir
from peers import CTX, request_json
from vrhttp import HttpConn, sse_events

__all__ = [
    "Ledger", "read_dealer_ledgers", "check", "Report", "DealerProc",
    "DealerPool", "Chaos", "Pacer", "Load", "OPS", "write_report",
    "lid_of_error",
]

LEDGER_DEALER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "ledger_dealer.py")

_FAIL_RE = re.compile(r"fail:([A-Za-z0-9_.-]+)")


def lid_of_error(text):
    """The id named in a ledger dealer's error text ("fail:<lid>")."""
    m = _FAIL_RE.search(text or "")
    return m.group(1) if m else None


# ---- the client ledger -------------------------------------------------------

class Ledger:
    """What the clients sent and what came back, by id (lid)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = collections.OrderedDict()
        self.strays = []            # (t, channel, what)
        self.t0 = time.monotonic()

    def sent(self, lid, method, channel, timeout, n=None, kind=None):
        """Before the request leaves: lid, full method name, "zmq"/"http",
        its deadline in seconds from now, n chunks for a stream."""
        t = time.monotonic()
        with self.lock:
            self.reqs[lid] = {
                "lid": lid, "m": method, "ch": channel, "kind": kind or channel,
                "t": t, "deadline": t + timeout, "n": n,
                "chunks": [], "terms": [], "wrong": [], "notes": [],
            }

    def _get(self, lid, channel, what):
        r = self.reqs.get(lid)
        if r is None:
            self.strays.append((time.monotonic(), channel, what))
        return r

    def chunk(self, lid, data, channel="?"):
        with self.lock:
            r = self._get(lid, channel, ("chunk", lid, data))
            if r is None:
                return
            if not (isinstance(data, dict) and data.get("lid") == lid):
                r["wrong"].append(("chunk", data))
            r["chunks"].append((time.monotonic(), data))

    def terminal(self, lid, outcome, payload=None, channel="?"):
        """outcome: "ok" or "error:<code>".  payload: the result (checked
        to name lid when it is a ledger dealer's result), or for errors
        the text (checked when it names an id)."""
        with self.lock:
            r = self._get(lid, channel, ("terminal", lid, outcome, payload))
            if r is None:
                return
            if outcome == "ok" and isinstance(payload, dict) \
                    and "lid" in payload and payload["lid"] != lid:
                r["wrong"].append(("result", payload))
            if outcome != "ok" and isinstance(payload, str):
                named = lid_of_error(payload)
                if named is not None and named != lid:
                    r["wrong"].append(("error", payload))
            r["terms"].append((time.monotonic(), outcome, payload))

    def stray(self, channel, what):
        with self.lock:
            self.strays.append((time.monotonic(), channel, what))

    def annotate(self, lid, text):
        with self.lock:
            r = self.reqs.get(lid)
            if r is not None:
                r["notes"].append(text)

    def done(self, lid):
        r = self.reqs.get(lid)
        return r is not None and bool(r["terms"])

    def pending(self):
        """Ids still without a terminal message."""
        with self.lock:
            return [lid for lid, r in self.reqs.items() if not r["terms"]]

    def wait_all(self, grace, poll=0.05):
        """Waits until every id has a terminal message or its deadline +
        grace has passed; returns the ids still pending."""
        while True:
            with self.lock:
                left = [r for r in self.reqs.values() if not r["terms"]]
            now = time.monotonic()
            if not left or all(now > r["deadline"] + grace for r in left):
                return [r["lid"] for r in left]
            time.sleep(poll)


    def dump(self, path):
        """Writes the whole ledger to path as JSON (for a load generator
        in a process of its own: ledger_load.py)."""
        with self.lock:
            data = {"t0": self.t0, "reqs": list(self.reqs.values()),
                    "strays": [(t, ch, repr(what))
                               for t, ch, what in self.strays]}
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.rename(path + ".tmp", path)

    @classmethod
    def load(cls, path):
        """A Ledger read back from dump()'s file."""
        with open(path) as f:
            data = json.load(f)
        led = cls()
        led.t0 = data["t0"]
        for r in data["reqs"]:
            led.reqs[r["lid"]] = r
        led.strays = [tuple(s) for s in data["strays"]]
        return led


def read_dealer_ledgers(paths):
    """Every record of the dealers' ledger files, by time.  A line cut by
    a SIGKILL (no newline at the end) is skipped."""
    out = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line.decode("utf-8")))
            except ValueError:
                pass
    out.sort(key=lambda r: r.get("t", 0))
    return out


# ---- the checker ---------------------------------------------------------------

CLASSES = ("ok", "lost", "duplicated", "unexpected", "misrouted")


class Report:
    """What check() found: classes (Counter), by_lid, problems (list of
    text), figures (dict)."""

    def __init__(self):
        self.classes = collections.Counter()
        self.by_lid = {}
        self.problems = []
        self.figures = {}

    def count(self, cls):
        return self.classes.get(cls, 0)

    def bad(self):
        """The counts that must be 0: lost, duplicated, unexpected,
        misrouted."""
        return {k: self.classes.get(k, 0)
                for k in ("lost", "duplicated", "unexpected", "misrouted")}

    def problem(self, text):
        self.problems.append(text)

    def lines(self):
        """A short text of the figures for the TAP notes."""
        f = self.figures
        out = ["requests %d (%s), duration %.1f s" % (
            f.get("requests", 0),
            ", ".join("%s %d" % kv for kv in sorted(
                f.get("by_channel", {}).items())), f.get("duration", 0))]
        out.append("outcomes: " + ", ".join(
            "%s %d" % (k, v) for k, v in sorted(self.classes.items())))
        for k in ("kills", "restarts", "executions", "reexecuted",
                  "dealer_lost_after_kill_max", "latency_p50", "latency_p99",
                  "latency_max"):
            if k in f:
                out.append("%s: %s" % (k, f[k]))
        return out


def check(ledger, executions=(), kills=(), grace=2.0, retry=None,
          allowed=None, slack=0.3, lost_window=None):
    """Classifies every id of ledger (see the module doc) and returns a
    Report.

    executions  records of read_dealer_ledgers()
    kills       [(t, sid)]: a dealer killed at t; or [(t, sid, t_back)]:
                a dealer stopped or cut off from t until t_back (None:
                to the end).  A call it read only after t_back, when
                its request had ended meanwhile, is not a late dispatch
                (the gateway sent it before; figures "stale_executions")
    retry       {method: max_attempts} of the retryable methods
    allowed     {method: set of error codes} a method may end with (codes
                not listed are problems; "dealer_lost" is checked against
                the kills anyway); None: any code
    slack       seconds an execution may begin after its request ended
                (the dealer reads a call a little after it was sent)
    lost_window seconds after a kill within which a dealer_lost must come
                (None: no bound)"""
    rep = Report()
    retry = retry or {}
    calls = collections.defaultdict(list)       # lid -> [record]
    for rec in executions:
        if rec.get("ev") == "call":
            calls[rec.get("lid")].append(rec)
    killed = collections.defaultdict(list)      # sid -> [(t, t_back)]
    outages = []                                # (t, t_back, sid)
    for k in kills:
        t, sid = k[0], k[1]
        back = k[2] if len(k) > 2 else t
        back = float("inf") if back is None else back
        killed[sid].append((t, back))
        outages.append((t, back, sid))
    lost_after = []
    stale = 0

    with ledger.lock:
        reqs = list(ledger.reqs.values())
        strays = list(ledger.strays)

    for r in reqs:
        lid, m = r["lid"], r["m"]
        terms = r["terms"]
        execs = calls.get(lid, [])
        cls = None
        if r["wrong"]:
            cls = "misrouted"
            rep.problem("%s: got what belongs to another id: %r"
                        % (lid, r["wrong"][:2]))
        elif len(terms) > 1:
            cls = "duplicated"
            rep.problem("%s: %d terminal messages: %r"
                        % (lid, len(terms), [x[1] for x in terms]))
        elif not terms:
            cls = "lost"
            rep.problem("%s (%s over %s): no terminal message; %d chunks; "
                        "executions %r; %s" % (
                            lid, m, r["kind"], len(r["chunks"]),
                            [(e.get("sid"), round(e["t"] - ledger.t0, 3))
                             for e in execs], "; ".join(r["notes"])))
        elif terms[0][0] > r["deadline"] + grace:
            cls = "lost"
            rep.problem("%s: terminal %s came %.2f s after the deadline"
                        % (lid, terms[0][1], terms[0][0] - r["deadline"]))
        else:
            cls = terms[0][1]

        # Streams: chunks 0..k-1 in order, all of them when it ended ok.
        if r["n"] is not None and (cls == "ok" or cls.startswith("error:")):
            idx = [c[1].get("i") if isinstance(c[1], dict) else None
                   for c in r["chunks"]]
            if len(set(idx)) != len(idx):
                cls = "duplicated"
                rep.problem("%s: repeated chunks %r" % (lid, idx))
            elif idx != list(range(len(idx))):
                rep.problem("%s: chunks out of order %r" % (lid, idx))
            elif cls == "ok" and len(idx) != r["n"]:
                rep.problem("%s: ended ok after %d of %d chunks"
                            % (lid, len(idx), r["n"]))
        if terms and r["chunks"] and r["chunks"][-1][0] > terms[0][0]:
            cls = "duplicated"
            rep.problem("%s: a chunk after the terminal message" % lid)

        # Executions.
        limit = retry.get(m, 1)
        if len(execs) > limit:
            if cls not in ("misrouted",):
                cls = "duplicated"
            rep.problem("%s (%s): executed %d times, %d allowed: %r" % (
                lid, m, len(execs), limit, [e.get("sid") for e in execs]))
        if terms:
            t_end = terms[0][0]
            late = [e for e in execs if e["t"] > t_end + slack]
            resumed = [e for e in late if any(
                t <= t_end and e["t"] >= back
                for t, back in killed.get(e.get("sid"), ()))]
            stale += len(resumed)
            late = [e for e in late if e not in resumed]
            if late:
                rep.problem("%s: dispatched %.3f s after it ended (%s)" % (
                    lid, late[0]["t"] - t_end, terms[0][1]))
        if cls == "ok" and m.split(".")[-1] in ("work", "rwork", "hold"):
            payload = terms[0][2]
            by = payload.get("by") if isinstance(payload, dict) else None
            if by is not None and not any(e.get("sid") == by for e in execs):
                rep.problem("%s: ok from %s, whose ledger has no call for it"
                            % (lid, by))

        # dealer_lost only where a dealer that held it was killed.
        if cls == "error:dealer_lost":
            t_end = terms[0][0]
            before = [e for e in execs if e["t"] <= t_end]
            why = None
            if before:
                sid = before[-1].get("sid")
                ks = [t for t, back in killed.get(sid, [])
                      if t <= t_end and back >= before[-1]["t"] - slack]
                if ks:
                    why = ks[0]
            else:
                ks = [t for t, back, _ in outages
                      if t <= t_end and back >= r["t"] - slack]
                if ks:
                    why = ks[-1]
            if why is None:
                rep.problem("%s (%s): dealer_lost, but no dealer that held it "
                            "was killed (executions %r)" % (
                                lid, m, [e.get("sid") for e in execs]))
            else:
                lost_after.append(t_end - why)
                if lost_window is not None and t_end - why > lost_window:
                    rep.problem("%s: dealer_lost %.2f s after the kill"
                                % (lid, t_end - why))
        if cls.startswith("error:") and m in retry \
                and not (cls == "error:dealer_lost"
                         and (r["chunks"] or len(execs) >= limit)):
            # A stream that delivered chunks cannot start again without
            # repeating them, and attempts run out: those may be lost.
            rep.problem("%s: retryable %s ended %s" % (lid, m, cls))
        if allowed is not None and cls.startswith("error:") \
                and cls[6:] not in allowed.get(m, ()) \
                and cls != "error:dealer_lost":
            rep.problem("%s (%s over %s): %s is not an outcome this run "
                        "allows (%r)" % (lid, m, r["kind"], cls,
                                         terms[0][2]))
        rep.by_lid[lid] = cls
        rep.classes[cls] += 1

    known = {r["lid"] for r in reqs}
    unknown_execs = [e for lid, es in calls.items() if lid not in known
                     for e in es]
    unexpected = len(strays) + len(unknown_execs)
    if unexpected:
        rep.classes["unexpected"] += unexpected
        for s in strays[:5]:
            rep.problem("unexpected message: %r" % (s,))
        for e in unknown_execs[:5]:
            rep.problem("execution of an id never sent: %r" % (e,))

    # Figures.
    lat = sorted(r["terms"][0][0] - r["t"] for r in reqs if r["terms"])
    f = rep.figures
    f["requests"] = len(reqs)
    f["by_channel"] = dict(collections.Counter(r["kind"] for r in reqs))
    f["by_method"] = dict(collections.Counter(r["m"] for r in reqs))
    f["outcomes"] = dict(rep.classes)
    f["kills"] = len(kills)
    f["executions"] = sum(len(v) for v in calls.values())
    f["reexecuted"] = sum(1 for v in calls.values() if len(v) > 1)
    if reqs:
        f["duration"] = round(max(x["terms"][0][0] if x["terms"] else x["t"]
                                  for x in reqs) - min(x["t"] for x in reqs),
                              2)
    if lat:
        f["latency_p50"] = round(lat[len(lat) // 2], 4)
        f["latency_p99"] = round(lat[min(len(lat) - 1,
                                         int(len(lat) * 0.99))], 4)
        f["latency_max"] = round(lat[-1], 4)
    if lost_after:
        f["dealer_lost_after_kill_max"] = round(max(lost_after), 3)
    f["stale_executions"] = stale
    f["problems"] = len(rep.problems)
    return rep


def write_report(name, figures):
    """Writes figures as JSON to $VR_LEDGER_REPORT_DIR/<name>.json when
    that variable is set (RELIABILITY.md takes its numbers from there)."""
    d = os.environ.get("VR_LEDGER_REPORT_DIR")
    if not d:
        return None
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".json")
    with open(path, "w") as f:
        json.dump(figures, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


# ---- dealers as processes --------------------------------------------------------



class DealerProc(Proc):
    """One ledger_dealer.py process (a vrtest.Proc: killed by pid at
    cleanup, its stderr shown when the test fails).  prefix: argv put in
    front (e.g. ["ip", "netns", "exec", NS])."""

    def __init__(self, endpoint, ledger_path, kind="async", service="Chaos",
                 heartbeat=1.0, max_concurrent=None, prefix=()):
        argv = list(prefix) + [sys.executable, LEDGER_DEALER, endpoint,
                               "--ledger", ledger_path, "--kind", kind,
                               "--service", service, "--heartbeat",
                               str(heartbeat)]
        if max_concurrent is not None:
            argv += ["--max-concurrent", str(max_concurrent)]
        self.ledger_path = ledger_path
        self.kind = kind
        self.max_concurrent = max_concurrent
        self.sid = None
        self.killed_at = None
        self._registered = threading.Event()
        self._id = threading.Event()
        super().__init__(argv, name="ldealer", lines=True)

    def _read_lines(self):
        for raw in iter(self._p.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("ID ") and self.sid is None:
                self.sid = line[3:].strip()
                self._id.set()
            elif line == "register_ack":
                self._registered.set()
        self._p.stdout.close()

    def wait_id(self, timeout=5.0):
        self._id.wait(scaled(timeout))
        return self.sid

    def wait_registered(self, timeout=5.0):
        return self._registered.wait(scaled(timeout))

    def registers(self):
        return sum(1 for l in list(self.lines) if l == "register_ack")

    def kill(self):
        """SIGKILL by pid (after SIGCONT, in case it is stopped), reap."""
        super().kill()
        if self.killed_at is None:
            self.killed_at = time.monotonic()


class DealerPool:
    """n ledger dealers, each with a ledger file of its own in tempdir();
    specs: a list of dicts of DealerProc keywords, used round robin."""

    def __init__(self, endpoint, specs, prefix=(), service="Chaos"):
        self.endpoint = endpoint
        self.specs = list(specs)
        self.prefix = list(prefix)
        self.service = service
        self.dir = tempfile.mkdtemp(prefix="ledgers-", dir=tempdir())
        self.lock = threading.Lock()
        self.all = []               # every DealerProc ever started
        self.alive = []
        self.kills = []             # (t, sid)
        self._spec = itertools.cycle(range(len(self.specs)))

    def start_one(self, spec=None):
        if spec is None:
            spec = self.specs[next(self._spec)]
        path = os.path.join(self.dir, "d%04d.jsonl" % (len(self.all) + 1))
        d = DealerProc(self.endpoint, path, service=self.service,
                       prefix=self.prefix, **spec)
        with self.lock:
            self.all.append(d)
            self.alive.append(d)
        d.wait_id()
        return d

    def start(self, n=None, wait=True):
        ds = [self.start_one() for _ in range(n or len(self.specs))]
        if wait:
            for d in ds:
                if not d.wait_registered(10):
                    raise RuntimeError("dealer %s (pid %d) did not register"
                                       % (d.sid, d.pid))
        return ds

    def kill(self, d):
        t = time.monotonic()
        d.kill()
        with self.lock:
            if d in self.alive:
                self.alive.remove(d)
            self.kills.append((t, d.sid))
        return t

    def ledger_paths(self):
        return [d.ledger_path for d in self.all]

    def records(self):
        return read_dealer_ledgers(self.ledger_paths())

    def stop_all(self):
        for d in list(self.all):
            d.kill()


class Chaos(threading.Thread):
    """SIGKILLs `batch` (random in a range) dealers of pool every `every`
    (random in a range) seconds, never leaving fewer than keep alive, and
    starts a new dealer for each after `restart` seconds."""

    def __init__(self, pool, rnd, every=(0.5, 3.0), batch=(1, 3), keep=2,
                 restart=(0.1, 1.0)):
        super().__init__(daemon=True, name="chaos")
        self.pool = pool
        self.rnd = rnd
        self.every = every
        self.batch = batch
        self.keep = keep
        self.restart = restart
        self.halt = threading.Event()
        self.restarts = 0
        self.batches = 0
        self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:              # reported by the test
            self.error = "%s: %s" % (type(e).__name__, e)

    def _run(self):
        due = []                            # monotonic times of restarts
        next_kill = time.monotonic() + self.rnd.uniform(*self.every)
        while not self.halt.is_set():
            now = time.monotonic()
            if due and due[0] <= now:
                due.pop(0)
                self.pool.start_one()
                self.restarts += 1
                continue
            if now >= next_kill:
                with self.pool.lock:
                    alive = list(self.pool.alive)
                k = min(self.rnd.randint(*self.batch),
                        len(alive) - self.keep)
                for d in self.rnd.sample(alive, max(k, 0)):
                    self.pool.kill(d)
                    due.append(time.monotonic()
                               + self.rnd.uniform(*self.restart))
                    due.sort()
                self.batches += 1
                next_kill = time.monotonic() + self.rnd.uniform(*self.every)
                continue
            wake = min([next_kill] + due[:1])
            self.halt.wait(max(0.0, min(0.05, wake - now)))
        # What was killed comes back, so that the pool ends full.
        for _ in due:
            self.pool.start_one()
            self.restarts += 1

    def stop(self, timeout=30.0):
        self.halt.set()
        self.join(scaled(timeout))


# ---- the load generator ---------------------------------------------------------

class Pacer:
    """Hands out the numbers 0..total-1 at a steady pace over duration
    seconds (from start())."""

    def __init__(self, total, duration):
        self.total = total
        self.interval = float(duration) / max(total, 1)
        self.i = 0
        self.t0 = None
        self.lock = threading.Lock()

    def start(self):
        self.t0 = time.monotonic()

    def take(self, block=True):
        """The next number (sleeping until it is due), None when all are
        out; with block=False, -1 when the next one is not due yet."""
        with self.lock:
            if self.i >= self.total:
                return None
            at = self.t0 + self.i * self.interval
            if not block and at > time.monotonic():
                return -1
            i = self.i
            self.i += 1
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return i


# op name -> (method, args(lid, rnd), chunks(args) or None)
OPS = {
    "work": lambda lid, rnd, svc: (svc + ".work",
                                   [lid, rnd.randint(5, 120)], None),
    "rwork": lambda lid, rnd, svc: (svc + ".rwork",
                                    [lid, rnd.randint(5, 120)], None),
    "stream": lambda lid, rnd, svc: _stream(svc + ".stream", lid, rnd),
    "rstream": lambda lid, rnd, svc: _stream(svc + ".rstream", lid, rnd),
    "fail": lambda lid, rnd, svc: (svc + ".fail", [lid], None),
    "hold": lambda lid, rnd, svc: (svc + ".hold",
                                   [lid, rnd.randint(300, 600)], None),
}


def _stream(method, lid, rnd):
    n = rnd.randint(2, 5)
    return method, [lid, n, rnd.randint(5, 40)], n


def _pick(rnd, mix):
    total = sum(w for _, w in mix)
    x = rnd.uniform(0, total)
    for name, w in mix:
        x -= w
        if x <= 0:
            return name
    return mix[-1][0]


class Load:
    """Sends `total` requests over `duration` seconds through

        zmq_seq   ZeroMQ clients with one call at a time (the Python
                  client's way); mix: seq_mix
        zmq_pipe  ZeroMQ clients with up to `pipe_depth` calls in flight
                  (answers matched by request_id); mix: pipe_mix (no fail:
                  a Python dealer's error has no request_id)
        http      HTTP clients, one connection per call; streams as SSE
                  (or, one in three, as one JSON array); mix: http_mix

    and writes everything into ledger.  timeout: each request's deadline
    (the gateway is told: X-Request-Timeout over HTTP; over ZeroMQ the
    method's configured timeout must be the same).  grace: how long after
    its deadline a request may still be answered.  http_host: the
    gateway's HTTP address (its port: http_port)."""

    def __init__(self, ledger, endpoint, http_port, total, duration,
                 timeout, grace=2.0, zmq_seq=3, zmq_pipe=1, http=3,
                 pipe_depth=6, seq_mix=None, pipe_mix=None, http_mix=None,
                 service="Chaos", prefix="L", seed=0,
                 http_host="127.0.0.1"):
        self.ledger = ledger
        self.endpoint = endpoint
        self.http_port = http_port
        self.http_host = http_host
        self.pacer = Pacer(total, duration)
        self.timeout = timeout
        self.grace = grace
        self.counts = (zmq_seq, zmq_pipe, http)
        self.pipe_depth = pipe_depth
        self.seq_mix = seq_mix or [("work", 4), ("rwork", 3), ("stream", 1),
                                   ("rstream", 1), ("fail", 1)]
        self.pipe_mix = pipe_mix or [("work", 4), ("rwork", 4),
                                     ("stream", 1), ("rstream", 1)]
        self.http_mix = http_mix or [("work", 4), ("rwork", 3),
                                     ("stream", 1), ("rstream", 1),
                                     ("fail", 1)]
        self.service = service
        self.prefix = prefix
        self.seed = seed
        self.threads = []
        self.errors = []

    def start(self):
        self.pacer.start()
        zs, zp, h = self.counts
        specs = [(self._zmq_seq, i) for i in range(zs)] + \
            [(self._zmq_pipe, i) for i in range(zp)] + \
            [(self._http, i) for i in range(h)]
        for fn, i in specs:
            t = threading.Thread(target=self._guard, args=(fn, i),
                                 daemon=True, name="%s-%d" % (fn.__name__, i))
            t.start()
            self.threads.append(t)
        return self

    def join(self, timeout):
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def _guard(self, fn, i):
        try:
            fn(i)
        except Exception as e:
            import traceback
            self.errors.append("%s %d: %s" % (fn.__name__, i,
                                              traceback.format_exc()))

    def _lid(self, n, tag):
        return "%s-%06d-%s" % (self.prefix, n, tag)

    # -- ZeroMQ --

    def _socket(self, identity):
        s = CTX.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IDENTITY, identity.encode())
        s.connect(self.endpoint)
        return s

    def _zmq_message(self, frames, current=None):
        """Books one message a ZeroMQ client got; returns the id it was
        booked for (None when it was a stray)."""
        led = self.ledger
        try:
            body = json.loads(frames[-1].decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            led.stray("zmq", frames)
            return None
        if not isinstance(body, dict):
            led.stray("zmq", frames)
            return None
        kind = body.get("type")
        lid = body.get("request_id")
        if lid is None and kind == "error":
            # A Python dealer's error carries no request_id: the ledger
            # dealer names the id in its text; else it is the one call
            # this client has in flight (if it has exactly one).
            lid = lid_of_error(body.get("error")) or current
        if lid is None:
            led.stray("zmq", frames)
            return None
        if kind == "streaming":
            led.chunk(lid, body.get("data"), "zmq")
        elif kind == "reply":
            led.terminal(lid, "ok", body.get("result"), "zmq")
        elif kind == "end":
            led.terminal(lid, "ok", None, "zmq")
        elif kind == "error":
            code = body.get("code") or "dealer_error"
            led.terminal(lid, "error:" + code, body.get("error"), "zmq")
        else:
            led.stray("zmq", frames)
        return lid

    def _zmq_seq(self, i):
        rnd = random.Random("%s-zs-%d" % (self.seed, i))
        s = self._socket("%s-zs%d" % (self.prefix, i))
        try:
            while True:
                n = self.pacer.take()
                if n is None:
                    break
                lid = self._lid(n, "zs%d" % i)
                method, args, chunks = OPS[_pick(rnd, self.seq_mix)](
                    lid, rnd, self.service)
                body = request_json(method, args, request_id=lid)
                self.ledger.sent(lid, method, "zmq", self.timeout, chunks,
                                 kind="zmq-seq")
                s.send_multipart([b"call_from_client", method.encode(),
                                  json.dumps(body).encode()])
                end = self.ledger.reqs[lid]["deadline"] + self.grace
                while not self.ledger.done(lid):
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    if s.poll(int(left * 1000) + 1):
                        self._zmq_message(s.recv_multipart(), current=lid)
            # Anything more (a late duplicate) is booked too.
            end = time.monotonic() + scaled(0.5)
            while time.monotonic() < end:
                if s.poll(50):
                    self._zmq_message(s.recv_multipart())
        finally:
            s.close(linger=0)

    def _zmq_pipe(self, i):
        rnd = random.Random("%s-zp-%d" % (self.seed, i))
        s = self._socket("%s-zp%d" % (self.prefix, i))
        inflight = {}               # lid -> deadline + grace
        exhausted = False
        try:
            while True:
                now = time.monotonic()
                for lid in [l for l in inflight if self.ledger.done(l)
                            or inflight[l] < now]:
                    del inflight[lid]
                if exhausted and not inflight:
                    break
                if not exhausted and len(inflight) < self.pipe_depth:
                    n = self.pacer.take(block=False)
                    if n is None:
                        exhausted = True
                    elif n >= 0:
                        lid = self._lid(n, "zp%d" % i)
                        method, args, chunks = OPS[_pick(rnd, self.pipe_mix)](
                            lid, rnd, self.service)
                        body = request_json(method, args, request_id=lid)
                        self.ledger.sent(lid, method, "zmq", self.timeout,
                                         chunks, kind="zmq-pipe")
                        inflight[lid] = self.ledger.reqs[lid]["deadline"] \
                            + self.grace
                        s.send_multipart([b"call_from_client",
                                          method.encode(),
                                          json.dumps(body).encode()])
                        continue
                if s.poll(10):
                    while True:
                        try:
                            frames = s.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._zmq_message(frames)
            end = time.monotonic() + scaled(0.5)
            while time.monotonic() < end:
                if s.poll(50):
                    self._zmq_message(s.recv_multipart())
        finally:
            s.close(linger=0)

    # -- HTTP --

    def _http(self, i):
        rnd = random.Random("%s-h-%d" % (self.seed, i))
        while True:
            n = self.pacer.take()
            if n is None:
                break
            op = _pick(rnd, self.http_mix)
            lid = self._lid(n, "h%d" % i)
            method, args, chunks = OPS[op](lid, rnd, self.service)
            mode = "json"
            if chunks is not None and rnd.random() < 2.0 / 3:
                mode = "sse"
            self.ledger.sent(lid, method, "http", self.timeout, chunks,
                             kind="http-" + mode)
            try:
                self._http_call(lid, method, args, chunks, mode)
            except OSError as e:
                self.ledger.annotate(lid, "HTTP: %s" % e)

    def _http_call(self, lid, method, args, chunks, mode):
        led = self.ledger
        end = led.reqs[lid]["deadline"] + self.grace
        nominal = lambda: max(0.0, end - time.monotonic()) / SCALE
        headers = {"X-Request-Id": lid,
                   "X-Request-Timeout": "%dms" % int(self.timeout * 1000)}
        if mode == "sse":
            headers["Accept"] = "text/event-stream"
        c = HttpConn(self.http_port, host=self.http_host, timeout=nominal())
        try:
            c.send("POST", "/invoke/" + method, headers=headers, json=args)
            status = c.head(nominal())
            if status is None:
                led.annotate(lid, "HTTP: no answer")
                return
            if mode == "sse" and status == 200:
                self._sse(c, lid, nominal)
                return
            body = c.read(nominal())
            try:
                value = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                value = None
            if status == 200:
                if chunks is not None and isinstance(value, list):
                    for item in value:
                        led.chunk(lid, item, "http")
                    led.terminal(lid, "ok", None, "http")
                else:
                    led.terminal(lid, "ok", value, "http")
                return
            code = value.get("code") if isinstance(value, dict) else None
            if isinstance(value, dict) and value.get("request_id") not in \
                    (None, lid):
                led.terminal(value.get("request_id"), "error:%s" % code,
                             value.get("detail"), "http")
                led.annotate(lid, "problem for another id: %r" % value)
                return
            led.terminal(lid, "error:%s" % (code or "http_%d" % status),
                         value.get("detail") if isinstance(value, dict)
                         else body[:200], "http")
        finally:
            c.close()

    def _sse(self, c, lid, nominal):
        led = self.ledger
        ended = False
        while True:
            items = sse_events(c, timeout=nominal(),
                               until=("end", "result", "error"))
            if not items:
                break
            for e in items:
                ev = e.get("event")
                if ev is None and e.get("data") is None:
                    continue                # the retry: block
                try:
                    data = json.loads(e.get("data") or "null")
                except ValueError:
                    data = e.get("data")
                if ev == "chunk":
                    led.chunk(lid, data, "http")
                elif ev in ("end", "result"):
                    led.terminal(lid, "ok", data if ev == "result" else None,
                                 "http")
                    ended = True
                elif ev == "error":
                    code = data.get("code") if isinstance(data, dict) else None
                    led.terminal(lid, "error:%s" % code,
                                 data.get("error") if isinstance(data, dict)
                                 else data, "http")
                    ended = True
                else:
                    led.stray("http", (lid, e))
            if ended:
                # Nothing may follow the terminal event: read to the end.
                for e in sse_events(c, timeout=min(nominal(), 1.0)):
                    if e.get("event") or e.get("data"):
                        led.terminal(lid, "after-end:%s" % e.get("event"),
                                     e.get("data"), "http")
                break
            if c.done or c.eof:
                break
