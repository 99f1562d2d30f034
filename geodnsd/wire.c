/* wire.c: DNS message parsing (queries) and writing (responses with name compression). */
#include "wire.h"

#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Eight bytes lower-cased at once: 'A'..'Z' get 0x20 added, every other byte (label lengths,
 * which are below 'A', included) stays as it is. */
static inline uint64_t lower8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, high = ones * 0x80u;
    uint64_t h = v & ~high;                    /* the low seven bits of each byte */
    uint64_t ge_a = h + ones * (0x80u - 'A');  /* top bit set where h >= 'A' */
    uint64_t gt_z = h + ones * (0x7Fu - 'Z');  /* top bit set where h > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ~v & high; /* 'A'..'Z' (and not 0xC1..0xDA) */
    return v | (upper >> 2);
}

/* Copy n bytes of a wire name lower-cased, eight at a time. */
static void copy_lower(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t i = 0;
    uint64_t v;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, s + i, 8);
        v = lower8(v);
        memcpy(d + i, &v, 8);
    }
    for (; i < n; i++)
        d[i] = lower(s[i]);
}

void dns_name_lower(uint8_t *name, size_t len)
{
    size_t i = 0;
    while (i < len && name[i]) {
        size_t l = name[i];
        for (size_t j = i + 1; j <= i + l && j < len; j++)
            name[j] = lower(name[j]);
        i += l + 1;
    }
}

int dns_name_len(const uint8_t *name, size_t max)
{
    size_t i = 0;
    for (;;) {
        if (i >= max)
            return -1;
        uint8_t l = name[i];
        if (l == 0)
            break;
        if (l > 63)
            return -1;
        i += (size_t)l + 1;
    }
    i++;
    return i > DNS_MAX_NAME ? -1 : (int)i;
}

int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t out[DNS_MAX_NAME])
{
    size_t p = *off, o = 0, end = 0;
    bool jumped = false;
    size_t lowest = p; /* pointers must go strictly backwards from here: no loops */
    for (;;) {
        if (p >= len)
            return -1;
        uint8_t l = pkt[p];
        if ((l & 0xC0) == 0xC0) {
            if (p + 1 >= len)
                return -1;
            size_t target = ((size_t)(l & 0x3F) << 8) | pkt[p + 1];
            if (target >= lowest || target < DNS_HDR_LEN)
                return -1;
            if (!jumped)
                end = p + 2;
            jumped = true;
            lowest = target;
            p = target;
            continue;
        }
        if (l & 0xC0) /* 0x40 and 0x80: extended label types, obsolete */
            return -1;
        if (o + l + 1 > DNS_MAX_NAME)
            return -1;
        if (p + 1 + l > len)
            return -1;
        out[o++] = l;
        if (l == 0)
            break;
        for (size_t i = 0; i < l; i++)
            out[o++] = lower(pkt[p + 1 + i]);
        p += (size_t)l + 1;
    }
    *off = jumped ? end : p + 1;
    return (int)o;
}

void dns_name_to_str(const uint8_t *name, char *buf, size_t buflen)
{
    size_t o = 0, i = 0;
    if (buflen == 0)
        return;
    if (name[0] == 0) {
        snprintf(buf, buflen, ".");
        return;
    }
    while (name[i] && o + 5 < buflen) {
        uint8_t l = name[i];
        for (size_t j = 1; j <= l && o + 5 < buflen; j++) {
            uint8_t c = name[i + j];
            if (c == '.' || c == '\\') {
                buf[o++] = '\\';
                buf[o++] = (char)c;
            } else if (c <= ' ' || c >= 127) {
                o += (size_t)snprintf(buf + o, buflen - o, "\\%03u", c);
            } else {
                buf[o++] = (char)c;
            }
        }
        buf[o++] = '.';
        i += (size_t)l + 1;
    }
    buf[o < buflen ? o : buflen - 1] = 0;
}

/* Skip one RR starting at *off; fills its type and the RDATA span. */
static int skip_rr(const uint8_t *pkt, size_t len, size_t *off, uint16_t *type, size_t *rdoff,
                   uint16_t *rdlen, uint8_t owner[DNS_MAX_NAME], int *ownerlen)
{
    int n = dns_name_read(pkt, len, off, owner);
    if (n < 0)
        return -1;
    *ownerlen = n;
    if (*off + 10 > len)
        return -1;
    *type = rd16(pkt + *off);
    *rdlen = rd16(pkt + *off + 8);
    *rdoff = *off + 10;
    if (*rdoff + *rdlen > len)
        return -1;
    *off = *rdoff + *rdlen;
    return 0;
}

