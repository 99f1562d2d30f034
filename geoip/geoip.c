/* geoip.c: libmaxminddb adapter (schema presets, allocation-free lookups) and great-circle
 * distance. */
#include "geoip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <maxminddb.h>

enum { F_LAT, F_LON, F_COUNTRY, F_CONTINENT, F_SUBDIV, F_COUNT };

struct geoip_db {
    MMDB_s mmdb;
    /* Copied schema paths, split in place into NULL-terminated component lists. */
    char buf[F_COUNT][GEOIP_PATH_MAX];
    const char *path[F_COUNT][GEOIP_PATH_DEPTH + 1];
    bool has[F_COUNT];
};

int geoip_schema_preset(const char *name, geoip_schema_t *out)
{
    if (!name || !out)
        return -ENOENT;
    if (!strcmp(name, "geoip2-city")) {
        *out = (geoip_schema_t){
            .latitude = "location/latitude",
            .longitude = "location/longitude",
            .country = "country/iso_code",
            .continent = "continent/code",
            .subdivision = "subdivisions/0/iso_code",
        };
        return 0;
    }
    if (!strcmp(name, "dbip-city-lite")) {
        /* ip-location-db's flat records: country_code, state1, state2, city, postcode,
         * latitude, longitude, timezone. No continent: derived from country_code. */
        *out = (geoip_schema_t){
            .latitude = "latitude",
            .longitude = "longitude",
            .country = "country_code",
            .continent = NULL,
            .subdivision = "state1",
        };
        return 0;
    }
    return -ENOENT;
}

static int copy_path(geoip_db_t *db, int f, const char *what, const char *p, bool required,
                     char *err, size_t errlen)
{
    if (!p || !*p) {
        if (required) {
            snprintf(err, errlen, "schema: the %s path is required", what);
            return -EINVAL;
        }
        db->has[f] = false;
        return 0;
    }
    size_t len = strlen(p);
    if (len >= GEOIP_PATH_MAX) {
        snprintf(err, errlen, "schema: the %s path is longer than %d bytes", what,
                 GEOIP_PATH_MAX - 1);
        return -EINVAL;
    }
    memcpy(db->buf[f], p, len + 1);
    size_t n = 0;
    char *s = db->buf[f];
    for (;;) {
        char *slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        if (!*s || n == GEOIP_PATH_DEPTH) {
            snprintf(err, errlen, "schema: bad %s path '%s' (empty component or more than %d)",
                     what, p, GEOIP_PATH_DEPTH);
            return -EINVAL;
        }
        db->path[f][n++] = s;
        if (!slash)
            break;
        s = slash + 1;
    }
    db->path[f][n] = NULL;
    db->has[f] = true;
    return 0;
}

int geoip_db_open(const char *path, const geoip_schema_t *schema, geoip_db_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (!schema) {
        snprintf(err, errlen, "%s: no schema given", path);
        return -EINVAL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open GeoIP database: %s", path, strerror(e));
        return -e;
    }
    geoip_db_t *db = calloc(1, sizeof(*db));
    if (!db) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    char serr[256] = "";
    int rc = copy_path(db, F_LAT, "latitude", schema->latitude, true, serr, sizeof(serr));
    if (!rc)
        rc = copy_path(db, F_LON, "longitude", schema->longitude, true, serr, sizeof(serr));
    if (!rc)
        rc = copy_path(db, F_COUNTRY, "country", schema->country, true, serr, sizeof(serr));
    if (!rc)
        rc = copy_path(db, F_CONTINENT, "continent", schema->continent, false, serr, sizeof(serr));
    if (!rc)
        rc = copy_path(db, F_SUBDIV, "subdivision", schema->subdivision, false, serr, sizeof(serr));
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, serr);
        free(db);
        return rc;
    }
    int status = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
    if (status != MMDB_SUCCESS) {
        if (status == MMDB_IO_ERROR)
            snprintf(err, errlen, "%s: cannot read GeoIP database: %s", path, strerror(errno));
        else
            snprintf(err, errlen, "%s: not a valid MaxMind DB (mmdb) file: %s", path,
                     MMDB_strerror(status));
        free(db);
        return status == MMDB_OUT_OF_MEMORY_ERROR ? -ENOMEM : -EINVAL;
    }
    *out = db;
    return 0;
}

void geoip_db_close(geoip_db_t *db)
{
    if (!db)
        return;
    MMDB_close(&db->mmdb);
    free(db);
}

const char *geoip_db_type(const geoip_db_t *db)
{
    return db->mmdb.metadata.database_type ? db->mmdb.metadata.database_type : "";
}

