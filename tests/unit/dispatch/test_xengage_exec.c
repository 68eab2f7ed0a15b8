/* X-Engage through the real engine: eng_run_due on an approved X-Engage
 * message sends each test-group customer at most one channel, the one their
 * history (earlier campaign's receipts, through the events API) says they
 * respond to; it learns from receipts and transactions appended between
 * batches; the same seed gives bit-identical choices whatever the batch size
 * and the number of threads running it; the model's checkpoint is stored. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>

#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"
#include "decide/xengage_impl.h"
#include "decide/decide.h"

#define N 600

/* A world of N customers in batches of 50 where an X-Engage message may go to so few. */
static void xe_world(dx *f)
{
    dx_world(f, N, 50, 1, 1);
    dx_xengage_any_size();
}

/* The sales history of the learning tests: the first quarter of the customers bought for 100 the
 * day before (no channel history; it gives the value of a conversion). */
static void xe_sales(dx *f)
{
    uint32_t *ids = malloc(f->n * sizeof *ids);
    for (uint32_t c = 0; c < f->n; c++)
        ids[c] = c;
    dx_txns(f, ids, f->n / 4, test_clock_now - ENG_DAY, 100, "h");
    free(ids);
}

/* @p m as an X-Engage message, approved with credits to spare. */
static void xe_approve(dx *f, eng_message_spec *m)
{
    m->strategy = ENG_STRATEGY_XENGAGE;
    assert_int_equal(eng_credits_adjust(f->e, "root", ENG_CREDITS_XENGAGE, 10000000), ENG_OK);
    dx_approve(f, m);
}

/* The first @p batches batches of the message's run at @p at. */
static void run_batches(dx *f, eng_time at, unsigned batches)
{
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = batches;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f->e, "root", at, &o, &rep), ENG_OK);
    assert_true(rep.sent > 0);
}

/* Every send is delivered; SMS are clicked, e-mails ignored. */
static int sms_pick(uint32_t customer, int channel, void *user)
{
    (void)customer;
    (void)user;
    return channel == ENG_CH_SMS ? ENG_TOUCH_CLICKED : ENG_TOUCH_DELIVERED;
}

/* The receipts of every send so far by sms_pick; the customers sent an SMS (@p sent per customer)
 * buy for 100 two hours after the start. */
static void sms_buy(dx *f, const int *sent)
{
    uint32_t *buyers = malloc(f->n * sizeof *buyers);
    size_t nb = 0;
    for (uint32_t c = 0; c < f->n; c++)
        if (sent[c] == ENG_CH_SMS)
            buyers[nb++] = c;
    dx_receipts(f, f->t0 + 60 * 1000, sms_pick, NULL);
    dx_txns(f, buyers, nb, f->t0 + 2 * ENG_HOUR, 100, "l");
    free(buyers);
}

/* Per customer: the channel it was sent (-1 none), from the provider's log; asserts at most one. */
static void channels_sent(dx *f, int *out)
{
    for (size_t c = 0; c < f->n; c++) {
        out[c] = -1;
        for (int ch = 0; ch < DX_CH; ch++) {
            unsigned d = f->prov.delivered[dx_pair((uint32_t)c, ch)];
            assert_true(d <= 1);
            if (d) {
                if (out[c] >= 0)
                    fail_msg("customer %zu got channels %d and %d", c, out[c], ch);
                out[c] = ch;
            }
        }
    }
}

static int explored(dx *f, uint32_t c)
{
    eng_trace t = ENG_TRACE_INIT;
    assert_int_equal(eng_trace_get(f->e, "root", f->message, 0, c, &t), ENG_OK);
    if (t.reason != ENG_TRACE_CHOSEN)
        return 0;
    assert_int_equal(t.rule, ENG_RULE_XENGAGE);
    return (int)(t.detail & 1u);
}

static void one_channel_from_history(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, N, 64, 1, 1);
    dx_xengage(&f);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &rep);
    assert_int_equal(rep.finished, 1);
    int *sent = malloc(f.n * sizeof *sent);
    channels_sent(&f, sent);
    size_t ntest = 0;
    uint32_t *test = dx_test_group(&f, &ntest);
    unsigned char *in_test = calloc(f.n, 1);
    for (size_t i = 0; i < ntest; i++)
        in_test[test[i]] = 1;
    unsigned email_ok = 0, email_n = 0, sms_ok = 0, sms_n = 0, expl = 0, contacted = 0;
    for (uint32_t c = 0; c < f.n; c++) {
        if (!in_test[c]) {
            assert_int_equal(sent[c], -1); /* the control group is never contacted */
            continue;
        }
        contacted += sent[c] >= 0;
        if (explored(&f, c)) {
            expl++;
            continue;
        }
        size_t k = dx_ext(&f, c);
        if (k % 3 == 0 && k % 5) { /* opened the email before (and has an email contact) */
            email_n++;
            email_ok += sent[c] == ENG_CH_EMAIL;
        } else if (k % 3 == 1) { /* clicked the SMS before */
            sms_n++;
            sms_ok += sent[c] == ENG_CH_SMS;
        }
    }
    printf("x-engage from history: %u/%u email openers got email, %u/%u sms clickers got sms, %u explored, "
           "%u of %zu contacted\n", email_ok, email_n, sms_ok, sms_n, expl, contacted, ntest);
    assert_true(email_ok * 10 >= email_n * 9);
    assert_true(sms_ok * 4 >= sms_n * 3); /* an SMS clicker is responsive: e-mail, cheaper, tempts too */
    assert_true(expl < ntest / 10);
    /* The optimizer's state is stored through the storage contract, <= 32 bytes a customer. */
    char key[64];
    snprintf(key, sizeof key, "d/xe/%016llx/%08x", (unsigned long long)f.message, 0u);
    eng__xe *xe = NULL;
    assert_int_equal(eng__xe_load(&f.e->mem, f.e->store, key, &xe), ENG_OK);
    assert_true(eng__xe_state_bytes(xe) <= 32);
    eng__xe_free(xe);
    free(in_test);
    free(test);
    free(sent);
    dx_close(&f);
}

static void learns_between_batches(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    xe_sales(&f);
    eng_message_spec m = dx_message();
    xe_approve(&f, &m);
    run_batches(&f, f.t0, 2);
    int *sent = malloc(f.n * sizeof *sent);
    channels_sent(&f, sent);
    unsigned first_email = 0, first = 0;
    for (uint32_t c = 0; c < f.n; c++)
        if (sent[c] >= 0) {
            first++;
            first_email += sent[c] == ENG_CH_EMAIL;
        }
    assert_true(first > 0 && first_email * 5 >= first); /* Thompson draws: both channels are tried */
    /* The SMS are clicked and their customers buy; the e-mails are ignored until their window closed. */
    sms_buy(&f, sent);
    test_clock_now = f.t0 + 72 * ENG_HOUR;
    memset(f.prov.delivered, 0, f.n * DX_CH * sizeof *f.prov.delivered);
    dx_run_all(&f, test_clock_now, NULL);
    channels_sent(&f, sent);
    unsigned rest = 0, rest_sms = 0;
    for (uint32_t c = 0; c < f.n; c++) {
        rest += sent[c] >= 0;
        rest_sms += sent[c] == ENG_CH_SMS;
    }
    printf("x-engage learning: first batches %u/%u e-mail; after their receipts %u/%u sms\n", first_email, first,
           rest_sms, rest);
    assert_true(rest > 0 && rest_sms * 10 >= rest * 9);
    free(sent);
    dx_close(&f);
}

/* Even customers click the SMS and ignore e-mails; odd customers the other way round. */
static int parity_pick(uint32_t customer, int channel, void *user)
{
    int even = dx_ext(user, customer) % 2 == 0;
    return channel == (even ? ENG_CH_SMS : ENG_CH_EMAIL) ? ENG_TOUCH_CLICKED : ENG_TOUCH_DELIVERED;
}

