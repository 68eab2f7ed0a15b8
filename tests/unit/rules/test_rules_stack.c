/* Nesting costs no stack: the deepest rule every nesting form allows at the
 * largest max_depth (1000) compiles, prints as canonical text, serialises,
 * loads back and is saved and loaded, and evaluates (row evaluator, column
 * batch; a filter group resolved through the audience), all on a thread
 * created with a 128 KiB stack (musl's default) -- in the normal and the
 * sanitizer builds. One level more is ENG_ETOOBIG. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"
#include "test_store.h"
#include "test_util.h"

#define MAXD 1000
#define STACK (128 * 1024)
#define NR 200 /* rows evaluated: three words, the last one partial */

typedef struct job {
    eng_engine *e;
    const char *text;
    unsigned depth;
    int rc_compile, rc_text, rc_ser, rc_deser, rc_save, rc_load, rc_recompile;
    int same_text;
    int rc_row, rc_batch, rc_batch2;
    int res[NR];     /* row evaluator: ENG_RULE_TRUE / FALSE / NULL per row */
    uint64_t sel[(NR + 63) / 64], sel2[(NR + 63) / 64]; /* batch: all rows; a sparse input selection */
    char msg[256]; /* the thread's eng_error_last() */
} job;

/* ---- one table of NR rows, as batch columns and as a row accessor ---- */
static const char *const dict[] = {"a", "b", "x", "pune", "PUNE", "Pune x"};
#define NDICT 6
static uint32_t c_tier[NR], c_city[NR], c_off[NR + 1], c_items[NR * 3];
static int64_t c_days[NR], c_amount[NR], c_seen[NR];
static uint8_t c_vip[NR];
static int32_t c_bday[NR];
static uint64_t c_nulls[RT_NFIELDS][(NR + 63) / 64];
static const char *item_ptr[NR * 3];
static eng_rule_column cols[RT_NFIELDS];
static eng_rule_batch batch;

static void make_table(void)
{
    uint64_t x = 0x5eed;
    uint32_t ni = 0;
    memset(c_nulls, 0, sizeof c_nulls);
    for (unsigned r = 0; r < NR; r++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t h = (uint32_t)(x >> 33);
        c_tier[r] = h % NDICT;
        c_city[r] = (h >> 3) % NDICT;
        c_days[r] = (h >> 6) % 5;
        c_amount[r] = (int64_t)((h >> 9) % 1000);
        c_vip[r] = (uint8_t)((h >> 12) & 1);
        c_bday[r] = 20000 + (int32_t)((h >> 13) % 40000);
        c_seen[r] = (int64_t)((h >> 14) % 1000) * 86400000;
        c_off[r] = ni;
        for (uint32_t k = 0; k < (h >> 20) % 4; k++)
            c_items[ni++] = (h >> (22 + 2 * k)) % NDICT;
        for (unsigned f = 0; f < RT_NFIELDS; f++) /* about one row in eight is null, per field */
            if (((h >> (f + 3)) ^ (h >> 25)) % 8 == 0)
                c_nulls[f][r / 64] |= 1ull << (r % 64);
    }
    c_off[NR] = ni;
    for (uint32_t k = 0; k < ni; k++)
        item_ptr[k] = dict[c_items[k]];
    const void *data[RT_NFIELDS] = {c_tier, c_city, c_days, c_amount, c_vip, c_bday, c_seen, c_off};
    for (unsigned f = 0; f < RT_NFIELDS; f++) {
        memset(&cols[f], 0, sizeof cols[f]);
        cols[f].type = rt_fields[f].type;
        cols[f].scale = rt_fields[f].scale;
        cols[f].data = data[f];
        cols[f].nulls = c_nulls[f];
        if (cols[f].type == ENG_RT_STRING || cols[f].type == ENG_RT_STRING_LIST) {
            cols[f].dict = dict;
            cols[f].dict_size = NDICT;
        }
    }
    cols[7].list_codes = c_items;
    batch = (eng_rule_batch){ENG_RULE_BATCH_VERSION, NR, cols, RT_NFIELDS, NULL};
}

