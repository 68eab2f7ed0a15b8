/* The seed's festival campaign end to end, against values worked out by hand
 * (docs/attribution.md walks through the same numbers), and the edge cases of
 * issue 11: window bounds, touches after the transaction, duplicate and late
 * events, several campaigns on one customer, control responders, no
 * responders, an empty control group. */
#include "measure_fixture.h"

#define D ENG_DAY
#define T0 ((eng_time)1767225600000) /* 2026-01-01 */
enum { M1 = 11, M2 = 12, OTHER = 99 };

/* Goal: transactions above 3000 at the participating stores S1 and S2,
 * 20 days from delivery, last touch. */
static void festival_spec(eng_measure_spec *s, const uint32_t *msgs, const uint32_t *ctl, size_t nctl)
{
    static eng_goal_spec s_goal; /* the spec returned points here: each call starts it afresh */
    s_goal = (eng_goal_spec)ENG_GOAL_SPEC_INIT;
    assert_int_equal(eng_measure_spec_init(s, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    s->n_customers = 16;
    s->messages = msgs;
    s->n_messages = 2;
    s->start = T0;
    s->end = T0 + 30 * D;
    s->has_goal = 1;
    s_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount > 3000 and store in (\"S1\", \"S2\")", 20, ENG_GOAL_ON_DELIVERED, ENG_ATTR_LAST_TOUCH};
    s->goal = &s_goal;
    s->control = ctl;
    s->n_control = nctl;
}

static void festival_data(mx *m)
{
    /* c0: both messages delivered; buys 3500.00 at S1 on day 10 -> M2 (last) */
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0 + 1000);
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0 + 1000);    /* duplicate */
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0 + 9 * D);   /* late duplicate: earliest counts */
    mx_touch(m, 0, M2, ENG_CH_EMAIL, ENG_TOUCH_SENT, T0 + 5 * D);
    mx_touch(m, 0, M2, ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, T0 + 5 * D);
    mx_touch(m, 0, M2, ENG_CH_EMAIL, ENG_TOUCH_OPENED, T0 + 6 * D);
    mx_txn(m, 0, T0 + 10 * D, 350000, 1);
    /* c1: delivered day 0; buys at S1 on day 21 (out of the window) and 5000 at S3 (not participating) */
    mx_touch(m, 1, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_touch(m, 1, M1, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0);
    mx_txn(m, 1, T0 + 21 * D, 400000, 1);
    mx_txn(m, 1, T0 + 15 * D, 500000, 3);
    /* c2: delivered day 0; buys 3000.01 at S2 exactly 20 days later (the bound is in) */
    mx_touch(m, 2, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_touch(m, 2, M1, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0);
    mx_txn(m, 2, T0 + 20 * D, 300001, 2);
    /* c3: sent but not delivered; buys 9000 at S1 */
    mx_touch(m, 3, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_touch(m, 3, M1, ENG_CH_SMS, ENG_TOUCH_FAILED, T0 + 1000);
    mx_txn(m, 3, T0 + 3 * D, 900000, 1);
    /* c4: M2 delivered day 5; buys 3200 at S1 on day 4 (before the touch) and exactly 3000.00 on day 6 */
    mx_touch(m, 4, M2, ENG_CH_EMAIL, ENG_TOUCH_SENT, T0 + 5 * D);
    mx_touch(m, 4, M2, ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, T0 + 5 * D);
    mx_touch(m, 4, M2, ENG_CH_EMAIL, ENG_TOUCH_UNSUBSCRIBED, T0 + 5 * D + 1);
    mx_txn(m, 4, T0 + 4 * D, 320000, 1);
    mx_txn(m, 4, T0 + 6 * D, 300000, 1);
    /* c0 is also touched by another campaign's message: not ours */
    mx_touch(m, 0, OTHER, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0 + 9 * D);
    /* control: c5 buys 4500 at S1 on day 2 (responder), c6 buys nothing, c7 buys on day 30 (outside both windows) */
    mx_txn(m, 5, T0 + 2 * D, 450000, 1);
    mx_txn(m, 7, T0 + 30 * D, 500000, 1);
    mx_columns(m);
}

static void test_festival(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    festival_data(m);
    static const uint32_t msgs[] = {M1, M2}, ctl[] = {5, 6, 7};
    eng_measure_spec s;
    festival_spec(&s, msgs, ctl, 3);
    s_goal = *s.goal; /* start from the fixture's */
    eng_report *r = NULL;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.responder_def, ENG_RESPONDER_GOAL);
    assert_int_equal(f.contacted, 5);
    assert_int_equal(f.sent, 6);
    assert_int_equal(f.delivered, 5);
    assert_int_equal(f.not_delivered, 1);
    assert_int_equal(f.opened, 1);
    assert_int_equal(f.unsubscribed, 1);
    assert_int_equal(f.responders, 2);              /* c0 and c2 */
    assert_true(f.hit_rate == 40.0);
    assert_int_equal(f.responder_sales, 650001);    /* 3500.00 + 3000.01 */
    assert_int_equal(f.spend_per_responder, 325000);/* 3250.005 -> 3250.00 (half-even) */
    assert_int_equal(f.control_contacted, 3);
    assert_int_equal(f.control_responders, 1);      /* c5 */
    assert_true(f.lift_known && f.incremental_known);
    /* (40 - 33.33..) / 100 x 5 x 3250.005 = 6500.01 / 6 = 1083.335 -> 1083.34 (half-even) */
    assert_int_equal(f.incremental_sales, 108334);
    uint32_t id = 0;
    assert_int_equal(eng_report_message(r, 1, &id, &f), ENG_OK);
    assert_int_equal(id, M2);
    assert_int_equal(f.responders, 1);
    assert_int_equal(f.responder_sales, 350000);
    assert_int_equal(eng_report_message(r, 0, &id, &f), ENG_OK);
    assert_int_equal(f.responders, 1);
    assert_int_equal(f.responder_sales, 300001);
    assert_int_equal(f.sent, 4);
    assert_int_equal(f.contacted, 4);
    assert_int_equal(eng_report_channel(r, ENG_CH_EMAIL, &f), ENG_OK);
    assert_int_equal(f.contacted, 2);
    assert_int_equal(f.responder_sales, 350000);
    char *txt = NULL;
    size_t len = 0;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &txt, &len), ENG_OK);
    assert_non_null(strstr(txt, "\"total\":{\"scope\":\"total\",\"responder_def\":\"goal\",\"contacted\":5,"));
    assert_non_null(strstr(txt, "\"responder_sales\":\"6500.01\",\"spend_per_responder\":\"3250.00\""));
    assert_non_null(strstr(txt, "\"incremental_sales\":\"1083.34\"}"));
    assert_int_equal(strlen(txt), len);
    eng_free(e, txt);
    assert_int_equal(eng_report_export(r, ENG_REPORT_CSV, &txt, &len), ENG_OK);
    assert_true(strncmp(txt, "scope,responder_def,contacted,", 30) == 0);
    assert_non_null(strstr(txt, "\r\ntotal,goal,5,6,5,1,1,0,1,2,2,40.000000,6500.01,3250.00,"));
    assert_non_null(strstr(txt, "\r\nmessage:12,goal,2,2,2,0,1,0,1,1,1,50.000000,3500.00,3500.00,"));
    eng_free(e, txt);

    /* the same events, another model and window: no re-ingestion, another answer */
    s_goal.attribution = ENG_ATTR_FIRST_TOUCH;
    s.goal = &s_goal;
    eng_report *r2 = NULL;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r2), ENG_OK);
    assert_int_equal(eng_report_message(r2, 0, NULL, &f), ENG_OK);
    assert_int_equal(f.responder_sales, 650001); /* c0's purchase goes to M1 now */
    eng_report_free(r2);
    s_goal.window_days = 19; /* c2's purchase on day 20 falls out */
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r2), ENG_OK);
    assert_int_equal(eng_report_total(r2, &f), ENG_OK);
    assert_int_equal(f.responders, 1);
    assert_int_equal(f.responder_sales, 350000);
    eng_report_free(r2);
    s_goal.window_days = 20;
    s_goal.attribution = ENG_ATTR_LINEAR; /* c0: M1 and M2 both eligible, half each */
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r2), ENG_OK);
    assert_int_equal(eng_report_message(r2, 0, NULL, &f), ENG_OK);
    assert_int_equal(f.responder_sales, 175000 + 300001);
    assert_int_equal(f.responders, 2);
    eng_report_free(r2);
    eng_report_free(r);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

