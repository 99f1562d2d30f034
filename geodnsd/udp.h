/* udp.h: one thread per UDP socket, blocking in recvmmsg and answering each batch with one
 * sendmmsg, like gdnsd's UDP threads and the bare echo "ceiling": no event loop, no epoll_wait
 * or clock read per wake-up. It takes new snapshots between two batches. */
#ifndef GEODNSD_UDP_H
#define GEODNSD_UDP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "healthwatch.h"
#include "metrics.h"
#include "snapshot.h"

typedef struct udp_thread udp_thread_t;

/* The options of a UDP listening socket of family (AF_INET, AF_INET6), bound to a wildcard
 * address when any: blocking with a receive timeout, 4 MiB buffers, Don't Fragment, and the
 * destination address of each datagram when any (to reply from it). */
void udp_socket_options(int fd, int family, bool any);

/* A thread for fd (not started; fd stays the caller's) serving snap, stopping when *stop is set
 * and fd is shut down. NULL when out of memory. */
udp_thread_t *udp_thread_new(int fd, bool any, const atomic_bool *stop, gd_snapshot_t *snap);
int udp_thread_start(udp_thread_t *u);
/* Wait for a started thread to end (after *stop and a shutdown of its socket). */
void udp_thread_join(udp_thread_t *u);
void udp_thread_free(udp_thread_t *u);

/* The main loop: hand a config and/or health snapshot to the thread (see answerer_publish).
 * When the config's rrl table size changes, the new table is allocated here, not on the thread. */
void udp_thread_publish(udp_thread_t *u, gd_snapshot_t *snap, gd_health_t *health);

const metrics_counters_t *udp_thread_counters(const udp_thread_t *u);

#endif
