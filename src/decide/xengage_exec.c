/* X-Engage as a dispatch strategy: the optimizer of xengage_model.c and
 * xengage_decide.c fed from the engine's own stores.
 *
 * open():   the model of the execution is a checkpoint (d/xe/<msg>/<occ>,
 *           through the storage contract, 2K + 2 bytes a customer) holding the
 *           prior learned from the org's earlier campaigns (their sends and
 *           opens/clicks before this execution started), written once when
 *           the execution first opens, so the seed does not move when late
 *           receipts of old campaigns arrive.
 * choose(): once per scheduler time `now`, the execution's own sends are
 *           replayed from the touch log: a send counts when it was engaged
 *           (opened or clicked) or when its channel's response window closed
 *           without it; it converted when the customer has a transaction
 *           between the send and now. The control group's transactions since
 *           the start give the organic rate. Then the model decides the chunk.
 *           Learning only at a new `now` (the host's clock between run-due
 *           calls) keeps choices independent of batch size and thread count.
 * In-campaign learning is not checkpointed: it is re-derived from the event
 * log (itself stored) on every open, so a crash or a reopen loses nothing.
 *
 * Segments are the message's include groups (a customer belongs to the first
 * listed that holds them): population rates are learned per group x channel,
 * shrunk toward the channel's, so a host that includes its segments as groups
 * lets what early batches teach about one group apply to the rest of it.
 *
 * Cost is the org's channel cost in credits; the value of a conversion is the
 * org's mean transaction amount before the execution, in currency units, at
 * the message's credits per unit (eng_xengage_options.credits_per_unit; when
 * not set, eng__xengage_credits_per_unit, 1 by default). */
#include "decide/decide.h"
#include "decide/xengage_impl.h"
#include "events/events_impl.h"
#include "model/xengage_opts.h"
#include "audience/audience_link.h"
#include "base/hash.h"
#include "base/lower.h"
#include "decide/xengage_rec.h"

#include <stdio.h>
#include <string.h>

double eng__xengage_credits_per_unit = 1.0;

#define XE_WINDOW_DEFAULT (48 * ENG_HOUR) /* response window before enough engaged sends are seen */
#define XE_WINDOW_MIN ENG_HOUR
#define XE_WINDOW_SAMPLES 20
#define XE_SEEN 1u
#define XE_OPEN 2u
#define XE_RESPONSES (1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED) /* a send's mask: answered */

typedef struct xe_exec {
    eng__xe *xe;
    unsigned k;
    int8_t idx[ENG_CH_COUNT];     /* engine channel -> optimizer channel, -1 none */
    uint8_t chan[ENG__XE_MAXK];   /* optimizer channel -> engine channel */
    uint32_t ncust;               /* dense ids 0..ncust-1 are modelled */
    uint32_t *control;            /* the frozen control group */
    size_t ncontrol;
    eng_time start;               /* the execution's due time */
    eng_time last_now;            /* learning happened at this time (0: never) */
    uint8_t *seen;                /* per send id: XE_SEEN already observed, XE_OPEN pending now (scratch) */
    uint32_t nseen;
    eng_time *last_txn;           /* per customer: latest transaction in [start, now] (scratch) */
    double *base0;                /* per segment: control customers and conversions carried over from the
                                     org's earlier executions (2 per segment) */
    uint32_t *conv;               /* per segment: control conversions (scratch) */
    uint32_t reached;             /* 1 + the highest customer id this execution has sent to (0: none yet) */
    int snap_saved;               /* the population statistics of snap_now are stored (for the trace) */
    eng_time snap_now;
    int64_t cap;                  /* credit cap of the execution (eng_xengage_options), 0: none */
    eng__xe_plan plan;            /* how the cap is spent, set at each learning time */
    uint32_t *test;               /* with a cap: the test group in the audience's order */
    size_t ntest;                 /* test customers */
    int test_sorted;
    uint8_t *units;               /* per customer, SMS parts last rendered (0: not yet) */
    float *value;                 /* per customer, the value of a conversion in credits (0: the org's mean;
                                     NULL: nobody's own), fixed for the execution (xengage_value.c) */
    double *oprior;               /* per segment, the sales history's organic table (xengage_organic.c) its control
                                     prior came from (a negative first value: carried, or none); NULL: none */
    uint32_t *rsample;            /* test customers evenly spread over the audience: the reach the exploration */
    size_t nrsample;              /* bucket is spread over, read at each learning time (eng__xe_reach) */
} xe_exec;

/* Test customers whose reach is read at each learning time: a share reachable within about 1 % (sd). */
#define XE_REACH_SAMPLE 4096

/* Segments are the message's include groups: a customer belongs to the first one listed that holds
 * them (at most this many; one group, one segment). */
#define XE_MAX_SEGMENTS 255

static void exec_key(char *buf, size_t cap, uint64_t msg, uint32_t occ) { eng__xe_key_exec(buf, cap, msg, occ); }

/* The org's latest finished X-Engage model over this set of channels: the next execution's prior. */
static void org_key(char *buf, size_t cap, const char *org, uint32_t channels)
{
    snprintf(buf, cap, "d/xo/%s/%08x", org, (unsigned)channels);
}

/* ---- history from the org's earlier campaigns ---- */

/* The first response of each send of the history (scratch per send: 1 when counted) into its channel's delays. */
typedef struct hist_delay {
    const eng__sends_view *v;
    const int8_t *idx;   /* engine channel -> optimizer channel */
    eng__xe_delays *dl;  /* per optimizer channel */
    uint8_t *first;
    eng_time before;
} hist_delay;

static int hist_delay_cb(const eng__touch_cols *c, void *u)
{
    hist_delay *d = u;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t s = c->send[i];
        if (s >= d->v->n || d->first[s] || c->time[i] < d->v->sent_at[s] || d->v->sent_at[s] >= d->before)
            continue;
        int j = c->channel[i] < ENG_CH_COUNT ? d->idx[c->channel[i]] : -1;
        if (j >= 0) {
            d->first[s] = 1;
            eng__xe_delays_answered(&d->dl[j], (double)(c->time[i] - d->v->sent_at[s]));
        }
    }
    return 0;
}

