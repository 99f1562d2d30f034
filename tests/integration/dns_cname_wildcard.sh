#!/usr/bin/env bash
# dns_cname_wildcard: CNAME chains (in order, out of zone, to NXDOMAIN/NODATA per RFC 6604,
# loops, length bound) and wildcards per RFC 4592 (synthesis, blocking, NODATA, literal *,
# wildcard CNAME, no wildcard below a delegation).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
SOA_RE="^NS $Z\. 60 IN SOA ns1\.$Z\. "

echo "# CNAME"
q alias.$Z
expect "alias A: NOERROR, AA, CNAME + 2 A" ok rcode=NOERROR +aa an=3
expect_eq "alias A: CNAME first, then the target's A RRset" "$(an_list | tr '\n' '|')" \
    "alias.$Z. CNAME www.$Z.|www.$Z. A 192.0.2.1|www.$Z. A 192.0.2.2|"
q alias.$Z --type CNAME
expect "alias CNAME: only the CNAME" ok rcode=NOERROR +aa an=1
has "alias CNAME www" "^AN alias\.$Z\. 300 IN CNAME www\.$Z\.$"
q alias.$Z --type AAAA
expect "alias AAAA: CNAME + AAAA" ok rcode=NOERROR +aa an=2
q c1.$Z
expect "c1 A: chain of 2 CNAMEs then A" ok rcode=NOERROR +aa an=3
expect_eq "c1 A: whole chain in order" "$(an_list | tr '\n' '|')" \
    "c1.$Z. CNAME c2.$Z.|c2.$Z. CNAME c3.$Z.|c3.$Z. A 192.0.2.33|"
q ext.$Z
expect "ext A: chain leaving the zone stops at the out-of-zone CNAME" ok rcode=NOERROR +aa an=1
has "ext A: CNAME www.other.example." "^AN ext\.$Z\. 300 IN CNAME www\.other\.example\.$"
q cnx.$Z
expect "CNAME to a missing name: NXDOMAIN, AA (RFC 6604)" ok rcode=NXDOMAIN +aa an=1
has "CNAME to a missing name: the CNAME in the answer" "^AN cnx\.$Z\. 300 IN CNAME nothere\.$Z\.$"
has "CNAME to a missing name: SOA in authority" "$SOA_RE"
q cnd.$Z --type AAAA
expect "CNAME to NODATA: NOERROR, AA, the CNAME only" ok rcode=NOERROR +aa an=1
has "CNAME to NODATA: CNAME in the answer" "^AN cnd\.$Z\. 300 IN CNAME c3\.$Z\.$"
has "CNAME to NODATA: SOA in authority" "$SOA_RE"
q cnd.$Z --type CNAME
expect "cnd CNAME: the CNAME only, no SOA" ok rcode=NOERROR +aa an=1 ns=0
q loop1.$Z
expect "CNAME loop: answered, AA" ok +aa
nodup "CNAME loop: no duplicated RRs"
n=$(nlines '^AN .* CNAME ')
if [ "$n" -ge 1 ] && [ "$n" -le 2 ]; then pass "CNAME loop: each CNAME at most once ($n)"; else fail "CNAME loop: each CNAME at most once" "$n CNAMEs"; fi
q self.$Z
expect "self-referencing CNAME: answered" ok +aa
count "self-referencing CNAME: one CNAME" '^AN self\..* CNAME ' 1
q l5.$Z
expect "7-CNAME chain: complete (7 CNAMEs + A)" ok rcode=NOERROR +aa an=8
has "7-CNAME chain: ends with l12 A" "^AN l12\.$Z\. 300 IN A 192\.0\.2\.112$"
q l1.$Z
expect "11-CNAME chain: answered, no crash" ok +aa
n=$(nlines '^AN .* CNAME ')
if [ "$n" -ge 1 ] && [ "$n" -le 8 ]; then pass "11-CNAME chain: at most 8 CNAMEs followed ($n)"; else fail "11-CNAME chain: at most 8 CNAMEs" "$n CNAMEs"; fi
nodup "11-CNAME chain: no duplicated RRs"
has "11-CNAME chain: starts at l1" "^AN l1\.$Z\. 300 IN CNAME l2\.$Z\.$"
q --tcp loop1.$Z --type TXT
expect "CNAME loop over TCP: answered" ok +aa
q cnsub.$Z
expect "CNAME into a delegation: answered, CNAME first" ok rcode=NOERROR
has "CNAME into a delegation: the CNAME in the answer" "^AN cnsub\.$Z\. 300 IN CNAME x\.sub\.$Z\.$"
hasnt "CNAME into a delegation: no occluded data" '192\.0\.2\.99'
alive "server alive after the CNAME checks"

