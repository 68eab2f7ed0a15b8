/* The campaign loop: waves, control groups, batches, delayed outcomes, and
 * the policies. Expected metrics come from the world's ground truth; the
 * learning policies see only sampled outcomes, each when it resolves. */
#include "sim.h"
#include "oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const xs_policy_name[P_COUNT] = {"send_all", "priority", "random_single", "greedy_engagement",
                                             "xengage", "oracle", "oracle_budget"};

const double xs_calib_edge[XS_CALIB_BINS - 1] = {0.1, 0.25, 0.5, 1, 2, 4};

/* Draw ids (the "what" of xs_u) of the campaign. */
enum { U_CONTROL = 200, U_BATCH, U_RANDOM, U_ORGANIC, U_HIST_CH = 210, U_DELIV = 230, U_ENG = 250, U_CONV = 270,
       U_DELAY = 290 };

typedef struct hist {
    uint8_t recv, eng;
    float last_open; /* hours; -1e30 when never */
} hist;

typedef struct pend {
    double t, sent; /* resolves at t; left at sent */
    uint32_t i;
    uint8_t ch, flags;
} pend;

typedef struct learner {
    int policy;
    hist *h;
    xs_driver *drv;
    pend *q;
    size_t nq, cap;
} learner;

static int first_reachable(const xs_params *p, unsigned reach)
{
    for (unsigned j = 0; j < p->k; j++)
        if (reach >> p->priority[j] & 1)
            return p->priority[j];
    return -1;
}

static int uniform_reachable(unsigned reach, double u)
{
    unsigned nr = (unsigned)__builtin_popcount(reach);
    if (!nr)
        return -1;
    unsigned j = (unsigned)(u * nr);
    for (int c = 0; c < 16; c++)
        if (reach >> c & 1 && j-- == 0)
            return c;
    return -1;
}

/* Braze's Intelligent Channel: the best engagement ratio over history, with at
 * least 3 messages on at least 2 channels, ties to the most recent open;
 * otherwise the priority order. */
static int greedy_pick(const xs_params *p, const hist *h, unsigned reach)
{
    unsigned total = 0, chans = 0;
    for (unsigned c = 0; c < p->k; c++)
        if (h[c].recv)
            total += h[c].recv, chans++;
    if (total >= 3 && chans >= 2) {
        int best = -1;
        double br = -1;
        for (unsigned c = 0; c < p->k; c++) {
            if (!(reach >> c & 1) || !h[c].recv)
                continue;
            double r = (double)h[c].eng / h[c].recv;
            if (r > br || (r == br && best >= 0 && h[c].last_open > h[best].last_open))
                br = r, best = (int)c;
        }
        if (best >= 0 && br > 0)
            return best;
    }
    return first_reachable(p, reach);
}

/* --channels: one wave's sends and their exact net value per channel, of xengage, the oracle and priority. */
typedef struct chan_tally {
    double n[3][XS_MAXK], v[3][XS_MAXK];
} chan_tally;

static void tally(chan_tally *t, int who, const xs_world *w, uint32_t i, int c)
{
    if (!t || c < 0)
        return;
    xs_outcome o;
    xs_expect(w, i, 1u << c, &o);
    t->n[who][c] += 1, t->v[who][c] += o.net;
}

static void tally_print(chan_tally *t, const xs_params *p, uint64_t seed, unsigned wave)
{
    static const char *nm[3] = {"xengage", "oracle", "priority"};
    for (int j = 0; t && j < 3; j++) {
        printf("channels seed %llu wave %u %-8s", (unsigned long long)seed, wave, nm[j]);
        for (unsigned c = 0; c < p->k; c++)
            printf(" %s %.0f/%.0f", p->ch[c].name, t->n[j][c], t->v[j][c]);
        printf("\n");
    }
    if (t)
        memset(t, 0, sizeof *t);
}

static void add(xs_wm *m, const xs_world *w, uint32_t i, unsigned set)
{
    if (!set)
        return;
    xs_outcome o;
    xs_expect(w, i, set, &o);
    m->incr += o.incr, m->respond += o.respond, m->contacted += 1, m->msgs += o.msgs;
    m->cost += o.cost, m->fatigue += o.fatigue, m->net += o.net;
}

