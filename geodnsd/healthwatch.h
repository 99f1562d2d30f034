/* healthwatch.h: geodnsd's health input: reads the vantages' state files and the overrides file,
 * combines them for the current config (health library) and hands immutable health snapshots
 * to the workers. Everything here runs on the main loop; workers only read gd_health_t. */
#ifndef GEODNSD_HEALTHWATCH_H
#define GEODNSD_HEALTHWATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "health.h"
#include "snapshot.h"

/* One immutable, reference-counted health snapshot: the view the router reads, for the config
 * snapshot whose generation is cfg_generation (PoP indices are that config's). */
typedef struct gd_health {
    atomic_uint refs;
    /* From the daemon's counter, shared with config snapshots: one per health change (a new
     * view, or a view for a reloaded config). The view's merged tables, published later as a
     * snapshot of their own, carry the generation of the view they complete. */
    uint64_t generation;
    uint64_t cfg_generation;   /* the config snapshot it was computed for */
    route_health_t view;       /* view.table is table */
    struct route_table *table; /* the merged prefix tables built for view, or NULL */
    bool tables_done;          /* published by the table build (tables, or the build's error) */
} gd_health_t;

void gd_health_ref(gd_health_t *h);
void gd_health_unref(gd_health_t *h);

/* Compute a health view once, from the files as they are now (geodnsd explain). health_dir
 * overrides the config's. What the server would warn about in the directory (a state file that
 * does not parse and is left out, a directory that cannot be read) goes to warn (may be NULL).
 * Returns 0, or -EINVAL with err set when the overrides file is bad (the view is then computed
 * without it). */
int gd_health_compute_once(const gd_snapshot_t *s, const char *health_dir, double now,
                           void (*warn)(void *ctx, const char *msg), void *ctx,
                           route_health_t *view, health_report_t *report, char *err, size_t errlen);

typedef struct gd_healthwatch gd_healthwatch_t;

/* publish(ctx, h) receives a new snapshot with one reference for the callee; next_generation
 * gives a generation from the daemon's counter. */
typedef struct gd_healthwatch_cb {
    void (*publish)(void *ctx, gd_health_t *h);
    uint64_t (*next_generation)(void *ctx);
    void *ctx;
} gd_healthwatch_cb_t;

int gd_healthwatch_start(uv_loop_t *loop, const gd_healthwatch_cb_t *cb, gd_healthwatch_t **out);

/* A config snapshot is about to be published: compute and publish its health first (so that a
 * worker taking the config finds the matching health already there). Also (re)starts watching
 * the config's health dir and overrides file. The health is published at once without merged
 * prefix tables; they follow from the thread pool under the same generation (published again,
 * tables_done set). A config without geo names publishes nothing. */
void gd_healthwatch_config(gd_healthwatch_t *hw, gd_snapshot_t *snap);

/* The latest report (for explain and metrics), or NULL before the first computation. */
const health_report_t *gd_healthwatch_report(const gd_healthwatch_t *hw);

/* Stop watching; the handles close on the loop's next turn. */
void gd_healthwatch_stop(gd_healthwatch_t *hw);

/* Free after gd_healthwatch_stop and a loop turn that ran the close callbacks. */
void gd_healthwatch_free(gd_healthwatch_t *hw);

#endif
