/* X-Engage model: per-customer engagement counts, segment x channel
 * statistics and the empirical-Bayes refresh that turns them into priors. */
#include "decide/xengage_impl.h"
#include "base/error.h"

#include <math.h>
#include <string.h>

/* Pseudo-counts of the hierarchy's weak links: a segment's rates start at the
 * channel's, a channel's conversion rate at all channels'. Small on purpose:
 * data dominates after a few dozen messages. */
#define XE_SEG_PRIOR 10.0
#define XE_CROSS_PRIOR 2.0
/* Bounds of the organic rate's prior strength (control customers): at least the 2 of a plain prior,
 * at most what pools the segments fully at any audience size. */
#define XE_P0_STRENGTH_MIN 2.0
#define XE_P0_STRENGTH_MAX 1e7
/* The guard rail's quantile of the cold conversion prior (eng__xe_cold_conversion_low): one-sided 95 %. */
#define XE_GUARD_ALPHA 0.05
#define XE_GUARD_Z 1.6448536269514722 /* its normal quantile, for the data's part (guard_low) */
/* Over-dispersion used until the data holds enough pairs to estimate it. */
#define XE_RHO_DEFAULT 0.1

void eng__xe_config_default(eng__xe_config *c, unsigned k, unsigned g, uint32_t customers)
{
    memset(c, 0, sizeof *c);
    c->k = k;
    c->g = g;
    c->customers = customers;
    c->value = 1;
    for (unsigned i = 0; i < ENG__XE_MAXK; i++)
        c->priority[i] = (uint8_t)i;
    c->explore = 0.03;
    c->forget = 0.5;
    c->sample_q = 0;
    c->sample_pi = 0;
    c->skip_negative = 1;
    c->customer_factor = 1;
    c->q_lgn = 0;
}

/* The exploration bucket's worth is absolute (the precision of the off-policy estimates and of the rates of
 * channels the scores seldom pick: about 6,000 explored customers an execution; k10's intervals under-covered
 * with 600 and held with 3,000), its cost relative (an explored customer gets a uniform channel and loses
 * about half of what the score would earn). So 3 % of an audience up to 200,000, 1 % from 600,000. */
#define XE_EXPLORE_ROWS 6000.0

double eng__xe_explore_share(uint64_t audience)
{
    double s = audience ? XE_EXPLORE_ROWS / (double)audience : 0.03;
    return s < 0.01 ? 0.01 : s > 0.03 ? 0.03 : s;
}

int eng__xe_alloc(const eng__mem *mem, const eng__xe_config *cfg, eng__xe **out)
{
    *out = NULL;
    if (!cfg || cfg->k < 1 || cfg->k > ENG__XE_MAXK || cfg->g < 1 || cfg->g > 65535)
        return eng__err(ENG_EINVAL, "xengage.channels", "X-Engage needs 1..%d channels and 1..65535 segments",
                        ENG__XE_MAXK);
    if (!(cfg->explore >= 0 && cfg->explore <= 0.5) || !(cfg->forget >= 0 && cfg->forget <= 1) ||
        !(cfg->value >= 0))
        return eng__err(ENG_EINVAL, "xengage.options", "explore must be 0..0.5, forget 0..1, value >= 0");
    for (unsigned c = 0; c < cfg->k; c++)
        if (!(cfg->cost[c] >= 0) || cfg->priority[c] >= cfg->k)
            return eng__err(ENG_EINVAL, "xengage.cost", "channel %u: cost must be >= 0, priority a channel", c);
    eng__mem m;
    int rc = eng__mem_init(&m, mem ? &mem->a : NULL);
    if (rc)
        return rc;
    eng__xe *xe = eng__calloc(&m, 1, sizeof *xe);
    if (!xe)
        return eng__nomem();
    xe->mem = m;
    xe->cfg = *cfg;
    xe->explore = cfg->explore;
    for (unsigned c = 0; c < ENG__XE_MAXK; c++)
        xe->xw[c] = 1; /* the uniform bucket until a refresh weighs the channels */
    xe->stride = 2 * (size_t)cfg->k + 2;
    xe->st = eng__calloc(&m, (size_t)cfg->customers ? cfg->customers : 1, xe->stride);
    xe->cell = eng__calloc(&m, (size_t)cfg->g * cfg->k, sizeof *xe->cell);
    xe->seg = eng__calloc(&m, cfg->g, sizeof *xe->seg);
    xe->abn = eng__calloc(&m, (size_t)cfg->g * cfg->k, sizeof *xe->abn);
    xe->fit_m = eng__malloc(&m, 2 * (size_t)cfg->g * sizeof *xe->fit_m);
    size_t lb = cfg->q_lgn ? eng__xe_lgn_bytes(cfg->g, cfg->k) : 0;
    xe->lgn = lb ? eng__malloc(&m, lb) : NULL;
    if (!xe->st || !xe->cell || !xe->seg || !xe->abn || !xe->fit_m || (lb && !xe->lgn)) {
        eng__xe_free(xe);
        return eng__nomem();
    }
    *out = xe;
    return ENG_OK;
}

