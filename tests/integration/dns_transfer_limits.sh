#!/usr/bin/env bash
# dns_transfer_limits: what a transfer client can make the server hold. A zone of about 10 MB in
# AXFR form, more than the kernel buffers on both sides of a loopback connection:
#   - a secondary that reads slowly but steadily (64 KB every 20 ms, 2-3 s in all) gets the whole
#     zone although tcp.idle_timeout is 300 ms, and its connection is still open for a SOA query
#     after it: idle means nothing acknowledged for that long;
#   - one that stops reading is closed after idle_timeout;
#   - at tcp.max_transfers (2) transfers being sent, a third allowed AXFR gets one SERVFAIL
#     (logged as busy) while an up-to-date IXFR still gets its SOA; once the stalled clients
#     leave, the next AXFR gets the whole zone.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
N=40000
D=$TMP/xfr
mkdir -p "$D"
awk -v n=$N 'BEGIN {
    pad = sprintf("%200s", ""); gsub(/ /, "x", pad)
    print "zone: big.test\nttl: 300"
    print "soa: {primary: ns1, contact: hostmaster@big.test, serial: 5}"
    print "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}"
    for (i = 0; i < n; i++)
        printf "  h%d: {TXT: \"%d %s\"}\n", i, i, pad
}' >"$D/big.test.yaml"
printf 'pops:\n  p1: {location: [50, 8], addresses: [127.1.0.1]}\n' >"$D/pops.yaml"
conf() { # IDLE MAX: a config with those tcp settings
    printf 'listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [big.test.yaml]\npops: pops.yaml\n'
    printf 'tcp: {idle_timeout: %s, max_transfers: %s}\n' "$1" "$2"
    printf 'transfer: {allow: [{net: 127.0.0.1}]}\n'
}

# The client: xfr.py PORT MODE... prints one line per client, in order.
#   full: AXFR, read as fast as it can: "full RCODE RECORDS SOAS" (SOAS: SOA records seen)
#   slow: the same, reading 64 KB every 20 ms with a 64 KB receive buffer, then a SOA query on
#         the same connection: "... then RCODE ANCOUNT" (or "then closed")
#   stall: AXFR with a 64 KB receive buffer, never read; kept open until the end of the run
#   ixfr:SERIAL: IXFR from SERIAL, read in full
#   wait:SECONDS: sleep; close: close every stalled client
#   closed?: "closed" when the oldest stalled client was closed by the server, else "open"
#   gauge: "gauge IN_PROGRESS MAX" from /metrics on port $MPORT
#   ended: "ended SENT CUT_OFF BYTES" (geodnsd_transfers_ended_total, geodnsd_transfer_bytes_total)
#   rss: "rss KB", the server's (GEOPID) resident memory
#   slowreload: a slow AXFR with a reload to serial 6 of $ZONE after its first MB (see below)
cat >"$D/xfr.py" <<'PY'
import os, signal, socket, struct, sys, time, urllib.request
port = int(sys.argv[1])
def query(qtype, serial=None, qid=7):
    m = struct.pack("!6H", qid, 0, 1, 0, 1 if serial is not None else 0, 0)
    m += b"\x03big\x04test\x00" + struct.pack("!HH", qtype, 1)
    if serial is not None:
        m += b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, 0, 22) + b"\x00\x00"
        m += struct.pack("!5I", serial, 0, 0, 0, 0)
    return struct.pack("!H", len(m)) + m
