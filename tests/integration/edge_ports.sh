#!/bin/bash
# edge_ports: a second segment-edge on a busy address exits 1 with a message naming the holder
# (its workers share the port with SO_REUSEPORT only after the address is claimed); segment-edge
# on a port geodnsd holds exits 1; 64 workers start and serve (the waiter mask has a bit for
# each); over the connection cap the longest-idle keep-alive connection is closed, not the new one.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root/v"
head -c 300000 /dev/urandom >"$T/root/v/seg.ts"
echo '#EXTM3U' >"$T/root/v/index.m3u8"

P=$(free_port)
start_edge first --listen 127.0.0.1:$P --root "$T/root" --workers 4
FIRST=$LAST_PID
edge_refused second 1 "127\\.0\\.0\\.1:$P is in use: another segment-edge \\(pid $FIRST\\) is already serving it \\(tcp\\)" \
    --listen 127.0.0.1:$P --root "$T/root"
edge_refused second_edge_mode 1 "127\\.0\\.0\\.1:$P is in use: another segment-edge \\(pid $FIRST\\)" \
    --listen 127.0.0.1:$P --origin http://127.0.0.1:1
expect_eq "the first one still serves" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/v/seg.ts)" 200
# A plain socket (no SO_REUSEPORT) on the wildcard address of the same port also blocks it.
P2=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(); open(sys.argv[2], "w").close(); time.sleep(60)' "$P2" "$T/holder.ready" &
HOLDER=$!
EDGE_PIDS+=("$HOLDER")
for _ in $(seq 100); do [ -e "$T/holder.ready" ] && break; sleep 0.1; done
check "a plain socket holds 0.0.0.0:$P2" test -e "$T/holder.ready"
edge_refused other_process 1 "127\\.0\\.0\\.1:$P2/tcp is in use: another process \\(python3, pid $HOLDER\\)" --listen 127.0.0.1:$P2 --root "$T/root"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null

# geodnsd on the port: segment-edge refuses it.
cp -r "$SRC/tests/data/dns" "$T/dns"
PD=$(free_port)
"$BIN/geodnsd" -c "$T/dns/geodnsd.yaml" --listen 127.0.0.1:$PD 2>"$T/geodnsd.log" >/dev/null &
GPID=$!
EDGE_PIDS+=("$GPID")
for _ in $(seq 100); do grep -q "geodnsd ready" "$T/geodnsd.log" && break; sleep 0.1; done
check "geodnsd started" grep -q "geodnsd ready" "$T/geodnsd.log"
edge_refused under_geodnsd 1 "127\\.0\\.0\\.1:$PD/tcp is in use: another process \\(geodnsd, pid $GPID\\)" --listen 127.0.0.1:$PD --root "$T/root"
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null

