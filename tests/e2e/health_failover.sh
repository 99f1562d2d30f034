#!/usr/bin/env bash
# health_failover: the health chain as an operator runs it, all real processes on loopback: four
# segment-edges as the example PoPs, `healthcheck --once` rounds as cron runs them, geodnsd
# reading the state files. A killed edge is marked down after the rounds its thresholds need (not
# before) and its clients move to the next nearest; restarted, it takes them back through slow
# start; an edge loaded past its capacity by real held connections sheds its client prefixes to
# its neighbours and takes them back when the load goes; every edge dead gives the fallback CNAME.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
EDGE=$BIN/segment-edge HC=$BIN/healthcheck
for b in "$EDGE" "$HC"; do
    [ -x "$b" ] || { fail "binary $b (build it first)"; finish; }
done
EX=$TMP/ex
geo_example_conf "$EX"
HD=$EX/health
mkdir -p "$HD" "$TMP/root/live"
echo "segment" >"$TMP/root/live/seg1.ts"

# One port free on all four PoP addresses.
EP=$(free_port 127.0.1.1 127.0.2.1 127.0.3.1 127.0.4.1)
# The example PoPs, on that port, IPv4 only; load in held connections against capacity 20.
cat >"$EX/pops.yaml" <<EOF
pops:
  fra: {location: [50.11, 8.68], country: DE, addresses: [127.0.1.1], capacity: 20, hostname: fra.edge.cdn.example.test,
        probe: {url: "http://127.0.1.1:$EP/healthz", timeout: 1s, down_after: 2, window: 3, up_after: 2}}
  nyc: {location: [40.71, -74.01], country: US, addresses: [127.0.2.1], capacity: 20, hostname: nyc.edge.cdn.example.test,
        probe: {url: "http://127.0.2.1:$EP/healthz", timeout: 1s, down_after: 2, window: 3, up_after: 2}}
  sin: {location: [1.35, 103.82], country: SG, addresses: [127.0.3.1], capacity: 20, hostname: sin.edge.cdn.example.test,
        probe: {url: "http://127.0.3.1:$EP/healthz", timeout: 1s, down_after: 2, window: 3, up_after: 2}}
  gru: {location: [-23.55, -46.63], country: BR, addresses: [127.0.4.1], capacity: 20, hostname: gru.edge.cdn.example.test,
        probe: {url: "http://127.0.4.1:$EP/healthz", timeout: 1s, down_after: 2, window: 3, up_after: 2}}
pools:
  edges: [fra, nyc, sin, gru]
  eu: [fra]
default_location: [50.11, 8.68]
EOF
sed -i '/^health:/,/^[^ ]/{/^health:/d;/^ /d}' "$EX/geodnsd.yaml"
echo "health: {dir: health, overrides: admin.yaml, max_age: 60s, slow_start: 6s, lag: 2s}" \
    >>"$EX/geodnsd.yaml"
printf 'load: {unit: connections, capacity: 20}\naccess_log: false\n' >"$TMP/edge.yaml"

declare -A EPID
edge_start() { # edge_start N: segment-edge (origin mode) on 127.0.N.1:EP
    "$EDGE" -c "$TMP/edge.yaml" --listen "127.0.$1.1:$EP" --root "$TMP/root" \
        >>"$TMP/edge$1.log" 2>&1 &
    EPID[$1]=$!
    DNS_BG_PIDS+=("${EPID[$1]}")
    local i
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        curl -sf -o /dev/null "http://127.0.$1.1:$EP/healthz" && return 0
        sleep 0.1
    done
    fail "segment-edge $1 answers /healthz" "$(tail -n 5 "$TMP/edge$1.log")"
}
# hc: one cron-like run; the state file lands when it exits.
hc() {
    "$HC" --once -c "$EX/pops.yaml" --vantage cron1 --out "$HD" --deadline 10 -q \
        2>>"$TMP/hc.log" || fail "healthcheck --once exits 0" "$(tail -n 5 "$TMP/hc.log")"
}
# until_ga DESC WANT_ADDRS DNSQ-ARGS...: the answer becomes WANT_ADDRS (bounded wait: WAIT
# seconds, default 2).
until_ga() {
    local desc=$1 want=$2 i
    shift 2
    for ((i = 0; i < ${WAIT:-2} * 10 * DNS_SLOW; i++)); do
        q "$@"
        [ "$(addrs)" = "$want" ] && break
        sleep 0.1
    done
    ga "$desc" "$want" - "$@"
}

