#!/bin/bash
# bench/dns-geo.sh: geodnsd vs gdnsd, geo routing with EDNS Client Subnet, UDP.
# A benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bench/dns-geo.sh                         # DURATION=10 s per run, ROUNDS=3
#   DURATION=5 ROUNDS=1 bench/dns-geo.sh     # quick look
#
# What it does
#   - installs missing Debian packages (gdnsd, dnsperf, libmaxmind-db-writer-perl,
#     util-linux, dig, ss, python3; plus the build dependencies if geodnsd has to be built)
#     with apt-get as root, under a policy-rc.d that stops the packages from starting
#     daemons (bench/lib-dns.sh); builds $BUILD/bin/geodnsd if missing;
#   - one scenario for both servers: zone cdn.example.test, geo name video (A, TTL 30)
#     routed to the nearest of 4 PoPs by coordinates (fra 50.11,8.68 127.0.1.1; nyc
#     40.71,-74.01 127.0.2.1; sin 1.35,103.82 127.0.3.1; gru -23.55,-46.63 127.0.4.1),
#     static www A/AAAA, static CNAME, MX, TXT, NS, SOA; data in bench/data/geo/.
#     The same GeoIP2-City-schema mmdb for both (bench/data/geo/make-geodb.pl: 60 cities,
#     480 IPv4 /24s + 60 IPv6 /48s);
#   - gdnsd 3.x (Debian) with plugin_geoip in city auto mode (auto_dc_coords), udp_threads
#     GDNSD_UDP_THREADS (1); geodnsd with pops + geoip.mmdb, workers GEODNSD_WORKERS (1);
#     both on free ports of 127.0.0.1 from their own temp dirs, stopped by PID from a trap;
#   - queries (bench/data/geo/geo-tool.py, dnsperf -B wire format): 70 % the geo name, each
#     with its own ECS subnet drawn from the database's networks (a few unknown, a few
#     without ECS), 30 % static names + NXDOMAIN (half with ECS);
#   - cross-check before the runs: for CHECK_N (200) ECS subnets both servers' answers
#     for video must name the same PoP: prints the agreement count and each disagreement
#     (subnet, city, both answers, distances to the PoPs); compares the static answers too;
#   - the "ceiling": a bare recvmmsg/sendmmsg echo that does no DNS work, the shared peer's
#     (../shared/peers/ceiling/udp-ceiling.c next to the repo, as every recorded run used) or,
#     where that is absent (a clone elsewhere), bench/udp-echo.c, the same design written here;
#     CEILING_SRC=file.c picks another;
#   - ROUNDS rounds; in each, for each mode, dnsperf against each server in turn (the
#     order alternates between rounds).  Modes: "max" (dnsperf -c CLIENTS -q OUTSTANDING,
#     as fast as the server answers) and "rate" (the same with -Q RATE offered qps).
#     dnsperf pinned to CLIENT_CPU (taskset -c), every thread of the server to SERVER_CPU;
#   - per run: qps, average latency, lost, and the server's CPU time per completed query
#     (utime+stime from /proc/PID/stat before/after, all threads; includes the kernel's
#     UDP work done in the server's context); "other" = busy CPU time of the machine not
#     used by the server or dnsperf (noise from other work);
#   - prints one table per mode (each round and the median) and the ratios geodnsd/gdnsd,
#     also paired per round: median [min-max] and a 95 % bootstrap interval of the median;
#     writes results.tsv, summary.txt, crosscheck.txt, the dnsperf logs to RESULTS
#     (default: a new temp dir, printed).
#
# Knobs (environment): DURATION=10 ROUNDS=3 RATE=20000 CLIENTS=4 OUTSTANDING=100
#   QUERIES=10000 (query file size) CHECK_N=200 WARMUP=2 (s per server, not recorded)
#   WAIT_IDLE=5 IDLE_PCT=10 (before each run wait up to WAIT_IDLE s for the machine to be
#     less than IDLE_PCT % busy; 0 = don't wait)
#   CLIENT_CPU=0 SERVER_CPU=1  BUILD=<repo>/build  RESULTS=<dir>
#   CEILING=1 (0: skip)  CEILING_SRC=<an echo's C source: PORT [THREADS] arguments>
#   GEODNSD_WORKERS=1 GDNSD_UDP_THREADS=1
#   TIE_BAND= (geodnsd geo policy tie_band in %; empty = geodnsd's default, 5)
#   KEEP=1 (start, cross-check, print the ports and PIDs, then wait for ^C: for profiling)
#   HEALTH=1 (0: skip) also runs "geodnsd+health": the same geodnsd config with health and
#     capacity active (a state file with three of the four PoPs between their watermarks, so
#     they shed clients by hash and spread them by headroom), and prints its CPU per query
#     against plain geodnsd measured in the same rounds
#   POPS1024=1 (0: skip) also runs "geodnsd-1024": the same geodnsd config with 1,024 PoPs in
#     the pool (the 4 above plus 1,020 on a world grid, generated), and prints its CPU per query
#     against plain geodnsd (4 PoPs) measured in the same rounds
#   BASE= (a path to another geodnsd binary) also runs "geodnsd-base": that binary with the same
#     config as geodnsd, in the same rounds, and prints geodnsd/geodnsd-base CPU per query: an
#     A/B comparison of two builds on the same machine at the same time; BASE=$BUILD/bin/geodnsd
#     (the very binary measured) is an A/A run: the method's own noise
#   MODES="max rate" (the modes to run; "max" alone for the full-load figures only)
#   QUOTA= (percent of one CPU, as root): each server runs inside a cpu cgroup limited to that
#     share (bench/lib-dns.sh bd_quota_setup), so at full load the server, not dnsperf, is the
#     bottleneck and never idles waiting for queries
#   RESTART=1 starts every server afresh before each round after the first (and warms it up
#     again), so that a process's own lasting bias varies between rounds instead of weighing on
#     every round alike (see bench/lib-dns.sh bd_run_rounds)
#   RRL=1 (0: skip) also runs "geodnsd+rrl": the same geodnsd config with response rate
#     limiting on and a limit no client reaches (responses_per_second 1000000), so nothing is
#     limited and the difference is the cost of the bucket lookup per response; prints its CPU
#     per query against plain geodnsd measured in the same rounds
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
DATA="$HERE/data/geo"
. "$HERE/lib-dns.sh"

