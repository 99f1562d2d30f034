#!/bin/bash
# edge_fills: what an origin can make the edge spend is bounded. Origin fetches in flight stop at
# limits.max_fills (a miss past it gets 503 with Retry-After: 1); fills being stored count
# against cache_memory and stream through unstored when nothing can be evicted; a fill whose
# readers stopped reading is abandoned; a client that asks for the last byte of a 1 GiB object
# and leaves stops the fill; a client that waits on a fill without reading is closed after the
# send timeout.
. "$(dirname "$0")/../lib/edge-lib.sh"

# The origin (tests/lib/fake_origin.py, keep-alive; requests in $T/origin.requests, "origin
# gone" in $T/origin.log when the edge hangs up).
# (The size is in the path: the edge keeps no query parameter in the key it asks for.)
# /hold/GROUP/N/NAME: N bytes; the first KiB at once, the rest once /release/GROUP is asked.
# /fast/N/NAME: N bytes at once. /huge.bin: 1 GiB, as fast as it is taken.
# /drip/N/NAME, /drip-nostore/N/NAME: N bytes, 4 KiB every 20 ms (the second with no-store).
# Body byte i is (i * 7 + len(NAME)) % 251, so a client can check what it got.
cat >"$T/origin.py" <<'PY'
import threading, time
import fake_origin
events = {}
lock = threading.Lock()
def event(group):
    with lock:
        return events.setdefault(group, threading.Event())
def body(name, start, n):
    k = len(name)
    return bytes(((i * 7 + k) % 251) for i in range(start, start + n))
def head(req, size, extra=()):
    req.send_head(200, [("Content-Type", "application/octet-stream")] + list(extra), size)
def handle(req):
    parts = req.path.split("/")
    size = int(parts[-2]) if len(parts) >= 4 and parts[-2].isdigit() else 65536
    if parts[1] == "release":
        event(parts[2]).set()
        head(req, 0)
    elif parts[1] == "hold":
        name = parts[4]
        head(req, size)
        first = min(1024, size)
        req.write(body(name, 0, first))
        event(parts[2]).wait(120)
        req.write(body(name, first, size - first))
    elif parts[1] == "fast":
        head(req, size)
        req.write(body(parts[3], 0, size))
    elif parts[1] in ("drip", "drip-nostore"):
        extra = [("Cache-Control", "no-store")] if parts[1] == "drip-nostore" else []
        head(req, size, extra)
        while req.sent < size:
            req.write(body(parts[3], req.sent, min(4096, size - req.sent)))
            time.sleep(0.02)
    elif req.path == "/huge.bin":
        total = 1 << 30
        block = bytes(1 << 20)
        head(req, total)
        while req.sent < total:
            req.write(block)
    else:
        head(req, 6)
        req.write(b"small\n")
fake_origin.main(handle, keep_alive=True)
PY

# check_body FILE NAME SIZE: FILE holds the origin's SIZE bytes for NAME.
cat >"$T/check_body.py" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
name, size = sys.argv[2], int(sys.argv[3])
want = bytes(((i * 7 + len(name)) % 251) for i in range(size))
sys.exit(0 if data == want else 1)
PY
check_body() { python3 "$T/check_body.py" "$@"; }

