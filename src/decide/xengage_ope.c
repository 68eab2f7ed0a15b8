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
 * skew: a low draw gets a long upper arm. Resampling draws come from the
 * counter-based stream (seed, replicate), so an interval is bit-identical for a
 * seed and the same rows. The control's zeros are drawn as one binomial count:
 * a control group of 10^5 costs its buyers, not 10^5 draws, per resample. */
#include "decide/xengage.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>

#define OPE_B ENG__XE_OPE_REPLICATES

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

/* How many of @p n draws hit one of @p k values out of @p n: Binomial(n, k / n), by inversion
 * (exact) up to a mean of 500, past that the normal with the same moments (its skew is below 5 %).
 * Counted on the rarer side, so q^n stays far from underflow (p <= 1/2, mean <= 500). */
static size_t binomial_hits(eng__xe_rng *r, size_t n, size_t k)
{
    if (k == 0 || k == n)
        return k;
    if (k > n - k)
        return n - binomial_hits(r, n, n - k);
    double p = (double)k / (double)n, q = 1 - p;
    if (k > 500) {
        double x = floor((double)k + sqrt((double)k * q) * eng__xe_normal(r) + 0.5);
        return x < 0 ? 0 : x > (double)n ? n : (size_t)x;
    }
    double u = eng__xe_uniform(r), f = exp((double)n * log1p(-p)), cdf = f;
    size_t x = 0;
    while (u > cdf && x < n) {
        f *= (double)(n - x) / (double)(x + 1) * p / q;
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

static void interval(double value, double se, double *t, int nt, eng__xe_estimate *e)
{
    e->value = value;
    e->se = se;
    if (nt < OPE_B) { /* too few rows to resample: the normal interval */
        e->lo = value - 1.959963984540054 * se;
        e->hi = value + 1.959963984540054 * se;
        return;
    }
    qsort(t, (size_t)nt, sizeof *t, cmp_double);
    /* (B + 1) x 2.5 % = 25: the 25th smallest and the 25th largest of 999. */
    int k = (OPE_B + 1) / 40 - 1;
    e->lo = value - t[OPE_B - 1 - k] * se;
    e->hi = value - t[k] * se;
}

int eng__xe_ope(const eng__mem *mem, const eng__xe_ope_row *rows, size_t n, const double *control, size_t ncontrol,
                uint64_t seed, eng__xe_estimate *ipw, eng__xe_estimate *dr)
{
    /* Each row's IPW and DR terms, computed once for the resamples, and the control's values
     * that are not 0 (most of a control group buys nothing: its zeros are resampled as a count). */
    double *x = eng__malloc(mem, (n ? n : 1) * 2 * sizeof *x);
    double *nz = eng__malloc(mem, (ncontrol ? ncontrol : 1) * sizeof *nz);
    if (!x || !nz) {
        eng__free(mem, x);
        eng__free(mem, nz);
        return eng__nomem();
    }
    size_t k = 0;
    for (size_t j = 0; j < ncontrol; j++)
        if (control[j] != 0)
            nz[k++] = control[j];
    double si = 0, si2 = 0, sd = 0, sd2 = 0, sb = 0, sb2 = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = x[2 * i] = x_ipw(&rows[i]), xd = x[2 * i + 1] = x_dr(&rows[i]);
        si += xi, si2 += xi * xi, sd += xd, sd2 += xd * xd;
    }
    for (size_t j = 0; j < ncontrol; j++)
        sb += control[j], sb2 += control[j] * control[j];
    double mi, vi, md, vd, mb, vb;
    moments(si, si2, n, &mi, &vi);
    moments(sd, sd2, n, &md, &vd);
    moments(sb, sb2, ncontrol, &mb, &vb);
    double ti = mi - mb, sei = sqrt(vi + vb), td = md - mb, sed = sqrt(vd + vb);
    double tstat_i[OPE_B], tstat_d[OPE_B];
    int nt = n > 1 && n <= UINT32_MAX && ncontrol <= UINT32_MAX ? OPE_B : 0;
    for (int b = 0; b < nt; b++) {
        eng__xe_rng r = eng__xe_rng_at(seed, (uint32_t)b, 0x4f5045u /* "OPE" */);
        double ri = 0, ri2 = 0, rd = 0, rd2 = 0, rb = 0, rb2 = 0;
        for (size_t i = 0; i < n; i++) {
            const double *v = &x[2 * pick(&r, n)];
            ri += v[0], ri2 += v[0] * v[0], rd += v[1], rd2 += v[1] * v[1];
        }
        for (size_t j = binomial_hits(&r, ncontrol, k); j > 0; j--) {
            double v = nz[pick(&r, k)];
            rb += v, rb2 += v * v;
        }
        double m1, v1, m2, v2, m3, v3;
        moments(ri, ri2, n, &m1, &v1);
        moments(rd, rd2, n, &m2, &v2);
        moments(rb, rb2, ncontrol, &m3, &v3);
        /* A resample with no spread at all (every value drawn equal) says nothing of the scale. */
        double s1 = sqrt(v1 + v3), s2 = sqrt(v2 + v3);
        tstat_i[b] = s1 > 0 ? (m1 - m3 - ti) / s1 : 0;
        tstat_d[b] = s2 > 0 ? (m2 - m3 - td) / s2 : 0;
    }
    eng__free(mem, x);
    eng__free(mem, nz);
    if (ipw)
        interval(ti, sei, tstat_i, nt, ipw);
    if (dr)
        interval(td, sed, tstat_d, nt, dr);
    return ENG_OK;
}