static int parse_ecs(dns_query_t *q, const uint8_t *p, size_t n)
{
    if (n < 4)
        return -1;
    uint16_t family = rd16(p);
    uint8_t source = p[2], scope = p[3];
    size_t alen = n - 4;
    size_t maxbits = family == 1 ? 32 : family == 2 ? 128 : 0;
    if (!maxbits || source > maxbits)
        return -1;
    if (alen != ((size_t)source + 7) / 8)
        return -1;
    if (source % 8 && alen) {
        uint8_t mask = (uint8_t)(0xFF >> (source % 8));
        if (p[4 + alen - 1] & mask)
            return -1;
    }
    q->has_ecs = true;
    q->ecs_family = (uint8_t)family;
    q->ecs_source = source;
    q->ecs_scope = scope;
    memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
    for (size_t i = 0; i < alen; i++) /* at most 16 bytes */
        q->ecs_addr[i] = p[4 + i];
    return 0;
}

static int parse_opt(dns_query_t *q, const uint8_t *pkt, size_t rdoff, size_t rdlen,
                     const uint8_t *fixed)
{
    q->has_opt = true;
    q->udp_size = rd16(fixed + 2);
    q->edns_version = fixed[5];
    q->edns_do = (fixed[6] & 0x80) != 0;
    size_t p = rdoff, end = rdoff + rdlen;
    while (p < end) {
        if (p + 4 > end)
            return -1;
        uint16_t code = rd16(pkt + p), olen = rd16(pkt + p + 2);
        p += 4;
        if (p + olen > end)
            return -1;
        const uint8_t *d = pkt + p;
        switch (code) {
        case DNS_OPT_ECS:
            if (q->has_ecs || parse_ecs(q, d, olen))
                return -1;
            break;
        case DNS_OPT_NSID:
            q->nsid_req = true;
            break;
        case DNS_OPT_KEEPALIVE:
            /* RFC 7828 3.2.1: clients send it empty; a TIMEOUT in a query is malformed
             * (over TCP; over UDP the option is ignored, 3.3.1). */
            if (olen != 0)
                q->keepalive_bad = true;
            else
                q->keepalive_req = true;
            break;
        case DNS_OPT_COOKIE:
            /* RFC 7873 5.2.2: client cookie 8 bytes, plus server cookie of 8 to 32. */
            if (olen != 8 && (olen < 16 || olen > 40))
                return -1;
            q->has_cookie = true;
            q->cookie_len = (uint8_t)olen;
            memcpy(q->cookie, d, olen);
            break;
        default:
            break; /* RFC 6891 6.1.2: unknown options are ignored */
        }
        p += olen;
    }
    return 0;
}

