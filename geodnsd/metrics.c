/* metrics.c: counter labels and sums, the PoP slot table, and the Prometheus text exposition. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "wire.h"

#define SLOT_HASH_SIZE  (2 * METRICS_POP_SLOTS) /* open addressing, at most half full */
#define SLOT_OTHER      0
#define SLOT_OTHER_NAME "_other"

static const char *const qtype_names[METRICS_QTYPES] = {
    "A",   "AAAA", "CNAME", "NS", "SOA",    "MX",  "TXT",  "PTR",  "SRV",
    "CAA", "SVCB", "HTTPS", "DS", "DNSKEY", "ANY", "AXFR", "IXFR", "other"};
static const char *const rcode_names[METRICS_RCODES] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"};
static const char *const step_names[METRICS_STEPS] = {"pool",   "fallback-pool", "cname",
                                                      "nodata", "servfail",      "error"};
static const char *const loc_names[METRICS_LOCS] = {"ecs", "source", "source-ecs-unusable"};
static const char *const transport_names[METRICS_TRANSPORTS] = {"udp", "tcp"};

unsigned metrics_qtype_index(uint16_t qtype)
{
    switch (qtype) {
    case DNS_TYPE_A:
        return METRICS_QT_A;
    case DNS_TYPE_AAAA:
        return METRICS_QT_AAAA;
    case DNS_TYPE_CNAME:
        return METRICS_QT_CNAME;
    case DNS_TYPE_NS:
        return METRICS_QT_NS;
    case DNS_TYPE_SOA:
        return METRICS_QT_SOA;
    case DNS_TYPE_MX:
        return METRICS_QT_MX;
    case DNS_TYPE_TXT:
        return METRICS_QT_TXT;
    case DNS_TYPE_PTR:
        return METRICS_QT_PTR;
    case DNS_TYPE_SRV:
        return METRICS_QT_SRV;
    case DNS_TYPE_CAA:
        return METRICS_QT_CAA;
    case 64:
        return METRICS_QT_SVCB;
    case 65:
        return METRICS_QT_HTTPS;
    case DNS_TYPE_DS:
        return METRICS_QT_DS;
    case 48:
        return METRICS_QT_DNSKEY;
    case DNS_TYPE_ANY:
        return METRICS_QT_ANY;
    case DNS_TYPE_AXFR:
        return METRICS_QT_AXFR;
    case DNS_TYPE_IXFR:
        return METRICS_QT_IXFR;
    default:
        return METRICS_QT_OTHER;
    }
}

unsigned metrics_rcode_index(unsigned rcode)
{
    if (rcode <= DNS_RCODE_REFUSED)
        return rcode; /* NOERROR .. REFUSED are 0 .. 5 in both */
    return rcode == DNS_RCODE_BADVERS ? METRICS_RC_BADVERS : METRICS_RC_OTHER;
}

/* The struct is nothing but counters, so it is summed as one array. */
_Static_assert(sizeof(metrics_counters_t) % sizeof(metrics_ctr_t) == 0, "counters only");

void metrics_counters_add(metrics_counters_t *dst, const metrics_counters_t *src)
{
    metrics_ctr_t *d = (metrics_ctr_t *)dst;
    const metrics_ctr_t *s = (const metrics_ctr_t *)src;
    for (size_t i = 0; i < sizeof(*dst) / sizeof(metrics_ctr_t); i++)
        atomic_store_explicit(&d[i],
                              atomic_load_explicit(&d[i], memory_order_relaxed) +
                                  atomic_load_explicit(&s[i], memory_order_relaxed),
                              memory_order_relaxed);
}

/* ---- PoP slots ---- */

struct metrics_slots {
    size_t n;
    char name[METRICS_POP_SLOTS][POPS_NAME_MAX];
    int16_t hash[SLOT_HASH_SIZE]; /* slot + 1, 0 = empty */
};

metrics_slots_t *metrics_slots_new(void)
{
    metrics_slots_t *s = calloc(1, sizeof(*s));
    if (s) {
        strcpy(s->name[SLOT_OTHER], SLOT_OTHER_NAME);
        s->n = 1;
    }
    return s;
}

