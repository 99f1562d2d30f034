#!/bin/bash
# bench/load-scale.sh: every load path of outside input other than zones, at 1x, 10x, 100x, 256x
# and 400x the size of the bundled example, to show that each load is linear (or refused, with a
# clear error, past its bound: 256x is 1,024 PoPs, the PoP file's cap). Zones have bench/zone-load.sh and bench/master-load.sh.
# A benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bench/load-scale.sh                         # SCALES="1 10 100 256 400", ROUNDS=3, MIN_CPU=0.2
#   ROUNDS=1 MIN_CPU=0.05 bench/load-scale.sh   # quick look
#
# What it does
#   - builds geodnsd and the harness bench/load-time.c (target load-time) when missing;
#   - for each scale N generates, from the example's shape, in a temp dir:
#       main config  zones/geodnsd.yaml plus docs/secondaries.md's transfer example (1 zone,
#                    1 TSIG key, 2 allow entries, 2 NOTIFY targets): N zones (the example zone
#                    and N-1 small ones), N keys, 2N allow entries naming them, 2N targets;
#       PoP file     zones/pops.yaml (4 PoPs, each with a probe, 2 pools): 4N PoPs (hostnames
#                    outside our zones but for the example's 4), 2N pools;
#       nets file    docs/geo.md's example (4 entries: location, pops, IPv6, country): 4N;
#       state file   what healthcheck writes for zones/pops.yaml (4 PoPs, 1 probed address
#                    each): 4N PoPs, against a PoP file of 4N PoPs;
#       overrides    zones/admin.yaml's 4 documented entries (down, one address down, drain,
#                    up): 4N entries over 4N PoPs;
#       healthcheck  its PoP file and its previous state file as above (4N PoPs);
#       status JSON  segment-edge's /status body (1 origin server): N servers;
#       edge config  packaging/segment-edge.yaml (1 listen address, 1 origin): N of each;
#   - times each load, CPU time (user + system) of the load alone, median of ROUNDS: the harness
#     bench/load-time.c runs the loader the program runs until MIN_CPU seconds have passed and
#     prints the time per load (small inputs are not lost in a program's start-up). For the
#     inputs geodnsd reads at load, `geodnsd --check` is timed as well (the whole process,
#     from wait4's rusage; its start-up is a constant part of it);
#   - COUNT=1 (needs valgrind): also the instructions of one load (callgrind's count inside the
#     harness's load function), the same on a busy machine as on a quiet one, where CPU times
#     wander with the other jobs and with the cache footprint;
#   - prints per input the time at each scale and the ratio to the scale before it: t(10x)/t(1x),
#     t(100x)/t(10x) (linear: 10), t(256x)/t(100x) (2.56), t(400x)/t(256x) (1.56), and the same
#     ratio of instructions with COUNT=1. A load refused past its bound prints the
#     error instead of a time.
#   Binds nothing, starts no server. Results in RESULTS (default: a new temp dir, printed).
#
# Knobs (environment): SCALES="1 10 100 256 400" ROUNDS=3 MIN_CPU=0.2 COUNT=0 BUILD=<repo>/build
#   RESULTS=<dir>
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
. "$HERE/lib-dns.sh"

SCALES="${SCALES:-1 10 100 256 400}"; ROUNDS="${ROUNDS:-3}"; MIN_CPU="${MIN_CPU:-0.2}"
COUNT="${COUNT:-0}"
BUILD="${BUILD:-$REPO/build}"
for v in "$ROUNDS" $SCALES; do
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || bd_die "ROUNDS and SCALES must be integers >= 1 (got '$v')"
done
[[ "$MIN_CPU" =~ ^[0-9.]+$ ]] || bd_die "MIN_CPU must be a number of seconds"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GEODNSD="$BUILD/bin/geodnsd"
LOADTIME="$BUILD/bin/load-time"

bd_need_pkgs python3
[ "$COUNT" = 1 ] && bd_need_pkgs valgrind
if [ ! -x "$GEODNSD" ] || [ ! -x "$LOADTIME" ]; then
    bd_need_pkgs "${BD_BUILD_PKGS[@]}"
    bd_say "building geodnsd and load-time in $BUILD"
    { cmake -S "$REPO" -B "$BUILD" >/dev/null &&
        cmake --build "$BUILD" -j2 --target geodnsd load-time >/dev/null; } ||
        bd_die "build failed (cmake -S $REPO -B $BUILD && cmake --build $BUILD -j2)"
