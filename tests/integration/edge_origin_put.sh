#!/bin/bash
# edge_origin_put: origin mode accepts PUT/DELETE from allowed addresses, writes atomically, serves GET.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
P=$(free_port)
start_edge origin --listen 127.0.0.1:$P --root "$T/root"
U=http://127.0.0.1:$P

head -c 300000 /dev/urandom >"$T/a.ts"
st=$(curl -s -o /dev/null -w '%{http_code}' -T "$T/a.ts" "$U/live/720p/a.ts")
expect_eq "PUT new file gives 201" "$st" 201
curl -s -o "$T/got.ts" "$U/live/720p/a.ts"
check "GET after PUT returns the same bytes" cmp -s "$T/a.ts" "$T/got.ts"
check "PUT created parent folders" test -f "$T/root/live/720p/a.ts"

head -c 1000 /dev/urandom >"$T/b.ts"
st=$(curl -s -o /dev/null -w '%{http_code}' -T "$T/b.ts" "$U/live/720p/a.ts")
expect_eq "PUT over an existing file gives 204" "$st" 204
curl -s -o "$T/got.ts" "$U/live/720p/a.ts"
check "GET after overwrite returns the new bytes" cmp -s "$T/b.ts" "$T/got.ts"

# Chunked upload (what ffmpeg's HLS muxer sends) with Expect: 100-continue.
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
    -T "$T/a.ts" "$U/live/chunked.ts")
expect_eq "chunked PUT gives 201" "$st" 201
curl -s -o "$T/got.ts" "$U/live/chunked.ts"
check "chunked PUT stored the whole body" cmp -s "$T/a.ts" "$T/got.ts"

# Atomic writes: while a slow upload is in flight, readers see the old object, never a partial one.
head -c 2000000 /dev/urandom >"$T/big.ts"
curl -s -o /dev/null -T "$T/b.ts" "$U/atomic.ts"
curl -s -o /dev/null --limit-rate 400k -T "$T/big.ts" "$U/atomic.ts" &
up=$!
sleep 1
curl -s -o "$T/mid.ts" "$U/atomic.ts"
check "reader during an upload sees the previous complete file" cmp -s "$T/b.ts" "$T/mid.ts"
tmpname=$(ls -A "$T/root" | grep '^\.atomic' | head -1)
check "upload goes to a hidden temp file" test -n "$tmpname"
st=$(curl -s -o /dev/null -w '%{http_code}' "$U/$tmpname")
expect_eq "temp files are not served" "$st" 404
wait $up
curl -s -o "$T/after.ts" "$U/atomic.ts"
check "after the upload the new file is served whole" cmp -s "$T/big.ts" "$T/after.ts"
check "no temp file left behind" test -z "$(ls -A "$T/root" | grep '^\.')"

st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$U/live/720p/a.ts")
expect_eq "DELETE gives 204" "$st" 204
st=$(curl -s -o /dev/null -w '%{http_code}' "$U/live/720p/a.ts")
expect_eq "GET after DELETE gives 404" "$st" 404
st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$U/live/720p/a.ts")
expect_eq "DELETE of a missing file gives 404" "$st" 404

st=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is -T "$T/b.ts" "$U/../escape.ts")
expect_eq "PUT escaping the root gives 400" "$st" 400
check "nothing written outside the root" test ! -e "$T/escape.ts"
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$U/live/x.ts")
expect_eq "POST gives 405" "$st" 405

# Upload access is limited to configured addresses.
cat >"$T/restricted.yaml" <<YAML
upload_allow: [127.0.0.77/32]
YAML
P2=$(free_port)
start_edge restricted -c "$T/restricted.yaml" --listen 127.0.0.1:$P2 --root "$T/root"
st=$(curl -s -o /dev/null -w '%{http_code}' -T "$T/b.ts" "http://127.0.0.1:$P2/x.ts")
expect_eq "PUT from a non-allowed address gives 403" "$st" 403
check "forbidden PUT wrote nothing" test ! -e "$T/root/x.ts"
st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$P2/atomic.ts")
expect_eq "DELETE from a non-allowed address gives 403" "$st" 403
st=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.77 -T "$T/b.ts" "http://127.0.0.1:$P2/x.ts")
expect_eq "PUT from an allowed address gives 201" "$st" 201

finish
