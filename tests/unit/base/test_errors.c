#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "base/error.h"
#include "test_store.h"
#include "test_util.h"

static void every_code_has_text(void **s)
{
    (void)s;
    for (int c = ENG_OK; c >= ENG_ITEROVER; c--) {
        const char *t = eng_errstr(c);
        assert_non_null(t);
        assert_string_not_equal(t, "unknown error");
    }
    assert_string_equal(eng_errstr(-1000), "unknown error");
    assert_string_equal(eng_errstr(5), "unknown error");
}

static void last_error_records_detail(void **s)
{
    (void)s;
    eng_error_clear();
    assert_int_equal(eng_error_last()->code, ENG_OK);
    assert_string_equal(eng_error_last()->message, "");
    int rc = eng__err(ENG_EVALIDATION, "message.creative[sms].body", "SMS must contain %s", "{{optout}}");
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_int_equal(eng_error_last()->code, ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "message.creative[sms].body");
    assert_string_equal(eng_error_last()->message, "SMS must contain {{optout}}");
    eng__err_wrap(ENG_EVALIDATION, "campaign 'x'");
    assert_string_equal(eng_error_last()->message, "campaign 'x': SMS must contain {{optout}}");
    eng_error_set(ENG_EUSER, "host said no");
    assert_int_equal(eng_error_last()->code, ENG_EUSER);
    assert_string_equal(eng_error_last()->message, "host said no");
    assert_string_equal(eng_error_last()->detail, "");
}

/* A call that succeeds leaves no error behind, also when it looked up a record that is
 * absent in the normal course (engage/errors.h). The global control setting of an org that
 * never set it (group count, audience resolve, customer import) and the execution of a
 * message not started (eng_execution_get: ENG_EXEC_NONE), a new org or actor, an org without
 * credits or campaigns, ... used to leave their lookup's ENG_ENOTFOUND in the record (found by
 * tests/fuzz/fuzz_api.c; the lookups that take "not found" as "absent" now say so with
 * eng__absent(), src/base/error.h). */
#define SUCCEEDS_CLEAN(call)                                                                    \
    do {                                                                                        \
        eng__err(ENG_EBUSY, "stale", "an error of an earlier call");                            \
        assert_int_equal((call), ENG_OK);                                                       \
        assert_int_equal(eng_error_last()->code, ENG_OK);                                       \
        assert_string_equal(eng_error_last()->detail, "");                                      \
    } while (0)

/* The workflow event callback calls back into the engine (allowed) and that call fails. */
static void reject_unknown(const eng_model_event *ev, void *user)
{
    assert_int_equal(eng_message_reject(user, "nobody", ev->message, "no"), ENG_EDENIED);
}

