/* pops.c: parser for the PoP file (pops, pools, default_location) into an immutable pops_t. */
#include "pops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void pops_free(pops_t *pops)
{
    if (!pops)
        return;
    free(pops->pop);
    free(pops->pool);
    free(pops);
}

int pops_find(const pops_t *pops, const char *name)
{
    for (size_t i = 0; i < pops->npops; i++)
        if (!strcmp(pops->pop[i].name, name))
            return (int)i;
    return -ENOENT;
}

int pops_pool_find(const pops_t *pops, const char *name)
{
    for (size_t i = 0; i < pops->npools; i++)
        if (!strcmp(pops->pool[i].name, name))
            return (int)i;
    return -ENOENT;
}

int pops_resolve_net(const pops_t *pops, const geoip_net_t *net, uint16_t *idx, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < net->npops; i++) {
        int k = pops_find(pops, net->pops[i]);
        if (k < 0) {
            snprintf(err, errlen, "%s:%u:%u: unknown PoP '%s'", net->file, net->pop_line[i],
                     net->pop_col[i], net->pops[i]);
            return -EINVAL;
        }
        idx[i] = (uint16_t)k;
    }
    return (int)net->npops;
}

/* Names: 1..31 bytes of [A-Za-z0-9_-]. */
static int get_name(const yt_node_t *n, char *out, const char *what, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    bool ok = len > 0 && len < POPS_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_';
    if (!ok)
        return yt_fail(err, errlen, n, "%s '%s' must be 1 to %d characters of A-Z a-z 0-9 - _",
                       what, s, POPS_NAME_MAX - 1);
    memcpy(out, s, len + 1);
    return 0;
}

int pops_code_parse(const yt_node_t *n, char out[3], const char *what, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    bool ok = strlen(s) == 2;
    for (size_t i = 0; ok && i < 2; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z');
    if (!ok)
        return yt_fail(err, errlen, n, "%s must be a 2-letter code, not '%s'", what, s);
    for (size_t i = 0; i < 2; i++)
        out[i] = (char)(s[i] >= 'a' ? s[i] - 'a' + 'A' : s[i]);
    out[2] = '\0';
    return 0;
}

static int get_location(const yt_node_t *n, double *lat, double *lon, char *err, size_t errlen)
{
    if (n->kind != YT_SEQ || n->n != 2)
        return yt_fail(err, errlen, n, "location must be [latitude, longitude]");
    if (yt_get_double(n->items[0], -90, 90, lat, err, errlen) ||
        yt_get_double(n->items[1], -180, 180, lon, err, errlen))
        return -EINVAL;
    return 0;
}

int pops_hostname_parse(const yt_node_t *n, char *out, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    if (len && s[len - 1] == '.')
        len--;
    bool ok = len > 0 && len <= 253;
    size_t label = 0;
    for (size_t i = 0; ok && i < len; i++) {
        char c = s[i];
        if (c == '.') {
            ok = label > 0;
            label = 0;
        } else {
            ok = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_') &&
                 ++label <= 63;
        }
    }
    if (!ok || label == 0)
        return yt_fail(err, errlen, n, "'%s' is not a valid host name", s);
    memcpy(out, s, len);
    out[len] = '.';
    out[len + 1] = '\0';
    return 0;
}

static int parse_probe(const yt_node_t *n, pops_pop_t *p, char *err, size_t errlen)
{
    /* Only the shape is checked here; the health issue owns the other probe keys. */
    if (n->kind != YT_MAP)
        return yt_fail(err, errlen, n, "probe must be a mapping like {url: \"http://...\"}");
    const yt_node_t *u = yt_map_get(n, "url");
    if (!u)
        return yt_fail(err, errlen, n, "probe needs a url");
    const char *s;
    if (yt_get_str(u, &s, err, errlen))
        return -EINVAL;
    if ((strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) || strlen(s) >= POPS_URL_MAX)
        return yt_fail(err, errlen, u, "probe url '%s' must be http:// or https:// (< %d bytes)", s,
                       POPS_URL_MAX);
    strcpy(p->probe_url, s);
    return 0;
}

static int parse_addresses(const yt_node_t *n, pops_pop_t *p, char *err, size_t errlen)
{
    if (n->kind == YT_SCALAR) {
        /* A single address written without brackets. */
        const yt_node_t *one = n;
        const char *s = one->str;
        uint8_t a[16];
        if (inet_pton(AF_INET, s, a) == 1) {
            memcpy(p->v4[p->n4++], a, 4);
            return 0;
        }
        if (inet_pton(AF_INET6, s, a) == 1) {
            memcpy(p->v6[p->n6++], a, 16);
            return 0;
        }
        return yt_fail(err, errlen, one, "'%s' is not an IPv4 or IPv6 address", s);
    }
    if (n->kind != YT_SEQ)
        return yt_fail(err, errlen, n, "addresses must be a list of IPv4/IPv6 addresses");
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        uint8_t a[16];
        if (yt_get_str(n->items[i], &s, err, errlen))
            return -EINVAL;
        if (inet_pton(AF_INET, s, a) == 1) {
            if (p->n4 == POPS_ADDRS_MAX)
                return yt_fail(err, errlen, n->items[i], "more than %d IPv4 addresses",
                               POPS_ADDRS_MAX);
            for (size_t j = 0; j < p->n4; j++)
                if (!memcmp(p->v4[j], a, 4))
                    return yt_fail(err, errlen, n->items[i], "address %s is listed twice", s);
            memcpy(p->v4[p->n4++], a, 4);
        } else if (inet_pton(AF_INET6, s, a) == 1) {
            if (p->n6 == POPS_ADDRS_MAX)
                return yt_fail(err, errlen, n->items[i], "more than %d IPv6 addresses",
                               POPS_ADDRS_MAX);
            for (size_t j = 0; j < p->n6; j++)
                if (!memcmp(p->v6[j], a, 16))
                    return yt_fail(err, errlen, n->items[i], "address %s is listed twice", s);
            memcpy(p->v6[p->n6++], a, 16);
        } else {
            return yt_fail(err, errlen, n->items[i], "'%s' is not an IPv4 or IPv6 address", s);
        }
    }
    return 0;
}