const struct MMDB_s *geoip_db_mmdb(const geoip_db_t *db)
{
    return &db->mmdb;
}

/* Read a number (double, float or integer, or a numeric string) at path. */
static bool get_number(MMDB_entry_s *e, const char *const *path, double *out)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
        return false;
    switch (d.type) {
    case MMDB_DATA_TYPE_DOUBLE:
        *out = d.double_value;
        return true;
    case MMDB_DATA_TYPE_FLOAT:
        *out = d.float_value;
        return true;
    case MMDB_DATA_TYPE_UINT16:
        *out = d.uint16;
        return true;
    case MMDB_DATA_TYPE_UINT32:
        *out = d.uint32;
        return true;
    case MMDB_DATA_TYPE_INT32:
        *out = d.int32;
        return true;
    case MMDB_DATA_TYPE_UTF8_STRING: {
        char tmp[32];
        if (d.data_size == 0 || d.data_size >= sizeof(tmp))
            return false;
        memcpy(tmp, d.utf8_string, d.data_size);
        tmp[d.data_size] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        if (*end || !isfinite(v))
            return false;
        *out = v;
        return true;
    }
    default:
        return false;
    }
}

/* Copy the string at path into out (size n), truncated; "" when absent. */
static void get_string(MMDB_entry_s *e, const char *const *path, char *out, size_t n)
{
    MMDB_entry_data_s d;
    out[0] = '\0';
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return;
    size_t len = d.data_size < n - 1 ? d.data_size : n - 1;
    memcpy(out, d.utf8_string, len);
    out[len] = '\0';
}

static bool is_v4_mapped(const uint8_t *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return !memcmp(a, pfx, 12);
}

int geoip_db_find(const geoip_db_t *db, int family, const uint8_t *addr, geoip_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    if (family == AF_INET6 && is_v4_mapped(addr)) {
        family = AF_INET;
        addr += 12;
    }
    if (family == AF_INET) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, addr, 4);
        sa = (const struct sockaddr *)&sin;
    } else if (family == AF_INET6) {
        if (db->mmdb.metadata.ip_version != 6)
            return -EAFNOSUPPORT;
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, addr, 16);
        sa = (const struct sockaddr *)&sin6;
    } else {
        return -EAFNOSUPPORT;
    }
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&db->mmdb, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS)
        return -EIO;
    unsigned prefix = r.netmask;
    if (family == AF_INET && db->mmdb.metadata.ip_version == 6)
        prefix = prefix >= 96 ? prefix - 96 : 0;
    if (prefix > (family == AF_INET ? 32u : 128u))
        prefix = family == AF_INET ? 32u : 128u;
    ref->prefix = (uint8_t)prefix;
    if (!r.found_entry)
        return 0;
    ref->found = true;
    ref->offset = r.entry.offset;
    ref->key = (uint64_t)r.entry.offset + 1;
    return 0;
}

void geoip_db_fill(const geoip_db_t *db, const geoip_ref_t *ref, geoip_loc_t *out)
{
    memset(out, 0, sizeof(*out));
    out->prefix = ref->prefix;
    if (!ref->found)
        return;
    out->found = true;
    out->key = ref->key;
    MMDB_entry_s e = {.mmdb = &db->mmdb, .offset = ref->offset};
    double lat, lon;
    if (get_number(&e, db->path[F_LAT], &lat) && get_number(&e, db->path[F_LON], &lon) &&
        lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
        out->located = true;
        out->lat = lat;
        out->lon = lon;
    }
    get_string(&e, db->path[F_COUNTRY], out->country, sizeof(out->country));
    if (db->has[F_CONTINENT])
        get_string(&e, db->path[F_CONTINENT], out->continent, sizeof(out->continent));
    if (!out->continent[0] && out->country[0]) {
        const char *c = geoip_country_continent(out->country);
        if (c)
            memcpy(out->continent, c, 3);
    }
    if (db->has[F_SUBDIV])
        get_string(&e, db->path[F_SUBDIV], out->subdivision, sizeof(out->subdivision));
}

int geoip_db_lookup(const geoip_db_t *db, int family, const uint8_t *addr, geoip_loc_t *out)
{
    geoip_ref_t ref;
    int rc = geoip_db_find(db, family, addr, &ref);
    if (rc) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    geoip_db_fill(db, &ref, out);
    return 0;
}

double geoip_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0088; /* mean Earth radius (IUGG) */
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad;
    double dlon = (lon2 - lon1) * rad;
    double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
    double h = s1 * s1 + cos(lat1 * rad) * cos(lat2 * rad) * s2 * s2;
    if (h > 1)
        h = 1;
    return 2 * r * asin(sqrt(h));
}
