/* Consent history (issue 16, docs/privacy.md): every consent or opt-out change
 * per customer and channel — by a CSV import, an upsert (API), an unsubscribe
 * receipt and a complaint receipt — comes back from eng_consent_history()
 * oldest first with its time, source and actor; a value imported again is not
 * a change; the history survives a compaction and a reopen; an erasure takes
 * the customer's history out of storage (byte search for the varint of a time
 * only that customer had) and leaves the others'. The expected list is written
 * here from the test's own steps. */
#include "../events/ev_fixture.h"
#include "engage/privacy.h"

#define T0 1767225600000   /* 2026-01-01T00:00:00Z: the clock at the first import */
#define T_PAT 1767323045000 /* 2026-01-02T03:04:05Z: Pat's consent time, nobody else's */
#define T_OPT 1769904000000 /* 2026-02-01 */
#define H 3600000

typedef struct want {
    int channel, kind, given;
    eng_time time, recorded;
    int source;
    const char *actor;
} want;

static void check(eng_engine *e, uint32_t id, const want *w, size_t n)
{
    eng_consent_iter *it = (eng_consent_iter *)1;
    assert_int_equal(eng_consent_history(e, "admin", id, &it), ENG_OK);
    eng_consent_change c = ENG_CONSENT_CHANGE_INIT;
    size_t k = 0;
    int rc;
    while ((rc = eng_consent_next(it, &c)) == ENG_OK) {
        assert_true(k < n);
        if (c.channel != w[k].channel || c.kind != w[k].kind || c.given != w[k].given || c.time != w[k].time ||
            c.recorded != w[k].recorded || c.source != w[k].source || strcmp(c.actor, w[k].actor))
            fprintf(stderr, "customer %u change %zu: got ch %d kind %d given %d time %lld recorded %lld src %d %s\n", id,
                    k, c.channel, c.kind, c.given, (long long)c.time, (long long)c.recorded, c.source, c.actor);
        assert_int_equal(c.channel, w[k].channel);
        assert_int_equal(c.kind, w[k].kind);
        assert_int_equal(c.given, w[k].given);
        assert_int_equal(c.time, w[k].time);
        assert_int_equal(c.recorded, w[k].recorded);
        assert_int_equal(c.source, w[k].source);
        assert_string_equal(c.actor, w[k].actor);
        k++;
    }
    assert_int_equal(rc, ENG_ITEROVER);
    assert_int_equal(k, n);
    eng_consent_iter_free(it);
}

static size_t varint_of(int64_t v, uint8_t *out)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    for (; u >= 0x80; u >>= 7)
        out[n++] = (uint8_t)(u | 0x80);
    out[n++] = (uint8_t)u;
    return n;
}

