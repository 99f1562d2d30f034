/* geoload.c: geo routing at load time: the PoP file, mmdb and nets of a snapshot, the policies
 * of its zones, and the merged prefix tables built from them for a health view (off the query
 * path). The query-time answer is in georesp.c. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "georesp.h"
#include "log.h"
#include "path.h"

static int text_to_wire(const char *s, uint8_t *out, uint8_t *len)
{
    size_t n;
    int rc = dns_name_from_text(s, out, &n);
    if (rc == 0)
        *len = (uint8_t)n;
    return rc;
}

static int policy_parse_cb(geo_ctx_t *ctx, const yt_node_t *geo, zone_node_t *node, char *err,
                           size_t errlen)
{
    geo_runtime_t *rt = ctx->opaque;
    if (rt->npol == rt->cappol) {
        size_t cap = rt->cappol ? rt->cappol * 2 : 16;
        route_policy_t **p = realloc(rt->pol, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        rt->pol = p;
        uint8_t(*c)[DNS_MAX_NAME] = realloc(rt->pol_cname, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        rt->pol_cname = c;
        uint8_t *cl = realloc(rt->pol_cnamelen, cap);
        if (!cl)
            return -ENOMEM;
        rt->pol_cnamelen = cl;
        rt->cappol = cap;
    }
    route_policy_t *pol = NULL;
    int rc = route_policy_parse(geo, rt->pops, &pol, err, errlen);
    if (rc)
        return rc;
    size_t i = rt->npol++;
    rt->pol[i] = pol;
    pol->id = (uint32_t)(i + 1);
    rt->pol_cnamelen[i] = 0;
    if (pol->cname[0] && text_to_wire(pol->cname, rt->pol_cname[i], &rt->pol_cnamelen[i]))
        return yt_fail(err, errlen, geo, "fallback cname '%s' is not a valid name", pol->cname);
    node->geo = pol;
    node->geo_id = pol->id;
    return 0;
}

void geo_runtime_free(geo_runtime_t *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->npol; i++)
        route_policy_free(rt->pol[i]);
    free(rt->pol);
    free(rt->pol_cname);
    free(rt->pol_cnamelen);
    free(rt->net_fixed);
    free(rt->net_nfixed);
    free(rt->pop_host);
    free(rt->pop_hostlen);
    free(rt->pops_file);
    pops_free(rt->pops);
    geoip_nets_free(rt->nets);
    geoip_db_close(rt->db);
    free(rt);
}

static char *join(const char *dir, const char *p)
{
    size_t n = path_join(NULL, 0, dir, p) + 1;
    char *r = malloc(n);
    if (r)
        path_join(r, n, dir, p);
    return r;
}

static int load_path(const yt_node_t *n, const char *dir, char **out, char *err, size_t errlen)
{
    const char *v;
    if (yt_get_str(n, &v, err, errlen))
        return -EINVAL;
    if (!*v)
        return yt_fail(err, errlen, n, "empty path");
    *out = join(dir, v);
    return *out ? 0 : -ENOMEM;
}

int geo_runtime_load(const yt_node_t *pops_node, const yt_node_t *geoip_node, const char *dir,
                     uint32_t generation, int (*add_file)(void *ctx, const char *path),
                     void *add_ctx, geo_runtime_t **out, char *err, size_t errlen)
{
    *out = NULL;
    geo_runtime_t *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->generation = generation;
    rt->ctx.policy_parse = policy_parse_cb;
    rt->ctx.opaque = rt;
    char *path = NULL;
    int rc;
    if (!pops_node) {
        rc = yt_fail(err, errlen, geoip_node, "'geoip' needs a PoP file: add 'pops: FILE'");
        goto fail;
    }
    if ((rc = load_path(pops_node, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)) ||
        (rc = pops_load(path, &rt->pops, err, errlen)))
        goto fail;
    rt->pops_file = path; /* kept for messages (georesp_warn_targets) */
    path = NULL;

    if (geoip_node) {
        static const char *const keys[] = {"mmdb", "schema", "nets", NULL};
        if ((rc = yt_map_check_keys(geoip_node, keys, "geoip", err, errlen)))
            goto fail;
        const yt_node_t *m = yt_map_get(geoip_node, "mmdb");
        const yt_node_t *s = yt_map_get(geoip_node, "schema");
        const yt_node_t *nn = yt_map_get(geoip_node, "nets");
        geoip_schema_t schema;
        geoip_schema_preset("geoip2-city", &schema);
        if (s && s->kind == YT_SCALAR) {
            if (geoip_schema_preset(s->str, &schema)) {
                rc = yt_fail(err, errlen, s,
                             "unknown schema '%s' (geoip2-city, dbip-city-lite, or a mapping of "
                             "field paths)",
                             s->str);
                goto fail;
            }
        } else if (s) {
            static const char *const fk[] = {"latitude",  "longitude",   "country",
                                             "continent", "subdivision", NULL};
            if ((rc = yt_map_check_keys(s, fk, "schema", err, errlen)))
                goto fail;
            const char **fields[] = {&schema.latitude, &schema.longitude, &schema.country,
                                     &schema.continent, &schema.subdivision};
            for (size_t i = 0; fk[i]; i++) {
                const yt_node_t *f = yt_map_get(s, fk[i]);
                if (f && (rc = yt_get_str(f, fields[i], err, errlen)))
                    goto fail;
            }
        }
        if (m) {
            if ((rc = load_path(m, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)))
                goto fail;
            char e2[768];
            if ((rc = geoip_db_open(path, &schema, &rt->db, e2, sizeof(e2)))) {
                rc = yt_fail(err, errlen, m, "%s", e2);
                goto fail;
            }
            free(path);
            path = NULL;
        }
        if (nn) {
            if ((rc = load_path(nn, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)) ||
                (rc = geoip_nets_load(path, &rt->nets, err, errlen)))
                goto fail;
            free(path);
            path = NULL;
            rt->nnets = geoip_nets_count(rt->nets);
            rt->net_fixed = calloc(rt->nnets ? rt->nnets : 1, sizeof(*rt->net_fixed));
            rt->net_nfixed = calloc(rt->nnets ? rt->nnets : 1, 1);
            if (!rt->net_fixed || !rt->net_nfixed) {
                rc = -ENOMEM;
                goto fail;
            }
            for (size_t i = 0; i < rt->nnets; i++) {
                const geoip_net_t *e = geoip_nets_entry(rt->nets, i);
                if (!e->npops)
                    continue;
                int k = pops_resolve_net(rt->pops, e, rt->net_fixed[i], err, errlen);
                if (k < 0) {
                    rc = k;
                    goto fail;
                }
                rt->net_nfixed[i] = (uint8_t)k;
            }
        }
    }
    size_t np = rt->pops->npops;
    rt->pop_host = calloc(np ? np : 1, sizeof(*rt->pop_host));
    rt->pop_hostlen = calloc(np ? np : 1, 1);
    if (!rt->pop_host || !rt->pop_hostlen) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        const pops_pop_t *p = &rt->pops->pop[i];
        if (p->hostname[0] && text_to_wire(p->hostname, rt->pop_host[i], &rt->pop_hostlen[i])) {
            snprintf(err, errlen, "PoP %s: hostname '%s' is not a valid name", p->name,
                     p->hostname);
            rc = -EINVAL;
            goto fail;
        }
    }
    *out = rt;
    return 0;
