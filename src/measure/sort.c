/* LSD radix sorts by customer id: as few digit passes as ids below
 * n_customers need, digits of up to 11 bits (below 2^22, two passes: at M
 * 2^20 ids take two of 10 bits where 8-bit digits took three, each a full
 * read and scatter of the array; wider digits scatter into too many places
 * at once). Stable, so rows pushed in log order keep that order within a
 * customer. The elements move whole, so the walk that follows reads them
 * sequentially. After an odd number of passes (three at L) the result is in
 * tmp, and the walk keeps tmp rather than copying 110 MB back. */
#include "measure/measure_impl.h"

#include <string.h>

enum { DIGIT_MAX = 11 };

static int beat(eng__attr *x, size_t left)
{
    ENG__WORK(left < eng__attr_beat_rows ? left : eng__attr_beat_rows);
    return eng__attr_beat(x, 1);
}

/* Digit width for keys up to @p max: passes of equal width, none wider than DIGIT_MAX. */
static unsigned digit_bits(uint32_t max, unsigned *passes)
{
    unsigned bits = 0;
    while (bits < 32 && (max >> bits))
        bits++;
    *passes = (bits + DIGIT_MAX - 1) / DIGIT_MAX;
    return *passes ? (bits + *passes - 1) / *passes : 0;
}

#define RADIX_SORT(name, type)                                                    \
    int name(type *a, type *tmp, size_t n, eng__attr *x, type **out)              \
    {                                                                             \
        int rc;                                                                   \
        *out = a;                                                                 \
        uint32_t max = x->sp.n_customers ? x->sp.n_customers - 1 : 0;             \
        unsigned passes, d = digit_bits(max, &passes);                            \
        if (!passes || !n)                                                        \
            return ENG_OK;                                                        \
        size_t *cnt = eng__calloc(x->mem, (size_t)passes << d, sizeof *cnt);      \
        if (!cnt)                                                                 \
            return eng__nomem();                                                  \
        const uint32_t mask = (1u << d) - 1;                                      \
        for (size_t i = 0; i < n; i++) {                                          \
            if (!(i & (eng__attr_beat_rows - 1)) && (rc = beat(x, n - i))) {      \
                eng__free(x->mem, cnt);                                           \
                return rc;                                                        \
            }                                                                     \
            uint32_t k = a[i].cust;                                               \
            for (unsigned p = 0; p < passes; p++)                                 \
                cnt[((size_t)p << d) + ((k >> (p * d)) & mask)]++;                \
        }                                                                         \
        type *src = a, *dst = tmp;                                                \
        for (unsigned p = 0; p < passes; p++) {                                   \
            size_t *c = cnt + ((size_t)p << d), off = 0;                          \
            unsigned shift = p * d;                                               \
            if (c[(a[0].cust >> shift) & mask] == n)                              \
                continue; /* every key has the same digit here */                 \
            for (size_t b = 0; b <= mask; b++) {                                  \
                size_t k = c[b];                                                  \
                c[b] = off;                                                       \
                off += k;                                                         \
            }                                                                     \
            for (size_t i = 0; i < n; i++) {                                      \
                if (!(i & (eng__attr_beat_rows - 1)) && (rc = beat(x, n - i))) {  \
                    eng__free(x->mem, cnt);                                       \
                    return rc; /* a's elements partly in tmp: the run is dropped */ \
                }                                                                 \
                dst[c[(src[i].cust >> shift) & mask]++] = src[i];                 \
            }                                                                     \
            type *t = src;                                                        \
            src = dst;                                                            \
            dst = t;                                                              \
        }                                                                         \
        eng__free(x->mem, cnt);                                                   \
        *out = src; /* no copy back: the caller takes whichever holds it */       \
        return ENG_OK;                                                            \
    }

RADIX_SORT(eng__sort_cand, eng__cand)
RADIX_SORT(eng__sort_qtx, eng__qtx)
