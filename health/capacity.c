/* capacity.c: the capacity controller: the shed share of a PoP or region from its load readings.
 *
 * Why not feed the observed ratio straight into the static curve: a share change reaches the
 * load only `lag` later (clients hold the old answer for the DNS TTL, and the next reading comes
 * a probe interval later). The curve's slope is 1 / (high - low), about 7 with 0.80 / 0.95, so a
 * direct loop with that delay swings from "shed everything" to "keep everything" and back.
 *
 * Instead the controller estimates the demand d behind a reading, as a ratio of capacity had
 * every client been kept: ratio = d x k, where k is the share that was in force when the clients
 * behind the reading resolved. It then targets the curve's fixed point for that demand, the share
 * k that satisfies k = 1 - s(d k). With r = d k inside the band, 1 - k = (d k - low) / (high -
 * low) gives k (high - low) + d k = high, so k* = high / (high - low + d); d k* lies between low
 * and high for every d > low, and k* = 1 when d <= low. At 0.80 / 0.95 a PoP observed at 0.90
 * while keeping 1/3 has d = 2.7 and k* = 0.95 / 2.85 = 1/3: the fixed point agrees with the
 * curve (s(0.90) = 2/3 shed).
 *
 * The lag is configured, not measured, and the true one varies (resolvers, TTL clamping, probe
 * timing). Dividing by the one share in force exactly `lag` ago is right only when the lag is
 * exact; off by a factor of two, each share change is mistaken for a demand change and the loop
 * oscillates (tests/unit/health/test_capacity.c shows both). So the reading is charged to every
 * share in force between lag / 2 and 2 lag before it: with shares kmin..kmax there, demand lies
 * in [ratio / kmax, ratio / kmin], and the estimate moves only as far as that interval forces it.
 * When the share was steady over the window the interval is a point and the estimate exact;
 * after a change the controller steers by its last estimate until the readings can tell again.
 *
 * Shedding applies at once; taking clients back is rate limited to a full share per lag, so a
 * return never outruns the readings that would show it to be too much. Past the high watermark
 * (the observed ratio, scaled to the share now in force, at or above high; at share 0 the
 * ratio itself) the share is 0: the PoP takes no new clients. A dead band ignores target moves
 * below HEALTH_CAP_DEAD_BAND. */
#include <math.h>

#include "health.h"

/* A smaller share in the estimate's divisor says nothing reliable about demand (a reading of a
 * PoP that kept almost nobody is mostly noise) and would blow the estimate up. */
#define HEALTH_CAP_KEEP_MIN 0.05
/* The true lag is assumed to lie within these multiples of the configured one. */
#define HEALTH_CAP_LAG_SHORT 0.5
#define HEALTH_CAP_LAG_LONG  2.0
/* Target moves smaller than this are ignored (hysteresis against reading noise). */
#define HEALTH_CAP_DEAD_BAND 0.01
#define HEALTH_CAP_RING      (sizeof(((health_cap_t *)0)->hist_t) / sizeof(double))

double health_shed_share(double ratio, const pops_watermarks_t *wm)
{
    if (!(ratio > wm->low)) /* also NaN */
        return 0;
    if (ratio >= wm->high)
        return 1;
    return (ratio - wm->low) / (wm->high - wm->low);
}

void health_cap_init(health_cap_t *c)
{
    *c = (health_cap_t){0};
    c->keep = 1;
    c->demand = 0;
    c->last_load_time = -INFINITY;
    c->last_step = -INFINITY;
}

/* The fixed point of k = 1 - s(d k) for demand d (see the top of the file). */
static double cap_target_for(double demand, const pops_watermarks_t *wm)
{
    if (demand <= wm->low)
        return 1;
    return wm->high / (wm->high - wm->low + demand);
}

/* Ring entry i counted from the oldest (0) to the newest (hist_n - 1). */
static unsigned cap_ring_slot(const health_cap_t *c, unsigned i)
{
    return (c->hist_head + HEALTH_CAP_RING - c->hist_n + i) % HEALTH_CAP_RING;
}

/* Record that the share became keep at time t. The ring holds change points: a share is in force
 * from its entry's time until the next entry's. */
