#!/bin/bash
# edge_origin_responses: what the edge does with what an origin answers: a 5xx to a revalidation
# keeps the stale copy (served within stale-if-error) and marks the origin down; interim 1xx
# responses are skipped (at most 8), a 101 is a 502, and so are a 206 and a 304 nobody asked for;
# redirects keep their Location; request targets just under, at and over max_uri get 200/404 or
# 414; a validator too long to send with the request is left out of the revalidation instead of
# failing it.
. "$(dirname "$0")/../lib/edge-lib.sh"

# A scripted origin (tests/lib/fake_origin.py; one request per connection). /flip/* answers what
# the control file says: "200 TAG" (body "TAG <path>", ETag "TAG", 304 to If-None-Match "TAG")
# or a status ("503"). /interim/N/* sends N interim responses (100 Continue, then 103 Early
# Hints) before a 200. /switch/* answers 101 Switching Protocols and holds the connection.
# /redir/CODE/* answers CODE with the Location in REDIR_LOCATION_CODE below. /bigtag/* answers
# with a 6000-byte ETag (304 to it). Anything else: 200 "ok <path>". Each request line goes to
# $T/origin.requests, with the first 40 bytes of its If-None-Match.
cat >"$T/origin.py" <<'PY'
import sys, threading
import fake_origin
ctl = sys.argv[3]
LOCATIONS = {"301": "/v/new%20name.ts?a=1&b", "302": "https://other.example:8443/x/y.m3u8",
             "307": "../up/one.ts", "308": "/v/perm.ts"}
def handle(req):
    path, inm = req.target, req.header("if-none-match")
    parts = path.split("/")
    if path.startswith("/flip/"):
        mode = open(ctl).read().split()
        if mode[0] != "200":
            req.reply(int(mode[0]), b"origin error\n")
        elif inm == '"%s"' % mode[1]:
            req.send_head(304, [("ETag", '"%s"' % mode[1])])
        else:
            req.reply(200, ("%s %s\n" % (mode[1], path)).encode(), [("ETag", '"%s"' % mode[1])])
    elif path.startswith("/bigtag/"):
        tag = '"%s"' % ("t" * 5998)
        if inm == tag:
            req.send_head(304, [("ETag", tag)])
        else:
            req.reply(200, b"bigtag\n", [("ETag", tag)])
    elif path.startswith("/interim/"):
        n = int(parts[2])
        for i in range(n):
            if i == 0:
                req.send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
            else:
                req.send_raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s%d.ts>; rel=preload\r\n\r\n" % i)
        req.reply(200, ("ok %s\n" % path).encode())
    elif path.startswith("/switch/"):
        req.send_raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        threading.Event().wait(30)
    elif path.startswith("/fields/"):
        req.reply(200, b"fields\n", [("X-F%d" % i, "v") for i in range(int(parts[2]))])
    elif path.startswith("/partial/"):
        req.reply(206, b"partial", [("Content-Range", "bytes 0-6/100"), ("Cache-Control", "max-age=60")])
    elif path.startswith("/unasked304/"):
        req.send_head(304, [("ETag", '"u"'), ("Cache-Control", "max-age=60")])
    elif path.startswith("/redir/"):
        code = parts[2]
        req.reply(int(code), b"moved\n", [("Location", LOCATIONS[code])])
    else:
        req.reply(200, ("ok %s\n" % path).encode())
fake_origin.main(handle, log_extra=lambda req: "inm=%s" % (req.header("if-none-match")[:40] or "-"))
PY
PO=$(free_port)
echo "200 v1" >"$T/ctl"
start_origin origin "$T/origin.py" $PO "$T/ctl"
ORIGIN=http://127.0.0.1:$PO

# flip_requests PATH: requests for PATH the origin has seen.
flip_requests() { grep -c "GET $1 " "$T/origin.requests" 2>/dev/null || true; }
# wait_for DESC CMD...: poll until CMD succeeds (at most 10 s); the check after it asserts.
wait_for() {
    local _i
    for _i in $(seq 100); do "$@" && return 0; sleep 0.1; done
    return 1
}