DURATION="${DURATION:-10}"; ROUNDS="${ROUNDS:-3}"; RATE="${RATE:-20000}"
CLIENTS="${CLIENTS:-4}"; OUTSTANDING="${OUTSTANDING:-100}"; QUERIES="${QUERIES:-10000}"
CHECK_N="${CHECK_N:-200}"; WARMUP="${WARMUP:-2}"; WAIT_IDLE="${WAIT_IDLE:-5}"; IDLE_PCT="${IDLE_PCT:-10}"
CLIENT_CPU="${CLIENT_CPU:-0}"; SERVER_CPU="${SERVER_CPU:-1}"
BUILD="${BUILD:-$REPO/build}"; CEILING="${CEILING:-1}"
if [ -z "${CEILING_SRC:-}" ]; then
    CEILING_SRC="$REPO/../shared/peers/ceiling/udp-ceiling.c"
    [ -r "$CEILING_SRC" ] || CEILING_SRC="$HERE/udp-echo.c"
fi
GEODNSD_WORKERS="${GEODNSD_WORKERS:-1}"; GDNSD_UDP_THREADS="${GDNSD_UDP_THREADS:-1}"
TIE_BAND="${TIE_BAND:-}"; KEEP="${KEEP:-0}"; HEALTH="${HEALTH:-1}"; RRL="${RRL:-1}"
POPS1024="${POPS1024:-1}"; BASE="${BASE:-}"; RESTART="${RESTART:-0}"
read -r -a MODES <<< "${MODES:-max rate}"
for m in "${MODES[@]}"; do [[ "$m" =~ ^(max|rate)$ ]] || bd_die "MODES: unknown mode '$m' (max, rate)"; done
[ -z "$BASE" ] || [ -x "$BASE" ] || bd_die "BASE=$BASE is not an executable"
[[ "$RESTART" =~ ^[01]$ ]] || bd_die "RESTART must be 0 or 1"
ZONE=cdn.example.test
for v in DURATION ROUNDS RATE CLIENTS OUTSTANDING QUERIES CHECK_N WARMUP WAIT_IDLE IDLE_PCT \
         CLIENT_CPU SERVER_CPU GEODNSD_WORKERS GDNSD_UDP_THREADS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bd_die "$v must be a non-negative integer (got '${!v}')"
done
[ -z "$TIE_BAND" ] || [[ "$TIE_BAND" =~ ^[0-9]+$ ]] || bd_die "TIE_BAND must be empty or 0..100"
{ [ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ]; } || bd_die "ROUNDS and DURATION must be >= 1"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GEODNSD="$BUILD/bin/geodnsd"

