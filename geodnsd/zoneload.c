/* zoneload.c: YAML zone file -> immutable zone_t, record data parsed from text by ldns. */
#include "zoneload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "geo.h"
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
} loader_t;

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
        return yt_fail(L->err, L->errlen, at, "record data longer than 65535 bytes");
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
    if (n->nrrs == n->caprrs) {
        size_t cap = n->caprrs ? n->caprrs * 2 : 4;
        pending_rr_t *r = realloc(n->rrs, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        n->rrs = r;
        n->caprrs = cap;
    }
    n->rrs[n->nrrs++] = (pending_rr_t){.type = type, .ttl = ttl, .rd = rd, .at = at};
    if (++L->nrecords > MAX_RRS_PER_ZONE)
        return yt_fail(L->err, L->errlen, at, "more than %u records in one zone", MAX_RRS_PER_ZONE);
    return 0;
}

/* Parse "<owner> <ttl> IN <type> <rdata>" with ldns and add it to node n. */
static int add_text_rr(loader_t *L, pending_node_t *n, const char *owner_str, uint16_t type,
                       uint32_t ttl, const char *rdata, const yt_node_t *at)
{
    if (strpbrk(rdata, "\n\r"))
        return yt_fail(L->err, L->errlen, at, "record data must be on one line");
    if (!*rdata)
        return yt_fail(L->err, L->errlen, at, "empty record data");
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
        return yt_fail(L->err, L->errlen, at, "bad %s record data '%s': %s", type_str, rdata,
                       ldns_get_errorstr_by_id(st));
    }
    int rc = 0;
    if ((uint16_t)ldns_rr_get_type(rr) != type)
        rc = yt_fail(L->err, L->errlen, at, "record data '%s' does not parse as %s", rdata,
                     type_str);
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
            return yt_fail(L->err, L->errlen, at, "'%s' is not a valid owner name", s);
        if (s[sl - 1] == '.')
            snprintf(abs, abslen, "%s", s);
        else
            snprintf(abs, abslen, "%s.%s", s, L->apex_str);
    }
    size_t len;
    if (dns_name_from_text(abs, out, &len))
        return yt_fail(L->err, L->errlen, at, "'%s' is not a valid domain name", s);
    dns_name_lower(out, len);
    *outlen = len;
    if (!name_is_below_or_at(out, len, L->apex, L->apexlen))
        return yt_fail(L->err, L->errlen, at, "name '%s' is outside the zone %s", s, L->apex_str);
    return 0;
}

