/* The batch leaves' dense 64-row kernels at each vector level (base/simd.h):
 * dictionary codes (4, 2 or 1 bytes a row) compared as codes against up to 4
 * true codes, and an int64 / int32 column against an inclusive range. The
 * scalar variants are the reference; every level returns the same bits. */
#include "rules/batch_impl.h"

#if ENG__SIMD_X86
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The baseline: SSE2 where the build target has it (every x86-64). */
static inline void eq_scalar(const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                            uint64_t *bad)
{
#ifdef __SSE2__
    __m128i k[4], bias = _mm_set1_epi32((int)0x80000000u), lim = _mm_set1_epi32((int)((size - 1) ^ 0x80000000u));
    for (int i = 0; i < 4; i++)
        k[i] = _mm_set1_epi32((int)codes[i < n ? i : 0]);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 16; g++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 4 * g));
        __m128i e = _mm_setzero_si128();
        for (int i = 0; i < n; i++)
            e = _mm_or_si128(e, _mm_cmpeq_epi32(x, k[i]));
        __m128i over = size ? _mm_cmpgt_epi32(_mm_xor_si128(x, bias), lim) : _mm_set1_epi32(-1);
        tt |= (uint64_t)_mm_movemask_ps(_mm_castsi128_ps(e)) << (4 * g);
        bb |= (uint64_t)_mm_movemask_ps(_mm_castsi128_ps(over)) << (4 * g);
    }
    *t = tt & ~bb;
    *bad = bb;
#else
    uint64_t tt = 0, bb = 0;
    for (int j = 0; j < 64; j++) {
        int e = 0;
        for (int i = 0; i < n; i++)
            e |= d[j] == codes[i];
        tt |= (uint64_t)e << j;
        bb |= (uint64_t)(d[j] >= size) << j;
    }
    *t = tt & ~bb;
    *bad = bb;
#endif
}

/* Narrow codes (2 or 1 bytes a row). The caller drops true codes that do not
 * fit the width, so a compare of the low bytes is exact; lim is the largest
 * code below the dictionary's size that the width can hold (no code is past
 * it when the dictionary is wider than the width). */
static uint32_t narrow_lim(uint32_t size, uint32_t wmax)
{
    return size - 1 < wmax ? size - 1 : wmax;
}

#ifndef __SSE2__
/* Without SSE2: one row at a time, any width. */
static void eq_plain(const void *d, int width, const uint32_t *codes, int n, uint32_t size, uint32_t lim,
                     uint64_t *t, uint64_t *bad)
{
    uint64_t tt = 0, bb = 0;
    for (int j = 0; j < 64; j++) {
        uint32_t x = width == 1 ? ((const uint8_t *)d)[j] : ((const uint16_t *)d)[j];
        int e = 0;
        for (int i = 0; i < n; i++)
            e |= x == codes[i];
        tt |= (uint64_t)e << j;
        bb |= (uint64_t)(!size || x > lim) << j;
    }
    *t = tt & ~bb;
    *bad = bb;
}
#endif

static inline void eq16_scalar(const uint16_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t, uint64_t *bad)
{
    uint32_t lim = narrow_lim(size, 0xffff);
#ifdef __SSE2__
    __m128i k[4], bias = _mm_set1_epi16((short)0x8000);
    __m128i vlim = _mm_set1_epi16((short)(lim ^ 0x8000u));
    for (int i = 0; i < 4; i++)
        k[i] = _mm_set1_epi16((short)codes[i < n ? i : 0]);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 4; g++) {
        __m128i e2[2], o2[2];
        for (int h = 0; h < 2; h++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g + 8 * h));
            __m128i e = _mm_setzero_si128();
            for (int i = 0; i < n; i++)
                e = _mm_or_si128(e, _mm_cmpeq_epi16(x, k[i]));
            e2[h] = e;
            o2[h] = _mm_cmpgt_epi16(_mm_xor_si128(x, bias), vlim);
        }
        tt |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_packs_epi16(e2[0], e2[1])) << (16 * g);
        bb |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_packs_epi16(o2[0], o2[1])) << (16 * g);
    }
    if (!size)
        bb = ~(uint64_t)0;
    *t = tt & ~bb;
    *bad = bb;
