"""vrtest: TAP output, time scaling, processes and the gateway for t/*.t.

A test script starts with

    import os, sys
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
    from vrtest import *

and ends with done_testing().  It prints TAP on stdout (diagnostics on
stderr, as Test::More does) and exits with the number of failed tests.

Time.  Every duration a test waits for is nominal; scaled(seconds)
multiplies it by VR_TEST_TIMEOUT_SCALE (default 1) so that a slow run
(valgrind, ASan) stretches time instead of failing.  The helpers here and in
peers.py take nominal seconds and scale them themselves; a test calls
scaled() only where it compares a measured time with a bound, and
duration() for a gateway timer that must outlast the test's own waits.

Environment:
  VOIDRAIL_BIN            the gateway binary (default: ../src/voidrail)
  VR_TEST_WRAPPER         command prefix for the gateway, split with shlex
                          (e.g. "valgrind -q --error-exitcode=99")
  VR_TEST_TIMEOUT_SCALE   float factor for every wait (default 1)
  VR_TEST_LOG_LEVEL       log.level written into dict configs (default: unset)
  VR_TEST_LONG            "1" runs the long variants (e.g. a > 60 s job)

Cleanup.  Every process, peer and the temporary directory are registered
here and released at exit: on normal exit, on an uncaught exception and on
SIGTERM/SIGINT/SIGHUP/SIGPIPE.  Processes are killed by pid, never by name.
"""

import atexit
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import queue as _queue

__all__ = [
    "plan", "ok", "is_", "isnt", "like", "unlike", "cmp_ok", "diag", "note",
    "done_testing", "skip_all", "skip", "scaled", "sleep", "duration", "wait_until",
    "free_port", "tempdir", "at_cleanup", "Proc", "Gateway", "to_yaml",
    "voidrail_bin", "wrapper", "run_voidrail", "LONG", "SCALE", "T_DIR",
    "BUILD_DIR", "built", "read_file", "place_of",
]

T_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DIR = os.environ.get("VR_BUILDDIR") or os.path.dirname(T_DIR)
SCALE = float(os.environ.get("VR_TEST_TIMEOUT_SCALE") or 1)
_SIGTERM = signal.SIGTERM
LONG = os.environ.get("VR_TEST_LONG", "") not in ("", "0")


def built(path):
    """The absolute path of a program the build makes for the tests (path
    relative to the build directory); skips the whole test when it is
    not built."""
    full = os.path.join(BUILD_DIR, path)
    if not os.access(full, os.X_OK):
        skip_all("%s is not built (make check builds it)" % path)
    return full