static int table_get(uint32_t f, eng_rule_value *out, void *user)
{
    unsigned r = *(const unsigned *)user;
    memset(out, 0, sizeof *out);
    if (c_nulls[f][r / 64] >> (r % 64) & 1)
        return ENG_OK; /* null */
    switch (f) {
    case 0: *out = rt_str(dict[c_tier[r]]); break;
    case 1: *out = rt_str(dict[c_city[r]]); break;
    case 2: *out = rt_int(ENG_RT_INT, c_days[r], 0); break;
    case 3: *out = rt_int(ENG_RT_DECIMAL, c_amount[r], 2); break;
    case 4: *out = rt_int(ENG_RT_BOOL, c_vip[r], 0); break;
    case 5: *out = rt_int(ENG_RT_DATE, c_bday[r], 0); break;
    case 6: *out = rt_int(ENG_RT_TIMESTAMP, c_seen[r], 0); break;
    default:
        out->type = ENG_RT_STRING_LIST;
        out->v.list.items = item_ptr + c_off[r];
        out->v.list.count = c_off[r + 1] - c_off[r];
        break;
    }
    return ENG_OK;
}

/* Evaluate r on every row (row evaluator) and as a batch, twice: over all
 * rows and over every third row. */
static void evaluate(job *j, const eng_rule *r)
{
    j->rc_row = ENG_OK;
    for (unsigned row = 0; row < NR && !j->rc_row; row++)
        j->rc_row = eng_rule_eval_row(r, table_get, &row, &j->res[row]);
    size_t n;
    j->rc_batch = eng_rule_eval_batch(r, &batch, NULL, j->sel, &n);
    uint64_t in[(NR + 63) / 64] = {0};
    for (unsigned row = 0; row < NR; row += 3)
        in[row / 64] |= 1ull << (row % 64);
    j->rc_batch2 = eng_rule_eval_batch(r, &batch, in, j->sel2, &n);
}

