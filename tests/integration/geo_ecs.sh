#!/usr/bin/env bash
# geo_ecs: which address locates the client and the ECS scope: malformed ECS -> FORMERR, ECS /0
# and non-global ECS addresses -> the packet source is used, ECS over the other transport
# family, IPv4-mapped ECS; the nets file over the mmdb (longest prefix, scope = nets prefix,
# fixed PoP order, pins outside the policy's pool, source-address clients).
# Data: tests/data/geo/ecs/ (example PoPs, pools edges and nosin, nets.yaml).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
D=$GEO/ecs
geo_conf "$D" pops.yaml ecs.test.yaml nets.yaml
CONF=$D/geodnsd.yaml
R=$("$GEODNSD" --check -c "$CONF" 2>&1); RC=$?
expect_eq "geodnsd --check accepts the ECS/nets test config" "$RC" 0
dns_start "$CONF" || finish

Z=ecs.test
V=video.$Z
FRA=127.0.1.1 NYC=127.0.2.1 SIN=127.0.3.1 GRU=127.0.4.1

echo "# malformed ECS at a geo name -> FORMERR"
for c in "family 3:00031800c00002" "family 0:00001800c00002" \
    "IPv4 source 33:00012100c000020100" "IPv6 source 129:00028100$(printf '20%.0s' $(seq 1 17))" \
    "address longer than the /24 needs:00011800c0000200" "address shorter than the /24 needs:00011800c000" \
    "bits set beyond the /20:00011400c0000f" "bits set beyond the /0:00010000c0" \
    "truncated (3 bytes):000118" "empty:"; do
    q --ecs-raw "${c#*:}" $V
    expect "malformed ECS at the geo name (${c%%:*}): FORMERR, no answer" rcode=FORMERR an=0
done
q --tcp --ecs-raw 00011800c000 $V
expect "malformed ECS over TCP: FORMERR" rcode=FORMERR an=0
alive "server alive after malformed ECS"

echo "# ECS /0 (client opted out): source address used, scope 0"
gd "dig -b 127.255.3.1 (Tokyo) +subnet=0.0.0.0/0 -> sin, scope 0" "$SIN" 0 @127.0.0.1 -b 127.255.3.1 +subnet=0.0.0.0/0 $V A
gd "dig -b 127.255.4.1 (Buenos Aires) +subnet=0.0.0.0/0 -> gru, scope 0" "$GRU" 0 @127.0.0.1 -b 127.255.4.1 +subnet=0.0.0.0/0 $V A
gd "dig -b 127.255.3.1 (Tokyo) +subnet=::/0 -> sin, scope 0" "$SIN" 0 @127.0.0.1 -b 127.255.3.1 +subnet=::/0 $V A
has "ECS /0: echoed as 0.0.0.0/0/0 or ::/0/0" 'CLIENT-SUBNET: (0\.0\.0\.0|::)/0/0'
ga "dnsq ECS 0.0.0.0/0 from 127.0.0.1 (not in the mmdb) -> default_location -> fra, scope 0" "$FRA" 0 --ecs 0.0.0.0/0 $V

echo "# ECS with a non-global address: source address used, scope = the special range's prefix"
echo "# (the answer holds for that whole range and no wider: never 0, which would poison caches)"
for e in 10.0.0.0/8:8 172.16.0.0/12:12 192.168.1.0/24:16 127.0.0.0/8:8 169.254.0.0/16:16 \
    224.0.0.0/4:4 0.0.0.0/8:8 10.1.2.3/32:8 172.31.255.0/24:12 fc00::/7:7 fe80::/10:10 ::1/128:128 \
    ff02::/16:8; do
    gd "dig -b 127.255.3.1 (Tokyo) +subnet=${e%:*} (not global) -> sin from the source, scope ${e##*:}" \
        "$SIN" "${e##*:}" @127.0.0.1 -b 127.255.3.1 +subnet=${e%:*} $V A
done
ga "ECS ::ffff:10.0.0.0/104 (mapped private) -> source used, scope 104 (= 96 + 8)" "$FRA" 104 \
    --ecs ::ffff:10.0.0.0/104 $V
gd "dig -b 127.255.2.1 (Chicago) +subnet=10.0.0.0/8 -> nyc from the source" \
    "$NYC" - @127.0.0.1 -b 127.255.2.1 +subnet=10.0.0.0/8 $V A
explain "$CONF" $V 10.1.2.0/24
has "explain with a private ECS address: says the source address is used" "private, loopback or reserved: it locates nobody, so the server uses the query.s source address"
echo "# documentation, benchmark and shared ranges are usable ECS addresses"
gd "dig -b 127.255.3.1 +subnet=100.64.0.0/16 (Buenos Aires) -> gru, scope 16" "$GRU" 16 @127.0.0.1 -b 127.255.3.1 +subnet=100.64.0.0/16 $V A
gd "dig -b 127.255.3.1 +subnet=198.18.2.0/24 (Berlin) -> fra, scope 24" "$FRA" 24 @127.0.0.1 -b 127.255.3.1 +subnet=198.18.2.0/24 $V A

echo "# ECS family independent of the transport"
gd "dig @::1 +subnet=198.18.2.0/24 (IPv4 ECS over IPv6) -> fra, scope 24" "$FRA" 24 @::1 +subnet=198.18.2.0/24 $V A
gd "dig @127.0.0.1 +subnet=2001:db8::/32 (IPv6 ECS over IPv4, Sydney) -> sin, scope 33 (longer than the source: the upper /33 holds the nets /40)" "$SIN" 33 @127.0.0.1 +subnet=2001:db8::/32 $V A
ga "ECS with a non-zero SCOPE in the query: ignored, scope from the lookup (24)" "$FRA" 24 --ecs 198.18.2.0/24/16 $V

