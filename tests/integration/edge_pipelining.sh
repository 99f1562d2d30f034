#!/bin/bash
# edge_pipelining: a flood of pipelined requests sent in one go, each answered at once (a small
# file in origin mode goes out whole with sendfile), is answered in order with a flat stack: each
# such answer used to start the next request from inside itself, one nested call chain per
# request in the 16 KiB read buffer, and 600 of them crashed a server run with a 512 KiB stack.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
echo hello >"$T/root/a.ts"
PO=$(free_port)
# A stack that holds the server's work but not one call chain per buffered request (ulimit -s
# as a service manager may set it; the worker threads take the same size).
( ulimit -s 512 && exec "$EDGE" --listen 127.0.0.1:$PO --root "$T/root" --no-access-log ) \
    2>"$T/origin.log" &
LAST_PID=$!
EDGE_PIDS+=("$LAST_PID")
wait_listening origin "$LAST_PID"

python3 - 127.0.0.1 "$PO" "$SRC/tests/lib" <<'PY' >"$T/pipe.out"
import re, sys
sys.path.insert(0, sys.argv[3])
import rawhttp
host, port = sys.argv[1], int(sys.argv[2])
n = 600
req = b"GET /a.ts HTTP/1.1\r\nHost: x\r\n\r\n"
buf = rawhttp.exchange_all(host, port, req * n +
                           b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=30)
codes = re.findall(rb"HTTP/1\.1 (\d{3}) ", buf)
bodies = buf.count(b"\r\n\r\nhello\n")
print("%s: %d pipelined requests and a last one: %d answers (want %d), %d of them 200"
      % ("ok" if len(codes) == n + 1 and codes.count(b"200") == n + 1 else "FAIL",
         n, len(codes), n + 1, codes.count(b"200")))
print("%s: every file answer carries the file (%d of %d)" % ("ok" if bodies == n else "FAIL", bodies, n))
PY
expect_eq "the pipelining script ran to its end" "$?" 0
checks_from "$T/pipe.out"
check "the server runs on after the flood" kill -0 "$LAST_PID"
expect_eq "and answers a new connection" "$(curl -s -m 10 http://127.0.0.1:$PO/a.ts)" hello
finish
