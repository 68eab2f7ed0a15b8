/* Groups and resolved audiences against bool-array references: uploads
 * (replace/append, unknown ids), combined groups and cycles, resolve with
 * exclusion, reachability and the test/control split, freezing. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/audience_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

#define N 6000
static uint64_t rng;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

/* The population as the test knows it. */
static uint8_t reach_email[N], reach_sms[N];

static eng_engine *populate(test_store *ts, int first, int n)
{
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    size_t cap = (size_t)n * 120 + 200;
    char *csv = malloc(cap), *p = csv;
    p += sprintf(p, "id,contact.email,consent.email,optout.email,contact.sms,consent.sms,suppressed\n");
    for (int i = first; i < first + n; i++) {
        int he = rnd() % 10 < 8, ce = rnd() % 10 < 7, oe = rnd() % 15 == 0;
        int hs = rnd() % 10 < 9, cs = rnd() % 10 < 6, sup = rnd() % 40 == 0;
        char em[40] = "", ph[24] = "";
        if (he)
            snprintf(em, sizeof em, "u%d@ex.com", i);
        if (hs)
            snprintf(ph, sizeof ph, "+9190%08d", i);
        p += sprintf(p, "cust-%d,%s,%s,%s,%s,%s,%s\n", i, em, ce ? "true" : "false", oe ? "true" : "", ph,
                     cs ? "yes" : "no", sup ? "true" : "false");
        reach_email[i] = (uint8_t)(he && ce && !oe && !sup);
        reach_sms[i] = (uint8_t)(hs && cs && !sup);
    }
    int rc = eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL);
    if (rc)
        fail_msg("populate: %s at %s", eng_error_last()->message, eng_error_last()->detail);
    free(csv);
    return e;
}

/* Upload a random subset of density d, recording it in ref. */
static uint32_t upload_random(eng_engine *e, const char *name, double d, uint8_t *ref, int n)
{
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, TA, name, &g), ENG_OK);
    const char **ids = malloc(sizeof *ids * (size_t)n);
    char (*buf)[24] = malloc(sizeof *buf * (size_t)n);
    size_t k = 0;
    memset(ref, 0, (size_t)n);
    for (int i = 0; i < n; i++)
        if ((double)(rnd() % 1000000) / 1e6 < d) {
            snprintf(buf[k], sizeof buf[k], "cust-%d", i);
            ids[k] = buf[k];
            k++;
            ref[i] = 1;
        }
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_group_upload_ids(e, TA, g, ids, k, ENG_UPLOAD_REPLACE, NULL, &rep), ENG_OK);
    assert_int_equal(rep.inserted, (uint64_t)k);
    free(ids);
    free(buf);
    return g;
}

static uint64_t count(const uint8_t *r, int n)
{
    uint64_t c = 0;
    for (int i = 0; i < n; i++)
        c += r[i];
    return c;
}

static uint64_t gsize(eng_engine *e, uint32_t g)
{
    uint64_t n = 0;
    assert_int_equal(eng_group_count(e, TA, g, &n), ENG_OK);
    return n;
}

static uint8_t A[N], B[N], C[N], X[N], W[N];

