/* server.c: the network side's set-up and life cycle: claim the listen addresses, open one
 * SO_REUSEPORT UDP and TCP socket per address and worker, start per worker a UDP thread for each
 * (udp.c) and a libuv loop for TCP (tcp.c, acceptor.c), publish new snapshots to all of them,
 * sum their counters, and stop them. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "acceptor.h"
#include "answerer.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "tcp.h"
#include "udp.h"

/* Connections accepted per wake-up of a listener, so one busy listener cannot starve the rest
 * of its loop; the poll is level triggered and fires again for what is left in the backlog. */
#define TCP_ACCEPT_BATCH 64
/* After accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) the listener rests
 * this long instead of spinning on a backlog it cannot take. */
#define TCP_ACCEPT_PAUSE_MS 100

typedef struct worker worker_t;

struct worker {
    unsigned id;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t async;
    atomic_bool stop;
    answerer_t ans;              /* for TCP */
    metrics_counters_t counters; /* the TCP answerer's */
    udp_thread_t *udp[GD_MAX_LISTEN];
    gd_acceptor_t tcp[GD_MAX_LISTEN];
    int udp_fd[GD_MAX_LISTEN], tcp_fd[GD_MAX_LISTEN];
    size_t nlisten;
    tcp_pool_t pool;
    bool loop_ready; /* loop initialised (closed by the failure path of the start) */
};

struct gd_server {
    worker_t **workers;
    unsigned nworkers;
    atomic_bool udp_stop;
    int claim_fd[GD_MAX_LISTEN]; /* per-address locks held for the process lifetime, or -1 */
    uv_poll_t claim_poll[GD_MAX_LISTEN]; /* on worker 0's loop: lets claim_holder() go */
    size_t nclaims;
};

/* ---- sockets ---- */

static bool addr_is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int open_socket(const gd_listen_t *l, int type, char *err, size_t errlen)
{
    /* UDP sockets block (their thread waits in recvmmsg); TCP ones belong to libuv. */
    int fd = listen_socket(&l->ss, l->len, type);
    if (fd < 0) {
        errno = -fd;
        fd = -1;
        goto fail;
    }
    if (type == SOCK_DGRAM)
        udp_socket_options(fd, l->ss.ss_family, addr_is_any(&l->ss));
    if (type == SOCK_STREAM && listen(fd, 1024))
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "cannot listen on %s/%s: %s", l->text, type == SOCK_DGRAM ? "udp" : "tcp",
             strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---- listen address claims ---- */

/* Every socket sets SO_REUSEPORT so that this process's workers can share a port; before any is
 * opened, each address is claimed (listen_claim: an abstract-socket lock "@geodnsd:ADDR:PORT"
 * plus a bind probe of UDP and TCP without SO_REUSEPORT), so that a second geodnsd, or any
 * other process on the port, is refused instead of silently taking half the traffic. */

/* Claim every listen address of cfg, each distinct address once; the locks go to srv. */
static int claim_all(gd_server_t *srv, const gd_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = cfg->listen[k].len == cfg->listen[i].len &&
                   !memcmp(&cfg->listen[k].ss, &cfg->listen[i].ss, cfg->listen[i].len);
        if (seen)
            continue;
        int rc = listen_claim("geodnsd", "listen", &cfg->listen[i].ss, cfg->listen[i].len,
                              cfg->listen[i].text, LISTEN_UDP | LISTEN_TCP,
                              &srv->claim_fd[srv->nclaims], err, errlen);
        if (rc)
            return rc;
        srv->nclaims++;
    }
    return 0;
}

/* Another geodnsd connected to a lock to learn our pid: let it go. */
static void claim_on_asked(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    uv_os_fd_t lfd;
    if (uv_fileno((uv_handle_t *)p, &lfd) == 0)
        listen_claim_answer(lfd);
}

static void claim_release(gd_server_t *srv)
{
    for (size_t i = 0; i < srv->nclaims; i++)
        if (srv->claim_fd[i] >= 0)
            close(srv->claim_fd[i]);
    srv->nclaims = 0;
}

/* ---- worker lifecycle ---- */

static void close_walk(uv_handle_t *h, void *arg)
{
    worker_t *w = arg;
    if (!uv_is_closing(h) && !tcp_pool_close_handle(&w->pool, h))
        uv_close(h, NULL); /* the async handle, the listeners' polls and timers */
}

