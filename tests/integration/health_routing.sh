#!/usr/bin/env bash
# health_routing: geodnsd takes health in from state files (as healthcheck writes them) and an
# overrides file: a PoP down moves its clients to the next nearest within a second of the file
# landing; quorum over vantages; stale and corrupt files ignored; per-address withdrawal; load
# past the watermarks sheds client prefixes in proportion to the neighbours' headroom and the
# share comes back; slow start; overrides (down, drain); everything down -> fallback CNAME.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
# Small ramps so the test moves in seconds; the defaults are minutes.
geo_example_health "{dir: health, overrides: admin.yaml, quorum: 1, max_age: 60s, slow_start: 0s,
         lag: 2s, recent: 60s, short_ttl: 7}"
: >"$EX/admin.yaml"
R=$("$GEODNSD" --check -c "$CONF" 2>&1)
expect_eq "--check accepts the health settings" "$?" 0

FRA=127.0.1.1 NYC=127.0.2.1 SIN=127.0.3.1 GRU=127.0.4.1
PARIS=192.0.2.0/24 CHICAGO=198.51.100.0/24 TOKYO=203.0.113.0/24
V=video.cdn.example.test

# state FILE VANTAGE AGE POP=STATE[:LOAD[:ADDRSTATE]]...: a state file AGE seconds old
# (tests/lib/health-state.py says what the fields mean).
state() {
    local file=$1 vantage=$2 age=$3
    shift 3
    python3 "$SRC/tests/lib/health-state.py" "$file" "$vantage" --age "$age" "$@"
}

# until_ga DESC WANT_ADDRS DNSQ-ARGS...: the answer becomes WANT_ADDRS within 3 s (x slow).
until_ga() {
    local desc=$1 want=$2 i
    shift 2
    for ((i = 0; i < 30 * DNS_SLOW; i++)); do
        q "$@"
        [ "$(addrs)" = "$want" ] && break
        sleep 0.1
    done
    ga "$desc" "$want" - "$@"
}

dns_start "$CONF" || finish
has_log "no state file yet: the startup policy is applied and logged" "health: startup: assume up"
ga "all up: Paris -> fra" "$FRA" - --ecs $PARIS $V

echo "# a PoP down moves its clients to the next nearest"
state "$HD/ams.json" ams 0 fra=down nyc=up:100 sin=up:100 gru=up:100
until_ga "fra down: Paris -> nyc (next nearest)" "$NYC" --ecs $PARIS $V
has_log "the change is logged with its reason" "PoP fra: down"
has "nyc did not change state: its answers keep the policy TTL (30)" "^AN $V\. 30 IN A $NYC$"
ga "Chicago unaffected -> nyc" "$NYC" - --ecs $CHICAGO $V
explain "$CONF" $V 192.0.2.1/24
has "explain: fra down per vantage ams" "fra +down +ams:down"
has "explain: the answer is nyc" "answer: nyc A $NYC"

echo "# quorum: two vantages that disagree"
sed -i 's/quorum: 1/quorum: 2/' "$CONF"
L=$(($(log_lines) + 1))
bump "$CONF"
wait_reload "reload ok" "$L" || fail "reload after the quorum change" "$(tail -n 5 "$LOG")"
state "$HD/sin.json" sin 0 fra=up nyc=up:100 sin=up:100 gru=up:100
until_ga "quorum 2, one says down, one up: fra stays up -> Paris fra" "$FRA" --ecs $PARIS $V
state "$HD/sin.json" sin 0 fra=down nyc=up:100 sin=up:100 gru=up:100
until_ga "quorum 2, both say down: Paris -> nyc" "$NYC" --ecs $PARIS $V

echo "# stale and corrupt files are ignored"
state "$HD/sin.json" sin 600 fra=up nyc=up:100 sin=up:100 gru=up:100
printf '{"format": "geodns-health", "version": 1, "vantage": "x", "pops": {"fra": [' >"$HD/bad.json"
sleep $((2 * DNS_SLOW))
ga "a stale 'up' from sin and a corrupt file change nothing: the fresh vantage says fra down" \
    "$NYC" - --ecs $PARIS $V
