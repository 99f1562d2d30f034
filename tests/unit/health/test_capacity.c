/* test_capacity.c: the shed curve, the capacity controller's steps, and a simulated PoP and
 * region whose load follows the share a lag late: settling, band, swing and the way back. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "health.h"

#define EPS 1e-9

/* The simulation: readings every SIM_STEP seconds; demand in phases of SIM_PHASE seconds. */
#define SIM_STEP                 10   /* seconds */
#define SIM_PHASE                1800 /* seconds */
#define SIM_PHASES               4
#define SIM_PHASE_STEPS          (SIM_PHASE / SIM_STEP)
#define SIM_STEPS                (SIM_PHASES * SIM_PHASE_STEPS)
#define SIM_LAG                  40.0 /* the configured lag */
#define SIM_NOISE                0.01 /* +-1% deterministic reading noise */
#define SIM_TAIL                 30 /* steps at a phase's end over which the share must not swing */
#define SWING_MAX                0.03 /* allowed max - min of the share over the tail */
#define REVERSAL_MAX             2    /* allowed direction changes of the share over the tail */
#define SETTLE_LAGS              6.0  /* settling within this many (longest) lags */
#define RETURN_LAGS              4.0  /* back to keeping everyone within this many (longest) lags */
#define HEALTH_CAP_TEST_KEEP_MIN 0.05 /* health_cap_step's floor of the share in its estimate */
#define POINT_KEEP_MIN           0.05 /* the point estimate's floor and dead band, as health_cap_step's */
#define POINT_DEAD_BAND          0.01

static const pops_watermarks_t WM = {0.80, 0.95};
#define HEALTH_TEST_TINY_SHARE 0.05 /* below the controller's reliable-divisor floor */

/* Demand as a ratio of capacity: 50%, then 130%, 200%, and back to 60%. */
static const double PHASE_DEMAND[SIM_PHASES] = {0.5, 1.3, 2.0, 0.6};

typedef struct sim_trace {
    double t[SIM_STEPS], demand[SIM_STEPS], ratio[SIM_STEPS], keep[SIM_STEPS];
} sim_trace_t;

/* A controller under test: health_cap_step, or the point estimate below for comparison. tr
 * holds steps [0, i). */
typedef double (*sim_step_fn)(health_cap_t *c, const sim_trace_t *tr, int i, double ratio, double t,
                              double lag);

static double sim_demand(double t, const double *phases)
{
    int p = t < 0 ? 0 : (int)(t / SIM_PHASE);
    return phases[p < SIM_PHASES ? p : SIM_PHASES - 1];
}

/* Deterministic noise in [-1, 1]: a fixed irrational rotation, no libc random. */
static double sim_noise(int i)
{
    double x = sin(i * 12.9898) * 43758.5453;
    return 2 * (x - floor(x)) - 1;
}

/* The share in force at time t, from the steps taken so far (1 before the first). */
static double sim_keep_at(const sim_trace_t *tr, int n, double t)
{
    double k = 1;
    for (int i = 0; i < n && tr->t[i] <= t + EPS; i++)
        k = tr->keep[i];
    return k;
}

static double sim_step_real(health_cap_t *c, const sim_trace_t *tr, int i, double ratio, double t,
                            double lag)
{
    (void)tr;
    (void)i;
    return health_cap_step(c, ratio, t, t, &WM, lag);
}

/* The point estimate: demand from the one share in force exactly `lag` before the reading, held
 * when that share was near zero; otherwise the same target, rate limit and dead band. */
