#!/bin/bash
# edge_pinned: stored bodies that stalled clients are still being sent keep their share of
# cache_memory until the last of those clients lets go. Two 16 MB segments are stored, four
# clients stop reading them (a loopback socket takes only a few MB of each), and three more
# segments are fetched: evicting the held ones would free nothing, so they stay stored (and are
# hits), the new ones stream through unstored, the edge's memory stays within cache_memory plus
# the pass-through bound, and once the stalled clients leave the budget is free for new fills.
. "$(dirname "$0")/../lib/edge-lib.sh"
# The sanitizer's quarantine would hold freed chunks and blur the RSS reading.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"

MB=1048576
SZ=$((16 * MB))
# The origin: /seg/NAME is SZ bytes (Content-Length), cacheable; anything else "small".
cat >"$T/origin.py" <<'PY'
import sys
import fake_origin
SZ = int(sys.argv[3])
BLOCK = bytes(range(256)) * 4096  # 1 MiB
HEAD = [("Content-Type", "video/mp2t"), ("Cache-Control", "max-age=3600")]
def handle(req):
    if req.target.startswith("/seg/"):
        req.send_head(200, HEAD, SZ)
        left = SZ
        while left:
            n = min(left, len(BLOCK)); req.write(BLOCK[:n]); left -= n
    elif req.target.startswith("/pl/"):
        body = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + b"#EXTINF:2.0,\nseg.ts\n" * 35000
        req.send_head(200, [("Content-Type", "application/vnd.apple.mpegurl"),
                            ("Cache-Control", "max-age=3600")], len(body))
        req.write(body)
    else:
        req.reply(200, b"small\n")
fake_origin.main(handle, keep_alive=True)
PY
PO=$(free_port)
start_origin origin "$T/origin.py" $PO "$SZ"

# Stalled clients are kept for the whole test: send (the timeout for a client that takes
# nothing) well above it.
cat >"$T/edge.yaml" <<'YAML'
timeouts:
  send: 120s
YAML
PE=$(free_port)
start_edge edge -c "$T/edge.yaml" --listen 127.0.0.1:$PE --origin http://127.0.0.1:$PO \
    --cache-mem 40M --max-object 20M --passthrough-window 1M --workers 2
EDGE_PID=$LAST_PID
E=http://127.0.0.1:$PE
curl -s -o /dev/null "$E/warm.ts"
RSS0=$(rss $EDGE_PID)
rss_watch $EDGE_PID

size_of() { curl -s -o /dev/null -w '%{size_download}' --max-time 60 "$E/seg/$1"; }
expect_eq "segment a fetched whole" "$(size_of a)" "$SZ"
expect_eq "segment b fetched whole" "$(size_of b)" "$SZ"
check "both stored (cache.bytes $(status_field $E cache.bytes))" \
    test "$(status_field $E cache.bytes)" -ge $((2 * SZ))

