/* answerer.h: what a thread that answers queries (a UDP thread, a worker's TCP loop) owns: its
 * references to the current config snapshot and the health snapshot computed for it, the query
 * environment taken from both, its own route memo and geo answer cache, and the mailboxes the
 * main loop publishes new snapshots into. */
#ifndef GEODNSD_ANSWERER_H
#define GEODNSD_ANSWERER_H

#include <stdatomic.h>

#include "georesp.h"
#include "healthwatch.h"
#include "metrics.h"
#include "query.h"
#include "route.h"
#include "snapshot.h"

typedef struct answerer {
    gd_snapshot_t *snap;
    gd_health_t *health; /* matches snap (same config generation), or NULL */
    gd_health_t *next;   /* arrived before its config: waits for it */
    query_env_t env;
    route_memo_t *memo;
    geo_cache_t *cache;
    metrics_counters_t *counters; /* this thread's, summed by the main loop */
    /* Published by the main loop, taken by the thread between two queries (answerer_poll). */
    _Atomic(gd_snapshot_t *) pending;
    _Atomic(gd_health_t *) pending_health;
} answerer_t;

/* Serve snap (a reference of its own is taken), counting into counters. 0 or -ENOMEM. */
int answerer_init(answerer_t *a, gd_snapshot_t *s, metrics_counters_t *counters);
/* Drop every reference, the pending ones too, and free the memo and cache. */
void answerer_deinit(answerer_t *a);

/* The owning thread: take what was published since the last look. Returns true when the config
 * snapshot changed. One relaxed-cost atomic load each when nothing was. */
bool answerer_poll(answerer_t *a);

/* The main loop: hand a config and/or health snapshot (either may be NULL) to the thread; it
 * gets its own reference; an untaken earlier one is dropped. Health first (see server.h). */
void answerer_publish(answerer_t *a, gd_snapshot_t *snap, gd_health_t *health);

#endif
