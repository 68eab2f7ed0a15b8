/* Batch leaves: one tight loop per column over the selected words of a
 * chunk. Dense words write one byte per row and pack with SSE2 movemask;
 * words with few selected rows are done row by row. */
#include "rules/batch_impl.h"
#include "base/lower.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Value of field f at row r (generic path). */
static int batch_get(void *vctx, uint32_t f, eng__rval *out)
{
    bctx *c = vctx;
    const eng_rule_column *col = col_of(c, f);
    size_t r = c->row;
    memset(out, 0, sizeof *out);
    if (is_null(col, r)) {
        out->t = ENG_RT_NULL;
        return ENG_OK;
    }
    out->t = (uint8_t)col->type;
    switch (col->type) {
    case ENG_RT_BOOL: out->i = ((const uint8_t *)col->data)[r] != 0; break;
    case ENG_RT_DATE: out->i = ((const int32_t *)col->data)[r]; break;
    case ENG_RT_INT: out->i = num_at(col->data, num_width(c, f), r); break;
    case ENG_RT_DECIMAL: out->scale = (int8_t)col->scale; out->i = ((const int64_t *)col->data)[r]; break;
    case ENG_RT_STRING: {
        uint32_t code = code_at(col->data, code_width(c, f), r);
        if (code >= col->dict_size)
            return eng__err(ENG_ERANGE, c->r->fields[f].name, "row %zu: string code %u past the dictionary (%u entries)",
                            r, code, col->dict_size);
        if (!col->dict[code])
            return dict_hole(c->r->fields[f].name, code);
        out->s = dict_str(col, code, &out->len);
        break;
    }
    case ENG_RT_STRING_LIST: {
        const uint32_t *off = col->data;
        if (off[r + 1] < off[r])
            return eng__err(ENG_ERANGE, c->r->fields[f].name, "row %zu: list offsets go backwards", r);
        out->codes = col->list_codes + off[r];
        out->count = off[r + 1] - off[r];
        out->col = col;
        for (size_t k = 0; k < out->count; k++) {
            if (out->codes[k] >= col->dict_size)
                return eng__err(ENG_ERANGE, c->r->fields[f].name, "row %zu: list item code past the dictionary", r);
            if (!col->dict[out->codes[k]])
                return dict_hole(c->r->fields[f].name, out->codes[k]);
        }
        break;
    }
    default: out->i = ((const int64_t *)col->data)[r]; break;
    }
    return ENG_OK;
}

/* Pack bit 7 (and bit 6) of 64 bytes into a word: SSE2 movemask where
 * available. Leaf loops write one byte per row with no dependency between
 * rows, then pack, instead of a shift-or chain per row. */
static inline uint64_t pack7(const uint8_t *b)
{
#ifdef __SSE2__
    uint64_t r = 0;
    for (int k = 0; k < 4; k++)
        r |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + 16 * k)))
             << (16 * k);
    return r;
#else
    uint64_t r = 0;
    for (int j = 0; j < 64; j++)
        r |= (uint64_t)(b[j] >> 7) << j;
    return r;
#endif
}

static inline uint64_t pack6(const uint8_t *b)
{
#ifdef __SSE2__
    uint64_t r = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * k));
        r |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_add_epi8(x, x)) << (16 * k);
    }
    return r;
#else
    uint64_t r = 0;
    for (int j = 0; j < 64; j++)
        r |= (uint64_t)(b[j] >> 6 & 1) << j;
    return r;
#endif
}

/* Bit j set when b[j] != 0, for the first m (<= 64) bytes. */
static inline uint64_t nonzero_mask(const uint8_t *b, size_t m)
{
    uint64_t r = 0;
#ifdef __SSE2__
    if (m == 64) {
        for (int k = 0; k < 4; k++) {
            __m128i z = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + 16 * k)),
                                       _mm_setzero_si128());
            r |= (uint64_t)(uint16_t)~_mm_movemask_epi8(z) << (16 * k);
        }
        return r;
    }
#endif
    for (size_t j = 0; j < m; j++)
        r |= (uint64_t)(b[j] != 0) << j;
    return r;
}

/* Sparse words are latency-bound loads: start the loads of the selected rows
 * PF_AHEAD words ahead (of width bytes each) while this word is worked. */
#define PF_AHEAD 8
static inline void prefetch_rows(const bctx *c, const uint64_t *sel, size_t w, const void *data, size_t width)
{
    if (w + PF_AHEAD >= c->nw)
        return;
    uint64_t x = sel[w + PF_AHEAD];
    if (popcount64(x) > 6)
        return;
    const unsigned char *d = (const unsigned char *)data + (c->w0 + w + PF_AHEAD) * 64 * width;
    for (; x; x &= x - 1)
        __builtin_prefetch(d + (size_t)__builtin_ctzll(x) * width);
}