#else
    eq_plain(d, (int)sizeof *d, codes, n, size, lim, t, bad);
#endif
}

static inline void eq8_scalar(const uint8_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t, uint64_t *bad)
{
    uint32_t lim = narrow_lim(size, 0xff);
#ifdef __SSE2__
    __m128i k[4], vlim = _mm_set1_epi8((char)lim);
    for (int i = 0; i < 4; i++)
        k[i] = _mm_set1_epi8((char)codes[i < n ? i : 0]);
    uint64_t tt = 0, ok = 0;
    for (int g = 0; g < 4; g++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g));
        __m128i e = _mm_setzero_si128();
        for (int i = 0; i < n; i++)
            e = _mm_or_si128(e, _mm_cmpeq_epi8(x, k[i]));
        /* x <= lim exactly when max(x, lim) == lim (unsigned bytes) */
        __m128i in = _mm_cmpeq_epi8(_mm_max_epu8(x, vlim), vlim);
        tt |= (uint64_t)(uint16_t)_mm_movemask_epi8(e) << (16 * g);
        ok |= (uint64_t)(uint16_t)_mm_movemask_epi8(in) << (16 * g);
    }
    uint64_t bb = size ? ~ok : ~(uint64_t)0;
    *t = tt & ~bb;
    *bad = bb;
#else
    eq_plain(d, (int)sizeof *d, codes, n, size, lim, t, bad);
#endif
}

static inline uint64_t range64_scalar(const int64_t *d, int64_t lo, uint64_t span)
{
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)((uint64_t)d[j] - (uint64_t)lo <= span) << j;
    return t;
}

static inline uint64_t range32_scalar(const int32_t *d, int64_t lo, uint64_t span)
{
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)((uint64_t)(int64_t)d[j] - (uint64_t)lo <= span) << j;
    return t;
}

#if ENG__SIMD_X86
ENG__AVX2 static inline void eq_avx2(const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                              uint64_t *bad)
{
    __m256i k[4], bias = _mm256_set1_epi32((int)0x80000000u);
    __m256i lim = _mm256_set1_epi32((int)((size - 1) ^ 0x80000000u));
    for (int i = 0; i < 4; i++)
        k[i] = _mm256_set1_epi32((int)codes[i < n ? i : 0]);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 8; g++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(d + 8 * g));
        __m256i e = _mm256_setzero_si256();
        for (int i = 0; i < n; i++)
            e = _mm256_or_si256(e, _mm256_cmpeq_epi32(x, k[i]));
        __m256i over = size ? _mm256_cmpgt_epi32(_mm256_xor_si256(x, bias), lim) : _mm256_set1_epi32(-1);
        tt |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(e)) << (8 * g);
        bb |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(over)) << (8 * g);
    }
    *t = tt & ~bb;
    *bad = bb;
}

/* AVX2 for narrow codes; the AVX-512 level uses these too: byte and word
 * compares into masks need AVX-512BW, which the level does not require. */
ENG__AVX2 static inline void eq16_avx2(const uint16_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                                uint64_t *bad)
{
    uint32_t lim = narrow_lim(size, 0xffff);
    __m256i k[4], bias = _mm256_set1_epi16((short)0x8000), vlim = _mm256_set1_epi16((short)(lim ^ 0x8000u));
    for (int i = 0; i < 4; i++)
        k[i] = _mm256_set1_epi16((short)codes[i < n ? i : 0]);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 2; g++) {
        __m256i e2[2], o2[2];
        for (int h = 0; h < 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g + 16 * h));
            __m256i e = _mm256_setzero_si256();
            for (int i = 0; i < n; i++)
                e = _mm256_or_si256(e, _mm256_cmpeq_epi16(x, k[i]));
            e2[h] = e;
            o2[h] = _mm256_cmpgt_epi16(_mm256_xor_si256(x, bias), vlim);
        }
        /* packs works per 128-bit lane: put the quarters back in row order */
        __m256i pe = _mm256_permute4x64_epi64(_mm256_packs_epi16(e2[0], e2[1]), 0xd8);
        __m256i po = _mm256_permute4x64_epi64(_mm256_packs_epi16(o2[0], o2[1]), 0xd8);
        tt |= (uint64_t)(uint32_t)_mm256_movemask_epi8(pe) << (32 * g);
        bb |= (uint64_t)(uint32_t)_mm256_movemask_epi8(po) << (32 * g);
    }
    if (!size)
        bb = ~(uint64_t)0;
    *t = tt & ~bb;
    *bad = bb;
}

