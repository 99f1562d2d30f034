#!/bin/bash
# edge_status_listen: the status listener (status_listen) answers while the client listener is
# full. max_connections held by connections that never send a request (nothing to evict) make
# the client port refuse /healthz, while the status port answers /healthz and /status with the
# connections at the cap and a load ratio of 1; healthcheck probing the status port records the
# PoP up with its load, probing the client port records it down. The status port serves the
# status paths only (404 otherwise), its keep-alive connections are not evicted for client ones,
# its own bound (status_max_connections, one bound over all workers) refuses beyond it and
# hostile holders are closed by the header timeout, after which it serves again; during a drain
# both ports answer /readyz 503 until drain_grace ends, then both close. Addresses that clash
# with listen, an out-of-range bound and a busy status address are refused at start.
. "$(dirname "$0")/../lib/edge-lib.sh"

HC=$BIN/healthcheck
mkdir -p "$T/root/v"
echo '#EXTM3U' >"$T/root/v/index.m3u8"

# code URL [CURL ARGS...]: the status code of URL ("000" when the connection was refused or
# closed without an answer).
code() {
    local url=$1
    shift
    curl -s -o /dev/null -m 10 -w '%{http_code}' "$@" "$url"
}

# json URL EXPR [CURL ARGS...]: a Python expression on the JSON document d at URL.
json() {
    local url=$1 expr=$2
    shift 2
    curl -s -m 10 "$@" "$url" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$expr" 2>&1
}

# --- refused at start -------------------------------------------------------------------------
P=$(free_port)
edge_refused same_address 2 "status_listen 127\\.0\\.0\\.1:$P takes the connections of listen 127\\.0\\.0\\.1:$P" \
    --listen 127.0.0.1:$P --status-listen 127.0.0.1:$P --root "$T/root"
printf 'listen: ["127.0.0.1:%s"]\nstatus_listen: ["0.0.0.0:%s"]\n' "$P" "$P" >"$T/wild.yaml"
edge_refused wildcard 2 "wild\\.yaml:2:17: status_listen 0\\.0\\.0\\.0:$P takes the connections of listen 127\\.0\\.0\\.1:$P" \
    -c "$T/wild.yaml" --root "$T/root"
printf 'limits: {status_max_connections: 0}\n' >"$T/zero.yaml"
edge_refused zero_bound 2 "zero\\.yaml:1:34: '0' is not a whole number from 1 to 1024" -c "$T/zero.yaml" --listen 127.0.0.1:$P --root "$T/root"
printf 'status_listen: "127.0.0.1"\n' >"$T/noport.yaml"
edge_refused no_port 2 "noport\\.yaml:1:16: status_listen 127\\.0\\.0\\.1: expected host:port" -c "$T/noport.yaml" --listen 127.0.0.1:$P --root "$T/root"
# A status address another process holds: exit 1, the status address named.
PB=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); open(sys.argv[2], "w").close(); time.sleep(60)' "$PB" "$T/holder.ready" &
HOLDER=$!
EDGE_PIDS+=("$HOLDER")
for _ in $(seq 100); do [ -e "$T/holder.ready" ] && break; sleep 0.1; done
edge_refused busy 1 "status_listen: 127\\.0\\.0\\.1:$PB/tcp is in use: another process .*; stop it or change status_listen: in the config \\(or --status-listen\\)" \
    --listen 127.0.0.1:$P --status-listen 127.0.0.1:$PB --root "$T/root"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# --- a full client listener: the status listener still answers ---------------------------------
PM=$(free_port)
PS=$(free_port)
cat >"$T/full.yaml" <<YAML
status_listen: ["127.0.0.1:$PS"]
limits: {max_connections: 4}
timeouts: {header_read: 60s, idle: 60s}
load: {unit: connections, capacity: 4}
YAML
start_edge full -c "$T/full.yaml" --listen 127.0.0.1:$PM --root "$T/root"
FULL=$LAST_PID
check "the status listener is logged with its bound" \
    grep -q "status listener on 127.0.0.1:$PS (/healthz /readyz /status /metrics, at most 16 connections over it)" "$T/full.log"

