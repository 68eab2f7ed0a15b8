/* Executions in memory: the dispatch slot, the per-execution cache rebuilt
 * from storage (which chunks are planned, which still have sends that are not
 * final, and when they are due), starting an execution (or refusing it with a
 * reason that is stored), and the claims that keep two threads off one chunk. */
#include "dispatch/dispatch_impl.h"
#include "dispatch/coupon.h"

#include <stdio.h>
#include <stdlib.h>

static void xcache_free(eng_engine *e, eng__xcache *xc)
{
    if (xc->strat && xc->strat->close)
        xc->strat->close(xc->strat_state, &xc->dctx);
    for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
        eng__tpl_free(&e->mem, xc->body[ch]);
        eng__tpl_free(&e->mem, xc->subject[ch]);
    }
    for (size_t i = 0; xc->vbody && i < xc->x.m.spec.n_variants; i++)
        eng__tpl_free(&e->mem, xc->vbody[i]);
    eng__free(&e->mem, xc->vbody);
    eng__free(&e->mem, xc->ids);
    eng__free(&e->mem, xc->cstate);
    eng__free(&e->mem, xc->cdue);
    eng__free(&e->mem, xc->ccost);
    eng__free(&e->mem, xc->cstale);
    eng__msg_ctx_free(&xc->x);
    eng__free(&e->mem, xc);
}

static void dsp_free(eng_engine *e, void *p)
{
    eng__dsp *d = p;
    while (d->execs) {
        eng__xcache *n = d->execs->next;
        xcache_free(e, d->execs);
        d->execs = n;
    }
    eng__free(&e->mem, d->claims);
    eng__free(&e->mem, d->held);
    eng__free(&e->mem, d->settled);
    eng__audpos_drop(e, &d->apos);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->rate_lock);
    eng__free(&e->mem, d);
}


eng__dsp *eng__dsp_get(eng_engine *e)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    if (d)
        return d;
    d = eng__calloc(&e->mem, 1, sizeof *d);
    if (!d)
        return NULL;
    if (pthread_cond_init(&d->cond, NULL) != 0) {
        eng__free(&e->mem, d);
        return NULL;
    }
    if (pthread_mutex_init(&d->rate_lock, NULL) != 0) {
        pthread_cond_destroy(&d->cond);
        eng__free(&e->mem, d);
        return NULL;
    }
    eng__slot_set(e, ENG__SLOT_DISPATCH, d, dsp_free);
    eng__slot_set_invalidate(e, ENG__SLOT_DISPATCH, eng__dsp_invalidate);
    eng__slot_set_watch(e, ENG__SLOT_DISPATCH, eng__dsp_watch);
    return d;
}

void eng__dsp_drop(eng_engine *e)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    while (d && d->execs) {
        eng__xcache *n = d->execs->next;
        xcache_free(e, d->execs);
        d->execs = n;
    }
}

void eng__xcache_forget(eng_engine *e, eng__xcache *xc)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    for (eng__xcache **p = d ? &d->execs : NULL; p && *p; p = &(*p)->next)
        if (*p == xc) {
            *p = xc->next;
            xcache_free(e, xc);
            return;
        }
}

int eng__claimed(const eng__dsp *d, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    for (size_t i = 0; i < d->nclaims; i++)
        if (d->claims[i].msg == msg && d->claims[i].occ == occ && d->claims[i].chunk == chunk)
            return 1;
    return 0;
}

/* After a conflict: the cached chunk states hold, but a batch may have set an
 * execution's counters in memory before its commit failed (bump): read them
 * again (one get per cached execution); if that fails, drop the cache. */
static void reread_records(eng_engine *e)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    for (eng__xcache *xc = d ? d->execs : NULL; xc; xc = xc->next) {
        eng__xrec x;
        if (eng__exec_load(e, xc->msg, xc->occ, &x) != ENG_OK) {
            eng__dsp_drop(e);
            return;
        }
        xc->rec = x;
    }
}

