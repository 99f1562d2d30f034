/* combine.c: the combiner: vantages' state files, admin overrides and load readings into the
 * route_health_t view the router reads, with slow start, drain and the capacity controllers. */
#include <arpa/inet.h>
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hash.h"
#include "health.h"

#define CTL_SLOTS         4096 /* name index slots: a power of two, 4 x POPS_MAX */
#define CTL_SLOT_FREE     UINT16_MAX
#define SLOW_START_FLOOR  0.05   /* a PoP coming back takes this share at once */
#define WEIGHT_SCALE      1000.0 /* weight = headroom in capacity units x this */
#define WEIGHT_DEFAULT    1000   /* weight of every PoP when none has a capacity */
#define LOAD_PERMILLE     1000.0
#define LOAD_PERMILLE_MAX UINT16_MAX
#define CTL_TIME_TEXT     32 /* " until 2026-12-01T12:00:00Z" with room */

/* What the combiner remembers of a PoP, by name. name comes first (see ctl_index_build). */
typedef struct ctl_pop {
    char name[POPS_NAME_MAX];
    bool up;          /* last final state (probes, overrides, drain) */
    bool probe_up;    /* last state before overrides, for keep-last */
    int64_t changed;  /* when up last changed, 0 = never */
    double t_up;      /* start of the running slow start, -INFINITY = none */
    health_cap_t cap; /* the PoP's capacity controller */
    bool has_ratio;   /* ratio holds a reading */
    double ratio;     /* the last load reading / capacity */
    bool drain_on;    /* a drain is running: its identity and start follow */
    int64_t drain_since, drain_over;
    double drain_start;
    size_t n4, n6; /* the addresses last combined and their states before overrides */
    uint8_t v4[POPS_ADDRS_MAX][4], v6[POPS_ADDRS_MAX][16];
    uint16_t m4, m6;
} ctl_pop_t;

typedef struct ctl_region {
    char name[POPS_NAME_MAX];
    health_cap_t cap;
} ctl_region_t;

/* One PoP's evaluation in this update; r holds what the report shows. */
typedef struct ctl_eval {
    bool up;
    uint16_t m4, m6;
    double load_time; /* of r.load */
    health_pop_report_t r;
} ctl_eval_t;

struct health_ctl {
    bool started; /* a state file was seen */
    bool updated; /* health_ctl_update ran */
    route_health_t last;
    size_t npops, nregions;
    ctl_pop_t *pop, *pop_next;          /* this update's and the next's: pop_mem[0] and [1] */
    ctl_region_t *region, *region_next; /* the same for regions */
    uint16_t slot[CTL_SLOTS];
    const health_pop_t *fp[HEALTH_VANTAGES_MAX][POPS_MAX]; /* per file, per PoP */
    bool fresh[HEALTH_VANTAGES_MAX];
    ctl_eval_t ev[POPS_MAX]; /* this update's evaluations */
    ctl_pop_t pop_mem[2][POPS_MAX];
    ctl_region_t region_mem[2][POPS_REGIONS_MAX];
};

/* Override effects per PoP, gathered in one pass over the overrides. */
typedef struct ctl_force {
    const health_override_t *pop;
    uint16_t up4, down4, up6, down6;
} ctl_force_t;

/* ------------------------------------------------------------------ name index */

static uint32_t ctl_hash(const char *s)
{
    return hash_fnv1a32_str(s);
}

/* Index n records of stride bytes whose first member is a NUL-terminated name. */
static void ctl_index_build(uint16_t *slot, const void *base, size_t stride, size_t n)
{
    memset(slot, 0xff, CTL_SLOTS * sizeof(*slot));
    for (size_t i = 0; i < n; i++) {
        const char *name = (const char *)base + i * stride;
        uint32_t h = ctl_hash(name) & (CTL_SLOTS - 1);
        while (slot[h] != CTL_SLOT_FREE)
            h = (h + 1) & (CTL_SLOTS - 1);
        slot[h] = (uint16_t)i;
    }
}

static int ctl_index_find(const uint16_t *slot, const void *base, size_t stride, const char *name)
{
    for (uint32_t h = ctl_hash(name) & (CTL_SLOTS - 1); slot[h] != CTL_SLOT_FREE;
         h = (h + 1) & (CTL_SLOTS - 1))
        if (!strcmp((const char *)base + slot[h] * stride, name))
            return slot[h];
    return -1;
}

