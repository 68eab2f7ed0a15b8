/* The shared text check (base/utf8.h): strict UTF-8 against a plain decoder
 * written here, control characters in names, NUL only where allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/utf8.h"

/* Reference: decode by the Unicode table 3-7 of well-formed byte sequences. */
static size_t ref_check(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t k;
        if (c <= 0x7F) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c == 0xE0) k = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) k = 2;
        else if (c == 0xED) k = 2, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) k = 2;
        else if (c == 0xF0) k = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) k = 3;
        else if (c == 0xF4) k = 3, hi = 0x8F;
        else return i;
        if (i + k >= n)
            return i;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t j = 2; j <= k; j++)
            if (p[i + j] < 0x80 || p[i + j] > 0xBF)
                return i;
        i += k + 1;
    }
    return n;
}

static void utf8_matches_reference(void **s)
{
    (void)s;
    uint64_t x = 88172645463325252ull;
    unsigned char buf[8];
    /* Every 1..3-byte sequence exhaustively, random 4..8-byte ones. */
    for (uint32_t v = 0; v < (1u << 24); v += 7) {
        for (size_t len = 1; len <= 3; len++) {
            for (size_t j = 0; j < len; j++)
                buf[j] = (unsigned char)(v >> (8 * j));
            assert_int_equal(eng__utf8_check((const char *)buf, len), ref_check(buf, len));
        }
    }
    for (int r = 0; r < 2000000; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 4 + (x >> 60) % 5;
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char)(0x80 | (x >> (8 * j)) >> (j & 1)); /* biased to high bytes */
        buf[0] = (unsigned char)(0xF0 | (x & 7));
        assert_int_equal(eng__utf8_check((const char *)buf, len), ref_check(buf, len));
    }
}

static void text_flaws(void **s)
{
    (void)s;
    size_t at = 99;
    assert_null(eng__text_flaw("Diwali \xe2\x9c\xa8 sale", 14, ENG__TEXT_NAME, &at));
    assert_string_equal(eng__text_flaw("a\x1b[31mred", 9, ENG__TEXT_NAME, &at), "contains a control character");
    assert_int_equal(at, 1);
    assert_null(eng__text_flaw("line\nbreak\ttab", 14, 0, &at)); /* texts may have line breaks */
    assert_non_null(eng__text_flaw("line\nbreak", 10, ENG__TEXT_NAME, &at));
    assert_non_null(eng__text_flaw("del\x7f", 4, ENG__TEXT_NAME, &at));
    assert_non_null(eng__text_flaw("c1\xc2\x85", 4, ENG__TEXT_NAME, &at)); /* U+0085 NEL */
    assert_int_equal(at, 2);
    assert_null(eng__text_flaw("nbsp\xc2\xa0", 6, ENG__TEXT_NAME, &at));
    assert_string_equal(eng__text_flaw("a\0b", 3, 0, &at), "contains a NUL byte");
    assert_null(eng__text_flaw("a\0b", 3, ENG__TEXT_NUL, &at));
    assert_string_equal(eng__text_flaw("ok\xc0\xaf", 4, 0, &at), "is not valid UTF-8"); /* overlong '/' */
    assert_int_equal(at, 2);
    assert_non_null(eng__text_flaw("\xed\xa0\x80", 3, 0, &at)); /* surrogate */
    assert_non_null(eng__text_flaw("\xf4\x90\x80\x80", 4, 0, &at)); /* past U+10FFFF */
    assert_non_null(eng__text_flaw("\xe2\x9c", 2, 0, &at)); /* truncated */
    assert_int_equal(eng__str_check(NULL, ENG__TEXT_NAME, "x"), 0);
    assert_int_equal(eng__str_check("a\xff", 0, "campaign.name"), -3 /* ENG_EINVAL */);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_matches_reference),
        cmocka_unit_test(text_flaws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
