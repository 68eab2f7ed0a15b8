/* The dense 64-row kernels of the batch leaves at each vector level
 * (base/simd.h), shared by the per-leaf chunk functions (batch_simd.c) and
 * the fused and/or pass (batch_fused.c): dictionary codes (4, 2 or 1 bytes a
 * row) compared as codes against up to 4 true codes, and int64 / int32 /
 * int16 columns against an inclusive range. The scalar variants are the
 * reference; every level returns the same bits. */
#ifndef ENG_RULES_BATCH_KERN_H
#define ENG_RULES_BATCH_KERN_H

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
static inline uint32_t narrow_lim(uint32_t size, uint32_t wmax)
{
    return size - 1 < wmax ? size - 1 : wmax;
}

#ifndef __SSE2__
/* Without SSE2: one row at a time, any width. */
static inline void eq_plain(const void *d, int width, const uint32_t *codes, int n, uint32_t size, uint32_t lim,
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

/* Narrow codes and int32 / int16 values at the AVX-512 level (which needs
 * BW and VL too, base/simd.c): each compare writes a mask register, 64 rows
 * of 1-byte codes in one instruction and no packing of lanes into bits. */
ENG__AVX512 static inline void eq8_avx512(const uint8_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                                   uint64_t *bad)
{
    __m512i x = _mm512_loadu_si512((const void *)d);
    uint64_t e = 0;
    for (int i = 0; i < n; i++)
        e |= _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)codes[i]));
    uint64_t bb = size ? _mm512_cmpgt_epu8_mask(x, _mm512_set1_epi8((char)narrow_lim(size, 0xff))) : ~(uint64_t)0;
    *t = e & ~bb;
    *bad = bb;
}

ENG__AVX512 static inline void eq16_avx512(const uint16_t *d, const uint32_t *codes, int n, uint32_t size,
                                    uint64_t *t, uint64_t *bad)
{
    const __m512i lim = _mm512_set1_epi16((short)narrow_lim(size, 0xffff));
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 2; g++) {
        __m512i x = _mm512_loadu_si512((const void *)(d + 32 * g));
        uint64_t e = 0;
        for (int i = 0; i < n; i++)
            e |= _mm512_cmpeq_epi16_mask(x, _mm512_set1_epi16((short)codes[i]));
        tt |= e << (32 * g);
        bb |= (uint64_t)_mm512_cmpgt_epu16_mask(x, lim) << (32 * g);
    }
    if (!size)
        bb = ~(uint64_t)0;
    *t = tt & ~bb;
    *bad = bb;
}

ENG__AVX512 static inline uint64_t range32n_avx512(const int32_t *d, int32_t lo, uint32_t span)
{
    const __m512i vlo = _mm512_set1_epi32(lo), vsp = _mm512_set1_epi32((int)span);
    uint64_t out = 0;
    for (int g = 0; g < 4; g++) {
        __m512i off = _mm512_sub_epi32(_mm512_loadu_si512((const void *)(d + 16 * g)), vlo);
        out |= (uint64_t)_mm512_cmple_epu32_mask(off, vsp) << (16 * g);
    }
    return out;
}

ENG__AVX512 static inline uint64_t range16_avx512(const int16_t *d, int32_t lo, uint32_t span)
{
    const __m512i vlo = _mm512_set1_epi16((short)lo), vsp = _mm512_set1_epi16((short)span);
    uint64_t out = 0;
    for (int g = 0; g < 2; g++) {
        __m512i off = _mm512_sub_epi16(_mm512_loadu_si512((const void *)(d + 32 * g)), vlo);
        out |= (uint64_t)_mm512_cmple_epu16_mask(off, vsp) << (32 * g);
    }
    return out;
}

ENG__AVX512 static inline uint64_t gt32_avx512(const int32_t *d, int32_t k)
{
    const __m512i vk = _mm512_set1_epi32(k);
    uint64_t out = 0;
    for (int g = 0; g < 4; g++)
        out |= (uint64_t)_mm512_cmpgt_epi32_mask(_mm512_loadu_si512((const void *)(d + 16 * g)), vk) << (16 * g);
    return out;
}

