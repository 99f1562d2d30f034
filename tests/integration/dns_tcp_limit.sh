#!/bin/bash
# dns_tcp_limit: the per-worker TCP connection cap closes the connection idle the longest, so a
# new client is always served and busy clients keep their connections.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
conf=$DATA/limit.yaml
sed -e 's/^workers:.*//' -e 's/^tcp:.*//' "$DATA/geodnsd.yaml" >"$conf"
printf 'workers: 1\ntcp: {idle_timeout: 30s, max_connections: 3}\n' >>"$conf"
dns_start "$conf" || finish

out=$(python3 - "$PORT" <<'PYEOF'
import socket, struct, sys, time
port = int(sys.argv[1])
def query(s, qid):
    m = struct.pack('>HHHHHH', qid, 0x100, 1, 0, 0, 0) + b'\x03www\x07example\x04test\x00' + \
        struct.pack('>HH', 1, 1)
    s.sendall(struct.pack('>H', len(m)) + m)
    s.settimeout(5)
    try:
        d = s.recv(4096)
    except OSError:
        return 'error'
    if not d:
        return 'closed'
    return 'answered' if len(d) > 14 and d[2:4] == struct.pack('>H', qid) else 'bad'
conns = []
for i in range(6):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    conns.append(s)
    print('new%d %s' % (i, query(s, 100 + i)))
    time.sleep(0.1)
for i, s in enumerate(conns):
    print('again%d %s' % (i, query(s, 200 + i)))
PYEOF
)
echo "$out" | sed 's/^/  | /'
for i in 0 1 2 3 4 5; do
    expect_eq "connection $i is served when it opens" "$(echo "$out" | awk -v k="new$i" '$1==k {print $2}')" answered
done
for i in 0 1 2; do
    expect_eq "oldest idle connection $i was closed to make room" \
        "$(echo "$out" | awk -v k="again$i" '$1==k {print $2}')" closed
done
for i in 3 4 5; do
    expect_eq "recent connection $i still open" "$(echo "$out" | awk -v k="again$i" '$1==k {print $2}')" answered
done
alive "server alive after the cap was reached"
finish
