#!/usr/bin/env bash
# dns_notify_source: a NOTIFY reply counts only from the address and port the NOTIFY went to. A
# fake secondary (Python) takes geodnsd's NOTIFY after a reload that raised the serial and has
# a second socket (another port) send a reply with the right ID to geodnsd's source port: it is
# not taken as the secondary's, the NOTIFY is sent again (try 2), and the secondary's own reply
# to that one is logged as acknowledged.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
command -v python3 >/dev/null || { skip "dns_notify_source" "python3 not installed"; finish; }
dns_init
SEC_PORT=$(free_port)
cat >>"$DATA/geodnsd.yaml" <<EOF
transfer:
  allow: [{net: 127.0.0.0/8}]
  notify: ["127.0.0.1:$SEC_PORT"]
EOF
python3 - "$SEC_PORT" "$TMP/secondary.out" <<'PY' &
import socket, struct, sys
port, out = int(sys.argv[1]), sys.argv[2]
sec = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sec.bind(("127.0.0.1", port))
sec.settimeout(60)
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind(("127.0.0.1", 0))
with open(out, "w", buffering=1) as f:
    try:
        for n in (1, 2):
            m, peer = sec.recvfrom(4096)
            opcode = (m[2] >> 3) & 15
            reply = m[:2] + bytes([0x80 | (m[2] & 0x78) | 0x04, 0]) + m[4:]
            f.write("NOTIFY %d opcode %d id %d from port %d\n" % (n, opcode, m[0] << 8 | m[1], peer[1]))
            if n == 1:
                other.sendto(reply, peer)  # the right ID, the wrong source port
                f.write("spoofed reply sent\n")
            else:
                sec.sendto(reply, peer)
                f.write("real reply sent\n")
    except socket.timeout:
        f.write("timeout\n")
PY
DNS_BG_PIDS+=($!)
dns_start "$DATA/geodnsd.yaml" || finish
sed -i 's/serial: 2026112501/serial: 2026112502/' "$DATA/example.test.yaml"
kill -HUP "$SERVER_PID"
if wait_log 'NOTIFY example.test. serial 2026112502 to 127.0.0.1:[0-9]+: (acknowledged|no reply)' 30; then
    pass "the NOTIFY ended (acknowledged or given up)"
else
    fail "the NOTIFY ended (acknowledged or given up)" "$(grep NOTIFY "$LOG")"
fi
if grep -q "spoofed reply sent" "$TMP/secondary.out" && grep -q "real reply sent" "$TMP/secondary.out"; then
    pass "the secondary saw the NOTIFY twice: the reply from another port did not stop the tries"
else
    fail "the secondary saw the NOTIFY twice: the reply from another port did not stop the tries" \
        "$(cat "$TMP/secondary.out")"
fi
has_log "geodnsd sent try 2" 'NOTIFY example\.test\. serial 2026112502 to 127\.0\.0\.1:[0-9]+: try 2 of'
has_log "the reply from the secondary's own address and port is acknowledged" \
    'NOTIFY example\.test\. serial 2026112502 to 127\.0\.0\.1:[0-9]+: acknowledged'
finish
