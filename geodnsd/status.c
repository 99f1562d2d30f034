/* status.c: the metrics and status listener on the main loop: accept (bounded), read one
 * request head (bounded, with a deadline), render the page into a bounded buffer, write, close;
 * after an error reply a lingering close (bounded) so that the client reads it.
 */
#include "status.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "addr.h"
#include "listen.h"
#include "log.h"
#include "status_http.h"

#define STATUS_BACKLOG      64
#define STATUS_ACCEPT_BATCH 16
#define STATUS_PAUSE_MS     100 /* rest after accept fails for lack of resources */
#define STATUS_HEAD_OUT_MAX 512 /* the response's status line and headers */

typedef struct status_conn status_conn_t;
struct status_conn {
    uv_tcp_t h;
    uv_timer_t timer;
    gd_status_t *srv;
    status_conn_t *prev, *next; /* open connections, oldest first; free list when unused */
    int open_handles;
    bool closing;
    bool answered; /* a response is being written: input is no longer parsed */
    /* The lingering close: after the reply the write side is shut down (FIN) and what the client
     * still sends is read and dropped, so that closing with unread input does not reset the
     * connection before the client has read the reply. */
    bool linger;    /* input may still come after the reply: read and drop it */
    bool lingering; /* the reply is out and the FIN sent: waiting for the client's end */
    size_t dropped;
    size_t inlen;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    metrics_buf_t body;
    char head[STATUS_HEAD_OUT_MAX];
    char in[STATUS_HTTP_HEAD_MAX];
};

struct gd_status {
    uv_loop_t *loop;
    gd_acceptor_t acc;
    gd_status_collect_t collect;
    void *ctx;
    char text[80]; /* the address, for logs */
    /* metrics.allow of the config in force (gd_status_set_allow); any address when empty. */
    addr_net_t allow[GD_METRICS_ALLOW_MAX];
    size_t nallow;
    uint64_t refused; /* connections closed at accept: the peer is outside allow */
    status_conn_t *free_list;
    status_conn_t *head, *tail;
    status_conn_t conns[STATUS_CONNS_MAX + 1]; /* one spare: see conn_open */
};

/* ---- connections ---- */

static void list_unlink(gd_status_t *s, status_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->tail = c->prev;
    c->prev = c->next = NULL;
}

static void conn_on_closed(uv_handle_t *h)
{
    status_conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    metrics_buf_deinit(&c->body);
    c->next = c->srv->free_list;
    c->srv->free_list = c;
}

static void conn_close(status_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    list_unlink(c->srv, c);
    c->open_handles = 2;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_on_closed);
    uv_close((uv_handle_t *)&c->h, conn_on_closed);
}

static void conn_on_timeout(uv_timer_t *t)
{
    conn_close(t->data); /* a slow or silent client: its deadline passed */
}

/* The FIN went after the reply: close, or linger for the client's end (STATUS_LINGER_MS). */
static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    status_conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || !c->linger) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    uv_timer_start(&c->timer, conn_on_timeout, STATUS_LINGER_MS, 0);
}

static void conn_on_written(uv_write_t *req, int status)
{
    status_conn_t *c = req->data;
    if (c->closing)
        return;
    c->sreq.data = c;
    if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->h, conn_on_shutdown))
        conn_close(c);
}

static const char *reason_of(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

/* Send code with c->body (already filled) and close after it: at once after a 200 with nothing
 * left unread, else after a lingering close. */
static void conn_respond(status_conn_t *c, int code, const char *type, bool head_only)
{
    c->answered = true;
    uv_os_fd_t fd;
    c->linger =
        code != 200 || (uv_fileno((uv_handle_t *)&c->h, &fd) == 0 && listen_conn_unread(fd) > 0);
    if (!c->linger)
        uv_read_stop((uv_stream_t *)&c->h);
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
                     "%sConnection: close\r\n\r\n",
                     code, reason_of(code), type, c->body.len,
                     code == 405 ? "Allow: GET, HEAD\r\n" : "");
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                        uv_buf_init(c->body.data ? c->body.data : c->head, (unsigned)c->body.len)};
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->h, bufs, head_only || !c->body.len ? 1 : 2,
                 conn_on_written))
        conn_close(c);
}

static void conn_error(status_conn_t *c, int code)
{
    metrics_buf_printf(&c->body, "%d %s\n", code, reason_of(code));
    conn_respond(c, code, "text/plain; charset=utf-8", false);
}