static void upload(dx *f, const char *name, int parity)
{
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(f->e, "root", name, &g), ENG_OK);
    char (*ids)[24] = malloc(f->n * sizeof *ids);
    const char **p = malloc(f->n * sizeof *p);
    size_t n = 0;
    for (size_t i = (size_t)parity; i < f->n; i += 2) {
        snprintf(ids[n], sizeof ids[n], "c%zu", i);
        p[n] = ids[n];
        n++;
    }
    assert_int_equal(eng_group_upload_ids(f->e, "root", g, p, n, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    free(ids);
    free(p);
}

/* The message's include groups are X-Engage's segments: what the first batches teach about one group's
 * channels applies to the rest of that group, not to the other (customers here have no history of
 * their own, so only the segment can tell them apart). */
static void segments_from_include_groups(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    upload(&f, "even", 0);
    upload(&f, "odd", 1);
    xe_sales(&f);
    eng_message_spec m = dx_message();
    static const char *const groups[] = {"even", "odd"};
    m.include = groups;
    m.n_include = 2;
    xe_approve(&f, &m);
    run_batches(&f, f.t0, 4);
    /* The responders buy; every send of the first batches gets its receipts. */
    dx_receipts(&f, f.t0 + 60 * 1000, parity_pick, &f);
    uint32_t *ids = malloc(f.n * sizeof *ids);
    size_t nb = 0;
    for (uint32_t c = 0; c < f.n; c++)
        if (f.prov.delivered[dx_pair(c, dx_ext(&f, c) % 2 ? ENG_CH_EMAIL : ENG_CH_SMS)])
            ids[nb++] = c;
    dx_txns(&f, ids, nb, f.t0 + 2 * ENG_HOUR, 100, "l");
    free(ids);
    int *first = malloc(f.n * sizeof *first), *sent = malloc(f.n * sizeof *sent);
    channels_sent(&f, first);
    test_clock_now = f.t0 + 72 * ENG_HOUR;
    memset(f.prov.delivered, 0, f.n * DX_CH * sizeof *f.prov.delivered);
    dx_run_all(&f, test_clock_now, NULL);
    channels_sent(&f, sent);
    unsigned good[2] = {0, 0}, all[2] = {0, 0};
    for (uint32_t c = 0; c < f.n; c++) {
        size_t k = dx_ext(&f, c);
        if (first[c] >= 0 || sent[c] < 0 || k % 5 == 0 || explored(&f, c))
            continue; /* the first batches, the unsent, those with SMS only, the exploration bucket */
        all[k % 2]++;
        good[k % 2] += sent[c] == (k % 2 ? ENG_CH_EMAIL : ENG_CH_SMS);
    }
    printf("x-engage segments: even %u/%u sms, odd %u/%u email\n", good[0], all[0], good[1], all[1]);
    assert_true(all[0] > 50 && all[1] > 50);
    assert_true(good[0] * 10 >= all[0] * 9 && good[1] * 10 >= all[1] * 9);
    /* The checkpoint holds two segments and each customer's. */
    char key[64];
    snprintf(key, sizeof key, "d/xe/%016llx/%08x", (unsigned long long)f.message, 0u);
    eng__xe *xe = NULL;
    assert_int_equal(eng__xe_load(&f.e->mem, f.e->store, key, &xe), ENG_OK);
    assert_int_equal(eng__xe_cfg(xe)->g, 2);
    for (uint32_t c = 0; c < f.n; c++)
        assert_int_equal(eng__xe_segment_of(xe, c), dx_ext(&f, c) % 2);
    eng__xe_free(xe);
    free(first);
    free(sent);
    dx_close(&f);
}

/* The trace of every X-Engage decision replays it: the same channel, from the model of its own
 * scheduler time (the first batches' before anything was learnt, the rest's after the SMS clicks);
 * the scores are value x delivery x engagement x conversion - cost, the winner is the best positive
 * one, an explored choice has its logged propensity (weights within [1/16, 1]); a version 1 caller's struct is not
 * written past its end. */
static void trace_replays_decision(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    xe_sales(&f);
    eng_message_spec m = dx_message();
    xe_approve(&f, &m);
    run_batches(&f, f.t0, 2);
    int *first = malloc(f.n * sizeof *first);
    channels_sent(&f, first);
    sms_buy(&f, first);
    eng_time later = f.t0 + 72 * ENG_HOUR;
    test_clock_now = later;
    dx_run_all(&f, later, NULL);
    size_t ntest = 0;
    uint32_t *test = dx_test_group(&f, &ntest);
    unsigned early = 0, late = 0, early_email = 0, late_email = 0, none = 0, expl = 0;
    for (size_t x = 0; x < ntest; x++) {
        uint32_t c = test[x];
        eng_trace t;
        assert_int_equal(eng_trace_init(&t, ENG_TRACE_VERSION), ENG_OK);
        assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, c, &t), ENG_OK);
        if (t.rule != ENG_RULE_XENGAGE)
            continue;
        assert_int_equal(t.xe_known, 1);
        int chosen = -1;
        for (int ch = 0; ch < ENG_CH_COUNT; ch++)
            if (t.channels >> ch & 1u)
                chosen = ch;
        if (!(t.detail & 0x80u)) /* a choice cut at the cap's hard edge was not sent */
            assert_int_equal(t.xe_channel, chosen); /* the replay picks what was picked */
        int is_first = first[c] >= 0 || (t.reason != ENG_TRACE_CHOSEN && t.xe_model_time == f.t0);
        assert_true(t.xe_model_time == (is_first ? f.t0 : later));
        early += is_first && chosen >= 0, late += !is_first && chosen >= 0;
        early_email += is_first && chosen == ENG_CH_EMAIL, late_email += !is_first && chosen == ENG_CH_EMAIL;
        unsigned nreach = 0;
        double best = 0;
        int arg = -1;
        for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
            if (!(t.xe_reachable >> ch & 1u))
                continue;
            nreach++;
            double score = t.xe_value * t.xe_delivery[ch] * t.xe_engagement_used[ch] * t.xe_conversion_used[ch] -
                           t.xe_cost[ch];
            assert_true(fabs(score - t.xe_score[ch]) <= 1e-9 * (1 + fabs(score)));
            assert_true(t.xe_cost[ch] == (ch == ENG_CH_SMS ? 3 : 1));
            if (score > best)
                best = score, arg = ch;
        }
        if (t.xe_explored) {
            expl++;
            /* as logged: each reachable channel's bucket weight is within [1/16, 1] */
            assert_true(t.xe_propensity >= 1.0 / (1 + 16.0 * (nreach - 1)) - 1e-7);
            assert_true(t.xe_propensity <= 1.0 / (1 + (nreach - 1) / 16.0) + 1e-7);
        } else {
            assert_true(t.xe_propensity == 0);
            assert_int_equal(arg, chosen); /* the best positive score, or none */
            none += chosen < 0;
        }
    }
    printf("x-engage trace: %u early decisions (%u e-mail), %u late (%u e-mail), %u none, %u explored\n", early,
           early_email, late, late_email, none, expl);
    assert_true(early > 0 && late > 0 && late_email * 10 < late && early_email * 5 >= early);
    /* A version 1 caller: the fields end at state[], nothing after is written. */
    struct {
        eng_trace t;
        unsigned char guard[64];
    } v1;
    memset(&v1, 0xa5, sizeof v1);
    assert_int_equal(eng_trace_init(&v1.t, 1), ENG_OK);
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, test[0], &v1.t), ENG_OK);
    const unsigned char *tail = (const unsigned char *)&v1.t + offsetof(eng_trace, xe_known);
    for (size_t i = 0; i < sizeof v1 - offsetof(eng_trace, xe_known); i++)
        assert_int_equal(tail[i], 0xa5);
    assert_int_equal(v1.t.rule, ENG_RULE_XENGAGE);
    free(test);
    free(first);
    dx_close(&f);
}

/* Each customer's value of a conversion from the org's sales before the execution: customers who bought
 * twice at 400 are worth 400, twice at 50 worth 50 (equal orders: no spread within a customer, so their own
 * mean is trusted whole), the others the org's mean order (225); the trace replays each decision with the
 * value it used, and a customer worth more gets a send more often than one worth less. */
