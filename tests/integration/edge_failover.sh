#!/bin/bash
# edge_failover: the origin client retries once on another origin (connect refused, 5xx, first-byte
# timeout), answers 504/502 when no origin works, and never caches a body cut off mid-way.
. "$(dirname "$0")/../lib/edge-lib.sh"

# A scripted origin (tests/lib/fake_origin.py; one request per connection, each logged to
# $T/NAME.requests): /hang/* never answers, /503/* answers 503, /trunc/* sends 1000 of 100000
# bytes then closes, anything else is 200 "ok <path>"; in "good" mode everything is 200.
cat >"$T/origin.py" <<'PY'
import sys, threading
import fake_origin
good = sys.argv[3] == "good"
def handle(req):
    path = req.target
    if not good and path.startswith("/hang/"):
        threading.Event().wait(60)
    elif not good and path.startswith("/503/"):
        req.reply(503, b"busy")
    elif not good and path.startswith("/trunc/"):
        req.send_head(200, length=100000)
        req.write(b"x" * 1000)
    else:
        headers = []
        if path.startswith("/cc/"):  # /cc/<Cache-Control value, '_' for ' '>/file
            headers.append(("Cache-Control", path.split("/")[2].replace("_", " ")))
        req.reply(200, ("ok %s\n" % path).encode(), headers)
fake_origin.main(handle)
PY
PA=$(free_port); PB=$(free_port); DEAD=$(free_port)
start_origin originA "$T/origin.py" $PA scripted
start_origin originB "$T/origin.py" $PB good
cat >"$T/edge.yaml" <<YAML
timeouts: {first_byte: 1s, between_bytes: 1s, connect: 1s, origin_probe_interval: 1h}
YAML

# Dead first origin: connect refused, one retry on the second.
P1=$(free_port)
start_edge edge1 -c "$T/edge.yaml" --listen 127.0.1.1:$P1 --origin http://127.0.0.1:$DEAD --origin http://127.0.0.1:$PB
body=$(curl -s "http://127.0.1.1:$P1/a/seg.ts")
expect_eq "connect refused on the first origin: served by the second" "$body" "ok /a/seg.ts"
expect_eq "/status shows the dead origin down" "$(status_field http://127.0.1.1:$P1 origin.servers.0.up)" false
check "/status counts its errors" test "$(status_field http://127.0.1.1:$P1 origin.servers.0.errors)" -ge 1

# First origin answers 503: retried on the second (idempotent GET).
P2=$(free_port)
start_edge edge2 -c "$T/edge.yaml" --listen 127.0.1.1:$P2 --origin http://127.0.0.1:$PA --origin http://127.0.0.1:$PB
body=$(curl -s "http://127.0.1.1:$P2/503/x.ts")
expect_eq "5xx on the first origin: served by the second" "$body" "ok /503/x.ts"
check "the first origin was asked once" test "$(grep -c '/503/x.ts' "$T/originA.requests")" -eq 1

# First origin hangs: first-byte timeout, then the second.
body=$(curl -s --max-time 20 "http://127.0.1.1:$P2/hang/y.ts")
expect_eq "first-byte timeout on the first origin: served by the second" "$body" "ok /hang/y.ts"

# A single hanging origin: 504 after the first-byte timeout, with CORS.
P3=$(free_port)
start_edge edge3 -c "$T/edge.yaml" --listen 127.0.1.1:$P3 --origin http://127.0.0.1:$PA
h=$(curl -s -D- -o /dev/null --max-time 20 "http://127.0.1.1:$P3/hang/z.ts")
expect_match "only origin hangs: 504" "$h" '^HTTP/1.1 504'
expect_match "504 carries CORS" "$h" 'Access-Control-Allow-Origin: \*'
h=$(curl -s -D- -o /dev/null "http://127.0.1.1:$P3/503/w.ts")
expect_match "only origin answers 503: passed on" "$h" '^HTTP/1.1 503'

# Body cut off mid-way: the client sees a truncated response, nothing is cached.
code=$(curl -s -o "$T/t1" -w '%{http_code}' "http://127.0.1.1:$P3/trunc/v.ts")
rc=$?
# Either the client already had the head (then the body is cut short: curl fails) or the failure
# came first (then it gets a 502); never a complete-looking 200.
check "truncated origin body: never a complete 200 (curl exit $rc, status $code)" \
    test "$rc" -ne 0 -o "$code" = 502
curl -s -o /dev/null "http://127.0.1.1:$P3/trunc/v.ts"
expect_eq "truncated object is not cached (fetched again)" "$(grep -c '/trunc/v.ts' "$T/originA.requests")" 2
# Origin Cache-Control is honoured over the type defaults.
B=http://127.0.1.1:$P1
for cc in no-store private; do
    curl -s -o /dev/null "$B/cc/$cc/a.ts"
    h=$(curl -s -D- -o /dev/null "$B/cc/$cc/a.ts")
    expect_match "Cache-Control: $cc is not stored (a miss again)" "$h" 'Cache-Status: segment-edge; fwd=miss'
    expect_eq "Cache-Control: $cc: two origin fetches" "$(grep -c "/cc/$cc/a.ts" "$T/originB.requests")" 2
done
curl -s -o /dev/null "$B/cc/max-age=100/live.m3u8"
h=$(curl -s -D- -o /dev/null "$B/cc/max-age=100/live.m3u8")
expect_match "max-age=100 on a playlist: cached for 100 s" "$h" 'Cache-Status: segment-edge; hit; ttl=(99|100)'
curl -s -o /dev/null "$B/cc/s-maxage=5,_max-age=100/s.ts"
h=$(curl -s -D- -o /dev/null "$B/cc/s-maxage=5,_max-age=100/s.ts")
expect_match "s-maxage wins over max-age" "$h" 'Cache-Status: segment-edge; hit; ttl=[45]\b'
curl -s -o /dev/null "$B/cc/no-cache/n.ts"
h=$(curl -s -D- -o /dev/null "$B/cc/no-cache/n.ts")
expect_match "no-cache: stored but revalidated every time" "$h" 'fwd=stale'
check "edge still healthy" test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.1.1:$P3/healthz)" = 200
finish
