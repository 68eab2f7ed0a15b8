/* POC recipients of the delivery settings (the seed: "the delivery setting
 * enables you to also send messages to org POC"): each execution hands every
 * POC recipient one copy per creative channel its address fits, rendered as
 * the sample, exactly once by key whatever crashes, storage faults or
 * allocation failures; the copies are not the audience: not in the
 * execution's counters, no touch, no credits, no ledger entry of a customer;
 * bad addresses refused with the field named and nothing stored. */
#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"
#include "../model/store_digest.h"

static const char *const pocs[] = {"poc1@acme.test", "+1 555 999-0001", "ops@acme.test"};
#define NPOC 3

/* The POC side of the provider: per (POC, channel) calls, first acceptances and keys. */
typedef struct plog {
    unsigned calls[NPOC][DX_CH], accepted[NPOC][DX_CH], after_final, key_changed, bad;
    unsigned char final_before[NPOC][DX_CH];
    char key[NPOC][DX_CH][ENG_SEND_KEY_MAX + 1];
    char body[NPOC][DX_CH][256], subject[NPOC][DX_CH][128];
    unsigned retry_first; /* answer "retry" to this many first calls of the SMS copy */
} plog;

static plog pl;

static int poc_index(const char *to)
{
    for (int i = 0; i < NPOC; i++)
        if (strcmp(pocs[i], to) == 0)
            return i;
    return -1;
}

static int poc_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    int rc = ENG_OK;
    for (size_t i = 0; i < n; i++) {
        if (env[i].customer != ENG_POC_CUSTOMER) {
            if (dx_send_batch(&env[i], 1, &status[i], user) != ENG_OK)
                rc = ENG_ETRANSPORT;
            continue;
        }
        int p = poc_index(env[i].recipient), ch = env[i].channel;
        if (p < 0) {
            pl.bad++;
            continue;
        }
        pl.calls[p][ch]++;
        if (pl.final_before[p][ch])
            pl.after_final++;
        if (!pl.key[p][ch][0])
            snprintf(pl.key[p][ch], sizeof pl.key[p][ch], "%s", env[i].idempotency_key);
        else if (strcmp(pl.key[p][ch], env[i].idempotency_key) != 0)
            pl.key_changed++;
        snprintf(pl.body[p][ch], sizeof pl.body[p][ch], "%.*s", (int)env[i].body_len, env[i].body);
        snprintf(pl.subject[p][ch], sizeof pl.subject[p][ch], "%s", env[i].subject);
        if (ch == ENG_CH_SMS && pl.calls[p][ch] <= pl.retry_first) {
            status[i] = ENG_SEND_RETRY;
            continue;
        }
        pl.accepted[p][ch] += pl.accepted[p][ch] == 0; /* de-duplicated by key */
        status[i] = ENG_SEND_ACCEPTED;
    }
    return rc;
}

/* The fixture's world with the POC-aware transport (the engine reopened on it). */
static void world(dx *f, size_t n, unsigned batch)
{
    memset(&pl, 0, sizeof pl);
    dx_world(f, n, batch, 1, 1);
    f->tm.send_batch = poc_batch;
    dx_reopen(f);
}

static eng_message_spec poc_message(void)
{
    static eng_delivery dlv; /* the spec returned points here: each call starts it afresh */
    dlv = (eng_delivery)ENG_DELIVERY_INIT;
    eng_message_spec m = dx_message();
    dlv.poc = pocs;
    dlv.n_poc = NPOC;
    m.delivery = &dlv;
    return m;
}

/* Copies wanted: emails on email, the phone on SMS (the message has SMS and email). */
static int wanted(int p, int ch)
{
    return p == 1 ? ch == ENG_CH_SMS : ch == ENG_CH_EMAIL;
}

static void check_copies(void)
{
    for (int p = 0; p < NPOC; p++)
        for (int ch = 0; ch < DX_CH; ch++) {
            if (pl.accepted[p][ch] != (unsigned)wanted(p, ch))
                fail_msg("POC %d channel %d accepted %u times", p, ch, pl.accepted[p][ch]);
            if (!wanted(p, ch))
                assert_int_equal(pl.calls[p][ch], 0);
        }
    assert_int_equal(pl.key_changed, 0);
    assert_int_equal(pl.after_final, 0);
    assert_int_equal(pl.bad, 0);
}

