#!/usr/bin/env bash
# health_prev_nomem: healthcheck whose previous state file cannot be read for lack of memory. That
# says nothing about the file, which holds the anti-flap history: the run ends with status 2
# before probing and leaves the file as it was, instead of starting the history fresh and
# writing it over. The same file read with memory to spare carries its history on.
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

hc_init health-prev-nomem

# One PoP with a TCP probe on a port nothing listens on: every round is one more failure.
P=$(free_port 127.0.9.1)
cat >"$TMP/pops.yaml" <<EOF
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.9.1], probe: {type: tcp, port: $P, timeout: 5s}}
EOF
S=$OUT/ams.json
probes() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["pops"]["fra"]["addresses"]["127.0.9.1"]["probes"])' "$S" 2>&1
}

# hc_run [ulimit -v KiB]: one --once round; stderr in $TMP/hc.err, exit status in $RC.
hc_run() {
    (
        [ -n "${1:-}" ] && ulimit -v "$1"
        exec "$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT"
    ) 2>"$TMP/hc.err"
    RC=$?
}

# A history of three rounds, then the same file padded to 12 MiB with trailing blank lines (still
# a valid state file, under the 16 MiB limit): reading it takes a 16 MiB buffer, a round of one
# probe far less.
for _ in 1 2 3; do hc_run; done
expect_eq "three rounds of history" "$(probes)" 3
cp "$S" "$TMP/small.json"
cp "$S" "$TMP/big.json"
head -c $((12 << 20)) /dev/zero | tr '\0' '\n' >>"$TMP/big.json"

cp "$TMP/big.json" "$S"
hc_run
expect_eq "the padded file read with memory to spare: exit 0" "$RC" 0
expect_eq "... and its history carried on" "$(probes)" 4

# Memory for a round but not for reading the padded file. Under AddressSanitizer (whose shadow
# memory no ulimit -v allows), an allocation above 4 MiB fails; otherwise the address-space limit
# is the lowest, in MiB steps, at which a round with the small file carries its history, plus
# 4 MiB.
LIMIT=
if nm -an "$HC" 2>/dev/null | grep -q __asan_init; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=4"
    how="AddressSanitizer failing allocations above 4 MiB"
else
    for ((mib = 1; mib <= 1024; mib++)); do
        cp "$TMP/small.json" "$S"
        hc_run $((mib << 10))
        if [ "$RC" = 0 ] && [ "$(probes)" = 4 ]; then
            LIMIT=$(((mib + 4) << 10))
            break
        fi
    done
    check "a limit was found at which a round runs (${mib} MiB)" test -n "$LIMIT"
    [ -n "$LIMIT" ] || finish
    how="ulimit -v $LIMIT"
fi

cp "$TMP/big.json" "$S"
hc_run $LIMIT
expect_eq "previous state unreadable for lack of memory ($how): exit 2" "$RC" 2
check "it says why, and that the round is not made" \
    grep -q "error: cannot read the previous state, $S: out of memory; this round is not made, so that the history in the file is not lost" \
    "$TMP/hc.err"
check "the history is not said to start fresh" test "$(grep -c "starts fresh" "$TMP/hc.err")" -eq 0
check "nothing is probed" test "$(grep -c "127\.0\.9\.1\|round:" "$TMP/hc.err")" -eq 0
check "the state file is left as it was" cmp -s "$S" "$TMP/big.json"

# A missing file still starts the history fresh.
rm "$S"
hc_run
expect_eq "no previous state file: exit 0" "$RC" 0
expect_eq "no previous state file: the history starts fresh" "$(probes)" 1
finish
