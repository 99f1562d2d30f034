#!/usr/bin/env bash
# dns_reload_missing: a zone file deleted (or moved away) under a running server makes one reload
# that fails and keeps the last good data serving, not a reload every debounce for as long as it
# is missing; putting it back reloads once more, and the zone's new data is served.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
W=$TMP/w
mkdir -p "$W"
cp "$DATA/example.test.yaml" "$W/"
printf 'listen: ["127.0.0.1:1"]\nworkers: 1\nzones: [example.test.yaml]\nlog: {level: info}\n' \
    >"$W/geodnsd.yaml"
dns_start "$W/geodnsd.yaml" || finish
failed() { grep -c 'reload failed' "$LOG"; }

mv "$W/example.test.yaml" "$W/away.yaml"
wait_log 'reload failed' 10 || fail "the deletion is noticed: a reload fails" "$(tail -n 5 "$LOG")"
has_log "the failure names the missing file" 'reload failed .*example\.test\.yaml.*No such file'
sleep 4 # four watch intervals: a loop would have failed a dozen times by now
expect_eq "one failed reload while the file is missing, not one every debounce" "$(failed)" 1
q www.example.test --type A
expect "the last good data still serves" rcode=NOERROR an=2

from=$(($(log_lines) + 1))
sed 's/^\(soa: {.*serial: \)[0-9]*/\12099010101/' "$W/away.yaml" >"$W/example.test.yaml"
wait_log 'reload ok' 10 "$from" || fail "putting the file back reloads" "$(tail -n 5 "$LOG")"
expect_eq "and nothing failed again" "$(failed)" 1
q example.test --type SOA
expect_match "the file's new data is served (serial 2099010101)" "$R" '2099010101'
finish
