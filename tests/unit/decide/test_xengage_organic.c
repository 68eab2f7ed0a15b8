/* The organic purchase rate from the org's sales (xengage_organic.c) against
 * independent references: the heterogeneity against a brute-force grid of the
 * negative binomial likelihood written per customer with lgamma; the chance of
 * a purchase within a window against a numerical integral over the posterior
 * Gamma density; the Poisson limit; and what the shrinkage is for: rates
 * closer to the customers' true rates than their raw counts and than their
 * segment's mean, in generated worlds of other shapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decide/xengage_impl.h"
#include "engage/errors.h"
#include "store/store_impl.h"
#include "test_alloc.h"

#define N 20000
#define G 4

static double unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((*s >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(uint64_t *s) { return sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s)); }

/* Gamma(k, 1) from the library's counter-based draws (the data's generator, not what is tested). */
static double gamma_draw(uint64_t *s, double k)
{
    eng__xe_rng r = eng__xe_rng_at(*s, 0, 0);
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return eng__xe_gamma(&r, k);
}

static uint32_t poisson(uint64_t *s, double mu)
{
    uint32_t k = 0;
    double t = -log(unif(s));
    while (t < mu)
        k++, t -= log(unif(s));
    return k;
}

typedef struct world {
    double lambda[N];
    uint32_t x[N];
    uint16_t seg[N];
} world;

/* Segment rates around @p rate (x exp(0.5 z)); customer rates Gamma of shape @p shape around them (shape 0:
 * every customer at the segment's rate); counts Poisson over @p span. */
static void gen(world *w, uint64_t seed, double rate, double shape, double span)
{
    double sr[G];
    for (unsigned g = 0; g < G; g++)
        sr[g] = rate * exp(0.5 * normal(&seed));
    for (uint32_t i = 0; i < N; i++) {
        w->seg[i] = (uint16_t)(unif(&seed) * G);
        double m = sr[w->seg[i]];
        w->lambda[i] = shape > 0 ? m * gamma_draw(&seed, shape) / shape : m;
        w->x[i] = poisson(&seed, w->lambda[i] * span);
    }
}

/* The segment means as documented: orders over exposure with 10 customers of the org's rate. */
static void ref_means(const world *w, double span, double *m)
{
    double n[G] = {0}, x[G] = {0}, an = 0, ax = 0;
    for (uint32_t i = 0; i < N; i++)
        n[w->seg[i]]++, x[w->seg[i]] += w->x[i], an++, ax += w->x[i];
    for (unsigned g = 0; g < G; g++)
        m[g] = (x[g] + 10 * (ax / an)) / ((n[g] + 10) * span);
}

/* Customers per segment and count: the likelihood below sums over these. */
#define MAXX 400
typedef struct counts {
    double cnt[G][MAXX];
} counts;

static void ref_counts(const world *w, counts *c)
{
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i < N; i++)
        c->cnt[w->seg[i]][w->x[i] < MAXX ? w->x[i] : MAXX - 1]++;
}

/* The full negative binomial log-likelihood, customer by customer (customers of one segment with the same
 * count share their term: counted once, times how many). */
static double ref_loglik(const counts *c, const double *m, double span, double a)
{
    const double(*cnt)[MAXX] = c->cnt;
    /* the terms that do not change with x or a computed once (term for term the same sum) */
    static double lfact[MAXX];
    if (!lfact[2])
        for (unsigned x = 0; x < MAXX; x++)
            lfact[x] = lgamma(x + 1.0);
    double l = 0, lga = lgamma(a);
    for (unsigned g = 0; g < G; g++) {
        double mu = m[g] * span, pa = log(a / (a + mu)), px = log(mu / (a + mu));
        for (unsigned x = 0; x < MAXX; x++) {
            if (!cnt[g][x])
                continue;
            l += cnt[g][x] * (lgamma(x + a) - lga - lfact[x] + a * pa + x * px);
        }
    }
    return l;
}

