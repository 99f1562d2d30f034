/* route_select.c: what a ranked decision answers for one client: the client hash over its /24
 * or /48, the pick (tie band rotated by hash, share kept by the nearest, shed clients spread by
 * headroom), the addresses, TTL and ECS scope of the answer. Query path: never allocates. */
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "hash.h"
#include "route.h"
#include "route_int.h"

/* ---------------------------------------------------------------- client hash */

uint8_t route_hash_prefix(int family, const uint8_t *addr, unsigned prefix)
{
    if (family == AF_INET)
        return (uint8_t)(prefix < ROUTE_HASH_V4 ? prefix : ROUTE_HASH_V4);
    if (addr_v4mapped(addr))
        return (uint8_t)(prefix < 96 + ROUTE_HASH_V4 ? prefix : 96 + ROUTE_HASH_V4);
    return (uint8_t)(prefix < ROUTE_HASH_V6 ? prefix : ROUTE_HASH_V6);
}

uint32_t route_client_hash(int family, const uint8_t *addr, unsigned prefix)
{
    prefix = route_hash_prefix(family, addr, prefix);
    unsigned max = 32;
    if (family == AF_INET6) {
        if (addr_v4mapped(addr)) {
            addr += 12;
            prefix = prefix >= 96 ? prefix - 96 : 0;
        } else {
            max = 128;
        }
    }
    uint32_t h = HASH_FNV32_OFFSET;
    h = (h ^ (max == 32 ? 4u : 6u)) * HASH_FNV32_PRIME;
    h = (h ^ prefix) * HASH_FNV32_PRIME;
    for (unsigned i = 0; i < max / 8; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
        h = (h ^ (uint8_t)(addr[i] & mask)) * HASH_FNV32_PRIME;
    }
    /* Final avalanche so that hash % small_n depends on every byte. */
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

uint8_t route_scope(uint8_t source_prefix, uint8_t matched_prefix)
{
    return source_prefix < matched_prefix ? source_prefix : matched_prefix;
}

/* ---------------------------------------------------------------- pick */

/* floor(u x total / 2^32): a uniform 32-bit u mapped onto [0, total), exactly, for any total up
 * to ROUTE_CAND_MAX weights of UINT32_MAX (2^37), where u x total itself would pass 64 bits. */
static inline uint64_t scale32(uint32_t u, uint64_t total)
{
    return (uint64_t)u * (total >> 32) + ((uint64_t)u * (total & 0xffffffffu) >> 32);
}

/* Append p to the answer unless it is there already. */
static void pick_add(route_decision_t *dec, uint16_t p, const route_health_t *h)
{
    for (unsigned i = 0; i < dec->n; i++)
        if (dec->pop[i] == p)
            return;
    dec->pop[dec->n++] = p;
    if (h && h->short_ttl[p])
        dec->short_ttl = true;
}

void route_decision_pick(route_decision_t *dec, uint32_t hash, const route_health_t *health)
{
    dec->n = 0;
    dec->hashed = dec->shed = dec->short_ttl = false;
    if (dec->outcome != ROUTE_OUT_POOL && dec->outcome != ROUTE_OUT_FALLBACK_POOL)
        return;
    unsigned want = dec->answers ? dec->answers : 1;
    /* The ranked order for this client: the tie band rotated by its hash, then the rest. */
    uint16_t order[ROUTE_CAND_MAX];
    unsigned n = 0;
    if (dec->ntie > 0) {
        unsigned start = dec->ntie > 1 ? hash % dec->ntie : 0;
        for (unsigned i = 0; i < dec->ntie; i++)
            order[n++] = dec->cand[(start + i) % dec->ntie];
        dec->hashed = dec->ntie > 1;
    }
    for (unsigned j = dec->ntie; j < dec->ncand; j++)
        order[n++] = dec->cand[j];
    if (!n)
        return;
    if (!health || dec->full) {
        /* No shares to apply (no health view, or the overflow answer: least loaded first). */
        for (unsigned i = 0; i < n && dec->n < want; i++)
            pick_add(dec, order[i], health);
        return;
    }
    /* The nearest keeps the client when its hash falls inside the share it keeps. */
    uint16_t first = order[0];
    uint32_t u = hash_mix32(hash, first) >> 16;
    if (health->keep[first] < ROUTE_SHARE_ONE)
        dec->hashed = true;
    if (u < health->keep[first]) {
        pick_add(dec, first, health);
    } else {
        /* Shed: spread over the next `spill` PoPs that take clients, in proportion to their
         * weight (headroom), never all onto the next nearest. */
        unsigned spill = health->spill ? health->spill : 1;
        uint16_t tgt[ROUTE_CAND_MAX];
        uint64_t total = 0;
        unsigned nt = 0;
        for (unsigned i = 1; i < n && nt < spill; i++)
            if (health->weight[order[i]] > 0) {
                tgt[nt++] = order[i];
                total += health->weight[order[i]];
            }
        if (nt) {
            dec->shed = true;
            uint64_t x = scale32(hash_mix32(hash, 0xffffu), total);
            unsigned k = 0;
            while (k + 1 < nt && x >= health->weight[tgt[k]]) {
                x -= health->weight[tgt[k]];
                k++;
            }
            pick_add(dec, tgt[k], health);
        } else {
            pick_add(dec, first, health); /* nobody else has room: the nearest still serves */
        }
    }
    /* Further answers (answers > 1): the rest in ranked order, those taking clients first. */
    for (unsigned i = 0; i < n && dec->n < want; i++)
        if (route_takes_clients(health, order[i]))
            pick_add(dec, order[i], health);
    for (unsigned i = 0; i < n && dec->n < want; i++)
        pick_add(dec, order[i], health);
}

/* ---------------------------------------------------------------- answer */

size_t route_pop_addresses(const pops_pop_t *p, const route_health_t *h, size_t idx, int family,
                           unsigned limit, const uint8_t **out)
{
    size_t n = family == AF_INET ? p->n4 : family == AF_INET6 ? p->n6 : 0, k = 0;
    uint16_t mask = !h ? 0xffffu : family == AF_INET ? h->addr4[idx] : h->addr6[idx];
    for (size_t j = 0; j < n && (!limit || k < limit); j++)
        if (mask & (1u << j))
            out[k++] = family == AF_INET ? p->v4[j] : p->v6[j];
    return k;
}

uint32_t route_answer_ttl(const route_policy_t *pol, const route_decision_t *dec,
                          const route_health_t *h)
{
    if (h && dec->short_ttl && h->ttl_short < pol->ttl)
        return h->ttl_short;
    return pol->ttl;
}

uint8_t route_answer_scope(uint8_t source_prefix, uint8_t matched_prefix, uint8_t hash_prefix,
                           const route_decision_t *dec)
{
    (void)source_prefix;
    uint8_t scope = matched_prefix;
    if (dec->hashed && hash_prefix > scope)
        scope = hash_prefix;
    return scope;
}
