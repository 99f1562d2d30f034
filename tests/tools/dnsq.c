/* dnsq: a query tool for geodnsd's integration tests; crafts (also malformed) queries for a
 * loopback server and checks every reply with ldns, an independent DNS implementation. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

/* Exit codes: 0 every expected reply parsed and was consistent, 1 usage or local error,
 * 2 (some) reply missing, 3 a reply did not parse or its counts disagree with its content. */
enum { EXIT_NOREPLY = 2, EXIT_BADREPLY = 3 };

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

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
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

/* Bytes that name compression saved in the reply being walked (uncompressed size - size). */
static long g_saved;

/* Walks a wire name at off. Counts compression pointers; a pointer that does not point strictly
 * backwards, or points into the header, counts as bad. Returns the offset after the name in the
 * message (not following pointers), or -1. Appends the presentation form to txt if given. */
static long wire_name(const uint8_t *m, size_t len, size_t off, int *ptrs, int *badptrs, char *txt,
                      size_t txtmax)
{
    size_t pos = off, end = 0, tl = 0;
    int jumped = 0, hops = 0, total = 0;
    if (txt)
        txt[0] = 0;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t l = m[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return -1;
            size_t target = (size_t)(l & 0x3f) << 8 | m[pos + 1];
            (*ptrs)++;
            if (target >= pos || target < 12)
                (*badptrs)++;
            if (!jumped)
                end = pos + 2;
            jumped = 1;
            if (++hops > 64 || target >= len)
                return -1;
            pos = target;
            continue;
        }
        if (l & 0xc0)
            return -1;
        if (l == 0) {
            if (!jumped)
                end = pos + 1;
            g_saved += (long)(total + 1) - (long)(end - off);
            if (txt && tl == 0)
                snprintf(txt, txtmax, ".");
            return (long)end;
        }
        if (pos + 1 + l > len)
            return -1;
        total += l + 1;
        if (total > 255)
            return -1;
        if (txt) {
            for (size_t i = 0; i < l && tl + 5 < txtmax; i++) {
                uint8_t c = m[pos + 1 + i];
                if (c == '.' || c == '\\')
                    tl += (size_t)snprintf(txt + tl, txtmax - tl, "\\%c", c);
                else if (c > 32 && c < 127)
                    txt[tl++] = (char)c;
                else
                    tl += (size_t)snprintf(txt + tl, txtmax - tl, "\\%03u", c);
            }
            if (tl + 2 < txtmax)
                txt[tl++] = '.';
            txt[tl] = 0;
        }
        pos += 1 + l;
    }
}

typedef struct wire_info {
    int ok;
    int ptrs, badptrs;
    long trailing;
    int nopt;
    int opt_owner_root;
    size_t opt_off; /* offset of the (first) OPT RR's type field */
    int opt_overrun;
    char qname[1100];
    unsigned qtype, qclass;
} wire_info_t;

/* Checks that the header counts describe exactly the bytes of the message. */
static void wire_walk(const uint8_t *m, size_t len, wire_info_t *w)
{
    memset(w, 0, sizeof *w);
    g_saved = 0;
    snprintf(w->qname, sizeof w->qname, "-");
    if (len < 12)
        return;
    unsigned cnt[4] = {get16(m + 4), get16(m + 6), get16(m + 8), get16(m + 10)};
    size_t pos = 12;
    for (unsigned i = 0; i < cnt[0]; i++) {
        long e = wire_name(m, len, pos, &w->ptrs, &w->badptrs, i == 0 ? w->qname : NULL,
                           sizeof w->qname);
        if (e < 0 || (size_t)e + 4 > len)
            return;
        if (i == 0) {
            w->qtype = get16(m + e);
            w->qclass = get16(m + e + 2);
        }
        pos = (size_t)e + 4;
    }
    for (int s = 1; s < 4; s++) {
        for (unsigned i = 0; i < cnt[s]; i++) {
            int rootowner = pos < len && m[pos] == 0;
            long e = wire_name(m, len, pos, &w->ptrs, &w->badptrs, NULL, 0);
            if (e < 0 || (size_t)e + 10 > len)
                return;
            unsigned type = get16(m + e), rdlen = get16(m + e + 8);
            size_t rd = (size_t)e + 10;
            if (rd + rdlen > len)
                return;
            long ne;
            switch (type) {
            case 2:
            case 5:
            case 12:
            case 39:
            case 7:
            case 8:
            case 9:
                ne = wire_name(m, len, rd, &w->ptrs, &w->badptrs, NULL, 0);
                if (ne < 0 || (size_t)ne != rd + rdlen)
                    return;
                break;
            case 15:
            case 33: {
                size_t skip = type == 15 ? 2 : 6;
                ne = wire_name(m, len, rd + skip, &w->ptrs, &w->badptrs, NULL, 0);
                if (rdlen < skip || ne < 0 || (size_t)ne != rd + rdlen)
                    return;
                break;
            }
            case 6:
                ne = wire_name(m, len, rd, &w->ptrs, &w->badptrs, NULL, 0);
                if (ne < 0)
                    return;
                ne = wire_name(m, len, (size_t)ne, &w->ptrs, &w->badptrs, NULL, 0);
                if (ne < 0 || (size_t)ne + 20 != rd + rdlen)
                    return;
                break;
            case 41:
                if (s != 3)
                    return;
                if (w->nopt++ == 0) {
                    w->opt_off = (size_t)e;
                    w->opt_owner_root = rootowner;
                }
                for (size_t o = rd; o < rd + rdlen;) {
                    if (o + 4 > rd + rdlen || o + 4 + get16(m + o + 2) > rd + rdlen) {
                        w->opt_overrun = 1;
                        break;
                    }
                    o += 4 + get16(m + o + 2);
                }
                break;
            default:
                break;
            }
            pos = rd + rdlen;
        }
    }
    w->trailing = (long)(len - pos);
    w->ok = 1;
}

