/* zone_yaml.c: the YAML zone reader: zone name, ttl, soa, ns, records (owner: {TYPE: data}) and
 * transfer, with record data parsed from text by ldns, into the shared loader (zone_build.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dname.h"
#include "xfr.h"
#include "zone_loader.h"

/* Parse "@ <ttl> IN <type> <rdata>" with ldns and add it to node n. The owner is n's (the
 * loader takes the name from the node, not from the record): ldns reads an owner's text only up
 * to 255 characters, which a name written with \DDD escapes can pass. */
static int add_text_rr(loader_t *L, pending_node_t *n, uint16_t type, uint32_t ttl,
                       const char *rdata, const yt_node_t *at)
{
    if (strpbrk(rdata, "\n\r"))
        return zl_fail(L, at, "record data must be on one line");
    if (!*rdata)
        return zl_fail(L, at, "empty record data");
    char type_str[32];
    ldns_rr_type t = (ldns_rr_type)type;
    /* Addresses, and TXT data that is one quoted string without escapes, most of a big zone, go
     * straight in: tokenizing a whole record line for them was a third of the load time each.
     * Anything else takes the full path below, which also gives the errors. */
    ldns_rdf *af = NULL;
    size_t rl = strlen(rdata);
    uint8_t txt[256];
    if (type == DNS_TYPE_TXT && rl >= 2 && rl - 2 < sizeof(txt) && rdata[0] == '"' &&
        rdata[rl - 1] == '"' && !memchr(rdata + 1, '"', rl - 2) &&
        !memchr(rdata + 1, '\\', rl - 2)) {
        txt[0] = (uint8_t)(rl - 2);
        memcpy(txt + 1, rdata + 1, rl - 2);
        af = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, rl - 1, txt);
    }
    if (af || (type == DNS_TYPE_A && ldns_str2rdf_a(&af, rdata) == LDNS_STATUS_OK) ||
        (type == DNS_TYPE_AAAA && ldns_str2rdf_aaaa(&af, rdata) == LDNS_STATUS_OK)) {
        ldns_rr *ar = ldns_rr_new();
        int arc = -ENOMEM;
        if (ar && ldns_rr_push_rdf(ar, af))
            arc = zl_add_rr(L, n, type, ttl, ar, at);
        else
            ldns_rdf_deep_free(af);
        ldns_rr_free(ar);
        return arc;
    }
    char *ts = ldns_rr_type2str(t);
    snprintf(type_str, sizeof(type_str), "%s", ts ? ts : "TYPE0");
    free(ts);
    size_t linelen = strlen(rdata) + 64;
    char *line = malloc(linelen);
    if (!line)
        return -ENOMEM;
    snprintf(line, linelen, "@ %u IN %s %s", ttl, type_str, rdata);
    ldns_rr *rr = NULL;
    ldns_status st = ldns_rr_new_frm_str(&rr, line, ttl, L->origin, NULL);
    free(line);
    if (st != LDNS_STATUS_OK) {
        return zl_fail(L, at, "bad %s record data '%s': %s", type_str, rdata,
                       ldns_get_errorstr_by_id(st));
    }
    int rc = 0;
    if ((uint16_t)ldns_rr_get_type(rr) != type)
        rc = zl_fail(L, at, "record data '%s' does not parse as %s", rdata, type_str);
    else if (!(rc = zl_check_rdata_text(L, at, rdata, strlen(rdata), rr)))
        rc = zl_add_rr(L, n, type, ttl, rr, at);
    ldns_rr_free(rr);
    return rc;
}

/* Turn a relative or absolute name from the file into lower-case wire form inside the zone. */
static int owner_to_wire(loader_t *L, const yt_node_t *at, const char *s, uint8_t *out,
                         size_t *outlen)
{
    char abs[DNS_NAME_TEXT_MAX]; /* the absolute text: it holds any name's */
    size_t abslen = sizeof(abs);
    int w;
    if (!strcmp(s, "@")) {
        w = snprintf(abs, abslen, "%s", L->apex_str);
    } else {
        size_t sl = strlen(s);
        if (sl == 0 || strpbrk(s, " \t\n\r;()\"") || strstr(s, ".."))
            return zl_fail(L, at, "'%s' is not a valid owner name", s);
        if (s[sl - 1] == '.')
            w = snprintf(abs, abslen, "%s", s);
        else
            w = snprintf(abs, abslen, "%s.%s", s, L->apex_str);
    }
    /* Longer than any name's text: refused whole, never cut into another valid name. */
    if (w < 0 || (size_t)w >= abslen)
        return zl_fail(L, at, "'%.80s...' is longer than a domain name (255 bytes)", s);
    size_t len;
    if (dns_name_from_text(abs, out, &len))
        return zl_fail(L, at, "'%s' is not a valid domain name", s);
    dns_name_lower(out, len);
    *outlen = len;
    if (!zl_name_below_or_at(out, len, L->apex, L->apexlen))
        return zl_fail(L, at, "name '%s' is outside the zone %s", s, L->apex_str);
    return 0;
}