/* Sampled outcome of sending i channel c in wave: flags and resolution delay. */
static unsigned sample(const xs_world *w, uint32_t i, unsigned c, unsigned wave, int *converted, double *delay)
{
    const xs_params *p = w->p;
    uint64_t s = w->seed;
    unsigned f = 0;
    *converted = xs_u(s, i, wave, U_ORGANIC) < w->p0[i];
    *delay = p->ch[c].window_h;
    if (xs_u(s, i, wave, U_DELIV + c) < w->d[c]) {
        f |= ENG__XE_DELIVERED;
        if (xs_u(s, i, wave, U_ENG + c) < w->q[(size_t)i * p->k + c]) {
            f |= ENG__XE_ENGAGED;
            if (xs_u(s, i, wave, U_CONV + c) < w->pi[(size_t)w->seg[i] * p->k + c])
                *converted = 1;
            if (*converted)
                f |= ENG__XE_CONVERTED;
            *delay = -p->ch[c].delay_h * log(xs_u(s, i, wave, U_DELAY + c));
        }
    }
    return f;
}

static void push(learner *l, double sent, double t, uint32_t i, unsigned c, unsigned flags)
{
    if (l->nq == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->q = realloc(l->q, l->cap * sizeof *l->q);
        if (!l->q)
            abort();
    }
    l->q[l->nq++] = (pend){t, sent, i, (uint8_t)c, (uint8_t)flags};
}

/* Hand every outcome resolved by @p now to the learner. */
static void deliver(learner *l, double now)
{
    size_t keep = 0;
    for (size_t j = 0; j < l->nq; j++) {
        pend e = l->q[j];
        if (e.t > now) {
            l->q[keep++] = e;
            continue;
        }
        if (l->drv && l->drv->timing && !(e.flags & XS_WARM)) /* what a host sees: when it resolved */
            l->drv->timing(l->drv, e.i, e.ch, e.t - e.sent, (e.flags & ENG__XE_ENGAGED) ? 1 : 2);
        if (e.flags & ENG__XE_DELIVERED) {
            hist *h = &l->h[(size_t)e.i * 16 + e.ch];
            if (h->recv < 255)
                h->recv++, h->eng = (uint8_t)(h->eng + ((e.flags & ENG__XE_ENGAGED) != 0));
            if (e.flags & ENG__XE_ENGAGED)
                h->last_open = (float)e.t;
        }
        if (l->drv)
            l->drv->outcome(l->drv, e.i, e.ch, e.flags);
    }
    l->nq = keep;
    for (size_t j = 0; l->drv && l->drv->timing && j < l->nq; j++) /* open: only how long it has been */
        l->drv->timing(l->drv, l->q[j].i, l->q[j].ch, now - l->q[j].sent, 0);
    if (l->drv)
        l->drv->refresh(l->drv);
}

/* The org's sales before the campaign (world key sales_history_weeks), as a host's CRM holds them: each
 * customer's organic purchases over those weeks, a Poisson process at the world's own organic rate for them
 * (the per-wave probability p0 as a rate per hour), amounts from their own order values. The warm history's
 * conversions are added in warm(). */
static void sales_history(const xs_world *w, learner *l, uint32_t i)
{
    const xs_params *p = w->p;
    double span = 168.0 * p->sales_weeks, rate = -log1p(-(double)w->p0[i]) / p->wave_gap_h;
    if (!(rate > 0))
        return;
    double t = -span;
    for (uint32_t j = 0; j < 100000; j++) {
        t -= log(xs_u(w->seed, i, 3000 + j, XS_U_SALES)) / rate;
        if (t >= 0)
            break;
        l->drv->order(l->drv, i, t, xs_order_value(w, i, 3000 + j, XS_U_ORDER));
    }
}

/* History of earlier campaigns: random reachable channels, engagement only (and with a sales history, the
 * purchases their engaged sends caused). */