static void worker_on_async(uv_async_t *a)
{
    worker_t *w = a->data;
    answerer_poll(&w->ans);
    if (atomic_load(&w->stop))
        uv_walk(&w->loop, close_walk, w);
}

static void worker_main(void *arg)
{
    worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void worker_free(worker_t *w)
{
    if (!w)
        return;
    tcp_pool_free(&w->pool);
    for (size_t j = 0; j < GD_MAX_LISTEN; j++)
        udp_thread_free(w->udp[j]);
    answerer_deinit(&w->ans);
    free(w);
}

/* The open files the bounds let clients hold at once: a socket for each TCP connection a worker's
 * pool admits (tcp.max_connections and the spare slot that lets a new client in by closing the
 * connection idle the longest) and each status connection, plus the listeners and a margin for
 * logs, NOTIFY sockets, watched files and libuv. Below it accept fails with EMFILE before the
 * pools are full, so the longest-idle connection is never closed to make room and new clients
 * wait until some connection times out: the soft limit is raised toward it, up to the hard limit,
 * and a shortfall is said at start. */
void gd_server_nofile(const gd_config_t *cfg, unsigned nworkers)
{
    uint64_t need = (uint64_t)nworkers * ((uint64_t)cfg->tcp_max_conns + 1 + 2 * cfg->nlisten) +
                    STATUS_CONNS_MAX + 1 + 64;
    uint64_t was, soft, hard;
    if (listen_nofile_raise(need, &was, &soft, &hard))
        log_info("open-file limit raised from %llu to %llu for the TCP connection bounds",
                 (unsigned long long)was, (unsigned long long)soft);
    if (soft < need)
        log_warn("open-file limit %llu (hard limit %llu) is below the %llu that %u workers with "
                 "tcp.max_connections %u need: past it new TCP clients wait until a connection "
                 "times out; raise LimitNOFILE (ulimit -n) or lower tcp.max_connections or workers",
                 (unsigned long long)soft, (unsigned long long)hard, (unsigned long long)need,
                 nworkers, cfg->tcp_max_conns);
}

int gd_server_start(gd_server_t **out, gd_snapshot_t *snap, unsigned nworkers, char *err,
                    size_t errlen)
{
    const gd_config_t *cfg = &snap->cfg;
    gd_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->workers = calloc(nworkers, sizeof(*srv->workers));
    if (!srv->workers) {
        free(srv);
        return -ENOMEM;
    }
    /* Once per process: a reload publishes a new snapshot and never comes back here. */
    int rc = claim_all(srv, cfg, err, errlen);
    if (rc)
        goto fail;
    for (unsigned i = 0; i < nworkers; i++) {
        worker_t *w = calloc(1, sizeof(*w));
        if (!w) {
            rc = -ENOMEM;
            goto fail;
        }
        srv->workers[srv->nworkers++] = w;
        w->id = i;
        w->nlisten = cfg->nlisten;
        for (size_t j = 0; j < GD_MAX_LISTEN; j++)
            w->udp_fd[j] = w->tcp_fd[j] = -1;
        for (size_t j = 0; j < cfg->nlisten; j++) {
            if ((w->udp_fd[j] = open_socket(&cfg->listen[j], SOCK_DGRAM, err, errlen)) < 0 ||
                (w->tcp_fd[j] = open_socket(&cfg->listen[j], SOCK_STREAM, err, errlen)) < 0) {
                rc = -EADDRINUSE;
                goto fail;
            }
        }
        if (answerer_init(&w->ans, snap, &w->counters) ||
            tcp_pool_init(&w->pool, &w->loop, &w->ans, &w->counters, cfg->tcp_idle_ms,
                          cfg->tcp_max_conns)) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t j = 0; j < cfg->nlisten; j++)
            if (!(w->udp[j] = udp_thread_new(w->udp_fd[j], addr_is_any(&cfg->listen[j].ss),
                                             &srv->udp_stop, snap)))
                goto nomem;
    }
    /* Every loop and its handles before any thread starts: a loop takes descriptors (its epoll
     * and its async's eventfd), which an open-file limit can refuse; that is then said, and
     * undone, like any other failure to start. */
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        if ((rc = uv_loop_init(&w->loop))) {
            snprintf(err, errlen, "cannot start the event loop of worker %u: %s%s", i,
                     uv_strerror(rc), LISTEN_NOFILE_HINT(rc));
            goto fail;
        }
        w->loop_ready = true;
        tcp_pool_start(&w->pool);
        if ((rc = uv_async_init(&w->loop, &w->async, worker_on_async))) {
            snprintf(err, errlen, "cannot start worker %u: %s%s", i, uv_strerror(rc),
                     LISTEN_NOFILE_HINT(rc));
            goto fail;
        }
        w->async.data = w;
        for (size_t k = 0; i == 0 && k < srv->nclaims; k++) {
            if (srv->claim_fd[k] >= 0 &&
                uv_poll_init(&w->loop, &srv->claim_poll[k], srv->claim_fd[k]) == 0)
                uv_poll_start(&srv->claim_poll[k], UV_READABLE, claim_on_asked);
        }
        for (size_t j = 0; j < w->nlisten; j++) {
            gd_acceptor_t *t = &w->tcp[j];
            t->fd = w->tcp_fd[j];
            t->batch = TCP_ACCEPT_BATCH;
            t->pause_ms = TCP_ACCEPT_PAUSE_MS;
            snprintf(t->what, sizeof(t->what), "worker %u, %s/tcp", w->id, cfg->listen[j].text);
            t->has_slot = tcp_pool_has_slot;
            t->take = tcp_pool_take;
            t->ctx = &w->pool;
            if ((rc = gd_acceptor_start(t, &w->loop))) {
                snprintf(err, errlen, "cannot watch %s/tcp: %s", cfg->listen[j].text,
                         uv_strerror(rc));
                goto fail;
            }
        }
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        for (size_t j = 0; j < w->nlisten; j++) {
            if (udp_thread_start(w->udp[j])) {
                snprintf(err, errlen, "cannot start a UDP thread");
                rc = -EAGAIN;
                goto fail; /* not reached in practice; the process exits */
            }
        }
        if (uv_thread_create(&w->thread, worker_main, w)) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            rc = -EAGAIN;
            goto fail; /* not reached in practice; earlier workers keep running until exit */
        }
        w->loop_ready = false; /* its thread's now */
    }
    *out = srv;
    return 0;
