#!/usr/bin/env bash
# dns_masterfile: RFC 1035 master-file zones as a new user meets them. The same records as a
# master file and as a YAML zone answer byte for byte alike (id aside); a master file serves
# next to a YAML child zone with the geo names (the documented layout); --check prints warnings
# for in-zone targets without data (file:line) and for a PoP hostname of a cname-mode geo name
# with no data, and exits 1 on a broken master file naming file:line; a reload publishes an
# edited master file (and an edited $INCLUDE file on SIGHUP), a broken edit keeps the old data.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init

W=$TMP/m
mkdir -p "$W"
cat >"$W/m.test.zone" <<'ZONE'
$ORIGIN m.test.
$TTL 300
@       SOA ns1 hostmaster 2026113001 3600 600 604800 60
        NS  ns1
        MX  10 mail
ns1     A   192.0.2.53
mail    A   192.0.2.25
www     A   192.0.2.80
        A   192.0.2.81
        AAAA 2001:db8::80
txt     TXT "a b" "c"
alias   CNAME www
*.wild  A   192.0.2.9
sub     NS  ns.sub
ns.sub  A   192.0.2.100
dangling CNAME nothere
$INCLUDE hosts.inc
ZONE
printf 'host1 A 192.0.2.11\n' >"$W/hosts.inc"
cat >"$W/m.test.yaml" <<'ZONE'
zone: m.test
ttl: 300
soa: {primary: ns1, contact: hostmaster.m.test., serial: 2026113001, refresh: 3600, retry: 600,
      expire: 604800, minimum: 60, ttl: 300}
ns: [ns1]
records:
  "@": {MX: "10 mail"}
  ns1: {A: 192.0.2.53}
  mail: {A: 192.0.2.25}
  www: {A: [192.0.2.80, 192.0.2.81], AAAA: "2001:db8::80"}
  txt: {TXT: '"a b" "c"'}
  alias: {CNAME: www}
  "*.wild": {A: 192.0.2.9}
  sub: {NS: ns.sub}
  ns.sub: {A: 192.0.2.100}
  dangling: {CNAME: nothere}
  host1: {A: 192.0.2.11}
ZONE
printf 'listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [m.test.zone]\nlog: {level: info}\n' \
    >"$W/master.yaml"
printf 'listen: ["127.0.0.1:5353"]\nworkers: 1\nzones: [m.test.yaml]\nlog: {level: info}\n' \
    >"$W/yaml.yaml"

# --check: summary, warning with file:line and the target, exit 0.
R=$("$GEODNSD" --check -c "$W/master.yaml" 2>&1)
expect_eq "--check accepts the master file" "$?" 0
has "--check: one summary line for m.test (12 names with an empty non-terminal, 15 records)" \
    "^zone m\.test\.: serial 2026113001, 12 names, 15 records"
has "--check warns about the CNAME target without data, naming file:line" \
    "m\.test\.zone:16: nothere\.m\.test\. \(target of a CNAME record\) has no data"

# The same questions to the master-file zone and to the YAML zone: identical replies.
QS="m.test/SOA m.test/NS m.test/MX www.m.test/A www.m.test/AAAA txt.m.test/TXT alias.m.test/A
x.wild.m.test/A x.wild.m.test/TXT nothere.m.test/A www.m.test/MX sub.m.test/A x.sub.m.test/A
ns.sub.m.test/A host1.m.test/A dangling.m.test/A m.test/ANY"
answers() {
    local qt
    for qt in $QS; do
        dig @127.0.0.1 -p "$PORT" +norecurse +time=2 +tries=1 +nocookie +noall +comments \
            +answer +authority +additional "${qt%/*}" "${qt#*/}" | grep -v -e '->>HEADER<<-' \
            -e '^;; Query time' -e '^;; WHEN' -e '^;; SERVER' -e '^;; MSG SIZE' -e '^$'
        echo "--"
    done
}
dns_start "$W/master.yaml" || dns_finish
A_MASTER=$(answers)
dns_stop
dns_start "$W/yaml.yaml" || dns_finish
A_YAML=$(answers)
dns_stop
if [ "$A_MASTER" = "$A_YAML" ] && [ "$(printf '%s\n' "$A_MASTER" | grep -c 'IN')" -gt 20 ]; then
    pass "a master file and the same records in YAML answer alike ($(printf '%s\n' "$QS" |
        wc -w) questions)"