/* A history send not answered yet counts as a miss with the chance that its answer, if one comes, would have come
 * by @p before (its channel's delays over the org's sends, xengage_delay.c, as learn() weighs its own open sends),
 * drawn from the send's id and the execution's seed. Why: the next wave's history held the last wave's sends of
 * hours ago, unanswered, as misses: a channel whose answers take days read a fraction of its engagement
 * (genworld.py world 91: push answered after 58 h on average, waves 72 h apart, wave 2 2 % of the oracle). */
static int seed_history(eng_engine *e, const char *org, eng_time before, xe_exec *x)
{
    uint16_t code;
    eng__sends_view v;
    int rc = eng__xe_org_sends(e, org, &code, &v);
    if (rc)
        return rc == ENG_ITEROVER ? ENG_OK : rc;
    eng__xe_delays dl[ENG__XE_MAXK];
    for (unsigned j = 0; j < x->k; j++)
        eng__xe_delays_init(&dl[j], XE_WINDOW_SAMPLES, (double)XE_WINDOW_DEFAULT / 3);
    hist_delay hd = {&v, x->idx, dl, NULL, before};
    if (!(hd.first = eng__calloc(&e->mem, v.n ? v.n : 1, 1)))
        return eng__nomem();
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = org;
    f.statuses = 1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED;
    rc = eng__touch_scan(e, &f, hist_delay_cb, &hd);
    for (uint32_t s = 0; !rc && s < v.n; s++) {
        int ch = v.hot[s].channel, j = ch < ENG_CH_COUNT ? x->idx[ch] : -1;
        if (v.hot[s].org == code && j >= 0 && v.sent_at[s] < before && !(v.hot[s].mask & XE_RESPONSES))
            eng__xe_delays_open(&dl[j], (double)(before - v.sent_at[s]), 1);
    }
    double mean[ENG__XE_MAXK];
    for (unsigned j = 0; j < x->k; j++)
        mean[j] = eng__xe_delay_fit(&dl[j], NULL);
    const uint32_t block = 65536;
    uint32_t *sends = eng__malloc(&e->mem, (size_t)block * ENG__XE_MAXK * sizeof *sends);
    uint32_t *resp = eng__malloc(&e->mem, (size_t)block * ENG__XE_MAXK * sizeof *resp);
    rc = rc ? rc : sends && resp ? ENG_OK : eng__nomem();
    uint64_t seed = eng__xe_cfg(x->xe)->seed ^ 0x6869737479ull;
    for (uint32_t lo = 0; lo < x->ncust && !rc; lo += block) {
        uint32_t hi = x->ncust - lo < block ? x->ncust : lo + block;
        memset(sends, 0, (size_t)(hi - lo) * ENG__XE_MAXK * sizeof *sends);
        memset(resp, 0, (size_t)(hi - lo) * ENG__XE_MAXK * sizeof *resp);
        for (uint32_t s = 0; s < v.n; s++) {
            uint32_t c = v.customer[s];
            int ch = v.hot[s].channel, j = ch < ENG_CH_COUNT ? x->idx[ch] : -1;
            if (v.hot[s].org != code || c < lo || c >= hi || j < 0 || v.sent_at[s] >= before)
                continue;
            size_t at = (size_t)(c - lo) * ENG__XE_MAXK + (unsigned)j;
            if (v.hot[s].mask & XE_RESPONSES) {
                sends[at]++, resp[at]++;
                continue;
            }
            double w = eng__xe_delay_cdf(mean[j], (double)(before - v.sent_at[s]));
            uint64_t h = eng__mix64(seed ^ (uint64_t)s * 0x9e3779b97f4a7c15ull);
            sends[at] += (double)(h >> 11) * 0x1p-53 < w;
        }
        for (uint32_t c = lo; c < hi; c++)
            for (unsigned j = 0; j < x->k; j++) {
                size_t at = (size_t)(c - lo) * ENG__XE_MAXK + j;
                uint32_t n = sends[at] > 255 ? 255 : sends[at], r = resp[at] > n ? n : resp[at];
                for (uint32_t t = 0; t < n; t++)
                    eng__xe_observe(x->xe, c, eng__xe_segment_of(x->xe, c), j,
                                    ENG__XE_DELIVERED | ENG__XE_NO_CONV | (t < r ? ENG__XE_ENGAGED : 0));
            }
    }
    eng__free(&e->mem, hd.first);
    eng__free(&e->mem, sends);
    eng__free(&e->mem, resp);
    return rc;
}

typedef struct mean_ctx {
    double sum, cpu; /* cpu: credits per unit of currency */
    uint64_t n;
    eng_time first;  /* the earliest sale */
    uint32_t ncust; /* per customer below this id: orders, their sum and sum of squares (credits) */
    uint32_t *cn;
    double *cs, *cq;
} mean_ctx;

static int mean_cb(const eng__txn_cols *c, void *u)
{
    mean_ctx *m = u;
    for (size_t i = 0; i < c->n; i++) {
        double a = (double)c->amount[i] / 1e4;
        m->sum += a;
        m->first = c->time[i] < m->first ? c->time[i] : m->first;
        uint32_t id = c->customer[i];
        if (id < m->ncust) {
            a *= m->cpu;
            m->cn[id]++, m->cs[id] += a, m->cq[id] += a * a;
        }
    }
    m->n += c->n;
    return 0;
}

/* Each customer's value of a conversion from the org's sales before the execution (x->value stays NULL
 * when nobody's can be told from the org's mean). */
static int fit_values(eng_engine *e, const mean_ctx *m, double mean, xe_exec *x)
{
    float *v = eng__malloc(&e->mem, (size_t)(x->ncust ? x->ncust : 1) * sizeof *v);
    if (!v)
        return eng__nomem();
    if (eng__xe_value_fit(m->cn, m->cs, m->cq, x->ncust, mean, v, NULL, NULL))
        x->value = v;
    else
        eng__free(&e->mem, v);
    return ENG_OK;
}

/* The organic purchase: a sale within this long is what a send's conversion is counted over (xengage_hist.c). */
#define XE_ORGANIC_WINDOW (7 * ENG_DAY)
/* Sales over a shorter span are not read as a rate: a few weeks of an org's sales cannot be told from the
 * start of its records (the simulator's one day of orders that give the value of a conversion read as a
 * 7.5 % weekly rate against the world's 2 %, and cost 22 % of tiny.world's net value, 0.2-0.6 % of five others). */
