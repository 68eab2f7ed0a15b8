/* X-Engage empirical Bayes by marginal likelihood: the segment x channel
 * engagement prior Beta(kappa m, kappa (1 - m)) fitted to the customers'
 * counts.
 *
 * Why not the method of moments: the sends are chosen adaptively (a customer
 * who engaged on a channel gets it again), so pooled moments over-weight
 * engaged customers, inflating both the mean and the spread as a campaign
 * goes on. The beta-binomial likelihood of a customer's outcomes does not
 * depend on how the sends were chosen from what was observed before, so its
 * maximum stays put.
 *
 * The likelihood of a customer with k engagements in n sends is
 *   prod_{j<k} (a + j) prod_{j<n-k} (b + j) / prod_{j<n} (a + b + j),
 * so a cell only needs, per j, how many customers have k > j (A_j),
 * n - k > j (B_j) and n > j (N_j): three counters per j, kept up to date on
 * every observation. A customer with more than XE_NH sends counts as XE_NH
 * with the same rate (rounded), which keeps the counters bounded. */
#include "decide/xengage_impl.h"

#include <math.h>
#include <string.h>

static void contrib(xe_abn *h, unsigned n, unsigned k, int32_t sign)
{
    if (n > XE_NH) {
        k = (k * XE_NH + n / 2) / n;
        n = XE_NH;
    }
    for (unsigned j = 0; j < n; j++) {
        h->n[j] += sign;
        if (j < k)
            h->a[j] += sign;
        else
            h->b[j - k] += sign;
    }
}

void eng__xe_abn_move(xe_abn *h, unsigned n0, unsigned k0, unsigned n1, unsigned k1)
{
    if (n1 == n0 + 1 && n1 <= XE_NH && (k1 == k0 || k1 == k0 + 1)) { /* one more send: one more term */
        h->n[n0] += 1;
        if (k1 > k0)
            h->a[k0] += 1;
        else
            h->b[n0 - k0] += 1;
        return;
    }
    if (n0)
        contrib(h, n0, k0, -1);
    if (n1)
        contrib(h, n1, k1, 1);
}

/* Log-likelihood of a cell at Beta(a, b) (without the binomial coefficients, which do not depend on it). */
static double loglik(const xe_abn *h, double a, double b)
{
    double s = 0;
    for (unsigned j = 0; j < XE_NH && h->n[j]; j++)
        s += h->a[j] * log(a + j) + h->b[j] * log(b + j) - h->n[j] * log(a + b + j);
    return s;
}

/* The mean maximising the cell's likelihood at strength kappa plus S pseudo-observations of mean M
 * (concave in m: safeguarded Newton on the derivative). */
static double best_mean(const xe_abn *h, double kappa, double S, double M, double m)
{
    double lo = 1e-6, hi = 1 - 1e-6;
    if (!(m > lo && m < hi))
        m = 0.5;
    for (int it = 0; it < 60; it++) {
        double d = 0, d2 = 0;
        for (unsigned j = 0; j < XE_NH && h->n[j]; j++) {
            double ua = kappa * m + j, ub = kappa * (1 - m) + j;
            d += kappa * (h->a[j] / ua - h->b[j] / ub);
            d2 -= kappa * kappa * (h->a[j] / (ua * ua) + h->b[j] / (ub * ub));
        }
        if (S > 0) {
            d += S * (M / m - (1 - M) / (1 - m));
            d2 -= S * (M / (m * m) + (1 - M) / ((1 - m) * (1 - m)));
        }
        if (d > 0)
            lo = m;
        else
            hi = m;
        double nm = d2 < 0 ? m - d / d2 : 0.5 * (lo + hi);
        if (!(nm > lo && nm < hi))
            nm = 0.5 * (lo + hi);
        if (fabs(nm - m) < 1e-10 * (m < 1 - m ? m : 1 - m) || hi - lo < 1e-12)
            return nm;
        m = nm;
    }
    return m;
}

