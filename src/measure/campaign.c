/* The engine-level campaign report: the same attribution run as
 * eng_measure_campaign(), fed from what the engine stores instead of from the
 * caller: the campaign's goal and dates and the org's channel costs (ope.c),
 * the control groups frozen at each message's approval, the touch log of the
 * campaign's messages and the org's transactions (with `amount` and `store`
 * as the goal condition's fields, and `items`, `time` and the custom fields
 * when the condition uses them: goalcols.c). For an X-Engage message, the
 * off-policy estimates of ope.c. */
#include "measure/measure_impl.h"
#include "measure/goalcols.h"
#include "base/handle.h"
#include "events/events_impl.h"
#include "engage/model.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

ENG_API int eng_campaign_report_options_init(eng_campaign_report_options *x, unsigned int version)
{
    static const eng_campaign_report_options init = ENG_CAMPAIGN_REPORT_OPTIONS_INIT; /* padding zero: init == INIT */
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_campaign_report_options, credits_per_unit), sizeof init),
                            version, "eng_campaign_report_options");
}

ENG_API int eng_ope_estimate_init(eng_ope_estimate *x, unsigned int version)
{
    if (!x)
        return eng__err(ENG_EINVAL, "estimate", "eng_ope_estimate_init: NULL");
    if (version != ENG_OPE_ESTIMATE_VERSION)
        return eng__err(ENG_EVERSION, "version", "unsupported eng_ope_estimate version %u", version);
    memset(x, 0, sizeof *x);
    x->version = version;
    return ENG_OK;
}

ENG_API int eng_report_ope(const eng_report *r, int policy, eng_ope_estimate *out)
{
    if (!eng__handle_live(r, ENG__H_REPORT)) {
        eng__out_clear(out, ENG__SIZES(sizeof(eng_ope_estimate)));
        return eng__err(ENG_EMISUSE, "report", "not a live report (NULL, freed or another kind of handle)");
    }
    int rc = eng__out_open(out, ENG__SIZES(sizeof(eng_ope_estimate)), "eng_ope_estimate", "out");
    if (rc)
        return rc;
    if (policy < 0 || policy >= ENG__OPE_N)
        return eng__err(ENG_ERANGE, "policy", "policy %d is not an eng_ope_policy", policy);
    const eng__ope_res *o = &r->ope[policy];
    *out = (eng_ope_estimate){out->version, o->known, r->ope_message, o->rows, o->ipw, o->ipw_lo,
                              o->ipw_hi, o->dr, o->dr_lo, o->dr_hi};
    return ENG_OK;
}

/* ---- reading the events ----
 *
 * Two passes over the campaign's touches. The first decides which messages the
 * events layer vouches for (eng__attr.trust: every row flagged `first`, one send
 * context), from the tables of ordered segments and the rows of the rest. The
 * second feeds the run: a trusted message's counts of a status other than `sent`
 * and the starting one come from the tables; the rows of those two statuses,
 * every status holding an untrusted message's rows, and all rows of tail chunks,
 * older segments and segments straddling the range are read. */

typedef struct cols {
    eng_engine *e;
    const eng__rep_ctx *rc;
    uint64_t campaign;
    int err;
    /* send context -> unit + 1 (0: not ours; NO_MSG: not looked up yet) */
    uint16_t *map;
    size_t nmap;
    /* The sendings (units of the run, eng__attr_units): unit i < nmsg is message i's occurrence
     * 0, unit nmsg + k is message u_msg[k]'s occurrence u_occ[k] (k < nextra). */
    uint16_t *u_msg;
    uint32_t *u_occ;
    size_t nextra, cextra;
    /* Per unit: its one send context so far (UINT32_MAX: none yet), and whether its rows
     * may repeat a (customer, channel, status) — a second context (another version) or a row
     * without the events layer's `first` flag; per message (rc->msg order): whether it has
     * rows at all. */
    uint32_t *m_ctx;
    uint8_t *m_dup, *m_any;
    uint32_t max_cust;   /* customers below it (touches, transactions) */
    size_t fed;          /* rows the second pass will read (phase one's estimate, then its count) */
    /* the second pass */
    eng__attr *x;
    const uint8_t *trust;
    unsigned want;       /* the starting status */
    int gather;          /* rows gathered into columns for the threads of the pass */
    size_t nt, ct;
    uint32_t *t_cust, *t_key;
    uint8_t *t_ch, *t_st;
    eng_time *t_time;
    /* `sent` rows of X-Engage messages: the estimates' decisions */
    size_t nxe, cxe;
    uint32_t *xe_cust;
    uint16_t *xe_m;
    eng_time *xe_time;
    /* transactions */
    size_t nx, cx;
    uint32_t *x_cust, *x_store;
    eng_time *x_time;
    int64_t *x_amount;
    uint64_t *x_nulls;
    size_t xfed;         /* transaction rows fed to the run so far (progress) */
    const char **dict;   /* store codes' strings (the goal's `store`), max_store of them */
    uint32_t *dict_len;
    size_t ndict;
    uint16_t org;
    uint32_t max_store;
    eng__prog *pg; /* "measure.report": rows read */
    uint64_t read;
    eng__goalcols *wide; /* a condition over more than amount and store: its other columns */
} cols;

#define NO_MSG 0xffffu

/* Message index of unit @p u. */
static unsigned unit_msg(const cols *c, unsigned u)
{
    return u < c->rc->nmsg ? u : c->u_msg[u - c->rc->nmsg];
}

