/* yamltree.c: libyaml document -> position-carrying node tree, and typed readers with errors. */
#include "yamltree.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "errmsg.h"
#include "file.h"
#include "hash.h"
#include "siphash.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Bounds against hostile input: deep nesting and alias expansion ("billion laughs"). An alias
 * shares its anchor's node (no copy), but whoever walks the tree walks it once per alias: all
 * the aliases of a document may stand for at most YT_MAX_ALIAS_NODES nodes in all, so the work
 * stays proportional to the input however large a zone file is. */
#define YT_MAX_DEPTH       64
#define YT_MAX_ALIAS_NODES (1u << 20)
/* Freeing a document of at least this many bytes gives free heap back to the system. */
#define YT_TRIM_BYTES (8u << 20)

typedef struct yt_block {
    struct yt_block *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} yt_block_t;

struct yt_doc {
    yt_block_t *blocks;
    char *file;
    yt_node_t *root;
    size_t nodes;
};

static void *doc_alloc(yt_doc_t *d, size_t sz)
{
    sz = (sz + 15) & ~(size_t)15;
    yt_block_t *b = d->blocks;
    if (!b || b->cap - b->used < sz) {
        size_t cap = sz > 65536 ? sz : 65536;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = d->blocks;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += sz;
    return p;
}

void yt_doc_free(yt_doc_t *doc)
{
    if (!doc)
        return;
    size_t bytes = 0;
    yt_block_t *b = doc->blocks;
    while (b) {
        yt_block_t *n = b->next;
        bytes += b->cap;
        free(b);
        b = n;
    }
    free(doc->file);
    free(doc);
#ifdef __GLIBC__
    /* A big document (a zone of many thousand names) leaves tens or hundreds of MB of free heap
     * behind, its own and its reader's temporaries, interleaved with what stays (the zone's
     * arena): glibc keeps it mapped, so a server would stay at its peak load size. Hand the
     * free pages back. Documents are freed on the loading thread, never on the query path. */
    if (bytes >= YT_TRIM_BYTES)
        malloc_trim(0);
#else
    (void)bytes;
#endif
}

const yt_node_t *yt_doc_root(const yt_doc_t *doc)
{
    return doc ? doc->root : NULL;
}

static int pos_error(char *err, size_t errlen, const char *file, unsigned line, unsigned col,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int pos_error(char *err, size_t errlen, const char *file, unsigned line, unsigned col,
                     const char *fmt, ...)
{
    if (!err || !errlen)
        return -EINVAL;
    snprintf(err, errlen, "%s:%u:%u: ", file, line, col);
    va_list ap;
    va_start(ap, fmt);
    int rc = errmsg_vappend(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int yt_fail(char *err, size_t errlen, const yt_node_t *at, const char *fmt, ...)
{
    if (!err || !errlen)
        return -EINVAL;
    if (at)
        snprintf(err, errlen, "%s:%u:%u: ", at->file, at->line, at->col);
    else
        snprintf(err, errlen, "(config): ");
    va_list ap;
    va_start(ap, fmt);
    int rc = errmsg_vappend(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Keyed (SipHash, a random key per process): the same tree reads a probed PoP's status JSON,
 * whose keys a remote peer chooses, and with a fixed hash it could send thousands of keys that
 * share one probe sequence. */
static size_t key_hash(const char *s, size_t len)
{
    return (size_t)siphash24(siphash_process_key(), s, len);
}

static bool map_key_eq(const void *ctx, size_t item, const void *key, size_t len)
{
    const yt_node_t *k = ((const yt_node_t *)ctx)->items[2 * item];
    return k->len == len && !memcmp(k->str, key, len);
}

/* The slot of key[0..len) in map m's index, or the empty one where it would go. */
static size_t map_slot(const yt_node_t *m, const char *key, size_t len)
{
    return hash_index_slot(m->index, m->index_mask, key_hash(key, len), map_key_eq, m, key, len);
}

/* Key i of map m has just been converted: fail if an earlier key has the same text, else add it
 * to the index (when m has one). Small mappings compare with the earlier keys directly. */
static int map_add_key(yt_doc_t *d, yt_node_t *m, size_t i, char *err, size_t errlen)
{
    const yt_node_t *k = m->items[2 * i];
    const yt_node_t *first = NULL;
    if (!m->index) {
        for (size_t j = 0; j < i && !first; j++)
            if (m->items[2 * j]->len == k->len && !memcmp(m->items[2 * j]->str, k->str, k->len))
                first = m->items[2 * j];
    } else {
        size_t s = map_slot(m, k->str, k->len);
        if (m->index[s])
            first = m->items[2 * (m->index[s] - 1)];
        else
            m->index[s] = (uint32_t)(i + 1);
    }
    if (first)
        return pos_error(err, errlen, d->file, k->line, k->col,
                         "duplicate key '%s' (first at line %u)", k->str, first->line);
    return 0;
}

/* The tree is built straight from libyaml's event stream (no libyaml document in between: that
 * costs a second copy of every node and string, half the load time of a big zone). Containers
 * being read are frames on a stack; finished children wait on a shared pointer stack until
 * their container ends and takes them in one block. */
typedef struct frame {
    yt_node_t *node;
    size_t first;    /* index of the first child in builder.kids */
    size_t count0;   /* nodes + alias_nodes when the container started */
    unsigned height; /* deepest level below it so far */
    char *anchor;    /* its anchor (taken from the event), or NULL */
} frame_t;

/* An anchored node, for aliases: they share it (the tree is immutable), counting its nodes
 * (alias expansion bound) and height (nesting bound) as if copied. */
typedef struct anchor {
    char *name;
    const yt_node_t *node;
    size_t count;
    unsigned height;
} anchor_t;

typedef struct builder {
    yt_doc_t *d;
    frame_t frames[YT_MAX_DEPTH + 2];
    unsigned depth;
    yt_node_t **kids;
    size_t nkids, capkids;
    anchor_t *anchors; /* open addressing, anchor_mask + 1 slots */
    size_t anchor_mask, nanchors;
    size_t alias_nodes;
    size_t max_nodes; /* 0: no bound (the file's own size bounds it) */
    yt_node_t *root;
    char *err;
    size_t errlen;
} builder_t;

static int push_kid(builder_t *B, yt_node_t *n)
{
    if (B->nkids == B->capkids) {
        size_t cap = B->capkids ? B->capkids * 2 : 256;
        yt_node_t **k = realloc(B->kids, cap * sizeof(*k));
        if (!k)
            return -ENOMEM;
        B->kids = k;
        B->capkids = cap;
    }
    B->kids[B->nkids++] = n;
    return 0;
}

static anchor_t *anchor_slot(builder_t *B, const char *name)
{
    size_t s = key_hash(name, strlen(name)) & B->anchor_mask;
    while (B->anchors[s].name && strcmp(B->anchors[s].name, name))
        s = (s + 1) & B->anchor_mask;
    return &B->anchors[s];
}

/* Remember node under name (takes name). */
static int anchor_add(builder_t *B, char *name, const yt_node_t *n, size_t count, unsigned height)
{
    if (2 * (B->nanchors + 1) > B->anchor_mask + 1) {
        size_t slots = B->anchors ? 2 * (B->anchor_mask + 1) : 16;
        anchor_t *old = B->anchors;
        size_t oldslots = old ? B->anchor_mask + 1 : 0;
        B->anchors = calloc(slots, sizeof(*B->anchors));
        if (!B->anchors) {
            B->anchors = old;
            free(name);
            return -ENOMEM;
        }
        B->anchor_mask = slots - 1;
        for (size_t i = 0; i < oldslots; i++)
            if (old[i].name)
                *anchor_slot(B, old[i].name) = old[i];
        free(old);
    }
    anchor_t *a = anchor_slot(B, name);
    if (a->name) {
        int rc = pos_error(B->err, B->errlen, B->d->file, n->line, n->col,
                           "YAML syntax: anchor '&%s' is defined twice", name);
        free(name);
        return rc;
    }
    *a = (anchor_t){.name = name, .node = n, .count = count, .height = height};
    B->nanchors++;
    return 0;
}

/* A finished node: a child of the open container, or the root. */
static int add_node(builder_t *B, yt_node_t *n, unsigned height)
{
    if (B->max_nodes && B->d->nodes > B->max_nodes)
        return pos_error(B->err, B->errlen, B->d->file, n->line, n->col,
                         "more than %zu values: too large a document", B->max_nodes);
    if (B->depth + height > YT_MAX_DEPTH)
        return pos_error(B->err, B->errlen, B->d->file, n->line, n->col,
                         "nesting deeper than %d levels", YT_MAX_DEPTH);
    if (!B->depth) {
        B->root = n;
        return 0;
    }
    frame_t *f = &B->frames[B->depth - 1];
    if (f->node->kind == YT_MAP && (B->nkids - f->first) % 2 == 0 && n->kind != YT_SCALAR)
        return pos_error(B->err, B->errlen, B->d->file, n->line, n->col,
                         "mapping keys must be plain values");
    if (f->height < height + 1)
        f->height = height + 1;
    return push_kid(B, n);
}

static yt_node_t *new_node(builder_t *B, yt_kind_t kind, const yaml_mark_t *m)
{
    yt_node_t *n = doc_alloc(B->d, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->file = B->d->file;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    B->d->nodes++;
    return n;
}

static int end_container_body(builder_t *B, frame_t *f);

/* A container's end: take its children off the stack; a mapping gets its index and duplicate
 * check. */
static int end_container(builder_t *B)
{
    /* Popped first (the node goes to the frame below); the clean-up of a failed parse frees
     * only the anchors of frames still open, so this one's is freed here whatever happens. */
    frame_t *f = &B->frames[--B->depth];
    int rc = end_container_body(B, f);
    free(f->anchor);
    f->anchor = NULL;
    return rc;
}

static int end_container_body(builder_t *B, frame_t *f)
{
    yt_node_t *n = f->node;
    size_t cnt = B->nkids - f->first;
    n->items = doc_alloc(B->d, (cnt ? cnt : 1) * sizeof(*n->items));
    if (!n->items)
        return -ENOMEM;
    if (cnt) /* B->kids is NULL until the first child */
        memcpy(n->items, B->kids + f->first, cnt * sizeof(*n->items));
    B->nkids = f->first;
    n->n = n->kind == YT_MAP ? cnt / 2 : cnt;
    if (n->kind == YT_MAP && n->n > YT_MAP_INDEX_MIN) {
        size_t slots = hash_index_slots(n->n);
        n->index = doc_alloc(B->d, slots * sizeof(*n->index));
        if (!n->index)
            return -ENOMEM;
        memset(n->index, 0, slots * sizeof(*n->index));
        n->index_mask = slots - 1;
    }
    if (n->kind == YT_MAP)
        for (size_t i = 0; i < n->n; i++) {
            int rc = map_add_key(B->d, n, i, B->err, B->errlen);
            if (rc)
                return rc;
        }
    int rc = 0;
    if (f->anchor) {
        size_t count = B->d->nodes + B->alias_nodes - f->count0;
        rc = anchor_add(B, f->anchor, n, count, f->height); /* takes the name, even on error */
        f->anchor = NULL;
    }
    return rc ? rc : add_node(B, n, f->height);
}

/* Take the anchor string out of the event (libyaml frees what is left in it). */
static char *take(yaml_char_t **p)
{
    char *s = (char *)*p;
    *p = NULL;
    return s;
}

static int on_event(builder_t *B, yaml_event_t *e)
{
    yt_doc_t *d = B->d;
    switch (e->type) {
    case YAML_SCALAR_EVENT: {
        yt_node_t *n = new_node(B, YT_SCALAR, &e->start_mark);
        size_t len = e->data.scalar.length;
        char *s = n ? doc_alloc(d, len + 1) : NULL;
        if (!s)
            return -ENOMEM;
        memcpy(s, e->data.scalar.value, len);
        s[len] = 0;
        if (memchr(s, 0, len))
            return pos_error(B->err, B->errlen, d->file, n->line, n->col,
                             "NUL character in scalar");
        n->str = s;
        n->len = len;
        n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        int rc = e->data.scalar.anchor ? anchor_add(B, take(&e->data.scalar.anchor), n, 1, 0) : 0;
        return rc ? rc : add_node(B, n, 0);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = e->type == YAML_MAPPING_START_EVENT;
        unsigned line = (unsigned)e->start_mark.line + 1, col = (unsigned)e->start_mark.column + 1;
        if (B->depth >= YT_MAX_DEPTH)
            return pos_error(B->err, B->errlen, d->file, line, col, "nesting deeper than %d levels",
                             YT_MAX_DEPTH);
        if (B->depth) {
            frame_t *p = &B->frames[B->depth - 1];
            if (p->node->kind == YT_MAP && (B->nkids - p->first) % 2 == 0)
                return pos_error(B->err, B->errlen, d->file, line, col,
                                 "mapping keys must be plain values");
        }
        yt_node_t *n = new_node(B, map ? YT_MAP : YT_SEQ, &e->start_mark);
        if (!n)
            return -ENOMEM;
        B->frames[B->depth++] = (frame_t){
            .node = n,
            .first = B->nkids,
            .count0 = d->nodes - 1 + B->alias_nodes,
            .anchor = take(map ? &e->data.mapping_start.anchor : &e->data.sequence_start.anchor),
        };
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return end_container(B);
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)e->data.alias.anchor;
        const anchor_t *a = B->anchors ? anchor_slot(B, name) : NULL;
        unsigned line = (unsigned)e->start_mark.line + 1, col = (unsigned)e->start_mark.column + 1;
        if (!a || !a->name)
            return pos_error(B->err, B->errlen, d->file, line, col,
                             "YAML syntax: found undefined alias '*%s' (an alias must follow its "
                             "anchor, outside of it)",
                             name);
        B->alias_nodes += a->count;
        if (B->alias_nodes > YT_MAX_ALIAS_NODES)
            return pos_error(B->err, B->errlen, d->file, line, col,
                             "document too large (aliases expand it by more than %u nodes)",
                             YT_MAX_ALIAS_NODES);
        return add_node(B, (yt_node_t *)a->node, a->height);
    }
    default:
        return 0;
    }
}

static int syntax_error(yt_doc_t *d, yaml_parser_t *parser, char *err, size_t errlen)
{
    /* libyaml's text names the grammar rule; add where that construct began and what
     * usually causes it (indentation, tabs, an unquoted ': '). */
    char ctx[160] = "";
    if (parser->context)
        snprintf(ctx, sizeof(ctx), " (%s that starts at line %u, column %u)",
                 parser->context + (strncmp(parser->context, "while ", 6) ? 0 : 6),
                 (unsigned)parser->context_mark.line + 1,
                 (unsigned)parser->context_mark.column + 1);
    const char *p = parser->problem ? parser->problem : "error";
    const char *hint = "";
    if (strstr(p, "tab"))
        hint = "; indent with spaces: YAML forbids tabs";
    else if (strstr(p, "expected key") || strstr(p, "mapping values") ||
             strstr(p, "expected <block end>") || strstr(p, "expected node content"))
        hint = "; check this line's indentation against the lines above it, and quote "
               "values that contain ': ' or start with '{', '[', '*' or '&'";
    if (parser->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    return pos_error(err, errlen, d->file, (unsigned)parser->problem_mark.line + 1,
                     (unsigned)parser->problem_mark.column + 1, "YAML syntax: %s%s%s", p, ctx,
                     hint);
}

static int load(const char *name, FILE *fp, const char *buf, size_t len, size_t max_nodes,
                yt_doc_t **out, char *err, size_t errlen)
{
    *out = NULL;
    yt_doc_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->file = strdup(name);
    if (!d->file) {
        free(d);
        return -ENOMEM;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        yt_doc_free(d);
        return -ENOMEM;
    }
    if (fp)
        yaml_parser_set_input_file(&parser, fp);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    builder_t B = {.d = d, .max_nodes = max_nodes, .err = err, .errlen = errlen};
    int rc = 0;
    bool in_doc = false, done = false;
    while (!rc && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            rc = syntax_error(d, &parser, err, errlen);
            break;
        }
        switch (e.type) {
        case YAML_DOCUMENT_START_EVENT:
            in_doc = true;
            break;
        case YAML_DOCUMENT_END_EVENT: /* only the first document is read */
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            if (in_doc)
                rc = on_event(&B, &e);
            break;
        }
        yaml_event_delete(&e);
    }
    if (!rc && !B.root)
        rc = pos_error(err, errlen, d->file, 1, 1, "empty document");
    for (unsigned i = 0; i < B.depth; i++)
        free(B.frames[i].anchor);
    for (size_t i = 0; B.anchors && i <= B.anchor_mask; i++)
        free(B.anchors[i].name);
    free(B.anchors);
    free(B.kids);
    yaml_parser_delete(&parser);
    if (rc) {
        yt_doc_free(d);
        return rc;
    }
    d->root = B.root;
    *out = d;
    return 0;
}

int yt_doc_load_file(const char *path, yt_doc_t **out, char *err, size_t errlen)
{
    const char *why;
    char why_buf[64];
    int e;
    FILE *fp = file_fopen_regular(path, "rb", YT_FILE_MAX, NULL, &e, &why, why_buf);
    if (!fp) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, why);
        *out = NULL;
        return e;
    }
    int rc = load(path, fp, NULL, 0, 0, out, err, errlen);
    fclose(fp);
    return rc;
}

int yt_doc_load_buffer(const char *name, const char *buf, size_t len, yt_doc_t **out, char *err,
                       size_t errlen)
{
    return load(name, NULL, buf, len, 0, out, err, errlen);
}

int yt_doc_load_buffer_max(const char *name, const char *buf, size_t len, size_t max_nodes,
                           yt_doc_t **out, char *err, size_t errlen)
{
    return load(name, NULL, buf, len, max_nodes, out, err, errlen);
}

const yt_node_t *yt_map_get(const yt_node_t *map, const char *key)
{
    if (!map || map->kind != YT_MAP)
        return NULL;
    size_t len = strlen(key);
    if (map->index) {
        uint32_t i = map->index[map_slot(map, key, len)];
        return i ? map->items[2 * (i - 1) + 1] : NULL;
    }
    for (size_t i = 0; i < map->n; i++)
        if (map->items[2 * i]->len == len && !memcmp(map->items[2 * i]->str, key, len))
            return map->items[2 * i + 1];
    return NULL;
}

static const char *kind_name(const yt_node_t *n)
{
    return n->kind == YT_MAP ? "a mapping" : n->kind == YT_SEQ ? "a list" : "a value";
}

int yt_map_check_keys(const yt_node_t *map, const char *const *allowed, const char *what, char *err,
                      size_t errlen)
{
    if (!map || map->kind != YT_MAP)
        return yt_fail(err, errlen, map, "%s must be a mapping, not %s", what,
                       map ? kind_name(map) : "nothing");
    for (size_t i = 0; i < map->n; i++) {
        const yt_node_t *k = map->items[2 * i];
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, k->str);
        if (!ok) {
            char list[512] = "";
            size_t off = 0;
            for (const char *const *a = allowed; *a && off < sizeof(list) - 2; a++) {
                int w =
                    snprintf(list + off, sizeof(list) - off, "%s%s", a == allowed ? "" : ", ", *a);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return yt_fail(err, errlen, k, "unknown key '%s' in %s (expected one of: %s)", k->str,
                           what, list);
        }
    }
    return 0;
}

bool yt_is_null(const yt_node_t *n)
{
    return n && n->kind == YT_SCALAR && n->plain &&
           (n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
            !strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

int yt_get_str(const yt_node_t *n, const char **out, char *err, size_t errlen)
{
    if (!n || n->kind != YT_SCALAR)
        return yt_fail(err, errlen, n, "expected a single value, found %s",
                       n ? kind_name(n) : "nothing");
    *out = n->str;
    return 0;
}

int yt_get_u32(const yt_node_t *n, uint32_t min, uint32_t max, uint32_t *out, char *err,
               size_t errlen)
{
    const char *s = NULL;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+' || *s == ' ' || !*s)
        return yt_fail(err, errlen, n, "'%s' is not a whole number from %u to %u", s, min, max);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return yt_fail(err, errlen, n, "'%s' is not a whole number from %u to %u", s, min, max);
    *out = (uint32_t)v;
    return 0;
}

int yt_get_double(const yt_node_t *n, double min, double max, double *out, char *err, size_t errlen)
{
    const char *s = NULL;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !isfinite(v) || v < min || v > max)
        return yt_fail(err, errlen, n, "'%s' is not a number from %g to %g", s, min, max);
    *out = v;
    return 0;
}

int yt_get_bool(const yt_node_t *n, bool *out, char *err, size_t errlen)
{
    const char *s = NULL;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON",  NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no",  "No",
                                     "NO",    "off",   "Off",   "OFF", NULL};
    for (int i = 0; yes[i]; i++)
        if (!strcmp(s, yes[i])) {
            *out = true;
            return 0;
        }
    for (int i = 0; no[i]; i++)
        if (!strcmp(s, no[i])) {
            *out = false;
            return 0;
        }
    return yt_fail(err, errlen, n, "'%s' is not true or false", s);
}

int yt_get_size(const yt_node_t *n, uint64_t *out, char *err, size_t errlen)
{
    const char *s = NULL;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return yt_fail(err, errlen, n, "'%s' is not a size (e.g. 512K, 256M, 2G)", s);
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (errno || *end || end == s || (v && mul > UINT64_MAX / v))
        return yt_fail(err, errlen, n, "'%s' is not a size (e.g. 512K, 256M, 2G)", s);
    *out = v * mul;
    return 0;
}

int yt_get_duration_ms(const yt_node_t *n, uint64_t *out, char *err, size_t errlen)
{
    const char *s = NULL;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return yt_fail(err, errlen, n, "'%s' is not a duration (e.g. 500ms, 10s, 5m, 1h, 1d)", s);
    double v = strtod(s, &end);
    double mul = 1000;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s") || !*end)
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        end = NULL;
    if (errno || !end || end == s || !isfinite(v) || v < 0 || v * mul > 1e15)
        return yt_fail(err, errlen, n, "'%s' is not a duration (e.g. 500ms, 10s, 5m, 1h, 1d)", s);
    *out = (uint64_t)(v * mul + 0.5);
    return 0;
}
