#!/bin/bash
# dns_tcp_burst: a burst of connections far above tcp.max_connections does not stop the TCP
# listener: the cap closes the connections idle the longest and new clients are still served,
# with one worker and with two. Running out of file descriptors pauses accepting, logs once and
# resumes. A client that sends many queries and never reads (the server queues its answers) does
# not leak that queue when its connection slot is reused.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
MAXC=16

# burst.py PORT COUNT CAP: opens COUNT connections at once and keeps them open while the shell
# queries the server (it prints "held N" and waits for a line on stdin), then counts how many the
# server has closed, asks one query on each still open, closes them all and prints the figures.
cat >"$TMP/burst.py" <<'PYEOF'
import select, socket, struct, sys, time
port, count, cap, slow = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def query(qid):
    m = struct.pack('>HHHHHH', qid, 0x100, 1, 0, 0, 0) + b'\x03www\x07example\x04test\x00' + \
        struct.pack('>HH', 1, 1)
    return struct.pack('>H', len(m)) + m
conns = []
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(('127.0.0.1', port))
    conns.append(s)
# Every connect completes in the kernel (the listen backlog is far larger than COUNT).
deadline = time.monotonic() + 10 * slow
pending = set(conns)
while pending and time.monotonic() < deadline:
    _, w, _ = select.select([], list(pending), [], 0.5)
    for s in w:
        pending.discard(s)
print('held %d' % (count - len(pending)), flush=True)
sys.stdin.readline()
# The server accepts the backlog over a few loop turns and closes the oldest beyond the cap:
# wait (bounded) until at most CAP are still open.
def is_open(s):
    try:
        return s.recv(1, socket.MSG_PEEK) != b''
    except BlockingIOError:
        return True
    except OSError:
        return False
deadline = time.monotonic() + 10 * slow
while True:
    still = [s for s in conns if is_open(s)]
    if len(still) <= cap or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print('open %d' % len(still), flush=True)
# One query on each, then the answers, within one bounded wait for all of them.
want = {}
for i, s in enumerate(still):
    try:
        s.send(query(1000 + i))
        want[s] = struct.pack('>H', 1000 + i)
    except OSError:
        pass
answered = 0
deadline = time.monotonic() + 10 * slow
while want and time.monotonic() < deadline:
    r, _, _ = select.select(list(want), [], [], 0.5)
    for s in r:
        try:
            d = s.recv(4096)
        except OSError:
            d = b''
        if len(d) > 14 and d[2:4] == want[s]:
            answered += 1
        del want[s]
print('answered %d' % answered, flush=True)
for s in conns:
    s.close()
PYEOF

# tcp_ok N DESC: N fresh TCP queries (each on its own connection, so with several workers the
# kernel spreads them over every worker's listener) must all be answered.
tcp_ok() {
    local n=$1 desc=$2 i ok=0
    for ((i = 0; i < n; i++)); do
        q --tcp --timeout $((3000 * DNS_SLOW)) www.example.test
        [ "$RC" = 0 ] && [ "$(sum rcode)" = NOERROR ] && ok=$((ok + 1))
    done
    expect_eq "$desc" "$ok/$n" "$n/$n"
}

for workers in 1 2; do
    echo "# $workers worker(s), max_connections $MAXC"
    conf=$DATA/burst$workers.yaml
    sed -e 's/^workers:.*//' -e 's/^tcp:.*//' "$DATA/geodnsd.yaml" >"$conf"
    printf 'workers: %d\ntcp: {idle_timeout: 60s, max_connections: %d}\n' "$workers" "$MAXC" >>"$conf"
    dns_start "$conf" || continue
    count=$((MAXC * 3 * workers))
    cap=$((MAXC * workers))
    coproc BURST { python3 "$TMP/burst.py" "$PORT" "$count" "$cap" "$DNS_SLOW" 2>&1; }
    DNS_BG_PIDS+=("$BURST_PID")
    burst_in=${BURST[1]}
    read -r -t $((30 * DNS_SLOW)) word held <&"${BURST[0]}" || held=0
    expect_eq "$workers worker(s): $count connections opened at once" "$word $held" "held $count"
    tcp_ok 8 "$workers worker(s): new TCP clients answered while $count connections are held"
    echo go >&"$burst_in"
    read -r -t $((60 * DNS_SLOW)) _ still <&"${BURST[0]}" || still=x
    read -r -t $((60 * DNS_SLOW)) _ answered <&"${BURST[0]}" || answered=x
    wait "$BURST_PID" 2>/dev/null
    if [ "$still" != x ] && [ "$still" -le "$cap" ] && [ "$still" -gt 0 ]; then
        pass "$workers worker(s): the cap closed the oldest connections ($still of $count still open)"
    else
        fail "$workers worker(s): the cap closed the oldest connections" \
            "still open: $still, want 1..$cap"
    fi
    expect_eq "$workers worker(s): every held connection still open is answered" "$answered" "$still"
    tcp_ok 8 "$workers worker(s): new TCP clients answered after the burst closed"
    q www.example.test
    expect "$workers worker(s): UDP still answered" ok rcode=NOERROR
    alive "$workers worker(s): server alive after the burst"
    dns_stop
    expect_eq "$workers worker(s): SIGTERM: exit status 0 (no leak under LeakSanitizer)" "$STOP_STATUS" 0
done

