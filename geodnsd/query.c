/* query.c: authoritative answers: zone selection, CNAME chains, wildcards, referrals, negative
 * answers, EDNS (OPT, ECS, NSID, keepalive), ANY and truncation. No allocation, lock or log. */
#include "query.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cookie.h"
#include "georesp.h"
#include "metrics.h"
#include "rrl.h"
#include "tsig.h"
#include "wire.h"
#include "xfr.h"

#define MAX_CNAME_CHAIN 8

typedef struct answer_ctx {
    const query_env_t *env;
    const dns_query_t *q;
    dns_writer_t *w;
    bool tcp;
    const struct sockaddr *src;
    bool aa;
    bool tc;
    uint8_t rcode;
    uint8_t ecs_scope;
    bool cookie_valid; /* a valid server cookie came with the query */
    /* What keys the response for RRL instead of the question: the wildcard or DNAME that
     * synthesized the answer to the question itself, the delegation of a referral, the apex of
     * the zone that has no such name. */
    const zone_node_t *rrl_node;
} answer_ctx_t;

static int write_rrset(dns_writer_t *w, enum dns_section sec, const uint8_t *owner, size_t ownerlen,
                       const zone_rrset_t *rs, uint32_t ttl)
{
    for (unsigned i = 0; i < rs->count; i++)
        if (dns_writer_rr(w, sec, owner, ownerlen, rs->type, ttl, &rs->rdata[i]))
            return -1;
    return 0;
}

static int write_negative_soa(answer_ctx_t *a, const zone_t *z)
{
    return write_rrset(a->w, DNS_SEC_NS, z->apex, z->apexlen, z->soa, z->neg_ttl);
}

/* Is wire name `name` equal to or below wire name `parent`? (both lower-case) */
static bool name_under(const uint8_t *name, size_t len, const uint8_t *parent, size_t plen)
{
    if (len < plen || memcmp(name + len - plen, parent, plen))
        return false;
    size_t i = 0;
    while (i < len - plen)
        i += (size_t)name[i] + 1;
    return i == len - plen;
}

/* The A and AAAA RRsets of node n into the additional section, owned by owner (the node's name,
 * or the target a wildcard synthesizes them for). A set that does not fit is taken back whole
 * and the rest is left out: returns -1 then, else 0. */
static int write_addresses(answer_ctx_t *a, const zone_node_t *n, const uint8_t *owner,
                           size_t ownerlen)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    for (int t = 0; t < 2; t++) {
        const zone_rrset_t *rs = zone_node_rrset(n, types[t]);
        if (!rs)
            continue;
        size_t save = a->w->len;
        uint16_t counts[4];
        memcpy(counts, a->w->counts, sizeof(counts));
        if (write_rrset(a->w, DNS_SEC_AR, owner, ownerlen, rs, rs->ttl)) {
            dns_writer_rewind(a->w, save, counts);
            return -1;
        }
    }
    return 0;
}

/* Referral: NS of the cut in authority, glue for its in-zone name servers in additional. */
static int write_referral(answer_ctx_t *a, const zone_t *z, const zone_node_t *cut)
{
    const zone_rrset_t *ns = zone_node_rrset(cut, DNS_TYPE_NS);
    if (!ns || write_rrset(a->w, DNS_SEC_NS, cut->name, cut->namelen, ns, ns->ttl))
        return -1;
    /* DS at the cut goes with the referral when the zone has it (signed delegations). */
    const zone_rrset_t *ds = zone_node_rrset(cut, DNS_TYPE_DS);
    if (ds && a->q->edns_do && write_rrset(a->w, DNS_SEC_NS, cut->name, cut->namelen, ds, ds->ttl))
        return -1;
    for (unsigned i = 0; i < ns->count; i++) {
        const dns_rdata_t *rd = &ns->rdata[i];
        uint8_t target[DNS_MAX_NAME];
        int tl = dns_name_len(rd->data, rd->len);
        if (tl < 0)
            continue;
        memcpy(target, rd->data, (size_t)tl);
        dns_name_lower(target, (size_t)tl);
        if (!name_under(target, (size_t)tl, z->apex, z->apexlen))
            continue;
        const zone_node_t *g = zone_node_find(z, target, (size_t)tl);
        if (!g)
            continue;
        /* In-domain glue (below this cut) is required: if it doesn't fit, TC (RFC 9471).
         * Sibling glue is optional and is left out when there is no room. */
        bool required = name_under(target, (size_t)tl, cut->name, cut->namelen);
        if (write_addresses(a, g, g->name, g->namelen) && required)
            return -1;
    }
    return 0;
}

