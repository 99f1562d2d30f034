#!/bin/bash
# edge_disk: objects evicted from the memory cache go to the disk tier (bounded in bytes) and are
# served from it (sendfile) with the origin stopped; memory and disk both stay within budget, also
# with thousands of tiny playlists under long client-chosen keys (each disk object is charged its
# file in whole blocks and its index entry).
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
for i in $(seq 0 39); do head -c 300000 /dev/urandom >"$T/root/d$i.ts"; done
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root"
ORIGIN_PID=$LAST_PID
cat >"$T/edge.yaml" <<YAML
cache_memory: 2M
max_object: 1M
cache_disk: {path: "$T/disk", size: 6M}
freshness: {stale_if_error: 1h}
YAML
PE=$(free_port)
start_edge edge -c "$T/edge.yaml" --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO
E=http://127.0.1.1:$PE
mem=$((2 * 1048576)); disk=$((6 * 1048576))

for i in $(seq 0 39); do curl -s -o /dev/null "$E/d$i.ts"; done
for _ in $(seq 50); do
    [ "$(status_field $E disk.writes)" -ge 20 ] && break
    sleep 0.1
done
check "evicted objects were written to disk" test "$(status_field $E disk.writes)" -ge 20
check "disk bytes within the disk budget" test "$(status_field $E disk.bytes)" -le $disk
check "the disk tier evicted too" test "$(status_field $E disk.evictions)" -gt 0
check "memory bytes within the memory budget" test "$(status_field $E cache.bytes)" -le $mem
n=$(ls "$T/disk" | grep -c '^segment-edge-.*\.obj$')
expect_eq "one file per disk object" "$n" "$(status_field $E disk.objects)"

stop_pid $ORIGIN_PID
# Which objects are on disk depends on which were still being sent when memory was full (those
# are not evicted): about d14..d33 (2 MiB of memory hold ~6 objects, 6 MiB of disk ~20, the most
# recently evicted). With only-if-cached a miss is a 504 and changes nothing, so the newest
# objects are asked in turn until one comes from disk, whole, and then another, as a range.
first="" second="" hfirst="" hsecond=""
for i in $(seq 39 -1 0); do
    if [ -z "$first" ]; then
        h=$(curl -s -D- -o "$T/first" -H 'Cache-Control: only-if-cached' "$E/d$i.ts")
        grep -q 'detail=disk' <<<"$h" && first=$i hfirst=$h
    else
        h=$(curl -s -D- -o "$T/second" -r 1000-1999 -H 'Cache-Control: only-if-cached' "$E/d$i.ts")
        grep -q 'detail=disk' <<<"$h" && second=$i hsecond=$h && break
    fi
done
expect_match "origin down: an object from disk (d$first) is a hit" "$hfirst" \
    'Cache-Status: segment-edge; hit; .*detail=disk'
check "the disk copy is byte-identical" cmp -s "$T/first" "$T/root/d$first.ts"
expect_match "a range from a disk object (d$second)" "$hsecond" '^HTTP/1.1 206'
check "the range bytes are right" cmp -s "$T/second" <(tail -c +1001 "$T/root/d$second.ts" | head -c 1000)
check "disk hits counted" test "$(status_field $E disk.hits)" -ge 2
# /metrics has the disk tier's figures too, every one docs/metrics.md names, equal to /status's.
curl -s -m 10 "$E/metrics" >"$T/disk.prom"
for f in budget:budget_bytes bytes:bytes body_bytes:body_bytes objects:objects writes:writes_total \
    hits:hits_total evictions:evictions_total dropped:dropped_total; do
    expect_eq "/metrics segment_edge_disk_${f#*:} = /status disk.${f%%:*}" \
        "$(awk -v m="segment_edge_disk_${f#*:}" '$1 == m {print $2}' "$T/disk.prom")" \
        "$(status_field $E "disk.${f%%:*}")"
done
expect_eq "/metrics: the disk metrics are the ones docs/metrics.md names" \
    "$(grep -o '^segment_edge_disk_[a-z_]*' "$T/disk.prom" | sort | tr '\n' ' ')" \
    "$(grep -oE '`segment_edge_disk_[a-z_]*`' "$SRC/docs/metrics.md" | tr -d '`' | sort -u | tr '\n' ' ')"
h=$(curl -s -D- -o /dev/null "$E/d0.ts")
expect_match "an object evicted from disk too is gone (origin down: 502)" "$h" '^HTTP/1.1 502'

# Tiny playlists under distinct _HLS_msn values (always kept in the cache key), each key ~2 KB: a
# 1M disk tier holds at most 1M / block of them (a filesystem block each at least: 256 of 4 KiB),
# and their files take no more than the budget on the filesystem (du counts blocks; slack: the
# directory's own blocks).
mkdir -p "$T/live"
{
    printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n'
    for n in 7 8 9; do printf '#EXTINF:2.0,\nseg%d.ts\n' $n; done
} | head -c 100 >"$T/live/x.m3u8"
PL=$(free_port)
start_edge origin2 --listen 127.0.0.1:$PL --root "$T/live"
cat >"$T/small.yaml" <<YAML
cache_memory: 1M
cache_disk: {path: "$T/disk2", size: 1M}
YAML
PS=$(free_port)
start_edge small -c "$T/small.yaml" --listen 127.0.1.1:$PS --origin http://127.0.0.1:$PL
S=http://127.0.1.1:$PS
pad=$(printf '7%.0s' $(seq 2000))
for i in $(seq 3000); do
    printf 'url = "%s/x.m3u8?_HLS_msn=%d%s"\noutput = "/dev/null"\n' "$S" "$i" "$pad"
done >"$T/urls"
curl -s -K "$T/urls"
prev=-1
for _ in $(seq 100); do
    w=$(status_field $S disk.writes)
    [ "$w" = "$prev" ] && break
    prev=$w
    sleep 0.2
done
budget=1048576
check "tiny playlists were written to disk (more than it holds)" \
    test "$(status_field $S disk.writes)" -gt 256
block=$(status_field $S disk.block)
check "the charge's block is the filesystem's ($block)" \
    test "$block" -eq "$(stat -f -c %S "$T/disk2")"
check "at most 1M / $block disk objects in a 1M budget" \
    test "$(status_field $S disk.objects)" -le $((budget / block))
check "charged bytes within the budget" test "$(status_field $S disk.bytes)" -le $budget
check "charged bytes above the bodies' bytes" \
    test "$(status_field $S disk.bytes)" -gt "$(status_field $S disk.body_bytes)"
used=$(du -s -B1 "$T/disk2" | cut -f1)
check "the disk tier's files take the budget at most on the filesystem ($used bytes)" \
    test "$used" -le $((budget + 65536))
finish
