/* hc_load.c: the load figure of a PoP read from its status JSON at a dotted path. */
#include "hc_load.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yamltree.h"

#define LOAD_ERR_MAX 256 /* yamltree's error text */

/* The child of n named by the path segment seg[0..len). */
static const yt_node_t *load_child(const yt_node_t *n, const char *seg, size_t len)
{
    if (n->kind == YT_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            const yt_node_t *k = n->items[2 * i];
            if (k->len == len && !memcmp(k->str, seg, len))
                return n->items[2 * i + 1];
        }
        return NULL;
    }
    if (n->kind == YT_SEQ && len > 0 && strspn(seg, "0123456789") >= len) {
        size_t idx = 0;
        for (size_t i = 0; i < len; i++) {
            idx = idx * 10 + (size_t)(seg[i] - '0');
            if (idx >= n->n)
                return NULL;
        }
        return n->items[idx];
    }
    return NULL;
}

/* A plain scalar that is a finite decimal number (no hex, nan or inf spelled in letters). */
static int load_number(const yt_node_t *n, double *out)
{
    if (n->kind != YT_SCALAR || !n->plain || !n->len || strspn(n->str, "0123456789.-+eE") != n->len)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(n->str, &end);
    if (errno || *end || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

int hc_load_read(const char *name, const char *body, size_t len, const char *field, double max,
                 double *out, char *reason, size_t reasonlen)
{
    char err[LOAD_ERR_MAX] = "";
    yt_doc_t *doc = NULL;
    if (len > HC_LOAD_BODY_MAX) {
        snprintf(reason, reasonlen, "status body larger than %d bytes", HC_LOAD_BODY_MAX);
        return -EINVAL;
    }
    if (yt_doc_load_buffer(name, body, len, &doc, err, sizeof(err))) {
        snprintf(reason, reasonlen, "not JSON: %s", err);
        return -EINVAL;
    }
    int rc = -EINVAL;
    const yt_node_t *n = yt_doc_root(doc);
    for (const char *seg = field; n;) {
        const char *dot = strchr(seg, '.');
        size_t sl = dot ? (size_t)(dot - seg) : strlen(seg);
        n = load_child(n, seg, sl);
        if (!dot)
            break;
        seg = dot + 1;
    }
    if (!n)
        snprintf(reason, reasonlen, "no field %s", field);
    else if (load_number(n, out))
        snprintf(reason, reasonlen, "%s is not a number", field);
    else if (*out < 0)
        snprintf(reason, reasonlen, "%s is negative", field);
    else if (*out > max)
        snprintf(reason, reasonlen, "%s %g is out of range (0 to %g)", field, *out, max);
    else
        rc = 0;
    yt_doc_free(doc);
    return rc;
}
