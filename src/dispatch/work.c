/* Working one execution, chunk by chunk:
 *   1. (locked) plan the chunk if new: reachability now, the strategy's choice;
 *      pick its sends that are due; re-check reachability of each (an
 *      unsubscribe that arrived mid-run is honoured: the send is skipped);
 *      render the envelopes; store the chunk with the attempts counted (intent).
 *   2. (unlocked) hand the envelopes to the transport in batches.
 *   3. (locked) store the outcomes, the credits and the counters in one batch.
 * A chunk is claimed by one thread from 1 to 3. Nothing in memory is trusted
 * after a storage error: the call fails and the next one re-reads the ledger. */
#include "dispatch/dispatch_impl.h"
#include "audience/audience_link.h"
#include "dispatch/coupon.h"

#include <stdio.h>
#include <time.h>

#define BACKOFF_BASE ((eng_time)60 * 1000)
#define BACKOFF_MAX ENG_HOUR
#define BLOCKED 1   /* work_chunk: waiting for credits (not an error) */
#define NOT_MINE ENG__NOT_MINE
#define RETRIES ENG__DSP_RETRIES

enum { SKIP_RENDER = ENG_UNREACH_RENDER }; /* skip reason beyond ENG__UNREACH_*: the content could not be rendered */
#define LATER 100 /* build: the host's shortener failed; the send is tried again after a backoff */

eng_time eng__backoff(unsigned attempts)
{
    unsigned k = attempts > 1 ? attempts - 1 : 0;
    eng_time b = BACKOFF_BASE << (k > 10 ? 10 : k);
    return b > BACKOFF_MAX ? BACKOFF_MAX : b;
}

static int popcount32(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* Decide a new chunk: one entry per customer, one send per chosen channel. */
static int plan_chunk(eng__runctx *r, eng__xcache *xc, uint32_t idx, eng__chunk *c)
{
    eng_engine *e = r->e;
    uint64_t lo = (uint64_t)idx * xc->rec.chunk_size, hi = lo + xc->rec.chunk_size;
    if (hi > xc->nids)
        hi = xc->nids;
    uint32_t n = (uint32_t)(hi - lo);
    memset(c, 0, sizeof *c);
    c->mem = &e->mem;
    c->index = idx;
    c->cust = eng__calloc(&e->mem, n ? n : 1, sizeof *c->cust);
    eng__dcust *in = eng__calloc(&e->mem, n ? n : 1, sizeof *in);
    eng__dchoice *out = eng__calloc(&e->mem, n ? n : 1, sizeof *out);
    eng__customer_view_t view;
    int rc = !c->cust || !in || !out ? eng__nomem() : eng__customer_view(e, xc->dctx.org, &view);
    for (uint32_t i = 0; i < n && !rc; i++) {
        in[i].id = xc->ids[lo + i];
        in[i].reach = eng__view_reach(&view, in[i].id, xc->dctx.channels);
    }
    xc->dctx.now = r->now;
    ENG__WORK(n);
    if (!rc && n)
        rc = xc->strat->choose(xc->strat_state, &xc->dctx, in, n, out);
    uint32_t nsend = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        eng__lcust *k = &c->cust[i];
        k->id = in[i].id;
        k->planned = out[i].channels & in[i].reach; /* never a channel the customer cannot be reached on */
        k->variant = out[i].variant;
        k->rule = out[i].rule;
        k->detail = out[i].detail;
        k->prop = out[i].propensity;
        k->reach = in[i].reach;
        if (!k->planned && !(in[i].reach & xc->dctx.channels)) { /* else the strategy chose none (X-Engage) */
            for (int ch = 0; ch < ENG_CH_COUNT && !k->unreach; ch++)
                if (xc->dctx.channels >> ch & 1u)
                    k->unreach = (uint8_t)eng__view_unreachable(&view, ch, k->id);
            if (!k->unreach)
                k->unreach = ENG__UNREACH_NO_CONTACT;
        }
        nsend += (uint32_t)popcount32(k->planned);
    }
    c->ncust = n;
    if (!rc) {
        c->send = eng__calloc(&e->mem, nsend ? nsend : 1, sizeof *c->send);
        if (!c->send)
            rc = eng__nomem();
    }
    for (uint32_t i = 0; i < n && !rc; i++)
        for (int ch = 0; ch < ENG_CH_COUNT; ch++)
            if (c->cust[i].planned >> ch & 1u)
                c->send[c->nsend++] = (eng__lsend){i, (uint8_t)ch, ENG_LEDGER_PENDING, 0, 0, 0};
    eng__free(&e->mem, in);
    eng__free(&e->mem, out);
    if (rc)
        eng__chunk_free(c);
    return rc;
}

/* One envelope being built: offsets into the arena until it is complete. */
typedef struct pend {
    uint32_t send;
    size_t key, to, from, subj, body, body_len;
    uint32_t segments;
    int64_t cost;
} pend;

/* A send handed over before with no answer it can trust (unknown, or a crash before its outcome)
 * may have arrived. A retry answer settles only its own attempt, so after more than one attempt
 * it stays in doubt: every send that expires is in doubt (and keeps its key for the provider's
 * receipts, store_doubt); one that is not when its customer leaves is skipped. */
static int in_doubt(const eng__lsend *s)
{
    return s->state == ENG_LEDGER_UNKNOWN || (s->state == ENG_LEDGER_PENDING && s->attempts > 0) ||
           (s->state == ENG_LEDGER_RETRY && s->attempts > 1);
}

static size_t put_str(eng__wr *w, const char *s, size_t n)
{
    size_t at = w->len;
    eng__wr_bytes(w, s, n);
    eng__wr_u8(w, 0);
    return at;
}

/* Render the send @p s of chunk @p c into the arena; 0, a skip reason, or a negative error. */
static int build_one(eng__runctx *r, eng__xcache *xc, const eng__customer_view_t *view, const eng__lcust *k, int ch,
                     uint32_t si, const char *coupon, int force, eng__wr *w, pend *p);
enum { FORCE_REACH = 1, NO_HOOKS = 2 }; /* build_one's force bits */

static int build(eng__runctx *r, eng__xcache *xc, const eng__customer_view_t *view, const eng__chunk *c,
                 uint32_t si, const char *coupon, eng__wr *w, pend *p)
{
    const eng__lsend *s = &c->send[si];
    return build_one(r, xc, view, &c->cust[s->cust], s->ch, si, coupon, 0, w, p);
}

int eng__render_one(eng__runctx *r, eng__xcache *xc, const struct eng__customer_view_t *view, uint32_t customer, int ch,
                    int variant, const char *coupon, eng__wr *w, eng__rendered *out)
{
    eng__lcust k;
    memset(&k, 0, sizeof k);
    k.id = customer;
    k.variant = (int16_t)variant;
    pend p;
    memset(&p, 0, sizeof p);
    int why = build_one(r, xc, view, &k, ch, 0, coupon, FORCE_REACH, w, &p);
    *out = (eng__rendered){p.key, p.to, p.from, p.subj, p.body, p.body_len, p.segments, p.cost};
    return why;
}

