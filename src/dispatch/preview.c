/* Preview and test send: the execution's own rendering (work.c) for one
 * customer, or a sample, on one channel, without the ledger, credits, coupon
 * draws or anything stored. A test send hands the rendering to the transport
 * for named test recipients, outside the engine lock, once (no retries: there
 * is no ledger entry to retry from). */
#include "dispatch/dispatch_impl.h"
#include "audience/audience_link.h"

#include <stdio.h>
#include <string.h>

#define TEST_MAX 100
#define SAMPLE_COUPON "COUPON-CODE"

ENG_API int eng_preview_init(eng_preview *x, unsigned int version)
{
    static const eng_preview init = ENG_PREVIEW_INIT;
    return eng__struct_init(x, &init, ENG__PREVIEW_SIZES, version, "eng_preview");
}

/* The personalisation strategy's choice for one customer, made as an execution makes it now
 * (the same strategy code over the same reachability); other strategies: undecided. */
static int choose(eng_engine *e, eng__xcache *xc, const eng__customer_view_t *view, uint32_t id, eng__dchoice *out)
{
    *out = (eng__dchoice){0, -1, ENG__RULE_UNDECIDED, 0, 0};
    if (xc->x.m.spec.strategy != ENG_STRATEGY_PERSONALIZATION)
        return ENG_OK;
    const eng__strategy *st = &eng__strategy_personalization;
    eng__dcust in = {id, eng__view_reach(view, id, xc->dctx.channels)};
    void *state = NULL;
    xc->dctx.now = eng__now(e);
    int rc = st->open(&xc->dctx, &state);
    if (!rc)
        rc = st->choose(state, &xc->dctx, &in, 1, out);
    st->close(state, &xc->dctx);
    return rc;
}

static int has_creative(const eng_message_spec *s, int ch)
{
    for (size_t i = 0; i < s->n_creatives; i++)
        if (s->creatives[i].channel == ch)
            return 1;
    return 0;
}

/* Load the message and render it for @p customer on @p ch into @p w (engine locked). */
/* @p pick: choose the content variant as an execution would (else the creative's own), into @p choice. */
static int render(eng_engine *e, const char *actor, uint64_t message, uint32_t customer, int ch, int op, int pick,
                  eng__xcache **xcp, eng__wr *w, eng__rendered *out, int *unreach, eng__dchoice *choice)
{
    *xcp = NULL;
    *unreach = 0;
    *choice = (eng__dchoice){0, -1, ENG__RULE_UNDECIDED, 0, 0};
    if (ch < 0 || ch >= ENG_CH_COUNT)
        return eng__err(ENG_EINVAL, "channel", "channel %d is not a channel", ch);
    eng__xcache *xc;
    int rc = eng__xcache_preview(e, actor, message, op, &xc);
    if (rc)
        return rc;
    *xcp = xc;
    if (!has_creative(&xc->x.m.spec, ch))
        return eng__err(ENG_ENOTFOUND, "channel", "message %llu has no %s creative", (unsigned long long)message,
                        eng_channel_name(ch));
    eng__customer_view_t view;
    if ((rc = eng__customer_view(e, xc->dctx.org, &view)))
        return rc;
    uint32_t id = customer;
    if (customer != ENG_PREVIEW_SAMPLE) {
        if (customer >= eng__view_size(&view))
            return eng__err(ENG_ENOTFOUND, "customer", "org '%s' has no customer %u", xc->x.o.id, customer);
        *unreach = eng__view_unreachable(&view, ch, customer);
        if (pick && (rc = choose(e, xc, &view, customer, choice)))
            return rc;
    }
    const char *coupon = eng__msg_pool(&xc->x.m.spec) ? SAMPLE_COUPON : NULL;
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    eng__runctx r = {e, actor, eng__now(e), &o, &rep, {0}, 0};
    rc = eng__render_one(&r, xc, &view, id, ch, choice->variant, coupon, w, out);
    if (rc > 0) { /* a subject that renders with a line break: an execution would skip it */
        *unreach = rc;
        rc = ENG_OK;
    }
    return rc;
}

