/* Erasure keeps the books (issue 19, "What must be shown"): a campaign with a
 * blast and an X-Engage message executed by the engine, receipts and
 * transactions; then a third of the customers — contacted ones, responders,
 * control members, unsubscribers — are erased. Read through the public report
 * calls, before and after (and after a reopen), every figure is the same:
 * eng_campaign_report's total, per channel and per message, its JSON and CSV
 * exports byte for byte, the off-policy estimates, eng_touch_status_counts;
 * the frozen audiences load (their SHA-256 verifies) with the same hash and
 * the audit chain verifies. The report texts hold no erased customer's
 * address or phone, and the store holds none either. */
#include "../dispatch/dispatch_fixture.h"
#include "engage/privacy.h"
#include <time.h>

#define N 240

static int pick(uint32_t customer, int channel, void *user)
{
    size_t k = dx_ext(user, customer);
    if (k % 11 == 0)
        return ENG_TOUCH_UNSUBSCRIBED;
    if (k % 3 == 0)
        return channel == ENG_CH_EMAIL ? ENG_TOUCH_OPENED : ENG_TOUCH_CLICKED;
    return ENG_TOUCH_DELIVERED;
}

/* Files (or the test store) holding @p s: 0 or 1 for the test store. */
/* How many places hold @p s; a phone number also in the form an import stores it. */
static int stored(dx *f, const char *dir, const char *s)
{
    unsigned char v[12];
    size_t nv = s[0] == '+' ? test_phone_delta_bytes(s, v) : 0;
    return (dir ? test_dir_has_bytes(dir, s, strlen(s)) : test_store_grep(f->ts, s, strlen(s))) +
           (!nv ? 0 : dir ? test_dir_has_bytes(dir, v, nv) : test_store_grep(f->ts, v, nv));
}

typedef struct books {
    char *json, *csv;
    eng_report_figures total, ch[ENG_CH_COUNT], msg[8];
    uint32_t msg_id[8];
    size_t nmsg;
    eng_ope_estimate ope[4];
    int ope_rc[4];
    uint64_t counts[2][ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    uint8_t hash[2][32];
    uint64_t frozen[2];
} books;

static void read_books(dx *f, books *b)
{
    memset(b, 0, sizeof *b);
    eng_report *r;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, NULL, &r), ENG_OK);
    b->total.version = ENG_REPORT_FIGURES_VERSION;
    assert_int_equal(eng_report_total(r, &b->total), ENG_OK);
    for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
        b->ch[ch].version = ENG_REPORT_FIGURES_VERSION;
        assert_int_equal(eng_report_channel(r, ch, &b->ch[ch]), ENG_OK);
    }
    b->nmsg = eng_report_message_count(r);
    assert_true(b->nmsg == 2);
    for (size_t i = 0; i < b->nmsg; i++) {
        b->msg[i].version = ENG_REPORT_FIGURES_VERSION;
        assert_int_equal(eng_report_message(r, i, &b->msg_id[i], &b->msg[i]), ENG_OK);
    }
    for (int p = 0; p < 4; p++) {
        assert_int_equal(eng_ope_estimate_init(&b->ope[p], ENG_OPE_ESTIMATE_VERSION), ENG_OK);
        b->ope_rc[p] = eng_report_ope(r, p, &b->ope[p]);
    }
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &b->json, NULL), ENG_OK);
    assert_int_equal(eng_report_export(r, ENG_REPORT_CSV, &b->csv, NULL), ENG_OK);
    eng_report_free(r);
    uint64_t msgs[2] = {f->history_message, f->message};
    for (int m = 0; m < 2; m++) {
        assert_int_equal(eng_touch_status_counts(f->e, "acme", f->campaign, msgs[m], b->counts[m],
                                                 ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
        eng_audience *a;
        assert_int_equal(eng_message_audience(f->e, "root", msgs[m], &a), ENG_OK); /* verifies the hash */
        assert_int_equal(eng_audience_hash(a, b->hash[m]), ENG_OK);
        assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &b->frozen[m]), ENG_OK);
        eng_audience_free(a);
    }
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(f->e, "root", &bad), ENG_OK);
    assert_int_equal(bad, 0);
}