dns_parse_result_t dns_query_parse(const uint8_t *pkt, size_t len, dns_query_t *q)
{
    if (len < DNS_HDR_LEN)
        return DNS_PARSE_DROP;
    q->id = rd16(pkt);
    q->flags = rd16(pkt + 2);
    if (q->flags & DNS_FLAG_QR)
        return DNS_PARSE_DROP;
    q->opcode = (uint8_t)((q->flags >> 11) & 0xF);
    q->has_question = false;
    q->has_opt = false;
    q->has_ecs = false;
    q->nsid_req = false;
    q->keepalive_req = false;
    q->keepalive_bad = false;
    q->opt_formerr = false;
    q->has_cookie = false;
    q->edns_version = 0;
    q->edns_do = false;
    q->udp_size = 0;

    uint16_t qd = rd16(pkt + 4), an = rd16(pkt + 6), ns = rd16(pkt + 8), ar = rd16(pkt + 10);
    if (qd != 1)
        return DNS_PARSE_FORMERR;

    /* The question name: no compression (there is nothing before it to point to). Walk the
     * labels, then copy the whole name lower-cased in one pass. */
    size_t off = DNS_HDR_LEN, o = 0;
    unsigned labels = 0;
    for (;;) {
        if (off >= len)
            return DNS_PARSE_FORMERR;
        uint8_t l = pkt[off];
        if (l > 63)
            return DNS_PARSE_FORMERR;
        if (o + l + 1 > DNS_MAX_NAME || off + 1 + l > len)
            return DNS_PARSE_FORMERR;
        if (l == 0) {
            o++;
            off++;
            break;
        }
        q->label_off[labels++] = (uint8_t)o;
        o += (size_t)l + 1;
        off += (size_t)l + 1;
    }
    copy_lower(q->qname, pkt + DNS_HDR_LEN, o);
    q->qname_wire = pkt + DNS_HDR_LEN;
    q->qname_len = (uint8_t)o;
    q->qname_labels = (uint8_t)labels;
    if (off + 4 > len)
        return DNS_PARSE_FORMERR;
    q->qtype = rd16(pkt + off);
    q->qclass = rd16(pkt + off + 2);
    off += 4;
    q->question_end = off;
    q->has_question = true;

    uint8_t owner[DNS_MAX_NAME];
    int ownerlen;
    uint16_t type, rdlen;
    size_t rdoff;
    for (unsigned i = 0; i < (unsigned)an + ns; i++)
        if (skip_rr(pkt, len, &off, &type, &rdoff, &rdlen, owner, &ownerlen))
            return DNS_PARSE_FORMERR;
    for (unsigned i = 0; i < ar; i++) {
        size_t start = off;
        if (skip_rr(pkt, len, &off, &type, &rdoff, &rdlen, owner, &ownerlen))
            return DNS_PARSE_FORMERR;
        if (type != DNS_TYPE_OPT)
            continue;
        /* RFC 6891 6.1.1: one OPT, owned by the root. */
        if (q->has_opt || ownerlen != 1 || pkt[start] != 0)
            return DNS_PARSE_FORMERR;
        if (parse_opt(q, pkt, rdoff, rdlen, pkt + start + 1)) {
            /* The OPT itself is well placed: the FORMERR reply can carry one. */
            q->opt_formerr = true;
            return DNS_PARSE_FORMERR;
        }
    }
    return DNS_PARSE_OK;
}

int dns_ixfr_serial(const uint8_t *pkt, size_t len, const dns_query_t *q, uint32_t *serial)
{
    if (!q->has_question || q->question_end > len)
        return -1;
    uint16_t an = rd16(pkt + 6), ns = rd16(pkt + 8);
    size_t off = q->question_end, rdoff;
    uint8_t owner[DNS_MAX_NAME], name[DNS_MAX_NAME];
    int ownerlen;
    uint16_t type, rdlen;
    for (unsigned i = 0; i < an; i++)
        if (skip_rr(pkt, len, &off, &type, &rdoff, &rdlen, owner, &ownerlen))
            return -1;
    if (ns == 0 || skip_rr(pkt, len, &off, &type, &rdoff, &rdlen, owner, &ownerlen))
        return -1;
    /* dns_name_read lower-cases; q->qname is the lower-cased question name. */
    if (type != DNS_TYPE_SOA || ownerlen != q->qname_len ||
        memcmp(owner, q->qname, (size_t)ownerlen))
        return -1;
    /* MNAME and RNAME may point anywhere before them; the serial must lie inside the RDATA. */
    size_t end = rdoff + rdlen, p = rdoff;
    if (dns_name_read(pkt, end, &p, name) < 0 || dns_name_read(pkt, end, &p, name) < 0 ||
        p + 4 > end)
        return -1;
    *serial = (uint32_t)rd16(pkt + p) << 16 | rd16(pkt + p + 2);
    return 0;
}

/* ---- writer ---- */

void dns_writer_init(dns_writer_t *w, uint8_t *buf, size_t limit, uint16_t id, uint16_t flags)
{
    w->buf = buf;
    w->limit = limit;
    w->len = DNS_HDR_LEN;
    w->ncomp = 0;
    w->nhashed = 0;
    w->qname_len = 0;
    w->owner_at = 0;
    memset(w->counts, 0, sizeof(w->counts));
    memset(buf, 0, DNS_HDR_LEN);
    wr16(buf, id);
    wr16(buf + 2, flags);
}

static void comp_add_labels(dns_writer_t *w, size_t off)
{
    /* Remember each label start of an uncompressed name just written at off. */
    while (w->buf[off] && (w->buf[off] & 0xC0) == 0) {
        if (w->ncomp < DNS_COMP_MAX && off < 0x3FFF)
            w->comp[w->ncomp++] = (uint16_t)off;
        off += (size_t)w->buf[off] + 1;
    }
}

