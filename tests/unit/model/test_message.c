/* Messages: structure and per-channel creative rules, incentives, schedules,
 * delivery settings, personalization and channel priority; all failures come
 * back at once from send-for-approval. */
#include "model_fixture.h"

static uint64_t campaign(fx *f)
{
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t id;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &id, NULL), ENG_OK);
    return id;
}

/* Create a draft from @p m and submit it: returns the submit code; the report in *v. */
static int submit(fx *f, uint64_t cid, const eng_message_spec *m, eng_validation **v)
{
    uint64_t id;
    *v = NULL;
    int rc = eng_message_create(f->e, "ann", cid, m, &id, v);
    if (rc)
        return rc;
    return eng_message_submit(f->e, "ann", id, v);
}

static void expect(fx *f, uint64_t cid, const eng_message_spec *m, const char *path, int code)
{
    eng_validation *v;
    int rc = submit(f, cid, m, &v);
    if (rc != ENG_EVALIDATION || eng_validation_find(v, path) != code) {
        for (size_t i = 0; i < eng_validation_count(v); i++) {
            int c;
            const char *p, *msg;
            eng_validation_item(v, i, &c, &p, &msg);
            fprintf(stderr, "  report: %d %s: %s\n", c, p, msg);
        }
        fprintf(stderr, "expected %s -> %d, got rc %d\n", path, code, rc);
    }
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_report(v, path, code);
    eng_validation_free(v);
}

static void valid_message_passes(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    assert_null(v);
    fx_close(&f);
}

