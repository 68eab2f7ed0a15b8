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
/* Decode n values into out (room for n). */
void eng__unpack_i64(eng__rd *r, int64_t *out, size_t n);
void eng__unpack_u32(eng__rd *r, uint32_t *out, size_t n);
void eng__unpack_u8(eng__rd *r, uint8_t *out, size_t n);
/* Skip a packed column of n values without decoding it. */
void eng__unpack_skip(eng__rd *r, size_t n);

#endif
