/* A per-customer time column (consent times) stored by palette.
 *
 * Most customers share a handful of consent times (the import's clock for
 * "yes" without a time, a campaign's opt-in date), so a row keeps a code
 * into a palette of the distinct times (code 0: no time, read as 0): one
 * byte a customer up to 255 distinct times, two up to 65,535, instead of 8.
 * Past that the column switches once to a plain int64 array, so no data
 * bounds what it can hold. Nothing is allocated until the first non-zero
 * time. */
#ifndef ENG_AUDIENCE_TCOL_H
#define ENG_AUDIENCE_TCOL_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"

typedef struct eng__tcol {
    uint8_t *code8;   /* palette form, at most 255 times: per row, palette index + 1 (0 = none) */
    uint16_t *code16; /* the same past 255 times (at most one of code8, code16, wide is set) */
    int64_t *wide;    /* plain form (after the palette filled up), or NULL */
    int64_t *pal;    /* distinct times */
    uint16_t *slots; /* hash index of pal: index + 1, 0 = empty; nslots a power of two */
    uint32_t npal, palcap, nslots;
    uint32_t last;   /* code of the last time set (imports repeat one time) */
} eng__tcol;

/* The time of row @p id (0 when none); id < the rows allocated. */
static inline int64_t eng__tcol_get(const eng__tcol *c, uint32_t id)
{
    if (c->wide)
        return c->wide[id];
    uint32_t k = c->code8 ? c->code8[id] : c->code16 ? c->code16[id] : 0;
    return k ? c->pal[k - 1] : 0;
}

/* Set row @p id (< @p rows, the rows allocated) to @p ts (0: none). ENG_ENOMEM
 * leaves the column unchanged. */
int eng__tcol_set(const eng__mem *mem, eng__tcol *c, size_t rows, uint32_t id, int64_t ts);
/* Set the rows @p ids[0 .. n) to @p ts: one palette look-up, then a store
 * a row (a column of an import's "yes at the part's time"). ENG_ENOMEM
 * leaves the column unchanged. */
int eng__tcol_set_many(const eng__mem *mem, eng__tcol *c, size_t rows, const uint32_t *ids, size_t n, int64_t ts);
/* Resize to @p rows rows (growing zero-fills; a failure keeps the old size when growing). */
int eng__tcol_resize(const eng__mem *mem, eng__tcol *c, size_t oldrows, size_t rows);
void eng__tcol_free(const eng__mem *mem, eng__tcol *c);
size_t eng__tcol_bytes(const eng__tcol *c, size_t rows);

#endif
