/* main.c: geodnsd command line, start-up, signals, reload on SIGHUP or file change, shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "explain.h"
#include "georesp.h"
#include "healthwatch.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "server.h"
#include "snapshot.h"
#include "status.h"
#include "tcp.h"

#define GEODNSD_VERSION    "0.1.0"
#define WATCH_INTERVAL_MS  1000
#define RELOAD_DEBOUNCE_MS 300
#define RRL_LOG_MS         60000u
#define PATH_TEXT_MAX      1024                 /* a watched file's path as logged */
#define WHY_MAX            (PATH_TEXT_MAX + 16) /* a request: "PATH changed" */
#define JOB_WHY_MAX        (WHY_MAX + 48)       /* a reload: "WHY, and N more requests" */

/* Paths a load read, kept so that a failed reload also watches the file that broke it. */
typedef struct path_list {
    char **v;
    size_t n;
} path_list_t;

typedef struct reload_job reload_job_t;

typedef struct daemon {
    uv_loop_t *loop;
    const char *config_path;
    gd_overrides_t ov;
    gd_snapshot_t *snap;
    notifier_t *notifier; /* NOTIFY to secondaries after reloads that change a serial */
    gd_server_t *srv;
    gd_healthwatch_t *hw;
    uint64_t generation; /* shared by config and health snapshots */
    uv_signal_t sig_hup, sig_term, sig_int;
    uv_timer_t reload_timer;
    uv_timer_t rrl_timer;              /* logs what rate limiting did, once a minute */
    uint64_t rrl_dropped, rrl_slipped; /* the counters' sums at the last look */
    uv_fs_poll_t *watches;
    size_t nwatches;
    /* Files the last failed reload read: watched too, so fixing a new broken file reloads. */
    path_list_t seen;
    char changed[PATH_TEXT_MAX]; /* the file whose change triggered the pending reload */
    /* When the load whose files are watched began reading them: a watch starts from the file as
     * it is, so a file changed after this (ctime) may have changed after it was read. */
    struct timespec read_since;
    /* The reload in progress (its load runs on a thread of its own), or NULL; a request during
     * it sets reload_again (one more reload after it, whatever the number of requests). */
    reload_job_t *job;
    uv_async_t reload_done; /* the load thread's "finished" */
    bool reload_again;
    char again_why[WHY_MAX]; /* the first request queued */
    unsigned again_more;     /* and how many more were merged with it */
    bool stopping;
    bool ready; /* "geodnsd ready" logged: the first view's merged tables are built */
    /* The restart-only settings the server runs with (a reload cannot change them). */
    gd_listen_t run_listen[GD_MAX_LISTEN];
    size_t run_nlisten;
    unsigned run_workers;
    uint32_t run_tcp_max_conns;
    uint64_t run_tcp_idle_ms;
    char run_metrics[sizeof(((gd_listen_t *)0)->text)]; /* "" = no metrics listener */
    /* Metrics: PoP counter slots, the scrape's sum of the threads' counters, reload and health
     * history, and the listener serving them. */
    metrics_slots_t *slots;
    metrics_counters_t *sum;
    gd_status_t *status;
    int64_t start_time, last_reload_ok;
    uint64_t reloads_ok, reloads_failed;
    bool last_reload_failed; /* the newest reload failed: a broken file is being ignored */
    uint64_t health_generation, health_updates;
} daemon_t;

