/* Column-batch evaluator: the fast path.
 *
 * Every boolean node is evaluated over a selection bitmap into two bitmaps,
 * TRUE and FALSE (rows in neither are null). and/or narrow the selection as
 * they go (a row already false for `and` is not looked at again), so
 * short-circuiting is per row. Leaves use a plan made once per call:
 *  - TABLE: a subtree that reads only one dictionary-encoded string (or bool)
 *    column is evaluated once per dictionary entry; rows then look their code
 *    up (so `tier in (...)`, `lower(city) == "pune"`, `city starts with "P"`
 *    cost one load per row whatever the operator);
 *  - RANGE: numeric/date column against constants becomes an inclusive int64
 *    interval in the column's own units (exact for decimals of any scale);
 *  - INSET: numeric column in a constant set (binary search);
 *  - ISNULL: the null bitmap itself;
 *  - otherwise the row evaluator runs for the selected rows only.
 * Rows are processed in chunks of CHUNKW words so scratch stays in cache. */
#include "rules/rules_impl.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CHUNKW 256

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
    size_t row;      /* generic path: current row */
    uint32_t tab_code; int tab_null; uint32_t tab_field; /* table building */
} bctx;

__extension__ typedef __int128 i128;

static const eng_rule_column *col_of(const bctx *c, uint32_t f)
{
    return &c->b->columns[f];
}

static inline int is_null(const eng_rule_column *col, size_t row)
{
    return col->nulls && (col->nulls[row >> 6] >> (row & 63) & 1);
}

static const char *dict_str(const eng_rule_column *col, uint32_t code, size_t *len)
{
    const char *s = col->dict[code];
    *len = col->dict_len ? col->dict_len[code] : strlen(s);
    return s;
}

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
    case ENG_RT_DECIMAL: out->scale = (int8_t)col->scale; out->i = ((const int64_t *)col->data)[r]; break;
    case ENG_RT_STRING: {
        uint32_t code = ((const uint32_t *)col->data)[r];
        if (code >= col->dict_size)
            return eng__err(ENG_ERANGE, c->r->fields[f].name, "row %zu: string code %u past the dictionary (%u entries)",
                            r, code, col->dict_size);
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
        for (size_t k = 0; k < out->count; k++)
            if (out->codes[k] >= col->dict_size)
                return eng__err(ENG_ERANGE, c->r->fields[f].name, "row %zu: list item code past the dictionary", r);
        break;
    }
    default: out->i = ((const int64_t *)col->data)[r]; break;
    }
    return ENG_OK;
}

/* Table building: the one field reads as dictionary entry tab_code (or null). */
static int table_get(void *vctx, uint32_t f, eng__rval *out)
{
    bctx *c = vctx;
    const eng_rule_column *col = col_of(c, f);
    memset(out, 0, sizeof *out);
    if (c->tab_null) {
        out->t = ENG_RT_NULL;
        return ENG_OK;
    }
    out->t = (uint8_t)col->type;
    if (col->type == ENG_RT_BOOL)
        out->i = c->tab_code;
    else
        out->s = dict_str(col, c->tab_code, &out->len);
    return ENG_OK;
}

static int tri_of(const eng__rval *v)
{
    return v->t == ENG_RT_NULL ? 2 : (int)(v->i != 0);
}

