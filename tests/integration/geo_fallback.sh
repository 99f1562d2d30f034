#!/usr/bin/env bash
# geo_fallback: the fallback chain when a fence leaves no eligible PoP (fallback pool, CNAME,
# then nodata, default servfail; AAAA in a step without IPv6 -> NODATA), PoP bias (positive
# attracts, negative repels), tie band (a client sticks to one PoP, the load spreads over the
# tied PoPs, tie_band 0 -> strictly nearest). Data: tests/data/geo/fallback/.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
D=$GEO/fallback
# Tunis again, as a whole /16 of client /24s: the tie band spreads clients by their /24.
printf 'nets:\n  "198.19.0.0/16": {location: [36.8065, 10.1815], country: TN, continent: AF}\n' \
    >"$D/nets.yaml"
geo_conf "$D" pops.yaml fb.test.yaml nets.yaml
CONF=$D/geodnsd.yaml
R=$("$GEODNSD" --check -c "$CONF" 2>&1); RC=$?
expect_eq "geodnsd --check accepts the fallback test config" "$RC" 0
dns_start "$CONF" || finish

Z=fb.test
CHI=127.0.10.1 TYO=127.0.10.2 AMS=127.0.10.3 PAR=127.0.10.4 FRA=127.0.10.5
NYC=127.0.10.6 NYCB=127.0.10.7
PARIS=192.0.2.0/24 BERLIN=198.18.2.0/24 CHICAGO=198.51.100.0/24 TOKYO=203.0.113.0/24
REYKJAVIK=198.18.0.0/24
SOA_RE="^NS $Z\. [0-9]+ IN SOA ns1\.$Z\. hostmaster\.$Z\. "
VENDOR=cdn.vendor.example.net

echo "# step 1: clients the fence does not restrict get the pool"
for n in to-pool to-cname pool-fenced to-nodata to-servfail; do
    # scope 11: 198.32.0.0/11 holds Chicago and unlocated space only, answered chi alike
    ga "$n from Chicago (NA, not fenced) -> chi, scope 11" "$CHI" 11 --ecs $CHICAGO $n.$Z
done
ga "pool-fenced from Tokyo -> tyo" "$TYO" 24 --ecs $TOKYO pool-fenced.$Z

echo "# step 2: fence leaves no PoP in the pool -> fallback pool"
ga "to-pool from Paris (EU) -> fallback pool ams" "$AMS" 24 --ecs $PARIS to-pool.$Z
has "to-pool from Paris: TTL of the policy (20)" "^AN to-pool\.$Z\. 20 IN A $AMS$"
ga "to-pool from Berlin (EU) -> ams" "$AMS" 24 --ecs $BERLIN to-pool.$Z
gk "to-pool from source 127.255.1.1 (Paris, no ECS) -> ams" "$AMS" @127.0.0.1 -b 127.255.1.1 to-pool.$Z A
q --ecs $PARIS --type AAAA to-pool.$Z
expect "to-pool AAAA from Paris: ams has no IPv6 -> NODATA (not the CNAME step)" ok rcode=NOERROR +aa an=0
has "to-pool AAAA from Paris: SOA in authority" "$SOA_RE"
hasnt "to-pool AAAA from Paris: no CNAME" ' IN CNAME '

echo "# step 3: no eligible PoP in pool or fallback pool -> CNAME"
for n in to-cname pool-fenced; do
    q --ecs $PARIS $n.$Z
    expect "$n from Paris: NOERROR, AA, one record" ok rcode=NOERROR +aa an=1
    has "$n from Paris: CNAME $VENDOR. (TTL 20)" "^AN $n\.$Z\. 20 IN CNAME $VENDOR\.$"
    expect_eq "$n from Paris: scope 24 (the CNAME is for this client only)" "$(ecs_scope)" 24
    q --ecs $PARIS --type AAAA $n.$Z
    has "$n AAAA from Paris: the same CNAME" "^AN $n\.$Z\. 20 IN CNAME $VENDOR\.$"
done
gk "to-cname from source 127.255.8.1 (Berlin, no ECS): CNAME, no address" "" @127.0.0.1 -b 127.255.8.1 to-cname.$Z A
has "to-cname from Berlin source: CNAME $VENDOR." "CNAME[[:space:]]+$VENDOR\."

echo "# step 4: then: nodata / default servfail"
for t in A AAAA; do
    q --ecs $PARIS --type $t to-nodata.$Z
    expect "to-nodata $t from Paris: NOERROR, AA, empty answer" ok rcode=NOERROR +aa an=0
    has "to-nodata $t from Paris: SOA in authority" "$SOA_RE"
    q --ecs $PARIS --type $t to-servfail.$Z
    expect "to-servfail (no fallback) $t from Paris: SERVFAIL" ok rcode=SERVFAIL an=0
done
q --ecs $PARIS explicit-servfail.$Z
expect "explicit-servfail (then: servfail, FR fenced to FR) from Paris: SERVFAIL" ok rcode=SERVFAIL an=0
ga "explicit-servfail from Berlin (DE: no rule matches) -> nearest chi, scope 6 (196.0.0.0/6; Paris, fenced, is in the next /6)" "$CHI" 6 --ecs $BERLIN explicit-servfail.$Z
dg @127.0.0.1 -b 127.255.1.1 to-servfail.$Z A
has "dig -b 127.255.1.1 (Paris) to-servfail: status SERVFAIL" 'status: SERVFAIL'
alive "server alive after SERVFAIL answers"

