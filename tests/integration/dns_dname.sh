#!/usr/bin/env bash
# dns_dname: over the wire, with the real daemon: DNAME substitution (RFC 6672) with the
# synthesized CNAME, a chain followed into the zone, YXDOMAIN for a too long result, the DNAME
# owner answering normally, and NOTIMP for unknown opcodes in a bare 12-byte header over UDP
# and TCP (not FORMERR), with the id and opcode echoed.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

W=$TMP/dname
mkdir -p "$W"
cp "$SRC"/tests/data/unit/master/{dname,apexd}.test.zone "$W/"
printf 'listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [dname.test.zone, apexd.test.zone]\n' \
    >"$W/geodnsd.yaml"
dns_start "$W/geodnsd.yaml" || dns_finish

q x.d.dname.test --type A
expect "x.d.dname.test A: DNAME and synthesized CNAME" rcode=NOERROR +aa an=2
has "the DNAME, TTL 120" "^AN d\.dname\.test\. 120 IN DNAME target\.example\."
has "the synthesized CNAME, TTL of the DNAME" \
    "^AN x\.d\.dname\.test\. 120 IN CNAME x\.target\.example\."
q x.d2.dname.test --type A
expect "DNAME into the zone: chain followed" rcode=NOERROR +aa an=3
has "the address at the end of the chain" "^AN x\.www2\.dname\.test\. 300 IN A 192\.0\.2\.99"
LONGQ=$(printf 'b%.0s' $(seq 63)).cccccccccc.long.dname.test
q "$LONGQ" --type A
expect "too long after substitution: YXDOMAIN with the DNAME" rcode=YXDOMAIN +aa an=1
q d.dname.test --type DNAME
expect "qtype DNAME at its owner" rcode=NOERROR +aa an=1
q d.dname.test --type A
expect "the owner itself is not rewritten (NODATA)" rcode=NOERROR +aa an=0 ns=1
q x.apexd.test --type A
expect "DNAME at a zone apex" rcode=NOERROR +aa an=2
q sub.dname.test --type TXT
expect "occluded data at a cut: referral" rcode=NOERROR -aa an=0 ns=1
has "glue below the cut" "^AR ns\.sub\.dname\.test\. 300 IN A 192\.0\.2\.10"
q dname.test --type NS
expect "apex NS with the addresses of both name servers (ar counts the OPT)" rcode=NOERROR +aa \
    an=2 ar=4

# Header-only messages with opcodes 3 and 15 (and 5 with QDCOUNT 2), UDP and TCP.
R=$(python3 - "$PORT" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
for op, qd in ((3, 0), (15, 0), (5, 2)):
    msg = struct.pack(">HHHHHH", 0xBEEF, op << 11 | 0x0100, qd, 0, 0, 0)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    u.sendto(msg, ("127.0.0.1", port))
    r = u.recv(512)
    t = socket.create_connection(("127.0.0.1", port), timeout=3)
    t.sendall(struct.pack(">H", len(msg)) + msg)
    n = struct.unpack(">H", t.recv(2))[0]
    rt = t.recv(n)
    t.close()
    for tr, x in (("udp", r), ("tcp", rt)):
        i, fl = struct.unpack(">HH", x[:4])
        print("%s op=%d qd=%d len=%d id=%04x qr=%d opcode=%d rcode=%d" %
              (tr, op, qd, len(x), i, fl >> 15, (fl >> 11) & 15, fl & 15))
PY
)
for tr in udp tcp; do
    for op in 3 15; do
        has "opcode $op, header only, $tr: NOTIMP, id and opcode echoed" \
            "^$tr op=$op qd=0 len=12 id=beef qr=1 opcode=$op rcode=4$"
    done
    has "opcode 5 with QDCOUNT 2 and no question, $tr: NOTIMP" \
        "^$tr op=5 qd=2 len=12 id=beef qr=1 opcode=5 rcode=4$"
done
alive "server still running"
finish
