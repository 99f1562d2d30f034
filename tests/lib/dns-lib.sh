# dns-lib.sh: shared helpers for tests/integration/dns_*.sh: start/stop geodnsd on a free
# loopback port, query it with dnsq/dig/kdig, checks of the reply on top of assert-lib.sh
# (pass, fail, skip, check, expect_eq, expect_match, die, finish: their meanings are there).
#
# Usage in a test:   . "$SRC/tests/lib/dns-lib.sh"; dns_init; dns_start "$DATA/geodnsd.yaml"
#                    q www.example.test --type A; expect "www A" rcode=NOERROR +aa an=2
#                    ...; finish
# Environment: BIN (build's bin folder, with geodnsd and dnsq), SRC (source root).

set -u

SERVER_PID=""
PORT=""
R=""
RC=0
DNS_BG_PIDS=()

: "${SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BIN:=$SRC/build/bin}"
. "$SRC/tests/lib/assert-lib.sh"
. "$SRC/tests/lib/ports.sh"
# Under ASan/UBSan the server is slower: scale the bounded waits (never assert on time).
DNS_SLOW=${DNS_SLOW:-1}
if [ -n "${GEODNS_SANITIZE:-}" ] || nm -an "$BIN/geodnsd" 2>/dev/null | grep -q __asan_init; then
    DNS_SLOW=3
fi

dns_cleanup() {
    local p
    for p in "${DNS_BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
    fi
    if [ "$ASSERT_FAIL" -gt 0 ] && [ -f "${LOG:-/nonexistent}" ]; then
        echo "--- last lines of the server log ($LOG)"
        tail -n 25 "$LOG"
    fi
    if [ -n "${TMP:-}" ] && [ -d "$TMP" ] && [ -z "${DNS_KEEP:-}" ]; then
        rm -rf "$TMP"
    fi
}

# dns_init: temp dir, trap, tools. Copies tests/data/dns to $DATA (tests may modify the copy).
dns_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/geodns-test.XXXXXX")
    trap dns_cleanup EXIT
    trap 'exit 130' INT TERM
    DATA=$TMP/data
    cp -r "$SRC/tests/data/dns" "$DATA"
    LOG=$TMP/server.log
    GEODNSD=$BIN/geodnsd
    [ -x "$GEODNSD" ] || die "geodnsd binary not found at $GEODNSD (build it first)"
    DNSQ=$BIN/dnsq
    if [ ! -x "$DNSQ" ]; then
        # tests/tools is not part of this build: compile dnsq here so the test still runs.
        DNSQ=$TMP/dnsq
        if ! cc -std=c11 -D_GNU_SOURCE -O1 -o "$DNSQ" "$SRC/tests/tools/dnsq.c" \
            "$SRC/tests/tools/dnsq_report.c" \
            $(pkg-config --cflags --libs ldns) 2>"$TMP/dnsq-build.log"; then
            die "cannot build dnsq (add_subdirectory(tools) missing in tests/CMakeLists.txt?)" \
                "$(cat "$TMP/dnsq-build.log")"
        fi
    fi
}

# wait_log PATTERN [SECONDS] [FROM_LINE]: waits (bounded) until the server log, from line
# FROM_LINE on, has a line matching PATTERN (grep -E). Returns 1 on timeout or server exit.
wait_log() {
    local pat=$1 secs=${2:-10} from=${3:-1} i
    local tries=$((secs * 10 * DNS_SLOW))
    for ((i = 0; i < tries; i++)); do
        if tail -n +"$from" "$LOG" 2>/dev/null | grep -Eq -- "$pat"; then
            return 0
        fi
        if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n +"$from" "$LOG" 2>/dev/null | grep -Eq -- "$pat"
            return
        fi
        sleep 0.1
    done
    return 1
}

# has_log DESC REGEX: a check that some line of the server log matches (grep -E) now.
has_log() {
    if grep -Eq -- "$2" "$LOG"; then
        pass "$1"
    else
        fail "$1" "no line matches /$2/; the log ends:
$(tail -n 8 "$LOG")"
        return 1
    fi
}

log_lines() {
    wc -l <"$LOG" 2>/dev/null || echo 0
}

