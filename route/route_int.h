/* route_int.h: what the georoute files share and route.h does not publish: fence matching, the
 * "takes clients" test, the IPv4-mapped prefix check. Private to route/. */
#ifndef GEODNS_ROUTE_INT_H
#define GEODNS_ROUTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "route.h"

/* Whether the two-letter code is in list[0..n). An empty code (unknown) matches nothing. */
static inline bool route_code_in(const char (*list)[3], size_t n, const char *code)
{
    if (!code[0])
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i][0] == code[0] && list[i][1] == code[1])
            return true;
    return false;
}

/* Whether a fence selector matches a country, a continent or (pop >= 0) a PoP index. Called
 * for every PoP of a step on the query path. */
static inline bool route_sel_match(const route_sel_t *s, const char *country, const char *continent,
                                   int pop)
{
    if (route_code_in(s->country, s->ncountry, country) ||
        route_code_in(s->continent, s->ncontinent, continent))
        return true;
    for (size_t i = 0; pop >= 0 && i < s->npops; i++)
        if (s->pops[i] == pop)
            return true;
    return false;
}

/* The fence that applies to client: the first rule whose clients selector matches, or NULL.
 * When no is given, *no is the rule's number from 1 (0 when none applies). */
static inline const route_fence_t *route_fence_for(const route_policy_t *pol,
                                                   const route_client_t *client, size_t *no)
{
    for (size_t i = 0; i < pol->nfences; i++)
        if (route_sel_match(&pol->fences[i].clients, client->country, client->continent, -1)) {
            if (no)
                *no = i + 1;
            return &pol->fences[i];
        }
    if (no)
        *no = 0;
    return NULL;
}

/* A PoP takes clients (its own or shed ones) unless capacity, drain or slow start say none. */
static inline bool route_takes_clients(const route_health_t *h, size_t idx)
{
    return !h || h->keep[idx] > 0 || h->weight[idx] > 0;
}

#endif
