/* Off-policy estimates from X-Engage's exploration bucket: what another
 * policy (priority, greedy, ...) would have earned on the same campaign.
 * IPW reweights the uniform bucket's rewards where the logged channel is the
 * one the target policy would pick; doubly robust (Dudik, Langford, Li 2011)
 * starts from the model's estimate and corrects it with the same weights.
 *
 * Intervals. A reward is a rare conversion times an order value times a weight
 * of up to K, so an estimate's revenue is a weighted sum of a few Poisson-like
 * events. A campaign that drew few of them reports both a low value and a small
 * sample variance, so a normal interval, a bootstrap of the rows (which cannot
 * hold more events than were drawn) and even the gamma interval of Fay and Feuer
 * (1997) with the draw's own sum of squared weights miss high where the draw was
 * low (docs/xengage.md, "Off-policy intervals"). Here each mean is split into
 * its positive terms (the events: a conversion's value, weighted) and the rest
 * (costs, the direct method's terms). The events' variance is taken from the
 * sizes of every event of the campaign (the bucket on any channel and the
 * control: order values do not depend on the channel), which makes their sum a
 * scaled Poisson count; it gets Garwood's exact Poisson bounds. The rest is
 * normal. The bucket's and the control's parts are combined as independent
 * ones (MOVER, Zou and Donner 2008). No resampling: an interval is a function
 * of its rows. */
#include "decide/xengage_impl.h"

#include <math.h>

#define Z95 1.959963984540054

/* A sample's sums: of its terms and their squares, and of its events (the terms' conversion parts). */
typedef struct sums {
    double n, s, s2, k, e, e2;
} sums;

static void add(sums *a, double x, double e)
{
    a->n++;
    a->s += x, a->s2 += x * x;
    if (e > 0)
        a->k++, a->e += e, a->e2 += e * e;
}

/* The squared standard error of a mean from its sums (sample variance over n). */
static double var_of_mean(double n, double s, double s2)
{
    if (n < 2)
        return 0;
    double v = (s2 - s * s / n) / (n - 1) / n;
    return v > 0 ? v : 0;
}

/* The sizes of a sample's events: their count, sum and sum of squares. */
typedef struct sizes {
    double k, s, s2;
} sizes;

/* E[size] and E[size^2] of @p own events, or of @p other's if it has none (0 if neither has). The
 * sizes come from the sample's own events, not from the other's, which may differ (a treated buyer
 * may buy more); they are independent of the count of events, so a low draw does not shrink them. */
static void size_moments(sizes own, sizes other, double *m1, double *m2)
{
    const sizes *z = own.k > 0 ? &own : &other;
    *m1 = z->k > 0 ? z->s / z->k : 0;
    *m2 = z->k > 0 ? z->s2 / z->k : 0;
}

/* The Poisson unit of the mean of the events of @p a, whose terms have E[e] = @p m1 and E[e^2] = @p m2:
 * the events' part of the mean has variance (its value) x c, so value / c is a count. For rare events
 * c = m2 / (m1 n); a row holds one event at most, so with a share p = k / n of the rows holding one
 * the variance is n (p m2 - p^2 m1^2) / n^2, and c is that times 1 - p m1^2 / m2 (in [1 - p, 1]).
 * 0 without events anywhere (no size to scale a count by) or rows. */
static double unit(const sums *a, double m1, double m2)
{
    if (!(m1 > 0 && m2 > 0 && a->n > 0))
        return 0;
    double f = 1 - a->k / a->n * m1 * m1 / m2;
    return m2 / (m1 * a->n) * (f > 0 ? f : 0);
}

/* Garwood's exact Poisson bounds of a count, in units of @p c: the gamma of shape y / c (lower 2.5 %
 * point) and y / c + 1 (upper 97.5 %: as though one more event had been drawn), times c. This is Fay
 * and Feuer's gamma interval with the variance from the sizes' moments. */
static double pois_lo(double y, double c)
{
    return y > 0 && c > 0 ? c * eng__xe_gamma_quantile(y / c, 0.025) : 0;
}

static double pois_hi(double y, double c)
{
    return c > 0 ? c * eng__xe_gamma_quantile(y / c + 1, 0.975) : y;
}

