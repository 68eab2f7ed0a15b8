/* Stable radix sorts by customer id. One pass by the top digit (up to 11 bits:
 * wider digits scatter into too many places at once) moves every element into
 * its bucket in tmp; each bucket (a few thousand elements at L, tens of KB)
 * is then sorted by the remaining bits with two LSD passes through the same
 * range of a and back, in cache. The old LSD sort made one full read and
 * scatter of the array per digit, three at L (10^7 ids), so the kept touches'
 * 75 MB went through memory three times; now once, plus a read of each bucket
 * while it is in cache. Stable, so rows pushed in log order keep that order
 * within a customer (the same order as the LSD sort; tests/unit/measure
 * test_sort checks it). The result is in tmp unless every key has the same top
 * digit; the walk keeps whichever holds it rather than copying back. */
#include "measure/measure_impl.h"

#include <string.h>

enum { DIGIT_MAX = 11, SMALL_BUCKET = 16 };

static int beat(eng__attr *x)
{
    ENG__WORK(eng__attr_beat_rows);
    return eng__attr_beat(x, 1);
}

/* A progress step every eng__attr_beat_rows rows handled, in any pass. */
#define STEP(done, x, rc) (!(++*(done) & (eng__attr_beat_rows - 1)) && ((rc) = beat(x)))

#define RADIX_SORT(name, type)                                                          \
    /* s[0..len) share their top digit: sort them by the low @p lo bits, through o     \
     * (two passes, back into s; tiny buckets by insertion). */                          \
    static int name##_bucket(type *s, type *o, size_t len, unsigned lo, size_t *cnt,     \
                             eng__attr *x, size_t *done)                                 \
    {                                                                                    \
        int rc = ENG_OK;                                                                 \
        if (len <= SMALL_BUCKET) {                                                       \
            for (size_t i = 1; i < len; i++) {                                           \
                if (STEP(done, x, rc))                                                   \
                    return rc;                                                           \
                type v = s[i];                                                           \
                size_t j = i;                                                            \
                for (; j > 0 && s[j - 1].cust > v.cust; j--)                             \
                    s[j] = s[j - 1];                                                     \
                s[j] = v;                                                                \
            }                                                                            \
            return ENG_OK;                                                               \
        }                                                                                \
        const unsigned d1 = (lo + 1) / 2, d2 = lo - d1;                                  \
        const uint32_t m1 = (1u << d1) - 1, m2 = (1u << d2) - 1;                         \
        size_t *c1 = cnt, *c2 = cnt + m1 + 1;                                            \
        memset(cnt, 0, ((size_t)m1 + 1 + m2 + 1) * sizeof *cnt);                         \
        for (size_t i = 0; i < len; i++) {                                               \
            uint32_t k = s[i].cust;                                                      \
            c1[k & m1]++;                                                                \
            c2[(k >> d1) & m2]++;                                                        \
        }                                                                                \
        for (size_t b = 0, o1 = 0, o2 = 0; b <= m1; b++) {                               \
            size_t k1 = c1[b];                                                           \
            c1[b] = o1;                                                                  \
            o1 += k1;                                                                    \
            if (b <= m2) {                                                               \
                size_t k2 = c2[b];                                                       \
                c2[b] = o2;                                                              \
                o2 += k2;                                                                \
            }                                                                            \
        }                                                                                \
        for (size_t i = 0; i < len; i++) {                                               \
            if (STEP(done, x, rc))                                                       \
                return rc;                                                               \
            o[c1[s[i].cust & m1]++] = s[i];                                              \
        }                                                                                \
        for (size_t i = 0; i < len; i++) {                                               \
            if (STEP(done, x, rc))                                                       \
                return rc;                                                               \
            s[c2[(o[i].cust >> d1) & m2]++] = o[i];                                      \
        }                                                                                \
        return ENG_OK;                                                                   \
    }                                                                                    \
                                                                                         \
    int name(type *a, type *tmp, size_t n, eng__attr *x, type **out)                     \
    {                                                                                    \
        int rc = ENG_OK;                                                                 \
        *out = a;                                                                        \
        uint32_t max = x->sp.n_customers ? x->sp.n_customers - 1 : 0;                    \
        unsigned bits = 0;                                                               \
        while (bits < 32 && (max >> bits))                                               \
            bits++;                                                                      \
        if (!bits || n < 2)                                                              \
            return ENG_OK;                                                               \
        const unsigned hi = bits < DIGIT_MAX ? bits : DIGIT_MAX, lo = bits - hi;         \
        const size_t nb = (size_t)1 << hi, top = nb - 1; /* ids are below n_customers */     \
        /* the top digit's counts, then a bucket's two digits' */                        \
        size_t *cnt = eng__calloc(x->mem, nb + ((size_t)2 << (lo - lo / 2)), sizeof *cnt); \
        if (!cnt)                                                                        \
            return eng__nomem();                                                         \
        size_t done = 0, *lc = cnt + nb;                                                 \
        for (size_t i = 0; i < n; i++) {                                                 \
            if (STEP(&done, x, rc))                                                      \
                goto out;                                                                \
            cnt[(a[i].cust >> lo) & top]++;                                                      \
        }                                                                                \
        if (cnt[(a[0].cust >> lo) & top] == n) { /* one bucket: sort it where it is */           \
            if (lo)                                                                      \
                rc = name##_bucket(a, tmp, n, lo, lc, x, &done);                         \
            goto out;                                                                    \
        }                                                                                \
        for (size_t b = 0, off = 0; b < nb; b++) {                                       \
            size_t k = cnt[b];                                                           \
            cnt[b] = off;                                                                \
            off += k;                                                                    \
        }                                                                                \
        for (size_t i = 0; i < n; i++) {                                                 \
            if (STEP(&done, x, rc))                                                      \
                goto out; /* a's elements partly in tmp: the run is dropped */           \
            tmp[cnt[(a[i].cust >> lo) & top]++] = a[i];                                          \
        }                                                                                \
        *out = tmp; /* no copy back: the caller takes whichever holds it */              \
        for (size_t b = 0, from = 0; lo && b < nb; from = cnt[b++]) /* cnt[b]: b's end */ \
            if (cnt[b] - from > 1 && (rc = name##_bucket(tmp + from, a + from, cnt[b] - from, lo, lc, x, &done))) \
                goto out;                                                                \
    out:                                                                                 \
        eng__free(x->mem, cnt);                                                          \
        return rc;                                                                       \
    }

RADIX_SORT(eng__sort_cand, eng__cand)
RADIX_SORT(eng__sort_qtx, eng__qtx)
