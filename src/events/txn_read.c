/* Reading transactions: segment scans with time zones, customers joined as
 * they become known, and the public row callback. */
#include "events/ev_state.h"
#include "base/handle.h"

#include <stdio.h>
#include <string.h>

/* Rows of unknown customers whose customer has since been imported get their id. */
static void join_customers(eng__rcols *c, const eng__table *t)
{
    for (size_t i = 0; i < c->n; i++) {
        uint32_t id;
        if (c->customer[i] == ENG__NO_CUSTOMER &&
            eng__customer_find(t, c->str + c->ext_off[i], c->id_off[i + 1] - c->ext_off[i], &id) == ENG_OK)
            c->customer[i] = id;
    }
}

static int emit(eng__rcols *c, uint16_t org, eng_time from, eng_time to, uint32_t customer, const eng__mem *mem,
                eng__txn_seg_fn fn, void *user)
{
    int all = 1;
    for (size_t i = 0; i < c->n && all; i++)
        all = c->time[i] >= from && (!to || c->time[i] < to) &&
              (customer == ENG__NO_CUSTOMER || c->customer[i] == customer);
    if (!all) {
        uint8_t *keep = eng__malloc(mem, c->n);
        if (!keep)
            return eng__nomem();
        for (size_t i = 0; i < c->n; i++)
            keep[i] = c->time[i] >= from && (!to || c->time[i] < to) &&
                      (customer == ENG__NO_CUSTOMER || c->customer[i] == customer);
        eng__rcols_keep(c, keep);
        eng__free(mem, keep);
    }
    if (!c->n)
        return 0;
    eng__txn_cols v = {c->n, org, c->customer, c->time, c->amount, c->store, c->item_off, c->items,
                       c->nfields, (const int64_t *const *)c->field, (const uint64_t *const *)c->present,
                       NULL, NULL, NULL, NULL};
    /* strings: pointer arrays built here (the arena moves as rows are kept) */
    const char **id = eng__malloc(mem, c->n * sizeof *id), **ext = eng__malloc(mem, c->n * sizeof *ext);
    uint32_t *idl = eng__malloc(mem, c->n * sizeof *idl), *extl = eng__malloc(mem, c->n * sizeof *extl);
    int rc = ENG_OK;
    if (!id || !ext || !idl || !extl)
        rc = eng__nomem();
    for (size_t i = 0; i < c->n && !rc; i++) {
        id[i] = c->str + c->id_off[i];
        idl[i] = c->ext_off[i] - c->id_off[i];
        ext[i] = c->str + c->ext_off[i];
        extl[i] = c->id_off[i + 1] - c->ext_off[i];
    }
    if (!rc) {
        v.id = id;
        v.id_len = idl;
        v.ext = ext;
        v.ext_len = extl;
        rc = fn(&v, user);
    }
    eng__free(mem, id);
    eng__free(mem, ext);
    eng__free(mem, idl);
    eng__free(mem, extl);
    return rc;
}

/* A unit's rows to fn, decoded into @p d. cols: the columns of eng__txn_scan_cols only,
 * from segments without unknown customers. */
static int visit(const eng__evorg *o, const eng__punit *u, const eng__table *t, eng_time from, eng_time to,
                 uint32_t customer, eng__rcols *d, const eng__mem *mem, eng__txn_seg_fn fn, void *user, int cols)
{
    int rc;
    if (!u->p) {
        d->n = d->nitems = d->slen = 0;
        if ((rc = eng__rcols_append(d, mem, &o->rtail)))
            return rc;
    } else {
        char key[48];
        size_t unknown = 1;
        eng__ev_key(key, sizeof key, o->code, "r/s", u->id, 0);
        if (cols && (rc = eng__rseg_decode_cols(u->p, u->len, key, d, mem, &unknown)))
            return rc;
        if (!unknown) {
            ENG__WORK(d->n);
            eng__txn_cols v = {d->n, o->code, d->customer, d->time, d->amount, d->store, NULL, NULL, 0,
                               NULL, NULL, NULL, NULL, NULL, NULL};
            return fn(&v, user);
        }
        if ((rc = eng__rseg_decode(u->p, u->len, key, d, mem)))
            return rc;
    }
    ENG__WORK(d->n);
    join_customers(d, t);
    return emit(d, o->code, from, to, customer, mem, fn, user);
}

