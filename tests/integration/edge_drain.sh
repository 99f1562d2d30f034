#!/bin/bash
# edge_drain: SIGTERM flips readiness first, keeps in-flight responses going to the end, stops
# accepting after the grace period, then exits 0.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
head -c 2097152 /dev/urandom >"$T/root/big.ts"
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root" --throttle 256k # ~8 s per body
cat >"$T/edge.yaml" <<YAML
timeouts: {drain_grace: 2s, drain: 60s}
YAML
PE=$(free_port)
start_edge edge -c "$T/edge.yaml" --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO
EDGE_PID=$LAST_PID
E=http://127.0.1.1:$PE

expect_eq "ready before the signal" "$(curl -s -o /dev/null -w '%{http_code}' $E/readyz)" 200
curl -s -o "$T/got.ts" "$E/big.ts" &
CURL=$!
for _ in $(seq 100); do
    [ "$(status_field $E cache.fills_inflight)" = 1 ] && break
    sleep 0.05
done
kill -TERM $EDGE_PID
sleep 0.3
expect_eq "readiness flips to 503 at once" "$(curl -s -o /dev/null -w '%{http_code}' $E/readyz)" 503
expect_eq "liveness stays 200 while draining" "$(curl -s -o /dev/null -w '%{http_code}' $E/healthz)" 200
expect_eq "/status says draining" "$(status_field $E draining)" true
sleep 3.2
expect_eq "after the grace period new connections are refused" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $E/healthz)" 000
check "the edge is still running the in-flight response" kill -0 $EDGE_PID
wait $CURL
check "the in-flight response completed whole" cmp -s "$T/got.ts" "$T/root/big.ts"
stop_pid $EDGE_PID
expect_eq "then the edge exits 0" "$STOP_RC" 0
check "the log tells the drain" grep -q 'draining' "$T/edge.log"
finish
