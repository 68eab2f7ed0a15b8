/* Rule engine errors: every syntax and type error class with its code,
 * position (line:column) and message; limits; argument checks; the OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

typedef struct ecase {
    const char *text;
    int code;
    const char *detail;
    const char *msg; /* substring of the message */
} ecase;

static void check_cases(eng_engine *e, const ecase *cases, size_t n)
{
    eng_rule_options o = rt_opts();
    for (size_t i = 0; i < n; i++) {
        eng_rule *r = (eng_rule *)1;
        int rc = eng_rule_compile(e, cases[i].text, &o, &r);
        const eng_error *err = eng_error_last();
        if (rc != cases[i].code || strcmp(err->detail, cases[i].detail) != 0 || !strstr(err->message, cases[i].msg))
            fail_msg("'%s': got %d [%s] '%s'; want %d [%s] '...%s...'", cases[i].text, rc, err->detail, err->message,
                     cases[i].code, cases[i].detail, cases[i].msg);
        assert_null(r);
    }
}

static void syntax_errors(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    static const ecase cases[] = {
        {"", ENG_EPARSE, "1:1", "empty rule"},
        {"   -- only a comment", ENG_EPARSE, "1:21", "empty rule"},
        {"city ==", ENG_EPARSE, "1:8", "expected a value, a field name, a function call or '(', found end of input"},
        {"city == 'Pune", ENG_EPARSE, "1:9", "unterminated string"},
        {"tier in ('a' 'b')", ENG_EPARSE, "1:14", "expected ',' or ')' in the list, found string"},
        {"tier in 'a'", ENG_EPARSE, "1:9", "expected '(' after 'in'"},
        {"days_since_purchase < 3 < 4", ENG_EPARSE, "1:25", "comparisons do not chain"},
        {"city == null", ENG_EPARSE, "1:9", "test for it with 'is null'"},
        {"amount > 1.2.3", ENG_EPARSE, "1:13", "unexpected character '.' in a number"},
        {"amount > 1.", ENG_EPARSE, "1:12", "expected a digit after '.'"},
        {"amount > 1.1234567891", ENG_EPARSE, "1:10", "too many digits after the decimal point"},
        {"amount > 99999999999999999999", ENG_EPARSE, "1:10", "number out of range"},
        {"city ! 'x'", ENG_EPARSE, "1:6", "unexpected '!'"},
        {"city == 'a\\q'", ENG_EPARSE, "1:11", "unknown escape '\\q'"},
        {"city == 'a\nb'", ENG_EPARSE, "1:11", "control character in a string"},
        {"city == 'x'\n  and # 3", ENG_EPARSE, "2:7", "unexpected character '#'"},
        {"city == \"\xff\"", ENG_EPARSE, "1:9", "not valid UTF-8"},
        {"vip and", ENG_EPARSE, "1:8", "found end of input"},
        {"(vip", ENG_EPARSE, "1:5", "expected ')'"},
        {"vip vip", ENG_EPARSE, "1:5", "expected 'and', 'or' or the end of the rule, found identifier 'vip'"},
        {"city is 'x'", ENG_EPARSE, "1:9", "expected 'null' after 'is'"},
        {"city starts 'P'", ENG_EPARSE, "1:13", "expected 'with' after 'starts'"},
        {"city ends 'P'", ENG_EPARSE, "1:11", "expected 'with' after 'ends'"},
        {"- city == 1", ENG_EPARSE, "1:3", "expected a number after '-'"},
        {"city not like 'x'", ENG_EPARSE, "1:10", "after 'not'"},
        {"city. == 1", ENG_EPARSE, "1:5", "cannot end with '.'"},
        {"city == 'x' and\n\n    ", ENG_EPARSE, "3:5", "found end of input"},
        {"city \x01", ENG_EPARSE, "1:6", "unexpected byte 0x01"},
        {"any(items, x == 'a')", ENG_EPARSE, "1:10", "expected 'in' after the item name"},
        {"any('a' in items, true)", ENG_EPARSE, "1:5", "expected an item name"},
        {"any(x in items x == 'a')", ENG_EPARSE, "1:16", "expected ',' before the condition"},
        {"any(x in items, x == 'a'", ENG_EPARSE, "1:25", "expected ')' after the condition"},
    };
    check_cases(e, cases, sizeof cases / sizeof cases[0]);
    eng_close(e);
    test_alloc_assert_clean();
}

