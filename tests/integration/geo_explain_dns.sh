#!/bin/bash
# geo_explain_dns: `explain: true` answers TXT _explain.<geo name> to loopback clients with the
# routing decision (TTL 0, scope = the whole source prefix); off by default (NXDOMAIN then).
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
MMDB=$(cd "$BUILD" && pwd)/example-city.mmdb
EX=$TMP/ex
mkdir -p "$EX"
cp "$SRC/zones/"*.yaml "$EX/"
sed -i "s|mmdb: [^,}]*|mmdb: $MMDB|" "$EX/geodnsd.yaml"

dns_start "$EX/geodnsd.yaml" || finish
out=$(dig @127.0.0.1 -p "$PORT" +norec +time=2 +tries=1 TXT _explain.video.cdn.example.test \
    +subnet=203.0.113.0/24)
check "off by default: NXDOMAIN" grep -q 'status: NXDOMAIN' <<<"$out"
dns_stop

echo "explain: true" >>"$EX/geodnsd.yaml"
dns_start "$EX/geodnsd.yaml" || finish
out=$(dig @127.0.0.1 -p "$PORT" +norec +time=2 +tries=1 TXT _explain.video.cdn.example.test \
    +subnet=203.0.113.0/24)
echo "$out" | sed -n '/ANSWER SECTION/,/^$/p' | sed 's/^/  | /'
check "explain: NOERROR with AA" grep -q 'status: NOERROR.*' <<<"$out"
check "explain names the chosen PoP (sin for Tokyo)" grep -q '"sin .*chosen"' <<<"$out"
check "explain gives the answer" grep -q '"answer: sin A 127.0.3.1"' <<<"$out"
check "explain records have TTL 0" grep -qE '^_explain\.video\.cdn\.example\.test\.\s+0\s+IN\s+TXT' <<<"$out"
check "explain scope is the whole source prefix" grep -q 'CLIENT-SUBNET: 203.0.113.0/24/24' <<<"$out"
out6=$(dig @::1 -p "$PORT" +norec +short +time=2 +tries=1 TXT _explain.video.cdn.example.test)
check "explain over IPv6 loopback" grep -q 'chosen' <<<"$out6"
out=$(dig @127.0.0.1 -p "$PORT" +norec +time=2 +tries=1 TXT _explain.www.cdn.example.test)
check "_explain of a non-geo name: NXDOMAIN" grep -q 'status: NXDOMAIN' <<<"$out"
out=$(dig @127.0.0.1 -p "$PORT" +norec +short +time=2 +tries=1 video.cdn.example.test \
    +subnet=203.0.113.0/24)
expect_eq "normal answers unchanged" "$out" 127.0.3.1
alive "server alive"
finish
