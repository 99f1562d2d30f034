#!/bin/bash
# dns_reload_newfile: a zone file added to the config broken is watched from the failed reload
# on, so fixing it is enough: no SIGHUP needed. The old data is served meanwhile.
set -u
. "$SRC/tests/lib/dns-lib.sh"
dns_init
dns_start "$DATA/geodnsd.yaml" || finish

q www.example.test
expect "old zone served" ok rcode=NOERROR +aa

# Add a new zone whose file is broken, by editing the server config.
cat >"$DATA/new.test.yaml" <<'ZEOF'
zone: new.test
soa: {primary: ns1.example.test., contact: hostmaster.example.test.}
ns: [ns1.example.test.]
records:
  www: {A: 300.0.0.1}
ZEOF
nl=$(log_lines)
sed -i 's/^zones: \[\(.*\)\]/zones: [\1, new.test.yaml]/' "$DATA/geodnsd.yaml"
check "config change with a broken new zone: 'reload failed' naming new.test.yaml:5" \
    wait_log 'reload failed.*new\.test\.yaml:5:' 10 "$nl"
q www.new.test
expect "new zone not served yet" ok rcode=REFUSED
q www.example.test
expect "old data still served" ok rcode=NOERROR +aa

# Fix only the new zone file: the server notices by itself.
nl=$(log_lines)
sleep 1.1 # a different modification time than the broken write
sed -i 's/300.0.0.1/192.0.2.77/' "$DATA/new.test.yaml"
check "fixing the new file reloads without a signal" wait_log 'reload ok' 10 "$nl"
q www.new.test
expect "new zone served after the fix" ok rcode=NOERROR +aa an=1
alive "server alive"
finish
