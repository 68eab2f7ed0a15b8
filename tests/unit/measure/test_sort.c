/* The report's radix sorts by customer (src/measure/sort.c) give the order of a
 * stable sort by customer: each element carries its input position, and the
 * result must equal the input sorted by (customer, position) with qsort. The
 * kept touches are pushed one by one as the touch pass keeps them
 * (eng__attr_keep, into their top-digit buckets: kept.c), the second half into
 * another run's buckets appended after the first's as the threads' fold does,
 * then every bucket sorted in turn (eng__sort_kept) and the buckets read in
 * order; the transactions are sorted whole (eng__sort_qtx). Random data of
 * every shape the report meets: ids spread over n_customers (every width from
 * 1 to 32 bits: one bucket, buckets sorted in cache, tiny buckets by
 * insertion), a few ids only (many ties), every id in one top bucket, one id,
 * and runs each sorted by customer (the kept touches come one run per
 * segment); top digits of 11 bits (the report's), 4 and 1 (buckets of many
 * customers at small sizes). Progress steps every 64 rows on the way must not
 * change the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "measure/measure_impl.h"
#include "test_util.h"

extern size_t eng__attr_beat_rows;
extern unsigned eng__kept_digit_max;

static uint64_t rs = 0x50f7;

static uint32_t draw(uint32_t ncust, int shape, size_t i, size_t n)
{
    uint64_t u = test_splitmix(&rs);
    switch (shape) {
    case 0: return (uint32_t)(u % ncust);                                   /* spread */
    case 1: return (uint32_t)((u % 5) * (ncust / 5));                       /* a few ids */
    case 2: return (uint32_t)(u % (ncust < 64 ? ncust : 64));               /* one top bucket */
    case 3: return ncust - 1;                                               /* one id */
    default: return (uint32_t)((uint64_t)(ncust - 1) * (i % (n / 7 + 1)) / (n / 7 + 1)); /* 7 sorted runs */
    }
}

static int by_cust_then_pos(const void *pa, const void *pb)
{
    const eng__cand *a = pa, *b = pb;
    if (a->cust != b->cust)
        return a->cust < b->cust ? -1 : 1;
    return a->t < b->t ? -1 : a->t > b->t;
}

