/* geoip.c: libmaxminddb adapter (schema presets, allocation-free lookups) and great-circle
 * distance. */
#include "geoip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <maxminddb.h>

#include "addr.h"
#include "errmsg.h"
#include "file.h"

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

/* The 16 zero bytes between the search tree and the data section, and the marker that starts the
 * metadata section (MaxMind DB format spec 2.0). */
#define MMDB_SEPARATOR       16
#define MMDB_META_MARKER_LEN 14 /* "\xab\xcd\xefMaxMind.com" */

static int corrupt(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int corrupt(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    if (!err || !errlen)
        return -EINVAL;
    snprintf(err, errlen, "%s: corrupt GeoIP database (mmdb): ", path);
    va_list ap;
    va_start(ap, fmt);
    int rc = errmsg_vappend(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Check one record of node `node` (side 0 = left, 1 = right): a node number, the empty marker
 * (node_count) or a data pointer inside the data section, whose offset is marked in seen. */
static int verify_record(const MMDB_s *m, const char *path, uint32_t node, int side, uint64_t r,
                         uint64_t data_len, uint8_t *seen, char *err, size_t errlen)
{
    uint64_t nc = m->metadata.node_count;
    if (r <= nc)
        return 0;
    if (r < nc + MMDB_SEPARATOR || r - nc - MMDB_SEPARATOR >= data_len)
        return corrupt(err, errlen, path,
                       "search tree node %u: %s record %llu points neither to a node (< %llu) nor "
                       "into the data section",
                       node, side ? "right" : "left", (unsigned long long)r,
                       (unsigned long long)nc);
    uint64_t off = r - nc - MMDB_SEPARATOR;
    seen[off / 8] |= (uint8_t)(1u << (off % 8));
    return 0;
}

/* One node on the depth-first walk's stack: which record to look at next (2 = both done) and the
 * greatest height seen below it so far. */
typedef struct walk_frame {
    uint32_t node;
    uint8_t side, h;
} walk_frame_t;

/* Longest path test: every lookup must end on data or "empty" within the address's bits (32 or
 * 128 node steps from the root), so a loop or an over-deep branch is refused. Depth-first from
 * the root with each node's height memoized (height[n] = nodes on the longest path down from n,
 * 0 = not known yet): each node is expanded once, so this is linear in the node count, and a
 * loop cannot run away because the explicit stack is bounded by the bit count. */
static int verify_depth(const MMDB_s *m, const char *path, char *err, size_t errlen)
{
    uint32_t nc = m->metadata.node_count;
    unsigned bits = m->metadata.ip_version == 6 ? 128 : 32;
    uint8_t *height = calloc(nc, 1);
    if (!height) {
        snprintf(err, errlen, "%s: out of memory verifying the GeoIP database", path);
        return -ENOMEM;
    }
    walk_frame_t st[129];
    unsigned sp = 0;
    st[sp++] = (walk_frame_t){.node = 0};
    int rc = 0;
    while (sp && !rc) {
        walk_frame_t *f = &st[sp - 1];
        if (f->side == 2) {
            height[f->node] = (uint8_t)(f->h + 1);
            uint8_t h = height[f->node];
            sp--;
            if (sp && st[sp - 1].h < h)
                st[sp - 1].h = h;
            continue;
        }
        MMDB_search_node_s sn;
        if (MMDB_read_node(m, f->node, &sn) != MMDB_SUCCESS) {
            rc = corrupt(err, errlen, path, "search tree node %u cannot be read", f->node);
            break;
        }
        uint64_t r = f->side ? sn.right_record : sn.left_record;
        f->side++;
        if (r >= nc)
            continue;
        uint32_t c = (uint32_t)r;
        if (height[c]) {
            if (sp + height[c] > bits)
                rc = corrupt(err, errlen, path,
                             "a path through search tree node %u is longer than %u bits (a "
                             "loop or an over-deep branch)",
                             c, bits);
            else if (f->h < height[c])
                f->h = height[c];
            continue;
        }
        if (sp + 1 > bits) {
            rc = corrupt(err, errlen, path,
                         "search tree node %u is reached after %u bits (a loop or an over-deep "
                         "branch)",
                         c, bits);
            break;
        }
        st[sp++] = (walk_frame_t){.node = c};
    }
    free(height);
    return rc;
}

static int mmdb_verify(const MMDB_s *m, const char *path, char *err, size_t errlen)
{
    const MMDB_metadata_s *md = &m->metadata;
    if (md->binary_format_major_version != 2)
        return corrupt(err, errlen, path, "binary format version %u (only 2 is known)",
                       md->binary_format_major_version);
    if (md->record_size != 24 && md->record_size != 28 && md->record_size != 32)
        return corrupt(err, errlen, path, "record size %u (24, 28 or 32 expected)",
                       md->record_size);
    if (md->ip_version != 4 && md->ip_version != 6)
        return corrupt(err, errlen, path, "ip_version %u (4 or 6 expected)", md->ip_version);
    if (md->node_count == 0)
        return corrupt(err, errlen, path, "the search tree has no nodes");
    uint64_t tree = (uint64_t)md->node_count * md->record_size / 4;
    if (m->file_size < 0 || tree + MMDB_SEPARATOR > (uint64_t)m->file_size ||
        !m->metadata_section ||
        m->metadata_section < m->file_content + tree + MMDB_SEPARATOR + MMDB_META_MARKER_LEN)
        return corrupt(err, errlen, path,
                       "a search tree of %u nodes does not fit before the metadata",
                       md->node_count);
    if (md->database_type == NULL || !*md->database_type)
        return corrupt(err, errlen, path, "the metadata has no database_type");
    /* The data section ends where the metadata marker starts. */
    uint64_t data_len = (uint64_t)(m->metadata_section - MMDB_META_MARKER_LEN - m->data_section);
    if (data_len > m->data_section_size)
        data_len = m->data_section_size;
    for (size_t i = 0; i < MMDB_SEPARATOR; i++)
        if (m->file_content[tree + i])
            return corrupt(err, errlen, path,
                           "no 16-byte zero separator after the search tree (node count %u "
                           "wrong, or the file cut or padded)",
                           md->node_count);
    uint8_t *seen = calloc(data_len / 8 + 1, 1);
    if (!seen) {
        snprintf(err, errlen, "%s: out of memory verifying the GeoIP database", path);
        return -ENOMEM;
    }
    int rc = 0;
    for (uint32_t n = 0; n < md->node_count && !rc; n++) {
        MMDB_search_node_s sn;
        if (MMDB_read_node(m, n, &sn) != MMDB_SUCCESS)
            rc = corrupt(err, errlen, path, "search tree node %u cannot be read", n);
        if (!rc)
            rc = verify_record(m, path, n, 0, sn.left_record, data_len, seen, err, errlen);
        if (!rc)
            rc = verify_record(m, path, n, 1, sn.right_record, data_len, seen, err, errlen);
    }
    if (!rc)
        rc = verify_depth(m, path, err, errlen);
    /* Decode the data section from start to end, item after item, as the MaxMind DB verifiers
     * do (maps, arrays and pointers followed), and require every pointer of the tree to land on
     * the start of an item: a changed low byte in a record would otherwise point into the middle
     * of one and decode as something else. */
    uint8_t *start = rc ? NULL : calloc(data_len / 8 + 1, 1);
    if (!rc && !start) {
        snprintf(err, errlen, "%s: out of memory verifying the GeoIP database", path);
        rc = -ENOMEM;
    }
    for (uint64_t off = 0; off < data_len && !rc;) {
        MMDB_entry_s e = {.mmdb = (MMDB_s *)m, .offset = (uint32_t)off};
        MMDB_entry_data_list_s *list = NULL;
        int st = MMDB_get_entry_data_list(&e, &list);
        if (st != MMDB_SUCCESS)
            rc = corrupt(err, errlen, path, "data item at offset %llu: %s", (unsigned long long)off,
                         MMDB_strerror(st));
        else if (list->entry_data.offset_to_next <= off)
            rc = corrupt(err, errlen, path, "data item at offset %llu has no length",
                         (unsigned long long)off);
        else {
            start[off / 8] |= (uint8_t)(1u << (off % 8));
            off = list->entry_data.offset_to_next;
        }
        MMDB_free_entry_data_list(list);
    }
    for (uint64_t b = 0; b <= data_len / 8 && !rc; b++) {
        uint8_t stray = seen[b] & (uint8_t)~start[b];
        if (stray) {
            unsigned bit = 0;
            while (!(stray & (1u << bit)))
                bit++;
            rc = corrupt(err, errlen, path,
                         "the search tree points to offset %llu, which is not the start of a "
                         "data record",
                         (unsigned long long)(b * 8 + bit));
        }
    }
    free(start);
    free(seen);
    return rc;
}

int geoip_db_open(const char *path, const geoip_schema_t *schema, geoip_db_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (!schema) {
        snprintf(err, errlen, "%s: no schema given", path);
        return -EINVAL;
    }
    /* A regular file (libmaxminddb's own open would wait on a FIFO for ever); it is mapped, not
     * copied, so no size bound beyond the address space. */
    const char *why;
    char why_buf[64];
    int fd = file_open_regular(path, UINT64_MAX, NULL, &why, why_buf);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open GeoIP database: %s", path, why);
        return fd;
    }
    close(fd);
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
    /* Verify it all before anything uses it: a file that opens can still have a broken tree or
     * data records, and would then fail every lookup (every client at the default location). */
    rc = mmdb_verify(&db->mmdb, path, err, errlen);
    /* The walk touched every page of the mapping; let them go from this process's resident set
     * (they stay in the page cache): lookups fault back in only what they use. */
    madvise((void *)db->mmdb.file_content, (size_t)db->mmdb.file_size, MADV_DONTNEED);
    if (rc) {
        geoip_db_close(db);
        return rc;
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

int geoip_db_find(const geoip_db_t *db, int family, const uint8_t *addr, geoip_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    if (family == AF_INET6 && addr_v4mapped(addr)) {
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