int dns_writer_question(dns_writer_t *w, const dns_query_t *q)
{
    size_t qlen = (size_t)q->qname_len + 4;
    if (w->len + qlen > w->limit)
        return -1;
    dns_copy_short(w->buf + w->len, q->qname_wire, qlen);
    comp_add_labels(w, w->len);
    w->qname_len = w->len == DNS_HDR_LEN ? q->qname_len : 0; /* the first name only */
    w->len += qlen;
    w->counts[DNS_SEC_QD] = 1;
    return 0;
}

int dns_writer_question_name(dns_writer_t *w, const uint8_t *name, size_t namelen, uint16_t qtype)
{
    if (w->len + namelen + 4 > w->limit)
        return -1;
    memcpy(w->buf + w->len, name, namelen);
    comp_add_labels(w, w->len);
    w->qname_len = w->len == DNS_HDR_LEN ? namelen : 0;
    w->len += namelen;
    wr16(w->buf + w->len, qtype);
    wr16(w->buf + w->len + 2, DNS_CLASS_IN);
    w->len += 4;
    w->counts[DNS_SEC_QD] = 1;
    return 0;
}

size_t dns_ecs_option(uint8_t *buf, uint8_t family, uint8_t source, uint8_t scope,
                      const uint8_t *addr)
{
    size_t alen = ((size_t)source + 7) / 8;
    wr16(buf, DNS_OPT_ECS);
    wr16(buf + 2, (uint16_t)(4 + alen));
    wr16(buf + 4, family);
    buf[6] = source;
    buf[7] = scope;
    memcpy(buf + 8, addr, alen);
    return 8 + alen;
}

/* Does the name in the message at off (following pointers) equal the wire name s? */
static bool msg_name_eq(const uint8_t *buf, size_t off, const uint8_t *s)
{
    for (int hops = 0; hops < 64;) {
        uint8_t l = buf[off];
        if ((l & 0xC0) == 0xC0) {
            off = ((size_t)(l & 0x3F) << 8) | buf[off + 1];
            hops++;
            continue;
        }
        if (l != *s)
            return false;
        if (l == 0)
            return true;
        for (size_t i = 1; i <= l; i++)
            if (buf[off + i] != s[i] && lower(buf[off + i]) != lower(s[i]))
                return false;
        off += (size_t)l + 1;
        s += (size_t)l + 1;
    }
    return false;
}

/* Past this many compression targets, dns_writer_name looks them up by hash: with the 64 names
 * of a zone transfer's message, comparing every owner with each took four fifths of the
 * transfer's time. Below it (an ordinary answer) the plain comparison is cheaper than hashing. */
#define COMP_HASHED_FROM 16
#define NAME_LABELS_MAX  128 /* a name of 255 bytes has at most 127 labels and the root */

/* The hashes of every suffix of a name given as its labels lab[0..n) (each a length byte and
 * its bytes; the root not included): suf[k] is the hash of the name from lab[k] on, lower case,
 * computed from the root leftwards so that all n cost one pass. */
static uint32_t labels_hash(const uint8_t *const *lab, unsigned n, uint32_t *suf)
{
    uint32_t h = 0x811C9DC5u;
    for (unsigned k = n; k-- > 0;) {
        const uint8_t *l = lab[k];
        h = (h ^ l[0]) * 0x01000193u;
        for (unsigned i = 1; i <= l[0]; i++)
            h = (h ^ lower(l[i])) * 0x01000193u;
        if (suf)
            suf[k] = h;
    }
    return h;
}

#define COMP_INDEX_MASK (2 * DNS_COMP_MAX - 1)

/* Hash the names at the compression targets not hashed yet and index them. A target is a label
 * start the writer wrote itself, so its name is well formed; the walk is bounded all the same. */
