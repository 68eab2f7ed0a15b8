/* Frame-of-reference bit packing of integer columns (see colpack.h). */
#include "events/colpack.h"
#include "base/simd.h"

#include <string.h>
#if ENG__SIMD_X86
#include <immintrin.h>
#endif

static unsigned width_of(uint64_t range)
{
    return range ? 64u - (unsigned)__builtin_clzll(range) : 0u;
}

/* The low W bits of x (W <= 64, x < 2^W) after the bits in acc (fill of them), 64
 * bits stored at a time. */
#define PUT_BITS(X, W)                                                                 \
    do {                                                                               \
        const uint64_t x_ = (X);                                                       \
        acc |= x_ << fill;                                                             \
        fill += (W);                                                                   \
        if (fill >= 64) {                                                              \
            eng__put64(o, acc);                                                        \
            o += 8;                                                                    \
            fill -= 64;                                                                \
            acc = fill ? x_ >> ((W) - fill) : 0;                                       \
        }                                                                              \
    } while (0)

/* K values of w bits (K * w <= 64) side by side, the first lowest: the bits the stream
 * takes from them one at a time, in one step (the steps are a chain; the groups are not). */
#define PUT_GROUPS(K)                                                                  \
    for (; i + (K) <= n; i += (K)) {                                                   \
        uint64_t g = 0;                                                                \
        for (unsigned j = 0; j < (K); j++)                                             \
            g |= ((uint64_t)v[i + j] - (uint64_t)min) << (j * w);                      \
        PUT_BITS(g, (K) * w);                                                          \
    }

/* Pack d(i) = v[i] - min, for i < n, each in w bits, LSB first. */
#define PACK_BODY                                                                      \
    size_t nbytes = (n * w + 7) / 8;                                                   \
    if (eng__wr_reserve(wr, nbytes + 8))                                               \
        return;                                                                        \
    uint8_t *o = wr->data + wr->len;                                                   \
    if (w) {                                                                           \
        uint64_t acc = 0;                                                              \
        unsigned fill = 0;                                                             \
        size_t i = eng__pack_vec(o, v, sizeof *v, n, (uint64_t)min, w);                \
        o += i * w / 8; /* the vector loops' groups of 8 end on a byte */              \
        if (w <= 8)                                                                    \
            PUT_GROUPS(8)                                                              \
        else if (w <= 16)                                                              \
            PUT_GROUPS(4)                                                              \
        else if (w <= 32)                                                              \
            PUT_GROUPS(2)                                                              \
        for (; i < n; i++)                                                             \
            PUT_BITS((uint64_t)v[i] - (uint64_t)min, w);                               \
        for (unsigned k = 0; k < fill; k += 8)                                         \
            *o++ = (uint8_t)(acc >> k);                                                \
    }                                                                                  \
    wr->len += nbytes;

/* The least and greatest of n values (0 for none); compiled for AVX2 and AVX-512 too, where the
 * baseline has no 64-bit and no unsigned 32-bit min/max instructions. */
#define MINMAX_FN(NAME, T, ATTR)                                                         \
    ATTR static void NAME(const T *v, size_t n, T *pmin, T *pmax)                        \
    {                                                                                    \
        T min = n ? v[0] : 0, max = min;                                                 \
        for (size_t i = 1; i < n; i++) {                                                 \
            min = v[i] < min ? v[i] : min;                                               \
            max = v[i] > max ? v[i] : max;                                               \
        }                                                                                \
        *pmin = min, *pmax = max;                                                        \
    }
