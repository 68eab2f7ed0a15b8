/* Loading the events state from storage, orgs and their dictionaries, and
 * writing back what a change added (dictionary additions, org records). */
#include "events/ev_state.h"
#include "base/codec.h"
#include "events/keypar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORG_V 1
#define DICT_V 1

uint32_t eng__seg_seal_rows = ENG__SEG_ROWS;

/* DK_KPFX (schema 2, since 2026-12-06): a context's key prefix (keymap.c). */
enum { DK_CTX = 1, DK_DET = 2, DK_STORE = 3, DK_SKU = 4, DK_FSTR = 5, DK_KPFX = 6 };

void eng__ev_key(char *buf, size_t cap, uint16_t org, const char *what, uint64_t seq, int wide)
{
    if (wide)
        snprintf(buf, cap, "e/%04x/%s/%016llx", (unsigned)org, what, (unsigned long long)seq);
    else
        snprintf(buf, cap, "e/%04x/%s/%08llx", (unsigned)org, what, (unsigned long long)seq);
}

const eng__evorg *eng__ev_org_named(const eng__ev *ev, const eng__evorg *last, const char *name, size_t len)
{
    if (last && !strncmp(last->name, name, len) && !last->name[len])
        return last;
    for (uint32_t i = 0; i < ev->norgs; i++)
        if (ev->orgs[i] && !strncmp(ev->orgs[i]->name, name, len) && !ev->orgs[i]->name[len])
            return ev->orgs[i];
    return NULL;
}

void eng__ev_org_free(const eng__mem *mem, eng__evorg *o)
{
    if (!o)
        return;
    eng__free(mem, o->name);
    eng__free(mem, o->fname);
    eng__free(mem, o->ftype);
    eng__free(mem, o->ctx);
    eng__free(mem, o->ctxslots);
    eng__kmap_free(o, mem);
    eng__dict_free(&o->det);
    eng__dict_free(&o->store);
    eng__dict_free(&o->sku);
    eng__dict_free(&o->fstr);
    eng__segs_free(&o->tseg, mem);
    eng__tcols_free(&o->tail, mem);
    eng__tchunks_keep(o, mem, 0);
    eng__free(mem, o->tch);
    eng__free(mem, o->tref);
    eng__segs_free(&o->rseg, mem);
    eng__rcols_free(&o->rtail, mem);
    eng__free(mem, o->txslots);
    eng__free(mem, o);
}

void eng__ev_free(eng_engine *e, void *state)
{
    eng__ev *ev = state;
    eng__tseal_free(ev); /* a seal behind waited for first: it reads an org's tail */
    for (uint32_t i = 0; i < ev->norgs; i++)
        eng__ev_org_free(&e->mem, ev->orgs[i]);
    eng__free(&e->mem, ev->orgs);
    eng__sends_free(&ev->s, &e->mem);
    eng__pend_free(ev);
    eng__tcols_free(&ev->dec, &e->mem);
    eng__tcols_free(&ev->ord, &e->mem);
    eng__wr_free(&ev->blk);
    for (int k = 0; k < ENG__TSEG_PARTS; k++)
        eng__wr_free(&ev->par[k]);
    eng__free(&e->mem, ev->ordtmp);
    eng__free(&e->mem, ev->rekey);
    eng__rcols_free(&ev->rdec, &e->mem);
    eng__rcpt_scratch_free(ev);
    eng__free(&e->mem, ev);
    e->evcache.segments = e->evcache.resident = 0; /* one events state per engine */
}

void eng__events_abandon(eng_engine *e)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    if (ev) {
        eng__slot_set(e, ENG__SLOT_EVENTS, NULL, NULL);
        eng__ev_free(e, ev);
    }
    eng__aud_drop(e); /* consent changes written through audience in the same batch */
}