static int parse_pop(const yt_node_t *k, const yt_node_t *v, pops_pop_t *p, char *err,
                     size_t errlen)
{
    static const char *const keys[] = {"location", "country",  "continent", "addresses", "bias",
                                       "capacity", "hostname", "probe",     NULL};
    if (get_name(k, p->name, "PoP name", err, errlen))
        return -EINVAL;
    p->line = k->line;
    p->col = k->col;
    char what[64];
    snprintf(what, sizeof(what), "PoP '%s'", p->name);
    if (yt_map_check_keys(v, keys, what, err, errlen))
        return -EINVAL;
    const yt_node_t *n = yt_map_get(v, "location");
    if (!n)
        return yt_fail(err, errlen, k, "PoP '%s' needs a location: [latitude, longitude]", p->name);
    if (get_location(n, &p->lat, &p->lon, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "country")) && pops_code_parse(n, p->country, "country", err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "continent")) &&
        pops_code_parse(n, p->continent, "continent", err, errlen))
        return -EINVAL;
    if (!p->continent[0] && p->country[0]) {
        const char *c = geoip_country_continent(p->country);
        if (c)
            memcpy(p->continent, c, 3);
    }
    if ((n = yt_map_get(v, "addresses")) && parse_addresses(n, p, err, errlen))
        return -EINVAL;
    p->factor = 1.0;
    if ((n = yt_map_get(v, "bias"))) {
        if (yt_get_double(n, -99, 99, &p->bias, err, errlen))
            return -EINVAL;
        p->factor = 1.0 - p->bias / 100.0;
    }
    if ((n = yt_map_get(v, "capacity")) && yt_get_u32(n, 1, UINT32_MAX, &p->capacity, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "hostname")) && pops_hostname_parse(n, p->hostname, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "probe")) && parse_probe(n, p, err, errlen))
        return -EINVAL;
    if (!p->n4 && !p->n6 && !p->hostname[0])
        return yt_fail(err, errlen, k, "PoP '%s' needs addresses or a hostname", p->name);
    return 0;
}

