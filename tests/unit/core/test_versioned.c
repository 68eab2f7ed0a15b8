/* Versioned structs: every eng_x_init() and every reader that fills a caller's struct
 * writes only the bytes of the caller's version (a program built against an older
 * header has a shorter struct), keeps the version, and judges the engine handle
 * before the out-parameter. Where older versions end is written here from the
 * headers' "version 2" markers, independently of the library's own tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engage.h"

#define UPTO(T, last) (offsetof(T, last) + sizeof(((T *)0)->last))
#define GUARD 64
#define FILL 0x5a

/* Where version @p v of @p type ends, for versions older than the current one. */
static size_t older_end(const char *type, unsigned v)
{
    static const struct {
        const char *type;
        unsigned v;
        size_t end;
    } ends[] = {
        {"eng_envelope", 1, UPTO(eng_envelope, body_len)},
        {"eng_touch_columns", 1, UPTO(eng_touch_columns, time)},
        {"eng_transport_methods", 1, UPTO(eng_transport_methods, destroy)},
        {"eng_run_options", 1, UPTO(eng_run_options, max_batches)},
        {"eng_dry_report", 1, UPTO(eng_dry_report, skipped)},
        {"eng_trace", 1, UPTO(eng_trace, state)},
        {"eng_dispatch_hooks", 1, UPTO(eng_dispatch_hooks, ad_export)},
        {"eng_dispatch_hooks", 2, UPTO(eng_dispatch_hooks, rate_limit)},
        {"eng_execution_info", 1, UPTO(eng_execution_info, reason)},
        {"eng_xengage_options", 1, UPTO(eng_xengage_options, credit_cap)},
        {"eng_preview", 1, UPTO(eng_preview, sender)},
        {"eng_store_methods", 1, UPTO(eng_store_methods, destroy)},
        {"eng_store_methods", 2, UPTO(eng_store_methods, erased)},
        {"eng_info", 1, UPTO(eng_info, store_kind)},
        {"eng_info", 2, UPTO(eng_info, store_compactions)},
        {"eng_message_spec", 1, UPTO(eng_message_spec, delivery)},
        {"eng_config", 1, UPTO(eng_config, progress_user)},
        {"eng_config", 2, UPTO(eng_config, threads)},
        {"eng_campaign_report_options", 1, UPTO(eng_campaign_report_options, credits_per_unit)},
        {"eng_rule_batch", 1, UPTO(eng_rule_batch, ncolumns)},
        {"eng_import_options", 1, UPTO(eng_import_options, error_user)},
        {"eng_campaign_spec", 1, UPTO(eng_campaign_spec, goal)},
        {"eng_audience_query", 1, UPTO(eng_audience_query, campaign)},
        {"eng_receipts", 1, UPTO(eng_receipts, unmatched_user)},
    };
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (!strcmp(ends[i].type, type) && ends[i].v == v)
            return ends[i].end;
    return 0;
}

typedef int (*init_fn)(void *x, unsigned int version);

typedef struct {
    const char *type;
    init_fn init;
    size_t size;
    unsigned current;
} entry;

