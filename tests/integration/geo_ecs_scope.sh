#!/usr/bin/env bash
# geo_ecs_scope: every ECS scope geodnsd returns is exactly the widest correct one. The checker
# (tools/ecs-scope-check.c) computes the widest prefix around each sample address inside which
# every address gets the same answer, by brute force from the mmdb, the nets file and the
# policy (independently of the server's merged tables), and compares it with the scope of the
# server's answer (A and AAAA queries, ECS IPv4 /24 and /32, IPv6 /48, /56 and /128). Configs: the ECS/nets test data (nets entries
# splitting mmdb networks, pins) and the fallback test data (fences, fallback pools, CNAME,
# NODATA/SERVFAIL, bias, tie band picked by client hash), the bundled example with and without
# health input (fra down), and with capacity shares (the checker reading the same state files).
# Requires 100% exact, none wider.
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

# IPv6: in and around the example mmdb's 2001:db8::/32 and the nets file's 2001:db8:ab00::/40,
# IPv4 networks and special ranges as IPv4-mapped (located as IPv4) and IPv4-compatible
# addresses, the IPv6 special ranges' edges.
ADDRS6=""
for a in 2001:db8:: 2001:db8:ab00:: 2001:db8:abff:ffff:ffff:ffff:ffff:ff00 2001:db8:ac00:: \
    2001:db8:aaff:ffff:: 2001:db9:: 2001:db7:ffff:ffff:: 2001:dc0:: 2a00:1450:: \
    ::ffff:192.0.2.0 ::ffff:192.0.2.128 ::ffff:203.0.113.16 ::ffff:203.0.113.40 \
    ::ffff:198.51.100.0 ::ffff:10.1.2.0 ::ffff:127.255.9.0 ::ffff:8.8.8.0 ::192.0.2.0 \
    ::203.0.113.0 fbff:ffff:ffff:ffff:: fc00:: fdff:ffff:ffff:ffff:ffff:ffff:ffff:ff00 fe00:: \
    fe80:: febf:ffff:: fec0:: feff:ffff:ffff:ff00:: ff00:: ::2 ::; do
    ADDRS6="$ADDRS6 --addr $a"
done

