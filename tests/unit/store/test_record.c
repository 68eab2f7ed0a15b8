/* Records: round trip, and every single-byte corruption is caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "store/record.h"
#include "test_alloc.h"

static void roundtrip_and_every_byte_flip(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_store *st;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    const char payload[] = "campaign: Diwali 2026, ratio 90/10";
    assert_int_equal(eng__rec_put(st, ENG__K("m/c/1"), ENG__REC_TEST, 3, payload, sizeof payload), ENG_OK);
    eng__rec r;
    assert_int_equal(eng__rec_get(st, ENG__K("m/c/1"), ENG__REC_TEST, 3, &r), ENG_OK);
    assert_int_equal(r.schema, 3);
    assert_int_equal(r.len, sizeof payload);
    assert_memory_equal(r.payload, payload, sizeof payload);

    /* Flip each bit of each byte of the stored value: always ECORRUPT (or EVERSION
     * for a schema field that still checks out — impossible, the CRC covers it). */
    size_t n = r.raw.len;
    uint8_t *copy = test_alloc_get()->malloc_fn(n, NULL);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, r.raw.data, n);
            copy[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(eng__kv_put(st, "m/c/2", 5, copy, n), ENG_OK);
            eng__rec bad;
            int rc = eng__rec_get(st, ENG__K("m/c/2"), ENG__REC_TEST, 3, &bad);
            assert_int_equal(rc, ENG_ECORRUPT);
            assert_string_equal(eng_error_last()->detail, "m/c/2");
        }
    }
    /* Truncations too. */
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(eng__kv_put(st, "m/c/3", 5, r.raw.data, cut), ENG_OK);
        eng__rec bad;
        assert_int_equal(eng__rec_get(st, ENG__K("m/c/3"), ENG__REC_TEST, 3, &bad), ENG_ECORRUPT);
    }
    test_alloc_get()->free_fn(copy, NULL);
    eng__rec_free(st, &r);

    /* Wrong type and newer schema are refused distinctly. */
    assert_int_equal(eng__rec_get(st, ENG__K("m/c/1"), ENG__REC_META, 3, &r), ENG_ECORRUPT);
    assert_string_equal(eng_error_last()->detail, "m/c/1");
    assert_non_null(strstr(eng_error_last()->message, "expected 0x"));
    assert_int_equal(eng__rec_get(st, ENG__K("m/c/1"), ENG__REC_TEST, 2, &r), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "m/c/1");
    assert_non_null(strstr(eng_error_last()->message, "reads up to 2"));
    /* A binary key is named printably; the key is only formatted for a failure. */
    static const uint8_t bkey[] = {'m', '/', 0x01, 0xff};
    assert_int_equal(eng__kv_put(st, bkey, sizeof bkey, "xx", 2), ENG_OK);
    assert_int_equal(eng__rec_get(st, bkey, sizeof bkey, ENG__REC_TEST, 3, &r), ENG_ECORRUPT);
    assert_string_equal(eng_error_last()->detail, "m/\\x01\\xff");
    assert_non_null(strstr(eng_error_last()->message, "bad header"));
    assert_int_equal(eng__rec_get(st, ENG__K("m/none"), ENG__REC_TEST, 3, &r), ENG_ENOTFOUND);
    eng_store_free(st);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_and_every_byte_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
