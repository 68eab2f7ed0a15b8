/* X-Engage posterior arithmetic against closed forms: Beta-binomial
 * conjugacy, the empirical-Bayes prior (the beta-binomial marginal likelihood
 * maximised by brute force here from the raw counts, and its robustness to
 * adaptively chosen sends), the organic rate's shrinkage across segments (its
 * strength maximising the same likelihood, by brute force with libm's lgamma),
 * the random variates' moments, and the
 * off-policy estimators against a brute-force sum. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decide/xengage.h"
#include "decide/xengage_impl.h"
#include "test_alloc.h"
#include "test_util.h"

#define N 400
#define K 3
#define G 2

typedef struct data {
    unsigned n[N][K], k[N][K], conv[N][K];
} data;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Feed every customer a few messages per channel; remember the raw counts. */
static eng__xe *feed(data *d, int customer_factor)
{
    eng__xe_config c;
    eng__xe_config_default(&c, K, G, N);
    c.customer_factor = customer_factor;
    eng__xe *xe;
    assert_int_equal(eng__xe_create(NULL, &c, &xe), ENG_OK);
    memset(d, 0, sizeof *d);
    uint64_t s = 42;
    for (uint32_t i = 0; i < N; i++)
        for (unsigned ch = 0; ch < K; ch++) {
            unsigned m = (unsigned)(lcg(&s) % 7);
            unsigned p = 20 + 25 * ch + (i % 5) * 10; /* per-mille engagement, varying by customer */
            for (unsigned j = 0; j < m; j++) {
                int e = lcg(&s) % 1000 < p * 4;
                int cv = e && lcg(&s) % 10 < 3;
                d->n[i][ch]++, d->k[i][ch] += e, d->conv[i][ch] += cv;
                eng__xe_observe(xe, i, i % G, ch,
                                ENG__XE_DELIVERED | (e ? ENG__XE_ENGAGED : 0) | (cv ? ENG__XE_CONVERTED : 0));
            }
        }
    eng__xe_refresh(xe);
    return xe;
}

/* Log marginal likelihood of one customer's (n, k) under Beta(a, b), written plainly with lgamma. */
static double bb(double n, double k, double a, double b)
{
    return lgamma(a + k) + lgamma(b + n - k) - lgamma(a + b + n) - lgamma(a) - lgamma(b) + lgamma(a + b);
}

/* A channel's customers as counts per (segment, n, k): every customer with n sends, k engaged. */
#define NMAX 8
typedef struct hist {
    double h[G][NMAX][NMAX];
    double w[G][NMAX][NMAX]; /* pending sends' weights of the customers at (n, k): fractional misses */
} hist;

static void histogram(const data *d, unsigned ch, hist *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < N; i++)
        if (d->n[i][ch])
            out->h[i % G][d->n[i][ch]][d->k[i][ch]] += 1;
}

/* Segment g's log likelihood at Beta(kappa m, kappa (1 - m)), plus S pseudo-observations of mean M. */
static double seg_objective(const hist *h, unsigned g, double kappa, double m, double S, double M)
{
    double s = S > 0 ? S * (M * log(m) + (1 - M) * log(1 - m)) : 0;
    /* bb's lgamma terms, each of the 3 x NMAX distinct ones once (bb(n, k) term for term) */
    double a = kappa * m, b = kappa * (1 - m), la[NMAX], lb[NMAX], lab[NMAX];
    for (unsigned j = 0; j < NMAX; j++)
        la[j] = lgamma(a + j), lb[j] = lgamma(b + j), lab[j] = lgamma(a + b + j);
    for (unsigned n = 0; n < NMAX; n++)
        for (unsigned k = 0; k <= n; k++) {
            if (n && h->h[g][n][k])
                s += h->h[g][n][k] * (la[k] + lb[n - k] - lab[n] - la[0] - lb[0] + lab[0]);
            if (h->w[g][n][k]) /* w of one more miss: (b + n - k)^w / (a + b + n)^w */
                s += h->w[g][n][k] * (log(kappa * (1 - m) + n - k) - log(kappa + n));
        }
    return s;
}

/* Each segment's best mean at kappa by ternary search (concave in it); the sum of their objectives.
 * 52 steps leave a bracket of (2/3)^52 < 1e-9, far inside the tests' 1e-4 (more only cost valgrind minutes). */
static double profile_ref(const hist *h, unsigned ng, double kappa, double S, double M, double *m)
{
    double total = 0;
    for (unsigned g = 0; g < ng; g++) {
        double lo = 1e-6, hi = 1 - 1e-6;
        for (int it = 0; it < 52; it++) {
            double a = lo + (hi - lo) / 3, b = hi - (hi - lo) / 3;
            if (seg_objective(h, g, kappa, a, S, M) < seg_objective(h, g, kappa, b, S, M))
                lo = a;
            else
                hi = b;
        }
        m[g] = 0.5 * (lo + hi);
        total += seg_objective(h, g, kappa, m[g], S, M);
    }
    return total;
}

/* Brute force over kappa in [1, 499]: a grid of 100 points in log kappa, then ternary search around the
 * best one (40 steps: a bracket of 0.12 (2/3)^40 < 1e-8 in log kappa; the tests ask 0.01). ng = 1 with the
 * segments merged into segment 0: the pooled fit. */
