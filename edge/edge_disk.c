/* edge_disk.c: the optional disk tier: objects evicted from memory are written to files (bounded
 * in bytes, LRU) by a writer thread, and promoted back to memory on a later miss. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "edge_internal.h"
#include "log.h"

#define DISK_QUEUE_MAX 64
#define FILE_PREFIX    "segment-edge-"
/* A file takes whole filesystem blocks: a 100-byte body uses one. The block is the directory's
 * filesystem's (statvfs f_frsize: 4 KiB on ext4, xfs and tmpfs; 64 KiB on some), DISK_BLOCK when
 * the filesystem does not say, and at most DISK_BLOCK_MAX. */
#define DISK_BLOCK     4096u
#define DISK_BLOCK_MAX (1u << 20)
/* Initial index size (a power of two); it doubles when the entries outnumber the buckets. */
#define DISK_BUCKETS_MIN 1024u

typedef struct disk_meta {
    int status;
    char *ctype;
    char *etag;
    char *last_modified;
    char *cache_control;
    edge_media_kind_t kind;
    uint64_t resp_ms;
    int64_t origin_age;
    uint64_t ttl_ms;
    uint64_t swr_ms;
    uint64_t sie_ms;
} disk_meta_t;

typedef struct disk_entry disk_entry_t;
struct disk_entry {
    char *key;
    size_t key_len;
    uint64_t hash; /* edge_key_hash of the key: the bucket, kept for growing the index */
    uint64_t id;   /* file name */
    uint64_t size;
    disk_meta_t meta;
    disk_entry_t *hnext;
    edge_list_t lru;
};

typedef struct disk_job disk_job_t;
struct disk_job {
    edge_obj_t *obj;
    disk_meta_t meta;
    disk_job_t *next;
};

