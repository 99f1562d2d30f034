/* hc_probe.c: one probe of one address over libuv: connect, send a GET, read and parse a bounded
 * response, all under one timeout. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc_http.h"
#include "hc_internal.h"

#define PROBE_NS_PER_MS 1e6

typedef enum hc_probe_phase {
    PROBE_CONNECTING = 0,
    PROBE_READING,
    PROBE_DONE, /* the callback ran; only the handles' close remains */
} hc_probe_phase_t;

struct hc_probe {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    int open_handles; /* tcp and timer, until their close callbacks */
    hc_probe_phase_t phase;
    hc_probe_spec_t spec;
    hc_probe_cb cb;
    void *ctx;
    uint64_t start_ns;
    int early_err; /* uv_tcp_connect's own error, reported from the timer */
    int send_err;  /* a failed send, reported if no response comes */
    char *buf;     /* HC_RESPONSE_MAX bytes, allocated when the first bytes arrive */
    size_t len;
    hc_http_t http;
};

static void probe_on_close(uv_handle_t *h)
{
    hc_probe_t *p = h->data;
    if (--p->open_handles == 0) {
        free(p->buf);
        free(p);
    }
}

/* Report o and close: the callback runs once, the memory goes with the last handle. */
static void probe_finish(hc_probe_t *p, hc_outcome_t *o)
{
    if (p->phase == PROBE_DONE)
        return;
    p->phase = PROBE_DONE;
    o->rtt_ms = (double)(uv_hrtime() - p->start_ns) / PROBE_NS_PER_MS;
    uv_timer_stop(&p->timer);
    /* The socket closes before the callback, so a probe the callback starts can have its
     * descriptor; p and its buffer (o->body) stay until the close callbacks. */
    uv_close((uv_handle_t *)&p->tcp, probe_on_close);
    uv_close((uv_handle_t *)&p->timer, probe_on_close);
    p->cb(o, p->ctx);
}

static void probe_fail(hc_probe_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void probe_fail(hc_probe_t *p, const char *fmt, ...)
{
    hc_outcome_t o;
    memset(&o, 0, sizeof(o));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.reason, sizeof(o.reason), fmt, ap);
    va_end(ap);
    probe_finish(p, &o);
}

void hc_probe_cancel(hc_probe_t *p, const char *reason)
{
    probe_fail(p, "%s", reason);
}

static void probe_on_timer(uv_timer_t *t)
{
    hc_probe_t *p = t->data;
    if (p->early_err)
        probe_fail(p, "connect: %s", uv_strerror(p->early_err));
    else if (p->phase == PROBE_CONNECTING)
        probe_fail(p, "timeout after %u ms connecting", p->spec.timeout_ms);
    else if (p->len == 0)
        probe_fail(p, "timeout after %u ms waiting for the response", p->spec.timeout_ms);
    else
        probe_fail(p, "timeout after %u ms reading the response (%zu bytes read)",
                   p->spec.timeout_ms, p->len);
}

static void probe_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    hc_probe_t *p = h->data;
    (void)suggested;
    if (!p->buf)
        p->buf = malloc(HC_RESPONSE_MAX);
    if (!p->buf || p->len >= HC_RESPONSE_MAX)
        *b = uv_buf_init(NULL, 0); /* the read callback gets UV_ENOBUFS */
    else
        *b = uv_buf_init(p->buf + p->len, (unsigned)(HC_RESPONSE_MAX - p->len));
}

