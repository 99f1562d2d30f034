/* zoneload.c: YAML zone file -> immutable zone_t, record data parsed from text by ldns. */
#include "zoneload.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "geo.h"
#include "grow.h"
#include "log.h"
#include "xfr.h"
#include "yamltree.h"

#define MAX_RRS_PER_ZONE (4u << 20)

/* One record while loading, before RRsets are assembled. */
typedef struct pending_rr {
    uint16_t type;
    uint32_t ttl;
    dns_rdata_t rd;
    const yt_node_t *at;
} pending_rr_t;

typedef struct pending_node {
    uint8_t name[DNS_MAX_NAME];
    uint8_t namelen;
    pending_rr_t *rrs;
    size_t nrrs, caprrs;
    const yt_node_t *at;
    const yt_node_t *geo;
    struct pending_node *next; /* hash chain */
    uint32_t hash;
    size_t order;
    bool dropped; /* below a DNAME: not part of the zone */
} pending_node_t;

typedef struct loader {
    arena_t *arena;
    const char *path;
    char *err;
    size_t errlen;
    ldns_rdf *origin;
    uint8_t apex[DNS_MAX_NAME];
    size_t apexlen;
    char apex_str[DNS_MAX_NAME * 4 + 2];
    uint32_t default_ttl;
    pending_node_t **buckets;
    size_t nbuckets, nnodes;
    pending_node_t **list; /* insertion order */
    size_t caplist;
    size_t nrecords;
    /* Master files: where each record came from (col 0: "file:line:" in messages). */
    struct loc_block *locs;
} loader_t;

/* Locations of master-file records, allocated in blocks and freed with the loader. */
#define LOC_BLOCK 1024
struct loc_block {
    struct loc_block *next;
    size_t n;
    yt_node_t v[LOC_BLOCK];
};

static const yt_node_t *loc_new(loader_t *L, const char *file, unsigned line)
{
    if (!L->locs || L->locs->n == LOC_BLOCK) {
        struct loc_block *b = calloc(1, sizeof(*b));
        if (!b)
            return NULL;
        b->next = L->locs;
        L->locs = b;
    }
    yt_node_t *at = &L->locs->v[L->locs->n++];
    at->kind = YT_SCALAR;
    at->file = file;
    at->line = line;
    at->col = 0;
    at->str = "";
    return at;
}

/* Like yt_fail(), for YAML nodes and master-file locations ("file:line: reason"). */
__attribute__((format(printf, 3, 4))) static int loc_fail(loader_t *L, const yt_node_t *at,
                                                          const char *fmt, ...)
{
    if (!L->err || !L->errlen)
        return -EINVAL;
    int n;
    if (!at)
        n = snprintf(L->err, L->errlen, "%s: ", L->path);
    else if (at->col)
        n = snprintf(L->err, L->errlen, "%s:%u:%u: ", at->file, at->line, at->col);
    else
        n = snprintf(L->err, L->errlen, "%s:%u: ", at->file, at->line);
    if (n >= 0 && (size_t)n < L->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void loc_warn(const yt_node_t *at, const char *msg, const char *name)
{
    if (at && at->col)
        log_warn("%s:%u:%u: %s%s", at->file, at->line, at->col, name, msg);
    else if (at)
        log_warn("%s:%u: %s%s", at->file, at->line, name, msg);
    else
        log_warn("%s%s", name, msg);
}

static bool is_compressible(uint16_t type)
{
    /* RFC 3597 section 4: only the RFC 1035 types may have their RDATA names compressed. */
    switch (type) {
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_SOA:
    case DNS_TYPE_PTR:
    case DNS_TYPE_MX:
    case 3:  /* MD */
    case 4:  /* MF */
    case 7:  /* MB */
    case 8:  /* MG */
    case 9:  /* MR */
    case 14: /* MINFO */
        return true;
    default:
        return false;
    }
}

/* Meta and transfer types never stand in a zone. */
static bool type_storable(uint16_t type)
{
    switch (type) {
    case 0:
    case DNS_TYPE_OPT:
    case DNS_TYPE_ANY:
    case DNS_TYPE_AXFR:
    case DNS_TYPE_IXFR:
    case 250: /* TSIG */
    case 249: /* TKEY */
    case 253: /* MAILB */
    case 254: /* MAILA */
        return false;
    default:
        return true;
    }
}

static bool name_is_below_or_at(const uint8_t *name, size_t len, const uint8_t *apex,
                                size_t apexlen)
{
    if (len < apexlen || memcmp(name + len - apexlen, apex, apexlen))
        return false;
    if (len == apexlen)
        return true;
    /* The suffix must start at a label boundary. */
    size_t i = 0;
    while (i < len - apexlen)
        i += (size_t)name[i] + 1;
    return i == len - apexlen;
}

static pending_node_t *node_get(loader_t *L, const uint8_t *name, size_t len, bool create)
{
    uint32_t h = zone_name_hash(name, len);
    for (pending_node_t *n = L->buckets[h % L->nbuckets]; n; n = n->next)
        if (n->hash == h && n->namelen == len && !memcmp(n->name, name, len))
            return n;
    if (!create)
        return NULL;
    pending_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    memcpy(n->name, name, len);
    n->namelen = (uint8_t)len;
    n->hash = h;
    n->next = L->buckets[h % L->nbuckets];
    L->buckets[h % L->nbuckets] = n;
    if (L->nnodes == L->caplist) {
        size_t cap = L->caplist ? L->caplist * 2 : 256;
        pending_node_t **nl = realloc(L->list, cap * sizeof(*nl));
        if (!nl)
            return NULL;
        L->list = nl;
        L->caplist = cap;
    }
    n->order = L->nnodes;
    L->list[L->nnodes++] = n;
    /* Grow the hash when it gets crowded. */
    if (L->nnodes > L->nbuckets * 2) {
        size_t nb = L->nbuckets * 4;
        pending_node_t **b = calloc(nb, sizeof(*b));
        if (b) {
            for (size_t i = 0; i < L->nnodes; i++) {
                pending_node_t *x = L->list[i];
                x->next = b[x->hash % nb];
                b[x->hash % nb] = x;
            }
            free(L->buckets);
            L->buckets = b;
            L->nbuckets = nb;
        }
    }
    return n;
}

/* Make sure a node and all its ancestors up to the apex exist (empty non-terminals). */
static pending_node_t *node_ensure(loader_t *L, const uint8_t *name, size_t len)
{
    pending_node_t *n = node_get(L, name, len, true);
    size_t off = 0;
    while (n && len - off > L->apexlen) {
        off += (size_t)name[off] + 1;
        if (!node_get(L, name + off, len - off, true))
            return NULL;
    }
    return n;
}

static int add_rr(loader_t *L, pending_node_t *n, uint16_t type, uint32_t ttl, ldns_rr *rr,
                  const yt_node_t *at)
{
    /* Serialize the RDATA, remembering where compressible names start. */
    size_t total = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
        total += ldns_rdf_size(ldns_rr_rdf(rr, i));
    if (total > 65535)
        return loc_fail(L, at, "record data longer than 65535 bytes");
    uint8_t *data = arena_alloc(L->arena, total ? total : 1);
    if (!data)
        return -ENOMEM;
    dns_rdata_t rd = {.data = data, .len = (uint16_t)total};
    size_t pos = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        ldns_rdf *f = ldns_rr_rdf(rr, i);
        if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && is_compressible(type) && rd.nnames < 2)
            rd.name_off[rd.nnames++] = (uint16_t)pos;
        memcpy(data + pos, ldns_rdf_data(f), ldns_rdf_size(f));
        pos += ldns_rdf_size(f);
    }
    /* Exact duplicates are dropped by node_finish (rrs_sort_dedup). */
    if (grow_for(&n->rrs, &n->caprrs, n->nrrs, sizeof(*n->rrs), 4))
        return -ENOMEM;
    n->rrs[n->nrrs++] = (pending_rr_t){.type = type, .ttl = ttl, .rd = rd, .at = at};
    if (++L->nrecords > MAX_RRS_PER_ZONE)
        return loc_fail(L, at, "more than %u records in one zone", MAX_RRS_PER_ZONE);
    return 0;
}

