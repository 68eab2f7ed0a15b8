/* STRING columns with 1-, 2- and 4-byte dictionary codes and INT columns of
 * int32 or int64 values (eng__rule_eval_batch_cw): at every vector level the
 * CPU offers and every width, each expression selects exactly the rows a
 * plain predicate written here selects, and the same bits as 4-byte codes
 * and int64 values at the scalar level; so do chained selections of every
 * density (rows gathered one by one, or chunks read whole).
 * Dictionaries smaller and larger than a width can hold (true codes past the
 * width never match by truncation), lengths off the vector width, nulls,
 * runs of one value, codes past the dictionary (ERANGE) and bad widths
 * (EINVAL naming the column, no row selected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/simd.h"
#include "rules/rules_impl.h"
#include "engage.h"
#include "rules_test_util.h"
#include "test_util.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}

static const char *const TIERS[] = {"bronze", "silver", "gold", "platinum", "iron"};
#define NT 5
#define MAXN 40000

typedef struct data {
    uint32_t city[MAXN], tier[MAXN];
    int64_t days[MAXN];
    int32_t days32[MAXN];
    uint64_t city_nulls[MAXN / 64 + 1];
} data;

static int isnull(const uint64_t *nb, size_t r) { return (int)(nb[r / 64] >> (r % 64) & 1); }

/* "c<code>" starts with "c1" */
static int starts_c1(uint32_t code)
{
    char buf[16];
    snprintf(buf, sizeof buf, "c%u", code);
    return buf[1] == '1';
}

static int ref_pred(int which, const data *d, size_t r, uint32_t dsize)
{
    int cn = isnull(d->city_nulls, r);
    uint32_t c = d->city[r], t = d->tier[r];
    int64_t x = d->days[r];
    switch (which) {
    case 0: return (t == 2 || t == 3) && x > 30 && !cn && c == 8;
    case 1: return !cn && c == 255;
    case 2: return !cn && (c == 1 || (c == 299 && dsize > 299) || (c == 65535 && dsize > 65535));
    case 3: return !cn && !(c >= 1 && c <= 5);
    case 4: return cn || t == 1;
    case 5: return !cn && starts_c1(c);
    default: return !cn && c != 0 && x >= -5 && x <= 100;
    }
}
static const char *const EXPRS[] = {
    "tier in (\"gold\", \"platinum\") and days_since_purchase > 30 and city == \"c8\"",
    "city == \"c255\"",
    "city in (\"c1\", \"c299\", \"c65535\", \"c69999\")",
    "not (city in (\"c1\", \"c2\", \"c3\", \"c4\", \"c5\"))",
    "city is null or tier == \"silver\"",
    "city starts with \"c1\"",
    "city != \"c0\" and days_since_purchase between -5 and 100",
};
#define NEXPR (sizeof EXPRS / sizeof EXPRS[0])

/* Copy codes into width-byte cells. */
static void *narrow(const uint32_t *src, size_t n, int width)
{
    void *out = malloc(n * (size_t)width + 1);
    for (size_t r = 0; r < n; r++) {
        if (width == 1)
            ((uint8_t *)out)[r] = (uint8_t)src[r];
        else if (width == 2)
            ((uint16_t *)out)[r] = (uint16_t)src[r];
        else
            ((uint32_t *)out)[r] = src[r];
    }
    return out;
}

static eng_rule *rules[NEXPR];
static eng_engine *eng;
static const eng_rule_field FIELDS[] = {
    {"tier", ENG_RT_STRING, 0}, {"days_since_purchase", ENG_RT_INT, 0}, {"city", ENG_RT_STRING, 0}};

static void compile_all(void)
{
    assert_int_equal(eng_open(NULL, &eng), ENG_OK);
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = FIELDS;
    o.nfields = 3;
    for (size_t k = 0; k < NEXPR; k++)
        if (eng_rule_compile(eng, EXPRS[k], &o, &rules[k]))
            fail_msg("compile %s: %s", EXPRS[k], eng_error_last()->message);
}