/* The interval of the mean of @p b minus the mean of @p c, their events' Poisson units @p cb, @p cc. */
static void interval(const sums *b, const sums *c, double cb, double cc, eng__xe_estimate *out)
{
    double nb = b->n > 0 ? b->n : 1, nc = c->n > 0 ? c->n : 1;
    double vb = var_of_mean(b->n, b->s, b->s2), vc = var_of_mean(c->n, c->s, c->s2);
    /* The rest's variance: what a sample's holds beyond its events' (with their covariance). */
    double rest = fmax(0, vb - var_of_mean(b->n, b->e, b->e2)) + fmax(0, vc - var_of_mean(c->n, c->e, c->e2));
    double yb = b->e / nb, yc = c->e / nc, r2 = Z95 * Z95 * rest;
    double bu = pois_hi(yb, cb) - yb, bd = yb - pois_lo(yb, cb), cu = pois_hi(yc, cc) - yc, cd = yc - pois_lo(yc, cc);
    out->value = b->s / nb - c->s / nc;
    out->se = sqrt(vb + vc);
    out->unit = cb;
    out->hi = out->value + sqrt(bu * bu + cd * cd + r2);
    out->lo = out->value - sqrt(bd * bd + cu * cu + r2);
}

static void sample(const double *v, size_t n, sums *a)
{
    *a = (sums){0};
    for (size_t j = 0; j < n; j++)
        add(a, v[j], v[j] > 0 ? v[j] : 0);
}

void eng__xe_ope(const eng__xe_ope_row *rows, size_t n, const double *control, size_t ncontrol,
                 eng__xe_estimate *ipw, eng__xe_estimate *dr)
{
    /* A row's event is its weighted positive reward (a conversion's value less its cost). Its size is
     * a positive reward of the bucket on any channel (many more than on the target's) times a weight:
     * events fall on rows the target matches, and given that it matches a row's weight has E[w] =
     * sum(p x 1/p) / sum(p) and E[w^2] = sum(p x 1/p^2) / sum(p) over the rows where the target sends,
     * p the target's propensity. A row logs only its own channel's, which is the target's only where
     * the two match (a weighted bucket draws the others at other propensities), so each sum is taken
     * over the matched rows, each counted 1 / p (Horvitz-Thompson): sum(p) as their count, sum(1) as
     * sum(w), sum(1/p) as sum(w^2). */
    sums si = {0}, sd = {0}, c;
    sizes z = {0};
    double np = 0, sp = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        const eng__xe_ope_row *r = &rows[i];
        double w = r->target == r->logged && r->propensity > 0 ? 1.0 / r->propensity : 0;
        double e = r->reward > 0 ? w * r->reward : 0;
        add(&si, w * r->reward, e);
        add(&sd, r->dm_target + w * (r->reward - r->dm_logged), e);
        if (w > 0)
            np += w, sp++, sq += w * w;
        if (r->reward > 0)
            z.k++, z.s += r->reward, z.s2 += r->reward * r->reward;
    }
    sample(control, ncontrol, &c);
    sizes zc = {c.k, c.e, c.e2};
    double m1, m2, c1, c2;
    size_moments(z, zc, &m1, &m2);
    size_moments(zc, z, &c1, &c2);
    double cb = sp > 0 ? unit(&si, np / sp * m1, sq / sp * m2) : 0, cc = unit(&c, c1, c2);
    if (ipw)
        interval(&si, &c, cb, cc, ipw);
    if (dr)
        interval(&sd, &c, cb, cc, dr);
}

void eng__xe_mean(const double *values, size_t n, const double *control, size_t ncontrol, eng__xe_estimate *out)
{
    sums b, c;
    sample(values, n, &b);
    sample(control, ncontrol, &c);
    sizes zb = {b.k, b.e, b.e2}, zc = {c.k, c.e, c.e2};
    double m1, m2, c1, c2;
    size_moments(zb, zc, &m1, &m2);
    size_moments(zc, zb, &c1, &c2);
    interval(&b, &c, unit(&b, m1, m2), unit(&c, c1, c2), out);
}
