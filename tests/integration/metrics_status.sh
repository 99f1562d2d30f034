#!/usr/bin/env bash
# metrics_status: geodnsd --metrics serves /metrics, / and /status.json on loopback: the query
# counters move by exactly what was sent (UDP and TCP, NXDOMAIN, AAAA, geo answers from several
# ECS subnets, ECS vs source address, a dropped packet, the CNAME fallback); a state file with a
# PoP down shows in the per-PoP and per-vantage health metrics and on the page; reloads ok and
# failed are counted with the time of the last success; the listener survives garbage, oversized
# heads and slow-loris clients holding every connection slot.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
geo_example_health
V=video.cdn.example.test
PARIS=192.0.2.0/24 CHICAGO=198.51.100.0/24 TOKYO=203.0.113.0/24

# state POP=STATE[:LOAD]...: the vantage ams's state file (tests/lib/health-state.py).
state() { python3 "$SRC/tests/lib/health-state.py" "$HD/ams.json" ams "$@"; }

MPORT=$(free_port 127.0.0.1)
URL=http://127.0.0.1:$MPORT
dns_start "$CONF" --metrics "$MPORT" || finish
has_log "the listener is logged (a bare port means loopback)" \
    "metrics and status page on http://127\.0\.0\.1:$MPORT/"

# scrape FILE: /metrics into FILE (bounded).
scrape() {
    curl -sS --max-time $((10 * DNS_SLOW)) -o "$1" "$URL/metrics"
}
# mval FILE SERIES: the value of the exact series (name{labels}) in FILE, 0 when absent.
mval() {
    awk -v s="$2" '$1 == s {print $2; found = 1} END {if (!found) print 0}' "$1"
}
# delta DESC SERIES WANT: the series moved by WANT between $M0 and $M1.
delta() {
    local a b
    a=$(mval "$M0" "$2")
    b=$(mval "$M1" "$2")
    expect_eq "$1" "$(python3 -c "print(int(float('$b') - float('$a')))")" "$3"
}

echo "# /metrics is Prometheus text"
M0=$TMP/m0
scrape "$M0" || fail "scrape /metrics" "curl failed"
R=$(cat "$M0")
has "HELP and TYPE lines" "^# TYPE geodnsd_queries_total counter$"
R=$(python3 - "$M0" <<'EOF'
import re, sys
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{%s(?:,%s)*\})? -?[0-9][0-9.e+-]*$' % (label, label))
typed = set()
for n, line in enumerate(open(sys.argv[1]).read().splitlines(), 1):
    m = re.match(r'^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$', line)
    if m:
        if m.group(1) == "TYPE":
            typed.add(m.group(2))
        continue
    m = sample.match(line)
    if not m:
        print("bad line %d: %s" % (n, line))
    elif m.group(1) not in typed:
        print("no TYPE before line %d: %s" % (n, line))
print("checked")
EOF
)
expect_eq "every line is a HELP/TYPE comment or name{labels} value, typed first" "$R" checked
R=$(cat "$M0")
has "build info" '^geodnsd_build_info\{version="[^"]+"\} 1$'
has "the start-up load counts as the last success" \
    '^geodnsd_config_last_reload_success_timestamp_seconds [1-9][0-9]+$'

echo "# known queries move the counters by exactly what was sent"
declare -A POP_OF=([127.0.1.1]=fra [127.0.2.1]=nyc [127.0.3.1]=sin [127.0.4.1]=gru
    [fd00:c0d:1::1]=fra [fd00:c0d:2::1]=nyc [fd00:c0d:3::1]=sin [fd00:c0d:4::1]=gru)
declare -A WANT=([fra]=0 [nyc]=0 [sin]=0 [gru]=0)
# geo ARGS...: one geo query; its answer's PoP goes into WANT.
geo() {
    q "$@"
    local a
    a=$(addrs)
    if [ -n "${POP_OF[$a]:-}" ]; then
        WANT[${POP_OF[$a]}]=$((WANT[${POP_OF[$a]}] + 1))
    else
        fail "geo answer for $*" "got '$a'"
    fi
}
geo --ecs $PARIS $V
geo --ecs $CHICAGO $V
geo --ecs $TOKYO $V
geo --tcp --ecs $PARIS $V
geo --type AAAA --ecs $TOKYO $V
geo --noedns $V              # no ECS: located by the source address
geo --ecs 10.1.2.0/24 $V     # a private ECS address: the source address again
q nothere.cdn.example.test
expect "NXDOMAIN" rcode=NXDOMAIN
q --type MX cdn.example.test
expect "MX at the apex" rcode=NOERROR
python3 -c "
import socket; s = socket.socket(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'\x00\x01\x02', ('127.0.0.1', $PORT))"
sleep 0.5 # the dropped datagram has no reply to wait for
M1=$TMP/m1
scrape "$M1"
delta "udp A NOERROR: five geo queries" \
    'geodnsd_queries_total{transport="udp",qtype="A",rcode="NOERROR"}' 5