#define XE_ORGANIC_MIN_SPAN (8 * XE_ORGANIC_WINDOW)
/* The organic rate from the sales history weighs this many control customers per segment until the execution's
 * own control group has bought (the first batch's cold conversion prior needs it, eng__xe_cold_conversion). */
#define XE_ORGANIC_PRIOR 20.0

/* Each customer's chance of an organic purchase within the window from their orders over the org's sales
 * (xengage_organic.c): the value of a conversion is scaled by 1 - it (a customer who buys anyway is worth
 * less sent), and without a carried control group each segment's mean is the organic rate's prior. Nothing
 * when the sales span less than XE_ORGANIC_MIN_SPAN. */
static int fit_organic(eng_engine *e, const mean_ctx *m, xe_exec *x)
{
    if (!m->n || x->start - m->first < XE_ORGANIC_MIN_SPAN)
        return ENG_OK;
    eng__xe *xe = x->xe;
    unsigned g = eng__xe_cfg(xe)->g;
    double span = (double)(x->start - m->first) / ENG_HOUR, win = (double)XE_ORGANIC_WINDOW / ENG_HOUR, a;
    uint16_t *seg = eng__malloc(&e->mem, (size_t)x->ncust * sizeof *seg);
    double *mg = eng__calloc(&e->mem, 3 * (size_t)g, sizeof *mg);
    if (!x->value)
        x->value = eng__calloc(&e->mem, x->ncust, sizeof *x->value);
    int rc = seg && mg && x->value ? ENG_OK : eng__nomem();
    for (uint32_t i = 0; !rc && i < x->ncust; i++)
        seg[i] = (uint16_t)eng__xe_segment_of(xe, i);
    if (!rc)
        rc = eng__xe_organic_fit(&e->mem, m->cn, seg, x->ncust, g, span, mg, &a);
    double *pn = mg + g, *pc = pn + g, v0 = eng__xe_cfg(xe)->value;
    for (uint32_t i = 0; !rc && i < x->ncust; i++) {
        double p = eng__xe_organic_p(a, mg[seg[i]], span, m->cn[i], win);
        pn[seg[i]] += 1, pc[seg[i]] += p;
        x->value[i] = (float)((x->value[i] > 0 ? x->value[i] : v0) * (1 - p));
    }
    int prior = 0;
    for (unsigned j = 0; !rc && j < g; j++)
        if (!(xe->seg[j].bn > 0) && pn[j] > 0) {
            xe->seg[j].bn = XE_ORGANIC_PRIOR, xe->seg[j].bc = XE_ORGANIC_PRIOR * pc[j] / pn[j];
            pn[j] = -1, prior = 1; /* marked: this segment's row of the table is kept */
        }
    /* The prior is a week's chance; the control it is pooled with counts purchases since the execution's start
     * (learn): the same chance over that span from the table. */
    if (!rc && prior && !(x->oprior = eng__malloc(&e->mem, (size_t)g * ENG__XE_OWN * sizeof *x->oprior)))
        rc = eng__nomem();
    if (!rc && prior)
        rc = eng__xe_organic_table(&e->mem, m->cn, seg, x->ncust, g, span, mg, a, win, x->oprior);
    for (unsigned j = 0; !rc && prior && j < g; j++)
        if (pn[j] >= 0)
            x->oprior[(size_t)j * ENG__XE_OWN] = -1;
    eng__free(&e->mem, seg);
    eng__free(&e->mem, mg);
    return rc;
}

/* Each customer's segment: the first of the message's include groups that holds them, resolved when the
 * model is built (the checkpoint keeps it). */
static int assign_segments(const eng__dctx *ctx, xe_exec *x)
{
    const eng_message_spec *s = ctx->spec;
    unsigned g = eng__xe_cfg(x->xe)->g;
    if (g < 2)
        return ENG_OK;
    eng_engine *e = ctx->e;
    const size_t block = 65536;
    uint8_t *done = eng__calloc(&e->mem, x->ncust, 1);
    uint32_t *ids = eng__malloc(&e->mem, block * sizeof *ids);
    int rc = done && ids ? ENG_OK : eng__nomem();
    for (unsigned j = 0; j < g && !rc; j++) {
        eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
        q.include = &s->include[j];
        q.n_include = 1;
        eng_audience *a = NULL;
        uint64_t n = 0;
        if ((rc = eng_audience_resolve(e, ctx->actor, &q, &a)) || (rc = eng_audience_count(a, ENG_PART_ALL, &n))) {
            eng_audience_free(a);
            break;
        }
        for (uint64_t off = 0; off < n && !rc; off += block) {
            size_t got = 0;
            if ((rc = eng_audience_ids(a, ENG_PART_ALL, off, ids, block, &got)))
                break;
            for (size_t i = 0; i < got; i++)
                if (ids[i] < x->ncust && !done[ids[i]]) {
                    done[ids[i]] = 1;
                    eng__xe_set_segment(x->xe, ids[i], j);
                }
        }
        eng_audience_free(a);
    }
    eng__free(&e->mem, done);
    eng__free(&e->mem, ids);
    return rc;
}

