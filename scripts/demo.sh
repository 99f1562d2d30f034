#!/bin/bash
# The whole delivery path on one machine with the bundled example (docs/demo.md): installs what
# is missing, builds, then starts on loopback an origin serving a sample HLS set made by ffmpeg,
# the four example PoPs as segment edges pulling from it (127.0.1.1 to 127.0.4.1), geodnsd on
# the example config, healthcheck feeding it every 2 s, and a local unbound that delegates
# cdn.example.test to geodnsd with EDNS Client Subnet. Checks a viewer per region through
# unbound and a player through the edge it was given, prints what to try, and stays up until
# Ctrl-C. --once exits after the checks (status 0 when they all passed).
# Environment: BUILD (build folder, default build), DNS_PORT (geodnsd, 5353), RESOLVER_PORT
# (unbound, 5354), EDGE_PORT (edges, 8080), ORIGIN_PORT (origin, 8000), METRICS_PORT (geodnsd's
# status page, 9153), HLS_SECONDS (6).
set -euo pipefail
cd "$(dirname "$0")/.."
ONCE=0
case "${1:-}" in
--once) ONCE=1 ;;
"") ;;
*) echo "usage: scripts/demo.sh [--once]" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
scripts/deps.sh
cmake -S . -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
BUILD=$(cd "$BUILD" && pwd)
B=$BUILD/bin
DNS_PORT=${DNS_PORT:-5353}
RPORT=${RESOLVER_PORT:-5354}
EPORT=${EDGE_PORT:-8080}
OPORT=${ORIGIN_PORT:-8000}
POPS=(fra nyc sin gru)

