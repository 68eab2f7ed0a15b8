/* The direct driver: the simulator calls X-Engage's internal API (src/decide)
 * with the world's channels, costs and mean order value as the host would
 * configure them. */
#include "driver.h"
#include "decide/xengage_impl.h"
#include "qpost.h"

#include <stdlib.h>

typedef struct direct {
    xs_driver base;
    const xs_world *w;
    eng__xe *xe;
    unsigned threads;
    int use_value;
    int informed; /* --informed: each batch's spend at most what X-Engage's own draws' choices spend */
    unsigned truth;
    eng__xe_item *items;
    eng__xe_choice *ch;
    size_t cap;
    xs_qpost *qp; /* --truth qpost|qfit */
    int delay;    /* XS_DELAY_* */
    eng__xe_delays closed[ENG__XE_MAXK]; /* per channel: answered and closed sends (kept) */
    eng__xe_delays open[ENG__XE_MAXK];   /* the sends open at this refresh */
    struct { uint32_t i; uint8_t ch; float e; } *pend; /* the same, one by one */
    size_t npend, pcap;
    /* The org's sales as the engine reads them (xengage_exec.c): per customer, orders, their sum and sum of
     * squares; the value of a conversion fitted from them at each wave (eng__xe_value_fit), as the engine
     * does for each wave's execution. */
    uint32_t *on;
    double *os, *oq, osum;
    uint64_t ototal;
    float *value;
    unsigned wave; /* the wave of the last decision (in-campaign orders' draws; the values' fit) */
    /* The organic rate from the sales history (xengage_organic.c): orders before the campaign per customer,
     * and each customer's share of a conversion that is not organic, 1 - P(a purchase within a week). */
    uint32_t *hx;
    float *notorg;
    int org_fitted;
    double lambda; /* the last batch's credit cap multiplier (--calib) */
} direct;

/* The engine's assumption before it has seen responses (xengage_exec.c): a response window of 48 h, three
 * mean delays, until 20 responses are seen. The direct driver's hours. */
#define XS_DELAY_PRIOR_N 20.0
#define XS_DELAY_PRIOR_MEAN_H 16.0

void xs_driver_opts_default(xs_driver_opts *o)
{
    o->explore = -1; /* the library's share for the audience (eng__xe_explore_share) */
    o->forget = 0.5;
    o->sample_q = 0;
    o->sample_pi = 0;
    o->guard_priority = 0;
    o->skip_negative = 1;
    o->q_lgn = 0;
    o->informed = 0;
    o->threads = 1;
    o->customer_value = 0;
    o->engine = 0;
    o->verbose = 0;
    o->no_history = 0;
    o->no_segments = 0;
    o->truth = 0;
    o->delay = XS_DELAY_FIT;
}

/* --truth: the world's own figures in place of X-Engage's estimates (where the gap to the oracle is). The
 * incremental conversion given engagement is the world's per engaged send, (1 - organic) x pi. */
static void truth(void *u, uint32_t i, unsigned c, double *q, double *pi, double *value, double *delivery)
{
    const direct *d = u;
    const xs_world *w = d->w;
    unsigned K = w->p->k;
    if (d->truth & XS_TRUTH_Q)
        *q = w->q[(size_t)i * K + c];
    if (d->qp)
        *q = xs_qpost_mean(d->qp, i, c);
    if (d->truth & XS_TRUTH_PI)
        *pi = w->pi[(size_t)w->seg[i] * K + c] * (1.0 - w->p0[i]);
    if (d->truth & XS_TRUTH_VALUE)
        *value = w->value[i];
    if (d->truth & XS_TRUTH_DELIVERY)
        *delivery = w->d[c];
}

static void d_buy(direct *d, uint32_t i, double amount)
{
    d->on[i]++, d->os[i] += amount, d->oq[i] += amount * amount;
    d->osum += amount, d->ototal++;
}

static void d_order(xs_driver *b, uint32_t i, double t_h, double amount)
{
    direct *d = (direct *)b;
    d_buy(d, i, amount);
    if (t_h < 0)
        d->hx[i]++;
}

/* A week: the window of a purchase the engine counts as a send's conversion (xengage_hist.c), and the world's
 * wave in its default. */
#define XS_ORGANIC_WINDOW_H 168.0