static const char *rcode_name(unsigned r)
{
    static const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                  "NXRRSET", "NOTAUTH", "NOTZONE"};
    static char buf[32];
    if (r < sizeof names / sizeof names[0])
        return names[r];
    snprintf(buf, sizeof buf, "RCODE%u", r);
    return buf;
}

static const char *opcode_name(unsigned o)
{
    static const char *names[] = {"QUERY", "IQUERY", "STATUS", "OPCODE3", "NOTIFY", "UPDATE"};
    static char buf[32];
    if (o < 6)
        return names[o];
    snprintf(buf, sizeof buf, "OPCODE%u", o);
    return buf;
}

static void print_hex(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", d[i]);
}

static void print_rrlist(const char *tag, ldns_rr_list *l)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        char *s = ldns_rr2str(ldns_rr_list_rr(l, i));
        if (!s)
            continue;
        for (char *c = s; *c; c++)
            if (*c == '\t')
                *c = ' ';
        size_t sl = strlen(s);
        while (sl && (s[sl - 1] == '\n' || s[sl - 1] == ' '))
            s[--sl] = 0;
        printf("%s %s\n", tag, s);
        free(s);
    }
}

static void print_opt(const uint8_t *m, size_t off)
{
    unsigned udp = get16(m + off + 2);
    unsigned ext = m[off + 4], ver = m[off + 5], fl = get16(m + off + 6);
    unsigned rdlen = get16(m + off + 8);
    const uint8_t *rd = m + off + 10;
    printf("OPT udp=%u version=%u do=%u extrcode=%u flags=0x%04x\n", udp, ver, fl >> 15, ext, fl);
    for (size_t o = 0; o + 4 <= rdlen;) {
        unsigned code = get16(rd + o), ol = get16(rd + o + 2);
        const uint8_t *d = rd + o + 4;
        if (o + 4 + ol > rdlen)
            break;
        if (code == 8 && ol >= 4) {
            unsigned fam = get16(d);
            uint8_t a[16] = {0};
            char txt[64] = "?";
            memcpy(a, d + 4, ol - 4 > 16 ? 16 : ol - 4);
            if (fam == 1 || fam == 2)
                inet_ntop(fam == 1 ? AF_INET : AF_INET6, a, txt, sizeof txt);
            printf("OPT-ECS family=%u source=%u scope=%u addr=%s addrhex=", fam, d[2], d[3], txt);
            print_hex(d + 4, ol - 4);
            printf("\n");
        } else if (code == 3) {
            printf("OPT-NSID len=%u hex=", ol);
            print_hex(d, ol);
            printf(" text=");
            for (unsigned i = 0; i < ol; i++)
                putchar(d[i] > 32 && d[i] < 127 ? d[i] : '.');
            printf("\n");
        } else if (code == 11) {
            if (ol == 2)
                printf("OPT-KEEPALIVE timeout=%u\n", get16(d));
            else
                printf("OPT-KEEPALIVE len=%u\n", ol);
        } else if (code == 10) {
            printf("OPT-COOKIE len=%u client=", ol);
            print_hex(d, ol < 8 ? ol : 8);
            printf(" server=");
            if (ol > 8)
                print_hex(d + 8, ol - 8);
            printf("\n");
        } else {
            printf("OPT-CODE code=%u len=%u hex=", code, ol);
            print_hex(d, ol);
            printf("\n");
        }
        o += 4 + ol;
    }
}

