/* Column packing for event segments: frame of reference + bit packing.
 * A column of n integers is stored as
 *   svar min, u8 width, ceil(n * width / 8) bytes of (v[i] - min) packed LSB first
 * so a constant column costs two bytes and a column of dense ids costs
 * log2(range) bits a row. Decoding is bounds-checked through the codec reader
 * (a short or malformed column sets the reader's sticky error). */
#ifndef ENG_EVENTS_COLPACK_H
#define ENG_EVENTS_COLPACK_H

#include <stddef.h>
#include <stdint.h>
#include "base/codec.h"
#include "engage/errors.h"

void eng__pack_i64(eng__wr *w, const int64_t *v, size_t n);
void eng__pack_u32(eng__wr *w, const uint32_t *v, size_t n);
void eng__pack_u8(eng__wr *w, const uint8_t *v, size_t n);
/* The same for a column whose least and greatest values the caller already has (a
 * segment's zone): exactly those, or the bytes are wrong. */
void eng__pack_i64_in(eng__wr *w, const int64_t *v, size_t n, int64_t min, int64_t max);
void eng__pack_u32_in(eng__wr *w, const uint32_t *v, size_t n, uint32_t min, uint32_t max);
/* colpack_vec.c: the first values of a column of n values of @p size bytes (1, 4 or 8)
 * packed as the scalar packer packs them, w bits each (w >= 1) after subtracting min,
 * at o (byte-aligned, 16 bytes of room past the column's bytes not needed); returns
 * how many (a multiple of 8; 0 below AVX2, for w over 8 bits of bytes or over 32 of
 * wider values, or for short columns). The scalar packer packs the rest. */
size_t eng__pack_vec(uint8_t *o, const void *v, unsigned size, size_t n, uint64_t min, unsigned w);
/* Decode n values into out (room for n). */
void eng__unpack_i64(eng__rd *r, int64_t *out, size_t n);
void eng__unpack_u32(eng__rd *r, uint32_t *out, size_t n);
void eng__unpack_u8(eng__rd *r, uint8_t *out, size_t n);
/* Skip a packed column of n values without decoding it. */
void eng__unpack_skip(eng__rd *r, size_t n);

/* A packed column read in place, so that a reader can decode a range of its
 * rows and leave the rest packed (the report's reader, touch_tab.c). */
typedef struct eng__pcol {
    const uint8_t *p;
    size_t nbytes;
    int64_t min;
    unsigned w;
} eng__pcol;
/* The header of a column of n values (at most maxw bits each) and its bytes, borrowed
 * from r; a malformed column sets the reader's sticky error. */
void eng__pcol_read(eng__rd *r, size_t n, unsigned maxw, eng__pcol *c);
/* Values [from, from + n) of a column read by eng__pcol_read (in its bounds). */
void eng__pcol_i64(const eng__pcol *c, size_t from, size_t n, int64_t *out);
void eng__pcol_u32(const eng__pcol *c, size_t from, size_t n, uint32_t *out);
void eng__pcol_u8(const eng__pcol *c, size_t from, size_t n, uint8_t *out);
/* Value i of a column read by eng__pcol_read (in its bounds). */
int64_t eng__pcol_at(const eng__pcol *c, size_t i);
/* 1 when values [from, from + n) all equal v: several values a compare, none decoded. */
int eng__pcol_same(const eng__pcol *c, size_t from, size_t n, int64_t v);

#endif