static double sim_step_point(health_cap_t *c, const sim_trace_t *tr, int i, double ratio, double t,
                             double lag)
{
    double k_eff = sim_keep_at(tr, i, t - lag);
    if (k_eff >= POINT_KEEP_MIN)
        c->demand = ratio / k_eff;
    double target = ratio >= WM.high      ? 0
                    : c->demand <= WM.low ? 1
                                          : WM.high / (WM.high - WM.low + c->demand);
    double dt = i ? t - c->last_step : 0, keep = c->keep;
    c->last_step = t;
    if (fabs(target - keep) >= POINT_DEAD_BAND || ((target == 0 || target == 1) && target != keep))
        keep = target < keep ? target : fmin(target, keep + dt / lag);
    return c->keep = keep;
}

/* Run one PoP: the load reported at t is D(t - lag_true) x keep(t - lag_true), with noise. */
static void sim_run(sim_trace_t *tr, sim_step_fn step, double lag_true, double lag,
                    const double *phases)
{
    health_cap_t c;
    health_cap_init(&c);
    for (int i = 0; i < SIM_STEPS; i++) {
        double t = (double)i * SIM_STEP, past = t - lag_true;
        double ratio =
            sim_demand(past, phases) * sim_keep_at(tr, i, past) * (1 + SIM_NOISE * sim_noise(i));
        tr->t[i] = t;
        tr->demand[i] = sim_demand(t, phases);
        tr->ratio[i] = ratio;
        tr->keep[i] = step(&c, tr, i, ratio, t, lag);
    }
}

typedef struct sim_phase_stats {
    double settle;     /* seconds from the phase start until the ratio stays in the band */
    double tmin, tmax; /* ratio over the phase's first half (the transient) */
    double rmin, rmax; /* ratio over the phase's second half */
    double swing;      /* max - min share over the tail */
    int reversals;     /* direction changes of the share over the tail */
    double back;       /* seconds until the share is 1 again (-1: never) */
} sim_phase_stats_t;

static void sim_phase_measure(const sim_trace_t *tr, int phase, sim_phase_stats_t *st)
{
    int a = phase * SIM_PHASE_STEPS, b = (phase + 1) * SIM_PHASE_STEPS;
    double start = tr->t[a];
    st->settle = 0;
    for (int i = a; i < b; i++)
        if (tr->ratio[i] < WM.low - SIM_NOISE || tr->ratio[i] > WM.high)
            st->settle = tr->t[i] + SIM_STEP - start;
    st->tmin = st->rmin = INFINITY;
    st->tmax = st->rmax = -INFINITY;
    for (int i = a; i < (a + b) / 2; i++) {
        st->tmin = fmin(st->tmin, tr->ratio[i]);
        st->tmax = fmax(st->tmax, tr->ratio[i]);
    }
    for (int i = (a + b) / 2; i < b; i++) {
        st->rmin = fmin(st->rmin, tr->ratio[i]);
        st->rmax = fmax(st->rmax, tr->ratio[i]);
    }
    double kmin = INFINITY, kmax = -INFINITY;
    int last_dir = 0;
    st->reversals = 0;
    for (int i = b - SIM_TAIL; i < b; i++) {
        kmin = fmin(kmin, tr->keep[i]);
        kmax = fmax(kmax, tr->keep[i]);
        double d = tr->keep[i] - tr->keep[i - 1];
        int dir = d > EPS ? 1 : d < -EPS ? -1 : 0;
        if (dir && last_dir && dir != last_dir)
            st->reversals++;
        if (dir)
            last_dir = dir;
    }
    st->swing = kmax - kmin;
    st->back = -1;
    for (int i = a; i < b; i++)
        if (tr->keep[i] >= 1 && st->back < 0)
            st->back = tr->t[i] - start;
        else if (tr->keep[i] < 1)
            st->back = -1;
}