delta "tcp A NOERROR: one" 'geodnsd_queries_total{transport="tcp",qtype="A",rcode="NOERROR"}' 1
delta "udp AAAA NOERROR: one" 'geodnsd_queries_total{transport="udp",qtype="AAAA",rcode="NOERROR"}' 1
delta "udp A NXDOMAIN: one" 'geodnsd_queries_total{transport="udp",qtype="A",rcode="NXDOMAIN"}' 1
delta "udp MX NOERROR: one" 'geodnsd_queries_total{transport="udp",qtype="MX",rcode="NOERROR"}' 1
delta "a 3-byte datagram is counted as dropped" 'geodnsd_queries_dropped_total{transport="udp"}' 1
delta "geo answers from the pool: seven" 'geodnsd_geo_steps_total{step="pool"}' 7
delta "located by ECS: five" 'geodnsd_geo_client_location_total{by="ecs"}' 5
delta "located by the source address: one" 'geodnsd_geo_client_location_total{by="source"}' 1
delta "private ECS, located by the source address: one" \
    'geodnsd_geo_client_location_total{by="source-ecs-unusable"}' 1
for p in fra nyc sin gru; do
    delta "answers naming $p: ${WANT[$p]}" "geodnsd_pop_answers_total{pop=\"$p\"}" "${WANT[$p]}"
done
expect_eq "Paris, Chicago and Tokyo went to three different PoPs" \
    "$([ "${WANT[nyc]}" -ge 1 ] && [ "${WANT[sin]}" -ge 2 ] && echo yes)" yes

echo "# a state file with fra down: per-PoP and per-vantage health"
G0=$(mval "$M1" geodnsd_health_generation)
state fra=down nyc=up:500 sin=up:900 gru=up:100
M2=$TMP/m2
for ((i = 0; i < 50 * DNS_SLOW; i++)); do
    scrape "$M2"
    [ "$(mval "$M2" 'geodnsd_pop_up{pop="fra"}')" = 0 ] && break
    sleep 0.1
done
expect_eq "fra down" "$(mval "$M2" 'geodnsd_pop_up{pop="fra"}')" 0
expect_eq "nyc up" "$(mval "$M2" 'geodnsd_pop_up{pop="nyc"}')" 1
expect_eq "fra down as vantage ams sees it" "$(mval "$M2" 'geodnsd_pop_vantage_up{pop="fra",vantage="ams"}')" 0
expect_eq "nyc up as vantage ams sees it" "$(mval "$M2" 'geodnsd_pop_vantage_up{pop="nyc",vantage="ams"}')" 1
expect_eq "nyc load ratio" "$(mval "$M2" 'geodnsd_pop_load_ratio{pop="nyc"}')" 0.5
expect_eq "one fresh vantage" "$(mval "$M2" geodnsd_health_vantages_fresh)" 1
expect_eq "vantage ams fresh" "$(mval "$M2" 'geodnsd_health_vantage_fresh{vantage="ams"}')" 1
check "the health generation moved" [ "$(mval "$M2" geodnsd_health_generation)" -gt "$G0" ]
S=$(mval "$M2" 'geodnsd_pop_share_kept{pop="sin"}')
check "sin at 90% keeps less than all its clients ($S)" python3 -c "assert 0 <= $S < 1"

echo "# the status page and /status.json"
R=$(curl -sS --max-time $((10 * DNS_SLOW)) "$URL/")
has "an HTML document" '^<!DOCTYPE html>$'
has "it ends" '</body></html>$'
has "it refreshes itself" '<meta http-equiv="refresh" content="2">'
has "an inline SVG map" '<svg id="map" xmlns="http://www.w3.org/2000/svg"'
hasnt "nothing fetched from elsewhere" '<script|<link|src=|@import'
for p in fra nyc sin gru; do
    has "PoP $p on the map" "<g class=\"pop\" data-pop=\"$p\""
    has "PoP $p in the table" "<tr data-pop=\"$p\""
done
has "fra drawn down (red)" '<g class="pop" data-pop="fra" data-state="down"><circle class="dot down" [^>]*fill="#d63031"'
has "nyc drawn up (green)" '<g class="pop" data-pop="nyc" data-state="up"><circle class="dot up" [^>]*fill="#2e9e4f"'
has "each vantage's view" 'ams: down'
R=$(curl -sS --max-time $((10 * DNS_SLOW)) "$URL/status.json")
expect_eq "/status.json: valid JSON with every PoP and fra down" "$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(" ".join(p["name"] + "=" + p["state"] for p in d["pops"]))' "$R")" \
    "fra=down nyc=up sin=shedding gru=up"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time $((10 * DNS_SLOW)) "$@"; }
expect_eq "unknown path: 404" "$(code "$URL/nope")" 404
expect_eq "POST: 405" "$(code -X POST -d x "$URL/metrics")" 405
expect_eq "HEAD: 200" "$(code -I "$URL/metrics")" 200

