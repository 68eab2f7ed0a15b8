/* X-Engage state through the storage contract: one record (type
 * ENG__REC_XENGAGE) holding the configuration, the population statistics and
 * the per-customer counts (2 bytes a channel). */
#include "decide/xengage_impl.h"
#include "decide/xengage_rec.h"
#include "base/error.h"

#include <string.h>

#define XE_SCHEMA 1

int eng__xe_save(const eng__xe *xe, struct eng_store *s, const char *key)
{
    const eng__xe_config *c = &xe->cfg;
    eng__wr w;
    eng__wr_init(&w, &xe->mem);
    eng__wr_u32(&w, c->k);
    eng__wr_u32(&w, c->g);
    eng__wr_u32(&w, c->customers);
    for (unsigned i = 0; i < c->k; i++) {
        eng__xe_wr_f64(&w, c->cost[i]);
        eng__wr_u8(&w, c->priority[i]);
    }
    eng__xe_wr_f64(&w, c->value);
    eng__xe_wr_f64(&w, c->explore);
    eng__xe_wr_f64(&w, c->forget);
    eng__wr_u8(&w, (uint8_t)((c->sample_q ? 1 : 0) | (c->sample_pi ? 2 : 0) | (c->skip_negative ? 4 : 0) |
                             (c->guard_priority ? 8 : 0) | (c->customer_factor ? 16 : 0) | (c->q_lgn ? 32 : 0)));
    eng__wr_u64(&w, c->seed);
    for (size_t i = 0; i < (size_t)c->g * c->k; i++) {
        const xe_cell *cl = &xe->cell[i];
        eng__xe_wr_f64(&w, cl->sent), eng__xe_wr_f64(&w, cl->eng);
        eng__xe_wr_f64(&w, cl->pn), eng__xe_wr_f64(&w, cl->pk);
        eng__xe_wr_f64(&w, cl->en), eng__xe_wr_f64(&w, cl->ec);
    }
    for (unsigned g = 0; g < c->g; g++)
        eng__xe_wr_f64(&w, xe->seg[g].bn), eng__xe_wr_f64(&w, xe->seg[g].bc);
    for (unsigned i = 0; i < c->k; i++)
        eng__xe_wr_f64(&w, xe->chan[i].sent), eng__xe_wr_f64(&w, xe->chan[i].delivered);
    eng__wr_bytes(&w, xe->st, (size_t)c->customers * xe->stride);
    return eng__xe_rec_put(s, key, XE_SCHEMA, &w);
}

