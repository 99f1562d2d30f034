/* reload.c: geodnsd's reload on SIGHUP or file change: the watches on the files a load read, and
 * the load on a thread of its own whose snapshot the daemon publishes. */
#include "reload.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"

#define WATCH_INTERVAL_MS  1000
#define RELOAD_DEBOUNCE_MS 300
#define PATH_TEXT_MAX      1024                 /* a watched file's path as logged */
#define WHY_MAX            (PATH_TEXT_MAX + 16) /* a request: "PATH changed" */
#define JOB_WHY_MAX        (WHY_MAX + 48)       /* a reload: "WHY, and N more requests" */

/* A file a load read, as it was just before: a later change makes its stat differ. */
typedef struct read_file {
    char *path;
    size_t order; /* the order it was read in: of two reads of one path, the first counts */
    bool stated;  /* stat succeeded (else it was missing or unreadable) */
    struct stat st;
} read_file_t;

/* The files a load read, sorted by path once the load is over (gd_read_files_done). */
struct gd_read_files {
    read_file_t *v;
    size_t n, room;
};

typedef struct reload_job reload_job_t;

/* The file watches of one snapshot, in one allocation with its handles. */
typedef struct watch_set {
    size_t n;
    size_t open; /* handles not yet closed, once the set is being closed */
    uv_fs_poll_t w[];
} watch_set_t;

struct gd_reload {
    uv_loop_t *loop;
    const char *config_path;
    gd_overrides_t ov;
    gd_reload_cb_t cb;
    const gd_snapshot_t *serving; /* the last one published (the daemon's): its files are watched */
    uv_timer_t reload_timer;
    watch_set_t *watches; /* NULL: none (out of memory) */
    /* The files the load of the serving snapshot read, and those the last failed reload read
     * (watched too, so fixing a new broken file reloads): as each was when read, so that a
     * change between the read and the start of its watch is not lost. */
    gd_read_files_t *read, *failed_read;
    char changed[PATH_TEXT_MAX]; /* the file whose change triggered the pending reload */
    /* The reload in progress (its load runs on a thread of its own), or NULL; a request during
     * it sets reload_again (one more reload after it, whatever the number of requests). */
    reload_job_t *job;
    uv_async_t reload_done; /* the load thread's "finished" */
    bool reload_again;
    char again_why[WHY_MAX]; /* the first request queued */
    unsigned again_more;     /* and how many more were merged with it */
    bool stopping;
};

gd_read_files_t *gd_read_files_new(void)
{
    return calloc(1, sizeof(gd_read_files_t));
}

void gd_read_files_free(gd_read_files_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    free(l);
}

void gd_read_files_seen(void *ctx, const char *path)
{
    gd_read_files_t *l = ctx;
    if (grow_for(&l->v, &l->room, l->n, sizeof(*l->v), 16))
        return; /* not recorded: its watch starts from the file as it is then */
    read_file_t *f = &l->v[l->n];
    if (!(f->path = strdup(path)))
        return;
    f->order = l->n++;
    f->stated = stat(path, &f->st) == 0;
}