for n in 1 2 3 4; do edge_start $n; done
dns_start "$EX/geodnsd.yaml" || finish
V=video.cdn.example.test
FRA=127.0.1.1 NYC=127.0.2.1 GRU=127.0.4.1
hc
until_ga "first round, all up: Paris -> fra" "$FRA" --ecs 192.0.2.0/24 $V
check "the state file names the vantage and all four PoPs up" python3 -c "
import json; d = json.load(open('$HD/cron1.json'))
assert d['vantage'] == 'cron1' and all(p['state'] == 'up' for p in d['pops'].values()), d"

echo "# kill -9 an edge: down after down_after rounds, not before"
kill -9 "${EPID[1]}"
wait "${EPID[1]}" 2>/dev/null
hc
sleep 1
ga "one failed round (down_after 2): Paris still -> fra" "$FRA" - --ecs 192.0.2.0/24 $V
hc
start=$(date +%s%N)
until_ga "second failed round: Paris -> nyc, the next nearest" "$NYC" --ecs 192.0.2.0/24 $V
echo "  moved $(( ($(date +%s%N) - start) / 1000000 )) ms after the state file landed"
explain "$EX/geodnsd.yaml" $V 192.0.2.1/24
has "explain: fra down, with the probe's reason in the state file" "fra +down +cron1:down"

echo "# restart it: up after up_after rounds, clients back through slow start"
edge_start 1
hc
hc
WAIT=10 until_ga "fra up again: Paris -> fra by the end of slow start (6 s)" "$FRA" --ecs 192.0.2.0/24 $V

echo "# gru dies and comes back: its 256 client prefixes return gradually"
kill -9 "${EPID[4]}"
wait "${EPID[4]}" 2>/dev/null
hc
hc
for ((i = 0; i < 20 * DNS_SLOW; i++)); do
    C=$(ba_spread)
    grep -q "127.0.4.1" <<<"$C" || break
    sleep 0.2
done
check "gru down: no Buenos Aires prefix is sent to it ($C)" test -z "$(grep -o '127.0.4.1=[0-9]*' <<<"$C")"
edge_start 4
hc
hc
sleep 1
C=$(ba_spread)
g=$(grep -o '127.0.4.1=[0-9]*' <<<"$C" | cut -d= -f2)
echo "  about 1 s into slow start: $C"
check "slow start: gru first takes back only part of its prefixes (${g:-0} of 256)" test "${g:-0}" -lt 200
for ((i = 0; i < 40 * DNS_SLOW; i++)); do
    C=$(ba_spread)
    [ "$C" = "127.0.4.1=256" ] && break
    sleep 0.5
done
expect_eq "after slow start every Buenos Aires prefix is back on gru" "$C" "127.0.4.1=256"

echo "# overload with real connections: gru past its capacity sheds by headroom"
python3 - "$EP" >"$TMP/hold.log" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.4.1", port)) for _ in range(30)]
print("holding", len(held), flush=True)
time.sleep(60)
EOF
HOLD=$!
DNS_BG_PIDS+=("$HOLD")
for ((i = 0; i < 50; i++)); do grep -q holding "$TMP/hold.log" && break; sleep 0.1; done
sleep 1
hc
check "gru reports the held connections as its load" python3 -c "
import json; d = json.load(open('$HD/cron1.json'))
assert d['pops']['gru']['load'] >= 30, d['pops']['gru']"
for ((i = 0; i < 20 * DNS_SLOW; i++)); do
    C=$(ba_spread)
    grep -q "127.0.4.1" <<<"$C" || break
    sleep 0.2
done
echo "  gru at 150% of capacity: $C"
check "past its high watermark gru takes no new client prefix" test -z "$(grep -o '127.0.4.1=[0-9]*' <<<"$C")"
others=$(grep -o '127.0.[123].1=[0-9]*' <<<"$C" | wc -l)
check "the shed prefixes spread over the three neighbours with headroom, not all onto one" test "$others" -eq 3
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
sleep 1
for ((i = 0; i < 40 * DNS_SLOW; i++)); do
    hc
    C=$(ba_spread)
    [ "$C" = "127.0.4.1=256" ] && break
    sleep 0.5
done
expect_eq "connections gone: the share comes back, every prefix on gru" "$C" "127.0.4.1=256"

echo "# every edge dead: the commercial CDN CNAME, never a dead address"
for n in 1 2 3 4; do kill -9 "${EPID[$n]}"; wait "${EPID[$n]}" 2>/dev/null; done
hc
hc
for ((i = 0; i < 20 * DNS_SLOW; i++)); do
    q --ecs 192.0.2.0/24 $V
    grep -q " IN CNAME " <<<"$R" && break
    sleep 0.1
done
has "all down: video -> video.cdn-vendor.example.net" "^AN $V\. [0-9]+ IN CNAME video\.cdn-vendor\.example\.net\.$"
hasnt "all down: no PoP address" " IN A 127\.0\."
alive "geodnsd ran through every round"
finish
