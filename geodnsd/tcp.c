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
    uint8_t *out;      /* pending write: allocated on the first backpressure, freed on close */
    uint8_t *xfr_out;  /* a zone transfer being written: freed when written or on close */
    size_t xfr_len;    /* its length, and how much of it was handed to the kernel (kept after */
    size_t xfr_off;    /* it is freed, for conn_on_timeout, until the next transfer) */
    int64_t xfr_acked; /* of that, what the client had acknowledged at the last idle tick */
    bool xfr_held;     /* it counts against tcp.max_transfers (xfr_held_n) */
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

/* Zone transfers whose whole response is held in memory while it is written, over all workers:
 * at most tcp.max_transfers of them (conn_transfer). */
static atomic_uint xfr_held_n;

/* A transfer is handed to the kernel this much at a time: each piece taken restarts the idle
 * timer (and conn_on_timeout looks at what the client acknowledged), so a secondary that reads
 * slowly but steadily gets the whole zone, and one that stops reading is closed after one or
 * two idle_timeouts. */
#define XFR_PIECE (64 * 1024)

unsigned tcp_transfers_held(void)
{
    return atomic_load_explicit(&xfr_held_n, memory_order_relaxed);
}

static void xfr_release(conn_t *c)
{
    free(c->xfr_out);
    c->xfr_out = NULL;
    if (c->xfr_held) {
        atomic_fetch_sub(&xfr_held_n, 1);
        c->xfr_held = false;
    }
}

static void conn_on_written(uv_write_t *req, int status);

/* Write the next piece of the transfer in c->xfr_out. Returns uv_write's result. */
static int xfr_write_next(conn_t *c)
{
    size_t n = c->xfr_len - c->xfr_off;
    if (n > XFR_PIECE)
        n = XFR_PIECE;
    uv_buf_t b = uv_buf_init((char *)c->xfr_out + c->xfr_off, (unsigned)n);
    c->xfr_off += n;
    c->wreq.data = c;
    return uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, conn_on_written);
}

static void conn_on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    tcp_pool_t *p = c->pool;
    free(c->out);
    c->out = NULL;
    xfr_release(c);
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

/* The idle timer ticks every idle_timeout. A connection that has sent a transfer and still has
 * some of it in the kernel's send queue is idle only when the client acknowledged nothing since
 * the last tick: what the kernel takes from us is too coarse a measure (it wakes the writer only
 * once much of a send buffer of up to 4 MB is free, which a secondary reading slowly but
 * steadily may take longer than idle_timeout to read), and the last 4 MB are still on their way
 * after the last piece was taken. */
static void conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    uv_os_fd_t fd;
    int outq;
    if (c->xfr_off && uv_fileno((const uv_handle_t *)&c->h, &fd) == 0 &&
        ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0) {
        int64_t acked = (int64_t)c->xfr_off - outq;
        if (acked != c->xfr_acked) {
            c->xfr_acked = acked;
            return;
        }
    }
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
    if (c->xfr_out && c->xfr_off < c->xfr_len) {
        /* The kernel took the last piece: the secondary is reading. */
        uv_timer_again(&c->timer);
        lru_touch(c->pool, c);
        if (xfr_write_next(c)) {
            conn_close(c);
            return;
        }
        c->writing = true;
        return;
    }
    xfr_release(c);
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

/* A zone transfer request: the whole response (one frame per message) is built in its own
 * buffer and written a piece at a time; reading waits until it is out. At most
 * tcp.max_transfers such buffers exist at once: past that an allowed request gets SERVFAIL.
 * Returns -1 when the connection closed. */
static int conn_transfer(conn_t *c, const uint8_t *pkt, size_t len)
{
    uint8_t *out;
    size_t outlen;
    xfr_result_t r;
    char peer[INET6_ADDRSTRLEN + 8] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof(peer));
    /* Take a place first, so that concurrent workers never build more than the limit. */
    unsigned max = c->pool->ans->snap->cfg.tcp_max_xfr;
    bool busy = atomic_fetch_add(&xfr_held_n, 1) >= max;
    int rc = xfr_process(&c->pool->ans->env, pkt, len, sa, (uint64_t)time(NULL), busy, &out,
                         &outlen, &r);
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
        log_info("transfer #%lu allowed: %s of %s serial %u to %s%s%s: %zu messages, %zu records",
                 n, r.qtype == DNS_TYPE_IXFR ? "IXFR (sent as AXFR)" : "AXFR", r.zone, r.serial,
                 peer, r.key ? " key " : "", r.key ? r.key : "", r.messages, r.records);
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
    c->xfr_out = out;
    c->xfr_len = outlen;
    c->xfr_off = 0;
    c->xfr_acked = 0;
    c->xfr_held = held;
    if (xfr_write_next(c)) {
        conn_close(c);
        return -1;
    }
    c->writing = true;
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
    if (!p->free_list && p->lru_head != c)
        conn_close(p->lru_head);
    if (uv_tcp_open(&c->h, fd)) {
        close(fd); /* not the handle's yet */
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->timer, conn_on_timeout, p->idle_ms, p->idle_ms);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
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
        xfr_release(&p->conns[i]);
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
