#!/usr/bin/env bash
# dns_edns_ecs: EDNS (RFC 6891/3225/8906): OPT presence on every rcode, BADVERS, DO, unknown
# flags and options, UDP size; ECS (RFC 7871) echo and malformed ECS; COOKIE lengths; NSID;
# edns-tcp-keepalive (RFC 7828).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
OPT_RE='^OPT udp=1232 version=0 '

echo "# OPT in the reply"
q www.$Z
expect "EDNS query: answered" ok rcode=NOERROR +aa an=2
has "EDNS query: OPT udp=1232 version=0 extrcode=0" "${OPT_RE}do=0 extrcode=0 "
q nx.$Z
expect "NXDOMAIN with EDNS" ok rcode=NXDOMAIN
has "NXDOMAIN: OPT in the reply" "$OPT_RE"
q www.$Z --type TXT
has "NODATA: OPT in the reply" "$OPT_RE"
q www.example.org
expect "REFUSED with EDNS" ok rcode=REFUSED
has "REFUSED: OPT in the reply" "$OPT_RE"
q --opcode 5 www.$Z
expect "NOTIMP (UPDATE) with EDNS" rcode=NOTIMP
has "NOTIMP: OPT in the reply" "$OPT_RE"
q x.sub.$Z
has "referral: OPT in the reply" "$OPT_RE"
q --noedns nx.$Z
hasnt "no EDNS, NXDOMAIN: no OPT" '^OPT'
for b in 512 4096 65535; do
    q --bufsize $b www.$Z
    has "client udp $b: we advertise 1232" "$OPT_RE"
done

echo "# BADVERS (RFC 6891 6.1.3)"
for v in 1 255; do
    q --edns-version $v www.$Z
    expect "EDNS version $v: header rcode 0, no answer" ok rcode=NOERROR an=0
    has "EDNS version $v: BADVERS (OPT extrcode 1 -> 16), OPT version 0" "${OPT_RE}do=0 extrcode=1 "
done
q --edns-version 1 --do www.$Z
has "BADVERS keeps the DO bit" "${OPT_RE}do=1 extrcode=1 "
q --edns-version 1 nx.$Z
expect "BADVERS for a missing name: no NXDOMAIN, no records" ok rcode=NOERROR an=0
has "BADVERS for a missing name: extrcode 1" "${OPT_RE}.*extrcode=1 "

echo "# DO, unknown flags, unknown options"
q --do www.$Z
expect "DO=1 query answered" ok rcode=NOERROR an=2
has "DO bit copied" "${OPT_RE}do=1 extrcode=0 flags=0x8000$"
q www.$Z
has "DO clear stays clear" "${OPT_RE}do=0 extrcode=0 flags=0x0000$"
q --ednsflags 0x7fff www.$Z
expect "unknown EDNS flags: answered" ok rcode=NOERROR an=2
has "unknown EDNS flags cleared in the reply" "${OPT_RE}do=0 extrcode=0 flags=0x0000$"
q --do --ednsflags 0x0001 www.$Z
has "unknown flag cleared, DO kept" "flags=0x8000$"
q --opt 65001:deadbeef --opt 20:00 www.$Z
expect "unknown options: answered normally" ok rcode=NOERROR +aa an=2
hasnt "unknown options not echoed" '^OPT-CODE code=(65001|20) '
q --opt 65001: www.$Z
expect "empty unknown option: answered" ok rcode=NOERROR an=2
hasnt "empty unknown option not echoed" '^OPT-CODE code=65001 '
q --extrcode 5 www.$Z
expect "non-zero extended rcode bits in a query: answered" ok rcode=NOERROR an=2
has "reply extrcode 0" "${OPT_RE}do=0 extrcode=0 "

echo "# UDP payload size"
for b in 0 100 511; do
    q --bufsize $b l5.$Z
    expect "client udp $b treated as 512: 7-CNAME chain (> $b bytes) not truncated" ok rcode=NOERROR -tc an=8
done
q --bufsize 600 mid.$Z
expect "client udp 600, 674-byte answer: TC=1" rcode=NOERROR +tc
s=$(sum size); [ -n "$s" ] && [ "$s" -le 600 ] && pass "client udp 600: reply <= 600 ($s)" || fail "client udp 600: reply <= 600" "size=$s"
q --bufsize 4096 many.$Z
expect "client udp 4096, 1600-byte answer: TC=1 (our limit 1232)" rcode=NOERROR +tc
s=$(sum size); [ -n "$s" ] && [ "$s" -le 1232 ] && pass "client udp 4096: reply <= 1232 ($s)" || fail "client udp 4096: reply <= 1232" "size=$s"

