#!/bin/bash
# bench/zone-load.sh: loading zones at operator scale, geodnsd against NSD on the same records.
# A benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bench/zone-load.sh                        # N=25000, ROUNDS=3, a 1,000,000-record zone
#   ROUNDS=1 BIG=100000 bench/zone-load.sh    # quick look
#
# What it does
#   - installs missing Debian packages (nsd, dnsperf, dig, python3) as bench/dns-static.sh does;
#   - generates zones of N and 4N names (and BIG names for the serving part), each name with
#     an A and a TXT record, as YAML for geodnsd (with a PoP file of POPS PoPs, so the PoP
#     loading is part of the run) and as an RFC 1035 master file for NSD: the same records;
#   - 1. load time: `geodnsd --check` on N and 4N names, `nsd-checkzone` on 4N, ROUNDS times
#     each (medians); wall time and CPU time (user+sys; the load is single-threaded, so on a
#     quiet machine both agree, and CPU time is the steadier figure on a busy one).
#     Ratios: geodnsd 4N / geodnsd N (linear = 4), geodnsd 4N / nsd-checkzone 4N;
#   - 2. steady memory serving 2 x BIG records: geodnsd (workers: 1) and NSD (server-count 1;
#     NSD_DB=1: its database file built at start as NSD's compiled-in default does, 0: zone
#     file only) started in turn, RSS read RSS_WAIT s after they answer. geodnsd: VmRSS of
#     its process; NSD: the sum over its processes (main, xfrd, server), and also the sum of
#     their PSS (pages shared after fork counted once). Ratio geodnsd / NSD;
#   - 3. reload under load: dnsperf -Q QPS for DURATION s on the BIG zone (random names, A
#     and TXT), once without a reload (baseline) and once with a SIGHUP RELOAD_AT s in; lost
#     queries and latency percentiles from dnsperf -v (one line per answer), over the whole
#     run and inside the reload (from the SIGHUP to the "reload ok" line).
#   Results and logs in RESULTS (default: a new temp dir, printed). Binds 127.0.0.1 only;
#   stops only the PIDs it started.
#
# Knobs (environment): N=25000 ROUNDS=3 BIG=500000 POPS=256 QPS=30000 DURATION=15
#   RELOAD_AT=4 RSS_WAIT=3 NSD_DB=1 BUILD=<repo>/build RESULTS=<dir>
#   LOAD_ONLY=1: part 1 only (no servers, no dnsperf)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
. "$HERE/lib-dns.sh"

N="${N:-25000}"; ROUNDS="${ROUNDS:-3}"; BIG="${BIG:-500000}"; POPS="${POPS:-256}"
QPS="${QPS:-30000}"; DURATION="${DURATION:-15}"; RELOAD_AT="${RELOAD_AT:-4}"
RSS_WAIT="${RSS_WAIT:-3}"; NSD_DB="${NSD_DB:-1}"; LOAD_ONLY="${LOAD_ONLY:-0}"
BUILD="${BUILD:-$REPO/build}"
for v in N ROUNDS BIG POPS QPS DURATION RELOAD_AT RSS_WAIT NSD_DB; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bd_die "$v must be a non-negative integer (got '${!v}')"
done
{ [ "$ROUNDS" -ge 1 ] && [ "$N" -ge 1 ] && [ "$BIG" -ge 1 ] && [ "$DURATION" -gt "$RELOAD_AT" ]; } ||
    bd_die "ROUNDS, N, BIG must be >= 1 and DURATION > RELOAD_AT"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GEODNSD="$BUILD/bin/geodnsd"

bd_need_pkgs nsd dnsperf bind9-dnsutils procps python3
NSD_BIN="$(command -v nsd || echo /usr/sbin/nsd)"
CHECKZONE="$(command -v nsd-checkzone || echo /usr/sbin/nsd-checkzone)"
bd_build_geodnsd "$REPO" "$BUILD" geodnsd

RESULTS="${RESULTS:-$(mktemp -d /tmp/zone-load.XXXXXX)}"
mkdir -p "$RESULTS"
WORK="$RESULTS/work"
mkdir -p "$WORK"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do bd_stop "$p"; done
}
trap cleanup EXIT

gen() { bd_big_zone "$1" "$2" "$POPS"; }

# timed OUT CMD...: run CMD, append "wall cpu" (seconds, from wait4's rusage: microseconds,
# where time(1) prints hundredths) to OUT; the command must succeed.
timed() {
    local out=$1
    shift
    python3 - "$@" >>"$out" <<'PYEOF' || bd_die "failed: $*"
import resource, subprocess, sys, time
c = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
w = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
if r.returncode:
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(1)
print("%.4f %.4f" % (w, u.ru_utime + u.ru_stime - c.ru_utime - c.ru_stime))
PYEOF
}
col() { awk -v c="$1" '{ print $c }' "$2" | bd_median; }

