/* A sort that reports progress: qsort in runs of 2^15 elements, then
 * bottom-up merges, with a progress step after each run and every 2^15
 * elements merged, so that sorting millions of entries (a consent history's
 * changes at compaction) does not go seconds without a report. Without a
 * progress callback it is plain qsort (no scratch memory). */
#include "core/engine_impl.h"

#include <stdlib.h>
#include <string.h>

#define RUN ((size_t)1 << 15)

static int beat(eng__prog *p) { return eng__prog_batch(p, p->done); }

int eng__prog_sort(eng__prog *p, void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (!p || !p->e->progress_fn || n <= RUN) {
        if (n > 1) /* an empty array may be NULL, which qsort's declaration forbids */
            qsort(base, n, size, cmp);
        return p ? beat(p) : ENG_OK;
    }
    char *a = base, *tmp = eng__malloc(&p->e->mem, n * size);
    if (!tmp)
        return eng__nomem();
    int rc = ENG_OK;
    for (size_t i = 0; i < n && !rc; i += RUN) {
        qsort(a + i * size, n - i < RUN ? n - i : RUN, size, cmp);
        rc = beat(p);
    }
    /* src always holds every element: a cancel mid-pass leaves it whole */
    char *src = a, *dst = tmp;
    for (size_t w = RUN; w < n && !rc; w *= 2) {
        for (size_t lo = 0; lo < n && !rc; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                const char *from = cmp(src + j * size, src + i * size) < 0 ? src + j++ * size : src + i++ * size;
                memcpy(dst + k++ * size, from, size);
                if (!(k & (RUN - 1)) && (rc = beat(p)))
                    break;
            }
            if (rc)
                break;
            memcpy(dst + k * size, src + i * size, (mid - i) * size);
            k += mid - i;
            memcpy(dst + k * size, src + j * size, (hi - j) * size);
        }
        if (rc)
            break;
        char *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * size);
    eng__free(&p->e->mem, tmp);
    return rc;
}