/* Run the four phases and check every property the controller promises. */
static void sim_check(const char *label, double lag_true)
{
    static sim_trace_t tr;
    sim_run(&tr, sim_step_real, lag_true, SIM_LAG, PHASE_DEMAND);
    double longest = fmax(lag_true, SIM_LAG);
    printf("%s (lag %g s, true lag %g s, readings every %d s, noise %g%%):\n", label, SIM_LAG,
           lag_true, SIM_STEP, SIM_NOISE * 100);
    for (int p = 0; p < SIM_PHASES; p++) {
        sim_phase_stats_t st;
        sim_phase_measure(&tr, p, &st);
        double d = PHASE_DEMAND[p];
        printf("  demand %3.0f%%: ratio %.3f..%.3f at first, then %.3f..%.3f; share %.3f, swing "
               "%.3f, reversals %d; ",
               d * 100, st.tmin, st.tmax, st.rmin, st.rmax, tr.keep[(p + 1) * SIM_PHASE_STEPS - 1],
               st.swing, st.reversals);
        if (d > WM.low)
            printf("in the band after %.0f s\n", st.settle);
        else
            printf("share 1 after %.0f s\n", st.back);
        CHECK(st.swing < SWING_MAX, "%s, demand %g: swing %.3f", label, d, st.swing);
        CHECK(st.reversals <= REVERSAL_MAX, "%s, demand %g: %d reversals", label, d, st.reversals);
        if (d > WM.low) {
            CHECK(st.settle <= SETTLE_LAGS * longest, "%s, demand %g: settled after %.0f s", label,
                  d, st.settle);
            CHECK(st.rmin >= WM.low - SIM_NOISE && st.rmax <= WM.high,
                  "%s, demand %g: ratio %.3f..%.3f", label, d, st.rmin, st.rmax);
        } else {
            CHECK(st.back >= 0 && st.back <= RETURN_LAGS * longest,
                  "%s, demand %g: share 1 after %.0f s", label, d, st.back);
            CHECK(fabs(st.rmax - d) <= d * SIM_NOISE + EPS, "%s, demand %g: ratio %.3f", label, d,
                  st.rmax);
        }
    }
}

/* What the lag window buys: the point estimate settles with the exact lag but swings when the
 * true lag is twice the configured one; the real controller does not (sim_check). */
static void test_point_estimate_swings(void)
{
    static sim_trace_t tr;
    sim_phase_stats_t st;
    sim_run(&tr, sim_step_point, SIM_LAG, SIM_LAG, PHASE_DEMAND);
    sim_phase_measure(&tr, 1, &st);
    printf("point estimate, exact lag: demand 130%%: swing %.3f, ratio %.3f..%.3f\n", st.swing,
           st.rmin, st.rmax);
    sim_run(&tr, sim_step_point, 2 * SIM_LAG, SIM_LAG, PHASE_DEMAND);
    sim_phase_measure(&tr, 1, &st);
    printf("point estimate, true lag x2: demand 130%%: swing %.3f, ratio %.3f..%.3f\n", st.swing,
           st.rmin, st.rmax);
    CHECK(st.swing > 0.5, "the oscillation detector sees the point estimate swing (%.3f)",
          st.swing);
}

static void test_shed_curve(void)
{
    CHECK(health_shed_share(0.5, &WM) == 0, "below low");
    CHECK(health_shed_share(0.80, &WM) == 0, "at low");
    CHECK(fabs(health_shed_share(0.90, &WM) - 2.0 / 3) < EPS, "0.90 sheds 2/3");
    CHECK(health_shed_share(0.95, &WM) == 1, "at high");
    CHECK(health_shed_share(1.5, &WM) == 1, "past high");
    CHECK(health_shed_share(NAN, &WM) == 0, "NaN sheds nothing");
}

