#!/usr/bin/env bash
# dns_reload_edit_during: a zone file edited while a reload is loading, after the load has read
# it, is picked up by one more reload: the watch that starts after the reload takes the file as it
# is, so the edit must not be lost. The small zone is read first, then a zone of 30,000 names
# keeps the load busy while the small one is edited; three times.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init

W=$TMP/w
mkdir -p "$W"
. "$SRC/tests/lib/big-zones.sh"
big=$(big_zones "$W" 1 30000) || die "cannot write the big zone"
zone() { # VALUE: the small zone with mail's address VALUE, replaced atomically
    printf 'zone: small.test\nsoa: {primary: ns1, contact: hostmaster@small.test, serial: %s}\nns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}\n  mail: {A: 192.0.2.%s}\n' \
        "$1" "$1" >"$W/small.test.yaml.new"
    mv "$W/small.test.yaml.new" "$W/small.test.yaml"
}
zone 1
cat >"$W/geodnsd.yaml" <<EOF
listen: ["127.0.0.1:1"]
workers: 1
zones: [small.test.yaml, $big]
log: {level: info}
EOF
dns_start "$W/geodnsd.yaml" || finish

mail_is() { # VALUE: bounded wait until mail.small.test is 192.0.2.VALUE
    local i
    for ((i = 0; i < 50 * DNS_SLOW; i++)); do
        q mail.small.test --type A
        printf '%s\n' "$R" | grep -q "192\.0\.2\.$1\$" && return 0
        sleep 0.1
    done
    return 1
}

for v in 2 3 4; do
    from=$(($(log_lines) + 1))
    kill -HUP "$SERVER_PID"
    sleep 0.03 # the load has read the small zone and is reading the big one
    zone "$v"
    wait_log 'reload ok' 10 "$from" || fail "the reload (SIGHUP) ends" "$(tail -n 5 "$LOG")"
    if mail_is "$v"; then
        pass "an edit during a reload ($v): served after it"
    else
        fail "an edit during a reload ($v): served after it" "$(tail -n +"$from" "$LOG")"
    fi
done
finish