static void customer_values(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    uint32_t *hi = calloc(f.n, sizeof *hi), *lo = calloc(f.n, sizeof *lo); /* calloc: gcc -O3 saw them unset */
    size_t nh = 0, nl = 0;
    for (uint32_t c = 0; c < f.n; c++) {
        if (c % 4 == 0)
            hi[nh++] = c;
        if (c % 4 == 1)
            lo[nl++] = c;
    }
    dx_txns(&f, hi, nh, test_clock_now - 2 * ENG_DAY, 400, "a");
    dx_txns(&f, hi, nh, test_clock_now - ENG_DAY, 400, "b");
    dx_txns(&f, lo, nl, test_clock_now - 2 * ENG_DAY, 50, "a");
    dx_txns(&f, lo, nl, test_clock_now - ENG_DAY, 50, "b");
    eng_message_spec m = dx_message();
    eng_xengage_options o = ENG_XENGAGE_OPTIONS_INIT;
    o.credit_cap = N / 4; /* about half the test group at a credit each: customers are ranked by value */
    m.xengage = &o;
    xe_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    size_t ntest = 0;
    uint32_t *test = dx_test_group(&f, &ntest);
    const double mean = (400.0 * nh + 50.0 * nl) / (double)(nh + nl);
    unsigned seen[3] = {0, 0, 0}, sent[3] = {0, 0, 0};
    for (size_t x = 0; x < ntest; x++) {
        uint32_t c = test[x];
        eng_trace t;
        assert_int_equal(eng_trace_init(&t, ENG_TRACE_VERSION), ENG_OK);
        assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, c, &t), ENG_OK);
        if (t.rule != ENG_RULE_XENGAGE || t.xe_explored)
            continue;
        unsigned kind = c % 4 == 0 ? 0 : c % 4 == 1 ? 1 : 2;
        double want = kind == 0 ? 400 : kind == 1 ? 50 : mean;
        assert_true(fabs(t.xe_value - want) <= 1e-6 * want);
        int chosen = -1;
        for (int ch = 0; ch < ENG_CH_COUNT; ch++)
            if (t.channels >> ch & 1u)
                chosen = ch;
        assert_int_equal(t.xe_channel, chosen);
        seen[kind]++, sent[kind] += chosen >= 0;
    }
    printf("x-engage values: sent %u of %u worth 400, %u of %u worth 50, %u of %u worth the mean\n", sent[0], seen[0],
           sent[1], seen[1], sent[2], seen[2]);
    assert_true(seen[0] > 20 && seen[1] > 20);
    assert_true((double)sent[0] / seen[0] > (double)sent[1] / seen[1]);
    free(test);
    free(hi);
    free(lo);
    dx_close(&f);
}

/* The organic purchase rate from the org's sales (xengage_organic.c) reaches each customer's value of a
 * conversion: over 20 weeks of sales every third customer bought weekly (20 orders), every third once, the rest
 * never, all at 100 (nobody's value differs from the mean). The reference: the customers' heterogeneity by a
 * grid over the negative binomial likelihood written per customer with lgamma, then each value 100 x (1 - the
 * chance of a purchase within a week under the posterior Gamma, in closed form); the trace shows it. */
/* Over the 20 weeks before now every third customer bought weekly (20 orders), every third once, the rest
 * never, all at 100; then an X-Engage message is approved. Returns the customers' heterogeneity by a grid over
 * the negative binomial likelihood written per customer with lgamma; *mu: orders per customer over the span. */
static double weekly_sales(dx *f, eng_time t1, double *mu)
{
    uint32_t *weekly = malloc(f->n * sizeof *weekly), *once = malloc(f->n * sizeof *once);
    size_t nw = 0, no = 0;
    for (uint32_t c = 0; c < f->n; c++) {
        if (c % 3 == 0)
            weekly[nw++] = c;
        if (c % 3 == 1)
            once[no++] = c;
    }
    for (unsigned w = 0; w < 20; w++) {
        char tag[16]; /* room for any unsigned: gcc -O1 (the sanitizer build) checks the truncation */
        snprintf(tag, sizeof tag, "w%u", w);
        dx_txns(f, weekly, nw, t1 + w * 7 * ENG_DAY, 100, tag);
    }
    dx_txns(f, once, no, t1 + 3 * ENG_DAY, 100, "o");
    const double n = (double)f->n, x[3] = {20, 1, 0}, cnt[3] = {(double)nw, (double)no, n - nw - no};
    *mu = (20.0 * nw + no) / n; /* one segment */
    double best = -INFINITY, a = 0, lo = log(1e-2), hi = log(1e6);
    for (double step = 1e-2; step > 1e-6; step /= 100) { /* unimodal: a coarse grid, then a fine one around it */
        for (double la = lo; la <= hi; la += step) {
            double aa = exp(la), l = 0;
            for (int k = 0; k < 3; k++)
                l += cnt[k] * (lgamma(x[k] + aa) - lgamma(aa) + aa * log(aa / (aa + *mu)) + x[k] * log(*mu / (aa + *mu)));
            if (l > best)
                best = l, a = aa;
        }
        lo = log(a) - step, hi = log(a) + step;
    }
    free(weekly);
    free(once);
    eng_message_spec m = dx_message();
    eng_xengage_options o = ENG_XENGAGE_OPTIONS_INIT;
    m.xengage = &o;
    xe_approve(f, &m);
    return a;
}

/* The organic purchase rate from the org's sales (xengage_organic.c) reaches each customer's value of a
 * conversion: weekly_sales' customers, nobody's value differs from the mean. The reference: each value 100 x
 * (1 - the chance of a purchase within a week under the posterior Gamma, in closed form); the trace shows it. */
static void organic_from_sales(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    const eng_time span = 20 * 7 * ENG_DAY, t1 = test_clock_now - span;
    double mu;
    const double a = weekly_sales(&f, t1, &mu);
    dx_run_all(&f, f.t0, NULL);
    /* The model's customers: dense ids below its size, all of this world's. */
    const double T = (double)(f.t0 - t1) / ENG_HOUR, W = 7 * 24, x[3] = {20, 1, 0};
    const double b = a / (mu / T); /* the Gamma's rate: a over the mean rate per hour */
    size_t ntest = 0, seen[3] = {0, 0, 0};
    uint32_t *test = dx_test_group(&f, &ntest);
    for (size_t i = 0; i < ntest; i++) {
        eng_trace t;
        assert_int_equal(eng_trace_init(&t, ENG_TRACE_VERSION), ENG_OK);
        assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, test[i], &t), ENG_OK);
        if (t.rule != ENG_RULE_XENGAGE)
            continue;
        int k = (int)(test[i] % 3);
        double want = 100 * pow((b + T) / (b + T + W), a + x[k]);
        assert_true(fabs(t.xe_value - want) <= 1e-3 * want);
        seen[k]++;
    }
    printf("x-engage organic rate: heterogeneity %.3f; values %.2f (weekly buyers), %.2f (once), %.2f (never)\n", a,
           100 * pow((b + T) / (b + T + W), a + 20), 100 * pow((b + T) / (b + T + W), a + 1),
           100 * pow((b + T) / (b + T + W), a));
    assert_true(seen[0] > 50 && seen[1] > 50 && seen[2] > 50);
    free(test);
    dx_close(&f);
}

/* The control's organic rate before it has counted is the sales history's chance of a purchase within a week (20
 * control customers' worth); once it counts, the same chance over the span it is counted over, here 2^-7 of a
 * week after the start (read back after a reopen: the engine that learns it is not the one that fitted it).
 * Reference: the chance customer by customer in closed form with weekly_sales' heterogeneity, the population
 * statistics as the decisions used them (the trace's snapshots). */
static void organic_prior_over_the_control_span(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    const eng_time t1 = test_clock_now - 20 * 7 * ENG_DAY;
    double mu;
    const double a = weekly_sales(&f, t1, &mu);
    const eng_time later = f.t0 + 7 * ENG_DAY / 128;
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 2;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_OK);
    dx_reopen(&f);
    assert_int_equal(eng_run_due(f.e, "root", later, &o, &rep), ENG_OK);
    const double T = (double)(f.t0 - t1) / ENG_HOUR, b = a / (mu / T), x[3] = {20, 1, 0};
    for (int at = 0; at < 2; at++) {
        double win = at ? (double)(later - f.t0) / ENG_HOUR : 7 * 24, p = 0;
        for (int k = 0; k < 3; k++) /* every third customer of each kind */
            p += (1 - pow((b + T) / (b + T + win), a + x[k])) * (double)((f.n + 2 - (size_t)k) / 3) / (double)f.n;
        char key[96];
        eng__xe_key_exec(key, sizeof key, f.message, 0);
        eng__xe *xe;
        assert_int_equal(eng__xe_load_counts(&f.e->mem, f.e->store, key, &xe), ENG_OK);
        eng__xe_key_snap(key, sizeof key, f.message, 0, at ? later : f.t0);
        uint32_t mask;
        assert_int_equal(eng__xe_load_population(xe, f.e->store, key, &mask), ENG_OK);
        /* nobody bought since the start: the control's purchases are the prior's */
        printf("x-engage organic prior over %.3f h: %.5f of 20 customers (reference %.5f), control %.0f\n", win,
               xe->seg[0].bc / 20, p, xe->seg[0].bn - 20);
        assert_true(fabs(xe->seg[0].bc - 20 * p) <= 1e-3 * 20 * p);
        assert_true(at ? xe->seg[0].bn > 20 : xe->seg[0].bn == 20);
        eng__xe_free(xe);
    }
    dx_close(&f);
}

