/* tcp.h: a worker's DNS-over-TCP connections (RFC 7766): framing, pipelining, backpressure,
 * zone transfers, an idle timeout, and a fixed pool of connections in which a new one closes the
 * one idle the longest, so new clients are always accepted. All on the worker's libuv loop. */
#ifndef GEODNSD_TCP_H
#define GEODNSD_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "answerer.h"

#define TCP_INBUF   4096
#define TCP_MAXRESP 65535

typedef struct conn conn_t;

typedef struct tcp_pool {
    uv_loop_t *loop;
    answerer_t *ans;              /* the worker's */
    metrics_counters_t *counters; /* the worker's */
    uint64_t idle_ms;
    conn_t *conns;
    size_t nconns;
    conn_t *free_list;
    conn_t *lru_head, *lru_tail; /* open connections, the one idle the longest first */
    size_t open_conns;
    uv_idle_t xfr_idle;           /* writes the next piece of each transfer whose last one is out */
    uint8_t out[TCP_MAXRESP + 2]; /* a response being written, with its length prefix */
} tcp_pool_t;

/* Room for max_conns connections (plus the spare that lets a new one close the oldest) on loop
 * (initialised later, before tcp_pool_start), answering from ans. 0 or -ENOMEM. */
int tcp_pool_init(tcp_pool_t *p, uv_loop_t *loop, answerer_t *ans, metrics_counters_t *counters,
                  uint64_t idle_ms, unsigned max_conns);
void tcp_pool_free(tcp_pool_t *p);
/* Once the loop is initialised, before it runs: set up the pool's own handles on it (closed by
 * the worker's walk over its handles at shutdown). */
void tcp_pool_start(tcp_pool_t *p);

/* Zone transfers of a whole zone being sent now, over all workers (at most tcp.max_transfers).
 * For /metrics. */
unsigned tcp_transfers_held(void);

/* For the acceptor (acceptor.h), ctx being the pool: is there a free slot; open a connection on
 * an accepted socket (which the pool then owns). */
bool tcp_pool_has_slot(void *ctx);
void tcp_pool_take(void *ctx, int fd, const struct sockaddr_storage *peer, socklen_t plen);

/* At shutdown, for each handle of the loop: when h is one of the pool's, close its connection
 * (once) and return true; otherwise false. */
bool tcp_pool_close_handle(tcp_pool_t *p, uv_handle_t *h);

#endif
