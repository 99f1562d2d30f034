#!/usr/bin/env bash
# metrics_allow: metrics.allow keeps the metrics and status listener to the listed addresses. A
# connection from outside the list is closed before a byte is read (curl gets no reply) and
# counted in geodnsd_status_connections_refused_total; 24 such connections held open take none
# of the 16 slots, so a listed scraper is served meanwhile; a reload that widens the list lets
# the other address in without a restart; --metrics replaces the address and keeps the list; an
# empty list, a bad entry and a scalar are config errors with their position. 127.0.0.2 is the
# scraper; 127.0.0.1 anyone else (curl --interface picks the source address on loopback).
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

MPORT=$(free_port 127.0.0.1)
CONF=$DATA/geodnsd.yaml
cp "$CONF" "$TMP/base.yaml"
allow() { # LIST: the test config with metrics on MPORT allowing LIST
    { cat "$TMP/base.yaml"; printf 'metrics: {listen: 127.0.0.1:%s, allow: %s}\n' "$MPORT" "$1"; } \
        >"$CONF.new"
    mv "$CONF.new" "$CONF"
}
# code [CURL ARGS...]: the status code of /metrics ("000": closed without an answer).
code() {
    curl -s -o /dev/null -m $((10 * DNS_SLOW)) -w '%{http_code}' "$@" "http://127.0.0.1:$MPORT/metrics"
}
refused() { # the refused counter, read by the scraper
    curl -s -m $((10 * DNS_SLOW)) --interface 127.0.0.2 "http://127.0.0.1:$MPORT/metrics" |
        awk '$1 == "geodnsd_status_connections_refused_total" {print $2}'
}

allow "[127.0.0.2/32, \"::1\"]"
dns_start "$CONF" || finish
expect_eq "a listed scraper is served" "$(code --interface 127.0.0.2)" 200
expect_eq "nothing refused yet" "$(refused)" 0
expect_eq "an address outside the list gets no answer" "$(code)" 000
expect_eq "and is counted" "$(refused)" 1

# 24 unlisted connections held open: each is closed at once (the client sees its end), and the
# scraper is served while they are open.
python3 - "$MPORT" >"$TMP/hold.out" 2>&1 <<'EOF' &
import socket, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(24)]
closed = 0
for s in held:
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        closed += s.recv(100) == b""
    except OSError:
        closed += 1
print("closed", closed, flush=True)
EOF
HOLD=$!
DNS_BG_PIDS+=("$HOLD")
wait "$HOLD"
expect_eq "24 unlisted connections: every one closed unanswered" "$(cat "$TMP/hold.out")" "closed 24"
expect_eq "the scraper is served after them" "$(code --interface 127.0.0.2)" 200
expect_eq "25 refused in all" "$(refused)" 25

# A reload widens the list: no restart needed.
from=$(($(log_lines) + 1))
allow "[127.0.0.0/8]"
kill -HUP "$SERVER_PID"
wait_log 'reload ok' 10 "$from" || fail "the reload succeeds" "$(tail -n 5 "$LOG")"
expect_eq "after the reload 127.0.0.1 is served" "$(code)" 200
alive "geodnsd still runs"
dns_stop
expect_eq "geodnsd stops cleanly" "$STOP_STATUS" 0

# --metrics replaces the address, not the list.
MPORT2=$(free_port 127.0.0.1)
{ cat "$TMP/base.yaml"; printf 'metrics: {allow: [127.0.0.2]}\n'; } >"$CONF"
dns_start "$CONF" --metrics "$MPORT2" || finish
MPORT=$MPORT2
expect_eq "--metrics: the listed scraper is served" "$(code --interface 127.0.0.2)" 200
expect_eq "--metrics: the list still applies" "$(code)" 000
dns_stop

# Config errors, with their position.
bad() { # DESC YAML REGEX
    { cat "$TMP/base.yaml"; printf '%s\n' "$2"; } >"$TMP/bad.yaml"
    cp -r "$DATA"/*.yaml "$DATA"/zones.d "$TMP"/ 2>/dev/null
    local out st
    out=$("$GEODNSD" --check -c "$TMP/bad.yaml" 2>&1)
    st=$?
    expect_eq "$1: --check fails" "$st" 1
    expect_match "$1: says where and why" "$out" "$3"
}
L=$(($(grep -c . "$TMP/base.yaml") + 1))
bad "an empty list" 'metrics: {listen: 127.0.0.1:9, allow: []}' \
    "bad\\.yaml:$L:[0-9]+: metrics\\.allow is empty"
bad "a bad entry" 'metrics: {listen: 127.0.0.1:9, allow: [127.0.0.1, 10.0.0.0/40]}' \
    "bad\\.yaml:$L:[0-9]+: '10\\.0\\.0\\.0/40' is not ADDR or ADDR/BITS"
bad "a scalar" 'metrics: {listen: 127.0.0.1:9, allow: 127.0.0.1}' \
    "bad\\.yaml:$L:[0-9]+: 'allow' must be a list of ADDR or ADDR/BITS"
finish