/* No responders and an empty control group: nothing divides by zero, the
 * lift and incremental sales are unknown rather than 0. */
static void test_no_responders_empty_control(void **state)
{
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_txn(m, 0, T0 + D, 100, 1); /* 1.00: below the goal */
    mx_columns(m);
    static const uint32_t msgs[] = {M1, M2};
    eng_measure_spec s;
    festival_spec(&s, msgs, NULL, 0);
    eng_report *r = NULL;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.contacted, 1);
    assert_int_equal(f.responders, 0);
    assert_true(f.hit_rate == 0.0);
    assert_false(f.spend_per_responder_known);
    assert_false(f.control_known);
    assert_false(f.lift_known);
    assert_false(f.incremental_known);
    assert_int_equal(eng_report_message(r, 1, NULL, &f), ENG_OK); /* M2 never sent */
    assert_int_equal(f.contacted, 0);
    assert_true(f.hit_rate == 0.0);
    char *txt = NULL;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &txt, NULL), ENG_OK);
    assert_non_null(strstr(txt, "\"spend_per_responder\":null"));
    assert_non_null(strstr(txt, "\"lift\":null"));
    assert_non_null(strstr(txt, "\"incremental_sales\":null"));
    eng_free(e, txt);
    eng_report_free(r);
    /* a control group with responders but no test responders: the lift is known, incremental sales not */
    static const uint32_t ctl[] = {5};
    mx_txn(m, 5, T0 + D, 400000, 1);
    mx_columns(m);
    s.control = ctl;
    s.n_control = 1;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_true(f.lift_known);
    assert_true(f.lift == -100.0);
    assert_false(f.incremental_known);
    eng_report_free(r);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

