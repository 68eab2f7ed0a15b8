/* The second half of a run: counts and contacted customers from the status
 * bitmaps, the walk by customer that applies the attribution model, and the
 * control group. */
#include "measure/measure_impl.h"
#include "base/simd.h"
#include "base/lower.h"

#include <math.h>
#include <string.h>

typedef eng__cand cand;
typedef eng__attr run;

#define BIT(bm, c) (((bm)[(c) >> 6] >> ((c) & 63)) & 1u)

/* Counts, credits and contacted customers of every scope, from the bitmaps. */
int eng__attr_tally(run *x)
{
    eng_report *r = x->r;
    const int64_t *cost = x->sp.channel_cost;
    int frc = eng__attr_flush(x);
    if (frc)
        return frc;
    /* A slot with a bitmap counts its distinct customers there (the others were counted row by row). */
    const size_t nunit = x->nunit;
    for (size_t s = 0; s < (size_t)ENG_TOUCH_STATUS_COUNT * nunit * ENG_MAX_CHANNELS; s++) {
        const uint64_t *bm = x->bits[s];
        if (!bm)
            continue;
        uint64_t n = 0;
        const size_t step = eng__attr_beat_rows / 64 ? eng__attr_beat_rows / 64 : 1;
        for (size_t w0 = 0; w0 < x->words; w0 += step) {
            int rc;
            if ((rc = eng__attr_beat(x, 1)))
                return rc;
            size_t w1 = x->words - w0 < step ? x->words : w0 + step;
            n += eng__words_count(bm + w0, w1 - w0);
            ENG__WORK(w1 - w0);
        }
        x->cnt[s] += n;
    }
    /* every sending (unit) counts: a message's occurrences add up */
    for (size_t st = 0; st < ENG_TOUCH_STATUS_COUNT; st++)
        for (size_t u = 0; u < nunit; u++)
            for (size_t ch = 0, m = x->umsg[u]; ch < ENG_MAX_CHANNELS; ch++) {
                uint64_t n = x->cnt[(st * nunit + u) * ENG_MAX_CHANNELS + ch];
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
        int rc;
        if (!(w * 64 & (eng__attr_beat_rows - 1)) && (rc = eng__attr_beat(x, 1))) {
            eng__free(x->mem, mword);
            return rc;
        }
        ENG__WORK(1);
        /* contacted: customers, a union over a message's occurrences and channels */
        uint64_t all = 0, cw[ENG_MAX_CHANNELS] = {0};
        for (size_t m = 0; m < x->nmsg; m++)
            mword[m] = 0;
        for (size_t u = 0; u < nunit; u++) {
            uint64_t mw = 0;
            for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
                const uint64_t *bm = sent[u * ENG_MAX_CHANNELS + ch];
                if (bm) {
                    mw |= bm[w];
                    cw[ch] |= bm[w];
                }
            }
            mword[x->umsg[u]] |= mw;
            all |= mw;
        }
        if (!all)
            continue;
        r->total.contacted += (uint64_t)eng__popc64(all);
        for (size_t m = 0; m < x->nmsg; m++)
            r->msg[m].contacted += (uint64_t)eng__popc64(mword[m]);
        for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++)
            r->chan[ch].contacted += (uint64_t)eng__popc64(cw[ch]);
    }
    eng__free(x->mem, mword);
    return ENG_OK;
}

/* (unit, channel, time): a sending's touches on a channel together, the earliest first. */
static int cand_cmp_key(const cand *a, const cand *b, const uint16_t *rank)
{
    (void)rank;
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    if (a->ch != b->ch)
        return a->ch < b->ch ? -1 : 1;
    return a->t < b->t ? -1 : a->t > b->t;
}

/* (time, message, occurrence, channel): @p rank orders the units by message, then occurrence. */
static int cand_cmp_time(const cand *a, const cand *b, const uint16_t *rank)
{
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->m != b->m)
        return rank[a->m] < rank[b->m] ? -1 : 1;
    return a->ch < b->ch ? -1 : a->ch > b->ch;
}

