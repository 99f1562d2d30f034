#!/bin/bash
# demo-edge.sh: runs segment-edge end to end on loopback: an HLS VOD set made by ffmpeg, one origin,
# two edges (127.0.1.1 and 127.0.2.1), checks with curl and ffmpeg, then prints /status.
# usage: scripts/demo-edge.sh [BUILD_DIR]   (default build/)
# env: EDGE_ORIGIN_PORT (8000), EDGE_PORT (8080), DEMO_WAIT=1 to keep running until Ctrl-C.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
EDGE=$BUILD/bin/segment-edge
OPORT=${EDGE_ORIGIN_PORT:-8000}
EPORT=${EDGE_PORT:-8080}
ORIGIN=127.0.0.1:$OPORT
EDGES="127.0.1.1:$EPORT 127.0.2.1:$EPORT"
[ -x "$EDGE" ] || { echo "no $EDGE: build first (cmake -S . -B build && cmake --build build)"; exit 1; }
command -v ffmpeg >/dev/null || { echo "ffmpeg is needed (apt-get install ffmpeg)"; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/demo-edge.XXXXXX")
PIDS=""

cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start() { # start NAME ARGS...
    local name=$1; shift
    "$EDGE" "$@" 2>"$DIR/$name.log" &
    PIDS="$PIDS $!"
    for _ in $(seq 100); do
        grep -q "listening on" "$DIR/$name.log" && return 0
        kill -0 $! 2>/dev/null || { cat "$DIR/$name.log"; exit 1; }
        sleep 0.1
    done
    echo "$name did not start"; cat "$DIR/$name.log"; exit 1
}

echo "== generating a 6 s HLS VOD set (2 renditions, master.m3u8) in $DIR/hls"
mkdir -p "$DIR/hls"
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=25:duration=6" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=6" \
    -filter_complex "[0:v]split=2[a][b];[b]scale=320:180[b2]" \
    -map "[a]" -map "[b2]" -map 1:a -map 1:a \
    -c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 \
    -b:v:0 800k -b:v:1 300k -c:a aac -b:a 96k -ac 2 \
    -f hls -hls_time 2 -hls_playlist_type vod -master_pl_name master.m3u8 \
    -var_stream_map "v:0,a:0,name:360p v:1,a:1,name:180p" \
    -hls_segment_filename "$DIR/hls/%v/seg_%03d.ts" "$DIR/hls/%v/index.m3u8"

echo "== origin on $ORIGIN, edges on $EDGES"
start origin --listen "$ORIGIN" --root "$DIR/hls"
i=1
for e in $EDGES; do
    start "edge$i" --listen "$e" --origin "http://$ORIGIN" --cache-mem 256M
    i=$((i + 1))
done

for e in $EDGES; do
    echo "== curl through $e"
    curl -sf "http://$e/master.m3u8" | head -4
    for f in master.m3u8 360p/index.m3u8 360p/seg_000.ts 360p/seg_000.ts; do
        curl -sf -o "$DIR/got" -D "$DIR/h" "http://$e/$f"
        cmp -s "$DIR/got" "$DIR/hls/$f" || { echo "MISMATCH $f via $e"; exit 1; }
        printf '  %-18s %s\n' "$f" "$(grep -i '^Cache-Status' "$DIR/h" | tr -d '\r')"
    done
done

E1=${EDGES%% *}
echo "== ffmpeg -i http://$E1/master.m3u8 -c copy"
ffmpeg -nostdin -hide_banner -loglevel error -y -i "http://$E1/master.m3u8" -map 0 -c copy "$DIR/copy.ts"
echo "  wrote $(stat -c %s "$DIR/copy.ts") bytes, duration $(ffprobe -v error -show_entries format=duration -of csv=p=0 "$DIR/copy.ts") s"

sleep 1.2 # the rates are computed once a second
echo "== /status of $E1"
curl -sf "http://$E1/status"

if [ "${DEMO_WAIT:-0}" = 1 ]; then
    echo "== running: origin http://$ORIGIN/master.m3u8, edges:"
    for e in $EDGES; do echo "   http://$e/master.m3u8   (status: http://$e/status)"; done
    echo "   Ctrl-C to stop"
    # wait, not a foreground sleep: bash runs the TERM trap only between commands
    sleep infinity &
    PIDS="$PIDS $!"
    wait $!
fi
echo "== demo done, stopping"
