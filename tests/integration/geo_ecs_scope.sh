#!/usr/bin/env bash
# geo_ecs_scope: every ECS scope geodnsd returns is exactly the widest correct one. The checker
# (tools/ecs-scope-check.c) computes the widest prefix around each sample address inside which
# every address gets the same answer, by brute force from the mmdb, the nets file and the
# policy (independently of the server's merged tables), and compares it with the scope of the
# server's answer (A and AAAA queries, ECS /24 and /32). Configs: the ECS/nets test data (nets entries
# splitting mmdb networks, pins) and the fallback test data (fences, fallback pools, CNAME,
# NODATA/SERVFAIL, bias, tie band picked by client hash). Requires 100% exact, none wider.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
CHECK=$BIN/ecs-scope-check
[ -x "$CHECK" ] || { fail "ecs-scope-check built" "no $CHECK"; dns_finish; }
# A name the checker cannot put in a question is refused before anything is asked.
LONG=$(printf 'a%.0s' {1..64}).example.test
out=$("$CHECK" --port 1 --name "$LONG" --pops /nonexistent --policy /nonexistent 2>&1)
rc=$?
if [ $rc -eq 2 ] && [[ $out == *"not a valid domain name"* ]]; then
    pass "ecs-scope-check refuses a 64-byte label (exit 2)"
else
    fail "ecs-scope-check refuses a 64-byte label (exit 2)" "rc=$rc: $out"
fi

# Addresses in and around every network of the example mmdb and the nets entries, the edges of
# the special-purpose ranges, plus random public addresses.
ADDRS=""
for a in 192.0.2.0 192.0.2.127 192.0.2.128 192.0.2.200 198.51.100.0 198.51.101.0 203.0.113.0 \
    203.0.113.16 203.0.113.31 203.0.113.40 203.0.112.0 100.64.0.0 100.64.77.0 100.65.0.0 \
    100.63.255.0 198.18.0.0 198.18.1.0 198.18.2.0 198.18.3.0 198.18.4.0 198.19.0.0 9.255.255.0 \
    11.0.0.0 126.255.255.0 128.0.0.0 172.15.255.0 172.32.0.0 169.253.0.0 169.255.0.0 \
    192.167.255.0 192.169.0.0 223.255.255.0 1.0.0.0 198.18.200.0 198.18.201.0; do
    ADDRS="$ADDRS --addr $a"
done

# run_checker DIR ZONEFILE ZONE RECORD [NETS]
run_checker() {
    local dir=$1 zf=$2 zone=$3 rec=$4 nets=${5:-} src out rc t
    for t in A AAAA; do
        for src in 24 32; do
            out=$("$CHECK" --port "$PORT" --name "$rec.$zone" --pops "$dir/pops.yaml" \
                --zone "$dir/$zf" --record "$rec" --mmdb "$MMDB" ${nets:+--nets "$dir/$nets"} \
                --samples 100 --seed 7 --source $src --type $t $ADDRS 2>&1)
            rc=$?
            if [ $rc -eq 0 ] && echo "$out" | tail -n 1 | grep -q "narrower 0 wider 0 no-reply 0"; then
                pass "$rec.$zone $t ECS /$src: $(echo "$out" | tail -n 1 | sed 's/;.*//')"
            else
                fail "$rec.$zone $t ECS /$src: every scope exactly the widest correct" "$out"
            fi
        done
    done
}

D=$GEO/ecs
geo_conf "$D" pops.yaml ecs.test.yaml nets.yaml
dns_start "$D/geodnsd.yaml" || dns_finish
for r in video nosin two; do
    run_checker "$D" ecs.test.yaml ecs.test $r nets.yaml
done
dns_stop

D=$GEO/fallback
geo_conf "$D" pops.yaml fb.test.yaml
dns_start "$D/geodnsd.yaml" || dns_finish
for r in to-pool to-cname pool-fenced to-nodata to-servfail explicit-servfail unbiased biased \
    tie tie0 tie-biased; do
    run_checker "$D" fb.test.yaml fb.test $r
done
dns_stop

# The bundled example (zones/) with the EU client in New York (nets), no health input.
D=$TMP/example
geo_example_conf "$D"
cp "$GEO/example-nets.yaml" "$D/nets.yaml"
sed -i -e "s#schema: geoip2-city}#schema: geoip2-city, nets: nets.yaml}#" -e '/^health:/,/^[a-z]/{/^health:/d;/^ /d}' \
    "$D/geodnsd.yaml"
grep -q "nets: nets.yaml" "$D/geodnsd.yaml" || fail "example config takes the nets file" "$(cat "$D/geodnsd.yaml")"
dns_start "$D/geodnsd.yaml" || dns_finish
for r in video eu-video edge; do
    run_checker "$D" cdn.example.test.yaml cdn.example.test $r nets.yaml
done
finish
