/* query.h: the whole DNS logic of geodnsd as one function: query bytes in, response bytes out. */
#ifndef GEODNSD_QUERY_H
#define GEODNSD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zone.h"

struct geo_runtime;
struct route_memo;
struct geo_cache;
struct route_health;
struct metrics_counters;
struct xfr_policy;
struct xfr_keyring;

/* Everything a worker needs to answer: borrowed from the current snapshot. */
typedef struct query_env {
    const zone_set_t *zones;
    uint16_t udp_size;   /* our EDNS UDP payload size (advertised and the upper limit) */
    const uint8_t *nsid; /* NSID payload, or NULL */
    uint16_t nsid_len;
    uint16_t keepalive;                /* edns-tcp-keepalive TIMEOUT in 100 ms units */
    const uint8_t *cookie_secret;      /* 16 bytes: server cookies (RFC 7873, 9018) */
    const struct geo_runtime *geo;     /* geo routing data, or NULL */
    const struct route_health *health; /* health and capacity view matching geo, or NULL */
    uint32_t generation;     /* changes whenever geo or health change: memo and cache keys */
    bool explain;            /* answer TXT _explain.<geo name> to loopback clients */
    struct route_memo *memo; /* the worker's route memo, or NULL */
    struct geo_cache *cache; /* the worker's geo answer cache, or NULL */
    struct metrics_counters *counters;  /* the thread's counters (metrics.h), or NULL: no counts */
    const uint16_t *pop_slot;           /* per PoP: its answer counter's slot, or NULL */
    const struct xfr_policy *xfr;       /* server `transfer:` rules, or NULL: refused */
    const struct xfr_keyring *xfr_keys; /* `tsig_keys:`, or NULL */
} query_env_t;

#define QUERY_TCP 0x1u

/* Is this a zone transfer request (opcode QUERY, type AXFR or IXFR)? Over TCP such requests go
 * to xfr_process() instead of query_process(); over UDP query_process() refuses them. */
bool query_is_transfer(const uint8_t *pkt, size_t len);

/* Answer one query. out must hold 65535 bytes for TCP or at least 4096 for UDP. Returns the
 * response length, or 0 when the packet gets no reply. Never allocates, locks or logs; with
 * env->counters set it bumps the thread's counters (transport, type, rcode, geo decision). */
size_t query_process(const query_env_t *env, const uint8_t *pkt, size_t len, uint8_t *out,
                     size_t outcap, unsigned flags, const struct sockaddr *src);

/* What the network side needs to know about a response for rate limiting (rrl.h). */
typedef struct query_meta {
    uint8_t rrl_class;        /* rrl_class_t of the response */
    const uint8_t *rrl_owner; /* the name that keys the response for RRL instead of its
                               * question (NULL: none): the wildcard or DNAME that answered,
                               * the delegation that referred, the apex of an NXDOMAIN's zone;
                               * valid while the snapshot is held */
    uint8_t rrl_owner_len;
    bool cookie_valid; /* the query carried a valid server cookie of ours (RFC 7873 5.2.3) */
    bool tsig_signed;  /* the response ends with a TSIG RR (signed, or a TSIG error) */
    uint16_t qend;     /* offset in out just past the question (12 when there is none) */
    uint16_t opt_off;  /* offset in out of the OPT record (only a TSIG after it), or 0: none */
} query_meta_t;

/* query_process() that also fills *meta (when the return value is not 0). */
size_t query_process_meta(const query_env_t *env, const uint8_t *pkt, size_t len, uint8_t *out,
                          size_t outcap, unsigned flags, const struct sockaddr *src,
                          query_meta_t *meta);

#endif