/* A new model: configuration from the message and the org, prior from history. */
static int build(const eng__dctx *ctx, xe_exec *x)
{
    eng_engine *e = ctx->e;
    eng__xe_config cfg;
    const eng_message_spec *s = ctx->spec;
    unsigned g = s->n_include < 1 ? 1 : s->n_include > XE_MAX_SEGMENTS ? XE_MAX_SEGMENTS : (unsigned)s->n_include;
    eng__xe_config_default(&cfg, x->k, g, x->ncust);
    cfg.explore = eng__xe_explore_share(x->ntest);
    for (unsigned j = 0; j < x->k; j++)
        cfg.cost[j] = (double)ctx->settings->channel_cost[x->chan[j]];
    const eng_xengage_options *xo = s->xengage;
    double cpu = eng__xengage_cpu(xo);
    if (!(cpu > 0))
        cpu = eng__xengage_credits_per_unit;
    mean_ctx m = {0, cpu, 0, INT64_MAX, x->ncust, NULL, NULL, NULL};
    m.cn = eng__calloc(&e->mem, x->ncust ? x->ncust : 1, sizeof *m.cn);
    m.cs = eng__calloc(&e->mem, x->ncust ? x->ncust : 1, sizeof *m.cs);
    m.cq = eng__calloc(&e->mem, x->ncust ? x->ncust : 1, sizeof *m.cq);
    int rc = m.cn && m.cs && m.cq ? eng__txn_scan(e, ctx->org, 0, x->start, ENG__NO_CUSTOMER, NULL, mean_cb, &m)
                                  : eng__nomem();
    /* Without sales history the value is unknown: send the best channel rather than nothing. */
    cfg.value = m.n ? m.sum / (double)m.n * cpu : 1.0;
    if (!rc && m.n)
        rc = fit_values(e, &m, cfg.value, x);
    eng__free(&e->mem, m.cs);
    eng__free(&e->mem, m.cq);
    if (rc) {
        eng__free(&e->mem, m.cn);
        return rc;
    }
    cfg.skip_negative = m.n > 0;
    unsigned np = 0;
    uint32_t used = 0;
    for (size_t i = 0; i < s->n_channel_priority && np < x->k; i++) {
        int ch = s->channel_priority[i];
        if (ch >= 0 && ch < ENG_CH_COUNT && x->idx[ch] >= 0 && !(used >> x->idx[ch] & 1u)) {
            cfg.priority[np++] = (uint8_t)x->idx[ch];
            used |= 1u << x->idx[ch];
        }
    }
    for (unsigned j = 0; j < x->k; j++)
        if (!(used >> j & 1u))
            cfg.priority[np++] = (uint8_t)j;
    const char *org = ctx->org;
    cfg.seed = eng__mix64(eng__hash64(org, strlen(org), 0x78656e67616765ull) ^ ctx->campaign * 0x9e3779b97f4a7c15ull ^
                          ctx->message ^ (uint64_t)ctx->version << 20 ^ ctx->occurrence);
    /* The history is every earlier send up to the execution's start, not to the approval: an X-Engage message
     * is approved at least 48 h ahead, and the responses to the campaigns of those days (all of them, for a
     * host that sends daily; genworld.py's daily worlds sent on the unseen prior) are the freshest there are. */
    eng_time hist_to = ctx->now > ctx->version ? ctx->now : ctx->version;
    if ((rc = eng__xe_create(&e->mem, &cfg, &x->xe)) || (rc = assign_segments(ctx, x)) ||
        (rc = seed_history(e, org, hist_to, x))) {
        eng__free(&e->mem, m.cn);
        return rc;
    }
    /* The org's last finished model over the same channels: the control's organic rate carries over
     * (decayed as at a new wave). Engagement and conversions come from the full history instead: a
     * finished execution has not seen the responses that came after its last batch. */
    char ok[128];
    org_key(ok, sizeof ok, org, ctx->channels);
    eng__xe *prev = NULL;
    rc = eng__xe_load(&e->mem, e->store, ok, &prev);
    if (rc == ENG_OK && prev->cfg.k == cfg.k && prev->cfg.g == cfg.g) {
        double f = cfg.forget;
        for (unsigned j = 0; j < cfg.g; j++) {
            x->xe->seg[j].bn = f * prev->seg[j].bn;
            x->xe->seg[j].bc = f * prev->seg[j].bc;
        }
    }
    eng__xe_free(prev);
    if (rc == ENG_ENOTFOUND || rc == ENG_ECORRUPT) { /* nothing carried: not the call's failure */
        eng_error_clear();
        rc = ENG_OK;
    }
    if (!rc) /* after the carried control: the sales history's organic rate only where none is carried */
        rc = fit_organic(e, &m, x);
    eng__free(&e->mem, m.cn);
    /* Conversion given engagement: every earlier send's, its late responses included (xengage_hist.c). */
    if (!rc)
        rc = eng__xe_seed_conversions(e, org, hist_to, ctx->now, x->idx, x->xe);
    if (!rc)
        eng__xe_refresh(x->xe);
    return rc;
}

static int load_audience(const eng__dctx *ctx, xe_exec *x)
{
    eng_engine *e = ctx->e;
    eng_audience *aud = NULL;
    int rc = eng_message_audience(e, ctx->actor, ctx->message, &aud);
    if (rc)
        return rc;
    uint64_t nc = 0, nt = 0;
    eng_audience_count(aud, ENG_PART_CONTROL, &nc);
    eng_audience_count(aud, ENG_PART_TEST, &nt);
    size_t got = 0;
    x->control = eng__malloc(&e->mem, (size_t)(nc ? nc : 1) * sizeof *x->control);
    uint32_t *test = eng__malloc(&e->mem, (size_t)(nt ? nt : 1) * sizeof *test);
    if (!x->control || !test)
        rc = eng__nomem();
    if (!rc)
        rc = eng_audience_ids(aud, ENG_PART_CONTROL, 0, x->control, (size_t)nc, &got);
    x->ncontrol = got;
    x->ncust = 0;
    for (size_t i = 0; i < got; i++)
        if (x->control[i] >= x->ncust)
            x->ncust = x->control[i] + 1;
    if (!rc)
        rc = eng_audience_ids(aud, ENG_PART_TEST, 0, test, (size_t)nt, &got);
    x->test_sorted = 1;
    for (size_t i = 0; !rc && i < got; i++) {
        if (test[i] >= x->ncust)
            x->ncust = test[i] + 1;
        if (i && test[i] <= test[i - 1])
            x->test_sorted = 0;
    }
    x->ntest = got;
    x->nrsample = got < XE_REACH_SAMPLE ? got : XE_REACH_SAMPLE;
    if (!rc && !(x->rsample = eng__malloc(&e->mem, (x->nrsample ? x->nrsample : 1) * sizeof *x->rsample)))
        rc = eng__nomem();
    for (size_t i = 0; !rc && i < x->nrsample; i++)
        x->rsample[i] = test[i * got / x->nrsample];
    if (x->cap > 0 && !rc) { /* the cap's multiplier looks at the customers still to decide */
        x->test = test;
        test = NULL;
    }
    eng__free(&e->mem, test);
    eng_audience_free(aud);
    if (!x->ncust)
        x->ncust = 1;
    return rc;
}

