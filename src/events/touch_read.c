/* Reading touches: segment scans with zone skipping, one customer's touches,
 * per-send aggregates (status counts, X-Engage history). */
#include "events/ev_state.h"
#include "base/handle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eng__touch_filter_init(eng__touch_filter *f)
{
    memset(f, 0, sizeof *f);
    f->customer = ENG__NO_CUSTOMER;
}

/* Which contexts of an org a filter selects: NULL sel means all. */
typedef struct ctxsel {
    uint8_t *sel;
    uint32_t min, max;
    int none;
} ctxsel;

static int ctxsel_make(const eng__mem *mem, const eng__evorg *o, uint64_t campaign, uint64_t message, ctxsel *cs)
{
    memset(cs, 0, sizeof *cs);
    if (!campaign && !message)
        return ENG_OK;
    cs->sel = eng__calloc(mem, o->nctx ? o->nctx : 1, 1);
    if (!cs->sel)
        return eng__nomem();
    cs->min = UINT32_MAX;
    for (uint32_t c = 0; c < o->nctx; c++)
        if ((!campaign || o->ctx[c].campaign == campaign) && (!message || o->ctx[c].message == message)) {
            cs->sel[c] = 1;
            cs->min = c < cs->min ? c : cs->min;
            cs->max = c;
        }
    cs->none = cs->min == UINT32_MAX;
    return ENG_OK;
}

static int zone_skips(const eng__touch_filter *f, const ctxsel *cs, const eng__seg *z)
{
    return z->tmax < f->from || (f->to && z->tmin >= f->to) || (f->statuses && !(z->statuses & f->statuses)) ||
           (f->channels && !(z->channels & f->channels)) ||
           (f->customer != ENG__NO_CUSTOMER && (f->customer < z->cmin || f->customer > z->cmax)) ||
           (cs->sel && (cs->max < z->xmin || cs->min > z->xmax));
}

/* Keep the rows of c that pass; in place. */
static void filter_rows(eng__tcols *c, const eng__touch_filter *f, const ctxsel *cs)
{
    size_t j = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->time[i] < f->from || (f->to && c->time[i] >= f->to) ||
            (f->statuses && !(f->statuses >> c->status[i] & 1)) ||
            (f->channels && !(f->channels >> c->channel[i] & 1)) ||
            (f->customer != ENG__NO_CUSTOMER && c->customer[i] != f->customer) ||
            (cs->sel && (c->ctx[i] >= cs->max + 1 || !cs->sel[c->ctx[i]])))
            continue;
        if (j != i) {
            c->time[j] = c->time[i];
            c->customer[j] = c->customer[i];
            c->ctx[j] = c->ctx[i];
            c->channel[j] = c->channel[i];
            c->status[j] = c->status[i];
            c->send[j] = c->send[i];
            c->detail[j] = c->detail[i];
            c->first[j] = c->first[i];
        }
        j++;
    }
    if (j != c->n) /* the order holds for what is left; the table no longer does */
        c->nsum = 0;
    c->n = j;
}

static int needs_filter(const eng__touch_filter *f, const ctxsel *cs, const eng__seg *z)
{
    return z->tmin < f->from || (f->to && z->tmax >= f->to) || (f->statuses && (z->statuses & ~f->statuses)) ||
           (f->channels && (z->channels & ~f->channels)) || f->customer != ENG__NO_CUSTOMER || cs->sel;
}

static int emit(const eng__tcols *c, uint16_t org, eng__touch_seg_fn fn, void *user)
{
    if (!c->n)
        return 0;
    eng__touch_cols v = {c->n, org, c->time, c->customer, c->ctx, c->channel, c->status, c->send, c->detail, c->first};
    return fn(&v, user);
}

static eng__punit unit_of(const eng__touch_filter *f, const ctxsel *cs, const eng__seg *z, size_t s, const uint8_t *p,
                     size_t len, int tables)
{
    eng__punit u = {p, len, (uint32_t)s, z->id, z->n, 0, 0};
    u.table = tables && len && (p[0] & ~ENG__TSEG_SKEYS) == 3 && z->tmin >= f->from && (!f->to || z->tmax < f->to);
    u.filter = needs_filter(f, cs, z);
    return u;
}

