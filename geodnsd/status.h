/* status.h: the metrics and status listener: a small HTTP/1.x server on the main loop serving
 * /metrics (Prometheus), / (the status page) and /status.json; bounded in connections, request
 * size, time and response size. It never touches the workers: counters are read, not locked. */
#ifndef GEODNSD_STATUS_H
#define GEODNSD_STATUS_H

#include <stddef.h>

#include <uv.h>

#include "metrics.h"
#include "snapshot.h"

#define STATUS_CONNS_MAX  16          /* open connections; the oldest makes room for a new one */
#define STATUS_TIMEOUT_MS 5000        /* from accept to the last byte of the response */
#define STATUS_BODY_MAX   (16u << 20) /* a response body larger than this is answered 500 */
/* The lingering close after an error reply (or with input left unread): the client's further
 * bytes are read and dropped until it closes, for at most this long and this many bytes. */
#define STATUS_LINGER_MS  2000
#define STATUS_LINGER_MAX (1u << 20)

/* Fills *f for one request (on the main loop, so the facts stay valid while rendering). */
typedef void (*gd_status_collect_t)(void *ctx, metrics_facts_t *f);

typedef struct gd_status gd_status_t;

/* Listen on addr (TCP) on loop. Returns 0, or a negative errno with err set to a sentence
 * naming the address (-EADDRINUSE when another process serves it). */
int gd_status_start(uv_loop_t *loop, const gd_listen_t *addr, gd_status_collect_t collect,
                    void *ctx, gd_status_t **out, char *err, size_t errlen);

/* Who may connect (metrics.allow of the config in force; n 0: any address). A connection from
 * another address is closed as soon as it is accepted, before a byte is read. Main loop only. */
void gd_status_set_allow(gd_status_t *s, const addr_net_t *allow, size_t n);

/* Connections closed at accept by the allow list so far (0 for NULL). */
uint64_t gd_status_refused(const gd_status_t *s);

/* Close the listener and every connection; their handles close on the loop's next turn. */
void gd_status_stop(gd_status_t *s);

/* Free after gd_status_stop and a loop turn that ran the close callbacks. NULL is fine. */
void gd_status_free(gd_status_t *s);

#endif