static double reference_fit(const hist *h, unsigned ng, double S, double M, double *m)
{
    double best = -INFINITY, bt = 0;
    for (int t = 0; t <= 100; t++) {
        double x = log(499.0) * t / 100, f = profile_ref(h, ng, exp(x), S, M, m);
        if (f > best)
            best = f, bt = x;
    }
    double lo = bt - log(499.0) / 100, hi = bt + log(499.0) / 100;
    lo = lo < 0 ? 0 : lo, hi = hi > log(499.0) ? log(499.0) : hi;
    for (int it = 0; it < 40; it++) {
        double a = lo + (hi - lo) / 3, b = hi - (hi - lo) / 3;
        if (profile_ref(h, ng, exp(a), S, M, m) < profile_ref(h, ng, exp(b), S, M, m))
            lo = a;
        else
            hi = b;
    }
    profile_ref(h, ng, exp(0.5 * (lo + hi)), S, M, m);
    return exp(0.5 * (lo + hi));
}

static void empirical_bayes_prior_maximises_the_marginal_likelihood(void **st)
{
    (void)st;
    static data d;
    eng__xe *xe = feed(&d, 0);
    /* The brute-force fit is minutes under valgrind/tsan: one channel there, every channel elsewhere. */
    unsigned channels = test_slow_runtime() ? 1 : K;
    for (unsigned ch = 0; ch < channels; ch++) {
        /* The channel's mean (segments pooled), then the segments' means and the shared strength with 10
         * pseudo-observations of that mean each. */
        hist h, pooled;
        histogram(&d, ch, &h);
        memset(&pooled, 0, sizeof pooled);
        for (unsigned g = 0; g < G; g++)
            for (unsigned n = 0; n < NMAX; n++)
                for (unsigned k = 0; k < NMAX; k++)
                    pooled.h[0][n][k] += h.h[g][n][k];
        double pm[G], m[G], mm[G];
        reference_fit(&pooled, 1, 0, 0, pm);
        double kappa = reference_fit(&h, G, 10, pm[0], m);
        double got = 1 / eng__xe_rho(xe, ch) - 1;
        for (unsigned g = 0; g < G; g++) {
            eng__xe_beta b = eng__xe_q_posterior(xe, g, g, ch);
            mm[g] = (b.a - d.k[g][ch]) / got;
            assert_true(fabs((b.b - (d.n[g][ch] - d.k[g][ch])) / got - (1 - mm[g])) < 1e-9);
            assert_true(fabs(mm[g] - m[g]) < 1e-4);
        }
        assert_true(fabs(log(got / kappa)) < 0.01);
        double fg = 0, fr = 0;
        for (unsigned g = 0; g < G; g++)
            fg += seg_objective(&h, g, got, mm[g], 10, pm[0]), fr += seg_objective(&h, g, kappa, m[g], 10, pm[0]);
        assert_true(fg >= fr - 1e-4);
        for (uint32_t i = 0; i < N; i += 37) {
            eng__xe_beta b = eng__xe_q_posterior(xe, i, i % G, ch);
            assert_true(fabs(b.a - (got * mm[i % G] + d.k[i][ch])) < 1e-9);
            assert_true(fabs(b.b - (got * (1 - mm[i % G]) + d.n[i][ch] - d.k[i][ch])) < 1e-9);
        }
    }
    eng__xe_free(xe);
}

/* Sends still open count as fractions of a miss (eng__xe_pending): the fit maximises the likelihood with
 * each open send's term raised to its weight, against the brute force; a reset forgets them. */
static void pending_sends_are_fractional_misses(void **st)
{
    (void)st;
    static data d;
    eng__xe *xe = feed(&d, 0);
    unsigned ch = 1;
    double before = eng__xe_q_posterior(xe, 0, 0, ch).a, m_before = (before - d.k[0][ch]) / (1 / eng__xe_rho(xe, ch) - 1);
    hist h, pooled;
    histogram(&d, ch, &h);
    for (uint32_t i = 0; i < N; i += 3) {
        double w = (double)(i % 10 + 1) / 10;
        assert_int_equal(eng__xe_pending(xe, i, i % G, ch, w), ENG_OK);
        h.w[i % G][d.n[i][ch]][d.k[i][ch]] += w;
    }
    eng__xe_refresh(xe);
    memset(&pooled, 0, sizeof pooled);
    for (unsigned g = 0; g < G; g++)
        for (unsigned n = 0; n < NMAX; n++)
            for (unsigned k = 0; k < NMAX; k++)
                pooled.h[0][n][k] += h.h[g][n][k], pooled.w[0][n][k] += h.w[g][n][k];
    double pm[G], m[G];
    reference_fit(&pooled, 1, 0, 0, pm);
    double kappa = reference_fit(&h, G, 10, pm[0], m);
    double got = 1 / eng__xe_rho(xe, ch) - 1;
    assert_true(fabs(log(got / kappa)) < 0.01);
    for (unsigned g = 0; g < G; g++) {
        eng__xe_beta b = eng__xe_q_posterior(xe, g, g, ch);
        assert_true(fabs((b.a - d.k[g][ch]) / got - m[g]) < 1e-4);
    }
    /* The misses pull the rate down; the customers' own counts do not move. */
    assert_true((eng__xe_q_posterior(xe, 0, 0, ch).a - d.k[0][ch]) / got < m_before - 0.005);
    unsigned n0, k0;
    eng__xe_counts(xe, 0, ch, &n0, &k0);
    assert_true(n0 == d.n[0][ch] && k0 == d.k[0][ch]);
    eng__xe_pending_reset(xe);
    eng__xe_refresh(xe);
    assert_true(fabs(eng__xe_q_posterior(xe, 0, 0, ch).a - before) < 1e-12);
    eng__xe_free(xe);
}

