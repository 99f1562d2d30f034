/* xfr.c: zone transfer out: access rules, TSIG, and the AXFR stream (SOA, every node as the
 * zone holds it, geo names at their default location, SOA) cut into 16 KiB messages. */
#include "xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "dname.h"
#include "georesp.h"
#include "hash.h"
#include "snapshot.h"
#include "wire.h"

#define XFR_MSG_MAX 65535
/* Messages are cut at 16 KiB, as NSD does: a compression pointer reaches only the first 16 KiB
 * of a message, so in 64 KiB messages three quarters of the names could point nowhere. A record
 * that does not fit in an empty message of that size gets one of up to XFR_MSG_MAX. */
#define XFR_MSG_SOFT 16384

static const char *where(arena_t *a, const yt_node_t *n)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s:%u:%u", n->file, n->line, n->col);
    return arena_strdup(a, buf);
}

static bool key_eq(const void *ctx, size_t item, const void *name, size_t len)
{
    const tsig_key_t *key = &((const xfr_keyring_t *)ctx)->keys[item];
    return key->namelen == len && !memcmp(key->name, name, len);
}

/* The slot of the key named name[0..len) in ring's index, or the empty one where it would go. */
static size_t key_slot(const xfr_keyring_t *ring, const uint8_t *name, size_t len)
{
    return hash_index_slot(ring->index, ring->index_mask, hash_fnv1a64(name, len), key_eq, ring,
                           name, len);
}

const tsig_key_t *xfr_key_find(const xfr_keyring_t *ring, const uint8_t *name, size_t len)
{
    if (!ring || !ring->index)
        return NULL;
    uint32_t k = ring->index[key_slot(ring, name, len)];
    return k ? &ring->keys[k - 1] : NULL;
}

const tsig_key_t *xfr_tsig_key(const void *ctx, const uint8_t *name, size_t len)
{
    return xfr_key_find(ctx, name, len);
}

int xfr_keys_parse(const yt_node_t *n, arena_t *a, xfr_keyring_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!n || yt_is_null(n))
        return 0;
    if (n->kind != YT_MAP)
        return yt_fail(err, errlen, n, "'tsig_keys' must map key names to {algorithm, secret}");
    size_t slots = hash_index_slots(n->n);
    out->keys = arena_alloc(a, (n->n ? n->n : 1) * sizeof(tsig_key_t));
    out->index = arena_alloc(a, slots * sizeof(*out->index));
    if (!out->keys || !out->index)
        return -ENOMEM;
    memset(out->index, 0, slots * sizeof(*out->index));
    out->index_mask = slots - 1;
    for (size_t i = 0; i < n->n; i++) {
        const yt_node_t *kn = n->items[2 * i], *kv = n->items[2 * i + 1];
        static const char *const keys[] = {"algorithm", "secret", NULL};
        const char *name, *alg = "hmac-sha256", *secret;
        int rc;
        if ((rc = yt_get_str(kn, &name, err, errlen)))
            return rc;
        if (kv->kind != YT_MAP)
            return yt_fail(err, errlen, kv, "key '%s' must be {algorithm, secret}", name);
        if ((rc = yt_map_check_keys(kv, keys, "a TSIG key", err, errlen)))
            return rc;
        const yt_node_t *v = yt_map_get(kv, "algorithm");
        if (v && (rc = yt_get_str(v, &alg, err, errlen)))
            return rc;
        if (!(v = yt_map_get(kv, "secret")))
            return yt_fail(err, errlen, kv, "key '%s' needs 'secret: BASE64'", name);
        if ((rc = yt_get_str(v, &secret, err, errlen)))
            return rc;
        char why[256];
        tsig_key_t *k = &out->keys[i];
        if (tsig_key_init(k, arena_strdup(a, name), alg, secret, why, sizeof(why)))
            return yt_fail(err, errlen, kv, "%s", why);
        size_t slot = key_slot(out, k->name, k->namelen);
        if (out->index[slot])
            return yt_fail(err, errlen, kn, "key '%s' defined twice (first as '%s')", name,
                           out->keys[out->index[slot] - 1].name_str);
        out->index[slot] = (uint32_t)i + 1;
        out->n++;
    }
    return 0;
}

