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

size_t eng__split_cache_bytes(const eng__split_cache *c)
{
    size_t b = 0;
    for (int i = 0; i < ENG__SPLIT_CACHE_N; i++)
        b += c->e[i].nwords * sizeof(uint64_t);
    return b;
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

int eng__split_cached(eng__split_cache *c, const eng__mem *mem, const eng__idset *all, uint64_t seed, double ratio,
                      eng__idset *test, eng__idset *control)
{
    /* All-test and all-control need no hash. */
    if (ratio >= 1.0 || ratio <= 0.0 || all->n == 0)
        return eng__idset_split(all, seed, ratio, test, control);
    size_t nwords = ((size_t)all->c[all->n - 1].key + 1) * ENG__CT_WORDS;
    eng__split_bits *b = entry(c, mem, seed, eng__split_threshold(ratio), nwords);
    if (!b) {
        eng__idset_free(test);
        eng__idset_free(control);
        return eng__nomem();
    }
    return eng__idset_split_words(all, b->words, b->nwords, test, control);
}