static void cap_ring_push(health_cap_t *c, double t, double keep)
{
    c->hist_t[c->hist_head] = t;
    c->hist_k[c->hist_head] = keep;
    c->hist_head = (c->hist_head + 1) % HEALTH_CAP_RING;
    if (c->hist_n < HEALTH_CAP_RING)
        c->hist_n++;
}

/* The smallest and largest share in force over [from, to]. Before the oldest entry the oldest
 * known value stands in (the ring may not reach back that far); an empty ring means the share
 * never changed. */
static void cap_ring_range(const health_cap_t *c, double from, double to, double *kmin,
                           double *kmax)
{
    if (c->hist_n == 0) {
        *kmin = *kmax = c->keep;
        return;
    }
    /* The share in force at `from`: the newest entry not after it, else the oldest. */
    double start = c->hist_k[cap_ring_slot(c, 0)];
    unsigned i = 0;
    for (; i < c->hist_n; i++) {
        unsigned s = cap_ring_slot(c, i);
        if (c->hist_t[s] > from)
            break;
        start = c->hist_k[s];
    }
    *kmin = *kmax = start;
    for (; i < c->hist_n; i++) {
        unsigned s = cap_ring_slot(c, i);
        if (c->hist_t[s] > to)
            break;
        *kmin = fmin(*kmin, c->hist_k[s]);
        *kmax = fmax(*kmax, c->hist_k[s]);
    }
}

double health_cap_step(health_cap_t *c, double ratio, double load_time, double now,
                       const pops_watermarks_t *wm, double lag)
{
    if (!(load_time > c->last_load_time) || !isfinite(ratio))
        return c->keep;
    c->last_load_time = load_time;
    if (ratio < 0)
        ratio = 0;
    if (!(lag > 0))
        lag = 1; /* a zero lag would divide by zero in the rate limit: react within a second */

    /* Demand: project the last estimate onto what this reading allows. */
    double kmin, kmax;
    cap_ring_range(c, load_time - HEALTH_CAP_LAG_LONG * lag, load_time - HEALTH_CAP_LAG_SHORT * lag,
                   &kmin, &kmax);
    double lower = ratio / fmax(kmax, HEALTH_CAP_KEEP_MIN);
    if (c->demand < lower)
        c->demand = lower;
    /* The upper bound: from a share that kept almost nobody only when the load is low anyway
     * (below the low watermark): sticky viewers then make the estimate too high, never too low,
     * and without it a PoP that once shed nearly everyone could never learn that its demand
     * went away (its share would stay near zero with no load to show). */
    if (kmin > 0 && (kmin >= HEALTH_CAP_KEEP_MIN || ratio < wm->low) && c->demand > ratio / kmin)
        c->demand = ratio / kmin;

    /* Even the most favourable reading of the load puts the current share past high. At a share
     * of 0 that scaling reads 0, so there the reading itself decides: a PoP whose load is past
     * high takes no new client, whether the load is clients of an older, larger share still
     * draining or clients that do not follow DNS at all (players holding their connection). */
    bool full = c->keep > 0 ? ratio * c->keep / fmax(kmax, HEALTH_CAP_KEEP_MIN) >= wm->high
                            : ratio >= wm->high;
    double target = full ? 0 : cap_target_for(c->demand, wm);

    double dt = now - c->last_step;
    if (!(dt >= 0))
        dt = 0; /* first step, or a clock that went back */
    c->last_step = now;
    double keep = c->keep;
    /* The ends are always reachable; and from a share of 0 any positive target is: a target
     * within the dead band of 0 (a demand estimate past ~95x capacity) would otherwise leave the
     * share at 0 for good, with no reading ever able to lower the estimate again (the upper
     * bound needs a share above 0 in the window). */
    bool edge = target == 0 || target == 1 || (keep == 0 && target > 0);
    if (fabs(target - keep) >= HEALTH_CAP_DEAD_BAND || (edge && target != keep)) {
        if (target < keep)
            keep = target;
        else
            keep = fmin(target, keep + dt / lag);
    }
    if (keep != c->keep) {
        if (c->hist_n == 0) /* the share before the first change, in force since forever */
            cap_ring_push(c, -INFINITY, c->keep);
        c->keep = keep;
        cap_ring_push(c, now, keep);
    }
    return c->keep;
}
