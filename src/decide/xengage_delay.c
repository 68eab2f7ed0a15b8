/* X-Engage: how long a channel's responses take, from the campaign's own sends (some answered, with
 * their delay; the others not yet, each open for the time elapsed since it left).
 *
 * Why: early in a campaign the counts hold the responses before the non-responses (a send counts as a
 * miss only when its response window closes), so every rate looks high, a slow channel's most. A send
 * still open counts as the part of a miss that a response would already have come by now (F(elapsed),
 * eng__xe_pending), which needs F.
 *
 * The model: a send is answered with probability q, after an exponential delay of mean mu (a cure
 * model). Its likelihood over answered delays t_i and open sends e_j is
 *   prod_i q/mu exp(-t_i/mu) prod_j (1 - q + q exp(-e_j/mu)),
 * which alone does not tell a slow channel from a rare one early (only q/mu is known then: the likelihood
 * flattens toward q = 1 and mu large), so mu has a prior of @p prior_n answered sends of mean delay
 * @p prior_mean, the engine's own assumption before it sees responses. The mode by EM: an open send
 * will be answered with posterior w_j = q S_j / (1 - q + q S_j), S_j = exp(-e_j/mu); then
 * q = (k + sum w_j) / (k + m) and mu = (T + sum w_j e_j + prior_n prior_mean) / (k + prior_n). */
#include "decide/xengage.h"

#include <math.h>
#include <string.h>

/* Open sends are kept in bins of their elapsed time a quarter-octave wide around the prior's mean (the
 * EM's pass is then over bins, not sends). */
static int bin_of(const eng__xe_delays *d, double e)
{
    double x = e > 0 ? 4 * log2(e / d->prior_mean) + ENG__XE_DBINS / 2 : 0;
    return x < 0 ? 0 : x >= ENG__XE_DBINS - 1 ? ENG__XE_DBINS - 1 : (int)x;
}

void eng__xe_delays_init(eng__xe_delays *d, double prior_n, double prior_mean)
{
    memset(d, 0, sizeof *d);
    d->prior_n = prior_n;
    d->prior_mean = prior_mean;
}

void eng__xe_delays_answered(eng__xe_delays *d, double delay)
{
    d->k += 1;
    d->t += delay > 0 ? delay : 0;
}

void eng__xe_delays_open(eng__xe_delays *d, double elapsed, double count)
{
    if (!(count > 0))
        return;
    int b = bin_of(d, elapsed);
    d->n[b] += count;
    d->e[b] += count * (elapsed > 0 ? elapsed : 0);
}

void eng__xe_delays_add(eng__xe_delays *d, const eng__xe_delays *o)
{
    d->k += o->k, d->t += o->t;
    for (int b = 0; b < ENG__XE_DBINS; b++)
        d->n[b] += o->n[b], d->e[b] += o->e[b];
}

double eng__xe_delay_fit(const eng__xe_delays *d, double *q_out)
{
    double m = 0, e[ENG__XE_DBINS];
    for (int b = 0; b < ENG__XE_DBINS; b++)
        m += d->n[b], e[b] = d->n[b] > 0 ? d->e[b] / d->n[b] : 0;
    double a0 = d->prior_n, t0 = d->prior_n * d->prior_mean;
    if (!(d->k + a0 > 0)) { /* nothing answered and no prior: nothing to tell the delay by */
        if (q_out)
            *q_out = 0;
        return d->prior_mean;
    }
    double q = m > 0 ? (d->k + 0.5) / (d->k + m + 1) : d->k > 0; /* nothing open: all answered */
    double mu = (d->t + t0) / (d->k + a0);
    if (!(mu > 0))
        mu = d->prior_mean;
    for (int it = 0; it < 500 && m > 0; it++) {
        double sw = 0, swe = 0;
        for (int b = 0; b < ENG__XE_DBINS; b++)
            if (d->n[b] > 0) {
                double s = q * exp(-e[b] / mu), w = s / (1 - q + s);
                sw += d->n[b] * w, swe += d->n[b] * w * e[b];
            }
        double nq = (d->k + sw) / (d->k + m), nmu = (d->t + swe + t0) / (d->k + a0);
        int done = fabs(nq - q) <= 1e-12 + 1e-10 * q && fabs(nmu - mu) <= 1e-10 * mu;
        q = nq, mu = nmu;
        if (done || !(mu > 0))
            break;
    }
    if (q_out)
        *q_out = q;
    return mu > 0 ? mu : d->prior_mean;
}

double eng__xe_delay_cdf(double mean, double elapsed)
{
    return elapsed > 0 && mean > 0 ? 1 - exp(-elapsed / mean) : 0;
}
