/* Every vector level this CPU offers (scalar, AVX2, AVX-512; base/simd.h) is
 * forced in turn and must give exactly the results of a plain loop written
 * here: word-wise bitmap ops (and the split's one-pass pair), bitmaps made into id sets, the test/control
 * split hash, and the rules
 * batch leaves that use the dense kernels (codes compared as codes, int64 and
 * int32 ranges). Lengths that are not a multiple of the vector width, empty
 * inputs, all-match and none-match are covered. Levels the CPU lacks are
 * skipped (printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/idset.h"
#include "base/error.h"
#include "base/simd.h"
#include "engage.h"
#include "test_alloc.h"
#include "test_util.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}

static unsigned plain_popc(uint64_t x)
{
    unsigned n = 0;
    for (; x; x >>= 1)
        n += (unsigned)(x & 1);
    return n;
}

/* The levels to run: scalar up to the detected one. */
static int levels(void)
{
    int d = eng__isa_detected();
    static int said;
    if (!said++)
        printf("vector levels tested: scalar..%s (AVX-512 needs avx512f+avx512dq)\n", eng__isa_name(d));
    return d;
}

static void words_ops(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 1023, 1024};
    uint64_t a[1024], b[1024], out[1024], want[1024];
    rng_state = 11;
    for (int lv = 0; lv <= levels(); lv++) {
        assert_int_equal(eng__isa_force(lv), lv);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            for (int fill = 0; fill < 3; fill++) {
                for (size_t i = 0; i < n; i++) {
                    a[i] = fill == 0 ? rnd() : fill == 1 ? ~(uint64_t)0 : rnd() & rnd() & rnd();
                    b[i] = fill == 1 ? ~(uint64_t)0 : rnd();
                }
                for (int op = ENG__WOP_OR; op <= ENG__WOP_ANDNOT; op++) {
                    uint64_t card = 0;
                    for (size_t i = 0; i < n; i++) {
                        want[i] = op == ENG__WOP_OR ? a[i] | b[i] : op == ENG__WOP_AND ? a[i] & b[i] : a[i] & ~b[i];
                        card += plain_popc(want[i]);
                    }
                    memset(out, 0xa5, sizeof out);
                    assert_int_equal(eng__words_op(op, a, b, out, n), card);
                    assert_memory_equal(out, want, n * sizeof *out);
                    assert_true(n == 1024 || out[n] == 0xa5a5a5a5a5a5a5a5ull); /* nothing past n */
                    assert_int_equal(eng__words_op(op, a, b, NULL, n), card);
                    uint64_t ac[1024];
                    memcpy(ac, a, n * sizeof *a);
                    assert_int_equal(eng__words_op(op, ac, b, ac, n), card); /* out aliasing a */
                    assert_memory_equal(ac, want, n * sizeof *ac);
                }
                uint64_t c = 0;
                for (size_t i = 0; i < n; i++)
                    c += plain_popc(a[i]);
                assert_int_equal(eng__words_count(a, n), c);
                /* the split in one pass: a ∩ b and a − b */
                uint64_t t[1024], cw[1024], nt = 0;
                memset(t, 0xa5, sizeof t);
                memset(cw, 0xa5, sizeof cw);
                for (size_t i = 0; i < n; i++)
                    nt += plain_popc(a[i] & b[i]);
                assert_int_equal(eng__words_split(a, b, t, cw, n), nt);
                for (size_t i = 0; i < n; i++) {
                    assert_true(t[i] == (a[i] & b[i]));
                    assert_true(cw[i] == (a[i] & ~b[i]));
                }
                assert_true(n == 1024 || (t[n] == 0xa5a5a5a5a5a5a5a5ull && cw[n] == 0xa5a5a5a5a5a5a5a5ull));
            }
        }
    }
    eng__isa_force(-1);
}

/* The split written out: splitmix64 of (splitmix64(seed) ^ id) below ratio * 2^64. */
static uint64_t ref_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static int ref_test(uint64_t seed, double ratio, uint32_t id)
{
    if (ratio >= 1.0)
        return 1;
    if (ratio <= 0.0)
        return 0;
    return ref_mix(ref_mix(seed) ^ id) < (uint64_t)(ratio * 18446744073709551616.0);
}