static void type_errors(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    static const ecase cases[] = {
        {"amout > 3", ENG_ETYPE, "1:1", "unknown field 'amout', did you mean 'amount'?"},
        {"vip and\n  days_since_purchas > 3", ENG_ETYPE, "2:3", "did you mean 'days_since_purchase'?"},
        {"zzzzzz > 3", ENG_ETYPE, "1:1", "unknown field 'zzzzzz'"},
        {"city > 3", ENG_ETYPE, "1:6", "cannot compare field 'city' (string) with a int"},
        {"amount == 'x'", ENG_ETYPE, "1:8", "cannot compare field 'amount' (decimal) with a string"},
        {"vip < true", ENG_ETYPE, "1:5", "has no order"},
        {"birthday > '2024-01-01'", ENG_ETYPE, "1:10", "write dates as date(\"YYYY-MM-DD\")"},
        {"last_seen > '2024-01-01'", ENG_ETYPE, "1:11", "write timestamps as timestamp("},
        {"birthday > last_seen", ENG_ETYPE, "1:10", "cannot compare field 'birthday' (date) with field 'last_seen'"},
        {"city", ENG_ETYPE, "1:1", "a rule must be a condition"},
        {"len(city)", ENG_ETYPE, "1:1", "a rule must be a condition (true or false), but this is len() (int)"},
        {"lowr(city) == 'x'", ENG_ETYPE, "1:1", "unknown function 'lowr'"},
        {"lower(city, 1) == 'x'", ENG_ETYPE, "1:1", "lower() takes 1 argument, not 2"},
        {"today(1) == birthday", ENG_ETYPE, "1:1", "today() takes 0 arguments, not 1"},
        {"len(amount) > 1", ENG_ETYPE, "1:5", "len() needs a string"},
        {"days_since(city) > 3", ENG_ETYPE, "1:12", "days_since() needs a date"},
        {"date('2024-13-01') < birthday", ENG_ETYPE, "1:6", "'2024-13-01' is not a date"},
        {"date('2024-02-30') < birthday", ENG_ETYPE, "1:6", "is not a date"},
        {"date(city) < birthday", ENG_ETYPE, "1:6", "date() needs a constant string"},
        {"timestamp('2024-01-01') < last_seen", ENG_ETYPE, "1:11", "is not a timestamp"},
        {"tier in (city)", ENG_ETYPE, "1:10", "must be constants"},
        {"tier in ('a', 3)", ENG_ETYPE, "1:6", "cannot compare field 'tier' (string) with a int"},
        {"items == 'x'", ENG_ETYPE, "1:7", "field 'items' (list of strings) cannot be compared"},
        {"items in ('x')", ENG_ETYPE, "1:7", "use 'contains'"},
        {"not amount", ENG_ETYPE, "1:5", "'not' needs a bool"},
        {"vip or amount", ENG_ETYPE, "1:8", "'or' needs a bool"},
        {"city contains 3", ENG_ETYPE, "1:15", "needs a string"},
        {"amount starts with 'x'", ENG_ETYPE, "1:1", "'starts with' needs a string"},
        {"amount between 'a' and 3", ENG_ETYPE, "1:8", "cannot compare field 'amount' (decimal) with a string"},
        {"any(x in city, x == 'a')", ENG_ETYPE, "1:10", "any() needs a list of strings"},
        {"any(x in items, len(x))", ENG_ETYPE, "1:17", "the condition of any()/count() needs a bool"},
        {"count(x in items, x == 1) > 0", ENG_ETYPE, "1:21", "cannot compare item 'x' (string) with a int"},
        {"any(x in items, y == 'a')", ENG_ETYPE, "1:17", "unknown field 'y'"},
        {"any(x in items, x == 'a') and x == 'b'", ENG_ETYPE, "1:31", "unknown field 'x'"},
    };
    check_cases(e, cases, sizeof cases / sizeof cases[0]);
    eng_close(e);
    test_alloc_assert_clean();
}

