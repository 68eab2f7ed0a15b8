/* Fused and/or: the leading kids of an and/or (in its evaluation order) that
 * the dense kernels evaluate whole — string codes against up to 4 true codes,
 * integer ranges, `is null` — go together in one pass over the chunk, in
 * blocks of a few words: per block, each kid computes every row (no branch on
 * the selection, so the loads of the next words start early) and folds its
 * bits into the and/or's two words per 64 rows, which stay in L1. The
 * kid-by-kid path instead writes each kid's true and false words for the
 * chunk, narrows the selection and folds them back; with three cheap kids
 * that bookkeeping costs more than the compares.
 *
 * Results are those of the kid-by-kid path. A code past the dictionary in a
 * row the kid would have looked at makes the chunk go the kid-by-kid way
 * instead, so the error reported is the one that path reports. At the
 * AVX-512 level an and of 2 or 3 narrow kids runs as one loop instead
 * (batch_and512.c). */
#include "rules/batch_fused.h"

/* Whether kid plan q can be a fused leaf. */
static int fusable(const bctx *c, const bplan *q)
{
    if (q->kind == P_ISNULL)
        return 1;
    if (q->kind == P_TABLE)
        return q->ncodes >= 0 && col_of(c, q->field)->type == ENG_RT_STRING;
    if (q->kind == P_RANGE) {
        int t = col_of(c, q->field)->type;
        return t == ENG_RT_INT || t == ENG_RT_DATE || t == ENG_RT_DECIMAL || t == ENG_RT_TIMESTAMP;
    }
    return 0;
}

void eng__batch_fuse_plan(const bctx *c, const eng__rnode *n, bplan *p)
{
    uint32_t k = 0;
    while (k < n->n && k < FUSE_MAX && fusable(c, &c->plan[c->r->kids[n->first + p->order[k]]]))
        k++;
    p->nfused = (uint8_t)(k >= 2 ? k : 0);
}

/* Leaf of kid plan q over the current chunk. */
static void make_leaf(const bctx *c, const bplan *q, fleaf *l)
{
    const eng_rule_column *col = col_of(c, q->field);
    memset(l, 0, sizeof *l);
    l->neg = q->neg;
    l->nulls = col->nulls ? col->nulls + c->w0 : NULL;
    if (q->kind == P_ISNULL) {
        l->op = FL_NULL;
        return;
    }
    if (q->kind == P_TABLE) {
        int w = code_width(c, q->field);
        int m = codes_that_fit(q->codes, q->ncodes, w, l->codes);
        l->op = (uint8_t)((w == 1 ? FL_EQ8 : w == 2 ? FL_EQ16 : FL_EQ32) + (m == 1 ? FL_EQ8_1 - FL_EQ8 : 0));
        for (int i = m; i < 4; i++)
            l->codes[i] = l->codes[0];
        l->tany = m ? ~(uint64_t)0 : 0;
        l->width = (uint8_t)w;
        l->size = col->dict_size;
        l->tnull = q->tab[col->dict_size] & 0x80 ? ~(uint64_t)0 : 0;
        l->fnull = q->tab[col->dict_size] & 0x40 ? ~(uint64_t)0 : 0;
        l->d = (const unsigned char *)col->data + c->w0 * 64 * (size_t)w;
        return;
    }
    int w = num_width(c, q->field);
    l->op = w == 2 ? FL_R16 : w == 4 ? FL_R32 : FL_R64;
    l->width = (uint8_t)w;
    l->d = (const unsigned char *)col->data + c->w0 * 64 * (size_t)w;
    l->lo = q->lo;
    l->span = (uint64_t)q->hi - (uint64_t)q->lo;
    l->flip = q->neg ? ~(uint64_t)0 : 0;
    if (q->lo > q->hi || (w < 8 && !narrow_bounds(q->lo, l->span, 8 * w, &l->lo32, &l->span32))) {
        l->op = FL_EMPTY; /* no value of the column is in the range */
        l->width = 0;
        return;
    }
    if (w == 8)
        return;
    /* a range open at one end of the type (x > 30) is one compare */
    int64_t tmin = w == 2 ? INT16_MIN : INT32_MIN, tmax = -tmin - 1, hi = (int64_t)l->lo32 + l->span32;
    if (l->lo32 == tmin) { /* x <= hi: not x > hi (the whole type when hi is its max) */
        l->op = w == 2 ? FL_GT16 : FL_GT32;
        l->lo32 = (int32_t)hi;
        l->flip = ~l->flip;
    } else if (hi == tmax) { /* x >= lo: x > lo - 1 */
        l->op = w == 2 ? FL_GT16 : FL_GT32;
        l->lo32--;
    }
}

