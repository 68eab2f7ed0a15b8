/* Storage calls of one approval (issue 8): the call reads its context (actor,
 * org, message, campaign) once and appends its audit entries without reading
 * the audit head again. The figures are printed for the record
 * (TEST_STORE_TRACE=1 lists every call with its key); the asserts are the
 * counts the code is meant to make, so a change that adds a read shows here. */
#include <stdlib.h>

#include "model_fixture.h"

typedef struct calls {
    uint64_t get, put, del, scan, batch;
} calls;

static calls count(const test_store *ts)
{
    return (calls){test_store_calls(ts, TV_GET), test_store_calls(ts, TV_PUT), test_store_calls(ts, TV_DEL),
                   test_store_calls(ts, TV_SCAN), test_store_calls(ts, TV_BEGIN | TV_COMMIT | TV_ROLLBACK)};
}

static calls since(const test_store *ts, calls b)
{
    calls a = count(ts);
    return (calls){a.get - b.get, a.put - b.put, a.del - b.del, a.scan - b.scan, a.batch - b.batch};
}

static void print(const char *what, calls c)
{
    fprintf(stderr, "%s: %llu gets, %llu puts, %llu dels, %llu scans, %llu batch calls\n", what,
            (unsigned long long)c.get, (unsigned long long)c.put, (unsigned long long)c.del,
            (unsigned long long)c.scan, (unsigned long long)c.batch);
}

/* A submitted message of a fresh campaign; with @p group its audience is an
 * uploaded group of 200 customers, so the approval freezes it. */
static uint64_t submitted(fx *f, const char *name, int group)
{
    eng_campaign_spec c = fx_campaign(name);
    uint64_t cid, mid;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    if (group) {
        char csv[8192], *p = csv;
        p += sprintf(p, "id,contact.sms,consent.sms\n");
        for (int i = 0; i < 200; i++)
            p += sprintf(p, "k%d,+9198%08d,yes\n", i, i);
        assert_int_equal(eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
        uint32_t g;
        assert_int_equal(eng_group_create_uploaded(f->e, "root", "loyal-2025", &g), ENG_OK);
        p = csv + sprintf(csv, "id\n");
        for (int i = 0; i < 200; i++)
            p += sprintf(p, "k%d\n", i);
        assert_int_equal(eng_group_upload_csv(f->e, "root", g, csv, (size_t)(p - csv), ENG_UPLOAD_REPLACE, NULL, NULL),
                         ENG_OK);
    }
    assert_int_equal(eng_message_create(f->e, "ann", cid, &m, &mid, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f->e, "ann", mid, NULL), ENG_OK);
    return mid;
}

static calls approve(fx *f, uint64_t mid, const char *what)
{
    int trace = getenv("TEST_STORE_TRACE") != NULL;
    test_store_trace(f->ts, trace);
    calls b = count(f->ts);
    assert_int_equal(eng_message_approve(f->e, "bob", mid, NULL, "ok"), ENG_OK);
    calls c = since(f->ts, b);
    test_store_trace(f->ts, 0);
    print(what, c);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f->e, "root", &bad), ENG_OK);
    return c;
}

static void approval_calls(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    /* The host keeps the audiences (no groups in the engine): the model alone. */
    uint64_t mid = submitted(&f, "Counted", 0);
    calls a = approve(&f, mid, "approve (model only)");
    /* 4 context reads (actor, org, message, campaign), the group mark (does the
     * engine keep groups?) and the audit head once for both entries (message,
     * campaign goal lock): before issue 8, 8 gets (the head and the mark twice). */
    assert_int_equal(a.get, 6);
    assert_int_equal(a.put, 6); /* message, campaign, 2 audit entries, head twice */
    assert_int_equal(a.scan, 0);
    /* The first approval also locks the campaign's goal: a second message of
     * the same campaign does not write the campaign again. */
    calls b;
    {
        eng_message_spec m = fx_message();
        uint64_t cid, mid2;
        eng_message *h;
        assert_int_equal(eng_message_get(f.e, "root", mid, &h), ENG_OK);
        eng_message_status s = ENG_MESSAGE_STATUS_INIT;
        assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
        cid = s.campaign;
        eng_message_free(h);
        assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid2, NULL), ENG_OK);
        assert_int_equal(eng_message_submit(f.e, "ann", mid2, NULL), ENG_OK);
        b = approve(&f, mid2, "approve (goal already locked)");
        assert_int_equal(b.get, 6); /* before: 7 */
        assert_int_equal(b.put, 3);
    }
    fx_close(&f);
}

static void approval_calls_frozen(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t mid = submitted(&f, "Frozen", 1);
    calls a = approve(&f, mid, "approve (audience frozen)");
    /* 4 context reads, the frozen audience's key (never overwritten), the
     * audit head once (the audience layer's state is in memory): before, 7. */
    assert_int_equal(a.get, 6);
    assert_int_equal(a.put, 7);
    assert_int_equal(a.scan, 0);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(approval_calls),
        cmocka_unit_test(approval_calls_frozen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