static char *repeat(const char *pre, int n, const char *mid, const char *post)
{
    size_t lp = strlen(pre), lm = strlen(mid), lq = strlen(post);
    char *s = malloc(lp * (size_t)n + lm + lq * (size_t)n + 1), *p = s;
    for (int i = 0; i < n; i++, p += lp)
        memcpy(p, pre, lp);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lq)
        memcpy(p, post, lq);
    *p = 0;
    return s;
}

static void limits(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL;
    char *t = repeat("(", 100, "vip", ")");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "1:65");
    assert_non_null(strstr(eng_error_last()->message, "nested too deeply (more than 64 levels)"));
    free(t);
    t = repeat("not ", 100, "vip", "");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_ETOOBIG);
    free(t);
    t = repeat("lower(", 100, "city", ")");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_ETOOBIG);
    free(t);
    /* a hostile depth with a high limit is still an error, not a stack overflow */
    o.max_depth = 1000;
    t = repeat("(", 200000, "vip", ")");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_ETOOBIG);
    free(t);
    /* a long chain is fine: it becomes one n-ary node, evaluated without recursion depth */
    t = repeat("vip and ", 20000, "vip", "");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_ETOOBIG); /* > 10000 nodes by default */
    assert_non_null(strstr(eng_error_last()->message, "more than 10000 nodes"));
    o.max_nodes = 100000;
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_OK);
    free(t);
    rt_row row;
    memset(&row, 0, sizeof row);
    row.v[4] = rt_int(ENG_RT_BOOL, 1, 0);
    int res = -1;
    assert_int_equal(eng_rule_eval_row(r, rt_get, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    eng_rule_free(r);
    /* a long in-list becomes a set */
    size_t cap = 2000000;
    t = malloc(cap);
    size_t n = (size_t)snprintf(t, cap, "days_since_purchase in (");
    for (int i = 0; i < 50000; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s%d", i ? "," : "", i * 3);
    snprintf(t + n, cap - n, ")");
    assert_int_equal(eng_rule_compile(e, t, &o, &r), ENG_OK);
    free(t);
    row.v[2] = rt_int(ENG_RT_INT, 2997, 0);
    assert_int_equal(eng_rule_eval_row(r, rt_get, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    row.v[2] = rt_int(ENG_RT_INT, 2998, 0);
    assert_int_equal(eng_rule_eval_row(r, rt_get, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_FALSE);
    eng_rule_free(r);
    /* option ranges */
    o.max_depth = 1001;
    assert_int_equal(eng_rule_compile(e, "vip", &o, &r), ENG_ERANGE);
    eng_close(e);
    test_alloc_assert_clean();
}

static int bad_get(uint32_t field, eng_rule_value *out, void *user)
{
    (void)field;
    int mode = *(int *)user;
    if (mode == 0) {
        *out = rt_int(ENG_RT_INT, 1, 0); /* wrong type for a string field */
        return ENG_OK;
    }
    return ENG_EUSER;
}

static void api_checks(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL;
    assert_int_equal(eng_rule_options_init(NULL, ENG_RULE_OPTIONS_VERSION), ENG_EINVAL);
    assert_int_equal(eng_rule_options_init(&o, 99), ENG_EVERSION);
    o = rt_opts();
    assert_int_equal(eng_rule_compile(e, NULL, &o, &r), ENG_EINVAL);
    assert_int_equal(eng_rule_compile(e, "vip", &o, NULL), ENG_EINVAL);
    assert_int_equal(eng_rule_compile(e, "vip", NULL, &r), ENG_EINVAL);
    assert_int_equal(eng_rule_compile(NULL, "vip", &o, &r), ENG_EMISUSE);
    o.version = 7;
    assert_int_equal(eng_rule_compile(e, "vip", &o, &r), ENG_EVERSION);
    o = rt_opts();
    o.fields = NULL;
    assert_int_equal(eng_rule_compile(e, "vip", &o, &r), ENG_EINVAL);
    /* bad schemas name the offending field */
    eng_rule_field bad[2] = {{"a", ENG_RT_INT, 0}, {"a", ENG_RT_INT, 0}};
    o.fields = bad;
    o.nfields = 2;
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1]");
    bad[1].name = "and";
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    bad[1].name = "9x";
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    bad[1].name = "b";
    bad[1].type = (eng_rule_type)42;
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    bad[1].type = ENG_RT_NULL;
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    bad[1].type = ENG_RT_DECIMAL;
    bad[1].scale = 10;
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    bad[1].type = ENG_RT_INT;
    bad[1].scale = 2;
    assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1]");
    /* keywords of every length and case; names that only start like one, or share a first byte */
    bad[1].scale = 0;
    static const char *const kw[] = {"Or", "CONTAINS", "between", "With"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        bad[1].name = kw[i];
        assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_EINVAL);
        assert_string_equal(eng_error_last()->detail, "fields[1]");
    }
    static const char *const fine[] = {"ors", "containsx", "a.or", "ab"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        bad[1].name = fine[i];
        assert_int_equal(eng_rule_compile(e, "a > 1", &o, &r), ENG_OK);
        eng_rule_free(r);
    }
    eng_rule_field three[3] = {{"ab", ENG_RT_INT, 0}, {"ac", ENG_RT_INT, 0}, {"ab", ENG_RT_INT, 0}};
    o.fields = three;
    o.nfields = 3;
    assert_int_equal(eng_rule_compile(e, "ab > 1", &o, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[2]");
    o.nfields = 2;
    assert_int_equal(eng_rule_compile(e, "ab > ac", &o, &r), ENG_OK);
    eng_rule_free(r);

    o = rt_opts();
    assert_int_equal(eng_rule_compile(e, "city == 'Pune'", &o, &r), ENG_OK);
    int res = 5, mode = 0;
    assert_int_equal(eng_rule_eval_row(NULL, rt_get, NULL, &res), ENG_EMISUSE);
    assert_int_equal(eng_rule_eval_row(r, NULL, NULL, &res), ENG_EINVAL);
    assert_int_equal(eng_rule_eval_row(r, rt_get, NULL, NULL), ENG_EINVAL);
    assert_int_equal(eng_rule_eval_row(r, bad_get, &mode, &res), ENG_ETYPE);
    assert_string_equal(eng_error_last()->detail, "city");
    mode = 1;
    assert_int_equal(eng_rule_eval_row(r, bad_get, &mode, &res), ENG_EUSER);
    assert_int_equal(eng_rule_text(NULL, NULL, 0, NULL), ENG_EMISUSE);
    assert_int_equal(eng_rule_text(r, NULL, 5, NULL), ENG_EINVAL);
    size_t need = 0;
    assert_int_equal(eng_rule_text(r, NULL, 0, &need), ENG_ERANGE);
    assert_int_equal(need, strlen("city == \"Pune\"") + 1);

    /* batches */
    uint32_t codes[3] = {0, 1, 7};
    const char *dict[2] = {"Pune", "Delhi"};
    eng_rule_column cols[RT_NFIELDS];
    memset(cols, 0, sizeof cols);
    cols[1].type = ENG_RT_STRING;
    cols[1].data = codes;
    cols[1].dict = dict;
    cols[1].dict_size = 2;
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 2, cols, RT_NFIELDS, NULL};
    uint64_t sel[1];
    size_t count = 9;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, &count), ENG_OK);
    assert_int_equal(count, 1);
    assert_int_equal(sel[0], 1);
    b.nrows = 3; /* code 7 is past the dictionary */
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, &count), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "city");
    assert_int_equal(sel[0], 0);
    b.nrows = 2;
    assert_int_equal(eng_rule_eval_batch(r, NULL, NULL, sel, NULL), ENG_EINVAL);
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, NULL, NULL), ENG_EINVAL);
    b.nrows = SIZE_MAX;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_ERANGE);
    b.nrows = 2;
    b.version = 3;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EVERSION);
    b.version = ENG_RULE_BATCH_VERSION;
    b.ncolumns = 1;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EINVAL);
    b.ncolumns = RT_NFIELDS;
    cols[1].type = ENG_RT_INT;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "city");
    cols[1].type = ENG_RT_STRING;
    cols[1].dict = NULL;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EINVAL);
    const char *holey[2] = {"Pune", NULL};
    cols[1].dict = holey;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EINVAL);
    assert_non_null(strstr(eng_error_last()->message, "dictionary entry 1 is NULL"));
    cols[1].dict = dict;
    cols[1].data = NULL;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel, NULL), ENG_EINVAL);
    /* a bad code inside a full, dense word (the SIMD path) is found too; on a null row it is ignored */
    uint32_t many[130];
    uint64_t nb[3] = {0, 0, 0}, sel3[3];
    for (int i = 0; i < 130; i++)
        many[i] = (uint32_t)(i % 2);
    many[70] = 99;
    cols[1].data = many;
    b.nrows = 130;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel3, &count), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "city");
    nb[1] = (uint64_t)1 << 6;
    cols[1].nulls = nb;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, sel3, &count), ENG_OK);
    assert_int_equal(count, 64); /* 65 even rows hold "Pune", row 70 is null */
    assert_int_equal(sel3[1] >> 6 & 1, 0);
    cols[1].nulls = NULL;
    cols[1].data = codes;
    b.nrows = 2;
    eng_rule_free(r);
    eng_rule_free(NULL);

    /* builder argument checks leave the builder unchanged */
    eng_rule_builder *bld = NULL;
    assert_int_equal(eng_rule_builder_new(NULL, &bld), ENG_EMISUSE);
    assert_int_equal(eng_rule_builder_new(e, NULL), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_new(e, &bld), ENG_OK);
    eng_rule_value v[2] = {rt_str("Pune"), rt_str("x\xff")}; /* not UTF-8 */
    assert_int_equal(eng_rule_builder_add(NULL, "city", ENG_RULE_OP_EQ, 0, v, 1), ENG_EMISUSE);
    assert_int_equal(eng_rule_builder_add(bld, NULL, ENG_RULE_OP_EQ, 0, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "ci ty", ENG_RULE_OP_EQ, 0, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", (eng_rule_op)99, 0, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_EQ, 2, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_EQ, 0, v, 2), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_BETWEEN, 0, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_IS_NULL, 0, v, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_IN, 0, NULL, 1), ENG_EINVAL);
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_EQ, 0, &v[1], 1), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "values[0]");
    eng_rule_value nullv = rt_null();
    assert_int_equal(eng_rule_builder_add(bld, "city", ENG_RULE_OP_EQ, 0, &nullv, 1), ENG_EINVAL);
    /* nothing was added: compiles to true */
    assert_int_equal(eng_rule_builder_compile(bld, &o, &r), ENG_OK);
    char text[64];
    assert_int_equal(eng_rule_text(r, text, sizeof text, NULL), ENG_OK);
    assert_string_equal(text, "true");
    eng_rule_free(r);
    /* misspelt field in the builder: the compile error names it */
    assert_int_equal(eng_rule_builder_add(bld, "citty", ENG_RULE_OP_EQ, 0, v, 1), ENG_OK);
    assert_int_equal(eng_rule_builder_compile(bld, &o, &r), ENG_ETYPE);
    assert_non_null(strstr(eng_error_last()->message, "unknown field 'citty', did you mean 'city'?"));
    eng_rule_builder_free(bld);
    eng_rule_builder_free(NULL);
    eng_close(e);
    test_alloc_assert_clean();
}