else
    fail "a master file and the same records in YAML answer alike" \
        "$(diff <(printf '%s\n' "$A_MASTER") <(printf '%s\n' "$A_YAML") | head -n 30)"
fi

# Reload: an edited master file is published; a broken one keeps the old data.
dns_start "$W/master.yaml" || dns_finish
q www.m.test --type A
expect "before the edit: www A" rcode=NOERROR +aa an=2
sed -i 's/^        A   192.0.2.81$/        A   192.0.2.82/; s/2026113001/2026113002/' \
    "$W/m.test.zone"
from=$(($(log_lines) + 1))
kill -HUP "$SERVER_PID"
wait_log 'reload ok' 10 "$from" || fail "reload after editing the master file" "$(tail -n 5 "$LOG")"
q www.m.test --type A
has "after the edit: the new address is served" "192\.0\.2\.82"
printf 'host1 A 192.0.2.12\n' >"$W/hosts.inc"
from=$(($(log_lines) + 1))
kill -HUP "$SERVER_PID"
wait_log 'reload ok' 10 "$from" || fail "SIGHUP reload after editing the included file" \
    "$(tail -n 5 "$LOG")"
q host1.m.test --type A
has "after editing the \$INCLUDE file and SIGHUP: its new data is served" "192\.0\.2\.12"
printf 'www A 192.0.2\n' >>"$W/m.test.zone"
from=$(($(log_lines) + 1))
kill -HUP "$SERVER_PID"
if wait_log 'reload failed' 10 "$from"; then
    R=$(tail -n +"$from" "$LOG")
    has "a broken master file: reload failed naming file:line" "m\.test\.zone:18: "
else
    fail "a broken master file: reload failed" "$(tail -n 5 "$LOG")"
fi
q www.m.test --type A
has "a broken master file: the old data is still served" "192\.0\.2\.82"
alive "server still running after the failed reload"
dns_stop
R=$("$GEODNSD" --check -c "$W/master.yaml" 2>&1)
expect_eq "--check on a broken master file exits 1" "$?" 1
has "--check on a broken master file names file:line" "m\.test\.zone:18: "

# The documented layout: static records in a master file, geo names in a YAML child zone.
EX=$TMP/example
geo_example_conf "$EX"
cat >"$EX/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 3600
@    SOA ns1 hostmaster 2026113001 7200 900 1209600 300
     NS  ns1
ns1  A   192.0.2.53
www  CNAME video.cdn
cdn  NS  ns1.example.test.
bad  CNAME nothere.cdn.example.test.
ZONE
sed -i 's/^zones: \[\(.*\)\]/zones: [example.test.zone, \1]/' "$EX/geodnsd.yaml"
grep -q 'zones: \[example.test.zone' "$EX/geodnsd.yaml" ||
    fail "example config: master-file parent zone added" "$(grep zones "$EX/geodnsd.yaml")"
R=$("$GEODNSD" --check -c "$EX/geodnsd.yaml" 2>&1)
expect_eq "--check: master-file parent and YAML geo child zone" "$?" 0
hasnt "--check: no warning for the example's PoP hostnames" "PoP .*has no data"
has "--check warns about a CNAME into the child zone without data" \
    "example\.test\.zone: bad\.example\.test\. CNAME target nothere\.cdn\.example\.test\. has no"
dns_start "$EX/geodnsd.yaml" || dns_finish
q www.example.test --type CNAME
expect "parent (master file): www CNAME into the geo zone" rcode=NOERROR +aa an=1
q video.cdn.example.test --type A --ecs 192.0.2.0/24
expect "child (YAML geo zone): video answers authoritatively" rcode=NOERROR +aa
q cdn.example.test --type DS
expect "DS of the child answered by the parent" rcode=NOERROR +aa an=0
dns_stop
# A PoP hostname inside our zones without data: warned at --check, naming the PoP file:line.
sed -i '0,/hostname: [a-z]*\.edge\.cdn\.example\.test/s//hostname: lon.edge.cdn.example.test/' \
    "$EX/pops.yaml"
R=$("$GEODNSD" --check -c "$EX/geodnsd.yaml" 2>&1)
expect_eq "--check with a PoP hostname without data still exits 0" "$?" 0
has "--check warns: PoP hostname without data, with pops.yaml:line:col" \
    "pops\.yaml:[0-9]+:[0-9]+: PoP [a-z]+: hostname lon\.edge\.cdn\.example\.test\. \(CNAME target"
finish
