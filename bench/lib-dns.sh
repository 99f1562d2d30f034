# shellcheck shell=bash
# bench/lib-dns.sh: shell helpers for the DNS benchmarks in bench/.  Source it (bash).
# Everything here acts only on PIDs the calling script started itself.

bd_say() { printf '%s\n' "$*" >&2; }
bd_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# bd_need_pkgs PKG... : apt-get install the Debian packages that are missing.
# A policy-rc.d (exit 101) keeps the packages' postinst from starting daemons
# (nsd would otherwise try to grab port 53); it is removed again if we created it.
bd_need_pkgs() {
    local missing=() p sudo=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || bd_die "missing packages ${missing[*]} and no apt-get: install them by hand"
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || bd_die "missing packages ${missing[*]}: run as root or install them"
        sudo=(sudo)
    fi
    bd_say "installing: ${missing[*]}"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local rc=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
    [ "$made_policy" = 1 ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || bd_die "apt-get install ${missing[*]} failed"
    # a distro unit may have been enabled anyway under systemd: keep it off port 53
    if [ -d /run/systemd/system ] && [[ " ${missing[*]} " == *" nsd "* ]]; then
        "${sudo[@]}" systemctl disable --now nsd >/dev/null 2>&1 || true
    fi
}

bd_port_busy() {  # PORT : true if anything listens on it (UDP or TCP, any address)
    ss -Hlnu "( sport = :$1 )" 2>/dev/null | grep -q . ||
        ss -Hlnt "( sport = :$1 )" 2>/dev/null | grep -q .
}

# bd_free_port [EXCLUDED...] : print a port in 20000-59999 that nobody listens on
bd_free_port() {
    local p x ok
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        ok=1
        for x in "$@"; do [ "$x" = "$p" ] && ok=0; done
        [ "$ok" = 1 ] && ! bd_port_busy "$p" && { echo "$p"; return 0; }
    done
    bd_die "no free port found"
}

bd_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# bd_stop PID : SIGTERM, wait up to 5 s, then SIGKILL.  Only that PID.
bd_stop() {
    local pid="$1"
    bd_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do bd_alive "$pid" || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# bd_tree PID : the PID and all its descendants (NSD forks its server and xfrd processes)
bd_tree() {
    local p="$1" c
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do bd_tree "$c"; done
}

# bd_cpu_ticks [--user] PID... : utime+stime (--user: utime only; clock ticks) summed over the
# processes, all threads
bd_cpu_ticks() {
    local t=0 p v sum='$12 + $13'
    if [ "${1:-}" = --user ]; then sum='$12'; shift; fi # user time only
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        v=$(awk "{sub(/^.*\\) /, \"\"); print $sum}" "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# /proc/stat: busy ticks of the whole machine (user+nice+system+irq+softirq+steal)
bd_busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# bd_pin CPU PID... : pin every thread of each process to CPU
bd_pin() {
    local cpu="$1" p; shift
    for p in "$@"; do taskset -a -cp "$cpu" "$p" >/dev/null 2>&1 || true; done
}

# bd_wait_dns NAME PORT PID ZONE LOG : poll ZONE SOA until NOERROR (max ~20 s)
bd_wait_dns() {
    local name="$1" port="$2" pid="$3" zone="$4" log="$5" secs="${6:-20}"
    for _ in $(seq 1 $((secs * 5))); do
        if ! bd_alive "$pid"; then
            bd_say "$name (pid $pid) exited during start-up; last lines of $log:"
            tail -20 "$log" >&2 2>/dev/null || true
            return 1
        fi
        if dig @127.0.0.1 -p "$port" "$zone" SOA +norec +time=1 +tries=1 2>/dev/null |
            grep -q 'status: NOERROR'; then
            return 0
        fi
        sleep 0.2
    done
    bd_say "$name: no answer on 127.0.0.1:$port after $secs s; log $log"
    return 1
}

# bd_median : median of the numbers on stdin, one per line ("-" lines ignored)
bd_median() {
    grep -E '^-?[0-9.]+$' | sort -g | awk '{v[NR] = $1}
        END { if (NR == 0) { print "-"; exit }
              if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
              print m }'
}

# bd_ratio A B [FMT] : A/B, or "-" if either is missing or B is 0
bd_ratio() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {
        if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-"; else printf f "\n", a / b }'
}

# bd_wait_idle MAX_S PCT : wait up to MAX_S seconds until the machine is less than PCT %
# busy over one second (other people's builds and tests skew a benchmark); prints the
# last busy percentage.
bd_wait_idle() {
    local max="$1" pct="$2" a b busy=0 t=0
    [ "$max" -gt 0 ] || { echo "-"; return 0; }
    while [ "$t" -lt "$max" ]; do
        a="$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)"; sleep 1; t=$((t + 1))
        b="$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)"
        busy=$(echo "$a $b" | awk '{u = $3 - $1; i = $4 - $2; print (u + i) ? int(100 * u / (u + i)) : 0}')
        [ "$busy" -lt "$pct" ] && break
    done
    echo "$busy"
}

# QUOTA (percent of one CPU; empty: none): every dnsperf run has its server inside a cpu cgroup
# limited to QUOTA % of one CPU (CFS quota over a 10 ms period), so the server and not dnsperf
# is the bottleneck: full load means the server is busy all the time it may run. cgroup v2
# (cpu.max) or v1 (the cpu controller); the group is removed by bd_quota_cleanup.
BD_CG="" BD_CG_V=""
declare -A BD_CG_HOME=()
bd_quota_setup() {
    [ -n "${QUOTA:-}" ] || return 0
    { [[ "$QUOTA" =~ ^[0-9]+$ ]] && [ "$QUOTA" -ge 5 ] && [ "$QUOTA" -le 100 ]; } ||
        bd_die "QUOTA must be 5..100 (percent of one CPU)"
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
            echo +cpu > /sys/fs/cgroup/cgroup.subtree_control || bd_die "QUOTA: cannot enable the cpu controller"
        BD_CG=/sys/fs/cgroup/geodns-bench.$$ BD_CG_V=2
        mkdir "$BD_CG" && echo "$((QUOTA * 100)) 10000" > "$BD_CG/cpu.max" || bd_die "QUOTA: cannot set up $BD_CG"
    elif [ -d /sys/fs/cgroup/cpu ]; then
        BD_CG=/sys/fs/cgroup/cpu/geodns-bench.$$ BD_CG_V=1
        { mkdir "$BD_CG" && echo 10000 > "$BD_CG/cpu.cfs_period_us" &&
            echo $((QUOTA * 100)) > "$BD_CG/cpu.cfs_quota_us"; } || bd_die "QUOTA: cannot set up $BD_CG"
    else
        bd_die "QUOTA needs a cpu cgroup (v2 /sys/fs/cgroup or v1 /sys/fs/cgroup/cpu)"
    fi
}

# bd_quota_enter PID... / bd_quota_leave PID...: move every thread of the processes into the
# quota group and back to the group each came from (nothing without QUOTA).
bd_quota_enter() {
    local p t
    [ -n "$BD_CG" ] || return 0
    for p in "$@"; do
        if [ "$BD_CG_V" = 2 ]; then
            BD_CG_HOME[$p]=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' "/proc/$p/cgroup")
            echo "$p" > "$BD_CG/cgroup.procs"
        else
            BD_CG_HOME[$p]=/sys/fs/cgroup/cpu$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' "/proc/$p/cgroup")
            for t in /proc/"$p"/task/*; do echo "${t##*/}" > "$BD_CG/tasks"; done
        fi
    done 2>/dev/null || bd_die "QUOTA: cannot move the server into $BD_CG"
}
bd_quota_leave() {
    local p t
    [ -n "$BD_CG" ] || return 0
    for p in "$@"; do
        if [ "$BD_CG_V" = 2 ]; then
            echo "$p" > "${BD_CG_HOME[$p]}/cgroup.procs"
        else
            for t in /proc/"$p"/task/*; do echo "${t##*/}" > "${BD_CG_HOME[$p]}/tasks"; done
        fi
    done 2>/dev/null || true
}
bd_quota_cleanup() {
    [ -n "$BD_CG" ] && [ -d "$BD_CG" ] || return 0
    local f=tasks
    [ "$BD_CG_V" = 2 ] && f=cgroup.procs
    while read -r t; do echo "$t" > "${BD_CG%/*}/$f"; done < "$BD_CG/$f" 2>/dev/null || true
    rmdir "$BD_CG" 2>/dev/null || true
}

# bd_run_one MODE ROUND SERVER SECS [record]: one dnsperf run against SERVER (pinned), its
# figures into R[...] and a line of $TSV. Uses the caller's SPORT, SPID, QFILE, CLIENTS,
# OUTSTANDING, RATE, RESULTS, WORK, SERVER_CPU, CLIENT_CPU, WAIT_IDLE, IDLE_PCT, HZ, TSV and
# BD_DNSPERF_FLAGS (e.g. -B for wire-format query files).
bd_run_one() {
    local mode="$1" round="$2" s="$3" secs="$4" record="${5:-1}"
    local port="${SPORT[$s]}" pid="${SPID[$s]}" log pids c0 c1 b0 b1 u0 u1 rate=() rc=0 busy0=-
    bd_alive "$pid" || bd_die "$s (pid $pid) is not running any more"
    log="$RESULTS/logs/$mode-r$round-$s.log"; [ "$record" = 1 ] || log="$WORK/warmup-$s.log"
    [ "$mode" = rate ] && rate=(-Q "$RATE")
    mapfile -t pids < <(bd_tree "$pid")
    bd_pin "$SERVER_CPU" "${pids[@]}"
    bd_quota_enter "${pids[@]}"
    [ "$record" = 1 ] && busy0="$(bd_wait_idle "$WAIT_IDLE" "$IDLE_PCT")"
    c0="$(bd_cpu_ticks "${pids[@]}")"; b0="$(bd_busy_ticks)"; u0="$(bd_cpu_ticks --user "${pids[@]}")"
    # shellcheck disable=SC2086
    (
        timeout -k 5 $((secs + 30)) taskset -c "$CLIENT_CPU" \
            dnsperf -s 127.0.0.1 -p "$port" ${BD_DNSPERF_FLAGS:-} -d "$QFILE" -l "$secs" -c "$CLIENTS" -q "$OUTSTANDING" \
            "${rate[@]}" -O suppress=timeouts,unexpected > "$log" 2>&1
        r=$?; times > "$log.times"; exit $r
    ) || rc=$?
    c1="$(bd_cpu_ticks "${pids[@]}")"; b1="$(bd_busy_ticks)"; u1="$(bd_cpu_ticks --user "${pids[@]}")"
    bd_quota_leave "${pids[@]}"
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
    dp=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, x, "m"); sub(/s$/, "", x[2]); t += x[1] * 60 + x[2] }
                        printf "%.2f", t }' "$log.times" 2>/dev/null); dp="${dp:-0}"
    other=$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" -v s="$srv" -v d="$dp" \
        'BEGIN{o = (b - a) / hz - s - d; if (o < 0) o = 0; printf "%.2f", o}')
    pct=$(awk -v s="$srv" -v t="$secs" 'BEGIN{printf "%.0f", 100 * s / t}')
    usq=$(awk -v c="$done_q" -v s="$srv" 'BEGIN{ if (c > 0) printf "%.2f", s * 1e6 / c; else print "-" }')
    R[$mode,$round,$s,qps]=$qps; R[$mode,$round,$s,avg]=$avg; R[$mode,$round,$s,lost]=$lost
    R[$mode,$round,$s,usq]=$usq; R[$mode,$round,$s,other]=$other; R[$mode,$round,$s,pct]=$pct
    # user-space share of usq (10 ms ticks: about +-5 % at 0.3 us/q over a 5 s run)
    R[$mode,$round,$s,uusq]=$(awk -v c="$done_q" -v u=$((u1 - u0)) -v hz="$HZ" \
        'BEGIN{ if (c > 0) printf "%.3f", u / hz * 1e6 / c; else print "-" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$mode" "$round" "$s" "$port" "$([ "$mode" = rate ] && echo "$RATE" || echo max)" "$secs" \
        "$sent" "$done_q" "$lost" "$qps" "$avg" "$maxl" "$srv" "$usq" "$dp" "$other" "$pct" "$busy0" "$rcodes" "$log" >> "$TSV"
    printf '  %-5s round %s %-8s qps=%-7s avg=%sms lost=%s/%s cpu=%ss=%s%% (%s us/q) dnsperf=%ss other=%ss busy_before=%s%%\n' \
        "$mode" "$round" "$s" "$qps" "$avg" "$lost" "$sent" "$srv" "$pct" "$usq" "$dp" "$other" "$busy0" >&2
}

