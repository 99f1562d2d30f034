#!/usr/bin/env bash
# health_probe: healthcheck against small servers standing in for PoPs on 127.0.x.1: every
# address probed (one dead), the state file's contents, anti-flap down and up over cron-like
# --once rounds, a corrupt previous state replaced, the lock serializing two runs, hostile
# servers (blackhole, trickle, endless headers, garbage, huge body) bounded by the probe timeout
# and a round by --deadline, probe.addresses, the real segment-edge, a bad PoP file, load from
# /status (and from a status URL on another host and port), --textfile, --interval.
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

hc_init health-probe

# The servers: mode http (/healthz "ok", /status serves EXTRA when given, else 404), blackhole
# (accepts, never answers), trickle (a status line, then a byte every 50 ms), headers (endless
# headers), garbage (not HTTP, then close), bigbody (10 MB without "ok").
cat >"$TMP/pop.py" <<'EOF'
import http.server, socket, sys, threading, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = sys.argv[4] if len(sys.argv) > 4 else ""
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode == "http":
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            print("request %s host=%s ua=%s" % (self.path, self.headers.get("Host"),
                  self.headers.get("User-Agent")), flush=True)
            code, body = 404, b"not found\n"
            if self.path == "/healthz":
                code, body = 200, b"ok\n"
            elif self.path == "/status" and extra:
                code, body = 200, extra.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    class Server(http.server.ThreadingHTTPServer):
        address_family = fam
        allow_reuse_address = True
        daemon_threads = True
    srv = Server((host, port), Handler)
    print("listening", flush=True)
    srv.serve_forever()