/* The message's credits per unit of currency (eng_xengage_options.credits_per_unit) turns the customers'
 * amounts (currency) into the value of a conversion in credits, against the channels' costs in credits;
 * without it a credit is a unit of currency. The reference: each customer's own orders, written here. */
static void credits_per_unit(void **state)
{
    (void)state;
    size_t sent_unset = 0;
    for (int with = 0; with < 2; with++) {
        dx f;
        xe_world(&f);
        uint32_t *hi = malloc(f.n * sizeof *hi);
        size_t nh = 0;
        for (uint32_t c = 0; c < f.n; c += 3)
            hi[nh++] = c;
        dx_txns(&f, hi, nh, test_clock_now - 2 * ENG_DAY, 4, "a");
        dx_txns(&f, hi, nh, test_clock_now - ENG_DAY, 6, "b");
        eng_message_spec m = dx_message();
        eng_xengage_options o = ENG_XENGAGE_OPTIONS_INIT;
        o.credits_per_unit = with ? 100 : 0;
        m.xengage = &o;
        xe_approve(&f, &m);
        dx_run_all(&f, f.t0, NULL);
        size_t ntest = 0, seen = 0, sent = 0;
        uint32_t *test = dx_test_group(&f, &ntest);
        for (size_t x = 0; x < ntest; x++) {
            eng_trace t;
            assert_int_equal(eng_trace_init(&t, ENG_TRACE_VERSION), ENG_OK);
            assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, test[x], &t), ENG_OK);
            if (t.rule != ENG_RULE_XENGAGE || test[x] % 3)
                continue;
            assert_true(fabs(t.xe_value - (with ? 500.0 : 5.0)) <= 1e-9 * t.xe_value); /* (4 + 6) / 2 x rate */
            seen++, sent += t.xe_channel >= 0;
        }
        /* At one credit a message, a conversion worth 5 credits is not always worth a send; worth 500 it is. */
        printf("credits per unit %s: %zu of %zu customers worth (4 + 6) / 2 sent\n", with ? "100" : "unset", sent, seen);
        assert_true(seen > 100);
        if (with) /* the same customers and draws: a dearer conversion is sent more */
            assert_true(sent * 10 >= seen * 9 && sent > sent_unset);
        sent_unset = sent;
        free(test);
        free(hi);
        dx_close(&f);
    }
}

typedef struct runner {
    dx *f;
    eng_time now;
} runner;

static void *run_thread(void *u)
{
    runner *r = u;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(r->f->e, "root", r->now, NULL, &rep), ENG_OK);
    return NULL;
}

/* Choices of one run: batch size, threads calling run-due at once. */
static void choices(unsigned batch, int threads, int *out)
{
    dx f;
    /* One batch at the provider at a time: the test's provider log is not thread-safe (the engine's
     * in-flight accounting, under its lock, orders the calls for ThreadSanitizer too). */
    dx_world(&f, N, batch, 1, 1);
    dx_xengage(&f);
    if (threads > 1) {
        pthread_t t[4];
        runner r = {&f, f.t0};
        for (int i = 0; i < threads; i++)
            assert_int_equal(pthread_create(&t[i], NULL, run_thread, &r), 0);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
    }
    dx_run_all(&f, f.t0, NULL);
    channels_sent(&f, out);
    dx_close(&f);
}


/* eng_trace_get version 2 of every customer with @p cache executions kept (0: none). */
static void traces(dx *f, size_t cache, eng_trace *out)
{
    eng__xe_trace_cache_max = cache;
    for (uint32_t c = 0; c < f->n; c++) {
        memset(&out[c], 0, sizeof out[c]);
        assert_int_equal(eng_trace_init(&out[c], ENG_TRACE_VERSION), ENG_OK);
        assert_int_equal(eng_trace_get(f->e, "root", f->message, 0, c, &out[c]), ENG_OK);
    }
    eng__xe_trace_cache_max = 2;
}

static void same_traces(const dx *f, const eng_trace *a, const eng_trace *b)
{
    for (uint32_t c = 0; c < f->n; c++)
        if (memcmp(&a[c], &b[c], sizeof a[c]) != 0)
            fail_msg("customer %u: the trace with the checkpoint cache differs from the one without", c);
}

/* eng_trace_get version 2 keeps the checkpoints it replays from (decide's slot): every trace is
 * byte for byte the one of a replay from storage, with the cache cold and warm, and after a new
 * batch (a later scheduler time: new chunks and a new population snapshot) is committed while
 * the cache is warm. */
static void trace_cache_same_results(void **state)
{
    (void)state;
    dx f;
    xe_world(&f);
    xe_sales(&f);
    eng_message_spec m = dx_message();
    xe_approve(&f, &m);
    run_batches(&f, f.t0, 2);
    eng_trace *off = malloc(f.n * sizeof *off), *on = malloc(f.n * sizeof *on), *first = malloc(f.n * sizeof *first);
    traces(&f, 0, off);
    traces(&f, 2, on); /* cold, then warm */
    same_traces(&f, off, on);
    traces(&f, 2, on);
    same_traces(&f, off, on);
    unsigned known = 0;
    for (uint32_t c = 0; c < f.n; c++)
        known += on[c].xe_known;
    assert_true(known > 0);
    memcpy(first, on, f.n * sizeof *first);

    /* Receipts (the SMS clicked and their customers buying: a campaign that pays, so the later batches
     * send), then two more batches at a later scheduler time, the cache warm. */
    int *sent = malloc(f.n * sizeof *sent);
    channels_sent(&f, sent);
    sms_buy(&f, sent);
    free(sent);
    eng_time later = f.t0 + 72 * ENG_HOUR;
    test_clock_now = later;
    run_batches(&f, later, 2);
    traces(&f, 2, on);
    traces(&f, 0, off);
    same_traces(&f, off, on);
    unsigned changed = 0, late = 0;
    for (uint32_t c = 0; c < f.n; c++) {
        changed += memcmp(&first[c], &on[c], sizeof on[c]) != 0;
        late += on[c].xe_known && on[c].xe_model_time == later;
    }
    assert_true(changed > 0 && late > 0); /* the new batch shows in the traces */
    /* Dropped (as the executor does when it writes a checkpoint or a snapshot) and kept again. */
    eng__xengage_trace_forget(f.e);
    traces(&f, 1, on);
    same_traces(&f, off, on);
    free(off);
    free(on);
    free(first);
    dx_close(&f);
}

static void deterministic(void **state)
{
    (void)state;
    int *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    choices(64, 1, a);
    static const struct {
        unsigned batch;
        int threads;
    } runs[] = {{7, 1}, {256, 1}, {32, 2}, {16, 3}};
    unsigned contacted = 0;
    for (size_t i = 0; i < N; i++)
        contacted += a[i] >= 0;
    assert_true(contacted > N / 2);
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        choices(runs[r].batch, runs[r].threads, b);
        for (size_t i = 0; i < N; i++)
            if (a[i] != b[i])
                fail_msg("batch %u, %d threads: customer %zu got %d, not %d", runs[r].batch, runs[r].threads, i,
                         b[i], a[i]);
    }
    free(a);
    free(b);
}

/* ---- conversions from the org's earlier campaigns, against a plain reference ---- */

/* One send as the public touch reader gives it: its time, and whether it was delivered / engaged. */
typedef struct ref_send {
    uint64_t campaign, message;
    int channel;
    eng_time sent_at, engaged_at; /* engaged_at: its first open or click */
    int delivered, engaged;
} ref_send;
typedef struct ref_sends {
    ref_send s[16];
    size_t n;
} ref_sends;

static int ref_touch(const eng_touch_row *r, void *u)
{
    ref_sends *l = u;
    ref_send *x = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->s[i].campaign == r->campaign && l->s[i].message == r->message && l->s[i].channel == r->channel)
            x = &l->s[i];
    if (!x) {
        assert_true(l->n < 16);
        x = &l->s[l->n++];
        *x = (ref_send){r->campaign, r->message, r->channel, 0, 0, 0, 0};
    }
    if ((r->status == ENG_TOUCH_OPENED || r->status == ENG_TOUCH_CLICKED) && (!x->engaged || r->time < x->engaged_at))
        x->engaged_at = r->time;
    if (r->status == ENG_TOUCH_SENT)
        x->sent_at = r->time;
    x->delivered |= r->status == ENG_TOUCH_DELIVERED || r->status == ENG_TOUCH_OPENED || r->status == ENG_TOUCH_CLICKED;
    x->engaged |= r->status == ENG_TOUCH_OPENED || r->status == ENG_TOUCH_CLICKED;
    return 0;
}

