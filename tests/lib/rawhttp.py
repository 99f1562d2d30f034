# rawhttp.py: raw-socket HTTP/1.1 helpers for the edge tests' Python parts (requests that curl
# will not send: malformed heads, pipelining, held connections). Import with
# sys.path.insert(0, "$SRC/tests/lib"), or run `python3 rawhttp.py status PORT BYTES`.
import socket
import sys
import threading
import time


def status_of(buf):
    """The status code of the reply that starts buf, as text ("none" without an HTTP/1.1 status
    line)."""
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    return line.split(" ")[1] if line.startswith("HTTP/1.1 ") else "none"


def read_to_end(s):
    """Everything s receives until the server's end of stream."""
    buf = b""
    while True:
        c = s.recv(65536)
        if not c:
            return buf
        buf += c


def status(host, port, data, timeout=10):
    """Send the bytes data on a new connection and return the reply's status code as text,
    or "none" when the server closed, reset or sent no HTTP/1.1 status line in time."""
    s = socket.create_connection((host, port), timeout=timeout)
    buf = b""
    try:
        s.sendall(data)
        while b"\r\n" not in buf:
            c = s.recv(4096)
            if not c:
                break
            buf += c
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    s.close()
    return status_of(buf)


def exchange_all(host, port, data, timeout=10):
    """Send the bytes data on a new connection and return all the server sends until it
    closes (the requests should end with Connection: close)."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(data)
    buf = read_to_end(s)
    s.close()
    return buf


def reply_then(host, port, data, timeout=10):
    """Send the bytes data on a new connection and read the reply to the server's end of
    stream. Returns the socket, still open (the server may be in its lingering close), and the
    reply's status (as status_of)."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(data)
    return s, status_of(read_to_end(s))


def closed_by_server(s, limit=20):
    """True when the server closes the connection s (EOF or reset) within limit seconds."""
    s.settimeout(limit)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def send_and_read(host, port, data, timeout=10, more=None, pace=0, together=True):
    """Send the bytes data on a new connection and read what the server sends until it closes.
    together: send from a second thread while reading (a server that answers before it has read
    everything is heard at once); then, when more (bytes) is given, keep sending it over and over,
    pace seconds apart, until a send fails (the server closed), also after the end of the reply.
    Else send everything first and read after, as simple clients do: a send that fails ends the
    exchange unread. Returns (status, end, sent, seconds): the reply's status code as text
    ("none" when no HTTP/1.1 status line was read), how reading ended ("eof", "reset",
    "timeout", or "send-reset" when a send failed first), the bytes the socket took and the
    seconds from connect to the end of reading and sending."""
    s = socket.create_connection((host, port), timeout=timeout)
    t0 = time.monotonic()
    sent = [0]

    def sender():
        try:
            for i in range(0, len(data), 65536):
                s.sendall(data[i:i + 65536])
                sent[0] += len(data[i:i + 65536])
            while more:
                s.sendall(more)
                sent[0] += len(more)
                time.sleep(pace)
        except OSError:
            return False
        return True

    th = None
    if together:
        th = threading.Thread(target=sender, daemon=True)
        th.start()
    buf = b""
    end = "eof"
    if not together and not sender():
        end = "send-reset"
    try:
        while end == "eof":
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        end = "timeout"
    if th:
        th.join(timeout if more is None else 6 * timeout)
    secs = time.monotonic() - t0
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
    return status_of(buf), end, sent[0], secs


# Requests refused before their end, answered with an error while the client still has bytes on
# the way: a 100 KB head (431), a malformed head and 100 KB more (400), a PUT of 8 MB where
# max_upload is smaller (413) or from an address not in upload_allow (403).
REFUSED = {
    "head": b"GET /a.ts HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
    "malformed": b"GET /a.ts HTTP/1.1\r\nHost : x\r\n\r\n" + b"x" * 100000,
    "put": b"PUT /up/big.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n" +
           b"x" * 8000000,
}


def closed_after_reply(s, gap=0.3):
    """After the reply on s (its end of stream read), is the server's side closed for good? Two
    sends gap seconds apart: a closed socket answers the first with a reset and the second
    fails; a server in its lingering close takes both."""
    try:
        s.send(b"x")
        time.sleep(gap)
        s.send(b"x")
        time.sleep(gap)
        s.send(b"x")
    except OSError:
        return True
    return False


def sends_until_closed(s, limit, gap=0.2):
    """Send a byte on s every gap seconds until a send fails (the server closed the connection
    for good) or limit seconds pass. True when it closed."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        time.sleep(gap)
        try:
            s.send(b"x")
        except OSError:
            return True
    return False


def refused_counts(host, port, kind, tries, together=True):
    """tries exchanges of REFUSED[kind]: a dict from "STATUS/END" to how many ended so."""
    got = {}
    for _ in range(tries):
        st, end, _, _ = send_and_read(host, port, REFUSED[kind], together=together)
        got[st + "/" + end] = got.get(st + "/" + end, 0) + 1
    return got


if __name__ == "__main__":
    # refused PORT KIND TRIES [sequential]: KIND from REFUSED to 127.0.0.1:PORT TRIES times;
    # prints how the exchanges ended ("431/eof=50": status line read, then a clean close).
    if len(sys.argv) in (5, 6) and sys.argv[1] == "refused":
        got = refused_counts("127.0.0.1", int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                             together=len(sys.argv) == 5)
        print(sys.argv[3], " ".join("%s=%d" % kv for kv in sorted(got.items())))
        sys.exit(0)
    # status PORT BYTES: BYTES with backslash escapes (\r, \n, \x16) to 127.0.0.1:PORT.
    if len(sys.argv) != 4 or sys.argv[1] != "status":
        sys.exit("usage: rawhttp.py status PORT BYTES | refused PORT KIND TRIES [sequential]")
    raw = sys.argv[3].encode("latin-1").decode("unicode_escape").encode("latin-1")
    print(status("127.0.0.1", int(sys.argv[2]), raw))
