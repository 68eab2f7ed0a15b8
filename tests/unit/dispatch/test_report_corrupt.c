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

/* The key of f's last sealed touch segment, which the cache of one segment then drops
 * (segment 0 read instead), so that its next use reads the store. */
static void last_key(dx *f, char *key, size_t cap)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    eng__evorg *o = ev->orgs[0];
    assert_true(o && o->tseg.n > 2);
    eng__ev_key(key, cap, o->code, "t/s", o->tseg.v[o->tseg.n - 1].id, 0);
    const uint8_t *p;
    size_t len;
    assert_int_equal(eng__tseg_payload(ev, o, 0, &p, &len), ENG_OK);
    assert_null(o->tseg.v[o->tseg.n - 1].buf);
    eng__leave(f->e);
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
    const size_t min_rows = eng__attr_split_min_rows;
    eng__attr_split_min_rows = 16; /* a few hundred rows: two parts */
    /* Blocks on one thread; rows; blocks with two threads, the segments scanned on the
     * calling thread (the cache of one segment cannot hold them for the threads); the same
     * with the cache unbounded after the damage, the segments visited in two ranges on two
     * threads, the damage in the caller's range (the first segment) or the thread's (the last). */
    for (int way = 0; way < 5; way++)
        for (size_t k = 0; k < sizeof mutations / sizeof *mutations; k++) {
            const unsigned threads = way >= 2 ? 2 : 1;
            eng__report_table_blocks = way != 1;
            dx f;
            dx_world(&f, 150, 64, 1, 1);
            eng_message_spec m = dx_message();
            dx_approve(&f, &m);
            dx_run_all(&f, f.t0, NULL);
            dx_receipts(&f, f.t0 + ENG_HOUR, pick, NULL);
            char *want = NULL, *got = NULL;
            assert_int_equal(report_json(&f, threads, &want), ENG_OK);
            char key[48] = "e/0000/t/s/00000000";
            if (way == 4)
                last_key(&f, key, sizeof key);
            eng__wr w;
            tseg_damage(f.e, f.ts, key, mutations[k], &w);
            eng__wr_free(&w);
            if (way >= 3)
                f.e->evcache.cap = 0; /* the damaged segment read once more, then held */
            uint64_t runs[2] = {eng__report_table_runs[0], eng__report_table_runs[1]};
            const uint64_t plans = eng__attr_split_runs[2];
            int rc = report_json(&f, threads, &got);
            assert_true(eng__report_table_runs[way == 1] > runs[way == 1]); /* [0]: blocks, [1]: rows */
            assert_int_equal(eng__attr_split_runs[2] - plans, way >= 3); /* a thread for the second range */
            if (!mutations[k] || (way == 4 && mutations[k] == tseg_out_of_order)) {
                /* the last segment's statuses are only counted: their order changes no count */
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
    eng__attr_split_min_rows = min_rows;
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
