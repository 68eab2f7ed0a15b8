/* and/or whose leading kids are dense leaves (string codes against a few
 * true codes, integer and date ranges, is null) are evaluated in one pass
 * (src/rules/batch_fused.c). Random and/or/not expressions over columns of
 * every code and value width (1-, 2- and 4-byte codes; int16, int32 and
 * int64 values; dates), with nulls, type-boundary values and literals past
 * the type, select at every vector level exactly the rows a plain Kleene
 * evaluation written here selects, with and without an input selection,
 * over several chunks and a last partial word. A code past the dictionary is
 * ENG_ERANGE naming the column only where the kid-by-kid semantics look at
 * it: not in a row an earlier kid already decided, a null row or a row
 * outside the input selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/simd.h"
#include "rules/rules_impl.h"
#include "engage.h"
#include "rules_test_util.h"
#include "test_util.h"

enum { S8, S16, S32, I16, I32, I64, DT, NF };
enum { N = 3 * 16384 + 101, NW = (N + 63) / 64 };
enum { D8 = 20, D16 = 300, D32 = 1000 };
enum { F = 0, T = 1, U = 2 }; /* false, true, null */

typedef struct cols {
    uint8_t s8[N];
    uint16_t s16[N];
    uint32_t s32[N];
    int16_t i16[N];
    int32_t i32[N];
    int64_t i64[N];
    int32_t dt[N];
    uint64_t n8[NW], n16[NW], n64[NW]; /* nulls of s8, i16, i64 */
} cols;

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}

static int bit(const uint64_t *b, size_t r)
{
    return (int)(b[r / 64] >> (r % 64) & 1);
}

/* Leaves: the text and a plain evaluation of one row. */
static const char *const LEAVES[] = {
    "s8 == \"c3\"",                               /* 0 */
    "s8 in (\"c1\", \"c2\", \"c7\")",             /* 1 */
    "s8 != \"c4\"",                               /* 2: 19 true codes, not a fused leaf */
    "s8 not in (\"c0\", \"c1\")",                 /* 3: likewise */
    "s16 == \"c255\"",                            /* 4 */
    "s16 in (\"c1\", \"c299\")",                  /* 5 */
    "s32 in (\"c5\", \"c999\", \"c7\", \"c8\")",  /* 6 */
    "i16 > 30",                                   /* 7 */
    "i16 < -10",                                  /* 8 */
    "i16 between 5 and 100",                      /* 9 */
    "i16 not between 5 and 100",                  /* 10 */
    "i16 != 7",                                   /* 11 */
    "i16 > 40000",                                /* 12: nothing of int16 */
    "i16 >= -32768",                              /* 13: all of int16 */
    "i32 > 30",                                   /* 14 */
    "i32 <= 2147483647",                          /* 15 */
    "i32 > 3000000000",                           /* 16 */
    "i32 between -2147483648 and 0",              /* 17 */
    "i32 == 100",                                 /* 18 */
    "i64 > 30",                                   /* 19 */
    "i64 between -3000000000 and 3000000000",     /* 20 */
    "s8 is null",                                 /* 21 */
    "i64 is not null",                            /* 22 */
    "dt >= date(\"2024-10-04\")",                 /* 23: day 20000 */
    "i32 in (1, 2, 3)",                           /* 24: a set, not a fused leaf */
    "s8 starts with \"c1\"",                      /* 25: 11 true codes */
    "i16 in (1, 2, 300)",                         /* 26 */
    "i16 <= 32767",                               /* 27 */
    "i32 not between 10 and 20",                  /* 28 */
    "dt < date(\"2024-10-04\")",                  /* 29 */
    "(s8 is null or s8 == \"c1\")",               /* 30: one column: a table, null rows true */
    "(s8 is not null and s8 == \"c2\")",          /* 31: null rows false */
    "s8 == \"nope\"",                             /* 32: no true code */
    "s16 in (\"nope\", \"c7\")",                  /* 33 */
    "s8 in (\"c1\", \"c2\", \"c7\", \"c9\")",       /* 34 */
    "not (s8 is null or s8 != \"c2\")",            /* 35: a table, null rows false (not flattened into an and) */
    "s16 in (\"c1\", \"c2\", \"c299\", \"c7\")",    /* 36 */
};
#define NLEAF (sizeof LEAVES / sizeof LEAVES[0])