void eng__events_abandon_sent(eng_engine *e)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    /* Only eng__touch_sent writes events in the dispatcher's batch, and it marks the cache first:
     * a batch that failed before it left the cache as it was. */
    if (!ev || ev->mark.batch != e->store->last_batch)
        return;
    if (eng__ev_undo(ev))
        return; /* the batch applied nothing and its rows are taken back */
    int aud = ev->aud_written;
    eng__slot_set(e, ENG__SLOT_EVENTS, NULL, NULL);
    eng__ev_free(e, ev);
    if (aud)
        eng__aud_drop(e);
}

int eng__events_fail(eng_engine *e, int rc)
{
    char det[256], msg[768];
    snprintf(det, sizeof det, "%s", eng_error_last()->detail);
    snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
    eng__kv_rollback(e->store);
    eng__events_abandon(e);
    return eng__err(rc, det, "%s", msg);
}

int eng__ev_fail(eng_engine *e, int rc)
{
    return eng__events_fail(e, rc);
}

int eng__ev_commit(eng_engine *e)
{
    int rc = eng__kv_commit(e->store);
    return rc ? eng__ev_fail(e, rc) : ENG_OK;
}

/* ---- orgs ---- */

eng__evorg *eng__ev_org_new(eng__ev *ev, const char *name, size_t len, uint16_t code)
{
    const eng__mem *mem = &ev->e->mem;
    eng__evorg *o = eng__calloc(mem, 1, sizeof *o);
    if (!o)
        return NULL;
    o->name = eng__strndup(mem, name, len);
    if (!o->name) {
        eng__free(mem, o);
        return NULL;
    }
    o->code = code;
    eng__dict_init(&o->det, mem);
    eng__dict_init(&o->store, mem);
    eng__dict_init(&o->sku, mem);
    eng__dict_init(&o->fstr, mem);
    return o;
}

static int org_slot(eng__ev *ev, uint16_t code, eng__evorg *o)
{
    if (code >= ev->orgcap) {
        size_t cap = ev->orgcap;
        if (eng__grow(&ev->e->mem, (void **)&ev->orgs, &cap, (size_t)code + 1, sizeof *ev->orgs))
            return eng__nomem();
        memset(ev->orgs + ev->orgcap, 0, (cap - ev->orgcap) * sizeof *ev->orgs);
        ev->orgcap = (uint32_t)cap;
    }
    ev->orgs[code] = o;
    if (code >= ev->norgs)
        ev->norgs = (uint32_t)code + 1;
    return ENG_OK;
}

eng__evorg *eng__ev_org_by_code(eng__ev *ev, uint16_t code)
{
    return code < ev->norgs ? ev->orgs[code] : NULL;
}

int eng__ev_org(eng__ev *ev, const char *name, int create, eng__evorg **out)
{
    *out = NULL;
    for (uint32_t i = 0; i < ev->norgs; i++)
        if (ev->orgs[i] && strcmp(ev->orgs[i]->name, name) == 0) {
            *out = ev->orgs[i];
            return ENG_OK;
        }
    if (!create)
        return ENG_ENOTFOUND;
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return eng__err(ENG_EINVAL, "org", "org id must be 1..255 bytes");
    if (ev->norgs >= ENG__EV_MAX_ORGS)
        return eng__err(ENG_ETOOBIG, "org", "too many orgs with events");
    eng__evorg *o = eng__ev_org_new(ev, name, len, (uint16_t)ev->norgs);
    if (!o)
        return eng__nomem();
    o->dirty = 1;
    int rc = org_slot(ev, o->code, o);
    if (rc) {
        eng__ev_org_free(&ev->e->mem, o);
        return rc;
    }
    *out = o;
    return ENG_OK;
}

int eng__ev_org_code(eng_engine *e, const char *org, uint16_t *out)
{
    eng__ev *ev;
    eng__evorg *o;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (!org)
        return eng__err(ENG_EINVAL, "org", "org is NULL");
    if (eng__ev_org(ev, org, 0, &o))
        return ENG_ENOTFOUND;
    *out = o->code;
    return ENG_OK;
}

