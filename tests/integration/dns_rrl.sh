#!/usr/bin/env bash
# dns_rrl: response rate limiting with rrl {responses_per_second: 5, slip: 2}: a flood from one
# source is mostly dropped, about half of the limited responses go out truncated (TC=1, question
# and OPT kept); the flooded source still gets other names in full (a bucket per name), while
# names that do not exist share one bucket per zone, names under one wildcard one bucket; another /24 is answered in full meanwhile;
# TCP from the flooded source is always
# answered; an exempt prefix is never limited; a client sending back a valid server cookie is
# answered in full while the same source without it is limited; reloads turn it off and on;
# config errors are refused with their position. Counts only, no timing.
. "${SRC:-$(dirname "$0")/../..}/tests/lib/dns-lib.sh"
dns_init
conf=$DATA/rrl.yaml
sed -e 's/^workers:.*//' "$DATA/geodnsd.yaml" >"$conf"
# One worker: one UDP thread per listener, so every flood packet meets the same buckets.
cat >>"$conf" <<'YAML'
workers: 1
rrl: {responses_per_second: 5, slip: 2, exempt: ["127.0.2.0/24"], table_size: 1024}
YAML
dns_start "$conf" || finish

out=$(timeout 60 python3 - "$PORT" <<'PYEOF'
import os, select, socket, struct, sys, time
port = int(sys.argv[1])
SERVER = ('127.0.0.1', port)
QNAME = b'\x03www\x07example\x04test\x00'

def wire(name):
    return b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\x00'

def query(qid, cookie=None, qname=QNAME):
    opts = b''
    if cookie is not None:
        opts = struct.pack('>HH', 10, len(cookie)) + cookie
    opt = b'\x00' + struct.pack('>HHIH', 41, 1232, 0, len(opts)) + opts
    return struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 1) + qname + struct.pack('>HH', 1, 1) + opt

def sock(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ip, 0))
    s.setblocking(False)
    return s

def classify(d, st):
    if len(d) < 12:
        st['bad'] += 1
        return
    fl, qd, an, ns, ar = struct.unpack('>HHHHH', d[2:12])
    if fl & 0x000f == 3:
        st['nxdomain_full' if not fl & 0x0200 else 'tc'] += 1
        return
    if fl & 0x0200:
        st['tc'] += 1
        # Truncated: question kept, no records, OPT kept (the OPT root name then type 41).
        qend = 12 + len(QNAME) + 4
        if qd == 1 and an == 0 and ns == 0 and ar == 1 and d[12:12 + len(QNAME)] == QNAME \
                and d[qend:qend + 3] == b'\x00\x00\x29' and len(d) >= qend + 11:
            st['tc_ok'] += 1
    elif an > 0:
        st['full'] += 1
    else:
        st['other'] += 1

def drain(s, st, wait):
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], min(left, 0.2))
        if not r:
            if st['replies'] >= st['sent']:
                return
            continue
        while True:
            try:
                d = s.recv(4096)
            except BlockingIOError:
                break
            st['replies'] += 1
            classify(d, st)

def new_stats():
    return dict(sent=0, replies=0, full=0, tc=0, tc_ok=0, other=0, bad=0, nxdomain_full=0)

def flood(s, n, cookie=None, side=None, side_every=0, side_st=None, names=None):
    st = new_stats()
    t0 = time.monotonic()
    for i in range(n):
        try:
            s.sendto(query(i & 0xffff, cookie, wire(names[i]) if names else QNAME), SERVER)
            st['sent'] += 1
        except BlockingIOError:
            drain(s, st, 0.01)
        if side and side_every and i % side_every == 0 and side_st['sent'] < 5:
            side.sendto(query(50000 + i % 1000), SERVER)
            side_st['sent'] += 1
        if i % 64 == 63:
            drain(s, st, 0)
    st['secs'] = time.monotonic() - t0
    drain(s, st, 2.0)
    return st

def show(name, st):
    for k, v in st.items():
        print('%s_%s=%s' % (name, k, int(v + 0.999) if isinstance(v, float) else v))

# 1. Flood from 127.0.0.1; meanwhile 5 queries (one burst) from another /24.
a = sock('127.0.0.1')
other = sock('127.0.1.1')
other_st = new_stats()
st = flood(a, 2000, side=other, side_every=300, side_st=other_st)
drain(other, other_st, 2.0)
show('flood', st)
show('other', other_st)

# 1b. From the flooded source, right after: other names each have their own bucket (5 of each
#     answered in full), while names that do not exist share their zone's bucket.
show('names', flood(a, 20, names=['mail.example.test', 'sip.example.test', 'c3.example.test',
                                  'ns2.example.test'] * 5))
show('nx', flood(a, 300, names=['nx%d.example.test' % i for i in range(300)]))
# ... and so do names a wildcard answers (BIND: counted as for the wildcard's parent).
show('wild', flood(a, 300, names=['w%d.wild.example.test' % i for i in range(300)]))

