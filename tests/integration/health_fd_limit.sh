#!/usr/bin/env bash
# health_fd_limit: healthcheck with more concurrent probes than its open-file limit allows. The
# probes that find no descriptor wait for one instead of failing: the prober's own limit must
# never be written as a PoP's address going down. With a limit so low that no probe could start
# at all, the previous state file cannot be read either (it is read first, with the descriptor a
# probe would take): the run ends at once with status 2 and leaves the file as it was, instead of
# starting the history fresh or waiting out the round deadline.
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

# No descriptor for even one probe. How many descriptors the program holds before its first probe
# (stdio, the event loop's, the lock) depends on libuv: raise the limit from 4 until a run gets
# past the lock (a lower limit stops it there). At that limit the one descriptor a first probe
# would need is not there for the previous state file either, which is read before any probe: the
# run ends there, and must not start the history fresh. The deadline is an hour, so a run that
# waits it out is stopped by timeout (status 124).
# On the way up, the limits too low for the event loop itself: the run says so and exits 2, it
# does not crash (before, healthcheck went on with the loop libuv could not make and died of a
# segfault; at the lowest limits libuv aborted inside its own set-up).
cp "$OUT/ams.json" "$TMP/before.json"
STARVED=
NOLOOP=
NOLOOP_BAD=
CRASHED=
for n in $(seq 4 40); do
    (
        ulimit -n "$n"
        exec timeout 120 "$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT" \
            --concurrency 60 --deadline 3600
    ) 2>"$TMP/hc-starved.err"
    RC=$?
    if { [ "$RC" -gt 128 ] && [ "$RC" != 124 ] &&
        ! grep -q "LeakSanitizer has encountered a fatal error" "$TMP/hc-starved.err"; } ||
        grep -q "SEGV" "$TMP/hc-starved.err"; then
        CRASHED+=" $n:$RC"
    elif grep -q "cannot start the event loop: too many open files (raise the open-file limit" \
        "$TMP/hc-starved.err"; then
        NOLOOP+=" $n"
        # Under ASan, LeakSanitizer at exit needs a descriptor of its own (/proc/PID/task) and
        # aborts without one: that status is the sanitizer's, not healthcheck's.
        [ "$RC" = 2 ] || grep -q "LeakSanitizer has encountered a fatal error" "$TMP/hc-starved.err" ||
            NOLOOP_BAD+=" $n:$RC"
    fi
    if grep -q "127\.0\.9\.\|probe\|round\|previous state" "$TMP/hc-starved.err"; then
        STARVED=$n
        break
    fi
done
expect_eq "no limit makes healthcheck die of a signal (ulimit -n 4 up to $STARVED)" "$CRASHED" ""
check "a limit too low for the event loop is reported as such (ulimit -n$NOLOOP)" test -n "$NOLOOP"
expect_eq "... with status 2 (ulimit -n:status otherwise)" "$NOLOOP_BAD" ""
check "a limit was found at which the run gets past the lock" test -n "$STARVED"
expect_eq "no descriptor for the previous state (ulimit -n $STARVED): the run ends at once with status 2" \
    "$RC" 2
check "it says why, with what to do" \
    grep -q "cannot read the previous state, $OUT/ams.json: Too many open files; this round is not made.*ulimit -n" "$TMP/hc-starved.err"
check "the history is not said to start fresh" test "$(grep -c "starts fresh" "$TMP/hc-starved.err")" -eq 0
check "nothing is probed" test "$(grep -c "127\.0\.9\.\|round: " "$TMP/hc-starved.err")" -eq 0
check "the previous state file is left as it was" cmp -s "$OUT/ams.json" "$TMP/before.json"
finish