/* The chunk between kids: dec, the rows some kid decided (false for and,
 * true for or); keep, the selected rows every kid so far gave the other
 * value. Kid by kid, in blocks of FUSE_BLOCK words: the block's words of each
 * column are read while the others' are near, and dec and keep stay in L1. */
#ifndef FUSE_BLOCK
#define FUSE_BLOCK 16
#endif

/* The null words of a column without nulls, so the loops need no test. */
const uint64_t eng__no_nulls[CHUNKW] = {0};

/* A kid over the words: the leaf copied into locals (its constants are set
 * up once, not reloaded after every store), an and and an or copy of the
 * loop, the width a constant of each kind's loop. Every row is computed (no
 * branch on the selection or on the data: the loads of the next words start
 * early) and folded in; 0 when a code past the dictionary is in a row the
 * kid reads (selected, not decided by an earlier kid), found at the end. */
#define KID_WORDS(IS_AND, WORD, WIDTH)                                                                      \
    for (size_t w = w0; w < w1; w++) {                                                                      \
        uint64_t nb = nulls[w], t, f, bad = 0;                                                              \
        for (int q_ = 0; q_ < (WIDTH); q_++)                                                                \
            __builtin_prefetch(l.d + 64 * (w * (WIDTH) + (size_t)q_) + FUSE_AHEAD);                         \
        WORD(&l, w, nb, &t, &f, &bad);                                                                      \
        badrows |= bad & ~nb & st->sel[w] & ~dec[w];                                                        \
        keep[w] &= (IS_AND) ? t : f;                                                                        \
        dec[w] |= (IS_AND) ? f : t;                                                                         \
    }

#define KID_FN(NAME, ATTR, WORD, WIDTH)                                                                     \
    ATTR static int NAME(const fleaf *lp, const fstate *st, size_t w0, size_t w1)                           \
    {                                                                                                       \
        const fleaf l = *lp;                                                                                \
        const uint64_t *nulls = l.nulls ? l.nulls : eng__no_nulls;                                               \
        uint64_t *dec = st->dec, *keep = st->keep, badrows = 0;                                             \
        if (st->is_and) {                                                                                   \
            KID_WORDS(1, WORD, WIDTH)                                                                       \
        } else {                                                                                            \
            KID_WORDS(0, WORD, WIDTH)                                                                       \
        }                                                                                                   \
        return !badrows;                                                                                    \
    }

/* Codes: null rows as the table says. */
#define EQ_WORD(NAME, ATTR, KERNEL, TYPE, NCODES)                                                           \
    ATTR static inline void NAME(const fleaf *l, size_t w, uint64_t nb, uint64_t *t, uint64_t *f,           \
                                 uint64_t *bad)                                                             \
    {                                                                                                       \
        KERNEL((const TYPE *)(const void *)l->d + 64 * w, l->codes, NCODES, l->size, t, bad);               \
        *t &= l->tany;                                                                                      \
        *f = (~*t & ~*bad & ~nb) | (nb & l->fnull);                                                         \
        *t = (*t & ~nb) | (nb & l->tnull);                                                                  \
    }

