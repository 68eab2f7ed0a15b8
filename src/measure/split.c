/* The run over several threads: the touch pass (eng__attr_touches_split) and
 * the walk (eng__attr_walk_split, below).
 *
 * The rows are cut into contiguous ranges; the caller's thread takes the
 * first one (and reports progress), each other range goes to a thread of its
 * own with a private copy of the pass's state (bitmaps, plain counts, key
 * buckets, kept touches, earliest sends) that shares only what the pass reads
 * (the spec, the message table, the qualifying-customer bitmap). The parts
 * are then folded into the run in row order: bitmaps OR-ed, counts and
 * earliest sends combined, kept touches appended range after range, so the
 * run holds exactly what one thread leaves and the report is bit-identical.
 * An error is the one of the earliest range that failed, which is the error
 * one thread would have stopped at.
 *
 * Only for enough rows to repay starting a thread. The parts allocate as they
 * go: allocator hooks are thread-safe (engage/alloc.h). The same private copy
 * and fold (eng__attr_pass_copy, eng__attr_pass_fold) serve the engine-level
 * report's pass over ranges of segments (planpass.c). */
#include "measure/measure_impl.h"
#include "base/error.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum { SPLIT_MAX = 8 };
size_t eng__attr_split_min_rows = (size_t)1 << 16;
uint64_t eng__attr_split_runs[4];

typedef struct part {
    eng__attr r;              /* the private state; shares x's read-only fields */
    const uint32_t *cu, *ms;
    const uint8_t *ch, *st;
    const eng_time *t;
    size_t n;
    int rc;
    char det[128], msg[256];  /* the part's error record, copied off its thread */
    pthread_t tid;
    int started;
} part;

static void *part_run(void *arg)
{
    part *p = arg;
    p->rc = eng__attr_touches(&p->r, p->n, p->cu, p->ms, p->ch, p->st, p->t);
    if (!p->rc)
        p->rc = eng__attr_flush(&p->r); /* its bits complete before the fold */
    if (p->rc) {
        snprintf(p->det, sizeof p->det, "%s", eng_error_last()->detail);
        snprintf(p->msg, sizeof p->msg, "%s", eng_error_last()->message);
    }
    return NULL;
}

int eng__attr_pass_copy(eng__attr *r, const eng__attr *x)
{
    *r = *x;
    size_t nslots = (size_t)ENG_TOUCH_STATUS_COUNT * x->nunit * ENG_MAX_CHANNELS;
    r->bits = eng__calloc(x->mem, nslots ? nslots : 1, sizeof *r->bits);
    r->cnt = eng__calloc(x->mem, nslots ? nslots : 1, sizeof *r->cnt);
    r->sent_at = eng__malloc(x->mem, (x->nunit ? x->nunit : 1) * sizeof *r->sent_at);
    memset(&r->kept, 0, sizeof r->kept);
    r->keys = NULL;
    r->keys32 = NULL;
    r->bcap = 0;
    r->feed_rows = 0; /* a part's buffer is sized to its own rows */
    memset(r->bfill, 0, sizeof r->bfill);
    r->pg = NULL;
    if (!r->bits || !r->cnt || !r->sent_at || eng__kept_init(&r->kept, x->mem, x->sp.n_customers))
        return eng__nomem();
    for (size_t u = 0; u < x->nunit; u++)
        r->sent_at[u] = INT64_MAX;
    return ENG_OK;
}

static int part_init(part *p, const eng__attr *x)
{
    memset(p, 0, sizeof *p);
    return eng__attr_pass_copy(&p->r, x);
}

int eng__attr_pass_fold(eng__attr *x, eng__attr *r)
{
    for (size_t s = 0; s < (size_t)ENG_TOUCH_STATUS_COUNT * x->nunit * ENG_MAX_CHANNELS; s++) {
        int rc = eng__attr_beat(x, 1);
        if (rc)
            return rc;
        x->cnt[s] += r->cnt[s];
        if (!r->bits[s])
            continue;
        if (!x->bits[s]) { /* the slot's first rows: take the bitmap over */
            x->bits[s] = r->bits[s];
            r->bits[s] = NULL;
            continue;
        }
        uint64_t *d = x->bits[s];
        const uint64_t *a = r->bits[s];
        for (size_t w = 0; w < x->words; w++)
            d[w] |= a[w];
        ENG__WORK(x->words);
    }
    for (size_t u = 0; u < x->nunit; u++)
        if (r->sent_at[u] < x->sent_at[u])
            x->sent_at[u] = r->sent_at[u];
    x->touches_seen |= r->touches_seen;
    return eng__kept_append(&x->kept, &r->kept, x->mem);
}