static void history(void **state)
{
    (void)state;
    test_clock_now = T0;
    evfx f;
    evfx_open(&f, 0);
    eng_engine *e = f.e;
    eng_actor_spec ann = ENG_ACTOR_SPEC_INIT;
    ann.id = "ann";
    ann.roles = ENG_ROLE_ADMIN;
    assert_int_equal(eng_actor_put(e, "admin", &ann), ENG_OK);

    /* 1. CSV import by admin at T0: Pat consents to email at T_PAT, sms "yes" (at T0). */
    static const char csv[] = "id,contact.email,contact.sms,consent.email,consent.sms,optout.email\n"
                              "cust-PAT-77,pat@example.org,+4915112345678,2026-01-02T03:04:05Z,true,\n"
                              "c1,c1@example.com,+4917000000001,true,true,\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    /* 2. The same values again an hour later: Pat's email consent (a time given) is
     * no change; a bare "yes" takes the import's time, so it is consent given again. */
    test_clock_now = T0 + H;
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    /* 3. ann withdraws Pat's sms consent and opts Pat out of email, through the API. */
    test_clock_now = T0 + 2 * H;
    const char *names[] = {"id", "consent.sms", "optout.email"};
    const char *vals[] = {"cust-PAT-77", "false", "2026-02-01"};
    assert_int_equal(eng_customers_upsert(e, "ann", names, 3, vals, 1, NULL, NULL), ENG_OK);
    /* A column that is not about consent changes nothing in the history. */
    const char *n2[] = {"id", "contact.email"};
    const char *v2[] = {"cust-PAT-77", "pat2@example.org"};
    assert_int_equal(eng_customers_upsert(e, "ann", n2, 2, v2, 1, NULL, NULL), ENG_OK);

    /* 4. Receipts: Pat unsubscribes from sms, c1 complains about email. */
    test_clock_now = T0 + 3 * H;
    evfx_send(&f, "acme", 7, 0, 2, ENG_CH_SMS, T0 + 3 * H);
    evfx_send(&f, "acme", 8, 0, 2, ENG_CH_EMAIL, T0 + 3 * H);
    assert_int_equal(evfx_receipt(&f, 7, 0, ENG_CH_SMS, ENG_TOUCH_UNSUBSCRIBED, T0 + 4 * H, NULL, NULL), ENG_OK);
    assert_int_equal(evfx_receipt(&f, 8, 1, ENG_CH_EMAIL, ENG_TOUCH_COMPLAINED, T0 + 5 * H, NULL, NULL), ENG_OK);

    const want pat[] = {
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T_PAT, T0, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, T0, T0, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, T0 + H, T0 + H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 0, T0 + 2 * H, T0 + 2 * H, ENG_CONSENT_SOURCE_API, "ann"},
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_OPTOUT, 1, T_OPT, T0 + 2 * H, ENG_CONSENT_SOURCE_API, "ann"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_OPTOUT, 1, T0 + 4 * H, T0 + 3 * H, ENG_CONSENT_SOURCE_UNSUBSCRIBE, ""},
    };
    const want c1[] = {
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T0, T0, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, T0, T0, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T0 + H, T0 + H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, T0 + H, T0 + H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_OPTOUT, 1, T0 + 5 * H, T0 + 3 * H, ENG_CONSENT_SOURCE_COMPLAINT, ""},
    };
    check(e, 0, pat, 6);
    check(e, 1, c1, 5);

    /* Compaction keeps it (the archive), and so does a reopen; later changes follow. */
    assert_int_equal(eng_customers_compact(e, "admin"), ENG_OK);
    check(e, 0, pat, 6);
    test_clock_now = T0 + 6 * H;
    const char *v3[] = {"cust-PAT-77", "2026-03-01", ""};
    assert_int_equal(eng_customers_upsert(e, "admin", names, 3, v3, 1, NULL, NULL), ENG_OK);
    want pat2[8];
    memcpy(pat2, pat, sizeof pat);
    pat2[6] = (want){ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, 1772323200000 /* 2026-03-01 */, T0 + 6 * H,
                     ENG_CONSENT_SOURCE_API, "admin"};
    pat2[7] = (want){ENG_CH_EMAIL, ENG_CONSENT_KIND_OPTOUT, 0, T0 + 6 * H, T0 + 6 * H, ENG_CONSENT_SOURCE_API, "admin"};
    check(e, 0, pat2, 8);
    evfx_reopen(&f);
    e = f.e;
    check(e, 0, pat2, 8);
    check(e, 1, c1, 5);
    assert_int_equal(eng_customers_compact(e, "admin"), ENG_OK); /* an archive rewritten from an archive */
    check(e, 0, pat2, 8);

    /* Refusals. */
    eng_consent_iter *it = (eng_consent_iter *)1;
    assert_int_equal(eng_consent_history(e, "nobody", 0, &it), ENG_EDENIED);
    assert_null(it);
    assert_int_equal(eng_consent_history(e, "admin", 99, &it), ENG_ENOTFOUND);
    assert_int_equal(eng_consent_history(e, "admin", 0, NULL), ENG_EINVAL);
    eng_consent_change c = ENG_CONSENT_CHANGE_INIT;
    assert_int_equal(eng_consent_next(NULL, &c), ENG_EMISUSE);
    assert_int_equal(eng_consent_history(e, "admin", 0, &it), ENG_OK);
    c.version = 99;
    assert_int_equal(eng_consent_next(it, &c), ENG_EVERSION);
    assert_int_equal(eng_consent_next(it, NULL), ENG_EINVAL);
    eng_consent_iter_free(it);
    eng_consent_iter_free(NULL);
    assert_int_equal(eng_consent_change_init(&c, ENG_CONSENT_CHANGE_VERSION), ENG_OK);
    assert_int_equal(eng_consent_change_init(&c, 7), ENG_EVERSION);

    /* Erasure: Pat's history leaves storage (T_PAT was only ever Pat's); c1's stays. */
    uint8_t vb[10];
    size_t vn = varint_of(T_PAT, vb);
    assert_int_equal(test_store_grep(f.ts, vb, vn), 1);
    assert_int_equal(eng_customer_erase(e, "admin", "cust-PAT-77"), ENG_OK);
    assert_int_equal(test_store_grep(f.ts, vb, vn), 0);
    assert_int_equal(eng_consent_history(e, "admin", 0, &it), ENG_ENOTFOUND);
    check(e, 1, c1, 5);
    evfx_reopen(&f);
    e = f.e;
    check(e, 1, c1, 5);
    /* Imported again, Pat is a new customer with a history of its own. */
    test_clock_now = T0 + 7 * H;
    size_t pat_only = (size_t)(strchr(strchr(csv, '\n') + 1, '\n') - csv) + 1; /* header and Pat's row */
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, pat_only, NULL, NULL), ENG_OK);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, "admin", "cust-PAT-77", &id), ENG_OK);
    const want again[] = {
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T_PAT, T0 + 7 * H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_SMS, ENG_CONSENT_KIND_CONSENT, 1, T0 + 7 * H, T0 + 7 * H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
    };
    check(e, id, again, 2);
    evfx_close(&f);
}

