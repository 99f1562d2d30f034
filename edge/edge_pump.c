/* edge_pump.c: the body pump: writes a response's head and body (memory, a file with sendfile,
 * or a cached object while it fills) as the socket takes them, and waits on objects. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "edge_conn.h"

#define MAX_BUFS       64
#define SENDFILE_PIECE 16384 /* copied piece queued when the socket is full */

static void conn_throttle_resume(uv_timer_t *t);

/* ---- writing ---- */

static bool conn_throttled(const conn_t *c)
{
    return c->w->srv->cfg->throttle && c->body.src == SRC_MEM && !c->resp.head_only &&
           c->body.end > 0 && c->body.off < (uint64_t)c->body.end;
}

static void conn_on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    if (c->state == C_CLOSING) {
        return;
    }
    if (status < 0) {
        edge_conn_cut(c, CUT_CLIENT); /* the socket refused the rest: the client is gone */
        return;
    }
    size_t n = c->body.write_len;
    STAT_ADD(c->w->st.bytes_out, n);
    c->resp.bytes_out += n;
    /* Progress: the send bound starts again, and keeps running if the pump has to wait. */
    edge_conn_timer(c, T_SEND);
    if (conn_throttled(c)) {
        /* test aid: pace the body at about throttle bytes/s, one slice per 100 ms */
        uv_timer_start(&c->timer, conn_throttle_resume, 100, 0);
        return;
    }
    edge_conn_pump(c);
}

static void conn_throttle_resume(uv_timer_t *t)
{
    edge_conn_pump(t->data);
}

static int conn_write(conn_t *c, uv_buf_t *bufs, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        total += bufs[i].len;
    }
    c->body.write_len = total;
    c->writing = true;
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, conn_on_write);
    if (rc != 0) {
        c->writing = false;
        edge_conn_cut(c, CUT_ERROR);
        return rc;
    }
    edge_conn_timer(c, T_SEND); /* a client that reads nothing is closed */
    return 0;
}

/* Wait for c's object to progress. The send bound runs meanwhile (from the last write, or from
 * now): a response that sends nothing for send_timeout is closed, also while it waits for a
 * range far ahead in a slow fill, so a client that never reads cannot hold it for ever. */
static void conn_wait(conn_t *c)
{
    if (!edge_list_linked(&c->wait)) {
        edge_list_add(&c->w->waiting, &c->wait);
    }
    if (!uv_is_active((uv_handle_t *)&c->timer)) {
        edge_conn_timer(c, T_SEND);
    }
    if (c->body.obj) {
        __atomic_fetch_or(&c->body.obj->waiter_mask, EDGE_WORKER_BIT(c->w->id), __ATOMIC_SEQ_CST);
    }
}

/* What the result n of a nonblocking send() or sendfile() on a connection calls for. */
typedef enum io_next {
    IO_SENT,   /* n bytes went out: count them, go on */
    IO_RETRY,  /* interrupted before anything went: try again */
    IO_FULL,   /* the socket buffer is full: queue the rest with uv_write */
    IO_CLOSED, /* an error, or nothing to send (the file ended early): close */
} io_next_t;

/* Why a send() or sendfile() that returned n (IO_CLOSED) ended the response. */
static conn_cut_t io_cut(ssize_t n)
{
    return n < 0 && (errno == EPIPE || errno == ECONNRESET) ? CUT_CLIENT : CUT_ERROR;
}

static io_next_t io_next(ssize_t n)
{
    if (n > 0) {
        return IO_SENT;
    }
    if (n < 0 && errno == EINTR) {
        return IO_RETRY;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return IO_FULL;
    }
    return IO_CLOSED;
}

/* Body bytes [*off, end) from a file (memfd of a cached object, or the served file) with
 * sendfile: page references instead of copies. The head goes first with MSG_MORE. When the
 * socket is full, one copied piece is queued with uv_write so that its callback says when to go
 * on. Returns 0 to continue in the pump, 1 when a write is queued, -1 when closed. Only called
 * with libuv's write queue empty, so the order of bytes is kept. */