ls = socket.socket(fam)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(64)
print("listening", flush=True)
def serve(c):
    try:
        if mode == "blackhole":
            time.sleep(3600)
        elif mode == "trickle":
            c.sendall(b"HTTP/1.1 200 OK\r\n")
            while True:
                c.sendall(b"X")
                time.sleep(0.05)
        elif mode == "headers":
            c.sendall(b"HTTP/1.1 200 OK\r\n")
            while True:
                c.sendall(b"X-Pad: yyyyyyyyyyyyyyyyyyyy\r\n" * 100)
        elif mode == "garbage":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff\r\n\r\n")
            c.close()
        elif mode == "bigbody":
            n = 10 * 1024 * 1024
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            for _ in range(n // 65536):
                c.sendall(b"x" * 65536)
    except OSError:
        pass
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

# start_pop NAME MODE HOST PORT [EXTRA]: start a server, wait for its "listening" (printed once
# its socket listens); its PID in PID_<NAME>. The log goes first: a restarted server's log holds
# the last one's "listening" until the new process truncates it, which the background job may not
# have done yet when the loop below first looks (a probe then found nothing listening).
start_pop() {
    local name=$1 i
    rm -f "$TMP/$name.log"
    python3 "$TMP/pop.py" "${@:2}" >"$TMP/$name.log" 2>&1 &
    local pid=$!
    DNS_BG_PIDS+=("$pid")
    printf -v "PID_$name" '%s' "$pid"
    for ((i = 0; i < 50; i++)); do
        grep -q listening "$TMP/$name.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    fail "server $name ($2 on $3:$4) starts" "$(cat "$TMP/$name.log")"
    finish
}

# stop_pop NAME: stop a server by its PID.
stop_pop() {
    local var="PID_$1"
    kill "${!var}" 2>/dev/null
    wait "${!var}" 2>/dev/null
}

# hc ARGS...: run healthcheck; stderr in $R (and $TMP/hc.err), exit status in $RC, seconds in $SECS.
hc() {
    local t0 t1
    t0=$(date +%s.%N)
    "$HC" "$@" 2>"$TMP/hc.err" >/dev/null
    RC=$?
    t1=$(date +%s.%N)
    R=$(cat "$TMP/hc.err")
    SECS=$(python3 -c "print(round($t1 - $t0, 2))")
}

# js FILE EXPR: a Python expression on the JSON document d of FILE.
js() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# lt A B: A < B for decimal numbers.
lt() {
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"
}

P1=$(free_port)
P2=$(free_port)
P3=$(free_port)
HAVE6=0
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    HAVE6=1
fi
start_pop fra http 127.0.1.1 "$P1" '{"mode": "edge", "load": {"value": 123.5, "unit": "rps"}}'
start_pop nyc http 127.0.2.1 "$P1"
start_pop tcp http 127.0.2.2 "$P2" '{"load": {"value": '
start_pop bh blackhole 127.0.3.1 "$P1"
start_pop trickle trickle 127.0.4.1 "$P1"
start_pop headers headers 127.0.5.1 "$P1"
start_pop garbage garbage 127.0.6.1 "$P1"
start_pop big bigbody 127.0.7.1 "$P1"
start_pop bigstatus bigbody 127.0.7.2 "$P1"
[ "$HAVE6" = 1 ] && start_pop six http ::1 "$P3"

FLAP='down_after: 2, window: 3, up_after: 2'
# Servers that answer get 5 s: a python server's first request (lazy imports) took over 1 s on
# a loaded machine, and the anti-flap counts below would then be off by that failure.
POPS=$TMP/pops.yaml
cat >"$POPS" <<EOF
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.1.1, 127.0.1.2],
        probe: {url: "http://fra.example.test:$P1/healthz", body: ok, timeout: 5s, $FLAP}}
  nyc: {location: [40.71, -74.01], addresses: [127.0.2.1],
        probe: {url: "http://127.0.2.1:$P1/healthz", status: false, timeout: 5s, $FLAP}}
  tcp: {location: [40.71, -74.01], addresses: [127.0.2.2],
        probe: {type: tcp, port: $P2, status: /status, timeout: 5s}}
  bh: {location: [1.35, 103.82], addresses: [127.0.3.1],
       probe: {url: "http://127.0.3.1:$P1/healthz", timeout: 700ms}}
  trickle: {location: [1.35, 103.82], addresses: [127.0.4.1],
            probe: {url: "http://127.0.4.1:$P1/healthz", timeout: 700ms}}
  headers: {location: [1.35, 103.82], addresses: [127.0.5.1],
            probe: {url: "http://127.0.5.1:$P1/healthz", timeout: 5s}}
  garbage: {location: [1.35, 103.82], addresses: [127.0.6.1],
            probe: {url: "http://127.0.6.1:$P1/healthz", timeout: 5s}}
  big: {location: [1.35, 103.82], addresses: [127.0.7.1],
        probe: {url: "http://127.0.7.1:$P1/healthz", body: ok, timeout: 5s, status: false}}
  bigstatus: {location: [1.35, 103.82], addresses: [127.0.7.2],
              probe: {type: tcp, port: $P1, status: /status, timeout: 5s}}
  named: {location: [1.35, 103.82], hostname: edge.example.test,
          probe: {url: "http://edge.example.test/healthz"}}
  plain: {location: [1.35, 103.82], addresses: [127.0.9.1]}
  part: {location: [1.35, 103.82], addresses: [127.0.10.1, 127.0.10.2],
         probe: {url: "http://127.0.10.1:$P1/healthz", addresses: [127.0.10.2], status: false}}
EOF
if [ "$HAVE6" = 1 ]; then
    cat >>"$POPS" <<EOF
  six: {location: [1.35, 103.82], addresses: [127.0.8.1, "::1"],
        probe: {url: "http://six.example.test:$P3/healthz", status: false, timeout: 5s}}
EOF
fi
S=$OUT/ams.json
addr() { js "$S" "d['pops']['$1']['addresses']['$2']['$3']"; }
pop() { js "$S" "d['pops']['$1']['$2']"; }

