/* Literals and text (issues 16 and 18): every case compiles (or fails with the
 * documented code and position) and gives the same answer on the row and the
 * batch evaluator, and its canonical text compiles back to the same text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

/* A schema with nullable columns: s (string), i (int), d (decimal scale 2), n (int, always null) */
static const eng_rule_field lf[] = {
    {"s", ENG_RT_STRING, 0}, {"i", ENG_RT_INT, 0}, {"d", ENG_RT_DECIMAL, 2}, {"n", ENG_RT_INT, 0},
    {"dt", ENG_RT_DATE, 0}};
#define LF_N (sizeof lf / sizeof lf[0])

typedef struct lrow {
    const char *s; size_t slen; int s_null;
    int64_t i, d;
    int i_null;
    int32_t dt;
} lrow;

static int lget(uint32_t f, eng_rule_value *out, void *user)
{
    const lrow *r = user;
    memset(out, 0, sizeof *out);
    switch (f) {
    case 0:
        if (!r->s_null) {
            out->type = ENG_RT_STRING;
            out->v.s.ptr = r->s;
            out->v.s.len = r->slen;
        }
        break;
    case 1:
        if (!r->i_null) {
            out->type = ENG_RT_INT;
            out->v.i = r->i;
        }
        break;
    case 2:
        out->type = ENG_RT_DECIMAL;
        out->scale = 2;
        out->v.i = r->d;
        break;
    case 4:
        out->type = ENG_RT_DATE;
        out->v.date = r->dt;
        break;
    default: break; /* n: null */
    }
    return ENG_OK;
}

static eng_rule_options lopts(eng_time now)
{
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = lf;
    o.nfields = LF_N;
    o.now = now;
    return o;
}

/* Row result of text on row, checked against the batch evaluator (the row
 * as a batch of one) and against the canonical text's own result. */
static int eval1(eng_engine *e, const char *text, const lrow *row)
{
    eng_rule_options o = lopts(RT_NOW);
    eng_rule *r = NULL;
    if (eng_rule_compile(e, text, &o, &r) != ENG_OK)
        fail_msg("'%s': %s (%s)", text, eng_error_last()->message, eng_error_last()->detail);
    int res = -1;
    assert_int_equal(eng_rule_eval_row(r, lget, (void *)row, &res), ENG_OK);
    /* batch of one row */
    const char *dict[1] = {row->s};
    uint32_t dlen[1] = {(uint32_t)row->slen}, code = 0;
    uint64_t snull = (uint64_t)row->s_null, inull = (uint64_t)row->i_null, allnull = 1;
    int64_t iv = row->i, dv = row->d, zero = 0;
    int32_t dtv = row->dt;
    eng_rule_column cols[LF_N] = {
        {ENG_RT_STRING, 0, &code, &snull, dict, dlen, 1, NULL}, {ENG_RT_INT, 0, &iv, &inull, NULL, NULL, 0, NULL},
        {ENG_RT_DECIMAL, 2, &dv, NULL, NULL, NULL, 0, NULL},   {ENG_RT_INT, 0, &zero, &allnull, NULL, NULL, 0, NULL},
        {ENG_RT_DATE, 0, &dtv, NULL, NULL, NULL, 0, NULL}};
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 1, cols, LF_N, NULL};
    uint64_t sel = 0;
    assert_int_equal(eng_rule_eval_batch(r, &b, NULL, &sel, NULL), ENG_OK);
    if ((int)(sel & 1) != (res == ENG_RULE_TRUE))
        fail_msg("'%s': row says %d, batch %d", text, res, (int)(sel & 1));
    /* the canonical text compiles to itself */
    char t1[4096], t2[4096];
    assert_int_equal(eng_rule_text(r, t1, sizeof t1, NULL), ENG_OK);
    eng_rule *r2 = NULL;
    if (eng_rule_compile(e, t1, &o, &r2) != ENG_OK)
        fail_msg("canonical '%s' of '%s': %s", t1, text, eng_error_last()->message);
    assert_int_equal(eng_rule_text(r2, t2, sizeof t2, NULL), ENG_OK);
    assert_string_equal(t1, t2);
    int res2 = -1;
    assert_int_equal(eng_rule_eval_row(r2, lget, (void *)row, &res2), ENG_OK);
    assert_int_equal(res, res2);
    eng_rule_free(r2);
    eng_rule_free(r);
    return res;
}

