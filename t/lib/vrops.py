"""vrops: helpers for the operations tests (t/7[1-9]*.t): a gateway whose
configuration file a test rewrites and reloads, its /status.json and
/metrics, and `voidrail ctl`; and what the workers tests look at in /proc.

    gw = OpsGateway({"router": {"max_queue": 5}}).start()
    gw.reload({"router": {"max_queue": 1}})     # write the file, SIGHUP,
                                                # wait until it was read
    gw.gateway()["config_generation"]           # /status.json "gateway"
    gw.metrics()["voidrail_config_generation"]

OpsGateway is vrhttp's HttpGateway: the config is a dict, HTTP listens on
a free port.  write_config() fills in what the test leaves out:
router.bind stays the gateway's first endpoint, http.listen the address
the test talks to (http_port; use_http() moves it), log.level comes from
VR_TEST_LOG_LEVEL.  reload() waits on /metrics, which is much cheaper for
the gateway to make than /status.json (that matters under valgrind).

Stdlib only; every wait is a nominal duration stretched by scaled().
"""

import copy
import json as _json
import os
import re
import signal
import time

from vrtest import at_cleanup, run_voidrail, scaled, to_yaml, wait_until
from vrhttp import HttpGateway

__all__ = ["OpsGateway", "Answers", "registers", "parse_metrics", "alive",
           "group_alive", "stubborn_command"]


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def group_alive(pgid):
    """Some live process is in process group pgid."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def stubborn_command(path):
    """A worker command that ignores SIGTERM, with a child that does not:
    it writes "PID CHILD" to path once it ignores SIGTERM."""
    return ["sh", "-c", 'sleep 600 & trap "" TERM; echo $$ $! > %s; '
            'while :; do sleep 0.1; done' % path]


def parse_metrics(text):
    """{series: value} of a Prometheus text exposition ("name" or
    'name{label="v"}' as the key)."""
    out = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\S+(?:\{[^}]*\})?)\s+(\S+)$", line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def registers(dealer):
    """How often a peers.py dealer sent register (from its wire log)."""
    return sum(1 for _, way, frames in list(dealer.wire)
               if way == "out" and frames and frames[0] == b"register")


class Answers:
    """The answers a raw client (peers.RawPeer) gets, by request_id, in
    whatever order they come:

        box = Answers(peer)
        rid = peer.call("Svc.m", 1)
        box.get(rid)        # "reply" or the error code, None on timeout
        box.body(rid)       # the whole decoded answer"""

    def __init__(self, peer):
        self.peer = peer
        self.bodies = {}

    def body(self, rid, timeout=3.0):
        deadline = time.monotonic() + scaled(timeout)
        while rid not in self.bodies:
            left = (deadline - time.monotonic()) / max(scaled(1.0), 1e-9)
            msg = self.peer.recv(left) if left > 0 else None
            if msg is None:
                return None
            try:
                body = _json.loads(msg[-1].decode("utf-8"))
            except ValueError:
                continue
            if isinstance(body, dict) and "request_id" in body:
                self.bodies[body["request_id"]] = body
        return self.bodies[rid]

    def get(self, rid, timeout=3.0):
        body = self.body(rid, timeout)
        if body is None:
            return None
        return "reply" if body.get("type") == "reply" else body.get("code")


class OpsGateway(HttpGateway):
    """An HttpGateway whose file a test rewrites and reloads."""

    def __init__(self, config=None, **kw):
        super().__init__(config, **kw)
        self.key_headers = {"X-API-Key": self.admin_key} \
            if self.admin_key else {}
        # Worker processes seen in /status.json: each leads a process
        # group of its own, killed at exit in case the gateway could not.
        self.worker_groups = set()
        at_cleanup(self._kill_worker_groups)

    def _kill_worker_groups(self):
        if self.proc is not None:
            self.proc.kill()
        for pgid in self.worker_groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass

    # -- the file --

    def full_config(self, conf):
        """conf with router.bind, http.listen and log.level filled in."""
        conf = copy.deepcopy(conf)
        conf.setdefault("router", {}).setdefault(
            "bind", "tcp://127.0.0.1:%d" % self.port)
        conf.setdefault("http", {}).setdefault(
            "listen", "127.0.0.1:%d" % self.http_port)
        level = os.environ.get("VR_TEST_LOG_LEVEL")
        if level and "level" not in conf.get("log", {}):
            conf.setdefault("log", {})["level"] = level
        return conf

    def write_config(self, conf=None, text=None):
        """Replaces the configuration file (atomically, by rename) with
        conf (a dict, completed by full_config) or with text as it is."""
        if text is None:
            text = to_yaml(self.full_config(conf or {})) + "\n"
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config_path)
        return text

    def use_http(self, port):
        """Sends the test's HTTP requests to port from now on."""
        self.http_port = port

    # -- reloading --

    def reload(self, conf=None, text=None, timeout=10.0, http_port=None):
        """Writes the file (when conf or text is given), sends SIGHUP and
        waits until the gateway counted the reload.  Returns
        gateway.last_reload ({at, ok, error}) or None when no reload was
        counted in time.  http_port: the file moves HTTP there, ask
        there after the signal."""
        before = self.metrics().get("voidrail_config_reloads_total")
        if conf is not None or text is not None:
            self.write_config(conf, text)
        self.signal(signal.SIGHUP)
        if http_port is not None:
            self.use_http(http_port)
        if not wait_until(lambda: self.metrics().get(
                "voidrail_config_reloads_total") not in (None, before),
                timeout):
            return None
        return self.gateway().get("last_reload")

    # -- what it says about itself --

    def status(self):
        """/status.json as a dict ({} when it does not answer)."""
        try:
            r = self.get("/status.json", headers=self.key_headers,
                         timeout=5.0)
        except OSError:
            r = None
        body = r.json() if r is not None and r.status == 200 else None
        return body if isinstance(body, dict) else {}

    def gateway(self):
        return self.status().get("gateway") or {}

    def workers(self, name=None):
        """The "workers" list of /status.json (of entry name), by instance."""
        ws = self.status().get("workers") or []
        self.worker_groups.update(w["pid"] for w in ws
                                  if isinstance(w.get("pid"), int))
        ws = [w for w in ws if name is None or w.get("name") == name]
        return sorted(ws, key=lambda w: (w.get("name"), w.get("instance")))

    def dealer_state(self, dealer_id):
        for d in self.status().get("dealers") or []:
            if d.get("id") == dealer_id:
                return d.get("state")
        return None

    def method_status(self, name):
        for m in self.status().get("methods") or []:
            if m.get("name") == name:
                return m
        return None

    def metrics(self):
        try:
            r = self.get("/metrics", headers=self.key_headers)
        except OSError:
            r = None
        return parse_metrics(r.text if r is not None and r.status == 200
                             else "")

    def log_since(self, mark):
        """The gateway's log after the first `mark` characters."""
        return self.log_text()[mark:]

    # -- voidrail ctl --

    def ctl(self, *args, url=None, timeout=10.0):
        """Runs `voidrail ctl --url URL ARGS...`; (status, out, err)."""
        return run_voidrail(["ctl", "--url", url or self.base]
                            + [str(a) for a in args], timeout=timeout)
