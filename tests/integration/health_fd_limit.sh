#!/usr/bin/env bash
# health_fd_limit: healthcheck with more concurrent probes than its open-file limit allows. The
# probes that find no descriptor wait for one instead of failing: the prober's own limit must
# never be written as a PoP's address going down.
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

hc_init health-fd

# 60 PoPs on 127.0.9.1-60 with a TCP probe on a port nothing listens on: every probe is refused,
# which is what each address's state must say.
P=$(free_port 127.0.9.1)
{
    echo "pops:"
    for i in $(seq 60); do
        echo "  p$i: {location: [1.35, 103.82], addresses: [127.0.9.$i], probe: {type: tcp, port: $P, timeout: 5s}}"
    done
} >"$TMP/pops.yaml"

# 24 descriptors: stdio, the loop's own and the lock leave about a dozen for 60 probes.
(
    ulimit -n 24
    exec "$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT" --concurrency 60
) 2>"$TMP/hc.err"
RC=$?
expect_eq "the round is written (exit 0)" "$RC" 0
R=$(python3 -c '
import collections, json, sys
d = json.load(open(sys.argv[1]))
c = collections.Counter(a["reason"] for p in d["pops"].values() for a in p["addresses"].values())
print(" | ".join("%s x%d" % kv for kv in sorted(c.items())))' "$OUT/ams.json" 2>&1)
expect_eq "every address: refused by the PoP, none failed for the prober's lack of descriptors" \
    "$R" "connect: connection refused x60"
check "the wait for descriptors is logged once, with what to do" \
    test "$(grep -c "no file descriptor for a probe.*ulimit -n" "$TMP/hc.err")" -eq 1
finish
