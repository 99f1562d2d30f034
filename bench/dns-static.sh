#!/bin/bash
# bench/dns-static.sh: geodnsd vs NSD serving the same static zone, UDP, plain queries.
# A benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bench/dns-static.sh                      # DURATION=10 s per run, ROUNDS=3
#   DURATION=5 ROUNDS=1 bench/dns-static.sh  # quick look
#
# What it does
#   - installs missing Debian packages (nsd, dnsperf, util-linux, dig, ss; plus the build
#     dependencies if geodnsd has to be built) with apt-get as root, under a policy-rc.d
#     that stops the packages from starting daemons; builds $BUILD/bin/geodnsd if missing;
#   - starts a private NSD (nsd -d, server-count 1, RRL off) and geodnsd (workers: 1) on
#     free ports of 127.0.0.1, serving bench/data/cdn.example.test.{zone,yaml} (same data);
#     checks that both give the same answers to every query kind of the mix;
#   - optionally the "ceiling": a bare recvmmsg/sendmmsg echo that does no DNS work
#     (../shared/peers/ceiling/udp-ceiling.c next to the repo, or CEILING_SRC=file.c;
#     skipped with a note when absent);
#   - writes a fixed query file (dnsperf text format): 70 % existing names (A, AAAA, CNAME,
#     MX, TXT, SOA, NS), 12 % NODATA, 18 % NXDOMAIN; no EDNS, no ECS;
#   - ROUNDS rounds; in each, for each mode, runs dnsperf against each server in turn
#     (order alternates between rounds).  Modes: "max" (dnsperf -c CLIENTS -q OUTSTANDING,
#     as fast as the server answers) and "rate" (same, but -Q RATE qps offered).
#     dnsperf is pinned to CLIENT_CPU (taskset -c), every thread of the server to
#     SERVER_CPU (taskset -a -cp);
#   - per run: qps, average latency, lost queries, and the server's CPU time per
#     completed query (utime+stime of the server's processes from /proc/PID/stat,
#     before/after; includes the kernel's UDP work done in the server's context);
#     "other" = the machine's busy CPU time not used by the server or dnsperf (noise);
#   - prints one table per mode (each round and the median) and the ratios geodnsd/NSD;
#     writes results.tsv, the dnsperf logs and summary.txt to RESULTS (default: a new
#     temp dir, printed).  Cleans up by PID from a trap; binds 127.0.0.1 only.
#
# Knobs (environment): DURATION=10 ROUNDS=3 RATE=20000 CLIENTS=4 OUTSTANDING=100
#   QUERIES=10000 (query file size) WARMUP=2 (s per server, not recorded)
#   WAIT_IDLE=5 IDLE_PCT=10 (before each run, wait up to WAIT_IDLE s for the machine
#     to be less than IDLE_PCT % busy; 0 = don't wait)
#   CLIENT_CPU=0 SERVER_CPU=1  BUILD=<repo>/build  RESULTS=<dir>
#   QUOTA= (percent of one CPU, as root): each server runs inside a cpu cgroup limited to that
#     share (bench/lib-dns.sh bd_quota_setup), so at full load the server, not dnsperf, is the
#     bottleneck and never idles waiting for queries
#   CEILING=1 (0: skip the ceiling)  CEILING_SRC=<path to udp-ceiling.c>
#   NSD_SERVERS=1 (NSD server-count)  GEODNSD_WORKERS=1
#   NSD_MINIMAL=no (NSD's default: authority NS + glue in positive answers, so its
#     responses are larger than geodnsd's; yes = minimal-responses, about the same bytes)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
. "$HERE/lib-dns.sh"

DURATION="${DURATION:-10}"; ROUNDS="${ROUNDS:-3}"; RATE="${RATE:-20000}"
CLIENTS="${CLIENTS:-4}"; OUTSTANDING="${OUTSTANDING:-100}"; QUERIES="${QUERIES:-10000}"
WARMUP="${WARMUP:-2}"; WAIT_IDLE="${WAIT_IDLE:-5}"; IDLE_PCT="${IDLE_PCT:-10}"; CLIENT_CPU="${CLIENT_CPU:-0}"; SERVER_CPU="${SERVER_CPU:-1}"
BUILD="${BUILD:-$REPO/build}"; CEILING="${CEILING:-1}"
CEILING_SRC="${CEILING_SRC:-$REPO/../shared/peers/ceiling/udp-ceiling.c}"
NSD_SERVERS="${NSD_SERVERS:-1}"; NSD_MINIMAL="${NSD_MINIMAL:-no}"; GEODNSD_WORKERS="${GEODNSD_WORKERS:-1}"
ZONE=cdn.example.test
for v in DURATION ROUNDS RATE CLIENTS OUTSTANDING QUERIES WARMUP WAIT_IDLE IDLE_PCT CLIENT_CPU SERVER_CPU; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bd_die "$v must be a non-negative integer (got '${!v}')"
done
{ [ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ]; } || bd_die "ROUNDS and DURATION must be >= 1"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GEODNSD="$BUILD/bin/geodnsd"