has_log "the corrupt file is logged with file:line:col" "bad.json:[0-9]+:[0-9]+: .*ignored"
N=$(grep -c "bad.json" "$LOG")
sleep 1
expect_eq "the corrupt file is logged once, not every scan" "$(grep -c "bad.json" "$LOG")" "$N"
state "$HD/zzz.json" zzz -600 fra=up nyc=up sin=up gru=up
explain "$CONF" $V 192.0.2.1/24
has "explain: an old file is stale" " sin:up\(stale\)"
has "explain: a file dated ahead of the clock is marked ahead, not stale" " zzz:up\(ahead\)"
rm -f "$HD/zzz.json"
has "explain names the corrupt state file it leaves out, as the server does" \
    "^warning: .*bad\.json:[0-9]+:[0-9]+: .*\(ignored\)"
explain "$CONF" --health-dir "$TMP/no-such-dir" $V 192.0.2.1/24
has "explain says when the health dir cannot be read" \
    "^warning: health dir .*no-such-dir: No such file or directory"
rm -f "$HD/bad.json" "$HD/sin.json"

echo "# one address of a PoP down: withdrawn, the other serves"
sed -i 's/quorum: 2/quorum: 1/' "$CONF"
L=$(($(log_lines) + 1))
bump "$CONF"
wait_reload "reload ok" "$L" || fail "reload after the quorum change back" "$(tail -n 5 "$LOG")"
sed -i 's/addresses: \[127.0.3.1, /addresses: [127.0.3.1, 127.0.3.9, /' "$EX/pops.yaml"
L=$(($(log_lines) + 1))
bump "$EX/pops.yaml"
wait_reload "reload ok" "$L" || fail "reload with two sin addresses" "$(tail -n 5 "$LOG")"
state "$HD/ams.json" ams 0 fra=up nyc=up:100 sin=up:100:down gru=up:100
until_ga "sin's first address down: Tokyo gets only 127.0.3.9" "127.0.3.9" --ecs $TOKYO $V
state "$HD/ams.json" ams 0 fra=up nyc=up:100 sin=up:100 gru=up:100
until_ga "both up again: Tokyo gets both" "$SIN 127.0.3.9" --ecs $TOKYO $V
until_ga "fra up again: Paris -> fra" "$FRA" --ecs $PARIS $V
has "fra changed state recently: its answers get the short TTL (7)" "^AN $V\. 7 IN A $FRA$"

echo "# load past the high watermark: clients shed by headroom, and come back"
# Buenos Aires: 256 client /24s nearest gru (ba_spread in geo-lib.sh).
sleep 1 # a load reading counts when its round is newer (state files carry whole seconds)
state "$HD/ams.json" ams 0 fra=up:800 nyc=up:500 sin=up:950 gru=up:1200
sleep $((2 * DNS_SLOW))
C=$(ba_spread)
echo "  gru at 120%: $C"
g=$(sed -n 's/.*127.0.4.1=\([0-9]*\).*/\1/p' <<<"$C")
n=$(sed -n 's/.*127.0.2.1=\([0-9]*\).*/\1/p' <<<"$C")
f=$(sed -n 's/.*127.0.1.1=\([0-9]*\).*/\1/p' <<<"$C")
s=$(sed -n 's/.*127.0.3.1=\([0-9]*\).*/\1/p' <<<"$C")
check "past the high watermark gru takes no new client prefix" test -z "$g"
check "shed prefixes go 3:1 to nyc (headroom 450) and fra (150): nyc ${n:-0}, fra ${f:-0}" \
    test "${n:-0}" -ge 160 -a "${n:-0}" -le 224 -a $((${n:-0} + ${f:-0})) -eq 256