nomem:
    rc = -ENOMEM;
fail:
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        if (w->loop_ready) { /* no thread runs it yet */
            uv_walk(&w->loop, close_walk, w);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            uv_loop_close(&w->loop);
        }
        for (size_t j = 0; j < GD_MAX_LISTEN; j++) {
            if (w->udp_fd[j] >= 0)
                close(w->udp_fd[j]);
            if (w->tcp_fd[j] >= 0)
                close(w->tcp_fd[j]);
        }
        worker_free(w);
    }
    claim_release(srv);
    free(srv->workers);
    free(srv);
    return rc;
}

void gd_server_publish(gd_server_t *srv, gd_snapshot_t *snap, gd_health_t *health)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        answerer_publish(&w->ans, snap, health);
        for (size_t j = 0; j < w->nlisten; j++)
            udp_thread_publish(w->udp[j], snap, health); /* taken before its next batch */
        uv_async_send(&w->async);
    }
}

void gd_server_counters(const gd_server_t *srv, metrics_counters_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < srv->nworkers; i++) {
        const worker_t *w = srv->workers[i];
        metrics_counters_add(sum, &w->counters);
        for (size_t j = 0; j < w->nlisten; j++)
            metrics_counters_add(sum, udp_thread_counters(w->udp[j]));
    }
}

void gd_server_stop(gd_server_t *srv)
{
    /* UDP threads: the flag, then wake every one blocked in recvmmsg. */
    atomic_store(&srv->udp_stop, true);
    for (unsigned i = 0; i < srv->nworkers; i++)
        for (size_t j = 0; j < srv->workers[i]->nlisten; j++)
            shutdown(srv->workers[i]->udp_fd[j], SHUT_RDWR);
    for (unsigned i = 0; i < srv->nworkers; i++)
        for (size_t j = 0; j < srv->workers[i]->nlisten; j++)
            udp_thread_join(srv->workers[i]->udp[j]);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        atomic_store(&srv->workers[i]->stop, true);
        uv_async_send(&srv->workers[i]->async);
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        uv_thread_join(&w->thread);
        uv_loop_close(&w->loop);
        for (size_t j = 0; j < w->nlisten; j++) {
            close(w->udp_fd[j]);
            close(w->tcp_fd[j]); /* the listener's poll handle did not own it */
        }
        worker_free(w);
    }
    claim_release(srv); /* last: the address is ours until every socket on it is closed */
    free(srv->workers);
    free(srv);
}
