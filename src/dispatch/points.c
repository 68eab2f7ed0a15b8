/* Loyalty points awards (eng_dispatch_hooks version 3, `points`): once per
 * customer per occurrence, keyed like a send. An award becomes due in the
 * storage batch that records the customer's first accepted send (work.c), as
 * an entry of the chunk's ledger record; it is then worked like a send: the
 * attempt stored (intent), the host's callback without the engine lock, the
 * outcome stored with the execution's counters in one batch. A crash leaves
 * either the intent (asked again with the same key) or the outcome (never
 * asked again). Awards cost no credits. */
#include "dispatch/dispatch_impl.h"
#include "base/lower.h"

#include <stdio.h>

ENG_API int eng_points_award_init(eng_points_award *x, unsigned int version)
{
    static const eng_points_award init = ENG_POINTS_AWARD_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_points_award");
}

ENG__LOWER_BOUND_BY(lower_cust, eng__lpts, uint32_t, .cust)

int eng__points_add(eng__chunk *c, uint32_t cust, int *added)
{
    *added = 0;
    /* Kept sorted by customer: one outcome pass adds in ascending order, so this appends. */
    uint32_t lo = (uint32_t)lower_cust(c->pts, c->npts, cust);
    if (lo < c->npts && c->pts[lo].cust == cust)
        return ENG_OK;
    if (!c->pts && !(c->pts = eng__calloc(c->mem, c->ncust ? c->ncust : 1, sizeof *c->pts)))
        return eng__nomem();
    if (c->npts >= c->ncust)
        return eng__err(ENG_ECORRUPT, "d/l", "more points awards than customers in a ledger chunk");
    memmove(&c->pts[lo + 1], &c->pts[lo], (c->npts - lo) * sizeof *c->pts);
    c->pts[lo] = (eng__lpts){cust, ENG_LEDGER_PENDING, 0, 0};
    c->npts++;
    *added = 1;
    return ENG_OK;
}

static eng_time award_due(const eng__lpts *a)
{
    return a->state == ENG_LEDGER_PENDING ? 0 : a->next_at;
}

int eng__points_due(const eng__chunk *c, eng_time now, eng_time *due, int *open)
{
    int any = 0;
    *open = 0;
    *due = 0;
    for (uint32_t i = 0; i < c->npts; i++) {
        const eng__lpts *a = &c->pts[i];
        if (eng__ledger_final(a->state))
            continue;
        eng_time t = award_due(a);
        if (!*open || t < *due)
            *due = t;
        *open = 1;
        any |= t <= now;
    }
    return any;
}

