#!/usr/bin/env bash
# dns_reload_async: a reload that takes seconds (the example geo config plus 12 generated zones
# of 50,000 names: 600,000 names) loads off the main loop. While it runs: /metrics and
# /status.json answer, and a PoP marked down in a state file moves its clients before the log
# says the reload finished; the new config then gets that health at publish. A SIGHUP and a
# zone file change during a reload, then one more SIGHUP, make exactly one more reload, which
# serves the latest files. One health change advances the health generation by exactly one (its
# merged tables follow under the same generation). SIGTERM during a reload cancels the load
# and exits 0 (under ASan: with no leak).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
geo_example_health
V=video.cdn.example.test
FRA=127.0.1.1 NYC=127.0.2.1
PARIS=192.0.2.0/24 CHICAGO=198.51.100.0/24

# No ramps, and state files that stay fresh for the whole test: the health view changes only
# when this test writes a state file.
sed -i '/^health:/,/^[^ ]/{/^health:/d;/^ /d}' "$CONF"
cat >>"$CONF" <<EOF
health: {dir: health, overrides: admin.yaml, quorum: 1, max_age: 600s, slow_start: 0s,
         recent: 600s, short_ttl: 7}
EOF
: >"$EX/admin.yaml"

# The big zones, listed after the example zone (a load reads them in order).
NZ=12 NN=50000
. "$SRC/tests/lib/big-zones.sh"
zl="cdn.example.test.yaml, $(big_zones "$EX" "$NZ" "$NN")" || die "cannot write the big zones"
sed -i "s/^zones: .*/zones: [$zl]/" "$CONF"
R=$("$GEODNSD" --check -c "$CONF" 2>&1)
expect_eq "--check accepts the config with $NZ big zones" "$?" 0

# state POP=STATE...: the vantage ams's state file (tests/lib/health-state.py).
state() { python3 "$SRC/tests/lib/health-state.py" "$HD/ams.json" ams "$@"; }

MPORT=$(free_port 127.0.0.1)
URL=http://127.0.0.1:$MPORT
dns_start "$CONF" --metrics "$MPORT" || finish

