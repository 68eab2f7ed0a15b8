/* The bit packing of colpack.c in AVX2 registers, the same bytes.
 *
 * Eight values of w bits fill exactly w bytes, so groups of eight are independent:
 * no bit accumulator chains one group to the next (the scalar packer's chain), and
 * each group's bytes are computed in registers and stored at byte w * g. Two
 * forms:
 * - bytes of w <= 8 bits: each 64-bit lane's eight bytes are folded in three
 *   uniform steps (pairs into 16-bit fields, fields into 32, halves into 64): 8w
 *   bits a lane, stored 8 bytes at a time, each store's spare bytes zero and
 *   overwritten by the next;
 * - values of w <= 32 bits (32-bit columns, 64-bit ones whose range fits): pairs
 *   into 64-bit lanes (2w bits), pairs of those into 128-bit lanes (4w bits), and
 *   a group's two 128-bit halves written by two overlapping 16-byte stores (the
 *   second shifted by a nibble when w is odd; 4w bits are then w/2 bytes and 4 bits).
 * Stores reach at most 16 bytes past the group's end, so the vector loops stop
 * where that stays inside the column's bytes; the scalar loop packs the rest. */
#include "events/colpack.h"
#include "base/simd.h"

#include <string.h>

#if ENG__SIMD_X86
#include <immintrin.h>

__extension__ typedef unsigned __int128 u128;

/* A group's bytes from its two 128-bit halves (4w bits each, in c[0..1] and c[2..3]). */
static inline __attribute__((always_inline)) void put_halves(uint8_t *o, const uint64_t *c, unsigned w)
{
    const u128 lo = (u128)c[1] << 64 | c[0], hi = (u128)c[3] << 64 | c[2];
    const unsigned at = w >> 1, sh = (w & 1) * 4; /* the high half starts at bit 4w = 8 at + sh */
    memcpy(o, &lo, 16);
    const u128 t = hi << sh | (sh ? (uint8_t)(lo >> (8 * at)) & 0xfu : 0u);
    memcpy(o + at, &t, 16);
}

/* AVX2, at the AVX-512 level too: the same loops in zmm registers took 0.37 ns a row of
 * 32-bit values against these 0.29, and 0.077 against 0.085 of bytes (not worth a copy). */

/* Bytes (w <= 8), 32 a step. */
ENG__AVX2 static size_t bytes_256(uint8_t *o, const uint8_t *v, size_t n, uint8_t min, unsigned w)
{
    const __m128i s1 = _mm_cvtsi32_si128((int)(8 - w)), s2 = _mm_cvtsi32_si128((int)(16 - 2 * w)),
                  s3 = _mm_cvtsi32_si128((int)(32 - 4 * w));
    const __m256i m1 = _mm256_set1_epi64x(0x00ff00ff00ff00ffll), m2 = _mm256_set1_epi64x(0x0000ffff0000ffffll),
                  m3 = _mm256_set1_epi64x(0x00000000ffffffffll), mn = _mm256_set1_epi8((char)min);
    uint64_t lane[4];
    size_t i = 0;
    for (; (i + 32) * w + 64 <= n * w; i += 32, o += 4 * w) {
        __m256i x = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(v + i)), mn);
        x = _mm256_or_si256(_mm256_and_si256(x, m1), _mm256_srl_epi64(_mm256_andnot_si256(m1, x), s1));
        x = _mm256_or_si256(_mm256_and_si256(x, m2), _mm256_srl_epi64(_mm256_andnot_si256(m2, x), s2));
        x = _mm256_or_si256(_mm256_and_si256(x, m3), _mm256_srl_epi64(_mm256_andnot_si256(m3, x), s3));
        _mm256_storeu_si256((__m256i *)lane, x);
        for (unsigned k = 0; k < 4; k++)
            memcpy(o + k * w, &lane[k], 8);
    }
    return i;
}

/* 32-bit values (or 64-bit ones, d = v - min < 2^32) of w <= 32 bits, 8 a step. */
ENG__AVX2 static size_t words_256(uint8_t *o, const void *v, int wide, size_t n, uint64_t min, unsigned w)
{
    const __m128i cw = _mm_cvtsi32_si128((int)w), c2w = _mm_cvtsi32_si128((int)(2 * w)),
                  cr = _mm_cvtsi32_si128((int)(64 - 2 * w));
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffll), m32 = _mm256_set1_epi32((int)(uint32_t)min),
                  m64 = _mm256_set1_epi64x((long long)min), even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    uint64_t half[4];
    size_t i = 0;
    for (; (i + 8) * w + 128 <= n * w; i += 8, o += w) {
        __m256i x;
        if (wide) { /* the low 32 bits of each difference, eight in a row */
            const int64_t *p = (const int64_t *)v + i;
            const __m256i a = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)p), m64);
            const __m256i b = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(p + 4)), m64);
            x = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, even), _mm256_permutevar8x32_epi32(b, even),
                                          0x20);
        } else {
            x = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)((const uint32_t *)v + i)), m32);
        }
        x = _mm256_or_si256(_mm256_and_si256(x, lo32), _mm256_sll_epi64(_mm256_srli_epi64(x, 32), cw));
        const __m256i l = _mm256_or_si256(x, _mm256_sll_epi64(_mm256_bsrli_epi128(x, 8), c2w));
        x = _mm256_blend_epi32(l, _mm256_srl_epi64(x, cr), 0xcc);
        _mm256_storeu_si256((__m256i *)half, x);
        put_halves(o, half, w);
    }
    return i;
}
#endif

size_t eng__pack_vec(uint8_t *o, const void *v, unsigned size, size_t n, uint64_t min, unsigned w)
{
#if ENG__SIMD_X86
    if (eng__isa() < ENG__ISA_AVX2 || !w || w > (size == 1 ? 8u : 32u))
        return 0;
    return size == 1 ? bytes_256(o, v, n, (uint8_t)min, w) : words_256(o, v, size == 8, n, min, w);
#else
    (void)o, (void)v, (void)size, (void)n, (void)min, (void)w;
    return 0;
#endif
}
