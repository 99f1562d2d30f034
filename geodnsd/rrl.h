/* rrl.h: response rate limiting (as in BIND, NSD and Knot): per source prefix and response class
 * a token bucket refilled at a configured rate; over the limit a response is dropped, or every
 * slip-th one is sent truncated so that real clients retry over TCP. */
#ifndef GEODNSD_RRL_H
#define GEODNSD_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

#define RRL_EXEMPT_MAX    64
#define RRL_TABLE_MIN     1024u
#define RRL_TABLE_MAX     (1u << 24)
#define RRL_TABLE_DEFAULT (1u << 15)
#define RRL_RATE_MAX      1000000u
#define RRL_SLIP_MAX      100u
/* Buckets looked at for one key (open addressing, linear probing); bounds the work per query. */
#define RRL_PROBE 8

/* What a response is, for rate limiting: each class of one prefix has its own buckets, so a
 * flood of NXDOMAIN does not limit the answers of the same network. Within a class, responses
 * are told apart by a name (rrl_account): as in BIND, NSD and Knot, a resolver asking for many
 * names is not limited by the rate of one name. */
typedef enum rrl_class {
    RRL_ANSWER = 0, /* NOERROR with records in the answer section */
    RRL_NODATA,     /* NOERROR, name exists, no record of the type */
    RRL_NXDOMAIN,
    RRL_REFERRAL, /* NOERROR, no answer, a delegation in authority */
    RRL_ERROR,    /* FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS */
    RRL_CLASSES
} rrl_class_t;

typedef enum rrl_verdict {
    RRL_PASS = 0, /* send the response as it is */
    RRL_DROP,     /* send nothing */
    RRL_SLIP,     /* send it truncated: TC=1, question and OPT only */
} rrl_verdict_t;

/* The `rrl:` settings of the server config. */
typedef struct rrl_config {
    bool enabled;        /* false: the key is absent, nothing is limited */
    uint32_t rate;       /* responses_per_second per prefix and class; also the burst */
    uint32_t slip;       /* 0: drop every limited response; N: every N-th goes out truncated */
    uint8_t ipv4_prefix; /* bits of an IPv4 source that form its key (default 24) */
    uint8_t ipv6_prefix; /* bits of an IPv6 source (default 56) */
    bool cookies;        /* a valid server cookie exempts the query (default true) */
    uint32_t table_size; /* buckets per UDP thread, a power of two */
    addr_net_t exempt[RRL_EXEMPT_MAX]; /* networks never limited */
    size_t nexempt;
} rrl_config_t;

/* One thread's buckets. Single writer: no lock anywhere. */
typedef struct rrl_table rrl_table_t;

/* Defaults of every key (enabled stays false). */
void rrl_config_default(rrl_config_t *c);

/* Is src inside one of the exempt prefixes of c? */
bool rrl_exempt(const rrl_config_t *c, const struct sockaddr *src);

/* A table of size buckets (a power of two between RRL_TABLE_MIN and RRL_TABLE_MAX), all empty.
 * Returns NULL when out of memory. The caller owns it; free with rrl_table_free. */
rrl_table_t *rrl_table_new(uint32_t size);
void rrl_table_free(rrl_table_t *t);
uint32_t rrl_table_size(const rrl_table_t *t);

/* Charge one response of class cls and name to src's prefix at time now_ms (any millisecond
 * clock; wrapping of the 32-bit value is handled). name tells responses of one class apart
 * (rrl_response_name): each (prefix, class, name) has its own bucket. Never allocates. When the key
 * is new and its probe window is full, the bucket of that window used least recently is taken over
 * (a source that comes back after such an eviction starts with a full bucket). Exemptions
 * (prefixes, cookies) are the caller's: they are only worth checking when this returns something
 * else than PASS. */
rrl_verdict_t rrl_account(rrl_table_t *t, const rrl_config_t *c, const struct sockaddr *src,
                          rrl_class_t cls, uint32_t name, uint32_t now_ms);

/* The name of a response for its bucket, as BIND keys it: owner when the query path gave one
 * (query_meta_t.rrl_owner: the wildcard or DNAME that synthesized an answer, so random names
 * under one wildcard are one bucket; the delegation point of a referral; the zone of an
 * NXDOMAIN, so a flood of random names in one zone is one bucket), else the question name
 * (case folded); answers and NODATA also by question type; errors all alike (0). buf holds the
 * response, qend is the offset past its question (12: none). */
uint32_t rrl_response_name(rrl_class_t cls, const uint8_t *buf, size_t qend, const uint8_t *owner,
                           size_t ownerlen);

/* Turn the response in buf (len bytes, written by query_process: header, question, records,
 * the OPT at opt_off when not 0, perhaps a TSIG after it) into its truncated form: TC=1,
 * question kept, no records but the OPT. qend is the offset just past the question. Returns the
 * new length. */
size_t rrl_truncate(uint8_t *buf, size_t len, size_t qend, size_t opt_off);

#endif
