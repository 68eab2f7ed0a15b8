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

/* A cell's counters with its sends still pending as fractional misses (@p p may be NULL): the j-th terms. A
 * pending send adds at its customer's current count, so the terms with n > 0 stay a prefix. */
static inline double term_a(const xe_abn *h, unsigned j) { return h->a[j]; }
static inline double term_b(const xe_abn *h, const xe_pend *p, unsigned j) { return h->b[j] + (p ? p->b[j] : 0); }
static inline double term_n(const xe_abn *h, const xe_pend *p, unsigned j) { return h->n[j] + (p ? p->n[j] : 0); }

/* Log-likelihood of a cell at Beta(a, b) (without the binomial coefficients, which do not depend on it). A
 * pending send's weight w enters as w of a miss: (b + j)^w / (a + b + j)^w. */
static double loglik(const xe_abn *h, const xe_pend *p, double a, double b)
{
    double s = 0;
    for (unsigned j = 0; j < XE_NH && term_n(h, p, j) > 0; j++)
        s += term_a(h, j) * log(a + j) + term_b(h, p, j) * log(b + j) - term_n(h, p, j) * log(a + b + j);
    return s;
}

/* The mean maximising the cell's likelihood at strength kappa plus S pseudo-observations of mean M
 * (concave in m: safeguarded Newton on the derivative). */