static int leaf_ref(int id, const cols *c, size_t r)
{
    int n8 = bit(c->n8, r), n16 = bit(c->n16, r), n64 = bit(c->n64, r);
    uint32_t s8 = c->s8[r], s16 = c->s16[r], s32 = c->s32[r];
    int64_t a = c->i16[r], b = c->i32[r], x = c->i64[r], d = c->dt[r];
    switch (id) {
    case 0: return n8 ? U : s8 == 3;
    case 1: return n8 ? U : s8 == 1 || s8 == 2 || s8 == 7;
    case 2: return n8 ? U : s8 != 4;
    case 3: return n8 ? U : s8 != 0 && s8 != 1;
    case 4: return s16 == 255;
    case 5: return s16 == 1 || s16 == 299;
    case 6: return s32 == 5 || s32 == 999 || s32 == 7 || s32 == 8;
    case 7: return n16 ? U : a > 30;
    case 8: return n16 ? U : a < -10;
    case 9: return n16 ? U : a >= 5 && a <= 100;
    case 10: return n16 ? U : !(a >= 5 && a <= 100);
    case 11: return n16 ? U : a != 7;
    case 12: return n16 ? U : F;
    case 13: return n16 ? U : T;
    case 14: return b > 30;
    case 15: return T;
    case 16: return F;
    case 17: return b <= 0;
    case 18: return b == 100;
    case 19: return n64 ? U : x > 30;
    case 20: return n64 ? U : x >= -3000000000LL && x <= 3000000000LL;
    case 21: return n8;
    case 22: return !n64;
    case 23: return d >= 20000;
    case 24: return b >= 1 && b <= 3;
    case 25: return n8 ? U : s8 == 1 || (s8 >= 10 && s8 <= 19);
    case 26: return n16 ? U : a == 1 || a == 2 || a == 300;
    case 27: return n16 ? U : T;
    case 28: return !(b >= 10 && b <= 20);
    case 29: return d < 20000;
    case 30: return n8 ? T : s8 == 1;
    case 31: return n8 ? F : s8 == 2;
    case 32: return n8 ? U : F;
    case 33: return s16 == 7;
    case 35: return n8 ? F : s8 == 2;
    case 36: return s16 == 1 || s16 == 2 || s16 == 299 || s16 == 7;
    default: return n8 ? U : s8 == 1 || s8 == 2 || s8 == 7 || s8 == 9;
    }
}

/* A random expression: and/or of 2..5 items, an item a leaf, a nested
 * and/or of 2..3 leaves, or a not of either. */
typedef struct expr {
    int op[4];     /* 0 and, 1 or: [0] the top, [1..3] the nested ones */
    int nested[6]; /* per top item: 0 a leaf, k > 0 nested node k */
    int neg[6];
    int leaf[6][3];
    int nk[6], n;
} expr;

static void gen(expr *e)
{
    memset(e, 0, sizeof *e);
    int used = 0;
    e->op[0] = (int)(rnd() % 3 == 0);
    e->n = 2 + (int)(rnd() % 4);
    for (int i = 0; i < e->n; i++) {
        uint64_t x = rnd();
        e->neg[i] = x % 10 == 0;
        if (x % 7 == 0 && used < 3) {
            e->nested[i] = ++used;
            e->op[used] = (int)(rnd() % 2);
            e->nk[i] = 2 + (int)(rnd() % 2);
        } else {
            e->nk[i] = 1;
        }
        static const int fused[] = {0,  1,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18,
                                    19, 20, 21, 22, 23, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36};
        for (int k = 0; k < e->nk[i]; k++) /* mostly fused leaves */
            e->leaf[i][k] = rnd() % 4 ? fused[rnd() % (sizeof fused / sizeof fused[0])] : (int)(rnd() % NLEAF);
    }
}

