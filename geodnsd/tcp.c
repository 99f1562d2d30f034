/* tcp.c: a worker's DNS-over-TCP connections (see tcp.h). */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xfr.h"

struct conn {
    uv_tcp_t h;
    uv_timer_t timer;
    tcp_pool_t *pool;
    conn_t *prev, *next; /* LRU list of open connections, oldest first; free list when unused */
    struct sockaddr_storage peer;
    size_t inlen;
    uint8_t *out; /* pending write: allocated on the first backpressure, freed on close */
    /* A zone transfer being written, a piece at a time (xfr_next), reading stopped meanwhile. */
    xfr_stream_t *xfr;       /* freed when written or on close */
    gd_snapshot_t *xfr_snap; /* what a whole-zone stream reads: held until it is freed */
    gd_health_t *xfr_health; /* (NULL: no health view) */
    bool xfr_more;           /* xfr_next has more after the piece being written */
    bool xfr_due;            /* the last piece is out: xfr_on_idle writes the next */
    bool xfr_held;           /* it counts against tcp.max_transfers (xfr_held_n) */
    unsigned long xfr_n;     /* its number in the log */
    uint64_t xfr_t0;         /* loop time it started, ms */
    /* Bytes handed to the kernel, and of those what the client had acknowledged at the last
     * idle tick: kept after the stream is freed, for conn_on_timeout, until the next transfer. */
    uint64_t xfr_sent;
    int64_t xfr_acked;
    const char *why_closed; /* for the log line of a transfer cut off by the close, or NULL */
    uv_write_t wreq;
    bool writing;
    bool closing;
    bool in_use;
    int open_handles;
    uint8_t in[TCP_INBUF];
};

static void lru_unlink(tcp_pool_t *p, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push(tcp_pool_t *p, conn_t *c)
{
    c->prev = p->lru_tail;
    c->next = NULL;
    if (p->lru_tail)
        p->lru_tail->next = c;
    else
        p->lru_head = c;
    p->lru_tail = c;
}

/* c is in use now: it becomes the one idle the shortest. */
static void lru_touch(tcp_pool_t *p, conn_t *c)
{
    lru_unlink(p, c);
    lru_push(p, c);
}

/* Zone transfers of a whole zone being sent, over all workers: at most tcp.max_transfers of them
 * (conn_transfer). Each holds its stream's buffer and the snapshot it reads. */
static atomic_uint xfr_held_n;

unsigned tcp_transfers_held(void)
{
    return atomic_load_explicit(&xfr_held_n, memory_order_relaxed);
}

/* Free c's transfer stream and what it held. A whole-zone transfer's end is logged and counted:
 * sent when cut_off is NULL, else cut off for that reason. */
static void xfr_release(conn_t *c, const char *cut_off)
{
    if (!c->xfr)
        return;
    if (c->xfr_held) {
        size_t messages, records;
        xfr_counts(c->xfr, &messages, &records);
        metrics_inc(&c->pool->counters->transfers_ended[cut_off ? 0 : 1]);
        metrics_add(&c->pool->counters->transfer_bytes, c->xfr_sent);
        double secs = (double)(uv_now(c->pool->loop) - c->xfr_t0) / 1000.0;
        log_info("transfer #%lu %s: %zu messages, %zu records, %llu bytes in %.1f s", c->xfr_n,
                 cut_off ? cut_off : "sent", messages, records, (unsigned long long)c->xfr_sent,
                 secs);
    }
    xfr_free(c->xfr);
    c->xfr = NULL;
    if (c->xfr_snap)
        gd_snapshot_unref(c->xfr_snap);
    if (c->xfr_health)
        gd_health_unref(c->xfr_health);
    c->xfr_snap = NULL;
    c->xfr_health = NULL;
    if (c->xfr_held) {
        atomic_fetch_sub(&xfr_held_n, 1);
        c->xfr_held = false;
    }
}

static void conn_on_written(uv_write_t *req, int status);
static int xfr_write_next(conn_t *c);
static void xfr_schedule(conn_t *c);
static void conn_close(conn_t *c);

/* One piece of each transfer whose last piece is out, then the loop polls again: libuv would
 * otherwise call back at once for as long as the client's socket takes more, and a transfer
 * to a fast reader would hold the worker's other TCP clients until the whole zone is out. */
static void xfr_on_idle(uv_idle_t *h)
{
    tcp_pool_t *p = h->data;
    uv_idle_stop(h);
    for (size_t i = 0; i < p->nconns; i++) {
        conn_t *c = &p->conns[i];
        if (!c->in_use || c->closing || !c->xfr_due)
            continue;
        c->xfr_due = false;
        if (xfr_write_next(c))
            conn_close(c);
    }
}

static void xfr_schedule(conn_t *c)
{
    tcp_pool_t *p = c->pool;
    c->xfr_due = true;
    if (!uv_is_closing((uv_handle_t *)&p->xfr_idle))
        uv_idle_start(&p->xfr_idle, xfr_on_idle);
}

/* Write the next piece of c's transfer: each piece taken restarts the idle timer (and
 * conn_on_timeout looks at what the client acknowledged), so a secondary that reads slowly but
 * steadily gets the whole zone, and one that stops reading is closed after one or two
 * idle_timeouts. Returns 0, or -1 when the connection must close. */
static int xfr_write_next(conn_t *c)
{
    const uint8_t *piece;
    size_t len;
    int more = xfr_next(c->xfr, &piece, &len);
    if (more < 0) {
        log_error("transfer #%lu: out of memory", c->xfr_n);
        return -1;
    }
    c->xfr_more = more;
    c->writing = true; /* until the transfer is out: conn_process waits */
    if (!len && more) {
        xfr_schedule(c); /* nothing whole yet: more on the next turn */
        return 0;
    }
    uv_buf_t b = uv_buf_init((char *)piece, (unsigned)len);
    c->xfr_sent += len;
    c->wreq.data = c;
    return uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, conn_on_written) ? -1 : 0;
}