/* The cure model's log posterior (xengage_delay.c): answered k with delays summing to T, open sends n[j] at
 * elapsed e[j], prior a0 answers of mean m0. */
static double delay_objective(double q, double mu, double k, double T, const double *n, const double *e,
                              unsigned m, double a0, double m0)
{
    double f = k * log(q) - (k + a0) * log(mu) - (T + a0 * m0) / mu;
    for (unsigned j = 0; j < m; j++)
        f += n[j] * log(1 - q + q * exp(-e[j] / mu));
    return f;
}

/* Its maximum by brute force: q by ternary search (concave at fixed mu), mu over a grid of log mu and a
 * ternary search around the grid's best. */
static double delay_best_q(double mu, double k, double T, const double *n, const double *e, unsigned m, double a0,
                           double m0, double *f)
{
    double lo = 1e-9, hi = 1 - 1e-12;
    for (int it = 0; it < 200; it++) {
        double a = lo + (hi - lo) / 3, b = hi - (hi - lo) / 3;
        if (delay_objective(a, mu, k, T, n, e, m, a0, m0) < delay_objective(b, mu, k, T, n, e, m, a0, m0))
            lo = a;
        else
            hi = b;
    }
    *f = delay_objective(0.5 * (lo + hi), mu, k, T, n, e, m, a0, m0);
    return 0.5 * (lo + hi);
}

static double delay_reference(double k, double T, const double *n, const double *e, unsigned m, double a0, double m0,
                              double *q)
{
    double best = -INFINITY, bx = 0, f;
    for (int t = 0; t <= 400; t++) {
        double x = log(0.1) + (log(1e4) - log(0.1)) * t / 400;
        delay_best_q(exp(x), k, T, n, e, m, a0, m0, &f);
        if (f > best)
            best = f, bx = x;
    }
    double step = (log(1e4) - log(0.1)) / 400, lo = bx - step, hi = bx + step, fa, fb;
    for (int it = 0; it < 100; it++) {
        double a = lo + (hi - lo) / 3, b = hi - (hi - lo) / 3;
        delay_best_q(exp(a), k, T, n, e, m, a0, m0, &fa);
        delay_best_q(exp(b), k, T, n, e, m, a0, m0, &fb);
        if (fa < fb)
            lo = a;
        else
            hi = b;
    }
    *q = delay_best_q(exp(0.5 * (lo + hi)), k, T, n, e, m, a0, m0, &f);
    return exp(0.5 * (lo + hi));
}

/* A channel's delays under censoring (eng__xe_delay_fit): closed forms, the brute-force mode, and the truth
 * of a large simulated channel. */
static void response_delay_is_fitted_under_censoring(void **st)
{
    (void)st;
    eng__xe_delays d;
    double q;
    /* Nothing open: every send answered; the mean is the answered delays' with the prior's. */
    eng__xe_delays_init(&d, 20, 16);
    for (int i = 0; i < 50; i++)
        eng__xe_delays_answered(&d, i % 7);
    assert_true(fabs(eng__xe_delay_fit(&d, &q) - (147.0 + 20 * 16) / 70) < 1e-9);
    assert_true(fabs(q - 1) < 1e-9);
    /* Open sends long closed: misses for certain, q = k / (k + m), the mean as before. */
    eng__xe_delays_open(&d, 1e9, 150);
    assert_true(fabs(eng__xe_delay_fit(&d, &q) - (147.0 + 20 * 16) / 70) < 1e-6);
    assert_true(fabs(q - 0.25) < 1e-9);
    /* Nothing answered and no prior: the prior's mean (no data tells a delay). */
    eng__xe_delays_init(&d, 0, 16);
    eng__xe_delays_open(&d, 3, 100);
    assert_true(eng__xe_delay_fit(&d, &q) == 16);
    /* Early: answers and sends open a few hours; the posterior mode against the brute force, with a prior
     * and without (the likelihood alone has its maximum inside here). */
    const double n[5] = {300, 300, 300, 200, 100}, e[5] = {2, 5, 9, 20, 50};
    for (int pass = 0; pass < 2; pass++) {
        double a0 = pass ? 0 : 20, m0 = 16;
        eng__xe_delays_init(&d, a0, m0);
        for (int i = 0; i < 60; i++)
            eng__xe_delays_answered(&d, 1 + i % 11);
        for (int j = 0; j < 5; j++)
            eng__xe_delays_open(&d, e[j], n[j]);
        double qr, mr = delay_reference(60, d.t, n, e, 5, a0, m0, &qr), mu = eng__xe_delay_fit(&d, &q);
        assert_true(fabs(log(mu / mr)) < 1e-3);
        assert_true(fabs(q - qr) < 1e-4);
    }
    /* A large channel, q = 0.2 and mean 12 h, sends left evenly over 72 h and seen at the end: the truth. */
    uint64_t s = 7;
    eng__xe_delays_init(&d, 20, 16);
    for (int i = 0; i < 200000; i++) {
        double el = 72.0 * (i + 0.5) / 200000, u = (double)(lcg(&s) % 1000000 + 1) / 1000001;
        double t = -12 * log((double)(lcg(&s) % 1000000 + 1) / 1000001);
        if (u < 0.2 && t <= el)
            eng__xe_delays_answered(&d, t);
        else
            eng__xe_delays_open(&d, el, 1);
    }
    double mu = eng__xe_delay_fit(&d, &q);
    assert_true(fabs(mu / 12 - 1) < 0.05);
    assert_true(fabs(q / 0.2 - 1) < 0.03);
}

