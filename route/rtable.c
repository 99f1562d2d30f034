/* rtable.c: merged prefix tables (see rtable.h). Everything but route_table_lookup runs off the
 * query path. */
#include "rtable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "grow.h"
#include "hash.h"
#include "route_int.h"
#include "route_special.h"

/* A trie value: a node index, or a leaf (answer id, and whether it is a special range). In the
 * query-path trie of 16-way nodes (4 address bits per step) a leaf also says how many of the
 * step's 4 bits lie beyond the leaf's prefix (RT_UNUSED: 0-3), to get its exact depth. */
#define RT_LEAF         0x80000000u
#define RT_SPECIAL      0x40000000u
#define RT_UNUSED_SHIFT 28
#define RT_UNUSED(n)    ((uint32_t)(n) << RT_UNUSED_SHIFT)
#define RT_ID_MASK      0x0fffffffu
#define RT_STRIDE       4
#define RT_FANOUT       (1u << RT_STRIDE)

typedef struct rt_answer {
    route_decision_t dec[2]; /* [0] A (and cname mode), [1] AAAA */
} rt_answer_t;

/* The first RT_JUMP_BITS bits of an address index a table of where the trie walk stands after
 * them (a 16-way node at that depth, or a leaf reached sooner, with its depth): a lookup skips
 * the dozen most-visited levels. 4096 entries of 8 bytes per root. */
#define RT_JUMP_BITS 12
_Static_assert(RT_JUMP_BITS == 12, "route_table_lookup indexes the first 12 bits by hand");
_Static_assert(RT_JUMP_BITS % RT_STRIDE == 0 && RT_STRIDE == 4,
               "16-way nodes start at whole nibbles; route_table_lookup reads a nibble by hand");
typedef struct rt_jump {
    uint32_t v;
    uint8_t depth;
} rt_jump_t;

typedef struct rt_tab {
    uint32_t root4[2], root6[2]; /* per query family: [0] A (and cname mode), [1] AAAA */
    rt_jump_t *jump[2][2];       /* [address family: IPv4, IPv6][query family]; shared like roots */
    /* The trie the query path walks: the build's binary trie below the jump tables, 4 levels
     * folded into each 16-way node (one cache line), so a lookup takes a quarter of the steps. */
    uint32_t (*cnode)[RT_FANOUT];
    size_t ncnodes, capcnodes;
    rt_answer_t *ans;
    size_t nans, capans;
    size_t nloc;  /* distinct locations (records, nets entries) */
    size_t nrank; /* rankings done (distinct places) */
} rt_tab_t;

struct route_table {
    rt_tab_t *tab;
    size_t ntab;
    uint32_t *pol_tab; /* per policy (id - 1): its table */
    size_t npol;
};

/* ---------------------------------------------------------------- nets and special ranges */

typedef struct mt_node {
    uint32_t child[2];
    int32_t entry;   /* nets entry ending here, or -1 */
    uint8_t special; /* a special-purpose range ends here */
} mt_node_t;

typedef struct mtrie {
    mt_node_t *n; /* [0] unused (= no node), [1] IPv4 root, [2] IPv6 root */
    size_t len, cap;
} mtrie_t;

static uint32_t mt_new(mtrie_t *m)
{
    if (grow_for(&m->n, &m->cap, m->len, sizeof(*m->n), 64))
        return 0;
    m->n[m->len] = (mt_node_t){.entry = -1};
    return (uint32_t)m->len++;
}

static int mt_insert(mtrie_t *m, int family, const uint8_t *addr, unsigned prefix, int32_t entry,
                     bool special)
{
    uint32_t cur = family == AF_INET ? 1 : 2;
    for (unsigned d = 0; d < prefix; d++) {
        unsigned bit = (addr[d / 8] >> (7 - d % 8)) & 1;
        if (!m->n[cur].child[bit]) {
            uint32_t k = mt_new(m);
            if (!k)
                return -ENOMEM;
            m->n[cur].child[bit] = k;
        }
        cur = m->n[cur].child[bit];
    }
    if (entry >= 0)
        m->n[cur].entry = entry;
    if (special)
        m->n[cur].special = 1;
    return 0;
}

