/* Per-seed bitmaps of the split's test side (split_cache.h). */
#include "audience/split_cache.h"
#include "audience/split.h"
#include "base/error.h"
#include "base/hash.h"

#include <string.h>

void eng__split_cache_free(eng__split_cache *c, const eng__mem *mem)
{
    for (int i = 0; i < ENG__SPLIT_CACHE_N; i++)
        eng__free(mem, c->e[i].words);
    memset(c, 0, sizeof *c);
}

/* The entry of (seed, threshold), covering at least @p nwords; NULL on ENG_ENOMEM. */
static eng__split_bits *entry(eng__split_cache *c, const eng__mem *mem, uint64_t seed, uint64_t threshold,
                              size_t nwords)
{
    eng__split_bits *b = NULL;
    for (int i = 0; i < ENG__SPLIT_CACHE_N && !b; i++)
        if (c->e[i].words && c->e[i].seed == seed && c->e[i].threshold == threshold)
            b = &c->e[i];
    if (!b) { /* a free slot, else the least recently used */
        b = &c->e[0];
        for (int i = 1; i < ENG__SPLIT_CACHE_N && b->words; i++)
            if (!c->e[i].words || c->e[i].used < b->used)
                b = &c->e[i];
        eng__free(mem, b->words);
        *b = (eng__split_bits){seed, threshold, 0, NULL, 0};
    }
    b->used = ++c->tick;
    if (b->nwords >= nwords)
        return b;
    uint64_t *w = eng__realloc(mem, b->words, nwords * sizeof *w);
    if (!w)
        return NULL;
    /* Only the new chunks are hashed: the old bits cannot change. */
    uint64_t ones[ENG__CT_WORDS];
    memset(ones, 0xff, sizeof ones);
    uint64_t seedmix = eng__mix64(seed);
    for (size_t k = b->nwords; k < nwords; k += ENG__CT_WORDS)
        eng__split_words(seedmix, (uint32_t)(k / ENG__CT_WORDS) << 16, threshold, ones, w + k, ENG__CT_WORDS);
    b->words = w;
    b->nwords = nwords;
    return b;
}

int eng__split_side(eng__split_cache *c, const eng__mem *mem, uint64_t seed, double ratio, size_t nchunks,
                    const uint64_t **words, size_t *nwords)
{
    eng__split_bits *b = entry(c, mem, seed, eng__split_threshold(ratio), nchunks * ENG__CT_WORDS);
    if (!b)
        return eng__nomem();
    *words = b->words;
    *nwords = b->nwords;
    return ENG_OK;
}

int eng__split_cached(eng__split_cache *c, const eng__mem *mem, const eng__idset *all, uint64_t seed, double ratio,
                      eng__idset *test, eng__idset *control)
{
    /* All-test and all-control need no hash. */
    if (ratio >= 1.0 || ratio <= 0.0 || all->n == 0)
        return eng__idset_split(all, seed, ratio, test, control);
    const uint64_t *w = NULL;
    size_t nw = 0;
    if (eng__split_side(c, mem, seed, ratio, (size_t)all->c[all->n - 1].key + 1, &w, &nw)) {
        eng__idset_free(test);
        eng__idset_free(control);
        return ENG_ENOMEM;
    }
    return eng__idset_split_words(all, w, nw, test, control);
}