/* Each customer's chance of an organic purchase within the window, from the sales history's counts. */
static void d_fit_organic(direct *d)
{
    const xs_params *p = d->w->p;
    d->org_fitted = 1;
    if (168.0 * p->sales_weeks < 8 * XS_ORGANIC_WINDOW_H) /* as the engine: 8 windows of sales at least */
        return;
    double span = 168.0 * p->sales_weeks, m[4096], a;
    eng__mem mem;
    if (p->g > 4096 || eng__mem_init(&mem, NULL) ||
        eng__xe_organic_fit(&mem, d->hx, d->w->seg, d->w->n, p->g, span, m, &a))
        abort();
    for (uint32_t i = 0; i < d->w->n; i++)
        d->notorg[i] = (float)(1 - eng__xe_organic_p(a, m[d->w->seg[i]], span, d->hx[i], XS_ORGANIC_WINDOW_H));
}

static void d_organic(xs_driver *b, uint32_t i)
{
    direct *d = (direct *)b;
    d_buy(d, i, xs_order_value(d->w, i, d->wave, XS_U_ORDER));
}

/* The value of a conversion the score uses: the customer's (fitted, or the world's with --customer-value; else
 * the org's mean) times the share of a conversion that is not organic (1 without a sales history). */
static float d_value(const direct *d, uint32_t i)
{
    double v = d->use_value ? d->w->value[i] : d->value[i] > 0 ? d->value[i] : eng__xe_cfg(d->xe)->value;
    return (float)(v * d->notorg[i]);
}

static void d_decide(xs_driver *b, unsigned wave, const uint32_t *ids, size_t n, double budget, xs_choice *out)
{
    direct *d = (direct *)b;
    if (wave != d->wave && d->ototal) /* the sales before this wave, as the engine's execution reads them */
        eng__xe_value_fit(d->on, d->os, d->oq, d->w->n, d->osum / (double)d->ototal, d->value, NULL, NULL);
    if (!d->org_fitted)
        d_fit_organic(d);
    d->wave = wave;
    if (n > d->cap) {
        free(d->items), free(d->ch);
        d->items = malloc(n * sizeof *d->items);
        d->ch = malloc(n * sizeof *d->ch);
        d->cap = n;
        if (!d->items || !d->ch)
            abort();
    }
    for (size_t j = 0; j < n; j++)
        d->items[j] = (eng__xe_item){ids[j], d->w->seg[ids[j]], d->w->reach[ids[j]], d_value(d, ids[j]), 0, 0};
    d->lambda = 0;
    if (d->informed) {
        double ts = eng__xe_sampled_spend(d->xe, wave, d->items, n);
        budget = budget >= 0 && budget < ts ? budget : ts;
    }
    if (budget >= 0)
        d->lambda = eng__xe_decide_budget(d->xe, wave, budget, d->items, n, d->ch);
    else
        eng__xe_decide_mt(d->xe, wave, 0, d->items, n, d->ch, d->threads);
    for (size_t j = 0; j < n; j++)
        out[j] = (xs_choice){d->ch[j].channel, d->ch[j].explored, d->ch[j].propensity,
                             !d->ch[j].explored && !d->ch[j].guard, d->ch[j].score};
}

static void d_outcome(xs_driver *b, uint32_t i, unsigned ch, unsigned flags)
{
    direct *d = (direct *)b;
    eng__xe_observe(d->xe, i, d->w->seg[i], ch, flags & ~XS_WARM);
    if ((flags & ENG__XE_CONVERTED) && !(flags & XS_WARM)) /* the purchase, at one of the customer's order values */
        d_organic(b, i); /* (a warm send's is in the sales history already) */
    if (d->qp)
        xs_qpost_observe(d->qp, i, ch, flags);
}

static void d_control(xs_driver *b, uint32_t i, int converted)
{
    direct *d = (direct *)b;
    eng__xe_baseline(d->xe, d->w->seg[i], 1, converted ? 1 : 0);
    if (converted)
        d_organic(b, i);
}

static void d_sales(xs_driver *b, uint32_t i, int bought)
{
    direct *d = (direct *)b;
    eng__xe_baseline(d->xe, d->w->seg[i], 1, bought ? 1 : 0);
}

static void d_timing(xs_driver *b, uint32_t i, unsigned ch, double e, int state)
{
    direct *d = (direct *)b;
    if (d->delay == XS_DELAY_OFF)
        return;
    if (state == 1)
        eng__xe_delays_answered(&d->closed[ch], e);
    else if (state == 2)
        eng__xe_delays_open(&d->closed[ch], e, 1);
    else {
        eng__xe_delays_open(&d->open[ch], e, 1);
        if (d->npend == d->pcap) {
            d->pcap = d->pcap ? 2 * d->pcap : 4096;
            if (!(d->pend = realloc(d->pend, d->pcap * sizeof *d->pend)))
                abort();
        }
        d->pend[d->npend].i = i, d->pend[d->npend].ch = (uint8_t)ch, d->pend[d->npend].e = (float)e;
        d->npend++;
    }
}

