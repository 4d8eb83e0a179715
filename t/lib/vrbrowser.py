"""A headless chromium for the tests: Debian's /usr/bin/chromium (or
$VR_CHROMIUM, never a downloaded browser) driven by t/browser/status.mjs
with npm playwright-core, one JSON command per line.

    need_browser()      skip_all unless chromium, node, playwright-core
    b = Browser()       started; killed (by process group) at exit
    b.do("open", url=U) and the other commands of status.mjs
    b.eval(JS)          the value of a JavaScript expression in the page
    b.read(), b.wait(predicate)   the /status page as status.mjs reads it
    out_dir()           where screenshots go
"""
import json, os, shutil, signal, subprocess, tempfile, threading, time

from vrtest import *

__all__ = ["need_browser", "Browser", "out_dir"]

BROWSER_DIR = os.path.join(T_DIR, "browser")
SCRIPT = os.path.join(BROWSER_DIR, "status.mjs")
CHROMIUM = os.environ.get("VR_CHROMIUM") or "/usr/bin/chromium"
NODE = shutil.which("node")



def need_browser():
    """Skips the whole test (saying why) unless chromium, node and
    playwright-core are there."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        skip_all("no chromium at %s (apt-get install chromium, or set "
                 "VR_CHROMIUM)" % CHROMIUM)
    if NODE is None:
        skip_all("no node in PATH")
    if not os.path.isfile(os.path.join(BROWSER_DIR, "node_modules",
                                       "playwright-core", "package.json")):
        skip_all("no playwright-core in t/browser/node_modules "
                 "(cd t/browser && npm ci)")


def out_dir():
    """Where screenshots go: $VR_TEST_OUT, else t/out of the build
    directory ($VR_BUILDDIR under make check, else the working directory
    when it has a t/), else a directory of its own that is kept."""
    path = os.environ.get("VR_TEST_OUT")
    build = os.environ.get("VR_BUILDDIR") or os.getcwd()
    if not path and os.path.isdir(os.path.join(build, "t")):
        path = os.path.join(build, "t", "out")
    if path:
        try:
            os.makedirs(path, exist_ok=True)
            return path
        except OSError:
            pass
    return tempfile.mkdtemp(prefix="vr-status-shots-")


class Browser:
    """node status.mjs as a child in a session of its own (so that the
    chromium it starts goes with it), one JSON line per command."""

    def __init__(self):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=tempdir())
        self.log_path = os.path.join(tempdir(), "browser.log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(
            [NODE, SCRIPT, profile, CHROMIUM], cwd=BROWSER_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            start_new_session=True)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()
        at_cleanup(self.kill)

    def _reader(self):
        for raw in iter(self.p.stdout.readline, b""):
            with self.cond:
                self.lines.append(raw)
                self.cond.notify_all()

    def do(self, op, timeout=20.0, **args):
        """Runs one command; its answer (a dict), or None after the scaled
        timeout."""
        args["op"] = op
        args.setdefault("timeout_ms", int(scaled(timeout) * 1000))
        try:
            self.p.stdin.write((json.dumps(args) + "\n").encode())
            self.p.stdin.flush()
        except OSError:
            return None
        deadline = time.monotonic() + scaled(timeout)
        with self.cond:
            while not self.lines:
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))
            raw = self.lines.pop(0)
        try:
            answer = json.loads(raw)
        except ValueError:
            return {"ok": False, "error": "not JSON: %r" % raw}
        if not answer.get("ok"):
            diag("browser %s: %s" % (op, answer.get("error")))
        return answer

    def eval(self, js, timeout=10.0):
        """The value of the JavaScript expression js in the page (JSON
        values only); None when it failed (the error is shown)."""
        a = self.do("eval", timeout=timeout, js=js)
        return a.get("value") if a and a.get("ok") else None

    def read(self):
        a = self.do("read", timeout=10.0)
        return a.get("page") if a and a.get("ok") else None

    def page_errors(self):
        a = self.do("errors", timeout=10.0)
        return a.get("page_errors") if a and a.get("ok") else ["(no answer)"]

    def requests(self):
        a = self.do("errors", timeout=10.0)
        return a.get("requests") if a and a.get("ok") else None

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, predicate, timeout=10.0):
        """Polls the page until predicate(page) is true (scaled timeout);
        returns the last page read (and shows it when the wait failed)."""
        last = [None]

        def probe():
            last[0] = self.read()
            try:
                return last[0] is not None and predicate(last[0])
            except (KeyError, TypeError, AttributeError):
                return False
        if not wait_until(probe, timeout=timeout, interval=0.2):
            diag("page: " + json.dumps(last[0], sort_keys=True)[:3000])
        return last[0] or {}

    def close(self):
        self.do("close", timeout=15.0)
        try:
            self.p.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self):
        """The node process and everything in its session, by process
        group id (the group is the one started here)."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=scaled(5))
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.p.poll() is None:
            self.p.wait()
        self.log.close()
