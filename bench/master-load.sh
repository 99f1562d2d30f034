#!/usr/bin/env bash
# master-load.sh: time `geodnsd --check` on an RFC 1035 master file of N names (an A and a TXT
# each) against `nsd-checkzone` on the same file, median of ROUNDS runs each, back to back, and
# print the ratio and the peak RSS of both.
# Usage: bench/master-load.sh [BUILD_DIR] (env N=100000 ROUNDS=3)
set -eu
BUILD=${1:-build}
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
PATH=$PATH:/usr/sbin
W=$(mktemp -d "${TMPDIR:-/tmp}/master-load.XXXXXX")
trap 'rm -rf "$W"' EXIT
python3 - "$N" >"$W/big.test.zone" <<'PY'
import sys
n = int(sys.argv[1])
print("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 60\n NS ns1\nns1 A 192.0.2.1")
for i in range(n):
    print('n%d A 192.0.%d.%d\n TXT "text %d"' % (i, i // 256 % 256, i % 256, i))
PY
printf 'listen: ["127.0.0.1:5353"]\nzones: [big.test.zone]\n' >"$W/geodnsd.yaml"
run() { # run LABEL CMD...: prints "seconds KB" of one run
    /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>&1
    cat "$W/t"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$W/g"
: >"$W/n"
for ((r = 0; r < ROUNDS; r++)); do
    run "$BUILD/bin/geodnsd" --check -c "$W/geodnsd.yaml" >>"$W/g"
    run nsd-checkzone big.test "$W/big.test.zone" >>"$W/n"
done
gs=$(cut -d' ' -f1 "$W/g" | median)
ns=$(cut -d' ' -f1 "$W/n" | median)
gk=$(cut -d' ' -f2 "$W/g" | median)
nk=$(cut -d' ' -f2 "$W/n" | median)
echo "names=$N geodnsd --check ${gs}s ${gk}KB, nsd-checkzone ${ns}s ${nk}KB," \
    "time ratio x$(awk -v a="$gs" -v b="$ns" 'BEGIN {printf "%.2f", a / b}')"
