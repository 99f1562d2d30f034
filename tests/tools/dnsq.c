/* dnsq: a query tool for geodnsd's integration tests; crafts (also malformed) queries for a
 * loopback server and checks every reply with ldns, an independent DNS implementation. */

#include "dnsq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#define MAXPKT  65535
#define MAXOPTS 16

typedef struct dnsq_opt {
    uint16_t code;
    size_t len;
    uint8_t data[512];
} dnsq_opt_t;

typedef struct dnsq_args {
    const char *server;
    int port;
    int tcp;
    const char *qname;
    uint8_t qname_wire[512];
    size_t qname_wire_len;
    int qname_wire_set;
    uint16_t qtype, qclass;
    int id;
    int rd, cd, ad, z, qr, aa, tc;
    int opcode;
    int edns;
    int bufsize, edns_version, dobit, ednsflags, extrcode;
    int two_opt, opt_owner_nonroot;
    uint8_t opt_rdata[2048];
    size_t opt_rdata_len;
    int opt_rdata_set;
    dnsq_opt_t opts[MAXOPTS];
    int nopts;
    int qdcount, questions;
    uint8_t append[512];
    size_t append_len;
    int truncate_by;
    uint8_t raw[MAXPKT];
    size_t raw_len;
    int raw_set;
    int timeout_ms;
    int repeat, pipeline, batch, split, idle_wait_ms, hex;
} dnsq_args_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: dnsq [options] QNAME\n"
            "  --server 127.0.0.1|::1  --port N  --tcp  --type T  --class C  --id N\n"
            "  --rd --cd --ad --z --qr --aa --tc  --opcode N\n"
            "  --edns (default) | --noedns  --bufsize N  --edns-version N  --do\n"
            "  --ednsflags N  --extrcode N  --ecs ADDR/SRC[/SCOPE]  --ecs-raw HEX\n"
            "  --opt CODE:HEX (repeatable)  --opt-rdata HEX  --two-opt  --opt-owner-nonroot\n"
            "  --qdcount N  --questions N  --qname-hex HEX  --append HEX  --truncate-by N\n"
            "  --raw HEX  --timeout MS  --repeat N  --pipeline N  --batch N  --split\n"
            "  --idle-wait MS  --hex\n");
    exit(1);
}

static int hex_decode(const char *s, uint8_t *out, size_t max, size_t *outlen)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s == ' ' || *s == ':' || *s == '\n')
            continue;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= max)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0)
        return -1;
    *outlen = n;
    return 0;
}

/* Encodes a presentation name, keeping the case of every byte (0x20 tests need it). */
static int name_encode(const char *name, uint8_t *out, size_t max, size_t *outlen)
{
    size_t n = 0;
    const char *p = name;
    if (strcmp(name, ".") == 0) {
        out[0] = 0;
        *outlen = 1;
        return 0;
    }
    while (*p) {
        size_t lenpos = n++;
        size_t l = 0;
        if (n >= max)
            return -1;
        while (*p && *p != '.') {
            uint8_t c = (uint8_t)*p++;
            if (c == '\\' && p[0] >= '0' && p[0] <= '9' && p[1] && p[2]) {
                c = (uint8_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
                p += 3;
            } else if (c == '\\' && *p) {
                c = (uint8_t)*p++;
            }
            if (n >= max)
                return -1;
            out[n++] = c;
            l++;
        }
        if (l == 0 || l > 63)
            return -1;
        out[lenpos] = (uint8_t)l;
        if (*p == '.')
            p++;
    }
    if (n >= max)
        return -1;
    out[n++] = 0;
    *outlen = n;
    return 0;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A prefix length of an ECS option: 0..255 in decimal digits, nothing else (-1 otherwise). */
static int prefix_len(const char *s)
{
    int v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > 255)
            return -1;
    }
    return v;
}