# run_checker DIR ZONEFILE ZONE RECORD [NETS]
run_checker() {
    local dir=$1 zf=$2 zone=$3 rec=$4 nets=${5:-} src out rc t fam addrs
    for t in A AAAA; do
        for src in 4/24 4/32 6/48 6/56 6/128; do
            fam=${src%/*}
            addrs=$ADDRS
            [ "$fam" = 6 ] && addrs=$ADDRS6
            out=$("$CHECK" --port "$PORT" --name "$rec.$zone" --pops "$dir/pops.yaml" \
                --zone "$dir/$zf" --record "$rec" --mmdb "$MMDB" ${nets:+--nets "$dir/$nets"} \
                --samples 100 --seed 7 --family "$fam" --source "${src#*/}" --type $t $addrs 2>&1)
            rc=$?
            if [ $rc -eq 0 ] && echo "$out" | tail -n 1 | grep -q "narrower 0 wider 0 no-reply 0"; then
                pass "$rec.$zone $t ECS IPv$src: $(echo "$out" | tail -n 1 | sed 's/;.*//')"
            else
                fail "$rec.$zone $t ECS IPv$src: every scope exactly the widest correct" "$out"
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
# The checker itself finds a scope too wide: told of a nets entry the server does not have (a
# /29 inside the /25 and a /48 inside the /33 the server answers for), it reports WIDER, exit 1.
cp "$D/nets.yaml" "$D/nets-extra.yaml"
printf '  "192.0.2.64/29": {location: [35.68, 139.65], country: JP}\n  "2001:db8:1234::/48": {location: [40.71, -74.0], country: US}\n' \
    >>"$D/nets-extra.yaml"
for fa in "4 24 192.0.2.0 25 26" "6 48 2001:db8:: 33 36"; do
    set -- $fa
    out=$("$CHECK" --port "$PORT" --name video.ecs.test --pops "$D/pops.yaml" --zone "$D/ecs.test.yaml" \
        --record video --mmdb "$MMDB" --nets "$D/nets-extra.yaml" --samples 0 --family "$1" \
        --source "$2" --addr "$3" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && [[ $out == *"$3/$2 scope $4 widest correct $5 WIDER"* ]]; then
        pass "checker reports a too-wide IPv$1 scope (/$4 where /$5 is correct), exit 1"
    else
        fail "checker reports a too-wide IPv$1 scope" "rc=$rc: $out"
    fi
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
dns_stop

# Health: the bundled example as shipped (health dir, no state file yet: every PoP assumed up),
# then a state file saying fra is down. Until the tables for the new view are built, answers
# are ranked per client with narrower scopes (never wider: any WIDER fails at once); once they
# are, every scope is exactly the widest correct one with fra down (checker --down fra).
D=$TMP/example-health
geo_example_conf "$D"
mkdir -p "$D/health"
dns_start "$D/geodnsd.yaml" || dns_finish
# scope_poll DESC CHECKER-ARGS...: the checker's verdict becomes "narrower 0 wider 0" within 10 s
scope_poll() {
    local desc=$1 i out rc
    shift
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        out=$("$CHECK" --port "$PORT" --name video.cdn.example.test --pops "$D/pops.yaml" \
            --zone "$D/cdn.example.test.yaml" --record video --mmdb "$MMDB" --samples 100 \
            --seed 3 "$@" 2>&1)
        rc=$?
        [ $rc -ne 0 ] && break # a scope wider than correct (or no reply): fail now
        echo "$out" | tail -n 1 | grep -q "narrower 0 wider 0 no-reply 0" && break
        sleep 0.2
    done
    if [ $rc -eq 0 ] && echo "$out" | tail -n 1 | grep -q "narrower 0 wider 0 no-reply 0"; then
        pass "$desc: $(echo "$out" | tail -n 1 | sed 's/;.*//')"
    else
        fail "$desc" "rc=$rc: $out"
    fi
}
scope_poll "all up (health dir, no state yet): IPv4 /24 exact" --family 4 --source 24 $ADDRS
ga "all up: Paris -> fra" 127.0.1.1 - --ecs 192.0.2.0/24 video.cdn.example.test
python3 "$SRC/tests/lib/health-state.py" "$D/health/v1.json" v1 fra=down nyc=up sin=up gru=up
scope_poll "fra down: IPv4 /24 exact with fra down" --family 4 --source 24 --down fra $ADDRS
ga "fra down: Paris -> nyc" 127.0.2.1 - --ecs 192.0.2.0/24 video.cdn.example.test
# The checker tells the two views apart: told every PoP is up, it finds the merged scopes wider.
out=$("$CHECK" --port "$PORT" --name video.cdn.example.test --pops "$D/pops.yaml" \
    --zone "$D/cdn.example.test.yaml" --record video --mmdb "$MMDB" --samples 100 --seed 3 \
    --family 4 --source 24 $ADDRS 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | tail -n 1 | grep -Eq "wider [1-9]"; then
    pass "checker without --down fra reports the fra-down scopes as too wide, exit 1"
else
    fail "checker without --down fra reports the fra-down scopes as too wide" "rc=$rc: $out"
fi
scope_poll "fra down: IPv6 /56 exact with fra down" --family 6 --source 56 --down fra $ADDRS6
scope_poll "fra down: AAAA, IPv4 /32 exact with fra down" --family 4 --source 32 --type AAAA \
    --down fra $ADDRS
dns_stop

# Capacity: a new server started on a state file with loads (fra at 90 % of its capacity keeps
# a third of its clients and sheds the rest by client hash, gru past its high watermark takes
# none), the checker given the same files (--health-dir): an answer picked by hash is good for
# its /24 (/48) only, every other scope is still the widest correct one.
D=$TMP/example-load
geo_example_conf "$D"
mkdir -p "$D/health"
python3 "$SRC/tests/lib/health-state.py" "$D/health/v1.json" v1 fra=up:900 nyc=up:300 \
    sin=up:500 gru=up:1200
dns_start "$D/geodnsd.yaml" || dns_finish
scope_poll "capacity shares: IPv4 /24 exact (checker --health-dir)" --family 4 --source 24 \
    --health-dir "$D/health" $ADDRS
scope_poll "capacity shares: IPv6 /56 exact (checker --health-dir)" --family 6 --source 56 \
    --health-dir "$D/health" $ADDRS6
scope_poll "capacity shares: AAAA, IPv4 /32 exact (checker --health-dir)" --family 4 --source 32 \
    --type AAAA --health-dir "$D/health" $ADDRS
# gru past its high watermark takes no new clients: Buenos Aires goes whole to nyc, the next
# nearest, which keeps all its clients (no hash, so the /16 of the all-up answer). fra keeps a
# third of its clients by hash: Paris is good for its /24 only (/9 with fra below capacity).
q --ecs 100.64.0.0/16 video.cdn.example.test
s=$(ecs_scope)
a=$(addrs)
expect_eq "gru full: Buenos Aires /16 -> nyc, scope 16" "$a scope $s" "127.0.2.1 scope 16"
q --ecs 192.0.2.0/24 video.cdn.example.test
s=$(ecs_scope)
expect_eq "fra shedding 2/3: Paris /24 picked by client hash, scope 24" "$s" 24
# Told nothing of the loads, the checker finds those /24 scopes narrower than it would merge.
out=$("$CHECK" --port "$PORT" --name video.cdn.example.test --pops "$D/pops.yaml" \
    --zone "$D/cdn.example.test.yaml" --record video --mmdb "$MMDB" --samples 100 --seed 3 \
    --family 4 --source 24 $ADDRS 2>&1)
if echo "$out" | tail -n 1 | grep -Eq "narrower [1-9][0-9]* wider 0"; then
    pass "checker without --health-dir sees the shed scopes as narrower than all-up ones"
else
    fail "checker without --health-dir sees the shed scopes as narrower" "$out"
fi
# A state file the checker cannot read is named, and the checker goes on without it.
echo '{"format": "geodns-health", "version": 1, "vantage": "v2", "time": 1, "pops": [' >"$D/health/v2.json"
out=$("$CHECK" --port "$PORT" --name video.cdn.example.test --pops "$D/pops.yaml" \
    --zone "$D/cdn.example.test.yaml" --record video --mmdb "$MMDB" --samples 10 --seed 3 \
    --health-dir "$D/health" $ADDRS 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ $out == *"warning: "*"v2.json"* ]] && echo "$out" | tail -n 1 | grep -q "wider 0"; then
    pass "checker names a bad state file and uses the others"
else
    fail "checker names a bad state file and uses the others" "rc=$rc: $out"
fi
rm -f "$D/health/v2.json"
out=$("$CHECK" --port "$PORT" --name video.cdn.example.test --pops "$D/pops.yaml" \
    --zone "$D/cdn.example.test.yaml" --record video --spill 0 2>&1)
rc=$?
if [ $rc -eq 2 ] && [[ $out == *"--spill: a number from 1 to"* ]]; then
    pass "checker refuses --spill 0 (exit 2)"
else
    fail "checker refuses --spill 0 (exit 2)" "rc=$rc: $out"
fi
finish
