#!/usr/bin/env bash
# dns_basics: header bits, 0x20 echo, exact answers per type, NODATA/NXDOMAIN/ENT with the
# negative SOA TTL, REFUSED, NOTIMP, meta qtypes, ANY, several zones, compression, SIGTERM.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
SOA_RE="^NS $Z\. $NEG_TTL IN SOA ns1\.$Z\. hostmaster\.$Z\. 2026112501 3600 600 604800 60$"

echo "# header"
q --id 4660 --rd --cd www.$Z
expect "header: ID and opcode copied, QR=1, RD and CD copied, RA=0, Z=0, AD=0" \
    ok id=4660 id_match=1 opcode=QUERY rcode=NOERROR +qr +aa +rd +cd -ra -z -ad -tc
q --id 1 www.$Z
expect "header: RD and CD clear when clear in the query" ok id=1 +qr +aa -rd -cd -ra
q --ad --z www.$Z
expect "header: AD and Z set in the query -> AD=0, Z=0 in the reply, still answered" \
    ok rcode=NOERROR an=2 -ad -z
q --tc www.$Z
expect "header: TC set in a query is not copied" ok rcode=NOERROR an=2 -tc

echo "# 0x20: question echoed byte for byte, matching case-insensitive"
q --hex WwW.ExAmPlE.TeSt
expect "mixed-case query answered" ok rcode=NOERROR +aa an=2 qname=WwW.ExAmPlE.TeSt.
# Bytes 12.. of the reply: 3 WwW 7 ExAmPlE 4 TeSt 0, type 1, class 1.
has "question bytes echoed exactly (case kept)" '^RAW .{24}03577757074578416d506c4504546553740000010001'
has "mixed-case query gets the www A data" ' IN A 192\.0\.2\.1$'
q WWW.EXAMPLE.TEST --type aaaa
expect "upper-case AAAA query answered" ok rcode=NOERROR +aa an=1 qname=WWW.EXAMPLE.TEST.

echo "# exact matches"
q www.$Z
expect "www A: NOERROR AA, 2 records" ok rcode=NOERROR +aa an=2
has "www A 192.0.2.1 with the name's TTL 60" "^AN www\.$Z\. 60 IN A 192\.0\.2\.1$"
has "www A 192.0.2.2 with the name's TTL 60" "^AN www\.$Z\. 60 IN A 192\.0\.2\.2$"
q www.$Z --type AAAA
expect "www AAAA" ok rcode=NOERROR +aa an=1
has "www AAAA 2001:db8::1 TTL 60" "^AN www\.$Z\. 60 IN AAAA 2001:db8::1$"
q $Z --type MX
expect "apex MX" ok rcode=NOERROR +aa an=2
has "apex MX 10 mail (relative name expanded)" "^AN $Z\. 300 IN MX 10 mail\.$Z\.$"
has "apex MX 20 mail2" "^AN $Z\. 300 IN MX 20 mail2\.$Z\.$"
q $Z --type TXT
expect "apex TXT" ok rcode=NOERROR +aa an=1
# The YAML scalar v=spf1 -all is presentation format without quotes: two character-strings.
has "apex TXT v=spf1 -all (presentation format: two strings)" "^AN $Z\. 300 IN TXT \"v=spf1\" \"-all\"$"
q $Z --type NS
expect "apex NS" ok rcode=NOERROR +aa an=2
has "apex NS ns1 (relative)" "^AN $Z\. 300 IN NS ns1\.$Z\.$"
has "apex NS ns2 (absolute)" "^AN $Z\. 300 IN NS ns2\.$Z\.$"
q $Z --type SOA
expect "apex SOA" ok rcode=NOERROR +aa an=1
has "apex SOA fields and its own TTL 3600" \
    "^AN $Z\. 3600 IN SOA ns1\.$Z\. hostmaster\.$Z\. 2026112501 3600 600 604800 60$"
q txt.$Z --type TXT
expect "txt TXT (per-RRset TTL form)" ok rcode=NOERROR +aa an=2
has "txt TXT \"hello world\" TTL 30" "^AN txt\.$Z\. 30 IN TXT \"hello world\"$"
has "txt TXT \"a\" \"b\" (two strings) TTL 30" "^AN txt\.$Z\. 30 IN TXT \"a\" \"b\"$"
q _sip._udp.$Z --type SRV
expect "SRV" ok rcode=NOERROR +aa an=1
has "SRV 10 5 5060 sip" "^AN _sip\._udp\.$Z\. 300 IN SRV 10 5 5060 sip\.$Z\.$"
q caa.$Z --type CAA
expect "CAA" ok rcode=NOERROR +aa an=1
has "CAA 0 issue \"ca.example\"" "^AN caa\.$Z\. 300 IN CAA 0 issue \"ca\.example\"$"
q ptr.$Z --type PTR
expect "PTR" ok rcode=NOERROR +aa an=1
has "PTR www" "^AN ptr\.$Z\. 300 IN PTR www\.$Z\.$"
q unk.$Z --type TYPE65280
expect "unknown type TYPE65280 (RFC 3597 data)" ok rcode=NOERROR +aa an=1
has "TYPE65280 \\# 4 0a000001" "^AN unk\.$Z\. 300 IN TYPE65280 \\\\# 4 0a000001$"
q ns1.$Z --type AAAA
expect "ns1 AAAA" ok rcode=NOERROR +aa an=1
has "ns1 AAAA ::1" "^AN ns1\.$Z\. 300 IN AAAA ::1$"

