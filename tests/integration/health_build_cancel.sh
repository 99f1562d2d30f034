#!/usr/bin/env bash
# health_build_cancel: a merged-table build (route_table_build on the thread pool, seconds with a
# big database and many PoPs) does not hold up what comes after it. A newer health change cancels
# the running build (logged), the newest view's tables are built next and the answers follow the
# newer change; SIGTERM during a build (the start-up one, before "ready", included: the listeners
# answer meanwhile, health applied) cancels it and geodnsd exits 0 with "stopped" (under ASan:
# no leak). The data: 16,384 mmdb networks, each its own place, 1,024 PoPs, 12 distinct geo
# policies (12 tables): about 4 s per build on the development machine. No timing is asserted:
# every wait is bounded and polls the log or the answers.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
dns_init
D=$TMP/big
mkdir -p "$D/health"
command -v perl >/dev/null && perl -MMaxMind::DB::Writer::Tree -e1 2>/dev/null ||
    die "perl MaxMind::DB::Writer is needed to write the test database"
perl - "$D/big.mmdb" 16384 <<'EOF' || die "cannot write the test mmdb"
use strict; use warnings;
use MaxMind::DB::Writer::Tree;
my ($out, $n) = @ARGV;
my %types = (continent => 'map', country => 'map', location => 'map', code => 'utf8_string',
             iso_code => 'utf8_string', latitude => 'double', longitude => 'double');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 28, database_type => 'GeoIP2-City', languages => ['en'],
    description => { en => 'geodnsd test: many networks, each its own place' },
    map_key_type_callback => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
    remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1);