/* Parse "<owner> <ttl> IN <type> <rdata>" with ldns and add it to node n. */
static int add_text_rr(loader_t *L, pending_node_t *n, const char *owner_str, uint16_t type,
                       uint32_t ttl, const char *rdata, const yt_node_t *at)
{
    if (strpbrk(rdata, "\n\r"))
        return loc_fail(L, at, "record data must be on one line");
    if (!*rdata)
        return loc_fail(L, at, "empty record data");
    char type_str[32];
    ldns_rr_type t = (ldns_rr_type)type;
    /* Addresses, and TXT data that is one quoted string without escapes, most of a big zone, go
     * straight in: tokenizing a whole record line for them was a third of the load time each.
     * Anything else takes the full path below, which also gives the errors. */
    ldns_rdf *af = NULL;
    size_t rl = strlen(rdata);
    uint8_t txt[256];
    if (type == DNS_TYPE_TXT && rl >= 2 && rl - 2 < sizeof(txt) && rdata[0] == '"' &&
        rdata[rl - 1] == '"' && !memchr(rdata + 1, '"', rl - 2) &&
        !memchr(rdata + 1, '\\', rl - 2)) {
        txt[0] = (uint8_t)(rl - 2);
        memcpy(txt + 1, rdata + 1, rl - 2);
        af = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, rl - 1, txt);
    }
    if (af || (type == DNS_TYPE_A && ldns_str2rdf_a(&af, rdata) == LDNS_STATUS_OK) ||
        (type == DNS_TYPE_AAAA && ldns_str2rdf_aaaa(&af, rdata) == LDNS_STATUS_OK)) {
        ldns_rr *ar = ldns_rr_new();
        int arc = -ENOMEM;
        if (ar && ldns_rr_push_rdf(ar, af))
            arc = add_rr(L, n, type, ttl, ar, at);
        else
            ldns_rdf_deep_free(af);
        ldns_rr_free(ar);
        return arc;
    }
    char *ts = ldns_rr_type2str(t);
    snprintf(type_str, sizeof(type_str), "%s", ts ? ts : "TYPE0");
    free(ts);
    size_t linelen = strlen(owner_str) + strlen(rdata) + 64;
    char *line = malloc(linelen);
    if (!line)
        return -ENOMEM;
    snprintf(line, linelen, "%s %u IN %s %s", owner_str, ttl, type_str, rdata);
    ldns_rr *rr = NULL;
    ldns_status st = ldns_rr_new_frm_str(&rr, line, ttl, L->origin, NULL);
    free(line);
    if (st != LDNS_STATUS_OK) {
        return loc_fail(L, at, "bad %s record data '%s': %s", type_str, rdata,
                        ldns_get_errorstr_by_id(st));
    }
    int rc = 0;
    if ((uint16_t)ldns_rr_get_type(rr) != type)
        rc = loc_fail(L, at, "record data '%s' does not parse as %s", rdata, type_str);
    else
        rc = add_rr(L, n, type, ttl, rr, at);
    ldns_rr_free(rr);
    return rc;
}

/* Turn a relative or absolute name from the file into lower-case wire form inside the zone. */
static int owner_to_wire(loader_t *L, const yt_node_t *at, const char *s, uint8_t *out,
                         size_t *outlen, char *abs, size_t abslen)
{
    if (!strcmp(s, "@")) {
        snprintf(abs, abslen, "%s", L->apex_str);
    } else {
        size_t sl = strlen(s);
        if (sl == 0 || strpbrk(s, " \t\n\r;()\"") || strstr(s, ".."))
            return loc_fail(L, at, "'%s' is not a valid owner name", s);
        if (s[sl - 1] == '.')
            snprintf(abs, abslen, "%s", s);
        else
            snprintf(abs, abslen, "%s.%s", s, L->apex_str);
    }
    size_t len;
    if (dns_name_from_text(abs, out, &len))
        return loc_fail(L, at, "'%s' is not a valid domain name", s);
    dns_name_lower(out, len);
    *outlen = len;
    if (!name_is_below_or_at(out, len, L->apex, L->apexlen))
        return loc_fail(L, at, "name '%s' is outside the zone %s", s, L->apex_str);
    return 0;
}

static int add_values(loader_t *L, pending_node_t *n, const char *abs, uint16_t type, uint32_t ttl,
                      const yt_node_t *v)
{
    if (v->kind == YT_SCALAR)
        return add_text_rr(L, n, abs, type, ttl, v->str, v);
    if (v->kind == YT_SEQ) {
        if (v->n == 0)
            return loc_fail(L, v, "empty list of record data");
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != YT_SCALAR)
                return loc_fail(L, v->items[i],
                                "record data must be a value (quote it if it has special "
                                "characters)");
            int rc = add_text_rr(L, n, abs, type, ttl, v->items[i]->str, v->items[i]);
            if (rc)
                return rc;
        }
        return 0;
    }
    /* {ttl: N, data: value-or-list} */
    static const char *const keys[] = {"ttl", "data", NULL};
    int rc = yt_map_check_keys(v, keys, "a record set", L->err, L->errlen);
    if (rc)
        return rc;
    const yt_node_t *t = yt_map_get(v, "ttl"), *d = yt_map_get(v, "data");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &ttl, L->err, L->errlen)))
        return rc;
    if (!d)
        return loc_fail(L, v, "record set without 'data'");
    if (d->kind == YT_MAP)
        return loc_fail(L, d, "'data' must be a value or a list of values");
    return add_values(L, n, abs, type, ttl, d);
}

static int load_node(loader_t *L, const yt_node_t *key, const yt_node_t *val)
{
    uint8_t name[DNS_MAX_NAME];
    size_t namelen = 0;
    char abs[1100];
    int rc = owner_to_wire(L, key, key->str, name, &namelen, abs, sizeof(abs));
    if (rc)
        return rc;
    if (val->kind != YT_MAP)
        return loc_fail(L, val,
                        "records of '%s' must be a mapping of TYPE: data (e.g. {A: 192.0.2.1})",
                        key->str);
    pending_node_t *n = node_ensure(L, name, namelen);
    if (!n)
        return -ENOMEM;
    if (!n->at)
        n->at = key;
    uint32_t ttl = L->default_ttl;
    const yt_node_t *t = yt_map_get(val, "ttl");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &ttl, L->err, L->errlen)))
        return rc;
    for (size_t i = 0; i < val->n; i++) {
        const yt_node_t *k = val->items[2 * i], *v = val->items[2 * i + 1];
        if (!strcmp(k->str, "ttl"))
            continue;
        if (!strcmp(k->str, "geo")) {
            n->geo = v;
            continue;
        }
        char up[32];
        size_t kl = strlen(k->str);
        if (kl == 0 || kl >= sizeof(up))
            return loc_fail(L, k, "unknown record type '%s'", k->str);
        for (size_t j = 0; j <= kl; j++)
            up[j] = (char)((k->str[j] >= 'a' && k->str[j] <= 'z') ? k->str[j] - 32 : k->str[j]);
        uint16_t type = (uint16_t)ldns_get_rr_type_by_name(up);
        if (type == 0)
            return loc_fail(L, k, "unknown record type '%s'", k->str);
        if (type == DNS_TYPE_SOA)
            return loc_fail(L, k, "the SOA is set with the zone's 'soa:' key");
        if (!type_storable(type))
            return loc_fail(L, k, "'%s' is not a type that can be stored in a zone", k->str);
        if ((rc = add_values(L, n, abs, type, ttl, v)))
            return rc;
    }
    return 0;
}

