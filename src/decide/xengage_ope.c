/* Off-policy estimates from X-Engage's exploration bucket: what another
 * policy (priority, greedy, ...) would have earned on the same campaign.
 * IPW reweights the uniform bucket's rewards where the logged channel is the
 * one the target policy would pick; doubly robust (Dudik, Langford, Li 2011)
 * starts from the model's estimate and corrects it with the same weights.
 *
 * Intervals are studentized bootstrap (bootstrap-t) intervals over customers,
 * the bucket and the control group resampled apart. Why not the normal
 * interval: a reward is a rare conversion times an order value times a weight
 * of up to K, so the sample variance is made of the few conversions drawn; a
 * campaign that drew fewer reports both a lower value and a smaller variance,
 * and the normal interval missed high far more often than 5 % (docs/xengage.md,
 * "Off-policy intervals"). The quantiles of (theta* - theta) / se* carry that
 * skew: a low draw gets a long upper arm. A resample cannot hold more
 * conversions than were drawn, though, so with one or two of them the upper
 * end is still too low: it is taken as though one more conversion had been
 * drawn (Fay and Feuer 1997's bound for weighted Poisson sums, with the mean
 * weight of Tiwari, Clegg and Zou 2006 rather than the largest).
 *
 * Resampling draws come from the counter-based stream (seed, replicate), so an
 * interval is bit-identical for a seed and the same rows. Values that repeat
 * (a non-buyer's cost, the control's zeros) are drawn as counts, the rest one
 * by one: a resample costs the buyers, not the rows. */
#include "decide/xengage.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OPE_B ENG__XE_OPE_REPLICATES
#define Z95 1.959963984540054
#define GROUPS 64 /* repeated values drawn as counts; the first 64 distinct ones seen */
#define SLOTS 128

static double x_ipw(const eng__xe_ope_row *r)
{
    double w = r->target == r->logged && r->propensity > 0 ? 1.0 / r->propensity : 0;
    return w * r->reward;
}

static double x_dr(const eng__xe_ope_row *r)
{
    double w = r->target == r->logged && r->propensity > 0 ? 1.0 / r->propensity : 0;
    return r->dm_target + w * (r->reward - r->dm_logged);
}

/* Mean and squared standard error of a sample from its sums. */
static void moments(double s, double s2, size_t n, double *mean, double *var_of_mean)
{
    double m = n ? s / (double)n : 0;
    double v = n > 1 ? (s2 - (double)n * m * m) / (double)(n - 1) : 0;
    *mean = m;
    *var_of_mean = v > 0 && n ? v / (double)n : 0;
}

