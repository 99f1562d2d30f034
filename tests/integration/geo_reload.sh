#!/usr/bin/env bash
# geo_reload: a change of the mmdb, nets or PoP file changes answers without a restart (poll
# and SIGHUP); broken PoP/nets/mmdb/zone files -> "reload failed" with file:line, old answers
# kept; `geodnsd --check` rejects broken PoP/nets files and unknown pools with file:line.
# Data: tests/data/geo/reload/, tests/data/geo/make-moved-mmdb.pl (192.0.2.0/24 -> Tokyo).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
D=$GEO/reload
cp "$MMDB" "$D/city.mmdb"
MOVED=$TMP/moved.mmdb
if ! perl "$GEO/make-moved-mmdb.pl" "$MOVED" >"$TMP/moved.log" 2>&1; then
    fail "make-moved-mmdb.pl writes the second database" "$(cat "$TMP/moved.log")"
    finish
fi
# conf ZONE POPS NETS [MMDB]: the test config (relative paths, as in a real deployment).
conf() {
    {
        echo 'listen: ["127.0.0.1:5353"]'
        echo 'workers: 2'
        echo "zones: [$1]"
        echo "pops: $2"
        echo "geoip: {mmdb: ${4:-city.mmdb}, schema: geoip2-city, nets: $3}"
        echo 'log: {level: info}'
    } >"$D/geodnsd.yaml"
}
CONF=$D/geodnsd.yaml
Z=reload.test
V=video.$Z
FRA=127.0.1.1 NYC=127.0.2.1 SIN=127.0.3.1 GRU=127.0.4.1 FRA9=127.0.1.9

echo "# geodnsd --check: broken PoP, nets, zone, mmdb files named with file:line"
check_rejects() { # DESC REGEX
    local out rc
    out=$("$GEODNSD" --check -c "$CONF" 2>&1)
    rc=$?
    if [ "$rc" != 0 ] && printf '%s\n' "$out" | grep -Eq -- "$2"; then
        pass "$1"
    else
        fail "$1" "rc=$rc (want non-zero), want /$2/ in:
$out"
    fi
}
conf reload.test.yaml pops-bad-lat.yaml nets.yaml
check_rejects "--check: latitude 95 in the PoP file -> pops-bad-lat.yaml:3" 'pops-bad-lat\.yaml:3:[0-9]+: .*95'
conf reload.test.yaml pops-bad-pool.yaml nets.yaml
check_rejects "--check: pool naming an unknown PoP -> pops-bad-pool.yaml:7, the name" "pops-bad-pool\.yaml:7:[0-9]+: .*nowhere"
conf reload-unknown-pool.test.yaml pops.yaml nets.yaml
check_rejects "--check: geo policy with an unknown pool -> zone file:9, the pool name" \
    "reload-unknown-pool\.test\.yaml:9:[0-9]+: .*no-such-pool"
conf reload.test.yaml pops.yaml nets-bad.yaml
check_rejects "--check: nets key with host bits set -> nets-bad.yaml:3" 'nets-bad\.yaml:3:[0-9]+: .*192\.0\.2\.1/24'
printf 'not an mmdb\n' >"$D/garbage.mmdb"
conf reload.test.yaml pops.yaml nets.yaml garbage.mmdb
check_rejects "--check: an mmdb that is not one -> named" 'garbage\.mmdb.*(not a valid|invalid|mmdb)'
conf reload.test.yaml pops.yaml nets.yaml
R=$("$GEODNSD" --check -c "$CONF" 2>&1); RC=$?
expect_eq "--check: the good config passes" "$RC" 0

dns_start "$CONF" || finish

# reload_step DESC [ok|failed] [REGEX]: waits (bounded) for the next reload line after $FROM
# and checks its result (and REGEX on that line).
reload_step() {
    local desc=$1 want=$2 re=${3:-} line
    if ! wait_reload 'reload (ok|failed)' "$FROM"; then
        fail "$desc" "no 'reload ok/failed' line in the log: $(tail -n +"$FROM" "$LOG" | tail -n 5)"
        return 1
    fi
    line=$(tail -n +"$FROM" "$LOG" | grep -E -m1 'reload (ok|failed)')
    if printf '%s\n' "$line" | grep -q "reload $want" &&
        { [ -z "$re" ] || printf '%s\n' "$line" | grep -Eq -- "$re"; }; then
        pass "$desc"
    else
        fail "$desc" "want 'reload $want'${re:+ and /$re/}, log line: $line"
        return 1
    fi
}
mark() { FROM=$(($(log_lines) + 1)); }