static int put_org(eng__ev *ev, eng__evorg *o)
{
    eng__wr w;
    eng__wr_init(&w, &ev->e->mem);
    eng__wr_str(&w, o->name);
    eng__wr_uvar(&w, o->retention_days);
    eng__wr_svar(&w, o->data_from);
    eng__wr_uvar(&w, o->nfields);
    for (uint32_t i = 0; i < o->nfields; i++) {
        eng__wr_str(&w, o->fname[i]);
        eng__wr_u8(&w, o->ftype[i]);
    }
    char key[32];
    snprintf(key, sizeof key, "e/g/%04x", (unsigned)o->code);
    return eng__rec_put_wr(ev->e->store, ENG__K(key), ENG__REC_EV_ORG, ORG_V, &w);
}

/* ---- contexts ---- */

static uint32_t ctx_hash(const eng__ctxkey *k)
{
    uint64_t h = eng__mix64(k->campaign ^ eng__mix64(k->message ^ eng__mix64(((uint64_t)k->version << 32) | k->occurrence)));
    return (uint32_t)(h >> 32);
}

static int ctx_eq(const eng__ctxkey *a, const eng__ctxkey *b)
{
    return a->campaign == b->campaign && a->message == b->message && a->version == b->version &&
           a->occurrence == b->occurrence;
}

int64_t eng__ev_ctx_find(const eng__evorg *o, const eng__ctxkey *k)
{
    if (!o->nctxslots)
        return -1;
    uint32_t mask = o->nctxslots - 1;
    for (uint32_t i = ctx_hash(k) & mask;; i = (i + 1) & mask) {
        uint32_t v = o->ctxslots[i];
        if (!v)
            return -1;
        if (ctx_eq(&o->ctx[v - 1], k))
            return v - 1;
    }
}

static int ctx_rehash(const eng__mem *mem, eng__evorg *o, uint32_t nslots)
{
    uint32_t *s = eng__calloc(mem, nslots, sizeof *s);
    if (!s)
        return eng__nomem();
    for (uint32_t c = 0; c < o->nctx; c++) {
        uint32_t i = ctx_hash(&o->ctx[c]) & (nslots - 1);
        while (s[i])
            i = (i + 1) & (nslots - 1);
        s[i] = c + 1;
    }
    eng__free(mem, o->ctxslots);
    o->ctxslots = s;
    o->nctxslots = nslots;
    return ENG_OK;
}

static int ctx_add(const eng__mem *mem, eng__evorg *o, const eng__ctxkey *k, uint32_t *out)
{
    if (o->nctx == UINT32_MAX - 1)
        return eng__err(ENG_ETOOBIG, "ctx", "too many send contexts");
    if (o->nctx >= o->ctxcap) {
        size_t cap = o->ctxcap;
        if (eng__grow(mem, (void **)&o->ctx, &cap, (size_t)o->nctx + 1, sizeof *o->ctx))
            return eng__nomem();
        o->ctxcap = (uint32_t)cap;
    }
    if ((size_t)(o->nctx + 1) * 2 > o->nctxslots) {
        int rc;
        o->ctx[o->nctx] = *k; /* rehash sees it only once counted */
        if ((rc = ctx_rehash(mem, o, o->nctxslots ? o->nctxslots * 2 : 16)))
            return rc;
    }
    o->ctx[o->nctx] = *k;
    uint32_t mask = o->nctxslots - 1, i = ctx_hash(k) & mask;
    while (o->ctxslots[i])
        i = (i + 1) & mask;
    o->ctxslots[i] = o->nctx + 1;
    *out = o->nctx++;
    return ENG_OK;
}

int eng__ev_ctx_truncate(eng__evorg *o, uint32_t n)
{
    if (n >= o->nctx)
        return ENG_OK;
    o->nctx = n;
    return ctx_rehash(o->det.mem, o, o->nctxslots ? o->nctxslots : 16);
}