int eng__attr_touches_split(eng__attr *x, unsigned threads, size_t n, const uint32_t *cu, const uint32_t *ms,
                            const uint8_t *ch, const uint8_t *st, const eng_time *t,
                            int (*first)(eng__attr *x, size_t n, void *user), void *user)
{
    size_t nparts = (size_t)threads + 1;
    if (nparts > SPLIT_MAX)
        nparts = SPLIT_MAX;
    while (nparts > 1 && n / nparts < eng__attr_split_min_rows)
        nparts--;
    if (nparts < 2)
        return first(x, n, user);
    x->touches_seen = 1;
    part *ps = eng__calloc(x->mem, nparts - 1, sizeof *ps);
    if (!ps)
        return eng__nomem();
    size_t per = n / nparts, at = per; /* the caller's range is [0, per) */
    int rc = ENG_OK;
    for (size_t i = 0; i + 1 < nparts; i++) {
        part *p = &ps[i];
        if ((rc = part_init(p, x)) != ENG_OK)
            break;
        size_t k = i + 2 == nparts ? n - at : per;
        p->cu = cu + at, p->ms = ms + at, p->ch = ch + at, p->st = st + at, p->t = t + at;
        p->n = k;
        p->r.row0 = x->row0 + at;
        at += k;
        p->started = pthread_create(&p->tid, NULL, part_run, p) == 0;
        if (p->started) /* else this part runs here, after the caller's range */
            __atomic_add_fetch(&eng__attr_split_runs[0], 1, __ATOMIC_RELAXED);
    }
    if (!rc)
        rc = first(x, per, user);
    int sub = ENG_OK;
    for (size_t i = 0; i + 1 < nparts; i++) {
        part *p = &ps[i];
        if (p->started)
            pthread_join(p->tid, NULL);
        else if (!rc && !sub && p->r.bits)
            part_run(p);
        if (!rc && !sub && p->r.bits) {
            if (p->rc)
                sub = p->rc == ENG_ENOMEM ? eng__nomem() : eng__err(p->rc, p->det, "%s", p->msg);
            else
                sub = eng__attr_pass_fold(x, &p->r);
        }
    }
    for (size_t i = 0; i + 1 < nparts; i++)
        if (ps[i].r.mem) /* set up (part_init) */
            eng__attr_free_pass(&ps[i].r);
    eng__free(x->mem, ps);
    return rc ? rc : sub;
}

/* ---- the walk over several threads ----
 *
 * Each part walks a range of the kept touches' buckets (ranges of customers)
 * and the qualifying transactions of the same customers: those are cut
 * stably into the ranges (one pass), each range in place in the run's own
 * array, so that after every part has sorted its slice the array is sorted
 * as a whole, as one thread leaves it (the control lookup reads it after).
 * Each part walks its customers into accumulators of its own; they hold
 * integers only (counts, sales in 1/ENG__SHARE_DEN units), so their sums
 * equal one thread's exactly. */

typedef struct wpart {
    eng__attr r;
    eng_report rep;   /* accumulators (parts after the first) */
    int rc;
    pthread_t tid;
    int started;
} wpart;

static void *wpart_run(void *arg)
{
    wpart *p = arg;
    p->rc = eng__attr_walk(&p->r);
    return NULL;
}

static void acc_add(eng__acc *d, const eng__acc *a)
{
    for (int s = 0; s < ENG_TOUCH_STATUS_COUNT; s++)
        d->count[s] += a->count[s];
    d->contacted += a->contacted;
    d->responders += a->responders;
    d->conversions += a->conversions;
    d->sales += a->sales;
    d->credits += a->credits;
    d->control_n += a->control_n;
    d->control_resp += a->control_resp;
    d->used |= a->used;
}

/* Stable cut of @p a (n elements of @p size, customer at @p off) into the parts of their
 * customers' buckets (@p pof: per bucket of kept touches, customer >> @p lo) through
 * @p tmp; @p at receives each part's start (np + 1). */
static void cut(void *a, void *tmp, size_t n, size_t size, size_t off, const uint8_t *pof, unsigned lo, size_t np,
                size_t *at)
{
    unsigned char *src = a, *dst = tmp;
    for (size_t k = 0; k <= np; k++)
        at[k] = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c;
        memcpy(&c, src + i * size + off, sizeof c);
        at[pof[c >> lo] + 1]++;
    }
    for (size_t k = 1; k <= np; k++)
        at[k] += at[k - 1];
    size_t pos[SPLIT_MAX];
    memcpy(pos, at, np * sizeof *pos);
    for (size_t i = 0; i < n; i++) {
        uint32_t c;
        memcpy(&c, src + i * size + off, sizeof c);
        memcpy(dst + pos[pof[c >> lo]]++ * size, src + i * size, size);
    }
    memcpy(a, tmp, n * size);
    ENG__WORK(2 * n);
}

