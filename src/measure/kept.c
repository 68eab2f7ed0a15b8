/* The kept touches, bucketed by the top digit of their customer as they come.
 *
 * The walk needs them grouped by customer. They used to be appended to one
 * array and radix-sorted at the end: a pass by the top digit scattering the
 * whole array (75 MB at L) into a scratch buffer as large, then each bucket
 * sorted in cache. Now each touch goes into its top-digit bucket when it is
 * kept — a list of chunks of 1 KB, appended in feed order, so each bucket is
 * in feed order and the sort by the rest of the bits stays stable — and the
 * walk sorts one bucket at a time into a scratch buffer of the largest
 * bucket's size (sort.c, eng__sort_kept), which stays in cache. No full
 * scatter and no buffer of every touch beside the chunks. In the store's
 * ordered segments the customers ascend, so a segment's kept touches fill one
 * bucket's chunk after another. */
#include "measure/measure_impl.h"

#include <string.h>

unsigned eng__kept_digit_max = 11;

int eng__kept_init(eng__kept *k, const eng__mem *mem, uint32_t n_customers)
{
    memset(k, 0, sizeof *k);
    uint32_t max = n_customers ? n_customers - 1 : 0;
    unsigned bits = 0;
    while (bits < 32 && (max >> bits))
        bits++;
    const unsigned hi = bits < eng__kept_digit_max ? bits : eng__kept_digit_max;
    k->lo = bits - hi;
    k->nb = (size_t)1 << hi;
    k->head = eng__calloc(mem, k->nb, sizeof *k->head);
    k->tail = eng__calloc(mem, k->nb, sizeof *k->tail);
    k->cnt = eng__calloc(mem, k->nb, sizeof *k->cnt);
    return k->head && k->tail && k->cnt ? ENG_OK : eng__nomem();
}

eng__kchunk *eng__kept_chunk(eng__kept *k, const eng__mem *mem, size_t b)
{
    if (!k->left) {
        /* slabs of 16 chunks, doubling to 2,048 (2 MB): small runs stay small */
        size_t nch = k->nslabs < 7 ? (size_t)16 << k->nslabs : 2048;
        if (k->nslabs == k->capslabs && eng__grow(mem, (void **)&k->slabs, &k->capslabs, k->nslabs + 1, sizeof *k->slabs))
            return NULL;
        eng__kchunk *s = eng__malloc(mem, nch * sizeof *s);
        if (!s)
            return NULL;
        eng__mem_hint_huge(mem, s, nch * sizeof *s);
        k->slabs[k->nslabs++] = s;
        k->next = s;
        k->left = nch;
    }
    eng__kchunk *q = k->next++;
    k->left--;
    q->next = NULL;
    q->n = 0;
    if (k->tail[b])
        k->tail[b]->next = q;
    else
        k->head[b] = q;
    k->tail[b] = q;
    return q;
}

int eng__kept_append(eng__kept *d, eng__kept *s, const eng__mem *mem)
{
    if (s->nslabs && d->nslabs + s->nslabs > d->capslabs &&
        eng__grow(mem, (void **)&d->slabs, &d->capslabs, d->nslabs + s->nslabs, sizeof *d->slabs))
        return eng__nomem();
    for (size_t b = 0; b < s->nb; b++) {
        if (!s->head[b])
            continue;
        if (d->tail[b])
            d->tail[b]->next = s->head[b];
        else
            d->head[b] = s->head[b];
        d->tail[b] = s->tail[b];
        d->cnt[b] += s->cnt[b];
        s->head[b] = s->tail[b] = NULL;
        s->cnt[b] = 0;
    }
    if (s->nslabs)
        memcpy(d->slabs + d->nslabs, s->slabs, s->nslabs * sizeof *s->slabs);
    d->nslabs += s->nslabs;
    d->n += s->n;
    s->nslabs = 0;
    s->n = 0;
    s->left = 0;
    return ENG_OK;
}

void eng__kept_free(eng__kept *k, const eng__mem *mem)
{
    for (size_t i = 0; i < k->nslabs; i++)
        eng__free(mem, k->slabs[i]);
    eng__free(mem, k->slabs);
    eng__free(mem, k->head);
    eng__free(mem, k->tail);
    eng__free(mem, k->cnt);
    memset(k, 0, sizeof *k);
}
