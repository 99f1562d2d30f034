#!/bin/bash
# resolver_path: the whole path as a viewer meets it, through a recursive resolver. An origin
# serves a 3-rendition HLS set; the four example PoPs run as segment-edges pulling from it;
# geodnsd runs the example config fed by `healthcheck --interval 1`; a local unbound delegates
# cdn.example.test to geodnsd (stub zone with port) and forwards EDNS Client Subnet. A viewer in
# each example region resolves video.cdn.example.test through unbound and lands on its nearest
# PoP; a player fetches every file through that edge, bytes equal to the origin's. Then an edge
# is killed (-9) while a player fetches segments one by one, re-resolving through unbound after
# each failure: its clients move to the next nearest PoP within probe interval x down_after +
# TTL, and the player finishes there without losing a segment. On the way, every metric name
# docs/metrics.md gives is checked against the /metrics of geodnsd and an edge and against
# healthcheck's textfile.
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
for t in unbound unbound-checkconf ffmpeg curl dig; do
    command -v "$t" >/dev/null || { fail "$t installed (scripts/deps.sh installs it)"; finish; }
done
V=video.cdn.example.test
HLS=$TMP/hls
HD=$TMP/health
EX=$TMP/ex
mkdir -p "$HD"

# One port for the origin and the four edges (example: 8080, here a free one).
EP=$(path_free_port 127.0.0.1 127.0.1.1 127.0.2.1 127.0.3.1 127.0.4.1)
path_example_conf "$SRC/zones" "$EX" "$MMDB" "$EP" || { fail "example config copy"; finish; }
if path_make_hls "$HLS" 8 2>"$TMP/ffmpeg.log"; then
    pass "ffmpeg made an 8 s HLS set with three renditions"
else
    fail "ffmpeg made the HLS set" "$(tail -n 5 "$TMP/ffmpeg.log")"
    finish
fi
FILES=$(path_hls_files "$HLS")
check "master playlist names three renditions" test "$(grep -c '^[^#]' "$HLS/master.m3u8")" = 3

path_start_edge "$TMP/origin.log" --listen "127.0.0.1:$EP" --root "$HLS" --no-access-log ||
    { fail "origin starts"; finish; }
declare -A EPID
POPS=(fra nyc sin gru)
for n in 1 2 3 4; do
    path_start_edge "$TMP/${POPS[n - 1]}.log" --listen "127.0.$n.1:$EP" \
        --origin "http://127.0.0.1:$EP" --cache-mem 64M --no-access-log ||
        { fail "edge ${POPS[n - 1]} starts"; finish; }
    EPID[${POPS[n - 1]}]=$PATH_LAST_PID
done
pass "origin and four edges up on port $EP"

MP=$(path_free_port 127.0.0.1)
dns_start "$EX/geodnsd.yaml" --health-dir "$HD" --metrics "127.0.0.1:$MP" || finish
"$BIN/healthcheck" --interval 1 -c "$EX/pops.yaml" --vantage e2e --out "$HD" -q \
    --textfile "$TMP/health.prom" 2>"$TMP/hc.log" &
PATH_PIDS+=($!)
for ((i = 0; i < 50 * DNS_SLOW; i++)); do [ -s "$HD/e2e.json" ] && break; sleep 0.1; done
check "healthcheck wrote its state file" test -s "$HD/e2e.json"
wait_log "health: probes; 1 state file|PoP .*: up|state file" 5 >/dev/null

RP=$(path_free_port 127.0.0.1)
path_unbound_conf "$TMP/unbound.conf" "$TMP" 127.0.0.1 "$RP" 127.0.0.1 "$PORT" ||
    { fail "unbound-checkconf accepts the config"; finish; }
path_start_unbound "$TMP/unbound.conf" "$TMP/unbound.log" || { fail "unbound starts"; finish; }
pass "unbound on 127.0.0.1:$RP, stub zone cdn.example.test -> 127.0.0.1@$PORT"

