/* Several engines over one SQLite database, each with a handle of its own
 * (examples/store-sqlite with STORE_SQLITE_SHARED: the change log of the
 * storage contract v3), so that the default test run covers what otherwise
 * only the PostgreSQL integration tests reach: chunk leases, the change
 * watcher, and caches dropped for another engine's commits.
 *
 * threads:   three engines in three threads work one execution: every pair of
 *            the test group reaches the provider once, with one key; the work
 *            is shared; each engine's execution figures agree.
 * killed:    a forked process works the execution and is SIGKILLed inside a
 *            transport batch; an engine here finishes it; the provider's log
 *            (a file both processes append to) holds every planned pair, each
 *            with one key only (a pair sent again carries the same key).
 * coherence: customers opted out of SMS through one engine is never sent an
 *            SMS by another engine that loaded the customer table before.
 * points:    three engines in three threads work a message with loyalty points:
 *            the awards of a chunk go out under its lease, so every customer
 *            with an accepted send is awarded once, under one key.
 * poc:       the same with copies to the org's points of contact (taken under
 *            a lease of their own): each copy sent once, under one key. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch_fixture.h"
#include "store_sqlite.h"

#define NCUST 400

static char db_path[600];
static char *db_dir;

static int open_shared(eng_store **out)
{
    return store_sqlite_open(db_path, NULL, STORE_SQLITE_CREATE | STORE_SQLITE_NOSYNC | STORE_SQLITE_SHARED,
                             test_alloc_get(), out);
}

static pthread_t senders[3]; /* the threads that have sent a batch (under plock) */
static int nsenders;

static int setup(void **state)
{
    (void)state;
    db_dir = test_tmpdir();
    snprintf(db_path, sizeof db_path, "%s/shared.sqlite", db_dir);
    dx_store_open = open_shared;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dx_store_open = NULL;
    test_rmtree(db_dir);
    free(db_dir);
    return 0;
}

/* A world of NCUST customers and one approved message (SMS and email), sent
 * in batches of 8 through @p batch (engines copy the transport when opened). */
static void world(dx *f, int (*batch)(const eng_envelope *, size_t, int *, void *))
{
    dx_world(f, NCUST, 8, 1, 1);
    nsenders = 0;
    f->tm.send_batch = batch;
    dx_reopen(f);
    eng_message_spec m = dx_message();
    dx_approve(f, &m);
}

/* Run the message with @p e until its execution is finished (or refused: a failure). */
static int work(eng_engine *e, uint64_t msg, eng_time now, uint64_t *batches)
{
    for (unsigned idle = 0; idle < 20000;) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        o.message = msg;
        o.lease_ms = 5000;
        int rc = eng_run_due(e, "root", now, &o, &rep);
        if (rc && rc != ENG_EBUSY)
            return rc;
        *batches += rep.batches;
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        if ((rc = eng_execution_get(e, "root", msg, 0, &x)) && rc != ENG_EBUSY)
            return rc;
        if (rc == ENG_OK && x.state == ENG_EXEC_FINISHED)
            return ENG_OK;
        if (rc == ENG_OK && x.state == ENG_EXEC_REFUSED)
            return ENG_ERROR;
        idle = rep.batches ? 0 : idle + 1;
        if (!rep.batches)
            usleep(1000); /* another engine holds the chunks left */
    }
    eng_error_set(ENG_EBUSY, "no progress: another engine keeps the chunks left");
    return ENG_EBUSY;
}

/* ---- threads ---- */

static pthread_mutex_t plock = PTHREAD_MUTEX_INITIALIZER;

/* Under plock: note the calling thread as a sender; 1 while it is the only one. */
static int sole_sender(void)
{
    int seen = 0;
    for (int i = 0; i < nsenders; i++)
        seen |= pthread_equal(senders[i], pthread_self());
    if (!seen && nsenders < 3)
        senders[nsenders++] = pthread_self();
    return nsenders < 2;
}

static int locked_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    pthread_mutex_lock(&plock);
    int rc = dx_send_batch(env, n, status, user);
    int alone = sole_sender();
    pthread_mutex_unlock(&plock);
    /* At the provider, outside the engine lock: the others take chunks meanwhile. Until a
     * second engine has sent, this one waits here (up to 5 s), so that the chunks are shared
     * out whatever the scheduler does (valgrind runs one thread at a time). */
    for (int i = 0; alone && i < 5000; i++) {
        usleep(1000);
        pthread_mutex_lock(&plock);
        alone = nsenders < 2;
        pthread_mutex_unlock(&plock);
    }
    usleep(500);
    return rc;
}