# ---- 1. A 5xx to a revalidation keeps the stale copy ----
# Edge A: revalidate and wait (no stale-while-revalidate), stale-if-error 60 s; probes hourly,
# so an origin marked down stays down until something succeeds.
cat >"$T/a.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 0s, stale_if_error: 60s}
timeouts: {origin_probe_interval: 1h}
YAML
PA=$(free_port)
start_edge edgeA -c "$T/a.yaml" --listen 127.0.1.1:$PA --origin $ORIGIN
A=http://127.0.1.1:$PA
body=$(curl -s "$A/flip/a.ts")
expect_eq "revalidation 5xx: first fill" "$body" "v1 /flip/a.ts"
expect_eq "revalidation 5xx: origin up after a 200" "$(status_field $A origin.servers.0.up)" true
sleep 1.3 # past the 1 s TTL
echo 503 >"$T/ctl"
h=$(curl -s -D- -o "$T/got" "$A/flip/a.ts")
expect_match "revalidation 5xx: the stale copy is served (200)" "$h" '^HTTP/1.1 200'
expect_eq "revalidation 5xx: stale body intact" "$(cat "$T/got")" "v1 /flip/a.ts"
expect_match "revalidation 5xx: Cache-Status says stale-if-error with the origin's status" "$h" \
    'Cache-Status: segment-edge; fwd=stale; fwd-status=503; .*detail=stale-if-error'
expect_eq "revalidation 5xx: the origin is marked down" "$(status_field $A origin.servers.0.up)" false
n=$(flip_requests /flip/a.ts)
h=$(curl -s -D- -o "$T/got" "$A/flip/a.ts")
expect_match "revalidation 5xx: still the stale copy on the next request" "$h" 'detail=stale-if-error'
expect_eq "revalidation 5xx: next stale body intact" "$(cat "$T/got")" "v1 /flip/a.ts"
check "revalidation 5xx: the next request asked the origin again" test "$(flip_requests /flip/a.ts)" -gt "$n"
# The origin recovers with the same ETag: the kept copy is revalidated (304), not fetched anew.
echo "200 v1" >"$T/ctl"
h=$(curl -s -D- -o "$T/got" "$A/flip/a.ts")
expect_match "revalidation 5xx: after recovery the kept copy revalidates with 304" "$h" \
    'Cache-Status: segment-edge; fwd=stale; fwd-status=304'
check "revalidation 5xx: the origin got If-None-Match \"v1\"" grep -q 'GET /flip/a.ts inm="v1"' "$T/origin.requests"
expect_eq "revalidation 5xx: origin up again after a good answer" "$(status_field $A origin.servers.0.up)" true

# A cold miss answered 5xx by the only origin: the status is passed on (and kept for the 1 s error
# TTL), and it counts against the origin (down, one more error) as it does when retried on another
# origin; the next good answer marks it up.
errs=$(status_field $A origin.servers.0.errors)
echo 503 >"$T/ctl"
h=$(curl -s -D- -o /dev/null "$A/flip/cold.ts")
expect_match "cold miss 5xx: the origin's 503 is passed on" "$h" '^HTTP/1.1 503'
expect_eq "cold miss 5xx: the origin is marked down" "$(status_field $A origin.servers.0.up)" false
expect_eq "cold miss 5xx: one more error for that origin" "$(status_field $A origin.servers.0.errors)" \
    $((errs + 1))
expect_eq "cold miss 5xx: consecutive errors 1" "$(status_field $A origin.servers.0.consecutive_errors)" 1
echo "200 v1" >"$T/ctl"
sleep 1.3 # past the error TTL
body=$(curl -s "$A/flip/cold.ts")
expect_eq "cold miss 5xx: fetched again once the origin answers" "$body" "v1 /flip/cold.ts"
expect_eq "cold miss 5xx: origin up after the good answer" "$(status_field $A origin.servers.0.up)" true
expect_eq "cold miss 5xx: consecutive errors back to 0" \
    "$(status_field $A origin.servers.0.consecutive_errors)" 0