/* Words with at most this many selected rows are evaluated row by row. */
#define SPARSE 6

void eng__batch_table(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    const uint8_t *tab = p->tab; /* 0x80 true, 0x40 false, 0 null; tab[size] for null rows */
    uint32_t size = col->type == ENG_RT_BOOL ? 2 : col->dict_size;
    uint8_t tnull = tab[size];
    uint8_t tmp[64];
    int cw = code_width(c, p->field);
    /* Codes of 1 or 2 bytes: a word's 64 rows are one or two cache lines,
     * read whole however few rows are selected, so the dense compare costs
     * no more memory than single-row reads and has no branch per row. */
    int dense_all = p->ncodes >= 0 && cw <= 2 && col->type != ENG_RT_BOOL;
    size_t nfull = dense_all ? full_words(c) : 0;
    if (nfull) /* raw t into T, bad into F; finished below */
        eng__bk_eq_codes_words(c->isa, (const char *)col->data + c->w0 * 64 * (size_t)cw, cw, p->codes, p->ncodes,
                               size, sel, nfull, T, F);
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (col->type != ENG_RT_BOOL && !dense_all)
            prefetch_rows(c, sel, w, col->data, (size_t)cw);
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t base = (c->w0 + w) * 64, m = rows_in_word(c, w);
        uint64_t t = 0, f = 0, nb = null_word(col, c, w), bad = 0;
        if (w < nfull) {
            t = T[w];
            bad = F[w];
            f = ~t & ~bad;
        } else if (col->type == ENG_RT_BOOL) {
            /* Not a byte-table loop: gcc 12 -O3 vectorised `tab[d[j] != 0]`
             * into wrong code (caught by the release-build tests). */
            uint64_t nz = nonzero_mask((const uint8_t *)col->data + base, m);
            uint64_t live = m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1);
            uint8_t v0 = tab[0], v1 = tab[1];
            t = (v1 & 0x80 ? nz : 0) | (v0 & 0x80 ? ~nz & live : 0);
            f = (v1 & 0x40 ? nz : 0) | (v0 & 0x40 ? ~nz & live : 0);
        } else if (popcount64(s) <= SPARSE) {
            const void *d = (const char *)col->data + base * (size_t)cw;
            for (uint64_t x = s; x; x &= x - 1) {
                int j = __builtin_ctzll(x);
                uint32_t code = code_at(d, cw, (size_t)j);
                bad |= (uint64_t)(code >= size) << j;
                uint8_t v = tab[code < size ? code : size];
                t |= (uint64_t)(v >> 7) << j;
                f |= (uint64_t)(v >> 6 & 1) << j;
            }
        } else if (p->ncodes >= 0 && m == 64) { /* 4-byte codes: narrower ones took the dense path */
            eng__bk_eq_codes(c->isa, (const uint32_t *)col->data + base, p->codes, p->ncodes, size, &t, &bad);
            f = ~t & ~bad;
        } else {
            const void *d = (const char *)col->data + base * (size_t)cw;
            for (size_t j = 0; j < m; j++) {
                uint32_t code = code_at(d, cw, j);
                tmp[j] = (uint8_t)(tab[code < size ? code : size] | (code >= size ? 1 : 0));
            }
            for (size_t j = m; j < 64; j++)
                tmp[j] = 0;
            t = pack7(tmp);
            f = pack6(tmp);
            for (size_t j = 0; j < m; j++) /* rare: any code past the dictionary? */
                bad |= (uint64_t)(tmp[j] & 1) << j;
        }
        if (bad & ~nb & s) {
            if (!c->err)
                c->err = eng__err(ENG_ERANGE, c->r->fields[p->field].name,
                                  "a string code in rows %zu..%zu is past the dictionary (%u entries)", base,
                                  base + m - 1, size);
        }
        if (nb) {
            uint64_t tn = tnull & 0x80 ? nb : 0, fn = tnull & 0x40 ? nb : 0;
            t = (t & ~nb) | tn;
            f = (f & ~nb) | fn;
        }
        T[w] = t & s;
        F[w] = f & s;
    }
}

/* Rows of sparse words are gathered for the whole chunk first and read
 * with their loads started PF_ROWS rows ahead: on a large column each is a
 * cache miss, and a fixed distance in rows (not in words) keeps enough of
 * them in flight whatever the selection's density. */
#define PF_ROWS 24

static inline int in_range(const void *d, size_t width, size_t j, int64_t lo, uint64_t span)
{
    return (uint64_t)num_at(d, (int)width, j) - (uint64_t)lo <= span;
}