static void expect_err(eng_engine *e, const char *text, int code, const char *pos, const char *msg)
{
    eng_rule_options o = lopts(RT_NOW);
    eng_rule *r = NULL;
    int rc = eng_rule_compile(e, text, &o, &r);
    if (rc != code || strcmp(eng_error_last()->detail, pos) != 0 || !strstr(eng_error_last()->message, msg))
        fail_msg("'%s': got %d %s '%s', want %d %s '%s'", text, rc, eng_error_last()->detail,
                 eng_error_last()->message, code, pos, msg);
    assert_null(r);
}

static char *canon_of(eng_engine *e, const char *text, eng_time now)
{
    eng_rule_options o = lopts(now);
    eng_rule *r = NULL;
    if (eng_rule_compile(e, text, &o, &r) != ENG_OK)
        fail_msg("'%s': %s", text, eng_error_last()->message);
    static char buf[4096];
    assert_int_equal(eng_rule_text(r, buf, sizeof buf, NULL), ENG_OK);
    eng_rule_free(r);
    return buf;
}

/* issue 16: a string ending in a backslash is unterminated, not a shorter string */
static void trailing_backslash_is_unterminated(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    expect_err(e, "s == \"abc\\", ENG_EPARSE, "1:6", "unterminated string");
    expect_err(e, "s == \"\\", ENG_EPARSE, "1:6", "unterminated string");
    expect_err(e, "s == '\\", ENG_EPARSE, "1:6", "unterminated string");
    expect_err(e, "s == \"a\\\"", ENG_EPARSE, "1:6", "unterminated string");
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 18: \t, \r and \u{...} escapes; any stored value can be matched */
static void escapes(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"a\tb\rc\x01\xc3\xa9\xf0\x9f\x98\x80\"\\'\n", 0, 0, 1, 0, 0, 0};
    row.slen = strlen(row.s);
    assert_int_equal(eval1(e, "s == \"a\\tb\\rc\\u{1}\\u{E9}\\u{1f600}\\\"\\\\'\\n\"", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "s == 'a\\tb\\rc\\u{01}\\u{e9}\\u{01F600}\"\\\\\\'\\n'", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "s starts with \"a\\u{9}\"", &row), ENG_RULE_TRUE);
    lrow nul = {"x\0y", 3, 0, 1, 0, 0, 0};
    assert_int_equal(eval1(e, "s == \"x\\u{0}y\"", &nul), ENG_RULE_TRUE);
    /* the canonical text escapes control characters */
    assert_string_equal(canon_of(e, "s == \"\\u{1}\\t\\r\\n\\u{7f}\\u{e9}\"", RT_NOW),
                        "s == \"\\u{1}\\t\\r\\n\\u{7f}\xc3\xa9\"");
    expect_err(e, "s == \"\\u{D800}\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\u{110000}\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\u{}\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\u41\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\u{1234567}\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\u{41\"", ENG_EPARSE, "1:7", "bad \\u escape");
    expect_err(e, "s == \"\\x01\"", ENG_EPARSE, "1:7", "unknown escape");
    expect_err(e, "s == \"a\tb\"", ENG_EPARSE, "1:8", "control character");
    /* the builder quotes any valid UTF-8 value with the same routine */
    eng_rule_builder *b = NULL;
    assert_int_equal(eng_rule_builder_new(e, &b), ENG_OK);
    eng_rule_value v = rt_str(row.s);
    assert_int_equal(eng_rule_builder_add(b, "s", ENG_RULE_OP_EQ, 0, &v, 1), ENG_OK);
    eng_rule_options o = lopts(RT_NOW);
    eng_rule *r = NULL;
    assert_int_equal(eng_rule_builder_compile(b, &o, &r), ENG_OK);
    int res = -1;
    assert_int_equal(eng_rule_eval_row(r, lget, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    eng_rule_free(r);
    eng_rule_builder_free(b);
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 18: invalid UTF-8 in a comment is refused with its position */
static void comments_are_utf8(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"x", 1, 0, 1, 0, 0, 0};
    assert_int_equal(eval1(e, "i == 1 -- caf\xc3\xa9\n and s == 'x' -- ok", &row), ENG_RULE_TRUE);
    expect_err(e, "i == 1 -- caf\xc3", ENG_EPARSE, "1:14", "comment is not valid UTF-8");
    expect_err(e, "i == 1\n-- a\xff b\nand true", ENG_EPARSE, "2:5", "comment is not valid UTF-8");
    expect_err(e, "i == 1 -- \xed\xa0\x80", ENG_EPARSE, "1:11", "comment is not valid UTF-8"); /* surrogate */
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 18: function names are case-insensitive, like keywords */
static void function_names_ignore_case(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"Pune", 4, 0, 1, 0, 0, 20782};
    assert_int_equal(eval1(e, "LOWER(s) == 'pune' AND Len(s) == 4 and UPPER(s) = 'PUNE'", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "dt == TODAY() and dt == Date('2026-11-25')", &row), ENG_RULE_TRUE);
    assert_string_equal(canon_of(e, "LOWER(s) == 'pune'", RT_NOW), "lower(s) == \"pune\"");
    expect_err(e, "LOWR(s) == 'x'", ENG_ETYPE, "1:1", "unknown function 'LOWR'");
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 16: -9223372036854775808 is a literal (it imports) */
static void int64_min_literal(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"x", 1, 0, INT64_MIN, INT64_MIN, 0, 0};
    assert_int_equal(eval1(e, "i == -9223372036854775808", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "i in (-9223372036854775808, 5)", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "d == -92233720368547758.08", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "i < -9223372036854775807", &row), ENG_RULE_TRUE);
    assert_string_equal(canon_of(e, "-9223372036854775808 == i", RT_NOW), "i == -9223372036854775808");
    expect_err(e, "i == 9223372036854775808", ENG_EPARSE, "1:6", "number out of range");
    expect_err(e, "i == -9223372036854775809", ENG_EPARSE, "1:7", "number out of range");
    /* the builder writes it too */
    eng_rule_builder *b = NULL;
    assert_int_equal(eng_rule_builder_new(e, &b), ENG_OK);
    eng_rule_value v = rt_int(ENG_RT_INT, INT64_MIN, 0), dv = rt_int(ENG_RT_DECIMAL, INT64_MIN, 2);
    assert_int_equal(eng_rule_builder_add(b, "i", ENG_RULE_OP_EQ, 0, &v, 1), ENG_OK);
    assert_int_equal(eng_rule_builder_add(b, "d", ENG_RULE_OP_EQ, 0, &dv, 1), ENG_OK);
    eng_rule_options o = lopts(RT_NOW);
    eng_rule *r = NULL;
    assert_int_equal(eng_rule_builder_compile(b, &o, &r), ENG_OK);
    int res = -1;
    assert_int_equal(eng_rule_eval_row(r, lget, &row, &res), ENG_OK);
    assert_int_equal(res, ENG_RULE_TRUE);
    eng_rule_free(r);
    eng_rule_builder_free(b);
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 16: `in ()` is false (and `not in ()` true), even for null, as in SQL */
static void empty_in_list(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"x", 1, 0, 7, 0, 0, 0}, nulls = {"", 0, 1, 0, 0, 1, 0};
    const lrow *rows[] = {&row, &nulls};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(eval1(e, "s in ()", rows[k]), ENG_RULE_FALSE);
        assert_int_equal(eval1(e, "s not in ()", rows[k]), ENG_RULE_TRUE);
        assert_int_equal(eval1(e, "i in ()", rows[k]), ENG_RULE_FALSE);
        assert_int_equal(eval1(e, "i not in ( )", rows[k]), ENG_RULE_TRUE);
        assert_int_equal(eval1(e, "n in () or i not in ()", rows[k]), ENG_RULE_TRUE);
    }
    assert_string_equal(canon_of(e, "i not in ()", RT_NOW), "i not in ()");
    expect_err(e, "i in (,)", ENG_EPARSE, "1:7", "expected a value");
    expect_err(e, "i in (1,)", ENG_EPARSE, "1:9", "expected a value");
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 18: a mixed-scale in list is exact, like the equivalent or chain */
static void mixed_scale_in_list(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    static const char *const lists[] = {
        "(922337203685477581, 0.5)", "(0.5, 922337203685477581, -9223372036854775808, 0.000000001)",
        "(1, 1.0, 1.00, 2.5, 45.10, -3.333)", "(45.1, 92233720368547758.07)"};
    static const int64_t ivals[] = {922337203685477581, 0, 1, 2, -9223372036854775807 - 1, 45};
    static const int64_t dvals[] = {50, 100, 250, 4510, 9223372036854775807, -333, 0}; /* scale 2 */
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        /* the equivalent or chain, built from the same items */
        char items[256], chain_i[1024] = "", chain_d[1024] = "", in_i[300], in_d[300];
        snprintf(items, sizeof items, "%s", lists[l] + 1);
        items[strlen(items) - 1] = 0;
        for (char *tok = strtok(items, ", "); tok; tok = strtok(NULL, ", ")) {
            size_t n = strlen(chain_i);
            snprintf(chain_i + n, sizeof chain_i - n, "%si == %s", n ? " or " : "", tok);
            n = strlen(chain_d);
            snprintf(chain_d + n, sizeof chain_d - n, "%sd == %s", n ? " or " : "", tok);
        }
        snprintf(in_i, sizeof in_i, "i in %s", lists[l]);
        snprintf(in_d, sizeof in_d, "d in %s", lists[l]);
        for (size_t v = 0; v < sizeof ivals / sizeof ivals[0]; v++) {
            lrow row = {"x", 1, 0, ivals[v], 0, 0, 0};
            assert_int_equal(eval1(e, in_i, &row), eval1(e, chain_i, &row));
        }
        for (size_t v = 0; v < sizeof dvals / sizeof dvals[0]; v++) {
            lrow row = {"x", 1, 0, 0, dvals[v], 0, 0};
            assert_int_equal(eval1(e, in_d, &row), eval1(e, chain_d, &row));
        }
    }
    lrow big = {"x", 1, 0, 922337203685477581, 0, 0, 0};
    assert_int_equal(eval1(e, "i in (922337203685477581, 0.5)", &big), ENG_RULE_TRUE);
    assert_string_equal(canon_of(e, "i in (2.50, 1, 1.0, 0.5)", RT_NOW), "i in (0.5, 1, 2.50)");
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 16: today() stays symbolic in stored text: a rule saved one day and
 * loaded the next compares with the next day */
static void today_stays_symbolic(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    const int32_t day = 20782; /* 2026-11-25, RT_NOW's day */
    assert_string_equal(canon_of(e, "dt == today()", RT_NOW), "dt == today()");
    assert_string_equal(canon_of(e, "today() > dt", RT_NOW), "dt < today()");
    assert_string_equal(canon_of(e, "days_since(date(\"2026-11-20\")) == 5", RT_NOW),
                        "days_since(date(\"2026-11-20\")) == 5");
    assert_string_equal(canon_of(e, "dt in (today(), date(\"2024-01-01\"))", RT_NOW),
                        "dt in (today(), date(\"2024-01-01\"))");
    assert_string_equal(canon_of(e, "lower(\"AB\") == s", RT_NOW), "s == \"ab\"");
    const char *texts[] = {"dt == today()", "dt in (today(), date(\"2024-01-01\"))",
                           "days_since(date(\"2026-11-20\")) == 5 and dt > date(\"2000-01-01\")"};
    for (size_t k = 0; k < 3; k++) {
        eng_rule_options o = lopts(RT_NOW);
        eng_rule *r = NULL, *later = NULL;
        assert_int_equal(eng_rule_compile(e, texts[k], &o, &r), ENG_OK);
        assert_int_equal(eng_rule_save(r, "t"), ENG_OK);
        lrow today = {"x", 1, 0, 0, 0, 0, day}, tomorrow = {"x", 1, 0, 0, 0, 0, day + 1};
        int res = -1;
        assert_int_equal(eng_rule_eval_row(r, lget, &today, &res), ENG_OK);
        assert_int_equal(res, ENG_RULE_TRUE);
        o.now = RT_NOW + ENG_DAY; /* loaded the next day */
        assert_int_equal(eng_rule_load(e, "t", &o, &later), ENG_OK);
        assert_int_equal(eng_rule_eval_row(later, lget, &tomorrow, &res), ENG_OK);
        assert_int_equal(res, k == 2 ? ENG_RULE_FALSE : ENG_RULE_TRUE); /* 2026-11-20 is now 6 days ago */
        assert_int_equal(eng_rule_eval_row(later, lget, &today, &res), ENG_OK);
        assert_int_equal(res, ENG_RULE_FALSE);
        eng_rule_free(r);
        eng_rule_free(later);
    }
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 16: canonical text is never deeper than its rule: `not contains`
 * prints as one predicate, so a rule at the depth limit saves and loads */
static void canonical_text_within_depth(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    static const char *const ops[] = {"contains", "starts with", "ends with"};
    for (int k = 0; k < 3; k++) {
        char text[2048] = "";
        for (int i = 0; i < 64; i++)
            strcat(text, "not ");
        snprintf(text + strlen(text), sizeof text - strlen(text), "s not %s \"x\"", ops[k]);
        eng_rule_options o = lopts(RT_NOW);
        o.max_depth = 64;
        eng_rule *r = NULL, *back = NULL;
        assert_int_equal(eng_rule_compile(e, text, &o, &r), ENG_OK);
        assert_int_equal(eng_rule_save(r, "deep"), ENG_OK);
        if (eng_rule_load(e, "deep", &o, &back) != ENG_OK)
            fail_msg("'%s' saved but does not load: %s", text, eng_error_last()->message);
        char t[2048];
        assert_int_equal(eng_rule_text(back, t, sizeof t, NULL), ENG_OK);
        assert_non_null(strstr(t, "s not "));
        eng_rule_free(r);
        eng_rule_free(back);
    }
    assert_string_equal(canon_of(e, "not (s contains 'x') and not s starts with 'y'", RT_NOW),
                        "s not contains \"x\" and s not starts with \"y\"");
    eng_close(e);
    test_alloc_assert_clean();
}

/* issue 18: between with a null bound is `>= and <=`: the other bound decides */
static void between_with_null_bound(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    lrow row = {"x", 1, 0, 10, 0, 0, 0}; /* i = 10, n null */
    assert_int_equal(eval1(e, "i not between n and 5", &row), ENG_RULE_TRUE);
    assert_int_equal(eval1(e, "i between n and 5", &row), ENG_RULE_FALSE);
    assert_int_equal(eval1(e, "i between n and 50", &row), ENG_RULE_NULL);
    assert_int_equal(eval1(e, "i between 50 and n", &row), ENG_RULE_FALSE);
    assert_int_equal(eval1(e, "i >= n and i <= 5", &row), ENG_RULE_FALSE);
    eng_close(e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trailing_backslash_is_unterminated),
        cmocka_unit_test(escapes),
        cmocka_unit_test(comments_are_utf8),
        cmocka_unit_test(function_names_ignore_case),
        cmocka_unit_test(int64_min_literal),
        cmocka_unit_test(empty_in_list),
        cmocka_unit_test(mixed_scale_in_list),
        cmocka_unit_test(today_stays_symbolic),
        cmocka_unit_test(canonical_text_within_depth),
        cmocka_unit_test(between_with_null_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