PATH_BIN=$B
. tests/lib/path-lib.sh
RUN=$(mktemp -d "${TMPDIR:-/tmp}/geodns-demo.XXXXXX")
cleanup() {
    path_stop_all
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; exit 130' INT TERM
die() {
    echo "demo: $*" >&2
    exit 1
}

# Ports: the example's edge port is 8080 on all four PoP addresses; fall back to a free one.
if ! path_tcp_free "$EPORT" 127.0.1.1 127.0.2.1 127.0.3.1 127.0.4.1; then
    busy=$EPORT
    EPORT=$(path_free_port 127.0.1.1 127.0.2.1 127.0.3.1 127.0.4.1)
    echo "demo: port $busy is busy on the PoP addresses: the edges use port $EPORT instead" \
        "(the run-time pops.yaml probes that port)"
fi
if ! path_tcp_free "$OPORT" 127.0.0.1; then
    busy=$OPORT
    OPORT=$(path_free_port 127.0.0.1)
    echo "demo: port $busy is busy on 127.0.0.1: the origin uses port $OPORT instead"
fi

# The run-time copy of zones/: the example database this build made, the edge port, health
# state files in the run folder.
path_example_conf zones "$RUN/zones" "$BUILD/example-city.mmdb" "$EPORT" || die "config copy failed"
CONF=$RUN/zones/geodnsd.yaml
HEALTH=$RUN/health
mkdir -p "$HEALTH"

echo "== sample HLS set: ${HLS_SECONDS:-6} s, three renditions (ffmpeg testsrc) in $RUN/hls"
path_make_hls "$RUN/hls" "${HLS_SECONDS:-6}" || die "ffmpeg could not make the HLS set"
FILES=$(path_hls_files "$RUN/hls")

echo "== origin on 127.0.0.1:$OPORT; edges fra, nyc, sin, gru on 127.0.{1,2,3,4}.1:$EPORT"
path_start_edge "$RUN/origin.log" --listen "127.0.0.1:$OPORT" --root "$RUN/hls" --no-access-log ||
    die "the origin did not start"
declare -A EDGE_PID
for n in 1 2 3 4; do
    path_start_edge "$RUN/${POPS[n - 1]}.log" --listen "127.0.$n.1:$EPORT" \
        --origin "http://127.0.0.1:$OPORT" --cache-mem 64M --no-access-log ||
        die "edge ${POPS[n - 1]} did not start"
    EDGE_PID[${POPS[n - 1]}]=$PATH_LAST_PID
done

echo "== geodnsd on 127.0.0.1:$DNS_PORT and [::1]:$DNS_PORT ($CONF)"
"$B/geodnsd" --check -c "$CONF" >/dev/null || { "$B/geodnsd" --check -c "$CONF"; die "bad config"; }
METRICS=""
gd_args=(-c "$CONF" --health-dir "$HEALTH" --listen "127.0.0.1:$DNS_PORT" --listen "[::1]:$DNS_PORT")
if "$B/geodnsd" --help 2>&1 | grep -q -- '--metrics'; then
    METRICS=127.0.0.1:${METRICS_PORT:-9153}
    gd_args+=(--metrics "$METRICS")
fi
"$B/geodnsd" "${gd_args[@]}" 2>"$RUN/geodnsd.log" &
PATH_PIDS+=($!)
GD_PID=$!
if ! path_wait_log "$RUN/geodnsd.log" "geodnsd ready" "$GD_PID" 10; then
    tail -n 5 "$RUN/geodnsd.log" >&2
    die "geodnsd did not start (is port $DNS_PORT free? set DNS_PORT=...)"
fi

echo "== healthcheck --interval 2 (vantage demo) writing $HEALTH/demo.json"
"$B/healthcheck" --interval 2 -c "$RUN/zones/pops.yaml" --vantage demo --out "$HEALTH" -q \
    2>"$RUN/healthcheck.log" &
PATH_PIDS+=($!)
HC_PID=$!
for ((i = 0; i < 100; i++)); do [ -s "$HEALTH/demo.json" ] && break; sleep 0.1; done
[ -s "$HEALTH/demo.json" ] || { cat "$RUN/healthcheck.log" >&2; die "no state file from healthcheck"; }

echo "== unbound on 127.0.0.1:$RPORT: cdn.example.test -> geodnsd 127.0.0.1@$DNS_PORT, ECS on"
path_unbound_conf "$RUN/unbound.conf" "$RUN" 127.0.0.1 "$RPORT" 127.0.0.1 "$DNS_PORT" ||
    die "bad unbound config"
path_start_unbound "$RUN/unbound.conf" "$RUN/unbound.log" ||
    die "unbound did not start (is port $RPORT free? set RESOLVER_PORT=...)"
UB_PID=$PATH_LAST_PID

failed=0
bad() {
    echo "  FAILED: $*"
    failed=1
}
# resolve SUBNET [TYPE]: the address unbound gives a viewer in SUBNET.
resolve() {
    dig @127.0.0.1 -p "$RPORT" +short +time=2 +tries=2 video.cdn.example.test "${2:-A}" \
        +subnet="$1" | tail -n 1
}
echo
echo "== viewers in the five example regions ask unbound; their subnet reaches geodnsd as ECS =="
declare -A ADDR
for region in "Paris 192.0.2.0/24 fra 127.0.1.1" "Chicago 198.51.100.0/24 nyc 127.0.2.1" \
    "Tokyo 203.0.113.0/24 sin 127.0.3.1" "Buenos-Aires 100.64.0.0/16 gru 127.0.4.1" \
    "Sydney 2001:db8::/32 sin 127.0.3.1"; do
    set -- $region
    got=$(resolve "$2")
    ADDR[$1]=$got
    printf '  %-13s %-17s -> %-10s (%s)\n' "$1" "$2" "$got" "$3"
    [ "$got" = "$4" ] || bad "$1 should get $3 $4"
done
got=$(resolve 2001:db8::/32 AAAA)
printf '  %-13s %-17s -> %s (sin, AAAA)\n' Sydney 2001:db8::/32 "$got"
[ "$got" = "fd00:c0d:3::1" ] || bad "Sydney AAAA should be sin's fd00:c0d:3::1"

echo
echo "== a Tokyo player fetches the stream from the edge it was given =="
addr=${ADDR[Tokyo]:-127.0.3.1}
same=0 total=0
for f in $FILES; do
    total=$((total + 1))
    curl -sf --max-time 10 --resolve "video.cdn.example.test:$EPORT:$addr" \
        "http://video.cdn.example.test:$EPORT/$f" -o "$RUN/got" &&
        cmp -s "$RUN/got" "$RUN/hls/$f" && same=$((same + 1))
done
echo "  curl: $same of $total files (master, 3 playlists, every segment) equal the origin's"
[ "$same" = "$total" ] || bad "files through $addr differ from the origin's"
if timeout 60 ffmpeg -nostdin -hide_banner -loglevel error -y -i "http://$addr:$EPORT/master.m3u8" \
    -map 0 -c copy "$RUN/play.ts" 2>"$RUN/ffmpeg.log"; then
    echo "  ffmpeg: remuxed every rendition through $addr: $(stat -c %s "$RUN/play.ts") bytes," \
        "$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$RUN/play.ts") s"
