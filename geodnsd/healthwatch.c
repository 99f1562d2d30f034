/* healthwatch.c: the health watcher on geodnsd's main loop: state-file directory scans, the
 * overrides file, the combiner, and publishing health snapshots. */
#include "healthwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "georesp.h"
#include "log.h"

/* Rescan (stat only for unchanged files) and recompute this often: ramps (slow start, drain),
 * ages (max_age) and expiries move with time, and a missed file event costs at most this. */
#define HEALTHWATCH_TICK_MS 500
/* Coalesce a burst of directory events (a rename is several) into one recomputation. */
#define HEALTHWATCH_EVENT_DELAY_MS 20

void gd_health_ref(gd_health_t *h)
{
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
}

void gd_health_unref(gd_health_t *h)
{
    if (h && atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        route_table_free(h->table);
        free(h);
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int gd_health_compute_once(const gd_snapshot_t *s, const char *health_dir, double now,
                           void (*warn)(void *ctx, const char *msg), void *ctx,
                           route_health_t *view, health_report_t *report, char *err, size_t errlen)
{
    const gd_config_t *c = &s->cfg;
    return health_view_once(s->geo->pops, &c->health, health_dir ? health_dir : c->health_dir,
                            c->overrides_path, now, warn, ctx, view, report, err, errlen);
}

/* ------------------------------------------------------------------ the watcher */

struct gd_healthwatch {
    uv_loop_t *loop;
    gd_healthwatch_cb_t cb;
    uv_timer_t tick;
    uv_timer_t event_delay;
    uv_fs_event_t ev;
    bool ev_active;
    char *ev_path;
    gd_snapshot_t *snap; /* the config health is computed for (a reference) */
    health_dir_t *dir;
    health_ctl_t *ctl;
    health_overrides_t *ov;
    health_file_key_t ov_key;
    bool ov_missing;
    route_health_t view;
    uint64_t published_cfg; /* config generation of the last published snapshot */
    struct table_job *job;  /* the merged table being built on the thread pool, or NULL */
    bool rebuild;           /* the view changed again while job was running */
    uint64_t view_seq;      /* counts the views computed */
    uint64_t view_gen;      /* generation of the last view computed: its tables publish with it */
    uint64_t state_seq;     /* view_seq of the last view published at once (see publish) */
    health_report_t report;
    bool have_report;
    char mode[96];
    size_t nlogged;
    char logged_name[POPS_MAX][POPS_NAME_MAX];
    uint8_t logged_state[POPS_MAX];
};

static void hw_warn(void *ctx, const char *msg)
{
    (void)ctx;
    log_warn("%s", msg);
}

/* Reload the overrides file when it changed; a bad file keeps the last good overrides. */
static void overrides_refresh(gd_healthwatch_t *hw, bool config_changed)
{
    const char *path = hw->snap->cfg.overrides_path;
    const pops_t *pops = hw->snap->geo->pops;
    if (!path) {
        health_overrides_free(hw->ov);
        hw->ov = NULL;
        return;
    }
    struct stat st;
    if (stat(path, &st)) {
        if (!hw->ov_missing)
            log_warn("overrides %s: %s (no overrides in force)", path, strerror(errno));
        hw->ov_missing = true;
        memset(&hw->ov_key, 0, sizeof(hw->ov_key));
        health_overrides_free(hw->ov);
        hw->ov = NULL;
        return;
    }
    hw->ov_missing = false;
    health_file_key_t k;
    health_file_key_of(&st, &k);
    if (!config_changed && health_file_key_eq(&k, &hw->ov_key))
        return;
    hw->ov_key = k;
    health_overrides_t *ov = NULL;
    char err[512];
    if (health_overrides_load(path, pops, &ov, err, sizeof(err))) {
        if (config_changed) {
            /* PoP indices may have moved: the old overrides cannot be kept. */
            health_overrides_free(hw->ov);
            hw->ov = NULL;
            log_error("%s (no overrides in force until it is fixed)", err);
        } else {
            log_error("%s (the last good overrides stay in force)", err);
        }
        return;
    }
    health_overrides_free(hw->ov);
    hw->ov = ov;
    log_info("overrides %s: %zu in force", path, ov->n);
}

/* The merged prefix tables for a view are built off the main loop and off the query path, on
 * the thread pool, after the new view itself is published without tables (answers ranked per
 * client), so a health change or a reloaded config takes effect at once and the tables (widest
 * scopes, cheapest answers) follow when built. The tables complete the view they were built
 * for: they are published with that view's generation, so one change is one generation.
 *
 * A view superseded by a change of state or config (a PoP or address up or down, a drain, a
 * short TTL, a PoP past its high watermark, a reload) has its build cancelled (the build checks
 * job.cancel every few thousand trie nodes and every ranking) and the newest view is built as
 * soon as the cancelled build returns; shutdown cancels it too, so neither waits out a build
 * that can take seconds. Any other move of the capacity shares is not published at once but
 * with its tables, and does not cancel the running build (whose view has the same states):
 * with load readings every second and a build of several seconds (a big database, many PoPs),
 * cancelling at every reading would leave the answers without tables for good. Those shares
 * reach the answers one build late. Start-up is no different: the first view answers at once,
 * and a SIGTERM during the first build stops it like any other. */
typedef struct table_job {
    uv_work_t req;
    gd_healthwatch_t *hw; /* NULL once the watcher stopped */
    gd_snapshot_t *snap;  /* a reference */
    gd_health_t *h;
    uint64_t seq;       /* hw->view_seq of the view it is built for */
    uint64_t gen;       /* that view's generation */
    atomic_bool cancel; /* set on the main loop: superseded, or shutting down */
    int rc;
    double ms;
    char err[256];
} table_job_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void table_log(const gd_health_t *h, int rc, double ms, const char *err)
{
    if (rc) {
        log_error("%s%s; answering without merged tables (ranking per client)",
                  err[0] ? "" : "cannot build the merged tables: ",
                  err[0] ? err : strerror(rc < 0 ? -rc : ENOMEM));
        return;
    }
    route_table_stats_t st;
    route_table_stats(h->table, &st);
    log_info("geo tables: %zu for %zu locations (%zu places ranked), %zu nodes, %zu answers, "
             "%zu KiB, built in %.0f ms",
             st.tables, st.locations, st.ranked, st.nodes, st.answers, st.bytes / 1024, ms);
}

static gd_health_t *health_new(gd_healthwatch_t *hw)
{
    gd_health_t *h = calloc(1, sizeof(*h));
    if (!h) {
        log_error("health: out of memory; the previous health view stays in use");
        return NULL;
    }
    atomic_init(&h->refs, 1);
    h->cfg_generation = hw->snap->generation;
    h->view = hw->view;
    h->view.table = NULL;
    return h;
}

static void job_start(gd_healthwatch_t *hw, bool cancel_running);

/* The build, on a thread-pool thread. */
static void job_work(uv_work_t *req)
{
    table_job_t *j = req->data;
    double t0 = now_ms();
    route_table_t *t = NULL;
    j->h->view.table = NULL;
    j->rc = geo_table_build(j->snap->geo, &j->h->view, &j->cancel, &t, j->err, sizeof(j->err));
    if (!j->rc) {
        j->h->table = t;
        j->h->view.table = t;
    }
    j->ms = now_ms() - t0;
}

static void job_done(uv_work_t *req, int status)
{
    table_job_t *j = req->data;
    gd_healthwatch_t *hw = j->hw;
    if (hw)
        hw->job = NULL;
    if (status == UV_ECANCELED || j->rc == -ECANCELED)
        log_info("geo table build for generation %" PRIu64 " cancelled after %.0f ms (%s)", j->gen,
                 status == UV_ECANCELED ? 0.0 : j->ms,
                 !hw ? "shutting down" : "superseded by a change of health state or config");
    /* Published unless a change of state or config came after its view (then that change is
     * published already and its own build follows); newer share-only views follow it. */
    if (hw && status == 0 && j->rc != -ECANCELED && hw->snap == j->snap &&
        j->seq >= hw->state_seq) {
        table_log(j->h, j->rc, j->ms, j->err);
        j->h->generation = j->gen;
        j->h->tables_done = true;
        hw->cb.publish(hw->cb.ctx, j->h);
    } else {
        gd_health_unref(j->h); /* a newer state or config is published: built next */
    }
    gd_snapshot_unref(j->snap);
    free(j);
    if (hw && hw->rebuild) {
        hw->rebuild = false;
        job_start(hw, false);
    }
}

static void job_start(gd_healthwatch_t *hw, bool cancel_running)
{
    if (hw->job) {
        /* The running build is for an older view; the newest is built when it returns. After a
         * change of state or config its tables would be dropped anyway (job_done): stop it;
         * until the newer ones are built, the published view answers ranked per client. */
        if (cancel_running)
            atomic_store_explicit(&hw->job->cancel, true, memory_order_relaxed);
        hw->rebuild = true;
        return;
    }
    table_job_t *j = calloc(1, sizeof(*j));
    gd_health_t *h = j ? health_new(hw) : NULL;
    if (!h) {
        free(j);
        return;
    }
    atomic_init(&j->cancel, false);
    j->hw = hw;
    j->h = h;
    j->seq = hw->view_seq;
    j->gen = hw->view_gen;
    j->snap = hw->snap;
    gd_snapshot_ref(j->snap);
    j->req.data = j;
    /* debug: with load readings every second a health change is routine; "geo tables: ..."
     * says when the build is done. */
    log_debug("geo table build for generation %" PRIu64 " started", j->gen);
    if (uv_queue_work(hw->loop, &j->req, job_work, job_done)) {
        /* No thread pool: build here. */
        job_work(&j->req);
        hw->job = j;
        job_done(&j->req, 0);
        return;
    }
    hw->job = j;
}

/* Publish hw->view under a new generation. After a change of state or config (at_once) it
 * answers at once, ranked per client (no merged table yet: scopes are the matched networks,
 * narrower, never wider), and its tables follow from the thread pool under the same generation.
 * A change of the capacity shares alone is published with its tables (see table_job_t). */
static void publish(gd_healthwatch_t *hw, bool at_once)
{
    hw->published_cfg = hw->snap->generation;
    hw->view_seq++;
    hw->view_gen = hw->cb.next_generation(hw->cb.ctx);
    if (!at_once) {
        job_start(hw, false);
        return;
    }
    hw->state_seq = hw->view_seq;
    gd_health_t *h = health_new(hw);
    if (h) {
        h->generation = hw->view_gen;
        hw->cb.publish(hw->cb.ctx, h);
    }
    job_start(hw, true);
}

/* Whether view b must answer at once rather than with its tables: it differs from a in what
 * decides which PoPs and addresses may answer and with what TTL (health states, overrides,
 * drains, short TTLs), or a PoP stops taking new clients (its share, or its part of other PoPs'
 * shed clients, falls to 0: past its high watermark). Other moves of the shares, weights and
 * loads can wait for their tables. */
static bool view_urgent(const route_health_t *a, const route_health_t *b)
{
    if (memcmp(a->up, b->up, sizeof(a->up)) || memcmp(a->addr4, b->addr4, sizeof(a->addr4)) ||
        memcmp(a->addr6, b->addr6, sizeof(a->addr6)) ||
        memcmp(a->short_ttl, b->short_ttl, sizeof(a->short_ttl)) || a->ttl_short != b->ttl_short ||
        a->spill != b->spill)
        return true;
    for (size_t i = 0; i < POPS_MAX; i++)
        if ((a->keep[i] && !b->keep[i]) || (a->weight[i] && !b->weight[i]))
            return true;
    return false;
}

/* After a reload PoP indices may have moved: carry the logged states over by name. PoPs the
 * reload added are marked in added (logged whatever their state), those it removed are logged
 * here; the first config adds nothing (its PoPs are the start's). */
static void logged_remap(gd_healthwatch_t *hw, const pops_t *pops, bool added[POPS_MAX])
{
    uint8_t state[POPS_MAX] = {0};
    bool kept[POPS_MAX] = {false};
    for (size_t i = 0; i < pops->npops && i < POPS_MAX; i++) {
        added[i] = hw->nlogged > 0;
        for (size_t j = 0; j < hw->nlogged; j++)
            if (!strcmp(pops->pop[i].name, hw->logged_name[j])) {
                state[i] = hw->logged_state[j];
                added[i] = false;
                kept[j] = true;
                break;
            }
    }
    for (size_t j = 0; j < hw->nlogged; j++)
        if (!kept[j])
            log_info("PoP %s: removed by the reload", hw->logged_name[j]);
    hw->nlogged = pops->npops < POPS_MAX ? pops->npops : POPS_MAX;
    for (size_t i = 0; i < hw->nlogged; i++)
        snprintf(hw->logged_name[i], sizeof(hw->logged_name[i]), "%s", pops->pop[i].name);
    memcpy(hw->logged_state, state, sizeof(state));
}

/* Log what an operator wants to see: mode changes, and PoPs changing state (a PoP of the first
 * config is logged only when it is down; one a reload adds or removes, always). */
static void log_changes(gd_healthwatch_t *hw, bool config_changed)
{
    const health_report_t *r = &hw->report;
    if (r->mode && strcmp(r->mode, hw->mode)) {
        log_info("health: %s", r->mode);
        snprintf(hw->mode, sizeof(hw->mode), "%s", r->mode);
    }
    const pops_t *pops = hw->snap->geo->pops;
    bool added[POPS_MAX] = {false};
    if (config_changed)
        logged_remap(hw, pops, added);
    for (size_t i = 0; i < hw->nlogged; i++) {
        uint8_t st = (uint8_t)r->pop[i].state;
        if (added[i])
            log_info("PoP %s: added by the reload, %s (%s)%s", pops->pop[i].name,
                     health_state_name(r->pop[i].state), r->pop[i].why,
                     r->pop[i].slow_start < 1 ? "; slow start" : "");
        else if (st != hw->logged_state[i] &&
                 (hw->logged_state[i] != HEALTH_UNKNOWN || st == HEALTH_DOWN))
            log_info("PoP %s: %s (%s)", pops->pop[i].name, health_state_name(r->pop[i].state),
                     r->pop[i].why);
        hw->logged_state[i] = st;
    }
}

static void compute(gd_healthwatch_t *hw, bool config_changed)
{
    if (!hw->snap || !hw->snap->geo)
        return;
    const gd_config_t *c = &hw->snap->cfg;
    const health_file_t *const *files = NULL;
    size_t nfiles =
        c->health_dir ? health_dir_scan(hw->dir, c->health_dir, hw_warn, hw, &files) : 0;
    overrides_refresh(hw, config_changed);
    route_health_t view;
    memset(&view, 0, sizeof(view));
    bool changed = health_ctl_update(hw->ctl, hw->snap->geo->pops, &c->health, files, nfiles,
                                     hw->ov, now_seconds(), &view, &hw->report);
    hw->have_report = true;
    log_changes(hw, config_changed);
    bool cfg = config_changed || hw->published_cfg != hw->snap->generation;
    if (changed || cfg) {
        bool at_once = cfg || view_urgent(&hw->view, &view);
        hw->view = view;
        publish(hw, at_once);
    }
}

static void on_tick(uv_timer_t *t)
{
    compute(t->data, false);
}

static void on_event_delay(uv_timer_t *t)
{
    compute(t->data, false);
}

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)filename;
    (void)events;
    (void)status;
    gd_healthwatch_t *hw = h->data;
    uv_timer_start(&hw->event_delay, on_event_delay, HEALTHWATCH_EVENT_DELAY_MS, 0);
}