echo "# negative answers (RFC 2308)"
q www.$Z --type TXT
expect "NODATA: name exists, type doesn't -> NOERROR, AA, empty answer" ok rcode=NOERROR +aa an=0
has "NODATA: SOA in authority with TTL min(3600, 60) = 60" "$SOA_RE"
q nx.$Z
expect "NXDOMAIN: AA, empty answer" ok rcode=NXDOMAIN +aa an=0
has "NXDOMAIN: SOA in authority with TTL 60" "$SOA_RE"
q a.b.nx.$Z --type MX
expect "NXDOMAIN below a missing name" ok rcode=NXDOMAIN +aa an=0
has "NXDOMAIN below a missing name: SOA" "$SOA_RE"
q a.b.c.$Z
expect "a.b.c A (name with empty non-terminals above)" ok rcode=NOERROR +aa an=1
q b.c.$Z
expect "empty non-terminal b.c -> NODATA, never NXDOMAIN" ok rcode=NOERROR +aa an=0
has "empty non-terminal b.c: SOA" "$SOA_RE"
q c.$Z --type AAAA
expect "empty non-terminal c -> NODATA" ok rcode=NOERROR +aa an=0
has "empty non-terminal c: SOA" "$SOA_RE"
q nx.sub2.$Z
expect "NXDOMAIN in the child zone sub2" ok rcode=NXDOMAIN +aa an=0
has "child zone: negative SOA TTL min(600, 30) = 30" "^NS sub2\.$Z\. 30 IN SOA ns1\.sub2\.$Z\. "

echo "# several zones, most specific wins"
q www.other.test
expect "zone from zone_dir: www.other.test" ok rcode=NOERROR +aa an=1
has "www.other.test A 198.51.100.1 TTL 120" '^AN www\.other\.test\. 120 IN A 198\.51\.100\.1$'
q www.sub2.$Z
expect "child zone sub2 answers authoritatively (not the parent's referral)" \
    ok rcode=NOERROR +aa an=1
has "www.sub2 A from the child zone" "^AN www\.sub2\.$Z\. 300 IN A 192\.0\.2\.61$"
q sub2.$Z --type SOA
expect "sub2 SOA from the child zone" ok rcode=NOERROR +aa an=1
has "sub2 SOA serial 7" "^AN sub2\.$Z\. 600 IN SOA .* 7 3600 600 604800 30$"
q sub2.$Z --type TXT
has "sub2 TXT from the child zone" "^AN sub2\.$Z\. 300 IN TXT \"child\" \"zone\"$"

echo "# REFUSED"
for n in example.org test www.example.org. example.test.example.org; do
    q $n
    expect "name in no zone ($n) -> REFUSED, no referral" ok rcode=REFUSED -aa an=0 ns=0
done
q . --type NS
expect "root NS -> REFUSED (no referral to root)" ok rcode=REFUSED an=0 ns=0
for c in CH HS ANY CLASS42; do
    q www.$Z --class $c
    expect "class $c -> REFUSED" ok rcode=REFUSED an=0
done
q version.bind --class CH --type TXT
expect "version.bind CH TXT -> REFUSED" ok rcode=REFUSED an=0
q --tcp $Z --type AXFR
expect "AXFR over TCP -> REFUSED (not supported yet)" ok rcode=REFUSED an=0
q --tcp $Z --type IXFR
expect "IXFR over TCP -> REFUSED" ok rcode=REFUSED an=0
q $Z --type AXFR
expect "AXFR over UDP -> REFUSED" ok rcode=REFUSED an=0

echo "# opcodes"
for op in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    q --opcode $op --rd --cd www.$Z
    expect "opcode $op -> NOTIMP, AA=0, opcode copied" rcode=NOTIMP -aa +qr
    o=$(sum opcode)
    case $op in 1) w=IQUERY ;; 2) w=STATUS ;; 4) w=NOTIFY ;; 5) w=UPDATE ;; *) w=OPCODE$op ;; esac
    expect_eq "opcode $op copied into the reply" "$o" "$w"
done
q --opcode 4 --aa $Z --type SOA
expect "NOTIFY with AA set -> NOTIMP, AA not invented" rcode=NOTIMP -aa -ad
alive "server alive after all opcodes"

echo "# meta and unknown qtypes (RFC 8906: never dropped)"
for t in TYPE0 OPT RRSIG MAILA MAILB TYPE666 TYPE65280 TYPE65535 NSEC DS; do
    q www.$Z --type $t
    expect "qtype $t at www -> NODATA, AA" ok rcode=NOERROR +aa an=0
    has "qtype $t at www: SOA in authority" "$SOA_RE"
done

