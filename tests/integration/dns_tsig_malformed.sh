#!/usr/bin/env bash
# dns_tsig_malformed: RFC 8945 5.1: a TSIG RR that is not the last additional record (an OPT
# after it, or a second TSIG), or whose fields do not fill its RDATA, gets FORMERR, over UDP (a
# query) and TCP (AXFR), never an answer that ignores it nor a closed connection; a well-formed
# signed query is still answered signed. The client (Python, stdlib only) signs with HMAC-SHA256.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
command -v python3 >/dev/null || { skip "dns_tsig_malformed" "python3 not installed"; finish; }
dns_init
SECRET=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=
cat >>"$DATA/geodnsd.yaml" <<EOF
tsig_keys:
  xfr-key: {algorithm: hmac-sha256, secret: "$SECRET"}
transfer:
  allow: [{net: 127.0.0.0/8}]
EOF
dns_start "$DATA/geodnsd.yaml" || finish

PYTHONPATH="$SRC/tests/lib" PYTHONDONTWRITEBYTECODE=1 python3 - "$PORT" "$SECRET" >"$TMP/client.out" <<'PY'
import base64, struct, sys, time
from dnstsig import name, tsig_rr as sign, udp as udp_to, tcp as tcp_to
port, secret = int(sys.argv[1]), base64.b64decode(sys.argv[2])
KEY = name("xfr-key")
OPT = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)

def tsig_rr(msg, t):
    """The TSIG RR signing msg (a message without it) at time t."""
    return sign(msg, KEY, secret, t)[0]

def query(qtype, ar):
    """The header and question, ARCOUNT ar."""
    return struct.pack("!6H", 4242, 0, 1, 0, 0, ar) + name("example.test") + struct.pack("!HH", qtype, 1)

def build(kind, qtype):
    now = int(time.time())
    if kind == "good":
        m = query(qtype, 0)
        return query(qtype, 1) + tsig_rr(m, now)
    if kind == "opt after tsig":
        m = query(qtype, 0)
        return query(qtype, 2) + tsig_rr(m, now) + OPT
    if kind == "two tsig":
        m = query(qtype, 0)
        t = tsig_rr(m, now)
        return query(qtype, 2) + t + t
    if kind == "tsig rdata too long":
        m = query(qtype, 0)
        t = bytearray(tsig_rr(m, now))
        rdl = len(KEY) + 8
        t[rdl:rdl + 2] = struct.pack("!H", struct.unpack("!H", t[rdl:rdl + 2])[0] + 4)
        return query(qtype, 1) + bytes(t) + b"\0\0\0\0"

def udp(pkt):
    return udp_to(port, pkt)

def tcp(pkt):
    return tcp_to(port, pkt)

def expect(what, r, rcode, signed=None):
    if r is None:
        print("FAIL: %s: no reply" % what); return
    got = r[3] & 15
    arcount = struct.unpack("!H", r[10:12])[0]
    fails = []
    if got != rcode: fails.append("rcode %d, not %d" % (got, rcode))
    if not r[2] & 0x80: fails.append("QR not set")
    if struct.unpack("!H", r[:2])[0] != 4242: fails.append("ID not echoed")
    if signed is not None and (r.find(KEY + struct.pack("!H", 250)) > 0) != signed:
        fails.append("signed" if not signed else "not signed")
    if rcode == 1 and struct.unpack("!H", r[6:8])[0] != 0: fails.append("FORMERR with answers")
    print(("FAIL: %s: %s" % (what, "; ".join(fails))) if fails else "ok: %s" % what)

expect("UDP SOA, well-formed TSIG: answered, signed", udp(build("good", 6)), 0, True)
for kind in ("opt after tsig", "two tsig", "tsig rdata too long"):
    expect("UDP SOA, %s: FORMERR" % kind, udp(build(kind, 6)), 1, False)
    expect("TCP AXFR, %s: FORMERR" % kind, tcp(build(kind, 252)), 1, False)
expect("TCP AXFR, well-formed TSIG: answered, signed", tcp(build("good", 252)), 0, True)
PY
checks_from "$TMP/client.out"
grep -q "^ok: " "$TMP/client.out" || fail "the TSIG client ran" "$(head -n 5 "$TMP/client.out")"
q www.example.test
expect "server still answers" ok rcode=NOERROR an=2
finish