static int parse_net(const char *s, xfr_allow_t *e)
{
    unsigned bits;
    if (addr_prefix_parse(s, &e->family, e->addr, &bits))
        return -1;
    e->prefix = (uint8_t)bits;
    e->has_net = true;
    return 0;
}

int xfr_policy_parse(const yt_node_t *n, arena_t *a, xfr_policy_t **out, char *err, size_t errlen)
{
    static const char *const keys[] = {"allow", "notify", NULL};
    int rc;
    *out = NULL;
    if (n->kind != YT_MAP)
        return yt_fail(err, errlen, n, "'transfer' must be {allow: [...], notify: [...]}");
    if ((rc = yt_map_check_keys(n, keys, "transfer", err, errlen)))
        return rc;
    xfr_policy_t *p = arena_alloc(a, sizeof(*p));
    if (!p)
        return -12;
    const yt_node_t *al = yt_map_get(n, "allow");
    if (al && !yt_is_null(al)) {
        if (al->kind != YT_SEQ)
            return yt_fail(err, errlen, al, "'allow' must be a list of {net, key}");
        if (!(p->allow = arena_alloc(a, (al->n ? al->n : 1) * sizeof(xfr_allow_t))))
            return -12;
        for (size_t i = 0; i < al->n; i++) {
            static const char *const ek[] = {"net", "key", NULL};
            const yt_node_t *e = al->items[i];
            xfr_allow_t *x = &p->allow[i];
            const char *s;
            if (e->kind != YT_MAP)
                return yt_fail(err, errlen, e, "an allow entry is {net: PREFIX, key: NAME}");
            if ((rc = yt_map_check_keys(e, ek, "an allow entry", err, errlen)))
                return rc;
            const yt_node_t *v = yt_map_get(e, "net");
            if (v) {
                if ((rc = yt_get_str(v, &s, err, errlen)))
                    return rc;
                if (parse_net(s, x))
                    return yt_fail(err, errlen, v, "'%s' is not an address or prefix", s);
            }
            if ((v = yt_map_get(e, "key"))) {
                if ((rc = yt_get_str(v, &s, err, errlen)))
                    return rc;
                x->keyname = arena_strdup(a, s);
            }
            if (!x->has_net && !x->keyname)
                return yt_fail(err, errlen, e, "an allow entry needs 'net', 'key' or both");
            x->where = where(a, e);
            p->nallow++;
        }
    }
    const yt_node_t *nt = yt_map_get(n, "notify");
    if (nt && !yt_is_null(nt)) {
        if (nt->kind != YT_SEQ)
            return yt_fail(err, errlen, nt, "'notify' must be a list of ADDR:PORT");
        if (!(p->notify = arena_alloc(a, (nt->n ? nt->n : 1) * sizeof(xfr_target_t))))
            return -12;
        for (size_t i = 0; i < nt->n; i++) {
            const char *s;
            gd_listen_t l;
            if ((rc = yt_get_str(nt->items[i], &s, err, errlen)))
                return rc;
            if (gd_listen_parse(s, &l))
                return yt_fail(err, errlen, nt->items[i], "'%s' is not ADDR:PORT or [ADDR6]:PORT",
                               s);
            memcpy(&p->notify[i].ss, &l.ss, sizeof(l.ss));
            p->notify[i].len = l.len;
            snprintf(p->notify[i].text, sizeof(p->notify[i].text), "%s", l.text);
            p->nnotify++;
        }
    }
    *out = p;
    return 0;
}

int xfr_policy_resolve(xfr_policy_t *p, const xfr_keyring_t *ring, char *err, size_t errlen)
{
    for (size_t i = 0; p && i < p->nallow; i++) {
        xfr_allow_t *x = &p->allow[i];
        if (!x->keyname)
            continue;
        /* Found by its wire name (key names are unique as wire names, letter case aside), then
         * held to the configured text: "xfr-key" does not name a key written "xfr-key.". */
        uint8_t wire[DNS_MAX_NAME];
        size_t len;
        x->key = NULL;
        if (!dns_name_from_text(x->keyname, wire, &len)) {
            dns_name_lower(wire, len);
            const tsig_key_t *k = xfr_key_find(ring, wire, len);
            if (k && !strcasecmp(k->name_str, x->keyname))
                x->key = k;
        }
        if (!x->key) {
            snprintf(err, errlen, "%s: key '%s' is not in tsig_keys", x->where, x->keyname);
            return -1;
        }
    }
    return 0;
}