static int qtx_by_cust_then_pos(const void *pa, const void *pb)
{
    const eng__qtx *a = pa, *b = pb;
    if (a->cust != b->cust)
        return a->cust < b->cust ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* The kept touches of a[0, n) pushed, the second half into another run's buckets
 * appended after the first's, then read bucket by bucket, each sorted: into out. */
static void kept_sorted(eng__mem *mem, uint32_t ncust, const eng__cand *a, size_t n, eng__cand *out)
{
    eng__attr x, y;
    memset(&x, 0, sizeof x);
    x.mem = mem;
    x.sp.n_customers = ncust;
    y = x;
    assert_int_equal(eng__kept_init(&x.kept, mem, ncust), ENG_OK);
    assert_int_equal(eng__kept_init(&y.kept, mem, ncust), ENG_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(eng__attr_keep(i < n / 2 ? &x : &y, a[i].cust, a[i].m, a[i].ch, a[i].t), ENG_OK);
    assert_int_equal(eng__kept_append(&x.kept, &y.kept, mem), ENG_OK);
    assert_int_equal(x.kept.n, n);
    assert_int_equal(y.kept.n, 0);
    size_t big = 1, at = 0, done = 0;
    for (size_t b = 0; b < x.kept.nb; b++)
        big = x.kept.cnt[b] > big ? x.kept.cnt[b] : big;
    eng__cand *tmp = calloc(big, sizeof *tmp);
    size_t *cnt = calloc(eng__sort_kept_counters(&x.kept), sizeof *cnt);
    assert_non_null(tmp && cnt);
    for (size_t b = 0; b < x.kept.nb; b++) {
        assert_true(at + x.kept.cnt[b] <= n);
        assert_int_equal(eng__sort_kept(&x.kept, b, out + at, tmp, cnt, &x, &done), ENG_OK);
        at += x.kept.cnt[b];
    }
    assert_int_equal(at, n);
    free(tmp), free(cnt);
    eng__kept_free(&x.kept, mem);
    eng__kept_free(&y.kept, mem);
}

static const unsigned digits[] = {11, 4, 1};

/* One data set and its references (stable sorts), against the sorts at every beat and top digit. */
static void one(eng__mem *mem, uint32_t ncust, int shape, size_t n)
{
    eng__attr x;
    memset(&x, 0, sizeof x);
    x.mem = mem;
    x.sp.n_customers = ncust;
    size_t sz = n ? n : 1;
    eng__cand *a = calloc(sz, sizeof *a), *ref = calloc(sz, sizeof *ref), *out = calloc(sz, sizeof *out);
    eng__qtx *q0 = calloc(sz, sizeof *q0), *q = calloc(sz, sizeof *q), *qtmp = calloc(sz, sizeof *qtmp),
             *qref = calloc(sz, sizeof *qref), *qout;
    assert_non_null(a && out && ref && q0 && q && qtmp && qref);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = test_splitmix(&rs);
        a[i].cust = draw(ncust, shape, i, n);
        a[i].t = (eng_time)i; /* the position: ties must keep it */
        a[i].m = (uint16_t)(u % 256);
        a[i].ch = (uint8_t)((u >> 8) % ENG_MAX_CHANNELS);
        q0[i].cust = a[i].cust;
        q0[i].row = (uint32_t)i;
        q0[i].t = (eng_time)(u >> 16);
        q0[i].amount = (int64_t)(u >> 40);
    }
    memcpy(ref, a, n * sizeof *a);
    qsort(ref, n, sizeof *ref, by_cust_then_pos);
    memcpy(qref, q0, n * sizeof *q0);
    qsort(qref, n, sizeof *qref, qtx_by_cust_then_pos);
    for (int beats = 0; beats < 2; beats++) {
        eng__attr_beat_rows = beats ? 64 : 65536;
        for (size_t d = 0; d < (beats ? 1 : sizeof digits / sizeof *digits); d++) {
            if (d > 0 && n > 1000) /* 30,000 rows: 11 bits only */
                continue;
            eng__kept_digit_max = digits[d];
            kept_sorted(mem, ncust, a, n, out);
            for (size_t i = 0; i < n; i++)
                if (out[i].cust != ref[i].cust || out[i].t != ref[i].t || out[i].m != ref[i].m ||
                    out[i].ch != ref[i].ch)
                    fail_msg("cand: %u customers, top digit %u, shape %d, %zu rows: row %zu is (%u, #%lld), want "
                             "(%u, #%lld)", ncust, eng__kept_digit_max, shape, n, i, out[i].cust,
                             (long long)out[i].t, ref[i].cust, (long long)ref[i].t);
            memcpy(q, q0, n * sizeof *q0);
            assert_int_equal(eng__sort_qtx(q, qtmp, n, &x, &qout), ENG_OK);
            assert_true(qout == q || qout == qtmp);
            for (size_t i = 0; i < n; i++)
                if (memcmp(&qout[i], &qref[i], sizeof *qref))
                    fail_msg("qtx: %u customers, shape %d, %zu rows: row %zu is (%u, #%u), want (%u, #%u)", ncust,
                             shape, n, i, qout[i].cust, qout[i].row, qref[i].cust, qref[i].row);
        }
    }
    free(a), free(out), free(ref), free(q0), free(q), free(qtmp), free(qref);
}

static void same_order_as_stable_sort(void **state)
{
    (void)state;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    static const uint32_t ncusts[] = {1, 2, 3, 17, 100, 2047, 2048, 2049, 5000, 40000, 1u << 20, 10000000, 0xFFFFFFFFu};
    static const size_t ns[] = {0, 1, 2, 16, 17, 1000, 30000};
    for (size_t c = 0; c < sizeof ncusts / sizeof *ncusts; c++)
        for (int shape = 0; shape < 5; shape++)
            for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
                one(&mem, ncusts[c], shape, ns[k]);
    eng__kept_digit_max = 11;
    eng__attr_beat_rows = 65536;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(same_order_as_stable_sort)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
