/* zone_check.c: the rules a loaded zone must follow (SOA and NS at the apex, CNAME alone, one
 * DNAME, no geo name at a cut, DS only at a cut), the data dropped below a DNAME, and the warnings
 * about CNAME, NS and MX targets without data, in the zone and across a zone set. */
#include <stdio.h>
#include <string.h>

#include "dname.h"
#include "log.h"
#include "zone_loader.h"

bool zl_has_type(const pending_node_t *pn, uint16_t type)
{
    for (size_t i = 0; i < pn->nrrs; i++)
        if (pn->rrs[i].type == type)
            return true;
    return false;
}

int zl_check_apex(loader_t *L)
{
    pending_node_t *apex = zl_node_get(L, L->apex, L->apexlen, false);
    if (!apex || !zl_has_type(apex, DNS_TYPE_SOA))
        return zl_fail(L, NULL, "zone %s has no SOA record", L->apex_str);
    if (!zl_has_type(apex, DNS_TYPE_NS))
        return zl_fail(L, apex->at, "zone %s has no NS records at its apex", L->apex_str);
    return 0;
}

int zl_check_node(loader_t *L, const pending_node_t *pn)
{
    bool apex = pn->namelen == L->apexlen;
    bool has_cname = false, has_ns = false, has_other = false;
    size_t ncname = 0, ndname = 0;
    const yt_node_t *cname_at = NULL, *dname_at = NULL;
    for (size_t i = 0; i < pn->nrrs; i++) {
        uint16_t t = pn->rrs[i].type;
        if (t == DNS_TYPE_DNAME) {
            ndname++;
            dname_at = pn->rrs[i].at;
        }
        if (t == DNS_TYPE_CNAME) {
            has_cname = true;
            ncname++;
            cname_at = pn->rrs[i].at;
        } else if (t == DNS_TYPE_NS) {
            has_ns = true;
        } else if (t != DNS_TYPE_DS && t != DNS_TYPE_RRSIG && t != 47 /* NSEC */) {
            has_other = true;
        }
    }
    if (has_cname && apex)
        return zl_fail(L, cname_at, "a CNAME cannot be at the zone apex");
    if (has_cname && ndname)
        return zl_fail(L, cname_at, "a CNAME and a DNAME cannot stand at the same name");
    if (has_cname && (has_other || has_ns || pn->geo))
        return zl_fail(L, cname_at,
                       "a CNAME cannot stand next to other data at the same name (RFC 1034 3.6.2)");
    if (ncname > 1)
        return zl_fail(L, cname_at, "a name can have only one CNAME");
    if (pn->geo && apex)
        return zl_fail(L, pn->geo, "a geo name cannot be the zone apex");
    if (ndname > 1)
        return zl_fail(L, dname_at, "a name can have only one DNAME (RFC 6672 2.4)");
    /* Other data at a delegation point is occluded: it loads, serves as glue where it is and is
     * never answered (zone_lookup() stops at the cut). A geo name there would never answer. */
    if (has_ns && !apex && pn->geo)
        return zl_fail(L, pn->geo, "a geo name cannot be a delegation point (it has NS records)");
    if (!has_ns && !apex)
        for (size_t i = 0; i < pn->nrrs; i++)
            if (pn->rrs[i].type == DNS_TYPE_DS)
                return zl_fail(L, pn->rrs[i].at,
                               "a DS record needs a delegation (NS) at the same name");
    return 0;
}

/* RFC 6672 2.4: nothing may stand below a DNAME. Such data is dropped with a warning; the names
 * below the DNAME are answered by substitution. Each node looks at its ancestors: linear in the
 * number of names times their depth. */
void zl_drop_below_dname(loader_t *L)
{
    for (size_t i = 0; i < L->nnodes; i++) {
        pending_node_t *pn = L->list[i];
        size_t off = 0;
        while (pn->namelen - off > L->apexlen) {
            off += (size_t)pn->name[off] + 1;
            pending_node_t *up = zl_node_get(L, pn->name + off, pn->namelen - off, false);
            if (up && zl_has_type(up, DNS_TYPE_DNAME) && !zl_has_type(up, DNS_TYPE_NS)) {
                pn->dropped = true;
                if (pn->nrrs || pn->geo) {
                    char name[DNS_NAME_TEXT_MAX], dn[DNS_NAME_TEXT_MAX];
                    char msg[DNS_MAX_NAME * 4 + 80];
                    dns_name_to_str(pn->name, name, sizeof(name));
                    dns_name_to_str(up->name, dn, sizeof(dn));
                    snprintf(msg, sizeof(msg),
                             " is below the DNAME at %s and is ignored (RFC 6672 2.4)", dn);
                    zl_warn(pn->nrrs ? pn->rrs[0].at : pn->geo, msg, name);
                }
                break;
            }
        }
    }
}

/* Warn about CNAME, NS and MX targets inside the zone that have no data: the answer would lead
 * resolvers to NXDOMAIN or to a name server without an address. Load continues. */