/* ------------------------------------------------------------------ lifetime */

health_ctl_t *health_ctl_new(void)
{
    health_ctl_t *ctl = calloc(1, sizeof(*ctl));
    if (!ctl)
        return NULL;
    ctl->pop = ctl->pop_mem[0];
    ctl->pop_next = ctl->pop_mem[1];
    ctl->region = ctl->region_mem[0];
    ctl->region_next = ctl->region_mem[1];
    return ctl;
}

void health_ctl_free(health_ctl_t *ctl)
{
    free(ctl);
}

void health_settings_default(health_settings_t *s)
{
    *s = (health_settings_t){.quorum = 1,
                             .max_age = 120,
                             .startup = HEALTH_ASSUME_UP,
                             .all_stale = HEALTH_KEEP_LAST,
                             .slow_start = 60,
                             .recent = 120,
                             .ttl_short = 10,
                             .lag = 60,
                             .spill = 3};
}

/* ------------------------------------------------------------------ helpers */

/* Set the why (add false) or append "; <text>" to it (add true), as far as it fits. */
static void ctl_why(ctl_eval_t *ev, bool add, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctl_why(ctl_eval_t *ev, bool add, const char *fmt, ...)
{
    size_t used = add ? strlen(ev->r.why) : 0;
    if (add && used + 2 < sizeof(ev->r.why)) {
        memcpy(ev->r.why + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->r.why + used, sizeof(ev->r.why) - used, fmt, ap);
    va_end(ap);
}

static uint16_t ctl_all_bits(size_t n)
{
    return (uint16_t)(n >= 16 ? 0xffffu : (1u << n) - 1);
}

static const char *ctl_policy_name(health_policy_t p)
{
    return p == HEALTH_ASSUME_DOWN ? "assume down"
           : p == HEALTH_KEEP_LAST ? "keep last"
                                   : "assume up";
}

/* ------------------------------------------------------------------ probes */

typedef struct ctl_votes {
    unsigned up, down;
} ctl_votes_t;

static bool ctl_votes_down(const ctl_votes_t *v, unsigned quorum)
{
    unsigned n = v->up + v->down, need = quorum < n ? quorum : n;
    return v->down > 0 && v->down >= need;
}

/* Per address of one family: bit set in *decided when a fresh vantage voted, in the result when
 * it is up. */
static uint16_t ctl_votes_bits(const ctl_votes_t *v, size_t n, unsigned quorum, uint16_t *decided)
{
    uint16_t up = 0;
    *decided = 0;
    for (size_t j = 0; j < n; j++)
        if (v[j].up + v[j].down) {
            *decided |= (uint16_t)(1u << j);
            up |= ctl_votes_down(&v[j], quorum) ? 0 : (uint16_t)(1u << j);
        }
    return up;
}

/* What a vantage's entry hp says about PoP p, by p's own addresses, as the quorum counts them: up
 * when it has one of them up, down when it has some and all are down, unknown when it has a state
 * for none of them (an entry written against an older PoP file, naming other addresses, has no
 * say). A PoP known by hostname only has no addresses: its entry's own state. */
static health_state_t ctl_entry_vote(const health_pop_t *hp, const pops_pop_t *p)
{
    if (p->n4 + p->n6 == 0)
        return hp->state;
    health_state_t vote = HEALTH_UNKNOWN;
    for (size_t k = 0; k < hp->naddrs && vote != HEALTH_UP; k++) {
        const health_addr_t *ha = &hp->addrs[k];
        if (ha->state != HEALTH_UNKNOWN && pops_addr_index(p, ha->family, ha->addr) >= 0)
            vote = ha->state;
    }
    return vote;
}

/* Combine the fresh vantages' votes for PoP i; returns false when no fresh vantage has decided
 * anything about it (the caller applies the keep-last or startup rule). */
static bool ctl_probe_combine(const health_ctl_t *ctl, size_t nf, size_t i, const pops_pop_t *p,
                              unsigned quorum, ctl_eval_t *ev)
{
    ctl_votes_t a4[POPS_ADDRS_MAX] = {{0}}, a6[POPS_ADDRS_MAX] = {{0}}, pop = {0};
    for (size_t f = 0; f < nf; f++) {
        const health_pop_t *hp = ctl->fp[f][i];
        if (!hp || !ctl->fresh[f])
            continue;
        health_state_t vote = ctl_entry_vote(hp, p);
        pop.up += vote == HEALTH_UP;
        pop.down += vote == HEALTH_DOWN;
        for (size_t k = 0; k < hp->naddrs; k++) {
            const health_addr_t *ha = &hp->addrs[k];
            if (ha->state == HEALTH_UNKNOWN)
                continue;
            int j = pops_addr_index(p, ha->family, ha->addr);
            if (j >= 0) {
                ctl_votes_t *v = ha->family == AF_INET ? &a4[j] : &a6[j];
                *(ha->state == HEALTH_UP ? &v->up : &v->down) += 1;
            }
        }
    }
    uint16_t dec4, dec6, up4 = ctl_votes_bits(a4, p->n4, quorum, &dec4),
                         up6 = ctl_votes_bits(a6, p->n6, quorum, &dec6);
    unsigned nv = pop.up + pop.down;
    if (p->n4 + p->n6 == 0) { /* a PoP known by hostname only: its PoP-level state votes */
        if (!nv)
            return false;
        ev->up = !ctl_votes_down(&pop, quorum);
    } else {
        if (!(dec4 | dec6))
            return false;
        ev->up = (up4 | up6) != 0;
    }
    /* Addresses no fresh vantage decided follow the PoP. */
    ev->m4 = ev->up ? (uint16_t)(up4 | (ctl_all_bits(p->n4) & ~dec4)) : 0;
    ev->m6 = ev->up ? (uint16_t)(up6 | (ctl_all_bits(p->n6) & ~dec6)) : 0;
    if (pop.down && (ev->up || ctl_votes_down(&pop, quorum)))
        ctl_why(ev, false, "%s: %u of %u fresh vantages say down (quorum %u)",
                ev->up ? "up" : "down", pop.down, nv, quorum);
    else if (!ev->up)
        ctl_why(ev, false, "down: every address is down (quorum %u)", quorum);
    else
        ctl_why(ev, false, "up: %u of %u fresh vantages say up", pop.up, nv);
    uint16_t gone4 = dec4 & ~up4, gone6 = dec6 & ~up6;
    if (ev->up && (gone4 | gone6)) {
        char text[INET6_ADDRSTRLEN];
        int j = gone4 ? __builtin_ctz(gone4) : __builtin_ctz(gone6);
        int n = __builtin_popcount(gone4) + __builtin_popcount(gone6);
        inet_ntop(gone4 ? AF_INET : AF_INET6, gone4 ? (const void *)p->v4[j] : p->v6[j], text,
                  sizeof(text));
        ctl_why(ev, true, "%d of %zu addresses withdrawn (%s%s)", n, p->n4 + p->n6, text,
                n > 1 ? ", ..." : "");
    }
    return true;
}

/* The last combined states of one family's addresses, matched by bytes (the PoP file may have
 * changed since); addresses not known then follow the PoP. */
static uint16_t ctl_keep_last_bits(const uint8_t *old, size_t nold, uint16_t mold,
                                   const uint8_t *cur, size_t ncur, size_t alen, bool pop_up)
{
    uint16_t m = 0;
    for (size_t j = 0; j < ncur; j++) {
        bool up = pop_up;
        for (size_t k = 0; k < nold; k++)
            if (!memcmp(old + k * alen, cur + j * alen, alen))
                up = mold >> k & 1;
        m |= up ? (uint16_t)(1u << j) : 0;
    }
    return m;
}

static void ctl_keep_last(const ctl_pop_t *e, const pops_pop_t *p, ctl_eval_t *ev)
{
    ev->up = e->probe_up;
    ev->m4 = ctl_keep_last_bits(e->v4[0], e->n4, e->m4, p->v4[0], p->n4, 4, e->probe_up);
    ev->m6 = ctl_keep_last_bits(e->v6[0], e->n6, e->m6, p->v6[0], p->n6, 16, e->probe_up);
}

/* The startup policy: keep-last means nothing before any file, so it reads as assume-up. */
static health_policy_t ctl_startup(const health_settings_t *s)
{
    return s->startup == HEALTH_ASSUME_DOWN ? HEALTH_ASSUME_DOWN : HEALTH_ASSUME_UP;
}

static void ctl_policy_apply(health_policy_t pol, const pops_pop_t *p, ctl_eval_t *ev)
{
    ev->up = pol != HEALTH_ASSUME_DOWN;
    ev->m4 = ev->up ? ctl_all_bits(p->n4) : 0;
    ev->m6 = ev->up ? ctl_all_bits(p->n6) : 0;
}

/* ------------------------------------------------------------------ overrides */

static void ctl_force_gather(const health_overrides_t *ov, const pops_t *pops, double now,
                             ctl_force_t *force)
{
    memset(force, 0, pops->npops * sizeof(*force));
    for (size_t k = 0; ov && k < ov->n; k++) {
        const health_override_t *o = &ov->o[k];
        if ((o->until && o->until <= now) || o->pop < 0 || (size_t)o->pop >= pops->npops)
            continue; /* expired, or parsed against another PoP file */
        const pops_pop_t *p = &pops->pop[o->pop];
        ctl_force_t *f = &force[o->pop];
        bool v4 = o->family == AF_INET;
        uint16_t *up = v4 ? &f->up4 : &f->up6, *down = v4 ? &f->down4 : &f->down6;
        if (!o->family)
            f->pop = o;
        else if (o->addr_index >= 0 && (size_t)o->addr_index < (v4 ? p->n4 : p->n6))
            *(o->force == HEALTH_FORCE_UP ? up : down) |= (uint16_t)(1u << o->addr_index);
    }
}

/* The drain factor for PoP e under override o (NULL: no drain), starting it when first seen. */
static double ctl_drain(ctl_pop_t *e, const health_override_t *o, double now)
{
    if (!o || o->force != HEALTH_FORCE_DRAIN) {
        e->drain_on = false;
        return 1;
    }
    if (!e->drain_on || e->drain_since != o->since || e->drain_over != o->over) {
        e->drain_on = true;
        e->drain_since = o->since;
        e->drain_over = o->over;
        e->drain_start = o->since ? (double)o->since : now;
    }
    double f = 1 - (now - e->drain_start) / (double)(o->over > 0 ? o->over : 1);
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

static void ctl_force_apply(const ctl_force_t *f, const pops_pop_t *p, ctl_eval_t *ev)
{
    const health_override_t *o = f->pop;
    char when[CTL_TIME_TEXT] = "";
    time_t until = o ? (time_t)o->until : 0;
    struct tm tm;
    if (until && gmtime_r(&until, &tm))
        strftime(when, sizeof(when), " until %Y-%m-%dT%H:%M:%SZ", &tm);
    bool had = ev->up;
    ev->m4 = (uint16_t)((ev->m4 | f->up4) & ~f->down4);
    ev->m6 = (uint16_t)((ev->m6 | f->up6) & ~f->down6);
    if (o && o->force == HEALTH_FORCE_DOWN) {
        ev->up = false;
        ev->m4 = ev->m6 = 0;
        ctl_why(ev, false, "down: override%s%s%s", when, o->reason[0] ? ": " : "", o->reason);
        return;
    }
    if (o && o->force == HEALTH_FORCE_UP) {
        ev->m4 = (uint16_t)(ctl_all_bits(p->n4) & ~f->down4);
        ev->m6 = (uint16_t)(ctl_all_bits(p->n6) & ~f->down6);
        ev->up = true;
        ctl_why(ev, false, "up: override%s%s%s (probes: %s)", when, o->reason[0] ? ": " : "",
                o->reason, had ? "up" : "down");
    }
    if (p->n4 + p->n6)
        ev->up = (ev->m4 | ev->m6) != 0;
    bool by_addr = f->up4 | f->down4 | f->up6 | f->down6;
    if (had && !ev->up)
        ctl_why(ev, false, "down: no address left after address overrides");
    else if (!had && ev->up && !o)
        ctl_why(ev, false, "up: address overrides (probes: down)");
    else if (by_addr)
        ctl_why(ev, true, "address overrides apply");
}

/* ------------------------------------------------------------------ update */

typedef enum ctl_mode {
    CTL_MODE_PROBES,  /* at least one fresh state file */
    CTL_MODE_STARTUP, /* no state file ever seen */
    CTL_MODE_STALE,   /* state files seen, none fresh now */
} ctl_mode_t;

/* One update's inputs and what is decided about them before the PoPs. */
typedef struct ctl_run {
    const pops_t *pops;
    const health_settings_t *s;
    const health_file_t *const *files;
    size_t nf; /* files used: at most HEALTH_VANTAGES_MAX */
    double now;
    ctl_mode_t mode;
    bool any_fresh;
    bool first;              /* the first update: PoPs seen now do not slow start */
    char age[CTL_TIME_TEXT]; /* the newest file's age, in words */
} ctl_run_t;

/* The mode in words for the report: static text, so that the report does not depend on ctl's
 * lifetime and stays the same from one update to the next (the age is in each PoP's why). */
static const char *ctl_mode_text(ctl_mode_t mode, const health_settings_t *s)
{
    if (mode == CTL_MODE_PROBES)
        return "probes";
    if (mode == CTL_MODE_STARTUP)
        return ctl_startup(s) == HEALTH_ASSUME_DOWN ? "startup: assume down" : "startup: assume up";
    return s->all_stale == HEALTH_ASSUME_DOWN ? "all stale: assume down"
           : s->all_stale == HEALTH_ASSUME_UP ? "all stale: assume up"
                                              : "all stale: keep last";
}

/* When hf's readings were taken: its own time, or when we first read it if that is earlier (a
 * vantage whose clock runs ahead). */
static double ctl_file_time(const health_file_t *hf)
{
    return hf->seen > 0 && hf->seen < hf->time ? (double)hf->seen : (double)hf->time;
}

/* Freshness of each file and the mode. A file dated more than max_age ahead is not fresh (its
 * vantage's clock is wrong); one dated ahead by less ages from when we first read it. */
static void ctl_mode_decide(health_ctl_t *ctl, ctl_run_t *run)
{
    double newest = -INFINITY;
    for (size_t f = 0; f < run->nf; f++) {
        const health_file_t *hf = run->files[f];
        double max_age = (double)run->s->max_age;
        ctl->fresh[f] =
            hf && (double)hf->time - run->now <= max_age && run->now - ctl_file_time(hf) <= max_age;
        run->any_fresh |= ctl->fresh[f];
        if (hf) {
            ctl->started = true;
            newest = fmax(newest, ctl_file_time(hf));
        }
    }
    snprintf(run->age, sizeof(run->age), "no state files");
    if (isfinite(newest))
        snprintf(run->age, sizeof(run->age), "newest file %.0f s old", run->now - newest);
    run->mode = !ctl->started    ? CTL_MODE_STARTUP
                : run->any_fresh ? CTL_MODE_PROBES
                                 : CTL_MODE_STALE;
}

/* Move what ctl knows into this update's PoP and region order, by name. known[i]: PoP i was in
 * the previous update. */
static void ctl_carry(health_ctl_t *ctl, const pops_t *pops, bool *known)
{
    ctl_index_build(ctl->slot, ctl->pop, sizeof(ctl_pop_t), ctl->npops);
    for (size_t i = 0; i < pops->npops; i++) {
        int k = ctl_index_find(ctl->slot, ctl->pop, sizeof(ctl_pop_t), pops->pop[i].name);
        ctl_pop_t *e = &ctl->pop_next[i];
        known[i] = k >= 0;
        if (k >= 0) {
            *e = ctl->pop[k];
            continue;
        }
        memset(e, 0, sizeof(*e));
        memcpy(e->name, pops->pop[i].name, sizeof(e->name));
        e->t_up = -INFINITY;
        health_cap_init(&e->cap);
    }
    ctl_pop_t *tp = ctl->pop;
    ctl->pop = ctl->pop_next;
    ctl->pop_next = tp;
    ctl->npops = pops->npops;

    ctl_index_build(ctl->slot, ctl->region, sizeof(ctl_region_t), ctl->nregions);
    for (size_t r = 0; r < pops->nregions; r++) {
        int k = ctl_index_find(ctl->slot, ctl->region, sizeof(ctl_region_t), pops->region[r].name);
        ctl_region_t *e = &ctl->region_next[r];
        if (k >= 0) {
            *e = ctl->region[k];
            continue;
        }
        memcpy(e->name, pops->region[r].name, sizeof(e->name));
        health_cap_init(&e->cap);
    }
    ctl_region_t *tr = ctl->region;
    ctl->region = ctl->region_next;
    ctl->region_next = tr;
    ctl->nregions = pops->nregions;
}

/* fp[f][i]: PoP i's entry in file f, or NULL. Linear in the files' PoPs. */
static void ctl_files_map(health_ctl_t *ctl, const ctl_run_t *run)
{
    const pops_t *pops = run->pops;
    ctl_index_build(ctl->slot, pops->pop, sizeof(pops_pop_t), pops->npops);
    for (size_t f = 0; f < run->nf; f++) {
        const health_file_t *hf = run->files[f];
        memset(ctl->fp[f], 0, pops->npops * sizeof(ctl->fp[f][0]));
        for (size_t j = 0; hf && j < hf->npops; j++) {
            int i = ctl_index_find(ctl->slot, pops->pop, sizeof(pops_pop_t), hf->pops[j].name);
            if (i >= 0 && !ctl->fp[f][i])
                ctl->fp[f][i] = &hf->pops[j];
        }
    }
}

/* The state of PoP i before overrides, by mode. */
static void ctl_state_eval(const health_ctl_t *ctl, const ctl_run_t *run, size_t i, bool known,
                           ctl_eval_t *ev)
{
    const health_settings_t *s = run->s;
    const pops_pop_t *p = &run->pops->pop[i];
    const ctl_pop_t *e = &ctl->pop[i];
    if (p->probe.kind == POPS_PROBE_NONE) {
        ctl_policy_apply(HEALTH_ASSUME_UP, p, ev);
        ctl_why(ev, false, "up: no probe configured");
    } else if (run->mode == CTL_MODE_STARTUP) {
        ctl_policy_apply(ctl_startup(s), p, ev);
        ctl_why(ev, false, "startup: %s", ctl_policy_name(ctl_startup(s)));
    } else if (run->mode == CTL_MODE_STALE) {
        if (s->all_stale == HEALTH_KEEP_LAST && known)
            ctl_keep_last(e, p, ev);
        else
            ctl_policy_apply(s->all_stale, p, ev);
        ctl_why(ev, false, "%s: all stale (%s): %s", ev->up ? "up" : "down", run->age,
                ctl_policy_name(s->all_stale));
    } else if (!ctl_probe_combine(ctl, run->nf, i, p, s->quorum ? s->quorum : 1, ev)) {
        if (known)
            ctl_keep_last(e, p, ev);
        else
            ctl_policy_apply(ctl_startup(s), p, ev);
        ctl_why(ev, false, "%s: no fresh vantage has a state for it (%s)", ev->up ? "up" : "down",
                known ? "keeping the last" : "startup policy");
    }
}

/* The final state's change time and slow start. Returns the slow start factor. */
static double ctl_transition(ctl_pop_t *e, const ctl_run_t *run, bool up, bool known)
{
    if (known && e->up != up)
        e->changed = (int64_t)run->now;
    /* A PoP coming back, or one added by a reload, ramps up; those of the first update do not. */
    if (up && (known ? !e->up : !run->first))
        e->t_up = run->now;
    if (!up)
        e->t_up = -INFINITY;
    e->up = up;
    if (!up || !isfinite(e->t_up) || run->s->slow_start <= 0)
        return 1;
    double x = (run->now - e->t_up) / (double)run->s->slow_start;
    if (x >= 1) {
        e->t_up = -INFINITY;
        return 1;
    }
    return x > SLOW_START_FLOOR ? x : SLOW_START_FLOOR;
}

/* PoP i's capacity share from its newest fresh load reading, or the previous share. */
static void ctl_capacity_eval(health_ctl_t *ctl, const ctl_run_t *run, size_t i, ctl_eval_t *ev)
{
    const pops_pop_t *p = &run->pops->pop[i];
    ctl_pop_t *e = &ctl->pop[i];
    for (size_t f = 0; f < run->nf; f++) {
        const health_pop_t *hp = ctl->fp[f][i];
        if (!hp || !ctl->fresh[f] || !hp->has_load || !isfinite(hp->load))
            continue;
        double t = ctl_file_time(run->files[f]);
        if (!ev->r.has_load || t > ev->load_time) {
            ev->r.has_load = true;
            ev->r.load = hp->load;
            ev->load_time = t;
        }
    }
    ev->r.keep_capacity = 1;
    ev->r.keep_region = 1;
    if (!p->capacity)
        return;
    if (ev->r.has_load) {
        e->ratio = ev->r.load / p->capacity;
        e->has_ratio = true;
        ev->r.keep_capacity = health_cap_step(&e->cap, e->ratio, ev->load_time, run->now, &p->wm,
                                              (double)run->s->lag);
    } else {
        ev->r.keep_capacity = e->cap.keep;
        if (ev->up && e->has_ratio)
            ctl_why(ev, true, "no fresh load: capacity share %.2f kept", ev->r.keep_capacity);
    }
}

/* PoP i: state, overrides, drain, slow start and capacity share (the region's comes later). */
static void ctl_pop_eval(health_ctl_t *ctl, const ctl_run_t *run, size_t i, bool known,
                         const ctl_force_t *force)
{
    const pops_pop_t *p = &run->pops->pop[i];
    ctl_pop_t *e = &ctl->pop[i];
    ctl_eval_t *v = &ctl->ev[i];
    memset(v, 0, sizeof(*v));
    ctl_state_eval(ctl, run, i, known, v);
    /* Remembered for keep-last: the state before overrides, with the addresses it is about. */
    e->probe_up = v->up;
    e->n4 = p->n4;
    e->n6 = p->n6;
    memcpy(e->v4, p->v4, sizeof(e->v4));
    memcpy(e->v6, p->v6, sizeof(e->v6));
    e->m4 = v->m4;
    e->m6 = v->m6;
    ctl_force_apply(force, p, v);
    const health_override_t *o = v->r.override = force->pop;
    v->r.drain = ctl_drain(e, o, run->now);
    if (v->up && v->r.drain <= 0) {
        v->up = false;
        v->m4 = v->m6 = 0;
        ctl_why(v, false, "down: drained%s%s", o->reason[0] ? ": " : "", o->reason);
    } else if (v->up && v->r.drain < 1) {
        ctl_why(v, true, "draining: %.0f%% of the share left%s%s", v->r.drain * 100,
                o->reason[0] ? ": " : "", o->reason);
    }
    v->r.slow_start = ctl_transition(e, run, v->up, known);
    ctl_capacity_eval(ctl, run, i, v);
}

/* A region's ratio is its PoPs' summed load over its capacity, when every PoP that is up has a
 * fresh reading (a PoP that is down and has none counts 0); else the previous share stands. */
static void ctl_regions_eval(health_ctl_t *ctl, const ctl_run_t *run)
{
    for (size_t r = 0; r < run->pops->nregions; r++) {
        const pops_region_t *rg = &run->pops->region[r];
        health_cap_t *c = &ctl->region[r].cap;
        double sum = 0, t = -INFINITY;
        bool complete = true;
        for (size_t j = 0; j < rg->n; j++) {
            const ctl_eval_t *m = &ctl->ev[rg->idx[j]];
            if (m->r.has_load) {
                sum += m->r.load;
                t = fmax(t, m->load_time);
            } else if (m->up) {
                complete = false;
            }
        }
        bool had = isfinite(c->last_load_time), step = complete && isfinite(t);
        double share =
            step ? health_cap_step(c, sum / rg->capacity, t, run->now, &rg->wm, (double)run->s->lag)
                 : c->keep;
        for (size_t j = 0; j < rg->n; j++) {
            ctl_eval_t *m = &ctl->ev[rg->idx[j]];
            m->r.keep_region = share;
            if (!complete && m->up && had)
                ctl_why(m, true, "region %s: incomplete load, share %.2f kept", rg->name, share);
        }
    }
}

/* The view from the evaluations: kept shares, load, address masks, short TTLs, and weights:
 * headroom in capacity units for PoPs with a capacity, their average for the others. */
static void ctl_view_fill(health_ctl_t *ctl, const ctl_run_t *run, route_health_t *view)
{
    const pops_t *pops = run->pops;
    memset(view, 0, sizeof(*view));
    view->ttl_short = run->s->ttl_short;
    view->spill = run->s->spill;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < pops->npops; i++) {
        const pops_pop_t *p = &pops->pop[i];
        const ctl_pop_t *e = &ctl->pop[i];
        health_pop_report_t *r = &ctl->ev[i].r;
        bool up = ctl->ev[i].up;
        r->keep =
            up ? fmin(fmin(r->keep_capacity, r->keep_region), fmin(r->slow_start, r->drain)) : 0;
        double ratio = e->has_ratio ? e->ratio : 0, permille = ratio * LOAD_PERMILLE;
        view->up[i] = up;
        view->keep[i] = (uint16_t)lround(r->keep * ROUTE_SHARE_ONE);
        view->load[i] =
            permille >= LOAD_PERMILLE_MAX ? LOAD_PERMILLE_MAX : (uint16_t)lround(permille);
        view->addr4[i] = ctl->ev[i].m4;
        view->addr6[i] = ctl->ev[i].m6;
        bool recent = e->changed && run->now - (double)e->changed < (double)run->s->recent;
        view->short_ttl[i] = (up && view->keep[i] < ROUTE_SHARE_ONE) || recent;
        if (!up || !p->capacity)
            continue;
        double head = p->wm.high - ratio, w = 0;
        if (r->keep_capacity > 0 && r->keep_region > 0 && head > 0)
            w = head * p->capacity * fmin(r->slow_start, r->drain) * WEIGHT_SCALE;
        view->weight[i] = w >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)lround(w);
        sum += view->weight[i];
        n++;
    }
    double avg = n ? sum / (double)n : WEIGHT_DEFAULT;
    for (size_t i = 0; i < pops->npops; i++) {
        const health_pop_report_t *r = &ctl->ev[i].r;
        if (ctl->ev[i].up && !pops->pop[i].capacity)
            view->weight[i] = (uint32_t)lround(avg * fmin(r->slow_start, r->drain));
    }
}

static void ctl_report_fill(const health_ctl_t *ctl, const ctl_run_t *run, health_report_t *rep)
{
    rep->nfiles = run->nf;
    rep->any_fresh = run->any_fresh;
    rep->started = ctl->started;
    rep->mode = ctl_mode_text(run->mode, run->s);
    for (size_t f = 0; f < run->nf; f++) {
        const health_file_t *hf = run->files[f];
        snprintf(rep->vantage[f], sizeof(rep->vantage[f]), "%s", hf ? hf->vantage : "");
        rep->file_time[f] = hf ? hf->time : 0;
        rep->vantage_ahead[f] = hf && (double)hf->time - run->now > (double)run->s->max_age;
    }
    for (size_t i = 0; i < run->pops->npops; i++) {
        health_pop_report_t *r = &rep->pop[i];
        *r = ctl->ev[i].r;
        for (size_t f = 0; f < run->nf; f++) {
            const health_pop_t *hp = ctl->fp[f][i];
            r->vantage_state[f] = hp ? ctl_entry_vote(hp, &run->pops->pop[i]) : HEALTH_UNKNOWN;
            r->vantage_fresh[f] = ctl->fresh[f];
        }
        r->state = ctl->ev[i].up ? HEALTH_UP : HEALTH_DOWN;
        r->ratio = run->pops->pop[i].capacity && ctl->pop[i].has_ratio ? ctl->pop[i].ratio : 0;
        r->changed = ctl->pop[i].changed;
    }
}

bool health_ctl_update(health_ctl_t *ctl, const pops_t *pops, const health_settings_t *s,
                       const health_file_t *const *files, size_t nfiles,
                       const health_overrides_t *ov, double now, route_health_t *view,
                       health_report_t *report)
{
    static_assert(POPS_MAX <= CTL_SLOTS / 2, "the name index needs free slots");
    ctl_run_t run = {.pops = pops,
                     .s = s,
                     .files = files,
                     .nf = nfiles < HEALTH_VANTAGES_MAX ? nfiles : HEALTH_VANTAGES_MAX,
                     .now = now,
                     .first = !ctl->updated};
    bool known[POPS_MAX];
    ctl_force_t force[POPS_MAX];
    ctl_mode_decide(ctl, &run);
    ctl_carry(ctl, pops, known);
    ctl_files_map(ctl, &run);
    ctl_force_gather(ov, pops, now, force);
    for (size_t i = 0; i < pops->npops; i++)
        ctl_pop_eval(ctl, &run, i, known[i], &force[i]);
    ctl_regions_eval(ctl, &run);
    ctl_view_fill(ctl, &run, view);
    if (report)
        ctl_report_fill(ctl, &run, report);

    bool changed = !ctl->updated || memcmp(view, &ctl->last, sizeof(*view)) != 0;
    ctl->last = *view;
    ctl->updated = true;
    return changed;
}