# --- round 1: every address, every kind of server ---------------------------------------------
hc --once -c "$POPS" --vantage ams --out "$OUT" --textfile "$OUT/health.prom"
expect_eq "first round exits 0" "$RC" 0
check "round bounded by the slowest probe timeout, in parallel ($SECS s)" lt "$SECS" 4
expect_eq "format" "$(js "$S" 'd["format"]')" geodns-health
expect_eq "version" "$(js "$S" 'd["version"]')" 1
expect_eq "vantage" "$(js "$S" 'd["vantage"]')" ams
check "time is now" python3 -c "import json, time, sys; sys.exit(abs(json.load(open('$S'))['time'] - time.time()) > 30)"
expect_eq "fra: the PoP is up (one address up)" "$(pop fra state)" up
expect_eq "fra 127.0.1.1 up" "$(addr fra 127.0.1.1 state)" up
expect_eq "fra 127.0.1.1 reason" "$(addr fra 127.0.1.1 reason)" "http 200"
check "fra 127.0.1.1 rtt recorded" lt 0 "$(addr fra 127.0.1.1 rtt_ms)"
expect_eq "fra 127.0.1.2 (nothing listening) down" "$(addr fra 127.0.1.2 state)" down
expect_reason() {
    case $2 in *$3*) pass "$1" ;; *) fail "$1" "reason '$2', want '$3'" ;; esac
}
expect_reason "fra 127.0.1.2 reason" "$(addr fra 127.0.1.2 reason)" "connection refused"
expect_eq "fra load from /status" "$(pop fra load)" 123.5
expect_eq "fra load_reason empty" "$(pop fra load_reason)" ""
check "probe sent GET /healthz with the URL's Host and our User-Agent" \
    grep -q "request /healthz host=fra.example.test:$P1 ua=geodns-healthcheck/1" "$TMP/fra.log"
check "status read from the first address that is up" grep -q "request /status" "$TMP/fra.log"
expect_eq "nyc up" "$(pop nyc state)" up
expect_eq "nyc: status false, no load" "$(pop nyc load)" None
expect_eq "tcp probe up" "$(addr tcp 127.0.2.2 reason)" "tcp connect"
expect_reason "tcp: broken status JSON" "$(pop tcp load_reason)" "not JSON: /status:"
expect_eq "tcp: no load" "$(pop tcp load)" None
expect_eq "blackhole down" "$(addr bh 127.0.3.1 state)" down
expect_reason "blackhole bounded by the probe timeout" "$(addr bh 127.0.3.1 reason)" \
    "timeout after 700 ms waiting for the response"
expect_eq "bh: no address up, no load" "$(pop bh load_reason)" "no address up"
expect_reason "trickle bounded by the probe timeout" "$(addr trickle 127.0.4.1 reason)" \
    "timeout after 700 ms reading the response"
expect_reason "endless headers bounded by the buffer" "$(addr headers 127.0.5.1 reason)" \
    "bad response: response head larger than 65536 bytes"
expect_reason "garbage status line" "$(addr garbage 127.0.6.1 reason)" "bad response: bad status line"
expect_reason "10 MB body judged on its first 64 KiB" "$(addr big 127.0.7.1 reason)" \
    'http 200, body lacks "ok" in its first 64 KiB'
expect_eq "10 MB status body: no load, and why" "$(pop bigstatus load_reason)" \
    "status body larger than 64 KiB"
expect_eq "a PoP without a probe is not in the file" "$(js "$S" '"plain" in d["pops"]')" False
expect_eq "a PoP with a hostname only is not probed" "$(js "$S" '"named" in d["pops"]')" False
expect_eq "probe.addresses: only the picked address is probed" \
    "$(js "$S" 'sorted(d["pops"]["part"]["addresses"])')" "['127.0.10.2']"
has "state change logged with its reason" "fra 127.0.1.2: unknown -> down \(connect: connection refused\)"
if [ "$HAVE6" = 1 ]; then counts="11 PoPs, 13 addresses in [0-9]+ ms: 5 up, 8 down, 13 changes"; else
    counts="10 PoPs, 11 addresses in [0-9]+ ms: 4 up, 7 down, 11 changes"; fi