static void free_all(void)
{
    for (size_t k = 0; k < NEXPR; k++)
        eng_rule_free(rules[k]);
    eng_close(eng);
}

static void widths_paths(void **state)
{
    (void)state;
    compile_all();
    /* dictionary sizes, and the narrowest width each is tried at */
    static const uint32_t dsizes[] = {20, 256, 300, 70000};
    static const int minw[] = {1, 1, 1, 2};
    static const size_t lens[] = {0, 1, 7, 63, 64, 65, 127, 129, 1000, 20001, 40000};
    data *d = calloc(1, sizeof *d);
    uint64_t *sel = malloc((MAXN / 64 + 1) * 8), *sel0 = malloc((MAXN / 64 + 1) * 8);
    assert_true(d && sel && sel0);
    printf("vector levels tested: scalar..%s\n", eng__isa_name(eng__isa_detected()));
    for (size_t di = 0; di < sizeof dsizes / sizeof dsizes[0]; di++) {
        uint32_t dsize = dsizes[di], cmax = minw[di] == 1 ? 256 : 65536;
        if (cmax > dsize)
            cmax = dsize;
        char **dict = rt_make_dict(dsize);
        rng_state = 11 + di;
        memset(d->city_nulls, 0, sizeof d->city_nulls);
        for (size_t r = 0; r < MAXN; r++) {
            int runs = r >= MAXN / 2 && (r / 700) % 2; /* all-match / none-match words */
            uint64_t x = rnd();
            /* the interesting codes often: 0, 1..5, 8, 255, 299, 65535 and those sharing their low bytes */
            static const uint32_t hot[] = {0, 1, 3, 5, 8, 43, 255, 299, 65535, 1 + 256, 8 + 65536};
            uint32_t c = x % 3 == 0 ? hot[(x >> 8) % 11] : (uint32_t)((x >> 8) % cmax);
            d->city[r] = runs ? 8 : c < cmax ? c : c % cmax;
            d->tier[r] = runs ? 2 : (uint32_t)((x >> 40) % NT);
            d->days[r] = runs ? 31 : (int64_t)((x >> 20) % 400) - 50;
            if (!runs && (x >> 50) % 40 == 0)
                d->city_nulls[r / 64] |= 1ull << (r % 64);
            d->days32[r] = (int32_t)d->days[r];
        }
        for (int w = minw[di]; w <= 4; w *= 2) {
            void *city = narrow(d->city, MAXN, w), *tier = narrow(d->tier, MAXN, 1);
            /* days as int64 (width 0, or 8 said outright) or int32 */
            int iw = w == 1 ? 4 : w == 2 ? 8 : (int)(di % 2) * 4;
            uint8_t cw[3] = {1, (uint8_t)iw, (uint8_t)w};
            const char *days = iw == 4 ? (const char *)d->days32 : (const char *)d->days;
            size_t dsz = iw == 4 ? 4 : 8;
            /* every row's reference once for all lengths, offsets and levels (at each width: the bad codes
             * below clear two nulls) */
            static uint8_t ref[NEXPR][MAXN];
            for (size_t k = 0; k < NEXPR; k++)
                for (size_t r = 0; r < MAXN; r++)
                    ref[k][r] = (uint8_t)ref_pred((int)k, d, r, dsize);
            for (size_t k = 0; k < NEXPR; k++) {
                for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                    size_t n = lens[li], nw = (n + 63) / 64;
                    for (int half = 0; half < 2; half++) {
                        size_t off = half ? MAXN / 2 - (MAXN / 2) % 64 : 0;
                        if (off + n > MAXN)
                            continue;
                        eng_rule_column cc[3];
                        memset(cc, 0, sizeof cc);
                        cc[0] = (eng_rule_column){ENG_RT_STRING, 0, (uint8_t *)tier + off, NULL, TIERS, NULL, NT,
                                                  NULL};
                        cc[1] = (eng_rule_column){ENG_RT_INT, 0, days + off * dsz, NULL, NULL, NULL, 0, NULL};
                        cc[2] = (eng_rule_column){ENG_RT_STRING, 0, (char *)city + off * (size_t)w,
                                                  d->city_nulls + off / 64, (const char *const *)dict, NULL, dsize,
                                                  NULL};
                        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n, cc, 3, NULL};
                        size_t want = 0;
                        for (size_t r = 0; r < n; r++)
                            want += ref[k][off + r];
                        /* the 4-byte reference: the public call, scalar */
                        eng_rule_column c4[3];
                        memcpy(c4, cc, sizeof c4);
                        c4[0].data = d->tier + off;
                        c4[1].data = d->days + off;
                        c4[2].data = d->city + off;
                        eng_rule_batch b4 = {ENG_RULE_BATCH_VERSION, n, c4, 3, NULL};
                        eng__isa_force(ENG__ISA_SCALAR);
                        size_t count = (size_t)-1;
                        if (eng_rule_eval_batch(rules[k], &b4, NULL, sel0, &count))
                            fail_msg("eval %s: %s", EXPRS[k], eng_error_last()->message);
                        assert_int_equal(count, want);
                        for (int lv = 0; lv <= eng__isa_detected(); lv++) {
                            assert_int_equal(eng__isa_force(lv), lv);
                            count = (size_t)-1;
                            if (eng__rule_eval_batch_cw(rules[k], &b, cw, NULL, sel, &count))
                                fail_msg("eval %s (width %d): %s", EXPRS[k], w, eng_error_last()->message);
                            if (count != want)
                                fail_msg("%s, width %d/%d, dictionary %u, level %s, %zu rows at %zu: %zu selected, "
                                         "reference %zu", EXPRS[k], w, iw, dsize, eng__isa_name(lv), n, off, count,
                                         want);
                            for (size_t r = 0; r < n; r++)
                                if ((sel[r / 64] >> (r % 64) & 1) != ref[k][off + r])
                                    fail_msg("%s, width %d, level %s: row %zu differs", EXPRS[k], w,
                                             eng__isa_name(lv), off + r);
                            assert_memory_equal(sel, sel0, nw * 8);
                        }
                    }
                }
            }
            /* a code past the dictionary, in a dense word and in a sparse one, is ERANGE at every level */
            if (w == 4 || dsize < ((uint32_t)1 << (8 * w))) {
                for (int sparse = 0; sparse < 2; sparse++) {
                    void *bad = narrow(d->city, MAXN, w);
                    size_t row = 1000 + 64 * (size_t)sparse + 3;
                    if (w == 1)
                        ((uint8_t *)bad)[row] = (uint8_t)dsize;
                    else if (w == 2)
                        ((uint16_t *)bad)[row] = (uint16_t)dsize;
                    else
                        ((uint32_t *)bad)[row] = dsize;
                    d->city_nulls[row / 64] &= ~(1ull << (row % 64));
                    uint64_t in[2000 / 64 + 1];
                    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
                        in[i] = sparse && i == row / 64 ? 1ull << (row % 64) : ~0ull;
                    eng_rule_column cc[3];
                    memset(cc, 0, sizeof cc);
                    cc[0] = (eng_rule_column){ENG_RT_STRING, 0, tier, NULL, TIERS, NULL, NT, NULL};
                    cc[1] = (eng_rule_column){ENG_RT_INT, 0, d->days, NULL, NULL, NULL, 0, NULL};
                    cc[2] = (eng_rule_column){ENG_RT_STRING, 0, bad, d->city_nulls, (const char *const *)dict, NULL,
                                              dsize, NULL};
                    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 2000, cc, 3, NULL};
                    for (int lv = 0; lv <= eng__isa_detected(); lv++) {
                        eng__isa_force(lv);
                        size_t count = 7;
                        assert_int_equal(eng__rule_eval_batch_cw(rules[1], &b, cw, in, sel, &count), ENG_ERANGE);
                        assert_string_equal(eng_error_last()->detail, "city");
                        assert_int_equal(count, 0);
                    }
                    free(bad);
                }
            }
            free(city);
            free(tier);
        }
        rt_free_dict(dict, dsize);
    }
    eng__isa_force(-1);
    free(d);
    free(sel);
    free(sel0);
    free_all();
}

