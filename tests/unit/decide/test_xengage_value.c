/* The per-customer value of a conversion (xengage_value.c) against
 * independent references: the within and between variances from the raw
 * orders in two passes, each customer's value against the posterior mean of
 * the normal model integrated by brute force over a grid, and what the
 * shrinkage is for: closer to the customers' true means than their raw means
 * and than the org's mean, in generated worlds of other shapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decide/xengage_impl.h"
#include "test_util.h"

#define N 3000
#define MAXO 6

typedef struct world {
    double mu[N], x[N][MAXO];
    uint32_t n[N];
    double sum[N], sq[N];
} world;

static double unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((*s >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(uint64_t *s) { return sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s)); }

/* Customers with true means mean + tau z; each buys 0..maxo times (P(0) = p0) with noise s. Lognormal
 * (@p logn): means mean x exp(tau z - tau^2 / 2), orders their mean x exp(s z - s^2 / 2), the shape of
 * order values, not the normal model the fit assumes. */
static void gen(world *w, uint64_t seed, double mean, double tau, double s, double p0, unsigned maxo, int logn)
{
    memset(w, 0, sizeof *w);
    for (uint32_t i = 0; i < N; i++) {
        w->mu[i] = logn ? mean * exp(tau * normal(&seed) - 0.5 * tau * tau) : mean + tau * normal(&seed);
        w->n[i] = unif(&seed) < p0 ? 0 : 1 + (uint32_t)(unif(&seed) * maxo);
        for (uint32_t j = 0; j < w->n[i]; j++) {
            w->x[i][j] = logn ? w->mu[i] * exp(s * normal(&seed) - 0.5 * s * s) : w->mu[i] + s * normal(&seed);
            w->sum[i] += w->x[i][j], w->sq[i] += w->x[i][j] * w->x[i][j];
        }
    }
}

/* The variances from the raw orders: deviations from each customer's own mean (two passes). */
static void ref_var(const world *w, double mean, double *s2, double *tau2)
{
    double ssw = 0, df = 0, b = 0, m = 0, xb[N];
    for (uint32_t i = 0; i < N; i++) {
        xb[i] = 0;
        for (uint32_t j = 0; j < w->n[i]; j++)
            xb[i] += w->x[i][j] / w->n[i];
        for (uint32_t j = 0; j < w->n[i]; j++)
            ssw += (w->x[i][j] - xb[i]) * (w->x[i][j] - xb[i]);
        df += w->n[i] ? w->n[i] - 1 : 0;
    }
    *s2 = ssw / df;
    double e = 0;
    for (uint32_t i = 0; i < N; i++)
        if (w->n[i])
            b += (xb[i] - mean) * (xb[i] - mean), e += *s2 / w->n[i], m++;
    *tau2 = b > e ? (b - e) / m : 0;
}

/* The posterior mean of mu given the orders, prior N(mean, tau2), noise N(0, s2): a sum over a grid. */
static double brute_post(const double *x, uint32_t n, double mean, double tau2, double s2)
{
    double sd = sqrt(tau2), num = 0, den = 0;
    for (int j = -4000; j <= 4000; j++) {
        double mu = mean + sd * j / 500.0, lp = -0.5 * (j / 500.0) * (j / 500.0);
        for (uint32_t o = 0; o < n; o++)
            lp -= 0.5 * (x[o] - mu) * (x[o] - mu) / s2;
        double e = exp(lp);
        num += mu * e, den += e;
    }
    return num / den;
}

typedef struct scratch {
    world *w;
    float *v;
} scratch;

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    if (!s || !(s->w = malloc(sizeof *s->w)) || !(s->v = malloc(N * sizeof *s->v)))
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    scratch *s = *state;
    free(s->w), free(s->v), free(s);
    return 0;
}