has "round summary" "round: $counts, load read for 1 of 7, 1 not probed \(no addresses\); wrote $S"
if [ "$HAVE6" = 1 ]; then
    expect_eq "six: IPv6 ::1 probed separately, up" "$(addr six ::1 state)" up
    expect_eq "six: 127.0.8.1 down" "$(addr six 127.0.8.1 state)" down
    check "six: the v6 probe carried the Host header" grep -q "host=six.example.test:$P3" "$TMP/six.log"
else
    skip "IPv6 address probed" "no ::1 on this host"
fi
expect_eq "only the state file, the lock and the textfile in the directory" \
    "$(ls -A "$OUT" | tr '\n' ' ')" ".ams.lock ams.json health.prom "

# --- textfile --------------------------------------------------------------------------------
T=$(cat "$OUT/health.prom")
R=$T
has "textfile: address up" "^geodns_health_up\{vantage=\"ams\",pop=\"fra\",address=\"127.0.1.1\"\} 1$"
has "textfile: address down" "^geodns_health_up\{vantage=\"ams\",pop=\"fra\",address=\"127.0.1.2\"\} 0$"
has "textfile: rtt" "^geodns_health_rtt_seconds\{vantage=\"ams\",pop=\"fra\",address=\"127.0.1.1\"\} 0\.[0-9]+$"
has "textfile: load" "^geodns_health_load\{vantage=\"ams\",pop=\"fra\"\} 123.5$"
has "textfile: round timestamp" "^geodns_health_round_timestamp_seconds\{vantage=\"ams\"\} $(js "$S" 'd["time"]')$"
has "textfile: probes counter" "^geodns_health_probes_total\{vantage=\"ams\",pop=\"fra\",address=\"127.0.1.2\"\} 1$"
has "textfile: failures counter" "^geodns_health_failures_total\{vantage=\"ams\",pop=\"fra\",address=\"127.0.1.2\"\} 1$"
has "textfile: typed" "^# TYPE geodns_health_probes_total counter$"

# --- anti-flap across cron runs: down after 2 failures in 3, up after 2 successes ------------
since_up=$(addr nyc 127.0.2.1 since)
stop_pop nyc
hc --once -c "$POPS" --vantage ams --out "$OUT"
expect_eq "nyc: 1 failure of 3: still up" "$(addr nyc 127.0.2.1 state)" up
expect_reason "nyc: the failure is recorded" "$(addr nyc 127.0.2.1 reason)" "connection refused"
expect_eq "nyc: history newest first" "$(addr nyc 127.0.2.1 history)" 01
hc --once -c "$POPS" --vantage ams --out "$OUT"
expect_eq "nyc: 2 failures of 3: down" "$(addr nyc 127.0.2.1 state)" down
expect_eq "nyc PoP down" "$(pop nyc state)" down
check "nyc: since moved at the change" test "$(addr nyc 127.0.2.1 since)" -ge "$since_up"
has "nyc: change logged" "nyc 127.0.2.1: up -> down \(connect: connection refused\)"
start_pop nyc http 127.0.2.1 "$P1"
hc --once -c "$POPS" --vantage ams --out "$OUT"
expect_eq "nyc: 1 success: still down" "$(addr nyc 127.0.2.1 state)" down
expect_eq "nyc: ok_streak 1" "$(addr nyc 127.0.2.1 ok_streak)" 1
hc --once -c "$POPS" --vantage ams --out "$OUT"
expect_eq "nyc: 2 successes: up" "$(addr nyc 127.0.2.1 state)" up
expect_eq "nyc: counters carried over 5 runs" "$(addr nyc 127.0.2.1 probes)/$(addr nyc 127.0.2.1 failures)" 5/2
expect_eq "fra counters carried" "$(addr fra 127.0.1.1 probes)" 5

