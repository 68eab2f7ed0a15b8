/* Eight threads on one engine doing everything at once: two execute the same
 * message (eng_run_due), two append the provider's receipts for what it has
 * accepted, one appends transactions, one creates campaigns, one reads
 * execution state, credits and status counts, one reads customers' touches and
 * transactions. At the end every pair was sent exactly once, every receipt and
 * transaction is stored once, every campaign got its own id, and the readers
 * only ever saw consistent figures (status counts never above the sends). A
 * receipt that beats its send's commit waits pending and joins it: none is left.
 * Meant for ThreadSanitizer too (scripts/test.sh stage 6). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dispatch_fixture.h"

#define NCUST 600
#define NCAMP 24
#define NTXN 300

static pthread_mutex_t plock = PTHREAD_MUTEX_INITIALIZER;

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

/* The provider is shared with the receipt threads: guard it. */
static int locked_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    pthread_mutex_lock(&plock);
    int rc = dx_send_batch(env, n, status, user);
    pthread_mutex_unlock(&plock);
    sleep_us(300); /* at the provider, outside the engine lock */
    return rc;
}

typedef struct shared {
    dx *f;
    atomic_int sending_done, all_done;
    atomic_uint receipts_stored, txns_stored, reads;
    uint64_t campaigns[NCAMP];
} shared;

typedef struct targ {
    shared *s;
    int who, rc;
    char what[96];
} targ;

static void *fail_at(targ *a, int rc, const char *what)
{
    a->rc = rc;
    snprintf(a->what, sizeof a->what, "%s: %s", what, eng_error_last()->message);
    return NULL;
}

static void *runner(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    for (int i = 0; i < 5000; i++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f->e, "root", f->t0, NULL, &rep);
        if (rc)
            return fail_at(a, rc, "run_due");
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        if ((rc = eng_execution_get(f->e, "root", f->message, 0, &x)))
            return fail_at(a, rc, "execution_get");
        if (x.state == ENG_EXEC_FINISHED)
            break;
        sleep_us(200);
    }
    atomic_fetch_add(&a->s->sending_done, 1);
    return NULL;
}

/* Receipts for pairs the provider accepted: thread 0 takes even customers, 1 odd. */
static void *receipter(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    unsigned char *done = calloc(f->n * DX_CH, 1);
    if (!done)
        return fail_at(a, ENG_ENOMEM, "calloc");
    for (;;) {
        int last = atomic_load(&a->s->sending_done) == 2;
        const char *keys[32];
        char *own[32];
        int st[32];
        eng_time t[32];
        size_t n = 0;
        pthread_mutex_lock(&plock);
        for (size_t i = 0; i < f->n * DX_CH && n < 32; i++)
            if ((i / DX_CH) % 2 == (size_t)a->who && f->prov.delivered[i] && !done[i]) {
                done[i] = 1;
                own[n] = strdup(f->prov.key[i]);
                keys[n] = own[n];
                st[n] = ENG_TOUCH_DELIVERED;
                t[n] = f->t0 + 60000;
                n++;
            }
        pthread_mutex_unlock(&plock);
        if (n) {
            eng_receipts r = ENG_RECEIPTS_INIT;
            r.count = n;
            r.keys = keys;
            r.statuses = st;
            r.times = t;
            eng_event_report rep = ENG_EVENT_REPORT_INIT;
            int rc = eng_touch_append(f->e, &r, &rep);
            for (size_t i = 0; i < n; i++)
                free(own[i]);
            if (rc) {
                free(done);
                return fail_at(a, rc, "touch_append");
            }
            /* A receipt can beat its send's commit (the provider answers before run_due stores
             * the outcome): it is kept pending and joins the send then, never lost. */
            if (rep.accepted + rep.unmatched + rep.duplicates != n) {
                free(done);
                return fail_at(a, ENG_ECORRUPT, "receipt neither stored nor kept pending");
            }
            atomic_fetch_add(&a->s->receipts_stored, (unsigned)n);
        } else if (last) {
            break;
        } else {
            sleep_us(200);
        }
    }
    free(done);
    return NULL;
}

static void *txn_writer(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    for (int i = 0; i < NTXN; i += 10) {
        char idb[10][24], cb[10][24];
        const char *ids[10], *cust[10];
        eng_time t[10];
        int64_t amt[10];
        for (int k = 0; k < 10; k++) {
            snprintf(idb[k], sizeof idb[k], "tx%d", i + k);
            snprintf(cb[k], sizeof cb[k], "c%d", (i + k) * 7 % NCUST);
            ids[k] = idb[k];
            cust[k] = cb[k];
            t[k] = f->t0 + (i + k) * 1000;
            amt[k] = 10000 * (i + k + 1);
        }
        eng_txn_batch b = ENG_TXN_BATCH_INIT;
        b.count = 10;
        b.ids = ids;
        b.customers = cust;
        b.times = t;
        b.amounts = amt;
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        int rc = eng_txn_append(f->e, "acme", &b, NULL, &rep);
        if (rc)
            return fail_at(a, rc, "txn_append");
        atomic_fetch_add(&a->s->txns_stored, (unsigned)rep.accepted);
        sleep_us(300);
    }
    return NULL;
}

static void *campaign_writer(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    for (int i = 0; i < NCAMP; i++) {
        char name[32];
        snprintf(name, sizeof name, "Stress %d", i);
        eng_campaign_spec c;
        eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
        c.name = name;
        c.start = test_clock_now + ENG_DAY;
        c.end = test_clock_now + 30 * ENG_DAY;
        c.objective = ENG_OBJ_BOOST_SALES;
        int rc = eng_campaign_create(f->e, "ann", &c, &a->s->campaigns[i], NULL);
        if (rc)
            return fail_at(a, rc, "campaign_create");
        sleep_us(500);
    }
    return NULL;
}

