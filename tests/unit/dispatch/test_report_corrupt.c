/* The campaign report over a damaged ordered segment: whichever reader takes
 * it — a block at a time (on one thread or two) or as rows (the blocks switched
 * off) — the report fails with ENG_ECORRUPT naming the segment, and an
 * undamaged copy framed the same way gives the report of the store before. The
 * damage (tseg_damage.h)
 * is in the first segment, the `sent` rows of a blast: the table moved, a flag
 * cleared, two customers swapped. */
#include "dispatch_fixture.h"
#include "measure/measure_impl.h" /* eng__report_table_runs: which reader ran */
#include "tseg_damage.h"

extern uint8_t eng__tseg_ordered;

static int pick(uint32_t customer, int channel, void *user)
{
    (void)user;
    return (customer + (uint32_t)channel) % 3 == 0 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
}

/* The report's JSON with @p threads parts, or its error. */
static int report_json(dx *f, unsigned threads, char **json)
{
    eng_campaign_report_options o;
    assert_int_equal(eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION), ENG_OK);
    o.threads = threads;
    eng_report *r = NULL;
    *json = NULL;
    int rc = eng_campaign_report(f->e, "root", f->campaign, &o, &r);
    if (rc)
        return rc;
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &s, &len), ENG_OK);
    *json = malloc(len + 1);
    assert_non_null(*json);
    memcpy(*json, s, len);
    (*json)[len] = 0;
    eng_free(f->e, s);
    eng_report_free(r);
    return ENG_OK;
}

static void damaged_segment(void **state)
{
    (void)state;
    const uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 100;
    eng__tseg_ordered = 1;
    dx_threads = 2;
    dx_events_segments = 1; /* segment 0 read again from the store at its next use, not at a reopen */
    void (*const mutations[])(eng__tcols *) = {NULL, tseg_split_moved, tseg_unflagged, tseg_out_of_order};
    const char *key = "e/0000/t/s/00000000";
    for (int way = 0; way < 3; way++) /* blocks on one thread; rows; blocks with two threads */
        for (size_t k = 0; k < sizeof mutations / sizeof *mutations; k++) {
            const unsigned threads = way == 2 ? 2 : 1;
            eng__report_table_blocks = way != 1;
            dx f;
            dx_world(&f, 150, 64, 1, 1);
            eng_message_spec m = dx_message();
            dx_approve(&f, &m);
            dx_run_all(&f, f.t0, NULL);
            dx_receipts(&f, f.t0 + ENG_HOUR, pick, NULL);
            char *want = NULL, *got = NULL;
            assert_int_equal(report_json(&f, threads, &want), ENG_OK);
            eng__wr w;
            tseg_damage(f.e, f.ts, key, mutations[k], &w);
            eng__wr_free(&w);
            uint64_t runs[2] = {eng__report_table_runs[0], eng__report_table_runs[1]};
            int rc = report_json(&f, threads, &got);
            assert_true(eng__report_table_runs[way == 1] > runs[way == 1]); /* [0]: blocks, [1]: rows */
            if (!mutations[k]) {
                assert_int_equal(rc, ENG_OK);
                assert_string_equal(got, want);
            } else {
                assert_int_equal(rc, ENG_ECORRUPT);
                assert_non_null(strstr(eng_error_last()->detail, key));
                assert_null(strstr(eng_error_last()->message, "loading")); /* the report's reader found it */
            }
            free(want), free(got);
            dx_close(&f);
        }
    eng__report_table_blocks = 1;
    dx_events_segments = 0;
    dx_threads = 1;
    eng__tseg_ordered = 0;
    eng__seg_seal_rows = seal;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damaged_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
