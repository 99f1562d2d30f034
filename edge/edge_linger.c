/* edge_linger.c: segment-edge's lingering close: after the last response of a connection whose
 * client may still be sending, shut the write side down, read and drop what arrives, bounded in
 * time and bytes, and close at the client's end of input (nginx's lingering_close). */
#include "edge_conn.h"
#include "listen.h"
#include "log.h"

bool edge_conn_lingering(const conn_t *c)
{
    return c->state == C_LINGERING;
}

/* Bytes waiting in c's socket receive queue (0 when that cannot be told). */
static size_t linger_pending(const conn_t *c)
{
    uv_os_fd_t fd;
    return uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0 ? listen_conn_unread(fd) : 0;
}

/* May input still come after the response that ends c? */
static bool linger_wanted(const conn_t *c)
{
    if (c->w->srv->cfg->linger_timeout == 0 || c->w->closing || c->linger.input_ended) {
        return false;
    }
    return c->linger.refused || c->rlen > 0 || linger_pending(c) > 0;
}

/* What a lingering connection reads is dropped: it lands in one buffer of the worker thread, so
 * the connection gives its request buffers back for the lingering close. */
static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static _Thread_local char drop[CONN_RBUF];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(drop, sizeof(drop));
}

static void linger_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (c->state != C_LINGERING || nread == 0) {
        return;
    }
    if (nread < 0) {
        edge_conn_close(c); /* the client closed (or reset): it had the response */
        return;
    }
    c->linger.bytes += (uint64_t)nread;
    uint64_t cap = c->w->srv->cfg->max_linger_bytes;
    if (c->linger.bytes > cap) {
        log_debug("%s: lingering close: more than max_linger_bytes (%llu) arrived, closing",
                  c->peer_str, (unsigned long long)cap);
        edge_conn_close(c);
    }
}

static void linger_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    log_debug("%s: lingering close: timeouts.linger passed (%llu bytes dropped), closing",
              c->peer_str, (unsigned long long)c->linger.bytes);
    edge_conn_close(c);
}

/* The FIN went after the response; a failure means the client is gone. A close while the
 * shutdown is pending calls this with UV_ECANCELED, c already closing. */
static void linger_on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    if (status < 0 && c->state == C_LINGERING) {
        edge_conn_close(c);
    }
}

/* Shut the write side down and read on, dropping everything. Returns 0, or a negative code
 * when the shutdown could not be queued (then nothing changed). */
static int linger_start(conn_t *c)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    c->linger.sreq.data = c;
    int rc = uv_shutdown(&c->linger.sreq, s, linger_on_shutdown);
    if (rc != 0) {
        return rc;
    }
    c->state = C_LINGERING;
    STAT_ADD(c->w->st.conns_lingering, 1);
    c->linger.bytes = c->rlen; /* what was read of the rest already is dropped too */
    c->rlen = 0;               /* and stays 0: every read lands in linger_alloc's buffer */
    edge_conn_buf_free(c);     /* the response was sent whole: nothing in them is in use */
    edge_list_add(&c->w->lingering, &c->linger.link);
    uv_timer_start(&c->timer, linger_on_timeout, c->w->srv->cfg->linger_timeout, 0);
    uv_read_stop(s);
    rc = uv_read_start(s, linger_alloc, linger_on_read);
    if (rc != 0) {
        edge_conn_close(c);
    }
    return 0;
}

void edge_conn_end(conn_t *c)
{
    if (!linger_wanted(c) || linger_start(c) != 0) {
        edge_conn_close(c);
    }
}