# dns_start CONFIG [ARGS...]: starts geodnsd on a free port (127.0.0.1 and ::1), waits for
# "geodnsd ready". Sets SERVER_PID and PORT. Returns 1 (after a FAIL line) if it never got ready.
dns_start() {
    local conf=$1 attempt
    shift
    for attempt in 1 2 3; do
        PORT=$(free_port)
        : >"$LOG"
        "$GEODNSD" -c "$conf" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" "$@" \
            2>>"$LOG" >>"$TMP/server.stdout" &
        SERVER_PID=$!
        if wait_log 'geodnsd ready' 10; then
            return 0
        fi
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
        # Someone may have taken the port between the check and the bind: try another one.
        grep -qi 'in use' "$LOG" || break
    done
    fail "geodnsd starts and logs 'geodnsd ready' (config $conf)" "$(tail -n 20 "$LOG")"
    return 1
}

# nsd_start DIR PORT [OPTION...] <CLAUSES: NSD as a peer on 127.0.0.1@PORT, in the foreground
# as this user with everything (zone files, state, pid) under DIR, RRL and remote control off,
# IPv4 only. Each OPTION ("name: value") goes into the server: clause; the text on stdin (key:,
# zone: clauses) follows it in DIR/nsd.conf. The log is DIR/nsd.log. Sets NSD_PID and adds it to
# DNS_BG_PIDS, so dns_cleanup stops it.
nsd_start() {
    local dir=$1 port=$2 opt
    shift 2
    {
        printf 'server:\n'
        printf '    %s\n' "ip-address: 127.0.0.1@$port" "do-ip6: no" "server-count: 1" \
            'username: ""' 'chroot: ""' "zonesdir: \"$dir\"" 'database: ""' \
            "zonelistfile: \"$dir/zone.list\"" "xfrdfile: \"$dir/xfrd.state\"" \
            "xfrdir: \"$dir\"" "pidfile: \"$dir/nsd.pid\"" "zonefiles-write: 0" \
            "rrl-ratelimit: 0"
        for opt in "$@"; do
            printf '    %s\n' "$opt"
        done
        printf 'remote-control:\n    control-enable: no\n'
        cat
    } >"$dir/nsd.conf"
    "${NSD:-nsd}" -d -c "$dir/nsd.conf" >"$dir/nsd.log" 2>&1 &
    NSD_PID=$!
    DNS_BG_PIDS+=("$NSD_PID")
}

# knot_start DIR PORT <CLAUSES: Knot DNS as a peer on 127.0.0.1@PORT, in the foreground as this
# user with everything (zone files, journal, control socket) under DIR. The text on stdin (key:,
# remote:, acl:, zone: clauses) follows the server, database, log and template clauses in
# DIR/knot.conf; zone files are DIR/ZONE.zone. The log is DIR/knot.log. Sets KNOT_PID and adds it to
# DNS_BG_PIDS, so dns_cleanup stops it.
knot_start() {
    local dir=$1 port=$2
    mkdir -p "$dir/db"
    {
        printf 'server:\n    rundir: "%s"\n    listen: 127.0.0.1@%s\n' "$dir" "$port"
        printf '    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n'
        printf 'database:\n    storage: "%s/db"\n' "$dir"
        printf 'log:\n  - target: stderr\n    any: info\n'
        printf 'template:\n  - id: default\n    storage: "%s"\n    file: "%%s.zone"\n' "$dir"
        printf '    zonefile-sync: -1\n    journal-content: none\n'
        cat
    } >"$dir/knot.conf"
    "${KNOTD:-knotd}" -c "$dir/knot.conf" -s "$dir/knot.sock" >"$dir/knot.log" 2>&1 &
    KNOT_PID=$!
    DNS_BG_PIDS+=("$KNOT_PID")
}

# hc_init TAG: for a healthcheck test without a DNS server: HC (the binary, checked), TMP (a new
# temporary folder, removed with everything started by dns_cleanup) and OUT (TMP/out, the state
# folder).
hc_init() {
    HC=$BIN/healthcheck
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap dns_cleanup EXIT
    trap 'exit 130' INT TERM
    [ -x "$HC" ] || { fail "healthcheck binary at $HC (build it first)"; finish; }
    OUT=$TMP/out
    mkdir -p "$OUT"
}

# dns_stop: SIGTERM, bounded wait. Sets STOP_STATUS (exit status, or "timeout").
dns_stop() {
    local i
    STOP_STATUS=none
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < 100 * DNS_SLOW; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        STOP_STATUS=timeout
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    local st=$?
    [ "$STOP_STATUS" = timeout ] || STOP_STATUS=$st
    SERVER_PID=""
}