int eng__dsp_commit(eng_engine *e, int rc)
{
    if (rc == ENG_OK && (rc = eng__kv_commit(e->store)) == ENG_OK)
        return ENG_OK;
    const eng_error *le = eng_error_last();
    int code = le->code;
    char detail[256], msg[512];
    snprintf(detail, sizeof detail, "%s", le->detail);
    snprintf(msg, sizeof msg, "%s", le->message);
    if (e->store->in_batch)
        eng__kv_rollback(e->store);
    /* A failed commit may have applied: re-derive from storage. A conflict (ENG_EBUSY: a
     * serialization failure, a stale cache refused at begin) applied nothing, and the cached
     * chunk states stay what they were: keep them (rebuilding means scanning the whole ledger,
     * which with several engines made every conflict cost a full reload). */
    if (rc != ENG_EBUSY)
        eng__dsp_drop(e);
    else
        reread_records(e);
    eng__err(code == rc ? code : rc, detail, "%s", msg);
    return rc;
}

/* ---- the cache of one running execution, rebuilt from the ledger ---- */

typedef struct scan_ctx {
    eng_engine *e;
    eng__xcache *xc;
    int rc;
} scan_ctx;

static int scan_chunk(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    scan_ctx *s = u;
    eng__xcache *xc = s->xc;
    char k[80];
    if (klen >= sizeof k || klen < 8)
        return s->rc = eng__err(ENG_ECORRUPT, "d/l", "bad ledger key");
    memcpy(k, key, klen);
    k[klen] = 0;
    uint32_t idx = (uint32_t)strtoul(k + klen - 8, NULL, 16);
    if (idx >= xc->nchunks)
        return s->rc = eng__err(ENG_ECORRUPT, k, "ledger chunk '%s' is past the audience", k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &rec);
    eng__chunk c;
    memset(&c, 0, sizeof c);
    if (rc == ENG_OK)
        rc = eng__chunk_decode(&s->e->mem, k, rec.schema, rec.payload, rec.len, &c);
    if (rc)
        return s->rc = rc;
    c.index = idx;
    eng__chunk_state(xc, &c); /* sends and points awards not final yet, and when they are due */
    eng__chunk_free(&c);
    return 0;
}

int eng__xcache_scan_chunks(eng_engine *e, eng__xcache *xc)
{
    char prefix[64];
    eng__chunk_key(prefix, sizeof prefix, xc->msg, xc->occ, 0);
    size_t plen = strlen(prefix) - 8;
    scan_ctx sc = {e, xc, ENG_OK};
    int rc = eng__kv_scan(e->store, prefix, plen, scan_chunk, &sc);
    return rc ? rc : sc.rc;
}

int eng__xcache_read_chunk(eng_engine *e, eng__xcache *xc, uint32_t idx)
{
    char key[64];
    eng__chunk_key(key, sizeof key, xc->msg, xc->occ, idx);
    eng__val v;
    int rc = eng__kv_get(e->store, ENG__K(key), &v);
    if (rc)
        return rc;
    scan_ctx sc = {e, xc, ENG_OK};
    scan_chunk(key, strlen(key), v.data, v.len, &sc);
    eng__val_free(e->store, &v);
    return sc.rc;
}

static int load_ids(eng_engine *e, eng__xcache *xc)
{
    eng_audience *aud = NULL;
    int rc = eng_message_audience(e, xc->x.a.id, xc->msg, &aud);
    if (rc)
        return rc;
    uint64_t n = 0;
    eng_audience_count(aud, ENG_PART_TEST, &n);
    xc->ids = eng__malloc(&e->mem, (size_t)(n ? n : 1) * sizeof *xc->ids);
    size_t got = 0;
    if (!xc->ids)
        rc = eng__nomem();
    else
        rc = eng_audience_ids(aud, ENG_PART_TEST, 0, xc->ids, (size_t)n, &got);
    eng_audience_free(aud);
    xc->nids = got;
    return rc;
}

