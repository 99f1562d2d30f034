#!/usr/bin/env bash
# dns_big_zone: a zone of 20,000 names (an A and a TXT each) with 256 PoPs, plus one name with
# 3,000 addresses given in a shuffled order with 500 repeats: `--check` passes with the exact
# counts (repeats dropped), a repeated name is reported at its own line:col with the first
# one's line, and the server answers the first, the last and the big name (file order kept).
# Sized to run in seconds under the sanitizers; the loader is linear (bench/zone-load.sh
# measures it).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
N=20000
D=$TMP/big
mkdir -p "$D"
awk -v n=$N 'BEGIN {
    print "zone: big.test\nttl: 300"
    print "soa: {primary: ns1, contact: hostmaster@big.test, refresh: 3600, retry: 600, expire: 604800, minimum: 60}"
    print "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}"
    for (i = 0; i < n; i++)
        printf "  h%d: {A: 10.%d.%d.%d, TXT: \"\\\"rec %d\\\"\"}\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, i
    # 3,000 distinct addresses in a fixed shuffled order (i * 7 mod 3000), then 500 of them again
    print "  many:\n    A:"
    for (i = 0; i < 3000; i++) { k = (i * 7) % 3000; printf "      - 10.200.%d.%d\n", int(k / 256), k % 256 }
    for (i = 0; i < 500; i++) { k = (i * 13) % 3000; printf "      - 10.200.%d.%d\n", int(k / 256), k % 256 }
}' >"$D/big.test.yaml"
awk 'BEGIN {
    print "pops:"
    for (i = 0; i < 256; i++)
        printf "  p%d: {location: [%.2f, %.2f], addresses: [127.1.0.%d]}\n", i, (i % 170) - 85, (i * 7 % 360) - 180, i
    printf "pools:\n  all: ["
    for (i = 0; i < 256; i++) printf "%sp%d", (i ? ", " : ""), i
    print "]"
}' >"$D/pops.yaml"
printf 'listen: ["127.0.0.1:5353"]\nzones: [big.test.yaml]\npops: pops.yaml\n' >"$D/geodnsd.yaml"

out=$("$GEODNSD" --check -c "$D/geodnsd.yaml" 2>&1)
st=$?
expect_eq "--check on $N names: exit 0" "$st" 0
names=$((N + 3))            # apex, ns1, many
records=$((2 * N + 3 + 3000)) # SOA, NS, ns1 A, and the 3,000 distinct addresses
R=$out
has "--check: $names names, $records records (the 500 repeated addresses dropped)" \
    "zone big\.test\.: serial [0-9]+, $names names, $records records"

# One name given twice, far apart: its own line:col and the first one's line.
cp "$D/big.test.yaml" "$D/dup.yaml"
printf '  h123: {A: 10.9.9.9}\n' >>"$D/dup.yaml"
dupline=$(wc -l <"$D/dup.yaml")
firstline=$(grep -n '^  h123:' "$D/dup.yaml" | head -1 | cut -d: -f1)
printf 'listen: ["127.0.0.1:5353"]\nzones: [dup.yaml]\npops: pops.yaml\n' >"$D/dup-conf.yaml"
out=$("$GEODNSD" --check -c "$D/dup-conf.yaml" 2>&1)
st=$?
expect_eq "--check with a repeated name: exit 1" "$st" 1
R=$out
has "--check: the repeat named at dup.yaml:$dupline:3, first at line $firstline" \
    "dup\.yaml:$dupline:3: duplicate key 'h123' \(first at line $firstline\)"

dns_start "$D/geodnsd.yaml" || dns_finish
q h0.big.test --type A
expect "h0 A" ok rcode=NOERROR an=1
has "h0 A 10.0.0.0" "^AN h0\.big\.test\. 300 IN A 10\.0\.0\.0$"
last=$((N - 1))
q h$last.big.test --type TXT
expect "h$last TXT" ok rcode=NOERROR an=1
has "h$last TXT \"rec $last\"" "^AN h$last\.big\.test\. 300 IN TXT \"rec $last\"$"
q many.big.test --type A --tcp
expect "many A over TCP: 3,000 addresses" ok rcode=NOERROR an=3000 tc=0
got=$(printf '%s\n' "$R" | sed -n 's/^AN many\.big\.test\. 300 IN A //p' | head -4 | tr '\n' ' ')
expect_eq "many A: file order kept (first four)" "$got" "10.200.0.0 10.200.0.7 10.200.0.14 10.200.0.21 "
alive "server alive"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