# q ARGS...: dnsq against the running server (127.0.0.1 unless --server given). Output in $R,
# exit status in $RC (0 ok, 2 no reply, 3 reply failed the ldns/wire checks).
q() {
    R=$("$DNSQ" --port "$PORT" "$@" 2>&1)
    RC=$?
}

# dg ARGS...: dig against the server (bounded). Output in $R, status in $RC.
dg() {
    R=$(dig -p "$PORT" +time=2 +tries=1 +norecurse "$@" 2>&1)
    RC=$?
}

# kd ARGS...: kdig against the server (bounded). Output in $R, status in $RC.
kd() {
    R=$(kdig -p "$PORT" +time=2 +retry=0 +norecurse "$@" 2>&1)
    RC=$?
}

# sum KEY: the value of KEY in the first dnsq summary line of $R.
sum() {
    printf '%s\n' "$R" | grep -m1 '^rcode=' | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# expect DESC TOKEN...: one check on the dnsq reply in $R. Tokens: key=value (summary field,
# e.g. rcode=NXDOMAIN an=2 id_match=1), +flag / -flag (header flag set / clear: qr aa tc rd ra
# z ad cd), ok (the reply parsed with ldns and passed the wire checks: dnsq exit 0).
expect() {
    local desc=$1 t k v got bad="" flags
    shift
    if ! printf '%s\n' "$R" | grep -q '^rcode='; then
        fail "$desc" "no reply / no summary (dnsq rc=$RC): $(printf '%s\n' "$R" | head -n 5)"
        return 1
    fi
    flags=",$(sum flags),"
    for t in "$@"; do
        case $t in
        ok) [ "$RC" = 0 ] || bad="$bad dnsq-rc=$RC(wire/ldns check failed)" ;;
        +*) case $flags in *",${t#+},"*) ;; *) bad="$bad ${t#+}-not-set" ;; esac ;;
        -*) case $flags in *",${t#-},"*) bad="$bad ${t#-}-set" ;; esac ;;
        *=*)
            k=${t%%=*}
            v=${t#*=}
            got=$(sum "$k")
            [ "$got" = "$v" ] || bad="$bad $k=$got(want $v)"
            ;;
        esac
    done
    verdict "$desc" "$bad" "$(printf '%s\n' "$R" | head -n 12)"
}

# has DESC REGEX: some line of $R matches (grep -E). hasnt: no line matches.
has() {
    if printf '%s\n' "$R" | grep -Eq -- "$2"; then
        pass "$1"
    else
        fail "$1" "no line matches /$2/ in:
$(printf '%s\n' "$R" | head -n 15)"
        return 1
    fi
}

hasnt() {
    if printf '%s\n' "$R" | grep -Eq -- "$2"; then
        fail "$1" "unexpected line /$2/: $(printf '%s\n' "$R" | grep -E -m3 -- "$2")"
        return 1
    else
        pass "$1"
    fi
}

# nlines REGEX: how many lines of $R match.
nlines() {
    printf '%s\n' "$R" | grep -Ec -- "$1"
}

# count DESC REGEX N: exactly N lines of $R match.
count() {
    local n
    n=$(nlines "$2")
    if [ "$n" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "$n lines match /$2/, want $3:
$(printf '%s\n' "$R" | head -n 15)"
        return 1
    fi
}

# alive DESC: the server is still running (no crash).
alive() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        pass "$1"
    else
        fail "$1" "server is not running: $(tail -n 10 "$LOG" 2>/dev/null)"
        return 1
    fi
}

# soa_neg_ttl: the negative SOA TTL expected for example.test: min(SOA ttl 3600, minimum 60).
NEG_TTL=60

# an_list: the answer section of $R as "owner type rdata" lines, in order (TTL and class cut).
an_list() {
    printf '%s\n' "$R" | sed -n 's/^AN \([^ ]*\) [0-9]* IN \(.*\)$/\1 \2/p'
}

# nodup DESC: no RR appears twice in any section of the reply in $R.
nodup() {
    local d
    d=$(printf '%s\n' "$R" | grep -E '^(AN|NS|AR) ' | sort | uniq -d)
    if [ -z "$d" ]; then
        pass "$1"
    else
        fail "$1" "duplicated: $d"
        return 1
    fi
}