# ---- packages and build ------------------------------------------------------------
bd_need_pkgs nsd dnsperf util-linux bind9-dnsutils iproute2 procps
NSD_BIN="$(command -v nsd || echo /usr/sbin/nsd)"
[ -x "$NSD_BIN" ] || bd_die "nsd not found"
bd_build_geodnsd "$REPO" "$BUILD" geodnsd
NCPU="$(nproc)"
if [ "$CLIENT_CPU" -ge "$NCPU" ] || [ "$SERVER_CPU" -ge "$NCPU" ]; then
    bd_say "note: only $NCPU CPU(s): dnsperf and the server both on CPU 0 (figures are not comparable with a 2-CPU run)"
    CLIENT_CPU=0; SERVER_CPU=0
fi

# ---- dirs, cleanup -----------------------------------------------------------------
if [ -z "${RESULTS:-}" ]; then RESULTS="$(mktemp -d /tmp/dns-static.XXXXXX)"; fi
mkdir -p "$RESULTS/logs"
WORK="$(mktemp -d /tmp/dns-static-work.XXXXXX)"
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

# ---- query file --------------------------------------------------------------------
# Per 100 queries: 70 existing (25 video A, 12 www A, 6 www AAAA, 6 static A -> CNAME www,
# 4 mail A, 4 apex MX, 4 txt TXT, 3 apex TXT, 3 apex SOA, 3 apex NS),
# 12 NODATA (3 www MX, 3 video AAAA, 2 mail TXT, 2 txt A, 2 apex AAAA),
# 18 NXDOMAIN (12 nx-<n> A, 6 nx-<n> AAAA, every name different).
# Shuffled with a Park-Miller generator so that the file is the same on every machine.
make_queries() {
    awk -v n="$QUERIES" -v z="$ZONE" 'BEGIN {
        split("25 video A|12 www A|6 www AAAA|6 static A|4 mail A|4 @ MX|4 txt TXT|3 @ TXT|" \
              "3 @ SOA|3 @ NS|3 www MX|3 video AAAA|2 mail TXT|2 txt A|2 @ AAAA|12 NX A|6 NX AAAA",
              kinds, "|")
        blocks = int((n + 99) / 100); m = 0; nx = 0
        for (b = 0; b < blocks; b++)
            for (k = 1; k in kinds; k++) {
                split(kinds[k], f, " ")
                for (i = 0; i < f[1]; i++) {
                    name = f[2] == "@" ? z : (f[2] == "NX" ? "nx-" (nx++) "." z : f[2] "." z)
                    q[m++] = name " " f[3]
                }
            }
        seed = 20240101
        for (j = m - 1; j > 0; j--) {
            seed = (seed * 16807) % 2147483647; r = seed % (j + 1)
            t = q[j]; q[j] = q[r]; q[r] = t
        }
        for (j = 0; j < m; j++) print q[j]
    }'
}
QFILE="$RESULTS/queries.txt"
make_queries > "$QFILE"

# ---- servers -----------------------------------------------------------------------
ports_used=()
pick_port() { local p; p="$(bd_free_port "${ports_used[@]}")"; ports_used+=("$p"); echo "$p"; }

start_nsd() {
    local d="$WORK/nsd" port; port="$(pick_port)"; mkdir -p "$d"
    cp "$HERE/data/$ZONE.zone" "$d/$ZONE.zone"
    bd_nsd_conf "$d" "$port" "$ZONE" "$ZONE.zone" "" "$NSD_SERVERS" "minimal-responses: $NSD_MINIMAL"
    nsd-checkconf "$d/nsd.conf" || bd_die "nsd-checkconf failed on $d/nsd.conf"
    "$NSD_BIN" -d -c "$d/nsd.conf" > "$d/stderr.log" 2>&1 < /dev/null &
    SPID[nsd]=$!; SPORT[nsd]=$port
    bd_wait_dns NSD "$port" "${SPID[nsd]}" "$ZONE" "$d/nsd.log" || bd_die "NSD did not start"
}