int eng__ev_ctx_intern(eng__evorg *o, const eng__ctxkey *k, uint32_t *out)
{
    int64_t f = eng__ev_ctx_find(o, k);
    if (f >= 0) {
        *out = (uint32_t)f;
        return ENG_OK;
    }
    return ctx_add(o->det.mem, o, k, out);
}

int eng__ctx_get(eng_engine *e, uint16_t org, uint32_t ctx, uint64_t *campaign, uint64_t *message,
                 uint32_t *version, uint32_t *occurrence)
{
    eng__ev *ev;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    eng__evorg *o = eng__ev_org_by_code(ev, org);
    if (!o || ctx >= o->nctx)
        return eng__err(ENG_ENOTFOUND, "ctx", "no send context %u in org %u", ctx, org);
    const eng__ctxkey *k = &o->ctx[ctx];
    *campaign = k->campaign;
    *message = k->message;
    *version = k->version;
    *occurrence = k->occurrence;
    return ENG_OK;
}

const char *eng__ev_detail_str(eng_engine *e, uint16_t org, uint32_t detail, size_t *len)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    eng__evorg *o = ev ? eng__ev_org_by_code(ev, org) : NULL;
    *len = 0;
    if (!o || detail == 0 || detail > o->det.n)
        return "";
    return eng__dict_str(&o->det, detail - 1, len);
}

/* ---- dictionary additions ---- */

static void wr_dict_tail(eng__wr *w, int kind, const eng__dict *d, uint32_t from)
{
    for (uint32_t c = from; c < d->n; c++) {
        size_t l;
        const char *s = eng__dict_str(d, c, &l);
        eng__wr_u8(w, (uint8_t)kind);
        eng__wr_blob(w, s, l);
    }
}

static int flush_org(eng__ev *ev, eng__evorg *o)
{
    int rc;
    if (o->dirty && (rc = put_org(ev, o)))
        return rc;
    o->dirty = 0;
    if (o->nctx_saved < o->nctx || o->det_saved < o->det.n || o->store_saved < o->store.n ||
        o->sku_saved < o->sku.n || o->fstr_saved < o->fstr.n || o->npstore) {
        eng__wr w;
        eng__wr_init(&w, &ev->e->mem);
        for (uint32_t c = o->nctx_saved; c < o->nctx; c++) {
            eng__wr_u8(&w, DK_CTX);
            eng__wr_uvar(&w, o->ctx[c].campaign);
            eng__wr_uvar(&w, o->ctx[c].message);
            eng__wr_uvar(&w, o->ctx[c].version);
            eng__wr_uvar(&w, o->ctx[c].occurrence);
        }
        wr_dict_tail(&w, DK_DET, &o->det, o->det_saved);
        wr_dict_tail(&w, DK_STORE, &o->store, o->store_saved);
        wr_dict_tail(&w, DK_SKU, &o->sku, o->sku_saved);
        wr_dict_tail(&w, DK_FSTR, &o->fstr, o->fstr_saved);
        for (uint32_t c = 0; c < o->nkm && o->npstore; c++) /* after the contexts they name */
            if (o->km[c].pstore == 1) {
                eng__wr_u8(&w, DK_KPFX);
                eng__wr_uvar(&w, c);
                eng__wr_blob(&w, o->km[c].prefix, o->km[c].plen);
            }
        char key[48];
        eng__ev_key(key, sizeof key, o->code, "x", o->next_dict_seq, 0);
        /* schema 2 only when the record holds a prefix: an older library refuses it by its schema */
        if ((rc = eng__rec_put_wr(ev->e->store, ENG__K(key), ENG__REC_EV_DICT, o->npstore ? 2 : 1, &w)))
            return rc;
        for (uint32_t c = 0; c < o->nkm && o->npstore; c++)
            if (o->km[c].pstore == 1) {
                o->km[c].pstore = 2;
                o->km[c].pseq = o->next_dict_seq;
                o->npstore--;
            }
        o->next_dict_seq++;
        o->nctx_saved = o->nctx;
        o->det_saved = o->det.n;
        o->store_saved = o->store.n;
        o->sku_saved = o->sku.n;
        o->fstr_saved = o->fstr.n;
    }
    if ((rc = eng__ttail_save(ev, o)) || (rc = eng__rtail_save(ev, o)))
        return rc;
    return ENG_OK;
}