/* Customer sends the provider accepted, and what they cost. */
static unsigned customer_sends(dx *f, int64_t *cost)
{
    unsigned k = 0;
    *cost = 0;
    for (size_t i = 0; i < f->n * DX_CH; i++)
        if (f->prov.delivered[i]) {
            assert_int_equal(f->prov.delivered[i], 1);
            k++;
            *cost += i % DX_CH == ENG_CH_SMS ? 3 : 1;
        }
    return k;
}

static void copies_not_counted(void **state)
{
    (void)state;
    dx f;
    world(&f, 60, 16);
    pl.retry_first = 1;
    eng_message_spec m = poc_message();
    dx_approve(&f, &m);
    eng_time end = dx_run_all(&f, f.t0, NULL);
    assert_true(end > f.t0); /* the SMS copy waited for its retry; the execution finished after it */
    check_copies();
    assert_int_equal(pl.calls[1][ENG_CH_SMS], 2);
    /* Rendered as the sample, the key naming the POC and the channel. */
    assert_string_equal(pl.body[1][ENG_CH_SMS], "Hi there, 20% off. Reply STOP to opt out");
    assert_string_equal(pl.subject[0][ENG_CH_EMAIL], "Offer for you");
    char want[ENG_SEND_KEY_MAX + 1];
    snprintf(want, sizeof want, "acme/c%llu/m%llu.", (unsigned long long)f.campaign, (unsigned long long)f.message);
    assert_int_equal(strncmp(pl.key[2][ENG_CH_EMAIL], want, strlen(want)), 0);
    assert_non_null(strstr(pl.key[2][ENG_CH_EMAIL], "/o0/poc2/email"));
    /* Not the audience: the execution, the credits and the touches count customers only. */
    int64_t cost;
    unsigned sends = customer_sends(&f, &cost);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, sends);
    assert_int_equal(x.sends, sends);
    assert_int_equal(x.credits, cost);
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(1000000 - bal, cost);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", f.campaign, f.message, counts,
                                             ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT),
                     ENG_OK);
    uint64_t touches = 0;
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        touches += counts[i];
    assert_int_equal(touches, sends);
    /* Again and after a reopen: no copy goes twice. */
    unsigned calls = pl.calls[0][ENG_CH_EMAIL] + pl.calls[1][ENG_CH_SMS] + pl.calls[2][ENG_CH_EMAIL];
    dx_reopen(&f);
    dx_run_all(&f, end + ENG_DAY, NULL);
    assert_int_equal(pl.calls[0][ENG_CH_EMAIL] + pl.calls[1][ENG_CH_SMS] + pl.calls[2][ENG_CH_EMAIL], calls);
    dx_close(&f);
}

static void bad_addresses_refused(void **state)
{
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)state;
    dx f;
    world(&f, 10, 16);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(f.e, before);
    eng_message_spec m = poc_message();
    dlv = *m.delivery; /* start from the fixture's */
    static const char *const bad[] = {"ops@acme.test", "call me"};
    dlv.poc = bad;
    dlv.n_poc = 2;
    m.delivery = &dlv;
    eng_validation *v = NULL;
    uint64_t id = 0;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVALIDATION);
    const char *path, *msg;
    assert_int_equal(eng_validation_count(v), 1);
    eng_validation_item(v, 0, NULL, &path, &msg);
    assert_string_equal(path, "message.delivery.poc[1]");
    eng_validation_free(v);
    store_digest(f.e, after);
    assert_memory_equal(before, after, ENG__SHA256_LEN);
    /* A phone number and a message with only an email creative: the POC would get nothing. Refused at submit. */
    static const char *const phone[] = {"+15559990001"};
    m = poc_message();
    dlv = *m.delivery; /* start from the fixture's */
    dlv.poc = phone;
    dlv.n_poc = 1;
    m.delivery = &dlv;
    m.creatives = &dx_creatives[1];
    m.n_creatives = 1;
    v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_OK);
    eng_validation_free(v);
    v = NULL;
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    int found = 0;
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        eng_validation_item(v, i, NULL, &path, &msg);
        found |= strcmp(path, "message.delivery.poc[0]") == 0;
    }
    assert_true(found);
    eng_validation_free(v);
    dx_close(&f);
}

/* ---- faults ---- */

