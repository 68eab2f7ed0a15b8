/* The apply pass of a receipt batch by ranges of sends (keypar.h,
 * eng__rcpt_apply).
 *
 * After the sort by send, what a receipt changes is its own send's state
 * (the status mask that deduplicates, the furthest status) and the tail row
 * it adds. The sorted receipts are cut into ranges at send boundaries, so
 * that no two ranges share a send; each range, on a thread of its own (the
 * first on the caller's), decides its receipts against its sends' masks and
 * writes its rows into columns of its own, which it sizes nothing for (the
 * caller reserves them ahead, so a thread does not allocate). The caller
 * puts each range's rows into the tails as soon as that range is done, in
 * range order, which is the order one thread would write them: the details
 * interned, each tail sealed when full, the opt-outs taken, all in row order,
 * so the store is the same whatever the thread count. */
#include "events/keypar.h"

#include <string.h>

enum { AHEAD = 32 };

typedef struct apart {
    eng__ev *ev;
    const eng_receipts *r;
    const eng__rkey *rk;
    const uint64_t *h, *ord;
    uint32_t *stray; /* the positions it leaves, from stray[lo] on */
    size_t nstray;
    size_t lo, hi; /* positions in ord */
    /* its rows; detail: the receipt's index + 1 when it has a detail, else 0 */
    eng__tcols rows;
    uint16_t *org;
    size_t dups;
} apart;

typedef struct merge {
    eng_event_report *rep;
    eng__optlist *opts;
} merge;

static void part_run(void *arg)
{
    apart *p = arg;
    eng__sends *sd = &p->ev->s;
    const eng__rkey *rk = p->rk;
    const uint64_t *ord = p->ord;
    const char *const *det = p->r->details;
    eng__tcols *w = &p->rows;
    size_t k = 0;
    for (size_t pos = p->lo; pos < p->hi; pos++) {
        if (pos + AHEAD < p->hi)
            __builtin_prefetch(&rk[(uint32_t)ord[pos + AHEAD]]);
        uint32_t i = (uint32_t)ord[pos];
        const eng__rkey *q = &rk[i];
        uint32_t c = q->cand;
        if (q->mapped ? sd->channel[c] != q->channel || sd->org[c] == ENG__NO_ORG
                      : sd->keyhash[c] != p->h[i] || sd->org[c] == ENG__NO_ORG) {
            p->stray[p->lo + p->nstray++] = (uint32_t)pos; /* not its send: the caller's */
            continue;
        }
        uint8_t st = q->status, m = sd->mask[c];
        if (m & (1u << st)) {
            p->dups++;
            continue;
        }
        sd->mask[c] = (uint8_t)(m | 1u << st);
        if (eng__touch_rank(st) > eng__touch_rank(sd->status[c]))
            sd->status[c] = st;
        if (q->mapped) { /* the key is its send's own (keymap.c): the row's fields are the key's */
            p->org[k] = q->org;
            w->customer[k] = q->customer;
            w->ctx[k] = q->ctx;
            w->channel[k] = q->channel;
        } else {
            p->org[k] = sd->org[c];
            w->customer[k] = sd->customer[c];
            w->ctx[k] = sd->ctx[c];
            w->channel[k] = sd->channel[c];
        }
        w->time[k] = q->t;
        w->status[k] = st;
        w->send[k] = c;
        w->detail[k] = det && det[i] && *det[i] ? i + 1 : 0;
        w->first[k] = (uint8_t)eng__sends_canon(sd, c);
        k++;
    }
    w->n = k;
}

/* Rows [a, a + n) of w into org o's tail, sealing it whenever it is full
 * before a row goes in (as one row at a time would), details interned. */
