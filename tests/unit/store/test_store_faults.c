/* The internal kv layer over a host table that fails on demand: errors name the
 * operation and key, pass the host's code and text through, and a failed
 * commit leaves nothing applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "store/record.h"
#include "test_alloc.h"
#include "test_store.h"

static void failures_are_reported_and_leave_state(void **s)
{
    (void)s;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_store *st = test_store_handle(ts);
    assert_int_equal(eng__kv_put(st, "a", 1, "1", 1), ENG_OK);

    test_store_fail(ts, TV_PUT, 1, 0, TF_ERROR);
    assert_int_equal(eng__kv_put(st, "b/x", 3, "2", 1), ENG_ESTORAGE);
    assert_string_equal(eng_error_last()->detail, "b/x");
    assert_non_null(strstr(eng_error_last()->message, "injected storage failure"));
    assert_non_null(strstr(eng_error_last()->message, "put"));
    assert_int_equal(test_store_count(ts), 1);

    /* A batch whose commit fails applies nothing; rollback then succeeds. */
    test_store_fail(ts, TV_COMMIT, 1, 0, TF_ERROR);
    assert_int_equal(eng__kv_begin(st), ENG_OK);
    assert_int_equal(eng__kv_put(st, "c", 1, "3", 1), ENG_OK);
    assert_int_equal(eng__kv_commit(st), ENG_ESTORAGE);
    assert_int_equal(eng__kv_rollback(st), ENG_OK);
    eng__val v;
    assert_int_equal(eng__kv_get(st, "c", 1, &v), ENG_ENOTFOUND);

    /* The ambiguous outcome: committed, but reported as failed. */
    test_store_fail(ts, TV_COMMIT, 1, 0, TF_COMMITTED_ERROR);
    assert_int_equal(eng__kv_begin(st), ENG_OK);
    assert_int_equal(eng__kv_put(st, "d", 1, "4", 1), ENG_OK);
    assert_int_equal(eng__kv_commit(st), ENG_ESTORAGE);
    assert_int_equal(eng__kv_rollback(st), ENG_OK);
    assert_int_equal(eng__kv_get(st, "d", 1, &v), ENG_OK);
    eng__val_free(st, &v);
    test_store_nofail(ts);

    /* A crash loses the open batch only. */
    assert_int_equal(eng__kv_begin(st), ENG_OK);
    assert_int_equal(eng__kv_put(st, "e", 1, "5", 1), ENG_OK);
    test_store_crash(ts);
    eng_store_free(st);
    st = test_store_handle(ts);
    assert_int_equal(eng__kv_get(st, "e", 1, &v), ENG_ENOTFOUND);
    assert_int_equal(eng__kv_get(st, "a", 1, &v), ENG_OK);
    eng__val_free(st, &v);
    assert_true(test_store_calls(ts, TV_ALL) > 10);
    assert_int_equal(test_store_failures(ts), 3);
    eng_store_free(st);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static void corrupted_record_names_key(void **s)
{
    (void)s;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_store *st = test_store_handle(ts);
    assert_int_equal(eng__rec_put(st, ENG__K("m/campaign/7"), ENG__REC_TEST, 1, "payload", 7), ENG_OK);
    uint8_t *raw;
    size_t len;
    assert_int_equal(test_store_raw_get(ts, "m/campaign/7", &raw, &len), ENG_OK);
    raw[len - 1] ^= 0x40;
    test_store_raw_put(ts, "m/campaign/7", raw, len);
    free(raw);
    eng__rec r;
    assert_int_equal(eng__rec_get(st, ENG__K("m/campaign/7"), ENG__REC_TEST, 1, &r), ENG_ECORRUPT);
    assert_string_equal(eng_error_last()->detail, "m/campaign/7");
    eng_store_free(st);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* Same keys, same values, in the same order. */
static void assert_same_data(test_store *a, test_store *b)
{
    assert_int_equal(test_store_count(a), test_store_count(b));
    for (size_t i = 0;; i++) {
        size_t ka, kb, la, lb;
        const uint8_t *x = test_store_key_at(a, i, &ka), *y = test_store_key_at(b, i, &kb);
        if (!x || !y) {
            assert_true(!x && !y);
            return;
        }
        assert_memory_equal(x, y, ka < kb ? ka : kb);
        assert_int_equal(ka, kb);
        uint8_t *va, *vb;
        assert_int_equal(test_store_raw_get_bin(a, x, ka, &va, &la), ENG_OK);
        assert_int_equal(test_store_raw_get_bin(b, y, kb, &vb, &lb), ENG_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(va, vb, la);
        free(va);
        free(vb);
    }
}

/* test_store_restore(): a clone written to in every way (changed, deleted, new keys, a batch
 * rolled back, one committed), then put back, holds the seed's data again; so after more
 * writes than it notes one by one. */
static void restore_puts_back_what_was_written(void **s)
{
    (void)s;
    test_store *seed = test_store_new();
    eng_store *st = test_store_handle(seed);
    assert_int_equal(eng__kv_put(st, "a", 1, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_put(st, "b", 1, "2", 1), ENG_OK);
    assert_int_equal(eng__kv_put(st, "c", 1, "3", 1), ENG_OK);
    eng_store_free(st);
    test_store *c = test_store_clone(seed);
    assert_non_null(c);
    for (int round = 0; round < 2; round++) {
        st = test_store_handle(c);
        assert_int_equal(eng__kv_put(st, "b", 1, "changed", 7), ENG_OK);
        assert_int_equal(eng__kv_del(st, "c", 1), ENG_OK);
        assert_int_equal(eng__kv_put(st, "d", 1, "new", 3), ENG_OK);
        assert_int_equal(eng__kv_begin(st), ENG_OK);
        assert_int_equal(eng__kv_put(st, "e", 1, "5", 1), ENG_OK);
        assert_int_equal(eng__kv_rollback(st), ENG_OK);
        assert_int_equal(eng__kv_begin(st), ENG_OK);
        assert_int_equal(eng__kv_put(st, "f", 1, "6", 1), ENG_OK);
        assert_int_equal(eng__kv_del(st, "a", 1), ENG_OK);
        assert_int_equal(eng__kv_commit(st), ENG_OK);
        eng_store_free(st);
        assert_int_equal(test_store_count(c), 3); /* b, d, f */
        assert_int_equal(test_store_restore(c, seed), ENG_OK);
        assert_same_data(c, seed);
    }
    st = test_store_handle(c);
    for (int i = 0; i < 5000; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(eng__kv_put(st, k, strlen(k), "x", 1), ENG_OK);
    }
    assert_int_equal(eng__kv_del(st, "b", 1), ENG_OK);
    eng_store_free(st);
    assert_int_equal(test_store_restore(c, seed), ENG_OK);
    assert_same_data(c, seed);
    test_store_free(c);
    test_store_free(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failures_are_reported_and_leave_state),
        cmocka_unit_test(corrupted_record_names_key),
        cmocka_unit_test(restore_puts_back_what_was_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