static int read_file_cmp(const void *a, const void *b)
{
    const read_file_t *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

void gd_read_files_done(gd_read_files_t *l)
{
    if (l && l->n)
        qsort(l->v, l->n, sizeof(*l->v), read_file_cmp);
}

/* path's first record in l (sorted), or NULL. */
static const read_file_t *read_file_find(const gd_read_files_t *l, const char *path)
{
    if (!l)
        return NULL;
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(l->v[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->n && !strcmp(l->v[lo].path, path) ? &l->v[lo] : NULL;
}

static void on_reload_timer(uv_timer_t *t);

static void watch_closed(uv_handle_t *h)
{
    (void)h;
}

static void unwatch(gd_reload_t *r)
{
    for (size_t i = 0; r->watches && i < r->watches->n; i++)
        uv_close((uv_handle_t *)&r->watches->w[i], watch_closed);
}

static void on_file_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                           const uv_stat_t *curr)
{
    (void)curr;
    /* A file missing (or unreadable) since its watch started: libuv reports that once at the
     * start. The load the watch follows found it so too (it failed for it, or did not need it),
     * so a reload would only fail again, and its new watch report it again: a reload every
     * debounce for as long as the file is missing. Its creation is reported as a change. */
    if (status < 0 && prev->st_ino == 0 && prev->st_mtim.tv_sec == 0 && prev->st_mtim.tv_nsec == 0)
        return;
    gd_reload_t *r = h->data;
    size_t len = sizeof(r->changed);
    if (uv_fs_poll_getpath(h, r->changed, &len))
        snprintf(r->changed, sizeof(r->changed), "a watched file");
    /* Debounce: editors and `cp` write in several steps. */
    uv_timer_start(&r->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}

static bool timespec_eq(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A file changed after the load read it but before its watch started: the watch takes the file
 * as it is now, so it would never see that change. Reload for it, as for a change the watch
 * reports. The file is compared with its stat from just before the load read it, not its change
 * time with a clock: the kernel dates changes by its coarse clock (the last tick), so a change
 * made just after a load began could be dated before it (measured: 39 of 1,000 writes made
 * right after reading the precise clock, by up to 1.8 ms). What this cannot see is a rewrite
 * in place, to the same size, within one tick of the read. */
static void changed_while_read(gd_reload_t *r, const char *path)
{
    const read_file_t *f = read_file_find(r->failed_read, path);
    if (!f && !(f = read_file_find(r->read, path)))
        return; /* not recorded (no memory): the watch starts from the file as it is */
    struct stat st;
    bool stated = stat(path, &st) == 0;
    if (stated == f->stated &&
        (!stated ||
         (st.st_dev == f->st.st_dev && st.st_ino == f->st.st_ino && st.st_size == f->st.st_size &&
          timespec_eq(&st.st_mtim, &f->st.st_mtim) && timespec_eq(&st.st_ctim, &f->st.st_ctim))))
        return;
    snprintf(r->changed, sizeof(r->changed), "%s", path);
    uv_timer_start(&r->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}

/* Watch the serving snapshot's files and the failed reload's. check: look for changes made
 * since they were read (not when a reload that reads every file anew is about to start). */
static void watch(gd_reload_t *r, bool check)
{
    const gd_config_t *c = &r->serving->cfg;
    size_t nfailed = r->failed_read ? r->failed_read->n : 0;
    size_t n = c->nfiles + (c->zone_dir ? 1 : 0) + nfailed;
    watch_set_t *set = calloc(1, sizeof(*set) + n * sizeof(set->w[0]));
    if (!set) {
        log_warn("cannot watch config files: out of memory");
        return;
    }
    set->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *path = i < c->nfiles                     ? c->files[i]
                           : (c->zone_dir && i == c->nfiles) ? c->zone_dir
                                                             : r->failed_read->v[n - 1 - i].path;
        uv_fs_poll_init(r->loop, &set->w[i]);
        set->w[i].data = r;
        uv_fs_poll_start(&set->w[i], on_file_change, path, WATCH_INTERVAL_MS);
        if (check)
            changed_while_read(r, path);
    }
    r->watches = set;
}

/* libuv runs close callbacks in no promised order: the set goes with the last one. */
static void watch_set_closed(uv_handle_t *h)
{
    watch_set_t *set = h->data;
    if (--set->open == 0)
        free(set);
}

/* Re-arm the file watches for the current snapshot's files (and those of a failed reload). The
 * old set is freed once its handles have closed; closing needs no memory, so none is leaked. */
static void rewatch(gd_reload_t *r, bool check)
{
    watch_set_t *old = r->watches;
    r->watches = NULL;
    if (old && old->n) {
        old->open = old->n;
        for (size_t i = 0; i < old->n; i++) {
            uv_fs_poll_stop(&old->w[i]);
            old->w[i].data = old;
            uv_close((uv_handle_t *)&old->w[i], watch_set_closed);
        }
    } else {
        free(old);
    }
    watch(r, check);
}

/* A reload reads every file again: seconds of CPU for a zone of a million records. The load
 * runs on a thread of its own, niced (that thread only), so that on a busy machine the UDP and
 * TCP threads keep the CPU they need to answer on time, while the main loop goes on serving
 * health changes, metrics, the status page, signals and file events. When the load is done an
 * async wakes the main loop, which has the daemon publish the new snapshot (reload_finish). One
 * load at a time: requests during one (SIGHUP, file changes) make exactly one more reload after
 * it, which reads the files as they are then. SIGTERM cancels the load at its next file. */
#define RELOAD_NICE     10
#define RELOAD_STACK_SZ (8u << 20)

struct reload_job {
    gd_reload_t *r;
    uv_thread_t thread;
    bool threaded;      /* thread was started (else the load ran on the main loop) */
    gd_overrides_t ov;  /* the daemon's, with this job's file observer and cancel flag */
    atomic_bool cancel; /* set by SIGTERM: the load stops at its next file */
    atomic_bool done;   /* set by the thread when the load is over, before the async */
    char why[JOB_WHY_MAX];
    struct timespec t0;
    gd_read_files_t *read; /* the files the load read */
    gd_snapshot_t *s;
    int rc;
    char err[1024];
};

static void reload_load(reload_job_t *j)
{
    j->rc = gd_snapshot_load(j->r->config_path, &j->ov, 0, &j->s, j->err, sizeof(j->err));
}

static void reload_thread(void *arg)
{
    reload_job_t *j = arg;
    /* Relative to the thread's inherited nice value (the service may run niced already). */
    id_t tid = (id_t)gettid();
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, tid, cur + RELOAD_NICE > 19 ? 19 : cur + RELOAD_NICE);
    reload_load(j);
    gd_read_files_done(j->read);
    atomic_store(&j->done, true);
    uv_async_send(&j->r->reload_done);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Take the job off the reloader: wait for its thread (finished, or stopping at its next file
 * once cancelled) and free what it holds (a loaded snapshot included). */
static void reload_job_free(reload_job_t *j)
{
    if (j->threaded)
        uv_thread_join(&j->thread);
    if (j->s)
        gd_snapshot_unref(j->s);
    gd_read_files_free(j->read);
    free(j);
}

static void reload_start(gd_reload_t *r, const char *why);

/* The load is done (main loop): have the daemon publish its snapshot, or keep the old one on
 * failure. Then run the reload requested meanwhile, if any. */
static void reload_finish(gd_reload_t *r)
{
    reload_job_t *j = r->job;
    if (j->threaded)
        uv_thread_join(&j->thread);
    j->threaded = false;
    r->job = NULL;
    gd_read_files_free(r->failed_read);
    r->failed_read = NULL;
    if (j->rc) {
        r->cb.failed(r->cb.ctx);
        log_error("reload failed (%s), still serving generation %llu: %s", j->why,
                  (unsigned long long)r->serving->generation, j->err);
        r->failed_read = j->read; /* watched too: fixing the broken file reloads */
        j->read = NULL;
    } else {
        gd_snapshot_t *s = j->s;
        j->s = NULL;
        r->cb.publish(r->cb.ctx, s);
        r->serving = s;
        gd_read_files_free(r->read);
        r->read = j->read;
        j->read = NULL;
        log_info("reload ok (%s): generation %llu, %zu zones, %zu records, loaded in %.1f s",
                 j->why, (unsigned long long)s->generation, s->zones.nzones, gd_snapshot_records(s),
                 seconds_since(&j->t0));
    }
    reload_job_free(j);
    /* A queued reload below reads every file anew: no need to look for changes since this one. */
    rewatch(r, !(r->reload_again && !r->stopping));
    if (r->reload_again && !r->stopping) {
        char why[JOB_WHY_MAX];
        if (r->again_more)
            snprintf(why, sizeof(why), "%s, and %u more request%s", r->again_why, r->again_more,
                     r->again_more > 1 ? "s" : "");
        else
            snprintf(why, sizeof(why), "%s", r->again_why);
        r->reload_again = false;
        reload_start(r, why);
    }
}

static void on_reload_done(uv_async_t *h)
{
    gd_reload_t *r = h->data;
    /* Async sends coalesce, and one may arrive after its job was taken: look at the job. Once
     * stopping, the job is gd_reload_stop's (nothing is published during shutdown). */
    if (r->job && !r->stopping && atomic_load(&r->job->done))
        reload_finish(r);
}

static void reload_start(gd_reload_t *r, const char *why)
{
    reload_job_t *j = calloc(1, sizeof(*j));
    if (!j || !(j->read = gd_read_files_new())) {
        free(j);
        r->cb.failed(r->cb.ctx);
        log_error("reload failed (%s), still serving generation %llu: out of memory", why,
                  (unsigned long long)r->serving->generation);
        return;
    }
    j->r = r;
    j->ov = r->ov;
    j->ov.file_seen = gd_read_files_seen;
    j->ov.file_seen_ctx = j->read;
    atomic_init(&j->cancel, false);
    atomic_init(&j->done, false);
    j->ov.cancel = &j->cancel;
    snprintf(j->why, sizeof(j->why), "%s", why);
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    r->job = j;
    log_info("reload started (%s)", why);
    uv_thread_options_t topt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = RELOAD_STACK_SZ};
    if (uv_thread_create_ex(&j->thread, &topt, reload_thread, j) == 0) {
        j->threaded = true;
        return;
    }
    /* No thread to be had: load here, the main loop waiting, as a last resort. */
    reload_load(j);
    gd_read_files_done(j->read);
    reload_finish(r);
}

void gd_reload_request(gd_reload_t *r, const char *why)
{
    if (r->stopping)
        return;
    if (!r->job) {
        reload_start(r, why);
        return;
    }
    log_info("reload requested (%s) while one is running: %s", why,
             r->reload_again ? "merged with the one already queued" : "queued to run after it");
    if (r->reload_again) {
        r->again_more++;
    } else {
        r->reload_again = true;
        r->again_more = 0;
        snprintf(r->again_why, sizeof(r->again_why), "%s", why);
    }
}

static void on_reload_timer(uv_timer_t *t)
{
    gd_reload_t *r = t->data;
    char why[WHY_MAX];
    snprintf(why, sizeof(why), "%s changed", r->changed);
    gd_reload_request(r, why);
}

const char *gd_reload_cancel(gd_reload_t *r)
{
    r->stopping = true;
    if (!r->job)
        return NULL;
    atomic_store(&r->job->cancel, true);
    return r->job->why;
}

/* Cancel the reload in progress (its load stops at its next file), wait for its thread and free
 * what it loaded. */
static void reload_abort(gd_reload_t *r)
{
    reload_job_t *j = r->job;
    if (!j)
        return;
    r->job = NULL;
    atomic_store(&j->cancel, true);
    if (j->threaded)
        uv_thread_join(&j->thread);
    j->threaded = false;
    if (j->rc == -ECANCELED)
        log_info("reload (%s) cancelled: %s", j->why, j->err);
    else if (j->rc == 0)
        log_info("reload (%s) loaded but not published: stopping", j->why);
    else
        log_error("reload (%s) failed while stopping: %s", j->why, j->err);
    reload_job_free(j);
}

int gd_reload_new(uv_loop_t *loop, const char *config_path, const gd_overrides_t *ov,
                  const gd_snapshot_t *serving, gd_read_files_t *read, const gd_reload_cb_t *cb,
                  gd_reload_t **out)
{
    gd_reload_t *r = calloc(1, sizeof(*r));
    if (!r) {
        gd_read_files_free(read);
        return -ENOMEM;
    }
    r->loop = loop;
    r->config_path = config_path;
    r->ov = *ov;
    r->cb = *cb;
    r->serving = serving;
    r->read = read;
    /* The loop's first async takes a descriptor (its eventfd): refused under a low open-file
     * limit. The timer needs none, so it comes second. */
    int rc = uv_async_init(loop, &r->reload_done, on_reload_done);
    if (rc) {
        gd_read_files_free(read);
        free(r);
        return rc;
    }
    r->reload_done.data = r;
    uv_timer_init(loop, &r->reload_timer);
    r->reload_timer.data = r;
    watch(r, true);
    *out = r;
    return 0;
}

void gd_reload_stop(gd_reload_t *r)
{
    r->stopping = true;
    reload_abort(r);
    unwatch(r);
    uv_close((uv_handle_t *)&r->reload_timer, NULL);
    uv_close((uv_handle_t *)&r->reload_done, NULL);
}

void gd_reload_free(gd_reload_t *r)
{
    if (!r)
        return;
    free(r->watches);
    gd_read_files_free(r->read);
    gd_read_files_free(r->failed_read);
    free(r);
}