echo "# baseline (example database)"
ga "Paris 192.0.2.0/24 -> fra, scope 9 (192.0.0.0/9 answers fra alike)" "$FRA" 9 --ecs 192.0.2.0/24 $V
ga "Chicago 198.51.100.0/24 -> nyc" "$NYC" 24 --ecs 198.51.100.0/24 $V
gk "source 127.255.1.1 (Paris) -> fra" "$FRA" @127.0.0.1 -b 127.255.1.1 $V A
ga "Tokyo 203.0.113.0/24 -> sin" "$SIN" 24 --ecs 203.0.113.0/24 $V

echo "# mmdb replaced (renamed over): 192.0.2.0/24 now Tokyo, 198.51.100.0/24 Buenos Aires"
mark
replace "$D/city.mmdb" "$MOVED"
reload_step "mmdb replaced -> 'reload ok' (file change)" ok
ga "after the new mmdb: 192.0.2.0/24 -> sin" "$SIN" 24 --ecs 192.0.2.0/24 $V
ga "after the new mmdb: 198.51.100.0/24 -> gru" "$GRU" 24 --ecs 198.51.100.0/24 $V
gk "after the new mmdb: source 127.255.1.1 -> sin" "$SIN" @127.0.0.1 -b 127.255.1.1 $V A
ga "after the new mmdb: 203.0.113.0/24 (not in it) -> default_location -> fra" "$FRA" - --ecs 203.0.113.0/24 $V
explain "$CONF" $V 192.0.2.0/24
has "explain reads the new mmdb: JP" 'located by: mmdb, network /24: JP'

echo "# nets file changed: 192.0.2.0/24 pinned to nyc"
mark
replace "$D/nets.yaml" "$D/nets-pin.yaml"
reload_step "nets file changed -> 'reload ok'" ok
ga "after the nets change: 192.0.2.0/24 -> nyc" "$NYC" 24 --ecs 192.0.2.0/24 $V

echo "# PoP file changed: fra's address 127.0.1.9"
mark
replace "$D/pops.yaml" "$D/pops-fra9.yaml"
reload_step "PoP file changed -> 'reload ok'" ok
ga "after the PoP change: 203.0.113.0/24 (default_location) -> fra's new address" "$FRA9" - --ecs 203.0.113.0/24 $V

echo "# broken PoP file: reload failed with file:line, old answers kept"
cp "$D/pops.yaml" "$TMP/pops-good.yaml"
mark
replace "$D/pops.yaml" "$D/pops-bad-lat.yaml"
reload_step "PoP file with latitude 95 -> 'reload failed' naming pops.yaml:3" failed 'pops\.yaml:3:[0-9]+'
ga "after the failed reload: 203.0.113.0/24 still fra 127.0.1.9" "$FRA9" - --ecs 203.0.113.0/24 $V
ga "after the failed reload: 192.0.2.0/24 still nyc (nets pin kept)" "$NYC" 24 --ecs 192.0.2.0/24 $V
alive "server alive after a failed reload"
mark
replace "$D/pops.yaml" "$D/pops-bad-pool.yaml"
reload_step "PoP file with a pool naming an unknown PoP -> 'reload failed' naming pops.yaml:7" failed 'pops\.yaml:7:[0-9]+'
ga "still the old answers" "$FRA9" - --ecs 203.0.113.0/24 $V
mark
replace "$D/pops.yaml" "$TMP/pops-good.yaml"
reload_step "PoP file fixed -> 'reload ok'" ok
ga "after the fix: 203.0.113.0/24 -> 127.0.1.9" "$FRA9" - --ecs 203.0.113.0/24 $V

