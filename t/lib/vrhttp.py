"""vrhttp: an HTTP client, a streaming reader and an SSE parser for the
tests of the gateway's HTTP front end (t/9*.t).

    gw = HttpGateway({"router": {...}, "http": {"keepalive": "200ms"}}).start()
    r = gw.post("/invoke/RefService.echo", json=["hi"])
    r.status, r.header("X-Request-Id"), r.json()
    s = gw.open("POST", "/invoke/RefService.count", json=[3],
                headers={"Accept": "text/event-stream"})
    s.head()                      # status and headers
    events = sse_events(s)        # until the stream ends

HttpGateway is vrtest's Gateway with http.listen on a free 127.0.0.1 port
(vrtest's Gateway turns HTTP off unless the config gives a listen address);
start() also waits until GET /healthz answers.  TestCA makes certificates
for http.tls with openssl; HttpConn(port, tls=ca.context()) speaks HTTPS.

The client speaks HTTP/1.1 on a plain socket, so that a test controls
every byte: what it sends (a Content-Length without the body, huge
headers), when it reads (or does not), and when it hangs up.  Bodies in
Content-Length, chunked or close-delimited form are decoded.  Every wait
is a nominal duration stretched by vrtest.scaled().

Stdlib only.
"""

import json as _json
import os
import socket
import ssl
import subprocess
import time
import urllib.parse

from vrtest import Gateway, at_cleanup, free_port, scaled, tempdir

__all__ = [
    "HttpGateway", "Response", "HttpConn", "SSEParser", "sse_events",
    "ndjson_lines", "PROBLEM_KEYS", "problem_of", "parse_server_timing",
    "quote_json", "TestCA",
]

PROBLEM_KEYS = ("type", "title", "status", "detail", "code", "request_id")


def quote_json(value):
    """A JSON value URL-encoded for a query string (?args=...)."""
    return urllib.parse.quote(_json.dumps(value), safe="")


# ---- responses -------------------------------------------------------------

