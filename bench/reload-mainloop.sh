#!/bin/bash
# bench/reload-mainloop.sh: what the main loop does while a long reload runs, this build's
# geodnsd against a peer binary (BASE, e.g. a build of the commit before the reload went off the
# main loop), on the same files. A benchmark, not a test: it prints figures and ratios and never
# fails on them.
#
#   BASE=/path/to/old/geodnsd bench/reload-mainloop.sh     # both, with ratios
#   bench/reload-mainloop.sh                               # this build only
#
# What it does, for each binary in turn (the example geo config plus ZONES generated zones of
# NAMES names, an A and a TXT each; a state-file directory; --metrics on loopback):
#   - starts it, waits for "geodnsd ready", then polls /metrics every 20 ms (each request's
#     latency kept, 60 s timeout) and sends SIGHUP;
#   - STATE_AFTER s after the SIGHUP writes a state file with nyc down and queries
#     video.cdn.example.test with ECS 198.51.100.0/24 (Chicago, nearest nyc) every 20 ms until
#     the answer moves off nyc;
#   - waits for "reload ok" and prints: the reload's duration (SIGHUP to "reload ok" seen), the
#     slowest /metrics answer during it, and how long the health change took to reach the
#     answers (state file written to answer moved), and whether that was before "reload ok".
# Knobs (environment): ZONES=12 NAMES=50000 STATE_AFTER=0.5 BUILD=<repo>/build BASE=
#   RESULTS=<dir> (default: a new temp dir, printed). Binds 127.0.0.1 only; stops only the
#   PIDs it started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
. "$HERE/lib-dns.sh"

ZONES="${ZONES:-12}"; NAMES="${NAMES:-50000}"; STATE_AFTER="${STATE_AFTER:-0.5}"
BUILD="${BUILD:-$REPO/build}"; BASE="${BASE:-}"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
NEW="$BUILD/bin/geodnsd"
MMDB="$BUILD/example-city.mmdb"
[ -x "$NEW" ] || bd_die "no geodnsd at $NEW (build first)"
[ -s "$MMDB" ] || bd_die "no example mmdb at $MMDB (the build makes it)"
[ -z "$BASE" ] || [ -x "$BASE" ] || bd_die "BASE=$BASE is not an executable"
RESULTS="${RESULTS:-$(mktemp -d /tmp/reload-mainloop.XXXXXX)}"
mkdir -p "$RESULTS"
bd_say "results in $RESULTS"

EX="$RESULTS/ex"
mkdir -p "$EX/health"
cp "$REPO"/zones/*.yaml "$EX"/
: >"$EX/admin.yaml"
. "$REPO/tests/lib/big-zones.sh"
zl="cdn.example.test.yaml, $(big_zones "$EX" "$ZONES" "$NAMES")" || bd_die "cannot write the big zones"
sed -i -e "s#^geoip: {mmdb: [^,]*,#geoip: {mmdb: $MMDB,#" -e "s/^zones: .*/zones: [$zl]/" \
    -e '/^health:/,/^[^ ]/{/^health:/d;/^ /d}' "$EX/geodnsd.yaml"
cat >>"$EX/geodnsd.yaml" <<EOF
health: {dir: health, overrides: admin.yaml, quorum: 1, max_age: 600s, slow_start: 0s}
EOF

PID=""
trap 'bd_stop "$PID" 2>/dev/null || true' EXIT

# run NAME BINARY: one measurement; prints "NAME reload_s metrics_max_ms health_ms before_ok".
run() {
    local name=$1 bin=$2 port mport log
    port=$(bd_free_port 25300) mport=$(bd_free_port 25400)
    log="$RESULTS/$name.log"
    rm -f "$EX/health/ams.json"
    "$bin" -c "$EX/geodnsd.yaml" --listen "127.0.0.1:$port" --metrics "$mport" 2>"$log" &
    PID=$!
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q 'geodnsd ready' "$log" && break
        bd_alive "$PID" || bd_die "$name exited at start: $(tail -n 3 "$log")"
        sleep 0.1
    done
    python3 - "$name" "$PID" "$port" "$mport" "$log" "$EX/health/ams.json" "$STATE_AFTER" <<'EOF'
import json, os, signal, socket, struct, sys, threading, time, urllib.request
name, pid, port, mport, log, state, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], float(sys.argv[7])