echo "# ECS (RFC 7871)"
q --ecs 192.0.2.1/24 www.$Z
expect "ECS IPv4 /24: answered" ok rcode=NOERROR +aa an=2
has "ECS IPv4 /24: echoed, scope 0" '^OPT-ECS family=1 source=24 scope=0 addr=192\.0\.2\.0 addrhex=c00002$'
q --ecs 198.51.100.77/32 www.$Z
has "ECS IPv4 /32: echoed, scope 0" '^OPT-ECS family=1 source=32 scope=0 addr=198\.51\.100\.77 addrhex=c633644d$'
q --ecs 192.0.2.128/25 www.$Z
has "ECS IPv4 /25: echoed" '^OPT-ECS family=1 source=25 scope=0 addrhex=c0000280$|^OPT-ECS family=1 source=25 scope=0 addr=192\.0\.2\.128 addrhex=c0000280$'
q --ecs 2001:db8:1::/48 www.$Z
expect "ECS IPv6 /48: answered" ok rcode=NOERROR an=2
has "ECS IPv6 /48: echoed, scope 0" '^OPT-ECS family=2 source=48 scope=0 addr=2001:db8:1:: addrhex=20010db80001$'
q --ecs 0.0.0.0/0 www.$Z
expect "ECS /0 (client opted out): answered" ok rcode=NOERROR an=2
has "ECS /0: echoed with scope 0, no address" '^OPT-ECS family=1 source=0 scope=0 .*addrhex=$'
q --ecs 192.0.2.0/24/16 www.$Z
expect "ECS with non-zero SCOPE in the query: accepted" ok rcode=NOERROR +aa an=2
has "ECS with non-zero query scope: static answer gets scope 0" '^OPT-ECS family=1 source=24 scope=0 '
q --ecs 192.0.2.1/24 nx.$Z
expect "ECS on NXDOMAIN: answered" ok rcode=NXDOMAIN
has "ECS on NXDOMAIN: echoed with scope 0" '^OPT-ECS family=1 source=24 scope=0 '
q --tcp --ecs 192.0.2.1/24 www.$Z
has "ECS over TCP: echoed, scope 0" '^OPT-ECS family=1 source=24 scope=0 addr=192\.0\.2\.0 '
q www.$Z
hasnt "no ECS in the query: none in the reply" '^OPT-ECS'
# Malformed ECS payloads: FAMILY(2) SOURCE(1) SCOPE(1) ADDRESS.
for c in "family 3:00031800c00002" "family 0:00001800c00002" \
    "IPv4 source 33:00012100c000020100" "IPv6 source 129:00028100$(printf '20%.0s' $(seq 1 17))" \
    "address longer than the /24 needs:00011800c0000200" "address shorter than the /24 needs:00011800c000" \
    "bits set beyond the /20:00011400c0000f" "bits set beyond the /0:00010000c0" \
    "truncated (3 bytes):000118" "empty:"; do
    q --ecs-raw "${c#*:}" www.$Z
    expect "malformed ECS (${c%%:*}): FORMERR" rcode=FORMERR an=0
done
alive "server alive after malformed ECS"

echo "# COOKIE (RFC 7873)"
q --opt 10:0102030405060708 www.$Z
expect "client cookie (8 bytes): answered normally" ok rcode=NOERROR +aa an=2
q --opt 10:0102030405060708090a0b0c0d0e0f10 www.$Z
expect "client + 8-byte server cookie (16 bytes): answered" ok +aa an=2
q --opt 10:$(printf '%02x' $(seq 1 40)) www.$Z
expect "40-byte cookie: answered" ok +aa an=2
for l in 0 1 7 9 15 41; do
    hex=$(printf '%02x' $(seq 1 $l) 2>/dev/null)
    [ "$l" = 0 ] && hex=""
    q --opt 10:$hex www.$Z
    expect "COOKIE of length $l: FORMERR" rcode=FORMERR an=0
done

echo "# NSID (RFC 5001)"
q --opt 3: www.$Z
expect "NSID requested: answered" ok rcode=NOERROR an=2
has "NSID requested: test-ns-1 returned" '^OPT-NSID len=9 hex=746573742d6e732d31 '
q www.$Z
hasnt "NSID not requested: not returned" '^OPT-NSID'
dg @127.0.0.1 +nsid www.$Z A
has "dig +nsid shows test-ns-1" 'NSID: .*test-ns-1'

echo "# edns-tcp-keepalive (RFC 7828), idle_timeout 2s"
q --opt 11: www.$Z
expect "UDP query with keepalive: answered" ok rcode=NOERROR an=2
hasnt "UDP: no keepalive in the reply" '^OPT-KEEPALIVE'
q --tcp --opt 11: www.$Z
expect "TCP query with empty keepalive: answered" ok rcode=NOERROR an=2
has "TCP: keepalive TIMEOUT 20 (2 s in 100 ms units)" '^OPT-KEEPALIVE timeout=20$'
q --tcp --opt 11:0064 www.$Z
expect "TCP query carrying a keepalive TIMEOUT: FORMERR" rcode=FORMERR
kd @127.0.0.1 +tcp +keepalive www.$Z A
has "kdig +tcp +keepalive: keepalive in the reply" '[Kk][Ee][Ee][Pp][Aa][Ll][Ii][Vv][Ee]'
alive "server alive"

echo "# NSID not configured"
dns_stop
grep -v '^nsid:' "$DATA/geodnsd.yaml" >"$DATA/nonsid.yaml"
dns_start "$DATA/nonsid.yaml" || finish
q --opt 3: www.$Z
expect "NSID requested, none configured: answered" ok rcode=NOERROR an=2
hasnt "NSID requested, none configured: no NSID" '^OPT-NSID'
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