# --- a corrupt previous state is reported once and replaced ----------------------------------
printf '{"format": "geodns-health", "version": 1, "vantage": "ams", "time": 12,' >"$S"
hc --once -c "$POPS" --vantage ams --out "$OUT"
expect_eq "corrupt previous state: the run still succeeds" "$RC" 0
has "corrupt previous state reported with its position" "previous state unreadable, the history starts fresh: $S:[0-9]+:[0-9]+: "
expect_eq "reported once" "$(printf '%s\n' "$R" | grep -c 'previous state')" 1
expect_eq "history starts fresh" "$(addr fra 127.0.1.1 probes)" 1
# A state file of another vantage is not taken as ours.
sed 's/"vantage": "ams"/"vantage": "fra-1"/' "$S" >"$S.tmp" && mv "$S.tmp" "$S"
hc --once -c "$POPS" --vantage ams --out "$OUT"
has "another vantage's file refused" "written by vantage 'fra-1', not 'ams'"
expect_eq "and replaced" "$(js "$S" 'd["vantage"]')" ams

# --- the lock serializes runs ----------------------------------------------------------------
# hold_lock: hold the vantage's lock from a helper until it is killed (PID in LOCKER).
hold_lock() {
    local i
    rm -f "$TMP/locker.log"
    python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(60)' \
        "$OUT/.ams.lock" >"$TMP/locker.log" &
    LOCKER=$!
    DNS_BG_PIDS+=("$LOCKER")
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        grep -q locked "$TMP/locker.log" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the lock helper takes the lock"
}
# Two runs started while the lock is held both wait for it; once it is released they take it in
# turn, so the second reads the state the first wrote (which one is first does not matter).
before=$(addr fra 127.0.1.1 probes)
hold_lock
"$HC" --once -c "$POPS" --vantage ams --out "$OUT" 2>"$TMP/a.err" &
A=$!
"$HC" --once -c "$POPS" --vantage ams --out "$OUT" 2>"$TMP/b.err" &
B=$!
for ((i = 0; i < 100 * DNS_SLOW; i++)); do
    grep -q "waiting for $OUT/.ams.lock" "$TMP/a.err" && grep -q "waiting for $OUT/.ams.lock" "$TMP/b.err" &&
        break
    sleep 0.1
done
check "a run waits for the lock held" grep -q "waiting for $OUT/.ams.lock" "$TMP/a.err"
check "so does the other" grep -q "waiting for $OUT/.ams.lock" "$TMP/b.err"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
wait "$A"
RA=$?
wait "$B"
RB=$?
expect_eq "two overlapping runs both succeed" "$RA/$RB" 0/0
expect_eq "the second read the first's state (serialized)" "$(addr fra 127.0.1.1 probes)" $((before + 2))
check "each obtained the lock after its wait" \
    test "$(cat "$TMP/a.err" "$TMP/b.err" | grep -c "lock $OUT/.ams.lock obtained")" -eq 2
# A lock held past the deadline: exit 2, file untouched.
hold_lock
cp "$S" "$TMP/before.json"
hc --once -c "$POPS" --vantage ams --out "$OUT" --deadline 1
expect_eq "lock not obtained within the deadline: exit 2" "$RC" 2
has "lock failure explained" "holds $OUT/.ams.lock: gave up after 1 s"
check "state file untouched" cmp -s "$S" "$TMP/before.json"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
# --out that is missing or not a directory: said as such, exit 2.
hc --once -c "$POPS" --vantage ams --out "$TMP/no-such-dir"
expect_eq "--out missing: exit 2" "$RC" 2
has "--out missing: named, and that healthcheck does not create it" \
    "--out $TMP/no-such-dir: no such directory \(healthcheck does not create it"
hc --once -c "$POPS" --vantage ams --out "$S"
expect_eq "--out a file: exit 2" "$RC" 2
has "--out a file: not a directory" "--out $S: not a directory"

# --- the round deadline and the concurrency bound --------------------------------------------
cat >"$TMP/slow.yaml" <<EOF
pops:
  bh: {location: [1.35, 103.82], addresses: [127.0.3.1],
       probe: {url: "http://127.0.3.1:$P1/healthz", timeout: 20s}}
  fra: {location: [50.11, 8.68], addresses: [127.0.1.1],
        probe: {url: "http://127.0.1.1:$P1/healthz", timeout: 20s}}
