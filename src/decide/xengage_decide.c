/* X-Engage decisions: one channel (or none) per customer by Thompson sampling
 * of the expected value, an exploration bucket with exact propensities, a
 * credit cap by a Lagrange multiplier on cost, and the per-customer trace. */
#include "decide/xengage_impl.h"
#include "base/error.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Draw the value (before cost) of every reachable channel of one customer and
 * settle the exploration bucket. v[c] is V * d * q~ * pi~. Returns the
 * explored channel (>= 0), -2 for the priority guard rail's choice in
 * *guard, or -1 when the choice is left to the scores. */
static int draw(const eng__xe *xe, uint32_t wave, const eng__xe_item *it, double *v, eng__xe_trace *tr,
                int *guard, double *prop, int sample)
{
    const eng__xe_config *cf = &xe->cfg;
    eng__xe_rng r = eng__xe_rng_at(cf->seed, it->customer, wave);
    unsigned reach = it->reach & ((1u << cf->k) - 1);
    unsigned nr = (unsigned)__builtin_popcount(reach);
    double u = eng__xe_uniform(&r);
    if (nr == 0)
        return -1;
    if (u < xe->explore) {
        double sw = 0, x;
        for (unsigned c = 0; c < cf->k; c++)
            sw += reach >> c & 1 ? xe->xw[c] : 0;
        x = eng__xe_uniform(&r) * sw;
        int last = -1;
        for (unsigned c = 0; c < cf->k; c++)
            if (reach >> c & 1) {
                last = (int)c;
                if ((x -= xe->xw[c]) < 0)
                    break;
            }
        *prop = xe->xw[last] / sw;
        return last;
    }
    const uint8_t *s = it->customer < cf->customers ? xe_state(xe, it->customer) : NULL;
    if (cf->guard_priority) {
        unsigned seen = 0;
        for (unsigned c = 0; c < cf->k && s; c++)
            seen += (reach >> c & 1) ? s[2 * c] : 0;
        if (!seen) {
            for (unsigned i = 0; i < cf->k; i++)
                if (reach >> cf->priority[i] & 1) {
                    *guard = cf->priority[i];
                    return -2;
                }
        }
    }
    unsigned seg = it->segment < cf->g ? it->segment : 0;
    const xe_seg *sg = &xe->seg[seg];
    const xe_cell *row = xe_cell_at(xe, seg, 0);
    double value = it->value > 0 ? it->value : cf->value;
    /* The customer's responsiveness from every channel; each channel then
     * leaves its own counts out (eng__xe_resp, computed once). */
    double o = 0, e = 0, ra = xe->resp_a;
    /* A customer none of whose reachable channels was ever observed: they all hold the same unseen prior, so
     * the means would leave the choice to cost alone and send the whole cold start to the cheapest channel
     * (often the weakest: tiny.world 34 % of the oracle against random_single's 51 %). Each channel's
     * engagement is drawn from that prior instead (Thompson sampling where nothing is known), which spreads the
     * first batch over the channels and lets the next batches learn them all. */
    int cold = 1;
    for (unsigned c = 0; c < cf->k && cold; c++)
        cold = !(reach >> c & 1) || xe->chan[c].sent <= 0;
    int safe = !cf->skip_negative; /* some channel pays at the guard rail's conversion estimate (r_lo) */
    double v_lo[ENG__XE_MAXK], pl[ENG__XE_MAXK];
    /* The logit-normal posterior means (xengage_lgn.c) in place of the Beta's; draws stay Beta. */
    double ql[ENG__XE_MAXK];
    int lgn = xe->lgn && !cf->sample_q && !cold && !sample;
    if (lgn)
        eng__xe_lgn_means(xe, s, seg, reach, ql);
    if (s && ra > 0 && !lgn)
        for (unsigned c = 0; c < cf->k; c++)
            if (s[2 * c])
                o += s[2 * c + 1], e += s[2 * c] * row[c].m;
    for (unsigned c = 0; c < cf->k; c++) {
        if (!(reach >> c & 1))
            continue;
        const xe_cell *cl = &row[c];
        unsigned n = s ? s[2 * c] : 0, k = s ? s[2 * c + 1] : 0;
        double m = cl->m;
        if (s && ra > 0 && !lgn) {
            m *= (o - (n ? k : 0) + ra) / (e - (n ? n * cl->m : 0) + ra);
            m = m > 0.995 ? 0.995 : m;
        }
        double a = cl->kappa * m + k, b = cl->kappa * (1 - m) + (n - k);
        double q = lgn ? ql[c] : cf->sample_q || cold || sample ? eng__xe_beta_draw(&r, a, b) : a / (a + b);
        double rc = !cf->sample_pi ? cl->r_mean
                    : cl->r_exact  ? eng__xe_beta_draw(&r, cl->pa, cl->pb)
                                   : cl->r_mean + cl->r_sd * eng__xe_normal(&r);
        double pi = rc > sg->p0 ? (rc - sg->p0) * sg->inv_1mp0 : 0;
        double pi_lo = cl->r_lo > sg->p0 ? (cl->r_lo - sg->p0) * sg->inv_1mp0 : 0;
        double val = value, d = xe->chan[c].d;
        if (cf->truth) {
            double was = pi;
            cf->truth(cf->truth_u, it->customer, c, &q, &pi, &val, &d);
            pi_lo = pi != was ? pi : pi_lo; /* the world's own: no guard needed */
        }
        v[c] = val * d * q * pi;
        v_lo[c] = val * d * q * pi_lo;
        pl[c] = pi_lo;
        double cost = eng__xe_item_cost(cf->cost, it, c);
        safe |= v_lo[c] > cost || cost <= 0; /* a free message is never sent at a loss */
        if (tr) {
            tr->ch[c].q_mean = lgn ? ql[c] : a / (a + b);
            tr->ch[c].q_draw = q;
            tr->ch[c].pi_mean = cl->r_mean > sg->p0 ? (cl->r_mean - sg->p0) * sg->inv_1mp0 : 0;
            tr->ch[c].pi_draw = pi;
            tr->ch[c].sent = (uint8_t)n;
            tr->ch[c].engaged = (uint8_t)k;
        }
    }
    /* The guard rail: no channel pays at the pessimistic estimate, so the scores use it (none is positive:
     * pick() skips at any multiplier, and the trace shows the conversion the decision used). */
    for (unsigned c = 0; !safe && c < cf->k; c++)
        if (reach >> c & 1) {
            v[c] = v_lo[c];
            if (tr)
                tr->ch[c].pi_draw = pl[c];
        }
    if (tr)
        tr->guarded = !safe;
    return -1;
}