static void conn_on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    tcp_pool_t *p = c->pool;
    free(c->out);
    c->out = NULL;
    xfr_release(c, c->why_closed ? c->why_closed : "cut off, connection closed");
    c->in_use = false;
    c->next = p->free_list;
    p->free_list = c;
    p->open_conns--;
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    lru_unlink(c->pool, c);
    c->open_handles = 2;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_on_closed);
    uv_close((uv_handle_t *)&c->h, conn_on_closed);
}

/* The idle timer ticks every idle_timeout. A connection that has sent a transfer is idle only
 * when the client acknowledged nothing since the last tick: what the kernel takes from us is too
 * coarse a measure (it wakes the writer only once much of a send buffer of up to 4 MB is free,
 * which a secondary reading slowly but steadily may take longer than idle_timeout to read), and
 * the last 4 MB are still on their way after the last piece was taken. The tick at which the
 * last of it turned out acknowledged counts as progress too: the client may be about to ask its
 * next question. */
static void conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    uv_os_fd_t fd;
    int outq;
    if (c->xfr_sent && uv_fileno((const uv_handle_t *)&c->h, &fd) == 0 &&
        ioctl(fd, SIOCOUTQ, &outq) == 0 && outq >= 0) {
        int64_t acked = (int64_t)c->xfr_sent - outq;
        if (acked != c->xfr_acked) {
            c->xfr_acked = acked;
            return;
        }
    }
    c->why_closed = "cut off, nothing acknowledged for tcp.idle_timeout";
    conn_close(c);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    buf->base = (char *)c->in + c->inlen;
    buf->len = TCP_INBUF - c->inlen;
}

static void conn_process(conn_t *c);
static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_on_written(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    if (c->closing)
        return; /* conn_on_closed frees what is left */
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->xfr && c->xfr_more) {
        /* The kernel took the last piece: the secondary is reading. The next one is written on
         * the next turn of the loop, after its other clients were heard. */
        uv_timer_again(&c->timer);
        lru_touch(c->pool, c);
        c->writing = true;
        xfr_schedule(c);
        return;
    }
    xfr_release(c, NULL);
    conn_process(c);
    if (!c->writing && !c->closing)
        uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

/* Transfers out, counted over all workers for the log lines. */
static atomic_ulong xfr_seq;

/* Refusals are logged at most XFR_REFUSED_LOG_MAX a second over all workers (a client that
 * pipelines transfers it may not have must not fill the disk); the next line logged says how
 * many were not. Every refusal is counted in the metrics all the same. */
#define XFR_REFUSED_LOG_MAX 10
static atomic_ulong xfr_refused_sec, xfr_refused_in_sec, xfr_refused_unlogged;

static const char *unlogged_note(char *buf, size_t len, unsigned long n)
{
    snprintf(buf, len, " (%lu refusals before it not logged: more than %d a second)", n,
             XFR_REFUSED_LOG_MAX);
    return buf;
}

