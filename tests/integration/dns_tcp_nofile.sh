#!/usr/bin/env bash
# dns_tcp_nofile: the TCP connection bound holds even when the process starts with a low open-file
# limit. Started with a soft limit of 256 (the hard one higher) and room for 2 x 256 TCP
# connections, geodnsd raises its soft limit and says so; with 300 idle connections open, a new
# client is still answered (before, accept failed with EMFILE below the pools' bound, so nothing
# was closed to make room and new clients waited for an idle timeout). A hard limit below the
# need is reported at start.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
command -v python3 >/dev/null || { skip "dns_tcp_nofile" "python3 not installed"; finish; }
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 1024 ]; then
    skip "dns_tcp_nofile" "hard open-file limit $hard is below 1024"
    finish
fi
dns_init
conf=$DATA/nofile.yaml
sed -e 's/^workers:.*//' -e 's/^tcp:.*//' "$DATA/geodnsd.yaml" >"$conf"
printf 'workers: 2\ntcp: {idle_timeout: 60s, max_connections: 256}\n' >>"$conf"
# dns_start with a soft limit of 256: the limit is set in a subshell that execs the daemon.
GEODNSD_REAL=$GEODNSD
GEODNSD=$TMP/geodnsd-low-nofile
printf '#!/bin/sh\nulimit -Sn 256 || exit 1\nexec "%s" "$@"\n' "$GEODNSD_REAL" >"$GEODNSD"
chmod +x "$GEODNSD"
dns_start "$conf" || finish
has_log "the soft open-file limit is raised for the connection bounds" \
    'open-file limit raised from 256 to [0-9]+ for the TCP connection bounds'

out=$(python3 - "$PORT" <<'PYEOF'
import socket, struct, sys
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
# A query on each of the last five, answered, shows the daemon took them all.
m = struct.pack(">6H", 1, 0, 1, 0, 0, 0) + b"\x03www\x07example\x04test\x00" + struct.pack(">HH", 1, 1)
held = 0
for s in idle[-5:]:
    s.sendall(struct.pack(">H", len(m)) + m)
    try:
        held += len(s.recv(4096)) > 14
    except OSError:
        pass
print("held %d of 5" % held)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(struct.pack(">H", len(m)) + m)
s.settimeout(10)
try:
    d = s.recv(4096)
    print("new client answered" if len(d) > 14 else "new client: short reply")
except OSError as e:
    print("new client: %s" % e)
PYEOF
)
if [[ $out == *"held 5 of 5"* ]]; then
    pass "300 connections held (the last five answered)"
else
    fail "300 connections held (the last five answered)" "$out"
fi
if [[ $out == *"new client answered"* ]]; then
    pass "a new client is answered with 300 connections open"
else
    fail "a new client is answered with 300 connections open" "$out"
fi
dns_stop

# A hard limit below the need: said at start.
printf '#!/bin/sh\nulimit -Sn 256 && ulimit -Hn 300 || exit 1\nexec "%s" "$@"\n' "$GEODNSD_REAL" \
    >"$GEODNSD"
dns_start "$conf" || finish
has_log "a hard limit below the need is reported" \
    'open-file limit 300 \(hard limit 300\) is below the [0-9]+ that 2 workers with tcp.max_connections 256 need'
finish
