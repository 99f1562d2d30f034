# fake_origin.py: the machinery of the scripted HTTP origins the segment-edge integration tests
# put behind an edge, so that a test writes only its routes. Standard library only.
#
# A test's origin is a small Python file that imports this module and hands it one function:
#
#     import fake_origin
#     def handle(req):                      # one call per request, on the connection's thread
#         if req.path.startswith("/503/"):
#             req.reply(503, b"busy")
#         else:
#             req.reply(200, b"ok\n", [("Cache-Control", "max-age=60")])
#     fake_origin.main(handle)
#
# and is started with start_origin (tests/lib/edge-lib.sh), which runs
#     python3 FILE PORT REQUEST_LOG [ARGS...]
# with this folder on PYTHONPATH. The file reads its own ARGS from sys.argv[3:].
#
# What main() does:
#   - listens on 127.0.0.1:PORT only and prints "listening on PORT" to stdout once it accepts
#     (start_origin waits for that line); it runs until it is killed (stopped by PID);
#   - one daemon thread per connection;
#   - reads each request head up to its blank line, at most MAX_HEAD bytes (a larger head is
#     answered 431 and the connection closed); a Content-Length body is read and dropped;
#   - writes one line per request to REQUEST_LOG before the handler runs:
#         METHOD TARGET [EXTRA]
#     TARGET as received (query included), EXTRA what log_extra(req) returns, if given; so
#     `grep -c '^GET /path$'` or origin_hits (edge-lib.sh) count the fetches of a path;
#   - keep_alive=False (the default): one request per connection, every head written with
#     req.send_head/req.reply says "Connection: close" and the connection is closed after the
#     handler returns. keep_alive=True: persistent HTTP/1.1 connections (like http.server with
#     protocol_version "HTTP/1.1"): the next request is read after the handler returns, until
#     the client closes or asks for "Connection: close"; a handler that sends a body without
#     a length (e.g. chunked) should not return before it ends it;
#   - a client that goes away while the handler writes (broken pipe, reset) ends that request
#     with "origin gone TARGET after N" on stderr, N the body bytes written (req.write/reply).
import http
import socket
import sys
import threading

MAX_HEAD = 65536


class Request:
    """One request on a connection: what was asked, and the means to answer it."""

    def __init__(self, conn, method, target, version, headers, keep_alive):
        self.conn = conn
        self.method = method
        self.target = target  # as received, query included
        self.path = target.split("?", 1)[0]
        self.version = version
        self.headers = headers  # lower-case name -> value (the last one of a repeated name)
        self.keep_alive = keep_alive  # False: the head says "Connection: close"
        self.sent = 0  # body bytes written with write()/reply()

    def header(self, name, default=""):
        return self.headers.get(name.lower(), default)

    def send_raw(self, data):
        """Bytes as they are: interim responses, hand-made heads."""
        self.conn.sendall(data)

    def send_head(self, status, headers=(), length=None):
        """Status line and headers; Content-Length when length is given; "Connection: close"
        unless the connection is kept alive."""
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        if length is not None:
            head += "Content-Length: %d\r\n" % length
        if not self.keep_alive:
            head += "Connection: close\r\n"
        self.conn.sendall(head.encode("latin-1") + b"\r\n")

    def write(self, data):
        """Body bytes (counted in sent)."""
        self.conn.sendall(data)
        self.sent += len(data)

    def reply(self, status, body=b"", headers=()):
        """A whole response: head with Content-Length, then body."""
        self.send_head(status, headers, len(body))
        self.write(body)


class _Reader:
    """Request heads from a connection; bytes past a head are kept for the next one."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def head(self):
        """The head's text up to its blank line; None when the client closed first; raises
        ValueError when it is larger than MAX_HEAD."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("request head over %d bytes" % MAX_HEAD)
            d = self.conn.recv(65536)
            if not d:
                return None
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if len(head) > MAX_HEAD:
            raise ValueError("request head over %d bytes" % MAX_HEAD)
        return head.decode("latin-1")

    def skip(self, n):
        while len(self.buf) < n:
            d = self.conn.recv(65536)
            if not d:
                break
            self.buf += d
        self.buf = self.buf[n:]


def _parse(head):
    """(method, target, version, headers) of a head's text; None if its request line is not
    METHOD TARGET VERSION. The target is all between the first and the last space."""
    lines = head.split("\r\n")
    line = lines[0]
    first, last = line.find(" "), line.rfind(" ")
    if first < 0 or last <= first:
        return None
    headers = {}
    for h in lines[1:]:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    return line[:first], line[first + 1:last], line[last + 1:], headers


class _Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, line):
        with self.lock, open(self.path, "a") as f:
            f.write(line + "\n")


def _serve_conn(conn, handle, log, log_extra, keep_alive):
    with conn:
        reader = _Reader(conn)
        while True:
            try:
                head = reader.head()
            except ValueError:
                conn.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            except (ConnectionResetError, BrokenPipeError):
                return
            if head is None:
                return
            parsed = _parse(head)
            if parsed is None:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            method, target, version, headers = parsed
            tokens = [t.strip().lower() for t in headers.get("connection", "").split(",")]
            persist = keep_alive and version == "HTTP/1.1" and "close" not in tokens \
                and "transfer-encoding" not in headers
            req = Request(conn, method, target, version, headers, persist)
            line = "%s %s" % (method, target)
            if log_extra:
                line += " " + log_extra(req)
            log.write(line)
            try:
                reader.skip(int(headers.get("content-length", "0") or 0))
                handle(req)
            except (BrokenPipeError, ConnectionResetError):
                sys.stderr.write("origin gone %s after %d\n" % (target, req.sent))
                sys.stderr.flush()
                return
            if not persist:
                return


def main(handle, keep_alive=False, log_extra=None):
    """Serve handle(req) on 127.0.0.1:sys.argv[1], logging requests to sys.argv[2]."""
    port, log = int(sys.argv[1]), _Log(sys.argv[2])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    print("listening on", port, flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=_serve_conn, args=(c, handle, log, log_extra, keep_alive),
                         daemon=True).start()