# ub ARGS...: dig through unbound (recursion desired), output in $R.
ub() {
    R=$(dig @127.0.0.1 -p "$RP" +time=2 +tries=2 "$@" 2>&1)
    RC=$?
}
# ub_addr SUBNET: the A answer a viewer in SUBNET gets through unbound.
ub_addr() {
    dig @127.0.0.1 -p "$RP" +short +time=2 +tries=2 "$V" +subnet="$1" | tail -n 1
}
# fetch_all ADDR TAG: every file of the set through the edge at ADDR as video.cdn.example.test;
# prints how many equal the origin's.
fetch_all() {
    local addr=$1 tag=$2 f same=0
    for f in $FILES; do
        curl -sf --max-time 10 --resolve "$V:$EP:$addr" "http://$V:$EP/$f" -o "$TMP/$tag.got" &&
            cmp -s "$TMP/$tag.got" "$HLS/$f" && same=$((same + 1))
    done
    echo "$same"
}

nfiles=$(wc -w <<<"$FILES")
echo "# a viewer per example region, through unbound, then a player through the edge it got"
for viewer in "Paris 192.0.2.0/24 A 127.0.1.1 9" "Chicago 198.51.100.0/24 A 127.0.2.1 24" \
    "Tokyo 203.0.113.0/24 A 127.0.3.1 24" "Buenos-Aires 100.64.0.0/16 A 127.0.4.1 16" \
    "Sydney 2001:db8::/32 A 127.0.3.1 32" "Sydney 2001:db8::/32 AAAA fd00:c0d:3::1 32"; do
    set -- $viewer
    city=$1 subnet=$2 type=$3 want=$4 scope=$5
    gd "$city ($subnet, $type) via unbound -> $want, ECS scope /$scope from geodnsd" "$want" "$scope" \
        @127.0.0.1 -p "$RP" +recurse "$V" "$type" +subnet="$subnet"
    [ "$type" = A ] || continue
    expect_eq "$city: master, 3 playlists and every segment through $want equal the origin's" \
        "$(fetch_all "$want" "$city")" "$nfiles"
done
grep -q "\"requests\":{\"total\":[1-9]" <(curl -s "http://127.0.4.1:$EP/status") &&
    pass "gru's /status counts the Buenos Aires player's requests" ||
    fail "gru's /status counts the Buenos Aires player's requests"

echo "# every metric docs/metrics.md names is exposed (geodnsd, segment-edge, healthcheck's textfile)"
# names FILE: the metric names of the samples in a Prometheus text file.
names() { grep -v '^#' "$1" | sed 's/[{ ].*//' | sort -u; }
curl -s --max-time 5 "http://127.0.0.1:$MP/metrics" -o "$TMP/geodnsd.prom"
curl -s --max-time 5 "http://127.0.4.1:$EP/metrics" -o "$TMP/edge.prom"
for pre in geodnsd segment_edge geodns_health; do
    case $pre in
    geodnsd) f=$TMP/geodnsd.prom ;;
    segment_edge) f=$TMP/edge.prom ;;
    geodns_health) f=$TMP/health.prom ;;
    esac
    # The edges here have no disk tier: its metrics are checked by edge_disk.
    documented=$(grep -oE "\`${pre}_[a-z0-9_]*[a-z0-9]\`" "$SRC/docs/metrics.md" | tr -d '`' |
        grep -v '^segment_edge_disk_' | sort -u)
    exposed=$(names "$f")
    expect_eq "metrics.md documents exactly the ${pre}_* metrics exposed ($(wc -w <<<"$exposed"))" \
        "$(comm -3 <(echo "$documented") <(echo "$exposed") | tr -s ' \t\n' ' ')" ""
done

echo "# kill -9 fra while a Paris player fetches segments one by one"
PARIS=192.0.2.0/24
R360=$(grep -v '^#' "$HLS/360p/index.m3u8")
nseg=$(wc -w <<<"$R360")
# The player: each segment from the address unbound gives; on a failure, re-resolve and retry
# (bounded: 120 s in all). Log: "SEG ADDR ok|fail SECONDS_SINCE_START".
player() {
    local seg addr t0 now ok
    t0=$(date +%s%N)
    for seg in $R360; do
        ok=0
        while [ $((($(date +%s%N) - t0) / 1000000000)) -lt $((120 * DNS_SLOW)) ]; do
            addr=$(ub_addr "$PARIS")
            now=$((($(date +%s%N) - t0) / 1000000))
            if [ -n "$addr" ] && curl -sf --max-time 3 "http://$addr:$EP/360p/$seg" \
                -o "$TMP/player/$seg"; then
                echo "$seg $addr ok $now"
                ok=1
                break
            fi
            echo "$seg ${addr:-none} fail $now"
            sleep 0.5
        done
        [ "$ok" = 1 ] || { echo "gave up at $seg"; return 1; }
        sleep 0.5 # a segment's worth of playing, shortened
    done
    echo "done"
}
mkdir -p "$TMP/player"
player >"$TMP/player.log" 2>&1 &
PLAYER=$!
PATH_PIDS+=("$PLAYER")
for ((i = 0; i < 100 * DNS_SLOW; i++)); do
    [ "$(grep -c ' ok ' "$TMP/player.log")" -ge 2 ] && break
    sleep 0.1