int eng__ev_flush(eng__ev *ev)
{
    int rc = eng__tseal_join(ev);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < ev->norgs; i++)
        if (ev->orgs[i] && (rc = flush_org(ev, ev->orgs[i])))
            return rc;
    return ev->pend_dirty ? eng__ev_pend_save(ev) : ENG_OK;
}

/* ---- loading ---- */

typedef struct loader {
    eng__ev *ev;
    eng__evorg *o;
    int rc;
} loader;

static int load_org_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    loader *l = user;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_ORG, ORG_V, &rec);
    if (rc)
        return rc;
    if (klen != 8)
        return eng__err(ENG_ECORRUPT, k, "bad events org key");
    unsigned code = (unsigned)strtoul(k + 4, NULL, 16);
    const eng__mem *mem = &l->ev->e->mem;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    size_t nlen;
    const uint8_t *name = eng__rd_blob(&r, &nlen);
    uint64_t ret = eng__rd_uvar(&r);
    int64_t from = eng__rd_svar(&r);
    uint64_t nf = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || !name || nlen == 0 || nlen > 255 || code >= ENG__EV_MAX_ORGS || ret > 36500 ||
        nf > ENG__MAX_COLS || eng__ev_org_by_code(l->ev, (uint16_t)code))
        return eng__err(ENG_ECORRUPT, k, "bad events org record");
    eng__evorg *o = eng__ev_org_new(l->ev, (const char *)name, nlen, (uint16_t)code);
    if (!o)
        return eng__nomem();
    o->retention_days = (uint32_t)ret;
    o->data_from = from;
    o->fname = eng__calloc(mem, nf ? nf : 1, sizeof *o->fname);
    o->ftype = eng__calloc(mem, nf ? nf : 1, 1);
    if (!o->fname || !o->ftype) {
        eng__ev_org_free(mem, o);
        return eng__nomem();
    }
    for (uint64_t i = 0; i < nf; i++) {
        size_t fl;
        const uint8_t *fn = eng__rd_blob(&r, &fl);
        uint8_t ty = eng__rd_u8(&r);
        if (!eng__rd_ok(&r) || fl == 0 || fl > ENG__COLNAME_MAX || ty < ENG_COL_STRING || ty > ENG_COL_BOOL) {
            eng__ev_org_free(mem, o);
            return eng__err(ENG_ECORRUPT, k, "bad custom field in events org record");
        }
        memcpy(o->fname[i], fn, fl);
        o->ftype[i] = ty;
        o->nfields++;
    }
    if ((rc = org_slot(l->ev, o->code, o)))
        eng__ev_org_free(mem, o);
    return rc;
}

static int seq_of(const char *k, size_t klen, size_t hexlen, uint64_t *out)
{
    if (klen < hexlen)
        return ENG_ECORRUPT;
    char buf[17];
    memcpy(buf, k + klen - hexlen, hexlen);
    buf[hexlen] = 0;
    char *end;
    *out = strtoull(buf, &end, 16);
    return *end ? ENG_ECORRUPT : ENG_OK;
}

/* A stored prefix is the dispatcher's prefix of context c of org o: with a customer and a
 * channel after it, it parses as a key naming them (so a receipt key with it names c). */