static bool net_match(const xfr_allow_t *x, const struct sockaddr *sa)
{
    int fam;
    const uint8_t *addr = addr_sockaddr_bytes(sa, &fam);
    return addr && fam == x->family && addr_prefix_match(addr, x->addr, x->prefix);
}

const tsig_key_t *xfr_notify_key(const xfr_policy_t *p, const struct sockaddr *target)
{
    for (size_t i = 0; p && i < p->nallow; i++)
        if (p->allow[i].key && p->allow[i].has_net && net_match(&p->allow[i], target))
            return p->allow[i].key;
    return NULL;
}

/* What is written: TCP frames one after the other, from buf; the message being written starts
 * at buf + len + 2. A piece handed out (xfr_next) is the complete frames; the message in progress
 * then moves to the start of buf. */
typedef struct xfr_out {
    uint8_t *buf;
    size_t len, cap;
    dns_writer_t w;
    const dns_query_t *q;
    uint16_t hflags;
    const tsig_key_t *key;
    uint8_t mac[TSIG_MAC_MAX];
    size_t maclen;
    bool first;
    uint64_t now;
    uint16_t udp_size; /* advertised in the OPT record of a request with EDNS */
    size_t messages, records;
} xfr_out_t;

/* Where the zone's walk stands between two pieces. */
enum xfr_phase {
    XFR_SOA_FIRST, /* the opening SOA */
    XFR_APEX,      /* the apex's other records */
    XFR_NODES,     /* every other node, in the order of the zone file */
    XFR_SOA_LAST,  /* the closing SOA */
    XFR_LAST,      /* the message in progress is the last one */
    XFR_DONE       /* everything handed out */
};

struct xfr_stream {
    query_env_t env; /* the request's, without the worker's counters, memo or cache */
    dns_query_t q;
    xfr_out_t o;
    const zone_t *z;
    enum xfr_phase phase;
    size_t next;  /* the next node of XFR_NODES, in z->nodes */
    bool current; /* the client is up to date: our SOA alone */
    size_t given; /* bytes of buf handed out by the last xfr_next */
};

/* A request with EDNS gets an OPT record in the first message (RFC 5936 2.2.5; version 0, DO
 * copied, no options): the room it needs there. */
#define XFR_OPT_LEN 11
static size_t opt_room(const xfr_out_t *o)
{
    return o->first && o->q->has_opt ? XFR_OPT_LEN : 0;
}

static int msg_begin(xfr_out_t *o)
{
    if (o->cap - o->len < XFR_MSG_MAX + 2) {
        size_t ncap = o->cap ? o->cap * 2 : 4 * (XFR_MSG_MAX + 2);
        uint8_t *nb = realloc(o->buf, ncap);
        if (!nb)
            return -1;
        o->buf = nb;
        o->cap = ncap;
    }
    size_t limit = XFR_MSG_SOFT - (o->key ? TSIG_RR_MAX : 0) - opt_room(o);
    dns_writer_init(&o->w, o->buf + o->len + 2, limit, o->q->id, o->hflags);
    if (o->first)
        dns_writer_question(&o->w, o->q); /* the question goes in the first message only */
    return 0;
}

static int msg_end(xfr_out_t *o, uint8_t rcode, uint16_t fl)
{
    size_t room = opt_room(o);
    if (room) {
        o->w.limit += room;
        if (dns_writer_opt(&o->w, o->udp_size, 0, o->q->edns_do, NULL, 0))
            return -1;
    }
    size_t l = dns_writer_finish(&o->w, fl, rcode);
    uint8_t *m = o->buf + o->len + 2;
    if (o->key) {
        uint8_t mac[TSIG_MAC_MAX];
        size_t ml;
        if (tsig_sign(o->key, m, &l, XFR_MSG_MAX, o->mac, o->maclen, !o->first, o->now, mac, &ml))
            return -1;
        memcpy(o->mac, mac, ml);
        o->maclen = ml;
    }
    o->buf[o->len] = (uint8_t)(l >> 8);
    o->buf[o->len + 1] = (uint8_t)l;
    o->len += l + 2;
    o->first = false;
    o->messages++;
    return 0;
}

/* A write did not fit: the next message when this one holds records already (counts, as they
 * were before the write), else this one up to the largest size. -1 when neither helps. */