static size_t text(const expr *e, char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < e->n; i++) {
        if (i)
            len += (size_t)snprintf(buf + len, cap - len, e->op[0] ? " or " : " and ");
        len += (size_t)snprintf(buf + len, cap - len, "%s(", e->neg[i] ? "not " : "");
        for (int k = 0; k < e->nk[i]; k++)
            len += (size_t)snprintf(buf + len, cap - len, "%s(%s)", k ? (e->op[e->nested[i]] ? " or " : " and ") : "",
                                    LEAVES[e->leaf[i][k]]);
        len += (size_t)snprintf(buf + len, cap - len, ")");
    }
    return len;
}

static int kleene(int op, int a, int b)
{
    if (op) /* or */
        return a == T || b == T ? T : a == U || b == U ? U : F;
    return a == F || b == F ? F : a == U || b == U ? U : T;
}

static int expr_ref(const expr *e, const cols *c, size_t r)
{
    int acc = e->op[0] ? F : T;
    for (int i = 0; i < e->n; i++) {
        int v = leaf_ref(e->leaf[i][0], c, r);
        for (int k = 1; k < e->nk[i]; k++)
            v = kleene(e->op[e->nested[i]], v, leaf_ref(e->leaf[i][k], c, r));
        if (e->neg[i])
            v = v == U ? U : !v;
        acc = kleene(e->op[0], acc, v);
    }
    return acc;
}

static const eng_rule_field FIELDS[NF] = {{"s8", ENG_RT_STRING, 0},  {"s16", ENG_RT_STRING, 0}, {"s32", ENG_RT_STRING, 0},
                                          {"i16", ENG_RT_INT, 0},    {"i32", ENG_RT_INT, 0},    {"i64", ENG_RT_INT, 0},
                                          {"dt", ENG_RT_DATE, 0}};
static const uint8_t WIDTHS[NF] = {1, 2, 4, 2, 4, 8, 0};

static void fill(cols *c)
{
    static const int16_t e16[] = {INT16_MIN, INT16_MAX, 0, 5, 100, 101, 4, 30, 31, -10, -11, 7};
    static const int32_t e32[] = {INT32_MIN, INT32_MAX, 0, 1, -1, 10, 20, 21, 9, 30, 31, 100};
    static const int64_t e64[] = {INT64_MIN, INT64_MAX, -3000000000LL, 3000000000LL, -3000000001LL, 3000000001LL,
                                  30, 31};
    memset(c, 0, sizeof *c);
    for (size_t r = 0; r < N; r++) {
        uint64_t x = rnd(), y = rnd();
        int run = (r / 3000) % 5 == 4; /* stretches of one value: whole words alike */
        c->s8[r] = (uint8_t)(run ? 3 : x % D8);
        c->s16[r] = (uint16_t)(run ? 255 : x % 3 == 0 ? (x >> 8) % 2 ? 255 : 511 % D16 : (x >> 8) % D16);
        c->s32[r] = (uint32_t)(run ? 999 : (x >> 16) % 4 == 0 ? 5 + (x >> 20) % 4 : (x >> 20) % D32);
        c->i16[r] = (int16_t)(run ? 50 : y % 8 == 0 ? e16[(y >> 3) % 12] : (int)((y >> 8) % 450) - 50);
        c->i32[r] = run ? 31 : (y >> 20) % 8 == 0 ? e32[(y >> 23) % 12] : (int32_t)((y >> 28) % 450) - 50;
        c->i64[r] = run ? 31 : (y >> 36) % 8 == 0 ? e64[(y >> 39) % 8] : (int64_t)((y >> 42) % 450) - 50;
        c->dt[r] = 20000 + (int32_t)((x >> 40) % 800) - 400;
        if (!run && (x >> 50) % 20 == 0)
            c->n8[r / 64] |= 1ull << (r % 64);
        if (!run && (x >> 55) % 20 == 0)
            c->n16[r / 64] |= 1ull << (r % 64);
        if (!run && (y >> 58) % 20 == 0)
            c->n64[r / 64] |= 1ull << (r % 64);
    }
}

