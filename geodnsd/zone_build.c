/* zone_build.c: the zone loader's core, fed by both readers: the pending names and records
 * (hashed by owner), record locations and messages, the per-name sort and duplicate removal, and
 * the assembly of the immutable zone_t. The rules a zone must follow are in zone_check.c. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "geo.h"
#include "grow.h"
#include "log.h"
#include "zone_loader.h"

#define MAX_RRS_PER_ZONE (4u << 20)

/* Locations of master-file records, allocated in blocks and freed with the loader. */
#define LOC_BLOCK 1024
struct loc_block {
    struct loc_block *next;
    size_t n;
    yt_node_t v[LOC_BLOCK];
};

const yt_node_t *zl_loc(loader_t *L, const char *file, unsigned line)
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
int zl_fail(loader_t *L, const yt_node_t *at, const char *fmt, ...)
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

void zl_warn(const yt_node_t *at, const char *msg, const char *name)
{
    if (at && at->col)
        log_warn("%s:%u:%u: %s%s", at->file, at->line, at->col, name, msg);
    else if (at)
        log_warn("%s:%u: %s%s", at->file, at->line, name, msg);
    else
        log_warn("%s%s", name, msg);
}

/* An RRset that no DNS message can hold (64 KiB less a header and its own question, counting
 * every owner as a 2-byte pointer and every name in the record data as compressed to a pointer:
 * the least it can take) is never answered: say so at load, naming where it starts. */
