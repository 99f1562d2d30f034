#!/bin/bash
# edge_hls: a real HLS set made by ffmpeg is PUT to the origin by ffmpeg's HLS muxer, then fetched
# whole through an edge with bytes equal to the origin's, and remuxed by ffmpeg through the edge.
. "$(dirname "$0")/../lib/edge-lib.sh"

command -v ffmpeg >/dev/null || die "ffmpeg is required (Debian package ffmpeg)"
mkdir -p "$T/root"
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root"
PE=$(free_port)
start_edge edge --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO --cache-mem 64M --workers 2
O=http://127.0.0.1:$PO
E=http://127.0.1.1:$PE

# 1. The encoder publishes with PUT (ffmpeg's HLS muxer, -method PUT), as in production.
ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=320x180:rate=25:duration=4" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" \
    -c:v libx264 -preset ultrafast -g 25 -c:a aac -b:a 64k \
    -f hls -hls_time 1 -hls_playlist_type vod -method PUT \
    -hls_segment_filename "$O/pub/seg_%03d.ts" "$O/pub/index.m3u8" 2>"$T/ffmpeg-put.err"
check "ffmpeg PUT publishing succeeded" test $? -eq 0
check "published playlist is on the origin's disk" grep -q '#EXT-X-ENDLIST' "$T/root/pub/index.m3u8"
nseg=$(grep -c '^seg_' "$T/root/pub/index.m3u8")
check "published segments are on disk" test "$nseg" -ge 3 -a -f "$T/root/pub/seg_000.ts"
check "no temp files left by the uploads" test -z "$(find "$T/root" -name '.*')"

# 2. A 2-rendition VOD set with a master playlist, fetched whole through the edge.
make_hls "$T/root/vod" 4 2>"$T/ffmpeg-gen.err"
check "ffmpeg generated a master playlist" test -f "$T/root/vod/master.m3u8"
files=$(cd "$T/root" && find vod pub -type f | sort)
bad=0
n=0
for f in $files; do
    curl -s -o "$T/edge.bin" "$E/$f"
    curl -s -o "$T/origin.bin" "$O/$f"
    if ! cmp -s "$T/edge.bin" "$T/root/$f" || ! cmp -s "$T/origin.bin" "$T/root/$f"; then
        bad=$((bad + 1)); echo "differs: $f"
    fi
    n=$((n + 1))
done
check "fetched $n files through the edge" test "$n" -ge 10
expect_eq "every file through the edge equals the origin's bytes" "$bad" 0

# 3. A player-like client: ffmpeg reads the master playlist through the edge and remuxes.
ffmpeg -hide_banner -loglevel error -y -i "$E/vod/master.m3u8" -map 0 -c copy "$T/out.ts" 2>"$T/ffmpeg-play.err"
check "ffmpeg -c copy through the edge succeeded" test $? -eq 0 -a -s "$T/out.ts"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/out.ts" 2>/dev/null)
check "remuxed output has the expected duration (~4 s)" python3 -c "import sys; sys.exit(0 if 3.0 < float('$dur') < 5.5 else 1)"
h=$(curl -s -D- -o /dev/null "$E/vod/hi/seg_000.ts")
expect_match "segments are now hits" "$h" 'Cache-Status: segment-edge; hit'
h=$(curl -s -D- -o /dev/null "$E/vod/hi/index.m3u8")
expect_match "VOD playlist (EXT-X-ENDLIST) is cached long" "$h" 'Cache-Status: segment-edge; hit; ttl=[0-9]{4,}'
check "/status shows requests and a hit ratio" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert d["requests"]["total"] > 10 and d["cache"]["hit_ratio_requests"] > 0' "$(curl -s $E/status)"

finish
