/* edge_main.c: segment-edge entry point: configuration, workers, signals, drain, origin probes. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge_internal.h"
#include "listen.h"
#include "log.h"

typedef struct edge_probe {
    uv_tcp_t tcp;
    uv_connect_t req;
    edge_server_t *srv;
    unsigned origin;
    edge_list_t link; /* in edge_main_t.probes until closed */
} edge_probe_t;

typedef struct edge_main {
    edge_server_t srv;
    uv_loop_t *loop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    uv_timer_t stats;
    uv_timer_t drain;
    uv_timer_t probe;
    uv_async_t wake;
    edge_list_t probes; /* origin probes in flight */
    int signals;
    /* listen and status_listen address locks, held for the process lifetime */
    int claim_fd[2 * EDGE_MAX_LISTEN];
    uv_poll_t claim_poll[2 * EDGE_MAX_LISTEN];
    size_t n_claims;
} edge_main_t;

static void probe_on_close(uv_handle_t *h)
{
    edge_probe_t *p = h->data;
    edge_list_del(&p->link);
    free(p);
}

static void probe_on_connect(uv_connect_t *req, int status)
{
    edge_probe_t *p = req->data;
    if (uv_is_closing((uv_handle_t *)&p->tcp)) {
        return; /* closed by the stop (UV_ECANCELED): it says nothing about the origin */
    }
    edge_origin_state_t *s = &p->srv->origins[p->origin];
    int was = __atomic_load_n(&s->up, __ATOMIC_RELAXED);
    __atomic_store_n(&s->up, status == 0 ? 1 : 0, __ATOMIC_RELAXED);
    if (status != 0) {
        __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->consecutive_errors, 1, __ATOMIC_RELAXED);
    }
    if (was != (status == 0)) {
        log_info("origin %s is %s", p->srv->cfg->origins[p->origin].url,
                 status == 0 ? "up" : "down");
    }
    uv_close((uv_handle_t *)&p->tcp, probe_on_close);
}

static void main_on_probe(uv_timer_t *t)
{
    edge_main_t *m = t->data;
    edge_server_t *srv = &m->srv;
    for (unsigned i = 0; i < srv->cfg->n_origins; i++) {
        edge_probe_t *p = calloc(1, sizeof(*p));
        if (!p) {
            return;
        }
        p->srv = srv;
        p->origin = i;
        edge_list_add(&m->probes, &p->link);
        uv_tcp_init(m->loop, &p->tcp);
        p->tcp.data = p;
        p->req.data = p;
        if (uv_tcp_connect(&p->req, &p->tcp, (const struct sockaddr *)&srv->origin_addr[i],
                           probe_on_connect) != 0) {
            uv_close((uv_handle_t *)&p->tcp, probe_on_close);
        }
    }
}

static void main_on_stats(uv_timer_t *t)
{
    edge_main_t *m = t->data;
    edge_status_tick(&m->srv);
}

static void main_ctl_all(edge_main_t *m)
{
    for (unsigned i = 0; i < m->srv.n_workers; i++) {
        uv_async_send(&m->srv.workers[i].ctl);
    }
}

static void main_on_drain_timeout(uv_timer_t *t)
{
    edge_main_t *m = t->data;
    log_warn("drain timeout: closing remaining connections and origin fills");
    __atomic_store_n(&m->srv.force_close, 1, __ATOMIC_SEQ_CST);
    main_ctl_all(m);
}

static void main_on_grace(uv_timer_t *t)
{
    edge_main_t *m = t->data;
    __atomic_store_n(&m->srv.draining, EDGE_DRAIN_CLOSING, __ATOMIC_SEQ_CST);
    log_info("draining: listeners closed, finishing in-flight responses");
    main_ctl_all(m);
    uv_timer_start(&m->drain, main_on_drain_timeout, m->srv.cfg->drain_timeout, 0);
}

