/* X-Engage: conversion given engagement from the org's earlier campaigns.
 *
 * An execution learns conversions of its own sends only while it runs, so the
 * engagements that resolve after its last batch (an ad's click two days
 * later, an e-mail opened the next morning) never counted, and a slow
 * channel's rate stayed at the prior for good. Here the next execution reads
 * every earlier send of the org on the message's channels from the touch log:
 * an engaged send (opened or clicked) converted when its customer has a
 * transaction within XE_CONV_WINDOW after it, or by its first engagement when
 * that came later (a host that hands receipts and sales over together stamps a
 * late response and its purchase alike, days after the send); the organic
 * rate, per hour, comes from the channel's sends that were not engaged, over
 * the spans they were looked at (shrunk toward the segment's over all
 * channels). What is added to a segment x channel cell is the lift over what
 * the engaged would have bought anyway within their own spans,
 * re-expressed over the organic rate the execution will compare with (the
 * control group's, carried from the org's last execution), so the windows'
 * lengths do not matter.
 *
 * A campaign with no transaction in any of its sends' windows says nothing
 * (the host did not feed sales for that period): it is left out, so history
 * replayed without sales cannot teach "nobody ever buys". Older sends weigh
 * less: the model's forget factor per XE_CONV_PERIOD of age. */
#include "decide/xengage_impl.h"
#include "base/lower.h"
#include "decide/decide.h"
#include "events/events_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XE_CONV_WINDOW (7 * ENG_DAY) /* a purchase this long after a send is its conversion */
#define XE_CONV_PERIOD (7 * ENG_DAY) /* the age over which a send's weight is multiplied by forget */
#define XE_MAX_CTX (1u << 22)
#define XE_P0H_PRIOR 2.0 /* non-engaged sends' worth of the segment's organic rate in a channel's */

typedef struct txn_idx {
    eng__mem *mem;
    uint32_t ncust;
    uint32_t *off;  /* ncust + 1 */
    eng_time *time; /* sorted per customer */
    size_t n, cap;
    uint32_t *cust; /* scratch: customer of time[j] before sorting */
    int rc;
} txn_idx;

static int txn_collect(const eng__txn_cols *c, void *u)
{
    txn_idx *t = u;
    for (size_t i = 0; i < c->n; i++) {
        if (c->customer[i] >= t->ncust)
            continue;
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 4096;
            eng_time *a = eng__realloc(t->mem, t->time, cap * sizeof *a);
            if (a)
                t->time = a;
            uint32_t *b = a ? eng__realloc(t->mem, t->cust, cap * sizeof *b) : NULL;
            if (b)
                t->cust = b;
            if (!a || !b)
                return t->rc = eng__nomem();
            t->cap = cap;
        }
        t->time[t->n] = c->time[i];
        t->cust[t->n++] = c->customer[i];
    }
    return 0;
}

static int cmp_time(const void *a, const void *b)
{
    eng_time x = *(const eng_time *)a, y = *(const eng_time *)b;
    return x < y ? -1 : x > y;
}

/* Transactions per customer, sorted by time (counting sort by customer). */
static int txn_index(txn_idx *t)
{
    t->off = eng__calloc(t->mem, (size_t)t->ncust + 1, sizeof *t->off);
    eng_time *sorted = eng__malloc(t->mem, (t->n ? t->n : 1) * sizeof *sorted);
    if (!t->off || !sorted) {
        eng__free(t->mem, sorted);
        return eng__nomem();
    }
    for (size_t j = 0; j < t->n; j++)
        t->off[t->cust[j] + 1]++;
    for (uint32_t c = 0; c < t->ncust; c++)
        t->off[c + 1] += t->off[c];
    for (size_t j = 0; j < t->n; j++)
        sorted[t->off[t->cust[j]]++] = t->time[j];
    for (uint32_t c = t->ncust; c > 0; c--) /* off[c] moved to the end of c - 1: shift back */
        t->off[c] = t->off[c - 1];
    t->off[0] = 0;
    for (uint32_t c = 0; c < t->ncust; c++)
        if (t->off[c + 1] - t->off[c] > 1)
            qsort(sorted + t->off[c], t->off[c + 1] - t->off[c], sizeof *sorted, cmp_time);
    eng__free(t->mem, t->time);
    t->time = sorted;
    return ENG_OK;
}