/* Without a goal: a responder is a contacted customer who transacted between
 * the first touch and the campaign end (the seed's hit rate). */
static void test_hit_rate_without_goal(void **state)
{
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0 + D);
    mx_txn(m, 0, T0 + D, 1000, 7);      /* at the first touch: in */
    mx_txn(m, 0, T0 + 3 * D, 2000, 7);  /* in */
    mx_touch(m, 1, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0 + D);
    mx_txn(m, 1, T0 + D - 1, 5000, 7);  /* before the first touch: out */
    mx_txn(m, 1, T0 + 31 * D, 5000, 7); /* after the end: out */
    mx_touch(m, 2, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0 + D);
    mx_txn(m, 2, T0 + 30 * D, 700, 7);  /* at the end: in */
    mx_txn(m, 9, T0 + 2 * D, 100, 7);   /* control responder */
    mx_columns(m);
    static const uint32_t msgs[] = {M1, M2}, ctl[] = {9, 8};
    eng_measure_spec s;
    festival_spec(&s, msgs, ctl, 2);
    s.has_goal = 0;
    eng_report *r = NULL;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.responder_def, ENG_RESPONDER_HIT_RATE);
    assert_int_equal(f.contacted, 3);
    assert_int_equal(f.responders, 2);
    assert_int_equal(f.responder_sales, 3700);
    assert_int_equal(f.control_responders, 1);
    assert_true(f.control_hit_rate == 50.0);
    eng_report_free(r);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