EOF
hc --once -c "$TMP/slow.yaml" --vantage slow --out "$OUT" --deadline 1
expect_eq "deadline: the round is written" "$RC" 0
check "deadline: a 20 s blackhole probe ends with the 1 s round ($SECS s)" lt "$SECS" 3
S=$OUT/slow.json
expect_eq "deadline: the blackhole fails" "$(addr bh 127.0.3.1 reason)" "timeout (round deadline)"
expect_eq "deadline: the healthy PoP is up" "$(addr fra 127.0.1.1 state)" up
has "deadline: counted in the summary" "1 ended by the deadline"
hc --once -c "$TMP/slow.yaml" --vantage slow --out "$OUT" --deadline 1 --concurrency 1
expect_eq "concurrency 1: a probe not started before the deadline fails as such" \
    "$(addr fra 127.0.1.1 reason)" "timeout (round deadline, not started)"
expect_eq "concurrency 1: one probe at a time (the blackhole first)" "$(addr bh 127.0.3.1 reason)" \
    "timeout (round deadline)"

# --- a status URL on another host and port: its port on the PoP's address, its host in Host ----
start_pop stprobe http 127.0.12.1 "$P1"
start_pop ststatus http 127.0.12.1 "$P2" '{"load": {"value": 42}}'
cat >"$TMP/status-url.yaml" <<EOF
pops:
  st: {location: [50.11, 8.68], addresses: [127.0.12.1],
       probe: {url: "http://probe.example.test:$P1/healthz",
               status: "http://status.example.test:$P2/status"}}
EOF
hc --once -c "$TMP/status-url.yaml" --vantage st --out "$OUT"
S=$OUT/st.json
expect_eq "status URL: load read on its port at the PoP's address" "$(pop st load)" 42
check "status URL: its host and port in the Host header" \
    grep -q "request /status host=status.example.test:$P2 " "$TMP/ststatus.log"
check "status URL: the probe keeps its own Host" \
    grep -q "request /healthz host=probe.example.test:$P1 " "$TMP/stprobe.log"
R=$(cat "$TMP/stprobe.log")
hasnt "status URL: the probe port is not asked for /status" "request /status"
printf '%s\n' 'pops:' '  st: {location: [1, 2], addresses: [127.0.12.1],' \
    "       probe: {url: \"http://127.0.12.1:$P1/healthz\"," \
    '               status: "/st atus\r\nX-Injected: yes"}}' >"$TMP/bad-status.yaml"
hc --once -c "$TMP/bad-status.yaml" --vantage st --out "$OUT"
expect_eq "status path with a space and CR LF: exit 1" "$RC" 1
has "status path with a space and CR LF: file:line:col" \
    "$TMP/bad-status.yaml:4:24: status must be a path .*no spaces or control bytes"
stop_pop stprobe
stop_pop ststatus

# --- the real segment-edge: /healthz and the load from its /status --------------------------
if [ -x "$BIN/segment-edge" ]; then
    PE=$(free_port)
    mkdir -p "$TMP/edge-root"
    "$BIN/segment-edge" --listen "127.0.11.1:$PE" --root "$TMP/edge-root" 2>"$TMP/edge.log" &
    DNS_BG_PIDS+=("$!")
    for _ in $(seq 50); do grep -q "listening on" "$TMP/edge.log" 2>/dev/null && break; sleep 0.1; done
    cat >"$TMP/edge.yaml" <<EOF
pops:
  edge: {location: [50.11, 8.68], addresses: [127.0.11.1], capacity: 1000,
         probe: {url: "http://127.0.11.1:$PE/healthz", body: ok}}
EOF
    hc --once -c "$TMP/edge.yaml" --vantage edge --out "$OUT"
    S=$OUT/edge.json
    expect_eq "segment-edge: /healthz up" "$(addr edge 127.0.11.1 reason)" "http 200"
    expect_eq "segment-edge: load read from its /status" \
        "$(js "$S" 'isinstance(d["pops"]["edge"]["load"], (int, float))')" True
    expect_eq "segment-edge: no load_reason" "$(pop edge load_reason)" ""