int eng__dsp_units(const eng__dctx *ctx, int ch, const uint32_t *ids, size_t n, uint8_t *out)
{
    eng__xcache *xc = ctx->units_user;
    memset(out, 1, n);
    if (ch != ENG_CH_SMS || !xc || !xc->body[ch] || !n)
        return ENG_OK;
    eng__customer_view_t view;
    int rc = eng__customer_view(ctx->e, ctx->org, &view);
    if (rc)
        return rc;
    eng__runctx r = {ctx->e, ctx->actor, ctx->now, NULL, NULL, {0}, 0};
    const char *coupon = eng__msg_pool(&xc->x.m.spec) ? "COUPON-CODE" : NULL; /* as a preview renders it */
    eng__wr w;
    eng__wr_init(&w, &ctx->e->mem);
    for (size_t i = 0; i < n && !rc; i++) {
        eng__lcust k;
        memset(&k, 0, sizeof k);
        k.id = ids[i];
        k.variant = -1;
        pend p;
        w.len = 0;
        int why = build_one(&r, xc, &view, &k, ch, 0, coupon, FORCE_REACH | NO_HOOKS, &w, &p);
        if (why < 0)
            rc = why;
        else if (why == 0)
            out[i] = (uint8_t)(p.segments > 255 ? 255 : p.segments ? p.segments : 1);
    }
    eng__wr_free(&w);
    return rc;
}

/* force: FORCE_REACH renders whatever the customer's reachability (a preview or a test send); NO_HOOKS
 * renders {{tiny_url}} as the long link without asking the host. */
static int build_one(eng__runctx *r, eng__xcache *xc, const eng__customer_view_t *view, const eng__lcust *k, int ch,
                     uint32_t si, const char *coupon, int force, eng__wr *w, pend *p)
{
    eng_engine *e = r->e;
    int why = force & FORCE_REACH ? 0 : eng__view_unreachable(view, ch, k->id);
    if (why)
        return why;
    if (coupon && !*coupon && !force)
        return ENG_UNREACH_NO_COUPON;
    char key[ENG_SEND_KEY_MAX + 1];
    size_t kl = eng__send_key_tail(key, sizeof key, xc->keypfx, xc->keypfx_len, k->id, ch);
    size_t tl = 0;
    const char *to = eng__view_contact(view, ch, k->id, &tl);
    char adh[65];
    if (eng__ad_channel(ch)) { /* an ad audience carries the hashed identifier, never the contact */
        if ((!to || !eng__ad_hash(ch, to, tl, adh)) && !force)
            return ENG_UNREACH_NO_CONTACT;
        to = adh;
        tl = 64;
    }
    const char *from = xc->sender[ch] ? xc->sender[ch] : "";
    memset(p, 0, sizeof *p);
    p->send = si;
    p->key = put_str(w, key, kl);
    p->to = put_str(w, to ? to : "", to ? tl : 0);
    p->from = put_str(w, from, strlen(from));
    const eng_incentive *inc = xc->x.m.spec.incentive;
    eng__rctx rc = {e, k->id, ch,
                    coupon                                                                            ? coupon
                    : inc->kind == ENG_INCENTIVE_COUPON && inc->coupon_source == ENG_COUPON_COMMON ? inc->coupon_code
                                                                                                   : NULL,
                    NULL, xc->x.c.spec.name, xc->dctx.org, NULL, NULL, NULL};
    eng_tiny_url_request tq;
    eng__dsp *dsp = eng__slot_get(e, ENG__SLOT_DISPATCH);
    if (xc->x.m.spec.delivery->tiny_url && !xc->dry && !(force & NO_HOOKS) && dsp && dsp->hooks.tiny_url) {
        tq = (eng_tiny_url_request){ENG_TINY_URL_REQUEST_VERSION, key, "", xc->x.c.id, xc->msg, xc->occ, k->id, ch};
        rc.tiny = dsp->hooks.tiny_url;
        rc.tiny_user = dsp->hooks_user;
        rc.tiny_req = &tq;
    }
    char unsub[800];
    if (xc->has_unsub && (eng__tpl_has_unsubscribe(xc->body[ch]) || eng__tpl_has_unsubscribe(xc->subject[ch]) ||
                          (k->variant >= 0 && eng__tpl_has_unsubscribe(xc->vbody[k->variant])))) {
        if (!eng__unsub_url(&xc->unsub, xc->x.o.id, xc->x.c.id, k->id, ch, unsub, sizeof unsub)) {
            w->len = p->key;
            return SKIP_RENDER;
        }
        rc.unsubscribe = unsub;
    }
    p->subj = w->len;
    if (xc->subject[ch]) {
        int err = eng__tpl_render(xc->subject[ch], &rc, w);
        if (err == ENG__RENDER_LATER)
            w->len = p->key;
        if (err)
            return err == ENG__RENDER_LATER ? LATER : err;
        /* A header value with a line break could inject headers: refuse the send. */
        if (memchr(w->data + p->subj, '\n', w->len - p->subj) || memchr(w->data + p->subj, '\r', w->len - p->subj)) {
            w->len = p->key;
            return SKIP_RENDER;
        }
    }
    eng__wr_u8(w, 0);
    p->body = w->len;
    const eng__tpl *body = xc->body[ch];
    if (k->variant >= 0 && (size_t)k->variant < xc->x.m.spec.n_variants &&
        xc->x.m.spec.variants[k->variant].channel == ch)
        body = xc->vbody[k->variant];
    int err = body ? eng__tpl_render(body, &rc, w) : ENG_OK;
    if (err == ENG__RENDER_LATER)
        w->len = p->key;
    if (err)
        return err == ENG__RENDER_LATER ? LATER : err;
    p->body_len = w->len - p->body;
    p->segments = ch == ENG_CH_SMS ? eng__sms_segments((const char *)w->data + p->body, p->body_len) : 1;
    eng__wr_u8(w, 0);
    p->cost = eng__send_cost(&xc->x.o.settings, ch, p->segments);
    return w->err ? eng__nomem() : 0;
}

/* Add the deltas to the stored execution record (inside the caller's batch). */
int eng__exec_bump(eng_engine *e, eng__xcache *xc, const eng__xrec *d)
{
    eng__xrec x;
    int rc = eng__exec_load(e, xc->msg, xc->occ, &x);
    if (rc)
        return rc;
    x.planned += d->planned;
    x.sends += d->sends;
    x.unreachable += d->unreachable;
    x.accepted += d->accepted;
    x.rejected += d->rejected;
    x.expired += d->expired;
    x.skipped += d->skipped;
    x.credits += d->credits;
    x.pts_planned += d->pts_planned;
    x.pts_awarded += d->pts_awarded;
    x.pts_rejected += d->pts_rejected;
    x.pts_expired += d->pts_expired;
    x.pts_sum += d->pts_sum;
    if ((rc = eng__exec_store(e, xc->msg, xc->occ, &x)) == ENG_OK)
        xc->rec = x;
    return rc;
}

void eng__chunk_state(eng__xcache *xc, const eng__chunk *c)
{
    uint32_t i = c->index;
    xc->cstate[i] = 2;
    xc->cdue[i] = 0;
    xc->ccost[i] = 0;
    for (uint32_t k = 0; k < c->nsend; k++) {
        const eng__lsend *s = &c->send[k];
        if (eng__ledger_final(s->state))
            continue;
        eng_time due = s->state == ENG_LEDGER_PENDING ? 0 : s->next_at;
        if (xc->cstate[i] != 1 || due < xc->cdue[i])
            xc->cdue[i] = due;
        xc->cstate[i] = 1;
        xc->ccost[i] += eng__send_cost(&xc->x.o.settings, s->ch, 1);
    }
    eng_time due;
    int open;
    eng__points_due(c, 0, &due, &open);
    if (open) { /* an award not final yet keeps the chunk open */
        if (xc->cstate[i] != 1 || due < xc->cdue[i])
            xc->cdue[i] = due;
        xc->cstate[i] = 1;
    }
}


