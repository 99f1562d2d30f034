/* dnsq_report.c: dnsq's reply checker: walks every name and record of a reply itself (counts,
 * compression pointers, the OPT and its options), parses it with ldns, and prints the summary
 * the integration tests read. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dnsq.h"

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
    char qname[DNSQ_NAME_TEXT];
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

/* One reply: its walk, its parse by ldns, the summary (dnsq.h). */
int dnsq_report(const uint8_t *m, size_t len, const uint16_t *ids, int nids, int hex)
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