echo "# out of file descriptors: accepting pauses and resumes"
conf=$DATA/emfile.yaml
sed -e 's/^workers:.*//' -e 's/^tcp:.*//' "$DATA/geodnsd.yaml" >"$conf"
printf 'workers: 1\ntcp: {idle_timeout: 60s, max_connections: %d}\n' "$MAXC" >>"$conf"
if dns_start "$conf"; then
    # Room for a few connections above what the server holds once started.
    nofile=$(($(find "/proc/$SERVER_PID/fd" -mindepth 1 | wc -l) + 4))
    dns_stop
    : >"$LOG"
    (
        ulimit -n "$nofile" && exec "$GEODNSD" -c "$conf" --listen "127.0.0.1:$PORT" \
            --listen "[::1]:$PORT"
    ) 2>>"$LOG" >/dev/null &
    SERVER_PID=$!
    if wait_log 'geodnsd ready' 10; then
        coproc BURST { python3 "$TMP/burst.py" "$PORT" "$MAXC" "$MAXC" "$DNS_SLOW" 2>&1; }
        DNS_BG_PIDS+=("$BURST_PID")
        burst_in=${BURST[1]}
        read -r -t $((30 * DNS_SLOW)) word held <&"${BURST[0]}" || held=0
        expect_eq "$MAXC connections opened at once (file descriptor limit $nofile)" "$word $held" \
            "held $MAXC"
        if wait_log 'tcp: cannot accept connections: Too many open files' 10; then
            pass "out of file descriptors: logged, accepting paused"
        else
            fail "out of file descriptors: logged, accepting paused" "$(tail -n 5 "$LOG")"
        fi
        R=$(cat "$LOG")
        count "out of file descriptors: one warning while it lasts" 'cannot accept connections' 1
        echo go >&"$burst_in"
        read -r -t $((60 * DNS_SLOW)) _ _ <&"${BURST[0]}"
        read -r -t $((60 * DNS_SLOW)) _ _ <&"${BURST[0]}"
        wait "$BURST_PID" 2>/dev/null
        tcp_ok 4 "file descriptors free again: new TCP clients answered"
        alive "server alive after running out of file descriptors"
        dns_stop
        expect_eq "fd limit: SIGTERM: exit status 0" "$STOP_STATUS" 0
    else
        fail "geodnsd starts with $nofile file descriptors" "$(tail -n 10 "$LOG")"
    fi
fi

echo "# slow readers: answers queued for a client that does not read, then its slot reused"
conf=$DATA/slow.yaml
sed -e 's/^workers:.*//' -e 's/^tcp:.*//' "$DATA/geodnsd.yaml" >"$conf"
printf 'workers: 1\ntcp: {idle_timeout: 60s, max_connections: 2}\n' >>"$conf"
dns_start "$conf" || finish
out=$(python3 - "$PORT" "$DNS_SLOW" <<'PYEOF'
import socket, struct, sys, time
port, slow = int(sys.argv[1]), int(sys.argv[2])
# 100 A records: about 1.7 KB per answer, so a few hundred unread answers fill both buffers.
m = struct.pack('>HHHHHH', 7, 0x100, 1, 0, 0, 0) + b'\x04many\x07example\x04test\x00' + \
    struct.pack('>HH', 1, 1)
frame = struct.pack('>H', len(m)) + m
def slow_reader():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', port))
    s.settimeout(2 * slow)
    sent = 0
    try:
        for _ in range(40):
            s.sendall(frame * 50)
            sent += 50
    except OSError:
        pass  # the server stopped reading: it has answers queued for us
    return s, sent
def ask():
    s = socket.create_connection(('127.0.0.1', port), timeout=5 * slow)
    q = struct.pack('>HHHHHH', 9, 0x100, 1, 0, 0, 0) + b'\x03www\x07example\x04test\x00' + \
        struct.pack('>HH', 1, 1)
    s.sendall(struct.pack('>H', len(q)) + q)
    try:
        d = s.recv(4096)
    except OSError:
        d = b''
    return s, len(d) > 14 and d[2:4] == b'\x00\x09'
# Round 1: two slow readers fill the pool; new clients take their slots (the cap closes them).
# Round 2: a slow reader closes itself, a new client reuses the slot.
slow_socks = [slow_reader(), slow_reader()]
print('slow_sent %d' % min(n for _, n in slow_socks))
ok = 0
keep = []
for i in range(4):
    s, good = ask()
    keep.append(s)
    ok += good
print('answered_after_cap %d' % ok)
for s, _ in slow_socks:
    s.close()
for s in keep:
    s.close()
s, n = slow_reader()
s.close()
time.sleep(0.2 * slow)
s, good = ask()
s.close()
print('answered_after_close %d' % int(good))
PYEOF
)
echo "$out" | sed 's/^/  | /'
v=$(echo "$out" | awk '$1=="slow_sent" {print $2}')
if [ -n "$v" ] && [ "$v" -ge 100 ]; then
    pass "slow readers sent many queries without reading ($v)"
else
    fail "slow readers sent many queries without reading" "$out"
fi
expect_eq "clients served after the cap closed the slow readers" \
    "$(echo "$out" | awk '$1=="answered_after_cap" {print $2}')" 4
expect_eq "client served in the slot of a slow reader that left" \
    "$(echo "$out" | awk '$1=="answered_after_close" {print $2}')" 1
alive "server alive after the slow readers"
dns_stop
expect_eq "slow readers: SIGTERM: exit status 0 (no leak under LeakSanitizer)" "$STOP_STATUS" 0
if grep -q 'LeakSanitizer\|AddressSanitizer' "$LOG"; then
    fail "no sanitizer report in the server log" "$(grep -A8 'Sanitizer' "$LOG" | head -n 20)"
else
    pass "no sanitizer report in the server log"
fi
finish
