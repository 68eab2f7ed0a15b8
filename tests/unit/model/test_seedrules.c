/* Seed rules that could be slipped past (issue 16): unknown audience groups
 * at send-for-approval, the X-Engage minimum and credits at approval, the
 * schedule at approval and start. */
#include "model_fixture.h"

#include "model/model_impl.h"

static uint64_t campaign(fx *f)
{
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t id;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &id, NULL), ENG_OK);
    return id;
}

static int state_of(fx *f, uint64_t id)
{
    eng_message *h;
    assert_int_equal(eng_message_get(f->e, "root", id, &h), ENG_OK);
    eng_message_status s = {.version = ENG_MESSAGE_STATUS_VERSION};
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    eng_message_free(h);
    return s.state;
}

/* An unknown group is refused at submit with its field path (not at approval
 * with a bare "include"); a group deleted after submit is refused at approval
 * with the same path. */
static void unknown_group_refused_at_submit(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint32_t loyal, lapsed;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "loyal-2025", &loyal), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "lapsed", &lapsed), ENG_OK);
    uint64_t cid = campaign(&f), id;
    eng_message_spec m = fx_message();
    const char *inc[] = {"loyal-2025", "no-such-group"}, *exc[] = {"lapsed", "gone"};
    m.include = inc;
    m.n_include = 2;
    m.exclude = exc;
    m.n_exclude = 2;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    eng_validation *v = NULL;
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    assert_report(v, "message.audience.include[1]", ENG_ENOTFOUND);
    assert_report(v, "message.audience.exclude[1]", ENG_ENOTFOUND);
    assert_int_equal(eng_validation_find(v, "message.audience.include[0]"), ENG_OK);
    assert_int_equal(eng_validation_find(v, "message.audience.exclude[0]"), ENG_OK);
    eng_validation_free(v);
    assert_int_equal(state_of(&f, id), ENG_STATE_DRAFT);
    /* Groups by decimal id are known too. */
    char lid[16];
    snprintf(lid, sizeof lid, "%u", loyal);
    inc[1] = lid;
    exc[1] = "lapsed";
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    /* Deleted between submit and approval: approval names the reference. */
    assert_int_equal(eng_group_delete(f.e, "root", lapsed), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "message.audience.exclude[0]");
    assert_int_equal(state_of(&f, id), ENG_STATE_AWAITING);
    fx_close(&f);
}

/* ---- X-Engage at approval, with the host's audience counter ---- */
typedef struct counter {
    uint64_t count;
} counter;

static int count_cb(const eng_audience_query *q, uint64_t *count, void *user)
{
    (void)q;
    *count = ((counter *)user)->count;
    return ENG_OK;
}

static const eng_creative xe_creatives[] = {{ENG_CH_FACEBOOK, "Diwali", "Up to 50% off"}};

static eng_message_spec xe_message(void)
{
    static eng_schedule sched; /* the spec returned points here: each call starts it afresh */
    sched = (eng_schedule)ENG_SCHEDULE_INIT;
    eng_message_spec m = fx_message();
    sched = *m.schedule; /* start from the fixture's */
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.creatives = xe_creatives;
    m.n_creatives = 1;
    sched.at = test_clock_now + 3 * ENG_DAY;
    m.schedule = &sched;
    return m;
}

static void xe_open(fx *f, counter *cnt, int64_t credits, uint64_t *cid)
{
    fx_open(f);
    cnt->count = 100000;
    assert_int_equal(eng_model_set_audience_counter(f->e, count_cb, cnt), ENG_OK);
    assert_int_equal(eng_credits_adjust(f->e, "root", ENG_CREDITS_XENGAGE, credits), ENG_OK);
    *cid = campaign(f);
}

static uint64_t xe_submitted(fx *f, uint64_t cid)
{
    eng_message_spec m = xe_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f->e, "ann", cid, &m, &id, NULL), ENG_OK);
    eng_validation *v = NULL;
    int rc = eng_message_submit(f->e, "ann", id, &v);
    for (size_t i = 0; rc && i < eng_validation_count(v); i++) {
        int c;
        const char *p, *msg;
        eng_validation_item(v, i, &c, &p, &msg);
        fprintf(stderr, "  report: %d %s: %s\n", c, p, msg);
    }
    eng_validation_free(v);
    assert_int_equal(rc, ENG_OK);
    return id;
}

static void set_xengage(fx *f, int mode)
{
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f->e, "root", &s), ENG_OK);
    s.xengage = mode;
    assert_int_equal(eng_org_settings_set(f->e, "root", &s, NULL), ENG_OK);
}

