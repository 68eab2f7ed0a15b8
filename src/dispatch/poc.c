/* POC recipients: the delivery setting by which a message also goes to the
 * org's points of contact (message.delivery.poc). Each execution (occurrence)
 * hands every POC recipient one copy per creative channel its address fits
 * (an email address: email; a phone number: SMS, WhatsApp, Viber, RCS),
 * before the audience's first chunk. A copy is rendered as the preview's
 * sample (every attribute missing, so the defaults show; a pool's
 * `{{coupon_code}}` as COUPON-CODE, no code drawn; `{{tiny_url}}` the long
 * link), goes through the transport with the rate limits, and is worked
 * exactly once like a send: attempt stored, transport call without the lock,
 * outcome stored; retried with the same key
 * `<org>/c<campaign>/m<message>.<version>/o<occurrence>/poc<i>/<channel>`.
 * POC recipients are not the audience: no ledger entry of a customer, no
 * touch, no credits, nothing in the execution's counters or the reports. The
 * execution finishes only when every copy is final.
 *
 * Record d/q/<msg:016x>/<occ:08x> (0x0604): per copy the POC index, channel,
 * state, attempts and retry time. Cached in the execution as poc_state
 * (0 none owed or all final, 1 copies not final: poc_due, poc_open). */
#include "dispatch/dispatch_impl.h"
#include "audience/audience_link.h"

#include <stdio.h>

#define SAMPLE_COUPON "COUPON-CODE"

typedef struct lpoc {
    uint8_t poc, ch, state, attempts;
    eng_time next_at;
} lpoc;

static void poc_key(char *buf, size_t cap, uint64_t msg, uint32_t occ)
{
    snprintf(buf, cap, "d/q/%016llx/%08x", (unsigned long long)msg, occ);
}

/* ENG_ENOTFOUND when the execution has no record yet. */
static int poc_load(eng_engine *e, uint64_t msg, uint32_t occ, lpoc **out, uint32_t *n)
{
    char key[64];
    poc_key(key, sizeof key, msg, occ);
    *out = NULL;
    *n = 0;
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_POC, ENG__DSP_SCHEMA, &rec);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    uint64_t cnt = eng__rd_uvar(&r);
    lpoc *a = NULL;
    if (eng__rd_ok(&r) && cnt <= 100u * ENG_CH_COUNT && !(a = eng__calloc(&e->mem, cnt ? cnt : 1, sizeof *a)))
        rc = eng__nomem();
    for (uint64_t i = 0; a && i < cnt; i++) {
        a[i].poc = eng__rd_u8(&r);
        a[i].ch = eng__rd_u8(&r);
        uint8_t sa = eng__rd_u8(&r);
        a[i].state = sa & 7;
        a[i].attempts = sa >> 3;
        if (a[i].state == ENG_LEDGER_RETRY || a[i].state == ENG_LEDGER_UNKNOWN)
            a[i].next_at = eng__rd_svar(&r);
        if (a[i].ch >= ENG_CH_COUNT || a[i].state > ENG_LEDGER_SKIPPED)
            r.err = ENG_ECORRUPT;
    }
    int ok = eng__rd_ok(&r) && !eng__rd_left(&r) && cnt <= 100u * ENG_CH_COUNT;
    eng__rec_free(e->store, &rec);
    if (!rc && !ok)
        rc = eng__err(ENG_ECORRUPT, key, "POC record '%s' does not decode", key);
    if (rc) {
        eng__free(&e->mem, a);
        return rc;
    }
    *out = a;
    *n = (uint32_t)cnt;
    return ENG_OK;
}

static int poc_store(eng_engine *e, uint64_t msg, uint32_t occ, const lpoc *a, uint32_t n)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_uvar(&w, n);
    for (uint32_t i = 0; i < n; i++) {
        eng__wr_u8(&w, a[i].poc);
        eng__wr_u8(&w, a[i].ch);
        eng__wr_u8(&w, (uint8_t)(a[i].state | a[i].attempts << 3));
        if (a[i].state == ENG_LEDGER_RETRY || a[i].state == ENG_LEDGER_UNKNOWN)
            eng__wr_svar(&w, a[i].next_at);
    }
    char key[64];
    poc_key(key, sizeof key, msg, occ);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_POC, ENG__DSP_SCHEMA, &w);
}

