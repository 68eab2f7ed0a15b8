/* Filter groups evaluated by the rules engine over the customer table,
 * checked against a brute-force evaluation of the same conditions in C
 * (SQL three-valued logic: a condition on a NULL value is not true). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/audience_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

#define N 5000
static uint64_t rng;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

static const char *cities[] = {"Pune", "Delhi", "Goa", "Mumbai"};
typedef struct row {
    int city, has_city;
    long long age;
    int has_age;
    long long spend; /* x 10^4 */
    int has_spend;
    long long born_day;
    int has_born;
    int vip, has_vip;
} row;
static row R[N];

static void gen(int first, int n, char **csv)
{
    char *p = *csv = malloc((size_t)n * 100 + 100);
    p += sprintf(p, "id,city,age,spend,born,vip\n");
    for (int i = first; i < first + n; i++) {
        row *r = &R[i];
        r->has_city = rnd() % 8 != 0;
        r->city = (int)(rnd() % 4);
        r->has_age = rnd() % 8 != 0;
        r->age = (long long)(rnd() % 80);
        r->has_spend = rnd() % 8 != 0;
        r->spend = (long long)(rnd() % 30000000);
        r->has_born = rnd() % 8 != 0;
        r->born_day = (long long)(rnd() % 20000); /* days since 1970 */
        r->has_vip = rnd() % 8 != 0;
        r->vip = (int)(rnd() % 2);
        char sp[48] = "", born[96] = "", age[24] = "";
        if (r->has_spend)
            snprintf(sp, sizeof sp, "%lld.%04lld", r->spend / 10000, r->spend % 10000);
        if (r->has_age)
            snprintf(age, sizeof age, "%lld", r->age);
        if (r->has_born) {
            /* civil from days (Hinnant) */
            long long z = r->born_day + 719468, era = z / 146097, doe = z - era * 146097;
            long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, y = yoe + era * 400;
            long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
            long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
            snprintf(born, sizeof born, "%04lld-%02lld-%02lld", y + (m <= 2), m, d);
        }
        p += sprintf(p, "k%d,%s,%s,%s,%s,%s\n", i, r->has_city ? cities[r->city] : "", age, sp, born,
                     r->has_vip ? (r->vip ? "true" : "false") : "");
    }
}

typedef int (*pred_fn)(const row *r);
static int p1(const row *r) { return r->has_city && r->city == 0; }
static int p2(const row *r) { return r->has_age && r->age > 30 && r->has_vip && r->vip; }
static int p3(const row *r)
{
    return (r->has_spend && r->spend >= 10005000) || (r->has_city && (r->city == 1 || r->city == 2));
}
static int p4(const row *r) { return r->has_vip && !r->vip; }
static int p5(const row *r) { return r->has_born && r->born_day < 10957; /* 2000-01-01 */ }
static int p6(const row *r) { return !(r->has_city && r->city == 3) && r->has_city; }

static const struct {
    const char *expr;
    pred_fn f;
} filters[] = {
    {"city == \"Pune\"", p1},
    {"age > 30 and vip", p2},
    {"spend >= 1000.5 or city in (\"Delhi\", \"Goa\")", p3},
    {"not vip", p4},
    {"born < date(\"2000-01-01\")", p5},
    {"city != \"Mumbai\"", p6},
};