# The holder: a keep-alive status connection that is not evicted for client ones, then the
# client listener filled with connections that never send a request; they stay open until
# $T/release appears (the checks below run meanwhile).
python3 - "$PM" "$PS" "$T" "$SRC/tests/lib" >"$T/holder.out" 2>&1 <<'PY' &
import json, os, socket, sys, time
sys.path.insert(0, sys.argv[4])
import rawhttp
pm, ps, tdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def say(ok, desc):
    print("%s: %s" % ("ok" if ok else "FAIL", desc), flush=True)

def conn(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def get(s, path):
    """One keep-alive GET on s: (status, body)."""
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            raise OSError("closed before the head")
        buf += c
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        c = s.recv(65536)
        if not c:
            raise OSError("closed in the body")
        body += c
    return head.split(b" ")[1].decode(), body

ska = conn(ps)
say(get(ska, "/healthz") == ("200", b"ok\n"), "status port: /healthz 200 on a keep-alive connection")
ka = []
for _ in range(4):
    s = conn(pm)
    assert get(s, "/v/index.m3u8")[0] == "200"
    ka.append(s)
    time.sleep(0.05)
new = conn(pm)
say(get(new, "/v/index.m3u8")[0] == "200", "a client connection over the cap is served (an idle one closed)")
say(rawhttp.closed_by_server(ka[0], 5), "the longest-idle client keep-alive connection was closed")
say(not rawhttp.closed_by_server(ska, 0.5), "the older keep-alive status connection was not evicted for it")
for s in ka[1:] + [new]:
    s.close()
st = None
for _ in range(200):
    st = json.loads(get(ska, "/status")[1])
    if st["connections"]["active"] == 0:
        break
    time.sleep(0.05)
say(st["connections"]["active"] == 0, "status port: the client connections closed (%d open)" % st["connections"]["active"])
say(st["status_connections"]["active"] == 1, "status port: its own connection counted apart (%d)" % st["status_connections"]["active"])
ska.close()

held = [conn(pm) for _ in range(4)]
time.sleep(0.3)
say(rawhttp.closed_by_server(conn(pm), 5), "client port full of connections that sent nothing: a new one is closed")
say(not any(rawhttp.closed_by_server(s, 0.2) for s in held), "the four connections that sent nothing are kept")
say(rawhttp.status("127.0.0.1", pm, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == "none",
    "client port full: /healthz gets no answer")
open(os.path.join(tdir, "held"), "w").close()
for _ in range(1200):
    if os.path.exists(os.path.join(tdir, "release")):
        break
    time.sleep(0.05)
else:
    say(False, "released within 60 s")
    sys.exit(1)
say(not any(rawhttp.closed_by_server(s, 0.1) for s in held), "the held connections stayed open through the checks")
for s in held:
    s.close()
PY
HOLDER=$!
EDGE_PIDS+=("$HOLDER")
for _ in $(seq 300); do [ -e "$T/held" ] && break; kill -0 "$HOLDER" 2>/dev/null || break; sleep 0.1; done
check "the client listener was filled" test -e "$T/held"

S=http://127.0.0.1:$PS
expect_eq "client port full: curl gets no answer on /healthz" "$(code http://127.0.0.1:$PM/healthz)" 000
expect_eq "status port: /healthz 200" "$(curl -s -m 10 "$S/healthz")" ok
expect_eq "status port: /readyz 200" "$(code "$S/readyz")" 200
expect_eq "status port: /status says the connections are at the cap" "$(json "$S/status" 'd["connections"]["active"]')" 4
expect_eq "status port: load in connections" "$(json "$S/status" 'd["load"]["unit"]')" connections
expect_eq "status port: load ratio at least 1" "$(json "$S/status" 'd["load"]["ratio"] >= 1')" True
expect_eq "status port: refused client connections counted" "$(json "$S/status" 'd["connections"]["rejected"] >= 2')" True
expect_eq "status port: the status connection is not in connections" \
    "$(json "$S/status" '(d["status_connections"]["active"], d["status_connections"]["max"], d["status_connections"]["listeners"])')" "(1, 16, 1)"
metrics=$(curl -s -m 10 "$S/metrics")
expect_match "status port: /metrics has the client connections" "$metrics" '^segment_edge_connections_active 4$'
expect_match "status port: /metrics counts the status connection apart" "$metrics" '^segment_edge_status_connections_active 1$'
expect_match "status port: /metrics has the load" "$metrics" '^segment_edge_load\{unit="connections"\} 4\.000$'
expect_match "status port: HEAD /healthz 200 without a body" \
    "$(curl -s -m 10 -I "$S/healthz" -w 'size=%{size_download}')" '^HTTP/1.1 200 OK'
expect_eq "status port: a file the client port serves is 404 there" "$(code "$S/v/index.m3u8")" 404
expect_eq "status port: another path is 404" "$(code "$S/nothing")" 404
expect_eq "status port: PUT is 404 (origin mode, loopback may upload on the client port)" \
    "$(code "$S/v/new.ts" -X PUT --data-binary x)" 404
check "status port: the PUT wrote nothing" test ! -e "$T/root/v/new.ts"
expect_eq "status port: POST 405 as on the client port" "$(code "$S/healthz" -X POST -d x)" 405
expect_eq "status port: OPTIONS is 404" "$(code "$S/healthz" -X OPTIONS)" 404

# healthcheck against the full edge: through the status port up with the load read, through the
# client port down.
if [ -x "$HC" ]; then
    mkdir -p "$T/hc"
    for which in status:$PS client:$PM; do
        cat >"$T/pops-${which%%:*}.yaml" <<EOF
pops:
  edge: {location: [50.11, 8.68], addresses: [127.0.0.1], capacity: 4,
         probe: {url: "http://127.0.0.1:${which#*:}/healthz", body: ok, timeout: 2s}}
EOF
        "$HC" --once -c "$T/pops-${which%%:*}.yaml" --vantage "${which%%:*}" --out "$T/hc" 2>"$T/hc-${which%%:*}.log"
        expect_eq "healthcheck through the ${which%%:*} port: exit 0" "$?" 0
    done
    hcs() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/hc/$1.json" "$2" 2>&1; }
    expect_eq "healthcheck, probe.url on the status port: the full edge is up" "$(hcs status 'd["pops"]["edge"]["state"]')" up
    expect_eq "healthcheck, probe.url on the status port: load read, at capacity" \
        "$(hcs status 'float(d["pops"]["edge"]["load"]), d["pops"]["edge"]["load_reason"]')" "(4.0, '')"
    expect_eq "healthcheck, probe.url on the client port: the full edge is down" "$(hcs client 'd["pops"]["edge"]["state"]')" down
    expect_eq "healthcheck, probe.url on the client port: no load" \
        "$(hcs client 'd["pops"]["edge"]["load"], d["pops"]["edge"]["load_reason"]')" "(None, 'no address up')"
else
    fail "healthcheck binary at $HC (build it first)"
fi

touch "$T/release"
wait "$HOLDER"
expect_eq "the holder script ran to its end" "$?" 0
checks_from "$T/holder.out"
grep -v -e '^ok: ' -e '^FAIL: ' "$T/holder.out" | head -20
stop_pid "$FULL"
expect_eq "full: stops with exit 0" "$STOP_RC" 0

# --- the status listener's own bound, on the command line, over four workers -------------------
PM=$(free_port)
PS=$(free_port)
cat >"$T/cap.yaml" <<YAML
limits: {max_connections: 100, status_max_connections: 3}
timeouts: {header_read: 2s, idle: 2s, body: 120s, drain_grace: 1500ms}
YAML
start_edge cap -c "$T/cap.yaml" --listen 127.0.0.1:$PM --status-listen 127.0.0.1:$PS --root "$T/root" --workers 4
CAP=$LAST_PID
python3 - "$PM" "$PS" "$SRC/tests/lib" >"$T/cap.out" 2>&1 <<'PY'
import json, socket, sys, time
sys.path.insert(0, sys.argv[3])
import rawhttp
pm, ps = int(sys.argv[1]), int(sys.argv[2])
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

def say(ok, desc):
    print("%s: %s" % ("ok" if ok else "FAIL", desc), flush=True)

def status(port):
    buf = rawhttp.exchange_all("127.0.0.1", port, b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return json.loads(buf.split(b"\r\n\r\n", 1)[1])

# Hostile clients take the whole bound: two send a head that never ends, one sends nothing.
hostile = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", ps), timeout=10)
    if i < 2:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    hostile.append(s)
t0 = time.time()
time.sleep(0.3)
say(rawhttp.status("127.0.0.1", ps, HEALTHZ) == "none", "a fourth status connection is refused at status_max_connections (3)")
st = status(pm)
say(st["workers"] == 4, "four workers")
sc = st["status_connections"]
say((sc["active"], sc["rejected"], sc["max"]) == (3, 1, 3),
    "the bound is one over all workers: 3 open, 1 refused, max 3 (got %d, %d, %d)" % (sc["active"], sc["rejected"], sc["max"]))
say(st["connections"]["rejected"] == 0, "the refused status connection is not counted as a client one")
say(rawhttp.status("127.0.0.1", pm, HEALTHZ) == "200", "the client port still answers /healthz")
closed = all(rawhttp.closed_by_server(s, 10) for s in hostile)
took = time.time() - t0
say(closed and 1.5 <= took <= 8, "the hostile status connections are closed by the header timeout (2 s; took %.1f s)" % took)
for s in hostile:
    s.close()
got = "none"
for _ in range(100):
    got = rawhttp.status("127.0.0.1", ps, HEALTHZ)
    if got == "200":
        break
    time.sleep(0.05)
say(got == "200", "then the status port serves again")
metrics = rawhttp.exchange_all("127.0.0.1", ps, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").decode()
say("\nsegment_edge_status_connections_rejected_total " in metrics and
    "\nsegment_edge_status_connections_rejected_total 0\n" not in metrics,
    "/metrics counts the refused status connections")

# Status connections in their lingering close (a 400 sent, the client still there) fill the
# bound: the oldest of them is closed to admit a prober, the others go on lingering.
BAD = b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"
lingering = []
for _ in range(3):
    s, st = rawhttp.reply_then("127.0.0.1", ps, BAD)
    say(st == "400", "a malformed request on the status port: 400 (%s)" % st)
    lingering.append(s)
    time.sleep(0.1)
say(not rawhttp.closed_after_reply(lingering[0], 0.1), "the status connections linger after their 400")
say(rawhttp.status("127.0.0.1", ps, HEALTHZ) == "200", "status port full of lingering closes: a prober is served")
say(rawhttp.closed_after_reply(lingering[0]), "the oldest lingering status connection made room")
say(not rawhttp.closed_after_reply(lingering[2]), "the newest one still lingers")
for s in lingering:
    s.close()

# Heads announcing a body that never comes are answered at the head, not after timeouts.body
# (120 s here): a PUT or OPTIONS 404, a GET with a body 413; the bound serves a prober at once.
held = []
for head, want in ((b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "404"),
                   (b"OPTIONS /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "404"),
                   (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "413"),
                   (b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "413")):
    t = time.time()
    s, st = rawhttp.reply_then("127.0.0.1", ps, head, timeout=20)
    say(st == want and time.time() - t < 10,
        "a head with a body to come on the status port: %s at the head (%s, %.1f s)" % (want, st, time.time() - t))
    held.append(s)
say(rawhttp.status("127.0.0.1", ps, HEALTHZ) == "200", "with those connections still open a prober is served")
for s in held:
    s.close()
PY
expect_eq "the status bound script ran to its end" "$?" 0
checks_from "$T/cap.out"
grep -v -e '^ok: ' -e '^FAIL: ' "$T/cap.out" | head -20

# Drain: /readyz 503 on both ports during drain_grace, then both listeners close together.
t0=$(date +%s.%N)
kill -TERM "$CAP"
expect_eq "drain: status port /readyz 503 draining" \
    "$(curl -s -m 10 -w ' %{http_code}' "http://127.0.0.1:$PS/readyz")" "draining
 503"
expect_eq "drain: client port /readyz 503" "$(code "http://127.0.0.1:$PM/readyz")" 503
for _ in $(seq 100); do
    [ "$(code "http://127.0.0.1:$PS/healthz")" = 000 ] && break
    sleep 0.1
done
t1=$(date +%s.%N)
expect_eq "drain: after drain_grace the status listener is closed" "$(code "http://127.0.0.1:$PS/healthz")" 000
check "drain: it stayed open for drain_grace (1.5 s; closed after $(python3 -c "print(round($t1 - $t0, 1))") s)" \
    python3 -c "import sys; sys.exit(0 if $t1 - $t0 >= 1.4 else 1)"
expect_eq "drain: and so is the client listener" "$(code "http://127.0.0.1:$PM/healthz")" 000
wait "$CAP"
expect_eq "drain: exit 0" "$?" 0

# --- status_allow: only the listed addresses read the status paths ------------------------------
# 127.0.0.2 is the prober; requests from 127.0.0.1 are a viewer's (curl --interface picks the
# source address on loopback).
PA=$(free_port)
PAS=$(free_port)
cat >"$T/allow.yaml" <<YAML
status_listen: ["127.0.0.1:$PAS"]
status_allow: [127.0.0.2/32]
YAML
start_edge allow -c "$T/allow.yaml" --listen 127.0.0.1:$PA --root "$T/root"
expect_eq "status_allow: the status port closes a connection from outside the list unanswered" \
    "$(code "http://127.0.0.1:$PAS/healthz")" 000
expect_eq "status_allow: the status port serves the prober" \
    "$(code "http://127.0.0.1:$PAS/healthz" --interface 127.0.0.2)" 200
expect_eq "status_allow: the client port refuses /status to a viewer (403)" \
    "$(code "http://127.0.0.1:$PA/status")" 403
for path in /healthz /readyz /metrics; do
    expect_eq "status_allow: the client port refuses $path to a viewer (403)" \
        "$(code "http://127.0.0.1:$PA$path")" 403
done
expect_eq "status_allow: the client port serves /status to the prober" \
    "$(code "http://127.0.0.1:$PA/status" --interface 127.0.0.2)" 200
expect_eq "status_allow: files are served to the viewer as before" \
    "$(code "http://127.0.0.1:$PA/v/index.m3u8")" 200
for _ in 1 2; do code "http://127.0.0.1:$PAS/status" >/dev/null; done
expect_eq "status_allow: /status counts the 3 refused status connections" \
    "$(json "http://127.0.0.1:$PAS/status" "d['status_connections']['refused']" --interface 127.0.0.2)" 3
expect_match "status_allow: /metrics counts them" \
    "$(curl -s -m 10 --interface 127.0.0.2 "http://127.0.0.1:$PAS/metrics")" \
    'segment_edge_status_connections_refused_total 3'
expect_match "status_allow: the viewer's 403 is in the access log" "$(cat "$T/allow.log")" \
    'access 127\.0\.0\.1 "GET /status" 403 '
printf 'status_allow: []\n' >"$T/allow_empty.yaml"
edge_refused allow_empty 2 "allow_empty\\.yaml:1:15: status_allow is empty" \
    -c "$T/allow_empty.yaml" --listen 127.0.0.1:$P --root "$T/root"
check "no sanitizer report" bash -c "! grep -qiE 'runtime error|AddressSanitizer|LeakSanitizer' '$T/full.log' '$T/cap.log' '$T/allow.log'"
finish