/* The unit of occurrence @p occ of message @p i, a new one (its context unknown) the first time. */
static int unit_of(cols *c, size_t i, uint32_t occ, uint16_t *id)
{
    const size_t nmsg = c->rc->nmsg;
    *id = (uint16_t)(i + 1);
    if (!occ)
        return ENG_OK;
    for (size_t k = 0; k < c->nextra; k++)
        if (c->u_msg[k] == i && c->u_occ[k] == occ) {
            *id = (uint16_t)(nmsg + k + 1);
            return ENG_OK;
        }
    const size_t u = nmsg + c->nextra;
    if (u >= ENG__MEASURE_MAX_UNITS)
        return eng__err(ENG_ETOOBIG, "campaign", "over %d sendings (message occurrences) in one report",
                        ENG__MEASURE_MAX_UNITS);
    const eng__mem *m = &c->e->mem;
    if (c->nextra == c->cextra) {
        size_t cap = c->cextra ? 2 * c->cextra : 16;
        uint16_t *a = eng__realloc_array(m, c->u_msg, cap, sizeof *a);
        if (a)
            c->u_msg = a;
        uint32_t *b = a ? eng__realloc_array(m, c->u_occ, cap, sizeof *b) : NULL;
        if (b)
            c->u_occ = b;
        uint32_t *d = b ? eng__realloc_array(m, c->m_ctx, nmsg + cap, sizeof *d) : NULL;
        if (d)
            c->m_ctx = d;
        uint8_t *f = d ? eng__realloc_array(m, c->m_dup, nmsg + cap, 1) : NULL;
        if (!f)
            return eng__nomem();
        c->m_dup = f;
        c->cextra = cap;
    }
    c->u_msg[c->nextra] = (uint16_t)i, c->u_occ[c->nextra] = occ;
    c->m_ctx[u] = UINT32_MAX, c->m_dup[u] = 0;
    c->nextra++;
    *id = (uint16_t)(u + 1);
    return ENG_OK;
}

/* Unit + 1 of send context @p ctx (0: not one of the report's). */
static int msg_of_ctx(cols *c, uint16_t org, uint32_t ctx, unsigned *m)
{
    if (ctx >= c->nmap) {
        size_t cap = c->nmap ? c->nmap : 64;
        while (cap <= ctx)
            cap *= 2;
        uint16_t *v = eng__realloc_array(&c->e->mem, c->map, cap, sizeof *v);
        if (!v)
            return eng__nomem();
        for (size_t i = c->nmap; i < cap; i++)
            v[i] = NO_MSG;
        c->map = v;
        c->nmap = cap;
    }
    if (c->map[ctx] == NO_MSG) {
        uint64_t camp, msg;
        uint32_t ver, occ;
        uint16_t id = 0;
        int rc = ENG_OK;
        if (eng__ctx_get(c->e, org, ctx, &camp, &msg, &ver, &occ) == ENG_OK)
            for (size_t i = 0; i < c->rc->nmsg && !rc; i++)
                if (c->rc->msg[i].id == msg && msg <= UINT32_MAX - 1)
                    rc = unit_of(c, i, occ, &id);
        if (rc)
            return rc;
        c->map[ctx] = id;
    }
    *m = c->map[ctx];
    return ENG_OK;
}

/* Rows of unit u in context ctx; ok: all of them flagged `first`. */
static void note(cols *c, unsigned u, uint32_t ctx, int ok)
{
    if (c->m_ctx[u] != ctx)
        c->m_dup[u] |= c->m_ctx[u] != UINT32_MAX;
    c->m_ctx[u] = ctx;
    c->m_dup[u] |= !ok;
    c->m_any[unit_msg(c, u)] = 1;
}

static int step(cols *c, size_t rows)
{
    c->read += rows;
    return c->err = c->pg ? eng__prog_batch(c->pg, c->read) : ENG_OK; /* a part on another thread: none */
}

static int trust_rows(const eng__touch_cols *t, void *u)
{
    cols *c = u;
    for (size_t i = 0; i < t->n; i++) {
        unsigned m = 0;
        if ((c->err = msg_of_ctx(c, t->org, t->ctx[i], &m)))
            return c->err;
        if (!m)
            continue;
        note(c, m - 1, t->ctx[i], t->first[i]);
        if (t->customer[i] + 1 > c->max_cust)
            c->max_cust = t->customer[i] + 1;
        c->fed++;
    }
    return step(c, t->n);
}

static int trust_table(const eng__touch_tab *t, void *u)
{
    cols *c = u;
    int ours = 0;
    for (size_t j = 0; j < t->nent; j++) {
        const eng__touch_ent *e = &t->ent[j];
        unsigned m = 0;
        if ((c->err = msg_of_ctx(c, t->org, e->ctx, &m)))
            return c->err;
        if (!m)
            continue;
        note(c, m - 1, e->ctx, e->first == e->rows);
        ours = 1;
        if (e->status == ENG_TOUCH_SENT || e->status == c->want)
            c->fed += e->rows;
    }
    if (ours && t->cmax + 1 > c->max_cust) /* a bound: the segment's rows of other campaigns too */
        c->max_cust = t->cmax + 1;
    return step(c, t->nent);
}

static int grow_t(cols *c, size_t more)
{
    if (c->nt + more <= c->ct)
        return ENG_OK;
    size_t cap = c->ct ? c->ct : 1024;
    while (cap < c->nt + more)
        cap *= 2;
    const eng__mem *m = &c->e->mem;
    uint32_t *a = eng__realloc_array(m, c->t_cust, cap, 4);
    if (a)
        c->t_cust = a;
    uint32_t *b = a ? eng__realloc_array(m, c->t_key, cap, 4) : NULL;
    if (b)
        c->t_key = b;
    uint8_t *d = b ? eng__realloc_array(m, c->t_ch, cap, 1) : NULL;
    if (d)
        c->t_ch = d;
    uint8_t *f = d ? eng__realloc_array(m, c->t_st, cap, 1) : NULL;
    if (f)
        c->t_st = f;
    eng_time *g = f ? eng__realloc_array(m, c->t_time, cap, sizeof *g) : NULL;
    if (!g)
        return eng__nomem();
    c->t_time = g;
    c->ct = cap;
    return ENG_OK;
}