typedef struct worker {
    eng_engine *e;
    uint64_t msg, batches;
    eng_time now;
    int rc;
    char err[200];
} worker;

static void *run_worker(void *p)
{
    worker *w = p;
    w->rc = work(w->e, w->msg, w->now, &w->batches);
    if (w->rc)
        snprintf(w->err, sizeof w->err, "%s", eng_error_last()->message);
    return NULL;
}

/* The message worked to its end by f's engine and two more (each given @p hooks, when set),
 * one thread each; any engine's error fails the test. */
static void work_in_three(dx *f, worker w[3], void (*hooks)(eng_engine *e))
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){.e = i ? dx_engine(f) : f->e, .msg = f->message, .now = f->t0};
        if (i && hooks)
            hooks(w[i].e);
        assert_int_equal(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        if (w[i].rc)
            fail_msg("engine %d: %d %s", i, w[i].rc, w[i].err);
    }
}

static void threads(void **state)
{
    (void)state;
    dx f;
    world(&f, locked_batch);
    worker w[3];
    work_in_three(&f, w, NULL);
    int busy = 0;
    for (int i = 0; i < 3; i++)
        busy += w[i].batches > 0;
    assert_true(busy >= 2); /* the chunks were shared out, not worked by one engine */
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    assert_true(n > NCUST / 2);
    uint64_t pairs = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(f.prov.delivered[dx_pair(ids[i], ENG_CH_SMS)], 1); /* everyone has an SMS contact */
        for (int ch = 0; ch < DX_CH; ch++) {
            assert_true(f.prov.calls[dx_pair(ids[i], ch)] <= 1);
            pairs += f.prov.delivered[dx_pair(ids[i], ch)];
        }
    }
    free(ids);
    assert_int_equal(f.prov.key_changed, 0);
    for (int i = 0; i < 3; i++) { /* every engine reads the same figures */
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        assert_int_equal(eng_execution_get(w[i].e, "root", f.message, 0, &x), ENG_OK);
        assert_int_equal(x.state, ENG_EXEC_FINISHED);
        assert_int_equal(x.accepted, pairs);
        assert_int_equal(x.sends, pairs);
    }
    for (int i = 1; i < 3; i++)
        assert_int_equal(eng_close(w[i].e), ENG_OK);
    dx_close(&f);
}

/* ---- killed ---- */

static int log_fd = -1;
static int die_after = -1; /* in the child: batches before SIGKILL */

/* Append "customer channel key" per envelope to the shared log, then accept. */
static int logged_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    (void)user;
    for (size_t i = 0; i < n; i++) {
        char line[200];
        int len = snprintf(line, sizeof line, "%u %d %s\n", env[i].customer, env[i].channel, env[i].idempotency_key);
        if (write(log_fd, line, (size_t)len) != len)
            return ENG_ETRANSPORT;
        status[i] = ENG_SEND_ACCEPTED;
    }
    if (die_after >= 0 && die_after-- == 0)
        raise(SIGKILL); /* the provider has the batch; the engine never hears back */
    return ENG_OK;
}

static void killed(void **state)
{
    (void)state;
    dx f;
    world(&f, logged_batch);
    char log_path[700];
    snprintf(log_path, sizeof log_path, "%s/provider.log", db_dir);
    log_fd = open(log_path, O_CREAT | O_WRONLY | O_APPEND, 0600);
    assert_true(log_fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the child: its own engine and handle, killed mid-batch */
        die_after = 5;
        eng_engine *e = dx_engine(&f);
        uint64_t b = 0;
        work(e, f.message, f.t0, &b);
        _exit(3); /* not reached: killed inside its sixth batch */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    uint64_t b = 0;
    test_clock_now += 6000; /* past the dead engine's lease */
    int rc = work(f.e, f.message, f.t0, &b);
    if (rc)
        fail_msg("finish: %d %s", rc, eng_error_last()->message);
    close(log_fd);
    log_fd = -1;
    /* The log: every pair with one key; pairs = what the ledger says was accepted. */
    char **key = calloc((size_t)NCUST * DX_CH, sizeof *key);
    assert_non_null(key);
    FILE *in = fopen(log_path, "r");
    assert_non_null(in);
    unsigned c;
    int ch;
    char k[160];
    uint64_t lines = 0, distinct = 0;
    while (fscanf(in, "%u %d %159s", &c, &ch, k) == 3) {
        assert_true(c < NCUST && ch >= 0 && ch < DX_CH);
        size_t i = dx_pair(c, ch);
        lines++;
        if (!key[i]) {
            key[i] = strdup(k);
            distinct++;
        } else {
            assert_string_equal(key[i], k); /* sent again only under its key */
        }
    }
    fclose(in);
    assert_true(lines > distinct); /* the killed batch really was sent twice */
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(key[dx_pair(ids[i], ENG_CH_SMS)]);
    free(ids);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, distinct);
    for (size_t i = 0; i < (size_t)NCUST * DX_CH; i++)
        free(key[i]);
    free(key);
    dx_close(&f);
}