ENG__AVX512 static inline uint64_t gt16_avx512(const int16_t *d, int32_t k)
{
    const __m512i vk = _mm512_set1_epi16((short)k);
    uint64_t out = 0;
    for (int g = 0; g < 2; g++)
        out |= (uint64_t)_mm512_cmpgt_epi16_mask(_mm512_loadu_si512((const void *)(d + 32 * g)), vk) << (32 * g);
    return out;
}

#endif

/* The true codes a column of @p width bytes can hold, in @p fit (at most 4): a true code
 * the width cannot hold matches no row, and is not truncated into one that would. */
static inline int codes_that_fit(const uint32_t *codes, int n, int width, uint32_t fit[4])
{
    uint32_t wmax = width == 1 ? 0xffu : width == 2 ? 0xffffu : 0xffffffffu;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (codes[i] <= wmax)
            fit[m++] = codes[i];
    return m;
}

/* Narrow ranges: an int32 (or int16) column holds only values in that
 * type's range, so the interval [lo, lo + span] is cut to it and compared
 * in 32- (16-) bit lanes, two (four) times the rows per instruction of the
 * int64 compare. 0 when nothing of the type is in it. */
static inline int narrow_bounds(int64_t lo, uint64_t span, int bits, int32_t *nlo, uint32_t *nspan)
{
    int64_t hi = (int64_t)((uint64_t)lo + span), tmin = -((int64_t)1 << (bits - 1)), tmax = -tmin - 1;
    if (lo < tmin)
        lo = tmin;
    if (hi > tmax)
        hi = tmax;
    if (lo > hi)
        return 0;
    *nlo = (int32_t)lo;
    *nspan = (uint32_t)(hi - lo);
    return 1;
}

/* bit j: (uint32)(d[j] - lo) <= span, lo and span from narrow_bounds(.., 32, ..) */
static inline uint64_t range32n_scalar(const int32_t *d, int32_t lo, uint32_t span)
{
#ifdef __SSE2__
    const __m128i bias = _mm_set1_epi32((int)0x80000000u), vlo = _mm_set1_epi32(lo);
    const __m128i vsp = _mm_set1_epi32((int)(span ^ 0x80000000u));
    uint64_t out = 0;
    for (int g = 0; g < 4; g++) {
        __m128i o[4];
        for (int i = 0; i < 4; i++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g + 4 * i));
            o[i] = _mm_cmpgt_epi32(_mm_xor_si128(_mm_sub_epi32(x, vlo), bias), vsp);
        }
        __m128i p = _mm_packs_epi16(_mm_packs_epi32(o[0], o[1]), _mm_packs_epi32(o[2], o[3]));
        out |= (uint64_t)(uint16_t)~_mm_movemask_epi8(p) << (16 * g);
    }
    return out;
#else
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)((uint32_t)d[j] - (uint32_t)lo <= span) << j;
    return t;
#endif
}

/* bit j: (uint16)(d[j] - lo) <= span, lo and span from narrow_bounds(.., 16, ..) */
static inline uint64_t range16_scalar(const int16_t *d, int32_t lo, uint32_t span)
{
#ifdef __SSE2__
    const __m128i bias = _mm_set1_epi16((short)0x8000), vlo = _mm_set1_epi16((short)lo);
    const __m128i vsp = _mm_set1_epi16((short)(span ^ 0x8000u));
    uint64_t out = 0;
    for (int g = 0; g < 4; g++) {
        __m128i o[2];
        for (int i = 0; i < 2; i++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g + 8 * i));
            o[i] = _mm_cmpgt_epi16(_mm_xor_si128(_mm_sub_epi16(x, vlo), bias), vsp);
        }
        out |= (uint64_t)(uint16_t)~_mm_movemask_epi8(_mm_packs_epi16(o[0], o[1])) << (16 * g);
    }
    return out;
#else
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)((uint16_t)((uint16_t)d[j] - (uint16_t)lo) <= span) << j;
    return t;
#endif
}

/* One-sided: bit j = d[j] > k (x >= lo is x > lo - 1; x <= hi is not x > hi):
 * one compare a lane instead of the range's three. */