void metrics_slots_free(metrics_slots_t *s)
{
    free(s);
}

static uint16_t slot_find(metrics_slots_t *s, const char *name)
{
    uint32_t h = hash_fnv1a32_str(name);
    for (size_t i = h % SLOT_HASH_SIZE;; i = (i + 1) % SLOT_HASH_SIZE) {
        if (s->hash[i] == 0) {
            if (s->n == METRICS_POP_SLOTS)
                return SLOT_OTHER;
            snprintf(s->name[s->n], POPS_NAME_MAX, "%s", name);
            s->hash[i] = (int16_t)(s->n + 1);
            return (uint16_t)s->n++;
        }
        if (!strcmp(s->name[s->hash[i] - 1], name))
            return (uint16_t)(s->hash[i] - 1);
    }
}

void metrics_slots_map(metrics_slots_t *s, const pops_t *pops, uint16_t *slot)
{
    for (size_t i = 0; pops && i < pops->npops; i++)
        slot[i] = slot_find(s, pops->pop[i].name);
}

const char *metrics_slots_name(const metrics_slots_t *s, size_t slot)
{
    return slot < s->n ? s->name[slot] : "";
}

size_t metrics_slots_count(const metrics_slots_t *s)
{
    return s->n;
}

/* ---- Prometheus text ---- */

