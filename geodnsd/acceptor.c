/* acceptor.c: bounded accepting from a level-triggered uv_poll (see acceptor.h for why). */
#include "acceptor.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void acceptor_on_readable(uv_poll_t *p, int status, int events);

static void acceptor_on_resume(uv_timer_t *t)
{
    gd_acceptor_t *a = t->data;
    uv_poll_start(&a->poll, UV_READABLE, acceptor_on_readable);
}

static void acceptor_on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    gd_acceptor_t *a = p->data;
    int e = status < 0 ? -status : 0;
    for (unsigned i = 0; !e && i < a->batch; i++) {
        /* Every slot is still closing: their close callbacks run later in this loop turn and the
         * poll fires again on the next one, so the rest waits in the backlog meanwhile. */
        if (!a->has_slot(a->ctx))
            return;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            a->warned = false;
            a->take(a->ctx, fd, &peer, plen);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            e = errno;
        /* Anything else concerns that one connection (ECONNABORTED, EPROTO, network errors
         * already pending on it): go on with the next. */
    }
    if (!e)
        return;
    if (!a->warned) {
        log_warn("%s: cannot accept connections: %s; retrying every %llu ms", a->what, strerror(e),
                 (unsigned long long)a->pause_ms);
        a->warned = true;
    }
    uv_poll_stop(&a->poll);
    uv_timer_start(&a->pause, acceptor_on_resume, a->pause_ms, 0);
}

int gd_acceptor_start(gd_acceptor_t *a, uv_loop_t *loop)
{
    int rc = uv_poll_init(loop, &a->poll, a->fd);
    if (rc)
        return rc; /* nothing to close */
    a->poll.data = a;
    uv_timer_init(loop, &a->pause);
    a->pause.data = a;
    /* Cannot fail on a poll handle just initialised for a valid descriptor. */
    (void)uv_poll_start(&a->poll, UV_READABLE, acceptor_on_readable);
    return 0;
}

void gd_acceptor_close(gd_acceptor_t *a, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&a->poll, cb);
    uv_close((uv_handle_t *)&a->pause, cb);
}
