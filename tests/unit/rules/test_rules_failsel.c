/* A failed batch evaluation selects no one: every error return of
 * eng_rule_eval_batch() is provoked with an output selection that starts all
 * ones (and a count that starts non-zero), and each must leave both zero. A
 * caller that ignores the return code then sends to nobody, not to everyone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

#define NR 130 /* three words, the last one partial */
#define NW ((NR + 63) / 64)

static const eng_rule_field fs_fields[] = {
    {"s", ENG_RT_STRING, 0}, {"i", ENG_RT_INT, 0}, {"d", ENG_RT_DECIMAL, 2}, {"l", ENG_RT_STRING_LIST, 0}};
#define FS_N (sizeof fs_fields / sizeof fs_fields[0])

typedef struct fixture {
    uint32_t s_codes[NR];
    int64_t ints[NR], decs[NR];
    uint32_t offs[NR + 1], items[NR];
    const char *dict[3];
    eng_rule_column cols[FS_N];
    eng_rule_batch batch;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->dict[0] = "a";
    f->dict[1] = "b";
    f->dict[2] = "c";
    for (uint32_t r = 0; r < NR; r++) {
        f->s_codes[r] = r % 3;
        f->ints[r] = r;
        f->decs[r] = (int64_t)r * 100;
        f->offs[r] = r;
        f->items[r] = r % 3;
    }
    f->offs[NR] = NR;
    f->cols[0] = (eng_rule_column){ENG_RT_STRING, 0, f->s_codes, NULL, f->dict, NULL, 3, NULL};
    f->cols[1] = (eng_rule_column){ENG_RT_INT, 0, f->ints, NULL, NULL, NULL, 0, NULL};
    f->cols[2] = (eng_rule_column){ENG_RT_DECIMAL, 2, f->decs, NULL, NULL, NULL, 0, NULL};
    f->cols[3] = (eng_rule_column){ENG_RT_STRING_LIST, 0, f->offs, NULL, f->dict, NULL, 3, f->items};
    f->batch = (eng_rule_batch){ENG_RULE_BATCH_VERSION, NR, f->cols, FS_N, NULL};
}

static eng_rule *compile(eng_engine *e, const char *text)
{
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fs_fields;
    o.nfields = FS_N;
    o.now = RT_NOW;
    eng_rule *r = NULL;
    if (eng_rule_compile(e, text, &o, &r) != ENG_OK)
        fail_msg("'%s': %s", text, eng_error_last()->message);
    return r;
}

/* Evaluate with sel all ones and count non-zero; check the code and that
 * nothing is selected afterwards. */
static void expect_fail(const eng_rule *r, const eng_rule_batch *b, int want, const char *what)
{
    uint64_t sel[NW + 1];
    size_t count = 12345;
    memset(sel, 0xff, sizeof sel);
    int rc = eng_rule_eval_batch(r, b, NULL, sel, &count);
    if (rc != want)
        fail_msg("%s: got %d, want %d", what, rc, want);
    size_t words = b && b->nrows <= NR ? (b->nrows + 63) / 64 : NW;
    for (size_t w = 0; w < words; w++)
        if (sel[w])
            fail_msg("%s: failed with sel[%zu] = %#llx (must select no one)", what, w, (unsigned long long)sel[w]);
    if (count != 0)
        fail_msg("%s: failed with count %zu", what, count);
    assert_true(sel[words] == ~(uint64_t)0); /* nothing past the caller's words is written */
}

