#!/usr/bin/env bash
# dns_check: `geodnsd --check`: a valid config exits 0 with one line per zone; broken zone and
# server files exit 1 with `file:line:col: reason` on stderr naming the right file and line.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

out=$("$GEODNSD" --check -c "$DATA/geodnsd.yaml" 2>"$TMP/check.err")
st=$?
expect_eq "--check on the valid test config: exit 0" "$st" 0
R="$out"
for z in example.test sub2.example.test other.test; do
    count "--check: one summary line for zone $z" "^zone ${z//./\\.}\.?[: ]" 1
done
expect_eq "--check: no error output for a valid config" "$(grep -ci 'error' "$TMP/check.err")" 0

# broken FILE: checks a config whose only zone is broken/FILE (or FILE itself if it is a server
# config) and expects exit 1 and FILE:LINE:COL: on stderr, LINE being the ERROR-HERE line.
broken() {
    local f=$1 desc=$2 conf line err st
    if [ "$f" = bad-server.yaml ]; then
        conf=$DATA/broken/$f
    else
        conf=$DATA/check-$f
        printf 'listen: ["127.0.0.1:5353"]\nzones: [broken/%s]\n' "$f" >"$conf"
    fi
    line=$(grep -n 'ERROR-HERE$' "$DATA/broken/$f" | cut -d: -f1)
    "$GEODNSD" --check -c "$conf" >"$TMP/out" 2>"$TMP/err"
    st=$?
    err=$(cat "$TMP/err")
    expect_eq "$desc: --check exits 1" "$st" 1
    R=$err
    if [ -n "$line" ]; then
        has "$desc: stderr names $f, line $line (file:line:col: reason)" "${f//./\\.}:$line:[0-9]+: [^ ]"
    else
        has "$desc: stderr names $f with file:line:col: reason" "${f//./\\.}:[0-9]+:[0-9]+: [^ ]"
    fi
}

broken bad-rdata.yaml "bad record data (A 300.1.2.3)"
broken bad-yaml.yaml "bad YAML (tab indentation)"
broken unknown-key.yaml "unknown key in a zone file"
broken unknown-type.yaml "unknown record type"
broken cname-other.yaml "CNAME next to other data"
broken outside.yaml "record outside the zone"
broken missing-soa.yaml "missing SOA"
R=$(cat "$TMP/err")
has "missing SOA: the reason mentions the SOA" '[Ss][Oo][Aa]'
broken bad-server.yaml "unknown key in the server config"

printf 'listen: ["127.0.0.1:5353"]\nzones: [does-not-exist.yaml]\n' >"$DATA/check-missing.yaml"
"$GEODNSD" --check -c "$DATA/check-missing.yaml" >/dev/null 2>"$TMP/err"
expect_eq "config naming a missing zone file: exit 1" "$?" 1
R=$(cat "$TMP/err")
has "missing zone file: named in the error" 'does-not-exist\.yaml'

"$GEODNSD" --check -c "$DATA/nothere.yaml" >/dev/null 2>"$TMP/err"
expect_eq "missing config file: exit 1" "$?" 1

echo "# a broken zone does not start a server"
PORT=$(free_port)
timeout $((20 * DNS_SLOW)) "$GEODNSD" -c "$DATA/check-bad-rdata.yaml" --listen "127.0.0.1:$PORT" \
    >/dev/null 2>"$TMP/err"
st=$?
if [ "$st" != 0 ] && [ "$st" != 124 ]; then
    pass "server with a broken zone at startup exits non-zero ($st)"
else
    fail "server with a broken zone at startup exits non-zero" "status $st"
fi
R=$(cat "$TMP/err")
has "server with a broken zone: file:line in the log" 'bad-rdata\.yaml:[0-9]+:[0-9]+: '
hasnt "server with a broken zone: never ready" 'geodnsd ready'
echo "# messages that say where and what to do"
printf 'listen: ["127.0.0.1:5353"]\nzones: [example.test.yaml,\n        example.test.yaml]\n' \
    >"$DATA/twice.yaml"
R=$("$GEODNSD" --check -c "$DATA/twice.yaml" 2>&1)
has "a zone file named twice: the server config's line of the second entry, and the first" \
    'twice\.yaml:3:9: the zone file .*example\.test\.yaml is named twice \(first at .*twice\.yaml:2:9\)'
cp "$DATA/example.test.yaml" "$DATA/copy.yaml"
printf 'listen: ["127.0.0.1:5353"]\nzones: [example.test.yaml, copy.yaml]\n' >"$DATA/dup.yaml"
R=$("$GEODNSD" --check -c "$DATA/dup.yaml" 2>&1)
has "one zone in two files: the server config's line and both files" \
    'dup\.yaml:2:28: zone example\.test\. is defined twice: by .*copy\.yaml, and already by .*example\.test\.yaml \(named at .*dup\.yaml:2:9\)'
printf 'zone: a.test\nrecords:\n  www: {A: 192.0.2.1}\n   bad: x\n' >"$DATA/indent.yaml"
printf 'listen: ["127.0.0.1:5353"]\nzones: [indent.yaml]\n' >"$DATA/indent-server.yaml"
R=$("$GEODNSD" --check -c "$DATA/indent-server.yaml" 2>&1)
has "a YAML indentation error: position, where the mapping began, and a hint" \
    "indent\.yaml:4:4: YAML syntax: did not find expected key \(parsing a block mapping that starts at line 3, column 3\); check this line's indentation"

# A zone, PoP or overrides file that is a FIFO (no writer: reading it would wait for ever) or a
# device is refused at once with its reason; --check does not hang.
mkfifo "$DATA/fifo.yaml" "$DATA/fifo.zone"
for z in fifo.yaml fifo.zone /dev/zero; do
    printf 'listen: ["127.0.0.1:5353"]\nzones: [%s]\n' "$z" >"$DATA/fifo-server.yaml"
    R=$(timeout $((10 * DNS_SLOW)) "$GEODNSD" --check -c "$DATA/fifo-server.yaml" 2>&1)
    st=$?
    expect_eq "zone file $z: --check exits 1 at once (not 124, a hang)" "$st" 1
    has "zone file $z: says it is not a regular file" "${z//./\\.}: (cannot read: )?not a regular file"
done
printf 'listen: ["127.0.0.1:5353"]\nzones: [example.test.yaml]\npops: fifo.yaml\n' >"$DATA/fifo-server.yaml"
R=$(timeout $((10 * DNS_SLOW)) "$GEODNSD" --check -c "$DATA/fifo-server.yaml" 2>&1)
expect_eq "a PoP file that is a FIFO: --check exits 1 at once" "$?" 1
has "a PoP file that is a FIFO: says so" 'fifo\.yaml: not a regular file \(a FIFO\)'
mkfifo "$DATA/fifo.mmdb"
cp "$SRC/zones/pops.yaml" "$DATA/"
printf 'listen: ["127.0.0.1:5353"]\nzones: [example.test.yaml]\npops: pops.yaml\ngeoip: {mmdb: fifo.mmdb}\n' \
    >"$DATA/fifo-server.yaml"
R=$(timeout $((10 * DNS_SLOW)) "$GEODNSD" --check -c "$DATA/fifo-server.yaml" 2>&1)
expect_eq "a GeoIP database that is a FIFO: --check exits 1 at once" "$?" 1
has "a GeoIP database that is a FIFO: says so" \
    'fifo\.mmdb: cannot open GeoIP database: not a regular file \(a FIFO\)'
finish