static void check_all(eng_engine *e, const uint32_t *gids, int n)
{
    for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
        uint64_t want = 0, got = 0;
        for (int i = 0; i < n; i++)
            want += (uint64_t)filters[k].f(&R[i]);
        assert_int_equal(eng_group_count(e, TA, gids[k], &got), ENG_OK);
        if (got != want)
            fail_msg("filter %zu (%s): got %llu, want %llu", k, filters[k].expr, (unsigned long long)got,
                     (unsigned long long)want);
    }
    /* Membership, not only counts: resolve the first filter and compare ids. */
    char gtext[2][16]; /* groups named by decimal id */
    snprintf(gtext[0], sizeof gtext[0], "%u", gids[2]);
    snprintf(gtext[1], sizeof gtext[1], "%u", gids[3]);
    const char *inc[] = {gtext[0]}, *exc[] = {gtext[1]};
    eng_audience_query o = ENG_AUDIENCE_QUERY_INIT;
    o.include = inc;
    o.n_include = 1;
    o.exclude = exc;
    o.n_exclude = 1;
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &o, &a), ENG_OK);
    static uint32_t ids[N];
    size_t got;
    assert_int_equal(eng_audience_ids(a, ENG_PART_ALL, 0, ids, N, &got), ENG_OK);
    size_t j = 0;
    for (int i = 0; i < n; i++)
        if (p3(&R[i]) && !p4(&R[i])) {
            assert_true(j < got);
            assert_int_equal(ids[j++], i);
        }
    assert_int_equal(j, got);
    eng_audience_free(a);
}

static void filters_match_brute_force(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 11;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "spend", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "born", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "vip", ENG_COL_BOOL), ENG_OK);
    /* Filters on an empty table are empty. */
    uint32_t gids[6];
    char name[16];
    for (size_t k = 0; k < 6; k++) {
        snprintf(name, sizeof name, "f%zu", k);
        int rc = eng_group_create_filter(e, TA, name, filters[k].expr, &gids[k]);
        if (rc)
            fail_msg("%s: %s (%s)", filters[k].expr, eng_error_last()->message, eng_error_last()->detail);
    }
    assert_int_equal(eng_group_count(e, TA, gids[0], &(uint64_t){1}), ENG_OK);
    char *csv;
    gen(0, N / 2, &csv);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    free(csv);
    check_all(e, gids, N / 2);
    /* More customers: the same stored filters see them. */
    gen(N / 2, N / 2, &csv);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    free(csv);
    check_all(e, gids, N);
    /* After reopening. */
    assert_int_equal(eng_close(e), ENG_OK);
    e = test_engine_open_org(test_store_handle(ts));
    check_all(e, gids, N);
    /* A filter inside a combined group. */
    uint32_t both[] = {gids[0], gids[1]}, gc;
    assert_int_equal(eng_group_create_combined(e, TA, "pune-or-old-vip", ENG_COMBINE_UNION, both, 2, NULL, 0, &gc), ENG_OK);
    uint64_t want = 0, got;
    for (int i = 0; i < N; i++)
        want += (uint64_t)(p1(&R[i]) || p2(&R[i]));
    assert_int_equal(eng_group_count(e, TA, gc, &got), ENG_OK);
    assert_int_equal(got, want);
    /* Errors come from the rules compiler with line:column. */
    uint32_t g;
    assert_int_equal(eng_group_create_filter(e, TA, "bad1", "city == ", &g), ENG_EPARSE);
    assert_non_null(strchr(eng_error_last()->detail, ':'));
    assert_int_equal(eng_group_create_filter(e, TA, "bad2", "age == \"x\"", &g), ENG_ETYPE);
    assert_int_equal(eng_group_create_filter(e, TA, "bad3", "shoe_size > 3", &g), ENG_ETYPE);
    assert_int_equal(eng_group_find(e, TA, "bad1", &g), ENG_ENOTFOUND);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static test_store *oom_ts;
static int oom_filter(void *arg)
{
    (void)arg;
    eng_engine *e;
    int rc = test_store_open(oom_ts, test_alloc_get(), &e);
    if (rc)
        return rc;
    if ((rc = test_org(e))) {
        eng_close(e);
        return rc;
    }
    uint32_t g;
    uint64_t n;
    rc = eng_group_find(e, TA, "f", &g);
    if (rc == ENG_ENOTFOUND)
        rc = eng_group_create_filter(e, TA, "f", "city == \"Pune\" or vip", &g);
    if (!rc)
        rc = eng_group_count(e, TA, g, &n);
    eng_close(e);
    return rc;
}

static void oom_loop(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 5;
    oom_ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(oom_ts));
    assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "spend", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "born", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "vip", ENG_COL_BOOL), ENG_OK);
    char *csv;
    gen(0, 200, &csv);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    free(csv);
    assert_int_equal(eng_close(e), ENG_OK);
    assert_true(test_oom_loop(oom_filter, NULL) > 10);
    test_store_free(oom_ts);
    test_alloc_assert_clean();
}

