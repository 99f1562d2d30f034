# path-lib.sh: the pieces of the whole delivery path on one machine, shared by scripts/demo.sh
# and the end-to-end tests: a run-time copy of the example config (mmdb path and edge port
# rewritten), a sample HLS set, segment-edges, and a local unbound that delegates
# cdn.example.test to geodnsd with EDNS Client Subnet (docs/demo.md).
#
# No assertions here (tests bring dns-lib.sh's): each function returns non-zero on failure,
# with the reason on stderr. Every process it starts is appended to PATH_PIDS; the caller stops
# them (path_stop_all) from its EXIT trap. Everything binds loopback addresses only.
#
# Usage: . tests/lib/path-lib.sh; PATH_BIN=build/bin
#        path_example_conf zones "$RUN/zones" "$PWD/build/example-city.mmdb" 8080
#        path_make_hls "$RUN/hls" 4; path_start_edge "$RUN/fra.log" --listen 127.0.1.1:8080 ...
#        path_unbound_conf "$RUN/unbound.conf" "$RUN" 127.0.0.1 5354 127.0.0.1 5353
#        path_start_unbound "$RUN/unbound.conf" "$RUN/unbound.log"

PATH_PIDS=()
PATH_LAST_PID=""
: "${PATH_SLOW:=${DNS_SLOW:-1}}"

