/* metrics.h: geodnsd's counters (one block per answering thread, bumped on the query path
 * without locks) and what the main loop renders from them: Prometheus text, the status page and
 * its JSON, into a bounded buffer. */
#ifndef GEODNSD_METRICS_H
#define GEODNSD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health.h"
#include "pops.h"

/* Label values of the query counters; the last entry of each is the catch-all. */
enum { METRICS_UDP = 0, METRICS_TCP, METRICS_TRANSPORTS };
enum {
    METRICS_QT_A = 0,
    METRICS_QT_AAAA,
    METRICS_QT_CNAME,
    METRICS_QT_NS,
    METRICS_QT_SOA,
    METRICS_QT_MX,
    METRICS_QT_TXT,
    METRICS_QT_PTR,
    METRICS_QT_SRV,
    METRICS_QT_CAA,
    METRICS_QT_SVCB,
    METRICS_QT_HTTPS,
    METRICS_QT_DS,
    METRICS_QT_DNSKEY,
    METRICS_QT_ANY,
    METRICS_QT_AXFR,
    METRICS_QT_IXFR,
    METRICS_QT_OTHER,
    METRICS_QTYPES
};
enum {
    METRICS_RC_NOERROR = 0,
    METRICS_RC_FORMERR,
    METRICS_RC_SERVFAIL,
    METRICS_RC_NXDOMAIN,
    METRICS_RC_NOTIMP,
    METRICS_RC_REFUSED,
    METRICS_RC_BADVERS,
    METRICS_RC_OTHER,
    METRICS_RCODES
};
/* Geo decisions: the step of the fallback chain that answered (route_outcome_t order), then a
 * failed lookup. Overflow (every PoP of the step full) and shed are counted besides the step. */
enum {
    METRICS_STEP_POOL = 0,
    METRICS_STEP_FALLBACK_POOL,
    METRICS_STEP_CNAME,
    METRICS_STEP_NODATA,
    METRICS_STEP_SERVFAIL,
    METRICS_STEP_ERROR,
    METRICS_STEPS
};
/* What located the client: a usable ECS option, the source address, or the source address
 * because the ECS option held a private or loopback address. */
enum { METRICS_LOC_ECS = 0, METRICS_LOC_SOURCE, METRICS_LOC_ECS_UNUSABLE, METRICS_LOCS };

/* Answers per PoP are counted per stable slot: a PoP name keeps its slot across reloads (the
 * daemon maps each config's PoP indices to slots, metrics_slots_map). Slot 0 collects names
 * past the table's capacity. */
#define METRICS_POP_SLOTS 1024

/* A counter written by one thread and read by the main loop: a relaxed load and store (no
 * locked instruction: every block has a single writer). */
typedef _Atomic uint64_t metrics_ctr_t;

typedef struct metrics_counters {
    metrics_ctr_t queries[METRICS_TRANSPORTS][METRICS_QTYPES][METRICS_RCODES];
    metrics_ctr_t dropped[METRICS_TRANSPORTS]; /* no reply: not a DNS query */
    metrics_ctr_t truncated;                   /* UDP replies with TC set */
    metrics_ctr_t rrl_dropped;                 /* UDP responses not sent: rate limited (rrl.h) */
    metrics_ctr_t rrl_slipped;   /* UDP responses sent truncated instead: rate limited */
    metrics_ctr_t mtu_truncated; /* UDP responses over the link MTU, sent truncated instead */
    metrics_ctr_t transfers[2];  /* zone transfer requests over TCP: refused, allowed (xfr.h) */
    metrics_ctr_t transfers_ended[2]; /* whole-zone transfers: cut off, sent (tcp.c) */
    metrics_ctr_t transfer_bytes;     /* their bytes handed to the kernel */
    metrics_ctr_t steps[METRICS_STEPS];
    metrics_ctr_t overflow; /* every PoP of the answering step was full */
    metrics_ctr_t shed;     /* the nearest PoP shed this client to another */
    metrics_ctr_t located[METRICS_LOCS];
    metrics_ctr_t cache_hit, cache_miss; /* the geo answer cache */
    metrics_ctr_t pop_answers[METRICS_POP_SLOTS];
} metrics_counters_t;