static int conn_sendfile(conn_t *c, int file_fd, const char *base, uint64_t *off, uint64_t end)
{
    uv_os_fd_t sock;
    if (uv_fileno((uv_handle_t *)&c->tcp, &sock) != 0) {
        return 0;
    }
    conn_response_t *r = &c->resp;
    size_t hlen = r->plan.hdr_len;
    while (r->hdr_sent < hlen) {
        ssize_t n = send(sock, c->buf->hdr + r->hdr_sent, hlen - r->hdr_sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL | (*off < end ? MSG_MORE : 0));
        io_next_t next = io_next(n);
        if (next == IO_SENT) {
            r->hdr_sent += (size_t)n;
            r->bytes_out += (uint64_t)n;
            STAT_ADD(c->w->st.bytes_out, (uint64_t)n);
        } else if (next == IO_FULL) {
            uv_buf_t b = uv_buf_init(c->buf->hdr + r->hdr_sent, (unsigned)(hlen - r->hdr_sent));
            r->hdr_sent = hlen;
            return conn_write(c, &b, 1) == 0 ? 1 : -1;
        } else if (next == IO_CLOSED) {
            edge_conn_cut(c, io_cut(n));
            return -1;
        }
    }
    while (*off < end) {
        off_t fo = (off_t)*off;
        ssize_t n = sendfile(sock, file_fd, &fo, (size_t)(end - *off));
        io_next_t next = io_next(n);
        if (next == IO_SENT) {
            *off += (uint64_t)n;
            r->body_out += (uint64_t)n;
            r->bytes_out += (uint64_t)n;
            STAT_ADD(c->w->st.bytes_out, (uint64_t)n);
        } else if (next == IO_FULL) {
            uint64_t piece = end - *off < SENDFILE_PIECE ? end - *off : SENDFILE_PIECE;
            uv_buf_t b = uv_buf_init((char *)base + *off, (unsigned)piece);
            *off += piece;
            r->body_out += piece;
            return conn_write(c, &b, 1) == 0 ? 1 : -1;
        } else if (next == IO_CLOSED) {
            edge_conn_cut(c, io_cut(n));
            return -1;
        }
    }
    return 0;
}

/* Bytes of a memory body for one write. */
static unsigned pump_mem(conn_t *c, uv_buf_t *bufs, bool *done)
{
    conn_body_t *b = &c->body;
    uint64_t end = b->end > 0 ? (uint64_t)b->end : 0;
    uint64_t avail = end > b->off ? end - b->off : 0;
    uint64_t thr = c->w->srv->cfg->throttle;
    if (thr && avail > thr / 10 + 1) {
        avail = thr / 10 + 1;
    }
    unsigned n = 0;
    if (avail > 0) {
        bufs[n++] = uv_buf_init((char *)b->base + b->off, (unsigned)avail);
        b->off += avail;
        c->resp.body_out += avail;
    }
    *done = b->off >= end;
    return n;
}

/* Bytes of a cached object for one write: what has arrived of [off, end). Returns the count of
 * buffers; *done when the body is complete; -1 when the connection was closed. */
