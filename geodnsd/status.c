/* status.c: the metrics and status listener on the main loop: accept (bounded), read one
 * request head (bounded, with a deadline), render the page into a bounded buffer, write, close.
 */
#include "status.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    bool answered; /* a response is being written: input is no longer read */
    size_t inlen;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    metrics_buf_t body;
    char head[STATUS_HEAD_OUT_MAX];
    char in[STATUS_HTTP_HEAD_MAX];
};

struct gd_status {
    uv_loop_t *loop;
    int fd;
    uv_poll_t poll;
    uv_timer_t pause;
    gd_status_collect_t collect;
    void *ctx;
    char text[80]; /* the address, for logs */
    bool warned;
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

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
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

/* Send code with c->body (already filled) and close after it. */
static void conn_respond(status_conn_t *c, int code, const char *type, bool head_only)
{
    c->answered = true;
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
        metrics_buf_deinit(&c->body);
        metrics_buf_init(&c->body, STATUS_BODY_MAX);
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
    buf->base = c->in + c->inlen;
    buf->len = sizeof(c->in) - c->inlen;
}

static void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    status_conn_t *c = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->answered)
        return;
    c->inlen += (size_t)nread;
    status_http_request_t req;
    switch (status_http_parse(c->in, c->inlen, &req)) {
    case STATUS_HTTP_INCOMPLETE:
        return; /* the deadline bounds how long this may go on */
    case STATUS_HTTP_BAD:
        conn_error(c, 400);
        return;
    case STATUS_HTTP_TOO_LARGE:
        conn_error(c, c->inlen >= sizeof(c->in) ? 431 : 414);
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
    /* One slot is spare: taking the last free one closes the oldest connection, so at most
     * STATUS_CONNS_MAX stay open and a new client always gets in. */
    if (!s->free_list && s->head != c)
        conn_close(s->head);
    if (uv_tcp_open(&c->h, fd)) {
        close(fd);
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, conn_on_timeout, STATUS_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

/* ---- listener ---- */

static void status_on_readable(uv_poll_t *p, int status, int events);

static void status_on_resume(uv_timer_t *t)
{
    gd_status_t *s = t->data;
    uv_poll_start(&s->poll, UV_READABLE, status_on_readable);
}

static void status_on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    gd_status_t *s = p->data;
    int e = status < 0 ? -status : 0;
    for (int i = 0; !e && i < STATUS_ACCEPT_BATCH; i++) {
        if (!s->free_list)
            return; /* every slot is closing: the poll fires again next turn */
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->warned = false;
            conn_open(s, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            e = errno;
    }
    if (!e)
        return;
    if (!s->warned)
        log_warn("status %s: cannot accept connections: %s; retrying every %d ms", s->text,
                 strerror(e), STATUS_PAUSE_MS);
    s->warned = true;
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->pause, status_on_resume, STATUS_PAUSE_MS, 0);
}

static int listen_socket(const gd_listen_t *addr, char *err, size_t errlen)
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
    s->fd = listen_socket(addr, err, errlen);
    if (s->fd < 0) {
        int rc = s->fd;
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
    if (uv_poll_init(loop, &s->poll, s->fd)) {
        snprintf(err, errlen, "cannot watch %s (metrics and status page)", addr->text);
        close(s->fd);
        free(s);
        return -EINVAL;
    }
    s->poll.data = s;
    uv_timer_init(loop, &s->pause);
    s->pause.data = s;
    uv_poll_start(&s->poll, UV_READABLE, status_on_readable);
    *out = s;
    return 0;
}

void gd_status_stop(gd_status_t *s)
{
    if (!s)
        return;
    while (s->head)
        conn_close(s->head);
    uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->pause, NULL);
}

void gd_status_free(gd_status_t *s)
{
    if (!s)
        return;
    close(s->fd); /* the poll handle did not own it */
    free(s);
}