# 2. TCP from the flooded source, right after the flood.
ok = 0
for i in range(5):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(('127.0.0.1', 0))
    t.settimeout(5)
    t.connect(SERVER)
    m = query(7000 + i)
    t.sendall(struct.pack('>H', len(m)) + m)
    d = b''
    try:
        while len(d) < 2 or len(d) < 2 + struct.unpack('>H', d[:2])[0]:
            c = t.recv(4096)
            if not c:
                break
            d += c
    except OSError:
        pass
    t.close()
    if len(d) > 14:
        fl, qd, an = struct.unpack('>HHH', d[4:10])
        if not fl & 0x0200 and an > 0:
            ok += 1
print('tcp_full=%d' % ok)

# 3. An exempt prefix flooding: answered in full.
e = sock('127.0.2.1')
show('exempt', flood(e, 300))

# 4. Cookies: learn our server cookie from one reply (it may be limited: retry, bounded), then
#    flood with it from the flooded /24; the same socket without a cookie stays limited.
c = sock('127.0.0.1')
client = os.urandom(8)
server_cookie = None
for i in range(200):
    c.sendto(query(9000 + i, client), SERVER)
    r, _, _ = select.select([c], [], [], 0.5)
    if not r:
        continue
    d = c.recv(4096)
    # The OPT is the last record: find the COOKIE option (code 10) in its rdata.
    k = d.find(b'\x00\x0a\x00\x18' + client)
    if k > 0:
        server_cookie = d[k + 12:k + 28]
        break
print('got_cookie=%d' % (server_cookie is not None))
if server_cookie:
    show('cookie', flood(c, 300, cookie=client + server_cookie))
show('nocookie', flood(c, 300))
PYEOF
)
echo "$out" | sed 's/^/# /'
val() { printf '%s\n' "$out" | sed -n "s/^$1=//p"; }
# assert DESC CONDITION DETAIL: pass when the shell condition holds.
assert() { if eval "$2" 2>/dev/null; then pass "$1"; else fail "$1" "${3:-}"; fi; }

sent=$(val flood_sent); full=$(val flood_full); tc=$(val flood_tc); secs=$(val flood_secs)
limited=$((sent - full))
# Full answers: at most the burst plus the rate over the flood's duration, plus a margin.
bound=$((5 + 5 * ${secs:-1} + 10))
assert "flood: 2000 queries sent" "[ ${sent:-0} -eq 2000 ]" "sent=$sent"
assert "flood: full answers <= $bound (burst 5 + 5/s x ${secs}s + 10)" "[ ${full:-0} -le $bound ]" "full=$full"
assert "flood: at least one full answer (the burst)" "[ ${full:-0} -ge 1 ]" "full=$full"
# slip 2: half of the limited responses go out truncated (the rest are dropped; allow for a few
# datagrams lost on the way and rounding).
assert "flood: about half of the $limited limited responses truncated (TC=1): $tc" \
    "[ ${tc:-0} -ge $((limited * 45 / 100)) ] && [ ${tc:-0} -le $((limited * 55 / 100 + 2)) ]" "tc=$tc"
assert "flood: every truncated reply has TC=1, the question, no records and the OPT" \
    "[ ${tc:-0} -eq $(val flood_tc_ok) ]" "tc=$tc tc_ok=$(val flood_tc_ok)"
assert "flood: no other reply" "[ $(val flood_other) -eq 0 ] && [ $(val flood_bad) -eq 0 ]" "$out"
assert "the flooded source, 4 other names x 5: all 20 answered in full (a bucket per name)" \
    "[ $(val names_full) -eq 20 ]" "names_full=$(val names_full)"
nxfull=$(val nx_nxdomain_full); nxsecs=$(val nx_secs)
assert "the flooded source, 300 names that do not exist: one bucket for their zone (full NXDOMAIN <= $((5 + 5 * ${nxsecs:-1} + 10)))" \
    "[ ${nxfull:-0} -le $((5 + 5 * ${nxsecs:-1} + 10)) ] && [ ${nxfull:-0} -ge 1 ] && [ $(val nx_tc) -ge 100 ]" \
    "nx_nxdomain_full=$nxfull nx_tc=$(val nx_tc)"
wfull=$(val wild_full); wsecs=$(val wild_secs)
assert "the flooded source, 300 names under one wildcard: one bucket (full answers <= $((5 + 5 * ${wsecs:-1} + 10)))" \
    "[ ${wfull:-0} -le $((5 + 5 * ${wsecs:-1} + 10)) ] && [ ${wfull:-0} -ge 1 ] && [ $(val wild_tc) -ge 100 ]" \
    "wild_full=$wfull wild_tc=$(val wild_tc)"
assert "another /24 during the flood: all 5 answered in full" "[ $(val other_full) -eq 5 ]" \
    "other_full=$(val other_full)"
assert "TCP from the flooded source: 5 of 5 answered in full" "[ $(val tcp_full) -eq 5 ]" \
    "tcp_full=$(val tcp_full)"
