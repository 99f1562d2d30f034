/* test_edge_disk.c: the disk tier's budget and index: each object is charged its file in whole
 * blocks plus its index entry, so many tiny objects with long keys stay within the budget in
 * bytes, in objects and on the filesystem; removing every entry gives the whole charge back; the
 * index grows with its entries. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "edge_internal.h"

#define LONG_KEY 4000 /* a client-chosen _HLS_msn value, near the longest target accepted */

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static edge_disk_stats_t stats(edge_disk_t *d)
{
    edge_disk_stats_t s;
    edge_disk_stats(d, &s);
    return s;
}

/* A complete 200 object of key and body len bytes (each byte 'a' + n % 26), with the headers a
 * playlist has. */
static edge_obj_t *object(edge_cache_t *c, const char *key, size_t len, unsigned n)
{
    char body[256];
    memset(body, 'a' + (int)(n % 26), sizeof(body));
    edge_obj_t *o = edge_obj_new(key, strlen(key));
    o->clen = (int64_t)len;
    CHECK(edge_obj_append(c, o, body, len) == 0, "append");
    o->status = 200;
    o->store = true;
    o->ctype = strdup("application/vnd.apple.mpegurl");
    o->etag = strdup("\"5f3a-100\"");
    o->cache_control = strdup("max-age=1");
    __atomic_store_n(&o->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    return o;
}

/* Demote o (queued to the writer thread), again after a pause while the queue is full. */
static void demote(edge_disk_t *d, edge_obj_t *o)
{
    for (;;) {
        uint64_t dropped = stats(d).dropped;
        edge_disk_demote_locked(d, o);
        if (stats(d).dropped == dropped) {
            return;
        }
        pause_ms(1);
    }
}

/* Wait (60 s at most) until the writer thread has stored n objects in all. */
static bool wait_writes(edge_disk_t *d, uint64_t n)
{
    for (int i = 0; i < 60000 && stats(d).writes < n; i++) {
        pause_ms(1);
    }
    return stats(d).writes == n;
}

/* The files of the tier in dir: their count and the filesystem space they take. */
static void dir_usage(const char *dir, uint64_t *files, uint64_t *space)
{
    *files = *space = 0;
    DIR *dh = opendir(dir);
    if (!dh) {
        return;
    }
    struct dirent *de;
    char path[1200];
    struct stat sb;
    while ((de = readdir(dh)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' && stat(path, &sb) == 0) {
            (*files)++;
            *space += (uint64_t)sb.st_blocks * 512;
        }
    }
    closedir(dh);
}

static void long_key(char *out, size_t cap, unsigned n)
{
    int k = snprintf(out, cap, "/live/x.m3u8?_HLS_msn=%u", n);
    memset(out + k, '7', LONG_KEY);
    out[k + LONG_KEY] = '\0';
}

static void test_tiny_objects(const char *dir)
{
    const uint64_t budget = 1 << 20;
    const unsigned n = 3000; /* 300 KB of bodies: all of them would fit if only bodies counted */
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 64 << 20) == 0, "init");
    edge_disk_t *d = NULL;
    CHECK(edge_disk_open(&d, dir, budget) == 0, "open");
    char key[LONG_KEY + 64];
    for (unsigned i = 0; i < n; i++) {
        long_key(key, sizeof(key), i);
        edge_obj_t *o = object(&c, key, 100, i);
        demote(d, o);
        edge_obj_unref(o);
    }
    CHECK(wait_writes(d, n), "all written: %llu", (unsigned long long)stats(d).writes);
    edge_disk_stats_t s = stats(d);
    CHECK(s.bytes <= budget, "charged %llu of %llu", (unsigned long long)s.bytes,
          (unsigned long long)budget);
    struct statvfs fs;
    CHECK(statvfs(dir, &fs) == 0 && s.block == (fs.f_frsize ? fs.f_frsize : fs.f_bsize),
          "bodies are rounded to the filesystem's block: %llu", (unsigned long long)s.block);
    CHECK(s.objects > 0 && s.objects <= budget / s.block, "%llu objects, a block each at least",
          (unsigned long long)s.objects);
    CHECK(s.bytes >= s.objects * (s.block + LONG_KEY), "each charged a block and its key: %llu",
          (unsigned long long)s.bytes);
    CHECK(s.body_bytes == s.objects * 100, "bodies %llu", (unsigned long long)s.body_bytes);
    CHECK(s.evictions == n - s.objects, "the rest evicted: %llu", (unsigned long long)s.evictions);
    uint64_t files, space;
    dir_usage(dir, &files, &space);
    CHECK(files == s.objects, "one file per object: %llu", (unsigned long long)files);
    CHECK(space <= budget, "filesystem space %llu within the budget", (unsigned long long)space);

    /* The newest objects written again replace their older copies: same charge. */
    for (unsigned i = n - 10; i < n; i++) {
        long_key(key, sizeof(key), i);
        edge_obj_t *o = object(&c, key, 100, i);
        demote(d, o);
        edge_obj_unref(o);
    }
    CHECK(wait_writes(d, n + 10), "rewritten");
    edge_disk_stats_t r = stats(d);
    CHECK(r.bytes == s.bytes && r.objects == s.objects && r.evictions == s.evictions,
          "replacing gives the old charge back: %llu then %llu", (unsigned long long)s.bytes,
          (unsigned long long)r.bytes);

    edge_disk_clear(d);
    s = stats(d);
    CHECK(s.bytes == 0 && s.body_bytes == 0 && s.objects == 0, "all removed, charge %llu",
          (unsigned long long)s.bytes);
    dir_usage(dir, &files, &space);
    CHECK(files == 0, "no file left: %llu", (unsigned long long)files);
    edge_disk_close(d);
    edge_cache_deinit(&c);
}