static int put_rows(eng__ev *ev, eng__evorg *o, const eng__tcols *w, size_t a, size_t n, const char *const *det)
{
    int rc;
    while (n) {
        eng__tcols *t = &o->tail;
        if (t->n >= eng__seg_seal_rows && (rc = eng__ttail_seal(ev, o)))
            return rc;
        size_t m = eng__seg_seal_rows - t->n < n ? eng__seg_seal_rows - t->n : n, at = t->n;
        if ((rc = eng__tcols_reserve(t, &ev->e->mem, m)))
            return rc;
#define CP(f) memcpy(t->f + at, w->f + a, m * sizeof *t->f)
        CP(time);
        CP(customer);
        CP(ctx);
        CP(send);
        CP(detail);
        CP(channel);
        CP(status);
        CP(first);
#undef CP
        for (size_t x = at; x < at + m; x++) {
            uint32_t d = t->detail[x], code;
            if (d && (rc = eng__dict_intern(&o->det, det[d - 1], strlen(det[d - 1]), &code)))
                return rc;
            if (d)
                t->detail[x] = code + 1;
        }
        t->n += m;
        a += m;
        n -= m;
    }
    return ENG_OK;
}

static int part_merge(void *arg, void *user)
{
    apart *p = arg;
    merge *mg = user;
    eng__ev *ev = p->ev;
    const eng__tcols *w = &p->rows;
    int rc = ENG_OK;
    for (size_t a = 0, b; a < w->n && !rc; a = b) {
        uint16_t org = p->org[a];
        for (b = a + 1; b < w->n && p->org[b] == org;)
            b++;
        eng__evorg *o = eng__ev_org_by_code(ev, org);
        rc = o ? put_rows(ev, o, w, a, b - a, p->r->details)
               : eng__err(ENG_ECORRUPT, "send", "a send names org code %u, which is not known", (unsigned)org);
    }
    for (size_t k = 0; k < w->n && !rc; k++)
        if (w->status[k] == ENG_TOUCH_UNSUBSCRIBED || w->status[k] == ENG_TOUCH_COMPLAINED)
            rc = eng__opt_push(&ev->e->mem, mg->opts, w->send[k], w->time[k], w->status[k]);
    if (!rc) {
        mg->rep->accepted += w->n;
        mg->rep->duplicates += p->dups;
    }
    return rc;
}

/* Send of the receipt at position k. */
static inline uint32_t send_at(const apart *p, size_t k)
{
    return p->rk[(uint32_t)p->ord[k]].cand;
}

int eng__rcpt_apply(eng__ev *ev, const eng_receipts *r, const eng__rkey *rk, const uint64_t *h, const uint64_t *ord,
                    size_t n, eng_event_report *rep, eng__optlist *opts, uint32_t *stray, size_t *nstray)
{
    const eng__mem *mem = &ev->e->mem;
    apart ps[ENG__PAR_MAX];
    size_t np = eng__par_parts(ev, n), lo = 0;
    int rc = ENG_OK;
    memset(ps, 0, sizeof ps);
    for (size_t k = 0; k < np; k++) {
        apart *p = &ps[k];
        p->ev = ev;
        p->r = r;
        p->rk = rk;
        p->h = h;
        p->ord = ord;
        p->stray = stray;
        p->lo = lo;
        size_t hi = k + 1 == np ? n : n / np * (k + 1);
        hi = hi < lo ? lo : hi;
        while (hi > lo && hi < n && send_at(p, hi) == send_at(p, hi - 1)) /* a send's receipts in one range */
            hi++;
        p->hi = lo = hi;
        if (!rc && p->hi > p->lo &&
            ((rc = eng__tcols_reserve(&p->rows, mem, p->hi - p->lo)) ||
             !(p->org = eng__malloc(mem, (p->hi - p->lo) * sizeof *p->org))))
            rc = rc ? rc : eng__nomem();
    }
    merge mg = {rep, opts};
    if (!rc)
        rc = eng__par_run(ps, sizeof *ps, np, part_run, part_merge, &mg);
    *nstray = 0;
    for (size_t k = 0; k < np; k++) {
        memmove(stray + *nstray, stray + ps[k].lo, ps[k].nstray * sizeof *stray);
        *nstray += ps[k].nstray;
        eng__tcols_free(&ps[k].rows, mem);
        eng__free(mem, ps[k].org);
    }
    return rc;
}
