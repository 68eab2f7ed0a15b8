/* What the two delta appliers share: delta.c (schema 1 and 2, values row by
 * row) and delta_cols.c (schema 3, values column by column). */
#ifndef ENG_AUDIENCE_DELTA_IMPL_H
#define ENG_AUDIENCE_DELTA_IMPL_H

#include "audience/audience_impl.h"
#include "base/codec.h"

#include <string.h>

/* Inline readers for the value loops: the common case (no error yet, bytes
 * left, a short varint) without a call; anything else goes to the codec's
 * own reader, which sets the sticky error exactly as before. */
static inline uint8_t eng__drd_u8(eng__rd *r)
{
    if (!r->err && r->p < r->end)
        return *r->p++;
    return eng__rd_u8(r);
}

static inline uint64_t eng__drd_uvar(eng__rd *r)
{
    const uint8_t *p = r->p;
    if (!r->err && r->end - p >= 10) {
        uint64_t v = 0;
        for (int k = 0; k < 9; k++) {
            v |= (uint64_t)(p[k] & 0x7f) << (7 * k);
            if (!(p[k] & 0x80)) {
                r->p = p + k + 1;
                return v;
            }
        }
    }
    return eng__rd_uvar(r);
}

static inline int64_t eng__drd_svar(eng__rd *r)
{
    uint64_t u = eng__drd_uvar(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline const uint8_t *eng__drd_blob(eng__rd *r, size_t *n)
{
    const uint8_t *p = r->p;
    if (!r->err && p < r->end && *p < 0x80 && (size_t)(r->end - p - 1) >= *p) {
        *n = *p;
        r->p = p + 1 + *p;
        return p + 1;
    }
    return eng__rd_blob(r, n);
}

/* A phone number stored as its digits' integer (schema 2 and 3): "+" and
 * 8-15 digits into out; its length, or 0 when out of range (corrupt). */
size_t eng__delta_phone_text(uint64_t num, char out[17]);

/* A STRING column's value @p s of a slotted column into the table and into
 * its slot table (dictionary code + 1 by eng__dslot); check: a filled slot
 * may hold another value (schema 1 uses the slots as a cache). */
int eng__delta_set_str_slot(eng__table *t, uint32_t *slots, uint32_t col, uint32_t id, const uint8_t *s, size_t l,
                            int check);

/* 1 (the default): the column loops of schema 3 read most tags and varints
 * through a local pointer; 0: every value through the checked readers above
 * (the reference the tests compare them with). */
extern unsigned eng__aud_cols_fast;

/* A part's columns as its header names them. */
typedef struct eng__dcols {
    uint32_t nc;
    uint8_t kind[ENG__CSV_MAX_FIELDS];
    uint32_t idx[ENG__CSV_MAX_FIELDS];
    int64_t now; /* the part's time (schema >= 2) */
} eng__dcols;

/* Schema 3: the values of @p nrows rows (dense ids @p ids) at r, column by
 * column, each column's bytes preceded by their length. */
int eng__delta_apply_cols(eng__table *t, eng__rd *r, const eng__dcols *dc, const uint32_t *ids, uint32_t nrows,
                          const char *key);

#endif