def query():
    """video.cdn.example.test A with ECS 198.51.100.0/24: the answer's first A, or None."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in "video.cdn.example.test".split(".")) + b"\0"
    ecs = struct.pack(">HBB", 1, 24, 0) + bytes([198, 51, 100])
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 4 + len(ecs)) + struct.pack(">HH", 8, len(ecs)) + ecs
    pkt = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 1) + qname + struct.pack(">HH", 1, 1) + opt
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.sendto(pkt, ("127.0.0.1", port))
        r = s.recv(4096)
    except OSError:
        return None
    finally:
        s.close()
    an = struct.unpack(">H", r[6:8])[0]
    i = 12
    while r[i]:
        i += 1 + r[i]
    i += 5
    for _ in range(an):
        if r[i] & 0xC0 == 0xC0:
            i += 2
        else:
            while r[i]:
                i += 1 + r[i]
            i += 1
        t, _, _, l = struct.unpack(">HHIH", r[i:i + 10])
        i += 10
        if t == 1:
            return ".".join(str(b) for b in r[i:i + 4])
        i += l
    return None

def write_state(down):
    now = int(time.time())
    pops = {}
    for n, k in (("fra", 1), ("nyc", 2), ("sin", 3), ("gru", 4)):
        st = "down" if n == down else "up"
        a = {"state": st, "reason": "timeout" if st == "down" else "http 200", "rtt_ms": 0.5,
             "history": "00" if st == "down" else "11", "ok_streak": 0 if st == "down" else 2,
             "probes": 2, "failures": 2 if st == "down" else 0, "since": now}
        pops[n] = {"state": st, "load": None, "load_reason": "no status",
                   "addresses": {"127.0.%d.1" % k: a}}
    doc = {"format": "geodns-health", "version": 1, "vantage": "ams", "time": now,
           "round_ms": 10, "pops": pops}
    with open(state + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(state + ".tmp", state)

def reload_ok():
    with open(log) as f:
        return sum(1 for l in f if "reload ok" in l)

write_state(None)
t_end = time.time() + 10
while query() != "127.0.2.1" and time.time() < t_end:
    time.sleep(0.05)
lat, stop = [], threading.Event()
def poll():
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=60).read()
            lat.append((t0, time.monotonic() - t0))
        except OSError:
            lat.append((t0, float("inf")))
        time.sleep(0.02)
th = threading.Thread(target=poll)
th.start()
time.sleep(0.5)
ok0 = reload_ok()
t_hup = time.monotonic()
os.kill(pid, signal.SIGHUP)
time.sleep(after)
t_state = time.monotonic()
write_state("nyc")
moved = None
while time.monotonic() - t_state < 120:
    a = query()
    if a and a != "127.0.2.1":
        moved = time.monotonic()
        break
    time.sleep(0.02)
before_ok = reload_ok() == ok0
while reload_ok() == ok0 and time.monotonic() - t_hup < 300:
    time.sleep(0.02)
t_ok = time.monotonic()
time.sleep(0.3)
stop.set()
th.join()
during = [l for t, l in lat if t_hup <= t <= t_ok]
mx = max(during) if during else float("nan")
health = (moved - t_state) * 1e3 if moved else float("nan")
print("%s %.2f %.0f %.0f %s" % (name, t_ok - t_hup, mx * 1e3, health, "yes" if before_ok else "no"))
EOF
    bd_stop "$PID"
    PID=""
}

OUT="$RESULTS/results.txt"
: >"$OUT"
[ -z "$BASE" ] || run base "$BASE" | tee -a "$OUT"
run new "$NEW" | tee -a "$OUT"
echo
printf '%-5s %10s %22s %26s %20s\n' binary "reload s" "slowest /metrics ms" "health change -> answer ms" "before reload ok"
while read -r n r m h b; do
    printf '%-5s %10s %22s %26s %20s\n' "$n" "$r" "$m" "$h" "$b"
done <"$OUT"
if [ -n "$BASE" ]; then
    read -r _ _ bm bh _ < <(grep '^base ' "$OUT")
    read -r _ _ nm nh _ < <(grep '^new ' "$OUT")
    echo "ratios base/new: slowest /metrics $(bd_ratio "$bm" "$nm"), health change delay $(bd_ratio "$bh" "$nh")"
fi