/* Watch the state-file directory for new and renamed files (the tick rescans anyway). */
static void watch_dir(gd_healthwatch_t *hw, const char *path)
{
    if (hw->ev_path && path && !strcmp(hw->ev_path, path))
        return;
    if (hw->ev_active)
        uv_fs_event_stop(&hw->ev);
    hw->ev_active = false;
    free(hw->ev_path);
    hw->ev_path = NULL;
    if (!path || !(hw->ev_path = strdup(path)))
        return;
    hw->ev_active = uv_fs_event_start(&hw->ev, on_dir_event, path, 0) == 0;
}

int gd_healthwatch_start(uv_loop_t *loop, const gd_healthwatch_cb_t *cb, gd_healthwatch_t **out)
{
    gd_healthwatch_t *hw = calloc(1, sizeof(*hw));
    if (!hw)
        return -ENOMEM;
    hw->loop = loop;
    hw->cb = *cb;
    if (!(hw->dir = health_dir_new()) || !(hw->ctl = health_ctl_new())) {
        health_dir_free(hw->dir);
        health_ctl_free(hw->ctl);
        free(hw);
        return -ENOMEM;
    }
    uv_timer_init(loop, &hw->tick);
    uv_timer_init(loop, &hw->event_delay);
    uv_fs_event_init(loop, &hw->ev);
    hw->tick.data = hw->event_delay.data = hw->ev.data = hw;
    uv_timer_start(&hw->tick, on_tick, HEALTHWATCH_TICK_MS, HEALTHWATCH_TICK_MS);
    *out = hw;
    return 0;
}