static inline uint64_t gt32_scalar(const int32_t *d, int32_t k)
{
#ifdef __SSE2__
    const __m128i vk = _mm_set1_epi32(k);
    uint64_t out = 0;
    for (int g = 0; g < 4; g++) {
        __m128i o[4];
        for (int i = 0; i < 4; i++)
            o[i] = _mm_cmpgt_epi32(_mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g + 4 * i)), vk);
        __m128i p = _mm_packs_epi16(_mm_packs_epi32(o[0], o[1]), _mm_packs_epi32(o[2], o[3]));
        out |= (uint64_t)(uint16_t)_mm_movemask_epi8(p) << (16 * g);
    }
    return out;
#else
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)(d[j] > k) << j;
    return t;
#endif
}

static inline uint64_t gt16_scalar(const int16_t *d, int32_t k)
{
#ifdef __SSE2__
    const __m128i vk = _mm_set1_epi16((short)k);
    uint64_t out = 0;
    for (int g = 0; g < 4; g++) {
        __m128i a = _mm_cmpgt_epi16(_mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g)), vk);
        __m128i b = _mm_cmpgt_epi16(_mm_loadu_si128((const __m128i *)(const void *)(d + 16 * g + 8)), vk);
        out |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_packs_epi16(a, b)) << (16 * g);
    }
    return out;
#else
    uint64_t t = 0;
    for (int j = 0; j < 64; j++)
        t |= (uint64_t)(d[j] > k) << j;
    return t;
#endif
}

#if ENG__SIMD_X86
ENG__AVX2 static inline uint64_t range32n_avx2(const int32_t *d, int32_t lo, uint32_t span)
{
    const __m256i bias = _mm256_set1_epi32((int)0x80000000u), vlo = _mm256_set1_epi32(lo);
    const __m256i vsp = _mm256_set1_epi32((int)(span ^ 0x80000000u));
    /* packs works per 128-bit lane: dwords of 4 rows come out as 0,4,1,5,2,6,3,7 */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    uint64_t out = 0;
    for (int g = 0; g < 2; g++) {
        __m256i o[4];
        for (int i = 0; i < 4; i++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g + 8 * i));
            o[i] = _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_sub_epi32(x, vlo), bias), vsp);
        }
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(o[0], o[1]), _mm256_packs_epi32(o[2], o[3]));
        out |= (uint64_t)(uint32_t)~_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(p, order)) << (32 * g);
    }
    return out;
}

ENG__AVX2 static inline uint64_t range16_avx2(const int16_t *d, int32_t lo, uint32_t span)
{
    const __m256i bias = _mm256_set1_epi16((short)0x8000), vlo = _mm256_set1_epi16((short)lo);
    const __m256i vsp = _mm256_set1_epi16((short)(span ^ 0x8000u));
    uint64_t out = 0;
    for (int g = 0; g < 2; g++) {
        __m256i o[2];
        for (int i = 0; i < 2; i++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g + 16 * i));
            o[i] = _mm256_cmpgt_epi16(_mm256_xor_si256(_mm256_sub_epi16(x, vlo), bias), vsp);
        }
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(o[0], o[1]), 0xd8);
        out |= (uint64_t)(uint32_t)~_mm256_movemask_epi8(p) << (32 * g);
    }
    return out;
}
ENG__AVX2 static inline uint64_t gt32_avx2(const int32_t *d, int32_t k)
{
    const __m256i vk = _mm256_set1_epi32(k), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    uint64_t out = 0;
    for (int g = 0; g < 2; g++) {
        __m256i o[4];
        for (int i = 0; i < 4; i++)
            o[i] = _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g + 8 * i)), vk);
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(o[0], o[1]), _mm256_packs_epi32(o[2], o[3]));
        out |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(p, order)) << (32 * g);
    }
    return out;
}

ENG__AVX2 static inline uint64_t gt16_avx2(const int16_t *d, int32_t k)
{
    const __m256i vk = _mm256_set1_epi16((short)k);
    uint64_t out = 0;
    for (int g = 0; g < 2; g++) {
        __m256i a = _mm256_cmpgt_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g)), vk);
        __m256i b = _mm256_cmpgt_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(d + 32 * g + 16)), vk);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xd8);
        out |= (uint64_t)(uint32_t)_mm256_movemask_epi8(p) << (32 * g);
    }
    return out;
}
#endif

#endif
