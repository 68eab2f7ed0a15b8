/* The batch leaves' dense kernels (batch_kern.h) at the vector level of the
 * call: one 64-row word, or every selected word of a chunk per call. */
#include "rules/batch_kern.h"

void eng__bk_eq_codes(int isa, const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                      uint64_t *bad)
{
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512) {
        eq_avx512(d, codes, n, size, t, bad);
        return;
    }
    if (isa >= ENG__ISA_AVX2) {
        eq_avx2(d, codes, n, size, t, bad);
        return;
    }
#endif
    (void)isa;
    eq_scalar(d, codes, n, size, t, bad);
}

uint64_t eng__bk_range64(int isa, const int64_t *d, int64_t lo, uint64_t span)
{
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512)
        return range64_avx512(d, lo, span);
    if (isa >= ENG__ISA_AVX2)
        return range64_avx2(d, lo, span);
#endif
    (void)isa;
    return range64_scalar(d, lo, span);
}

/* int32 and int16 columns in 32- and 16-bit lanes. */
uint64_t eng__bk_range32(int isa, const int32_t *d, int64_t lo, uint64_t span)
{
    int32_t nlo = 0;
    uint32_t nspan = 0;
    if (!narrow_bounds(lo, span, 32, &nlo, &nspan))
        return 0;
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512)
        return range32n_avx512(d, nlo, nspan);
    if (isa >= ENG__ISA_AVX2)
        return range32n_avx2(d, nlo, nspan);
#endif
    (void)isa;
    return range32n_scalar(d, nlo, nspan);
}

uint64_t eng__bk_range16(int isa, const int16_t *d, int64_t lo, uint64_t span)
{
    int32_t nlo = 0;
    uint32_t nspan = 0;
    if (!narrow_bounds(lo, span, 16, &nlo, &nspan))
        return 0;
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512)
        return range16_avx512(d, nlo, nspan);
    if (isa >= ENG__ISA_AVX2)
        return range16_avx2(d, nlo, nspan);
#endif
    (void)isa;
    return range16_scalar(d, nlo, nspan);
}

/* Whole-chunk forms: one call per chunk instead of one per word, so each
 * level's constants are set up once (per word, the call and its setup cost
 * as much as the compare). Words whose sel is 0 are not read or written. */
#define EQ_WORDS(KERNEL, TYPE)                                                                  \
    do {                                                                                        \
        for (size_t k_ = 0; k_ < nw; k_++) {                                                    \
            if (sel[k_])                                                                        \
                KERNEL((const TYPE *)d + 64 * k_, fit, m, size, &t[k_], &bad[k_]);              \
        }                                                                                       \
    } while (0)

#define RANGE_WORDS(KERNEL, TYPE)                                                               \
    do {                                                                                        \
        for (size_t k_ = 0; k_ < nw; k_++) {                                                    \
            if (sel[k_])                                                                        \
                t[k_] = KERNEL((const TYPE *)d + 64 * k_, lo, span);                            \
        }                                                                                       \
    } while (0)

/* int32 / int16: the range cut to the type once a chunk */
#define RANGE_WORDS_N(KERNEL, TYPE, BITS)                                                       \
    do {                                                                                        \
        int32_t lo_ = 0;                                                                        \
        uint32_t sp_ = 0;                                                                       \
        int some_ = narrow_bounds(lo, span, BITS, &lo_, &sp_);                                  \
        for (size_t k_ = 0; k_ < nw; k_++) {                                                    \
            if (sel[k_])                                                                        \
                t[k_] = some_ ? KERNEL((const TYPE *)d + 64 * k_, lo_, sp_) : 0;                \
        }                                                                                       \
    } while (0)

/* One chunk function per level, from that level's per-word kernels. */
#define EQW_FN(NAME, ATTR, K8, K16, K32)                                                        \
    ATTR static void NAME(const void *d, int width, const uint32_t *fit, int m, uint32_t size,   \
                          const uint64_t *sel, size_t nw, uint64_t *t, uint64_t *bad)           \
    {                                                                                           \
        if (width == 1)                                                                         \
            EQ_WORDS(K8, uint8_t);                                                              \
        else if (width == 2)                                                                    \
            EQ_WORDS(K16, uint16_t);                                                            \
        else                                                                                    \
            EQ_WORDS(K32, uint32_t);                                                            \
    }

#define RANGEW_FN(NAME, ATTR, K16, K32, K64)                                                    \
    ATTR static void NAME(const void *d, int width, int64_t lo, uint64_t span, const uint64_t *sel, \
                          size_t nw, uint64_t *t)                                               \
    {                                                                                           \
        if (width == 2)                                                                         \
            RANGE_WORDS_N(K16, int16_t, 16);                                                    \
        else if (width == 4)                                                                    \
            RANGE_WORDS_N(K32, int32_t, 32);                                                    \
        else                                                                                    \
            RANGE_WORDS(K64, int64_t);                                                          \
    }

EQW_FN(eqw_scalar, , eq8_scalar, eq16_scalar, eq_scalar)
RANGEW_FN(rangew_scalar, , range16_scalar, range32n_scalar, range64_scalar)
#if ENG__SIMD_X86
EQW_FN(eqw_avx2, ENG__AVX2, eq8_avx2, eq16_avx2, eq_avx2)
EQW_FN(eqw_avx512, ENG__AVX512, eq8_avx512, eq16_avx512, eq_avx512)
RANGEW_FN(rangew_avx2, ENG__AVX2, range16_avx2, range32n_avx2, range64_avx2)
RANGEW_FN(rangew_avx512, ENG__AVX512, range16_avx512, range32n_avx512, range64_avx512)
#endif

void eng__bk_eq_codes_words(int isa, const void *d, int width, const uint32_t *codes, int n, uint32_t size,
                            const uint64_t *sel, size_t nw, uint64_t *t, uint64_t *bad)
{
    uint32_t fit[4] = {0, 0, 0, 0};
    int m = codes_that_fit(codes, n, width, fit);
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512) {
        eqw_avx512(d, width, fit, m, size, sel, nw, t, bad);
        return;
    }
    if (isa >= ENG__ISA_AVX2) {
        eqw_avx2(d, width, fit, m, size, sel, nw, t, bad);
        return;
    }
#endif
    (void)isa;
    eqw_scalar(d, width, fit, m, size, sel, nw, t, bad);
}

void eng__bk_range_words(int isa, const void *d, int width, int64_t lo, uint64_t span, const uint64_t *sel,
                         size_t nw, uint64_t *t)
{
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512) {
        rangew_avx512(d, width, lo, span, sel, nw, t);
        return;
    }
    if (isa >= ENG__ISA_AVX2) {
        rangew_avx2(d, width, lo, span, sel, nw, t);
        return;
    }
#endif
    (void)isa;
    rangew_scalar(d, width, lo, span, sel, nw, t);
}
