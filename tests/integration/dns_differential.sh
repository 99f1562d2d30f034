#!/usr/bin/env bash
# dns_differential: the same RFC 1035 master file (tests/data/dns/master/example.com.zone: every
# common type, CNAME chains in and out of the zone, wildcards, empty non-terminals, delegations
# with glue and occluded data, DNAME) served by geodnsd, by NSD and by Knot DNS on loopback; every
# question of example.com.queries over UDP (EDNS and plain) and TCP gets the same rcode, AA/TC and
# answer section from geodnsd as from each of them, authority and additional equal or a subset of
# theirs (tests/tools/dns_diff.py). Differences that remain are listed with their reason in
# example.com.known (NSD) and example.com.knot.known (Knot); anything else fails.
# Allowed subsets (RFC 1034 4.3.2 leaves both optional; RFC 2181 9): NSD (minimal-responses off)
# puts the apex NS RRset in the authority section of positive answers with the name servers'
# addresses in additional, and after a CNAME into a delegation adds the referral; geodnsd sends
# minimal responses: additional addresses only for NS, MX and SRV answers and for referrals.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

PATH=$PATH:/usr/sbin
for tool in nsd knotd dig python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        skip "geodnsd, NSD and Knot answer the same zone alike" "$tool is not installed (scripts/deps.sh)"
        finish
    fi
done

M=$DATA/master
cat >"$M/geodnsd.yaml" <<CONF
listen: ["127.0.0.1:5353"]
workers: 1
zones: [example.com.zone]
log: {level: info}
CONF
dns_start "$M/geodnsd.yaml" || dns_finish

# NSD: foreground, as this user, everything in its temp dir.
N=$TMP/nsd
mkdir -p "$N"
cp "$M/example.com.zone" "$N/"
NSD_PORT=$(free_port 127.0.0.1)
while [ "$NSD_PORT" = "$PORT" ]; do NSD_PORT=$(free_port 127.0.0.1); done
nsd_start "$N" "$NSD_PORT" "verbosity: 1" "refuse-any: no" <<CONF
zone:
    name: example.com
    zonefile: example.com.zone
CONF
# serving NAME PORT LOG: bounded wait until the peer on PORT serves the zone's serial; a failed
# check (with the end of LOG) and the end of the test when it never does.
serving() {
    local i
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        dig @127.0.0.1 -p "$2" +time=1 +tries=1 +short example.com SOA 2>/dev/null |
            grep -q 2026113001 && return 0
        sleep 0.1
    done
    fail "$1 serves example.com on 127.0.0.1:$2" "$(tail -n 15 "$3")"
    finish
}
serving NSD "$NSD_PORT" "$N/nsd.log"

# compare NAME PORT KNOWN LOGFILE: geodnsd against the reference on PORT, one check.
compare() {
    local name=$1 port=$2 known=$3 log=$4 out st
    out=$(python3 "$SRC/tests/tools/dns_diff.py" --ref "$name" "$M/example.com.queries" "$PORT" \
        "$port" "$known" 2>&1)
    st=$?
    printf '%s\n' "$out"
    if [ "$st" = 0 ]; then
        pass "geodnsd answers every question as $name does, or with a listed reason ($(printf \
            '%s\n' "$out" | tail -n 1))"
    else
        printf 'geodnsd log, last 20 lines:\n%s\n%s log, last 10 lines:\n%s\n' "$(tail -n 20 "$LOG")" \
            "$name" "$(tail -n 10 "$log")"
        fail "geodnsd answers every question as $name does, or with a listed reason" \
            "$(printf '%s\n' "$out" | grep -E '^(DIFFER|stale|summary)' | head -n 40)"
    fi
}
compare nsd "$NSD_PORT" "$M/example.com.known" "$N/nsd.log"

# Knot DNS: foreground, as this user, everything in its temp dir.
K=$TMP/knot
mkdir -p "$K"
cp "$M/example.com.zone" "$K/"
KNOT_PORT=$(free_port 127.0.0.1)
while [ "$KNOT_PORT" = "$PORT" ] || [ "$KNOT_PORT" = "$NSD_PORT" ]; do
    KNOT_PORT=$(free_port 127.0.0.1)
done
knot_start "$K" "$KNOT_PORT" <<CONF
zone:
  - domain: example.com
CONF
serving Knot "$KNOT_PORT" "$K/knot.log"
compare knot "$KNOT_PORT" "$M/example.com.knot.known" "$K/knot.log"
finish
