#!/bin/bash
# edge_linger: the lingering close. A request answered with an error before the client has sent
# it whole (a 100 KB head: 431; a malformed head with 100 KB after it: 400; a PUT of 8 MB over
# max_upload: 413, or to the edge: 405) gets its status line and then a clean end of stream on
# every one of 50 tries (also a PUT from an address outside upload_allow: 403), from a client that reads while sending and from one that sends
# everything first; each has one access line. A client that goes on sending after the reply is
# closed by timeouts.linger (a slow sender) or by limits.max_linger_bytes (a flood); with
# timeouts.linger 0 the connection is closed at once. At max_connections a lingering
# connection is closed to admit a new client, and SIGTERM does not wait for one. Only "closed
# within a generous bound" is asserted, never a close time.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
echo hello >"$T/root/a.ts"
cat >"$T/a.yaml" <<YAML
timeouts: {linger: 3s}
limits: {max_upload: 1M}
YAML
PA=$(free_port)
start_edge origin -c "$T/a.yaml" --listen 127.0.0.1:$PA --root "$T/root"
PB=$(free_port)
start_edge edge --listen 127.0.0.1:$PB --origin http://127.0.0.1:$PA
# Long lingering, a small byte cap, two connections: the byte bound, the eviction and the drain.
cat >"$T/c.yaml" <<YAML
timeouts: {linger: 60s, drain: 60s}
limits: {max_linger_bytes: 1M, max_connections: 2}
YAML
PC=$(free_port)
start_edge long -c "$T/c.yaml" --listen 127.0.0.1:$PC --root "$T/root"
PID_C=$LAST_PID
cat >"$T/d.yaml" <<YAML
timeouts: {linger: 0s}
YAML
PD=$(free_port)
start_edge nolinger -c "$T/d.yaml" --listen 127.0.0.1:$PD --root "$T/root"
cat >"$T/e.yaml" <<YAML
upload_allow: [192.0.2.0/24]
YAML
PE=$(free_port)
start_edge noupload -c "$T/e.yaml" --listen 127.0.0.1:$PE --root "$T/root"