static void xe_close(void *state, const eng__dctx *ctx)
{
    xe_exec *x = state;
    if (!x)
        return;
    eng__xe_free(x->xe);
    eng__free(&ctx->e->mem, x->control);
    eng__free(&ctx->e->mem, x->seen);
    eng__free(&ctx->e->mem, x->last_txn);
    eng__free(&ctx->e->mem, x->base0);
    eng__free(&ctx->e->mem, x->conv);
    eng__free(&ctx->e->mem, x->test);
    eng__free(&ctx->e->mem, x->units);
    eng__free(&ctx->e->mem, x->value);
    eng__free(&ctx->e->mem, x->rsample);
    eng__free(&ctx->e->mem, x->oprior);
    eng__free(&ctx->e->mem, x);
}

static int xe_open(const eng__dctx *ctx, void **state)
{
    eng_engine *e = ctx->e;
    *state = NULL;
    xe_exec *x = eng__calloc(&e->mem, 1, sizeof *x);
    if (!x)
        return eng__nomem();
    memset(x->idx, -1, sizeof x->idx);
    for (int ch = 0; ch < ENG_CH_COUNT && x->k < ENG__XE_MAXK; ch++)
        if (ctx->channels >> ch & 1u) {
            x->idx[ch] = (int8_t)x->k;
            x->chan[x->k++] = (uint8_t)ch;
        }
    x->start = ctx->now;
    x->cap = ctx->spec->xengage ? ctx->spec->xengage->credit_cap : 0;
    int rc = x->k ? load_audience(ctx, x) : eng__err(ENG_EINVAL, "message.creatives", "X-Engage needs a creative");
    char key[64];
    exec_key(key, sizeof key, ctx->message, ctx->occurrence);
    if (!rc) {
        rc = eng__xe_load(&e->mem, e->store, key, &x->xe);
        if (rc == ENG_OK && (eng__xe_cfg(x->xe)->k != x->k || eng__xe_cfg(x->xe)->customers != x->ncust))
            rc = eng__err(ENG_ECORRUPT, key, "the X-Engage checkpoint does not match the execution");
        if (rc == ENG_OK) { /* the values it was built with */
            rc = eng__xe_value_get(e->store, &e->mem, ctx->message, ctx->occurrence, x->ncust, &x->value);
            rc = eng__absent(rc) ? ENG_OK : rc;
            if (!rc) /* absent: built before the table (its prior stays a week's chance) */
                rc = eng__xe_organic_get(e->store, &e->mem, ctx->message, ctx->occurrence, eng__xe_cfg(x->xe)->g,
                                         &x->oprior);
            rc = eng__absent(rc) ? ENG_OK : rc;
        } else if (eng__absent(rc)) {
            rc = build(ctx, x);
            if (!rc && !ctx->dry && (rc = eng__kv_begin(e->store)) == ENG_OK) {
                rc = eng__xe_save(x->xe, e->store, key);
                if (!rc && x->value)
                    rc = eng__xe_value_put(e->store, &e->mem, ctx->message, ctx->occurrence, x->value, x->ncust);
                if (!rc && x->oprior)
                    rc = eng__xe_organic_put(e->store, &e->mem, ctx->message, ctx->occurrence, x->oprior,
                                             eng__xe_cfg(x->xe)->g);
                rc = rc ? rc : eng__kv_commit(e->store);
                eng__xengage_trace_forget(e);
                if (rc && e->store->in_batch)
                    eng__kv_rollback(e->store);
            }
        }
    }
    if (rc) {
        xe_close(x, ctx);
        return rc;
    }
    /* The checkpoint is the model before this execution learned anything: its control counts are the prior's. */
    unsigned g = eng__xe_cfg(x->xe)->g;
    x->base0 = eng__malloc(&e->mem, (size_t)g * 2 * sizeof *x->base0);
    x->conv = eng__malloc(&e->mem, (size_t)g * 2 * sizeof *x->conv);
    if (!x->base0 || !x->conv) {
        xe_close(x, ctx);
        return eng__nomem();
    }
    for (unsigned j = 0; j < g; j++)
        x->base0[2 * j] = x->xe->seg[j].bn, x->base0[2 * j + 1] = x->xe->seg[j].bc;
    *state = x;
    return ENG_OK;
}

/* ---- learning from the touch log and the transactions ---- */

static int txn_cb(const eng__txn_cols *c, void *u)
{
    xe_exec *x = u;
    for (size_t i = 0; i < c->n; i++)
        if (c->customer[i] < x->ncust && c->time[i] > x->last_txn[c->customer[i]])
            x->last_txn[c->customer[i]] = c->time[i];
    return 0;
}

typedef struct delay_ctx {
    const eng__sends_view *v;
    double sum[ENG_CH_COUNT];
    uint32_t n[ENG_CH_COUNT];
    const int8_t *idx;        /* engine channel -> optimizer channel */
    eng__xe_delays *dl;       /* per optimizer channel: each answered send's first response */
    uint8_t *first;           /* per send: its response counted (scratch, cleared by the caller) */
} delay_ctx;

/* Engagement delays of this execution's sends: each channel's response window is 3x their mean. */
static int delay_cb(const eng__touch_cols *c, void *u)
{
    delay_ctx *d = u;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t s = c->send[i];
        if (s < d->v->n && c->time[i] >= d->v->sent_at[s]) {
            d->sum[c->channel[i]] += (double)(c->time[i] - d->v->sent_at[s]);
            d->n[c->channel[i]]++;
            int j = c->channel[i] < ENG_CH_COUNT ? d->idx[c->channel[i]] : -1;
            if (j >= 0 && !d->first[s]) {
                d->first[s] = 1;
                eng__xe_delays_answered(&d->dl[j], (double)(c->time[i] - d->v->sent_at[s]));
            }
        }
    }
    return 0;
}

static eng__xe_item xe_item(const xe_exec *x, uint32_t id, uint32_t engine_reach);

/* The reach of the sampled test customers now (consent and contacts move between learning times): the
 * exploration bucket is spread over the channels that reach them (eng__xe_reach; a channel nobody can be
 * reached on neither costs the bucket nor has information to buy: genworld.py world 49). */
static int read_reach(const eng__dctx *ctx, xe_exec *x)
{
    eng_engine *e = ctx->e;
    eng__customer_view_t view;
    eng__xe_item *it = eng__malloc(&e->mem, (x->nrsample ? x->nrsample : 1) * sizeof *it);
    int rc = it ? eng__customer_view(e, ctx->org, &view) : eng__nomem();
    for (size_t i = 0; i < x->nrsample && !rc; i++)
        it[i] = xe_item(x, x->rsample[i], eng__view_reach(&view, x->rsample[i], ctx->channels));
    if (!rc)
        rc = eng__xe_reach(x->xe, it, x->nrsample);
    eng__free(&e->mem, it);
    return rc;
}

