#!/bin/bash
# bench/xfr-latency.sh: what a zone transfer of a big zone costs the server's other TCP clients,
# geodnsd against NSD on the same records. A benchmark, not a test: it prints figures and ratios
# and never fails on them.
#
#   bench/xfr-latency.sh                      # NAMES=500000 (1,000,000 records), ROUNDS=5
#   BASE=/path/to/older/geodnsd bench/xfr-latency.sh   # also an older build, in the same rounds
#
# What it does
#   - installs missing Debian packages (nsd, dig, python3) as bench/zone-load.sh does;
#   - generates a zone of NAMES names with an A and a TXT each (bd_big_zone: YAML for geodnsd,
#     a master file for NSD), and serves it with geodnsd (workers: 1, transfers allowed from
#     127.0.0.1), with NSD (server-count 1, provide-xfr 127.0.0.1 NOKEY) and, with BASE set,
#     with that geodnsd binary too;
#   - each round, for each server in turn: a prober sends a SOA query every 2 ms on one open TCP
#     connection while `dig AXFR` takes the whole zone over another one as fast as it reads;
#     the figures are the AXFR's wall time, the latency of the probes sent during it (median,
#     p99, max) and the server's CPU time over the AXFR (user and system time of all its
#     processes and threads, and of the children they reaped: NSD forks one per transfer; /proc),
#     medians over ROUNDS; ratios geodnsd / NSD (and geodnsd / BASE).
#   The prober and dig run at nice -10 so that their own scheduling on 2 cores is not what is
#   measured. Results in RESULTS (default: a new temp dir, printed). Binds 127.0.0.1 only; stops
#   only the PIDs it started.
#
# Knobs (environment): NAMES=500000 ROUNDS=5 BASE= BUILD=<repo>/build RESULTS=<dir>
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
. "$HERE/lib-dns.sh"

NAMES="${NAMES:-500000}"; ROUNDS="${ROUNDS:-5}"; BASE="${BASE:-}"
BUILD="${BUILD:-$REPO/build}"
for v in NAMES ROUNDS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || bd_die "$v must be a positive integer (got '${!v}')"
done
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GEODNSD="$BUILD/bin/geodnsd"
[ -z "$BASE" ] || [ -x "$BASE" ] || bd_die "BASE=$BASE is not an executable"

bd_need_pkgs nsd bind9-dnsutils procps python3
NSD_BIN="$(command -v nsd || echo /usr/sbin/nsd)"
bd_build_geodnsd "$REPO" "$BUILD" geodnsd

RESULTS="${RESULTS:-$(mktemp -d /tmp/xfr-latency.XXXXXX)}"
WORK="$RESULTS/work"
mkdir -p "$WORK"
declare -A SPID SPORT
cleanup() {
    local s
    for s in "${!SPID[@]}"; do bd_stop "${SPID[$s]}"; done
}
trap cleanup EXIT

bd_say "generating a zone of $NAMES names ($((2 * NAMES)) records) in $WORK"
bd_big_zone "$WORK" "$NAMES" 4
printf 'transfer: {allow: [{net: 127.0.0.1}]}\n' >>"$WORK/geodnsd.yaml"

used=()
# start NAME CMD...: run a server on a free port (CMD gets it as $PORT via the environment) and
# wait until it answers for the zone.
start() {
    local name=$1 log="$RESULTS/$1.log" port
    shift
    port=$(bd_free_port "${used[@]}")
    used+=("$port")
    PORT=$port "$@" >"$log" 2>&1 </dev/null &
    SPID[$name]=$!
    SPORT[$name]=$port
    bd_wait_dns "$name" "$port" "${SPID[$name]}" big.test "$log" 600 || bd_die "$name did not start"
    bd_say "$name on 127.0.0.1:$port, pid ${SPID[$name]}"
}
run_geodnsd() { exec "$1" -c "$WORK/geodnsd.yaml" --listen "127.0.0.1:$PORT"; }
run_nsd() {
    bd_nsd_conf "$WORK/nsd" "$PORT" big.test big.test.zone "" 1 -- "provide-xfr: 127.0.0.1 NOKEY"
    exec "$NSD_BIN" -d -c "$WORK/nsd/nsd.conf"
}
mkdir -p "$WORK/nsd"
cp "$WORK/big.test.zone" "$WORK/nsd/"
start geodnsd run_geodnsd "$GEODNSD"
start nsd run_nsd
servers=(geodnsd nsd)
if [ -n "$BASE" ]; then
    start base run_geodnsd "$BASE"
    servers+=(base)
