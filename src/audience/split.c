/* Split hashing over bitmap containers, one variant per vector level. A
 * word with many ids hashes all 64 positions side by side and keeps the bits
 * of the ids present; a word with few goes id by id (hashing 64 positions
 * for a handful of ids costs more than it saves). */
#include "audience/split.h"
#include "base/hash.h"
#include "base/simd.h"

#if ENG__SIMD_X86
#include <immintrin.h>
#endif

static inline uint64_t side_bits(uint64_t seedmix, uint32_t base, uint64_t threshold, uint64_t x)
{
    uint64_t tb = 0;
    while (x) { /* branchless: the side is a coin flip per id */
        unsigned b = (unsigned)__builtin_ctzll(x);
        x &= x - 1;
        tb |= (uint64_t)(eng__mix64(seedmix ^ (base | b)) < threshold) << b;
    }
    return tb;
}

static void split_scalar(uint64_t seedmix, uint32_t hi, uint64_t threshold, const uint64_t *bits, uint64_t *wt,
                         size_t nw)
{
    for (size_t w = 0; w < nw; w++)
        wt[w] = side_bits(seedmix, hi | (uint32_t)(w * 64), threshold, bits[w]);
}

#if ENG__SIMD_X86
/* a * c (mod 2^64) per 64-bit lane from 32-bit multiplies; chi = c >> 32. */
ENG__AVX2 static inline __m256i mul64_avx2(__m256i a, __m256i clo, __m256i chi)
{
    __m256i lo = _mm256_mul_epu32(a, clo);
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), clo), _mm256_mul_epu32(a, chi));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

ENG__AVX2 static void split_avx2(uint64_t seedmix, uint32_t hi, uint64_t threshold, const uint64_t *bits,
                                 uint64_t *wt, size_t nw)
{
    const __m256i c1lo = _mm256_set1_epi64x(0xbf58476d1ce4e5b9ull & 0xffffffffu);
    const __m256i c1hi = _mm256_set1_epi64x((long long)(0xbf58476d1ce4e5b9ull >> 32));
    const __m256i c2lo = _mm256_set1_epi64x(0x94d049bb133111ebull & 0xffffffffu);
    const __m256i c2hi = _mm256_set1_epi64x((long long)(0x94d049bb133111ebull >> 32));
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    const __m256i thr = _mm256_xor_si256(_mm256_set1_epi64x((long long)threshold), sign);
    const __m256i add = _mm256_set1_epi64x((long long)0x9e3779b97f4a7c15ull);
    const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0), four = _mm256_set1_epi64x(4);
    for (size_t w = 0; w < nw; w++) {
        uint64_t x = bits[w];
        uint32_t base = hi | (uint32_t)(w * 64);
        if (__builtin_popcountll(x) < 40) { /* measured on Zen 1 (256-bit ops split in two): below this id by id is faster */
            wt[w] = side_bits(seedmix, base, threshold, x);
            continue;
        }
        /* seedmix ^ (base | b) == (seedmix ^ base) ^ b: base is a multiple of 64 */
        const __m256i sb = _mm256_set1_epi64x((long long)(seedmix ^ base));
        __m256i id = lane;
        uint64_t tb = 0;
        for (int g = 0; g < 16; g++) {
            __m256i h = _mm256_add_epi64(_mm256_xor_si256(sb, id), add);
            h = mul64_avx2(_mm256_xor_si256(h, _mm256_srli_epi64(h, 30)), c1lo, c1hi);
            h = mul64_avx2(_mm256_xor_si256(h, _mm256_srli_epi64(h, 27)), c2lo, c2hi);
            h = _mm256_xor_si256(h, _mm256_srli_epi64(h, 31));
            __m256i lt = _mm256_cmpgt_epi64(thr, _mm256_xor_si256(h, sign)); /* h < threshold, unsigned */
            tb |= (uint64_t)(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(lt)) << (4 * g);
            id = _mm256_add_epi64(id, four);
        }
        wt[w] = tb & x;
    }
}

ENG__AVX512 static void split_avx512(uint64_t seedmix, uint32_t hi, uint64_t threshold, const uint64_t *bits,
                                     uint64_t *wt, size_t nw)
{
    const __m512i c1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull);
    const __m512i c2 = _mm512_set1_epi64((long long)0x94d049bb133111ebull);
    const __m512i thr = _mm512_set1_epi64((long long)threshold);
    const __m512i add = _mm512_set1_epi64((long long)0x9e3779b97f4a7c15ull);
    const __m512i eight = _mm512_set1_epi64(8);
    for (size_t w = 0; w < nw; w++) {
        uint64_t x = bits[w];
        uint32_t base = hi | (uint32_t)(w * 64);
        if (__builtin_popcountll(x) < 12) {
            wt[w] = side_bits(seedmix, base, threshold, x);
            continue;
        }
        const __m512i sb = _mm512_set1_epi64((long long)(seedmix ^ base));
        __m512i id = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        uint64_t tb = 0;
        for (int g = 0; g < 8; g++) {
            __m512i h = _mm512_add_epi64(_mm512_xor_si512(sb, id), add);
            h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 30)), c1);
            h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 27)), c2);
            h = _mm512_xor_si512(h, _mm512_srli_epi64(h, 31));
            tb |= (uint64_t)_mm512_cmplt_epu64_mask(h, thr) << (8 * g);
            id = _mm512_add_epi64(id, eight);
        }
        wt[w] = tb & x;
    }
}
#endif

void eng__split_words(uint64_t seedmix, uint32_t hi, uint64_t threshold, const uint64_t *bits, uint64_t *wt,
                      size_t nw)
{
#if ENG__SIMD_X86
    int isa = eng__isa();
    if (isa >= ENG__ISA_AVX512) {
        split_avx512(seedmix, hi, threshold, bits, wt, nw);
        return;
    }
    if (isa >= ENG__ISA_AVX2) {
        split_avx2(seedmix, hi, threshold, bits, wt, nw);
        return;
    }
#endif
    split_scalar(seedmix, hi, threshold, bits, wt, nw);
}