static void groups_and_combinations(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 99;
    test_store *ts = test_store_new();
    eng_engine *e = populate(ts, 0, N);
    uint32_t ga = upload_random(e, "A", 0.3, A, N), gb = upload_random(e, "B", 0.02, B, N);
    uint32_t gc = upload_random(e, "C", 0.9, C, N), gx = upload_random(e, "X", 0.1, X, N);
    assert_int_equal(gsize(e, ga), count(A, N));
    uint32_t inc[] = {ga, gb}, exc[] = {gx};
    uint32_t gu, gi, gd;
    assert_int_equal(eng_group_create_combined(e, TA, "U", ENG_COMBINE_UNION, inc, 2, exc, 1, &gu), ENG_OK);
    uint32_t inc3[] = {ga, gb, gc};
    assert_int_equal(eng_group_create_combined(e, TA, "I", ENG_COMBINE_INTERSECT, inc3, 3, NULL, 0, &gi), ENG_OK);
    uint32_t inc2[] = {gu, gc};
    assert_int_equal(eng_group_create_combined(e, TA, "D", ENG_COMBINE_INTERSECT, inc2, 2, &gb, 1, &gd), ENG_OK);
    for (int i = 0; i < N; i++)
        W[i] = (uint8_t)((A[i] | B[i]) & !X[i]);
    assert_int_equal(gsize(e, gu), count(W, N));
    for (int i = 0; i < N; i++)
        W[i] = (uint8_t)(A[i] & B[i] & C[i]);
    assert_int_equal(gsize(e, gi), count(W, N));
    for (int i = 0; i < N; i++)
        W[i] = (uint8_t)((A[i] | B[i]) & !X[i] & C[i] & !B[i]);
    assert_int_equal(gsize(e, gd), count(W, N));

    /* Cycles are refused and change nothing. */
    uint32_t self[] = {gu};
    assert_int_equal(eng_group_set_combined(e, TA, gu, ENG_COMBINE_UNION, self, 1, NULL, 0), ENG_ECYCLE);
    uint32_t via[] = {ga, gd};
    assert_int_equal(eng_group_set_combined(e, TA, gu, ENG_COMBINE_UNION, via, 2, NULL, 0), ENG_ECYCLE);
    assert_int_equal(eng_group_set_combined(e, TA, gu, ENG_COMBINE_UNION, inc, 2, &gd, 1), ENG_ECYCLE);
    for (int i = 0; i < N; i++)
        W[i] = (uint8_t)((A[i] | B[i]) & !X[i]);
    assert_int_equal(gsize(e, gu), count(W, N));
    /* A legal change. */
    assert_int_equal(eng_group_set_combined(e, TA, gu, ENG_COMBINE_UNION, inc3, 3, NULL, 0), ENG_OK);
    for (int i = 0; i < N; i++)
        W[i] = (uint8_t)(A[i] | B[i] | C[i]);
    assert_int_equal(gsize(e, gu), count(W, N));

    /* Append and replace through CSV, with unknown ids. */
    const char *csv = "name,id\nx,cust-1\ny,cust-2\nz,nobody\n";
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_group_upload_csv(e, TA, gb, csv, strlen(csv), ENG_UPLOAD_APPEND, NULL, &rep), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "4:2");
    eng_import_options o;
    eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
    o.on_error = ENG_IMPORT_SKIP_ROWS;
    o.max_bad_rows = 1;
    assert_int_equal(eng_group_upload_csv(e, TA, gb, csv, strlen(csv), ENG_UPLOAD_APPEND, &o, &rep), ENG_OK);
    assert_int_equal(rep.bad_rows, 1);
    assert_int_equal(rep.inserted, (uint64_t)(!B[1] + !B[2]));
    B[1] = B[2] = 1;
    assert_int_equal(gsize(e, gb), count(B, N));
    assert_int_equal(eng_group_upload_csv(e, TA, gb, csv, strlen(csv), ENG_UPLOAD_REPLACE, &o, &rep), ENG_OK);
    assert_int_equal(gsize(e, gb), 2);
    memset(B, 0, sizeof B);
    B[1] = B[2] = 1;
    const char *noid = "name\nx\n";
    assert_int_equal(eng_group_upload_csv(e, TA, gb, noid, strlen(noid), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_EINVAL);
    const char *badq = "id\n\"cust-1\n";
    assert_int_equal(eng_group_upload_csv(e, TA, gb, badq, strlen(badq), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_EPARSE);
    assert_int_equal(gsize(e, gb), 2);

    /* Storage failing during an upload leaves the members as they were. */
    test_store_fail(ts, TV_PUT | TV_COMMIT, 1, 1, TF_ERROR);
    assert_int_equal(eng_group_upload_csv(e, TA, gb, csv, strlen(csv), ENG_UPLOAD_REPLACE, &o, &rep), ENG_ESTORAGE);
    assert_non_null(strstr(eng_error_last()->message, "injected"));
    test_store_nofail(ts);
    assert_int_equal(gsize(e, gb), 2);
    test_store_fail(ts, TV_COMMIT, 1, 0, TF_ERROR);
    const char *one = "id\ncust-7\n";
    assert_int_equal(eng_group_upload_csv(e, TA, gb, one, strlen(one), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_ESTORAGE);
    test_store_nofail(ts);
    assert_int_equal(gsize(e, gb), 2);

    /* Deleting: refused while referenced; unknown ids. */
    assert_int_equal(eng_group_delete(e, TA, ga), ENG_ESTATE);
    assert_int_equal(eng_group_delete(e, TA, 999), ENG_ENOTFOUND);
    assert_int_equal(eng_group_delete(e, TA, gi), ENG_OK);
    assert_int_equal(eng_group_count(e, TA, gi, &(uint64_t){0}), ENG_ENOTFOUND);

    /* Filter groups compile against the columns at once (this table has none). */
    uint32_t gf;
    assert_int_equal(eng_group_create_filter(e, TA, "Pune VIPs", "city == \"Pune\" and vip", &gf), ENG_ETYPE);
    assert_int_equal(eng_group_create_filter(e, TA, "Pune VIPs", "true", &gf), ENG_OK);
    int kind;
    assert_int_equal(eng_group_kind_of(e, TA, gf, &kind), ENG_OK);
    assert_int_equal(kind, ENG_GROUP_FILTER);
    assert_int_equal(gsize(e, gf), N);

    /* Names and arguments. */
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, TA, "A", &g), ENG_EEXISTS);
    assert_int_equal(eng_group_create_uploaded(e, TA, "", &g), ENG_EINVAL);
    assert_int_equal(eng_group_create_uploaded(e, TA, NULL, &g), ENG_EINVAL);
    assert_int_equal(eng_group_create_uploaded(e, TA, "n", NULL), ENG_EINVAL);
    assert_int_equal(eng_group_create_uploaded(NULL, TA, "n", &g), ENG_EMISUSE);
    char longname[200];
    memset(longname, 'n', 199);
    longname[199] = 0;
    assert_int_equal(eng_group_create_uploaded(e, TA, longname, &g), ENG_ETOOBIG);
    assert_int_equal(eng_group_create_filter(e, TA, "f", "", &g), ENG_EINVAL);
    assert_int_equal(eng_group_create_combined(e, TA, "c", ENG_COMBINE_UNION, NULL, 0, NULL, 0, &g), ENG_EINVAL);
    assert_int_equal(eng_group_create_combined(e, TA, "c", 9, inc, 2, NULL, 0, &g), ENG_EINVAL);
    uint32_t unknown[] = {ga, 4242};
    assert_int_equal(eng_group_create_combined(e, TA, "c", ENG_COMBINE_UNION, unknown, 2, NULL, 0, &g), ENG_ENOTFOUND);
    assert_int_equal(eng_group_set_combined(e, TA, ga, ENG_COMBINE_UNION, inc, 2, NULL, 0), ENG_ESTATE);
    assert_int_equal(eng_group_upload_ids(e, TA, gu, NULL, 0, ENG_UPLOAD_APPEND, NULL, NULL), ENG_ESTATE);
    assert_int_equal(eng_group_upload_ids(e, TA, ga, NULL, 0, 7, NULL, NULL), ENG_EINVAL);
    assert_int_equal(eng_group_upload_ids(e, TA, 4242, NULL, 0, ENG_UPLOAD_APPEND, NULL, NULL), ENG_ENOTFOUND);
    assert_int_equal(eng_group_find(e, TA, "U", &g), ENG_OK);
    assert_int_equal(g, gu);
    assert_int_equal(eng_group_find(e, TA, "nope", &g), ENG_ENOTFOUND);

    /* Everything survives a reopen. */
    uint64_t su = gsize(e, gu), sd = gsize(e, gd), sa = gsize(e, ga);
    assert_int_equal(eng_close(e), ENG_OK);
    e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(gsize(e, gu), su);
    assert_int_equal(gsize(e, gd), sd);
    assert_int_equal(gsize(e, ga), sa);
    assert_int_equal(gsize(e, gb), 2);
    assert_int_equal(eng_group_find(e, TA, "Pune VIPs", &g), ENG_OK);
    assert_int_equal(g, gf);
    assert_int_equal(eng_group_set_combined(e, TA, gu, ENG_COMBINE_UNION, self, 1, NULL, 0), ENG_ECYCLE);
    uint32_t g2;
    assert_int_equal(eng_group_create_uploaded(e, TA, "new", &g2), ENG_OK);
    assert_true(g2 > gf); /* ids are never reused */
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* A query naming its groups by decimal id (the query takes group names; an id
 * given as text is accepted when no group has that name). */
typedef struct qry {
    eng_audience_query q;
    char txt[2][8][12];
    const char *name[2][8];
} qry;

static void qset(qry *o, int which, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(o->txt[which][i], sizeof o->txt[which][i], "%u", (unsigned)ids[i]);
        o->name[which][i] = o->txt[which][i];
    }
    if (which == 0) {
        o->q.include = n ? o->name[0] : NULL;
        o->q.n_include = n;
    } else {
        o->q.exclude = n ? o->name[1] : NULL;
        o->q.n_exclude = n;
    }
}