def read_file(path):
    """The text of a file, None when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def place_of(text, needle):
    """(line, column), 1-based, of the first needle in text: where a YAML
    file sets a value, as the gateway's FILE:LINE:COL messages say."""
    before = text[:text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def scaled(seconds):
    """A nominal duration stretched by VR_TEST_TIMEOUT_SCALE."""
    return seconds * SCALE


def sleep(seconds):
    """Sleep for a nominal duration (scaled)."""
    time.sleep(scaled(seconds))


def duration(seconds):
    """A config duration for a gateway timer that must outlast the test's
    own (scaled) waits: duration(1.5) is "1500ms", "7500ms" at scale 5."""
    return "%dms" % round(scaled(seconds) * 1000)


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls predicate() until it returns a true value or the (scaled)
    timeout passes; returns the last value."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---- TAP -------------------------------------------------------------------

_tap = {"planned": None, "run": 0, "failed": 0, "done": False}
_tap_lock = threading.Lock()


def _write(stream, text):
    """Writes and flushes; a closed pipe (the harness went away) must not
    keep us from cleaning up, so write errors are ignored."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def _out(line):
    _write(sys.stdout, line + "\n")


def diag(message):
    """Diagnostic lines on stderr, each prefixed with '# '."""
    text = str(message)
    _write(sys.stdout, "")
    _write(sys.stderr, "".join("# " + l + "\n" for l in text.splitlines() or [""]))


def note(message):
    """Informational lines on stdout (shown by prove -v)."""
    for line in str(message).splitlines() or [""]:
        _out("# " + line)


def plan(count):
    """Announces the number of tests up front (1..N)."""
    _tap["planned"] = count
    _out("1..%d" % count)


def skip_all(reason):
    _out("1..0 # SKIP " + reason)
    _tap["done"] = True
    _finish(0)


def skip(reason):
    """One test that did not run, and why (TAP's "# SKIP": prove counts
    it as skipped, not passed)."""
    with _tap_lock:
        _tap["run"] += 1
        number = _tap["run"]
    _out("ok %d # SKIP %s" % (number, reason.replace("\n", " ")))


def _caller():
    """file:line of the test script line that called a TAP function."""
    frame = sys._getframe(1)
    while frame and os.path.basename(frame.f_code.co_filename) in (
            "vrtest.py", "peers.py"):
        frame = frame.f_back
    if not frame:
        return "?"
    return "%s line %d" % (os.path.basename(frame.f_code.co_filename),
                           frame.f_lineno)


def ok(condition, name=""):
    """One test: passes when condition is true."""
    with _tap_lock:
        _tap["run"] += 1
        number = _tap["run"]
        if not condition:
            _tap["failed"] += 1
    name = " - " + name.replace("\n", " ") if name else ""
    _out(("ok %d%s" if condition else "not ok %d%s") % (number, name))
    if not condition:
        diag("  Failed test%s\n  at %s." % (
            " '" + name[3:] + "'" if name else "", _caller()))
    return bool(condition)


def _show(value):
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value))
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):
            pass
    return repr(value)


def is_(got, expected, name=""):
    """Passes when got == expected (deep comparison for dicts and lists)."""
    if ok(got == expected, name):
        return True
    diag("         got: %s\n    expected: %s" % (_show(got), _show(expected)))
    return False


def isnt(got, unexpected, name=""):
    if ok(got != unexpected, name):
        return True
    diag("         got: %s\n    expected: anything else" % _show(got))
    return False


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def like(got, pattern, name=""):
    """Passes when the regular expression matches somewhere in got."""
    if ok(got is not None and re.search(pattern, _text(got), re.M), name):
        return True
    diag("                  %s\n    doesn't match '%s'" % (_show(got), pattern))
    return False


def unlike(got, pattern, name=""):
    if ok(got is not None and not re.search(pattern, _text(got), re.M), name):
        return True
    diag("                  %s\n          matches '%s'" % (_show(got), pattern))
    return False


_OPS = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def cmp_ok(got, op, expected, name=""):
    """Passes when `got op expected` holds, e.g. cmp_ok(t, "<", 0.1)."""
    try:
        result = _OPS[op](got, expected)
    except TypeError:
        result = False
    if ok(result, name):
        return True
    diag("    %s\n        %s\n    %s" % (_show(got), op, _show(expected)))
    return False


def done_testing():
    """Prints the trailing plan (unless plan() was called), cleans up and
    exits with the number of failed tests."""
    _tap["done"] = True
    if _tap["planned"] is None:
        _out("1..%d" % _tap["run"])
    elif _tap["planned"] != _tap["run"]:
        diag("Looks like you planned %d tests but ran %d."
             % (_tap["planned"], _tap["run"]))
        _finish(255)
    if _tap["failed"]:
        diag("Looks like you failed %d test%s of %d." % (
            _tap["failed"], "" if _tap["failed"] == 1 else "s", _tap["run"]))
    _finish(min(_tap["failed"], 254))


# ---- cleanup ---------------------------------------------------------------

_cleanups = []          # callables, run last-registered first
_logs = []              # (title, path) shown when a test fails
_cleaned = threading.Event()


def at_cleanup(fn):
    """Registers fn to run once at exit (LIFO); returns fn."""
    _cleanups.append(fn)
    return fn


def _show_logs():
    for title, path in _logs:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        lines = data.decode("utf-8", "replace").splitlines()
        diag("---- %s (%s)%s" % (title, os.path.basename(path),
             ", last 200 lines" if len(lines) > 200 else ""))
        diag("\n".join(lines[-200:]) if lines else "(empty)")


def _cleanup():
    if _cleaned.is_set():
        return
    _cleaned.set()
    if _tap["failed"] or not _tap["done"]:
        _show_logs()
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:            # cleanup must go on
            diag("cleanup: " + traceback.format_exc())


def _finish(code):
    try:
        _cleanup()
    finally:
        _write(sys.stdout, "")
        _write(sys.stderr, "")
        # Background peer threads are daemons; leave without joining them.
        os._exit(code)


def _excepthook(kind, value, tb):
    try:
        with _tap_lock:
            _tap["run"] += 1
            _tap["failed"] += 1
            number = _tap["run"]
        _out("not ok %d - test script died: %s: %s"
             % (number, kind.__name__, value))
        diag("".join(traceback.format_exception(kind, value, tb)))
    finally:
        _finish(255)


def _on_signal(signum, frame):
    try:
        diag("caught signal %d, cleaning up" % signum)
    finally:
        _finish(128 + signum)


sys.excepthook = _excepthook
atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(_sig, _on_signal)


# ---- ports and files -------------------------------------------------------

_ports = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago and that this
    test has not used before (so that peers left from an earlier gateway
    cannot reach the next one)."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _ports:
            _ports.add(port)
            return port


_tempdir = []


def tempdir():
    """This test's private temporary directory (removed at exit)."""
    if not _tempdir:
        path = tempfile.mkdtemp(prefix="vrtest-")
        _tempdir.append(path)
        at_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))
    return _tempdir[0]