static void main_on_signal(uv_signal_t *s, int signum)
{
    edge_main_t *m = s->data;
    if (++m->signals > 1) {
        log_warn("second signal: stopping now");
        __atomic_store_n(&m->srv.draining, EDGE_DRAIN_CLOSING, __ATOMIC_SEQ_CST);
        __atomic_store_n(&m->srv.force_close, 1, __ATOMIC_SEQ_CST);
        main_ctl_all(m);
        return;
    }
    log_info("signal %d: draining (readiness off)", signum);
    __atomic_store_n(&m->srv.draining, EDGE_DRAIN_READINESS, __ATOMIC_SEQ_CST);
    uv_timer_start(&m->drain, main_on_grace, m->srv.cfg->drain_grace, 0);
}

/* segment-edge has no reload. SIGHUP's default action would end the process without a drain,
 * and operators send it out of habit (geodnsd reloads on it): say so and go on serving. */
static void main_on_hup(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    log_warn("SIGHUP: segment-edge has no reload, going on serving; a restart applies a "
             "configuration change");
}

/* Block (how: SIG_BLOCK) or unblock (SIG_UNBLOCK) the stop signals, SIGTERM, SIGINT and SIGHUP,
 * in the calling thread; threads it starts inherit its mask. */
static void main_stop_signals_block(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(how, &set, NULL);
}

static void main_on_wake(uv_async_t *a)
{
    edge_main_t *m = a->data;
    if ((unsigned)__atomic_load_n(&m->srv.workers_done, __ATOMIC_SEQ_CST) < m->srv.n_workers) {
        return;
    }
    /* Closing a signal's last handle gives it back its default action, which ends the process:
     * a SIGTERM from here to the exit (freeing the cache, removing the disk tier's files, which
     * takes a while with many) ended it with status 143, the files left behind, instead of 0.
     * The other threads block these signals since their start (edge_run); blocked here too,
     * they stay pending until the exit: the drain is over, they have nothing to add. */
    main_stop_signals_block(SIG_BLOCK);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sighup, NULL);
    uv_close((uv_handle_t *)&m->stats, NULL);
    uv_close((uv_handle_t *)&m->drain, NULL);
    uv_close((uv_handle_t *)&m->probe, NULL);
    uv_close((uv_handle_t *)&m->wake, NULL);
    /* A probe to an origin that drops the connection attempt would hold the loop until the
     * kernel gives up (minutes). */
    for (edge_list_t *it = m->probes.next; it != &m->probes; it = it->next) {
        edge_probe_t *p = EDGE_CONTAINER(it, edge_probe_t, link);
        if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
            uv_close((uv_handle_t *)&p->tcp, probe_on_close);
        }
    }
    for (size_t i = 0; i < m->n_claims; i++) {
        if (m->claim_fd[i] >= 0) {
            uv_close((uv_handle_t *)&m->claim_poll[i], NULL);
        }
    }
}

/* Another segment-edge connected to a lock to learn our pid: let it go. */
static void main_on_claim_asked(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)p, &fd) == 0) {
        listen_claim_answer(fd);
    }
}

/* The open files the bounds let clients and origins hold at once: a socket for each client and
 * status connection and for each origin fill, plus a margin for the listeners, logs and libuv
 * (a client of a disk hit or of origin mode holds a file too, so this is the least needed). The
 * soft limit is raised toward it, up to the hard limit; short of it, accept fails past the limit
 * and the kernel resets those connections (libuv's EMFILE trick), without a log line or a count:
 * say so at start. */
static void main_nofile(const edge_config_t *cfg)
{
    uint64_t need =
        (uint64_t)cfg->max_connections + cfg->status_max_connections + cfg->max_fills + 64;
    uint64_t was, soft, hard;
    if (listen_nofile_raise(need, &was, &soft, &hard)) {
        log_info("open-file limit raised from %llu to %llu for the connection bounds",
                 (unsigned long long)was, (unsigned long long)soft);
    }
    if (soft < need) {
        log_warn("open-file limit %llu (hard limit %llu) is below the %llu that "
                 "limits.max_connections %u, status_max_connections %u and max_fills %u need: "
                 "connections past it are reset unlogged; raise LimitNOFILE (ulimit -n) or lower "
                 "max_connections",
                 (unsigned long long)soft, (unsigned long long)hard, (unsigned long long)need,
                 cfg->max_connections, cfg->status_max_connections, cfg->max_fills);
    }
}