static int compile_templates(eng_engine *e, eng__xcache *xc)
{
    const eng_message_spec *s = &xc->x.m.spec;
    int rc = ENG_OK;
    for (size_t i = 0; i < s->n_creatives && !rc; i++) {
        int ch = s->creatives[i].channel;
        if (ch < 0 || ch >= ENG_CH_COUNT)
            continue;
        xc->dctx.channels |= 1u << ch;
        rc = eng__tpl_compile(&e->mem, s->creatives[i].body, ch == ENG_CH_EMAIL, &xc->body[ch]);
        if (!rc && s->creatives[i].subject && *s->creatives[i].subject)
            rc = eng__tpl_compile(&e->mem, s->creatives[i].subject, 0, &xc->subject[ch]);
    }
    if (!rc && s->n_variants) {
        xc->vbody = eng__calloc(&e->mem, s->n_variants, sizeof *xc->vbody);
        if (!xc->vbody)
            rc = eng__nomem();
        for (size_t i = 0; i < s->n_variants && !rc; i++)
            rc = eng__tpl_compile(&e->mem, s->variants[i].body, s->variants[i].channel == ENG_CH_EMAIL,
                                  &xc->vbody[i]);
    }
    for (size_t i = 0; i < s->delivery->n_senders; i++) {
        int ch = s->delivery->senders[i].channel;
        if (ch >= 0 && ch < ENG_CH_COUNT)
            xc->sender[ch] = s->delivery->senders[i].id;
    }
    return rc;
}

static int uses_unsubscribe(const eng_message_spec *s)
{
    for (size_t i = 0; i < s->n_creatives; i++)
        if (s->creatives[i].body && strstr(s->creatives[i].body, "unsubscribe"))
            return 1;
    for (size_t i = 0; i < s->n_variants; i++)
        if (s->variants[i].body && strstr(s->variants[i].body, "unsubscribe"))
            return 1;
    return 0;
}

/* Delivery settings ask for tiny URLs and the content has a {{tiny_url}} tag. */
static int uses_tiny(const eng_message_spec *s)
{
    if (!s->delivery->tiny_url)
        return 0;
    for (size_t i = 0; i < s->n_creatives; i++)
        if ((s->creatives[i].body && strstr(s->creatives[i].body, "tiny_url")) ||
            (s->creatives[i].subject && strstr(s->creatives[i].subject, "tiny_url")))
            return 1;
    for (size_t i = 0; i < s->n_variants; i++)
        if (s->variants[i].body && strstr(s->variants[i].body, "tiny_url"))
            return 1;
    return 0;
}

static int has_ad_creative(const eng_message_spec *s)
{
    for (size_t i = 0; i < s->n_creatives; i++)
        if (eng__ad_channel(s->creatives[i].channel))
            return 1;
    return 0;
}

static int ad_hook(eng_engine *e)
{
    eng__dsp *d = eng__dsp_get(e);
    return d && d->hooks.ad_export;
}

/* Why a new execution may not start ("" when it may). A failure to find out (out of
 * memory while hashing) is an error, never a refusal: a refusal is stored for good. */
static int refusal(eng_engine *e, eng__xcache *xc, char *why, size_t cap)
{
    const eng__msg *m = &xc->x.m;
    uint8_t h[32];
    why[0] = 0;
    int rc = eng__msg_hash(&e->mem, &xc->x.c.spec, &m->spec, h);
    if (rc)
        return rc;
    if (!m->approved || memcmp(h, m->approved_hash, 32) != 0)
        snprintf(why, cap, "the approval does not match the current content");
    else if (m->spec.strategy == ENG_STRATEGY_XENGAGE && m->decided_at + 48 * ENG_HOUR > m->spec.schedule->at)
        snprintf(why, cap, "an X-Engage message approved less than 48 hours before its schedule does not execute");
    else if (!eng__strategy_get(m->spec.strategy))
        snprintf(why, cap, "strategy %d cannot be executed by this build", m->spec.strategy);
    else if (has_ad_creative(&m->spec) && !ad_hook(e))
        snprintf(why, cap, "the message has an ad creative but no ad export callback is set "
                           "(eng_dispatch_hooks_set); ad audiences never go through the transport");
    else if (uses_tiny(&m->spec) && !(eng__dsp_get(e) && eng__dsp_get(e)->hooks.tiny_url))
        snprintf(why, cap, "the delivery settings ask for tiny URLs but no link shortener is set "
                           "(eng_dispatch_hooks_set, tiny_url)");
    else if (eng__msg_points(&m->spec) && !(eng__dsp_get(e) && eng__dsp_get(e)->hooks.points))
        snprintf(why, cap, "the message awards points but no points callback is set "
                           "(eng_dispatch_hooks_set, points)");
    else if (uses_unsubscribe(&m->spec) && !xc->has_unsub)
        snprintf(why, cap, "the content has {{unsubscribe}} but org '%s' has no unsubscribe set-up "
                           "(eng_unsubscribe_setup)", xc->x.o.id);
    return ENG_OK;
}