/* The 100,000 minimum is about the test group actually sent to: checked
 * again at approval, with the submit's error and field path. */
static void xengage_minimum_rechecked_at_approval(void **st)
{
    (void)st;
    fx f;
    counter cnt;
    uint64_t cid;
    xe_open(&f, &cnt, 1000000, &cid);
    uint64_t id = xe_submitted(&f, cid); /* exactly 100,000 */
    cnt.count = 99999;                   /* one more customer excluded since */
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "message.audience");
    assert_int_equal(state_of(&f, id), ENG_STATE_AWAITING);
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all"), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "message.audience");
    assert_int_equal(state_of(&f, id), ENG_STATE_AWAITING);
    cnt.count = 100000;
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    fx_close(&f);
}

/* Credits are reserved at approval: two messages cannot be approved on the
 * same credits, credits drained after submit stop the approval; a voided,
 * stopped, finished or deleted message gives its credits back. */
static void xengage_credits_reserved_at_approval(void **st)
{
    (void)st;
    fx f;
    counter cnt;
    uint64_t cid;
    xe_open(&f, &cnt, 150000, &cid);
    uint64_t a = xe_submitted(&f, cid), b = xe_submitted(&f, cid); /* 100,000 each on 150,000 credits */
    assert_int_equal(eng_message_approve(f.e, "bob", a, NULL, "ok"), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", b, NULL, "ok"), ENG_ECREDITS);
    assert_string_equal(eng_error_last()->detail, "org.credits.xengage");
    assert_int_equal(state_of(&f, b), ENG_STATE_AWAITING);
    /* the reservation does not move the balance */
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE, &bal), ENG_OK);
    assert_int_equal(bal, 150000);
    /* a new submission sees only the unreserved 50,000 */
    eng_message_spec m = xe_message();
    uint64_t c;
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &c, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", c, &v), ENG_EVALIDATION);
    assert_report(v, "org.credits.xengage", ENG_ECREDITS);
    eng_validation_free(v);
    /* voiding a's approval (an edit) releases its credits: b is approved */
    m.title = "Diwali blast v2";
    assert_int_equal(eng_message_update(f.e, "ann", a, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", b, NULL, "ok"), ENG_OK);
    /* stopping b releases them too */
    assert_int_equal(eng_message_submit(f.e, "ann", a, NULL), ENG_EVALIDATION); /* only 50,000 unreserved */
    assert_int_equal(eng_message_execute(f.e, "root", b, ENG_ACT_STOP), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", a, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", a, NULL, "ok"), ENG_OK);
    /* finishing a releases them */
    assert_int_equal(fx_start(f.e, "root", a), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", c, NULL), ENG_EVALIDATION);
    assert_int_equal(eng_message_execute(f.e, "root", a, ENG_ACT_FINISH), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", c, NULL), ENG_OK);
    uint64_t d = xe_submitted(&f, cid);
    /* credits drained after the submission: the approval is refused */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, -60000), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", c, NULL, "ok"), ENG_ECREDITS);
    assert_string_equal(eng_error_last()->detail, "org.credits.xengage");
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 10000), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", c, NULL, "ok"), ENG_OK);
    /* reservations survive a reopen; deleting c releases its credits */
    fx_reopen(&f);
    assert_int_equal(eng_model_set_audience_counter(f.e, count_cb, &cnt), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", d, NULL, "ok"), ENG_ECREDITS);
    assert_int_equal(eng_message_delete(f.e, "ann", c), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", d, NULL, "ok"), ENG_OK);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    fx_close(&f);
}

/* Approving a whole campaign reserves message by message: when the second
 * message's credits are not there, nothing is approved. */
static void campaign_approval_reserves_each_message(void **st)
{
    (void)st;
    fx f;
    counter cnt;
    uint64_t cid;
    xe_open(&f, &cnt, 150000, &cid);
    uint64_t a = xe_submitted(&f, cid), b = xe_submitted(&f, cid);
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all"), ENG_ECREDITS);
    assert_int_equal(state_of(&f, a), ENG_STATE_AWAITING);
    assert_int_equal(state_of(&f, b), ENG_STATE_AWAITING);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 50000), ENG_OK);
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all"), ENG_OK);
    assert_int_equal(state_of(&f, b), ENG_STATE_APPROVED);
    fx_close(&f);
}

