/* Off-policy estimates from X-Engage's exploration bucket: what another
 * policy (priority, greedy, ...) would have earned on the same campaign.
 * IPW reweights the uniform bucket's rewards where the logged channel is the
 * one the target policy would pick; doubly robust (Dudik, Langford, Li 2011)
 * starts from the model's estimate and corrects it with the same weights. */
#include "decide/xengage.h"

#include <math.h>

static void finish(double sum, double sum2, size_t n, double baseline, double baseline_se, eng__xe_estimate *e)
{
    double mean = n ? sum / (double)n : 0;
    double var = n > 1 ? (sum2 - (double)n * mean * mean) / (double)(n - 1) : 0;
    double se = sqrt((var > 0 ? var : 0) / (double)(n ? n : 1) + baseline_se * baseline_se);
    e->value = mean - baseline;
    e->lo = e->value - 1.959963984540054 * se;
    e->hi = e->value + 1.959963984540054 * se;
}

void eng__xe_ope(const eng__xe_ope_row *rows, size_t n, double baseline, double baseline_se,
                 eng__xe_estimate *ipw, eng__xe_estimate *dr)
{
    double si = 0, si2 = 0, sd = 0, sd2 = 0;
    for (size_t i = 0; i < n; i++) {
        const eng__xe_ope_row *r = &rows[i];
        double w = r->target == r->logged && r->propensity > 0 ? 1.0 / r->propensity : 0;
        double xi = w * r->reward;
        double xd = r->dm_target + w * (r->reward - r->dm_logged);
        si += xi, si2 += xi * xi, sd += xd, sd2 += xd * xd;
    }
    if (ipw)
        finish(si, si2, n, baseline, baseline_se, ipw);
    if (dr)
        finish(sd, sd2, n, baseline, baseline_se, dr);
}