static int scan_org(eng__ev *ev, eng__evorg *o, const eng__table *t, eng_time from, eng_time to, uint32_t customer,
                    eng__prog *pg, eng__txn_seg_fn fn, void *user, int cols)
{
    const eng__mem *mem = &ev->e->mem;
    int rc = ENG_OK;
    for (size_t s = 0; s < o->rseg.n && !rc; s++) {
        const eng__seg *z = &o->rseg.v[s];
        if (z->tmax < from || (to && z->tmin >= to))
            continue;
        eng__punit u = {NULL, 0, (uint32_t)s, z->id, z->n, 0, 0};
        if (!(pg && (rc = eng__prog_batch(pg, pg->done))) && !(rc = eng__rseg_payload(ev, o, s, &u.p, &u.len)))
            rc = visit(o, &u, t, from, to, customer, &ev->rdec, mem, fn, user, cols);
    }
    if (!rc && o->rtail.n) {
        const eng__punit u = {NULL, 0, 0, 0, (uint32_t)o->rtail.n, 0, 0};
        rc = visit(o, &u, t, from, to, customer, &ev->rdec, mem, fn, user, cols);
    }
    return rc;
}

int eng__txn_scan(eng_engine *e, const char *org, eng_time from, eng_time to, uint32_t customer, eng__prog *pg,
                  eng__txn_seg_fn fn, void *user)
{
    eng__ev *ev;
    eng__aud *a;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (org) {
        eng__evorg *o;
        if ((rc = eng__aud_get(e, org, &a)))
            return rc;
        return eng__ev_org(ev, org, 0, &o) ? ENG_OK : scan_org(ev, o, &a->t, from, to, customer, pg, fn, user, 0);
    }
    for (uint32_t i = 0; i < ev->norgs && !rc; i++) /* each org against its own customers */
        if (ev->orgs[i] && !(rc = eng__aud_get(e, ev->orgs[i]->name, &a)))
            rc = scan_org(ev, ev->orgs[i], &a->t, from, to, customer, pg, fn, user, 0);
    return rc;
}

/* The events state and the customers of @p org. */
static int org_state(eng_engine *e, const char *org, eng__ev **ev, eng__aud **a)
{
    int rc = eng__ev_get(e, ev);
    return rc ? rc : eng__aud_get(e, org, a);
}

int eng__txn_scan_cols(eng_engine *e, const char *org, eng__txn_seg_fn fn, void *user)
{
    eng__ev *ev;
    eng__aud *a;
    eng__evorg *o;
    int rc = org_state(e, org, &ev, &a);
    return rc ? rc : eng__ev_org(ev, org, 0, &o) ? ENG_OK : scan_org(ev, o, &a->t, 0, 0, ENG__NO_CUSTOMER, NULL, fn, user, 1);
}

/* ---- eng__txn_scan_cols shared between threads ---- */

struct eng__txn_plan {
    eng__plan_base b; /* first: eng__plan_units */
    const eng__evorg *o;
    const eng__table *t;
    const eng__mem *mem;
    eng__rcols *rd; /* a reader's scratch each */
    size_t nrd;
};

void eng__txn_plan_free(eng_engine *e, eng__txn_plan *p)
{
    if (!p)
        return;
    for (size_t r = 0; r < p->nrd; r++)
        eng__rcols_free(&p->rd[r], &e->mem);
    eng__free(&e->mem, p->rd);
    eng__free(&e->mem, p->b.u);
    eng__free(&e->mem, p);
}