ENG_API int eng_message_preview(eng_engine *e, const char *actor, uint64_t message, uint32_t customer, int channel,
                                char *body, size_t cap, eng_preview *out)
{
    if (body && cap)
        body[0] = 0;
    int rc = eng__enter_out(e, out, ENG__PREVIEW_SIZES, "eng_preview", "out");
    if (rc)
        return rc;
    if (!body && cap) {
        eng__leave(e);
        return eng__err(ENG_EINVAL, "body", "body is NULL with a capacity");
    }
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__xcache *xc = NULL;
    eng__rendered rd;
    int unreach = 0;
    memset(&rd, 0, sizeof rd);
    eng__dchoice choice;
    rc = render(e, actor, message, customer, channel, ENG_OP_READ, out->version >= 2, &xc, &w, &rd, &unreach,
                &choice);
    if (!rc && unreach != ENG_UNREACH_RENDER) {
        const char *a = (const char *)w.data;
        out->segments = rd.segments;
        out->cost = rd.cost;
        out->body_len = rd.body_len;
        snprintf(out->subject, sizeof out->subject, "%s", a + rd.subj);
        if (customer != ENG_PREVIEW_SAMPLE)
            snprintf(out->recipient, sizeof out->recipient, "%s", a + rd.to);
        snprintf(out->sender, sizeof out->sender, "%s", a + rd.from);
        if (cap) {
            size_t n = rd.body_len < cap ? rd.body_len : cap - 1;
            memcpy(body, a + rd.body, n);
            body[n] = 0;
        }
    }
    if (!rc)
        out->unreach = unreach;
    if (!rc && out->version >= 2) {
        const eng_variant *v = choice.variant >= 0 ? &xc->x.m.spec.variants[choice.variant] : NULL;
        out->rule = choice.rule;
        out->variant = choice.variant;
        out->variant_channel = v ? v->channel : -1;
        out->variant_dimension = v ? v->dimension : -1;
        snprintf(out->variant_rule, sizeof out->variant_rule, "%s", v && v->rule ? v->rule : "");
    }
    if (xc)
        eng__xcache_free(e, xc);
    eng__wr_free(&w);
    eng__leave(e);
    return rc;
}

static int check_recipients(int ch, const char *const *to, size_t n)
{
    if (n == 0 || n > TEST_MAX || !to)
        return eng__err(ENG_EINVAL, "n", "a test send goes to 1..%d recipients", TEST_MAX);
    if (eng__ad_channel(ch))
        return eng__err(ENG_EINVAL, "channel", "an ad channel is exported, not sent: no test send");
    for (size_t i = 0; i < n; i++) {
        size_t len = to[i] ? strlen(to[i]) : 0;
        if (len == 0 || len > 255 || strpbrk(to[i], "\r\n"))
            return eng__err(ENG_EINVAL, "recipients[i]", "test recipient %zu is empty, too long or has a line break",
                            i);
    }
    return ENG_OK;
}

ENG_API int eng_message_test_send(eng_engine *e, const char *actor, uint64_t message, uint32_t customer, int channel,
                                  const char *const *recipients, size_t n, int *status)
{
    for (size_t i = 0; status && i < n && i <= TEST_MAX; i++)
        status[i] = -1;
    if (!status)
        return eng__err(ENG_EINVAL, "status", "status is NULL");
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!e->has_transport)
        rc = eng__err(ENG_ETRANSPORT, "config.transport", "no transport configured: nothing can be sent");
    if (rc || (rc = check_recipients(channel, recipients, n))) {
        eng__leave(e);
        return rc;
    }
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__xcache *xc = NULL;
    eng__rendered rd;
    int unreach = 0;
    memset(&rd, 0, sizeof rd);
    eng_envelope *env = NULL;
    char (*keys)[ENG_SEND_KEY_MAX + 1] = NULL;
    eng__dchoice choice; /* a test send shows the test recipients what the customer would get */
    rc = render(e, actor, message, customer, channel, ENG_OP_EDIT, 1, &xc, &w, &rd, &unreach, &choice);
    if (!rc && unreach == ENG_UNREACH_RENDER)
        rc = eng__err(ENG_EINVAL, "message.creatives", "the %s subject renders with a line break",
                      eng_channel_name(channel));
    if (!rc && (!(env = eng__calloc(&e->mem, n, sizeof *env)) || !(keys = eng__calloc(&e->mem, n, sizeof *keys))))
        rc = eng__nomem();
    eng__dsp *d = rc ? NULL : eng__dsp_get(e);
    if (!rc && !d)
        rc = eng__nomem();
    if (!rc) {
        static unsigned long long seq; /* tells apart two test sends of one millisecond */
        unsigned long long k = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
        const char *a = (const char *)w.data;
        for (size_t i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "%s/c%llu/m%llu/t%lld.%llu/r%zu/%s", xc->x.o.id,
                     (unsigned long long)xc->x.c.id, (unsigned long long)message, (long long)eng__now(e), k, i,
                     eng_channel_name(channel));
            env[i] = (eng_envelope){ENG_ENVELOPE_VERSION, keys[i], channel, recipients[i], a + rd.from, a + rd.subj,
                                    a + rd.body, rd.body_len, xc->x.c.id, message, UINT32_MAX,
                                    customer == ENG_PREVIEW_SAMPLE ? 0 : customer, 1, rd.segments};
        }
        eng_dispatch_hooks hooks = d->hooks;
        eng__log(e, ENG_LOG_INFO, "test send: org %s: message %llu, %s, %zu recipients", xc->x.o.id,
                 (unsigned long long)message, eng_channel_name(channel), n);
        /* The provider call without the lock, as for an execution. */
        pthread_mutex_unlock(&e->lock);
        eng__dsp_transmit(e, d, hooks.rate_limit, env, n, status);
        pthread_mutex_lock(&e->lock);
        if (e->closed)
            rc = eng__err(ENG_EMISUSE, "engine", "the engine was closed during the test send");
    }
    eng__free(&e->mem, env);
    eng__free(&e->mem, keys);
    if (xc)
        eng__xcache_free(e, xc);
    eng__wr_free(&w);
    eng__leave(e);
    return rc;
}
