/* Id sets checked against a plain bool-array reference on random sets of many
 * densities (deterministic seed), plus selecting from the union of two
 * disjoint sets, serialisation, corruption and OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/idset.h"
#include "base/error.h"
#include "test_alloc.h"
#include "test_util.h"

/* Universe: 16 chunks of 65536 plus a few ids near the top of the 32-bit space. */
#define U (1u << 20)
static const uint32_t HIGH[] = {0xfffffffeu, 0xffffffffu, 0x80000000u, 0x80000001u, 0x12345678u};
#define NHIGH (sizeof HIGH / sizeof HIGH[0])

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

typedef struct ref {
    uint8_t *in; /* U entries */
    uint8_t high[NHIGH];
} ref;

static eng__mem mem;

/* Fill a reference with per-chunk densities drawn from a list spanning the
 * array/bitmap threshold, runs, empty and full chunks. */
static void random_ref(ref *r)
{
    static const double dens[] = {0.0, 0.00005, 0.001, 0.03, 0.0624, 0.0626, 0.2, 0.5, 0.97, 1.0, -1.0};
    memset(r->in, 0, U);
    for (uint32_t ch = 0; ch < U >> 16; ch++) {
        double d = dens[rnd() % (sizeof dens / sizeof dens[0])];
        for (uint32_t i = 0; i < 65536; i++) {
            uint32_t id = ch << 16 | i;
            if (d < 0) /* a few long runs */
                r->in[id] = (uint8_t)((i / 5000) % 2);
            else
                r->in[id] = rnd01() < d;
        }
    }
    for (size_t k = 0; k < NHIGH; k++)
        r->high[k] = rnd() % 2;
}

static void build(eng__idset *s, const ref *r)
{
    /* add in a shuffled-ish order to exercise inserts in the middle */
    for (uint32_t pass = 0; pass < 2; pass++)
        for (uint32_t id = pass; id < U; id += 2)
            if (r->in[id])
                assert_int_equal(eng__idset_add(s, id), ENG_OK);
    for (size_t k = 0; k < NHIGH; k++)
        if (r->high[k])
            assert_int_equal(eng__idset_add(s, HIGH[k]), ENG_OK);
}

/* Sorted ids of the reference (the "plain sorted array"). */
static size_t ref_ids(const ref *r, uint32_t *out)
{
    size_t n = 0;
    for (uint32_t id = 0; id < U; id++)
        if (r->in[id])
            out[n++] = id;
    uint32_t hs[NHIGH];
    size_t nh = 0;
    for (size_t k = 0; k < NHIGH; k++)
        if (r->high[k])
            hs[nh++] = HIGH[k];
    for (size_t i = 0; i < nh; i++) /* tiny insertion sort */
        for (size_t j = i + 1; j < nh; j++)
            if (hs[j] < hs[i]) {
                uint32_t t = hs[i];
                hs[i] = hs[j];
                hs[j] = t;
            }
    for (size_t i = 0; i < nh; i++)
        out[n++] = hs[i];
    return n;
}

static void check_equal(const eng__idset *s, const ref *r)
{
    uint32_t *want = malloc((U + NHIGH) * sizeof *want), *got = malloc((U + NHIGH) * sizeof *got);
    size_t n = ref_ids(r, want);
    assert_int_equal(eng__idset_count(s), n);
    assert_int_equal(eng__idset_to_array(s, got), n);
    assert_memory_equal(got, want, n * sizeof *got);
    /* batch iteration with odd batch sizes */
    eng__idset_it it;
    eng__idset_it_init(&it, s);
    size_t k = 0, m;
    while ((m = eng__idset_it_next(&it, got + k, 1 + rnd() % 7000)) > 0)
        k += m;
    assert_int_equal(k, n);
    assert_memory_equal(got, want, n * sizeof *got);
    for (int t = 0; t < 2000; t++) {
        uint32_t id = (uint32_t)(rnd() % U);
        assert_int_equal(eng__idset_contains(s, id), r->in[id]);
    }
    for (size_t h = 0; h < NHIGH; h++)
        assert_int_equal(eng__idset_contains(s, HIGH[h]), r->high[h]);
    assert_int_equal(eng__idset_bound(s), n ? (uint64_t)want[n - 1] + 1 : 0);
    free(want);
    free(got);
}

