#!/usr/bin/env python3
"""bench/data/geo/geo-tool.py: query set and answer cross-check for bench/dns-geo.sh.
Stdlib only.

  geo-tool.py queries NETS OUTDIR [COUNT]
      Writes OUTDIR/queries.bin (dnsperf -B input: per query a 2-byte length + DNS wire
      message, RD=0, EDNS0 udp 1232, ECS option where listed) and OUTDIR/queries.lst
      (name type ecs, one per line).  NETS is the .nets TSV written by make-geodb.pl.
      Deterministic (own LCG).  Mix per 100 queries:
        70 video.cdn.example.test A (the geo name):
             50 ECS a.b.c.0/24 of a database network (any of the 480 IPv4 /24s)
             10 ECS 2001:db8:X:YY00::/56 inside a city's IPv6 /48
              5 ECS a.b.c.0/24 not in the database (each server's fallback: first PoP, fra)
              5 no ECS (source 127.0.0.1, which the database places in Amsterdam)
        30 static: 6 www A, 3 www AAAA, 4 static A (CNAME to www), 3 apex MX, 3 txt TXT,
             2 apex SOA, 2 apex NS, 7 NXDOMAIN (nx-<n>.cdn.example.test A, all different);
             every second one carries an ECS drawn like the geo queries'.
      dnsperf -B rewrites the 2-byte message ID of each query it sends.

  geo-tool.py check NETS N LABEL_A PORT_A LABEL_B PORT_B
      Cross-check on 127.0.0.1: for N database subnets (every IPv6 /48 as a /56 and a
      deterministic sample of the IPv4 /24s, plus 2 not in the database and one without
      ECS), asks both servers for video.cdn.example.test A and compares the PoP answered;
      prints the agreement count, and each disagreement with the subnet, the city, both
      answers and the great-circle distances to the PoPs (haversine, so near-ties show).
      Then compares the static names (rcode and answer RRsets) of the query mix."""
import math, os, socket, struct, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "tests", "lib"))
import dnswire  # noqa: E402 (the repository's tests/lib: wire format and the UDP client)
from dnswire import T, wire  # noqa: E402

ZONE = "cdn.example.test"
# PoPs of the scenario (bench/data/geo/pops.yaml and gdnsd.conf.in must agree)
POPS = {"fra": ((50.11, 8.68), "127.0.1.1"), "nyc": ((40.71, -74.01), "127.0.2.1"),
        "sin": ((1.35, 103.82), "127.0.3.1"), "gru": ((-23.55, -46.63), "127.0.4.1")}
ADDR2POP = {a: p for p, (_, a) in POPS.items()}


class Lcg:
    def __init__(self, seed): self.s = seed
    def __call__(self, n):
        self.s = (self.s * 1103515245 + 12345) % 2147483648
        return int(self.s / 2147483648 * n)


def read_nets(path):
    nets = []
    for line in open(path):
        if line.startswith("#") or not line.strip(): continue
        net, city, cc, cont, lat, lon = line.rstrip("\n").split("\t")
        if net.startswith("127.") or net == "::1/128": continue
        nets.append((net, city, float(lat), float(lon)))
    return nets


def ecs_v4(a, b, c, p=24): return (1, p, bytes([a, b, c, 0]))
def ecs_of_net(net, rnd):
    """ECS (family, prefix, address bytes) for a client inside a database network."""
    addr, plen = net.split("/")
    if ":" in addr:  # city /48 -> a /56 inside it
        raw = bytearray(socket.inet_pton(socket.AF_INET6, addr)); raw[6] = rnd(256)
        return (2, 56, bytes(raw))
    return (1, 24, socket.inet_aton(addr))


def ecs_text(e):
    if not e: return "-"
    fam, p, raw = e
    if fam == 1: return "%s/%d" % (socket.inet_ntoa(raw[:4]), p)
    return "%s/%d" % (socket.inet_ntop(socket.AF_INET6, raw.ljust(16, b"\0")), p)


def unknown_v4(rnd, used):
    while True:
        a, b, c = 1 + rnd(223), rnd(256), rnd(256)
        if a != 127 and "%d.%d.%d.0/24" % (a, b, c) not in used: return ecs_v4(a, b, c)