static void conn_dispatch(status_conn_t *c, const status_http_request_t *req)
{
    bool head_only = !strcmp(req->method, "HEAD");
    if (!head_only && strcmp(req->method, "GET")) {
        conn_error(c, 405);
        return;
    }
    void (*render)(metrics_buf_t *, const metrics_facts_t *) = NULL;
    const char *type = NULL;
    if (!strcmp(req->path, "/") || !strcmp(req->path, "/index.html")) {
        render = status_html_render;
        type = "text/html; charset=utf-8";
    } else if (!strcmp(req->path, "/metrics")) {
        render = metrics_prom_render;
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (!strcmp(req->path, "/status.json")) {
        render = status_json_render;
        type = "application/json";
    } else {
        conn_error(c, 404);
        return;
    }
    metrics_facts_t f;
    memset(&f, 0, sizeof(f));
    c->srv->collect(c->srv->ctx, &f);
    render(&c->body, &f);
    if (c->body.overflow) {
        bool nomem = c->body.nomem;
        metrics_buf_deinit(&c->body);
        metrics_buf_init(&c->body, STATUS_BODY_MAX);
        if (nomem)
            log_warn("status %s: out of memory for the response to %s; answered 500", c->srv->text,
                     req->path);
        else
            log_warn("status %s: the response to %s is larger than %u bytes; answered 500",
                     c->srv->text, req->path, STATUS_BODY_MAX);
        conn_error(c, 500);
        return;
    }
    conn_respond(c, 200, type, head_only);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    status_conn_t *c = h->data;
    size_t off = c->answered ? 0 : c->inlen; /* once answered, the request is done with */
    buf->base = c->in + off;
    buf->len = sizeof(c->in) - off;
}

/* Input after the reply (the lingering close): dropped; the client's end closes, after the reply
 * is out; past STATUS_LINGER_MAX the connection is closed. */
static void conn_drop(status_conn_t *c, ssize_t nread)
{
    if (nread < 0) {
        c->linger = false; /* nothing more comes: close once the reply is out */
        uv_read_stop((uv_stream_t *)&c->h);
        if (c->lingering)
            conn_close(c);
        return;
    }
    c->dropped += (size_t)nread;
    if (c->dropped > STATUS_LINGER_MAX)
        conn_close(c);
}

static void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    status_conn_t *c = st->data;
    if (nread == 0)
        return;
    if (c->answered) {
        conn_drop(c, nread);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->inlen += (size_t)nread;
    status_http_request_t req;
    switch (status_http_parse(c->in, c->inlen, &req)) {
    case STATUS_HTTP_INCOMPLETE:
        return; /* the deadline bounds how long this may go on */
    case STATUS_HTTP_BAD:
        conn_error(c, 400);
        return;
    case STATUS_HTTP_TOO_LARGE:
        conn_error(c, 431);
        return;
    case STATUS_HTTP_URI_TOO_LONG:
        conn_error(c, 414);
        return;
    case STATUS_HTTP_DONE:
        conn_dispatch(c, &req);
        return;
    }
}

/* Give the accepted socket fd a free slot (the caller checked there is one). */
static void conn_open(gd_status_t *s, int fd)
{
    status_conn_t *c = s->free_list;
    s->free_list = c->next;
    memset(c, 0, offsetof(status_conn_t, head));
    c->srv = s;
    metrics_buf_init(&c->body, STATUS_BODY_MAX);
    c->prev = s->tail;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    uv_tcp_init(s->loop, &c->h);
    uv_timer_init(s->loop, &c->timer);
    c->h.data = c->timer.data = c;
    /* One slot is spare: taking the last free one closes the oldest lingering close, else the
     * oldest connection, so at most STATUS_CONNS_MAX stay open and a new client always gets in. */
    if (!s->free_list && s->head != c) {
        status_conn_t *old = s->head;
        while (old != c && !old->lingering)
            old = old->next;
        conn_close(old != c ? old : s->head);
    }
    if (uv_tcp_open(&c->h, fd)) {
        close(fd);
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, conn_on_timeout, STATUS_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

/* ---- listener ---- */

static bool status_has_slot(void *ctx)
{
    return ((gd_status_t *)ctx)->free_list != NULL;
}

static void status_take(void *ctx, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    gd_status_t *s = ctx;
    if (s->nallow &&
        (plen == 0 || !addr_net_list_match(s->allow, s->nallow, (const struct sockaddr *)peer))) {
        /* Closed before a byte is read: it takes no slot and evicts no scraper's connection. */
        s->refused++;
        close(fd);
        return;
    }
    conn_open(s, fd);
}

void gd_status_set_allow(gd_status_t *s, const addr_net_t *allow, size_t n)
{
    if (n > GD_METRICS_ALLOW_MAX)
        n = GD_METRICS_ALLOW_MAX;
    memcpy(s->allow, allow, n * sizeof(*allow));
    s->nallow = n;
}

uint64_t gd_status_refused(const gd_status_t *s)
{
    return s ? s->refused : 0;
}

static int status_socket(const gd_listen_t *addr, char *err, size_t errlen)
{
    int one = 1;
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        (addr->ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
        bind(fd, (const struct sockaddr *)&addr->ss, addr->len) || listen(fd, STATUS_BACKLOG)) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s (metrics and status page): %s%s", addr->text,
                 strerror(e),
                 e == EADDRINUSE ? "; stop the other process or change metrics.listen (or "
                                   "--metrics)"
                                 : "");
        if (fd >= 0)
            close(fd);
        return -e;
    }
    return fd;
}

int gd_status_start(uv_loop_t *loop, const gd_listen_t *addr, gd_status_collect_t collect,
                    void *ctx, gd_status_t **out, char *err, size_t errlen)
{
    gd_status_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->acc.fd = status_socket(addr, err, errlen);
    if (s->acc.fd < 0) {
        int rc = s->acc.fd;
        free(s);
        return rc;
    }
    s->loop = loop;
    s->collect = collect;
    s->ctx = ctx;
    snprintf(s->text, sizeof(s->text), "%s", addr->text);
    for (size_t i = STATUS_CONNS_MAX + 1; i-- > 0;) {
        s->conns[i].next = s->free_list;
        s->free_list = &s->conns[i];
    }
    s->acc.batch = STATUS_ACCEPT_BATCH;
    s->acc.pause_ms = STATUS_PAUSE_MS;
    snprintf(s->acc.what, sizeof(s->acc.what), "status %s", addr->text);
    s->acc.has_slot = status_has_slot;
    s->acc.take = status_take;
    s->acc.ctx = s;
    if (gd_acceptor_start(&s->acc, loop)) {
        snprintf(err, errlen, "cannot watch %s (metrics and status page)", addr->text);
        close(s->acc.fd);
        free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

void gd_status_stop(gd_status_t *s)
{
    if (!s)
        return;
    while (s->head)
        conn_close(s->head);
    gd_acceptor_close(&s->acc, NULL);
}

void gd_status_free(gd_status_t *s)
{
    if (!s)
        return;
    close(s->acc.fd); /* the poll handle did not own it */
    free(s);
}