/* Widths other than 1, 2, 4 for a STRING column or 0, 2, 4, 8 for an INT one:
 * EINVAL naming the column, and nothing selected. */
static void bad_widths(void **state)
{
    (void)state;
    compile_all();
    uint8_t tier[100] = {0}, city[100] = {0};
    int64_t days[100] = {0};
    const char *const cities[] = {"c0"};
    eng_rule_column cc[3];
    memset(cc, 0, sizeof cc);
    cc[0] = (eng_rule_column){ENG_RT_STRING, 0, tier, NULL, TIERS, NULL, NT, NULL};
    cc[1] = (eng_rule_column){ENG_RT_INT, 0, days, NULL, NULL, NULL, 0, NULL};
    cc[2] = (eng_rule_column){ENG_RT_STRING, 0, city, NULL, cities, NULL, 1, NULL};
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, 100, cc, 3, NULL};
    static const struct {
        uint8_t w[3];
        const char *field;
    } cases[] = {
        {{1, 0, 3}, "city"}, {{0, 0, 1}, "tier"}, {{8, 0, 1}, "tier"}, {{1, 1, 1}, "days_since_purchase"},
        {{1, 6, 1}, "days_since_purchase"}, {{1, 3, 1}, "days_since_purchase"}, {{1, 16, 1}, "days_since_purchase"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t sel[2] = {~0ull, ~0ull};
        size_t count = 9;
        assert_int_equal(eng__rule_eval_batch_cw(rules[6], &b, cases[i].w, NULL, sel, &count), ENG_EINVAL);
        assert_string_equal(eng_error_last()->detail, cases[i].field);
        assert_non_null(strstr(eng_error_last()->message, cases[i].field));
        assert_int_equal(sel[0] | sel[1], 0);
        assert_int_equal(count, 0);
    }
    /* good widths: evaluated (tier is "bronze" and city is never null: no row) */
    uint64_t sel[2];
    size_t count = 9;
    const uint8_t good[3] = {1, 0, 1};
    assert_int_equal(eng__rule_eval_batch_cw(rules[4], &b, good, NULL, sel, &count), ENG_OK);
    assert_int_equal(count, 0);
    free_all();
}