/* The best channel at multiplier lambda, or -1. Channels are tried in the message's priority order, so equal
 * scores go to the one the host ranks first (free channels the model cannot tell apart tie exactly: by index,
 * a world of free channels sent its whole first wave on the engine's first channel, genworld.py world 6). */
static int pick(const eng__xe *xe, const eng__xe_item *it, const double *v, double lambda, double *score)
{
    int best = -1;
    double bs = -INFINITY;
    unsigned reach = it->reach & ((1u << xe->cfg.k) - 1);
    for (unsigned p = 0; p < xe->cfg.k; p++) {
        unsigned c = xe->cfg.priority[p];
        if (c >= xe->cfg.k || !(reach >> c & 1))
            continue;
        double sc = v[c] - (1 + lambda) * eng__xe_item_cost(xe->cfg.cost, it, c);
        if (sc > bs)
            bs = sc, best = (int)c;
    }
    /* Under a binding credit cap (lambda > 0) nothing is always an option: the cap may demand it. */
    if (best >= 0 && (xe->cfg.skip_negative || lambda > 0) && bs <= 0)
        best = -1;
    *score = bs;
    return best;
}

static void decide_one(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *it, eng__xe_choice *o,
                       double *v)
{
    int guard = -1;
    unsigned reach = it->reach & ((1u << xe->cfg.k) - 1);
    memset(o, 0, sizeof *o);
    o->n_reach = (uint8_t)__builtin_popcount(reach);
    double prop = 0;
    int e = draw(xe, wave, it, v, NULL, &guard, &prop, 0);
    if (e >= 0) {
        o->channel = (int8_t)e;
        o->explored = 1;
        o->propensity = (float)prop;
        o->score = 0;
        return;
    }
    if (e == -2) {
        o->channel = (int8_t)guard;
        o->guard = 1;
        return;
    }
    double sc = 0;
    o->channel = (int8_t)(reach ? pick(xe, it, v, lambda, &sc) : -1);
    o->score = (float)sc;
}

