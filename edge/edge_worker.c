/* edge_worker.c: segment-edge's workers: one loop each with its own SO_REUSEPORT listeners,
 * accepting within the connection caps, waking connections that wait on objects, and draining. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge_conn.h"
#include "listen.h"
#include "log.h"

#define LISTEN_BACKLOG 4096
#define EVICT_SCAN     64 /* idle connections looked at from the oldest end over the cap */

_Static_assert(EDGE_MAX_WORKERS <= 64, "waiter_mask has one bit per worker");
_Static_assert(2 * EDGE_MAX_LISTEN <= 32, "drop_wanted has one bit per listener");

uint64_t edge_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

const char *edge_worker_date(edge_worker_t *w)
{
    time_t now = time(NULL);
    if (now != w->date_t) {
        w->date_t = now;
        edge_http_date_format(now, w->date);
    }
    return w->date;
}

void edge_worker_wake_obj(edge_server_t *srv, edge_obj_t *o)
{
    uint64_t mask = __atomic_load_n(&o->waiter_mask, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; mask && i < srv->n_workers; i++) {
        if (mask & EDGE_WORKER_BIT(i)) {
            uv_async_send(&srv->workers[i].wake);
        }
    }
}

static void worker_on_wake(uv_async_t *a)
{
    edge_worker_t *w = a->data;
    edge_list_t *it = w->waiting.next;
    while (it != &w->waiting) {
        edge_list_t *next = it->next;
        conn_t *c = EDGE_CONTAINER(it, conn_t, wait);
        edge_conn_pump(c); /* touches only c's own link */
        it = next;
    }
}

/* ---- accept ---- */

/* Close the oldest lingering close of the kind (status listener or not): its response is sent,
 * it only waits for the client's end. False when there is none. */
static bool worker_evict_lingering(edge_worker_t *w, bool status_listener)
{
    for (edge_list_t *it = w->lingering.prev; it != &w->lingering; it = it->prev) {
        conn_t *c = EDGE_CONTAINER(it, conn_t, linger.link);
        if (c->status_listener == status_listener) {
            edge_conn_close(c);
            return true;
        }
    }
    return false;
}

/* Over the cap: close the oldest lingering close, else the longest-idle keep-alive connection
 * (as geodnsd's acceptor does), to make room; false when there is none of the first kind and
 * none of the oldest is idle (then the new one is refused). */
static bool worker_evict_idle(edge_worker_t *w)
{
    if (worker_evict_lingering(w, false)) {
        return true;
    }
    unsigned seen = 0;
    for (edge_list_t *it = w->conns.prev; it != &w->conns && seen < EVICT_SCAN; it = it->prev) {
        conn_t *c = EDGE_CONTAINER(it, conn_t, link);
        if (c->status_listener) {
            continue; /* outside max_connections: it makes no room there */
        }
        if (edge_conn_keepalive_idle(c)) {
            edge_conn_close(c);
            return true;
        }
        seen++;
    }
    return false;
}

static bool worker_is_status_listener(const edge_worker_t *w, const uv_stream_t *server)
{
    return (size_t)((const uv_tcp_t *)server - w->listeners) >= w->n_client_listeners;
}

/* Room for a new connection on server: within status_max_connections on a status listener
 * (only a lingering close is evicted there: a prober's connection is short), else within this
 * worker's share of max_connections, after evicting a lingering close or an idle keep-alive
 * connection if need be. */
static bool worker_admit(edge_worker_t *w, const uv_stream_t *server)
{
    const edge_config_t *cfg = w->srv->cfg;
    if (worker_is_status_listener(w, server)) {
        return w->n_status_conns < cfg->status_max_connections || worker_evict_lingering(w, true);
    }
    uint32_t per_worker = cfg->max_connections / w->srv->n_workers;
    if (per_worker == 0) {
        per_worker = 1;
    }
    return w->n_conns < per_worker || worker_evict_idle(w);
}

static void worker_on_accept(uv_stream_t *server, int status);

static void worker_on_drop_closed(uv_handle_t *h)
{
    edge_worker_t *w = h->data;
    w->drop_busy = false;
    unsigned wanted = w->drop_wanted;
    w->drop_wanted = 0;
    for (size_t i = 0; i < w->n_listeners; i++) {
        if ((wanted & (1u << i)) && !uv_is_closing((uv_handle_t *)&w->listeners[i])) {
            worker_on_accept((uv_stream_t *)&w->listeners[i], 0);
        }
    }
}

