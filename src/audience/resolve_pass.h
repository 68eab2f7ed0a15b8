/* A resolve in one pass over the id space's chunks (resolve_pass.c). */
#ifndef ENG_AUDIENCE_RESOLVE_PASS_H
#define ENG_AUDIENCE_RESOLVE_PASS_H

#include "audience/idset.h"
#include "engage/channel.h"

/* What a resolve combines. */
typedef struct eng__rpass {
    const eng__idset *const *inc, *const *exc;
    size_t ninc, nexc;
    const eng__idset *reach[ENG_CH_COUNT]; /* each channel's reachable set (eng__table_reachable_kept) */
    uint32_t count;  /* channels whose reach is counted (their sets must be given) */
    int filter;      /* 1: the audience ∩ the union of the keep channels' reachable sets */
    uint32_t keep;   /* those channels (only those in count take part) */
    int split;       /* 1: test/control from side; 0: leave them empty */
    const uint64_t *side; /* test side, bit (id % 64) of side[id / 64]; NULL: by test_all */
    size_t side_words;    /* must cover every chunk of the include sets */
    int test_all;         /* side NULL: everyone test (1) or everyone control (0) */
} eng__rpass;

/* all = (∪ inc) − (∪ exc), ∩ the kept channels' reachable union when filter;
 * reach[c] = |((∪ inc) − (∪ exc)) ∩ reach[c]| for c in count (0 for the
 * others); test / control = all ∩ / − side. The same sets the set algebra of
 * idset.c gives step by step, each chunk read once and each output written
 * once. @p all may be NULL (not built: it is test ∪ control when split).
 * Outputs are replaced; on failure (ENG_ENOMEM) they are left empty. */
int eng__resolve_pass(const eng__rpass *p, const eng__mem *mem, eng__idset *all, uint64_t reach[ENG_CH_COUNT],
                      eng__idset *test, eng__idset *control);

/* Highest chunk key + 1 over the include sets (0 when all are empty). */
size_t eng__rpass_chunks(const eng__rpass *p);

#endif