echo "# everything down: the CNAME fallback is counted"
M0=$TMP/m3
scrape "$M0"
state fra=down nyc=down sin=down gru=down
for ((i = 0; i < 50 * DNS_SLOW; i++)); do
    q --ecs $PARIS $V
    printf '%s\n' "$R" | grep -q ' IN CNAME ' && break
    sleep 0.1
done
has "video answers the fallback CNAME" " IN CNAME video\.cdn-vendor\.example\.net\.$"
M1=$TMP/m4
scrape "$M1"
delta "one more cname step" 'geodnsd_geo_steps_total{step="cname"}' 1
state fra=up nyc=up gru=up sin=up

echo "# reloads: ok and failed, with the time of the last success"
T0=$(mval "$M1" geodnsd_config_last_reload_success_timestamp_seconds)
expect_eq "the start-up load counts as a successful one" \
    "$(mval "$M1" geodnsd_config_last_reload_successful)" 1
sleep 1 # the timestamp has whole seconds
L=$(($(log_lines) + 1))
bump "$CONF"
wait_reload "reload ok" "$L" || fail "reload" "$(tail -n 5 "$LOG")"
cp "$CONF" "$TMP/good.yaml"
echo "bogus: [" >>"$CONF"
L=$(($(log_lines) + 1))
bump "$CONF"
wait_reload "reload failed" "$L" || fail "a bad config fails to reload" "$(tail -n 5 "$LOG")"
M2=$TMP/m5
scrape "$M2"
expect_eq "reloads ok" "$(mval "$M2" 'geodnsd_config_reloads_total{result="ok"}')" 1
expect_eq "reloads failed" "$(mval "$M2" 'geodnsd_config_reloads_total{result="failed"}')" 1
T1=$(mval "$M2" geodnsd_config_last_reload_success_timestamp_seconds)
check "the last success moved with the good reload only ($T0 -> $T1)" [ "$T1" -gt "$T0" ]
expect_eq "while the newest reload has failed the gauge says so" \
    "$(mval "$M2" geodnsd_config_last_reload_successful)" 0
L=$(($(log_lines) + 1))
replace "$CONF" "$TMP/good.yaml"
wait_reload "reload ok" "$L" || fail "the fixed config reloads" "$(tail -n 5 "$LOG")"
scrape "$TMP/m5b"
expect_eq "and a reload of the fixed file sets it back to 1" \
    "$(mval "$TMP/m5b" geodnsd_config_last_reload_successful)" 1

echo "# garbage, oversized heads and slow-loris clients"
python3 - "$MPORT" >"$TMP/abuse.out" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def exchange(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return out.split(b"\r\n", 1)[0].decode("latin-1")
print("tls", exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64))
print("garbage", exchange(b"\x00\xff\r\n\r\n"))
print("big", exchange(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n"))
print("folded", exchange(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"))
EOF
expect_eq "a TLS hello: 400" "$(sed -n 's/^tls //p' "$TMP/abuse.out")" "HTTP/1.1 400 Bad Request"
expect_eq "binary garbage: 400" "$(sed -n 's/^garbage //p' "$TMP/abuse.out")" "HTTP/1.1 400 Bad Request"
expect_eq "a 9 kB header: 431" "$(sed -n 's/^big //p' "$TMP/abuse.out")" \
    "HTTP/1.1 431 Request Header Fields Too Large"
expect_eq "a folded header: 400" "$(sed -n 's/^folded //p' "$TMP/abuse.out")" "HTTP/1.1 400 Bad Request"
alive "geodnsd survived the garbage"

# Slow loris: more clients than connection slots, each trickling a byte now and then; the
# listener still answers a scrape (a new client closes the oldest connection) and the server
# keeps answering DNS.
python3 - "$MPORT" >"$TMP/loris.out" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(24):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
    held.append(s)
print("held", len(held), flush=True)
for _ in range(600):
    for s in held:
        try:
            s.sendall(b"a")
        except OSError:
            pass
    time.sleep(0.1)
EOF
LORIS=$!
DNS_BG_PIDS+=("$LORIS")
for ((i = 0; i < 100 * DNS_SLOW; i++)); do
    grep -q "^held 24" "$TMP/loris.out" && break
    sleep 0.1
done
R=$(cat "$TMP/loris.out")
has "24 slow-loris clients connected" "^held 24$"
M3=$TMP/m6
check "a scrape gets through while slow-loris clients hold the listener" scrape "$M3"
check "and it is a full exposition" grep -q '^geodnsd_pop_up{pop="fra"} ' "$M3"
expect_eq "the page too" "$(code "$URL/")" 200
q --ecs $PARIS $V
expect "DNS unaffected (an answer; fra may still be in slow start)" rcode=NOERROR an=1
kill "$LORIS" 2>/dev/null
wait "$LORIS" 2>/dev/null
alive "geodnsd still runs"
dns_stop
expect_eq "geodnsd stops cleanly on SIGTERM" "$STOP_STATUS" 0
finish
