/* The org-wide global control group (eng_global_control_*): the setting and
 * its errors, membership stable as customers are added and across a reopen,
 * every change audited; the executor never sends to a member (also one added
 * after the approval: skipped with ENG_UNREACH_GLOBAL_CONTROL); the campaign
 * report compares the test group against it and does not change when the
 * setting does. Then the experiment of issue 11: test and control groups from
 * outside (an uploaded audience and an uploaded global control, both CSV),
 * sends recorded through the executor, receipts, transactions imported from
 * CSV, and the report equal to a table computed by hand below. */
#include <math.h>

#include "dispatch_fixture.h"

static void set_gc(dx *f, int mode, uint32_t percent, uint64_t seed, uint32_t group, int want)
{
    eng_global_control g;
    assert_int_equal(eng_global_control_init(&g, ENG_GLOBAL_CONTROL_VERSION), ENG_OK);
    g.mode = mode, g.percent = percent, g.group = group, g.seed = seed;
    assert_int_equal(eng_global_control_set(f->e, "root", &g), want);
}

static int member(dx *f, uint32_t id)
{
    int in = -1;
    assert_int_equal(eng_global_control_contains(f->e, "root", id, &in), ENG_OK);
    return in;
}

static uint32_t find(dx *f, const char *ext)
{
    uint32_t id = 0;
    assert_int_equal(eng_customer_find(f->e, "root", ext, &id), ENG_OK);
    return id;
}

/* Audit entries of global control changes (their state hash is the SHA-256 of the change's text). */
static int audited(dx *f)
{
    eng_audit_iter *it = NULL;
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    int found = 0;
    assert_int_equal(eng_audit_open(f->e, "root", &it), ENG_OK);
    while (eng_audit_next(it, &x) == ENG_OK)
        found += strcmp(x.object, "global-control") == 0 && strcmp(x.action, "global-control") == 0;
    eng_audit_free(it);
    return found;
}