# bd_run_rounds: WARMUP s per server, then ROUNDS rounds of MODES x SERVERS (the order of the
# servers alternates between rounds), each DURATION s. RESTART=1: before every round after the
# first, each server is stopped and started again as a new process (bd_restart SERVER, which the
# script defines) and warmed up again, so that whatever one process keeps for its whole life
# (where its memory landed, which pages it got) varies from round to round instead of biasing
# every round of the run the same way.
bd_run_rounds() {
    local s round mode i n=${#SERVERS[@]} order
    bd_quota_setup
    if [ "${RESTART:-0}" = 1 ] && ! declare -F bd_restart >/dev/null; then
        bd_die "RESTART=1: this benchmark cannot restart its servers"
    fi
    for s in "${SERVERS[@]}"; do [ "$WARMUP" -gt 0 ] && bd_run_one max 0 "$s" "$WARMUP" 0; done
    for round in $(seq 1 "$ROUNDS"); do
        if [ "${RESTART:-0}" = 1 ] && [ "$round" -gt 1 ]; then
            for s in "${SERVERS[@]}"; do
                bd_restart "$s"
                [ "$WARMUP" -gt 0 ] && bd_run_one max 0 "$s" "$WARMUP" 0
            done
            bd_say "round $round: every server restarted ($(for s in "${SERVERS[@]}"; do printf '%s pid %s ' "$s" "${SPID[$s]}"; done))"
        fi
        order=("${SERVERS[@]}")
        if [ $((round % 2)) = 0 ]; then # alternate who goes first
            order=()
            for ((i = n - 1; i >= 0; i--)); do order+=("${SERVERS[$i]}"); done
        fi
        for mode in "${MODES[@]}"; do
            for s in "${order[@]}"; do bd_run_one "$mode" "$round" "$s" "$DURATION"; done
        done
    done
}

# bd_med MODE SERVER FIELD: the median over the rounds.
bd_med() {
    local r; for r in $(seq 1 "$ROUNDS"); do echo "${R[$1,$r,$2,$3]:--}"; done | bd_median
}

# bd_paired MODE A B [FIELD]: the per-round ratios A/B of FIELD (default usq, CPU per query),
# as "median [min-max] ci LO-HI". Every round runs each server back to back, so a drift of the
# shared machine over the minutes of a run (seen: every server 20 % slower in one round than in
# the next) cancels in a round's ratio, where the ratio of the medians keeps it. LO-HI is a 95 %
# bootstrap interval of that median (2,000 resamples of the rounds with replacement, fixed seed):
# a target inside it is one the run cannot tell from the figure. BASE= set to the very binary
# measured (an A/A run) shows the method's own noise the same way.
bd_paired() {
    local mode=$1 a=$2 b=$3 f=${4:-usq} r
    for r in $(seq 1 "$ROUNDS"); do
        printf '%s %s\n' "${R[$mode,$r,$a,$f]:-}" "${R[$mode,$r,$b,$f]:-}"
    done | awk 'function med(x, k,   i, j, t) {
                    for (i = 1; i < k; i++)
                        for (j = i; j > 0 && x[j] < x[j - 1]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
                    return k % 2 ? x[(k - 1) / 2] : (x[k / 2 - 1] + x[k / 2]) / 2 }
        $1 > 0 && $2 > 0 { v[n++] = $1 / $2 }
        END { if (!n) { print "n/a"; exit }
              for (i = 0; i < n; i++) w[i] = v[i]
              m = med(w, n); lo = w[0]; hi = w[n - 1]
              srand(1); B = 2000
              for (b = 0; b < B; b++) { for (i = 0; i < n; i++) s[i] = v[int(rand() * n)]; bm[b] = med(s, n) }
              med(bm, B)
              printf "%.3f [%.3f-%.3f] ci %.3f-%.3f", m, lo, hi, bm[int(B * 0.025)], bm[int(B * 0.975) - 1] }'
}

# bd_print_table MODE PEER PEER_LABEL: per-round figures and medians of every server, and the
# ratios geodnsd/PEER (and against the ceiling when it ran).
bd_print_table() {
    local mode="$1" peer="$2" label="$3" s r
    echo
    if [ "$mode" = max ]; then
        echo "mode max: dnsperf ${BD_DNSPERF_FLAGS:+$BD_DNSPERF_FLAGS }-c $CLIENTS -q $OUTSTANDING (full load), $DURATION s per run${QUOTA:+; each server limited to $QUOTA % of one CPU (QUOTA, cgroup)}"
    else
        echo "mode rate: dnsperf ${BD_DNSPERF_FLAGS:+$BD_DNSPERF_FLAGS }-c $CLIENTS -q $OUTSTANDING -Q $RATE (fixed offered load), $DURATION s per run"
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
                printf ' | %7.0f %7.3f %6.0f %4.0f %6.2f' "$(bd_med "$mode" "$s" qps)" "$(bd_med "$mode" "$s" avg)" \
                    "$(bd_med "$mode" "$s" lost)" "$(bd_med "$mode" "$s" pct)" "$(bd_med "$mode" "$s" usq)"
            else
                printf ' | %7s %7s %6s %4s %6s' "${R[$mode,$r,$s,qps]}" "${R[$mode,$r,$s,avg]}" \
                    "${R[$mode,$r,$s,lost]}" "${R[$mode,$r,$s,pct]}" "${R[$mode,$r,$s,usq]}"
            fi
        done
        if [ "$r" = median ]; then printf ' |\n'; else
            printf ' | %s\n' "$(for s in "${SERVERS[@]}"; do echo "${R[$mode,$r,$s,other]}"; done | paste -sd/)"
        fi
    done
    printf "ratio geodnsd/%s (medians): qps %s, CPU per query %s, avg latency %s" "$label" \
        "$(bd_ratio "$(bd_med "$mode" geodnsd qps)" "$(bd_med "$mode" "$peer" qps)")" \
        "$(bd_ratio "$(bd_med "$mode" geodnsd usq)" "$(bd_med "$mode" "$peer" usq)")" \
        "$(bd_ratio "$(bd_med "$mode" geodnsd avg)" "$(bd_med "$mode" "$peer" avg)")"
    if [ -n "${SPID[ceiling]:-}" ]; then
        printf '\nvs ceiling (medians): geodnsd/ceiling qps %s, CPU per query %s; %s/ceiling qps %s, CPU per query %s' \
            "$(bd_ratio "$(bd_med "$mode" geodnsd qps)" "$(bd_med "$mode" ceiling qps)")" \
            "$(bd_ratio "$(bd_med "$mode" geodnsd usq)" "$(bd_med "$mode" ceiling usq)")" \
            "$label" "$(bd_ratio "$(bd_med "$mode" "$peer" qps)" "$(bd_med "$mode" ceiling qps)")" \
            "$(bd_ratio "$(bd_med "$mode" "$peer" usq)" "$(bd_med "$mode" ceiling usq)")"
    fi
    printf '\nCPU per query, paired per round (median [min-max] of the rounds'"'"' ratios, ci: 95 %% interval of the median): geodnsd/%s %s' \
        "$label" "$(bd_paired "$mode" geodnsd "$peer")"
    [ -n "${SPID[ceiling]:-}" ] && printf ', geodnsd/ceiling %s, %s/ceiling %s' \
        "$(bd_paired "$mode" geodnsd ceiling)" "$label" "$(bd_paired "$mode" "$peer" ceiling)"
    echo
}

# bd_big_zone DIR NAMES POPS: DIR/big.test.yaml (NAMES names, each with an A and a TXT),
# DIR/pops.yaml (POPS PoPs), DIR/geodnsd.yaml (workers: 1, on 127.0.0.1:5353), and the same
# records as an RFC 1035 master file, DIR/big.test.zone.
bd_big_zone() {
    local d=$1 n=$2 pops=$3
    mkdir -p "$d"
    awk -v n="$n" 'BEGIN {
        print "zone: big.test\nttl: 300"
        print "soa: {primary: ns1, contact: hostmaster@big.test, refresh: 3600, retry: 600, expire: 604800, minimum: 60}"
        print "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}"
        for (i = 0; i < n; i++)
            printf "  h%d: {A: 10.%d.%d.%d, TXT: \"\\\"rec %d\\\"\"}\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, i
    }' >"$d/big.test.yaml"
    awk -v p="$pops" 'BEGIN {
        print "pops:"
        for (i = 0; i < p; i++)
            printf "  p%d: {location: [%.2f, %.2f], addresses: [127.1.%d.%d]}\n", i, (i % 170) - 85, (i * 7 % 360) - 180, int(i / 256), i % 256
        printf "pools:\n  all: ["
        for (i = 0; i < p; i++) printf "%sp%d", (i ? ", " : ""), i
        print "]"
    }' >"$d/pops.yaml"
    printf 'listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [big.test.yaml]\npops: pops.yaml\nlog: {level: info}\n' >"$d/geodnsd.yaml"
    awk -v n="$n" 'BEGIN {
        print "$ORIGIN big.test.\n$TTL 300"
        print "@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n@ IN NS ns1\nns1 IN A 127.0.0.1"
        for (i = 0; i < n; i++)
            printf "h%d IN A 10.%d.%d.%d\nh%d IN TXT \"rec %d\"\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, i, i
    }' >"$d/big.test.zone"
}