typedef struct fixture {
    eng_engine *e;
    cols *c;
    char **d8, **d16, **d32;
    eng_rule_column cc[NF];
} fixture;

static void setup(fixture *fx)
{
    assert_int_equal(eng_open(NULL, &fx->e), ENG_OK);
    fx->c = malloc(sizeof *fx->c);
    assert_non_null(fx->c);
    rng_state = 2026;
    fill(fx->c);
    fx->d8 = rt_make_dict(D8);
    fx->d16 = rt_make_dict(D16);
    fx->d32 = rt_make_dict(D32);
    cols *c = fx->c;
    memset(fx->cc, 0, sizeof fx->cc);
    fx->cc[S8] = (eng_rule_column){ENG_RT_STRING, 0, c->s8, c->n8, (const char *const *)fx->d8, NULL, D8, NULL};
    fx->cc[S16] = (eng_rule_column){ENG_RT_STRING, 0, c->s16, NULL, (const char *const *)fx->d16, NULL, D16, NULL};
    fx->cc[S32] = (eng_rule_column){ENG_RT_STRING, 0, c->s32, NULL, (const char *const *)fx->d32, NULL, D32, NULL};
    fx->cc[I16] = (eng_rule_column){ENG_RT_INT, 0, c->i16, c->n16, NULL, NULL, 0, NULL};
    fx->cc[I32] = (eng_rule_column){ENG_RT_INT, 0, c->i32, NULL, NULL, NULL, 0, NULL};
    fx->cc[I64] = (eng_rule_column){ENG_RT_INT, 0, c->i64, c->n64, NULL, NULL, 0, NULL};
    fx->cc[DT] = (eng_rule_column){ENG_RT_DATE, 0, c->dt, NULL, NULL, NULL, 0, NULL};
}

static void teardown(fixture *fx)
{
    rt_free_dict(fx->d8, D8);
    rt_free_dict(fx->d16, D16);
    rt_free_dict(fx->d32, D32);
    free(fx->c);
    eng_close(fx->e);
}

static eng_rule *compile(fixture *fx, const char *src)
{
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = FIELDS;
    o.nfields = NF;
    eng_rule *r = NULL;
    if (eng_rule_compile(fx->e, src, &o, &r))
        fail_msg("compile %s: %s", src, eng_error_last()->message);
    return r;
}

/* Expression e (text src) at every level, with no, a random and a sparse
 * input selection, over each length, against the plain evaluation. */
static void check_expr(fixture *fx, const expr *e, const char *src, const uint64_t *in, const uint64_t *sparse,
                       uint64_t *sel, uint64_t *ref, const size_t *lens, size_t nlens)
{
    eng_rule *r = compile(fx, src);
    memset(ref, 0, NW * 8);
    for (size_t row = 0; row < N; row++)
        ref[row / 64] |= (uint64_t)(expr_ref(e, fx->c, row) == T) << (row % 64);
    for (size_t li = 0; li < nlens; li++) {
        size_t n = lens[li];
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n, fx->cc, NF, WIDTHS};
        for (int si = 0; si < 3; si++) {
            const uint64_t *is = si == 0 ? NULL : si == 1 ? in : sparse;
            for (int lv = 0; lv <= eng__isa_detected(); lv++) {
                assert_int_equal(eng__isa_force(lv), lv);
                size_t count = (size_t)-1, want = 0;
                if (eng_rule_eval_batch(r, &b, is, sel, &count))
                    fail_msg("%s: %s", src, eng_error_last()->message);
                for (size_t w = 0; w < (n + 63) / 64; w++) {
                    uint64_t live = n - w * 64 >= 64 ? ~0ull : (1ull << (n % 64)) - 1;
                    uint64_t want_w = ref[w] & (is ? is[w] : ~0ull) & live;
                    if (sel[w] != want_w)
                        fail_msg("%s, %zu rows, selection %d, level %s: rows %zu..%zu: %016llx, reference "
                                 "%016llx", src, n, si, eng__isa_name(lv), w * 64, w * 64 + 63,
                                 (unsigned long long)sel[w], (unsigned long long)want_w);
                    want += (size_t)__builtin_popcountll(want_w);
                }
                assert_int_equal(count, want);
            }
        }
    }
    eng_rule_free(r);
}

