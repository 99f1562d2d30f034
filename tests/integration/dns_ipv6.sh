#!/usr/bin/env bash
# dns_ipv6: the same answers over [::1], UDP and TCP.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
if ! python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    skip "all IPv6 checks" "no ::1 on this machine"
    finish
fi
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
for tr in udp tcp; do
    T=""
    [ $tr = tcp ] && T=--tcp
    q --server ::1 $T --id 606 --rd WwW.ExAmPlE.TeSt
    expect "[::1] $tr: www A" ok rcode=NOERROR +aa +rd id=606 an=2 qname=WwW.ExAmPlE.TeSt.
    has "[::1] $tr: www A 192.0.2.1" ' IN A 192\.0\.2\.1$'
    q --server ::1 $T www.$Z --type AAAA
    expect "[::1] $tr: www AAAA" ok rcode=NOERROR +aa an=1
    q --server ::1 $T nx.$Z
    expect "[::1] $tr: NXDOMAIN" ok rcode=NXDOMAIN +aa
    has "[::1] $tr: NXDOMAIN SOA" "^NS $Z\. 60 IN SOA "
    q --server ::1 $T x.sub.$Z
    expect "[::1] $tr: referral" ok rcode=NOERROR -aa ns=2
    q --server ::1 $T alias.$Z
    expect "[::1] $tr: CNAME chain" ok rcode=NOERROR +aa an=3
    q --server ::1 $T www.example.org
    expect "[::1] $tr: REFUSED" ok rcode=REFUSED
    q --server ::1 $T --ecs 2001:db8::/56 www.$Z
    has "[::1] $tr: ECS echoed" '^OPT-ECS family=2 source=56 scope=0 '
done
q --server ::1 many.$Z
expect "[::1] udp: many A truncated" ok +tc an=0
q --server ::1 --tcp many.$Z
expect "[::1] tcp: many A complete" ok -tc an=100
q --server ::1 --tcp --pipeline 5 www.$Z
has "[::1] tcp: pipelined queries answered" '^answered=5/5$'
q --server ::1 --qr --timeout 1000 www.$Z
[ "$RC" = 2 ] && pass "[::1] udp: QR=1 -> no reply" || fail "[::1] udp: QR=1 -> no reply" "$R"
dg -6 @::1 www.$Z AAAA
has "dig -6 @::1 www AAAA" "^www\.$Z\.[[:space:]]+60[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+2001:db8::1$"
kd @::1 +tcp www.$Z A
has "kdig @::1 +tcp www A" "192\.0\.2\.2"

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