static int pump_obj(conn_t *c, uv_buf_t *bufs, bool *done)
{
    conn_body_t *b = &c->body;
    edge_obj_t *o = b->obj;
    int st = edge_obj_state(o);
    uint64_t filled = edge_obj_filled(o);
    uint64_t end = b->end >= 0 ? (uint64_t)b->end : filled;
    if (end > filled) {
        end = filled;
    }
    /* Read through the pass-through window contract, also when nothing is there yet: the
     * window learns where this reader is. Room is kept for the chunk size line. */
    unsigned skip = b->chunked ? 1 : 0;
    int k =
        edge_obj_read(o, &b->rd, b->off, b->off < end ? end : b->off, bufs + skip, MAX_BUFS - skip);
    if (k < 0) {
        /* Dropped a full window behind (too slow): its bytes are gone; the message is cut. */
        edge_conn_cut(c, CUT_SLOW_READER);
        return -1;
    }
    unsigned n = 0;
    if (b->off < end) {
        if (b->chunked) {
            bufs[n++] = uv_buf_init(b->chunk_hdr, 0); /* filled in below */
        }
        uint64_t got = 0;
        for (int i = 0; i < k; i++) {
            got += bufs[n + (unsigned)i].len;
        }
        n += (unsigned)k;
        if (b->chunked && got == 0) {
            n = 0; /* never a zero-size chunk: it would end the body */
        } else if (b->chunked) {
            snprintf(b->chunk_hdr, sizeof(b->chunk_hdr), "%llx\r\n", (unsigned long long)got);
            bufs[0] = uv_buf_init(b->chunk_hdr, (unsigned)strlen(b->chunk_hdr));
            bufs[n++] = uv_buf_init("\r\n", 2);
        }
        b->off += got;
        c->resp.body_out += got;
    }
    bool all =
        b->end >= 0 ? b->off >= (uint64_t)b->end : (st == EDGE_OBJ_COMPLETE && b->off >= filled);
    if (all && b->chunked && !b->last_chunk_sent) {
        bufs[n++] = uv_buf_init("0\r\n\r\n", 5);
        b->last_chunk_sent = true;
    }
    *done = all;
    if (!all && n == 0 && st == EDGE_OBJ_FAILED) {
        /* The origin broke off mid-body: the client must see a truncated message. */
        edge_conn_cut(c, CUT_ORIGIN);
        return -1;
    }
    return (int)n;
}

void edge_conn_pump(conn_t *c)
{
    bool registered = false;
    conn_body_t *b = &c->body;
    conn_response_t *r = &c->resp;
    while (c->state == C_RESPONDING && !c->writing) {
        if (!r->head_ready) {
            if (b->src != SRC_OBJ || edge_cache_prepare(c) == PREP_BLOCKED) {
                if (!registered) {
                    conn_wait(c);
                    registered = true;
                    continue; /* re-check once after registering: no lost wake-up */
                }
                return;
            }
        }
        if (b->src == SRC_OBJ && b->obj->fd >= 0 && !b->chunked && !r->head_only) {
            uint64_t filled = edge_obj_filled(b->obj);
            uint64_t end = b->end >= 0 && (uint64_t)b->end < filled ? (uint64_t)b->end : filled;
            if (b->off < end && conn_sendfile(c, b->obj->fd, b->obj->map, &b->off, end) != 0) {
                return;
            }
        } else if (b->src == SRC_MEM && b->fd >= 0 && !c->w->srv->cfg->throttle && b->end > 0 &&
                   b->off < (uint64_t)b->end) {
            if (conn_sendfile(c, b->fd, b->base, &b->off, (uint64_t)b->end) != 0) {
                return;
            }
        }
        uv_buf_t bufs[MAX_BUFS + 3];
        unsigned n = 0;
        if (r->hdr_sent < r->plan.hdr_len) {
            bufs[n++] =
                uv_buf_init(c->buf->hdr + r->hdr_sent, (unsigned)(r->plan.hdr_len - r->hdr_sent));
            r->hdr_sent = r->plan.hdr_len;
        }
        bool done = true;
        if (b->src == SRC_OBJ) {
            int k = pump_obj(c, bufs + n, &done);
            if (k < 0) {
                return;
            }
            if (!done && n + (unsigned)k == 0) {
                if (!registered) {
                    conn_wait(c);
                    registered = true;
                    continue;
                }
                return;
            }
            n += (unsigned)k;
        } else if (b->src == SRC_MEM) {
            n += pump_mem(c, bufs + n, &done);
        }
        if (edge_list_linked(&c->wait)) {
            edge_list_del(&c->wait);
        }
        if (n > 0) {
            conn_write(c, bufs, n);
            return;
        }
        if (done) {
            edge_conn_response_done(c);
        }
        return;
    }
}