def connect(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s
def read_exact(s, n, slow):
    b = b""
    while len(b) < n:
        d = s.recv(min(n - len(b), 65536))
        if not d:
            raise EOFError
        b += d
        if slow:
            time.sleep(0.02)
    return b
def skip_name(m, p):
    while True:
        l = m[p]
        if l >= 0xC0:
            return p + 2
        p += 1 + l
        if l == 0:
            return p
def answer_serial(m):
    """The serial of the first answer record of m, a SOA."""
    p = skip_name(m, 12) + 4
    p = skip_name(m, p)
    rl = struct.unpack("!H", m[p + 8:p + 10])[0]
    return struct.unpack("!I", m[p + 10 + rl - 20:p + 10 + rl - 16])[0]
serials = []  # of the SOA records the last transfer() saw
def transfer(s, slow=False, midway=None):
    """Read messages until the second SOA (or an error rcode): (rcode, records, soas). midway:
    called once, with nothing read meanwhile, after the first 1 MB."""
    records = soas = got = 0
    del serials[:]
    try:
        while True:
            if midway and got > (1 << 20):
                midway()
                midway = None
            (l,) = struct.unpack("!H", read_exact(s, 2, False))
            m = read_exact(s, l, slow)
            got += 2 + l
            rcode = m[3] & 15
            qd, an = struct.unpack("!HH", m[4:8])
            if rcode:
                return rcode, records, soas
            p = 12
            for _ in range(qd):
                p = skip_name(m, p) + 4
            for _ in range(an):
                p = skip_name(m, p)
                t, _, _, rl = struct.unpack("!HHIH", m[p:p + 10])
                p += 10 + rl
                records += 1
                if t == 6:
                    soas += 1
                    serials.append(struct.unpack("!I", m[p - 20:p - 16])[0])
            if soas >= 2 or (soas == 1 and records == 1 and an == 1 and qd == 1):
                return 0, records, soas
    except (EOFError, ConnectionResetError):
        return "cut", records, soas
stalled = []
for mode in sys.argv[2:]:
    if mode in ("full", "slow"):
        s = connect(65536 if mode == "slow" else None)
        s.sendall(query(252))
        res = transfer(s, mode == "slow")
        if mode == "slow" and res[0] == 0:
            # The connection is still there for the next question (a SOA check, say).
            s.sendall(query(6, qid=8))
            try:
                (l,) = struct.unpack("!H", read_exact(s, 2, False))
                m = read_exact(s, l, False)
                res += ("then", m[3] & 15, struct.unpack("!H", m[6:8])[0])
            except (EOFError, ConnectionResetError):
                res += ("then", "closed")
        print(mode, *res, flush=True)
        s.close()
    elif mode == "slowreload":
        # A slow AXFR during which the zone's serial goes from 5 to 6 and the server reloads:
        # "slowreload RCODE RECORDS SOAS serials A,B new N then M" (N: the serial a fresh
        # connection saw once the reload was in; M: the next SOA on this connection).
        new = []
        def bump():
            z = os.environ["ZONE"]
            with open(z) as f:
                text = f.read()
            with open(z + ".new", "w") as f:
                f.write(text.replace("serial: 5}", "serial: 6}"))
            os.rename(z + ".new", z)
            os.kill(int(os.environ["GEOPID"]), signal.SIGHUP)
            # The reload runs at a lower priority than answers: on a busy machine (and under
            # ASan) it can take many seconds. The transfer waits parked meanwhile, its
            # tcp.idle_timeout well above this bound.
            for _ in range(300 * int(os.environ.get("DNS_SLOW", "1"))):
                t = connect()
                t.sendall(query(6))
                (l,) = struct.unpack("!H", read_exact(t, 2, False))
                m = read_exact(t, l, False)
                t.close()
                if answer_serial(m) == 6:
                    new.append(6)
                    return
                time.sleep(0.1)
            new.append("still 5")
        s = connect(65536)
        s.sendall(query(252))
        res = transfer(s, True, bump)
        line = ["slowreload", *res, "serials", ",".join(map(str, serials)), "new", *new]
        s.sendall(query(6, qid=8))
        (l,) = struct.unpack("!H", read_exact(s, 2, False))
        m = read_exact(s, l, False)
        print(*line, "then", answer_serial(m), flush=True)
        s.close()
    elif mode == "rss":
        with open("/proc/%s/status" % os.environ["GEOPID"]) as f:
            kb = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
        print("rss", kb, flush=True)
    elif mode == "stall":
        s = connect(65536)
        s.sendall(query(252))
        stalled.append(s)
    elif mode.startswith("ixfr:"):
        s = connect()
        s.sendall(query(251, int(mode[5:])))
        print(mode, *transfer(s), flush=True)
        s.close()
    elif mode.startswith("wait:"):
        time.sleep(float(mode[5:]))
    elif mode == "close":
        for s in stalled:
            s.close()
        stalled = []
    elif mode in ("gauge", "ended"):
        text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % os.environ["MPORT"]).read()
        v = {}
        for line in text.decode().splitlines():
            if line.startswith("geodnsd_transfer"):
                k, _, n = line.partition(" ")
                v[k] = n
        if mode == "gauge":
            print("gauge", v.get("geodnsd_transfers_in_progress"), v.get("geodnsd_transfers_max"),
                  flush=True)
        else:
            print("ended", v.get('geodnsd_transfers_ended_total{end="sent"}'),
                  v.get('geodnsd_transfers_ended_total{end="cut_off"}'),
                  v.get("geodnsd_transfer_bytes_total"), flush=True)
    elif mode == "closed?":
        # Drain what the kernel holds: a closed connection ends in EOF (or a reset).
        s = stalled[0]
        s.settimeout(2)
        state = "open"
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    state = "closed"
                    break
        except (ConnectionResetError, BrokenPipeError):
            state = "closed"
        except socket.timeout:
            pass
        print("stalled", state, flush=True)