/* The buckets of kept touches cut into @p np ranges of about equal touches (the customers
 * fill the buckets from the first: at L, 10^7 of the 2^24 the 2,048 buckets span, so equal
 * counts of buckets gave the first part 84 % of the touches): @p kb[k] to kb[k + 1], and
 * each bucket's part in @p pof. */
static void cut_buckets(const eng__kept *kp, size_t np, size_t *kb, uint8_t *pof)
{
    size_t sum = 0, k = 1;
    kb[0] = 0;
    for (size_t b = 0; b < kp->nb; b++) {
        while (k < np && sum * np >= kp->n * k)
            kb[k++] = b;
        pof[b] = (uint8_t)(k - 1);
        sum += kp->cnt[b];
    }
    while (k <= np)
        kb[k++] = kp->nb;
}

int eng__attr_walk_split(eng__attr *x, unsigned threads)
{
    size_t np = (size_t)threads + 1;
    if (np > SPLIT_MAX)
        np = SPLIT_MAX;
    while (np > 1 && x->kept.n / np < eng__attr_split_min_rows)
        np--;
    if (np < 2 || !x->sp.n_customers)
        return eng__attr_walk(x);
    /* whole buckets of kept touches a part, about as many touches each */
    size_t big = x->nq * sizeof *x->qtx;
    void *tmp = eng__malloc(x->mem, big ? big : 1);
    wpart *ps = eng__calloc(x->mem, np, sizeof *ps);
    uint8_t *pof = eng__malloc(x->mem, x->kept.nb);
    if (!tmp || !ps || !pof) {
        eng__free(x->mem, tmp);
        eng__free(x->mem, ps);
        eng__free(x->mem, pof);
        return eng__nomem();
    }
    eng__mem_hint_huge(x->mem, tmp, big);
    size_t qat[SPLIT_MAX + 1], kb[SPLIT_MAX + 1];
    cut_buckets(&x->kept, np, kb, pof);
    cut(x->qtx, tmp, x->nq, sizeof *x->qtx, offsetof(eng__qtx, cust), pof, x->kept.lo, np, qat);
    eng__free(x->mem, tmp);
    eng__free(x->mem, pof);
    int rc = eng__attr_beat(x, 1);
    for (size_t k = 0; k < np && !rc; k++) {
        wpart *p = &ps[k];
        p->r = *x;
        p->r.slice = 1;
        p->r.kb0 = kb[k];
        p->r.kb1 = kb[k + 1];
        p->r.qtx = x->qtx + qat[k];
        p->r.nq = qat[k + 1] - qat[k];
        if (!k)
            continue; /* the caller's part: its report and progress are the run's */
        p->r.pg = NULL;
        p->rep = *x->r;
        memset(&p->rep.total, 0, sizeof p->rep.total);
        memset(p->rep.chan, 0, sizeof p->rep.chan);
        p->rep.msg = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *p->rep.msg);
        if (!p->rep.msg) {
            rc = eng__nomem();
            break;
        }
        p->r.r = &p->rep;
        p->started = pthread_create(&p->tid, NULL, wpart_run, p) == 0;
        if (p->started)
            __atomic_add_fetch(&eng__attr_split_runs[1], 1, __ATOMIC_RELAXED);
    }
    if (!rc)
        rc = eng__attr_walk(&ps[0].r);
    for (size_t k = 1; k < np; k++) {
        wpart *p = &ps[k];
        if (p->started)
            pthread_join(p->tid, NULL);
        else if (!rc && p->rep.msg)
            p->rc = eng__attr_walk(&p->r);
        if (!rc && p->rc)
            rc = p->rc == ENG_ENOMEM ? eng__nomem() : p->rc;
        if (!rc) {
            acc_add(&x->r->total, &p->rep.total);
            for (size_t ch = 0; ch < ENG_MAX_CHANNELS; ch++)
                acc_add(&x->r->chan[ch], &p->rep.chan[ch]);
            for (size_t m = 0; m < x->nmsg; m++)
                acc_add(&x->r->msg[m], &p->rep.msg[m]);
        }
        eng__free(x->mem, p->rep.msg);
    }
    eng__free(x->mem, ps);
    return rc;
}
