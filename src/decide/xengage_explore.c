/* X-Engage: the exploration bucket's share, bounded by the value of the information the bucket buys.
 * Why: an explored customer gets a uniform reachable channel, which on a campaign whose channels cost more
 * than they bring (orders of 6 against messages of 0.25-0.90) loses more than learning can earn back.
 * The bucket's expected outright loss per test customer, share x (minus the value of a uniform channel,
 * at the guard rail's conversion estimates, over the segments), is kept at most the expected value of the
 * sample information its sends would bring to the rest of the audience (each channel's conversion estimate
 * sharpened by the engagements the bucket adds over half the customers the model holds, beyond its
 * effective engagements now and those still in flight). A campaign whose uniform channel pays (every
 * benchmark world) keeps the configured share, so the off-policy estimates keep their rows; one whose
 * channels lose explores only while a few more conversions could change a choice. Until 2026-12-07 the
 * bound also counted what the campaign earns at the posterior means: a cold campaign that seemed to earn on
 * its cheap channels (at the prior's optimism) paid for 3 % of its customers on channels of up to 179 a
 * message (dearcold.world: -25,000 against the oracle's +11,000; the forgone earning of an explored
 * customer is the bucket's price only when the bucket is not a loss outright).
 * The share is one figure for the whole population at a refresh, never per customer: an explored customer
 * still gets each reachable channel at 1 / reachable, and the explored customers stay a uniform sample of
 * the audience, so the logged propensities and the off-policy estimates built on them are unchanged.
 * Without skipping (a host without sales history: the value is unknown) the share is the configured one.
 * Both sides run over the channels the audience can reach (eng__xe_reach): a channel's loss counts at its share
 * of a uniform reachable draw, its information at the share of customers reachable on it, who alone could use
 * it; a channel nobody can be reached on, cheap and unseen, once priced the bucket as if it might pay and sold
 * information nobody could use (genworld.py world 49: 3 % of every wave sent at 1.1 a message on a channel that
 * delivers nothing). Until a host gives the reach, every channel reaches everyone (1 / k each). */
#include "decide/xengage_impl.h"
#include "base/error.h"

#include <math.h>
#include <string.h>

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

double eng__xe_explore_grow(double n, double f, double dn)
{
    if (!(dn > 0))
        return 0;
    return n > 0 ? sqrt(n * dn / ((n + f) * (n + f + dn))) : sqrt(dn / (f + dn));
}

/* The grid of shares tried, from the configured one down: the value of sample information is not concave
 * in the sample's size (a few sends seldom move a choice), so the largest share that pays is searched. */
#define XE_EXPLORE_STEPS 16

/* Segment g's mean customer, each channel at the guard rail's conversion estimate: the value of a uniform
 * channel (the mean over the channels) and, for each share tried, the value of the sample information the
 * bucket would buy: the channel whose information is worth most, valued at the rail's estimate (a choice the
 * information could change is one the rail would let through), against the best of the other channels and
 * none. At the rail's estimate, not the posterior mean: an explored customer gets a channel the scores did
 * not choose, whose worth before evidence is the prior's optimism the rail exists to distrust. */
/* Pseudo-customers a segment's reach is shrunk toward all segments' by: a sample of a few thousand test
 * customers over up to 255 segments leaves some segments a handful. */
#define XE_REACH_PRIOR 4.0

int eng__xe_reach(eng__xe *xe, const eng__xe_item *it, size_t n)
{
    const unsigned G = xe->cfg.g, K = xe->cfg.k;
    if (!n) {
        eng__free(&xe->mem, xe->reach);
        xe->reach = NULL;
        return ENG_OK;
    }
    double *r = xe->reach ? xe->reach : eng__malloc(&xe->mem, (size_t)G * K * 2 * sizeof *r);
    double *ng = eng__calloc(&xe->mem, G, sizeof *ng), all[2 * ENG__XE_MAXK] = {0};
    if (!r || !ng) {
        if (r != xe->reach)
            eng__free(&xe->mem, r);
        eng__free(&xe->mem, ng);
        return eng__nomem();
    }
    memset(r, 0, (size_t)G * K * 2 * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        unsigned g = it[i].segment < G ? it[i].segment : 0, m = it[i].reach & ((1u << K) - 1);
        double u = m ? 1.0 / __builtin_popcount(m) : 0;
        ng[g] += 1;
        for (unsigned c = 0; c < K; c++)
            if (m >> c & 1) {
                r[2 * ((size_t)g * K + c)] += 1, r[2 * ((size_t)g * K + c) + 1] += u;
                all[2 * c] += 1, all[2 * c + 1] += u;
            }
    }
    for (unsigned c = 0; c < 2 * K; c++)
        all[c] /= (double)n;
    for (unsigned g = 0; g < G; g++)
        for (unsigned j = 0; j < 2 * K; j++) {
            double *x = &r[2 * (size_t)g * K + j];
            *x = (*x + XE_REACH_PRIOR * all[j]) / (ng[g] + XE_REACH_PRIOR);
        }
    for (unsigned c = 0; c < K; c++)
        xe->reach_draw[c] = all[2 * c + 1];
    xe->reach = r;
    eng__free(&xe->mem, ng);
    return ENG_OK;
}