static int opts(qry *o, const uint32_t *inc, size_t ni, const uint32_t *exc, size_t ne, uint32_t ch,
                uint64_t seed, uint32_t control_percent)
{
    eng_audience_query_init(&o->q, ENG_AUDIENCE_QUERY_VERSION);
    qset(o, 0, inc, ni);
    qset(o, 1, exc, ne);
    o->q.channels = ch;
    o->q.split_seed = seed;
    o->q.control_percent = control_percent;
    return 0;
}

static void all_ids(const eng_audience *a, int part, uint32_t *out, uint64_t *n)
{
    size_t got, k = 0;
    do {
        assert_int_equal(eng_audience_ids(a, part, k, out + k, 777, &got), ENG_OK);
        k += got;
    } while (got);
    *n = k;
}

static void resolve_split_freeze(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 7;
    test_store *ts = test_store_new();
    eng_engine *e = populate(ts, 0, N / 2);
    uint32_t ga = upload_random(e, "A", 0.3, A, N / 2), gb = upload_random(e, "B", 0.5, B, N / 2);
    uint32_t gc = upload_random(e, "C", 0.05, C, N / 2), gx = upload_random(e, "X", 0.2, X, N / 2);
    uint32_t inc[] = {ga, gb, gc}, exc[] = {gx};
    qry o;
    opts(&o, inc, 3, exc, 1, 1u << ENG_CH_EMAIL | 1u << ENG_CH_SMS, 0xC0FFEE, 10);
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a), ENG_OK);
    /* Reference. */
    static uint32_t want[N], got[N], test_ids[N], ctrl_ids[N];
    uint64_t nw = 0, pre = 0, pre_email = 0, pre_sms = 0;
    for (int i = 0; i < N / 2; i++) {
        int in = (A[i] | B[i] | C[i]) && !X[i];
        pre += in;
        pre_email += in && reach_email[i];
        pre_sms += in && reach_sms[i];
        if (in && (reach_email[i] || reach_sms[i]))
            want[nw++] = (uint32_t)i;
    }
    (void)pre;
    uint64_t n, nt, nc;
    all_ids(a, ENG_PART_ALL, got, &n);
    assert_int_equal(n, nw);
    assert_memory_equal(got, want, nw * sizeof *got);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &n), ENG_OK);
    assert_int_equal(n, nw);
    uint64_t r;
    assert_int_equal(eng_audience_reach(a, ENG_CH_EMAIL, &r), ENG_OK);
    assert_int_equal(r, pre_email);
    assert_int_equal(eng_audience_reach(a, ENG_CH_SMS, &r), ENG_OK);
    assert_int_equal(r, pre_sms);
    assert_int_equal(eng_audience_reach(a, ENG_CH_PUSH, &r), ENG_OK);
    assert_int_equal(r, 0);
    /* Test and control partition the audience, at the ratio within binomial tolerance. */
    all_ids(a, ENG_PART_TEST, test_ids, &nt);
    all_ids(a, ENG_PART_CONTROL, ctrl_ids, &nc);
    assert_int_equal(nt + nc, nw);
    static uint8_t side[N];
    memset(side, 0, sizeof side);
    for (uint64_t i = 0; i < nt; i++)
        side[test_ids[i]] |= 1;
    for (uint64_t i = 0; i < nc; i++)
        side[ctrl_ids[i]] |= 2;
    for (uint64_t i = 0; i < nw; i++)
        assert_true(side[want[i]] == 1 || side[want[i]] == 2);
    double sd = sqrt((double)nw * 0.9 * 0.1);
    assert_true(fabs((double)nt - 0.9 * (double)nw) < 4 * sd);
    /* Same input, same split and hash. */
    eng_audience *a2;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    uint8_t h1[32], h2[32];
    assert_int_equal(eng_audience_hash(a, h1), ENG_OK);
    assert_int_equal(eng_audience_hash(a2, h2), ENG_OK);
    assert_memory_equal(h1, h2, 32);
    eng_audience_free(a2);
    /* Another seed: another split, same audience. */
    o.q.split_seed = 1;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    assert_int_equal(eng_audience_hash(a2, h2), ENG_OK);
    assert_memory_not_equal(h1, h2, 32);
    assert_int_equal(eng_audience_count(a2, ENG_PART_ALL, &n), ENG_OK);
    assert_int_equal(n, nw);
    eng_audience_free(a2);
    o.q.split_seed = 0xC0FFEE;
    /* Ratio extremes. */
    o.q.control_percent = 100;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    assert_int_equal(eng_audience_count(a2, ENG_PART_TEST, &n), ENG_OK);
    assert_int_equal(n, 0);
    eng_audience_free(a2);
    o.q.control_percent = 0;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    assert_int_equal(eng_audience_count(a2, ENG_PART_CONTROL, &n), ENG_OK);
    assert_int_equal(n, 0);
    eng_audience_free(a2);
    o.q.control_percent = 10;

    /* Freeze; the same content again is fine, other content is refused. */
    assert_int_equal(eng_audience_freeze(a, TA, "c/1/m/1/v1"), ENG_OK);
    assert_int_equal(eng_audience_freeze(a, TA, "c/1/m/1/v1"), ENG_OK);
    o.q.channels = 0;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    assert_int_equal(eng_audience_freeze(a2, TA, "c/1/m/1/v1"), ENG_ESTATE);
    eng_audience_free(a2);
    o.q.channels = 1u << ENG_CH_EMAIL | 1u << ENG_CH_SMS;

    /* Adding customers never moves an existing customer between test and control. */
    eng_audience_free(a);
    assert_int_equal(eng_close(e), ENG_OK);
    e = populate(ts, N / 2, N / 2);
    const char **ids = malloc(sizeof *ids * N / 2);
    char (*buf)[24] = malloc(sizeof *buf * N / 2);
    for (int i = 0; i < N / 2; i++) {
        snprintf(buf[i], sizeof buf[i], "cust-%d", N / 2 + i);
        ids[i] = buf[i];
    }
    assert_int_equal(eng_group_upload_ids(e, TA, gb, ids, N / 2, ENG_UPLOAD_APPEND, NULL, NULL), ENG_OK);
    free(ids);
    free(buf);
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    uint64_t nt2, nc2;
    static uint32_t t2[N], c2[N];
    all_ids(a2, ENG_PART_TEST, t2, &nt2);
    all_ids(a2, ENG_PART_CONTROL, c2, &nc2);
    assert_true(nt2 + nc2 > nw);
    for (uint64_t i = 0; i < nt2; i++)
        if (t2[i] < N / 2)
            assert_int_equal(side[t2[i]], 1);
    for (uint64_t i = 0; i < nc2; i++)
        if (c2[i] < N / 2)
            assert_int_equal(side[c2[i]], 2);
    eng_audience_free(a2);

    /* The frozen audience loads back verified, equal to what was frozen. */
    eng_audience *f;
    assert_int_equal(eng_audience_load_frozen(e, TA, "c/1/m/1/v1", &f), ENG_OK);
    assert_int_equal(eng_audience_hash(f, h2), ENG_OK);
    assert_memory_equal(h1, h2, 32);
    all_ids(f, ENG_PART_TEST, got, &n);
    assert_int_equal(n, nt);
    assert_memory_equal(got, test_ids, nt * sizeof *got);
    assert_int_equal(eng_audience_reach(f, ENG_CH_EMAIL, &r), ENG_ESTATE);
    eng_audience_free(f);
    assert_int_equal(eng_audience_load_frozen(e, TA, "c/none", &f), ENG_ENOTFOUND);
    uint8_t *v;
    size_t len;
    assert_int_equal(test_store_raw_get(ts, "a/o/" TEST_ORG "/f/c/1/m/1/v1", &v, &len), 0);
    v[len / 2] ^= 0x10;
    assert_int_equal(test_store_raw_put(ts, "a/o/" TEST_ORG "/f/c/1/m/1/v1", v, len), 0);
    free(v);
    assert_int_equal(eng_audience_load_frozen(e, TA, "c/1/m/1/v1", &f), ENG_ECORRUPT);

    /* Argument errors. */
    assert_int_equal(eng_audience_resolve(e, TA, NULL, &a2), ENG_EINVAL);
    assert_int_equal(eng_audience_resolve(NULL, TA, &o.q, &a2), ENG_EMISUSE);
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, NULL), ENG_EINVAL);
    qry bad = o;
    bad.q.version = 9;
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_EVERSION);
    bad = o;
    bad.q.n_include = 0;
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_EINVAL);
    bad = o;
    bad.q.control_percent = 101;
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_ERANGE);
    bad = o;
    bad.q.channels = 1u << 20;
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_EINVAL);
    uint32_t unknown[] = {ga, 777};
    bad = o;
    qset(&bad, 0, unknown, 2);
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_ENOTFOUND);
    bad = o;
    bad.q.exclude = NULL;
    assert_int_equal(eng_audience_resolve(e, TA, &bad.q, &a2), ENG_EINVAL);
    assert_int_equal(eng_audience_query_init(NULL, ENG_AUDIENCE_QUERY_VERSION), ENG_EINVAL);
    assert_int_equal(eng_audience_query_init(&bad.q, 0), ENG_EVERSION);
    assert_int_equal(eng_audience_count(NULL, ENG_PART_ALL, &n), ENG_EMISUSE);
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a2), ENG_OK);
    assert_int_equal(eng_audience_count(a2, 5, &n), ENG_EINVAL);
    assert_int_equal(eng_audience_count(a2, ENG_PART_ALL, NULL), ENG_EINVAL);
    assert_int_equal(eng_audience_reach(a2, ENG_CH_COUNT, &n), ENG_EINVAL);
    assert_int_equal(eng_audience_ids(a2, ENG_PART_ALL, 0, NULL, 5, &len), ENG_EINVAL);
    assert_int_equal(eng_audience_hash(a2, NULL), ENG_EINVAL);
    assert_int_equal(eng_audience_freeze(a2, TA, ""), ENG_EINVAL);
    assert_int_equal(eng_audience_freeze(a2, TA, NULL), ENG_EINVAL);
    assert_int_equal(eng_audience_freeze(NULL, TA, "k"), ENG_EMISUSE);
    assert_int_equal(eng_audience_load_frozen(e, TA, "k", NULL), ENG_EINVAL);
    eng_audience_free(NULL);
    /* The audience keeps its engine alive past eng_close. */
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(eng_audience_count(a2, ENG_PART_TEST, &n), ENG_OK);
    assert_int_equal(eng_audience_freeze(a2, TA, "late"), ENG_EMISUSE);
    eng_audience_free(a2);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* Every stored audience record, damaged, gives ECORRUPT naming its key. */
