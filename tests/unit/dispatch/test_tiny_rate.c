/* Tiny URLs and rate limits (eng_dispatch_hooks version 2).
 *
 * Tiny URLs: a message whose delivery settings ask for them renders
 * `{{tiny_url | "<long link>"}}` through the host's shortener, once per send,
 * with the send's idempotency key; a click receipt carrying that key lands on
 * the send; a failed shortener delays the send (same key, same link later);
 * the dry run never calls it; without the setting the long link is rendered;
 * without a shortener the message is refused at execution.
 *
 * Rate limits: the SMS of an execution are handed to the transport at most
 * `rate * d + rate / 10` in any d seconds (checked on the provider's own
 * arrival times, so a slow machine only makes it easier), across batches and
 * eng_run_due() calls; an unlimited channel is not held back. */
#include "dispatch_fixture.h"

#include <time.h>

#define LONG_LINK "https://acme.example/diwali?x=1&y=2"

typedef struct shortener {
    dx *f;
    char keys[512][ENG_SEND_KEY_MAX + 1];
    size_t n;
    unsigned calls, fail_left, reentry;
    int bad_url;
} shortener;

static int shorten(const eng_tiny_url_request *q, char *out, size_t cap, void *user)
{
    shortener *s = user;
    s->calls++;
    assert_int_equal(q->version, ENG_TINY_URL_REQUEST_VERSION);
    assert_int_equal(q->campaign, s->f->campaign);
    assert_int_equal(q->message, s->f->message);
    if (strcmp(q->url, LONG_LINK) != 0)
        s->bad_url++;
    if (s->reentry) { /* the engine is locked: a call back is refused, not a deadlock */
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        assert_int_equal(eng_execution_get(s->f->e, "root", q->message, 0, &x), ENG_EMISUSE);
        s->reentry--;
    }
    if (s->fail_left) {
        s->fail_left--;
        return ENG_ETRANSPORT;
    }
    size_t i = 0;
    while (i < s->n && strcmp(s->keys[i], q->idempotency_key) != 0)
        i++;
    if (i == s->n) {
        assert_true(s->n < 512);
        snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", q->idempotency_key);
    }
    snprintf(out, cap, "https://t.example/%zu", i); /* the same link for the same key */
    return ENG_OK;
}

static const eng_creative tiny_creatives[] = {
    {ENG_CH_SMS, NULL, "Hi {{first_name | \"there\"}}: {{tiny_url | \"" LONG_LINK "\"}} {{optout}}"},
    {ENG_CH_EMAIL, "Offer", "<a href=\"{{tiny_url | \"" LONG_LINK "\"}}\">shop</a>{{unsubscribe}}"},
};

static void set_hooks(dx *f, shortener *s, unsigned sms_rate)
{
    eng_dispatch_hooks h = ENG_DISPATCH_HOOKS_INIT;
    h.tiny_url = s ? shorten : NULL;
    h.rate_limit[ENG_CH_SMS] = sms_rate;
    assert_int_equal(eng_dispatch_hooks_set(f->e, &h, s), ENG_OK);
}