static int soa_build(loader_t *L, const yt_node_t *soa, const char *path)
{
    static const char *const keys[] = {"primary", "contact", "serial", "refresh", "retry",
                                       "expire",  "minimum", "ttl",    NULL};
    int rc = yt_map_check_keys(soa, keys, "soa", L->err, L->errlen);
    if (rc)
        return rc;
    const char *primary, *contact;
    const yt_node_t *p = yt_map_get(soa, "primary"), *c = yt_map_get(soa, "contact");
    if (!p)
        return loc_fail(L, soa, "soa needs 'primary' (the primary name server)");
    if (!c)
        return loc_fail(L, soa, "soa needs 'contact' (hostmaster address)");
    if ((rc = yt_get_str(p, &primary, L->err, L->errlen)) ||
        (rc = yt_get_str(c, &contact, L->err, L->errlen)))
        return rc;
    /* hostmaster@example.test -> hostmaster.example.test (dots in the local part escaped). */
    char mbox[600];
    const char *at = strchr(contact, '@');
    if (at) {
        size_t o = 0;
        for (const char *s = contact; s < at && o < sizeof(mbox) - 3; s++) {
            if (*s == '.')
                mbox[o++] = '\\';
            mbox[o++] = *s;
        }
        snprintf(mbox + o, sizeof(mbox) - o, ".%s%s", at + 1,
                 at[1] && contact[strlen(contact) - 1] != '.' ? "." : "");
    } else {
        snprintf(mbox, sizeof(mbox), "%s", contact);
    }
    struct stat st;
    uint32_t serial = 1;
    if (stat(path, &st) == 0 && st.st_mtime > 0)
        serial = (uint32_t)st.st_mtime; /* an edited file gets a higher serial */
    uint32_t refresh = 3600, retry = 600, expire = 604800, minimum = 60, ttl = L->default_ttl;
    struct {
        const char *k;
        uint32_t *v;
    } nums[] = {{"serial", &serial}, {"refresh", &refresh}, {"retry", &retry},
                {"expire", &expire}, {"minimum", &minimum}, {"ttl", &ttl}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        const yt_node_t *n = yt_map_get(soa, nums[i].k);
        if (n && (rc = yt_get_u32(n, 0, i == 0 ? 0xFFFFFFFFu : 0x7FFFFFFFu, nums[i].v, L->err,
                                  L->errlen)))
            return rc;
    }
    char rdata[1400];
    snprintf(rdata, sizeof(rdata), "%s %s %u %u %u %u %u", primary, mbox, serial, refresh, retry,
             expire, minimum);
    pending_node_t *apex = node_get(L, L->apex, L->apexlen, true);
    if (!apex)
        return -ENOMEM;
    return add_text_rr(L, apex, L->apex_str, DNS_TYPE_SOA, ttl, rdata, soa);
}

static int cmp_rr_type(const void *a, const void *b)
{
    const pending_rr_t *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return 0;
}

/* Same type and data (the TTL does not count), then file order: equal neighbours are
 * duplicates, the first in the file is kept. */
static int cmp_rr_data(const void *a, const void *b)
{
    const pending_rr_t *x = *(const pending_rr_t *const *)a, *y = *(const pending_rr_t *const *)b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->rd.len != y->rd.len)
        return x->rd.len < y->rd.len ? -1 : 1;
    int c = memcmp(x->rd.data, y->rd.data, x->rd.len);
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

static bool rr_same(const pending_rr_t *x, const pending_rr_t *y)
{
    return x->type == y->type && x->rd.len == y->rd.len &&
           !memcmp(x->rd.data, y->rd.data, x->rd.len);
}

/* Order a node's records by type, file order kept inside each RRset, and drop exact duplicates
 * (an RRset is a set, RFC 2181 5). Small nodes: insertion sort and pairwise comparison. Big
 * ones (a name with thousands of addresses): a stable merge sort and a sort of the data, so the
 * cost is k log k, never k squared. */
static int rrs_sort_dedup(loader_t *L, pending_node_t *pn)
{
    size_t k = pn->nrrs, kept = 0;
    if (k <= 16) {
        for (size_t i = 0; i < k; i++) {
            pending_rr_t x = pn->rrs[i];
            bool dup = false;
            for (size_t j = 0; j < kept && !dup; j++)
                dup = rr_same(&pn->rrs[j], &x);
            if (dup)
                continue;
            size_t j = kept++;
            while (j > 0 && cmp_rr_type(&pn->rrs[j - 1], &x) > 0) {
                pn->rrs[j] = pn->rrs[j - 1];
                j--;
            }
            pn->rrs[j] = x;
        }
    } else {
        pending_rr_t *tmp = malloc(k * sizeof(*tmp));
        pending_rr_t **by_data = malloc(k * sizeof(*by_data));
        bool *dup = calloc(k, sizeof(*dup));
        if (!tmp || !by_data || !dup) {
            free(tmp);
            free(by_data);
            free(dup);
            return -ENOMEM;
        }
        for (size_t i = 0; i < k; i++)
            by_data[i] = &pn->rrs[i];
        qsort(by_data, k, sizeof(*by_data), cmp_rr_data);
        for (size_t i = 1; i < k; i++)
            if (rr_same(by_data[i - 1], by_data[i]))
                dup[by_data[i] - pn->rrs] = true;
        for (size_t i = 0; i < k; i++)
            if (!dup[i])
                pn->rrs[kept++] = pn->rrs[i];
        /* Bottom-up merge sort by type: stable, so file order stays inside each RRset. */
        for (size_t w = 1; w < kept; w *= 2) {
            for (size_t lo = 0; lo < kept; lo += 2 * w) {
                size_t mid = lo + w < kept ? lo + w : kept,
                       hi = lo + 2 * w < kept ? lo + 2 * w : kept;
                size_t a = lo, b = mid, o = lo;
                while (a < mid && b < hi)
                    tmp[o++] = pn->rrs[b].type < pn->rrs[a].type ? pn->rrs[b++] : pn->rrs[a++];
                while (a < mid)
                    tmp[o++] = pn->rrs[a++];
                while (b < hi)
                    tmp[o++] = pn->rrs[b++];
            }
            memcpy(pn->rrs, tmp, kept * sizeof(*tmp));
        }
        free(tmp);
        free(by_data);
        free(dup);
    }
    L->nrecords -= k - kept;
    pn->nrrs = kept;
    return 0;
}