/* Claim each address of list (n of them, the config key key; distinct, as the config checks) for
 * this process (common/listen.h): the workers then share it among themselves with SO_REUSEPORT, and
 * a second segment-edge, or any other process on the port, makes the start fail instead of
 * splitting the traffic. */
static int main_claim(edge_main_t *m, const char *key, char (*list)[EDGE_LISTEN_TEXT], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        char err[512];
        if (edge_listen_addr(list[i], &ss, &len) != 0) {
            log_error("%s %s: not an address", key, list[i]);
            return -EINVAL;
        }
        int fd = -1;
        int rc =
            listen_claim("segment-edge", key, &ss, len, list[i], LISTEN_TCP, &fd, err, sizeof(err));
        if (rc != 0) {
            /* The listen addresses' message as docs/edge.md shows it; a status one says so. */
            if (strcmp(key, "listen") == 0) {
                log_error("%s", err);
            } else {
                log_error("%s: %s", key, err);
            }
            return rc;
        }
        m->claim_fd[m->n_claims++] = fd;
        if (fd >= 0) {
            uv_poll_init(m->loop, &m->claim_poll[m->n_claims - 1], fd);
            uv_poll_start(&m->claim_poll[m->n_claims - 1], UV_READABLE, main_on_claim_asked);
        }
    }
    return 0;
}

