#!/bin/bash
# edge_timeouts: every phase of a connection has its bound: a request body that trickles in (a
# byte every 0.5 s for Content-Length 100000000) is closed by timeouts.body like a header trickle
# by timeouts.header_read; a client that reads nothing is closed by timeouts.send. Only "closed
# within a generous bound" is asserted, never a time.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root/v"
head -c 1000 /dev/urandom >"$T/root/v/small.ts"
truncate -s 64M "$T/root/v/big.ts"
cat >"$T/t.yaml" <<YAML
timeouts: {header_read: 2s, body: 2s, idle: 3s, send: 2s}
YAML
PO=$(free_port)
start_edge origin -c "$T/t.yaml" --listen 127.0.0.1:$PO --root "$T/root"
PE=$(free_port)
start_edge edge -c "$T/t.yaml" --listen 127.0.0.1:$PE --origin http://127.0.0.1:$PO

python3 - "$PO" "$PE" <<'PY' | tee "$T/timeouts.out"
import socket, sys, time
po, pe = int(sys.argv[1]), int(sys.argv[2])
BOUND = 20  # generous: the configured bounds are 2 s

def trickle(port, head, limit=BOUND):
    """Send head, then a byte every 0.5 s; True when the server closes before limit."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < limit:
            s.sendall(b"x")
            s.settimeout(0.5)
            try:
                if s.recv(65536) == b"":
                    return True
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        return True
    finally:
        s.close()
    return False

big_put = b"PUT /up/trickle.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
print("%s: origin: a PUT body trickle is closed" % ("ok" if trickle(po, big_put) else "FAIL"))
get_body = b"GET /v/small.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
print("%s: edge: a GET body trickle is closed" % ("ok" if trickle(pe, get_body) else "FAIL"))
chunked = b"PUT /up/chunked.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n"
print("%s: origin: a chunked body trickle is closed" % ("ok" if trickle(po, chunked) else "FAIL"))
head_trickle = b"GET /v/small.ts HTTP/1.1\r\nHost: x\r\nX-Slow: "
print("%s: edge: a header trickle is closed" % ("ok" if trickle(pe, head_trickle) else "FAIL"))

def send_stall(port, path):
    """Ask for a large body and read nothing; then read: True when the server had closed
    (EOF before the whole body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(8)  # send timeout 2 s: closed long before
    got = 0
    s.settimeout(BOUND)
    try:
        while True:
            c = s.recv(1 << 20)
            if not c:
                break
            got += len(c)
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False, got
    s.close()
    return got < 64 * 1024 * 1024, got

ok, got = send_stall(po, b"/v/big.ts")
print("%s: origin: a client that reads nothing is closed (%d bytes taken)" % ("ok" if ok else "FAIL", got))
ok, got = send_stall(pe, b"/v/big.ts")
print("%s: edge: a client that reads nothing is closed (%d bytes taken)" % ("ok" if ok else "FAIL", got))

# Nothing of the trickled uploads was kept.
s = socket.create_connection(("127.0.0.1", po), timeout=10)
s.sendall(b"GET /up/trickle.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
r = s.recv(100)
print("%s: the cut upload left no file (%s)" % ("ok" if b" 404 " in r else "FAIL", r[:20]))
PY
checks_from "$T/timeouts.out"
check "no temporary upload files left" bash -c "[ -z \"\$(find '$T/root' -name '.*.tmp.*')\" ]"
expect_eq "origin still serves" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PO/v/small.ts)" 200
expect_eq "edge still serves" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PE/v/small.ts)" 200
finish
