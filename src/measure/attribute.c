/* Attribution of one campaign over touch and transaction columns.
 *
 * 1. The goal condition selects the qualifying transactions (one batch
 *    evaluation); their customers get a bit in `hasq`.
 * 2. One pass over the touch log: each (customer, message, channel, status)
 *    is counted once (a bitmap per status/message/channel that occurs), and
 *    the starting-status touches of customers with a bit in `hasq` are kept.
 *    This is the only pass over the big column set, and it is sequential.
 * 3. Both small sides are radix-sorted by customer and walked together; the
 *    model splits each qualifying transaction among its eligible touches.
 * 4. Control customers are looked up in the sorted qualifying transactions. */
#include "measure/measure_impl.h"

#include <math.h>
#include <string.h>

typedef eng__cand cand;

typedef struct run {
    eng_engine *e;
    const eng__mem *mem;
    const eng_touch_columns *tc;
    const eng_txn_columns *xc;
    const eng_measure_spec *sp;
    eng_report *r;
    size_t nmsg, words;
    uint16_t *mtab;  /* message id -> index + 1, for ids below mtab_n */
    size_t mtab_n;
    uint64_t **bits; /* [(status * nmsg + m) * ENG_MAX_CHANNELS + ch] */
    uint64_t *cnt;   /* same index */
    uint64_t *hasq;
    eng__qtx *qtx;   /* qualifying transactions, by customer then log order */
    size_t nq;
    cand *cd;
    size_t ncd, capcd;
    eng_time *sent_at; /* per message: earliest sent touch */
    eng_time window;
} run;

#define BIT(bm, c) (((bm)[(c) >> 6] >> ((c) & 63)) & 1u)

static unsigned msg_slow(const run *x, uint32_t id)
{
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp->messages[i] == id)
            return (unsigned)i + 1;
    return 0;
}

static int check_inputs(const eng_touch_columns *tc, const eng_txn_columns *xc, const eng_measure_spec *sp)
{
    if (!tc || !xc || !sp)
        return eng__err(ENG_EINVAL, !tc ? "touches" : !xc ? "txns" : "spec", "eng_measure_campaign: NULL argument");
    if (tc->version != ENG_TOUCH_COLUMNS_VERSION)
        return eng__err(ENG_EVERSION, "touches.version", "unsupported eng_touch_columns version %u", tc->version);
    if (xc->version != ENG_TXN_COLUMNS_VERSION)
        return eng__err(ENG_EVERSION, "txns.version", "unsupported eng_txn_columns version %u", xc->version);
    if (sp->version != ENG_MEASURE_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "spec.version", "unsupported eng_measure_spec version %u", sp->version);
    if (tc->n && (!tc->customer || !tc->message || !tc->channel || !tc->status || !tc->time))
        return eng__err(ENG_EINVAL, "touches", "a touch column is NULL");
    if (xc->n && (!xc->customer || !xc->time || !xc->amount))
        return eng__err(ENG_EINVAL, "txns", "a transaction column is NULL");
    if (xc->amount_scale < 0 || xc->amount_scale > ENG_RULE_MAX_SCALE)
        return eng__err(ENG_ERANGE, "txns.amount_scale", "amount scale %d is outside 0..9", xc->amount_scale);
    if (sp->n_messages > ENG__MEASURE_MAX_MESSAGES)
        return eng__err(ENG_ETOOBIG, "spec.messages", "at most %d messages per report", ENG__MEASURE_MAX_MESSAGES);
    if (sp->n_messages && !sp->messages)
        return eng__err(ENG_EINVAL, "spec.messages", "messages is NULL");
    if (sp->n_control && !sp->control)
        return eng__err(ENG_EINVAL, "spec.control", "control is NULL");
    if (sp->currency_places < 0 || sp->currency_places > 4)
        return eng__err(ENG_ERANGE, "spec.currency_places", "%d places is outside 0..4", sp->currency_places);
    if (sp->half_life < 0)
        return eng__err(ENG_ERANGE, "spec.half_life", "negative half-life");
    if (sp->has_goal) {
        const eng_goal_spec *g = &sp->goal;
        if (g->window_days < 1 || g->window_days > 90)
            return eng__err(ENG_ERANGE, "spec.goal.window_days", "tracking period %u days is outside 1..90",
                            g->window_days);
        if (g->start_on < ENG_GOAL_ON_SENT || g->start_on > ENG_GOAL_ON_CLICKED)
            return eng__err(ENG_EINVAL, "spec.goal.start_on", "%d is not an eng_goal_start", g->start_on);
        if (g->attribution < ENG_ATTR_LAST_TOUCH || g->attribution > ENG_ATTR_POSITION)
            return eng__err(ENG_EINVAL, "spec.goal.attribution", "%d is not an eng_attribution", g->attribution);
    }
    for (size_t i = 0; i < sp->n_messages; i++)
        for (size_t j = 0; j < i; j++)
            if (sp->messages[i] == sp->messages[j])
                return eng__err(ENG_EINVAL, "spec.messages", "message %u is listed twice", sp->messages[i]);
    return ENG_OK;
}