static void heterogeneity_is_the_likelihood_maximum(void **state)
{
    (void)state;
    static world w;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), 0);
    const double shapes[] = {0.3, 1.0, 4.0};
    for (unsigned t = 0; t < 3; t++) {
        double span = 52;
        gen(&w, 11 + t, 0.02, shapes[t], span);
        for (uint32_t i = 0; i < N; i++)
            assert_true(w.x[i] < MAXX);
        double m[G], rm[G], a;
        assert_int_equal(eng__xe_organic_fit(&mem, w.x, w.seg, N, G, span, m, &a), 0);
        ref_means(&w, span, rm);
        for (unsigned g = 0; g < G; g++)
            assert_true(fabs(m[g] - rm[g]) < 1e-12 * rm[g]);
        static counts c;
        ref_counts(&w, &c);
        double best = -INFINITY, ba = 0;
        for (double la = log(1e-2); la <= log(1e6); la += 0.002) {
            double l = ref_loglik(&c, rm, span, exp(la));
            if (l > best)
                best = l, ba = exp(la);
        }
        assert_true(fabs(log(a) - log(ba)) < 0.004);
        /* and the fit lands near the world's shape (20,000 customers) */
        assert_true(fabs(log(a) - log(shapes[t])) < 0.35);
    }
}

static void everyone_alike_is_poisson(void **state)
{
    (void)state;
    static world w;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), 0);
    gen(&w, 5, 0.02, 0, 104);
    double m[G], a;
    assert_int_equal(eng__xe_organic_fit(&mem, w.x, w.seg, N, G, 104, m, &a), 0);
    assert_true(a > 30); /* no heterogeneity: the customers' own counts barely move their rates */
    /* the Poisson limit of the chance of a purchase: 1 - exp(-m W) */
    assert_true(fabs(eng__xe_organic_p(1e9, 0.02, 104, 3, 1) - -expm1(-0.02)) < 1e-7);
    assert_true(eng__xe_organic_p(0, 0.02, 104, 3, 1) == 0);
    assert_true(eng__xe_organic_p(1, 0, 104, 3, 1) == 0);
    assert_int_equal(eng__xe_organic_fit(&mem, w.x, w.seg, N, G, 0, m, &a), ENG_EINVAL);
}

/* P(purchase within W) against Simpson's rule over the posterior Gamma(a + x, b + T) density of the rate. */
static double ref_p(double a, double m, double span, double x, double window)
{
    double k = a + x, r = a / m + span, hi = (k + 12 * sqrt(k) + 20) / r, s = 0;
    int n = 200000;
    double c0 = k * log(r) - lgamma(k); /* the density's constant, once */
    for (int j = 0; j <= n; j++) {
        double l = hi * j / n, wgt = j == 0 || j == n ? 1 : j % 2 ? 4 : 2;
        double dens = l > 0 ? exp(c0 + (k - 1) * log(l) - r * l) : 0;
        s += wgt * dens * -expm1(-l * window);
    }
    return s * hi / n / 3;
}

static void purchase_chance_is_the_posterior_integral(void **state)
{
    (void)state;
    const double cases[][5] = {{0.5, 0.02, 52, 0, 1}, {0.5, 0.02, 52, 1, 1}, {2, 0.02, 52, 3, 1},
                               {1.3, 0.05, 20, 2, 4}, {8, 0.01, 156, 0, 0.5}, {1, 0.3, 10, 7, 2}};
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const double *q = cases[c];
        double got = eng__xe_organic_p(q[0], q[1], q[2], (uint32_t)q[3], q[4]);
        double want = ref_p(q[0], q[1], q[2], q[3], q[4]);
        assert_true(fabs(got - want) < 1e-6 * (want > 1e-3 ? want * 1e3 : 1));
    }
    /* more orders, a higher chance; a customer without orders below the segment's mean rate */
    assert_true(eng__xe_organic_p(0.5, 0.02, 52, 2, 1) > eng__xe_organic_p(0.5, 0.02, 52, 1, 1));
    assert_true(eng__xe_organic_p(0.5, 0.02, 52, 0, 1) < -expm1(-0.02));
}

/* What the shrinkage is for: in worlds of other rates, shapes and spans the posterior mean rates
 * (a + x) / (a / m + T) are closer to the true rates than the raw rates x / T and than the segment's mean. */
