/* test_yamltree.c: the YAML tree reader: positions, malformed documents, limits, typed readers. */
#include <errno.h>
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

int main(void)
{
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
    expect_fail("", "empty document");
    expect_fail("a: *nope\n", "YAML syntax");
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
    d = load("s: 256M\nt: 1500ms\nbad: 12Q\nneg: -1s\n", err, sizeof(err));
    r = yt_doc_root(d);
    uint64_t v;
    CHECK(yt_get_size(yt_map_get(r, "s"), &v, err, sizeof(err)) == 0 && v == 256u << 20, "size");
    CHECK(yt_get_duration_ms(yt_map_get(r, "t"), &v, err, sizeof(err)) == 0 && v == 1500,
          "duration");
    CHECK(yt_get_size(yt_map_get(r, "bad"), &v, err, sizeof(err)) == -EINVAL, "bad size");
    CHECK(yt_get_duration_ms(yt_map_get(r, "neg"), &v, err, sizeof(err)) == -EINVAL,
          "negative duration");
    bool bv;
    CHECK(yt_get_bool(yt_map_get(r, "s"), &bv, err, sizeof(err)) == -EINVAL, "not a bool");
    yt_doc_free(d);

    CHECK(yt_doc_load_file("/nonexistent/x.yaml", &d, err, sizeof(err)) == -ENOENT &&
              strstr(err, "/nonexistent/x.yaml"),
          "missing file named");
    return check_report();
}