done
check "the player fetched its first segments from fra" grep -q "^seg_001.ts 127.0.1.1 ok" "$TMP/player.log"
kill -9 "${EPID[fra]}"
wait "${EPID[fra]}" 2>/dev/null
t_kill=$(date +%s%N)
# The bound: down_after (3) probe rounds of 1 s (+ one round in flight) + the answer's TTL (30)
# unbound may have cached just before, + 10 s slack for scheduling.
BOUND=$(((3 + 1) * 1 + 30 + 10))
for ((i = 0; i < BOUND * 10 * DNS_SLOW; i++)); do
    [ -z "${t_auth:-}" ] && [ "$(dig @127.0.0.1 -p "$PORT" +short +norec +time=1 +tries=1 "$V" \
        +subnet=192.0.2.0/24)" = 127.0.2.1 ] && t_auth=$((($(date +%s%N) - t_kill) / 1000000))
    [ "$(ub_addr "$PARIS")" = 127.0.2.1 ] && {
        t_res=$((($(date +%s%N) - t_kill) / 1000000))
        break
    }
    sleep 0.1
done
echo "  geodnsd answered nyc ${t_auth:-?} ms after the kill; unbound ${t_res:-?} ms (bound ${BOUND} s)"
check "geodnsd sends Paris to nyc, the next nearest, within the bound" test -n "${t_auth:-}"
check "through unbound Paris resolves to nyc within the bound" test -n "${t_res:-}"
for ((i = 0; i < 600 * DNS_SLOW; i++)); do
    kill -0 "$PLAYER" 2>/dev/null || break
    sleep 0.1
done
wait "$PLAYER"
prc=$?
check "the player finished the stream (exit 0)" test "$prc" = 0
last=$(grep ' ok ' "$TMP/player.log" | tail -n 1)
check "the player finished on nyc ($last)" grep -q "127.0.2.1 ok" <<<"$last"
same=0
for seg in $R360; do cmp -s "$TMP/player/$seg" "$HLS/360p/$seg" && same=$((same + 1)); done
expect_eq "no segment lost: every one of the $nseg segments equals the origin's" "$same" "$nseg"
echo "  player: $(grep -c ' fail ' "$TMP/player.log") failed attempts, then nyc from $(grep -m1 '127.0.2.1 ok' "$TMP/player.log" | awk '{print $1 " at " $4 " ms"}')"
explain "$EX/geodnsd.yaml" --health-dir "$HD" $V 192.0.2.1/24
has "explain: fra down by the e2e vantage" "fra +down +e2e:down"

# Last: a client placed only by its loopback source address. unbound sends that address as ECS
# (127.255.3.0/24), but geodnsd does not use loopback ECS addresses: it answers for the
# resolver's own address (127.0.0.1, in no mmdb network) with the scope of the unusable range,
# /8 (127.0.0.0/8), so the answer is cached for loopback clients only. So through unbound,
# clients are placed with dig +subnet only. (Paris's scope is /9: the widest correct prefix.)
got=$(dig -b 127.255.3.1 @127.0.0.1 -p "$RP" +short +time=2 +tries=2 "$V" | tail -n 1)
own=$(dig @127.0.0.1 -p "$PORT" +short +norec +time=2 +tries=1 "$V" | tail -n 1)
expect_eq "a client placed by its source 127.255.3.1 (Tokyo) through unbound gets the resolver's answer" \
    "$got" "$own"
check "... which is not sin's" test "$got" != 127.0.3.1
alive "geodnsd alive"
finish
