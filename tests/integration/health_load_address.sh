#!/usr/bin/env bash
# health_load_address: the load is read from an address whose probe succeeded this round. An
# address that has just stopped answering still reads up for down_after - 1 rounds (anti-flap);
# reading the status page there would lose the PoP's load while its other address serves it.
. "${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/dns-lib.sh"

hc_init health-load
P=$(free_port 127.0.11.1 127.0.11.2)

# 127.0.11.2 serves /healthz and /status (load 42); nothing listens on 127.0.11.1.
cat >"$TMP/pop.py" <<'EOF2'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b'{"load": {"value": 42}}' if self.path == "/status" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
print("listening", flush=True)
srv.serve_forever()
EOF2
: >"$TMP/pop.log"
python3 "$TMP/pop.py" 127.0.11.2 "$P" >"$TMP/pop.log" 2>&1 &
DNS_BG_PIDS+=("$!")
for ((i = 0; i < 50; i++)); do grep -q listening "$TMP/pop.log" && break; sleep 0.1; done
grep -q listening "$TMP/pop.log" || { fail "the PoP server starts" "$(cat "$TMP/pop.log")"; finish; }

cat >"$TMP/pops.yaml" <<EOF2
pops:
  fra: {location: [50.11, 8.68], addresses: [127.0.11.1, 127.0.11.2], capacity: 100,
        probe: {url: "http://127.0.11.1:$P/healthz", timeout: 5s, down_after: 3, window: 5}}
EOF2
# The previous round found both addresses up.
python3 - "$OUT/ams.json" <<'EOF2'
import json, sys, time
now = int(time.time()) - 60
a = {"state": "up", "reason": "http 200", "rtt_ms": 0.5, "history": "11111", "ok_streak": 5,
     "probes": 5, "failures": 0, "since": now - 300}
json.dump({"format": "geodns-health", "version": 1, "vantage": "ams", "time": now,
           "round_ms": 10, "pops": {"fra": {"state": "up", "load": 40, "load_reason": "",
           "addresses": {"127.0.11.1": a, "127.0.11.2": a}}}}, open(sys.argv[1], "w"))
EOF2

"$HC" --once -c "$TMP/pops.yaml" --vantage ams --out "$OUT" 2>"$TMP/hc.err"
expect_eq "the round is written (exit 0)" "$?" 0
js() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$OUT/ams.json" "$1" 2>&1; }
expect_eq "127.0.11.1 failed its probe" "$(js 'd["pops"]["fra"]["addresses"]["127.0.11.1"]["reason"]')" "connect: connection refused"
expect_eq "127.0.11.1 still reads up (1 failure of down_after 3)" "$(js 'd["pops"]["fra"]["addresses"]["127.0.11.1"]["state"]')" up
expect_eq "the load is read from 127.0.11.2, which answered" "$(js 'd["pops"]["fra"]["load"]')" 42
expect_eq "no load_reason" "$(js 'd["pops"]["fra"]["load_reason"]')" ""
finish
