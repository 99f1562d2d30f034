#!/usr/bin/env bash
# dns_malformed: QDCOUNT != 1, truncated questions, compression pointers in the question, labels
# over 63, names over 255, broken OPT records -> FORMERR; QR=1 and packets under 12 bytes -> no
# reply; random garbage never crashes the server.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
WWW=03777777076578616d706c65047465737400   # www.example.test in wire form

# formerr DESC DNSQ-ARGS...: the crafted query gets FORMERR with our ID and QR=1.
formerr() {
    local desc=$1
    shift
    q --id 4242 "$@"
    expect "$desc -> FORMERR" rcode=FORMERR +qr id=4242 an=0
}

# healthy: a normal query still works (nothing broke).
healthy() {
    q www.$Z
    expect "$1: server still answers" ok rcode=NOERROR an=2
}

echo "# question count (RFC 9619)"
formerr "QDCOUNT 0 (no question)" --qdcount 0 www.$Z
formerr "QDCOUNT 0 without EDNS" --qdcount 0 --noedns www.$Z
# Raw packets below use ID 0x1092 = 4242.
formerr "12-byte header only, QDCOUNT 0" --raw 109200000000000000000000
formerr "QDCOUNT 0 followed by stray bytes" --raw 1092000000000000000000000000
formerr "QDCOUNT 2 with two questions" --qdcount 2 www.$Z
formerr "QDCOUNT 2 with two questions, no EDNS" --qdcount 2 --noedns www.$Z
formerr "QDCOUNT 2 with one question" --qdcount 2 --questions 1 --noedns www.$Z
formerr "QDCOUNT 65535 with one question" --qdcount 65535 --questions 1 --noedns www.$Z
healthy "after QDCOUNT checks"

echo "# truncated or malformed question"
formerr "question without class" --noedns --truncate-by 2 www.$Z
formerr "question without type and class" --noedns --truncate-by 4 www.$Z
formerr "question name cut in a label" --noedns --truncate-by 8 www.$Z
formerr "question name without terminating root" --raw 10920000000100000000000003777777076578616d706c650474657374
formerr "compression pointer to itself" --noedns --qname-hex c00c
formerr "compression pointer loop (www + pointer back)" --noedns --qname-hex 03777777c00c
formerr "compression pointer into the header" --noedns --qname-hex 03777777c002
formerr "forward compression pointer" --noedns --qname-hex 03777777c020
formerr "compression pointer in the question (even a valid-looking one)" --qname-hex 03777777c010
formerr "label length 64 (0x40 label type)" --noedns --qname-hex "40$(printf '61%.0s' $(seq 1 64))00"
formerr "label type 0x80" --noedns --qname-hex 8003777777076578616d706c650474657374
L63=3f$(printf '61%.0s' $(seq 1 63))
L61=3d$(printf '61%.0s' $(seq 1 61))
L62=3e$(printf '61%.0s' $(seq 1 62))
formerr "name of 256 octets" --noedns --qname-hex "${L63}${L63}${L63}${L62}00"
formerr "name of 320 octets" --noedns --qname-hex "${L63}${L63}${L63}${L63}${L63}00"
q --id 4343 --noedns --qname-hex "${L63}${L63}${L63}${L61}00"
expect "name of exactly 255 octets is valid -> REFUSED (not ours)" ok rcode=REFUSED +qr id=4343
healthy "after malformed questions"

echo "# broken OPT records"
formerr "truncated OPT RR (3 bytes short)" --truncate-by 3 www.$Z
formerr "OPT RR cut after its type" --raw "109200000001000000000001${WWW}00010001000029"
formerr "ARCOUNT 1 but no OPT bytes" --raw "109200000001000000000001${WWW}00010001"
formerr "option overrunning the OPT RDATA" --opt-rdata 000a00100102 www.$Z
formerr "OPT RDATA with a 2-byte remnant" --opt-rdata 0003 www.$Z
formerr "OPT owner not root" --opt-owner-nonroot www.$Z
formerr "two OPT records" --two-opt www.$Z
healthy "after broken OPT"

echo "# no reply"
q --qr --timeout 1500 www.$Z
if [ "$RC" = 2 ] && printf '%s\n' "$R" | grep -q '^no reply'; then
    pass "QR=1 in the query -> no reply"
else
    fail "QR=1 in the query -> no reply" "$R"
fi
q --qr --noedns --timeout 1500 --id 7 www.$Z
[ "$RC" = 2 ] && pass "QR=1 without EDNS -> no reply" || fail "QR=1 without EDNS -> no reply" "$R"
for n in 0 1 2 11; do
    hex=$(printf '10920100000100000000000000' | head -c $((n * 2)))
    q --raw "$hex" --timeout 1000
    if [ "$RC" = 2 ]; then
        pass "$n-byte packet -> no reply"
    else
        fail "$n-byte packet -> no reply" "$R"
    fi
done
healthy "after no-reply packets"

echo "# trailing data, odd bits"
q --noedns --append deadbeef www.$Z
if printf '%s\n' "$R" | grep -Eq '^rcode=(NOERROR|FORMERR) '; then
    pass "trailing bytes after the question: answered (NOERROR or FORMERR), not dropped"
else
    fail "trailing bytes after the question: answered" "$R"
fi
q --z --ad --cd www.$Z
expect "Z, AD, CD set: answered" ok rcode=NOERROR an=2 -z -ad +cd

echo "# random garbage"
python3 - "$PORT" <<'PYEOF' >"$TMP/garbage.out"
import os, random, socket, sys
port = int(sys.argv[1])
random.seed(20261125)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.002)
base = bytes.fromhex("1092010000010000000000010377777707" "6578616d706c6504746573740000010001"
                     "0000291000000000000000")
for i in range(600):
    if i % 3 == 0:
        pkt = os.urandom(random.randint(0, 600))
    else:
        b = bytearray(base)
        for _ in range(random.randint(1, 6)):
            b[random.randrange(len(b))] = random.randrange(256)
        pkt = bytes(b[:random.randint(12, len(b))])
    s.sendto(pkt, ("127.0.0.1", port))
    try:
        while True:
            s.recv(65535)
    except OSError:
        pass
# TCP: random frames on a few connections.
for i in range(30):
    try:
        t = socket.create_connection(("127.0.0.1", port), timeout=2)
        t.sendall(os.urandom(random.randint(1, 300)))
        t.settimeout(0.05)
        try:
            t.recv(65535)
        except OSError:
            pass
        t.close()
    except OSError as e:
        print("tcp error", e)
print("sent")
PYEOF
check "600 random/mutated UDP packets and 30 garbage TCP streams sent" grep -q '^sent' "$TMP/garbage.out"
alive "server alive after garbage"
healthy "after garbage"
q --tcp www.$Z
expect "after garbage: TCP still answers" ok rcode=NOERROR an=2

dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
