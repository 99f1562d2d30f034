/* edge_cache.c: the shared object store: hash table, LRU eviction by bytes, append-only bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edge_internal.h"

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

static uint64_t key_hash(const char *k, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
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
    uint64_t h = key_hash(key, len);
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

static void cache_evict_locked(edge_cache_t *c, const edge_obj_t *keep)
{
    edge_list_t *it = c->lru.prev;
    while (c->bytes > c->budget && it != &c->lru) {
        edge_obj_t *o = EDGE_CONTAINER(it, edge_obj_t, lru);
        it = it->prev;
        int st = edge_obj_state(o);
        if (o == keep || st == EDGE_OBJ_PENDING || st == EDGE_OBJ_STREAMING) {
            continue;
        }
        c->evictions++;
        if (c->disk && st == EDGE_OBJ_COMPLETE && o->status == 200 && o->store && !o->from_disk &&
            edge_obj_filled(o) > 0) {
            edge_disk_demote_locked(c->disk, o);
        }
        edge_cache_remove_locked(c, o);
    }
}

void edge_cache_insert_locked(edge_cache_t *c, edge_obj_t *o)
{
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
    cache_evict_locked(c, o);
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
    o->mem += bytes;
    if (o->in_table) {
        c->bytes += bytes;
        cache_evict_locked(c, o);
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
    o->hash = key_hash(key, len);
    o->refs = 1;
    o->clen = -1;
    o->fd = -1;
    o->mem = sizeof(*o) + len + 1;
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

int edge_obj_append(edge_cache_t *c, edge_obj_t *o, const char *data, size_t len)
{
    uint64_t filled = o->filled; /* only this thread writes it */
    while (len > 0) {
        edge_chunk_t *t = o->tail;
        size_t used = 0;
        if (t) {
            used = (size_t)(filled - o->tail_base);
        }
        if (!t || used == t->cap) {
            size_t cap = CHUNK_SIZE;
            edge_chunk_t *n = NULL;
            if (!t && o->clen >= FILE_BODY_MIN) {
                cap = (size_t)o->clen;
                n = obj_file_chunk(o, cap);
            }
            if (!n && o->clen > 0 && (uint64_t)o->clen > filled &&
                (uint64_t)o->clen - filled <= CHUNK_EXACT_MAX) {
                cap = (size_t)((uint64_t)o->clen - filled);
            } else if (!n) {
                cap = CHUNK_SIZE;
            }
            if (!n && cap < len && cap < CHUNK_SIZE) {
                cap = len < CHUNK_SIZE ? CHUNK_SIZE : len; /* origin sends more than it said */
            }
            if (!n) {
                n = malloc(sizeof(*n) + cap);
                if (!n) {
                    return -ENOMEM;
                }
                n->data = n->inline_data;
            }
            n->next = NULL;
            n->cap = cap;
            if (t) {
                __atomic_store_n(&t->next, n, __ATOMIC_RELEASE);
            } else {
                __atomic_store_n(&o->head, n, __ATOMIC_RELEASE);
            }
            o->tail_base = filled;
            o->tail = t = n;
            used = 0;
            edge_cache_lock(c);
            edge_cache_account_locked(c, o, sizeof(*n) + cap);
            edge_cache_unlock(c);
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

unsigned edge_obj_bufs(const edge_obj_t *o, uint64_t off, uint64_t end, uv_buf_t *bufs,
                       unsigned max)
{
    unsigned n = 0;
    uint64_t base = 0;
    const edge_chunk_t *ch = __atomic_load_n(&o->head, __ATOMIC_ACQUIRE);
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