static void test_bad_inputs(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    mx_touch(m, 0, M1, ENG_CH_SMS, ENG_TOUCH_SENT, T0);
    mx_txn(m, 0, T0 + D, 400000, 1);
    mx_columns(m);
    static const uint32_t msgs[] = {M1, M2};
    eng_measure_spec s;
    festival_spec(&s, msgs, NULL, 0);
    s_goal = *s.goal; /* start from the fixture's */
    eng_report *r = (eng_report *)1;
    s_goal.window_days = 91;
    s.goal = &s_goal;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_ERANGE);
    assert_null(r);
    assert_string_equal(eng_error_last()->detail, "spec.goal.window_days");
    s_goal.window_days = 20;
    s_goal.condition = "amount > 3000 and stor == \"S1\"";
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_ETYPE);
    assert_non_null(strstr(eng_error_last()->message, "store")); /* did you mean */
    s_goal.condition = "amount >";
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EPARSE);
    s_goal.condition = "amount > 3000";
    s.n_customers = 0;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "txns.customer");
    s.n_customers = 16;
    m->tst[0] = 9;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "touches.status");
    m->tst[0] = ENG_TOUCH_SENT;
    s.version = 99;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EVERSION);
    s.version = ENG_MEASURE_SPEC_VERSION;
    s.goal = NULL; /* has_goal needs a goal */
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "spec.goal");
    s_goal.version = 0;
    s.goal = &s_goal;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "spec.goal.version");
    assert_null(r);
    s.has_goal = 0; /* without has_goal the goal is not read */
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
    eng_report_free(r);
    assert_int_equal(eng_measure_campaign(NULL, &m->tc, &m->xc, &s, &r), ENG_EMISUSE);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(NULL, &f), ENG_EMISUSE);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

static int oom_run(void *arg)
{
    mx *m = arg;
    static const uint32_t msgs[] = {M1, M2}, ctl[] = {5, 6, 7};
    eng_measure_spec s;
    festival_spec(&s, msgs, ctl, 3);
    eng_store *st = NULL;
    int rc = eng_store_memory_new(test_alloc_get(), &st);
    if (rc)
        return rc;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.store = st;
    eng_engine *e = NULL;
    rc = eng_open(&cfg, &e);
    if (rc)
        return rc;
    eng_report *r = NULL;
    rc = eng_measure_campaign(e, &m->tc, &m->xc, &s, &r);
    char *txt = NULL;
    if (!rc) {
        rc = eng_report_export(r, ENG_REPORT_JSON, &txt, NULL);
        eng_free(e, txt);
    }
    if (rc && rc != ENG_ENOMEM)
        fprintf(stderr, "oom run: %d %s\n", rc, eng_error_last()->message);
    eng_report_free(r);
    eng_close(e);
    return rc;
}

/* Every allocation failure is reported as ENG_ENOMEM and leaks nothing. */
static void test_oom(void **state)
{
    (void)state;
    mx *m = mx_new();
    festival_data(m);
    test_alloc_reset();
    assert_true(test_oom_loop(oom_run, m) > 10);
    free(m);
}

/* Copy the rows of m whose time is in [from, to] (the plain reference of a period). */
static mx *mx_period(const mx *m, eng_time from, eng_time to)
{
    mx *p = mx_new();
    for (size_t i = 0; i < m->nt; i++)
        if (m->tt[i] >= from && m->tt[i] <= to)
            mx_touch(p, m->tcust[i], m->tmsg[i], m->tch[i], m->tst[i], m->tt[i]);
    for (size_t j = 0; j < m->nx; j++)
        if (m->xt[j] >= from && m->xt[j] <= to)
            mx_txn(p, m->xcust[j], m->xt[j], m->xamt[j], m->xstore[j]);
    mx_columns(p);
    return p;
}

