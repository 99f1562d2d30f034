/* zone_numbers.c: range checks on the numbers of zone text that ldns reads without them (TTLs,
 * TYPEnnn and CLASSnnn, integer record fields), shared by both zone readers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone_loader.h"

#define TTL_MAX      0x7FFFFFFFu /* RFC 2181 8 */
#define NAME_MAX_LEN 16          /* longer than any class mnemonic or CLASSnnnnn */

/* ldns reads a number and wraps it to the field's size: the value it stores (here modulo 2^64,
 * which reduces to the field's size) and how the text fares against [0, max]. */
typedef struct num_text {
    zl_num_t how;
    uint64_t wrapped;
} num_text_t;

/* A token of zone text [s, s+n): its start and length. */
typedef struct token {
    const char *s;
    size_t n;
} token_t;

/* Characters that end or separate tokens, looked up once per character of a record. */
enum { CH_BLANK = 1, CH_PAREN = 2, CH_COMMENT = 4 };
static const uint8_t char_class[256] = {
    [' '] = CH_BLANK, ['\t'] = CH_BLANK, ['\r'] = CH_BLANK,  ['\n'] = CH_BLANK,
    ['('] = CH_PAREN, [')'] = CH_PAREN,  [';'] = CH_COMMENT,
};

static unsigned cclass(char c)
{
    return char_class[(unsigned char)c];
}

/* Skip blanks, parentheses and comments from p (before end), as ldns does between tokens. */
static const char *skip_space(const char *p, const char *end)
{
    while (p < end && cclass(*p)) {
        if (cclass(*p) & CH_COMMENT) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
        } else {
            p++;
        }
    }
    return p;
}

/* The token at *p (after skip_space()): a quoted string to its closing quote, or a run of
 * characters up to a blank, a parenthesis or a comment, backslash escapes included. (ldns drops
 * a parenthesis without ending a token, so "a(b" is one token there: the value check below
 * then finds another number than ldns stored and refuses nothing.) Moves *p past it; false at
 * the end. */
static bool next_token(const char **p, const char *end, token_t *t)
{
    const char *s = skip_space(*p, end), *q = s;
    if (s >= end)
        return false;
    if (*q == '"') {
        for (q++; q < end && *q != '"'; q++)
            if (*q == '\\' && q + 1 < end)
                q++;
        q += q < end;
    } else {
        for (; q < end && !cclass(*q); q++)
            if (*q == '\\' && q + 1 < end)
                q++;
    }
    t->s = s;
    t->n = (size_t)(q - s);
    *p = q;
    return true;
}

/* An integer as ldns reads it (strtol: an optional sign, decimal digits), and whether it is an
 * unsigned decimal of at most max. */
static num_text_t read_int(const char *s, size_t n, uint64_t max)
{
    num_text_t r = {.how = ZL_NUM_SYNTAX, .wrapped = 0};
    size_t i = 0;
    bool neg = false, big = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    size_t digits = i;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        r.wrapped = r.wrapped * 10 + (uint64_t)(s[i] - '0');
        big |= r.wrapped > max || i - digits > 19;
    }
    if (i != n || i == digits)
        return r;
    if (neg)
        r.wrapped = 0 - r.wrapped;
    /* -1 is a number out of range; +1 is not how an unsigned number is written. */
    r.how = neg || big ? ZL_NUM_RANGE : digits > 0 ? ZL_NUM_SYNTAX : ZL_NUM_OK;
    return r;
}

/* A TTL or SOA timer as ldns reads it (ldns_str2period: digits with optional s/m/h/d/w units,
 * summed modulo 2^32), and whether it is well formed and at most max seconds. */
static num_text_t read_period(const char *s, size_t n, uint64_t max)
{
    static const char units[] = "smhdw";
    static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};
    num_text_t r = {.how = ZL_NUM_OK, .wrapped = 0};
    uint64_t num = 0, total = 0;
    bool digits = false, big = false, bad = n == 0, neg = false;
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        bad = !neg;
        i++;
    }
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            num = num * 10 + (uint64_t)(s[i] - '0');
            big |= num > max;
            digits = true;
            continue;
        }
        const char *u = strchr(units, s[i] | 0x20);
        if (!u || !*u) {
            bad = true;
            break;
        }
        bad |= !digits;
        total += num * mult[u - units];
        big |= num > max || total > max;
        num = 0;
        digits = false;
    }
    total += num;
    big |= total > max;
    r.wrapped = total;
    /* ldns ignores a sign: -1 is stored as 1, and refused here as out of range. */
    r.how = bad ? ZL_NUM_SYNTAX : big || neg ? ZL_NUM_RANGE : ZL_NUM_OK;
    return r;
}