# Edge B: stale-while-revalidate; a 5xx to the background refresh does not replace the copy.
cat >"$T/b.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 60s, stale_if_error: 60s}
timeouts: {origin_probe_interval: 1h}
YAML
PB=$(free_port)
start_edge edgeB -c "$T/b.yaml" --listen 127.0.2.1:$PB --origin $ORIGIN
B=http://127.0.2.1:$PB
curl -s -o /dev/null "$B/flip/b.ts"
sleep 1.3
echo 500 >"$T/ctl"
n=$(flip_requests /flip/b.ts)
h=$(curl -s -D- -o "$T/got" "$B/flip/b.ts")
expect_match "background refresh 5xx: stale served while it runs" "$h" 'detail=stale-while-revalidate'
wait_for test "$(flip_requests /flip/b.ts)" -gt "$n"
wait_for test "$(status_field $B origin.errors)" -gt 0
expect_eq "background refresh 5xx: the origin is marked down" "$(status_field $B origin.servers.0.up)" false
h=$(curl -s -D- -o "$T/got" "$B/flip/b.ts")
expect_match "background refresh 5xx: the next request still gets the stale copy" "$h" '^HTTP/1.1 200'
expect_eq "background refresh 5xx: stale body intact" "$(cat "$T/got")" "v1 /flip/b.ts"
echo "200 v1" >"$T/ctl"

# Edge C: past stale-if-error the origin's status is passed on; the copy is still kept.
cat >"$T/c.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 0s, stale_if_error: 1s}
timeouts: {origin_probe_interval: 1h}
YAML
PC=$(free_port)
start_edge edgeC -c "$T/c.yaml" --listen 127.0.3.1:$PC --origin $ORIGIN
C=http://127.0.3.1:$PC
curl -s -o /dev/null "$C/flip/c.ts"
sleep 2.3 # past TTL + stale-if-error
echo 503 >"$T/ctl"
h=$(curl -s -D- -o /dev/null "$C/flip/c.ts")
expect_match "past stale-if-error: the origin's 503 is passed on" "$h" '^HTTP/1.1 503'
expect_match "past stale-if-error: Cache-Status has fwd-status=503" "$h" 'fwd-status=503'
echo "200 v1" >"$T/ctl"
h=$(curl -s -D- -o "$T/got" "$C/flip/c.ts")
expect_match "past stale-if-error: the kept copy revalidates with 304 afterwards" "$h" 'fwd-status=304'
expect_eq "past stale-if-error: body of the kept copy" "$(cat "$T/got")" "v1 /flip/c.ts"

# ---- 2. Interim responses ----
PI=$(free_port)
start_edge edgeI --listen 127.0.4.1:$PI --origin $ORIGIN
I=http://127.0.4.1:$PI
h=$(curl -s --max-time 10 -D- -o "$T/got" "$I/interim/2/a.ts")
expect_match "100 + 103 before the response: 200" "$h" '^HTTP/1.1 200'
expect_eq "100 + 103 before the response: its body" "$(cat "$T/got")" "ok /interim/2/a.ts"
check "interim responses are not passed on" test -z "$(printf '%s' "$h" | grep -E '^HTTP/1.1 1|^Link:')"
h=$(curl -s --max-time 10 -D- -o "$T/got" "$I/interim/8/b.ts")
expect_match "8 interim responses: 200" "$h" '^HTTP/1.1 200'
expect_eq "8 interim responses: its body" "$(cat "$T/got")" "ok /interim/8/b.ts"
h=$(curl -s --max-time 10 -D- -o /dev/null "$I/interim/9/c.ts")
expect_match "9 interim responses: an origin error, 502" "$h" '^HTTP/1.1 502'
h=$(curl -s --max-time 10 -D- -o /dev/null "$I/switch/d.ts")
expect_match "101 Switching Protocols from the origin: 502" "$h" '^HTTP/1.1 502'
h=$(curl -s --max-time 10 -D- -o /dev/null "$I/interim/1/e.ts")
expect_match "the edge still serves after them" "$h" '^HTTP/1.1 200'
# A 206 or a 304 to a request that asked for neither (no Range, no validator) is an origin error
# too: never stored, never passed on (a 206 without Content-Range, a 304 to a plain GET).
for kind in partial unasked304; do
    for try in 1 2; do
        h=$(curl -s --max-time 10 -D- -o /dev/null "$I/$kind/f.ts")
        expect_match "$kind from the origin, request $try: 502" "$h" '^HTTP/1.1 502'
    done
    expect_eq "$kind: not stored, each request asked the origin" \
        "$(grep -c "^GET /$kind/f.ts " "$T/origin.requests")" 2
