#!/bin/bash
# edge_timeouts: every phase of a connection has its bound: a request body that trickles in (a
# byte every 0.5 s for Content-Length 100000000) is closed by timeouts.body like a header trickle
# by timeouts.header_read; a client that reads nothing is closed by timeouts.send. On the origin
# side, timeouts.first_byte bounds the whole response head: a head trickled a byte every 0.3 s
# (each byte well within between_bytes) ends in 504 for every client collapsed on the fill, or in
# the retry on the next origin, while a body trickled at the same pace after a prompt head is
# bounded only gap by gap (between_bytes); a timeout on a pooled connection is not tried again on
# a fresh one. Only "closed within a generous bound" is asserted,
# never a time.
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
expect_eq "the timeouts script ran to its end" "${PIPESTATUS[0]}" 0
checks_from "$T/timeouts.out"
check "no temporary upload files left" bash -c "[ -z \"\$(find '$T/root' -name '.*.tmp.*')\" ]"
expect_eq "origin still serves" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PO/v/small.ts)" 200
expect_eq "edge still serves" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PE/v/small.ts)" 200

# A scripted origin (tests/lib/fake_origin.py): /slowhead/* sends a 4 KiB head a byte every
# 0.3 s (20 minutes in all), /slowbody/* a prompt head and then 12 body bytes a byte every 0.3 s,
# anything else 200 "ok"; in "good" mode everything is 200 "ok".
cat >"$T/trickle.py" <<'PY'
import sys, time
import fake_origin
good = sys.argv[3] == "good"
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nX-Pad: " + b"a" * 4000 +
        b"\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
def handle(req):
    if not good and req.path.startswith("/slowhead/"):
        for i in range(len(HEAD)):
            req.send_raw(HEAD[i:i + 1])
            time.sleep(0.3)
        req.write(b"ok\n")
    elif not good and req.path.startswith("/slowbody/"):
        body = b"0123456789ab"
        req.send_head(200, [("Content-Type", "video/mp2t")], len(body))
        for i in range(len(body)):
            req.write(body[i:i + 1])
            time.sleep(0.3)
    else:
        req.reply(200, b"ok\n", [("Content-Type", "video/mp2t")])
fake_origin.main(handle)
PY
PT=$(free_port); PG=$(free_port)
start_origin trickle "$T/trickle.py" $PT scripted
start_origin good "$T/trickle.py" $PG good
cat >"$T/o.yaml" <<YAML
timeouts: {first_byte: 2s, between_bytes: 1s, origin_probe_interval: 1h}
YAML
PS=$(free_port)
start_edge edge_slow -c "$T/o.yaml" --listen 127.0.0.1:$PS --origin http://127.0.0.1:$PT
S=http://127.0.0.1:$PS
# Two clients on one key: the second is collapsed onto the first one's fill. Without the bound
# both would wait on the trickle until their own send timeout (30 s), past curl's 15 s.
curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$S/slowhead/a.ts" >"$T/c1" &
C1=$!
sleep 0.5
curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$S/slowhead/a.ts" >"$T/c2" &
C2=$!
wait $C1 $C2
expect_eq "a head trickle is cut by first_byte: 504" "$(cat "$T/c1")" 504
expect_eq "the client collapsed on it gets the 504 too" "$(cat "$T/c2")" 504
expect_eq "the origin was asked once" "$(origin_hits "$T/trickle.requests" /slowhead/a.ts)" 1
check "the origin counts an error" test "$(status_field $S origin.servers.0.errors)" -ge 1
expect_match "logged as a timeout before the head" "$(cat "$T/edge_slow.log")" \
    'timeout before the complete response head'
expect_eq "the fill's place is given back" "$(status_field $S cache.fills_inflight)" 0
body=$(curl -s --max-time 15 "$S/slowbody/b.ts")
expect_eq "a body trickle within between_bytes outlasts first_byte: served whole" "$body" 0123456789ab
expect_eq "the edge still serves" "$(curl -s --max-time 15 "$S/ok/c.ts")" ok

# With a second origin the head trickle is retried there.
PR=$(free_port)
start_edge edge_retry -c "$T/o.yaml" --listen 127.0.0.1:$PR --origin http://127.0.0.1:$PT \
    --origin http://127.0.0.1:$PG
body=$(curl -s --max-time 15 "http://127.0.0.1:$PR/slowhead/d.ts")
expect_eq "a head trickle on the first origin: served by the second" "$body" ok

# A request on a pooled keep-alive connection that times out is the origin being slow, not a
# connection it had closed while idle: the timeout fails the attempt at once instead of trying a
# fresh connection first (which would wait first_byte a second time). The origin is stopped
# (SIGSTOP): its kernel still accepts connections, nothing answers.
PK=$(free_port)
start_edge origin_ka --listen 127.0.0.1:$PK --root "$T/root"
OKA=$LAST_PID
cat >"$T/k.yaml" <<YAML
timeouts: {first_byte: 1s, origin_probe_interval: 1h}
YAML
PK2=$(free_port)
start_edge edge_ka -c "$T/k.yaml" --listen 127.0.0.1:$PK2 --origin http://127.0.0.1:$PK
expect_eq "a first fill leaves a keep-alive connection in the pool" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 http://127.0.0.1:$PK2/v/small.ts)" 200
kill -STOP "$OKA"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 http://127.0.0.1:$PK2/v/big.ts)
kill -CONT "$OKA"
expect_eq "the origin stopped answering: 504" "$code" 504
expect_eq "one timeout on the pooled connection, no second try on a fresh one" \
    "$(grep -c 'timeout before the complete response head' "$T/edge_ka.log")" 1
finish
