#!/bin/bash
# reload_under_load: zone and PoP-file edits while queries flow lose none. dnsperf sends a
# moderate, steady rate at geodnsd (the example config) while the zone file and the PoP file are
# replaced (write + mv) several times; a second client checks every answer it gets against the
# versions on disk: the zone's version TXT is one of the versions written, and Paris's answer is
# fra's address in one of the PoP-file versions. No query goes unanswered.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
command -v dnsperf >/dev/null || { fail "dnsperf installed (scripts/deps.sh installs it)"; finish; }
EX=$TMP/ex
geo_example_conf "$EX"
V=video.cdn.example.test
# Two versions of each file: the zone differs in a version TXT, the PoP file in fra's address.
for v in a b; do
    cp "$EX/cdn.example.test.yaml" "$TMP/zone.$v"
    printf '  ver: {TXT: "%s"}\n' "$v" >>"$TMP/zone.$v"
done
cp "$EX/pops.yaml" "$TMP/pops.a"
sed 's/127\.0\.1\.1/127.0.1.5/g' "$EX/pops.yaml" >"$TMP/pops.b"
cp "$TMP/zone.a" "$EX/cdn.example.test.yaml"
dns_start "$EX/geodnsd.yaml" || finish

# dnsperf: 2000 queries/s for 25 s (longer than the 12 reloads take), Paris's ECS on every query.
printf '%s A\n' "$V" >"$TMP/queries"
printf 'ver.cdn.example.test TXT\n' >>"$TMP/queries"
dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/queries" -Q 2000 -l 25 -c 2 -t 2 \
    -E 8:00011800c00002 >"$TMP/dnsperf.log" 2>&1 &
PERF=$!
DNS_BG_PIDS+=("$PERF")
# The checker: queries one at a time until $TMP/stop exists (bounded: 90 s), each
# answered within 2 s (one retry counts as lost), every answer from one of the versions.
python3 - "$PORT" "$TMP/stop" >"$TMP/checker.log" 2>&1 <<'PYEOF' &
import os, socket, struct, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
def query(qid, name, qtype, ecs):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    opt = struct.pack(">HHBBB", 8, 7, 0, 1, 24) + b"\0" + bytes([192, 0, 2]) if ecs else b""
    return q + b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(opt)) + opt
def answers(r):
    n_an = struct.unpack(">H", r[6:8])[0]
    i = 12
    while r[i]: i += r[i] + 1
    i += 5
    out = []
    for _ in range(n_an):
        while True:
            if r[i] >= 0xC0: i += 2; break
            if r[i] == 0: i += 1; break
            i += r[i] + 1
        t, _, _, ln = struct.unpack(">HHIH", r[i:i + 10])
        d = r[i + 10:i + 10 + ln]
        i += 10 + ln
        out.append(".".join(map(str, d)) if t == 1 else d[1:].decode() if t == 16 else "?")
    return struct.unpack(">H", r[2:4])[0] & 15, out
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
sent = lost = bad = 0
seen = set()
deadline = time.monotonic() + 90
n = -1
while time.monotonic() < deadline and not os.path.exists(stop):
    n += 1
    kind = n % 2
    qid = n & 0xFFFF
    s.sendto(query(qid, "video.cdn.example.test" if kind == 0 else "ver.cdn.example.test",
                   1 if kind == 0 else 16, kind == 0), ("127.0.0.1", port))
    sent += 1
    try:
        while True:
            r, _ = s.recvfrom(4096)
            if struct.unpack(">H", r[:2])[0] == qid:
                break
    except socket.timeout:
        lost += 1
        continue
    rc, an = answers(r)
    ok = rc == 0 and len(an) == 1 and an[0] in (("127.0.1.1", "127.0.1.5") if kind == 0 else ("a", "b"))
    if not ok:
        bad += 1
        if bad <= 5: print("bad answer:", rc, an, flush=True)
    else:
        seen.add(an[0])
print("sent=%d lost=%d bad=%d seen=%s" % (sent, lost, bad, ",".join(sorted(seen))), flush=True)
PYEOF
CHECKER=$!
DNS_BG_PIDS+=("$CHECKER")
sleep 1
reloads=0
for round in 1 2 3; do
    for f in b a; do
        from=$(($(log_lines) + 1))
        replace "$EX/cdn.example.test.yaml" "$TMP/zone.$f"
        wait_reload 'reload (ok|failed)' "$from" && grep -q "reload ok" <(tail -n +"$from" "$LOG") &&
            reloads=$((reloads + 1))
        from=$(($(log_lines) + 1))
        replace "$EX/pops.yaml" "$TMP/pops.$f"
        wait_reload 'reload (ok|failed)' "$from" && grep -q "reload ok" <(tail -n +"$from" "$LOG") &&
            reloads=$((reloads + 1))
    done
done
expect_eq "12 replacements (zone and PoP file, write + mv), each reloaded" "$reloads" 12
touch "$TMP/stop"
wait "$CHECKER"
wait "$PERF"
res=$(tail -n 1 "$TMP/checker.log")
echo "  checker: $res"
sed -n 's/^ *\(Queries sent\|Queries completed\|Queries lost\|Queries per second\):/  dnsperf \1:/p' "$TMP/dnsperf.log"
check "checker: every query answered (lost=0)" grep -q " lost=0 " <<<"$res"
check "checker: every answer from one of the versions (bad=0)" grep -q " bad=0 " <<<"$res"
check "checker: both versions of each file seen" grep -q "seen=127.0.1.1,127.0.1.5,a,b" <<<"$res"
lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$TMP/dnsperf.log")
sent=$(sed -n 's/^ *Queries sent: *\([0-9]*\).*/\1/p' "$TMP/dnsperf.log")
expect_eq "dnsperf: no query lost (of ${sent:-?})" "${lost:-none}" 0
check "dnsperf sent a steady load (> 10000 queries)" test "${sent:-0}" -gt 10000
alive "geodnsd alive"
finish
