#!/usr/bin/env python3
"""health-state.py: write a health state file the way healthcheck does (temp file + rename),
for tests that drive geodnsd's health input by hand.

  health-state.py FILE VANTAGE [--age S] [--load L] SPEC...

SPEC is POP=STATE[:LOAD[:ADDRSTATE]]: the PoP's state (up, down), its load (empty or absent: no
load, "no status"; --load L gives every PoP without one that load), and ADDRSTATE, the state of
its first address when it differs from the PoP's (the PoP then gets a second address,
127.0.N.9, in the PoP's state). Addresses are the example config's: fra 127.0.1.1, nyc 127.0.2.1,
sin 127.0.3.1, gru 127.0.4.1. --age S dates the file S seconds back."""
import json
import os
import sys
import time

IDX = {"fra": 1, "nyc": 2, "sin": 3, "gru": 4}


def addr_state(st, since):
    up = st == "up"
    return {"state": st, "reason": "http 200" if up else "timeout", "rtt_ms": 0.5,
            "history": "11" if up else "00", "ok_streak": 2 if up else 0, "probes": 2,
            "failures": 0 if up else 2, "since": since}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, vantage, args = argv[1], argv[2], argv[3:]
    age, default_load, specs = 0, None, []
    while args:
        a = args.pop(0)
        if a == "--age":
            age = int(args.pop(0))
        elif a == "--load":
            default_load = float(args.pop(0))
        else:
            specs.append(a)
    now = int(time.time()) - age
    pops = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        parts = rest.split(":")
        st = parts[0]
        load = float(parts[1]) if len(parts) > 1 and parts[1] else default_load
        first = parts[2] if len(parts) > 2 else st
        a = "127.0.%d.1" % IDX[name]
        addrs = {a: addr_state(first, now)}
        if len(parts) > 2:
            addrs["127.0.%d.9" % IDX[name]] = dict(addrs[a], state=st, reason="http 200")
        pops[name] = {"state": st, "load": load,
                      "load_reason": "" if load is not None else "no status", "addresses": addrs}
    doc = {"format": "geodns-health", "version": 1, "vantage": vantage, "time": now,
           "round_ms": 10, "pops": pops}
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)


if __name__ == "__main__":
    main(sys.argv)