check "sin (at 95%, no headroom) takes none" test -z "$s"
C2=$(ba_spread)
expect_eq "the same prefixes go to the same PoPs on a second pass" "$C2" "$C"
explain "$CONF" $V 100.64.7.1/24
has "explain shows gru's load and share" "gru +up .*load 1200/1000 \(120%\) keep 0%"
state "$HD/ams.json" ams 0 fra=up:100 nyc=up:100 sin=up:100 gru=up:300
for ((i = 0; i < 60 * DNS_SLOW; i++)); do
    state "$HD/ams.json" ams 0 fra=up:100 nyc=up:100 sin=up:100 gru=up:300
    C=$(ba_spread)
    [ "$C" = "127.0.4.1=256" ] && break
    sleep 0.5
done
expect_eq "load back to 30%: every Buenos Aires prefix returns to gru" "$C" "127.0.4.1=256"

echo "# overrides: force down with a reason; drain"
cat >"$EX/admin.yaml" <<'EOF'
overrides:
  fra: {state: down, reason: "fibre cut"}
EOF
until_ga "override fra down: Paris -> nyc" "$NYC" --ecs $PARIS $V
explain "$CONF" $V 192.0.2.1/24
has "explain names the override and its reason" "fibre cut"
printf 'overrides:\n  fra: {state: sideways}\n' >"$EX/admin.yaml"
sleep $((2 * DNS_SLOW))
has_log "a bad overrides file is reported with file:line:col" "admin.yaml:2:[0-9]+: "
ga "a bad overrides file keeps the last good overrides (fra still down)" "$NYC" - --ecs $PARIS $V
: >"$EX/admin.yaml"
until_ga "overrides removed: Paris -> fra" "$FRA" --ecs $PARIS $V
printf 'overrides:\n  fra: {state: drain, over: 2s, since: %s, reason: "maintenance"}\n' \
    "$(date +%s)" >"$EX/admin.yaml"
until_ga "drain over 2 s: once drained, Paris -> nyc" "$NYC" --ecs $PARIS $V
explain "$CONF" $V 192.0.2.1/24
has "explain says fra is drained" "fra +down .*drain"
: >"$EX/admin.yaml"
until_ga "drain removed: Paris -> fra" "$FRA" --ecs $PARIS $V

echo "# slow start: a PoP coming back takes its clients back gradually"
sed -i 's/slow_start: 0s/slow_start: 6s/' "$CONF"
L=$(($(log_lines) + 1))
bump "$CONF"
wait_reload "reload ok" "$L" || fail "reload with slow_start 6s" "$(tail -n 5 "$LOG")"
state "$HD/ams.json" ams 0 fra=up:100 nyc=up:100 sin=up:100 gru=down
until_ga "gru down: Buenos Aires -> nyc" "$NYC" --ecs 100.64.1.0/24 $V
state "$HD/ams.json" ams 0 fra=up:100 nyc=up:100 sin=up:100 gru=up:100
sleep 1
C=$(ba_spread)
g=$(sed -n 's/.*127.0.4.1=\([0-9]*\).*/\1/p' <<<"$C")
echo "  about 1 s into a 6 s slow start: $C"
check "slow start: gru takes back only part of its 256 prefixes at first (${g:-0})" \
    test "${g:-0}" -lt 200
for ((i = 0; i < 40 * DNS_SLOW; i++)); do
    C=$(ba_spread)
    [ "$C" = "127.0.4.1=256" ] && break
    sleep 0.5
done
expect_eq "slow start over: every Buenos Aires prefix is back on gru" "$C" "127.0.4.1=256"

echo "# everything down: the fallback chain, never a dead address"
state "$HD/ams.json" ams 0 fra=down nyc=down sin=down gru=down
for ((i = 0; i < 30 * DNS_SLOW; i++)); do
    q --ecs $PARIS $V
    grep -q " IN CNAME " <<<"$R" && break
    sleep 0.1