static void algebra_vs_reference(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    rng_state = 20261125;
    ref a = {malloc(U), {0}}, b = {malloc(U), {0}}, want = {malloc(U), {0}};
    int rounds = test_slow_runtime() ? 3 : 12;
    for (int round = 0; round < rounds; round++) {
        random_ref(&a);
        random_ref(&b);
        eng__idset sa, sb, out;
        eng__idset_init(&sa, &mem);
        eng__idset_init(&sb, &mem);
        eng__idset_init(&out, &mem);
        build(&sa, &a);
        build(&sb, &b);
        check_equal(&sa, &a);
        check_equal(&sb, &b);
        for (int op = ENG__SET_OR; op <= ENG__SET_ANDNOT; op++) {
            for (uint32_t i = 0; i < U; i++)
                want.in[i] = op == ENG__SET_OR ? (a.in[i] | b.in[i])
                           : op == ENG__SET_AND ? (a.in[i] & b.in[i]) : (a.in[i] & !b.in[i]);
            for (size_t h = 0; h < NHIGH; h++)
                want.high[h] = op == ENG__SET_OR ? (a.high[h] | b.high[h])
                             : op == ENG__SET_AND ? (a.high[h] & b.high[h]) : (a.high[h] & !b.high[h]);
            assert_int_equal(eng__idset_op(op, &out, &sa, &sb), ENG_OK);
            check_equal(&out, &want);
            /* in-place form agrees */
            eng__idset cp;
            eng__idset_init(&cp, &mem);
            assert_int_equal(eng__idset_copy(&cp, &sa), ENG_OK);
            assert_true(eng__idset_equal(&cp, &sa));
            assert_int_equal(eng__idset_op_into(op, &cp, &sb), ENG_OK);
            assert_true(eng__idset_equal(&cp, &out));
            eng__idset_free(&cp);
        }
        /* select from the union of two disjoint sets without building it: a − b and b */
        {
            eng__idset d, u;
            eng__idset_init(&d, &mem);
            eng__idset_init(&u, &mem);
            assert_int_equal(eng__idset_op(ENG__SET_ANDNOT, &d, &sa, &sb), ENG_OK);
            assert_int_equal(eng__idset_op(ENG__SET_OR, &u, &d, &sb), ENG_OK);
            uint64_t nu = eng__idset_count(&u);
            uint32_t *g = malloc(200000 * sizeof *g), *wnt = malloc(200000 * sizeof *wnt);
            for (int t = 0; t < 60; t++) {
                uint64_t off = t == 0 ? 0 : t == 1 ? nu : t == 2 ? nu + 5 : rnd() % (nu + 1);
                size_t cap = t % 3 == 0 ? 1 + rnd() % 5 : 1 + rnd() % 200000;
                size_t nw = eng__idset_select(&u, off, wnt, cap);
                assert_int_equal(eng__idset_select_union(&d, &sb, off, g, cap), nw);
                assert_memory_equal(g, wnt, nw * sizeof *g);
                assert_int_equal(eng__idset_select_union(&sb, &d, off, g, cap), nw);
                assert_memory_equal(g, wnt, nw * sizeof *g);
            }
            free(g);
            free(wnt);
            eng__idset_free(&d);
            eng__idset_free(&u);
        }
        /* removals keep the canonical form (equal to a fresh build) */
        for (int t = 0; t < 30000; t++) {
            uint32_t id = (uint32_t)(rnd() % U);
            assert_int_equal(eng__idset_remove(&sa, id), ENG_OK);
            a.in[id] = 0;
        }
        check_equal(&sa, &a);
        eng__idset fresh;
        eng__idset_init(&fresh, &mem);
        build(&fresh, &a);
        assert_true(eng__idset_equal(&fresh, &sa));
        eng__idset_free(&fresh);
        /* serialisation round trip */
        eng__wr w;
        eng__wr_init(&w, &mem);
        eng__idset_write(&sa, &w);
        assert_int_equal(w.err, 0);
        eng__rd r;
        eng__rd_init(&r, w.data, w.len);
        eng__idset back;
        eng__idset_init(&back, &mem);
        assert_int_equal(eng__idset_read(&back, &r, "t"), ENG_OK);
        assert_int_equal(eng__rd_left(&r), 0);
        assert_true(eng__idset_equal(&back, &sa));
        eng__idset_free(&back);
        eng__wr_free(&w);
        /* dense-word conversion */
        uint64_t *words = calloc(U / 64, 8);
        eng__idset_to_words(&sb, words, U / 64);
        for (uint32_t i = 0; i < U; i++)
            assert_int_equal((words[i / 64] >> (i % 64)) & 1, b.in[i]);
        eng__idset fw;
        eng__idset_init(&fw, &mem);
        assert_int_equal(eng__idset_from_words(&fw, words, U / 64), ENG_OK);
        memset(b.high, 0, sizeof b.high);
        check_equal(&fw, &b);
        eng__idset_free(&fw);
        free(words);
        eng__idset_free(&sa);
        eng__idset_free(&sb);
        eng__idset_free(&out);
    }
    free(a.in);
    free(b.in);
    free(want.in);
    test_alloc_assert_clean();
}