ENG__AVX2 static inline void eq8_avx2(const uint8_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                               uint64_t *bad)
{
    uint32_t lim = narrow_lim(size, 0xff);
    __m256i k[4], vlim = _mm256_set1_epi8((char)lim);
    for (int i = 0; i < 4; i++)
        k[i] = _mm256_set1_epi8((char)codes[i < n ? i : 0]);
    uint64_t tt = 0, ok = 0;
    for (int g = 0; g < 2; g++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g));
        __m256i e = _mm256_setzero_si256();
        for (int i = 0; i < n; i++)
            e = _mm256_or_si256(e, _mm256_cmpeq_epi8(x, k[i]));
        __m256i in = _mm256_cmpeq_epi8(_mm256_max_epu8(x, vlim), vlim);
        tt |= (uint64_t)(uint32_t)_mm256_movemask_epi8(e) << (32 * g);
        ok |= (uint64_t)(uint32_t)_mm256_movemask_epi8(in) << (32 * g);
    }
    uint64_t bb = size ? ~ok : ~(uint64_t)0;
    *t = tt & ~bb;
    *bad = bb;
}

/* (uint64)x - lo <= span, unsigned, for 4 lanes: !(x - lo > span). */
ENG__AVX2 static inline unsigned in_range4(__m256i x, __m256i lo, __m256i spanb, __m256i sign)
{
    __m256i off = _mm256_xor_si256(_mm256_sub_epi64(x, lo), sign);
    return (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(off, spanb))) ^ 15u;
}

ENG__AVX2 static inline uint64_t range64_avx2(const int64_t *d, int64_t lo, uint64_t span)
{
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    const __m256i vlo = _mm256_set1_epi64x(lo), spanb = _mm256_xor_si256(_mm256_set1_epi64x((long long)span), sign);
    uint64_t t = 0;
    for (int g = 0; g < 16; g++)
        t |= (uint64_t)in_range4(_mm256_loadu_si256((const __m256i *)(const void *)(d + 4 * g)), vlo, spanb, sign)
             << (4 * g);
    return t;
}

ENG__AVX2 static inline uint64_t range32_avx2(const int32_t *d, int64_t lo, uint64_t span)
{
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    const __m256i vlo = _mm256_set1_epi64x(lo), spanb = _mm256_xor_si256(_mm256_set1_epi64x((long long)span), sign);
    uint64_t t = 0;
    for (int g = 0; g < 16; g++) {
        __m256i x = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(d + 4 * g)));
        t |= (uint64_t)in_range4(x, vlo, spanb, sign) << (4 * g);
    }
    return t;
}

ENG__AVX512 static inline void eq_avx512(const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                                  uint64_t *bad)
{
    __m512i k[4];
    for (int i = 0; i < 4; i++)
        k[i] = _mm512_set1_epi32((int)codes[i < n ? i : 0]);
    const __m512i lim = _mm512_set1_epi32((int)size);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 4; g++) {
        __m512i x = _mm512_loadu_si512((const void *)(d + 16 * g));
        __mmask16 e = 0;
        for (int i = 0; i < n; i++)
            e |= _mm512_cmpeq_epi32_mask(x, k[i]);
        __mmask16 over = _mm512_cmpge_epu32_mask(x, lim);
        tt |= (uint64_t)e << (16 * g);
        bb |= (uint64_t)over << (16 * g);
    }
    *t = tt & ~bb;
    *bad = bb;
}