/* Rows appended to the columns gathered for the threads. */
static int gather(cols *c, size_t n, const uint32_t *cu, const uint32_t *key, const uint8_t *ch, const uint8_t *st,
                  const eng_time *t)
{
    if ((c->err = grow_t(c, n)))
        return c->err;
    memcpy(c->t_cust + c->nt, cu, n * sizeof *cu);
    memcpy(c->t_key + c->nt, key, n * sizeof *key);
    memcpy(c->t_ch + c->nt, ch, n);
    memcpy(c->t_st + c->nt, st, n);
    memcpy(c->t_time + c->nt, t, n * sizeof *t);
    c->nt += n;
    return ENG_OK;
}

/* An X-Engage message's `sent` row kept for the estimates. */
static int xe_add(cols *c, uint32_t cust, uint16_t m, eng_time t)
{
    if (c->nxe == c->cxe) {
        size_t cap = c->cxe ? 2 * c->cxe : 256;
        uint32_t *a = eng__realloc_array(&c->e->mem, c->xe_cust, cap, sizeof *a);
        if (a)
            c->xe_cust = a;
        uint16_t *b = a ? eng__realloc_array(&c->e->mem, c->xe_m, cap, sizeof *b) : NULL;
        if (b)
            c->xe_m = b;
        eng_time *d = b ? eng__realloc_array(&c->e->mem, c->xe_time, cap, sizeof *d) : NULL;
        if (!d)
            return c->err = eng__nomem();
        c->xe_time = d;
        c->cxe = cap;
    }
    c->xe_cust[c->nxe] = cust, c->xe_m[c->nxe] = m, c->xe_time[c->nxe++] = t;
    return ENG_OK;
}

/* Rows into the run (keys: send contexts), or into columns for its threads. */
static int feed_rows(cols *c, const eng__touch_cols *t)
{
    const eng__rep_ctx *rc = c->rc;
    for (size_t i = 0; i < t->n; i++) {
        if (t->status[i] != ENG_TOUCH_SENT || t->ctx[i] >= c->nmap)
            continue;
        unsigned m = c->map[t->ctx[i]];
        if (!m || m == NO_MSG || rc->msg[(m = unit_msg(c, m - 1))].strategy != ENG_STRATEGY_XENGAGE)
            continue;
        if (xe_add(c, t->customer[i], (uint16_t)m, t->time[i]))
            return c->err;
    }
    if (!c->gather) {
        c->x->row0 = c->nt;
        c->x->pg_row = c->xfed + c->nt;
        c->nt += t->n;
        return c->err = eng__attr_touches(c->x, t->n, t->customer, t->ctx, t->channel, t->status, t->time);
    }
    return gather(c, t->n, t->customer, t->ctx, t->channel, t->status, t->time);
}

static int run_rows(const eng__touch_cols *t, void *u)
{
    cols *c = u;
    return feed_rows(c, t) ? c->err : step(c, t->n);
}

uint64_t eng__report_table_runs[2];
int eng__report_table_blocks = 1;

/* One status of an ordered segment: counted from its entries when every message
 * of ours there is trusted and the status is neither `sent` nor the starting one;
 * else read, a block at a time when those messages are trusted (and, for `sent`,
 * none is X-Engage's, whose sends the estimates read), else as rows. With threads
 * too the blocks are read here, on the calling thread, and only the rows are
 * gathered for the threads: the run's state after is the same union either way
 * (bitmaps, counts, earliest sends; the kept touches in another order within a
 * customer, which the walk does not see: it orders each customer's own). */
static int run_status(cols *c, const eng__touch_tab *t, size_t e0, size_t e1)
{
    const unsigned st = t->ent[e0].status;
    int ours = 0, read = st == ENG_TOUCH_SENT || st == c->want, blocks = eng__report_table_blocks;
    size_t nrows = 0;
    for (size_t j = e0; j < e1; j++) {
        unsigned m = t->ent[j].ctx < c->nmap ? c->map[t->ent[j].ctx] : 0;
        nrows += t->ent[j].rows;
        if (m && m != NO_MSG) {
            ours = 1, read |= !c->trust[m - 1];
            blocks &= c->trust[m - 1] &&
                      (st != ENG_TOUCH_SENT || c->rc->msg[unit_msg(c, m - 1)].strategy != ENG_STRATEGY_XENGAGE);
        }
    }
    if (!ours)
        return ENG_OK;
    if (read && blocks) {
        __atomic_add_fetch(&eng__report_table_runs[0], 1, __ATOMIC_RELAXED);
        return (c->err = eng__attr_table(c->x, t, st)) ? c->err : step(c, nrows);
    }
    if (read) {
        __atomic_add_fetch(&eng__report_table_runs[1], 1, __ATOMIC_RELAXED);
        eng__touch_cols rows;
        if ((c->err = eng__touch_tab_rows(t, st, &rows)))
            return c->err;
        return feed_rows(c, &rows) ? c->err : step(c, rows.n);
    }
    if ((c->err = eng__touch_tab_check(t, st)))
        return c->err;
    eng__attr *x = c->x;
    for (size_t j = e0; j < e1; j++) {
        unsigned m = t->ent[j].ctx < c->nmap ? c->map[t->ent[j].ctx] : 0;
        if (m && m != NO_MSG) /* each row the only one of its (customer, slot): what the pass would count */
            x->cnt[((size_t)st * x->nunit + m - 1) * ENG_MAX_CHANNELS + t->ent[j].channel] += t->ent[j].rows;
    }
    return ENG_OK;
}

