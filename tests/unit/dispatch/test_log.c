/* Log milestones (engage/engine.h, issue 16): an engine at INFO tells its
 * host when it opened, every import and upload with its counts, approvals,
 * each execution's start and finish with counts, compactions and erasures,
 * and every refused corrupt record; failures come at WARN or ERROR. Lines
 * above the configured level are never delivered, and no line carries a
 * customer's external id, contact, name or value. */
#include "dispatch_fixture.h"

#define MAXL 512

typedef struct logbuf {
    size_t n;
    int level[MAXL];
    char line[MAXL][256];
} logbuf;

static logbuf lb;

static void capture(int level, const char *message, void *user)
{
    logbuf *b = user;
    assert_true(level >= ENG_LOG_ERROR && level <= ENG_LOG_DEBUG);
    assert_true(level <= dx_log_level); /* the level filter */
    /* No personal data: the fixture's ids are c<n>, names Ann<n>, contacts +1555... and ...@example.com. */
    static const char *const pii[] = {"Ann", "+1555", "example.com", "c1,", " c1 ", "c17"};
    for (size_t i = 0; i < sizeof pii / sizeof *pii; i++)
        if (strstr(message, pii[i]))
            fail_msg("log line carries personal data (%s): %s", pii[i], message);
    if (b->n < MAXL) {
        b->level[b->n] = level;
        snprintf(b->line[b->n], sizeof b->line[b->n], "%s", message);
        b->n++;
    }
}

/* The first line at @p level that starts with @p prefix and contains @p part (NULL: any). */
static const char *find(int level, const char *prefix, const char *part)
{
    for (size_t i = 0; i < lb.n; i++)
        if (lb.level[i] == level && strncmp(lb.line[i], prefix, strlen(prefix)) == 0 &&
            (!part || strstr(lb.line[i], part)))
            return lb.line[i];
    return NULL;
}

static void expect(int level, const char *prefix, const char *part)
{
    if (!find(level, prefix, part)) {
        for (size_t i = 0; i < lb.n; i++)
            fprintf(stderr, "  [%d] %s\n", lb.level[i], lb.line[i]);
        fail_msg("no log line at level %d starting \"%s\" with \"%s\"", level, prefix, part ? part : "");
    }
}

static void milestones(void **state)
{
    (void)state;
    memset(&lb, 0, sizeof lb);
    dx_log_fn = capture;
    dx_log_user = &lb;
    dx_log_level = ENG_LOG_INFO;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    expect(ENG_LOG_INFO, "engine opened: custom store", NULL);
    expect(ENG_LOG_INFO, "customer import: org acme: 40 rows, 40 new, 0 updated, 0 bad", NULL);
    expect(ENG_LOG_INFO, "group upload: org acme: 40 rows, 40 new", NULL);
    /* A failed import: WARN, with the code, not the data. */
    static const char bad[] = "nosuch\nx\n";
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", bad, sizeof bad - 1, NULL, NULL), ENG_EINVAL);
    expect(ENG_LOG_WARN, "customer import failed", "org acme");
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    expect(ENG_LOG_INFO, "approval: org acme: message", NULL);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    /* The run let go of the engine lock around the provider calls: calls on this thread still
     * start clean (a success after a failure leaves no error behind). */
    eng_campaign *none = NULL;
    assert_int_equal(eng_campaign_get(f.e, "root", 999999, &none), ENG_ENOTFOUND);
    eng_info info = ENG_INFO_INIT;
    assert_int_equal(eng_info_get(f.e, &info), ENG_OK);
    assert_int_equal(eng_error_last()->code, ENG_OK);
    char want[160];
    snprintf(want, sizeof want, "execution started: org acme: message %llu", (unsigned long long)f.message);
    expect(ENG_LOG_INFO, want, "recipients");
    snprintf(want, sizeof want, "%llu accepted", (unsigned long long)total.accepted);
    expect(ENG_LOG_INFO, "execution finished: org acme", want);
    static const char tx[] = "customer,time,amount,id\nc3,2026-01-05T10:00:00Z,12.50,t1\n"
                             "c4,2026-01-05T11:00:00Z,3.00,t2\n";
    assert_int_equal(eng_txn_import_csv_buffer(f.e, "acme", tx, sizeof tx - 1, NULL, NULL), ENG_OK);
    expect(ENG_LOG_INFO, "transaction import: org acme: 2 rows, 2 new, 0 duplicates, 0 bad", NULL);
    assert_int_equal(eng_customers_compact(f.e, "root"), ENG_OK);
    expect(ENG_LOG_INFO, "customer compaction: org acme", NULL);
    assert_int_equal(eng_events_compact(f.e), ENG_OK);
    expect(ENG_LOG_INFO, "events compaction", NULL);
    assert_int_equal(eng_customer_erase(f.e, "root", "c17"), ENG_OK);
    expect(ENG_LOG_INFO, "erasure: org acme: 1 requested, 1 erased, 0 not found", NULL);
    /* A damaged campaign record is refused, and said so at ERROR. */
    size_t before = lb.n;
    for (size_t i = 0; i < test_store_count(f.ts); i++) {
        size_t kl;
        const uint8_t *k = test_store_key_at(f.ts, i, &kl);
        if (kl > 4 && memcmp(k, "m/c/", 4) == 0) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)kl, (const char *)k);
            uint8_t *v;
            size_t len;
            assert_int_equal(test_store_raw_get(f.ts, key, &v, &len), 0);
            v[len - 1] ^= 0x40;
            assert_int_equal(test_store_raw_put(f.ts, key, v, len), 0);
            free(v);
            break;
        }
    }
    dx_reopen(&f);
    eng_campaign *c = NULL;
    assert_int_equal(eng_campaign_get(f.e, "root", f.campaign, &c), ENG_ECORRUPT);
    assert_true(lb.n > before);
    expect(ENG_LOG_ERROR, "refused a corrupt record (m/c/", NULL);
    dx_close(&f);
    dx_log_fn = NULL;
    dx_log_user = NULL;
    dx_log_level = ENG_LOG_WARN;
}

/* At WARN, the same work delivers no INFO or DEBUG line (capture() asserts it). */
static void level_filter(void **state)
{
    (void)state;
    memset(&lb, 0, sizeof lb);
    dx_log_fn = capture;
    dx_log_user = &lb;
    dx_log_level = ENG_LOG_WARN;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    assert_null(find(ENG_LOG_INFO, "", NULL));
    static const char bad[] = "nosuch\nx\n";
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", bad, sizeof bad - 1, NULL, NULL), ENG_EINVAL);
    expect(ENG_LOG_WARN, "customer import failed", NULL);
    dx_close(&f);
    dx_log_fn = NULL;
    dx_log_user = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(milestones),
        cmocka_unit_test(level_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