/* ---- coherence ---- */

static void coherence(void **state)
{
    (void)state;
    dx f;
    world(&f, dx_send_batch);
    eng_engine *b = dx_engine(&f);
    uint32_t id;
    assert_int_equal(eng_customer_find(b, "root", "c1", &id), ENG_OK); /* b has the customer table now */
    /* through f.e (another engine): c1..c8 opt out of SMS */
    const char *names[] = {"id", "optout.sms"};
    const char *vals[] = {"c1", "yes", "c2", "yes", "c3", "yes", "c4", "yes",
                          "c5", "yes", "c6", "yes", "c7", "yes", "c8", "yes"};
    assert_int_equal(eng_customers_upsert(f.e, "root", names, 2, vals, 8, NULL, NULL), ENG_OK);
    uint64_t batches = 0;
    assert_int_equal(work(b, f.message, f.t0, &batches), ENG_OK);
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    int opted = 0;
    for (size_t i = 0; i < n; i++) {
        char ext[32];
        assert_int_equal(eng_customer_external_id(b, "root", ids[i], ext, sizeof ext), ENG_OK);
        int out = ext[0] == 'c' && ext[1] >= '1' && ext[1] <= '8' && !ext[2];
        opted += out;
        assert_int_equal(f.prov.calls[dx_pair(ids[i], ENG_CH_SMS)], out ? 0 : 1);
    }
    free(ids);
    assert_true(opted > 0);
    assert_int_equal(eng_close(b), ENG_OK);
    dx_close(&f);
}

/* ---- points ---- */

/* The host's loyalty system, shared by the engines: counts awards per key's customer. */
static struct {
    pthread_mutex_t lock;
    unsigned calls[NCUST], awarded[NCUST], key_changed;
    char *key[NCUST];
} loyalty = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int loyalty_award(const eng_points_award *aw, size_t n, int *status, void *user)
{
    (void)user;
    pthread_mutex_lock(&loyalty.lock);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = aw[i].customer;
        if (c >= NCUST)
            fail_msg("award for customer %u", c);
        loyalty.calls[c]++;
        if (!loyalty.key[c]) {
            loyalty.key[c] = strdup(aw[i].idempotency_key);
            loyalty.awarded[c]++;
        } else if (strcmp(loyalty.key[c], aw[i].idempotency_key) != 0) {
            loyalty.key_changed++;
        }
        status[i] = ENG_SEND_ACCEPTED;
    }
    pthread_mutex_unlock(&loyalty.lock);
    usleep(300); /* outside the engine lock: the others take chunks meanwhile */
    return ENG_OK;
}

static void loyalty_hooks(eng_engine *e)
{
    eng_dispatch_hooks h;
    assert_int_equal(eng_dispatch_hooks_init(&h, ENG_DISPATCH_HOOKS_VERSION), ENG_OK);
    h.points = loyalty_award;
    assert_int_equal(eng_dispatch_hooks_set(e, &h, NULL), ENG_OK);
}