void gd_healthwatch_config(gd_healthwatch_t *hw, gd_snapshot_t *snap)
{
    gd_snapshot_ref(snap);
    if (hw->snap)
        gd_snapshot_unref(hw->snap);
    hw->snap = snap;
    watch_dir(hw, snap->geo ? snap->cfg.health_dir : NULL);
    compute(hw, true);
}

const health_report_t *gd_healthwatch_report(const gd_healthwatch_t *hw)
{
    return hw->have_report ? &hw->report : NULL;
}

static void hw_closed(uv_handle_t *h)
{
    (void)h;
}

void gd_healthwatch_stop(gd_healthwatch_t *hw)
{
    if (!hw)
        return;
    if (hw->job) {
        /* Cancel it: a queued job is not run; a running build stops at its next check, frees
         * what it made, and its job_done (on the loop's closing turn) frees the rest. */
        hw->job->hw = NULL;
        atomic_store_explicit(&hw->job->cancel, true, memory_order_relaxed);
        (void)uv_cancel((uv_req_t *)&hw->job->req);
    }
    hw->job = NULL;
    hw->rebuild = false;
    uv_timer_stop(&hw->tick);
    uv_timer_stop(&hw->event_delay);
    uv_close((uv_handle_t *)&hw->tick, hw_closed);
    uv_close((uv_handle_t *)&hw->event_delay, hw_closed);
    uv_close((uv_handle_t *)&hw->ev, hw_closed);
}

void gd_healthwatch_free(gd_healthwatch_t *hw)
{
    if (!hw)
        return;
    free(hw->ev_path);
    health_overrides_free(hw->ov);
    health_ctl_free(hw->ctl);
    health_dir_free(hw->dir);
    if (hw->snap)
        gd_snapshot_unref(hw->snap);
    free(hw);
}
