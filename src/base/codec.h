/* Byte codec for stored records: a growable writer and a bounds-checked reader.
 * Integers are little-endian fixed width or LEB128 varints; strings and byte
 * runs carry a varint length. The reader's error is sticky: decode a whole
 * record, then check eng__rd_ok() once, so a truncated or hostile record can
 * never read out of bounds. */
#ifndef ENG_BASE_CODEC_H
#define ENG_BASE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"

typedef struct eng__wr {
    const eng__mem *mem;
    uint8_t *data;
    size_t len, cap;
    int err; /* first failure (ENG_ENOMEM); writes after it are no-ops */
} eng__wr;

void eng__wr_init(eng__wr *w, const eng__mem *mem);
void eng__wr_free(eng__wr *w);
/* Hand the bytes to the caller (who frees with eng__free) and reset the writer. */
uint8_t *eng__wr_take(eng__wr *w, size_t *len);
int eng__wr_reserve(eng__wr *w, size_t extra);
void eng__wr_bytes(eng__wr *w, const void *p, size_t n);
void eng__wr_u8(eng__wr *w, uint8_t v);
void eng__wr_u16(eng__wr *w, uint16_t v);
void eng__wr_u32(eng__wr *w, uint32_t v);
void eng__wr_u64(eng__wr *w, uint64_t v);
void eng__wr_uvar(eng__wr *w, uint64_t v);
void eng__wr_svar(eng__wr *w, int64_t v); /* zigzag */
void eng__wr_blob(eng__wr *w, const void *p, size_t n); /* varint length + bytes */
void eng__wr_str(eng__wr *w, const char *s);             /* blob of strlen(s); NULL as "" */

typedef struct eng__rd {
    const uint8_t *p, *end;
    int err; /* ENG_ECORRUPT once any read ran past the end or was malformed */
} eng__rd;

void eng__rd_init(eng__rd *r, const void *data, size_t len);
static inline int eng__rd_ok(const eng__rd *r) { return r->err == 0; }
static inline size_t eng__rd_left(const eng__rd *r) { return (size_t)(r->end - r->p); }
uint8_t eng__rd_u8(eng__rd *r);
uint16_t eng__rd_u16(eng__rd *r);
uint32_t eng__rd_u32(eng__rd *r);
uint64_t eng__rd_u64(eng__rd *r);
uint64_t eng__rd_uvar(eng__rd *r);
int64_t eng__rd_svar(eng__rd *r);
/* Borrow n bytes (NULL and sticky error if not available). */
const uint8_t *eng__rd_bytes(eng__rd *r, size_t n);
/* Borrow a varint-length blob; *n receives its length. */
const uint8_t *eng__rd_blob(eng__rd *r, size_t *n);
/* Copy a blob into a new NUL-terminated string (rejects embedded NUL); NULL on error. */
char *eng__rd_str(eng__rd *r, const eng__mem *mem);

/* Little-endian helpers for fixed layouts (frames, headers). */
static inline void eng__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t eng__get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void eng__put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline uint16_t eng__get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline void eng__put64(uint8_t *p, uint64_t v) { eng__put32(p, (uint32_t)v); eng__put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint64_t eng__get64(const uint8_t *p) { return eng__get32(p) | (uint64_t)eng__get32(p + 4) << 32; }

#endif
