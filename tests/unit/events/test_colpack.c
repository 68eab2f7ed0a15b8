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

#define NMAX 1100

/* Pack v[0..n) (n <= NMAX) as a column of bytes, 32-bit or 64-bit values (size 1, 4, 8). */
static void pack_as(eng__wr *wr, const int64_t *v, size_t n, unsigned size)
{
    static uint8_t v8[NMAX];
    static uint32_t v32[NMAX];
    assert_true(n <= NMAX);
    /* bounded by NMAX too: gcc 12 at -O3 saw the loop to n write past the array (a false
     * -Wstringop-overflow) */
    if (size == 1) {
        for (size_t i = 0; i < n && i < NMAX; i++)
            v8[i] = (uint8_t)v[i];
        eng__pack_u8(wr, v8, n);
    } else if (size == 4) {
        for (size_t i = 0; i < n && i < NMAX; i++)
            v32[i] = (uint32_t)v[i];
        eng__pack_u32(wr, v32, n);
    } else {
        eng__pack_i64(wr, v, n);
    }
    assert_int_equal(wr->err, 0);
}

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
            pack_as(&wr, v, n, maxw / 8);
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

/* A column's bit-by-bit reference: the least value mn, the width w, and value i's bit b (above mn) at bit
 * i * w + b of its nbytes. */
typedef struct colref {
    int64_t mn;
    unsigned w;
    size_t nbytes;
    uint8_t b[NMAX * 8 + 8];
} colref;

static void ref_of(const int64_t *v, size_t n, colref *ref)
{
    int64_t mn = n ? v[0] : 0, mx = mn;
    for (size_t i = 1; i < n; i++)
        mn = v[i] < mn ? v[i] : mn, mx = v[i] > mx ? v[i] : mx;
    unsigned w = 0;
    while (w < 64 && ((uint64_t)mx - (uint64_t)mn) >> w)
        w++;
    ref->mn = mn, ref->w = w, ref->nbytes = (n * w + 7) / 8;
    memset(ref->b, 0, ref->nbytes);
    for (size_t i = 0; i < n; i++)
        for (unsigned b = 0; b < w; b++)
            if (((uint64_t)v[i] - (uint64_t)mn) >> b & 1)
                ref->b[(i * w + b) / 8] |= (uint8_t)(1u << ((i * w + b) % 8));
}

/* The packer's bytes for n values of one type (1, 4 or 8 bytes) against their reference: after `pre`
 * bytes already in the writer (left as they were), the header (svar min, u8 width) and the column. */
static void pack_one(const int64_t *v, size_t n, unsigned size, size_t pre, const colref *ref)
{
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    eng__wr wr;
    eng__wr_init(&wr, &mem);
    for (size_t k = 0; k < pre; k++)
        eng__wr_u8(&wr, (uint8_t)(0xa5 + k));
    pack_as(&wr, v, n, size);
    eng__rd r;
    eng__rd_init(&r, wr.data, wr.len);
    for (size_t k = 0; k < pre; k++)
        assert_int_equal(eng__rd_u8(&r), (uint8_t)(0xa5 + k));
    assert_true(eng__rd_svar(&r) == ref->mn);
    assert_int_equal(eng__rd_u8(&r), ref->w);
    assert_int_equal(eng__rd_left(&r), ref->nbytes);
    if (memcmp(wr.data + wr.len - ref->nbytes, ref->b, ref->nbytes))
        fail_msg("size %u, n %zu, width %u, %zu bytes before: the packed bytes differ", size, n, ref->w, pre);
    eng__wr_free(&wr);
}

/* Every count 0..140 (every tail after the vector loops' groups of 8, 16, 32 and 64, and
 * where they stop short of the column's end) and a few long ones, every width of each type
 * (bytes 0..8, 32-bit 0..32, 64-bit 0..64), the width reached exactly (the least and greatest
 * values of the width both present, at random places), values at the type's ends (0 and
 * 255, 2^32 - 1, INT64_MIN and INT64_MAX where the width allows), any alignment of the
 * column in the writer, at every instruction-set level the CPU has. */
static void every_count(void **st)
{
    (void)st;
    static int64_t v[NMAX];
    static colref ref;
    static const size_t longs[] = {255, 256, 257, 511, 1000, 1024, 1031};
    int levels = 0;
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++)
        levels += eng__isa_force(level) == level;
    for (unsigned size = 1; size <= 8; size *= 2) {
        if (size == 2)
            continue;
        const unsigned maxw = size * 8;
        for (unsigned w = 0; w <= maxw; w++)
            for (size_t c = 0; c <= 141 + sizeof longs / sizeof longs[0]; c++) {
                const size_t n = c <= 140 ? c : c == 141 ? NMAX : longs[c - 142];
                const uint64_t span = w == 64 ? ~0ull : (1ull << w) - 1;
                /* the base: the type's least value, its greatest minus the span, or between */
                const uint64_t r = test_splitmix(&seed), top = size == 8 ? ~0ull : (1ull << maxw) - 1;
                uint64_t base = r % 3 == 0 ? 0 : r % 3 == 1 ? top - span : (top - span) / 3;
                for (size_t i = 0; i < n; i++)
                    v[i] = (int64_t)(base + (w ? test_splitmix(&seed) & span : 0));
                if (n >= 2) { /* both ends of the width */
                    v[test_splitmix(&seed) % n] = (int64_t)base;
                    size_t at = test_splitmix(&seed) % n;
                    v[at] = (int64_t)(base + span);
                }
                if (size == 8 && n) /* as signed: the type's least value first */
                    for (size_t i = 0; i < n; i++)
                        v[i] = (int64_t)((uint64_t)v[i] + (uint64_t)INT64_MIN);
                ref_of(v, n, &ref); /* once for every level */
                for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++)
                    if (eng__isa_force(level) == level)
                        pack_one(v, n, size, (size_t)(c + w) % 8, &ref);
            }
    }
    assert_true(levels >= 1);
    eng__isa_force(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_width),
        cmocka_unit_test(every_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