static void test_step_rules(void)
{
    health_cap_t c;
    health_cap_init(&c);
    CHECK(c.keep == 1, "starts keeping everyone");
    CHECK(health_cap_step(&c, 0.5, 100, 100, &WM, 60) == 1, "under low");
    /* 130% with the share steady at 1: d = 1.3, k* = 0.95 / 1.45, applied at once. */
    double k = health_cap_step(&c, 1.3 * 0.7, 110, 110, &WM, 60);
    CHECK(fabs(k - 0.95 / (0.15 + 0.91)) < EPS, "k* for d = 0.91: %.4f", k);
    CHECK(health_cap_step(&c, 0.2, 110, 120, &WM, 60) == k, "a reading not newer is ignored");
    CHECK(health_cap_step(&c, 0.2, 105, 120, &WM, 60) == k, "an older reading is ignored");
    /* Past high with the share unchanged over the window: 0. */
    health_cap_init(&c);
    CHECK(health_cap_step(&c, 0.96, 100, 100, &WM, 60) == 0, "past high: 0");
    /* The next readings still show the clients of the old share (their time minus lag/2 is
     * before the change), past high: the PoP takes no new client while its load is past high,
     * whatever share produced it. */
    CHECK(health_cap_step(&c, 0.96, 115, 115, &WM, 60) == 0, "still past high: stays 0");
    CHECK(health_cap_step(&c, 0.96, 130, 130, &WM, 60) == 0, "still past high: stays 0 again");
    /* The old clients gone, the share climbs towards k* = 0.95 / 1.11 for demand 0.96, rate
     * limited to dt / lag per step. */
    k = health_cap_step(&c, 0.0, 160, 160, &WM, 60);
    CHECK(fabs(k - 30.0 / 60) < EPS, "rises by dt/lag: %.4f", k);
    /* Window [70, 160] holds shares 1, 0 and 0.5: no upper bound on demand, the estimate
     * stands. */
    k = health_cap_step(&c, 0.0, 190, 190, &WM, 60);
    CHECK(fabs(k - 0.95 / 1.11) < EPS, "stops at the target: %.4f", k);
    CHECK(fabs(c.demand - 0.96) < EPS,
          "a zero reading under a window reaching share 0 says nothing");
    /* A demand estimate past ~95x capacity puts the target within the dead band of 0: from a
     * share of 0 it is still taken (a tiny share), so that once the demand is gone the readings
     * under that share lower the estimate and the share comes back. */
    health_cap_init(&c);
    CHECK(health_cap_step(&c, 0.96, 100, 100, &WM, 2) == 0, "past high: 0");
    /* Window [106, 109] all at share 0: d = 10 / 0.05 = 200; the reading (10x capacity, all of
     * it clients the PoP already had) is past high: the share stays 0. */
    k = health_cap_step(&c, 200 * HEALTH_CAP_TEST_KEEP_MIN, 110, 110, &WM, 2);
    CHECK(k == 0, "past high with the share 0 over the whole window: stays 0: %.5f", k);
    for (double s = 111; s <= 130; s++)
        CHECK(health_cap_step(&c, 5 + (int)s % 3, s, s, &WM, 2) == 0,
              "sticky load past high (%dx) at share 0: stays 0, no flapping", 5 + (int)s % 3);
    /* The load falls under high: a target within the dead band of 0 is still taken from 0 (a
     * tiny share), so that the readings under that share lower the estimate. */
    k = health_cap_step(&c, 0.5, 131, 131, &WM, 2);
    CHECK(k > 0 && k < 0.01, "a target within the dead band of 0 is taken from 0: %.5f", k);
    double t = 131;
    for (int i = 0; i < 60 && k < 1; i++) {
        t += 1;
        k = health_cap_step(&c, 0.0002, t, t, &WM, 2); /* the demand went away */
    }
    CHECK(k == 1, "after 200x demand estimated at share 0, back to 1 within 60 s: %.4f at %.0f", k,
          t - 131);
    /* Dead band: a target move below 0.01 is ignored. */
    health_cap_init(&c);
    double d = 0.95 / 1.15;
    double k1 = health_cap_step(&c, d, 10, 10, &WM, 60);
    double k2 = health_cap_step(&c, d * 1.004 * k1, 200, 200, &WM, 60);
    CHECK(k1 < 1 && k2 == k1, "dead band: %.5f -> %.5f", k1, k2);
    /* Just over low the target is within the dead band of 1: nothing shed. */
    health_cap_init(&c);
    CHECK(health_cap_step(&c, 0.805, 10, 10, &WM, 60) == 1, "just over low");
    /* The top end is reachable even from within the dead band. */
    k1 = health_cap_step(&c, 0.82, 20, 20, &WM, 60);
    k2 = health_cap_step(&c, 0.805 * k1, 200, 200, &WM, 60);
    CHECK(k2 > 0.99 && k2 < 1, "0.99 < %.5f < 1", k2);
    CHECK(health_cap_step(&c, 0.5 * k2, 400, 400, &WM, 60) == 1, "back to 1 from %.5f", k2);
}