echo "# broken nets file and mmdb: reload failed, answers kept"
mark
replace "$D/nets.yaml" "$D/nets-bad.yaml"
reload_step "nets key with host bits set -> 'reload failed' naming nets.yaml:3" failed 'nets\.yaml:3:[0-9]+'
ga "after the failed nets reload: 192.0.2.0/24 still nyc" "$NYC" 24 --ecs 192.0.2.0/24 $V
mark
replace "$D/city.mmdb" "$D/garbage.mmdb"
reload_step "mmdb replaced by garbage -> 'reload failed' naming it" failed 'city\.mmdb'
ga "after the failed mmdb reload: 198.51.100.0/24 still gru (old mmdb kept)" "$GRU" 24 --ecs 198.51.100.0/24 $V

mark
replace "$D/nets.yaml" "$D/nets-pin.yaml"
replace "$D/city.mmdb" "$MOVED"
if wait_log 'reload ok' 15 "$FROM"; then
    pass "nets file and mmdb fixed -> 'reload ok'"
else
    fail "nets file and mmdb fixed -> 'reload ok'" "$(tail -n +"$FROM" "$LOG" | tail -n 5)"
fi
sleep $((2 * DNS_SLOW)) # let the poller see both changes (answers are checked, not timing)
ga "after the fix: 192.0.2.0/24 -> nyc" "$NYC" 24 --ecs 192.0.2.0/24 $V

echo "# zone naming an unknown pool"
cp "$D/reload-unknown-pool.test.yaml" "$TMP/z.yaml"
mark
replace "$D/reload.test.yaml" "$TMP/z.yaml"
reload_step "zone with a geo policy naming an unknown pool -> 'reload failed' naming the zone file:9" \
    failed 'reload\.test\.yaml:9:[0-9]+'
ga "still the old answers" "$GRU" 24 --ecs 198.51.100.0/24 $V

echo "# everything fixed, SIGHUP"
cp "$SRC/tests/data/geo/reload/reload.test.yaml" "$TMP/z.yaml"
cp "$MMDB" "$TMP/orig.mmdb"
mark
replace "$D/reload.test.yaml" "$TMP/z.yaml"
replace "$D/city.mmdb" "$TMP/orig.mmdb"
if wait_log 'reload ok' 15 "$FROM"; then
    # Several files changed: wait until a reload after the last change succeeded.
    pass "all files fixed -> 'reload ok'"
else
    fail "all files fixed -> 'reload ok'" "$(tail -n +"$FROM" "$LOG" | tail -n 5)"
fi
sleep $((2 * DNS_SLOW)) # let the poller see every change (answers are checked below, not the timing)
mark
kill -HUP "$SERVER_PID"
if wait_log 'reload (ok|failed) \(SIGHUP' 15 "$FROM"; then
    line=$(tail -n +"$FROM" "$LOG" | grep -E -m1 'reload (ok|failed) \(SIGHUP')
    case $line in *"reload ok"*) pass "SIGHUP -> 'reload ok (SIGHUP)'" ;;
    *) fail "SIGHUP -> 'reload ok (SIGHUP)'" "$line" ;; esac
else
    fail "SIGHUP -> 'reload ok (SIGHUP)'" "no SIGHUP reload line: $(tail -n +"$FROM" "$LOG" | tail -n 5)"
fi
ga "example mmdb back: 198.51.100.0/24 -> nyc" "$NYC" 24 --ecs 198.51.100.0/24 $V
ga "nets pin back: 192.0.2.0/24 -> nyc" "$NYC" 24 --ecs 192.0.2.0/24 $V
ga "192.0.2.128/25 (nets /24 pin) -> nyc" "$NYC" 24 --ecs 192.0.2.128/25 $V
ga "Tokyo 203.0.113.0/24 -> sin" "$SIN" 24 --ecs 203.0.113.0/24 $V
gk "source 127.255.1.1 (Paris, no nets entry) -> fra's new address" "$FRA9" @127.0.0.1 -b 127.255.1.1 $V A
q --ecs 198.51.100.0/24 other.$Z
expect "the reverted zone has no 'other' name" ok rcode=NXDOMAIN

alive "server alive at the end"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