start_geodnsd() {
    local d="$WORK/geodnsd" port; port="$(pick_port)"; mkdir -p "$d"
    cp "$HERE/data/$ZONE.yaml" "$d/$ZONE.yaml"
    cat > "$d/geodnsd.yaml" <<EOF
listen: ["127.0.0.1:$port"]
workers: $GEODNSD_WORKERS
zones: [$ZONE.yaml]
log: {level: warn}
EOF
    "$GEODNSD" -c "$d/geodnsd.yaml" --listen "127.0.0.1:$port" > "$d/geodnsd.log" 2>&1 < /dev/null &
    SPID[geodnsd]=$!; SPORT[geodnsd]=$port
    bd_wait_dns geodnsd "$port" "${SPID[geodnsd]}" "$ZONE" "$d/geodnsd.log" || bd_die "geodnsd did not start"
}

CEILING_NOTE=""
start_ceiling() {
    if [ "$CEILING" = 0 ]; then CEILING_NOTE="ceiling: skipped (CEILING=0)"; return 0; fi
    if [ ! -r "$CEILING_SRC" ]; then
        CEILING_NOTE="ceiling: skipped ($CEILING_SRC not found)"; return 0
    fi
    if ! command -v gcc >/dev/null; then CEILING_NOTE="ceiling: skipped (no gcc)"; return 0; fi
    local d="$WORK/ceiling" port; mkdir -p "$d"
    gcc -O2 -o "$d/udp-ceiling" "$CEILING_SRC" -lpthread ||
        { CEILING_NOTE="ceiling: skipped (compile failed)"; return 0; }
    port="$(pick_port)"
    "$d/udp-ceiling" "$port" 1 > "$d/ceiling.log" 2>&1 < /dev/null &
    SPID[ceiling]=$!; SPORT[ceiling]=$port

    for i in $(seq 1 50); do ss -Hlnu "( sport = :$port )" | grep -q . && break; sleep 0.1; done
    bd_alive "${SPID[ceiling]}" || { unset 'SPID[ceiling]'; CEILING_NOTE="ceiling: failed to start"; return 0; }
    CEILING_NOTE="ceiling: udp-ceiling.c (1 thread, echo with QR set, no DNS work), from $CEILING_SRC"
}

start_nsd
start_geodnsd
start_ceiling
SERVERS=(nsd geodnsd); [ -n "${SPID[ceiling]:-}" ] && SERVERS+=(ceiling)
for s in "${SERVERS[@]}"; do
    # shellcheck disable=SC2046
    bd_pin "$SERVER_CPU" $(bd_tree "${SPID[$s]}")
done

