/* route_fixture.h: the route unit tests' shared set-up: YAML text to a PoP set, a geo policy and a
 * health view. A set-up error prints what failed and aborts (the tests' fixtures are known good).
 */
#ifndef TESTS_ROUTE_FIXTURE_H
#define TESTS_ROUTE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pops.h"
#include "route.h"
#include "yamltree.h"

/* Parse text (named name in errors) as a YAML document; the caller frees it with yt_doc_free(). */
static inline yt_doc_t *load(const char *name, const char *text)
{
    yt_doc_t *doc = NULL;
    char err[512];
    if (yt_doc_load_buffer(name, text, strlen(text), &doc, err, sizeof(err))) {
        fprintf(stderr, "yaml: %s\n", err);
        abort();
    }
    return doc;
}

/* Parse a PoP file's text; the caller frees the set with pops_free(). */
static inline pops_t *pops_from(const char *text)
{
    yt_doc_t *doc = load("pops.yaml", text);
    pops_t *p = NULL;
    char err[512];
    if (pops_parse(yt_doc_root(doc), &p, err, sizeof(err))) {
        fprintf(stderr, "pops: %s\n", err);
        abort();
    }
    yt_doc_free(doc);
    return p;
}

/* Parse "geo: {...}" text as a policy over pops; the caller frees it with route_policy_free(). */
static inline route_policy_t *policy_from(const pops_t *pops, const char *text)
{
    yt_doc_t *doc = load("zone.yaml", text);
    route_policy_t *pol = NULL;
    char err[512];
    if (route_policy_parse(yt_map_get(yt_doc_root(doc), "geo"), pops, &pol, err, sizeof(err))) {
        fprintf(stderr, "policy: %s\n", err);
        abort();
    }
    yt_doc_free(doc);
    return pol;
}

/* Fill *h as a health view in which PoP i is up when up[i] (i < n; every PoP from n on is up),
 * every address is up, every PoP keeps all its clients and has the given weight. The other
 * fields are 0. Returns h. */
static inline route_health_t *health_from_up(route_health_t *h, const uint8_t *up, size_t n,
                                             uint32_t weight)
{
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; i < POPS_MAX; i++) {
        h->up[i] = i < n ? up[i] : 1;
        h->keep[i] = ROUTE_SHARE_ONE;
        h->weight[i] = weight;
        h->addr4[i] = h->addr6[i] = 0xffff;
    }
    return h;
}

#endif