int eng__txn_plan_make(eng_engine *e, const char *org, size_t readers, eng__txn_plan **out)
{
    *out = NULL;
    eng__ev *ev;
    eng__aud *a;
    eng__evorg *o;
    int rc = org_state(e, org, &ev, &a);
    if (rc)
        return rc;
    if (!readers)
        return eng__err(ENG_EINVAL, "readers", "a plan needs a reader");
    eng__txn_plan *p = eng__calloc(&e->mem, 1, sizeof *p);
    if (!p)
        return eng__nomem();
    p->mem = &e->mem;
    p->t = &a->t;
    if (eng__ev_org(ev, org, 0, &o)) { /* no events: nothing to visit */
        *out = p;
        return ENG_OK;
    }
    p->o = o;
    p->b.u = eng__malloc(&e->mem, (o->rseg.n + 1) * sizeof *p->b.u);
    p->rd = eng__calloc(&e->mem, readers, sizeof *p->rd);
    if (!p->b.u || !p->rd)
        rc = eng__nomem();
    else
        p->nrd = readers;
    for (size_t s = 0; s < o->rseg.n && !rc; s++) {
        eng__punit *u = &p->b.u[p->b.n++];
        *u = (eng__punit){NULL, 0, (uint32_t)s, o->rseg.v[s].id, o->rseg.v[s].n, 0, 0};
        rc = eng__rseg_payload(ev, o, s, &u->p, &u->len);
    }
    if (!rc && o->rtail.n)
        p->b.u[p->b.n++] = (eng__punit){NULL, 0, 0, 0, (uint32_t)o->rtail.n, 0, 0};
    if (rc || !eng__plan_held(p, &o->rseg)) /* the cache dropped a listed payload: scan on one thread */
        eng__txn_plan_free(e, p);
    else
        *out = p;
    return rc;
}

int eng__txn_plan_run(eng__txn_plan *p, size_t reader, size_t u0, size_t u1, eng__txn_seg_fn fn, void *user)
{
    /* An empty range visits nothing: an org without events has a plan of no units and no readers. */
    if (u0 > u1 || u1 > p->b.n || !fn || (u0 < u1 && reader >= p->nrd))
        return eng__err(ENG_EINVAL, "plan", "eng__txn_plan_run: bad reader, range or callback");
    int rc = ENG_OK;
    for (size_t i = u0; i < u1 && !rc; i++)
        rc = visit(p->o, &p->b.u[i], p->t, 0, 0, ENG__NO_CUSTOMER, &p->rd[reader], p->mem, fn, user, 1);
    return rc;
}

int eng__txn_rows(eng_engine *e, const char *org, size_t *rows, uint32_t *customers)
{
    eng__ev *ev;
    eng__evorg *o;
    eng__aud *a;
    *rows = 0;
    int rc = eng__ev_get(e, &ev);
    if (!rc && customers && !(rc = eng__aud_get(e, org, &a)))
        *customers = a->t.n;
    if (rc || eng__ev_org(ev, org, 0, &o))
        return rc;
    for (size_t s = 0; s < o->rseg.n; s++)
        *rows += o->rseg.v[s].n;
    *rows += o->rtail.n;
    return ENG_OK;
}

static const char *dict_str(eng_engine *e, uint16_t org, int which, uint32_t code, size_t *len)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    eng__evorg *o = ev ? eng__ev_org_by_code(ev, org) : NULL;
    *len = 0;
    const eng__dict *d = !o ? NULL : which == 2 ? &o->fstr : which ? &o->sku : &o->store;
    if (!d || code >= d->n)
        return "";
    return eng__dict_str(d, code, len);
}

const char *eng__txn_store_str(eng_engine *e, uint16_t org, uint32_t store, size_t *len)
{
    *len = 0;
    return store ? dict_str(e, org, 0, store - 1, len) : "";
}

const char *eng__txn_sku_str(eng_engine *e, uint16_t org, uint32_t sku, size_t *len)
{
    return dict_str(e, org, 1, sku, len);
}

const char *eng__txn_fstr(eng_engine *e, uint16_t org, uint32_t code, size_t *len)
{
    return dict_str(e, org, 2, code, len);
}

