/* X-Engage: the exploration bucket's share, bounded by what the campaign expects to earn and by the value
 * of the information the bucket buys.
 * Why: an explored customer gets a uniform reachable channel, which on a campaign whose every channel
 * costs more than it brings (orders of 6 against messages of 0.25-0.90) loses more than learning can
 * earn back. The bound before (the campaign's plausible earning, the best channel at two sd above the
 * mean) kept the full share in dear.world for the whole of wave 1: with a few conversions a campaign,
 * some channel always looked plausible. Now the bucket's expected cost per test customer, share x (the
 * value of the score's choice, none allowed and the guard rail's none included, less the uniform
 * channel's), is kept at most what the campaign expects to earn per test customer at the posterior means
 * (the rail's choice) plus the expected value of the sample information the bucket's own sends would
 * bring to the rest of the audience (each channel's conversion estimate sharpened by the engagements the
 * bucket adds over half the customers the model holds, against its effective engagements now). A
 * campaign that earns (every benchmark world) keeps the configured share, so the off-policy estimates keep
 * their rows; one that earns nothing explores only while a few more conversions could change a choice.
 * The share is one figure for the whole population at a refresh, never per customer: an explored customer
 * still gets each reachable channel at 1 / reachable, and the explored customers stay a uniform sample of
 * the audience, so the logged propensities and the off-policy estimates built on them are unchanged.
 * Without skipping (a host without sales history: the value is unknown) the share is the configured one. */
#include "decide/xengage_impl.h"

#include <math.h>

double eng__xe_explore_bound(double share, const double *gain, const double *loss, const double *w, unsigned n)
{
    double sg = 0, sl = 0;
    for (unsigned i = 0; i < n; i++)
        sg += w[i] * (gain[i] > 0 ? gain[i] : 0), sl += w[i] * (loss[i] > 0 ? loss[i] : 0);
    return sl > 0 && share * sl > sg ? sg / sl : share;
}

double eng__xe_evpi(double mean, double sd, double alt)
{
    double up = mean > alt ? mean - alt : 0;
    if (!(sd > 0))
        return 0;
    double z = (mean - alt) / sd;
    /* E[(X - alt)+] = sd (phi(z) + z Phi(z)) for X ~ N(mean, sd^2) */
    double e = sd * (exp(-0.5 * z * z) * 0.3989422804014327 + z * 0.5 * erfc(-z * 0.7071067811865476));
    return e > up ? e - up : 0;
}

/* The grid of shares tried, from the configured one down: the value of sample information is not concave
 * in the sample's size (a few sends seldom move a choice), so the largest share that pays is searched. */
#define XE_EXPLORE_STEPS 16

/* Segment g's mean customer, each channel at the cells' conversion posterior: what the score's choice earns
 * (none when the guard rail holds it), the expected loss of exploring (that, less the mean over the
 * channels) and, for each share tried, the value of the sample information the bucket would buy: the
 * channel whose information is worth most, valued at the rail's estimate (a choice the information could
 * change is one the rail would let through), against the best of the other channels and none. */
static void segment_terms(const eng__xe *xe, unsigned g, const double *grow, double *earn, double *loss,
                          double *evsi, double *w)
{
    const eng__xe_config *cf = &xe->cfg;
    const unsigned K = cf->k;
    const xe_seg *sg = &xe->seg[g];
    double lo[ENG__XE_MAXK], sd[ENG__XE_MAXK], best = 0, mean = 0, sent = 0, blo = 0, slo = 0;
    int safe = 0;
    for (unsigned c = 0; c < K; c++) {
        const xe_cell *cl = xe_cell_at(xe, g, c);
        double pi = cl->r_mean > sg->p0 ? (cl->r_mean - sg->p0) * sg->inv_1mp0 : 0;
        double pi_lo = cl->r_lo > sg->p0 ? (cl->r_lo - sg->p0) * sg->inv_1mp0 : 0;
        double e = cf->value * xe->chan[c].d * cl->m, net = e * pi - cf->cost[c];
        lo[c] = e * pi_lo - cf->cost[c];
        safe |= lo[c] > 0 || cf->cost[c] <= 0;
        sd[c] = e * cl->r_tsd * sg->inv_1mp0;
        best = net > best ? net : best;
        if (lo[c] > blo)
            slo = blo, blo = lo[c];
        else if (lo[c] > slo)
            slo = lo[c];
        mean += net / K;
        sent += cl->sent;
    }
    *earn = safe ? best : 0;
    *loss = *earn - mean;
    *w = 1 + sent;
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++) {
        double v = 0;
        for (unsigned c = 0; c < K; c++) {
            double x = eng__xe_evpi(lo[c], sd[c] * grow[j * K + c], lo[c] == blo ? slo : blo);
            v = x > v ? x : v;
        }
        evsi[j] = v;
    }
}

void eng__xe_explore_refresh(eng__xe *xe)
{
    const eng__xe_config *cf = &xe->cfg;
    const unsigned G = cf->g, K = cf->k;
    xe->explore = cf->explore;
    if (!cf->skip_negative || !(cf->explore > 0))
        return; /* the value of a conversion is unknown (no sales history): nothing to bound by */
    /* Per share tried and channel: the share of a channel's conversion sd the bucket's engagements over half
     * the customers would resolve, sqrt(dn / (n + dn)) (the preposterior sd of a posterior mean). */
    double grow[XE_EXPLORE_STEPS * ENG__XE_MAXK], half = 0.5 * (double)cf->customers;
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++)
        for (unsigned c = 0; c < K; c++) {
            double dn = cf->explore * (XE_EXPLORE_STEPS - j) / XE_EXPLORE_STEPS * half * xe->chan[c].d *
                        xe->chan[c].m / K;
            double n = xe->chan[c].r_n > 0 ? xe->chan[c].r_n : 0;
            grow[j * K + c] = dn > 0 ? sqrt(dn / (n + dn)) : 0;
        }
    double earn = 0, loss = 0, evsi[XE_EXPLORE_STEPS] = {0};
    for (unsigned g = 0; g < G; g++) {
        double e, l, v[XE_EXPLORE_STEPS], w;
        segment_terms(xe, g, grow, &e, &l, v, &w);
        earn += w * e, loss += w * (l > 0 ? l : 0);
        for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++)
            evsi[j] += w * v[j];
    }
    /* The largest share tried whose cost the earning and its information cover (eng__xe_explore_bound). */
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++) {
        double s = cf->explore * (XE_EXPLORE_STEPS - j) / XE_EXPLORE_STEPS;
        if (eng__xe_explore_bound(s, &(double){earn + evsi[j]}, &loss, &(double){1}, 1) >= s) {
            xe->explore = s;
            return;
        }
    }
    xe->explore = eng__xe_explore_bound(cf->explore / XE_EXPLORE_STEPS, &(double){earn + evsi[XE_EXPLORE_STEPS - 1]},
                                        &loss, &(double){1}, 1);
}

double eng__xe_explore_now(const eng__xe *xe) { return xe->explore; }