static void closer_to_the_truth(void **state)
{
    (void)state;
    static world w;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), 0);
    uint64_t s = 99;
    for (unsigned t = 0; t < 12; t++) {
        double rate = 0.005 * exp(2 * unif(&s)), shape = 0.2 * exp(3 * unif(&s)), span = 10 + 150 * unif(&s);
        gen(&w, 1000 + t, rate, shape, span);
        double m[G], a;
        assert_int_equal(eng__xe_organic_fit(&mem, w.x, w.seg, N, G, span, m, &a), 0);
        double e_fit = 0, e_raw = 0, e_mean = 0;
        for (uint32_t i = 0; i < N; i++) {
            double mg = m[w.seg[i]], post = (a + w.x[i]) / (a / mg + span), l = w.lambda[i];
            e_fit += (post - l) * (post - l);
            e_raw += (w.x[i] / span - l) * (w.x[i] / span - l);
            e_mean += (mg - l) * (mg - l);
        }
        assert_true(e_fit < e_raw);
        assert_true(e_fit < e_mean);
    }
}

/* The table of each segment's chance of an organic purchase by window (the prior of an execution's control
 * over the span it is counted, xengage_exec.c) against the mean of the chance customer by customer (some with
 * more orders than the table counts per segment), its interpolation against its closed form (linear in log2 of
 * the window between the grid's, in proportion below it, the last beyond), and its record's round trip. */
static void organic_table_by_window(void **state)
{
    (void)state;
    static world w;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), 0);
    const double span = 52 * 168.0, ref = 168;
    gen(&w, 21, 0.3 / 168, 0.8, span); /* ~50 orders a year on average: some customers above 32 */
    double m[G], a, t[G * ENG__XE_OWN];
    const uint32_t n = 4000; /* of the world's customers: enough for every segment, cheap under valgrind */
    assert_int_equal(eng__xe_organic_fit(&mem, w.x, w.seg, n, G, span, m, &a), ENG_OK);
    assert_int_equal(eng__xe_organic_table(&mem, w.x, w.seg, n, G, span, m, a, ref, t), ENG_OK);
    size_t many = 0;
    for (uint32_t i = 0; i < n; i++)
        many += w.x[i] >= 32;
    assert_true(many > 20);
    for (unsigned g = 0; g < G; g++)
        for (unsigned k = 0; k < ENG__XE_OWN; k++) {
            double win = ref * pow(2, (double)k - ENG__XE_OWREF), sum = 0, c = 0;
            for (uint32_t i = 0; i < n; i++)
                if (w.seg[i] == g)
                    sum += eng__xe_organic_p(a, m[g], span, w.x[i], win), c++;
            assert_true(fabs(t[g * ENG__XE_OWN + k] - sum / c) < 1e-12);
            assert_true(k == 0 || t[g * ENG__XE_OWN + k] > t[g * ENG__XE_OWN + k - 1]);
        }
    const double *row = &t[ENG__XE_OWN];
    assert_true(fabs(eng__xe_organic_at(row, ref, ref) - row[ENG__XE_OWREF]) < 1e-15);
    double mid = ref * pow(2, -2.25); /* a quarter of the way from 2^-3 to 2^-2 of a week */
    double want = row[ENG__XE_OWREF - 3] + 0.75 * (row[ENG__XE_OWREF - 2] - row[ENG__XE_OWREF - 3]);
    assert_true(fabs(eng__xe_organic_at(row, ref, mid) - want) < 1e-12);
    assert_true(fabs(eng__xe_organic_at(row, ref, ref / 4096) - row[0] / 4) < 1e-15);
    assert_true(eng__xe_organic_at(row, ref, 1e9) == row[ENG__XE_OWN - 1]);
    assert_true(eng__xe_organic_at(row, ref, 0) == 0);
    eng_store *st;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    double *back = NULL;
    assert_int_equal(eng__xe_organic_get(st, &mem, 7, 1, G, &back), ENG_ENOTFOUND);
    assert_int_equal(eng__xe_organic_put(st, &mem, 7, 1, t, G), ENG_OK);
    assert_int_equal(eng__xe_organic_get(st, &mem, 7, 1, G - 1, &back), ENG_ECORRUPT);
    assert_null(back);
    assert_int_equal(eng__xe_organic_get(st, &mem, 7, 1, G, &back), ENG_OK);
    assert_memory_equal(back, t, sizeof t);
    eng__free(&mem, back);
    eng_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heterogeneity_is_the_likelihood_maximum),
        cmocka_unit_test(everyone_alike_is_poisson),
        cmocka_unit_test(purchase_chance_is_the_posterior_integral),
        cmocka_unit_test(closer_to_the_truth),
        cmocka_unit_test(organic_table_by_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