static void path_list_clear(path_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The load's file observer (on the load thread: it touches only its job's list). */
static void on_file_seen(void *ctx, const char *path)
{
    path_list_t *l = ctx;
    char **n = realloc(l->v, (l->n + 1) * sizeof(*n));
    if (!n)
        return;
    l->v = n;
    if ((l->v[l->n] = strdup(path)))
        l->n++;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: geodnsd -c CONFIG [--listen ADDR:PORT]... [--health-dir DIR]\n"
               "               [--metrics [ADDR:]PORT] [--check]\n"
               "       geodnsd explain -c CONFIG [--health-dir DIR] NAME IP[/PREFIX] [TYPE]\n"
               "\n"
               "  -c, --config FILE      server config (YAML); zones are named in it\n"
               "  -l, --listen ADDR:PORT listen here instead of the config's 'listen'\n"
               "                         (repeatable; IPv6 as [::1]:5353)\n"
               "      --health-dir DIR   read probe state files (healthcheck) from DIR instead\n"
               "                         of the config's health.dir\n"
               "      --metrics [ADDR:]PORT  serve /metrics (Prometheus), the status page (/)\n"
               "                         and /status.json here instead of the config's\n"
               "                         metrics.listen; a bare PORT means 127.0.0.1:PORT\n"
               "      --check            validate the config and every zone, print a summary\n"
               "                         per zone, exit 0 if all is well and 1 otherwise\n"
               "  -V, --version          print the version\n"
               "  -h, --help             this text\n"
               "\n"
               "explain: why a client gets the answer it gets for NAME: its location, every PoP\n"
               "with distance, health per vantage, load and share kept, the fallback step that\n"
               "answered, the ECS scope and TTL, and the reply itself. IP/PREFIX stands for an\n"
               "EDNS Client Subnet option (as `dig +subnet=IP/PREFIX` sends); a bare IP is the\n"
               "query's source address, with no ECS. TYPE defaults to A.\n"
               "  geodnsd explain -c zones/geodnsd.yaml video.cdn.example.test 192.0.2.1/24\n"
               "\n"
               "Signals: SIGHUP reloads (so does any change to a config or zone file; health\n"
               "state files and the overrides file apply within a second by themselves);\n"
               "SIGTERM and SIGINT stop.\n");
}

static void print_summary(const gd_snapshot_t *s)
{
    for (size_t i = 0; i < s->zones.nzones; i++) {
        const zone_t *z = s->zones.zones[i];
        char name[DNS_NAME_TEXT_MAX];
        dns_name_to_str(z->apex, name, sizeof(name));
        printf("zone %s: serial %u, %zu names, %zu records (%s)\n", name, z->serial, z->nnodes,
               z->nrecords, z->file);
    }
}

/* Give the snapshot's PoPs their answer counter slots (before it is published). */
static void map_slots(daemon_t *d, gd_snapshot_t *s)
{
    metrics_slots_map(d->slots, s->geo ? s->geo->pops : NULL, s->pop_slot);
    s->env.pop_slot = s->pop_slot;
}

static void collect_facts(void *ctx, metrics_facts_t *f)
{
    daemon_t *d = ctx;
    gd_server_counters(d->srv, d->sum);
    f->version = GEODNSD_VERSION;
    f->start_time = d->start_time;
    f->now = (int64_t)time(NULL);
    f->pops = d->snap->geo ? d->snap->geo->pops : NULL;
    f->report = gd_healthwatch_report(d->hw);
    f->pop_slot = d->snap->pop_slot;
    f->slots = d->slots;
    f->counters = d->sum;
    f->config_generation = d->snap->generation;
    f->reloads_ok = d->reloads_ok;
    f->reloads_failed = d->reloads_failed;
    f->last_reload_failed = d->last_reload_failed;
    f->last_reload_ok = d->last_reload_ok;
    f->health_generation = d->health_generation;
    f->health_updates = d->health_updates;
    f->transfers_held = tcp_transfers_held();
    f->transfers_max = d->snap->cfg.tcp_max_xfr;
    f->status_refused = gd_status_refused(d->status);
}

static void on_reload_timer(uv_timer_t *t);

static void watch_closed(uv_handle_t *h)
{
    (void)h;
}

