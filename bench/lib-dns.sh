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

# bd_cpu_ticks PID... : utime+stime (clock ticks) summed over the processes, all threads
bd_cpu_ticks() {
    local t=0 p v
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) || continue
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
    local name="$1" port="$2" pid="$3" zone="$4" log="$5"
    for _ in $(seq 1 100); do
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
    bd_say "$name: no answer on 127.0.0.1:$port after 20 s; log $log"
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