/* Index of a uniform draw among @p n (n < 2^32): the top 32 bits scaled, never n. */
static size_t pick(eng__xe_rng *r, size_t n)
{
    return (size_t)(((eng__xe_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* How many of @p t draws from @p pop items hit one of @p k of them: Binomial(t, k / pop), by
 * inversion (exact) up to a mean of 500, past that the normal with the same moments (its skew is
 * below 5 %). Counted on the rarer side, so q^t stays far from underflow (p <= 1/2, mean <= 500). */
static size_t binom(eng__xe_rng *r, size_t t, size_t k, size_t pop)
{
    if (t == 0 || k == 0)
        return 0;
    if (k >= pop)
        return t;
    if (k > pop - k)
        return t - binom(r, t, pop - k, pop);
    double p = (double)k / (double)pop, q = 1 - p, mean = (double)t * (double)k / (double)pop;
    if (mean > 500) {
        double x = floor(mean + sqrt(mean * q) * eng__xe_normal(r) + 0.5);
        return x < 0 ? 0 : x > (double)t ? t : (size_t)x;
    }
    double u = eng__xe_uniform(r), f = exp((double)t * log1p(-p)), cdf = f;
    size_t x = 0;
    while (u > cdf && x < t) {
        f *= (double)(t - x) / (double)(x + 1) * p / q;
        x++;
        cdf += f;
    }
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void interval(double value, double se, double shift, double *t, int nt, eng__xe_estimate *e)
{
    e->value = value;
    e->se = se;
    e->shift = shift;
    /* The upper end's sample holds one more conversion: the mean moves by shift, its variance by shift^2. */
    double up = sqrt(se * se + shift * shift);
    if (nt < OPE_B) { /* too few rows to resample: the normal interval */
        e->lo = value - Z95 * se;
        e->hi = value + shift + Z95 * up;
        return;
    }
    qsort(t, (size_t)nt, sizeof *t, cmp_double);
    /* (B + 1) x 2.5 % = 25: the 25th smallest and the 25th largest of 999. */
    int k = (OPE_B + 1) / 40 - 1;
    e->lo = value - t[OPE_B - 1 - k] * se;
    e->hi = value + shift - t[k] * up;
}

/* The rows' terms (m a row) split into groups of equal terms, drawn as counts, and the rest (copied
 * together: the resamples' random reads stay in cache). */
typedef struct groups {
    double key[GROUPS][2];
    size_t count[GROUPS];
    int n;
    double *rest;
    size_t nrest;
} groups;

static void group(const double *x, size_t n, int m, groups *g)
{
    int16_t slot[SLOTS];
    memset(slot, -1, sizeof slot);
    g->n = 0;
    g->nrest = 0;
    for (size_t i = 0; i < n; i++) {
        const double *v = &x[(size_t)m * i];
        uint64_t a, b = 0;
        memcpy(&a, &v[0], sizeof a);
        if (m > 1)
            memcpy(&b, &v[1], sizeof b);
        uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15u)) * 0xbf58476d1ce4e5b9u;
        unsigned s = (unsigned)(h >> 57); /* 0..127 */
        while (slot[s] >= 0 && memcmp(g->key[slot[s]], v, (size_t)m * sizeof *v) != 0)
            s = (s + 1) & (SLOTS - 1);
        if (slot[s] >= 0)
            g->count[slot[s]]++;
        else if (g->n < GROUPS) {
            memcpy(g->key[g->n], v, (size_t)m * sizeof *v);
            g->count[g->n] = 1;
            slot[s] = (int16_t)g->n++;
        } else
            memcpy(&g->rest[(size_t)m * g->nrest++], v, (size_t)m * sizeof *v);
    }
}

/* Bootstrap-t intervals of the mean of each of the @p m terms of @p x's rows minus the control's
 * mean (out[j] for term j, NULL to skip), the upper end moved by @p shift: one more conversion. */
static int boot(const eng__mem *mem, const double *x, size_t n, int m, const double *control, size_t ncontrol,
                uint64_t seed, double shift, eng__xe_estimate *out0, eng__xe_estimate *out1)
{
    groups g;
    g.rest = eng__malloc(mem, (n ? n : 1) * (size_t)m * sizeof *g.rest);
    double *nz = eng__malloc(mem, (ncontrol ? ncontrol : 1) * sizeof *nz);
    if (!g.rest || !nz) {
        eng__free(mem, g.rest);
        eng__free(mem, nz);
        return eng__nomem();
    }
    /* Most of a control group buys nothing: its zeros are resampled as a count. */
    size_t k = 0;
    for (size_t j = 0; j < ncontrol; j++)
        if (control[j] != 0)
            nz[k++] = control[j];
    group(x, n, m, &g);
    double s[2] = {0}, s2[2] = {0}, sb = 0, sb2 = 0;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            s[j] += x[(size_t)m * i + j], s2[j] += x[(size_t)m * i + j] * x[(size_t)m * i + j];
    for (size_t j = 0; j < ncontrol; j++)
        sb += control[j], sb2 += control[j] * control[j];
    double mean[2], var[2], mb, vb, est[2], se[2];
    moments(sb, sb2, ncontrol, &mb, &vb);
    for (int j = 0; j < m; j++) {
        moments(s[j], s2[j], n, &mean[j], &var[j]);
        est[j] = mean[j] - mb;
        se[j] = sqrt(var[j] + vb);
    }
    double tstat[2][OPE_B];
    int nt = n > 1 && n <= UINT32_MAX && ncontrol <= UINT32_MAX ? OPE_B : 0;
    for (int b = 0; b < nt; b++) {
        eng__xe_rng r = eng__xe_rng_at(seed, (uint32_t)b, 0x4f5045u /* "OPE" */);
        double rs[2] = {0}, rs2[2] = {0}, rb = 0, rb2 = 0;
        size_t left = n, pop = n;
        for (int q = 0; q < g.n; q++) {
            double h = (double)binom(&r, left, g.count[q], pop);
            left -= (size_t)h;
            pop -= g.count[q];
            for (int j = 0; j < m; j++)
                rs[j] += h * g.key[q][j], rs2[j] += h * g.key[q][j] * g.key[q][j];
        }
        for (; left > 0; left--) {
            const double *v = &g.rest[(size_t)m * pick(&r, g.nrest)];
            for (int j = 0; j < m; j++)
                rs[j] += v[j], rs2[j] += v[j] * v[j];
        }
        for (size_t j = binom(&r, ncontrol, k, ncontrol); j > 0; j--) {
            double v = nz[pick(&r, k)];
            rb += v, rb2 += v * v;
        }
        double m3, v3;
        moments(rb, rb2, ncontrol, &m3, &v3);
        for (int j = 0; j < m; j++) {
            double m1, v1;
            moments(rs[j], rs2[j], n, &m1, &v1);
            /* A resample with no spread at all (every value drawn equal) says nothing of the scale. */
            double s1 = sqrt(v1 + v3);
            tstat[j][b] = s1 > 0 ? (m1 - m3 - est[j]) / s1 : 0;
        }
    }
    eng__free(mem, g.rest);
    eng__free(mem, nz);
    if (out0)
        interval(est[0], se[0], shift, tstat[0], nt, out0);
    if (out1 && m > 1)
        interval(est[1], se[1], shift, tstat[1], nt, out1);
    return ENG_OK;
}

/* Adds the positive values of @p v (order values: a conversion's revenue) to a sum and a count. */
static void positives(const double *v, size_t n, double *s, double *k)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] > 0)
            *s += v[i], *k += 1;
}