zl_num_t zl_read_ttl(const char *s, size_t n, uint32_t *out)
{
    num_text_t r = read_period(s, n, TTL_MAX);
    *out = (uint32_t)r.wrapped;
    return r.how;
}

/* Do the first n characters of s and of the upper-case word w agree, ignoring case? (A loop
 * of its own: strncasecmp's locale handling was most of the check's time.) */
static bool upper_eq(const char *s, const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]) != w[i])
            return false;
    return true;
}

/* Is [s, s+n) the word w followed by something (case-insensitive), as ldns reads TYPEnnn? */
static bool has_prefix(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n > wl && upper_eq(s, w, wl);
}

/* TYPEnnn or CLASSnnn (word is "type" or "class"): ldns takes atoi() of the number, any int. */
static int check_generic_number(loader_t *L, const yt_node_t *at, const char *word, const char *s,
                                size_t n, size_t plen)
{
    num_text_t r = read_int(s + plen, n - plen, UINT16_MAX);
    if (r.how == ZL_NUM_OK)
        return 0;
    if (r.how == ZL_NUM_RANGE)
        return zl_fail(L, at, "%s number %.*s is out of range (0 to 65535)", word, (int)(n - plen),
                       s + plen);
    return zl_fail(L, at, "'%.*s' is not a %s (a name, or %.*s<0 to 65535>)", (int)n, s, word,
                   (int)plen, s);
}

int zl_check_type_name(loader_t *L, const yt_node_t *at, const char *s, size_t n)
{
    return has_prefix(s, n, "TYPE") ? check_generic_number(L, at, "type", s, n, 4) : 0;
}

/* As ldns_get_rr_class_by_name() reads a class, without its cost for every record (most tokens
 * here are types). */
bool zl_is_class(const char *s, size_t n)
{
    static const char *const names[] = {"IN", "CH", "HS", "NONE", "ANY"};
    if (has_prefix(s, n, "CLASS")) {
        char word[NAME_MAX_LEN + 1];
        if (n > NAME_MAX_LEN)
            return false;
        memcpy(word, s, n);
        word[n] = '\0';
        return ldns_get_rr_class_by_name(word) != 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && upper_eq(s, names[i], n))
            return true;
    return false;
}

/* The names of the numeric fields of the common types, for messages. */
static const char *field_name(uint16_t type, size_t i)
{
    static const struct {
        uint16_t type;
        const char *names[7];
    } tab[] = {
        {LDNS_RR_TYPE_SOA, {"", "", "serial", "refresh", "retry", "expire", "minimum"}},
        {LDNS_RR_TYPE_MX, {"preference"}},
        {LDNS_RR_TYPE_KX, {"preference"}},
        {LDNS_RR_TYPE_RT, {"preference"}},
        {LDNS_RR_TYPE_AFSDB, {"subtype"}},
        {LDNS_RR_TYPE_SRV, {"priority", "weight", "port"}},
        {LDNS_RR_TYPE_NAPTR, {"order", "preference"}},
        {LDNS_RR_TYPE_URI, {"priority", "weight"}},
        {LDNS_RR_TYPE_CAA, {"flags"}},
        {LDNS_RR_TYPE_SVCB, {"priority"}},
        {LDNS_RR_TYPE_HTTPS, {"priority"}},
        {LDNS_RR_TYPE_DS, {"key tag", "algorithm", "digest type"}},
        {LDNS_RR_TYPE_CDS, {"key tag", "algorithm", "digest type"}},
        {LDNS_RR_TYPE_DNSKEY, {"flags", "protocol", "algorithm"}},
        {LDNS_RR_TYPE_CDNSKEY, {"flags", "protocol", "algorithm"}},
        {LDNS_RR_TYPE_SSHFP, {"algorithm", "fingerprint type"}},
        {LDNS_RR_TYPE_TLSA, {"usage", "selector", "matching type"}},
        {LDNS_RR_TYPE_SMIMEA, {"usage", "selector", "matching type"}},
    };
    for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++)
        if (tab[k].type == type)
            return i < 7 && tab[k].names[i] && *tab[k].names[i] ? tab[k].names[i] : NULL;
    return NULL;
}