# wait_status URL KEYPATH OP VALUE: poll /status until the field compares (60 s at most).
wait_status() {
    local v
    for _ in $(seq 600); do
        v=$(status_field "$1" "$2" 2>/dev/null)
        [ -n "$v" ] && [ "$v" "$3" "$4" ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

PO=$(free_port)
start_origin origin "$T/origin.py" $PO
O=http://127.0.0.1:$PO

# ---- configuration: limits.max_fills and --max-fills, checked with their position ----
printf 'limits: {max_fills: 0}\n' >"$T/bad.yaml"
out=$("$EDGE" -c "$T/bad.yaml" --listen 127.0.0.1:1 --origin $O 2>&1)
expect_eq "limits.max_fills: 0 is a configuration error (exit 2)" "$?" 2
expect_match "its message names the position" "$out" "bad.yaml:1:21"
out=$("$EDGE" --max-fills 0 --listen 127.0.0.1:1 --origin $O 2>&1)
expect_eq "--max-fills 0 is refused (exit 2)" "$?" 2
expect_match "its message names the option and the range" "$out" "--max-fills 0: expected 1\.\."
out=$("$EDGE" --help 2>&1)
expect_match "--help lists --max-fills" "$out" "--max-fills N"

# ---- 1. max_fills: a miss past the bound gets 503 with Retry-After ----
printf 'limits: {max_fills: 2}\n' >"$T/fills.yaml"
PA=$(free_port)
start_edge edge_a -c "$T/fills.yaml" --listen 127.0.0.1:$PA --origin $O --cache-mem 16M
A=http://127.0.0.1:$PA
curl -s -o "$T/a1" -w '%{http_code}' --max-time 60 "$A/hold/g1/65536/a1.bin" >"$T/a1.code" &
P1=$!
curl -s -o "$T/a2" -w '%{http_code}' --max-time 60 "$A/hold/g1/65536/a2.bin" >"$T/a2.code" &
P2=$!
check "two fills in flight" wait_status $A cache.fills_inflight -eq 2
# A request for an object being filled attaches to it: no new fetch, not refused.
curl -s -o "$T/a1c" -w '%{http_code}' --max-time 60 "$A/hold/g1/65536/a1.bin" >"$T/a1c.code" &
P3=$!
check "the third request is in" wait_status $A connections.active -ge 4
hdrs=$(curl -s -D - -o "$T/a3" --max-time 10 "$A/hold/g1/65536/a3.bin")
expect_match "a third miss gets 503" "$hdrs" "^HTTP/1.1 503"
expect_match "with Retry-After: 1" "$hdrs" "^Retry-After: 1"$'\r'"?$"
expect_eq "fills_refused counts it" "$(status_field $A cache.fills_refused)" 1
expect_match "and /metrics has it" "$(curl -s $A/metrics)" "^segment_edge_fills_refused_total 1$"
expect_eq "the refused miss reached no origin" \
    "$(origin_hits "$T/origin.requests" /hold/g1/65536/a3.bin)" 0
curl -s -o /dev/null "$O/release/g1"
wait $P1 $P2 $P3
expect_eq "the fills in flight completed" "$(cat "$T/a1.code") $(cat "$T/a2.code")" "200 200"
expect_eq "the collapsed request was served, not refused" "$(cat "$T/a1c.code")" 200
check "with the origin's bytes" check_body "$T/a1c" a1.bin 65536
check "no fill in flight any more" wait_status $A cache.fills_inflight -eq 0
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$A/hold/g1/65536/a3.bin")
expect_eq "below the bound the same miss is fetched" "$st" 200

# ---- 2. fills being stored count against cache_memory ----
# 10 fills of 768 KiB (each below max_object 1M) against a 4 MiB budget, all in flight at once:
# they cannot all be stored; the ones without room stream through to their clients unstored.
# Stated bound: cache_memory + per fill in flight two 64 KiB chunks and one origin read.
slack() { echo $(($1 * 3 * 65536)); }
PB=$(free_port)
start_edge edge_b --listen 127.0.0.1:$PB --origin $O --cache-mem 4M --max-object 1M
B=http://127.0.0.1:$PB
SZ=$((768 * 1024))
pids=()
for i in $(seq 10); do
    curl -s -o "$T/b$i" --max-time 60 "$B/hold/g2/$SZ/b$i.bin" &
    pids+=("$!")
done
check "ten fills in flight" wait_status $B cache.fills_inflight -eq 10
check "each has its first body bytes" wait_status $B origin.bytes -ge $((10 * 1024))
held=$(($(status_field $B cache.bytes) + $(status_field $B cache.inflight_bytes)))
echo "budget 4 MiB: stored and in-flight bytes $held while ten fills run"
check "stored + in-flight bytes ($held) stay within the bound" test "$held" -le $(((4 << 20) + $(slack 10)))
refused=$(status_field $B cache.stores_refused)
check "stores_refused counts the fills without room ($refused)" test "${refused:-0}" -ge 1
curl -s -o /dev/null "$O/release/g2"
wait "${pids[@]}"
bad=""
for i in $(seq 10); do check_body "$T/b$i" "b$i.bin" $SZ || bad="$bad b$i"; done
verdict "every client got its whole body, stored or not" "$bad"
held=$(($(status_field $B cache.bytes) + $(status_field $B cache.inflight_bytes)))
check "after the fills, held bytes ($held) within cache_memory" test "$held" -le $((4 << 20))
# only-if-cached: a body not stored answers 504 instead of being fetched again, which would
# evict the stored ones before the loop reaches them.
hits=0
for i in $(seq 10); do
    curl -s -D - -o /dev/null -H 'Cache-Control: only-if-cached' "$B/hold/g2/$SZ/b$i.bin" |
        grep -qi '^Cache-Status:.*; hit' && hits=$((hits + 1))
done
check "the fills that had room were stored ($hits hits)" test "$hits" -ge 1
expect_match "/metrics has stores_refused" "$(curl -s $B/metrics)" \
    "^segment_edge_stores_refused_total [1-9]"

# ---- 3. readers that stopped reading: the fill is abandoned, not buffered ----
# Four fills of 7 MiB take 28 of the 32 MiB budget and wait for their origin; then four
# clients ask for 24 MiB objects (more than socket buffers take) and never read: no room to
# store them, so they stream through, their readers hold the window, are dropped after
# slow_reader and the fills stop.
# (send: 120s: the stored fills' clients wait on their origin all this while, which on a busy
# machine can take longer than the default 30 s.)
printf 'timeouts: {slow_reader: 1s, between_bytes: 120s, send: 120s}\n' >"$T/c.yaml"
PC=$(free_port)
start_edge edge_c -c "$T/c.yaml" --listen 127.0.0.1:$PC --origin $O --cache-mem 32M --max-object 32M
C=http://127.0.0.1:$PC
HZ=$((7 << 20))
pids=()
for i in 1 2 3 4; do
    curl -s -o "$T/h$i" --max-time 150 "$C/hold/g3/$HZ/h$i.bin" &
    pids+=("$!")
done
check "four stored fills in flight" wait_status $C origin.bytes -ge $((4 * 1024))
python3 - "$PC" >"$T/stalled.out" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /fast/25165824/c%d.bin HTTP/1.1\r\nHost: t\r\n\r\n" % i)
    socks.append(s)
time.sleep(60)
PY
STALLED=$!
check "the unread fills were abandoned" wait_status $C cache.fills_abandoned -ge 4
check "only the four stored fills are left in flight" wait_status $C cache.fills_inflight -eq 4
check "stores_refused counts the fills without room" \
    test "$(status_field $C cache.stores_refused)" -ge 4
held=$(($(status_field $C cache.bytes) + $(status_field $C cache.inflight_bytes)))
check "held bytes ($held) within the bound" test "$held" -le $(((32 << 20) + $(slack 8)))
expect_match "/metrics has fills_abandoned" "$(curl -s $C/metrics)" \
    "^segment_edge_fills_abandoned_total [1-9]"
curl -s -o /dev/null "$O/release/g3"
wait "${pids[@]}"
bad=""
for i in 1 2 3 4; do check_body "$T/h$i" "h$i.bin" $HZ || bad="$bad h$i"; done
verdict "the stored fills completed for their clients" "$bad"
kill $STALLED 2>/dev/null
wait $STALLED 2>/dev/null

# ---- 4. the last reader leaves: a fill that is not stored stops ----
PD=$(free_port)
start_edge edge_d --listen 127.0.0.1:$PD --origin $O --cache-mem 64M
D=http://127.0.0.1:$PD
cat >"$T/range_close.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nRange: bytes=-1\r\n\r\n" % sys.argv[2].encode())
s.close()
PY
# fetched_then_done URL: wait until an origin fetch started after the last call and none is left.
FETCHES=0
fetched_then_done() {
    wait_status "$1" origin.fetches -gt $FETCHES && wait_status "$1" cache.fills_inflight -eq 0
    local rc=$?
    FETCHES=$(status_field "$1" origin.fetches)
    return $rc
}
before=$(status_field $D cache.fills_abandoned)
python3 "$T/range_close.py" "$PD" /huge.bin
check "the fill of the 1 GiB object ended" fetched_then_done $D
got=$(status_field $D origin.bytes)
echo "origin bytes read for a 1-byte range whose client left: $got"
check "the edge stopped reading the 1 GiB body ($got bytes read)" test "$got" -lt $((64 << 20))
check "fills_abandoned counts it" test "$(status_field $D cache.fills_abandoned)" -gt "$before"
check "the origin saw the edge hang up" grep -q "origin gone /huge.bin" "$T/origin.log"
# A body that is not stored (no-store), its only client leaves mid-way: stopped too.
python3 - "$PD" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /drip-nostore/1048576/ns.bin HTTP/1.1\r\nHost: t\r\n\r\n")
s.recv(8192)
s.close()
PY
check "the no-store fill ended" fetched_then_done $D
check "the origin saw the edge hang up on the no-store body" grep -q "origin gone /drip-nostore/1048576/ns.bin" \
    "$T/origin.log"
# A body that is stored within budget goes on without its client, for the next one.
python3 "$T/range_close.py" "$PD" "/drip/262144/kept.bin"
check "the stored fill ended" fetched_then_done $D
hdrs=$(curl -s -D - -o "$T/kept" "$D/drip/262144/kept.bin")
expect_match "and the next request is a hit" "$hdrs" "^Cache-Status:.*; hit"
check "with the whole body" check_body "$T/kept" kept.bin 262144

# ---- 5. the send timeout applies while a client waits on a fill ----
printf 'timeouts: {send: 1s}\n' >"$T/e.yaml"
PE=$(free_port)
start_edge edge_e -c "$T/e.yaml" --listen 127.0.0.1:$PE --origin $O --cache-mem 64M
E=http://127.0.0.1:$PE
# The last byte of a 16 MiB body dripping in for minutes; the client never reads.
python3 - "$PE" >"$T/wait.out" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /drip/16777216/slow.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-1\r\n\r\n")
s.settimeout(60)
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("closed by the edge")
            break
        got += d
except socket.timeout:
    print("still open")
except ConnectionResetError:
    print("closed by the edge")
print("head " + got.split(b"\r\n")[0].decode(errors="replace"))
PY
expect_match "a client waiting on a fill is closed after the send timeout" "$(cat "$T/wait.out")" \
    "^closed by the edge"
expect_eq "its connection is gone (only this /status is active)" \
    "$(status_field $E connections.active)" 1
expect_match "the log says why" "$(cat "$T/edge_e.log")" \
    "send timeout: nothing sent for 1000 ms, the response is cut"
expect_match "and has the request's access line, marked as cut by the send timeout" \
    "$(cat "$T/edge_e.log")" "access 127\.0\.0\.1 \"GET /drip/16777216/slow\.bin\" .* cut=send_timeout$"
expect_eq "only one" "$(grep -c 'access .*"GET /drip/16777216/slow\.bin"' "$T/edge_e.log")" 1
finish