static int build_msg_table(run *x)
{
    uint32_t max = 0;
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp->messages[i] > max)
            max = x->sp->messages[i];
    x->mtab_n = x->nmsg ? (size_t)(max < (1u << 22) ? max : (1u << 22) - 1) + 1 : 0;
    if (!x->mtab_n)
        return ENG_OK;
    x->mtab = eng__calloc(x->mem, x->mtab_n, sizeof *x->mtab);
    if (!x->mtab)
        return eng__nomem();
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp->messages[i] < x->mtab_n)
            x->mtab[x->sp->messages[i]] = (uint16_t)(i + 1);
    return ENG_OK;
}

/* Step 1: qualifying transactions, sorted by customer. */
static int select_txns(run *x)
{
    const eng_txn_columns *xc = x->xc;
    const eng_measure_spec *sp = x->sp;
    size_t n = xc->n, nw = (n + 63) / 64;
    uint64_t *sel = NULL;
    int rc = ENG_OK;
    if (sp->has_goal && sp->goal.condition && sp->goal.condition[0]) {
        eng_rule_options o;
        eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
        o.fields = xc->fields;
        o.nfields = xc->nfields;
        eng_rule *rule = NULL;
        rc = eng_rule_compile(x->e, sp->goal.condition, &o, &rule);
        if (rc)
            return eng__err_wrap(rc, "goal condition: ");
        sel = eng__calloc(x->mem, nw ? nw : 1, sizeof *sel);
        if (!sel) {
            eng_rule_free(rule);
            return eng__nomem();
        }
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n, xc->columns, xc->nfields};
        rc = n ? eng_rule_eval_batch(rule, &b, NULL, sel, NULL) : ENG_OK;
        eng_rule_free(rule);
        if (rc) {
            eng__free(x->mem, sel);
            return eng__err_wrap(rc, "goal condition: ");
        }
    }
    size_t cap = 0;
    for (size_t w = 0; w < nw; w++)
        cap += sel ? (size_t)__builtin_popcountll(sel[w]) : (w + 1 < nw || n % 64 == 0 ? 64 : n % 64);
    x->qtx = eng__malloc(x->mem, (cap ? cap : 1) * sizeof *x->qtx);
    eng__qtx *tmp = eng__malloc(x->mem, (cap ? cap : 1) * sizeof *tmp);
    if (!x->qtx || !tmp) {
        eng__free(x->mem, sel);
        eng__free(x->mem, tmp);
        return eng__nomem();
    }
    uint32_t ncust = sp->n_customers;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (sel && !BIT(sel, i))
            continue;
        uint32_t c = xc->customer[i];
        if (c >= ncust) {
            eng__free(x->mem, sel);
            eng__free(x->mem, tmp);
            return eng__err(ENG_EINVAL, "txns.customer", "row %zu: customer %u is not below n_customers %u", i, c,
                            ncust);
        }
        if (!sp->has_goal && xc->time[i] > sp->end)
            continue;
        x->qtx[k].t = xc->time[i];
        x->qtx[k].amount = xc->amount[i];
        x->qtx[k].cust = c;
        x->qtx[k].row = (uint32_t)i;
        k++;
        x->hasq[c >> 6] |= 1ull << (c & 63);
    }
    x->nq = k;
    eng__sort_qtx(x->qtx, tmp, k);
    eng__free(x->mem, tmp);
    eng__free(x->mem, sel);
    return ENG_OK;
}