static void warm(const xs_world *w, learner *l)
{
    const xs_params *p = w->p;
    int sales = p->sales_weeks > 0 && l->drv && l->drv->order;
    double span = 168.0 * p->sales_weeks;
    for (uint32_t i = 0; i < w->n; i++) {
        for (unsigned m = 0; m < p->history; m++) {
            int c = uniform_reachable(w->reach[i], xs_u(w->seed, i, 1000 + m, U_HIST_CH));
            if (c < 0)
                continue;
            int conv;
            double delay;
            unsigned f = sample(w, i, (unsigned)c, 1000 + m, &conv, &delay);
            double at = -p->wave_gap_h * (p->history - m);
            /* The sale a send caused is in the host's sales, whichever channels its history can replay. */
            if (sales && (f & ENG__XE_ENGAGED) &&
                xs_u(w->seed, i, 1000 + m, U_CONV + (unsigned)c) < w->pi[(size_t)w->seg[i] * p->k + (unsigned)c] &&
                at + delay >= -span && at + delay < 0)
                l->drv->order(l->drv, i, at + delay, xs_order_value(w, i, 1000 + m, XS_U_ORDER));
            if (p->history_mask && !(p->history_mask >> c & 1))
                continue; /* a partial history drops the channels it does not cover */
            /* A host whose sales cover the send knows whether it converted (the engine reads it so, xengage_hist.c);
             * else engagement only. */
            push(l, at, at, i, (unsigned)c,
                 XS_WARM | (sales && at >= -span ? f : (f & ~ENG__XE_CONVERTED) | ENG__XE_NO_CONV));
        }
        if (sales)
            sales_history(w, l, i);
    }
    for (uint32_t i = 0; l->drv && l->drv->sales && i < w->n; i++) /* a wave's time of sales before them */
        l->drv->sales(l->drv, i, xs_u(w->seed, i, 999, U_ORGANIC) < w->p0[i]);
    deliver(l, 0);
}

/* --calib: one scored decision of xengage against the truth and the oracle's choice (under the cap, the budgeted
 * oracle's multiplier). */
static void calib_one(xs_calib_acc *cal, const xs_world *w, xs_driver *drv, unsigned wave, uint32_t i, int xc,
                      double lam_or, xs_seed_result *r)
{
    const xs_params *p = w->p;
    xs_est e;
    double lam, tv[XS_MAXK], tq[XS_MAXK], tvpe[XS_MAXK], cost[XS_MAXK];
    if (!drv->estimate(drv, wave, i, &e, &lam))
        return;
    for (unsigned c = 0; c < p->k; c++) {
        tv[c] = w->value[i] * xs_tau(w, i, c);
        tq[c] = w->q[(size_t)i * p->k + c];
        tvpe[c] = w->value[i] * w->pi[(size_t)w->seg[i] * p->k + c] * (1.0 - w->p0[i]);
        cost[c] = p->ch[c].cost;
    }
    xs_calib_add(cal, p->k, xc, xs_oracle_pick(w, i, lam_or, NULL), &e, tv, tq, tvpe, cost);
    r->cal.lam_xe += lam, r->cal.lam_or += lam_or, r->cal.lam_n += 1;
}

typedef struct ope_acc {
    eng__xe_ope_row *rows[OPE_COUNT];
    size_t n, cap;
    double truth[OPE_COUNT], truth_n;
    double *base;                 /* the control customers' values */
    size_t base_n, base_cap;
} ope_acc;