static void creative_rules(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct {
        eng_creative c;
        const char *path;
        int code;
    } cases[] = {
        {{ENG_CH_SMS, NULL, "20% off today"}, "message.creative[sms].body", ENG_EINVAL},           /* no opt-out */
        {{ENG_CH_SMS, NULL, big}, "message.creative[sms].body", ENG_ETOOBIG},
        {{ENG_CH_SMS, "Subject", "x {{optout}}"}, "message.creative[sms].subject", ENG_EINVAL},
        {{ENG_CH_EMAIL, NULL, "<p>{{unsubscribe}}</p>"}, "message.creative[email].subject", ENG_EINVAL},
        {{ENG_CH_EMAIL, "Sale", "<p>no tag</p>"}, "message.creative[email].body", ENG_EINVAL},
        {{ENG_CH_EMAIL, "Sale\r\nBcc: x@y", "{{unsubscribe}}"}, "message.creative[email].subject", ENG_EINVAL},
        {{ENG_CH_PUSH, NULL, "Body"}, "message.creative[push].subject", ENG_EINVAL},
        {{ENG_CH_PUSH, "A title that is much too long for any mobile push notification to show", "b"},
         "message.creative[push].subject", ENG_ETOOBIG},
        {{ENG_CH_PUSH, "Title", big}, "message.creative[push].body", ENG_ETOOBIG},
        {{ENG_CH_WHATSAPP, NULL, "Hi {{first_name"}, "message.creative[whatsapp].body", ENG_EPARSE},
        {{ENG_CH_WHATSAPP, NULL, "Hi {{ shoe_size }}"}, "message.creative[whatsapp].body", ENG_ENOTFOUND},
        {{ENG_CH_LINE, NULL, "Hi {{9lives}}"}, "message.creative[line].body", ENG_EPARSE},
        {{ENG_CH_VIBER, NULL, "oops }} here"}, "message.creative[viber].body", ENG_EPARSE},
        {{ENG_CH_CALLTASK, NULL, ""}, "message.creative[calltask].body", ENG_EINVAL},
        {{ENG_CH_FACEBOOK, "A headline that is far longer than forty bytes", "ad"}, "message.creative[facebook].subject",
         ENG_ETOOBIG},
        {{42, NULL, "x"}, "message.creative[42]", ENG_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m.creatives = &cases[i].c;
        m.n_creatives = 1;
        if (i == sizeof cases / sizeof cases[0] - 1) { /* structure errors fail at create */
            uint64_t id;
            eng_validation *v;
            assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
            assert_report(v, cases[i].path, cases[i].code);
            eng_validation_free(v);
            continue;
        }
        expect(&f, cid, &m, cases[i].path, cases[i].code);
    }
    /* Ad channels (Facebook, Instagram, Google, YouTube) are broadcast channels too (the broadcast seed's
     * "Facebook ... and more"): a plain message and a channel priority may have them; their own limits
     * still hold at their field. */
    for (int ch = ENG_CH_FACEBOOK; ch <= ENG_CH_YOUTUBE; ch++) {
        eng_creative ad[] = {{ch, "Boots", "Winter boots"}, {ENG_CH_EMAIL, "Boots", "Winter boots {{unsubscribe}}"}};
        m.creatives = ad;
        m.n_creatives = 2;
        eng_validation *v;
        assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
        eng_validation_free(v);
        const int order[] = {ch, ENG_CH_EMAIL};
        m.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
        m.channel_priority = order;
        m.n_channel_priority = 2;
        assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
        eng_validation_free(v);
        m.strategy = ENG_STRATEGY_NONE;
        m.channel_priority = NULL;
        m.n_channel_priority = 0;
        char body[3000], path[64];
        memset(body, 'x', sizeof body - 1);
        body[sizeof body - 1] = 0;
        ad[0].body = body; /* longer than any ad channel's body limit */
        snprintf(path, sizeof path, "message.creative[%s].body", eng_channel_name(ch));
        expect(&f, cid, &m, path, ENG_ETOOBIG);
    }
    /* Known and custom tags pass; one creative per channel. */
    eng_creative ok[] = {{ENG_CH_SMS, NULL, "{{ first_name }} {{custom.size}} {{product.name}} {{optout}}"},
                         {ENG_CH_SMS, NULL, "again {{optout}}"}};
    m.creatives = ok;
    m.n_creatives = 1;
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    m.n_creatives = 2;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.creative[sms]", ENG_EEXISTS);
    eng_validation_free(v);
    fx_close(&f);
}

static void incentive_schedule_delivery_rules(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m;
    /* Incentives. */
    m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.coupon_source = ENG_COUPON_COMMON;
    m.incentive = &inc;
    expect(&f, cid, &m, "message.incentive.offer_id", ENG_EINVAL); /* claims no offer */
    inc.offer_id = "diwali20";
    expect(&f, cid, &m, "message.incentive.offer_id", ENG_ENOTFOUND); /* not in the catalogue */
    fx_offer(f.e, "ann", "diwali20", ENG_COUPON_UPLOADED, NULL, "pool-1");
    fx_offer(f.e, "ann", "gen", ENG_COUPON_GENERATED, NULL, "pool-2");
    inc.coupon_pool = "pool-9";
    expect(&f, cid, &m, "message.incentive.coupon_pool", ENG_EINVAL); /* the offer's terms, not the message's */
    inc.coupon_pool = NULL;
    inc.kind = ENG_INCENTIVE_POINTS;
    expect(&f, cid, &m, "message.incentive.points", ENG_ERANGE);
    inc.points = 100;
    expect(&f, cid, &m, "message.incentive.points_expiry_days", ENG_ERANGE);
    inc.points_expiry_days = 90;
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    inc.kind = ENG_INCENTIVE_COUPON;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    inc.offer_id = "gen";
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK); /* generated codes are fine outside X-Engage */
    /* Schedules. */
    m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    sched.kind = ENG_SCHEDULE_NONE;
    m.schedule = &sched;
    expect(&f, cid, &m, "message.schedule", ENG_EINVAL);
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = test_clock_now + 90 * ENG_DAY; /* after the campaign's end */
    expect(&f, cid, &m, "message.schedule.at", ENG_ERANGE);
    sched.at = test_clock_now + 2 * ENG_HOUR; /* before the campaign's start */
    expect(&f, cid, &m, "message.schedule.at", ENG_ERANGE);
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.at = test_clock_now + 2 * ENG_DAY;
    sched.unit = ENG_EVERY_WEEKS;
    sched.every = 1;
    sched.until = test_clock_now + 80 * ENG_DAY; /* last weekly occurrence after the end */
    expect(&f, cid, &m, "message.schedule.until", ENG_ERANGE);
    sched.until = m.schedule->at;
    expect(&f, cid, &m, "message.schedule.until", ENG_ERANGE);
    sched.until = test_clock_now + 60 * ENG_DAY; /* weekly from day 2: days 2..58, inside */
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    sched.every = 0;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.every", ENG_ERANGE);
    eng_validation_free(v);
    sched.every = 1;
    sched.until = INT64_MAX; /* times are bounded so nothing overflows */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.until", ENG_ERANGE);
    eng_validation_free(v);
    sched.until = test_clock_now + 60 * ENG_DAY;
    sched.kind = 3;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.kind", ENG_EINVAL);
    eng_validation_free(v);
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = -1; /* times are bounded to 1970..9999 */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.at", ENG_ERANGE);
    eng_validation_free(v);
    /* Occurrences are bounded (hourly for 12 years would be 105,000 sends). */
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.at = test_clock_now + 2 * ENG_DAY;
    sched.unit = ENG_EVERY_HOURS;
    sched.every = 1;
    sched.until = m.schedule->at + 105000 * ENG_HOUR;
    expect(&f, cid, &m, "message.schedule", ENG_ETOOBIG);
    sched.until = test_clock_now + 60 * ENG_DAY;
    sched.unit = 5;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.unit", ENG_EINVAL);
    eng_validation_free(v);
    /* A schedule in the past. */
    m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    test_clock_now += 4 * ENG_DAY;
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule.at", ENG_ERANGE);
    eng_validation_free(v);
    test_clock_now -= 4 * ENG_DAY;
    /* Delivery settings. */
    m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    eng_sender senders[] = {{ENG_CH_SMS, "ACME"}, {ENG_CH_SMS, "ACME2"}, {ENG_CH_EMAIL, "a\nb"}, {77, "x"}};
    dlv.senders = senders;
    dlv.n_senders = 4;
    m.delivery = &dlv;
    const char *const poc[] = {"poc@acme.test", ""};
    dlv.poc = poc;
    dlv.n_poc = 2;
    m.delivery = &dlv;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.delivery.sender[sms]", ENG_EEXISTS);
    assert_report(v, "message.delivery.sender[email]", ENG_EINVAL);
    assert_report(v, "message.delivery.sender[?]", ENG_EINVAL);
    assert_report(v, "message.delivery.poc[1]", ENG_EINVAL);
    eng_validation_free(v);
    dlv.n_senders = 1;
    dlv.n_poc = 1;
    dlv.tiny_url = 1;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    /* Audience and creatives are required at submission, not in a draft. */
    m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    m.n_include = 0;
    m.n_creatives = 0;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    assert_report(v, "message.audience.include", ENG_EINVAL);
    assert_report(v, "message.creatives", ENG_EINVAL);
    eng_validation_free(v);
    /* validate reports without changing anything. */
    assert_int_equal(eng_message_validate(f.e, "vic", id, &v), ENG_EVALIDATION);
    assert_int_equal(eng_validation_count(v), 2);
    eng_validation_free(v);
    fx_close(&f);
}

