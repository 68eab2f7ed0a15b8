/* eng__prog_sort (core/prog_sort.c): the same order as qsort, with a progress
 * step after every run and every 2^15 elements merged; cancelled at any of its
 * reports it returns ENG_ECANCELLED with the array still holding every element
 * (the caller's data stays whole for its own rollback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "core/engine_impl.h"
#include "test_alloc.h"

extern uint64_t eng__prog_every_ns;

typedef struct row {
    uint32_t key, pos; /* pos: ties broken by position, so the order is total */
} row;

static int by_key(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->pos > y->pos) - (x->pos < y->pos);
}

static unsigned reports, cancel_at;

static int on_progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)op, (void)done, (void)total, (void)user;
    return ++reports == cancel_at;
}

static eng_engine *open_engine(void)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.progress_fn = on_progress;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    return e;
}

static row *rows(size_t n, uint32_t seed)
{
    row *v = malloc(n * sizeof *v);
    assert_non_null(v);
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (row){(uint32_t)(x >> 40) % 5000, (uint32_t)i}; /* many equal keys */
    }
    return v;
}

static void same_as_qsort(void **state)
{
    (void)state;
    test_alloc_reset();
    eng__prog_every_ns = 1;
    eng_engine *e = open_engine();
    static const size_t sizes[] = {0, 1, 1000, 32768, 32769, 65536, 100003, 300000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        row *v = rows(n, (uint32_t)s + 1), *w = rows(n, (uint32_t)s + 1);
        eng__prog p;
        assert_int_equal(eng__prog_start(&p, e, "test.sort", 0), ENG_OK);
        reports = 0;
        cancel_at = 0;
        assert_int_equal(eng__prog_sort(&p, v, n, sizeof *v, by_key), ENG_OK);
        qsort(w, n, sizeof *w, by_key);
        if (n)
            assert_memory_equal(v, w, n * sizeof *v);
        if (n > 32768) /* a report per run and per 2^15 merged */
            assert_true(reports >= n / 32768);
        free(v);
        free(w);
    }
    /* Nothing to sort: an empty array may be NULL (a consent history without changes at
     * compaction; qsort's base is declared nonnull: UBSan stopped there, found by fuzz_api). */
    eng__prog p0;
    assert_int_equal(eng__prog_start(&p0, e, "test.sort", 0), ENG_OK);
    assert_int_equal(eng__prog_sort(&p0, NULL, 0, sizeof(row), by_key), ENG_OK);
    assert_int_equal(eng__prog_sort(NULL, NULL, 0, sizeof(row), by_key), ENG_OK);
    /* No progress: plain qsort. */
    row *v = rows(1000, 9), *w = rows(1000, 9);
    assert_int_equal(eng__prog_sort(NULL, v, 1000, sizeof *v, by_key), ENG_OK);
    qsort(w, 1000, sizeof *w, by_key);
    assert_memory_equal(v, w, 1000 * sizeof *v);
    free(v);
    free(w);
    assert_int_equal(eng_close(e), ENG_OK);
    eng__prog_every_ns = 100000000ull;
    test_alloc_assert_clean();
}

static void cancel_keeps_every_element(void **state)
{
    (void)state;
    test_alloc_reset();
    eng__prog_every_ns = 1;
    eng_engine *e = open_engine();
    const size_t n = 70000;
    unsigned tried = 0;
    for (unsigned at = 1;; at++) {
        row *v = rows(n, 7);
        eng__prog p;
        cancel_at = 0;
        assert_int_equal(eng__prog_start(&p, e, "test.sort", 0), ENG_OK);
        reports = 0;
        cancel_at = at;
        int rc = eng__prog_sort(&p, v, n, sizeof *v, by_key);
        if (reports < at) {
            assert_int_equal(rc, ENG_OK);
            free(v);
            break;
        }
        assert_int_equal(rc, ENG_ECANCELLED);
        /* every position 0..n-1 still there once */
        uint8_t *seen = calloc(n, 1);
        assert_non_null(seen);
        for (size_t i = 0; i < n; i++) {
            assert_true(v[i].pos < n && !seen[v[i].pos]);
            seen[v[i].pos] = 1;
        }
        free(seen);
        free(v);
        tried++;
    }
    assert_true(tried >= 5);
    cancel_at = 0;
    assert_int_equal(eng_close(e), ENG_OK);
    eng__prog_every_ns = 100000000ull;
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_qsort),
        cmocka_unit_test(cancel_keeps_every_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
