/* The one-pass resolve (resolve_pass.c) against the same sets computed id
 * by id here with plain arrays: random include, exclude and per-channel
 * reachable sets whose chunks are empty, arrays, bitmaps or missing, with and
 * without the channel filter (one or several channels kept), split by a
 * random side bitmap, all-test, all-control or not at all, with and without
 * the all set; reach counts per channel; every allocation failing in turn
 * leaves the outputs empty and leaks nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/idset.h"
#include "audience/resolve_pass.h"
#include "base/error.h"
#include "test_alloc.h"
#include "test_util.h"

#define NCHUNK 4
#define U ((uint32_t)NCHUNK << 16)
#define NSETS 10 /* 4 include, 3 exclude, 3 channels */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return test_splitmix(&rng_state);
}

static eng__mem mem;

/* A random set as bytes (per-chunk density: none, array-sized, bitmap-sized, full) and as an idset. */
static void random_set(uint8_t *in, eng__idset *s)
{
    static const uint32_t per_million[] = {0, 0, 50, 30000, 62000, 63000, 200000, 600000, 1000000};
    memset(in, 0, U);
    for (uint32_t ch = 0; ch < NCHUNK; ch++) {
        uint32_t d = per_million[rnd() % (sizeof per_million / sizeof per_million[0])];
        for (uint32_t i = 0; i < 65536; i++)
            in[ch << 16 | i] = rnd() % 1000000 < d;
    }
    uint32_t *ids = malloc(U * sizeof *ids);
    size_t n = 0;
    for (uint32_t id = 0; id < U; id++)
        if (in[id])
            ids[n++] = id;
    assert_int_equal(eng__idset_from_ids(s, ids, n), ENG_OK);
    free(ids);
}

static int has(const eng__idset *s, uint32_t id) { return eng__idset_contains(s, id); }

static void check_round(int round)
{
    uint8_t *in[NSETS];
    eng__idset sets[NSETS];
    for (int k = 0; k < NSETS; k++) {
        in[k] = malloc(U);
        eng__idset_init(&sets[k], &mem);
        random_set(in[k], &sets[k]);
    }
    const eng__idset *inc[4] = {&sets[0], &sets[1], &sets[2], &sets[3]}, *exc[3] = {&sets[4], &sets[5], &sets[6]};
    eng__rpass p;
    memset(&p, 0, sizeof p);
    p.inc = inc;
    p.ninc = 1 + rnd() % 4;
    p.exc = exc;
    p.nexc = rnd() % 4;
    static const int chans[3] = {0, 3, 7};
    for (int c = 0; c < 3; c++) {
        if (rnd() % 4 == 0)
            continue; /* a channel not in use */
        p.count |= 1u << chans[c];
        p.reach[chans[c]] = &sets[7 + c];
    }
    p.filter = round % 3 != 0;
    p.keep = (uint32_t)(rnd() & (1u << 0 | 1u << 3 | 1u << 7 | 1u << 9)); /* 9: never in use */
    int mode = round % 4; /* 0 side words, 1 all test, 2 all control, 3 no split */
    size_t nwords = (size_t)NCHUNK * ENG__CT_WORDS;
    uint64_t *side = malloc(nwords * sizeof *side);
    for (size_t w = 0; w < nwords; w++) /* test sides of 25, 50 and 75 % */
        side[w] = round % 3 == 0 ? rnd() & rnd() : round % 3 == 1 ? rnd() : rnd() | rnd();
    p.split = mode != 3;
    p.side = mode == 0 ? side : NULL;
    p.side_words = mode == 0 ? nwords : 0;
    p.test_all = mode == 1;

    /* the reference, id by id */
    uint8_t *want = malloc(U);
    uint64_t reach[ENG_CH_COUNT] = {0};
    for (uint32_t id = 0; id < U; id++) {
        int a = 0;
        for (size_t i = 0; i < p.ninc; i++)
            a |= in[i][id];
        for (size_t i = 0; i < p.nexc; i++)
            a &= !in[4 + i][id];
        int kept = 0;
        for (int c = 0; c < 3; c++) {
            if (!(p.count >> chans[c] & 1))
                continue;
            int r = in[7 + c][id];
            reach[chans[c]] += (uint64_t)(a && r);
            kept |= r && (p.keep >> chans[c] & 1);
        }
        want[id] = (uint8_t)(a && (!p.filter || kept));
    }

    eng__idset all, test, control;
    eng__idset_init(&all, &mem);
    eng__idset_init(&test, &mem);
    eng__idset_init(&control, &mem);
    uint64_t got[ENG_CH_COUNT];
    /* the all set may be left out when the split is made */
    eng__idset *pall = mode != 3 && round % 5 == 4 ? NULL : &all;
    assert_int_equal(eng__resolve_pass(&p, &mem, pall, got, &test, &control), ENG_OK);
    assert_memory_equal(got, reach, sizeof reach);
    for (uint32_t id = 0; id < U; id++) {
        int t = mode == 0 ? (int)(side[id / 64] >> (id % 64) & 1) : mode == 1;
        if (has(&all, id) != (pall && want[id]) || has(&test, id) != (mode != 3 && want[id] && t) ||
            has(&control, id) != (mode != 3 && want[id] && !t))
            fail_msg("round %d: id %u: all %d test %d control %d, reference %d (side %d, mode %d)", round, id,
                     has(&all, id), has(&test, id), has(&control, id), want[id], t, mode);
    }
    /* containers are in canonical form: equal to sets built id by id */
    eng__idset ref[3];
    for (int k = 0; k < 3; k++)
        eng__idset_init(&ref[k], &mem);
    for (uint32_t id = 0; id < U; id++) {
        int t = mode == 0 ? (int)(side[id / 64] >> (id % 64) & 1) : mode == 1;
        if (want[id] && pall)
            assert_int_equal(eng__idset_add(&ref[0], id), ENG_OK);
        if (want[id] && mode != 3)
            assert_int_equal(eng__idset_add(&ref[t ? 1 : 2], id), ENG_OK);
    }
    assert_true(eng__idset_equal(&all, &ref[0]));
    assert_true(eng__idset_equal(&test, &ref[1]));
    assert_true(eng__idset_equal(&control, &ref[2]));
    for (int k = 0; k < 3; k++)
        eng__idset_free(&ref[k]);

    /* every allocation failing in turn: an error, empty outputs, no leak */
    if (round < 4) {
        for (uint64_t k = 1;; k++) {
            size_t live = test_alloc_live_blocks();
            test_alloc_fail_at(k, 0);
            int rc = eng__resolve_pass(&p, &mem, pall, got, &test, &control);
            test_alloc_fail_at(0, 0);
            if (rc == ENG_OK)
                break;
            assert_int_equal(rc, ENG_ENOMEM);
            assert_int_equal(eng__idset_count(&all) + eng__idset_count(&test) + eng__idset_count(&control), 0);
            assert_true(test_alloc_live_blocks() <= live);
        }
    }
    eng__idset_free(&all);
    eng__idset_free(&test);
    eng__idset_free(&control);
    for (int k = 0; k < NSETS; k++) {
        eng__idset_free(&sets[k]);
        free(in[k]);
    }
    free(side);
    free(want);
}

static void against_reference(void **state)
{
    (void)state;
    test_alloc_reset();
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    rng_state = 17;
    for (int round = 0; round < 15; round++)
        check_round(round);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