static int finals_cb(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    (void)u;
    eng__rec rec;
    assert_int_equal(eng__rec_decode(key, klen, val, vlen, ENG__REC_DSP_POC, ENG__DSP_SCHEMA, &rec), ENG_OK);
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    uint64_t n = eng__rd_uvar(&r);
    for (uint64_t i = 0; i < n; i++) { /* poc, channel, state | attempts << 3, [next_at] */
        uint8_t p = eng__rd_u8(&r), ch = eng__rd_u8(&r), sa = eng__rd_u8(&r);
        if ((sa & 7) == ENG_LEDGER_RETRY || (sa & 7) == ENG_LEDGER_UNKNOWN)
            (void)eng__rd_svar(&r);
        assert_true(p < NPOC && ch < DX_CH);
        if ((sa & 7) == ENG_LEDGER_ACCEPTED || (sa & 7) == ENG_LEDGER_REJECTED)
            pl.final_before[p][ch] = 1;
    }
    assert_true(eng__rd_ok(&r) && !eng__rd_left(&r));
    return 0;
}

static void mark_finals(dx *f)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "d/q/%016llx/", (unsigned long long)f->message);
    memset(pl.final_before, 0, sizeof pl.final_before);
    assert_int_equal(eng__kv_scan(f->e->store, prefix, (size_t)n, finals_cb, NULL), ENG_OK);
}

#define CRASH_N 100
#define CRASH_BATCH 32

static void poc_world(dx *f, size_t n, unsigned batch)
{
    world(f, n, batch);
    eng_message_spec m = poc_message();
    dx_approve(f, &m);
}

static void crash_world(dx *f) { poc_world(f, CRASH_N, CRASH_BATCH); }
static void alloc_world(dx *f) { poc_world(f, 20, 8); }

static void finish_and_check(dx *f)
{
    mark_finals(f);
    dx_run_all(f, f->t0, NULL);
    check_copies();
    int64_t cost;
    unsigned sends = customer_sends(f, &cost);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f->e, "root", f->message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, sends);
    assert_int_equal(x.credits, cost);
    assert_int_equal(f->prov.key_changed, 0);
}

/* A run that resumes an execution after a reopen looks up the execution's POC record, absent
 * when the message has no POC recipients, and succeeds: the error record is left clear
 * (engage/errors.h). It used to hold that lookup's ENG_ENOTFOUND (found by fuzz_api). */
static void resumed_run_leaves_no_error(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 40, 4, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    f.prov.fault[dx_pair(3, ENG_CH_SMS)] = DX_RETRY; /* one send waits for its retry */
    f.prov.fault[dx_pair(3, ENG_CH_EMAIL)] = DX_RETRY;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_true(rep.pending > 0 && rep.next_due > f.t0);
    dx_reopen(&f);
    eng_error_set(ENG_EBUSY, "an earlier call's error");
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK); /* nothing due yet */
    assert_int_equal(eng_error_last()->code, ENG_OK);
    assert_string_equal(eng_error_last()->detail, "");
    dx_close(&f);
}

static void crash_at_every_write(void **state)
{
    (void)state;
    const dx_crash c = {crash_world, finish_and_check, NULL, 1, NULL};
    dx_crash_counts k = dx_crash_loops(&c);
    printf("POC crash injection: %d customers and %d POC copies, batches of %d: abandoned at each of %llu storage "
           "writes, %llu commits applied-then-failed; every copy accepted exactly once\n",
           CRASH_N, 3, CRASH_BATCH, (unsigned long long)k.abandoned, (unsigned long long)k.applied);
}

static void allocation_failures(void **state)
{
    (void)state;
    /* every 4th allocation under valgrind/TSan: the plain and ASan builds fail each */
    const dx_crash c = {alloc_world, finish_and_check, NULL, test_slow_runtime() ? 4 : 1, NULL};
    uint64_t n = dx_alloc_loop(&c);
    printf("POC allocation failures: %llu runs\n", (unsigned long long)n);
    assert_true(n > 10);
}

/* A conflict with another engine at every commit of the execution (dx_conflict_loop). */
static void conflict_at_every_commit(void **state)
{
    (void)state;
    const dx_crash c = {alloc_world, finish_and_check, NULL, test_slow_runtime() ? 3 : 1, NULL};
    unsigned k = dx_conflict_loop(&c);
    printf("POC on a shared store: a conflict at each of %u commits; every copy accepted exactly once\n", k);
    assert_true(k > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_not_counted),
        cmocka_unit_test(bad_addresses_refused),
        cmocka_unit_test(resumed_run_leaves_no_error),
        cmocka_unit_test(crash_at_every_write),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(conflict_at_every_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