/* Turning X-Engage off for the org blocks approval and start. */
static void xengage_setting_rechecked(void **st)
{
    (void)st;
    fx f;
    counter cnt;
    uint64_t cid;
    xe_open(&f, &cnt, 1000000, &cid);
    uint64_t a = xe_submitted(&f, cid), b = xe_submitted(&f, cid);
    assert_int_equal(eng_message_approve(f.e, "bob", a, NULL, "ok"), ENG_OK);
    set_xengage(&f, ENG_XENGAGE_OFF);
    assert_int_equal(eng_message_approve(f.e, "bob", b, NULL, "ok"), ENG_EUNSUPPORTED);
    assert_string_equal(eng_error_last()->detail, "org.settings.xengage");
    assert_int_equal(fx_start(f.e, "root", a), ENG_EUNSUPPORTED);
    assert_string_equal(eng_error_last()->detail, "org.settings.xengage");
    assert_int_equal(state_of(&f, a), ENG_STATE_APPROVED);
    set_xengage(&f, ENG_XENGAGE_UNLOCKED);
    assert_int_equal(fx_start(f.e, "root", a), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", b, NULL, "ok"), ENG_OK);
    fx_close(&f);
}

/* The schedule is enforced: no start before the send time, no approval
 * after it. */
static void schedule_enforced(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f), a, b;
    eng_message_spec m = fx_message(); /* at now + 3 days */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &a, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &b, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", a, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", b, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", a, NULL, "ok"), ENG_OK);
    /* two days early, and 1 ms early */
    assert_int_equal(eng_message_execute(f.e, "root", a, ENG_ACT_START), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "message.schedule.at");
    assert_int_equal(fx_start_at(f.e, "root", a, m.schedule->at - 1), ENG_ERANGE);
    assert_int_equal(state_of(&f, a), ENG_STATE_APPROVED);
    /* at the send time: approved on time, the one still awaiting is too late after it */
    test_clock_now = m.schedule->at;
    assert_int_equal(eng_message_execute(f.e, "root", a, ENG_ACT_START), ENG_OK);
    test_clock_now = m.schedule->at + 1;
    assert_int_equal(eng_message_approve(f.e, "bob", b, NULL, "ok"), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "message.schedule.at");
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all"), ENG_ERANGE);
    assert_int_equal(state_of(&f, b), ENG_STATE_AWAITING);
    fx_close(&f);
}

/* Goal conditions are checked at save time against the built-in transaction
 * schema (amount, store, items, time) and the org's declared custom fields,
 * with line:column and a did-you-mean; only transaction goals exist. */
static int goal_report(fx *f, const char *name, const char *event, const char *cond, const char **msg)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    eng_campaign_spec c = fx_campaign(name);
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal.event = event;
    c_goal.condition = cond;
    c_goal.window_days = 20;
    c.goal = &c_goal;
    uint64_t id;
    eng_validation *v = NULL;
    static char text[512];
    int rc = eng_campaign_create(f->e, "ann", &c, &id, &v);
    text[0] = 0;
    if (rc == ENG_EVALIDATION) {
        const char *p, *m;
        int code;
        assert_int_equal(eng_validation_item(v, 0, &code, &p, &m), ENG_OK);
        snprintf(text, sizeof text, "%s %s", p, m);
        rc = code;
    }
    eng_validation_free(v);
    if (msg)
        *msg = text;
    return rc;
}

static void goal_conditions_checked(void **st)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    const char *msg;
    assert_int_equal(goal_report(&f, "g1", "transaction", "amount >>> ((", &msg), ENG_EPARSE);
    assert_non_null(strstr(msg, "campaign.goal.condition 1:"));
    assert_int_equal(goal_report(&f, "g2", "transaction", "amout > 3000", &msg), ENG_ETYPE);
    assert_non_null(strstr(msg, "did you mean 'amount'"));
    assert_non_null(strstr(msg, "1:1"));
    assert_int_equal(goal_report(&f, "g3", "transaction", "store == 5", NULL), ENG_ETYPE);
    assert_int_equal(goal_report(&f, "g4", "page_view", "amount > 3000", &msg), ENG_EUNSUPPORTED);
    assert_non_null(strstr(msg, "campaign.goal.event"));
    assert_int_equal(goal_report(&f, "g5", "transaction",
                                 "amount > 3000.5 and store in (\"S1\", \"S2\") and items contains \"sku-9\" and "
                                 "time >= timestamp(\"2026-01-01T00:00:00Z\")",
                                 NULL),
                     ENG_OK);
    /* a custom field is known once the org declares it, also after a reopen */
    assert_int_equal(goal_report(&f, "g6", "transaction", "channel_code == \"web\"", NULL), ENG_ETYPE);
    assert_int_equal(eng_txn_field_add(f.e, "acme", "channel_code", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_txn_field_add(f.e, "acme", "basket", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(goal_report(&f, "g6", "transaction", "channel_code == \"web\" and basket > 2.5", NULL), ENG_OK);
    fx_reopen(&f);
    assert_int_equal(goal_report(&f, "g7", "transaction", "channel_code == \"web\" and basket > 2.5", NULL), ENG_OK);
    assert_int_equal(goal_report(&f, "g8", "transaction", "basket == \"x\"", NULL), ENG_ETYPE);
    /* the org's default goal is checked the same way */
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s_goal = *s.default_goal; /* start from the stored goal */
    s_goal.condition = "amount > 3000 and stor == \"S1\"";
    s.default_goal = &s_goal;
    eng_validation *v = NULL;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, &v), ENG_EVALIDATION);
    assert_report(v, "org.settings.default_goal.condition", ENG_ETYPE);
    eng_validation_free(v);
    s_goal.condition = "basket >= 1";
    s_goal.event = "visit";
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, &v), ENG_EVALIDATION);
    assert_report(v, "org.settings.default_goal.event", ENG_EUNSUPPORTED);
    assert_report(v, "org.settings.default_goal.condition", ENG_OK);
    eng_validation_free(v);
    fx_close(&f);
}