/* Every call that fills a caller's id set or selection selects no one when it
 * fails: the id count and group size read 0, and an internal group or filter
 * evaluation that fails (here: each allocation in turn) leaves its set empty. */
static void failed_calls_select_no_one(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 9;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "spend", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "born", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "vip", ENG_COL_BOOL), ENG_OK);
    char *csv;
    gen(0, 300, &csv);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    free(csv);
    uint32_t gf, gv, gc;
    assert_int_equal(eng_group_create_filter(e, TA, "f", "city == \"Pune\" or age > 3", &gf), ENG_OK);
    assert_int_equal(eng_group_create_filter(e, TA, "v", "vip", &gv), ENG_OK);
    uint32_t inc[] = {gf}, exc[] = {gv};
    assert_int_equal(eng_group_create_combined(e, TA, "c", ENG_COMBINE_UNION, inc, 1, exc, 1, &gc), ENG_OK);
    uint64_t size = 77;
    assert_int_equal(eng_group_count(e, TA, gc + 100, &size), ENG_ENOTFOUND);
    assert_int_equal(size, 0);
    size = 77;
    assert_int_equal(eng_group_count(NULL, TA, gc, &size), ENG_EMISUSE);
    assert_int_equal(size, 0);
    const char *cname[] = {"c"};
    eng_audience_query o = ENG_AUDIENCE_QUERY_INIT;
    o.include = cname;
    o.n_include = 1;
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &o, &a), ENG_OK);
    uint32_t ids[8];
    size_t n = 77;
    assert_int_equal(eng_audience_ids(a, 99, 0, ids, 8, &n), ENG_EINVAL);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(eng_audience_ids(a, ENG_PART_ALL, 0, NULL, 8, &n), ENG_EINVAL);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(eng_audience_ids(NULL, ENG_PART_ALL, 0, ids, 8, &n), ENG_EMISUSE);
    assert_int_equal(n, 0);
    eng_audience_free(a);
    /* internal evaluations, starting from a full set, under allocation failure */
    const uint32_t groups[] = {gf, gc};
    for (size_t k = 0; k < 2; k++)
        for (uint64_t fail = 1;; fail++) {
            assert_int_equal(eng__enter(e), ENG_OK);
            eng__aud *aud;
            assert_int_equal(eng__aud_get(e, TEST_ORG, &aud), ENG_OK);
            eng__idset s;
            eng__idset_init(&s, &e->mem);
            assert_int_equal(eng__idset_add_range(&s, 0, 300), ENG_OK);
            uint64_t before = test_alloc_failures();
            test_alloc_fail_at(fail, 0);
            int rc = eng__group_eval(aud, groups[k], &s);
            test_alloc_fail_at(0, 0);
            int injected = test_alloc_failures() != before;
            if (rc) {
                assert_int_equal(rc, ENG_ENOMEM);
                assert_int_equal(eng__idset_count(&s), 0);
            }
            eng__idset_free(&s);
            eng__leave(e);
            if (!injected) {
                assert_int_equal(rc, ENG_OK);
                break;
            }
        }
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* Segments over contact and consent (issue 16): reachable.<ch>, consent.<ch>
 * and optout.<ch> are fields of filter groups, checked against a plain loop. */
#define NC 3000
typedef struct crow {
    int has_mail, mail_consent, mail_optout, has_sms, sms_consent, suppressed;
    long long age;
    long long optout_day; /* days since 1970 of the email opt-out */
} crow;
static crow C[NC];

static uint64_t count_of(eng_engine *e, const char *name, const char *expr)
{
    uint32_t g;
    int rc = eng_group_create_filter(e, TA, name, expr, &g);
    if (rc)
        fail_msg("%s: %s (%s)", expr, eng_error_last()->message, eng_error_last()->detail);
    uint64_t n = 0;
    assert_int_equal(eng_group_count(e, TA, g, &n), ENG_OK);
    return n;
}

