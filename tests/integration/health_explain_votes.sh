#!/usr/bin/env bash
# health_explain_votes: a vantage votes for a PoP only through the PoP's addresses. A state file
# whose entry for a PoP names none of the PoP's addresses (written against an older PoP file, say)
# has no say about it: not in the combined state, not in the counts of explain's summary, not in
# its per-vantage column.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
geo_example_health "{dir: health, quorum: 1, max_age: 600s}"
V=video.cdn.example.test

# ams probes fra's address 127.0.1.1 and finds it up. sin's file has fra down, but the one address
# it names, 127.0.1.77, is not fra's (fra renumbered since sin's PoP file).
python3 - "$HD" <<'PY'
import json, os, sys, time
now = int(time.time())
def addr(st):
    return {"state": st, "reason": "http 200" if st == "up" else "timeout", "rtt_ms": 0.5,
            "history": "11" if st == "up" else "00", "ok_streak": 2 if st == "up" else 0,
            "probes": 2, "failures": 0 if st == "up" else 2, "since": now}
def pop(st, addrs):
    return {"state": st, "load": 100, "load_reason": "", "addresses": addrs}
others = {p: pop("up", {"127.0.%d.1" % i: addr("up")})
          for p, i in (("nyc", 2), ("sin", 3), ("gru", 4))}
for vantage, fra in (("ams", pop("up", {"127.0.1.1": addr("up")})),
                     ("sin", pop("down", {"127.0.1.77": addr("down")}))):
    doc = {"format": "geodns-health", "version": 1, "vantage": vantage, "time": now,
           "round_ms": 10, "pops": dict(others, fra=fra)}
    with open(os.path.join(sys.argv[1], vantage + ".json"), "w") as f:
        json.dump(doc, f)
PY

explain "$CONF" $V 192.0.2.1/24
expect_eq "explain runs" "$RC" 0
has "fra is up: the only vote on its address says up" "^  fra +up "
has "fra's summary counts ams only: sin's file names none of fra's addresses" \
    "^ +up: 1 of 1 fresh vantages say up$"
hasnt "no count of a vote sin did not cast" "fresh vantages say down"
has "fra's columns: ams up, sin without a state for fra" "^  fra +up +ams:up sin:unknown "
has "nyc's summary counts both vantages, whose files name its address" \
    "^  nyc +up +ams:up sin:up "
count "every other PoP: both votes counted" "^ +up: 2 of 2 fresh vantages say up$" 3
finish