typedef struct ref_txns {
    eng_time t[16];
    size_t n;
} ref_txns;

static int ref_txn(const eng_txn_row *r, void *u)
{
    ref_txns *l = u;
    assert_true(l->n < 16);
    l->t[l->n++] = r->time;
    return 0;
}

/* Expected en/ec of the (single) segment on @p channel, written out from the documented rule: every send
 * of the org before @p before; a campaign message with no transaction in any of its sends' windows is left
 * out (@p gate); a send converted with a transaction in [sent, min(max(min(sent + 7 d, the customer's next send
 * by the org before @p before, less 1 ms), its first engagement), now)] (@p late 0: without the engagement; @p
 * cut 0 in ref_conversions_cut: without the next send, the rule before it); weights
 * 0.5 per 7 days of age; the lift over the organic purchases the engaged would have made within their own spans, at
 * the rate per hour of the channel's sends not engaged (whatever their delivery; shrunk toward all channels' by two
 * sends), re-expressed over the carried control rate (@p bn, @p bc) as the decisions use it. */
static eng_time ref_window_end(const ref_send *x, eng_time now, int late, const ref_sends *all, eng_time before)
{
    eng_time to = x->sent_at + 7 * ENG_DAY;
    for (size_t j = 0; all && j < all->n; j++) /* up to the customer's next touch by the org, not at it */
        if (all->s[j].sent_at > x->sent_at && all->s[j].sent_at < before && all->s[j].sent_at - 1 < to)
            to = all->s[j].sent_at - 1;
    if (late && x->engaged && x->engaged_at > to)
        to = x->engaged_at;
    return to < now ? to : now;
}

/* An organic rate per hour: @p c of @p n sends looked at over mean span @p L bought, shrunk by @p s sends toward
 * the rate @p h0 (a purchase within L has chance 1 - exp(-h L)). */
static double ref_rate(double c, double n, double L, double s, double h0)
{
    if (!(L > 0))
        return h0;
    double p = (c + s * (1 - exp(-h0 * L))) / (n + s);
    p = p < 1 - 1e-9 ? p : 1 - 1e-9;
    return -log(1 - p) / L;
}

static void ref_conversions_cut(dx *f, eng_time before, eng_time now, int channel, double bn, double bc, int gate,
                                int late, int cut, double *en_out, double *ec_out, double *p0h_out)
{
    const eng_time W = 7 * ENG_DAY;
    ref_sends *sends = calloc(f->n, sizeof *sends);
    ref_txns *txns = calloc(f->n, sizeof *txns);
    assert_non_null(sends);
    assert_non_null(txns);
    for (uint32_t c = 0; c < f->n; c++) {
        assert_int_equal(eng_touches_of_customer(f->e, "acme", c, ref_touch, &sends[c]), ENG_OK);
        char ext[32];
        assert_int_equal(eng_customer_external_id(f->e, "root", c, ext, sizeof ext), ENG_OK);
        assert_int_equal(eng_txn_scan(f->e, "acme", ext, 0, INT64_MAX, ref_txn, &txns[c]), ENG_OK);
    }
    /* which campaign messages saw a sale in a window */
    uint64_t sold[16][2];
    size_t nsold = 0;
    for (uint32_t c = 0; c < f->n; c++)
        for (size_t i = 0; i < sends[c].n; i++) {
            const ref_send *x = &sends[c].s[i];
            eng_time to = ref_window_end(x, now, late, cut ? &sends[c] : NULL, before);
            int any = 0;
            for (size_t j = 0; j < txns[c].n; j++)
                any |= txns[c].t[j] >= x->sent_at && txns[c].t[j] <= to;
            int known = 0;
            for (size_t j = 0; j < nsold; j++)
                known |= sold[j][0] == x->campaign && sold[j][1] == x->message;
            if (any && !known && x->sent_at < before) {
                assert_true(nsold < 16);
                sold[nsold][0] = x->campaign, sold[nsold++][1] = x->message;
            }
        }
    double en = 0, ec = 0, on = 0, oc = 0, ol = 0, onc = 0, occ = 0, olc = 0, r = 0, p0h = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 1: the organic purchases expected among the engaged (eo) */
        double h_all = ref_rate(oc + 0.5, on + 1, on > 0 ? ol / on : 24, 0, 0);
        double h_g = ref_rate(oc, on, on > 0 ? ol / on : 0, 2, h_all); /* one segment */
        double h_c = ref_rate(occ, onc, onc > 0 ? olc / onc : 0, 2, h_g), eo = 0;
        for (uint32_t c = 0; c < f->n; c++)
            for (size_t i = 0; i < sends[c].n; i++) {
                const ref_send *x = &sends[c].s[i];
                int ok = !gate;
                for (size_t j = 0; j < nsold; j++)
                    ok |= sold[j][0] == x->campaign && sold[j][1] == x->message;
                if (!ok || x->sent_at >= before)
                    continue;
                eng_time to = ref_window_end(x, now, late, cut ? &sends[c] : NULL, before);
                double span = to > x->sent_at ? (double)(to - x->sent_at) / ENG_HOUR : 0;
                int conv = 0;
                for (size_t j = 0; j < txns[c].n; j++)
                    conv |= txns[c].t[j] >= x->sent_at && txns[c].t[j] <= to;
                double w = pow(0.5, (double)(before - x->sent_at) / (double)W);
                if (pass == 1) {
                    if (x->engaged && x->channel == channel)
                        eo += w * (1 - exp(-h_c * span));
                } else if (x->engaged && x->channel == channel)
                    en += w, ec += w * conv;
                else if (!x->engaged) { /* whatever its delivery */
                    on += w, oc += w * conv, ol += w * span;
                    if (x->channel == channel)
                        onc += w, occ += w * conv, olc += w * span;
                }
            }
        if (pass == 0)
            continue;
        /* one segment: the organic rate the decisions compare with is the control's own, bc / bn, else the history's
         * chance over a week; the lift over what the engaged would have bought anyway within their own spans */
        double p0r = bn > 0 ? bc / bn : 1 - exp(-h_g * 7 * 24);
        double lift = en > eo ? (ec - eo) / (en - eo) : 0;
        lift = lift < 0 ? 0 : lift > 1 ? 1 : lift;
        r = en > 0 ? p0r + (1 - p0r) * lift : 0;
        p0h = 1 - exp(-h_c * 7 * 24);
    }
    *en_out = en;
    *ec_out = en * r;
    if (p0h_out)
        *p0h_out = p0h;
    free(sends);
    free(txns);
}

static void ref_conversions(dx *f, eng_time before, eng_time now, int channel, double bn, double bc, int gate,
                            int late, double *en_out, double *ec_out)
{
    ref_conversions_cut(f, before, now, channel, bn, bc, gate, late, 1, en_out, ec_out, NULL);
}

static void reset_provider(dx *f)
{
    memset(f->prov.delivered, 0, f->n * DX_CH * sizeof *f->prov.delivered);
    memset(f->prov.calls, 0, f->n * DX_CH * sizeof *f->prov.calls);
    for (size_t i = 0; i < f->n * DX_CH; i++) {
        free(f->prov.key[i]);
        f->prov.key[i] = NULL;
    }
}

static int even_opens_email(uint32_t customer, int channel, void *user)
{
    return channel == ENG_CH_EMAIL && dx_ext(user, customer) % 2 == 0 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
}

/* Conversion given engagement comes from every earlier send of the org, its late responses included: the
 * next execution's starting model (its checkpoint) holds exactly what the plain reference computes from the
 * public touch and transaction readers. A blast whose windows saw no sale at all (history without sales)
 * is left out; the control counts of the org's last execution carry over. */
