/* The compact encodings of the customer table, checked against plain arrays:
 * the consent-time column by palette (few distinct times in one byte a row,
 * past 255 in two, past 65,535 widened to int64, rows set one by one and in
 * batches, growth and shrinking,
 * allocation failures), and the string dictionary whose slots keep only part of the
 * hash (many strings across rehashes, look-ups of absent ones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/dict.h"
#include "audience/tcol.h"
#include "base/error.h"
#include "test_util.h"
#include "test_alloc.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}

static eng__mem mem;

static void check_all(const eng__tcol *c, const int64_t *ref, size_t rows)
{
    for (size_t i = 0; i < rows; i++)
        if (eng__tcol_get(c, (uint32_t)i) != ref[i])
            fail_msg("row %zu: %lld, want %lld", i, (long long)eng__tcol_get(c, (uint32_t)i), (long long)ref[i]);
}

/* Random sets and clears drawn from @p distinct times (0 = clear). */
static void run_random(size_t rows, uint64_t distinct, int expect_wide)
{
    eng__tcol c;
    memset(&c, 0, sizeof c);
    int64_t *ref = calloc(rows, sizeof *ref);
    assert_non_null(ref);
    uint32_t batch[64];
    assert_int_equal(eng__tcol_set_many(&mem, &c, rows, batch, 0, 5), ENG_OK); /* no rows: nothing set */
    batch[0] = 0;
    assert_int_equal(eng__tcol_set_many(&mem, &c, rows, batch, 1, 0), ENG_OK); /* 0 allocates nothing */
    assert_null(c.code8);
    for (size_t k = 0; k < rows * 3; k++) {
        uint32_t id = (uint32_t)(rnd() % rows);
        uint64_t r = rnd() % (distinct + 1);
        int64_t ts = r == distinct ? 0 : 1700000000000ll + (int64_t)r * 1000 - (r % 7 == 0 ? 3000000000000ll : 0);
        if (rnd() % 8 == 0) { /* a batch of rows to one time (an import's column) */
            size_t n = 1 + rnd() % 64;
            for (size_t b = 0; b < n; b++)
                ref[batch[b] = (uint32_t)(rnd() % rows)] = ts;
            assert_int_equal(eng__tcol_set_many(&mem, &c, rows, batch, n, ts), ENG_OK);
            continue;
        }
        assert_int_equal(eng__tcol_set(&mem, &c, rows, id, ts), ENG_OK);
        ref[id] = ts;
    }
    check_all(&c, ref, rows);
    assert_int_equal(c.wide != NULL, expect_wide);
    assert_int_equal(c.code8 != NULL, !expect_wide && distinct <= 255);
    /* grow: new rows read 0 and take values; shrink back keeps the first rows */
    assert_int_equal(eng__tcol_resize(&mem, &c, rows, rows + 100), ENG_OK);
    for (size_t i = rows; i < rows + 100; i++)
        assert_int_equal(eng__tcol_get(&c, (uint32_t)i), 0);
    assert_int_equal(eng__tcol_set(&mem, &c, rows + 100, (uint32_t)rows + 99, 42), ENG_OK);
    assert_int_equal(eng__tcol_get(&c, (uint32_t)rows + 99), 42);
    assert_int_equal(eng__tcol_resize(&mem, &c, rows + 100, rows), ENG_OK);
    check_all(&c, ref, rows);
    assert_true(eng__tcol_bytes(&c, rows) >= rows * (expect_wide ? 8 : distinct > 255 ? 2 : 1));
    eng__tcol_free(&mem, &c);
    free(ref);
    test_alloc_assert_clean();
}

static void tcol_palette(void **state)
{
    (void)state;
    rng_state = 1;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    run_random(5000, 1, 0);   /* one time: the import's clock */
    run_random(5000, 255, 0); /* one byte a row */
    run_random(5000, 300, 0); /* a few hundred: two bytes */
    /* nothing allocated while every time is 0 */
    eng__tcol c;
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__tcol_set(&mem, &c, 10, 3, 0), ENG_OK);
    assert_null(c.code8);
    assert_int_equal(eng__tcol_get(&c, 3), 0);
    assert_int_equal(eng__tcol_bytes(&c, 10), 0);
    eng__tcol_free(&mem, &c);
}