for my $i (0 .. $n - 1) {    # 100.64.0.0/24 ... : network i at its own coordinates
    $tree->insert_network(sprintf('100.%d.%d.0/24', 64 + ($i >> 8), $i & 255), {
        continent => { code => 'EU' }, country => { iso_code => 'FR' },
        location => { latitude => -80 + 160 * (($i * 7919) % $n) / $n,
                      longitude => -179 + 358 * (($i * 104729) % $n) / $n } });
}
open my $fh, '>:raw', $out or die "$out: $!"; $tree->write_tree($fh); close $fh or die;
EOF
python3 - "$D" <<'EOF'
import sys
d, n = sys.argv[1], 1024
with open(d + '/pops.yaml', 'w') as f:  # a grid
    f.write('pops:\n')
    for i in range(n):
        a = '127.%d.%d.1' % (1 + i // 256, i % 256)
        f.write('  p%d: {location: [%.2f, %.2f], addresses: [%s], capacity: 1000, '
                'probe: {url: "http://%s/"}}\n'
                % (i, -60.0 + (i // 32) * 3.9, -175.0 + (i % 32) * 11.0, a, a))
    f.write('pools:\n  all: [%s]\n' % ', '.join('p%d' % i for i in range(n)))
with open(d + '/z.yaml', 'w') as f:
    f.write('zone: big.test\nttl: 300\nsoa: {primary: ns1, contact: h@big.test, refresh: 3600, '
            'retry: 600, expire: 604800, minimum: 60}\nns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}\n')
    k = 0
    for a in range(1, 7):
        for tb in ('', ', tie_band: 0'):
            f.write('  v%d: {geo: {pool: all, answers: %d, ttl: 30%s}}\n' % (k, a, tb))
            k += 1
with open(d + '/geodnsd.yaml', 'w') as f:
    f.write('listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [z.yaml]\npops: pops.yaml\n'
            'geoip: {mmdb: big.mmdb, schema: geoip2-city}\n'
            'health: {dir: health, quorum: 1, max_age: 600s, slow_start: 0s, lag: 1s}\n'
            'log: {level: debug}\n')  # debug: "geo table build ... started"
EOF
[ -s "$D/z.yaml" ] || die "cannot write the test config"

# state [POP...]: one vantage's state file (temp file + rename, as healthcheck writes it) with
# every PoP up except the ones named. LOADS="p0=850 p1=930": those PoPs report that load (every
# PoP has a capacity of 1000); the others report none (their share stays as it was).
state() {
    LOADS=${LOADS:-} python3 - "$D/health/v1.json" "$@" <<'EOF'
import json, os, sys, time
path, down = sys.argv[1], set(sys.argv[2:])
now = int(time.time())
loads = dict(x.split("=") for x in os.environ.get("LOADS", "").split())
pops = {}
for i in range(1024):
    name, st = "p%d" % i, "down" if "p%d" % i in down else "up"
    a = "127.%d.%d.1" % (1 + i // 256, i % 256)
    pops[name] = {"state": st, "load": None, "load_reason": "no status", "addresses": {a: {
        "state": st, "reason": "http 200" if st == "up" else "timeout", "rtt_ms": 0.5,
        "history": "11" if st == "up" else "00", "ok_streak": 2 if st == "up" else 0,
        "probes": 2, "failures": 0 if st == "up" else 2, "since": now}}}
    if name in loads:
        pops[name]["load"] = float(loads[name])
        del pops[name]["load_reason"]
doc = {"format": "geodns-health", "version": 1, "vantage": "v1", "time": now, "round_ms": 10,
       "pops": pops}
with open(path + ".tmp", "w") as f:
    json.dump(doc, f)
os.rename(path + ".tmp", path)
EOF
}
nlog() { grep -Ec -- "$1" "$LOG"; }
# until_n REGEX N SECONDS: waits (bounded, x DNS_SLOW) until N log lines match REGEX.
until_n() {
    local i
    for ((i = 0; i < $3 * 10 * DNS_SLOW; i++)); do
        [ "$(nlog "$1")" -ge "$2" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# term_wait WHEN: SIGTERM to the server, wait (bounded) for it to exit, check it exited 0.
term_wait() {
    local i rc
    kill -TERM "$SERVER_PID"
    for ((i = 0; i < 300 * DNS_SLOW; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        fail "geodnsd exits after SIGTERM $1" "still running; killed"
        kill -KILL "$SERVER_PID"
    fi
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=""
    expect_eq "geodnsd exits 0 after SIGTERM $1" "$rc" 0
}
STARTED='geo table build for generation [0-9]+ started'
SUPERSEDED='geo table build for generation [0-9]+ cancelled after [0-9]+ ms \(superseded'
SHUTDOWN='geo table build for generation [0-9]+ cancelled after [0-9]+ ms \(shutting down\)'
BUILT='geo tables: 12 for'
CLIENT=100.64.0.0/24

# Started by hand: the start-up build (before "ready") is long under ASan.
PORT=$(free_port)
: >"$LOG"
"$GEODNSD" -c "$D/geodnsd.yaml" --listen "127.0.0.1:$PORT" 2>>"$LOG" >>"$TMP/server.stdout" &
SERVER_PID=$!
until_n 'geodnsd ready' 1 120 || die "geodnsd did not start" "$(tail -n 20 "$LOG")"
has_log "start-up: 12 tables built" "$BUILT"
q --ecs $CLIENT v0.big.test
X=$(addrs)
XP=$(echo "$X" | awk -F. '{ print "p" ($2 - 1) * 256 + $3 }')
check "start-up: the client gets one PoP ($X = $XP)" [ -n "$X" -a "$XP" != p500 ]

echo "# a newer change cancels the running build"
S=$(nlog "$STARTED") B=$(nlog "$BUILT")
state "$XP"
if until_n "$STARTED" $((S + 1)) 30; then
    # Meanwhile the new view answers by ranking each client. Its ECS scope is the matched network
    # cut short of the special ranges inside it: 8.8.8.0 lies in a large empty network of this
    # mmdb that also holds 0/8 and 10/8 (answered from the resolver's address), so 8.0.0.0/7, as
    # the tables say; 11.0.0.0 gets 11/8, beside 10/8.
    for cs in 8.8.8.0/24=7 11.0.0.0/24=8; do
        q --ecs "${cs%=*}" v1.big.test
        d="while the tables build ($(($(nlog "$BUILT") - B)) built since): ECS ${cs%=*}"
        expect_eq "$d gets scope /${cs#*=}, clear of the special ranges" "$(ecs_scope)" "${cs#*=}"
    done
    state p500 # $XP is back up: the build for "$XP down" is now useless
    if until_n "$SUPERSEDED" 1 60; then
        pass "the build for the older view is cancelled (logged)"
    else
        fail "the build for the older view is cancelled (logged)" "$(tail -n 8 "$LOG")"
    fi
else
    fail "a health change starts a table build" "$(tail -n 8 "$LOG")"
fi
if until_n "$BUILT" $((B + 1)) 120; then
    pass "the newest view's tables are built after the cancelled build"
    L_CANCEL=$(grep -En -- "$SUPERSEDED" "$LOG" | head -n 1 | cut -d: -f1)
    L_BUILT=$(grep -En -- "$BUILT" "$LOG" | tail -n 1 | cut -d: -f1)
    check "the tables published come after the cancel" [ "${L_CANCEL:-0}" -lt "${L_BUILT:-0}" ]
else
    fail "the newest view's tables are built after the cancelled build" "$(tail -n 8 "$LOG")"
fi
expect_eq "only the superseded build was cancelled" "$(nlog "$SUPERSEDED")" 1
# The last change ($XP up, p500 down) decides: $XP answers its client again.
q --ecs $CLIENT v0.big.test
expect_eq "the answers follow the newer change: $XP is back for its client" "$(addrs)" "$X"

echo "# capacity shares changing faster than a build takes: no build cancelled, tables published"
# A new load reading every ~1.1 s (the file's time has a one-second resolution), alternating
# between 85% and 93% of capacity for p0-p9: each moves their shares (lag 1 s), a new view
# each time, while a build takes seconds. Before, each cancelled the running build and the
# tables never came.
S=$(nlog "$STARTED") B=$(nlog "$BUILT") C=$(nlog "$SUPERSEDED")
for ((k = 0; k < 60 * DNS_SLOW; k++)); do
    l=$((850 + (k % 2) * 80))
    LOADS="p0=$l p1=$l p2=$l p3=$l p4=$l p5=$l p6=$l p7=$l p8=$l p9=$l" state p500
    sleep 1.1
    [ "$(nlog "$BUILT")" -gt "$B" ] && [ "$(nlog "$STARTED")" -ge $((S + 2)) ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
done
NS=$(($(nlog "$STARTED") - S)) NB=$(($(nlog "$BUILT") - B))
echo "  $((k + 1)) readings: $NS builds started, $NB tables published"
check "the shares moved: more than one build started ($NS)" [ "$NS" -ge 2 ]
check "tables published while the shares kept moving ($NB)" [ "$NB" -ge 1 ]
expect_eq "no build cancelled by a share change" "$(($(nlog "$SUPERSEDED") - C))" 0
state p500 # loads gone again

echo "# a PoP past its high watermark is applied at once, not with its tables"
B=$(nlog "$BUILT")
LOADS="$XP=990" state p500 # $XP (up, the client's PoP) at 99% of its capacity: share 0
for ((i = 0; i < 100 * DNS_SLOW; i++)); do
    q --ecs $CLIENT v0.big.test
    [ "$(addrs)" != "$X" ] && break
    sleep 0.1
done
NB=$(($(nlog "$BUILT") - B))
check "$XP full: its client goes elsewhere ($(addrs)) before its tables are built ($NB built)" \
    [ "$(addrs)" != "$X" -a -n "$(addrs)" -a "$NB" = 0 ]
until_n "$BUILT" $((B + 1)) 120 || fail "the tables for $XP full are built" "$(tail -n 5 "$LOG")"
state p500 # load gone: $XP's share comes back (rate limited, one lag), its tables follow

echo "# SIGTERM during a build"
S=$(nlog "$STARTED")
state "$XP" p500
until_n "$STARTED" $((S + 1)) 30 || fail "a health change starts a table build" "$(tail -n 5 "$LOG")"
term_wait "during a build"
has_log "the running build is cancelled at shutdown (logged)" "$SHUTDOWN"
L_CANCEL=$(grep -En -- "$SHUTDOWN" "$LOG" | tail -n 1 | cut -d: -f1)
L_STOP=$(grep -En -- ' stopped$' "$LOG" | tail -n 1 | cut -d: -f1)
check "then \"stopped\"" [ "${L_CANCEL:-999999}" -lt "${L_STOP:-0}" ]
check "no tables published for the cancelled build" \
    [ "$(tail -n +"${L_CANCEL:-1}" "$LOG" | grep -c "$BUILT")" = 0 ]
echo "# SIGTERM during the start-up build"
state "$XP" # $XP down from the start
: >"$LOG"
"$GEODNSD" -c "$D/geodnsd.yaml" --listen "127.0.0.1:$PORT" 2>>"$LOG" >>"$TMP/server.stdout" &
SERVER_PID=$!
if until_n "$STARTED" 1 60; then
    # The listeners answer while the first tables are built, with the health already applied.
    q --ecs $CLIENT v0.big.test
    A=$(addrs)
    check "during the start-up build the client is answered ($A), not by its PoP that is down" \
        [ -n "$A" -a "$A" != "$X" ]
else
    fail "the start-up build starts (logged at debug)" "$(tail -n 8 "$LOG")"
fi
term_wait "during the start-up build"
has_log "the start-up build is cancelled (logged)" "$SHUTDOWN"
check "no tables and no \"ready\" before it stopped" \
    [ "$(grep -Ec -- "$BUILT|geodnsd ready" "$LOG")" = 0 ]
has_log "then \"stopped\"" ' stopped$'
hasnt_log() { if grep -Eq -- "$2" "$LOG"; then fail "$1" "$(grep -E -- "$2" "$LOG" | head -n 5)"; else pass "$1"; fi; }
hasnt_log "no sanitizer report (leaks, errors)" 'Sanitizer|runtime error'
finish