/* A connection that could not be set up (no memory): accept it and close it at once, so that
 * libuv goes on watching the listener. While the drop handle closes, the listener waits for it. */
static void worker_drop(edge_worker_t *w, uv_stream_t *server)
{
    if (w->drop_busy) {
        /* Not taken yet: counted when it is (the retry after the close comes back here). */
        w->drop_wanted |= 1u << (unsigned)((uv_tcp_t *)server - w->listeners);
        return;
    }
    uv_tcp_init(&w->loop, &w->drop);
    w->drop.data = w;
    w->drop_busy = true;
    if (uv_accept(server, (uv_stream_t *)&w->drop) == 0) {
        uint64_t *rejected = worker_is_status_listener(w, server) ? &w->st.status_conns_rejected
                                                                  : &w->st.conns_rejected;
        STAT_ADD(*rejected, 1);
    }
    uv_close((uv_handle_t *)&w->drop, worker_on_drop_closed);
}

static void worker_on_accept(uv_stream_t *server, int status)
{
    edge_worker_t *w = server->data;
    if (status < 0 || w->closing) {
        return;
    }
    if (!worker_admit(w, server)) {
        worker_drop(w, server);
        return;
    }
    if (edge_conn_accept(w, server, worker_is_status_listener(w, server)) != 0) {
        log_debug("worker %u: cannot set up a connection: out of memory", w->id);
        worker_drop(w, server);
    }
}

/* ---- listeners ---- */

int edge_listen_addr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    char port[8];
    memset(ss, 0, sizeof(*ss));
    if (edge_hostport_split(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        return -EINVAL;
    }
    int rc = uv_ip4_addr(host, atoi(port), (struct sockaddr_in *)ss);
    *len = sizeof(struct sockaddr_in);
    if (rc != 0) {
        rc = uv_ip6_addr(host, atoi(port), (struct sockaddr_in6 *)ss);
        *len = sizeof(struct sockaddr_in6);
    }
    return rc;
}

static int listener_open(edge_worker_t *w, const char *hostport, uv_tcp_t *t)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = edge_listen_addr(hostport, &ss, &sl);
    if (rc != 0) {
        return rc;
    }
    /* libuv 1.44 has no reuseport flag: socket, setsockopt, bind, then uv_tcp_open. */
    int fd = listen_socket(&ss, sl, SOCK_STREAM);
    if (fd < 0) {
        return fd;
    }
    uv_tcp_init(&w->loop, t);
    t->data = w;
    rc = uv_tcp_open(t, fd);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)t, LISTEN_BACKLOG, worker_on_accept);
    }
    return rc;
}

/* Open the next listener of w on the address hostport (of the config key key, for the log). */
static int worker_listen(edge_worker_t *w, const char *key, const char *hostport)
{
    int rc = listener_open(w, hostport, &w->listeners[w->n_listeners]);
    if (rc) {
        log_error("%s %s: %s", key, hostport, uv_strerror(rc));
        return rc;
    }
    w->n_listeners++;
    return 0;
}

static void worker_close_listeners(edge_worker_t *w)
{
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i])) {
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
        }
    }
}

/* ---- drain and stop ---- */

/* Stopping now (drain timeout, second signal): the origin fills still running are cancelled
 * with their connections. Their clients are closed already; a fill left running would hold the
 * loop, and so the process, until its origin ends it (a trickle within between_bytes: never). */
static void worker_abort_fills(edge_worker_t *w)
{
    unsigned n = edge_origin_abort_all(w);
    if (n > 0) {
        log_warn("worker %u: stopping: abandoned %u origin fill%s (nothing of %s stored)", w->id, n,
                 n == 1 ? "" : "s", n == 1 ? "it" : "them");
    }
}

static void worker_check_done(edge_worker_t *w)
{
    if (!w->closing || w->stopped || w->n_conns > 0 || w->n_status_conns > 0 || w->drop_busy) {
        return;
    }
    if (w->n_fetches > 0) {
        if (!__atomic_load_n(&w->srv->force_close, __ATOMIC_RELAXED)) {
            return;
        }
        worker_abort_fills(w);
    }
    w->stopped = true;
    edge_origin_pool_close(w);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->ctl, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    __atomic_add_fetch(&w->srv->workers_done, 1, __ATOMIC_SEQ_CST);
    uv_async_send(w->srv->main_wake);
}