/* A message handing out unique codes needs its pool, of the right kind, with a
 * code left for every test-group customer who holds none yet. */
static int coupon_refusal(eng_engine *e, eng__xcache *xc, char *why, size_t cap)
{
    const eng_message_spec *s = &xc->x.m.spec;
    const char *pool = eng__msg_pool(s);
    if (!pool)
        return ENG_OK;
    int kind = s->incentive->coupon_source == ENG_COUPON_GENERATED ? ENG_COUPON_POOL_GENERATED
                                                                  : ENG_COUPON_POOL_UPLOADED;
    eng__cpool p;
    int rc = *pool ? eng__cpool_load(e, xc->x.o.id, pool, &p) : ENG_ENOTFOUND;
    if (eng__absent(rc)) {
        snprintf(why, cap, "the coupon pool '%s' does not exist (eng_coupon_pool_%s)", pool,
                 kind == ENG_COUPON_POOL_GENERATED ? "generate" : "upload");
        return ENG_OK;
    }
    if (rc)
        return rc;
    if (p.kind != kind) {
        snprintf(why, cap, "the coupon pool '%s' is %s, the message's incentive wants %s codes", pool,
                 p.kind == ENG_COUPON_POOL_GENERATED ? "generated" : "uploaded",
                 kind == ENG_COUPON_POOL_GENERATED ? "generated" : "uploaded");
        return ENG_OK;
    }
    uint64_t left = p.size - p.drawn, need = xc->nids;
    if (left < need && (rc = eng__coupon_missing(e, xc->x.o.id, pool, xc->ids, (size_t)xc->nids, &need)))
        return rc;
    if (left < need)
        snprintf(why, cap, "the coupon pool '%s' has %llu codes left; the audience needs %llu", pool,
                 (unsigned long long)left, (unsigned long long)need);
    return ENG_OK;
}

static int start_exec(eng_engine *e, eng__xcache *xc, eng_time due, uint32_t chunk_size)
{
    char why[256];
    int rc = refusal(e, xc, why, sizeof why);
    if (rc)
        return rc;
    eng__xrec *r = &xc->rec;
    memset(r, 0, sizeof *r);
    r->version = xc->x.m.decided_at;
    r->due = due;
    r->chunk_size = chunk_size;
    if (!why[0]) {
        rc = load_ids(e, xc);
        if (rc == ENG_ENOTFOUND || rc == ENG_ESTATE) {
            snprintf(why, sizeof why, "%s", eng_error_last()->message);
            eng_error_clear(); /* the refusal's reason, not the call's error */
            rc = ENG_OK;
        } else if (rc == ENG_OK) {
            rc = coupon_refusal(e, xc, why, sizeof why);
        }
        if (rc)
            return rc;
    }
    r->state = why[0] ? ENG_EXEC_REFUSED : ENG_EXEC_RUNNING;
    r->audience = xc->nids;
    snprintf(r->reason, sizeof r->reason, "%s", why);
    if ((rc = eng__kv_begin(e->store)))
        return rc;
    rc = eng__exec_store(e, xc->msg, xc->occ, r);
    if (rc == ENG_OK && r->state == ENG_EXEC_RUNNING && xc->x.m.state == ENG_STATE_APPROVED) {
        xc->x.m.state = ENG_STATE_EXECUTING;
        rc = eng__msg_put_audited(e, xc->x.o.id, xc->x.a.id, &xc->x.m, "start");
    }
    if ((rc = eng__dsp_commit(e, rc)) == ENG_OK) {
        if (r->state == ENG_EXEC_RUNNING)
            eng__log(e, ENG_LOG_INFO, "execution started: org %s: message %llu, occurrence %u: %llu recipients",
                     xc->x.o.id, (unsigned long long)xc->msg, xc->occ, (unsigned long long)r->audience);
        else
            eng__log(e, ENG_LOG_WARN, "execution refused: org %s: message %llu, occurrence %u: %s", xc->x.o.id,
                     (unsigned long long)xc->msg, xc->occ, r->reason);
    }
    return rc;
}

