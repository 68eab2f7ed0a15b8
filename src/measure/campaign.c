/* The engine-level campaign report: the same attribution run as
 * eng_measure_campaign(), fed from what the engine stores instead of from the
 * caller: the campaign's goal and dates and the org's channel costs (ope.c),
 * the control groups frozen at each message's approval, the touch log of the
 * campaign's messages and the org's transactions (with `amount` and `store`
 * as the goal condition's fields). For an X-Engage message, the off-policy
 * estimates of ope.c. */
#include "measure/measure_impl.h"
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
    if (!eng__handle_live(r, ENG__H_REPORT))
        return eng__err(ENG_EMISUSE, "report", "not a live report (NULL, freed or another kind of handle)");
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

/* ---- gathering the columns ---- */

typedef struct cols {
    eng_engine *e;
    const eng__rep_ctx *rc;
    int err;
    /* touches */
    size_t nt, ct;
    uint32_t *t_cust, *t_msg;
    uint8_t *t_ch, *t_st;
    eng_time *t_time;
    uint32_t ctx_seen[64], ctx_msg[64]; /* send context -> message index + 1 (0: not ours) */
    size_t nctx;
    /* Per message (rc->msg order): its one send context so far (UINT32_MAX: none
     * yet), and whether its rows may repeat a (customer, channel, status) — a
     * second context (another version or occurrence) or a row without the
     * events layer's `first` flag. The others are trusted (eng__attr.trust). */
    uint32_t *m_ctx;
    uint8_t *m_dup;
    /* transactions */
    size_t nx, cx;
    uint32_t *x_cust, *x_store;
    eng_time *x_time;
    int64_t *x_amount;
    uint64_t *x_nulls;
    uint16_t org;
    uint32_t max_cust, max_store;
    eng__prog *pg; /* "measure.report": rows read */
    uint64_t read;
} cols;

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
    uint32_t *b = a ? eng__realloc_array(m, c->t_msg, cap, 4) : NULL;
    if (b)
        c->t_msg = b;
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

static uint32_t msg_of_ctx(cols *c, uint16_t org, uint32_t ctx)
{
    for (size_t i = 0; i < c->nctx; i++)
        if (c->ctx_seen[i] == ctx)
            return c->ctx_msg[i];
    uint64_t camp, msg;
    uint32_t ver, occ;
    uint32_t id = 0;
    if (eng__ctx_get(c->e, org, ctx, &camp, &msg, &ver, &occ) == ENG_OK)
        for (size_t i = 0; i < c->rc->nmsg; i++)
            if (c->rc->msg[i].id == msg && msg <= UINT32_MAX - 1)
                id = (uint32_t)i + 1;
    if (c->nctx < 64) {
        c->ctx_seen[c->nctx] = ctx;
        c->ctx_msg[c->nctx++] = id;
    }
    return id;
}

static int touch_cb(const eng__touch_cols *t, void *u)
{
    cols *c = u;
    if ((c->err = grow_t(c, t->n)))
        return c->err;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t m = msg_of_ctx(c, t->org, t->ctx[i]);
        if (!m)
            continue;
        m--;
        if (c->m_ctx[m] != t->ctx[i])
            c->m_dup[m] |= c->m_ctx[m] != UINT32_MAX;
        c->m_ctx[m] = t->ctx[i];
        c->m_dup[m] |= !t->first[i];
        size_t k = c->nt++;
        c->t_cust[k] = t->customer[i];
        c->t_msg[k] = (uint32_t)c->rc->msg[m].id;
        c->t_ch[k] = t->channel[i];
        c->t_st[k] = t->status[i];
        c->t_time[k] = t->time[i];
        if (t->customer[i] + 1 > c->max_cust)
            c->max_cust = t->customer[i] + 1;
    }
    c->read += t->n;
    return c->err = eng__prog_batch(c->pg, c->read);
}