/* Additional-section addresses for the in-zone targets of an NS, MX or SRV RRset in the answer
 * (RFC 1034 4.3.2 step 6): A and AAAA of names answered authoritatively (a wildcard synthesizes
 * them with the target as owner), and for NS also glue at or below a cut. Optional data: what
 * does not fit is left out without TC (RFC 2181 9). */
#define MAX_ADDITIONAL_TARGETS 16
static void write_additional(answer_ctx_t *a, const zone_t *z, const zone_rrset_t *rs)
{
    size_t skip;
    if (rs->type == DNS_TYPE_NS)
        skip = 0;
    else if (rs->type == DNS_TYPE_MX)
        skip = 2;
    else if (rs->type == DNS_TYPE_SRV)
        skip = 6;
    else
        return;
    uint8_t done[MAX_ADDITIONAL_TARGETS][DNS_MAX_NAME];
    uint8_t donelen[MAX_ADDITIONAL_TARGETS];
    unsigned ndone = 0;
    for (unsigned i = 0; i < rs->count && ndone < MAX_ADDITIONAL_TARGETS; i++) {
        const dns_rdata_t *rd = &rs->rdata[i];
        if (rd->len <= skip)
            continue;
        uint8_t *t = done[ndone];
        int tl = dns_name_len(rd->data + skip, rd->len - skip);
        if (tl <= 1)
            continue;
        memcpy(t, rd->data + skip, (size_t)tl);
        dns_name_lower(t, (size_t)tl);
        if (!name_under(t, (size_t)tl, z->apex, z->apexlen))
            continue;
        bool dup = false;
        for (unsigned j = 0; j < ndone && !dup; j++)
            dup = donelen[j] == tl && !memcmp(done[j], t, (size_t)tl);
        if (dup)
            continue;
        uint8_t offs[DNS_MAX_LABELS];
        unsigned nl = zone_name_labels(t, offs);
        const zone_node_t *n;
        zone_match_t m = zone_lookup(z, t, (size_t)tl, offs, nl, DNS_TYPE_A, &n);
        if (m == ZONE_MATCH_CUT && rs->type == DNS_TYPE_NS)
            n = zone_node_find(z, t, (size_t)tl); /* glue */
        else if (m != ZONE_MATCH_EXACT && m != ZONE_MATCH_WILDCARD)
            continue;
        if (!n)
            continue;
        donelen[ndone++] = (uint8_t)tl;
        if (write_addresses(a, n, t, (size_t)tl))
            return;
    }
}

/* DNAME substitution (RFC 6672 2.2): the DNAME, then a CNAME from the name to the name with the
 * DNAME owner replaced by its target, TTL of the DNAME. *name becomes the new name. Returns -1
 * when the answer does not fit, 1 when the new name is too long (YXDOMAIN), else 0. */
static int write_dname(answer_ctx_t *a, const zone_node_t *n, const uint8_t *name, size_t *namelen,
                       uint8_t *out)
{
    const zone_rrset_t *dn = zone_node_rrset(n, DNS_TYPE_DNAME);
    if (!dn || write_rrset(a->w, DNS_SEC_AN, n->name, n->namelen, dn, dn->ttl))
        return -1;
    const dns_rdata_t *rd = &dn->rdata[0];
    int tl = dns_name_len(rd->data, rd->len);
    size_t plen = *namelen - n->namelen;
    if (tl < 0 || plen + (size_t)tl > DNS_MAX_NAME)
        return 1;
    uint8_t target[DNS_MAX_NAME];
    memcpy(target, name, plen);
    memcpy(target + plen, rd->data, (size_t)tl);
    dns_rdata_t cn = {.data = target, .len = (uint16_t)(plen + (size_t)tl), .nnames = 1};
    if (dns_writer_rr(a->w, DNS_SEC_AN, name, *namelen, DNS_TYPE_CNAME, dn->ttl, &cn))
        return -1;
    memcpy(out, target, cn.len);
    *namelen = cn.len;
    dns_name_lower(out, *namelen);
    return 0;
}

