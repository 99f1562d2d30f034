#!/usr/bin/env bash
# status_linger: geodnsd's metrics and status listener answers a request it refuses before the
# client has sent it whole (a 100 KB or 1 MB head: 431; a malformed head with 100 KB after it:
# 400; a PUT with a 512 KB body: 405) with a lingering close: the status line and then a clean
# end of stream on every one of 50 tries, from a client that reads while sending and from one
# that sends everything first. A client that goes on sending is closed by the fixed bounds
# (STATUS_LINGER_MS, STATUS_LINGER_MAX in geodnsd/status.h); a lingering connection is the first
# to make room for a new client, before an older slow one; SIGTERM closes it. Only "closed within
# a generous bound" is asserted, never a close time.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
EX=$TMP/ex
geo_example_conf "$EX"
MPORT=$(free_port 127.0.0.1)
dns_start "$EX/geodnsd.yaml" --metrics "$MPORT" || finish

# The Python part runs in the background: at its end it holds a lingering connection for the
# stop below. Its exit status is the last line of its output.
{
python3 - "$MPORT" "$SRC/tests/lib" "$DNS_SLOW" <<'EOF'
import socket, sys, time
sys.path.insert(0, sys.argv[2])
import rawhttp
port, slow = int(sys.argv[1]), int(sys.argv[3])
TRIES = 50
BOUND = 15 * slow  # seconds of slack past a bound
LINGER_S, LINGER_MAX = 2, 1 << 20  # geodnsd/status.h

def report(ok, desc):
    print("%s: %s" % ("ok" if ok else "FAIL", desc), flush=True)

rawhttp.REFUSED["head1m"] = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 1000000 + b"\r\n\r\n"
rawhttp.REFUSED["put512k"] = (b"PUT /metrics HTTP/1.1\r\nContent-Length: 524288\r\n\r\n" +
                              b"x" * 524288)
for kind, want in (("head", "431"), ("head1m", "431"), ("malformed", "400"), ("put512k", "405")):
    for together in (True, False):
        got = rawhttp.refused_counts("127.0.0.1", port, kind, TRIES, together=together)
        report(got == {want + "/eof": TRIES}, "%s (%s): %s then end of stream on %d tries: %s"
               % (kind, "sent while reading" if together else "sent first", want, TRIES, got))

def reply_then(data):
    return rawhttp.reply_then("127.0.0.1", port, data, BOUND)

bad = b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"
s, st = reply_then(bad)
report(st == "400" and not rawhttp.closed_after_reply(s, 0.1),
       "after the 400 the connection lingers: bytes sent after it are taken (%s)" % st)
s.close()
s, st = reply_then(b"GET /metrics HTTP/1.1\r\n\r\n")
report(st == "200" and rawhttp.closed_after_reply(s),
       "after a 200 with nothing left unread the connection is closed at once (%s)" % st)
s.close()

# A slow sender (20 KB/s) is closed by the time bound, a flood by the byte bound.
st, end, sent, secs = rawhttp.send_and_read("127.0.0.1", port, bad, timeout=BOUND,
                                            more=b"x" * 1024, pace=0.05)
report(st == "400" and 1 <= secs < LINGER_S + BOUND,
       "a client sending on after the reply is closed by the time bound (%s %s, %.1f s, %d bytes)"
       % (st, end, secs, sent))
st, end, sent, secs = rawhttp.send_and_read("127.0.0.1", port, bad, timeout=BOUND,
                                            more=b"x" * 65536)
report(st == "400" and secs < LINGER_S + BOUND and sent < LINGER_MAX + (64 << 20),
       "a flood after the reply is closed by the byte bound (%s %s, %.1f s, %d bytes taken)"
       % (st, end, secs, sent))

# 16 connection slots: a slow client first, then 15 lingering ones; a new client closes the
# oldest lingering one, not the older slow one.
slow_client = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
slow_client.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
time.sleep(0.1)
held = []
for _ in range(15):
    held.append(reply_then(bad)[0])
got = rawhttp.status("127.0.0.1", port, b"GET /metrics HTTP/1.1\r\n\r\n")
report(got == "200", "a new client with every slot taken is served (%s)" % got)
report(rawhttp.closed_after_reply(held[0], 0.1), "the oldest lingering connection made room")
report(not rawhttp.closed_after_reply(slow_client, 0.1), "the older slow client is still open")
for s in held + [slow_client]:
    s.close()
time.sleep(0.5)

s, st = reply_then(bad)
print("lingering", st, flush=True)
closed = rawhttp.sends_until_closed(s, 4 * BOUND, 0.05)
s.close()
report(closed, "the lingering connection was closed (by the stop or the time bound)")
EOF
echo "exit $?"
} >"$TMP/linger.out" 2>&1 &
SCRIPT=$!
DNS_BG_PIDS+=("$SCRIPT")
for ((i = 0; i < 600 * DNS_SLOW; i++)); do grep -q "^lingering" "$TMP/linger.out" && break; sleep 0.1; done
expect_eq "a connection lingers before the stop" "$(sed -n 's/^lingering //p' "$TMP/linger.out")" 400
dns_stop
expect_eq "geodnsd stops cleanly with a lingering connection open" "$STOP_STATUS" 0
wait "$SCRIPT"
expect_eq "the linger script ran to its end" "$(tail -n 1 "$TMP/linger.out")" "exit 0"
checks_from "$TMP/linger.out"
finish
