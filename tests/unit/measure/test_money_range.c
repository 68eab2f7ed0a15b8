/* Money figures past int64: a report whose responder sales, spend per responder or
 * incremental sales do not fit a 64-bit count of minor units fails with ENG_ERANGE
 * naming the scope and figure (never a wrapped number), and so does an org's sum of
 * campaigns; the largest figures that fit come out exact. Amounts are the API's
 * (int64 per transaction, scaled by 10^amount_scale); currency_places above the
 * scale multiplies them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

enum { NT = 3, NX = 3 };

typedef struct world {
    uint32_t tcust[NT], tmsg[NT];
    uint8_t tch[NT], tst[NT];
    eng_time tt[NT];
    uint32_t xcust[NX];
    eng_time xt[NX];
    int64_t xamt[NX];
    uint32_t msgs[1], ctl[1];
    eng_touch_columns tc;
    eng_txn_columns xc;
    eng_measure_spec sp;
} world;

/* Customers 0..2 sent message 5 at t=1000 (test group), customer 3 in control; the
 * transactions given by the caller, amounts at @p scale, the report at @p places. */
static void world_init(world *w, const uint32_t *cust, const int64_t *amt, size_t nx, int scale, int places)
{
    memset(w, 0, sizeof *w);
    for (uint32_t i = 0; i < NT; i++) {
        w->tcust[i] = i;
        w->tmsg[i] = 5;
        w->tst[i] = ENG_TOUCH_SENT;
        w->tt[i] = 1000;
    }
    for (size_t i = 0; i < nx; i++) {
        w->xcust[i] = cust[i];
        w->xt[i] = 2000 + (eng_time)i;
        w->xamt[i] = amt[i];
    }
    w->msgs[0] = 5;
    w->ctl[0] = 3;
    eng_touch_columns_init(&w->tc, ENG_TOUCH_COLUMNS_VERSION);
    w->tc.n = NT;
    w->tc.customer = w->tcust;
    w->tc.message = w->tmsg;
    w->tc.channel = w->tch;
    w->tc.status = w->tst;
    w->tc.time = w->tt;
    eng_txn_columns_init(&w->xc, ENG_TXN_COLUMNS_VERSION);
    w->xc.n = nx;
    w->xc.customer = w->xcust;
    w->xc.time = w->xt;
    w->xc.amount = w->xamt;
    w->xc.amount_scale = scale;
    eng_measure_spec_init(&w->sp, ENG_MEASURE_SPEC_VERSION);
    w->sp.n_customers = 4;
    w->sp.messages = w->msgs;
    w->sp.n_messages = 1;
    w->sp.end = 100000;
    w->sp.control = w->ctl;
    w->sp.n_control = 1;
    w->sp.currency_places = places;
}

static eng_engine *open_engine(void)
{
    eng_config cfg;
    eng_engine *e = NULL;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    return e;
}

static void expect_range(eng_engine *e, const world *w, const char *detail)
{
    eng_report *r = (eng_report *)&r; /* not NULL: the call must clear it */
    int rc = eng_measure_campaign(e, &w->tc, &w->xc, &w->sp, &r);
    if (rc != ENG_ERANGE)
        eng_report_free(r);
    assert_string_equal(rc == ENG_ERANGE ? eng_error_last()->detail : "(no error)", detail);
    assert_int_equal(rc, ENG_ERANGE);
    assert_null(r);
    assert_non_null(strstr(eng_error_last()->message, "64-bit"));
}