static int parse_ecs(const char *arg, dnsq_opt_t *o)
{
    char buf[128];
    char *slash, *slash2;
    int src, scope = 0, family;
    uint8_t addr[16];
    snprintf(buf, sizeof buf, "%s", arg);
    slash = strchr(buf, '/');
    if (!slash)
        return -1;
    *slash = 0;
    slash2 = strchr(slash + 1, '/');
    if (slash2) {
        *slash2 = 0;
        scope = prefix_len(slash2 + 1);
    }
    src = prefix_len(slash + 1);
    if (src < 0 || scope < 0)
        return -1;
    if (inet_pton(AF_INET, buf, addr) == 1)
        family = 1;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        family = 2;
    else
        return -1;
    size_t alen = (size_t)(src + 7) / 8;
    if (alen > (family == 1 ? 4u : 16u))
        return -1;
    o->code = 8;
    put16(o->data, (unsigned)family);
    o->data[2] = (uint8_t)src;
    o->data[3] = (uint8_t)scope;
    memcpy(o->data + 4, addr, alen);
    /* Clear bits beyond the source prefix, as RFC 7871 section 6 requires of clients. */
    if (src % 8)
        o->data[4 + alen - 1] &= (uint8_t)(0xff << (8 - src % 8));
    o->len = 4 + alen;
    return 0;
}

static size_t build_opt(const dnsq_args_t *a, uint8_t *p)
{
    size_t n = 0, rdlen = 0;
    uint32_t ttl;
    if (a->opt_owner_nonroot) {
        memcpy(p, "\001a\000", 3);
        n = 3;
    } else {
        p[n++] = 0;
    }
    put16(p + n, 41);
    put16(p + n + 2, (unsigned)a->bufsize);
    ttl = (uint32_t)a->extrcode << 24 | (uint32_t)a->edns_version << 16 | (a->dobit ? 0x8000u : 0) |
          (uint32_t)a->ednsflags;
    p[n + 4] = (uint8_t)(ttl >> 24);
    p[n + 5] = (uint8_t)(ttl >> 16);
    p[n + 6] = (uint8_t)(ttl >> 8);
    p[n + 7] = (uint8_t)ttl;
    n += 10;
    if (a->opt_rdata_set) {
        memcpy(p + n, a->opt_rdata, a->opt_rdata_len);
        rdlen = a->opt_rdata_len;
    } else {
        for (int i = 0; i < a->nopts; i++) {
            put16(p + n + rdlen, a->opts[i].code);
            put16(p + n + rdlen + 2, (unsigned)a->opts[i].len);
            memcpy(p + n + rdlen + 4, a->opts[i].data, a->opts[i].len);
            rdlen += 4 + a->opts[i].len;
        }
    }
    put16(p + n - 2, (unsigned)rdlen);
    return n + rdlen;
}

