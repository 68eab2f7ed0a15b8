/* The audience layer as the model layer's X-Engage counter: a message whose
 * test group (group "loyal-2025" after a 10 % control) has at least 100,000
 * customers passes the audience rule, and one below fails it at
 * message.audience. Counts are checked against eng_audience_resolve. */
#include <stdlib.h>
#include <string.h>

#include "../model/model_fixture.h"

static const eng_creative xe_creatives[] = {{ENG_CH_FACEBOOK, "Diwali", "Up to 50% off"}};

static eng_message_spec xe_message(void)
{
    static eng_incentive inc; /* the spec returned points here: each call starts it afresh */
    inc = (eng_incentive)ENG_INCENTIVE_INIT;
    static eng_schedule sched; /* the spec returned points here: each call starts it afresh */
    sched = (eng_schedule)ENG_SCHEDULE_INIT;
    eng_message_spec m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.creatives = xe_creatives;
    m.n_creatives = 1;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = "diwali20"; /* claimed from the catalogue (fx_offer) */
    sched.at = test_clock_now + 3 * ENG_DAY;
    m.incentive = &inc;
    m.schedule = &sched;
    return m;
}

/* Upload customers [0, n) into the group. */
static void fill(eng_engine *e, uint32_t g, size_t n)
{
    char *csv = malloc(n * 12 + 8), *p = csv;
    if (!csv)
        abort();
    p += sprintf(p, "id\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "k%zu\n", i);
    assert_int_equal(eng_group_upload_csv(e, "root", g, csv, (size_t)(p - csv), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    free(csv);
}

static void xengage_minimum_uses_the_audience(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    /* Every customer has a Facebook contact; every 20th has not consented. */
    size_t total = 130000;
    char *csv = malloc(total * 32 + 64), *p = csv;
    if (!csv)
        abort();
    p += sprintf(p, "id,contact.facebook,consent.facebook\n");
    for (size_t i = 0; i < total; i++)
        p += sprintf(p, "k%zu,fb%zu,%s\n", i, i, i % 20 ? "yes" : "no");
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    free(csv);
    uint32_t g, gx;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "loyal-2025", &g), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "staff", &gx), ENG_OK);
    fill(f.e, g, 125000);
    fill(f.e, gx, 1000);

    /* The test count counts like a resolve of the same query. */
    const char *inc[] = {"loyal-2025"}, *exc[] = {"staff"};
    uint64_t n = 0, want;
    eng_audience_query q = {ENG_AUDIENCE_QUERY_VERSION, inc, 1, exc, 1, 1u << ENG_CH_FACEBOOK, 10, 42, "acme", 7, 0};
    assert_int_equal(eng_audience_test_count(f.e, "root", &q, &n), ENG_OK);
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &want), ENG_OK);
    eng_audience_free(a);
    assert_int_equal(n, want); /* exactly the test group the campaign will contact */
    assert_true(n > 100000 && n < 124000 * 0.95 * 0.9 + 1000);
    /* Unreachable customers do not count: without the channel filter there are more. */
    uint64_t unfiltered;
    q.channels = 0;
    assert_int_equal(eng_audience_test_count(f.e, "root", &q, &unfiltered), ENG_OK);
    assert_true(unfiltered > n + 4000);
    q.channels = 1u << ENG_CH_FACEBOOK;
    /* The seed decides who is in test; another seed is another (equally sized) split. */
    q.split_seed = 43;
    uint64_t other;
    assert_int_equal(eng_audience_test_count(f.e, "root", &q, &other), ENG_OK);
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &want), ENG_OK);
    eng_audience_free(a);
    assert_int_equal(other, want);
    q.split_seed = 42;
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%u", g);
    const char *byid[] = {idtext};
    uint64_t n2;
    eng_audience_query qid = q;
    qid.include = byid;
    assert_int_equal(eng_audience_test_count(f.e, "root", &qid, &n2), ENG_OK);
    assert_int_equal(n2, n);
    const char *nope[] = {"nope"};
    eng_audience_query bad = q;
    bad.include = nope;
    assert_int_equal(eng_audience_test_count(f.e, "root", &bad, &n2), ENG_ENOTFOUND);
    bad = q;
    bad.control_percent = 101;
    assert_int_equal(eng_audience_test_count(f.e, "root", &bad, &n2), ENG_ERANGE);
    bad = q;
    bad.n_include = 0;
    assert_int_equal(eng_audience_test_count(f.e, "root", &bad, &n2), ENG_EINVAL);
    bad = q;
    bad.version = 99;
    assert_int_equal(eng_audience_test_count(f.e, "root", &bad, &n2), ENG_EVERSION);
    assert_int_equal(eng_audience_test_count(f.e, "root", NULL, &n2), ENG_EINVAL);
    assert_int_equal(eng_audience_test_count(NULL, "root", &q, &n2), ENG_EMISUSE);

    /* The model's default counter is this one: enough test recipients pass ... */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 200000), ENG_OK);
    eng_campaign_spec c = fx_campaign("Diwali");
    c.control_percent = 10;
    uint64_t cid, mid;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    fx_offer(f.e, "ann", "diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    eng_message_spec m = xe_message();
    eng_validation *v = NULL;
    int rc = eng_message_create(f.e, "ann", cid, &m, &mid, &v);
    if (!rc)
        rc = eng_message_submit(f.e, "ann", mid, &v);
    if (rc)
        for (size_t i = 0; i < eng_validation_count(v); i++) {
            int code;
            const char *path, *msg;
            eng_validation_item(v, i, &code, &path, &msg);
            fprintf(stderr, "  report: %d %s: %s\n", code, path, msg);
        }
    assert_int_equal(rc, ENG_OK);
    eng_validation_free(v);
    /* ... and too few (100,000 in the group, so about 90,000 in test) fail. */
    fill(f.e, g, 100000);
    v = NULL;
    rc = eng_message_create(f.e, "ann", cid, &m, &mid, &v);
    if (!rc)
        rc = eng_message_submit(f.e, "ann", mid, &v);
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_int_equal(eng_validation_find(v, "message.audience"), ENG_ERANGE);
    eng_validation_free(v);
    fx_close(&f);
}

