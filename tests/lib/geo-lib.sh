# geo-lib.sh: helpers for tests/integration/geo_*.sh on top of dns-lib.sh: the example mmdb,
# configs in a temp dir, one-line checks of geo answers (addresses + ECS scope) with dnsq, dig
# and kdig (kdig/dig -b 127.255.N.1 picks the client's source address).
#
# Usage: . "$SRC/tests/lib/geo-lib.sh"; geo_init; geo_example_conf "$TMP/ex"; dns_start ...
#        ga "Paris -> fra" "127.0.1.1" 24 --ecs 192.0.2.0/24 video.cdn.example.test
# Environment: BIN, SRC, BUILD (build dir holding example-city.mmdb).

. "${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/lib/dns-lib.sh"

: "${BUILD:=$(cd "$BIN/.." && pwd)}"
GEO_DATA_SRC=$SRC/tests/data/geo

# geo_init: dns_init, then $GEO (copy of tests/data/geo) and $MMDB (absolute path of the
# example database; generated into $TMP if the build did not make it).
geo_init() {
    dns_init
    GEO=$TMP/geo
    cp -r "$GEO_DATA_SRC" "$GEO"
    MMDB=$BUILD/example-city.mmdb
    if [ ! -s "$MMDB" ]; then
        MMDB=$TMP/example-city.mmdb
        perl "$SRC/tools/make-example-mmdb.pl" "$MMDB" >"$TMP/mmdb.log" 2>&1 ||
            die "no example mmdb at $BUILD/example-city.mmdb and cannot generate it" \
                "$(cat "$TMP/mmdb.log")"
    fi
    MMDB=$(cd "$(dirname "$MMDB")" && pwd)/$(basename "$MMDB")
}

# geo_example_conf DIR: the bundled example (zones/) copied into DIR, mmdb path made absolute.
geo_example_conf() {
    mkdir -p "$1"
    cp "$SRC"/zones/*.yaml "$1"/
    sed -i "s#^geoip: {mmdb: [^,]*,#geoip: {mmdb: $MMDB,#" "$1/geodnsd.yaml"
    grep -q "mmdb: $MMDB," "$1/geodnsd.yaml" ||
        die "could not point geoip.mmdb of $1/geodnsd.yaml at $MMDB"
}

# geo_example_health [SETTINGS]: the bundled example in EX=$TMP/ex (geo_example_conf), CONF its
# geodnsd.yaml, HD its health dir (made, empty). With SETTINGS, the example's health: block is
# replaced by "health: SETTINGS" (a YAML flow mapping, e.g. "{dir: health, quorum: 2}").
geo_example_health() {
    EX=$TMP/ex
    geo_example_conf "$EX"
    HD=$EX/health
    mkdir -p "$HD"
    CONF=$EX/geodnsd.yaml
    if [ -n "${1:-}" ]; then
        sed -i '/^health:/,/^[^ ]/{/^health:/d;/^ /d}' "$CONF"
        printf 'health: %s\n' "$1" >>"$CONF"
    fi
}

# geo_conf DIR: write DIR/geodnsd.yaml (listen is overridden by dns_start), with the given
# zone files, pops file and optional nets file, mmdb = $MMDB.
# geo_conf DIR POPS ZONEFILE [NETS]
geo_conf() {
    local dir=$1 pops=$2 zone=$3 nets=${4:-}
    {
        echo 'listen: ["127.0.0.1:5353"]'
        echo 'workers: 2'
        echo "zones: [$zone]"
        echo "pops: $pops"
        if [ -n "$nets" ]; then
            echo "geoip: {mmdb: $MMDB, schema: geoip2-city, nets: $nets}"
        else
            echo "geoip: {mmdb: $MMDB, schema: geoip2-city}"
        fi
        echo 'log: {level: info}'
    } >"$dir/geodnsd.yaml"
}

# ba_spread [NAME]: where the 256 Buenos Aires client /24s are sent (100.64.N.0/24: all in the
# example mmdb's Buenos Aires network, all nearest gru): "ADDR=COUNT ..." sorted by address.
ba_spread() {
    ecs_spread "${1:-video.cdn.example.test}" "100.64.%d.0/24" 256
}

# --- reply parsing (dnsq output in $R)

# addrs: the A/AAAA rdata of the answer section, sorted, space-separated.
addrs() {
    printf '%s\n' "$R" | sed -n 's/^AN [^ ]* [0-9]* IN \(A\|AAAA\) \(.*\)$/\2/p' | sort | tr '\n' ' ' |
        sed 's/ $//'
}
# ecs_scope: the SCOPE of the reply's ECS option ("none" if there is none).
ecs_scope() {
    local s
    s=$(printf '%s\n' "$R" | sed -n 's/^OPT-ECS .* scope=\([0-9]*\) .*/\1/p' | head -n1)
    echo "${s:-none}"
}

