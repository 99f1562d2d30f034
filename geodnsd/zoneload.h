/* zoneload.h: build one zone from its YAML file or its RFC 1035 master file (record data parsed
 * by ldns). */
#ifndef GEODNSD_ZONELOAD_H
#define GEODNSD_ZONELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "zone.h"

struct geo_ctx;

/* Told of a file a zone load reads besides the zone file itself (each $INCLUDEd file, by the
 * path the directive resolves to), before reading it, also when the load then fails on it.
 * Returns 0, or a negative code that fails the load. */
typedef int (*zone_file_seen_fn)(void *ctx, const char *path);

/* Whether a zone_dir entry named name is a zone file: *.yaml and *.yml (YAML), *.zone (master
 * file), not hidden (editors' and the loader's own temporary files start with a dot). Any other
 * name (*.inc, *.yaml.new, a backup) is left alone. */
bool zone_dir_entry_is_zone(const char *name);

/* Load the zone file at path into memory owned by arena: a YAML zone when path ends in .yaml or
 * .yml, else an RFC 1035 master file ($ORIGIN, $TTL, $INCLUDE relative to the including file,
 * at most 8 deep; the zone is the owner of the first record, its SOA). geo (may be NULL)
 * resolves `geo:` names; without it a geo name is an error. file_seen (may be NULL) is called
 * with file_ctx for every $INCLUDEd file; the caller reports path itself. On failure returns a
 * negative code and writes "file:line:col: reason" (YAML) or "file:line: reason" (master file)
 * into err. Warnings (targets without data, data below a DNAME) are logged and do not fail the
 * load. */
int zone_load_file(const char *path, arena_t *arena, struct geo_ctx *geo,
                   zone_file_seen_fn file_seen, void *file_ctx, zone_t **out, char *err,
                   size_t errlen);

/* The same from memory (tests, fuzzing); name stands for the file in messages and picks the
 * format as above. A YAML document takes its serial default from name's mtime only when name
 * is a file. A master file from memory may not use $INCLUDE. */
int zone_load_buffer(const char *name, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_t **out, char *err, size_t errlen);

/* Build the lookup table of a zone set from an array of zones (allocated in arena). Fails when
 * two files define the same zone. */
int zone_set_build(zone_set_t *zs, zone_t **zones, size_t n, arena_t *arena, char *err,
                   size_t errlen);

#endif