static void ranges_and_from_ids(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    rng_state = 7;
    ref r = {calloc(U, 1), {0}};
    eng__idset s;
    eng__idset_init(&s, &mem);
    for (int t = 0; t < 40; t++) {
        uint32_t lo = (uint32_t)(rnd() % U), len = (uint32_t)(rnd() % 200000) + 1;
        if (lo + len > U)
            len = U - lo;
        assert_int_equal(eng__idset_add_range(&s, lo, (uint64_t)lo + len), ENG_OK);
        memset(r.in + lo, 1, len);
        check_equal(&s, &r);
    }
    /* from_ids with duplicates and any order */
    uint32_t ids[5000];
    memset(r.in, 0, U);
    for (size_t i = 0; i < 5000; i++) {
        ids[i] = (uint32_t)(rnd() % 70000);
        r.in[ids[i]] = 1;
    }
    assert_int_equal(eng__idset_from_ids(&s, ids, 5000), ENG_OK);
    check_equal(&s, &r);
    /* the whole 32-bit space is representable */
    eng__idset_free(&s);
    assert_int_equal(eng__idset_add_range(&s, 0xffff0000u, 1ull << 32), ENG_OK);
    assert_int_equal(eng__idset_count(&s), 65536);
    assert_int_equal(eng__idset_bound(&s), 1ull << 32);
    eng__idset_free(&s);
    free(r.in);
    test_alloc_assert_clean();
}

static void corruption_is_detected(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    eng__idset s, back;
    eng__idset_init(&s, &mem);
    eng__idset_init(&back, &mem);
    /* one container of each form */
    for (uint32_t i = 0; i < 50; i++)
        assert_int_equal(eng__idset_add(&s, i * 3), ENG_OK);
    assert_int_equal(eng__idset_add_range(&s, 65536 + 10, 65536 + 30000), ENG_OK);
    for (uint32_t i = 0; i < 20000; i++)
        assert_int_equal(eng__idset_add(&s, 2 * 65536 + i * 3), ENG_OK);
    eng__wr w;
    eng__wr_init(&w, &mem);
    eng__idset_write(&s, &w);
    assert_true(w.len < 8192 + 200 + 100 + 40); /* the run container costs bytes, not 8 KiB */
    uint8_t *copy = malloc(w.len);
    for (size_t i = 0; i < w.len; i += (i < 200 || i + 200 > w.len) ? 1 : 97) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, w.data, w.len);
            copy[i] ^= (uint8_t)(1u << bit);
            eng__rd r;
            eng__rd_init(&r, copy, w.len);
            assert_int_equal(eng__idset_read(&back, &r, "a/x"), ENG_ECORRUPT);
            assert_string_equal(eng_error_last()->detail, "a/x");
            assert_int_equal(eng__idset_count(&back), 0);
        }
    }
    for (size_t cut = 0; cut < w.len; cut += (cut < 300 ? 1 : 101)) {
        eng__rd r;
        eng__rd_init(&r, w.data, cut);
        assert_int_equal(eng__idset_read(&back, &r, "a/x"), ENG_ECORRUPT);
    }
    free(copy);
    eng__wr_free(&w);
    eng__idset_free(&s);
    test_alloc_assert_clean();
}

static eng__idset oom_a, oom_b;
static int oom_body(void *arg)
{
    (void)arg;
    eng__idset out, cp;
    eng__idset_init(&out, &mem);
    eng__idset_init(&cp, &mem);
    int rc = ENG_OK;
    for (int op = ENG__SET_OR; op <= ENG__SET_ANDNOT && !rc; op++)
        rc = eng__idset_op(op, &out, &oom_a, &oom_b);
    if (!rc)
        rc = eng__idset_copy(&cp, &oom_a);
    if (!rc)
        rc = eng__idset_op_into(ENG__SET_OR, &cp, &oom_b);
    if (!rc)
        rc = eng__idset_add_range(&cp, 5, 300000);
    for (uint32_t i = 0; i < 5000 && !rc; i++)
        rc = eng__idset_add(&cp, 400000 + i * 7);
    if (!rc) {
        eng__wr w;
        eng__wr_init(&w, &mem);
        eng__idset_write(&cp, &w);
        rc = w.err;
        if (!rc) {
            eng__rd r;
            eng__rd_init(&r, w.data, w.len);
            rc = eng__idset_read(&out, &r, "x");
            if (!rc)
                assert_true(eng__idset_equal(&out, &cp));
        }
        eng__wr_free(&w);
    }
    eng__idset_free(&out);
    eng__idset_free(&cp);
    return rc;
}