/* Sends chosen from what was seen (a customer who engaged is sent again, one who did not is dropped)
 * over-weight engaged customers in pooled moments; the fitted prior stays at the population's. */
static void prior_is_not_biased_by_adaptive_sends(void **st)
{
    (void)st;
    enum { NC = 20000 };
    eng__xe_config c;
    eng__xe_config_default(&c, 1, 1, NC + 1); /* the last customer has no data */
    c.customer_factor = 0;
    eng__xe *xe;
    assert_int_equal(eng__xe_create(NULL, &c, &xe), ENG_OK);
    const double m = 0.2, kappa = 4; /* q ~ Beta(0.8, 3.2) */
    eng__xe_rng r = eng__xe_rng_at(5, 0, 0);
    double sent = 0, eng = 0;
    for (uint32_t i = 0; i < NC; i++) {
        double q = eng__xe_beta_draw(&r, kappa * m, kappa * (1 - m));
        for (unsigned t = 0; t < 20; t++) {
            int e = eng__xe_uniform(&r) < q;
            eng__xe_observe(xe, i, 0, 0, ENG__XE_DELIVERED | (e ? ENG__XE_ENGAGED : 0));
            sent += 1, eng += e;
            if (!e)
                break;
        }
    }
    eng__xe_refresh(xe);
    eng__xe_beta b = eng__xe_q_posterior(xe, NC, 0, 0); /* a customer without data: the prior */
    double fm = b.a / (b.a + b.b), fk = b.a + b.b;
    assert_true(eng / sent > m + 0.05);        /* the pooled rate is far off */
    assert_true(fabs(fm - m) < 0.015);         /* the fit is not */
    assert_true(fk > 0.7 * kappa && fk < 1.4 * kappa);
    eng__xe_free(xe);
}

static void conjugate_updates_add_one(void **st)
{
    (void)st;
    static data d;
    eng__xe *xe = feed(&d, 0);
    /* Without a refresh the prior stays: one engagement adds 1 to a, one miss 1 to b. */
    eng__xe_beta b0 = eng__xe_q_posterior(xe, 5, 1, 2);
    eng__xe_observe(xe, 5, 1, 2, ENG__XE_DELIVERED | ENG__XE_ENGAGED);
    eng__xe_beta b1 = eng__xe_q_posterior(xe, 5, 1, 2);
    assert_true(fabs(b1.a - b0.a - 1) < 1e-12 && fabs(b1.b - b0.b) < 1e-12);
    eng__xe_observe(xe, 5, 1, 2, ENG__XE_DELIVERED);
    eng__xe_beta b2 = eng__xe_q_posterior(xe, 5, 1, 2);
    assert_true(fabs(b2.a - b1.a) < 1e-12 && fabs(b2.b - b1.b - 1) < 1e-12);
    /* An undelivered message teaches nothing about the customer. */
    eng__xe_observe(xe, 5, 1, 2, 0);
    eng__xe_beta b3 = eng__xe_q_posterior(xe, 5, 1, 2);
    assert_true(b3.a == b2.a && b3.b == b2.b);
    /* Conversion given engagement: Beta(pa, pb) gains the segment's conversions. */
    eng__xe_beta p0 = eng__xe_pi_posterior(xe, 0, 1);
    eng__xe_observe(xe, 10, 0, 1, ENG__XE_DELIVERED | ENG__XE_ENGAGED | ENG__XE_CONVERTED);
    eng__xe_observe(xe, 12, 0, 1, ENG__XE_DELIVERED | ENG__XE_ENGAGED | ENG__XE_NO_CONV);
    eng__xe_beta p1 = eng__xe_pi_posterior(xe, 0, 1);
    assert_true(p1.a == p0.a && p1.b == p0.b); /* until the refresh */
    eng__xe_free(xe);
}