/* Validate a node's data and turn it into the immutable form. */
static int node_finish(loader_t *L, pending_node_t *pn, zone_t *z, struct geo_ctx *geo)
{
    bool apex = pn->namelen == L->apexlen;
    int src = rrs_sort_dedup(L, pn);
    if (src)
        return src;
    bool has_cname = false, has_ns = false, has_other = false;
    size_t ncname = 0, ndname = 0;
    const yt_node_t *cname_at = NULL, *dname_at = NULL;
    for (size_t i = 0; i < pn->nrrs; i++) {
        uint16_t t = pn->rrs[i].type;
        if (t == DNS_TYPE_DNAME) {
            ndname++;
            dname_at = pn->rrs[i].at;
        }
        if (t == DNS_TYPE_CNAME) {
            has_cname = true;
            ncname++;
            cname_at = pn->rrs[i].at;
        } else if (t == DNS_TYPE_NS) {
            has_ns = true;
        } else if (t != DNS_TYPE_DS && t != DNS_TYPE_RRSIG && t != 47 /* NSEC */) {
            has_other = true;
        }
    }
    if (has_cname && apex)
        return loc_fail(L, cname_at, "a CNAME cannot be at the zone apex");
    if (has_cname && ndname)
        return loc_fail(L, cname_at, "a CNAME and a DNAME cannot stand at the same name");
    if (has_cname && (has_other || has_ns || pn->geo))
        return loc_fail(
            L, cname_at,
            "a CNAME cannot stand next to other data at the same name (RFC 1034 3.6.2)");
    if (ncname > 1)
        return loc_fail(L, cname_at, "a name can have only one CNAME");
    if (pn->geo && apex)
        return loc_fail(L, pn->geo, "a geo name cannot be the zone apex");
    if (ndname > 1)
        return loc_fail(L, dname_at, "a name can have only one DNAME (RFC 6672 2.4)");
    /* Other data at a delegation point is occluded: it loads, serves as glue where it is and is
     * never answered (zone_lookup() stops at the cut). A geo name there would never answer. */
    if (has_ns && !apex && pn->geo)
        return loc_fail(L, pn->geo, "a geo name cannot be a delegation point (it has NS records)");
    if (!has_ns && !apex)
        for (size_t i = 0; i < pn->nrrs; i++)
            if (pn->rrs[i].type == DNS_TYPE_DS)
                return loc_fail(L, pn->rrs[i].at,
                                "a DS record needs a delegation (NS) at the same name");

    zone_node_t *n = arena_alloc(L->arena, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->name = arena_memdup(L->arena, pn->name, pn->namelen);
    n->namelen = pn->namelen;
    n->hash = pn->hash;
    if (apex)
        n->flags |= ZONE_NODE_APEX;
    else if (has_ns)
        n->flags |= ZONE_NODE_CUT;
    if (ndname && !(n->flags & ZONE_NODE_CUT))
        n->flags |= ZONE_NODE_DNAME;
    /* Count RRsets and build them; an RRset's TTL is the lowest given (RFC 2181 5.2). */
    size_t nsets = 0;
    for (size_t i = 0; i < pn->nrrs; i++)
        if (i == 0 || pn->rrs[i].type != pn->rrs[i - 1].type)
            nsets++;
    n->rrsets = arena_alloc(L->arena, (nsets ? nsets : 1) * sizeof(zone_rrset_t));
    if (!n->rrsets || !n->name)
        return -ENOMEM;
    size_t s = 0;
    for (size_t i = 0; i < pn->nrrs;) {
        size_t j = i;
        uint32_t ttl = pn->rrs[i].ttl;
        while (j < pn->nrrs && pn->rrs[j].type == pn->rrs[i].type) {
            if (pn->rrs[j].ttl < ttl)
                ttl = pn->rrs[j].ttl;
            j++;
        }
        if (j - i > 65535)
            return loc_fail(L, pn->rrs[i].at, "too many records in one set");
        zone_rrset_t *rs = &n->rrsets[s++];
        rs->type = pn->rrs[i].type;
        rs->ttl = ttl;
        rs->count = (uint16_t)(j - i);
        rs->rdata = arena_alloc(L->arena, (j - i) * sizeof(dns_rdata_t));
        if (!rs->rdata)
            return -ENOMEM;
        for (size_t k = i; k < j; k++)
            rs->rdata[k - i] = pn->rrs[k].rd;
        i = j;
    }
    n->nrrsets = (uint16_t)nsets;
    if (pn->geo) {
        if (!geo)
            return loc_fail(L, pn->geo, "geo names need a PoP file ('pops:' in the server config)");
        int rc = geo->policy_parse(geo, pn->geo, n, L->err, L->errlen);
        if (rc)
            return rc;
    }
    n->next = z->buckets[n->hash & (z->nbuckets - 1)];
    z->buckets[n->hash & (z->nbuckets - 1)] = n;
    if (apex)
        z->apex_node = n;
    return 0;
}

/* ldns allocates and frees some 150 KiB of buffers per record it parses; with glibc's default
 * trim threshold (128 KiB) each record then grows and shrinks the heap (brk, page faults, TLB
 * flushes): half of the load time of a 100,000-name zone. Keep up to 16 MiB of free heap. */
static void heap_keep_free(void)
{
    mallopt(M_TRIM_THRESHOLD, 16 << 20); /* once per zone load; mallopt locks */
}

static void loader_free(loader_t *L)
{
    for (size_t i = 0; i < L->nnodes; i++) {
        free(L->list[i]->rrs);
        free(L->list[i]);
    }
    free(L->list);
    free(L->buckets);
    if (L->origin)
        ldns_rdf_deep_free(L->origin);
    while (L->locs) {
        struct loc_block *b = L->locs;
        L->locs = b->next;
        free(b);
    }
}

static bool pending_has(const pending_node_t *pn, uint16_t type)
{
    for (size_t i = 0; i < pn->nrrs; i++)
        if (pn->rrs[i].type == type)
            return true;
    return false;
}

/* RFC 6672 2.4: nothing may stand below a DNAME. Such data is dropped with a warning; the names
 * below the DNAME are answered by substitution. Each node looks at its ancestors: linear in the
 * number of names times their depth. */
static void drop_below_dname(loader_t *L)
{
    for (size_t i = 0; i < L->nnodes; i++) {
        pending_node_t *pn = L->list[i];
        size_t off = 0;
        while (pn->namelen - off > L->apexlen) {
            off += (size_t)pn->name[off] + 1;
            pending_node_t *up = node_get(L, pn->name + off, pn->namelen - off, false);
            if (up && pending_has(up, DNS_TYPE_DNAME) && !pending_has(up, DNS_TYPE_NS)) {
                pn->dropped = true;
                if (pn->nrrs || pn->geo) {
                    char name[DNS_MAX_NAME * 4 + 2], dn[DNS_MAX_NAME * 4 + 2];
                    char msg[DNS_MAX_NAME * 4 + 80];
                    dns_name_to_str(pn->name, name, sizeof(name));
                    dns_name_to_str(up->name, dn, sizeof(dn));
                    snprintf(msg, sizeof(msg),
                             " is below the DNAME at %s and is ignored (RFC 6672 2.4)", dn);
                    loc_warn(pn->nrrs ? pn->rrs[0].at : pn->geo, msg, name);
                }
                break;
            }
        }
    }
}

/* Warn about CNAME, NS and MX targets inside the zone that have no data: the answer would lead
 * resolvers to NXDOMAIN or to a name server without an address. Load continues. */
static void warn_dangling_targets(const loader_t *L, const zone_t *z)
{
    for (size_t i = 0; i < L->nnodes; i++) {
        const pending_node_t *pn = L->list[i];
        if (pn->dropped)
            continue;
        for (size_t j = 0; j < pn->nrrs; j++) {
            const pending_rr_t *r = &pn->rrs[j];
            size_t skip;
            if (r->type == DNS_TYPE_CNAME || r->type == DNS_TYPE_NS)
                skip = 0;
            else if (r->type == DNS_TYPE_MX && r->rd.len > 2)
                skip = 2;
            else
                continue;
            uint8_t t[DNS_MAX_NAME], offs[DNS_MAX_LABELS];
            int tl = dns_name_len(r->rd.data + skip, r->rd.len - skip);
            if (tl < 0 || (r->type == DNS_TYPE_MX && tl == 1))
                continue; /* "MX 0 ." is a null MX (RFC 7505) */
            memcpy(t, r->rd.data + skip, (size_t)tl);
            dns_name_lower(t, (size_t)tl);
            if (!name_is_below_or_at(t, (size_t)tl, L->apex, L->apexlen))
                continue;
            bool want_addr = r->type != DNS_TYPE_CNAME;
            const zone_node_t *n = zone_node_find(z, t, (size_t)tl);
            bool ok;
            if (n) {
                ok = n->geo || (want_addr ? zone_node_rrset(n, DNS_TYPE_A) ||
                                                zone_node_rrset(n, DNS_TYPE_AAAA) ||
                                                zone_node_rrset(n, DNS_TYPE_CNAME)
                                          : n->nrrsets > 0);
            } else {
                unsigned nl = zone_name_labels(t, offs);
                zone_match_t m = zone_lookup(z, t, (size_t)tl, offs, nl, DNS_TYPE_A, &n);
                ok = m != ZONE_MATCH_NXDOMAIN; /* a wildcard, a DNAME or another zone's data */
            }
            if (ok)
                continue;
            char name[DNS_MAX_NAME * 4 + 2], msg[DNS_MAX_NAME * 4 + 80];
            dns_name_to_str(t, name, sizeof(name));
            snprintf(msg, sizeof(msg), " (target of a %s record) has no %s in zone %s",
                     r->type == DNS_TYPE_CNAME ? "CNAME"
                     : r->type == DNS_TYPE_NS  ? "NS"
                                               : "MX",
                     want_addr ? "address (A/AAAA)" : "data", L->apex_str);
            loc_warn(r->at, msg, name);
        }
    }
}

/* Everything loaded into L becomes the immutable zone *out (in arena). */
static int zone_assemble(loader_t *L, const char *path, struct geo_ctx *geo, zone_t **out)
{
    arena_t *arena = L->arena;
    pending_node_t *apex = node_get(L, L->apex, L->apexlen, false);
    if (!apex || !pending_has(apex, DNS_TYPE_SOA))
        return loc_fail(L, NULL, "zone %s has no SOA record", L->apex_str);
    if (!pending_has(apex, DNS_TYPE_NS))
        return loc_fail(L, apex->at, "zone %s has no NS records at its apex", L->apex_str);
    drop_below_dname(L);
    zone_t *z = arena_alloc(arena, sizeof(*z));
    if (!z)
        return -ENOMEM;
    z->apex = arena_memdup(arena, L->apex, L->apexlen);
    z->apexlen = (uint8_t)L->apexlen;
    uint8_t offs[DNS_MAX_LABELS];
    z->apex_labels = (uint8_t)zone_name_labels(L->apex, offs);
    z->file = arena_strdup(arena, path);
    z->nbuckets = 16;
    while (z->nbuckets < L->nnodes)
        z->nbuckets <<= 1;
    z->buckets = arena_alloc(arena, z->nbuckets * sizeof(*z->buckets));
    if (!z->buckets || !z->apex || !z->file)
        return -ENOMEM;
    size_t nnodes = 0, nrecords = 0;
    for (size_t i = 0; i < L->nnodes; i++) {
        if (L->list[i]->dropped)
            continue;
        int rc = node_finish(L, L->list[i], z, geo);
        if (rc)
            return rc;
        nnodes++;
        nrecords += L->list[i]->nrrs;
    }
    z->nnodes = nnodes;
    z->nrecords = nrecords;
    z->soa = (zone_rrset_t *)zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
    const dns_rdata_t *rd = &z->soa->rdata[0];
    const uint8_t *p = rd->data + rd->len - 20;
    z->serial = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    uint32_t minimum =
        ((uint32_t)p[16] << 24) | ((uint32_t)p[17] << 16) | ((uint32_t)p[18] << 8) | p[19];
    z->neg_ttl = minimum < z->soa->ttl ? minimum : z->soa->ttl; /* RFC 2308 5 */
    warn_dangling_targets(L, z);
    *out = z;
    return 0;
}

static int zone_load_doc(yt_doc_t *doc, const char *path, arena_t *arena, struct geo_ctx *geo,
                         zone_t **out, char *err, size_t errlen);
static int zone_load_master(const char *path, const char *buf, size_t len, bool may_include,
                            arena_t *arena, struct geo_ctx *geo, zone_t **out, char *err,
                            size_t errlen);

static bool is_yaml_name(const char *path)
{
    size_t l = strlen(path);
    return (l >= 5 && !strcmp(path + l - 5, ".yaml")) || (l >= 4 && !strcmp(path + l - 4, ".yml"));
}

int zone_load_file(const char *path, arena_t *arena, struct geo_ctx *geo, zone_t **out, char *err,
                   size_t errlen)
{
    if (!is_yaml_name(path))
        return zone_load_master(path, NULL, 0, true, arena, geo, out, err, errlen);
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    return zone_load_doc(doc, path, arena, geo, out, err, errlen);
}

int zone_load_buffer(const char *name, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_t **out, char *err, size_t errlen)
{
    if (!is_yaml_name(name))
        return zone_load_master(name, buf, len, false, arena, geo, out, err, errlen);
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_buffer(name, buf, len, &doc, err, errlen);
    if (rc)
        return rc;
    return zone_load_doc(doc, name, arena, geo, out, err, errlen);
}

/* Takes ownership of doc. */
static int zone_load_doc(yt_doc_t *doc, const char *path, arena_t *arena, struct geo_ctx *geo,
                         zone_t **out, char *err, size_t errlen)
{
    int rc;
    loader_t L = {.arena = arena, .path = path, .err = err, .errlen = errlen};
    const yt_node_t *root = yt_doc_root(doc);
    heap_keep_free();
    static const char *const keys[] = {"zone", "ttl", "soa", "ns", "records", "transfer", NULL};
    const char *zname;
    if ((rc = yt_map_check_keys(root, keys, "a zone file", err, errlen)))
        goto done;
    const yt_node_t *zn = yt_map_get(root, "zone");
    if (!zn) {
        rc = yt_fail(err, errlen, root, "missing 'zone:' (the zone's name)");
        goto done;
    }
    if ((rc = yt_get_str(zn, &zname, err, errlen)))
        goto done;
    {
        size_t zl = strlen(zname);
        char abs[1100];
        snprintf(abs, sizeof(abs), "%s%s", zname, zl && zname[zl - 1] == '.' ? "" : ".");
        if (!zl || strpbrk(zname, " \t;()\"@") ||
            ldns_str2rdf_dname(&L.origin, abs) != LDNS_STATUS_OK) {
            rc = yt_fail(err, errlen, zn, "'%s' is not a valid zone name", zname);
            goto done;
        }
        L.apexlen = ldns_rdf_size(L.origin);
        memcpy(L.apex, ldns_rdf_data(L.origin), L.apexlen);
        dns_name_lower(L.apex, L.apexlen);
        dns_name_to_str(L.apex, L.apex_str, sizeof(L.apex_str));
    }
    L.default_ttl = 300;
    const yt_node_t *t = yt_map_get(root, "ttl");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &L.default_ttl, err, errlen)))
        goto done;
    L.nbuckets = 1024;
    L.buckets = calloc(L.nbuckets, sizeof(*L.buckets));
    if (!L.buckets) {
        rc = -ENOMEM;
        goto done;
    }
    const yt_node_t *soa = yt_map_get(root, "soa");
    if (!soa) {
        rc = yt_fail(err, errlen, root, "zone %s has no 'soa:'", L.apex_str);
        goto done;
    }
    if ((rc = soa_build(&L, soa, path)))
        goto done;
    const yt_node_t *ns = yt_map_get(root, "ns");
    if (!ns) {
        rc = yt_fail(err, errlen, root, "zone %s has no 'ns:' (its name servers)", L.apex_str);
        goto done;
    }
    {
        pending_node_t *apex = node_get(&L, L.apex, L.apexlen, true);
        if (!apex) {
            rc = -ENOMEM;
            goto done;
        }
        if (!apex->at)
            apex->at = ns;
        if ((rc = add_values(&L, apex, L.apex_str, DNS_TYPE_NS, L.default_ttl, ns)))
            goto done;
    }
    const yt_node_t *recs = yt_map_get(root, "records");
    if (recs && !yt_is_null(recs)) {
        if (recs->kind != YT_MAP) {
            rc = yt_fail(err, errlen, recs, "'records' must be a mapping of name: {TYPE: data}");
            goto done;
        }
        for (size_t i = 0; i < recs->n; i++)
            if ((rc = load_node(&L, recs->items[2 * i], recs->items[2 * i + 1])))
                goto done;
    }
    zone_t *z;
    if ((rc = zone_assemble(&L, path, geo, &z)))
        goto done;
    {
        const yt_node_t *tn = yt_map_get(root, "transfer");
        if (tn && !yt_is_null(tn) && (rc = xfr_policy_parse(tn, arena, &z->xfr, err, errlen)))
            goto done;
    }
    *out = z;
    rc = 0;
