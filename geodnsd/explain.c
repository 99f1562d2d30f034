/* explain.c: `geodnsd explain`: why a client gets the answer it gets for a name. */
#include "explain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "addr.h"
#include "dname.h"
#include "georesp.h"
#include "healthwatch.h"
#include "snapshot.h"
#include "wire.h"

/* A query for name/type as a resolver sends it: EDNS (1232 bytes), with an ECS option of
 * the client's address cut to source_prefix bits when c->from_ecs is set. */
static size_t build_query(uint8_t *buf, size_t size, const uint8_t *qname, size_t qlen,
                          uint16_t qtype, const geo_client_t *c)
{
    dns_writer_t w;
    uint8_t ecs[8 + 16];
    size_t ecslen = 0;
    if (c->from_ecs)
        ecslen = dns_ecs_option(ecs, c->family == AF_INET ? 1 : 2, c->source_prefix, 0, c->addr);
    dns_writer_init(&w, buf, size, 0x4e58, 0);
    if (dns_writer_question_name(&w, qname, qlen, qtype) ||
        dns_writer_opt(&w, 1232, 0, false, ecs, ecslen))
        return 0;
    return dns_writer_finish(&w, 0, 0);
}

/* Per PoP: what health and capacity say, and why. */
/* What the server would log about the health dir (a state file left out, a directory it cannot
 * read): explain's view lacks the same input, so it says so. A running server goes on with the
 * last good version of a file it read before, which explain never saw. */
static void explain_warn(void *ctx, const char *msg)
{
    (void)ctx;
    printf("warning: %s\n", msg);
}

static void print_health(const pops_t *pops, const health_report_t *r, const route_health_t *v)
{
    printf("health: %s; %zu state file%s", r->mode ? r->mode : "-", r->nfiles,
           r->nfiles == 1 ? "" : "s");
    for (size_t f = 0; f < r->nfiles; f++)
        printf("%s%s", f ? ", " : " (", r->vantage[f]);
    printf("%s\n", r->nfiles ? ")" : "");
    for (size_t i = 0; i < pops->npops && i < POPS_MAX; i++) {
        const pops_pop_t *p = &pops->pop[i];
        const health_pop_report_t *pr = &r->pop[i];
        printf("  %-12s %-5s", p->name, v->up[i] ? "up" : "down");
        for (size_t f = 0; f < r->nfiles; f++)
            printf(" %s:%s%s", r->vantage[f], health_state_name(pr->vantage_state[f]),
                   pr->vantage_fresh[f]  ? ""
                   : r->vantage_ahead[f] ? "(ahead)"
                                         : "(stale)");
        if (p->capacity) {
            if (pr->has_load)
                printf(" load %.0f/%u (%.0f%%)", pr->load, p->capacity, pr->ratio * 100);
            else
                printf(" load unknown/%u", p->capacity);
        }
        printf(" keep %.0f%%", pr->keep * 100);
        if (pr->keep < 1) {
            printf(" (capacity %.0f%%, region %.0f%%, slow start %.0f%%, drain %.0f%%)",
                   pr->keep_capacity * 100, pr->keep_region * 100, pr->slow_start * 100,
                   pr->drain * 100);
        }
        printf("\n               %s\n", pr->why);
    }
}

/* The reply in dig's terms, without ldns's transport leftovers (server, time, size). */
static void print_reply(const uint8_t *buf, size_t len)
{
    ldns_pkt *p = NULL;
    if (ldns_wire2pkt(&p, buf, len) != LDNS_STATUS_OK) {
        printf("the reply does not parse (%zu bytes)\n", len);
        return;
    }
    ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, (int)ldns_pkt_get_rcode(p));
    printf("rcode %s, flags%s%s%s%s, %zu bytes\n", rc ? rc->name : "?", ldns_pkt_qr(p) ? " qr" : "",
           ldns_pkt_aa(p) ? " aa" : "", ldns_pkt_tc(p) ? " tc" : "", ldns_pkt_rd(p) ? " rd" : "",
           len);
    const char *names[] = {"answer", "authority", "additional"};
    ldns_rr_list *secs[] = {ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p)};
    for (size_t i = 0; i < 3; i++) {
        if (!ldns_rr_list_rr_count(secs[i]))
            continue;
        printf(";; %s\n", names[i]);
        ldns_rr_list_print(stdout, secs[i]);
    }
    if (ldns_pkt_edns(p)) {
        printf(";; EDNS: udp %u", (unsigned)ldns_pkt_edns_udp_size(p));
        /* The ECS scope, read from the raw option: ldns does not split options out. */
        ldns_rdf *opts = ldns_pkt_edns_data(p);
        const uint8_t *o = opts ? ldns_rdf_data(opts) : NULL;
        size_t ol = opts ? ldns_rdf_size(opts) : 0;
        for (size_t off = 0; o && off + 4 <= ol;) {
            unsigned code = (unsigned)(o[off] << 8 | o[off + 1]);
            unsigned l = (unsigned)(o[off + 2] << 8 | o[off + 3]);
            if (off + 4 + l > ol)
                break;
            if (code == 8 && l >= 4)
                printf(", ECS source /%u scope /%u", o[off + 6], o[off + 7]);
            off += 4 + l;
        }
        printf("\n");
    }
    ldns_pkt_free(p);
}