static void test_index_grows(const char *dir)
{
    const unsigned n = 20000;
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 64 << 20) == 0, "init");
    edge_disk_t *d = NULL;
    CHECK(edge_disk_open(&d, dir, 1ull << 30) == 0, "open");
    uint64_t buckets0 = stats(d).buckets;
    char key[64];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/vod/%u.m3u8", i);
        edge_obj_t *o = object(&c, key, 1 + i % 200, i);
        demote(d, o);
        edge_obj_unref(o);
    }
    CHECK(wait_writes(d, n), "all written: %llu", (unsigned long long)stats(d).writes);
    edge_disk_stats_t s = stats(d);
    CHECK(s.objects == n && s.evictions == 0, "all kept: %llu", (unsigned long long)s.objects);
    CHECK(s.buckets >= s.objects && s.buckets > buckets0, "the index grew from %llu to %llu",
          (unsigned long long)buckets0, (unsigned long long)s.buckets);
    CHECK((s.buckets & (s.buckets - 1)) == 0, "a power of two");
    unsigned found = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/vod/%u.m3u8", i);
        edge_obj_t *o = edge_disk_promote(d, key, strlen(key));
        char want[256];
        size_t len = 1 + i % 200;
        memset(want, 'a' + (int)(i % 26), len);
        if (o && o->filled == len && o->status == 200 && o->ctype &&
            strcmp(o->ctype, "application/vnd.apple.mpegurl") == 0 &&
            memcmp(o->head->data, want, len) == 0) {
            found++;
        }
        edge_obj_unref(o);
    }
    CHECK(found == n, "every object found with its body and head: %u", found);
    CHECK(edge_disk_promote(d, "/vod/x.m3u8", 11) == NULL, "a key never stored is not");
    edge_disk_close(d);
    edge_cache_deinit(&c);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/edge-disk-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *base = mkdtemp(path);
    if (!base) {
        perror("mkdtemp");
        return 1;
    }
    char sub[1100];
    snprintf(sub, sizeof(sub), "%s/a", base);
    test_tiny_objects(sub);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/b", base);
    test_index_grows(sub);
    rmdir(sub);
    rmdir(base);
    return check_report();
}