# ga DESC WANT_ADDRS WANT_SCOPE DNSQ-ARGS...: one check: dnsq reply parses (ok), NOERROR, AA,
# the answer's A/AAAA addresses (sorted, space-separated) are WANT_ADDRS, the ECS scope is
# WANT_SCOPE ("-" = not checked, "none" = no ECS option in the reply).
ga() {
    local desc=$1 want=$2 wscope=$3 got gs bad=""
    shift 3
    q "$@"
    if ! printf '%s\n' "$R" | grep -q '^rcode='; then
        fail "$desc" "no reply (dnsq rc=$RC): $(printf '%s\n' "$R" | head -n 5)"
        return 1
    fi
    [ "$RC" = 0 ] || bad="$bad dnsq-rc=$RC"
    [ "$(sum rcode)" = NOERROR ] || bad="$bad rcode=$(sum rcode)"
    got=$(addrs)
    [ "$got" = "$want" ] || bad="$bad answer='$got'(want '$want')"
    gs=$(ecs_scope)
    [ "$wscope" = - ] || [ "$gs" = "$wscope" ] || bad="$bad scope=$gs(want $wscope)"
    verdict "$desc" "$bad" "$(printf '%s\n' "$R" | head -n 12)"
}

# dig_addrs / dig_scope / dig_status: parse dig or kdig output in $R.
dig_addrs() {
    printf '%s\n' "$R" | grep -v '^;' | awk '$4=="A" || $4=="AAAA" {print $5}' | sort |
        tr '\n' ' ' | sed 's/ $//'
}
dig_scope() {
    local s
    s=$(printf '%s\n' "$R" | sed -n 's/^; CLIENT-SUBNET: [^ ]*\/[0-9]*\/\([0-9]*\).*$/\1/p' | head -n1)
    echo "${s:-none}"
}
dig_status() {
    printf '%s\n' "$R" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -n1
}

# gd DESC WANT_ADDRS WANT_SCOPE DIG-ARGS...: like ga, with dig (@127.0.0.1 unless given).
# gk DESC WANT_ADDRS KDIG-ARGS...: like ga, with kdig (scope not checked).
gd() {
    local desc=$1 want=$2 wscope=$3 got gs bad=""
    shift 3
    dg "$@"
    [ "$(dig_status)" = NOERROR ] || bad="$bad status=$(dig_status)"
    got=$(dig_addrs)
    [ "$got" = "$want" ] || bad="$bad answer='$got'(want '$want')"
    gs=$(dig_scope)
    [ "$wscope" = - ] || [ "$gs" = "$wscope" ] || bad="$bad scope=$gs(want $wscope)"
    verdict "$desc" "$bad" "(dig rc=$RC)
$(printf '%s\n' "$R" | grep -v '^$' | head -n 20)"
}
gk() {
    local desc=$1 want=$2 got bad=""
    shift 2
    kd "$@"
    [ "$(dig_status)" = NOERROR ] || bad="$bad status=$(dig_status)"
    got=$(dig_addrs)
    [ "$got" = "$want" ] || bad="$bad answer='$got'(want '$want')"
    verdict "$desc" "$bad" "(kdig rc=$RC)
$(printf '%s\n' "$R" | grep -v '^$' | head -n 20)"
}

# explain CONFIG NAME CLIENT [TYPE]: geodnsd explain; output in $R, exit status in $RC.
explain() {
    R=$(timeout $((20 * DNS_SLOW)) "$GEODNSD" explain -c "$@" 2>&1)
    RC=$?
}

# wait_reload PATTERN FROM_LINE: bounded wait for a reload result line after FROM_LINE.
wait_reload() {
    wait_log "$1" 15 "$2"
}

# bump FILE: give FILE a new, distinct mtime (the server polls the files every second).
GEO_BUMP=0
bump() {
    GEO_BUMP=$((GEO_BUMP + 1))
    touch -d "@$(($(date +%s) + GEO_BUMP))" "$1"
}

# replace FILE CONTENT-FILE: atomic replace (rename) with a fresh mtime.
replace() {
    cp "$2" "$1.new.$$"
    bump "$1.new.$$"
    mv -f "$1.new.$$" "$1"
}

# ecs_spread NAME FORMAT N: where N client prefixes (FORMAT with %d from 0 to N-1, e.g.
# 100.64.%d.0/24) are sent for NAME by the running server: "ADDR=COUNT ..." sorted by address
# ("none" counts replies without an address).
ecs_spread() {
    # One process asks all N (tests/lib/dnswire.py): dnsq per query cost 5-13 s per spread
    # under ASan. 3 tries of 2 s per query.
    PYTHONPATH="$SRC/tests/lib" python3 - "$PORT" "$@" <<'PYEOF'
import collections, socket, sys
import dnswire
port, name, fmt, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
c = collections.Counter()
for i in range(n):
    r = None
    for t in range(3):
        r = dnswire.ask(s, port, name, "A", dnswire.ecs_parse(fmt % i), (3 * i + t) & 0xFFFF)
        if r:
            break
    got = [a.split()[-1] for a in (r[1] if r else []) if a.split()[2] == "A"]
    c[got[0] if got else "none"] += 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
PYEOF
}