int eng__xe_create(const eng__mem *mem, const eng__xe_config *cfg, eng__xe **out)
{
    int rc = eng__xe_alloc(mem, cfg, out);
    if (rc == ENG_OK)
        eng__xe_refresh(*out);
    return rc;
}

void eng__xe_free(eng__xe *xe)
{
    if (!xe)
        return;
    eng__mem m = xe->mem;
    eng__free(&m, xe->st);
    eng__free(&m, xe->cell);
    eng__free(&m, xe->seg);
    eng__free(&m, xe->abn);
    eng__free(&m, xe->pend);
    eng__free(&m, xe->fit_m);
    eng__free(&m, xe->lgn);
    eng__free(&m, xe->reach);
    eng__free(&m, xe);
}

const eng__xe_config *eng__xe_cfg(const eng__xe *xe) { return &xe->cfg; }
size_t eng__xe_state_bytes(const eng__xe *xe) { return xe->stride; }

void eng__xe_counts(const eng__xe *xe, uint32_t customer, unsigned channel, unsigned *sent, unsigned *engaged)
{
    const uint8_t *s = xe_state(xe, customer) + 2 * channel;
    *sent = s[0];
    *engaged = s[1];
}

/* The customer's counts move to the likelihood counters of its new segment. */
static void move_segment(eng__xe *xe, uint8_t *s, unsigned segment)
{
    const unsigned K = xe->cfg.k;
    unsigned old = xe_segment(xe, s);
    if (old == segment)
        return;
    for (unsigned c = 0; c < K && old < xe->cfg.g; c++)
        if (s[2 * c]) {
            eng__xe_abn_move(&xe->abn[(size_t)old * K + c], s[2 * c], s[2 * c + 1], 0, 0);
            eng__xe_abn_move(&xe->abn[(size_t)segment * K + c], 0, 0, s[2 * c], s[2 * c + 1]);
        }
    s[2 * K] = (uint8_t)segment, s[2 * K + 1] = (uint8_t)(segment >> 8);
}

void eng__xe_set_segment(eng__xe *xe, uint32_t customer, unsigned segment)
{
    if (customer >= xe->cfg.customers || segment >= xe->cfg.g)
        return;
    move_segment(xe, xe->st + (size_t)customer * xe->stride, segment);
}

unsigned eng__xe_segment_of(const eng__xe *xe, uint32_t customer)
{
    return customer < xe->cfg.customers ? xe_segment(xe, xe_state(xe, customer)) : 0;
}