void eng__xe_decide(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *items, size_t n,
                    eng__xe_choice *out)
{
    double v[ENG__XE_MAXK];
    for (size_t i = 0; i < n; i++)
        decide_one(xe, wave, lambda, &items[i], &out[i], v);
}

typedef struct xe_job {
    const eng__xe *xe;
    uint32_t wave;
    double lambda;
    const eng__xe_item *items;
    size_t n;
    eng__xe_choice *out;
} xe_job;

static void *job_run(void *p)
{
    xe_job *j = p;
    eng__xe_decide(j->xe, j->wave, j->lambda, j->items, j->n, j->out);
    return NULL;
}

int eng__xe_decide_mt(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *items, size_t n,
                      eng__xe_choice *out, unsigned threads)
{
    if (threads <= 1 || n < 2 * (size_t)threads) {
        eng__xe_decide(xe, wave, lambda, items, n, out);
        return ENG_OK;
    }
    if (threads > 64)
        threads = 64;
    pthread_t tid[64];
    int joined[64] = {0};
    xe_job jobs[64];
    size_t per = n / threads, at = 0;
    for (unsigned t = 0; t < threads; t++) {
        size_t m = t + 1 == threads ? n - at : per;
        jobs[t] = (xe_job){xe, wave, lambda, items + at, m, out + at};
        at += m;
        /* A thread that cannot start runs here: same choices, less parallel. */
        if (t > 0)
            joined[t] = pthread_create(&tid[t], NULL, job_run, &jobs[t]) == 0;
        if (t > 0 && !joined[t])
            job_run(&jobs[t]);
    }
    job_run(&jobs[0]);
    for (unsigned t = 1; t < threads; t++)
        if (joined[t])
            pthread_join(tid[t], NULL);
    return ENG_OK;
}

/* The smallest multiplier whose choices fit @p budget (bisection on the same draws); out[] gets its
 * choices; *lo_out the largest multiplier tried whose choices do not fit (0 when the cap does not bind). */
static double budget_search(const eng__xe *xe, uint32_t wave, double budget, const eng__xe_item *items, size_t n,
                            eng__xe_choice *out, double *v, double *lo_out)
{
    const unsigned K = xe->cfg.k;
    double fixed = 0; /* explored and guard-rail messages are not priced out */
    for (size_t i = 0; i < n; i++) {
        decide_one(xe, wave, 0, &items[i], &out[i], v + i * K);
        if (out[i].explored || out[i].guard)
            fixed += eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)out[i].channel);
    }
    double lo = 0, hi = 0, lambda = 0;
    for (int it = 0; it < 80; it++) {
        double spend = fixed, sc;
        for (size_t i = 0; i < n; i++) {
            if (out[i].explored || out[i].guard)
                continue;
            int c = pick(xe, &items[i], v + i * K, lambda, &sc);
            if (c >= 0)
                spend += eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)c);
        }
        if (it == 0 && spend <= budget)
            break; /* the cap does not bind */
        if (spend <= budget)
            hi = lambda;
        else
            lo = lambda;
        if (hi == 0) /* no feasible multiplier yet: grow */
            lambda = lambda == 0 ? 1 : lambda * 4;
        else
            lambda = 0.5 * (lo + hi);
        if (hi > 0 && hi - lo < 1e-6 * hi)
            break;
        if (lambda > 1e12)
            break;
    }
    if (hi > 0)
        lambda = hi;
    for (size_t i = 0; i < n; i++) {
        if (out[i].explored || out[i].guard)
            continue;
        double sc;
        out[i].channel = (int8_t)pick(xe, &items[i], v + i * K, lambda, &sc);
        out[i].score = (float)sc;
    }
    *lo_out = hi > 0 ? lo : 0;
    return lambda;
}

