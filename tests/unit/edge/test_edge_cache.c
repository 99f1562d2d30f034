/* test_edge_cache.c: the object layer's pass-through window and its accounting: release behind
 * the slowest reader, back-pressure signal, slow-reader drop, bytes gone for a late or dropped
 * reader, conversion of a stored body, in-flight byte counts, evicted bodies still being sent,
 * head strings and gzip copies in an object's charge; and the shared key hash, with keys built to
 * collide under FNV-1a. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "edge_internal.h"
#include "hash.h"

#define K 1024u

static void fill(edge_cache_t *c, edge_obj_t *o, uint64_t from, size_t len)
{
    char buf[64 * 1024];
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            buf[i] = (char)((from + i) * 7 % 251);
        }
        CHECK(edge_obj_append(c, o, buf, n) == 0, "append at %llu", (unsigned long long)from);
        from += n;
        len -= n;
    }
}

/* The bytes read at off are the ones written there. */
static bool read_ok(edge_obj_t *o, edge_obj_reader_t *r, uint64_t off, uint64_t end)
{
    uv_buf_t b[8];
    int n = edge_obj_read(o, r, off, end, b, 8);
    if (n <= 0) {
        return false;
    }
    uint64_t at = off;
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < b[i].len; j++, at++) {
            if (b[i].base[j] != (char)(at * 7 % 251)) {
                return false;
            }
        }
    }
    return at > off;
}

/* A new object of Content-Length clen (-1: unknown) in c's table. */
static edge_obj_t *insert(edge_cache_t *c, const char *key, int64_t clen)
{
    edge_obj_t *o = edge_obj_new(key, strlen(key));
    o->clen = clen;
    edge_cache_lock(c);
    edge_cache_insert_locked(c, o);
    edge_cache_unlock(c);
    return o;
}

static int resumed;
static void on_resume(uv_async_t *a)
{
    (void)a;
    resumed++;
}