static void points(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, NCUST, 8, 1, 1);
    nsenders = 0;
    f.tm.send_batch = locked_batch;
    dx_reopen(&f);
    loyalty_hooks(f.e);
    eng_incentive inc = ENG_INCENTIVE_INIT;
    inc.kind = ENG_INCENTIVE_POINTS;
    inc.points = 25;
    inc.points_expiry_days = 10;
    eng_message_spec m = dx_message();
    m.incentive = &inc;
    dx_approve(&f, &m);
    worker w[3];
    work_in_three(&f, w, loyalty_hooks);
    uint64_t want = 0;
    for (uint32_t c = 0; c < NCUST; c++) {
        unsigned accepted = 0;
        for (int ch = 0; ch < DX_CH; ch++)
            accepted += f.prov.delivered[dx_pair(c, ch)];
        want += accepted > 0;
        assert_int_equal(loyalty.awarded[c], accepted > 0);
        assert_int_equal(loyalty.calls[c], accepted > 0); /* each outcome stored: nobody asked twice */
    }
    assert_true(want > NCUST / 2);
    assert_int_equal(loyalty.key_changed, 0);
    for (int i = 0; i < 3; i++) {
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        assert_int_equal(eng_execution_get(w[i].e, "root", f.message, 0, &x), ENG_OK);
        assert_int_equal(x.state, ENG_EXEC_FINISHED);
        assert_int_equal(x.points_awards, want);
        assert_int_equal(x.points_awarded, want);
        assert_int_equal(x.points, (int64_t)want * 25);
    }
    for (int i = 1; i < 3; i++)
        assert_int_equal(eng_close(w[i].e), ENG_OK);
    for (uint32_t c = 0; c < NCUST; c++)
        free(loyalty.key[c]);
    dx_close(&f);
}

/* ---- poc ---- */

static const char *const poc_to[] = {"ops@acme.test", "+1 555 999-0001"};

static struct {
    unsigned calls[2][DX_CH], key_changed, bad;
    char key[2][DX_CH][ENG_SEND_KEY_MAX + 1];
} poc_log;

/* Customers' envelopes to the fixture's provider, POC copies logged here (under plock). */
static int poc_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    pthread_mutex_lock(&plock);
    int rc = ENG_OK;
    for (size_t i = 0; i < n; i++) {
        if (env[i].customer != ENG_POC_CUSTOMER) {
            if (dx_send_batch(&env[i], 1, &status[i], user) != ENG_OK)
                rc = ENG_ETRANSPORT;
            continue;
        }
        int p = strcmp(env[i].recipient, poc_to[0]) == 0 ? 0 : strcmp(env[i].recipient, poc_to[1]) == 0 ? 1 : -1;
        int ch = env[i].channel;
        if (p < 0 || ch < 0 || ch >= DX_CH) {
            poc_log.bad++;
            continue;
        }
        if (poc_log.calls[p][ch]++ == 0)
            snprintf(poc_log.key[p][ch], sizeof poc_log.key[p][ch], "%s", env[i].idempotency_key);
        else if (strcmp(poc_log.key[p][ch], env[i].idempotency_key) != 0)
            poc_log.key_changed++;
        status[i] = ENG_SEND_ACCEPTED;
    }
    pthread_mutex_unlock(&plock);
    usleep(500);
    return rc;
}

static void poc(void **state)
{
    (void)state;
    memset(&poc_log, 0, sizeof poc_log);
    dx f;
    dx_world(&f, NCUST, 8, 1, 1);
    f.tm.send_batch = poc_batch;
    dx_reopen(&f);
    eng_delivery dlv = ENG_DELIVERY_INIT;
    dlv.poc = poc_to;
    dlv.n_poc = 2;
    eng_message_spec m = dx_message();
    m.delivery = &dlv;
    dx_approve(&f, &m);
    worker w[3];
    work_in_three(&f, w, NULL);
    /* the e-mail address on e-mail, the phone on SMS: once each, under one key */
    for (int p = 0; p < 2; p++)
        for (int ch = 0; ch < DX_CH; ch++)
            assert_int_equal(poc_log.calls[p][ch], p == 0 ? ch == ENG_CH_EMAIL : ch == ENG_CH_SMS);
    assert_int_equal(poc_log.key_changed, 0);
    assert_int_equal(poc_log.bad, 0);
    for (size_t i = 0; i < (size_t)NCUST * DX_CH; i++)
        assert_true(f.prov.calls[i] <= 1);
    assert_int_equal(f.prov.key_changed, 0);
    for (int i = 1; i < 3; i++)
        assert_int_equal(eng_close(w[i].e), ENG_OK);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(threads, setup, teardown),
        cmocka_unit_test_setup_teardown(killed, setup, teardown),
        cmocka_unit_test_setup_teardown(coherence, setup, teardown),
        cmocka_unit_test_setup_teardown(points, setup, teardown),
        cmocka_unit_test_setup_teardown(poc, setup, teardown),
    };
    return cmocka_run_group_tests_name("engines sharing one SQLite database", tests, NULL, NULL);
}