static int run_table(const eng__touch_tab *t, void *u)
{
    cols *c = u;
    for (size_t e0 = 0, e1; e0 < t->nent; e0 = e1) {
        for (e1 = e0 + 1; e1 < t->nent && t->ent[e1].status == t->ent[e0].status;)
            e1++;
        if (run_status(c, t, e0, e1))
            return c->err;
    }
    return ENG_OK;
}

/* ---- the second pass over a plan's segments on threads (eng__attr_plan_split) ----
 * A part beside the caller's reads as the caller's does, into its own copy of the run
 * (r) and its own gathered rows and X-Engage sends, appended to the caller's in order. */

static void *part_open(void *u, eng__attr *r)
{
    const cols *c = u;
    cols *p = eng__calloc(&c->e->mem, 1, sizeof *p);
    if (!p)
        return NULL;
    p->e = c->e, p->rc = c->rc, p->campaign = c->campaign;
    p->map = c->map, p->nmap = c->nmap, p->u_msg = c->u_msg, p->nextra = c->nextra; /* read only in this pass */
    p->trust = c->trust, p->want = c->want, p->gather = c->gather;
    p->x = r;
    return p;
}

static int part_fold(void *u, void *part)
{
    cols *c = u, *p = part;
    if (p->nt && gather(c, p->nt, p->t_cust, p->t_key, p->t_ch, p->t_st, p->t_time))
        return c->err;
    for (size_t k = 0; k < p->nxe; k++)
        if ((c->err = xe_add(c, p->xe_cust[k], p->xe_m[k], p->xe_time[k])))
            return c->err;
    return step(c, p->read);
}

static void part_close(void *u, void *part)
{
    cols *c = u, *p = part;
    const eng__mem *m = &c->e->mem;
    eng__free(m, p->t_cust), eng__free(m, p->t_key), eng__free(m, p->t_ch), eng__free(m, p->t_st);
    eng__free(m, p->t_time), eng__free(m, p->xe_cust), eng__free(m, p->xe_m), eng__free(m, p->xe_time);
    eng__free(m, p);
}

static int feed_first(eng__attr *x, size_t n, void *u)
{
    cols *c = u;
    x->row0 = 0;
    return eng__attr_touches(x, n, c->t_cust, c->t_key, c->t_ch, c->t_st, c->t_time);
}

static int touch_run(void *plan, size_t reader, size_t u0, size_t u1, void *user)
{
    return eng__touch_plan_run(plan, reader, u0, u1, run_table, run_rows, user);
}

static const eng__plan_ops touch_ops = {eng__plan_units, eng__plan_rows,      touch_run,           eng__attr_pass_copy,
                                        eng__attr_flush, eng__attr_pass_fold, eng__attr_free_pass, part_open,
                                        part_fold,       part_close,          2};

int eng__report_plan = 1;

/* The run's touches (eng__measure_feed): the second pass. */
static int feed_run(eng__attr *x, void *u)
{
    cols *c = u;
    c->x = x;
    int rc = eng__attr_units(x, c->nextra, c->u_msg, c->u_occ);
    if (!rc)
        memcpy(x->trust, c->trust, x->nunit);
    if (!rc)
        rc = eng__attr_map(x, NULL, 0);
    if (!rc && c->nmap) {
        uint16_t *map = eng__malloc(&c->e->mem, c->nmap * sizeof *map);
        if (!map)
            return eng__nomem();
        for (size_t i = 0; i < c->nmap; i++)
            map[i] = c->map[i] == NO_MSG ? 0 : c->map[i];
        rc = eng__attr_map(x, map, c->nmap);
        eng__free(&c->e->mem, map);
    }
    if (rc)
        return rc;
    c->gather = x->threads > 0;
    x->feed_rows = c->fed;
    c->nt = 0;
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = c->rc->org;
    f.campaign = c->campaign;
    /* With threads the segments are visited in ranges, one a thread, when the events layer
     * can hold their payloads for them (eng__touch_plan); else on this thread. */
    eng__touch_plan *plan = NULL;
    if (c->gather && eng__report_plan && (rc = eng__touch_plan_make(c->e, &f, ENG__PLAN_PARTS, &plan)))
        return rc;
    if (plan) {
        rc = eng__attr_plan_split(x, plan, x->threads, c->fed, &touch_ops, c);
        eng__touch_plan_free(c->e, plan);
    } else {
        rc = eng__touch_scan_tables(c->e, &f, run_table, run_rows, c);
    }
    if (!rc)
        rc = c->err;
    if (!rc && c->gather)
        rc = eng__attr_touches_split(x, x->threads, c->nt, c->t_cust, c->t_key, c->t_ch, c->t_st, c->t_time,
                                     feed_first, c);
    return rc;
}

/* The transaction columns with room for @p n rows (sized once from the rows stored:
 * growing them by doubling cost copies and fresh pages, ~5 % of the report at M). */
