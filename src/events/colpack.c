/* Frame-of-reference bit packing of integer columns (see colpack.h). */
#include "events/colpack.h"

#include <string.h>

static unsigned width_of(uint64_t range)
{
    return range ? 64u - (unsigned)__builtin_clzll(range) : 0u;
}

/* Pack d(i) = value - min, for i < n, each in w bits. get() is inlined per type. */
#define PACK_BODY(GET)                                                                 \
    size_t nbytes = (n * w + 7) / 8;                                                   \
    if (eng__wr_reserve(wr, nbytes + 8))                                               \
        return;                                                                        \
    uint8_t *o = wr->data + wr->len;                                                   \
    if (w) {                                                                           \
        uint64_t acc = 0;                                                              \
        unsigned fill = 0;                                                             \
        for (size_t i = 0; i < n; i++) {                                               \
            uint64_t d = (GET) - (uint64_t)min;                                        \
            acc |= d << fill;                                                          \
            fill += w;                                                                 \
            if (fill >= 64) {                                                          \
                eng__put64(o, acc);                                                    \
                o += 8;                                                                \
                fill -= 64;                                                            \
                acc = fill ? d >> (w - fill) : 0;                                      \
            }                                                                          \
        }                                                                              \
        for (unsigned k = 0; k < fill; k += 8)                                         \
            *o++ = (uint8_t)(acc >> k);                                                \
    }                                                                                  \
    wr->len += nbytes;