/* Segment @p g's share reachable on channel @p c (@p r) and the channel's share of a uniform reachable draw
 * there (@p u): 1 and 1 / k while the reach is unknown. */
static void reach_at(const eng__xe *xe, unsigned g, unsigned c, double *r, double *u)
{
    const double *x = xe->reach ? &xe->reach[2 * ((size_t)g * xe->cfg.k + c)] : NULL;
    *r = x ? x[0] : 1;
    *u = x ? x[1] : 1.0 / xe->cfg.k;
}

/* Segment @p g's guard-rail net value of each channel (@p lo) and its sd (@p sd), the best and second best of
 * the channels that reach some of its customers and none (@p blo, @p slo); returns the segment's sends (its
 * weight less 1). */
static double segment_rail(const eng__xe *xe, unsigned g, double *lo, double *sd, double *blo, double *slo)
{
    const eng__xe_config *cf = &xe->cfg;
    const xe_seg *sg = &xe->seg[g];
    double sent = 0;
    *blo = *slo = 0;
    for (unsigned c = 0; c < cf->k; c++) {
        const xe_cell *cl = xe_cell_at(xe, g, c);
        double pi_lo = cl->r_lo > sg->p0 ? (cl->r_lo - sg->p0) * sg->inv_1mp0 : 0, r, u;
        double e = cf->value * xe->chan[c].d * cl->m;
        lo[c] = e * pi_lo - cf->cost[c];
        sd[c] = e * cl->r_tsd * sg->inv_1mp0;
        sent += cl->sent;
        reach_at(xe, g, c, &r, &u);
        if (!(r > 0))
            continue;
        if (lo[c] > *blo)
            *slo = *blo, *blo = lo[c];
        else if (lo[c] > *slo)
            *slo = lo[c];
    }
    return sent;
}

static void segment_terms(const eng__xe *xe, unsigned g, const double *grow, double *mean, double *evsi, double *w)
{
    const unsigned K = xe->cfg.k;
    double lo[ENG__XE_MAXK], sd[ENG__XE_MAXK], blo, slo;
    double r[ENG__XE_MAXK], u[ENG__XE_MAXK];
    *w = 1 + segment_rail(xe, g, lo, sd, &blo, &slo);
    *mean = 0;
    for (unsigned c = 0; c < K; c++) {
        reach_at(xe, g, c, &r[c], &u[c]);
        *mean += u[c] * lo[c];
    }
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++) {
        double v = 0;
        for (unsigned c = 0; c < K; c++) {
            double x = r[c] > 0 ? r[c] * eng__xe_evpi(lo[c], sd[c] * grow[j * K + c], lo[c] == blo ? slo : blo) : 0;
            v = x > v ? x : v;
        }
        evsi[j] = v;
    }
}

double eng__xe_explore_weight(double share, unsigned k, double loss, double info)
{
    double l = share * loss / (k ? k : 1); /* the channel's 1 / k of the bucket, at its outright loss */
    double w = l > info ? info / l : 1;
    return w > 1.0 / XE_EXPLORE_STEPS ? w : 1.0 / XE_EXPLORE_STEPS;
}

/* Per channel, the bucket's weight (eng__xe_explore_weight), from each segment's guard-rail net value of the
 * channel: its outright loss, and the expected value of the sample information the bucket's sends on it buy
 * (each segment weighted by its sends, as the share's bound). A dear channel explored uniformly costs far more
 * than what it teaches (dearcold.world); drawn less, at its logged propensity, it keeps the support. */
