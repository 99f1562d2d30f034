#!/usr/bin/env bash
# dns_udp_mtu: UDP replies go out with Don't Fragment (RFC 9715): a reply larger than the
# outgoing link's MTU is never fragmented; it is sent truncated (TC=1, header, question, OPT)
# so the client retries over TCP, and counted; the reply to a TSIG-signed query is answered again
# within 1232 bytes, truncated and signed. Runs in a network namespace of its own whose
# loopback has an MTU of 1280 (like a tunnel), with an advertised EDNS size of 4096.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"

if [ -z "${DNS_MTU_NS:-}" ]; then
    # Re-run inside a fresh network namespace: its own loopback, nothing else reachable.
    command -v unshare >/dev/null || { skip "unshare (util-linux) not installed"; finish; }
    if ! unshare -n true 2>/dev/null; then
        skip "cannot create a network namespace here (needs root or user namespaces)"
        finish
    fi
    DNS_MTU_NS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo mtu 1280 up || die "cannot set the namespace's loopback MTU"
expect_eq "namespace loopback MTU" "$(ip -o link show lo | sed -n "s/.* mtu \([0-9]*\) .*/\1/p")" 1280

dns_init
sed -i 's/^edns: .*/edns: {udp_size: 4096}/' "$DATA/geodnsd.yaml"
SECRET=$(head -c 32 /dev/urandom | base64)
printf 'tsig_keys:\n  mtu-key: {algorithm: hmac-sha256, secret: "%s"}\n' "$SECRET" >>"$DATA/geodnsd.yaml"
MPORT=$(free_port)
dns_start "$DATA/geodnsd.yaml" --metrics "127.0.0.1:$MPORT" || finish
Z=example.test

mtu_truncated() {
    curl -sS --max-time $((10 * DNS_SLOW)) "http://127.0.0.1:$MPORT/metrics" |
        awk '$1 == "geodnsd_responses_mtu_truncated_total" {print $2}'
}
expect_eq "no reply cut yet" "$(mtu_truncated)" 0

for addr in 127.0.0.1 ::1; do
    # many A: 1,600 bytes, over 1280 minus the IP and UDP headers, under the client's 4096.
    q --server "$addr" --bufsize 4096 many.$Z
    expect "$addr many A (1600 bytes) over a 1280 link: TC=1, no records, question echoed" \
        ok rcode=NOERROR +tc +aa qd=1 an=0 ns=0
    has "$addr many A: the OPT stays in the cut reply" '^OPT udp=4096 version=0 '
    q --server "$addr" --bufsize 4096 bigtxt.$Z --type TXT
    expect "$addr bigtxt TXT (1578 bytes): TC=1" ok rcode=NOERROR +tc an=0
    # mid A: 674 bytes, fits the link: complete and not truncated.
    q --server "$addr" --bufsize 4096 mid.$Z
    expect "$addr mid A (674 bytes) fits the link: complete" ok rcode=NOERROR -tc an=40
    # The client retries over TCP and gets everything.
    q --server "$addr" --tcp many.$Z
    expect "$addr many A over TCP: complete" ok rcode=NOERROR -tc an=100
done
expect_eq "four replies cut for the MTU, counted" "$(mtu_truncated)" 4

dg @127.0.0.1 +bufsize=4096 many.$Z A
has "dig many A: notices the truncation and retries over TCP" 'Truncated, retrying in TCP mode'
expect_eq "dig many A: 100 A after the retry" \
    "$(printf '%s\n' "$R" | grep -Ec "^many\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]")" 100

# A signed query: the cut reply is answered again within 1232 bytes and signed (RFC 8945 5.3: a
# reply to a signed query is signed; a client may reject an unsigned one instead of retrying).
dg @127.0.0.1 +bufsize=4096 +ignore -y "hmac-sha256:mtu-key:$SECRET" many.$Z A
has "signed many A over UDP: truncated (TC)" '^;; flags: qr aa tc;'
has "signed many A over UDP: the truncated reply is signed" '^;; TSIG PSEUDOSECTION'
hasnt "signed many A over UDP: and verifies" 'expected a TSIG|verify failure|[Cc]ouldn.t verify'
dg @127.0.0.1 +bufsize=4096 -y "hmac-sha256:mtu-key:$SECRET" many.$Z A
has "signed many A: the truncated reply verifies and dig retries over TCP" \
    'Truncated, retrying in TCP mode'
hasnt "signed many A: no TSIG error" 'expected a TSIG|verify failure|[Cc]ouldn.t verify'
has "signed many A: the answer over TCP is signed" '^;; TSIG PSEUDOSECTION'
expect_eq "signed many A: 100 A after the retry" \
    "$(printf '%s\n' "$R" | grep -Ec "^many\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]")" 100
expect_eq "seven replies cut for the MTU (the three dig queries' too), counted" "$(mtu_truncated)" 7

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