/* The org dashboard: periods by the calendar, each campaign measured over
 * the period's events and summed; credits remaining passed through, negative
 * when overdrawn. */
static void test_org_dashboard(void **state)
{
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    festival_data(m);
    static const uint32_t msgs[] = {M1, M2}, other[] = {OTHER}, ctl[] = {5, 6, 7};
    eng_measure_spec s[2];
    festival_spec(&s[0], msgs, ctl, 3);
    festival_spec(&s[1], other, NULL, 0);
    s[1].n_messages = 1;
    s[1].has_goal = 0;
    static const int64_t cost[ENG_MAX_CHANNELS] = {2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    s[0].channel_cost = s[1].channel_cost = cost;
    eng_time now = T0 + 12 * D;
    for (int period = ENG_PERIOD_7_DAYS; period <= ENG_PERIOD_6_MONTHS; period++) {
        eng_org_figures f = ENG_ORG_FIGURES_INIT;
        assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 2, now, period, -250, &f), ENG_OK);
        assert_int_equal(f.to, now);
        assert_int_equal(f.credits_remaining, -250);
        mx *p = mx_period(m, f.from, f.to);
        uint64_t contacted = 0, sent = 0, delivered = 0, responders = 0;
        int64_t sales = 0, credits = 0;
        for (int c = 0; c < 2; c++) {
            eng_report *r = NULL;
            assert_int_equal(eng_measure_campaign(e, &p->tc, &p->xc, &s[c], &r), ENG_OK);
            eng_report_figures g = ENG_REPORT_FIGURES_INIT;
            assert_int_equal(eng_report_total(r, &g), ENG_OK);
            contacted += g.contacted;
            sent += g.sent;
            delivered += g.delivered;
            responders += g.responders;
            sales += g.responder_sales;
            credits += g.credits_spent;
            eng_report_free(r);
        }
        assert_int_equal(f.contacted, contacted);
        assert_int_equal(f.sent, sent);
        assert_int_equal(f.delivered, delivered);
        assert_int_equal(f.responders, responders);
        assert_int_equal(f.responder_sales, sales);
        assert_int_equal(f.credits_spent, credits);
        assert_true(f.hit_rate == (contacted ? 100.0 * (double)responders / (double)contacted : 0.0));
        free(p);
    }
    /* 7 days: only M2's sends (day 5) are in, so c0 and c4 are the contacted ones */
    eng_org_figures f = ENG_ORG_FIGURES_INIT;
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 2, now, ENG_PERIOD_7_DAYS, 0, &f), ENG_OK);
    assert_int_equal(f.from, T0 + 5 * D);
    assert_int_equal(f.contacted, 2);
    assert_int_equal(f.sent, 2);
    assert_int_equal(f.credits_spent, 6); /* two emails at 3 */
    /* calendar months, clamped to the month's length */
    eng_time mar31 = 1774951200000; /* 2026-03-31T10:00:00Z */
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 0, mar31, ENG_PERIOD_1_MONTH, 0, &f), ENG_OK);
    assert_int_equal(f.from, 1772272800000); /* 2026-02-28T10:00:00Z */
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 0, mar31, ENG_PERIOD_3_MONTHS, 0, &f), ENG_OK);
    assert_int_equal(f.from, 1767175200000); /* 2025-12-31T10:00:00Z */
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 0, mar31, ENG_PERIOD_6_MONTHS, 0, &f), ENG_OK);
    assert_int_equal(f.from, 1759226400000); /* 2025-09-30T10:00:00Z */
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 0, mar31, 9, 0, &f), ENG_EINVAL);
    f.version = 7;
    assert_int_equal(eng_measure_org(e, &m->tc, &m->xc, s, 0, mar31, 0, 0, &f), ENG_EVERSION);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_festival),
        cmocka_unit_test(test_no_responders_empty_control),
        cmocka_unit_test(test_hit_rate_without_goal),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_org_dashboard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
