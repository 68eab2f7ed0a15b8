/* The lower bound (base/lower.h) against a linear scan: every length up to 40, runs
 * of equal elements, every value from below the first to above the last, and the
 * ends of each type's range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/lower.h"

static size_t scan64(const uint64_t *a, size_t n, uint64_t x)
{
    size_t i = 0;
    while (i < n && a[i] < x)
        i++;
    return i;
}

static void every_length_and_value(void **s)
{
    (void)s;
    uint64_t a[40];
    uint32_t b[40];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t i = 0; i < n; i++) /* ascending by 0, 1 or 2: runs of equal elements */
            a[i] = (i ? a[i - 1] : 3) + (i * 7 % 3), b[i] = (uint32_t)a[i];
        uint64_t top = n ? a[n - 1] + 2 : 5;
        for (uint64_t x = 0; x <= top; x++) {
            size_t want = scan64(a, n, x);
            assert_int_equal(eng__lower_u64(a, n, x), want);
            assert_int_equal(eng__lower_u32(b, n, (uint32_t)x), want);
        }
    }
}

static void ends_of_the_range(void **s)
{
    (void)s;
    const uint64_t a[] = {0, 0, 1, UINT64_MAX - 1, UINT64_MAX, UINT64_MAX};
    assert_int_equal(eng__lower_u64(a, 6, 0), 0);
    assert_int_equal(eng__lower_u64(a, 6, 1), 2);
    assert_int_equal(eng__lower_u64(a, 6, 2), 3);
    assert_int_equal(eng__lower_u64(a, 6, UINT64_MAX), 4);
    const uint32_t b[] = {0, UINT32_MAX - 1, UINT32_MAX};
    assert_int_equal(eng__lower_u32(b, 3, 1), 1);
    assert_int_equal(eng__lower_u32(b, 3, UINT32_MAX), 2);
    assert_int_equal(eng__lower_u32(b, 0, 7), 0);
    assert_int_equal(eng__lower_u32(NULL, 0, 7), 0); /* an empty array is never read */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_length_and_value),
        cmocka_unit_test(ends_of_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
