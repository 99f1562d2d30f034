#!/bin/bash
# edge_access_log: one access line per request, also for a response cut short. A client that
# reads part of a large file and hangs up (origin mode), one that leaves during an edge fill,
# during a cached hit, a 206 or a pass-through body, one that asks for the last byte of a miss
# and leaves before anything is sent, a reader dropped as too slow and a client that reads
# nothing until the send timeout: each gets exactly one line, with the status sent, the bytes
# written and cut=WHY. A complete response gets one line without a marker; a connection that
# sends no request (or only part of a head) gets none. Lines are waited for with a generous
# bound; no time is asserted.
. "$(dirname "$0")/../lib/edge-lib.sh"

# client.py MODE PORT PATH [ARG] [HEADER]: a client with a small receive buffer.
#   leave N: ask for PATH, read at least N bytes of the response, close with the rest unread.
#   abort:   ask for PATH and close at once.
#   stall S: ask for PATH, read nothing, close after S seconds (or when killed).
#   none:    connect and close without a byte. partial: half a request head, then close.
cat >"$T/client.py" <<'PY'
import socket, sys, time
mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
arg = sys.argv[4] if len(sys.argv) > 4 else "0"
extra = sys.argv[5].encode() + b"\r\n" if len(sys.argv) > 5 else b""
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
req = b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"
if mode == "leave":
    s.sendall(req)
    got = 0
    while got < int(arg):
        d = s.recv(4096)
        if not d:
            break
        got += len(d)
    print("read", got)
elif mode == "abort":
    s.sendall(req)
elif mode == "stall":
    s.sendall(req)
    time.sleep(float(arg))
elif mode == "partial":
    s.sendall(req[:10])
s.close()
PY
client() { python3 "$T/client.py" "$@" >/dev/null; }

# wait_access LOG PATH REGEX [FILTER]: wait (30 s at most) for an access line of "GET PATH" in
# LOG (of those matching the extended regex FILTER, when given) matching REGEX; then check that
# there is exactly one such line. Prints the line.
wait_access() {
    local l n filter=${4:-.}
    for _ in $(seq 300); do
        l=$(grep -F "\"GET $2\" " "$T/$1.log" | grep 'access ' | grep -E -- "$filter" | tail -1)
        [ -n "$l" ] && break
        sleep 0.1
    done
    expect_match "$2: its access line ($l)" "$l" "$3"
    n=$(grep -F "\"GET $2\" " "$T/$1.log" | grep 'access ' | grep -cE -- "$filter")
    expect_eq "$2: exactly one access line${4:+ with $4}" "$n" 1
    ACCESS_LINE=$l
}
# bytes_of LINE: the bytes field of an access line.
bytes_of() { sed -E 's/.*" ([0-9]{1,3}) ([0-9]+) .*/\2/' <<<"$1"; }

# ---- origin mode ----
mkdir -p "$T/root"
head -c $((40 << 20)) /dev/urandom >"$T/root/huge.mp4"
echo hello >"$T/root/a.txt"
cp "$T/root/huge.mp4" "$T/root/stall.mp4"
printf 'timeouts: {send: 1s}\n' >"$T/o.yaml"
PO=$(free_port)
start_edge origin -c "$T/o.yaml" --listen 127.0.0.1:$PO --root "$T/root"

client leave $PO /huge.mp4 1000
wait_access origin /huge.mp4 '" 200 [0-9]+ [0-9.]+ms cache=- origin_ms=0\.0 cut=client$'
b=$(bytes_of "$ACCESS_LINE")
check "/huge.mp4: some bytes and not the whole file written ($b)" \
    test "$b" -gt 1000 -a "$b" -lt $((40 << 20))

code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PO/a.txt)
expect_eq "a complete request is served" "$code" 200
wait_access origin /a.txt '" 200 [0-9]+ [0-9.]+ms cache=- origin_ms=0\.0$'

client stall $PO /stall.mp4 15 &
STALL=$!
wait_access origin /stall.mp4 '" 200 [0-9]+ [0-9.]+ms cache=- origin_ms=0\.0 cut=send_timeout$'
kill $STALL 2>/dev/null
wait $STALL 2>/dev/null

# Two requests on one keep-alive connection: two lines, none cut.
curl -s -o /dev/null -o /dev/null http://127.0.0.1:$PO/a.txt?k=1 http://127.0.0.1:$PO/a.txt?k=2
wait_access origin '/a.txt?k=1' '" 200 [0-9]+ [0-9.]+ms cache=- origin_ms=0\.0$'
wait_access origin '/a.txt?k=2' '" 200 [0-9]+ [0-9.]+ms cache=- origin_ms=0\.0$'

# No request, or only part of a head: no line.
before=$(grep -c 'access ' "$T/origin.log")
client none $PO /
client partial $PO /a.txt?partial
curl -s -o /dev/null http://127.0.0.1:$PO/a.txt?marker
wait_access origin '/a.txt?marker' '" 200 '
expect_eq "a connection without a request has no access line" \
    "$(($(grep -c 'access ' "$T/origin.log") - before))" 1

# ---- edge mode ----
# /hold/N/NAME: N bytes, the first 256 KiB at once, the rest after 60 s. /holdhead/N/NAME: the
# head after 60 s (nothing can be sent before it). /fast/N/NAME: N bytes at once.
cat >"$T/origin.py" <<'PY'
import time
import fake_origin
def handle(req):
    parts = req.path.split("/")
    size = int(parts[2]) if len(parts) >= 4 and parts[2].isdigit() else 6
    if parts[1] == "holdhead":
        time.sleep(60)
    req.send_head(200, [("Content-Type", "application/octet-stream")], size)
    if parts[1] == "hold":
        first = min(size, 256 * 1024)
        req.write(bytes(first))
        time.sleep(60)
        req.write(bytes(size - first))
    elif parts[1] == "fast":
        block = bytes(1 << 20)
        while req.sent < size:
            req.write(block[:min(len(block), size - req.sent)])
    else:
        req.write(b"small\n")