static void tcol_widens(void **state)
{
    (void)state;
    rng_state = 2;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    run_random(200000, 150000, 1); /* more distinct times than the palette holds */
    /* exactly 65,535 distinct times fit; the next one widens */
    eng__tcol c;
    memset(&c, 0, sizeof c);
    size_t rows = 70000;
    for (uint32_t i = 0; i < 65535; i++)
        assert_int_equal(eng__tcol_set(&mem, &c, rows, i, 1000 + i), ENG_OK);
    assert_null(c.wide);
    assert_int_equal(eng__tcol_set(&mem, &c, rows, 65535, 5), ENG_OK);
    assert_non_null(c.wide);
    for (uint32_t i = 0; i < 65535; i++)
        assert_int_equal(eng__tcol_get(&c, i), 1000 + i);
    assert_int_equal(eng__tcol_get(&c, 65535), 5);
    assert_int_equal(eng__tcol_get(&c, 65536), 0);
    eng__tcol_free(&mem, &c);
    test_alloc_assert_clean();
}

/* Every allocation failure leaves the column as it was. */
typedef struct oom_arg {
    int64_t *ref;
    size_t rows;
} oom_arg;

static int oom_once(void *arg)
{
    oom_arg *a = arg;
    eng__tcol c;
    memset(&c, 0, sizeof c);
    int rc = ENG_OK;
    memset(a->ref, 0, a->rows * sizeof *a->ref);
    for (uint32_t i = 0; i < 70000 && !rc; i++) {
        uint32_t id = (uint32_t)((i * 7919u) % a->rows);
        int64_t ts = i < 200 ? 100 + i : 1000 + i;
        rc = eng__tcol_set(&mem, &c, a->rows, id, ts);
        if (!rc)
            a->ref[id] = ts;
    }
    if (!rc)
        rc = eng__tcol_resize(&mem, &c, a->rows, a->rows * 2);
    check_all(&c, a->ref, a->rows); /* the failed set changed nothing */
    eng__tcol_free(&mem, &c);
    return rc;
}

static void tcol_alloc_failures(void **state)
{
    (void)state;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    oom_arg a = {calloc(80000, sizeof(int64_t)), 80000};
    assert_non_null(a.ref);
    assert_true(test_oom_loop(oom_once, &a) > 3);
    free(a.ref);
    test_alloc_assert_clean();
}

/* The dictionary: many strings (several rehashes), codes stable, look-ups of
 * present and absent strings, against the strings themselves. */
static void dict_tags(void **state)
{
    (void)state;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    eng__dict d;
    eng__dict_init(&d, &mem);
    const uint32_t n = 100000;
    char s[32];
    for (uint32_t i = 0; i < n; i++) {
        int l = snprintf(s, sizeof s, "c%u", i * 3);
        uint32_t code;
        assert_int_equal(eng__dict_intern(&d, s, (size_t)l, &code), ENG_OK);
        assert_int_equal(code, i);
    }
    assert_int_equal(d.n, n);
    assert_true((uint64_t)d.n * 4 <= (uint64_t)d.nslots * 3);
    for (uint32_t i = 0; i < n * 3; i++) {
        int l = snprintf(s, sizeof s, "c%u", i);
        int64_t f = eng__dict_find(&d, s, (size_t)l);
        assert_int_equal(f, i % 3 ? -1 : (int64_t)(i / 3));
    }
    /* interning again finds the same code; a reserve keeps every code */
    uint32_t code;
    assert_int_equal(eng__dict_intern(&d, "c300", 4, &code), ENG_OK);
    assert_int_equal(code, 100);
    assert_int_equal(eng__dict_reserve(&d, (size_t)n * 4), ENG_OK);
    for (uint32_t i = 0; i < n; i += 97) {
        int l = snprintf(s, sizeof s, "c%u", i * 3);
        assert_int_equal(eng__dict_find(&d, s, (size_t)l), i);
        size_t len;
        const char *t = eng__dict_str(&d, i, &len);
        assert_int_equal(len, (size_t)l);
        assert_memory_equal(t, s, len);
    }
    assert_int_equal(eng__dict_find(&d, "", 0), -1);
    eng__dict_free(&d);
    test_alloc_assert_clean();
}

