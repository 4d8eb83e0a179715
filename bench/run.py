#!/usr/bin/python3
"""bench/run.py: the VoidRail benchmark runner (Python standard library only).

Runs every scenario on 127.0.0.1 with free ports.  For each scenario the
reference (zmq_proxy + REP workers, the naive HTTP bridge, libmicrohttpd
alone) and the gateway are run in turn, round after round, each run with
fresh processes; the table shows the medians, their ratio and the target.

    bench/run.py                  3 rounds of 5 s per run (about 10 minutes)
    bench/run.py --quick          every scenario once, briefly (for CI)
    bench/run.py --markdown F     also write the table as Markdown to F
    bench/run.py --only A,B       only these scenarios (names: --list)
    bench/run.py --callgrind      instructions per request, gateway vs
                                  zmq_proxy, under valgrind --tool=callgrind
    bench/run.py --baseline BIN   the broker scenarios also run the gateway
                                  BIN (an older build) in every round: a
                                  before/after in one run

The C programs (loadgen, ref_proxy, ref_worker, vr_echo_dealer, ref_mhd,
ref_bridge, sse_client) are looked for in --bin-dir (default: this folder),
the gateway at --gateway (default: ../src/voidrail).  wrk is needed for the
HTTP scenario.  Every process is started by this script and stopped by its
pid, also on errors and on Ctrl-C.  Exit status: 0 when every scenario ran
(targets missed or not), 1 when one could not run.
"""

import argparse
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = None
TMP = None


class BenchError(Exception):
    pass


# ---- processes ------------------------------------------------------------

class Procs:
    """Every child process, so that each one is stopped by its pid."""

    def __init__(self):
        self.live = []

    def start(self, name, argv, stdout=subprocess.DEVNULL):
        log = open(os.path.join(TMP, "%s.%d.log" % (name, time.monotonic_ns())),
                   "w+")
        p = subprocess.Popen(argv, stdout=stdout, stderr=log,
                             stdin=subprocess.DEVNULL)
        p.bench_name = name
        p.bench_log = log
        self.live.append(p)
        return p

    def stop(self, p, timeout=3.0):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        if p in self.live:
            self.live.remove(p)
        p.bench_log.close()

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p)


PROCS = Procs()