static size_t build_query(const dnsq_args_t *a, uint16_t id, uint8_t *p)
{
    size_t n = 12;
    unsigned flags = 0;
    int nopt = a->edns ? (a->two_opt ? 2 : 1) : 0;
    if (a->raw_set) {
        memcpy(p, a->raw, a->raw_len);
        return a->raw_len;
    }
    flags |= a->qr ? 0x8000u : 0;
    flags |= (unsigned)(a->opcode & 15) << 11;
    flags |= a->aa ? 0x0400u : 0;
    flags |= a->tc ? 0x0200u : 0;
    flags |= a->rd ? 0x0100u : 0;
    flags |= a->z ? 0x0040u : 0;
    flags |= a->ad ? 0x0020u : 0;
    flags |= a->cd ? 0x0010u : 0;
    put16(p, id);
    put16(p + 2, flags);
    put16(p + 4, (unsigned)a->qdcount);
    put16(p + 6, 0);
    put16(p + 8, 0);
    put16(p + 10, (unsigned)nopt);
    for (int q = 0; q < a->questions; q++) {
        memcpy(p + n, a->qname_wire, a->qname_wire_len);
        n += a->qname_wire_len;
        put16(p + n, a->qtype);
        put16(p + n + 2, a->qclass);
        n += 4;
    }
    for (int i = 0; i < nopt; i++)
        n += build_opt(a, p + n);
    memcpy(p + n, a->append, a->append_len);
    n += a->append_len;
    if (a->truncate_by > 0)
        n = (size_t)a->truncate_by >= n ? 0 : n - (size_t)a->truncate_by;
    return n;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits for readability until deadline. Returns 1 readable, 0 timeout. */
static int wait_readable(int fd, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct tcp_reader {
    uint8_t buf[2 * MAXPKT + 4];
    size_t have;
    int eof;
} tcp_reader_t;

/* Reads one framed message. Returns its length, -1 on timeout, -2 on EOF/reset. */
static long tcp_read_msg(int fd, tcp_reader_t *r, uint8_t *out, long deadline)
{
    for (;;) {
        if (r->have >= 2) {
            size_t l = get16(r->buf);
            if (r->have >= 2 + l) {
                memcpy(out, r->buf + 2, l);
                memmove(r->buf, r->buf + 2 + l, r->have - 2 - l);
                r->have -= 2 + l;
                return (long)l;
            }
        }
        if (r->eof)
            return -2;
        if (!wait_readable(fd, deadline))
            return -1;
        ssize_t n = read(fd, r->buf + r->have, sizeof r->buf - r->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r->eof = 1;
            continue;
        }
        r->have += (size_t)n;
    }
}

static int open_sock(const dnsq_args_t *a)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a->server, &s4->sin_addr) == 1) {
        if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "dnsq: refusing non-loopback server %s\n", a->server);
            exit(1);
        }
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)a->port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, a->server, &s6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
            fprintf(stderr, "dnsq: refusing non-loopback server %s\n", a->server);
            exit(1);
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)a->port);
        sl = sizeof *s6;
    } else {
        fprintf(stderr, "dnsq: bad server address %s (loopback only)\n", a->server);
        exit(1);
    }
    int fd = socket(ss.ss_family, a->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "dnsq: connect: %s\n", strerror(errno));
        printf("no reply (connect failed)\n");
        exit(EXIT_NOREPLY);
    }
    if (a->tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static size_t frame(const dnsq_args_t *a, const uint8_t *q, size_t ql, uint8_t *out)
{
    if (a->tcp && !a->raw_set) {
        put16(out, (unsigned)ql);
        memcpy(out + 2, q, ql);
        return ql + 2;
    }
    memcpy(out, q, ql);
    return ql;
}

static int run(const dnsq_args_t *a)
{
    static uint8_t q[MAXPKT + 2], f[4 * (MAXPKT + 2)], reply[MAXPKT + 2];
    static tcp_reader_t rd;
    uint16_t ids[256];
    int nq = a->pipeline > 1 ? a->pipeline : a->batch > 1 ? a->batch : 1;
    int rounds = a->repeat > 1 ? a->repeat : 1;
    int fd = open_sock(a), worst = 0, answered = 0, expected = 0;
    uint16_t base =
        a->id >= 0 ? (uint16_t)a->id : (uint16_t)(getpid() * 7919u + (unsigned)now_ms());
    long deadline;

    if (nq > 256)
        nq = 256;
    for (int r = 0; r < rounds; r++) {
        size_t fl = 0;
        for (int i = 0; i < nq; i++) {
            ids[i] = (uint16_t)(base + r * nq + i);
            size_t ql = build_query(a, ids[i], q);
            if (a->batch > 1) {
                fl += frame(a, q, ql, f + fl);
                continue;
            }
            fl = frame(a, q, ql, f);
            if (a->split) {
                for (size_t b = 0; b < fl; b++) {
                    if (write_all(fd, f + b, 1) < 0)
                        break;
                    usleep(3000);
                }
            } else if (a->tcp ? write_all(fd, f, fl) < 0 : send(fd, f, fl, 0) < 0) {
                fprintf(stderr, "dnsq: send: %s\n", strerror(errno));
            }
        }
        if (a->batch > 1 && write_all(fd, f, fl) < 0)
            fprintf(stderr, "dnsq: send: %s\n", strerror(errno));
        expected += nq;
        deadline = now_ms() + a->timeout_ms;
        for (int i = 0; i < nq; i++) {
            long n;
            if (a->tcp) {
                n = tcp_read_msg(fd, &rd, reply, deadline);
            } else {
                n = wait_readable(fd, deadline) ? recv(fd, reply, sizeof reply, 0) : -1;
            }
            if (n == -2 || (n < 0 && rd.eof)) {
                printf("no reply (connection closed)\n");
                break;
            }
            if (n < 0) {
                printf("no reply\n");
                break;
            }
            answered++;
            int rc = dnsq_report(reply, (size_t)n, ids, nq, a->hex || a->raw_set);
            if (rc > worst)
                worst = rc;
            if (a->raw_set && !a->tcp)
                break;
        }
    }
    /* With --raw over TCP the server may send more than one frame; report what else arrives. */
    if (a->raw_set && a->tcp && answered > 0) {
        long n;
        deadline = now_ms() + 300;
        while ((n = tcp_read_msg(fd, &rd, reply, deadline)) >= 0)
            dnsq_report(reply, (size_t)n, ids, nq, 1);
    }
    if (nq > 1 || rounds > 1)
        printf("answered=%d/%d\n", answered, expected);
    if (a->idle_wait_ms > 0 && a->tcp) {
        deadline = now_ms() + a->idle_wait_ms;
        long n;
        while ((n = tcp_read_msg(fd, &rd, reply, deadline)) >= 0)
            printf("unexpected frame len=%ld\n", n);
        printf("closed=%d\n", n == -2 ? 1 : 0);
    }
    close(fd);
    if (a->raw_set)
        return answered > 0 ? 0 : EXIT_NOREPLY;
    if (answered < expected)
        return worst > EXIT_NOREPLY ? worst : EXIT_NOREPLY;
    return worst;
}

static uint16_t parse_type(const char *s)
{
    if (strncasecmp(s, "TYPE", 4) == 0 && s[4] >= '0' && s[4] <= '9')
        return (uint16_t)atoi(s + 4);
    if (s[0] >= '0' && s[0] <= '9')
        return (uint16_t)atoi(s);
    ldns_rr_type t = ldns_get_rr_type_by_name(s);
    if (t == 0) {
        fprintf(stderr, "dnsq: unknown type %s\n", s);
        exit(1);
    }
    return (uint16_t)t;
}

static uint16_t parse_class(const char *s)
{
    if (strncasecmp(s, "CLASS", 5) == 0)
        return (uint16_t)atoi(s + 5);
    if (strcasecmp(s, "IN") == 0)
        return 1;
    if (strcasecmp(s, "CH") == 0)
        return 3;
    if (strcasecmp(s, "HS") == 0)
        return 4;
    if (strcasecmp(s, "NONE") == 0)
        return 254;
    if (strcasecmp(s, "ANY") == 0)
        return 255;
    fprintf(stderr, "dnsq: unknown class %s\n", s);
    exit(1);
}

int main(int argc, char **argv)
{
    static dnsq_args_t a;
    a.server = "127.0.0.1";
    a.port = 53;
    a.qtype = 1;
    a.qclass = 1;
    a.id = -1;
    a.edns = 1;
    a.bufsize = 1232;
    a.qdcount = -1;
    a.questions = -1;
    a.timeout_ms = 2000;
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (usage(), ""))
        if (!strcmp(o, "--server"))
            a.server = ARG();
        else if (!strcmp(o, "--port"))
            a.port = atoi(ARG());
        else if (!strcmp(o, "--tcp"))
            a.tcp = 1;
        else if (!strcmp(o, "--udp"))
            a.tcp = 0;
        else if (!strcmp(o, "--type"))
            a.qtype = parse_type(ARG());
        else if (!strcmp(o, "--class"))
            a.qclass = parse_class(ARG());
        else if (!strcmp(o, "--id"))
            a.id = atoi(ARG()) & 0xffff;
        else if (!strcmp(o, "--rd"))
            a.rd = 1;
        else if (!strcmp(o, "--cd"))
            a.cd = 1;
        else if (!strcmp(o, "--ad"))
            a.ad = 1;
        else if (!strcmp(o, "--z"))
            a.z = 1;
        else if (!strcmp(o, "--qr"))
            a.qr = 1;
        else if (!strcmp(o, "--aa"))
            a.aa = 1;
        else if (!strcmp(o, "--tc"))
            a.tc = 1;
        else if (!strcmp(o, "--opcode"))
            a.opcode = atoi(ARG());
        else if (!strcmp(o, "--edns"))
            a.edns = 1;
        else if (!strcmp(o, "--noedns"))
            a.edns = 0;
        else if (!strcmp(o, "--bufsize"))
            a.bufsize = atoi(ARG());
        else if (!strcmp(o, "--edns-version"))
            a.edns_version = atoi(ARG());
        else if (!strcmp(o, "--do"))
            a.dobit = 1;
        else if (!strcmp(o, "--ednsflags"))
            a.ednsflags = (int)strtol(ARG(), NULL, 0) & 0x7fff;
        else if (!strcmp(o, "--extrcode"))
            a.extrcode = atoi(ARG());
        else if (!strcmp(o, "--two-opt"))
            a.two_opt = 1;
        else if (!strcmp(o, "--opt-owner-nonroot"))
            a.opt_owner_nonroot = 1;
        else if (!strcmp(o, "--ecs") || !strcmp(o, "--ecs-raw") || !strcmp(o, "--opt")) {
            const char *v = ARG();
            if (a.nopts >= MAXOPTS)
                usage();
            dnsq_opt_t *op = &a.opts[a.nopts++];
            if (!strcmp(o, "--ecs")) {
                if (parse_ecs(v, op) < 0) {
                    fprintf(stderr, "dnsq: bad --ecs %s\n", v);
                    return 1;
                }
            } else if (!strcmp(o, "--ecs-raw")) {
                op->code = 8;
                if (hex_decode(v, op->data, sizeof op->data, &op->len) < 0)
                    usage();
            } else {
                const char *colon = strchr(v, ':');
                if (!colon)
                    usage();
                op->code = (uint16_t)atoi(v);
                if (hex_decode(colon + 1, op->data, sizeof op->data, &op->len) < 0)
                    usage();
            }
        } else if (!strcmp(o, "--opt-rdata")) {
            a.opt_rdata_set = 1;
            if (hex_decode(ARG(), a.opt_rdata, sizeof a.opt_rdata, &a.opt_rdata_len) < 0)
                usage();
        } else if (!strcmp(o, "--qdcount"))
            a.qdcount = atoi(ARG());
        else if (!strcmp(o, "--questions"))
            a.questions = atoi(ARG());
        else if (!strcmp(o, "--qname-hex")) {
            a.qname_wire_set = 1;
            if (hex_decode(ARG(), a.qname_wire, sizeof a.qname_wire, &a.qname_wire_len) < 0)
                usage();
        } else if (!strcmp(o, "--append")) {
            if (hex_decode(ARG(), a.append, sizeof a.append, &a.append_len) < 0)
                usage();
        } else if (!strcmp(o, "--truncate-by"))
            a.truncate_by = atoi(ARG());
        else if (!strcmp(o, "--raw")) {
            a.raw_set = 1;
            if (hex_decode(ARG(), a.raw, sizeof a.raw, &a.raw_len) < 0)
                usage();
        } else if (!strcmp(o, "--timeout"))
            a.timeout_ms = atoi(ARG());
        else if (!strcmp(o, "--repeat"))
            a.repeat = atoi(ARG());
        else if (!strcmp(o, "--pipeline"))
            a.pipeline = atoi(ARG());
        else if (!strcmp(o, "--batch"))
            a.batch = atoi(ARG());
        else if (!strcmp(o, "--split"))
            a.split = 1;
        else if (!strcmp(o, "--idle-wait"))
            a.idle_wait_ms = atoi(ARG());
        else if (!strcmp(o, "--hex"))
            a.hex = 1;
        else if (o[0] == '-' && o[1] == '-')
            usage();
        else
            a.qname = o;
#undef ARG
    }
    if (!a.raw_set && !a.qname_wire_set) {
        if (!a.qname)
            usage();
        if (name_encode(a.qname, a.qname_wire, sizeof a.qname_wire, &a.qname_wire_len) < 0) {
            fprintf(stderr, "dnsq: bad name %s (use --qname-hex for malformed names)\n", a.qname);
            return 1;
        }
    }
    if (a.questions < 0)
        a.questions = a.qdcount >= 0 ? a.qdcount : 1;
    if (a.qdcount < 0)
        a.qdcount = a.questions;
    if (a.questions > 8)
        a.questions = 8;
    return run(&a);
}