static int msg_make_room(xfr_out_t *o, const uint16_t counts[4])
{
    if (counts[DNS_SEC_AN])
        return msg_end(o, DNS_RCODE_NOERROR, DNS_FLAG_AA) || msg_begin(o) ? -1 : 0;
    size_t hard = XFR_MSG_MAX - (o->key ? TSIG_RR_MAX : 0) - opt_room(o);
    if (o->w.limit >= hard)
        return -1;
    o->w.limit = hard;
    return 0;
}

/* Write one record, starting a new message when it does not fit in this one. */
static int put_rr(xfr_out_t *o, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
                  const dns_rdata_t *rd)
{
    while (dns_writer_rr(&o->w, DNS_SEC_AN, owner, olen, type, ttl, rd))
        if (msg_make_room(o, o->w.counts))
            return -1;
    o->records++;
    return 0;
}

static int put_rrset(xfr_out_t *o, const zone_node_t *n, const zone_rrset_t *rs)
{
    for (unsigned i = 0; i < rs->count; i++)
        if (put_rr(o, n->name, n->namelen, rs->type, rs->ttl, &rs->rdata[i]))
            return -1;
    return 0;
}

/* A geo name's answer for a client at the default location, as static records. */
static int put_geo(xfr_out_t *o, const query_env_t *env, const zone_node_t *n, uint16_t type)
{
    dns_query_t gq;
    memset(&gq, 0, sizeof(gq));
    gq.qtype = type;
    gq.qclass = DNS_CLASS_IN;
    memcpy(gq.qname, n->name, n->namelen);
    gq.qname_len = n->namelen;
    gq.qname_labels = (uint8_t)zone_name_labels(n->name, gq.label_off);
    for (;;) {
        size_t save = o->w.len;
        uint16_t counts[4];
        memcpy(counts, o->w.counts, sizeof(counts));
        uint8_t rcode = 0, scope = 0;
        const uint8_t *target;
        size_t tl;
        int r = georesp_answer(env, &gq, NULL, n, n->name, n->namelen, &o->w, &rcode, &scope,
                               &target, &tl);
        if (r >= 0) {
            if (rcode != DNS_RCODE_NOERROR)
                dns_writer_rewind(&o->w, save, counts); /* SERVFAIL by policy: nothing to send */
            o->records += (size_t)(o->w.counts[1] - counts[1]);
            return 0;
        }
        dns_writer_rewind(&o->w, save, counts);
        if (msg_make_room(o, counts))
            return -1;
    }
}

static int put_node(xfr_out_t *o, const query_env_t *env, const zone_node_t *n)
{
    bool apex = n->flags & ZONE_NODE_APEX;
    for (unsigned i = 0; i < n->nrrsets; i++) {
        if (apex && n->rrsets[i].type == DNS_TYPE_SOA)
            continue;
        if (put_rrset(o, n, &n->rrsets[i]))
            return -1;
    }
    if (n->geo && env->geo) {
        bool cname = n->geo->mode == ROUTE_MODE_CNAME;
        if (cname && !zone_node_rrset(n, DNS_TYPE_CNAME))
            return put_geo(o, env, n, DNS_TYPE_A);
        if (!cname && !zone_node_rrset(n, DNS_TYPE_A) && put_geo(o, env, n, DNS_TYPE_A))
            return -1;
        if (!cname && !zone_node_rrset(n, DNS_TYPE_AAAA) && put_geo(o, env, n, DNS_TYPE_AAAA))
            return -1;
    }
    return 0;
}

static bool allowed_by(const xfr_policy_t *p, const struct sockaddr *src, const tsig_key_t *key)
{
    for (size_t i = 0; p && i < p->nallow; i++) {
        const xfr_allow_t *x = &p->allow[i];
        if (x->has_net && !net_match(x, src))
            continue;
        if (x->key && x->key != key)
            continue;
        return true;
    }
    return false;
}

void xfr_free(xfr_stream_t *st)
{
    if (st) {
        free(st->o.buf);
        free(st);
    }
}