static int learn(const eng__dctx *ctx, xe_exec *x, eng_time now)
{
    eng_engine *e = ctx->e;
    uint16_t org;
    eng__sends_view v;
    int rc = eng__xe_org_sends(e, ctx->org, &org, &v);
    if (rc == ENG_ITEROVER) { /* no events at all yet */
        if (!(rc = read_reach(ctx, x)))
            eng__xe_explore_refresh(x->xe);
        return rc;
    }
    if (rc)
        return rc;
    if (v.n > x->nseen) {
        uint8_t *p = eng__realloc(&e->mem, x->seen, v.n);
        if (!p)
            return eng__nomem();
        memset(p + x->nseen, 0, v.n - x->nseen);
        x->seen = p;
        x->nseen = v.n;
    }
    if (!x->last_txn && !(x->last_txn = eng__malloc(&e->mem, (size_t)x->ncust * sizeof *x->last_txn)))
        return eng__nomem();
    for (uint32_t i = 0; i < x->ncust; i++)
        x->last_txn[i] = -1;
    if ((rc = eng__txn_scan(e, ctx->org, x->start, now + 1, ENG__NO_CUSTOMER, NULL, txn_cb, x)))
        return rc;
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = ctx->org;
    f.campaign = ctx->campaign;
    f.message = ctx->message;
    f.statuses = 1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED;
    delay_ctx dc;
    memset(&dc, 0, sizeof dc);
    dc.v = &v;
    /* Each channel's delays (xengage_delay.c): before responses are seen, the window's assumption. */
    eng__xe_delays dl[ENG__XE_MAXK];
    for (unsigned j = 0; j < x->k; j++)
        eng__xe_delays_init(&dl[j], XE_WINDOW_SAMPLES, (double)XE_WINDOW_DEFAULT / 3);
    dc.idx = x->idx, dc.dl = dl;
    if (!(dc.first = eng__calloc(&e->mem, v.n ? v.n : 1, 1)))
        return eng__nomem();
    rc = eng__touch_scan(e, &f, delay_cb, &dc);
    eng__free(&e->mem, dc.first);
    if (rc)
        return rc;
    /* Our execution's context: the first send of ours found, checked once per context id. */
    uint32_t mine = UINT32_MAX, other = UINT32_MAX;
    for (uint32_t s = 0; s < v.n; s++) {
        /* Sends of this scheduler time (or later) are not learned from: one engine learns before it
         * sends at a time, and engines sharing the time must learn the same whatever the others sent. */
        if (x->seen[s] & XE_SEEN) { /* ours: unanswered still, for the delays */
            int ch = v.hot[s].channel, j = ch < ENG_CH_COUNT ? x->idx[ch] : -1, st = eng__mask_furthest(v.hot[s].mask);
            if (j >= 0 && st != ENG_TOUCH_OPENED && st != ENG_TOUCH_CLICKED)
                eng__xe_delays_open(&dl[j], (double)(now - v.sent_at[s]), 1);
            continue;
        }
        if (v.hot[s].org != org || v.ctx[s] == other || v.sent_at[s] >= now)
            continue;
        if (v.ctx[s] != mine) {
            uint64_t camp, msg;
            uint32_t ver, occ;
            if ((rc = eng__ctx_get(e, org, v.ctx[s], &camp, &msg, &ver, &occ)))
                return rc;
            if (camp != ctx->campaign || msg != ctx->message || occ != ctx->occurrence ||
                ver != (uint32_t)(ctx->version / 1000)) {
                other = v.ctx[s];
                continue;
            }
            mine = v.ctx[s];
        }
        int ch = v.hot[s].channel, j = ch < ENG_CH_COUNT ? x->idx[ch] : -1;
        uint32_t c = v.customer[s];
        if (c >= x->reached)
            x->reached = c + 1;
        if (j < 0 || c >= x->ncust)
            continue;
        int st = eng__mask_furthest(v.hot[s].mask);
        int engaged = st == ENG_TOUCH_OPENED || st == ENG_TOUCH_CLICKED;
        eng_time window = dc.n[ch] >= XE_WINDOW_SAMPLES ? (eng_time)(3 * dc.sum[ch] / dc.n[ch]) : XE_WINDOW_DEFAULT;
        if (window < XE_WINDOW_MIN)
            window = XE_WINDOW_MIN;
        if (!engaged)
            eng__xe_delays_open(&dl[j], (double)(now - v.sent_at[s]), 1);
        if (!engaged && now < v.sent_at[s] + window) {
            x->seen[s] |= XE_OPEN; /* still pending: a miss in part (below), not whole */
            continue;
        }
        unsigned fl = 0;
        if (eng__touch_rank(st) >= eng__touch_rank(ENG_TOUCH_DELIVERED))
            fl |= ENG__XE_DELIVERED;
        if (engaged)
            fl |= ENG__XE_ENGAGED | (x->last_txn[c] >= v.sent_at[s] ? ENG__XE_CONVERTED : 0);
        eng__xe_observe(x->xe, c, eng__xe_segment_of(x->xe, c), (unsigned)j, fl);
        x->seen[s] = XE_SEEN;
    }
    /* The sends still open count as the share of a miss that a response would have come by now. */
    double mean[ENG__XE_MAXK];
    for (unsigned j = 0; j < x->k; j++)
        mean[j] = eng__xe_delay_fit(&dl[j], NULL);
    eng__xe_pending_reset(x->xe);
    for (uint32_t s = 0; s < v.n; s++)
        if (x->seen[s] & XE_OPEN) {
            x->seen[s] &= (uint8_t)~XE_OPEN;
            uint32_t c = v.customer[s];
            int j = x->idx[v.hot[s].channel];
            if (!rc)
                rc = eng__xe_pending(x->xe, c, eng__xe_segment_of(x->xe, c), (unsigned)j,
                                     eng__xe_delay_cdf(mean[j], (double)(now - v.sent_at[s])));
        }
    if (rc)
        return rc;
    /* The control group per segment: customers (conv[2g]) and those with a transaction (conv[2g + 1]).
     * Like with like: a control customer counts once the execution has reached its place in the
     * audience's order (the test customers around it were sent), so early in a run the organic rate is
     * not diluted by control customers whose counterparts have not had their chance to convert yet. */
    unsigned g = eng__xe_cfg(x->xe)->g;
    memset(x->conv, 0, (size_t)g * 2 * sizeof *x->conv);
    uint64_t counted = 0;
    for (size_t i = 0; i < x->ncontrol; i++) {
        uint32_t c = x->control[i];
        if (c >= x->reached)
            continue;
        unsigned sg = c < x->ncust ? eng__xe_segment_of(x->xe, c) : 0;
        x->conv[2 * sg]++;
        x->conv[2 * sg + 1] += c < x->ncust && x->last_txn[c] >= 0;
        counted++;
    }
    /* A prior from the sales history is a week's chance of a purchase; pooled with a control counted over the
     * hours since the start it read the organic rate several times too high while the control was small (20
     * customers a segment: genworld.py world 91, 30 segments and 2,000 control customers, 43 % a week against
     * 20 % over a wave's first days, so every lift read about 0 and wave 1 got 36 % of the oracle). Once the
     * control counts, the prior is the same chance over the span it is counted over. Before (the first
     * batch) the history's conversions are expressed over the week's chance (xengage_hist.c), so it stays. */
    double span = (double)(now - x->start) / ENG_HOUR, week = (double)XE_ORGANIC_WINDOW / ENG_HOUR;
    eng__xe_baseline_reset(x->xe);
    for (unsigned j = 0; j < g; j++) {
        const double *row = x->oprior ? &x->oprior[(size_t)j * ENG__XE_OWN] : NULL;
        double bc0 = row && row[0] >= 0 && counted ? x->base0[2 * j] * eng__xe_organic_at(row, week, span)
                                                   : x->base0[2 * j + 1];
        x->xe->seg[j].bn = x->base0[2 * j] + x->conv[2 * j];
        x->xe->seg[j].bc = bc0 + x->conv[2 * j + 1];
    }
    if ((rc = read_reach(ctx, x)))
        return rc;
    eng__xe_refresh(x->xe);
    return ENG_OK;
}