static double best_mean(const xe_abn *h, const xe_pend *p, double kappa, double S, double M, double m)
{
    double lo = 1e-6, hi = 1 - 1e-6;
    if (!(m > lo && m < hi))
        m = 0.5;
    for (int it = 0; it < 60; it++) {
        double d = 0, d2 = 0;
        for (unsigned j = 0; j < XE_NH && term_n(h, p, j) > 0; j++) {
            double ua = kappa * m + j, ub = kappa * (1 - m) + j, ta = term_a(h, j), tb = term_b(h, p, j);
            d += kappa * (ta / ua - tb / ub);
            d2 -= kappa * kappa * (ta / (ua * ua) + tb / (ub * ub));
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
    const xe_pend *p; /* NULL: none pending */
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
        const xe_pend *p = f->p ? f->p + (size_t)g * f->stride : NULL;
        double m = f->m[g] = best_mean(h, p, kappa, f->S, f->M, f->m[g]);
        s += loglik(h, p, kappa * m, kappa * (1 - m));
        if (f->S > 0)
            s += f->S * (f->M * log(m) + (1 - f->M) * log(1 - m));
    }
    return s;
}

/* The maximum of @p f over log x in [log lo, log hi] by golden-section search (unimodal there). */
static double golden_max_log(double (*f)(void *, double), void *u, double lo, double hi)
{
    const double r = 0.6180339887498949;
    double a = log(lo), b = log(hi);
    double x1 = b - r * (b - a), x2 = a + r * (b - a);
    double f1 = f(u, exp(x1)), f2 = f(u, exp(x2));
    while (b - a > 1e-3) {
        if (f1 < f2) {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + r * (b - a);
            f2 = f(u, exp(x2));
        } else {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - r * (b - a);
            f1 = f(u, exp(x1));
        }
    }
    return exp(0.5 * (a + b));
}

static double profile_at(void *u, double kappa) { return profile(u, kappa); }

/* The profile's maximum over kappa in [XE_KAPPA_MIN, XE_KAPPA_MAX]. */
static double best_kappa(fit_ctx *f)
{
    double k = golden_max_log(profile_at, f, XE_KAPPA_MIN, XE_KAPPA_MAX);
    profile(f, k); /* the means at the chosen kappa */
    return k;
}

void eng__xe_fit(const xe_abn *h, const xe_pend *p, size_t stride, unsigned g, double seg_prior,
                 double fallback_m, double fallback_kappa, double *m, double *kappa)
{
    xe_abn all;
    xe_pend allp;
    memset(&all, 0, sizeof all);
    memset(&allp, 0, sizeof allp);
    for (unsigned s = 0; s < g; s++)
        for (unsigned j = 0; j < XE_NH; j++) {
            const xe_abn *c = h + (size_t)s * stride;
            all.a[j] += c->a[j], all.b[j] += c->b[j], all.n[j] += c->n[j];
            if (p)
                allp.b[j] += p[(size_t)s * stride].b[j], allp.n[j] += p[(size_t)s * stride].n[j];
        }
    const xe_pend *pa = p ? &allp : NULL;
    double M = fallback_m;
    fit_ctx f = {&all, pa, 0, 1, 0, 0, &M};
    if (!all.n[0]) { /* no customer has an outcome: the prior is all there is (pending sends alone tell
                      * nothing of a rate: misses only) */
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
        M = best_mean(&all, pa, fallback_kappa, 0, 0, M);
    for (unsigned s = 0; s < g; s++)
        m[s] = M;
    fit_ctx fs = {h, p, stride, g, seg_prior, M, m};
    if (all.n[1])
        *kappa = best_kappa(&fs);
    else {
        *kappa = fallback_kappa;
        profile(&fs, fallback_kappa);
    }
}

/* log Gamma(x), x > 0: Stirling's series once x is shifted past 7 (error below 1e-10). Not libm's lgamma,
 * which writes the global signgam: two engines may refresh their models on two threads. */
double eng__xe_log_gamma(double x)
{
    double p = 1;
    for (; x < 7; x += 1)
        p *= x;
    double z = 1 / (x * x);
    return (x - 0.5) * log(x) - x + 0.91893853320467274178 - log(p) +
           (1.0 / 12 - z * (1.0 / 360 - z * (1.0 / 1260 - z / 1680))) / x;
}

/* The cells' beta-binomial log likelihood at Beta(s p, s (1 - p)) (counts may be decayed, so real). */
typedef struct strength_ctx {
    const double *n, *k;
    size_t stride;
    unsigned g;
    double p;
} strength_ctx;

static double strength_loglik(void *u, double s)
{
    const strength_ctx *c = u;
    double a = s * c->p, b = s * (1 - c->p), t = 0, la = eng__xe_log_gamma(a), lb = eng__xe_log_gamma(b),
           ls = eng__xe_log_gamma(s);
    for (unsigned j = 0; j < c->g; j++) {
        double nj = c->n[j * c->stride], kj = c->k[j * c->stride];
        if (nj > 0)
            t += eng__xe_log_gamma(a + kj) - la + eng__xe_log_gamma(b + nj - kj) - lb + ls - eng__xe_log_gamma(s + nj);
    }
    return t;
}

double eng__xe_fit_strength(const double *n, const double *k, size_t stride, unsigned g, double p, double lo,
                            double hi)
{
    if (!(p > 0 && p < 1) || !(lo > 0 && hi >= lo))
        return lo;
    strength_ctx c = {n, k, stride, g, p};
    return golden_max_log(strength_loglik, &c, lo, hi);
}

/* Bounds of the strength of the prior between channels: from "any rate" to "all channels alike". */
#define XE_TAU_MIN 1.0
#define XE_TAU_MAX 1e6

int eng__xe_unseen_prior(const double *sent, const double *eng, const double *rho, unsigned k, double *m,
                         double *kappa)
{
    double n[ENG__XE_MAXK], e[ENG__XE_MAXK], mu = 0, within = 0;
    unsigned j = 0;
    for (unsigned c = 0; c < k && c < ENG__XE_MAXK; c++)
        if (sent[c] > 0) {
            double r = (eng[c] + 0.5) / (sent[c] + 1);
            n[j] = sent[c], e[j] = eng[c], j++;
            mu += r, within += rho[c] * r * (1 - r);
        }
    if (j < 2)
        return 0;
    mu /= j, within /= j;
    double tau = eng__xe_fit_strength(n, e, 1, j, mu, XE_TAU_MIN, XE_TAU_MAX);
    double v = mu * (1 - mu) / (tau + 1) * (1 + 1.0 / j) + within, kp = mu * (1 - mu) / v - 1;
    *m = mu;
    *kappa = kp < XE_KAPPA_MIN ? XE_KAPPA_MIN : kp > XE_KAPPA_MAX ? XE_KAPPA_MAX : kp;
    return 1;
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