/* ---- OOM: every allocation index fails -> clean ENOMEM, no leak ---- */
typedef struct oom_arg {
    eng_engine *e;
} oom_arg;

static int oom_body(void *vp)
{
    oom_arg *a = vp;
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL, *r2 = NULL;
    const char *text = "(tier in ('gold', 'silver', 'GOLD') and days_since_purchase > 30 and lower(city) == 'pune') "
                       "or amount between 1.5 and 3000 or (birthday < date('2026-01-01') and not vip) "
                       "or items contains 'SKU-1' or city starts with upper('p') or last_seen is null";
    int rc = eng_rule_compile(a->e, text, &o, &r);
    if (rc)
        return rc;
    /* batch of 3 rows */
    uint32_t codes[3] = {0, 1, 0};
    const char *dict[2] = {"gold", "Pune"};
    int64_t ints[3] = {40, 10, 50};
    int32_t dates[3] = {1, 2, 3};
    uint8_t bools[3] = {0, 1, 0};
    uint32_t offs[4] = {0, 1, 1, 2}, lcodes[2] = {0, 1};
    eng_rule_column cols[RT_NFIELDS];
    memset(cols, 0, sizeof cols);
    for (int f = 0; f < (int)RT_NFIELDS; f++)
        cols[f].type = rt_fields[f].type;
    cols[0].data = cols[1].data = codes;
    cols[0].dict = cols[1].dict = cols[7].dict = dict;
    cols[0].dict_size = cols[1].dict_size = cols[7].dict_size = 2;
    cols[2].data = cols[3].data = cols[6].data = ints;
    cols[3].scale = 2;
    cols[4].data = bools;
    cols[5].data = dates;
    cols[7].data = offs;
    cols[7].list_codes = lcodes;
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 3, cols, RT_NFIELDS, NULL};
    uint64_t sel[1];
    void *blob = NULL;
    size_t len = 0;
    char buf[1024];
    eng_rule_builder *bld = NULL;
    eng_rule_value v[2] = {rt_str("gold"), rt_str("silver")};
    if (!(rc = eng_rule_eval_batch(r, &b, NULL, sel, NULL)) && !(rc = eng_rule_text(r, buf, sizeof buf, NULL)) &&
        !(rc = eng_rule_serialize(r, &blob, &len)) && !(rc = eng_rule_deserialize(a->e, blob, len, &o, &r2)) &&
        !(rc = eng_rule_save(r, "oom")) && !(rc = eng_rule_builder_new(a->e, &bld)) &&
        !(rc = eng_rule_builder_add(bld, "tier", ENG_RULE_OP_IN, 0, v, 2)) && !(rc = eng_rule_builder_group(bld)) &&
        !(rc = eng_rule_builder_add(bld, "city", ENG_RULE_OP_EQ, 1, v, 1))) {
        eng_rule_free(r2);
        r2 = NULL;
        if (!(rc = eng_rule_builder_compile(bld, &o, &r2))) {
            eng_rule_free(r2);
            r2 = NULL;
            rc = eng_rule_load(a->e, "oom", &o, &r2);
        }
    }
    eng_rule_builder_free(bld);
    eng_free(a->e, blob);
    eng_rule_free(r2);
    eng_rule_free(r);
    return rc;
}

static void oom(void **s)
{
    (void)s;
    test_alloc_reset();
    oom_arg a = {rt_engine()};
    /* the store keeps what is saved: save once first so runs only replace it */
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL;
    assert_int_equal(eng_rule_compile(a.e, "vip", &o, &r), ENG_OK);
    assert_int_equal(eng_rule_save(r, "oom"), ENG_OK);
    eng_rule_free(r);
    int runs = test_oom_loop(oom_body, &a);
    assert_true(runs > 50);
    eng_close(a.e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(type_errors),
        cmocka_unit_test(limits),
        cmocka_unit_test(api_checks),
        cmocka_unit_test(oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
