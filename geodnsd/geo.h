/* geo.h: the seam between zones and geo routing: parsing `geo:` names, answering them. */
#ifndef GEODNSD_GEO_H
#define GEODNSD_GEO_H

#include <stddef.h>

#include "yamltree.h"
#include "zone.h"

/* Passed to the zone loader: turns a node's `geo:` mapping into its routing policy. */
typedef struct geo_ctx {
    int (*policy_parse)(struct geo_ctx *ctx, const yt_node_t *geo, zone_node_t *node, char *err,
                        size_t errlen);
    void *opaque;
} geo_ctx_t;

#endif