/* The open sends as fractions of a miss: what share of a response would have come by now. */
static void d_pending(direct *d)
{
    unsigned K = d->w->p->k;
    double mean[ENG__XE_MAXK];
    for (unsigned c = 0; c < K; c++) {
        eng__xe_delays all = d->closed[c];
        eng__xe_delays_add(&all, &d->open[c]);
        mean[c] = d->delay == XS_DELAY_TRUE ? d->w->p->ch[c].delay_h : eng__xe_delay_fit(&all, NULL);
        eng__xe_delays_init(&d->open[c], XS_DELAY_PRIOR_N, XS_DELAY_PRIOR_MEAN_H);
    }
    eng__xe_pending_reset(d->xe);
    for (size_t j = 0; j < d->npend; j++)
        if (eng__xe_pending(d->xe, d->pend[j].i, d->w->seg[d->pend[j].i], d->pend[j].ch,
                            eng__xe_delay_cdf(mean[d->pend[j].ch], d->pend[j].e)))
            abort();
    d->npend = 0;
}

static void d_refresh(xs_driver *b)
{
    direct *d = (direct *)b;
    if (d->delay != XS_DELAY_OFF)
        d_pending(d);
    eng__xe_refresh(d->xe);
    if (d->qp && (d->truth & XS_TRUTH_QFIT)) /* the fits as they now stand */
        xs_qpost_refresh(d->qp);
}

static void d_new_wave(xs_driver *b)
{
    direct *d = (direct *)b;
    eng__xe_new_wave(d->xe);
    if (d->qp && (d->truth & (XS_TRUTH_QPOST | XS_TRUTH_QR))) /* the world's segment effects of the wave (drift) */
        xs_qpost_refresh(d->qp);
}

static double d_dm(xs_driver *b, uint32_t i, int ch)
{
    direct *d = (direct *)b;
    const eng__xe_config *c = eng__xe_cfg(d->xe);
    unsigned g = d->w->seg[i];
    double base = c->value * eng__xe_mean_organic(d->xe, g);
    if (ch < 0)
        return base;
    return base + c->value * eng__xe_mean_incr(d->xe, i, g, (unsigned)ch) - c->cost[ch];
}

static void d_explain(xs_driver *b, unsigned wave, uint32_t i, FILE *f)
{
    direct *d = (direct *)b;
    const xs_params *p = d->w->p;
    eng__xe_item it = {i, d->w->seg[i], d->w->reach[i], d_value(d, i), 0, 0};
    eng__xe_trace t;
    eng__xe_explain(d->xe, wave, 0, &it, &t);
    fprintf(f, "trace wave %u customer %u segment %u: %s%s", wave, i, it.segment,
            t.channel >= 0 ? p->ch[t.channel].name : "none", t.explored ? " (exploration" : "");
    if (t.explored)
        fprintf(f, ", propensity %.3f)", t.propensity);
    fprintf(f, "\n");
    for (unsigned c = 0; c < p->k; c++)
        if (t.ch[c].reachable)
            fprintf(f, "  %-10s sent %3u engaged %3u  q %.4f (draw %.4f)  pi %.4f (draw %.4f)  delivery %.3f  cost %.3f"
                       "  score %+.3f%s\n", p->ch[c].name, t.ch[c].sent, t.ch[c].engaged, t.ch[c].q_mean, t.ch[c].q_draw,
                    t.ch[c].pi_mean, t.ch[c].pi_draw, t.ch[c].delivery, t.ch[c].cost, t.ch[c].score,
                    (int)c == t.channel ? "  <-" : "");
}

/* The trace replays the decision from the model it used (the model only moves at the next refresh). */
static int d_estimate(xs_driver *b, unsigned wave, uint32_t i, xs_est *out, double *lambda)
{
    direct *d = (direct *)b;
    const xs_params *p = d->w->p;
    eng__xe_item it = {i, d->w->seg[i], d->w->reach[i], d_value(d, i), 0, 0};
    eng__xe_trace t;
    eng__xe_explain(d->xe, wave, 0, &it, &t);
    double value = it.value > 0 ? it.value : eng__xe_cfg(d->xe)->value;
    for (unsigned c = 0; c < p->k; c++) {
        out->reach[c] = (uint8_t)t.ch[c].reachable;
        out->v[c] = t.ch[c].score + t.ch[c].cost;
        out->q[c] = t.ch[c].q_draw;
        out->vpe[c] = value * t.ch[c].pi_draw;
    }
    *lambda = d->lambda;
    return 1;
}