static int state_of(eng_engine *e, uint64_t mid)
{
    eng_message *h;
    assert_int_equal(eng_message_get(e, "vic", mid, &h), ENG_OK);
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(h, &st), ENG_OK);
    eng_message_free(h);
    return st.state;
}

/* Approval freezes the audience the campaign will contact: exactly the
 * resolve with the message's groups, channels and the campaign's seed; it
 * stays as approved when groups change and across a reopen; an unknown group
 * refuses the approval and leaves the message awaiting. */
static void approval_freezes_the_audience(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    /* 2000 customers with a phone; every 10th has not consented to SMS. */
    size_t total = 2000;
    char *csv = malloc(total * 48 + 64), *p = csv;
    if (!csv)
        abort();
    p += sprintf(p, "id,contact.sms,consent.sms\n");
    for (size_t i = 0; i < total; i++)
        p += sprintf(p, "k%zu,+9198%08zu,%s\n", i, i, i % 10 ? "yes" : "no");
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    free(csv);
    uint32_t g, gx;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "loyal-2025", &g), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "staff", &gx), ENG_OK);
    fill(f.e, g, 1500);
    fill(f.e, gx, 100);

    eng_campaign_spec c = fx_campaign("Diwali");
    c.control_percent = 10;
    uint64_t cid, mid, bad;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    static const char *const exc[] = {"staff"};
    eng_message_spec m = fx_message(); /* sms + email creatives, include loyal-2025 */
    m.exclude = exc;
    m.n_exclude = 1;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    eng_audience *a = NULL;
    assert_int_equal(eng_message_submit(f.e, "ann", mid, NULL), ENG_OK);
    assert_int_equal(eng_message_audience(f.e, "vic", mid, &a), ENG_ESTATE); /* not approved yet */
    assert_null(a);
    assert_int_equal(eng_message_approve(f.e, "bob", mid, NULL, "ok"), ENG_OK);

    /* Reference by hand: customers 100..1499 that consented to SMS. */
    uint64_t want_all = 0;
    for (size_t i = 100; i < 1500; i++)
        want_all += i % 10 != 0;
    uint64_t all, test, ctl, rtest;
    uint8_t h1[32], h2[32];
    assert_int_equal(eng_message_audience(f.e, "vic", mid, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &all), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &test), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_CONTROL, &ctl), ENG_OK);
    assert_int_equal(eng_audience_hash(a, h1), ENG_OK);
    eng_audience_free(a);
    assert_int_equal(all, want_all);
    assert_int_equal(test + ctl, all);
    assert_true(ctl > all / 20 && ctl < all / 5); /* about 10 % */

    /* It is the resolve with the campaign's seed, the message's channels, the split. */
    char gtext[2][16]; /* the groups by id this time */
    snprintf(gtext[0], sizeof gtext[0], "%u", g);
    snprintf(gtext[1], sizeof gtext[1], "%u", gx);
    const char *gi[] = {gtext[0]}, *gxi[] = {gtext[1]};
    eng_audience_query o = ENG_AUDIENCE_QUERY_INIT;
    o.include = gi;
    o.n_include = 1;
    o.exclude = gxi;
    o.n_exclude = 1;
    o.channels = (1u << ENG_CH_SMS) | (1u << ENG_CH_EMAIL);
    o.split_seed = eng_campaign_split_seed("acme", cid);
    o.control_percent = 10;
    assert_int_equal(eng_audience_resolve(f.e, "root", &o, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &rtest), ENG_OK);
    assert_int_equal(eng_audience_hash(a, h2), ENG_OK);
    eng_audience_free(a);
    assert_int_equal(rtest, test);
    assert_memory_equal(h1, h2, 32);

    /* The group grows; the approved audience does not, also after a reopen. */
    fill(f.e, g, 2000);
    fx_reopen(&f);
    assert_int_equal(eng_audience_resolve(f.e, "root", &o, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &rtest), ENG_OK);
    eng_audience_free(a);
    assert_true(rtest > all);
    assert_int_equal(eng_message_audience(f.e, "vic", mid, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &rtest), ENG_OK);
    assert_int_equal(eng_audience_hash(a, h2), ENG_OK);
    eng_audience_free(a);
    assert_int_equal(rtest, all);
    assert_memory_equal(h1, h2, 32);

    /* Approving the whole campaign freezes each message's audience too. */
    uint64_t mid2;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid2, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", mid2, NULL), ENG_OK);
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all good"), ENG_OK);
    assert_int_equal(eng_message_audience(f.e, "vic", mid2, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &rtest), ENG_OK);
    eng_audience_free(a);
    want_all = 0;
    for (size_t i = 100; i < 2000; i++)
        want_all += i % 10 != 0;
    assert_int_equal(rtest, want_all);

    /* An unknown group is refused at send-for-approval, with its field path
     * (issue 16); the message stays a draft. */
    static const char *const nope[] = {"no-such-group"};
    m.include = nope;
    m.exclude = NULL;
    m.n_exclude = 0;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &bad, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", bad, NULL), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "message.audience.include[0]");
    assert_non_null(strstr(eng_error_last()->message, "no-such-group"));
    assert_int_equal(eng_message_approve(f.e, "bob", bad, NULL, "ok"), ENG_ESTATE);
    assert_int_equal(state_of(f.e, bad), ENG_STATE_DRAFT);
    assert_int_equal(eng_message_audience(f.e, "vic", bad, &a), ENG_ESTATE);
    assert_int_equal(eng_message_audience(f.e, "vic", mid, NULL), ENG_EINVAL);
    assert_int_equal(eng_message_audience(f.e, "nobody", mid, &a), ENG_EDENIED);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xengage_minimum_uses_the_audience),
        cmocka_unit_test(approval_freezes_the_audience),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
