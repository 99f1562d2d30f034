#!/bin/bash
# edge_path_key: the cache key and the origin request come from the normalized path re-encoded
# (RFC 3986): an encoded '?' is part of the path (the origin sees %3F, never a query), a real
# query string cannot create a new cache object, a path is decoded exactly once (%252e stays
# %252e), %20 goes out as %20, needless encodings share one key, NUL and backslashes are refused;
# the access log shows that same re-encoded path, and a quote or control byte in a request cannot
# break its line format.
. "$(dirname "$0")/../lib/edge-lib.sh"

# The origin (tests/lib/fake_origin.py, keep-alive): 200 "body of <path>" for the paths in OK,
# 404 for anything else; every request target it gets is a line "GET <target>" in
# $T/origin.requests.
cat >"$T/origin.py" <<'PY'
import fake_origin
OK = {"/live/seg1.ts", "/a%20b.ts", "/a/%252e%252e/x.ts", "/v/a%20b.ts"}
def handle(req):
    body = (b"body of " + req.target.encode()) if req.target in OK else b"no\n"
    req.reply(200 if req.target in OK else 404, body, [("Cache-Control", "max-age=60")])
fake_origin.main(handle, keep_alive=True)
PY
PO=$(free_port)
start_origin origin "$T/origin.py" $PO
PE=$(free_port)
start_edge edge --listen 127.0.0.1:$PE --origin http://127.0.0.1:$PO
E=http://127.0.0.1:$PE
reqs() { grep -cxF "GET $1" "$T/origin.requests" || true; }
get() { curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$E$1"; }

expect_eq "the segment is served" "$(get /live/seg1.ts)" 200
for n in 1 2 3 4 5; do get "/live/seg1.ts?bust=$n" >/dev/null; done
expect_eq "a real query string reuses the object (one origin fetch)" "$(reqs /live/seg1.ts)" 1
objects=$(status_field $E cache.objects)
for n in 1 2 3; do
    st=$(get "/live/seg1.ts%3Fbust=$n")
    expect_eq "an encoded '?' is part of the path: not the segment (N=$n)" "$st" 404
done
expect_eq "the origin saw the encoded '?' as %3F" "$(reqs /live/seg1.ts%3Fbust=1)" 1
check "the origin never saw ?bust= as a query" sh -c "! grep -q 'GET /live/seg1.ts?bust' '$T/origin.requests'"
expect_eq "the segment itself was still fetched once" "$(reqs /live/seg1.ts)" 1
get "/live/seg1.ts%3fbust=1" >/dev/null
expect_eq "%3f and %3F are one key (no second fetch)" "$(reqs /live/seg1.ts%3Fbust=1)" 1
expect_eq "each encoded variant is one path like any other (objects: +3)" \
    "$(status_field $E cache.objects)" $((objects + 3))

expect_eq "a needless encoding shares the key" "$(get /live/%73eg1.ts)" 200
expect_eq "... served from cache (no fetch)" "$(reqs /live/seg1.ts)" 1
h=$(curl -s --path-as-is -D- -o /dev/null "$E/live/./x/../seg1.ts")
expect_match "dot segments resolve to the same object" "$h" 'Cache-Status: segment-edge; hit'

expect_eq "%252e%252e is decoded once" "$(get /a/%252e%252e/x.ts)" 200
expect_eq "the origin saw %252e%252e, not %2e%2e" "$(reqs /a/%252e%252e/x.ts)" 1
expect_eq "%20 is served" "$(get /a%20b.ts)" 200
expect_eq "the origin saw %20, not a raw space" "$(reqs /a%20b.ts)" 1
check "no raw space ever reached the origin" sh -c "! grep -q '^GET .* ' '$T/origin.requests'"

before=$(wc -l <"$T/origin.requests")
st=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /x\\y.ts HTTP/1.1\r\nHost: e\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())' $PE)
expect_eq "a literal backslash is refused" "$st" 400
expect_eq "%5C is refused" "$(get /x%5Cy.ts)" 400
expect_eq "%00 is refused" "$(get /x%00y.ts)" 400
expect_eq "a bad escape is refused" "$(get /x%zzy.ts)" 400
expect_eq "nothing refused reached the origin" "$(wc -l <"$T/origin.requests")" "$before"

# The access log shows the path as the key and the origin request have it, escaped for the log.
# log_has TEXT: wait (up to 5 s) for an access line holding TEXT; print it.
log_has() {
    local l
    for _ in $(seq 50); do
        l=$(grep -F "access 127.0.0.1 $1" "$T/edge.log" | tail -1)
        [ -n "$l" ] && { echo "$l"; return; }
        sleep 0.1
    done
}
expect_eq "/v/a%20b.ts is served" "$(get /v/a%20b.ts)" 200
line=$(log_has '"GET /v/a%20b.ts" 200 ')
check "/v/a%20b.ts is logged as /v/a%20b.ts" test -n "$line"
check "no raw space in a logged path" sh -c "! grep -q 'access .*\"GET /v/a b' '$T/edge.log'"
expect_eq "%22 in the path" "$(get '/v/q%22x.ts')" 404
check "an encoded quote is logged encoded" test -n "$(log_has '"GET /v/q%22x.ts" 404 ')"
st=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /v/q\"x.ts?a\"b HTTP/1.1\r\nHost: e\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())' $PE)
expect_eq "a literal quote in the target is answered" "$st" 404
line=$(log_has '"GET /v/q%22x.ts?a\x22b" 404 ')
check "a literal quote is logged as %22 in the path and \\x22 in the query" test -n "$line"
st=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /v/\"\x01 HTTP/1.1\r\nHost: e\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())' $PE)
expect_eq "a control byte in the target: 400" "$st" 400
check "... logged with the bytes read, escaped" test -n "$(log_has '"-" - 400 ')"
# Every access line keeps its format: one quoted field without a quote inside, then the fields.
bad=$(grep 'access ' "$T/edge.log" |
    grep -Evc ' access 127\.0\.0\.1 "[^"]*"( -)? ([0-9]{3}|0) [0-9]+ [0-9.]+ms cache=[A-Z-]+ origin_ms=[0-9.]+( read="[^"]*")?( cut=[a-z_]+)?$')
expect_eq "every access line has the documented format" "$bad" 0
finish