else
    bad "ffmpeg through $addr: $(tail -n 2 "$RUN/ffmpeg.log")"
fi

echo
echo "== geodnsd explain: why Tokyo gets sin (health from healthcheck's state file) =="
"$B/geodnsd" explain -c "$CONF" --health-dir "$HEALTH" video.cdn.example.test 203.0.113.9/24 |
    sed -n '/^health:/,/^zone:/p;/^pop /,/^ttl:/p' | sed 's/^/  /'

if [ "$ONCE" = 1 ]; then
    echo
    path_stop_all
    if [ "$failed" = 0 ]; then
        echo "demo: every check passed; everything is stopped."
    else
        echo "demo: some checks FAILED (above); everything is stopped."
    fi
    exit "$failed"
fi

[ "$failed" = 0 ] || echo "demo: some checks FAILED (above); the path stays up for a look."
T=${ADDR[Tokyo]:-127.0.3.1}
cat <<EOT

Running (run folder $RUN, removed on stop):
  origin  127.0.0.1:$OPORT      edges fra 127.0.1.1, nyc 127.0.2.1, sin 127.0.3.1, gru 127.0.4.1 :$EPORT
  geodnsd 127.0.0.1:$DNS_PORT, [::1]:$DNS_PORT   unbound 127.0.0.1:$RPORT   healthcheck every 2 s
Try:
  dig @127.0.0.1 -p $RPORT video.cdn.example.test +subnet=203.0.113.0/24     # via unbound: Tokyo -> sin
  dig @127.0.0.1 -p $RPORT video.cdn.example.test +subnet=100.64.7.0/24      # Buenos Aires -> gru
  dig @127.0.0.1 -p $DNS_PORT video.cdn.example.test +subnet=192.0.2.0/24 +norec  # geodnsd itself: Paris -> fra
  curl -s --resolve video.cdn.example.test:$EPORT:$T http://video.cdn.example.test:$EPORT/master.m3u8
  curl -s http://$T:$EPORT/status
  ffprobe -hide_banner http://$T:$EPORT/master.m3u8
  $B/geodnsd explain -c $CONF --health-dir $HEALTH video.cdn.example.test 203.0.113.9/24
  cat $HEALTH/demo.json
  kill ${EDGE_PID[sin]}      # stop sin's edge: within ~6 s explain shows it down; through unbound,
                             # Tokyo moves to the next nearest once the cached answer's TTL (30 s) ends
EOT
if [ -n "$METRICS" ] && curl -sf -o /dev/null --max-time 2 "http://$METRICS/"; then
    echo "  status page: http://$METRICS/"
fi
echo "Ctrl-C stops everything."
# wait (not a foreground sleep) so the INT trap runs at once; any process exiting ends the demo
while kill -0 "$GD_PID" 2>/dev/null && kill -0 "$UB_PID" 2>/dev/null && kill -0 "$HC_PID" 2>/dev/null; do
    sleep 1 &
    wait $! || true
done
echo "demo: a process stopped by itself (logs in $RUN were:)"
tail -n 3 "$RUN/geodnsd.log" "$RUN/unbound.log" "$RUN/healthcheck.log"
exit 1