/* Ranges: null rows are neither. */
#define RANGE_WORD(NAME, ATTR, KERNEL, TYPE, ...)                                                           \
    ATTR static inline void NAME(const fleaf *l, size_t w, uint64_t nb, uint64_t *t, uint64_t *f,           \
                                 uint64_t *bad)                                                             \
    {                                                                                                       \
        uint64_t r = KERNEL((const TYPE *)(const void *)l->d + 64 * w, __VA_ARGS__) ^ l->flip;              \
        *t = r & ~nb;                                                                                       \
        *f = ~r & ~nb;                                                                                      \
        (void)bad;                                                                                          \
    }

static inline void wnull(const fleaf *l, size_t w, uint64_t nb, uint64_t *t, uint64_t *f, uint64_t *bad)
{
    (void)w;
    (void)bad;
    *t = l->neg ? ~nb : nb;
    *f = ~*t;
}
KID_FN(kid_null, , wnull, 0)

/* A range no value of the column is in: false, true under not. */
static inline void wempty(const fleaf *l, size_t w, uint64_t nb, uint64_t *t, uint64_t *f, uint64_t *bad)
{
    (void)w;
    (void)bad;
    *t = l->flip & ~nb;
    *f = ~l->flip & ~nb;
}
KID_FN(kid_empty, , wempty, 0)

