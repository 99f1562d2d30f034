#!/usr/bin/env bash
# dns_secondaries: NSD and Knot as secondaries of geodnsd over TSIG (hmac-sha256): both transfer
# the example CDN zone and answer its static names as geodnsd does; after a zone edit geodnsd's
# NOTIFY brings both to the new serial; a transfer without the key or from a prefix that is not
# allowed is refused.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

for tool in nsd knotd dig; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
        skip "NSD and Knot as secondaries" "$tool is not installed (scripts/deps.sh installs it)"
        finish
    fi
done
PATH=$PATH:/usr/sbin

Z=cdn.example.test
SECRET=$(head -c 32 /dev/urandom | base64)
KEY=hmac-sha256:xfr-key:$SECRET
NSD_PORT=$(free_port 127.0.0.1)
KNOT_PORT=$(free_port 127.0.0.1)
while [ "$KNOT_PORT" = "$NSD_PORT" ]; do KNOT_PORT=$(free_port 127.0.0.1); done

W=$TMP/primary
mkdir -p "$W"
cp "$SRC/zones/$Z.yaml" "$SRC/zones/pops.yaml" "$W/"
sed -i 's/^soa: {/soa: {serial: 100, /' "$W/$Z.yaml"
cat >"$W/geodnsd.yaml" <<CONF
listen: ["127.0.0.1:5353"]
workers: 1
zones: [$Z.yaml]
pops: pops.yaml
log: {level: info}
tsig_keys:
  xfr-key: {algorithm: hmac-sha256, secret: "$SECRET"}
transfer:
  allow: [{net: 127.0.0.1/32, key: xfr-key}]
  notify: ["127.0.0.1:$NSD_PORT", "127.0.0.1:$KNOT_PORT"]
CONF
MPORT=$(free_port 127.0.0.1)
dns_start "$W/geodnsd.yaml" --metrics "$MPORT" || finish

# NSD: foreground, as this user, everything in its temp dir.
N=$TMP/nsd
mkdir -p "$N"
nsd_start "$N" "$NSD_PORT" "verbosity: 2" <<CONF
key:
    name: xfr-key
    algorithm: hmac-sha256
    secret: "$SECRET"
zone:
    name: $Z
    zonefile: $Z.zone
    request-xfr: AXFR 127.0.0.1@$PORT xfr-key
    allow-notify: 127.0.0.1 xfr-key
CONF

# Knot: foreground, as this user, everything in its temp dir.
K=$TMP/knot
knot_start "$K" "$KNOT_PORT" <<CONF
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: "$SECRET"
remote:
  - id: primary
    address: 127.0.0.1@$PORT
    key: xfr-key
acl:
  - id: notify-from-primary
    address: 127.0.0.1
    key: xfr-key
    action: notify
zone:
  - domain: $Z
    master: primary
    acl: notify-from-primary
CONF