/* A unit's rows to fn, or its table to tab_fn, decoded into @p d. */
static int visit(eng__ev *ev, const eng__evorg *o, const eng__punit *u, const eng__touch_filter *f, const ctxsel *cs,
                 eng__tcols *d, eng__touch_seg_fn fn, eng__touch_tab_fn tab_fn, void *user)
{
    const eng__mem *mem = &ev->e->mem;
    int rc;
    if (!u->p) { /* the tail, in storage order */
        const eng__tcols *t = &o->tail;
        d->n = 0;
        if ((rc = eng__tcols_reserve(d, mem, t->n)))
            return rc;
        memcpy(d->time, t->time, t->n * sizeof *d->time);
        memcpy(d->customer, t->customer, t->n * sizeof *d->customer);
        memcpy(d->ctx, t->ctx, t->n * sizeof *d->ctx);
        memcpy(d->channel, t->channel, t->n);
        memcpy(d->status, t->status, t->n);
        memcpy(d->send, t->send, t->n * sizeof *d->send);
        memcpy(d->detail, t->detail, t->n * sizeof *d->detail);
        memcpy(d->first, t->first, t->n);
        d->n = t->n;
        d->ordered = 0, d->nsum = 0;
        ENG__WORK(d->n);
        filter_rows(d, f, cs);
        return emit(d, o->code, fn, user);
    }
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "t/s", u->id, 0);
    if (u->table)
        return eng__touch_tab_visit(ev, d, o->code, key, u->p, u->len, cs->sel, cs->max, tab_fn, user);
    if ((rc = eng__tseg_decode(u->p, u->len, key, d, mem)))
        return rc;
    ENG__WORK(d->n);
    if (u->filter)
        filter_rows(d, f, cs);
    return emit(d, o->code, fn, user);
}

/* tab_fn != NULL: ordered segments inside f's time range go to it as their tables (eng__touch_scan_tables). */
static int scan_org(eng__ev *ev, eng__evorg *o, const eng__touch_filter *f, eng__touch_seg_fn fn,
                    eng__touch_tab_fn tab_fn, void *user)
{
    const eng__mem *mem = &ev->e->mem;
    ctxsel cs;
    int rc = ctxsel_make(mem, o, f->campaign, f->message, &cs);
    if (rc || cs.none)
        goto out;
    for (size_t s = 0; s < o->tseg.n && !rc; s++) {
        const eng__seg *z = &o->tseg.v[s];
        if (zone_skips(f, &cs, z))
            continue;
        const uint8_t *p;
        size_t len;
        if ((f->pg && (rc = eng__prog_batch(f->pg, f->pg->done))) || (rc = eng__tseg_payload(ev, o, s, &p, &len)))
            break;
        const eng__punit u = unit_of(f, &cs, z, s, p, len, tab_fn != NULL);
        rc = visit(ev, o, &u, f, &cs, &ev->dec, fn, tab_fn, user);
    }
    if (!rc && o->tail.n) {
        const eng__punit u = {NULL, 0, 0, 0, (uint32_t)o->tail.n, 0, 1};
        rc = visit(ev, o, &u, f, &cs, &ev->dec, fn, tab_fn, user);
    }
out:
    eng__free(mem, cs.sel);
    return rc;
}

static int scan(eng_engine *e, const eng__touch_filter *f, eng__touch_seg_fn fn, eng__touch_tab_fn tab_fn, void *user)
{
    eng__ev *ev;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (f->org) {
        eng__evorg *o;
        return eng__ev_org(ev, f->org, 0, &o) ? ENG_OK : scan_org(ev, o, f, fn, tab_fn, user);
    }
    for (uint32_t i = 0; i < ev->norgs && !rc; i++)
        if (ev->orgs[i])
            rc = scan_org(ev, ev->orgs[i], f, fn, tab_fn, user);
    return rc;
}

int eng__touch_scan(eng_engine *e, const eng__touch_filter *f, eng__touch_seg_fn fn, void *user)
{
    return scan(e, f, fn, NULL, user);
}

int eng__touch_scan_tables(eng_engine *e, const eng__touch_filter *f, eng__touch_tab_fn tab_fn,
                           eng__touch_seg_fn fn, void *user)
{
    if (f->statuses || f->channels || f->customer != ENG__NO_CUSTOMER)
        return eng__err(ENG_EINVAL, "filter", "a table scan filters by org, time and campaign only");
    return scan(e, f, fn, tab_fn, user);
}