const char *eng__txn_field_name(eng_engine *e, uint16_t org, uint32_t f, int *type)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    eng__evorg *o = ev ? eng__ev_org_by_code(ev, org) : NULL;
    if (!o || f >= o->nfields)
        return NULL;
    *type = o->ftype[f];
    return o->fname[f];
}

/* ---- public rows ---- */

typedef struct pub {
    eng_engine *e;
    const char *ext; /* unknown customer's external id to match, or NULL */
    eng_txn_fn fn;
    void *user;
    const char *org; /* whose customers the rows name */
} pub;

static char *dup_n(const eng__mem *mem, const char *s, size_t n)
{
    return eng__strndup(mem, s, n);
}

static int pub_cb(const eng__txn_cols *c, void *user)
{
    pub *p = user;
    const eng__mem *mem = &p->e->mem;
    int rc = ENG_OK;
    for (size_t i = 0; i < c->n && !rc; i++) {
        if (p->ext && (c->customer[i] != ENG__NO_CUSTOMER || c->ext_len[i] != strlen(p->ext) ||
                       memcmp(c->ext[i], p->ext, c->ext_len[i])))
            continue;
        size_t ni = c->item_off[i + 1] - c->item_off[i], sl;
        const char **items = eng__calloc(mem, ni ? ni : 1, sizeof *items);
        char *id = dup_n(mem, c->id[i], c->id_len[i]);
        const char *ss = eng__txn_store_str(p->e, c->org, c->store[i], &sl);
        char *store = dup_n(mem, ss, sl);
        char *ext = NULL;
        if (c->customer[i] == ENG__NO_CUSTOMER)
            ext = dup_n(mem, c->ext[i], c->ext_len[i]);
        else {
            eng__aud *a;
            if (eng__aud_get(p->e, p->org, &a) == ENG_OK) {
                if (eng__table_erased(&a->t, c->customer[i]))
                    ext = eng__strdup(mem, ""); /* no id left, for either kind (the table's tombstone is internal) */
                else if (a->t.idkind == ENG_ID_STRING) {
                    size_t l;
                    const char *s = eng__dict_str(&a->t.sid, c->customer[i], &l);
                    ext = dup_n(mem, s, l);
                } else {
                    char num[32];
                    snprintf(num, sizeof num, "%lld", (long long)a->t.iid[c->customer[i]]);
                    ext = eng__strdup(mem, num);
                }
            }
        }
        if (!items || !id || !store || !ext)
            rc = eng__nomem();
        for (size_t k = 0; k < ni && !rc; k++) {
            size_t l;
            const char *s = eng__txn_sku_str(p->e, c->org, c->items[c->item_off[i] + k], &l);
            if (!(items[k] = dup_n(mem, s, l)))
                rc = eng__nomem();
        }
        if (!rc) {
            eng_txn_row row = {ENG_TXN_ROW_VERSION, id, c->customer[i], ext, c->time[i], c->amount[i], store,
                               ni, items};
            eng__callback_begin();
            rc = p->fn(&row, p->user);
            eng__callback_end();
        }
        for (size_t k = 0; items && k < ni; k++)
            eng__free(mem, (void *)items[k]);
        eng__free(mem, items);
        eng__free(mem, id);
        eng__free(mem, store);
        eng__free(mem, ext);
    }
    return rc;
}

ENG_API int eng_txn_scan(eng_engine *e, const char *org, const char *customer, eng_time from, eng_time to,
                         eng_txn_fn fn, void *user)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    pub p = {e, NULL, fn, user, org};
    uint32_t id = ENG__NO_CUSTOMER;
    eng__aud *a;
    if (!org || !fn)
        rc = eng__err(ENG_EINVAL, org ? "fn" : "org", "argument is NULL");
    else if (!(rc = eng__aud_get(e, org, &a))) {
        if (customer && eng__customer_find(&a->t, customer, strlen(customer), &id) != ENG_OK)
            p.ext = customer; /* not (yet) a known customer: match the external id as given */
        rc = eng__txn_scan(e, org, from, to, id, NULL, pub_cb, &p);
    }
    eng__leave(e);
    return rc;
}