else
    skip "segment-edge probed" "no segment-edge in $BIN"
fi

# --- configuration and usage errors ----------------------------------------------------------
printf 'pops:\n  fra: {location: [1, 2], addresses: [127.0.1.1],\n        probe: {url: "ftp://x/"}}\n' \
    >"$TMP/bad.yaml"
hc --once -c "$TMP/bad.yaml" --vantage ams --out "$OUT"
expect_eq "bad PoP file: exit 1" "$RC" 1
has "bad PoP file: file:line:col" "$TMP/bad.yaml:3:[0-9]+: probe url 'ftp://x/'"
hc --once -c "$TMP/missing.yaml" --vantage ams --out "$OUT"
expect_eq "missing PoP file: exit 1" "$RC" 1
hc --once -c "$POPS" --vantage 'a/b' --out "$OUT"
expect_eq "bad vantage name: exit 1" "$RC" 1
hc --once -c "$POPS" --vantage .ams --out "$OUT"
expect_eq "a vantage starting with a dot (a hidden state file geodnsd skips): exit 1" "$RC" 1
has "a leading dot: the reason" "not starting with '.'"
check "a leading dot: no hidden state file written" test ! -e "$OUT/.ams.json"
hc --once --interval 5 -c "$POPS" --vantage ams --out "$OUT"
expect_eq "--once with --interval: exit 1" "$RC" 1
hc -c "$POPS" --vantage ams --out "$OUT" --once --concurrency 0
expect_eq "--concurrency 0: exit 1" "$RC" 1
hc --interval 0.001 -c "$POPS" --vantage ams --out "$OUT"
expect_eq "--interval 0.001 (a round a millisecond): exit 1" "$RC" 1
has "--interval: says the range" "--interval '0.001': give seconds, at least 0.1, at most 86400"
hc --help
expect_eq "--help: exit 0" "$RC" 0

# --- --interval: rounds go on, the PoP file is re-read, a bad one keeps the last good ---------
cat >"$TMP/loop.yaml" <<EOF
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.1.1],
        probe: {url: "http://127.0.1.1:$P1/healthz", timeout: 1s}}
EOF
"$HC" --interval 0.3 -c "$TMP/loop.yaml" --vantage loop --out "$OUT" --textfile "$OUT/loop.prom" \
    2>"$TMP/loop.err" &
L=$!
DNS_BG_PIDS+=("$L")
S=$OUT/loop.json
# loop_probes: fra's probe count in the loop's state file (0 before its first round is written).
loop_probes() {
    local n
    n=$(addr fra 127.0.1.1 probes)
    case $n in '' | *[!0-9]*) echo 0 ;; *) echo "$n" ;; esac
}
# Each step waits for what it needs (bounded), not for a time in which rounds should have run.
for ((i = 0; i < 100 * DNS_SLOW; i++)); do [ "$(loop_probes)" -ge 2 ] && break; sleep 0.1; done
n1=$(loop_probes)
printf 'pops: [\n' >"$TMP/loop.yaml"
for ((i = 0; i < 100 * DNS_SLOW; i++)); do
    grep -q "keeping the last good PoP file" "$TMP/loop.err" && break
    sleep 0.1
done
nb=$(loop_probes)
for ((i = 0; i < 100 * DNS_SLOW; i++)); do [ "$(loop_probes)" -gt "$nb" ] && break; sleep 0.1; done
n2=$(loop_probes)
kill -TERM "$L"
wait "$L"
RL=$?
expect_eq "--interval: stops on SIGTERM with exit 0" "$RL" 0
check "--interval: several rounds ($n1)" test "$n1" -ge 2
check "--interval: rounds go on with the last good PoP file ($nb -> $n2)" test "$n2" -gt "$nb"
check "--interval: the bad PoP file is logged" grep -q "loop.yaml:.*keeping the last good PoP file" "$TMP/loop.err"
check "--interval: textfile written" grep -q '^geodns_health_up{vantage="loop",pop="fra",address="127.0.1.1"} 1$' "$OUT/loop.prom"

finish
