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

/* A zigzag varint's value. */
static inline int64_t eng__unzig(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline int64_t eng__drd_svar(eng__rd *r)
{
    return eng__unzig(eng__drd_uvar(r));
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
 * 8-15 digits into out; its length, or 0 when out of range (corrupt).
 * Inline: the column loop converts a number a row. */
/* The eight digits of v < 10^8, zero-padded, as ASCII in a word whose
 * bytes in memory are the digits in order: a few multiplies instead of a division a digit (a bulk import
 * converts a phone number a row). */
static inline uint64_t eng__ascii8(uint32_t v)
{
    uint64_t x = (uint64_t)(v / 10000) | ((uint64_t)(v % 10000) << 32); /* two lanes of 4 digits */
    uint64_t top = ((x * 10486ull) >> 20) & ((0x7full << 32) | 0x7full);   /* each lane / 100 */
    uint64_t hundreds = ((x - 100ull * top) << 16) + top;                  /* four lanes of 2 digits */
    uint64_t tens = ((hundreds * 103ull) >> 10) & 0x000f000f000f000full;   /* each lane / 10 */
    tens += (hundreds - 10ull * tens) << 8;
    tens += 0x3030303030303030ull;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    tens = __builtin_bswap64(tens); /* stored with memcpy: the first digit first */
#endif
    return tens;
}

static inline size_t eng__delta_phone_text(uint64_t num, char out[17])
{
    if (num < 10000000ull || num > 999999999999999ull)
        return 0;
    /* nd digits (8..15): the high part's last nd - 8 digits, then the low 8.
     * A number of b bits has t = floor(b log10 2) digits or t + 1 (1233 / 4096
     * is log10 2 closely enough below 2^64): one compare, not seven. */
    static const uint64_t pow10[17] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
                                       100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
                                       1000000000000ull, 10000000000000ull, 100000000000000ull,
                                       1000000000000000ull, 10000000000000000ull};
    unsigned t = (unsigned)(64 - __builtin_clzll(num)) * 1233u >> 12;
    size_t nd = t + (num >= pow10[t]);
    uint64_t hi = eng__ascii8((uint32_t)(num / 100000000ull)), lo = eng__ascii8((uint32_t)(num % 100000000ull));
    out[0] = '+';
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    hi <<= 8 * (16 - nd) - 1, hi <<= 1; /* the first digit first: drop the leading zeros */
#else
    hi >>= 8 * (16 - nd) - 1, hi >>= 1; /* (16 - nd) is 1..8: two shifts, never one of 64 */
#endif
    memcpy(out + 1, &hi, 8);     /* within out[1..8]; the low digits overwrite what is not digits */
    memcpy(out + nd - 7, &lo, 8); /* out[nd - 7 .. nd] */
    return nd + 1;
}


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