/* Credits not yet charged for sends already planned in the org's cached executions. */
static int64_t reserved(eng_engine *e, const char *org)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    int64_t sum = 0;
    for (eng__xcache *xc = d ? d->execs : NULL; xc; xc = xc->next)
        if (xc->rec.state == ENG_EXEC_RUNNING && strcmp(xc->x.o.id, org) == 0)
            for (uint32_t i = 0; i < xc->nchunks; i++)
                if (xc->cstate[i] == 1)
                    sum += xc->ccost[i];
    return sum;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Most messages of a limited channel in one transport call: a tenth of a second's worth. */
static size_t rate_burst(unsigned rate)
{
    return rate >= 10 ? rate / 10 : 1;
}

/* Wait for the slots of one transport call holding count[ch] messages per
 * channel. Each channel's slots follow one another 1/rate apart, from the
 * channel's next free slot; the call goes at the latest last slot, and every
 * channel in it continues 1/rate after that. So between two calls of a channel
 * there is at least (messages of the later call) / rate: in any d seconds at
 * most rate * d + burst messages go. */
static void rate_wait(eng__dsp *d, const unsigned *limit, const size_t *count)
{
    pthread_mutex_lock(&d->rate_lock);
    double now = mono_now(), go = now;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if (limit[ch] && count[ch]) {
            double first = d->rate_next[ch] > now ? d->rate_next[ch] : now;
            double last = first + (double)(count[ch] - 1) / limit[ch];
            if (last > go)
                go = last;
        }
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if (limit[ch] && count[ch])
            d->rate_next[ch] = go + 1.0 / limit[ch];
    pthread_mutex_unlock(&d->rate_lock);
    while ((now = mono_now()) < go) {
        double w = go - now;
        struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

void eng__dsp_transmit(eng_engine *e, eng__dsp *d, const unsigned *limit, const eng_envelope *env, size_t n,
                       int *status);

/* Hand envelopes to the transport, without the engine lock: calls of at most
 * the batch size, cut further and spaced to honour the per-channel rate limits. */
static void transmit(eng_engine *e, eng__dsp *d, const unsigned *limit, const eng_envelope *env, size_t n,
                     int *status)
{
    for (size_t i = 0; i < n; i++)
        status[i] = -1;
    const eng_transport_methods *t = &e->transport;
    size_t bs = t->send_batch ? (t->batch_size ? t->batch_size : ENG__CHUNK_DEFAULT) : 1;
    int limited = 0;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        limited |= limit[ch] != 0;
    for (size_t off = 0; off < n;) {
        size_t m = 0, count[ENG_CH_COUNT] = {0};
        while (off + m < n && m < bs) {
            int ch = env[off + m].channel;
            if (limited && limit[ch] && count[ch] >= rate_burst(limit[ch]))
                break;
            count[ch]++;
            m++;
        }
        if (limited)
            rate_wait(d, limit, count);
        if (t->send_batch) {
            if (t->send_batch(env + off, m, status + off, e->transport_user) < 0)
                for (size_t i = off; i < off + m; i++)
                    status[i] = -1; /* a broken transport: every outcome unknown */
        } else {
            for (size_t i = off; i < off + m; i++)
                if (t->send(&env[i], &status[i], e->transport_user) < 0)
                    status[i] = -1;
        }
        off += m;
    }
    eng_error_clear(); /* the transport's own calls into the engine (allowed) are not the run's errors */
}

void eng__dsp_transmit(eng_engine *e, eng__dsp *d, const unsigned *limit, const eng_envelope *env, size_t n,
                       int *status)
{
    transmit(e, d, limit, env, n, status);
}

/* The customers of chunk @p c whose sends go now and are reachable: the ones a
 * unique coupon code is drawn (or peeked) for. */
static int coupon_customers(eng__runctx *r, eng__xcache *xc, const eng__chunk *c, int dry, uint32_t **ids,
                            uint32_t **at, size_t *n)
{
    eng_engine *e = r->e;
    eng__customer_view_t view;
    *n = 0;
    *ids = eng__calloc(&e->mem, c->ncust ? c->ncust : 1, sizeof **ids);
    *at = eng__calloc(&e->mem, c->ncust ? c->ncust : 1, sizeof **at);
    int rc = !*ids || !*at ? eng__nomem() : eng__customer_view(e, xc->dctx.org, &view);
    int64_t last = -1;
    for (uint32_t i = 0; i < c->nsend && !rc; i++) {
        const eng__lsend *s = &c->send[i];
        if ((int64_t)s->cust == last || eng__ledger_final(s->state) ||
            (!dry && s->state != ENG_LEDGER_PENDING && s->next_at > r->now))
            continue;
        uint32_t id = c->cust[s->cust].id;
        if (eng__view_unreachable(&view, s->ch, id))
            continue;
        last = s->cust; /* a customer's sends are consecutive */
        (*ids)[*n] = id;
        (*at)[(*n)++] = s->cust;
    }
    return rc;
}

/* Codes per chunk customer for a message with unique codes (NULL otherwise):
 * drawn and stored before rendering, or peeked in a dry run. */
static int chunk_coupons(eng__runctx *r, eng__xcache *xc, const eng__chunk *c, int dry, uint64_t *skip,
                         uint64_t *need, char (**out)[ENG_COUPON_CODE_MAX + 1])
{
    eng_engine *e = r->e;
    const char *pool = eng__msg_pool(&xc->x.m.spec);
    *out = NULL;
    if (!pool)
        return ENG_OK;
    uint32_t *ids = NULL, *at = NULL;
    size_t n = 0;
    char(*codes)[ENG_COUPON_CODE_MAX + 1] = NULL;
    char(*all)[ENG_COUPON_CODE_MAX + 1] = eng__calloc(&e->mem, c->ncust ? c->ncust : 1, sizeof *all);
    int rc = all ? coupon_customers(r, xc, c, dry, &ids, &at, &n) : eng__nomem();
    if (!rc && n && !(codes = eng__calloc(&e->mem, n, sizeof *codes)))
        rc = eng__nomem();
    if (!rc && n)
        rc = dry ? eng__coupon_peek(e, xc->x.o.id, pool, ids, n, skip, need, codes)
                 : eng__coupon_draw(e, xc->x.o.id, pool, xc->msg, xc->occ, r->now, ids, n, codes);
    for (size_t i = 0; i < n && !rc; i++)
        memcpy(all[at[i]], codes[i], sizeof *codes);
    eng__free(&e->mem, ids);
    eng__free(&e->mem, at);
    eng__free(&e->mem, codes);
    if (rc) {
        eng__free(&e->mem, all);
        return rc;
    }
    *out = all;
    return ENG_OK;
}

/* Put the ad sends of @p p last, grouped by channel, each group in send order:
 * a group is one part of that channel's audience. */
static int ad_last(eng_engine *e, const eng__chunk *c, pend *p, size_t np)
{
    size_t nad = 0;
    for (size_t i = 0; i < np; i++)
        nad += (size_t)eng__ad_channel(c->send[p[i].send].ch);
    if (!nad)
        return ENG_OK;
    pend *t = eng__malloc(&e->mem, np * sizeof *t);
    if (!t)
        return eng__nomem();
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (!eng__ad_channel(c->send[p[i].send].ch))
            t[k++] = p[i];
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        for (size_t i = 0; eng__ad_channel(ch) && i < np; i++)
            if (c->send[p[i].send].ch == ch)
                t[k++] = p[i];
    memcpy(p, t, np * sizeof *t);
    eng__free(&e->mem, t);
    return ENG_OK;
}

typedef struct adpart {
    size_t from, to; /* envelopes [from, to) */
    char key[ENG_SEND_KEY_MAX + 1];
    eng_ad_manifest m;
} adpart;

/* The ad parts of envelopes ordered by ad_last (engine locked): manifests and the hash list. */
static int ad_parts(eng_engine *e, const eng__xcache *xc, const eng__chunk *c, const eng_envelope *env, size_t np,
                    adpart *parts, size_t *nparts, size_t *nplain, const char ***hashes)
{
    *nparts = 0;
    *nplain = np;
    *hashes = NULL;
    size_t i = 0;
    while (i < np && !eng__ad_channel(env[i].channel))
        i++;
    *nplain = i;
    if (i == np)
        return ENG_OK;
    if (!(*hashes = eng__calloc(&e->mem, np, sizeof **hashes)))
        return eng__nomem();
    for (size_t k = i; k < np; k++)
        (*hashes)[k] = env[k].recipient;
    while (i < np) {
        adpart *a = &parts[(*nparts)++];
        size_t j = i;
        while (j < np && env[j].channel == env[i].channel)
            j++;
        a->from = i;
        a->to = j;
        eng__ad_part_key(a->key, sizeof a->key, xc->keypfx, xc->keypfx_len, c->index, env[i].channel);
        a->m = (eng_ad_manifest){ENG_AD_MANIFEST_VERSION, a->key, xc->x.c.id, xc->msg, xc->occ, env[i].channel,
                                 c->index, (uint64_t)(j - i), {0}};
        eng__ad_list_hash(*hashes + i, j - i, a->m.list_sha256);
        i = j;
    }
    return ENG_OK;
}

/* One part to the host's export callback (engine unlocked); its outcome is every entry's. */
static void ad_export(const eng_dispatch_hooks *h, void *user, const adpart *a, const char **hashes, int *status)
{
    int st = -1;
    if (!h->ad_export || h->ad_export(&a->m, hashes + a->from, &st, user) < 0)
        st = -1;
    eng_error_clear(); /* the hook's own calls into the engine are not the run's errors */
    for (size_t i = a->from; i < a->to; i++)
        status[i] = st;
}

static eng_time lease_ttl(const eng__runctx *r)
{
    return r->opts->version >= 2 && r->opts->lease_ms ? (eng_time)r->opts->lease_ms : ENG__LEASE_DEFAULT;
}

/* After a conflict with another engine, before trying again: a short random
 * pause (up to 1, 2, 4 ... 32 ms as conflicts repeat) with the engine unlocked,
 * so that engines which collided do not collide again at once and the winner's
 * commit gets through. Retrying at once made every retry another collision. */
void eng__conflict_pause(eng_engine *e, unsigned attempt)
{
    static _Thread_local uint64_t seed;
    if (!seed)
        seed = e->instance | 1u;
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    unsigned cap_us = 1000u << (attempt < 5 ? attempt : 5);
    struct timespec ts = {0, (long)(seed % cap_us) * 1000};
    pthread_mutex_unlock(&e->lock);
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&e->lock);
}

/* How long a chunk found leased by another engine is skipped before its lease
 * is read again: at most this, and never past the lease's expiry. The holder
 * may give the lease back long before it expires (its run ended, the engine
 * closed, the chunk waits for credits); trusting the expiry made the other
 * engines idle for a whole lease period (30 s by default) in that case. */
#define HELD_RECHECK ((eng_time)500)

void eng__held_add(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time until)
{
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    eng_time now = eng__now(e);
    if (until > now + HELD_RECHECK)
        until = now + HELD_RECHECK;
    for (size_t i = 0; i < d->nheld;) /* forget expired ones first */
        if (d->held[i].until <= now)
            d->held[i] = d->held[--d->nheld];
        else
            i++;
    if (eng__grow(&e->mem, (void **)&d->held, &d->cheld, d->nheld + 1, sizeof *d->held) == ENG_OK)
        d->held[d->nheld++] = (eng__held){msg, occ, chunk, until};
}

static int held_by_other(const eng__dsp *d, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time now)
{
    for (size_t i = 0; i < d->nheld; i++)
        if (d->held[i].msg == msg && d->held[i].occ == occ && d->held[i].chunk == chunk && d->held[i].until > now)
            return 1;
    return 0;
}

/* Give a lease back early: a chunk waiting for credits, or a run that stops
 * with the chunk unfinished (an error, conflicts without end, the engine
 * closed). Only a lease that is still this engine's is deleted. Best effort:
 * it expires anyway, but until then no other engine may work the chunk. The
 * caller's error stays the call's error. */
static void lease_release(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    int code = eng_error_last()->code;
    char detail[256], text[512];
    snprintf(detail, sizeof detail, "%s", eng_error_last()->detail);
    snprintf(text, sizeof text, "%s", eng_error_last()->message);
    for (unsigned attempt = 0; attempt < 4; attempt++) {
        eng__engine_sync_keep(e, 1u << ENG__SLOT_DISPATCH); /* drop stale caches: else begin refuses */
        int rc = eng__kv_begin_inside(e->store);
        if (rc == ENG_OK) {
            rc = eng__lease_keep(e, msg, occ, chunk, 0);
            if (rc == ENG_OK)
                rc = eng__kv_commit(e->store);
            if (e->store->in_batch)
                eng__kv_rollback(e->store);
        }
        if (rc != ENG_EBUSY)
            break;
        eng__conflict_pause(e, attempt);
    }
    if (code)
        eng__err(code, detail, "%s", text);
    else
        eng_error_clear();
}

/* A chunk's batch of sends, from its intent to its outcome. */
typedef struct batch {
    eng__runctx *r;
    eng__chunk *c;
    const pend *p;
    size_t np;
    const eng_envelope *env;
    const int *status;
    const uint32_t *doubt; /* intent: sends it expires in doubt (their keys kept for receipts) */
    size_t ndoubt;
    eng__xrec *d; /* the chunk's counters */
    int idle;     /* intent: nothing to store, the lease is only given back */
    uint64_t nretry, nunknown;
    uint32_t npts0; /* the chunk's points awards before the outcome: a retried settle adds none again */
} batch;

/* The sends of chunk @p c at @p idx expired in doubt: handed to the events layer in the batch that
 * stores the expiry, so that the provider's receipt of one, before or after, still joins it. */
static int store_doubt(eng_engine *e, const eng__xcache *xc, const eng__chunk *c, const uint32_t *idx, size_t n,
                       eng_time at)
{
    if (!n)
        return ENG_OK;
    enum { KCAP = ENG_SEND_KEY_MAX + 1 };
    eng__dsp_sent *rows = eng__calloc(&e->mem, n, sizeof *rows);
    char *keys = eng__malloc(&e->mem, n * KCAP);
    int rc = rows && keys ? ENG_OK : eng__nomem();
    for (size_t i = 0; i < n && !rc; i++) { /* the key build_one gave the transport */
        const eng__lsend *s = &c->send[idx[i]];
        uint32_t id = c->cust[s->cust].id;
        eng__send_key_tail(keys + i * KCAP, KCAP, xc->keypfx, xc->keypfx_len, id, s->ch);
        rows[i] = (eng__dsp_sent){keys + i * KCAP, id, s->ch};
    }
    if (!rc)
        rc = eng__dsp_touch_sent(e, xc->x.o.id, xc->x.c.id, xc->msg, xc->rec.version, xc->occ, rows, n, at, 1);
    eng__free(&e->mem, keys);
    eng__free(&e->mem, rows);
    return rc;
}

static int store_intent(eng_engine *e, eng__xcache *xc, void *user)
{
    const batch *b = user;
    if (b->idle)
        return ENG_OK;
    int rc = eng__chunk_store(e, xc->msg, xc->occ, b->c);
    if (!rc)
        rc = eng__exec_bump(e, xc, b->d);
    return rc ? rc : store_doubt(e, xc, b->c, b->doubt, b->ndoubt, b->r->now);
}

static int settle_answers(eng__xcache *xc, void *user)
{
    batch *b = user;
    eng__xrec *d = b->d;
    eng__chunk *c = b->c;
    eng_time now = b->r->now;
    memset(d, 0, sizeof *d);
    b->nretry = b->nunknown = 0;
    int64_t charge = 0;
    int points = eng__msg_points(&xc->x.m.spec);
    int rc = ENG_OK;
    for (size_t i = 0; i < b->np && !rc; i++) {
        eng__lsend *s = &c->send[b->p[i].send];
        int st = b->status[i];
        if (st == ENG_SEND_ACCEPTED) {
            s->state = ENG_LEDGER_ACCEPTED;
            charge += b->p[i].cost;
            d->accepted++;
            int added = 0; /* the award is due with the first accepted send, in this same batch */
            if (points)
                rc = eng__points_add(c, s->cust, &added);
        } else if (st == ENG_SEND_REJECTED) {
            s->state = ENG_LEDGER_REJECTED;
            d->rejected++;
        } else {
            if (st == ENG_SEND_RETRY)
                b->nretry++;
            else
                b->nunknown++;
            if (s->attempts >= ENG_SEND_MAX_ATTEMPTS) {
                s->state = ENG_LEDGER_EXPIRED;
                d->expired++;
            } else {
                s->state = st == ENG_SEND_RETRY ? ENG_LEDGER_RETRY : ENG_LEDGER_UNKNOWN;
                s->next_at = now + eng__backoff(s->attempts);
            }
        }
    }
    d->credits = charge;
    /* Counted from the chunk, not from what this try added: after a conflict the outcome is
     * settled again on the same chunk, whose awards the first try already holds. */
    d->pts_planned = c->npts - b->npts0;
    return rc; /* out of memory for an award: nothing recorded; the sends go again with their keys */
}

static int store_outcome(eng_engine *e, eng__xcache *xc, void *user)
{
    const batch *b = user;
    const eng__xrec *d = b->d;
    const eng__chunk *c = b->c;
    int rc = eng__chunk_store(e, xc->msg, xc->occ, c);
    if (!rc)
        rc = eng__exec_bump(e, xc, d);
    if (!rc)
        rc = eng__dsp_charge(e, xc->x.o.id, d->credits);
    if (!rc && xc->x.m.spec.strategy == ENG_STRATEGY_XENGAGE)
        rc = eng__xengage_consume(e, xc->x.o.id, xc->msg, (int64_t)d->accepted * xc->x.o.settings.xengage_cost);
    eng__dsp_sent *rows = NULL;
    uint32_t *doubt = NULL;
    size_t nr = 0, nd = 0;
    if (!rc && d->accepted && !(rows = eng__calloc(&e->mem, d->accepted, sizeof *rows)))
        rc = eng__nomem();
    if (!rc && d->expired && !(doubt = eng__calloc(&e->mem, d->expired, sizeof *doubt)))
        rc = eng__nomem();
    for (size_t i = 0; i < b->np && !rc; i++) {
        const eng__lsend *s = &c->send[b->p[i].send];
        if (s->state == ENG_LEDGER_ACCEPTED)
            rows[nr++] = (eng__dsp_sent){b->env[i].idempotency_key, c->cust[s->cust].id, s->ch};
        else if (s->state == ENG_LEDGER_EXPIRED) /* after ENG_SEND_MAX_ATTEMPTS: in_doubt */
            doubt[nd++] = b->p[i].send;
    }
    if (!rc)
        rc = eng__dsp_touch_sent(e, xc->x.o.id, xc->x.c.id, xc->msg, xc->rec.version, xc->occ, rows, nr, b->r->now,
                                 0);
    if (!rc)
        rc = store_doubt(e, xc, c, doubt, nd, b->r->now);
    eng__free(&e->mem, doubt);
    eng__free(&e->mem, rows);
    return rc;
}

static void after_outcome(eng__xcache *xc, void *user)
{
    const batch *b = user;
    eng__runctx *r = b->r;
    const eng__chunk *c = b->c;
    r->rep->retry += b->nretry;
    r->rep->unknown += b->nunknown;
    eng__chunk_state(xc, c);
    r->rep->accepted += b->d->accepted;
    r->rep->rejected += b->d->rejected;
    r->rep->expired += b->d->expired;
    if (!xc->strat->update)
        return;
    eng__devent ev[64];
    size_t ne = 0;
    for (size_t i = 0; i < b->np; i++) {
        const eng__lsend *s = &c->send[b->p[i].send];
        int kind = s->state == ENG_LEDGER_ACCEPTED   ? ENG__DEV_ACCEPTED
                   : s->state == ENG_LEDGER_REJECTED ? ENG__DEV_REJECTED
                   : s->state == ENG_LEDGER_EXPIRED  ? ENG__DEV_FAILED
                                                     : -1;
        if (kind >= 0)
            ev[ne++] = (eng__devent){c->cust[s->cust].id, s->ch, (uint8_t)kind, r->now};
        if (ne == 64 || (i + 1 == b->np && ne)) {
            if (xc->strat->update(xc->strat_state, &xc->dctx, ev, ne))
                eng__log(r->e, ENG_LOG_WARN, "strategy %s: update failed: %s", xc->strat->name,
                         eng_error_last()->message);
            ne = 0;
        }
    }
}

/* Points awards keep the lease of their chunk as before (points.c): taken in a batch of its
 * own, then the chunk read again under it. NOT_MINE or ENG_EBUSY (the caller looks again)
 * when it cannot be had or the awards are no longer due. */
static int points_lease(eng__runctx *r, eng__xcache *xc, uint32_t idx, eng_time ttl, eng__chunk *c)
{
    eng_engine *e = r->e;
    int got, planned;
    eng_time until, pdue;
    int popen;
    eng__chunk_free(c);
    int rc = eng__lease_take(e, xc->msg, xc->occ, idx, ttl, &got, &planned, &until);
    if (rc)
        return rc;
    if (!got) {
        if (!until)
            return ENG_EBUSY; /* lost a race or met a conflict */
        eng__held_add(e, xc->msg, xc->occ, idx, until);
        return NOT_MINE;
    }
    if ((rc = eng__chunk_load(e, xc->msg, xc->occ, idx, c)))
        return rc;
    if (!eng__points_due(c, r->now, &pdue, &popen)) {
        eng__chunk_free(c);
        return eng__err(ENG_EBUSY, "", "another engine awarded the points meanwhile");
    }
    return ENG_OK;
}

static int work_chunk(eng__runctx *r, eng__xcache *xc, uint32_t idx)
{
    eng_engine *e = r->e;
    eng__chunk c;
    eng__xrec d;
    memset(&d, 0, sizeof d);
    int fresh = xc->cstate[idx] == 0;
    int shared = eng__kv_shared(e->store);
    eng_time ttl = lease_ttl(r);
    int rc;
    uint64_t read_hash = 0;
    if (shared) {
        /* Several engines: the chunk is worked under its lease, taken by the intent batch itself
         * (one batch fewer a chunk): the ledger is read here, outside any batch, and that batch
         * checks it is unchanged. A lease another engine holds is seen first, before any work. */
        eng_time until;
        if ((rc = eng__lease_peek(e, xc->msg, xc->occ, idx, &until)))
            return rc;
        if (until) {
            eng__held_add(e, xc->msg, xc->occ, idx, until);
            return NOT_MINE;
        }
        rc = eng__chunk_load_hash(e, xc->msg, xc->occ, idx, &c, &read_hash);
        fresh = rc == ENG_ENOTFOUND; /* the ledger, not this engine's cache, says whether it is planned */
        if (fresh)
            eng_error_clear();
        rc = fresh ? plan_chunk(r, xc, idx, &c) : rc;
    } else {
        rc = fresh ? plan_chunk(r, xc, idx, &c) : eng__chunk_load(e, xc->msg, xc->occ, idx, &c);
    }
    if (rc)
        return rc;
    eng_time pdue;
    int popen;
    if (!fresh && eng__points_due(&c, r->now, &pdue, &popen)) { /* awards first; the sends on the next pick */
        if (shared && (rc = points_lease(r, xc, idx, ttl, &c)))
            return rc;
        return eng__points_work(r, xc, &c, shared, ttl);
    }
    if (fresh) {
        d.planned = c.ncust;
        d.sends = c.nsend;
        for (uint32_t i = 0; i < c.ncust; i++)
            d.unreachable += c.cust[i].planned == 0;
    }
    char(*codes)[ENG_COUPON_CODE_MAX + 1] = NULL;
    uint64_t cskip = 0, cneed = 0;
    if ((rc = chunk_coupons(r, xc, &c, 0, &cskip, &cneed, &codes))) {
        eng__chunk_free(&c);
        return rc;
    }
    pend *p = eng__calloc(&e->mem, c.nsend ? c.nsend : 1, sizeof *p);
    uint32_t *doubt = eng__calloc(&e->mem, c.nsend ? c.nsend : 1, sizeof *doubt);
    size_t nd = 0;
    eng__wr arena;
    eng__wr_init(&arena, &e->mem);
    eng__customer_view_t view;
    size_t np = 0, later = 0;
    int64_t cost = 0;
    rc = p && doubt ? eng__customer_view(e, xc->dctx.org, &view) : eng__nomem();
    for (uint32_t i = 0; i < c.nsend && !rc; i++) {
        eng__lsend *s = &c.send[i];
        if (eng__ledger_final(s->state) || (s->state != ENG_LEDGER_PENDING && s->next_at > r->now))
            continue;
        int was = in_doubt(s);
        int why = build(r, xc, &view, &c, i, codes ? codes[s->cust] : NULL, &arena, &p[np]);
        ENG__WORK(1);
        if (why < 0) {
            rc = why;
        } else if (why == LATER) { /* not handed over: counted as an attempt answered "retry" */
            s->attempts++;
            r->rep->retry++;
            if (s->attempts >= ENG_SEND_MAX_ATTEMPTS) {
                s->state = ENG_LEDGER_EXPIRED; /* after more than one attempt: in_doubt */
                d.expired++;
                doubt[nd++] = i;
            } else {
                s->state = ENG_LEDGER_RETRY;
                s->next_at = r->now + eng__backoff(s->attempts);
            }
            later++;
        } else if (why > 0) { /* unreachable now (unsubscribed mid-run, ...) or not renderable */
            /* Never sent again; but a send in doubt may have arrived: that is final as expired, not
             * "skipped" (never sent), and its key is kept for the provider's receipts. */
            s->state = was ? ENG_LEDGER_EXPIRED : ENG_LEDGER_SKIPPED;
            s->why = (uint8_t)why;
            if (was)
                d.expired++, doubt[nd++] = i;
            else
                d.skipped++;
        } else {
            cost += p[np].cost;
            np++;
        }
    }
    /* settle_answers() reuses d for the provider's answers: keep what was settled before the call */
    const uint64_t pre_skipped = d.skipped, pre_expired = d.expired;
    if (!rc && fresh && xc->x.o.settings.forbid_overdraft) {
        int64_t bal[2];
        if ((rc = eng__credits_get(e, xc->x.o.id, bal)) == ENG_OK &&
            bal[ENG_CREDITS_CAMPAIGN] - reserved(e, xc->x.o.id) < cost)
            rc = BLOCKED; /* not planned: the execution waits for credits */
    }
    if (!rc)
        rc = ad_last(e, &c, p, np);
    if (!rc && np) /* the send-key index grows here, cancellable, not after the transport call */
        rc = eng__dsp_touch_room(e, np, &r->pg);
    for (size_t i = 0; i < np && !rc; i++)
        c.send[p[i].send].attempts++;
    /* Intent: the decisions and the attempts are stored before any call. */
    batch b = {r, &c, p, np, NULL, NULL, doubt, nd, &d, 0, 0, 0, c.npts};
    /* another engine finished this chunk since this engine's cache was built: only give the lease back */
    b.idle = shared && !fresh && np == 0 && d.skipped == 0 && d.expired == 0 && later == 0;
    eng__dsp_at at = {xc->msg, xc->occ, idx, xc->rec.due, shared, shared, fresh, read_hash};
    if (!rc) {
        if ((rc = eng__dsp_record(e, &at, np ? ttl : 0, store_intent, xc, &b)))
            xc = NULL; /* the cache was dropped */
        at.take = 0; /* the outcome keeps the lease the intent took */
    } else if (rc == BLOCKED && shared) {
        lease_release(e, xc->msg, xc->occ, idx);
    }
    /* The cache follows the stored intent at once: should anything fail below, a fresh chunk
     * must not be planned (and counted) a second time. */
    if (!rc)
        eng__chunk_state(xc, &c);
    eng_envelope *env = NULL;
    int *status = NULL;
    if (!rc && np) {
        env = eng__calloc(&e->mem, np, sizeof *env);
        status = eng__calloc(&e->mem, np, sizeof *status);
        if (!env || !status)
            rc = eng__nomem();
    }
    if (!rc && np) {
        const char *a = (const char *)arena.data;
        for (size_t i = 0; i < np; i++) {
            const eng__lsend *s = &c.send[p[i].send];
            env[i] = (eng_envelope){ENG_ENVELOPE_VERSION, a + p[i].key, s->ch, a + p[i].to, a + p[i].from,
                                    a + p[i].subj, a + p[i].body, p[i].body_len, xc->x.c.id, xc->msg, xc->occ,
                                    c.cust[s->cust].id, s->attempts, p[i].segments};
        }
        adpart parts[ENG_CH_COUNT];
        size_t nparts = 0, nplain = np;
        const char **hashes = NULL;
        eng__dsp *dsp = eng__slot_get(e, ENG__SLOT_DISPATCH);
        eng_dispatch_hooks hooks = dsp->hooks;
        void *hooks_user = dsp->hooks_user;
        if ((rc = ad_parts(e, xc, &c, env, np, parts, &nparts, &nplain, &hashes)))
            goto done;
        /* The provider call: other threads use the engine meanwhile. Only the lock is
         * let go: the call itself goes on (eng__leave would end it for the error record). */
        pthread_mutex_unlock(&e->lock);
        transmit(e, dsp, hooks.rate_limit, env, nplain, status);
        for (size_t k = 0; k < nparts; k++)
            ad_export(&hooks, hooks_user, &parts[k], hashes, status);
        pthread_mutex_lock(&e->lock);
        eng__free(&e->mem, hashes);
        r->rep->batches++;
        r->rep->sent += np;
        /* Outcome: ledger, counters, credits and touches in one batch. */
        b.env = env;
        b.status = status;
        eng__dsp_outcome o = {settle_answers, store_outcome, after_outcome, 1, &b};
        rc = eng__dsp_record_outcome(r, &at, &o);
    }
done:
    if (!rc) {
        r->rep->skipped += pre_skipped;
        r->rep->expired += pre_expired;
    }
    eng__free(&e->mem, codes);
    eng__free(&e->mem, env);
    eng__free(&e->mem, status);
    eng__wr_free(&arena);
    eng__free(&e->mem, p);
    eng__free(&e->mem, doubt);
    eng__chunk_free(&c);
    return rc;
}

static int claim(eng__dsp *d, const eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    if (eng__grow(&e->mem, (void **)&d->claims, &d->cclaims, d->nclaims + 1, sizeof *d->claims))
        return eng__nomem();
    d->claims[d->nclaims++] = (eng__claim){msg, occ, chunk};
    d->in_flight++;
    return ENG_OK;
}

static void unclaim(eng__dsp *d, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    for (size_t i = 0; i < d->nclaims; i++)
        if (d->claims[i].msg == msg && d->claims[i].occ == occ && d->claims[i].chunk == chunk) {
            d->claims[i] = d->claims[--d->nclaims];
            break;
        }
    d->in_flight--;
    pthread_cond_broadcast(&d->cond);
}

static int any_claim(const eng__dsp *d, uint64_t msg, uint32_t occ)
{
    for (size_t i = 0; i < d->nclaims; i++)
        if (d->claims[i].msg == msg && d->claims[i].occ == occ)
            return 1;
    return 0;
}

/* Every occurrence of message @p msg's schedule but @p occ final (finished or refused):
 * 1, 0, or a negative error. An occurrence whose retries are still waiting may finish
 * after a later one, the schedule's last among them. */
static int others_final(eng_engine *e, uint64_t msg, uint32_t occ, const eng_schedule *s)
{
    uint64_t n = eng__sched_occurrences(s);
    for (uint64_t k = 0; k < n; k++) {
        eng__xrec x;
        if (k == occ)
            continue;
        int rc = eng__exec_load(e, msg, (uint32_t)k, &x);
        if (rc == ENG_ENOTFOUND) { /* not started */
            eng_error_clear();
            return 0;
        }
        if (rc)
            return rc;
        if (x.state != ENG_EXEC_FINISHED && x.state != ENG_EXEC_REFUSED)
            return 0;
    }
    return 1;
}

/* Inside a batch: the loaded message @p m of org @p org, executing, becomes executed (audited). */
static int put_executed(eng__runctx *r, const char *org, eng__msg *m)
{
    m->state = ENG_STATE_EXECUTED;
    return eng__msg_put_audited(r->e, org, r->actor, m, "finish");
}

/* Inside a batch: message @p msg of org @p org, if executing, becomes executed. */
static int message_executed(eng__runctx *r, const char *org, uint64_t msg)
{
    eng__msg m;
    int rc = eng__msg_load(r->e, msg, &m);
    if (rc)
        return rc;
    if (m.state == ENG_STATE_EXECUTING)
        rc = put_executed(r, org, &m);
    eng__msg_free(&m);
    return rc;
}

int eng__exec_message_done(eng__runctx *r, const char *org, uint64_t msg)
{
    int rc = eng__kv_begin_inside(r->e->store);
    return rc ? rc : eng__dsp_commit(r->e, message_executed(r, org, msg));
}

/* The execution is finished when every chunk is planned and final; the message is
 * executed when @p last (its schedule's last occurrence is due) and every other
 * occurrence is final too. */
static int maybe_finish(eng__runctx *r, eng__xcache *xc, int last)
{
    eng_engine *e = r->e;
    eng__dsp *d = eng__slot_get(e, ENG__SLOT_DISPATCH);
    for (uint32_t i = 0; i < xc->nchunks; i++)
        if (xc->cstate[i] != 2)
            return ENG_OK;
    if (xc->poc_state) /* POC copies not final */
        return ENG_OK;
    if (any_claim(d, xc->msg, xc->occ))
        return ENG_OK;
    eng__xrec x;
    int rc = eng__kv_begin_inside(e->store); /* the counters are read inside the batch that finishes */
    if (rc)
        return rc;
    if ((rc = eng__exec_load(e, xc->msg, xc->occ, &x)) == ENG_OK && x.state == ENG_EXEC_FINISHED) {
        eng__kv_rollback(e->store); /* another engine sharing the store finished it */
        eng__xcache_forget(e, xc);
        return ENG_OK;
    }
    if (!rc && (x.accepted + x.rejected + x.expired + x.skipped != x.sends || x.planned != x.audience ||
                x.pts_awarded + x.pts_rejected + x.pts_expired != x.pts_planned))
        rc = eng__err(ENG_ECORRUPT, "d/x",
                      "execution of message %llu: counters do not add up (sends %llu: %llu accepted, %llu rejected, "
                      "%llu expired, %llu skipped; %llu of %llu planned; points awards %llu: %llu, %llu, %llu)",
                      (unsigned long long)xc->msg, (unsigned long long)x.sends, (unsigned long long)x.accepted,
                      (unsigned long long)x.rejected, (unsigned long long)x.expired, (unsigned long long)x.skipped,
                      (unsigned long long)x.planned, (unsigned long long)x.audience,
                      (unsigned long long)x.pts_planned, (unsigned long long)x.pts_awarded,
                      (unsigned long long)x.pts_rejected, (unsigned long long)x.pts_expired);
    x.state = ENG_EXEC_FINISHED;
    if (!rc)
        rc = eng__exec_store(e, xc->msg, xc->occ, &x);
    if (!rc && xc->strat && xc->strat->finish)
        rc = xc->strat->finish(xc->strat_state, &xc->dctx);
    if (!rc && last) {
        eng__msg m;
        if ((rc = eng__msg_load(e, xc->msg, &m)) == ENG_OK) {
            int done = m.state == ENG_STATE_EXECUTING ? others_final(e, xc->msg, xc->occ, m.spec.schedule) : 0;
            rc = done < 0 ? done : done ? put_executed(r, xc->x.o.id, &m) : ENG_OK; /* the message as loaded */
            eng__msg_free(&m);
        }
    }
    if ((rc = eng__dsp_commit(e, rc)))
        return rc;
    eng__log(e, ENG_LOG_INFO,
             "execution finished: org %s: message %llu, occurrence %u: %llu recipients, %llu sends, %llu accepted, "
             "%llu rejected, %llu expired, %llu skipped, %lld credits",
             xc->x.o.id, (unsigned long long)xc->msg, xc->occ, (unsigned long long)x.audience,
             (unsigned long long)x.sends, (unsigned long long)x.accepted, (unsigned long long)x.rejected,
             (unsigned long long)x.expired, (unsigned long long)x.skipped, (long long)x.credits);
    r->rep->finished++;
    eng__xcache_forget(e, xc);
    return ENG_OK;
}

static void account(eng__runctx *r, const eng__xcache *xc)
{
    const eng__xrec *x = &xc->rec;
    r->rep->pending += (x->sends - x->accepted - x->rejected - x->expired - x->skipped) + (x->audience - x->planned) +
                       (x->pts_planned - x->pts_awarded - x->pts_rejected - x->pts_expired) + xc->poc_open;
    if (xc->poc_state && xc->poc_due > r->now && (!r->rep->next_due || xc->poc_due < r->rep->next_due))
        r->rep->next_due = xc->poc_due;
    for (uint32_t i = 0; i < xc->nchunks; i++)
        if (xc->cstate[i] == 1 && xc->cdue[i] > r->now && (!r->rep->next_due || xc->cdue[i] < r->rep->next_due))
            r->rep->next_due = xc->cdue[i];
}

int eng__exec_work(eng__runctx *r, uint64_t msg, uint32_t occ, eng_time due, int last)
{
    eng_engine *e = r->e;
    eng__dsp *d = eng__dsp_get(e);
    if (!d)
        return eng__nomem();
    r->rep->executions++;
    int shared = eng__kv_shared(e->store), busy = 0;
    for (;;) {
        eng__xcache *xc;
        /* Between chunks: what other engines did (an unsubscribe). The
         * execution's cache is kept: lease_take re-reads each chunk's ledger
         * state, and it is dropped at the next call. */
        if (shared)
            eng__engine_sync_keep(e, 1u << ENG__SLOT_DISPATCH);
        int rc = eng__xcache_get(e, r->actor, msg, occ, due, &xc);
        if (rc == ENG_EBUSY && shared && ++busy < RETRIES) {
            eng__conflict_pause(e, busy);
            continue; /* another engine started it at the same moment */
        }
        if (rc)
            return rc;
        if (xc->rec.state != ENG_EXEC_RUNNING) {
            r->rep->refused += xc->rec.state == ENG_EXEC_REFUSED;
            eng__xcache_forget(e, xc);
            return ENG_OK;
        }
        if (r->opts->max_batches && r->rep->batches >= r->opts->max_batches) {
            account(r, xc);
            return ENG_OK;
        }
        int64_t pick = -1;
        /* Engines sharing a store start at different chunks, and skip those another holds. */
        uint32_t n = xc->nchunks, start = shared && n ? (uint32_t)(e->instance % n) : 0;
        eng_time wall = shared ? eng__now(e) : 0;
        /* The POC copies first: they go out with the execution's start. */
        if (xc->poc_state && xc->poc_due <= r->now && !eng__claimed(d, msg, occ, ENG__POC_CHUNK) &&
            !(shared && held_by_other(d, msg, occ, ENG__POC_CHUNK, wall)))
            pick = ENG__POC_CHUNK;
        for (uint32_t j = 0; j < n && pick < 0; j++) {
            uint32_t i = (start + j) % n;
            if (xc->cstate[i] == 1 && xc->cdue[i] <= r->now && !eng__claimed(d, msg, occ, i) &&
                !(shared && held_by_other(d, msg, occ, i, wall)))
                pick = i;
        }
        for (uint32_t j = 0; j < n && pick < 0; j++) {
            uint32_t i = (start + j) % n;
            if (xc->cstate[i] == 0 && !eng__claimed(d, msg, occ, i) && !(shared && held_by_other(d, msg, occ, i, wall)))
                pick = i;
        }
        if (pick < 0) {
            account(r, xc);
            rc = maybe_finish(r, xc, last);
            if (rc == ENG_EBUSY && shared && ++busy < RETRIES) {
                eng__conflict_pause(e, busy);
                continue; /* another engine finished it at the same moment: look again */
            }
            return rc;
        }
        if (d->in_flight >= (e->transport.max_in_flight ? e->transport.max_in_flight : 1)) {
            pthread_cond_wait(&d->cond, &e->lock);
            continue;
        }
        if ((rc = claim(d, e, msg, occ, (uint32_t)pick)))
            return rc;
        rc = pick == ENG__POC_CHUNK ? eng__poc_work(r, xc, shared, lease_ttl(r)) : work_chunk(r, xc, (uint32_t)pick);
        unclaim(d, msg, occ, (uint32_t)pick);
        if (rc == NOT_MINE) {
            eng_error_clear();
            continue; /* another engine holds or took the chunk: look again */
        }
        if (rc == ENG_EBUSY && shared && ++busy < RETRIES) {
            eng_error_clear();
            eng__conflict_pause(e, busy);
            continue; /* a conflict: look again (this engine keeps the lease and comes back to the chunk) */
        }
        if (shared && rc != ENG_OK && rc != BLOCKED)
            lease_release(e, msg, occ, (uint32_t)pick); /* the run stops here: others need not wait for the expiry */
        if (rc == ENG_OK)
            busy = 0;
        if (rc == BLOCKED) {
            r->rep->blocked = ENG_ECREDITS;
            if (eng__xcache_get(e, r->actor, msg, occ, due, &xc) == ENG_OK)
                account(r, xc);
            return ENG_OK;
        }
        if (rc)
            return rc;
        if ((rc = eng__prog_batch(&r->pg, r->rep->sent)))
            return rc;
    }
}

int eng__dry_work(eng__runctx *r, eng__xcache *xc, eng_dry_report *out)
{
    eng_engine *e = r->e;
    const char *pool = eng__msg_pool(&xc->x.m.spec);
    uint64_t cskip = 0;
    out->audience = xc->nids;
    int rc = ENG_OK;
    if (pool) {
        eng__cpool cp;
        rc = eng__cpool_load(e, xc->x.o.id, pool, &cp);
        if (eng__absent(rc)) { /* the execution would be refused: every send finds no code */
            rc = ENG_OK;
            pool = NULL;
            out->coupons = xc->nids;
        } else if (!rc) {
            out->coupons_available = cp.size - cp.drawn;
        }
    }
    eng__prog pg;
    if (!rc)
        rc = eng__prog_start(&pg, e, "dispatch.dry_run", xc->nids);
    for (uint32_t idx = 0; idx < xc->nchunks && !rc; idx++) {
        eng__chunk c;
        char(*codes)[ENG_COUPON_CODE_MAX + 1] = NULL;
        if ((rc = plan_chunk(r, xc, idx, &c)))
            break;
        if (pool && (rc = chunk_coupons(r, xc, &c, 1, &cskip, &out->coupons, &codes))) {
            eng__chunk_free(&c);
            break;
        }
        eng__customer_view_t view;
        eng__wr arena;
        eng__wr_init(&arena, &e->mem);
        uint8_t *sent = eng__calloc(&e->mem, c.ncust ? c.ncust : 1, 1);
        rc = sent ? eng__customer_view(e, xc->dctx.org, &view) : eng__nomem();
        for (uint32_t i = 0; i < c.ncust && !rc; i++)
            if (!c.cust[i].planned) {
                out->unreachable++;
                out->skipped[c.cust[i].unreach < 17 ? c.cust[i].unreach : 0]++;
            }
        for (uint32_t i = 0; i < c.nsend && !rc; i++) {
            pend p;
            arena.len = 0;
            if ((rc = eng__prog_step(&pg, pg.done))) /* per send: rendering is the slow part */
                break;
            int why = build(r, xc, &view, &c, i, codes ? codes[c.send[i].cust] : NULL, &arena, &p);
            if (why < 0) {
                rc = why;
            } else if (why > 0) {
                out->skipped[why < 17 ? why : 0]++;
            } else {
                out->sends[c.send[i].ch]++;
                if (c.send[i].ch == ENG_CH_SMS)
                    out->segments += p.segments;
                out->credits += p.cost;
                sent[c.send[i].cust] = 1;
            }
        }
        for (uint32_t i = 0; i < c.ncust && !rc; i++)
            out->contacted += sent[i];
        eng__free(&e->mem, sent);
        eng__free(&e->mem, codes);
        eng__wr_free(&arena);
        eng__chunk_free(&c);
        ENG__WORK(c.ncust);
        if (!rc)
            rc = eng__prog_batch(&pg, (uint64_t)(idx + 1) * xc->rec.chunk_size);
    }
    if (!rc)
        rc = eng__prog_end(&pg);
    return rc;
}