done:
    loader_free(&L);
    yt_doc_free(doc);
    return rc;
}

/* ---- RFC 1035 master files ---- */

#define MASTER_MAX_INCLUDE_DEPTH 8
#define MASTER_MAX_LINE          65535            /* bytes in one line of a master file */
#define MASTER_MAX_FILE          (1ul << 31)      /* bytes in one master file */
#define MASTER_MAX_DIRECTIVE     (PATH_MAX + 300) /* a $INCLUDE line: path and origin */
#define MASTER_DEFAULT_TTL       3600             /* without $TTL, as NSD and ldns */
/* The origin of a file that neither sets $ORIGIN nor is named <zone>.zone: a relative name ending
 * up below it is an error, never a silently wrong name. */
#define MASTER_NO_ORIGIN "no-origin--set-origin-or-name-the-file-zone.invalid."

typedef struct master_ctx {
    loader_t *L;
    uint32_t ttl;
    ldns_rdf *origin;
    ldns_rdf *prev;
    ldns_rdf *no_origin;
    bool have_soa;
    bool may_include;
    const char *stack[MASTER_MAX_INCLUDE_DEPTH + 1]; /* real paths of the files being read */
    unsigned depth;
} master_ctx_t;

static int master_parse_text(master_ctx_t *M, const char *file, char *buf, size_t len);

