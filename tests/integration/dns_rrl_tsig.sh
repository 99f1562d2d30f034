#!/usr/bin/env bash
# dns_rrl_tsig: RRL never slips a reply to a signed query. A truncated copy would lose its TSIG
# RR, and the client, which signed its query, rejects an unsigned reply (RFC 8945 5.3) instead of
# retrying over TCP; such a reply over the limit is dropped. A flood of 40 signed SOA queries from
# one source with rrl {responses_per_second: 5, slip: 1}: every reply that comes is signed (most
# are dropped), while the same flood unsigned still gets truncated replies. Counts only.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
command -v python3 >/dev/null || { skip "dns_rrl_tsig" "python3 not installed"; finish; }
dns_init
SECRET=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=
conf=$DATA/rrl.yaml
sed -e 's/^workers:.*//' "$DATA/geodnsd.yaml" >"$conf"
cat >>"$conf" <<EOF
workers: 1
rrl: {responses_per_second: 5, slip: 1}
tsig_keys:
  xfr-key: {algorithm: hmac-sha256, secret: "$SECRET"}
EOF
dns_start "$conf" || finish

out=$(timeout 60 python3 - "$PORT" "$SECRET" <<'PY'
import base64, hashlib, hmac, socket, struct, sys, time
port, secret = int(sys.argv[1]), base64.b64decode(sys.argv[2])

def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".") if l) + b"\0"

KEY, ALG = name("xfr-key"), name("hmac-sha256")

def query(qid, signed):
    msg = struct.pack("!6H", qid, 0, 1, 0, 0, 0) + name("example.test") + struct.pack("!HH", 6, 1)
    if not signed:
        return msg
    t = int(time.time())
    v = (KEY + struct.pack("!HI", 255, 0) + ALG + struct.pack("!HIH", t >> 32, t & 0xFFFFFFFF, 300)
         + struct.pack("!HH", 0, 0))
    mac = hmac.new(secret, msg + v, hashlib.sha256).digest()
    rd = ALG + struct.pack("!HIHH", t >> 32, t & 0xFFFFFFFF, 300, len(mac)) + mac
    rd += struct.pack("!HHH", qid, 0, 0)
    return msg[:10] + b"\0\1" + msg[12:] + KEY + struct.pack("!HHIH", 250, 255, 0, len(rd)) + rd

def flood(signed, n=40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for i in range(n):
        s.sendto(query(i + 1, signed), ("127.0.0.1", port))
    s.settimeout(2)
    full = tc = unsigned = 0
    try:
        while True:
            r = s.recv(65535)
            has_tsig = r.find(KEY + struct.pack("!H", 250)) > 0
            if r[2] & 0x02:
                tc += 1
            else:
                full += 1
            if signed and not has_tsig:
                unsigned += 1
    except socket.timeout:
        pass
    return full, tc, unsigned

full, tc, unsigned = flood(True)
print("signed: full %d tc %d unsigned %d" % (full, tc, unsigned))
full, tc, unsigned = flood(False)
print("unsigned: full %d tc %d" % (full, tc))
PY
)
line=$(grep '^signed:' <<<"$out")
read -r _ _ full _ tc _ unsigned <<<"$line"
if [ -n "$line" ] && [ "$tc" = 0 ] && [ "$unsigned" = 0 ] && [ "$full" -ge 1 ] && [ "$full" -lt 40 ]; then
    pass "signed flood: every reply signed, none truncated, the excess dropped ($line)"
else
    fail "signed flood: every reply signed, none truncated, the excess dropped" "$out"
fi
line=$(grep '^unsigned:' <<<"$out")
read -r _ _ full _ tc <<<"$line"
if [ -n "$line" ] && [ "$tc" -ge 1 ]; then
    pass "unsigned flood: still slipped as truncated replies ($line)"
else
    fail "unsigned flood: still slipped as truncated replies" "$out"
fi
q www.example.test --tcp
expect "TCP still answered" ok rcode=NOERROR an=2
finish