void eng__pack_i64(eng__wr *wr, const int64_t *v, size_t n)
{
    int64_t min = n ? v[0] : 0, max = min;
    for (size_t i = 1; i < n; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    eng__pack_i64_in(wr, v, n, min, max);
}

void eng__pack_i64_in(eng__wr *wr, const int64_t *v, size_t n, int64_t min, int64_t max)
{
    unsigned w = width_of((uint64_t)max - (uint64_t)min);
    eng__wr_svar(wr, min);
    eng__wr_u8(wr, (uint8_t)w);
    if (wr->err)
        return;
    PACK_BODY((uint64_t)v[i])
}

void eng__pack_u32(eng__wr *wr, const uint32_t *v, size_t n)
{
    uint32_t min = n ? v[0] : 0, max = min;
    for (size_t i = 1; i < n; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    eng__pack_u32_in(wr, v, n, min, max);
}

void eng__pack_u32_in(eng__wr *wr, const uint32_t *v, size_t n, uint32_t min, uint32_t max)
{
    unsigned w = width_of((uint64_t)(max - min));
    eng__wr_svar(wr, min);
    eng__wr_u8(wr, (uint8_t)w);
    if (wr->err)
        return;
    PACK_BODY((uint64_t)v[i])
}

void eng__pack_u8(eng__wr *wr, const uint8_t *v, size_t n)
{
    uint8_t min = n ? v[0] : 0, max = min;
    for (size_t i = 1; i < n; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    unsigned w = width_of((uint64_t)(max - min));
    eng__wr_svar(wr, min);
    eng__wr_u8(wr, (uint8_t)w);
    if (wr->err)
        return;
    PACK_BODY((uint64_t)v[i])
}

/* Read the column header and borrow its bytes; NULL (sticky error) when malformed. */
static const uint8_t *col_head(eng__rd *r, size_t n, unsigned maxw, int64_t *min, unsigned *w, size_t *nbytes)
{
    *min = eng__rd_svar(r);
    *w = eng__rd_u8(r);
    if (!eng__rd_ok(r) || *w > maxw || (maxw < 64 && (*min < 0 || (uint64_t)*min >> maxw))) {
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    if (*w && n > (SIZE_MAX - 7) / *w) {
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    *nbytes = (n * *w + 7) / 8;
    return eng__rd_bytes(r, *nbytes);
}

/* The i-th w-bit value of p (nbytes long). */
static inline uint64_t get_bits(const uint8_t *p, size_t nbytes, uint64_t bit, unsigned w, uint64_t mask)
{
    size_t byte = (size_t)(bit >> 3);
    unsigned sh = (unsigned)(bit & 7);
    if (w <= 56 && byte + 8 <= nbytes)
        return (eng__get64(p + byte) >> sh) & mask;
    uint64_t v = 0;
    for (unsigned k = 0; k < w; k++, bit++)
        v |= (uint64_t)((p[bit >> 3] >> (bit & 7)) & 1) << k;
    return v;
}

#define UNPACK_BODY(T, MAXW)                                                        \
    int64_t min;                                                                \
    unsigned w;                                                                 \
    size_t nbytes;                                                              \
    const uint8_t *p = col_head(r, n, MAXW, &min, &w, &nbytes);                       \
    if (!p)                                                                     \
        return;                                                                 \
    uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;                          \
    if (!w) {                                                                   \
        for (size_t i = 0; i < n; i++)                                          \
            out[i] = (T)min;                                                    \
        return;                                                                 \
    }                                                                           \
    uint64_t bit = 0;                                                           \
    for (size_t i = 0; i < n; i++, bit += w)                                    \
        out[i] = (T)((uint64_t)min + get_bits(p, nbytes, bit, w, mask));

void eng__unpack_i64(eng__rd *r, int64_t *out, size_t n)
{
    UNPACK_BODY(int64_t, 64)
}

void eng__unpack_u32(eng__rd *r, uint32_t *out, size_t n)
{
    UNPACK_BODY(uint32_t, 32)
}

void eng__unpack_u8(eng__rd *r, uint8_t *out, size_t n)
{
    UNPACK_BODY(uint8_t, 8)
}

void eng__unpack_skip(eng__rd *r, size_t n)
{
    int64_t min;
    unsigned w;
    size_t nbytes;
    (void)col_head(r, n, 64, &min, &w, &nbytes);
}

void eng__pcol_read(eng__rd *r, size_t n, unsigned maxw, eng__pcol *c)
{
    c->p = col_head(r, n, maxw, &c->min, &c->w, &c->nbytes);
    if (!c->p)
        c->w = 0, c->nbytes = 0;
}

/* How many of values [from, from + n) can be read with one 8-byte load each, no
 * bounds test: the loop the compiler keeps tight (the rest go through get_bits). */
static size_t bulk_of(const eng__pcol *c, size_t from, size_t n)
{
    if (c->w > 56 || c->nbytes < 8)
        return 0;
    /* value j starts at byte j * w / 8, which must be at most nbytes - 8 */
    uint64_t safe = ((uint64_t)(c->nbytes - 7) * 8 + c->w - 1) / c->w;
    return safe <= from ? 0 : safe - from < n ? (size_t)(safe - from) : n;
}

int64_t eng__pcol_at(const eng__pcol *c, size_t i)
{
    if (!c->w)
        return c->min;
    const uint64_t mask = c->w == 64 ? ~0ull : (1ull << c->w) - 1;
    return (int64_t)((uint64_t)c->min + get_bits(c->p, c->nbytes, (uint64_t)i * c->w, c->w, mask));
}

#define RANGE_BODY(T)                                                               \
    if (!c->w) {                                                                    \
        for (size_t i = 0; i < n; i++)                                              \
            out[i] = (T)c->min;                                                     \
        return;                                                                     \
    }                                                                               \
    const unsigned w = c->w;                                                        \
    const uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1, min = (uint64_t)c->min; \
    uint64_t bit = (uint64_t)from * w;                                              \
    const size_t bulk = bulk_of(c, from, n);                                        \
    const uint8_t *p = c->p;                                                        \
    size_t i = 0;                                                                   \
    for (; i < bulk; i++, bit += w)                                                 \
        out[i] = (T)(min + ((eng__get64(p + (bit >> 3)) >> (bit & 7)) & mask));     \
    for (; i < n; i++, bit += w)                                                    \
        out[i] = (T)(min + get_bits(p, c->nbytes, bit, w, mask));

void eng__pcol_i64(const eng__pcol *c, size_t from, size_t n, int64_t *out)
{
    RANGE_BODY(int64_t)
}

void eng__pcol_u32(const eng__pcol *c, size_t from, size_t n, uint32_t *out)
{
    RANGE_BODY(uint32_t)
}

void eng__pcol_u8(const eng__pcol *c, size_t from, size_t n, uint8_t *out)
{
    RANGE_BODY(uint8_t)
}

int eng__pcol_same(const eng__pcol *c, size_t from, size_t n, int64_t v)
{
    const uint64_t d = (uint64_t)v - (uint64_t)c->min;
    const unsigned w = c->w;
    if (!n || !w)
        return !n || d == 0;
    if (w < 64 && d >> w)
        return 0;
    /* A run of one value packs as a periodic pattern: compare as many values as fit 56 bits at once. */
    const unsigned per = w <= 56 ? 56 / w : 1, span = per * w;
    const uint64_t one = w == 64 ? ~0ull : (1ull << w) - 1, mask = span == 64 ? ~0ull : (1ull << span) - 1;
    uint64_t pat = 0;
    for (unsigned k = 0; k < per; k++)
        pat |= d << (k * w);
    uint64_t bit = (uint64_t)from * w;
    size_t i = 0;
    for (; i + per <= n; i += per, bit += span)
        if (get_bits(c->p, c->nbytes, bit, span, mask) != pat)
            return 0;
    for (; i < n; i++, bit += w)
        if (get_bits(c->p, c->nbytes, bit, w, one) != d)
            return 0;
    return 1;
}