soa_serial() { # PORT: the SOA serial it serves for $Z, or nothing
    dig +short +time=1 +tries=1 -p "$1" @127.0.0.1 "$Z" SOA 2>/dev/null | awk '{print $3}'
}
wait_serial() { # PORT SERIAL: bounded wait until that server serves SERIAL
    local i
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        [ "$(soa_serial "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
answers() { # PORT NAME TYPE: the answer section, sorted, without TTLs
    dig +noall +answer +norec -p "$1" @127.0.0.1 "$2" "$3" | awk '{print $1, $3, $4, $5, $6, $7}' | sed 's/ *$//' | sort
}

if wait_serial "$NSD_PORT" 100; then pass "NSD transferred the zone (serial 100)"; else
    fail "NSD transferred the zone (serial 100)" "$(tail -n 15 "$N/nsd.log")"; fi
if wait_serial "$KNOT_PORT" 100; then pass "Knot transferred the zone (serial 100)"; else
    fail "Knot transferred the zone (serial 100)" "$(tail -n 15 "$K/knot.log")"; fi

for q in "$Z SOA" "$Z NS" "$Z MX" "$Z TXT" "static.$Z A" "static.$Z AAAA" "www.$Z CNAME" \
    "ns1.$Z A" "mail.$Z A" "_http._tcp.$Z SRV" "fra.edge.$Z A"; do
    set -- $q
    want=$(answers "$PORT" "$1" "$2")
    [ -n "$want" ] || fail "geodnsd answers $q" "empty"
    for sec in "NSD:$NSD_PORT" "Knot:$KNOT_PORT"; do
        got=$(answers "${sec#*:}" "$1" "$2")
        expect_eq "${sec%%:*} answers $q as geodnsd does" "$got" "$want"
    done
done
# Geo names reach the secondaries as the default location's answer (here Frankfurt).
expect_eq "NSD: video.$Z is the default location's address" "$(answers "$NSD_PORT" "video.$Z" A)" \
    "video.$Z. IN A 127.0.1.1"
expect_eq "Knot: video.$Z is the default location's address" "$(answers "$KNOT_PORT" "video.$Z" A)" \
    "video.$Z. IN A 127.0.1.1"

# A zone edit (new serial and record), replaced atomically: NOTIFY brings both to it.
from=$(log_lines)
sed -e 's/serial: 100/serial: 101/' -e 's/^  mail: {A: 127.0.0.25}/  mail: {A: 127.0.0.26}/' \
    "$W/$Z.yaml" >"$W/$Z.yaml.new"
mv "$W/$Z.yaml.new" "$W/$Z.yaml"
wait_log 'reload ok' 10 "$from" || fail "geodnsd reloads the edited zone" "$(tail -n 10 "$LOG")"
if wait_log "NOTIFY $Z. serial 101 to 127.0.0.1:$NSD_PORT.*acknowledged" 5 "$from" &&
    wait_log "NOTIFY $Z. serial 101 to 127.0.0.1:$KNOT_PORT.*acknowledged" 5 "$from"; then
    pass "both secondaries acknowledge the signed NOTIFY"
else
    fail "both secondaries acknowledge the signed NOTIFY" "$(grep NOTIFY "$LOG")"
fi
if wait_serial "$NSD_PORT" 101; then pass "NSD serves serial 101 after NOTIFY"; else
    fail "NSD serves serial 101 after NOTIFY" "$(tail -n 15 "$N/nsd.log")"; fi
if wait_serial "$KNOT_PORT" 101; then pass "Knot serves serial 101 after NOTIFY"; else
    fail "Knot serves serial 101 after NOTIFY" "$(tail -n 15 "$K/knot.log")"; fi
expect_eq "NSD has the edited record" "$(answers "$NSD_PORT" "mail.$Z" A)" "mail.$Z. IN A 127.0.0.26"
expect_eq "Knot has the edited record" "$(answers "$KNOT_PORT" "mail.$Z" A)" "mail.$Z. IN A 127.0.0.26"

# Refusals: no key; the key but from a prefix not allowed; a wrong secret.
R=$(dig +tcp -p "$PORT" @127.0.0.1 "$Z" AXFR 2>&1)
has "AXFR without the key: refused" 'Transfer failed'
R=$(dig -b 127.0.0.2 -p "$PORT" @127.0.0.1 "$Z" AXFR -y "$KEY" 2>&1)
has "AXFR with the key from 127.0.0.2 (not allowed): refused" 'Transfer failed'
R=$(dig -p "$PORT" @127.0.0.1 "$Z" AXFR -y "hmac-sha256:xfr-key:$(head -c 32 /dev/urandom | base64)" 2>&1)
has "AXFR with a wrong secret: BADSIG" 'BADSIG'
R=$(dig -p "$PORT" @127.0.0.1 "$Z" AXFR -y "$KEY" 2>&1)
has "AXFR with the key from 127.0.0.1: the whole zone, first and last SOA" 'XFR size: [0-9]+ records'
# IXFR (RFC 1995): a client at our serial or newer gets the SOA alone; an older one the whole zone.
full=$(printf '%s\n' "$R" | sed -n 's/.*XFR size: \([0-9]*\) records.*/\1/p')
R=$(dig -p "$PORT" @127.0.0.1 "$Z" IXFR=101 -y "$KEY" 2>&1)
expect_eq "IXFR from serial 101 (ours): our SOA alone" \
    "$(printf '%s\n' "$R" | grep -v '^;' | awk 'NF && $4 != "TSIG" {print $4, $7}')" "SOA 101"
R=$(dig -p "$PORT" @127.0.0.1 "$Z" IXFR=4000000000 -y "$KEY" 2>&1)
expect_eq "IXFR from serial 4000000000 (older in RFC 1982 arithmetic): the whole zone" \
    "$(printf '%s\n' "$R" | sed -n 's/.*XFR size: \([0-9]*\) records.*/\1/p')" "$full"
R=$(dig -p "$PORT" @127.0.0.1 "$Z" IXFR=100 -y "$KEY" 2>&1)
expect_eq "IXFR from serial 100 (older): the whole zone, as AXFR" \
    "$(printf '%s\n' "$R" | sed -n 's/.*XFR size: \([0-9]*\) records.*/\1/p')" "$full"
has_log "IXFR from serial 101: logged as up to date" "IXFR of $Z. serial 101 to 127.0.0.1 key xfr-key: up to date \\(client at 101\\), SOA only"
q "$Z" --type IXFR
expect "IXFR over UDP: REFUSED (transfers are TCP only)" ok rcode=REFUSED
q "$Z" --type AXFR
expect "AXFR over UDP: REFUSED" ok rcode=REFUSED
expect_eq "allowed and refused attempts are logged" \
    "$([ "$(grep -c 'transfer #.* allowed' "$LOG")" -ge 3 ] && [ "$(grep -c 'transfer #.* refused' "$LOG")" -ge 3 ] && echo yes)" yes
M=$(curl -s "http://127.0.0.1:$MPORT/metrics")
allowed=$(printf '%s\n' "$M" | sed -n 's/^geodnsd_transfers_total{result="allowed"} //p')
refused=$(printf '%s\n' "$M" | sed -n 's/^geodnsd_transfers_total{result="refused"} //p')
expect_eq "metrics count the attempts (allowed, refused) as the log does" "$allowed $refused" \
    "$(grep -c 'transfer #.* allowed' "$LOG") $(grep -c 'transfer #.* refused' "$LOG")"

# A client pipelining 200 AXFRs it may not have: each is answered REFUSED and counted, but the
# log takes at most 10 refusals a second, then says how many it left out.
before=$(grep -c 'transfer #.* refused' "$LOG")
t0=$(date +%s)
R=$(timeout 30 python3 - "$PORT" "$Z" <<'PYEOF' 2>&1
import socket, struct, sys
port, zone = int(sys.argv[1]), sys.argv[2]
qname = b"".join(bytes([len(l)]) + l.encode() for l in zone.rstrip(".").split(".")) + b"\0"
msg = lambda i: struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", 252, 1)
frames = b"".join(struct.pack(">H", len(msg(i))) + msg(i) for i in range(200))
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(frames)
buf, refused = b"", 0
while refused < 200:
    data = s.recv(65536)
    if not data:
        break
    buf += data
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
        n = struct.unpack(">H", buf[:2])[0]
        refused += (buf[2 + 3] & 15) == 5
        buf = buf[2 + n:]
print("refused", refused)
PYEOF
)
t1=$(date +%s)
expect_eq "200 pipelined AXFRs from a client not allowed: 200 REFUSED" "$R" "refused 200"
logged=$(($(grep -c 'transfer #.* refused' "$LOG") - before))
expect_eq "their log lines: at most 10 a second ($logged in $((t1 - t0 + 1)) s)" \
    "$([ "$logged" -ge 1 ] && [ "$logged" -le $((10 * (t1 - t0 + 1))) ] && echo yes)" yes
M=$(curl -s "http://127.0.0.1:$MPORT/metrics")
expect_eq "metrics count all 200" \
    "$(printf '%s\n' "$M" | sed -n 's/^geodnsd_transfers_total{result="refused"} //p')" \
    "$((refused + 200))"
sleep 1.1 # a new second
R=$(dig +tcp -p "$PORT" @127.0.0.1 "$Z" AXFR 2>&1)
has_log "the next refusal logged says how many were not" \
    "transfer #[0-9]+ refused: .* \([0-9]+ refusals before it not logged: more than 10 a second\)"

finish