static int finish_load(eng_engine *e, eng__xcache *xc, eng_time due, int dry);

static int load_unsub(eng_engine *e, eng__xcache *xc)
{
    int rc = eng__unsub_load(e, xc->x.o.id, &xc->unsub);
    xc->has_unsub = rc == ENG_OK;
    return eng__absent(rc) ? ENG_OK : rc;
}

static int xcache_load(eng_engine *e, const char *actor, uint64_t msg, uint32_t occ, eng_time due,
                       eng__xcache *xc)
{
    int rc = eng__msg_ctx_load(e, actor, msg, ENG_OP_EXECUTE, &xc->x);
    if (rc)
        return rc;
    xc->msg = msg;
    xc->occ = occ;
    if ((rc = load_unsub(e, xc)))
        return rc;
    rc = eng__exec_load(e, msg, occ, &xc->rec);
    if (eng__absent(rc)) {
        unsigned bs = e->transport.batch_size ? e->transport.batch_size : ENG__CHUNK_DEFAULT;
        rc = start_exec(e, xc, due, bs);
    } else if (rc == ENG_OK && xc->rec.state == ENG_EXEC_RUNNING) {
        rc = load_ids(e, xc);
        if (rc == ENG_OK && xc->nids != xc->rec.audience)
            rc = eng__err(ENG_ECORRUPT, "message.audience", "the frozen audience of message %llu changed size",
                          (unsigned long long)msg);
    }
    if (rc || xc->rec.state != ENG_EXEC_RUNNING)
        return rc;
    xc->nchunks = (uint32_t)((xc->nids + xc->rec.chunk_size - 1) / xc->rec.chunk_size);
    size_t nc = xc->nchunks ? xc->nchunks : 1;
    xc->cstate = eng__calloc(&e->mem, nc, 1);
    xc->cdue = eng__calloc(&e->mem, nc, sizeof *xc->cdue);
    xc->ccost = eng__calloc(&e->mem, nc, sizeof *xc->ccost);
    if (!xc->cstate || !xc->cdue || !xc->ccost)
        return eng__nomem();
    if ((rc = eng__xcache_scan_chunks(e, xc)) || (rc = finish_load(e, xc, due, 0)))
        return rc;
    return eng__poc_cache(e, xc); /* after the templates: it needs the creative channels */
}

/* Templates, key prefix and strategy: what working (or dry-running) an execution needs. */
static int finish_load(eng_engine *e, eng__xcache *xc, eng_time due, int dry)
{
    int rc;
    xc->dctx = (eng__dctx){e, xc->x.o.id, xc->x.c.id, xc->msg, xc->occ, xc->rec.version, &xc->x.m.spec,
                           &xc->x.o.settings, 0, due, xc->x.a.id, dry, eng__dsp_units, xc};
    if ((rc = compile_templates(e, xc)))
        return rc;
    xc->keypfx_len = eng__send_key_prefix(xc->keypfx, sizeof xc->keypfx, xc->x.o.id, xc->x.c.id, xc->msg,
                                          xc->rec.version, xc->occ);
    xc->strat = eng__strategy_get(xc->x.m.spec.strategy);
    if (!xc->strat)
        return eng__err(ENG_EUNSUPPORTED, "message.strategy", "strategy %d cannot be executed",
                        xc->x.m.spec.strategy);
    if (xc->strat->open && (rc = xc->strat->open(&xc->dctx, &xc->strat_state))) {
        xc->strat = NULL;
        return rc;
    }
    return ENG_OK;
}

