/* eng__hash64 of many keys at once, in AVX-512 lanes where the CPU has them.
 *
 * The hash (hash64.c) is a chain of mixes a key: the seed and length, one a
 * full 8-byte word, one the tail; each mix is two 64-bit multiplies in a
 * chain, so a key at a time waits on the multiplier. Here each lane of a
 * vector is one key: lane j takes its word k at step k, its tail at step
 * nw_j = len_j / 8 (the gather's inactive lanes hand the tail in), and keeps
 * its value after that (masked). Several vectors run side by side, as the
 * multiply's latency (vpmullq: ~15 cycles) is many times its throughput.
 * The words are gathered from the keys' addresses: every read is inside its
 * key (a tail of a key of 8 bytes or more is its last 8 bytes shifted down,
 * as hash_rest reads it; shorter keys' tails are read a byte at a time). */
#include "base/hash.h"
#include "base/simd.h"

#if ENG__SIMD_X86
#include <immintrin.h>
#endif

#define TAIL_K 0xff51afd7ed558ccdull /* hash_rest's tail constant */

#if ENG__SIMD_X86
/* The tail word of a key shorter than 8 bytes (hash_rest's byte loop). */
static uint64_t short_tail(const uint8_t *p, size_t len)
{
    uint64_t t = 0;
    for (size_t i = 0; i < len; i++)
        t |= (uint64_t)p[i] << (8 * i);
    return t;
}

_Static_assert(sizeof(size_t) == 8 && sizeof(void *) == 8, "lanes of 64-bit lengths and addresses");

/* ---- AVX-512: 8 keys a vector, G vectors side by side ---- */

ENG__AVX512 static inline __attribute__((always_inline)) __m512i mix_512(__m512i x)
{
    x = _mm512_add_epi64(x, _mm512_set1_epi64((long long)0x9e3779b97f4a7c15ull));
    x = _mm512_mullo_epi64(_mm512_xor_si512(x, _mm512_srli_epi64(x, 30)), _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull));
    x = _mm512_mullo_epi64(_mm512_xor_si512(x, _mm512_srli_epi64(x, 27)), _mm512_set1_epi64((long long)0x94d049bb133111ebull));
    return _mm512_xor_si512(x, _mm512_srli_epi64(x, 31));
}

/* 8 * G keys from data[0..8G) (addresses as offsets from data[0], so that the
 * gathers' base is a real address). h0 NULL: from their start (seed); else resumed from the
 * states h0[0..8G), data[j] the bytes left (len[j] of them), each key's last word readable
 * (eng__hash64_resume_n). */
ENG__AVX512 static inline __attribute__((always_inline)) void hash_512(const void *const *data, const size_t *len,
                                                                        uint64_t seed, const uint64_t *h0,
                                                                        uint64_t *out, const int G)
{
    const uint8_t *base = data[0];
    __m512i h[4], tail[4], nw[4], at[4];
    uint64_t steps = 0;
    for (int g = 0; g < G; g++) {
        const __m512i L = _mm512_loadu_si512(len + 8 * g);
        at[g] = _mm512_sub_epi64(_mm512_loadu_si512(data + 8 * g), _mm512_set1_epi64((long long)(uintptr_t)base));
        nw[g] = _mm512_srli_epi64(L, 3);
        /* the last 8 bytes, shifted down by 8 - len % 8 bytes (by 64 bits: 0, vpsrlvq's rule) */
        const __mmask8 wide = h0 ? (__mmask8)0xff : _mm512_cmpge_epu64_mask(L, _mm512_set1_epi64(8));
        __m512i t = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), wide,
                                                _mm512_add_epi64(at[g], _mm512_sub_epi64(L, _mm512_set1_epi64(8))), base, 1);
        t = _mm512_srlv_epi64(t, _mm512_sub_epi64(_mm512_set1_epi64(64),
                                                  _mm512_slli_epi64(_mm512_and_si512(L, _mm512_set1_epi64(7)), 3)));
        if (wide != 0xff) {
            uint64_t st[8];
            for (int j = 0; j < 8; j++)
                st[j] = len[8 * g + j] < 8 ? short_tail(data[8 * g + j], len[8 * g + j]) : 0;
            t = _mm512_mask_loadu_epi64(t, (__mmask8)~wide, st);
        }
        tail[g] = _mm512_xor_si512(t, _mm512_set1_epi64((long long)TAIL_K));
        h[g] = h0 ? _mm512_loadu_si512(h0 + 8 * g) : mix_512(_mm512_xor_si512(_mm512_set1_epi64((long long)seed), L));
        const uint64_t m = _mm512_reduce_max_epu64(nw[g]);
        steps = m > steps ? m : steps;
    }
    for (uint64_t k = 0; k <= steps; k++) {
        const __m512i kk = _mm512_set1_epi64((long long)k);
        for (int g = 0; g < G; g++) {
            const __mmask8 full = _mm512_cmpgt_epu64_mask(nw[g], kk), live = _mm512_cmpge_epu64_mask(nw[g], kk);
            const __m512i w = _mm512_mask_i64gather_epi64(tail[g], full, at[g], base, 1);
            h[g] = _mm512_mask_mov_epi64(h[g], live, mix_512(_mm512_xor_si512(h[g], w)));
            at[g] = _mm512_add_epi64(at[g], _mm512_set1_epi64(8));
        }
    }
    for (int g = 0; g < G; g++)
        _mm512_storeu_si512(out + 8 * g, h[g]);
}

ENG__AVX512 static size_t many_512(const void *const *data, const size_t *len, size_t n, uint64_t seed, uint64_t *out)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        hash_512(data + i, len + i, seed, NULL, out + i, 4);
    for (; i + 8 <= n; i += 8)
        hash_512(data + i, len + i, seed, NULL, out + i, 1);
    return i;
}

ENG__AVX512 static size_t resume_512(const uint64_t *h, const void *const *at, const size_t *rest, size_t n,
                                     uint64_t *out)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        hash_512(at + i, rest + i, 0, h + i, out + i, 4);
    for (; i + 8 <= n; i += 8)
        hash_512(at + i, rest + i, 0, h + i, out + i, 1);
    return i;
}

#endif

void eng__hash64_n(const void *const *data, const size_t *len, size_t n, uint64_t seed, uint64_t *out)
{
    size_t i = 0;
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX512) /* AVX2 (four lanes, each 64-bit multiply from three 32-bit ones) did not
                                         * pay: 9.6 ns a key against 9.2 for eng__hash64_x4 */
        i = many_512(data, len, n, seed, out);
#endif
    for (; i + 4 <= n; i += 4)
        eng__hash64_x4(data + i, len + i, seed, out + i);
    for (; i < n; i++)
        out[i] = eng__hash64(data[i], len[i], seed);
}

void eng__hash64_resume_n(const uint64_t *h, const void *const *at, const size_t *rest, size_t n, uint64_t *out)
{
    size_t i = 0;
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX512)
        i = resume_512(h, at, rest, n, out);
#endif
    eng__hash64_resume_x(h + i, at + i, rest + i, n - i, out + i);
}
