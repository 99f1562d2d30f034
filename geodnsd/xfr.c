/* xfr.c: zone transfer out: access rules, TSIG, and the AXFR stream (SOA, every node as the
 * zone holds it, geo names at their default location, SOA) cut into 64 KiB messages. */
#include "xfr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "georesp.h"
#include "snapshot.h"
#include "wire.h"

#define XFR_MSG_MAX 65535

static const char *where(arena_t *a, const yt_node_t *n)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s:%u:%u", n->file, n->line, n->col);
    return arena_strdup(a, buf);
}

int xfr_keys_parse(const yt_node_t *n, arena_t *a, xfr_keyring_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!n || yt_is_null(n))
        return 0;
    if (n->kind != YT_MAP)
        return yt_fail(err, errlen, n, "'tsig_keys' must map key names to {algorithm, secret}");
    out->keys = arena_alloc(a, (n->n ? n->n : 1) * sizeof(tsig_key_t));
    if (!out->keys)
        return -12;
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
        if (tsig_key_init(&out->keys[i], arena_strdup(a, name), alg, secret, why, sizeof(why)))
            return yt_fail(err, errlen, kv, "%s", why);
        for (size_t j = 0; j < i; j++)
            if (out->keys[j].namelen == out->keys[i].namelen &&
                !memcmp(out->keys[j].name, out->keys[i].name, out->keys[i].namelen))
                return yt_fail(err, errlen, kn, "key '%s' defined twice", name);
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
        x->key = NULL;
        for (size_t j = 0; ring && j < ring->n && !x->key; j++)
            if (!strcasecmp(ring->keys[j].name_str, x->keyname))
                x->key = &ring->keys[j];
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

/* The growing output: TCP frames one after the other. */
typedef struct xfr_out {
    uint8_t *buf;
    size_t len, cap;
    /* the message being written, at buf + len + 2 */
    dns_writer_t w;
    const dns_query_t *q;
    uint16_t hflags;
    const tsig_key_t *key;
    uint8_t mac[TSIG_MAC_MAX];
    size_t maclen;
    bool first;
    uint64_t now;
    size_t messages, records;
} xfr_out_t;

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
    size_t limit = XFR_MSG_MAX - (o->key ? TSIG_RR_MAX : 0);
    dns_writer_init(&o->w, o->buf + o->len + 2, limit, o->q->id, o->hflags);
    if (o->first)
        dns_writer_question(&o->w, o->q); /* the question goes in the first message only */
    return 0;
}

