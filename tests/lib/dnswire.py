"""dnswire.py: a minimal DNS client over UDP on loopback for test and bench scripts (stdlib only):
queries with an optional ECS option, replies read into rcode, answer section and ECS scope.
Used by tests/lib/geo-lib.sh (ecs_spread) and bench/data/geo/geo-tool.py."""
import socket
import struct

T = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "OPT": 41}
TN = {v: k for k, v in T.items()}
RC = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def ecs_parse(text):
    """ "192.0.2.0/24" or "2001:db8::/56" -> e, the (family, prefix, address bytes) of wire()."""
    addr, bits = text.split("/")
    if ":" in addr:
        return (2, int(bits), socket.inet_pton(socket.AF_INET6, addr))
    return (1, int(bits), socket.inet_aton(addr))


def wire(name, qtype, e, qid=0):
    """A query, RD=0, EDNS0 (udp 1232) with the ECS option e = (family, prefix, address bytes)
    when e is given."""
    msg = struct.pack("!6H", qid, 0, 1, 0, 0, 1)
    msg += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    msg += struct.pack("!HH", T[qtype], 1)
    opt = b""
    if e:
        fam, p, raw = e
        addr = raw[:(p + 7) // 8]
        opt = struct.pack("!HHHBB", 8, 4 + len(addr), fam, p, 0) + addr
    return msg + b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(opt)) + opt


def read_name(m, p):
    labels, end = [], None
    for _ in range(128):
        l = m[p]
        if l & 0xC0 == 0xC0:
            if end is None: end = p + 2
            p = ((l & 0x3F) << 8) | m[p + 1]; continue
        if l == 0:
            return ".".join(labels).lower() + ".", (end if end is not None else p + 1)
        labels.append(m[p + 1:p + 1 + l].decode("ascii", "replace")); p += l + 1
    raise ValueError("name loop")


def rdata_text(m, t, p, rl):
    if t == 1: return socket.inet_ntoa(m[p:p + 4])
    if t == 28: return socket.inet_ntop(socket.AF_INET6, m[p:p + 16])
    if t in (2, 5): return read_name(m, p)[0]
    if t == 15: return "%d %s" % (struct.unpack("!H", m[p:p + 2])[0], read_name(m, p + 2)[0])
    if t == 6:
        a, q = read_name(m, p); b, q = read_name(m, q)
        return "%s %s %d %d %d %d %d" % ((a, b) + struct.unpack("!5I", m[q:q + 20]))
    return m[p:p + rl].hex()


def ask(sock, port, name, qtype, e, qid):
    """One query to 127.0.0.1:port (sock's timeout applies). Returns (rcode, answers in wire
    order as "owner ttl TYPE rdata", ECS scope or None), or None without a reply."""
    sock.sendto(wire(name, qtype, e, qid), ("127.0.0.1", port))
    for _ in range(3):
        try:
            r, _ = sock.recvfrom(4096)
        except socket.timeout:
            return None
        if struct.unpack("!H", r[:2])[0] == qid: break
    else:
        return None
    rcode = r[3] & 15
    qd, an, ns, ar = struct.unpack("!4H", r[4:12])
    p = 12
    for _ in range(qd): p = read_name(r, p)[1] + 4
    ans, scope = [], None
    for i in range(an + ns + ar):
        owner, p = read_name(r, p)
        t, c, ttl, rl = struct.unpack("!HHIH", r[p:p + 10]); p += 10
        if i < an: ans.append("%s %d %s %s" % (owner, ttl, TN.get(t, t), rdata_text(r, t, p, rl)))
        if t == 41:
            q = p
            while q + 4 <= p + rl:
                oc, ol = struct.unpack("!HH", r[q:q + 4])
                if oc == 8 and ol >= 4: scope = r[q + 7]
                q += 4 + ol
        p += rl
    return RC.get(rcode, str(rcode)), ans, scope
