# ports.sh: free_port, shared by the test libraries and scripts/demo.sh (no other state).

# free_port [ADDR...]: prints a random port free for UDP and TCP on each ADDR (default 127.0.0.1
# and ::1).
free_port() {
    python3 - "$@" <<'EOF'
import random, socket, sys
hosts = sys.argv[1:] or ["127.0.0.1", "::1"]
for _ in range(200):
    p = random.randint(20000, 60999)
    socks = []
    try:
        for host in hosts:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(fam, typ)
                socks.append(s)
                s.bind((host, p))
        print(p)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
EOF
}