static int64_t clamp64(i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static i128 p10(int k)
{
    i128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* Literal (v, ls) in column units of scale cs: floor and exactness. */
static void to_units(int64_t v, int ls, int cs, i128 *fl, int *exact)
{
    if (cs >= ls) {
        *fl = (i128)v * p10(cs - ls);
        *exact = 1;
        return;
    }
    i128 d = p10(ls - cs), q = (i128)v / d, rem = (i128)v % d;
    if (rem < 0)
        q--;
    *fl = q;
    *exact = rem == 0;
}

static int lit_scale(const eng__rnode *n)
{
    return n->lit.t == ENG_RT_DECIMAL ? n->lit.scale : 0;
}

static int num_col(int t)
{
    return t == ENG_RT_INT || t == ENG_RT_DECIMAL || t == ENG_RT_DATE || t == ENG_RT_TIMESTAMP;
}

static void set_range(bplan *p, i128 lo, i128 hi)
{
    p->kind = P_RANGE;
    if (lo > hi || lo > INT64_MAX || hi < INT64_MIN) {
        p->lo = 1;
        p->hi = 0;
        return;
    }
    p->lo = clamp64(lo);
    p->hi = clamp64(hi);
}

static int cmp_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a], *b = &c->r->nodes[n->b];
    if (a->kind != N_FIELD || b->kind != N_LIT || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    i128 f;
    int ex;
    to_units(b->lit.i, lit_scale(b), cs, &f, &ex);
    i128 MIN = INT64_MIN, MAX = INT64_MAX;
    p->field = a->field;
    switch (n->op) {
    case ENG_RULE_OP_EQ: set_range(p, ex ? f : 1, ex ? f : 0); break;
    case ENG_RULE_OP_NE: set_range(p, ex ? f : 1, ex ? f : 0); p->neg = 1; break;
    case ENG_RULE_OP_LT: set_range(p, MIN, ex ? f - 1 : f); break;
    case ENG_RULE_OP_LE: set_range(p, MIN, f); break;
    case ENG_RULE_OP_GT: set_range(p, f + 1, MAX); break;
    default: set_range(p, ex ? f : f + 1, MAX); break;
    }
    return 1;
}

static int between_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a], *lo = &c->r->nodes[n->b], *hi = &c->r->nodes[n->c];
    if (a->kind != N_FIELD || lo->kind != N_LIT || hi->kind != N_LIT || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    i128 fl, fh;
    int el, eh;
    to_units(lo->lit.i, lit_scale(lo), cs, &fl, &el);
    to_units(hi->lit.i, lit_scale(hi), cs, &fh, &eh);
    p->field = a->field;
    set_range(p, el ? fl : fl + 1, fh);
    p->neg = n->neg;
    return 1;
}

static int inset_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a];
    if (a->kind != N_FIELD || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    const eng__rset *set = &c->r->sets[n->set];
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    int ss = (a->type == ENG_RT_INT || a->type == ENG_RT_DECIMAL) ? set->scale : 0;
    p->set = eng__calloc(&c->r->mem, set->n ? set->n : 1, sizeof *p->set);
    if (!p->set)
        return eng__nomem();
    for (size_t k = 0; k < set->n; k++) {
        i128 f;
        int ex;
        to_units(set->ints[k], ss, cs, &f, &ex);
        if (ex && f >= INT64_MIN && f <= INT64_MAX) /* sorted order is kept */
            p->set[p->nset++] = (int64_t)f;
    }
    p->kind = P_INSET;
    p->field = a->field;
    p->neg = n->neg;
    return 1;
}

static int build_table(bctx *c, int32_t idx, bplan *p)
{
    const eng__rnode *n = &c->r->nodes[idx];
    uint32_t f = (uint32_t)n->single;
    const eng_rule_column *col = col_of(c, f);
    uint32_t size = col->type == ENG_RT_BOOL ? 2 : col->dict_size;
    p->tab = eng__malloc(&c->r->mem, (size_t)size + 1);
    if (!p->tab)
        return eng__nomem();
    c->tab_field = f;
    for (uint32_t k = 0; k <= size; k++) {
        eng__rval v;
        c->tab_code = k;
        c->tab_null = k == size;
        int rc = eng__rule_eval(c->r, idx, table_get, c, &v);
        if (rc)
            return rc;
        int tv = tri_of(&v);
        p->tab[k] = tv == 1 ? 0x80 : tv == 0 ? 0x40 : 0;
    }
    p->kind = P_TABLE;
    p->field = f;
    /* estimate from the dictionary as if codes were uniform */
    uint32_t not_false = 0, not_true = 0;
    for (uint32_t k = 0; k < size; k++) {
        not_false += p->tab[k] != 0x40;
        not_true += p->tab[k] != 0x80;
    }
    p->ncodes = col->type == ENG_RT_STRING ? 0 : -1;
    for (uint32_t k = 0; k < size && p->ncodes >= 0; k++) {
        if (p->tab[k] == 0)
            p->ncodes = -1; /* a non-null string giving null: keep the lookup */
        else if (p->tab[k] == 0x80)
            p->ncodes = p->ncodes < 4 ? (p->codes[p->ncodes] = k, p->ncodes + 1) : -1;
    }
    p->pass_t = size ? (float)not_false / (float)size : 1.0f;
    p->pass_f = size ? (float)not_true / (float)size : 1.0f;
    return ENG_OK;
}

