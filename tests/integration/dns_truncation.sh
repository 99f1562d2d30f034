#!/usr/bin/env bash
# dns_truncation: UDP answers over the limit (1232 with EDNS, 512 without) get TC=1 with header,
# question and OPT only; the same query over TCP gets everything; dig retries over TCP.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test

# truncated DESC LIMIT DNSQ-ARGS...: TC=1, question echoed, no records, size <= LIMIT.
truncated() {
    local desc=$1 limit=$2 s
    shift 2
    q "$@"
    expect "$desc: TC=1, AA, no records, question echoed" ok rcode=NOERROR +tc +aa qd=1 an=0 ns=0
    s=$(sum size)
    if [ -n "$s" ] && [ "$s" -le "$limit" ]; then
        pass "$desc: reply size $s <= $limit"
    else
        fail "$desc: reply size <= $limit" "size=$s"
    fi
}

truncated "many A (1600 bytes), EDNS 1232" 1232 many.$Z
has "many A, EDNS: OPT kept in the truncated reply" '^OPT udp=1232 version=0 '
expect_eq "many A, EDNS: additional holds only the OPT" "$(sum ar)" 1
truncated "many A, no EDNS" 512 --noedns many.$Z
expect_eq "many A, no EDNS: no OPT" "$(sum ar)" 0
truncated "bigtxt TXT (1578 bytes), EDNS 1232" 1232 bigtxt.$Z --type TXT
truncated "bigtxt TXT, no EDNS" 512 --noedns bigtxt.$Z --type TXT
truncated "mid A (674 bytes), no EDNS" 512 --noedns mid.$Z
truncated "mid A, EDNS 512" 512 --bufsize 512 mid.$Z
truncated "many A, EDNS 65535 (capped at our 1232)" 1232 --bufsize 65535 many.$Z
truncated "many ANY over UDP" 1232 many.$Z --type ANY
q --id 999 MaNy.ExAmPlE.TeSt
expect "truncated reply echoes the question exactly" +tc qname=MaNy.ExAmPlE.TeSt. id=999

q mid.$Z
expect "mid A (674 bytes) fits EDNS 1232: complete, TC=0" ok rcode=NOERROR -tc an=40
s=$(sum size); [ "$s" -le 1232 ] && pass "mid A: size $s <= 1232" || fail "mid A: size <= 1232" "size=$s"
q --bufsize 700 mid.$Z
expect "mid A with client size 700: complete" ok rcode=NOERROR -tc an=40

echo "# the same over TCP: complete, TC never set"
q --tcp many.$Z
expect "many A over TCP" ok rcode=NOERROR -tc +aa an=100
q --tcp --noedns bigtxt.$Z --type TXT
expect "bigtxt TXT over TCP without EDNS" ok rcode=NOERROR -tc +aa an=6
q --tcp --noedns mid.$Z
expect "mid A over TCP without EDNS" ok rcode=NOERROR -tc an=40
q --tcp --bufsize 512 many.$Z --type ANY
expect "many ANY over TCP" ok rcode=NOERROR -tc an=100

echo "# dig default behaviour: truncated over UDP, retried over TCP"
dg @127.0.0.1 many.$Z A
has "dig many A: notices the truncation" 'Truncated, retrying in TCP mode'
expect_eq "dig many A: full answer after the TCP retry (100 A)" \
    "$(printf '%s\n' "$R" | grep -Ec "^many\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]")" 100
dg @127.0.0.1 +noedns bigtxt.$Z TXT
expect_eq "dig +noedns bigtxt TXT: 6 TXT after the TCP retry" \
    "$(printf '%s\n' "$R" | grep -Ec "^bigtxt\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+TXT[[:space:]]")" 6
dg @127.0.0.1 +ignore many.$Z A
has "dig +ignore many A: tc flag set" 'flags: qr aa tc;'
kd @127.0.0.1 +notcp +ignore many.$Z A
has "kdig +ignore many A: TC flag" "[Ff]lags: qr aa tc;"

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