scrape() { curl -sS --max-time $((10 * DNS_SLOW)) -o "$1" "$URL/metrics"; }
mval() { awk -v s="$2" '$1 == s {print $2; found = 1} END {if (!found) print 0}' "$1"; }
mark() { FROM=$(($(log_lines) + 1)); }
since() { tail -n +"$FROM" "$LOG"; }
# nsince REGEX: lines matching REGEX since the mark.
nsince() { since | grep -Ec -- "$1"; }
# reload_running: a reload started since the mark and none has finished (ok or failed) yet.
reload_running() {
    [ "$(nsince 'reload started')" -ge 1 ] && [ "$(nsince 'reload (ok|failed) ')" = 0 ]
}
# until_addrs WANT DNSQ-ARGS...: polls (bounded) until the answer's addresses are WANT.
until_addrs() {
    local want=$1 i
    shift
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        q "$@"
        [ "$(addrs)" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}
# tables_built: the number of "geo tables:" lines (merged tables built and published).
tables_built() { grep -c 'geo tables:' "$LOG"; }
# until_tables N: waits (bounded) until at least N tables were built.
until_tables() {
    local i
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        [ "$(tables_built)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# until_count REGEX N [SECONDS]: waits (bounded) until N lines since the mark match REGEX.
until_count() {
    local i
    for ((i = 0; i < ${3:-10} * 10 * DNS_SLOW; i++)); do
        [ "$(nsince "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

echo "# one health change is one generation"
# From the start-up state (no state file: every PoP assumed up, tables built before "ready"),
# so no table build is pending.
ga "start-up: Paris -> fra" "$FRA" - --ecs $PARIS $V
T0=$(tables_built)
M0=$TMP/m0
scrape "$M0" || fail "scrape /metrics" "curl failed"
G0=$(mval "$M0" geodnsd_health_generation)
U0=$(mval "$M0" geodnsd_health_updates_total)
C0=$(mval "$M0" geodnsd_config_generation)
state fra=down nyc=up sin=up gru=up
if until_addrs "$NYC" --ecs $PARIS $V; then
    pass "fra down: Paris moves to nyc at once"
else
    fail "fra down: Paris moves to nyc at once" "answer: $(addrs)"
fi
until_tables $((T0 + 1)) || fail "the merged tables for the new view are built" "$(tail -n 5 "$LOG")"
M1=$TMP/m1
scrape "$M1" || fail "scrape /metrics" "curl failed"
expect_eq "health generation +1 for one change (view, then its tables)" \
    "$(mval "$M1" geodnsd_health_generation)" $((G0 + 1))
expect_eq "health updates +1 for one change" "$(mval "$M1" geodnsd_health_updates_total)" \
    $((U0 + 1))
expect_eq "config generation unchanged by a health change" \
    "$(mval "$M1" geodnsd_config_generation)" "$C0"

echo "# during a long reload: metrics answer, a health change is applied at once"
state fra=up nyc=up sin=up gru=up
until_addrs "$FRA" --ecs $PARIS $V || fail "fra up again: Paris -> fra" "$(addrs)"
until_addrs "$NYC" --ecs $CHICAGO $V || fail "all up: Chicago -> nyc" "$(addrs)"
mark
kill -HUP "$SERVER_PID"
wait_log 'reload started \(SIGHUP\)' 10 "$FROM" || fail "SIGHUP logs 'reload started'" "$(since)"
R=$(curl -sS --max-time $((10 * DNS_SLOW)) "$URL/status.json")
st=$?
running=no
reload_running && running=yes
expect_eq "/status.json answers while the reload runs" "$st/$running" "0/yes"
has "/status.json: the config generation in force" '"config_generation": [0-9]+'
state fra=up nyc=down sin=up gru=up
moved=no
until_addrs "$FRA" --ecs $CHICAGO $V && moved=yes
running=no
reload_running && running=yes
expect_eq "nyc down during the reload: Chicago moves (to fra) before the reload finished" \
    "$moved/$running" "yes/yes"
if wait_log 'reload ok \(SIGHUP\)' 60 "$FROM"; then
    pass "the long reload finishes: 'reload ok (SIGHUP)'"
else
    fail "the long reload finishes: 'reload ok (SIGHUP)'" "$(since | tail -n 5)"
fi
R=$(since | grep -E -m1 'reload ok \(SIGHUP\)')
has "the reload logs its generation and load time" 'generation [0-9]+, 13 zones, .* loaded in [0-9.]+ s'
ga "the new config got the current health at publish: Chicago still fra" "$FRA" - --ecs $CHICAGO $V
q h49999.big11.test --type A
expect "the last big zone is served" rcode=NOERROR an=1

echo "# a file change and two SIGHUPs during a reload: exactly one more reload"
ZF=$EX/cdn.example.test.yaml
mark
kill -HUP "$SERVER_PID"
wait_log 'reload started \(SIGHUP\)' 10 "$FROM" || fail "SIGHUP logs 'reload started'" "$(since)"
sed 's/^  mail: {A: 127.0.0.25}$/  mail: {A: 127.0.0.26}/' "$ZF" >"$ZF.new"
mv -f "$ZF.new" "$ZF"
wait_log 'reload requested \(.*cdn\.example\.test\.yaml changed\) while one is running' 30 "$FROM" ||
    fail "the zone file change during the reload is queued" "$(since | tail -n 5)"
kill -HUP "$SERVER_PID"
until_count 'reload requested \(SIGHUP\) while one is running: merged' 1 ||
    fail "the first SIGHUP during the reload is merged" "$(since | tail -n 5)"
kill -HUP "$SERVER_PID"
until_count 'reload requested \(SIGHUP\) while one is running: merged' 2 ||
    fail "the second SIGHUP during the reload is merged" "$(since | tail -n 5)"
running=no
reload_running && running=yes
expect_eq "the file change and both SIGHUPs came while the first reload ran" "$running" yes
expect_eq "three requests during the reload, each logged" \
    "$(nsince 'reload requested \(.*\) while one is running')" 3
until_count 'reload ok' 2 60 || fail "the queued reload finishes" "$(since | tail -n 5)"
has_log "the queued reload names the requests it stands for" \
    'reload ok \(.*cdn\.example\.test\.yaml changed, and 2 more requests\)'
if until_addrs 127.0.0.26 mail.cdn.example.test --type A; then
    pass "the queued reload serves the latest zone file (mail 127.0.0.26)"
else
    fail "the queued reload serves the latest zone file (mail 127.0.0.26)" "$(addrs)"
fi
# The queued reload has run; give a wrongly queued third one the time of a whole reload to show.
sleep $((4 * DNS_SLOW))
expect_eq "exactly two reloads ran (the first, and one for all three requests)" \
    "$(nsince 'reload started')/$(nsince 'reload ok')" "2/2"

echo "# SIGTERM during a reload"
mark
kill -HUP "$SERVER_PID"
wait_log 'reload started \(SIGHUP\)' 10 "$FROM" || fail "SIGHUP logs 'reload started'" "$(since)"
dns_stop
expect_eq "SIGTERM during the reload: exit status 0 (under ASan: no leak)" "$STOP_STATUS" 0
has_log "the reload is cancelled at shutdown" 'SIGTERM: stopping \(the reload in progress \(SIGHUP\) is cancelled\)'
has_log "the load stopped at its next file" 'reload \(SIGHUP\) cancelled: .*load cancelled'
expect_eq "no reload published after the SIGTERM" "$(nsince 'reload ok')" 0
has_log "the daemon stops" 'stopped$'
finish
