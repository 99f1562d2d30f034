#!/usr/bin/env bash
# geo_example: the bundled example (zones/) with the example mmdb: every example region gets its
# nearest PoP by ECS (dnsq, dig +subnet) and by source address (kdig/dig -b 127.255.N.1), ECS
# scope = the widest prefix with one answer, A and AAAA, the CNAME mode, the eu-video fence,
# `geodnsd explain`, TCP = UDP, scope 0 for static names and for TXT/MX at a geo name.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
EX=$TMP/example
geo_example_conf "$EX"
# An EU client located in New York, for the fence (only addition to the example).
cp "$GEO/example-nets.yaml" "$EX/nets.yaml"
sed -i "s#^geoip: {mmdb: \([^,]*\), schema: geoip2-city}#geoip: {mmdb: \1, schema: geoip2-city, nets: nets.yaml}#" \
    "$EX/geodnsd.yaml"
grep -q 'nets: nets.yaml' "$EX/geodnsd.yaml" || fail "example config: nets file added" "$(cat "$EX/geodnsd.yaml")"
CONF=$EX/geodnsd.yaml

R=$("$GEODNSD" --check -c "$CONF" 2>&1); RC=$?
expect_eq "geodnsd --check accepts the example config (rc)" "$RC" 0
dns_start "$CONF" || finish

Z=cdn.example.test
V=video.$Z
FRA=127.0.1.1 NYC=127.0.2.1 SIN=127.0.3.1 GRU=127.0.4.1
FRA6=fd00:c0d:1::1 NYC6=fd00:c0d:2::1 SIN6=fd00:c0d:3::1 GRU6=fd00:c0d:4::1

# region ECS-net scope source-N PoP4 PoP6. The scope is the widest prefix around the ECS address
# inside which every address gets the same answer (tests/integration/geo_ecs_scope.sh checks
# it against a brute-force computation): Paris's /24 sits in 192.0.0.0/9 where everything else
# is unlocated and goes to fra too (192.0.0.0/8 would take in 192.168/16, answered from the
# resolver's address); Reykjavik and Tunis share 198.18.0.0/23 (both fra), Berlin's /24 is next
# to New York's (nyc).
REGIONS="Paris 192.0.2.0/24 9 1 $FRA $FRA6
Chicago 198.51.100.0/24 24 2 $NYC $NYC6
Tokyo 203.0.113.0/24 24 3 $SIN $SIN6
BuenosAires 100.64.0.0/16 16 4 $GRU $GRU6
Sydney 2001:db8::/32 32 5 $SIN $SIN6
Reykjavik 198.18.0.0/24 23 6 $FRA $FRA6
Tunis 198.18.1.0/24 23 7 $FRA $FRA6
Berlin 198.18.2.0/24 24 8 $FRA $FRA6
NewYork 198.18.3.0/24 24 9 $NYC $NYC6"

echo "# ECS (dnsq): nearest PoP per region, A and AAAA, scope"
while read -r city net sc n p4 p6; do
    ga "ECS $net ($city) A -> $p4, scope $sc" "$p4" "$sc" --ecs "$net" $V
    ga "ECS $net ($city) AAAA -> $p6, scope $sc" "$p6" "$sc" --ecs "$net" --type AAAA $V
    ga "ECS $net ($city) A over TCP: same answer and scope as UDP" "$p4" "$sc" --tcp --ecs "$net" $V
done <<<"$REGIONS"
q --ecs 192.0.2.0/24 $V
has "ECS Paris: TTL 30 from the policy" "^AN $V\. 30 IN A $FRA$"
has "ECS Paris: family, source and address echoed" '^OPT-ECS family=1 source=24 scope=9 addr=192\.0\.2\.0 '
expect "ECS Paris: AA, one record, ldns/wire checks" ok rcode=NOERROR +aa an=1

echo "# ECS scope = the widest prefix with one answer, whatever the source prefix"
ga "ECS 192.0.2.77/32 in the /24 Paris network -> scope 9" "$FRA" 9 --ecs 192.0.2.77/32 $V
has "ECS /32: address echoed in full" '^OPT-ECS family=1 source=32 scope=9 addr=192\.0\.2\.77 '
ga "ECS 198.18.0.0/16 (source /16 spans several answers) -> fra, scope 23 (longer, RFC 7871 7.2.1)" "$FRA" 23 --ecs 198.18.0.0/16 $V
ga "ECS 100.64.0.0/16 on the /16 Buenos Aires network -> scope 16" "$GRU" 16 --ecs 100.64.0.0/16 $V
ga "ECS 100.64.77.0/24 inside the /16 Buenos Aires network -> scope 16" "$GRU" 16 --ecs 100.64.77.0/24 $V
ga "ECS 2001:db8:1::/48 inside the Sydney /32 -> sin, scope 32" "$SIN" 32 --ecs 2001:db8:1::/48 $V
ga "ECS 2001:db8:1::/48 AAAA -> sin, scope 32" "$SIN6" 32 --ecs 2001:db8:1::/48 --type AAAA $V
# 203.0.112.0 is not in the mmdb: unlocated -> default_location (Frankfurt) -> fra.
ga "ECS 203.0.112.0/24 (no mmdb entry) -> default_location Frankfurt -> fra" "$FRA" - --ecs 203.0.112.0/24 $V