# The Python part runs in the background: at its end it holds a lingering connection for the
# stop below. Its exit status is the last line of its output.
{
python3 - "$PA" "$PB" "$PC" "$PD" "$PE" "$SRC/tests/lib" <<'PY'
import json, socket, sys, time
sys.path.insert(0, sys.argv[6])
import rawhttp
pa, pb, pc, pd, pe = (int(p) for p in sys.argv[1:6])
TRIES = 50
BOUND = 15  # seconds of slack past a configured bound

def report(ok, desc):
    print("%s: %s" % ("ok" if ok else "FAIL", desc), flush=True)

# Every try gets the status line and a clean end, whichever way the client sends.
for name, port, cases in (("origin", pa, (("head", "431"), ("malformed", "400"), ("put", "413"))),
                          ("edge", pb, (("head", "431"), ("malformed", "400"), ("put", "405"))),
                          ("noupload", pe, (("put", "403"),))):
    for kind, want in cases:
        for together in (True, False):
            got = rawhttp.refused_counts("127.0.0.1", port, kind, TRIES, together=together)
            report(got == {want + "/eof": TRIES}, "%s: %s (%s): %s then end of stream on %d tries: %s"
                   % (name, kind, "sent while reading" if together else "sent first", want, TRIES, got))

def reply_then(port, data):
    return rawhttp.reply_then("127.0.0.1", port, data)

def lingering(port):
    buf = rawhttp.exchange_all("127.0.0.1", port,
                               b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return json.loads(buf.split(b"\r\n\r\n", 1)[1])["connections"]["lingering"]

def lingering_becomes(port, want):
    got = None
    for _ in range(100):
        got = lingering(port)
        if got == want:
            break
        time.sleep(0.05)
    return got

bad = b"GET /a.ts HTTP/1.1\r\nHost : x\r\n\r\n"
report(lingering_becomes(pa, 0) == 0, "origin: /status connections.lingering 0 after the tries above")
s, st = reply_then(pa, bad)
report(st == "400" and not rawhttp.closed_after_reply(s),
       "origin: after the 400 the connection lingers: bytes sent after it are taken (%s)" % st)
report(lingering(pa) == 1, "origin: /status counts it in connections.lingering")
s.close()
got = lingering_becomes(pa, 0)
report(got == 0, "origin: connections.lingering back to 0 once the client closed (%s)" % got)
s, st = reply_then(pd, bad)
report(st == "400" and rawhttp.closed_after_reply(s),
       "linger 0: after the 400 the connection is closed at once (%s)" % st)
s.close()

# A slow sender (20 KB/s, far below the byte cap) is closed by timeouts.linger (3 s).
st, end, sent, secs = rawhttp.send_and_read("127.0.0.1", pa, bad, timeout=BOUND,
                                            more=b"x" * 1024, pace=0.05)
report(st == "400" and 1 <= secs < 3 + BOUND,
       "origin: a client sending on after the reply is closed by timeouts.linger "
       "(%s %s, %.1f s, %d bytes)" % (st, end, secs, sent))
# A flood is closed by max_linger_bytes (1M) long before timeouts.linger (60 s).
st, end, sent, secs = rawhttp.send_and_read("127.0.0.1", pc, bad, timeout=BOUND,
                                            more=b"x" * 65536)
report(st == "400" and secs < BOUND and sent < (1 << 20) + (64 << 20),
       "long: a flood after the reply is closed by max_linger_bytes "
       "(%s %s, %.1f s, %d bytes taken)" % (st, end, secs, sent))

# At max_connections (2) lingering connections give way: the oldest is closed for a new client.
held = []
for _ in range(2):
    s, st = reply_then(pc, bad)
    held.append(s)
    time.sleep(0.2)
report(not rawhttp.closed_after_reply(held[0], 0.1), "long: the held connections linger")
got = rawhttp.status("127.0.0.1", pc, b"GET /a.ts HTTP/1.1\r\nHost: x\r\n\r\n")
report(got == "200", "long: a new client at max_connections is served (%s)" % got)
report(rawhttp.closed_after_reply(held[0]), "long: the oldest lingering connection made room")
report(not rawhttp.closed_after_reply(held[1]), "long: the other one still lingers")
for s in held:
    s.close()

# A lingering connection held open while the server is stopped (the script below signals it).
s, st = reply_then(pc, bad)
print("lingering", st, flush=True)
closed = rawhttp.sends_until_closed(s, 4 * BOUND)
s.close()
report(closed, "long: the lingering connection was closed by the stop")
PY
echo "exit $?"
} >"$T/linger.out" 2>&1 &
SCRIPT=$!
for _ in $(seq 600); do grep -q "^lingering" "$T/linger.out" && break; sleep 0.1; done
expect_eq "a connection lingers before the stop" "$(sed -n 's/^lingering //p' "$T/linger.out")" 400
T0=$(date +%s)
kill -TERM "$PID_C"
for _ in $(seq 200); do kill -0 "$PID_C" 2>/dev/null || break; sleep 0.1; done
ELAPSED=$(($(date +%s) - T0))
check "SIGTERM: the edge exits long before timeouts.linger and timeouts.drain (60 s): ${ELAPSED}s" \
    bash -c "! kill -0 $PID_C 2>/dev/null && [ $ELAPSED -lt 20 ]"
stop_pid "$PID_C"
expect_eq "and exits 0" "$STOP_RC" 0
wait "$SCRIPT"
expect_eq "the linger script ran to its end" "$(tail -n 1 "$T/linger.out")" "exit 0"
checks_from "$T/linger.out"

# One access line per refused request: 2 x 50 PUTs answered 413 by the origin.
expect_eq "one access line per refused PUT" "$(grep -c '"PUT /up/big.ts" 413 ' "$T/origin.log")" 100
expect_eq "one access line per 100 KB head (origin, edge)" \
    "$(grep -c '"-" - 431 ' "$T/origin.log") $(grep -c '"-" - 431 ' "$T/edge.log")" "100 100"
finish
