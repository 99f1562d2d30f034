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

/* Bounds against hostile input: deep nesting and alias expansion ("billion laughs"). Aliases
 * make the tree bigger than the document libyaml parsed (each alias copies its anchor's
 * subtree); the tree may hold the document's own nodes plus at most YT_MAX_ALIAS_NODES more,
 * so memory stays proportional to the input however large a zone file is. */
#define YT_MAX_DEPTH       64
#define YT_MAX_ALIAS_NODES (1u << 20)

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
    size_t max_nodes; /* the parsed document's node count + YT_MAX_ALIAS_NODES */
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
    yt_block_t *b = doc->blocks;
    while (b) {
        yt_block_t *n = b->next;
        free(b);
        b = n;
    }
    free(doc->file);
    free(doc);
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
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s:%u:%u: ", file, line, col);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

int yt_fail(char *err, size_t errlen, const yt_node_t *at, const char *fmt, ...)
{
    if (err && errlen) {
        int n = at ? snprintf(err, errlen, "%s:%u:%u: ", at->file, at->line, at->col)
                   : snprintf(err, errlen, "(config): ");
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* FNV-1a over the key bytes: cheap, and good enough for config keys (the index only has to keep
 * probes short; the file is the operator's, not a remote peer's). */
static size_t key_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (size_t)(h ^ (h >> 32));
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
        size_t s = key_hash(k->str, k->len) & m->index_mask;
        for (; m->index[s]; s = (s + 1) & m->index_mask) {
            const yt_node_t *o = m->items[2 * (m->index[s] - 1)];
            if (o->len == k->len && !memcmp(o->str, k->str, k->len)) {
                first = o;
                break;
            }
        }
        if (!first)
            m->index[s] = (uint32_t)(i + 1);
    }
    if (first)
        return pos_error(err, errlen, d->file, k->line, k->col,
                         "duplicate key '%s' (first at line %u)", k->str, first->line);
    return 0;
}

static int convert(yt_doc_t *d, yaml_document_t *yd, yaml_node_t *yn, int depth, yt_node_t **out,
                   char *err, size_t errlen)
{
    unsigned line = (unsigned)yn->start_mark.line + 1, col = (unsigned)yn->start_mark.column + 1;
    if (depth > YT_MAX_DEPTH)
        return pos_error(err, errlen, d->file, line, col, "nesting deeper than %d levels",
                         YT_MAX_DEPTH);
    if (++d->nodes > d->max_nodes)
        return pos_error(err, errlen, d->file, line, col,
                         "document too large (aliases expand it by more than %u nodes)",
                         YT_MAX_ALIAS_NODES);
    yt_node_t *n = doc_alloc(d, sizeof(*n));
    if (!n)
        return -ENOMEM;
    memset(n, 0, sizeof(*n));
    n->file = d->file;
    n->line = line;
    n->col = col;
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        n->kind = YT_SCALAR;
        size_t len = yn->data.scalar.length;
        char *s = doc_alloc(d, len + 1);
        if (!s)
            return -ENOMEM;
        memcpy(s, yn->data.scalar.value, len);
        s[len] = 0;
        if (strlen(s) != len)
            return pos_error(err, errlen, d->file, line, col, "NUL character in scalar");
        n->str = s;
        n->len = len;
        n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        break;
    }
    case YAML_SEQUENCE_NODE: {
        n->kind = YT_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->n = cnt;
        n->items = doc_alloc(d, (cnt ? cnt : 1) * sizeof(*n->items));
        if (!n->items)
            return -ENOMEM;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *c = yaml_document_get_node(yd, yn->data.sequence.items.start[i]);
            if (!c)
                return pos_error(err, errlen, d->file, line, col, "broken sequence item");
            int rc = convert(d, yd, c, depth + 1, &n->items[i], err, errlen);
            if (rc)
                return rc;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        n->kind = YT_MAP;
        size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->n = cnt;
        n->items = doc_alloc(d, (cnt ? 2 * cnt : 1) * sizeof(*n->items));
        if (!n->items)
            return -ENOMEM;
        if (cnt > YT_MAP_INDEX_MIN) {
            /* At least twice as many slots as keys: probes stay short. */
            size_t slots = 16;
            while (slots < 2 * cnt)
                slots *= 2;
            n->index = doc_alloc(d, slots * sizeof(*n->index));
            if (!n->index)
                return -ENOMEM;
            memset(n->index, 0, slots * sizeof(*n->index));
            n->index_mask = slots - 1;
        }
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_pair_t *p = &yn->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(yd, p->key);
            yaml_node_t *v = yaml_document_get_node(yd, p->value);
            if (!k || !v)
                return pos_error(err, errlen, d->file, line, col, "broken mapping pair");
            if (k->type != YAML_SCALAR_NODE)
                return pos_error(err, errlen, d->file, (unsigned)k->start_mark.line + 1,
                                 (unsigned)k->start_mark.column + 1,
                                 "mapping keys must be plain values");
            int rc = convert(d, yd, k, depth + 1, &n->items[2 * i], err, errlen);
            if (!rc)
                rc = convert(d, yd, v, depth + 1, &n->items[2 * i + 1], err, errlen);
            if (!rc)
                rc = map_add_key(d, n, i, err, errlen);
            if (rc)
                return rc;
        }
        break;
    }
    default:
        return pos_error(err, errlen, d->file, line, col, "empty node");
    }
    *out = n;
    return 0;
}

