/* test_yamltree.c: the YAML tree reader: positions, malformed documents, limits, typed readers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "yamltree.h"

static yt_doc_t *load(const char *text, char *err, size_t errlen)
{
    yt_doc_t *d = NULL;
    yt_doc_load_buffer("t.yaml", text, strlen(text), &d, err, errlen);
    return d;
}

static void expect_fail(const char *text, const char *want)
{
    char err[512] = "";
    yt_doc_t *d = load(text, err, sizeof(err));
    CHECK(!d && strstr(err, want), "'%s' -> want '%s', got '%s'", text, want, err);
    yt_doc_free(d);
}

/* A mapping of 100,000 keys: the duplicate check and the lookups are hashed, so this runs in a
 * fraction of a second (it took minutes when every key was compared with every other). */
static void test_big_mapping(void)
{
    enum { NKEYS = 100000 };
    size_t cap = (size_t)NKEYS * 32 + 64, off = 0;
    char *text = malloc(cap);
    CHECK(text != NULL, "malloc");
    if (!text)
        return;
    for (int i = 0; i < NKEYS; i++)
        off += (size_t)snprintf(text + off, cap - off, "k%d: {v: %d}\n", i, i);
    char err[512] = "";
    yt_doc_t *d = NULL;
    CHECK(yt_doc_load_buffer("big.yaml", text, off, &d, err, sizeof(err)) == 0, "big map: %s", err);
    const yt_node_t *r = yt_doc_root(d);
    CHECK(r && r->kind == YT_MAP && r->n == NKEYS && r->index != NULL, "indexed map of %d", NKEYS);
    int bad = 0;
    for (int i = 0; i < NKEYS; i += 7) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        uint32_t v = 0;
        const yt_node_t *val = yt_map_get(yt_map_get(r, key), "v");
        if (!val || yt_get_u32(val, 0, NKEYS, &v, err, sizeof(err)) || v != (uint32_t)i)
            bad++;
    }
    CHECK(bad == 0, "%d lookups in the big map failed", bad);
    CHECK(yt_map_get(r, "k100000") == NULL && yt_map_get(r, "k") == NULL &&
              yt_map_get(r, "") == NULL,
          "absent keys are not found");
    yt_doc_free(d);

    /* The same with one key repeated near the end: reported at its own line:col, naming the
     * first occurrence's line. */
    off += (size_t)snprintf(text + off, cap - off, "k12345: {v: 0}\n");
    d = NULL;
    err[0] = 0;
    CHECK(yt_doc_load_buffer("big.yaml", text, off, &d, err, sizeof(err)) == -EINVAL && !d,
          "duplicate refused");
    char want[128];
    snprintf(want, sizeof(want), "big.yaml:%d:1: duplicate key 'k12345' (first at line 12346)",
             NKEYS + 1);
    CHECK(strstr(err, want) != NULL, "want '%s', got '%s'", want, err);
    yt_doc_free(d);
    free(text);
}

/* yt_doc_load_buffer_max: a document of exactly max values loads; one value more is refused with
 * the position of the first value past the bound. */
static void test_max_nodes(void)
{
    char err[256] = "";
    yt_doc_t *d = NULL;
    /* The root list and its three items: four values. */
    CHECK(yt_doc_load_buffer_max("m.yaml", "[1, 2, 3]\n", 10, 4, &d, err, sizeof(err)) == 0 && d,
          "four values within a bound of 4: %s", err);
    yt_doc_free(d);
    d = NULL;
    CHECK(yt_doc_load_buffer_max("m.yaml", "[1, 2, 3, 4]\n", 13, 4, &d, err, sizeof(err)) ==
                  -EINVAL &&
              !d,
          "five values over a bound of 4");
    CHECK(strstr(err, "m.yaml:1:11: more than 4 values: too large a document") != NULL, "got '%s'",
          err);
    CHECK(yt_doc_load_buffer_max("m.yaml", "[1, 2, 3, 4]\n", 13, 0, &d, err, sizeof(err)) == 0 && d,
          "0: no bound");
    yt_doc_free(d);
}

