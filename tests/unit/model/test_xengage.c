/* X-Engage rules (seed x-engage.md), each broken once, and credit accounts. */
#include "model_fixture.h"

#include "core/engine_impl.h"
#include "model/model_impl.h"

typedef struct counter {
    uint64_t count;
    int fail;
    uint32_t seen_control, seen_channels;
    size_t seen_include;
    uint64_t seen_campaign, seen_seed;
    const char *seen_org;
} counter;

static int count_cb(const eng_audience_query *q, uint64_t *count, void *user)
{
    counter *c = user;
    assert_int_equal(q->version, ENG_AUDIENCE_QUERY_VERSION);
    c->seen_control = q->control_percent;
    c->seen_include = q->n_include;
    c->seen_channels = q->channels;
    c->seen_campaign = q->campaign;
    c->seen_seed = q->split_seed;
    c->seen_org = q->org;
    if (c->fail) {
        eng_error_set(ENG_EUSER, "audience service down");
        return ENG_EUSER;
    }
    *count = c->count;
    return ENG_OK;
}

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
    m.creatives = xe_creatives; /* one ad channel only: no channel is mandatory */
    m.n_creatives = 1;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = "diwali20"; /* claimed: its terms come from the catalogue (xe_open) */
    sched.at = test_clock_now + 3 * ENG_DAY;
    m.incentive = &inc;
    m.schedule = &sched;
    return m;
}

static void xe_open(fx *f, counter *cnt, uint64_t *cid)
{
    fx_open(f);
    cnt->count = 150000;
    assert_int_equal(eng_model_set_audience_counter(f->e, count_cb, cnt), ENG_OK);
    assert_int_equal(eng_credits_adjust(f->e, "root", ENG_CREDITS_XENGAGE, 200000), ENG_OK);
    eng_campaign_spec c = fx_campaign("Diwali");
    c.control_percent = 10;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, cid, NULL), ENG_OK);
    fx_offer(f->e, "ann", "diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    fx_offer(f->e, "ann", "pool7", ENG_COUPON_UPLOADED, NULL, "pool-7");
    fx_offer(f->e, "ann", "gen", ENG_COUPON_GENERATED, NULL, "gen-1");
}

static int submit(fx *f, uint64_t cid, const eng_message_spec *m, eng_validation **v, uint64_t *idp)
{
    uint64_t id;
    *v = NULL;
    int rc = eng_message_create(f->e, "ann", cid, m, &id, v);
    if (idp)
        *idp = id;
    return rc ? rc : eng_message_submit(f->e, "ann", id, v);
}

static void expect(fx *f, uint64_t cid, const eng_message_spec *m, const char *path, int code)
{
    eng_validation *v;
    int rc = submit(f, cid, m, &v, NULL);
    if (rc != ENG_EVALIDATION || eng_validation_find(v, path) != code)
        for (size_t i = 0; i < eng_validation_count(v); i++) {
            int c;
            const char *p, *msg;
            eng_validation_item(v, i, &c, &p, &msg);
            fprintf(stderr, "  report: %d %s: %s\n", c, p, msg);
        }
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_report(v, path, code);
    eng_validation_free(v);
}

static void valid_xengage(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    (void)st;
    fx f;
    counter cnt = {0};
    uint64_t cid, id;
    xe_open(&f, &cnt, &cid);
    eng_message_spec m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v, &id), ENG_OK);
    assert_int_equal(cnt.seen_control, 10);
    assert_int_equal(cnt.seen_include, 1);
    /* The counter is told the message's channels and the campaign's split seed. */
    assert_int_equal(cnt.seen_channels, 1u << ENG_CH_FACEBOOK);
    assert_int_equal(cnt.seen_campaign, cid);
    assert_int_equal(cnt.seen_seed, eng_campaign_split_seed("acme", cid));
    assert_true(cnt.seen_seed != eng_campaign_split_seed("acme", cid + 1));
    assert_true(cnt.seen_seed != eng_campaign_split_seed("other", cid));
    assert_int_equal(eng_campaign_split_seed(NULL, cid), 0);
    /* Uploaded codes are allowed too; exactly 100,000 and exactly 50 hours pass. */
    inc.offer_id = "pool7";
    sched.at = test_clock_now + 50 * ENG_HOUR;
    m.incentive = &inc;
    m.schedule = &sched;
    cnt.count = 100000;
    assert_int_equal(submit(&f, cid, &m, &v, &id), ENG_OK);
    /* No incentive at all is fine. */
    inc.kind = ENG_INCENTIVE_NONE;
    assert_int_equal(submit(&f, cid, &m, &v, &id), ENG_OK);
    fx_close(&f);
}

