/* LSD radix sort of (key, payload) pairs by a 32-bit key: four byte passes,
 * passes whose byte is the same for every key skipped. Stable, so pairs
 * pushed in row order stay in row order within a key. */
#include "measure/measure_impl.h"

#include <string.h>

void eng__kv_sort(eng__kv *a, eng__kv *tmp, size_t n)
{
    size_t cnt[4][256];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = a[i].key;
        cnt[0][k & 255]++;
        cnt[1][(k >> 8) & 255]++;
        cnt[2][(k >> 16) & 255]++;
        cnt[3][k >> 24]++;
    }
    eng__kv *src = a, *dst = tmp;
    for (int p = 0; p < 4; p++) {
        int shift = p * 8;
        if (n == 0 || cnt[p][(a[0].key >> shift) & 255] == n)
            continue; /* every key has this byte */
        size_t off = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = cnt[p][b];
            cnt[p][b] = off;
            off += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[p][(src[i].key >> shift) & 255]++] = src[i];
        eng__kv *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}