static int push_cand(run *x, uint32_t c, unsigned m, unsigned ch, eng_time t)
{
    if (x->ncd == x->capcd && eng__grow(x->mem, (void **)&x->cd, &x->capcd, x->ncd + 1, sizeof *x->cd))
        return eng__nomem();
    cand *d = &x->cd[x->ncd++];
    d->t = t;
    d->cust = c;
    d->m = (uint16_t)m;
    d->ch = (uint8_t)ch;
    return ENG_OK;
}

/* Step 2: the pass over the touch log. */
static int scan_touches(run *x)
{
    const eng_touch_columns *tc = x->tc;
    const uint32_t *cu = tc->customer, *ms = tc->message;
    const uint8_t *chs = tc->channel, *sts = tc->status;
    const eng_time *ts = tc->time;
    const uint32_t ncust = x->sp->n_customers;
    const unsigned want = x->sp->has_goal ? (unsigned)x->sp->goal.start_on : ENG_TOUCH_SENT;
    const size_t nmsg = x->nmsg, mtab_n = x->mtab_n;
    const uint16_t *mtab = x->mtab;
    const uint64_t *hasq = x->hasq;
    for (size_t i = 0; i < tc->n; i++) {
        uint32_t id = ms[i];
        unsigned m = id < mtab_n ? mtab[id] : msg_slow(x, id);
        if (!m)
            continue;
        m--;
        uint32_t c = cu[i];
        unsigned st = sts[i], ch = chs[i];
        if (c >= ncust || st >= ENG_TOUCH_STATUS_COUNT || ch >= ENG_MAX_CHANNELS)
            return eng__err(ENG_EINVAL, c >= ncust ? "touches.customer" : st >= ENG_TOUCH_STATUS_COUNT ? "touches.status" : "touches.channel",
                            "row %zu: customer %u, status %u, channel %u out of range", i, c, st, ch);
        size_t slot = ((size_t)st * nmsg + m) * ENG_MAX_CHANNELS + ch;
        uint64_t *bm = x->bits[slot];
        if (!bm) {
            bm = x->bits[slot] = eng__calloc(x->mem, x->words, sizeof *bm);
            if (!bm)
                return eng__nomem();
        }
        uint64_t w = bm[c >> 6], b = 1ull << (c & 63);
        if (!(w & b)) {
            bm[c >> 6] = w | b;
            x->cnt[slot]++;
        }
        eng_time t = ts[i];
        if (st == ENG_TOUCH_SENT && t < x->sent_at[m])
            x->sent_at[m] = t;
        if (st == want && BIT(hasq, c)) {
            int rc = push_cand(x, c, m, ch, t);
            if (rc)
                return rc;
        }
    }
    return ENG_OK;
}