echo "# dig +subnet"
while read -r city net sc n p4 p6; do
    gd "dig +subnet=$net ($city) -> $p4, CLIENT-SUBNET scope $sc" "$p4" "$sc" @127.0.0.1 +subnet="$net" $V A
done <<<"$REGIONS"
gd "dig +subnet=2001:db8::/32 (Sydney) AAAA over ::1 -> $SIN6, scope 32" "$SIN6" 32 @::1 +subnet=2001:db8::/32 $V AAAA

echo "# no ECS: the query's source address (kdig/dig -b 127.255.N.1)"
while read -r city net np n p4 p6; do
    gk "kdig -b 127.255.$n.1 ($city) A -> $p4" "$p4" @127.0.0.1 -b 127.255.$n.1 $V A
    gk "kdig -b 127.255.$n.1 ($city) AAAA -> $p6" "$p6" @127.0.0.1 -b 127.255.$n.1 $V AAAA
done <<<"$REGIONS"
gk "kdig +tcp -b 127.255.3.1 (Tokyo) over TCP -> $SIN" "$SIN" @127.0.0.1 +tcp -b 127.255.3.1 $V A
gd "dig -b 127.255.4.1 (Buenos Aires) -> $GRU, no ECS in the reply" "$GRU" none @127.0.0.1 -b 127.255.4.1 $V A
gd "dig -b 127.255.2.1 +noedns (Chicago) -> $NYC" "$NYC" none @127.0.0.1 -b 127.255.2.1 +noedns $V A
# 127.0.0.1 is in no mmdb network: default_location Frankfurt.
gk "kdig from 127.0.0.1 (not in the mmdb) -> default_location -> $FRA" "$FRA" @127.0.0.1 $V A
gk "kdig from ::1 (not in the mmdb) -> default_location -> $FRA6" "$FRA6" @::1 $V AAAA

echo "# ANY at a geo name (TCP): only the chosen PoP's addresses"
q --tcp --ecs 203.0.113.0/24 --type ANY $V
expect "ANY over TCP at video (Tokyo): NOERROR, AA" ok rcode=NOERROR +aa
a=$(addrs)
case " $a " in *" $SIN "*|*" $SIN6 "*) pass "ANY (Tokyo): sin's address present ($a)" ;;
*) fail "ANY (Tokyo): sin's address present" "answer '$a'" ;; esac
bad=$(printf '%s\n' $a | grep -Ev "^($SIN|$SIN6)$" | tr '\n' ' ')
expect_eq "ANY (Tokyo): no other PoP's addresses" "$bad" ""

echo "# CNAME mode (edge)"
for c in "203.0.113.0/24:sin:$SIN:24" "192.0.2.0/24:fra:$FRA:9" "198.51.100.0/24:nyc:$NYC:24" \
    "100.64.0.0/16:gru:$GRU:16"; do
    IFS=: read -r net pop a w <<<"$c"
    q --ecs "$net" edge.$Z
    expect "edge (mode cname) from $net: NOERROR AA, CNAME + A" ok rcode=NOERROR +aa an=2
    has "edge from $net: CNAME $pop.edge.$Z with the policy TTL 30" "^AN edge\.$Z\. 30 IN CNAME $pop\.edge\.$Z\.$"
    has "edge from $net: CNAME followed in the zone to $a" "^AN $pop\.edge\.$Z\. [0-9]+ IN A $a$"
    s=$(ecs_scope)
    expect_eq "edge from $net: scope $w" "$s" "$w"
done
gk "kdig -b 127.255.2.1 edge (CNAME mode, Chicago) -> nyc.edge -> $NYC" "$NYC" @127.0.0.1 -b 127.255.2.1 edge.$Z A
has "kdig edge (Chicago): CNAME nyc.edge" "CNAME[[:space:]]+nyc\.edge\.$Z\."

echo "# fence: eu-video (EU clients only EU PoPs)"
ga "eu-video from Paris -> fra, scope 9" "$FRA" 9 --ecs 192.0.2.0/24 eu-video.$Z
ga "video from the EU client in New York (nets) -> nyc (nearest, no fence)" "$NYC" 24 --ecs 198.18.200.0/24 $V
ga "eu-video from the EU client in New York -> fra (fenced to EU), scope 17" "$FRA" 17 --ecs 198.18.200.0/24 eu-video.$Z
ga "eu-video AAAA from the EU client in New York -> fra" "$FRA6" 17 --ecs 198.18.200.0/24 --type AAAA eu-video.$Z
ga "eu-video from Reykjavik (EU) -> fra" "$FRA" 23 --ecs 198.18.0.0/24 eu-video.$Z
ga "eu-video from Tokyo (non-EU) -> nearest sin" "$SIN" 24 --ecs 203.0.113.0/24 eu-video.$Z
ga "eu-video from Chicago (non-EU) -> nearest nyc" "$NYC" 24 --ecs 198.51.100.0/24 eu-video.$Z
ga "eu-video from Buenos Aires (non-EU) -> nearest gru" "$GRU" 16 --ecs 100.64.0.0/16 eu-video.$Z
gk "kdig -b 127.255.3.1 eu-video (Tokyo) -> sin" "$SIN" @127.0.0.1 -b 127.255.3.1 eu-video.$Z A