static void tiny_urls(void **state)
{
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)state;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    shortener s;
    memset(&s, 0, sizeof s);
    s.f = &f;
    eng_message_spec m = dx_message();
    m.creatives = tiny_creatives;
    dlv.tiny_url = 1;
    m.delivery = &dlv;

    /* No shortener: refused with the reason, nothing sent. */
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_REFUSED);
    assert_non_null(strstr(x.reason, "tiny_url"));
    assert_int_equal(f.prov.envelopes, 0);

    /* With one: a link per send. The first three calls fail (those sends wait, same key later). */
    set_hooks(&f, &s, 0);
    m.title = "Blast 2";
    dx_approve(&f, &m);
    eng_dry_report dr = ENG_DRY_REPORT_INIT;
    assert_int_equal(eng_dry_run(f.e, "root", f.message, &dr), ENG_OK);
    assert_int_equal(s.calls, 0); /* the dry run renders the long link, creates none */
    assert_true(dr.sends[ENG_CH_SMS] > 0);
    s.fail_left = 3;
    s.reentry = 1;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_int_equal(rep.retry, 3);
    assert_int_equal(rep.pending, 3);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, rep.next_due, &total);
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, x.sends);
    assert_int_equal(s.bad_url, 0);
    assert_int_equal(s.n, x.sends); /* one link per send */
    assert_int_equal(s.calls, x.sends + 3);
    /* Every delivered body carries its own key's link, exactly once, never the long link. */
    size_t seen = 0;
    for (size_t i = 0; i < f.n * DX_CH; i++) {
        if (!f.prov.key[i])
            continue;
        assert_int_equal(f.prov.delivered[i], 1);
        size_t k = 0;
        while (k < s.n && strcmp(s.keys[k], f.prov.key[i]) != 0)
            k++;
        assert_true(k < s.n);
        char link[64];
        snprintf(link, sizeof link, "https://t.example/%zu%s", k, i % DX_CH == ENG_CH_EMAIL ? "\"" : " ");
        assert_non_null(strstr(f.prov.body[i], link));
        assert_null(strstr(f.prov.body[i], "acme.example/diwali"));
        seen++;
    }
    assert_int_equal(seen, x.sends);

    /* A click on a short link: the host hands the key back with a receipt; it finds its send. */
    const char *keys[1] = {s.keys[5]};
    int st[1] = {ENG_TOUCH_CLICKED};
    eng_time t[1] = {f.t0 + ENG_HOUR};
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = 1, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report er = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &er), ENG_OK);
    assert_int_equal(er.accepted, 1);
    assert_int_equal(er.unmatched, 0);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", f.campaign, f.message, counts, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT),
                     ENG_OK);
    uint64_t clicked = 0;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        clicked += counts[ch * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_CLICKED];
    assert_int_equal(clicked, 1);

    /* Delivery settings without tiny URLs: the long link, HTML-escaped in the email; no shortener call. */
    unsigned before = s.calls;
    m.title = "Blast 3";
    dlv.tiny_url = 0;
    m.delivery = &dlv;
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    assert_int_equal(s.calls, before);
    assert_non_null(strstr(f.prov.body[dx_pair(1, ENG_CH_SMS)], LONG_LINK));
    assert_non_null(strstr(f.prov.body[dx_pair(1, ENG_CH_EMAIL)], "https://acme.example/diwali?x=1&amp;y=2"));
    dx_close(&f);
}

/* A shortener that never works: each send expires after the bounded attempts, nothing reaches the provider. */
static void tiny_url_down(void **state)
{
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)state;
    dx f;
    dx_world(&f, 6, 16, 1, 1);
    shortener s;
    memset(&s, 0, sizeof s);
    s.f = &f;
    s.fail_left = 1000;
    set_hooks(&f, &s, 0);
    eng_message_spec m = dx_message();
    m.creatives = tiny_creatives;
    dlv.tiny_url = 1;
    m.delivery = &dlv;
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.expired, x.sends);
    assert_int_equal(s.calls, x.sends * ENG_SEND_MAX_ATTEMPTS);
    assert_int_equal(f.prov.envelopes, 0);
    dx_close(&f);
}

/* ---- rate limits ---- */

typedef struct timed {
    dx_provider *p;
    double t[4096];
    int ch[4096];
    size_t n;
    unsigned max_sms_call;
} timed;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int timed_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    timed *tm = user;
    double now = mono();
    unsigned sms = 0;
    for (size_t i = 0; i < n && tm->n < 4096; i++) {
        tm->t[tm->n] = now;
        tm->ch[tm->n++] = env[i].channel;
        sms += env[i].channel == ENG_CH_SMS;
    }
    if (sms > tm->max_sms_call)
        tm->max_sms_call = sms;
    return dx_send_batch(env, n, status, tm->p);
}

