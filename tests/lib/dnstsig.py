"""dnstsig.py: a TSIG (RFC 8945, HMAC-SHA256) client for test scripts on loopback (stdlib only):
owner names in wire form, the TSIG record that signs a message, and one query over UDP or TCP.
Used by tests/integration/dns_tsig_badtime.sh and dns_tsig_malformed.sh."""
import hashlib
import hmac
import socket
import struct


def name(n):
    """A domain name in wire form (no compression)."""
    return b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".") if l) + b"\0"


ALG = name("hmac-sha256")


def tsig_vars(key, t, error=0, other=b"", alg=ALG):
    """The TSIG variables (RFC 8945 4.3.3) of key name key (wire form) at time t."""
    return (key + struct.pack("!HI", 255, 0) + alg + struct.pack("!HIH", t >> 32, t & 0xFFFFFFFF, 300)
            + struct.pack("!HH", error, len(other)) + other)


def tsig_rr(msg, key, secret, t):
    """(the TSIG record that signs msg, a message without it, at time t; its MAC)."""
    mac = hmac.new(secret, msg + tsig_vars(key, t), hashlib.sha256).digest()
    rd = ALG + struct.pack("!HIHH", t >> 32, t & 0xFFFFFFFF, 300, len(mac)) + mac
    rd += struct.pack("!HHH", struct.unpack("!H", msg[:2])[0], 0, 0)
    return key + struct.pack("!HHIH", 250, 255, 0, len(rd)) + rd, mac


def udp(port, pkt):
    """The reply to pkt from 127.0.0.1:port over UDP, or None after 5 s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(pkt, ("127.0.0.1", port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def tcp(port, pkt):
    """The first reply to pkt from 127.0.0.1:port over TCP, or None when the connection ends
    without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(struct.pack("!H", len(pkt)) + pkt)

    def read(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                return None
            b += c
        return b
    try:
        h = read(2)
        return read(struct.unpack("!H", h)[0]) if h else None
    except OSError:
        return None
    finally:
        s.close()