# ---- packages and build ------------------------------------------------------------
bd_need_pkgs gdnsd dnsperf libmaxmind-db-writer-perl util-linux bind9-dnsutils iproute2 procps python3
GDNSD_BIN="$(command -v gdnsd || echo /usr/sbin/gdnsd)"
[ -x "$GDNSD_BIN" ] || bd_die "gdnsd not found"
bd_build_geodnsd "$REPO" "$BUILD"
NCPU="$(nproc)"
if [ "$CLIENT_CPU" -ge "$NCPU" ] || [ "$SERVER_CPU" -ge "$NCPU" ]; then
    bd_say "note: only $NCPU CPU(s): dnsperf and the server both on CPU 0 (figures are not comparable with a 2-CPU run)"
    CLIENT_CPU=0; SERVER_CPU=0
fi

# ---- dirs, cleanup -----------------------------------------------------------------
if [ -z "${RESULTS:-}" ]; then RESULTS="$(mktemp -d /tmp/dns-geo.XXXXXX)"; fi
mkdir -p "$RESULTS/logs"
WORK="$(mktemp -d /tmp/dns-geo-work.XXXXXX)"
declare -A SPID=() SPORT=()
cleanup() {
    local s
    for s in "${!SPID[@]}"; do bd_stop "${SPID[$s]}"; done
    bd_quota_cleanup
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- GeoIP database and queries ----------------------------------------------------
MMDB="$RESULTS/geo.mmdb"
perl "$DATA/make-geodb.pl" "$MMDB" >/dev/null || bd_die "make-geodb.pl failed"
QNOTE="$(python3 "$DATA/geo-tool.py" queries "$MMDB.nets" "$RESULTS" "$QUERIES")" || bd_die "geo-tool.py queries failed"
QFILE="$RESULTS/queries.bin"

# ---- servers -----------------------------------------------------------------------
ports_used=()
pick_port() { local p; p="$(bd_free_port "${ports_used[@]}")"; ports_used+=("$p"); echo "$p"; }

start_gdnsd() {
    local d="$WORK/gdnsd" port; port="$(pick_port)"
    mkdir -p "$d/etc/zones" "$d/etc/geoip" "$d/run" "$d/state"
    sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$port|g" -e "s|@UDP_THREADS@|$GDNSD_UDP_THREADS|g" \
        "$DATA/gdnsd.conf.in" > "$d/etc/config"
    cp "$DATA/$ZONE.zone" "$d/etc/zones/$ZONE"
    cp "$MMDB" "$d/etc/geoip/geo.mmdb"
    "$GDNSD_BIN" -c "$d/etc" checkconf > "$d/checkconf.log" 2>&1 ||
        { cat "$d/checkconf.log" >&2; bd_die "gdnsd checkconf failed ($d/etc)"; }
    "$GDNSD_BIN" -c "$d/etc" start > "$d/gdnsd.log" 2>&1 < /dev/null &
    SPID[gdnsd]=$!; SPORT[gdnsd]=$port
    bd_wait_dns gdnsd "$port" "${SPID[gdnsd]}" "$ZONE" "$d/gdnsd.log" || bd_die "gdnsd did not start"
}

# start_geodnsd NAME [HEALTH [RRL [POPS1024 [BINARY]]]]: geodnsd (or BINARY) from its own dir with the shared zone and mmdb. With
# HEALTH=1, health and capacity on the query path: PoPs with capacities and a fresh state file in
# which fra, nyc and gru are between their watermarks (shedding). With RRL=1, rate limiting with
# a limit far above the offered load (every response is accounted, none is limited).
start_geodnsd() {
    local name=$1 health=${2:-0} rrl=${3:-0} many=${4:-0} bin=${5:-$GEODNSD} d port tb="" hcfg="" rcfg=""
    d="$WORK/$name"; port="$(pick_port)"; mkdir -p "$d/health"
    [ -n "$TIE_BAND" ] && tb=", tie_band: $TIE_BAND"
    sed "s|@TIE_BAND@|$tb|" "$DATA/$ZONE.yaml" > "$d/$ZONE.yaml"
    cp "$DATA/pops.yaml" "$d/pops.yaml"
    if [ "$many" = 1 ]; then
        python3 - "$DATA/pops.yaml" > "$d/pops.yaml" <<'EOF'
import sys
lines = [l for l in open(sys.argv[1]) if l.strip() and not l.lstrip().startswith("#")]
pops = [l for l in lines if l.startswith("  ") and "location" in l]
names = [l.split(":")[0].strip() for l in pops]
print("pops:")
for l in pops:
    print(l.rstrip())
for i in range(1020):
    lat = -60 + (i // 34) * 4.1
    lon = -175 + (i % 34) * 10.4
    print("  g%d: {location: [%.2f, %.2f], addresses: [127.1.%d.%d]}" % (i, lat, lon, i // 250, i % 250 + 1))
    names.append("g%d" % i)
print("pools:")
print("  edges: [%s]" % ", ".join(names))
EOF
    fi
    cp "$MMDB" "$d/geo.mmdb"
    if [ "$health" = 1 ]; then
        sed -E 's|(addresses: \[127\.0\.([0-9])\.1\])|\1, capacity: 1000, probe: {url: "http://127.0.\2.1:8080/healthz"}|' \
            "$DATA/pops.yaml" > "$d/pops.yaml"
        python3 - "$d/health/bench.json" <<'EOF'
import json, sys, time
loads = {"fra": 900, "nyc": 880, "sin": 500, "gru": 870}
pops = {n: {"state": "up", "load": l, "addresses": {"127.0.%d.1" % (i + 1): {"state": "up"}}}
        for i, (n, l) in enumerate(loads.items())}
json.dump({"format": "geodns-health", "version": 1, "vantage": "bench", "time": int(time.time()),
           "round_ms": 1, "pops": pops}, open(sys.argv[1], "w"))
EOF
        hcfg="health: {dir: health, max_age: 24h, slow_start: 0s}"
    fi
    [ "$rrl" = 1 ] && rcfg="rrl: {responses_per_second: 1000000, slip: 2}"
    cat > "$d/geodnsd.yaml" <<EOF
listen: ["127.0.0.1:$port"]
workers: $GEODNSD_WORKERS
zones: [$ZONE.yaml]
pops: pops.yaml
geoip: {mmdb: geo.mmdb, schema: geoip2-city}
$hcfg
$rcfg
log: {level: warn}
EOF
    "$bin" --check -c "$d/geodnsd.yaml" > "$d/check.log" 2>&1 ||
        { cat "$d/check.log" >&2; bd_die "geodnsd --check failed ($d/geodnsd.yaml)"; }
    "$bin" -c "$d/geodnsd.yaml" --listen "127.0.0.1:$port" > "$d/geodnsd.log" 2>&1 < /dev/null &
    SPID[$name]=$!; SPORT[$name]=$port
    bd_wait_dns "$name" "$port" "${SPID[$name]}" "$ZONE" "$d/geodnsd.log" || bd_die "$name did not start"
    if [ "$health" = 1 ]; then
        HEALTH_NOTE="$name: share kept per PoP: $("$GEODNSD" explain -c "$d/geodnsd.yaml" video.$ZONE 192.0.2.1 2>&1 |
            sed -n 's/^  \([a-z]*\) .* load [0-9]*\/[0-9]* (\([0-9]*%\)) keep \([0-9]*%\).*/\1 load \2 keep \3/p' | paste -sd, -)"
    fi
}

CEILING_NOTE=""
start_ceiling() {
    if [ "$CEILING" = 0 ]; then CEILING_NOTE="ceiling: skipped (CEILING=0)"; return 0; fi
    if [ ! -r "$CEILING_SRC" ]; then CEILING_NOTE="ceiling: skipped ($CEILING_SRC not found)"; return 0; fi
    if ! command -v gcc >/dev/null; then CEILING_NOTE="ceiling: skipped (no gcc)"; return 0; fi
    local d="$WORK/ceiling" port; mkdir -p "$d"
    gcc -O2 -o "$d/udp-ceiling" "$CEILING_SRC" -lpthread ||
        { CEILING_NOTE="ceiling: skipped (compile failed)"; return 0; }
    port="$(pick_port)"
    "$d/udp-ceiling" "$port" 1 > "$d/ceiling.log" 2>&1 < /dev/null &
    SPID[ceiling]=$!; SPORT[ceiling]=$port
    for _ in $(seq 1 50); do ss -Hlnu "( sport = :$port )" | grep -q . && break; sleep 0.1; done
    bd_alive "${SPID[ceiling]}" || { unset 'SPID[ceiling]'; CEILING_NOTE="ceiling: failed to start"; return 0; }
    CEILING_NOTE="ceiling: $(basename "$CEILING_SRC") (1 thread, echo with QR set, no DNS work), from $CEILING_SRC"
}

# How each server is started, for RESTART=1 (bd_restart, below).
declare -A START=([gdnsd]="start_gdnsd" [geodnsd]="start_geodnsd geodnsd"
    [geodnsd+health]="start_geodnsd geodnsd+health 1" [geodnsd+rrl]="start_geodnsd geodnsd+rrl 0 1"
    [geodnsd-1024]="start_geodnsd geodnsd-1024 0 0 1" [geodnsd-base]="start_geodnsd geodnsd-base 0 0 0 $BASE"
    [ceiling]="start_ceiling")
start_gdnsd
start_geodnsd geodnsd
HEALTH_NOTE="geodnsd+health: skipped (HEALTH=0)"
[ "$HEALTH" = 1 ] && start_geodnsd geodnsd+health 1
[ "$RRL" = 1 ] && start_geodnsd geodnsd+rrl 0 1
[ "$POPS1024" = 1 ] && start_geodnsd geodnsd-1024 0 0 1
[ -n "$BASE" ] && start_geodnsd geodnsd-base 0 0 0 "$BASE"
start_ceiling
# bd_restart SERVER: stop it and start it again, pinned as before (RESTART=1).
bd_restart() {
    bd_stop "${SPID[$1]}"
    ${START[$1]} # word splitting intended: the function and its arguments
    [ -n "${SPID[$1]:-}" ] && bd_alive "${SPID[$1]}" || bd_die "$1 did not start again"
    # shellcheck disable=SC2046
    bd_pin "$SERVER_CPU" $(bd_tree "${SPID[$1]}")
}
SERVERS=(gdnsd geodnsd); [ -n "${SPID[geodnsd+health]:-}" ] && SERVERS+=(geodnsd+health)
[ -n "${SPID[geodnsd+rrl]:-}" ] && SERVERS+=(geodnsd+rrl)
[ -n "${SPID[geodnsd-1024]:-}" ] && SERVERS+=(geodnsd-1024)
[ -n "${SPID[geodnsd-base]:-}" ] && SERVERS+=(geodnsd-base)
[ -n "${SPID[ceiling]:-}" ] && SERVERS+=(ceiling)
for s in "${SERVERS[@]}"; do
    # shellcheck disable=SC2046
    bd_pin "$SERVER_CPU" $(bd_tree "${SPID[$s]}")
done

# ---- header and cross-check ----------------------------------------------------------
NS=${#SERVERS[@]}
est=$(( ROUNDS * ${#MODES[@]} * NS * (DURATION + 1) + NS * WARMUP ))
{
    echo "geodnsd vs gdnsd, geo routing with ECS, zone $ZONE: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $NCPU CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
    echo "geodnsd: $GEODNSD ($("$GEODNSD" --version 2>&1 | head -1), repository at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')), workers $GEODNSD_WORKERS, tie_band ${TIE_BAND:-default}, pid ${SPID[geodnsd]}, port ${SPORT[geodnsd]}"
    echo "gdnsd:   $({ "$GDNSD_BIN" -V 2>&1 || true; } | grep -m1 -o 'gdnsd version [0-9.]*' || echo gdnsd), plugin_geoip auto_dc_coords, udp_threads $GDNSD_UDP_THREADS, pid ${SPID[gdnsd]}, port ${SPORT[gdnsd]}"
    echo "$CEILING_NOTE"
    echo "mmdb: $MMDB ($(grep -vc '^#' "$MMDB.nets") networks, GeoIP2-City schema, bench/data/geo/make-geodb.pl)"
    echo "queries: $QNOTE"
    echo "dnsperf: $(dnsperf -h 2>&1 | grep -m1 -io 'version [0-9.]*' || echo present) -B, pinned to CPU $CLIENT_CPU; servers pinned to CPU $SERVER_CPU"
    echo "runs: $ROUNDS rounds x modes {max: -c $CLIENTS -q $OUTSTANDING; rate: same + -Q $RATE} x {${SERVERS[*]}}, $DURATION s each (${est} s of load; warm-ups, idle waits and the extra runs add to it)"
} | tee "$RESULTS/summary.txt"
python3 "$DATA/geo-tool.py" check "$MMDB.nets" "$CHECK_N" gdnsd "${SPORT[gdnsd]}" geodnsd "${SPORT[geodnsd]}" \
    > "$RESULTS/crosscheck.txt" 2>&1 || bd_say "cross-check failed to run, see $RESULTS/crosscheck.txt"
tee -a "$RESULTS/summary.txt" < "$RESULTS/crosscheck.txt"

if [ "$KEEP" = 1 ]; then
    for s in "${SERVERS[@]}"; do bd_say "$s: pid ${SPID[$s]}, 127.0.0.1:${SPORT[$s]}"; done
    bd_say "queries: $QFILE; KEEP=1: servers stay up until ^C"
    while :; do sleep 1; done   # short sleeps: a SIGTERM/^C is handled within a second
fi

# ---- one dnsperf run ---------------------------------------------------------------
TSV="$RESULTS/results.tsv"
printf 'mode\tround\tserver\tport\toffered_qps\tsecs\tsent\tcompleted\tlost\tqps\tavg_ms\tmax_ms\tsrv_cpu_s\tus_per_q\tdnsperf_cpu_s\tother_cpu_s\tsrv_cpu_pct\tbusy_before_pct\trcodes\tlog\n' > "$TSV"
HZ="$(getconf CLK_TCK)"
declare -A R=()   # R[mode,round,server,field]


BD_DNSPERF_FLAGS="-B"
# ---- run ---------------------------------------------------------------------------
bd_run_rounds

# ---- tables ------------------------------------------------------------------------
{
    for mode in "${MODES[@]}"; do
        bd_print_table "$mode" gdnsd gdnsd
        if [ -n "${SPID[geodnsd+health]:-}" ]; then
            printf 'health and capacity on the query path: geodnsd+health/geodnsd (medians): CPU per query %s, qps %s\n' \
                "$(bd_ratio "$(bd_med "$mode" geodnsd+health usq)" "$(bd_med "$mode" geodnsd usq)")" \
                "$(bd_ratio "$(bd_med "$mode" geodnsd+health qps)" "$(bd_med "$mode" geodnsd qps)")"
        fi
        if [ -n "${SPID[geodnsd+rrl]:-}" ]; then
            printf 'rate limiting on, nothing limited: geodnsd+rrl/geodnsd (medians): CPU per query %s, qps %s\n' \
                "$(bd_ratio "$(bd_med "$mode" geodnsd+rrl usq)" "$(bd_med "$mode" geodnsd usq)" %.3f)" \
                "$(bd_ratio "$(bd_med "$mode" geodnsd+rrl qps)" "$(bd_med "$mode" geodnsd qps)" %.3f)"
        fi
        printf 'user-space CPU per query (medians, us/q; the rest is kernel):'
        for s in "${SERVERS[@]}"; do printf ' %s %s' "$s" "$(bd_med "$mode" "$s" uusq)"; done
        echo
        if [ -n "${SPID[geodnsd-base]:-}" ]; then
            printf 'this build vs BASE=%s: geodnsd/geodnsd-base (medians): CPU per query %s (%s vs %s us/q; paired per round %s), qps %s\n' \
                "$BASE" "$(bd_ratio "$(bd_med "$mode" geodnsd usq)" "$(bd_med "$mode" geodnsd-base usq)" %.3f)" \
                "$(bd_med "$mode" geodnsd usq)" "$(bd_med "$mode" geodnsd-base usq)" \
                "$(bd_paired "$mode" geodnsd geodnsd-base)" \
                "$(bd_ratio "$(bd_med "$mode" geodnsd qps)" "$(bd_med "$mode" geodnsd-base qps)" %.3f)"
        fi
        if [ -n "${SPID[geodnsd-1024]:-}" ]; then
            printf '1,024 PoPs vs 4 PoPs: geodnsd-1024/geodnsd (medians): CPU per query %s (%s vs %s us/q), qps %s\n' \
                "$(bd_ratio "$(bd_med "$mode" geodnsd-1024 usq)" "$(bd_med "$mode" geodnsd usq)" %.3f)" \
                "$(bd_med "$mode" geodnsd-1024 usq)" "$(bd_med "$mode" geodnsd usq)" \
                "$(bd_ratio "$(bd_med "$mode" geodnsd-1024 qps)" "$(bd_med "$mode" geodnsd qps)" %.3f)"
        fi
    done
    echo
    echo "$HEALTH_NOTE"
    echo "cpu% = server CPU time / run time; us/q = server CPU time (user+sys, /proc/PID/stat, all"
    echo "threads) per completed query; other_s = busy CPU seconds on the machine not used by the"
    echo "server or dnsperf during the run (noise from other work), per server."
    echo "$CEILING_NOTE"
    echo "results: $RESULTS (results.tsv, summary.txt, crosscheck.txt, logs/)"
} | tee -a "$RESULTS/summary.txt"