static void split_paths(void **state)
{
    (void)state;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    /* chunks: empty, sparse (array), 40 % and 95 % (bitmap, words above and
     * below the dense threshold), full, a tail not a multiple of 64, and ids at the top */
    static const double dens[] = {0.0, 0.01, 0.4, 0.95, 1.0, 0.7};
    static const double ratios[] = {0.0, 0.1, 0.5, 0.9, 0.999, 1.0};
    eng__idset s;
    eng__idset_init(&s, &mem);
    rng_state = 7;
    for (uint32_t ch = 0; ch < 6; ch++)
        for (uint32_t i = 0; i < (ch == 5 ? 65536u - 37 : 65536u); i++)
            if ((double)(rnd() >> 11) / 9007199254740992.0 < dens[ch])
                assert_int_equal(eng__idset_add(&s, ch << 16 | i), ENG_OK);
    for (uint32_t id = 0xffffffffu - 200; id != 0; id++) /* last chunk: 201 ids up to 2^32 - 1 */
        assert_int_equal(eng__idset_add(&s, id), ENG_OK);
    size_t n = (size_t)eng__idset_count(&s);
    uint32_t *ids = malloc(n * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(eng__idset_to_array(&s, ids), n);
    eng__idset empty;
    eng__idset_init(&empty, &mem);
    for (size_t ri = 0; ri < sizeof ratios / sizeof ratios[0]; ri++) {
        for (uint64_t seed = 0; seed < 3; seed++) {
            eng__idset t0, c0;
            eng__idset_init(&t0, &mem);
            eng__idset_init(&c0, &mem);
            for (int lv = 0; lv <= levels(); lv++) {
                assert_int_equal(eng__isa_force(lv), lv);
                eng__idset t, c;
                eng__idset_init(&t, &mem);
                eng__idset_init(&c, &mem);
                assert_int_equal(eng__idset_split(&s, seed * 977, ratios[ri], &t, &c), ENG_OK);
                assert_int_equal(eng__idset_count(&t) + eng__idset_count(&c), n);
                for (size_t k = 0; k < n; k++) {
                    int want = ref_test(seed * 977, ratios[ri], ids[k]);
                    if (eng__idset_contains(&t, ids[k]) != want || eng__idset_contains(&c, ids[k]) == want)
                        fail_msg("level %s ratio %g seed %llu: id %u on the wrong side", eng__isa_name(lv),
                                 ratios[ri], (unsigned long long)seed, ids[k]);
                }
                if (lv == 0) {
                    eng__idset_move(&t0, &t);
                    eng__idset_move(&c0, &c);
                } else {
                    assert_true(eng__idset_equal(&t, &t0));
                    assert_true(eng__idset_equal(&c, &c0));
                }
                /* the empty set splits into two empty sets */
                assert_int_equal(eng__idset_split(&empty, seed, ratios[ri], &t, &c), ENG_OK);
                assert_int_equal(eng__idset_count(&t) + eng__idset_count(&c), 0);
                eng__idset_free(&t);
                eng__idset_free(&c);
            }
            eng__idset_free(&t0);
            eng__idset_free(&c0);
        }
    }
    eng__isa_force(-1);
    free(ids);
    eng__idset_free(&s);
}

/* Rules batch: tier (string codes), days (int64), birthday (date, int32
 * days) with nulls; each expression is checked row by row against a plain
 * predicate on the same arrays, at every level, for many lengths. */
static const char *const TIERS[] = {"bronze", "silver", "gold", "platinum", "iron"};
#define NT 5

typedef struct cols {
    uint32_t *tier;
    int64_t *days;
    int32_t *bday;
    uint64_t *tier_nulls, *days_nulls;
} cols;

static int isnull(const uint64_t *nb, size_t r) { return (int)(nb[r / 64] >> (r % 64) & 1); }

static int ref_pred(int which, const cols *c, size_t r)
{
    int tn = isnull(c->tier_nulls, r), dn = isnull(c->days_nulls, r);
    uint32_t t = c->tier[r];
    int64_t d = c->days[r];
    switch (which) {
    case 0: return !tn && (t == 2 || t == 3) && !dn && d > 30;
    case 1: return !tn && t == 1;
    case 2: return !dn && d >= -5 && d <= 1000000;
    case 3: return !dn && d < -1000000000000ll;
    case 4: return c->bday[r] >= 19000 && c->bday[r] < 19365;
    case 5: return !dn && d > -9223372036854775807ll - 1 + 5; /* nearly everything */
    case 6: return !tn && !(t == 0 || t == 4) && !dn && d != 7;
    default: return !tn && (t == 0 || t == 1 || t == 2 || t == 3);
    }
}
static const char *const EXPRS[] = {
    "tier in (\"gold\", \"platinum\") and days_since_purchase > 30",
    "tier == \"silver\"",
    "days_since_purchase between -5 and 1000000",
    "days_since_purchase < -1000000000000",
    "birthday >= date(\"2022-01-08\") and birthday < date(\"2023-01-08\")",
    "days_since_purchase > -9223372036854775803",
    "tier not in (\"bronze\", \"iron\") and days_since_purchase != 7",
    "tier in (\"bronze\", \"silver\", \"gold\", \"platinum\")",
};
#define NEXPR (sizeof EXPRS / sizeof EXPRS[0])

static void batch_paths(void **state)
{
    (void)state;
    eng_engine *e;
    assert_int_equal(eng_open(NULL, &e), ENG_OK);
    static const eng_rule_field fields[] = {
        {"tier", ENG_RT_STRING, 0}, {"days_since_purchase", ENG_RT_INT, 0}, {"birthday", ENG_RT_DATE, 0}};
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = 3;
    eng_rule *rules[NEXPR];
    for (size_t k = 0; k < NEXPR; k++)
        if (eng_rule_compile(e, EXPRS[k], &o, &rules[k]))
            fail_msg("compile %s: %s", EXPRS[k], eng_error_last()->message);
    static const size_t lens[] = {0, 1, 7, 63, 64, 65, 127, 129, 1000, 20001, 40000};
    const size_t maxn = 40000, words = (maxn + 63) / 64;
    cols c = {malloc(maxn * 4), malloc(maxn * 8), malloc(maxn * 4), calloc(words, 8), calloc(words, 8)};
    uint64_t *sel = malloc(words * 8), *sel0 = malloc(words * 8);
    assert_true(c.tier && c.days && c.bday && c.tier_nulls && c.days_nulls && sel && sel0);
    rng_state = 3;
    for (size_t r = 0; r < maxn; r++) {
        /* long runs of one value (all-match / none-match words) in the second half */
        int runs = r >= maxn / 2 && (r / 700) % 2;
        c.tier[r] = runs ? 2 : (uint32_t)(rnd() % NT);
        uint64_t x = rnd();
        c.days[r] = runs ? 31 : x % 4 == 0 ? (int64_t)x : (int64_t)(x % 2000) - 500;
        c.bday[r] = (int32_t)(18800 + rnd() % 800);
        if (!runs && rnd() % 50 == 0)
            c.tier_nulls[r / 64] |= 1ull << (r % 64);
        if (!runs && rnd() % 40 == 0)
            c.days_nulls[r / 64] |= 1ull << (r % 64);
    }
    eng_rule_column cc[3];
    memset(cc, 0, sizeof cc);
    cc[0] = (eng_rule_column){ENG_RT_STRING, 0, c.tier, c.tier_nulls, TIERS, NULL, NT, NULL};
    cc[1] = (eng_rule_column){ENG_RT_INT, 0, c.days, c.days_nulls, NULL, NULL, 0, NULL};
    cc[2] = (eng_rule_column){ENG_RT_DATE, 0, c.bday, NULL, NULL, NULL, 0, NULL};
    for (size_t k = 0; k < NEXPR; k++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li], nw = (n + 63) / 64;
            for (int half = 0; half < 2; half++) {
                size_t off = half ? maxn / 2 - (maxn / 2) % 64 : 0; /* the runs half starts at a word */
                if (off + n > maxn)
                    continue;
                eng_rule_column part[3];
                memcpy(part, cc, sizeof part);
                part[0].data = c.tier + off;
                part[0].nulls = c.tier_nulls + off / 64;
                part[1].data = c.days + off;
                part[1].nulls = c.days_nulls + off / 64;
                part[2].data = c.bday + off;
                eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n, part, 3, NULL};
                size_t want = 0;
                for (size_t r = 0; r < n; r++)
                    want += (size_t)ref_pred((int)k, &c, off + r);
                for (int lv = 0; lv <= levels(); lv++) {
                    assert_int_equal(eng__isa_force(lv), lv);
                    size_t count = (size_t)-1;
                    if (eng_rule_eval_batch(rules[k], &b, NULL, sel, &count))
                        fail_msg("eval %s: %s", EXPRS[k], eng_error_last()->message);
                    if (count != want)
                        fail_msg("%s, level %s, %zu rows at %zu: %zu selected, reference %zu", EXPRS[k],
                                 eng__isa_name(lv), n, off, count, want);
                    for (size_t r = 0; r < n; r++)
                        if ((int)(sel[r / 64] >> (r % 64) & 1) != ref_pred((int)k, &c, off + r))
                            fail_msg("%s, level %s: row %zu differs", EXPRS[k], eng__isa_name(lv), off + r);
                    if (lv == 0)
                        memcpy(sel0, sel, nw * 8);
                    else
                        assert_memory_equal(sel, sel0, nw * 8);
                }
            }
        }
    }
    /* a code past the dictionary is an error on every level */
    uint32_t saved = c.tier[100];
    c.tier[100] = NT;
    eng_rule_batch bad = {ENG_RULE_BATCH_VERSION, 1000, cc, 3, NULL};
    for (int lv = 0; lv <= levels(); lv++) {
        eng__isa_force(lv);
        size_t count;
        assert_int_equal(eng_rule_eval_batch(rules[1], &bad, NULL, sel, &count), ENG_ERANGE);
    }
    c.tier[100] = saved;
    eng__isa_force(-1);
    for (size_t k = 0; k < NEXPR; k++)
        eng_rule_free(rules[k]);
    free(c.tier);
    free(c.days);
    free(c.bday);
    free(c.tier_nulls);
    free(c.days_nulls);
    free(sel);
    free(sel0);
    eng_close(e);
}