static void conversions_from_history(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, N, 64, 1, 1);
    dx_xengage(&f); /* a blast with opens, clicks and sales, then X-Engage approved */
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 3;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_OK);
    /* The SMS of the first batches are clicked and bought from; then the execution finishes. */
    dx_receipts(&f, f.t0 + 60 * 1000, sms_pick, NULL);
    uint32_t ids[N];
    size_t nb = 0;
    for (uint32_t c = 0; c < N; c++)
        if (f.prov.delivered[dx_pair(c, ENG_CH_SMS)])
            ids[nb++] = c;
    assert_true(nb > 0);
    dx_txns(&f, ids, nb, f.t0 + 2 * ENG_HOUR, 100, "x");
    test_clock_now = f.t0 + 3 * ENG_HOUR;
    dx_run_all(&f, test_clock_now, NULL);
    char key[128];
    snprintf(key, sizeof key, "d/xo/acme/%08x", 1u << ENG_CH_SMS | 1u << ENG_CH_EMAIL);
    eng__xe *prior = NULL, *next = NULL;
    assert_int_equal(eng__xe_load(&f.e->mem, f.e->store, key, &prior), ENG_OK);
    /* A blast without sales after it: even customers open the e-mail. */
    reset_provider(&f);
    eng_message_spec m = dx_message();
    m.title = "No sales";
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    dx_receipts(&f, f.t0 + 60 * 1000, even_opens_email, &f);
    test_clock_now = f.t0 + ENG_HOUR;
    reset_provider(&f);
    m = dx_message();
    m.title = "X2";
    m.strategy = ENG_STRATEGY_XENGAGE;
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL); /* the history: every send before the execution's start */
    snprintf(key, sizeof key, "d/xe/%016llx/%08x", (unsigned long long)f.message, 0u);
    assert_int_equal(eng__xe_load(&f.e->mem, f.e->store, key, &next), ENG_OK);
    /* the control counts carry over, decayed by forget */
    assert_true(prior->seg[0].bn > 0);
    assert_true(fabs(next->seg[0].bn - 0.5 * prior->seg[0].bn) < 1e-9);
    assert_true(fabs(next->seg[0].bc - 0.5 * prior->seg[0].bc) < 1e-9);
    static const int chans[2] = {ENG_CH_SMS, ENG_CH_EMAIL}; /* optimizer channels 0 and 1 */
    for (int j = 0; j < 2; j++) {
        double en, ec, en_all, ec_all;
        ref_conversions(&f, f.t0, f.t0, chans[j], next->seg[0].bn, next->seg[0].bc, 1, 1, &en, &ec);
        ref_conversions(&f, f.t0, f.t0, chans[j], next->seg[0].bn, next->seg[0].bc, 0, 1, &en_all, &ec_all);
        const xe_cell *b = xe_cell_at(next, 0, (unsigned)j);
        printf("x-engage conversions from history, %s: en %.4f ec %.4f (reference %.4f %.4f; without the sales "
               "gate %.4f %.4f)\n", j ? "email" : "sms", b->en, b->ec, en, ec, en_all, ec_all);
        assert_true(en > 0);
        assert_true(fabs(b->en - en) < 1e-9 * en && fabs(b->ec - ec) < 1e-9 * (en + 1));
        if (chans[j] == ENG_CH_EMAIL)
            assert_true(en_all > en + 1); /* the blast without sales had e-mail opens: the gate matters */
    }
    eng__xe_free(prior);
    eng__xe_free(next);
    dx_close(&f);
}

/* A host that hands over receipts and sales together stamps both with the time it hands them over: a response
 * that came days after its send arrives with its purchase, at one time beyond the 7 days after the send. That
 * purchase is the engagement's conversion. Here a blast's e-mail is opened within the hour by customers 4k + 2,
 * who buy an hour later, and customers 4k + 1 buy without opening; a second blast's e-mail is opened nine days
 * after it by customers 4k, handed over with a purchase of each at the same time. The next X-Engage execution's
 * e-mail cell holds what the reference computes with the window running to the first engagement when that is
 * later, and the late openers' purchases count (with the send's window alone they did not: freeties.world,
 * whose simulated host handed its outcomes over ten days after the sends, had its conversion estimate at 0 on
 * every channel but the instant ones). */
static int prompt_pick(uint32_t customer, int channel, void *user)
{
    return channel == ENG_CH_EMAIL && dx_ext(user, customer) % 4 == 2 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
}

/* An X-Engage message approved and run at @p now: its execution's starting model (checkpoint). */
static eng__xe *xengage_after(dx *f, eng_time now)
{
    reset_provider(f);
    test_clock_now = now;
    eng_message_spec m = dx_message();
    m.title = "X";
    xe_approve(f, &m);
    dx_run_all(f, f->t0, NULL);
    char key[128];
    snprintf(key, sizeof key, "d/xe/%016llx/%08x", (unsigned long long)f->message, 0u);
    eng__xe *next = NULL;
    assert_int_equal(eng__xe_load(&f->e->mem, f->e->store, key, &next), ENG_OK);
    return next;
}

/* A world and a blast of its message, no receipts yet: the blast's time. */
static eng_time blast(dx *f)
{
    dx_world(f, N, 64, 1, 1);
    dx_xengage_any_size();
    eng_message_spec m = dx_message();
    dx_approve(f, &m);
    dx_run_all(f, f->t0, NULL);
    return f->t0;
}

/* The blast, its e-mail opened within the hour by customers 4k + 2 (prompt_pick). */
static eng_time prompt_blast(dx *f)
{
    eng_time sent = blast(f);
    dx_receipts(f, sent + 60 * 1000, prompt_pick, f); /* delivered; opened an hour later by 4k + 2 */
    return sent;
}

static void late_engagement_converts(void **state)
{
    (void)state;
    dx f;
    eng_time sent = prompt_blast(&f);
    uint32_t prompt[N], late[N], organic[N];
    size_t np = 0, nl = 0, no = 0;
    for (uint32_t c = 0; c < N; c++) {
        size_t x = dx_ext(&f, c) % 4;
        if (x == 2 && f.prov.delivered[dx_pair(c, ENG_CH_EMAIL)])
            prompt[np++] = c;
        else if (x == 1)
            organic[no++] = c;
    }
    dx_txns(&f, prompt, np, sent + 2 * ENG_HOUR, 100, "p");
    dx_txns(&f, organic, no, sent + 3 * ENG_HOUR, 100, "o");
    /* the second blast: its e-mail opened nine days after it by 4k, handed over with a purchase of each */
    reset_provider(&f);
    test_clock_now = sent + ENG_DAY;
    eng_message_spec m = dx_message();
    m.title = "Late";
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_time sent2 = f.t0;
    static const char *keys[2 * N];
    static int st[2 * N];
    static eng_time t[2 * N];
    size_t n = 0;
    for (uint32_t c = 0; c < N; c++) {
        const char *k = f.prov.key[dx_pair(c, ENG_CH_EMAIL)];
        if (!k || !f.prov.delivered[dx_pair(c, ENG_CH_EMAIL)])
            continue;
        keys[n] = k, st[n] = ENG_TOUCH_DELIVERED, t[n++] = sent2 + 60 * 1000;
        if (dx_ext(&f, c) % 4 == 0) {
            keys[n] = k, st[n] = ENG_TOUCH_OPENED, t[n++] = sent2 + 9 * ENG_DAY;
            late[nl++] = c;
        }
    }
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.unmatched, 0);
    assert_true(nl > 10 && np > 10);
    dx_txns(&f, late, nl, sent2 + 9 * ENG_DAY, 100, "l");
    /* X-Engage, approved after the late purchases */
    eng__xe *next = xengage_after(&f, sent2 + 9 * ENG_DAY + ENG_HOUR);
    const xe_cell *b = xe_cell_at(next, 0, 1); /* optimizer channel 1: e-mail */
    double en, ec, en_old, ec_old;
    ref_conversions(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 1, &en, &ec);
    ref_conversions(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 0, &en_old, &ec_old);
    printf("x-engage late engagements: e-mail en %.4f ec %.4f (reference %.4f %.4f; the send's window alone %.4f "
           "%.4f)\n", b->en, b->ec, en, ec, en_old, ec_old);
    assert_true(en > 0);
    assert_true(fabs(b->en - en) < 1e-9 * en && fabs(b->ec - ec) < 1e-9 * (en + 1));
    assert_true(ec > ec_old + 1); /* the late openers' purchases count */
    eng__xe_free(next);
    dx_close(&f);
}

/* A send's window holds its ends: a purchase at the very time of the send, and one at the end of its 7 days,
 * convert (the reference's [sent, sent + 7 d]). Customers 4k + 2 open the e-mail within the hour; of them and of
 * the customers 4k + 1 who do not, those with 8k + 1 or 8k + 2 buy at the send's time, the others at the end of
 * its window; the next X-Engage execution's e-mail cell is the reference's, with every one of them converted. */
