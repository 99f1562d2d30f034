#!/bin/bash
# edge_origin_files: origin mode opens files beneath --root only, without following symbolic
# links (a link inside the root, to a file inside or outside it, gives 404) unless
# --follow-symlinks, which still never leaves the root; PUT and DELETE do not go through links;
# a literal backslash in a PUT or DELETE path is refused with 400; a request rejected before its
# method was read is logged with the bytes that were read.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root/v" "$T/outside" "$T/root/real"
echo inside >"$T/root/v/a.ts"
echo secret >"$T/outside/secret.ts"
ln -s a.ts "$T/root/v/link_in.ts"
ln -s "$T/outside/secret.ts" "$T/root/v/link_out.ts"
ln -s ../outside "$T/root/dirlink_out"
echo realfile >"$T/root/real/r.ts"
ln -s real "$T/root/dirlink_in"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# raw PORT BYTES: send BYTES (printf escapes) on a new connection, print the reply's status code.
raw() {
    python3 "$SRC/tests/lib/rawhttp.py" status "$1" "$2"
}

P=$(free_port)
start_edge strict --listen 127.0.0.1:$P --root "$T/root"
STRICT=$LAST_PID
U=http://127.0.0.1:$P
expect_eq "a plain file" "$(code $U/v/a.ts)" 200
expect_eq "a link to a file inside the root is not followed" "$(code $U/v/link_in.ts)" 404
expect_eq "a link out of the root is not followed" "$(code $U/v/link_out.ts)" 404
expect_eq "a directory link inside the root is not followed" "$(code $U/dirlink_in/r.ts)" 404
expect_eq "a directory link out of the root is not followed" "$(code $U/dirlink_out/secret.ts)" 404
expect_eq "PUT through a directory link is refused" "$(code -X PUT --data-binary x $U/dirlink_out/new.ts)" 409
check "nothing was written outside the root" test ! -e "$T/outside/new.ts"
expect_eq "PUT over a link is refused" "$(code -X PUT --data-binary x $U/v/link_out.ts)" 409
expect_eq "the linked file is unchanged" "$(cat "$T/outside/secret.ts")" secret
expect_eq "DELETE of a link is refused" "$(code -X DELETE $U/v/link_out.ts)" 404
check "the link is still there" test -L "$T/root/v/link_out.ts"
expect_eq "DELETE through a directory link is refused" "$(code -X DELETE $U/dirlink_out/secret.ts)" 404
check "the file behind it is still there" test -f "$T/outside/secret.ts"
expect_eq "PUT of a new file" "$(code -X PUT --data-binary hello $U/up/new.ts)" 201
expect_eq "and it is served" "$(curl -s $U/up/new.ts)" hello

# A literal backslash is refused (as docs/edge.md says), for PUT and DELETE.
st=$(raw $P 'PUT /up/a\\b.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx')
expect_eq "PUT with a literal backslash: 400" "$st" 400
st=$(raw $P 'PUT /up/a%5Cb.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx')
expect_eq "PUT with an encoded backslash: 400" "$st" 400
check "no file with a backslash was made" bash -c "[ -z \"\$(find '$T/root' -name '*\\\\*')\" ]"

# A request rejected before its method is known is logged with what was read.
st=$(raw $P '\x16\x03\x01\x02\x00garbage\r\n\r\n')
expect_eq "garbage: 400" "$st" 400
sleep 0.2
line=$(grep 'access .* 400 ' "$T/strict.log" | grep 'read=' | tail -1)
expect_match "the log shows the bytes read, not a method" "$line" '"-" - 400 .*read="\\x16\\x03\\x01\\x02\\x00garbage\\x0d\\x0a'
check "no DELETE line for it" bash -c "! grep -q '\"DELETE -\"' '$T/strict.log'"
stop_pid "$STRICT"

PF=$(free_port)
start_edge follow --listen 127.0.0.1:$PF --root "$T/root" --follow-symlinks
U=http://127.0.0.1:$PF
expect_eq "--follow-symlinks: a link inside the root is followed" "$(curl -s $U/v/link_in.ts)" inside
expect_eq "--follow-symlinks: a directory link inside the root is followed" "$(curl -s $U/dirlink_in/r.ts)" realfile
expect_eq "--follow-symlinks: a link out of the root still is not" "$(code $U/v/link_out.ts)" 404
expect_eq "--follow-symlinks: a directory link out of the root still is not" "$(code $U/dirlink_out/secret.ts)" 404
finish
