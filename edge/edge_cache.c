/* edge_cache.c: the shared object store: hash table, LRU eviction by bytes, append-only bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge_internal.h"
#include "siphash.h"

#define CHUNK_SIZE      (64 * 1024)
#define CHUNK_EXACT_MAX (4u << 20)
#define FILE_BODY_MIN   (64 * 1024) /* known-length bodies from here on live in a memfd */

void edge_list_init(edge_list_t *l)
{
    l->prev = l->next = l;
}

void edge_list_add(edge_list_t *head, edge_list_t *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

void edge_list_del(edge_list_t *n)
{
    if (n->next && n->next != n) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
    }
    n->prev = n->next = NULL;
}

bool edge_list_linked(const edge_list_t *n)
{
    return n->next != NULL;
}

uint64_t edge_key_hash(const char *k, size_t len)
{
    return siphash24(siphash_process_key(), k, len);
}

int edge_cache_init(edge_cache_t *c, uint64_t budget)
{
    memset(c, 0, sizeof(*c));
    c->n_buckets = 1024;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    if (!c->buckets) {
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    edge_list_init(&c->lru);
    c->budget = budget;
    return 0;
}

void edge_cache_deinit(edge_cache_t *c)
{
    for (size_t i = 0; i < c->n_buckets; i++) {
        edge_obj_t *o = c->buckets[i];
        while (o) {
            edge_obj_t *next = o->hnext;
            o->in_table = false;
            edge_obj_unref(o);
            o = next;
        }
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
}

void edge_cache_lock(edge_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
}

void edge_cache_unlock(edge_cache_t *c)
{
    pthread_mutex_unlock(&c->lock);
}

edge_obj_t *edge_cache_find_locked(edge_cache_t *c, const char *key, size_t len)
{
    uint64_t h = edge_key_hash(key, len);
    for (edge_obj_t *o = c->buckets[h & (c->n_buckets - 1)]; o; o = o->hnext) {
        if (o->hash == h && o->key_len == len && memcmp(o->key, key, len) == 0) {
            return o;
        }
    }
    return NULL;
}

static void cache_grow_locked(edge_cache_t *c)
{
    size_t nb = c->n_buckets * 2;
    edge_obj_t **b = calloc(nb, sizeof(*b));
    if (!b) {
        return; /* longer chains, still correct */
    }
    for (size_t i = 0; i < c->n_buckets; i++) {
        edge_obj_t *o = c->buckets[i];
        while (o) {
            edge_obj_t *next = o->hnext;
            o->hnext = b[o->hash & (nb - 1)];
            b[o->hash & (nb - 1)] = o;
            o = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
}

bool edge_fill_reserve(edge_cache_t *c, unsigned max)
{
    int n = __atomic_load_n(&c->fills_inflight, __ATOMIC_RELAXED);
    do {
        if (n >= (int)max) {
            return false;
        }
    } while (!__atomic_compare_exchange_n(&c->fills_inflight, &n, n + 1, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return true;
}

void edge_fill_release(edge_cache_t *c)
{
    __atomic_sub_fetch(&c->fills_inflight, 1, __ATOMIC_RELAXED);
}

/* Bytes held against the budget: the table's plus those of bodies outside it. */
static uint64_t cache_held_locked(const edge_cache_t *c)
{
    return c->bytes + __atomic_load_n(&c->inflight_bytes, __ATOMIC_RELAXED);
}

/* Evict least recently used complete objects (never keep, never one being filled) until need
 * more bytes fit in the budget or nothing more can go. */
static void cache_evict_locked(edge_cache_t *c, const edge_obj_t *keep, uint64_t need)
{
    edge_list_t *it = c->lru.prev;
    while (cache_held_locked(c) + need > c->budget && it != &c->lru) {
        edge_obj_t *o = EDGE_CONTAINER(it, edge_obj_t, lru);
        it = it->prev;
        int st = edge_obj_state(o);
        if (o == keep || st == EDGE_OBJ_PENDING || st == EDGE_OBJ_STREAMING) {
            continue;
        }
        /* A body still being sent (or written to disk) would keep its memory and its share of
         * the budget out of the table (edge_cache_remove_locked): evicting it frees nothing now
         * and loses a stored object its next clients would hit. */
        if (st == EDGE_OBJ_COMPLETE && __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE) > 1) {
            continue;
        }
        c->evictions++;
        if (c->disk && st == EDGE_OBJ_COMPLETE && o->status == 200 && o->store && !o->from_disk &&
            edge_obj_filled(o) > 0) {
            edge_disk_demote_locked(c->disk, o);
        }
        edge_cache_remove_locked(c, o);
    }
    __atomic_store_n(&c->tight, cache_held_locked(c) + need > c->budget, __ATOMIC_RELAXED);
}

bool edge_cache_room(edge_cache_t *c, const edge_obj_t *keep, uint64_t bytes)
{
    edge_cache_lock(c);
    cache_evict_locked(c, keep, bytes);
    bool fits = cache_held_locked(c) + bytes <= c->budget;
    edge_cache_unlock(c);
    return fits;
}

void edge_cache_insert_locked(edge_cache_t *c, edge_obj_t *o)
{
    edge_cache_account_extra_locked(c, o); /* a head set before (refresh, disk tier) */
    if (o->held_bytes) {
        /* What o held outside the table (a head set before it entered) is now the table's. */
        __atomic_sub_fetch(&c->inflight_bytes, o->held_bytes, __ATOMIC_RELAXED);
        o->mem += o->held_bytes;
        o->held_bytes = 0;
    }
    if (c->n_objects >= c->n_buckets) {
        cache_grow_locked(c);
    }
    size_t b = o->hash & (c->n_buckets - 1);
    o->hnext = c->buckets[b];
    c->buckets[b] = o;
    o->in_table = true;
    edge_obj_ref(o);
    c->n_objects++;
    c->bytes += o->mem;
    edge_list_add(&c->lru, &o->lru);
    cache_evict_locked(c, o, 0);
}

void edge_cache_remove_locked(edge_cache_t *c, edge_obj_t *o)
{
    if (!o->in_table) {
        return;
    }
    edge_obj_t **pp = &c->buckets[o->hash & (c->n_buckets - 1)];
    while (*pp && *pp != o) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = o->hnext;
    }
    o->hnext = NULL;
    o->in_table = false;
    c->n_objects--;
    c->bytes -= o->mem;
    edge_list_del(&o->lru);
    /* A body that clients are still being sent (or the disk tier is still writing, or a fill
     * still filling: a response not stored) keeps its memory until the last of them lets go: it
     * goes on counting against the budget, as a body outside the table, so that clients reading
     * slowly cannot make evicted bodies pile up beyond cache_memory. New refs come only from the
     * table, under this lock; the last unref, whoever's, gives the bytes back. */
    if (!o->passthrough && __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE) > 1) {
        o->held_bytes += o->mem;
        o->pt_cache = c;
        __atomic_add_fetch(&c->inflight_bytes, o->mem, __ATOMIC_RELAXED);
    }
    edge_obj_unref(o);
}

void edge_cache_touch_locked(edge_cache_t *c, edge_obj_t *o)
{
    if (o->in_table && c->lru.next != &o->lru) {
        edge_list_del(&o->lru);
        edge_list_add(&c->lru, &o->lru);
    }
}

void edge_cache_account_locked(edge_cache_t *c, edge_obj_t *o, uint64_t bytes)
{
    if (o->in_table) {
        o->mem += bytes;
        c->bytes += bytes;
        cache_evict_locked(c, o, 0);
        return;
    }
    /* An object outside the table (not stored, or not yet in it): counted as in flight, as its
     * body chunks are, until its last reference goes (edge_obj_unref) or it enters the table. */
    cache_evict_locked(c, o, bytes);
    o->pt_cache = c;
    o->held_bytes += bytes;
    __atomic_add_fetch(&c->inflight_bytes, bytes, __ATOMIC_RELAXED);
}

/* The bytes o holds besides its record, key and body: the one place that counts them. */
static uint64_t obj_extra_bytes(const edge_obj_t *o)
{
    return edge_str_mem(o->ctype) + edge_str_mem(o->etag) + edge_str_mem(o->last_modified) +
           edge_str_mem(o->cache_control) + edge_str_mem(o->content_encoding) +
           edge_str_mem(o->location) + (o->gz ? o->gz_len : 0);
}

void edge_cache_account_extra_locked(edge_cache_t *c, edge_obj_t *o)
{
    uint64_t now = obj_extra_bytes(o);
    if (now > o->extra_mem) {
        uint64_t add = now - o->extra_mem;
        o->extra_mem = now;
        edge_cache_account_locked(c, o, add);
    }
}

edge_obj_t *edge_obj_new(const char *key, size_t len)
{
    edge_obj_t *o = calloc(1, sizeof(*o));
    if (!o) {
        return NULL;
    }
    o->key = malloc(len + 1);
    if (!o->key) {
        free(o);
        return NULL;
    }
    memcpy(o->key, key, len);
    o->key[len] = '\0';
    o->key_len = len;
    o->hash = edge_key_hash(key, len);
    o->refs = 1;
    o->clen = -1;
    o->fd = -1;
    o->mem = sizeof(*o) + len + 1;
    pthread_mutex_init(&o->pt_lock, NULL);
    return o;
}

edge_obj_t *edge_obj_ref(edge_obj_t *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
    return o;
}

void edge_obj_unref(edge_obj_t *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    edge_chunk_t *ch = o->head;
    while (ch) {
        edge_chunk_t *next = ch->next;
        free(ch);
        ch = next;
    }
    if (o->pt_bytes + o->held_bytes && o->pt_cache) {
        __atomic_sub_fetch(&o->pt_cache->inflight_bytes, o->pt_bytes + o->held_bytes,
                           __ATOMIC_RELAXED);
    }
    pthread_mutex_destroy(&o->pt_lock);
    if (o->map) {
        munmap(o->map, o->map_len);
    }
    if (o->fd >= 0) {
        close(o->fd);
    }
    if (o->replaced_by) {
        edge_obj_unref(o->replaced_by);
    }
    free(o->key);
    free(o->ctype);
    free(o->etag);
    free(o->last_modified);
    free(o->cache_control);
    free(o->content_encoding);
    free(o->location);
    free(o->gz);
    free(o);
}

int edge_obj_state(const edge_obj_t *o)
{
    return __atomic_load_n(&o->state, __ATOMIC_ACQUIRE);
}

uint64_t edge_obj_filled(const edge_obj_t *o)
{
    return __atomic_load_n(&o->filled, __ATOMIC_SEQ_CST);
}

/* A body of known length goes into a memfd so that clients get it with sendfile (page
 * references, no copy); the filler writes through a shared mapping. NULL when unavailable. */
static edge_chunk_t *obj_file_chunk(edge_obj_t *o, size_t cap)
{
    int fd = memfd_create("segment-edge-object", MFD_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    void *map = MAP_FAILED;
    if (ftruncate(fd, (off_t)cap) == 0) {
        map = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    edge_chunk_t *n = malloc(sizeof(*n));
    if (map == MAP_FAILED || !n) {
        if (map != MAP_FAILED) {
            munmap(map, cap);
        }
        free(n);
        close(fd);
        return NULL;
    }
    n->data = map;
    o->fd = fd;
    o->map = map;
    o->map_len = cap;
    return n;
}

/* Charge bytes of a new chunk of a body that is not a pass-through against the budget, after
 * evicting what can go: to the table's bytes when o is in it, else to inflight_bytes (and
 * o->held_bytes). False, with nothing charged, when they do not fit. */
static bool obj_charge(edge_cache_t *c, edge_obj_t *o, uint64_t bytes)
{
    edge_cache_lock(c);
    cache_evict_locked(c, o, bytes);
    bool fits = cache_held_locked(c) + bytes <= c->budget;
    if (fits && o->in_table) {
        edge_cache_account_locked(c, o, bytes);
    } else if (fits) {
        o->pt_cache = c;
        o->held_bytes += bytes;
        __atomic_add_fetch(&c->inflight_bytes, bytes, __ATOMIC_RELAXED);
    }
    edge_cache_unlock(c);
    return fits;
}

/* Give back a charge whose chunk could not be made. */
static void obj_uncharge(edge_cache_t *c, edge_obj_t *o, uint64_t bytes)
{
    edge_cache_lock(c);
    if (o->in_table) {
        o->mem -= bytes;
        c->bytes -= bytes;
    } else {
        o->held_bytes -= bytes;
        __atomic_sub_fetch(&c->inflight_bytes, bytes, __ATOMIC_RELAXED);
    }
    edge_cache_unlock(c);
}

/* Link a new chunk at the tail. A pass-through body counts it as in-flight bytes under pt_lock
 * (readers walk and release its chunks), after evicting what it needs room for when it can; a
 * stored body was charged before the chunk was made (obj_charge). */
static void obj_link_chunk(edge_cache_t *c, edge_obj_t *o, edge_chunk_t *n, uint64_t filled)
{
    edge_chunk_t *t = o->tail;
    bool pt = edge_obj_passthrough(o);
    if (pt) {
        edge_cache_lock(c);
        cache_evict_locked(c, o, sizeof(*n) + n->cap);
        edge_cache_unlock(c);
        pthread_mutex_lock(&o->pt_lock);
    }
    if (t) {
        __atomic_store_n(&t->next, n, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&o->head, n, __ATOMIC_RELEASE);
    }
    o->tail_base = filled;
    o->tail = n;
    if (pt) {
        o->pt_bytes += sizeof(*n) + n->cap;
        __atomic_add_fetch(&c->inflight_bytes, sizeof(*n) + n->cap, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&o->pt_lock);
    }
}

/* No room for a stored body's next chunk: it streams through from here on. */
static void obj_store_refused(edge_cache_t *c, edge_obj_t *o)
{
    edge_obj_make_passthrough(c, o, c->pt_window);
    __atomic_add_fetch(&c->stores_refused, 1, __ATOMIC_RELAXED);
}

int edge_obj_append(edge_cache_t *c, edge_obj_t *o, const char *data, size_t len)
{
    uint64_t filled = o->filled; /* only this thread writes it */
    bool pt = edge_obj_passthrough(o);
    while (len > 0) {
        edge_chunk_t *t = o->tail;
        size_t used = 0;
        if (t) {
            used = (size_t)(filled - o->tail_base);
        }
        if (!t || used == t->cap) {
            size_t cap = CHUNK_SIZE;
            edge_chunk_t *n = NULL;
            if (!t && !pt && o->clen >= FILE_BODY_MIN) {
                cap = (size_t)o->clen;
                if (!obj_charge(c, o, sizeof(*n) + cap)) {
                    obj_store_refused(c, o);
                    pt = true;
                    continue;
                }
                n = obj_file_chunk(o, cap);
                if (!n) {
                    obj_uncharge(c, o, sizeof(*n) + cap);
                }
            }
            if (!n && !pt && o->clen > 0 && (uint64_t)o->clen > filled &&
                (uint64_t)o->clen - filled <= CHUNK_EXACT_MAX) {
                cap = (size_t)((uint64_t)o->clen - filled);
            } else if (!n) {
                cap = CHUNK_SIZE;
            }
            if (!n && cap < len && cap < CHUNK_SIZE) {
                cap = len < CHUNK_SIZE ? CHUNK_SIZE : len; /* origin sends more than it said */
            }
            if (!n) {
                if (!pt && !obj_charge(c, o, sizeof(*n) + cap)) {
                    obj_store_refused(c, o);
                    pt = true;
                    continue;
                }
                n = malloc(sizeof(*n) + cap);
                if (!n) {
                    if (!pt) {
                        obj_uncharge(c, o, sizeof(*n) + cap);
                    }
                    return -ENOMEM;
                }
                n->data = n->inline_data;
            }
            n->next = NULL;
            n->cap = cap;
            obj_link_chunk(c, o, n, filled);
            t = n;
            used = 0;
        }
        size_t n = t->cap - used;
        if (n > len) {
            n = len;
        }
        memcpy(t->data + used, data, n);
        data += n;
        len -= n;
        filled += n;
        __atomic_store_n(&o->filled, filled, __ATOMIC_SEQ_CST);
    }
    return 0;
}

/* Buffers for [off, end) walking the chunks from ch, which starts at body offset base. */
static unsigned chunks_bufs(const edge_chunk_t *ch, uint64_t base, uint64_t off, uint64_t end,
                            uv_buf_t *bufs, unsigned max)
{
    unsigned n = 0;
    while (ch && base + ch->cap <= off) {
        base += ch->cap;
        ch = __atomic_load_n(&ch->next, __ATOMIC_ACQUIRE);
    }
    while (ch && off < end && n < max) {
        uint64_t s = off - base;
        uint64_t e = ch->cap;
        if (base + e > end) {
            e = end - base;
        }
        bufs[n++] = uv_buf_init((char *)ch->data + s, (unsigned)(e - s));
        off = base + e;
        base += ch->cap;
        ch = __atomic_load_n(&ch->next, __ATOMIC_ACQUIRE);
    }
    return n;
}

unsigned edge_obj_bufs(const edge_obj_t *o, uint64_t off, uint64_t end, uv_buf_t *bufs,
                       unsigned max)
{
    return chunks_bufs(__atomic_load_n(&o->head, __ATOMIC_ACQUIRE), 0, off, end, bufs, max);
}

/* ---- pass-through window ---- */

bool edge_obj_passthrough(const edge_obj_t *o)
{
    return __atomic_load_n(&o->passthrough, __ATOMIC_ACQUIRE);
}

/* Where a pass-through body's filler pauses: its window, or its share of the budget when that
 * is smaller (many fills in flight), two chunks while the budget is full. Under pt_lock. */
static uint64_t pt_limit_locked(const edge_obj_t *o)
{
    uint64_t lim = o->pt_window;
    const edge_cache_t *c = o->pt_cache;
    if (c && __atomic_load_n(&c->tight, __ATOMIC_RELAXED)) {
        lim = 0;
    } else if (c) {
        int fills = __atomic_load_n(&c->fills_inflight, __ATOMIC_RELAXED);
        uint64_t share = c->budget / (uint64_t)(fills > 1 ? fills : 1);
        if (share < lim) {
            lim = share;
        }
    }
    return lim < EDGE_PASSTHROUGH_WINDOW_MIN ? EDGE_PASSTHROUGH_WINDOW_MIN : lim;
}

/* Free the whole chunks every attached reader is past (never the filler's tail); wake a paused
 * filler when the window has room again or nobody reads any more. Under pt_lock. */
static void pt_release_locked(edge_obj_t *o)
{
    if (!o->passthrough) {
        return;
    }
    uint64_t low = edge_obj_filled(o);
    for (const edge_obj_reader_t *r = o->readers; r; r = r->next) {
        if (r->done < low) {
            low = r->done;
        }
    }
    edge_chunk_t *ch = o->head;
    while (ch && ch != o->tail && o->pt_base + ch->cap <= low) {
        edge_chunk_t *next = ch->next;
        o->pt_base += ch->cap;
        o->pt_bytes -= sizeof(*ch) + ch->cap;
        __atomic_sub_fetch(&o->pt_cache->inflight_bytes, sizeof(*ch) + ch->cap, __ATOMIC_RELAXED);
        __atomic_store_n(&o->head, next, __ATOMIC_RELEASE);
        free(ch);
        ch = next;
    }
    if (o->pt_resume && (o->pt_bytes < pt_limit_locked(o) || o->n_readers == 0)) {
        uv_async_send(o->pt_resume);
        o->pt_resume = NULL; /* one wake-up per pause */
    }
}

void edge_obj_make_passthrough(edge_cache_t *c, edge_obj_t *o, uint64_t window)
{
    edge_cache_lock(c);
    o->store = false;
    edge_cache_remove_locked(c, o);
    edge_cache_unlock(c);
    pthread_mutex_lock(&o->pt_lock);
    uint64_t held = 0;
    for (const edge_chunk_t *ch = o->head; ch; ch = ch->next) {
        held += sizeof(*ch) + ch->cap;
    }
    if (o->held_bytes) {
        /* Counted as a body outside the table until now: pt_bytes counts them from here on. */
        __atomic_sub_fetch(&c->inflight_bytes, o->held_bytes, __ATOMIC_RELAXED);
        o->held_bytes = 0;
    }
    o->pt_cache = c;
    o->pt_window = window;
    o->pt_bytes = held;
    __atomic_add_fetch(&c->inflight_bytes, held, __ATOMIC_RELAXED);
    __atomic_store_n(&o->passthrough, true, __ATOMIC_RELEASE);
    pt_release_locked(o);
    pthread_mutex_unlock(&o->pt_lock);
}

int edge_obj_reader_attach(edge_obj_t *o, edge_obj_reader_t *r, int fd)
{
    r->obj = NULL;
    if (edge_obj_state(o) == EDGE_OBJ_COMPLETE && !edge_obj_passthrough(o)) {
        return 0; /* a complete stored body never moves */
    }
    pthread_mutex_lock(&o->pt_lock);
    if (o->pt_base > 0) {
        pthread_mutex_unlock(&o->pt_lock);
        return EDGE_OBJ_GONE;
    }
    r->obj = o;
    r->done = 0;
    r->fd = fd;
    __atomic_store_n(&r->dropped, false, __ATOMIC_RELAXED);
    r->next = o->readers;
    o->readers = r;
    o->n_readers++;
    pthread_mutex_unlock(&o->pt_lock);
    return 0;
}

void edge_obj_reader_detach(edge_obj_reader_t *r)
{
    edge_obj_t *o = r->obj;
    if (!o) {
        return;
    }
    pthread_mutex_lock(&o->pt_lock);
    edge_obj_reader_t **pp = &o->readers;
    while (*pp && *pp != r) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = r->next;
        o->n_readers--;
    }
    r->obj = NULL;
    r->next = NULL;
    pt_release_locked(o);
    pthread_mutex_unlock(&o->pt_lock);
}

int edge_obj_read(edge_obj_t *o, edge_obj_reader_t *r, uint64_t off, uint64_t end, uv_buf_t *bufs,
                  unsigned max)
{
    if (r->obj != o) {
        return (int)edge_obj_bufs(o, off, end, bufs, max); /* complete and stored: never moves */
    }
    pthread_mutex_lock(&o->pt_lock);
    if (off > r->done) {
        r->done = off;
    }
    if (__atomic_load_n(&r->dropped, __ATOMIC_RELAXED) || off < o->pt_base) {
        pthread_mutex_unlock(&o->pt_lock);
        return EDGE_OBJ_GONE;
    }
    pt_release_locked(o);
    unsigned n = chunks_bufs(o->head, o->pt_base, off, end, bufs, max);
    pthread_mutex_unlock(&o->pt_lock);
    return (int)n;
}

bool edge_obj_pt_pause(edge_obj_t *o, uv_async_t *resume)
{
    pthread_mutex_lock(&o->pt_lock);
    bool full = o->passthrough && o->pt_bytes >= pt_limit_locked(o) && o->n_readers > 0;
    o->pt_resume = full ? resume : NULL;
    pthread_mutex_unlock(&o->pt_lock);
    return full;
}

unsigned edge_obj_drop_slow_readers(edge_cache_t *c, edge_obj_t *o)
{
    unsigned n = 0;
    pthread_mutex_lock(&o->pt_lock);
    /* Those still holding the oldest chunk after the filler waited for them a whole bound. */
    uint64_t pin = o->head ? o->pt_base + o->head->cap : o->pt_base;
    for (edge_obj_reader_t *r = o->readers; r; r = r->next) {
        if (r->done < pin && !__atomic_load_n(&r->dropped, __ATOMIC_RELAXED)) {
            __atomic_store_n(&r->dropped, true, __ATOMIC_RELAXED);
            if (r->fd >= 0) {
                shutdown(r->fd, SHUT_RDWR); /* a write stuck on a full socket fails now */
            }
            n++;
        }
    }
    pthread_mutex_unlock(&o->pt_lock);
    __atomic_add_fetch(&c->readers_dropped, n, __ATOMIC_RELAXED);
    return n;
}

bool edge_obj_unread(edge_obj_t *o)
{
    pthread_mutex_lock(&o->pt_lock);
    bool unread = o->n_readers == 0 && __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE) == 1;
    pthread_mutex_unlock(&o->pt_lock);
    return unread;
}

void edge_obj_copy(const edge_obj_t *o, uint64_t off, char *dst, size_t len)
{
    uv_buf_t b[16];
    while (len > 0) {
        unsigned n = edge_obj_bufs(o, off, off + len, b, 16);
        if (n == 0) {
            return;
        }
        for (unsigned i = 0; i < n; i++) {
            memcpy(dst, b[i].base, b[i].len);
            dst += b[i].len;
            off += b[i].len;
            len -= b[i].len;
        }
    }
}