class Response:
    """A complete HTTP response: status, reason, headers (a list of
    (name, value) in arrival order), body (bytes)."""

    def __init__(self, status, reason, headers, body, elapsed=None):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name, default=None):
        """The first header called name (case-insensitive), or default."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def content_type(self):
        """The media type without parameters, lower case ("" if none)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body as JSON; None when it is not JSON."""
        try:
            return _json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def __repr__(self):
        return "Response(%r, %r, %r)" % (self.status, self.headers,
                                         self.body[:300])


def problem_of(resp):
    """A short description of how resp differs from an RFC 9457 problem
    (problem+json with type, title, status, detail, code, request_id;
    status equal to the HTTP status; request_id equal to X-Request-Id), or
    "" when it is one.  Meant for is_(problem_of(r), "", ...)."""
    if resp is None:
        return "(no response)"
    if resp.content_type != "application/problem+json":
        return "Content-Type is %r" % resp.header("Content-Type")
    body = resp.json()
    if not isinstance(body, dict):
        return "body is not a JSON object: %r" % resp.body[:200]
    missing = [k for k in PROBLEM_KEYS if k not in body]
    if missing:
        return "missing %s in %r" % (missing, body)
    if body["status"] != resp.status:
        return "status %r in the body, %r on the wire" % (body["status"],
                                                          resp.status)
    for k in ("type", "title", "detail", "code", "request_id"):
        if not isinstance(body[k], str) or not body[k]:
            return "%s is %r" % (k, body[k])
    if body["request_id"] != resp.header("X-Request-Id"):
        return "request_id %r, X-Request-Id %r" % (body["request_id"],
                                                    resp.header("X-Request-Id"))
    return ""


def parse_server_timing(value):
    """{"queue": N, "dealer": N} from 'queue;dur=N, dealer;dur=N'; None
    when value does not have that form."""
    if value is None:
        return None
    out = {}
    for part in value.split(","):
        bits = [b.strip() for b in part.split(";")]
        if len(bits) != 2 or not bits[1].startswith("dur="):
            return None
        try:
            out[bits[0]] = float(bits[1][4:])
        except ValueError:
            return None
    return out


# ---- the connection ----------------------------------------------------------

class HttpConn:
    """One HTTP/1.1 connection on a socket of its own.

    send(method, path, headers, body) writes a request; head() reads the
    status line and headers; read() / read_some() the (decoded) body.  With
    tls (an ssl.SSLContext, such as TestCA.context()) it speaks HTTPS.  The
    connection is closed at cleanup."""

    def __init__(self, port, host="127.0.0.1", rcvbuf=None, timeout=5.0,
                 tls=None):
        self.host = host
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so that the window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(scaled(timeout))
        self.sock.connect((host, port))
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.eof = False            # the server closed the connection
        self.status = None
        self.reason = None
        self.headers = None
        self.sent_at = None
        self._mode = None           # "length", "chunked", "close", "none"
        self._left = 0              # bytes left: of the body or the chunk
        self._done = False          # the body is complete
        at_cleanup(self.close)

    # -- low level --

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def close_tls(self):
        """Closes an HTTPS connection cleanly, as curl does: TLS
        close_notify first (without waiting for the server's), then the
        TCP close."""
        if self.sock is not None:
            self.sock.settimeout(scaled(0.2))
            try:
                self.sock.unwrap()
            except (OSError, ValueError):
                pass                # the server's close_notify did not come
        self.close()

    def abort(self):
        """Hangs up at once with a reset (SO_LINGER 0)."""
        if self.sock is not None:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        self.close()

    def _fill(self, deadline):
        """Reads more into buf; False on timeout or end of stream."""
        if self.eof or self.sock is None:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send_raw(self, data):
        self.sent_at = time.monotonic()
        self.sock.sendall(data)

    def send(self, method, path, headers=None, body=None, json=None,
             content_length=None):
        """Writes one request.  body: bytes or str; json: a value sent as
        JSON (Content-Type application/json unless headers give one).
        content_length overrides the Content-Length header (a test may
        announce a body it never sends)."""
        hdrs = [("Host", "%s:%d" % (self.host, self.port))]
        given = {k.lower() for k, _ in _header_items(headers)}
        if json is not None:
            body = _json.dumps(json)
            if "content-type" not in given:
                hdrs.append(("Content-Type", "application/json"))
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs += _header_items(headers)
        if content_length is not None:
            hdrs.append(("Content-Length", str(content_length)))
        elif body is not None and "content-length" not in given \
                and "transfer-encoding" not in given:
            hdrs.append(("Content-Length", str(len(body))))
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n"
        self.send_raw(head.encode("utf-8") + (body or b""))
        self.status = None
        self._done = False
        return self

    def head(self, timeout=5.0):
        """Reads the status line and headers; returns the status (None on
        timeout or when the connection closed first)."""
        if self.status is not None:
            return self.status
        deadline = time.monotonic() + scaled(timeout)
        while True:
            line = self._line(deadline)
            if line is None:
                return None
            if line:
                break                   # (skip stray empty lines)
        parts = line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        while True:
            line = self._line(deadline)
            if line is None:
                return None
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip(), v.strip()))
        self.reason = reason
        self.headers = headers
        self.status = status
        if status in (204, 304) or 100 <= status < 200:
            self._mode, self._done = "none", True
        elif any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                 for k, v in headers):
            self._mode, self._left = "chunked", 0
        else:
            cl = [v for k, v in headers if k.lower() == "content-length"]
            if cl:
                self._mode, self._left = "length", int(cl[0])
                self._done = self._left == 0
            else:
                self._mode = "close"
        return status

    def header(self, name, default=None):
        for k, v in self.headers or []:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def done(self):
        """The whole body has been read (or the server closed)."""
        return self._done

    def read_some(self, timeout=5.0):
        """The next decoded body bytes: b"" when the body is complete,
        None when nothing arrives within the (scaled) timeout."""
        if self.status is None and self.head(timeout) is None:
            return b"" if self.eof else None
        deadline = time.monotonic() + scaled(timeout)
        while True:
            if self._done:
                return b""
            if self._mode == "length":
                if not self.buf and not self._fill(deadline):
                    if self.eof:
                        self._done = True
                        return b""
                    return None
                data = self.buf[:self._left]
                self.buf = self.buf[len(data):]
                self._left -= len(data)
                self._done = self._left == 0
                return data
            if self._mode == "close":
                if not self.buf and not self._fill(deadline):
                    if self.eof:
                        self._done = True
                        return b""
                    return None
                data, self.buf = self.buf, b""
                return data
            # chunked
            if self._left == 0:
                line = self._line(deadline)
                if line is None:
                    if self.eof:
                        self._done = True
                        return b""
                    return None
                if not line:
                    continue            # the CRLF after a chunk
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while True:         # trailers up to the empty line
                        t = self._line(deadline)
                        if not t:
                            break
                    self._done = True
                    return b""
                self._left = size
            if not self.buf and not self._fill(deadline):
                if self.eof:
                    self._done = True
                    return b""
                return None
            data = self.buf[:self._left]
            self.buf = self.buf[len(data):]
            self._left -= len(data)
            if data:
                return data

    def read(self, timeout=5.0):
        """The rest of the body (until complete, or what came within the
        scaled timeout)."""
        deadline = time.monotonic() + scaled(timeout)
        out = b""
        while True:
            left = (deadline - time.monotonic()) / max(scaled(1.0), 1e-9)
            if left <= 0:
                return out
            data = self.read_some(left)
            if not data:
                return out
            out += data

    def response(self, timeout=5.0):
        """The whole response as a Response (None when no head arrived)."""
        t0 = self.sent_at or time.monotonic()
        if self.head(timeout) is None:
            return None
        body = self.read(timeout)
        return Response(self.status, self.reason, list(self.headers), body,
                        time.monotonic() - t0)

    def next_response(self, timeout=5.0):
        """The response to the next request sent on this connection
        (pipelined), once the one before was read: a Response or None."""
        self.status = None
        self._done = False
        return self.response(timeout)

    def closed_by_server(self, timeout=2.0):
        """True when the server closes the connection within the timeout
        (any bytes still in flight are discarded)."""
        deadline = time.monotonic() + scaled(timeout)
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                return False
            self.buf = b""
        return True


def _header_items(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


# ---- SSE -------------------------------------------------------------------

class SSEParser:
    """Parses text/event-stream (the WHATWG rules): feed() bytes, get back
    the items completed so far.  An item is

        {"id": str|None, "event": str|None, "data": str|None,
         "retry": int|None, "lines": [raw lines of the block]}

    for a block of fields ended by a blank line (data: lines joined with
    "\\n"; a block with only retry: is an item too, so the retry hint can
    be seen), or {"comment": text} for a ": text" line, at once."""

    def __init__(self):
        self._pending = b""
        self._block = None

    def feed(self, data):
        self._pending += data
        items = []
        while True:
            cut = _line_end(self._pending)
            if cut is None:
                return items
            end, nxt = cut
            raw = self._pending[:end].decode("utf-8", "replace")
            self._pending = self._pending[nxt:]
            if raw == "":
                if self._block is not None:
                    b = self._block
                    lines = b.pop("_data")
                    b["data"] = "\n".join(lines) if b.pop("_has_data") \
                        else None
                    items.append(b)
                    self._block = None
                continue
            if raw.startswith(":"):
                text = raw[1:]
                items.append({"comment": text[1:] if text.startswith(" ")
                              else text})
                continue
            if self._block is None:
                self._block = {"id": None, "event": None, "retry": None,
                               "lines": [], "_data": [], "_has_data": False}
            b = self._block
            b["lines"].append(raw)
            field, colon, value = raw.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if field == "data":
                b["_data"].append(value)
                b["_has_data"] = True
            elif field == "event":
                b["event"] = value
            elif field == "id":
                b["id"] = value
            elif field == "retry":
                b["retry"] = int(value) if value.isdigit() else value
            else:
                b.setdefault("unknown", []).append(raw)


def _line_end(buf):
    """(end of the first line, start of the next) in buf, or None.  CR,
    LF and CRLF end lines; a CR at the very end waits for more."""
    for i, ch in enumerate(buf):
        if ch == 0x0A:
            return i, i + 1
        if ch == 0x0D:
            if i + 1 == len(buf):
                return None
            return (i, i + 2) if buf[i + 1] == 0x0A else (i, i + 1)
    return None


def sse_events(conn, timeout=5.0, until=("end", "result", "error"),
               comments=False, count=None):
    """Reads SSE items from an HttpConn until the stream ends, an event
    whose name is in `until` arrived, `count` items arrived, or the
    (scaled) timeout passed.  Comments are included when comments=True."""
    parser = getattr(conn, "_sse", None)
    if parser is None:
        parser = conn._sse = SSEParser()
        conn._sse_items = []
    items = []
    deadline = time.monotonic() + scaled(timeout)
    while True:
        while conn._sse_items:
            item = conn._sse_items.pop(0)
            if "comment" in item and not comments:
                continue
            items.append(item)
            if (until and item.get("event") in until) or \
                    (count is not None and len(items) >= count):
                return items
        left = (deadline - time.monotonic()) / max(scaled(1.0), 1e-9)
        if left <= 0:
            return items
        data = conn.read_some(left)
        if not data:
            return items
        conn._sse_items.extend(parser.feed(data))


def ndjson_lines(conn, timeout=5.0, count=None):
    """Reads an NDJSON body: a list of (arrival time, decoded line) until
    the body ends, `count` lines came, or the (scaled) timeout passed."""
    out = []
    pending = getattr(conn, "_nd", b"")
    deadline = time.monotonic() + scaled(timeout)
    while count is None or len(out) < count:
        while b"\n" in pending and (count is None or len(out) < count):
            line, pending = pending.split(b"\n", 1)
            try:
                value = _json.loads(line.decode("utf-8"))
            except ValueError:
                value = ("(not JSON)", line)
            out.append((time.monotonic(), value))
        if count is not None and len(out) >= count:
            break
        left = (deadline - time.monotonic()) / max(scaled(1.0), 1e-9)
        if left <= 0:
            break
        data = conn.read_some(left)
        if not data:
            if pending:
                out.append((time.monotonic(), ("(no newline)", pending)))
                pending = b""
            break
        pending += data
    conn._nd = pending
    return out


# ---- certificates ------------------------------------------------------------

class TestCA:
    """A certificate authority of the test's own, made with openssl (which
    the test must check for) in `directory` (the test's temp dir): clients
    trust ca.pem (context()); issue() makes certificates for 127.0.0.1."""

    def __init__(self, directory=None):
        self.dir = directory or tempdir()
        self.ca_pem = self.path("ca.pem")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      self.path("ca.key"), "-out", self.ca_pem, "-days", "2",
                      "-subj", "/CN=vrtest-ca")

    @staticmethod
    def _openssl(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, cn):
        """NAME.key (P-256) and NAME.pem for 127.0.0.1, signed by the CA,
        with subject CN cn; returns (certificate path, key path)."""
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      self.path(name + ".key"), "-out",
                      self.path(name + ".csr"), "-subj", "/CN=" + cn)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        self._openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA",
                      self.ca_pem, "-CAkey", self.path("ca.key"),
                      "-CAcreateserial", "-days", "2", "-out",
                      self.path(name + ".pem"), "-extfile",
                      self.path(name + ".ext"))
        return self.path(name + ".pem"), self.path(name + ".key")

    def context(self):
        """A client's TLS context that trusts this CA."""
        return ssl.create_default_context(cafile=self.ca_pem)


# ---- the gateway -------------------------------------------------------------

class HttpGateway(Gateway):
    """vrtest's Gateway with the HTTP front end on a free 127.0.0.1 port
    (config: a dict; its http section is kept, listen is set here).

    http_port    the port
    request()    one request on a fresh connection: a Response
    get/post/delete
    open()       a request whose answer the test reads itself: HttpConn"""

    def __init__(self, config=None, **kw):
        conf = _json.loads(_json.dumps(config or {}))
        self.http_port = free_port()
        conf.setdefault("http", {})["listen"] = "127.0.0.1:%d" % self.http_port
        super().__init__(conf, **kw)

    def start(self, timeout=10.0):
        for attempt in range(3):
            try:
                super().start(timeout)
                break
            except RuntimeError:
                # The HTTP port was taken meanwhile: try another one.
                if attempt == 2 or "cannot listen for HTTP" not in \
                        self.log_text():
                    raise
                self.http_port = free_port()
                self.config["http"]["listen"] = "127.0.0.1:%d" % self.http_port
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            try:
                r = self.get("/healthz", timeout=1.0)
                if r is not None and r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s: GET /healthz on port %d did not answer 200"
                           % (self.name, self.http_port))

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.http_port

    def conn(self, **kw):
        return HttpConn(self.http_port, **kw)

    def open(self, method, path, headers=None, body=None, json=None,
             rcvbuf=None, content_length=None):
        """Sends one request on a new connection and returns the HttpConn
        (not yet read)."""
        c = HttpConn(self.http_port, rcvbuf=rcvbuf)
        return c.send(method, path, headers=headers, body=body, json=json,
                      content_length=content_length)

    def request(self, method, path, headers=None, body=None, json=None,
                timeout=5.0, content_length=None):
        """One request on a new connection; the Response (None if no
        answer came within the scaled timeout)."""
        c = self.open(method, path, headers=headers, body=body, json=json,
                      content_length=content_length)
        try:
            return c.response(timeout)
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)