int xfr_start(const query_env_t *env, const uint8_t *pkt, size_t len, const struct sockaddr *src,
              uint64_t now, bool busy, xfr_stream_t **out, xfr_result_t *res)
{
    memset(res, 0, sizeof(*res));
    *out = NULL;
    xfr_stream_t *st = calloc(1, sizeof(*st));
    if (!st)
        return -1;
    dns_query_t *q = &st->q;
    xfr_out_t *o = &st->o;
    if (dns_query_parse(pkt, len, q) != DNS_PARSE_OK || !q->has_question)
        goto fail;
    res->qtype = q->qtype;
    dns_name_to_str(q->qname, res->zone, sizeof(res->zone));
    tsig_check_t tc;
    bool tsig_bad = tsig_verify(xfr_tsig_key, env->xfr_keys, pkt, len, now, &tc) != 0;
    if (tsig_bad)
        memset(&tc, 0, sizeof(tc)); /* nothing of it is used: FORMERR (RFC 8945 5.1) */
    res->tsig_error = tc.error;
    res->key = tc.key ? tc.key->name_str : NULL;
    const zone_t *z =
        zone_set_find(env->zones, q->qname, q->qname_len, q->label_off, q->qname_labels);
    if (z && z->apexlen != q->qname_len)
        z = NULL; /* a transfer names the apex */
    if (z)
        res->serial = z->serial;
    const xfr_policy_t *pol = z && z->xfr ? z->xfr : env->xfr;
    o->q = q;
    o->hflags = (uint16_t)(DNS_FLAG_QR | (q->flags & DNS_FLAG_RD));
    o->first = true;
    o->now = now;
    o->udp_size = env->udp_size;
    uint8_t rcode = DNS_RCODE_NOERROR;
    if (tsig_bad)
        rcode = DNS_RCODE_FORMERR;
    else if (tc.present && tc.error != TSIG_NOERROR)
        rcode = DNS_RCODE_NOTAUTH; /* with the TSIG error in an unsigned TSIG RR */
    else if (q->has_opt && q->edns_version > 0)
        rcode = DNS_RCODE_BADVERS; /* RFC 6891 6.1.3: no data, our OPT says version 0 */
    else if (q->qclass != DNS_CLASS_IN || !z || !allowed_by(pol, src, tc.key))
        rcode = DNS_RCODE_REFUSED;
    else {
        /* RFC 1995 2: a client at our serial or newer (RFC 1982 arithmetic) gets our SOA alone.
         * Any older one gets the whole zone in AXFR form (section 4): there is no history. */
        uint32_t have;
        if (q->qtype == DNS_TYPE_IXFR && !dns_ixfr_serial(pkt, len, q, &have)) {
            res->has_client_serial = true;
            res->client_serial = have;
            res->current = (int32_t)(have - z->serial) >= 0; /* 2^31 away: undefined, older */
        }
        if (busy && !res->current) {
            rcode = DNS_RCODE_SERVFAIL;
            res->busy = true;
        }
    }
    o->key = rcode == DNS_RCODE_NOTAUTH ? NULL : tc.key;
    if (o->key) {
        memcpy(o->mac, tc.mac, tc.maclen);
        o->maclen = tc.maclen;
    }
    res->rcode = rcode;
    if (rcode != DNS_RCODE_NOERROR) {
        /* One short message: allocated to fit, not a transfer's buffer. */
        size_t room = opt_room(o);
        if (!(o->buf = malloc(DNS_HDR_LEN + 4 + DNS_MAX_NAME + room + TSIG_RR_MAX + 2)))
            goto fail;
        dns_writer_init(&o->w, o->buf + 2, DNS_HDR_LEN + 4 + DNS_MAX_NAME + room, q->id, o->hflags);
        dns_writer_question(&o->w, q);
        if (room)
            dns_writer_opt(&o->w, o->udp_size, (uint8_t)(rcode >> 4), q->edns_do, NULL, 0);
        size_t l = dns_writer_finish(&o->w, 0, rcode);
        size_t cap = l + TSIG_RR_MAX;
        uint8_t *m = o->buf + 2;
        if (rcode == DNS_RCODE_NOTAUTH) {
            if (tsig_append_error(&tc, q->id, m, &l, cap, now))
                goto fail;
        } else if (o->key) {
            uint8_t mac[TSIG_MAC_MAX];
            size_t ml;
            if (tsig_sign(o->key, m, &l, cap, o->mac, o->maclen, false, now, mac, &ml))
                goto fail;
        }
        o->buf[0] = (uint8_t)(l >> 8);
        o->buf[1] = (uint8_t)l;
        o->len = l + 2;
        o->messages = 1;
        st->phase = XFR_DONE;
        res->messages = 1;
        *out = st;
        return 0;
    }
    res->allowed = true;
    /* Geo answers without the worker's counters or cache: this is not a client's query. */
    st->env = *env;
    st->env.counters = NULL;
    st->env.cache = NULL;
    st->env.memo = NULL;
    st->z = z;
    st->current = res->current;
    st->phase = XFR_SOA_FIRST;
    if (msg_begin(o))
        goto fail;
    *out = st;
    return 0;
fail:
    xfr_free(st);
    return -1;
}

