/* main.c: geodnsd command line, start-up, signals, publishing reloaded snapshots, metrics facts,
 * shutdown. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "explain.h"
#include "georesp.h"
#include "healthwatch.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "status.h"
#include "tcp.h"

#define GEODNSD_VERSION "0.1.0"
#define RRL_LOG_MS      60000u

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
    gd_reload_t *reload;               /* SIGHUP and file changes */
    uv_timer_t rrl_timer;              /* logs what rate limiting did, once a minute */
    uint64_t rrl_dropped, rrl_slipped; /* the counters' sums at the last look */
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

/* A reload loaded a new snapshot (main loop): give it its generation and counter slots, then
 * publish it, its health first. */
static void on_reload_publish(void *ctx, gd_snapshot_t *s)
{
    daemon_t *d = ctx;
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
}

static void on_reload_failed(void *ctx)
{
    daemon_t *d = ctx;
    d->reloads_failed++;
    d->last_reload_failed = true;
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

static void on_sighup(uv_signal_t *h, int sig)
{
    (void)sig;
    daemon_t *d = h->data;
    gd_reload_request(d->reload, "SIGHUP");
}

/* "geodnsd ready": the answers are what the config says, merged tables (widest scopes)
 * included. The listeners answer from the start (ranked per client until the tables are built,
 * health already applied). */
static void log_ready(daemon_t *d)
{
    log_info("geodnsd ready: %zu zones, %zu records, %u workers", d->snap->zones.nzones,
             gd_snapshot_records(d->snap), d->run_workers);
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
    const char *why = gd_reload_cancel(d->reload);
    if (why) {
        log_info("%s: stopping (the reload in progress (%s) is cancelled)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", why);
    } else {
        log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    uv_stop(d->loop);
}

/* The main loop and the handles every run has (signals, the rate-limit log timer). libuv aborts
 * the process when its first loop cannot make the signal pipe, so a few free descriptors are
 * checked first; each handle that takes one is checked too. What was made is closed by the
 * caller (close_walk). */
static int main_loop_init(daemon_t *d)
{
    static uv_loop_t loop;
    int rc = listen_nofile_spare(LISTEN_LOOP_FDS);
    if (rc || (rc = uv_loop_init(&loop)))
        return rc;
    d->loop = &loop;
    if ((rc = uv_signal_init(d->loop, &d->sig_hup)) ||
        (rc = uv_signal_init(d->loop, &d->sig_term)) || (rc = uv_signal_init(d->loop, &d->sig_int)))
        return rc;
    d->sig_hup.data = d->sig_term.data = d->sig_int.data = d;
    uv_timer_init(d->loop, &d->rrl_timer);
    d->rrl_timer.data = d;
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
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
    /* The first load's files, each as it was just before it was read: their watches start once
     * the server is up, and a change made meanwhile must not be lost. */
    gd_read_files_t *read = check ? NULL : gd_read_files_new();
    gd_overrides_t first = d.ov;
    if (read) {
        first.file_seen = gd_read_files_seen;
        first.file_seen_ctx = read;
    }
    if (gd_snapshot_load(d.config_path, &first, 1, &d.snap, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        gd_read_files_free(read);
        return 1;
    }
    gd_read_files_done(read);
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
    unsigned workers = d.snap->cfg.workers;
    if (!workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (unsigned)n : 1;
    }
    remember_running(&d, &d.snap->cfg, workers);
    /* The open-file limit before the first loop: loops and listeners take descriptors. */
    gd_server_nofile(&d.snap->cfg, workers);
    if (!(d.slots = metrics_slots_new()) || !(d.sum = calloc(1, sizeof(*d.sum)))) {
        log_error("out of memory");
        goto fail;
    }
    map_slots(&d, d.snap);
    if ((rc = main_loop_init(&d))) {
        log_error("cannot start the event loop: %s%s", uv_strerror(rc), LISTEN_NOFILE_HINT(rc));
        goto fail;
    }
    if (d.snap->cfg.has_metrics &&
        (rc = gd_status_start(d.loop, &d.snap->cfg.metrics, collect_facts, &d, &d.status, err,
                              sizeof(err)))) {
        log_error("%s", err[0] ? err : strerror(-rc));
        goto fail;
    }
    if (d.status)
        gd_status_set_allow(d.status, d.snap->cfg.metrics_allow, d.snap->cfg.n_metrics_allow);

    rc = gd_server_start(&d.srv, d.snap, workers, err, sizeof(err));
    if (rc) {
        /* err names the address and protocol, and for an address in use the likely cause. */
        log_error("%s", err[0] ? err : strerror(-rc));
        goto fail;
    }
    uv_signal_start(&d.sig_hup, on_sighup, SIGHUP);
    uv_signal_start(&d.sig_term, on_sigterm, SIGTERM);
    uv_signal_start(&d.sig_int, on_sigterm, SIGINT);
    uv_timer_start(&d.rrl_timer, on_rrl_timer, RRL_LOG_MS, RRL_LOG_MS);
    gd_reload_cb_t rcb = {.publish = on_reload_publish, .failed = on_reload_failed, .ctx = &d};
    if ((rc = gd_reload_new(d.loop, d.config_path, &d.ov, d.snap, read, &rcb, &d.reload))) {
        log_error("cannot start watching the config files: %s", uv_strerror(rc));
        return 1;
    }
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

    gd_reload_stop(d.reload);
    notify_stop(d.notifier);
    gd_status_stop(d.status); /* first: it reads the server's counters */
    gd_server_stop(d.srv);
    gd_healthwatch_stop(d.hw);
    uv_close((uv_handle_t *)&d.sig_hup, NULL);
    uv_close((uv_handle_t *)&d.sig_term, NULL);
    uv_close((uv_handle_t *)&d.sig_int, NULL);
    uv_close((uv_handle_t *)&d.rrl_timer, NULL);
    uv_run(d.loop, UV_RUN_DEFAULT);
    gd_reload_free(d.reload);
    notify_free(d.notifier);
    gd_healthwatch_free(d.hw);
    gd_status_free(d.status);
    metrics_slots_free(d.slots);
    free(d.sum);
    uv_loop_close(d.loop);
    gd_snapshot_unref(d.snap);
    log_info("stopped");
    return 0;

fail: /* before any worker started */
    gd_status_stop(d.status);
    if (d.loop) {
        uv_walk(d.loop, close_walk, NULL);
        uv_run(d.loop, UV_RUN_DEFAULT);
        uv_loop_close(d.loop);
    }
    gd_status_free(d.status);
    gd_snapshot_unref(d.snap);
    metrics_slots_free(d.slots);
    free(d.sum);
    gd_read_files_free(read);
    return 1;
}