# bd_nsd_conf DIR PORT ZONE FILE DATABASE SERVERS [SERVER-LINE...] -- [ZONE-LINE...]: DIR/nsd.conf
# for NSD serving ZONE from DIR/FILE on 127.0.0.1:PORT with SERVERS server processes, its
# database file DATABASE ("" for none), response rate limiting off (Debian builds NSD with it on:
# 200 qps per /24), and the extra lines given for the server and zone sections.
bd_nsd_conf() {
    local d=$1 port=$2 zone=$3 file=$4 db=$5 servers=$6 l
    shift 6
    {
        printf 'server:\n    ip-address: 127.0.0.1@%s\n    do-ip4: yes\n    do-ip6: no\n' "$port"
        printf '    server-count: %s\n    username: ""\n    chroot: ""\n    zonesdir: "%s"\n' "$servers" "$d"
        printf '    database: "%s"\n    zonelistfile: "%s/zone.list"\n' "$db" "$d"
        printf '    xfrdfile: "%s/xfrd.state"\n    xfrdir: "%s"\n    pidfile: "%s/nsd.pid"\n' "$d" "$d" "$d"
        printf '    logfile: "%s/nsd.log"\n    verbosity: 1\n    zonefiles-write: 0\n' "$d"
        printf '    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n'
        while [ $# -gt 0 ] && [ "$1" != -- ]; do printf '    %s\n' "$1"; shift; done
        [ $# -gt 0 ] && shift
        printf 'remote-control:\n    control-enable: no\nzone:\n    name: %s\n    zonefile: %s\n' "$zone" "$file"
        for l in "$@"; do printf '    %s\n' "$l"; done
    } >"$d/nsd.conf"
}

# The Debian packages a build of this repository needs (scripts/deps.sh has them too).
BD_BUILD_PKGS=(build-essential cmake pkg-config zlib1g-dev libuv1-dev libyaml-dev libldns-dev
    libssl-dev libmaxminddb-dev node-llhttp)

# bd_build_geodnsd REPO BUILD [TARGET]: when BUILD/bin/geodnsd is missing, install what the build
# needs and build it (TARGET only, or everything).
bd_build_geodnsd() {
    local repo=$1 build=$2 target=${3:-}
    [ -x "$build/bin/geodnsd" ] && return 0
    bd_need_pkgs "${BD_BUILD_PKGS[@]}"
    bd_say "building geodnsd in $build"
    { cmake -S "$repo" -B "$build" >/dev/null &&
        cmake --build "$build" -j2 ${target:+--target "$target"} >/dev/null; } ||
        bd_die "geodnsd build failed (cmake -S $repo -B $build && cmake --build $build -j2)"
}