/* What the trace needs to replay a chunk's decisions exactly: the population statistics of this
 * scheduler time (once per time) and the time of the chunk (named by its first customer). A customer's
 * own counts at its decision are the checkpoint's: it is decided once per execution, before any send
 * of this execution to it is observed. */
static int put_trace(const eng__dctx *ctx, xe_exec *x, uint32_t first, int learned, int64_t spend,
                     const eng__xe_item *it, size_t n)
{
    eng_engine *e = ctx->e;
    char key[96];
    int own = !e->store->in_batch, rc = own ? eng__kv_begin(e->store) : ENG_OK;
    if (!rc && learned) {
        eng__xe_key_snap(key, sizeof key, ctx->message, ctx->occurrence, ctx->now);
        rc = eng__xe_save_population(x->xe, ctx->channels, e->store, key);
        eng__xengage_trace_forget(e); /* a snapshot the trace may hold, written again */
    }
    if (!rc) {
        eng__wr w;
        eng__wr_init(&w, &e->mem);
        eng__wr_u64(&w, (uint64_t)ctx->now);
        /* The customers whose SMS had several parts, and how many: the trace replays their costs. */
        uint32_t multi = 0;
        for (size_t i = 0; i < n; i++)
            multi += it[i].units > 1;
        if (multi) {
            eng__wr_u32(&w, multi);
            for (size_t i = 0; i < n; i++)
                if (it[i].units > 1) {
                    eng__wr_u32(&w, it[i].customer);
                    eng__wr_u8(&w, it[i].units);
                }
        }
        eng__xe_key_chunk(key, sizeof key, ctx->message, ctx->occurrence, first);
        rc = eng__xe_rec_put(e->store, key, multi ? ENG__XE_CHUNK_UNITS_SCHEMA : ENG__XE_CHUNK_SCHEMA, &w);
    }
    if (!rc && x->cap > 0 && learned)
        rc = eng__xe_cap_plan_put(e->store, ctx->message, ctx->occurrence, ctx->now, &x->plan);
    if (!rc && x->cap > 0)
        rc = eng__xe_cap_put(e->store, ctx->message, ctx->occurrence, first, spend, &x->plan);
    if (own) {
        rc = rc ? rc : eng__kv_commit(e->store);
        if (rc && e->store->in_batch)
            eng__kv_rollback(e->store);
    }
    return rc;
}

/* One customer as the optimizer sees it: optimizer channel bits of the engine's reachable channels. */
static eng__xe_item xe_item(const xe_exec *x, uint32_t id, uint32_t engine_reach)
{
    uint16_t reach = 0;
    for (unsigned j = 0; j < x->k; j++)
        if (engine_reach >> x->chan[j] & 1u)
            reach |= (uint16_t)(1u << j);
    uint32_t c = id < x->ncust ? id : 0;
    return (eng__xe_item){c, (uint16_t)eng__xe_segment_of(x->xe, c), id < x->ncust ? reach : 0,
                          x->value && id < x->ncust ? x->value[c] : 0, 0, 0};
}

/* A multi-part SMS costs its parts: each item reachable on SMS gets its parts as its content renders now
 * (@p fresh), or as last rendered for this execution (the cap's plan over the rest of the audience). */
static int set_units(const eng__dctx *ctx, xe_exec *x, eng__xe_item *it, size_t n, int fresh)
{
    int j = x->idx[ENG_CH_SMS];
    if (j < 0 || !ctx->units || !n)
        return ENG_OK;
    eng_engine *e = ctx->e;
    if (!x->units && !(x->units = eng__calloc(&e->mem, x->ncust, 1)))
        return eng__nomem();
    uint32_t *ids = eng__malloc(&e->mem, n * sizeof *ids);
    uint8_t *u = eng__malloc(&e->mem, n);
    int rc = ids && u ? ENG_OK : eng__nomem();
    size_t m = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (it[i].reach >> j & 1u && (fresh || !x->units[it[i].customer]))
            ids[m++] = it[i].customer;
    if (!rc && m)
        rc = ctx->units(ctx, ENG_CH_SMS, ids, m, u);
    for (size_t i = 0; i < m && !rc; i++)
        x->units[ids[i]] = u[i];
    for (size_t i = 0; i < n && !rc; i++)
        if (it[i].reach >> j & 1u)
            it[i].units_ch = (uint8_t)j, it[i].units = x->units[it[i].customer];
    eng__free(&e->mem, ids);
    eng__free(&e->mem, u);
    return rc;
}

