/* edge_internal.h: segment-edge's shared internals: cache objects, workers, origin fetches, stats.
 */
#ifndef EDGE_INTERNAL_H
#define EDGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <uv.h>

#include "edge_config.h"
#include "edge_http.h"

#define EDGE_MAX_WORKERS 64
/* A worker's bit in an object's waiter_mask (64 bits: one per accepted worker). */
#define EDGE_WORKER_BIT(id) ((uint64_t)1 << (id))

/* Relaxed single-writer counters: the owning worker adds, anyone may read. */
#define STAT_ADD(field, n) \
    __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

typedef struct edge_list {
    struct edge_list *prev;
    struct edge_list *next;
} edge_list_t;

void edge_list_init(edge_list_t *l);
void edge_list_add(edge_list_t *head, edge_list_t *n);
void edge_list_del(edge_list_t *n);
bool edge_list_linked(const edge_list_t *n);

#define EDGE_CONTAINER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- cache objects ---- */

typedef struct edge_chunk edge_chunk_t;
struct edge_chunk {
    edge_chunk_t *next; /* published with release, read with acquire */
    size_t cap;
    char *data; /* inline storage below, or the object's file mapping */
    char inline_data[];
};

enum { EDGE_OBJ_PENDING = 0, EDGE_OBJ_STREAMING, EDGE_OBJ_COMPLETE, EDGE_OBJ_FAILED };
enum {
    EDGE_REFRESH_NONE = 0,
    EDGE_REFRESH_REVALIDATED,
    EDGE_REFRESH_REPLACED,
    EDGE_REFRESH_FAILED
};

typedef struct edge_obj edge_obj_t;

/* A client connection sending an object's body (see "pass-through window" below). */
typedef struct edge_obj_reader edge_obj_reader_t;
struct edge_obj_reader {
    edge_obj_reader_t *next; /* in obj->readers, under obj->pt_lock */
    edge_obj_t *obj;         /* NULL when not attached */
    uint64_t done;           /* body bytes before this offset are sent (under pt_lock) */
    int fd;                  /* the client socket, shut down when the reader is dropped */
    bool dropped;            /* atomic: too slow; its connection must be closed */
};

struct edge_obj {
    char *key;
    size_t key_len;
    uint64_t hash;
    int refs;        /* atomic */
    int state;       /* atomic, EDGE_OBJ_* */
    uint64_t filled; /* atomic: body bytes available */
    /* Head: written by the filler before state leaves PENDING, immutable afterwards. */
    int status;
    int64_t clen; /* -1 unknown */
    char *ctype;
    char *etag;
    char *last_modified;
    char *cache_control;
    char *content_encoding;
    char *location; /* as the origin wrote it (redirects), NULL when absent */
    edge_media_kind_t kind;
    edge_chunk_t *head;
    edge_chunk_t *tail; /* filler only */
    uint64_t tail_base; /* filler only: body offset of tail */
    int fd;             /* memfd holding a large body (sent with sendfile), -1 otherwise */
    void *map;          /* its shared mapping (the only chunk points into it) */
    size_t map_len;
    char *gz; /* gzip copy of a complete playlist, set before COMPLETE */
    size_t gz_len;
    int fail_status; /* 502/504 when FAILED */
    double origin_ms;
    uint64_t waiter_mask; /* atomic: workers with connections waiting on this object */
    /* Below: under the cache lock. */
    uint64_t resp_ms;   /* monotonic time of the origin response */
    int64_t origin_age; /* seconds, from the origin's Age */
    uint64_t ttl_ms;
    uint64_t swr_ms;
    uint64_t sie_ms;
    bool store;     /* may be kept in the table */
    bool from_disk; /* promoted from the disk tier (its file is already there) */
    bool in_table;
    bool refreshing;
    unsigned refresh_gen;
    int refresh_result;
    int refresh_status;      /* origin status or 502/504 of the last failed refresh */
    edge_obj_t *replaced_by; /* referenced */
    edge_obj_t *hnext;
    edge_list_t lru;
    uint64_t mem;       /* charged against cache_memory: record, key, body chunks, extra_mem */
    uint64_t extra_mem; /* the part of mem for the head strings and the gzip copy */
    /* Pass-through window: a body that is not stored (above max_object, or of unknown length
     * past it) keeps only the bytes between its slowest reader and the filler. Under pt_lock. */
    pthread_mutex_t pt_lock;
    bool passthrough;           /* atomic; set by the filler, never cleared */
    uint64_t pt_base;           /* body offset of head: the bytes before it are released */
    uint64_t pt_bytes;          /* chunk bytes held (counted in the cache's inflight_bytes) */
    edge_obj_reader_t *readers; /* attached readers */
    unsigned n_readers;
    uv_async_t *pt_resume;       /* the paused filler's wake-up, NULL when not paused */
    uint64_t pt_window;          /* the filler pauses while pt_bytes >= this */
    struct edge_cache *pt_cache; /* where pt_bytes and held_bytes are counted */
    uint64_t held_bytes;         /* chunk bytes of a body outside the table and not a pass-through
                                  * (not stored: no-store, ...), counted in the cache's inflight_bytes */
};

