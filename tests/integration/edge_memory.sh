#!/bin/bash
# edge_memory: the edge's memory stays within cache_memory plus the stated pass-through bound
# whatever origins and clients do: a 300 MB object read by stalled clients and one fast client
# (the stalled ones are dropped, the fast one gets every byte), an endless chunked body whose
# client leaves (the fill is abandoned), and the edge keeps serving meanwhile.
. "$(dirname "$0")/../lib/edge-lib.sh"
# The sanitizer's quarantine would hold freed chunks and blur the RSS reading.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"

BIG=$((300 * 1048576))
# The origin (tests/lib/fake_origin.py, keep-alive; "origin gone" in $T/origin.log when the edge
# hangs up): /big.bin is BIG bytes after 0.5 s, /endless an endless chunked body, anything else
# "small".
cat >"$T/origin.py" <<'PY'
import sys, time
import fake_origin
BIG = int(sys.argv[3])
BLOCK = bytes(range(256)) * 4096  # 1 MiB
OCTETS = [("Content-Type", "application/octet-stream")]
def handle(req):
    if req.target == "/big.bin":
        time.sleep(0.5)  # lets every client collapse onto one fetch
        req.send_head(200, OCTETS, BIG)
        left = BIG
        while left:
            n = min(left, len(BLOCK)); req.write(BLOCK[:n]); left -= n
    elif req.target == "/endless":
        req.send_head(200, OCTETS + [("Transfer-Encoding", "chunked")])
        chunk = b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
        while True:
            req.write(chunk)
    else:
        req.reply(200, b"small\n")
fake_origin.main(handle, keep_alive=True)
PY
PO=$(free_port)
start_origin origin "$T/origin.py" $PO "$BIG"

cat >"$T/edge.yaml" <<'YAML'
timeouts:
  slow_reader: 2s
YAML
PE=$(free_port)
start_edge edge -c "$T/edge.yaml" --listen 127.0.0.1:$PE --origin http://127.0.0.1:$PO \
    --cache-mem 16M --passthrough-window 1M --workers 2
EDGE_PID=$LAST_PID
E=http://127.0.0.1:$PE
curl -s -o /dev/null "$E/warm.ts"
RSS0=$(rss $EDGE_PID)
# Stated bound: stored <= 16M; each fill in flight holds <= window + one origin read (64k) +
# one chunk (64k); a body of unknown length holds <= max_object (16M/8) before it turns into a
# pass-through. Two fills here. Over the RSS at start, allowance 16 MiB (allocator, stacks).
BOUND=$((RSS0 + 16 * 1048576 + 2 * (1048576 + 131072) + 2 * 1048576 + 16 * 1048576))
rss_watch $EDGE_PID

# Four stalled readers (read 64 KiB, then nothing), then one fast reader of the same object.
python3 - "$PE" >"$T/stalled.out" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
    socks.append(s)
time.sleep(0.2)
for s in socks:
    s.recv(65536)
time.sleep(15)  # stalled well past slow_reader; the edge must close them meanwhile
PY
STALLED=$!
sleep 0.1
curl -s -o /dev/null -w '%{size_download}\n' --max-time 120 "$E/big.bin" >"$T/fast.out" &
FAST=$!
sleep 3
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$E/small.ts")
expect_eq "the edge serves other requests while readers stall" "$st" 200
wait $FAST
expect_eq "the fast reader got the whole 300 MB object" "$(cat "$T/fast.out")" "$BIG"
check "stalled readers were dropped (readers_dropped >= 4)" \
    test "$(status_field $E cache.readers_dropped)" -ge 4
# The stalled clients still hold their sockets: the edge must have closed its side.
expect_eq "the stalled readers' connections were closed (only /status is active)" \
    "$(status_field $E connections.active)" 1
kill $STALLED 2>/dev/null; wait $STALLED 2>/dev/null

# An endless chunked body: the client reads a little and leaves; the fill must stop.
curl -s -o /dev/null --max-time 2 "$E/endless"
for _ in $(seq 50); do
    [ "$(status_field $E cache.fills_inflight)" = 0 ] && break
    sleep 0.1
done
expect_eq "the endless fill was abandoned when its client left" \
    "$(status_field $E cache.fills_inflight)" 0
check "the origin saw the edge hang up on the endless body" grep -q "origin gone /endless" "$T/origin.log"
expect_eq "no pass-through bytes are held once nobody reads" "$(status_field $E cache.inflight_bytes)" 0
# An endless body with a stalled reader: memory stays bounded while it stays connected.
python3 - "$PE" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
s.recv(65536)
time.sleep(4)
PY
ENDLESS=$!
sleep 1.5 # less than slow_reader: the reader is still attached, the filler paused
inflight=$(status_field $E cache.inflight_bytes)
# It was stored up to max_object (2M) before it became a pass-through: bound max_object + 2 reads.
check "a stalled endless body holds at most max_object + 2 x 128k ($inflight)" \
    test "$inflight" -le $((2 * 1048576 + 2 * 131072))
check "and it holds something (the window is in use)" test "$inflight" -gt 0
sleep 1.5
check "the stalled endless reader was dropped" test "$(status_field $E cache.readers_dropped)" -ge 5
wait $ENDLESS
sleep 0.5
peak=$(rss_peak)
echo "RSS at start $RSS0, peak $peak, bound $BOUND"
check "peak RSS $peak stays under the stated bound $BOUND" test "$peak" -le "$BOUND"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$E/small.ts")
expect_eq "the edge still serves after all that" "$st" 200
finish