/* Is the name at or below the no-origin sentinel? (Most names are shorter: no copy then.) */
static bool ends_with_no_origin(const master_ctx_t *M, const ldns_rdf *d)
{
    size_t len = ldns_rdf_size(d), sl = ldns_rdf_size(M->no_origin);
    if (len < sl || len > DNS_MAX_NAME)
        return false;
    uint8_t low[DNS_MAX_NAME];
    memcpy(low, ldns_rdf_data(d), len);
    dns_name_lower(low, len);
    return name_is_below_or_at(low, len, ldns_rdf_data(M->no_origin), sl);
}

/* One parsed record into the loader. The first record of the zone is its SOA, which names it. */
static int master_add(master_ctx_t *M, ldns_rr *rr, const yt_node_t *at)
{
    loader_t *L = M->L;
    uint16_t type = (uint16_t)ldns_rr_get_type(rr);
    ldns_rdf *owner = ldns_rr_owner(rr);
    bool relative = ends_with_no_origin(M, owner);
    for (size_t i = 0; i < ldns_rr_rd_count(rr) && !relative; i++) {
        ldns_rdf *f = ldns_rr_rdf(rr, i);
        relative = ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && ends_with_no_origin(M, f);
    }
    if (relative)
        return loc_fail(L, at,
                        "relative name without an origin: start the file with $ORIGIN <zone>. "
                        "or name it <zone>.zone");
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
        return loc_fail(L, at, "only class IN is served");
    if (!type_storable(type))
        return loc_fail(L, at, "type %u is not a type that can be stored in a zone", type);
    if (ldns_rr_ttl(rr) > 0x7FFFFFFFu)
        return loc_fail(L, at, "TTL %u is over 2147483647 (RFC 2181 8)", ldns_rr_ttl(rr));
    size_t olen = ldns_rdf_size(owner);
    uint8_t name[DNS_MAX_NAME];
    if (olen > DNS_MAX_NAME)
        return loc_fail(L, at, "owner name too long");
    memcpy(name, ldns_rdf_data(owner), olen);
    dns_name_lower(name, olen);
    if (!M->have_soa) {
        if (type != DNS_TYPE_SOA)
            return loc_fail(L, at, "the first record of a zone file must be its SOA");
        M->have_soa = true;
        memcpy(L->apex, name, olen);
        L->apexlen = olen;
        dns_name_to_str(L->apex, L->apex_str, sizeof(L->apex_str));
    } else if (type == DNS_TYPE_SOA) {
        return loc_fail(L, at, "a second SOA record (the zone %s already has one)", L->apex_str);
    }
    if (!name_is_below_or_at(name, olen, L->apex, L->apexlen)) {
        char s[DNS_MAX_NAME * 4 + 2];
        dns_name_to_str(name, s, sizeof(s));
        return loc_fail(L, at, "name %s is outside the zone %s", s, L->apex_str);
    }
    pending_node_t *n = node_ensure(L, name, olen);
    if (!n)
        return -ENOMEM;
    if (!n->at)
        n->at = at;
    return add_rr(L, n, type, ldns_rr_ttl(rr), rr, at);
}

/* Parse master-file text [buf, buf+len) that holds no $INCLUDE; first_line is its line number
 * in file. */
static int master_parse_chunk(master_ctx_t *M, const char *file, char *buf, size_t len,
                              unsigned first_line)
{
    FILE *fp = fmemopen(buf, len, "r");
    if (!fp)
        return -ENOMEM;
    int line = (int)first_line - 1, rc = 0;
    while (!feof(fp)) {
        ldns_rr *rr = NULL;
        ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &M->ttl, &M->origin, &M->prev, &line);
        if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
            st == LDNS_STATUS_SYNTAX_ORIGIN)
            continue;
        const yt_node_t *at = loc_new(M->L, file, line > 0 ? (unsigned)line : 1);
        if (!at) {
            ldns_rr_free(rr);
            rc = -ENOMEM;
            break;
        }
        if (st != LDNS_STATUS_OK) {
            /* Quote the line where ldns stopped, so the reader sees what was refused. */
            const char *p = buf, *end = buf + len;
            for (int l = (int)first_line; l < line && p < end; l++) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                p = nl ? nl + 1 : end;
            }
            size_t ql = 0;
            while (p + ql < end && p[ql] != '\n' && p[ql] != '\r' && ql < 80)
                ql++;
            rc = loc_fail(M->L, at, "%s: '%.*s'", ldns_get_errorstr_by_id(st), (int)ql, p);
            break;
        }
        rc = master_add(M, rr, at);
        ldns_rr_free(rr);
        if (rc)
            break;
    }
    fclose(fp);
    return rc;
}