N4=$((4 * N))
bd_say "generating zones of $N, $N4 and $BIG names in $WORK"
gen "$WORK/n1" "$N"
gen "$WORK/n4" "$N4"
[ "$LOAD_ONLY" = 1 ] || gen "$WORK/big" "$BIG"

# ---- 1. load time ----------------------------------------------------------------------------
: >"$RESULTS/check-n1.txt"; : >"$RESULTS/check-n4.txt"; : >"$RESULTS/nsd-n4.txt"
for r in $(seq 1 "$ROUNDS"); do
    bd_say "round $r/$ROUNDS: geodnsd --check on $N and $N4 names, nsd-checkzone on $N4"
    timed "$RESULTS/check-n1.txt" "$GEODNSD" --check -c "$WORK/n1/geodnsd.yaml"
    timed "$RESULTS/check-n4.txt" "$GEODNSD" --check -c "$WORK/n4/geodnsd.yaml"
    timed "$RESULTS/nsd-n4.txt" "$CHECKZONE" big.test "$WORK/n4/big.test.zone"
done
g1w=$(col 1 "$RESULTS/check-n1.txt"); g1c=$(col 2 "$RESULTS/check-n1.txt")
g4w=$(col 1 "$RESULTS/check-n4.txt"); g4c=$(col 2 "$RESULTS/check-n4.txt")
n4w=$(col 1 "$RESULTS/nsd-n4.txt"); n4c=$(col 2 "$RESULTS/nsd-n4.txt")

print_load() {
    echo "bench/zone-load.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "geodnsd: $GEODNSD ($("$GEODNSD" --version 2>&1 | head -1)); nsd: $("$NSD_BIN" -v 2>&1 | head -1)"
    echo "zones: names with an A and a TXT each; geodnsd YAML with $POPS PoPs, NSD master file"
    echo
    echo "1. load time, median of $ROUNDS (wall s / CPU s)"
    printf '   geodnsd --check %7d names  %6s / %6s\n' "$N" "$g1w" "$g1c"
    printf '   geodnsd --check %7d names  %6s / %6s\n' "$N4" "$g4w" "$g4c"
    printf '   nsd-checkzone   %7d names  %6s / %6s\n' "$N4" "$n4w" "$n4c"
    echo "   ratio geodnsd ${N4}/${N} names: wall $(bd_ratio "$g4w" "$g1w"), CPU $(bd_ratio "$g4c" "$g1c")   (linear: 4; target <= 4.5)"
    echo "   ratio geodnsd / nsd-checkzone at $N4 names: wall $(bd_ratio "$g4w" "$n4w"), CPU $(bd_ratio "$g4c" "$n4c")   (target <= 3)"
}
if [ "$LOAD_ONLY" = 1 ]; then
    print_load | tee "$RESULTS/summary.txt"
    echo "results: $RESULTS" >&2
    exit 0
fi

# ---- 2. steady memory --------------------------------------------------------------------------
# wait_answer PORT PID LOG SECONDS: until h0.big.test answers (a big zone takes a while).
wait_answer() {
    local port=$1 pid=$2 log=$3 s=$4
    for _ in $(seq 1 $((s * 5))); do
        bd_alive "$pid" || { tail -5 "$log" >&2; return 1; }
        dig @127.0.0.1 -p "$port" h0.big.test A +norec +time=1 +tries=1 2>/dev/null |
            grep -q 'status: NOERROR' && return 0
        sleep 0.2
    done
    return 1
}
kb() { awk -v k="$1" '$1 == k ":" { s += $2 } END { print s + 0 }' "${@:2}"; }
tree_kb() { # KEY PID: KEY (Rss or Pss, from smaps_rollup) summed over PID and its descendants
    local key=$1 p files=()
    for p in $(bd_tree "$2"); do [ -r "/proc/$p/smaps_rollup" ] && files+=("/proc/$p/smaps_rollup"); done
    kb "$key" "${files[@]}"
}

GPORT=$(bd_free_port)
GLOG="$RESULTS/geodnsd.log"
bd_say "geodnsd serving $((2 * BIG)) records on 127.0.0.1:$GPORT"
t0=$(date +%s.%N)
"$GEODNSD" -c "$WORK/big/geodnsd.yaml" --listen "127.0.0.1:$GPORT" >"$GLOG" 2>&1 </dev/null &
GPID=$!; PIDS+=("$GPID")
wait_answer "$GPORT" "$GPID" "$GLOG" 600 || bd_die "geodnsd did not answer"
gstart=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
sleep "$RSS_WAIT"
grss=$(tree_kb Rss "$GPID"); gpss=$(tree_kb Pss "$GPID")

