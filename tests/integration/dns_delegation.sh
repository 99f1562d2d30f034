#!/usr/bin/env bash
# dns_delegation: referrals (AA=0, NS in authority, A and AAAA glue), glue never answered
# authoritatively, occluded data, DS at the cut answered by the parent, TC for a referral that
# does not fit, child zone served next to the parent.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
# referral_checks LABEL: the reply in $R is the referral to sub.example.test with all its glue.
referral_checks() {
    expect "$1: referral (NOERROR, AA=0, empty answer)" ok rcode=NOERROR -aa an=0 ns=2
    has "$1: NS ns1.sub in authority" "^NS sub\.$Z\. 300 IN NS ns1\.sub\.$Z\.$"
    has "$1: NS ns2.sub in authority" "^NS sub\.$Z\. 300 IN NS ns2\.sub\.$Z\.$"
    hasnt "$1: no SOA in a referral" ' IN SOA '
    has "$1: glue ns1.sub A" "^AR ns1\.sub\.$Z\. 300 IN A 192\.0\.2\.53$"
    has "$1: glue ns1.sub AAAA" "^AR ns1\.sub\.$Z\. 300 IN AAAA 2001:db8::53$"
    has "$1: glue ns2.sub A" "^AR ns2\.sub\.$Z\. 300 IN A 192\.0\.2\.54$"
    hasnt "$1: occluded data never returned" '192\.0\.2\.99|never served'
}

q x.sub.$Z
referral_checks "x.sub A"
q sub.$Z
referral_checks "sub A (at the cut)"
q sub.$Z --type NS
referral_checks "sub NS (at the cut)"
q a.b.c.sub.$Z --type MX
referral_checks "a.b.c.sub MX (deep below the cut)"
q ns1.sub.$Z
referral_checks "glue name ns1.sub A"
q ns1.sub.$Z --type AAAA
referral_checks "glue name ns1.sub AAAA"
q occluded.sub.$Z
referral_checks "occluded.sub A"
q occluded.sub.$Z --type TXT
referral_checks "occluded.sub TXT"
q --tcp occluded.sub.$Z
referral_checks "occluded.sub A over TCP"
q x.sub.$Z --type DS
referral_checks "x.sub DS (below the cut: the child's)"

q sub.$Z --type DS
expect "DS at the cut: answered by the parent, AA=1, NODATA" ok rcode=NOERROR +aa an=0
has "DS at the cut: parent SOA in authority" "^NS $Z\. 60 IN SOA ns1\.$Z\. "
hasnt "DS at the cut: no NS referral" "^NS sub\.$Z\. .* NS "

echo "# a referral that does not fit in UDP (RFC 9471)"
q x.bigdeleg.$Z
expect "bigdeleg referral over UDP (EDNS 1232): TC=1" rcode=NOERROR +tc
s=$(sum size)
if [ -n "$s" ] && [ "$s" -le 1232 ]; then pass "bigdeleg UDP reply within 1232 bytes ($s)"; else fail "bigdeleg UDP reply within 1232 bytes" "size=$s"; fi
q --noedns x.bigdeleg.$Z
expect "bigdeleg referral over UDP without EDNS: TC=1" rcode=NOERROR +tc
s=$(sum size)
if [ -n "$s" ] && [ "$s" -le 512 ]; then pass "bigdeleg UDP reply without EDNS within 512 bytes ($s)"; else fail "bigdeleg reply without EDNS within 512 bytes" "size=$s"; fi
q --tcp x.bigdeleg.$Z
expect "bigdeleg referral over TCP: complete, TC=0, AA=0" ok rcode=NOERROR -tc -aa an=0 ns=13
expect_eq "bigdeleg over TCP: 13 A glue" "$(nlines "^AR ns[0-9]+-x+\.bigdeleg\.$Z\. 300 IN A ")" 13
expect_eq "bigdeleg over TCP: 13 AAAA glue" "$(nlines "^AR ns[0-9]+-x+\.bigdeleg\.$Z\. 300 IN AAAA ")" 13
dg @127.0.0.1 x.bigdeleg.$Z A
has "dig retries the truncated referral over TCP and gets it all" "^;; ADDITIONAL: 27|ADDITIONAL: 27"

echo "# child zone served next to the parent's delegation"
q www.sub2.$Z
expect "www.sub2: answered from the child zone (AA), not referred" ok rcode=NOERROR +aa an=1
q nx.sub2.$Z
expect "nx.sub2: NXDOMAIN from the child zone" ok rcode=NXDOMAIN +aa
has "nx.sub2: child SOA" "^NS sub2\.$Z\. 30 IN SOA "
q sub2.$Z --type NS
expect "sub2 NS: the child's apex NS, authoritative" ok rcode=NOERROR +aa an=1
has "sub2 NS ns1.sub2" "^AN sub2\.$Z\. 300 IN NS ns1\.sub2\.$Z\.$"

echo "# dig"
dg @127.0.0.1 x.sub.$Z A
if printf '%s\n' "$R" | grep -q 'status: NOERROR' && printf '%s\n' "$R" | grep -q 'flags: qr;' &&
    printf '%s\n' "$R" | grep -q 'AUTHORITY: 2'; then
    pass "dig x.sub: referral (flags qr only, 2 NS in authority)"
else
    fail "dig x.sub: referral" "$R"
fi

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
