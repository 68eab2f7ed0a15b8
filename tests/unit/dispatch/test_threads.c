/* Four threads on one engine: two call eng_run_due on the same execution while
 * two read (execution state, credits, ledger entries) — with batches at a slow
 * provider outside the engine lock. Every pair is still accepted exactly once,
 * at most max_in_flight batches are ever at the provider at once, and the
 * readers are never blocked for the length of a provider call. Meant to run
 * under ThreadSanitizer too (build-tsan). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dispatch_fixture.h"

static pthread_mutex_t plock = PTHREAD_MUTEX_INITIALIZER;
static int in_flight, max_seen, overlap;

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int slow_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    pthread_mutex_lock(&plock);
    if (++in_flight > max_seen)
        max_seen = in_flight;
    if (in_flight > 1)
        overlap = 1;
    pthread_mutex_unlock(&plock);
    sleep_ms(5); /* at the provider */
    pthread_mutex_lock(&plock);
    int rc = dx_send_batch(env, n, status, user);
    in_flight--;
    pthread_mutex_unlock(&plock);
    return rc;
}

typedef struct targ {
    dx *f;
    int rc;
    unsigned reads;
    atomic_int *done;
} targ;

static void *runner(void *p)
{
    targ *a = p;
    for (int i = 0; i < 200 && !atomic_load(a->done); i++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(a->f->e, "root", a->f->t0, NULL, &rep);
        if (rc) {
            a->rc = rc;
            break;
        }
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        if (eng_execution_get(a->f->e, "root", a->f->message, 0, &x) == ENG_OK && x.state == ENG_EXEC_FINISHED)
            break;
        sleep_ms(1);
    }
    return NULL;
}

static void *reader(void *p)
{
    targ *a = p;
    while (!atomic_load(a->done)) {
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        int64_t bal;
        int rc = eng_execution_get(a->f->e, "root", a->f->message, 0, &x);
        if (rc == ENG_OK)
            rc = eng_credits_balance(a->f->e, "root", ENG_CREDITS_CAMPAIGN, &bal);
        if (rc) {
            a->rc = rc;
            break;
        }
        a->reads++;
        sleep_ms(1);
    }
    return NULL;
}

static void four_threads(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 400, 16, 2, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    /* Reopen with the slow provider. */
    assert_int_equal(eng_close(f.e), ENG_OK);
    f.tm.send_batch = slow_batch;
    f.e = dx_engine(&f);
    atomic_int done = 0;
    targ a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (targ){&f, 0, 0, &done};
        assert_int_equal(pthread_create(&t[i], NULL, i < 2 ? runner : reader, &a[i]), 0);
    }
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    atomic_store(&done, 1);
    pthread_join(t[2], NULL);
    pthread_join(t[3], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i].rc, ENG_OK);
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    uint64_t delivered = 0;
    for (size_t i = 0; i < f.n * DX_CH; i++) {
        assert_true(f.prov.delivered[i] <= 1);
        assert_true(f.prov.calls[i] <= 1); /* no failures here: nothing is sent twice */
        delivered += f.prov.delivered[i];
    }
    assert_int_equal(delivered, x.accepted);
    assert_int_equal(x.accepted, x.sends);
    assert_true(max_seen <= 2);
    printf("threads: %u batches, at most %d at the provider at once (overlap %s), %u + %u reads meanwhile\n",
           f.prov.batches, max_seen, overlap ? "seen" : "not seen", a[2].reads, a[3].reads);
    assert_true(a[2].reads + a[3].reads > 0);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
