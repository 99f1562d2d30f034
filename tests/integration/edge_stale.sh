#!/bin/bash
# edge_stale: conditional revalidation, stale-while-revalidate, and with the origin stopped: stale
# served within bounds (short for live playlists), then errors; readiness and origin state.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
head -c 200000 /dev/urandom >"$T/root/seg.ts"
head -c 200000 /dev/urandom >"$T/root/swr.ts"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n' >"$T/root/live.m3u8"
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root"
ORIGIN_PID=$LAST_PID

cat >"$T/sie.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 0s, stale_if_error: 8s, live_stale_max: 1s}
timeouts: {origin_probe_interval: 200ms}
YAML
PA=$(free_port)
start_edge edgeA -c "$T/sie.yaml" --listen 127.0.1.1:$PA --origin http://127.0.0.1:$PO
A=http://127.0.1.1:$PA
cat >"$T/swr.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 30s, stale_if_error: 0s}
YAML
PB=$(free_port)
start_edge edgeB -c "$T/swr.yaml" --listen 127.0.2.1:$PB --origin http://127.0.0.1:$PO
B=http://127.0.2.1:$PB

# Conditional revalidation: after the TTL the edge asks the origin with validators and gets 304.
curl -s -o /dev/null "$A/seg.ts"
curl -s -o /dev/null "$A/live.m3u8"
h=$(curl -s -D- -o /dev/null "$A/live.m3u8")
expect_match "live playlist is cached (hit)" "$h" 'Cache-Status: segment-edge; hit'
sleep 1.3
h=$(curl -s -D- -o "$T/got" "$A/seg.ts")
expect_match "expired segment is revalidated (fwd=stale, 304)" "$h" 'Cache-Status: segment-edge; fwd=stale; fwd-status=304'
check "revalidated body is intact" cmp -s "$T/got" "$T/root/seg.ts"
check "origin answered the conditional request with 304" grep -q 'GET /seg.ts" 304' "$T/origin.log"

# stale-while-revalidate: the stale copy is served at once and one background refresh runs.
curl -s -o /dev/null "$B/swr.ts"
sleep 1.3
n0=$(grep -c 'GET /swr.ts"' "$T/origin.log")
h=$(curl -s -D- -o "$T/got" "$B/swr.ts")
expect_match "stale-while-revalidate serves the stale copy" "$h" 'detail=stale-while-revalidate'
check "stale-while-revalidate body is intact" cmp -s "$T/got" "$T/root/swr.ts"
for _ in $(seq 50); do
    [ "$(grep -c 'GET /swr.ts"' "$T/origin.log")" -gt "$n0" ] && break
    sleep 0.1
done
expect_eq "one background refresh reached the origin" "$(($(grep -c 'GET /swr.ts"' "$T/origin.log") - n0))" 1
h=$(curl -s -D- -o /dev/null "$B/swr.ts")
expect_match "after the background refresh it is a fresh hit" "$h" 'Cache-Status: segment-edge; hit; ttl='

# Refresh the segment, then stop the origin.
sleep 1.1
curl -s -o /dev/null "$A/seg.ts"
curl -s -o /dev/null "$A/live.m3u8"
stop_pid $ORIGIN_PID
expect_eq "origin stopped cleanly" "$STOP_RC" 0
sleep 1.5
h=$(curl -s -D- -o "$T/got" "$A/seg.ts")
expect_match "origin down: expired segment still served" "$h" '^HTTP/1.1 200'
expect_match "origin down: marked stale-if-error" "$h" 'detail=stale-if-error'
check "origin down: stale body intact" cmp -s "$T/got" "$T/root/seg.ts"
h=$(curl -s -D- -o /dev/null "$A/cold.ts")
expect_match "origin down: a cold object gives 502" "$h" '^HTTP/1.1 502'
expect_match "origin down: 502 carries CORS" "$h" 'Access-Control-Allow-Origin: \*'
sleep 2.5
h=$(curl -s -D- -o /dev/null "$A/live.m3u8")
expect_match "origin down: live playlist past its short stale bound gives 502" "$h" '^HTTP/1.1 502'
h=$(curl -s -D- -o /dev/null "$A/seg.ts")
expect_match "origin down: segment still within its stale bound" "$h" 'detail=stale-if-error'
expect_eq "origin down: /status shows the origin down" "$(status_field $A origin.servers.0.up)" false
check "origin down: /status counts origin errors" test "$(status_field $A origin.errors)" -gt 0
check "origin down: /status counts stale serves" test "$(status_field $A cache.stale_served)" -gt 0
h=$(curl -s -D- -o /dev/null "$A/readyz")
expect_match "origin down but objects cached: still ready" "$h" '^HTTP/1.1 200'
sleep 7 # past the 8 s stale-if-error bound with a margin
h=$(curl -s -D- -o /dev/null "$A/seg.ts")
expect_match "origin down: past the stale-if-error bound the segment gives 502" "$h" '^HTTP/1.1 502'

# An edge whose origin is unreachable and which has nothing cached is not ready.
PC=$(free_port)
start_edge edgeC -c "$T/sie.yaml" --listen 127.0.3.1:$PC --origin http://127.0.0.1:$PO
for _ in $(seq 50); do
    [ "$(status_field http://127.0.3.1:$PC origin.servers.0.up)" = false ] && break
    sleep 0.1
done
h=$(curl -s -D- -o /dev/null "http://127.0.3.1:$PC/readyz")
expect_match "origin unreachable and nothing cached: /readyz 503" "$h" '^HTTP/1.1 503'

finish
