/* The test/control split hash (splitmix64 of seed ^ id against a threshold)
 * over a bitmap container, at the CPU's vector level (base/simd.h). Every
 * level gives the same bits as eng__idset_split_side() id by id. */
#ifndef ENG_AUDIENCE_SPLIT_H
#define ENG_AUDIENCE_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* For the ids hi | (64 w + b) with bit b of bits[w] set (w < nw): wt[w] gets
 * the ones on the test side, mix64(seedmix ^ id) < threshold. */
void eng__split_words(uint64_t seedmix, uint32_t hi, uint64_t threshold, const uint64_t *bits, uint64_t *wt,
                      size_t nw);

#endif