static char *canon(const eng_rule *r)
{
    size_t need = 0;
    if (eng_rule_text(r, NULL, 0, &need) != ENG_ERANGE)
        return NULL;
    char *s = malloc(need);
    if (s && eng_rule_text(r, s, need, NULL) != ENG_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static void *run_job(void *arg)
{
    job *j = arg;
    eng_rule_options o = rt_opts();
    o.max_depth = j->depth;
    o.max_nodes = 1000000;
    eng_rule *r = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;
    j->rc_compile = eng_rule_compile(j->e, j->text, &o, &r);
    snprintf(j->msg, sizeof j->msg, "%s", eng_error_last()->message);
    if (j->rc_compile)
        return NULL;
    evaluate(j, r);
    if (j->rc_row || j->rc_batch || j->rc_batch2)
        snprintf(j->msg, sizeof j->msg, "%s", eng_error_last()->message);
    char *t1 = canon(r);
    j->rc_text = t1 ? ENG_OK : ENG_ERROR;
    void *blob = NULL;
    size_t len = 0;
    j->rc_ser = eng_rule_serialize(r, &blob, &len);
    if (!j->rc_ser)
        j->rc_deser = eng_rule_deserialize(j->e, blob, len, &o, &r2);
    /* a loaded rule evaluates the same (checked by the caller through sel) */
    if (r2 && !j->rc_batch) {
        uint64_t again[(NR + 63) / 64];
        size_t n;
        if (eng_rule_eval_batch(r2, &batch, NULL, again, &n) || memcmp(again, j->sel, sizeof again))
            j->rc_batch = ENG_ERROR;
    }
    j->rc_save = eng_rule_save(r, "deep");
    if (!j->rc_save)
        j->rc_load = eng_rule_load(j->e, "deep", &o, &r3);
    if (t1)
        j->rc_recompile = eng_rule_compile(j->e, t1, &o, &r4);
    char *t2 = r2 ? canon(r2) : NULL, *t3 = r3 ? canon(r3) : NULL, *t4 = r4 ? canon(r4) : NULL;
    j->same_text = t1 && t2 && t3 && t4 && !strcmp(t1, t2) && !strcmp(t1, t3) && !strcmp(t1, t4);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    eng_free(j->e, blob);
    eng_rule_free(r);
    eng_rule_free(r2);
    eng_rule_free(r3);
    eng_rule_free(r4);
    return NULL;
}

static void on_small_stack(job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, STACK), 0);
    assert_int_equal(pthread_create(&th, &attr, run_job, j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
}

/* open^n core close^n */
static char *nest(const char *open, const char *core, const char *close, unsigned n)
{
    size_t lo = strlen(open), lc = strlen(close), lcore = strlen(core);
    char *s = malloc(n * (lo + lc) + lcore + 1), *p = s;
    for (unsigned i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, core, lcore);
    p += lcore;
    for (unsigned i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = 0;
    return s;
}

static char *wrap(const char *pre, char *mid, const char *post)
{
    char *s = malloc(strlen(pre) + strlen(mid) + strlen(post) + 1);
    sprintf(s, "%s%s%s", pre, mid, post);
    free(mid);
    return s;
}

static char *wrap8(char *mid)
{
    char *pre = nest("any(i in items, ", "", "", 8), *s = wrap(pre, mid, "))))))))");
    free(pre);
    return s;
}

/* The deepest text of one form: n levels of nesting (n = MAXD accepted). */
static char *form(int k, unsigned n)
{
    switch (k) {
    case 0: return nest("(", "vip", ")", n);                                   /* parentheses */
    case 1: return nest("not ", "vip", "", n);                                 /* not */
    case 2: return wrap("", nest("lower(", "city", ")", n), " == \"pune\"");   /* calls */
    case 3: return wrap("tier in (\"a\", ", nest("(", "upper(\"b\")", ")", n - 1), ")"); /* in items */
    case 4: return nest("vip == (", "vip", ")", n);                            /* comparison chains */
    case 5: return wrap("any(i in items, ", nest("(", "i == tier", ")", n - 1), ")");    /* any() */
    case 6: return nest("vip and (tier == \"x\" or (", "vip", "))", n / 2);     /* and/or */
    case 7: return nest("not (city not contains \"x\" and ", "vip", ")", n / 2); /* not contains */
    case 8: /* any() in any(), each with a deep condition */
        return wrap8(nest("(", "i == tier", ")", n - 8));
    case 9: return nest("(", "birthday < today()", ")", n - 1); /* now-dependent constants */
    /* forms reading several columns: the batch evaluator's and/or/not and its
     * row-by-row path run as deep as the rule */
    case 10: return nest("not (days_since_purchase > 1 and ", "vip", ")", n / 2);
    case 11: return nest("vip == (", "days_since_purchase > 1", ")", n);
    case 12: return wrap("", nest("lower(", "city", ")", n), " == tier");
    default: return wrap("count(i in items, ", nest("(", "i == tier or amount > 5", ")", n - 1), ") > 1");
    }
}
#define NFORMS 14

/* Row and batch agree, for every row, on both selections. */
static void check_eval(int k, const job *j)
{
    if (j->rc_row || j->rc_batch || j->rc_batch2)
        fail_msg("form %d: row %d batch %d sparse batch %d (%s)", k, j->rc_row, j->rc_batch, j->rc_batch2, j->msg);
    for (unsigned row = 0; row < NR; row++) {
        int in = (j->sel[row / 64] >> (row % 64)) & 1, in2 = (j->sel2[row / 64] >> (row % 64)) & 1;
        if (in != (j->res[row] == ENG_RULE_TRUE) || in2 != (row % 3 == 0 && in))
            fail_msg("form %d row %u: row evaluator %d, batch %d, sparse batch %d", k, row, j->res[row], in, in2);
        /* (vip) and not^1000 vip are vip itself */
        if ((k == 0 || k == 1) &&
            j->res[row] != ((c_nulls[4][row / 64] >> (row % 64) & 1) ? ENG_RULE_NULL : c_vip[row] ? ENG_RULE_TRUE
                                                                                                : ENG_RULE_FALSE))
            fail_msg("form %d row %u: %d is not vip", k, row, j->res[row]);
    }
}

static void deepest_rules_on_small_stack(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    make_table();
    static job j, too; /* too large for the test's own stack frame under ASan */
    for (int k = 0; k < NFORMS; k++) {
        char *text = form(k, MAXD);
        memset(&j, 0, sizeof j);
        j.e = e;
        j.text = text;
        j.depth = MAXD;
        on_small_stack(&j);
        if (j.rc_compile || j.rc_text || j.rc_ser || j.rc_deser || j.rc_save || j.rc_load || j.rc_recompile ||
            !j.same_text)
            fail_msg("form %d: compile %d text %d serialize %d deserialize %d save %d load %d recompile %d same %d (%s)",
                     k, j.rc_compile, j.rc_text, j.rc_ser, j.rc_deser, j.rc_save, j.rc_load, j.rc_recompile,
                     j.same_text, j.msg);
        check_eval(k, &j);
        free(text);
        /* one level deeper is refused, not a crash */
        text = form(k, MAXD + (k == 6 || k == 7 || k == 10 ? 2 : 1));
        memset(&too, 0, sizeof too);
        too.e = e;
        too.text = text;
        too.depth = MAXD;
        on_small_stack(&too);
        if (too.rc_compile != ENG_ETOOBIG)
            fail_msg("form %d one level deeper: %d, want ENG_ETOOBIG", k, too.rc_compile);
        free(text);
    }
    eng_close(e);
    test_alloc_assert_clean();
}

/* ---- filter groups: the audience compiles with the default max_depth (64) ---- */
#define FD 64
#define FN 300
#define NGROUPS 6

typedef struct gjob {
    eng_engine *e;
    uint32_t gids[NGROUPS];
    int rc[NGROUPS], rc_resolve, rc_ids;
    uint64_t count[NGROUPS];
    size_t nids;
    char msg[256];
} gjob;

static void *run_groups(void *arg)
{
    gjob *g = arg;
    for (int k = 0; k < NGROUPS; k++)
        if ((g->rc[k] = eng_group_count(g->e, TA, g->gids[k], &g->count[k])))
            snprintf(g->msg, sizeof g->msg, "%s", eng_error_last()->message);
    char name[16];
    snprintf(name, sizeof name, "%u", g->gids[NGROUPS - 1]);
    const char *inc[] = {name};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 1;
    eng_audience *a = NULL;
    g->rc_resolve = eng_audience_resolve(g->e, TA, &q, &a);
    static uint32_t ids[FN];
    g->rc_ids = a ? eng_audience_ids(a, ENG_PART_ALL, 0, ids, FN, &g->nids) : -1;
    eng_audience_free(a);
    return NULL;
}

/* The deepest filter of each nesting form, counted and resolved on a 128 KiB
 * thread; each selects what its one-level equivalent selects. */
static void deepest_filter_groups_on_small_stack(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_non_null(e);
    assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "days", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "vip", ENG_COL_BOOL), ENG_OK);
    static char csv[FN * 40 + 64];
    char *p = csv;
    p += sprintf(p, "id,city,days,vip\n");
    int want_vip = 0, want_pune = 0, want_mixed = 0;
    for (int i = 0; i < FN; i++) {
        int city = i % 3, days = i % 5, vip = (i / 3) % 2, null_vip = i % 7 == 0;
        p += sprintf(p, "c%d,%s,%d,%s\n", i, city == 0 ? "Pune" : city == 1 ? "PUNE" : "Goa", days,
                     null_vip ? "" : vip ? "true" : "false");
        want_vip += !null_vip && vip;
        want_pune += city != 2;
        want_mixed += !null_vip && vip && days > 1;
    }
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL), ENG_OK);
    char *text[NGROUPS] = {
        nest("(", "vip", ")", FD),                                        /* parentheses */
        nest("not ", "vip", "", FD),                                      /* not (an even number) */
        wrap("", nest("lower(", "city", ")", FD), " == \"pune\""),        /* calls */
        nest("vip == (", "vip", ")", FD),                                 /* comparison chains */
        wrap("city in (\"x\", ", nest("(", "upper(\"pune\")", ")", FD - 1), ")"), /* in items */
        nest("not (not days > 1 or not ", "vip", ")", FD / 3),            /* and/or/not over two columns */
    };
    gjob g;
    memset(&g, 0, sizeof g);
    g.e = e;
    for (int k = 0; k < NGROUPS; k++) {
        char name[16];
        snprintf(name, sizeof name, "deep%d", k);
        int rc = eng_group_create_filter(e, TA, name, text[k], &g.gids[k]);
        if (rc)
            fail_msg("filter %d: %d %s (%s)", k, rc, eng_error_last()->message, eng_error_last()->detail);
        free(text[k]);
    }
    pthread_attr_t attr;
    pthread_t th;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, STACK), 0);
    assert_int_equal(pthread_create(&th, &attr, run_groups, &g), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    for (int k = 0; k < NGROUPS; k++)
        if (g.rc[k])
            fail_msg("filter %d: count %d (%s)", k, g.rc[k], g.msg);
    assert_int_equal(g.count[0], want_vip);
    assert_int_equal(g.count[1], want_vip);
    assert_int_equal(g.count[2], want_pune);
    assert_int_equal(g.count[4], FN / 3);
    assert_int_equal(g.count[5], want_mixed);
    assert_int_equal(g.rc_resolve, ENG_OK);
    assert_int_equal(g.rc_ids, ENG_OK);
    assert_int_equal(g.nids, want_mixed);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deepest_rules_on_small_stack),
        cmocka_unit_test(deepest_filter_groups_on_small_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
