#!/bin/bash
# edge_idle_memory: an idle client connection costs the edge a few KB of resident memory, a new
# one that has sent nothing as well as a keep-alive one between requests: the read buffer, the
# response head, the request's path, key and upload names and the head arena are taken when a
# request begins and given back when the connection is idle with nothing buffered. 1,000 of each
# are held open; the resident memory they add, per connection, must stay under 6 KiB (3,887
# bytes for a new one and 4,116 for a keep-alive one here; 21,921 and 29,958 when every
# connection kept its buffers), and every one of them is still served.
. "$(dirname "$0")/../lib/edge-lib.sh"

N=1000        # connections of each kind
BOUND=6144    # bytes of resident memory per idle connection

if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((2 * N + 300)) ]; then
    skip "idle connections' memory" "hard open-file limit $(ulimit -Hn) is below $((2 * N + 300))"
    finish
fi

mkdir -p "$T/root"
echo hello >"$T/root/a.ts"
# Idle connections are not closed by the header or idle timeouts while the test holds them.
cat >"$T/edge.yaml" <<'YAML'
timeouts: {header_read: 300s, idle: 300s}
YAML
PE=$(free_port)
start_edge edge -c "$T/edge.yaml" --listen 127.0.0.1:$PE --root "$T/root" --workers 2 \
    --no-access-log
EDGE_PID=$LAST_PID

# The client holds the connections and reads the edge's resident memory (/proc) at each step,
# once the edge counts them all open (/status connections.active, its own connection included):
#   rss0 after 40 connections served one request each and closed (every worker has served),
#   rss1 with N fresh connections more (nothing sent), rss2 with N keep-alive connections more
#   (one request answered on each, sequentially). Then a second request on some of the
#   keep-alive ones and a first on some of the fresh ones, whole and in two parts.
python3 - "$PE" "$EDGE_PID" "$N" >"$T/idle.out" 2>&1 <<'PY'
import json, resource, socket, sys, time
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2 * n + 200
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY
                                                else min(want, hard), hard))
REQ = b"GET /a.ts HTTP/1.1\r\nHost: t\r\n\r\n"

def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024

def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def answer(s):
    """One response to REQ read whole; True when it is a 200 with the file."""
    buf = b""
    while b"\r\n\r\n" not in buf or len(buf) < buf.index(b"\r\n\r\n") + 4 + 6:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf.startswith(b"HTTP/1.1 200 ") and buf.endswith(b"\r\n\r\nhello\n")

def active():
    s = connect()
    s.sendall(b"GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return json.loads(buf.split(b"\r\n\r\n", 1)[1])["connections"]["active"]

def settle(count):
    """Wait (60 s at most) until the edge counts count connections open besides the probe."""
    for _ in range(600):
        if active() == count + 1:
            return True
        time.sleep(0.1)
    print("FAIL: the edge counts %d connections open (%d held)" % (active() - 1, count))
    return False

warm = [connect() for _ in range(40)]
for s in warm:
    s.sendall(REQ)
    answer(s)
    s.close()
settle(0)
rss0 = rss()
fresh = [connect() for _ in range(n)]
settle(n)
rss1 = rss()
keep = []
bad = 0
for _ in range(n):
    s = connect()
    s.sendall(REQ)
    bad += not answer(s)
    keep.append(s)
settle(2 * n)
rss2 = rss()
print("%s: %d keep-alive connections got their first answer (%d bad)"
      % ("ok" if bad == 0 else "FAIL", n, bad))
print("rss %d %d %d" % (rss0, rss1, rss2))
# Idle buffers given back are taken again: a second request on a keep-alive connection, a
# first one on a fresh connection.
bad = 0
for s in keep[:50] + fresh[:50]:
    s.sendall(REQ)
    bad += not answer(s)
print("%s: 50 keep-alive connections answered a second request, 50 fresh ones a first (%d bad)"
      % ("ok" if bad == 0 else "FAIL", bad))
# A head in two reads keeps its buffers between them (the first part is in the arena, nothing in
# the read buffer): answered whole.
bad = 0
for s in keep[50:70] + fresh[50:70]:
    s.sendall(REQ[:20])
active()  # a round trip: the first parts have been read
for s in keep[50:70] + fresh[50:70]:
    s.sendall(REQ[20:])
    bad += not answer(s)
print("%s: 40 heads sent in two parts were answered (%d bad)" % ("ok" if bad == 0 else "FAIL", bad))
for s in fresh + keep:
    s.close()
settle(0)
print("ok: every connection closed")
PY
expect_eq "the client script ran to its end" "$?" 0
checks_from "$T/idle.out"
read -r rss0 rss1 rss2 < <(awk '/^rss / {print $2, $3, $4}' "$T/idle.out")
if [ -n "${rss2:-}" ]; then
    fresh=$(((rss1 - rss0) / N))
    keep=$(((rss2 - rss1) / N))
    echo "resident memory: $rss0 bytes at start; per connection: $fresh bytes for a fresh one, $keep for a keep-alive one"
    if grep -q 'GEODNS_SANITIZE:BOOL=ON' "${BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null ||
        grep -qa '__asan_init\|__tsan_init' "$EDGE"; then
        skip "resident memory per idle connection" "a sanitizer build keeps freed memory in quarantine"
    else
        check "a fresh connection adds $fresh bytes, under $BOUND" test "$fresh" -lt "$BOUND"
        check "a keep-alive connection between requests adds $keep bytes, under $BOUND" \
            test "$keep" -lt "$BOUND"
    fi
fi
expect_eq "the edge still serves" "$(curl -s -m 10 http://127.0.0.1:$PE/a.ts)" hello
finish
