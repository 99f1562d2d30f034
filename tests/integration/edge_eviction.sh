#!/bin/bash
# edge_eviction: the memory cache stays within its byte budget while LRU eviction works; objects
# larger than max_object are served but not stored; an object's charge (cache.bytes) holds its
# body, the response header values kept with it and a playlist's gzip copy.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
for i in $(seq 0 39); do head -c 300000 /dev/urandom >"$T/root/s$i.ts"; done
head -c 1200000 /dev/urandom >"$T/root/huge.ts"
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root"
PE=$(free_port)
start_edge edge --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO --cache-mem 4M --workers 2
EDGE_PID=$LAST_PID
E=http://127.0.1.1:$PE
budget=$((4 * 1048576))
rss0=$(rss $EDGE_PID)

over=0
bad=0
for i in $(seq 0 39); do
    curl -s -o "$T/got" "$E/s$i.ts"
    cmp -s "$T/got" "$T/root/s$i.ts" || bad=$((bad + 1))
    curl -s -o /dev/null "$E/s0.ts" # keep s0 recently used
    b=$(status_field $E cache.bytes)
    [ "$b" -le "$budget" ] || { over=$((over + 1)); echo "cache.bytes $b > $budget after s$i"; }
done
expect_eq "every object served intact" "$bad" 0
expect_eq "cache bytes never exceeded the budget" "$over" 0
check "objects were evicted" test "$(status_field $E cache.evictions)" -gt 0
check "fewer objects than fetched remain" test "$(status_field $E cache.objects)" -lt 40
h=$(curl -s -D- -o /dev/null "$E/s0.ts")
expect_match "the recently used object survived eviction (LRU)" "$h" 'Cache-Status: segment-edge; hit'
h=$(curl -s -D- -o /dev/null "$E/s1.ts")
expect_match "an old object was evicted (miss again)" "$h" 'fwd=miss'

curl -s -o "$T/got" "$E/huge.ts"
check "an object above max_object is served intact" cmp -s "$T/got" "$T/root/huge.ts"
h=$(curl -s -D- -o /dev/null "$E/huge.ts")
expect_match "an object above max_object is not stored" "$h" 'fwd=miss'
check "cache bytes within budget after the large object" test "$(status_field $E cache.bytes)" -le "$budget"

if grep -q 'GEODNS_SANITIZE:BOOL=ON' "${BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null ||
    grep -qa '__asan_init\|__tsan_init' "$EDGE"; then
    echo "skip: resident memory check (sanitizer build keeps freed memory in quarantine)"
else
    grow=$(( $(rss $EDGE_PID) - rss0 ))
    echo "resident memory grew by $grow bytes (budget $budget, 12 MB fetched)"
    check "resident memory growth stays near the budget" test "$grow" -lt $((budget + 8 * 1048576))
fi

# What an object is charged. A scripted origin (tests/lib/fake_origin.py) gives the same 20000
# bytes of playlist text for /c/p.m3u8 (a playlist: a gzip copy is made), /c/ppp.ts (a segment:
# none) and /c/hhh.ts (a segment with three more header values kept: ETag, Last-Modified,
# Location). The keys are as long, so the charges differ by exactly the gzip copy, and by the
# three values (each with its terminating NUL).
cat >"$T/charge.py" <<'PY'
import fake_origin
lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"]
i = 0
while sum(len(l) + 1 for l in lines) < 20000:
    lines += ["#EXTINF:2.000,", "seg_%05d.ts" % i]
    i += 1
BODY = ("\n".join(lines) + "\n").encode()[:20000]
BASE = [("Content-Type", "application/vnd.apple.mpegurl"), ("Cache-Control", "max-age=600")]
MORE = [("ETag", '"' + "e" * 1000 + '"'), ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("Location", "/c/elsewhere")]
def handle(req):
    req.reply(200, BODY, BASE + (MORE if req.path == "/c/hhh.ts" else []))
fake_origin.main(handle)
PY
PC=$(free_port)
start_origin charge "$T/charge.py" $PC
PE2=$(free_port)
start_edge edge_charge --listen 127.0.1.1:$PE2 --origin http://127.0.0.1:$PC --cache-mem 64M
E2=http://127.0.1.1:$PE2
b0=$(status_field $E2 cache.bytes)
curl -s -o /dev/null "$E2/c/ppp.ts"
b1=$(status_field $E2 cache.bytes)
curl -s -o /dev/null "$E2/c/p.m3u8"
# A gzip answer waits for the complete body, and so for its gzip copy.
h=$(curl -s -D- -o "$T/p.gz" -H 'Accept-Encoding: gzip' "$E2/c/p.m3u8")
expect_match "the playlist has a gzip copy" "$h" '^Content-Encoding: gzip'
gz=$(stat -c %s "$T/p.gz")
b2=$(status_field $E2 cache.bytes)
curl -s -o /dev/null "$E2/c/hhh.ts"
b3=$(status_field $E2 cache.bytes)
seg=$((b1 - b0)); pl=$((b2 - b1)); more=$((b3 - b2))
echo "charged: segment $seg, playlist $pl (gzip copy $gz), segment with three more values $more"
check "a segment is charged at least its body" test "$seg" -ge 20000
expect_eq "a playlist is charged its gzip copy besides (cache.bytes)" "$((pl - seg))" "$gz"
expect_eq "the header values kept are charged (cache.bytes)" "$((more - seg))" $((1002 + 1 + 29 + 1 + 12 + 1))
expect_eq "with room, no gzip copy was skipped" "$(status_field $E2 cache.gzip_skipped)" 0
expect_match "/metrics has gzip_skipped" "$(curl -s $E2/metrics)" '^segment_edge_gzip_skipped_total 0'
finish