static int txn_room(cols *c, size_t n)
{
    const eng__mem *m = &c->e->mem;
    if (n > c->cx) {
        const size_t cap = c->cx * 2 > n ? c->cx * 2 : n;
        uint32_t *a = eng__realloc_array(m, c->x_cust, cap, 4);
        if (a)
            c->x_cust = a;
        uint32_t *b = a ? eng__realloc_array(m, c->x_store, cap, 4) : NULL;
        if (b)
            c->x_store = b;
        eng_time *d = b ? eng__realloc_array(m, c->x_time, cap, sizeof *d) : NULL;
        if (d)
            c->x_time = d;
        int64_t *f = d ? eng__realloc_array(m, c->x_amount, cap, sizeof *f) : NULL;
        if (f)
            c->x_amount = f;
        uint64_t *g = f ? eng__realloc_array(m, c->x_nulls, (cap + 63) / 64, sizeof *g) : NULL;
        if (!g)
            return c->err = eng__nomem();
        c->x_nulls = g;
        c->cx = cap;
        /* huge pages where the kernel gives them on advice: a fault per 2 MB, not per 4 KB
         * (the faults on these columns were ~10 % of the report at M) */
        eng__mem_hint_huge(m, c->x_cust, cap * 4), eng__mem_hint_huge(m, c->x_store, cap * 4);
        eng__mem_hint_huge(m, c->x_time, cap * sizeof *d), eng__mem_hint_huge(m, c->x_amount, cap * sizeof *f);
    }
    return ENG_OK;
}

/* A chunk's rows appended to the columns. */
static int txn_copy(cols *c, const eng__txn_cols *x)
{
    if (txn_room(c, c->nx + x->n))
        return c->err;
    c->org = x->org;
    /* Rows of customers unknown when written are dropped (joined when the customer
     * arrives): each row written, the next one over it unless it is known. */
    size_t k = c->nx;
    uint32_t mc = c->max_cust, ms = c->max_store;
    for (size_t i = 0; i < x->n; i++) {
        const uint32_t cu = x->customer[i];
        const int known = cu != ENG__NO_CUSTOMER;
        c->x_cust[k] = cu, c->x_time[k] = x->time[i], c->x_amount[k] = x->amount[i], c->x_store[k] = x->store[i];
        mc = known && cu + 1 > mc ? cu + 1 : mc;
        ms = known && x->store[i] > ms ? x->store[i] : ms;
        k += (size_t)known;
    }
    c->nx = k, c->max_cust = mc, c->max_store = ms;
    return ENG_OK;
}

static int txn_cb(const eng__txn_cols *x, void *u)
{
    cols *c = u;
    if (c->wide && (c->err = eng__goalcols_add(c->wide, x)))
        return c->err;
    if (txn_copy(c, x))
        return c->err;
    c->read += x->n;
    return c->err = eng__prog_batch(c->pg, c->read);
}

/* The goal condition's fields over the columns' rows: `amount` (decimal, 4 places) and
 * `store` (a string: code 0 is null, the others index the dictionary, extended to max_store). */
static int goal_fields(cols *c, eng_rule_column columns[2])
{
    for (size_t w = 0; w < (c->nx + 63) / 64; w++)
        c->x_nulls[w] = 0;
    for (size_t k = 0; k < c->nx; k++) {
        if (!c->x_store[k])
            c->x_nulls[k / 64] |= 1ull << (k % 64);
        else
            c->x_store[k]--;
    }
    if (c->max_store > c->ndict) {
        const eng__mem *m = &c->e->mem;
        const char **d = eng__realloc_array(m, c->dict, c->max_store, sizeof *d);
        if (d)
            c->dict = d;
        uint32_t *l = d ? eng__realloc_array(m, c->dict_len, c->max_store, sizeof *l) : NULL;
        if (!l)
            return c->err = eng__nomem();
        c->dict_len = l;
        for (size_t s = c->ndict; s < c->max_store; s++) {
            size_t len = 0;
            c->dict[s] = eng__txn_store_str(c->e, c->org, (uint32_t)s + 1, &len);
            c->dict_len[s] = (uint32_t)len;
            if (!c->dict[s])
                c->dict[s] = "", c->dict_len[s] = 0;
        }
        c->ndict = c->max_store;
    }
    memset(columns, 0, 2 * sizeof *columns);
    columns[0] = (eng_rule_column){ENG_RT_DECIMAL, 4, c->x_amount, NULL, NULL, NULL, 0, NULL};
    columns[1] = (eng_rule_column){ENG_RT_STRING, 0, c->x_store, c->x_nulls, c->dict, c->dict_len, c->max_store, NULL};
    return ENG_OK;
}

static const eng_rule_field goal_fields_of[2] = {{"amount", ENG_RT_DECIMAL, 4}, {"store", ENG_RT_STRING, 0}};

/* A segment's transactions into the run (the columns hold one chunk at a time). */
static int txn_chunk(const eng__txn_cols *x, void *u)
{
    cols *c = u;
    eng_rule_column columns[2];
    c->nx = 0;
    if (txn_copy(c, x) || goal_fields(c, columns))
        return c->err;
    eng_txn_columns xc = {ENG_TXN_COLUMNS_VERSION, c->nx, c->x_cust, c->x_time, c->x_amount, 4, goal_fields_of, 2,
                          columns};
    c->x->pg_row = c->xfed;
    if ((c->err = eng__attr_txn_chunk(c->x, &xc)))
        return c->err;
    c->xfed += c->nx;
    return step(c, x->n);
}

static void cols_free(cols *c);

/* ---- the transactions on threads (eng__attr_plan_split over an eng__txn_plan) ----
 * A part beside the caller's reads its segments into columns and a dictionary of its own
 * and its own copy of the qualifying transactions (r), appended to the run's in order. */

static void *txn_part_open(void *u, eng__attr *r)
{
    const cols *c = u;
    cols *p = eng__calloc(&c->e->mem, 1, sizeof *p);
    if (!p)
        return NULL;
    p->e = c->e, p->rc = c->rc, p->campaign = c->campaign, p->org = c->org;
    p->x = r;
    return p;
}

static int txn_part_fold(void *u, void *part)
{
    cols *c = u;
    const cols *p = part;
    c->xfed += p->xfed;
    return step(c, p->read);
}

static void txn_part_close(void *u, void *part)
{
    (void)u;
    cols *p = part;
    cols_free(p);
    eng__free(&p->e->mem, p);
}