/* Counts, credits and contacted customers of every scope, from the bitmaps. */
static int tally_counts(run *x)
{
    eng_report *r = x->r;
    const int64_t *cost = x->sp->channel_cost;
    for (size_t st = 0; st < ENG_TOUCH_STATUS_COUNT; st++)
        for (size_t m = 0; m < x->nmsg; m++)
            for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
                uint64_t n = x->cnt[(st * x->nmsg + m) * ENG_MAX_CHANNELS + ch];
                if (!n)
                    continue;
                r->total.count[st] += n;
                r->msg[m].count[st] += n;
                r->chan[ch].count[st] += n;
                r->chan[ch].used = 1;
                if (st == ENG_TOUCH_SENT && cost) {
                    int64_t cr = (int64_t)n * cost[ch];
                    r->total.credits += cr;
                    r->msg[m].credits += cr;
                    r->chan[ch].credits += cr;
                }
            }
    uint64_t **sent = x->bits; /* status 0 comes first */
    uint64_t *mword = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *mword);
    if (!mword)
        return eng__nomem();
    for (size_t w = 0; w < x->words; w++) {
        uint64_t all = 0, cw[ENG_MAX_CHANNELS] = {0};
        for (size_t m = 0; m < x->nmsg; m++) {
            uint64_t mw = 0;
            for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
                const uint64_t *bm = sent[m * ENG_MAX_CHANNELS + ch];
                if (bm) {
                    mw |= bm[w];
                    cw[ch] |= bm[w];
                }
            }
            mword[m] = mw;
            all |= mw;
        }
        if (!all)
            continue;
        r->total.contacted += (uint64_t)__builtin_popcountll(all);
        for (size_t m = 0; m < x->nmsg; m++)
            r->msg[m].contacted += (uint64_t)__builtin_popcountll(mword[m]);
        for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++)
            r->chan[ch].contacted += (uint64_t)__builtin_popcountll(cw[ch]);
    }
    eng__free(x->mem, mword);
    return ENG_OK;
}

static int cand_cmp_key(const cand *a, const cand *b)
{
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    if (a->ch != b->ch)
        return a->ch < b->ch ? -1 : 1;
    return a->t < b->t ? -1 : a->t > b->t;
}

static int cand_cmp_time(const cand *a, const cand *b)
{
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    return a->ch < b->ch ? -1 : a->ch > b->ch;
}