static int add_values(loader_t *L, pending_node_t *n, const char *abs, uint16_t type, uint32_t ttl,
                      const yt_node_t *v)
{
    if (v->kind == YT_SCALAR)
        return add_text_rr(L, n, abs, type, ttl, v->str, v);
    if (v->kind == YT_SEQ) {
        if (v->n == 0)
            return yt_fail(L->err, L->errlen, v, "empty list of record data");
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != YT_SCALAR)
                return yt_fail(L->err, L->errlen, v->items[i],
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
        return yt_fail(L->err, L->errlen, v, "record set without 'data'");
    if (d->kind == YT_MAP)
        return yt_fail(L->err, L->errlen, d, "'data' must be a value or a list of values");
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
        return yt_fail(L->err, L->errlen, val,
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
            return yt_fail(L->err, L->errlen, k, "unknown record type '%s'", k->str);
        for (size_t j = 0; j <= kl; j++)
            up[j] = (char)((k->str[j] >= 'a' && k->str[j] <= 'z') ? k->str[j] - 32 : k->str[j]);
        uint16_t type = (uint16_t)ldns_get_rr_type_by_name(up);
        if (type == 0)
            return yt_fail(L->err, L->errlen, k, "unknown record type '%s'", k->str);
        switch (type) {
        case DNS_TYPE_SOA:
            return yt_fail(L->err, L->errlen, k, "the SOA is set with the zone's 'soa:' key");
        case DNS_TYPE_OPT:
        case DNS_TYPE_ANY:
        case DNS_TYPE_AXFR:
        case DNS_TYPE_IXFR:
        case 250: /* TSIG */
        case 249: /* TKEY */
        case 253: /* MAILB */
        case 254: /* MAILA */
            return yt_fail(L->err, L->errlen, k, "'%s' is not a type that can be stored in a zone",
                           k->str);
        default:
            break;
        }
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
        return yt_fail(L->err, L->errlen, soa, "soa needs 'primary' (the primary name server)");
    if (!c)
        return yt_fail(L->err, L->errlen, soa, "soa needs 'contact' (hostmaster address)");
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
    size_t ncname = 0;
    const yt_node_t *other_at = NULL, *cname_at = NULL;
    for (size_t i = 0; i < pn->nrrs; i++) {
        uint16_t t = pn->rrs[i].type;
        if (t == DNS_TYPE_CNAME) {
            has_cname = true;
            ncname++;
            cname_at = pn->rrs[i].at;
        } else if (t == DNS_TYPE_NS) {
            has_ns = true;
        } else if (t != DNS_TYPE_DS && t != DNS_TYPE_RRSIG && t != 47 /* NSEC */) {
            has_other = true;
            if (!other_at)
                other_at = pn->rrs[i].at;
        }
    }
    if (has_cname && apex)
        return yt_fail(L->err, L->errlen, cname_at, "a CNAME cannot be at the zone apex");
    if (has_cname && (has_other || has_ns || pn->geo))
        return yt_fail(L->err, L->errlen, cname_at,
                       "a CNAME cannot stand next to other data at the same name (RFC 1034 3.6.2)");
    if (ncname > 1)
        return yt_fail(L->err, L->errlen, cname_at, "a name can have only one CNAME");
    if (pn->geo && apex)
        return yt_fail(L->err, L->errlen, pn->geo, "a geo name cannot be the zone apex");
    if (has_ns && !apex && (has_other || pn->geo))
        return yt_fail(L->err, L->errlen, other_at ? other_at : pn->geo,
                       "only NS and DS records may stand at a delegation point");
    if (!has_ns && !apex)
        for (size_t i = 0; i < pn->nrrs; i++)
            if (pn->rrs[i].type == DNS_TYPE_DS)
                return yt_fail(L->err, L->errlen, pn->rrs[i].at,
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
            return yt_fail(L->err, L->errlen, pn->rrs[i].at, "too many records in one set");
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
            return yt_fail(L->err, L->errlen, pn->geo,
                           "geo names need a PoP file ('pops:' in the server config)");
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

static int zone_load_doc(yt_doc_t *doc, const char *path, arena_t *arena, struct geo_ctx *geo,
                         zone_t **out, char *err, size_t errlen);

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
}

int zone_load_file(const char *path, arena_t *arena, struct geo_ctx *geo, zone_t **out, char *err,
                   size_t errlen)
{
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    return zone_load_doc(doc, path, arena, geo, out, err, errlen);
}

int zone_load_buffer(const char *name, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_t **out, char *err, size_t errlen)
{
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

    zone_t *z = arena_alloc(arena, sizeof(*z));
    if (!z) {
        rc = -ENOMEM;
        goto done;
    }
    z->apex = arena_memdup(arena, L.apex, L.apexlen);
    z->apexlen = (uint8_t)L.apexlen;
    uint8_t offs[DNS_MAX_LABELS];
    z->apex_labels = (uint8_t)zone_name_labels(L.apex, offs);
    z->file = arena_strdup(arena, path);
    z->nbuckets = 16;
    while (z->nbuckets < L.nnodes)
        z->nbuckets <<= 1;
    z->buckets = arena_alloc(arena, z->nbuckets * sizeof(*z->buckets));
    if (!z->buckets || !z->apex || !z->file) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < L.nnodes; i++)
        if ((rc = node_finish(&L, L.list[i], z, geo)))
            goto done;
    z->nnodes = L.nnodes;
    z->nrecords = L.nrecords;
    z->soa = (zone_rrset_t *)zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
    {
        const yt_node_t *tn = yt_map_get(root, "transfer");
        if (tn && !yt_is_null(tn) && (rc = xfr_policy_parse(tn, arena, &z->xfr, err, errlen)))
            goto done;
    }
    {
        const dns_rdata_t *rd = &z->soa->rdata[0];
        const uint8_t *p = rd->data + rd->len - 20;
        z->serial = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        uint32_t minimum =
            ((uint32_t)p[16] << 24) | ((uint32_t)p[17] << 16) | ((uint32_t)p[18] << 8) | p[19];
        z->neg_ttl = minimum < z->soa->ttl ? minimum : z->soa->ttl; /* RFC 2308 5 */
    }
    *out = z;
    rc = 0;
done:
    loader_free(&L);
    yt_doc_free(doc);
    return rc;
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
    return 0;
}