int main(void)
{
    test_max_nodes();
    char err[512];
    yt_doc_t *d = load("a: 1\nb:\n  - x\n  - 'y'\nc: {d: 2.5}\n", err, sizeof(err));
    const yt_node_t *r = yt_doc_root(d);
    CHECK(d && r->kind == YT_MAP && r->n == 3, "map of three");
    const yt_node_t *b = yt_map_get(r, "b");
    CHECK(b && b->kind == YT_SEQ && b->n == 2 && b->line == 3 && b->col == 3, "list at 3:3 (%u:%u)",
          b ? b->line : 0, b ? b->col : 0);
    CHECK(b && b->items[0]->plain && !b->items[1]->plain, "plain vs quoted");
    uint32_t u;
    double dd;
    CHECK(yt_get_u32(yt_map_get(r, "a"), 0, 10, &u, err, sizeof(err)) == 0 && u == 1, "u32");
    CHECK(yt_get_u32(yt_map_get(r, "a"), 2, 10, &u, err, sizeof(err)) == -EINVAL &&
              strstr(err, "t.yaml:1:4:"),
          "u32 range error positioned: %s", err);
    CHECK(yt_get_double(yt_map_get(yt_map_get(r, "c"), "d"), 0, 5, &dd, err, sizeof(err)) == 0 &&
              dd == 2.5,
          "double");
    CHECK(yt_get_str(b, &(const char *){NULL}, err, sizeof(err)) == -EINVAL &&
              strstr(err, "a list"),
          "a list is not a value");
    static const char *const keys[] = {"a", "b", NULL};
    CHECK(yt_map_check_keys(r, keys, "test", err, sizeof(err)) == -EINVAL &&
              strstr(err, "t.yaml:5:1: unknown key 'c'"),
          "unknown key: %s", err);
    yt_doc_free(d);

    expect_fail("a: [1, 2\n", "t.yaml:2:1: YAML syntax");
    expect_fail("a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a'");
    /* Just above and below the size where a mapping gets its hash index. */
    expect_fail("{a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, a: 9}\n",
                "t.yaml:1:50: duplicate key 'a' (first at line 1)");
    expect_fail("{a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, a: 8}\n",
                "t.yaml:1:44: duplicate key 'a' (first at line 1)");
    expect_fail("{ab: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, ab: 9}\n",
                "duplicate key 'ab'");
    expect_fail("", "empty document");
    expect_fail("a: *nope\n", "YAML syntax");
    /* Aliases: the anchor must be complete first, defined once, and a container is no key. */
    expect_fail("a: &x [1, *x]\n", "t.yaml:1:11: YAML syntax: found undefined alias '*x'");
    expect_fail("a: &x 1\nb: &x 2\n", "t.yaml:2:4: YAML syntax: anchor '&x' is defined twice");
    /* An anchored mapping refused at its end (duplicate key, nested): its anchor is freed
     * (LeakSanitizer checks this in the sanitizer build). */
    expect_fail("&m\na: 1\na: 2\n", "t.yaml:3:1: duplicate key 'a' (first at line 2)");
    expect_fail("x: &m {a: 1, a: 2}\n", "t.yaml:1:14: duplicate key 'a' (first at line 1)");
    expect_fail("a: &x [1]\n? *x\n: 2\n", "t.yaml:1:4: mapping keys must be plain values");
    {
        /* An alias stands for its anchor: same node, same position. */
        yt_doc_t *ad = load("a: &x {k: [1, 2]}\nb: *x\nc: &y v\nd: {*y: 3}\n", err, sizeof(err));
        const yt_node_t *ar = yt_doc_root(ad);
        const yt_node_t *va = yt_map_get(ar, "a"), *vb = yt_map_get(ar, "b");
        CHECK(ad && va && va == vb && yt_map_get(vb, "k") && yt_map_get(vb, "k")->n == 2 &&
                  vb->line == 1 && vb->col == 4,
              "alias *x is the anchored mapping: %s", err);
        const yt_node_t *vd = yt_map_get(ar, "d");
        CHECK(vd && yt_map_get(vd, "v") && !strcmp(yt_map_get(vd, "v")->str, "3"),
              "an aliased scalar works as a key");
        yt_doc_free(ad);
    }
    /* Nesting through an alias counts the anchor's own depth. */
    {
        char buf[1024];
        size_t o = (size_t)snprintf(buf, sizeof(buf), "a: &x ");
        for (int i = 0; i < 40; i++)
            buf[o++] = '[';
        buf[o++] = '1';
        for (int i = 0; i < 40; i++)
            buf[o++] = ']';
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\nb: ");
        for (int i = 0; i < 30; i++)
            buf[o++] = '[';
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "*x");
        for (int i = 0; i < 30; i++)
            buf[o++] = ']';
        buf[o++] = '\n';
        buf[o] = 0;
        expect_fail(buf, "nesting deeper than 64");
    }
    expect_fail("{[1]: 2}\n", "mapping keys must be plain values");
    expect_fail("a: \"\\0\"\n", "NUL character");
    /* Nesting bomb. */
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    deep[399] = 0;
    deep[199] = '1';
    deep[200] = ']';
    {
        char buf[512];
        snprintf(buf, sizeof(buf), "%.199s1%.199s", deep, deep + 200);
        expect_fail(buf, "nesting deeper than 64");
    }
    /* Alias expansion bomb ("billion laughs"). */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    expect_fail(bomb, "too large");

    /* Sizes and durations. */
    d = load("s: 256M\nt: 1500ms\nbad: 12Q\nneg: -1s\nday: 1d\nhalf: 0.5d\nbadu: 1w\n", err,
             sizeof(err));
    r = yt_doc_root(d);
    uint64_t v;
    CHECK(yt_get_size(yt_map_get(r, "s"), &v, err, sizeof(err)) == 0 && v == 256u << 20, "size");
    CHECK(yt_get_duration_ms(yt_map_get(r, "t"), &v, err, sizeof(err)) == 0 && v == 1500,
          "duration");
    CHECK(yt_get_size(yt_map_get(r, "bad"), &v, err, sizeof(err)) == -EINVAL, "bad size");
    CHECK(yt_get_duration_ms(yt_map_get(r, "neg"), &v, err, sizeof(err)) == -EINVAL,
          "negative duration");
    CHECK(yt_get_duration_ms(yt_map_get(r, "day"), &v, err, sizeof(err)) == 0 && v == 86400000,
          "duration in days");
    CHECK(yt_get_duration_ms(yt_map_get(r, "half"), &v, err, sizeof(err)) == 0 && v == 43200000,
          "half a day");
    CHECK(yt_get_duration_ms(yt_map_get(r, "badu"), &v, err, sizeof(err)) == -EINVAL &&
              strstr(err, "'1w' is not a duration (e.g. 500ms, 10s, 5m, 1h, 1d)"),
          "unknown unit named");
    bool bv;
    CHECK(yt_get_bool(yt_map_get(r, "s"), &bv, err, sizeof(err)) == -EINVAL, "not a bool");
    yt_doc_free(d);

    CHECK(yt_doc_load_file("/nonexistent/x.yaml", &d, err, sizeof(err)) == -ENOENT &&
              strstr(err, "/nonexistent/x.yaml"),
          "missing file named");
    test_big_mapping();
    return check_report();
}
