#!/bin/bash
# overload_traffic: capacity with real traffic. The four example PoPs run as segment-edges
# pulling from an origin; gru's edge counts its load in requests per second against a small
# capacity (the PoP file's capacity in the same unit); `healthcheck --interval 1` reads each
# edge's load from /status. wrk drives real requests through gru's edge: its own reported load
# passes the high watermark and geodnsd sends every one of the 256 Buenos Aires client prefixes
# (100.64.N.0/24, nearest gru) to the neighbours, spread by headroom; the traffic stops and the
# prefixes come back.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
PATH_BIN=$BIN
. "$SRC/tests/lib/path-lib.sh"
e2e_cleanup() {
    path_stop_all
    dns_cleanup
}
trap e2e_cleanup EXIT
for b in "$BIN/segment-edge" "$BIN/healthcheck"; do
    [ -x "$b" ] || { fail "binary $b (build it first)"; finish; }
done
command -v wrk >/dev/null || { fail "wrk installed (scripts/deps.sh installs it)"; finish; }
V=video.cdn.example.test
EX=$TMP/ex
HD=$TMP/health
mkdir -p "$HD" "$TMP/root/live"
head -c 2000 /dev/urandom >"$TMP/root/live/seg_000.ts"

EP=$(path_free_port 127.0.0.1 127.0.1.1 127.0.2.1 127.0.3.1 127.0.4.1)
path_example_conf "$SRC/zones" "$EX" "$MMDB" "$EP" || { fail "example config copy"; finish; }
# Health: a short lag (the share follows the load quickly), no slow start.
sed -i '/^health:/,/^[^ ]/{/^health:/d;/^ /d}' "$EX/geodnsd.yaml"
echo "health: {dir: $HD, overrides: admin.yaml, max_age: 30s, slow_start: 0, lag: 2s}" \
    >>"$EX/geodnsd.yaml"

path_start_edge "$TMP/origin.log" --listen "127.0.0.1:$EP" --root "$TMP/root" --no-access-log ||
    { fail "origin starts"; finish; }
for n in 1 2 3 4; do
    path_start_edge "$TMP/edge$n.log" --listen "127.0.$n.1:$EP" \
        --origin "http://127.0.0.1:$EP" --cache-mem 16M --no-access-log ||
        { fail "edge $n starts"; finish; }
    EDGE_PID=$PATH_LAST_PID
done
GRU=127.0.4.1
# gru's capacity: an eighth of what wrk reaches through its edge on this machine alone, so the
# load lands well past the high watermark whatever the machine's speed, also when other tests
# share the cores during the run (seen: a third of the calibrated rate under ASan with -j2).
rate=$(wrk -t1 -c4 -d3s "http://$GRU:$EP/live/seg_000.ts" | awk '/^Requests\/sec:/ {print int($2)}')
CAP=$(( ${rate:-0} / 8 ))
check "wrk calibrated the request rate through gru's edge (${rate:-?}/s)" test "$CAP" -ge 10
path_stop "$EDGE_PID"
printf 'load: {unit: requests_per_s, capacity: %s}\naccess_log: false\n' "$CAP" >"$TMP/gru.yaml"
path_start_edge "$TMP/edge4.log" -c "$TMP/gru.yaml" --listen "$GRU:$EP" \
    --origin "http://127.0.0.1:$EP" --cache-mem 16M || { fail "gru's edge restarts"; finish; }
# The PoP file's capacity for gru in the same unit: requests per second.
sed -i "/^  gru:/,/^  [a-z]*:/s/capacity: 1000,/capacity: $CAP,/" "$EX/pops.yaml"
check "the PoP file gives gru capacity $CAP requests/s" grep -q "capacity: $CAP," "$EX/pops.yaml"
dns_start "$EX/geodnsd.yaml" || finish
"$BIN/healthcheck" --interval 1 -c "$EX/pops.yaml" --vantage e2e --out "$HD" -q \
    2>"$TMP/hc.log" &
PATH_PIDS+=($!)
for ((i = 0; i < 50 * DNS_SLOW; i++)); do [ -s "$HD/e2e.json" ] && break; sleep 0.1; done
check "healthcheck wrote its state file" test -s "$HD/e2e.json"

C=$(ecs_spread $V "100.64.%d.0/24" 256)
expect_eq "no traffic: all 256 Buenos Aires prefixes on gru" "$C" "$GRU=256"

echo "# wrk through gru's edge, past its capacity of $CAP requests/s"
# Ten minutes: longer than the checks below take under ASan; stopped when they are done.
wrk -t1 -c4 -d600s "http://$GRU:$EP/live/seg_000.ts" >"$TMP/wrk.log" 2>&1 &
WRK=$!
PATH_PIDS+=("$WRK")
for ((i = 0; i < 30 * DNS_SLOW; i++)); do
    load=$(python3 -c "import json; print(json.load(open('$HD/e2e.json'))['pops']['gru'].get('load', 0))" \
        2>/dev/null)
    python3 -c "import sys; sys.exit(0 if float('${load:-0}') > 0.95 * $CAP else 1)" && break
    sleep 0.5
done
echo "  gru's reported load: ${load:-?} requests/s (capacity $CAP)"
check "gru reports the real traffic as its load, past its high watermark" \
    python3 -c "import sys; sys.exit(0 if float('${load:-0}') > 0.95 * $CAP else 1)"
for ((i = 0; i < 20 * DNS_SLOW; i++)); do
    C=$(ecs_spread $V "100.64.%d.0/24" 256)
    grep -q "$GRU" <<<"$C" || break
    sleep 0.5
done
echo "  under load: $C"
check "past its high watermark gru keeps none of its 256 prefixes" test -z "$(grep -o "$GRU=[0-9]*" <<<"$C")"
check "the shed prefixes spread over the three neighbours by headroom" \
    test "$(grep -o '127.0.[123].1=[0-9]*' <<<"$C" | wc -l)" -eq 3
explain "$EX/geodnsd.yaml" $V 100.64.9.1/24
has "explain: gru keeps 0% under its load" "gru +up .*keep 0%"

kill "$WRK" 2>/dev/null
wait "$WRK" 2>/dev/null
for ((i = 0; i < 60 * DNS_SLOW; i++)); do
    C=$(ecs_spread $V "100.64.%d.0/24" 256)
    [ "$C" = "$GRU=256" ] && break
    sleep 0.5
done
expect_eq "traffic stopped: the share comes back, every prefix on gru" "$C" "$GRU=256" || {
    explain "$EX/geodnsd.yaml" $V 100.64.9.1/24
    printf '%s\n' "$R" | sed -n '/^health:/,/^zone:/p'
    python3 -c "import json; print(json.load(open('$HD/e2e.json'))['pops']['gru'])"
}
alive "geodnsd alive"
finish