def died(p):
    """'' while p runs; else how it ended (with its stderr's last line)."""
    rc = p.poll()
    if rc is None:
        return ""
    p.bench_log.flush()
    p.bench_log.seek(0)
    lines = [l.strip() for l in p.bench_log.read().splitlines() if l.strip()]
    how = ("signal %d" % -rc) if rc < 0 else ("exit %d" % rc)
    return "%s %s%s" % (p.bench_name, how,
                        (": " + lines[-1][:120]) if lines else "")


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def cpu_s(pid):
    """User + system CPU seconds of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prog(name):
    path = os.path.join(ARGS.bin_dir, name)
    if not os.access(path, os.X_OK):
        raise BenchError("%s not found (build it: make bench-programs)" % path)
    return path


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def http_get(port, path, timeout=1.0):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=timeout) as r:
        return r.status, r.read()


def wait_until(what, fn, timeout=10.0, procs=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in procs:
            if died(p):
                raise BenchError("%s while waiting for %s" % (died(p), what))
        try:
            if fn():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise BenchError("timed out waiting for %s" % what)


# ---- the systems under test -----------------------------------------------

class Gateway:
    """voidrail with a config of its own in a temp dir, plus echo dealers."""

    def __init__(self, dealers=0, capacity=0, extra=None, wrapper=(),
                 binary=None):
        self.zport, self.hport = free_port(), free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.zport
        # Only the addresses: every other setting is the default a user
        # runs with (log level info, the access log on stderr, which goes
        # to a file here), so that their costs are measured too.
        conf = {
            "router": {"bind": self.endpoint},
            "http": {"listen": "127.0.0.1:%d" % self.hport},
        }
        for section, values in (extra or {}).items():
            conf.setdefault(section, {}).update(values)
        path = os.path.join(TMP, "gateway-%d.yaml" % self.zport)
        with open(path, "w") as f:
            for section, values in conf.items():
                f.write("%s:\n" % section)
                for k, v in values.items():
                    f.write("  %s: %s\n" % (k, json.dumps(v)))
        self.proc = PROCS.start("voidrail", list(wrapper)
                                + [binary or ARGS.gateway, "-c", path])
        self.procs = [self.proc]
        wait_until("the gateway's /healthz",
                   lambda: http_get(self.hport, "/healthz")[0] == 200,
                   timeout=30 if wrapper else 10, procs=[self.proc])
        if dealers:
            argv = [prog("vr_echo_dealer"), "-e", self.endpoint,
                    "-n", str(dealers)]
            if capacity:
                argv += ["-c", str(capacity)]
            self.procs.append(PROCS.start("vr_echo_dealer", argv))
            wait_until("%d dealers" % dealers, lambda: json.loads(
                http_get(self.hport, "/router/info")[1])
                ["active_services_count"] >= dealers, procs=self.procs)

    @property
    def pid(self):
        return self.proc.pid

    def check(self):
        return "; ".join(d for d in (died(p) for p in self.procs) if d)

    def stop(self):
        for p in reversed(self.procs):
            PROCS.stop(p)


class RefBroker:
    """ref_proxy with N REP echo workers behind it (one process)."""

    def __init__(self, workers):
        fe, be = free_port(), free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % fe
        self.backend = "tcp://127.0.0.1:%d" % be
        self.proc = PROCS.start("ref_proxy", [prog("ref_proxy"), self.endpoint,
                                              self.backend])
        self.procs = [self.proc, PROCS.start(
            "ref_worker", [prog("ref_worker"), self.backend, str(workers)])]
        time.sleep(0.2)

    @property
    def pid(self):
        return self.proc.pid

    def check(self):
        return "; ".join(d for d in (died(p) for p in self.procs) if d)

    def stop(self):
        for p in reversed(self.procs):
            PROCS.stop(p)


def loadgen(proto, endpoint, sockets, inflight, size, seconds=None,
            warmup=None, requests=0, hold=0, timeout=None):
    """Runs loadgen to its end and returns its JSON result."""
    argv = [prog("loadgen"), "-p", proto, "-e", endpoint, "-n", str(sockets),
            "-k", str(inflight), "-s", str(size),
            "-d", str(seconds if seconds is not None else ARGS.seconds),
            "-w", str(warmup if warmup is not None else ARGS.warmup)]
    if requests:
        argv += ["-r", str(requests)]
    p = PROCS.start("loadgen", argv, stdout=subprocess.PIPE)
    try:
        out, _ = p.communicate(timeout=timeout or (
            (seconds or ARGS.seconds) + (warmup or ARGS.warmup) + 60))
    except subprocess.TimeoutExpired:
        PROCS.stop(p)
        raise BenchError("loadgen did not finish")
    PROCS.stop(p)
    if p.returncode != 0 or not out.strip():
        raise BenchError("loadgen failed: %s" % died(p))
    return json.loads(out.decode().strip().splitlines()[-1])


# ---- the scenarios --------------------------------------------------------
#
# Each scenario has a list of systems; each system is a function that does
# one run and returns {"value": number, ...details}.  Rounds alternate the
# systems.  "judge" turns the medians into (ratio text, verdict).

def zmq_run(proto, sockets, inflight, size, workers=4, capacity=0,
            binary=None):
    def measure(sut, p):
        cpu = cpu_s(sut.pid)
        r = loadgen(p, sut.endpoint, sockets, inflight, size)
        cpu = cpu_s(sut.pid) - cpu
        # The broker's CPU (all threads) per answered request, warm-up
        # included: the cost of a request, whatever the waiting.
        r["broker_cpu_us"] = 1e6 * cpu / max(r["completed"], 1)
        return dict(r, died=sut.check())

    def ref():
        sut = RefBroker(workers)
        try:
            return measure(sut, "rep")
        finally:
            sut.stop()

    def gw():
        sut = Gateway(dealers=workers, capacity=capacity, binary=binary)
        try:
            return measure(sut, "voidrail")
        finally:
            sut.stop()
    return ref if proto == "rep" else gw


def zmq_scenario(name, title, sockets, inflight, size, metric="rps",
                 target=0.8):
    def judge(med):
        ref, gw = med["reference"], med["gateway"]
        if metric == "p50_us":
            diff = gw - ref
            return "%+.0f us" % diff, diff <= target, "<= ref + %d us" % target
        ratio = gw / ref if ref else 0
        return "%.2fx" % ratio, ratio >= target, ">= %.1fx" % target
    systems = [("reference", lambda: zmq_run("rep", sockets, inflight,
                                             size)()),
               ("gateway", lambda: zmq_run("voidrail", sockets, inflight,
                                           size)())]
    if ARGS.baseline:
        systems.append(("baseline", lambda: zmq_run(
            "voidrail", sockets, inflight, size, binary=ARGS.baseline)()))
    return {
        "name": name, "title": title, "metric": metric,
        "unit": "us" if metric == "p50_us" else "req/s",
        "systems": systems, "judge": judge,
    }


def parse_wrk(text):
    def us(v, unit):
        return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise BenchError("cannot read wrk's output:\n" + text)
    r = {"rps": float(m.group(1))}
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        r["p%s_us" % pct] = us(*m.groups()) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    r["socket_errors"] = m.group(1).strip() if m else ""
    m = re.search(r"(\d+) requests in", text)
    r["requests"] = int(m.group(1)) if m else 0
    return r


def wrk(port, path):
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    lua = os.path.join(TMP, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write("wrk.body = '[\"%s\"]'\n" % ("x" * 100))
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
    secs = max(1, int(round(ARGS.seconds)))
    # Warm-up, not counted: 4 connections, so that (with 4 workers) no
    # request is queued when wrk hangs up: a hang-up while queued crashed
    # the gateway before eeb297b, and the measured run must not depend on
    # the warm-up's end.
    subprocess.run(["wrk", "-t1", "-c4", "-d%ds" % max(1, int(ARGS.warmup)),
                    "-s", lua, "http://127.0.0.1:%d%s" % (port, path)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % secs, "--latency",
                          "-s", lua, "http://127.0.0.1:%d%s" % (port, path)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=secs + 60).stdout.decode()
    return parse_wrk(out)


def http_scenario():
    def bridge():
        sut = RefBroker(4)
        port = free_port()
        p = PROCS.start("ref_bridge", [prog("ref_bridge"), str(port),
                                       sut.endpoint])
        try:
            wait_until("ref_bridge", lambda: http_get(port, "/x")[0] == 200,
                       procs=[p])
            r = wrk(port, "/invoke/Echo.echo")
            return dict(r, died="; ".join(x for x in (died(p), sut.check())
                                          if x))
        finally:
            PROCS.stop(p)
            sut.stop()

    def gateway():
        # The bridge's REP workers sit behind zmq_proxy, whose pipes queue
        # requests for them: they never wait for a round trip.  Dealers
        # announcing a capacity get the same pipelining from the gateway,
        # so that this compares HTTP paths, not dispatch policies.
        sut = Gateway(dealers=4, capacity=16)
        try:
            r = wrk(sut.hport, "/invoke/Echo.echo")
            time.sleep(0.3)     # the gateway's end-of-run (disconnects)
            return dict(r, died=sut.check())
        finally:
            sut.stop()

    def mhd():
        port = free_port()
        p = PROCS.start("ref_mhd", [prog("ref_mhd"), str(port)])
        try:
            wait_until("ref_mhd", lambda: http_get(port, "/x")[0] == 200,
                       procs=[p])
            return dict(wrk(port, "/invoke/Echo.echo"), died=died(p))
        finally:
            PROCS.stop(p)

    def judge(med):
        ratio = med["gateway"] / med["reference"] if med["reference"] else 0
        ceiling = med["gateway"] / med["ref_mhd"] if med.get("ref_mhd") else 0
        return ("%.2fx (%.2fx of ref_mhd)" % (ratio, ceiling), ratio >= 1.0,
                ">= 1.0x")
    return {
        "name": "http_invoke",
        "title": "HTTP invoke, keep-alive, 64 connections (wrk -t2 -c64)",
        "metric": "rps", "unit": "req/s",
        "systems": [("reference", bridge), ("gateway", gateway),
                    ("ref_mhd", mhd)],
        "judge": judge,
    }


def sse_scenario(name, title, events, extra=None):
    def gateway():
        sut = Gateway(dealers=1, extra=extra)
        try:
            p = PROCS.start("sse_client", [
                prog("sse_client"), "127.0.0.1", str(sut.hport), "POST",
                "/invoke/Echo.stream", "[%d]" % events],
                stdout=subprocess.PIPE)
            out, _ = p.communicate(timeout=120)
            PROCS.stop(p)
            r = json.loads(out.decode().strip())
            r["complete"] = r["chunks"] == events and r["end"] == 1
            r["value"] = r["events_per_s"]
            return dict(r, died=sut.check())
        finally:
            sut.stop()

    def judge(med):
        runs = RESULTS[name]["gateway"]
        complete = all(r["complete"] for r in runs)
        cut = ", ".join("%d" % r["chunks"] for r in runs if not r["complete"])
        text = "all %d events" % events if complete else \
            "cut after %s of %d events" % (cut, events)
        return text, complete and med["gateway"] >= 100000, \
            ">= 100k events/s, whole stream"
    return {
        "name": name, "title": title, "metric": "value", "unit": "events/s",
        "systems": [("gateway", gateway)], "judge": judge,
    }


def open_streams(port, count, path, procs):
    """count SSE streams, each having sent its first bytes; the sockets."""
    socks, sel = [], selectors.DefaultSelector()
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Accept: text/event-stream\r\n\r\n" % path).encode()
    pending = 0
    deadline = time.monotonic() + 120
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        pending += 1
        # In batches: let the gateway answer before opening more.
        if pending >= 500 or i == count - 1:
            while pending > 0:
                if time.monotonic() > deadline:
                    raise BenchError("streams did not start")
                for p in procs:
                    if died(p):
                        raise BenchError(died(p))
                for key, _ in sel.select(timeout=1.0):
                    data = key.fileobj.recv(4096)
                    sel.unregister(key.fileobj)
                    if not data.startswith(b"HTTP/1.1 200"):
                        raise BenchError("stream refused: %r" % data[:200])
                    pending -= 1
    sel.close()
    return socks


def idle_sse_scenario(streams, small=True):
    # Many idle streams want little memory per connection: MHD's pool
    # (http.connection_memory) is most of it, and MHD touches all of it.
    # small: 4 KiB (headers up to 2 KiB); otherwise the defaults (8 KiB,
    # 4 KiB of headers), about 4 KB more a stream.
    http = {"max_connections": streams + 1000, "max_streams": streams + 1000}
    if small:
        http.update({"connection_memory": "4KiB", "max_header": "2KiB"})
    extra = {"router": {"max_capacity": streams + 1000,
                        "request_timeout": "600s"},
             "http": http}

    def gateway():
        sut = Gateway(dealers=1, capacity=streams + 1000, extra=extra)
        socks = []
        try:
            # Warm-up: a few streams opened and closed.
            for s in open_streams(sut.hport, 50, "/stream/Echo.slow",
                                  sut.procs):
                s.close()
            time.sleep(0.5)
            before = rss_kb(sut.pid)
            socks = open_streams(sut.hport, streams, "/stream/Echo.slow",
                                 sut.procs)
            time.sleep(0.5)
            after = rss_kb(sut.pid)
            per = (after - before) * 1024.0 / streams
            return {"value": per / 1024.0, "rss_before_kb": before,
                    "rss_after_kb": after, "streams": len(socks),
                    "died": sut.check()}
        finally:
            for s in socks:
                s.close()
            sut.stop()

    def judge(med):
        return "%.2f KB/stream" % med["gateway"], med["gateway"] <= 8.0, \
            "<= 8 KB/stream"
    return {
        "name": "sse_idle" if small else "sse_idle_default",
        "title": "%d idle SSE streams (GET /stream/Echo.slow, %s): RSS "
                 "delta per stream" % (streams, "connection_memory 4KiB"
                                       if small else "default settings"),
        "metric": "value", "unit": "KB/stream",
        "systems": [("gateway", gateway)], "judge": judge,
    }


def idle_zmq_scenario(clients=1000, dealers=100):
    def measure(sut, proto):
        argv = [prog("loadgen"), "-p", proto, "-e", sut.endpoint,
                "-n", str(clients), "-k", str(clients), "-s", "100",
                "-r", str(clients), "-d", "60", "-H", "30"]
        p = PROCS.start("loadgen", argv, stdout=subprocess.PIPE)
        try:
            line = p.stdout.readline()      # after every client's answer
            if not line:
                raise BenchError("loadgen failed: %s" % died(p))
            r = json.loads(line.decode())
            time.sleep(0.5)
            return {"value": rss_kb(sut.pid), "answered": r["requests"],
                    "died": sut.check()}
        finally:
            PROCS.stop(p)

    def ref():
        sut = RefBroker(dealers)
        try:
            return measure(sut, "rep")
        finally:
            sut.stop()

    def gw():
        sut = Gateway(dealers=dealers)
        try:
            return measure(sut, "voidrail")
        finally:
            sut.stop()

    def judge(med):
        ratio = med["gateway"] / med["reference"] if med["reference"] else 0
        return "%.2fx" % ratio, ratio <= 1.5, "<= 1.5x"
    return {
        "name": "idle_zmq",
        "title": "%d idle ZMQ clients (one call each) + %d dealers: broker RSS"
                 % (clients, dealers),
        "metric": "value", "unit": "KB RSS",
        "systems": [("reference", ref), ("gateway", gw)], "judge": judge,
    }


def memory_scenario(requests):
    def gateway():
        sut = Gateway(dealers=4)
        try:
            loadgen("voidrail", sut.endpoint, 4, 64, 100,
                    requests=max(requests // 20, 1000), seconds=600)
            time.sleep(1.0)
            before = rss_kb(sut.pid)
            r = loadgen("voidrail", sut.endpoint, 4, 64, 100,
                        requests=requests, seconds=1800, timeout=1900)
            time.sleep(1.0)
            after = rss_kb(sut.pid)
            return {"value": after - before, "rss_before_kb": before,
                    "rss_after_kb": after, "requests": r["requests"],
                    "errors": r["errors"], "died": sut.check()}
        finally:
            sut.stop()

    def judge(med):
        return "%+d KB" % med["gateway"], med["gateway"] <= 1024, \
            "<= +1024 KB"
    return {
        "name": "memory", "rounds": 1,
        "title": "RSS growth over %d ZMQ requests (after a warm-up)"
                 % requests,
        "metric": "value", "unit": "KB",
        "systems": [("gateway", gateway)], "judge": judge,
    }


def scenarios():
    q = ARGS.quick
    return [
        zmq_scenario("broker_100B", "broker, 100 B, 4 client sockets, 64 in "
                     "flight, 4 workers/dealers of capacity 1", 4, 64, 100),
        zmq_scenario("broker_p50", "broker, unloaded round trip p50 "
                     "(1 in flight)", 1, 1, 100, metric="p50_us", target=25),
        zmq_scenario("broker_64KiB", "broker, 64 KiB payloads, 16 in flight",
                     4, 16, 65536),
        zmq_scenario("fan_in", "broker, fan-in: 100 clients x 1 in flight",
                     100, 100, 100),
        http_scenario(),
        sse_scenario("sse_stream", "SSE: one stream of small chunks "
                     "(default http.stream_buffer)",
                     50000 if q else 300000),
        sse_scenario("sse_stream_bigbuf", "SSE: the same, with "
                     "http.stream_buffer: 256MiB (for comparison)",
                     50000 if q else 300000,
                     extra={"http": {"stream_buffer": "256MiB"}}),
        idle_sse_scenario(1000 if q else 10000),
        idle_sse_scenario(1000 if q else 10000, small=False),
        idle_zmq_scenario(),
        memory_scenario(100000 if q else 1000000),
    ]


# ---- running and reporting ------------------------------------------------

RESULTS = {}


def value_of(sc, r):
    v = r.get(sc["metric"]) if sc["metric"] != "value" else r.get("value")
    return v if v is not None else r.get("value")


def run_scenario(sc, rounds):
    RESULTS[sc["name"]] = {name: [] for name, _ in sc["systems"]}
    for rnd in range(rounds):
        for name, fn in sc["systems"]:
            r = fn()
            r["value"] = value_of(sc, r)
            RESULTS[sc["name"]][name].append(r)
            print("  %-14s round %d  %-10s %12.1f %s%s" % (
                sc["name"], rnd + 1, name, r["value"], sc["unit"],
                ("   [" + r["died"] + "]") if r.get("died") else ""),
                file=sys.stderr, flush=True)
    med = {name: statistics.median(r["value"] for r in runs)
           for name, runs in RESULTS[sc["name"]].items()}
    ratio, ok, target = sc["judge"](med)
    notes = sorted({r["died"] for runs in RESULTS[sc["name"]].values()
                    for r in runs if r.get("died")})
    if "baseline" in med:
        # The older gateway, judged the same way, and the rounds' ratios.
        base = sc["judge"](dict(med, gateway=med["baseline"]))[0]
        per = [g["value"] / b["value"] for g, b in zip(
            RESULTS[sc["name"]]["gateway"], RESULTS[sc["name"]]["baseline"])
            if b["value"]]
        notes.append("baseline %s %s (%s)" % (fmt(med["baseline"]),
                                               sc["unit"], base))
        if sc["metric"] != "p50_us" and per:
            notes.append("gateway/baseline per round: median %.2fx"
                         % statistics.median(per))
    for name, runs in RESULTS[sc["name"]].items():
        if runs and "broker_cpu_us" in runs[0]:
            notes.append("%s CPU %.1f us/req" % (name, statistics.median(
                r["broker_cpu_us"] for r in runs)))
        lat = [r for r in runs if r.get("p50_us") is not None
               and r.get("p99_us") is not None and sc["unit"] != "us"]
        if lat:
            notes.append("%s p50 %s p99 %s us" % (
                name, fmt(statistics.median(r["p50_us"] for r in lat)),
                fmt(statistics.median(r["p99_us"] for r in lat))))
    errors = sum(r.get("errors", 0) + r.get("non2xx", 0)
                 for runs in RESULTS[sc["name"]].values() for r in runs)
    if errors:
        notes.append("%d error answers" % errors)
    return {"name": sc["name"], "title": sc["title"], "unit": sc["unit"],
            "medians": med, "ratio": ratio, "ok": ok, "target": target,
            "notes": notes}


def fmt(v):
    if v is None:
        return "-"
    return "%.1f" % v if abs(v) < 100 else "%.0f" % v


def table(rows, markdown):
    head = ["scenario", "unit", "reference", "gateway", "result", "target",
            "met", "notes"]
    body = []
    for r in rows:
        m = r["medians"]
        ref = m.get("reference")
        refs = fmt(ref)
        if "ref_mhd" in m:
            refs += " (ref_mhd %s)" % fmt(m["ref_mhd"])
        body.append([r["name"], r["unit"], refs, fmt(m.get("gateway")),
                     r["ratio"], r["target"], "yes" if r["ok"] else "NO",
                     "; ".join(r["notes"])])
    if markdown:
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |"
                  for row in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(row[i]) for row in body + [head]) for i in range(7)]
    out = []
    for row in [head] + body:
        out.append("  ".join(c.ljust(widths[i]) if i < 7 else c
                             for i, c in enumerate(row)).rstrip())
    return "\n".join(out) + "\n"


# ---- callgrind: instructions per request ------------------------------------

def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise BenchError("no totals in %s" % path)


def callgrind_self(path, top=25):
    """The functions with the most instructions of their own (self cost),
    read from a callgrind dump: [(instructions, "function [object]")]."""
    names, objs, cost = {"fn": {}, "ob": {}}, {}, {}
    fn = ob = None
    skip = False

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text.strip())
        if not m:
            return text.strip()
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), "?")
    with open(path) as f:
        for line in f:
            if skip:
                skip = False
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("fn="):
                fn = name("fn", line[3:])
                objs[fn] = os.path.basename(ob or "?")
            elif line.startswith(("cob=", "cfn=", "cfi=", "cfl=")):
                if line.startswith(("cob=", "cfn=")):
                    name("ob" if line.startswith("cob=") else "fn", line[4:])
            elif line.startswith("calls="):
                skip = True         # the next line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2 and fn is not None:
                    cost[fn] = cost.get(fn, 0) + int(parts[1])
    best = sorted(cost.items(), key=lambda kv: -kv[1])[:top]
    return [(c, "%s [%s]" % (f, objs.get(f, "?"))) for f, c in best]


def callgrind(requests):
    """Instructions per request of the broker process, gateway vs zmq_proxy
    (all threads, libzmq's I/O thread included), 4 sockets x 64 in flight."""
    if shutil.which("valgrind") is None:
        raise BenchError("valgrind is not installed")
    report = []
    for name in ("reference", "gateway"):
        out = os.path.join(ARGS.callgrind_dir or TMP, "callgrind.%s" % name)
        wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file="
                   + out + ".%p", "--separate-threads=no"]
        if name == "gateway":
            sut = Gateway(dealers=4, wrapper=wrapper)
            proto = "voidrail"
        else:
            fe, be = free_port(), free_port()
            sut = RefBroker.__new__(RefBroker)
            sut.endpoint = "tcp://127.0.0.1:%d" % fe
            sut.proc = PROCS.start("ref_proxy", wrapper + [
                prog("ref_proxy"), sut.endpoint, "tcp://127.0.0.1:%d" % be])
            sut.procs = [sut.proc, PROCS.start("ref_worker", [
                prog("ref_worker"), "tcp://127.0.0.1:%d" % be, "4"])]
            time.sleep(3)
            proto = "rep"
        try:
            loadgen(proto, sut.endpoint, 4, 64, 100, requests=2000,
                    seconds=600)
            subprocess.run(["callgrind_control", "-z", str(sut.pid)],
                           stdout=subprocess.DEVNULL, check=True)
            r = loadgen(proto, sut.endpoint, 4, 64, 100, requests=requests,
                        seconds=600, timeout=900)
            subprocess.run(["callgrind_control", "-d", "measured",
                            str(sut.pid)], stdout=subprocess.DEVNULL,
                           check=True)
            time.sleep(1)
            dump = "%s.%d.1" % (out, sut.pid)
            total = callgrind_totals(dump)
            per = total / r["requests"]
            top = "\n".join("%12d %5.1f%% %7.0f/req  %s" % (
                c, 100.0 * c / total, c / r["requests"], f)
                for c, f in callgrind_self(dump))
            report.append("== %s: %d requests, %d instructions, %.0f per "
                          "request (%.1f req/s under callgrind)\n%s\n" % (
                              name, r["requests"], total, per, r["rps"], top))
        finally:
            sut.stop()
    return "\n".join(report)