static void corrupt_records_are_reported(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 17;
    test_store *ts = test_store_new();
    eng_engine *e = populate(ts, 0, 200);
    assert_int_equal(eng_customers_add_column(e, TA, "tier", ENG_COL_STRING), ENG_OK);
    uint32_t ga = upload_random(e, "A", 0.5, A, 200), gu;
    assert_int_equal(eng_group_create_combined(e, TA, "U", ENG_COMBINE_UNION, &ga, 1, NULL, 0, &gu), ENG_OK);
    assert_int_equal(eng_close(e), ENG_OK);
    char ka[32], km[32], kg[32];
    snprintf(ka, sizeof ka, "a/o/" TEST_ORG "/g/%08x", ga);
    snprintf(km, sizeof km, "a/o/" TEST_ORG "/m/%08x", ga);
    snprintf(kg, sizeof kg, "a/o/" TEST_ORG "/g/%08x", gu);
    const char *keys[] = {"a/o/" TEST_ORG "/s", ka, km, kg, "a/o/" TEST_ORG "/t/0000000000000000/00000000"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        uint8_t *v;
        size_t len;
        assert_int_equal(test_store_raw_get(ts, keys[k], &v, &len), 0);
        for (size_t at = 0; at < len; at += 1 + len / 7) {
            v[at] ^= 0x41;
            assert_int_equal(test_store_raw_put(ts, keys[k], v, len), 0);
            e = test_engine_open_org(test_store_handle(ts));
            uint64_t n;
            int rc = eng_customers_count(e, TA, &n);
            if (rc != ENG_ECORRUPT)
                fail_msg("%s byte %zu: %d", keys[k], at, rc);
            assert_string_equal(eng_error_last()->detail, keys[k]);
            assert_int_equal(eng_close(e), ENG_OK);
            v[at] ^= 0x41;
        }
        assert_int_equal(test_store_raw_put(ts, keys[k], v, len), 0);
        free(v);
    }
    e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(gsize(e, gu), count(A, 200));
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* Threads share one engine and one audience: resolves serialise on the
 * engine lock; the lazily computed hash is the same for every reader. */
typedef struct thr {
    eng_engine *e;
    eng_audience *a;
    const uint32_t *inc;
    uint8_t hash[32];
    uint64_t count;
    int rc;
} thr;

static void *reader(void *arg)
{
    thr *t = arg;
    t->rc = eng_audience_hash(t->a, t->hash);
    qry o;
    opts(&o, t->inc, 2, NULL, 0, 0, 9, 50);
    eng_audience *mine;
    if (!t->rc)
        t->rc = eng_audience_resolve(t->e, TA, &o.q, &mine);
    if (!t->rc) {
        t->rc = eng_audience_count(mine, ENG_PART_TEST, &t->count);
        eng_audience_free(mine);
    }
    return NULL;
}

static void threads_share_an_audience(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 23;
    test_store *ts = test_store_new();
    eng_engine *e = populate(ts, 0, 2000);
    uint32_t inc[2] = {upload_random(e, "A", 0.5, A, 2000), upload_random(e, "B", 0.5, B, 2000)};
    qry o;
    opts(&o, inc, 2, NULL, 0, 0, 9, 50);
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &o.q, &a), ENG_OK);
    thr t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (thr){e, a, inc, {0}, 0, -1};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    uint64_t want;
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &want), ENG_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t[i].rc, ENG_OK);
        assert_memory_equal(t[i].hash, t[0].hash, 32);
        assert_int_equal(t[i].count, want);
    }
    eng_audience_free(a);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static test_store *oom_ts;