# ---- same answers? -----------------------------------------------------------------
# Every distinct query kind of the mix: rcode, flags, sorted answer section and size.
answer_of() {  # PORT NAME TYPE
    dig @127.0.0.1 -p "$1" "$2" "$3" +norec +noedns +time=2 +tries=1 2>/dev/null | awk '
        /->>HEADER<<-/ { sub(/.*status: /, ""); sub(/,.*/, ""); st = $0 }
        /^;; flags:/ { f = $0; sub(/^;; flags: /, "", f); sub(/;.*/, "", f) }
        /^;; ANSWER SECTION/ { a = 1; next }  /^$/ { a = 0 }
        a && !/^;/ { $2 = ""; ans = ans (ans ? " | " : "") $0 }
        /MSG SIZE/ { sz = $NF }
        END { printf "%s [%s] %s\t%s\n", st, f, ans, sz }'
}
check_answers() {
    local kinds n=0 diff=0 name type a b
    kinds="$(awk '{ if ($1 ~ /^nx-/) $1 = "nx-0.'"$ZONE"'"; print }' "$QFILE" | sort -u)"
    {
        printf '%-28s %-5s %-8s %-8s %s\n' query type nsd_size geo_size "answer (nsd)"
        while read -r name type; do
            n=$((n + 1))
            a="$(answer_of "${SPORT[nsd]}" "$name" "$type")"
            b="$(answer_of "${SPORT[geodnsd]}" "$name" "$type")"
            printf '%-28s %-5s %-8s %-8s %s\n' "$name" "$type" "${a##*$'\t'}" "${b##*$'\t'}" "${a%$'\t'*}"
            if [ "$(sort_ans "${a%$'\t'*}")" != "$(sort_ans "${b%$'\t'*}")" ]; then
                diff=$((diff + 1)); printf '  DIFFERS: geodnsd: %s\n' "${b%$'\t'*}"
            fi
        done <<< "$kinds"
        printf '%d query kinds, %d with different rcode/flags/answers\n' "$n" "$diff"
    } > "$RESULTS/answers.txt"
    tail -1 "$RESULTS/answers.txt"
    # mean response size over the mix, weighting each kind by its share of the query file
    awk 'NR == FNR { if ($1 ~ /^nx-/) $1 = "nx-0.'"$ZONE"'"; w[$1 " " $2]++; next }
         FNR > 1 && ($1 " " $2) in w { k = w[$1 " " $2]; t += k; a += k * $3; b += k * $4 }
         END { if (t) printf "mean response size over the mix: nsd %.0f bytes, geodnsd %.0f bytes\n", a / t, b / t }' \
        "$QFILE" "$RESULTS/answers.txt"
    [ "$diff" = 0 ] || grep -B1 DIFFERS "$RESULTS/answers.txt" | head -20
}
sort_ans() { tr '|' '\n' <<< "$1" | sed 's/  */ /g; s/^ //; s/ $//' | sort | tr '\n' '|'; }

# ---- one dnsperf run ---------------------------------------------------------------
TSV="$RESULTS/results.tsv"
printf 'mode\tround\tserver\tport\toffered_qps\tsecs\tsent\tcompleted\tlost\tqps\tavg_ms\tmax_ms\tsrv_cpu_s\tus_per_q\tdnsperf_cpu_s\tother_cpu_s\tsrv_cpu_pct\tbusy_before_pct\trcodes\tlog\n' > "$TSV"
HZ="$(getconf CLK_TCK)"
declare -A R=()   # R[mode,round,server,field]


BD_DNSPERF_FLAGS=""
# ---- run ---------------------------------------------------------------------------
MODES=(max rate)
nsrv=${#SERVERS[@]}
est=$(( ROUNDS * ${#MODES[@]} * nsrv * (DURATION + 1) + nsrv * WARMUP ))
{
    echo "geodnsd vs NSD, static zone $ZONE: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $NCPU CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
    echo "geodnsd: $GEODNSD ($("$GEODNSD" --version 2>&1 | head -1)), workers $GEODNSD_WORKERS, pid ${SPID[geodnsd]}, port ${SPORT[geodnsd]}"
    echo "nsd:     $("$NSD_BIN" -v 2>&1 | head -1), server-count $NSD_SERVERS, RRL off, minimal-responses $NSD_MINIMAL, pid ${SPID[nsd]}, port ${SPORT[nsd]}"
    echo "${CEILING_NOTE}"
    echo "dnsperf: $(dnsperf -h 2>&1 | grep -m1 -i 'version' || echo present) pinned to CPU $CLIENT_CPU; servers pinned to CPU $SERVER_CPU"
    echo "queries: $(wc -l < "$QFILE") in $QFILE (70% existing, 12% NODATA, 18% NXDOMAIN; no EDNS)"
    echo "runs: $ROUNDS rounds x modes {max: -c $CLIENTS -q $OUTSTANDING; rate: same + -Q $RATE} x {${SERVERS[*]}}, $DURATION s each (~${est} s total)"
} | tee "$RESULTS/summary.txt"
check_answers | tee -a "$RESULTS/summary.txt"

bd_run_rounds

# ---- tables ------------------------------------------------------------------------
{
    for mode in "${MODES[@]}"; do bd_print_table "$mode" nsd NSD; done
    echo
    echo "cpu% = server CPU time / run time; us/q = server CPU time (user+sys, /proc/PID/stat, all"
    echo "processes and threads) per completed query; other_s = busy CPU seconds on the machine not"
    echo "used by the server or dnsperf during the run (noise from other work), per server."
    echo "results: $RESULTS (results.tsv, summary.txt, answers.txt, logs/)"
} | tee -a "$RESULTS/summary.txt"