/* ANY (RFC 8482): over UDP one RRset, over TCP all of them that fit in the 64 KiB message (a
 * subset is a valid ANY answer; truncation over TCP would send the client nowhere). */
static int write_any(answer_ctx_t *a, const zone_node_t *n, const uint8_t *owner, size_t olen)
{
    unsigned written = 0;
    for (unsigned i = 0; i < n->nrrsets; i++) {
        const zone_rrset_t *rs = &n->rrsets[i];
        if (rs->type == DNS_TYPE_NS && (n->flags & ZONE_NODE_CUT))
            continue;
        size_t len = a->w->len;
        uint16_t counts[4];
        memcpy(counts, a->w->counts, sizeof(counts));
        if (write_rrset(a->w, DNS_SEC_AN, owner, olen, rs, rs->ttl)) {
            if (!a->tcp)
                return -1;
            dns_writer_rewind(a->w, len, counts); /* this one does not fit: the next may */
            continue;
        }
        written++;
        if (!a->tcp)
            break;
    }
    return a->tcp && !written && n->nrrsets ? -1 : 0;
}

static bool src_is_loopback(const struct sockaddr *src)
{
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    int fam;
    const uint8_t *a = addr_sockaddr_bytes(src, &fam);
    if (!a)
        return false;
    return fam == AF_INET ? a[0] == 127 : !memcmp(a, one, 16);
}

static int answer_zone(answer_ctx_t *a, const zone_t *z)
{
    const dns_query_t *q = a->q;
    /* The name being answered: the (lower-case) qname until a CNAME or DNAME leads elsewhere,
     * then the copy in buf. Not copied up front: that copy was a measurable part of a query. */
    const uint8_t *name = q->qname;
    const uint8_t *offs = q->label_off;
    size_t namelen = q->qname_len;
    unsigned nlabels = q->qname_labels;
    uint8_t buf[DNS_MAX_NAME];
    uint8_t buf_offs[DNS_MAX_LABELS];
    const zone_node_t *seen[MAX_CNAME_CHAIN + 1];
    unsigned nseen = 0;

    a->aa = true;
    /* Debugging over DNS: TXT _explain.<geo name>, for loopback clients, when enabled. */
    if (a->env->explain && a->env->geo && q->qtype == DNS_TYPE_TXT && nlabels > 1 && name[0] == 8 &&
        !memcmp(name + 1, "_explain", 8) && src_is_loopback(a->src)) {
        const uint8_t *rest = name + 9;
        uint8_t roffs[DNS_MAX_LABELS];
        unsigned rl = zone_name_labels(rest, roffs);
        const zone_node_t *n;
        zone_match_t m = zone_lookup(z, rest, namelen - 9, roffs, rl, DNS_TYPE_A, &n);
        if ((m == ZONE_MATCH_EXACT || m == ZONE_MATCH_WILDCARD) && n->geo)
            return georesp_explain_txt(a->env, q, a->src, n, name, namelen, a->w, &a->ecs_scope);
    }
    for (unsigned hop = 0;; hop++) {
        const zone_node_t *n;
        zone_match_t m = zone_lookup(z, name, namelen, offs, nlabels, q->qtype, &n);
        if (hop == 0 && (m == ZONE_MATCH_WILDCARD || m == ZONE_MATCH_DNAME || m == ZONE_MATCH_CUT))
            a->rrl_node = n;
        switch (m) {
        case ZONE_MATCH_CUT:
            if (hop == 0) {
                a->aa = false;
                return write_referral(a, z, n);
            }
            return 0; /* a chain into a delegation ends at the last CNAME */
        case ZONE_MATCH_NXDOMAIN:
            if (hop == 0)
                a->rrl_node = z->apex_node;
            a->rcode = DNS_RCODE_NXDOMAIN;
            return write_negative_soa(a, z);
        case ZONE_MATCH_DNAME: {
            for (unsigned i = 0; i < nseen; i++)
                if (seen[i] == n)
                    return 0; /* DNAME loop: each substitution once */
            seen[nseen++] = n;
            int r = write_dname(a, n, name, &namelen, buf);
            if (r < 0)
                return -1;
            if (r > 0) {
                a->rcode = DNS_RCODE_YXDOMAIN;
                return 0;
            }
            name = buf;
            if (hop + 1 >= MAX_CNAME_CHAIN || !name_under(name, namelen, z->apex, z->apexlen))
                return 0;
            nlabels = zone_name_labels(buf, buf_offs);
            offs = buf_offs;
            continue;
        }
        case ZONE_MATCH_EXACT:
        case ZONE_MATCH_WILDCARD:
            break;
        }
        for (unsigned i = 0; i < nseen; i++)
            if (seen[i] == n)
                return 0; /* CNAME loop: stop with what we have */
        seen[nseen++] = n;

        /* Geo names: per-client answers, unless static data of the asked type is there. */
        if (n->geo && !zone_node_rrset(n, q->qtype) && a->env->geo) {
            const uint8_t *target = NULL;
            size_t targetlen = 0;
            int r = georesp_answer(a->env, q, a->src, n, name, namelen, a->w, &a->rcode,
                                   &a->ecs_scope, &target, &targetlen);
            if (r < 0)
                return -1;
            if (r == GEORESP_NODATA)
                return write_negative_soa(a, z);
            if (r == GEORESP_DONE || hop + 1 >= MAX_CNAME_CHAIN)
                return 0;
            memcpy(buf, target, targetlen);
            namelen = targetlen;
            dns_name_lower(buf, namelen);
            name = buf;
            if (!name_under(name, namelen, z->apex, z->apexlen))
                return 0;
            nlabels = zone_name_labels(buf, buf_offs);
            offs = buf_offs;
            continue;
        }
        if (q->qtype == DNS_TYPE_ANY) {
            if (n->nrrsets == 0)
                return write_negative_soa(a, z);
            return write_any(a, n, name, namelen);
        }
        const zone_rrset_t *rs = zone_node_rrset(n, q->qtype);
        if (rs) {
            if (write_rrset(a->w, DNS_SEC_AN, name, namelen, rs, rs->ttl))
                return -1;
            write_additional(a, z, rs);
            return 0;
        }
        const zone_rrset_t *cn = zone_node_rrset(n, DNS_TYPE_CNAME);
        if (!cn)
            return write_negative_soa(a, z); /* NODATA */
        if (write_rrset(a->w, DNS_SEC_AN, name, namelen, cn, cn->ttl))
            return -1;
        if (hop + 1 >= MAX_CNAME_CHAIN)
            return 0;
        /* Follow the target when it is inside this zone (RFC 1034 4.3.2 step 3a). */
        const dns_rdata_t *rd = &cn->rdata[0];
        int tl = dns_name_len(rd->data, rd->len);
        if (tl < 0)
            return 0;
        memcpy(buf, rd->data, (size_t)tl);
        namelen = (size_t)tl;
        dns_name_lower(buf, namelen);
        name = buf;
        if (!name_under(name, namelen, z->apex, z->apexlen))
            return 0;
        nlabels = zone_name_labels(buf, buf_offs);
        offs = buf_offs;
    }
}

