/* Run-time choice of the vector instruction set (x86-64: AVX-512 / AVX2 /
 * scalar) and the word-wise bitmap kernels built on it.
 *
 * The library is compiled for the baseline target (plain C11 flags); the
 * vector variants are separate functions with target attributes, chosen at
 * run time from what the CPU and OS support. Every variant computes exactly
 * what the scalar one does (tests force each level and compare). */
#ifndef ENG_BASE_SIMD_H
#define ENG_BASE_SIMD_H

#include <stddef.h>
#include <stdint.h>

enum { ENG__ISA_SCALAR = 0, ENG__ISA_AVX2 = 1, ENG__ISA_AVX512 = 2 };

/* Whether the vector variants are compiled in at all (x86-64, gcc or clang). */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define ENG__SIMD_X86 1
#define ENG__AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt")))
#define ENG__AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,bmi,bmi2,popcnt")))
#else
#define ENG__SIMD_X86 0
#endif

/* The best level the CPU offers (AVX-512 needs F, DQ, BW and VL: every
 * AVX-512 CPU but the Xeon Phi), at most the one
 * named by the environment variable ENG_SIMD ("scalar", "avx2", "avx512"),
 * read once: a way to time each path from outside. */
int eng__isa_detected(void);
/* The level in use: eng__isa_detected(), lowered by eng__isa_force(). */
int eng__isa(void);
/* Tests: use at most @p level (-1: back to the detected one). Returns the
 * level now in use (never above what the CPU has). Not for concurrent use
 * with running evaluations. */
int eng__isa_force(int level);
/* "scalar", "avx2" or "avx512". */
const char *eng__isa_name(int level);

enum { ENG__WOP_OR, ENG__WOP_AND, ENG__WOP_ANDNOT };
/* out[i] = a[i] op b[i] for n words (out may be NULL: count only; it may
 * alias a or b); returns the number of bits set in the result. */
uint64_t eng__words_op(int op, const uint64_t *a, const uint64_t *b, uint64_t *out, size_t n);
/* t[i] = a[i] & s[i] and c[i] = a[i] & ~s[i] for n words, in one pass (no
 * aliasing); returns the bits set in t. */
uint64_t eng__words_split(const uint64_t *a, const uint64_t *s, uint64_t *t, uint64_t *c, size_t n);
/* Bits set in n words. */
uint64_t eng__words_count(const uint64_t *a, size_t n);

/* Bits set in one word, without a libgcc call (no -mpopcnt in the baseline). */
static inline unsigned eng__popc64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

#endif