static int kpfx_ok(const eng__evorg *o, uint32_t c, const char *p, size_t n)
{
    char k[ENG__EV_KEY_MAX + 32];
    if (n == 0 || n > ENG__EV_KEY_MAX)
        return 0;
    memcpy(k, p, n);
    int m = snprintf(k + n, sizeof k - n, "7/%s", eng_channel_name(0));
    eng__keyparts kp;
    size_t olen = strlen(o->name);
    return m > 0 && eng__key_parse(k, n + (size_t)m, &kp) && kp.orglen == olen && !memcmp(kp.org, o->name, olen) &&
           kp.ctx.campaign == o->ctx[c].campaign && kp.ctx.message == o->ctx[c].message &&
           kp.ctx.version == o->ctx[c].version && kp.ctx.occurrence == o->ctx[c].occurrence && kp.customer == 7;
}

static int load_dict_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    loader *l = user;
    eng__evorg *o = l->o;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    uint64_t seq;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_DICT, 2, &rec);
    if (rc)
        return rc;
    if (seq_of(key, klen, 8, &seq))
        return eng__err(ENG_ECORRUPT, k, "bad dictionary key");
    o->next_dict_seq = (uint32_t)seq + 1;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    while (eng__rd_left(&r) && !rc) {
        int kind = eng__rd_u8(&r);
        if (kind == DK_CTX) {
            eng__ctxkey c;
            c.campaign = eng__rd_uvar(&r);
            c.message = eng__rd_uvar(&r);
            uint64_t v = eng__rd_uvar(&r), oc = eng__rd_uvar(&r);
            if (!eng__rd_ok(&r) || v > UINT32_MAX || oc > UINT32_MAX)
                return eng__err(ENG_ECORRUPT, k, "bad send context");
            c.version = (uint32_t)v;
            c.occurrence = (uint32_t)oc;
            uint32_t id;
            rc = ctx_add(&l->ev->e->mem, o, &c, &id);
        } else if (kind >= DK_DET && kind <= DK_FSTR) {
            size_t n;
            const uint8_t *s = eng__rd_blob(&r, &n);
            if (!s)
                return eng__err(ENG_ECORRUPT, k, "bad dictionary string");
            eng__dict *d = kind == DK_DET ? &o->det : kind == DK_STORE ? &o->store : kind == DK_SKU ? &o->sku : &o->fstr;
            uint32_t before = d->n, code;
            rc = eng__dict_intern(d, (const char *)s, n, &code);
            if (!rc && d->n == before)
                return eng__err(ENG_ECORRUPT, k, "repeated dictionary string");
        } else if (kind == DK_KPFX) {
            uint64_t c = eng__rd_uvar(&r);
            size_t n;
            const uint8_t *s = eng__rd_blob(&r, &n);
            if (!s || c >= o->nctx || !kpfx_ok(o, (uint32_t)c, (const char *)s, n))
                return eng__err(ENG_ECORRUPT, k, "bad key prefix of a send context");
            if (!eng__kmap_prefix(o, (uint32_t)c, &n) &&
                !(rc = eng__kmap_learn(o, &l->ev->e->mem, (uint32_t)c, (const char *)s, n, 0))) {
                o->km[c].pstore = 2;
                o->km[c].pseq = (uint32_t)seq;
            }
        } else {
            return eng__err(ENG_ECORRUPT, k, "bad dictionary entry kind %d", kind);
        }
    }
    o->nctx_saved = o->nctx;
    o->det_saved = o->det.n;
    o->store_saved = o->store.n;
    o->sku_saved = o->sku.n;
    o->fstr_saved = o->fstr.n;
    return rc;
}

