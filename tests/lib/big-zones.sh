# big-zones.sh: big_zones DIR COUNT NAMES writes COUNT YAML zones big0.test .. big<COUNT-1>.test
# into DIR, each with NAMES names holding an A and a TXT record (a load that takes seconds), and
# prints their file names as a YAML flow list body ("big0.test.yaml, big1.test.yaml, ...").
# Shared by tests/integration/dns_reload_async.sh and bench/reload-mainloop.sh.
big_zones() {
    local dir=$1 count=$2 names=$3 k list=""
    for ((k = 0; k < count; k++)); do
        awk -v n="$names" -v k=$k 'BEGIN {
            printf "zone: big%d.test\nttl: 300\n", k
            printf "soa: {primary: ns1, contact: hostmaster@big%d.test, refresh: 3600, retry: 600, expire: 604800, minimum: 60}\n", k
            print "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}"
            for (i = 0; i < n; i++)
                printf "  h%d: {A: 10.%d.%d.%d, TXT: \"\\\"rec %d\\\"\"}\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, i
        }' >"$dir/big$k.test.yaml" || return 1
        list="${list:+$list, }big$k.test.yaml"
    done
    printf '%s\n' "$list"
}