static void same_books(dx *f, const books *a, const books *b)
{
    assert_string_equal(a->json, b->json);
    assert_string_equal(a->csv, b->csv);
    assert_memory_equal(&a->total, &b->total, sizeof a->total);
    assert_memory_equal(a->ch, b->ch, sizeof a->ch);
    assert_memory_equal(a->msg, b->msg, sizeof a->msg);
    assert_memory_equal(a->msg_id, b->msg_id, sizeof a->msg_id);
    assert_memory_equal(a->ope_rc, b->ope_rc, sizeof a->ope_rc);
    assert_memory_equal(a->ope, b->ope, sizeof a->ope);
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
    assert_memory_equal(a->hash, b->hash, sizeof a->hash);
    assert_memory_equal(a->frozen, b->frozen, sizeof a->frozen);
    (void)f;
}

static void books_free(dx *f, books *b)
{
    eng_free(f->e, b->json);
    eng_free(f->e, b->csv);
}

/* On the test store (@p dir NULL: a byte search of every committed key and value) or on
 * the built-in file store in @p dir (a byte search of every file in it). */
static void erase_a_third(const char *dir)
{
    char path[1024];
    if (dir)
        snprintf(path, sizeof path, "%s/engage.db", dir);
    dx_file_path = dir ? path : NULL;
    dx f;
    dx_world(&f, N, 64, 1, 1);
    dx_file_path = NULL;
    dx_xengage(&f);
    dx_run_all(&f, f.t0, NULL);
    test_clock_now = f.t0 + 2 * ENG_HOUR;
    dx_receipts(&f, f.t0 + 60 * 1000, pick, &f);
    uint32_t buyers[N];
    size_t nb = 0;
    for (uint32_t c = 0; c < N; c++)
        if (dx_ext(&f, c) % 3 != 1)
            buyers[nb++] = c;
    dx_txns(&f, buyers, nb, f.t0 + 5 * ENG_HOUR, 75, "x");

    books before, after, reopened;
    read_books(&f, &before);
    assert_true(before.total.sent > 0 && before.total.responders > 0 && before.total.unsubscribed > 0);
    assert_true(before.total.control_known);

    /* Erase every third customer: among them contacted ones, responders,
     * unsubscribers (k % 11 == 0, k % 3 == 0: c0, c33, c66...) and control members. */
    const char *ids[N];
    char buf[N][16];
    size_t n = 0;
    for (size_t k = 0; k < N; k += 3) {
        snprintf(buf[n], sizeof buf[n], "c%zu", k);
        ids[n] = buf[n];
        n++;
    }
    assert_true(stored(&f, dir, "c3@example.com") >= 1); /* the search finds what is there */
    assert_true(stored(&f, dir, "+15550000003") >= 1);
    eng_erase_report er = ENG_ERASE_REPORT_INIT;
    assert_int_equal(eng_customers_erase(f.e, "root", ids, n, &er), ENG_OK);
    assert_int_equal(er.erased, n);

    read_books(&f, &after);
    same_books(&f, &before, &after);
    dx_reopen(&f);
    read_books(&f, &reopened);
    same_books(&f, &before, &reopened);

    /* The report texts, and the store, hold none of the erased customers' data. */
    for (size_t i = 0; i < n; i++) {
        char email[40], phone[24];
        snprintf(email, sizeof email, "%s@example.com", ids[i]);
        snprintf(phone, sizeof phone, "+1555%07zu", (size_t)strtoul(ids[i] + 1, NULL, 10));
        assert_null(strstr(after.json, email));
        assert_null(strstr(after.csv, phone));
        assert_null(strstr(after.json, phone));
        assert_int_equal(stored(&f, dir, email), 0);
        assert_int_equal(stored(&f, dir, phone), 0);
    }
    assert_int_equal(stored(&f, dir, "c1@example.com"), 1); /* the others stay */
    books_free(&f, &before);
    books_free(&f, &after);
    books_free(&f, &reopened);
    dx_close(&f);
}