/* Every public eng_x_init(eng_x *, unsigned int version) of the headers. */
#define X(T, V) {#T, (init_fn)T##_init, sizeof(T), V},
static const entry all[] = {
    X(eng_event_report, ENG_EVENT_REPORT_VERSION)
    X(eng_receipts, ENG_RECEIPTS_VERSION)
    X(eng_touch_row, ENG_TOUCH_ROW_VERSION)
    X(eng_txn_batch, ENG_TXN_BATCH_VERSION)
    X(eng_txn_row, ENG_TXN_ROW_VERSION)
    X(eng_actor_spec, ENG_ACTOR_SPEC_VERSION)
    X(eng_audit_entry, ENG_AUDIT_ENTRY_VERSION)
    X(eng_offer_spec, ENG_OFFER_SPEC_VERSION)
    X(eng_allocator, ENG_ALLOCATOR_VERSION)
    X(eng_envelope, ENG_ENVELOPE_VERSION)
    X(eng_transport_methods, ENG_TRANSPORT_METHODS_VERSION)
    X(eng_touch_columns, ENG_TOUCH_COLUMNS_VERSION)
    X(eng_txn_columns, ENG_TXN_COLUMNS_VERSION)
    X(eng_measure_spec, ENG_MEASURE_SPEC_VERSION)
    X(eng_report_figures, ENG_REPORT_FIGURES_VERSION)
    X(eng_campaign_report_options, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION)
    X(eng_ope_estimate, ENG_OPE_ESTIMATE_VERSION)
    X(eng_org_figures, ENG_ORG_FIGURES_VERSION)
    X(eng_campaign_spec, ENG_CAMPAIGN_SPEC_VERSION)
    X(eng_goal_spec, ENG_GOAL_SPEC_VERSION)
    X(eng_campaign_status, ENG_CAMPAIGN_STATUS_VERSION)
    X(eng_org_settings, ENG_ORG_SETTINGS_VERSION)
    X(eng_erase_report, ENG_ERASE_REPORT_VERSION)
    X(eng_run_options, ENG_RUN_OPTIONS_VERSION)
    X(eng_run_report, ENG_RUN_REPORT_VERSION)
    X(eng_execution_info, ENG_EXECUTION_INFO_VERSION)
    X(eng_send_info, ENG_SEND_INFO_VERSION)
    X(eng_unsubscribe_info, ENG_UNSUBSCRIBE_INFO_VERSION)
    X(eng_dry_report, ENG_DRY_REPORT_VERSION)
    X(eng_preview, ENG_PREVIEW_VERSION)
    X(eng_trace, ENG_TRACE_VERSION)
    X(eng_ad_manifest, ENG_AD_MANIFEST_VERSION)
    X(eng_tiny_url_request, ENG_TINY_URL_REQUEST_VERSION)
    X(eng_dispatch_hooks, ENG_DISPATCH_HOOKS_VERSION)
    X(eng_points_award, ENG_POINTS_AWARD_VERSION)
    X(eng_store_methods, ENG_STORE_METHODS_VERSION)
    X(eng_file_compaction, ENG_FILE_COMPACTION_VERSION)
    X(eng_model_event, ENG_MODEL_EVENT_VERSION)
    X(eng_rule_options, ENG_RULE_OPTIONS_VERSION)
    X(eng_rule_batch, ENG_RULE_BATCH_VERSION)
    X(eng_message_spec, ENG_MESSAGE_SPEC_VERSION)
    X(eng_incentive, ENG_INCENTIVE_VERSION)
    X(eng_schedule, ENG_SCHEDULE_VERSION)
    X(eng_delivery, ENG_DELIVERY_VERSION)
    X(eng_xengage_options, ENG_XENGAGE_OPTIONS_VERSION)
    X(eng_message_status, ENG_MESSAGE_STATUS_VERSION)
    X(eng_config, ENG_CONFIG_VERSION)
    X(eng_info, ENG_INFO_VERSION)
    X(eng_coupon_pool_info, ENG_COUPON_POOL_INFO_VERSION)
    X(eng_coupon_assignment, ENG_COUPON_ASSIGNMENT_VERSION)
    X(eng_import_options, ENG_IMPORT_OPTIONS_VERSION)
    X(eng_import_report, ENG_IMPORT_REPORT_VERSION)
    X(eng_consent_change, ENG_CONSENT_CHANGE_VERSION)
    X(eng_global_control, ENG_GLOBAL_CONTROL_VERSION)
    X(eng_audience_query, ENG_AUDIENCE_QUERY_VERSION)
};
#undef X

static int untouched(const unsigned char *b, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (b[i] != FILL)
            return 0;
    return 1;
}

static void test_every_init_writes_only_its_version(void **state)
{
    (void)state;
    unsigned char buf[4096 + GUARD];
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const entry *t = &all[i];
        assert_true(t->size + GUARD <= sizeof buf);
        assert_int_equal(t->init(NULL, 1), ENG_EINVAL);
        memset(buf, FILL, sizeof buf);
        assert_int_equal(t->init(buf, 0), ENG_EVERSION);
        assert_int_equal(t->init(buf, t->current + 1), ENG_EVERSION);
        assert_true(untouched(buf, 0, sizeof buf)); /* refused: nothing written */
        for (unsigned v = 1; v <= t->current; v++) {
            size_t end = v == t->current ? t->size : older_end(t->type, v);
            if (!end)
                fail_msg("%s has version %u: add where version %u ends to older_end()", t->type, t->current, v);
            memset(buf, FILL, sizeof buf);
            assert_int_equal(t->init(buf, v), ENG_OK);
            unsigned got;
            memcpy(&got, buf, sizeof got);
            assert_int_equal(got, v);
            if (!untouched(buf, end, sizeof buf))
                fail_msg("%s_init(x, %u) wrote past the %zu bytes of version %u", t->type, v, end, v);
        }
    }
}