static void test_window(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1 << 20) == 0, "init");
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_async_t resume;
    uv_async_init(&loop, &resume, on_resume);

    edge_obj_t *o = edge_obj_new("/big", 4);
    o->clen = 100 << 20; /* above any max_object: pass-through from the start */
    edge_obj_make_passthrough(&c, o, 256 * K);
    CHECK(edge_obj_passthrough(o), "pass-through");
    CHECK(c.n_objects == 0 && c.bytes == 0, "not stored");
    edge_obj_reader_t a = {0}, b = {0};
    CHECK(edge_obj_reader_attach(o, &a, -1) == 0, "attach a");
    CHECK(edge_obj_reader_attach(o, &b, -1) == 0, "attach b");
    CHECK(o->fd < 0, "no memfd for a pass-through body");

    fill(&c, o, 0, 192 * K);
    CHECK(!edge_obj_pt_pause(o, &resume), "window not full at 192k of 256k");
    fill(&c, o, 192 * K, 128 * K);
    CHECK(edge_obj_pt_pause(o, &resume), "window full at 320k: the filler pauses");
    CHECK(c.inflight_bytes == o->pt_bytes && o->pt_bytes >= 256 * K, "in-flight bytes %llu",
          (unsigned long long)c.inflight_bytes);

    /* a reads ahead; b (the slowest) holds the window. */
    CHECK(read_ok(o, &a, 0, 320 * K), "a reads from 0");
    CHECK(read_ok(o, &a, 300 * K, 320 * K), "a reads at 300k");
    CHECK(o->pt_base == 0, "nothing released while b is at 0");
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(resumed == 0, "no resume while the window is full");

    CHECK(read_ok(o, &b, 130 * K, 320 * K), "b reads at 130k");
    CHECK(o->pt_base == 128 * K, "released the two chunks below b: base %llu",
          (unsigned long long)o->pt_base);
    CHECK(c.inflight_bytes == o->pt_bytes && o->pt_bytes < 256 * K, "window has room: %llu",
          (unsigned long long)o->pt_bytes);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(resumed == 1, "the paused filler was woken once: %d", resumed);

    uv_buf_t bufs[4];
    CHECK(edge_obj_read(o, &b, 10 * K, 320 * K, bufs, 4) == EDGE_OBJ_GONE, "released bytes: gone");
    edge_obj_reader_t late = {0};
    CHECK(edge_obj_reader_attach(o, &late, -1) == EDGE_OBJ_GONE, "late reader: start gone");
    CHECK(late.obj == NULL, "late reader not attached");

    /* b stalls at 130k while the filler goes on: the window fills; b is dropped. */
    fill(&c, o, 320 * K, 64 * K);
    CHECK(read_ok(o, &a, 384 * K - 1, 384 * K), "a at the end");
    CHECK(edge_obj_pt_pause(o, &resume), "full again behind b");
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    b.fd = sv[0];
    CHECK(edge_obj_drop_slow_readers(&c, o) == 1, "one slow reader dropped");
    CHECK(__atomic_load_n(&b.dropped, __ATOMIC_RELAXED) && !a.dropped, "b dropped, a kept");
    CHECK(c.readers_dropped == 1, "drop counted");
    char x;
    CHECK(recv(sv[1], &x, 1, 0) == 0, "b's socket was shut down (EOF on the peer)");
    CHECK(edge_obj_read(o, &b, 131 * K, 384 * K, bufs, 4) == EDGE_OBJ_GONE,
          "a dropped reader reads nothing more");
    CHECK(o->pt_base == 128 * K, "b's bytes stay until it detaches");
    edge_obj_reader_detach(&b);
    edge_obj_reader_detach(&b); /* idempotent */
    CHECK(o->pt_base > 128 * K && o->n_readers == 1, "b detached: window moved to a");
    close(sv[0]);
    close(sv[1]);

    CHECK(!edge_obj_unread(o), "a still reads");
    edge_obj_reader_detach(&a);
    CHECK(edge_obj_unread(o), "no reader and no other reference: abandon the fill");
    CHECK(!edge_obj_pt_pause(o, &resume), "no pause without readers");
    CHECK(o->pt_bytes <= 64 * K + sizeof(edge_chunk_t), "only the tail chunk stays: %llu",
          (unsigned long long)o->pt_bytes);
    edge_obj_unref(o);
    CHECK(c.inflight_bytes == 0, "in-flight bytes back to 0: %llu",
          (unsigned long long)c.inflight_bytes);

    uv_close((uv_handle_t *)&resume, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    edge_cache_deinit(&c);
}

static void test_convert(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 4 << 20) == 0, "init");
    edge_obj_t *o = insert(&c, "/chunked", -1);
    edge_obj_reader_t r = {0};
    CHECK(edge_obj_reader_attach(o, &r, -1) == 0, "attach to a pending object");
    fill(&c, o, 0, 300 * K); /* unknown length: 64k chunks, stored */
    CHECK(c.bytes >= 300 * K && c.inflight_bytes == 0, "stored: %llu", (unsigned long long)c.bytes);
    uint64_t stored = c.bytes;
    edge_obj_make_passthrough(&c, o, 128 * K);
    CHECK(c.n_objects == 0 && c.bytes == 0, "left the table");
    CHECK(!o->store, "not stored any more");
    CHECK(c.inflight_bytes == o->pt_bytes && o->pt_bytes >= 300 * K && o->pt_bytes < stored,
          "its chunks are in flight now: %llu", (unsigned long long)c.inflight_bytes);
    CHECK(read_ok(o, &r, 0, 300 * K), "the reader still reads from 0");
    CHECK(read_ok(o, &r, 200 * K, 300 * K), "and on");
    CHECK(o->pt_base == 192 * K, "released behind it: %llu", (unsigned long long)o->pt_base);
    edge_obj_reader_detach(&r);
    edge_obj_unref(o); /* the test's creation reference */
    CHECK(c.inflight_bytes == 0, "freed");
    edge_cache_deinit(&c);
}