/* Next blank-separated token of a directive line, quotes allowed; NUL-terminates it in place. */
static char *directive_token(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == ';')
        return NULL;
    char *tok = s;
    if (*s == '"') {
        tok = ++s;
        while (*s && *s != '"')
            s++;
    } else {
        while (*s && *s != ' ' && *s != '\t' && *s != ';')
            s++;
    }
    if (*s)
        *s++ = '\0';
    *p = s;
    return tok;
}

/* A TTL as ldns reads it: digits with optional s/m/h/d/w units, at most 2^31-1 seconds. */
static bool ttl_text_ok(const char *s)
{
    uint64_t total = 0, num = 0;
    bool digits = false;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            num = num * 10 + (uint64_t)(*s - '0');
            digits = true;
            if (num > 0x7FFFFFFFu)
                return false;
            continue;
        }
        static const char units[] = "smhdw";
        static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};
        const char *u = strchr(units, *s | 0x20);
        if (!u || !*u || !digits)
            return false;
        total += num * mult[u - units];
        num = 0;
        digits = false;
    }
    total += num;
    return total <= 0x7FFFFFFFu;
}

static int master_include(master_ctx_t *M, const char *file, unsigned line, char *args);

/* Read one file's text: split it at $INCLUDE lines (outside parentheses and quotes), check the
 * directives ldns would accept silently ($TTL values, unknown $ words) and line lengths, and
 * hand each run of lines to ldns. */
static int master_parse_text(master_ctx_t *M, const char *file, char *buf, size_t len)
{
    loader_t *L = M->L;
    size_t chunk = 0, pos = 0;
    unsigned line = 1, chunk_line = 1;
    int depth = 0;
    bool quote = false;
    unsigned open_line = 0;
    while (pos < len) {
        size_t eol = pos;
        while (eol < len && buf[eol] != '\n')
            eol++;
        if (eol - pos > MASTER_MAX_LINE)
            return loc_fail(L, loc_new(L, file, line), "line longer than %u bytes",
                            MASTER_MAX_LINE);
        if (memchr(buf + pos, '\0', eol - pos))
            return loc_fail(L, loc_new(L, file, line), "NUL byte in a zone file");
        if (depth == 0 && !quote && buf[pos] == '$') {
            char dir[MASTER_MAX_DIRECTIVE + 1];
            if (eol - pos > MASTER_MAX_DIRECTIVE)
                return loc_fail(L, loc_new(L, file, line), "directive longer than %u bytes",
                                MASTER_MAX_DIRECTIVE);
            memcpy(dir, buf + pos, eol - pos);
            dir[eol - pos] = '\0';
            if (eol - pos > 0 && dir[eol - pos - 1] == '\r')
                dir[eol - pos - 1] = '\0';
            char *args = dir, *word = directive_token(&args);
            if (word && !strcmp(word, "$INCLUDE")) {
                int rc = 0;
                if (pos > chunk)
                    rc = master_parse_chunk(M, file, buf + chunk, pos - chunk, chunk_line);
                if (!rc)
                    rc = master_include(M, file, line, args);
                if (rc)
                    return rc;
                chunk = eol < len ? eol + 1 : len;
                chunk_line = line + 1;
            } else if (word && !strcmp(word, "$TTL")) {
                char *v = directive_token(&args);
                if (!v || !ttl_text_ok(v))
                    return loc_fail(L, loc_new(L, file, line),
                                    "bad $TTL value '%s' (seconds, or units like 1h30m, at most "
                                    "2147483647)",
                                    v ? v : "");
            } else if (!word || strcmp(word, "$ORIGIN")) {
                return loc_fail(L, loc_new(L, file, line),
                                "unknown directive '%s' (only $ORIGIN, $TTL and $INCLUDE)",
                                word ? word : "$");
            }
        } else {
            /* Track parentheses and quotes so a '$' inside a multi-line record is data. */
            bool esc = false;
            for (size_t i = pos; i < eol; i++) {
                char c = buf[i];
                if (esc) {
                    esc = false;
                } else if (c == '\\') {
                    esc = true;
                } else if (c == '"') {
                    quote = !quote;
                    if (quote && depth == 0)
                        open_line = line;
                } else if (!quote && c == ';') {
                    break;
                } else if (!quote && c == '(') {
                    if (depth++ == 0)
                        open_line = line;
                } else if (!quote && c == ')' && depth > 0) {
                    depth--;
                }
            }
        }
        pos = eol + 1;
        line++;
    }
    if (depth > 0 || quote)
        return loc_fail(L, loc_new(L, file, open_line), "%s opened here is never closed",
                        quote ? "a quote" : "a parenthesis");
    if (len > chunk)
        return master_parse_chunk(M, file, buf + chunk, len - chunk, chunk_line);
    return 0;
}

/* Read a whole regular file of at most MASTER_MAX_FILE bytes (NUL-terminated, malloc'd). Errors
 * name the $INCLUDE line `from`, or the file itself when it is the zone file. */
static int read_zone_text(loader_t *L, const char *path, const yt_node_t *from, char **out,
                          size_t *outlen)
{
    FILE *fp = fopen(path, "r");
    struct stat st;
    const char *why = NULL;
    if (!fp || fstat(fileno(fp), &st))
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode) || (unsigned long)st.st_size > MASTER_MAX_FILE)
        why = "not a regular file of at most 2 GiB";
    if (why) {
        if (fp)
            fclose(fp);
        if (from)
            return loc_fail(L, from, "cannot read %s: %s", path, why);
        snprintf(L->err, L->errlen, "%s: cannot read: %s", path, why);
        return -EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(fp);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, fp);
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* $INCLUDE <file> [<origin>]: the file is resolved against the including file's directory; the
 * origin (if given) holds inside it only (RFC 1035 5.1). */
static int master_include(master_ctx_t *M, const char *file, unsigned line, char *args)
{
    loader_t *L = M->L;
    const yt_node_t *at = loc_new(L, file, line);
    if (!at)
        return -ENOMEM;
    if (!M->may_include)
        return loc_fail(L, at, "$INCLUDE needs a zone file on disk");
    char *name = directive_token(&args), *org = directive_token(&args);
    if (!name || !*name)
        return loc_fail(L, at, "$INCLUDE without a file name");
    if (M->depth >= MASTER_MAX_INCLUDE_DEPTH)
        return loc_fail(L, at, "$INCLUDE nested deeper than %u files", MASTER_MAX_INCLUDE_DEPTH);
    char path[PATH_MAX];
    if (name[0] == '/') {
        snprintf(path, sizeof(path), "%s", name);
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s", file);
        int w = snprintf(path, sizeof(path), "%s/%s", dirname(tmp), name);
        if (w < 0 || (size_t)w >= sizeof(path))
            return loc_fail(L, at, "$INCLUDE path too long");
    }
    char real[PATH_MAX];
    if (!realpath(path, real))
        return loc_fail(L, at, "cannot open %s: %s", path, strerror(errno));
    for (unsigned i = 0; i <= M->depth; i++)
        if (M->stack[i] && !strcmp(M->stack[i], real))
            return loc_fail(L, at, "$INCLUDE loop: %s includes itself", path);
    ldns_rdf *saved = M->origin ? ldns_rdf_clone(M->origin) : NULL;
    if (org) {
        ldns_rdf *o = NULL;
        size_t ol = strlen(org);
        char absname[DNS_MAX_NAME * 4 + 2];
        if (ol && org[ol - 1] == '.')
            snprintf(absname, sizeof(absname), "%s", org);
        else if (M->origin) {
            char *os = ldns_rdf2str(M->origin);
            snprintf(absname, sizeof(absname), "%s.%s", org, os ? os : ".");
            free(os);
        }
        if (ldns_str2rdf_dname(&o, absname) != LDNS_STATUS_OK || !o) {
            ldns_rdf_deep_free(saved);
            return loc_fail(L, at, "$INCLUDE origin '%s' is not a domain name", org);
        }
        if (M->origin)
            ldns_rdf_deep_free(M->origin);
        M->origin = o;
    }
    const char *keep = arena_strdup(L->arena, path);
    const char *realkeep = arena_strdup(L->arena, real);
    char *text = NULL;
    size_t len = 0;
    int rc = keep && realkeep ? read_zone_text(L, path, at, &text, &len) : -ENOMEM;
    if (!rc) {
        M->stack[++M->depth] = realkeep;
        rc = master_parse_text(M, keep, text, len);
        M->depth--;
    }
    free(text);
    if (M->origin)
        ldns_rdf_deep_free(M->origin);
    M->origin = saved;
    return rc;
}