/* Does customer c have a transaction in [from, to]? */
static int txn_in(const txn_idx *t, uint32_t c, eng_time from, eng_time to)
{
    uint32_t lo = t->off[c], hi = t->off[c + 1];
    lo += (uint32_t)eng__lower_i64(t->time + lo, hi - lo, from); /* the first time >= from */
    return lo < hi && t->time[lo] <= to;
}

/* The first engagement of each send (touch rows opened or clicked), in seconds after the send plus one
 * (0: none seen), rounded up. */
typedef struct eng_at {
    const eng__sends_view *v;
    uint32_t *first;
} eng_at;

static int eng_at_cb(const eng__touch_cols *c, void *u)
{
    eng_at *a = u;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t s = c->send[i];
        if (s >= a->v->n || c->time[i] < a->v->sent_at[s])
            continue;
        eng_time d = (c->time[i] - a->v->sent_at[s] + 999) / 1000 + 1; /* whole seconds, rounded up */
        uint32_t x = d < UINT32_MAX ? (uint32_t)d : UINT32_MAX;
        if (!a->first[s] || x < a->first[s])
            a->first[s] = x;
    }
    return 0;
}

/* Send ids @p id[0..n) in ascending send time: already so as a rule (a customer's sends are made in time order),
 * else an in-place heap sort (no scratch: the sends' list is the org's whole history). */
static void sort_by_time(uint32_t *id, uint32_t n, const eng_time *at)
{
    uint32_t i = 1;
    while (i < n && at[id[i - 1]] <= at[id[i]])
        i++;
    if (i >= n)
        return;
    for (uint32_t end = n, k = n / 2;;) { /* heapify, then pop the latest to the end */
        if (k > 0)
            k--;
        else if (--end > 0) {
            uint32_t t = id[0];
            id[0] = id[end], id[end] = t;
        } else
            return;
        for (uint32_t r = k;;) {
            uint32_t c = 2 * r + 1;
            if (c >= end)
                break;
            if (c + 1 < end && at[id[c + 1]] > at[id[c]])
                c++;
            if (at[id[c]] <= at[id[r]])
                break;
            uint32_t t = id[r];
            id[r] = id[c], id[c] = t, r = c;
        }
    }
}

/* Each send's next touch: the customer's next send by the org at a later time, before @p before, in
 * milliseconds after the send plus one (0: none; UINT32_MAX: beyond 49 days, past any window). */
static int next_sends(eng__mem *mem, const eng__sends_view *v, uint16_t code, eng_time before, uint32_t ncust,
                      uint32_t *next)
{
    uint32_t *off = eng__calloc(mem, (size_t)ncust + 1, sizeof *off), m = 0;
    if (!off)
        return eng__nomem();
    for (uint32_t s = 0; s < v->n; s++)
        if (v->hot[s].org == code && v->customer[s] < ncust && v->sent_at[s] < before)
            off[v->customer[s] + 1]++, m++;
    uint32_t *ids = eng__malloc(mem, (m ? m : 1) * sizeof *ids);
    if (!ids) {
        eng__free(mem, off);
        return eng__nomem();
    }
    for (uint32_t c = 0; c < ncust; c++)
        off[c + 1] += off[c];
    for (uint32_t s = 0; s < v->n; s++)
        if (v->hot[s].org == code && v->customer[s] < ncust && v->sent_at[s] < before)
            ids[off[v->customer[s]]++] = s;
    for (uint32_t c = 0, lo = 0; c < ncust; c++) { /* off[c] is now the end of c's sends */
        uint32_t hi = off[c];
        sort_by_time(ids + lo, hi - lo, v->sent_at);
        for (uint32_t i = lo, j; i < hi; i = j) { /* sends at one time share the next later one */
            eng_time t = v->sent_at[ids[i]];
            for (j = i + 1; j < hi && v->sent_at[ids[j]] == t; j++)
                ;
            eng_time d = j < hi ? v->sent_at[ids[j]] - t : -1;
            for (uint32_t x = i; x < j; x++)
                next[ids[x]] = d < 0 ? 0 : d < UINT32_MAX - 1 ? (uint32_t)d + 1 : UINT32_MAX;
        }
        lo = hi;
    }
    eng__free(mem, ids);
    eng__free(mem, off);
    return ENG_OK;
}