static size_t encode_options(answer_ctx_t *a, uint8_t *buf)
{
    const dns_query_t *q = a->q;
    size_t o = 0;
    if (q->has_ecs)
        o += dns_ecs_option(buf + o, q->ecs_family, q->ecs_source, a->ecs_scope, q->ecs_addr);
    if (q->nsid_req && a->env->nsid_len) {
        buf[o++] = 0;
        buf[o++] = DNS_OPT_NSID;
        buf[o++] = (uint8_t)(a->env->nsid_len >> 8);
        buf[o++] = (uint8_t)a->env->nsid_len;
        memcpy(buf + o, a->env->nsid, a->env->nsid_len);
        o += a->env->nsid_len;
    }
    if (q->has_cookie && a->env->cookie_secret) {
        /* RFC 7873 5.2: the client cookie and our server cookie; a valid, recent server
         * cookie is echoed as it came, anything else gets a fresh one. */
        uint32_t now = (uint32_t)time(NULL);
        bool refresh = false;
        buf[o++] = 0;
        buf[o++] = DNS_OPT_COOKIE;
        buf[o++] = 0;
        buf[o++] = 8 + COOKIE_SERVER_LEN;
        memcpy(buf + o, q->cookie, 8);
        a->cookie_valid = q->cookie_len == 8 + COOKIE_SERVER_LEN &&
                          cookie_check(a->env->cookie_secret, q->cookie, q->cookie + 8,
                                       COOKIE_SERVER_LEN, a->src, now, &refresh);
        if (a->cookie_valid && !refresh)
            memcpy(buf + o + 8, q->cookie + 8, COOKIE_SERVER_LEN);
        else
            cookie_make(a->env->cookie_secret, q->cookie, a->src, now, buf + o + 8);
        o += 8 + COOKIE_SERVER_LEN;
    }
    if (q->keepalive_req && a->tcp) {
        buf[o++] = 0;
        buf[o++] = DNS_OPT_KEEPALIVE;
        buf[o++] = 0;
        buf[o++] = 2;
        buf[o++] = (uint8_t)(a->env->keepalive >> 8);
        buf[o++] = (uint8_t)a->env->keepalive;
    }
    return o;
}

