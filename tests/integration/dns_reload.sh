#!/usr/bin/env bash
# dns_reload: SIGHUP and file-change reloads under a steady query stream lose no query and
# publish the new data; a broken zone file logs `reload failed` with file:line and keeps the old
# data; fixing it publishes again; zone_dir additions and server config changes are picked up.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

Z=example.test
ZF=$DATA/example.test.yaml

reload_ok_count() {
    grep -c 'reload ok' "$LOG"
}

# wait_reload_ok N: waits (bounded) until at least N 'reload ok' lines are in the log.
wait_reload_ok() {
    local i
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        [ "$(reload_ok_count)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_answer DNSQ-ARGS... -- REGEX: polls (bounded, ~10 s) until the reply matches REGEX.
wait_answer() {
    local args=() i
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        q "${args[@]}"
        printf '%s\n' "$R" | grep -Eq -- "$1" && return 0
        sleep 0.2
    done
    return 1
}

# replace FILE: atomically replaces FILE with FILE.new (write to a temp, then rename).
replace() {
    mv -f "$1.new" "$1"
}

# A sequential UDP query loop (one query outstanding, 2 s timeout each) that counts sent and
# answered until $TMP/stop-loop exists (at most 60 s).
start_loop() {
    rm -f "$TMP/stop-loop" "$TMP/loop.out"
    python3 - "$PORT" "$TMP/stop-loop" <<'PYEOF' >"$TMP/loop.out" &
import os, socket, struct, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
names = [b"\x03www\x07example\x04test\x00", b"\x04mail\x07example\x04test\x00",
         b"\x02nx\x07example\x04test\x00", b"\x03www\x05other\x04test\x00"]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
sent = answered = 0
t0 = time.time()
while not os.path.exists(stop) and time.time() - t0 < 60:
    qid = sent & 0xffff
    pkt = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + names[sent % len(names)] + b"\x00\x01\x00\x01"
    s.sendto(pkt, ("127.0.0.1", port))
    sent += 1
    try:
        while True:
            r = s.recv(65535)
            if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid and r[2] & 0x80:
                answered += 1
                break
    except socket.timeout:
        pass
    time.sleep(0.002)
print("sent", sent, "answered", answered)
PYEOF
    LOOP_PID=$!
    DNS_BG_PIDS+=("$LOOP_PID")
}

stop_loop() {
    touch "$TMP/stop-loop"
    wait "$LOOP_PID"
    read -r _ LOOP_SENT _ LOOP_ANSWERED <"$TMP/loop.out" || true
}

q www.$Z
has "before reload: www A 192.0.2.1" ' IN A 192\.0\.2\.1$'

echo "# (1) SIGHUP and file changes under dnsperf at 2000 q/s"
printf '%s\n' "www.$Z A" "mail.$Z A" "nx.$Z A" "alias.$Z A" "www.other.test A" \
    "x.sub.$Z A" "www.sub2.$Z A" "$Z MX" >"$TMP/queries"
dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/queries" -Q 2000 -l 6 -t 5 >"$TMP/dnsperf.out" 2>&1 &
PERF_PID=$!
DNS_BG_PIDS+=("$PERF_PID")
sleep 1
n0=$(reload_ok_count)
for i in 1 2 3; do
    kill -HUP "$SERVER_PID"
    check "SIGHUP $i under load: 'reload ok' logged" wait_reload_ok $((n0 + i))
done
sed 's/^  www: {A: \[192\.0\.2\.1, 192\.0\.2\.2\]/  www: {A: [192.0.2.100]/' "$ZF" >"$ZF.new"
echo '  new1: {A: 192.0.2.201}' >>"$ZF.new"
replace "$ZF"
check "zone file replaced (no SIGHUP): new www A 192.0.2.100 served" \
    wait_answer www.$Z -- ' IN A 192\.0\.2\.100$'
check "zone file replaced: new name new1 served" wait_answer new1.$Z -- ' IN A 192\.0\.2\.201$'
q www.$Z
count "after the change: www has only the new address" '^AN www\..* IN A ' 1
kill -HUP "$SERVER_PID"
wait "$PERF_PID"
R=$(cat "$TMP/dnsperf.out")
has "dnsperf: queries completed" 'Queries completed:[[:space:]]+[1-9][0-9]*'
has "dnsperf: Queries lost: 0 across 4 SIGHUPs and a file change" 'Queries lost:[[:space:]]+0 '
alive "server alive after the reloads"

echo "# (2) a broken zone file keeps the old data"
start_loop
sleep 0.5
nl=$(($(log_lines) + 1))
cp "$ZF" "$DATA/good.yaml"
awk '{print} /^records:$/ {print "  broken: {A: 300.1.2.3}"}' "$ZF" >"$ZF.new"
bad_line=$(grep -n '^  broken: {A: 300.1.2.3}' "$ZF.new" | cut -d: -f1)
replace "$ZF"
if wait_log 'reload failed' 10 "$nl"; then
    pass "broken zone file: 'reload failed' logged"
else
    fail "broken zone file: 'reload failed' logged" "$(tail -n +"$nl" "$LOG")"
fi
R=$(tail -n +"$nl" "$LOG" | grep 'reload failed')
has "reload failed names example.test.yaml:$bad_line (file:line:col)" "example\.test\.yaml:$bad_line:[0-9]+: "
q www.$Z
expect "broken zone file: old data still served" ok rcode=NOERROR an=1
has "broken zone file: www A still 192.0.2.100" ' IN A 192\.0\.2\.100$'
q broken.$Z
expect "broken zone file: nothing from it is served" ok rcode=NXDOMAIN
kill -HUP "$SERVER_PID"
check "SIGHUP with the broken file: 'reload failed' again" wait_log 'reload failed.*example\.test\.yaml' 10 "$((nl + 1))"
q www.other.test
expect "other zones still served while example.test is broken" ok rcode=NOERROR an=1
sed 's/^  www: {A: \[192\.0\.2\.100\]/  www: {A: [192.0.2.101]/' "$DATA/good.yaml" >"$ZF.new"
replace "$ZF"
check "fixed zone file: new www A 192.0.2.101 served" wait_answer www.$Z -- ' IN A 192\.0\.2\.101$'
stop_loop
if [ -n "${LOOP_SENT:-}" ] && [ "$LOOP_SENT" -gt 0 ] && [ "$LOOP_SENT" = "$LOOP_ANSWERED" ]; then
    pass "query loop during the failed and fixed reloads: $LOOP_ANSWERED/$LOOP_SENT answered"
else
    fail "query loop during the failed reload: every query answered" "$(cat "$TMP/loop.out")"
fi

echo "# (3) zone_dir and server config"
cat >"$DATA/zones.d/added.test.yml.new" <<'YEOF'
zone: added.test
soa: {primary: ns1.example.test., contact: hostmaster.example.test., serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.example.test.]
records:
  www: {A: 198.51.100.99}
YEOF
mv "$DATA/zones.d/added.test.yml.new" "$DATA/zones.d/added.test.yml"
n1=$(reload_ok_count)
kill -HUP "$SERVER_PID"
wait_reload_ok $((n1 + 1))
check "new *.yml file in zone_dir + SIGHUP: added.test served" wait_answer www.added.test -- ' IN A 198\.51\.100\.99$'
sed 's/^nsid: .*/nsid: "test-ns-2"/' "$DATA/geodnsd.yaml" >"$DATA/geodnsd.yaml.new"
replace "$DATA/geodnsd.yaml"
check "server config changed (no SIGHUP): new NSID served" \
    wait_answer --opt 3: www.$Z -- '^OPT-NSID .*text=test-ns-2$'
R=$(cat "$LOG")
has "the reload names the file that changed" "reload ok \(.*geodnsd\.yaml changed\)"
hasnt "an unchanged restart-only setting gives no restart warning" "takes effect on restart"
n1=$(reload_ok_count)
sed 's/max_connections: 256/max_connections: 100/' "$DATA/geodnsd.yaml" >"$DATA/geodnsd.yaml.new"
replace "$DATA/geodnsd.yaml"
wait_reload_ok $((n1 + 1))
R=$(cat "$LOG")
has "a changed restart-only setting is named with its running value" \
    "tcp\.max_connections changed to 100 in the config: takes effect on restart \(running 256\)"
n1=$(reload_ok_count)
w1=$(grep -c "takes effect on restart" "$LOG")
sed 's/max_connections: 100/max_connections: 256/' "$DATA/geodnsd.yaml" >"$DATA/geodnsd.yaml.new"
replace "$DATA/geodnsd.yaml"
wait_reload_ok $((n1 + 1))
expect_eq "edited back to the running value: no new restart warning" \
    "$(grep -c "takes effect on restart" "$LOG")" "$w1"
q www.$Z
expect "after all reloads: answers normally" ok rcode=NOERROR +aa

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