done
# A head of more than 64 fields is an origin error too (one of 60 plus the 2 fake_origin adds is
# served).
expect_match "a head of 62 fields: 200" "$(curl -s -D- -o /dev/null "$I/fields/60/g.ts")" '^HTTP/1.1 200'
expect_match "a head of 72 fields: 502" "$(curl -s -D- -o /dev/null "$I/fields/70/g.ts")" '^HTTP/1.1 502'
check "the log says why (fields)" grep -q 'bad response: too many header fields' "$T/edgeI.log"
check "the log says why" grep -q 'bad response: 206 to a request without Range' "$T/edgeI.log"
check "the log says why (304)" grep -q 'bad response: 304 to a request without a validator' "$T/edgeI.log"

# ---- 3. Redirects keep their Location ----
for code in 301 302 307 308; do
    case $code in
    301) loc='/v/new%20name.ts?a=1&b' ;;
    302) loc='https://other.example:8443/x/y.m3u8' ;;
    307) loc='../up/one.ts' ;;
    308) loc='/v/perm.ts' ;;
    esac
    h=$(curl -s -D- -o /dev/null "$I/redir/$code/x.ts" | tr -d '\r')
    expect_match "$code: status passed on" "$h" "^HTTP/1.1 $code"
    expect_eq "$code: Location as the origin wrote it" "$(printf '%s\n' "$h" | sed -n 's/^Location: //p')" "$loc"
done
h=$(curl -s -D- -o /dev/null "$I/redir/301/x.ts" | tr -d '\r')
expect_match "a cached 301 is a hit" "$h" 'Cache-Status: segment-edge; hit'
expect_eq "a cached 301 keeps its Location" "$(printf '%s\n' "$h" | sed -n 's/^Location: //p')" '/v/new%20name.ts?a=1&b'

# ---- 4. Request targets around max_uri ----
# target LEN [QUERY]: a path of 200-byte segments, LEN bytes long with the query.
target() {
    python3 -c '
import sys
n, q = int(sys.argv[1]), sys.argv[2]
plen = n - len(q)
p = ""
while len(p) < plen:
    p += "/" + "s" * min(199, plen - len(p) - 1)
print(p + q)' "$1" "${2:-}"
}
status_of() { curl -s --path-as-is -o /dev/null -w '%{http_code}' "$1$2"; }
ROOT=$T/root
mkdir -p "$ROOT"
PF=$(free_port)
start_edge files --listen 127.0.5.1:$PF --root "$ROOT"
F=http://127.0.5.1:$PF
cat >"$T/k.yaml" <<YAML
cache_key_params: [token]
YAML
PK=$(free_port)
start_edge edgeK -c "$T/k.yaml" --listen 127.0.6.1:$PK --origin $ORIGIN
K=http://127.0.6.1:$PK
cat >"$T/small.yaml" <<YAML
limits: {max_uri: 1000}
YAML
PS=$(free_port)
start_edge edgeS -c "$T/small.yaml" --listen 127.0.7.1:$PS --origin $ORIGIN
S=http://127.0.7.1:$PS
for len in 4095 4096; do
    t=$(target $len)
    expect_eq "URI of $len bytes (max_uri 4096), edge: 200" "$(status_of $K "$t")" 200
    expect_eq "URI of $len bytes: the origin got the whole target" \
        "$(awk -v t="$t" '$2 == t { n++ } END { print n + 0 }' "$T/origin.requests")" 1
    expect_eq "URI of $len bytes, origin mode: 404" "$(status_of $F "$t")" 404
    tq=$(target $len "?token=$(printf 't%.0s' $(seq 300))&drop=1")
    expect_eq "URI of $len bytes with a kept parameter: 200" "$(status_of $K "$tq")" 200
