#!/bin/bash
# edge_failover: the origin client retries once on another origin (connect refused, 5xx, first-byte
# timeout), answers 504/502 when no origin works, and never caches a body cut off mid-way.
. "$(dirname "$0")/../lib/edge-lib.sh"

# A scripted origin: /hang/* never answers, /503/* answers 503, /trunc/* sends 1000 of 100000
# bytes then closes, anything else is 200 "ok <path>"; in "good" mode everything is 200. Every
# request is logged to its log file.
cat >"$T/origin.py" <<'PY'
import socket, sys, threading
port, log, good = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "good"
def serve(c):
    with c:
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        path = buf.split(b" ")[1].decode()
        with open(log, "a") as f:
            f.write("GET %s\n" % path)
        if good:
            pass
        elif path.startswith("/hang/"):
            threading.Event().wait(60)
        elif path.startswith("/503/"):
            c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
        elif path.startswith("/trunc/"):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + b"x" * 1000)
        if good or not path.startswith(("/hang/", "/503/", "/trunc/")):
            body = ("ok %s\n" % path).encode()
            cc = b""
            if path.startswith("/cc/"):  # /cc/<Cache-Control value, '_' for ' '>/file
                cc = b"Cache-Control: " + path.split("/")[2].replace("_", " ").encode() + b"\r\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s" % (len(body), cc, body))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
print("listening on", port, flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
start_py() { # name port mode
    python3 "$T/origin.py" "$2" "$T/$1.requests" "$3" >"$T/$1.log" 2>&1 &
    EDGE_PIDS+=("$!")
    for _ in $(seq 100); do grep -q listening "$T/$1.log" 2>/dev/null && return 0; sleep 0.1; done
    die "$1 did not start"
}
PA=$(free_port); PB=$(free_port); DEAD=$(free_port)
start_py originA $PA scripted
start_py originB $PB good
cat >"$T/edge.yaml" <<YAML
timeouts: {first_byte: 1s, between_bytes: 1s, connect: 1s, origin_probe_interval: 1h}
YAML

# Dead first origin: connect refused, one retry on the second.
P1=$(free_port)
start_edge edge1 -c "$T/edge.yaml" --listen 127.0.1.1:$P1 --origin http://127.0.0.1:$DEAD --origin http://127.0.0.1:$PB
body=$(curl -s "http://127.0.1.1:$P1/a/seg.ts")
expect_eq "connect refused on the first origin: served by the second" "$body" "ok /a/seg.ts"
expect_eq "/status shows the dead origin down" "$(status_field http://127.0.1.1:$P1 origin.servers.0.up)" false
check "/status counts its errors" test "$(status_field http://127.0.1.1:$P1 origin.servers.0.errors)" -ge 1

# First origin answers 503: retried on the second (idempotent GET).
P2=$(free_port)
start_edge edge2 -c "$T/edge.yaml" --listen 127.0.1.1:$P2 --origin http://127.0.0.1:$PA --origin http://127.0.0.1:$PB
body=$(curl -s "http://127.0.1.1:$P2/503/x.ts")
expect_eq "5xx on the first origin: served by the second" "$body" "ok /503/x.ts"
check "the first origin was asked once" test "$(grep -c '/503/x.ts' "$T/originA.requests")" -eq 1

# First origin hangs: first-byte timeout, then the second.
body=$(curl -s --max-time 20 "http://127.0.1.1:$P2/hang/y.ts")
expect_eq "first-byte timeout on the first origin: served by the second" "$body" "ok /hang/y.ts"

# A single hanging origin: 504 after the first-byte timeout, with CORS.
P3=$(free_port)
start_edge edge3 -c "$T/edge.yaml" --listen 127.0.1.1:$P3 --origin http://127.0.0.1:$PA
h=$(curl -s -D- -o /dev/null --max-time 20 "http://127.0.1.1:$P3/hang/z.ts")
expect_match "only origin hangs: 504" "$h" '^HTTP/1.1 504'
expect_match "504 carries CORS" "$h" 'Access-Control-Allow-Origin: \*'
h=$(curl -s -D- -o /dev/null "http://127.0.1.1:$P3/503/w.ts")
expect_match "only origin answers 503: passed on" "$h" '^HTTP/1.1 503'

# Body cut off mid-way: the client sees a truncated response, nothing is cached.
code=$(curl -s -o "$T/t1" -w '%{http_code}' "http://127.0.1.1:$P3/trunc/v.ts")
rc=$?
# Either the client already had the head (then the body is cut short: curl fails) or the failure
# came first (then it gets a 502); never a complete-looking 200.
check "truncated origin body: never a complete 200 (curl exit $rc, status $code)" \
    test "$rc" -ne 0 -o "$code" = 502
curl -s -o /dev/null "http://127.0.1.1:$P3/trunc/v.ts"
expect_eq "truncated object is not cached (fetched again)" "$(grep -c '/trunc/v.ts' "$T/originA.requests")" 2
# Origin Cache-Control is honoured over the type defaults.
B=http://127.0.1.1:$P1
for cc in no-store private; do
    curl -s -o /dev/null "$B/cc/$cc/a.ts"
    h=$(curl -s -D- -o /dev/null "$B/cc/$cc/a.ts")
    expect_match "Cache-Control: $cc is not stored (a miss again)" "$h" 'Cache-Status: segment-edge; fwd=miss'
    expect_eq "Cache-Control: $cc: two origin fetches" "$(grep -c "/cc/$cc/a.ts" "$T/originB.requests")" 2
done
curl -s -o /dev/null "$B/cc/max-age=100/live.m3u8"
h=$(curl -s -D- -o /dev/null "$B/cc/max-age=100/live.m3u8")
expect_match "max-age=100 on a playlist: cached for 100 s" "$h" 'Cache-Status: segment-edge; hit; ttl=(99|100)'
curl -s -o /dev/null "$B/cc/s-maxage=5,_max-age=100/s.ts"
h=$(curl -s -D- -o /dev/null "$B/cc/s-maxage=5,_max-age=100/s.ts")
expect_match "s-maxage wins over max-age" "$h" 'Cache-Status: segment-edge; hit; ttl=[45]\b'
curl -s -o /dev/null "$B/cc/no-cache/n.ts"
h=$(curl -s -D- -o /dev/null "$B/cc/no-cache/n.ts")
expect_match "no-cache: stored but revalidated every time" "$h" 'fwd=stale'
check "edge still healthy" test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.1.1:$P3/healthz)" = 200
finish