static void xengage_rules(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    (void)st;
    fx f;
    counter cnt = {0};
    uint64_t cid;
    xe_open(&f, &cnt, &cid);
    eng_message_spec m;

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    m.n_creatives = 0;
    expect(&f, cid, &m, "message.creatives", ENG_EINVAL);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    inc.kind = ENG_INCENTIVE_POINTS;
    inc.points = 10;
    inc.points_expiry_days = 30;
    m.incentive = &inc;
    expect(&f, cid, &m, "message.incentive.kind", ENG_EINVAL);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    inc.offer_id = "gen";
    m.incentive = &inc;
    expect(&f, cid, &m, "message.incentive.coupon_source", ENG_EINVAL);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.every = 1;
    sched.unit = ENG_EVERY_DAYS;
    sched.until = m.schedule->at + 5 * ENG_DAY;
    m.schedule = &sched;
    expect(&f, cid, &m, "message.schedule.kind", ENG_EINVAL);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    sched.at = test_clock_now + 50 * ENG_HOUR - 1; /* sent for approval 1 ms too late */
    m.schedule = &sched;
    expect(&f, cid, &m, "message.schedule.at", ENG_ERANGE);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    sched.at = test_clock_now + 47 * ENG_DAY; /* campaign ends day 60: only 13 days after */
    m.schedule = &sched;
    expect(&f, cid, &m, "campaign.end", ENG_ERANGE);
    sched.at = test_clock_now + 46 * ENG_DAY; /* exactly 14 days: fine */
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v, NULL), ENG_OK);

    m = xe_message();
    inc = *m.incentive; /* start from the fixture's */
    sched = *m.schedule; /* start from the fixture's */
    cnt.count = 99999;
    expect(&f, cid, &m, "message.audience", ENG_ERANGE);
    cnt.count = 150000;
    cnt.fail = 1;
    expect(&f, cid, &m, "message.audience", ENG_EUSER);
    cnt.fail = 0;
    /* NULL restores the built-in counter: the engine's own audience layer,
     * which has no group of that name here. */
    assert_int_equal(eng_model_set_audience_counter(f.e, NULL, NULL), ENG_OK);
    expect(&f, cid, &m, "message.audience", ENG_ENOTFOUND);
    assert_int_equal(eng_model_set_audience_counter(f.e, count_cb, &cnt), ENG_OK);

    /* Credits: 150,000 recipients at 2 credits each need 300,000; the org has 200,000. */
    eng_org_settings s;
    eng_org_settings_get(f.e, "root", &s);
    s.xengage_cost = 2;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    expect(&f, cid, &m, "org.credits.xengage", ENG_ECREDITS);
    s.xengage_cost = 1;
    /* X-Engage switched off for the org. */
    s.xengage = ENG_XENGAGE_OFF;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    expect(&f, cid, &m, "org.settings.xengage", ENG_EUNSUPPORTED);
    s.xengage = ENG_XENGAGE_UNLOCKED;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(submit(&f, cid, &m, &v, NULL), ENG_OK);

    /* One content per channel. */
    eng_creative two[] = {{ENG_CH_FACEBOOK, "A", "x"}, {ENG_CH_FACEBOOK, "B", "y"}};
    m.creatives = two;
    m.n_creatives = 2;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVALIDATION);
    assert_report(v, "message.creative[facebook]", ENG_EEXISTS);
    eng_validation_free(v);
    fx_close(&f);
}

static void xengage_approval_window(void **st)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    (void)st;
    fx f;
    counter cnt = {0};
    uint64_t cid, id, id2;
    xe_open(&f, &cnt, &cid);
    eng_message_spec m = xe_message();
    sched = *m.schedule; /* start from the fixture's */
    sched.at = test_clock_now + 60 * ENG_HOUR;
    m.schedule = &sched;
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v, &id), ENG_OK);
    assert_int_equal(submit(&f, cid, &m, &v, &id2), ENG_OK);
    /* 12 hours later only 48 hours remain: still approvable (boundary). */
    test_clock_now += 12 * ENG_HOUR;
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    /* 1 ms later the second one is too late and stays awaiting. */
    test_clock_now += 1;
    assert_int_equal(eng_message_approve(f.e, "bob", id2, NULL, "ok"), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "message.schedule.at");
    eng_message *h;
    assert_int_equal(eng_message_get(f.e, "bob", id2, &h), ENG_OK);
    eng_message_status s = {.version = ENG_MESSAGE_STATUS_VERSION};
    eng_message_status_get(h, &s);
    assert_int_equal(s.state, ENG_STATE_AWAITING);
    eng_message_free(h);
    /* The one approved in time executes. */
    assert_int_equal(fx_start(f.e, "root", id), ENG_OK);
    fx_close(&f);
}