/* Plan the boolean node idx (and, through and/or/not, its boolean children). */
static int make_plan(bctx *c, int32_t idx)
{
    const eng__rnode *n = &c->r->nodes[idx];
    bplan *p = &c->plan[idx];
    int rc;
    p->pass_t = p->pass_f = 0.75f; /* unknown: assume it decides few rows */
    if (n->kind == N_LIT) {
        p->kind = P_CONST;
        p->cval = (uint8_t)(n->lit.i != 0);
        return ENG_OK;
    }
    if (n->single >= 0) {
        const eng_rule_column *col = col_of(c, (uint32_t)n->single);
        int t = col->type;
        if ((t == ENG_RT_STRING && col->dict_size <= c->b->nrows + 64) || t == ENG_RT_BOOL)
            return build_table(c, idx, p);
    }
    switch (n->kind) {
    case N_AND:
    case N_OR: {
        p->kind = P_BOOLOP;
        p->order = eng__malloc(&c->r->mem, n->n * sizeof *p->order);
        if (!p->order)
            return eng__nomem();
        float pt = n->kind == N_AND ? 1.0f : 0.0f, pf = n->kind == N_AND ? 0.0f : 1.0f;
        for (uint32_t k = 0; k < n->n; k++) {
            if ((rc = make_plan(c, c->r->kids[n->first + k])))
                return rc;
            p->order[k] = k;
            const bplan *kp = &c->plan[c->r->kids[n->first + k]];
            if (n->kind == N_AND) {
                pt *= kp->pass_t;
                pf = 1.0f - pt;
            } else {
                pf *= kp->pass_f;
                pt = 1.0f - pf;
            }
        }
        /* Kleene and/or commute: run the kid that decides most rows first so
         * the later ones see a sparse selection. Insertion sort (n is small). */
        for (uint32_t k = 1; k < n->n; k++) {
            uint32_t x = p->order[k];
            float key = n->kind == N_AND ? c->plan[c->r->kids[n->first + x]].pass_t
                                         : c->plan[c->r->kids[n->first + x]].pass_f;
            uint32_t j = k;
            for (; j > 0; j--) {
                const bplan *q = &c->plan[c->r->kids[n->first + p->order[j - 1]]];
                if ((n->kind == N_AND ? q->pass_t : q->pass_f) <= key)
                    break;
                p->order[j] = p->order[j - 1];
            }
            p->order[j] = x;
        }
        p->pass_t = pt;
        p->pass_f = pf;
        return ENG_OK;
    }
    case N_NOT:
        p->kind = P_BOOLOP;
        if ((rc = make_plan(c, n->a)))
            return rc;
        p->pass_t = c->plan[n->a].pass_f;
        p->pass_f = c->plan[n->a].pass_t;
        return ENG_OK;
    case N_CMP:
        if (cmp_plan(c, n, p))
            return ENG_OK;
        break;
    case N_BETWEEN:
        if (between_plan(c, n, p))
            return ENG_OK;
        break;
    case N_IN:
        if ((rc = inset_plan(c, n, p)) < 0)
            return rc;
        if (rc)
            return ENG_OK;
        break;
    case N_ISNULL:
        if (c->r->nodes[n->a].kind == N_FIELD) {
            p->kind = P_ISNULL;
            p->field = c->r->nodes[n->a].field;
            p->neg = n->neg;
            return ENG_OK;
        }
        break;
    default:
        break;
    }
    p->kind = P_GENERIC;
    p->pass_t = p->pass_f = 1.0f; /* the slow path runs last */
    return ENG_OK;
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

/* Words with at most this many selected rows are evaluated row by row. */
#define SPARSE 6

static inline int popcount64(uint64_t x) /* SWAR: no libcall without -mpopcnt */
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* 64 codes against up to 4 true codes: t = equal to one, bad = past the dictionary. */
static inline void eq_codes(const uint32_t *d, const uint32_t *codes, int n, uint32_t size, uint64_t *t,
                            uint64_t *bad)
{
#ifdef __SSE2__
    __m128i k[4], bias = _mm_set1_epi32((int)0x80000000u), lim = _mm_set1_epi32((int)((size - 1) ^ 0x80000000u));
    for (int i = 0; i < 4; i++)
        k[i] = _mm_set1_epi32((int)codes[i < n ? i : 0]);
    uint64_t tt = 0, bb = 0;
    for (int g = 0; g < 16; g++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + 4 * g));
        __m128i e = _mm_setzero_si128();
        for (int i = 0; i < n; i++)
            e = _mm_or_si128(e, _mm_cmpeq_epi32(x, k[i]));
        __m128i over = size ? _mm_cmpgt_epi32(_mm_xor_si128(x, bias), lim) : _mm_set1_epi32(-1);
        tt |= (uint64_t)_mm_movemask_ps(_mm_castsi128_ps(e)) << (4 * g);
        bb |= (uint64_t)_mm_movemask_ps(_mm_castsi128_ps(over)) << (4 * g);
    }
    *t = tt & ~bb;
    *bad = bb;
