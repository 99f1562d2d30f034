#!/bin/bash
# edge_malformed: every malformed or smuggling request gets its status (400/405/413/414/431/...),
# the server keeps serving; header-read and idle timeouts and the connection bound close connections.
. "$(dirname "$0")/../lib/edge-lib.sh"

mkdir -p "$T/root"
echo hello >"$T/root/a.ts"
cat >"$T/o.yaml" <<YAML
timeouts: {header_read: 1s, idle: 2s}
limits: {max_connections: 6, max_header_bytes: 16k, max_uri: 4k}
YAML
PO=$(free_port)
start_edge origin -c "$T/o.yaml" --listen 127.0.0.1:$PO --root "$T/root"
PE=$(free_port)
start_edge edge -c "$T/o.yaml" --listen 127.0.1.1:$PE --origin http://127.0.0.1:$PO

python3 - 127.0.0.1 "$PO" 127.0.1.1 "$PE" "$SRC/tests/lib" <<'PY' >"$T/malformed.out"
import re, socket, sys, time
sys.path.insert(0, sys.argv[5])
import rawhttp
targets = [("origin", sys.argv[1], int(sys.argv[2])), ("edge", sys.argv[3], int(sys.argv[4]))]
big = "X-Big: " + "a" * 1000 + "\r\n"
cases = [
    ("CL+TE (smuggling)", b"POST /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
    ("TE+CL (smuggling)", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "400"),
    ("duplicate Content-Length", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "400"),
    ("conflicting Content-Length", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"),
    ("Content-Length list", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na", "400"),
    ("whitespace before colon", b"GET /a.ts HTTP/1.1\r\nHost : x\r\n\r\n", "400"),
    ("tab before colon", b"GET /a.ts HTTP/1.1\r\nHost\t: x\r\n\r\n", "400"),
    ("obs-fold", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "400"),
    ("obs-fold with tab", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", "400"),
    ("Transfer-Encoding in HTTP/1.0", b"GET /a.ts HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
    ("GET with a body (answered at its head)", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", "413"),
    ("GET with a chunked body", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "413"),
    ("HEAD with a body", b"HEAD /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", "413"),
    ("OPTIONS with a body", b"OPTIONS /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", "413"),
    ("GET with Content-Length: 0", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "200"),
    ("bad Transfer-Encoding", b"POST /a.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "400"),
    ("missing Host", b"GET /a.ts HTTP/1.1\r\n\r\n", "400"),
    ("two Host headers", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "400"),
    ("garbage request line", b"HELLO THERE\r\n\r\n", "400"),
    ("bad version", b"GET /a.ts HTTP/9.9\r\nHost: x\r\n\r\n", "400|505"),
    ("control char in header value", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", "400"),
    ("dot-dot escape", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("encoded dot-dot escape", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("encoded slash", b"GET /a%2f..%2f..%2fetc HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("encoded NUL", b"GET /a.ts%00.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("bad percent escape", b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("relative target", b"GET a.ts HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    ("method not allowed (PATCH)", b"PATCH /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "405"),
    ("method not allowed (POST)", b"POST /a.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "405"),
    ("URI too long", ("GET /" + "a" * 5000 + " HTTP/1.1\r\nHost: x\r\n\r\n").encode(), "414"),
    ("header too large", ("GET /a.ts HTTP/1.1\r\nHost: x\r\n" + big * 20 + "\r\n").encode(), "431"),
    ("too many header fields", ("GET /a.ts HTTP/1.1\r\nHost: x\r\n" + "".join("X-%d: 1\r\n" % i for i in range(80)) + "\r\n").encode(), "431"),
    ("unsupported Expect", b"GET /a.ts HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", "417"),
]

for name, host, port in targets:
    for cname, data, want in cases:
        got = rawhttp.status(host, port, data)
        ok = got in want.split("|")
        print("%s: %s: %s gives %s" % ("ok" if ok else "FAIL", name, cname, got if ok else got + " want " + want))
        alive = rawhttp.status(host, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        if alive != "200":
            print("FAIL: %s: server stopped serving after %s (%s)" % (name, cname, alive))
    print("ok: %s: still serving after all malformed requests" % name)
    if name == "origin":
        # Trailer fields after a chunked upload are read and dropped: 70 of them are no 431.
        put = (b"PUT /trailed.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\n" + b"X-T: 1\r\n" * 70 + b"\r\n")
        got = rawhttp.status(host, port, put)
        print("%s: origin: a chunked PUT with 70 trailer fields gives %s" % ("ok" if got == "201" else "FAIL", got))

    # Pipelined requests on one connection are answered in order.
    buf = rawhttp.exchange_all(host, port, b"GET /a.ts HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    codes = [m.decode() for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", buf)]
    print("%s: %s: pipelined requests answered in order %s" % ("ok" if codes == ["200", "404", "200"] else "FAIL", name, codes))

    # Header-read timeout: a request head that never completes is dropped.
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /a.ts HTTP/1.1\r\nHost: x\r\n")
    print("%s: %s: incomplete request head is closed by the header timeout" % ("ok" if rawhttp.closed_by_server(s) else "FAIL", name))
    s.close()
    # Idle timeout: an idle keep-alive connection is closed.
    s = socket.create_connection((host, port), timeout=10)
    print("%s: %s: idle connection is closed by the idle timeout" % ("ok" if rawhttp.closed_by_server(s) else "FAIL", name))
    s.close()

    # Connection bound (6): further connections are closed at once; the server recovers.
    held = [socket.create_connection((host, port), timeout=10) for _ in range(6)]
    time.sleep(0.3)
    extra = socket.create_connection((host, port), timeout=10)
    print("%s: %s: connection over the bound is closed" % ("ok" if rawhttp.closed_by_server(extra, 5) else "FAIL", name))
    extra.close()
    for h in held:
        h.close()
    time.sleep(0.3)
    alive = rawhttp.status(host, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    print("%s: %s: serving again below the bound" % ("ok" if alive == "200" else "FAIL", name))
PY
expect_eq "the malformed-request script ran to its end" "$?" 0
checks_from "$T/malformed.out"
check "/status counts bad requests" test "$(status_field http://127.0.1.1:$PE requests.bad)" -gt 20
finish