/* Upper bound of encode_options() before the answer is known. */
static size_t options_size(const query_env_t *env, const dns_query_t *q, bool tcp)
{
    size_t n = 0;
    if (q->has_ecs)
        n += 8 + ((size_t)q->ecs_source + 7) / 8;
    if (q->nsid_req && env->nsid_len)
        n += 4 + env->nsid_len;
    if (q->keepalive_req && tcp)
        n += 6;
    if (q->has_cookie && env->cookie_secret)
        n += 4 + 8 + COOKIE_SERVER_LEN;
    return n;
}

/* A header-only error reply: only the header is trusted, id, opcode and RD are echoed. */
static size_t reply_header_only(const uint8_t *pkt, uint8_t *out, uint8_t rcode)
{
    uint16_t flags = (uint16_t)(((pkt[2] << 8) | pkt[3]) & (DNS_OPCODE_MASK | DNS_FLAG_RD));
    dns_writer_t w;
    dns_writer_init(&w, out, DNS_HDR_LEN, (uint16_t)((pkt[0] << 8) | pkt[1]),
                    (uint16_t)(flags | DNS_FLAG_QR));
    return dns_writer_finish(&w, 0, rcode);
}

/* One answered query in the thread's counters (qtype 0 when the question was not parsed). */
static void count_query(const query_env_t *env, bool tcp, uint16_t qtype, unsigned rcode, bool tc)
{
    metrics_counters_t *c = env->counters;
    if (!c)
        return;
    unsigned t = tcp ? METRICS_TCP : METRICS_UDP;
    metrics_inc(&c->queries[t][metrics_qtype_index(qtype)][metrics_rcode_index(rcode)]);
    if (tc)
        metrics_inc(&c->truncated);
}

/* The rate-limiting class of a finished response. */
static uint8_t response_class(unsigned rcode, const dns_writer_t *w, bool aa)
{
    if (rcode == DNS_RCODE_NXDOMAIN)
        return RRL_NXDOMAIN;
    if (rcode != DNS_RCODE_NOERROR)
        return RRL_ERROR;
    if (w->counts[DNS_SEC_AN])
        return RRL_ANSWER;
    return !aa && w->counts[DNS_SEC_NS] ? RRL_REFERRAL : RRL_NODATA;
}

bool query_is_transfer(const uint8_t *pkt, size_t len)
{
    /* Nearly every TCP query is not a transfer: its question's type says so without the whole
     * parse (which query_process does next). Only a question of type AXFR or IXFR, or one the
     * walk below cannot read, goes on to the parse that decides. */
    if (len < DNS_HDR_LEN || pkt[4] != 0 || pkt[5] != 1)
        return false; /* not exactly one question: never a transfer (dns_query_parse: FORMERR) */
    size_t off = DNS_HDR_LEN;
    while (off < len && pkt[off] && pkt[off] <= 63)
        off += (size_t)pkt[off] + 1;
    if (off + 3 <= len && pkt[off] == 0) {
        uint16_t qtype = (uint16_t)((pkt[off + 1] << 8) | pkt[off + 2]);
        if (qtype != DNS_TYPE_AXFR && qtype != DNS_TYPE_IXFR)
            return false;
    }
    dns_query_t q;
    return dns_query_parse(pkt, len, &q) == DNS_PARSE_OK && q.opcode == 0 && q.has_question &&
           (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR);
}

size_t query_process(const query_env_t *env, const uint8_t *pkt, size_t len, uint8_t *out,
                     size_t outcap, unsigned flags, const struct sockaddr *src)
{
    query_meta_t meta;
    return query_process_meta(env, pkt, len, out, outcap, flags, src, &meta);
}