fake_origin.main(handle, keep_alive=True)
PY
PF=$(free_port)
start_origin fake "$T/origin.py" $PF
printf 'timeouts: {slow_reader: 1s}\n' >"$T/e.yaml"
PE=$(free_port)
start_edge edge -c "$T/e.yaml" --listen 127.0.0.1:$PE --origin http://127.0.0.1:$PF \
    --cache-mem 64M --max-object 32M
E=http://127.0.0.1:$PE

client leave $PE /hold/8388608/fill.bin 10000
wait_access edge /hold/8388608/fill.bin '" 200 [0-9]+ [0-9.]+ms cache=MISS origin_ms=[0-9.]+ cut=client$'
check "the fill's client got part of the body ($(bytes_of "$ACCESS_LINE") bytes)" \
    test "$(bytes_of "$ACCESS_LINE")" -gt 10000

client abort $PE /holdhead/8388608/last.bin 0 'Range: bytes=-1'
wait_access edge /holdhead/8388608/last.bin '" 0 0 [0-9.]+ms cache=MISS origin_ms=[0-9.]+ cut=client$'

code=$(curl -s -o /dev/null -w '%{http_code}' $E/fast/8388608/hit.bin)
expect_eq "a complete miss is served" "$code" 200
wait_access edge /fast/8388608/hit.bin '" 200 [0-9]+ [0-9.]+ms cache=MISS origin_ms=[0-9.]+$'
check "the complete response's bytes: head and whole body" test "$(bytes_of "$ACCESS_LINE")" -gt 8388608
client leave $PE /fast/8388608/hit.bin 1000
wait_access edge /fast/8388608/hit.bin '" 200 [0-9]+ [0-9.]+ms cache=HIT origin_ms=[0-9.]+ cut=client$' \
    '" 200 .*cache=HIT'

client leave $PE /fast/8388608/hit.bin 1000 'Range: bytes=100-'
wait_access edge /fast/8388608/hit.bin 'cache=HIT origin_ms=[0-9.]+ cut=client$' '" 206 '

# A hit from the disk tier (sent with sendfile): two 10 MiB objects in 16 MiB of memory, the
# first one evicted to disk, then asked again and left after its first bytes.
cat >"$T/d.yaml" <<YAML
cache_memory: 16M
max_object: 12M
cache_disk: {path: "$T/disk", size: 64M}
YAML
PD=$(free_port)
start_edge edge_disk -c "$T/d.yaml" --listen 127.0.0.1:$PD --origin http://127.0.0.1:$PF
curl -s -o /dev/null http://127.0.0.1:$PD/fast/10485760/d1.bin
curl -s -o /dev/null http://127.0.0.1:$PD/fast/10485760/d2.bin
for _ in $(seq 300); do
    [ "$(status_field http://127.0.0.1:$PD disk.objects)" -ge 1 ] && break
    sleep 0.1
done
check "the first object went to disk" test "$(status_field http://127.0.0.1:$PD disk.objects)" -ge 1
client leave $PD /fast/10485760/d1.bin 1000 'Cache-Control: only-if-cached'
wait_access edge_disk /fast/10485760/d1.bin \
    '" 200 [0-9]+ [0-9.]+ms cache=HIT origin_ms=[0-9.]+ cut=client$' 'cache=HIT'

# Pass-through (above max_object): a client leaving, and two readers that never read, dropped
# a full window behind after slow_reader.
PP=$(free_port)
start_edge edge_pt -c "$T/e.yaml" --listen 127.0.0.1:$PP --origin http://127.0.0.1:$PF \
    --cache-mem 64M --max-object 1M
client leave $PP /fast/33554432/pass.bin 1000
wait_access edge_pt /fast/33554432/pass.bin '" 200 [0-9]+ [0-9.]+ms cache=MISS origin_ms=[0-9.]+ cut=client$'
client stall $PP /fast/33554432/slow1.bin 30 &
S1=$!
client stall $PP /fast/33554432/slow2.bin 30 &
S2=$!
for _ in $(seq 300); do
    [ "$(grep -E '"GET /fast/33554432/slow[12].bin" ' "$T/edge_pt.log" | grep -c access)" -ge 2 ] && break
    sleep 0.1
done
kill $S1 $S2 2>/dev/null
wait $S1 $S2 2>/dev/null
expect_match "the slow readers were dropped" "$(cat "$T/edge_pt.log")" \
    'reader\(s\) of /fast/33554432/slow1.bin dropped'
lines=$(grep -E '"GET /fast/33554432/slow[12].bin" ' "$T/edge_pt.log" | grep access)
expect_eq "each dropped reader has one line" "$(grep -c . <<<"$lines")" 2
expect_eq "both with cut=slow_reader" \
    "$(grep -cE '" 200 [0-9]+ [0-9.]+ms cache=[A-Z]+ origin_ms=[0-9.]+ cut=slow_reader$' <<<"$lines")" 2

# Every access line keeps the documented format.
bad=$(cat "$T"/origin.log "$T"/edge.log "$T"/edge_disk.log "$T"/edge_pt.log | grep 'access ' |
    grep -Evc ' access 127\.0\.0\.1 "[^"]*"( -)? [0-9]{1,3} [0-9]+ [0-9.]+ms cache=[A-Z-]+ origin_ms=[0-9.]+( read="[^"]*")?( cut=(client|send_timeout|body_timeout|slow_reader|origin|drain|error))?$')
expect_eq "every access line has the documented format" "$bad" 0
finish