/* The public call: a version-2 batch carries the widths; a version-1 caller's
 * struct ends before code_widths, so whatever follows it in memory is never
 * read; eng_rule_batch_init(x, 1) writes only version 1's bytes. */
static void public_versions(void **state)
{
    (void)state;
    compile_all();
    enum { N = 200 };
    uint8_t tier8[N], city8[N];
    uint32_t tier[N], city[N];
    int64_t days[N];
    char **dict = rt_make_dict(20);
    rng_state = 5;
    for (size_t r = 0; r < N; r++) {
        tier[r] = tier8[r] = (uint8_t)(rnd() % NT);
        city[r] = city8[r] = (uint8_t)(rnd() % 20);
        days[r] = (int64_t)(rnd() % 100);
    }
    eng_rule_column c8[3], c4[3];
    memset(c8, 0, sizeof c8);
    c8[0] = (eng_rule_column){ENG_RT_STRING, 0, tier8, NULL, TIERS, NULL, NT, NULL};
    c8[1] = (eng_rule_column){ENG_RT_INT, 0, days, NULL, NULL, NULL, 0, NULL};
    c8[2] = (eng_rule_column){ENG_RT_STRING, 0, city8, NULL, (const char *const *)dict, NULL, 20, NULL};
    memcpy(c4, c8, sizeof c4);
    c4[0].data = tier;
    c4[2].data = city;
    static const uint8_t widths[3] = {1, 0, 1}, bad[3] = {1, 0, 3};
    uint64_t want[4], got[4];
    size_t nwant = 0, ngot = 0;
    eng_rule_batch b4 = {ENG_RULE_BATCH_VERSION, N, c4, 3, NULL};
    assert_int_equal(eng_rule_eval_batch(rules[0], &b4, NULL, want, &nwant), ENG_OK);
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, N, c8, 3, widths};
    assert_int_equal(eng_rule_eval_batch(rules[0], &b, NULL, got, &ngot), ENG_OK);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, sizeof got[0] * ((N + 63) / 64));
    /* days as int32 */
    int32_t days32[N];
    for (size_t r = 0; r < N; r++)
        days32[r] = (int32_t)days[r];
    eng_rule_column c32[3];
    memcpy(c32, c8, sizeof c32);
    c32[1].data = days32;
    static const uint8_t widths32[3] = {1, 4, 1};
    eng_rule_batch b32 = {ENG_RULE_BATCH_VERSION, N, c32, 3, widths32};
    memset(got, 0xff, sizeof got);
    assert_int_equal(eng_rule_eval_batch(rules[0], &b32, NULL, got, &ngot), ENG_OK);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, sizeof got[0] * ((N + 63) / 64));
    b.code_widths = bad;
    assert_int_equal(eng_rule_eval_batch(rules[0], &b, NULL, got, &ngot), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "city");
    /* version 1 with a garbage pointer where code_widths would be: 4-byte codes, not read */
    unsigned char raw[sizeof(eng_rule_batch)];
    memset(raw, 0xa5, sizeof raw);
    assert_int_equal(eng_rule_batch_init((eng_rule_batch *)(void *)raw, 1), ENG_OK);
    for (size_t i = offsetof(eng_rule_batch, ncolumns) + sizeof(size_t); i < sizeof raw; i++)
        assert_int_equal(raw[i], 0xa5);
    eng_rule_batch v1;
    memcpy(&v1, raw, sizeof v1);
    assert_int_equal(v1.version, 1);
    v1.nrows = N;
    v1.columns = c4;
    v1.ncolumns = 3;
    assert_int_equal(eng_rule_eval_batch(rules[0], &v1, NULL, got, &ngot), ENG_OK);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, sizeof got[0] * ((N + 63) / 64));
    v1.version = ENG_RULE_BATCH_VERSION + 1;
    assert_int_equal(eng_rule_eval_batch(rules[0], &v1, NULL, got, &ngot), ENG_EVERSION);
    rt_free_dict(dict, 20);
    free_all();
}

