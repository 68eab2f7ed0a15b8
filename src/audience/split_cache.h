/* The test side of a campaign's split as a bitmap, kept per seed.
 *
 * A customer's side is a pure function of (seed, dense id) (idset.c), so the
 * bits computed once stay right for ever: adding customers only extends the
 * bitmap over the new ids' chunks, and nothing ever has to be recomputed or
 * invalidated (dense ids are never reused or moved). A resolve then splits by
 * a word-wise AND / AND-NOT instead of hashing every audience id. */
#ifndef ENG_AUDIENCE_SPLIT_CACHE_H
#define ENG_AUDIENCE_SPLIT_CACHE_H

#include "audience/idset.h"

/* Seeds kept (least recently used replaced): a campaign resolves with one
 * seed (preview, X-Engage count, approval), and each costs n/8 bytes. */
#define ENG__SPLIT_CACHE_N 4

typedef struct eng__split_bits {
    uint64_t seed, threshold, used;
    uint64_t *words; /* bit (id % 64) of words[id / 64]: id is on the test side */
    size_t nwords;   /* a multiple of ENG__CT_WORDS (whole 2^16-id chunks) */
} eng__split_bits;

typedef struct eng__split_cache {
    eng__split_bits e[ENG__SPLIT_CACHE_N];
    uint64_t tick;
} eng__split_cache;

void eng__split_cache_free(eng__split_cache *c, const eng__mem *mem);
/* eng__idset_split(all, seed, ratio, test, control), through the bitmap of
 * (seed, ratio), built or extended to cover all's ids first. Same results. */
int eng__split_cached(eng__split_cache *c, const eng__mem *mem, const eng__idset *all, uint64_t seed, double ratio,
                      eng__idset *test, eng__idset *control);
/* The test-side bitmap of (seed, ratio), 0 < ratio < 1, built or extended to
 * cover at least @p nchunks chunks: *words (valid until the cache changes)
 * and *nwords; ENG_ENOMEM. */
int eng__split_side(eng__split_cache *c, const eng__mem *mem, uint64_t seed, double ratio, size_t nchunks,
                    const uint64_t **words, size_t *nwords);

#endif