# path_example_conf ZONES_DIR DEST MMDB EDGE_PORT: copies the example config (ZONES_DIR/*.yaml)
# into DEST with geoip.mmdb set to MMDB (an absolute path) and the PoPs' probe URLs on
# EDGE_PORT instead of 8080.
path_example_conf() {
    local src=$1 dest=$2 mmdb=$3 port=$4
    case $mmdb in /*) ;; *) echo "path_example_conf: $mmdb is not an absolute path" >&2; return 1 ;; esac
    mkdir -p "$dest" || return 1
    cp "$src"/*.yaml "$dest"/ || return 1
    sed -i "s#^geoip: {mmdb: [^,]*,#geoip: {mmdb: $mmdb,#" "$dest/geodnsd.yaml"
    grep -q "^geoip: {mmdb: $mmdb," "$dest/geodnsd.yaml" || {
        echo "path_example_conf: cannot point geoip.mmdb of $dest/geodnsd.yaml at $mmdb" >&2
        return 1
    }
    sed -i "s#\(url: \"http://127\.0\.[0-9]*\.1\):8080/#\1:$port/#" "$dest/pops.yaml"
    [ "$(grep -c "url: \"http://127\.0\.[1-4]\.1:$port/healthz\"" "$dest/pops.yaml")" = 4 ] || {
        echo "path_example_conf: expected four probe URLs on port $port in $dest/pops.yaml" >&2
        return 1
    }
}

# path_make_hls DIR SECONDS: an HLS VOD set from ffmpeg's test source: three renditions
# (640x360 800k, 480x270 400k, 320x180 200k, each with AAC audio), 1 s segments, DIR/master.m3u8
# and DIR/{360p,270p,180p}/index.m3u8 + seg_NNN.ts.
path_make_hls() {
    local out=$1 dur=$2
    mkdir -p "$out" || return 1
    timeout $((120 * PATH_SLOW)) ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc=size=640x360:rate=25:duration=$dur" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$dur" \
        -filter_complex "[0:v]split=3[a][b][c];[b]scale=480:270[b2];[c]scale=320:180[c2]" \
        -map "[a]" -map "[b2]" -map "[c2]" -map 1:a -map 1:a -map 1:a \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -keyint_min 25 -sc_threshold 0 \
        -b:v:0 800k -b:v:1 400k -b:v:2 200k -c:a aac -b:a 64k -ac 2 \
        -f hls -hls_time 1 -hls_playlist_type vod -master_pl_name master.m3u8 \
        -var_stream_map "v:0,a:0,name:360p v:1,a:1,name:270p v:2,a:2,name:180p" \
        -hls_segment_filename "$out/%v/seg_%03d.ts" "$out/%v/index.m3u8"
}

# path_hls_files DIR: every file of the set, relative to DIR, playlists first (master, then
# each rendition's playlist followed by its segments in playlist order).
path_hls_files() {
    local dir=$1 r
    echo master.m3u8
    for r in $(grep -v '^#' "$dir/master.m3u8" | sed 's#/index.m3u8$##'); do
        echo "$r/index.m3u8"
        grep -v '^#' "$dir/$r/index.m3u8" | sed "s#^#$r/#"
    done
}

# path_tcp_free PORT ADDR...: PORT is free for TCP on every ADDR.
path_tcp_free() {
    python3 - "$@" <<'EOF'
import socket, sys
port = int(sys.argv[1])
socks = []
try:
    for host in sys.argv[2:]:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        socks.append(s)
        # As a server binds: connections of an earlier run in TIME_WAIT do not make it busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
except OSError:
    sys.exit(1)
finally:
    for s in socks:
        s.close()
EOF
}

# path_free_port ADDR...: a random port free for TCP and UDP on every ADDR.
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
path_free_port() {
    free_port "$@"
}

# path_wait_log LOG PATTERN PID SECONDS: bounded wait for PATTERN (grep -E) in LOG while PID
# runs.
path_wait_log() {
    local log=$1 pat=$2 pid=$3 secs=$4 i
    for ((i = 0; i < secs * 10 * PATH_SLOW; i++)); do
        grep -Eq -- "$pat" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -Eq -- "$pat" "$log" 2>/dev/null
}

# path_start_edge LOG ARGS...: segment-edge ARGS in the background (stderr to LOG), waits for
# its "listening on" line. Sets PATH_LAST_PID.
path_start_edge() {
    local log=$1
    shift
    "$PATH_BIN/segment-edge" "$@" 2>"$log" &
    PATH_LAST_PID=$!
    PATH_PIDS+=("$PATH_LAST_PID")
    path_wait_log "$log" "listening on" "$PATH_LAST_PID" 10 && return 0
    echo "segment-edge $* did not start:" >&2
    tail -n 5 "$log" >&2
    return 1
}

# path_unbound_conf FILE DIR ADDR PORT AUTH_ADDR AUTH_PORT: an unbound config listening on
# ADDR@PORT that resolves cdn.example.test by asking geodnsd at AUTH_ADDR@AUTH_PORT (a stub
# zone: glue cannot carry a port) and sends EDNS Client Subnet to it: the client's own address
# cut to /24 (/56 for IPv6), or the client's ECS option when the query has one. Every other
# name is refused, and queries leave from 127.0.0.1 only: nothing goes past loopback.
path_unbound_conf() {
    local file=$1 dir=$2 addr=$3 port=$4 auth=$5 aport=$6
    cat >"$file" <<EOF
# unbound for the local delivery path (tests/lib/path-lib.sh; docs/demo.md explains each line).
server:
    interface: $addr@$port
    port: $port
    so-reuseport: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    access-control: ::1/128 allow
    # Only the stub zone below is resolved, over loopback.
    outgoing-interface: 127.0.0.1
    do-not-query-localhost: no
    local-zone: "." refuse
    local-zone: "cdn.example.test." transparent
    qname-minimisation: no
    # EDNS Client Subnet: the subnet cache module before the iterator (no validator: the
    # example zone is unsigned).
    module-config: "subnetcache iterator"
    send-client-subnet: $auth
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    max-client-subnet-ipv6: 56

stub-zone:
    name: "cdn.example.test"
    stub-addr: $auth@$aport
EOF
    unbound-checkconf "$file" >/dev/null
}

# path_start_unbound CONF LOG: unbound in the foreground, in the background (stderr to LOG);
# waits for "start of service". Sets PATH_LAST_PID.
path_start_unbound() {
    local conf=$1 log=$2
    unbound -d -c "$conf" 2>"$log" &
    PATH_LAST_PID=$!
    PATH_PIDS+=("$PATH_LAST_PID")
    path_wait_log "$log" "start of service" "$PATH_LAST_PID" 10 && return 0
    echo "unbound did not start:" >&2
    tail -n 5 "$log" >&2
    return 1
}

# path_stop PID...: SIGTERM, bounded wait (10 s), then SIGKILL. Safe under set -e.
path_stop() {
    local p i
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "$@"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    return 0
}

# path_stop_all: stops every process started here, newest first.
path_stop_all() {
    local i rev=()
    for ((i = ${#PATH_PIDS[@]} - 1; i >= 0; i--)); do rev+=("${PATH_PIDS[$i]}"); done
    [ ${#rev[@]} -eq 0 ] || path_stop "${rev[@]}"
    PATH_PIDS=()
}
