/* X-Engage: the exploration bucket's share, bounded by what the campaign can plausibly earn.
 * Why: an explored customer gets a uniform reachable channel, which on a campaign whose every channel
 * costs more than it brings (orders of 6 against messages of 0.25-0.90) loses more than the whole
 * campaign can earn. The bucket's expected cost per test customer, share x (the value of the score's
 * choice, none allowed, less the uniform channel's), is kept at most the campaign's plausible earning
 * per test customer (the best channel's value at an optimistic conversion rate, or nothing). The share
 * is one figure for the whole population at a refresh, never per customer: an explored customer still
 * gets each reachable channel at 1 / reachable, and the explored customers stay a uniform sample of the
 * audience, so the logged propensities and the off-policy estimates built on them are unchanged.
 * Without skipping (a host without sales history: the value is unknown) the share is the configured one. */
#include "decide/xengage_impl.h"

double eng__xe_explore_bound(double share, const double *gain, const double *loss, const double *w, unsigned n)
{
    double sg = 0, sl = 0;
    for (unsigned i = 0; i < n; i++)
        sg += w[i] * (gain[i] > 0 ? gain[i] : 0), sl += w[i] * (loss[i] > 0 ? loss[i] : 0);
    return sl > 0 && share * sl > sg ? sg / sl : share;
}

/* Segment g's mean customer, each channel at the cells' conversion posterior: the plausible earning
 * (best channel at the mean plus two standard deviations of conversion given engagement, or none) and
 * the expected loss of exploring (the score's choice or none, less the mean over the channels). */
static void segment_terms(const eng__xe *xe, unsigned g, double *gain, double *loss, double *w)
{
    const eng__xe_config *cf = &xe->cfg;
    const xe_seg *sg = &xe->seg[g];
    double best = 0, opt = 0, mean = 0, sent = 0;
    for (unsigned c = 0; c < cf->k; c++) {
        const xe_cell *cl = xe_cell_at(xe, g, c);
        double r_hi = cl->r_mean + 2 * cl->r_sd;
        double pi = cl->r_mean > sg->p0 ? (cl->r_mean - sg->p0) * sg->inv_1mp0 : 0;
        double pi_hi = r_hi > sg->p0 ? ((r_hi < 1 ? r_hi : 1) - sg->p0) * sg->inv_1mp0 : 0;
        double e = cf->value * xe->chan[c].d * cl->m;
        double net = e * pi - cf->cost[c], net_hi = e * pi_hi - cf->cost[c];
        best = net > best ? net : best;
        opt = net_hi > opt ? net_hi : opt;
        mean += net / cf->k;
        sent += cl->sent;
    }
    *gain = opt;
    *loss = best - mean;
    *w = 1 + sent;
}

void eng__xe_explore_refresh(eng__xe *xe)
{
    const unsigned G = xe->cfg.g;
    double sg = 0, sl = 0, gain, loss, w;
    xe->explore = xe->cfg.explore;
    if (!xe->cfg.skip_negative)
        return; /* the value of a conversion is unknown (no sales history): nothing to bound by */
    for (unsigned g = 0; g < G; g++) { /* eng__xe_explore_bound, one segment at a time */
        segment_terms(xe, g, &gain, &loss, &w);
        sg += w * gain, sl += w * loss;
    }
    xe->explore = eng__xe_explore_bound(xe->cfg.explore, &sg, &sl, &(double){1}, 1);
}

double eng__xe_explore_now(const eng__xe *xe) { return xe->explore; }