/* The copies an execution owes: per POC recipient, each creative channel its address fits. */
static int poc_plan(eng_engine *e, const eng__xcache *xc, lpoc **out, uint32_t *n)
{
    const eng_delivery *d = xc->x.m.spec.delivery;
    *n = 0;
    *out = eng__calloc(&e->mem, d->n_poc * ENG_CH_COUNT + 1, sizeof **out);
    if (!*out)
        return eng__nomem();
    for (size_t i = 0; i < d->n_poc && i < 100; i++) {
        uint32_t fit = eng__poc_channels(d->poc[i]) & xc->dctx.channels;
        for (int ch = 0; ch < ENG_CH_COUNT; ch++)
            if (fit >> ch & 1u)
                (*out)[(*n)++] = (lpoc){(uint8_t)i, (uint8_t)ch, ENG_LEDGER_PENDING, 0, 0};
    }
    return ENG_OK;
}

static eng_time copy_due(const lpoc *a)
{
    return a->state == ENG_LEDGER_PENDING ? 0 : a->next_at;
}

static void cache_from(eng__xcache *xc, const lpoc *a, uint32_t n)
{
    xc->poc_state = 0;
    xc->poc_open = 0;
    xc->poc_due = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (eng__ledger_final(a[i].state))
            continue;
        eng_time t = copy_due(&a[i]);
        if (!xc->poc_open || t < xc->poc_due)
            xc->poc_due = t;
        xc->poc_open++;
        xc->poc_state = 1;
    }
}

int eng__poc_cache(eng_engine *e, eng__xcache *xc)
{
    lpoc *a = NULL;
    uint32_t n = 0;
    int rc = poc_load(e, xc->msg, xc->occ, &a, &n);
    if (eng__absent(rc)) /* not started: every copy owed is due now */
        rc = poc_plan(e, xc, &a, &n);
    if (!rc)
        cache_from(xc, a, n);
    eng__free(&e->mem, a);
    return rc;
}

/* The POC recipient's address with a channel's copy (engine locked): rendered as the sample. */
static int render(eng__runctx *r, eng__xcache *xc, const eng__customer_view_t *view, int ch, eng__wr *w,
                  eng__rendered *out)
{
    const char *coupon = eng__msg_pool(&xc->x.m.spec) ? SAMPLE_COUPON : NULL;
    int dry = xc->dry;
    xc->dry = 1; /* no shortener call: the long link, as in a preview */
    int rc = eng__render_one(r, xc, view, ENG_PREVIEW_SAMPLE, ch, -1, coupon, w, out);
    xc->dry = dry;
    return rc;
}

/* An execution's copies and the answers of one call, for the outcome's batch. */
typedef struct copies {
    lpoc *a;
    uint32_t n;
    const uint32_t *pick;
    uint32_t np;
    const int *status;
    eng_time now;
} copies;

static int store(eng_engine *e, eng__xcache *xc, void *user)
{
    const copies *cp = user;
    return poc_store(e, xc->msg, xc->occ, cp->a, cp->n);
}

static int settle(eng__xcache *xc, void *user)
{
    (void)xc;
    const copies *cp = user;
    for (uint32_t k = 0; k < cp->np; k++) {
        lpoc *c = &cp->a[cp->pick[k]];
        int st = cp->status[k];
        if (st == ENG_SEND_ACCEPTED)
            c->state = ENG_LEDGER_ACCEPTED;
        else if (st == ENG_SEND_REJECTED)
            c->state = ENG_LEDGER_REJECTED;
        else if (c->attempts >= ENG_SEND_MAX_ATTEMPTS)
            c->state = ENG_LEDGER_EXPIRED;
        else {
            c->state = st == ENG_SEND_RETRY ? ENG_LEDGER_RETRY : ENG_LEDGER_UNKNOWN;
            c->next_at = cp->now + eng__backoff(c->attempts);
        }
    }
    return ENG_OK;
}

static void cached(eng__xcache *xc, void *user)
{
    const copies *cp = user;
    cache_from(xc, cp->a, cp->n);
}