PY

conf 300ms 10 >"$D/a.yaml"
dns_start "$D/a.yaml" || finish
R=$(python3 "$D/xfr.py" "$PORT" full)
set -- $R
FULL=$3
expect_eq "a full AXFR: NOERROR, both SOAs" "$2 $4" "0 2"
check "a full AXFR: every record ($FULL)" test "$FULL" -gt "$N"
R=$(python3 "$D/xfr.py" "$PORT" slow)
expect_eq "a slow but steady reader (2-3 s, idle_timeout 300 ms) gets the whole zone, then a SOA on the same connection" \
    "$R" "slow 0 $FULL 2 then 0 1"
R=$(python3 "$D/xfr.py" "$PORT" stall wait:1.5 'closed?')
expect_eq "a client that stops reading is closed after idle_timeout" "$R" "stalled closed"
has_log "... and logged as cut off" "transfer #[0-9]+ cut off, nothing acknowledged for tcp\.idle_timeout: [0-9]+ messages"
alive "server alive"
dns_stop

conf 300s 2 >"$D/b.yaml"
MPORT=$(free_port)
export MPORT
dns_start "$D/b.yaml" --metrics "$MPORT" || finish
export GEOPID=$SERVER_PID
R=$(python3 "$D/xfr.py" "$PORT" rss stall stall wait:1 gauge rss full ixfr:5 close wait:0.5 gauge full wait:0.3 ended)
# Each stalled transfer holds its 256 KiB buffer of messages, not the zone (9 MB in AXFR form).
RSS0=$(sed -n 1p <<<"$R" | cut -d' ' -f2)
RSS1=$(sed -n 3p <<<"$R" | cut -d' ' -f2)
check "2 stalled transfers of a 9 MB zone hold less than 4 MB ($((RSS1 - RSS0)) KB more resident)" \
    test $((RSS1 - RSS0)) -lt 4096
R=$(sed '1d;3d' <<<"$R")
expect_eq "2 transfers stalled: /metrics says 2 in progress of 2" "$(sed -n 1p <<<"$R")" "gauge 2 2"
expect_eq "2 transfers stalled: a third AXFR gets SERVFAIL" "$(sed -n 2p <<<"$R")" "full 2 0 0"
expect_eq "2 transfers stalled: an up-to-date IXFR still gets the SOA" "$(sed -n 3p <<<"$R")" \
    "ixfr:5 0 1 1"
expect_eq "after the stalled clients leave: none in progress" "$(sed -n 4p <<<"$R")" "gauge 0 2"
expect_eq "after the stalled clients leave: the whole zone again" "$(sed -n 5p <<<"$R")" \
    "full 0 $FULL 2"
set -- $(sed -n 6p <<<"$R")
expect_eq "/metrics: 1 transfer sent, the 2 stalled ones cut off" "$2 $3" "1 2"
check "/metrics: the bytes of all three ($4)" test "${4:-0}" -gt "$((9 * 1000 * 1000))"
has_log "the busy refusal is logged" "transfer #[0-9]+ refused: AXFR of big\.test\. serial 5 to 127\.0\.0\.1: busy, 2 transfers being sent \(tcp\.max_transfers\): SERVFAIL"
has_log "a stalled transfer's end is logged" "transfer #[0-9]+ cut off, connection closed: [0-9]+ messages, [0-9]+ records, [0-9]+ bytes in [0-9.]+ s"
has_log "a whole transfer's end is logged" "transfer #[0-9]+ sent: [0-9]+ messages, $FULL records, [0-9]+ bytes in [0-9.]+ s"

# A reload during a transfer: the secondary gets the zone as it was when it asked, whole, both
# SOAs at serial 5, while new clients get serial 6 (and so does its next SOA query).
ZONE=$D/big.test.yaml
export ZONE DNS_SLOW
R=$(python3 "$D/xfr.py" "$PORT" slowreload)
expect_eq "a reload during a slow transfer: the whole zone as it was, then the new serial" "$R" \
    "slowreload 0 $FULL 2 serials 5,5 new 6 then 6"
alive "server alive"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0

# Bad values are refused at start with the place.
conf 10s 0 >"$D/bad.yaml"
out=$("$GEODNSD" --check -c "$D/bad.yaml" 2>&1)
expect_match "max_transfers 0: refused with file:line:col" "$out" 'bad\.yaml:5:[0-9]+: .0. is not a whole number from 1 to 1000'
finish
