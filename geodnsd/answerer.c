/* answerer.c: a query-answering thread's snapshots and the mailboxes they arrive in. */
#include "answerer.h"

#include <errno.h>

/* The environment from the config and its health: the cache generation is the newest of the
 * two, so it changes whenever either does (generations come from one counter). */
static void answerer_env(answerer_t *a)
{
    a->env = a->snap->env;
    a->env.memo = a->memo;
    a->env.cache = a->cache;
    a->env.counters = a->counters;
    if (a->health) {
        a->env.health = &a->health->view;
        a->env.generation = (uint32_t)a->health->generation;
    }
}

/* Small enough to stay in the CPU caches: 4096 decisions, 8192 answers of 48 bytes. */
int answerer_init(answerer_t *a, gd_snapshot_t *s, metrics_counters_t *counters)
{
    a->counters = counters;
    if (!(a->memo = route_memo_new(1 << 12)) || !(a->cache = geo_cache_new(1 << 13)))
        return -ENOMEM;
    gd_snapshot_ref(s);
    a->snap = s;
    answerer_env(a);
    return 0;
}

/* Swap to a new config snapshot (whose reference the caller hands over); drop the old one. A
 * health snapshot that was waiting for this config comes into force with it; one computed for
 * the old config cannot serve the new one (PoP indices may differ). */
static void answerer_take(answerer_t *a, gd_snapshot_t *s)
{
    gd_snapshot_t *old = a->snap;
    a->snap = s;
    if (a->next && a->next->cfg_generation == s->generation) {
        if (a->health)
            gd_health_unref(a->health);
        a->health = a->next;
        a->next = NULL;
    } else if (a->health && a->health->cfg_generation != s->generation) {
        gd_health_unref(a->health);
        a->health = NULL;
    }
    answerer_env(a);
    if (old)
        gd_snapshot_unref(old);
}

/* Take a new health snapshot (the caller hands over its reference). */
static void answerer_take_health(answerer_t *a, gd_health_t *h)
{
    gd_health_t **slot = h->cfg_generation == a->snap->generation ? &a->health : &a->next;
    if (*slot)
        gd_health_unref(*slot);
    *slot = h;
    answerer_env(a);
}

void answerer_deinit(answerer_t *a)
{
    route_memo_free(a->memo);
    geo_cache_free(a->cache);
    if (a->snap)
        gd_snapshot_unref(a->snap);
    if (a->health)
        gd_health_unref(a->health);
    if (a->next)
        gd_health_unref(a->next);
    gd_snapshot_t *p = atomic_exchange(&a->pending, NULL);
    if (p)
        gd_snapshot_unref(p);
    gd_health_t *h = atomic_exchange(&a->pending_health, NULL);
    if (h)
        gd_health_unref(h);
}

/* The config first, then health (published before its config, so seeing a config means its
 * health is visible too). */
bool answerer_poll(answerer_t *a)
{
    gd_snapshot_t *before = a->snap;
    if (atomic_load_explicit(&a->pending, memory_order_acquire)) {
        gd_snapshot_t *s = atomic_exchange(&a->pending, NULL);
        if (s)
            answerer_take(a, s);
    }
    if (atomic_load_explicit(&a->pending_health, memory_order_acquire)) {
        gd_health_t *h = atomic_exchange(&a->pending_health, NULL);
        if (h)
            answerer_take_health(a, h);
    }
    return a->snap != before;
}

void answerer_publish(answerer_t *a, gd_snapshot_t *snap, gd_health_t *health)
{
    if (health) {
        gd_health_ref(health);
        gd_health_t *old = atomic_exchange(&a->pending_health, health);
        if (old)
            gd_health_unref(old);
    }
    if (snap) {
        gd_snapshot_ref(snap);
        gd_snapshot_t *old = atomic_exchange(&a->pending, snap);
        if (old)
            gd_snapshot_unref(old);
    }
}
