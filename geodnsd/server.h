/* server.h: worker threads, each with its own libuv loop and SO_REUSEPORT UDP and TCP sockets. */
#ifndef GEODNSD_SERVER_H
#define GEODNSD_SERVER_H

#include <stddef.h>

#include "healthwatch.h"
#include "metrics.h"
#include "snapshot.h"

typedef struct gd_server gd_server_t;

/* Raise the soft open-file limit toward what cfg's bounds let clients hold with nworkers
 * workers, up to the hard limit, and warn of a shortfall. Call once, before the first loop. */
void gd_server_nofile(const gd_config_t *cfg, unsigned nworkers);

/* Claim every listen address for this process (refused with -EADDRINUSE when another process,
 * another geodnsd included, already serves it: only this process's workers share a port), bind
 * every listener once per worker (so bind errors surface here), then start the workers serving
 * snap (each takes its own reference). Call once per process. Returns 0, or a negative code
 * with err set to a sentence naming the address and protocol (empty only for -ENOMEM). */
int gd_server_start(gd_server_t **out, gd_snapshot_t *snap, unsigned workers, char *err,
                    size_t errlen);

/* Hand a new config snapshot and/or health snapshot (either may be NULL) to every worker; each
 * takes its own reference (the caller keeps its own), swaps between two queries and drops the
 * old one. Publish a config's health before the config itself (or both in one call). */
void gd_server_publish(gd_server_t *srv, gd_snapshot_t *snap, gd_health_t *health);

/* Sum every answering thread's counters into *sum (main loop; the threads keep counting). */
void gd_server_counters(const gd_server_t *srv, metrics_counters_t *sum);

/* Stop the workers, close every socket and free the server. */
void gd_server_stop(gd_server_t *srv);

#endif