static void setting_and_membership(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 200, 64, 1, 1);
    eng_global_control g = {.version = ENG_GLOBAL_CONTROL_VERSION, .mode = 9};
    assert_int_equal(eng_global_control_get(f.e, "root", &g), ENG_OK);
    assert_int_equal(g.mode, ENG_GLOBAL_CONTROL_OFF);
    assert_int_equal(member(&f, 3), 0);
    /* Bad settings: a clear error, nothing stored. */
    set_gc(&f, ENG_GLOBAL_CONTROL_RANDOM, 0, 1, 0, ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "global_control.percent");
    set_gc(&f, ENG_GLOBAL_CONTROL_RANDOM, 51, 1, 0, ENG_ERANGE);
    set_gc(&f, 7, 10, 1, 0, ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "global_control.mode");
    set_gc(&f, ENG_GLOBAL_CONTROL_UPLOADED, 0, 0, 999999, ENG_ENOTFOUND);
    uint32_t filt = 0;
    assert_int_equal(eng_group_create_filter(f.e, "root", "named", "true", &filt), ENG_OK);
    set_gc(&f, ENG_GLOBAL_CONTROL_UPLOADED, 0, 0, filt, ENG_EINVAL);
    assert_int_equal(eng_global_control_set(f.e, "root", NULL), ENG_EINVAL);
    eng_global_control bad = {.version = 2, .mode = ENG_GLOBAL_CONTROL_OFF};
    assert_int_equal(eng_global_control_set(f.e, "root", &bad), ENG_EVERSION);
    eng_global_control_init(&g, ENG_GLOBAL_CONTROL_VERSION);
    g.mode = ENG_GLOBAL_CONTROL_RANDOM, g.percent = 10;
    assert_int_equal(eng_global_control_set(f.e, "ann", &g), ENG_EDENIED); /* an author is no admin */
    assert_int_equal(eng_global_control_get(f.e, "root", &g), ENG_OK);
    assert_int_equal(g.mode, ENG_GLOBAL_CONTROL_OFF);
    int in = 7;
    assert_int_equal(eng_global_control_contains(f.e, "root", 200, &in), ENG_ENOTFOUND);
    assert_int_equal(in, 0);

    /* Random 10 %: about a tenth, and nobody moves when customers are added or the engine reopens. */
    set_gc(&f, ENG_GLOBAL_CONTROL_RANDOM, 10, 77, 0, ENG_OK);
    assert_int_equal(audited(&f), 1); /* the refused ones left no entry */
    int before[200], n = 0;
    for (uint32_t c = 0; c < 200; c++)
        n += before[c] = member(&f, c);
    assert_in_range(n, 8, 40);
    const char *more = "id,first_name\nz1,Zed\nz2,Zoe\nz3,Zia\n";
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", more, strlen(more), NULL, NULL), ENG_OK);
    dx_reopen(&f);
    for (uint32_t c = 0; c < 200; c++)
        assert_int_equal(member(&f, c), before[c]);
    assert_int_equal(eng_global_control_get(f.e, "root", &g), ENG_OK);
    assert_true(g.mode == ENG_GLOBAL_CONTROL_RANDOM && g.percent == 10 && g.seed == 77);

    /* Uploaded: exactly the group's members; the group cannot go while it is used. */
    uint32_t hold = dx_group_csv(&f, "holdout", "id\nc1\nc5\nc150\n");
    set_gc(&f, ENG_GLOBAL_CONTROL_UPLOADED, 0, 0, hold, ENG_OK);
    assert_int_equal(audited(&f), 2);
    for (uint32_t c = 0; c < 200; c++) {
        uint32_t c1 = find(&f, "c1"), c5 = find(&f, "c5"), c150 = find(&f, "c150");
        assert_int_equal(member(&f, c), c == c1 || c == c5 || c == c150);
    }
    assert_int_equal(eng_group_delete(f.e, "root", hold), ENG_ESTATE);
    set_gc(&f, ENG_GLOBAL_CONTROL_OFF, 0, 0, 0, ENG_OK);
    assert_int_equal(audited(&f), 3);
    assert_int_equal(member(&f, find(&f, "c1")), 0);
    assert_int_equal(eng_group_delete(f.e, "root", hold), ENG_OK);
    uint64_t bad_seq = 0;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad_seq), ENG_OK);
    dx_close(&f);
}

/* The executor honours it, the report compares against it, a change never rewrites the report. */
static void executor_and_report(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 100, 16, 1, 1);
    uint32_t hold = dx_holdout(&f);
    set_gc(&f, ENG_GLOBAL_CONTROL_UPLOADED, 0, 0, hold, ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    /* Frozen: control = the holdout's members among the audience, test = the others. */
    dx_holdout_frozen(&f);
    /* c1 joins the holdout after the approval: it is in the frozen test group but never sent to. */
    const char *late = "id\nc1\n";
    assert_int_equal(eng_group_upload_csv(f.e, "root", hold, late, strlen(late), ENG_UPLOAD_APPEND, NULL, NULL),
                     ENG_OK);
    dx_run_all(&f, f.t0, NULL);
    for (uint32_t c = 0; c < 100; c++) {
        size_t k = dx_ext(&f, c);
        unsigned calls = f.prov.calls[dx_pair(c, ENG_CH_SMS)] + f.prov.calls[dx_pair(c, ENG_CH_EMAIL)];
        if (k % 5 == 0 || k == 1)
            assert_int_equal(calls, 0);
        else
            assert_true(calls > 0);
    }
    eng_trace tr = ENG_TRACE_INIT;
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, find(&f, "c1"), &tr), ENG_OK);
    assert_int_equal(tr.reason, ENG_TRACE_UNREACHABLE);
    assert_int_equal(tr.unreach[ENG_CH_SMS], ENG_UNREACH_GLOBAL_CONTROL);
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, find(&f, "c5"), &tr), ENG_OK);
    assert_int_equal(tr.reason, ENG_TRACE_CONTROL);

    /* Purchases: every third customer, 50 units, a day after the send. */
    eng_report *r = NULL;
    eng_report_figures a = ENG_REPORT_FIGURES_INIT, b = ENG_REPORT_FIGURES_INIT;
    dx_thirds_buy(&f, &a);
    /* Contacted: the 79 test customers sent to (c1 skipped); control: c0, c5, ..., c95; of them
     * 0, 15, 30, 45, 60, 75, 90 bought (7 of 20). */
    assert_int_equal(a.contacted, 79);
    assert_int_equal(a.control_contacted, 20);
    assert_int_equal(a.control_responders, 7);
    /* Switching it off, or to something else, never rewrites the report. */
    set_gc(&f, ENG_GLOBAL_CONTROL_OFF, 0, 0, 0, ENG_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
        assert_int_equal(eng_report_total(r, &b), ENG_OK);
        eng_report_free(r);
        assert_memory_equal(&a, &b, sizeof a);
        set_gc(&f, ENG_GLOBAL_CONTROL_RANDOM, 30, 5, 0, ENG_OK);
    }
    dx_close(&f);
}

