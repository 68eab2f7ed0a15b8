#include "rules/batch_fused.h"

#if ENG__SIMD_X86
/* An and of 2 or 3 narrow kids at the AVX-512 level — 1- or 2-byte codes,
 * int16 / int32 ranges and one-sided compares (x > k as the range [k + 1,
 * max]) — in ONE loop a word: the and's words stay in registers across the
 * kids instead of being stored and reloaded per kid, and each kid's
 * constants stay in vector registers for the whole chunk. A loop per
 * combination of kinds (the kinds constants, 16 + 64 loops); any other and
 * goes kid by kid (batch_fused.c). */
enum { AK_C8, AK_C16, AK_R16, AK_R32 };

typedef struct akid {
    __m512i k[4], lim, lo, span, top; /* top: the largest code read (codes) */
    int n;                             /* codes: 1, 2 or 4 compares */
    uint64_t tany, tnull, fnull, flip;
    const unsigned char *d;
    const uint64_t *nulls;
} akid;

/* The class of leaf l in the one-loop and, -1 when it has none. */
static int and_class(const fleaf *l)
{
    switch (l->op) {
    case FL_EQ8: case FL_EQ8_1: return l->size ? AK_C8 : -1;
    case FL_EQ16: case FL_EQ16_1: return l->size ? AK_C16 : -1;
    case FL_R16: return AK_R16;
    case FL_R32: return AK_R32;
    case FL_GT16: return l->lo32 < INT16_MAX ? AK_R16 : -1;
    case FL_GT32: return l->lo32 < INT32_MAX ? AK_R32 : -1;
    default: return -1;
    }
}

ENG__AVX512 static inline __attribute__((always_inline)) void akid_init(int cls, const fleaf *l, akid *a)
{
    a->d = l->d;
    a->nulls = l->nulls ? l->nulls : eng__no_nulls;
    a->tany = l->tany;
    a->tnull = l->tnull;
    a->fnull = l->fnull;
    a->flip = l->flip;
    a->top = _mm512_setzero_si512();
    a->n = l->op == FL_EQ8_1 || l->op == FL_EQ16_1 || l->codes[1] == l->codes[0] ? 1 : l->codes[2] == l->codes[0] ? 2 : 4;
    int32_t lo = l->lo32;
    uint32_t span = l->span32;
    if (l->op == FL_GT16 || l->op == FL_GT32) { /* x > k: [k + 1, max] */
        span = (uint32_t)((l->op == FL_GT16 ? INT16_MAX : INT32_MAX) - (int64_t)lo - 1);
        lo++;
    }
    if (cls == AK_C8) {
        for (int i = 0; i < 4; i++)
            a->k[i] = _mm512_set1_epi8((char)l->codes[i]);
        a->lim = _mm512_set1_epi8((char)narrow_lim(l->size, 0xff));
    } else if (cls == AK_C16) {
        for (int i = 0; i < 4; i++)
            a->k[i] = _mm512_set1_epi16((short)l->codes[i]);
        a->lim = _mm512_set1_epi16((short)narrow_lim(l->size, 0xffff));
    } else if (cls == AK_R16) {
        a->lo = _mm512_set1_epi16((short)lo);
        a->span = _mm512_set1_epi16((short)span);
    } else {
        a->lo = _mm512_set1_epi32(lo);
        a->span = _mm512_set1_epi32((int)span);
    }
}

/* Kid a over word w: its true and false rows. A code past the dictionary
 * is looked for once a chunk (a->top, and_loop): the rows of one are
 * computed here as if it were a code of the dictionary. */
ENG__AVX512 static inline __attribute__((always_inline)) void aword(int cls, akid *a, size_t w, uint64_t nb,
                                                                    uint64_t *t, uint64_t *f)
{
    if (cls == AK_C8 || cls == AK_C16) {
        uint64_t e = 0;
        if (cls == AK_C8) {
            __m512i x = _mm512_loadu_si512((const void *)(a->d + 64 * w));
            e = _mm512_cmpeq_epi8_mask(x, a->k[0]);
            if (a->n > 1) {
                e |= _mm512_cmpeq_epi8_mask(x, a->k[1]);
                if (a->n > 2)
                    e |= _mm512_cmpeq_epi8_mask(x, a->k[2]) | _mm512_cmpeq_epi8_mask(x, a->k[3]);
            }
            a->top = _mm512_max_epu8(a->top, x);
        } else {
            for (int g = 0; g < 2; g++) {
                __m512i x = _mm512_loadu_si512((const void *)(a->d + 128 * w + 64 * g));
                uint64_t eg = _mm512_cmpeq_epi16_mask(x, a->k[0]);
                if (a->n > 1) {
                    eg |= _mm512_cmpeq_epi16_mask(x, a->k[1]);
                    if (a->n > 2)
                        eg |= _mm512_cmpeq_epi16_mask(x, a->k[2]) | _mm512_cmpeq_epi16_mask(x, a->k[3]);
                }
                e |= eg << (32 * g);
                a->top = _mm512_max_epu16(a->top, x);
            }
        }
        e &= a->tany;
        *f = (~e & ~nb) | (nb & a->fnull);
        *t = (e & ~nb) | (nb & a->tnull);
        return;
    }
    uint64_t r = 0;
    if (cls == AK_R16)
        for (int g = 0; g < 2; g++) {
            __m512i x = _mm512_loadu_si512((const void *)(a->d + 128 * w + 64 * g));
            r |= (uint64_t)_mm512_cmple_epu16_mask(_mm512_sub_epi16(x, a->lo), a->span) << (32 * g);
        }
    else
        for (int g = 0; g < 4; g++) {
            __m512i x = _mm512_loadu_si512((const void *)(a->d + 256 * w + 64 * g));
            r |= (uint64_t)_mm512_cmple_epu32_mask(_mm512_sub_epi32(x, a->lo), a->span) << (16 * g);
        }
    r ^= a->flip;
    *t = r & ~nb;
    *f = ~r & ~nb;
}

