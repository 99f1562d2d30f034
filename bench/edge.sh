#!/bin/bash
# bench/edge.sh: segment-edge vs nginx (static, and proxy_cache in front of an origin) on loopback.
# Warm hits of a ~1 MB segment and a playlist with wrk (alternating, ROUNDS rounds), then a cold
# stampede (32 clients, slow origin): time to first byte of the waiters. Not a test: prints figures.
# usage: bench/edge.sh [BUILD_DIR]; env: ROUNDS (3), DURATION (5s), CONNS (64), CPU_SERVER (0),
#   CPU_WRK (1), PARTS=cold to skip the warm part
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
EDGE=$BUILD/bin/segment-edge
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
CS=${CPU_SERVER:-0}
CW=${CPU_WRK:-1}
for t in wrk nginx curl python3; do command -v $t >/dev/null || { echo "$t is needed"; exit 1; }; done
[ -x "$EDGE" ] || { echo "no $EDGE"; exit 1; }
RUN=$(mktemp -d "${TMPDIR:-/tmp}/bench-edge.XXXXXX")
chmod 755 "$RUN"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }

mkdir -p "$RUN/hls/v" "$RUN/nginx/tmp" "$RUN/nginx/cache"
head -c 1048576 /dev/urandom >"$RUN/hls/v/seg.ts"
{ echo '#EXTM3U'; echo '#EXT-X-TARGETDURATION:2'; for i in $(seq 0 29); do echo '#EXTINF:2.0,'; echo "seg_$i.ts"; done; echo '#EXT-X-ENDLIST'; } >"$RUN/hls/v/index.m3u8"
chmod -R a+rX "$RUN"

P_SO=$(port); P_SE=$(port); P_NS=$(port); P_NO=$(port); P_NE=$(port)
run() { taskset -c "$CS" "$@" & PIDS="$PIDS $!"; }
# segment-edge: origin and edge (one worker each, no access log, as nginx below)
run "$EDGE" --listen 127.0.0.1:$P_SO --root "$RUN/hls" --no-access-log 2>"$RUN/so.log"
run "$EDGE" --listen 127.0.0.1:$P_SE --origin http://127.0.0.1:$P_SO --cache-mem 256M --no-access-log 2>"$RUN/se.log"
# nginx: static, origin and caching proxy (one worker each)
common="worker_processes 1; daemon off; master_process on; error_log $RUN/nginx/error.log warn; events { worker_connections 4096; }"
types="types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; } default_type application/octet-stream; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000; access_log off; open_file_cache max=1000; client_body_temp_path $RUN/nginx/tmp/b; proxy_temp_path $RUN/nginx/tmp/p; fastcgi_temp_path $RUN/nginx/tmp/f; uwsgi_temp_path $RUN/nginx/tmp/u; scgi_temp_path $RUN/nginx/tmp/s;"
cat >"$RUN/nginx/static.conf" <<NG
$common pid $RUN/nginx/static.pid;
http { $types server { listen 127.0.0.1:$P_NS backlog=4096; root $RUN/hls; add_header Access-Control-Allow-Origin * always; } }
NG
cat >"$RUN/nginx/origin.conf" <<NG
$common pid $RUN/nginx/origin.pid;
http { $types server { listen 127.0.0.1:$P_NO backlog=4096; root $RUN/hls;
  location /slow/ { alias $RUN/hls/; limit_rate 350k; } } }
