#!/usr/bin/env python3
"""dns_diff.py: ask two DNS servers the same questions with dig and compare the answers.

Usage: dns_diff.py [--ref NAME] QUERIES A_PORT B_PORT [KNOWN]
QUERIES holds one "name type" per line (# comments). A is the server under test (geodnsd), B the
reference (NAME in the output: nsd unless given, e.g. knot). Every query goes over UDP with EDNS
(1232 bytes), over UDP without EDNS (512 bytes) and over TCP; a truncated UDP reply is compared as
it came. Compared: rcode, the AA and TC flags and the answer section exactly (order-insensitive, owner names case-insensitive);
the authority and additional sections of A must equal B's or be a subset of them (RFC 1034 4.3.2:
additional data is optional; minimal responses). KNOWN lists differences explained in the test:
"name type transport what | reason" where what is rcode, flags, answer, authority or additional;
such a difference is reported but does not fail. Prints one line per difference and a summary (an
unexplained one also with both replies whole, dig's SERVER line included, and whether three more
askings agree); exits 1 when an unexplained difference remains.
"""
import subprocess
import sys

REF = "nsd"  # the reference's name in the output (--ref)


TRANSPORTS = {
    # dig sends ANY over TCP unless told, and retries a truncated UDP reply over TCP.
    "udp": ["+notcp", "+ignore", "+bufsize=1232"],
    "udp512": ["+notcp", "+ignore", "+noedns"],
    "tcp": ["+tcp", "+bufsize=1232"],
}


def dig(port, name, qtype, transport):
    args = ["dig", "@127.0.0.1", "-p", str(port), "+norecurse", "+time=2", "+tries=2",
            "+nocookie", "+noall", "+comments", "+answer", "+authority", "+additional", "+stats",
            name, qtype]
    args[1:1] = TRANSPORTS[transport]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    res = {"rcode": None, "flags": None, "answer": [], "authority": [], "additional": [],
           "raw": out}
    sec = None
    for line in out.splitlines():
        if line.startswith(";; ->>HEADER<<-"):
            res["rcode"] = line.split("status:")[1].split(",")[0].strip()
        elif line.startswith(";; flags:"):
            fl = line.split(";")[2].split(":")[1].split()
            res["flags"] = " ".join(f for f in sorted(fl) if f in ("aa", "tc"))
        elif line.startswith(";; ANSWER SECTION"):
            sec = "answer"
        elif line.startswith(";; AUTHORITY SECTION"):
            sec = "authority"
        elif line.startswith(";; ADDITIONAL SECTION"):
            sec = "additional"
        elif line.startswith(";") or not line.strip():
            if not line.strip():
                sec = None
        elif sec:
            f = line.split(None, 4)
            f[0] = f[0].lower()
            res[sec].append(" ".join(f))
    return res


def show_raw(a_port, b_port, name, qtype, transport, a, b):
    """An unexplained difference: print both replies whole, then ask both servers three times
    more, so that a difference seen once (a stray reply, a server's restart) can be told from one
    that stays."""
    for who, res in (("geodnsd", a), (REF, b)):
        print("  %s replied:\n    %s" % (who, res["raw"].strip().replace("\n", "\n    ")))
    again = []
    for _ in range(3):
        a2, b2 = dig(a_port, name, qtype, transport), dig(b_port, name, qtype, transport)
        again.append("same" if all(a2[k] == b2[k] for k in ("rcode", "flags", "answer"))
                     else "geodnsd %s, %s %s" % (a2["rcode"], REF, b2["rcode"]))
    print("  asked 3 times more: %s" % "; ".join(again))


def main():
    global REF
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "--ref":
        REF, argv = argv[1], argv[2:]
    if len(argv) not in (3, 4):
        sys.exit("usage: dns_diff.py [--ref NAME] QUERIES A_PORT B_PORT [KNOWN]")
    pad = " " * max(0, len("geodnsd") - len(REF))
    queries = []
    with open(argv[0]) as fh:
        for line in fh:
            line = line.split("#")[0].strip()
            if line:
                queries.append(line.split())
    a_port, b_port = argv[1], argv[2]
    known = {}
    if len(argv) > 3:
        with open(argv[3]) as fh:
            for line in fh:
                if line.strip() and not line.startswith("#"):
                    key, reason = line.split("|", 1)
                    known[tuple(key.split())] = reason.strip()
    total = same = subset = explained = bad = 0
    used = set()
    for name, qtype in queries:
        for tr in TRANSPORTS:
            a, b = dig(a_port, name, qtype, tr), dig(b_port, name, qtype, tr)
            total += 1
            diffs = []
            if a["rcode"] is None or b["rcode"] is None:
                diffs.append(("rcode", "no reply: geodnsd %s, %s %s" % (a["rcode"], REF, b["rcode"])))
            for what in ("rcode", "flags"):
                if a[what] != b[what]:
                    diffs.append((what, "geodnsd %s, %s %s" % (a[what], REF, b[what])))
            if sorted(a["answer"]) != sorted(b["answer"]):
                diffs.append(("answer", "geodnsd %s\n%s %s%s" % (sorted(a["answer"]), REF, pad,
                                                              sorted(b["answer"]))))
            is_subset = False
            for what in ("authority", "additional"):
                sa, sb = sorted(a[what]), sorted(b[what])
                if sa == sb:
                    continue
                if set(sa) <= set(sb) and len(sa) == len(set(sa)):
                    is_subset = True
                    print("subset  %s %s %s %s: geodnsd leaves out %d of %d records" %
                          (name, qtype, tr, what, len(set(sb) - set(sa)), len(sb)))
                else:
                    diffs.append((what, "geodnsd %s\n%s %s%s" % (sa, REF, pad, sb)))
            if not diffs:
                if is_subset:
                    subset += 1
                else:
                    same += 1
                continue
            unexplained = False
            for what, text in diffs:
                key = (name, qtype, tr, what)
                if key in known:
                    used.add(key)
                    print("known   %s %s %s %s: %s" % (name, qtype, tr, what, known[key]))
                else:
                    unexplained = True
                    print("DIFFER  %s %s %s %s:\n  %s" %
                          (name, qtype, tr, what, text.replace("\n", "\n  ")))
            if unexplained:
                bad += 1
                show_raw(a_port, b_port, name, qtype, tr, a, b)
            else:
                explained += 1
    for key in sorted(set(known) - used):
        print("stale   %s: listed as a difference but the answers agree" % " ".join(key))
    print("summary: %d queries, %d identical, %d with authority/additional a subset of %s's, "
          "%d explained differences, %d unexplained" % (total, same, subset, REF, explained, bad))
    return 1 if bad or set(known) - used else 0


if __name__ == "__main__":
    sys.exit(main())