void zl_warn_dangling_targets(const loader_t *L, const zone_t *z)
{
    for (size_t i = 0; i < L->nnodes; i++) {
        const pending_node_t *pn = L->list[i];
        if (pn->dropped)
            continue;
        for (size_t j = 0; j < pn->nrrs; j++) {
            const pending_rr_t *r = &pn->rrs[j];
            size_t skip;
            if (r->type == DNS_TYPE_CNAME || r->type == DNS_TYPE_NS)
                skip = 0;
            else if (r->type == DNS_TYPE_MX && r->rd.len > 2)
                skip = 2;
            else
                continue;
            uint8_t t[DNS_MAX_NAME], offs[DNS_MAX_LABELS];
            int tl = dns_name_len(r->rd.data + skip, r->rd.len - skip);
            if (tl < 0 || (r->type == DNS_TYPE_MX && tl == 1))
                continue; /* "MX 0 ." is a null MX (RFC 7505) */
            memcpy(t, r->rd.data + skip, (size_t)tl);
            dns_name_lower(t, (size_t)tl);
            if (!zl_name_below_or_at(t, (size_t)tl, L->apex, L->apexlen))
                continue;
            bool want_addr = r->type != DNS_TYPE_CNAME;
            const zone_node_t *n = zone_node_find(z, t, (size_t)tl);
            bool ok;
            if (n) {
                ok = n->geo || (want_addr ? zone_node_rrset(n, DNS_TYPE_A) ||
                                                zone_node_rrset(n, DNS_TYPE_AAAA) ||
                                                zone_node_rrset(n, DNS_TYPE_CNAME)
                                          : n->nrrsets > 0);
            } else {
                unsigned nl = zone_name_labels(t, offs);
                zone_match_t m = zone_lookup(z, t, (size_t)tl, offs, nl, DNS_TYPE_A, &n);
                ok = m != ZONE_MATCH_NXDOMAIN; /* a wildcard, a DNAME or another zone's data */
            }
            if (ok)
                continue;
            char name[DNS_NAME_TEXT_MAX], msg[DNS_MAX_NAME * 4 + 80];
            dns_name_to_str(t, name, sizeof(name));
            snprintf(msg, sizeof(msg), " (target of a %s record) has no %s in zone %s",
                     r->type == DNS_TYPE_CNAME ? "CNAME"
                     : r->type == DNS_TYPE_NS  ? "NS"
                                               : "MX",
                     want_addr ? "address (A/AAAA)" : "data", L->apex_str);
            zl_warn(r->at, msg, name);
        }
    }
}

/* Targets of CNAME, NS and MX records that another zone of the set serves (a child zone
 * included) and that have no data there; targets in their own zone were checked at load, with
 * their line. */
void zl_warn_cross_zone_targets(const zone_set_t *zs)
{
    for (size_t i = 0; i < zs->nzones; i++) {
        const zone_t *z = zs->zones[i];
        for (size_t ni = 0; ni < z->nnodes; ni++) { /* file order: warnings in that order */
            const zone_node_t *n = z->nodes[ni];
            for (unsigned k = 0; k < n->nrrsets; k++) {
                const zone_rrset_t *rs = &n->rrsets[k];
                size_t skip = rs->type == DNS_TYPE_MX ? 2 : 0;
                if (rs->type != DNS_TYPE_CNAME && rs->type != DNS_TYPE_NS &&
                    rs->type != DNS_TYPE_MX)
                    continue;
                for (unsigned r = 0; r < rs->count; r++) {
                    const dns_rdata_t *rd = &rs->rdata[r];
                    uint8_t t[DNS_MAX_NAME];
                    int tl = rd->len > skip ? dns_name_len(rd->data + skip, rd->len - skip) : -1;
                    if (tl <= 1)
                        continue;
                    memcpy(t, rd->data + skip, (size_t)tl);
                    dns_name_lower(t, (size_t)tl);
                    uint8_t offs[DNS_MAX_LABELS];
                    unsigned nl = zone_name_labels(t, offs);
                    const zone_t *tz = zone_set_find(zs, t, (size_t)tl, offs, nl);
                    if (!tz || tz == z ||
                        zone_set_target_ok(zs, t, (size_t)tl, rs->type != DNS_TYPE_CNAME))
                        continue;
                    char owner[DNS_NAME_TEXT_MAX], target[DNS_NAME_TEXT_MAX];
                    dns_name_to_str(n->name, owner, sizeof(owner));
                    dns_name_to_str(t, target, sizeof(target));
                    log_warn("%s: %s %s target %s has no %s in the zone we serve for it", z->file,
                             owner,
                             rs->type == DNS_TYPE_CNAME ? "CNAME"
                             : rs->type == DNS_TYPE_NS  ? "NS"
                                                        : "MX",
                             target, rs->type == DNS_TYPE_CNAME ? "data" : "address");
                }
            }
        }
    }
}
