/* eng_campaign_report() asked for parts (opts.threads >= 2) on an org that has no events
 * yet (no touch, no transaction): a fresh campaign's report. The events layer's plan for
 * such an org has no units and no readers, and running its empty range failed with an
 * internal ENG_EINVAL ("eng__txn_plan_run: bad reader, range or callback"); the report
 * must be the same empty one as on the calling thread alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

static void report_in_parts_of_an_org_without_events(void **st)
{
    (void)st;
    static const unsigned cfg_threads[] = {1, 2};
    for (size_t k = 0; k < 2; k++) {
        eng_config cfg;
        assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
        cfg.threads = cfg_threads[k];
        eng_engine *e = NULL;
        assert_int_equal(eng_open(&cfg, &e), ENG_OK);
        assert_int_equal(eng_org_create(e, "o", NULL, "adm", NULL), ENG_OK);
        eng_campaign_spec cs;
        assert_int_equal(eng_campaign_spec_init(&cs, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
        cs.name = "c";
        cs.start = eng_now(e) + 86400000;
        cs.end = cs.start + 3 * (eng_time)86400000;
        uint64_t cid = 0;
        assert_int_equal(eng_campaign_create(e, "adm", &cs, &cid, NULL), ENG_OK);
        char *want = NULL;
        for (unsigned th = 0; th <= 8; th++) {
            eng_campaign_report_options o = ENG_CAMPAIGN_REPORT_OPTIONS_INIT;
            o.threads = th;
            eng_report *r = NULL;
            int rc = eng_campaign_report(e, "adm", cid, &o, &r);
            if (rc != ENG_OK)
                fail_msg("config threads %u, report threads %u: %d %s", cfg_threads[k], th, rc,
                         eng_error_last()->message);
            char *text = NULL;
            size_t len = 0;
            assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &text, &len), ENG_OK);
            if (!want)
                want = text;
            else {
                assert_string_equal(text, want);
                eng_free(e, text);
            }
            eng_report_free(r);
        }
        assert_non_null(strstr(want, "\"sent\":0"));
        eng_free(e, want);
        assert_int_equal(eng_close(e), ENG_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_in_parts_of_an_org_without_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
