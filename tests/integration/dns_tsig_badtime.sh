#!/usr/bin/env bash
# dns_tsig_badtime: a request signed with a known key but outside its time window (RFC 8945
# 5.2.3) gets NOTAUTH/BADTIME in a TSIG record signed with that key, the request's Time Signed
# echoed and our time in Other Data, so that the client can verify it and see the clock
# difference; over UDP (a signed SOA query) and TCP (AXFR). A bad MAC (BADSIG) and an unknown
# key (BADKEY) still get an unsigned TSIG record (empty MAC), and a request signed in time is
# answered signed. The client (Python, stdlib only) signs and verifies with HMAC-SHA256 itself.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
command -v python3 >/dev/null || { skip "dns_tsig_badtime" "python3 not installed"; finish; }
dns_init
SECRET=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=
cat >>"$DATA/geodnsd.yaml" <<EOF
tsig_keys:
  xfr-key: {algorithm: hmac-sha256, secret: "$SECRET"}
transfer:
  allow: [{key: xfr-key}]
EOF
dns_start "$DATA/geodnsd.yaml" || finish

PYTHONPATH="$SRC/tests/lib" PYTHONDONTWRITEBYTECODE=1 python3 - "$PORT" "$SECRET" >"$TMP/client.out" <<'PY'
import base64, hashlib, hmac, struct, sys, time
from dnstsig import name, tsig_rr, udp, tcp
port, secret = int(sys.argv[1]), base64.b64decode(sys.argv[2])
KEY = name("xfr-key")

def signed_query(qname, qtype, t, key=KEY, sec=secret):
    msg = struct.pack("!6H", 4242, 0, 1, 0, 0, 0) + name(qname) + struct.pack("!HH", qtype, 1)
    rr, mac = tsig_rr(msg, key, sec, t)
    return msg[:10] + struct.pack("!H", 1) + msg[12:] + rr, mac

def skip_name(m, p):
    while True:
        l = m[p]
        if l == 0: return p + 1
        if l & 0xC0 == 0xC0: return p + 2
        p += 1 + l

def last_rr(m):
    """(start offset, owner end, rdata offset, rdata length) of the last record."""
    qd, an, ns, ar = struct.unpack("!4H", m[4:12])
    p = 12
    for _ in range(qd): p = skip_name(m, p) + 4
    last = None
    for _ in range(an + ns + ar):
        s = p
        p = skip_name(m, p)
        rdlen = struct.unpack("!H", m[p + 8:p + 10])[0]
        last = (s, p, p + 10, rdlen)
        p += 10 + rdlen
    return last

def check(what, reply, req_mac, t_req, want_error, want_signed):
    rcode = reply[3] & 15
    s, oend, rd, rdlen = last_rr(reply)
    rtype = struct.unpack("!H", reply[oend:oend + 2])[0]
    if rtype != 250:
        print("FAIL: %s: the last record is type %d, not TSIG" % (what, rtype)); return
    p = skip_name(reply, rd)
    alg = reply[rd:p]
    hi, lo, fudge, maclen = struct.unpack("!HIHH", reply[p:p + 10])
    t = (hi << 32) | lo
    mac = reply[p + 10:p + 10 + maclen]
    q = p + 10 + maclen
    orig, error, olen = struct.unpack("!3H", reply[q:q + 6])
    other = reply[q + 6:q + 6 + olen]
    fails = []
    if rcode != (9 if want_error else 0): fails.append("rcode %d" % rcode)
    if error != want_error: fails.append("TSIG error %d, not %d" % (error, want_error))
    if want_signed != (maclen == 32): fails.append("MAC length %d" % maclen)
    if want_error == 18:
        if t != t_req: fails.append("Time Signed %d, not the request's %d" % (t, t_req))
        now = int(time.time())
        srv = int.from_bytes(other, "big") if olen == 6 else -1
        if olen != 6 or abs(srv - now) > 60: fails.append("Other Data %s, not our time" % other.hex())
    if want_signed and maclen == 32:
        # RFC 8945 4.3.3: request MAC, the reply without its TSIG (ARCOUNT - 1), the variables.
        unsigned = bytearray(reply[:s])
        unsigned[0:2] = struct.pack("!H", orig)
        unsigned[10:12] = struct.pack("!H", struct.unpack("!H", reply[10:12])[0] - 1)
        v = (KEY + struct.pack("!HI", 255, 0) + alg + reply[p:p + 8]
             + struct.pack("!HH", error, olen) + other)
        calc = hmac.new(secret, struct.pack("!H", len(req_mac)) + req_mac + bytes(unsigned) + v,
                        hashlib.sha256).digest()
        if calc != mac: fails.append("the reply's MAC does not verify")
    print(("FAIL: %s: %s" % (what, "; ".join(fails))) if fails else "ok: %s" % what)

now = int(time.time())
for when, t in (("an hour ago", now - 3600), ("an hour ahead", now + 3600)):
    pkt, mac = signed_query("example.test", 6, t)
    check("UDP SOA signed %s: BADTIME, signed" % when, udp(port, pkt), mac, t, 18, True)
    pkt, mac = signed_query("example.test", 252, t)
    check("TCP AXFR signed %s: BADTIME, signed" % when, tcp(port, pkt), mac, t, 18, True)
pkt, mac = signed_query("example.test", 6, now)
check("UDP SOA signed now: answered, signed", udp(port, pkt), mac, now, 0, True)
pkt, mac = signed_query("example.test", 6, now, sec=b"wrong secret")
check("UDP SOA with a wrong MAC: BADSIG, unsigned", udp(port, pkt), mac, now, 16, False)
pkt, mac = signed_query("example.test", 252, now - 3600, sec=b"wrong secret")
check("TCP AXFR with a wrong MAC and an old time: BADSIG, unsigned", tcp(port, pkt), mac,
      now - 3600, 16, False)
pkt, mac = signed_query("example.test", 6, now - 3600, key=name("other-key"))
check("UDP SOA with an unknown key and an old time: BADKEY, unsigned", udp(port, pkt), mac,
      now - 3600, 17, False)
PY
checks_from "$TMP/client.out"
grep -q "^ok: " "$TMP/client.out" || fail "the TSIG client ran" "$(head -n 5 "$TMP/client.out")"
q www.example.test
expect "server still answers" ok rcode=NOERROR an=2
finish