/* One level: a word function and a kid loop per kind, and the kids in turn. */
#define FUSED_LEVEL(SFX, ATTR, EQ8, EQ16, EQ32, R16, R32, R64, GT16, GT32)                                  \
    EQ_WORD(weq8_##SFX, ATTR, EQ8, uint8_t, 4)                                                              \
    EQ_WORD(weq16_##SFX, ATTR, EQ16, uint16_t, 4)                                                           \
    EQ_WORD(weq32_##SFX, ATTR, EQ32, uint32_t, 4)                                                           \
    EQ_WORD(weq8_1_##SFX, ATTR, EQ8, uint8_t, 1)                                                            \
    EQ_WORD(weq16_1_##SFX, ATTR, EQ16, uint16_t, 1)                                                         \
    EQ_WORD(weq32_1_##SFX, ATTR, EQ32, uint32_t, 1)                                                         \
    KID_FN(keq8_##SFX, ATTR, weq8_##SFX, 1)                                                                 \
    KID_FN(keq16_##SFX, ATTR, weq16_##SFX, 2)                                                               \
    KID_FN(keq32_##SFX, ATTR, weq32_##SFX, 4)                                                               \
    KID_FN(keq8_1_##SFX, ATTR, weq8_1_##SFX, 1)                                                             \
    KID_FN(keq16_1_##SFX, ATTR, weq16_1_##SFX, 2)                                                           \
    KID_FN(keq32_1_##SFX, ATTR, weq32_1_##SFX, 4)                                                           \
    RANGE_WORD(wr16_##SFX, ATTR, R16, int16_t, l->lo32, l->span32)                                          \
    RANGE_WORD(wr32_##SFX, ATTR, R32, int32_t, l->lo32, l->span32)                                          \
    RANGE_WORD(wr64_##SFX, ATTR, R64, int64_t, l->lo, l->span)                                              \
    RANGE_WORD(wg16_##SFX, ATTR, GT16, int16_t, l->lo32)                                                    \
    RANGE_WORD(wg32_##SFX, ATTR, GT32, int32_t, l->lo32)                                                    \
    KID_FN(kr16_##SFX, ATTR, wr16_##SFX, 2)                                                                 \
    KID_FN(kr32_##SFX, ATTR, wr32_##SFX, 4)                                                                 \
    KID_FN(kr64_##SFX, ATTR, wr64_##SFX, 8)                                                                 \
    KID_FN(kg16_##SFX, ATTR, wg16_##SFX, 2)                                                                 \
    KID_FN(kg32_##SFX, ATTR, wg32_##SFX, 4)                                                                 \
    static int kids_##SFX(const fleaf *L, int nl, const fstate *st, size_t nw)                              \
    {                                                                                                       \
        static int (*const fn[])(const fleaf *, const fstate *, size_t, size_t) = {                         \
            keq8_##SFX, keq16_##SFX, keq32_##SFX, kr16_##SFX, kr32_##SFX, kr64_##SFX, kg16_##SFX, kg32_##SFX, \
            kid_null, kid_empty, keq8_1_##SFX, keq16_1_##SFX, keq32_1_##SFX};                                 \
        for (size_t w = 0; w < nw; w++) {                                                                   \
            st->keep[w] = st->sel[w];                                                                       \
            st->dec[w] = 0;                                                                                 \
        }                                                                                                   \
        for (size_t b = 0; b < nw; b += FUSE_BLOCK) {                                                       \
            size_t e = nw - b < FUSE_BLOCK ? nw : b + FUSE_BLOCK;                                           \
            for (int k = 0; k < nl; k++)                                                                    \
                if (!fn[L[k].op](&L[k], st, b, e))                                                          \
                    return 0;                                                                               \
        }                                                                                                   \
        for (size_t w = 0; w < nw; w++)                                                                     \
            st->dec[w] &= st->sel[w];                                                                       \
        return 1;                                                                                           \
    }

FUSED_LEVEL(scalar, , eq8_scalar, eq16_scalar, eq_scalar, range16_scalar, range32n_scalar, range64_scalar,
            gt16_scalar, gt32_scalar)
#if ENG__SIMD_X86
FUSED_LEVEL(avx2, ENG__AVX2, eq8_avx2, eq16_avx2, eq_avx2, range16_avx2, range32n_avx2, range64_avx2, gt16_avx2,
            gt32_avx2)
FUSED_LEVEL(avx512, ENG__AVX512, eq8_avx512, eq16_avx512, eq_avx512, range16_avx512, range32n_avx512,
            range64_avx512, gt16_avx512, gt32_avx512)
#endif

static int kids(int isa, const fleaf *L, int nl, const fstate *st, size_t nw)
{
#if ENG__SIMD_X86
    if (isa >= ENG__ISA_AVX512) {
        int r = eng__batch_and512(L, nl, st, nw);
        return r >= 0 ? r : kids_avx512(L, nl, st, nw);
    }
    if (isa >= ENG__ISA_AVX2)
        return kids_avx2(L, nl, st, nw);
#endif
    (void)isa;
    return kids_scalar(L, nl, st, nw);
}

int eng__batch_fused(bctx *c, const bplan *p, const eng__rnode *n, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    fleaf L[FUSE_MAX] = {{0}}; /* all set by make_leaf; gcc -O3 cannot see that nl >= 2 */
    int nl = p->nfused, is_and = n->kind == N_AND;
    uint64_t *keep = is_and ? T : F, *dec = is_and ? F : T;
    fstate st = {sel, dec, keep, is_and};
    size_t nw = c->nw, nfull = full_words(c);
    for (int k = 0; k < nl; k++)
        make_leaf(c, &c->plan[c->r->kids[n->first + p->order[k]]], &L[k]);
    int ok = kids(c->isa, L, nl, &st, nfull);
    if (ok && nfull < nw) {
        /* the last, partial word: its rows copied into whole words (the
         * rest zero, and not selected), so the kernels read no further than
         * the columns go */
        uint64_t pad[FUSE_MAX][64], nbw[FUSE_MAX];
        size_t m = rows_in_word(c, nfull);
        for (int k = 0; k < nl; k++) {
            memset(pad[k], 0, sizeof pad[k]);
            if (L[k].width) {
                memcpy(pad[k], L[k].d + nfull * 64 * L[k].width, m * L[k].width);
                L[k].d = (const unsigned char *)pad[k];
            }
            nbw[k] = L[k].nulls ? L[k].nulls[nfull] : 0;
            L[k].nulls = &nbw[k];
        }
        fstate tail = {sel + nfull, dec + nfull, keep + nfull, is_and};
        ok = kids(c->isa, L, nl, &tail, 1);
    }
    return ok;
}