/* Insertion sort: a customer has few touches. */
static void cand_sort(cand *a, size_t n, int (*cmp)(const cand *, const cand *, const uint16_t *),
                      const uint16_t *rank)
{
    for (size_t i = 1; i < n; i++) {
        cand v = a[i];
        size_t j = i;
        while (j > 0 && cmp(&a[j - 1], &v, rank) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Spread @p rest over out[from..to) in equal whole units, the remainder one unit each to the
 * earliest, so that the shares always add up to the amount exactly. */
static void spread(eng__i128 *out, size_t from, size_t to, eng__i128 rest)
{
    eng__i128 n = (eng__i128)(to - from), q = rest / n, r = rest % n;
    for (size_t i = from; i < to; i++)
        out[i] = q + ((eng__i128)(i - from) < r ? 1 : 0);
}

/* Shares of @p amount (times ENG__SHARE_DEN) for k touches sorted by time; they add up to
 * the amount exactly. Linear and position shares are exact for k <= 16 (ENG__SHARE_DEN is
 * divisible by every weight's denominator there); time decay is rounded to the unit. */
static void shares(int model, const cand *tc, size_t k, eng_time at, eng_time half_life, int64_t amount,
                   eng__i128 *out)
{
    const eng__i128 whole = (eng__i128)amount * ENG__SHARE_DEN;
    for (size_t i = 0; i < k; i++)
        out[i] = 0;
    switch (model) {
    case ENG_ATTR_FIRST_TOUCH: out[0] = whole; return;
    case ENG_ATTR_LAST_TOUCH: out[k - 1] = whole; return;
    case ENG_ATTR_LINEAR: spread(out, 0, k, whole); return;
    case ENG_ATTR_POSITION:
        if (k <= 2) {
            spread(out, 0, k, whole);
        } else {
            out[0] = out[k - 1] = whole * 2 / 5;
            spread(out, 1, k - 1, whole - 2 * out[0]);
        }
        return;
    default: { /* time decay: 2^(-age / half-life), normalised */
        long double sum = 0, w[64];
        size_t lim = k < 64 ? k : 64, big = 0;
        for (size_t i = 0; i < k; i++) {
            long double wi = exp2l(-(long double)(at - tc[i].t) / (long double)half_life);
            if (i < lim)
                w[i] = wi;
            sum += wi;
        }
        eng__i128 given = 0;
        for (size_t i = 0; i < k; i++) {
            long double wi = i < lim ? w[i] : exp2l(-(long double)(at - tc[i].t) / (long double)half_life);
            out[i] = (eng__i128)llroundl((long double)amount * ENG__SHARE_DEN * (wi / sum));
            given += out[i];
            if (out[i] > out[big])
                big = i;
        }
        out[big] += whole - given; /* the rounding's few units go to the largest share */
        return;
    }
    }
}

/* The walk's state across buckets of kept touches. */
typedef struct wstate {
    size_t qi;                           /* next qualifying transaction */
    uint32_t *mstamp, cstamp[ENG_MAX_CHANNELS]; /* customer + 1 last counted as a responder */
    eng__i128 *sh;                       /* shares of one transaction */
    int model, all_credited;
    eng_time hl;
} wstate;

/* Walk the customers of @p cd[0, n) (sorted by customer, after those walked before). */
static int walk_cands(run *x, cand *cd, size_t n, wstate *w)
{
    eng_report *r = x->r;
    const eng_measure_spec *sp = &x->sp;
    const int model = w->model, all_credited = w->all_credited;
    uint32_t *mstamp = w->mstamp, *cstamp = w->cstamp;
    eng__i128 *sh = w->sh;
    const uint16_t *umsg = x->umsg, *rank = x->urank;
    size_t qi = w->qi;
    int rc = ENG_OK;
    for (size_t ci = 0; ci < n;) {
        if ((rc = eng__attr_beat(x, 0))) /* one step per customer */
            break;
        uint32_t c = cd[ci].cust;
        size_t ce = ci;
        while (ce < n && cd[ce].cust == c)
            ce++;
        /* this customer's touches: earliest per (message, occurrence, channel), then by time */
        cand *buf = cd + ci;
        size_t k = ce - ci;
        ci = ce;
        ENG__WORK(k);
        cand_sort(buf, k, cand_cmp_key, rank);
        size_t u = 0;
        for (size_t j = 0; j < k; j++)
            if (u == 0 || buf[u - 1].m != buf[j].m || buf[u - 1].ch != buf[j].ch)
                buf[u++] = buf[j];
        k = u;
        cand_sort(buf, k, cand_cmp_time, rank);
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
            /* Which touches the model credits does not depend on the amount: a zero amount takes
             * a unit's shares to find them and then credits nothing to their sales. */
            shares(model, buf + lo, hi - lo, at, w->hl, amount ? amount : 1, sh);
            for (size_t t = lo; t < hi; t++) {
                eng__i128 s = amount ? sh[t - lo] : 0;
                if (!sh[t - lo] && !all_credited)
                    continue;
                const unsigned mt = umsg[buf[t].m];
                eng__acc *am = &r->msg[mt], *ac = &r->chan[buf[t].ch];
                am->sales += s;
                ac->sales += s;
                if (mstamp[mt] != c + 1) {
                    mstamp[mt] = c + 1;
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
                    first_m &= umsg[buf[q].m] != mt;
                    first_c &= buf[q].ch != buf[t].ch;
                }
                am->conversions += (uint64_t)first_m;
                ac->conversions += (uint64_t)first_c;
            }
        }
        /* stamps hold customer + 1: a customer's touches are one run after the sort */
        r->total.responders += (uint64_t)responded;
    }
    w->qi = qi;
    return rc;
}

/* Step 3: walk customers who have both qualifying transactions and touches: the
 * kept touches' buckets [kb0, kb1) one at a time, each sorted by customer into
 * scratch of the largest one's size (in cache), beside the sorted transactions. */
int eng__attr_walk(run *x)
{
    const eng_measure_spec *sp = &x->sp;
    const eng__kept *kp = &x->kept;
    const size_t b0 = x->kb0, b1 = x->kb1 ? x->kb1 : kp->nb;
    size_t big = 1;
    for (size_t b = b0; b < b1; b++)
        big = kp->cnt[b] > big ? kp->cnt[b] : big;
    cand *out = eng__malloc(x->mem, big * sizeof *out), *tmp = eng__malloc(x->mem, big * sizeof *tmp);
    size_t *cnt = eng__malloc(x->mem, eng__sort_kept_counters(kp) * sizeof *cnt);
    wstate w = {0, NULL, {0}, NULL, 0, 0, 0};
    w.sh = eng__malloc(x->mem, big * sizeof *w.sh);
    w.mstamp = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *w.mstamp);
    int rc = ENG_OK;
    if (!out || !tmp || !cnt || !w.sh || !w.mstamp) {
        rc = eng__nomem();
        goto out;
    }
    eng__qtx *qtmp = eng__malloc(x->mem, (x->nq ? x->nq : 1) * sizeof *qtmp), *qres;
    eng__mem_hint_huge(x->mem, qtmp, x->nq * sizeof *qtmp);
    if (!qtmp) {
        rc = eng__nomem();
        goto out;
    }
    rc = eng__sort_qtx(x->qtx, qtmp, x->nq, x, &qres);
    if (!rc && qres != x->qtx && x->slice) {
        memcpy(x->qtx, qres, x->nq * sizeof *qres);
    } else if (!rc && qres != x->qtx) {
        qtmp = x->qtx;
        x->qtx = qres;
        x->capq = x->nq ? x->nq : 1;
    }
    eng__free(x->mem, qtmp);
    if (rc)
        goto out;
    w.model = sp->has_goal ? sp->goal->attribution : ENG_ATTR_LAST_TOUCH;
    w.all_credited = w.model == ENG_ATTR_LINEAR || w.model == ENG_ATTR_TIME_DECAY;
    w.hl = sp->half_life ? sp->half_life : 7 * ENG_DAY;
    size_t done = 0;
    for (size_t b = b0; b < b1 && !rc; b++)
        if (kp->cnt[b] && !(rc = eng__sort_kept(kp, b, out, tmp, cnt, x, &done)))
            rc = walk_cands(x, out, kp->cnt[b], &w);
out:
    eng__free(x->mem, out);
    eng__free(x->mem, tmp);
    eng__free(x->mem, cnt);
    eng__free(x->mem, w.sh);
    eng__free(x->mem, w.mstamp);
    return rc;
}

ENG__LOWER_BOUND_BY(lower_cust, eng__qtx, uint32_t, .cust)

/* Step 4: control customers, looked up in the sorted qualifying transactions. */
int eng__attr_control(run *x)
{
    eng_report *r = x->r;
    const eng_measure_spec *sp = &x->sp;
    /* The windows open when a message went to the test group: the caller's time per message,
     * else each sending's (unit's) earliest sent touch, a message's occurrences each a window. */
    const int given = sp->message_sent_at != NULL;
    const eng_time *sent = given ? sp->message_sent_at : x->sent_at;
    const size_t nwin = given ? x->nmsg : x->nunit;
    uint64_t *seen = eng__calloc(x->mem, x->words ? x->words : 1, sizeof *seen);
    size_t *hit = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *hit); /* control index + 1 counted */
    if (!seen || !hit) {
        eng__free(x->mem, seen);
        eng__free(x->mem, hit);
        return eng__nomem();
    }
    eng_time first = INT64_MAX;
    for (size_t u = 0; u < nwin; u++)
        if (sent[u] < first)
            first = sent[u];
    int rc = ENG_OK;
    uint32_t prev = 0; /* the last customer searched, and its first transaction's place */
    size_t at = 0;
    for (size_t i = 0; i < sp->n_control; i++) {
        if ((rc = eng__attr_beat(x, 0)))
            break;
        ENG__WORK(1);
        uint32_t c = sp->control[i];
        if (c >= sp->n_customers) {
            rc = eng__err(ENG_EINVAL, "spec.control", "control[%zu]: customer %u is not below n_customers", i, c);
            break;
        }
        if (BIT(seen, c))
            continue;
        seen[c >> 6] |= 1ull << (c & 63);
        r->total.control_n++;
        if (!BIT(x->hasq, c))
            continue; /* no qualifying transaction: not a responder */
        /* The ids usually ascend (the report's union does): gallop from the last customer's
         * place, which keeps the reads near each other, then halve the last step. Every
         * transaction before lo is of a customer below c. */
        size_t lo = c >= prev ? at : 0, step = 1, hi;
        while (lo + step <= x->nq && x->qtx[lo + step - 1].cust < c)
            lo += step, step *= 2;
        hi = lo + step <= x->nq ? lo + step : x->nq;
        lo += lower_cust(x->qtx + lo, hi - lo, c);
        prev = c, at = lo;
        int any = 0;
        for (size_t u = 0; u < nwin; u++) {
            const size_t m = given ? u : x->umsg[u];
            if (sent[u] == INT64_MAX || hit[m] == i + 1)
                continue; /* never sent: no window; or a responder to the message already */
            eng_time from = sent[u], to = sp->has_goal ? sent[u] + x->window : sp->end;
            for (size_t j = lo; j < x->nq && x->qtx[j].cust == c; j++) {
                eng_time t = x->qtx[j].t;
                if (t >= from && t <= to) {
                    r->msg[m].control_resp++;
                    hit[m] = i + 1;
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
    for (size_t m = 0; m < x->nmsg && !rc; m++)
        r->msg[m].control_n += r->total.control_n;
    eng__free(x->mem, seen);
    eng__free(x->mem, hit);
    return rc;
}