/* Rounds of expressions from gen, three input selections, the lengths given, every level. */
static void run_rounds(void (*gen_fn)(expr *), int rounds, const size_t *lens, size_t nlens)
{
    fixture fx;
    setup(&fx);
    uint64_t *in = malloc(NW * 8), *sparse = malloc(NW * 8), *sel = malloc(NW * 8), *ref = malloc(NW * 8);
    assert_true(in && sparse && sel && ref);
    for (size_t w = 0; w < NW; w++) {
        in[w] = rnd() & rnd() ? rnd() | rnd() : 0;
        sparse[w] = rnd() & rnd() & rnd() & rnd();
    }
    printf("vector levels tested: scalar..%s\n", eng__isa_name(eng__isa_detected()));
    char src[1024];
    for (int round = 0; round < rounds; round++) {
        expr e;
        gen_fn(&e);
        text(&e, src, sizeof src);
        check_expr(&fx, &e, src, in, sparse, sel, ref, lens, nlens);
    }
    eng__isa_force(-1);
    free(ref);
    free(in);
    free(sparse);
    free(sel);
    teardown(&fx);
}

/* Random expressions, three input selections, three lengths, every level. */
static void random_exprs(void **state)
{
    (void)state;
    static const size_t lens[] = {N, 1000, 64, 7};
    run_rounds(gen, test_slow_runtime() ? 60 : 400, lens, sizeof lens / sizeof lens[0]);
}

/* An and of 2 or 3 narrow leaves only (1- and 2-byte codes, int16 and int32
 * ranges and compares, null rows true or false, no true code): at the
 * AVX-512 level the one loop over the kids (batch_fused.c, and_avx512). */
static void gen_narrow_and(expr *e)
{
    static const int narrow[] = {0,  1,  4,  5,  7,  8,  9,  10, 11, 12, 13, 14,
                                 15, 16, 17, 18, 27, 28, 30, 32, 33, 34, 35, 36};
    memset(e, 0, sizeof *e);
    if (rnd() % 2) { /* the and as the top */
        e->n = 2 + (int)(rnd() % 2);
        for (int i = 0; i < e->n; i++) {
            e->nk[i] = 1;
            e->neg[i] = rnd() % 8 == 0;
            e->leaf[i][0] = narrow[rnd() % (sizeof narrow / sizeof narrow[0])];
        }
        return;
    }
    /* nested, its false rows used: not (and), or (and) or a leaf */
    e->op[0] = 1;
    e->n = 1 + (int)(rnd() % 2);
    e->nested[0] = 1;
    e->neg[0] = (int)(rnd() % 2);
    e->nk[0] = 2 + (int)(rnd() % 2);
    for (int k = 0; k < e->nk[0]; k++)
        e->leaf[0][k] = narrow[rnd() % (sizeof narrow / sizeof narrow[0])];
    e->nk[1] = 1;
    e->leaf[1][0] = narrow[rnd() % (sizeof narrow / sizeof narrow[0])];
}

static void narrow_ands(void **state)
{
    (void)state;
    /* a whole chunk and one word more, tails of 40, 2 and 7 rows */
    static const size_t lens[] = {N, 16384 + 64, 1000, 130, 64, 7};
    run_rounds(gen_narrow_and, test_slow_runtime() ? 30 : 150, lens, sizeof lens / sizeof lens[0]);
}