static void sums_past_int64_are_refused(void **st)
{
    (void)st;
    eng_engine *e = open_engine();
    world w;
    /* Two responders with the largest amounts: their sum is past int64 at places == scale. */
    static const uint32_t c2[2] = {0, 1};
    static const int64_t big2[2] = {INT64_MAX, INT64_MAX};
    world_init(&w, c2, big2, 2, 4, 4);
    expect_range(e, &w, "report.total.responder_sales");
    /* One amount fits at its own scale but not once places add decimals (x 10^4). */
    static const uint32_t c1[1] = {0};
    static const int64_t one[1] = {INT64_MAX / 1000};
    world_init(&w, c1, one, 1, 0, 4);
    expect_range(e, &w, "report.total.responder_sales");
    /* Sales fit, incremental sales do not: 1 of 3 test customers responds, the one control
     * customer too, so incremental = S x (1 - 3) / 1 = -2 S; INT64_MIN itself fits. */
    static const int64_t half[1] = {INT64_MAX / 2 + 1};
    static const uint32_t c3[2] = {0, 3};
    static const int64_t half2[2] = {INT64_MAX / 2 + 2, 1}; /* -2 S = INT64_MIN - 2 */
    world_init(&w, c3, half2, 2, 2, 2);
    expect_range(e, &w, "report.total.incremental_sales");
    static const int64_t edge2[2] = {INT64_MAX / 2 + 1, 1};
    world_init(&w, c3, edge2, 2, 2, 2);
    eng_report *r = NULL;
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_measure_campaign(e, &w.tc, &w.xc, &w.sp, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.incremental_sales, INT64_MIN);
    eng_report_free(r);
    /* The same with nobody in control responding: incremental = S, which fits. */
    world_init(&w, c1, half, 1, 2, 2);
    assert_int_equal(eng_measure_campaign(e, &w.tc, &w.xc, &w.sp, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.responder_sales, INT64_MAX / 2 + 1);
    assert_int_equal(f.spend_per_responder, INT64_MAX / 2 + 1);
    assert_true(f.incremental_known);
    assert_int_equal(f.incremental_sales, INT64_MAX / 2 + 1);
    eng_report_free(r);
    assert_int_equal(eng_close(e), ENG_OK);
}

static void largest_figures_are_exact(void **st)
{
    (void)st;
    eng_engine *e = open_engine();
    world w;
    /* INT64_MAX and -INT64_MAX at places == scale: the total is exactly 0. */
    static const uint32_t c[2] = {0, 1};
    static const int64_t amt[2] = {INT64_MAX, -INT64_MAX};
    world_init(&w, c, amt, 2, 3, 3);
    eng_report *r = NULL;
    assert_int_equal(eng_measure_campaign(e, &w.tc, &w.xc, &w.sp, &r), ENG_OK);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.responder_sales, 0);
    assert_int_equal(f.responders, 2);
    eng_report_free(r);
    static const int64_t max1[1] = {INT64_MAX};
    world_init(&w, c, max1, 1, 4, 2); /* to cents: ...58.07 -> ...58 */
    assert_int_equal(eng_measure_campaign(e, &w.tc, &w.xc, &w.sp, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    assert_int_equal(f.responder_sales, INT64_MAX / 100);
    eng_report_free(r);
    assert_int_equal(eng_close(e), ENG_OK);
}

static void org_sum_past_int64_is_refused(void **st)
{
    (void)st;
    eng_engine *e = open_engine();
    world w;
    static const uint32_t c[1] = {0};
    static const int64_t amt[1] = {INT64_MAX / 2 + 1};
    world_init(&w, c, amt, 1, 2, 2);
    w.sp.start = 0;
    eng_measure_spec two[2] = {w.sp, w.sp}; /* the same campaign twice: each fits, the sum does not */
    eng_org_figures o = ENG_ORG_FIGURES_INIT;
    assert_int_equal(eng_measure_org(e, &w.tc, &w.xc, two, 1, 50000, ENG_PERIOD_7_DAYS, 0, &o), ENG_OK);
    assert_int_equal(o.responder_sales, INT64_MAX / 2 + 1);
    assert_int_equal(eng_measure_org(e, &w.tc, &w.xc, two, 2, 50000, ENG_PERIOD_7_DAYS, 0, &o), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "campaigns");
    assert_non_null(strstr(eng_error_last()->message, "responder_sales"));
    assert_int_equal(o.responder_sales, 0);
    assert_int_equal(eng_close(e), ENG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sums_past_int64_are_refused),
        cmocka_unit_test(largest_figures_are_exact),
        cmocka_unit_test(org_sum_past_int64_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