echo "# IPv4-mapped IPv6 ECS (::ffff:a.b.c.d matched as IPv4; scope in IPv6 bits)"
ga "ECS ::ffff:198.18.2.0/120 (Berlin) -> fra, scope 120 (= 96 + 24)" "$FRA" 120 --ecs ::ffff:198.18.2.0/120 $V
has "ECS ::ffff:198.18.2.0/120: echoed as family 2, source 120" '^OPT-ECS family=2 source=120 '
ga "ECS ::ffff:198.18.2.77/128 (Berlin) -> fra, scope 120" "$FRA" 120 --ecs ::ffff:198.18.2.77/128 $V
ga "ECS ::ffff:192.0.2.1/128 (nets 192.0.2.0/25 pin) -> nyc, scope 121 (= 96 + 25)" "$NYC" 121 --ecs ::ffff:192.0.2.1/128 $V

echo "# nets file over the mmdb (longest prefix, scope = nets prefix)"
ga "ECS 192.0.2.1/32 (nets 192.0.2.0/25 pinned to nyc) -> nyc, scope 25" "$NYC" 25 --ecs 192.0.2.1/32 $V
ga "ECS 192.0.2.0/25 -> nyc, scope 25" "$NYC" 25 --ecs 192.0.2.0/25 $V
ga "ECS 192.0.2.64/26 inside the pinned /25 -> nyc, scope 25" "$NYC" 25 --ecs 192.0.2.64/26 $V
ga "ECS 192.0.2.200/32 (upper half: mmdb Paris /24, lower half pinned) -> fra, scope 25" "$FRA" 25 --ecs 192.0.2.200/32 $V
ga "ECS 192.0.2.128/25 (upper half) -> fra, scope 25" "$FRA" 25 --ecs 192.0.2.128/25 $V
gd "dig +subnet=192.0.2.1/32 -> nyc, CLIENT-SUBNET scope 25" "$NYC" 25 @127.0.0.1 +subnet=192.0.2.1/32 $V A
ga "ECS 203.0.113.0/24 (nets: Tokyo moved to Sao Paulo; .16/28 is Tokyo) -> gru, scope 28 (RFC 7871 7.2.1: longer)" "$GRU" 28 --ecs 203.0.113.0/24 $V
ga "ECS 203.0.113.20/32 (nets /28 inside: Tokyo) -> sin, scope 28" "$SIN" 28 --ecs 203.0.113.20/32 $V
ga "ECS 203.0.113.40/32 (outside the /28) -> gru, scope 27 (203.0.113.32/27)" "$GRU" 27 --ecs 203.0.113.40/32 $V
ga "ECS 2001:db8:ab00::/48 (nets /40: Chicago) -> nyc, scope 40" "$NYC" 40 --ecs 2001:db8:ab00::/48 $V
ga "ECS 2001:db8:ab00::/40 -> nyc, scope 40" "$NYC" 40 --ecs 2001:db8:ab00::/40 $V
ga "ECS 2001:db8:1::/48 (mmdb Sydney /32, nets /40 in its upper half) -> sin, scope 33" "$SIN" 33 --ecs 2001:db8:1::/48 $V
ga "static name with a nets-matched ECS: scope 0" "127.0.9.1" 0 --ecs 192.0.2.1/32 static.$Z

echo "# nets pops: fixed order"
ga "ECS 198.51.100.0/24 (Chicago, pinned [sin, gru]) -> sin, not the nearer nyc" "$SIN" 24 --ecs 198.51.100.0/24 $V
q --ecs 198.51.100.0/24 two.$Z
expect "answers 2, pinned [sin, gru]: two records" ok rcode=NOERROR +aa an=2
expect_eq "answers 2, pinned [sin, gru]: sin then gru, in the pinned order" \
    "$(an_list | tr '\n' ';')" "two.$Z. A $SIN;two.$Z. A $GRU;"
q --ecs 198.18.2.0/24 two.$Z
expect_eq "answers 2 from Berlin (mmdb): fra then nyc (nearest first)" \
    "$(an_list | tr '\n' ';')" "two.$Z. A $FRA;two.$Z. A $NYC;"
ga "nosin (pool without sin) for Chicago pinned [sin, gru] -> gru (sin not in the pool)" "$GRU" 24 --ecs 198.51.100.0/24 nosin.$Z
ga "video for New York pinned [sin] -> sin" "$SIN" 24 --ecs 198.18.3.0/24 $V
ga "nosin for New York pinned [sin] (pin does not apply, entry has no location) -> default_location -> fra" \
    "$FRA" 11 --ecs 198.18.3.0/24 nosin.$Z
gk "source 127.255.9.1 (New York in the mmdb, nets pinned [gru]) -> gru" "$GRU" @127.0.0.1 -b 127.255.9.1 $V A
gk "source 127.255.2.1 (Chicago, no nets entry) -> nyc" "$NYC" @127.0.0.1 -b 127.255.2.1 $V A
explain "$CONF" $V 192.0.2.1/32
has "explain 192.0.2.1/32: located by the nets entry nets.yaml:<line> /25" 'located by: nets entry .*nets\.yaml:[0-9]+ \(prefix /25\)'
has "explain 192.0.2.1/32: nyc chosen" '^nyc +.* chosen$'

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