static void customer_factor_is_the_gamma_poisson_mean(void **st)
{
    (void)st;
    static data d;
    eng__xe *with = feed(&d, 1), *without = feed(&d, 0);
    /* The segment means are those of the model without the factor. */
    double m[G][K], kk = 0, ee = 0;
    for (unsigned g = 0; g < G; g++)
        for (unsigned ch = 0; ch < K; ch++) {
            eng__xe_beta b = eng__xe_q_posterior(without, g, g, ch);
            b.a -= d.k[g][ch], b.b -= d.n[g][ch] - d.k[g][ch];
            m[g][ch] = b.a / (b.a + b.b);
        }
    for (uint32_t i = 0; i < N; i++)
        for (unsigned c1 = 0; c1 < K; c1++)
            for (unsigned c2 = 0; c2 < K; c2++)
                if (c1 != c2) {
                    kk += (double)d.k[i][c1] * d.k[i][c2];
                    ee += d.n[i][c1] * m[i % G][c1] * d.n[i][c2] * m[i % G][c2];
                }
    double a = 1 / (kk / ee - 1);
    assert_true(kk / ee - 1 > 1e-3);
    for (uint32_t i = 1; i < N; i += 41) {
        unsigned g = i % G, ch = i % K;
        double o = 0, e = 0;
        for (unsigned c = 0; c < K; c++)
            if (c != ch && d.n[i][c])
                o += d.k[i][c], e += d.n[i][c] * m[g][c];
        double mean = m[g][ch] * (o + a) / (e + a);
        eng__xe_beta b = eng__xe_q_posterior(with, i, g, ch);
        double pa = b.a - d.k[i][ch], pb = b.b - (d.n[i][ch] - d.k[i][ch]);
        assert_true(fabs(pa / (pa + pb) - (mean > 0.995 ? 0.995 : mean)) < 1e-9);
    }
    eng__xe_free(with);
    eng__xe_free(without);
}

static void variates_have_their_moments(void **st)
{
    (void)st;
    const double ab[][2] = {{0.3, 5}, {2, 3}, {50, 200}, {0.05, 0.5}, {45, 45}};
    const int n = 200000;
    for (size_t t = 0; t < sizeof ab / sizeof ab[0]; t++) {
        double a = ab[t][0], b = ab[t][1], s = 0, s2 = 0;
        eng__xe_rng r = eng__xe_rng_at(7, (uint32_t)t, 1);
        for (int i = 0; i < n; i++) {
            double x = eng__xe_beta_draw(&r, a, b);
            assert_true(x >= 0 && x <= 1);
            s += x, s2 += x * x;
        }
        double mean = a / (a + b), var = a * b / ((a + b) * (a + b) * (a + b + 1));
        double m = s / n, v = s2 / n - m * m;
        assert_true(fabs(m - mean) < 5 * sqrt(var / n));
        assert_true(fabs(v - var) < 0.05 * var);
    }
    const double shapes[] = {0.2, 1, 7.5};
    for (size_t t = 0; t < 3; t++) {
        eng__xe_rng r = eng__xe_rng_at(9, (uint32_t)t, 2);
        double s = 0;
        for (int i = 0; i < n; i++)
            s += eng__xe_gamma(&r, shapes[t]);
        assert_true(fabs(s / n - shapes[t]) < 5 * sqrt(shapes[t] / n));
    }
    eng__xe_rng r = eng__xe_rng_at(11, 3, 4);
    double s = 0, s2 = 0;
    int below = 0;
    for (int i = 0; i < n; i++) {
        double z = eng__xe_normal(&r);
        s += z, s2 += z * z, below += z < 1.959963984540054;
    }
    assert_true(fabs(s / n) < 5 / sqrt(n));
    assert_true(fabs(s2 / n - 1) < 0.02);
    assert_true(fabs((double)below / n - 0.975) < 5 * sqrt(0.975 * 0.025 / n));
}

/* log Gamma against closed forms: factorials, Gamma(1/2) = sqrt(pi), and libm's lgamma between. */
static void log_gamma_matches_closed_forms(void **st)
{
    (void)st;
    double f = 0; /* log (n - 1)! */
    for (unsigned n = 1; n <= 40; n++) {
        assert_true(fabs(eng__xe_log_gamma(n) - f) < 1e-9 * (1 + f));
        f += log((double)n);
    }
    assert_true(fabs(eng__xe_log_gamma(0.5) - 0.5 * log(3.14159265358979323846)) < 1e-10);
    uint64_t s = 7;
    for (int i = 0; i < 2000; i++) {
        double x = exp((double)(lcg(&s) % 100000) / 100000 * 16 - 7); /* 1e-3 .. 8e3 */
        assert_true(fabs(eng__xe_log_gamma(x) - lgamma(x)) < 1e-9 * (1 + fabs(lgamma(x))));
    }
}

/* The organic rates' cells: segment g has n[g] control customers (decayed: real) and k[g] purchases. */
#define OG 12
static double strength_loglik_ref(const double *n, const double *k, double p, double s)
{
    double t = 0;
    for (unsigned g = 0; g < OG; g++)
        if (n[g] > 0)
            t += bb(n[g], k[g], s * p, s * (1 - p));
    return t;
}