static int msg_end(xfr_out_t *o, uint8_t rcode, uint16_t fl)
{
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

/* Write one record, starting a new message when it does not fit in this one. */
static int put_rr(xfr_out_t *o, const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
                  const dns_rdata_t *rd)
{
    if (!dns_writer_rr(&o->w, DNS_SEC_AN, owner, olen, type, ttl, rd)) {
        o->records++;
        return 0;
    }
    if (msg_end(o, DNS_RCODE_NOERROR, DNS_FLAG_AA) || msg_begin(o) ||
        dns_writer_rr(&o->w, DNS_SEC_AN, owner, olen, type, ttl, rd))
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
    for (int attempt = 0; attempt < 2; attempt++) {
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
        if (attempt || msg_end(o, DNS_RCODE_NOERROR, DNS_FLAG_AA) || msg_begin(o))
            return -1;
    }
    return -1;
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

int xfr_process(const query_env_t *env, const uint8_t *pkt, size_t len, const struct sockaddr *src,
                uint64_t now, bool busy, uint8_t **out, size_t *outlen, xfr_result_t *res)
{
    memset(res, 0, sizeof(*res));
    *out = NULL;
    *outlen = 0;
    dns_query_t q;
    if (dns_query_parse(pkt, len, &q) != DNS_PARSE_OK || !q.has_question)
        return -1;
    res->qtype = q.qtype;
    dns_name_to_str(q.qname, res->zone, sizeof(res->zone));
    tsig_check_t tc;
    const xfr_keyring_t *ring = env->xfr_keys;
    if (tsig_verify(ring ? ring->keys : NULL, ring ? ring->n : 0, pkt, len, now, &tc))
        return -1;
    res->tsig_error = tc.error;
    res->key = tc.key ? tc.key->name_str : NULL;
    const zone_t *z = zone_set_find(env->zones, q.qname, q.qname_len, q.label_off, q.qname_labels);
    if (z && z->apexlen != q.qname_len)
        z = NULL; /* a transfer names the apex */
    if (z)
        res->serial = z->serial;
    const xfr_policy_t *pol = z && z->xfr ? z->xfr : env->xfr;
    xfr_out_t o = {.q = &q,
                   .hflags = (uint16_t)(DNS_FLAG_QR | (q.flags & DNS_FLAG_RD)),
                   .first = true,
                   .now = now};
    uint8_t rcode = DNS_RCODE_NOERROR;
    if (tc.present && tc.error != TSIG_NOERROR)
        rcode = DNS_RCODE_NOTAUTH; /* with the TSIG error in an unsigned TSIG RR */
    else if (q.qclass != DNS_CLASS_IN || !z || !allowed_by(pol, src, tc.key))
        rcode = DNS_RCODE_REFUSED;
    else {
        /* RFC 1995 2: a client at our serial or newer (RFC 1982 arithmetic) gets our SOA alone.
         * Any older one gets the whole zone in AXFR form (section 4): there is no history. */
        uint32_t have;
        if (q.qtype == DNS_TYPE_IXFR && !dns_ixfr_serial(pkt, len, &q, &have)) {
            res->has_client_serial = true;
            res->client_serial = have;
            res->current = (int32_t)(have - z->serial) >= 0; /* 2^31 away: undefined, older */
        }
        if (busy && !res->current) {
            rcode = DNS_RCODE_SERVFAIL;
            res->busy = true;
        }
    }
    o.key = rcode == DNS_RCODE_NOTAUTH ? NULL : tc.key;
    if (o.key) {
        memcpy(o.mac, tc.mac, tc.maclen);
        o.maclen = tc.maclen;
    }
    res->rcode = rcode;
    if (msg_begin(&o))
        goto fail;
    if (rcode != DNS_RCODE_NOERROR) {
        size_t l = dns_writer_finish(&o.w, 0, rcode);
        uint8_t *m = o.buf + 2;
        if (rcode == DNS_RCODE_NOTAUTH) {
            if (tsig_append_error(&tc, q.id, m, &l, XFR_MSG_MAX, now))
                goto fail;
        } else if (o.key) {
            uint8_t mac[TSIG_MAC_MAX];
            size_t ml;
            if (tsig_sign(o.key, m, &l, XFR_MSG_MAX, o.mac, o.maclen, false, now, mac, &ml))
                goto fail;
        }
        o.buf[0] = (uint8_t)(l >> 8);
        o.buf[1] = (uint8_t)l;
        o.len = l + 2;
        res->messages = 1;
        /* A refusal is a few dozen bytes: don't hold a transfer's buffer while it is written. */
        uint8_t *fit = realloc(o.buf, o.len);
        if (fit)
            o.buf = fit;
        *out = o.buf;
        *outlen = o.len;
        return 0;
    }
    res->allowed = true;
    /* Geo answers without the worker's counters or cache: this is not a client's query. */
    query_env_t genv = *env;
    genv.counters = NULL;
    genv.cache = NULL;
    /* The SOA, then (unless the client is up to date) the zone and the SOA again. */
    if (put_rrset(&o, z->apex_node, z->soa))
        goto fail;
    if (!res->current) {
        if (put_node(&o, &genv, z->apex_node))
            goto fail;
        for (uint32_t b = 0; b < z->nbuckets; b++)
            for (const zone_node_t *n = z->buckets[b]; n; n = n->next)
                if (n != z->apex_node && put_node(&o, &genv, n))
                    goto fail;
        if (put_rrset(&o, z->apex_node, z->soa))
            goto fail;
    }
    if (msg_end(&o, DNS_RCODE_NOERROR, DNS_FLAG_AA))
        goto fail;
    res->messages = o.messages;
    res->records = o.records;
    *out = o.buf;
    *outlen = o.len;
    return 0;
fail:
    free(o.buf);
    return -1;
}