/* The credit cap's plan at a new learning time (eng__xe_cap_plan): the multiplier on cost whose choices for
 * every test customer from @p first on (the ones still to decide, as reachable now) fit what is left of the
 * cap, and who gets the rest. It depends only on the model, the audience and what was planned before, so a
 * learning time's decisions are the same whatever the batch size. */
static int cap_lambda(const eng__dctx *ctx, xe_exec *x, uint32_t first, int64_t planned)
{
    eng_engine *e = ctx->e;
    size_t at = 0;
    if (x->test_sorted)
        at = eng__lower_u32(x->test, x->ntest, first);
    else
        while (at < x->ntest && x->test[at] != first)
            at++;
    size_t n = x->ntest - at;
    eng__xe_item *it = eng__malloc(&e->mem, (n ? n : 1) * sizeof *it);
    eng__xe_choice *ch = eng__malloc(&e->mem, (n ? n : 1) * sizeof *ch);
    eng__customer_view_t view;
    int rc = it && ch ? eng__customer_view(e, ctx->org, &view) : eng__nomem();
    for (size_t i = 0; i < n && !rc; i++)
        it[i] = xe_item(x, x->test[at + i], eng__view_reach(&view, x->test[at + i], ctx->channels));
    if (!rc)
        rc = set_units(ctx, x, it, n, 0);
    if (!rc) {
        double left = (double)(x->cap - planned);
        rc = eng__xe_cap_plan(x->xe, ctx->occurrence, left > 0 ? left : 0, it, n, &x->plan);
        if (!x->test_sorted) /* the rest goes by ascending ids: only when that is the audience's order */
            x->plan.until = 0;
    }
    eng__free(&e->mem, it);
    eng__free(&e->mem, ch);
    return rc;
}

/* detail byte of the ledger: bit 0 explored, bit 1 priority guard rail, bits 2-6 reachable channels,
 * bit 7 the choice was cut to none because its cost would have passed the credit cap. An explored
 * choice's propensity is stored beside it as logged (ledger schema 2; schema 1 took 1 / reachable). */
static int xe_choose(void *state, const eng__dctx *ctx, const eng__dcust *in, size_t n, eng__dchoice *out)
{
    xe_exec *x = state;
    eng_engine *e = ctx->e;
    int rc;
    int64_t planned = 0; /* by the execution's other chunks (this one may be planned again after a crash) */
    if (x->cap > 0 && n && (rc = eng__xe_cap_planned(e->store, ctx->message, ctx->occurrence, in[0].id, &planned)))
        return rc;
    if (ctx->now != x->last_now) {
        if ((rc = learn(ctx, x, ctx->now)))
            return rc;
        if (x->cap > 0 && n) {
            rc = eng__xe_cap_plan_get(e->store, ctx->message, ctx->occurrence, ctx->now, &x->plan);
            if (eng__absent(rc))
                rc = cap_lambda(ctx, x, in[0].id, planned);
            if (rc)
                return rc;
        }
        x->last_now = ctx->now;
    }
    eng__xe_item *it = eng__malloc(&e->mem, n * sizeof *it);
    eng__xe_choice *ch = eng__malloc(&e->mem, 2 * n * sizeof *ch);
    rc = it && ch ? ENG_OK : eng__nomem();
    for (size_t i = 0; i < n && !rc; i++)
        it[i] = xe_item(x, in[i].id, in[i].reach);
    if (!rc)
        rc = set_units(ctx, x, it, n, 1);
    if (!rc && x->cap > 0)
        eng__xe_decide_plan(x->xe, ctx->occurrence, &x->plan, it, n, ch, ch + n);
    else if (!rc)
        eng__xe_decide(x->xe, ctx->occurrence, 0, it, n, ch);
    /* The cap is a hard bound: a choice whose cost would pass it, counted in the audience's order, is cut. */
    int64_t spend = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int c = ch[i].channel;
        unsigned nr = ch[i].n_reach > 31 ? 31 : ch[i].n_reach;
        uint8_t detail = (uint8_t)((ch[i].explored ? 1u : 0u) | (ch[i].guard ? 2u : 0u) | nr << 2);
        if (x->cap > 0 && c >= 0) {
            int64_t cost = ctx->settings->channel_cost[x->chan[c]] * (it[i].units > 1 && it[i].units_ch == c ? it[i].units : 1);
            if (planned + spend + cost > x->cap) {
                c = -1;
                detail = (uint8_t)(nr << 2 | 0x80u); /* neither explored nor the guard rail's: not sent */
            } else
                spend += cost;
        }
        if (c >= 0)
            out[i] = (eng__dchoice){1u << x->chan[c], -1, ENG__RULE_XENGAGE, detail,
                                    ch[i].explored ? ch[i].propensity : 0};
        else
            out[i] = (eng__dchoice){0, -1, it[i].reach ? ENG__RULE_XENGAGE : ENG__RULE_UNREACHABLE, detail, 0};
    }
    eng__free(&e->mem, ch);
    /* The trace records (and the cap's) go with the chunk's decisions. */
    if (!rc && n && !ctx->dry) {
        rc = put_trace(ctx, x, in[0].id, !x->snap_saved || x->snap_now != ctx->now, spend, it, n);
        if (!rc)
            x->snap_saved = 1, x->snap_now = ctx->now;
    }
    eng__free(&e->mem, it);
    return rc;
}

/* The execution finished (inside its storage batch): what it learned of conversions and of the
 * organic rate becomes the org's prior for the next X-Engage execution over the same channels. */
static int xe_finish(void *state, const eng__dctx *ctx)
{
    xe_exec *x = state;
    char ok[128];
    org_key(ok, sizeof ok, ctx->org, ctx->channels);
    return eng__xe_save(x->xe, ctx->e->store, ok);
}

const eng__strategy eng__strategy_xengage = {ENG_STRATEGY_XENGAGE, "xengage", xe_open, xe_choose, NULL, xe_close,
                                             xe_finish};