# ---- YAML ------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./:@+-]*\Z")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml_scalar(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)      # a JSON string is a YAML double-quoted one


def to_yaml(value, indent=0):
    """Block-style YAML for nested dicts and lists of scalars/dicts."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = pad + _yaml_scalar(key) + ":"
            if isinstance(item, dict) and item:
                lines.append(head)
                lines.append(to_yaml(item, indent + 2))
            elif isinstance(item, list) and item:
                lines.append(head)
                lines.append(to_yaml(item, indent + 2))
            else:
                lines.append(head + " " + ("{}" if item == {} else
                                           "[]" if item == [] else
                                           _yaml_scalar(item)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2).lstrip()
                lines.append(pad + "- " + body)
            else:
                lines.append(pad + "- " + _yaml_scalar(item))
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


# ---- processes -------------------------------------------------------------

def voidrail_bin():
    return os.environ.get("VOIDRAIL_BIN") or os.path.join(
        os.path.dirname(T_DIR), "src", "voidrail")


def wrapper():
    return shlex.split(os.environ.get("VR_TEST_WRAPPER", ""))


def _clean_env(extra=None):
    """The environment for a child: ours without VOIDRAIL_* (tests are
    hermetic) plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOIDRAIL_")}
    env.update(extra or {})
    return env


def run_voidrail(args, env=None, timeout=10.0):
    """Runs the gateway binary (with VR_TEST_WRAPPER) to completion;
    returns (exit status, stdout text, stderr text).  The status is None
    when it still ran after the (scaled) timeout and had to be killed."""
    argv = wrapper() + [voidrail_bin()] + list(args)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=_clean_env(env))
    try:
        out, err = p.communicate(timeout=scaled(timeout))
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = None
        diag("%s still ran after %.1fs; killed" % (argv, scaled(timeout)))
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


_proc_serial = [0]