static void oom_loop(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    eng__idset_init(&oom_a, &mem);
    eng__idset_init(&oom_b, &mem);
    for (uint32_t i = 0; i < 9000; i++) {
        assert_int_equal(eng__idset_add(&oom_a, i * 11), ENG_OK);
        assert_int_equal(eng__idset_add(&oom_b, i * 13 + 1), ENG_OK);
    }
    assert_true(test_oom_loop(oom_body, NULL) > 10);
    eng__idset_free(&oom_a);
    eng__idset_free(&oom_b);
    test_alloc_assert_clean();
}

/* Two sets with the same containers (key, type, ids) and the same stored bytes. */
static void assert_same_sets(const eng__idset *x, const eng__idset *y)
{
    assert_true(eng__idset_equal(x, y));
    assert_int_equal(x->n, y->n);
    for (uint32_t i = 0; i < x->n; i++) {
        assert_int_equal(x->c[i].key, y->c[i].key);
        assert_int_equal(x->c[i].type, y->c[i].type);
        assert_int_equal(x->c[i].card, y->c[i].card);
    }
    eng__wr wx, wy;
    eng__wr_init(&wx, &mem);
    eng__wr_init(&wy, &mem);
    eng__idset_write(x, &wx);
    eng__idset_write(y, &wy);
    assert_int_equal(wx.len, wy.len);
    assert_memory_equal(wx.data, wy.data, wx.len);
    eng__wr_free(&wx);
    eng__wr_free(&wy);
}

/* eng__idset_add_many (del 0) or eng__idset_remove_many (del 1) against
 * eng__idset_add or eng__idset_remove one id at a time: ascending ids of
 * random densities in random slices (a part's column each) into or out of a
 * random set; adds also into an empty set (chunks made a bitmap at once),
 * removes also from a set that ends early (later ids past it); bitmaps that
 * stay bitmaps, become arrays or go. */
static void many_as_one_at_a_time(int del)
{
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    rng_state = 20261206 + (uint64_t)del;
    ref base = {malloc(U), {0}}, chg = {malloc(U), {0}};
    uint32_t *ids = malloc((U + NHIGH) * sizeof *ids);
    int rounds = test_slow_runtime() ? 2 : 8;
    for (int round = 0; round < rounds; round++) {
        random_ref(&base);
        if (round % 2) {
            memset(base.in + (del ? U / 2 : 0), 0, del ? U / 2 : U);
            memset(base.high, 0, sizeof base.high);
        }
        random_ref(&chg);
        size_t n = ref_ids(&chg, ids);
        eng__idset one, many;
        eng__idset_init(&one, &mem);
        eng__idset_init(&many, &mem);
        build(&one, &base);
        build(&many, &base);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(del ? eng__idset_remove(&one, ids[k]) : eng__idset_add(&one, ids[k]), ENG_OK);
        for (size_t k = 0; k <= n;) { /* the last slice is empty */
            size_t m = k == n ? 0 : 1 + rnd() % (rnd() % 2 ? 300000 : 3000);
            m = m < n - k ? m : n - k;
            assert_int_equal(del ? eng__idset_remove_many(&many, ids + k, m) : eng__idset_add_many(&many, ids + k, m),
                             ENG_OK);
            k += m ? m : 1;
        }
        for (uint32_t id = 0; id < U; id++)
            base.in[id] = del ? base.in[id] && !chg.in[id] : base.in[id] || chg.in[id];
        for (size_t h = 0; h < NHIGH; h++)
            base.high[h] = del ? base.high[h] && !chg.high[h] : base.high[h] || chg.high[h];
        check_equal(&many, &base);
        assert_same_sets(&many, &one);
        eng__idset_free(&one);
        eng__idset_free(&many);
    }
    free(ids);
    free(base.in);
    free(chg.in);
    test_alloc_assert_clean();
}

static void add_many_as_one_at_a_time(void **st)
{
    (void)st;
    many_as_one_at_a_time(0);
}

static void remove_many_as_one_at_a_time(void **st)
{
    (void)st;
    many_as_one_at_a_time(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(algebra_vs_reference),
        cmocka_unit_test(ranges_and_from_ids),
        cmocka_unit_test(add_many_as_one_at_a_time),
        cmocka_unit_test(remove_many_as_one_at_a_time),
        cmocka_unit_test(corruption_is_detected),
        cmocka_unit_test(oom_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
