/* Several engines on one store (storage contract v3, `changes`): a change
 * another engine commits to one org's customers drops only that org's
 * customer table and groups, not every org's. Two engines in this process
 * share one test store through the change feed of tests/helpers/test_feed.h,
 * which counts the scans of each org's customer table, i.e. its reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_feed.h"
#include "test_store.h"
#include "test_util.h"

static uint64_t count(eng_engine *e, const char *actor)
{
    uint64_t n = 0;
    assert_int_equal(eng_customers_count(e, actor, &n), ENG_OK);
    return n;
}

static void import(eng_engine *e, const char *actor, const char *csv)
{
    int rc = eng_customers_import_csv_buffer(e, actor, csv, strlen(csv), NULL, NULL);
    if (rc)
        fail_msg("import: %s", eng_error_last()->message);
}

static void one_org_reloads_alone(void **state)
{
    (void)state;
    test_store *ts = test_store_new();
    test_feed f;
    test_feed_init(&f);
    test_feed_watch(&f, "a/o/oa/t/");
    test_feed_watch(&f, "a/o/ob/t/");
    eng_engine *a = test_feed_engine(ts, &f, 1), *b = test_feed_engine(ts, &f, 2);
    assert_int_equal(eng_org_create(a, "oa", NULL, "oa-admin", NULL), ENG_OK);
    assert_int_equal(eng_org_create(a, "ob", NULL, "ob-admin", NULL), ENG_OK);
    import(a, "oa-admin", "id,contact.sms,consent.sms\nA1,+15550000001,yes\nA2,+15550000002,yes\n");
    import(a, "ob-admin", "id,contact.sms,consent.sms\nB1,+15550000011,yes\n");
    /* B loads both orgs' customer tables */
    assert_int_equal(count(b, "oa-admin"), 2);
    assert_int_equal(count(b, "ob-admin"), 1);
    unsigned sa = test_feed_scans(&f, "a/o/oa/t/"), sb = test_feed_scans(&f, "a/o/ob/t/");
    assert_true(sa >= 1 && sb >= 1);
    assert_int_equal(count(b, "oa-admin"), 2); /* cached: no reload */
    assert_int_equal(count(b, "ob-admin"), 1);
    assert_int_equal(test_feed_scans(&f, "a/o/oa/t/"), sa);
    assert_int_equal(test_feed_scans(&f, "a/o/ob/t/"), sb);

    /* A changes org oa's customers: B sees it (coherence) and reloads oa's table, not ob's */
    import(a, "oa-admin", "id,contact.sms,consent.sms\nA3,+15550000003,yes\n");
    assert_int_equal(count(b, "ob-admin"), 1);
    assert_int_equal(test_feed_scans(&f, "a/o/ob/t/"), sb); /* org ob's state was kept */
    assert_int_equal(count(b, "oa-admin"), 3);
    assert_int_equal(test_feed_scans(&f, "a/o/oa/t/"), sa + 1); /* org oa's was reloaded, once */
    sa = test_feed_scans(&f, "a/o/oa/t/");

    /* and B may write to org ob at once: A's change to oa left nothing of ob stale */
    import(b, "ob-admin", "id,contact.sms,consent.sms\nB2,+15550000012,yes\n");
    assert_int_equal(count(a, "ob-admin"), 2);
    assert_int_equal(count(b, "ob-admin"), 2);
    assert_int_equal(count(b, "oa-admin"), 3);
    assert_int_equal(test_feed_scans(&f, "a/o/oa/t/"), sa); /* B's own write to ob did not reload oa */

    /* a key outside the orgs' prefixes ("a/i/": group owners) drops every org's state */
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(a, "oa-admin", "vip", &g), ENG_OK);
    sb = test_feed_scans(&f, "a/o/ob/t/");
    assert_int_equal(count(b, "ob-admin"), 2);
    assert_int_equal(test_feed_scans(&f, "a/o/ob/t/"), sb + 1);

    assert_int_equal(eng_close(a), ENG_OK);
    assert_int_equal(eng_close(b), ENG_OK);
    test_feed_free(&f);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_org_reloads_alone),
    };
    return cmocka_run_group_tests_name("audience: several engines, invalidation per org", tests, NULL, NULL);
}