/* ---- a table scan shared between threads ---- */

struct eng__touch_plan {
    eng__plan_base b; /* first: eng__plan_units */
    eng__ev *ev;
    const eng__evorg *o;
    eng__touch_filter f;
    ctxsel cs;
    eng__tcols *rd; /* a reader's scratch each */
    size_t nrd;
};

void eng__touch_plan_free(eng_engine *e, eng__touch_plan *p)
{
    if (!p)
        return;
    for (size_t r = 0; r < p->nrd; r++)
        eng__tcols_free(&p->rd[r], &e->mem);
    eng__free(&e->mem, p->rd);
    eng__free(&e->mem, p->b.u);
    eng__free(&e->mem, p->cs.sel);
    eng__free(&e->mem, p);
}

int eng__plan_held(const void *plan, const eng__segs *s)
{
    const eng__plan_base *b = plan;
    for (size_t i = 0; i < b->n; i++)
        if (b->u[i].p && (!s->v[b->u[i].seg].buf || s->v[b->u[i].seg].buf + ENG__REC_HEADER != b->u[i].p))
            return 0;
    return 1;
}

int eng__touch_plan_make(eng_engine *e, const eng__touch_filter *f, size_t readers, eng__touch_plan **out)
{
    *out = NULL;
    if (!f->org || f->statuses || f->channels || f->customer != ENG__NO_CUSTOMER || !readers)
        return eng__err(ENG_EINVAL, "filter", "a plan scans one org's tables, filtered by time and campaign only");
    eng__ev *ev;
    eng__evorg *o;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    const eng__mem *mem = &e->mem;
    eng__touch_plan *p = eng__calloc(mem, 1, sizeof *p);
    if (!p)
        return eng__nomem();
    p->ev = ev;
    p->f = *f;
    p->f.pg = NULL;
    if (eng__ev_org(ev, f->org, 0, &o)) { /* no such org: nothing to visit */
        *out = p;
        return ENG_OK;
    }
    p->o = o;
    rc = ctxsel_make(mem, o, f->campaign, f->message, &p->cs);
    p->b.u = eng__malloc(mem, (o->tseg.n + 1) * sizeof *p->b.u);
    p->rd = eng__calloc(mem, readers, sizeof *p->rd);
    if (!rc && (!p->b.u || !p->rd))
        rc = eng__nomem();
    if (p->rd)
        p->nrd = readers;
    for (size_t s = 0; s < o->tseg.n && !rc && !p->cs.none; s++) {
        const eng__seg *z = &o->tseg.v[s];
        if (zone_skips(f, &p->cs, z))
            continue;
        const uint8_t *b;
        size_t len;
        if (!(f->pg && (rc = eng__prog_batch(f->pg, f->pg->done))) && !(rc = eng__tseg_payload(ev, o, s, &b, &len)))
            p->b.u[p->b.n++] = unit_of(f, &p->cs, z, s, b, len, 1);
    }
    if (!rc && o->tail.n && !p->cs.none)
        p->b.u[p->b.n++] = (eng__punit){NULL, 0, 0, 0, (uint32_t)o->tail.n, 0, 1};
    if (rc || !eng__plan_held(p, &o->tseg)) {
        eng__touch_plan_free(e, p);
        return rc;
    }
    *out = p;
    return ENG_OK;
}

size_t eng__plan_units(const void *plan)
{
    return ((const eng__plan_base *)plan)->n;
}

uint64_t eng__plan_rows(const void *plan, size_t u)
{
    const eng__plan_base *b = plan;
    return u < b->n ? b->u[u].rows : 0;
}

int eng__touch_plan_run(eng__touch_plan *p, size_t reader, size_t u0, size_t u1, eng__touch_tab_fn tab_fn,
                        eng__touch_seg_fn fn, void *user)
{
    /* An empty range visits nothing: an org without events has a plan of no units and no readers. */
    if (u0 > u1 || u1 > p->b.n || !tab_fn || !fn || (u0 < u1 && reader >= p->nrd))
        return eng__err(ENG_EINVAL, "plan", "eng__touch_plan_run: bad reader, range or callback");
    int rc = ENG_OK;
    for (size_t i = u0; i < u1 && !rc; i++)
        rc = visit(p->ev, p->o, &p->b.u[i], &p->f, &p->cs, &p->rd[reader], fn, tab_fn, user);
    return rc;
}