static int add_values(loader_t *L, pending_node_t *n, uint16_t type, uint32_t ttl,
                      const yt_node_t *v)
{
    if (v->kind == YT_SCALAR)
        return add_text_rr(L, n, type, ttl, v->str, v);
    if (v->kind == YT_SEQ) {
        if (v->n == 0)
            return zl_fail(L, v, "empty list of record data");
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != YT_SCALAR)
                return zl_fail(L, v->items[i],
                               "record data must be a value (quote it if it has special "
                               "characters)");
            int rc = add_text_rr(L, n, type, ttl, v->items[i]->str, v->items[i]);
            if (rc)
                return rc;
        }
        return 0;
    }
    /* {ttl: N, data: value-or-list} */
    static const char *const keys[] = {"ttl", "data", NULL};
    int rc = yt_map_check_keys(v, keys, "a record set", L->err, L->errlen);
    if (rc)
        return rc;
    const yt_node_t *t = yt_map_get(v, "ttl"), *d = yt_map_get(v, "data");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &ttl, L->err, L->errlen)))
        return rc;
    if (!d)
        return zl_fail(L, v, "record set without 'data'");
    if (d->kind == YT_MAP)
        return zl_fail(L, d, "'data' must be a value or a list of values");
    return add_values(L, n, type, ttl, d);
}

static int load_node(loader_t *L, const yt_node_t *key, const yt_node_t *val)
{
    uint8_t name[DNS_MAX_NAME];
    size_t namelen = 0;
    int rc = owner_to_wire(L, key, key->str, name, &namelen);
    if (rc)
        return rc;
    if (val->kind != YT_MAP)
        return zl_fail(L, val,
                       "records of '%s' must be a mapping of TYPE: data (e.g. {A: 192.0.2.1})",
                       key->str);
    pending_node_t *n = zl_node_ensure(L, name, namelen, key);
    if (!n)
        return -ENOMEM;
    uint32_t ttl = L->default_ttl;
    const yt_node_t *t = yt_map_get(val, "ttl");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &ttl, L->err, L->errlen)))
        return rc;
    for (size_t i = 0; i < val->n; i++) {
        const yt_node_t *k = val->items[2 * i], *v = val->items[2 * i + 1];
        if (!strcmp(k->str, "ttl"))
            continue;
        if (!strcmp(k->str, "geo")) {
            n->geo = v;
            continue;
        }
        char up[32];
        size_t kl = strlen(k->str);
        if (kl == 0 || kl >= sizeof(up))
            return zl_fail(L, k, "unknown record type '%s'", k->str);
        for (size_t j = 0; j <= kl; j++)
            up[j] = (char)((k->str[j] >= 'a' && k->str[j] <= 'z') ? k->str[j] - 32 : k->str[j]);
        if ((rc = zl_check_type_name(L, k, up, kl)))
            return rc;
        uint16_t type = (uint16_t)ldns_get_rr_type_by_name(up);
        if (type == 0)
            return zl_fail(L, k, "unknown record type '%s'", k->str);
        if (type == DNS_TYPE_SOA)
            return zl_fail(L, k, "the SOA is set with the zone's 'soa:' key");
        if (!zl_type_storable(type))
            return zl_fail(L, k, "'%s' is not a type that can be stored in a zone", k->str);
        if ((rc = add_values(L, n, type, ttl, v)))
            return rc;
    }
    return 0;
}

static int soa_build(loader_t *L, const yt_node_t *soa, const char *path)
{
    static const char *const keys[] = {"primary", "contact", "serial", "refresh", "retry",
                                       "expire",  "minimum", "ttl",    NULL};
    int rc = yt_map_check_keys(soa, keys, "soa", L->err, L->errlen);
    if (rc)
        return rc;
    const char *primary, *contact;
    const yt_node_t *p = yt_map_get(soa, "primary"), *c = yt_map_get(soa, "contact");
    if (!p)
        return zl_fail(L, soa, "soa needs 'primary' (the primary name server)");
    if (!c)
        return zl_fail(L, soa, "soa needs 'contact' (hostmaster address)");
    if ((rc = yt_get_str(p, &primary, L->err, L->errlen)) ||
        (rc = yt_get_str(c, &contact, L->err, L->errlen)))
        return rc;
    /* hostmaster@example.test -> hostmaster.example.test (dots in the local part escaped). */
    char mbox[600];
    const char *at = strchr(contact, '@');
    if (at) {
        size_t o = 0;
        for (const char *s = contact; s < at && o < sizeof(mbox) - 3; s++) {
            if (*s == '.')
                mbox[o++] = '\\';
            mbox[o++] = *s;
        }
        snprintf(mbox + o, sizeof(mbox) - o, ".%s%s", at + 1,
                 at[1] && contact[strlen(contact) - 1] != '.' ? "." : "");
    } else {
        snprintf(mbox, sizeof(mbox), "%s", contact);
    }
    struct stat st;
    uint32_t serial = 1;
    if (stat(path, &st) == 0 && st.st_mtime > 0)
        serial = (uint32_t)st.st_mtime; /* an edited file gets a higher serial */
    uint32_t refresh = 3600, retry = 600, expire = 604800, minimum = 60, ttl = L->default_ttl;
    struct {
        const char *k;
        uint32_t *v;
    } nums[] = {{"serial", &serial}, {"refresh", &refresh}, {"retry", &retry},
                {"expire", &expire}, {"minimum", &minimum}, {"ttl", &ttl}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        const yt_node_t *n = yt_map_get(soa, nums[i].k);
        if (n && (rc = yt_get_u32(n, 0, i == 0 ? 0xFFFFFFFFu : 0x7FFFFFFFu, nums[i].v, L->err,
                                  L->errlen)))
            return rc;
    }
    char rdata[1400];
    snprintf(rdata, sizeof(rdata), "%s %s %u %u %u %u %u", primary, mbox, serial, refresh, retry,
             expire, minimum);
    pending_node_t *apex = zl_node_ensure(L, L->apex, L->apexlen, NULL);
    if (!apex)
        return -ENOMEM;
    return add_text_rr(L, apex, DNS_TYPE_SOA, ttl, rdata, soa);
}