/* ---- the experiment: everything from outside, the report against a hand-made table ---- */

static const char *const exp_audience = "id\nc0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\n";
static const char *const exp_holdout = "id,note\nc5,x\nc6,x\nc7,x\nc8,not in the audience\nc9,x\n";

static void experiment(void **state)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    dx f;
    dx_world(&f, 10, 16, 1, 1);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION), ENG_OK);
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.conversion_goals = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    dx_group_csv(&f, "experiment", exp_audience);
    set_gc(&f, ENG_GLOBAL_CONTROL_UPLOADED, 0, 0, dx_group_csv(&f, "holdout", exp_holdout), ENG_OK);
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = "Experiment";
    c.start = test_clock_now + ENG_DAY;
    c.end = test_clock_now + 60 * ENG_DAY;
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount > 50", 10, ENG_GOAL_ON_SENT, ENG_ATTR_LAST_TOUCH};
    c.goal = &c_goal;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &f.campaign, NULL), ENG_OK);
    static const char *const groups[] = {"experiment"};
    static const eng_creative sms[] = {{ENG_CH_SMS, NULL, "Hi {{first_name | \"there\"}}, 20% off. {{optout}}"}};
    eng_message_spec m = dx_message();
    m.include = groups;
    m.creatives = sms;
    m.n_creatives = 1;
    dx_approve(&f, &m);
    eng_run_report run = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &run);
    assert_int_equal(run.accepted, 5); /* c0..c4; the holdout is never sent to */
    /* Receipts: c0..c3 delivered a minute after the send; c4 none. */
    const char *keys[4];
    int st[4];
    eng_time at[4];
    for (int i = 0; i < 4; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "c%d", i);
        keys[i] = f.prov.key[dx_pair(find(&f, ext), ENG_CH_SMS)];
        assert_non_null(keys[i]);
        st[i] = ENG_TOUCH_DELIVERED, at[i] = f.t0 + 60000;
    }
    eng_receipts rc = ENG_RECEIPTS_INIT;
    rc.count = 4, rc.keys = keys, rc.statuses = st, rc.times = at;
    assert_int_equal(eng_touch_append(f.e, &rc, NULL), ENG_OK);
    /* Transactions from CSV (times in ms; t0 = 2026-01-04T00:00:00Z = 1767484800000). */
    assert_int_equal(f.t0, 1767484800000);
    const char *tx = "id,customer,time,amount\n"
                     "t1,c0,1767571200000,120.00\n"  /* +1 d, > 50: c0 responds, 120.00 */
                     "t2,c1,1767657600000,40.00\n"   /* +2 d, not above 50 */
                     "t3,c1,1768435200000,75.50\n"   /* +11 d, outside the 10 days */
                     "t4,c2,1768348800000,60.25\n"   /* +10 d exactly: the bound is in, c2 responds */
                     "t5,c3,1767481200000,99.99\n"   /* 1 h before the send: no touch before it */
                     "t6,c5,1767744000000,80.00\n"   /* control, +3 d: a control responder */
                     "t7,c6,1767571200000,30.00\n"   /* control, not above 50 */
                     "t8,c7,1768521600000,55.00\n"   /* control, +12 d: outside */
                     "t9,c8,1767571200000,500.00\n"; /* holdout but not in the audience: in no group */
    eng_event_report er = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_txn_import_csv_buffer(f.e, "acme", tx, strlen(tx), NULL, &er), ENG_OK);
    test_clock_now = f.t0 + 30 * ENG_DAY;
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
    eng_report_figures x = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &x), ENG_OK);
    /* The table, by hand:
     *   test c0..c4: contacted 5, sent 5, delivered 4, responders c0 and c2 -> 2, hit rate 40 %,
     *   responder sales 120.00 + 60.25 = 180.25, spend per responder 90.125 -> 90.12 (half-even),
     *   credits 5 x 3 (SMS cost) = 15;
     *   control c5, c6, c7: 3, responders c5 -> 1, control hit rate 33.33 %;
     *   lift 40 - 100/3 = 6.67 points; incremental 180.25 x (2 x 3 - 1 x 5) / (2 x 3) = 30.041.. -> 30.04. */
    assert_int_equal(x.responder_def, ENG_RESPONDER_GOAL);
    assert_int_equal(x.contacted, 5);
    assert_int_equal(x.sent, 5);
    assert_int_equal(x.delivered, 4);
    assert_int_equal(x.not_delivered, 0);
    assert_int_equal(x.responders, 2);
    assert_int_equal(x.conversions, 2);
    assert_true(x.hit_rate == 40.0);
    assert_int_equal(x.responder_sales, 18025);
    assert_true(x.spend_per_responder_known);
    assert_int_equal(x.spend_per_responder, 9012);
    assert_int_equal(x.credits_spent, 15);
    assert_int_equal(x.control_contacted, 3);
    assert_int_equal(x.control_responders, 1);
    assert_true(x.control_known && fabs(x.control_hit_rate - 100.0 / 3) < 1e-12);
    assert_true(x.lift_known && fabs(x.lift - (40.0 - 100.0 / 3)) < 1e-12);
    assert_true(x.incremental_known);
    assert_int_equal(x.incremental_sales, 3004);
    /* p-value of the pooled two-proportion z-test, 2/5 against 1/3, and the unpooled 95 % interval. */
    double pp = 3.0 / 8, z = (0.4 - 1.0 / 3) / sqrt(pp * (1 - pp) * (1.0 / 5 + 1.0 / 3));
    assert_true(fabs(x.p_value - erfc(fabs(z) / sqrt(2.0))) < 1e-12);
    double se = sqrt(0.4 * 0.6 / 5 + (1.0 / 3) * (2.0 / 3) / 3) * 100;
    assert_true(fabs(x.lift_ci_low - (x.lift - 1.959963984540054 * se)) < 1e-9);
    assert_true(fabs(x.lift_ci_high - (x.lift + 1.959963984540054 * se)) < 1e-9);
    /* The same table in the CSV export's total row. */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(eng_report_export(r, ENG_REPORT_CSV, &text, &len), ENG_OK);
    assert_non_null(strstr(text, "\ntotal,goal,5,5,4,0,0,0,0,2,2,40.000000,180.25,90.12,15,3,1,33.333333,6.666667,"));
    assert_non_null(strstr(text, ",30.04\r\n"));
    eng_free(f.e, text);
    eng_report_free(r);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(setting_and_membership),
        cmocka_unit_test(executor_and_report),
        cmocka_unit_test(experiment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
