/* Stable radix sorts by customer id. The qualifying transactions: one pass by
 * the top digit (up to 11 bits: wider digits scatter into too many places at
 * once) moves every element into its bucket in tmp; each bucket (a few
 * thousand elements at L, tens of KB) is then sorted by the remaining bits
 * with two LSD passes through the same range of a and back, in cache. The
 * result is in tmp unless every key has the same top digit; the walk keeps
 * whichever holds it rather than copying back. The kept touches come already
 * in their top-digit buckets (kept.c): eng__sort_kept sorts one bucket, read
 * from its chunks, by the remaining bits in two LSD passes through scratch of
 * the bucket's size. Both are stable, so rows pushed in log order keep that
 * order within a customer (tests/unit/measure test_sort checks it). */
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

RADIX_SORT(eng__sort_qtx, eng__qtx)

size_t eng__sort_kept_counters(const eng__kept *k)
{
    return ((size_t)2 << (k->lo - k->lo / 2)) + 1;
}

int eng__sort_kept(const eng__kept *k, size_t b, eng__cand *out, eng__cand *tmp, size_t *cnt, eng__attr *x,
                   size_t *done)
{
    int rc = ENG_OK;
    const size_t len = k->cnt[b];
    const unsigned lo = k->lo;
    if (!lo || len <= SMALL_BUCKET) { /* one customer a bucket, or a few touches: gathered, then by insertion */
        size_t at = 0;
        for (const eng__kchunk *q = k->head[b]; q; q = q->next) {
            memcpy(out + at, q->c, q->n * sizeof *q->c);
            at += q->n;
            const size_t was = *done;
            *done += q->n;
            if (((was ^ *done) & ~(eng__attr_beat_rows - 1)) && (rc = beat(x))) /* a multiple of the step passed */
                return rc;
        }
        for (size_t i = 1; lo && i < len; i++) {
            if (STEP(done, x, rc))
                return rc;
            eng__cand v = out[i];
            size_t j = i;
            for (; j > 0 && out[j - 1].cust > v.cust; j--)
                out[j] = out[j - 1];
            out[j] = v;
        }
        return ENG_OK;
    }
    const unsigned d1 = (lo + 1) / 2, d2 = lo - d1;
    const uint32_t m1 = (1u << d1) - 1, m2 = (1u << d2) - 1;
    size_t *c1 = cnt, *c2 = cnt + m1 + 1;
    memset(cnt, 0, ((size_t)m1 + 1 + m2 + 1) * sizeof *cnt);
    for (const eng__kchunk *q = k->head[b]; q; q = q->next)
        for (uint32_t i = 0; i < q->n; i++) {
            uint32_t c = q->c[i].cust;
            c1[c & m1]++;
            c2[(c >> d1) & m2]++;
        }
    for (size_t v = 0, o1 = 0, o2 = 0; v <= m1; v++) {
        size_t k1 = c1[v];
        c1[v] = o1;
        o1 += k1;
        if (v <= m2) {
            size_t k2 = c2[v];
            c2[v] = o2;
            o2 += k2;
        }
    }
    for (const eng__kchunk *q = k->head[b]; q; q = q->next) {
        if (q->next)
            __builtin_prefetch(q->next);
        for (uint32_t i = 0; i < q->n; i++) {
            if (STEP(done, x, rc))
                return rc;
            tmp[c1[q->c[i].cust & m1]++] = q->c[i];
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (STEP(done, x, rc))
            return rc;
        out[c2[(tmp[i].cust >> d1) & m2]++] = tmp[i];
    }
    return ENG_OK;
}