fi

RESULTS="${RESULTS:-$(mktemp -d /tmp/load-scale.XXXXXX)}"
mkdir -p "$RESULTS"
WORK="$RESULTS/work"
mkdir -p "$WORK"

# ---- inputs ------------------------------------------------------------------------------------
# gen DIR N: every input at scale N into DIR.
gen() {
    python3 - "$1" "$2" "$REPO" <<'PYEOF'
import os, shutil, sys
d, n, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d, exist_ok=True)
def w(name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
names4 = ["fra", "nyc", "sin", "gru"]
def pop_name(i):
    return names4[i] if i < 4 else "p%d" % i
def v4(i):
    return "127.%d.%d.1" % (1 + i // 250, 1 + i % 250)
def pops_file(npops):
    out = ["pops:"]
    for i in range(npops):
        nm = pop_name(i)
        out.append('  %s: {location: [%.2f, %.2f], country: DE, addresses: [%s, "fd00:c0d:%x::1"],'
                   % (nm, -60 + (i * 7) % 120, -170 + (i * 13) % 340, v4(i), i + 1))
        # the example's four are in the zone; the others outside our zones (no warnings)
        out.append('        capacity: 1000, hostname: %s.edge.%s,' % (nm, "cdn.example.test" if i < 4 else "example.net"))
        out.append('        probe: {url: "http://%s:8080/healthz", addresses: [%s]}}' % (v4(i), v4(i)))
    out.append("pools:")
    out.append("  edges: [%s]" % ", ".join(pop_name(i) for i in range(npops)))
    out.append("  eu: [fra]")
    for j in range(min(2 * (npops // 4) - 2, 254)):
        out.append("  pool%d: [%s]" % (j, ", ".join(pop_name((4 * j + k) % npops) for k in range(4))))
    out.append("capacity: {watermarks: {low: 80, high: 95}}")
    out.append("default_location: [50.11, 8.68]")
    return "\n".join(out) + "\n"
zone = open(os.path.join(repo, "zones", "cdn.example.test.yaml")).read()
w("cdn.example.test.yaml", zone)
w("pops1.yaml", pops_file(4))
w("pops.yaml", pops_file(4 * n))
# main config: N zones, N TSIG keys, 2N allow entries, 2N NOTIFY targets
zones = ["cdn.example.test.yaml"]
for i in range(1, n):
    w("z%d.test.yaml" % i, "zone: z%d.test\nsoa: {primary: ns1, contact: hostmaster@z%d.test, serial: 1}\n"
      "ns: [ns1]\nrecords:\n  ns1: {A: 192.0.2.53}\n  www: {A: 192.0.2.%d}\n" % (i, i, i % 250 + 1))
    zones.append("z%d.test.yaml" % i)
keys = ["  xfr-key%d: {algorithm: hmac-sha256, secret: \"%s\"}" % (i, "c2VjcmV0LWtleS0xMjM0NTY3ODkw")
        for i in range(n)]
allow = ["    - {net: 10.%d.%d.0/24, key: xfr-key%d}" % (i // 250, i % 250, i // 2) for i in range(2 * n)]
notify = ['"10.%d.%d.53:53"' % (i // 250, i % 250) for i in range(2 * n)]
w("main.yaml", 'listen: ["127.0.0.1:5353", "[::1]:5353"]\nworkers: 0\nzones: [%s]\npops: pops1.yaml\n'
  "health: {dir: health, overrides: admin1.yaml, quorum: 1, max_age: 60s}\n"
  "log: {level: info}\ntcp: {idle_timeout: 10s, max_connections: 256}\nedns: {udp_size: 1232}\n"
  "tsig_keys:\n%s\ntransfer:\n  allow:\n%s\n  notify: [%s]\n"
  % (", ".join(zones), "\n".join(keys), "\n".join(allow), ", ".join(notify)))
os.makedirs(os.path.join(d, "health"), exist_ok=True)
w("admin1.yaml", "overrides: {}\n")
w("cfg-pops.yaml", 'listen: ["127.0.0.1:5353"]\nzones: [cdn.example.test.yaml]\npops: pops.yaml\n')
# nets: 4N entries in the shapes of docs/geo.md's example
nets = ["nets:"]
for i in range(4 * n):
    k, j = i % 4, i // 4
    if k == 0:
        nets.append('  "10.%d.%d.0/25": {location: [48.85, 2.35], country: FR, continent: EU, subdivision: IDF}' % (j // 256, j % 256))
    elif k == 1:
        nets.append('  "10.%d.%d.128/25": {pops: [fra, nyc]}' % (j // 256, j % 256))
    elif k == 2:
        nets.append('  "2001:db8:%x::/48": {country: DE}' % j)
    else:
        nets.append('  "172.%d.%d.0/24": {location: [0, 0]}' % (16 + j // 256, j % 256))
w("nets.yaml", "\n".join(nets) + "\n")
w("cfg-nets.yaml", 'listen: ["127.0.0.1:5353"]\nzones: [cdn.example.test.yaml]\npops: pops1.yaml\n'
  "geoip: {nets: nets.yaml}\n")
# state file of one vantage for pops.yaml
st = ['{"format": "geodns-health", "version": 1, "vantage": "bench", "time": 1764470000, "round_ms": 412,', ' "pops": {']
for i in range(4 * n):
    st.append('  "%s": {"state": "up", "load": %d.5, "load_reason": "", "addresses": {"%s": {"state": "up", '
              '"reason": "http 200", "rtt_ms": 0.8, "history": "11111", "ok_streak": 12, "probes": 40, '
              '"failures": 1, "since": 1764469000}}}%s' % (pop_name(i), i, v4(i), "," if i < 4 * n - 1 else ""))
st.append("}}")
w("state.json", "\n".join(st) + "\n")
# overrides: the four documented shapes, one per PoP
ov = ["overrides:"]
for i in range(4 * n):
    k, nm = i % 4, pop_name(i)
    if k == 0:
        ov.append('  %s: {state: down, reason: "fibre cut", until: "2030-12-01T12:00:00Z"}' % nm)
    elif k == 1:
        ov.append("  %s/%s: {state: down}" % (nm, v4(i)))
    elif k == 2:
        ov.append('  %s: {state: drain, over: 10m, reason: "maintenance"}' % nm)
    else:
        ov.append("  %s: {state: up}" % nm)
w("admin.yaml", "\n".join(ov) + "\n")
# status JSON: segment-edge's /status with N origin servers
srv = ",".join('{"url":"http://origin%d.example:8000","up":true,"load":%d}' % (i, i) for i in range(n))
w("status.json", '{"mode":"edge","uptime_s":12.5,"draining":false,"workers":2,\n'
  '"origin":{"fetches":3,"servers":[%s]},\n'
  '"load":{"value":512.500,"unit":"rps","capacity":1000.000,"ratio":0.5125}}\n' % srv)
# segment-edge config: N listen addresses and N origins
w("edge.yaml", "listen: [%s]\nworkers: 1\norigin: [%s]\ncache_memory: 256M\n"
  "cache_disk: {path: /var/cache/segment-edge, size: 1G}\nload: {unit: egress_mbps, capacity: 1000}\n"
  "access_log: true\nlog_level: info\n"
  % (", ".join('"127.0.%d.%d:8080"' % (1 + i // 250, 1 + i % 250) for i in range(n)),
     ", ".join("http://127.0.0.1:%d" % (8000 + i) for i in range(n))))
PYEOF
}

# The inputs: label, load-time arguments after the directory ({} = the directory), whether
# `geodnsd --check -c` is timed too (its config file), and what 1x holds.
INPUTS=(
    "main-config|config {}/main.yaml|main.yaml|1 zone, 1 TSIG key, 2 allow, 2 notify"
    "pop-file|config {}/cfg-pops.yaml|cfg-pops.yaml|4 PoPs, 2 pools"
    "nets-file|config {}/cfg-nets.yaml|cfg-nets.yaml|4 entries"
    "state-file|health {}/pops.yaml {}/state.json||4 PoPs (+ the combiner)"
    "overrides|overrides {}/pops.yaml {}/admin.yaml||4 entries"
    "healthcheck|hc-start {}/pops.yaml {}/state.json||4 PoPs + previous state"
    "status-json|status {}/status.json load.value||1 origin server"
    "edge-config|edge {}/edge.yaml||1 listen, 1 origin"
)

# cpu_of CMD...: CPU seconds (user + system, wait4) of one run of CMD; "" when it fails.
cpu_of() {
    python3 - "$@" <<'PYEOF'
import resource, subprocess, sys
c = resource.getrusage(resource.RUSAGE_CHILDREN)
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
if r.returncode == 0:
    print("%.4f" % (u.ru_utime + u.ru_stime - c.ru_utime - c.ru_stime))
PYEOF
}

for n in $SCALES; do
    bd_say "generating inputs at ${n}x in $WORK/s$n"
    gen "$WORK/s$n" "$n"
done

# measure: RESULTS/<label>.<n> holds the harness's seconds per load (one line per round) or
# "refused: <error>"; RESULTS/<label>.<n>.check the `geodnsd --check` CPU seconds.
for r in $(seq 1 "$ROUNDS"); do
    bd_say "round $r/$ROUNDS"
    for spec in "${INPUTS[@]}"; do
        IFS='|' read -r label args check _ <<<"$spec"
        for n in $SCALES; do
            dir="$WORK/s$n" out="$RESULTS/$label.$n"
            [ "$r" = 1 ] && : >"$out" && : >"$out.check"
            grep -q '^refused' "$out" && continue
            # shellcheck disable=SC2086
            if res=$("$LOADTIME" "$MIN_CPU" ${args//\{\}/$dir} 2>"$out.err"); then
                echo "${res%% *}" >>"$out"
            else
                echo "refused: $(head -1 "$out.err" | sed "s|$dir/||g")" >"$out"
                continue
            fi
            if [ -n "$check" ]; then
                cpu_of "$GEODNSD" --check -c "$dir/$check" >>"$out.check"
            fi
        done
    done
done

# instructions of one load (COUNT=1): RESULTS/<label>.<n>.ir
if [ "$COUNT" = 1 ]; then
    bd_say "counting instructions (valgrind --tool=callgrind)"
    for spec in "${INPUTS[@]}"; do
        IFS='|' read -r label args _ <<<"$spec"
        for n in $SCALES; do
            dir="$WORK/s$n" out="$RESULTS/$label.$n"
            : >"$out.ir"
            grep -q '^refused' "$out" && continue
            # shellcheck disable=SC2086
            valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='lt_*' "$LOADTIME" 0 ${args//\{\}/$dir} \
                2>&1 >/dev/null | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' >"$out.ir"
        done
    done
fi

ms() { awk -v s="$1" 'BEGIN { if (s == "-" || s == "") print "-"; else printf "%.4f", s * 1000 }'; }
{
    echo "bench/load-scale.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    # The checkout's commit names the binaries only when they were built from it.
    case "$(cd "$BUILD" && pwd)/" in
    "$REPO"/*) built="commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" ;;
    *) built="built outside this checkout (BUILD=$BUILD)" ;;
    esac
    echo "geodnsd: $GEODNSD ($("$GEODNSD" --version 2>&1 | head -1)); $built"
    echo "CPU ms per load (harness, median of $ROUNDS, each >= ${MIN_CPU}s of loads); [geodnsd --check, whole process]"
    [ "$COUNT" = 1 ] && echo "instr: instructions of one load (callgrind, inside the harness's load function)"
    echo
    for spec in "${INPUTS[@]}"; do
        IFS='|' read -r label _ check what <<<"$spec"
        printf '%-12s (1x: %s)\n' "$label" "$what"
        prev="" prevn="" previr=""
        for n in $SCALES; do
            out="$RESULTS/$label.$n"
            if grep -q '^refused' "$out"; then
                printf '   %4sx  %s\n' "$n" "$(cut -c1-150 "$out")"
                prev=""
                continue
            fi
            t=$(bd_median <"$out")
            line=$(printf '   %4sx  %10s ms' "$n" "$(ms "$t")")
            if [ -n "$check" ]; then
                line+=$(printf '  [--check %7s ms]' "$(ms "$(bd_median <"$out.check")")")
            fi
            ir=""
            [ "$COUNT" = 1 ] && ir=$(cat "$out.ir")
            [ -n "$ir" ] && line+=$(printf '  %12s instr' "$ir")
            if [ -n "$prev" ]; then
                line+=$(printf '   t(%sx)/t(%sx) %6s' "$n" "$prevn" "$(bd_ratio "$t" "$prev")")
                [ -n "$ir" ] && line+=$(printf ', instr %6s' "$(bd_ratio "$ir" "$previr")")
                line+=$(printf ' (linear %s)' "$(awk -v a="$n" -v b="$prevn" 'BEGIN { printf "%g", a / b }')")
            fi
            echo "$line"
            prev=$t prevn=$n previr=$ir
        done
    done
} | tee "$RESULTS/summary.txt"
echo "results: $RESULTS" >&2
