/* Packed columns read in place (src/events/colpack.c): every range [from, from + n)
 * of columns of each width, read by eng__pcol_u8, _u32 and _i64 (at every
 * instruction-set level) and one value at a time by eng__pcol_at, equals the
 * values packed; eng__pcol_same agrees with a comparison of them. The values are
 * generated here, the reference is the array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/colpack.h"
#include "base/simd.h"
#include "test_util.h"

#define N 300

static uint64_t seed = 11;

static void check_ranges(const eng__pcol *c, const int64_t *v, size_t n, unsigned maxw)
{
    uint8_t o8[N];
    uint32_t o32[N];
    int64_t o64[N];
    for (size_t from = 0; from < n; from += 1 + from / 7)
        for (size_t k = 0; from + k <= n; k += 1 + k / 3) {
            if (maxw <= 8)
                eng__pcol_u8(c, from, k, o8);
            if (maxw <= 32)
                eng__pcol_u32(c, from, k, o32);
            eng__pcol_i64(c, from, k, o64);
            for (size_t i = 0; i < k; i++) {
                if (maxw <= 8)
                    assert_int_equal(o8[i], v[from + i]);
                if (maxw <= 32)
                    assert_int_equal(o32[i], v[from + i]);
                assert_int_equal(o64[i], v[from + i]);
            }
            int same = 1;
            for (size_t i = 1; i < k; i++)
                same &= v[from + i] == v[from];
            if (k)
                assert_int_equal(eng__pcol_same(c, from, k, v[from]), same);
        }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(eng__pcol_at(c, i), v[i]);
}

static void widths(void)
{
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK); /* the system allocator */
    for (unsigned w = 0; w <= 40; w++)
        for (int runs = 0; runs < 2; runs++) { /* random values, then long runs of one */
            int64_t v[N] = {0}; /* rows past n are copied below, never packed */
            uint8_t v8[N];
            uint32_t v32[N];
            const size_t n = N - w; /* lengths that end anywhere in a byte */
            const uint64_t range = w ? (1ull << w) - 1 : 0;
            const int64_t base = w <= 8 ? 3 : w <= 24 ? 1000 : -5;
            for (size_t i = 0; i < n; i++) {
                uint64_t r = test_splitmix(&seed);
                if (runs && i && r % 8)
                    v[i] = v[i - 1];
                else
                    v[i] = base + (int64_t)(range ? r % (range + 1) : 0);
            }
            const unsigned maxw = w <= 5 ? 8 : w <= 31 ? 32 : 64; /* the type the values fit (base + range) */
            eng__wr wr;
            eng__wr_init(&wr, &mem);
            /* The narrow copies are filled whole (N, not n): gcc 12 at -O3 sees the loop to n
             * write past the array (a false -Wstringop-overflow); the rows past n are not packed. */
            if (maxw == 8) {
                for (size_t i = 0; i < N; i++)
                    v8[i] = (uint8_t)v[i];
                eng__pack_u8(&wr, v8, n);
            } else if (maxw == 32) {
                for (size_t i = 0; i < N; i++)
                    v32[i] = (uint32_t)v[i];
                eng__pack_u32(&wr, v32, n);
            } else {
                eng__pack_i64(&wr, v, n);
            }
            assert_int_equal(wr.err, 0);
            eng__rd r;
            eng__rd_init(&r, wr.data, wr.len);
            eng__pcol c;
            eng__pcol_read(&r, n, maxw, &c);
            assert_true(eng__rd_ok(&r));
            assert_int_equal(eng__rd_left(&r), 0);
            check_ranges(&c, v, n, maxw);
            /* the bytes: value i's bit b at bit i * w + b, set one bit at a time */
            int64_t mn = v[0];
            for (size_t i = 1; i < n; i++)
                mn = v[i] < mn ? v[i] : mn;
            uint8_t ref[N * 8 + 8] = {0};
            for (size_t i = 0; i < n; i++)
                for (unsigned b = 0; b < c.w; b++)
                    if (((uint64_t)v[i] - (uint64_t)mn) >> b & 1)
                        ref[(i * c.w + b) / 8] |= (uint8_t)(1u << ((i * c.w + b) % 8));
            assert_int_equal(c.nbytes, (n * c.w + 7) / 8);
            assert_memory_equal(c.p, ref, c.nbytes);
            eng__wr_free(&wr);
        }
}

/* Every instruction-set level the CPU has (the vector loops of eng__pcol_u8 and _u32
 * decode eight values at a time): the same values. */
static void every_width(void **st)
{
    (void)st;
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++)
        if (eng__isa_force(level) == level)
            widths();
    eng__isa_force(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