/* A code past the dictionary: ENG_ERANGE naming the column, nothing
 * selected, where the row is looked at; where it is not (decided false by
 * an earlier kid, null, outside the input selection), no error and the row
 * counts as the reference says. */
static void bad_codes(void **state)
{
    (void)state;
    fixture fx;
    setup(&fx);
    uint64_t *sel = malloc(NW * 8), *in = malloc(NW * 8);
    assert_true(sel && in);
    const size_t row = 2 * 16384 + 640 + 5; /* in the third chunk */
    cols *c = fx.c;
    /* s16 (one true code in 300) runs before s8 (one in 20) */
    eng_rule *r = compile(&fx, "s8 == \"c3\" and s16 == \"c255\" and i32 > 30");
    struct {
        int s16_true, null, selected, err;
    } cases[] = {{1, 0, 1, ENG_ERANGE}, {0, 0, 1, ENG_OK}, {1, 1, 1, ENG_OK}, {1, 0, 0, ENG_OK}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t s8 = c->s8[row];
        uint16_t s16 = c->s16[row];
        uint64_t n8 = c->n8[row / 64];
        c->s8[row] = D8 + 1;
        c->s16[row] = cases[k].s16_true ? 255 : 254;
        c->i32[row] = 31;
        if (cases[k].null)
            c->n8[row / 64] |= 1ull << (row % 64);
        else
            c->n8[row / 64] &= ~(1ull << (row % 64));
        for (size_t w = 0; w < NW; w++)
            in[w] = ~0ull;
        if (!cases[k].selected)
            in[row / 64] &= ~(1ull << (row % 64));
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, N, fx.cc, NF, WIDTHS};
        for (int lv = 0; lv <= eng__isa_detected(); lv++) {
            eng__isa_force(lv);
            size_t count = 7;
            int rc = eng_rule_eval_batch(r, &b, in, sel, &count);
            if (rc != cases[k].err)
                fail_msg("case %zu, level %s: %d, expected %d", k, eng__isa_name(lv), rc, cases[k].err);
            if (rc) {
                assert_string_equal(eng_error_last()->detail, "s8");
                assert_int_equal(count, 0);
                for (size_t w = 0; w < NW; w++)
                    assert_int_equal(sel[w], 0);
                continue;
            }
            size_t want = 0;
            for (size_t q = 0; q < N; q++) {
                int ref = bit(in, q) && (q == row ? 0 : c->s8[q] == 3 && !bit(c->n8, q) && c->s16[q] == 255 &&
                                                        c->i32[q] > 30);
                want += (size_t)ref;
                if (bit(sel, q) != ref)
                    fail_msg("case %zu, level %s: row %zu", k, eng__isa_name(lv), q);
            }
            assert_int_equal(count, want);
        }
        c->s8[row] = s8;
        c->s16[row] = s16;
        c->n8[row / 64] = n8;
    }
    eng_rule_free(r);
    /* a 2-byte code past the dictionary in a row looked at */
    r = compile(&fx, "s16 == \"c255\" and i32 > 30");
    uint16_t s16 = c->s16[row];
    c->s16[row] = D16 + 5;
    c->i32[row] = 31;
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, N, fx.cc, NF, WIDTHS};
    for (int lv = 0; lv <= eng__isa_detected(); lv++) {
        eng__isa_force(lv);
        size_t count = 7;
        if (eng_rule_eval_batch(r, &b, NULL, sel, &count) != ENG_ERANGE)
            fail_msg("2-byte code past the dictionary, level %s: no ENG_ERANGE", eng__isa_name(lv));
        assert_string_equal(eng_error_last()->detail, "s16");
        assert_int_equal(count, 0);
    }
    c->s16[row] = s16;
    eng__isa_force(-1);
    eng_rule_free(r);
    free(sel);
    free(in);
    teardown(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_exprs),
        cmocka_unit_test(narrow_ands),
        cmocka_unit_test(bad_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