static int txn_run(void *plan, size_t reader, size_t u0, size_t u1, void *user)
{
    return eng__txn_plan_run(plan, reader, u0, u1, txn_chunk, user);
}

static const eng__plan_ops txn_ops = {eng__plan_units,    eng__plan_rows, txn_run,       eng__attr_txn_copy,
                                      NULL,               eng__attr_txn_fold, eng__attr_txn_free, txn_part_open,
                                      txn_part_fold,      txn_part_close, 3};

/* The run's transactions a segment at a time (eng__measure_feed's txn_fn); with threads, the
 * segments in ranges on them when the events layer can hold their payloads (eng__txn_plan). */
static int feed_txns(eng__attr *x, void *u)
{
    cols *c = u;
    c->x = x;
    eng__txn_plan *plan = NULL;
    int rc = ENG_OK;
    if (x->threads && eng__report_plan && (rc = eng__txn_plan_make(c->e, c->rc->org, ENG__PLAN_PARTS, &plan)))
        return rc;
    if (plan) {
        size_t rows = 0;
        for (size_t i = 0; i < eng__plan_units(plan); i++)
            rows += eng__plan_rows(plan, i);
        rc = eng__attr_plan_split(x, plan, x->threads, rows, &txn_ops, c);
        eng__txn_plan_free(c->e, plan);
    } else {
        rc = eng__txn_scan_cols(c->e, c->rc->org, txn_chunk, c);
    }
    return rc ? rc : c->err;
}

int eng__report_txn_chunks = 1;
uint64_t eng__report_txn_chunked;

static void cols_free(cols *c)
{
    const eng__mem *m = &c->e->mem;
    eng__free(m, c->t_cust), eng__free(m, c->t_key), eng__free(m, c->t_ch), eng__free(m, c->t_st);
    eng__free(m, c->t_time), eng__free(m, c->x_cust), eng__free(m, c->x_store), eng__free(m, c->x_time);
    eng__free(m, c->x_amount), eng__free(m, c->x_nulls), eng__free(m, c->m_ctx), eng__free(m, c->m_dup);
    eng__free(m, c->m_any), eng__free(m, c->map), eng__free(m, c->xe_cust), eng__free(m, c->xe_m);
    eng__free(m, c->u_msg), eng__free(m, c->u_occ);
    eng__free(m, c->xe_time), eng__free(m, c->dict), eng__free(m, c->dict_len);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Merge ascending unique a (na) with ascending b (nb) into out, each value once; returns the count. */
static size_t merge_unique(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        uint32_t v = j == nb || (i < na && a[i] <= b[j]) ? a[i] : b[j];
        i += i < na && a[i] == v;
        while (j < nb && b[j] == v) /* b may repeat a value */
            j++;
        out[n++] = v;
    }
    return n;
}

uint64_t eng__report_control_same;

/* The union of the messages' frozen control groups, ascending. Each group comes
 * ascending: merged in (a sort of every message's copy cost ~40 ms at M, 5 x 10^5 ids).
 * An audience whose content hash an earlier message's had is the same audience: its
 * control ids are in already (a campaign's messages often share one, with the global
 * control: at L, 4 x 10^6 ids not read and merged again). */
static int control_of(eng_engine *e, const char *actor, const eng__rep_ctx *rc, uint32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, pcap = 0, tcap = 0, nseen = 0;
    uint32_t *part = NULL, *tmp = NULL;
    uint8_t(*seen)[32] = eng__malloc(&e->mem, (rc->nmsg ? rc->nmsg : 1) * sizeof *seen);
    int err = seen ? ENG_OK : eng__nomem(), sorted = 1;
    for (size_t i = 0; i < rc->nmsg && !err; i++) {
        eng_audience *aud = NULL;
        err = eng_message_audience(e, actor, rc->msg[i].id, &aud);
        if (eng__absent(err)) { /* the host keeps the audiences */
            err = ENG_OK;
            continue;
        }
        int same = 0;
        if (!err && !(err = eng_audience_hash(aud, seen[nseen]))) {
            for (size_t j = 0; j < nseen && !same; j++)
                same = !memcmp(seen[j], seen[nseen], sizeof *seen);
            nseen += !same;
        }
        if (same) {
            __atomic_add_fetch(&eng__report_control_same, 1, __ATOMIC_RELAXED);
            eng_audience_free(aud);
            continue;
        }
        uint64_t k = 0;
        size_t got = 0;
        if (!err)
            eng_audience_count(aud, ENG_PART_CONTROL, &k);
        if (!err && (eng__grow(&e->mem, (void **)&part, &pcap, (size_t)k + 1, sizeof *part) ||
                     eng__grow(&e->mem, (void **)&tmp, &tcap, *n + (size_t)k + 1, sizeof *tmp) ||
                     eng__grow(&e->mem, (void **)out, &cap, *n + (size_t)k + 1, sizeof **out)))
            err = eng__nomem();
        if (!err)
            err = eng_audience_ids(aud, ENG_PART_CONTROL, 0, part, (size_t)k, &got);
        eng_audience_free(aud);
        for (size_t j = 1; j < got && sorted; j++)
            sorted = part[j - 1] <= part[j];
        if (err)
            break;
        if (sorted) {
            size_t m = merge_unique(*out, *n, part, got, tmp);
            uint32_t *t = *out;
            size_t tc = cap;
            *out = tmp, cap = tcap;
            tmp = t, tcap = tc;
            *n = m;
        } else { /* not ascending: appended, sorted once at the end */
            memcpy(*out + *n, part, got * sizeof *part);
            *n += got;
        }
    }
    eng__free(&e->mem, part);
    eng__free(&e->mem, tmp);
    eng__free(&e->mem, seen);
    if (!sorted && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < *n; i++)
        if (!u || (*out)[u - 1] != (*out)[i])
            (*out)[u++] = (*out)[i];
    *n = u;
    return err;
}