ENG__AVX512 static inline uint64_t range64_avx512(const int64_t *d, int64_t lo, uint64_t span)
{
    const __m512i vlo = _mm512_set1_epi64(lo), vspan = _mm512_set1_epi64((long long)span);
    uint64_t t = 0;
    for (int g = 0; g < 8; g++) {
        __m512i off = _mm512_sub_epi64(_mm512_loadu_si512((const void *)(d + 8 * g)), vlo);
        t |= (uint64_t)_mm512_cmple_epu64_mask(off, vspan) << (8 * g);
    }
    return t;
}

ENG__AVX512 static inline uint64_t range32_avx512(const int32_t *d, int64_t lo, uint64_t span)
{
    const __m512i vlo = _mm512_set1_epi64(lo), vspan = _mm512_set1_epi64((long long)span);
    uint64_t t = 0;
    for (int g = 0; g < 8; g++) {
        __m512i x = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(d + 8 * g)));
        t |= (uint64_t)_mm512_cmple_epu64_mask(_mm512_sub_epi64(x, vlo), vspan) << (8 * g);
    }
    return t;
}
#endif

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

/* The true codes a column of @p width bytes can hold, in @p fit (at most 4): a true code
 * the width cannot hold matches no row, and is not truncated into one that would. */
static int codes_that_fit(const uint32_t *codes, int n, int width, uint32_t fit[4])
{
    uint32_t wmax = width == 1 ? 0xffu : width == 2 ? 0xffffu : 0xffffffffu;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (codes[i] <= wmax)
            fit[m++] = codes[i];
    return m;
}

void eng__bk_eq_codes_w(int isa, const void *d, int width, const uint32_t *codes, int n, uint32_t size,
                        uint64_t *t, uint64_t *bad)
{
    if (width == 4) {
        eng__bk_eq_codes(isa, d, codes, n, size, t, bad);
        return;
    }
    uint32_t fit[4] = {0, 0, 0, 0};
    int m = codes_that_fit(codes, n, width, fit);
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX2) {
        if (width == 1)
            eq8_avx2(d, fit, m, size, t, bad);
        else
            eq16_avx2(d, fit, m, size, t, bad);
        return;
    }
#endif
    (void)isa;
    if (width == 1)
        eq8_scalar(d, fit, m, size, t, bad);
    else
        eq16_scalar(d, fit, m, size, t, bad);
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

uint64_t eng__bk_range32(int isa, const int32_t *d, int64_t lo, uint64_t span)
{
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512)
        return range32_avx512(d, lo, span);
    if (isa >= ENG__ISA_AVX2)
        return range32_avx2(d, lo, span);
#endif
    (void)isa;
    return range32_scalar(d, lo, span);
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

#define RANGEW_FN(NAME, ATTR, K32, K64)                                                         \
    ATTR static void NAME(const void *d, int width, int64_t lo, uint64_t span, const uint64_t *sel, \
                          size_t nw, uint64_t *t)                                               \
    {                                                                                           \
        if (width == 4)                                                                         \
            RANGE_WORDS(K32, int32_t);                                                          \
        else                                                                                    \
            RANGE_WORDS(K64, int64_t);                                                          \
    }

EQW_FN(eqw_scalar, , eq8_scalar, eq16_scalar, eq_scalar)
RANGEW_FN(rangew_scalar, , range32_scalar, range64_scalar)
#if ENG__SIMD_X86
EQW_FN(eqw_avx2, ENG__AVX2, eq8_avx2, eq16_avx2, eq_avx2)
EQW_FN(eqw_avx512, ENG__AVX512, eq8_avx2, eq16_avx2, eq_avx512)
RANGEW_FN(rangew_avx2, ENG__AVX2, range32_avx2, range64_avx2)
RANGEW_FN(rangew_avx512, ENG__AVX512, range32_avx512, range64_avx512)
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