static bool xfr_refused_log(unsigned long *unlogged)
{
    unsigned long now = (unsigned long)time(NULL);
    unsigned long sec = atomic_load(&xfr_refused_sec);
    if (sec != now && atomic_compare_exchange_strong(&xfr_refused_sec, &sec, now))
        atomic_store(&xfr_refused_in_sec, 0);
    if (atomic_fetch_add(&xfr_refused_in_sec, 1) >= XFR_REFUSED_LOG_MAX) {
        atomic_fetch_add(&xfr_refused_unlogged, 1);
        return false;
    }
    *unlogged = atomic_exchange(&xfr_refused_unlogged, 0);
    return true;
}

/* A zone transfer request: the response is written a piece at a time as the client takes it
 * (xfr_next), from the snapshot that was current when it came; reading waits until it is out. At
 * most tcp.max_transfers whole-zone transfers are sent at once: past that an allowed request gets
 * SERVFAIL. Returns -1 when the connection closed. */
static int conn_transfer(conn_t *c, const uint8_t *pkt, size_t len)
{
    xfr_stream_t *st;
    xfr_result_t r;
    answerer_t *ans = c->pool->ans;
    char peer[INET6_ADDRSTRLEN + 8] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof(peer));
    /* Take a place first, so that concurrent workers never start more than the limit. */
    unsigned max = ans->snap->cfg.tcp_max_xfr;
    bool busy = atomic_fetch_add(&xfr_held_n, 1) >= max;
    int rc = xfr_start(&ans->env, pkt, len, sa, (uint64_t)time(NULL), busy, &st, &r);
    bool held = rc == 0 && r.allowed && !r.current; /* a whole zone, not a one-message reply */
    if (!held)
        atomic_fetch_sub(&xfr_held_n, 1);
    if (rc) {
        conn_close(c);
        return -1;
    }
    unsigned long n = atomic_fetch_add(&xfr_seq, 1) + 1, unlogged = 0;
    char more[96];
    metrics_inc(&c->pool->counters->transfers[r.allowed ? 1 : 0]);
    if (r.allowed && r.current)
        log_info(
            "transfer #%lu allowed: IXFR of %s serial %u to %s%s%s: up to date (client at %u), "
            "SOA only",
            n, r.zone, r.serial, peer, r.key ? " key " : "", r.key ? r.key : "", r.client_serial);
    else if (r.allowed)
        log_info("transfer #%lu allowed: %s of %s serial %u to %s%s%s: sending", n,
                 r.qtype == DNS_TYPE_IXFR ? "IXFR (sent as AXFR)" : "AXFR", r.zone, r.serial, peer,
                 r.key ? " key " : "", r.key ? r.key : "");
    else if (xfr_refused_log(&unlogged)) {
        char why[96];
        if (r.busy)
            snprintf(why, sizeof(why),
                     "busy, %u transfers being sent (tcp.max_transfers): SERVFAIL", max);
        else
            snprintf(why, sizeof(why), "rcode %u tsig error %u", r.rcode, r.tsig_error);
        log_info("transfer #%lu refused: %s of %s serial %u to %s%s%s: %s%s", n,
                 r.qtype == DNS_TYPE_IXFR ? "IXFR" : "AXFR", r.zone, r.serial, peer,
                 r.key ? " key " : "", r.key ? r.key : "", why,
                 unlogged ? unlogged_note(more, sizeof(more), unlogged) : "");
    }
    c->xfr = st;
    c->xfr_held = held;
    if (held) {
        /* The stream reads the zones and health view of these snapshots until it ends. */
        gd_snapshot_ref(c->xfr_snap = ans->snap);
        if ((c->xfr_health = ans->health))
            gd_health_ref(c->xfr_health);
    }
    c->xfr_n = n;
    c->xfr_t0 = uv_now(c->pool->loop);
    c->xfr_sent = 0;
    c->xfr_acked = 0;
    if (xfr_write_next(c)) {
        conn_close(c);
        return -1;
    }
    uv_read_stop((uv_stream_t *)&c->h);
    return 0;
}