static void test_stored(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 4 << 20) == 0, "init");
    edge_obj_t *o = insert(&c, "/seg.ts", 200 * K);
    fill(&c, o, 0, 200 * K);
    CHECK(c.bytes >= 200 * K && c.bytes < 200 * K + 4096, "a known length maps exactly: %llu",
          (unsigned long long)c.bytes);
    __atomic_store_n(&o->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    edge_obj_reader_t r = {0};
    CHECK(edge_obj_reader_attach(o, &r, -1) == 0 && r.obj == NULL,
          "a complete stored body needs no reader");
    CHECK(read_ok(o, &r, 100 * K, 200 * K), "read without attaching");
    edge_obj_reader_detach(&r);
    edge_obj_unref(o); /* the test's creation reference; the table keeps its own */
    edge_cache_deinit(&c);
}

static void test_budget(void)
{
    /* 1 MiB: a 600k body is stored; a second one finds no room (the first is still being
     * filled, so it cannot be evicted) and streams through instead. */
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1 << 20) == 0, "init");
    c.pt_window = 256 * K;
    edge_obj_t *a = insert(&c, "/a.ts", 600 * K);
    edge_obj_t *b = insert(&c, "/b.ts", 600 * K);
    __atomic_store_n(&a->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
    __atomic_store_n(&b->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
    edge_obj_reader_t r = {0};
    CHECK(edge_obj_reader_attach(b, &r, -1) == 0, "attach to b");
    fill(&c, a, 0, 100 * K);
    CHECK(!edge_obj_passthrough(a) && a->in_table, "a has room");
    fill(&c, b, 0, 100 * K);
    CHECK(edge_obj_passthrough(b) && !b->in_table, "b has none: a pass-through");
    CHECK(c.stores_refused == 1, "counted: %llu", (unsigned long long)c.stores_refused);
    CHECK(c.bytes + c.inflight_bytes <= c.budget + 2 * 65 * K, "held %llu",
          (unsigned long long)(c.bytes + c.inflight_bytes));
    CHECK(read_ok(b, &r, 0, 100 * K), "b's reader gets its bytes");
    /* Once a is complete (and its filler let go) it can be evicted for what a fill needs. */
    __atomic_store_n(&a->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    edge_obj_unref(a);
    edge_obj_t *d = insert(&c, "/d.ts", 700 * K);
    fill(&c, d, 0, 64 * K);
    CHECK(!edge_obj_passthrough(d) && c.evictions == 1 && c.n_objects == 1, "a made room for d");
    edge_obj_reader_detach(&r);
    edge_obj_unref(b);
    edge_obj_unref(d);
    CHECK(c.inflight_bytes == 0, "pass-through bytes freed");
    edge_cache_deinit(&c);
}

/* A complete body evicted while a client is still being sent it keeps its memory: it goes on
 * counting against the budget (as bytes outside the table) until the client lets go, so slow
 * clients cannot make evicted bodies pile up beyond the budget. */
/* A complete body that a client is still being sent is not evicted (that would free nothing);
 * one taken out of the table all the same (replaced by a refreshed body) counts against the budget
 * until the last client lets go. */
static void test_pinned(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1 << 20) == 0, "init");
    edge_obj_t *a = insert(&c, "/a.ts", 600 * K);
    fill(&c, a, 0, 600 * K);
    __atomic_store_n(&a->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    /* a's filler is done; a client is being sent a (its own reference). */
    edge_obj_t *sending = edge_obj_ref(a);
    edge_obj_unref(a);
    edge_obj_t *d = insert(&c, "/d.ts", 700 * K);
    __atomic_store_n(&d->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
    fill(&c, d, 0, 64 * K);
    CHECK(a->in_table && c.evictions == 0, "a, being sent, is not evicted for d");
    CHECK(edge_obj_passthrough(d) && c.stores_refused == 1,
          "so d, which would not fit beside it, streams through instead of being stored");
    CHECK(c.bytes + c.inflight_bytes <= c.budget + 2 * 65 * K, "held %llu of %llu",
          (unsigned long long)(c.bytes + c.inflight_bytes), (unsigned long long)c.budget);
    edge_obj_unref(sending); /* the client is done */
    edge_obj_unref(d);
    CHECK(c.inflight_bytes == 0, "d freed: %llu", (unsigned long long)c.inflight_bytes);
    edge_obj_t *f = insert(&c, "/f.ts", 700 * K);
    __atomic_store_n(&f->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
    fill(&c, f, 0, 64 * K);
    edge_cache_lock(&c);
    bool gone = edge_cache_find_locked(&c, "/a.ts", 5) == NULL;
    edge_cache_unlock(&c);
    CHECK(gone && c.evictions == 1 && !edge_obj_passthrough(f),
          "with nobody sending a any more, a is evicted for the next fill, which is stored");
    edge_obj_unref(f);
    /* Taken out of the table while being sent: still counted until the client lets go. */
    edge_obj_t *g = insert(&c, "/g.ts", 200 * K);
    fill(&c, g, 0, 200 * K);
    __atomic_store_n(&g->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    uint64_t gmem = g->mem, bytes = c.bytes;
    sending = edge_obj_ref(g);
    edge_obj_unref(g);
    edge_cache_lock(&c);
    edge_cache_remove_locked(&c, g);
    edge_cache_unlock(&c);
    CHECK(c.bytes == bytes - gmem && c.inflight_bytes >= gmem,
          "g, removed while being sent, still counts: %llu of %llu",
          (unsigned long long)c.inflight_bytes, (unsigned long long)gmem);
    uint64_t before = c.inflight_bytes;
    edge_obj_unref(sending); /* the client is done: g is freed */
    CHECK(c.inflight_bytes == before - gmem, "its bytes given back: %llu",
          (unsigned long long)c.inflight_bytes);
    /* Removed with nobody sending it: freed at once, nothing held. */
    edge_obj_t *e = insert(&c, "/e.ts", 100 * K);
    fill(&c, e, 0, 100 * K);
    __atomic_store_n(&e->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    edge_obj_unref(e);
    bytes = c.bytes;
    uint64_t emem = e->mem;
    edge_cache_lock(&c);
    edge_cache_remove_locked(&c, e);
    edge_cache_unlock(&c);
    CHECK(c.bytes == bytes - emem && c.inflight_bytes == 0, "an unread body leaves nothing behind");
    edge_cache_deinit(&c);
}

/* The head strings and a gzip copy count in the object's charge, once each, from when they are
 * set (or from when an object that has them enters the table), and leave with it. */
static void test_extra(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 4 << 20) == 0, "init");
    edge_obj_t *o = insert(&c, "/live.m3u8", 20 * K);
    fill(&c, o, 0, 20 * K);
    uint64_t body = c.bytes;
    CHECK(body == o->mem, "the table holds what o is charged: %llu", (unsigned long long)body);
    o->ctype = strdup("application/vnd.apple.mpegurl"); /* 29 + 1 */
    o->etag = strdup("\"abc\"");                        /* 5 + 1 */
    o->cache_control = strdup("max-age=2");             /* 9 + 1 */
    edge_cache_lock(&c);
    edge_cache_account_extra_locked(&c, o);
    edge_cache_account_extra_locked(&c, o);
    edge_cache_unlock(&c);
    CHECK(c.bytes == body + 46 && o->mem == c.bytes, "head strings charged once: %llu",
          (unsigned long long)(c.bytes - body));
    o->gz_len = 3000;
    o->gz = malloc(o->gz_len);
    edge_cache_lock(&c);
    edge_cache_account_extra_locked(&c, o);
    edge_cache_unlock(&c);
    CHECK(c.bytes == body + 46 + 3000, "and the gzip copy: %llu",
          (unsigned long long)(c.bytes - body));
    /* An object whose head was set before it entered the table (a refresh, the disk tier). */
    edge_obj_t *p = edge_obj_new("/p.ts", 5);
    p->etag = strdup("\"0123456789\""); /* 12 + 1 */
    uint64_t bare = p->mem;
    edge_cache_lock(&c);
    edge_cache_insert_locked(&c, p);
    edge_cache_unlock(&c);
    CHECK(p->mem == bare + 13 && c.bytes == o->mem + p->mem && c.inflight_bytes == 0,
          "charged on entering the table: %llu", (unsigned long long)(p->mem - bare));
    /* A response not stored: taken out of the table while its fill still holds it (the
     * reference from edge_obj_new), then its gzip copy. Both count as in flight until the last
     * reference goes. */
    edge_obj_t *q = insert(&c, "/nostore.m3u8", 8 * K);
    fill(&c, q, 0, 8 * K);
    uint64_t qmem = q->mem;
    edge_cache_lock(&c);
    edge_cache_remove_locked(&c, q);
    edge_cache_unlock(&c);
    CHECK(c.inflight_bytes == qmem && q->held_bytes == qmem,
          "a body leaving the table while filled stays counted: %llu of %llu",
          (unsigned long long)c.inflight_bytes, (unsigned long long)qmem);
    q->gz_len = 2000;
    q->gz = malloc(q->gz_len);
    edge_cache_lock(&c);
    edge_cache_account_extra_locked(&c, q);
    edge_cache_account_extra_locked(&c, q);
    edge_cache_unlock(&c);
    CHECK(c.inflight_bytes == qmem + 2000, "its gzip copy counts once, as in flight: %llu",
          (unsigned long long)(c.inflight_bytes - qmem));
    edge_obj_unref(q);
    CHECK(c.inflight_bytes == 0, "given back with the last reference: %llu",
          (unsigned long long)c.inflight_bytes);
    __atomic_store_n(&o->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    edge_obj_unref(o);
    edge_obj_unref(p);
    edge_cache_lock(&c);
    edge_cache_remove_locked(&c, o);
    edge_cache_remove_locked(&c, p);
    edge_cache_unlock(&c);
    CHECK(c.bytes == 0 && c.inflight_bytes == 0, "all given back on removal: %llu",
          (unsigned long long)c.bytes);
    edge_cache_deinit(&c);
}

/* Room for something that may go unmade (a gzip copy): what can be evicted is; what a reader
 * still holds is not, and then there is none. */
static void test_room(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1 << 20) == 0, "init");
    edge_obj_t *a = insert(&c, "/a.m3u8", 600 * K);
    fill(&c, a, 0, 600 * K);
    __atomic_store_n(&a->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
    /* a's creator's reference stands for a reader still being sent it. */
    CHECK(!edge_cache_room(&c, NULL, 500 * K) && c.n_objects == 1,
          "no room while the body in use cannot go (%zu objects)", c.n_objects);
    CHECK(edge_cache_room(&c, NULL, 300 * K), "room for what fits beside it");
    edge_obj_unref(a);
    CHECK(edge_cache_room(&c, NULL, 500 * K) && c.n_objects == 0 && c.bytes == 0,
          "once let go it is evicted to make room (%zu objects)", c.n_objects);
    edge_cache_deinit(&c);
}

static void test_reserve(void)
{
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1 << 20) == 0, "init");
    CHECK(edge_fill_reserve(&c, 2) && edge_fill_reserve(&c, 2), "two places");
    CHECK(!edge_fill_reserve(&c, 2) && c.fills_inflight == 2, "no third");
    edge_fill_release(&c);
    CHECK(edge_fill_reserve(&c, 2), "one given back, taken again");
    edge_cache_deinit(&c);
}

/* Keys a client can build so that they share the low 20 bits of their FNV-1a 64 hash: FNV's low
 * k bits depend only on the low k bits of the state and of the input. At each of 12 positions a
 * search finds two 3-character blocks taking the state to the same low bits; one block per
 * position, either of its two, then gives 4096 keys with the same low 20 bits (so in one bucket
 * of any table of up to 2^20 buckets indexed by FNV). */
#define FLOOD_BITS 20
#define FLOOD_POS  12
#define FLOOD_KEYS (1u << FLOOD_POS)

static void flood_keys(char (*keys)[64])
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    static const char prefix[] = "/live/x.m3u8?_HLS_msn=";
    uint64_t h = hash_fnv1a64(prefix, strlen(prefix));
    uint32_t mask = (1u << FLOOD_BITS) - 1;
    char pair[FLOOD_POS][2][3];
    uint32_t *seen = malloc(sizeof(*seen) << FLOOD_BITS);
    CHECK(seen != NULL, "search table");
    for (int p = 0; p < FLOOD_POS; p++) {
        memset(seen, 0, sizeof(*seen) << FLOOD_BITS);
        bool found = false;
        for (uint32_t i = 0; i < 64 * 64 * 64 && !found; i++) {
            char b[3] = {alpha[i & 63], alpha[(i >> 6) & 63], alpha[i >> 12]};
            uint64_t x = h;
            for (int j = 0; j < 3; j++) {
                x = (x ^ (uint8_t)b[j]) * HASH_FNV64_PRIME;
            }
            uint32_t low = (uint32_t)x & mask;
            if (seen[low]) {
                uint32_t e = seen[low] - 1;
                char a[3] = {alpha[e & 63], alpha[(e >> 6) & 63], alpha[e >> 12]};
                memcpy(pair[p][0], a, 3);
                memcpy(pair[p][1], b, 3);
                h = x; /* the other block leaves the same low bits */
                found = true;
            } else {
                seen[low] = i + 1;
            }
        }
        CHECK(found, "a colliding pair at position %d", p);
    }
    free(seen);
    for (uint32_t k = 0; k < FLOOD_KEYS; k++) {
        size_t n = strlen(prefix);
        memcpy(keys[k], prefix, n);
        for (int p = 0; p < FLOOD_POS; p++, n += 3) {
            memcpy(keys[k] + n, pair[p][(k >> p) & 1], 3);
        }
        keys[k][n] = '\0';
    }
}

