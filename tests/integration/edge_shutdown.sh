#!/bin/bash
# edge_shutdown: the drain bounds the stop even while an origin fill runs. At timeouts.drain the
# fills still running are abandoned with their origin connections (their clients are closed),
# nothing of them is stored (no file left in the disk tier) and the process exits 0; a second
# signal does the same at once, also while the origin has not answered yet (well within
# first_byte). SIGHUP does not stop it: it logs that there is no reload and goes on serving.
# SIGTERM sent over and over until the process is gone (through the drain and the removal of the
# disk tier's files) still ends it with status 0.
# Bounds are generous (5 s past the configured drain); no time is asserted more closely.
. "$(dirname "$0")/../lib/edge-lib.sh"

# A scripted origin (tests/lib/fake_origin.py): /trickle/* a prompt head for a 1 MB body, then
# a byte every 0.5 s (within between_bytes: it would last 6 days); /hang/* reads the request
# and answers nothing for 10 minutes; anything else 200 "ok".
cat >"$T/origin.py" <<'PY'
import time
import fake_origin
def handle(req):
    if req.path.startswith("/trickle/"):
        req.send_head(200, [("Content-Type", "video/mp2t"), ("Cache-Control", "max-age=60")],
                      1000000)
        while True:
            req.write(b"x")
            time.sleep(0.5)
    elif req.path.startswith("/hang/"):
        time.sleep(600)
    else:
        req.reply(200, b"ok\n", [("Content-Type", "video/mp2t")])
fake_origin.main(handle)
PY
PO=$(free_port)
start_origin origin "$T/origin.py" $PO

BOUND=5 # seconds allowed past the configured moment of exit

