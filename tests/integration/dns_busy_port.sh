#!/bin/bash
# dns_busy_port: geodnsd refuses an address another process serves (another geodnsd, or any
# socket bound without SO_REUSEPORT) instead of sharing its traffic: exit 1, a message naming the
# address, protocol and the process that holds it (name and pid), and no "listening" line. Its
# own workers share the port; a reload does not trip over its own claim; a restart right after a
# stop binds at once.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
conf=$DATA/geodnsd.yaml

# refused DESC ADDR_REGEX ARGS...: starts geodnsd with ARGS, which must exit 1 (bounded wait)
# with a line on stderr matching ADDR_REGEX and without saying it listens.
refused() {
    local desc=$1 want=$2 pid i st err=$TMP/refused.log
    shift 2
    "$GEODNSD" -c "$conf" "$@" 2>"$err" >/dev/null &
    pid=$!
    DNS_BG_PIDS+=("$pid")
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        fail "$desc: exits" "still running after $((10 * DNS_SLOW)) s: $(tail -n 5 "$err")"
        return 1
    fi
    wait "$pid"
    st=$?
    expect_eq "$desc: exit status 1" "$st" 1
    R=$(cat "$err")
    printf '%s\n' "$R" | sed 's/^/  | /'
    has "$desc: stderr names the address, protocol and cause" "$want"
    hasnt "$desc: never says it is listening" 'listening on|geodnsd ready'
}

dns_start "$conf" || finish
first=$SERVER_PID

echo "# a second geodnsd on the same addresses (three times: the pid is named every time)"
for attempt in 1 2 3; do
    refused "second geodnsd, attempt $attempt" \
        "error: 127\\.0\\.0\\.1:$PORT is in use: another geodnsd \\(pid $first\\) is already serving it \\(udp and tcp\\); stop it or change listen:" \
        --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT"
done
refused "second geodnsd on the IPv6 address only" \
    "\\[::1\\]:$PORT is in use: another geodnsd \\(pid $first\\)" --listen "[::1]:$PORT"

q www.example.test
expect "first server still answers UDP" ok rcode=NOERROR +aa an=2
q --tcp www.example.test
expect "first server still answers TCP" ok rcode=NOERROR +aa an=2
q --server ::1 --tcp www.example.test
expect "first server still answers TCP on ::1" ok rcode=NOERROR +aa an=2

echo "# a reload keeps the claim (it does not check the address against itself)"
from=$(($(log_lines) + 1))
kill -HUP "$SERVER_PID"
if wait_log 'reload ok \(SIGHUP\)' 10 "$from"; then
    pass "SIGHUP: reload ok"
else
    fail "SIGHUP: reload ok" "$(tail -n +"$from" "$LOG")"
fi
R=$(tail -n +"$from" "$LOG")
hasnt "SIGHUP: no address-in-use error" 'in use|cannot listen'
q --tcp www.example.test
expect "after the reload: TCP answered" ok rcode=NOERROR

echo "# another program on the port (bound without SO_REUSEPORT)"
# holder.py PROTO: binds 127.0.0.1 on a free port (UDP, or TCP listening), prints the port and
# keeps the socket until it is killed or its stdin (the test's coproc pipe) closes.
cat >"$TMP/holder.py" <<'PYEOF'
import socket, sys
typ = socket.SOCK_DGRAM if sys.argv[1] == 'udp' else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, typ)
s.bind(('127.0.0.1', 0))
if typ == socket.SOCK_STREAM:
    s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
PYEOF
for proto in udp tcp; do
    coproc HOLDER { python3 "$TMP/holder.py" "$proto"; }
    hpid=$HOLDER_PID
    DNS_BG_PIDS+=("$hpid")
    read -r -t $((10 * DNS_SLOW)) hport <&"${HOLDER[0]}" || hport=""
    if [ -z "$hport" ]; then
        fail "a $proto socket holds a port" "holder.py printed no port"
        continue
    fi
    refused "geodnsd on a port another program holds ($proto)" \
        "127\\.0\\.0\\.1:$hport/$proto is in use: another process \\(python3, pid [0-9]+\\) is already serving it" \
        --listen "127.0.0.1:$hport"
    kill "$hpid" 2>/dev/null
    wait "$hpid" 2>/dev/null