echo "# ANY (RFC 8482)"
q www.$Z --type ANY
expect "ANY over UDP: NOERROR, AA, not empty" ok rcode=NOERROR +aa
n=$(nlines '^AN ')
types=$(printf '%s\n' "$R" | sed -n 's/^AN \([^ ]*\) [0-9]* IN \([^ ]*\) .*/\1 \2/p' | sort -u | wc -l)
if [ "$n" -ge 1 ] && [ "$types" = 1 ]; then
    pass "ANY over UDP: exactly one RRset ($n records)"
else
    fail "ANY over UDP: exactly one RRset" "$n records in $types RRsets:
$R"
fi
q --tcp www.$Z --type ANY
expect "ANY over TCP: all RRsets of www" ok rcode=NOERROR +aa an=3
has "ANY over TCP: A" "^AN www\.$Z\. 60 IN A 192\.0\.2\.1$"
has "ANY over TCP: AAAA" "^AN www\.$Z\. 60 IN AAAA 2001:db8::1$"
q --tcp $Z --type ANY
for t in SOA NS MX TXT; do
    has "ANY over TCP at the apex: $t" "^AN $Z\. [0-9]+ IN $t "
done
q nx.$Z --type ANY
expect "ANY for a missing name -> NXDOMAIN" ok rcode=NXDOMAIN +aa an=0

echo "# EDNS presence"
q --noedns www.$Z
expect "no OPT in the query" ok rcode=NOERROR an=2 ar=0
hasnt "no OPT in the query -> no OPT in the reply" '^OPT'
q www.$Z
has "OPT in the query -> OPT in the reply, udp 1232, version 0" '^OPT udp=1232 version=0 '

echo "# compression"
q $Z --type MX
pt=$(printf '%s\n' "$R" | sed -n 's/^WIRE .* ptrs=\([0-9]*\) .*/\1/p')
bp=$(printf '%s\n' "$R" | sed -n 's/^WIRE .* badptrs=\([0-9]*\) .*/\1/p')
if [ "${pt:-0}" -ge 3 ] && [ "$bp" = 0 ]; then
    pass "MX answer uses name compression ($pt pointers), all backwards and past the header"
else
    fail "MX answer uses compression, pointers only backwards" "ptrs=$pt badptrs=$bp"
fi
size=$(sum size)
unc=$(printf '%s\n' "$R" | sed -n 's/^WIRE .* uncompressed=\([0-9]*\).*/\1/p')
if [ -n "$size" ] && [ -n "$unc" ] && [ "$size" -lt "$unc" ]; then
    pass "MX reply ($size bytes) is smaller than uncompressed ($unc bytes)"
else
    fail "MX reply smaller than uncompressed" "size=$size uncompressed=$unc"
fi
q --tcp $Z --type ANY
expect "ANY over TCP at the apex: counts match content, pointers backwards" ok

echo "# dig and kdig"
dg @127.0.0.1 www.$Z A
if printf '%s\n' "$R" | grep -q 'status: NOERROR' && printf '%s\n' "$R" | grep -q 'flags: qr aa;' &&
    printf '%s\n' "$R" | grep -Eq "^www\.$Z\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.2$"; then
    pass "dig www A: NOERROR, flags qr aa, 192.0.2.2"
else
    fail "dig www A" "$R"
fi
dg @127.0.0.1 nx.$Z A
has "dig nx: NXDOMAIN" 'status: NXDOMAIN'
dg @127.0.0.1 www.example.org A
has "dig out-of-zone: REFUSED" 'status: REFUSED'
kd @127.0.0.1 $Z MX
has "kdig apex MX: NOERROR" 'status: NOERROR'
has "kdig apex MX: 10 mail" "MX[[:space:]]+10 mail\.$Z\."
kd @127.0.0.1 +tcp www.$Z AAAA
has "kdig over TCP: www AAAA" "AAAA[[:space:]]+2001:db8::1"
R=$(timeout 10 drill -p "$PORT" @127.0.0.1 www.$Z A 2>&1)
has "drill www A" "192\.0\.2\.1"

echo "# the test tool only talks to loopback"
R=$("$DNSQ" --server 192.0.2.1 --port "$PORT" www.$Z 2>&1)
RC=$?
if [ "$RC" = 1 ] && printf '%s\n' "$R" | grep -q 'refusing non-loopback'; then
    pass "dnsq refuses a non-loopback server (nothing sent)"
else
    fail "dnsq refuses a non-loopback server" "rc=$RC $R"
fi

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0

echo "# workers: 0 (one per core)"
sed 's/^workers: .*/workers: 0/' "$DATA/geodnsd.yaml" >"$DATA/workers0.yaml"
if dns_start "$DATA/workers0.yaml"; then
    q www.$Z
    expect "workers 0: UDP answered" ok rcode=NOERROR +aa an=2
    q --tcp www.$Z
    expect "workers 0: TCP answered" ok rcode=NOERROR +aa an=2
    dns_stop
    expect_eq "workers 0: SIGTERM exit status 0" "$STOP_STATUS" 0
fi
finish