# Two clients on each stored segment read 64 KiB and stop, with a small receive buffer.
python3 - "$PE" >"$T/stalled.out" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for name in ("a", "a", "b", "b"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /seg/%s HTTP/1.1\r\nHost: t\r\n\r\n" % name.encode())
    socks.append(s)
for s in socks:
    s.recv(65536)
print("stalled", flush=True)
time.sleep(60)
PY
STALLED=$!
for _ in $(seq 50); do grep -q stalled "$T/stalled.out" && break; sleep 0.1; done
sleep 0.5 # the edge has written what the sockets take

refused0=$(status_field $E cache.stores_refused)
for s in c d e; do
    expect_eq "segment $s fetched whole while a and b are held" "$(size_of $s)" "$SZ"
done
held=$(($(status_field $E cache.bytes) + $(status_field $E cache.inflight_bytes)))
echo "budget 40 MiB: stored $(status_field $E cache.bytes) + held outside the table $(status_field $E cache.inflight_bytes)"
check "the held bodies count against the budget: stored + held $held <= 40 MiB" \
    test "$held" -le $((40 * MB))
check "the new segments that did not fit beside them streamed through unstored" \
    test "$(($(status_field $E cache.stores_refused) - refused0))" -ge 3
for s in a b; do
    h=$(curl -s -D- -o /dev/null -H 'Cache-Control: only-if-cached' "$E/seg/$s")
    expect_match "segment $s, being sent, was not evicted: still a hit" "$h" 'Cache-Status: .*; hit'
done
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$E/small.ts")
expect_eq "the edge serves other requests meanwhile" "$st" 200
peak=$(rss_peak)
# Stated bound: cache_memory + per fill in flight 2 chunks + 1 origin read (one at a time here),
# plus 8 MiB for the allocator and stacks, over the RSS at start. Without the held bodies
# counted, a and b (32 MB) would sit beside two stored segments (32 MB): 70 MB was measured.
BOUND=$((RSS0 + 40 * MB + 3 * 65536 + 8 * MB))
echo "RSS at start $RSS0, peak $peak, bound $BOUND"
check "peak RSS $peak stays under the stated bound $BOUND" test "$peak" -le "$BOUND"

kill $STALLED 2>/dev/null
wait $STALLED 2>/dev/null
for _ in $(seq 100); do
    [ "$(status_field $E cache.inflight_bytes)" = 0 ] && break
    sleep 0.1
done
expect_eq "once the stalled clients leave, nothing is held outside the table" \
    "$(status_field $E cache.inflight_bytes)" 0
expect_eq "segment f fetched whole" "$(size_of f)" "$SZ"
h=$(curl -s -D- -o /dev/null -H 'Cache-Control: only-if-cached' "$E/seg/f")
expect_match "and a new segment is stored again (a hit)" "$h" 'Cache-Status: .*; hit'

# A playlist's gzip copy is made only with room for it. A 17 MiB budget holds a 16 MiB segment a
# stalled client is being sent and a 700 KB playlist, but not the playlist's copy beside them:
# the playlist is stored and served identity, and gzip_skipped counts it.
PE2=$(free_port)
start_edge edge2 -c "$T/edge.yaml" --listen 127.0.0.1:$PE2 --origin http://127.0.0.1:$PO \
    --cache-mem 17M --max-object 17M
E2=http://127.0.0.1:$PE2
expect_eq "segment a fetched whole into a 17 MiB budget" \
    "$(curl -s -o /dev/null -w '%{size_download}' --max-time 60 "$E2/seg/a")" "$SZ"
python3 - "$PE2" >"$T/stalled2.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /seg/a HTTP/1.1\r\nHost: t\r\n\r\n")
s.recv(65536)
print("stalled", flush=True)
time.sleep(60)
PY
STALLED2=$!
for _ in $(seq 50); do grep -q stalled "$T/stalled2.out" && break; sleep 0.1; done
h=$(curl -s -D- -o "$T/pl" -H 'Accept-Encoding: gzip' --max-time 30 "$E2/pl/live.m3u8")
expect_match "the playlist is served" "$h" '^HTTP/1.1 200'
check "whole and not compressed ($(stat -c %s "$T/pl") bytes)" \
    test "$(stat -c %s "$T/pl")" -gt 700000 -a -z "$(echo "$h" | grep -i '^Content-Encoding')"
h=$(curl -s -D- -o /dev/null -H 'Cache-Control: only-if-cached' "$E2/pl/live.m3u8")
expect_match "it was stored all the same (a hit)" "$h" 'Cache-Status: .*; hit'
expect_eq "gzip_skipped counts the copy not made" "$(status_field $E2 cache.gzip_skipped)" 1
held=$(($(status_field $E2 cache.bytes) + $(status_field $E2 cache.inflight_bytes)))
check "stored + held $held within the 17 MiB budget" test "$held" -le $((17 * MB))
kill $STALLED2 2>/dev/null
wait $STALLED2 2>/dev/null
finish
