/* A transaction of amount 0 (a free order, a gift card used in full) is a conversion
 * like any other: who it is credited to follows the model, not the amount. Every
 * count of a report (responders and conversions of the total, each message and each
 * channel) must be the same whether the amounts are 0 or 1 unit; only the money
 * differs. Found by an engine-path run against SQL (qa9u): the per-message and
 * per-channel counts left out zero-amount purchases under last touch, first touch,
 * position based and the hit-rate definition (a share of 0 was read as "not
 * credited"), so the messages' responders summed below the campaign's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

enum { NT = 7, NX = 5 };

/* Customers 0..3 in the test group: 0 gets message 5 (channel 0) at t=1000 and message 6
 * (channel 1) at 2000 and 2500 (channel 2); 1 gets message 5 only; 2 gets message 6 only;
 * 3 gets message 5 at 1000 and message 6 at 1000 (a tie). Customer 4 is in control. */
static const uint32_t tcust[NT] = {0, 0, 0, 1, 2, 3, 3}, tmsg[NT] = {5, 6, 6, 5, 6, 5, 6};
static const uint8_t tch[NT] = {0, 1, 2, 0, 1, 0, 1}, tst[NT] = {0};
static const eng_time tt[NT] = {1000, 2000, 2500, 1000, 2000, 1000, 1000};
static const uint32_t xcust[NX] = {0, 1, 2, 3, 4};
static const eng_time xt[NX] = {3000, 1500, 2000, 1000, 1500};

static void counts(eng_engine *e, int has_goal, int model, int64_t amount, uint64_t out[20])
{
    int64_t amt[NX];
    for (int i = 0; i < NX; i++)
        amt[i] = amount;
    eng_touch_columns tc = ENG_TOUCH_COLUMNS_INIT;
    tc.n = NT;
    tc.customer = tcust;
    tc.message = tmsg;
    tc.channel = tch;
    tc.status = tst;
    tc.time = tt;
    eng_txn_columns xc = ENG_TXN_COLUMNS_INIT;
    xc.n = NX;
    xc.customer = xcust;
    xc.time = xt;
    xc.amount = amt;
    static const uint32_t msgs[2] = {5, 6}, ctl[1] = {4};
    eng_goal_spec g = ENG_GOAL_SPEC_INIT;
    g.event = "transaction";
    g.window_days = 1;
    g.attribution = model;
    eng_measure_spec sp = ENG_MEASURE_SPEC_INIT;
    sp.n_customers = 5;
    sp.messages = msgs;
    sp.n_messages = 2;
    sp.end = 100000;
    sp.control = ctl;
    sp.n_control = 1;
    sp.has_goal = has_goal;
    sp.goal = &g;
    eng_report *r = NULL;
    assert_int_equal(eng_measure_campaign(e, &tc, &xc, &sp, &r), ENG_OK);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    size_t k = 0;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    out[k++] = f.responders;
    out[k++] = f.conversions;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(eng_report_message(r, i, NULL, &f), ENG_OK);
        out[k++] = f.responders;
        out[k++] = f.conversions;
    }
    for (int ch = 0; ch < 3; ch++) {
        assert_int_equal(eng_report_channel(r, ch, &f), ENG_OK);
        out[k++] = f.responders;
        out[k++] = f.conversions;
    }
    eng_report_free(r);
}

static void zero_amounts_count_as_conversions(void **st)
{
    (void)st;
    eng_config cfg;
    eng_engine *e = NULL;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    static const int models[] = {ENG_ATTR_LAST_TOUCH, ENG_ATTR_FIRST_TOUCH, ENG_ATTR_LINEAR, ENG_ATTR_TIME_DECAY,
                                 ENG_ATTR_POSITION};
    for (int goal = 0; goal < 2; goal++)
        for (size_t m = 0; m < (goal ? 5u : 1u); m++) {
            uint64_t zero[20] = {0}, unit[20] = {0}, neg[20] = {0};
            counts(e, goal, models[m], 0, zero);
            counts(e, goal, models[m], 1, unit);
            counts(e, goal, models[m], -1, neg);
            for (int i = 0; i < 10; i++) {
                if (zero[i] != unit[i] || neg[i] != unit[i])
                    fail_msg("goal %d model %d: count %d is %llu with amount 0, %llu with -1, %llu with 1", goal,
                             models[m], i, (unsigned long long)zero[i], (unsigned long long)neg[i],
                             (unsigned long long)unit[i]);
            }
            /* every test customer converts once; the messages' and channels' counts hold them all */
            assert_int_equal(unit[0], 4);
            assert_int_equal(unit[1], 4);
            assert_true(unit[2] + unit[4] >= 4);
        }
    assert_int_equal(eng_close(e), ENG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_amounts_count_as_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
