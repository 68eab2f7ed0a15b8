/* LSD radix sorts by customer id: byte passes, a pass skipped when every
 * key has the same byte there (ids below 2^24 need three). Stable, so rows
 * pushed in log order keep that order within a customer. The elements move
 * whole, so the walk that follows reads them sequentially. */
#include "measure/measure_impl.h"

#include <string.h>

static int beat(eng__attr *x, size_t left)
{
    ENG__WORK(left < eng__attr_beat_rows ? left : eng__attr_beat_rows);
    return eng__attr_beat(x, 1);
}

#define RADIX_SORT(name, type)                                                \
    int name(type *a, type *tmp, size_t n, eng__attr *x)                      \
    {                                                                         \
        size_t cnt[4][256];                                                   \
        int rc;                                                               \
        memset(cnt, 0, sizeof cnt);                                           \
        for (size_t i = 0; i < n; i++) {                                      \
            if (!(i & (eng__attr_beat_rows - 1)) && (rc = beat(x, n - i)))    \
                return rc;                                                    \
            uint32_t k = a[i].cust;                                           \
            cnt[0][k & 255]++;                                                \
            cnt[1][(k >> 8) & 255]++;                                         \
            cnt[2][(k >> 16) & 255]++;                                        \
            cnt[3][k >> 24]++;                                                \
        }                                                                     \
        type *src = a, *dst = tmp;                                            \
        for (int p = 0; p < 4; p++) {                                         \
            int shift = p * 8;                                                \
            if (n == 0 || cnt[p][(a[0].cust >> shift) & 255] == n)            \
                continue;                                                     \
            size_t off = 0;                                                   \
            for (int b = 0; b < 256; b++) {                                   \
                size_t c = cnt[p][b];                                         \
                cnt[p][b] = off;                                              \
                off += c;                                                     \
            }                                                                 \
            for (size_t i = 0; i < n; i++) {                                  \
                if (!(i & (eng__attr_beat_rows - 1)) && (rc = beat(x, n - i))) \
                    return rc; /* a's elements partly in tmp: the run is dropped */ \
                dst[cnt[p][(src[i].cust >> shift) & 255]++] = src[i];         \
            }                                                                 \
            type *t = src;                                                    \
            src = dst;                                                        \
            dst = t;                                                          \
        }                                                                     \
        if (src != a)                                                         \
            memcpy(a, src, n * sizeof *a);                                    \
        return ENG_OK;                                                        \
    }

RADIX_SORT(eng__sort_cand, eng__cand)
RADIX_SORT(eng__sort_qtx, eng__qtx)