/* A PoP at 90% with 80/95 sheds 2/3 at steady state: demand 2.7 settles at keep 1/3. */
static void test_fixed_point(void)
{
    static const double flat[SIM_PHASES] = {2.7, 2.7, 2.7, 2.7};
    static sim_trace_t tr;
    sim_run(&tr, sim_step_real, SIM_LAG, SIM_LAG, flat);
    double k = tr.keep[SIM_STEPS - 1], r = tr.ratio[SIM_STEPS - 1];
    printf("demand 270%%: share %.4f, ratio %.4f\n", k, r);
    CHECK(fabs(k - 1.0 / 3) < 0.01, "keeps 1/3: %.4f", k);
    CHECK(fabs(r - 0.90) < 0.90 * SIM_NOISE + 0.01, "observed at 0.90: %.4f", r);
    CHECK(fabs(1 - k - health_shed_share(0.90, &WM)) < 0.01, "agrees with the curve");
}

/* A region of two PoPs, each under its own low watermark, over the region's: the region's
 * controller sheds both; the PoPs' own keep 1. The kept share of each PoP is the minimum. */
static void test_region_sim(void)
{
    enum { NPOP = 2, STEPS = 2 * SIM_PHASE_STEPS };
    const double cap[NPOP] = {1000, 1000}, region_cap = 1500;
    /* Each PoP's demand in its own capacity's terms: 70% each (region 93%), then 78% (104%). */
    const double dem[2][NPOP] = {{0.70, 0.70}, {0.78, 0.78}};
    static double kept[NPOP][STEPS], rr[STEPS], kr[STEPS];
    health_cap_t pc[NPOP], rc;
    for (int p = 0; p < NPOP; p++)
        health_cap_init(&pc[p]);
    health_cap_init(&rc);
    for (int i = 0; i < STEPS; i++) {
        double t = (double)i * SIM_STEP, past = t - SIM_LAG, region_load = 0;
        int ph = past < SIM_PHASE ? 0 : 1;
        int j = (int)floor(past / SIM_STEP + EPS); /* the step whose share was in force */
        for (int p = 0; p < NPOP; p++) {
            double k = j >= 0 ? kept[p][j] : 1;
            double load = dem[ph][p] * cap[p] * k * (1 + SIM_NOISE * sim_noise(i + p));
            region_load += load;
            health_cap_step(&pc[p], load / cap[p], t, t, &WM, SIM_LAG);
        }
        rr[i] = region_load / region_cap;
        kr[i] = health_cap_step(&rc, rr[i], t, t, &WM, SIM_LAG);
        for (int p = 0; p < NPOP; p++)
            kept[p][i] = fmin(pc[p].keep, kr[i]);
    }
    for (int ph = 0; ph < 2; ph++) {
        int end = (ph + 1) * STEPS / 2;
        double lo = INFINITY, hi = -INFINITY, kmin = INFINITY, kmax = -INFINITY;
        for (int i = end - SIM_TAIL; i < end; i++) {
            lo = fmin(lo, rr[i]);
            hi = fmax(hi, rr[i]);
            kmin = fmin(kmin, kr[i]);
            kmax = fmax(kmax, kr[i]);
        }
        double demand = (dem[ph][0] * cap[0] + dem[ph][1] * cap[1]) / region_cap;
        printf("region, demand %.0f%% of region capacity: region ratio %.3f..%.3f, region share "
               "%.3f (swing %.3f)\n",
               demand * 100, lo, hi, kr[end - 1], kmax - kmin);
        CHECK(lo >= WM.low - SIM_NOISE && hi <= WM.high, "region ratio %.3f..%.3f", lo, hi);
        CHECK(kr[end - 1] < 1 && kmax - kmin < SWING_MAX, "region sheds steadily: %.3f",
              kr[end - 1]);
    }
    CHECK(pc[0].keep == 1 && pc[1].keep == 1, "the PoPs alone would keep everyone: %.3f %.3f",
          pc[0].keep, pc[1].keep);
}