/* ---- one customer ---- */

typedef struct collect {
    const eng__mem *mem;
    eng__tcols *out;
    uint16_t *org;
    size_t orgcap;
} collect;

static int collect_cb(const eng__touch_cols *c, void *user)
{
    collect *cl = user;
    eng__tcols *o = cl->out;
    int rc = eng__tcols_reserve(o, cl->mem, c->n);
    if (rc)
        return rc;
    memcpy(o->time + o->n, c->time, c->n * sizeof *o->time);
    memcpy(o->customer + o->n, c->customer, c->n * sizeof *o->customer);
    memcpy(o->ctx + o->n, c->ctx, c->n * sizeof *o->ctx);
    memcpy(o->channel + o->n, c->channel, c->n);
    memcpy(o->status + o->n, c->status, c->n);
    memcpy(o->send + o->n, c->send, c->n * sizeof *o->send);
    memcpy(o->detail + o->n, c->detail, c->n * sizeof *o->detail);
    memcpy(o->first + o->n, c->first, c->n);
    o->n += c->n;
    return ENG_OK;
}

static const int64_t *sort_keys;
static int by_time(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sort_keys[x] != sort_keys[y])
        return sort_keys[x] < sort_keys[y] ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: storage order */
}

#define PERMUTE(T, arr)                                                        \
    do {                                                                       \
        T *tmp_ = eng__malloc(mem, n * sizeof *tmp_);                          \
        if (!tmp_) {                                                           \
            rc = eng__nomem();                                                 \
            break;                                                             \
        }                                                                      \
        for (size_t i = 0; i < n; i++)                                         \
            tmp_[i] = (arr)[idx[i]];                                           \
        memcpy((arr), tmp_, n * sizeof *tmp_);                                 \
        eng__free(mem, tmp_);                                                  \
    } while (0)

int eng__touch_customer(eng_engine *e, const char *org, uint32_t customer, eng__prog *pg, eng__touch_buf *out)
{
    const eng__mem *mem = &e->mem;
    memset(out, 0, sizeof *out);
    eng__tcols *t = eng__calloc(mem, 1, sizeof *t);
    if (!t)
        return eng__nomem();
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = org;
    f.customer = customer;
    f.pg = pg;
    collect cl = {mem, t, NULL, 0};
    uint16_t code = 0;
    int rc = org ? eng__ev_org_code(e, org, &code) : ENG_OK;
    if (eng__absent(rc))
        rc = ENG_OK;
    else if (!rc)
        rc = eng__touch_scan(e, &f, collect_cb, &cl);
    size_t n = t->n;
    uint32_t *idx = NULL;
    if (!rc && n > 1) {
        if (!(idx = eng__malloc(mem, n * sizeof *idx)))
            rc = eng__nomem();
        for (size_t i = 0; i < n && !rc; i++)
            idx[i] = (uint32_t)i;
        if (!rc) {
            sort_keys = t->time; /* under the engine lock: one sort at a time */
            qsort(idx, n, sizeof *idx, by_time);
            do {
                PERMUTE(int64_t, t->time);
                PERMUTE(uint32_t, t->customer);
                PERMUTE(uint32_t, t->ctx);
                PERMUTE(uint8_t, t->channel);
                PERMUTE(uint8_t, t->status);
                PERMUTE(uint32_t, t->send);
                PERMUTE(uint32_t, t->detail);
                PERMUTE(uint8_t, t->first);
            } while (0);
        }
    }
    eng__free(mem, idx);
    if (rc) {
        eng__tcols_free(t, mem);
        eng__free(mem, t);
        return rc;
    }
    eng__touch_cols c = {n, code, t->time, t->customer, t->ctx, t->channel, t->status, t->send, t->detail, t->first};
    out->c = c;
    out->mem = t;
    return ENG_OK;
}

void eng__touch_buf_free(eng_engine *e, eng__touch_buf *b)
{
    if (b->mem) {
        eng__tcols_free(b->mem, &e->mem);
        eng__free(&e->mem, b->mem);
    }
    memset(b, 0, sizeof *b);
}