static int txn_cb(const eng__txn_cols *x, void *u)
{
    cols *c = u;
    const eng__mem *m = &c->e->mem;
    if (c->nx + x->n > c->cx) {
        size_t cap = c->cx ? c->cx : 1024;
        while (cap < c->nx + x->n)
            cap *= 2;
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
        if (!f)
            return c->err = eng__nomem();
        c->x_amount = f;
        c->cx = cap;
    }
    c->org = x->org;
    for (size_t i = 0; i < x->n; i++) {
        if (x->customer[i] == ENG__NO_CUSTOMER)
            continue; /* joined when the customer arrives */
        size_t k = c->nx++;
        c->x_cust[k] = x->customer[i];
        c->x_time[k] = x->time[i];
        c->x_amount[k] = x->amount[i];
        c->x_store[k] = x->store[i];
        if (x->customer[i] + 1 > c->max_cust)
            c->max_cust = x->customer[i] + 1;
        if (x->store[i] > c->max_store)
            c->max_store = x->store[i];
    }
    c->read += x->n;
    return c->err = eng__prog_batch(c->pg, c->read);
}

static void cols_free(cols *c)
{
    const eng__mem *m = &c->e->mem;
    eng__free(m, c->t_cust), eng__free(m, c->t_msg), eng__free(m, c->t_ch), eng__free(m, c->t_st);
    eng__free(m, c->t_time), eng__free(m, c->x_cust), eng__free(m, c->x_store), eng__free(m, c->x_time);
    eng__free(m, c->x_amount), eng__free(m, c->x_nulls), eng__free(m, c->m_ctx), eng__free(m, c->m_dup);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The union of the messages' frozen control groups, ascending. */
static int control_of(eng_engine *e, const char *actor, const eng__rep_ctx *rc, uint32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    int err = ENG_OK;
    for (size_t i = 0; i < rc->nmsg && !err; i++) {
        eng_audience *aud = NULL;
        err = eng_message_audience(e, actor, rc->msg[i].id, &aud);
        if (err == ENG_ENOTFOUND) { /* the host keeps the audiences */
            err = ENG_OK;
            continue;
        }
        uint64_t k = 0;
        size_t got = 0;
        if (!err)
            eng_audience_count(aud, ENG_PART_CONTROL, &k);
        if (!err && eng__grow(&e->mem, (void **)out, &cap, *n + (size_t)k + 1, sizeof **out))
            err = eng__nomem();
        if (!err)
            err = eng_audience_ids(aud, ENG_PART_CONTROL, 0, *out + *n, (size_t)k, &got);
        *n += got;
        eng_audience_free(aud);
    }
    if (*n > 1)
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
static int ope(eng_engine *e, const eng__rep_ctx *rc, const cols *c, const uint32_t *control, size_t ncontrol,
               const eng_campaign_report_options *o, eng_report *r)
{
    const eng__rep_msg *xm = NULL;
    for (size_t i = 0; i < rc->nmsg && !xm; i++)
        if (rc->msg[i].strategy == ENG_STRATEGY_XENGAGE)
            for (size_t k = 0; k < c->nt && !xm; k++)
                if (c->t_msg[k] == rc->msg[i].id)
                    xm = &rc->msg[i];
    if (!xm)
        return ENG_OK;
    uint32_t nc = c->max_cust;
    for (size_t i = 0; i < ncontrol; i++)
        if (control[i] + 1 > nc)
            nc = control[i] + 1;
    eng_time *sent = eng__malloc(&e->mem, (size_t)(nc ? nc : 1) * sizeof *sent);
    uint32_t *off = eng__calloc(&e->mem, (size_t)nc + 2, sizeof *off);
    eng_time *rt = eng__malloc(&e->mem, (c->nx ? c->nx : 1) * sizeof *rt);
    int64_t *ra = eng__malloc(&e->mem, (c->nx ? c->nx : 1) * sizeof *ra);
    int err = sent && off && rt && ra ? ENG_OK : eng__nomem();
    eng_time start = -1;
    for (uint32_t i = 0; !err && i < nc; i++)
        sent[i] = -1;
    for (size_t k = 0; !err && k < c->nt; k++)
        if (c->t_msg[k] == xm->id && c->t_st[k] == ENG_TOUCH_SENT) {
            uint32_t cu = c->t_cust[k];
            if (sent[cu] < 0 || c->t_time[k] < sent[cu])
                sent[cu] = c->t_time[k];
            if (start < 0 || c->t_time[k] < start)
                start = c->t_time[k];
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
    c.m_ctx = eng__malloc(&e->mem, (rc.nmsg ? rc.nmsg : 1) * sizeof *c.m_ctx);
    c.m_dup = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, 1);
    if (!err && (!c.m_ctx || !c.m_dup))
        err = eng__nomem();
    for (size_t i = 0; !err && i < rc.nmsg; i++)
        c.m_ctx[i] = UINT32_MAX;
    if (!err)
        err = eng__touch_scan(e, &f, touch_cb, &c);
    if (!err)
        err = c.err;
    if (!err)
        err = eng__txn_scan(e, rc.org, 0, 0, ENG__NO_CUSTOMER, NULL, txn_cb, &c);
    if (!err)
        err = c.err;
    /* The goal condition's fields: amount (decimal, 4 places) and store (a string, null for none). */
    const char **dict = NULL;
    uint32_t *dict_len = NULL;
    if (!err) {
        size_t nw = (c.nx + 63) / 64;
        c.x_nulls = eng__calloc(&e->mem, nw ? nw : 1, sizeof *c.x_nulls);
        dict = eng__calloc(&e->mem, (size_t)c.max_store + 1, sizeof *dict);
        dict_len = eng__calloc(&e->mem, (size_t)c.max_store + 1, sizeof *dict_len);
        if (!c.x_nulls || !dict || !dict_len)
            err = eng__nomem();
        for (size_t k = 0; !err && k < c.nx; k++) {
            if (!c.x_store[k])
                c.x_nulls[k / 64] |= 1ull << (k % 64);
            else
                c.x_store[k]--;
        }
        for (uint32_t s = 0; !err && s < c.max_store; s++) {
            size_t len = 0;
            dict[s] = eng__txn_store_str(e, c.org, s + 1, &len);
            dict_len[s] = (uint32_t)len;
            if (!dict[s])
                dict[s] = "", dict_len[s] = 0;
        }
    }
    msgs = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, sizeof *msgs);
    trust = eng__calloc(&e->mem, rc.nmsg ? rc.nmsg : 1, 1);
    if (!err && (!msgs || !trust))
        err = eng__nomem();
    for (size_t i = 0; !err && i < rc.nmsg; i++)
        trust[i] = !c.m_dup[i];
    for (size_t i = 0; !err && i < rc.nmsg; i++) {
        if (rc.msg[i].id > UINT32_MAX - 1)
            err = eng__err(ENG_ERANGE, "campaign", "message id %llu is too large for a report",
                           (unsigned long long)rc.msg[i].id);
        msgs[i] = (uint32_t)rc.msg[i].id;
    }
    if (!err) {
        eng_rule_field fields[2] = {{"amount", ENG_RT_DECIMAL, 4}, {"store", ENG_RT_STRING, 0}};
        eng_rule_column columns[2];
        memset(columns, 0, sizeof columns);
        columns[0] = (eng_rule_column){ENG_RT_DECIMAL, 4, c.x_amount, NULL, NULL, NULL, 0, NULL};
        columns[1] = (eng_rule_column){ENG_RT_STRING, 0, c.x_store, c.x_nulls, dict, dict_len, c.max_store, NULL};
        eng_touch_columns tc = {ENG_TOUCH_COLUMNS_VERSION, c.nt, c.t_cust, c.t_msg, c.t_ch, c.t_st, c.t_time};
        eng_txn_columns xc = {ENG_TXN_COLUMNS_VERSION, c.nx, c.x_cust, c.x_time, c.x_amount, 4, fields, 2, columns};
        eng_measure_spec sp;
        eng_measure_spec_init(&sp, ENG_MEASURE_SPEC_VERSION);
        uint32_t ncust = c.max_cust;
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
         * eng__measure_columns caps them at eng_config.threads. */
        unsigned extra = o->version >= 2 && o->threads > 1 ? o->threads - 1 : 0;
        err = eng__measure_columns(e, &tc, &xc, &sp, 0, 0, 1, trust, extra, out);
    }
    if (!err && ((err = ope(e, &rc, &c, control, ncontrol, o, *out)) || (err = eng__prog_end(&pg)))) {
        eng_report_free(*out);
        *out = NULL;
    }
    eng__free(&e->mem, dict);
    eng__free(&e->mem, dict_len);
    eng__free(&e->mem, msgs);
    eng__free(&e->mem, trust);
    eng__free(&e->mem, control);
    cols_free(&c);
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
