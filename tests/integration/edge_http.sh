#!/bin/bash
# edge_http: ranges, conditional requests, CORS and preflight, HEAD, gzip, types, keep-alive (also
# after an ignored upgrade offer), cache key.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root/v"
head -c 100000 /dev/urandom >"$T/root/v/seg.ts"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n' >"$T/root/v/index.m3u8"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:6,\nseg.ts\n' >"$T/root/v/live.m3u8"
for e in mpd m4s mp4 aac vtt; do echo x >"$T/root/v/f.$e"; done
head -c 5000 /dev/urandom >"$T/root/v/oic.ts"
PO=$(free_port)
start_edge origin --listen 127.0.0.1:$PO --root "$T/root"
PE=$(free_port)
start_edge edge --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO --cache-mem 16M --workers 2

for mode in origin edge; do
    if [ $mode = origin ]; then U=http://127.0.0.1:$PO; else U=http://127.0.1.1:$PE; fi
    S=$U/v/seg.ts
    curl -s -o /dev/null "$S" # warm the edge

    h=$(curl -s -D- -o "$T/r" -r 10-19 "$S")
    expect_match "$mode: range gives 206" "$h" '^HTTP/1.1 206'
    expect_match "$mode: Content-Range of a closed range" "$h" 'Content-Range: bytes 10-19/100000'
    check "$mode: range body bytes" cmp -s "$T/r" <(tail -c +11 "$T/root/v/seg.ts" | head -c 10)
    h=$(curl -s -D- -o "$T/r" -r -100 "$S")
    expect_match "$mode: suffix range" "$h" 'Content-Range: bytes 99900-99999/100000'
    check "$mode: suffix range body" cmp -s "$T/r" <(tail -c 100 "$T/root/v/seg.ts")
    h=$(curl -s -D- -o "$T/r" -r 99990- "$S")
    expect_match "$mode: open range" "$h" 'Content-Range: bytes 99990-99999/100000'
    h=$(curl -s -D- -o /dev/null -r 200000-300000 "$S")
    expect_match "$mode: unsatisfiable range gives 416" "$h" '^HTTP/1.1 416'
    expect_match "$mode: 416 carries Content-Range */size" "$h" 'Content-Range: bytes \*/100000'
    expect_match "$mode: CORS on 416" "$h" 'Access-Control-Allow-Origin: \*'
    h=$(curl -s -D- -o /dev/null -r 0-1,5-6 "$S")
    expect_match "$mode: several ranges answer 200 whole" "$h" '^HTTP/1.1 200'

    etag=$(curl -s -D- -o /dev/null "$S" | tr -d '\r' | sed -n 's/^ETag: //Ip')
    lm=$(curl -s -D- -o /dev/null "$S" | tr -d '\r' | sed -n 's/^Last-Modified: //Ip')
    check "$mode: ETag present" test -n "$etag"
    h=$(curl -s -D- -o /dev/null -r 0-9 -H "If-Range: $etag" "$S")
    expect_match "$mode: If-Range with the current ETag keeps the range" "$h" '^HTTP/1.1 206'
    h=$(curl -s -D- -o /dev/null -r 0-9 -H 'If-Range: "other"' "$S")
    expect_match "$mode: If-Range with another ETag gives 200" "$h" '^HTTP/1.1 200'
    h=$(curl -s -D- -o /dev/null -H "If-None-Match: $etag" "$S")
    expect_match "$mode: If-None-Match gives 304" "$h" '^HTTP/1.1 304'
    expect_match "$mode: CORS on 304" "$h" 'Access-Control-Allow-Origin: \*'
    h=$(curl -s -D- -o /dev/null -H "If-Modified-Since: $lm" "$S")
    expect_match "$mode: If-Modified-Since gives 304" "$h" '^HTTP/1.1 304'
    h=$(curl -s -D- -o /dev/null -H 'If-None-Match: "nope"' "$S")
    expect_match "$mode: non-matching If-None-Match gives 200" "$h" '^HTTP/1.1 200'
    expect_match "$mode: CORS on 200" "$h" 'Access-Control-Allow-Origin: \*'
    h=$(curl -s -D- -o /dev/null -r 0-0 "$S")
    expect_match "$mode: CORS on 206" "$h" 'Access-Control-Allow-Origin: \*'
    expect_match "$mode: CORS exposes Content-Range" "$h" 'Access-Control-Expose-Headers:.*Content-Range'
    h=$(curl -s -D- -o /dev/null "$U/v/missing.ts")
    expect_match "$mode: missing object gives 404" "$h" '^HTTP/1.1 404'
    expect_match "$mode: CORS on 404" "$h" 'Access-Control-Allow-Origin: \*'

    h=$(curl -s -D- -o /dev/null -X OPTIONS -H 'Origin: https://player.example' \
        -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: range' "$S")
    expect_match "$mode: preflight gives 204" "$h" '^HTTP/1.1 204'
    expect_match "$mode: preflight allows GET" "$h" 'Access-Control-Allow-Methods:.*GET'
    expect_match "$mode: preflight allows Range" "$h" 'Access-Control-Allow-Headers:.*range'

    h=$(curl -s -I "$S")
    expect_match "$mode: HEAD gives 200" "$h" '^HTTP/1.1 200'
    expect_match "$mode: HEAD has the full length" "$h" 'Content-Length: 100000'
    hp=${U#http://}
    r=$(printf 'HEAD /v/seg.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
import rawhttp
h, p = sys.argv[1].rsplit(":", 1)
d = rawhttp.exchange_all(h, int(p), sys.stdin.buffer.read())
print("nobody" if d.endswith(b"\r\n\r\n") and d.count(b"\r\n\r\n") == 1 else "body")' "$hp" "$SRC/tests/lib")
    expect_eq "$mode: HEAD has no body" "$r" nobody

    h=$(curl -s -D- -o "$T/pl" --compressed "$U/v/index.m3u8")
    expect_match "$mode: playlist gzip when asked" "$h" 'Content-Encoding: gzip'
    expect_match "$mode: playlist varies on Accept-Encoding" "$h" 'Vary: Accept-Encoding'
    check "$mode: gzip playlist decodes to the file" cmp -s "$T/pl" "$T/root/v/index.m3u8"
    h=$(curl -s -D- -o "$T/pl" "$U/v/index.m3u8")
    check "$mode: no gzip when not asked" test -z "$(printf '%s' "$h" | grep -i 'Content-Encoding')"
    expect_match "$mode: m3u8 type" "$h" 'Content-Type: application/vnd.apple.mpegurl'
    for pair in mpd:application/dash.xml m4s:video/iso.segment mp4:video/mp4 aac:audio/aac vtt:text/vtt; do
        h=$(curl -s -D- -o /dev/null "$U/v/f.${pair%%:*}")
        expect_match "$mode: ${pair%%:*} type" "$h" "Content-Type: ${pair#*:}"
    done
    h=$(curl -s -D- -o /dev/null "$S")
    expect_match "$mode: ts type" "$h" 'Content-Type: video/mp2t'

    v=$(curl -sv -o /dev/null -o /dev/null "$S" "$S" 2>&1)
    expect_match "$mode: keep-alive reuses the connection" "$v" 'Re-using existing connection'
    # An upgrade offer is ignored and the connection stays HTTP/1.1: curl --http2 on http://
    # asks for h2c on each request and reuses the connection for the next one.
    v=$(curl -sv --http2 -o /dev/null -o /dev/null -w '%{http_code}\n' "$S" "$S" 2>&1)
    expect_match "$mode: h2c offer: the connection is reused" "$v" 'Re-using existing connection'
    expect_eq "$mode: h2c offer: both requests get 200" "$(grep -cx 200 <<<"$v")" 2
done

U=http://127.0.1.1:$PE
h=$(curl -s -D- -o /dev/null "$U/v/seg.ts")
expect_match "edge: Age header" "$h" '^Age: [0-9]+'
expect_match "edge: Cache-Status hit" "$h" 'Cache-Status: segment-edge; hit'
curl -s -o /dev/null "$U/v/live.m3u8"
h=$(curl -s -D- -o /dev/null "$U/v/live.m3u8")
expect_match "edge: live playlist fresh for at most half its target duration (3 s)" "$h" 'Cache-Status: segment-edge; hit; ttl=[0-2]\b'
h=$(curl -s -D- -o /dev/null "$U/v/index.m3u8")
expect_match "edge: VOD playlist (EXT-X-ENDLIST) fresh for long" "$h" 'Cache-Status: segment-edge; hit; ttl=[0-9]{4,}'
h=$(curl -s -D- -o /dev/null "$U/v/seg.ts")
expect_match "edge: segment fresh for long" "$h" 'Cache-Status: segment-edge; hit; ttl=[0-9]{4,}'
h=$(curl -s -D- -o /dev/null "$U/v/f.m4s?token=abc&x=1")
expect_match "edge: unknown query parameters are dropped from the key (hit)" "$h" 'Cache-Status: segment-edge; hit'
n0=$(origin_hits "$T/origin.log" '/v/index.m3u8?_HLS_msn=5')
curl -s -o /dev/null "$U/v/index.m3u8?_HLS_msn=5&token=a"
curl -s -o /dev/null "$U/v/index.m3u8?token=b&_HLS_msn=5"
n1=$(origin_hits "$T/origin.log" '/v/index.m3u8?_HLS_msn=5')
expect_eq "edge: LL-HLS _HLS_msn kept in the key, token dropped (one fetch)" "$((n1 - n0))" 1
curl -s -o /dev/null "$U/v/index.m3u8?_HLS_msn=6"
n2=$(origin_hits "$T/origin.log" '/v/index.m3u8?_HLS_msn=6')
expect_eq "edge: another _HLS_msn is another object" "$n2" 1

# Cache-Control: only-if-cached (RFC 9111 5.2.1.7): what is stored, or 504 without asking the
# origin.
h=$(curl -s -D- -o /dev/null -H 'Cache-Control: only-if-cached' "$U/v/oic.ts")
expect_match "edge: only-if-cached on a miss gives 504" "$h" '^HTTP/1.1 504'
expect_eq "edge: ... without a request to the origin" "$(origin_hits "$T/origin.log" /v/oic.ts)" 0
h=$(curl -s -D- -o /dev/null -H 'Cache-Control: max-stale, only-if-cached' "$U/v/oic.ts")
expect_match "edge: ... and stores nothing (still 504)" "$h" '^HTTP/1.1 504'
curl -s -o /dev/null "$U/v/oic.ts"
h=$(curl -s -D- -o "$T/oic" -H 'Cache-Control: only-if-cached' "$U/v/oic.ts")
expect_match "edge: only-if-cached once stored: a hit" "$h" 'Cache-Status: segment-edge; hit'
check "edge: ... with the object's bytes" cmp -s "$T/oic" "$T/root/v/oic.ts"
expect_eq "edge: one origin request in all" "$(origin_hits "$T/origin.log" /v/oic.ts)" 1
h=$(curl -s -D- -o /dev/null -H 'Cache-Control: only-if-cached' "$U/v/oic.ts" -H 'Connection: keep-alive' \
    --next -s -D- -o /dev/null "$U/v/oic2.ts")
expect_match "edge: the directive is per request (the next one on the connection fills)" "$h" \
    'HTTP/1.1 404'

h=$(curl -s -D- -o /dev/null "$U/healthz")
expect_match "/healthz gives 200" "$h" '^HTTP/1.1 200'
h=$(curl -s -D- -o /dev/null "$U/readyz")
expect_match "/readyz gives 200 when ready" "$h" '^HTTP/1.1 200'
m=$(curl -s "$U/metrics")
expect_match "/metrics is Prometheus text" "$m" '^segment_edge_requests_total [0-9]+'
expect_match "/metrics has the load" "$m" 'segment_edge_load\{unit="egress_mbps"\}'
s=$(curl -s "$U/status")
check "/status is JSON with load, cache and origin" python3 -c '
import json,sys; d=json.loads(sys.argv[1])
assert d["load"]["unit"]=="egress_mbps" and "value" in d["load"]
for k in ("hit_ratio_requests","hit_ratio_bytes","fills_inflight","stale_served"): assert k in d["cache"], k
assert d["origin"]["servers"][0]["up"] is True
assert "per_s" in d["requests"] and "bits_per_s" in d["egress"] and "active" in d["connections"]' "$s"

finish
