/* The internal kv layer over a host table that fails on demand: errors name the
 * operation and key, pass the host's code and text through, and a failed
 * commit leaves nothing applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failures_are_reported_and_leave_state),
        cmocka_unit_test(corrupted_record_names_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