static void head(metrics_buf_t *b, const char *name, const char *type, const char *help)
{
    metrics_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1"[,k2="v2"]} value */
static void series(metrics_buf_t *b, const char *name, const char *k1, const char *v1,
                   const char *k2, const char *v2)
{
    metrics_buf_puts(b, name);
    if (k1) {
        metrics_buf_printf(b, "{%s=\"", k1);
        metrics_buf_label(b, v1);
        if (k2) {
            metrics_buf_printf(b, "\",%s=\"", k2);
            metrics_buf_label(b, v2);
        }
        metrics_buf_puts(b, "\"}");
    }
    metrics_buf_puts(b, " ");
}

static void series_u64(metrics_buf_t *b, const char *name, const char *k1, const char *v1,
                       const char *k2, const char *v2, uint64_t v)
{
    series(b, name, k1, v1, k2, v2);
    metrics_buf_printf(b, "%llu\n", (unsigned long long)v);
}

static void series_f(metrics_buf_t *b, const char *name, const char *k1, const char *v1,
                     const char *k2, const char *v2, double v)
{
    series(b, name, k1, v1, k2, v2);
    metrics_buf_printf(b, "%.6g\n", v);
}

static void render_queries(metrics_buf_t *b, const metrics_counters_t *c)
{
    head(b, "geodnsd_queries_total", "counter",
         "DNS queries answered, by transport, query type and response code.");
    for (int t = 0; t < METRICS_TRANSPORTS; t++)
        for (int q = 0; q < METRICS_QTYPES; q++)
            for (int r = 0; r < METRICS_RCODES; r++) {
                uint64_t v = metrics_get(&c->queries[t][q][r]);
                if (!v)
                    continue;
                metrics_buf_printf(b,
                                   "geodnsd_queries_total{transport=\"%s\",qtype=\"%s\","
                                   "rcode=\"%s\"} %llu\n",
                                   transport_names[t], qtype_names[q], rcode_names[r],
                                   (unsigned long long)v);
            }
    head(b, "geodnsd_queries_dropped_total", "counter",
         "Packets that got no reply (not a DNS query), by transport.");
    for (int t = 0; t < METRICS_TRANSPORTS; t++)
        series_u64(b, "geodnsd_queries_dropped_total", "transport", transport_names[t], NULL, NULL,
                   metrics_get(&c->dropped[t]));
    head(b, "geodnsd_responses_truncated_total", "counter",
         "UDP responses sent with TC set (the client retries over TCP).");
    series_u64(b, "geodnsd_responses_truncated_total", NULL, NULL, NULL, NULL,
               metrics_get(&c->truncated));
    head(b, "geodnsd_responses_mtu_truncated_total", "counter",
         "UDP responses larger than the outgoing link's MTU (sent with Don't Fragment), sent "
         "truncated (TC=1) instead; also counted in geodnsd_responses_truncated_total.");
    series_u64(b, "geodnsd_responses_mtu_truncated_total", NULL, NULL, NULL, NULL,
               metrics_get(&c->mtu_truncated));
    head(b, "geodnsd_rrl_dropped_total", "counter",
         "UDP responses not sent because their source was over its rate limit.");
    series_u64(b, "geodnsd_rrl_dropped_total", NULL, NULL, NULL, NULL,
               metrics_get(&c->rrl_dropped));
    head(b, "geodnsd_rrl_slipped_total", "counter",
         "Rate-limited UDP responses sent truncated (TC=1) so that real clients retry over TCP.");
    series_u64(b, "geodnsd_rrl_slipped_total", NULL, NULL, NULL, NULL,
               metrics_get(&c->rrl_slipped));
    head(b, "geodnsd_transfers_total", "counter",
         "Zone transfer requests (AXFR, IXFR) over TCP, by result: allowed or refused.");
    series_u64(b, "geodnsd_transfers_total", "result", "allowed", NULL, NULL,
               metrics_get(&c->transfers[1]));
    series_u64(b, "geodnsd_transfers_total", "result", "refused", NULL, NULL,
               metrics_get(&c->transfers[0]));
    head(b, "geodnsd_transfers_ended_total", "counter",
         "Whole-zone transfers that ended, by how: sent (all of it handed to the kernel) or "
         "cut_off (the connection closed first: the client left, stopped reading for "
         "tcp.idle_timeout, or made room at tcp.max_connections).");
    series_u64(b, "geodnsd_transfers_ended_total", "end", "sent", NULL, NULL,
               metrics_get(&c->transfers_ended[1]));
    series_u64(b, "geodnsd_transfers_ended_total", "end", "cut_off", NULL, NULL,
               metrics_get(&c->transfers_ended[0]));
    head(b, "geodnsd_transfer_bytes_total", "counter",
         "Bytes of whole-zone transfers handed to the kernel, those cut off included.");
    series_u64(b, "geodnsd_transfer_bytes_total", NULL, NULL, NULL, NULL,
               metrics_get(&c->transfer_bytes));
}

static void render_geo(metrics_buf_t *b, const metrics_facts_t *f)
{
    const metrics_counters_t *c = f->counters;
    head(b, "geodnsd_geo_steps_total", "counter",
         "Geo answers by the step of the fallback chain that answered.");
    for (int s = 0; s < METRICS_STEPS; s++)
        series_u64(b, "geodnsd_geo_steps_total", "step", step_names[s], NULL, NULL,
                   metrics_get(&c->steps[s]));
    head(b, "geodnsd_geo_overflow_total", "counter",
         "Geo answers given while every PoP of the answering step was past its high watermark.");
    series_u64(b, "geodnsd_geo_overflow_total", NULL, NULL, NULL, NULL, metrics_get(&c->overflow));
    head(b, "geodnsd_geo_shed_total", "counter",
         "Geo answers where the nearest PoP shed the client to another (capacity).");
    series_u64(b, "geodnsd_geo_shed_total", NULL, NULL, NULL, NULL, metrics_get(&c->shed));
    head(b, "geodnsd_geo_client_location_total", "counter",
         "Geo decisions by what located the client: ECS, the source address, or the source "
         "address because the ECS address was private or loopback.");
    for (int l = 0; l < METRICS_LOCS; l++)
        series_u64(b, "geodnsd_geo_client_location_total", "by", loc_names[l], NULL, NULL,
                   metrics_get(&c->located[l]));
    head(b, "geodnsd_geo_cache_total", "counter", "Geo answer cache lookups by result.");
    series_u64(b, "geodnsd_geo_cache_total", "result", "hit", NULL, NULL,
               metrics_get(&c->cache_hit));
    series_u64(b, "geodnsd_geo_cache_total", "result", "miss", NULL, NULL,
               metrics_get(&c->cache_miss));
    head(b, "geodnsd_pop_answers_total", "counter",
         "Geo answers naming the PoP (each PoP of a multi-PoP answer counts once).");
    /* Every PoP of the current config, then names only earlier configs had that answered. */
    bool *shown = calloc(METRICS_POP_SLOTS, sizeof(bool));
    for (size_t i = 0; f->pops && f->pop_slot && i < f->pops->npops; i++) {
        uint16_t s = f->pop_slot[i];
        if (shown && shown[s])
            continue;
        if (shown)
            shown[s] = true;
        series_u64(b, "geodnsd_pop_answers_total", "pop", metrics_slots_name(f->slots, s), NULL,
                   NULL, metrics_get(&c->pop_answers[s]));
    }
    for (size_t s = 0; f->slots && s < metrics_slots_count(f->slots); s++)
        if (!(shown && shown[s]) && metrics_get(&c->pop_answers[s]))
            series_u64(b, "geodnsd_pop_answers_total", "pop", metrics_slots_name(f->slots, s), NULL,
                       NULL, metrics_get(&c->pop_answers[s]));
    free(shown);
}

static void render_health(metrics_buf_t *b, const metrics_facts_t *f)
{
    const health_report_t *r = f->report;
    const pops_t *p = f->pops;
    head(b, "geodnsd_health_generation", "gauge",
         "Generation of the health snapshot in force (0 before the first).");
    series_u64(b, "geodnsd_health_generation", NULL, NULL, NULL, NULL, f->health_generation);
    head(b, "geodnsd_health_updates_total", "counter", "Health snapshots published.");
    series_u64(b, "geodnsd_health_updates_total", NULL, NULL, NULL, NULL, f->health_updates);
    if (!r || !p)
        return;
    size_t nfresh = 0;
    head(b, "geodnsd_health_vantage_fresh", "gauge",
         "Whether the vantage's state file is fresh (younger than health.max_age).");
    for (size_t v = 0; v < r->nfiles; v++) {
        /* Freshness is the file's: the combiner repeats it for every PoP. */
        bool fresh = p->npops > 0 && r->pop[0].vantage_fresh[v];
        nfresh += fresh;
        series_u64(b, "geodnsd_health_vantage_fresh", "vantage", r->vantage[v], NULL, NULL, fresh);
    }
    head(b, "geodnsd_health_vantages_fresh", "gauge", "Vantages with a fresh state file.");
    series_u64(b, "geodnsd_health_vantages_fresh", NULL, NULL, NULL, NULL, nfresh);
    head(b, "geodnsd_health_vantage_timestamp_seconds", "gauge",
         "When the vantage's last probe round finished (unix time, from its state file).");
    for (size_t v = 0; v < r->nfiles; v++)
        series_u64(b, "geodnsd_health_vantage_timestamp_seconds", "vantage", r->vantage[v], NULL,
                   NULL, (uint64_t)(r->file_time[v] > 0 ? r->file_time[v] : 0));
    head(b, "geodnsd_pop_vantage_up", "gauge",
         "The PoP's health as one vantage reports it, by the PoP's own addresses (1 up, 0 down); "
         "absent when the vantage reports none of them.");
    for (size_t i = 0; i < p->npops && i < POPS_MAX; i++)
        for (size_t v = 0; v < r->nfiles; v++)
            if (r->pop[i].vantage_state[v] != HEALTH_UNKNOWN)
                series_u64(b, "geodnsd_pop_vantage_up", "pop", p->pop[i].name, "vantage",
                           r->vantage[v], r->pop[i].vantage_state[v] == HEALTH_UP);
    head(b, "geodnsd_pop_up", "gauge",
         "The PoP's combined health (quorum of fresh vantages, overrides): 1 up, 0 down.");
    for (size_t i = 0; i < p->npops && i < POPS_MAX; i++)
        series_u64(b, "geodnsd_pop_up", "pop", p->pop[i].name, NULL, NULL,
                   r->pop[i].state == HEALTH_UP);
    head(b, "geodnsd_pop_load_ratio", "gauge",
         "The PoP's load over its capacity; absent without a load reading or a capacity.");
    for (size_t i = 0; i < p->npops && i < POPS_MAX; i++)
        if (r->pop[i].has_load && p->pop[i].capacity)
            series_f(b, "geodnsd_pop_load_ratio", "pop", p->pop[i].name, NULL, NULL,
                     r->pop[i].ratio);
    head(b, "geodnsd_pop_share_kept", "gauge",
         "Share of its own clients the PoP keeps (0..1): capacity, region, slow start, drain.");
    for (size_t i = 0; i < p->npops && i < POPS_MAX; i++)
        series_f(b, "geodnsd_pop_share_kept", "pop", p->pop[i].name, NULL, NULL, r->pop[i].keep);
    head(b, "geodnsd_pop_overridden", "gauge",
         "1 when the overrides file forces the PoP up, down or drains it.");
    for (size_t i = 0; i < p->npops && i < POPS_MAX; i++)
        series_u64(b, "geodnsd_pop_overridden", "pop", p->pop[i].name, NULL, NULL,
                   r->pop[i].override != NULL);
}

void metrics_prom_render(metrics_buf_t *b, const metrics_facts_t *f)
{
    head(b, "geodnsd_build_info", "gauge", "Always 1; the version is a label.");
    series_u64(b, "geodnsd_build_info", "version", f->version, NULL, NULL, 1);
    head(b, "geodnsd_start_time_seconds", "gauge", "When the process started (unix time).");
    series_u64(b, "geodnsd_start_time_seconds", NULL, NULL, NULL, NULL, (uint64_t)f->start_time);
    head(b, "geodnsd_config_generation", "gauge", "Generation of the config snapshot in force.");
    series_u64(b, "geodnsd_config_generation", NULL, NULL, NULL, NULL, f->config_generation);
    head(b, "geodnsd_config_reloads_total", "counter",
         "Config reloads by result; a failed one keeps the previous config serving.");
    series_u64(b, "geodnsd_config_reloads_total", "result", "ok", NULL, NULL, f->reloads_ok);
    series_u64(b, "geodnsd_config_reloads_total", "result", "failed", NULL, NULL,
               f->reloads_failed);
    head(b, "geodnsd_config_last_reload_successful", "gauge",
         "1 when the newest config load succeeded (the start-up load counts), 0 while the newest "
         "reload has failed and the previous config serves.");
    series_u64(b, "geodnsd_config_last_reload_successful", NULL, NULL, NULL, NULL,
               !f->last_reload_failed);
    head(b, "geodnsd_config_last_reload_success_timestamp_seconds", "gauge",
         "When the config in force was loaded (unix time; the start-up load counts).");
    series_u64(b, "geodnsd_config_last_reload_success_timestamp_seconds", NULL, NULL, NULL, NULL,
               (uint64_t)f->last_reload_ok);
    render_queries(b, f->counters);
    head(b, "geodnsd_transfers_in_progress", "gauge",
         "Whole-zone transfers being sent now, over all workers; at geodnsd_transfers_max the "
         "next one is answered SERVFAIL.");
    series_u64(b, "geodnsd_transfers_in_progress", NULL, NULL, NULL, NULL, f->transfers_held);
    head(b, "geodnsd_transfers_max", "gauge", "tcp.max_transfers of the config in force.");
    series_u64(b, "geodnsd_transfers_max", NULL, NULL, NULL, NULL, f->transfers_max);
    head(b, "geodnsd_status_connections_refused_total", "counter",
         "Connections to this listener closed at once: the peer is outside metrics.allow.");
    series_u64(b, "geodnsd_status_connections_refused_total", NULL, NULL, NULL, NULL,
               f->status_refused);
    render_geo(b, f);
    render_health(b, f);
}
