# edge-lib.sh: shared helpers for the segment-edge integration tests (sourced, not a test).
# Servers bind loopback only, on free ports, and are stopped by PID from the EXIT trap.
set -u

BIN=${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
SRC=${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EDGE=$BIN/segment-edge
T=$(mktemp -d "${TMPDIR:-/tmp}/edge-test.XXXXXX")
EDGE_PIDS=()
FAILS=0

edge_cleanup() {
    local p
    for p in "${EDGE_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${EDGE_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap edge_cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FATAL: $*"; exit 1; }

# check NAME COND...: evaluate the condition, report.
check() {
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}
# expect_eq NAME GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
# expect_match NAME TEXT REGEX (grep -E, case-insensitive)
expect_match() {
    if printf '%s' "$2" | grep -qiE -- "$3"; then ok "$1"; else fail "$1: no /$3/ in: $(printf '%s' "$2" | head -c 600)"; fi
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS check(s) failed"
        for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_edge NAME ARGS...: start segment-edge in the background (log in $T/NAME.log), wait
# for its "listening" line; sets LAST_PID.
start_edge() {
    local name=$1; shift
    "$EDGE" "$@" 2>"$T/$name.log" &
    LAST_PID=$!
    EDGE_PIDS+=("$LAST_PID")
    for _ in $(seq 100); do
        grep -q "listening on" "$T/$name.log" 2>/dev/null && return 0
        kill -0 "$LAST_PID" 2>/dev/null || { cat "$T/$name.log"; die "$name exited at start"; }
        sleep 0.1
    done
    cat "$T/$name.log"
    die "$name did not start"
}

# stop_pid PID: SIGTERM and wait (not in a subshell); exit status in STOP_RC.
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    STOP_RC=$?
}

# status_field URL KEYPATH: read a number from /status JSON (e.g. cache.bytes).
status_field() {
    curl -s "$1/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(str(d).lower() if isinstance(d, bool) else d)' "$2"
}

# origin_hits LOG PATH: access lines for PATH in an origin's log.
origin_hits() {
    grep -c "access .* \"GET $2\" " "$1" || true
}

# raw_status HOST PORT: send stdin bytes as a raw request, print the status code of the reply.
raw_status() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
data = sys.stdin.buffer.read()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(data)
buf = b""
try:
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
except socket.timeout:
    pass
line = buf.split(b"\r\n", 1)[0].decode("latin-1")
print(line.split(" ")[1] if line.startswith("HTTP/1.1 ") else "none")
PY
}

# make_hls DIR [SECONDS]: a 2-rendition HLS VOD set (testsrc + sine) with master.m3u8.
make_hls() {
    local out=$1 dur=${2:-4}
    mkdir -p "$out"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=320x180:rate=25:duration=$dur" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$dur" \
        -filter_complex "[0:v]split=2[a][b];[b]scale=160:90[b2]" \
        -map "[a]" -map "[b2]" -map 1:a -map 1:a \
        -c:v libx264 -preset ultrafast -g 25 -keyint_min 25 -sc_threshold 0 \
        -b:v:0 400k -b:v:1 150k -c:a aac -b:a 64k -ac 2 \
        -f hls -hls_time 1 -hls_playlist_type vod -master_pl_name master.m3u8 \
        -var_stream_map "v:0,a:0,name:hi v:1,a:1,name:lo" \
        -hls_segment_filename "$out/%v/seg_%03d.ts" "$out/%v/index.m3u8"
}
