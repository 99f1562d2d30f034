#!/usr/bin/env bash
# geo_mmdb_corrupt: an mmdb with 200 bytes changed in its search tree (or cut short) is refused by
# `geodnsd --check` (exit 1, "corrupt GeoIP database" and the file named) and by a reload
# ("reload failed", the reason logged); the old database keeps answering every region right.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
geo_init
D=$TMP/ex
geo_example_conf "$D"
cp "$MMDB" "$D/city.mmdb"
sed -i "s#^geoip: {mmdb: [^,]*,#geoip: {mmdb: city.mmdb,#" "$D/geodnsd.yaml"
CONF=$D/geodnsd.yaml
V=video.cdn.example.test
FRA=127.0.1.1 NYC=127.0.2.1 SIN=127.0.3.1 GRU=127.0.4.1

# corrupt IN OUT SEED: 200 random bytes (fixed seed) written over the search tree, whose size
# comes from the metadata's node_count and record_size (read straight from the file).
corrupt() {
    perl -e '
        my ($in, $out, $seed) = @ARGV;
        open(my $f, "<:raw", $in) or die "$in: $!"; local $/; my $b = <$f>; close $f;
        my $m = rindex($b, "\xab\xcd\xefMaxMind.com"); die "no metadata" if $m < 0;
        my $meta = substr($b, $m);
        # MMDB encoding: key "node_count" (utf8, 10 bytes), then a uint32 of 0-4 bytes;
        # key "record_size" (11 bytes), then a uint16 of 0-2 bytes.
        $meta =~ /\x4anode_count([\xc0-\xc4])/ or die "no node_count";
        my $n = 0; $n = $n * 256 + ord($_) for split //, substr($meta, $+[1], ord($1) & 0x1f);
        $meta =~ /\x4brecord_size([\xa0-\xa2])/ or die "no record_size";
        my $rs = 0; $rs = $rs * 256 + ord($_) for split //, substr($meta, $+[1], ord($1) & 0x1f);
        my $tree = $n * $rs / 4;
        srand($seed);
        substr($b, int(rand($tree)), 1) = chr(int(rand(256))) for 1 .. 200;
        open(my $o, ">:raw", $out) or die "$out: $!"; print $o $b; close $o;
        print "$n nodes, $rs-bit records, tree $tree bytes\n";
    ' "$@"
}
BAD=$TMP/bad.mmdb
if ! corrupt "$MMDB" "$BAD" 11 >"$TMP/corrupt.log" 2>&1; then
    fail "the corrupt copy is written" "$(cat "$TMP/corrupt.log")"
    finish
fi
echo "# corrupted copy: $(cat "$TMP/corrupt.log")"
CUT=$TMP/cut.mmdb
head -c 2000 "$MMDB" >"$CUT"

# regions DESC: the five example regions answer as with the good database (Paris: the widest
# correct scope, /9, that geo_example and the geo_ecs_scope checker confirm).
regions() {
    ga "$1: Paris 192.0.2.0/24 -> fra" "$FRA" 9 --ecs 192.0.2.0/24 $V
    ga "$1: Chicago 198.51.100.0/24 -> nyc" "$NYC" 24 --ecs 198.51.100.0/24 $V
    ga "$1: Tokyo 203.0.113.0/24 -> sin" "$SIN" 24 --ecs 203.0.113.0/24 $V
    ga "$1: Buenos Aires 100.64.3.0/24 -> gru" "$GRU" - --ecs 100.64.3.0/24 $V
    ga "$1: Sydney 2001:db8::/48 -> sin" "$SIN" - --ecs 2001:db8::/48 $V
}

echo "# geodnsd --check refuses the corrupt and the cut file"
for f in "$BAD" "$CUT"; do
    cp "$f" "$D/city.mmdb"
    out=$("$GEODNSD" --check -c "$CONF" 2>&1)
    rc=$?
    if [ "$rc" = 1 ] && printf '%s\n' "$out" | grep -Eq 'city\.mmdb.*(corrupt GeoIP database|not a valid MaxMind DB)'; then
        pass "--check $(basename "$f"): exit 1, reason given ($(printf '%s\n' "$out" | grep -m1 -o 'corrupt GeoIP database.*\|not a valid.*' | cut -c1-90))"
    else
        fail "--check $(basename "$f"): exit 1 naming city.mmdb as corrupt" "rc=$rc: $out"
    fi
done
cp "$MMDB" "$D/city.mmdb"
"$GEODNSD" --check -c "$CONF" >/dev/null 2>&1
expect_eq "--check: the good database passes" "$?" 0

dns_start "$CONF" || dns_finish
regions "start"

# refused FILE TEXT CHECK: FILE replaces the database; the reload it starts must log "reload
# failed" followed by TEXT (CHECK names the assertion), and the answers must stay as they were.
refused() {
    local file=$1 text=$2 check=$3 from line
    from=$(($(log_lines) + 1))
    replace "$D/city.mmdb" "$file"
    if wait_reload 'reload (ok|failed)' "$from"; then
        line=$(tail -n +"$from" "$LOG" | grep -E -m1 'reload (ok|failed)')
        if [[ $line == *"reload failed"*"$text"* ]]; then
            pass "$check"
        else
            fail "$check" "$line"
        fi
    else
        fail "$check" "no reload line: $(tail -n +"$from" "$LOG" | tail -n 5)"
    fi
    regions "after $(basename "$file")"
}
refused "$BAD" "corrupt GeoIP database" "corrupt mmdb -> 'reload failed' with the reason"
refused "$CUT" city.mmdb "cut mmdb -> 'reload failed' naming it"
alive "server alive after two refused databases"
dns_stop
expect_eq "SIGTERM: exit status 0" "$STOP_STATUS" 0
finish