typedef struct fit_ctx {
    const xe_abn *h;
    size_t stride;
    unsigned g;
    double S, M;
    double *m;
} fit_ctx;

/* The profile likelihood of kappa: every cell at its best mean. */
static double profile(fit_ctx *f, double kappa)
{
    double s = 0;
    for (unsigned g = 0; g < f->g; g++) {
        const xe_abn *h = f->h + (size_t)g * f->stride;
        double m = f->m[g] = best_mean(h, kappa, f->S, f->M, f->m[g]);
        s += loglik(h, kappa * m, kappa * (1 - m));
        if (f->S > 0)
            s += f->S * (f->M * log(m) + (1 - f->M) * log(1 - m));
    }
    return s;
}

/* Golden-section search of the profile over log kappa in [XE_KAPPA_MIN, XE_KAPPA_MAX]. */
static double best_kappa(fit_ctx *f)
{
    const double r = 0.6180339887498949;
    double lo = log(XE_KAPPA_MIN), hi = log(XE_KAPPA_MAX);
    double x1 = hi - r * (hi - lo), x2 = lo + r * (hi - lo);
    double f1 = profile(f, exp(x1)), f2 = profile(f, exp(x2));
    while (hi - lo > 1e-3) {
        if (f1 < f2) {
            lo = x1, x1 = x2, f1 = f2;
            x2 = lo + r * (hi - lo);
            f2 = profile(f, exp(x2));
        } else {
            hi = x2, x2 = x1, f2 = f1;
            x1 = hi - r * (hi - lo);
            f1 = profile(f, exp(x1));
        }
    }
    double k = exp(0.5 * (lo + hi));
    profile(f, k); /* the means at the chosen kappa */
    return k;
}

void eng__xe_fit(const xe_abn *h, size_t stride, unsigned g, double seg_prior, double fallback_m,
                 double fallback_kappa, double *m, double *kappa)
{
    xe_abn all;
    memset(&all, 0, sizeof all);
    for (unsigned s = 0; s < g; s++)
        for (unsigned j = 0; j < XE_NH; j++) {
            const xe_abn *c = h + (size_t)s * stride;
            all.a[j] += c->a[j], all.b[j] += c->b[j], all.n[j] += c->n[j];
        }
    double M = fallback_m;
    fit_ctx f = {&all, 0, 1, 0, 0, &M};
    if (!all.n[0]) { /* no customer has a send: the prior is all there is */
        for (unsigned s = 0; s < g; s++)
            m[s] = fallback_m;
        *kappa = fallback_kappa;
        return;
    }
    /* The channel's mean (segments pooled), the centre of the segments' shrinkage. A spread needs
     * customers with two sends or more; before that the strength is the fallback. */
    if (all.n[1])
        best_kappa(&f);
    else
        M = best_mean(&all, fallback_kappa, 0, 0, M);
    for (unsigned s = 0; s < g; s++)
        m[s] = M;
    fit_ctx fs = {h, stride, g, seg_prior, M, m};
    if (all.n[1])
        *kappa = best_kappa(&fs);
    else {
        *kappa = fallback_kappa;
        profile(&fs, fallback_kappa);
    }
}

void eng__xe_abn_rebuild(eng__xe *xe)
{
    const unsigned K = xe->cfg.k;
    memset(xe->abn, 0, (size_t)xe->cfg.g * K * sizeof *xe->abn);
    for (uint32_t i = 0; i < xe->cfg.customers; i++) {
        const uint8_t *s = xe_state(xe, i);
        unsigned g = xe_segment(xe, s);
        if (g >= xe->cfg.g)
            continue;
        for (unsigned c = 0; c < K; c++)
            if (s[2 * c])
                eng__xe_abn_move(&xe->abn[(size_t)g * K + c], 0, 0, s[2 * c], s[2 * c + 1]);
    }
}