static void worker_on_ctl(uv_async_t *a)
{
    edge_worker_t *w = a->data;
    edge_server_t *srv = w->srv;
    if (w->stopped) {
        return;
    }
    if (!w->closing && __atomic_load_n(&srv->draining, __ATOMIC_SEQ_CST) >= EDGE_DRAIN_CLOSING) {
        w->closing = true;
        worker_close_listeners(w);
        edge_origin_pool_close(w);
        edge_list_t *it = w->conns.next;
        while (it != &w->conns) {
            edge_list_t *next = it->next;
            conn_t *c = EDGE_CONTAINER(it, conn_t, link);
            if (edge_conn_idle(c) || edge_conn_lingering(c)) {
                edge_conn_close(c); /* idle keep-alive connection, or a lingering close */
            }
            it = next;
        }
    }
    if (__atomic_load_n(&srv->force_close, __ATOMIC_SEQ_CST)) {
        edge_list_t *it = w->conns.next;
        while (it != &w->conns) {
            edge_list_t *next = it->next;
            edge_conn_close(EDGE_CONTAINER(it, conn_t, link));
            it = next;
        }
        worker_abort_fills(w);
    }
    worker_check_done(w);
}

static void worker_on_tick(uv_timer_t *t)
{
    worker_check_done(t->data);
}

static void worker_thread(void *arg)
{
    edge_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

int edge_worker_init(edge_server_t *srv, edge_worker_t *w, unsigned id)
{
    memset(w, 0, sizeof(*w));
    if (id >= EDGE_MAX_WORKERS) {
        return UV_EINVAL;
    }
    w->srv = srv;
    w->id = id;
    int rc = uv_loop_init(&w->loop);
    if (rc) {
        log_error("cannot start the event loop of worker %u: %s%s", id, uv_strerror(rc),
                  LISTEN_NOFILE_HINT(rc));
        return rc;
    }
    edge_list_init(&w->conns);
    edge_list_init(&w->waiting);
    edge_list_init(&w->lingering);
    edge_list_init(&w->busy_origin);
    for (unsigned i = 0; i < EDGE_MAX_ORIGINS; i++) {
        edge_list_init(&w->idle_origin[i]);
    }
    /* The loop's first async takes a descriptor (its eventfd). */
    if ((rc = uv_async_init(&w->loop, &w->wake, worker_on_wake)) ||
        (rc = uv_async_init(&w->loop, &w->ctl, worker_on_ctl))) {
        log_error("cannot start worker %u: %s%s", id, uv_strerror(rc), LISTEN_NOFILE_HINT(rc));
        return rc;
    }
    uv_timer_init(&w->loop, &w->tick);
    w->wake.data = w->ctl.data = w->tick.data = w;
    uv_timer_start(&w->tick, worker_on_tick, 100, 100);
    for (size_t i = 0; i < srv->cfg->n_listen; i++) {
        rc = worker_listen(w, "listen", srv->cfg->listen[i]);
        if (rc) {
            return rc;
        }
    }
    w->n_client_listeners = w->n_listeners;
    /* The status listeners are worker 0's alone, so that status_max_connections is one exact
     * bound: split over SO_REUSEPORT sockets, a bound of 16 would be a few connections a worker
     * (none past 16 workers), and the kernel picks the socket by a hash of the client's address
     * and port, not by room, so a prober could be refused by a full worker while the others had
     * room. Answering them is a few counter reads, which one loop does between its clients. */
    for (size_t i = 0; id == 0 && i < srv->cfg->n_status_listen; i++) {
        rc = worker_listen(w, "status_listen", srv->cfg->status_listen[i]);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int edge_worker_start(edge_worker_t *w)
{
    return uv_thread_create(&w->thread, worker_thread, w);
}

void edge_worker_join(edge_worker_t *w)
{
    uv_thread_join(&w->thread);
    uv_run(&w->loop, UV_RUN_DEFAULT); /* run close callbacks */
    uv_loop_close(&w->loop);
}
