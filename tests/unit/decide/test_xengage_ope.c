/* X-Engage's off-policy estimates (eng__xe_ope): the point estimates against a
 * brute-force IPW / doubly-robust reference, bit-identical results for a seed,
 * and the coverage of the 95 % intervals over generated worlds whose true
 * policy values are computed exactly, overall and by thirds of the upper arm
 * (checked in the opt-in run: ENG_TEST_OPE_WORLDS=3000 build/tests/test_decide_xengage_ope). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide/xengage.h"
#include "test_util.h"

#define Z95 1.959963984540054

static eng__mem mem; /* the system allocator */

static void *no_malloc(size_t size, void *user)
{
    (void)size, (void)user;
    return NULL;
}
static void *no_realloc(void *p, size_t size, void *user)
{
    (void)p, (void)size, (void)user;
    return NULL;
}
static void no_free(void *p, void *user)
{
    (void)p, (void)user;
}

static double unif(uint64_t *s)
{
    return ((double)(test_splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
    double u = unif(s), v = unif(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* The estimator's definitions, written out: mean over rows minus the control's mean. */
static void brute(const eng__xe_ope_row *rows, size_t n, const double *ctl, size_t nc, double *ipw, double *dr,
                  double *se_ipw)
{
    double si = 0, sd = 0, sb = 0;
    for (size_t i = 0; i < n; i++) {
        double w = rows[i].logged == rows[i].target ? 1.0 / rows[i].propensity : 0;
        si += w * rows[i].reward;
        sd += rows[i].dm_target + w * (rows[i].reward - rows[i].dm_logged);
    }
    for (size_t j = 0; j < nc; j++)
        sb += ctl[j];
    double mi = si / (double)n, mb = sb / (double)nc, vi = 0, vb = 0;
    for (size_t i = 0; i < n; i++) {
        double w = rows[i].logged == rows[i].target ? 1.0 / rows[i].propensity : 0;
        vi += (w * rows[i].reward - mi) * (w * rows[i].reward - mi);
    }
    for (size_t j = 0; j < nc; j++)
        vb += (ctl[j] - mb) * (ctl[j] - mb);
    *ipw = mi - mb;
    *dr = sd / (double)n - mb;
    *se_ipw = sqrt(vi / (double)(n - 1) / (double)n + vb / (double)(nc - 1) / (double)nc);
}

static void point_estimates_match_brute_force(void **st)
{
    (void)st;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    enum { R = 3000, C = 1500 };
    static eng__xe_ope_row rows[R];
    static double ctl[C];
    uint64_t s = 3;
    for (size_t i = 0; i < R; i++) {
        unsigned nr = 1 + (unsigned)(test_splitmix(&s) % 4);
        rows[i].logged = (int8_t)(test_splitmix(&s) % nr);
        rows[i].target = (int8_t)(test_splitmix(&s) % (nr + 1)) - (i % 7 == 0); /* some -1: sends nothing */
        rows[i].propensity = 1.0f / (float)nr;
        rows[i].reward = (test_splitmix(&s) % 100 < 5 ? 150.0 : 0.0) - 0.1 * rows[i].logged;
        rows[i].dm_logged = 7.5 - 0.1 * rows[i].logged;
        rows[i].dm_target = 7.0 - 0.1 * rows[i].target;
    }
    for (size_t j = 0; j < C; j++)
        ctl[j] = test_splitmix(&s) % 100 < 2 ? 100.0 + (double)(test_splitmix(&s) % 100) : 0;
    eng__xe_estimate ipw, dr, ipw2, dr2, ipw3;
    assert_int_equal(eng__xe_ope(&mem, rows, R, ctl, C, 42, &ipw, &dr), ENG_OK);
    double bi, bd, bse;
    brute(rows, R, ctl, C, &bi, &bd, &bse);
    assert_true(fabs(ipw.value - bi) < 1e-9 && fabs(dr.value - bd) < 1e-9);
    assert_true(fabs(ipw.se - bse) < 1e-9 * bse);
    assert_true(ipw.lo < ipw.value && ipw.value < ipw.hi && dr.lo < dr.value && dr.value < dr.hi);
    /* The added conversion: the expected weight of a matching row (rows where the target sends, sum of
     * 1 over sum of p) times the mean positive reward of the bucket and the control, over the rows. */
    double np = 0, sp = 0, sv = 0, kv = 0;
    for (size_t i = 0; i < R; i++) {
        if (rows[i].target >= 0)
            np++, sp += rows[i].propensity;
        if (rows[i].reward > 0)
            sv += rows[i].reward, kv++;
    }
    for (size_t j = 0; j < C; j++)
        if (ctl[j] > 0)
            sv += ctl[j], kv++;
    assert_true(fabs(ipw.shift - np / sp * sv / kv / R) < 1e-9 && dr.shift == ipw.shift);
    /* Same rows and seed: bit-identical; another seed: the same points, other resamples. */
    assert_int_equal(eng__xe_ope(&mem, rows, R, ctl, C, 42, &ipw2, &dr2), ENG_OK);
    assert_memory_equal(&ipw, &ipw2, sizeof ipw);
    assert_memory_equal(&dr, &dr2, sizeof dr);
    assert_int_equal(eng__xe_ope(&mem, rows, R, ctl, C, 43, &ipw3, NULL), ENG_OK);
    assert_true(ipw3.value == ipw.value && ipw3.lo != ipw.lo);
    /* One row: nothing to resample, the normal interval (of the control's spread alone), its upper end
     * with one more conversion: the mean moved by the shift, the variance by its square. */
    assert_int_equal(eng__xe_ope(&mem, rows, 1, ctl, C, 42, &ipw2, NULL), ENG_OK);
    brute(rows, 1, ctl, C, &bi, &bd, &bse);
    assert_true(fabs(ipw2.value - bi) < 1e-9 && fabs(ipw2.value - ipw2.lo - Z95 * ipw2.se) < 1e-9);
    assert_true(fabs(ipw2.hi - ipw2.value - ipw2.shift - Z95 * sqrt(ipw2.se * ipw2.se + ipw2.shift * ipw2.shift)) < 1e-9);
    /* Out of memory: the error, and the estimates left as they were. */
    eng__mem none;
    eng_allocator a = {ENG_ALLOCATOR_VERSION, no_malloc, no_realloc, no_free, NULL};
    assert_int_equal(eng__mem_init(&none, &a), ENG_OK);
    ipw3 = ipw2;
    assert_int_equal(eng__xe_ope(&none, rows, R, ctl, C, 42, &ipw2, NULL), ENG_ENOMEM);
    assert_memory_equal(&ipw2, &ipw3, sizeof ipw2);
}

/* The control's zeros are resampled as a binomial count (exact inversion for a mean up to 500, the
 * normal past it, counted on the rarer side): with a bucket of equal rows all the interval's width is
 * the control's, and with a large sample the bootstrap-t interval is the normal one (its lower arm: the
 * upper one has the added conversion). */
static void control_resampled_as_counts(void **st)
{
    (void)st;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    enum { NB = 50, NC = 10000 };
    static eng__xe_ope_row rows[NB];
    static double ctl[NC];
    for (size_t i = 0; i < NB; i++)
        rows[i] = (eng__xe_ope_row){1, 1, 0.5f, 4.0, 0, 0};
    const size_t buyers[] = {100, 1500, 7500, 9995};
    for (size_t t = 0; t < sizeof buyers / sizeof *buyers; t++) {
        for (size_t j = 0; j < NC; j++) /* buyers spread over the group, at two amounts */
            ctl[j] = j * buyers[t] % NC < buyers[t] ? 100.0 + 50.0 * (j % 2) : 0;
        eng__xe_estimate e;
        assert_int_equal(eng__xe_ope(&mem, rows, NB, ctl, NC, 7, &e, NULL), ENG_OK);
        double k = 0, s = 0, s2 = 0;
        for (size_t j = 0; j < NC; j++)
            k += ctl[j] != 0, s += ctl[j], s2 += ctl[j] * ctl[j];
        double m = s / NC, se = sqrt((s2 - NC * m * m) / (NC - 1) / NC);
        assert_true(k == (double)buyers[t]);
        assert_true(fabs(e.value - (8.0 - m)) < 1e-9 && fabs(e.se - se) < 1e-9 * se);
        double ratio = (e.value - e.lo) / (Z95 * se);
        assert_true(ratio > 0.9 && ratio < 1.1);
        assert_true(e.hi - e.value >= e.shift + (e.value - e.lo) * 0.9);
    }
}

/* A generated world: K channels reached independently, a customer's order value lognormal (mean
 * 150), an organic purchase rate p0 and per channel an incremental conversion rate and a cost. The
 * bucket logs a uniform reachable channel (propensity 1 / reachable); the target policy is the first
 * reachable channel of a priority order, or a uniform reachable one. */
typedef struct world {
    int K, policy, few;
    double reach[8], tau[8], cost[8], p0, vsd;
    int prio[8];
    size_t n, nc;
} world;

static int target_of(const world *w, unsigned S, uint64_t *s)
{
    if (w->policy == 0) {
        for (int j = 0; j < w->K; j++)
            if (S >> w->prio[j] & 1u)
                return w->prio[j];
        return -1;
    }
    int k = (int)(test_splitmix(s) % (uint64_t)__builtin_popcount(S));
    for (int c = 0; c < w->K; c++)
        if ((S >> c & 1u) && k-- == 0)
            return c;
    return -1;
}

/* Exact value of the target policy minus the control's, over the reach sets (non-empty). */
static double truth_of(const world *w)
{
    double v = 0, p = 0;
    for (unsigned S = 1; S < 1u << w->K; S++) {
        double ps = 1, r = 0;
        for (int c = 0; c < w->K; c++)
            ps *= (S >> c & 1u) ? w->reach[c] : 1 - w->reach[c];
        if (w->policy == 0) {
            int t = target_of(w, S, NULL);
            r = 150 * (w->p0 + (1 - w->p0) * w->tau[t]) - w->cost[t];
        } else {
            for (int c = 0; c < w->K; c++)
                if (S >> c & 1u)
                    r += (150 * (w->p0 + (1 - w->p0) * w->tau[c]) - w->cost[c]) / __builtin_popcount(S);
        }
        v += ps * r, p += ps;
    }
    return v / p - 150 * w->p0;
}

static void make_world(world *w, uint64_t *s, int few)
{
    memset(w, 0, sizeof *w);
    w->few = few;
    w->K = 3 + (int)(test_splitmix(s) % 6);
    w->policy = (int)(test_splitmix(s) % 2);
    for (int c = 0; c < w->K; c++) {
        w->reach[c] = 0.3 + 0.65 * unif(s);
        w->tau[c] = (few ? 0.015 : 0.05) * unif(s);
        w->cost[c] = 3 * unif(s) * unif(s);
        w->prio[c] = c;
    }
    for (int c = w->K - 1; c > 0; c--) {
        int j = (int)(test_splitmix(s) % (uint64_t)(c + 1)), t = w->prio[c];
        w->prio[c] = w->prio[j], w->prio[j] = t;
    }
    w->p0 = few ? 0.002 + 0.008 * unif(s) : 0.01 + 0.03 * unif(s);
    w->vsd = 0.3 + 0.5 * unif(s);
    w->n = few ? 300 + (size_t)(test_splitmix(s) % 500) : 400 + (size_t)(test_splitmix(s) % 1200);
    w->nc = 1000 + (size_t)(test_splitmix(s) % 2000);
}

/* One campaign of @p w: the bucket's rows (the direct method from the bucket's per-channel means, as
 * the engine's report, or a noisy model of the truth, as the simulator's) and the control's values. */
static void play(const world *w, uint64_t *s, eng__xe_ope_row *rows, double *ctl)
{
    double vmu = log(150) - 0.5 * w->vsd * w->vsd, dms[8] = {0}, dmn[8] = {0}, model[8];
    for (int c = 0; c < w->K; c++)
        model[c] = 150 * (w->p0 + (1 - w->p0) * w->tau[c]) * (0.7 + 0.6 * unif(s)) - w->cost[c];
    for (size_t i = 0; i < w->n; i++) {
        unsigned S = 0;
        while (!S)
            for (int c = 0; c < w->K; c++)
                if (unif(s) < w->reach[c])
                    S |= 1u << c;
        int a = -1, k = (int)(test_splitmix(s) % (uint64_t)__builtin_popcount(S));
        for (int c = 0; c < w->K && a < 0; c++)
            if ((S >> c & 1u) && k-- == 0)
                a = c;
        int t = target_of(w, S, s);
        double v = exp(vmu + w->vsd * gauss(s));
        int conv = unif(s) < w->p0 + (1 - w->p0) * w->tau[a];
        rows[i] = (eng__xe_ope_row){(int8_t)a, (int8_t)t, 1.0f / (float)__builtin_popcount(S), v * conv - w->cost[a],
                                    0, 0};
        dms[a] += rows[i].reward, dmn[a]++;
    }
    int own = w->K % 2;
    for (size_t i = 0; i < w->n; i++) {
        int a = rows[i].logged, t = rows[i].target;
        rows[i].dm_logged = own ? dms[a] / dmn[a] : model[a];
        rows[i].dm_target = own ? (dmn[t] ? dms[t] / dmn[t] : 0) : model[t];
    }
    for (size_t j = 0; j < w->nc; j++) {
        double v = exp(vmu + w->vsd * gauss(s));
        ctl[j] = unif(s) < w->p0 ? v : 0;
    }
}

/* The band a 95 % interval's coverage over @p reps worlds must reach: 3 binomial standard errors
 * below 95 %, and 2 points for the bootstrap's own approximation. */
static double band(int reps)
{
    return 0.95 - 3 * sqrt(0.95 * 0.05 / reps) - 0.02;
}

/* One world's interval as computed: its upper arm (hi - value) and where the truth fell (0 inside, +1
 * above hi, -1 below lo). */
typedef struct arm_miss {
    double arm;
    int miss;
} arm_miss;

/* Coverage over @p reps generated worlds (@p few: 0-6 conversions on the target's channels), of the
 * intervals and of weakened ones: [k][0] as computed, [1] with their variance halved (each arm /
 * sqrt 2), [2] without the added conversion, [3] the normal interval; k = IPW, DR. @p am[k][r]: world
 * r's interval as computed. */
static void coverage(int reps, int few, uint64_t s, int cover[2][4], int *small_counts, arm_miss *am[2])
{
    eng__xe_ope_row *rows = malloc(1600 * sizeof *rows);
    double *ctl = malloc(3000 * sizeof *ctl);
    assert_non_null(rows);
    assert_non_null(ctl);
    memset(cover, 0, 2 * 4 * sizeof **cover);
    *small_counts = 0;
    for (int r = 0; r < reps; r++) {
        world w;
        make_world(&w, &s, few);
        double truth = truth_of(&w);
        play(&w, &s, rows, ctl);
        eng__xe_estimate e[2];
        assert_int_equal(eng__xe_ope(&mem, rows, w.n, ctl, w.nc, (uint64_t)r, &e[0], &e[1]), ENG_OK);
        double bi, bd, bse;
        brute(rows, w.n, ctl, w.nc, &bi, &bd, &bse);
        assert_true(fabs(e[0].value - bi) < 1e-9 * (1 + fabs(bi)) && fabs(e[1].value - bd) < 1e-9 * (1 + fabs(bd)));
        int conv = 0;
        for (size_t i = 0; i < w.n; i++)
            conv += rows[i].logged == rows[i].target && rows[i].reward > 0;
        *small_counts += conv <= 2;
        for (int k = 0; k < 2; k++) {
            double v = e[k].value, se = e[k].se, d = e[k].shift;
            cover[k][0] += e[k].lo <= truth && truth <= e[k].hi;
            am[k][r] = (arm_miss){e[k].hi - v, truth > e[k].hi ? 1 : truth < e[k].lo ? -1 : 0};
            double lo = v - (v - e[k].lo) * sqrt(0.5), hi = v + (e[k].hi - v) * sqrt(0.5);
            cover[k][1] += lo <= truth && truth <= hi;
            /* The bootstrap-t upper end before the shift: its quantile times se, not sqrt(se^2 + d^2). */
            hi = v + (e[k].hi - v - d) * (se > 0 ? se / sqrt(se * se + d * d) : 0);
            cover[k][2] += e[k].lo <= truth && truth <= hi;
            cover[k][3] += fabs(v - truth) <= Z95 * se;
        }
    }
    free(rows);
    free(ctl);
}

static int by_arm(const void *a, const void *b)
{
    double x = ((const arm_miss *)a)->arm, y = ((const arm_miss *)b)->arm;
    return (x > y) - (x < y);
}

/* Conditional coverage: the worlds split into thirds by the upper arm's length (short: few conversions
 * drawn on the target's channels, docs/xengage.md "Off-policy coverage on k10"), each third's coverage
 * and misses above / below. Checked (@p check) against 95 % minus 3 binomial standard errors of the
 * third's own count of worlds: a threshold from the number of worlds alone, never from observed
 * figures, and without band()'s 2-point allowance, which is the size of the shortfall this split is
 * there to show. Returns how many thirds fall short (each printed with its shortfall). */
static int thirds(const char *regime, const char *est, arm_miss *am, int reps, int check)
{
    qsort(am, (size_t)reps, sizeof *am, by_arm);
    static const char *const name[3] = {"short", "middle", "long"};
    int short_of = 0;
    char line[3][96];
    double b[3], cov[3];
    for (int t = 0; t < 3; t++) {
        int a = t * reps / 3, m = (t + 1) * reps / 3 - a, in = 0, above = 0, below = 0;
        for (int i = a; i < a + m; i++)
            in += am[i].miss == 0, above += am[i].miss > 0, below += am[i].miss < 0;
        cov[t] = (double)in / m, b[t] = 0.95 - 3 * sqrt(0.95 * 0.05 / m);
        snprintf(line[t], sizeof line[t], "%d/%d = %.3f (band %.3f; above %d, below %d)", in, m, cov[t], b[t], above,
                 below);
    }
    printf("  %s %s by thirds of the upper arm, short / middle / long (misses above and below: 2.5 %% of a third "
           "each nominal): %s, %s, %s\n",
           regime, est, line[0], line[1], line[2]);
    for (int t = 0; t < 3; t++)
        if (check && cov[t] < b[t]) {
            printf("  SHORT: %s %s, %s third of the upper arm covers %.3f, %.3f below its band %.3f (a known open "
                   "item, docs/xengage.md)\n",
                   regime, est, name[t], cov[t], b[t] - cov[t], b[t]);
            short_of++;
        }
    return short_of;
}

/* Worlds per regime of the opt-in run (ENG_TEST_OPE_WORLDS, e.g. 3000, about 20 s of CPU), which
 * also checks each third of the upper arm; 0 when unset. */
static int opt_in_worlds(void)
{
    const char *v = getenv("ENG_TEST_OPE_WORLDS");
    if (!v || !*v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 300 || n > 1000000)
        fail_msg("ENG_TEST_OPE_WORLDS=%s: a count of worlds from 300 to 1000000 expected", v);
    return (int)n;
}

static void intervals_cover_the_truth(void **st)
{
    (void)st;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    /* Usual worlds: a bucket of 400-1,600 rows (the engine's 3 % of a test group of 13,000-53,000)
     * logs 3 to 40 conversions on the target's channels, the regime where the normal interval
     * missed. Few: 300-800 rows and rarer conversions, 0 to 6 on the target's channels (a wave of
     * 20,000 customers on the k10 world has about 4), where no interval from the bucket's own
     * resamples reaches 95 % and the added conversion has to. */
    int opt_in = opt_in_worlds(), reps = opt_in ? opt_in : test_slow_runtime() ? 40 : 200, short_of = 0;
    double b = band(reps);
    arm_miss *am[2] = {malloc((size_t)reps * sizeof **am), malloc((size_t)reps * sizeof **am)};
    assert_non_null(am[0]);
    assert_non_null(am[1]);
    for (int few = 0; few < 2; few++) {
        int c[2][4], small;
        coverage(reps, few, few ? 19970101 : 20261205, c, &small, am);
        printf("%s worlds (%d, %d with <= 2 conversions; band %.3f): IPW %.3f, DR %.3f; variance halved %.3f, "
               "%.3f; without the added conversion %.3f, %.3f; normal interval %.3f, %.3f\n",
               few ? "few-conversion" : "usual", reps, small, b, (double)c[0][0] / reps, (double)c[1][0] / reps,
               (double)c[0][1] / reps, (double)c[1][1] / reps, (double)c[0][2] / reps, (double)c[1][2] / reps,
               (double)c[0][3] / reps, (double)c[1][3] / reps);
        /* The thirds: printed always, checked in the opt-in run only (the default run's thirds of 67
         * worlds have a band too wide to see a shortfall of a few points). */
        for (int k = 0; k < 2; k++)
            short_of += thirds(few ? "few-conversion" : "usual", k ? "DR" : "IPW", am[k], reps, opt_in);
        assert_true(c[0][0] >= b * reps && c[1][0] >= b * reps);
        /* The check has power: intervals whose variance is half the estimator's fail the band, and
         * where conversions are few, so do the bootstrap-t's own ends. */
        if (!test_slow_runtime()) {
            assert_true(c[0][1] < b * reps && c[1][1] < b * reps);
            if (few)
                assert_true(c[0][2] < b * reps && c[1][2] < b * reps);
        }
    }
    free(am[0]);
    free(am[1]);
    if (short_of)
        fail_msg("%d of 12 thirds of the upper arm cover less than 95 %% minus 3 binomial standard errors "
                 "(the lines SHORT above; docs/xengage.md, known open item)",
                 short_of);
}

/* X-Engage as it ran (the report's xengage row): the plain mean's interval is built as the others',
 * bit for bit the IPW of rows that each match their target at propensity 1. */
static void plain_mean_as_the_others(void **st)
{
    (void)st;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    enum { N = 20000, C = 2000 };
    static double v[N], ctl[C];
    static eng__xe_ope_row rows[N];
    uint64_t s = 11;
    double sum = 0, sc = 0;
    for (size_t i = 0; i < N; i++) { /* costs of four channels, a buyer now and then, some not sent */
        int ch = (int)(test_splitmix(&s) % 5) - 1;
        v[i] = (ch >= 0 ? -0.5 * (ch + 1) : 0) + (unif(&s) < 0.03 ? exp(5 + 0.5 * gauss(&s)) : 0);
        rows[i] = (eng__xe_ope_row){(int8_t)ch, (int8_t)ch, 1.0f, v[i], 0, 0};
        sum += v[i];
    }
    for (size_t j = 0; j < C; j++)
        sc += ctl[j] = unif(&s) < 0.02 ? exp(5 + 0.5 * gauss(&s)) : 0;
    eng__xe_estimate m, ipw, dr;
    assert_int_equal(eng__xe_mean(&mem, v, N, ctl, C, 5, &m), ENG_OK);
    assert_int_equal(eng__xe_ope(&mem, rows, N, ctl, C, 5, &ipw, &dr), ENG_OK);
    assert_true(fabs(m.value - (sum / N - sc / C)) < 1e-9);
    assert_memory_equal(&m, &ipw, sizeof m);
    assert_memory_equal(&m, &dr, sizeof m);
    assert_true(m.lo < m.value && m.value + m.shift < m.hi);
    eng__mem none;
    eng_allocator a = {ENG_ALLOCATOR_VERSION, no_malloc, no_realloc, no_free, NULL};
    assert_int_equal(eng__mem_init(&none, &a), ENG_OK);
    eng__xe_estimate kept = m;
    assert_int_equal(eng__xe_mean(&none, v, N, ctl, C, 5, &m), ENG_ENOMEM);
    assert_memory_equal(&m, &kept, sizeof m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(point_estimates_match_brute_force),
        cmocka_unit_test(control_resampled_as_counts),
        cmocka_unit_test(intervals_cover_the_truth),
        cmocka_unit_test(plain_mean_as_the_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