/* Brute force: a grid of 2,000 points in log s over [lo, hi]. */
static double strength_ref(const double *n, const double *k, double p, double lo, double hi)
{
    double best = -INFINITY, bs = lo;
    for (int t = 0; t <= 2000; t++) {
        double sv = exp(log(lo) + (log(hi) - log(lo)) * t / 2000), f = strength_loglik_ref(n, k, p, sv);
        if (f > best)
            best = f, bs = sv;
    }
    return bs;
}

/* Each segment's organic rate is its control's, shrunk toward the pooled rate with the strength that
 * maximises the beta-binomial likelihood of the segments' counts: segments that buy alike are pooled
 * (a handful of purchases each must not make them look different), segments that differ keep their own. */
static void organic_rate_strength_maximises_the_marginal_likelihood(void **st)
{
    (void)st;
    uint64_t s = 99;
    int pooled = 0, apart = 0, worlds = test_slow_runtime() ? 8 : 40;
    for (int world = 0; world < worlds; world++) {
        int alike = world % 2 == 0;
        double n[OG], k[OG], bn = 0, bc = 0;
        eng__xe_config c;
        eng__xe_config_default(&c, 2, OG, 10);
        eng__xe *xe;
        assert_int_equal(eng__xe_create(NULL, &c, &xe), ENG_OK);
        for (unsigned g = 0; g < OG; g++) {
            /* alike: every segment buys at 2 %; apart: 0.5 % to 16 % */
            double rate = alike ? 0.02 : 0.005 * pow(2, (double)(g % 6)), m = 100 + (double)(lcg(&s) % 2000);
            uint32_t nn = (uint32_t)m, kk = 0;
            for (uint32_t i = 0; i < nn; i++)
                kk += (double)(lcg(&s) % 1000000) < rate * 1e6;
            eng__xe_baseline(xe, g, nn, kk);
            n[g] = nn, k[g] = kk;
        }
        if (world % 4 >= 2) { /* a new wave decays the counts: real numbers */
            eng__xe_new_wave(xe);
            for (unsigned g = 0; g < OG; g++)
                n[g] *= c.forget, k[g] *= c.forget;
        }
        eng__xe_refresh(xe);
        for (unsigned g = 0; g < OG; g++)
            bn += n[g], bc += k[g];
        double p = bc / bn, lo = 2, hi = 1e7;
        double ref = strength_ref(n, k, p, lo, hi);
        double got = eng__xe_fit_strength(n, k, 1, OG, p, lo, hi);
        /* as likely as the brute force's best, and where it is (the grid's step is 0.8 % in s) */
        double lg = strength_loglik_ref(n, k, p, got), lr = strength_loglik_ref(n, k, p, ref);
        assert_true(lg >= lr - 1e-8 * fabs(lr)); /* at the flat upper end the grid's last point is hi itself */
        if (ref < hi / 2)
            assert_true(fabs(log(got / ref)) < 0.02);
        for (unsigned g = 0; g < OG; g++) {
            double want = (k[g] + got * p) / (n[g] + got);
            assert_true(fabs(eng__xe_mean_organic(xe, g) - want) < 1e-6 * want + 1e-12);
        }
        pooled += alike && got > 1000;
        apart += !alike && got < 100;
        eng__xe_free(xe);
    }
    /* Power: the segments that buy alike are pooled, those that differ are not, in most worlds. */
    assert_true(pooled >= worlds / 2 * 3 / 4);
    assert_true(apart >= worlds / 2 - 1);
}

/* A channel without data takes its engagement prior from the channels with data (a beta over channels):
 * the closed forms of eng__xe_unseen_prior's comment, its strength by brute force. */
static void unseen_channel_prior_is_the_spread_between_channels(void **st)
{
    (void)st;
    double m = -1, kappa = -1;
    double s1[3] = {1000, 0, 0}, e1[3] = {100, 0, 0}, r1[3] = {0.1, 0, 0};
    assert_int_equal(eng__xe_unseen_prior(s1, e1, r1, 3, &m, &kappa), 0); /* one channel: no spread */
    assert_true(m == -1 && kappa == -1);
    /* Two channels alike with huge counts: no spread between them (tau at its top), so the spread is the
     * customers' within a channel, kappa = 1 / rho - 1; the mean is their rate. */
    double s2[3] = {1e8, 0, 1e8}, e2[3] = {0.2 * (1e8 + 1) - 0.5, 0, 0.2 * (1e8 + 1) - 0.5}, r2[3] = {0.05, 0, 0.05};
    assert_int_equal(eng__xe_unseen_prior(s2, e2, r2, 3, &m, &kappa), 1);
    assert_true(fabs(m - 0.2) < 1e-12);
    assert_true(fabs(kappa - 19) < 1e-3);
    /* Channels apart: the mean of their rates, the strength tau of the brute force's best. */
    double n[OG] = {0}, k[OG] = {0}, rho[4] = {0.1, 0.2, 0.05, 0.3}, mu = 0, within = 0;
    const double rate[4] = {0.02, 0.3, 0.06, 0.01}, sent[4] = {5000, 800, 20000, 300};
    for (unsigned c = 0; c < 4; c++) {
        n[c] = sent[c], k[c] = round(rate[c] * sent[c]);
        double r = (k[c] + 0.5) / (n[c] + 1);
        mu += r / 4, within += rho[c] * r * (1 - r) / 4;
    }
    double tau = strength_ref(n, k, mu, 1, 1e6), v = mu * (1 - mu) / (tau + 1) * (1 + 1.0 / 4) + within;
    assert_int_equal(eng__xe_unseen_prior(n, k, rho, 4, &m, &kappa), 1);
    assert_true(fabs(m - mu) < 1e-12);
    assert_true(fabs(log(kappa / (mu * (1 - mu) / v - 1))) < 0.02);
    assert_true(kappa < 1 / 0.05 - 1); /* wider than any channel's customers alone */
    /* Rates above 1/2: their mean (no cap; the strength at that mean, as above). */
    double s3[2] = {100, 100}, e3[2] = {80, 95}, r3[2] = {0.1, 0.1};
    assert_int_equal(eng__xe_unseen_prior(s3, e3, r3, 2, &m, &kappa), 1);
    assert_true(fabs(m - (80.5 + 95.5) / 202) < 1e-12);
}