static int load(const char *name, FILE *fp, const char *buf, size_t len, yt_doc_t **out, char *err,
                size_t errlen)
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
    yaml_document_t ydoc;
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        yt_doc_free(d);
        return -ENOMEM;
    }
    if (fp)
        yaml_parser_set_input_file(&parser, fp);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &ydoc)) {
        /* libyaml's text names the grammar rule; add where that construct began and what
         * usually causes it (indentation, tabs, an unquoted ': '). */
        char ctx[160] = "";
        if (parser.context)
            snprintf(ctx, sizeof(ctx), " (%s that starts at line %u, column %u)",
                     parser.context + (strncmp(parser.context, "while ", 6) ? 0 : 6),
                     (unsigned)parser.context_mark.line + 1,
                     (unsigned)parser.context_mark.column + 1);
        const char *p = parser.problem ? parser.problem : "error";
        const char *hint = "";
        if (strstr(p, "tab"))
            hint = "; indent with spaces: YAML forbids tabs";
        else if (strstr(p, "expected key") || strstr(p, "mapping values") ||
                 strstr(p, "expected <block end>") || strstr(p, "expected node content"))
            hint = "; check this line's indentation against the lines above it, and quote "
                   "values that contain ': ' or start with '{', '[', '*' or '&'";
        rc = pos_error(err, errlen, d->file, (unsigned)parser.problem_mark.line + 1,
                       (unsigned)parser.problem_mark.column + 1, "YAML syntax: %s%s%s", p, ctx,
                       hint);
        yaml_parser_delete(&parser);
        yt_doc_free(d);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&ydoc);
    if (!root)
        rc = pos_error(err, errlen, d->file, 1, 1, "empty document");
    else {
        d->max_nodes = (size_t)(ydoc.nodes.top - ydoc.nodes.start) + YT_MAX_ALIAS_NODES;
        rc = convert(d, &ydoc, root, 0, &d->root, err, errlen);
    }
    yaml_document_delete(&ydoc);
    yaml_parser_delete(&parser);
    if (rc) {
        yt_doc_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int yt_doc_load_file(const char *path, yt_doc_t **out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        *out = NULL;
        return -e;
    }
    int rc = load(path, fp, NULL, 0, out, err, errlen);
    fclose(fp);
    return rc;
}

int yt_doc_load_buffer(const char *name, const char *buf, size_t len, yt_doc_t **out, char *err,
                       size_t errlen)
{
    return load(name, NULL, buf, len, out, err, errlen);
}

const yt_node_t *yt_map_get(const yt_node_t *map, const char *key)
{
    if (!map || map->kind != YT_MAP)
        return NULL;
    size_t len = strlen(key);
    if (map->index) {
        for (size_t s = key_hash(key, len) & map->index_mask; map->index[s];
             s = (s + 1) & map->index_mask) {
            size_t i = map->index[s] - 1;
            const yt_node_t *k = map->items[2 * i];
            if (k->len == len && !memcmp(k->str, key, len))
                return map->items[2 * i + 1];
        }
        return NULL;
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
        return yt_fail(err, errlen, n, "'%s' is not a duration (e.g. 500ms, 10s, 5m, 1h)", s);
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
    else
        end = NULL;
    if (errno || !end || end == s || !isfinite(v) || v < 0 || v * mul > 1e15)
        return yt_fail(err, errlen, n, "'%s' is not a duration (e.g. 500ms, 10s, 5m, 1h)", s);
    *out = (uint64_t)(v * mul + 0.5);
    return 0;
}
