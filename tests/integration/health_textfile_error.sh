#!/usr/bin/env bash
# health_textfile_error: a --textfile that cannot be written fails the run (exit 2), but the
# state file, written first, is there for geodnsd, and the round's summary says so.
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

hc_init health-textfile
P=$(free_port 127.0.9.1)
cat >"$TMP/pops.yaml" <<EOF2
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.9.1], probe: {type: tcp, port: $P}}
EOF2

"$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT" --textfile "$TMP/none/h.prom" \
    2>"$TMP/hc.err"
RC=$?
expect_eq "a textfile that cannot be written: exit 2" "$RC" 2
check "the textfile error is logged" grep -q "cannot write the textfile: $TMP/none/h.prom" "$TMP/hc.err"
check "the state file is written" python3 -c "import json, sys; sys.exit(json.load(open('$OUT/ams.json'))['pops']['fra']['state'] != 'down')"
check "the summary says the state file was written" \
    grep -q "round: .*; wrote $OUT/ams.json (not the textfile)$" "$TMP/hc.err"
check "the summary does not say the state file was not written" \
    test "$(grep -c "not written: $OUT/ams.json" "$TMP/hc.err")" -eq 0

# A state file that cannot be written (its name is taken by a directory) is still reported so.
OUT2=$TMP/out2
mkdir -p "$OUT2/ams.json"
"$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT2" 2>"$TMP/hc.err"
expect_eq "a state file that cannot be written: exit 2" "$?" 2
check "the summary says not written" grep -q "; not written: $OUT2/ams.json$" "$TMP/hc.err"
finish