extern size_t eng__chist_part_changes;

static int archive_bytes_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)key;
    (void)klen;
    (void)val;
    *(size_t *)user += vlen;
    return 0;
}

/* Bytes of acme's consent-history archive (P c/<part>). */
static size_t archive_bytes(eng_engine *e)
{
    size_t n = 0;
    assert_int_equal(eng__kv_scan(e->store, "a/o/acme/c/", 11, archive_bytes_cb, &n), ENG_OK);
    return n;
}

/* An archive in many parts (a few changes each) rewritten again and again
 * without a change in between stays the same size and keeps every change:
 * each part names only the origins of its own changes (written whole in
 * every part, the origins were read back once per part and so multiplied by
 * the parts at every rewrite). */
static void archive_rewrites_stay_small(void **state)
{
    (void)state;
    eng__chist_part_changes = 3;
    test_clock_now = T0;
    evfx f;
    evfx_open(&f, 0);
    eng_engine *e = f.e;
    char csv[2048];
    for (int round = 0; round < 3; round++) { /* three imports: three origins */
        int len = snprintf(csv, sizeof csv, "id,contact.email,consent.email\n");
        for (int i = 0; i < 12; i++)
            len += snprintf(csv + len, sizeof csv - (size_t)len, "c%d,c%d@example.com,%s\n", i, i,
                            (i + round) % 2 ? "true" : "false");
        test_clock_now = T0 + round * H;
        assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, (size_t)len, NULL, NULL), ENG_OK);
    }
    /* c1: consent given at T0 (round 0: 1 odd), withdrawn at T0 + H, given again at T0 + 2H */
    const want c1[] = {
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T0, T0, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 0, T0 + H, T0 + H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
        {ENG_CH_EMAIL, ENG_CONSENT_KIND_CONSENT, 1, T0 + 2 * H, T0 + 2 * H, ENG_CONSENT_SOURCE_IMPORT, "admin"},
    };
    check(e, 1, c1, 3);
    assert_int_equal(eng_customers_compact(e, "admin"), ENG_OK);
    size_t first = archive_bytes(e);
    assert_true(first > 0);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(eng_customers_compact(e, "admin"), ENG_OK);
        assert_int_equal(archive_bytes(e), first);
        check(e, 1, c1, 3);
    }
    evfx_reopen(&f);
    check(f.e, 1, c1, 3);
    evfx_close(&f);
    eng__chist_part_changes = 65536;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history),
        cmocka_unit_test(archive_rewrites_stay_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