static void failed_batch_selects_no_one(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule *rs = compile(e, "s == \"a\" or i >= 0"), *ri = compile(e, "i >= 0"), *rd = compile(e, "d >= 0"),
             *rl = compile(e, "any(x in l, x != \"zz\")"), *rsg = compile(e, "lower(s) != \"zz\" or i > 1000");
    fixture f;
    fixture_init(&f);
    /* the fixture is valid: every rule selects every row */
    const eng_rule *all[] = {rs, ri, rd, rl, rsg};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        uint64_t sel[NW];
        size_t count = 0;
        assert_int_equal(eng_rule_eval_batch(all[k], &f.batch, NULL, sel, &count), ENG_OK);
        assert_int_equal(count, NR);
    }

    /* handles and arguments */
    expect_fail(NULL, &f.batch, ENG_EMISUSE, "NULL rule");
    uint32_t foreign[64];
    memset(foreign, 0, sizeof foreign);
    expect_fail((const eng_rule *)(void *)foreign, &f.batch, ENG_EMISUSE, "foreign rule handle");
    {
        size_t count = 7;
        assert_int_equal(eng_rule_eval_batch(ri, NULL, NULL, (uint64_t[1]){~(uint64_t)0}, &count), ENG_EINVAL);
        assert_int_equal(count, 0);
        count = 7;
        assert_int_equal(eng_rule_eval_batch(ri, &f.batch, NULL, NULL, &count), ENG_EINVAL);
        assert_int_equal(count, 0);
    }
    /* batch shape */
    fixture_init(&f);
    f.batch.version = 99;
    expect_fail(ri, &f.batch, ENG_EVERSION, "bad batch version");
    fixture_init(&f);
    f.batch.ncolumns = 2;
    expect_fail(ri, &f.batch, ENG_EINVAL, "too few columns");
    fixture_init(&f);
    f.batch.columns = NULL;
    expect_fail(ri, &f.batch, ENG_EINVAL, "NULL columns");
    {
        size_t count = 7;
        fixture_init(&f);
        f.batch.nrows = ((size_t)1 << 40) + 1; /* no buffer that size exists: sel is not touched */
        uint64_t one = ~(uint64_t)0;
        assert_int_equal(eng_rule_eval_batch(ri, &f.batch, NULL, &one, &count), ENG_ERANGE);
        assert_int_equal(count, 0);
    }
    /* columns */
    fixture_init(&f);
    f.cols[1].type = ENG_RT_DECIMAL;
    expect_fail(ri, &f.batch, ENG_EINVAL, "decimal column for an int field");
    fixture_init(&f);
    f.cols[1].data = NULL;
    expect_fail(ri, &f.batch, ENG_EINVAL, "missing data");
    fixture_init(&f);
    f.cols[2].scale = 10;
    expect_fail(rd, &f.batch, ENG_EINVAL, "bad column scale");
    fixture_init(&f);
    f.cols[0].dict = NULL;
    expect_fail(rs, &f.batch, ENG_EINVAL, "missing dictionary");
    fixture_init(&f);
    f.cols[3].list_codes = NULL;
    expect_fail(rl, &f.batch, ENG_EINVAL, "list without item codes");
    /* values, found while evaluating (table, generic and list paths) */
    fixture_init(&f);
    f.s_codes[100] = 3;
    expect_fail(rs, &f.batch, ENG_ERANGE, "string code past the dictionary (table)");
    expect_fail(rsg, &f.batch, ENG_ERANGE, "string code past the dictionary (lower())");
    fixture_init(&f);
    f.dict[1] = NULL;
    expect_fail(rs, &f.batch, ENG_EINVAL, "NULL dictionary entry");
    fixture_init(&f);
    f.offs[70] = 75;
    expect_fail(rl, &f.batch, ENG_ERANGE, "list offsets going backwards");
    fixture_init(&f);
    f.items[129] = 9;
    expect_fail(rl, &f.batch, ENG_ERANGE, "list item past the dictionary");
    /* out of memory: every failing allocation selects no one */
    fixture_init(&f);
    for (uint64_t n = 1;; n++) {
        uint64_t sel[NW + 1];
        size_t count = 99;
        memset(sel, 0xff, sizeof sel);
        uint64_t before = test_alloc_failures();
        test_alloc_fail_at(n, 0);
        int rc = eng_rule_eval_batch(rl, &f.batch, NULL, sel, &count);
        test_alloc_fail_at(0, 0);
        if (test_alloc_failures() == before) {
            assert_int_equal(rc, ENG_OK);
            break;
        }
        assert_int_equal(rc, ENG_ENOMEM);
        for (size_t w = 0; w < NW; w++)
            assert_true(sel[w] == 0);
        assert_int_equal(count, 0);
    }
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        eng_rule_free((eng_rule *)all[k]);
    eng_close(e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_batch_selects_no_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