static int load(const eng__mem *mem, struct eng_store *s, const char *key, int derive, eng__xe **out)
{
    *out = NULL;
    eng__rec rec;
    eng__rd r;
    int rc = eng__xe_rec_open(s, key, XE_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    eng__xe_config c;
    memset(&c, 0, sizeof c);
    c.k = eng__rd_u32(&r);
    c.g = eng__rd_u32(&r);
    c.customers = eng__rd_u32(&r);
    if (!eng__rd_ok(&r) || c.k < 1 || c.k > ENG__XE_MAXK || c.g < 1 || c.g > 65535) {
        eng__rec_free(s, &rec);
        return eng__err(ENG_ECORRUPT, key, "X-Engage record has a bad header");
    }
    for (unsigned i = 0; i < c.k; i++) {
        c.cost[i] = eng__xe_rd_f64(&r);
        c.priority[i] = eng__rd_u8(&r);
    }
    c.value = eng__xe_rd_f64(&r);
    c.explore = eng__xe_rd_f64(&r);
    c.forget = eng__xe_rd_f64(&r);
    unsigned fl = eng__rd_u8(&r);
    c.sample_q = fl & 1, c.sample_pi = (fl >> 1) & 1, c.skip_negative = (fl >> 2) & 1, c.guard_priority = (fl >> 3) & 1;
    c.customer_factor = (fl >> 4) & 1;
    c.q_lgn = (fl >> 5) & 1;
    c.seed = eng__rd_u64(&r);
    eng__xe *xe = NULL;
    if (!eng__rd_ok(&r) || (size_t)c.customers * (2 * (size_t)c.k + 2) > eng__rd_left(&r)) {
        eng__rec_free(s, &rec);
        return eng__err(ENG_ECORRUPT, key, "X-Engage record is truncated");
    }
    rc = eng__xe_alloc(mem, &c, &xe);
    if (rc) {
        eng__rec_free(s, &rec);
        return rc == ENG_ENOMEM ? rc : eng__err(ENG_ECORRUPT, key, "X-Engage record holds bad options");
    }
    for (size_t i = 0; i < (size_t)c.g * c.k; i++) {
        xe_cell *cl = &xe->cell[i];
        cl->sent = eng__xe_rd_f64(&r), cl->eng = eng__xe_rd_f64(&r);
        cl->pn = eng__xe_rd_f64(&r), cl->pk = eng__xe_rd_f64(&r);
        cl->en = eng__xe_rd_f64(&r), cl->ec = eng__xe_rd_f64(&r);
    }
    for (unsigned g = 0; g < c.g; g++)
        xe->seg[g].bn = eng__xe_rd_f64(&r), xe->seg[g].bc = eng__xe_rd_f64(&r);
    for (unsigned i = 0; i < c.k; i++)
        xe->chan[i].sent = eng__xe_rd_f64(&r), xe->chan[i].delivered = eng__xe_rd_f64(&r);
    const uint8_t *st = eng__rd_bytes(&r, (size_t)c.customers * (2 * (size_t)c.k + 2));
    if (st)
        memcpy(xe->st, st, (size_t)c.customers * (2 * (size_t)c.k + 2));
    rc = eng__xe_rec_close(s, &rec, &r, ENG_OK, key, "X-Engage record is truncated");
    if (rc) {
        eng__xe_free(xe);
        return rc;
    }
    if (derive) {
        eng__xe_abn_rebuild(xe);
        eng__xe_refresh(xe);
    }
    *out = xe;
    return ENG_OK;
}

int eng__xe_load(const eng__mem *mem, struct eng_store *s, const char *key, eng__xe **out)
{
    return load(mem, s, key, 1, out);
}

int eng__xe_load_counts(const eng__mem *mem, struct eng_store *s, const char *key, eng__xe **out)
{
    return load(mem, s, key, 0, out);
}

/* The population part of a model as a decision used it (derived fields included, so a trace replays the
 * decision without a refresh, which would read other customers' counts as they are now). */
#define XE_POP_SCHEMA 5 /* 5: the bucket's channel weights after the share; 4: the exploration share at the end; 3: each cell's guard-rail estimate r_lo after r_exact
                          * (2: none, decided without it) */

int eng__xe_save_population(const eng__xe *xe, uint32_t channels, struct eng_store *s, const char *key)
{
    const eng__xe_config *c = &xe->cfg;
    eng__wr w;
    eng__wr_init(&w, &xe->mem);
    eng__wr_u32(&w, channels);
    eng__wr_u32(&w, c->k);
    eng__wr_u32(&w, c->g);
    for (size_t i = 0; i < (size_t)c->g * c->k; i++) {
        const xe_cell *cl = &xe->cell[i];
        const double f[] = {cl->sent, cl->eng, cl->pn, cl->pk, cl->en, cl->ec, cl->a0, cl->b0, cl->pa,
                            cl->pb, cl->m, cl->kappa, cl->r_mean, cl->r_sd};
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
            eng__xe_wr_f64(&w, f[j]);
        eng__wr_u8(&w, (uint8_t)(cl->r_exact != 0));
        eng__xe_wr_f64(&w, cl->r_lo);
    }
    for (unsigned g = 0; g < c->g; g++)
        eng__xe_wr_f64(&w, xe->seg[g].bn), eng__xe_wr_f64(&w, xe->seg[g].bc), eng__xe_wr_f64(&w, xe->seg[g].p0),
            eng__xe_wr_f64(&w, xe->seg[g].inv_1mp0);
    for (unsigned i = 0; i < c->k; i++)
        eng__xe_wr_f64(&w, xe->chan[i].sent), eng__xe_wr_f64(&w, xe->chan[i].delivered),
            eng__xe_wr_f64(&w, xe->chan[i].d), eng__xe_wr_f64(&w, xe->chan[i].rho), eng__xe_wr_f64(&w, xe->chan[i].m);
    eng__xe_wr_f64(&w, xe->resp_a);
    eng__xe_wr_f64(&w, xe->explore); /* derived from more than the snapshot holds (xengage_explore.c): kept as used */
    for (unsigned i = 0; i < c->k; i++) /* the same */
        eng__xe_wr_f64(&w, xe->xw[i]);
    return eng__xe_rec_put(s, key, XE_POP_SCHEMA, &w);
}

int eng__xe_load_population(eng__xe *xe, struct eng_store *s, const char *key, uint32_t *channels)
{
    eng__rec rec;
    eng__rd r;
    int rc = eng__xe_rec_open(s, key, XE_POP_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    const eng__xe_config *c = &xe->cfg;
    *channels = eng__rd_u32(&r);
    unsigned k = eng__rd_u32(&r), g = eng__rd_u32(&r);
    if (!eng__rd_ok(&r) || k != c->k || g != c->g) {
        eng__rec_free(s, &rec);
        return eng__err(ENG_ECORRUPT, key, "X-Engage snapshot does not match its model");
    }
    for (size_t i = 0; i < (size_t)c->g * c->k; i++) {
        xe_cell *cl = &xe->cell[i];
        double *f[] = {&cl->sent, &cl->eng, &cl->pn, &cl->pk, &cl->en, &cl->ec, &cl->a0, &cl->b0, &cl->pa,
                       &cl->pb, &cl->m, &cl->kappa, &cl->r_mean, &cl->r_sd};
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
            *f[j] = eng__xe_rd_f64(&r);
        cl->r_exact = eng__rd_u8(&r);
        /* Before the guard rail: r_lo = r_mean, which passes whatever the mean passes (the same choices). */
        cl->r_lo = rec.schema >= 3 ? eng__xe_rd_f64(&r) : cl->r_mean;
        cl->r_tsd = cl->r_sd; /* only the exploration share reads it: schema 4 keeps the share itself */
    }
    for (unsigned i = 0; i < c->g; i++)
        xe->seg[i].bn = eng__xe_rd_f64(&r), xe->seg[i].bc = eng__xe_rd_f64(&r), xe->seg[i].p0 = eng__xe_rd_f64(&r),
        xe->seg[i].inv_1mp0 = eng__xe_rd_f64(&r);
    for (unsigned i = 0; i < c->k; i++)
        xe->chan[i].sent = eng__xe_rd_f64(&r), xe->chan[i].delivered = eng__xe_rd_f64(&r),
        xe->chan[i].d = eng__xe_rd_f64(&r), xe->chan[i].rho = eng__xe_rd_f64(&r), xe->chan[i].m = eng__xe_rd_f64(&r);
    xe->resp_a = eng__xe_rd_f64(&r);
    if (rec.schema >= 4)
        xe->explore = eng__xe_rd_f64(&r);
    else /* an older snapshot: today's bound from what it holds */
        eng__xe_explore_refresh(xe);
    for (unsigned i = 0; i < c->k; i++) { /* before schema 5 the bucket was uniform */
        xe->xw[i] = rec.schema >= 5 ? eng__xe_rd_f64(&r) : 1;
        if (!(xe->xw[i] > 0 && xe->xw[i] <= 1) && eng__rd_ok(&r))
            r.err = ENG_ECORRUPT;
    }
    eng__xe_lgn_build(xe); /* derived from the fields above alone: the tables the decision used */
    return eng__xe_rec_close(s, &rec, &r, ENG_OK, key, "X-Engage snapshot is truncated");
}