typedef struct hist_ctx {
    eng_engine *e;
    const char *org;
    eng_time before;
} hist_ctx;

static int history(void *user, uint32_t lo, uint32_t hi, uint32_t *sends, uint32_t *resp)
{
    hist_ctx *h = user;
    return eng__touch_history(h->e, h->org, 0, h->before, lo, hi, sends, resp);
}

/* The off-policy estimates of the first X-Engage message that sent anything. */
static int ope(eng_engine *e, const eng__rep_ctx *rc, const cols *c, uint32_t nc, const uint32_t *control,
               size_t ncontrol, const eng_campaign_report_options *o, eng_report *r)
{
    const eng__rep_msg *xm = NULL;
    size_t xi = 0;
    for (size_t i = 0; i < rc->nmsg && !xm; i++)
        if (rc->msg[i].strategy == ENG_STRATEGY_XENGAGE && c->m_any[i])
            xm = &rc->msg[i], xi = i;
    if (!xm)
        return ENG_OK;
    eng_time *sent = eng__malloc(&e->mem, (size_t)(nc ? nc : 1) * sizeof *sent);
    uint32_t *off = eng__calloc(&e->mem, (size_t)nc + 2, sizeof *off);
    eng_time *rt = eng__malloc(&e->mem, (c->nx ? c->nx : 1) * sizeof *rt);
    int64_t *ra = eng__malloc(&e->mem, (c->nx ? c->nx : 1) * sizeof *ra);
    int err = sent && off && rt && ra ? ENG_OK : eng__nomem();
    eng_time start = -1;
    for (uint32_t i = 0; !err && i < nc; i++)
        sent[i] = -1;
    for (size_t k = 0; !err && k < c->nxe; k++)
        if (c->xe_m[k] == xi) {
            uint32_t cu = c->xe_cust[k];
            if (sent[cu] < 0 || c->xe_time[k] < sent[cu])
                sent[cu] = c->xe_time[k];
            if (start < 0 || c->xe_time[k] < start)
                start = c->xe_time[k];
        }
    if (!err) { /* transactions by customer (counting sort) */
        for (size_t k = 0; k < c->nx; k++)
            off[c->x_cust[k] + 2]++;
        for (uint32_t i = 2; i < nc + 2; i++)
            off[i] += off[i - 1];
        for (size_t k = 0; k < c->nx; k++) {
            uint32_t at = off[c->x_cust[k] + 1]++;
            rt[at] = c->x_time[k];
            ra[at] = c->x_amount[k];
        }
    }
    eng_time window = rc->has_goal ? (eng_time)rc->goal.window_days * ENG_DAY : rc->end - start;
    if (window <= 0)
        window = 30 * ENG_DAY;
    hist_ctx h = {e, rc->org, xm->version};
    eng__ope_in in = {e, rc->org, xm, rc->cost, o->credits_per_unit, nc, sent, start, window, off, rt, ra,
                      control, ncontrol, history, &h};
    if (!err)
        err = eng__ope_run(&in, r->ope);
    if (!err)
        r->ope_message = xm->id;
    eng__free(&e->mem, sent);
    eng__free(&e->mem, off);
    eng__free(&e->mem, rt);
    eng__free(&e->mem, ra);
    return err;
}

static int check_opts(const eng_campaign_report_options *o)
{
    if (o->version == 0 || o->version > ENG_CAMPAIGN_REPORT_OPTIONS_VERSION)
        return eng__err(ENG_EVERSION, "opts.version", "unsupported eng_campaign_report_options version %u",
                        o->version);
    if (o->currency_places < 0 || o->currency_places > 4)
        return eng__err(ENG_ERANGE, "opts.currency_places", "currency_places %d is outside 0..4",
                        o->currency_places);
    if (o->half_life < 0)
        return eng__err(ENG_ERANGE, "opts.half_life", "half_life is negative");
    if (!(o->credits_per_unit > 0) || !isfinite(o->credits_per_unit))
        return eng__err(ENG_ERANGE, "opts.credits_per_unit", "credits_per_unit must be positive and finite");
    if (o->version >= 2 && o->threads > ENG_CAMPAIGN_REPORT_THREADS_MAX)
        return eng__err(ENG_ERANGE, "opts.threads", "threads %u is over %d", o->threads,
                        ENG_CAMPAIGN_REPORT_THREADS_MAX);
    return ENG_OK;
}