/* eng__dict_intern_many against eng__dict_intern_h one string at a time:
 * random slices (a part's ids each) of strings of 1 to 200 bytes, repeated
 * within a slice and across slices, from empty through several index
 * sizes, with and without the kept hashes: the same codes, the same count
 * of new strings, the same bytes by code and the same look-ups. */
static void dict_many_as_one_at_a_time(void **state)
{
    (void)state;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    uint64_t r = 20261206;
    enum { N = 60000, POOL = 40000 };
    char *text = malloc((size_t)N * 200);
    const char **sp = malloc(N * sizeof *sp);
    size_t *sl = malloc(N * sizeof *sl);
    uint32_t *h = malloc(N * sizeof *h), *one = malloc(N * sizeof *one), *many = malloc(N * sizeof *many);
    assert_true(text && sp && sl && h && one && many);
    for (int keep = 0; keep < 2; keep++) {
        for (size_t i = 0; i < N; i++) { /* string i: one of POOL, its length by its number */
            uint64_t k = test_splitmix(&r) % POOL;
            size_t l = 1 + (size_t)(k * 7919 % (k % 5 ? 24 : 200));
            char *t = text + i * 200;
            for (size_t j = 0; j < l; j++)
                t[j] = (char)('!' + (k >> (j % 16)) % 90 + j % 3);
            sp[i] = t;
            sl[i] = l;
            h[i] = eng__dict_hash(t, l);
        }
        eng__dict a, b;
        eng__dict_init(&a, &mem);
        eng__dict_init(&b, &mem);
        assert_int_equal(eng__dict_keep_hashes(&a, keep), ENG_OK);
        assert_int_equal(eng__dict_keep_hashes(&b, keep), ENG_OK);
        uint64_t added_one = 0, added_many = 0;
        for (size_t i = 0; i < N; i++) {
            uint32_t before = a.n;
            assert_int_equal(eng__dict_intern_h(&a, sp[i], sl[i], h[i], &one[i]), ENG_OK);
            added_one += a.n != before;
        }
        for (size_t i = 0; i <= N;) { /* the last slice is empty */
            size_t m = i == N ? 0 : 1 + test_splitmix(&r) % (test_splitmix(&r) % 2 ? 9000 : 300);
            m = m < N - i ? m : N - i;
            assert_int_equal(eng__dict_intern_many(&b, sp + i, sl + i, h + i, m, many + i, &added_many), ENG_OK);
            i += m ? m : 1;
        }
        assert_memory_equal(one, many, N * sizeof *one);
        assert_int_equal(added_one, added_many);
        assert_int_equal(a.n, b.n);
        for (uint32_t c = 0; c < a.n; c++) {
            size_t la, lb;
            const char *ta = eng__dict_str(&a, c, &la), *tb = eng__dict_str(&b, c, &lb);
            assert_int_equal(la, lb);
            assert_memory_equal(ta, tb, la);
            assert_int_equal(eng__dict_find(&b, tb, lb), c);
            if (keep)
                assert_int_equal(b.hs[c], a.hs[c]);
        }
        assert_int_equal(eng__dict_find(&b, "\x01", 1), -1);
        eng__dict_free(&a);
        eng__dict_free(&b);
    }
    free(text);
    free(sp);
    free(sl);
    free(h);
    free(one);
    free(many);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcol_palette),
        cmocka_unit_test(tcol_widens),
        cmocka_unit_test(tcol_alloc_failures),
        cmocka_unit_test(dict_tags),
        cmocka_unit_test(dict_many_as_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
