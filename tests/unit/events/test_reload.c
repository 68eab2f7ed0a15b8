/* Reopen: an org's sealed touch segments are copied and decoded by a worker
 * while the caller loads the sends of the segment before (events/tload.c).
 * Every committed touch comes back the same whatever the engine's threads; a
 * damaged segment, first, middle or last, is reported by name whatever the
 * thread that decoded it; an allocation failure anywhere in the load is
 * reported or the load completes, and the next call loads it all. */
#include "ev_fixture.h"
#include "events/ev_state.h"

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)
#define T0 1767225600000

typedef struct state {
    uint64_t counts[2][NS];
    uint64_t sum[2];
    size_t segs;
    evfx_sends v;
} state;

static int sum_cb(const eng__touch_cols *c, void *user)
{
    uint64_t *s = user;
    for (size_t i = 0; i < c->n; i++)
        s[0] += c->customer[i] + (uint64_t)c->time[i] * 3 + c->status[i] * 7u + c->send[i] * 11u + c->channel[i] * 13u,
            s[1]++;
    return 0;
}

static void receipts(evfx *f, uint64_t campaign, uint32_t n, int ch, uint32_t every, int status, eng_time t)
{
    enum { B = 4096 };
    static char keys[B][64];
    const char *kp[B];
    int st[B];
    eng_time ts[B];
    size_t m = 0;
    for (uint32_t c = 0; c < n; c += every) {
        evfx_key(keys[m], 64, campaign, 0, c, ch);
        kp[m] = keys[m];
        st[m] = status;
        ts[m] = t + c;
        if (++m == B || c + every >= n) {
            eng_receipts r = evfx_receipts(m, kp, st, ts, NULL);
            assert_int_equal(eng_touch_append(f->e, &r, NULL), ENG_OK);
            m = 0;
        }
    }
}

/* Rows a segment is sealed at: full segments natively and under ASan; under valgrind and TSan,
 * where each reload is ~30x slower, an eighth (the same segments, tail and loads, fewer rows). */
static uint32_t seg;

/* Two campaigns' sends and receipts: three sealed segments and a tail, receipts of one
 * segment's sends in later ones. */
static void build(evfx *f)
{
    evfx_open(f, 0);
    const uint32_t n1 = 2 * seg + 3000, n2 = seg;
    for (uint32_t lo = 0; lo < n1; lo += 20000)
        evfx_send(f, "acme", 1, lo, lo + 20000 < n1 ? lo + 20000 : n1, ENG_CH_EMAIL, T0);
    receipts(f, 1, n1, ENG_CH_EMAIL, 7, ENG_TOUCH_DELIVERED, T0 + 1000);
    evfx_send(f, "acme", 2, 0, n2, ENG_CH_SMS, T0 + 5000);
    receipts(f, 1, n1, ENG_CH_EMAIL, 13, ENG_TOUCH_OPENED, T0 + 9000);
    receipts(f, 2, n2, ENG_CH_SMS, 5, ENG_TOUCH_DELIVERED, T0 + 9500);
}

static eng__ev *events(evfx *f)
{
    assert_int_equal(eng__enter(f->e), ENG_OK);
    eng__ev *ev;
    int rc = eng__ev_get(f->e, &ev);
    eng__leave(f->e);
    assert_int_equal(rc, ENG_OK);
    return ev;
}

static void take(evfx *f, state *s)
{
    for (int k = 0; k < 2; k++)
        assert_int_equal(eng_touch_status_counts(f->e, "acme", (uint64_t)k + 1, 0, s->counts[k], NS), ENG_OK);
    eng__touch_filter all;
    eng__touch_filter_init(&all);
    s->sum[0] = s->sum[1] = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, &all, sum_cb, s->sum), ENG_OK);
    eng__leave(f->e);
    s->segs = events(f)->orgs[0]->tseg.n;
    evfx_sends_take(f, &s->v);
}

static void state_free(state *s)
{
    evfx_sends_free(&s->v);
}

static void assert_same(const state *a, const state *b)
{
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
    assert_memory_equal(a->sum, b->sum, sizeof a->sum);
    assert_int_equal(a->segs, b->segs);
    evfx_sends_assert_equal(&a->v, &b->v);
}

static void reopen_threads(evfx *f, unsigned threads)
{
    eng_close(f->e);
    f->e = test_engine_open(test_store_handle(f->ts));
    f->e->threads = threads; /* before the events state loads (at its first use) */
}