# ---- main -----------------------------------------------------------------

def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="each scenario once, briefly")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--markdown", metavar="FILE")
    ap.add_argument("--json", metavar="FILE", help="every run's raw result")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--callgrind", type=int, nargs="?", const=20000,
                    metavar="REQUESTS", help="instructions per request")
    ap.add_argument("--callgrind-dir", metavar="DIR",
                    help="keep the callgrind dumps there")
    ap.add_argument("--bin-dir", default=HERE)
    ap.add_argument("--gateway",
                    default=os.path.join(HERE, "..", "src", "voidrail"))
    ap.add_argument("--baseline", metavar="BIN",
                    help="an older gateway, run in the broker scenarios' "
                    "rounds too")
    ARGS = ap.parse_args()
    if ARGS.quick:
        ARGS.rounds, ARGS.seconds, ARGS.warmup = 1, 1.0, 0.3
    # 10k streams: the gateway and this script need the fds.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    TMP = tempfile.mkdtemp(prefix="voidrail-bench-")
    failed = False
    try:
        if ARGS.callgrind:
            print(callgrind(ARGS.callgrind))
            return 0
        all_sc = scenarios()
        if ARGS.list:
            for sc in all_sc:
                print("%-18s %s" % (sc["name"], sc["title"]))
            return 0
        if ARGS.only:
            names = ARGS.only.split(",")
            all_sc = [sc for sc in all_sc if sc["name"] in names]
        rows = []
        loads = []
        for sc in all_sc:
            loads.append(loadavg())
            print("# %s   (load average %s)" % (sc["title"], loads[-1]),
                  file=sys.stderr, flush=True)
            try:
                rows.append(run_scenario(sc, min(ARGS.rounds,
                                                 sc.get("rounds", 99))))
            except BenchError as e:
                failed = True
                print("  %s: could not run: %s" % (sc["name"], e),
                      file=sys.stderr, flush=True)
                rows.append({"name": sc["name"], "title": sc["title"],
                             "unit": sc["unit"], "medians": {},
                             "ratio": "-", "ok": False, "target": "-",
                             "notes": ["could not run: %s"
                                       % str(e).splitlines()[0]]})
            finally:
                PROCS.stop_all()
        footer = ("\n%s; %d round(s) of %.0f s (+%.0f s warm-up) per run; "
                  "load average at each scenario's start: %s\n" % (
                      time.strftime("%Y-%m-%d %H:%M:%S"), ARGS.rounds,
                      ARGS.seconds, ARGS.warmup, ", ".join(loads)))
        print(table(rows, False) + footer)
        if ARGS.markdown:
            with open(ARGS.markdown, "w") as f:
                f.write(table(rows, True) + footer)
        if ARGS.json:
            with open(ARGS.json, "w") as f:
                json.dump(RESULTS, f, indent=1, default=str)
    except KeyboardInterrupt:
        failed = True
    finally:
        PROCS.stop_all()
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