static int timed_one(const eng_envelope *env, int *status, void *user)
{
    return timed_batch(env, 1, status, user);
}

/* Most SMS in any window [t_i, t_i + d). */
static size_t most_in(const timed *tm, double d)
{
    size_t best = 0;
    for (size_t i = 0; i < tm->n; i++) {
        if (tm->ch[i] != ENG_CH_SMS)
            continue;
        size_t k = 0;
        for (size_t j = i; j < tm->n; j++)
            k += tm->ch[j] == ENG_CH_SMS && tm->t[j] < tm->t[i] + d;
        if (k > best)
            best = k;
    }
    return best;
}

static void rate_run(int batch_transport)
{
    enum { N = 300, RATE = 500, BURST = RATE / 10 };
    static timed tm;
    memset(&tm, 0, sizeof tm);
    dx f;
    dx_world(&f, N, 128, 1, batch_transport);
    tm.p = &f.prov;
    /* Reopen on a transport that notes arrival times. */
    f.tm.send = timed_one;
    f.tm.send_batch = batch_transport ? timed_batch : NULL;
    assert_int_equal(eng_close(f.e), ENG_OK);
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(f.ts);
    cfg.transport = &f.tm;
    cfg.transport_user = &tm;
    cfg.clock_fn = dx_clock;
    assert_int_equal(eng_open(&cfg, &f.e), ENG_OK);
    set_hooks(&f, NULL, RATE);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    /* Two calls: one batch, then the rest; the limit holds across them. */
    double t0 = mono();
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 1;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_OK);
    assert_int_equal(rep.batches, 1);
    dx_run_all(&f, f.t0, NULL);
    double took = mono() - t0;
    size_t sms = 0, email = 0;
    for (size_t i = 0; i < tm.n; i++)
        sms += tm.ch[i] == ENG_CH_SMS, email += tm.ch[i] == ENG_CH_EMAIL;
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, x.sends);
    assert_int_equal(sms + email, x.sends);
    assert_true(sms > 250);
    /* The bound, on the provider's clock: a loaded machine only spreads sends further. */
    assert_true(tm.max_sms_call <= BURST);
    assert_true(most_in(&tm, 0.1) <= RATE / 10 + BURST);
    assert_true(most_in(&tm, 0.25) <= RATE / 4 + BURST);
    assert_true(took >= (double)(sms - BURST) / RATE);
    printf("rate limit %d/s: %zu SMS (+%zu email unlimited) in %.3f s, most in 100 ms: %zu, per call: %u\n", RATE,
           sms, email, took, most_in(&tm, 0.1), tm.max_sms_call);

    /* Version-1 hooks clear the limits. */
    eng_dispatch_hooks h1 = {1, NULL, NULL, {0}, NULL};
    h1.rate_limit[ENG_CH_SMS] = 1; /* not read: version 1 has no such field */
    assert_int_equal(eng_dispatch_hooks_set(f.e, &h1, NULL), ENG_OK);
    eng_dispatch_hooks h3 = ENG_DISPATCH_HOOKS_INIT;
    h3.version = ENG_DISPATCH_HOOKS_VERSION + 1;
    assert_int_equal(eng_dispatch_hooks_set(f.e, &h3, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "hooks.version");
    memset(&tm, 0, sizeof tm);
    tm.p = &f.prov;
    m.title = "Again";
    dx_approve(&f, &m);
    t0 = mono();
    dx_run_all(&f, f.t0, NULL);
    assert_true(tm.max_sms_call > BURST || !batch_transport); /* whole batches again */
    dx_close(&f);
}

static void rate_limit_batches(void **state)
{
    (void)state;
    rate_run(1);
}

static void rate_limit_v1_transport(void **state)
{
    (void)state;
    rate_run(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_urls),
        cmocka_unit_test(tiny_url_down),
        cmocka_unit_test(rate_limit_batches),
        cmocka_unit_test(rate_limit_v1_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