# wait_gone PID LIMIT: wait up to LIMIT seconds for PID to exit; GONE_MS is how long it took
# (from T0_MS) and GONE_RC its exit status, or GONE_RC=running when it did not exit.
wait_gone() {
    local i
    GONE_RC=running
    for ((i = 0; i < $2 * 10; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            GONE_RC=$?
            break
        fi
        sleep 0.1
    done
    GONE_MS=$((($(date +%s%N) - T0_MS * 1000000) / 1000000))
    echo "exit after ${GONE_MS} ms: $GONE_RC"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_fill URL: until one origin fill is in flight.
wait_fill() {
    for _ in $(seq 100); do
        [ "$(status_field "$1" cache.fills_inflight)" = 1 ] && return 0
        sleep 0.05
    done
    return 1
}

# ---- SIGHUP: no reload, and no stop ----
cat >"$T/a.yaml" <<YAML
timeouts: {drain_grace: 1s, drain: 3s, between_bytes: 5s, origin_probe_interval: 1h}
YAML
PH=$(free_port)
start_edge edge_h -c "$T/a.yaml" --listen 127.0.0.1:$PH --origin http://127.0.0.1:$PO
H_PID=$LAST_PID
H=http://127.0.0.1:$PH
kill -HUP $H_PID
sleep 1
if check "SIGHUP leaves the edge running" kill -0 $H_PID; then
    expect_eq "after SIGHUP it still serves" "$(curl -s --max-time 5 $H/ok.ts)" ok
    expect_eq "after SIGHUP it is still ready" \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $H/readyz)" 200
fi
check "SIGHUP is logged at warn level: no reload, restart to apply" \
    grep -q 'warn: SIGHUP: .*no reload.*restart' "$T/edge_h.log"
stop_pid $H_PID
expect_eq "SIGTERM after SIGHUP still drains and exits 0" "$STOP_RC" 0

# ---- the drain timeout with a trickling fill (disk tier on) ----
PA=$(free_port)
start_edge edge_a -c "$T/a.yaml" --listen 127.0.0.1:$PA --origin http://127.0.0.1:$PO \
    --cache-disk "$T/disk"
A_PID=$LAST_PID
A=http://127.0.0.1:$PA
curl -s -o "$T/a.got" --max-time 60 "$A/trickle/a.ts" &
CURL_A=$!
wait_fill $A || die "no fill in flight" "$(cat "$T/edge_a.log")"
T0_MS=$(now_ms)
kill -TERM $A_PID
wait_gone $A_PID $((1 + 3 + BOUND))
expect_eq "a trickling fill does not outlive the drain: exit 0 within ${BOUND} s of grace + drain" \
    "$GONE_RC" 0
wait $CURL_A
check "the client of the cut fill got a truncated body" \
    test "$(stat -c %s "$T/a.got" 2>/dev/null || echo 0)" -lt 1000000
check "the log says the drain timed out" grep -q 'drain timeout: closing' "$T/edge_a.log"
check "the log says the fill was abandoned" grep -q 'abandoned 1 origin fill' "$T/edge_a.log"
check "the log ends with stopped" grep -q 'stopped' "$T/edge_a.log"
check "nothing of the cut fill is left in the disk tier" \
    bash -c "[ -z \"\$(find '$T/disk' -type f)\" ]"
sleep 1.5 # the origin notices the closed connection at its next byte
check "the origin connection was closed" grep -q 'origin gone /trickle/a.ts' "$T/origin.log"

# ---- a second signal during the drain grace, with a trickling fill ----
# Two workers, four clients collapsed on the fill: some of them most likely on the worker that
# does not run it.
cat >"$T/b.yaml" <<YAML
timeouts: {drain_grace: 30s, drain: 60s, between_bytes: 5s, origin_probe_interval: 1h}
YAML
PB=$(free_port)
start_edge edge_b -c "$T/b.yaml" --listen 127.0.0.1:$PB --origin http://127.0.0.1:$PO --workers 2
B_PID=$LAST_PID
B=http://127.0.0.1:$PB
CURL_B=()
for _ in 1 2 3 4; do
    curl -s -o /dev/null --max-time 60 "$B/trickle/b.ts" &
    CURL_B+=($!)
done
wait_fill $B || die "no fill in flight" "$(cat "$T/edge_b.log")"
sleep 0.5
kill -TERM $B_PID
sleep 0.5
T0_MS=$(now_ms)
kill -TERM $B_PID
wait_gone $B_PID $BOUND
expect_eq "a second signal stops at once with a trickling fill: exit 0 within ${BOUND} s" \
    "$GONE_RC" 0
wait "${CURL_B[@]}"
expect_eq "the origin was asked once for the collapsed clients" \
    "$(origin_hits "$T/origin.requests" /trickle/b.ts)" 1
check "the log says the second signal stops now" \
    grep -q 'second signal: stopping now' "$T/edge_b.log"
check "the log says the fill was abandoned" grep -q 'abandoned 1 origin fill' "$T/edge_b.log"

# ---- a second signal after the listeners closed, the origin not answering ----
cat >"$T/c.yaml" <<YAML
timeouts: {drain_grace: 1s, drain: 60s, first_byte: 60s, origin_probe_interval: 1h}
YAML
PC=$(free_port)
start_edge edge_c -c "$T/c.yaml" --listen 127.0.0.1:$PC --origin http://127.0.0.1:$PO
C_PID=$LAST_PID
C=http://127.0.0.1:$PC
curl -s -o /dev/null --max-time 60 "$C/hang/c.ts" &
CURL_C=$!
wait_fill $C || die "no fill in flight" "$(cat "$T/edge_c.log")"
kill -TERM $C_PID
sleep 2
check "the listeners are closed, the edge waits on the fill" kill -0 $C_PID
T0_MS=$(now_ms)
kill -TERM $C_PID
wait_gone $C_PID $BOUND
expect_eq "a second signal does not wait for first_byte: exit 0 within ${BOUND} s" "$GONE_RC" 0
wait $CURL_C
check "the log says the fill was abandoned" grep -q 'abandoned 1 origin fill' "$T/edge_c.log"

# ---- signals all through the stop: still exit 0 ----
# After the drain the process frees its cache and removes its disk tier's files, which takes a
# while with many. A signal then used to find the default action back (the handlers closed) and
# end the process with status 143, the files left behind. Signals are sent back to back from the
# first one until the process is gone; how many land in each phase does not matter.
mkdir -p "$T/disk_d"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n' >"$T/p.m3u8"
cat >"$T/origin_d.py" <<'PY'
import socket
import sys
import fake_origin
body = open(sys.argv[3], "rb").read()
def handle(req):
    # The head and the body go in two writes: without NODELAY each response of the persistent
    # connection waits out the edge's delayed ACK (40 ms; 3,000 of them took two minutes).
    req.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req.reply(200, body, [("Content-Type", "application/vnd.apple.mpegurl")])
fake_origin.main(handle, keep_alive=True)
PY
POD=$(free_port)
start_origin origin_d "$T/origin_d.py" $POD "$T/p.m3u8"
PD=$(free_port)
start_edge edge_d --listen 127.0.0.1:$PD --origin http://127.0.0.1:$POD --cache-mem 1M \
    --cache-disk "$T/disk_d" --cache-disk-size 256M --workers 2 --no-access-log
D_PID=$LAST_PID
# 3,000 playlists under distinct _HLS_msn keys through a 1M memory cache: most go to the disk tier.
python3 - $PD <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(3000):
    c.request("GET", "/p.m3u8?_HLS_msn=%d" % i)
    c.getresponse().read()
PY
for _ in $(seq 50); do
    [ "$(find "$T/disk_d" -name '*.obj' | wc -l)" -ge 200 ] && break
    sleep 0.1
done
files=$(find "$T/disk_d" -name '*.obj' | wc -l)
check "the disk tier holds files to remove at the stop ($files)" test "$files" -ge 200
sent=0
while kill -TERM $D_PID 2>/dev/null && [ $sent -lt 1000000 ]; do sent=$((sent + 1)); done
wait $D_PID
expect_eq "SIGTERM sent over and over ($sent times) until the process is gone: exit 0" "$?" 0
check "the log says it stopped" grep -q 'info: stopped' "$T/edge_d.log"
expect_eq "no file left in the disk tier" "$(find "$T/disk_d" -name '*.obj' | wc -l)" 0
finish