static int oom_resolve(void *arg)
{
    (void)arg;
    eng_engine *e;
    int rc = test_store_open(oom_ts, test_alloc_get(), &e);
    if (rc)
        return rc;
    if ((rc = test_org(e))) {
        eng_close(e);
        return rc;
    }
    uint32_t ga = 0, gx = 0, gu = 0;
    eng_audience *a = NULL, *f = NULL;
    if (!(rc = eng_group_find(e, TA, "A", &ga)) && !(rc = eng_group_find(e, TA, "X", &gx))) {
        uint32_t inc[] = {ga};
        if ((rc = eng_group_find(e, TA, "U", &gu)) == ENG_ENOTFOUND)
            rc = eng_group_create_combined(e, TA, "U", ENG_COMBINE_UNION, inc, 1, &gx, 1, &gu);
    }
    qry o;
    uint32_t inc2[] = {gu};
    opts(&o, inc2, 1, &gx, 1, 1u << ENG_CH_EMAIL, 5, 50);
    if (!rc)
        rc = eng_audience_resolve(e, TA, &o.q, &a);
    if (!rc)
        rc = eng_audience_freeze(a, TA, "oom");
    if (!rc)
        rc = eng_audience_load_frozen(e, TA, "oom", &f);
    eng_audience_free(a);
    eng_audience_free(f);
    eng_close(e);
    if (rc == ENG_ENOMEM || rc == ENG_OK)
        return rc;
    fprintf(stderr, "oom_resolve: %d %s\n", rc, eng_error_last()->message);
    return rc;
}

static void oom_loop(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 3;
    oom_ts = test_store_new();
    eng_engine *e = populate(oom_ts, 0, 300);
    upload_random(e, "A", 0.5, A, 300);
    upload_random(e, "X", 0.2, X, 300);
    assert_int_equal(eng_close(e), ENG_OK);
    assert_true(test_oom_loop(oom_resolve, NULL) > 20);
    test_store_free(oom_ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_and_combinations),
        cmocka_unit_test(resolve_split_freeze),
        cmocka_unit_test(corrupt_records_are_reported),
        cmocka_unit_test(threads_share_an_audience),
        cmocka_unit_test(oom_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