static int mt_build(mtrie_t *m, const geoip_nets_t *nets)
{
    m->n = calloc(64, sizeof(*m->n));
    if (!m->n)
        return -ENOMEM;
    m->cap = 64;
    m->len = 3; /* [0] none, [1] IPv4 root, [2] IPv6 root */
    for (size_t i = 0; i < 3; i++)
        m->n[i].entry = -1;
    const route_special_range_t *sp;
    size_t nsp = route_special_ranges(&sp);
    for (size_t i = 0; i < nsp; i++)
        if (mt_insert(m, sp[i].family, sp[i].addr, sp[i].prefix, -1, true))
            return -ENOMEM;
    size_t n = nets ? geoip_nets_count(nets) : 0;
    for (size_t i = 0; i < n; i++) {
        const geoip_net_t *e = geoip_nets_entry(nets, i);
        if (mt_insert(m, e->family, e->addr, e->prefix, (int32_t)i, false))
            return -ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- build */

/* A location as the ranking sees it (coordinates, country, continent), for the place memo. */
struct place {
    double lat, lon;
    char country[3], continent[3];
    uint8_t located;
    uint32_t id; /* answer id + 1; 0 = empty slot */
};

typedef struct bctx {
    const route_table_input_t *in;
    const route_policy_t *pol;
    rt_tab_t *tab;
    const mtrie_t *mt;
    /* location key -> answer id (open addressing; key 0 is stored as slot value only) */
    uint64_t *lkey;
    uint32_t *lval; /* answer id + 1; 0 = empty slot */
    size_t lcap;
    uint32_t nokey; /* answer id + 1 of the unlocated client (key 0), 0 = not yet */
    /* what ranking depends on -> answer id: many records share one place (city) */
    struct place *place;
    size_t pcap, nplace;
    /* answer interning: slot = answer id + 1 */
    uint32_t *aslot;
    size_t acap;
    /* per query family, the answers whose decision for that family is equal share one
     * representative: leaves of family fi store rep[id][fi], so the family's trie merges
     * wherever that family's answer is equal, whatever the other family does */
    uint32_t (*rep)[2];
    uint32_t *fslot[2]; /* decision -> representative answer id + 1, per family */
    size_t fcap;
    unsigned fi; /* the family whose trie is being built */
    uint8_t path[16];
    uint32_t graft; /* the IPv4 table's root, grafted at ::ffff:0:0/96 */
    /* the binary trie dfs builds, compiled into the table's 16-way nodes, then freed */
    uint32_t (*node)[2];
    size_t nnodes, capnodes;
    uint32_t *memo; /* while compiling, per binary node: its 16-way node + 1, 0 = not yet */
    uint64_t steps, max_steps; /* bounds the walk: a corrupt tree may point back up */
    unsigned long checks;      /* of in->cancel, for in->cancel_check */
    int err;
} bctx_t;

/* Has the caller cancelled the build? Sets b->err then. */
static bool cancelled(bctx_t *b)
{
    const atomic_bool *c = b->in->cancel;
    if (!c)
        return false;
    if (b->in->cancel_check)
        b->in->cancel_check(++b->checks);
    if (!atomic_load_explicit(c, memory_order_relaxed))
        return false;
    if (!b->err)
        b->err = -ECANCELED;
    return true;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    return hash_mix64(hash_fnv1a64(p, n));
}

/* The canonical form of a decision: what the answer depends on, nothing else, so that equal
 * answers compare equal byte for byte. A decision that does not depend on the client hash is
 * its picked PoPs; one that does keeps its ranking (re-picked per client). */
static void canon(const route_decision_t *d, route_decision_t *o)
{
    memset(o, 0, sizeof(*o));
    o->outcome = d->outcome;
    o->answers = d->answers;
    o->full = d->full;
    if (d->hashed) {
        o->hashed = true;
        o->ncand = d->ncand;
        o->ntie = d->ntie;
        memcpy(o->cand, d->cand, d->ncand * sizeof(d->cand[0]));
    } else {
        o->n = d->n;
        memcpy(o->pop, d->pop, d->n * sizeof(d->pop[0]));
        o->short_ttl = d->short_ttl;
        o->shed = d->shed;
    }
}

/* The representatives of answer id (just added) for each query family. */
static int family_reps(bctx_t *b, uint32_t id)
{
    const rt_tab_t *t = b->tab;
    if (t->nans * 2 >= b->fcap) {
        size_t cap = b->fcap ? b->fcap * 2 : 256;
        uint32_t(*r)[2] = realloc(b->rep, cap * sizeof(*r));
        uint32_t *f0 = calloc(cap, sizeof(uint32_t)), *f1 = calloc(cap, sizeof(uint32_t));
        if (!r || !f0 || !f1) {
            if (r)
                b->rep = r;
            free(f0);
            free(f1);
            return -ENOMEM;
        }
        b->rep = r;
        uint32_t *f[2] = {f0, f1};
        for (unsigned fi = 0; fi < 2; fi++) {
            for (size_t i = 0; i < b->fcap; i++)
                if (b->fslot[fi] && b->fslot[fi][i]) {
                    uint32_t v = b->fslot[fi][i];
                    size_t k =
                        hash_bytes(&t->ans[v - 1].dec[fi], sizeof(route_decision_t)) & (cap - 1);
                    while (f[fi][k])
                        k = (k + 1) & (cap - 1);
                    f[fi][k] = v;
                }
            free(b->fslot[fi]);
            b->fslot[fi] = f[fi];
        }
        b->fcap = cap;
    }
    for (unsigned fi = 0; fi < 2; fi++) {
        const route_decision_t *d = &t->ans[id].dec[fi];
        size_t k = hash_bytes(d, sizeof(*d)) & (b->fcap - 1);
        while (b->fslot[fi][k] && memcmp(&t->ans[b->fslot[fi][k] - 1].dec[fi], d, sizeof(*d)))
            k = (k + 1) & (b->fcap - 1);
        if (!b->fslot[fi][k])
            b->fslot[fi][k] = id + 1;
        b->rep[id][fi] = b->fslot[fi][k] - 1;
    }
    return 0;
}

static int intern(bctx_t *b, const rt_answer_t *a, uint32_t *id)
{
    rt_tab_t *t = b->tab;
    if (t->nans * 2 >= b->acap) {
        size_t cap = b->acap ? b->acap * 2 : 256;
        uint32_t *s = calloc(cap, sizeof(*s));
        if (!s)
            return -ENOMEM;
        for (size_t i = 0; i < t->nans; i++) {
            size_t k = hash_bytes(&t->ans[i], sizeof(t->ans[i])) & (cap - 1);
            while (s[k])
                k = (k + 1) & (cap - 1);
            s[k] = (uint32_t)i + 1;
        }
        free(b->aslot);
        b->aslot = s;
        b->acap = cap;
    }
    size_t k = hash_bytes(a, sizeof(*a)) & (b->acap - 1);
    while (b->aslot[k]) {
        if (!memcmp(&t->ans[b->aslot[k] - 1], a, sizeof(*a))) {
            *id = b->aslot[k] - 1;
            return 0;
        }
        k = (k + 1) & (b->acap - 1);
    }
    if (t->nans > RT_ID_MASK)
        return -ENOMEM;
    if (grow_for(&t->ans, &t->capans, t->nans, sizeof(*t->ans), 64))
        return -ENOMEM;
    t->ans[t->nans] = *a;
    b->aslot[k] = (uint32_t)t->nans + 1;
    *id = (uint32_t)t->nans++;
    return family_reps(b, *id);
}

static uint64_t place_hash(const struct place *p)
{
    struct place k;
    memset(&k, 0, sizeof(k));
    k.lat = p->lat;
    k.lon = p->lon;
    memcpy(k.country, p->country, 3);
    memcpy(k.continent, p->continent, 3);
    k.located = p->located;
    return hash_bytes(&k, offsetof(struct place, id));
}

static bool place_eq(const struct place *a, const struct place *b)
{
    return a->located == b->located && (!a->located || (a->lat == b->lat && a->lon == b->lon)) &&
           !memcmp(a->country, b->country, 3) && !memcmp(a->continent, b->continent, 3);
}

static int rank_location(bctx_t *b, const geoip_loc_t *loc, int32_t net, uint32_t *id);

/* Records at the same place (most of a city database's records share their city's) rank
 * alike: rank each place once. Locations with a fixed PoP order (nets pins) are not shared. */
static int rank_place(bctx_t *b, const geoip_loc_t *loc, uint32_t *id)
{
    struct place k;
    memset(&k, 0, sizeof(k));
    k.located = loc->located;
    if (loc->located) {
        k.lat = loc->lat;
        k.lon = loc->lon;
    }
    memcpy(k.country, loc->country, 3);
    memcpy(k.continent, loc->continent, 3);
    if ((b->nplace + 1) * 2 >= b->pcap) {
        size_t cap = b->pcap ? b->pcap * 2 : 1024;
        struct place *n = calloc(cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        for (size_t i = 0; i < b->pcap; i++)
            if (b->place[i].id) {
                size_t j = place_hash(&b->place[i]) & (cap - 1);
                while (n[j].id)
                    j = (j + 1) & (cap - 1);
                n[j] = b->place[i];
            }
        free(b->place);
        b->place = n;
        b->pcap = cap;
    }
    size_t j = place_hash(&k) & (b->pcap - 1);
    while (b->place[j].id) {
        if (place_eq(&b->place[j], &k)) {
            *id = b->place[j].id - 1;
            return 0;
        }
        j = (j + 1) & (b->pcap - 1);
    }
    int rc = rank_location(b, loc, -1, id);
    if (rc)
        return rc;
    k.id = *id + 1;
    b->place[j] = k;
    b->nplace++;
    return 0;
}

/* Rank one location for the policy (both families) and intern the answer. */
static int rank_location(bctx_t *b, const geoip_loc_t *loc, int32_t net, uint32_t *id)
{
    const route_table_input_t *in = b->in;
    if (cancelled(b)) /* a ranking is the costly step: with many PoPs, tens of microseconds */
        return -ECANCELED;
    route_client_t c;
    route_client_from_loc(&c, loc);
    if (net >= 0 && in->net_nfixed && in->net_nfixed[net]) {
        c.fixed = in->net_fixed[net];
        c.nfixed = in->net_nfixed[net];
    }
    c.hash = 0;
    rt_answer_t a;
    memset(&a, 0, sizeof(a));
    route_decision_t d;
    bool cname = b->pol->mode == ROUTE_MODE_CNAME;
    int rc = route_rank(b->pol, in->pops, &c, in->health, cname ? 0 : AF_INET, &d, NULL);
    if (rc)
        return rc;
    canon(&d, &a.dec[0]);
    if (cname) {
        a.dec[1] = a.dec[0];
    } else {
        if ((rc = route_rank(b->pol, in->pops, &c, in->health, AF_INET6, &d, NULL)))
            return rc;
        canon(&d, &a.dec[1]);
    }
    b->tab->nrank++;
    return intern(b, &a, id);
}

static int loc_answer(bctx_t *b, uint64_t key, const geoip_rec_t *rec, int32_t net, uint32_t *id)
{
    if (!key) {
        if (!b->nokey) {
            geoip_loc_t loc;
            memset(&loc, 0, sizeof(loc));
            int rc = rank_location(b, &loc, -1, id);
            if (rc)
                return rc;
            b->nokey = *id + 1;
        }
        *id = b->nokey - 1;
        return 0;
    }
    size_t n = b->tab->nloc;
    if ((n + 1) * 2 >= b->lcap) { /* at most half full */
        size_t cap = b->lcap ? b->lcap * 2 : 1024;
        uint64_t *k = calloc(cap, sizeof(*k));
        uint32_t *v = calloc(cap, sizeof(*v));
        if (!k || !v) {
            free(k);
            free(v);
            return -ENOMEM;
        }
        for (size_t i = 0; i < b->lcap; i++)
            if (b->lval[i]) {
                size_t s = hash_mix64(b->lkey[i]) & (cap - 1);
                while (v[s])
                    s = (s + 1) & (cap - 1);
                k[s] = b->lkey[i];
                v[s] = b->lval[i];
            }
        free(b->lkey);
        free(b->lval);
        b->lkey = k;
        b->lval = v;
        b->lcap = cap;
    }
    size_t s = hash_mix64(key) & (b->lcap - 1);
    while (b->lval[s]) {
        if (b->lkey[s] == key) {
            *id = b->lval[s] - 1;
            return 0;
        }
        s = (s + 1) & (b->lcap - 1);
    }
    geoip_loc_t loc;
    memset(&loc, 0, sizeof(loc));
    if (net >= 0) {
        loc = geoip_nets_entry(b->in->nets, (size_t)net)->loc;
    } else {
        geoip_ref_t ref;
        geoip_tree_ref(rec, &ref);
        geoip_db_fill(b->in->db, &ref, &loc);
    }
    bool fixed = net >= 0 && b->in->net_nfixed && b->in->net_nfixed[net];
    int rc = fixed ? rank_location(b, &loc, net, id) : rank_place(b, &loc, id);
    if (rc)
        return rc;
    b->lkey[s] = key;
    b->lval[s] = *id + 1;
    b->tab->nloc++;
    return 0;
}

static uint32_t leaf(bctx_t *b, const geoip_rec_t *rec, int32_t net, bool special)
{
    uint64_t key = net >= 0                      ? (1ull << 63) | (uint64_t)net
                   : rec->type == GEOIP_REC_DATA ? (uint64_t)rec->value + 1
                                                 : 0;
    uint32_t id = 0;
    int rc = loc_answer(b, key, rec, net, &id);
    if (rc && !b->err)
        b->err = rc;
    if (!rc)
        id = b->rep[id][b->fi];
    return RT_LEAF | (special ? RT_SPECIAL : 0) | id;
}

static uint32_t node_new(bctx_t *b, uint32_t l, uint32_t r)
{
    if (b->nnodes >= RT_LEAF ||
        grow_for(&b->node, &b->capnodes, b->nnodes, sizeof(*b->node), 1024)) {
        b->err = -ENOMEM;
        return RT_LEAF;
    }
    b->node[b->nnodes][0] = l;
    b->node[b->nnodes][1] = r;
    return (uint32_t)b->nnodes++;
}

/* Is the prefix of the first depth bits of p (depth < 96) a prefix of ::ffff:0:0/96? */
static bool mapped_above(const uint8_t *p, unsigned depth)
{
    for (unsigned d = 0; d < depth; d++) {
        unsigned bit = (p[d / 8] >> (7 - d % 8)) & 1;
        if (bit != (d >= 80))
            return false;
    }
    return true;
}

/* The merged value of the prefix at depth (bits so far in b->path): rec is the mmdb record
 * there, mt the nets/special trie node there (0 = none below), cover the nets entry covering
 * it (longest so far) or -1, special whether it lies inside a special-purpose range. */
static uint32_t dfs(bctx_t *b, geoip_rec_t rec, uint32_t mt, int32_t cover, bool special,
                    unsigned depth, unsigned max)
{
    if (b->err)
        return RT_LEAF;
    if (++b->steps > b->max_steps) {
        b->err = -EIO; /* far more prefixes than the tree has nodes: it loops */
        return RT_LEAF;
    }
    if (!(b->steps & 4095) && cancelled(b))
        return RT_LEAF;
    if (max == 128 && depth == 96 && addr_v4mapped(b->path))
        return b->graft; /* ::ffff:a.b.c.d is located and answered as a.b.c.d */
    bool more = false;
    if (mt) {
        const mt_node_t *m = &b->mt->n[mt];
        if (m->entry >= 0)
            cover = m->entry;
        if (m->special)
            special = true;
        more = m->child[0] || m->child[1];
    }
    if (max == 128 && depth < 96 && !more && mapped_above(b->path, depth))
        more = true; /* go down to ::ffff:0:0/96, where the IPv4 table is grafted */
    if (!more) {
        if (cover >= 0)
            return leaf(b, &rec, cover, special); /* a nets entry replaces the mmdb */
        if (rec.type != GEOIP_REC_NODE)
            return leaf(b, &rec, -1, special);
    }
    if (depth == max) {
        b->err = -EIO; /* a search node below the last address bit */
        return RT_LEAF;
    }
    uint32_t v[2];
    for (unsigned bit = 0; bit < 2; bit++) {
        geoip_rec_t c = rec;
        if (rec.type == GEOIP_REC_NODE && geoip_tree_child(b->in->db, rec.value, bit, &c)) {
            b->err = -EIO;
            return RT_LEAF;
        }
        uint8_t mask = (uint8_t)(0x80u >> (depth % 8));
        if (bit)
            b->path[depth / 8] |= mask;
        else
            b->path[depth / 8] &= (uint8_t)~mask;
        v[bit] = dfs(b, c, mt ? b->mt->n[mt].child[bit] : 0, cover, special, depth + 1, max);
    }
    b->path[depth / 8] &= (uint8_t) ~(0x80u >> (depth % 8));
    if (v[0] == v[1] && (v[0] & RT_LEAF))
        return v[0]; /* both halves answer alike: one leaf */
    return node_new(b, v[0], v[1]);
}

/* ---------------------------------------------------------------- the query-path trie */

/* The 16-way node standing for binary node v, which lies at a whole nibble: walks reach binary
 * nodes there only (from the jump tables at depth RT_JUMP_BITS, then RT_STRIDE bits a step; the
 * IPv4 trie is grafted at depth 96). Each entry is where RT_STRIDE more bits lead: a leaf met
 * within them (with the bits left unused) or the 16-way node below. The graft makes the binary
 * trie a DAG: a node reached twice is compiled once. Recursion depth: 128 / RT_STRIDE. */
static uint32_t compile(bctx_t *b, uint32_t v)
{
    if (b->memo[v])
        return b->memo[v] - 1;
    rt_tab_t *t = b->tab;
    uint32_t e[RT_FANOUT];
    for (unsigned nib = 0; nib < RT_FANOUT && !b->err; nib++) {
        uint32_t x = v;
        unsigned k = 0;
        while (k < RT_STRIDE && !(x & RT_LEAF))
            x = b->node[x][(nib >> (RT_STRIDE - 1 - k++)) & 1];
        e[nib] = x & RT_LEAF ? x | RT_UNUSED(RT_STRIDE - k) : compile(b, x);
    }
    if (b->err)
        return RT_LEAF;
    if (t->ncnodes >= RT_LEAF ||
        grow_for(&t->cnode, &t->capcnodes, t->ncnodes, sizeof(*t->cnode), 256)) {
        b->err = -ENOMEM;
        return RT_LEAF;
    }
    memcpy(t->cnode[t->ncnodes], e, sizeof(e));
    b->memo[v] = (uint32_t)t->ncnodes + 1;
    return (uint32_t)t->ncnodes++;
}

/* The jump table of the binary trie at root: for each value of the first RT_JUMP_BITS bits,
 * where a walk from root stands after them (a 16-way node, compiled here, or the leaf met
 * sooner). NULL with b->err set when out of memory. */
static rt_jump_t *jump_build(bctx_t *b, uint32_t root)
{
    rt_jump_t *j = malloc(sizeof(*j) << RT_JUMP_BITS);
    if (!j) {
        b->err = -ENOMEM;
        return NULL;
    }
    for (uint32_t p = 0; p < (1u << RT_JUMP_BITS) && !b->err; p++) {
        uint32_t v = root;
        unsigned d = 0;
        for (; d < RT_JUMP_BITS && !(v & RT_LEAF); d++)
            v = b->node[v][(p >> (RT_JUMP_BITS - 1 - d)) & 1];
        if (!(v & RT_LEAF))
            v = compile(b, v);
        j[p] = (rt_jump_t){.v = v, .depth = (uint8_t)d};
    }
    if (b->err) {
        free(j);
        return NULL;
    }
    return j;
}

static int build_tab(const route_table_input_t *in, const route_policy_t *pol, const mtrie_t *mt,
                     rt_tab_t *tab, char *err, size_t errlen)
{
    bctx_t b = {.in = in, .pol = pol, .tab = tab, .mt = mt};
    /* A sound tree is walked a few times over at most (IPv4 subtree aliases): 16 visits per
     * node, plus the nets and special-range structure, is far beyond any real database. */
    b.max_steps = 16 * ((uint64_t)geoip_tree_nodes(in->db) + mt->len + 1024) * 2;
    geoip_rec_t r4 = {GEOIP_REC_EMPTY, 0}, r6 = {GEOIP_REC_EMPTY, 0};
    if (in->db && (geoip_tree_root(in->db, AF_INET, &r4) || geoip_tree_root(in->db, AF_INET6, &r6)))
        b.err = -EIO;
    (void)cancelled(&b); /* one check per table, however small */
    /* One trie per query family (in cname mode both families answer alike: one trie). */
    unsigned nfam = pol->mode == ROUTE_MODE_CNAME ? 1 : 2;
    for (unsigned fi = 0; fi < nfam && !b.err; fi++) {
        if (fi == 1) {
            /* Where A and AAAA answers are equal in the same places (dual-stack PoPs), the
             * AAAA trie would be the A trie: share it. */
            bool same = true;
            for (size_t i = 0; i < tab->nans && same; i++)
                same = b.rep[i][0] == b.rep[i][1];
            if (same) {
                nfam = 1;
                break;
            }
        }
        b.fi = fi;
        memset(b.path, 0, sizeof(b.path));
        tab->root4[fi] = dfs(&b, r4, 1, -1, false, 0, 32);
        b.graft = tab->root4[fi];
        memset(b.path, 0, sizeof(b.path));
        if (!b.err)
            tab->root6[fi] = dfs(&b, r6, 2, -1, false, 0, 128);
    }
    if (nfam == 1) {
        tab->root4[1] = tab->root4[0];
        tab->root6[1] = tab->root6[0];
    }
    if (!b.err && !(b.memo = calloc(b.nnodes ? b.nnodes : 1, sizeof(*b.memo))))
        b.err = -ENOMEM;
    for (unsigned fi = 0; fi < nfam && !b.err; fi++)
        for (unsigned af = 0; af < 2 && !b.err; af++)
            tab->jump[af][fi] = jump_build(&b, af ? tab->root6[fi] : tab->root4[fi]);
    if (!b.err && tab->ncnodes && tab->ncnodes < tab->capcnodes) { /* the doubling's slack */
        uint32_t(*cn)[RT_FANOUT] = realloc(tab->cnode, tab->ncnodes * sizeof(*cn));
        if (cn) {
            tab->cnode = cn;
            tab->capcnodes = tab->ncnodes;
        }
    }
    if (nfam == 1 && !b.err) {
        tab->jump[0][1] = tab->jump[0][0];
        tab->jump[1][1] = tab->jump[1][0];
    }
    free(b.node);
    free(b.memo);
    free(b.lkey);
    free(b.lval);
    free(b.aslot);
    free(b.rep);
    free(b.fslot[0]);
    free(b.fslot[1]);
    free(b.place);
    if (b.err)
        snprintf(err, errlen, "geo table: %s",
                 b.err == -EIO         ? "the mmdb search tree is corrupt"
                 : b.err == -EINVAL    ? "a policy does not match the PoP file"
                 : b.err == -ECANCELED ? "build cancelled"
                                       : "out of memory");
    return b.err;
}

/* Two policies with the same routing settings (whatever their id) share one table. */
static bool same_policy(const route_policy_t *a, const route_policy_t *b)
{
    route_policy_t x, y;
    memcpy(&x, a, sizeof(x));
    memcpy(&y, b, sizeof(y));
    x.id = y.id = 0;
    x.ttl = y.ttl = 0; /* the TTL is not part of the table */
    return !memcmp(&x, &y, sizeof(x));
}

int route_table_build(const route_table_input_t *in, route_table_t **out, char *err, size_t errlen)
{
    *out = NULL;
    route_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    mtrie_t mt = {0};
    int rc = -ENOMEM;
    t->npol = in->npol;
    t->pol_tab = calloc(in->npol ? in->npol : 1, sizeof(*t->pol_tab));
    t->tab = calloc(in->npol ? in->npol : 1, sizeof(*t->tab));
    if (!t->pol_tab || !t->tab || mt_build(&mt, in->nets)) {
        snprintf(err, errlen, "geo table: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < in->npol; i++) {
        size_t j = 0;
        while (j < i && !same_policy(in->pol[j], in->pol[i]))
            j++;
        if (j < i) {
            t->pol_tab[i] = t->pol_tab[j];
            continue;
        }
        t->pol_tab[i] = (uint32_t)t->ntab;
        if ((rc = build_tab(in, in->pol[i], &mt, &t->tab[t->ntab++], err, errlen)))
            goto fail;
    }
    free(mt.n);
    *out = t;
    return 0;
fail:
    free(mt.n);
    route_table_free(t);
    return rc;
}

void route_table_free(route_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ntab; i++) {
        free(t->tab[i].cnode);
        free(t->tab[i].ans);
        for (unsigned af = 0; af < 2; af++) {
            if (t->tab[i].jump[af][1] != t->tab[i].jump[af][0])
                free(t->tab[i].jump[af][1]);
            free(t->tab[i].jump[af][0]);
        }
    }
    free(t->tab);
    free(t->pol_tab);
    free(t);
}

bool route_table_lookup(const route_table_t *t, uint32_t policy_id, int family, const uint8_t *addr,
                        int qfamily, route_table_hit_t *out)
{
    if (!policy_id || policy_id > t->npol)
        return false;
    const rt_tab_t *tab = &t->tab[t->pol_tab[policy_id - 1]];
    unsigned fi = qfamily == AF_INET6 ? 1 : 0;
    const rt_jump_t *j =
        &tab->jump[family == AF_INET ? 0 : 1][fi][((unsigned)addr[0] << 4) | (addr[1] >> 4)];
    uint32_t v = j->v;
    unsigned d = j->depth; /* a multiple of RT_STRIDE while v is a node */
    while (!(v & RT_LEAF)) {
        v = tab->cnode[v][(addr[d >> 3] >> (4 - (d & 4))) & 0xf];
        d += RT_STRIDE;
    }
    d -= (v >> RT_UNUSED_SHIFT) & 3;
    out->dec = &tab->ans[v & RT_ID_MASK].dec[fi];
    out->depth = (uint8_t)d;
    out->special = (v & RT_SPECIAL) != 0;
    return true;
}

void route_table_stats(const route_table_t *t, route_table_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!t)
        return;
    out->tables = t->ntab;
    out->bytes = sizeof(*t) + t->npol * sizeof(*t->pol_tab) + t->ntab * sizeof(*t->tab);
    for (size_t i = 0; i < t->ntab; i++) {
        out->nodes += t->tab[i].ncnodes;
        out->answers += t->tab[i].nans;
        out->locations += t->tab[i].nloc;
        out->ranked += t->tab[i].nrank;
        out->bytes += t->tab[i].capcnodes * sizeof(t->tab[i].cnode[0]) +
                      t->tab[i].capans * sizeof(t->tab[i].ans[0]);
        for (unsigned af = 0; af < 2; af++)
            out->bytes += (sizeof(rt_jump_t) << RT_JUMP_BITS) *
                          (t->tab[i].jump[af][1] != t->tab[i].jump[af][0] ? 2 : 1);
    }
}