static void unwatch(daemon_t *d)
{
    for (size_t i = 0; i < d->nwatches; i++)
        uv_close((uv_handle_t *)&d->watches[i], watch_closed);
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
    daemon_t *d = h->data;
    size_t len = sizeof(d->changed);
    if (uv_fs_poll_getpath(h, d->changed, &len))
        snprintf(d->changed, sizeof(d->changed), "a watched file");
    /* Debounce: editors and `cp` write in several steps. */
    uv_timer_start(&d->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}

/* The time file timestamps are compared with. A change before it has a ctime no later than it,
 * so a reload never repeats itself for one; a change in the same clock tick (file times may be
 * coarse, a few ms) as the start of the load can go unseen here, as it could before. */
static void read_stamp(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
}

/* A file changed after the load began reading it but before its watch started: the watch takes
 * the file as it is now, so it would never see that change. Reload for it, as for a change the
 * watch reports. */
static void changed_while_read(daemon_t *d, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (st.st_ctim.tv_sec < d->read_since.tv_sec ||
        (st.st_ctim.tv_sec == d->read_since.tv_sec && st.st_ctim.tv_nsec <= d->read_since.tv_nsec))
        return;
    /* A change time ahead of the clock (the clock was set back) says nothing about when the file
     * was read: taking it as a change would reload again after every reload until the clock
     * caught up. */
    struct timespec now;
    read_stamp(&now);
    if (st.st_ctim.tv_sec > now.tv_sec + 1)
        return;
    snprintf(d->changed, sizeof(d->changed), "%s", path);
    uv_timer_start(&d->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}

static void watch(daemon_t *d)
{
    /* The previous array is released once its handles have closed; keep it simple by leaking
     * nothing: handles are closed first and the array freed on the next loop turn. */
    const gd_config_t *c = &d->snap->cfg;
    size_t n = c->nfiles + (c->zone_dir ? 1 : 0) + d->seen.n;
    uv_fs_poll_t *w = calloc(n ? n : 1, sizeof(*w));
    if (!w) {
        log_warn("cannot watch config files: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *path = i < c->nfiles                     ? c->files[i]
                           : (c->zone_dir && i == c->nfiles) ? c->zone_dir
                                                             : d->seen.v[n - 1 - i];
        uv_fs_poll_init(d->loop, &w[i]);
        w[i].data = d;
        uv_fs_poll_start(&w[i], on_file_change, path, WATCH_INTERVAL_MS);
        changed_while_read(d, path);
    }
    d->watches = w;
    d->nwatches = n;
}

typedef struct watch_batch {
    uv_fs_poll_t *array;
    size_t left;
} watch_batch_t;

static void watch_batch_closed(uv_handle_t *h)
{
    watch_batch_t *b = h->data;
    if (--b->left == 0) {
        free(b->array);
        free(b);
    }
}

static void rewatch(daemon_t *d);

static void remember_running(daemon_t *d, const gd_config_t *c, unsigned workers)
{
    memcpy(d->run_listen, c->listen, sizeof(d->run_listen));
    d->run_nlisten = c->nlisten;
    d->run_workers = workers;
    d->run_tcp_max_conns = c->tcp_max_conns;
    d->run_tcp_idle_ms = c->tcp_idle_ms;
    snprintf(d->run_metrics, sizeof(d->run_metrics), "%s", c->has_metrics ? c->metrics.text : "");
}

/* Name each restart-only key whose new value differs from the one the server runs with (a value
 * edited back to the running one says nothing). */
static void warn_restart_only(const daemon_t *d, const gd_config_t *nc)
{
    bool listen_changed = d->run_nlisten != nc->nlisten;
    for (size_t i = 0; !listen_changed && i < nc->nlisten; i++)
        listen_changed = strcmp(d->run_listen[i].text, nc->listen[i].text) != 0;
    if (listen_changed)
        log_warn("listen changed in the config: takes effect on restart (still listening on %s%s)",
                 d->run_listen[0].text, d->run_nlisten > 1 ? " and more" : "");
    if (nc->workers && nc->workers != d->run_workers)
        log_warn("workers changed to %u in the config: takes effect on restart (running %u)",
                 nc->workers, d->run_workers);
    if (nc->tcp_max_conns != d->run_tcp_max_conns)
        log_warn("tcp.max_connections changed to %u in the config: takes effect on restart "
                 "(running %u)",
                 nc->tcp_max_conns, d->run_tcp_max_conns);
    if (nc->tcp_idle_ms != d->run_tcp_idle_ms)
        log_warn("tcp.idle_timeout changed to %llu ms in the config: takes effect on restart "
                 "(running %llu ms)",
                 (unsigned long long)nc->tcp_idle_ms, (unsigned long long)d->run_tcp_idle_ms);
    if (strcmp(nc->has_metrics ? nc->metrics.text : "", d->run_metrics))
        log_warn("metrics.listen changed in the config: takes effect on restart (%s%s)",
                 d->run_metrics[0] ? "serving metrics on " : "no metrics listener", d->run_metrics);
}

/* A reload reads every file again: seconds of CPU for a zone of a million records. The load
 * runs on a thread of its own, niced (that thread only), so that on a busy machine the UDP and
 * TCP threads keep the CPU they need to answer on time, while the main loop goes on serving
 * health changes, metrics, the status page, signals and file events. When the load is done an
 * async wakes the main loop, which publishes the new snapshot (reload_finish). One load at a
 * time: requests during one (SIGHUP, file changes) make exactly one more reload after it, which
 * reads the files as they are then. SIGTERM cancels the load at its next file. */
#define RELOAD_NICE     10
#define RELOAD_STACK_SZ (8u << 20)

struct reload_job {
    daemon_t *d;
    uv_thread_t thread;
    bool threaded;      /* thread was started (else the load ran on the main loop) */
    gd_overrides_t ov;  /* the daemon's, with this job's file observer and cancel flag */
    atomic_bool cancel; /* set by SIGTERM: the load stops at its next file */
    atomic_bool done;   /* set by the thread when the load is over, before the async */
    char why[JOB_WHY_MAX];
    struct timespec t0;
    struct timespec read_since; /* read_stamp() before the load read its first file */
    path_list_t seen;           /* the files the load read */
    gd_snapshot_t *s;
    int rc;
    char err[1024];
};

static void reload_load(reload_job_t *j)
{
    j->rc = gd_snapshot_load(j->d->config_path, &j->ov, 0, &j->s, j->err, sizeof(j->err));
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
    atomic_store(&j->done, true);
    uv_async_send(&j->d->reload_done);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Take the job off the daemon: wait for its thread (finished, or stopping at its next file
 * once cancelled) and free what it holds (a loaded snapshot included). */
static void reload_job_free(reload_job_t *j)
{
    if (j->threaded)
        uv_thread_join(&j->thread);
    if (j->s)
        gd_snapshot_unref(j->s);
    path_list_clear(&j->seen);
    free(j);
}

static void reload_start(daemon_t *d, const char *why);

/* The load is done (main loop): publish its snapshot, or keep the old one on failure. Then run
 * the reload requested meanwhile, if any. */
static void reload_finish(daemon_t *d)
{
    reload_job_t *j = d->job;
    if (j->threaded)
        uv_thread_join(&j->thread);
    j->threaded = false;
    d->job = NULL;
    path_list_clear(&d->seen);
    if (j->rc) {
        d->reloads_failed++;
        d->last_reload_failed = true;
        log_error("reload failed (%s), still serving generation %llu: %s", j->why,
                  (unsigned long long)d->snap->generation, j->err);
        d->seen = j->seen; /* watched too: fixing the broken file reloads */
        j->seen = (path_list_t){0};
    } else {
        gd_snapshot_t *s = j->s;
        j->s = NULL;
        gd_snapshot_set_generation(s, ++d->generation);
        const gd_config_t *nc = &s->cfg;
        warn_restart_only(d, nc);
        log_setup(nc->log_level, nc->syslog, "geodnsd");
        d->reloads_ok++;
        d->last_reload_failed = false;
        d->last_reload_ok = (int64_t)time(NULL);
        map_slots(d, s);
        /* Health for the new config first: a worker taking the config then finds its health
         * (answers from the new view at once; its merged tables follow from the thread pool). */
        gd_healthwatch_config(d->hw, s);
        gd_server_publish(d->srv, s, NULL);
        if (d->status)
            gd_status_set_allow(d->status, nc->metrics_allow, nc->n_metrics_allow);
        gd_snapshot_t *old = d->snap;
        d->snap = s;
        notify_changed(d->notifier, old, s);
        gd_snapshot_unref(old);
        size_t records = 0;
        for (size_t i = 0; i < s->zones.nzones; i++)
            records += s->zones.zones[i]->nrecords;
        log_info("reload ok (%s): generation %llu, %zu zones, %zu records, loaded in %.1f s",
                 j->why, (unsigned long long)s->generation, s->zones.nzones, records,
                 seconds_since(&j->t0));
    }
    d->read_since = j->read_since;
    if (d->reload_again && !d->stopping)
        read_stamp(&d->read_since); /* the queued reload below reads every file anew */
    reload_job_free(j);
    rewatch(d);
    if (d->reload_again && !d->stopping) {
        char why[JOB_WHY_MAX];
        if (d->again_more)
            snprintf(why, sizeof(why), "%s, and %u more request%s", d->again_why, d->again_more,
                     d->again_more > 1 ? "s" : "");
        else
            snprintf(why, sizeof(why), "%s", d->again_why);
        d->reload_again = false;
        reload_start(d, why);
    }
}

static void on_reload_done(uv_async_t *h)
{
    daemon_t *d = h->data;
    /* Async sends coalesce, and one may arrive after its job was taken: look at the job. Once
     * stopping, the job is reload_abort's (nothing is published during shutdown). */
    if (d->job && !d->stopping && atomic_load(&d->job->done))
        reload_finish(d);
}

static void reload_start(daemon_t *d, const char *why)
{
    reload_job_t *j = calloc(1, sizeof(*j));
    if (!j) {
        d->reloads_failed++;
        d->last_reload_failed = true;
        log_error("reload failed (%s), still serving generation %llu: out of memory", why,
                  (unsigned long long)d->snap->generation);
        return;
    }
    j->d = d;
    j->ov = d->ov;
    j->ov.file_seen = on_file_seen;
    j->ov.file_seen_ctx = &j->seen;
    atomic_init(&j->cancel, false);
    atomic_init(&j->done, false);
    j->ov.cancel = &j->cancel;
    snprintf(j->why, sizeof(j->why), "%s", why);
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    read_stamp(&j->read_since);
    d->job = j;
    log_info("reload started (%s)", why);
    uv_thread_options_t topt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = RELOAD_STACK_SZ};
    if (uv_thread_create_ex(&j->thread, &topt, reload_thread, j) == 0) {
        j->threaded = true;
        return;
    }
    /* No thread to be had: load here, the main loop waiting, as a last resort. */
    reload_load(j);
    reload_finish(d);
}

/* A SIGHUP or a file change: reload now, or once the reload in progress is done. */
static void reload_request(daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    if (!d->job) {
        reload_start(d, why);
        return;
    }
    log_info("reload requested (%s) while one is running: %s", why,
             d->reload_again ? "merged with the one already queued" : "queued to run after it");
    if (d->reload_again) {
        d->again_more++;
    } else {
        d->reload_again = true;
        d->again_more = 0;
        snprintf(d->again_why, sizeof(d->again_why), "%s", why);
    }
}

/* Shutdown: cancel the reload in progress (its load stops at its next file), wait for its
 * thread and free what it loaded. */
static void reload_abort(daemon_t *d)
{
    reload_job_t *j = d->job;
    if (!j)
        return;
    d->job = NULL;
    atomic_store(&j->cancel, true);
    if (j->threaded)
        uv_thread_join(&j->thread);
    j->threaded = false;
    if (j->rc == -ECANCELED)
        log_info("reload (%s) cancelled: %s", j->why, j->err);
    else if (j->rc == 0)
        log_info("reload (%s) loaded but not published: stopping", j->why);
    reload_job_free(j);
}

/* Re-arm the file watches for the current snapshot's files (and those of a failed reload). */
static void rewatch(daemon_t *d)
{
    uv_fs_poll_t *oldw = d->watches;
    size_t oldn = d->nwatches;
    d->watches = NULL;
    d->nwatches = 0;
    if (oldn) {
        /* libuv runs close callbacks in no promised order: the array goes with the last one. */
        watch_batch_t *b = malloc(sizeof(*b));
        if (b) {
            b->array = oldw;
            b->left = oldn;
        }
        for (size_t i = 0; i < oldn; i++) {
            uv_fs_poll_stop(&oldw[i]);
            oldw[i].data = b;
            uv_close((uv_handle_t *)&oldw[i], b ? watch_batch_closed : watch_closed);
        }
    } else {
        free(oldw);
    }
    watch(d);
}

/* What rate limiting did in the last minute, from the threads' counters: the UDP threads only
 * count (no logging on the query path). */
static void on_rrl_timer(uv_timer_t *t)
{
    daemon_t *d = t->data;
    static metrics_counters_t sum; /* large: off the main loop's stack */
    gd_server_counters(d->srv, &sum);
    uint64_t dropped = metrics_get(&sum.rrl_dropped), slipped = metrics_get(&sum.rrl_slipped);
    if (dropped != d->rrl_dropped || slipped != d->rrl_slipped)
        log_info("rrl: %llu responses dropped and %llu sent truncated in the last %u s",
                 (unsigned long long)(dropped - d->rrl_dropped),
                 (unsigned long long)(slipped - d->rrl_slipped), RRL_LOG_MS / 1000u);
    d->rrl_dropped = dropped;
    d->rrl_slipped = slipped;
}

static void on_reload_timer(uv_timer_t *t)
{
    daemon_t *d = t->data;
    char why[WHY_MAX];
    snprintf(why, sizeof(why), "%s changed", d->changed);
    reload_request(d, why);
}

static void on_sighup(uv_signal_t *h, int sig)
{
    (void)sig;
    reload_request(h->data, "SIGHUP");
}

/* "geodnsd ready": the answers are what the config says, merged tables (widest scopes)
 * included. The listeners answer from the start (ranked per client until the tables are built,
 * health already applied). */
static void log_ready(daemon_t *d)
{
    size_t records = 0;
    for (size_t i = 0; i < d->snap->zones.nzones; i++)
        records += d->snap->zones.zones[i]->nrecords;
    log_info("geodnsd ready: %zu zones, %zu records, %u workers", d->snap->zones.nzones, records,
             d->run_workers);
    d->ready = true;
}

static void on_health(void *ctx, gd_health_t *h)
{
    daemon_t *d = ctx;
    /* A view's merged tables come under the view's generation: one change, one update. */
    if (h->generation != d->health_generation)
        d->health_updates++;
    d->health_generation = h->generation;
    bool first_tables = !d->ready && h->tables_done;
    gd_server_publish(d->srv, NULL, h);
    gd_health_unref(h);
    if (first_tables)
        log_ready(d);
}

static uint64_t next_generation(void *ctx)
{
    return ++((daemon_t *)ctx)->generation;
}

static void on_sigterm(uv_signal_t *h, int sig)
{
    daemon_t *d = h->data;
    d->stopping = true;
    if (d->job) {
        atomic_store(&d->job->cancel, true);
        log_info("%s: stopping (the reload in progress (%s) is cancelled)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", d->job->why);
    } else {
        log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    uv_stop(d->loop);
}

int main(int argc, char **argv)
{
    daemon_t d = {0};
    bool check = false;
    bool explain = argc > 1 && !strcmp(argv[1], "explain");
    if (explain) {
        argv++;
        argc--;
    }
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
        {"check", no_argument, NULL, 'C'},         {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},          {"health-dir", required_argument, NULL, 'H'},
        {"metrics", required_argument, NULL, 'M'}, {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            d.config_path = optarg;
            break;
        case 'l':
            if (d.ov.nlisten == GD_MAX_LISTEN) {
                fprintf(stderr, "geodnsd: at most %d --listen\n", GD_MAX_LISTEN);
                return 2;
            }
            d.ov.listen[d.ov.nlisten++] = optarg;
            break;
        case 'C':
            check = true;
            break;
        case 'H':
            d.ov.health_dir = optarg;
            break;
        case 'M':
            d.ov.metrics = optarg;
            break;
        case 'V':
            printf("geodnsd %s\n", GEODNSD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (explain) {
        if (!d.config_path || argc - optind < 2 || argc - optind > 3) {
            usage(stderr);
            return 2;
        }
        return explain_run(d.config_path, d.ov.health_dir, argv[optind], argv[optind + 1],
                           argc - optind == 3 ? argv[optind + 2] : NULL);
    }
    if (!d.config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    log_setup(LOG_LEVEL_INFO, false, "geodnsd");

    char err[1024] = "";
    int rc;
    read_stamp(&d.read_since);
    if (gd_snapshot_load(d.config_path, &d.ov, 1, &d.snap, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    d.generation = 1;
    if (check) {
        print_summary(d.snap);
        printf("%s: OK\n", d.config_path);
        gd_snapshot_unref(d.snap);
        return 0;
    }
    log_setup(d.snap->cfg.log_level, d.snap->cfg.syslog, "geodnsd");
    signal(SIGPIPE, SIG_IGN);
    d.start_time = d.last_reload_ok = (int64_t)time(NULL);
    if (!(d.slots = metrics_slots_new()) || !(d.sum = calloc(1, sizeof(*d.sum)))) {
        log_error("out of memory");
        return 1;
    }
    map_slots(&d, d.snap);
    d.loop = uv_default_loop();
    if (d.snap->cfg.has_metrics &&
        (rc = gd_status_start(d.loop, &d.snap->cfg.metrics, collect_facts, &d, &d.status, err,
                              sizeof(err)))) {
        log_error("%s", err[0] ? err : strerror(-rc));
        gd_snapshot_unref(d.snap);
        metrics_slots_free(d.slots);
        free(d.sum);
        return 1;
    }
    if (d.status)
        gd_status_set_allow(d.status, d.snap->cfg.metrics_allow, d.snap->cfg.n_metrics_allow);

    unsigned workers = d.snap->cfg.workers;
    if (!workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (unsigned)n : 1;
    }
    remember_running(&d, &d.snap->cfg, workers);
    rc = gd_server_start(&d.srv, d.snap, workers, err, sizeof(err));
    if (rc) {
        /* err names the address and protocol, and for an address in use the likely cause. */
        log_error("%s", err[0] ? err : strerror(-rc));
        gd_status_stop(d.status);
        uv_run(d.loop, UV_RUN_NOWAIT);
        gd_status_free(d.status);
        gd_snapshot_unref(d.snap);
        metrics_slots_free(d.slots);
        free(d.sum);
        return 1;
    }
    uv_signal_init(d.loop, &d.sig_hup);
    uv_signal_init(d.loop, &d.sig_term);
    uv_signal_init(d.loop, &d.sig_int);
    d.sig_hup.data = d.sig_term.data = d.sig_int.data = &d;
    uv_signal_start(&d.sig_hup, on_sighup, SIGHUP);
    uv_signal_start(&d.sig_term, on_sigterm, SIGTERM);
    uv_signal_start(&d.sig_int, on_sigterm, SIGINT);
    uv_timer_init(d.loop, &d.reload_timer);
    d.reload_timer.data = &d;
    uv_async_init(d.loop, &d.reload_done, on_reload_done);
    d.reload_done.data = &d;
    uv_timer_init(d.loop, &d.rrl_timer);
    d.rrl_timer.data = &d;
    uv_timer_start(&d.rrl_timer, on_rrl_timer, RRL_LOG_MS, RRL_LOG_MS);
    watch(&d);
    gd_healthwatch_cb_t hcb = {.publish = on_health, .next_generation = next_generation, .ctx = &d};
    if (gd_healthwatch_start(d.loop, &hcb, &d.hw)) {
        log_error("cannot start the health watcher: out of memory");
        return 1;
    }
    /* The first view answers at once; its tables are built on the thread pool with the loop
     * running, so a SIGTERM meanwhile stops the build (seconds with a big database and many
     * PoPs) instead of waiting it out. "geodnsd ready" follows the tables (on_health). */
    gd_healthwatch_config(d.hw, d.snap);

    for (size_t i = 0; i < d.snap->cfg.nlisten; i++)
        log_info("listening on %s (udp, tcp)", d.snap->cfg.listen[i].text);
    if (d.status)
        log_info("metrics and status page on http://%s/ (/metrics, /status.json)",
                 d.snap->cfg.metrics.text);
    d.notifier = notify_new(d.loop);
    if (!d.snap->geo)
        log_ready(&d); /* no geo names: no tables to wait for */

    uv_run(d.loop, UV_RUN_DEFAULT);

    reload_abort(&d);
    notify_stop(d.notifier);
    gd_status_stop(d.status); /* first: it reads the server's counters */
    gd_server_stop(d.srv);
    gd_healthwatch_stop(d.hw);
    unwatch(&d);
    uv_close((uv_handle_t *)&d.sig_hup, NULL);
    uv_close((uv_handle_t *)&d.sig_term, NULL);
    uv_close((uv_handle_t *)&d.sig_int, NULL);
    uv_close((uv_handle_t *)&d.reload_timer, NULL);
    uv_close((uv_handle_t *)&d.rrl_timer, NULL);
    uv_close((uv_handle_t *)&d.reload_done, NULL);
    uv_run(d.loop, UV_RUN_DEFAULT);
    free(d.watches);
    notify_free(d.notifier);
    gd_healthwatch_free(d.hw);
    gd_status_free(d.status);
    metrics_slots_free(d.slots);
    free(d.sum);
    path_list_clear(&d.seen);
    uv_loop_close(d.loop);
    gd_snapshot_unref(d.snap);
    log_info("stopped");
    return 0;
}
