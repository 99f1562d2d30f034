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
pkgs=(nsd dnsperf util-linux bind9-dnsutils iproute2 procps)
if [ ! -x "$GEODNSD" ]; then
    pkgs+=(build-essential cmake pkg-config libuv1-dev libyaml-dev libldns-dev libmaxminddb-dev)
fi
bd_need_pkgs "${pkgs[@]}"
NSD_BIN="$(command -v nsd || echo /usr/sbin/nsd)"
[ -x "$NSD_BIN" ] || bd_die "nsd not found"
if [ ! -x "$GEODNSD" ]; then
    bd_say "building geodnsd in $BUILD"
    { cmake -S "$REPO" -B "$BUILD" >/dev/null && cmake --build "$BUILD" -j2 --target geodnsd >/dev/null; } ||
        bd_die "geodnsd build failed (cmake -S $REPO -B $BUILD && cmake --build $BUILD -j2)"
fi
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
    cat > "$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$port
    do-ip4: yes
    do-ip6: no
    server-count: $NSD_SERVERS
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
    verbosity: 1
    zonefiles-write: 0
    minimal-responses: $NSD_MINIMAL
    # Debian builds NSD with response rate limiting on (200 qps per /24): off.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: $ZONE
    zonefile: $ZONE.zone
EOF
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

run_one() {  # MODE ROUND SERVER SECS [record]
    local mode="$1" round="$2" s="$3" secs="$4" record="${5:-1}"
    local port="${SPORT[$s]}" pid="${SPID[$s]}" log pids c0 c1 b0 b1 rate=() rc=0 busy0=-
    bd_alive "$pid" || bd_die "$s (pid $pid) is not running any more"
    log="$RESULTS/logs/$mode-r$round-$s.log"; [ "$record" = 1 ] || log="$WORK/warmup-$s.log"
    [ "$mode" = rate ] && rate=(-Q "$RATE")
    mapfile -t pids < <(bd_tree "$pid")
    bd_pin "$SERVER_CPU" "${pids[@]}"
    [ "$record" = 1 ] && busy0="$(bd_wait_idle "$WAIT_IDLE" "$IDLE_PCT")"
    c0="$(bd_cpu_ticks "${pids[@]}")"; b0="$(bd_busy_ticks)"
    (
        timeout -k 5 $((secs + 30)) taskset -c "$CLIENT_CPU" \
            dnsperf -s 127.0.0.1 -p "$port" -d "$QFILE" -l "$secs" -c "$CLIENTS" -q "$OUTSTANDING" \
            "${rate[@]}" -O suppress=timeouts,unexpected > "$log" 2>&1
        r=$?; times > "$log.times"; exit $r
    ) || rc=$?
    c1="$(bd_cpu_ticks "${pids[@]}")"; b1="$(bd_busy_ticks)"
    [ "$record" = 1 ] || return 0
    if [ "$rc" != 0 ]; then bd_say "dnsperf against $s failed (rc $rc), see $log"; tail -5 "$log" >&2; fi
    local sent done_q lost qps avg maxl rcodes srv dp other usq pct
    sent=$(awk '/Queries sent:/{print $3}' "$log"); sent="${sent:--}"
    done_q=$(awk '/Queries completed:/{print $3}' "$log"); done_q="${done_q:-0}"
    lost=$(awk '/Queries lost:/{print $3}' "$log"); lost="${lost:--}"
    qps=$(awk '/Queries per second:/{printf "%.0f", $4}' "$log"); qps="${qps:--}"
    avg=$(awk '/Average Latency \(s\):/{printf "%.3f", $4 * 1000}' "$log"); avg="${avg:--}"
    maxl=$(awk '/Average Latency \(s\):/{gsub(/\)/, "", $8); printf "%.2f", $8 * 1000}' "$log"); maxl="${maxl:--}"
    rcodes=$(sed -n 's/^ *Response codes: *//p' "$log")
    srv=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
    # `times` line 2: children's user and system time, e.g. "0m1.234s 0m0.567s"
    dp=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, x, "m"); sub(/s$/, "", x[2]); t += x[1] * 60 + x[2] }
                        printf "%.2f", t }' "$log.times" 2>/dev/null); dp="${dp:-0}"
    other=$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" -v s="$srv" -v d="$dp" \
        'BEGIN{o = (b - a) / hz - s - d; if (o < 0) o = 0; printf "%.2f", o}')
    pct=$(awk -v s="$srv" -v t="$secs" 'BEGIN{printf "%.0f", 100 * s / t}')
    usq=$(awk -v c="$done_q" -v s="$srv" 'BEGIN{ if (c > 0) printf "%.2f", s * 1e6 / c; else print "-" }')
    R[$mode,$round,$s,qps]=$qps; R[$mode,$round,$s,avg]=$avg; R[$mode,$round,$s,lost]=$lost
    R[$mode,$round,$s,usq]=$usq; R[$mode,$round,$s,other]=$other
    R[$mode,$round,$s,pct]=$pct
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$mode" "$round" "$s" "$port" "$([ "$mode" = rate ] && echo "$RATE" || echo max)" "$secs" \
        "$sent" "$done_q" "$lost" "$qps" "$avg" "$maxl" "$srv" "$usq" "$dp" "$other" "$pct" "$busy0" "$rcodes" "$log" >> "$TSV"
    printf '  %-5s round %s %-8s qps=%-7s avg=%sms lost=%s/%s cpu=%ss=%s%% (%s us/q) dnsperf=%ss other=%ss busy_before=%s%%\n' \
        "$mode" "$round" "$s" "$qps" "$avg" "$lost" "$sent" "$srv" "$pct" "$usq" "$dp" "$other" "$busy0" >&2
}

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