static int parse_pool(const pops_t *pops, const yt_node_t *k, const yt_node_t *v, pops_pool_t *pl,
                      char *err, size_t errlen)
{
    if (get_name(k, pl->name, "pool name", err, errlen))
        return -EINVAL;
    if (v->kind != YT_SEQ || v->n == 0)
        return yt_fail(err, errlen, v, "pool '%s' must be a non-empty list of PoP names", pl->name);
    for (size_t i = 0; i < v->n; i++) {
        const char *s;
        if (yt_get_str(v->items[i], &s, err, errlen))
            return -EINVAL;
        int idx = pops_find(pops, s);
        if (idx < 0)
            return yt_fail(err, errlen, v->items[i], "unknown PoP '%s' in pool '%s'", s, pl->name);
        for (size_t j = 0; j < pl->n; j++)
            if (pl->idx[j] == idx)
                return yt_fail(err, errlen, v->items[i], "PoP '%s' is listed twice in pool '%s'", s,
                               pl->name);
        pl->idx[pl->n++] = (uint16_t)idx;
    }
    return 0;
}

int pops_parse(const yt_node_t *root, pops_t **out, char *err, size_t errlen)
{
    static const char *const top[] = {"pops", "pools", "default_location", NULL};
    *out = NULL;
    if (!root) {
        snprintf(err, errlen, "PoP file: empty document");
        return -EINVAL;
    }
    if (yt_map_check_keys(root, top, "the PoP file", err, errlen))
        return -EINVAL;
    const yt_node_t *pn = yt_map_get(root, "pops");
    if (!pn)
        return yt_fail(err, errlen, root, "the PoP file needs a 'pops' mapping");
    if (pn->kind != YT_MAP || pn->n == 0)
        return yt_fail(err, errlen, pn, "pops must be a non-empty mapping of name -> PoP");
    if (pn->n > POPS_MAX)
        return yt_fail(err, errlen, pn, "at most %d PoPs", POPS_MAX);
    const yt_node_t *pl = yt_map_get(root, "pools");
    if (pl && pl->kind != YT_MAP && !yt_is_null(pl))
        return yt_fail(err, errlen, pl, "pools must be a mapping of name -> [PoP names]");
    size_t npools = pl && pl->kind == YT_MAP ? pl->n : 0;
    if (npools > POPS_POOLS_MAX)
        return yt_fail(err, errlen, pl, "at most %d pools", POPS_POOLS_MAX);

    pops_t *pops = calloc(1, sizeof(*pops));
    if (!pops)
        goto nomem;
    pops->pop = calloc(pn->n, sizeof(pops_pop_t));
    pops->pool = calloc(npools ? npools : 1, sizeof(pops_pool_t));
    if (!pops->pop || !pops->pool)
        goto nomem;
    for (size_t i = 0; i < pn->n; i++) {
        if (parse_pop(pn->items[2 * i], pn->items[2 * i + 1], &pops->pop[i], err, errlen))
            goto fail;
        /* yamltree rejects duplicate keys; this keeps the invariant local. */
        for (size_t j = 0; j < i; j++)
            if (!strcmp(pops->pop[j].name, pops->pop[i].name)) {
                yt_fail(err, errlen, pn->items[2 * i], "PoP '%s' is defined twice",
                        pops->pop[i].name);
                goto fail;
            }
        pops->npops++;
    }
    for (size_t i = 0; i < npools; i++) {
        if (parse_pool(pops, pl->items[2 * i], pl->items[2 * i + 1], &pops->pool[i], err, errlen))
            goto fail;
        pops->npools++;
    }
    const yt_node_t *dl = yt_map_get(root, "default_location");
    if (dl) {
        if (get_location(dl, &pops->default_lat, &pops->default_lon, err, errlen))
            goto fail;
        pops->has_default_location = true;
    }
    *out = pops;
    return 0;
nomem:
    pops_free(pops);
    snprintf(err, errlen, "%s: out of memory", root->file);
    return -ENOMEM;
fail:
    pops_free(pops);
    return -EINVAL;
}

int pops_load(const char *path, pops_t **out, char *err, size_t errlen)
{
    yt_doc_t *doc = NULL;
    *out = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    rc = pops_parse(yt_doc_root(doc), out, err, errlen);
    yt_doc_free(doc);
    return rc;
}
