/* load-time.c: the CPU time of one load of an input file through the code the programs run, for
 * bench/load-scale.sh; it covers the loaders that have no check mode of their own (health state
 * files, overrides, healthcheck's start of a round, a probed PoP's status JSON, segment-edge's
 * config) and geodnsd's server config (the code `geodnsd --check` runs, without its start-up).
 *
 *   load-time MIN config CONFIG          gd_snapshot_load: server config, PoPs, nets, zones
 *   load-time MIN health POPS STATE...   every state file read, then the combiner (geodnsd)
 *   load-time MIN overrides POPS FILE    the admin overrides file, against the PoP file
 *   load-time MIN hc-start POPS STATE    healthcheck before its first probe: the PoP file, its
 *                                        previous state file, each PoP's entry in it
 *   load-time MIN status FILE FIELD      the load figure read from a status JSON body
 *   load-time MIN edge FILE              segment-edge's config file
 *
 * Loads again and again until MIN seconds of CPU time have passed (at least once), and prints
 * "SECONDS LOADS": process CPU time (user + system) per load. Exits 1, with the loader's error on
 * stderr, when a load fails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge_config.h"
#include "hc_load.h"
#include "health.h"
#include "pops.h"
#include "snapshot.h"

#define LT_ERR_MAX  1024
#define LT_BODY_MAX (1u << 20) /* a status body read from a file (the prober reads 64 KiB) */

typedef struct lt_ctx {
    int argc;
    char **argv;
    pops_t *pops; /* loaded once, outside the timed part, where the kind reads it */
    char *body;   /* status: the file's bytes */
    size_t body_len;
    char err[LT_ERR_MAX];
} lt_ctx_t;

static int lt_config(lt_ctx_t *c)
{
    gd_snapshot_t *s = NULL;
    int rc = gd_snapshot_load(c->argv[0], NULL, 1, &s, c->err, sizeof(c->err));
    gd_snapshot_unref(s);
    return rc;
}

static int lt_health(lt_ctx_t *c)
{
    health_file_t *files[HEALTH_VANTAGES_MAX] = {0};
    size_t n = 0;
    int rc = 0;
    for (int i = 1; i < c->argc && n < HEALTH_VANTAGES_MAX && !rc; i++)
        if (!(rc = health_file_load(c->argv[i], &files[n], c->err, sizeof(c->err))))
            n++;
    health_ctl_t *ctl = rc ? NULL : health_ctl_new();
    static health_report_t report;
    route_health_t view;
    memset(&view, 0, sizeof(view));
    if (!rc && !ctl)
        rc = -ENOMEM;
    if (!rc) {
        health_settings_t hs;
        health_settings_default(&hs);
        (void)health_ctl_update(ctl, c->pops, &hs, (const health_file_t *const *)files, n, NULL,
                                (double)time(NULL), &view, &report);
    }
    health_ctl_free(ctl);
    for (size_t i = 0; i < n; i++)
        health_file_free(files[i]);
    return rc;
}

static int lt_overrides(lt_ctx_t *c)
{
    health_overrides_t *ov = NULL;
    int rc = health_overrides_load(c->argv[1], c->pops, &ov, c->err, sizeof(c->err));
    health_overrides_free(ov);
    return rc;
}

static int lt_hc_start(lt_ctx_t *c)
{
    pops_t *pops = NULL;
    health_file_t *prev = NULL;
    int rc = pops_load(c->argv[0], &pops, c->err, sizeof(c->err));
    if (!rc)
        rc = health_file_load(c->argv[1], &prev, c->err, sizeof(c->err));
    size_t found = 0;
    for (size_t i = 0; !rc && i < pops->npops; i++)
        found += health_file_pop(prev, pops->pop[i].name) != NULL;
    if (!rc && found != pops->npops) {
        snprintf(c->err, sizeof(c->err), "%s: %zu of %zu PoPs found", c->argv[1], found,
                 pops->npops);
        rc = -EINVAL;
    }
    health_file_free(prev);
    pops_free(pops);
    return rc;
}

static int lt_status(lt_ctx_t *c)
{
    double v;
    return hc_load_read("/status", c->body, c->body_len, c->argv[1], HEALTH_LOAD_MAX, &v, c->err,
                        sizeof(c->err));
}

static int lt_edge(lt_ctx_t *c)
{
    static edge_config_t cfg;
    edge_config_defaults(&cfg);
    return edge_config_load_file(&cfg, c->argv[0], c->err, sizeof(c->err));
}

static const struct lt_kind {
    const char *name;
    int args; /* at least */
    int (*load)(lt_ctx_t *c);
    bool pops_first; /* argv[0] is a PoP file loaded once, untimed */
} kinds[] = {
    {"config", 1, lt_config, false},      {"health", 2, lt_health, true},
    {"overrides", 2, lt_overrides, true}, {"hc-start", 2, lt_hc_start, false},
    {"status", 2, lt_status, false},      {"edge", 1, lt_edge, false},
};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_body(lt_ctx_t *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f || !(c->body = malloc(LT_BODY_MAX))) {
        if (f)
            fclose(f);
        return -1;
    }
    c->body_len = fread(c->body, 1, LT_BODY_MAX, f);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: load-time MIN_SECONDS KIND ARGS... (see bench/load-time.c)\n");
        return 2;
    }
    double min = strtod(argv[1], NULL);
    const struct lt_kind *k = NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i].name, argv[2]))
            k = &kinds[i];
    if (!(min >= 0) || !k || argc - 3 < k->args) {
        fprintf(stderr, "load-time: bad MIN_SECONDS, KIND or arguments (see bench/load-time.c)\n");
        return 2;
    }
    lt_ctx_t c = {.argc = argc - 3, .argv = argv + 3};
    if (k->pops_first && pops_load(c.argv[0], &c.pops, c.err, sizeof(c.err))) {
        fprintf(stderr, "%s\n", c.err);
        return 1;
    }
    if (k->load == lt_status && read_body(&c, c.argv[0])) {
        fprintf(stderr, "%s: %s\n", c.argv[0], strerror(errno));
        return 1;
    }
    double t0 = cpu_seconds(), t;
    long loads = 0;
    do {
        if (k->load(&c)) {
            fprintf(stderr, "%s\n", c.err);
            return 1;
        }
        loads++;
    } while ((t = cpu_seconds() - t0) < min);
    printf("%.9f %ld\n", t / (double)loads, loads);
    pops_free(c.pops);
    free(c.body);
    return 0;
}
