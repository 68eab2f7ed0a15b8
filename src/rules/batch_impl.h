/* Shared by the column-batch evaluator's files: eval_batch.c (driver,
 * and/or/not over selections), batch_plan.c (per-call plan of every boolean
 * node), batch_leaf.c (the tight per-column loops). */
#ifndef ENG_RULES_BATCH_IMPL_H
#define ENG_RULES_BATCH_IMPL_H

#include "rules/rules_impl.h"
#include "base/simd.h"

#include <string.h>

#define CHUNKW 256
#define FUSE_MAX 8 /* kids of an and/or evaluated in one pass (batch_fused.c) */

enum { P_GENERIC, P_BOOLOP, P_CONST, P_TABLE, P_RANGE, P_INSET, P_ISNULL };

typedef struct bplan {
    uint8_t kind;
    uint8_t neg;       /* RANGE/INSET: complement for non-null rows */
    uint8_t cval;      /* CONST: 0 false, 1 true */
    uint32_t field;
    int64_t lo, hi;    /* RANGE (lo > hi: empty) */
    uint8_t *tab;      /* TABLE: per code 0x80 true, 0x40 false, 0 null; tab[dict_size] for null rows */
    int64_t *set; size_t nset; /* INSET, in column units */
    uint32_t *order;   /* BOOLOP and/or: kids, most decisive first */
    uint8_t nfused;    /* BOOLOP and/or: its first nfused kids (in order) go in one pass; 0: none */
    uint32_t codes[4]; int ncodes; /* TABLE over strings: when every non-null entry is true or false and at
                                      most 4 are true, the true codes (SIMD compare instead of lookup) */
    float pass_t, pass_f; /* estimated share of rows not false / not true */
} bplan;

typedef struct bctx {
    const eng_rule *r;
    const eng_rule_batch *b;
    bplan *plan;
    uint64_t *scratch;
    size_t w0, nw;   /* current chunk: first word, number of words */
    int err;
    int isa;         /* vector level of this call (eng__isa()) */
    const uint8_t *cw; /* bytes per STRING code (1, 2 or 4) or INT value (0 or 8, 4), per field; NULL: 4 / 8 */
    size_t row;      /* generic path: current row */
    uint32_t tab_code; int tab_null; uint32_t tab_field; /* table building */
    eng__estack est; /* the row evaluator's stack, kept across rows */
    struct bframe *bstack; /* bool_eval's and/or frames (bool_depth + 2) */
    int32_t *pstack;       /* eng__batch_plan's work list (nnodes + 1) */
} bctx;

__extension__ typedef __int128 i128;

static inline const eng_rule_column *col_of(const bctx *c, uint32_t f)
{
    return &c->b->columns[f];
}

static inline int code_width(const bctx *c, uint32_t f)
{
    return c->cw && c->b->columns[f].type == ENG_RT_STRING ? c->cw[f] : 4;
}

/* Bytes per value of a numeric column: an INT column's width from the
 * batch (2, 4 or 8; 0 means 8), DATE 4, the others 8. */
static inline int num_width(const bctx *c, uint32_t f)
{
    int t = c->b->columns[f].type;
    if (t == ENG_RT_DATE)
        return 4;
    return t == ENG_RT_INT && c->cw && (c->cw[f] == 4 || c->cw[f] == 2) ? c->cw[f] : 8;
}

/* Value of row j of a numeric column of @p width bytes. */
static inline int64_t num_at(const void *d, int width, size_t j)
{
    return width == 4 ? ((const int32_t *)d)[j] : width == 2 ? ((const int16_t *)d)[j] : ((const int64_t *)d)[j];
}

/* Code of row j of a STRING column of codes @p width bytes wide. */
static inline uint32_t code_at(const void *d, int width, size_t j)
{
    return width == 4 ? ((const uint32_t *)d)[j] : width == 2 ? ((const uint16_t *)d)[j] : ((const uint8_t *)d)[j];
}

static inline int is_null(const eng_rule_column *col, size_t row)
{
    return col->nulls && (col->nulls[row >> 6] >> (row & 63) & 1);
}

static inline const char *dict_str(const eng_rule_column *col, uint32_t code, size_t *len)
{
    const char *s = col->dict[code];
    *len = col->dict_len ? col->dict_len[code] : strlen(s);
    return s;
}

static inline int dict_hole(const char *name, uint32_t code)
{
    return eng__err(ENG_EINVAL, name, "column '%s': dictionary entry %u is NULL", name, code);
}

static inline int tri_of(const eng__rval *v)
{
    return v->t == ENG_RT_NULL ? 2 : (int)(v->i != 0);
}

/* Words of the current chunk that hold 64 rows (all but a last partial one). */
static inline size_t full_words(const bctx *c)
{
    size_t full = (c->b->nrows - c->w0 * 64) / 64;
    return full < c->nw ? full : c->nw;
}

static inline size_t rows_in_word(const bctx *c, size_t w)
{
    size_t base = (c->w0 + w) * 64, n = c->b->nrows - base;
    return n > 64 ? 64 : n;
}

static inline uint64_t null_word(const eng_rule_column *col, const bctx *c, size_t w)
{
    return col->nulls ? col->nulls[c->w0 + w] : 0;
}

static inline int popcount64(uint64_t x) /* SWAR: no libcall without -mpopcnt */
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* batch_plan.c: plan the boolean node idx (and its boolean children),
 * without recursion (c->pstack). */
int eng__batch_plan(bctx *c, int32_t idx);
/* batch_leaf.c: leaves over the current chunk; T/F get the true/false rows of sel. */
void eng__batch_table(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F);
void eng__batch_range(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F);
void eng__batch_inset(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F);
/* batch_simd.c: dense kernels over 64 rows at vector level isa.
 * eq_codes: t = code equal to one of codes[0..n) (n <= 4) and below size,
 * bad = code >= size; range: bit j = (uint64)d[j] - lo <= span. */
void eng__bk_eq_codes(int isa, const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                      uint64_t *bad);
/* The same over the nw words of a chunk (64 rows each, d at its first row), codes of @p width bytes (1, 2 or 4):
 * t[w] and bad[w] (range: t[w]) for every w with sel[w] != 0; the other
 * words are neither read nor written. */
void eng__bk_eq_codes_words(int isa, const void *d, int width, const uint32_t *codes, int n, uint32_t size,
                            const uint64_t *sel, size_t nw, uint64_t *t, uint64_t *bad);
void eng__bk_range_words(int isa, const void *d, int width, int64_t lo, uint64_t span, const uint64_t *sel,
                         size_t nw, uint64_t *t);
uint64_t eng__bk_range64(int isa, const int64_t *d, int64_t lo, uint64_t span);
uint64_t eng__bk_range32(int isa, const int32_t *d, int64_t lo, uint64_t span);
uint64_t eng__bk_range16(int isa, const int16_t *d, int64_t lo, uint64_t span);
/* batch_fused.c: p->nfused for and/or node n (its kids planned and ordered). */
void eng__batch_fuse_plan(const bctx *c, const eng__rnode *n, bplan *p);
/* The first p->nfused kids of and/or n in one pass over the chunk, into T/F
 * as the kid-by-kid path would fold them; 0 (T/F unspecified) when that path
 * must run instead (a code past the dictionary, for its error). */
int eng__batch_fused(bctx *c, const bplan *p, const eng__rnode *n, const uint64_t *sel, uint64_t *T, uint64_t *F);
void eng__batch_generic(bctx *c, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F);

#endif