typedef struct edge_disk edge_disk_t;

typedef struct edge_cache {
    pthread_mutex_t lock;
    edge_obj_t **buckets;
    size_t n_buckets;
    size_t n_objects;
    edge_list_t lru; /* most recent first */
    uint64_t bytes;  /* accounted bytes of objects in the table */
    uint64_t budget;
    uint64_t evictions;       /* under lock */
    int fills_inflight;       /* atomic: origin fetches running (edge_fill_reserve) */
    uint64_t gzip_skipped;    /* atomic: gzip copies not made for want of room */
    uint64_t inflight_bytes;  /* atomic: chunk bytes of bodies outside the table (pass-through,
                               * not stored); bytes + inflight_bytes is held to budget */
    uint64_t readers_dropped; /* atomic: readers dropped a full window behind for too long */
    uint64_t stores_refused;  /* atomic: bodies streamed through for want of room in budget */
    uint64_t fills_abandoned; /* atomic: fills stopped because nobody would use the body */
    uint64_t pt_window;       /* window of a body turned into a pass-through for want of room */
    int tight;                /* atomic: the last eviction left no room for what was needed */
    edge_disk_t *disk;        /* optional disk tier */
} edge_cache_t;

/* The cache key hash: SipHash-2-4 under the process's random key (common/siphash.h), since
 * clients choose cache keys; the memory table and the disk tier index both use it. */
uint64_t edge_key_hash(const char *k, size_t len);

/* What a kept string (a stored header value) costs in a budget: its bytes and the NUL, 0 when
 * absent. The memory cache's and the disk tier's charges both count head strings with it. */