int xs_run_seed(const xs_params *p, uint64_t seed, const xs_sim_opts *o, xs_seed_result *r)
{
    memset(r, 0, sizeof *r);
    xs_world w;
    if (xs_world_build(&w, p, seed))
        return -1;
    const unsigned K = p->k, W = p->waves < XS_MAXW ? p->waves : XS_MAXW;
    learner L[2] = {{P_GREEDY, NULL, NULL, NULL, 0, 0}, {P_XENGAGE, NULL, NULL, NULL, 0, 0}};
    for (int j = 0; j < 2; j++) {
        if (!(o->policies >> L[j].policy & 1))
            continue;
        L[j].h = malloc((size_t)w.n * 16 * sizeof *L[j].h);
        if (!L[j].h)
            abort();
        for (size_t x = 0; x < (size_t)w.n * 16; x++)
            L[j].h[x] = (hist){0, 0, -1e30f};
        if (L[j].policy == P_XENGAGE &&
            !(L[j].drv = o->drv.engine ? xs_engine_open(&w, seed, &o->drv) : xs_direct_open(&w, seed, &o->drv)))
            abort();
        warm(&w, &L[j]);
    }
    uint8_t *batch = malloc(w.n);
    uint32_t *ids = malloc((size_t)w.n * sizeof *ids);
    xs_choice *ch = malloc((size_t)w.n * sizeof *ch);
    ope_acc oa;
    memset(&oa, 0, sizeof oa);
    if (!batch || !ids || !ch)
        abort();
    double t_x = 0;
    xs_calib_acc *cal = NULL;
    chan_tally *ct = o->channels ? calloc(1, sizeof *ct) : NULL;
    if (o->calib && L[1].drv && L[1].drv->estimate) {
        cal = xs_calib_open(&r->cal);
        r->has_calib = 1;
    }
    for (unsigned wave = 1; wave <= W; wave++) {
        double wtruth[2] = {0, 0}, wn = 0; /* this wave's exact values of priority and greedy */
        if (ct)
            memset(ct, 0, sizeof *ct);
        xs_world_wave(&w, wave);
        double t0 = (wave - 1) * p->wave_gap_h;
        double sendall_cost = 0;
        xs_driver *plan = L[1].drv && L[1].drv->plan_wave ? L[1].drv : NULL;
        if (plan) /* the engine's own frozen split: every policy plays the same control and batches */
            plan->plan_wave(plan, wave, t0, batch);
        for (uint32_t i = 0; i < w.n; i++) {
            if (!plan) {
                int ctl = xs_u(seed, i, wave, U_CONTROL) < p->control;
                unsigned b = (unsigned)(xs_u(seed, i, wave, U_BATCH) * p->batches);
                batch[i] = (uint8_t)(ctl ? 200 + b : b); /* control customers are seen with their batch */
            }
            if (batch[i] >= 200)
                continue;
            unsigned reach = w.reach[i];
            for (unsigned c = 0; c < K; c++)
                if (reach >> c & 1)
                    sendall_cost += p->ch[c].cost;
            if (o->policies >> P_SEND_ALL & 1)
                add(&r->w[P_SEND_ALL][wave - 1], &w, i, reach);
            int c = first_reachable(p, reach);
            if (c >= 0 && (o->policies >> P_PRIORITY & 1))
                add(&r->w[P_PRIORITY][wave - 1], &w, i, 1u << c);
            c = uniform_reachable(reach, xs_u(seed, i, wave, U_RANDOM));
            if (c >= 0 && (o->policies >> P_RANDOM & 1))
                add(&r->w[P_RANDOM][wave - 1], &w, i, 1u << c);
            tally(ct, 2, &w, i, first_reachable(p, reach));
            c = xs_oracle_pick(&w, i, 0, NULL);
            tally(ct, 1, &w, i, c);
            if (c >= 0)
                add(&r->w[P_ORACLE][wave - 1], &w, i, 1u << c);
        }
        double budget = p->budget > 0 ? p->budget * sendall_cost : -1, lam_or = 0;
        if (budget >= 0) { /* the oracle under the same cap */
            double hi = lam_or = xs_oracle_cap(&w, batch, budget);
            for (uint32_t i = 0; i < w.n; i++) {
                int c = batch[i] < 200 ? xs_oracle_pick(&w, i, hi, NULL) : -1;
                if (c >= 0)
                    add(&r->w[P_ORACLE_BUDGET][wave - 1], &w, i, 1u << c);
            }
        }
        for (int j = 0; j < 2; j++) {
            learner *l = &L[j];
            if (!l->h)
                continue;
            xs_wm *m = &r->w[l->policy][wave - 1];
            clock_t c0 = clock();
            if (l->drv && wave > 1)
                l->drv->new_wave(l->drv);
            double spent = 0, *pace = r->pace[wave - 1];
            if (l->drv && budget >= 0)
                pace[0] = budget, pace[4] = INFINITY, pace[5] = -INFINITY, pace[7] = lam_or;
            for (unsigned b = 0; b < p->batches; b++) {
                double now = t0 + b * p->batch_gap_h;
                if (l->drv)
                    l->drv->now_h = now;
                deliver(l, now);
                size_t n = 0;
                for (uint32_t i = 0; i < w.n; i++)
                    if (batch[i] == b)
                        ids[n++] = i;
                if (l->drv && o->trace >= 0 && o->trace < (long)w.n && batch[o->trace] == b && l->drv->explain)
                    l->drv->explain(l->drv, wave, (uint32_t)o->trace, stdout);
                if (l->drv) {
                    double bb = budget >= 0 ? (budget - spent) / (p->batches - b) : -1;
                    l->drv->decide(l->drv, wave, ids, n, bb < 0 && budget >= 0 ? 0 : bb, ch);
                    xs_est e;
                    double lam;
                    if (budget >= 0 && n && l->drv->estimate && l->drv->estimate(l->drv, wave, ids[0], &e, &lam)) {
                        pace[3] += lam, pace[6] += 1;
                        pace[4] = lam < pace[4] ? lam : pace[4], pace[5] = lam > pace[5] ? lam : pace[5];
                    }
                } else {
                    for (size_t x = 0; x < n; x++)
                        ch[x] = (xs_choice){(int8_t)greedy_pick(p, &l->h[(size_t)ids[x] * 16], w.reach[ids[x]]), 0, 0, 0, 0};
                }
                for (size_t x = 0; cal && l->drv && wave > 1 && x < n; x++)
                    if (ch[x].scored)
                        calib_one(cal, &w, l->drv, wave, ids[x], ch[x].ch, lam_or, r);
                for (size_t x = 0; x < n; x++) {
                    uint32_t i = ids[x];
                    int c = ch[x].ch, conv;
                    double delay;
                    if (l->drv && w.reach[i]) { /* truth of the off-policy targets on this campaign */
                        int tg[OPE_COUNT] = {first_reachable(p, w.reach[i]), greedy_pick(p, &l->h[(size_t)i * 16], w.reach[i]),
                                             uniform_reachable(w.reach[i], xs_u(seed, i, wave, U_RANDOM))};
                        for (int t = 0; t < OPE_COUNT; t++)
                            oa.truth[t] += w.value[i] * xs_tau(&w, i, (unsigned)tg[t]) - p->ch[tg[t]].cost;
                        oa.truth_n += 1;
                        for (int t = 0; t < 2; t++)
                            wtruth[t] += w.value[i] * xs_tau(&w, i, (unsigned)tg[t]) - p->ch[tg[t]].cost;
                        wn += 1;
                        if (ch[x].explored) {
                            if (oa.n == oa.cap) {
                                oa.cap = oa.cap ? 2 * oa.cap : 4096;
                                for (int t = 0; t < OPE_COUNT; t++)
                                    if (!(oa.rows[t] = realloc(oa.rows[t], oa.cap * sizeof *oa.rows[t])))
                                        abort();
                            }
                            sample(&w, i, (unsigned)c, wave, &conv, &delay);
                            double reward = w.value[i] * conv - p->ch[c].cost;
                            for (int t = 0; t < OPE_COUNT; t++)
                                oa.rows[t][oa.n] = (eng__xe_ope_row){(int8_t)c, (int8_t)tg[t], ch[x].propensity, reward,
                                                                     l->drv->dm(l->drv, i, c), l->drv->dm(l->drv, i, tg[t])};
                            oa.n++;
                        }
                    }
                    int organic = l->drv && l->drv->organic && xs_u(seed, i, wave, U_ORGANIC) < w.p0[i];
                    if (c < 0) {
                        if (organic)
                            l->drv->organic(l->drv, i);
                        continue;
                    }
                    add(m, &w, i, 1u << c);
                    if (l->policy == P_XENGAGE)
                        tally(ct, 0, &w, i, c);
                    spent += p->ch[c].cost;
                    if (l->drv && budget >= 0 && ch[x].explored)
                        pace[2] += p->ch[c].cost;
                    if (ch[x].scored) { /* do the sends that barely pay by its estimates pay? */
                        double cost = p->ch[c].cost, rel = cost > 0 ? ch[x].score / cost : INFINITY;
                        int bin = 0;
                        while (bin < XS_CALIB_BINS - 1 && rel >= xs_calib_edge[bin])
                            bin++;
                        double *cb = r->calib[wave > 1][bin];
                        cb[0] += 1, cb[1] += ch[x].score, cb[2] += w.value[i] * xs_tau(&w, i, (unsigned)c) - cost;
                    }
                    unsigned f = sample(&w, i, (unsigned)c, wave, &conv, &delay);
                    push(l, now, now + delay, i, (unsigned)c, f);
                    if (organic && !(f & ENG__XE_CONVERTED)) /* not engaged: the purchase happens anyway */
                        l->drv->organic(l->drv, i);
                }
                if (l->drv) /* this batch's control customers: their organic purchases */
                    for (uint32_t i = 0; i < w.n; i++)
                        if (batch[i] == 200 + b) {
                            int conv = xs_u(seed, i, wave, U_ORGANIC) < w.p0[i];
                            l->drv->control(l->drv, i, conv);
                            if (w.reach[i]) {
                                if (oa.base_n == oa.base_cap) {
                                    oa.base_cap = oa.base_cap ? 2 * oa.base_cap : 4096;
                                    if (!(oa.base = realloc(oa.base, oa.base_cap * sizeof *oa.base)))
                                        abort();
                                }
                                oa.base[oa.base_n++] = conv ? w.value[i] : 0;
                            }
                        }
            }
            if (l->drv && budget >= 0)
                pace[1] = spent;
            if (l->drv && l->drv->report_ope) {
                /* The engine's report reads the wave's revenue window: hand it the outcomes that resolve
                 * before the next wave's approval (4 days ahead; else they reach the engine stamped with
                 * the next wave's time, outside the window). */
                double last = t0 + (p->batches - 1) * p->batch_gap_h + 1, end = t0 + p->wave_gap_h - 97;
                l->drv->now_h = end > last ? end : last;
                deliver(l, l->drv->now_h);
            }
            if (l->drv && l->drv->wave_done)
                l->drv->wave_done(l->drv, wave);
            if (l->policy == P_XENGAGE)
                tally_print(ct, p, seed, wave);
            if (l->drv && l->drv->credits && wave <= XS_MAXW)
                r->capped[wave - 1] = l->drv->credits(l->drv, wave, r->credits[wave - 1]);
            for (int t = 0; l->drv && l->drv->report_ope && t < 2 && wave <= XS_MAXW; t++) {
                double e[3];
                xs_eope *x = &r->eope[wave - 1][t];
                if ((x->known = l->drv->report_ope(l->drv, wave, t, e)))
                    *x = (xs_eope){1, wn ? wtruth[t] / wn : 0, e[0], e[1], e[2]};
            }
            if (l->drv)
                t_x += (double)(clock() - c0) / CLOCKS_PER_SEC;
        }
    }
    if (cal)
        xs_calib_close(cal);
    if (oa.n && oa.base_n > 1) {
        for (int t = 0; t < OPE_COUNT; t++) {
            eng__xe_ope(oa.rows[t], oa.n, oa.base, oa.base_n, &r->ope[t].ipw, &r->ope[t].dr);
            r->ope[t].truth = oa.truth[t] / oa.truth_n;
        }
        r->ope_rows = oa.n;
    }
    r->seconds_xengage = t_x;
    for (int t = 0; t < OPE_COUNT; t++)
        free(oa.rows[t]);
    free(oa.base);
    for (int j = 0; j < 2; j++) {
        free(L[j].h), free(L[j].q);
        if (L[j].drv)
            L[j].drv->close(L[j].drv);
    }
    free(batch), free(ids), free(ch), free(ct);
    xs_world_free(&w);
    return 0;
}
