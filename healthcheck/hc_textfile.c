/* hc_textfile.c: the facts of a state file in the Prometheus text format, for node-exporter's
 * textfile collector. */
#include <errno.h>
#include <stdio.h>

#include "hc_internal.h"

#define TEXTFILE_MS_PER_S 1000.0

/* A label value: backslash, double quote and newline escaped. */
static void textfile_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void textfile_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{vantage="v",pop="p"[,address="a"]} */
static void textfile_series(FILE *f, const char *name, const health_file_t *hf,
                            const health_pop_t *p, const health_addr_t *a)
{
    fprintf(f, "%s{vantage=\"", name);
    textfile_label(f, hf->vantage);
    if (p) {
        fputs("\",pop=\"", f);
        textfile_label(f, p->name);
    }
    if (a) {
        char text[HEALTH_ADDR_STRLEN];
        fprintf(f, "\",address=\"%s", health_addr_format(a, text));
    }
    fputs("\"} ", f);
}

typedef enum textfile_fact {
    FACT_UP = 0,
    FACT_RTT,
    FACT_PROBES,
    FACT_FAILURES,
} textfile_fact_t;

/* One series per address for fact; addresses without the fact are left out. */
static void textfile_addrs(FILE *f, const health_file_t *hf, const char *name, textfile_fact_t fact)
{
    for (size_t i = 0; i < hf->npops; i++) {
        const health_pop_t *p = &hf->pops[i];
        for (size_t k = 0; k < p->naddrs; k++) {
            const health_addr_t *a = &p->addrs[k];
            bool last_ok = a->nhistory > 0 && (a->history & 1u);
            if (fact == FACT_UP && a->state == HEALTH_UNKNOWN)
                continue;
            if (fact == FACT_RTT && (!last_ok || a->rtt_ms < 0))
                continue;
            textfile_series(f, name, hf, p, a);
            if (fact == FACT_UP)
                fprintf(f, "%d\n", a->state == HEALTH_UP);
            else if (fact == FACT_RTT)
                fprintf(f, "%.6f\n", a->rtt_ms / TEXTFILE_MS_PER_S);
            else
                fprintf(f, "%llu\n",
                        (unsigned long long)(fact == FACT_PROBES ? a->probes : a->failures));
        }
    }
}

static int textfile_write(FILE *f, const void *ctx)
{
    const health_file_t *hf = ctx;
    textfile_head(f, "geodns_health_up", "gauge",
                  "Whether this vantage finds the address up (1) or down (0), after anti-flap.");
    textfile_addrs(f, hf, "geodns_health_up", FACT_UP);
    textfile_head(f, "geodns_health_pop_up", "gauge",
                  "Whether this vantage finds the PoP up (any address up) or down (all down).");
    for (size_t i = 0; i < hf->npops; i++) {
        if (hf->pops[i].state == HEALTH_UNKNOWN)
            continue;
        textfile_series(f, "geodns_health_pop_up", hf, &hf->pops[i], NULL);
        fprintf(f, "%d\n", hf->pops[i].state == HEALTH_UP);
    }
    textfile_head(f, "geodns_health_rtt_seconds", "gauge",
                  "Round trip of the address's last probe, when it succeeded.");
    textfile_addrs(f, hf, "geodns_health_rtt_seconds", FACT_RTT);
    textfile_head(f, "geodns_health_load", "gauge",
                  "The PoP's load in the unit of its capacity, read from its status page.");
    for (size_t i = 0; i < hf->npops; i++) {
        if (!hf->pops[i].has_load)
            continue;
        textfile_series(f, "geodns_health_load", hf, &hf->pops[i], NULL);
        fprintf(f, "%.17g\n", hf->pops[i].load);
    }
    textfile_head(f, "geodns_health_probes_total", "counter",
                  "Probes of the address since its history began.");
    textfile_addrs(f, hf, "geodns_health_probes_total", FACT_PROBES);
    textfile_head(f, "geodns_health_failures_total", "counter",
                  "Failed probes of the address since its history began.");
    textfile_addrs(f, hf, "geodns_health_failures_total", FACT_FAILURES);
    textfile_head(f, "geodns_health_round_timestamp_seconds", "gauge",
                  "When the last round finished (unix time).");
    textfile_series(f, "geodns_health_round_timestamp_seconds", hf, NULL, NULL);
    fprintf(f, "%lld\n", (long long)hf->time);
    textfile_head(f, "geodns_health_round_duration_seconds", "gauge",
                  "How long the last round took.");
    textfile_series(f, "geodns_health_round_duration_seconds", hf, NULL, NULL);
    fprintf(f, "%.3f\n", hf->round_ms / TEXTFILE_MS_PER_S);
    return ferror(f) ? -EIO : 0;
}

int hc_textfile_save(const char *path, const health_file_t *hf, char *err, size_t errlen)
{
    return health_file_replace(path, textfile_write, hf, err, errlen);
}