int eng__xcache_dry(eng_engine *e, const char *actor, uint64_t msg, eng__xcache **out)
{
    *out = NULL;
    eng__xcache *xc = eng__calloc(&e->mem, 1, sizeof *xc);
    if (!xc)
        return eng__nomem();
    int rc = eng__msg_ctx_load(e, actor, msg, ENG_OP_READ, &xc->x);
    if (rc) {
        eng__free(&e->mem, xc);
        return rc;
    }
    xc->msg = msg;
    xc->dry = 1;
    if ((rc = load_unsub(e, xc))) {
        xcache_free(e, xc);
        return rc;
    }
    xc->rec.state = ENG_EXEC_RUNNING;
    xc->rec.version = xc->x.m.decided_at;
    xc->rec.chunk_size = e->transport.batch_size ? e->transport.batch_size : ENG__CHUNK_DEFAULT;
    if ((rc = load_ids(e, xc)) == ENG_OK) {
        xc->rec.audience = xc->nids;
        xc->nchunks = (uint32_t)((xc->nids + xc->rec.chunk_size - 1) / xc->rec.chunk_size);
        rc = finish_load(e, xc, 0, 1);
    }
    if (rc) {
        xcache_free(e, xc);
        return rc;
    }
    *out = xc;
    return ENG_OK;
}

int eng__xcache_preview(eng_engine *e, const char *actor, uint64_t msg, int op, eng__xcache **out)
{
    *out = NULL;
    eng__xcache *xc = eng__calloc(&e->mem, 1, sizeof *xc);
    if (!xc)
        return eng__nomem();
    int rc = eng__msg_ctx_load(e, actor, msg, op, &xc->x);
    if (rc) {
        eng__free(&e->mem, xc);
        return rc;
    }
    xc->msg = msg;
    xc->dry = 1;
    xc->rec.version = xc->x.m.decided_at;
    if ((rc = load_unsub(e, xc)) == ENG_OK) {
        xc->dctx = (eng__dctx){e, xc->x.o.id, xc->x.c.id, xc->msg, 0, xc->rec.version, &xc->x.m.spec,
                               &xc->x.o.settings, 0, 0, xc->x.a.id, 1, eng__dsp_units, xc};
        rc = compile_templates(e, xc);
        xc->keypfx_len = eng__send_key_prefix(xc->keypfx, sizeof xc->keypfx, xc->x.o.id, xc->x.c.id, xc->msg,
                                              xc->rec.version, 0);
    }
    if (rc) {
        xcache_free(e, xc);
        return rc;
    }
    *out = xc;
    return ENG_OK;
}

void eng__xcache_free(eng_engine *e, eng__xcache *xc)
{
    xcache_free(e, xc);
}

int eng__xcache_get(eng_engine *e, const char *actor, uint64_t msg, uint32_t occ, eng_time due, eng__xcache **out)
{
    *out = NULL;
    eng__dsp *d = eng__dsp_get(e);
    if (!d)
        return eng__nomem();
    for (eng__xcache *xc = d->execs; xc; xc = xc->next)
        if (xc->msg == msg && xc->occ == occ) {
            *out = xc;
            return ENG_OK;
        }
    eng__xcache *xc = eng__calloc(&e->mem, 1, sizeof *xc);
    if (!xc)
        return eng__nomem();
    int rc = xcache_load(e, actor, msg, occ, due, xc);
    if (rc) {
        xcache_free(e, xc);
        return rc;
    }
    xc->next = d->execs;
    d->execs = xc;
    *out = xc;
    return ENG_OK;
}
