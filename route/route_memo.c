/* route_memo.c: the per-worker memo of routing decisions: fixed size, direct-mapped, keyed by
 * location record, policy, snapshot generation and family; a hit is re-picked for the client's
 * hash. */
#include <stdbool.h>
#include <stdlib.h>

#include "hash.h"
#include "route.h"

typedef struct memo_slot {
    bool used;
    route_memo_key_t key;
    route_decision_t dec;
} memo_slot_t;

struct route_memo {
    size_t mask;
    uint64_t hits, misses;
    memo_slot_t slot[];
};

route_memo_t *route_memo_new(size_t slots)
{
    size_t n = 16;
    while (n < slots && n < ((size_t)1 << 30))
        n <<= 1;
    route_memo_t *m = calloc(1, sizeof(*m) + n * sizeof(memo_slot_t));
    if (!m)
        return NULL;
    m->mask = n - 1;
    return m;
}

void route_memo_free(route_memo_t *memo)
{
    free(memo);
}

static size_t memo_index(const route_memo_t *m, const route_memo_key_t *k)
{
    uint64_t x = k->loc ^ ((uint64_t)k->policy << 32) ^
                 ((uint64_t)k->generation * 0x9e3779b97f4a7c15u) ^ ((uint64_t)k->family << 56);
    return (size_t)hash_mix64(x) & m->mask;
}

static bool key_eq(const route_memo_key_t *a, const route_memo_key_t *b)
{
    return a->loc == b->loc && a->policy == b->policy && a->generation == b->generation &&
           a->family == b->family;
}

bool route_memo_get(route_memo_t *memo, const route_memo_key_t *key, uint32_t hash,
                    const route_health_t *health, route_decision_t *out)
{
    const memo_slot_t *s = &memo->slot[memo_index(memo, key)];
    if (!s->used || !key_eq(&s->key, key)) {
        memo->misses++;
        return false;
    }
    memo->hits++;
    *out = s->dec;
    route_decision_pick(out, hash, health);
    return true;
}

void route_memo_put(route_memo_t *memo, const route_memo_key_t *key, const route_decision_t *dec)
{
    memo_slot_t *s = &memo->slot[memo_index(memo, key)];
    s->used = true;
    s->key = *key;
    s->dec = *dec;
}

void route_memo_stats(const route_memo_t *memo, uint64_t *hits, uint64_t *misses)
{
    *hits = memo->hits;
    *misses = memo->misses;
}