static void strategies(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    eng_validation *v;
    uint64_t id;
    /* Personalization: variants with a rule, a channel that has a creative, a valid body. */
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    expect(&f, cid, &m, "message.variants", ENG_EINVAL);
    eng_variant va[] = {{ENG_VARIANT_REGION, "region == \"north\"", ENG_CH_SMS, "Namaste {{optout}}"},
                        {ENG_VARIANT_TIME, "", ENG_CH_PUSH, "x"},
                        {ENG_VARIANT_PRODUCT, "category == \"shoes\"", ENG_CH_SMS, "no tag"},
                        {9, "x", ENG_CH_SMS, "y {{optout}}"}};
    m.variants = va;
    m.n_variants = 4;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_EVALIDATION);
    assert_report(v, "message.variants[1].rule", ENG_EINVAL);
    assert_report(v, "message.variants[1].channel", ENG_ENOTFOUND);
    assert_report(v, "message.variants[2].body", ENG_EINVAL);
    assert_report(v, "message.variants[3].dimension", ENG_EINVAL);
    eng_validation_free(v);
    m.n_variants = 1;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    /* Variants only with personalization. */
    m.strategy = ENG_STRATEGY_NONE;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.variants", ENG_EINVAL);
    eng_validation_free(v);
    /* Channel priority: an ordered list of channels that have creatives. */
    m = fx_message();
    m.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
    expect(&f, cid, &m, "message.channel_priority", ENG_EINVAL);
    int order[] = {ENG_CH_EMAIL, ENG_CH_PUSH, ENG_CH_EMAIL};
    m.channel_priority = order;
    m.n_channel_priority = 3;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_EVALIDATION);
    assert_report(v, "message.channel_priority[1]", ENG_ENOTFOUND);
    assert_report(v, "message.channel_priority[2]", ENG_EEXISTS);
    eng_validation_free(v);
    int good[] = {ENG_CH_EMAIL, ENG_CH_SMS};
    m.channel_priority = good;
    m.n_channel_priority = 2;
    assert_int_equal(submit(&f, cid, &m, &v), ENG_OK);
    /* Structure: bad enums. */
    m = fx_message();
    m.strategy = 8;
    m.type = 4;
    m.title = "";
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.strategy", ENG_EINVAL);
    assert_report(v, "message.type", ENG_EINVAL);
    assert_report(v, "message.title", ENG_EINVAL);
    eng_validation_free(v);
    /* Titles, audience group ids and coupon sources. */
    m = fx_message();
    char longt[200];
    memset(longt, 't', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    m.title = longt;
    const char *const badgroups[] = {"loyal", ""};
    m.include = badgroups;
    m.n_include = 2;
    m.exclude = badgroups + 1;
    m.n_exclude = 1;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.coupon_source = 3;
    m.incentive = &inc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.title", ENG_ETOOBIG);
    assert_report(v, "message.audience.include[1]", ENG_EINVAL);
    assert_report(v, "message.audience.exclude[0]", ENG_EINVAL);
    assert_report(v, "message.incentive.coupon_source", ENG_EINVAL);
    eng_validation_free(v);
    m = fx_message();
    inc.kind = 5;
    m.incentive = &inc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.incentive.kind", ENG_EINVAL);
    eng_validation_free(v);
    fx_close(&f);
}

