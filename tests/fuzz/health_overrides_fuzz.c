/* health_overrides_fuzz.c: libFuzzer target for the overrides file parser and the combiner that
 * applies the overrides (against a fixed PoP file and one state file). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char FUZZ_POPS[] =
    "pops:\n"
    "  fra: {location: [50.1, 8.7], addresses: [127.0.1.1, 127.0.1.2, \"fd00::1\"],\n"
    "        capacity: 1000, probe: {type: tcp, port: 80}}\n"
    "  nyc: {location: [40.7, -74.0], addresses: [127.0.2.1], capacity: 2000,\n"
    "        probe: {type: tcp, port: 80}}\n"
    "  sin: {location: [1.3, 103.8], addresses: [127.0.3.1]}\n"
    "regions:\n"
    "  eu: {pops: [fra, nyc], capacity: 2500}\n";

#define FUZZ_NOW 1800000000.0 /* 2027-01-15T08:00:00Z */

static const pops_t *fuzz_pops(void)
{
    static pops_t *pops;
    if (!pops) {
        char err[256];
        yt_doc_t *doc = NULL;
        if (yt_doc_load_buffer("pops.yaml", FUZZ_POPS, strlen(FUZZ_POPS), &doc, err, sizeof(err)) ||
            pops_parse(yt_doc_root(doc), &pops, err, sizeof(err)))
            __builtin_trap();
        yt_doc_free(doc);
    }
    return pops;
}

/* Every override must point at a PoP, and at an address the PoP has. */
static void fuzz_check(const pops_t *pops, const health_overrides_t *ov)
{
    for (size_t i = 0; i < ov->n; i++) {
        const health_override_t *o = &ov->o[i];
        if (o->pop < 0 || (size_t)o->pop >= pops->npops)
            __builtin_trap();
        const pops_pop_t *p = &pops->pop[o->pop];
        size_t n = o->family == AF_INET ? p->n4 : o->family == AF_INET6 ? p->n6 : 1;
        if (o->addr_index < 0 || (size_t)o->addr_index >= n)
            __builtin_trap();
        if (o->force == HEALTH_FORCE_DRAIN && (o->family || o->over < 1))
            __builtin_trap();
        if (memchr(o->reason, '\0', sizeof(o->reason)) == NULL)
            __builtin_trap();
    }
}

/* One state file: every address up, fra loaded. */
static void fuzz_file(health_file_t *hf, health_pop_t *hp, health_addr_t *ha, double time)
{
    memset(hf, 0, sizeof(*hf));
    memset(hp, 0, 2 * sizeof(*hp));
    memset(ha, 0, 2 * sizeof(*ha));
    hp[0].addrs = &ha[0];
    hp[1].addrs = &ha[1];
    hf->version = HEALTH_VERSION;
    strcpy(hf->vantage, "fuzz");
    hf->time = (int64_t)time;
    hf->npops = 2;
    hf->pops = hp;
    strcpy(hp[0].name, "fra");
    hp[0].has_load = true;
    hp[0].load = 900;
    strcpy(hp[1].name, "nyc");
    const uint8_t a0[4] = {127, 0, 1, 1}, a1[4] = {127, 0, 2, 1};
    hp[0].naddrs = hp[1].naddrs = 1;
    hp[0].state = hp[1].state = hp[0].addrs[0].state = hp[1].addrs[0].state = HEALTH_UP;
    hp[0].addrs[0].family = hp[1].addrs[0].family = AF_INET;
    memcpy(hp[0].addrs[0].addr, a0, 4);
    memcpy(hp[1].addrs[0].addr, a1, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const pops_t *pops = fuzz_pops();
    char err[512];
    yt_doc_t *doc = NULL;
    if (yt_doc_load_buffer("fuzz.yaml", (const char *)data, size, &doc, err, sizeof(err)))
        return 0;
    health_overrides_t *ov = NULL;
    if (health_overrides_parse(yt_doc_root(doc), pops, &ov, err, sizeof(err)) == 0) {
        fuzz_check(pops, ov);
        health_ctl_t *ctl = health_ctl_new();
        static route_health_t view;
        static health_report_t rep;
        static health_file_t hf;
        static health_pop_t hp[2];
        static health_addr_t ha[2];
        health_settings_t s;
        health_settings_default(&s);
        const health_file_t *files[1] = {&hf};
        /* Before, at and after every time the overrides name, with the file fresh each time. */
        double times[] = {FUZZ_NOW, 0, 0, 0};
        size_t nt = 1;
        for (size_t i = 0; i < ov->n && nt + 2 < sizeof(times) / sizeof(*times); i++)
            if (ov->o[i].until || ov->o[i].since) {
                double t = (double)(ov->o[i].until ? ov->o[i].until : ov->o[i].since);
                times[nt++] = t;
                times[nt++] = t + (double)ov->o[i].over / 2 + 1;
            }
        if (ctl) {
            for (size_t k = 0; k < nt; k++) {
                fuzz_file(&hf, hp, ha, times[k]);
                (void)health_ctl_update(ctl, pops, &s, files, 1, ov, times[k], &view, &rep);
                for (size_t i = 0; i < pops->npops; i++)
                    if ((!view.up[i] && view.keep[i]) || !memchr(rep.pop[i].why, '\0', 128))
                        __builtin_trap();
            }
            health_ctl_free(ctl);
        }
        health_overrides_free(ov);
    }
    yt_doc_free(doc);
    return 0;
}