/* Chained selections (in_sel) of every density, chunk by chunk: nearly empty
 * (rows gathered one by one), a few rows a word (most words live: a 4-byte
 * column is read whole), half the rows, all rows, and a last partial word;
 * every code and value width at every level against the plain predicate. */
static void chained_densities(void **state)
{
    (void)state;
    compile_all();
    enum { CH = 16384, N = 5 * CH + 77 };
    static const double dens[] = {0.0005, 0.03, 0.5, 1.0, 0.03, 0.2};
    data *d = calloc(1, sizeof *d);
    uint32_t *city = malloc(N * sizeof *city), *tier = malloc(N * sizeof *tier);
    int64_t *days = malloc(N * sizeof *days);
    int32_t *days32 = malloc(N * sizeof *days32);
    uint64_t *nulls = calloc(N / 64 + 1, 8), *in = calloc(N / 64 + 1, 8), *sel = malloc((N / 64 + 1) * 8);
    uint64_t *sel0 = malloc((N / 64 + 1) * 8);
    assert_true(d && city && tier && days && days32 && nulls && in && sel && sel0);
    char **dict = rt_make_dict(20);
    rng_state = 77;
    for (size_t r = 0; r < N; r++) {
        uint64_t x = rnd();
        city[r] = (uint32_t)(x % 20);
        tier[r] = (uint32_t)((x >> 8) % NT);
        days[r] = (int64_t)((x >> 16) % 400) - 50;
        days32[r] = (int32_t)days[r];
        if ((x >> 40) % 50 == 0)
            nulls[r / 64] |= 1ull << (r % 64);
        if ((double)((x >> 44) % 100000) < dens[r / CH] * 100000.0)
            in[r / 64] |= 1ull << (r % 64);
    }
    static const size_t ks[] = {0, 6, 3};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        size_t k = ks[ki], want = 0;
        uint64_t ref[N / 64 + 1];
        memset(ref, 0, sizeof ref);
        for (size_t r = 0; r < N; r++) {
            /* ref_pred reads one row of a data; copy it there */
            d->city[0] = city[r];
            d->tier[0] = tier[r];
            d->days[0] = days[r];
            d->city_nulls[0] = nulls[r / 64] >> (r % 64) & 1;
            int v = (int)(in[r / 64] >> (r % 64) & 1) && ref_pred((int)k, d, 0, 20);
            ref[r / 64] |= (uint64_t)v << (r % 64);
            want += (size_t)v;
        }
        for (int w = 1; w <= 4; w *= 2) {
            void *cn = narrow(city, N, w), *tn = narrow(tier, N, w);
            for (int iw = 4; iw <= 8; iw += 4) {
                eng_rule_column cc[3];
                memset(cc, 0, sizeof cc);
                cc[0] = (eng_rule_column){ENG_RT_STRING, 0, tn, NULL, TIERS, NULL, NT, NULL};
                cc[1] = (eng_rule_column){ENG_RT_INT, 0, iw == 4 ? (const void *)days32 : (const void *)days, NULL,
                                          NULL, NULL, 0, NULL};
                cc[2] = (eng_rule_column){ENG_RT_STRING, 0, cn, nulls, (const char *const *)dict, NULL, 20, NULL};
                eng_rule_batch b = {ENG_RULE_BATCH_VERSION, N, cc, 3, NULL};
                uint8_t cw[3] = {(uint8_t)w, (uint8_t)iw, (uint8_t)w};
                for (int lv = 0; lv <= eng__isa_detected(); lv++) {
                    assert_int_equal(eng__isa_force(lv), lv);
                    size_t count = (size_t)-1;
                    if (eng__rule_eval_batch_cw(rules[k], &b, cw, in, sel, &count))
                        fail_msg("eval %s: %s", EXPRS[k], eng_error_last()->message);
                    if (count != want)
                        fail_msg("%s, widths %d/%d, level %s: %zu selected, reference %zu", EXPRS[k], w, iw,
                                 eng__isa_name(lv), count, want);
                    for (size_t r = 0; r < N; r++)
                        if ((sel[r / 64] ^ ref[r / 64]) >> (r % 64) & 1)
                            fail_msg("%s, widths %d/%d, level %s: row %zu differs", EXPRS[k], w, iw,
                                     eng__isa_name(lv), r);
                    if (lv == 0 && w == 1 && iw == 4)
                        memcpy(sel0, sel, (N / 64 + 1) * 8);
                    else if (w > 1 || iw > 4 || lv > 0)
                        assert_memory_equal(sel, sel0, ((N + 63) / 64) * 8);
                }
            }
            free(cn);
            free(tn);
        }
    }
    eng__isa_force(-1);
    rt_free_dict(dict, 20);
    free(d);
    free(city);
    free(tier);
    free(days);
    free(days32);
    free(nulls);
    free(in);
    free(sel);
    free(sel0);
    free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(widths_paths),
        cmocka_unit_test(chained_densities),
        cmocka_unit_test(bad_widths),
        cmocka_unit_test(public_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