double eng__xe_sampled_spend(const eng__xe *xe, uint32_t wave, const eng__xe_item *items, size_t n)
{
    double v[ENG__XE_MAXK], spend = 0, sc;
    for (size_t i = 0; i < n; i++) {
        int guard = -1, c;
        double prop = 0;
        int e = draw(xe, wave, &items[i], v, NULL, &guard, &prop, 1);
        unsigned reach = items[i].reach & ((1u << xe->cfg.k) - 1);
        c = e >= 0 ? e : e == -2 ? guard : reach ? pick(xe, &items[i], v, 0, &sc) : -1;
        if (c >= 0)
            spend += eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)c);
    }
    return spend;
}

double eng__xe_decide_budget(const eng__xe *xe, uint32_t wave, double budget, const eng__xe_item *items, size_t n,
                             eng__xe_choice *out)
{
    double *v = eng__malloc(&xe->mem, (n ? n : 1) * xe->cfg.k * sizeof *v), lo;
    if (!v) { /* no room for the draws: decide without the cap rather than fail the send */
        eng__xe_decide(xe, wave, 0, items, n, out);
        return 0;
    }
    double lambda = budget_search(xe, wave, budget, items, n, out, v, &lo);
    eng__free(&xe->mem, v);
    return lambda;
}

int eng__xe_cap_plan(const eng__xe *xe, uint32_t wave, double budget, const eng__xe_item *items, size_t n,
                     eng__xe_plan *plan)
{
    const unsigned K = xe->cfg.k;
    double *v = eng__malloc(&xe->mem, (n ? n : 1) * K * sizeof *v);
    eng__xe_choice *out = eng__malloc(&xe->mem, (n ? n : 1) * sizeof *out);
    if (!v || !out) {
        eng__free(&xe->mem, v);
        eng__free(&xe->mem, out);
        return eng__nomem();
    }
    plan->hi = budget_search(xe, wave, budget, items, n, out, v, &plan->lo);
    plan->until = 0;
    /* What the multiplier leaves of the cap goes, in the items' order, to the customers whose choice
     * changes between the two multipliers (ties in the scores make a block of them flip at once). */
    double spend = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i].channel >= 0)
            spend += eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)out[i].channel);
    plan->until = UINT32_MAX;
    for (size_t i = 0; i < n && plan->hi > 0; i++) {
        if (out[i].explored || out[i].guard)
            continue;
        double sc;
        int c = pick(xe, &items[i], v + i * K, plan->lo, &sc);
        if (c == out[i].channel)
            continue;
        double extra = (c >= 0 ? eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)c) : 0) -
                       (out[i].channel >= 0 ? eng__xe_item_cost(xe->cfg.cost, &items[i], (unsigned)out[i].channel) : 0);
        if (spend + extra > budget) {
            plan->until = items[i].customer;
            break;
        }
        spend += extra;
    }
    eng__free(&xe->mem, v);
    eng__free(&xe->mem, out);
    return ENG_OK;
}

void eng__xe_decide_plan(const eng__xe *xe, uint32_t wave, const eng__xe_plan *plan, const eng__xe_item *items,
                         size_t n, eng__xe_choice *out, eng__xe_choice *scratch)
{
    eng__xe_decide(xe, wave, plan->hi, items, n, out);
    if (plan->hi <= 0)
        return;
    eng__xe_decide(xe, wave, plan->lo, items, n, scratch);
    for (size_t i = 0; i < n; i++)
        if (items[i].customer < plan->until && scratch[i].channel != out[i].channel)
            out[i] = scratch[i];
}

void eng__xe_explain(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *item, eng__xe_trace *out)
{
    memset(out, 0, sizeof *out);
    double v[ENG__XE_MAXK] = {0};
    int guard = -1;
    unsigned reach = item->reach & ((1u << xe->cfg.k) - 1);
    double prop = 0;
    int e = draw(xe, wave, item, v, out, &guard, &prop, 0);
    for (unsigned c = 0; c < xe->cfg.k; c++) {
        out->ch[c].reachable = reach >> c & 1;
        out->ch[c].cost = eng__xe_item_cost(xe->cfg.cost, item, c);
        out->ch[c].delivery = xe->chan[c].d;
        out->ch[c].score = v[c] - (1 + lambda) * out->ch[c].cost;
    }
    if (e >= 0) {
        out->channel = e;
        out->explored = 1;
        out->propensity = prop;
    } else if (e == -2) {
        out->channel = guard;
    } else {
        double sc;
        out->channel = reach ? pick(xe, item, v, lambda, &sc) : -1;
    }
}