/* Insertion sort: a customer has few touches. */
static void cand_sort(cand *a, size_t n, int (*cmp)(const cand *, const cand *))
{
    for (size_t i = 1; i < n; i++) {
        cand v = a[i];
        size_t j = i;
        while (j > 0 && cmp(&a[j - 1], &v) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Shares of @p amount (times ENG__SHARE_DEN) for k touches sorted by time. */
static void shares(int model, const cand *tc, size_t k, eng_time at, eng_time half_life, int64_t amount,
                   eng__i128 *out)
{
    const eng__i128 whole = (eng__i128)amount * ENG__SHARE_DEN;
    for (size_t i = 0; i < k; i++)
        out[i] = 0;
    switch (model) {
    case ENG_ATTR_FIRST_TOUCH: out[0] = whole; return;
    case ENG_ATTR_LAST_TOUCH: out[k - 1] = whole; return;
    case ENG_ATTR_LINEAR:
        for (size_t i = 0; i < k; i++)
            out[i] = whole / (eng__i128)k; /* exact for k <= 16 */
        return;
    case ENG_ATTR_POSITION:
        if (k == 1) {
            out[0] = whole;
        } else if (k == 2) {
            out[0] = out[1] = whole / 2;
        } else {
            out[0] = out[k - 1] = whole * 2 / 5;
            for (size_t i = 1; i + 1 < k; i++)
                out[i] = whole / (eng__i128)(5 * (k - 2));
        }
        return;
    default: { /* time decay: 2^(-age / half-life), normalised */
        long double sum = 0, w[64];
        size_t lim = k < 64 ? k : 64;
        for (size_t i = 0; i < k; i++) {
            long double wi = exp2l(-(long double)(at - tc[i].t) / (long double)half_life);
            if (i < lim)
                w[i] = wi;
            sum += wi;
        }
        for (size_t i = 0; i < k; i++) {
            long double wi = i < lim ? w[i] : exp2l(-(long double)(at - tc[i].t) / (long double)half_life);
            out[i] = (eng__i128)llroundl((long double)amount * ENG__SHARE_DEN * (wi / sum));
        }
        return;
    }
    }
}

/* Step 3: walk customers who have both qualifying transactions and touches. */
static int walk(run *x)
{
    eng_report *r = x->r;
    const eng_measure_spec *sp = x->sp;
    size_t n = x->ncd;
    cand *tmp = eng__malloc(x->mem, (n ? n : 1) * sizeof *tmp);
    eng__i128 *sh = eng__malloc(x->mem, (n ? n : 1) * sizeof *sh);
    uint32_t *mstamp = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *mstamp);
    int rc = ENG_OK;
    if (!tmp || !sh || !mstamp) {
        rc = eng__nomem();
        goto out;
    }
    eng__sort_cand(x->cd, tmp, n);
    uint32_t cstamp[ENG_MAX_CHANNELS] = {0};
    const int model = sp->has_goal ? sp->goal.attribution : ENG_ATTR_LAST_TOUCH;
    const int all_credited = model == ENG_ATTR_LINEAR || model == ENG_ATTR_TIME_DECAY;
    const eng_time hl = sp->half_life ? sp->half_life : 7 * ENG_DAY;
    size_t qi = 0;
    for (size_t ci = 0; ci < n;) {
        uint32_t c = x->cd[ci].cust;
        size_t ce = ci;
        while (ce < n && x->cd[ce].cust == c)
            ce++;
        /* this customer's touches: earliest per (message, channel), then by time */
        cand *buf = x->cd + ci;
        size_t k = ce - ci;
        ci = ce;
        cand_sort(buf, k, cand_cmp_key);
        size_t u = 0;
        for (size_t j = 0; j < k; j++)
            if (u == 0 || buf[u - 1].m != buf[j].m || buf[u - 1].ch != buf[j].ch)
                buf[u++] = buf[j];
        k = u;
        cand_sort(buf, k, cand_cmp_time);
        /* this customer's qualifying transactions, by time (stable: log order on ties) */
        while (qi < x->nq && x->qtx[qi].cust < c)
            qi++;
        eng__qtx *tx = x->qtx + qi;
        size_t nr = 0;
        while (qi + nr < x->nq && tx[nr].cust == c)
            nr++;
        for (size_t j = 1; j < nr; j++) {
            eng__qtx v = tx[j];
            size_t p = j;
            while (p > 0 && tx[p - 1].t > v.t) {
                tx[p] = tx[p - 1];
                p--;
            }
            tx[p] = v;
        }
        int responded = 0;
        for (size_t j = 0; j < nr; j++) {
            eng_time at = tx[j].t;
            int64_t amount = tx[j].amount;
            size_t lo, hi;
            if (sp->has_goal) {
                lo = 0;
                while (lo < k && buf[lo].t < at - x->window)
                    lo++;
                hi = lo;
                while (hi < k && buf[hi].t <= at)
                    hi++;
            } else { /* responder window: first touch .. end; credit to the last send before */
                if (k == 0 || at < buf[0].t || at > sp->end)
                    continue;
                hi = 1;
                while (hi < k && buf[hi].t <= at)
                    hi++;
                lo = hi - 1;
            }
            if (hi == lo)
                continue;
            responded = 1;
            r->total.conversions++;
            r->total.sales += (eng__i128)amount * ENG__SHARE_DEN;
            shares(model, buf + lo, hi - lo, at, hl, amount, sh);
            for (size_t t = lo; t < hi; t++) {
                eng__i128 s = sh[t - lo];
                if (!s && !all_credited)
                    continue;
                eng__acc *am = &r->msg[buf[t].m], *ac = &r->chan[buf[t].ch];
                am->sales += s;
                ac->sales += s;
                if (mstamp[buf[t].m] != c + 1) {
                    mstamp[buf[t].m] = c + 1;
                    am->responders++;
                }
                if (cstamp[buf[t].ch] != c + 1) {
                    cstamp[buf[t].ch] = c + 1;
                    ac->responders++;
                }
                /* conversions per scope: once per transaction */
                int first_m = 1, first_c = 1;
                for (size_t q = lo; q < t; q++) {
                    if (!sh[q - lo] && !all_credited)
                        continue;
                    first_m &= buf[q].m != buf[t].m;
                    first_c &= buf[q].ch != buf[t].ch;
                }
                am->conversions += (uint64_t)first_m;
                ac->conversions += (uint64_t)first_c;
            }
        }
        /* stamps hold customer + 1: a customer's touches are one run after the sort */
        r->total.responders += (uint64_t)responded;
    }
out:
    eng__free(x->mem, tmp);
    eng__free(x->mem, sh);
    eng__free(x->mem, mstamp);
    return rc;
}

/* Step 4: control customers, looked up in the sorted qualifying transactions. */
static int control(run *x)
{
    eng_report *r = x->r;
    const eng_measure_spec *sp = x->sp;
    const eng_time *sent = sp->message_sent_at ? sp->message_sent_at : x->sent_at;
    uint64_t *seen = eng__calloc(x->mem, x->words ? x->words : 1, sizeof *seen);
    if (!seen)
        return eng__nomem();
    eng_time first = INT64_MAX;
    for (size_t m = 0; m < x->nmsg; m++)
        if (sent[m] < first)
            first = sent[m];
    for (size_t i = 0; i < sp->n_control; i++) {
        uint32_t c = sp->control[i];
        if (c >= sp->n_customers) {
            eng__free(x->mem, seen);
            return eng__err(ENG_EINVAL, "spec.control", "control[%zu]: customer %u is not below n_customers", i, c);
        }
        if (BIT(seen, c))
            continue;
        seen[c >> 6] |= 1ull << (c & 63);
        r->total.control_n++;
        for (size_t m = 0; m < x->nmsg; m++)
            r->msg[m].control_n++;
        size_t lo = 0, hi = x->nq;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (x->qtx[mid].cust < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        int any = 0;
        for (size_t m = 0; m < x->nmsg; m++) {
            if (sent[m] == INT64_MAX)
                continue; /* never sent: no window */
            eng_time from = sent[m], to = sp->has_goal ? sent[m] + x->window : sp->end;
            for (size_t j = lo; j < x->nq && x->qtx[j].cust == c; j++) {
                eng_time t = x->qtx[j].t;
                if (t >= from && t <= to) {
                    r->msg[m].control_resp++;
                    any = 1;
                    break;
                }
            }
        }
        if (!sp->has_goal && !any && first != INT64_MAX) /* the campaign window: first send .. end */
            for (size_t j = lo; j < x->nq && x->qtx[j].cust == c && !any; j++) {
                eng_time t = x->qtx[j].t;
                any = t >= first && t <= sp->end;
            }
        r->total.control_resp += (uint64_t)any;
    }
    eng__free(x->mem, seen);
    return ENG_OK;
}

static void run_free(run *x)
{
    if (x->bits)
        for (size_t i = 0; i < (size_t)ENG_TOUCH_STATUS_COUNT * x->nmsg * ENG_MAX_CHANNELS; i++)
            eng__free(x->mem, x->bits[i]);
    eng__free(x->mem, x->bits);
    eng__free(x->mem, x->cnt);
    eng__free(x->mem, x->mtab);
    eng__free(x->mem, x->hasq);
    eng__free(x->mem, x->qtx);
    eng__free(x->mem, x->cd);
    eng__free(x->mem, x->sent_at);
}

ENG_API int eng_measure_spec_init(eng_measure_spec *s, unsigned int version)
{
    if (!s)
        return eng__err(ENG_EINVAL, "spec", "spec is NULL");
    if (version != ENG_MEASURE_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "spec.version", "unsupported eng_measure_spec version %u", version);
    eng_measure_spec d = ENG_MEASURE_SPEC_INIT;
    *s = d;
    return ENG_OK;
}

static int report_new(run *x)
{
    eng_report *r = eng__calloc(x->mem, 1, sizeof *r);
    if (!r)
        return eng__nomem();
    x->r = r;
    r->magic = ENG__REPORT_MAGIC;
    r->nmsg = x->nmsg;
    r->places = x->sp->currency_places;
    r->amount_scale = x->xc->amount_scale;
    r->responder_def = x->sp->has_goal ? ENG_RESPONDER_GOAL : ENG_RESPONDER_HIT_RATE;
    r->msg = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *r->msg);
    r->msg_ids = eng__malloc(x->mem, (x->nmsg ? x->nmsg : 1) * sizeof *r->msg_ids);
    if (!r->msg || !r->msg_ids)
        return eng__nomem();
    if (x->nmsg)
        memcpy(r->msg_ids, x->sp->messages, x->nmsg * sizeof *r->msg_ids);
    return ENG_OK;
}

static void report_drop(const eng__mem *mem, eng_report *r)
{
    if (!r)
        return;
    eng__free(mem, r->msg);
    eng__free(mem, r->msg_ids);
    r->magic = 0;
    eng__free(mem, r);
}

ENG_API int eng_measure_campaign(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                                 const eng_measure_spec *spec, eng_report **out)
{
    if (out)
        *out = NULL;
    int rc = eng__engine_check(engine);
    if (rc)
        return rc;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_measure_campaign: out is NULL");
    rc = check_inputs(touches, txns, spec);
    if (rc)
        return rc;
    run x;
    memset(&x, 0, sizeof x);
    x.e = engine;
    x.mem = &engine->mem;
    x.tc = touches;
    x.xc = txns;
    x.sp = spec;
    x.nmsg = spec->n_messages;
    x.words = ((size_t)spec->n_customers + 63) / 64;
    x.window = spec->has_goal ? (eng_time)spec->goal.window_days * ENG_DAY : 0;
    size_t nslots = (size_t)ENG_TOUCH_STATUS_COUNT * x.nmsg * ENG_MAX_CHANNELS;
    x.bits = eng__calloc(x.mem, nslots ? nslots : 1, sizeof *x.bits);
    x.cnt = eng__calloc(x.mem, nslots ? nslots : 1, sizeof *x.cnt);
    x.hasq = eng__calloc(x.mem, x.words ? x.words : 1, sizeof *x.hasq);
    x.sent_at = eng__malloc(x.mem, (x.nmsg ? x.nmsg : 1) * sizeof *x.sent_at);
    if (!x.bits || !x.cnt || !x.hasq || !x.sent_at) {
        run_free(&x);
        return eng__nomem();
    }
    for (size_t m = 0; m < x.nmsg; m++)
        x.sent_at[m] = INT64_MAX;
    rc = report_new(&x);
    if (!rc)
        rc = build_msg_table(&x);
    if (!rc)
        rc = select_txns(&x);
    if (!rc)
        rc = scan_touches(&x);
    if (!rc)
        rc = tally_counts(&x);
    if (!rc)
        rc = walk(&x);
    if (!rc)
        rc = control(&x);
    if (!rc) {
        rc = eng__enter(engine);
        if (!rc) {
            eng__engine_ref(engine);
            eng__leave(engine);
            x.r->e = engine;
        }
    }
    run_free(&x);
    if (rc) {
        report_drop(x.mem, x.r);
        return rc;
    }
    *out = x.r;
    return ENG_OK;
}

ENG_API void eng_report_free(eng_report *r)
{
    if (!r || r->magic != ENG__REPORT_MAGIC)
        return;
    eng_engine *e = r->e;
    report_drop(&e->mem, r);
    if (eng__enter(e) == ENG_OK) {
        eng__engine_unref(e);
        eng__leave(e);
    }
}
