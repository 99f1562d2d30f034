#!/bin/bash
# edge_stampede: 100 concurrent cold requests for one segment make exactly one origin fetch, get
# byte-identical bodies, and every waiter receives body bytes while the fill is still running.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root/live"
head -c 1048576 /dev/urandom >"$T/root/live/seg1.ts"
PO=$(free_port)
# The origin sends bodies at 256 KiB/s: the 1 MiB fill takes about 4 s.
start_edge origin --listen 127.0.0.1:$PO --root "$T/root" --throttle 256k
PE=$(free_port)
start_edge edge --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO --workers 2

python3 - "$PE" "$T/root/live/seg1.ts" "$T/origin.log" >"$T/stampede.out" <<'PY'
import hashlib, selectors, socket, sys
port, path, origin_log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
want = hashlib.sha256(open(path, "rb").read()).hexdigest()
N = 100
sel = selectors.DefaultSelector()
conns = []
for i in range(N):
    s = socket.create_connection(("127.0.1.1", port), timeout=30)
    s.sendall(b"GET /live/seg1.ts HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
    s.setblocking(False)
    c = {"s": s, "buf": b"", "first_body": False, "done": False}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ, c)
origin_done_when_all_started = None
open_left = N
while open_left:
    for key, _ in sel.select(timeout=60):
        c = key.data
        data = c["s"].recv(262144)
        if not data:
            sel.unregister(c["s"]); c["s"].close(); c["done"] = True; open_left -= 1
            continue
        c["buf"] += data
        if not c["first_body"]:
            i = c["buf"].find(b"\r\n\r\n")
            if i >= 0 and len(c["buf"]) > i + 4:
                c["first_body"] = True
                if origin_done_when_all_started is None and all(x["first_body"] for x in conns):
                    # Every waiter has body bytes: has the origin finished sending the object?
                    log = open(origin_log).read()
                    origin_done_when_all_started = "GET /live/seg1.ts" in log
bodies_ok = 0
statuses = set()
for c in conns:
    head, _, body = c["buf"].partition(b"\r\n\r\n")
    statuses.add(head.split(b"\r\n")[0].decode())
    if hashlib.sha256(body).hexdigest() == want:
        bodies_ok += 1
print("statuses", sorted(statuses))
print("identical", bodies_ok)
print("origin_done_when_all_started", origin_done_when_all_started)
PY
cat "$T/stampede.out"
expect_match "all 100 answered 200" "$(cat "$T/stampede.out")" "statuses \['HTTP/1.1 200 OK'\]"
expect_match "all 100 bodies byte-identical to the origin's" "$(cat "$T/stampede.out")" '^identical 100$'
expect_match "every waiter got body bytes before the fill completed" "$(cat "$T/stampede.out")" \
    'origin_done_when_all_started False'
expect_eq "exactly one origin fetch" "$(origin_hits "$T/origin.log" /live/seg1.ts)" 1
U=http://127.0.1.1:$PE
expect_eq "99 requests collapsed onto the fill" "$(status_field $U cache.collapsed)" 99
expect_eq "one miss" "$(status_field $U cache.misses)" 1

# A fill whose first client leaves continues for the others.
head -c 1048576 /dev/urandom >"$T/root/live/seg2.ts"
curl -s -o /dev/null --max-time 1 "$U/live/seg2.ts" # the leader gives up after 1 s
curl -s -o "$T/seg2.got" "$U/live/seg2.ts"
check "a waiter still receives the whole object after the leader left" cmp -s "$T/seg2.got" "$T/root/live/seg2.ts"
expect_eq "still one origin fetch for seg2" "$(origin_hits "$T/origin.log" /live/seg2.ts)" 1
h=$(curl -s -D- -o /dev/null "$U/live/seg2.ts")
expect_match "then it is a hit" "$h" 'Cache-Status: segment-edge; hit'

finish
