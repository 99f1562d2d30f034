/* tcp.c: a worker's DNS-over-TCP connections (see tcp.h). */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    uint8_t *out;     /* pending write: allocated on the first backpressure, freed on close */
    uint8_t *xfr_out; /* a zone transfer being written: freed when written or on close */
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

static void conn_on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    tcp_pool_t *p = c->pool;
    free(c->out);
    c->out = NULL;
    free(c->xfr_out);
    c->xfr_out = NULL;
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

static void conn_on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
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
    free(c->xfr_out);
    c->xfr_out = NULL;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
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

/* A zone transfer request: the whole response (one frame per message) is written in one go
 * from its own buffer; reading waits until it is out. Returns -1 when the connection closed. */
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
    if (xfr_process(&c->pool->ans->env, pkt, len, sa, (uint64_t)time(NULL), &out, &outlen, &r)) {
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
    else if (xfr_refused_log(&unlogged))
        log_info("transfer #%lu refused: %s of %s serial %u to %s%s%s: rcode %u tsig error %u%s", n,
                 r.qtype == DNS_TYPE_IXFR ? "IXFR" : "AXFR", r.zone, r.serial, peer,
                 r.key ? " key " : "", r.key ? r.key : "", r.rcode, r.tsig_error,
                 unlogged ? unlogged_note(more, sizeof(more), unlogged) : "");
    c->xfr_out = out;
    uv_buf_t b = uv_buf_init((char *)out, (unsigned)outlen);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, conn_on_written)) {
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
        lru_unlink(p, c);
        lru_push(p, c);
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
        free(p->conns[i].xfr_out);
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