NPORT=$(bd_free_port "$GPORT")
ND="$WORK/nsd"; mkdir -p "$ND"
cp "$WORK/big/big.test.zone" "$ND/"
db=""; [ "$NSD_DB" = 1 ] && db="$ND/nsd.db"
bd_nsd_conf "$ND" "$NPORT" big.test big.test.zone "$db" 1
"$NSD_BIN" -d -c "$ND/nsd.conf" >"$ND/stderr.log" 2>&1 </dev/null &
NPID=$!; PIDS+=("$NPID")
bd_say "NSD serving the same records on 127.0.0.1:$NPORT (database: \"$db\")"
t0=$(date +%s.%N)
wait_answer "$NPORT" "$NPID" "$ND/nsd.log" 600 || bd_die "NSD did not answer"
nstart=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
sleep "$RSS_WAIT"
nrss=$(tree_kb Rss "$NPID"); npss=$(tree_kb Pss "$NPID"); nprocs=$(bd_tree "$NPID" | wc -l)
bd_stop "$NPID"

# ---- 3. reload under load ------------------------------------------------------------------
awk -v n="$BIG" 'BEGIN { srand(7); for (i = 0; i < 100000; i++) printf "h%d.big.test %s\n", int(rand() * n), (i % 2 ? "A" : "TXT") }' >"$WORK/queries.txt"
# perf LABEL [reload]: dnsperf run; prints "lost p50 p99 p999 max [in-reload: n p99 max]" (ms)
perf_run() {
    local label=$1 reload=${2:-} out="$RESULTS/dnsperf-$1.txt" t0 th tr from
    t0=$(date +%s.%N)
    dnsperf -s 127.0.0.1 -p "$GPORT" -d "$WORK/queries.txt" -l "$DURATION" -Q "$QPS" -v >"$out" 2>&1 &
    local dp=$!
    PIDS+=("$dp")
    if [ -n "$reload" ]; then
        sleep "$RELOAD_AT"
        from=$(($(wc -l <"$GLOG") + 1))
        th=$(date +%s.%N)
        kill -HUP "$GPID"
    fi
    wait "$dp" || true
    local lost
    lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$out")
    grep '^> ' "$out" | awk '{ print $NF * 1000 }' | sort -g |
        awk -v l="$lost" '{ v[NR] = $1 } END { printf "%s %.3f %.3f %.3f %.3f", l, v[int(NR * .5)], v[int(NR * .99)], v[int(NR * .999)], v[NR] }'
    if [ -n "$reload" ]; then
        local line
        line=$(tail -n +"$from" "$GLOG" | grep -m1 -E 'reload (ok|failed)' || true)
        [ -n "$line" ] || { echo " reload-not-finished"; return; }
        # the log's UTC timestamp (2026-01-01T00:00:00.000Z) of the reload line
        tr=$(date -d "$(printf '%s' "$line" | cut -c1-23 | tr T ' ')Z" +%s.%N)
        # answers are in send order at QPS per second: the reload window by index
        grep '^> ' "$out" | awk -v a="$(awk -v x="$th" -v y="$t0" 'BEGIN { print (x - y) }')" \
            -v b="$(awk -v x="$tr" -v y="$t0" 'BEGIN { print (x - y) }')" -v q="$QPS" \
            'NR >= a * q && NR <= b * q { print $NF * 1000 }' | sort -g |
            awk -v d="$(awk -v x="$tr" -v y="$th" 'BEGIN { printf "%.2f", x - y }')" \
                '{ v[NR] = $1 } END { printf " %s %d %.3f %.3f", d, NR, v[int(NR * .99)], v[NR] }'
        case $line in *"reload ok"*) ;; *) printf ' reload-FAILED' ;; esac
    fi
    echo
}
bd_say "dnsperf -Q $QPS for $DURATION s: baseline, then with a SIGHUP reload at $RELOAD_AT s"
read -r blost bp50 bp99 bp999 bmax < <(perf_run baseline)
read -r rlost rp50 rp99 rp999 rmax rdur rn rwp99 rwmax rflag < <(perf_run reload yes)

{
    print_load
    echo
    echo "2. steady memory serving $((2 * BIG + 3)) records (KB)"
    echo "   geodnsd (workers 1): RSS $grss, PSS $gpss; first answer after $gstart s"
    echo "   NSD ($nprocs processes, server-count 1, database: $db): RSS sum $nrss, PSS sum $npss; first answer after $nstart s"
    echo "   ratio geodnsd / NSD: RSS $(bd_ratio "$grss" "$nrss"), PSS $(bd_ratio "$gpss" "$npss")   (target <= 2)"
    echo
    echo "3. dnsperf -Q $QPS, $DURATION s, latency in ms"
    echo "   baseline:       lost $blost, p50 $bp50, p99 $bp99, p99.9 $bp999, max $bmax"
    echo "   with a reload:  lost $rlost, p50 $rp50, p99 $rp99, p99.9 $rp999, max $rmax"
    echo "   inside the reload ($rdur s from SIGHUP to 'reload ${rflag:-ok}', $rn answers): p99 $rwp99, max $rwmax   (target: 0 lost, p99 < 5)"
    echo "   ratio p99 with reload / baseline: $(bd_ratio "$rp99" "$bp99")"
} | tee "$RESULTS/summary.txt"
echo "results: $RESULTS" >&2
