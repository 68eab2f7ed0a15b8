/* The engine-level report's reads over the units of an events-layer plan
 * (eng__touch_plan, eng__txn_plan) on several threads.
 *
 * A plan lists the units a scan visits (segments, then the tail) with their
 * payloads held; its units are cut into contiguous ranges of about equal rows,
 * one a part. The caller's thread visits the first range into the run itself
 * (and reports progress); every other range runs on a thread of its own into a
 * private copy of the run's state that the read fills (ops->copy: the touch
 * pass's bitmaps, counts, key buckets, kept touches and earliest sends, or the
 * qualifying transactions and their customers' bitmap) and user state of its
 * own (the report's gathered rows, its X-Engage sends, its columns). The parts
 * are folded in range order (ops->fold_run, then ops->fold), so the run holds
 * what one thread visiting every unit in order leaves. ops->done runs on the
 * part's thread after its range (the touch pass's bucket flush, so that work
 * is spread too). An error is the earliest range's, which is the error one
 * thread would have stopped at. */
#include "measure/measure_impl.h"
#include "base/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct ppart {
    eng__attr r;
    const eng__plan_ops *ops;
    void *plan, *user;
    size_t reader, u0, u1;
    int rc;
    char det[128], msg[256]; /* the part's error record, copied off its thread */
    pthread_t tid;
    int started, ready;
} ppart;

static void *ppart_run(void *arg)
{
    ppart *p = arg;
    p->rc = p->ops->run(p->plan, p->reader, p->u0, p->u1, p->user);
    if (!p->rc && p->ops->done)
        p->rc = p->ops->done(&p->r);
    if (p->rc) {
        snprintf(p->det, sizeof p->det, "%s", eng_error_last()->detail);
        snprintf(p->msg, sizeof p->msg, "%s", eng_error_last()->message);
    }
    return NULL;
}

/* Unit ranges of about rows / np rows each: at[0] = 0 .. at[np] = units. */
static void cut_units(const eng__plan_ops *ops, const void *plan, size_t nu, size_t np, size_t *at)
{
    uint64_t total = 0, sum = 0;
    for (size_t u = 0; u < nu; u++)
        total += ops->rows(plan, u);
    size_t k = 1;
    at[0] = 0;
    for (size_t u = 0; u < nu && k < np; u++) {
        sum += ops->rows(plan, u);
        while (k < np && sum * np >= total * k)
            at[k++] = u + 1;
    }
    while (k <= np)
        at[k++] = nu;
}

int eng__attr_plan_split(eng__attr *x, void *plan, unsigned threads, size_t rows, const eng__plan_ops *ops,
                         void *user)
{
    const size_t nu = ops->units(plan);
    size_t np = (size_t)threads + 1;
    if (np > ENG__PLAN_PARTS)
        np = ENG__PLAN_PARTS;
    if (np > nu)
        np = nu;
    while (np > 1 && rows / np < eng__attr_split_min_rows)
        np--;
    if (np < 2)
        return ops->run(plan, 0, 0, nu, user);
    size_t at[ENG__PLAN_PARTS + 1];
    cut_units(ops, plan, nu, np, at);
    /* each part's key buffer sized to its share (the touch pass; the transactions' leave
     * feed_rows to the touch pass, which sets it again) */
    x->feed_rows = rows / np;
    ppart *ps = eng__calloc(x->mem, np - 1, sizeof *ps);
    if (!ps)
        return eng__nomem();
    int rc = ENG_OK;
    for (size_t k = 1; k < np && !rc; k++) {
        ppart *p = &ps[k - 1];
        if ((rc = ops->copy(&p->r, x)))
            break;
        p->r.feed_rows = x->feed_rows;
        if (!(p->user = ops->open(user, &p->r))) {
            rc = eng__nomem();
            break;
        }
        p->plan = plan, p->ops = ops, p->reader = k, p->u0 = at[k], p->u1 = at[k + 1];
        p->ready = 1;
        p->started = pthread_create(&p->tid, NULL, ppart_run, p) == 0;
        if (p->started)
            __atomic_add_fetch(&eng__attr_split_runs[ops->runs], 1, __ATOMIC_RELAXED);
    }
    if (!rc)
        rc = ops->run(plan, 0, at[0], at[1], user);
    int sub = ENG_OK;
    for (size_t k = 1; k < np; k++) {
        ppart *p = &ps[k - 1];
        if (p->started)
            pthread_join(p->tid, NULL);
        else if (!rc && !sub && p->ready)
            ppart_run(p); /* no thread: this range runs here, after the ranges before it */
        if (!rc && !sub && p->ready) {
            if (p->rc)
                sub = p->rc == ENG_ENOMEM ? eng__nomem() : eng__err(p->rc, p->det, "%s", p->msg);
            else if (!(sub = ops->fold_run(x, &p->r)))
                sub = ops->fold(user, p->user);
        }
    }
    for (size_t k = 1; k < np; k++) {
        if (ps[k - 1].user)
            ops->close(user, ps[k - 1].user);
        if (ps[k - 1].r.mem) /* copied */
            ops->free_run(&ps[k - 1].r);
    }
    eng__free(x->mem, ps);
    return rc ? rc : sub;
}