done
t=$(target 4097)
expect_eq "URI of 4097 bytes, edge: 414" "$(status_of $K "$t")" 414
expect_eq "URI of 4097 bytes, origin mode: 414" "$(status_of $F "$t")" 414
expect_eq "URI of 4097 bytes with a query, edge: 414" "$(status_of $K "$(target 4097 '?token=abc')")" 414
expect_eq "URI of 999 bytes (max_uri 1000): 200" "$(status_of $S "$(target 999)")" 200
expect_eq "URI of 1000 bytes (max_uri 1000): 200" "$(status_of $S "$(target 1000)")" 200
expect_eq "URI of 1001 bytes (max_uri 1000): 414" "$(status_of $S "$(target 1001)")" 414
echo 'limits: {max_uri: 8k}' >"$T/big.yaml"
out=$("$EDGE" -c "$T/big.yaml" --listen 127.0.8.1:1 --origin $ORIGIN 2>&1)
rc=$?
check "max_uri above the buffers: refused at start" test "$rc" -ne 0
expect_match "max_uri above the buffers: the error says where and why" "$out" \
    'big.yaml:1:19: max_uri must be within 256..4096'

# ---- 5. A validator too long for the origin request ----
# A 6000-byte ETag on a 3.8 KB target does not fit the 8 KiB origin request: the revalidation
# goes without If-None-Match (a plain GET, answered 200) instead of failing with a 502.
cat >"$T/v.yaml" <<YAML
freshness: {segment: 1s, stale_while_revalidate: 0s, stale_if_error: 0s}
YAML
PV=$(free_port)
start_edge edgeV -c "$T/v.yaml" --listen 127.0.9.1:$PV --origin $ORIGIN
V=http://127.0.9.1:$PV
long=/bigtag$(target 3800).ts
short=/bigtag/short.ts
expect_eq "6000-byte ETag: first fill of a long target" "$(status_of $V "$long")" 200
expect_eq "6000-byte ETag: first fill of a short target" "$(status_of $V "$short")" 200
sleep 1.3 # past the 1 s TTL
h=$(curl -s -D- -o "$T/got" "$V$long" | tr -d '\r')
expect_match "too long to send: the revalidation is answered 200" "$h" '^HTTP/1.1 200'
expect_eq "too long to send: the body" "$(cat "$T/got")" bigtag
expect_eq "too long to send: the origin got the fill and a plain GET (no If-None-Match)" \
    "$(awk -v t="$long" '$2 == t { print $3 }' "$T/origin.requests" | tr '\n' ' ')" "inm=- inm=- "
h=$(curl -s -D- -o "$T/got" "$V$short" | tr -d '\r')
expect_match "short target: the same ETag is sent and answered 304" "$h" 'fwd=stale; fwd-status=304'
expect_eq "short target: the origin got If-None-Match" \
    "$(awk -v t="$short" '$2 == t { print $3 }' "$T/origin.requests" | tail -1)" "inm=\"$(printf 't%.0s' $(seq 39))"

for p in "${EDGE_PIDS[@]}"; do
    check "server $p still running" kill -0 "$p"
done
check "no sanitizer report in any log" test -z "$(grep -l 'Sanitizer' "$T"/*.log)"
finish
