/* Rule engine: compile, evaluate a row, canonical text, null semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include "rules_test_util.h"

static rt_row sample(void)
{
    rt_row r;
    memset(&r, 0, sizeof r);
    r.v[0] = rt_str("gold");
    r.v[1] = rt_str("Pune");
    r.v[2] = rt_int(ENG_RT_INT, 45, 0);
    r.v[3] = rt_int(ENG_RT_DECIMAL, 300050, 2); /* 3000.50 */
    r.v[4] = rt_int(ENG_RT_BOOL, 1, 0);
    r.v[5] = rt_int(ENG_RT_DATE, 20000, 0);  /* 2024-10-04 */
    r.v[6] = rt_int(ENG_RT_TIMESTAMP, RT_NOW - 3 * ENG_DAY, 0);
    static const char *const items[] = {"SKU-1", "SKU-22"};
    r.v[7].type = ENG_RT_STRING_LIST;
    r.v[7].v.list.items = items;
    r.v[7].v.list.count = 2;
    return r;
}

static int eval(eng_engine *e, const char *text, rt_row *row)
{
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL;
    int rc = eng_rule_compile(e, text, &o, &r);
    if (rc) {
        print_error("compile '%s': %s [%s]\n", text, eng_error_last()->message, eng_error_last()->detail);
        return -100 + rc;
    }
    int res = -1;
    rc = eng_rule_eval_row(r, rt_get, row, &res);
    eng_rule_free(r);
    return rc ? -200 + rc : res;
}