static void warn_rrset_size(const pending_node_t *pn, const zone_rrset_t *rs, const yt_node_t *at)
{
    size_t least = DNS_HDR_LEN + pn->namelen + 4;
    for (unsigned k = 0; k < rs->count; k++) {
        const dns_rdata_t *rd = &rs->rdata[k];
        size_t len = rd->len;
        if (rd->nnames)
            len =
                (size_t)rd->name_off[0] + 2; /* at the least up to the first name, then a pointer */
        least += 2 + 10 + len;
    }
    if (least <= 65535)
        return;
    char name[DNS_NAME_TEXT_MAX], msg[400];
    dns_name_to_str(pn->name, name, sizeof(name));
    char *ts = ldns_rr_type2str((ldns_rr_type)rs->type);
    snprintf(msg, sizeof(msg),
             ": its %u %s records take at least %zu bytes, more than a DNS message holds (65535): "
             "a query for them gets TC over UDP and SERVFAIL over TCP (zone transfers carry them)",
             rs->count, ts ? ts : "?", least);
    free(ts);
    zl_warn(at, msg, name);
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
bool zl_type_storable(uint16_t type)
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

bool zl_name_below_or_at(const uint8_t *name, size_t len, const uint8_t *apex, size_t apexlen)
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

pending_node_t *zl_node_get(loader_t *L, const uint8_t *name, size_t len, bool create)
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

pending_node_t *zl_node_ensure(loader_t *L, const uint8_t *name, size_t len, const yt_node_t *at)
{
    pending_node_t *n = zl_node_get(L, name, len, true);
    if (n && !n->at)
        n->at = at;
    size_t off = 0;
    while (n && len - off > L->apexlen) {
        off += (size_t)name[off] + 1;
        if (!zl_node_get(L, name + off, len - off, true))
            return NULL;
    }
    return n;
}

int zl_add_rr(loader_t *L, pending_node_t *n, uint16_t type, uint32_t ttl, const ldns_rr *rr,
              const yt_node_t *at)
{
    /* Serialize the RDATA, remembering where compressible names start. */
    size_t total = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
        total += ldns_rdf_size(ldns_rr_rdf(rr, i));
    if (total > 65535)
        return zl_fail(L, at, "record data longer than 65535 bytes");
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
        return zl_fail(L, at, "more than %u records in one zone", MAX_RRS_PER_ZONE);
    return 0;
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

/* Check a node's data and turn it into the immutable form. */
static int node_finish(loader_t *L, pending_node_t *pn, zone_t *z, struct geo_ctx *geo)
{
    bool apex = pn->namelen == L->apexlen;
    int rc = rrs_sort_dedup(L, pn);
    if (rc || (rc = zl_check_node(L, pn)))
        return rc;
    zone_node_t *n = arena_alloc(L->arena, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->name = arena_memdup(L->arena, pn->name, pn->namelen);
    n->namelen = pn->namelen;
    n->hash = pn->hash;
    if (apex)
        n->flags |= ZONE_NODE_APEX;
    else if (zl_has_type(pn, DNS_TYPE_NS))
        n->flags |= ZONE_NODE_CUT;
    if (zl_has_type(pn, DNS_TYPE_DNAME) && !(n->flags & ZONE_NODE_CUT))
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
            return zl_fail(L, pn->rrs[i].at, "too many records in one set");
        zone_rrset_t *rs = &n->rrsets[s++];
        rs->type = pn->rrs[i].type;
        rs->ttl = ttl;
        rs->count = (uint16_t)(j - i);
        rs->rdata = arena_alloc(L->arena, (j - i) * sizeof(dns_rdata_t));
        if (!rs->rdata)
            return -ENOMEM;
        for (size_t k = i; k < j; k++)
            rs->rdata[k - i] = pn->rrs[k].rd;
        warn_rrset_size(pn, rs, pn->rrs[i].at);
        i = j;
    }
    n->nrrsets = (uint16_t)nsets;
    if (pn->geo) {
        if (!geo)
            return zl_fail(L, pn->geo, "geo names need a PoP file ('pops:' in the server config)");
        if ((rc = geo->policy_parse(geo, pn->geo, n, L->err, L->errlen)))
            return rc;
    }
    n->next = z->buckets[n->hash & (z->nbuckets - 1)];
    z->buckets[n->hash & (z->nbuckets - 1)] = n;
    z->nodes[z->nnodes++] = n;
    if (apex)
        z->apex_node = n;
    return 0;
}

/* ldns allocates and frees some 150 KiB of buffers per record it parses; with glibc's default
 * trim threshold (128 KiB) each record then grows and shrinks the heap (brk, page faults, TLB
 * flushes): half of the load time of a 100,000-name zone. Keep up to 16 MiB of free heap. */
int zl_init(loader_t *L, arena_t *arena, const char *path, char *err, size_t errlen)
{
    *L = (loader_t){.arena = arena, .path = path, .err = err, .errlen = errlen};
    mallopt(M_TRIM_THRESHOLD, 16 << 20); /* once per zone load; mallopt locks */
    L->nbuckets = 1024;
    L->buckets = calloc(L->nbuckets, sizeof(*L->buckets));
    return L->buckets ? 0 : -ENOMEM;
}

void zl_set_apex(loader_t *L, const uint8_t *name, size_t len)
{
    memcpy(L->apex, name, len);
    L->apexlen = len;
    dns_name_lower(L->apex, len);
    dns_name_to_str(L->apex, L->apex_str, sizeof(L->apex_str));
}

void zl_free(loader_t *L)
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

int zl_assemble(loader_t *L, struct geo_ctx *geo, zone_t **out)
{
    arena_t *arena = L->arena;
    int rc = zl_check_apex(L);
    if (rc)
        return rc;
    zl_drop_below_dname(L);
    zone_t *z = arena_alloc(arena, sizeof(*z));
    if (!z)
        return -ENOMEM;
    z->apex = arena_memdup(arena, L->apex, L->apexlen);
    z->apexlen = (uint8_t)L->apexlen;
    uint8_t offs[DNS_MAX_LABELS];
    z->apex_labels = (uint8_t)zone_name_labels(L->apex, offs);
    z->file = arena_strdup(arena, L->path);
    z->nbuckets = 16;
    while (z->nbuckets < L->nnodes)
        z->nbuckets <<= 1;
    z->buckets = arena_alloc(arena, z->nbuckets * sizeof(*z->buckets));
    z->nodes = arena_alloc(arena, (L->nnodes ? L->nnodes : 1) * sizeof(*z->nodes));
    if (!z->buckets || !z->nodes || !z->apex || !z->file)
        return -ENOMEM;
    size_t nrecords = 0;
    for (size_t i = 0; i < L->nnodes; i++) {
        if (L->list[i]->dropped)
            continue;
        if ((rc = node_finish(L, L->list[i], z, geo)))
            return rc;
        nrecords += L->list[i]->nrrs;
    }
    z->nrecords = nrecords;
    z->soa = (zone_rrset_t *)zone_node_rrset(z->apex_node, DNS_TYPE_SOA);
    const dns_rdata_t *rd = &z->soa->rdata[0];
    const uint8_t *p = rd->data + rd->len - 20;
    z->serial = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    uint32_t minimum =
        ((uint32_t)p[16] << 24) | ((uint32_t)p[17] << 16) | ((uint32_t)p[18] << 8) | p[19];
    z->neg_ttl = minimum < z->soa->ttl ? minimum : z->soa->ttl; /* RFC 2308 5 */
    zl_warn_dangling_targets(L, z);
    *out = z;
    return 0;
}