static void channel_weights(eng__xe *xe, const double *grow)
{
    const eng__xe_config *cf = &xe->cfg;
    const unsigned G = cf->g, K = cf->k;
    double loss[ENG__XE_MAXK] = {0}, info[ENG__XE_MAXK] = {0};
    for (unsigned g = 0; g < G; g++) {
        double lo[ENG__XE_MAXK], sd[ENG__XE_MAXK], blo, slo, w = 1 + segment_rail(xe, g, lo, sd, &blo, &slo), r, u;
        for (unsigned c = 0; c < K; c++) {
            reach_at(xe, g, c, &r, &u);
            loss[c] += w * K * u * (lo[c] < 0 ? -lo[c] : 0); /* its part of the bucket, relative to 1 / k */
            info[c] += r > 0 ? w * r * eng__xe_evpi(lo[c], sd[c] * grow[c], lo[c] == blo ? slo : blo) : 0;
        }
    }
    for (unsigned c = 0; c < K; c++)
        xe->xw[c] = eng__xe_explore_weight(xe->explore, K, loss[c], info[c]);
}

void eng__xe_explore_refresh(eng__xe *xe)
{
    const eng__xe_config *cf = &xe->cfg;
    const unsigned G = cf->g, K = cf->k;
    xe->explore = cf->explore;
    for (unsigned c = 0; c < K; c++)
        xe->xw[c] = 1;
    if (!cf->skip_negative || !(cf->explore > 0))
        return; /* the value of a conversion is unknown (no sales history): nothing to bound by */
    /* Per share tried and channel: the share of a channel's conversion sd the bucket's engagements over half
     * the customers would resolve (the preposterior sd of a posterior mean), given the engagements already in
     * flight: the sends still open will bring f more (each open send engages with about q (1 - w), w the share
     * of a response that would have come by now), so of the posterior variance now, proportional to 1 / n,
     * what dn more resolve beyond those is 1 / (n + f) - 1 / (n + f + dn): sqrt(n dn / ((n + f)(n + f + dn))),
     * sqrt(dn / (n + dn)) with nothing open. Why: the information a bucket's sends bring comes back only after
     * their responses, and until then each refresh valued the same missing information anew and bought it
     * again (dear.world: the full share through the first batches of wave 1 while nothing had come back). */
    double grow[XE_EXPLORE_STEPS * ENG__XE_MAXK], half = 0.5 * (double)cf->customers;
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++)
        for (unsigned c = 0; c < K; c++) {
            double q = xe->chan[c].d * xe->chan[c].m;
            double dn = cf->explore * (XE_EXPLORE_STEPS - j) / XE_EXPLORE_STEPS * half * q *
                        (xe->reach ? xe->reach_draw[c] : 1.0 / K);
            double n = xe->chan[c].r_n > 0 ? xe->chan[c].r_n : 0, f = q * (xe->open[c] - xe->open_w[c]);
            f = f > 0 ? f : 0;
            grow[j * K + c] = eng__xe_explore_grow(n, f, dn);
        }
    double under = 0, evsi[XE_EXPLORE_STEPS] = {0};
    for (unsigned g = 0; g < G; g++) {
        double m, v[XE_EXPLORE_STEPS], w;
        segment_terms(xe, g, grow, &m, v, &w);
        under -= w * m;
        for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++)
            evsi[j] += w * v[j];
    }
    /* The largest share tried whose outright loss its information covers (eng__xe_explore_bound). */
    unsigned jj = XE_EXPLORE_STEPS - 1;
    xe->explore = -1;
    for (unsigned j = 0; j < XE_EXPLORE_STEPS; j++) {
        double s = cf->explore * (XE_EXPLORE_STEPS - j) / XE_EXPLORE_STEPS;
        if (eng__xe_explore_bound(s, &evsi[j], &under, &(double){1}, 1) >= s) {
            xe->explore = s, jj = j;
            break;
        }
    }
    if (xe->explore < 0)
        xe->explore = eng__xe_explore_bound(cf->explore / XE_EXPLORE_STEPS, &evsi[XE_EXPLORE_STEPS - 1], &under,
                                            &(double){1}, 1);
    channel_weights(xe, grow + jj * K);
}

double eng__xe_explore_now(const eng__xe *xe) { return xe->explore; }