# 64 workers (the most accepted) start and serve, in origin and edge mode, with waiters on
# every worker: a collapsed fill wakes each.
P64=$(free_port)
start_edge w64_origin --listen 127.0.0.1:$P64 --root "$T/root" --workers 64 --throttle 200k
PE64=$(free_port)
start_edge w64_edge --listen 127.0.0.1:$PE64 --origin http://127.0.0.1:$P64 --workers 64
codes=$(seq 48 | xargs -P 48 -I{} curl -s -o /dev/null -w '%{http_code} %{size_download}\n' http://127.0.0.1:$PE64/v/seg.ts | sort | uniq -c | awk '{print $1, $2, $3}')
expect_eq "64 workers: 48 concurrent clients of one fill all get the whole segment" "$codes" "48 200 300000"
expect_eq "64 workers: origin fetched once" "$(origin_hits "$T/w64_origin.log" /v/seg.ts)" 1
check "64 workers: no sanitizer report" bash -c "! grep -qiE 'runtime error|AddressSanitizer' '$T/w64_origin.log' '$T/w64_edge.log'"

# Connection cap: keep-alive connections that served a request are closed oldest first to
# admit a new one; connections that never sent a request are not (the new one is refused).
cat >"$T/cap.yaml" <<YAML
limits: {max_connections: 4}
timeouts: {idle: 30s, header_read: 30s}
YAML
PC=$(free_port)
start_edge cap -c "$T/cap.yaml" --listen 127.0.0.1:$PC --root "$T/root"
python3 - "$PC" "$SRC/tests/lib" <<'PY' | tee "$T/cap.out"
import json, socket, sys, time
sys.path.insert(0, sys.argv[2])
import rawhttp
port = int(sys.argv[1])
def get(s):
    s.sendall(b"GET /v/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"#EXTM3U\n" not in buf:
        c = s.recv(4096)
        if not c:
            return None
        buf += c
    return buf.split(b" ")[1].decode()
ka = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert get(s) == "200"
    ka.append(s)
    time.sleep(0.05)
new = socket.create_connection(("127.0.0.1", port), timeout=10)
code = get(new)
print("%s: a new connection over the cap is served (%s)" % ("ok" if code == "200" else "FAIL", code))
print("%s: the longest-idle keep-alive connection was closed" % ("ok" if rawhttp.closed_by_server(ka[0], 5) else "FAIL"))
print("%s: the others stay open" % ("ok" if not any(rawhttp.closed_by_server(s, 0.3) for s in ka[1:]) else "FAIL"))
for s in ka + [new]:
    s.close()
def connections():
    # Until the server has seen the closes, the /status connection itself is over the cap and
    # refused (and counted as refused): "not yet".
    try:
        buf = rawhttp.exchange_all("127.0.0.1", port,
                                   b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return json.loads(buf.split(b"\r\n\r\n", 1)[1])["connections"]
    except (OSError, IndexError, ValueError):
        return None
# Wait (bounded) until the server has seen the closes: only the /status request is open.
for _ in range(200):
    c = connections()
    if c and c["active"] <= 1:
        break
    time.sleep(0.05)
print("rejected-before %d" % (c["rejected"] if c else -1000))
time.sleep(0.1)
fresh = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port), timeout=10)
print("%s: over the cap with no keep-alive connection to close, the new one is closed" % ("ok" if rawhttp.closed_by_server(extra, 5) else "FAIL"))
print("%s: connections that sent nothing yet were kept" % ("ok" if not any(rawhttp.closed_by_server(s, 0.3) for s in fresh) else "FAIL"))
# Six more at once: each refused once (the counter counts connections closed, not attempts to
# take them while the previous one is still closing).
burst = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(6)]
print("%s: six at once over the cap are all closed" % ("ok" if all(rawhttp.closed_by_server(s, 5) for s in burst) else "FAIL"))
PY
expect_eq "the connection-cap script ran to its end" "${PIPESTATUS[0]}" 0
checks_from "$T/cap.out"
before=$(sed -n 's/^rejected-before //p' "$T/cap.out")
expect_eq "/status counts each refused connection once (1 + 6 more than before)" \
    "$(status_field http://127.0.0.1:$PC connections.rejected)" "$((before + 7))"

# The open-file limit against the bounds (max_connections 1000 + 16 status + 128 fills + 64 =
# 1208 files): a soft limit below it is raised up to the hard limit; a hard limit below it is
# said at start, since connections past it would be reset without a log line.
printf 'limits: {max_connections: 1000}\n' >"$T/nofile.yaml"
nofile_start() { # NAME ULIMIT-ARGS...: start with those limits, LAST_PID the edge itself
    local name=$1; shift
    PN=$(free_port)
    (ulimit "$@"; exec "$EDGE" -c "$T/nofile.yaml" --listen 127.0.0.1:$PN --root "$T/root") \
        2>"$T/$name.log" &
    LAST_PID=$!
    EDGE_PIDS+=("$LAST_PID")
    wait_listening "$name" "$LAST_PID"
}
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 1208 ]; then
    nofile_start nofile_soft -Sn 256
    expect_match "a soft open-file limit of 256 is raised to what the bounds need" \
        "$(cat "$T/nofile_soft.log")" 'open-file limit raised from 256 to 1208 for the connection bounds'
    expect_match "the process runs with it" "$(grep 'Max open files' /proc/$LAST_PID/limits)" \
        '^Max open files +1208 '
    check "no warning when it could be raised" bash -c "! grep -q 'warn: open-file' '$T/nofile_soft.log'"
    kill -TERM "$LAST_PID"; wait "$LAST_PID" 2>/dev/null
else
    skip "raising the open-file limit: the hard limit here is $hard, below 1208"
fi
nofile_start nofile_hard -n 256
expect_match "a hard open-file limit of 256 is a warning at start, with the figures" \
    "$(cat "$T/nofile_hard.log")" \
    'warn: open-file limit 256 \(hard limit 256\) is below the 1208 that limits.max_connections 1000, status_max_connections 16 and max_fills 128 need'
expect_eq "and it serves" "$(curl -s -o /dev/null -w '%{http_code}' -m 10 http://127.0.0.1:$PN/v/index.m3u8)" 200
kill -TERM "$LAST_PID"; wait "$LAST_PID" 2>/dev/null
finish