static void message_persists(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    eng_variant va[] = {{ENG_VARIANT_REGION, "region == \"north\"", ENG_CH_SMS, "Namaste {{optout}}"}};
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    m.variants = va;
    m.n_variants = 1;
    const char *const ex[] = {"churned", "staff"};
    m.exclude = ex;
    m.n_exclude = 2;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = "diwali20";
    m.incentive = &inc;
    fx_offer(f.e, "ann", "diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    eng_sender s[] = {{ENG_CH_EMAIL, "offers@acme.test"}};
    dlv.senders = s;
    dlv.n_senders = 1;
    dlv.tiny_url = 1;
    m.delivery = &dlv;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    fx_reopen(&f);
    eng_message *h;
    assert_int_equal(eng_message_get(f.e, "vic", id, &h), ENG_OK);
    const eng_message_spec *g = fx_msg_fields(h);
    assert_string_equal(g->title, "Diwali blast");
    assert_int_equal(g->strategy, ENG_STRATEGY_PERSONALIZATION);
    assert_int_equal(g->n_variants, 1);
    assert_string_equal(g->variants[0].rule, "region == \"north\"");
    assert_int_equal(g->n_include, 1);
    assert_string_equal(g->include[0], "loyal-2025");
    assert_int_equal(g->n_exclude, 2);
    assert_string_equal(g->exclude[1], "staff");
    assert_int_equal(g->n_creatives, 2);
    assert_null(g->creatives[0].subject);
    assert_string_equal(g->creatives[1].subject, "Diwali sale");
    assert_string_equal(g->creatives[1].body, fx_creatives[1].body);
    assert_string_equal(g->incentive->coupon_code, "DIWALI20");
    assert_int_equal(g->schedule->kind, ENG_SCHEDULE_ONCE);
    assert_int_equal(g->schedule->at, m.schedule->at);
    assert_int_equal(g->delivery->n_senders, 1);
    assert_string_equal(g->delivery->senders[0].id, "offers@acme.test");
    assert_int_equal(g->delivery->tiny_url, 1);
    eng_message_status ms = {.version = ENG_MESSAGE_STATUS_VERSION};
    assert_int_equal(eng_message_status_get(h, &ms), ENG_OK);
    assert_int_equal(ms.state, ENG_STATE_DRAFT);
    assert_int_equal(ms.campaign, cid);
    assert_string_equal(ms.created_by, "ann");
    assert_string_equal(ms.approved_hash, "");
    assert_int_equal(strlen(fx_msg_hash(h)), 64);
    eng_message_free(h);
    eng_campaign *c;
    assert_int_equal(eng_campaign_get(f.e, "vic", cid, &c), ENG_OK);
    eng_campaign_status cst = fx_camp_status(c);
    assert_int_equal(cst.n_messages, 1);
    assert_int_equal(cst.messages[0], id);
    eng_campaign_free(c);
    assert_int_equal(eng_message_get(f.e, "nat", id, &h), ENG_EDENIED); /* org campaign, unit actor */
    assert_int_equal(eng_message_get(f.e, "vic", 12345, &h), ENG_ENOTFOUND);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_message_passes), cmocka_unit_test(creative_rules),
        cmocka_unit_test(incentive_schedule_delivery_rules), cmocka_unit_test(strategies),
        cmocka_unit_test(message_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
