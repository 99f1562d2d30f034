#!/usr/bin/env bash
# health_fifo: a FIFO where a state file or the overrides file should be is refused as "not a
# regular file" instead of hanging the reader for good (open would wait for a writer, and a
# blocked healthcheck ignores SIGTERM and keeps its lock; geodnsd's main loop would stop).
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/geo-lib.sh"
geo_init
HC=$BIN/healthcheck
[ -x "$HC" ] || { fail "healthcheck binary at $HC (build it first)"; finish; }
EX=$TMP/ex
geo_example_conf "$EX"
HD=$EX/health
mkdir -p "$HD"
P=$(free_port 127.0.9.1)
cat >"$TMP/pops.yaml" <<EOF2
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.9.1], probe: {type: tcp, port: $P}}
EOF2

# A guard only: before the fix the run never ended; KILL ends it so that the test can fail.
guard() { timeout -s KILL $((30 * DNS_SLOW)) "$@"; }

echo "# healthcheck: the previous state file is a FIFO"
OUT=$TMP/out
mkdir -p "$OUT"
mkfifo "$OUT/ams.json"
guard "$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT" 2>"$TMP/hc.err"
expect_eq "the round ends and is written (exit 0)" "$?" 0
check "the FIFO is reported as not a regular file" \
    grep -q "previous state unreadable, the history starts fresh: $OUT/ams.json: not a regular file" "$TMP/hc.err"
check "the state file is now a regular file" test -f "$OUT/ams.json"

echo "# geodnsd explain: the overrides file is a FIFO"
rm -f "$EX/admin.yaml"
mkfifo "$EX/admin.yaml"
R=$(guard "$GEODNSD" explain -c "$EX/geodnsd.yaml" video.cdn.example.test 192.0.2.1/24 2>&1)
expect_eq "explain ends (exit 0)" "$?" 0
has "the overrides FIFO is reported as not a regular file" "admin.yaml: not a regular file"
has "explain still answers" "^answer: "
finish