void eng__xe_observe(eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel, unsigned flags)
{
    if (customer >= xe->cfg.customers || segment >= xe->cfg.g || channel >= xe->cfg.k)
        return;
    xe_chan *ch = &xe->chan[channel];
    ch->sent += 1;
    if (!(flags & ENG__XE_DELIVERED))
        return; /* engagement is per delivered message: an outage must not look like disinterest */
    ch->delivered += 1;
    int engaged = (flags & ENG__XE_ENGAGED) != 0;
    xe_cell *cl = xe_cell_at(xe, segment, channel);
    uint8_t *s = xe->st + (size_t)customer * xe->stride;
    move_segment(xe, s, segment);
    s += 2 * channel;
    double n0 = s[0], k0 = s[1];
    unsigned n = s[0] + 1u, k = s[1] + (unsigned)engaged;
    if (n > 255) { /* halve: keeps the rate, forgets the oldest evidence */
        n = (n + 1) / 2;
        k = (k + 1) / 2;
    }
    eng__xe_abn_move(&xe->abn[(size_t)segment * xe->cfg.k + channel], s[0], s[1], n, k);
    s[0] = (uint8_t)n;
    s[1] = (uint8_t)k;
    cl->pn += (double)n * (n - 1) - n0 * (n0 - 1);
    cl->pk += (double)k * (k - 1) - k0 * (k0 - 1);
    cl->sent += 1;
    cl->eng += engaged;
    if (engaged && !(flags & ENG__XE_NO_CONV)) {
        cl->en += 1;
        cl->ec += (flags & ENG__XE_CONVERTED) != 0;
    }
}

int eng__xe_pending(eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel, double w)
{
    if (customer >= xe->cfg.customers || segment >= xe->cfg.g || channel >= xe->cfg.k || !(w >= 0))
        return ENG_OK;
    xe->open[channel] += 1;
    xe->open_w[channel] += w < 1 ? w : 1;
    if (!(w > 0))
        return ENG_OK;
    if (!xe->pend && !(xe->pend = eng__calloc(&xe->mem, (size_t)xe->cfg.g * xe->cfg.k, sizeof *xe->pend)))
        return eng__nomem();
    if (w > 1)
        w = 1;
    xe_pend *p = &xe->pend[(size_t)segment * xe->cfg.k + channel];
    const uint8_t *s = xe_state(xe, customer) + 2 * channel;
    if (s[0] < XE_NH) /* a customer past XE_NH counts at its rate (xengage_fit.c): one more miss is noise */
        p->b[s[0] - s[1]] += w, p->n[s[0]] += w;
    p->sent += w;
    xe->npend = 1;
    return ENG_OK;
}

void eng__xe_pending_reset(eng__xe *xe)
{
    memset(xe->open, 0, sizeof xe->open);
    memset(xe->open_w, 0, sizeof xe->open_w);
    if (xe->pend && xe->npend)
        memset(xe->pend, 0, (size_t)xe->cfg.g * xe->cfg.k * sizeof *xe->pend);
    xe->npend = 0;
}

void eng__xe_baseline(eng__xe *xe, unsigned segment, uint32_t n, uint32_t converted)
{
    if (segment >= xe->cfg.g)
        return;
    xe->seg[segment].bn += n;
    xe->seg[segment].bc += converted;
}

void eng__xe_baseline_reset(eng__xe *xe)
{
    for (unsigned g = 0; g < xe->cfg.g; g++)
        xe->seg[g].bn = xe->seg[g].bc = 0;
}