static void test_hash(void)
{
    /* One hash for the memory table and the disk index, keyed per process. */
    CHECK(edge_key_hash("/a.ts", 5) == edge_key_hash("/a.ts", 5), "the same key, the same hash");
    CHECK(edge_key_hash("/a.ts", 5) != edge_key_hash("/b.ts", 5), "keys differ");
    CHECK(edge_key_hash("/a.ts", 5) == edge_key_hash("/a.ts?x", 5), "only len bytes count");
    edge_obj_t *o = edge_obj_new("/x/y.ts", 7);
    CHECK(o->hash == edge_key_hash("/x/y.ts", 7), "objects use it");
    edge_obj_unref(o);

    /* A client sends keys built to collide under a fixed hash: the table's chains stay short. */
    char(*keys)[64] = calloc(FLOOD_KEYS, sizeof(*keys));
    CHECK(keys != NULL, "keys");
    flood_keys(keys);
    uint64_t low = hash_fnv1a64(keys[0], strlen(keys[0])) & ((1u << FLOOD_BITS) - 1);
    unsigned same = 0;
    for (uint32_t k = 0; k < FLOOD_KEYS; k++) {
        same += (hash_fnv1a64(keys[k], strlen(keys[k])) & ((1u << FLOOD_BITS) - 1)) == low;
    }
    CHECK(same == FLOOD_KEYS && strcmp(keys[0], keys[1]) != 0,
          "the built keys share the low %d bits of FNV-1a (%u of %u)", FLOOD_BITS, same,
          FLOOD_KEYS);
    edge_cache_t c;
    CHECK(edge_cache_init(&c, 1ull << 34) == 0, "init");
    for (uint32_t k = 0; k < FLOOD_KEYS; k++) {
        edge_obj_unref(insert(&c, keys[k], 100));
    }
    size_t longest = 0;
    for (size_t b = 0; b < c.n_buckets; b++) {
        size_t n = 0;
        for (edge_obj_t *e = c.buckets[b]; e; e = e->hnext) {
            n++;
        }
        longest = n > longest ? n : longest;
    }
    CHECK(c.n_objects == FLOOD_KEYS, "all %u stored (%zu)", FLOOD_KEYS, c.n_objects);
    CHECK(longest <= 16, "the longest chain of %zu buckets holds %zu keys (at most 16)",
          c.n_buckets, longest);
    unsigned found = 0;
    edge_cache_lock(&c);
    for (uint32_t k = 0; k < FLOOD_KEYS; k++) {
        found += edge_cache_find_locked(&c, keys[k], strlen(keys[k])) != NULL;
    }
    edge_cache_unlock(&c);
    CHECK(found == FLOOD_KEYS, "every key found (%u)", found);
    edge_cache_deinit(&c);
    free(keys);
}

int main(void)
{
    test_window();
    test_convert();
    test_stored();
    test_budget();
    test_pinned();
    test_extra();
    test_room();
    test_reserve();
    test_hash();
    return check_report();
}