NG
cat >"$RUN/nginx/edge.conf" <<NG
$common pid $RUN/nginx/edge.pid;
http { $types
  proxy_cache_path $RUN/nginx/cache levels=1:2 keys_zone=seg:16m max_size=2g inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$P_NO; keepalive 32; }
  server { listen 127.0.0.1:$P_NE backlog=4096;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_cache seg; proxy_cache_key \$uri;
    proxy_cache_lock on; proxy_cache_lock_timeout 30s; proxy_cache_valid 200 1h;
    add_header Access-Control-Allow-Origin * always;
    location / { proxy_pass http://origin; } } }
NG
chown -R nobody "$RUN/nginx" 2>/dev/null || true
for c in static origin edge; do run nginx -p "$RUN/nginx" -c "$RUN/nginx/$c.conf"; done
for p in $P_SO $P_SE $P_NS $P_NO $P_NE; do wait_port 127.0.0.1:$p; done

declare -A URL=(
    [edge_seg]=http://127.0.0.1:$P_SE/v/seg.ts [edge_pl]=http://127.0.0.1:$P_SE/v/index.m3u8
    [nginx_static_seg]=http://127.0.0.1:$P_NS/v/seg.ts [nginx_static_pl]=http://127.0.0.1:$P_NS/v/index.m3u8
    [nginx_cache_seg]=http://127.0.0.1:$P_NE/v/seg.ts [nginx_cache_pl]=http://127.0.0.1:$P_NE/v/index.m3u8
)
for u in "${URL[@]}"; do curl -s -o /dev/null "$u"; curl -s -o /dev/null "$u"; done # warm

if [ "${PARTS:-warm,cold}" != cold ]; then
echo "# warm hits: wrk -t1 -c$CONNS -d$DURATION, server on CPU $CS, wrk on CPU $CW, $ROUNDS rounds"
declare -A RPS MBS
for r in $(seq "$ROUNDS"); do
    for k in edge_seg nginx_static_seg nginx_cache_seg edge_pl nginx_static_pl nginx_cache_pl; do
        out=$(taskset -c "$CW" wrk -t1 -c"$CONNS" -d"$DURATION" "${URL[$k]}" 2>&1)
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        tr=$(echo "$out" | awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) {sub("GB","",v); v*=1024} else if (v ~ /MB/) {sub("MB","",v)} else if (v ~ /KB/) {sub("KB","",v); v/=1024} print v}')
        printf 'round %d  %-18s %10.0f req/s %9.1f MB/s\n' "$r" "$k" "$rps" "$tr"
        RPS[$k]="${RPS[$k]:-} $rps"; MBS[$k]="${MBS[$k]:-} $tr"
    done
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "# medians and ratios (segment-edge / nginx)"
for kind in seg pl; do
    e=$(med ${RPS[edge_$kind]}); s=$(med ${RPS[nginx_static_$kind]}); c=$(med ${RPS[nginx_cache_$kind]})
    em=$(med ${MBS[edge_$kind]}); sm=$(med ${MBS[nginx_static_$kind]}); cm=$(med ${MBS[nginx_cache_$kind]})
    printf '%-4s segment-edge %8.0f req/s %8.1f MB/s | nginx static %8.0f req/s %8.1f MB/s (x%.2f) | nginx proxy_cache %8.0f req/s %8.1f MB/s (x%.2f)\n' \
        "$kind" "$e" "$em" "$s" "$sm" "$(awk -v a="$e" -v b="$s" 'BEGIN {print a / b}')" "$c" "$cm" "$(awk -v a="$e" -v b="$c" 'BEGIN {print a / b}')"
done

fi
echo "# cold stampede: 32 concurrent GETs of a new 1 MB segment; origins send slowly (fill ~2 s):"
echo "# segment-edge origin --throttle 512k, nginx origin limit_rate 350k (nginx sends the first second at once)"
stampede() { # name url
    seq 32 | xargs -P 32 -I{} curl -s -o /dev/null -w '%{time_starttransfer} %{time_total} %{http_code}\n' "$2" >"$RUN/st.txt"
    local t tt
    t=$(awk '{print $1}' "$RUN/st.txt" | sort -n | awk '{v[NR]=$1} END {printf "min %.3fs p50 %.3fs max %.3fs", v[1], v[int((NR+1)/2)], v[NR]}')
    tt=$(awk '{print $2}' "$RUN/st.txt" | sort -n | tail -1)
    printf '%-30s ttfb %s | slowest total %.3fs | codes %s\n' "$1" "$t" "$tt" "$(awk '{print $3}' "$RUN/st.txt" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
}
for r in $(seq "$ROUNDS"); do
    cp "$RUN/hls/v/seg.ts" "$RUN/hls/v/cold_$r.ts"; chmod a+r "$RUN/hls/v/cold_$r.ts"
    # segment-edge: an origin in throttle mode (1 MB/s) behind a fresh edge
    P_TO=$(port); P_TE=$(port)
    run "$EDGE" --listen 127.0.0.1:$P_TO --root "$RUN/hls" --throttle 512k --no-access-log 2>/dev/null; TO=$!
    run "$EDGE" --listen 127.0.0.1:$P_TE --origin http://127.0.0.1:$P_TO --no-access-log 2>/dev/null; TE=$!
    wait_port 127.0.0.1:$P_TO; wait_port 127.0.0.1:$P_TE
    stampede "segment-edge round $r" "http://127.0.0.1:$P_TE/v/cold_$r.ts"
    kill $TO $TE; wait $TO $TE 2>/dev/null || true
    stampede "nginx proxy_cache round $r" "http://127.0.0.1:$P_NE/slow/v/cold_$r.ts"
done