/* The end of the span over which send s's purchase is looked for by @p now: XE_CONV_WINDOW after the send, or
 * its first engagement (@p first, eng_at) when that came later. The window ends before the customer's next touch
 * by the org (@p next, next_sends): a purchase after another campaign reached the customer is that campaign's to
 * claim. Why: with campaigns closer than the window (waves a day apart, genworld.py world 133), a send that was
 * not engaged bought the next waves' conversions, its "organic" rate read 10-30 %, every channel's increment
 * about 0, and a campaign replayed without sales had them, from the waves after it. */
static eng_time window_end(const eng__sends_view *v, uint32_t s, const uint32_t *first, const uint32_t *next,
                           eng_time now)
{
    eng_time to = v->sent_at[s] + XE_CONV_WINDOW, at = v->sent_at[s] + (eng_time)(first[s] ? first[s] - 1 : 0) * 1000;
    eng_time cut = next[s] && next[s] < UINT32_MAX ? v->sent_at[s] + (eng_time)(next[s] - 1) - 1 : INT64_MAX;
    to = cut < to ? cut : to;
    to = at > to ? at : to;
    return to < now ? to : now;
}

static int converted(const txn_idx *t, const eng__sends_view *v, uint32_t s, const uint32_t *first,
                     const uint32_t *next, eng_time now)
{
    return txn_in(t, v->customer[s], v->sent_at[s], window_end(v, s, first, next, now));
}

/* The organic purchase as a rate per hour (a purchase within span L has chance 1 - exp(-h L)) of sends of mean
 * span @p span of which @p n (weighted) were looked at and @p c bought, shrunk by @p s sends toward the rate
 * @p h0. Why a rate: the spans differ, by channel and by send (a window cut at the history's end, or at the
 * customer's next touch), and a chance compared across them read the late sends' short windows as no lift. */
static double organic_rate(double c, double n, double span, double s, double h0)
{
    if (!(span > 0))
        return h0;
    double p = (c + s * -expm1(-h0 * span)) / (n + s);
    p = p < 1 - 1e-9 ? p : 1 - 1e-9;
    return -log1p(-p) / span;
}

/* Send s is the org's, sent before @p before on a channel the optimizer has. */
static int seeds(const eng__sends_view *v, uint32_t s, uint16_t code, eng_time before, const int8_t *idx)
{
    eng__shot h = v->hot[s];
    return h.org == code && v->sent_at[s] < before && h.channel < ENG_CH_COUNT && idx[h.channel] >= 0;
}

int eng__xe_org_sends(eng_engine *e, const char *org, uint16_t *code, eng__sends_view *v)
{
    int rc = eng__ev_org_code(e, org, code); /* an events state that failed to read is the failure */
    if (rc)
        return rc == ENG_ENOTFOUND ? ENG_ITEROVER : rc;
    return eng__sends_view_get(e, v);
}