static inline void metrics_add(metrics_ctr_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void metrics_inc(metrics_ctr_t *c)
{
    metrics_add(c, 1);
}

/* A counter's value (any thread; the count may be a few increments behind). */
static inline uint64_t metrics_get(const metrics_ctr_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The label index of a query type and of a (12-bit extended) rcode. */
unsigned metrics_qtype_index(uint16_t qtype);
unsigned metrics_rcode_index(unsigned rcode);

/* Add src's counters to dst (both may be read or written concurrently by their owners). */
void metrics_counters_add(metrics_counters_t *dst, const metrics_counters_t *src);

/* The PoP names seen since start, each with its stable slot. Main loop only. */
typedef struct metrics_slots metrics_slots_t;

metrics_slots_t *metrics_slots_new(void);
void metrics_slots_free(metrics_slots_t *s);

/* Fill slot[i] with the slot of pops->pop[i].name, giving new names the next free slot. Expected
 * linear time (hashed). */
void metrics_slots_map(metrics_slots_t *s, const pops_t *pops, uint16_t *slot);

/* The name of a slot ("" for an unused one); the number of slots used (slot 0 included). */
const char *metrics_slots_name(const metrics_slots_t *s, size_t slot);
size_t metrics_slots_count(const metrics_slots_t *s);

/* Everything the metrics and the status page show, gathered on the main loop for one request.
 * Pointers are borrowed for the duration of the render. */
typedef struct metrics_facts {
    const char *version;
    int64_t start_time;                 /* unix seconds */
    int64_t now;                        /* unix seconds */
    const pops_t *pops;                 /* the current config's PoPs, or NULL (no geo names) */
    const health_report_t *report;      /* the latest health report (indices of pops), or NULL */
    const uint16_t *pop_slot;           /* per PoP of pops: its counter slot */
    const metrics_slots_t *slots;       /* slot names */
    const metrics_counters_t *counters; /* summed over every answering thread */
    uint64_t config_generation;
    uint64_t reloads_ok, reloads_failed;
    bool last_reload_failed; /* the newest reload failed (the previous config serves) */
    int64_t last_reload_ok;  /* unix seconds of the last successful load (the first one counts) */
    uint64_t health_generation; /* of the last health snapshot published, 0 = none yet */
    uint64_t health_updates;    /* health snapshots published */
    unsigned transfers_held;    /* zone transfers being sent now */
    unsigned transfers_max;     /* tcp.max_transfers */
    uint64_t status_refused;    /* status connections closed by metrics.allow */
} metrics_facts_t;

/* A response body built in memory up to a fixed bound; past it, or without memory, overflow is
 * set and further appends are dropped (the caller answers 500 instead of a cut document). */
typedef struct metrics_buf {
    char *data;
    size_t len, cap, max;
    bool overflow;
    bool nomem; /* the overflow was a failed allocation, not the bound */
} metrics_buf_t;

void metrics_buf_init(metrics_buf_t *b, size_t max);
void metrics_buf_deinit(metrics_buf_t *b);
void metrics_buf_put(metrics_buf_t *b, const char *s, size_t n);
void metrics_buf_puts(metrics_buf_t *b, const char *s);
void metrics_buf_printf(metrics_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Escaped copies of s: a Prometheus label value (\\, \", \n), HTML text or attribute (&, <, >,
 * ", '), a JSON string body (quotes, backslash, control characters). */
void metrics_buf_label(metrics_buf_t *b, const char *s);
void metrics_buf_html(metrics_buf_t *b, const char *s);
void metrics_buf_json(metrics_buf_t *b, const char *s);

/* The Prometheus text exposition (format 0.0.4) of f into b. */
void metrics_prom_render(metrics_buf_t *b, const metrics_facts_t *f);

/* How a PoP is drawn: by health, capacity and overrides. */
typedef enum status_pop_class {
    STATUS_POP_UP = 0,     /* green */
    STATUS_POP_SHEDDING,   /* amber: up, keeping less than all its clients */
    STATUS_POP_DOWN,       /* red */
    STATUS_POP_OVERRIDDEN, /* grey: drained, or forced up or down by the overrides file */
} status_pop_class_t;

status_pop_class_t status_pop_classify(const health_pop_report_t *r);
const char *status_pop_class_name(status_pop_class_t c);  /* "up", "shedding", ... */
const char *status_pop_class_color(status_pop_class_t c); /* "#2e9e4f", ... */

/* The status page: one self-contained HTML document (inline SVG world map, table, refreshes
 * itself every 2 s); and the same facts as JSON. Everything from the config is escaped. */
void status_html_render(metrics_buf_t *b, const metrics_facts_t *f);
void status_json_render(metrics_buf_t *b, const metrics_facts_t *f);

/* The map's land: polygons of (longitude, latitude) points, simplified coastlines. */
typedef struct status_land {
    const char *name;
    size_t n;
    const float (*pt)[2];
} status_land_t;

extern const status_land_t status_land[];
extern const size_t status_nland;

#endif