/* A reader given a version-1 struct: bytes past version 1 untouched, version kept. */
static void test_info_reader_honours_v1(void **state)
{
    (void)state;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(NULL, &e), ENG_OK);
    unsigned char buf[sizeof(eng_info) + GUARD];
    size_t end = older_end("eng_info", 1);
    memset(buf, FILL, sizeof buf);
    unsigned one = 1;
    memcpy(buf, &one, sizeof one);
    assert_int_equal(eng_info_get(e, (eng_info *)(void *)buf), ENG_OK);
    assert_true(untouched(buf, end, sizeof buf));
    eng_info full;
    memcpy(&full, buf, end);
    assert_int_equal(full.version, 1);
    assert_string_equal(full.store_kind, "memory");
    memset(buf, FILL, sizeof buf);
    unsigned bad = ENG_INFO_VERSION + 1;
    memcpy(buf, &bad, sizeof bad);
    assert_int_equal(eng_info_get(e, (eng_info *)(void *)buf), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "info.version");
    assert_true(untouched(buf, sizeof bad, sizeof buf));
    eng_close(e);
}

/* The engine is judged first: a NULL engine is misuse whatever the out-parameter is, and a
 * valid out-parameter is still cleared (version kept) on that failure. */
static void test_engine_judged_before_out(void **state)
{
    (void)state;
    assert_int_equal(eng_info_get(NULL, NULL), ENG_EMISUSE);
    assert_int_equal(eng_execution_get(NULL, "a", 1, 0, NULL), ENG_EMISUSE);
    assert_int_equal(eng_send_get(NULL, "a", 1, 0, 0, 0, NULL), ENG_EMISUSE);
    assert_int_equal(eng_trace_get(NULL, "a", 1, 0, 0, NULL), ENG_EMISUSE);
    assert_int_equal(eng_dry_run(NULL, "a", 1, NULL), ENG_EMISUSE);
    assert_int_equal(eng_message_preview(NULL, "a", 1, 0, 0, NULL, 0, NULL), ENG_EMISUSE);
    assert_int_equal(eng_unsubscribe_apply(NULL, "org", "t", NULL), ENG_EMISUSE);
    assert_int_equal(eng_run_due(NULL, "a", 0, NULL, NULL), ENG_EMISUSE);

    unsigned char buf[sizeof(eng_trace) + GUARD];
    size_t end = older_end("eng_trace", 1);
    memset(buf, FILL, sizeof buf);
    unsigned one = 1;
    memcpy(buf, &one, sizeof one);
    assert_int_equal(eng_trace_get(NULL, "a", 1, 0, 0, (eng_trace *)(void *)buf), ENG_EMISUSE);
    unsigned got;
    memcpy(&got, buf, sizeof got);
    assert_int_equal(got, 1);
    for (size_t i = sizeof got; i < end; i++)
        assert_int_equal(buf[i], 0);
    assert_true(untouched(buf, end, sizeof buf));

    eng_execution_info xi;
    memset(&xi, FILL, sizeof xi);
    xi.version = ENG_EXECUTION_INFO_VERSION;
    assert_int_equal(eng_execution_get(NULL, "a", 1, 0, &xi), ENG_EMISUSE);
    assert_int_equal(xi.version, ENG_EXECUTION_INFO_VERSION);
    assert_int_equal(xi.sends, 0);

    /* A live engine with a NULL out: the out-parameter's own error. */
    eng_engine *e = NULL;
    assert_int_equal(eng_open(NULL, &e), ENG_OK);
    assert_int_equal(eng_execution_get(e, "a", 1, 0, NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "out");
    assert_int_equal(eng_info_get(e, NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "info");
    eng_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_init_writes_only_its_version),
        cmocka_unit_test(test_info_reader_honours_v1),
        cmocka_unit_test(test_engine_judged_before_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