static void *state_reader(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    while (!atomic_load(&a->s->all_done)) {
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        int64_t bal;
        uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
        int rc = eng_execution_get(f->e, "root", f->message, 0, &x);
        if (!rc)
            rc = eng_credits_balance(f->e, "root", ENG_CREDITS_CAMPAIGN, &bal);
        if (!rc)
            rc = eng_touch_status_counts(f->e, "acme", f->campaign, f->message, counts,
                                         ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT);
        if (rc)
            return fail_at(a, rc, "state read");
        uint64_t furthest = 0;
        for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
            furthest += counts[i];
        if (bal < 0) /* credits are charged exactly, never overdrawn */
            return fail_at(a, ENG_ECORRUPT, "negative credit balance");
        if (furthest > f->n * 2) /* at most two channels per customer in this world */
            return fail_at(a, ENG_ECORRUPT, "more sends than pairs");
        atomic_fetch_add(&a->s->reads, 1);
        sleep_us(500);
    }
    return NULL;
}

static int count_touch(const eng_touch_row *row, void *user)
{
    (void)row;
    (*(unsigned *)user)++;
    return 0;
}

static int count_txn(const eng_txn_row *row, void *user)
{
    (void)row;
    (*(unsigned *)user)++;
    return 0;
}

static void *customer_reader(void *p)
{
    targ *a = p;
    dx *f = a->s->f;
    uint32_t c = 0;
    while (!atomic_load(&a->s->all_done)) {
        unsigned nt = 0, nx = 0;
        char ext[16];
        snprintf(ext, sizeof ext, "c%u", c);
        int rc = eng_touches_of_customer(f->e, "acme", c, count_touch, &nt);
        if (!rc)
            rc = eng_txn_scan(f->e, "acme", ext, 0, INT64_MAX, count_txn, &nx);
        if (rc)
            return fail_at(a, rc, "customer read");
        if (nt > 2 * 2 || nx > NTXN) /* a pair has at most sent + delivered here */
            return fail_at(a, ENG_ECORRUPT, "impossible customer history");
        c = (c + 13) % NCUST;
        atomic_fetch_add(&a->s->reads, 1);
        sleep_us(300);
    }
    return NULL;
}

static void eight_threads(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, NCUST, 16, 2, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    assert_int_equal(eng_close(f.e), ENG_OK);
    f.tm.send_batch = locked_batch;
    f.e = dx_engine(&f);
    shared s;
    memset(&s, 0, sizeof s);
    s.f = &f;
    void *(*fn[8])(void *) = {runner, runner, receipter, receipter, txn_writer, campaign_writer, state_reader,
                              customer_reader};
    int who[8] = {0, 1, 0, 1, 0, 0, 0, 0};
    targ a[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (targ){&s, who[i], 0, ""};
        assert_int_equal(pthread_create(&t[i], NULL, fn[i], &a[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    atomic_store(&s.all_done, 1);
    pthread_join(t[6], NULL);
    pthread_join(t[7], NULL);
    for (int i = 0; i < 8; i++) {
        if (a[i].rc)
            fprintf(stderr, "thread %d: %s\n", i, a[i].what);
        assert_int_equal(a[i].rc, ENG_OK);
    }

    /* Exactly once, and every accepted send has its one receipt. */
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    uint64_t delivered = 0;
    for (size_t i = 0; i < f.n * DX_CH; i++) {
        assert_true(f.prov.calls[i] <= 1);
        delivered += f.prov.delivered[i];
    }
    assert_int_equal(delivered, x.accepted);
    assert_int_equal(atomic_load(&s.receipts_stored), delivered);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], by_status[ENG_TOUCH_STATUS_COUNT] = {0};
    assert_int_equal(eng_touch_status_counts(f.e, "acme", f.campaign, f.message, counts,
                                             ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        by_status[i % ENG_TOUCH_STATUS_COUNT] += counts[i];
    assert_int_equal(by_status[ENG_TOUCH_DELIVERED], delivered);
    assert_int_equal(by_status[ENG_TOUCH_SENT], 0);
    uint64_t pending = 1;
    assert_int_equal(eng_touch_pending(f.e, &pending), ENG_OK);
    assert_int_equal(pending, 0);

    /* Every transaction once; every campaign its own id. */
    assert_int_equal(atomic_load(&s.txns_stored), NTXN);
    unsigned nx = 0;
    for (uint32_t c = 0; c < NCUST; c++) {
        char ext[16];
        snprintf(ext, sizeof ext, "c%u", c);
        assert_int_equal(eng_txn_scan(f.e, "acme", ext, 0, INT64_MAX, count_txn, &nx), ENG_OK);
    }
    assert_int_equal(nx, NTXN);
    for (int i = 0; i < NCAMP; i++) {
        assert_true(s.campaigns[i] != 0 && s.campaigns[i] != f.campaign);
        for (int j = 0; j < i; j++)
            assert_true(s.campaigns[i] != s.campaigns[j]);
    }
    printf("eight threads: %llu sends, %u receipts, %u transactions, %d campaigns, %u reads meanwhile\n",
           (unsigned long long)x.accepted, atomic_load(&s.receipts_stored), atomic_load(&s.txns_stored), NCAMP,
           atomic_load(&s.reads));
    assert_true(atomic_load(&s.reads) > 0);

    /* The same state survives a reopen. */
    dx_reopen(&f);
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.accepted, delivered);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eight_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