echo "# explain shows the step"
explain "$CONF" to-pool.$Z $PARIS
expect_eq "explain to-pool (Paris): exit 0" "$RC" 0
has "explain to-pool: outcome fallback-pool" '^outcome: fallback-pool'
has "explain to-pool: ams chosen" '^ams +.* chosen$'
has "explain to-pool: chi fenced" '^chi +.* fenced$'
explain "$CONF" pool-fenced.$Z $PARIS
has "explain pool-fenced: outcome cname" '^outcome: cname'
has "explain pool-fenced: sin (fallback pool) fenced" '^sin +.* fenced$'
explain "$CONF" to-nodata.$Z $PARIS
has "explain to-nodata: outcome nodata" '^outcome: nodata'
explain "$CONF" to-servfail.$Z $PARIS
expect_eq "explain to-servfail: exit 0" "$RC" 0
has "explain to-servfail: outcome servfail" '^outcome: servfail'
explain "$CONF" to-pool.$Z $PARIS AAAA
has "explain to-pool AAAA: ams has no address of family" '^ams +.* no address of family$'

echo "# bias"
ga "unbiased [par, nyc] from Reykjavik -> par (2233 km < 4203 km), scope 23 (Tunis too)" "$PAR" 23 --ecs $REYKJAVIK unbiased.$Z
ga "biased [par, nycb(+50)] from Reykjavik -> nycb (4203 x 0.5 = 2102 km < 2233 km)" "$NYCB" 24 --ecs $REYKJAVIK biased.$Z
gk "biased from source 127.255.6.1 (Reykjavik) -> nycb" "$NYCB" @127.0.0.1 -b 127.255.6.1 biased.$Z A
ga "biased from Paris -> par (bias does not reach that far), scope 9" "$PAR" 9 --ecs $PARIS biased.$Z
ga "biased from Chicago -> nycb" "$NYCB" 24 --ecs $CHICAGO biased.$Z
explain "$CONF" biased.$Z $REYKJAVIK
has "explain biased: nycb chosen with bias 50 and biased distance ~2101.6" '^nycb +pool +yes +4203\.[0-9] +50 +210[0-9]\.[0-9] +- +100 +chosen$'

echo "# tie band: Tunis is 1482 km from par, 1484 km from fra"
declare -A FIRST
seen_par=0 seen_fra=0 unstable=""
for i in $(seq 1 32); do
    c=198.19.$i.7/32
    a1=""
    for rep in 1 2 3; do
        if [ $((rep % 2)) = 0 ]; then q --tcp --ecs $c tie.$Z; else q --ecs $c tie.$Z; fi
        a=$(addrs)
        [ -n "$a1" ] || a1=$a
        [ "$a" = "$a1" ] || unstable="$unstable $c:$a1/$a"
    done
    FIRST[$c]=$a1
    case $a1 in "$PAR") seen_par=$((seen_par + 1)) ;; "$FRA") seen_fra=$((seen_fra + 1)) ;;
    *) unstable="$unstable $c:unexpected($a1)" ;; esac
done
expect_eq "tie: each of 32 Tunis /32 clients (32 different /24s) gets the same PoP on 3 queries (UDP, TCP, UDP)" "$unstable" ""
if [ $seen_par -gt 0 ] && [ $seen_fra -gt 0 ]; then
    pass "tie: the load spreads over both tied PoPs ($seen_par par, $seen_fra fra)"
else
    fail "tie: the load spreads over both tied PoPs" "$seen_par par, $seen_fra fra"
fi
q --ecs 198.18.1.7/32 tie.$Z
expect_eq "tie: scope of a /32 client is 24 (the Tunis network)" "$(ecs_scope)" 24
# explain uses the same client hash as the server.
mism=""
for c in 198.19.1.7/32 198.19.2.7/32 198.19.3.7/32 198.19.4.7/32 198.19.5.7/32 198.19.6.7/32; do
    explain "$CONF" tie.$Z $c
    e=$(printf '%s\n' "$R" | sed -n 's/^answer: [a-z]* A \([0-9.]*\).*/\1/p' | head -n1)
    [ "$e" = "${FIRST[$c]}" ] || mism="$mism $c:explain=$e,server=${FIRST[$c]}"
done
expect_eq "tie: explain picks the same PoP as the server for 6 clients" "$mism" ""
has "explain tie: says 2 PoPs within the tie band" 'outcome: pool \(2 PoPs within the tie band'
unstable=""
for n in 1 2 3 4 5 6; do
    kd @127.0.0.1 -b 127.255.7.$n tie.$Z A
    a1=$(dig_addrs)
    kd @127.0.0.1 -b 127.255.7.$n tie.$Z A
    a2=$(dig_addrs)
    case $a1 in "$PAR" | "$FRA") [ "$a1" = "$a2" ] || unstable="$unstable 127.255.7.$n:$a1/$a2" ;;
    *) unstable="$unstable 127.255.7.$n:unexpected($a1)" ;; esac
done
expect_eq "tie: source-address clients (127.255.7.1-6, Tunis) stick to par or fra" "$unstable" ""
other=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    q --ecs 198.18.1.$((i * 7))/32 tie0.$Z
    a=$(addrs)
    [ "$a" = "$PAR" ] || other="$other 198.18.1.$((i * 7)):$a"
    q --ecs 198.18.1.$((i * 7))/32 tie-biased.$Z
    a=$(addrs)
    [ "$a" = "$PAR" ] || other="$other biased/198.18.1.$((i * 7)):$a"
done
expect_eq "tie_band 0, and fra with bias -10 (1633 km): every Tunis client gets par" "$other" ""

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