done

echo "# wildcard and specific addresses of one port"
# A wildcard listener is only bound inside a private network namespace, whose one interface is
# its own loopback: 0.0.0.0 there reaches nothing outside the test.
if unshare -rn ip link set lo up 2>/dev/null; then
    # shellcheck disable=SC2016
    R=$(timeout $((60 * DNS_SLOW)) unshare -rn bash -c '
        ip link set lo up
        timeout $((30 * $5)) "$1" -c "$2" --listen "0.0.0.0:$3" 2>"$4/ns.log" >/dev/null &
        p=$!
        for ((i = 0; i < 100 * $5; i++)); do
            grep -q "geodnsd ready" "$4/ns.log" && break
            kill -0 $p 2>/dev/null || break
            sleep 0.1
        done
        grep -q "geodnsd ready" "$4/ns.log" && echo "wildcard server ready"
        timeout $((10 * $5)) "$1" -c "$2" --listen "127.0.0.1:$3" 2>&1 >/dev/null
        echo "status=$?"
        kill $p 2>/dev/null
        wait $p' _ "$GEODNSD" "$conf" "$PORT" "$TMP" "$DNS_SLOW" 2>&1)
    printf '%s\n' "$R" | sed 's/^/  | /'
    has "0.0.0.0:$PORT served (in a private network namespace)" '^wildcard server ready$'
    has "127.0.0.1:$PORT refused while 0.0.0.0:$PORT is served: exit status 1" '^status=1$'
    has "127.0.0.1:$PORT refused: the message names the address and protocol" \
        "127\\.0\\.0\\.1:$PORT/udp is in use: another process \\(geodnsd, pid [0-9]+\\)"
    hasnt "127.0.0.1:$PORT refused: never says it is listening" "listening on 127"
else
    skip "specific address refused while the wildcard one is served" \
        "no private network namespace here (unshare -rn)"
fi

echo "# restart on the same port right after a stop"
# A TCP connection the server closes on stop leaves a TIME_WAIT socket on its port.
python3 - "$PORT" "$DNS_SLOW" >"$TMP/tw.out" 2>&1 <<'PYEOF' &
import socket, struct, sys
port, slow = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(('127.0.0.1', port), timeout=5 * slow)
m = struct.pack('>HHHHHH', 5, 0x100, 1, 0, 0, 0) + b'\x03www\x07example\x04test\x00' + \
    struct.pack('>HH', 1, 1)
s.sendall(struct.pack('>H', len(m)) + m)
print('answer', len(s.recv(4096)) > 14, flush=True)
s.settimeout(30 * slow)
try:
    while s.recv(4096):
        pass
    print('closed by server', flush=True)
except OSError as e:
    print('error', e, flush=True)
s.close()
PYEOF
twpid=$!
DNS_BG_PIDS+=("$twpid")
for ((i = 0; i < 50 * DNS_SLOW; i++)); do
    grep -q '^answer' "$TMP/tw.out" && break
    sleep 0.1
done
dns_stop
expect_eq "first server: SIGTERM: exit status 0" "$STOP_STATUS" 0
wait "$twpid" 2>/dev/null
R=$(cat "$TMP/tw.out")
has "a TCP client was connected when the server stopped" '^closed by server'
tw=$(ss -Htan state time-wait "( sport = :$PORT )" 2>/dev/null | wc -l)
echo "  | TIME_WAIT sockets on port $PORT: $tw"
: >"$LOG"
"$GEODNSD" -c "$conf" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" 2>>"$LOG" >/dev/null &
SERVER_PID=$!
if wait_log 'geodnsd ready' 10; then
    pass "a new geodnsd starts at once on the port just freed"
else
    fail "a new geodnsd starts at once on the port just freed" "$(tail -n 10 "$LOG")"
fi
q www.example.test
expect "restarted server answers UDP" ok rcode=NOERROR
q --tcp www.example.test
expect "restarted server answers TCP" ok rcode=NOERROR
dns_stop
expect_eq "restarted server: SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
