/* zoneload.c: the zone loader's entry points: pick the reader by file name (YAML or RFC 1035
 * master file), and build the lookup table of a zone set. The readers are zone_yaml.c and
 * zone_master.c; both feed zone_build.c, which applies zone_check.c's rules. */
#include "zoneload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zone_loader.h"

static bool has_suffix(const char *s, size_t l, const char *suffix)
{
    size_t n = strlen(suffix);
    return l > n && !strcmp(s + l - n, suffix);
}

static bool is_yaml_name(const char *path)
{
    size_t l = strlen(path);
    return has_suffix(path, l, ".yaml") || has_suffix(path, l, ".yml");
}

bool zone_dir_entry_is_zone(const char *name)
{
    return name[0] != '.' && (is_yaml_name(name) || has_suffix(name, strlen(name), ".zone"));
}

int zone_load_file(const char *path, arena_t *arena, struct geo_ctx *geo,
                   zone_file_seen_fn file_seen, void *file_ctx, zone_t **out, char *err,
                   size_t errlen)
{
    if (!is_yaml_name(path))
        return zone_master_load(path, NULL, 0, arena, geo, file_seen, file_ctx, out, err, errlen);
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    return zone_yaml_load(doc, path, arena, geo, out, err, errlen);
}

int zone_load_buffer(const char *name, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_t **out, char *err, size_t errlen)
{
    if (!is_yaml_name(name))
        return zone_master_load(name, buf, len, arena, geo, NULL, NULL, out, err, errlen);
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_buffer(name, buf, len, &doc, err, errlen);
    if (rc)
        return rc;
    return zone_yaml_load(doc, name, arena, geo, out, err, errlen);
}

int zone_set_build(zone_set_t *zs, zone_t **zones, size_t n, arena_t *arena, char *err,
                   size_t errlen)
{
    zs->zones = zones;
    zs->nzones = n;
    zs->tsize = 8;
    while (zs->tsize < n * 2)
        zs->tsize <<= 1;
    zs->table = arena_alloc(arena, zs->tsize * sizeof(*zs->table));
    if (!zs->table)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        zone_t *z = zones[i];
        uint32_t h = zone_name_hash(z->apex, z->apexlen);
        for (uint32_t j = 0;; j++) {
            zone_t **slot = &zs->table[(h + j) & (zs->tsize - 1)];
            if (!*slot) {
                *slot = z;
                break;
            }
            if ((*slot)->apexlen == z->apexlen && !memcmp((*slot)->apex, z->apex, z->apexlen)) {
                char name[DNS_NAME_TEXT_MAX];
                dns_name_to_str(z->apex, name, sizeof(name));
                snprintf(err, errlen, "%s: zone %s is already defined in %s", z->file, name,
                         (*slot)->file);
                return -EEXIST;
            }
        }
    }
    zl_warn_cross_zone_targets(zs);
    return 0;
}