/* Bitmaps of every density made into id sets (chunks at most 4096 ids
 * become arrays, filled with popcnt/tzcnt at the AVX2 level): the ids a bit
 * loop reads, at every level. */
static void words_to_ids(void **state)
{
    (void)state;
    enum { NW = 4 * 1024 };
    uint64_t *w = malloc(NW * sizeof *w);
    uint32_t *want = malloc(NW * 64 * sizeof *want), *got = malloc(NW * 64 * sizeof *got);
    assert_true(w && want && got);
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    static const int dens[] = {0, 1, 3, 7, 20, 64, 200, 1000};
    rng_state = 41;
    for (size_t di = 0; di < sizeof dens / sizeof dens[0]; di++) {
        for (size_t i = 0; i < NW; i++) { /* chunk c: density dens[(di + c) % 8] / 1000, some full words */
            int d = dens[(di + i / 1024) % (sizeof dens / sizeof dens[0])];
            uint64_t x = 0;
            for (int b = 0; b < 64; b++)
                x |= (uint64_t)((int)(rnd() % 1000) < d) << b;
            w[i] = i % 97 == 5 ? ~(uint64_t)0 : x;
        }
        size_t n = 0;
        for (size_t i = 0; i < NW * 64; i++)
            if (w[i / 64] >> (i % 64) & 1)
                want[n++] = (uint32_t)i;
        for (int lv = 0; lv <= levels(); lv++) {
            assert_int_equal(eng__isa_force(lv), lv);
            eng__idset s;
            eng__idset_init(&s, &mem);
            assert_int_equal(eng__idset_from_words(&s, w, NW), ENG_OK);
            assert_int_equal(eng__idset_count(&s), n);
            assert_int_equal(eng__idset_to_array(&s, got), n);
            assert_memory_equal(got, want, n * sizeof *got);
            eng__idset_free(&s);
        }
    }
    eng__isa_force(-1);
    free(w);
    free(want);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_ops),
        cmocka_unit_test(words_to_ids),
        cmocka_unit_test(split_paths),
        cmocka_unit_test(batch_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
