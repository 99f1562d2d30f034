# edge-lib.sh: shared helpers for the segment-edge integration tests (sourced, not a test).
# Servers bind loopback only, on free ports (free_port from ports.sh), and are stopped by PID
# from the EXIT trap. Assertions (pass, fail, skip, check, expect_eq, expect_match, die, finish)
# come from assert-lib.sh, where their meanings are written.
set -u

BIN=${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
SRC=${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EDGE=$BIN/segment-edge
T=$(mktemp -d "${TMPDIR:-/tmp}/edge-test.XXXXXX")
EDGE_PIDS=()
. "$SRC/tests/lib/assert-lib.sh"
. "$SRC/tests/lib/ports.sh"

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

# edge_show_logs: the end of every log and fake origin requests file in $T (finish calls it
# when a check failed).
edge_show_logs() {
    local f
    for f in "$T"/*.log "$T"/*.requests; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
}
ASSERT_ON_FAIL=edge_show_logs

# wait_listening NAME PID: wait (10 s at most) for the "listening on" line in $T/NAME.log of
# the server PID; the test dies if it exits or does not start.
wait_listening() {
    for _ in $(seq 100); do
        grep -q "listening on" "$T/$1.log" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || die "$1 exited at start" "$(cat "$T/$1.log")"
        sleep 0.1
    done
    die "$1 did not start" "$(cat "$T/$1.log")"
}

# start_edge NAME ARGS...: start segment-edge in the background (log in $T/NAME.log), wait
# for its "listening" line; sets LAST_PID.
start_edge() {
    local name=$1; shift
    "$EDGE" "$@" 2>"$T/$name.log" &
    LAST_PID=$!
    EDGE_PIDS+=("$LAST_PID")
    wait_listening "$name" "$LAST_PID"
}

# start_origin NAME FILE PORT [ARGS...]: start a scripted fake origin, a Python FILE built on
# tests/lib/fake_origin.py (where its behaviour is written), on 127.0.0.1:PORT in the
# background: its output ("listening on", "origin gone" lines) in $T/NAME.log, a line per
# request ("METHOD TARGET [EXTRA]") in $T/NAME.requests; ARGS are the FILE's own. Waits for its
# "listening" line; sets LAST_PID.
start_origin() {
    local name=$1 file=$2 port=$3
    shift 3
    PYTHONPATH="$SRC/tests/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
        python3 "$file" "$port" "$T/$name.requests" "$@" >"$T/$name.log" 2>&1 &
    LAST_PID=$!
    EDGE_PIDS+=("$LAST_PID")
    wait_listening "$name" "$LAST_PID"
}

# edge_refused NAME STATUS REGEX ARGS...: segment-edge with ARGS must exit with STATUS (bounded
# wait: 10 s) with a line matching REGEX on stderr ($T/NAME.log) and never say it listens.
edge_refused() {
    local name=$1 status=$2 want=$3 pid st
    shift 3
    "$EDGE" "$@" 2>"$T/$name.log" &
    pid=$!
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"; wait "$pid" 2>/dev/null
        fail "$name: still running: $(tail -n 3 "$T/$name.log")"
        return
    fi
    wait "$pid"; st=$?
    expect_eq "$name: exit status" "$st" "$status"
    expect_match "$name: says why" "$(cat "$T/$name.log")" "$want"
    check "$name: never says it listens" bash -c "! grep -q 'listening on' '$T/$name.log'"
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

# rss PID: its resident memory in bytes now. rss_watch PID: sample it every 0.1 s in the
# background until rss_peak, which stops the sampling and prints the largest reading. Each reading
# is renamed into place: a reader never sees a half-written file (seen: an empty peak under ASan,
# the read landing between the truncation and the write).
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
rss_watch() {
    local pid=$1
    echo 0 >"$T/peak"
    ( peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss "$pid"); [ "${r:-0}" -gt $peak ] && peak=$r
      echo $peak >"$T/peak.new"; mv "$T/peak.new" "$T/peak"; sleep 0.1; done ) &
    RSS_WATCH=$!
}
rss_peak() {
    kill "$RSS_WATCH" 2>/dev/null
    wait "$RSS_WATCH" 2>/dev/null
    cat "$T/peak"
}

# origin_hits LOG PATH: how many GETs of PATH (query included) LOG shows. LOG is either the log
# of a segment-edge serving as origin (start_edge: $T/NAME.log, its access lines) or the
# requests file of a fake origin (start_origin: $T/NAME.requests, "GET PATH [EXTRA]" lines).
origin_hits() {
    grep -c -e "access .* \"GET $2\" " -e "^GET $2\$" -e "^GET $2 " "$1" || true
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