static void sales_at_the_window_ends(void **state)
{
    (void)state;
    dx f;
    eng_time sent = prompt_blast(&f);
    uint32_t at_send[N], at_end[N];
    size_t ns = 0, ne = 0, opened = 0;
    for (uint32_t c = 0; c < N; c++) {
        size_t x = dx_ext(&f, c) % 8;
        if (x % 4 != 1 && x % 4 != 2)
            continue;
        if (x == 1 || x == 2)
            at_send[ns++] = c;
        else
            at_end[ne++] = c;
        opened += x % 4 == 2 && f.prov.delivered[dx_pair(c, ENG_CH_EMAIL)];
    }
    dx_txns(&f, at_send, ns, sent, 100, "s");
    dx_txns(&f, at_end, ne, sent + 7 * ENG_DAY, 100, "e");
    eng__xe *next = xengage_after(&f, sent + 8 * ENG_DAY);
    const xe_cell *b = xe_cell_at(next, 0, 1); /* optimizer channel 1: e-mail */
    double en, ec;
    ref_conversions(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 1, &en, &ec);
    printf("x-engage sales at the window's ends: e-mail en %.4f ec %.4f (reference %.4f %.4f), %zu openers\n", b->en,
           b->ec, en, ec, opened);
    assert_true(opened > 10 && en > 0 && ec > 0);
    assert_true(fabs(b->en - en) < 1e-9 * en && fabs(b->ec - ec) < 1e-9 * (en + 1));
    eng__xe_free(next);
    dx_close(&f);
}

/* A purchase after the customer's next touch is that touch's to claim: a send's window ends before the org's next
 * send to the customer. Here a blast's e-mail is opened within the hour by customers 4k + 2 (prompt_blast), of
 * whom 8k + 2 buy an hour later; a second blast a day later is followed by purchases of customers 4k + 1, who opened
 * neither. With the window of 7 days alone those purchases fell in the first blast's window too: its sends not
 * engaged read an organic rate of about a third and its e-mail's increment shrank by it (genworld.py world 133,
 * waves a day apart). The next X-Engage execution's e-mail cell is the reference's with the cut, whose organic
 * rate of the e-mail's sends not engaged is well below the one without it. */
static int nobody_opens(uint32_t customer, int channel, void *user)
{
    (void)customer, (void)channel, (void)user;
    return ENG_TOUCH_DELIVERED;
}

static void next_touch_claims_the_purchase(void **state)
{
    (void)state;
    dx f;
    eng_time sent = prompt_blast(&f);
    uint32_t prompt[N], later[N];
    size_t np = 0, nl = 0;
    for (uint32_t c = 0; c < N; c++) {
        size_t x = dx_ext(&f, c) % 8;
        if (x == 2 && f.prov.delivered[dx_pair(c, ENG_CH_EMAIL)])
            prompt[np++] = c;
        else if (x % 4 == 1)
            later[nl++] = c;
    }
    dx_txns(&f, prompt, np, sent + 2 * ENG_HOUR, 100, "p");
    reset_provider(&f);
    test_clock_now = sent + ENG_DAY;
    eng_message_spec m = dx_message();
    m.title = "Next day";
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_time sent2 = f.t0;
    assert_true(sent2 > sent && sent2 < sent + 7 * ENG_DAY);
    dx_receipts(&f, sent2 + 60 * 1000, nobody_opens, NULL);
    dx_txns(&f, later, nl, sent2 + 2 * ENG_HOUR, 100, "l");
    eng__xe *next = xengage_after(&f, sent2 + 3 * ENG_DAY);
    const xe_cell *b = xe_cell_at(next, 0, 1); /* optimizer channel 1: e-mail */
    double en, ec, en_all, ec_all, p0h, p0h_all;
    ref_conversions_cut(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 1, 1, &en, &ec, &p0h);
    ref_conversions_cut(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 1, 0, &en_all, &ec_all,
                        &p0h_all);
    printf("x-engage the next touch claims the purchase: e-mail en %.4f ec %.4f (reference %.4f %.4f, organic rate of "
           "its sends not engaged %.4f; windows of 7 days alone %.4f %.4f, %.4f), %zu openers, %zu later buyers\n",
           b->en, b->ec, en, ec, p0h, en_all, ec_all, p0h_all, np, nl);
    assert_true(np > 10 && nl > 10 && en > 0 && ec < en);
    assert_true(fabs(b->en - en) < 1e-9 * en && fabs(b->ec - ec) < 1e-9 * (en + 1));
    assert_true(p0h < p0h_all - 0.05); /* without the cut the later purchases read as organic */
    eng__xe_free(next);
    dx_close(&f);
}

/* The organic rate the history's lift is measured over comes from the sends not engaged whatever their delivery, as a
 * rate per hour over each send's span. Here a blast's e-mail is answered only by its openers (4k + 2: delivered, then
 * opened, an hour later); the other sends have no receipt yet (a host that hands a channel's delivery receipts over
 * with its window's end, genworld.py world 91's push), and half the openers buy. Nobody else buys: the lift is a half.
 * Counted over delivered sends not engaged only, the organic rate had no sends, fell back to 1/2 and read the lift as
 * 0 (every wave after the first of world 91 sent almost nothing). Against the reference (ref_conversions_cut). */
static void history_lift_without_delivery_receipts(void **state)
{
    (void)state;
    dx f;
    eng_time sent = blast(&f);
    static const char *keys[2 * N];
    static int st[2 * N];
    static eng_time t[2 * N];
    uint32_t buyers[N];
    size_t n = 0, nb = 0, opened = 0;
    for (uint32_t c = 0; c < N; c++) {
        size_t i = dx_pair(c, ENG_CH_EMAIL);
        if (!f.prov.key[i] || !f.prov.delivered[i] || dx_ext(&f, c) % 4 != 2)
            continue;
        keys[n] = f.prov.key[i], st[n] = ENG_TOUCH_DELIVERED, t[n++] = sent + 60 * 1000;
        keys[n] = f.prov.key[i], st[n] = ENG_TOUCH_OPENED, t[n++] = sent + ENG_HOUR;
        opened++;
        if (dx_ext(&f, c) % 8 == 2)
            buyers[nb++] = c;
    }
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    dx_txns(&f, buyers, nb, sent + 2 * ENG_HOUR, 100, "b");
    eng__xe *next = xengage_after(&f, sent + 2 * ENG_DAY);
    const xe_cell *b = xe_cell_at(next, 0, 1); /* optimizer channel 1: e-mail */
    double en, ec, p0r = next->seg[0].bn > 0 ? next->seg[0].bc / next->seg[0].bn : 0;
    ref_conversions(&f, f.t0, f.t0, ENG_CH_EMAIL, next->seg[0].bn, next->seg[0].bc, 1, 1, &en, &ec);
    double lift = (b->ec / b->en - p0r) / (1 - p0r), want = (double)nb / (double)opened;
    printf("x-engage history lift without delivery receipts: e-mail en %.4f ec %.4f (reference %.4f %.4f), control "
           "%.4f, lift %.4f against %zu of %zu openers bought, %.4f\n", b->en, b->ec, en, ec, p0r, lift, nb, opened, want);
    assert_true(opened > 50 && nb > 20 && nb < opened);
    assert_true(fabs(b->en - en) < 1e-9 * en && fabs(b->ec - ec) < 1e-9 * (en + 1));
    /* about the openers' share that bought (weighed by the sends' ages); the rule before read 0 */
    assert_true(lift > 0.8 * want && lift < 1.25 * want);
    eng__xe_free(next);
    dx_close(&f);
}

/* A history send not answered yet is a miss only in part: it counts with the chance that its answer, if one comes,
 * would have come by the execution's start (the channel's delays over the org's sends, with learn()'s prior of 20
 * answers of 16 h), drawn per send. Here a blast's e-mail goes out 3 h before the X-Engage execution starts and is
 * opened 1 h after delivery by customers 4k + 2 (prompt_pick); the checkpoint holds every opener's engagement and,
 * of the other e-mail sends, a count within binomial bounds of that chance (about a quarter), not all of them (the next
 * wave's history once held the last wave's unanswered sends of hours ago as misses, genworld.py world 91). */