/* eng_error_last() (engage/errors.h): a failing call records its error, a
 * call into the engine that succeeds clears it -- also one that met and
 * handled a failure inside (a name not found yet, an unknown group checked). */
static int rt_get_true(uint32_t field, eng_rule_value *out, void *user)
{
    (void)field;
    (void)user;
    memset(out, 0, sizeof *out);
    out->type = ENG_RT_BOOL;
    out->v.b = 1;
    return ENG_OK;
}

static void expect_cleared(const char *what)
{
    const eng_error *er = eng_error_last();
    if (er->code != ENG_OK || er->message[0] || er->detail[0])
        fail_msg("after %s: code %d, message '%s', detail '%s'", what, er->code, er->message, er->detail);
}

static void error_last_cleared_by_success(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    fx_reopen(&f);
    expect_cleared("eng_open");
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "loyal-2025", &g), ENG_OK);
    eng_campaign_spec c = fx_campaign("");
    uint64_t cid, mid;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_EVALIDATION);
    assert_int_equal(eng_error_last()->code, ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "campaign.name");
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "vic", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    expect_cleared("eng_credits_balance");
    /* successes that look things up and find them missing on the way */
    assert_int_equal(eng_group_find(f.e, "root", "nope", &g), ENG_ENOTFOUND);
    c.name = "Fresh";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    expect_cleared("eng_campaign_create");
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", mid, NULL, "x"), ENG_ESTATE);
    assert_int_equal(eng_message_submit(f.e, "ann", mid, NULL), ENG_OK);
    expect_cleared("eng_message_submit");
    assert_int_equal(eng_message_approve(f.e, "bob", mid, NULL, "ok"), ENG_OK);
    expect_cleared("eng_message_approve");
    /* rule evaluation too */
    eng_rule *r = NULL;
    eng_rule_field vip = {"vip", ENG_RT_BOOL, 0};
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = &vip;
    o.nfields = 1;
    assert_int_equal(eng_rule_compile(f.e, "vipp", &o, &r), ENG_ETYPE);
    assert_int_equal(eng_rule_compile(f.e, "vip", &o, &r), ENG_OK);
    expect_cleared("eng_rule_compile");
    assert_int_equal(eng_rule_compile(f.e, "vip ==", &o, &(eng_rule *){NULL}), ENG_EPARSE);
    int res;
    assert_int_equal(eng_rule_eval_row(r, rt_get_true, NULL, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    expect_cleared("eng_rule_eval_row");
    eng_rule_free(r);
    /* a failure is kept until the next call into the engine */
    assert_int_equal(eng_credits_balance(f.e, "nobody", ENG_CREDITS_CAMPAIGN, &bal), ENG_EDENIED);
    assert_int_equal(eng_error_last()->code, ENG_EDENIED);
    assert_non_null(eng_errstr(ENG_EDENIED));
    assert_int_equal(eng_error_last()->code, ENG_EDENIED);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_group_refused_at_submit),
        cmocka_unit_test(xengage_minimum_rechecked_at_approval),
        cmocka_unit_test(xengage_credits_reserved_at_approval),
        cmocka_unit_test(campaign_approval_reserves_each_message),
        cmocka_unit_test(xengage_setting_rechecked),
        cmocka_unit_test(schedule_enforced),
        cmocka_unit_test(goal_conditions_checked),
        cmocka_unit_test(error_last_cleared_by_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