static int origin_resolve(const edge_origin_cfg_t *o, struct sockaddr_storage *out)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0 || !res) {
        log_error("origin %s: cannot resolve %s: %s", o->url, o->host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int edge_run(edge_config_t *cfg)
{
    static edge_main_t m;
    edge_server_t *srv = &m.srv;
    int rc = 0;
    srv->cfg = cfg;
    srv->origin_mode = cfg->root[0] != '\0';
    srv->root_fd = -1;
    if (srv->origin_mode) {
        srv->root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (srv->root_fd < 0) {
            log_error("root %s: %s", cfg->root, strerror(errno));
            return -errno;
        }
    }
    srv->start_ms = edge_now_ms();
    pthread_mutex_init(&srv->rate_lock, NULL);
    if (edge_cache_init(&srv->cache, cfg->cache_mem) != 0) {
        return -ENOMEM;
    }
    srv->cache.pt_window = cfg->passthrough_window;
    /* The main thread's loop alone takes the stop signals: the disk writer and the workers start
     * with them blocked, and the main thread unblocks them once its handlers are set. */
    main_stop_signals_block(SIG_BLOCK);
    if (cfg->cache_disk_path[0] && !srv->origin_mode) {
        rc = edge_disk_open(&srv->cache.disk, cfg->cache_disk_path, cfg->cache_disk_size);
        if (rc != 0) {
            log_error("cache_disk %s: %s", cfg->cache_disk_path, strerror(-rc));
            return rc;
        }
    }
    for (unsigned i = 0; i < cfg->n_origins; i++) {
        if (origin_resolve(&cfg->origins[i], &srv->origin_addr[i]) != 0) {
            return -EINVAL;
        }
        srv->origins[i].up = 1; /* until shown otherwise */
    }
    /* The open-file limit before the first loop: loops and listeners take descriptors. libuv
     * aborts the process when its first loop cannot make the signal pipe, so a few free ones
     * are checked first, and each handle that takes one is checked too. */
    main_nofile(cfg);
    static uv_loop_t loop;
    if ((rc = listen_nofile_spare(LISTEN_LOOP_FDS)) || (rc = uv_loop_init(&loop)) ||
        (m.loop = &loop, rc = uv_async_init(m.loop, &m.wake, main_on_wake)) ||
        (rc = uv_signal_init(m.loop, &m.sigterm)) || (rc = uv_signal_init(m.loop, &m.sigint)) ||
        (rc = uv_signal_init(m.loop, &m.sighup))) {
        log_error("cannot start the event loop: %s%s", uv_strerror(rc), LISTEN_NOFILE_HINT(rc));
        return rc;
    }
    m.wake.data = &m;
    srv->main_wake = &m.wake;
    edge_list_init(&m.probes);
    rc = main_claim(&m, "listen", cfg->listen, cfg->n_listen);
    if (rc == 0) {
        rc = main_claim(&m, "status_listen", cfg->status_listen, cfg->n_status_listen);
    }
    if (rc) {
        return rc;
    }
    srv->n_workers = cfg->workers;
    srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
    if (!srv->workers) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        rc = edge_worker_init(srv, &srv->workers[i], i);
        if (rc) {
            return rc;
        }
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        rc = edge_worker_start(&srv->workers[i]);
        if (rc) {
            log_error("cannot start worker %u: %s", i, uv_strerror(rc));
            return rc;
        }
    }
    m.sigterm.data = m.sigint.data = m.sighup.data = &m;
    uv_signal_start(&m.sigterm, main_on_signal, SIGTERM);
    uv_signal_start(&m.sigint, main_on_signal, SIGINT);
    uv_signal_start(&m.sighup, main_on_hup, SIGHUP);
    main_stop_signals_block(SIG_UNBLOCK); /* one sent meanwhile is taken now */
    uv_timer_init(m.loop, &m.stats);
    uv_timer_init(m.loop, &m.drain);
    uv_timer_init(m.loop, &m.probe);
    m.stats.data = m.drain.data = m.probe.data = &m;
    uv_timer_start(&m.stats, main_on_stats, 1000, 1000);
    if (!srv->origin_mode) {
        uv_timer_start(&m.probe, main_on_probe, 0, cfg->origin_probe_interval);
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        log_info("listening on %s (%s mode, %u worker%s)", cfg->listen[i],
                 srv->origin_mode ? "origin" : "edge", srv->n_workers,
                 srv->n_workers == 1 ? "" : "s");
    }
    for (size_t i = 0; i < cfg->n_status_listen; i++) {
        log_info("status listener on %s (/healthz /readyz /status /metrics, at most %u "
                 "connection%s over %s)",
                 cfg->status_listen[i], cfg->status_max_connections,
                 cfg->status_max_connections == 1 ? "" : "s",
                 cfg->n_status_listen == 1 ? "it" : "all status listeners");
    }
    uv_run(m.loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < srv->n_workers; i++) {
        edge_worker_join(&srv->workers[i]);
    }
    uv_loop_close(m.loop);
    free(srv->workers);
    edge_disk_t *disk = srv->cache.disk;
    edge_cache_deinit(&srv->cache);
    edge_disk_close(disk);
    pthread_mutex_destroy(&srv->rate_lock);
    for (size_t i = 0; i < m.n_claims; i++) {
        if (m.claim_fd[i] >= 0) {
            close(m.claim_fd[i]);
        }
    }
    if (srv->root_fd >= 0) {
        close(srv->root_fd);
    }
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    static edge_config_t cfg;
    char err[1024] = "";
    signal(SIGPIPE, SIG_IGN);
    log_setup(LOG_LEVEL_INFO, false, "segment-edge");
    edge_config_defaults(&cfg);
    int rc = edge_config_args(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1) {
        return 0;
    }
    if (rc == 0) {
        rc = edge_config_validate(&cfg, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "segment-edge: %s\n", err);
        return 2;
    }
    log_level_t level;
    if (log_level_parse(cfg.log_level, &level) != 0) {
        fprintf(stderr, "segment-edge: unknown log level %s\n", cfg.log_level);
        return 2;
    }
    log_setup(level, false, "segment-edge");
    rc = edge_run(&cfg);
    return rc == 0 ? 0 : 1;
}