struct edge_disk {
    char dir[1024];
    uint64_t budget;
    uint64_t block; /* the filesystem's allocation unit */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool stop;
    disk_job_t *queue_head;
    disk_job_t *queue_tail;
    unsigned queued;
    disk_entry_t **buckets;
    size_t n_buckets;
    edge_list_t lru;
    uint64_t next_id;
    /* under lock */
    uint64_t bytes;      /* the entries' charges (disk_entry_charge), held to budget */
    uint64_t body_bytes; /* the entries' body lengths */
    uint64_t objects;
    uint64_t writes;
    uint64_t hits;
    uint64_t evictions;
    uint64_t dropped;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void meta_free(disk_meta_t *m)
{
    free(m->ctype);
    free(m->etag);
    free(m->last_modified);
    free(m->cache_control);
    memset(m, 0, sizeof(*m));
}

static void meta_copy(disk_meta_t *dst, const disk_meta_t *src)
{
    *dst = *src;
    dst->ctype = dup_or_null(src->ctype);
    dst->etag = dup_or_null(src->etag);
    dst->last_modified = dup_or_null(src->last_modified);
    dst->cache_control = dup_or_null(src->cache_control);
}

static void disk_path(const edge_disk_t *d, uint64_t id, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" FILE_PREFIX "%016llx%s", d->dir, (unsigned long long)id, suffix);
}

/* What an entry costs against the budget: its file in whole blocks, plus its index memory (the
 * entry, its key and its header strings). The charge is added when the entry enters the index
 * and subtracted when it leaves, computed both times here from fields that do not change in
 * between, so the total cannot drift. */
static uint64_t disk_entry_charge(const edge_disk_t *d, const disk_entry_t *e)
{
    uint64_t file = (e->size + d->block - 1) / d->block * d->block;
    return file + sizeof(*e) + e->key_len + 1 + edge_str_mem(e->meta.ctype) +
           edge_str_mem(e->meta.etag) + edge_str_mem(e->meta.last_modified) +
           edge_str_mem(e->meta.cache_control);
}

static disk_entry_t **disk_find_slot(edge_disk_t *d, const char *key, size_t len, uint64_t hash)
{
    disk_entry_t **pp = &d->buckets[hash & (d->n_buckets - 1)];
    while (*pp &&
           !((*pp)->hash == hash && (*pp)->key_len == len && memcmp((*pp)->key, key, len) == 0)) {
        pp = &(*pp)->hnext;
    }
    return pp;
}

static void disk_entry_free(disk_entry_t *e)
{
    meta_free(&e->meta);
    free(e->key);
    free(e);
}

static void disk_entry_drop_locked(edge_disk_t *d, disk_entry_t **slot)
{
    disk_entry_t *e = *slot;
    char path[1200];
    *slot = e->hnext;
    edge_list_del(&e->lru);
    disk_path(d, e->id, ".obj", path, sizeof(path));
    unlink(path);
    d->bytes -= disk_entry_charge(d, e);
    d->body_bytes -= e->size;
    d->objects--;
    disk_entry_free(e);
}

/* Double the index when the entries would outnumber its buckets, so chains stay short. Only the
 * writer thread resizes the index, so the new table is allocated outside the lock; when the
 * allocation fails the old table is kept (longer chains, still correct) and the next insertion
 * tries again. */
static void disk_index_grow(edge_disk_t *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->n_buckets;
    bool full = d->objects + 1 > n;
    pthread_mutex_unlock(&d->lock);
    if (!full || n > SIZE_MAX / 2 / sizeof(disk_entry_t *)) {
        return;
    }
    size_t nb = n * 2;
    disk_entry_t **b = calloc(nb, sizeof(*b));
    if (!b) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < n; i++) {
        disk_entry_t *e = d->buckets[i];
        while (e) {
            disk_entry_t *next = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    disk_entry_t **old = d->buckets;
    d->buckets = b;
    d->n_buckets = nb;
    pthread_mutex_unlock(&d->lock);
    free(old);
}

static int disk_write_file(edge_disk_t *d, edge_obj_t *o, uint64_t id, uint64_t size)
{
    char tmp[1200];
    char path[1200];
    disk_path(d, id, ".tmp", tmp, sizeof(tmp));
    disk_path(d, id, ".obj", path, sizeof(path));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    uint64_t off = 0;
    int rc = 0;
    while (off < size && rc == 0) {
        uv_buf_t b[16];
        unsigned n = edge_obj_bufs(o, off, size, b, 16);
        if (n == 0) {
            rc = -EIO;
            break;
        }
        for (unsigned i = 0; i < n && rc == 0; i++) {
            const char *p = b[i].base;
            size_t left = b[i].len;
            while (left > 0) {
                ssize_t w = write(fd, p, left);
                if (w < 0 && errno == EINTR) {
                    continue;
                }
                if (w <= 0) {
                    rc = -errno;
                    break;
                }
                p += w;
                left -= (size_t)w;
            }
            off += b[i].len;
        }
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

static void disk_store(edge_disk_t *d, disk_job_t *job)
{
    edge_obj_t *o = job->obj;
    uint64_t size = edge_obj_filled(o);
    if (size == 0) {
        return;
    }
    disk_entry_t *e = calloc(1, sizeof(*e));
    char *key = malloc(o->key_len + 1);
    if (!e || !key) {
        free(e);
        free(key);
        return;
    }
    memcpy(key, o->key, o->key_len + 1);
    e->key = key;
    e->key_len = o->key_len;
    e->hash = edge_key_hash(key, o->key_len);
    e->size = size;
    e->meta = job->meta;
    memset(&job->meta, 0, sizeof(job->meta)); /* moved */
    uint64_t charge = disk_entry_charge(d, e);
    if (charge > d->budget) {
        disk_entry_free(e);
        return;
    }
    disk_index_grow(d);
    pthread_mutex_lock(&d->lock);
    e->id = d->next_id++;
    pthread_mutex_unlock(&d->lock);
    int rc = disk_write_file(d, o, e->id, size);
    if (rc != 0) {
        log_warn("disk tier: cannot write %s: %s", o->key, strerror(-rc));
        disk_entry_free(e);
        return;
    }
    pthread_mutex_lock(&d->lock);
    disk_entry_t **slot = disk_find_slot(d, key, e->key_len, e->hash);
    if (*slot) {
        disk_entry_drop_locked(d, slot); /* an older copy */
        slot = disk_find_slot(d, key, e->key_len, e->hash);
    }
    e->hnext = *slot;
    *slot = e;
    edge_list_add(&d->lru, &e->lru);
    d->bytes += charge;
    d->body_bytes += size;
    d->objects++;
    d->writes++;
    while (d->bytes > d->budget && d->lru.prev != &d->lru) {
        disk_entry_t *old = EDGE_CONTAINER(d->lru.prev, disk_entry_t, lru);
        d->evictions++;
        disk_entry_drop_locked(d, disk_find_slot(d, old->key, old->key_len, old->hash));
    }
    pthread_mutex_unlock(&d->lock);
}

static void *disk_thread(void *arg)
{
    edge_disk_t *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->stop && !d->queue_head) {
            pthread_cond_wait(&d->cond, &d->lock);
        }
        disk_job_t *job = d->queue_head;
        if (!job) {
            break; /* stopping with an empty queue */
        }
        d->queue_head = job->next;
        if (!d->queue_head) {
            d->queue_tail = NULL;
        }
        d->queued--;
        pthread_mutex_unlock(&d->lock);
        if (!d->stop) {
            disk_store(d, job);
        }
        meta_free(&job->meta);
        edge_obj_unref(job->obj);
        free(job);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void disk_clean_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        return;
    }
    struct dirent *de;
    char path[1200];
    while ((de = readdir(dh)) != NULL) {
        if (strncmp(de->d_name, FILE_PREFIX, sizeof(FILE_PREFIX) - 1) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(dh);
}

int edge_disk_open(edge_disk_t **out, const char *dir, uint64_t budget)
{
    edge_disk_t *d = calloc(1, sizeof(*d));
    if (!d) {
        return -ENOMEM;
    }
    snprintf(d->dir, sizeof(d->dir), "%s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        free(d);
        return rc;
    }
    /* The index is not persisted: files of an earlier run are removed. */
    disk_clean_dir(dir);
    d->budget = budget;
    struct statvfs fs;
    d->block = statvfs(dir, &fs) == 0 ? (fs.f_frsize ? fs.f_frsize : fs.f_bsize) : 0;
    if (d->block == 0 || d->block > DISK_BLOCK_MAX) {
        d->block = DISK_BLOCK;
    }
    d->n_buckets = DISK_BUCKETS_MIN;
    d->buckets = calloc(d->n_buckets, sizeof(*d->buckets));
    if (!d->buckets) {
        free(d);
        return -ENOMEM;
    }
    edge_list_init(&d->lru);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    if (pthread_create(&d->thread, NULL, disk_thread, d) != 0) {
        free(d->buckets);
        free(d);
        return -EAGAIN;
    }
    *out = d;
    return 0;
}

void edge_disk_close(edge_disk_t *d)
{
    if (!d) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    edge_disk_clear(d);
    free(d->buckets);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

void edge_disk_clear(edge_disk_t *d)
{
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_buckets; i++) {
        while (d->buckets[i]) {
            disk_entry_drop_locked(d, &d->buckets[i]);
        }
    }
    pthread_mutex_unlock(&d->lock);
}

void edge_disk_demote_locked(edge_disk_t *d, edge_obj_t *o)
{
    disk_job_t *job = calloc(1, sizeof(*job));
    if (!job) {
        return;
    }
    disk_meta_t m = {
        .status = o->status,
        .ctype = o->ctype,
        .etag = o->etag,
        .last_modified = o->last_modified,
        .cache_control = o->cache_control,
        .kind = o->kind,
        .resp_ms = o->resp_ms,
        .origin_age = o->origin_age,
        .ttl_ms = o->ttl_ms,
        .swr_ms = o->swr_ms,
        .sie_ms = o->sie_ms,
    };
    meta_copy(&job->meta, &m);
    job->obj = edge_obj_ref(o);
    pthread_mutex_lock(&d->lock);
    if (d->queued >= DISK_QUEUE_MAX || d->stop) {
        d->dropped++;
        pthread_mutex_unlock(&d->lock);
        meta_free(&job->meta);
        edge_obj_unref(job->obj);
        free(job);
        return;
    }
    if (d->queue_tail) {
        d->queue_tail->next = job;
    } else {
        d->queue_head = job;
    }
    d->queue_tail = job;
    d->queued++;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

edge_obj_t *edge_disk_promote(edge_disk_t *d, const char *key, size_t len)
{
    disk_meta_t m;
    uint64_t id = 0;
    uint64_t size = 0;
    uint64_t hash = edge_key_hash(key, len);
    pthread_mutex_lock(&d->lock);
    disk_entry_t *e = *disk_find_slot(d, key, len, hash);
    if (!e) {
        pthread_mutex_unlock(&d->lock);
        return NULL;
    }
    edge_list_del(&e->lru);
    edge_list_add(&d->lru, &e->lru);
    meta_copy(&m, &e->meta);
    id = e->id;
    size = e->size;
    pthread_mutex_unlock(&d->lock);

    char path[1200];
    disk_path(d, id, ".obj", path, sizeof(path));
    edge_obj_t *o = NULL;
    edge_chunk_t *ch = NULL;
    void *map = MAP_FAILED;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != size) {
        goto fail; /* evicted meanwhile */
    }
    map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    o = edge_obj_new(key, len);
    ch = malloc(sizeof(*ch));
    if (map == MAP_FAILED || !o || !ch) {
        goto fail;
    }
    ch->next = NULL;
    ch->cap = size;
    ch->data = map;
    o->head = o->tail = ch;
    o->fd = fd;
    o->map = map;
    o->map_len = size;
    o->status = m.status;
    o->clen = (int64_t)size;
    o->ctype = m.ctype;
    o->etag = m.etag;
    o->last_modified = m.last_modified;
    o->cache_control = m.cache_control;
    o->kind = m.kind;
    o->resp_ms = m.resp_ms;
    o->origin_age = m.origin_age;
    o->ttl_ms = m.ttl_ms;
    o->swr_ms = m.swr_ms;
    o->sie_ms = m.sie_ms;
    o->store = true;
    o->from_disk = true;
    o->mem += sizeof(*ch) + size;
    o->filled = size;
    o->state = EDGE_OBJ_COMPLETE;
    pthread_mutex_lock(&d->lock);
    d->hits++;
    pthread_mutex_unlock(&d->lock);
    return o;
fail:
    meta_free(&m);
    free(ch);
    if (o) {
        edge_obj_unref(o);
    }
    if (map != MAP_FAILED) {
        munmap(map, size);
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

void edge_disk_stats(edge_disk_t *d, edge_disk_stats_t *s)
{
    pthread_mutex_lock(&d->lock);
    s->budget = d->budget;
    s->bytes = d->bytes;
    s->body_bytes = d->body_bytes;
    s->block = d->block;
    s->objects = d->objects;
    s->buckets = d->n_buckets;
    s->writes = d->writes;
    s->hits = d->hits;
    s->evictions = d->evictions;
    s->dropped = d->dropped;
    pthread_mutex_unlock(&d->lock);
}