size_t query_process_meta(const query_env_t *env, const uint8_t *pkt, size_t len, uint8_t *out,
                          size_t outcap, unsigned flags, const struct sockaddr *src,
                          query_meta_t *meta)
{
    *meta = (query_meta_t){.rrl_class = RRL_ERROR, .qend = DNS_HDR_LEN};
    dns_query_t q;
    dns_parse_result_t pr = dns_query_parse(pkt, len, &q);
    bool tcp = flags & QUERY_TCP;
    if (pr == DNS_PARSE_DROP) {
        if (env->counters)
            metrics_inc(&env->counters->dropped[tcp ? METRICS_TCP : METRICS_UDP]);
        return 0;
    }
    if (pr == DNS_PARSE_FORMERR && q.opcode != 0) {
        /* An opcode we do not implement is NOTIMP whatever else is in the message (a header
         * alone, no question, several): RFC 1035 4.1.1. */
        count_query(env, tcp, 0, DNS_RCODE_NOTIMP, false);
        return reply_header_only(pkt, out, DNS_RCODE_NOTIMP);
    }
    if (pr == DNS_PARSE_FORMERR && !q.opt_formerr) {
        count_query(env, tcp, 0, DNS_RCODE_FORMERR, false);
        return reply_header_only(pkt, out, DNS_RCODE_FORMERR);
    }
    if (pr == DNS_PARSE_FORMERR || (tcp && q.keepalive_bad)) {
        count_query(env, tcp, q.qtype, DNS_RCODE_FORMERR, false);
        /* A bad option in a good OPT: FORMERR with the question and an OPT, so the client
         * does not take it for a server without EDNS (RFC 6891 7). */
        dns_writer_t fw;
        dns_writer_init(
            &fw, out, outcap < 512 ? outcap : 512, q.id,
            (uint16_t)(DNS_FLAG_QR | (q.flags & (DNS_OPCODE_MASK | DNS_FLAG_RD | DNS_FLAG_CD))));
        dns_writer_question(&fw, &q);
        meta->qend = (uint16_t)fw.len;
        meta->opt_off = (uint16_t)fw.len;
        dns_writer_opt(&fw, env->udp_size, 0, q.edns_do, NULL, 0);
        return dns_writer_finish(&fw, 0, DNS_RCODE_FORMERR);
    }
    size_t limit;
    if (tcp)
        limit = 65535;
    else if (q.has_opt)
        limit = q.udp_size < 512 ? 512 : q.udp_size > env->udp_size ? env->udp_size : q.udp_size;
    else
        limit = 512;
    if (limit > outcap)
        limit = outcap;

    /* A query signed with TSIG (a secondary's SOA check): verified here, answered signed, or
     * NOTAUTH with the TSIG error (RFC 8945 5.2). Only messages with more additional records
     * than their OPT are looked at. */
    tsig_check_t ts;
    ts.present = false;
    bool tsig_bad = false; /* a malformed or misplaced TSIG RR: FORMERR (RFC 8945 5.1) */
    size_t arcount = ((size_t)pkt[10] << 8) | pkt[11];
    if (arcount > (q.has_opt ? 1u : 0u)) {
        if (tsig_verify(xfr_tsig_key, env->xfr_keys, pkt, len, (uint64_t)time(NULL), &ts)) {
            ts.present = false;
            tsig_bad = true;
        }
    }
    /* Room for our TSIG RR: the request's key and algorithm names, fixed fields, a MAC. */
    size_t reserve =
        ts.present ? (size_t)ts.keynamelen + ts.algnamelen + 26 + TSIG_MAC_MAX + TSIG_OTHER_MAX : 0;
    if (reserve > limit / 2) {
        ts.present = false; /* absurdly long names: answered unsigned */
        reserve = 0;
    }
    limit -= reserve;

    uint16_t hflags =
        (uint16_t)(DNS_FLAG_QR | (q.flags & (DNS_OPCODE_MASK | DNS_FLAG_RD | DNS_FLAG_CD)));
    dns_writer_t w;
    size_t optmax = q.has_opt ? 11 + options_size(env, &q, tcp) : 0;
    dns_writer_init(&w, out, limit - optmax, q.id, hflags);
    answer_ctx_t a = {.env = env, .q = &q, .w = &w, .tcp = tcp, .src = src};

    if (tsig_bad) {
        a.rcode = DNS_RCODE_FORMERR;
        dns_writer_question(&w, &q);
    } else if (ts.present && ts.error != TSIG_NOERROR) {
        a.rcode = DNS_RCODE_NOTAUTH;
        dns_writer_question(&w, &q);
    } else if (q.opcode != 0) {
        a.rcode = DNS_RCODE_NOTIMP;
        dns_writer_question(&w, &q);
    } else if (q.has_opt && q.edns_version > 0) {
        a.rcode = DNS_RCODE_BADVERS;
        dns_writer_question(&w, &q);
    } else if (dns_writer_question(&w, &q)) {
        a.rcode = DNS_RCODE_FORMERR; /* cannot happen: the question fits in 512 */
    } else if (q.qclass != DNS_CLASS_IN) {
        a.rcode = DNS_RCODE_REFUSED;
    } else {
        const zone_t *z =
            zone_set_find(env->zones, q.qname, q.qname_len, q.label_off, q.qname_labels);
        /* DS at a zone apex is the parent's data: answer it from the parent if we have it. */
        if (z && q.qtype == DNS_TYPE_DS && z->apexlen == q.qname_len && q.qname_labels > 0) {
            uint8_t offs[DNS_MAX_LABELS];
            const uint8_t *pn = q.qname + q.qname[0] + 1;
            unsigned pl = zone_name_labels(pn, offs);
            const zone_t *parent =
                zone_set_find(env->zones, pn, q.qname_len - q.qname[0] - 1u, offs, pl);
            if (parent)
                z = parent;
        }
        if (!z) {
            a.rcode = DNS_RCODE_REFUSED;
        } else if (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR) {
            a.rcode = DNS_RCODE_REFUSED; /* transfers go over TCP only (xfr.c) */
        } else {
            size_t qend = w.len;
            uint16_t qcounts[4];
            memcpy(qcounts, w.counts, sizeof(qcounts));
            if (answer_zone(&a, z)) {
                /* Did not fit: header, question and OPT only, with TC (RFC 2181 9). Over TCP
                 * there is no larger message to retry with (an RRset of more than 64 KiB):
                 * SERVFAIL, never TC, which would send the client to TCP where it already is. */
                dns_writer_rewind(&w, qend, qcounts);
                if (tcp) {
                    a.rcode = DNS_RCODE_SERVFAIL;
                    a.aa = false; /* no authoritative data in it */
                } else
                    a.tc = true;
            }
        }
    }

    w.limit = limit;
    meta->qend = (uint16_t)(DNS_HDR_LEN + (w.counts[DNS_SEC_QD] ? q.qname_len + 4u : 0u));
    meta->rrl_class = response_class(a.rcode, &w, a.aa);
    if (q.has_opt) {
        meta->opt_off = (uint16_t)w.len;
        uint8_t opts[512];
        size_t olen = encode_options(&a, opts);
        dns_writer_opt(&w, env->udp_size, (uint8_t)(a.rcode >> 4), q.edns_do, opts, olen);
    }
    bool aa_rcode = a.rcode <= DNS_RCODE_NXDOMAIN || a.rcode == DNS_RCODE_YXDOMAIN;
    uint16_t fl = (uint16_t)((a.aa && aa_rcode ? DNS_FLAG_AA : 0) | (a.tc ? DNS_FLAG_TC : 0));
    count_query(env, tcp, q.qtype, a.rcode, a.tc);
    meta->cookie_valid = a.cookie_valid;
    meta->tsig_signed = ts.present;
    if (a.rrl_node) {
        meta->rrl_owner = a.rrl_node->name;
        meta->rrl_owner_len = a.rrl_node->namelen;
    }
    size_t rlen = dns_writer_finish(&w, fl, (uint8_t)(a.rcode & 0xF));
    if (ts.present) {
        uint64_t now = (uint64_t)time(NULL);
        if (ts.error != TSIG_NOERROR) {
            tsig_append_error(&ts, q.id, out, &rlen, limit + reserve, now);
        } else {
            uint8_t mac[TSIG_MAC_MAX];
            size_t ml;
            tsig_sign(ts.key, out, &rlen, limit + reserve, ts.mac, ts.maclen, false, now, mac, &ml);
        }
    }
    return rlen;
}