static int report(eng_engine *e, const char *actor, uint64_t campaign, const eng_campaign_report_options *o,
                  eng_report **out)
{
    eng__rep_ctx rc;
    int err = eng__rep_load(e, actor, campaign, &rc);
    if (err)
        return err;
    cols c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.rc = &rc;
    uint32_t *control = NULL, *msgs = NULL;
    uint8_t *trust = NULL;
    size_t ncontrol = 0;
    uint32_t ncust = 0;
    /* Progress: touch and transaction rows read (total unknown); attribution
     * reports as "measure.attribute" inside it; the estimates are the last step. */
    eng__prog pg;
    c.pg = &pg;
    err = eng__prog_start(&pg, e, "measure.report", 0);
    if (!err)
        err = control_of(e, actor, &rc, &control, &ncontrol);
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = rc.org;
    f.campaign = campaign;
    c.campaign = campaign;
    c.want = rc.has_goal ? (unsigned)rc.goal.start_on : ENG_TOUCH_SENT;
    c.m_ctx = eng__malloc(&e->mem, (rc.nmsg ? rc.nmsg : 1) * sizeof *c.m_ctx);
    c.m_dup = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, 1);
    c.m_any = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, 1);
    if (!err && (!c.m_ctx || !c.m_dup || !c.m_any))
        err = eng__nomem();
    for (size_t i = 0; !err && i < rc.nmsg; i++)
        c.m_ctx[i] = UINT32_MAX;
    if (!err)
        err = eng__touch_scan_tables(e, &f, trust_table, trust_rows, &c);
    if (!err)
        err = c.err;
    /* The transactions go to the run a segment at a time through the goal (no copy of every
     * column: at L 10^7 rows, 240 MB written and paged in) unless an X-Engage message's
     * estimates need them all at hand (ope). */
    int chunks = eng__report_txn_chunks;
    for (size_t i = 0; i < rc.nmsg; i++)
        chunks &= rc.msg[i].strategy != ENG_STRATEGY_XENGAGE || !c.m_any[i];
    /* A condition over items, time or a custom field (accepted when the goal was saved) reads
     * every column of the transactions, all at hand, on the calling thread. */
    eng__goalcols wide;
    memset(&wide, 0, sizeof wide);
    if (!err && rc.has_goal && eng__goal_wide(e, &rc.goal)) {
        chunks = 0;
        c.wide = &wide;
        if (!(err = eng__goalcols_init(&wide, e, rc.org)))
            err = eng__goalcols_check(&wide, rc.goal.condition);
    }
    if (chunks)
        __atomic_add_fetch(&eng__report_txn_chunked, 1, __ATOMIC_RELAXED);
    size_t nx = 0;
    uint32_t org_customers = 0;
    if (!err && !(err = eng__txn_rows(e, rc.org, &nx, chunks ? &org_customers : NULL)) && nx && !chunks)
        err = txn_room(&c, nx);
    if (!err && !chunks)
        err = c.wide ? eng__txn_scan(e, rc.org, INT64_MIN, 0, ENG__NO_CUSTOMER, NULL, txn_cb, &c)
                     : eng__txn_scan_cols(e, rc.org, txn_cb, &c);
    if (!err)
        err = c.err;
    eng_rule_column columns[2];
    if (!err && !chunks)
        err = goal_fields(&c, columns);
    c.xfed = c.nx;
    const size_t nunit = rc.nmsg + c.nextra;
    msgs = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, sizeof *msgs);
    trust = eng__calloc(&e->mem, nunit ? nunit : 1, 1);
    if (!err && (!msgs || !trust))
        err = eng__nomem();
    for (size_t i = 0; !err && i < nunit; i++)
        trust[i] = !c.m_dup[i];
    for (size_t i = 0; !err && i < rc.nmsg; i++) {
        if (rc.msg[i].id > UINT32_MAX - 1)
            err = eng__err(ENG_ERANGE, "campaign", "message id %llu is too large for a report",
                           (unsigned long long)rc.msg[i].id);
        msgs[i] = (uint32_t)rc.msg[i].id;
    }
    if (!err) {
        /* read a chunk at a time, the customers are bounded by the org's before the first */
        ncust = c.max_cust > org_customers ? c.max_cust : org_customers;
        eng_txn_columns xc = {ENG_TXN_COLUMNS_VERSION, c.nx, c.x_cust, c.x_time, c.x_amount, 4, goal_fields_of, 2,
                              chunks ? NULL : columns};
        if (c.wide)
            err = eng__goalcols_finish(&wide, columns, c.x_time, c.x_cust, &xc);
        eng_measure_spec sp;
        eng_measure_spec_init(&sp, ENG_MEASURE_SPEC_VERSION);
        for (size_t i = 0; i < ncontrol; i++)
            if (control[i] + 1 > ncust)
                ncust = control[i] + 1;
        sp.n_customers = ncust;
        sp.messages = msgs;
        sp.n_messages = rc.nmsg;
        sp.start = rc.start;
        sp.end = rc.end;
        sp.has_goal = rc.has_goal;
        sp.goal = rc.has_goal ? &rc.goal : NULL;
        sp.half_life = o->half_life;
        sp.control = control;
        sp.n_control = ncontrol;
        sp.channel_cost = rc.cost;
        sp.currency_places = o->currency_places;
        /* Parts beyond the caller's become threads (a version 1 struct ends before `threads`);
         * eng__measure_feed caps them at eng_config.threads. */
        unsigned extra = o->version >= 2 && o->threads > 1 ? o->threads - 1 : 0;
        c.trust = trust;
        /* progress: the transaction rows fed in chunks come first, then the touch rows */
        if (!err)
            err = eng__measure_feed(e, &xc, &sp, 1, NULL, extra, feed_run, &c, c.fed + (chunks ? nx : 0),
                                    chunks ? feed_txns : NULL, out);
    }
    if (!err && ((err = ope(e, &rc, &c, ncust, control, ncontrol, o, *out)) || (err = eng__prog_end(&pg)))) {
        eng_report_free(*out);
        *out = NULL;
    }
    eng__free(&e->mem, msgs);
    eng__free(&e->mem, trust);
    eng__free(&e->mem, control);
    cols_free(&c);
    eng__goalcols_free(&wide);
    eng__rep_free(e, &rc);
    return err;
}

ENG_API int eng_campaign_report(eng_engine *e, const char *actor, uint64_t campaign,
                                const eng_campaign_report_options *opts, eng_report **out)
{
    if (out)
        *out = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_campaign_report_options def = ENG_CAMPAIGN_REPORT_OPTIONS_INIT;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "eng_campaign_report: out is NULL");
    else
        rc = check_opts(opts ? opts : &def);
    if (!rc)
        rc = report(e, actor, campaign, opts ? opts : &def, out);
    eng__leave(e);
    return rc;
}
