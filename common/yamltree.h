/* yamltree.h: a YAML file loaded into an immutable tree whose every node knows its file:line:col.
 */
#ifndef COMMON_YAMLTREE_H
#define COMMON_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum yt_kind {
    YT_SCALAR,
    YT_SEQ,
    YT_MAP,
} yt_kind_t;

typedef struct yt_node yt_node_t;
struct yt_node {
    yt_kind_t kind;
    const char *file; /* borrowed from the document */
    unsigned line;    /* 1-based */
    unsigned col;     /* 1-based */
    /* YT_SCALAR: NUL-terminated value and its length; plain is false when quoted. */
    const char *str;
    size_t len;
    bool plain;
    /* YT_SEQ: n items in items[0..n). YT_MAP: n pairs, key i at items[2i], value at items[2i+1]. */
    size_t n;
    yt_node_t **items;
    /* YT_MAP with more than YT_MAP_INDEX_MIN pairs: open-addressing hash of the keys (slot holds
     * pair index + 1, 0 = empty), index_mask + 1 slots; built once at load so that yt_map_get
     * is O(1) on big mappings. NULL for small mappings (scanned). */
    uint32_t *index;
    size_t index_mask;
};

/* Mappings with more pairs than this get a hash index; smaller ones are scanned. */
#define YT_MAP_INDEX_MIN 8

typedef struct yt_doc yt_doc_t;

/* The largest YAML file read (2 GiB, as a master zone file): a file named by mistake (a log, a
 * device) is refused, not read until memory runs out. */
#define YT_FILE_MAX (1ull << 31)

/* Load the first document of a YAML file: a regular file of at most YT_FILE_MAX bytes (a FIFO, a
 * device or a directory is refused at once: "path: not a regular file (a FIFO)"). On failure
 * returns a negative errno-style code and writes "file:line:col: reason" (or "file: reason")
 * into err. The document owns all nodes; free with yt_doc_free. */
int yt_doc_load_file(const char *path, yt_doc_t **out, char *err, size_t errlen);

/* Same from memory; name is used in positions (e.g. the file name). */
int yt_doc_load_buffer(const char *name, const char *buf, size_t len, yt_doc_t **out, char *err,
                       size_t errlen);

/* Same with at most max_nodes values (scalars, lists and mappings) in the document: a file of a
 * few MiB can hold millions of tiny values, each a node of the tree, so a reader of files others
 * write (state files, overrides) bounds the tree, not only the bytes. Past the bound: -EINVAL,
 * "name:line:col: more than N values: too large a document". */
int yt_doc_load_buffer_max(const char *name, const char *buf, size_t len, size_t max_nodes,
                           yt_doc_t **out, char *err, size_t errlen);

const yt_node_t *yt_doc_root(const yt_doc_t *doc);
void yt_doc_free(yt_doc_t *doc);

/* Value for key in a YT_MAP (exact match), or NULL. Also NULL when map is not a map.
 * O(1) on average for big mappings (hash index), a scan of at most YT_MAP_INDEX_MIN keys else. */
const yt_node_t *yt_map_get(const yt_node_t *map, const char *key);

/* Write "file:line:col: <message>" about node into err; always returns -EINVAL. */
int yt_fail(char *err, size_t errlen, const yt_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every key of map must be one of the NULL-terminated allowed names, else an error naming the
 * unknown key. Also fails when map is not a map (naming what was expected in what). */
int yt_map_check_keys(const yt_node_t *map, const char *const *allowed, const char *what, char *err,
                      size_t errlen);

/* Typed scalar readers: 0 on success, -EINVAL with a positioned message otherwise. */
int yt_get_str(const yt_node_t *n, const char **out, char *err, size_t errlen);
int yt_get_u32(const yt_node_t *n, uint32_t min, uint32_t max, uint32_t *out, char *err,
               size_t errlen);
int yt_get_double(const yt_node_t *n, double min, double max, double *out, char *err,
                  size_t errlen);
int yt_get_bool(const yt_node_t *n, bool *out, char *err, size_t errlen);

/* Size with optional suffix k/K, M, G (powers of 1024), e.g. "256M". */
int yt_get_size(const yt_node_t *n, uint64_t *out, char *err, size_t errlen);

/* Duration in seconds with optional suffix ms, s, m, h; result in milliseconds. */
int yt_get_duration_ms(const yt_node_t *n, uint64_t *out, char *err, size_t errlen);

/* True for a plain scalar that YAML means as null ("", "~", "null"). */
bool yt_is_null(const yt_node_t *n);

#endif
