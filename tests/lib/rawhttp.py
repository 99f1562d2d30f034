# rawhttp.py: raw-socket HTTP/1.1 helpers for the edge tests' Python parts (requests that curl
# will not send: malformed heads, pipelining, held connections). Import with
# sys.path.insert(0, "$SRC/tests/lib"), or run `python3 rawhttp.py status PORT BYTES`.
import socket
import sys


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
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    return line.split(" ")[1] if line.startswith("HTTP/1.1 ") else "none"


def exchange_all(host, port, data, timeout=10):
    """Send the bytes data on a new connection and return all the server sends until it
    closes (the requests should end with Connection: close)."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(data)
    buf = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        buf += c
    s.close()
    return buf


def closed_by_server(s, limit=20):
    """True when the server closes the connection s (EOF or reset) within limit seconds."""
    s.settimeout(limit)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


if __name__ == "__main__":
    # status PORT BYTES: BYTES with backslash escapes (\r, \n, \x16) to 127.0.0.1:PORT.
    if len(sys.argv) != 4 or sys.argv[1] != "status":
        sys.exit("usage: rawhttp.py status PORT BYTES")
    raw = sys.argv[3].encode("latin-1").decode("unicode_escape").encode("latin-1")
    print(status("127.0.0.1", int(sys.argv[2]), raw))