class Proc:
    """A child process, killed by pid at cleanup.

    stderr (and stdout unless lines=True) go to a log file in tempdir()
    that is shown as diagnostics when the test fails.  With lines=True,
    stdout is read line by line for expect_line().  cwd: its working
    directory (default: the test's)."""

    def __init__(self, argv, name="proc", env=None, lines=False, cwd=None):
        _proc_serial[0] += 1
        self.name = name
        self.argv = list(argv)
        self.log_path = os.path.join(
            tempdir(), "%s-%d.log" % (name, _proc_serial[0]))
        log = open(self.log_path, "ab")
        try:
            self._p = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if lines else log, stderr=log,
                env=_clean_env(env), close_fds=True, cwd=cwd)
        finally:
            log.close()
        self.pid = self._p.pid
        self.returncode = None
        self.lines = []
        self._lines = _queue.Queue()
        _logs.append(("%s pid %d" % (name, self.pid), self.log_path))
        at_cleanup(self.kill)
        if lines:
            threading.Thread(target=self._read_lines, daemon=True,
                             name="%s-stdout" % name).start()

    def _read_lines(self):
        for raw in iter(self._p.stdout.readline, b""):
            self._lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._p.stdout.close()

    def expect_line(self, pattern, timeout=5.0):
        """Waits for a stdout line matching pattern; returns the match
        (lines before it are kept in self.lines) or None on timeout."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self._lines.get(timeout=left)
            except _queue.Empty:
                return None
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def running(self):
        return self.returncode is None and self._p.poll() is None

    def signal(self, sig):
        """Sends sig to this process (by pid) if it still runs."""
        if self.running():
            os.kill(self.pid, sig)

    def wait(self, timeout=10.0):
        """Exit status (negative: killed by that signal), or None when the
        process still runs after the (scaled) timeout."""
        try:
            self.returncode = self._p.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=_SIGTERM, timeout=10.0):
        """Sends sig and waits; kills with SIGKILL after the timeout and
        then returns None."""
        if self.returncode is not None:
            return self.returncode
        self.signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            diag("%s pid %d did not exit within %.1fs after signal %d; "
                 "killing it" % (self.name, self.pid, scaled(timeout), sig))
            self.kill()
        return rc

    def kill(self):
        """SIGKILL by pid (after SIGCONT in case it is stopped) and reap."""
        if self._p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._p.wait()
        if self.returncode is None:
            self.returncode = self._p.returncode


# ---- the gateway -----------------------------------------------------------

class Gateway:
    """The gateway under test.

    Gateway(config)                 config is a dict (written as YAML) or
                                    YAML text; "%%PORT%%" in text is the
                                    port chosen here.  A dict without
                                    router.bind gets tcp://127.0.0.1:PORT,
                                    without http.listen gets [] (no HTTP).
    Gateway(router_args=[...])      `voidrail router --host 127.0.0.1
                                    --port PORT ARGS...`
    admin_key                       client key for the queries (info(),
                                    methods(), ...); by default the first
                                    plain key of a dict's auth.client_keys
    curve                           (server public, client public, client
                                    secret): the readiness probe and the
                                    queries connect with CURVE
                                    (peers.use_curve)
    cwd                             the gateway's working directory

    start() launches it and waits until it answers router_info; stop()
    signals it and returns its exit status."""

    _admins = 0                     # admin sockets made by this process

    def __init__(self, config=None, router_args=None, env=None, name="gateway",
                 admin_key=None, curve=None, cwd=None):
        if config is None and router_args is None:
            config = {}
        if admin_key is None and isinstance(config, dict):
            keys = config.get("auth", {}).get("client_keys", [])
            keys = [k.get("key") if isinstance(k, dict) else k for k in keys]
            plain = [k for k in keys if not k.startswith("sha256:")]
            admin_key = plain[0] if plain else None
        self.admin_key = admin_key
        self.curve = curve
        self.config = config
        self.router_args = router_args
        self.env = env
        self.cwd = cwd
        self.name = name
        self.proc = None
        self.port = None
        self.endpoint = None
        self.config_path = None
        self._admin = None

    def _argv(self):
        if self.router_args is not None:
            self.endpoint = "tcp://127.0.0.1:%d" % self.port
            return ["router", "--host", "127.0.0.1", "--port", str(self.port)] \
                + [str(a) for a in self.router_args]
        if isinstance(self.config, dict):
            conf = json.loads(json.dumps(self.config))     # deep copy
            router = conf.setdefault("router", {})
            if "bind" not in router:
                router["bind"] = "tcp://127.0.0.1:%d" % self.port
            # HTTP only where a test asks for it (http.listen defaults to
            # the fixed port 8080, which parallel tests would share).
            conf.setdefault("http", {}).setdefault("listen", [])
            level = os.environ.get("VR_TEST_LOG_LEVEL")
            if level and "level" not in conf.get("log", {}):
                conf.setdefault("log", {})["level"] = level
            bind = router["bind"]
            self.endpoint = bind[0] if isinstance(bind, list) else bind
            text = to_yaml(conf) + "\n"
        else:
            text = self.config.replace("%%PORT%%", str(self.port))
            m = re.search(r"(tcp://127\.0\.0\.1:\d+)", text)
            self.endpoint = m.group(1) if m else None
        self.config_path = os.path.join(tempdir(), "%s.yaml" % self.name)
        with open(self.config_path, "w") as f:
            f.write(text)
        return ["-c", self.config_path]

    def start(self, timeout=10.0):
        """Starts the gateway and waits until it answers; retries with a new
        port when the chosen one was taken meanwhile.  Returns self."""
        for attempt in range(3):
            self.port = free_port()
            argv = self._argv()
            self.proc = Proc(wrapper() + [voidrail_bin()] + argv,
                             name=self.name, env=self.env, cwd=self.cwd)
            if self.wait_ready(timeout):
                return self
            if self.proc.running():
                break
            with open(self.proc.log_path, "rb") as f:
                if b"in use" not in f.read():
                    break
        raise RuntimeError("%s did not become ready (exit status %r); see its "
                           "log below" % (self.name, self.proc.wait(0)))

    def wait_ready(self, timeout=10.0):
        """Polls with router_info until any answer arrives; False if the
        process exits or the (scaled) timeout passes."""
        import peers
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if not self.proc.running():
                return False
            probe = peers.RawPeer(self.endpoint, curve=self.curve)
            try:
                probe.send(["router_info", ""])
                if probe.recv(timeout=0.5) is not None:
                    return True
            finally:
                probe.close()
        return False

    # -- queries (through one admin client) --

    def admin(self):
        """A raw client used for the queries below; it authenticates first
        with admin_key (by default the first plain auth.client_keys)."""
        import peers
        if self._admin is None:
            # An identity of its own: the admin of a gateway killed on the
            # same port reconnects to its successor, and ROUTER_HANDOVER
            # would give one identity's replies to whichever came last.
            Gateway._admins += 1
            ident = "vrtest-admin-%d-%d" % (os.getpid(), Gateway._admins)
            self._admin = peers.RawPeer(self.endpoint, identity=ident,
                                        curve=self.curve)
            if self.admin_key is not None:
                self._admin.send(["auth", {"api_key": self.admin_key,
                                           "client_id": ident}])
                self._admin.recv()
        return self._admin

    def ask(self, command, timeout=5.0):
        """Sends [command, ""] and returns the result of the *_ack reply
        (raises AssertionError on another answer)."""
        kind, body = self.admin().command(command, timeout=timeout)
        if kind != command + "_ack" or not isinstance(body, dict) \
                or body.get("type") != "reply":
            raise AssertionError("%s answered %r %r" % (command, kind, body))
        return body["result"]

    def info(self):
        return self.ask("router_info")

    def methods(self):
        return self.ask("methods")

    def clusters(self):
        return self.ask("clusters")

    def queue_status(self):
        return self.ask("queue_status")

    # -- lifecycle --

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        if sig == signal.SIGKILL and self._admin is not None:
            self._admin.close()     # or it would talk to the next gateway
            self._admin = None
        self.proc.signal(sig)

    def stop(self, sig=_SIGTERM, timeout=10.0):
        """Sends sig and returns the exit status (None if it had to be
        killed)."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        return self.proc.stop(sig, timeout)

    def log_text(self):
        with open(self.proc.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