int eng__poc_work(eng__runctx *r, eng__xcache *xc, int shared, eng_time ttl)
{
    eng_engine *e = r->e;
    const eng__mem *mem = &e->mem;
    uint64_t msg = xc->msg;
    uint32_t occ = xc->occ;
    eng_time xdue = xc->rec.due;
    if (shared) { /* several engines: under the lease of a pseudo-chunk */
        int got, planned;
        eng_time until;
        int rc = eng__lease_take(e, msg, occ, ENG__POC_CHUNK, ttl, &got, &planned, &until);
        if (rc)
            return rc;
        if (!got) {
            if (!until)
                return ENG_EBUSY; /* lost a race or met a conflict: the caller looks again */
            eng__held_add(e, msg, occ, ENG__POC_CHUNK, until);
            return ENG__NOT_MINE;
        }
    }
    lpoc *a = NULL;
    uint32_t n = 0, np = 0;
    int rc = poc_load(e, msg, occ, &a, &n);
    if (eng__absent(rc))
        rc = poc_plan(e, xc, &a, &n);
    const eng_delivery *dl = xc->x.m.spec.delivery;
    uint32_t *pick = rc ? NULL : eng__calloc(mem, n + 1, sizeof *pick);
    eng__rendered *rd = rc ? NULL : eng__calloc(mem, n + 1, sizeof *rd);
    eng_envelope *env = rc ? NULL : eng__calloc(mem, n + 1, sizeof *env);
    int *status = rc ? NULL : eng__calloc(mem, n + 1, sizeof *status);
    char(*keys)[ENG_SEND_KEY_MAX + 1] = rc ? NULL : eng__calloc(mem, n + 1, sizeof *keys);
    eng__wr w;
    eng__wr_init(&w, mem);
    eng__customer_view_t view;
    if (!rc && (!pick || !rd || !env || !status || !keys))
        rc = eng__nomem();
    if (!rc)
        rc = eng__customer_view(e, xc->dctx.org, &view);
    for (uint32_t i = 0; i < n && !rc; i++) {
        lpoc *c = &a[i];
        if (eng__ledger_final(c->state) || copy_due(c) > r->now)
            continue;
        int why = render(r, xc, &view, c->ch, &w, &rd[np]);
        if (why < 0) {
            rc = why;
        } else if (why > 0) { /* not renderable: never sent (as a customer's send would be skipped) */
            c->state = ENG_LEDGER_SKIPPED;
        } else {
            c->attempts++;
            pick[np++] = i;
        }
    }
    /* Intent: the attempts are stored before the call. */
    copies cp = {a, n, pick, np, status, r->now};
    eng__dsp_at at = {msg, occ, ENG__POC_CHUNK, xdue, shared, 0, 0, 0};
    if (!rc)
        rc = eng__dsp_record(e, &at, np ? ttl : 0, store, xc, &cp); /* on failure xc is gone */
    if (!rc)
        cache_from(xc, a, n);
    if (!rc && np) {
        const char *s = (const char *)w.data;
        for (uint32_t k = 0; k < np; k++) {
            const lpoc *c = &a[pick[k]];
            const eng__rendered *x = &rd[k];
            snprintf(keys[k], sizeof keys[k], "%.*spoc%u/%s", (int)(xc->keypfx_len ? xc->keypfx_len - 1 : 0),
                     xc->keypfx, c->poc, eng_channel_name(c->ch));
            env[k] = (eng_envelope){ENG_ENVELOPE_VERSION, keys[k], c->ch, dl->poc[c->poc], s + x->from,
                                    s + x->subj, s + x->body, x->body_len, xc->x.c.id, msg, occ,
                                    ENG_POC_CUSTOMER, c->attempts, x->segments};
        }
        eng__dsp *dsp = eng__slot_get(e, ENG__SLOT_DISPATCH);
        eng_dispatch_hooks hooks = dsp->hooks;
        eng__log(e, ENG_LOG_INFO, "POC copies: org %s: message %llu, occurrence %u: %u", xc->x.o.id,
                 (unsigned long long)msg, occ, np);
        /* The recipients' strings live in the message of the cache: copied into the arena first, as the
         * cache may be dropped while the lock is let go. */
        size_t *to = eng__calloc(mem, np, sizeof *to);
        for (uint32_t k = 0; to && k < np; k++) {
            to[k] = w.len;
            eng__wr_bytes(&w, env[k].recipient, strlen(env[k].recipient) + 1);
        }
        if (!to || w.err) {
            rc = eng__nomem();
        } else {
            for (uint32_t k = 0; k < np; k++) { /* the arena may have moved */
                const eng__rendered *x = &rd[k];
                s = (const char *)w.data;
                env[k].recipient = s + to[k];
                env[k].sender = s + x->from;
                env[k].subject = s + x->subj;
                env[k].body = s + x->body;
            }
            pthread_mutex_unlock(&e->lock);
            eng__dsp_transmit(e, dsp, hooks.rate_limit, env, np, status);
            pthread_mutex_lock(&e->lock);
            r->rep->batches++;
            r->rep->sent += np;
        }
        eng__free(mem, to);
        eng__dsp_outcome o = {settle, store, cached, 0, &cp};
        rc = rc ? eng__dsp_closed(e, rc) : eng__dsp_record_outcome(r, &at, &o);
    }
    eng__wr_free(&w);
    eng__free(mem, a);
    eng__free(mem, pick);
    eng__free(mem, rd);
    eng__free(mem, env);
    eng__free(mem, status);
    eng__free(mem, keys);
    return rc;
}