static void comp_hash_update(dns_writer_t *w)
{
    if (w->nhashed == 0)
        memset(w->comp_index, 0, sizeof(w->comp_index));
    for (; w->nhashed < w->ncomp; w->nhashed++) {
        const uint8_t *lab[NAME_LABELS_MAX];
        unsigned n = 0;
        size_t off = w->comp[w->nhashed];
        for (int hops = 0; hops < 64 && n < NAME_LABELS_MAX && w->buf[off];) {
            if ((w->buf[off] & 0xC0) == 0xC0) {
                off = ((size_t)(w->buf[off] & 0x3F) << 8) | w->buf[off + 1];
                hops++;
                continue;
            }
            lab[n++] = w->buf + off;
            off += (size_t)w->buf[off] + 1;
        }
        uint32_t h = labels_hash(lab, n, NULL);
        w->comp_hash[w->nhashed] = h;
        unsigned slot = h & COMP_INDEX_MASK;
        while (w->comp_index[slot]) /* at most half full: there is an empty slot */
            slot = (slot + 1) & COMP_INDEX_MASK;
        w->comp_index[slot] = (uint8_t)(w->nhashed + 1);
    }
}

/* Forget the compression targets from the n-th on (a write undone, a rewind). The index is
 * rebuilt at its next use: only a message's last, undone record gets here in a transfer. */
static void comp_truncate(dns_writer_t *w, unsigned n)
{
    w->ncomp = n;
    if (w->nhashed > n)
        w->nhashed = 0;
}

/* Where the longest suffix of name already in the message starts: sets *at to its offset in
 * name and *ptr to its offset in the message, or returns false. Both searches find the same
 * target: the writer adds a name only when no suffix of it was found, so no two targets spell
 * the same name. */
static bool comp_find(dns_writer_t *w, const uint8_t *name, size_t *at, size_t *ptr)
{
    if (w->ncomp < COMP_HASHED_FROM) {
        for (size_t i = 0; name[i]; i += (size_t)name[i] + 1)
            for (unsigned c = 0; c < w->ncomp; c++)
                if (msg_name_eq(w->buf, w->comp[c], name + i)) {
                    *at = i;
                    *ptr = w->comp[c];
                    return true;
                }
        return false;
    }
    if (!name[0])
        return false; /* the root: nothing shorter to point to */
    comp_hash_update(w);
    const uint8_t *lab[NAME_LABELS_MAX];
    uint32_t suf[NAME_LABELS_MAX];
    lab[0] = name;
    unsigned n = 1;
    for (size_t i = (size_t)name[0] + 1; name[i] && n < NAME_LABELS_MAX; i += (size_t)name[i] + 1)
        lab[n++] = name + i;
    labels_hash(lab, n, suf);
    for (unsigned k = 0; k < n; k++) {
        for (unsigned slot = suf[k] & COMP_INDEX_MASK; w->comp_index[slot];
             slot = (slot + 1) & COMP_INDEX_MASK) {
            unsigned c = w->comp_index[slot] - 1u;
            if (w->comp_hash[c] == suf[k] && msg_name_eq(w->buf, w->comp[c], lab[k])) {
                *at = (size_t)(lab[k] - name);
                *ptr = w->comp[c];
                return true;
            }
        }
    }
    return false;
}

int dns_writer_name(dns_writer_t *w, const uint8_t *name, size_t namelen)
{
    /* The commonest name by far, an answer's owner that is the question's name spelled alike
     * (zone data is lower case, and so are most questions): a pointer to the question, what
     * the search below finds too, without its label-by-label comparison. */
    if (namelen == w->qname_len && !memcmp(w->buf + DNS_HDR_LEN, name, namelen)) {
        if (w->len + 2 > w->limit)
            return -1;
        wr16(w->buf + w->len, (uint16_t)(0xC000 | DNS_HDR_LEN));
        w->len += 2;
        return 0;
    }
    /* Find the longest suffix of name already present in the message. */
    size_t i = 0, ptr = 0;
    bool found = comp_find(w, name, &i, &ptr);
    size_t need = found ? i + 2 : namelen;
    if (w->len + need > w->limit)
        return -1;
    size_t start = w->len;
    memcpy(w->buf + w->len, name, found ? i : namelen);
    w->len += found ? i : namelen;
    if (found) {
        wr16(w->buf + w->len, (uint16_t)(0xC000 | ptr));
        w->len += 2;
    }
    if (i > 0 || !found)
        comp_add_labels(w, start);
    return 0;
}

