#!/bin/bash
# dns_include_watch: files pulled in by $INCLUDE are watched like the zone file itself. Editing
# an included file (or a file it includes) publishes its new data without SIGHUP; a broken
# included file, or a missing one, keeps the old data served, and fixing it (or creating it)
# reloads by itself.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init

W=$TMP/inc
mkdir -p "$W"
cat >"$W/inc.test.zone" <<'ZONE'
$ORIGIN inc.test.
$TTL 300
@     SOA ns1 hostmaster 2026113001 3600 600 604800 60
      NS  ns1
ns1   A   192.0.2.53
$INCLUDE hosts.inc
ZONE
printf 'host1 A 192.0.2.11\n$INCLUDE more.inc\n' >"$W/hosts.inc"
printf 'host2 A 192.0.2.21\n' >"$W/more.inc"
printf 'workers: 1\nzones: [inc.test.zone]\nlog: {level: info}\n' >"$W/geodnsd.yaml"

# Each write gets its own modification time, a second apart, so the watcher (which compares
# stat results) sees every edit even when two writes fall in the same clock tick.
STAMP=$(($(date +%s) - 1000))
put() { # put FILE TEXT: replace FILE's content with TEXT (printf format)
    printf "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"
    STAMP=$((STAMP + 1))
    touch -d "@$STAMP" "$1"
}
# answer NAME: the A records of NAME, one address a line, in $ANS.
answer() {
    q "$1" --type A
    ANS=$(printf '%s\n' "$R" | grep -Eo '192\.0\.2\.[0-9]+' | sort -u | tr '\n' ' ')
}

dns_start "$W/geodnsd.yaml" || finish
answer host1.inc.test
expect_eq "the included file's record is served" "$ANS" "192.0.2.11 "
answer host2.inc.test
expect_eq "the record of a file the included file includes is served" "$ANS" "192.0.2.21 "

# Edit the included file, no signal: the server reloads by itself.
nl=$(($(log_lines) + 1))
put "$W/hosts.inc" 'host1 A 192.0.2.12\n$INCLUDE more.inc\n'
check "editing the included file reloads without SIGHUP (log names hosts.inc)" \
    wait_log 'reload ok \(.*hosts\.inc changed\)' 10 "$nl"
answer host1.inc.test
expect_eq "after editing the included file: its new record is served" "$ANS" "192.0.2.12 "

# The same two levels down.
nl=$(($(log_lines) + 1))
put "$W/more.inc" 'host2 A 192.0.2.22\n'
check "editing a nested included file reloads without SIGHUP" \
    wait_log 'reload ok \(.*more\.inc changed\)' 10 "$nl"
answer host2.inc.test
expect_eq "after editing the nested included file: its new record is served" "$ANS" \
    "192.0.2.22 "

# A broken included file: reload fails naming it, the old answer stays.
nl=$(($(log_lines) + 1))
put "$W/hosts.inc" 'host1 A 192.0.2\n$INCLUDE more.inc\n'
check "a broken included file: reload failed naming hosts.inc:1" \
    wait_log 'reload failed.*hosts\.inc:1: ' 10 "$nl"
answer host1.inc.test
expect_eq "a broken included file: the old answer is still served" "$ANS" "192.0.2.12 "

# Fixing it is enough.
nl=$(($(log_lines) + 1))
put "$W/hosts.inc" 'host1 A 192.0.2.13\n$INCLUDE more.inc\n'
check "fixing the included file reloads without SIGHUP" wait_log 'reload ok' 10 "$nl"
answer host1.inc.test
expect_eq "after the fix: the fixed record is served" "$ANS" "192.0.2.13 "

# A missing included file fails the reload; creating it reloads.
nl=$(($(log_lines) + 1))
put "$W/hosts.inc" 'host1 A 192.0.2.14\n$INCLUDE extra.inc\n'
check "including a missing file: reload failed naming it" \
    wait_log 'reload failed.*hosts\.inc:2: cannot open .*extra\.inc' 10 "$nl"
answer host1.inc.test
expect_eq "a missing included file: the old answer is still served" "$ANS" "192.0.2.13 "
nl=$(($(log_lines) + 1))
put "$W/extra.inc" 'host3 A 192.0.2.31\n'
check "creating the missing included file reloads without SIGHUP" \
    wait_log 'reload ok' 10 "$nl"
answer host1.inc.test
expect_eq "after creating it: the edited record is served" "$ANS" "192.0.2.14 "
answer host3.inc.test
expect_eq "after creating it: its record is served" "$ANS" "192.0.2.31 "

# hosts.inc no longer includes more.inc: its name is gone.
q host2.inc.test --type A
expect "a file no longer included: its name is gone" ok rcode=NXDOMAIN
alive "server alive"
finish