static void evaluates(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    assert_non_null(e);
    rt_row row = sample();
    const struct { const char *text; int want; } cases[] = {
        {"tier in (\"gold\", \"silver\") and days_since_purchase > 30 and city == \"Pune\"", ENG_RULE_TRUE},
        {"tier in ('silver') or city == 'Mumbai'", ENG_RULE_FALSE},
        {"amount > 3000", ENG_RULE_TRUE},
        {"amount > 3000.50", ENG_RULE_FALSE},
        {"amount >= 3000.500", ENG_RULE_TRUE},
        {"amount == 3000.5", ENG_RULE_TRUE},
        {"amount between 3000 and 3001", ENG_RULE_TRUE},
        {"amount not between 3000 and 3001", ENG_RULE_FALSE},
        {"vip", ENG_RULE_TRUE},
        {"not vip", ENG_RULE_FALSE},
        {"vip == false", ENG_RULE_FALSE},
        {"lower(city) == 'pune'", ENG_RULE_TRUE},
        {"upper(city) in ('PUNE', 'DELHI')", ENG_RULE_TRUE},
        {"city starts with 'Pu' and city ends with 'ne' and city contains 'un'", ENG_RULE_TRUE},
        {"city not contains 'x'", ENG_RULE_TRUE},
        {"len(city) == 4 and len(items) == 2", ENG_RULE_TRUE},
        {"items contains 'SKU-22'", ENG_RULE_TRUE},
        {"items contains 'SKU-2'", ENG_RULE_FALSE},
        {"birthday == date(\"2024-10-04\")", ENG_RULE_TRUE},
        {"birthday < today()", ENG_RULE_TRUE},
        {"days_since(last_seen) == 3", ENG_RULE_TRUE},
        {"last_seen > timestamp('2026-11-20T00:00:00Z')", ENG_RULE_TRUE},
        {"days_since_purchase in (1, 2, 45)", ENG_RULE_TRUE},
        {"days_since_purchase not in (1, 2, 45)", ENG_RULE_FALSE},
        {"-- a comment\n  (tier == 'gold' OR tier == 'x') AND NOT vip == false", ENG_RULE_TRUE},
        {"1 < days_since_purchase", ENG_RULE_TRUE},
        {"true", ENG_RULE_TRUE},
        {"city is null", ENG_RULE_FALSE},
        {"city is not null", ENG_RULE_TRUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = eval(e, cases[i].text, &row);
        if (got != cases[i].want)
            fail_msg("'%s': got %d want %d", cases[i].text, got, cases[i].want);
    }
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

static void null_semantics(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    rt_row row = sample();
    row.v[1] = rt_null(); /* city missing */
    const struct { const char *text; int want; } cases[] = {
        {"city == 'Pune'", ENG_RULE_NULL},
        {"city != 'Pune'", ENG_RULE_NULL},
        {"not (city == 'Pune')", ENG_RULE_NULL},
        {"city == 'Pune' and vip", ENG_RULE_NULL},
        {"city == 'Pune' and not vip", ENG_RULE_FALSE},
        {"city == 'Pune' or vip", ENG_RULE_TRUE},
        {"city == 'Pune' or not vip", ENG_RULE_NULL},
        {"city in ('Pune')", ENG_RULE_NULL},
        {"city not in ('Pune')", ENG_RULE_NULL},
        {"city is null", ENG_RULE_TRUE},
        {"lower(city) is null", ENG_RULE_TRUE},
        {"len(city) > 0", ENG_RULE_NULL},
        {"city contains 'x'", ENG_RULE_NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = eval(e, cases[i].text, &row);
        if (got != cases[i].want)
            fail_msg("'%s': got %d want %d", cases[i].text, got, cases[i].want);
    }
    eng_close(e);
    test_alloc_assert_clean();
}

static void canonical_text(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    const struct { const char *text, *canon; } cases[] = {
        {"tier in ('silver', 'gold', 'gold') and 30 < days_since_purchase and city = \"Pune\"",
         "tier in (\"gold\", \"silver\") and days_since_purchase > 30 and city == \"Pune\""},
        {"amount <> 1.50 or not vip", "amount != 1.50 or not vip"},
        {"city == lower('PUNE') and birthday >= date('2024-01-01')",
         "city == \"pune\" and birthday >= date(\"2024-01-01\")"},
        {"amount between -1 and 2.5", "amount between -1 and 2.5"},
        {"city is not null and city starts with 'a\\\"b'", "city is not null and city starts with \"a\\\"b\""},
        {"(vip or (city == 'x')) and ((tier == 'a' and vip) or not (vip and vip))",
         "(vip or city == \"x\") and (tier == \"a\" and vip or not (vip and vip))"},
        {"((vip and vip) and vip) or (vip or vip)", "(vip and vip) and vip or (vip or vip)"},
        {"(vip == true) == (not vip) and not not vip", "(vip == true) == (not vip) and not not vip"},
        {"any(x in items, x == 'a' or x == 'b') and count(y in items, lower(y) contains 'k') > 1",
         "any(x in items, x == \"a\" or x == \"b\") and count(y in items, lower(y) contains \"k\") > 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eng_rule *r = NULL;
        assert_int_equal(eng_rule_compile(e, cases[i].text, &o, &r), ENG_OK);
        char buf[512];
        size_t need = 0;
        assert_int_equal(eng_rule_text(r, buf, sizeof buf, &need), ENG_OK);
        assert_string_equal(buf, cases[i].canon);
        assert_int_equal(need, strlen(buf) + 1);
        /* canonical text compiles to the same program */
        eng_rule *r2 = NULL;
        assert_int_equal(eng_rule_compile(e, buf, &o, &r2), ENG_OK);
        char buf2[512];
        assert_int_equal(eng_rule_text(r2, buf2, sizeof buf2, NULL), ENG_OK);
        assert_string_equal(buf, buf2);
        /* too small a buffer */
        char tiny[4];
        assert_int_equal(eng_rule_text(r, tiny, sizeof tiny, &need), ENG_ERANGE);
        assert_int_equal(strlen(tiny), 3);
        eng_rule_free(r);
        eng_rule_free(r2);
    }
    /* the canonical text never needs a higher nesting limit than the original */
    char deep[1024] = "";
    for (int i = 0; i < 64; i++)
        strcat(deep, "not ");
    strcat(deep, "vip");
    eng_rule *r = NULL, *r2 = NULL;
    assert_int_equal(eng_rule_compile(e, deep, &o, &r), ENG_OK);
    char canon[1024];
    assert_int_equal(eng_rule_text(r, canon, sizeof canon, NULL), ENG_OK);
    assert_string_equal(canon, deep);
    eng_rule_free(r);
    strcpy(deep, "");
    for (int i = 0; i < 63; i++)
        strcat(deep, "(vip and ");
    strcat(deep, "city == 'x'");
    for (int i = 0; i < 63; i++)
        strcat(deep, ")");
    assert_int_equal(eng_rule_compile(e, deep, &o, &r), ENG_OK);
    assert_int_equal(eng_rule_text(r, canon, sizeof canon, NULL), ENG_OK);
    assert_int_equal(eng_rule_compile(e, canon, &o, &r2), ENG_OK);
    eng_rule_free(r);
    eng_rule_free(r2);
    eng_close(e);
    test_alloc_assert_clean();
}

/* A compiled rule is immutable: threads share it. */
typedef struct thr_arg {
    const eng_rule *r;
    const eng_rule_batch *b;
    size_t count;
    int rc;
} thr_arg;

static void *thr_eval(void *p)
{
    thr_arg *a = p;
    uint64_t sel[4];
    for (int i = 0; i < 2000 && !a->rc; i++) {
        a->rc = eng_rule_eval_batch(a->r, a->b, NULL, sel, &a->count);
        rt_row row = sample();
        int res = -1;
        if (!a->rc)
            a->rc = eng_rule_eval_row(a->r, rt_get, &row, &res);
        if (!a->rc && res != ENG_RULE_TRUE)
            a->rc = -1000;
    }
    return NULL;
}

static void threads_and_lifetime(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL;
    assert_int_equal(eng_rule_compile(e, "tier in ('gold') and days_since_purchase > 30 and lower(city) == 'pune'", &o,
                                      &r), ENG_OK);
    static const char *const dict[] = {"gold", "Pune", "silver"};
    uint32_t codes[200];
    int64_t days[200];
    size_t want = 0;
    for (int i = 0; i < 200; i++) {
        codes[i] = (uint32_t)(i % 3);
        days[i] = i % 60;
        want += (i % 3 == 0) && (i % 60 > 30);
    }
    eng_rule_column cols[RT_NFIELDS];
    memset(cols, 0, sizeof cols);
    cols[0] = (eng_rule_column){ENG_RT_STRING, 0, codes, NULL, dict, NULL, 3, NULL};
    uint32_t city[200];
    for (int i = 0; i < 200; i++)
        city[i] = 1;
    cols[1] = (eng_rule_column){ENG_RT_STRING, 0, city, NULL, dict, NULL, 3, NULL};
    cols[2] = (eng_rule_column){ENG_RT_INT, 0, days, NULL, NULL, NULL, 0, NULL};
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 200, cols, RT_NFIELDS, NULL};
    pthread_t t[4];
    thr_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg){r, &b, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, thr_eval, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, ENG_OK);
        assert_int_equal(a[i].count, want);
    }
    /* the rule keeps its engine alive after eng_close; freeing it releases both */
    assert_int_equal(eng_close(e), ENG_OK);
    rt_row row = sample();
    int res = -1;
    assert_int_equal(eng_rule_eval_row(r, rt_get, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    eng_rule_free(r);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evaluates),
        cmocka_unit_test(null_semantics),
        cmocka_unit_test(canonical_text),
        cmocka_unit_test(threads_and_lifetime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