int dns_writer_rr(dns_writer_t *w, enum dns_section sec, const uint8_t *owner, size_t ownerlen,
                  uint16_t type, uint32_t ttl, const dns_rdata_t *rd)
{
    size_t save_len = w->len;
    unsigned save_ncomp = w->ncomp;
    /* Records of one owner one after another (an RRset, a node in a zone transfer): a pointer
     * to the owner before, found even when the compression targets are full. The question's
     * name is left to dns_writer_name, whose own shortcut is cheaper. */
    if (w->owner_at > DNS_HDR_LEN && msg_name_eq(w->buf, w->owner_at, owner)) {
        if (w->len + 2 > w->limit)
            goto fail;
        wr16(w->buf + w->len, (uint16_t)(0xC000 | w->owner_at));
        w->len += 2;
    } else {
        if (dns_writer_name(w, owner, ownerlen))
            goto fail;
        size_t at = save_len;
        if ((w->buf[at] & 0xC0) == 0xC0)
            at = ((size_t)(w->buf[at] & 0x3F) << 8) | w->buf[at + 1];
        w->owner_at = at < 0x3FFF ? (uint16_t)at : 0;
    }
    if (w->len + 10 > w->limit)
        goto fail;
    uint8_t *p = w->buf + w->len;
    wr16(p, type);
    wr16(p + 2, DNS_CLASS_IN);
    wr16(p + 4, (uint16_t)(ttl >> 16));
    wr16(p + 6, (uint16_t)ttl);
    size_t rdlen_at = w->len + 8;
    w->len += 10;
    size_t pos = 0;
    for (unsigned k = 0; k < rd->nnames; k++) {
        size_t noff = rd->name_off[k];
        if (noff > pos) {
            if (w->len + (noff - pos) > w->limit)
                goto fail;
            memcpy(w->buf + w->len, rd->data + pos, noff - pos);
            w->len += noff - pos;
        }
        int nl = dns_name_len(rd->data + noff, rd->len - noff);
        if (nl < 0 || dns_writer_name(w, rd->data + noff, (size_t)nl))
            goto fail;
        pos = noff + (size_t)nl;
    }
    if (rd->len > pos) {
        if (w->len + (rd->len - pos) > w->limit)
            goto fail;
        memcpy(w->buf + w->len, rd->data + pos, rd->len - pos);
        w->len += rd->len - pos;
    }
    wr16(w->buf + rdlen_at, (uint16_t)(w->len - rdlen_at - 2));
    w->counts[sec]++;
    return 0;
fail:
    w->len = save_len;
    comp_truncate(w, save_ncomp);
    if (w->owner_at >= save_len)
        w->owner_at = 0;
    return -1;
}

int dns_writer_opt(dns_writer_t *w, uint16_t udp_size, uint8_t ext_rcode, bool do_bit,
                   const uint8_t *opts, size_t optlen)
{
    if (w->len + 11 + optlen > w->limit)
        return -1;
    uint8_t *p = w->buf + w->len;
    p[0] = 0;
    wr16(p + 1, DNS_TYPE_OPT);
    wr16(p + 3, udp_size);
    p[5] = ext_rcode;
    p[6] = 0; /* version 0 */
    p[7] = do_bit ? 0x80 : 0;
    p[8] = 0;
    wr16(p + 9, (uint16_t)optlen);
    if (optlen)
        memcpy(p + 11, opts, optlen);
    w->len += 11 + optlen;
    w->counts[DNS_SEC_AR]++;
    return 0;
}

size_t dns_writer_finish(dns_writer_t *w, uint16_t flags_or, uint8_t rcode)
{
    uint16_t flags = (uint16_t)((rd16(w->buf + 2) | flags_or) & ~0x000F);
    wr16(w->buf + 2, (uint16_t)(flags | (rcode & 0xF)));
    for (int i = 0; i < 4; i++)
        wr16(w->buf + 4 + 2 * i, w->counts[i]);
    return w->len;
}

void dns_writer_rewind(dns_writer_t *w, size_t len, const uint16_t counts[4])
{
    w->len = len;
    memcpy(w->counts, counts, sizeof(w->counts));
    if (len < DNS_HDR_LEN + w->qname_len)
        w->qname_len = 0;
    if (w->owner_at >= len)
        w->owner_at = 0;
    /* Drop compression targets that now lie past the end. */
    unsigned n = 0;
    while (n < w->ncomp && w->comp[n] < len) /* added in the order they were written */
        n++;
    comp_truncate(w, n);
}