def cmd_queries(nets_path, outdir, count=10000):
    nets = read_nets(nets_path)
    v4 = [n for n in nets if ":" not in n[0]]; v6 = [n for n in nets if ":" in n[0]]
    used = {n[0] for n in nets}
    rnd = Lcg(20240101)
    count = (count + 99) // 100 * 100
    draw = {"db4": lambda: ecs_of_net(v4[rnd(len(v4))][0], rnd),
            "db6": lambda: ecs_of_net(v6[rnd(len(v6))][0], rnd),
            "unk": lambda: unknown_v4(rnd, used)}
    block = [("video", "A", "db4")] * 50 + [("video", "A", "db6")] * 10 + \
            [("video", "A", "unk")] * 5 + [("video", "A", None)] * 5
    static = [("www", "A")] * 6 + [("www", "AAAA")] * 3 + [("static", "A")] * 4 + [("@", "MX")] * 3 + \
             [("txt", "TXT")] * 3 + [("@", "SOA")] * 2 + [("@", "NS")] * 2 + [("NX", "A")] * 7
    block += [(n, t, "pool" if i % 2 else None) for i, (n, t) in enumerate(static)]
    assert len(block) == 100
    q, nx = [], 0
    for _ in range(count // 100):
        for name, qtype, kind in block:
            if name == "NX": name = "nx-%d" % nx; nx += 1
            fq = ZONE if name == "@" else name + "." + ZONE
            if kind == "pool": kind = ("db4", "db4", "db4", "db6", "unk")[rnd(5)]
            q.append((fq, qtype, draw[kind]() if kind else None))
    for j in range(len(q) - 1, 0, -1):  # Fisher-Yates with the LCG
        k = rnd(j + 1); q[j], q[k] = q[k], q[j]
    with open(os.path.join(outdir, "queries.bin"), "wb") as b, open(os.path.join(outdir, "queries.lst"), "w") as l:
        for name, qtype, e in q:
            m = wire(name, qtype, e); b.write(struct.pack("!H", len(m)) + m)
            l.write("%s %s %s\n" % (name, qtype, ecs_text(e)))
    geo = sum(1 for x in q if x[0].startswith("video."))
    print("%d queries (%d geo, %d with ECS, %d distinct ECS subnets) in %s/queries.bin" %
          (len(q), geo, sum(1 for x in q if x[2]), len({ecs_text(x[2]) for x in q if x[2]}), outdir))


# ---- answers -------------------------------------------------------------------------
def ask(sock, port, name, qtype, e, qid):
    """dnswire.ask with the answer section sorted (the servers' orders may differ)."""
    r = dnswire.ask(sock, port, name, qtype, e, qid)
    return r and (r[0], sorted(r[1]), r[2])


def hav(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def pop_of(res):
    if res is None: return "timeout"
    rc, ans, _ = res
    a = [x.split()[-1] for x in ans if " A " in x]
    return ADDR2POP.get(a[0], a[0]) if a else rc


def cmd_check(nets_path, n, la, pa, lb, pb):
    nets = read_nets(nets_path)
    v4 = [x for x in nets if ":" not in x[0]]; v6 = [x for x in nets if ":" in x[0]]
    rnd = Lcg(4242)
    v4s = sorted(range(len(v4)), key=lambda i: rnd(1 << 30))[:max(0, n - len(v6) - 3)]
    sample = [(ecs_of_net(v4[i][0], rnd), v4[i]) for i in sorted(v4s)]
    sample += [(ecs_of_net(x[0], rnd), x) for x in v6]
    used = {x[0] for x in nets}
    sample += [(unknown_v4(rnd, used), ("-", "(not in db)", None, None)) for _ in range(2)]
    sample += [(None, ("-", "(no ECS: 127.0.0.1 = Amsterdam)", 52.37, 4.90))]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2.0)
    agree, diffs, scopes, qid = 0, [], {la: {}, lb: {}}, 1
    for e, (net, city, lat, lon) in sample:
        ra = ask(s, pa, "video." + ZONE, "A", e, qid); qid += 1
        rb = ask(s, pb, "video." + ZONE, "A", e, qid); qid += 1
        for lab, r in ((la, ra), (lb, rb)):
            if r and e: scopes[lab][r[2]] = scopes[lab].get(r[2], 0) + 1
        a, b = pop_of(ra), pop_of(rb)
        if a == b: agree += 1; continue
        if lat is None: dist = "no location"
        else:
            d = sorted((hav((lat, lon), c), p) for p, (c, _) in POPS.items())
            dist = ", ".join("%s %.0f km" % (p, km) for km, p in d) + \
                   "  (2nd/1st = %.3f)" % (d[1][0] / d[0][0] if d[0][0] else float("inf"))
        diffs.append("  %-24s %-14s %s=%-4s %s=%-4s  %s" % (ecs_text(e), city, la, a, lb, b, dist))
    print("cross-check video.%s A over %d client subnets: %d/%d name the same PoP, %d differ" %
          (ZONE, len(sample), agree, len(sample), len(diffs)))
    for d in diffs: print(d)
    for lab in (la, lb):
        print("  ECS scope returned by %s: %s" % (lab, ", ".join(
            "/%s x%d" % (k, v) for k, v in sorted(scopes[lab].items(), key=lambda kv: -kv[1]))))
    # static names of the mix
    kinds = [("www", "A"), ("www", "AAAA"), ("static", "A"), ("@", "MX"), ("txt", "TXT"), ("@", "SOA"),
             ("@", "NS"), ("nx-1", "A")]
    same = 0
    out = []
    for name, qtype in kinds:
        fq = ZONE if name == "@" else name + "." + ZONE
        ra = ask(s, pa, fq, qtype, ecs_v4(192, 0, 2), qid); qid += 1
        rb = ask(s, pb, fq, qtype, ecs_v4(192, 0, 2), qid); qid += 1
        if ra and rb and ra[:2] == rb[:2]: same += 1; continue
        why = ""
        if ra and rb and ra[0] == rb[0] and (set(ra[1]) < set(rb[1]) or set(rb[1]) < set(ra[1])):
            # static.ZONE is a CNAME to www.ZONE: geodnsd goes on to the target's records in its
            # own zone (RFC 1034 4.3.2 step 3a), gdnsd answers the CNAME alone.
            why = "\n    (one answer holds the other and more: a CNAME followed inside the zone by " \
                  "one server and not the other; allowed, not a disagreement)"
        out.append("  %s %s:\n    %s: %s\n    %s: %s%s" % (fq, qtype, la, ra and ra[:2], lb, rb and rb[:2], why))
    print("static names: %d/%d query kinds with the same rcode and answer section" % (same, len(kinds)))
    for o in out: print(o)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["queries"] and len(a) in (3, 4):
        cmd_queries(a[1], a[2], int(a[3]) if len(a) > 3 else 10000)
    elif a[:1] == ["check"] and len(a) == 7:
        cmd_check(a[1], int(a[2]), a[3], int(a[4]), a[5], int(a[6]))
    else:
        sys.exit(__doc__)
