#!/bin/bash
# The demo of the whole path on the bundled example config: installs what is missing, builds
# (including the example GeoIP database), starts geodnsd on loopback with zones/, shows the
# nearest PoP for each example region with dig and explains one, then (when built) the segment
# edge: an origin and two edges serving a real HLS set. Stays up until Ctrl-C, or exits after
# the checks with --once.
set -euo pipefail
cd "$(dirname "$0")/.."
ONCE=0
[ "${1:-}" = "--once" ] && ONCE=1
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
PORT=${DNS_PORT:-5353}
LOG=$(mktemp -t geodnsd-demo.XXXXXX.log)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build/bin/geodnsd --check -c zones/geodnsd.yaml
build/bin/geodnsd -c zones/geodnsd.yaml --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" \
    2>"$LOG" &
pids+=($!)
for _ in $(seq 50); do grep -q "geodnsd ready" "$LOG" && break; sleep 0.1; done
if ! grep -q "geodnsd ready" "$LOG"; then
    cat "$LOG" >&2
    echo "demo: geodnsd did not start (is port $PORT free? set DNS_PORT=...)" >&2
    exit 1
fi
cat "$LOG"
show() {
    echo
    echo "\$ $*"
    "$@" | sed -n '/ANSWER SECTION\|AUTHORITY SECTION\|status:/,/^$/p'
}
echo
echo "== video.cdn.example.test from the five example regions (EDNS Client Subnet) =="
for region in "Paris 192.0.2.0/24" "Chicago 198.51.100.0/24" "Tokyo 203.0.113.0/24" \
    "Buenos-Aires 100.64.0.0/16" "Sydney 2001:db8::/32"; do
    set -- $region
    type=A
    case "$2" in *:*) type=AAAA ;; esac
    ans=$(dig @127.0.0.1 -p "$PORT" +norec +time=2 +tries=1 video.cdn.example.test "$type" \
        +subnet="$2" | awk '/^video/ {print $5} /CLIENT-SUBNET/ {print "scope:" $3}' | xargs)
    printf '  %-13s %-17s %s -> %s\n' "$1" "$2" "$type" "$ans"
done
echo
echo "== the same by source address (no ECS): dig -b 127.255.N.1 =="
for n in 1 2 3 4 5; do
    printf '  from 127.255.%s.1 -> %s\n' "$n" \
        "$(dig -b "127.255.$n.1" @127.0.0.1 -p "$PORT" +short +time=2 +tries=1 video.cdn.example.test)"
done
echo
echo "\$ build/bin/geodnsd explain -c zones/geodnsd.yaml video.cdn.example.test 203.0.113.9/24"
build/bin/geodnsd explain -c zones/geodnsd.yaml video.cdn.example.test 203.0.113.9/24 |
    sed -n '1,/^ttl:/p'
show dig @127.0.0.1 -p "$PORT" +norec www.cdn.example.test +subnet=198.51.100.0/24
show dig @127.0.0.1 -p "$PORT" +norec nothere.cdn.example.test
show kdig @127.0.0.1 -p "$PORT" +tcp static.cdn.example.test AAAA
show dig @::1 -p "$PORT" +norec _http._tcp.cdn.example.test SRV

EPORT=${EDGE_PORT:-8080}
edges_up=0
if [ -x scripts/demo-edge.sh ] && [ -x build/bin/segment-edge ]; then
    echo
    echo "== segment edge: origin + edges fra (127.0.1.1) and nyc (127.0.2.1) serving HLS =="
    if [ "$ONCE" = 1 ]; then
        DEMO_WAIT=0 EDGE_PORT=$EPORT scripts/demo-edge.sh build
    else
        EDGE_LOG=$(mktemp -t segment-edge-demo.XXXXXX.log)
        DEMO_WAIT=1 EDGE_PORT=$EPORT scripts/demo-edge.sh build >"$EDGE_LOG" 2>&1 &
        pids+=($!)
        for _ in $(seq 600); do
            grep -q "== running" "$EDGE_LOG" && break
            kill -0 "${pids[-1]}" 2>/dev/null || break
            sleep 0.2
        done
        cat "$EDGE_LOG"
        grep -q "== running" "$EDGE_LOG" && edges_up=1
    fi
fi
if [ "$edges_up" = 1 ]; then
    echo
    echo "== the whole path: a Chicago viewer resolves the name, then plays from that edge =="
    addr=$(dig @127.0.0.1 -p "$PORT" +short video.cdn.example.test +subnet=198.51.100.0/24)
    echo "  video.cdn.example.test -> $addr"
    echo "  \$ curl --resolve video.cdn.example.test:$EPORT:$addr http://video.cdn.example.test:$EPORT/master.m3u8"
    curl -sf --resolve "video.cdn.example.test:$EPORT:$addr" \
        "http://video.cdn.example.test:$EPORT/master.m3u8" | sed 's/^/    /'
fi

cat <<EOT

geodnsd is serving zones/ on 127.0.0.1:$PORT and [::1]:$PORT (log: $LOG). Try:
  dig @127.0.0.1 -p $PORT www.cdn.example.test
  kdig @127.0.0.1 -p $PORT +tcp cdn.example.test SOA
  dig @127.0.0.1 -p $PORT cdn.example.test ANY
Edit zones/cdn.example.test.yaml: geodnsd reloads it by itself (or: kill -HUP ${pids[0]}).
EOT
if [ "$edges_up" = 1 ]; then
    cat <<EOT
Edges: http://127.0.1.1:$EPORT/master.m3u8 (fra), http://127.0.2.1:$EPORT/master.m3u8 (nyc),
status at /status, /metrics; play with: ffplay http://127.0.1.1:$EPORT/master.m3u8
EOT
fi
if [ "$ONCE" = 1 ]; then
    exit 0
fi
echo "Ctrl-C stops."
wait "${pids[0]}"