/* ---- per-send aggregates ---- */

int eng__touch_history(eng_engine *e, const char *org, eng_time from, eng_time to, uint32_t lo, uint32_t hi,
                       uint32_t *sends, uint32_t *responses)
{
    eng__ev *ev;
    eng__evorg *o;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (!org || eng__ev_org(ev, org, 0, &o))
        return ENG_OK;
    const eng__sends *s = &ev->s;
    const uint8_t resp = (1u << ENG_TOUCH_OPENED) | (1u << ENG_TOUCH_CLICKED);
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t c = s->customer[i];
        if (s->hot[i].org != o->code || c < lo || c >= hi || s->sent_at[i] < from || (to && s->sent_at[i] >= to))
            continue;
        size_t k = (size_t)(c - lo) * ENG_CH_COUNT + s->hot[i].channel;
        sends[k]++;
        responses[k] += (s->hot[i].mask & resp) != 0;
    }
    return ENG_OK;
}

ENG_API int eng_touch_status_counts(eng_engine *e, const char *org, uint64_t campaign, uint64_t message,
                                    uint64_t *counts, size_t cap)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    eng__evorg *o;
    ctxsel cs = {NULL, 0, 0, 0};
    if (!org || !counts)
        rc = eng__err(ENG_EINVAL, org ? "counts" : "org", "argument is NULL");
    else if (cap < (size_t)ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)
        rc = eng__err(ENG_ERANGE, "cap", "counts needs %d entries", ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT);
    else if (!campaign)
        rc = eng__err(ENG_EINVAL, "campaign", "campaign is 0");
    else if (!(rc = eng__ev_get(e, &ev))) {
        memset(counts, 0, (size_t)ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT * sizeof *counts);
        if (!eng__ev_org(ev, org, 0, &o) && !(rc = ctxsel_make(&e->mem, o, campaign, message, &cs)) && !cs.none) {
            const eng__sends *s = &ev->s;
            for (uint32_t i = 0; i < s->n; i++)
                if (s->hot[i].org == o->code && s->ctx[i] <= cs.max && cs.sel[s->ctx[i]])
                    counts[(size_t)s->hot[i].channel * ENG_TOUCH_STATUS_COUNT + eng__mask_furthest(s->hot[i].mask)]++;
        }
        eng__free(&e->mem, cs.sel);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_touches_of_customer(eng_engine *e, const char *org, uint32_t customer, eng_touch_fn fn, void *user)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__touch_buf b;
    if (!org || !fn)
        rc = eng__err(ENG_EINVAL, org ? "fn" : "org", "argument is NULL");
    else if (!(rc = eng__touch_customer(e, org, customer, NULL, &b))) {
        for (size_t i = 0; i < b.c.n && !rc; i++) {
            eng_touch_row row = {ENG_TOUCH_ROW_VERSION, b.c.time[i], b.c.customer[i], b.c.channel[i],
                                 b.c.status[i], 0, 0, 0, 0, ""};
            char det[ENG__EV_DETAIL_MAX + 1];
            size_t dl;
            const char *ds = eng__ev_detail_str(e, b.c.org, b.c.detail[i], &dl);
            memcpy(det, ds, dl);
            det[dl] = 0;
            row.detail = det;
            if ((rc = eng__ctx_get(e, b.c.org, b.c.ctx[i], &row.campaign, &row.message, &row.message_version,
                                   &row.occurrence)))
                break;
            eng__callback_begin();
            rc = fn(&row, user);
            eng__callback_end();
        }
        eng__touch_buf_free(e, &b);
    }
    eng__leave(e);
    return rc;
}

/* One of the pending list's engine-wide counts (pending.c): receipts waiting
 * for their send, or sends expired in doubt (its entries of status `sent`).
 * *out is zeroed first, as every out-parameter on failure. */
static int pending_count(eng_engine *e, uint64_t *out, int doubt)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (!(rc = eng__ev_get(e, &ev)))
        *out = doubt ? ev->ndoubt : ev->npend;
    eng__leave(e);
    return rc;
}

ENG_API int eng_touch_pending(eng_engine *e, uint64_t *out)
{
    return pending_count(e, out, 0);
}

ENG_API int eng_touch_in_doubt(eng_engine *e, uint64_t *out)
{
    return pending_count(e, out, 1);
}