int eng__ev_load_org(eng__ev *ev, eng__evorg *o)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "e/%04x/x/", (unsigned)o->code);
    loader l = {ev, o, 0};
    ev->nrekey = 0;
    int rc = eng__kv_scan(ev->e->store, ENG__K(prefix), load_dict_cb, &l);
    if (!rc && !(rc = eng__ev_load_touches(ev, o)))
        rc = eng__ev_load_txns(ev, o);
    /* A store's reads need not be one snapshot (PostgreSQL: one per statement): a batch of
     * another engine committed after the scan above may have put rows naming its new
     * contexts (or strings) in what was read since. Its dictionary records were committed
     * with or before those rows, so reading on from the last one seen covers them. */
    if (!rc)
        rc = eng__ev_dict_catch_up(ev, o);
    if (!rc) /* the sends whose key hash is not stored, now that every prefix is read */
        rc = eng__sends_rekey(ev, o, ENG__SEND_INDEX_LATER);
    o->km_loaded = o->nctx; /* their sends are in the hash index (keymap.c) */
    return rc;
}

int eng__ev_dict_catch_up(eng__ev *ev, eng__evorg *o)
{
    loader l = {ev, o, 0};
    for (;;) {
        char key[48];
        eng__ev_key(key, sizeof key, o->code, "x", o->next_dict_seq, 0);
        eng__val v;
        int rc = eng__kv_get(ev->e->store, ENG__K(key), &v);
        if (eng__absent(rc))
            return ENG_OK;
        if (rc)
            return rc;
        uint32_t before = o->next_dict_seq;
        rc = load_dict_cb(key, strlen(key), v.data, v.len, &l);
        eng__val_free(ev->e->store, &v);
        if (rc)
            return rc;
        if (o->next_dict_seq == before) /* cannot happen: the key named it */
            return eng__err(ENG_ECORRUPT, key, "dictionary record out of sequence");
    }
}

int eng__ev_load_step(eng__ev *ev, size_t rows)
{
    ENG__WORK(rows);
    return ev->load_pg ? eng__prog_batch(ev->load_pg, ev->load_rows += rows) : ENG_OK;
}

/* The whole state, read once per engine: at 10^6 touches and transactions that
 * is hundreds of ms of decoding, so it reports "events.load" (rows so far) and
 * a cancel there leaves nothing behind (the caller frees what was read). */
static int load(eng__ev *ev)
{
    eng__prog pg;
    loader l = {ev, NULL, 0};
    int rc = eng__prog_start(&pg, ev->e, "events.load", 0);
    ev->load_pg = &pg;
    if (!rc)
        rc = eng__kv_scan(ev->e->store, "e/g/", 4, load_org_cb, &l);
    for (uint32_t i = 0; i < ev->norgs && !rc; i++) {
        eng__evorg *o = ev->orgs[i];
        if (!o)
            continue;
        rc = eng__ev_load_org(ev, o);
    }
    if (!rc)
        rc = eng__sends_reindex(&ev->s, &ev->e->mem, &pg);
    if (!rc)
        rc = eng__ev_load_pending(ev);
    if (!rc)
        rc = eng__prog_end(&pg);
    ev->load_pg = NULL;
    return rc;
}

int eng__ev_get(eng_engine *e, eng__ev **out)
{
    eng__ev *ev = eng__slot_get(e, ENG__SLOT_EVENTS);
    if (ev) {
        *out = ev;
        return ENG_OK;
    }
    ev = eng__calloc(&e->mem, 1, sizeof *ev);
    if (!ev)
        return eng__nomem();
    ev->e = e;
    eng__wr_init(&ev->blk, &e->mem);
    for (int k = 0; k < ENG__TSEG_PARTS; k++)
        eng__wr_init(&ev->par[k], &e->mem);
    int rc = load(ev);
    if (rc) {
        eng__ev_free(e, ev);
        return eng__err_wrap(rc, "loading the events state");
    }
    eng__slot_set(e, ENG__SLOT_EVENTS, ev, eng__ev_free);
    eng__slot_set_watch(e, ENG__SLOT_EVENTS, eng__ev_watch);
    eng__slot_set_invalidate(e, ENG__SLOT_EVENTS, eng__ev_invalidate);
    eng__slot_set_catch_up(e, ENG__SLOT_EVENTS, eng__ev_catch_up_inside);
    *out = ev;
    return ENG_OK;
}
