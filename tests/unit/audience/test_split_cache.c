/* The split through the per-seed test-side bitmaps (split_cache.c) against
 * the split written out here, id by id, in one engine while customers are
 * added: into a new 2^16-id chunk (the bitmap grows), after more seeds than
 * the cache keeps (entries replaced), with the global control group (random),
 * and at every vector level. A frozen audience keeps what was frozen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/split_cache.h"
#include "base/simd.h"
#include "engage.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

/* mix64(x) is one splitmix64 step from state x. */
static uint64_t ref_mix(uint64_t x)
{
    return test_splitmix(&x);
}

/* Test side of id under (seed, control percent), as docs/audiences.md states it. */
static int ref_test(uint64_t seed, unsigned control, uint32_t id)
{
    if (control == 0)
        return 1;
    if (control == 100)
        return 0;
    double t = (100.0 - control) / 100.0 * 18446744073709551616.0;
    return ref_mix(ref_mix(seed) ^ id) < (uint64_t)t;
}

#define MAXC 150000
static uint8_t member[MAXC]; /* in the group */
static uint64_t rng;

/* Import customers [first, first + n) ("c<i>", dense id i) and append a random
 * half of them to group g. */
static void add_customers(eng_engine *e, uint32_t g, int first, int n)
{
    assert_true(first + n <= MAXC);
    char *csv = malloc((size_t)n * 16 + 16), *p = csv;
    p += sprintf(p, "id\n");
    for (int i = first; i < first + n; i++)
        p += sprintf(p, "c%d\n", i);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    const char **ids = malloc(sizeof *ids * (size_t)n);
    char (*buf)[16] = malloc(sizeof *buf * (size_t)n);
    size_t k = 0;
    for (int i = first; i < first + n; i++)
        if (test_splitmix(&rng) & 1) {
            snprintf(buf[k], sizeof buf[k], "c%d", i);
            ids[k] = buf[k];
            k++;
            member[i] = 1;
        }
    int rc = eng_group_upload_ids(e, TA, g, ids, k, ENG_UPLOAD_APPEND, NULL, NULL);
    if (rc)
        fail_msg("upload: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    free(ids);
    free(buf);
    free(csv);
}

/* Every id of the audience on the side the reference gives (global: members
 * of the global control are control whatever the seed). */
static void check(eng_engine *e, const char *gname, uint64_t seed, unsigned control, int n, const uint8_t *gc)
{
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = &gname;
    q.n_include = 1;
    q.split_seed = seed;
    q.control_percent = control;
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &q, &a), ENG_OK);
    uint32_t *t = malloc(sizeof *t * (size_t)n + 4), *c = malloc(sizeof *c * (size_t)n + 4);
    size_t nt, nc;
    assert_int_equal(eng_audience_ids(a, ENG_PART_TEST, 0, t, (size_t)n, &nt), ENG_OK);
    assert_int_equal(eng_audience_ids(a, ENG_PART_CONTROL, 0, c, (size_t)n, &nc), ENG_OK);
    static uint8_t side[MAXC];
    memset(side, 0, sizeof side);
    for (size_t i = 0; i < nt; i++)
        side[t[i]] = 1;
    for (size_t i = 0; i < nc; i++)
        side[c[i]] = 2;
    for (int i = 0; i < n; i++) {
        int want = !member[i] ? 0 : gc ? (gc[i] ? 2 : 1) : ref_test(seed, control, (uint32_t)i) ? 1 : 2;
        if (side[i] != want)
            fail_msg("seed %llu control %u: customer %d on side %d, want %d", (unsigned long long)seed, control, i,
                     side[i], want);
    }
    free(t);
    free(c);
    eng_audience_free(a);
}

static void split_follows_the_reference_as_customers_come(void **state)
{
    (void)state;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    memset(member, 0, sizeof member);
    rng = 17;
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, TA, "g", &g), ENG_OK);
    const char *gname = "g";
    static const unsigned controls[] = {10, 50, 1, 99, 0, 100};
    for (int lv = 0; lv <= eng__isa_detected(); lv++) {
        assert_int_equal(eng__isa_force(lv), lv);
        for (size_t ci = 0; ci < sizeof controls / sizeof controls[0]; ci++)
            check(e, gname, 42, controls[ci], 0, NULL); /* no customers yet */
    }
    eng__isa_force(-1);
    int n = 0;
    /* One chunk, then a second (the bitmaps of seeds already used grow), then a third. */
    static const int adds[] = {40000, 30000, 500, 65536};
    for (size_t s = 0; s < sizeof adds / sizeof adds[0]; s++) {
        add_customers(e, g, n, adds[s]);
        n += adds[s];
        for (int lv = 0; lv <= eng__isa_detected(); lv++) {
            assert_int_equal(eng__isa_force(lv), lv);
            for (size_t ci = 0; ci < sizeof controls / sizeof controls[0]; ci++)
                check(e, gname, 42, controls[ci], n, NULL);
            /* more seeds than the cache keeps, then the first again */
            for (uint64_t seed = 1; seed <= ENG__SPLIT_CACHE_N + 2; seed++)
                check(e, gname, seed * 0x9e3779b97f4a7c15ull, 20, n, NULL);
            check(e, gname, 42, 10, n, NULL);
        }
        eng__isa_force(-1);
    }

    /* Freezing stores the sets: customers added later change a new resolve, not the frozen one. */
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = &gname;
    q.n_include = 1;
    q.split_seed = 42;
    q.control_percent = 10;
    eng_audience *a, *f;
    assert_int_equal(eng_audience_resolve(e, TA, &q, &a), ENG_OK);
    assert_int_equal(eng_audience_freeze(a, TA, "k1"), ENG_OK);
    uint64_t nt0, nt1;
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &nt0), ENG_OK);
    add_customers(e, g, n, 1000);
    n += 1000;
    check(e, gname, 42, 10, n, NULL);
    assert_int_equal(eng_audience_load_frozen(e, TA, "k1", &f), ENG_OK);
    assert_int_equal(eng_audience_count(f, ENG_PART_TEST, &nt1), ENG_OK);
    assert_int_equal(nt1, nt0);
    uint8_t h0[32], h1[32];
    assert_int_equal(eng_audience_hash(a, h0), ENG_OK);
    assert_int_equal(eng_audience_hash(f, h1), ENG_OK);
    assert_memory_equal(h0, h1, 32);
    eng_audience_free(a);
    eng_audience_free(f);

    /* The global control group (random) goes through the same bitmaps. */
    eng_global_control gcs = ENG_GLOBAL_CONTROL_INIT;
    gcs.mode = ENG_GLOBAL_CONTROL_RANDOM;
    gcs.percent = 7;
    gcs.seed = 99;
    assert_int_equal(eng_global_control_set(e, TA, &gcs), ENG_OK);
    static uint8_t gc[MAXC];
    for (int i = 0; i < n; i++)
        gc[i] = (uint8_t)!ref_test(99, 7, (uint32_t)i);
    check(e, gname, 42, 10, n, gc);
    add_customers(e, g, n, 3000);
    n += 3000;
    for (int i = 0; i < n; i++)
        gc[i] = (uint8_t)!ref_test(99, 7, (uint32_t)i);
    check(e, gname, 42, 10, n, gc);

    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_follows_the_reference_as_customers_come),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