/* Prints the summary of one reply. Returns 0 if it parsed and was consistent, else EXIT_BADREPLY.
 */
static int report(const uint8_t *m, size_t len, const uint16_t *ids, int nids, int hex)
{
    wire_info_t w;
    ldns_pkt *pkt = NULL;
    int rc = 0, id_match = 0;
    if (hex) {
        printf("RAW ");
        print_hex(m, len);
        printf("\n");
    }
    if (len < 12) {
        printf("SHORT size=%zu\n", len);
        return EXIT_BADREPLY;
    }
    unsigned id = get16(m), fl = get16(m + 2);
    for (int i = 0; i < nids; i++)
        if (ids[i] == id)
            id_match = 1;
    wire_walk(m, len, &w);
    char flags[64] = "";
    const char *fn[] = {"qr", "aa", "tc", "rd", "ra", "z", "ad", "cd"};
    const unsigned fb[] = {0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010};
    for (int i = 0; i < 8; i++) {
        if (fl & fb[i]) {
            if (flags[0])
                strcat(flags, ",");
            strcat(flags, fn[i]);
        }
    }
    if (!flags[0])
        strcat(flags, "-");
    unsigned cnt[4] = {get16(m + 4), get16(m + 6), get16(m + 8), get16(m + 10)};
    printf("rcode=%s flags=%s opcode=%s id_match=%d qname=%s an=%u ns=%u ar=%u tc=%u id=%u "
           "size=%zu qd=%u",
           rcode_name(fl & 15), flags, opcode_name((fl >> 11) & 15), id_match, w.qname, cnt[1],
           cnt[2], cnt[3], (fl >> 9) & 1, id, len, cnt[0]);
    if (cnt[0] >= 1 && w.ok) {
        char *t = ldns_rr_type2str((ldns_rr_type)w.qtype);
        char *c = ldns_rr_class2str((ldns_rr_class)w.qclass);
        printf(" qtype=%s qclass=%s", t ? t : "?", c ? c : "?");
        free(t);
        free(c);
    }
    printf("\n");
    ldns_status st = ldns_wire2pkt(&pkt, m, len);
    if (st != LDNS_STATUS_OK) {
        printf("PARSE-ERROR %s\n", ldns_get_errorstr_by_id(st));
        rc = EXIT_BADREPLY;
    } else {
        print_rrlist("AN", ldns_pkt_answer(pkt));
        print_rrlist("NS", ldns_pkt_authority(pkt));
        print_rrlist("AR", ldns_pkt_additional(pkt));
        /* ldns keeps OPT out of the additional list. */
        size_t nad = ldns_rr_list_rr_count(ldns_pkt_additional(pkt));
        if (ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != cnt[0] ||
            ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) != cnt[1] ||
            ldns_rr_list_rr_count(ldns_pkt_authority(pkt)) != cnt[2] ||
            (nad + (size_t)w.nopt != cnt[3])) {
            printf("COUNT-MISMATCH ldns qd=%zu an=%zu ns=%zu ar=%zu+opt%d\n",
                   ldns_rr_list_rr_count(ldns_pkt_question(pkt)),
                   ldns_rr_list_rr_count(ldns_pkt_answer(pkt)),
                   ldns_rr_list_rr_count(ldns_pkt_authority(pkt)), nad, w.nopt);
            rc = EXIT_BADREPLY;
        }
        ldns_pkt_free(pkt);
    }
    if (w.ok && w.nopt > 0)
        print_opt(m, w.opt_off);
    printf("WIRE size=%zu walk=%s opts=%d opt_owner_root=%d opt_overrun=%d ptrs=%d badptrs=%d "
           "trailing=%ld uncompressed=%ld\n",
           len, w.ok ? "ok" : "bad", w.nopt, w.nopt ? w.opt_owner_root : 1, w.opt_overrun, w.ptrs,
           w.badptrs, w.trailing, (long)len + g_saved);
    if (!w.ok || w.trailing != 0 || w.badptrs || w.opt_overrun || w.nopt > 1)
        rc = EXIT_BADREPLY;
    return rc;
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
            int rc = report(reply, (size_t)n, ids, nq, a->hex || a->raw_set);
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
            report(reply, (size_t)n, ids, nq, 1);
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
