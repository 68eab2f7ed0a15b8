/* The fused and/or's leaves and state, shared by batch_fused.c (the pass,
 * kid by kid) and batch_and512.c (an and of narrow kids in one loop). */
#ifndef ENG_RULES_BATCH_FUSED_H
#define ENG_RULES_BATCH_FUSED_H

#include "rules/batch_kern.h"

/* FL_EQ*: against 4 codes (fewer repeat the first), FL_EQ*_1: against one. */
enum { FL_EQ8, FL_EQ16, FL_EQ32, FL_R16, FL_R32, FL_R64, FL_GT16, FL_GT32, FL_NULL, FL_EMPTY, FL_EQ8_1, FL_EQ16_1,
       FL_EQ32_1 };

typedef struct fleaf {
    uint8_t op;
    uint8_t neg;   /* is null: complement */
    uint8_t width; /* bytes a row (0: is null or an empty range, no data read) */
    uint32_t codes[4], size; /* codes: the true codes the width can hold */
    uint64_t tany;           /* codes: 0 when the width holds none of them */
    int32_t lo32;  /* R16, R32: the range cut to the column's type; GT16, GT32: the bound */
    uint32_t span32;
    uint64_t flip; /* ranges: complement the kernel's bits (not, or x <= k as not x > k) */
    uint64_t tnull, fnull; /* codes: all ones when a null row is true (false), else 0 */
    int64_t lo;    /* R64 */
    uint64_t span;
    const unsigned char *d; /* the first row of the words passed */
    const uint64_t *nulls;  /* their first null word, or NULL */
} fleaf;

typedef struct fstate {
    const uint64_t *sel;
    uint64_t *dec, *keep;
    int is_and;
} fstate;

/* Each kid asks for its column's bytes FUSE_AHEAD past the word it reads:
 * the blocks take turns between columns, and with the hardware's stream
 * prefetch alone the pass waited on memory at L (a third of W2's time on
 * a Xeon with AVX-512; prefetching past a column's end is harmless). */
#ifndef FUSE_AHEAD
#define FUSE_AHEAD 2048
#endif

/* The null words of a column without nulls, so the loops need no test. */
extern const uint64_t eng__no_nulls[CHUNKW];

/* An and of the nl kids L over the nw words of st at the AVX-512 level in
 * one loop: 1 or 0 as the kid-by-kid pass would return, -1 when the kids
 * are not of the kinds it takes (the caller goes kid by kid). */
int eng__batch_and512(const fleaf *L, int nl, const fstate *st, size_t nw);

#endif
