/* CPU level detection, its test override, and the word-wise bitmap kernels. */
#include "base/simd.h"

#include <stdlib.h>
#include <string.h>

static int detected = -1; /* read and written with __atomic (benign race: same value) */
static int forced = -1;

static int detect(void)
{
    int level = ENG__ISA_SCALAR;
#if ENG__SIMD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))
        level = ENG__ISA_AVX2;
    if (level == ENG__ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        level = ENG__ISA_AVX512;
#endif
    const char *env = getenv("ENG_SIMD");
    if (env && *env) {
        int cap = !strcmp(env, "scalar") ? ENG__ISA_SCALAR : !strcmp(env, "avx2") ? ENG__ISA_AVX2 : level;
        if (cap < level)
            level = cap;
    }
    return level;
}

int eng__isa_detected(void)
{
    int d = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (d < 0) {
        d = detect();
        __atomic_store_n(&detected, d, __ATOMIC_RELAXED);
    }
    return d;
}

int eng__isa(void)
{
    int d = eng__isa_detected(), f = __atomic_load_n(&forced, __ATOMIC_RELAXED);
    return f >= 0 && f < d ? f : d;
}

int eng__isa_force(int level)
{
    __atomic_store_n(&forced, level < 0 ? -1 : level, __ATOMIC_RELAXED);
    return eng__isa();
}

const char *eng__isa_name(int level)
{
    return level == ENG__ISA_AVX512 ? "avx512" : level == ENG__ISA_AVX2 ? "avx2" : "scalar";
}

/* One body, compiled once per level: the compiler vectorises the word loop
 * with the level's registers and counts with popcnt where it may. */
#define WORDS_OP_BODY(POPC)                                                                         \
    uint64_t card = 0;                                                                              \
    if (op == ENG__WOP_OR) {                                                                        \
        for (size_t i = 0; i < n; i++) {                                                            \
            uint64_t v = a[i] | b[i];                                                               \
            if (out)                                                                                \
                out[i] = v;                                                                         \
            card += POPC(v);                                                                        \
        }                                                                                           \
    } else if (op == ENG__WOP_AND) {                                                                \
        for (size_t i = 0; i < n; i++) {                                                            \
            uint64_t v = a[i] & b[i];                                                               \
            if (out)                                                                                \
                out[i] = v;                                                                         \
            card += POPC(v);                                                                        \
        }                                                                                           \
    } else {                                                                                        \
        for (size_t i = 0; i < n; i++) {                                                            \
            uint64_t v = a[i] & ~b[i];                                                              \
            if (out)                                                                                \
                out[i] = v;                                                                         \
            card += POPC(v);                                                                        \
        }                                                                                           \
    }                                                                                               \
    return card;

static uint64_t words_op_scalar(int op, const uint64_t *a, const uint64_t *b, uint64_t *out, size_t n)
{
    WORDS_OP_BODY(eng__popc64)
}

static uint64_t words_count_scalar(const uint64_t *a, size_t n)
{
    uint64_t card = 0;
    for (size_t i = 0; i < n; i++)
        card += eng__popc64(a[i]);
    return card;
}

#define WORDS_SPLIT_BODY(POPC)                                                                      \
    uint64_t card = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                                \
        uint64_t x = a[i], y = s[i];                                                                \
        t[i] = x & y;                                                                               \
        c[i] = x & ~y;                                                                              \
        card += POPC(x & y);                                                                        \
    }                                                                                               \
    return card;

static uint64_t words_split_scalar(const uint64_t *a, const uint64_t *s, uint64_t *t, uint64_t *c, size_t n)
{
    WORDS_SPLIT_BODY(eng__popc64)
}

#if ENG__SIMD_X86
ENG__AVX2 static uint64_t words_split_avx2(const uint64_t *a, const uint64_t *s, uint64_t *t, uint64_t *c, size_t n)
{
    WORDS_SPLIT_BODY(__builtin_popcountll)
}

ENG__AVX2 static uint64_t words_op_avx2(int op, const uint64_t *a, const uint64_t *b, uint64_t *out, size_t n)
{
    WORDS_OP_BODY(__builtin_popcountll)
}

ENG__AVX2 static uint64_t words_count_avx2(const uint64_t *a, size_t n)
{
    uint64_t card = 0;
    for (size_t i = 0; i < n; i++)
        card += (uint64_t)__builtin_popcountll(a[i]);
    return card;
}
#endif

uint64_t eng__words_op(int op, const uint64_t *a, const uint64_t *b, uint64_t *out, size_t n)
{
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2) /* AVX-512 gains nothing here without VPOPCNTDQ */
        return words_op_avx2(op, a, b, out, n);
#endif
    return words_op_scalar(op, a, b, out, n);
}

uint64_t eng__words_count(const uint64_t *a, size_t n)
{
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2)
        return words_count_avx2(a, n);
#endif
    return words_count_scalar(a, n);
}

uint64_t eng__words_split(const uint64_t *a, const uint64_t *s, uint64_t *t, uint64_t *c, size_t n)
{
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2)
        return words_split_avx2(a, s, t, c, n);
#endif
    return words_split_scalar(a, s, t, c, n);
}
