#!/usr/bin/env bash
# status_page_browser: the status page in a real headless browser (Debian's chromium): the DOM
# it builds shows every PoP; after a state file marks fra down and the page reloads, fra's circle
# carries the down colour; the screenshot is a real image. Skips (saying why) without chromium.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/geo-lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "skip - status_page_browser: chromium is not installed (apt-get install -y chromium;" \
        "scripts/deps.sh lists it)"
    exit 0
fi
geo_init
geo_example_health

# state POP=STATE...: vantage ams's state file, each PoP at load 400 (tests/lib/health-state.py).
state() { python3 "$SRC/tests/lib/health-state.py" "$HD/ams.json" ams --load 400 "$@"; }

# browse WHAT OUT: headless chromium on the status page: --dump-dom into OUT, or a screenshot
# at OUT. A private profile in $TMP; bounded by timeout.
browse() {
    local what=$1 out=$2 args=(--headless --no-sandbox --disable-gpu --no-first-run
        --disable-extensions --user-data-dir="$TMP/chromium-profile" --window-size=1200,800)
    if [ "$what" = dom ]; then
        timeout $((60 * DNS_SLOW)) "$CHROMIUM" "${args[@]}" --dump-dom "$URL/" >"$out" \
            2>>"$TMP/chromium.log"
    else
        timeout $((60 * DNS_SLOW)) "$CHROMIUM" "${args[@]}" --screenshot="$out" "$URL/" \
            >>"$TMP/chromium.log" 2>&1
    fi
}

# circle_fill DOM POP: the fill of POP's circle in the dumped DOM.
circle_fill() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
dom, pop = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r'<g class="pop" data-pop="%s"[^>]*>\s*<circle[^>]*fill="([^"]+)"' % re.escape(pop), dom)
print(m.group(1) if m else "none")
EOF
}

state fra=up nyc=up sin=up gru=up
MPORT=$(free_port 127.0.0.1)
URL=http://127.0.0.1:$MPORT
dns_start "$CONF" --metrics "127.0.0.1:$MPORT" || finish

echo "# the page as the browser builds it"
for ((i = 0; i < 50 * DNS_SLOW; i++)); do
    curl -s --max-time 5 "$URL/status.json" | grep -q '"health_mode": "probes"' && break
    sleep 0.1
done
DOM=$TMP/dom1.html
browse dom "$DOM" || fail "chromium --dump-dom" "$(tail -n 5 "$TMP/chromium.log")"
R=$(cat "$DOM")
has "the browser parsed an SVG map" '<svg id="map"'
for p in fra nyc sin gru; do
    has "the DOM shows PoP $p on the map" "<g class=\"pop\" data-pop=\"$p\""
    has "the DOM shows PoP $p in the table" "<tr data-pop=\"$p\""
done
expect_eq "fra's circle is green while up" "$(circle_fill "$DOM" fra)" "#2e9e4f"

echo "# fra down: after a reload of the page its circle is red"
state fra=down nyc=up sin=up gru=up
for ((i = 0; i < 50 * DNS_SLOW; i++)); do
    curl -s --max-time 5 "$URL/status.json" | grep -q '"name": "fra", [^}]*"state": "down"' && break
    sleep 0.1
done
DOM=$TMP/dom2.html
browse dom "$DOM" || fail "chromium --dump-dom after fra went down" "$(tail -n 5 "$TMP/chromium.log")"
expect_eq "fra's circle carries the down colour" "$(circle_fill "$DOM" fra)" "#d63031"
R=$(cat "$DOM")
has "fra's group is marked down" '<g class="pop" data-pop="fra" data-state="down">'
expect_eq "nyc's circle stays green" "$(circle_fill "$DOM" nyc)" "#2e9e4f"

echo "# the screenshot"
SHOT=${STATUS_SHOT:-$TMP/status.png}
browse shot "$SHOT" || fail "chromium --screenshot" "$(tail -n 5 "$TMP/chromium.log")"
SIZE=$(stat -c %s "$SHOT" 2>/dev/null || echo 0)
check "the screenshot exists and is more than a blank page ($SIZE bytes)" [ "$SIZE" -gt 20000 ]
expect_eq "it is a 1200x800 PNG" "$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(24)
print("%dx%d" % struct.unpack(">II", d[16:24]) if d[:8] == b"\x89PNG\r\n\x1a\n" else "not a PNG")' \
    "$SHOT")" 1200x800
alive "geodnsd still runs"
dns_stop
finish