/* The largest value of a numeric field type, or 0 for one that holds no number. */
static uint64_t field_max(ldns_rdf_type ft)
{
    switch (ft) {
    case LDNS_RDF_TYPE_INT8:
    case LDNS_RDF_TYPE_ALG:
    case LDNS_RDF_TYPE_CERTIFICATE_USAGE:
    case LDNS_RDF_TYPE_SELECTOR:
    case LDNS_RDF_TYPE_MATCHING_TYPE:
        return UINT8_MAX;
    case LDNS_RDF_TYPE_INT16:
        return UINT16_MAX;
    case LDNS_RDF_TYPE_INT32:
        return UINT32_MAX;
    case LDNS_RDF_TYPE_PERIOD:
        return TTL_MAX;
    default:
        return 0;
    }
}

/* Fields that ldns reads as one token of the text (as next_token() splits it): those before a
 * numeric field can be stepped over. Others (hex, base64, bitmaps, parameters) end the check. */
static bool field_one_token(ldns_rdf_type ft)
{
    switch (ft) {
    case LDNS_RDF_TYPE_INT8:
    case LDNS_RDF_TYPE_INT16:
    case LDNS_RDF_TYPE_INT32:
    case LDNS_RDF_TYPE_PERIOD:
    case LDNS_RDF_TYPE_ALG:
    case LDNS_RDF_TYPE_CERTIFICATE_USAGE:
    case LDNS_RDF_TYPE_SELECTOR:
    case LDNS_RDF_TYPE_MATCHING_TYPE:
    case LDNS_RDF_TYPE_DNAME:
    case LDNS_RDF_TYPE_A:
    case LDNS_RDF_TYPE_AAAA:
    case LDNS_RDF_TYPE_STR:
    case LDNS_RDF_TYPE_TAG:
    case LDNS_RDF_TYPE_TYPE:
    case LDNS_RDF_TYPE_TIME:
    case LDNS_RDF_TYPE_ILNP64:
    case LDNS_RDF_TYPE_EUI48:
    case LDNS_RDF_TYPE_EUI64:
        return true;
    default:
        return false;
    }
}

/* The value ldns stored in a numeric field and the mask of its size; false if it is not one. */
static bool rdf_value(const ldns_rdf *f, uint64_t *v, uint64_t *mask)
{
    const uint8_t *d = ldns_rdf_data(f);
    size_t sz = ldns_rdf_size(f);
    if (sz != 1 && sz != 2 && sz != 4)
        return false;
    *v = 0;
    for (size_t i = 0; i < sz; i++)
        *v = *v << 8 | d[i];
    *mask = (1ull << (8 * sz)) - 1;
    return true;
}

/* The record data [p, end) of rr (type as written, already checked): each numeric field up to
 * the last one ldns reads as a single token, and the length of the generic \# form. A token is
 * refused only when ldns stored what it wraps to, so text that this reader splits otherwise than
 * ldns (which has accepted it) is never refused by mistake. */