/* A PoP once loaded far past what it can carry (40 x its capacity: its share falls near zero)
 * takes its clients back when the demand goes: it must not stay stuck at a tiny share. */
static void test_extreme_overload_recovers(void)
{
    static const double phases[SIM_PHASES] = {0.5, 40.0, 0.3, 0.3};
    static sim_trace_t tr;
    sim_run(&tr, sim_step_real, SIM_LAG, SIM_LAG, phases);
    sim_phase_stats_t st;
    sim_phase_measure(&tr, 1, &st);
    double low_keep = tr.keep[2 * SIM_PHASE_STEPS - 1];
    sim_phase_measure(&tr, 2, &st);
    printf("demand 4000%%: share %.4f at the end; then demand 30%%: share 1 after %.0f s\n",
           low_keep, st.back);
    CHECK(low_keep < HEALTH_TEST_TINY_SHARE, "at 40x demand the share is tiny: %.4f", low_keep);
    CHECK(st.back >= 0 && st.back <= RETURN_LAGS * SIM_LAG,
          "after 40x demand, back to keeping everyone within %g lags: %.0f s", RETURN_LAGS,
          st.back);
}

/* Load that does not follow the share at all (e2e.overload_traffic: wrk fetching from the PoP's
 * address, or players holding their connections): readings every second, lag 2 s, the load
 * steady at 2.2x capacity. Once the first reading sheds, the share stays 0 for as long as the
 * load is past high; before, it climbed back at the next reading (the reading, scaled to share
 * 0, read 0) and flapped between 0 and a few percent of the clients every few seconds, so some
 * clients were always sent to the overloaded PoP. When the load goes, the share comes back. */
static void test_load_ignoring_dns(void)
{
    health_cap_t c;
    health_cap_init(&c);
    int above0 = 0;
    double t = 0, k;
    for (; t < 60; t++) {
        k = health_cap_step(&c, 2.2, t, t, &WM, 2);
        if (k > 0)
            above0++;
    }
    CHECK(above0 == 0,
          "load past high that ignores DNS: share 0 at every one of 60 readings "
          "(%d above 0)",
          above0);
    /* One reading just under high: the load is draining, the share starts climbing. */
    k = health_cap_step(&c, 0.9, t, t, &WM, 2);
    CHECK(k > 0, "the load under high: the share climbs again: %.4f", k);
    for (int i = 0; i < 120 && k < 1; i++) {
        t++;
        k = health_cap_step(&c, 0.01, t, t, &WM, 2);
    }
    CHECK(k == 1, "the load gone: back to 1 within 120 s: %.4f at %.0f s", k, t - 60);
}

int main(void)
{
    test_shed_curve();
    test_step_rules();
    test_fixed_point();
    sim_check("exact lag", SIM_LAG);
    sim_check("true lag x0.5", SIM_LAG * 0.5);
    sim_check("true lag x2", SIM_LAG * 2);
    test_point_estimate_swings();
    test_region_sim();
    test_extreme_overload_recovers();
    test_load_ignoring_dns();
    return check_report();
}