echo "# static names and non-address types: scope 0"
ga "static name with ECS 192.0.2.0/24: static records, scope 0" "127.0.9.1 127.0.9.2" 0 --ecs 192.0.2.0/24 static.$Z
ga "static name with ECS 203.0.113.0/24: same records, scope 0" "127.0.9.1 127.0.9.2" 0 --ecs 203.0.113.0/24 static.$Z
gd "dig +subnet static: CLIENT-SUBNET scope 0" "127.0.9.1 127.0.9.2" 0 @127.0.0.1 +subnet=198.51.100.0/24 static.$Z A
q --ecs 192.0.2.0/24 --type TXT $Z
expect "apex TXT with ECS" ok rcode=NOERROR +aa an=1
expect_eq "apex TXT: scope 0" "$(ecs_scope)" 0
SOA_RE="^NS $Z\. [0-9]+ IN SOA ns1\.$Z\. hostmaster\.example\.test\. "
for t in TXT MX SRV; do
    q --ecs 192.0.2.0/24 --type $t $V
    expect "$t at the geo name: NODATA (NOERROR, AA, empty answer)" ok rcode=NOERROR +aa an=0
    has "$t at the geo name: SOA in authority" "$SOA_RE"
    expect_eq "$t at the geo name: scope 0" "$(ecs_scope)" 0
done
q --ecs 203.0.113.0/24 nx.$Z
expect "NXDOMAIN with ECS" ok rcode=NXDOMAIN
expect_eq "NXDOMAIN: scope 0" "$(ecs_scope)" 0
q --ecs 203.0.113.0/24 www.$Z
expect "www (CNAME to the geo name video) from Tokyo: CNAME + A" ok rcode=NOERROR +aa an=2
has "www from Tokyo: CNAME video" "^AN www\.$Z\. [0-9]+ IN CNAME video\.$Z\.$"
has "www from Tokyo: video's A is sin's" "^AN video\.$Z\. 30 IN A $SIN$"
# The answer depends on the client (through the chased geo name): a scope of 0 would let a
# resolver hand Tokyo's PoP to everyone.
expect_eq "www (chain into a geo name) from Tokyo: scope 24, not 0" "$(ecs_scope)" 24

echo "# geodnsd explain"
explain "$CONF" $V 203.0.113.0/24
expect_eq "explain video 203.0.113.0/24: exit 0" "$RC" 0
has "explain (Tokyo): sin is chosen" '^sin +.* chosen$'
has "explain (Tokyo): fra is farther" '^fra +.* farther$'
has "explain (Tokyo): answer names sin and its address" "^answer: sin A $SIN"
has "explain (Tokyo): located by the mmdb /24" 'located by: mmdb, network /24'
has "explain (Tokyo): the answer section as sent" "video\.$Z\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+$SIN"
explain "$CONF" $V 127.255.2.1
expect_eq "explain video 127.255.2.1 (source address): exit 0" "$RC" 0
has "explain (Chicago source): nyc chosen" '^nyc +.* chosen$'
has "explain (Chicago source): says no ECS" 'source address'
explain "$CONF" eu-video.$Z 198.18.200.0/24
expect_eq "explain eu-video (EU client in New York): exit 0" "$RC" 0
has "explain eu-video: fra chosen" '^fra +.* chosen$'
has "explain eu-video: nyc fenced" '^nyc +.* fenced$'
has "explain eu-video: located by the nets entry" 'located by: nets entry .*nets\.yaml:[0-9]+'
explain "$CONF" edge.$Z 198.51.100.0/24
has "explain edge (cname mode): CNAME nyc.edge" "^answer: nyc CNAME nyc\.edge\.$Z\.?"
explain "$CONF" static.$Z 203.0.113.0/24
expect_eq "explain static: exit 0" "$RC" 0
has "explain static: not a geo name" 'not a geo name'
# The client argument: an address, or an address/prefix with 1 to 3 digits after the slash.
for bad in "203.0.113.0/|bad prefix in '203\.0\.113\.0/'" \
    "203.0.113.0/+24|bad prefix in" "203.0.113.0/ 24|bad prefix in" \
    "203.0.113.0/24x|bad prefix in" "203.0.113/24|'203\.0\.113' is not an IPv4 or IPv6 address" \
    " 203.0.113.7|' 203\.0\.113\.7' is not an IPv4 or IPv6 address" \
    "203.0.113.0/33|prefix /33 is longer than 32" "2001:db8::/129|prefix /129 is longer than 128" \
    "$(printf '0%.0s' {1..90})|is not an IPv4 or IPv6 address"; do
    explain "$CONF" $V "${bad%%|*}"
    expect_eq "explain client '${bad%%|*}': exit 1" "$RC" 1
    has "explain client '${bad%%|*}': error" "^explain: .*${bad#*|}"
done

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