static void contact_and_consent_fields(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 5;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
    /* before any contact data: nobody is reachable, everybody's opt-out is null */
    char *csv = malloc(NC * 160 + 128), *p = csv;
    if (!csv)
        abort();
    p += sprintf(p, "id,age\nz0,40\n");
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    assert_int_equal(count_of(e, "none", "reachable.email or consent.sms"), 0);
    assert_int_equal(count_of(e, "nulls", "optout.whatsapp is null"), 1);
    p = csv;
    p += sprintf(p, "id,age,contact.email,consent.email,optout.email,contact.sms,consent.sms,suppressed\n");
    for (int i = 0; i < NC; i++) {
        crow *r = &C[i];
        r->age = (long long)(rnd() % 80);
        r->has_mail = rnd() % 5 != 0;
        r->mail_consent = rnd() % 3 != 0;
        r->mail_optout = rnd() % 7 == 0;
        r->optout_day = 20000 + (long long)(rnd() % 500);
        r->has_sms = rnd() % 2;
        r->sms_consent = rnd() % 4 != 0;
        r->suppressed = rnd() % 50 == 0;
        char day[96] = "";
        if (r->mail_optout) {
            long long z = r->optout_day + 719468, era = z / 146097, doe = z - era * 146097;
            long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, y = yoe + era * 400;
            long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
            long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
            snprintf(day, sizeof day, "%04lld-%02lld-%02lldT08:00:00Z", y + (m <= 2), m, d);
        }
        p += sprintf(p, "c%d,%lld,%s,%s,%s,%s,%s,%s\n", i, r->age, r->has_mail ? "a@b.c" : "",
                     r->mail_consent ? "yes" : "no", r->mail_optout ? day : "no", r->has_sms ? "+919812345678" : "",
                     r->sms_consent ? "yes" : "no", r->suppressed ? "true" : "false");
    }
    if (eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL) != ENG_OK)
        fail_msg("import: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    free(csv);
    uint64_t w_reach = 0, w_mix = 0, w_cons = 0, w_late = 0, w_noopt = 0, w_sms = 0;
    long long cut = 20249; /* days: 2025-06-10 */
    for (int i = 0; i < NC; i++) {
        const crow *r = &C[i];
        int reach = r->has_mail && r->mail_consent && !r->mail_optout && !r->suppressed;
        w_reach += reach;
        w_mix += reach && r->age > 30;
        w_cons += r->sms_consent;
        w_late += r->mail_optout && r->optout_day >= cut;
        w_noopt += !r->mail_optout;
        w_sms += !(r->has_sms && r->sms_consent && !r->suppressed);
    }
    w_noopt += 1; /* z0 */
    w_sms += 1;
    assert_int_equal(count_of(e, "reach", "reachable.email"), w_reach);
    assert_int_equal(count_of(e, "mix", "reachable.email and age > 30"), w_mix);
    assert_int_equal(count_of(e, "cons", "consent.sms"), w_cons);
    assert_int_equal(count_of(e, "late", "optout.email >= timestamp(\"2025-06-10T00:00:00Z\")"), w_late);
    assert_int_equal(count_of(e, "noopt", "optout.email is null"), w_noopt);
    assert_int_equal(count_of(e, "sms", "not reachable.sms"), w_sms);
    /* a typo gets the rules engine's did-you-mean */
    uint32_t g;
    assert_int_equal(eng_group_create_filter(e, TA, "typo", "reachable.emial", &g), ENG_ETYPE);
    assert_non_null(strstr(eng_error_last()->message, "reachable.email"));
    /* the same after a reopen */
    assert_int_equal(eng_close(e), ENG_OK);
    e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_group_find(e, TA, "mix", &g), ENG_OK);
    uint64_t n;
    assert_int_equal(eng_group_count(e, TA, g, &n), ENG_OK);
    assert_int_equal(n, w_mix);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filters_match_brute_force),
        cmocka_unit_test(oom_loop),
        cmocka_unit_test(failed_calls_select_no_one),
        cmocka_unit_test(contact_and_consent_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
