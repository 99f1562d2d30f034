/* prefixmap.c: read access to an mmdb's search tree, node by node, for building merged prefix
 * tables off the query path (route/rtable.c). libmaxminddb has no public tree walker;
 * MMDB_read_node gives one node's two records with their types. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "geoip.h"

static int rec_from(const MMDB_s *m, uint64_t record, uint8_t type, const MMDB_entry_s *entry,
                    geoip_rec_t *out)
{
    switch (type) {
    case MMDB_RECORD_TYPE_SEARCH_NODE:
        if (record >= m->metadata.node_count)
            return -EIO;
        out->type = GEOIP_REC_NODE;
        out->value = (uint32_t)record;
        return 0;
    case MMDB_RECORD_TYPE_EMPTY:
        out->type = GEOIP_REC_EMPTY;
        out->value = 0;
        return 0;
    case MMDB_RECORD_TYPE_DATA:
        if (entry->offset >= m->data_section_size)
            return -EIO;
        out->type = GEOIP_REC_DATA;
        out->value = entry->offset;
        return 0;
    default:
        return -EIO;
    }
}

int geoip_tree_child(const geoip_db_t *db, uint32_t node, unsigned bit, geoip_rec_t *out)
{
    const MMDB_s *m = geoip_db_mmdb(db);
    MMDB_search_node_s sn;
    if (node >= m->metadata.node_count || MMDB_read_node(m, node, &sn) != MMDB_SUCCESS)
        return -EIO;
    if (bit)
        return rec_from(m, sn.right_record, sn.right_record_type, &sn.right_record_entry, out);
    return rec_from(m, sn.left_record, sn.left_record_type, &sn.left_record_entry, out);
}

int geoip_tree_root(const geoip_db_t *db, int family, geoip_rec_t *out)
{
    const MMDB_s *m = geoip_db_mmdb(db);
    out->type = GEOIP_REC_NODE;
    out->value = 0;
    if (m->metadata.node_count == 0) {
        out->type = GEOIP_REC_EMPTY;
        return 0;
    }
    if (m->metadata.ip_version != 6) {
        if (family == AF_INET6)
            out->type = GEOIP_REC_EMPTY; /* IPv6 lookups fail: nothing located */
        return 0;
    }
    if (family == AF_INET6)
        return 0;
    for (int i = 0; i < 96 && out->type == GEOIP_REC_NODE; i++)
        if (geoip_tree_child(db, out->value, 0, out))
            return -EIO;
    return 0;
}

void geoip_tree_ref(const geoip_rec_t *rec, geoip_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    if (rec->type != GEOIP_REC_DATA)
        return;
    ref->found = true;
    ref->offset = rec->value;
    ref->key = (uint64_t)rec->value + 1;
}

uint32_t geoip_tree_nodes(const geoip_db_t *db)
{
    return db ? geoip_db_mmdb(db)->metadata.node_count : 0;
}

void geoip_unit_vector(double lat, double lon, double out[3])
{
    const double rad = M_PI / 180.0;
    double cl = cos(lat * rad);
    out[0] = cl * cos(lon * rad);
    out[1] = cl * sin(lon * rad);
    out[2] = sin(lat * rad);
}