done
has "all down: video -> the commercial CDN CNAME" "^AN $V\. [0-9]+ IN CNAME video\.cdn-vendor\.example\.net\.$"
hasnt "all down: no PoP address in the answer" " IN A 127\.0\."
q --ecs $PARIS eu-video.cdn.example.test
expect "all down: eu-video (then: nodata) -> NODATA" ok rcode=NOERROR +aa an=0

echo "# every PoP full: the overflow goes to the CNAME"
sleep 1 # a newer round than the last load reading
state "$HD/ams.json" ams 0 fra=up:990 nyc=up:980 sin=up:990 gru=up:990
# The all-down state above also answers video with the CNAME: wait on eu-video, which only the
# all-full state answers with an address (the least loaded PoP, nyc).
for ((i = 0; i < 30 * DNS_SLOW; i++)); do
    q --ecs $CHICAGO eu-video.cdn.example.test
    grep -q " IN A " <<<"$R" && break
    sleep 0.1
done
has "all full, no CNAME (eu-video): the least loaded PoP (nyc) still answers" \
    "^AN eu-video\.cdn\.example\.test\. [0-9]+ IN A $NYC$"
q --ecs $CHICAGO $V
has "all past the high watermark: video -> CNAME" "^AN $V\. [0-9]+ IN CNAME video\.cdn-vendor\.example\.net\.$"

echo "# more state files than vantages read (32): the first 32 by name, warned about once"
L=$(($(log_lines) + 1))
for ((i = 33; i >= 0; i--)); do # made in reverse, so directory order is not name order
    v=$(printf 'v%02d' $i)
    state "$HD/$v.json" $v 0 fra=up:990 nyc=up:980 sin=up:990 gru=up:990
done
wait_log "more than 32 state files; reading the first 32 by name" 5 "$L" ||
    fail "34 more state files: warned" "$(tail -n 5 "$LOG")"
sleep 2 # four more scans of the directory
expect_eq "the warning is logged once, not at every scan" \
    "$(tail -n +"$L" "$LOG" | grep -c 'more than 32 state files')" 1
explain "$CONF" $V 192.0.2.1/24
first32=$(cd "$HD" && ls -- *.json | LC_ALL=C sort | head -n 32 | sed 's/\.json$//')
missing=0
for v in $first32; do grep -q " $v:" <<<"$R" || missing=$((missing + 1)); done
expect_eq "explain reads each of the first 32 state files by name" "$missing" 0
hasnt "v32 and v33 (past the first 32 by name) are not read" " v3[23]:"
rm -f "$HD"/v*.json

echo "# a PoP added, then removed, by a reload of the PoP file: both logged"
# pops_reload_logs WHAT PATTERN: reload the edited PoP file; PATTERN is logged after it.
pops_reload_logs() {
    L=$(($(log_lines) + 1))
    bump "$EX/pops.yaml"
    wait_reload "reload ok" "$L" || fail "reload with $1" "$(tail -n 5 "$LOG")"
    if wait_log "$2" 5 "$L"; then
        pass "$1: logged"
    else
        fail "$1: logged" "$(tail -n +"$L" "$LOG")"
    fi
}
cp "$EX/pops.yaml" "$TMP/pops.yaml.before"
sed -i 's/^pops:$/pops:\n  ams: {location: [52.37, 4.90], addresses: [127.0.9.1]}/' "$EX/pops.yaml"
grep -q "^  ams:" "$EX/pops.yaml" || fail "ams added to the PoP file" "$(head -n 3 "$EX/pops.yaml")"
pops_reload_logs "ams added, with its slow start" \
    "PoP ams: added by the reload, up \(up: no probe configured\); slow start"
if tail -n +"$L" "$LOG" | grep -Eq "PoP (fra|nyc|sin|gru): added"; then
    fail "PoPs kept by the reload are not logged as added" "$(tail -n +"$L" "$LOG")"
else
    pass "PoPs kept by the reload are not logged as added"
fi
cp "$TMP/pops.yaml.before" "$EX/pops.yaml"
pops_reload_logs "ams removed" "PoP ams: removed by the reload"

alive "geodnsd survived every health change"
finish