static int check_rdata(loader_t *L, const yt_node_t *at, const char *p, const char *end,
                       const ldns_rr *rr, uint16_t type)
{
    token_t t;
    const char *q = skip_space(p, end);
    if (q + 1 < end && q[0] == '\\' && q[1] == '#') {
        if (!next_token(&q, end, &t) || t.n != 2 || !next_token(&q, end, &t))
            return 0;
        num_text_t r = read_int(t.s, t.n, UINT16_MAX);
        if (r.how == ZL_NUM_OK)
            return 0;
        return zl_fail(L, at, "\\# data length %.*s is %s (0 to 65535)", (int)t.n, t.s,
                       r.how == ZL_NUM_RANGE ? "out of range" : "not a plain number");
    }
    const ldns_rr_descriptor *desc = ldns_rr_descript(type);
    size_t nf = ldns_rr_descriptor_minimum(desc), last = 0;
    bool any = false;
    if (nf > ldns_rr_rd_count(rr))
        nf = ldns_rr_rd_count(rr);
    for (size_t i = 0; i < nf; i++) {
        ldns_rdf_type ft = ldns_rr_descriptor_field_type(desc, i);
        if (!field_one_token(ft))
            break;
        if (field_max(ft)) {
            any = true;
            last = i;
        }
    }
    for (size_t i = 0; any && i <= last; i++) {
        if (!next_token(&p, end, &t))
            return 0;
        ldns_rdf_type ft = ldns_rr_descriptor_field_type(desc, i);
        uint64_t max = field_max(ft), stored, mask;
        /* Algorithm and TLSA fields may be mnemonics, which start with a letter. */
        bool word = t.s[0] != '-' && t.s[0] != '+' && (t.s[0] < '0' || t.s[0] > '9');
        if (!max ||
            (word && ft != LDNS_RDF_TYPE_INT8 && ft != LDNS_RDF_TYPE_INT16 &&
             ft != LDNS_RDF_TYPE_INT32 && ft != LDNS_RDF_TYPE_PERIOD) ||
            !rdf_value(ldns_rr_rdf(rr, i), &stored, &mask))
            continue;
        num_text_t r =
            ft == LDNS_RDF_TYPE_PERIOD ? read_period(t.s, t.n, max) : read_int(t.s, t.n, max);
        if (r.how == ZL_NUM_OK || (r.wrapped & mask) != stored)
            continue;
        char *ts = ldns_rr_type2str((ldns_rr_type)type);
        const char *fname = field_name(type, i);
        char fbuf[24];
        if (!fname) {
            snprintf(fbuf, sizeof(fbuf), "field %zu", i + 1);
            fname = fbuf;
        }
        int rc = zl_fail(L, at, "%s %s %.*s is %s (0 to %llu)", ts ? ts : "record", fname, (int)t.n,
                         t.s, r.how == ZL_NUM_RANGE ? "out of range" : "not a plain number",
                         (unsigned long long)max);
        free(ts);
        return rc;
    }
    return 0;
}

int zl_check_rdata_text(loader_t *L, const yt_node_t *at, const char *rdata, size_t len,
                        const ldns_rr *rr)
{
    return check_rdata(L, at, rdata, rdata + len, rr, (uint16_t)ldns_rr_get_type(rr));
}

int zl_check_record_text(loader_t *L, const yt_node_t *at, const char *text, size_t len,
                         const ldns_rr *rr)
{
    const char *p = text, *end = text + len;
    /* Lines before the record that hold nothing (ldns returns them on their own, but a reader
     * may pass them in). */
    for (;;) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < end && (*q == '\n' || *q == ';')) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            p = nl ? nl + 1 : end;
            continue;
        }
        break;
    }
    token_t t;
    /* The owner, unless the line starts blank (the previous owner then). */
    if (p < end && *p != ' ' && *p != '\t' && !next_token(&p, end, &t))
        return 0;
    if (!next_token(&p, end, &t))
        return 0;
    /* A TTL and a class, each optional, in either order (RFC 1035 5.1): a token is the TTL when
     * it starts with a digit, as ldns decides, and a class when it is one (ldns tries a token as
     * a class, then as the type). */
    bool ttl_seen = false, class_seen = false;
    for (;;) {
        if (!ttl_seen && t.s[0] >= '0' && t.s[0] <= '9') {
            ttl_seen = true;
            num_text_t r = read_period(t.s, t.n, TTL_MAX);
            if (r.how != ZL_NUM_OK && (uint32_t)r.wrapped == ldns_rr_ttl(rr))
                return r.how == ZL_NUM_RANGE
                           ? zl_fail(L, at, "TTL %.*s is out of range (0 to 2147483647)", (int)t.n,
                                     t.s)
                           : zl_fail(L, at,
                                     "TTL '%.*s' is not a number of seconds (or units like 1h30m)",
                                     (int)t.n, t.s);
        } else if (!class_seen && zl_is_class(t.s, t.n)) {
            class_seen = true;
            int rc = has_prefix(t.s, t.n, "CLASS")
                         ? check_generic_number(L, at, "class", t.s, t.n, 5)
                         : 0;
            if (rc)
                return rc;
        } else {
            break;
        }
        if (!next_token(&p, end, &t))
            return 0;
    }
    int rc = zl_check_type_name(L, at, t.s, t.n);
    if (rc)
        return rc;
    if ((unsigned)ldns_rr_get_type(rr) > UINT16_MAX)
        return zl_fail(L, at, "type number %u is out of range (0 to 65535)",
                       (unsigned)ldns_rr_get_type(rr));
    return check_rdata(L, at, p, end, rr, (uint16_t)ldns_rr_get_type(rr));
}