/* The cold prior of conversion given engagement: p0 + (1 - p0) E[pi], pi log-uniform on [p0, 1], against
 * the mean by a midpoint sum over the density 1 / (pi ln(1 / p0)) in log space; 1/2 when p0 is unknown. */
static void cold_conversion_is_the_log_uniform_lift(void **st)
{
    (void)st;
    const double p0s[] = {1e-4, 0.005, 0.02, 0.1, 0.5, 0.9};
    for (size_t j = 0; j < sizeof p0s / sizeof p0s[0]; j++) {
        double p0 = p0s[j], lo = log(p0), mass = 0, mean = 0;
        const int n = 200000;
        for (int i = 0; i < n; i++) { /* pi = e^u, u uniform on [ln p0, 0]: weight du / -ln p0 */
            double u = lo * (1 - (i + 0.5) / n), w = 1.0 / n;
            mass += w, mean += w * exp(u);
        }
        double want = p0 + (1 - p0) * mean / mass;
        assert_true(fabs(eng__xe_cold_conversion(p0) - want) < 1e-9);
        assert_true(eng__xe_cold_conversion(p0) > p0 && eng__xe_cold_conversion(p0) < 1);
    }
    assert_true(eng__xe_cold_conversion(0.02) < 0.3); /* far below the uniform prior's 1/2 */
    assert_true(eng__xe_cold_conversion(0) == 0.5);
    assert_true(eng__xe_cold_conversion(-1) == 0.5);
    assert_true(eng__xe_cold_conversion(1) == 0.5);
    assert_true(eng__xe_cold_conversion(NAN) == 0.5);
}

/* The guard rail's lower quantile of that prior: the share of the lift's mass below it, by a midpoint sum over
 * the log-uniform density, is alpha; alpha itself when p0 is unknown (r uniform); below the prior's mean. */
static void cold_conversion_quantile_holds_its_mass(void **st)
{
    (void)st;
    const double p0s[] = {1e-4, 0.005, 0.02, 0.1, 0.5, 0.9}, alphas[] = {0.01, 0.05, 0.25, 0.5};
    for (size_t j = 0; j < sizeof p0s / sizeof p0s[0]; j++)
        for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
            double p0 = p0s[j], alpha = alphas[a], r = eng__xe_cold_conversion_low(p0, alpha);
            double x = (r - p0) / (1 - p0), lo = log(p0), below = 0; /* the lift at the quantile */
            const int n = 200000;
            for (int i = 0; i < n; i++) { /* pi = e^u, u uniform on [ln p0, 0] */
                double u = lo * (1 - (i + 0.5) / n);
                below += exp(u) <= x ? 1.0 / n : 0;
            }
            assert_true(fabs(below - alpha) < 2e-5);
            assert_true(r > p0 && r < eng__xe_cold_conversion(p0));
        }
    assert_true(eng__xe_cold_conversion_low(-1, 0.05) == 0.05);
    assert_true(eng__xe_cold_conversion_low(0, 0.05) == 0.05);
    assert_true(eng__xe_cold_conversion_low(NAN, 0.2) == 0.2);
    /* p0 = 2 %: a lift of at least 2.45 % with 95 % (the prior's mean is 25 %). */
    assert_true(fabs(eng__xe_cold_conversion_low(0.02, 0.05) - (0.02 + 0.98 * pow(0.02, 0.95))) < 1e-15);
}

/* The cold prior's variance against a midpoint sum over the log-uniform density of the lift (the top of the
 * guard rail's hierarchy of variances), and r uniform when p0 is unknown. */