static void probe_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    hc_probe_t *p = s->data;
    static char empty[1];
    (void)b;
    if (p->phase == PROBE_DONE || nread == 0)
        return;
    if (nread == UV_ENOBUFS) {
        probe_fail(p, "out of memory");
        return;
    }
    hc_http_end_t end = HC_HTTP_OPEN;
    int read_err = 0;
    if (nread > 0) {
        p->len += (size_t)nread;
        if (p->len >= HC_RESPONSE_MAX)
            end = HC_HTTP_CUT;
    } else {
        /* EOF or a reset: judge what arrived, which may be a whole response. */
        read_err = nread == UV_EOF ? 0 : (int)nread;
        end = HC_HTTP_CLOSED;
    }
    hc_http_rc_t rc = hc_http_parse(&p->http, p->buf ? p->buf : empty, p->len, end);
    if (rc == HC_HTTP_MORE)
        return;
    if (rc == HC_HTTP_ERROR) {
        if (read_err)
            probe_fail(p, "read: %s (%s)", uv_strerror(read_err), p->http.reason);
        else if (p->send_err && p->len == 0)
            probe_fail(p, "send: %s", uv_strerror(p->send_err));
        else
            probe_fail(p, "bad response: %s", p->http.reason);
        return;
    }
    hc_outcome_t o;
    memset(&o, 0, sizeof(o));
    o.ok = true;
    o.status = p->http.status;
    o.body = p->buf ? p->buf + p->http.body_off : empty;
    o.body_len = p->http.body_len;
    o.cut = p->http.cut;
    probe_finish(p, &o);
}

static void probe_on_write(uv_write_t *w, int status)
{
    hc_probe_t *p = w->data;
    /* A server may answer and close before reading the request: the read side decides. */
    if (status && p->phase != PROBE_DONE)
        p->send_err = status;
}

static void probe_on_connect(uv_connect_t *c, int status)
{
    hc_probe_t *p = c->data;
    if (p->phase == PROBE_DONE)
        return;
    if (status) {
        probe_fail(p, "connect: %s", uv_strerror(status));
        return;
    }
    if (!p->spec.http) {
        hc_outcome_t o;
        memset(&o, 0, sizeof(o));
        o.ok = true;
        probe_finish(p, &o);
        return;
    }
    p->phase = PROBE_READING;
    hc_http_init(&p->http);
    uv_buf_t req = uv_buf_init((char *)p->spec.request, (unsigned)p->spec.request_len);
    int rc = uv_write(&p->write, (uv_stream_t *)&p->tcp, &req, 1, probe_on_write);
    if (rc) {
        probe_fail(p, "send: %s", uv_strerror(rc));
        return;
    }
    rc = uv_read_start((uv_stream_t *)&p->tcp, probe_on_alloc, probe_on_read);
    if (rc)
        probe_fail(p, "read: %s", uv_strerror(rc));
}

int hc_probe_start(uv_loop_t *loop, const hc_probe_spec_t *spec, hc_probe_cb cb, void *ctx,
                   hc_probe_t **out)
{
    hc_probe_t *p = calloc(1, sizeof(*p));
    if (!p)
        return UV_ENOMEM;
    int rc = uv_tcp_init(loop, &p->tcp);
    if (rc) {
        free(p);
        return rc;
    }
    uv_timer_init(loop, &p->timer);
    p->tcp.data = p->timer.data = p->connect.data = p->write.data = p;
    p->open_handles = 2;
    p->spec = *spec;
    p->cb = cb;
    p->ctx = ctx;
    p->start_ns = uv_hrtime();
    rc = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&spec->addr,
                        probe_on_connect);
    if (rc == UV_EMFILE || rc == UV_ENFILE) {
        /* No socket: the prober's own limit, nothing the address did. The caller may retry. */
        p->phase = PROBE_DONE;
        uv_close((uv_handle_t *)&p->tcp, probe_on_close);
        uv_close((uv_handle_t *)&p->timer, probe_on_close);
        return rc;
    }
    if (rc) {
        /* Report it from the loop, as the contract says, not from inside this call. */
        p->early_err = rc;
        uv_timer_start(&p->timer, probe_on_timer, 0, 0);
    } else {
        uv_timer_start(&p->timer, probe_on_timer, spec->timeout_ms, 0);
    }
    *out = p;
    return 0;
}