static void variances_and_posterior_means(void **state)
{
    world *w = ((scratch *)*state)->w;
    float *v = ((scratch *)*state)->v;
    /* Two shapes: orders close to the customer's mean, and orders noisier than the customers differ. */
    const double shape[2][3] = {{150, 60, 25}, {40, 8, 30}};
    for (int sh = 0; sh < 2; sh++) {
        double mean = shape[sh][0];
        gen(w, 11 + (uint64_t)sh, mean, shape[sh][1], shape[sh][2], 0.5, 5, 0);
        double s2, tau2, rs2, rtau2;
        size_t m = eng__xe_value_fit(w->n, w->sum, w->sq, N, mean, v, &s2, &tau2);
        ref_var(w, mean, &rs2, &rtau2);
        assert_true(fabs(s2 - rs2) <= 1e-9 * rs2);
        assert_true(fabs(tau2 - rtau2) <= 1e-9 * rtau2 + 1e-9);
        size_t buyers = 0;
        for (uint32_t i = 0; i < N; i++) {
            buyers += w->n[i] > 0;
            if (!w->n[i]) {
                assert_true(v[i] == 0);
                continue;
            }
            if (test_slow_runtime() && i % 4) /* a quarter of the buyers under valgrind and TSan */
                continue;
            double ref = brute_post(w->x[i], w->n[i], mean, tau2, s2);
            double want = ref > 1e-6 ? ref : 1e-6; /* the floor: a customer whose orders are refunded */
            assert_true(fabs(v[i] - want) <= 1e-4 * want);
        }
        assert_int_equal(m, buyers);
    }
}

/* What it is for: in 20 generated worlds of lognormal orders with different spreads, the values are closer
 * (mean squared error over the buyers) to the customers' true means than their raw means are, and closer
 * than the org's mean or nearly as close where the orders are much noisier than the customers differ. */
static void closer_to_the_truth(void **state)
{
    world *w = ((scratch *)*state)->w;
    float *v = ((scratch *)*state)->v;
    unsigned beat_raw = 0, beat_mean = 0, near_mean = 0;
    for (int t = 0; t < 20; t++) {
        uint64_t s = 1000 + (uint64_t)t;
        /* one draw a statement: the order of a call's arguments is the compiler's (gcc and clang differ) */
        double mean = 20 + 200 * unif(&s), tau = 0.1 + 0.6 * unif(&s), sd = 0.1 + 0.8 * unif(&s);
        double p0 = 0.3 + 0.5 * unif(&s);
        unsigned maxo = 2 + (unsigned)(4 * unif(&s));
        gen(w, 77 + (uint64_t)t, mean, tau, sd, p0, maxo, 1);
        eng__xe_value_fit(w->n, w->sum, w->sq, N, mean, v, NULL, NULL);
        double e_fit = 0, e_raw = 0, e_mean = 0;
        for (uint32_t i = 0; i < N; i++) {
            if (!w->n[i])
                continue;
            double f = v[i] > 0 ? v[i] : mean, r = w->sum[i] / w->n[i];
            e_fit += (f - w->mu[i]) * (f - w->mu[i]);
            e_raw += (r - w->mu[i]) * (r - w->mu[i]);
            e_mean += (mean - w->mu[i]) * (mean - w->mu[i]);
        }
        beat_raw += e_fit < e_raw, beat_mean += e_fit < e_mean, near_mean += e_fit <= 1.05 * e_mean;
    }
    printf("closer than the raw means in %u of 20 worlds, than the org's mean in %u (within 5 %% of it in %u)\n",
           beat_raw, beat_mean, near_mean);
    assert_int_equal(beat_raw, 20);
    assert_int_equal(near_mean, 20); /* very noisy orders: the customer's own tell little, it stays near the mean */
    assert_true(beat_mean >= 15);
}

/* Edges: equal orders within every customer trust one order fully; without repeat buyers (the spread
 * within a customer unknown) nothing is personalised; a refunded customer is worth almost nothing. */
static void edges(void **state)
{
    (void)state;
    uint32_t n[4] = {2, 1, 0, 3};
    double sum[4] = {200, 40, 0, 30}, sq[4] = {20000, 1600, 0, 300};
    float v[4];
    assert_int_equal(eng__xe_value_fit(n, sum, sq, 4, 50, v, NULL, NULL), 3);
    assert_true(v[0] == 100 && v[1] == 40 && v[2] == 0 && v[3] == 10);
    uint32_t n1[3] = {1, 1, 1};
    double s1[3] = {10, 90, 300}, q1[3] = {100, 8100, 90000};
    assert_int_equal(eng__xe_value_fit(n1, s1, q1, 3, 50, v, NULL, NULL), 0);
    assert_true(v[0] == 0 && v[1] == 0 && v[2] == 0);
    uint32_t n2[3] = {2, 2, 1};
    double s2[3] = {-20, 200, 50}, q2[3] = {200, 20000, 2500};
    assert_int_equal(eng__xe_value_fit(n2, s2, q2, 3, 50, v, NULL, NULL), 3);
    assert_true(v[0] > 0 && v[0] < 1e-5 && v[1] == 100 && v[2] == 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(variances_and_posterior_means, setup, teardown),
        cmocka_unit_test_setup_teardown(closer_to_the_truth, setup, teardown),
        cmocka_unit_test(edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