for s in "${SERVERS[@]}"; do [ "$WARMUP" -gt 0 ] && run_one max 0 "$s" "$WARMUP" 0; done
for round in $(seq 1 "$ROUNDS"); do
    order=("${SERVERS[@]}")
    if [ $((round % 2)) = 0 ]; then  # alternate who goes first
        order=(); for ((i = nsrv - 1; i >= 0; i--)); do order+=("${SERVERS[$i]}"); done
    fi
    for mode in "${MODES[@]}"; do
        for s in "${order[@]}"; do run_one "$mode" "$round" "$s" "$DURATION"; done
    done
done

# ---- tables ------------------------------------------------------------------------
med() {  # MODE SERVER FIELD
    local r; for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$r,$2,$3]:--}"; done | bd_median
}
print_table() {  # MODE
    local mode="$1" s r
    echo
    if [ "$mode" = max ]; then
        echo "mode max: dnsperf -c $CLIENTS -q $OUTSTANDING (full load), $DURATION s per run"
    else
        echo "mode rate: dnsperf -c $CLIENTS -q $OUTSTANDING -Q $RATE (fixed offered load), $DURATION s per run"
    fi
    printf '%-7s' ""
    for s in "${SERVERS[@]}"; do printf ' | %-35s' "$s"; done
    printf ' |\n%-7s' round
    for s in "${SERVERS[@]}"; do printf ' | %7s %7s %6s %4s %6s' qps avg_ms lost cpu% us/q; done
    printf ' | other_s\n'
    for r in $(seq 1 "$ROUNDS") median; do
        printf '%-7s' "$r"
        for s in "${SERVERS[@]}"; do
            if [ "$r" = median ]; then
                printf ' | %7.0f %7.3f %6.0f %4.0f %6.2f' "$(med "$mode" "$s" qps)" "$(med "$mode" "$s" avg)" \
                    "$(med "$mode" "$s" lost)" "$(med "$mode" "$s" pct)" "$(med "$mode" "$s" usq)"
            else
                printf ' | %7s %7s %6s %4s %6s' "${R[$mode,$r,$s,qps]}" "${R[$mode,$r,$s,avg]}" \
                    "${R[$mode,$r,$s,lost]}" "${R[$mode,$r,$s,pct]}" "${R[$mode,$r,$s,usq]}"
            fi
        done
        if [ "$r" = median ]; then printf ' |\n'; else
            printf ' | %s\n' "$(for s in "${SERVERS[@]}"; do echo "${R[$mode,$r,$s,other]}"; done | paste -sd/)"
        fi
    done
    printf 'ratio geodnsd/NSD (medians): qps %s, CPU per query %s, avg latency %s' \
        "$(bd_ratio "$(med "$mode" geodnsd qps)" "$(med "$mode" nsd qps)")" \
        "$(bd_ratio "$(med "$mode" geodnsd usq)" "$(med "$mode" nsd usq)")" \
        "$(bd_ratio "$(med "$mode" geodnsd avg)" "$(med "$mode" nsd avg)")"
    if [ -n "${SPID[ceiling]:-}" ]; then
        printf '; geodnsd/ceiling: qps %s, CPU per query %s' \
            "$(bd_ratio "$(med "$mode" geodnsd qps)" "$(med "$mode" ceiling qps)")" \
            "$(bd_ratio "$(med "$mode" geodnsd usq)" "$(med "$mode" ceiling usq)")"
    fi
    echo
}
{
    for mode in "${MODES[@]}"; do print_table "$mode"; done
    echo
    echo "cpu% = server CPU time / run time; us/q = server CPU time (user+sys, /proc/PID/stat, all"
    echo "processes and threads) per completed query; other_s = busy CPU seconds on the machine not"
    echo "used by the server or dnsperf during the run (noise from other work), per server."
    echo "results: $RESULTS (results.tsv, summary.txt, answers.txt, logs/)"
} | tee -a "$RESULTS/summary.txt"