/* Answer every complete frame in the input buffer; stop when a write has to wait. */
static void conn_process(conn_t *c)
{
    tcp_pool_t *p = c->pool;
    size_t off = 0;
    while (!c->writing && !c->closing && c->inlen - off >= 2) {
        size_t flen = ((size_t)c->in[off] << 8) | c->in[off + 1];
        if (flen == 0 || flen > TCP_INBUF - 2) {
            conn_close(c); /* an empty frame or one larger than any query we accept */
            return;
        }
        if (c->inlen - off < 2 + flen)
            break;
        if (query_is_transfer(c->in + off + 2, flen)) {
            int tr = conn_transfer(c, c->in + off + 2, flen);
            off += 2 + flen;
            if (tr)
                return;
            uv_timer_again(&c->timer);
            continue;
        }
        size_t rlen = query_process(&p->ans->env, c->in + off + 2, flen, p->out + 2, TCP_MAXRESP,
                                    QUERY_TCP, (const struct sockaddr *)&c->peer);
        off += 2 + flen;
        uv_timer_again(&c->timer);
        lru_touch(p, c);
        if (!rlen)
            continue;
        p->out[0] = (uint8_t)(rlen >> 8);
        p->out[1] = (uint8_t)rlen;
        uv_buf_t b = uv_buf_init((char *)p->out, (unsigned)(rlen + 2));
        int r = uv_try_write((uv_stream_t *)&c->h, &b, 1);
        if (r == (int)(rlen + 2))
            continue;
        if (r < 0 && r != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        size_t done = r > 0 ? (size_t)r : 0;
        if (!c->out && !(c->out = malloc(TCP_MAXRESP + 2))) {
            conn_close(c);
            return;
        }
        memcpy(c->out, p->out + done, rlen + 2 - done);
        uv_buf_t rest = uv_buf_init((char *)c->out, (unsigned)(rlen + 2 - done));
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &rest, 1, conn_on_written)) {
            conn_close(c);
            return;
        }
        c->writing = true;
        uv_read_stop((uv_stream_t *)&c->h); /* backpressure: read more when this is out */
    }
    if (off && !c->closing) {
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
    }
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    c->inlen += (size_t)nread;
    conn_process(c);
    if (!c->closing && c->inlen == TCP_INBUF)
        conn_close(c); /* a full buffer without a complete frame */
}

/* Give the accepted socket fd a free slot (the caller checked there is one). */
static void conn_open(tcp_pool_t *p, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    conn_t *c = p->free_list;
    p->free_list = c->next;
    memset(c, 0, offsetof(conn_t, in));
    c->pool = p;
    c->in_use = true;
    memcpy(&c->peer, peer, plen);
    p->open_conns++;
    uv_tcp_init(p->loop, &c->h);
    uv_timer_init(p->loop, &c->timer);
    c->h.data = c;
    c->timer.data = c;
    lru_push(p, c);
    /* The pool has one spare slot: when the last free one is taken, the connection idle the
     * longest is closed, so a new connection always finds room. */
    if (!p->free_list && p->lru_head != c) {
        p->lru_head->why_closed = "cut off, closed for a new connection (tcp.max_connections)";
        conn_close(p->lru_head);
    }
    if (uv_tcp_open(&c->h, fd)) {
        close(fd); /* not the handle's yet */
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->timer, conn_on_timeout, p->idle_ms, p->idle_ms);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

void tcp_pool_start(tcp_pool_t *p)
{
    uv_idle_init(p->loop, &p->xfr_idle);
    p->xfr_idle.data = p;
}

bool tcp_pool_has_slot(void *ctx)
{
    return ((tcp_pool_t *)ctx)->free_list != NULL;
}

void tcp_pool_take(void *ctx, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    conn_open(ctx, fd, peer, plen);
}

int tcp_pool_init(tcp_pool_t *p, uv_loop_t *loop, answerer_t *ans, metrics_counters_t *counters,
                  uint64_t idle_ms, unsigned max_conns)
{
    p->loop = loop;
    p->ans = ans;
    p->counters = counters;
    p->idle_ms = idle_ms;
    p->nconns = (size_t)max_conns + 1;
    if (!(p->conns = calloc(p->nconns, sizeof(conn_t))))
        return -ENOMEM;
    for (size_t j = p->nconns; j-- > 0;) {
        p->conns[j].next = p->free_list;
        p->free_list = &p->conns[j];
    }
    return 0;
}

void tcp_pool_free(tcp_pool_t *p)
{
    for (size_t i = 0; p->conns && i < p->nconns; i++) {
        free(p->conns[i].out);
        xfr_release(&p->conns[i], "cut off, server stopped");
    }
    free(p->conns);
    p->conns = NULL;
}

bool tcp_pool_close_handle(tcp_pool_t *p, uv_handle_t *h)
{
    conn_t *c = h->data;
    if (c < p->conns || c >= p->conns + p->nconns)
        return false;
    if (h->type == UV_TCP)
        conn_close(c); /* its timer closes with it */
    return true;
}