/* Walk on from where the last piece stopped until whole frames of at least XFR_PIECE bytes are
 * written, or XFR_STEP records, or the zone: the SOA, then (unless the client is up to date) the
 * zone and the SOA again. A piece is then usually one full message, and one call a fraction of a
 * millisecond of work for the worker's TCP thread, which answers its other clients in between. */
#define XFR_PIECE (32 * 1024)
#define XFR_STEP  256

static int walk(xfr_stream_t *st)
{
    xfr_out_t *o = &st->o;
    const zone_t *z = st->z;
    size_t until = o->records + XFR_STEP;
    while (o->len < XFR_PIECE && o->records < until) {
        switch (st->phase) {
        case XFR_SOA_FIRST:
            if (put_rrset(o, z->apex_node, z->soa))
                return -1;
            st->phase = st->current ? XFR_LAST : XFR_APEX;
            break;
        case XFR_APEX:
            if (put_node(o, &st->env, z->apex_node))
                return -1;
            st->phase = XFR_NODES;
            st->next = 0;
            break;
        case XFR_NODES:
            if (st->next == z->nnodes) {
                st->phase = XFR_SOA_LAST;
                break;
            }
            const zone_node_t *n = z->nodes[st->next++];
            if (n != z->apex_node && put_node(o, &st->env, n))
                return -1;
            break;
        case XFR_SOA_LAST:
            if (put_rrset(o, z->apex_node, z->soa))
                return -1;
            st->phase = XFR_LAST;
            break;
        case XFR_LAST:
            if (msg_end(o, DNS_RCODE_NOERROR, DNS_FLAG_AA))
                return -1;
            st->phase = XFR_DONE;
            return 0;
        case XFR_DONE:
            return 0;
        }
    }
    return 0;
}

int xfr_next(xfr_stream_t *st, const uint8_t **piece, size_t *len)
{
    xfr_out_t *o = &st->o;
    *piece = NULL;
    *len = 0;
    if (st->given) {
        /* The last piece is out: the message in progress moves to the front. */
        if (st->phase != XFR_DONE) {
            memmove(o->buf + 2, o->buf + o->len + 2, o->w.len);
            o->w.buf = o->buf + 2;
        }
        o->len = 0;
        st->given = 0;
    }
    if (walk(st))
        return -1;
    *piece = o->buf;
    *len = st->given = o->len;
    return st->phase == XFR_DONE ? 0 : 1;
}

void xfr_counts(const xfr_stream_t *st, size_t *messages, size_t *records)
{
    *messages = st->o.messages;
    *records = st->o.records;
}

int xfr_process(const query_env_t *env, const uint8_t *pkt, size_t len, const struct sockaddr *src,
                uint64_t now, bool busy, uint8_t **out, size_t *outlen, xfr_result_t *res)
{
    xfr_stream_t *st;
    *out = NULL;
    *outlen = 0;
    if (xfr_start(env, pkt, len, src, now, busy, &st, res))
        return -1;
    uint8_t *all = NULL;
    size_t n = 0, cap = 0;
    int more;
    do {
        const uint8_t *p;
        size_t l;
        if ((more = xfr_next(st, &p, &l)) < 0)
            goto fail;
        if (n + l > cap) {
            size_t ncap = cap ? cap : 64 * 1024;
            while (ncap < n + l)
                ncap *= 2;
            uint8_t *grown = realloc(all, ncap);
            if (!grown)
                goto fail;
            all = grown;
            cap = ncap;
        }
        if (l)
            memcpy(all + n, p, l);
        n += l;
    } while (more);
    xfr_counts(st, &res->messages, &res->records);
    xfr_free(st);
    *out = all;
    *outlen = n;
    return 0;
fail:
    free(all);
    xfr_free(st);
    return -1;
}