/* Whether kid a read a code past the dictionary in the chunk. */
ENG__AVX512 static inline __attribute__((always_inline)) int akid_over(int cls, const akid *a)
{
    if (cls == AK_C8)
        return _mm512_cmpgt_epu8_mask(a->top, a->lim) != 0;
    if (cls == AK_C16)
        return _mm512_cmpgt_epu16_mask(a->top, a->lim) != 0;
    return 0;
}

static inline int aclass_width(int cls)
{
    return cls == AK_C8 ? 1 : cls == AK_R32 ? 4 : 2;
}

/* Kid a folded into the and's words keep and dec of word w (selection s). */
#define AKID_FOLD(CLS, A)                                                                                    \
    do {                                                                                                     \
        uint64_t nb_ = (A).nulls[w], t_, f_;                                                                 \
        for (int q_ = 0; q_ < aclass_width(CLS); q_++)                                                       \
            __builtin_prefetch((A).d + 64 * (w * (size_t)aclass_width(CLS) + (size_t)q_) + FUSE_AHEAD);      \
        aword(CLS, &(A), w, nb_, &t_, &f_);                                                                  \
        keep &= t_;                                                                                          \
        dec |= f_;                                                                                           \
    } while (0)

/* 0 when a kid read a code past the dictionary anywhere in the chunk (even
 * in a row it need not look at: the chunk then goes kid by kid, for the
 * error that path reports or its rows), else 1. */
ENG__AVX512 static inline __attribute__((always_inline)) int and_loop(int nk, int c0, int c1, int c2,
                                                                           const fleaf *L, const fstate *st,
                                                                           size_t nw)
{
    akid a0, a1, a2;
    akid_init(c0, &L[0], &a0);
    akid_init(c1, &L[1], &a1);
    if (nk > 2)
        akid_init(c2, &L[2], &a2);
    const uint64_t *sel = st->sel;
    uint64_t *kp = st->keep, *dp = st->dec;
    for (size_t w = 0; w < nw; w++) {
        uint64_t s = sel[w], keep = s, dec = 0;
        AKID_FOLD(c0, a0);
        AKID_FOLD(c1, a1);
        if (nk > 2)
            AKID_FOLD(c2, a2);
        kp[w] = keep;
        dp[w] = dec & s;
    }
    return !(akid_over(c0, &a0) || akid_over(c1, &a1) || (nk > 2 && akid_over(c2, &a2)));
}

typedef int (*and_fn)(const fleaf *, const fstate *, size_t);
#define AND2(A, B)                                                                                           \
    ENG__AVX512 static int and2_##A##B(const fleaf *L, const fstate *st, size_t nw)                     \
    {                                                                                                        \
        return and_loop(2, A, B, 0, L, st, nw);                                                              \
    }
#define AND3(A, B, C)                                                                                        \
    ENG__AVX512 static int and3_##A##B##C(const fleaf *L, const fstate *st, size_t nw)                  \
    {                                                                                                        \
        return and_loop(3, A, B, C, L, st, nw);                                                              \
    }
#define AND2_B(A) AND2(A, 0) AND2(A, 1) AND2(A, 2) AND2(A, 3)
#define AND3_C(A, B) AND3(A, B, 0) AND3(A, B, 1) AND3(A, B, 2) AND3(A, B, 3)
#define AND3_B(A) AND3_C(A, 0) AND3_C(A, 1) AND3_C(A, 2) AND3_C(A, 3)
AND2_B(0) AND2_B(1) AND2_B(2) AND2_B(3)
AND3_B(0) AND3_B(1) AND3_B(2) AND3_B(3)
#define FN2_B(A) {and2_##A##0, and2_##A##1, and2_##A##2, and2_##A##3}
#define FN3_C(A, B) {and3_##A##B##0, and3_##A##B##1, and3_##A##B##2, and3_##A##B##3}
#define FN3_B(A) {FN3_C(A, 0), FN3_C(A, 1), FN3_C(A, 2), FN3_C(A, 3)}
static const and_fn and2_fn[4][4] = {FN2_B(0), FN2_B(1), FN2_B(2), FN2_B(3)};
static const and_fn and3_fn[4][4][4] = {FN3_B(0), FN3_B(1), FN3_B(2), FN3_B(3)};

int eng__batch_and512(const fleaf *L, int nl, const fstate *st, size_t nw)
{
    if (!st->is_and || nl > 3)
        return -1;
    int c[3] = {0, 0, 0};
    for (int k = 0; k < nl; k++)
        if ((c[k] = and_class(&L[k])) < 0)
            return -1;
    and_fn fn = nl == 2 ? and2_fn[c[0]][c[1]] : and3_fn[c[0]][c[1]][c[2]];
    return fn(L, st, nw);
}
#else
int eng__batch_and512(const fleaf *L, int nl, const fstate *st, size_t nw)
{
    (void)L, (void)nl, (void)st, (void)nw;
    return -1;
}
#endif