int zone_yaml_load(yt_doc_t *doc, const char *path, arena_t *arena, struct geo_ctx *geo,
                   zone_t **out, char *err, size_t errlen)
{
    loader_t L;
    const yt_node_t *root = yt_doc_root(doc);
    int rc = zl_init(&L, arena, path, err, errlen);
    if (rc)
        goto done;
    static const char *const keys[] = {"zone", "ttl", "soa", "ns", "records", "transfer", NULL};
    const char *zname;
    if ((rc = yt_map_check_keys(root, keys, "a zone file", err, errlen)))
        goto done;
    const yt_node_t *zn = yt_map_get(root, "zone");
    if (!zn) {
        rc = yt_fail(err, errlen, root, "missing 'zone:' (the zone's name)");
        goto done;
    }
    if ((rc = yt_get_str(zn, &zname, err, errlen)))
        goto done;
    {
        size_t zl = strlen(zname);
        char abs[DNS_NAME_TEXT_MAX];
        int w = snprintf(abs, sizeof(abs), "%s%s", zname, zl && zname[zl - 1] == '.' ? "" : ".");
        if (!zl || w < 0 || (size_t)w >= sizeof(abs) || strpbrk(zname, " \t;()\"@") ||
            ldns_str2rdf_dname(&L.origin, abs) != LDNS_STATUS_OK) {
            rc = yt_fail(err, errlen, zn, "'%.80s%s' is not a valid zone name", zname,
                         zl > 80 ? "..." : "");
            goto done;
        }
        zl_set_apex(&L, ldns_rdf_data(L.origin), ldns_rdf_size(L.origin));
    }
    L.default_ttl = 300;
    const yt_node_t *t = yt_map_get(root, "ttl");
    if (t && (rc = yt_get_u32(t, 0, 0x7FFFFFFF, &L.default_ttl, err, errlen)))
        goto done;
    const yt_node_t *soa = yt_map_get(root, "soa");
    if (!soa) {
        rc = yt_fail(err, errlen, root, "zone %s has no 'soa:'", L.apex_str);
        goto done;
    }
    if ((rc = soa_build(&L, soa, path)))
        goto done;
    const yt_node_t *ns = yt_map_get(root, "ns");
    if (!ns) {
        rc = yt_fail(err, errlen, root, "zone %s has no 'ns:' (its name servers)", L.apex_str);
        goto done;
    }
    {
        pending_node_t *apex = zl_node_ensure(&L, L.apex, L.apexlen, ns);
        if (!apex) {
            rc = -ENOMEM;
            goto done;
        }
        if ((rc = add_values(&L, apex, DNS_TYPE_NS, L.default_ttl, ns)))
            goto done;
    }
    const yt_node_t *recs = yt_map_get(root, "records");
    if (recs && !yt_is_null(recs)) {
        if (recs->kind != YT_MAP) {
            rc = yt_fail(err, errlen, recs, "'records' must be a mapping of name: {TYPE: data}");
            goto done;
        }
        for (size_t i = 0; i < recs->n; i++)
            if ((rc = load_node(&L, recs->items[2 * i], recs->items[2 * i + 1])))
                goto done;
    }
    zone_t *z;
    if ((rc = zl_assemble(&L, geo, &z)))
        goto done;
    {
        const yt_node_t *tn = yt_map_get(root, "transfer");
        if (tn && !yt_is_null(tn) && (rc = xfr_policy_parse(tn, arena, &z->xfr, err, errlen)))
            goto done;
    }
    *out = z;
    rc = 0;
done:
    zl_free(&L);
    yt_doc_free(doc);
    return rc;
}