static void cold_conversion_variance_is_the_log_uniform_lift(void **st)
{
    (void)st;
    const double p0s[] = {1e-4, 0.005, 0.02, 0.1, 0.5, 0.9};
    for (size_t j = 0; j < sizeof p0s / sizeof p0s[0]; j++) {
        double p0 = p0s[j], lo = log(p0), m = 0, m2 = 0;
        const int n = 200000;
        for (int i = 0; i < n; i++) { /* pi = e^u, u uniform on [ln p0, 0]; r = p0 + (1 - p0) pi */
            double r = p0 + (1 - p0) * exp(lo * (1 - (i + 0.5) / n));
            m += r / n, m2 += r * r / n;
        }
        double v = eng__xe_cold_conversion_var(p0);
        assert_true(fabs(m - eng__xe_cold_conversion(p0)) < 1e-8);
        assert_true(fabs(v - (m2 - m * m)) < 1e-8 * (1 + v));
    }
    assert_true(eng__xe_cold_conversion_var(-1) == 1.0 / 12);
    assert_true(eng__xe_cold_conversion_var(1) == 1.0 / 12);
}

/* The expected value of perfect information about X ~ N(mean, sd^2) against an alternative worth alt,
 * E[max(alt, X)] - max(alt, mean), against Simpson's rule over the normal density. */
static void value_of_information_is_the_normal_integral(void **st)
{
    (void)st;
    const double cases[][3] = {{0, 1, 0}, {-0.5, 0.2, 0}, {0.3, 0.1, 0.25}, {-3, 1, 0}, {1, 0.5, -1}, {-0.02, 0.3, 0.1}};
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        double mean = cases[j][0], sd = cases[j][1], alt = cases[j][2];
        const int n = 20000; /* Simpson over mean +- 12 sd */
        double a = mean - 12 * sd, h = 24 * sd / n, sum = 0;
        for (int i = 0; i <= n; i++) {
            double x = a + i * h, z = (x - mean) / sd;
            double f = (x > alt ? x : alt) * exp(-0.5 * z * z) / (sd * sqrt(2 * M_PI));
            sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
        }
        double want = sum * h / 3 - (mean > alt ? mean : alt);
        assert_true(fabs(eng__xe_evpi(mean, sd, alt) - want) < 1e-9);
    }
    assert_true(eng__xe_evpi(1, 0, 0) == 0);
    assert_true(eng__xe_evpi(-1e6, 1, 0) == 0); /* nothing to learn: never a negative value */
}

/* The share of a posterior sd that dn more observations resolve beyond f in flight (eng__xe_explore_grow),
 * against a normal-normal model simulated: theta ~ N(0, 1/n), each observation N(theta, 1); the posterior
 * mean after f and after f + dn observations (their sums drawn as N(m theta, m)); the sd of the difference of
 * the two means over sqrt(1/n), 400,000 draws each, within 1 %. And the closed forms at the edges. */
static void information_in_flight_is_not_bought_again(void **st)
{
    (void)st;
    const double cases[][3] = {{2, 0, 11}, {2, 8, 11}, {10, 50, 3}, {0.5, 100, 1000}, {40, 1, 1}};
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        double n = cases[j][0], f = cases[j][1], dn = cases[j][2], s2 = 0;
        /* a quarter under valgrind and TSan: the simulation's standard error, 0.1 % of it here, 0.2 % there */
        const int draws = test_slow_runtime() ? 100000 : 400000;
        eng__xe_rng r = eng__xe_rng_at(7, (uint32_t)j, 3);
        for (int i = 0; i < draws; i++) {
            double th = eng__xe_normal(&r) / sqrt(n);
            double sf = f * th + sqrt(f) * eng__xe_normal(&r), sd = dn * th + sqrt(dn) * eng__xe_normal(&r);
            double d = (sf + sd) / (n + f + dn) - sf / (n + f);
            s2 += d * d;
        }
        double want = sqrt(s2 / draws) / sqrt(1 / n), got = eng__xe_explore_grow(n, f, dn);
        printf("explore grow n %g f %g dn %g: %.4f (simulated %.4f)\n", n, f, dn, got, want);
        assert_true(fabs(got - want) < 0.01 * want);
    }
    assert_true(fabs(eng__xe_explore_grow(3, 0, 5) - sqrt(5.0 / 8)) < 1e-15); /* nothing in flight: as before */
    assert_true(eng__xe_explore_grow(3, 7, 0) == 0);
    assert_true(eng__xe_explore_grow(3, 1e9, 5) < 1e-4); /* everything already coming: nothing left to buy */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empirical_bayes_prior_maximises_the_marginal_likelihood),
        cmocka_unit_test(prior_is_not_biased_by_adaptive_sends),
        cmocka_unit_test(pending_sends_are_fractional_misses),
        cmocka_unit_test(cold_conversion_is_the_log_uniform_lift),
        cmocka_unit_test(cold_conversion_quantile_holds_its_mass),
        cmocka_unit_test(cold_conversion_variance_is_the_log_uniform_lift),
        cmocka_unit_test(value_of_information_is_the_normal_integral),
        cmocka_unit_test(information_in_flight_is_not_bought_again),
        cmocka_unit_test(response_delay_is_fitted_under_censoring),
        cmocka_unit_test(conjugate_updates_add_one),
        cmocka_unit_test(customer_factor_is_the_gamma_poisson_mean),
        cmocka_unit_test(variates_have_their_moments),
        cmocka_unit_test(log_gamma_matches_closed_forms),
        cmocka_unit_test(organic_rate_strength_maximises_the_marginal_likelihood),
        cmocka_unit_test(unseen_channel_prior_is_the_spread_between_channels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