static void totals_unchanged(void **state)
{
    (void)state;
    erase_a_third(NULL);
}

/* The same on the file store: after the erasure (which rewrites the file, docs/privacy.md)
 * and a reopen, no file in the directory holds an erased customer's email or phone. */
static void totals_unchanged_file_store(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    erase_a_third(dir);
    test_rmtree(dir);
    free(dir);
}

/* Coupons (dispatch/coupon.h): an execution with an uploaded pool gives each
 * customer a code; the export lists the customer's code as eng_coupon_find()
 * gives it; the erasure removes the assignment (also after a reopen) and keeps
 * the others', and the pool never hands the code out again. */
static void coupons_exported_and_erased(void **state)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    (void)state;
    dx f;
    dx_world(&f, 20, 64, 1, 1);
    char codes[20][16];
    const char *cp[20];
    for (int i = 0; i < 20; i++) {
        snprintf(codes[i], sizeof codes[i], "UP-%05d", i);
        cp[i] = codes[i];
    }
    assert_int_equal(eng_coupon_pool_upload(f.e, "ann", "p1", cp, 20), ENG_OK);
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Code {{coupon_code}} {{optout}}"}};
    eng_message_spec m = dx_message();
    m.creatives = cr;
    m.n_creatives = 1;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = "offer";
    m.incentive = &inc;
    dx_offer(&f, "offer", ENG_COUPON_UPLOADED, NULL, "p1");
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    uint32_t id3, id4;
    assert_int_equal(eng_customer_find(f.e, "root", "c3", &id3), ENG_OK);
    assert_int_equal(eng_customer_find(f.e, "root", "c4", &id4), ENG_OK);
    eng_coupon_assignment a = ENG_COUPON_ASSIGNMENT_INIT, b = ENG_COUPON_ASSIGNMENT_INIT;
    assert_int_equal(eng_coupon_find(f.e, "root", "p1", id3, &a), ENG_OK);
    assert_int_equal(eng_coupon_find(f.e, "root", "p1", id4, &b), ENG_OK);
    char want[256], *json;
    size_t len;
    char at[32];
    time_t secs = (time_t)(a.at / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(at, sizeof at, a.at % ENG_DAY ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &tm);
    snprintf(want, sizeof want, "\"coupons\":[{\"pool\":\"p1\",\"code\":\"%s\",\"message\":%llu,\"occurrence\":%u,"
             "\"assigned\":\"%s\"}]}", a.code, (unsigned long long)f.message, a.occurrence, at);
    assert_int_equal(eng_customer_export_json(f.e, "root", "c3", &json, &len), ENG_OK);
    assert_non_null(strstr(json, want));
    assert_int_equal(a.message, f.message);
    eng_free(f.e, json);

    eng_coupon_pool_info info = ENG_COUPON_POOL_INFO_INIT, info2 = ENG_COUPON_POOL_INFO_INIT;
    assert_int_equal(eng_coupon_pool_get(f.e, "root", "p1", &info), ENG_OK);
    assert_true(info.assigned >= 2);
    assert_int_equal(eng_customer_erase(f.e, "root", "c3"), ENG_OK);
    eng_coupon_assignment x = ENG_COUPON_ASSIGNMENT_INIT;
    assert_int_equal(eng_coupon_find(f.e, "root", "p1", id3, &x), ENG_ENOTFOUND);
    dx_reopen(&f);
    assert_int_equal(eng_coupon_find(f.e, "root", "p1", id3, &x), ENG_ENOTFOUND);
    assert_int_equal(eng_coupon_find(f.e, "root", "p1", id4, &x), ENG_OK);
    assert_string_equal(x.code, b.code);
    assert_int_equal(eng_coupon_pool_get(f.e, "root", "p1", &info2), ENG_OK);
    assert_int_equal(info2.assigned, info.assigned); /* the erased code is not handed out again */
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(totals_unchanged),
        cmocka_unit_test(totals_unchanged_file_store),
        cmocka_unit_test(coupons_exported_and_erased),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