void eng__xe_new_wave(eng__xe *xe)
{
    double f = xe->cfg.forget;
    for (size_t i = 0; i < (size_t)xe->cfg.g * xe->cfg.k; i++) {
        xe_cell *c = &xe->cell[i];
        c->sent *= f, c->eng *= f, c->en *= f, c->ec *= f;
    }
    for (unsigned g = 0; g < xe->cfg.g; g++)
        xe->seg[g].bn *= f, xe->seg[g].bc *= f;
    for (unsigned c = 0; c < xe->cfg.k; c++)
        xe->chan[c].sent *= f, xe->chan[c].delivered *= f;
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Method-of-moments over-dispersion of a beta-binomial: for units with n_i
 * trials and k_i successes, E[k(k-1)] = n(n-1) (m^2 + m(1-m) rho). */
static double overdispersion(double pk, double pn_m2, double pn_v, double fallback)
{
    if (pn_v < 2.0)
        return fallback;
    return clamp((pk - pn_m2) / pn_v, 0.002, 0.5);
}

static void refresh_resp(eng__xe *xe);

/* Before any conversion is seen, conversion given engagement r = p0 + (1 - p0) pi with the lift pi
 * log-uniform between the organic rate p0 and 1 (a scale prior: a lift of 2 % as likely as one of 20 %),
 * mean (1 - p0) / ln(1 / p0). Why: the uniform prior's 1/2 made every engagement worth half an order, so
 * on a campaign whose channels cost more than they bring nothing was skipped until conversions came back
 * (dear.world). The organic rate is the one figure the org's sales give before the campaign has any. */
double eng__xe_cold_conversion(double p0)
{
    if (!(p0 > 0 && p0 < 1))
        return 0.5; /* no sales seen (or every customer buys anyway): the uniform prior */
    return p0 + (1 - p0) * (1 - p0) / log(1 / p0);
}

double eng__xe_cold_conversion_low(double p0, double alpha)
{
    if (!(p0 > 0 && p0 < 1))
        return alpha; /* r uniform */
    return p0 + (1 - p0) * pow(p0, 1 - alpha);
}

/* E pi^2 = (1 - p0^2) / (2 ln(1 / p0)) for pi log-uniform on [p0, 1]. */
double eng__xe_cold_conversion_var(double p0)
{
    if (!(p0 > 0 && p0 < 1))
        return 1.0 / 12;
    double l = log(1 / p0), m = (1 - p0) / l, m2 = (1 - p0 * p0) / (2 * l);
    return (1 - p0) * (1 - p0) * (m2 - m * m);
}

/* The guard rail's estimate of one level of the hierarchy, conversions @p k of @p n engagements under a
 * prior of strength @p s at the parent's mean @p parent: the posterior mean less z standard deviations,
 * never below @p floor (the cold prior's lower quantile, where the rail starts) nor above the mean. Its
 * variance (@p var: the parent's in, this level's out) holds the sampling variance of the data's share of
 * the mean (@p data; a segment's cell leaves it to the segments' fitted spread) and what the prior's
 * weight carries of the parent's. Why: the rail from the prior's quantile alone met the mean as soon as
 * a conversion was seen, and one conversion in one engagement made a channel's mean 0.48 and sent 457
 * WhatsApp messages at 0.9 each in dear.world's second batch (a lift of about 5 %). A channel without
 * data takes the parent's bound (the default world's ad channels, whose conversions come back after
 * the wave). Tried and not kept: a segment's own Beta variance too (the default world -0.6 %, k10 -1.1 %:
 * with a fitted spread between segments a cell of a few dozen engagements is held back), and the whole
 * prior's variance at a channel without data (the ad channels held at the floor through wave 1: default
 * -0.3 %); a bound with no floor held every channel at 0 until dozens of conversions were seen. */
static double guard_low(double k, double n, double s, double parent, double *var, double floor, int data)
{
    double mean = (k + s * parent) / (n + s), w = s / (n + s);
    *var = (data && n > 0 ? n * mean * (1 - mean) / ((n + s) * (n + s)) : 0) + w * w * *var;
    double lo = mean - XE_GUARD_Z * sqrt(*var);
    return lo > floor ? (lo < mean ? lo : mean) : floor < mean ? floor : mean;
}

void eng__xe_refresh(eng__xe *xe)
{
    const unsigned K = xe->cfg.k, G = xe->cfg.g;
    double bn = 0, bc = 0;
    for (unsigned g = 0; g < G; g++)
        bn += xe->seg[g].bn, bc += xe->seg[g].bc;
    double p0_all = bn > 0 ? bc / bn : 0;
    /* The segments' organic rates shrink toward the pooled one with a strength fitted by marginal
     * likelihood: a small control group per segment holds a few purchases, and segments that do not
     * differ in organic buying must not look as though they did (that noise goes straight into every
     * channel's conversion given engagement). */
    for (unsigned g = 0; g < G; g++)
        xe->fit_m[g] = xe->seg[g].bn, xe->fit_m[G + g] = xe->seg[g].bc;
    double s0 = G > 1 ? eng__xe_fit_strength(xe->fit_m, xe->fit_m + G, 1, G, p0_all, XE_P0_STRENGTH_MIN,
                                             XE_P0_STRENGTH_MAX)
                      : XE_P0_STRENGTH_MIN;
    for (unsigned g = 0; g < G; g++)
        xe->seg[g].p0 = (xe->seg[g].bc + s0 * p0_all) / (xe->seg[g].bn + s0);
    for (unsigned g = 0; g < G; g++)
        xe->seg[g].inv_1mp0 = 1 / (1 - xe->seg[g].p0);
    double all_en = 0, all_ec = 0;
    for (size_t i = 0; i < (size_t)G * K; i++)
        all_en += xe->cell[i].en, all_ec += xe->cell[i].ec;
    /* The cold prior's organic rate: a control group that has bought nothing yet reads as half a purchase
     * among them, a rate below one in its size, not as an unknown one (the uniform prior's r of 1/2 and guard
     * floor of 0.05: a world with an organic rate of 0.14 % and 80 control customers sent at a loss on that
     * floor, wave after wave, where nothing pays). Only then: Jeffreys' half a purchase on a rate that has
     * some (the sales history's prior is worth 20 customers) moved dearcold.world's 0.34 % to 1.2 %. */
    double p0c = bn > 0 ? (bc > 0 ? bc / bn : 0.5 / (bn + 1)) : -1;
    double r0 = eng__xe_cold_conversion(p0c), r_all = (all_ec + 2 * r0) / (all_en + 2);
    /* The guard rail's estimate: the same hierarchy's means less 1.645 of their standard deviations, the cold
     * prior's and the data's (guard_low), never below the cold prior's lower quantile: it closes in on the mean
     * as conversions accumulate; before, it keeps a campaign whose channels pay only at the prior's optimistic
     * end, or at a mean resting on two or three conversions, from sending at a loss (dear.world). */
    double floor = eng__xe_cold_conversion_low(p0c, XE_GUARD_ALPHA);
    double var_all = eng__xe_cold_conversion_var(p0c);
    (void)guard_low(all_ec, all_en, 2, r0, &var_all, floor, 1);
    /* The channels with data first: a channel without any takes its prior from their spread
     * (eng__xe_unseen_prior), not a rate of 1/2 that would outbid every channel with history. */
    double c_sent[ENG__XE_MAXK], c_eng[ENG__XE_MAXK], c_rho[ENG__XE_MAXK];
    for (unsigned c = 0; c < K; c++) {
        c_sent[c] = c_eng[c] = c_rho[c] = 0;
        for (unsigned g = 0; g < G; g++)
            c_sent[c] += xe_cell_at(xe, g, c)->sent, c_eng[c] += xe_cell_at(xe, g, c)->eng;
        for (unsigned g = 0; xe->npend && c_sent[c] > 0 && g < G; g++) /* pending alone: misses only */
            c_sent[c] += xe->pend[(size_t)g * K + c].sent;
    }
    double new_m = 0.5, new_kappa = 1 / XE_RHO_DEFAULT - 1; /* fewer than two with data: the plain prior */
    for (unsigned i = 0; i < 2 * K; i++) {
        unsigned c = i % K, pass = i / K;
        if (i == K) /* every channel with data is fitted */
            eng__xe_unseen_prior(c_sent, c_eng, c_rho, K, &new_m, &new_kappa);
        if ((c_sent[c] > 0) != (pass == 0))
            continue;
        xe_chan *ch = &xe->chan[c];
        ch->d = ch->sent > 0 ? (ch->delivered + 1) / (ch->sent + 1) : 1.0;
        double en = 0, ec = 0;
        for (unsigned g = 0; g < G; g++)
            en += xe_cell_at(xe, g, c)->en, ec += xe_cell_at(xe, g, c)->ec;
        ch->m = pass == 0 ? (c_eng[c] + 0.5) / (c_sent[c] + 1) : new_m;
        double r_c = (ec + XE_CROSS_PRIOR * r_all) / (en + XE_CROSS_PRIOR);
        double var_c = var_all;
        (void)guard_low(ec, en, XE_CROSS_PRIOR, r_all, &var_c, floor, 1);
        ch->r_n = var_c > 0 ? r_c * (1 - r_c) / var_c - 1 : 0;
        /* Engagement: the segments' means and the spread between customers by marginal likelihood
         * (xengage_fit.c; unbiased by the adaptive choice of sends). */
        double kappa;
        eng__xe_fit(&xe->abn[c], xe->npend ? &xe->pend[c] : NULL, K, G, XE_SEG_PRIOR, ch->m, pass == 0 ? 1 / XE_RHO_DEFAULT - 1 : new_kappa,
                    xe->fit_m, &kappa);
        ch->rho = c_rho[c] = 1 / (kappa + 1);
        /* Conversion spread between segments of this channel. */
        double sk = 0, sm2 = 0, sv = 0;
        for (unsigned g = 0; g < G; g++) {
            const xe_cell *cl = xe_cell_at(xe, g, c);
            double nn = cl->en * (cl->en - 1 > 0 ? cl->en - 1 : 0);
            sk += cl->ec * (cl->ec - 1 > 0 ? cl->ec - 1 : 0), sm2 += nn * r_c * r_c, sv += nn * r_c * (1 - r_c);
        }
        double s_pi = 1 / overdispersion(sk, sm2, sv, 0.02) - 1;
        for (unsigned g = 0; g < G; g++) {
            xe_cell *cl = xe_cell_at(xe, g, c);
            double m = xe->fit_m[g];
            cl->a0 = kappa * m;
            cl->b0 = kappa * (1 - m);
            cl->pa = s_pi * r_c + cl->ec;
            cl->pb = s_pi * (1 - r_c) + (cl->en - cl->ec);
            cl->m = m;
            cl->kappa = kappa;
            double t = cl->pa + cl->pb;
            cl->r_mean = cl->pa / t;
            cl->r_sd = sqrt(cl->r_mean * (1 - cl->r_mean) / (t + 1));
            double var = var_c;
            cl->r_lo = guard_low(cl->ec, cl->en, s_pi, r_c, &var, floor, 0);
            cl->r_tsd = sqrt(var + cl->r_mean * (1 - cl->r_mean) / (t + 1)); /* the cell's own part too */
            cl->r_exact = !(cl->pa > 40 && cl->pb > 40); /* the same switch as eng__xe_beta_draw */
        }
    }
    if (xe->cfg.customer_factor)
        refresh_resp(xe);
    double sr; /* the logit-normal's own fit of the customer factor (the moments' under-count it, xengage_lgn.c) */
    if (xe->lgn && xe->cfg.customer_factor && eng__xe_lgn_fit_sr(xe, &sr) == ENG_OK)
        xe->resp_a = sr > 1e-3 ? 1 / expm1(sr * sr) : 0;
    eng__xe_lgn_build(xe);
    eng__xe_explore_refresh(xe);
}

double eng__xe_resp(const eng__xe *xe, const uint8_t *s, unsigned seg, int skip)
{
    if (xe->resp_a <= 0)
        return 1.0;
    double o = 0, e = 0;
    for (unsigned c = 0; c < xe->cfg.k; c++)
        if ((int)c != skip && s[2 * c]) {
            o += s[2 * c + 1];
            e += s[2 * c] * xe_cell_mean(xe_cell_at(xe, seg, c));
        }
    return (o + xe->resp_a) / (e + xe->resp_a);
}

/* Customers share a responsiveness across channels (a multiplier f with mean 1
 * and variance 1/a). Its spread comes from pairs of engagements on different
 * channels: E[k_c k_c'] = E_c E_c' E[f^2]. A strided sample of customers keeps
 * the pass short at any audience size. */
static void refresh_resp(eng__xe *xe)
{
    const unsigned K = xe->cfg.k;
    size_t n = xe->cfg.customers, step = n > 65536 ? n / 65536 : 1;
    double kk = 0, ee = 0;
    for (size_t i = 0; i < n; i += step) {
        const uint8_t *s = xe_state(xe, (uint32_t)i);
        unsigned seg = xe_segment(xe, s);
        if (seg >= xe->cfg.g)
            continue;
        double o = 0, o2 = 0, e = 0, e2 = 0;
        for (unsigned c = 0; c < K; c++) {
            if (!s[2 * c])
                continue;
            double ec = s[2 * c] * xe_cell_mean(xe_cell_at(xe, seg, c));
            o += s[2 * c + 1], o2 += (double)s[2 * c + 1] * s[2 * c + 1];
            e += ec, e2 += ec * ec;
        }
        kk += o * o - o2, ee += e * e - e2;
    }
    double v = ee > 1 ? kk / ee - 1 : 0;
    xe->resp_a = v > 1e-3 ? 1 / v : 0;
}

double eng__xe_rho(const eng__xe *xe, unsigned channel) { return xe->chan[channel].rho; }

eng__xe_beta eng__xe_q_prior(const eng__xe *xe, const uint8_t *s, unsigned segment, unsigned channel)
{
    const xe_cell *cl = xe_cell_at(xe, segment, channel);
    double kappa = cl->kappa, m = cl->m;
    if (s && xe->resp_a > 0) {
        m *= eng__xe_resp(xe, s, segment, (int)channel);
        if (m > 0.995)
            m = 0.995;
    }
    eng__xe_beta b = {kappa * m, kappa * (1 - m)};
    return b;
}

eng__xe_beta eng__xe_q_posterior(const eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel)
{
    const uint8_t *s = xe_state(xe, customer);
    eng__xe_beta b = eng__xe_q_prior(xe, s, segment, channel);
    b.a += s[2 * channel + 1];
    b.b += s[2 * channel] - s[2 * channel + 1];
    return b;
}

eng__xe_beta eng__xe_pi_posterior(const eng__xe *xe, unsigned segment, unsigned channel)
{
    const xe_cell *cl = xe_cell_at(xe, segment, channel);
    eng__xe_beta b = {cl->pa, cl->pb};
    return b;
}

double eng__xe_mean_organic(const eng__xe *xe, unsigned segment) { return xe->seg[segment].p0; }

double eng__xe_mean_incr(const eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel)
{
    eng__xe_beta q = eng__xe_q_posterior(xe, customer, segment, channel);
    eng__xe_beta r = eng__xe_pi_posterior(xe, segment, channel);
    double p0 = xe->seg[segment].p0, rm = r.a / (r.a + r.b), qm[ENG__XE_MAXK];
    double pi = rm > p0 ? (rm - p0) / (1 - p0) : 0;
    if (xe->lgn) /* the decision's own engagement estimate */
        eng__xe_lgn_means(xe, xe_state(xe, customer), segment, 1u << channel, qm);
    return xe->chan[channel].d * (xe->lgn ? qm[channel] : q.a / (q.a + q.b)) * pi;
}