static void credits(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    int64_t b;
    assert_int_equal(eng_credits_balance(f.e, "vic", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    assert_int_equal(b, 0);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, 500), ENG_OK);
    /* Overdraft is allowed by default and shows as a negative balance. */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, -800), ENG_OK);
    assert_int_equal(eng_credits_balance(f.e, "vic", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    assert_int_equal(b, -300);
    /* Forbidding overdraft refuses a charge past zero and keeps the balance. */
    eng_org_settings s;
    eng_org_settings_get(f.e, "root", &s);
    s.forbid_overdraft = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 100), ENG_OK);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, -101), ENG_ECREDITS);
    assert_string_equal(eng_error_last()->detail, "org.credits.xengage");
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE, &b), ENG_OK);
    assert_int_equal(b, 100);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, -100), ENG_OK);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE, &b), ENG_OK);
    assert_int_equal(b, 0);
    /* Only admins adjust; arguments are checked. */
    assert_int_equal(eng_credits_adjust(f.e, "ann", ENG_CREDITS_CAMPAIGN, 5), ENG_EDENIED);
    assert_int_equal(eng_credits_adjust(f.e, "root", 7, 5), ENG_EINVAL);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, INT64_MAX), ENG_ERANGE);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, NULL), ENG_EINVAL);
    fx_reopen(&f);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    assert_int_equal(b, -300);
    /* The dispatch layer's charge, inside its own batch, follows the same rule. */
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__credits_charge(f.e, "acme", "dispatch", ENG_CREDITS_CAMPAIGN, 1), ENG_ECREDITS);
    assert_int_equal(eng__kv_rollback(f.e->store), ENG_OK);
    eng_org_settings_get(f.e, "root", &s);
    s.forbid_overdraft = 0;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__credits_charge(f.e, "acme", "dispatch", ENG_CREDITS_CAMPAIGN, 700), ENG_OK);
    assert_int_equal(eng__credits_charge(f.e, "acme", "dispatch", ENG_CREDITS_CAMPAIGN, -1), ENG_EINVAL);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    assert_int_equal(b, -1000);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    fx_close(&f);
}

/* Start re-checks what approve already guaranteed, so a record changed behind
 * the library's back (another writer, a restored backup) still cannot execute:
 * an approval given less than 48 hours before an X-Engage schedule, or bound to
 * other content. */
static void start_rechecks_approval(void **st)
{
    (void)st;
    fx f;
    counter cnt = {0};
    uint64_t cid, id;
    xe_open(&f, &cnt, &cid);
    eng_message_spec m = xe_message();
    eng_validation *v;
    assert_int_equal(submit(&f, cid, &m, &v, &id), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    eng__msg rec, orig;
    assert_int_equal(eng__msg_load(f.e, id, &orig), ENG_OK);
    /* Approved 47 hours before the send time. */
    assert_int_equal(eng__msg_load(f.e, id, &rec), ENG_OK);
    rec.decided_at = rec.spec.schedule->at - 47 * ENG_HOUR;
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__msg_store(f.e, &rec), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__msg_free(&rec);
    assert_int_equal(eng_message_execute(f.e, "root", id, ENG_ACT_START), ENG_ESTATE);
    assert_string_equal(eng_error_last()->detail, "message.approval");
    /* An approval bound to another content hash. */
    assert_int_equal(eng__msg_load(f.e, id, &rec), ENG_OK);
    rec.decided_at = orig.decided_at;
    rec.approved_hash[0] ^= 1;
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__msg_store(f.e, &rec), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__msg_free(&rec);
    assert_int_equal(eng_message_execute(f.e, "root", id, ENG_ACT_START), ENG_ESTATE);
    assert_string_equal(eng_error_last()->detail, "message.approval");
    /* The genuine record executes. */
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__msg_store(f.e, &orig), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__msg_free(&orig);
    assert_int_equal(fx_start(f.e, "root", id), ENG_OK);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_xengage), cmocka_unit_test(xengage_rules), cmocka_unit_test(xengage_approval_window),
        cmocka_unit_test(credits), cmocka_unit_test(start_rechecks_approval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