static inline uint64_t edge_str_mem(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

int edge_cache_init(edge_cache_t *c, uint64_t budget);
/* Take one of max origin fetches in flight: true when fills_inflight was below max (it is now
 * one more); the fetch gives it back with edge_fill_release when it ends. */
bool edge_fill_reserve(edge_cache_t *c, unsigned max);
void edge_fill_release(edge_cache_t *c);
void edge_cache_deinit(edge_cache_t *c);
void edge_cache_lock(edge_cache_t *c);
void edge_cache_unlock(edge_cache_t *c);
edge_obj_t *edge_cache_find_locked(edge_cache_t *c, const char *key, size_t len);
void edge_cache_insert_locked(edge_cache_t *c, edge_obj_t *o);
void edge_cache_remove_locked(edge_cache_t *c, edge_obj_t *o);
void edge_cache_touch_locked(edge_cache_t *c, edge_obj_t *o);
/* Is there room for bytes more within the budget, after evicting what can go (never keep)? Takes
 * the lock. For something that may be left unmade when there is none (a gzip copy). */
bool edge_cache_room(edge_cache_t *c, const edge_obj_t *keep, uint64_t bytes);
/* Charge bytes o holds: to o->mem and c's bytes when o is in the table, else to o->held_bytes and
 * c's inflight_bytes (moved into o->mem when o enters the table), after evicting what can go. */
void edge_cache_account_locked(edge_cache_t *c, edge_obj_t *o, uint64_t bytes);
/* Charge o's head strings (ctype, etag, last_modified, cache_control, content_encoding, location)
 * and its gzip copy (edge_cache_account_locked), as far as they were not charged before: called
 * after either is set (they are set once, never shrink) and when o enters the table. They leave
 * with the rest of o->mem (edge_cache_remove_locked, or the last unref of an object held outside
 * the table). */
void edge_cache_account_extra_locked(edge_cache_t *c, edge_obj_t *o);

edge_obj_t *edge_obj_new(const char *key, size_t len);
edge_obj_t *edge_obj_ref(edge_obj_t *o);
void edge_obj_unref(edge_obj_t *o);
int edge_obj_state(const edge_obj_t *o);
uint64_t edge_obj_filled(const edge_obj_t *o);
/* Append body bytes (filler only). Returns 0 or -ENOMEM. A stored body's new chunk must fit in
 * the budget (bytes + inflight_bytes <= budget, after evicting complete objects); when it does
 * not, the body turns into a pass-through (pt_window) from here on and stores_refused counts
 * it: it streams to its readers without being stored. */
int edge_obj_append(edge_cache_t *c, edge_obj_t *o, const char *data, size_t len);
/* Up to max buffers covering [off, end) of the body; returns the count. */
unsigned edge_obj_bufs(const edge_obj_t *o, uint64_t off, uint64_t end, uv_buf_t *bufs,
                       unsigned max);
/* Copy [off, off+len) of the body into dst (len must be available). */
void edge_obj_copy(const edge_obj_t *o, uint64_t off, char *dst, size_t len);

/* ---- pass-through window: the contract between the object layer and the body pump ----
 * Every connection that sends an object's body owns an edge_obj_reader_t (zeroed) and:
 *  1. attaches it when it takes its object reference (edge_get, and again after following
 *     replaced_by), with its socket's fd: edge_obj_reader_attach(o, &rd, fd). It is a no-op
 *     for a COMPLETE stored object. A negative return means the start of the body already left
 *     a pass-through window: answer 503 (nothing sent yet) instead of reading it.
 *  2. reads body bytes only with edge_obj_read(o, &rd, off, end, bufs, max) (not edge_obj_bufs),
 *     and only with no write of this body in flight: everything before off is taken as sent,
 *     which lets the window move on. A negative return (EDGE_OBJ_GONE) means the bytes at off
 *     were released because this reader was dropped as too slow: close the connection. Call it
 *     on every pump of the body, also when nothing is available at off yet (end <= off): a
 *     reader that starts past the window (a Range) must say where it is.
 *  3. detaches before closing its socket (before uv_close) and before dropping its object
 *     reference: edge_obj_reader_detach(&rd). Idempotent.
 *  4. does not block waiting for a whole body (Range without a length, gzip) when
 *     edge_obj_passthrough(o): such a body will never be complete in memory; serve it as is.
 * A reader a full window behind for slow_reader_timeout is dropped: its dropped flag is set, its
 * socket is shut down (so a write stuck on a full socket fails at once) and its worker woken;
 * its bytes are freed only when it detaches. Memory bound: stored bytes (complete or being
 * filled) + bytes of bodies outside the table <= cache_memory + fills in flight x (two chunks +
 * one origin read): a pass-through body pauses its filler at its share of the budget,
 * min(passthrough_window, cache_memory / fills in flight), and at EDGE_PASSTHROUGH_WINDOW_MIN
 * while the budget is full (tight). */
#define EDGE_OBJ_GONE (-1)
int edge_obj_reader_attach(edge_obj_t *o, edge_obj_reader_t *r, int fd);
void edge_obj_reader_detach(edge_obj_reader_t *r);
int edge_obj_read(edge_obj_t *o, edge_obj_reader_t *r, uint64_t off, uint64_t end, uv_buf_t *bufs,
                  unsigned max);
bool edge_obj_passthrough(const edge_obj_t *o);
/* Filler side: switch o to pass-through (it leaves the table if it was there). */
void edge_obj_make_passthrough(edge_cache_t *c, edge_obj_t *o, uint64_t window);
/* Filler side: set or clear the async to send when a paused window gets room; returns true when
 * the window is full (pt_bytes >= pt_window) at the time of the call. */
bool edge_obj_pt_pause(edge_obj_t *o, uv_async_t *resume);
/* Filler side: mark the readers a full window behind as dropped (shut down their sockets). */
unsigned edge_obj_drop_slow_readers(edge_cache_t *c, edge_obj_t *o);
/* Filler side: nobody reads this body (no reader, no other reference: not in the table). */
bool edge_obj_unread(edge_obj_t *o);

/* ---- disk tier ---- */

typedef struct edge_disk_stats {
    uint64_t budget;
    uint64_t bytes;      /* charged against budget: each body in whole filesystem blocks, plus
                          * its index entry (entry, key and header strings) */
    uint64_t body_bytes; /* the bodies' lengths */
    uint64_t block;      /* the filesystem block a body is rounded up to */
    uint64_t objects;
    uint64_t buckets; /* index size (a power of two, grown to hold objects at load factor 1) */
    uint64_t writes;
    uint64_t hits;
    uint64_t evictions;
    uint64_t dropped;
} edge_disk_stats_t;

/* Open the disk tier in dir (created; earlier files removed), bounded to budget bytes (see
 * edge_disk_stats_t.bytes for what an object is charged), with its writer thread. Returns 0 or a
 * negative errno. */
int edge_disk_open(edge_disk_t **out, const char *dir, uint64_t budget);
/* Stop the writer thread (queued objects are not written), remove every file, free d. */
void edge_disk_close(edge_disk_t *d);
/* Remove every entry and its file (the charge goes back to 0). Blocking unlinks under the tier's
 * lock: meant for closing and tests, not the request path. */
void edge_disk_clear(edge_disk_t *d);
/* Queue a complete object evicted from memory for writing (takes a reference; no I/O here, so
 * it may be called under the cache lock). Dropped when the queue is full. */
void edge_disk_demote_locked(edge_disk_t *d, edge_obj_t *o);
/* A new COMPLETE object backed by its disk file (sent with sendfile), or NULL. Blocking open
 * and mmap: call without the cache lock. */
edge_obj_t *edge_disk_promote(edge_disk_t *d, const char *key, size_t len);
void edge_disk_stats(edge_disk_t *d, edge_disk_stats_t *s);

/* ---- server, workers ---- */

typedef struct edge_stats {
    uint64_t requests;
    uint64_t bytes_out;
    uint64_t body_bytes_cache; /* body bytes served from cache (hit, stale, collapsed) */
    uint64_t body_bytes_total;
    uint64_t hits;
    uint64_t misses;
    uint64_t collapsed;
    uint64_t stale;
    uint64_t revalidated;
    uint64_t origin_fetches;
    uint64_t origin_errors;
    uint64_t origin_bytes;
    uint64_t conns_total;
    uint64_t conns_active;
    uint64_t conns_rejected;
    uint64_t conns_lingering; /* in their lingering close, of both kinds below and above */
    /* Connections of the status listeners, counted apart: not in max_connections nor in the
     * connections load unit. */
    uint64_t status_conns_total;
    uint64_t status_conns_active;
    uint64_t status_conns_rejected;
    uint64_t status_conns_refused; /* closed at once: the peer is outside status_allow */
    uint64_t fills_refused;        /* origin fetches not started: max_fills were in flight */
    uint64_t bad_requests;
    uint64_t status[6]; /* 1xx..5xx by first digit */
} edge_stats_t;

typedef struct edge_origin_state {
    int up;                 /* atomic: 1 up, 0 down */
    uint64_t errors;        /* atomic */
    uint64_t fetches;       /* atomic */
    int consecutive_errors; /* atomic */
    uint64_t last_ok_ms;    /* atomic */
} edge_origin_state_t;

typedef struct edge_server edge_server_t;

typedef struct edge_worker {
    edge_server_t *srv;
    unsigned id;
    uv_loop_t loop;
    uv_thread_t thread;
    /* The listeners of the listen addresses first (n_client_listeners), then worker 0's status
     * listeners (status_listen). */
    uv_tcp_t listeners[2 * EDGE_MAX_LISTEN];
    size_t n_listeners;
    size_t n_client_listeners;
    uv_async_t wake; /* an object this worker waits on made progress */
    uv_async_t ctl;  /* drain/stop from the main thread */
    uv_timer_t tick;
    edge_list_t conns;     /* every client connection (both kinds), most recently active first */
    edge_list_t waiting;   /* client connections blocked on an object */
    edge_list_t lingering; /* client connections in their lingering close, most recent first */
    edge_list_t idle_origin[EDGE_MAX_ORIGINS];
    edge_list_t busy_origin; /* origin connections carrying a fetch */
    size_t n_conns;          /* connections of the listen addresses: held to max_connections */
    size_t n_status_conns;   /* status listeners' connections: held to status_max_connections */
    unsigned n_fetches;
    bool closing;
    bool stopped;
    uv_tcp_t drop;        /* accepts and closes a connection that could not be set up */
    bool drop_busy;       /* drop is closing */
    unsigned drop_wanted; /* listeners (bits) whose pending connection waits for drop */
    time_t date_t;
    char date[32];
    edge_stats_t st;
} edge_worker_t;

/* srv->draining */
enum {
    EDGE_DRAIN_NONE = 0,
    EDGE_DRAIN_READINESS, /* /readyz says draining; still serving */
    EDGE_DRAIN_CLOSING,   /* listeners closed; finishing in-flight responses */
};

struct edge_server {
    edge_config_t *cfg;
    bool origin_mode;
    int root_fd; /* origin mode: the root directory, opened once */
    edge_cache_t cache;
    edge_worker_t *workers;
    unsigned n_workers;
    int draining;     /* atomic, EDGE_DRAIN_* */
    int force_close;  /* atomic */
    int workers_done; /* atomic */
    edge_origin_state_t origins[EDGE_MAX_ORIGINS];
    struct sockaddr_storage origin_addr[EDGE_MAX_ORIGINS];
    uint64_t start_ms;
    /* Rates computed by the main loop once a second (under rate_lock). */
    pthread_mutex_t rate_lock;
    double rps;
    double egress_bps;
    uv_async_t *main_wake;
};

uint64_t edge_now_ms(void);
void edge_worker_wake_obj(edge_server_t *srv, edge_obj_t *o);
const char *edge_worker_date(edge_worker_t *w);

/* ---- origin client ---- */

/* Start fetching path (already with the origin prefix removed: the cache key form) for obj
 * (a new PENDING object, cold miss) or to revalidate old (which has refreshing set). Exactly
 * one of obj/old is non-NULL; the fetch takes its own references and the place in flight the
 * caller took with edge_fill_reserve (given back when the fetch ends). */
void edge_fetch_start(edge_worker_t *w, edge_obj_t *obj, edge_obj_t *old);
/* Close idle pooled origin connections (drain). */
void edge_origin_pool_close(edge_worker_t *w);
/* Stop now (drain timeout, second signal): every fetch of w still running is cancelled
 * (edge_fill_cancel) and every origin connection of w, busy or idle, is closed. Returns the
 * number of fetches cancelled. */
unsigned edge_origin_abort_all(edge_worker_t *w);

/* ---- cache fill (edge_fill.c) ---- */

/* One origin fetch: filling a new object or revalidating a stored one. edge_fetch_start()
 * creates it and edge_origin.c carries it over a pooled connection; exactly one of
 * edge_fill_complete(), edge_fill_fail(), edge_fill_abandon() and edge_fill_cancel() ends it and
 * frees it. */
typedef struct edge_fetch {
    edge_worker_t *w;
    edge_obj_t *obj; /* being filled */
    edge_obj_t *old; /* being revalidated */
    unsigned origin;
    unsigned attempts;
    unsigned stale_retries;
    uint64_t start_ms; /* request sent */
    bool got_head;
    bool retry_5xx;
    bool abandon; /* a body nobody reads any more and the cache does not keep */
    /* A revalidation was answered with this 5xx: it fails and the stale copy stays. */
    int refresh_5xx;
} edge_fetch_t;

/* Freshness of o from its head (and body for complete playlists); caller holds the cache lock. */
void edge_obj_freshness_locked(const edge_config_t *cfg, edge_obj_t *o);
/* The origin's response head for f: a 304 refreshes f->old; another head replaces f->old with a
 * new object (f->obj from then on) or starts f->obj streaming; a body above max_object goes
 * through a pass-through window. Readers are woken. Returns 0, or 500 (no memory) to abort. */
int edge_fill_head(edge_fetch_t *f, const edge_http_msg_t *m);
/* A piece of f->obj's body: appended (a body of unknown length past max_object, or one that
 * finds no room in the budget, stops being stored). Returns 0, or -1 to stop reading: no
 * memory, or (f->abandon set) a body that nobody reads any more and that is not stored (a
 * pass-through, or not kept: no-store, ...). A stored body goes on without readers. */
int edge_fill_body(edge_fetch_t *f, const char *at, size_t len);
/* The response is complete: gzip variant for playlists, final freshness, readers woken; frees f. */
void edge_fill_complete(edge_fetch_t *f);
/* The fetch failed for good with status (502, 504, ...): a new object fails for its readers, a
 * revalidation reports EDGE_REFRESH_FAILED; frees f. */
void edge_fill_fail(edge_fetch_t *f, int status);
/* What edge_fill_fail() tells the readers, for a fetch that never started: obj (a new object,
 * taken out of the table) or old (a refresh) fails with status. */
void edge_fill_fail_objects(edge_worker_t *w, edge_obj_t *obj, edge_obj_t *old, int status);
/* A body nobody reads any more and the cache does not keep (the origin connection is closed):
 * counted in fills_abandoned; frees f. */
void edge_fill_abandon(edge_fetch_t *f);
/* The process stops before the fetch ends (its origin connection is closed): a new object
 * fails with 503 and leaves the table, so nothing of a partial body is stored (in memory or
 * on disk); a revalidation fails and the stale copy stays. Not an origin error; frees f. */
void edge_fill_cancel(edge_fetch_t *f);

/* ---- status ---- */

/* Render /status (JSON) or /metrics (Prometheus text) into a malloc'd buffer. */
char *edge_status_json(edge_server_t *srv, size_t *len);
char *edge_status_metrics(edge_server_t *srv, size_t *len);
/* Called once a second on the main loop to update the rates. */
void edge_status_tick(edge_server_t *srv);

/* ---- server ---- */

/* Parse "host:port" into a socket address. Returns 0 or a negative code. */
int edge_listen_addr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len);
/* Set up worker id on its own loop with its own SO_REUSEPORT listeners (main thread; the
 * addresses were claimed for this process before). */
int edge_worker_init(edge_server_t *srv, edge_worker_t *w, unsigned id);
/* Run the worker's loop on a new thread; join waits for it and closes the loop. */
int edge_worker_start(edge_worker_t *w);
void edge_worker_join(edge_worker_t *w);

#endif
