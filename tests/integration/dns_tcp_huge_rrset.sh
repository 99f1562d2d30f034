#!/usr/bin/env bash
# dns_tcp_huge_rrset: an answer that does not fit in the largest TCP message (an RRset of more
# than 64 KiB) never comes with TC over TCP, which would send the client to TCP where it already
# is: it is SERVFAIL (also through a CNAME to it), while UDP still gets TC; ANY over TCP at a
# name holding such an RRset answers the RRsets that fit. The load warns about such an RRset.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
{
    echo "zone: huge.test"
    echo "soa: {primary: ns1, contact: h@huge.test, serial: 1}"
    echo "ns: [ns1]"
    echo "records:"
    echo "  ns1: {A: 127.0.0.1}"
    echo "  huge:"
    echo "    A: 192.0.2.1"
    echo "    TXT:"
    for i in $(seq -w 1 400); do
        printf '      - "%s%0200d"\n' "$i" 0
    done
    echo "  alias: {CNAME: huge}"
} >"$DATA/huge.test.yaml"
sed -i 's/^zones: \[/zones: [huge.test.yaml, /' "$DATA/geodnsd.yaml"
dns_start "$DATA/geodnsd.yaml" || finish
has_log "the load warns about the RRset no message can hold, naming its file and line" \
    'huge\.test\.yaml:9:9: huge\.huge\.test\.: its 400 TXT records take at least [0-9]+ bytes, more than a DNS message holds'

q huge.huge.test --type TXT --tcp
expect "TXT RRset over 64 KiB over TCP: SERVFAIL, no TC, no AA" rcode=SERVFAIL -tc -aa an=0
q alias.huge.test --type TXT --tcp
expect "CNAME to it over TCP: SERVFAIL, no TC, no AA" rcode=SERVFAIL -tc -aa an=0
q huge.huge.test --type TXT
expect "the same over UDP: TC" rcode=NOERROR +tc an=0
q huge.huge.test --type ANY --tcp
expect "ANY over TCP: the RRsets that fit (the A), no TC" rcode=NOERROR -tc an=1
q huge.huge.test --type A --tcp
expect "A at that name over TCP: answered" ok rcode=NOERROR -tc an=1
finish
