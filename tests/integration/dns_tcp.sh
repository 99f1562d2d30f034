#!/usr/bin/env bash
# dns_tcp: RFC 7766 over TCP: framing, several queries per connection, pipelining, split and
# coalesced queries, large answers, idle timeout (2 s in the test config), 0-length and half
# frames that must not hurt other clients, many concurrent connections.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test

q --tcp www.$Z
expect "TCP query: answered, TC=0" ok rcode=NOERROR +aa -tc an=2
q --tcp --noedns nx.$Z
expect "TCP query without EDNS: NXDOMAIN" ok rcode=NXDOMAIN +aa -tc
q --tcp --repeat 5 www.$Z
has "5 sequential queries on one connection: all answered" '^answered=5/5$'
expect_eq "5 sequential queries: all NOERROR with matching IDs" "$(nlines '^rcode=NOERROR .* id_match=1 ')" 5
q --tcp --pipeline 20 alias.$Z
has "20 pipelined queries (separate writes): all answered" '^answered=20/20$'
expect_eq "20 pipelined queries: every reply matches a sent ID" "$(nlines '^rcode=NOERROR .* id_match=1 ')" 20
expect_eq "20 pipelined queries: 20 distinct IDs" \
    "$(printf '%s\n' "$R" | sed -n 's/^rcode=.* id=\([0-9]*\) .*/\1/p' | sort -u | wc -l)" 20
[ "$RC" = 0 ] && pass "20 pipelined replies pass the ldns/wire checks" || fail "20 pipelined replies pass the ldns/wire checks" "rc=$RC"
q --tcp --batch 2 www.$Z
has "two queries in one segment: both answered" '^answered=2/2$'
q --tcp --batch 10 --type MX $Z
has "ten queries in one write: all answered" '^answered=10/10$'
q --tcp --split www.$Z
expect "query sent byte by byte: reassembled and answered" ok rcode=NOERROR an=2
q --tcp --split --repeat 2 --type AAAA www.$Z
has "two byte-by-byte queries on one connection: both answered" '^answered=2/2$'

echo "# large answers over TCP"
q --tcp many.$Z
expect "100 A records over TCP: complete, TC=0" ok rcode=NOERROR -tc an=100
q --tcp bigtxt.$Z --type TXT
expect "6 x 250-byte TXT over TCP: complete" ok rcode=NOERROR -tc an=6
q --tcp --noedns many.$Z
expect "100 A records over TCP without EDNS: complete (no 512 limit on TCP)" ok rcode=NOERROR -tc an=100

echo "# idle timeout (2 s)"
q --tcp --idle-wait $((10000 * DNS_SLOW)) www.$Z
expect "query before idling" ok rcode=NOERROR
has "idle connection closed by the server (after a query)" '^closed=1$'
python3 - "$PORT" "$((12 * DNS_SLOW))" <<'PYEOF' >"$TMP/idle.out"
import socket, sys
port, limit = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.settimeout(limit)
try:
    print("closed" if s.recv(1) == b"" else "data")
except socket.timeout:
    print("open")
except ConnectionResetError:
    print("closed")
PYEOF
check "connection that never sends anything is closed by the server" grep -qx closed "$TMP/idle.out"

echo "# 0-length and half frames"
python3 - "$PORT" "$((12 * DNS_SLOW))" <<'PYEOF' >"$TMP/frames.out" &
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
zero = socket.create_connection(("127.0.0.1", port), timeout=3)
zero.sendall(b"\x00\x00")
half = socket.create_connection(("127.0.0.1", port), timeout=3)
half.sendall(b"\x00\x30\x10\x92\x01")   # announces 48 bytes, sends 3
print("sent", flush=True)
half.settimeout(limit)
try:
    r = half.recv(1)
    print("half closed" if r == b"" else "half data")
except socket.timeout:
    print("half open")
except ConnectionResetError:
    print("half closed")
PYEOF
FPID=$!
DNS_BG_PIDS+=("$FPID")
for i in $(seq 1 50); do grep -q sent "$TMP/frames.out" 2>/dev/null && break; sleep 0.1; done
q www.$Z
expect "UDP query while a 0-length frame and a half frame are pending" ok rcode=NOERROR an=2
q --tcp www.$Z
expect "TCP query while a 0-length frame and a half frame are pending" ok rcode=NOERROR an=2
wait "$FPID"
check "half-frame connection closed by the server (idle/I-O timeout)" grep -qx 'half closed' "$TMP/frames.out"
alive "server alive after odd frames"

echo "# many concurrent connections"
python3 - "$PORT" <<'PYEOF' >"$TMP/conc.out"
import socket, struct, sys
port = int(sys.argv[1])
q = bytes.fromhex("0000000000010000000000000377777707" "6578616d706c650474657374" "0000010001")
conns = []
for i in range(60):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    conns.append(s)
for i, s in enumerate(conns):
    m = struct.pack(">H", i) + q[2:]
    s.sendall(struct.pack(">H", len(m)) + m)
ok = 0
for i, s in enumerate(conns):
    buf = b""
    try:
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        if len(buf) >= 6 and struct.unpack(">H", buf[2:4])[0] == i and buf[5] & 0x0f == 0:
            ok += 1
    except OSError:
        pass
    s.close()
print("ok", ok)
PYEOF
check "60 concurrent TCP connections: all answered" grep -qx 'ok 60' "$TMP/conc.out"

echo "# TCP with kdig and dig"
kd @127.0.0.1 +tcp many.$Z A
expect_eq "kdig +tcp many: 100 A records" "$(printf '%s\n' "$R" | grep -Ec "^many\.$Z\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]")" 100
dg @127.0.0.1 +tcp +keepopen www.$Z A mail.$Z A
expect_eq "dig +tcp +keepopen: two queries on one connection answered" "$(nlines 'status: NOERROR')" 2

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