MINMAX_FN(minmax_i64, int64_t, )
MINMAX_FN(minmax_u32, uint32_t, )
#if ENG__SIMD_X86
MINMAX_FN(minmax_i64_avx2, int64_t, ENG__AVX2)
MINMAX_FN(minmax_u32_avx2, uint32_t, ENG__AVX2)
MINMAX_FN(minmax_i64_avx512, int64_t, ENG__AVX512) /* vpminsq, vpmaxsq */
MINMAX_FN(minmax_u32_avx512, uint32_t, ENG__AVX512)
#define MINMAX(T, v, n, mn, mx)                                                                \
    (eng__isa() >= ENG__ISA_AVX512 ? minmax_##T##_avx512(v, n, mn, mx)                       \
     : eng__isa() >= ENG__ISA_AVX2 ? minmax_##T##_avx2(v, n, mn, mx) : minmax_##T(v, n, mn, mx))
#else
#define MINMAX(T, v, n, mn, mx) minmax_##T(v, n, mn, mx)
#endif

void eng__pack_i64(eng__wr *wr, const int64_t *v, size_t n)
{
    int64_t min, max;
    MINMAX(i64, v, n, &min, &max);
    eng__pack_i64_in(wr, v, n, min, max);
}

void eng__pack_i64_in(eng__wr *wr, const int64_t *v, size_t n, int64_t min, int64_t max)
{
    unsigned w = width_of((uint64_t)max - (uint64_t)min);
    eng__wr_svar(wr, min);
    eng__wr_u8(wr, (uint8_t)w);
    if (wr->err)
        return;
    PACK_BODY
}

void eng__pack_u32(eng__wr *wr, const uint32_t *v, size_t n)
{
    uint32_t min, max;
    MINMAX(u32, v, n, &min, &max);
    eng__pack_u32_in(wr, v, n, min, max);
}

void eng__pack_u32_in(eng__wr *wr, const uint32_t *v, size_t n, uint32_t min, uint32_t max)
{
    unsigned w = width_of((uint64_t)(max - min));
    eng__wr_svar(wr, min);
    eng__wr_u8(wr, (uint8_t)w);
    if (wr->err)
        return;
    PACK_BODY
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
    PACK_BODY
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

/* A whole column: its range [0, n) (the vector and unchecked loops of eng__pcol_*). */
#define UNPACK_BODY(SUFFIX, MAXW)   \
    eng__pcol c;                    \
    eng__pcol_read(r, n, MAXW, &c); \
    if (c.p)                        \
        eng__pcol_##SUFFIX(&c, 0, n, out);

void eng__unpack_i64(eng__rd *r, int64_t *out, size_t n)
{
    UNPACK_BODY(i64, 64)
}

void eng__unpack_u32(eng__rd *r, uint32_t *out, size_t n)
{
    UNPACK_BODY(u32, 32)
}

void eng__unpack_u8(eng__rd *r, uint8_t *out, size_t n)
{
    UNPACK_BODY(u8, 8)
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

#if ENG__SIMD_X86
/* Values [from, from + n) of a column of width 1..31, eight at a time: eight values
 * take w bytes, so every group starts at the same bit of its first byte, and each
 * value is a funnel shift of the two 32-bit words that hold it in the group's 32-byte
 * load (the last value ends by bit 7 + 8w <= 255). Out as 32-bit values (out32), their
 * low bytes (out8) or 64-bit ones (out64: min + the value widened), as the scalar
 * loop's casts give. Returns the values decoded: whole groups whose loads stay inside
 * the column's bytes. */
ENG__AVX2 static size_t range_avx2(const eng__pcol *c, size_t from, size_t n, uint32_t *out32, uint8_t *out8,
                                   int64_t *out64)
{
    const unsigned w = c->w;
    const uint64_t bit0 = (uint64_t)from * w;
    const size_t at = (size_t)(bit0 >> 3);
    if (c->nbytes < at + 32)
        return 0;
    size_t groups = (c->nbytes - at - 32) / w + 1;
    if (groups > n / 8)
        groups = n / 8;
    int32_t idx[8], sh[8];
    for (unsigned k = 0; k < 8; k++) {
        const unsigned pos = (unsigned)(bit0 & 7) + k * w;
        idx[k] = (int32_t)(pos >> 5), sh[k] = (int32_t)(pos & 31);
    }
    const __m256i lo_i = _mm256_loadu_si256((const __m256i *)idx), hi_i = _mm256_add_epi32(lo_i, _mm256_set1_epi32(1));
    const __m256i srl = _mm256_loadu_si256((const __m256i *)sh), sll = _mm256_sub_epi32(_mm256_set1_epi32(32), srl);
    const __m256i mask = _mm256_set1_epi32((int32_t)((1u << w) - 1)), min = _mm256_set1_epi32((int32_t)(uint32_t)c->min);
    const __m256i min64 = _mm256_set1_epi64x((long long)c->min);
    /* out8: each lane's low byte to the front of its 128-bit half, then the two halves' fronts together */
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                                           -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i halves = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    const uint8_t *p = c->p + at;
    for (size_t g = 0; g < groups; g++, p += w) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)p);
        __m256i x = _mm256_or_si256(_mm256_srlv_epi32(_mm256_permutevar8x32_epi32(v, lo_i), srl),
                                    _mm256_sllv_epi32(_mm256_permutevar8x32_epi32(v, hi_i), sll));
        x = _mm256_and_si256(x, mask);
        if (out64) {
            const __m256i lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(x));
            const __m256i hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(x, 1));
            _mm256_storeu_si256((__m256i *)(out64 + 8 * g), _mm256_add_epi64(lo, min64));
            _mm256_storeu_si256((__m256i *)(out64 + 8 * g + 4), _mm256_add_epi64(hi, min64));
            continue;
        }
        x = _mm256_add_epi32(x, min);
        if (out32)
            _mm256_storeu_si256((__m256i *)(out32 + 8 * g), x);
        else
            _mm_storel_epi64((__m128i *)(out8 + 8 * g),
                             _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(x, bytes), halves)));
    }
    return groups * 8;
}
#endif

/* The vector loop's share of a range (0: none), then the scalar loop for the rest. */
#if ENG__SIMD_X86
#define RANGE_VEC(o32, o8, o64)                                                                          \
    (c->w && c->w < 32 && n >= 8 && eng__isa() >= ENG__ISA_AVX2 ? range_avx2(c, from, n, o32, o8, o64) : 0)
#else
#define RANGE_VEC(o32, o8, o64) 0
#endif

#define RANGE_BODY(T, START)                                                        \
    if (!c->w) {                                                                    \
        for (size_t i = 0; i < n; i++)                                              \
            out[i] = (T)c->min;                                                     \
        return;                                                                     \
    }                                                                               \
    const unsigned w = c->w;                                                        \
    const uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1, min = (uint64_t)c->min; \
    size_t i = (START);                                                             \
    uint64_t bit = (uint64_t)(from + i) * w;                                        \
    const size_t bulk = bulk_of(c, from, n);                                        \
    const uint8_t *p = c->p;                                                        \
    for (; i < bulk; i++, bit += w)                                                 \
        out[i] = (T)(min + ((eng__get64(p + (bit >> 3)) >> (bit & 7)) & mask));     \
    for (; i < n; i++, bit += w)                                                    \
        out[i] = (T)(min + get_bits(p, c->nbytes, bit, w, mask));

void eng__pcol_i64(const eng__pcol *c, size_t from, size_t n, int64_t *out)
{
    RANGE_BODY(int64_t, RANGE_VEC(NULL, NULL, out))
}

void eng__pcol_u32(const eng__pcol *c, size_t from, size_t n, uint32_t *out)
{
    RANGE_BODY(uint32_t, RANGE_VEC(out, NULL, NULL))
}

void eng__pcol_u8(const eng__pcol *c, size_t from, size_t n, uint8_t *out)
{
    RANGE_BODY(uint8_t, RANGE_VEC(NULL, out, NULL))
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