echo "# wildcards (RFC 4592)"
q x.wild.$Z
expect "x.wild A: synthesized from *.wild, AA" ok rcode=NOERROR +aa an=1
has "x.wild A: owner is the QNAME" "^AN x\.wild\.$Z\. 300 IN A 192\.0\.2\.9$"
q FoO.WiLd.ExAmPlE.TeSt
expect "FoO.WiLd: synthesized" ok rcode=NOERROR +aa an=1 qname=FoO.WiLd.ExAmPlE.TeSt.
has "FoO.WiLd: owner = QNAME as asked (case kept)" '^AN FoO\.WiLd\.ExAmPlE\.TeSt\. 300 IN A 192\.0\.2\.9$'
q a.b.wild.$Z
expect "a.b.wild A: multi-label synthesis" ok rcode=NOERROR +aa an=1
has "a.b.wild A: owner is the QNAME" "^AN a\.b\.wild\.$Z\. 300 IN A 192\.0\.2\.9$"
q sub.wild.$Z
expect "sub.wild A: the existing name, not the wildcard" ok rcode=NOERROR +aa an=1
has "sub.wild A 192.0.2.10" "^AN sub\.wild\.$Z\. 300 IN A 192\.0\.2\.10$"
q sub.wild.$Z --type AAAA
expect "sub.wild AAAA: existing name blocks the wildcard -> NODATA" ok rcode=NOERROR +aa an=0
q x.sub.wild.$Z
expect "x.sub.wild: sub.wild exists, no *.sub.wild -> NXDOMAIN" ok rcode=NXDOMAIN +aa an=0
has "x.sub.wild NXDOMAIN: SOA" "$SOA_RE"
q ent.wild.$Z
expect "ent.wild (empty non-terminal) blocks the wildcard -> NODATA" ok rcode=NOERROR +aa an=0
has "ent.wild NODATA: SOA" "$SOA_RE"
q x.ent.wild.$Z
expect "x.ent.wild: closest encloser ent.wild has no wildcard -> NXDOMAIN" ok rcode=NXDOMAIN +aa an=0
q x.wild.$Z --type AAAA
expect "x.wild AAAA: wildcard NODATA" ok rcode=NOERROR +aa an=0
has "x.wild AAAA: SOA in authority" "$SOA_RE"
q '*.wild.'$Z
expect "literal *.wild A matches the wildcard node" ok rcode=NOERROR +aa an=1
has "literal *.wild A: owner *.wild" "^AN \*\.wild\.$Z\. 300 IN A 192\.0\.2\.9$"
q '*.wild.'$Z --type TXT
expect "literal *.wild TXT: NODATA" ok rcode=NOERROR +aa an=0
q wild.$Z
expect "wild (parent of the wildcard, empty non-terminal) -> NODATA" ok rcode=NOERROR +aa an=0
q x.wc.$Z
expect "wildcard CNAME: x.wc A -> synthesized CNAME + www A" ok rcode=NOERROR +aa an=3
expect_eq "wildcard CNAME: CNAME owned by the QNAME, then the target" "$(an_list | tr '\n' '|')" \
    "x.wc.$Z. CNAME www.$Z.|www.$Z. A 192.0.2.1|www.$Z. A 192.0.2.2|"
q deep.x.wc.$Z --type CNAME
expect "wildcard CNAME, qtype CNAME: only the synthesized CNAME" ok rcode=NOERROR +aa an=1
has "wildcard CNAME, qtype CNAME: owner = QNAME" "^AN deep\.x\.wc\.$Z\. 300 IN CNAME www\.$Z\.$"
q y.wc.$Z --type TXT
expect "wildcard CNAME to NODATA: CNAME + SOA" ok rcode=NOERROR +aa an=1
has "wildcard CNAME to NODATA: SOA" "$SOA_RE"
q y.dw.$Z
expect "*.dw: y.dw synthesized" ok rcode=NOERROR +aa an=1
has "y.dw A 192.0.2.77" "^AN y\.dw\.$Z\. 300 IN A 192\.0\.2\.77$"
q x.cut.dw.$Z
expect "x.cut.dw: below the delegation cut.dw -> referral, not the wildcard" ok rcode=NOERROR -aa an=0
has "x.cut.dw: NS cut.dw in authority" "^NS cut\.dw\.$Z\. 300 IN NS ns\.cut\.dw\.$Z\.$"
hasnt "x.cut.dw: no wildcard data" '192\.0\.2\.77'
q --tcp x.wild.$Z
expect "wildcard over TCP" ok rcode=NOERROR +aa an=1

echo "# dig"
dg @127.0.0.1 alias.$Z A
if printf '%s\n' "$R" | grep -q 'status: NOERROR' && printf '%s\n' "$R" | grep -Eq "^alias\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+CNAME[[:space:]]+www\.$Z\.$" &&
    printf '%s\n' "$R" | grep -Eq "^www\.$Z\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$"; then
    pass "dig alias A: CNAME and target A"
else
    fail "dig alias A: CNAME and target A" "$R"
fi
dg @127.0.0.1 zzz.wild.$Z A
has "dig zzz.wild A: synthesized" "^zzz\.wild\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.9$"

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
