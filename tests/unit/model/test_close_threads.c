/* eng_close() from another thread while the engine is in use (engage/engine.h: one engine
 * may be used from several threads; a closed engine gives ENG_EMISUSE and is never read).
 * The close waits for the call that holds the engine's lock, and the engine goes when
 * the last call inside it (or waiting to enter) has left, never under one:
 * - a test send hands its envelopes to the transport without the engine's lock and holds
 *   no reference: a close meanwhile destroyed the engine at once (the transport's destroy
 *   called while its send was still running), and the send then locked freed memory;
 * - a call waiting for the lock when another thread's close got it went on in the freed
 *   engine (valgrind: invalid reads in eng__enter, eng__who). It now gives ENG_EMISUSE.
 * Found by qa9u's client programs under valgrind. */
#include "model_fixture.h"

#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int inside, release, sending, destroyed, destroyed_while_sending;

static void wait_for(int *flag)
{
    pthread_mutex_lock(&mu);
    while (!*flag)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void set(int *flag, int v)
{
    pthread_mutex_lock(&mu);
    *flag = v;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    (void)env, (void)user;
    set(&sending, 1);
    set(&inside, 1);
    wait_for(&release);
    for (size_t i = 0; i < n; i++)
        status[i] = ENG_SEND_ACCEPTED;
    set(&sending, 0);
    return ENG_OK;
}

static void destroy_transport(void *user)
{
    (void)user;
    pthread_mutex_lock(&mu);
    destroyed++;
    destroyed_while_sending += sending;
    pthread_mutex_unlock(&mu);
}

static int progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)done, (void)total, (void)user;
    if (strcmp(op, "audience.import") == 0 && !inside) {
        set(&inside, 1);
        wait_for(&release);
    }
    return 0;
}

static eng_time fixed_clock(void *user)
{
    (void)user;
    return 1767225600000;
}

static eng_engine *open_engine(void)
{
    inside = release = sending = destroyed = destroyed_while_sending = 0;
    static eng_transport_methods tm;
    eng_transport_methods_init(&tm, ENG_TRANSPORT_METHODS_VERSION);
    tm.send_batch = send_batch;
    tm.destroy = destroy_transport;
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.transport = &tm;
    cfg.progress_fn = progress;
    cfg.clock_fn = fixed_clock;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_org_create(e, "acme", NULL, "root", NULL), ENG_OK);
    return e;
}

typedef struct job {
    eng_engine *e;
    uint64_t message;
    int rc;
} job;

static void *test_send(void *arg)
{
    job *j = arg;
    const char *to[] = {"+15559990001"};
    int st[1];
    j->rc = eng_message_test_send(j->e, "root", j->message, ENG_PREVIEW_SAMPLE, ENG_CH_SMS, to, 1, st);
    return NULL;
}

static void *import(void *arg)
{
    job *j = arg;
    static const char csv[] = "id,contact.email\nc1,c1@example.com\nc2,c2@example.com\n";
    j->rc = eng_customers_import_csv_buffer(j->e, "root", csv, sizeof csv - 1, NULL, NULL);
    return NULL;
}

static void *count(void *arg)
{
    job *j = arg;
    uint64_t n = 0;
    j->rc = eng_customers_count(j->e, "root", &n);
    return NULL;
}

static void *closer(void *arg)
{
    job *j = arg;
    j->rc = eng_close(j->e);
    return NULL;
}

static void close_during_a_test_send(void **st)
{
    (void)st;
    eng_engine *e = open_engine();
    eng_campaign_spec c = fx_campaign("Close");
    eng_message_spec m = fx_message();
    uint64_t cid = 0, mid = 0;
    assert_int_equal(eng_campaign_create(e, "root", &c, &cid, NULL), ENG_OK);
    assert_int_equal(eng_message_create(e, "root", cid, &m, &mid, NULL), ENG_OK);
    job j = {e, mid, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, test_send, &j), 0);
    wait_for(&inside); /* the transport has the envelope; the engine's lock is free */
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(destroyed, 0); /* not while the send runs */
    uint64_t n;
    assert_int_equal(eng_customers_count(e, "root", &n), ENG_EMISUSE); /* closed for everyone else */
    set(&release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(j.rc, ENG_EMISUSE); /* "the engine was closed during the test send" */
    assert_int_equal(destroyed, 1);       /* released when the send returned */
    assert_int_equal(destroyed_while_sending, 0);
    assert_int_equal(eng_close(e), ENG_EMISUSE);
}

/* A call holds the lock; a close waits for it, then a count waits too (the close is the
 * first waiter, so usually first served). Whichever order the lock is given in, the count
 * answers ENG_OK or ENG_EMISUSE and the engine goes once, after all three. The sleeps only
 * order the waiters; nothing is timed. */
static void close_while_calls_wait(void **st)
{
    (void)st;
    for (int round = 0; round < 3; round++) {
        eng_engine *e = open_engine();
        job a = {e, 0, 1}, b = {e, 0, 1}, c = {e, 0, 1};
        pthread_t ta, tb, tc;
        assert_int_equal(pthread_create(&ta, NULL, import, &a), 0);
        wait_for(&inside);
        assert_int_equal(pthread_create(&tb, NULL, closer, &b), 0);
        usleep(20000);
        assert_int_equal(pthread_create(&tc, NULL, count, &c), 0);
        usleep(20000);
        set(&release, 1);
        assert_int_equal(pthread_join(ta, NULL), 0);
        assert_int_equal(pthread_join(tb, NULL), 0);
        assert_int_equal(pthread_join(tc, NULL), 0);
        assert_int_equal(a.rc, ENG_OK);
        assert_int_equal(b.rc, ENG_OK);
        assert_true(c.rc == ENG_OK || c.rc == ENG_EMISUSE);
        assert_int_equal(destroyed, 1);
        assert_int_equal(eng_close(e), ENG_EMISUSE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_during_a_test_send),
        cmocka_unit_test(close_while_calls_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