static void success_leaves_no_error(void **s)
{
    (void)s;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    static const char csv[] = "id,contact.sms,consent.sms\nc1,+15550000001,yes\nc2,+15550000002,yes\n";
    SUCCEEDS_CLEAN(eng_customers_import_csv_buffer(e, TA, csv, sizeof csv - 1, NULL, NULL));
    uint32_t g;
    const char *ids[] = {"c1", "c2"};
    SUCCEEDS_CLEAN(eng_group_create_uploaded(e, TA, "all", &g));
    SUCCEEDS_CLEAN(eng_group_upload_ids(e, TA, g, ids, 2, ENG_UPLOAD_REPLACE, NULL, NULL));
    uint64_t n = 0;
    SUCCEEDS_CLEAN(eng_group_count(e, TA, g, &n));
    assert_int_equal(n, 2);
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    const char *inc[] = {"all"};
    q.include = inc;
    q.n_include = 1;
    eng_audience *a = NULL;
    SUCCEEDS_CLEAN(eng_audience_resolve(e, TA, &q, &a));
    eng_audience_free(a);
    eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
    c.name = "C";
    c.start = eng_now(e) + ENG_DAY;
    c.end = c.start + 30 * ENG_DAY;
    uint64_t cid, mid;
    SUCCEEDS_CLEAN(eng_campaign_create(e, TA, &c, &cid, NULL));
    eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
    m.title = "M";
    SUCCEEDS_CLEAN(eng_message_create(e, TA, cid, &m, &mid, NULL));
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    SUCCEEDS_CLEAN(eng_execution_get(e, TA, mid, 0, &x));
    assert_int_equal(x.state, ENG_EXEC_NONE);
    /* a preview of the sample customer, whose attributes read as missing (no row) */
    eng_creative cr = {ENG_CH_SMS, NULL, "Hi {{city | \"friend\"}}, 20% off. {{optout}}"};
    eng_schedule sc = ENG_SCHEDULE_INIT;
    sc.kind = ENG_SCHEDULE_ONCE;
    sc.at = c.start + ENG_HOUR;
    m.include = inc;
    m.n_include = 1;
    m.creatives = &cr;
    m.n_creatives = 1;
    m.schedule = &sc;
    SUCCEEDS_CLEAN(eng_message_update(e, TA, mid, &m, NULL));
    char body[160];
    eng_preview pv = ENG_PREVIEW_INIT;
    SUCCEEDS_CLEAN(eng_message_preview(e, TA, mid, ENG_PREVIEW_SAMPLE, ENG_CH_SMS, body, sizeof body, &pv));
    assert_non_null(strstr(body, "Hi friend"));
    /* the event callback's own failing call back into the engine is not the submit's error */
    assert_int_equal(eng_model_set_event_callback(e, reject_unknown, e), ENG_OK);
    SUCCEEDS_CLEAN(eng_message_submit(e, TA, mid, NULL));
    assert_int_equal(eng_model_set_event_callback(e, NULL, NULL), ENG_OK);
    /* records looked up and found absent, as they are at first: another org and its admin,
     * an actor, the org's credits, the campaign list, an offer-less incentive check */
    SUCCEEDS_CLEAN(eng_org_create(e, "second", NULL, "second-admin", NULL));
    eng_actor_spec as = ENG_ACTOR_SPEC_INIT;
    as.id = "second-author";
    as.roles = ENG_ROLE_AUTHOR;
    SUCCEEDS_CLEAN(eng_actor_put(e, "second-admin", &as));
    int64_t bal = -1;
    SUCCEEDS_CLEAN(eng_credits_balance(e, "second-admin", ENG_CREDITS_CAMPAIGN, &bal));
    assert_int_equal(bal, 0);
    uint64_t *ids_out = NULL;
    size_t nc = 0;
    SUCCEEDS_CLEAN(eng_campaign_list(e, "second-admin", &ids_out, &nc));
    assert_int_equal(nc, 0);
    eng_free(e, ids_out);
    /* the first calls after a reopen load the org's audience state, the setting last */
    for (int call = 0; call < 3; call++) {
        assert_int_equal(eng_close(e), ENG_OK);
        e = test_engine_open(test_store_handle(ts));
        if (call == 0)
            SUCCEEDS_CLEAN(eng_group_count(e, TA, g, &n));
        else if (call == 1)
            SUCCEEDS_CLEAN(eng_audience_resolve(e, TA, &q, &a));
        else
            SUCCEEDS_CLEAN(eng_customers_import_csv_buffer(e, TA, csv, sizeof csv - 1, NULL, NULL));
        eng_audience_free(a);
        a = NULL;
    }
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
}

static void *other_thread(void *arg)
{
    (void)arg;
    eng__err(ENG_EIO, "other", "from the other thread");
    return NULL;
}

static void errors_are_per_thread(void **s)
{
    (void)s;
    eng__err(ENG_EPARSE, "1:5", "mine");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    assert_int_equal(eng_error_last()->code, ENG_EPARSE);
    assert_string_equal(eng_error_last()->message, "mine");
    assert_string_equal(eng_error_last()->detail, "1:5");
}

static void long_messages_truncate_safely(void **s)
{
    (void)s;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    eng_error_set(ENG_EUSER, big);
    assert_true(strlen(eng_error_last()->message) < 1024);
    eng__err(ENG_EINVAL, big, "%s", big);
    assert_true(strlen(eng_error_last()->detail) < 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_text),
        cmocka_unit_test(last_error_records_detail),
        cmocka_unit_test(success_leaves_no_error),
        cmocka_unit_test(errors_are_per_thread),
        cmocka_unit_test(long_messages_truncate_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