/* The origin implied by a file named <zone>.zone, or NULL. */
static ldns_rdf *origin_from_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t l = strlen(b);
    if (l <= 5 || strcmp(b + l - 5, ".zone"))
        return NULL;
    char s[DNS_MAX_NAME * 4 + 2];
    snprintf(s, sizeof(s), "%.*s.", (int)(l - 5), b);
    ldns_rdf *o = NULL;
    if (ldns_str2rdf_dname(&o, s) != LDNS_STATUS_OK)
        return NULL;
    return o;
}

static int zone_load_master(const char *path, const char *buf, size_t len, bool may_include,
                            arena_t *arena, struct geo_ctx *geo, zone_t **out, char *err,
                            size_t errlen)
{
    loader_t L = {.arena = arena, .path = path, .err = err, .errlen = errlen};
    master_ctx_t M = {.L = &L, .ttl = MASTER_DEFAULT_TTL, .may_include = may_include};
    heap_keep_free();
    char *text = NULL;
    size_t tlen = 0;
    int rc;
    L.nbuckets = 1024;
    L.buckets = calloc(L.nbuckets, sizeof(*L.buckets));
    M.origin = origin_from_name(path);
    if (!M.origin && ldns_str2rdf_dname(&M.origin, MASTER_NO_ORIGIN) != LDNS_STATUS_OK)
        M.origin = NULL;
    if (ldns_str2rdf_dname(&M.no_origin, MASTER_NO_ORIGIN) != LDNS_STATUS_OK)
        M.no_origin = NULL;
    if (!L.buckets || !M.origin || !M.no_origin) {
        rc = -ENOMEM;
        goto done;
    }
    if (buf) {
        text = malloc(len + 1);
        if (!text) {
            rc = -ENOMEM;
            goto done;
        }
        memcpy(text, buf, len);
        text[len] = '\0';
        tlen = len;
    } else if ((rc = read_zone_text(&L, path, NULL, &text, &tlen))) {
        goto done;
    }
    char real[PATH_MAX];
    M.stack[0] = buf ? NULL : arena_strdup(arena, realpath(path, real) ? real : path);
    if ((rc = master_parse_text(&M, path, text, tlen)))
        goto done;
    if (!M.have_soa) {
        snprintf(err, errlen, "%s: no records (a zone file starts with its SOA)", path);
        rc = -EINVAL;
        goto done;
    }
    rc = zone_assemble(&L, path, geo, out);
done:
    free(text);
    if (M.origin)
        ldns_rdf_deep_free(M.origin);
    if (M.prev)
        ldns_rdf_deep_free(M.prev);
    if (M.no_origin)
        ldns_rdf_deep_free(M.no_origin);
    loader_free(&L);
    return rc;
}

/* Targets of CNAME, NS and MX records that another zone of the set serves (a child zone
 * included) and that have no data there; targets in their own zone were checked at load, with
 * their line. */
static void warn_cross_zone_targets(const zone_set_t *zs)
{
    for (size_t i = 0; i < zs->nzones; i++) {
        const zone_t *z = zs->zones[i];
        for (uint32_t b = 0; b < z->nbuckets; b++)
            for (const zone_node_t *n = z->buckets[b]; n; n = n->next)
                for (unsigned k = 0; k < n->nrrsets; k++) {
                    const zone_rrset_t *rs = &n->rrsets[k];
                    size_t skip = rs->type == DNS_TYPE_MX ? 2 : 0;
                    if (rs->type != DNS_TYPE_CNAME && rs->type != DNS_TYPE_NS &&
                        rs->type != DNS_TYPE_MX)
                        continue;
                    for (unsigned r = 0; r < rs->count; r++) {
                        const dns_rdata_t *rd = &rs->rdata[r];
                        uint8_t t[DNS_MAX_NAME];
                        int tl =
                            rd->len > skip ? dns_name_len(rd->data + skip, rd->len - skip) : -1;
                        if (tl <= 1)
                            continue;
                        memcpy(t, rd->data + skip, (size_t)tl);
                        dns_name_lower(t, (size_t)tl);
                        uint8_t offs[DNS_MAX_LABELS];
                        unsigned nl = zone_name_labels(t, offs);
                        const zone_t *tz = zone_set_find(zs, t, (size_t)tl, offs, nl);
                        if (!tz || tz == z ||
                            zone_set_target_ok(zs, t, (size_t)tl, rs->type != DNS_TYPE_CNAME))
                            continue;
                        char owner[DNS_MAX_NAME * 4 + 2], target[DNS_MAX_NAME * 4 + 2];
                        dns_name_to_str(n->name, owner, sizeof(owner));
                        dns_name_to_str(t, target, sizeof(target));
                        log_warn("%s: %s %s target %s has no %s in the zone we serve for it",
                                 z->file, owner,
                                 rs->type == DNS_TYPE_CNAME ? "CNAME"
                                 : rs->type == DNS_TYPE_NS  ? "NS"
                                                            : "MX",
                                 target, rs->type == DNS_TYPE_CNAME ? "data" : "address");
                    }
                }
    }
}

int zone_set_build(zone_set_t *zs, zone_t **zones, size_t n, arena_t *arena, char *err,
                   size_t errlen)
{
    zs->zones = zones;
    zs->nzones = n;
    zs->tsize = 8;
    while (zs->tsize < n * 2)
        zs->tsize <<= 1;
    zs->table = arena_alloc(arena, zs->tsize * sizeof(*zs->table));
    if (!zs->table)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        zone_t *z = zones[i];
        uint32_t h = zone_name_hash(z->apex, z->apexlen);
        for (uint32_t j = 0;; j++) {
            zone_t **slot = &zs->table[(h + j) & (zs->tsize - 1)];
            if (!*slot) {
                *slot = z;
                break;
            }
            if ((*slot)->apexlen == z->apexlen && !memcmp((*slot)->apex, z->apex, z->apexlen)) {
                char name[1100];
                dns_name_to_str(z->apex, name, sizeof(name));
                snprintf(err, errlen, "%s: zone %s is already defined in %s", z->file, name,
                         (*slot)->file);
                return -EEXIST;
            }
        }
    }
    warn_cross_zone_targets(zs);
    return 0;
}