int eng__xe_ope(const eng__mem *mem, const eng__xe_ope_row *rows, size_t n, const double *control, size_t ncontrol,
                uint64_t seed, eng__xe_estimate *ipw, eng__xe_estimate *dr)
{
    double *x = eng__malloc(mem, (n ? n : 1) * 2 * sizeof *x);
    if (!x)
        return eng__nomem();
    /* The conversion added at the upper end falls on a row the target matches: given that it matches,
     * a row's expected weight is sum(p x 1/p) / sum(p) over the rows where the target sends. Its value
     * is the mean of the positive rewards of the bucket (any channel) and of the control. */
    double np = 0, sp = 0, sv = 0, kv = 0;
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = x_ipw(&rows[i]);
        x[2 * i + 1] = x_dr(&rows[i]);
        if (rows[i].target >= 0 && rows[i].propensity > 0)
            np++, sp += rows[i].propensity;
        if (rows[i].reward > 0)
            sv += rows[i].reward, kv++;
    }
    positives(control, ncontrol, &sv, &kv);
    double shift = sp > 0 && kv > 0 && n ? np / sp * (sv / kv) / (double)n : 0;
    int rc = boot(mem, x, n, 2, control, ncontrol, seed, shift, ipw, dr);
    eng__free(mem, x);
    return rc;
}

int eng__xe_mean(const eng__mem *mem, const double *values, size_t n, const double *control, size_t ncontrol,
                 uint64_t seed, eng__xe_estimate *out)
{
    double sv = 0, kv = 0;
    positives(values, n, &sv, &kv);
    positives(control, ncontrol, &sv, &kv);
    return boot(mem, values, n, 1, control, ncontrol, seed, kv > 0 && n ? sv / kv / (double)n : 0, out, NULL);
}