fi

# One measurement: "axfr_s probes p50_ms p99_ms max_ms cpu_s records" (PIDS: the server's
# processes, whose CPU time over the AXFR is cpu_s).
cat >"$WORK/probe.py" <<'PY'
import os, socket, struct, subprocess, sys, threading, time
port, pids = int(sys.argv[1]), sys.argv[2:]
def cpu():
    t = 0
    for p in pids:
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read().rsplit(")", 1)[1].split()
            t += sum(int(x) for x in st[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    return t / os.sysconf("SC_CLK_TCK")
def rx(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b
m = struct.pack("!6H", 9, 0, 1, 0, 0, 0) + b"\x03big\x04test\x00" + struct.pack("!HH", 6, 1)
m = struct.pack("!H", len(m)) + m
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
probes, stop = [], threading.Event()
def probe():
    while not stop.is_set():
        t = time.monotonic()
        s.sendall(m)
        (l,) = struct.unpack("!H", rx(s, 2))
        rx(s, l)
        probes.append((t, time.monotonic() - t))
        time.sleep(0.002)
th = threading.Thread(target=probe)
th.start()
time.sleep(0.3)
c0, t0 = cpu(), time.monotonic()
out = subprocess.run(["dig", "+tcp", "+noall", "+stats", "-p", str(port), "@127.0.0.1", "big.test",
                      "AXFR"], capture_output=True, text=True).stdout
t1, c1 = time.monotonic(), cpu()
time.sleep(0.1)
stop.set()
th.join()
rec = [l.split(":")[1].split(",")[0].strip() for l in out.splitlines() if "XFR size" in l]
lat = sorted(d * 1000 for t, d in probes if t0 <= t <= t1) or [0]
print("%.3f %d %.3f %.3f %.3f %.2f %s" % (t1 - t0, len(lat), lat[len(lat) // 2],
      lat[min(len(lat) - 1, int(len(lat) * .99))], lat[-1], c1 - c0, rec[0] if rec else "?"))
PY

for r in $(seq 1 "$ROUNDS"); do
    for s in "${servers[@]}"; do
        bd_say "round $r/$ROUNDS: $s"
        # NSD answers from a child process, which forks a process per transfer: the whole tree.
        pids=($(bd_tree "${SPID[$s]}"))
        nice -n -10 python3 "$WORK/probe.py" "${SPORT[$s]}" "${pids[@]}" >>"$RESULTS/$s.txt"
    done
done

med() { awk -v c="$2" '{ print $c }' "$RESULTS/$1.txt" | bd_median; }
{
    echo "zone: $NAMES names, $(awk '{ print $7 }' "$RESULTS/geodnsd.txt" | sort -u | tr '\n' ' ')records in the AXFR; $ROUNDS rounds, medians"
    echo "geodnsd: $GEODNSD ($("$GEODNSD" --version 2>&1 | head -1)); nsd: $("$NSD_BIN" -v 2>&1 | head -1)"
    [ -n "$BASE" ] && echo "base: $BASE ($("$BASE" --version 2>&1 | head -1))"
    printf '%-8s %9s %7s %9s %9s %9s %9s\n' server axfr_s probes p50_ms p99_ms max_ms cpu_s
    for s in "${servers[@]}"; do
        printf '%-8s %9s %7s %9s %9s %9s %9s\n' "$s" "$(med "$s" 1)" "$(med "$s" 2)" "$(med "$s" 3)" \
            "$(med "$s" 4)" "$(med "$s" 5)" "$(med "$s" 6)"
    done
    echo "ratio geodnsd / nsd: AXFR time $(bd_ratio "$(med geodnsd 1)" "$(med nsd 1)"), probe p99 $(bd_ratio "$(med geodnsd 4)" "$(med nsd 4)"), probe max $(bd_ratio "$(med geodnsd 5)" "$(med nsd 5)"), server CPU $(bd_ratio "$(med geodnsd 6)" "$(med nsd 6)")"
    [ -n "$BASE" ] && echo "ratio geodnsd / base: AXFR time $(bd_ratio "$(med geodnsd 1)" "$(med base 1)"), probe p99 $(bd_ratio "$(med geodnsd 4)" "$(med base 4)"), probe max $(bd_ratio "$(med geodnsd 5)" "$(med base 5)"), server CPU $(bd_ratio "$(med geodnsd 6)" "$(med base 6)")"
} | tee "$RESULTS/summary.txt"
echo "results: $RESULTS" >&2