assert "exempt prefix 127.0.2.0/24: 300 of 300 answered in full" "[ $(val exempt_full) -eq 300 ]" \
    "exempt_full=$(val exempt_full)"
assert "cookie: the server cookie was learnt" "[ $(val got_cookie) -eq 1 ]" "$out"
assert "valid server cookie from the flooded /24: 300 of 300 answered in full" \
    "[ $(val cookie_full) -eq 300 ]" "cookie_full=$(val cookie_full)"
assert "same source without the cookie: limited (at most 20 of 300 in full)" \
    "[ $(val nocookie_full) -le 20 ] && [ $(val nocookie_tc) -ge 100 ]" \
    "nocookie_full=$(val nocookie_full) nocookie_tc=$(val nocookie_tc)"
alive "server alive after the floods"

# Reloads: rrl off (every answer in full), then on again (limited again, new buckets).
# full_of N: N identical queries from 127.0.0.1, fast; prints how many came back in full.
full_of() {
    timeout 30 python3 - "$PORT" "$1" <<'PYEOF'
import select, socket, struct, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
q = struct.pack('>HHHHHH', 1, 0x0100, 1, 0, 0, 0) + b'\x03www\x07example\x04test\x00\x00\x01\x00\x01'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(('127.0.0.1', 0))
full = got = 0
for i in range(n):
    s.sendto(q, ('127.0.0.1', port))
end = time.monotonic() + 2
while got < n and time.monotonic() < end:
    if select.select([s], [], [], 0.2)[0]:
        d = s.recv(4096)
        got += 1
        if not struct.unpack('>H', d[2:4])[0] & 0x0200 and struct.unpack('>H', d[6:8])[0] > 0:
            full += 1
print(full)
PYEOF
}
reload_to() {
    local n
    n=$(log_lines)
    printf '%s\n' "$1" >"$conf.new" && mv "$conf.new" "$conf"
    kill -HUP "$SERVER_PID"
    wait_log 'reload ok' 10 $((n + 1))
}
base=$(sed -e '/^rrl:/d' "$conf")
if reload_to "$base"; then
    f=$(full_of 300)
    assert "reloaded without rrl: 300 of 300 answered in full" "[ ${f:-0} -eq 300 ]" "full=$f"
else
    fail "reload without rrl logged 'reload ok'" "$(tail -5 "$LOG")"
fi
if reload_to "$base
rrl: {responses_per_second: 5, slip: 0}"; then
    f=$(full_of 300)
    assert "reloaded with rrl again (slip 0): at most 20 of 300 in full" "[ ${f:-0} -le 20 ]" "full=$f"
else
    fail "reload with rrl logged 'reload ok'" "$(tail -5 "$LOG")"
fi

# A new table size: the main loop allocates the new buckets and the UDP threads swap them in
# between batches (the old ones go back to the main loop to be freed: ASan sees no leak at the
# stop); limiting goes on. Then sizes changing reload after reload, with queries in flight.
if reload_to "$base
rrl: {responses_per_second: 5, slip: 0, table_size: 4096}"; then
    f=$(full_of 300)
    assert "reloaded with another table size: at most 20 of 300 in full" "[ ${f:-0} -le 20 ]" "full=$f"
else
    fail "reload with another table size logged 'reload ok'" "$(tail -5 "$LOG")"
fi
for size in 1024 8192 1024 2048 4096 1024; do
    full_of 50 >/dev/null &
    flood=$!
    reload_to "$base
rrl: {responses_per_second: 5, slip: 0, table_size: $size}" || fail "reload to table_size $size" "$(tail -5 "$LOG")"
    wait "$flood"
done
f=$(full_of 300)
assert "after six size changes under traffic: still limited (at most 20 of 300 in full)" "[ ${f:-0} -le 20 ]" "full=$f"
alive "alive after the table swaps"

# Config errors name the key and its position; nothing starts.
bad() {
    local desc=$1 rrl=$2 want=$3 msg
    sed -e 's/^workers:.*//' "$DATA/geodnsd.yaml" >"$DATA/bad.yaml"
    printf 'rrl: %s\n' "$rrl" >>"$DATA/bad.yaml"
    msg=$("$GEODNSD" --check -c "$DATA/bad.yaml" 2>&1) && fail "$desc: refused" "$msg" && return
    if printf '%s\n' "$msg" | grep -Eq -- "bad\.yaml:[0-9]+:[0-9]+: .*$want"; then
        pass "$desc: refused with file:line:col ($want)"
    else
        fail "$desc: refused with file:line:col ($want)" "$msg"
    fi
}
bad "rrl without responses_per_second" '{slip: 2}' "responses_per_second"
bad "rrl exempt not a prefix" '{responses_per_second: 5, exempt: [example.com]}' "ADDR/BITS"
bad "rrl exempt /33" '{responses_per_second: 5, exempt: ["10.0.0.0/33"]}' "ADDR/BITS"
bad "rrl slip 101" '{responses_per_second: 5, slip: 101}' ""
bad "rrl unknown key" '{responses_per_second: 5, window: 15s}' "window"
finish