static void history_open_sends_count_in_part(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, N, 64, 1, 1);
    dx_xengage_any_size();
    eng_schedule sx = ENG_SCHEDULE_INIT, sb = ENG_SCHEDULE_INIT;
    sx.kind = sb.kind = ENG_SCHEDULE_ONCE;
    sx.at = test_clock_now + 5 * ENG_DAY;
    sb.at = sx.at - 3 * ENG_HOUR;
    eng_message_spec m = dx_message();
    m.title = "X";
    m.schedule = &sx;
    xe_approve(&f, &m);
    uint64_t xmsg = f.message;
    m = dx_message();
    m.schedule = &sb;
    dx_approve(&f, &m);
    test_clock_now = sb.at;
    dx_run_all(&f, sb.at, NULL);
    dx_receipts(&f, sb.at + 60 * 1000, prompt_pick, &f); /* delivered; 4k + 2 open the e-mail an hour later */
    size_t answered = 0, open = 0;
    for (uint32_t c = 0; c < N; c++)
        if (f.prov.key[dx_pair(c, ENG_CH_EMAIL)] && f.prov.delivered[dx_pair(c, ENG_CH_EMAIL)]) {
            if (dx_ext(&f, c) % 4 == 2)
                answered++;
            else
                open++;
        }
    reset_provider(&f);
    f.message = xmsg, f.t0 = sx.at;
    test_clock_now = sx.at;
    dx_run_all(&f, f.t0, NULL);
    char key[128];
    snprintf(key, sizeof key, "d/xe/%016llx/%08x", (unsigned long long)xmsg, 0u);
    eng__xe *xe = NULL;
    assert_int_equal(eng__xe_load(&f.e->mem, f.e->store, key, &xe), ENG_OK);
    size_t n = 0, k = 0;
    for (uint32_t c = 0; c < eng__xe_cfg(xe)->customers; c++) {
        unsigned sn, sk;
        eng__xe_counts(xe, c, 1, &sn, &sk); /* optimizer channel 1: e-mail */
        n += sn, k += sk;
    }
    /* the chance, from the same delays: the openers' 1 h + 1 min, the others open for 3 h */
    eng__xe_delays d;
    eng__xe_delays_init(&d, 20, 16.0 * ENG_HOUR);
    for (size_t j = 0; j < answered; j++)
        eng__xe_delays_answered(&d, (double)(ENG_HOUR + 60 * 1000));
    eng__xe_delays_open(&d, (double)(3 * ENG_HOUR), (double)open);
    double w = eng__xe_delay_cdf(eng__xe_delay_fit(&d, NULL), (double)(3 * ENG_HOUR));
    double want = (double)open * w, sd = sqrt((double)open * w * (1 - w));
    printf("x-engage history's open sends: %zu answered, %zu open -> %zu engagements, %zu misses (chance %.3f: %.1f "
           "+- %.1f)\n", answered, open, k, n - k, w, want, sd);
    assert_true(answered > 50 && open > 100);
    assert_int_equal(k, answered);
    assert_true(w > 0.2 && w < 0.8);
    assert_true(fabs((double)(n - k) - want) <= 4 * sd + 1);
    eng__xe_free(xe);
    dx_close(&f);
}

/* An X-Engage message is approved at least 48 h before it runs: the campaigns sent in between (every one of a
 * host that sends daily) are history too. Here the blast that says who opens e-mail and who clicks SMS goes out
 * a day after the X-Engage message was approved and a day before it runs (genworld.py: daily worlds were
 * decided on the unseen prior, their history cut at the approval). */
static void history_after_approval(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, N, 64, 1, 1);
    dx_xengage_any_size();
    eng_schedule sx = ENG_SCHEDULE_INIT;
    sx.kind = ENG_SCHEDULE_ONCE;
    sx.at = test_clock_now + 5 * ENG_DAY;
    eng_message_spec m = dx_message();
    m.title = "X";
    m.schedule = &sx;
    xe_approve(&f, &m);
    uint64_t xmsg = f.message;
    test_clock_now += ENG_DAY; /* the blast: approved a day later, sent a day before X-Engage runs */
    m = dx_message();
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    test_clock_now = f.t0 + ENG_HOUR;
    dx_receipts(&f, f.t0 + 60 * 1000, dx_hist_pick, &f);
    uint32_t *ids = malloc(f.n * sizeof *ids);
    size_t nb = 0;
    for (uint32_t i = 0; i < f.n; i++)
        if (dx_ext(&f, i) % 4 == 0)
            ids[nb++] = i;
    dx_txns(&f, ids, nb, f.t0 + 2 * ENG_HOUR, 100, "h");
    free(ids);
    assert_true(f.t0 < sx.at);
    reset_provider(&f);
    f.message = xmsg, f.t0 = sx.at;
    test_clock_now = sx.at;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &rep);
    assert_int_equal(rep.finished, 1);
    int *sent = malloc(f.n * sizeof *sent);
    channels_sent(&f, sent);
    size_t ntest = 0;
    uint32_t *test = dx_test_group(&f, &ntest);
    unsigned email_ok = 0, email_n = 0, sms_ok = 0, sms_n = 0;
    for (size_t j = 0; j < ntest; j++) {
        uint32_t c = test[j];
        if (explored(&f, c))
            continue;
        size_t k = dx_ext(&f, c);
        if (k % 3 == 0 && k % 5) {
            email_n++;
            email_ok += sent[c] == ENG_CH_EMAIL;
        } else if (k % 3 == 1) {
            sms_n++;
            sms_ok += sent[c] == ENG_CH_SMS;
        }
    }
    printf("history after the approval: %u/%u email openers got email, %u/%u sms clickers got sms\n", email_ok,
           email_n, sms_ok, sms_n);
    assert_true(email_n > 50 && sms_n > 50);
    assert_true(email_ok * 10 >= email_n * 9);
    assert_true(sms_ok * 4 >= sms_n * 3);
    free(test);
    free(sent);
    dx_close(&f);
}

/* Issue 16: while an X-Engage message executes, each accepted send charges its
 * recipient's X-Engage credits and takes the same amount off the message's
 * reservation, so a second message approved mid-run sees balance - reserved =
 * what is really left (not the full first reservation on top of its charges). */
static void reservation_follows_sends(void **state)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    (void)state;
    dx f;
    xe_world(&f);
    int64_t bal = 0, reserved = 0;
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 10 * N), ENG_OK);
    eng_message_spec m = dx_message();
    sched = *m.schedule; /* start from the fixture's */
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.title = "X1";
    dx_approve(&f, &m);
    uint64_t first = f.message;
    eng_time t1 = f.t0;
    size_t ntest = 0;
    free(dx_test_group(&f, &ntest));
    /* Exactly two full audiences of credits (cost 1 per recipient). */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, (int64_t)(2 * ntest) - 10 * N), ENG_OK);
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 2;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", t1, &o, &rep), ENG_OK);
    assert_true(rep.accepted > 0 && rep.accepted < ntest);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE, &bal), ENG_OK);
    assert_int_equal(bal, (int64_t)(2 * ntest - rep.accepted));
    assert_int_equal(eng__xengage_reserved(f.e, "acme", 0, &reserved), ENG_OK);
    assert_int_equal(reserved, (int64_t)(ntest - rep.accepted));
    /* The second message (a day later) needs ntest: exactly what is left unreserved. */
    m.title = "X2";
    sched.at = t1 + ENG_DAY;
    m.schedule = &sched;
    dx_approve(&f, &m);
    uint64_t second = f.message;
    assert_int_equal(eng__xengage_reserved(f.e, "acme", 0, &reserved), ENG_OK);
    assert_int_equal(reserved, (int64_t)(2 * ntest - rep.accepted));
    /* The first finishes: its charges total its accepted sends, its reservation is gone. */
    eng_run_report all = ENG_RUN_REPORT_INIT;
    f.message = first;
    dx_run_all(&f, t1, &all);
    assert_int_equal(eng__xengage_reserved(f.e, "acme", second, &reserved), ENG_OK);
    assert_int_equal(reserved, 0);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE, &bal), ENG_OK);
    assert_int_equal(bal, (int64_t)(2 * ntest - rep.accepted - all.accepted));
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_channel_from_history),
        cmocka_unit_test(learns_between_batches),
        cmocka_unit_test(segments_from_include_groups),
        cmocka_unit_test(trace_replays_decision),
        cmocka_unit_test(customer_values),
        cmocka_unit_test(organic_from_sales),
        cmocka_unit_test(organic_prior_over_the_control_span),
        cmocka_unit_test(credits_per_unit),
        cmocka_unit_test(trace_cache_same_results),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(conversions_from_history),
        cmocka_unit_test(late_engagement_converts),
        cmocka_unit_test(sales_at_the_window_ends),
        cmocka_unit_test(next_touch_claims_the_purchase),
        cmocka_unit_test(history_open_sends_count_in_part),
        cmocka_unit_test(history_lift_without_delivery_receipts),
        cmocka_unit_test(reservation_follows_sends),
        cmocka_unit_test(history_after_approval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
