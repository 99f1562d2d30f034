#!/bin/bash
# edge_eviction: the memory cache stays within its byte budget while LRU eviction works; objects
# larger than max_object are served but not stored.
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
finish