#else
    uint64_t tt = 0, bb = 0;
    for (int j = 0; j < 64; j++) {
        int e = 0;
        for (int i = 0; i < n; i++)
            e |= d[j] == codes[i];
        tt |= (uint64_t)e << j;
        bb |= (uint64_t)(d[j] >= size) << j;
    }
    *t = tt & ~bb;
    *bad = bb;
#endif
}

static void eval_table(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    const uint8_t *tab = p->tab; /* 0x80 true, 0x40 false, 0 null; tab[size] for null rows */
    uint32_t size = col->type == ENG_RT_BOOL ? 2 : col->dict_size;
    uint8_t tnull = tab[size];
    uint8_t tmp[64];
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t base = (c->w0 + w) * 64, m = rows_in_word(c, w);
        uint64_t t = 0, f = 0, nb = null_word(col, c, w), bad = 0;
        if (col->type == ENG_RT_BOOL) {
            const uint8_t *d = (const uint8_t *)col->data + base;
            for (size_t j = 0; j < m; j++)
                tmp[j] = tab[d[j] != 0];
            for (size_t j = m; j < 64; j++)
                tmp[j] = 0;
            t = pack7(tmp);
            f = pack6(tmp);
        } else if (popcount64(s) <= SPARSE) {
            const uint32_t *d = (const uint32_t *)col->data + base;
            for (uint64_t x = s; x; x &= x - 1) {
                int j = __builtin_ctzll(x);
                uint32_t code = d[j];
                bad |= (uint64_t)(code >= size) << j;
                uint8_t v = tab[code < size ? code : size];
                t |= (uint64_t)(v >> 7) << j;
                f |= (uint64_t)(v >> 6 & 1) << j;
            }
        } else if (p->ncodes >= 0 && m == 64) {
            eq_codes((const uint32_t *)col->data + base, p->codes, p->ncodes, size, &t, &bad);
            f = ~t & ~bad;
        } else {
            const uint32_t *d = (const uint32_t *)col->data + base;
            for (size_t j = 0; j < m; j++) {
                uint32_t code = d[j];
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

#define RANGE_LOOP(TYPE)                                                                   \
    do {                                                                                   \
        const TYPE *d = (const TYPE *)col->data + base;                                    \
        if (popcount64(s) <= SPARSE) {                                           \
            for (uint64_t x = s; x; x &= x - 1) {                                          \
                int j = __builtin_ctzll(x);                                                \
                t |= (uint64_t)((uint64_t)(int64_t)d[j] - (uint64_t)lo <= span) << j;      \
            }                                                                              \
        } else {                                                                           \
            for (size_t j = 0; j < m; j++)                                                 \
                tmp[j] = (uint8_t)(((uint64_t)(int64_t)d[j] - (uint64_t)lo <= span) << 7); \
            for (size_t j = m; j < 64; j++)                                                \
                tmp[j] = 0;                                                                \
            t = pack7(tmp);                                                                \
        }                                                                                  \
    } while (0)

static void eval_range(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    int64_t lo = p->lo;
    uint64_t span = (uint64_t)p->hi - (uint64_t)p->lo;
    int empty = p->lo > p->hi;
    uint8_t tmp[64];
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t base = (c->w0 + w) * 64, m = rows_in_word(c, w);
        uint64_t t = 0, valid = (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) & ~null_word(col, c, w);
        if (!empty) {
            if (col->type == ENG_RT_DATE)
                RANGE_LOOP(int32_t);
            else
                RANGE_LOOP(int64_t);
        }
        if (p->neg)
            t = ~t;
        T[w] = t & valid & s;
        F[w] = ~t & valid & s;
    }
}

static int in_sorted(const int64_t *set, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (set[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && set[lo] == x;
}

static void eval_inset(bctx *c, const bplan *p, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    const eng_rule_column *col = col_of(c, p->field);
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w];
        if (!s) {
            T[w] = F[w] = 0;
            continue;
        }
        size_t base = (c->w0 + w) * 64, m = rows_in_word(c, w);
        uint64_t t = 0, valid = (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) & ~null_word(col, c, w);
        for (size_t j = 0; j < m; j++) {
            int64_t x = col->type == ENG_RT_DATE ? ((const int32_t *)col->data)[base + j]
                                                 : ((const int64_t *)col->data)[base + j];
            t |= (uint64_t)in_sorted(p->set, p->nset, x) << j;
        }
        if (p->neg)
            t = ~t;
        T[w] = t & valid & s;
        F[w] = ~t & valid & s;
    }
}

static void eval_generic(bctx *c, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    for (size_t w = 0; w < c->nw; w++) {
        uint64_t s = sel[w], t = 0, f = 0;
        while (s && !c->err) {
            int j = __builtin_ctzll(s);
            s &= s - 1;
            c->row = (c->w0 + w) * 64 + (size_t)j;
            eng__rval v;
            int rc = eng__rule_eval(c->r, idx, batch_get, c, &v);
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

static void bool_eval(bctx *c, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F, unsigned level)
{
    const bplan *p = &c->plan[idx];
    const eng__rnode *n = &c->r->nodes[idx];
    size_t nw = c->nw;
    switch (p->kind) {
    case P_CONST:
        for (size_t w = 0; w < nw; w++) {
            T[w] = p->cval ? sel[w] : 0;
            F[w] = p->cval ? 0 : sel[w];
        }
        return;
    case P_TABLE: eval_table(c, p, sel, T, F); return;
    case P_RANGE: eval_range(c, p, sel, T, F); return;
    case P_INSET: eval_inset(c, p, sel, T, F); return;
    case P_ISNULL: {
        const eng_rule_column *col = col_of(c, p->field);
        for (size_t w = 0; w < nw; w++) {
            uint64_t nb = null_word(col, c, w);
            T[w] = (p->neg ? ~nb : nb) & sel[w];
            F[w] = (p->neg ? nb : ~nb) & sel[w];
        }
        return;
    }
    case P_BOOLOP:
        break;
    default:
        eval_generic(c, idx, sel, T, F);
        return;
    }
    if (n->kind == N_NOT) {
        bool_eval(c, n->a, sel, F, T, level + 1);
        return;
    }
    uint64_t *cur = c->scratch + (size_t)level * 3 * CHUNKW, *tk = cur + CHUNKW, *fk = tk + CHUNKW;
    int is_and = n->kind == N_AND;
    memcpy(cur, sel, nw * sizeof *cur);
    for (size_t w = 0; w < nw; w++) {
        T[w] = is_and ? sel[w] : 0;
        F[w] = is_and ? 0 : sel[w];
    }
    for (uint32_t k = 0; k < n->n && !c->err; k++) {
        bool_eval(c, c->r->kids[n->first + p->order[k]], cur, tk, fk, level + 1);
        uint64_t any = 0;
        for (size_t w = 0; w < nw; w++) {
            if (is_and) {
                F[w] |= fk[w];
                T[w] &= tk[w];
                cur[w] &= ~fk[w];
            } else {
                T[w] |= tk[w];
                F[w] &= fk[w];
                cur[w] &= ~tk[w];
            }
            any |= cur[w];
        }
        if (!any) /* every selected row is decided (false for and, true for or) */
            break;
    }
}

static int check_columns(const eng_rule *r, const eng_rule_batch *b)
{
    if (b->ncolumns < r->nfields || (r->nfields && !b->columns))
        return eng__err(ENG_EINVAL, "batch.columns", "batch has %zu columns, the schema %zu fields", b->ncolumns,
                        r->nfields);
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->used[i])
            continue;
        const eng_rule_column *col = &b->columns[i];
        const char *name = r->fields[i].name;
        if ((int)col->type != (int)r->fields[i].type)
            return eng__err(ENG_EINVAL, name, "column '%s' has type %s, the schema says %s", name,
                            eng__rtype_name(col->type), eng__rtype_name(r->fields[i].type));
        if (b->nrows && !col->data)
            return eng__err(ENG_EINVAL, name, "column '%s' has no data", name);
        if (col->type == ENG_RT_DECIMAL && (col->scale < 0 || col->scale > ENG_RULE_MAX_SCALE))
            return eng__err(ENG_EINVAL, name, "column '%s' has a bad scale %d", name, col->scale);
        if ((col->type == ENG_RT_STRING || col->type == ENG_RT_STRING_LIST) && col->dict_size && !col->dict)
            return eng__err(ENG_EINVAL, name, "column '%s' has no dictionary", name);
        if (col->type == ENG_RT_STRING_LIST && b->nrows && !col->list_codes && ((const uint32_t *)col->data)[b->nrows])
            return eng__err(ENG_EINVAL, name, "list column '%s' has no item codes", name);
    }
    return ENG_OK;
}

ENG_API int eng_rule_eval_batch(const eng_rule *rule, const eng_rule_batch *batch, const uint64_t *in_sel,
                                uint64_t *sel, size_t *count)
{
    int rc = eng__rule_check(rule);
    if (rc)
        return rc;
    if (!batch || !sel)
        return eng__err(ENG_EINVAL, !batch ? "batch" : "sel", "eng_rule_eval_batch: %s is NULL",
                        !batch ? "batch" : "sel");
    if (batch->version != ENG_RULE_BATCH_VERSION)
        return eng__err(ENG_EVERSION, "batch.version", "unknown batch version %u", batch->version);
    if ((rc = check_columns(rule, batch)))
        return rc;
    size_t nrows = batch->nrows, nwords = (nrows + 63) / 64;
    if (count)
        *count = 0;
    if (!nrows)
        return ENG_OK;
    bctx c;
    memset(&c, 0, sizeof c);
    c.r = rule;
    c.b = batch;
    c.plan = eng__calloc(&rule->mem, rule->nnodes, sizeof *c.plan);
    c.scratch = eng__malloc(&rule->mem, ((size_t)rule->bool_depth + 2) * 3 * CHUNKW * sizeof *c.scratch +
                                            3 * CHUNKW * sizeof *c.scratch);
    if (!c.plan || !c.scratch)
        rc = eng__nomem();
    if (!rc)
        rc = make_plan(&c, rule->root);
    uint64_t *insel = c.scratch ? c.scratch + ((size_t)rule->bool_depth + 2) * 3 * CHUNKW : NULL;
    uint64_t *fout = insel ? insel + CHUNKW : NULL;
    size_t total = 0;
    for (size_t w0 = 0; !rc && w0 < nwords; w0 += CHUNKW) {
        c.w0 = w0;
        c.nw = nwords - w0 < CHUNKW ? nwords - w0 : CHUNKW;
        for (size_t w = 0; w < c.nw; w++) {
            uint64_t s = in_sel ? in_sel[w0 + w] : ~(uint64_t)0;
            size_t m = rows_in_word(&c, w);
            insel[w] = m == 64 ? s : s & (((uint64_t)1 << m) - 1);
        }
        bool_eval(&c, rule->root, insel, sel + w0, fout, 0);
        rc = c.err;
        for (size_t w = 0; w < c.nw && !rc; w++)
            total += (size_t)popcount64(sel[w0 + w]);
    }
    if (c.plan) {
        for (size_t i = 0; i < rule->nnodes; i++) {
            eng__free(&rule->mem, c.plan[i].tab);
            eng__free(&rule->mem, c.plan[i].set);
            eng__free(&rule->mem, c.plan[i].order);
        }
    }
    eng__free(&rule->mem, c.plan);
    eng__free(&rule->mem, c.scratch);
    if (rc) {
        memset(sel, 0, nwords * sizeof *sel);
        return rc;
    }
    if (count)
        *count = total;
    return ENG_OK;
}
