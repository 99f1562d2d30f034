#!/bin/bash
# delivery_path: the whole path on loopback. An encoder (ffmpeg's HLS muxer, -method PUT)
# publishes to the origin; two edges (fra 127.0.1.1, nyc 127.0.2.1) pull from it; geodnsd
# answers video.cdn.example.test with the nearest edge for viewers in Paris and Chicago; a
# player (ffmpeg, curl) fetches the stream from the edge it was given, bytes equal to the
# origin's.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
EDGE_BIN=$BIN/segment-edge
MMDB=$(cd "$BUILD" && pwd)/example-city.mmdb
for f in "$EDGE_BIN" "$MMDB"; do
    [ -e "$f" ] || die "$f missing (build first)"
done
command -v ffmpeg >/dev/null || die "ffmpeg missing (scripts/deps.sh installs it)"

E2E=$TMP/e2e
mkdir -p "$E2E/origin-root"
EPIDS=()
edge_cleanup() {
    for p in "${EPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${EPIDS[@]}"; do wait "$p" 2>/dev/null; done
    dns_cleanup
}
trap edge_cleanup EXIT

# A port free on 127.0.0.1, 127.0.1.1 and 127.0.2.1 (TCP).
port3() {
    python3 - <<'PYEOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 60999)
    ss = []
    try:
        for h in ("127.0.0.1", "127.0.1.1", "127.0.2.1"):
            s = socket.socket(); ss.append(s); s.bind((h, p))
        print(p); break
    except OSError:
        pass
    finally:
        for s in ss: s.close()
PYEOF
}
start_edge() { # NAME ARGS...
    local name=$1 i
    shift
    "$EDGE_BIN" "$@" --no-access-log 2>"$E2E/$name.log" &
    EPIDS+=($!)
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        grep -q "listening on" "$E2E/$name.log" && return 0
        kill -0 "${EPIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    fail "$name starts" "$(tail -n 5 "$E2E/$name.log")"
    return 1
}

P=$(port3)
start_edge origin --listen "127.0.0.1:$P" --root "$E2E/origin-root" || finish
start_edge fra --listen "127.0.1.1:$P" --origin "http://127.0.0.1:$P" --cache-mem 64M || finish
start_edge nyc --listen "127.0.2.1:$P" --origin "http://127.0.0.1:$P" --cache-mem 64M || finish
pass "origin and two edges up on port $P"

# Encoder: 4 s of test video published over HTTP PUT, the way a live encoder does.
if timeout $((60 * DNS_SLOW)) ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=320x180:rate=25:duration=4" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" \
    -c:v libx264 -preset ultrafast -g 25 -c:a aac -b:a 64k \
    -f hls -hls_time 1 -hls_playlist_type vod -method PUT \
    "http://127.0.0.1:$P/live/index.m3u8" 2>"$E2E/encoder.log"; then
    pass "encoder published with PUT"
else
    fail "encoder published with PUT" "$(tail -n 5 "$E2E/encoder.log")"
fi
nseg=$(ls "$E2E/origin-root/live/"*.ts 2>/dev/null | wc -l)
check "origin stored the playlist and $nseg segments" \
    test -s "$E2E/origin-root/live/index.m3u8" -a "$nseg" -ge 3

# geodnsd with the example zone, PoPs and database.
cp "$SRC/zones/"*.yaml "$E2E/"
sed -i "s|mmdb: [^,}]*|mmdb: $MMDB|" "$E2E/geodnsd.yaml"
dns_start "$E2E/geodnsd.yaml" || finish

for viewer in "Paris 192.0.2.0/24 127.0.1.1 fra" "Chicago 198.51.100.0/24 127.0.2.1 nyc"; do
    set -- $viewer
    city=$1 subnet=$2 want=$3 pop=$4
    addr=$(dig @127.0.0.1 -p "$PORT" +short +time=2 +tries=1 video.cdn.example.test \
        +subnet="$subnet" | head -n 1)
    expect_eq "$city viewer resolves video.cdn.example.test to $pop" "$addr" "$want"
    [ -n "$addr" ] || continue
    url="http://video.cdn.example.test:$P/live/index.m3u8"
    curl -sf --max-time 10 --resolve "video.cdn.example.test:$P:$addr" "$url" \
        -o "$E2E/$city.m3u8"
    check "$city: playlist from $pop equals the origin's" cmp -s "$E2E/$city.m3u8" \
        "$E2E/origin-root/live/index.m3u8"
    same=0
    for seg in "$E2E/origin-root/live/"*.ts; do
        b=$(basename "$seg")
        curl -sf --max-time 10 "http://$addr:$P/live/$b" -o "$E2E/$city-$b" &&
            cmp -s "$E2E/$city-$b" "$seg" && same=$((same + 1))
    done
    expect_eq "$city: every segment from $pop equals the origin's" "$same" "$nseg"
    # The player: ffmpeg reads the stream through the edge and remuxes it.
    if timeout $((60 * DNS_SLOW)) ffmpeg -hide_banner -loglevel error -y \
        -i "http://$addr:$P/live/index.m3u8" -c copy "$E2E/$city-play.ts" \
        2>"$E2E/$city-player.log" && [ -s "$E2E/$city-play.ts" ]; then
        pass "$city: ffmpeg plays the stream through $pop"
    else
        fail "$city: ffmpeg plays the stream through $pop" "$(tail -n 5 "$E2E/$city-player.log")"
    fi
    status=$(curl -sf --max-time 5 "http://$addr:$P/status")
    check "$city: $pop's /status counts the player's requests and reports load" \
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["requests"]["total"] >= 1 + '"$nseg"' and "unit" in d["load"] else 1)' "$status"
done
alive "geodnsd alive"
finish
