/* acceptor.h: a listening TCP socket accepted from a level-triggered uv_poll, shared by the DNS
 * TCP listeners and the metrics/status listener. */
#ifndef GEODNSD_ACCEPTOR_H
#define GEODNSD_ACCEPTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

/* Why not uv_listen: its connection callback must take every connection libuv already accepted,
 * and when every connection slot is still closing there is nowhere to put one (libuv then stops
 * watching the listener for good). Here a connection is accepted only when the owner has a free
 * slot; the rest wait in the kernel's backlog until the poll fires again. When the process is out
 * of descriptors or memory, accepting pauses for pause_ms with one warning per episode, so a
 * level-triggered poll does not spin on a backlog it cannot take. */
typedef struct gd_acceptor {
    uv_poll_t poll;
    uv_timer_t pause;
    int fd;         /* the listening socket; the caller closes it after the handles have closed */
    unsigned batch; /* connections accepted per wake-up at most (fairness) */
    uint64_t pause_ms; /* rest after a resource error */
    bool warned;       /* a resource error was logged; cleared by the next accepted connection */
    char what[96];     /* names the listener in the warning */
    /* The owner: has_slot says whether a connection can be taken now; take receives it (the
     * descriptor is the owner's from then on). */
    bool (*has_slot)(void *ctx);
    void (*take)(void *ctx, int fd, const struct sockaddr_storage *peer, socklen_t len);
    void *ctx;
} gd_acceptor_t;

/* Watch a listening socket on loop. The caller fills fd, batch, pause_ms, what, has_slot, take
 * and ctx first. Returns 0, or a libuv error code (then no handle was initialised: nothing to
 * close). */
int gd_acceptor_start(gd_acceptor_t *a, uv_loop_t *loop);

/* Close both handles (cb, may be NULL, for each); a's memory must stay until they have closed. */
void gd_acceptor_close(gd_acceptor_t *a, uv_close_cb cb);

#endif