static void d_close(xs_driver *b)
{
    direct *d = (direct *)b;
    eng__xe_free(d->xe);
    xs_qpost_close(d->qp);
    free(d->items), free(d->ch), free(d->pend);
    free(d->on), free(d->os), free(d->oq), free(d->value), free(d->hx), free(d->notorg);
    free(d);
}

xs_driver *xs_direct_open(const xs_world *w, uint64_t seed, const xs_driver_opts *o)
{
    const xs_params *p = w->p;
    eng__xe_config c;
    eng__xe_config_default(&c, p->k, p->g, w->n);
    /* What a host knows: channel costs, the mean order value, its priority order. */
    for (unsigned k = 0; k < p->k; k++) {
        c.cost[k] = p->ch[k].cost;
        c.priority[k] = p->priority[k];
    }
    c.value = p->value_mean;
    c.explore = o->explore >= 0 ? o->explore : eng__xe_explore_share((uint64_t)((double)w->n * (1 - p->control)));
    c.forget = o->forget;
    c.sample_q = o->sample_q;
    c.sample_pi = o->sample_pi;
    c.guard_priority = o->guard_priority;
    c.skip_negative = o->skip_negative;
    c.q_lgn = o->q_lgn;
    c.seed = seed ^ 0x78656e67616765ull;
    direct *d = calloc(1, sizeof *d);
    if (d && o->truth) {
        c.truth = truth;
        c.truth_u = d;
    }
    if (!d || eng__xe_create(NULL, &c, &d->xe) != 0) {
        free(d);
        return NULL;
    }
    d->w = w;
    d->on = calloc(w->n ? w->n : 1, sizeof *d->on);
    d->os = calloc(w->n ? w->n : 1, sizeof *d->os);
    d->oq = calloc(w->n ? w->n : 1, sizeof *d->oq);
    d->value = calloc(w->n ? w->n : 1, sizeof *d->value);
    d->hx = calloc(w->n ? w->n : 1, sizeof *d->hx);
    d->notorg = malloc((w->n ? w->n : 1) * sizeof *d->notorg);
    if (!d->on || !d->os || !d->oq || !d->value || !d->hx || !d->notorg) {
        d_close(&d->base);
        return NULL;
    }
    for (uint32_t i = 0; i < w->n; i++)
        d->notorg[i] = 1;
    /* The reach the bucket is spread over, as the engine reads it (xengage_exec.c: 4,096 customers evenly
     * spread; the world's reach does not move). */
    size_t nr = w->n < 4096 ? w->n : 4096;
    eng__xe_item *ri = malloc((nr ? nr : 1) * sizeof *ri);
    int rrc = ri ? 0 : -1;
    for (size_t j = 0; ri && j < nr; j++) {
        uint32_t i = (uint32_t)(j * w->n / nr);
        ri[j] = (eng__xe_item){i, w->seg[i], w->reach[i], 0, 0, 0};
    }
    if (!rrc)
        rrc = eng__xe_reach(d->xe, ri, nr);
    free(ri);
    if (rrc) {
        d_close(&d->base);
        return NULL;
    }
    eng__xe_refresh(d->xe);
    d->threads = o->threads;
    d->use_value = o->customer_value;
    d->informed = o->informed;
    d->truth = o->truth;
    d->delay = o->delay;
    for (unsigned k = 0; k < p->k; k++) {
        eng__xe_delays_init(&d->closed[k], XS_DELAY_PRIOR_N, XS_DELAY_PRIOR_MEAN_H);
        eng__xe_delays_init(&d->open[k], XS_DELAY_PRIOR_N, XS_DELAY_PRIOR_MEAN_H);
    }
    if ((o->truth & (XS_TRUTH_QPOST | XS_TRUTH_QFIT | XS_TRUTH_QR)) &&
        !(d->qp = xs_qpost_open(w, d->xe, (o->truth & XS_TRUTH_QR) ? 2 : (o->truth & XS_TRUTH_QFIT) != 0))) {
        d_close(&d->base);
        return NULL;
    }
    d->base = (xs_driver){d_decide, d_outcome, d_control, d_refresh, d_new_wave, d_dm, d_explain, d_close, "direct", 0, NULL, NULL,
                          NULL, d_organic, NULL, d_timing, d_sales, d_order, d_estimate};
    return &d->base;
}