int explain_run(const char *config, const char *health_dir, const char *name, const char *client,
                const char *type)
{
    char err[1024];
    gd_snapshot_t *s = NULL;
    if (gd_snapshot_load(config, NULL, 1, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int ret = 1;
    route_table_t *tab = NULL;
    const route_health_t *shown = NULL; /* the health explained */
    uint8_t qname[DNS_MAX_NAME], offs[DNS_MAX_LABELS];
    size_t qlen;
    uint16_t qtype = type ? (uint16_t)ldns_get_rr_type_by_name(type) : DNS_TYPE_A;
    if (!qtype) {
        fprintf(stderr, "explain: unknown type '%s'\n", type);
        goto out;
    }
    if (dns_name_from_text(name, qname, &qlen)) {
        fprintf(stderr, "explain: '%s' is not a domain name\n", name);
        goto out;
    }
    dns_name_lower(qname, qlen);

    /* CLIENT_IP/PREFIX stands for an ECS option; a bare address for the packet source. */
    char addr_s[80];
    if ((size_t)snprintf(addr_s, sizeof(addr_s), "%s", client) >= sizeof(addr_s)) {
        fprintf(stderr, "explain: '%s' is not an IPv4 or IPv6 address\n", client);
        goto out;
    }
    char *slash = strchr(addr_s, '/');
    long prefix = -1;
    if (slash) {
        *slash = 0;
        char *end;
        prefix = strtol(slash + 1, &end, 10);
        /* Digits only: strtol alone takes "" as 0 and allows a blank or a sign first. */
        if (slash[1] < '0' || slash[1] > '9' || *end) {
            fprintf(stderr, "explain: bad prefix in '%s'\n", client);
            goto out;
        }
    }
    geo_client_t c = {0};
    struct sockaddr_storage ss = {0};
    if (addr_parse(addr_s, &c.family, c.addr)) {
        fprintf(stderr, "explain: '%s' is not an IPv4 or IPv6 address\n", addr_s);
        goto out;
    }
    if (c.family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
        v4->sin_family = AF_INET;
        memcpy(&v4->sin_addr, c.addr, 4);
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
        v6->sin6_family = AF_INET6;
        memcpy(&v6->sin6_addr, c.addr, 16);
    }
    unsigned maxp = c.family == AF_INET ? 32 : 128;
    if (prefix > (long)maxp) {
        fprintf(stderr, "explain: prefix /%ld is longer than %u\n", prefix, maxp);
        goto out;
    }
    if (prefix >= 0) {
        /* Clear host bits the way a resolver does before sending ECS. */
        for (unsigned b = (unsigned)prefix; b < maxp; b++)
            c.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
    }

    printf("query: %s %s\n", name, type ? type : "A");
    char pbuf[INET6_ADDRSTRLEN];
    inet_ntop(c.family, c.addr, pbuf, sizeof(pbuf));
    if (prefix >= 0)
        printf("client: %s/%ld from EDNS Client Subnet\n", pbuf, prefix);
    else
        printf("client: %s, the query's source address (no ECS)\n", pbuf);

    /* Health as it stands now: the same files and overrides the server reads. */
    static route_health_t view;
    static health_report_t report;
    if (s->geo) {
        /* The view the server computes (also without health input), and the merged tables it
         * builds for it, so that the answer and scope below are the server's. */
        bool configured = s->cfg.health_dir || s->cfg.overrides_path || health_dir;
        char herr[1024];
        if (gd_health_compute_once(s, health_dir, (double)time(NULL), explain_warn, NULL, &view,
                                   &report, herr, sizeof(herr)) &&
            configured)
            printf("warning: %s (explained without overrides)\n", herr);
        s->env.health = &view;
        shown = configured ? &view : NULL; /* without health input: no health columns */
        if (configured)
            print_health(s->geo->pops, &report, &view);
        else
            printf("health: no health dir or overrides configured: every PoP up, no capacity "
                   "control\n");
        if (geo_table_build(s->geo, &view, NULL, &tab, herr, sizeof(herr)))
            printf("warning: %s\n", herr);
        view.table = tab;
    }

    const zone_t *z = zone_set_find(&s->zones, qname, qlen, offs, zone_name_labels(qname, offs));
    const zone_node_t *node = NULL;
    if (!z) {
        printf("zone: none of the served zones contains %s (REFUSED)\n", name);
    } else {
        zone_match_t m =
            zone_lookup(z, qname, qlen, offs, zone_name_labels(qname, offs), qtype, &node);
        char zn[DNS_NAME_TEXT_MAX];
        dns_name_to_str(z->apex, zn, sizeof(zn));
        printf("zone: %s (%s)\n", zn, z->file);
        if ((m == ZONE_MATCH_EXACT || m == ZONE_MATCH_WILDCARD) && node->geo && s->geo) {
            geo_client_t gc = c;
            dns_query_t q = {.has_ecs = prefix > 0,
                             .ecs_source = (uint8_t)(prefix > 0 ? prefix : 0),
                             .ecs_family = c.family == AF_INET ? 1 : 2};
            memcpy(q.ecs_addr, c.addr, 16);
            georesp_client(&q, (struct sockaddr *)&ss, &gc);
            if (prefix > 0 && !gc.from_ecs)
                printf("note: the ECS address %s/%ld is private, loopback or reserved: it locates "
                       "nobody, so the server uses the query's source address instead\n",
                       pbuf, prefix);
            if (prefix == 0)
                printf("note: ECS source prefix 0: the client opted out; the source address "
                       "is used and the scope is 0\n");
            geoip_loc_t loc;
            const geoip_net_t *net = NULL;
            route_decision_t dec;
            int fam = node->geo->mode == ROUTE_MODE_CNAME ? 0
                      : qtype == DNS_TYPE_AAAA            ? AF_INET6
                                                          : AF_INET;
            georesp_decide(s->geo, NULL, shown, s->env.generation, node->geo, node->geo_id, &gc,
                           fam, &dec, &loc, &net);
            if (net)
                printf("located by: nets entry %s:%u (prefix /%u)\n", net->file, net->line,
                       net->prefix);
            else if (loc.found)
                printf("located by: mmdb, network /%u: %s%s%s, %s %s\n", loc.prefix,
                       loc.country[0] ? loc.country : "-", loc.subdivision[0] ? "-" : "",
                       loc.subdivision, loc.continent[0] ? "continent" : "",
                       loc.continent[0] ? loc.continent : "");
            else
                printf("located by: nothing (not in the mmdb%s): default location or pool "
                       "order\n",
                       s->geo->nets ? " nor the nets file" : "");
            route_client_t rc;
            route_client_from_loc(&rc, &loc);
            if (net && s->geo->net_nfixed[net->id]) {
                rc.fixed = s->geo->net_fixed[net->id];
                rc.nfixed = s->geo->net_nfixed[net->id];
            }
            rc.hash = route_client_hash(gc.family, gc.addr, gc.source_prefix);
            char text[16384];
            if (route_explain(
                    text, sizeof(text), node->geo, s->geo->pops, &rc, shown, fam,
                    gc.from_ecs ? gc.source_prefix : 0,
                    georesp_scope_prefix(s->geo, s->env.health, node->geo_id, &gc, fam, loc.prefix),
                    route_hash_prefix(gc.family, gc.addr, gc.source_prefix)) >= 0)
                fputs(text, stdout);
        } else if (node && node->geo) {
            printf("%s is a geo name but no PoP file is configured\n", name);
        } else {
            printf("%s is not a geo name: the answer is the same for every client (scope 0)\n",
                   name);
        }
    }

    /* The answer itself, from the same code the server runs. */
    uint8_t qbuf[600], rbuf[4096];
    geo_client_t qc = c;
    qc.from_ecs = prefix >= 0;
    qc.source_prefix = (uint8_t)(prefix > 0 ? prefix : 0);
    size_t ql = build_query(qbuf, sizeof(qbuf), qname, qlen, qtype, &qc);
    size_t rl = query_process(&s->env, qbuf, ql, rbuf, sizeof(rbuf), 0, (struct sockaddr *)&ss);
    if (rl) {
        printf("\nreply (as sent over UDP):\n");
        print_reply(rbuf, rl);
        ret = 0;
    } else {
        printf("no reply\n");
    }
out:
    route_table_free(tab);
    gd_snapshot_unref(s);
    return ret;
}