/* build()'s store, built once for every test (each reopens a copy of it), and what the engine that
 * built it read: every test's reference. */
static test_store *built;
static state before;

static int build_once(void **st)
{
    (void)st;
    seg = test_slow_runtime() ? ENG__SEG_ROWS / 8 : ENG__SEG_ROWS;
    eng__seg_seal_rows = seg;
    evfx f;
    build(&f);
    take(&f, &before);
    eng_close(f.e);
    built = f.ts;
    return 0;
}

static int built_free(void **st)
{
    (void)st;
    state_free(&before);
    test_store_free(built);
    eng__seg_seal_rows = ENG__SEG_ROWS;
    return 0;
}

/* An engine on a copy of the built store (its first call loads it). */
static void open_built(evfx *f)
{
    test_alloc_reset();
    f->ts = test_store_clone(built);
    assert_non_null(f->ts);
    f->e = test_engine_open(test_store_handle(f->ts));
    f->ncust = 0;
}

/* Reopened once more: everything as the building engine read it; then the fixture closed. */
static void reopen_same_and_close(evfx *f, unsigned threads)
{
    state after;
    reopen_threads(f, threads);
    take(f, &after);
    assert_same(&before, &after);
    state_free(&after);
    evfx_close(f);
}

static void same_for_every_thread_count(void **st)
{
    (void)st;
    evfx f;
    open_built(&f);
    state after;
    assert_true(before.segs >= 3);
    assert_int_equal(before.sum[1], 3 * seg + 3000 + (2 * seg + 3000) / 7 + 1 + (2 * seg + 3000) / 13 + 1 + seg / 5 + 1);
    for (unsigned threads = 0; threads < 3; threads++) {
        reopen_threads(&f, threads);
        take(&f, &after);
        assert_same(&before, &after);
        state_free(&after);
    }
    reopen_same_and_close(&f, 3);
}

static void damaged_segment_named(void **st)
{
    (void)st;
    evfx f;
    open_built(&f);
    for (uint32_t s = 0; s < before.segs; s++) {
        char key[32];
        snprintf(key, sizeof key, "e/0000/t/s/%08x", s);
        for (unsigned threads = 0; threads < 3; threads++) {
            eng_close(f.e);
            uint8_t *v;
            size_t len;
            assert_int_equal(test_store_raw_get(f.ts, key, &v, &len), 0);
            v[len / 2 + threads] ^= 0x40;
            assert_int_equal(test_store_raw_put(f.ts, key, v, len), 0);
            f.e = test_engine_open(test_store_handle(f.ts));
            f.e->threads = threads;
            uint64_t c[NS];
            assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
            assert_non_null(strstr(eng_error_last()->detail, key));
            /* and again (nothing was kept half-loaded) */
            assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
            assert_non_null(strstr(eng_error_last()->detail, key));
            v[len / 2 + threads] ^= 0x40;
            assert_int_equal(test_store_raw_put(f.ts, key, v, len), 0);
            free(v);
        }
    }
    reopen_same_and_close(&f, 1);
}

static void allocation_failures_in_the_load(void **st)
{
    (void)st;
    evfx f;
    open_built(&f);
    state after;
    uint64_t failed = 1;
    size_t runs = 0, refused = 0;
    /* every failure point natively and under ASan; every eighth of the first 300 under valgrind and TSan,
     * where each point's reload is ~30x slower (this test was their slowest) */
    uint64_t step = test_slow_runtime() ? 4 : 1;
    for (uint64_t n = 1; failed; n += n < 300 ? step : n / 8, runs++) {
        reopen_threads(&f, (unsigned)(n % 3));
        uint64_t f0 = test_alloc_failures();
        test_alloc_fail_at(n, 0);
        uint64_t c[NS];
        int rc = eng_touch_status_counts(f.e, "acme", 1, 0, c, NS);
        test_alloc_fail_at(0, 0);
        failed = test_alloc_failures() - f0;
        if (rc != ENG_OK) {
            assert_int_equal(rc, ENG_ENOMEM);
            refused++;
        }
        take(&f, &after); /* loads it all when the call above did not */
        assert_same(&before, &after);
        state_free(&after);
    }
    assert_true(runs > 20 && refused > 10);
    reopen_same_and_close(&f, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_for_every_thread_count),
        cmocka_unit_test(damaged_segment_named),
        cmocka_unit_test(allocation_failures_in_the_load),
    };
    return cmocka_run_group_tests(tests, build_once, built_free);
}