/* A 4- or 2-byte column whose chunk has most words selected is read whole (a
 * stream the hardware prefetches; an 8-byte one costs as much either way). */
static int range_dense(const bctx *c, const uint64_t *sel, size_t width)
{
    if (width > 4)
        return 0;
    size_t live = 0;
    for (size_t w = 0; w < c->nw; w++)
        live += sel[w] != 0;
    return 2 * live >= c->nw;
}

void eng__batch_range(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    int64_t lo = p->lo;
    uint64_t span = (uint64_t)p->hi - (uint64_t)p->lo;
    int empty = p->lo > p->hi;
    uint8_t tmp[64];
    uint16_t rows[CHUNKW * SPARSE]; /* chunk-relative rows of sparse words (CHUNKW * 64 <= 65536) */
    size_t nr = 0, width = (size_t)num_width(c, p->field);
    const unsigned char *d0 = (const unsigned char *)col->data + c->w0 * 64 * width;
    int gather = !empty && !range_dense(c, sel, width);
    size_t nfull = !empty && !gather ? full_words(c) : 0;
    if (nfull) /* raw t into T; finished below */
        eng__bk_range_words(c->isa, d0, (int)width, lo, span, sel, nfull, T);
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t m = rows_in_word(c, w);
        const unsigned char *d = d0 + w * 64 * width;
        uint64_t t = 0;
        if (gather && popcount64(s) <= SPARSE) {
            for (uint64_t x = s; x; x &= x - 1)
                rows[nr++] = (uint16_t)(w * 64 + (size_t)__builtin_ctzll(x));
            T[w] = 0; /* filled below, finished in the last loop */
            continue;
        }
        if (empty) {
        } else if (w < nfull) {
            t = T[w];
        } else if (m == 64) {
            t = width == 4   ? eng__bk_range32(c->isa, (const int32_t *)(const void *)d, lo, span)
                : width == 2 ? eng__bk_range16(c->isa, (const int16_t *)(const void *)d, lo, span)
                             : eng__bk_range64(c->isa, (const int64_t *)(const void *)d, lo, span);
        } else {
            for (size_t j = 0; j < m; j++)
                tmp[j] = (uint8_t)(in_range(d, width, j, lo, span) << 7);
            for (size_t j = m; j < 64; j++)
                tmp[j] = 0;
            t = pack7(tmp);
        }
        uint64_t valid = (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) & ~null_word(col, c, w);
        if (p->neg)
            t = ~t;
        T[w] = t & valid & s;
        F[w] = ~t & valid & s;
    }
    if (!nr)
        return;
    for (size_t k = 0; k < nr && k < PF_ROWS; k++)
        __builtin_prefetch(d0 + (size_t)rows[k] * width);
    for (size_t k = 0; k < nr; k++) {
        if (k + PF_ROWS < nr)
            __builtin_prefetch(d0 + (size_t)rows[k + PF_ROWS] * width);
        size_t r = rows[k];
        T[r >> 6] |= (uint64_t)in_range(d0, width, r, lo, span) << (r & 63);
    }
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s || popcount64(s) > SPARSE) /* the words gathered above */
            continue;
        size_t m = rows_in_word(c, w);
        uint64_t t = T[w], valid = (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) & ~null_word(col, c, w);
        if (p->neg)
            t = ~t;
        T[w] = t & valid & s;
        F[w] = ~t & valid & s;
    }
}

static int in_sorted(const int64_t *set, size_t n, int64_t x)
{
    size_t lo = eng__lower_i64(set, n, x);
    return lo < n && set[lo] == x;
}

void eng__batch_inset(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    int width = num_width(c, p->field);
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t base = (c->w0 + w) * 64, m = rows_in_word(c, w);
        uint64_t t = 0, valid = (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) & ~null_word(col, c, w);
        for (size_t j = 0; j < m; j++) {
            int64_t x = num_at(col->data, width, base + j);
            t |= (uint64_t)in_sorted(p->set, p->nset, x) << j;
        }
        if (p->neg)
            t = ~t;
        T[w] = t & valid & s;
        F[w] = ~t & valid & s;
    }
}

void eng__batch_generic(bctx *c, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w], t = 0, f = 0;
        while (s && !c->err) {
            int j = __builtin_ctzll(s);
            s &= s - 1;
            c->row = (c->w0 + w) * 64 + (size_t)j;
            eng__rval v;
            int rc = eng__rule_eval_st(c->r, idx, batch_get, c, &c->est, &v);
            if (rc) {
                c->err = rc;
                break;
            }
            int tv = tri_of(&v);
            t |= (uint64_t)(tv == 1) << j;
            f |= (uint64_t)(tv == 0) << j;
        }
        T[w] = t;
        F[w] = f;
    }
}