size_t eng__points_key(char *buf, size_t cap, const char *keypfx, size_t plen, uint32_t customer)
{
    int n = snprintf(buf, cap, "%.*s%u/points", (int)plen, keypfx, customer);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* The outcome of one answer (engine locked); counts into @p d. */
static void settle(eng__lpts *a, int st, eng_time now, int64_t each, eng__xrec *d)
{
    if (st == ENG_SEND_ACCEPTED) {
        a->state = ENG_LEDGER_ACCEPTED;
        d->pts_awarded++;
        d->pts_sum += each;
    } else if (st == ENG_SEND_REJECTED) {
        a->state = ENG_LEDGER_REJECTED;
        d->pts_rejected++;
    } else if (a->attempts >= ENG_SEND_MAX_ATTEMPTS) {
        a->state = ENG_LEDGER_EXPIRED;
        d->pts_expired++;
    } else {
        a->state = st == ENG_SEND_RETRY ? ENG_LEDGER_RETRY : ENG_LEDGER_UNKNOWN;
        a->next_at = now + eng__backoff(a->attempts);
    }
}

/* The answers of one call, for the outcome's batch. */
typedef struct answers {
    eng__chunk *c;
    const uint32_t *due;
    const int *status;
    uint32_t n;
    eng_time now;
    int64_t each;
    eng__xrec d;
} answers;

static int store_intent(eng_engine *e, eng__xcache *xc, void *user)
{
    eng__chunk *c = user;
    return eng__chunk_store(e, xc->msg, xc->occ, c);
}

static int settle_all(eng__xcache *xc, void *user)
{
    (void)xc;
    answers *an = user;
    memset(&an->d, 0, sizeof an->d);
    for (uint32_t k = 0; k < an->n; k++)
        settle(&an->c->pts[an->due[k]], an->status[k], an->now, an->each, &an->d);
    return ENG_OK;
}

static int store_outcome(eng_engine *e, eng__xcache *xc, void *user)
{
    answers *an = user;
    int rc = eng__chunk_store(e, xc->msg, xc->occ, an->c);
    return rc ? rc : eng__exec_bump(e, xc, &an->d);
}

static void cached(eng__xcache *xc, void *user)
{
    eng__chunk_state(xc, ((answers *)user)->c);
}

int eng__points_work(eng__runctx *r, eng__xcache *xc, eng__chunk *c, int shared, eng_time ttl)
{
    eng_engine *e = r->e;
    const eng__mem *mem = &e->mem;
    const eng_incentive *inc = xc->x.m.spec.incentive;
    uint32_t n = 0, cap = c->npts ? c->npts : 1;
    uint32_t *due = eng__calloc(mem, cap, sizeof *due);
    eng_points_award *aw = eng__calloc(mem, cap, sizeof *aw);
    int *status = eng__calloc(mem, cap, sizeof *status);
    char(*keys)[ENG_SEND_KEY_MAX + 1] = eng__calloc(mem, cap, sizeof *keys);
    char *org = eng__strdup(mem, xc->x.o.id); /* the cache may be dropped while the lock is let go */
    int rc = due && aw && status && keys && org ? ENG_OK : eng__nomem();
    eng__dsp *dsp = eng__slot_get(e, ENG__SLOT_DISPATCH);
    /* No callback (the hooks were not set again after a reopen): the awards wait, nothing is
     * lost and no attempt is counted; the execution cannot finish before they are made. */
    int waiting = !dsp->hooks.points;
    for (uint32_t i = 0; i < c->npts && !rc; i++) {
        eng__lpts *a = &c->pts[i];
        if (eng__ledger_final(a->state) || award_due(a) > r->now)
            continue;
        if (waiting) {
            a->state = ENG_LEDGER_UNKNOWN;
            a->next_at = r->now + eng__backoff(a->attempts ? a->attempts : 1);
        } else {
            a->attempts++;
            due[n++] = i;
        }
    }
    if (!rc && waiting)
        eng__log(e, ENG_LOG_WARN, "points: org %s: message %llu: awards due and no points callback set "
                                  "(eng_dispatch_hooks_set, points): they wait",
                 org, (unsigned long long)xc->msg);
    uint64_t msg = xc->msg;
    uint32_t occ = xc->occ;
    eng_time xdue = xc->rec.due;
    int64_t each = inc->points;
    /* Intent: the attempts are stored before the call. */
    eng__dsp_at at = {msg, occ, c->index, xdue, shared, 0, 0, 0};
    if (!rc)
        rc = eng__dsp_record(e, &at, ttl, store_intent, xc, c); /* on failure xc is gone */
    if (!rc) {
        eng__chunk_state(xc, c);
        for (uint32_t k = 0; k < n; k++) {
            const eng__lpts *a = &c->pts[due[k]];
            uint32_t id = c->cust[a->cust].id;
            eng__points_key(keys[k], sizeof keys[k], xc->keypfx, xc->keypfx_len, id);
            aw[k] = (eng_points_award){ENG_POINTS_AWARD_VERSION, keys[k], org, xc->x.c.id, msg, occ, id, each,
                                       inc->points_expiry_days, a->attempts,
                                       xdue + (eng_time)inc->points_expiry_days * ENG_DAY};
            status[k] = -1;
        }
        eng_points_fn fn = dsp->hooks.points;
        void *user = dsp->hooks_user;
        /* The host's call: other threads use the engine meanwhile. */
        pthread_mutex_unlock(&e->lock);
        if (n && (!fn || fn(aw, n, status, user) < 0))
            for (uint32_t k = 0; k < n; k++)
                status[k] = -1;
        eng_error_clear(); /* the host's own calls into the engine are not the run's errors */
        pthread_mutex_lock(&e->lock);
        /* Outcome: the ledger entries and the execution's counters in one batch. */
        answers an = {c, due, status, n, r->now, each, {0}};
        eng__dsp_outcome o = {settle_all, store_outcome, cached, 0, &an};
        rc = n ? eng__dsp_record_outcome(r, &at, &o) : eng__dsp_closed(e, ENG_OK);
    }
    eng__free(mem, due);
    eng__free(mem, aw);
    eng__free(mem, status);
    eng__free(mem, keys);
    eng__free(mem, org);
    eng__chunk_free(c);
    return rc;
}