int eng__xe_seed_conversions(eng_engine *e, const char *org, eng_time before, eng_time now, const int8_t *idx,
                             eng__xe *xe)
{
    uint16_t code;
    eng__sends_view v;
    int rc = eng__xe_org_sends(e, org, &code, &v);
    if (rc)
        return rc == ENG_ITEROVER ? ENG_OK : rc;
    const unsigned K = xe->cfg.k, G = xe->cfg.g;
    const uint32_t ncust = xe->cfg.customers;
    eng_time first = before;
    uint32_t maxctx = 0;
    for (uint32_t s = 0; s < v.n; s++)
        if (seeds(&v, s, code, before, idx)) {
            first = v.sent_at[s] < first ? v.sent_at[s] : first;
            maxctx = v.ctx[s] > maxctx ? v.ctx[s] : maxctx;
        }
    if (first >= before || maxctx >= XE_MAX_CTX)
        return ENG_OK;
    txn_idx t = {&e->mem, ncust, NULL, NULL, 0, 0, NULL, ENG_OK};
    uint8_t *sold = eng__calloc(&e->mem, (size_t)maxctx + 1, 1);
    double *acc = eng__calloc(&e->mem, (size_t)G * K * 6 + G, sizeof *acc);
    rc = sold && acc ? ENG_OK : eng__nomem();
    if (!rc)
        rc = eng__txn_scan(e, org, first, now + 1, ENG__NO_CUSTOMER, NULL, txn_collect, &t);
    rc = rc ? rc : t.rc;
    if (!rc)
        rc = txn_index(&t);
    /* When each send was engaged: a purchase handed over with a late response (stamped, like it, days after
     * the send) is the engagement's conversion, not a purchase outside the send's window. */
    eng_at ea = {&v, NULL};
    uint32_t *next = NULL;
    if (!rc && !(ea.first = eng__calloc(&e->mem, v.n, sizeof *ea.first)))
        rc = eng__nomem();
    if (!rc && !(next = eng__calloc(&e->mem, v.n, sizeof *next)))
        rc = eng__nomem();
    if (!rc)
        rc = next_sends(&e->mem, &v, code, before, ncust, next);
    if (!rc) {
        eng__touch_filter f;
        eng__touch_filter_init(&f);
        f.org = org;
        f.from = first;
        f.to = now + 1;
        f.statuses = 1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED;
        rc = eng__touch_scan(e, &f, eng_at_cb, &ea);
    }
    /* Pass 1: which campaigns (contexts) have sales in their windows at all. */
    for (uint32_t s = 0; s < v.n && !rc; s++) {
        if (!seeds(&v, s, code, before, idx) || v.customer[s] >= ncust || sold[v.ctx[s]])
            continue;
        sold[v.ctx[s]] = (uint8_t)converted(&t, &v, s, ea.first, next, now);
    }
    /* Pass 2: per segment x channel, engaged sends and their conversions, and the sends not engaged, theirs and
     * the hours they were looked at over (the organic rate; weights decay with age). A send not engaged counts
     * whatever its delivery: a host may hand a channel's delivery receipts over with its window's end (genworld.py
     * world 91: push's, 205 h), and then the channel's recent sends were missing from its organic rate. */
    double *en = acc, *ec = acc + (size_t)G * K, *bn = acc + 2 * (size_t)G * K, *bc = bn + (size_t)G * K;
    double *bl = bc + (size_t)G * K, *eo = bl + (size_t)G * K, *hg = eo + (size_t)G * K;
    double lf = xe->cfg.forget > 0 ? log(xe->cfg.forget) : -50;
    for (int pass = 2; pass <= 3 && !rc; pass++) {
        for (uint32_t s = 0; s < v.n; s++) {
            int ch = v.hot[s].channel;
            uint32_t c = v.customer[s];
            if (!seeds(&v, s, code, before, idx) || c >= ncust || !sold[v.ctx[s]])
                continue;
            int st = eng__mask_furthest(v.hot[s].mask);
            int engaged = st == ENG_TOUCH_OPENED || st == ENG_TOUCH_CLICKED;
            if (pass == 3 && !engaged)
                continue;
            size_t i = (size_t)eng__xe_segment_of(xe, c) * K + (unsigned)idx[ch];
            double w = exp(lf * (double)(before - v.sent_at[s]) / (double)XE_CONV_PERIOD);
            double span = (double)(window_end(&v, s, ea.first, next, now) - v.sent_at[s]) / ENG_HOUR;
            span = span > 0 ? span : 0;
            if (pass == 3) /* the organic purchases expected among the engaged, each over its own span */
                eo[i] += -w * expm1(-bl[i] * span);
            else if (engaged) {
                en[i] += w;
                ec[i] += w * converted(&t, &v, s, ea.first, next, now);
            } else {
                bn[i] += w;
                bc[i] += w * converted(&t, &v, s, ea.first, next, now);
                bl[i] += w * span;
            }
        }
        if (pass == 3 || rc)
            break;
        /* Between the passes: each cell's organic rate per hour, shrunk toward its segment's and that toward all
         * segments' (bl then holds the rate). */
        double tbn = 0, tbc = 0, tbl = 0, ten = 0;
        for (size_t i = 0; i < (size_t)G * K; i++)
            tbn += bn[i], tbc += bc[i], tbl += bl[i], ten += en[i];
        if (!(ten > 0))
            break;
        /* no send looked at without an engagement: half a purchase over the spans of a day */
        double h_all = organic_rate(tbc + 0.5, tbn + 1, tbn > 0 ? tbl / tbn : 24, 0, 0);
        for (unsigned g = 0; g < G; g++) {
            double gbn = 0, gbc = 0, gbl = 0;
            for (unsigned k = 0; k < K; k++)
                gbn += bn[(size_t)g * K + k], gbc += bc[(size_t)g * K + k], gbl += bl[(size_t)g * K + k];
            double h_g = hg[g] = organic_rate(gbc, gbn, gbn > 0 ? gbl / gbn : 0, 2, h_all);
            /* The channel's own sends not engaged, shrunk toward the segment's: who does not engage differs by
             * channel (a channel most customers answer leaves the least responsive, who buy less), so a rate
             * pooled over the channels moved every channel's increment with the mix the last waves happened to
             * send, and the choices that mix drove fed back into it. */
            for (unsigned k = 0; k < K; k++) {
                size_t i = (size_t)g * K + k;
                bl[i] = organic_rate(bc[i], bn[i], bn[i] > 0 ? bl[i] / bn[i] : 0, XE_P0H_PRIOR, h_g);
            }
        }
    }
    if (!rc) {
        eng__xe_refresh(xe); /* the segments' organic rates, as the decisions will see them */
        for (unsigned g = 0; g < G; g++) {
            /* the organic rate the execution compares with: the control group's, when one is carried, else the
             * history's own over a conversion window */
            double p0r = xe->seg[g].bn > 0 ? xe->seg[g].p0 : -expm1(-hg[g] * (double)XE_CONV_WINDOW / ENG_HOUR);
            for (unsigned k = 0; k < K; k++) {
                size_t i = (size_t)g * K + k;
                if (en[i] <= 0)
                    continue;
                /* The lift among the engaged over what they would have bought anyway within their own spans,
                 * re-expressed over the organic rate the execution compares with: the spans do not matter. */
                double lift = en[i] > eo[i] ? (ec[i] - eo[i]) / (en[i] - eo[i]) : 0;
                lift = lift < 0 ? 0 : lift > 1 ? 1 : lift;
                xe->cell[i].en += en[i];
                xe->cell[i].ec += en[i] * (p0r + (1 - p0r) * lift);
            }
        }
    }
    eng__free(&e->mem, t.off);
    eng__free(&e->mem, t.time);
    eng__free(&e->mem, t.cust);
    eng__free(&e->mem, sold);
    eng__free(&e->mem, acc);
    eng__free(&e->mem, ea.first);
    eng__free(&e->mem, next);
    return rc;
}