fail:
    free(path);
    geo_runtime_free(rt);
    return rc;
}

int geo_table_build(const geo_runtime_t *rt, const route_health_t *health,
                    const atomic_bool *cancel, route_table_t **out, char *err, size_t errlen)
{
    route_table_input_t in = {
        .pops = rt->pops,
        .db = rt->db,
        .nets = rt->nets,
        .net_fixed = (const uint16_t(*)[GEOIP_NET_POPS_MAX])rt->net_fixed,
        .net_nfixed = rt->net_nfixed,
        .pol = rt->pol,
        .npol = rt->npol,
        .health = health,
        .cancel = cancel,
    };
    return route_table_build(&in, out, err, errlen);
}

/* ---- load-time checks of CNAME targets ---- */

static void warn_pool(const geo_runtime_t *rt, const zone_set_t *zs, int pool, const char *geo,
                      bool *warned)
{
    if (pool < 0 || (size_t)pool >= rt->pops->npools)
        return;
    const pops_pool_t *pl = &rt->pops->pool[pool];
    for (size_t k = 0; k < pl->n; k++) {
        unsigned i = pl->idx[k];
        const pops_pop_t *p = &rt->pops->pop[i];
        if (warned[i] || !rt->pop_hostlen[i] ||
            zone_set_target_ok(zs, rt->pop_host[i], rt->pop_hostlen[i], true))
            continue;
        warned[i] = true;
        log_warn("%s:%u:%u: PoP %s: hostname %s (CNAME target of the geo name %s) has no data "
                 "in our zones: clients sent there get NXDOMAIN",
                 rt->pops_file ? rt->pops_file : "pops", p->line, p->col, p->name, p->hostname,
                 geo);
    }
}

void georesp_warn_targets(const geo_runtime_t *rt, const zone_set_t *zs)
{
    if (!rt || !rt->pops || !zs)
        return;
    bool *warned = calloc(rt->pops->npops ? rt->pops->npops : 1, sizeof(*warned));
    if (!warned)
        return;
    for (size_t zi = 0; zi < zs->nzones; zi++) {
        const zone_t *z = zs->zones[zi];
        for (size_t ni = 0; ni < z->nnodes; ni++) { /* file order: warnings in that order */
            const zone_node_t *n = z->nodes[ni];
            const route_policy_t *pol = n->geo;
            if (!pol)
                continue;
            char name[DNS_NAME_TEXT_MAX];
            dns_name_to_str(n->name, name, sizeof(name));
            if (pol->mode == ROUTE_MODE_CNAME) {
                warn_pool(rt, zs, pol->pool, name, warned);
                warn_pool(rt, zs, pol->fallback_pool, name, warned);
            }
            if (pol->id && pol->id <= rt->npol && rt->pol_cnamelen[pol->id - 1] &&
                !zone_set_target_ok(zs, rt->pol_cname[pol->id - 1], rt->pol_cnamelen[pol->id - 1],
                                    true))
                log_warn("%s: geo name %s: fallback CNAME %s has no data in our zones", z->file,
                         name, pol->cname);
        }
    }
    free(warned);
}
