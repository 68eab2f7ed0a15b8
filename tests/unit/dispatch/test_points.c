/* Loyalty points through the host's callback (eng_dispatch_hooks version 3):
 * once per customer per occurrence, when the customer's first send is
 * accepted, with a deterministic key; the host's answers (accepted, rejected,
 * retry, unknown, an error, none) and what each leaves in the ledger; awards
 * waiting while no callback is set; and the crash, storage-fault and
 * allocation-failure loops: every run ends with each eligible customer
 * awarded exactly once by a host that de-duplicates by key, no key asked
 * again after its stored final outcome, the counters adding up. */
#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"
#include "test_feed.h"

#define PTS 50
#define PTS_DAYS 30

enum { PH_OK = 0, PH_REJECT, PH_RETRY, PH_UNKNOWN, PH_UNANSWERED };

/* The host's loyalty system: de-duplicates by key, remembers what it was asked. */
typedef struct ph {
    size_t n;
    unsigned calls[1024];    /* per customer: awards asked */
    unsigned awarded[1024];  /* per customer: first acceptances of its key (must end at 1 or 0) */
    char *key[1024];         /* per customer: the key first seen */
    unsigned char final_before[1024];
    unsigned char fault[1024];      /* per customer: PH_* */
    unsigned fault_times[1024];     /* how many calls the fault lasts (0: for ever) */
    unsigned key_changed, after_final, batches, bad_fields, attempt_wrong;
    int broken;                     /* the next call returns an error */
    const char *org;
    eng_time due;
    uint32_t occ; /* the occurrence being worked */
} ph;

static ph host;

static int ph_award(const eng_points_award *aw, size_t n, int *status, void *user)
{
    ph *h = user;
    h->batches++;
    if (h->broken) {
        h->broken--;
        return ENG_ETRANSPORT;
    }
    for (size_t i = 0; i < n; i++) {
        const eng_points_award *a = &aw[i];
        assert_true(a->customer < h->n);
        uint32_t c = a->customer;
        h->calls[c]++;
        if (h->final_before[c])
            h->after_final++;
        if (!h->key[c])
            h->key[c] = strdup(a->idempotency_key);
        else if (strcmp(h->key[c], a->idempotency_key) != 0)
            h->key_changed++;
        char want[64];
        snprintf(want, sizeof want, "/u%u/points", c);
        size_t kl = strlen(a->idempotency_key);
        if (a->version != ENG_POINTS_AWARD_VERSION || a->points != PTS || a->expiry_days != PTS_DAYS ||
            strcmp(a->org, "acme") != 0 || strncmp(a->idempotency_key, "acme/c", 6) != 0 || kl < strlen(want) ||
            strcmp(a->idempotency_key + kl - strlen(want), want) != 0 ||
            a->expires_at != h->due + (eng_time)PTS_DAYS * ENG_DAY || a->occurrence != h->occ)
            h->bad_fields++;
        if (a->attempt != h->calls[c])
            h->attempt_wrong++;
        int f = h->fault[c];
        if (f && h->fault_times[c] && h->calls[c] > h->fault_times[c])
            f = PH_OK;
        switch (f) {
        case PH_REJECT: status[i] = ENG_SEND_REJECTED; break;
        case PH_RETRY: status[i] = ENG_SEND_RETRY; break;
        case PH_UNKNOWN: /* awarded; the answer was lost */
            h->awarded[c] += h->awarded[c] == 0;
            status[i] = ENG_SEND_UNKNOWN;
            break;
        case PH_UNANSWERED: break;
        default:
            h->awarded[c] += h->awarded[c] == 0;
            status[i] = ENG_SEND_ACCEPTED;
        }
    }
    return ENG_OK;
}

static void ph_reset(size_t n)
{
    for (size_t i = 0; i < 1024; i++)
        free(host.key[i]);
    memset(&host, 0, sizeof host);
    host.n = n;
}

static void set_hooks(dx *f)
{
    eng_dispatch_hooks h;
    assert_int_equal(eng_dispatch_hooks_init(&h, ENG_DISPATCH_HOOKS_VERSION), ENG_OK);
    h.points = ph_award;
    assert_int_equal(eng_dispatch_hooks_set(f->e, &h, &host), ENG_OK);
}

static eng_message_spec points_message(void)
{
    static eng_incentive inc; /* the spec returned points here: each call starts it afresh */
    inc = (eng_incentive)ENG_INCENTIVE_INIT;
    eng_message_spec m = dx_message();
    inc.kind = ENG_INCENTIVE_POINTS;
    inc.points = PTS;
    inc.points_expiry_days = PTS_DAYS;
    m.incentive = &inc;
    return m;
}

static void world(dx *f, size_t n, unsigned batch)
{
    assert_true(n <= 1024);
    ph_reset(n);
    dx_world(f, n, batch, 1, 1);
    set_hooks(f);
    eng_message_spec m = points_message();
    dx_approve(f, &m);
    host.due = f->t0;
}

static void reopen(dx *f)
{
    dx_reopen(f);
    set_hooks(f);
}

/* Customers due an award: a send of theirs accepted by the provider (its own log). */
static size_t eligible(dx *f, unsigned char *want)
{
    size_t k = 0;
    for (size_t c = 0; c < f->n; c++) {
        want[c] = 0;
        for (int ch = 0; ch < DX_CH; ch++)
            if (f->prov.delivered[dx_pair((uint32_t)c, ch)]) /* the provider accepted it */
                want[c] = 1;
        k += want[c];
    }
    return k;
}

/* Each wanted customer awarded once, nobody else asked, no key changed or asked after its final outcome. */
static void check_awards(dx *f, const unsigned char *want, size_t k, const unsigned char *rejected)
{
    size_t got = 0;
    for (size_t c = 0; c < f->n; c++) {
        if (want[c] && !(rejected && rejected[c])) {
            if (host.awarded[c] != 1)
                fail_msg("customer %zu awarded %u times", c, host.awarded[c]);
            got++;
        } else {
            assert_int_equal(host.awarded[c], 0);
            if (!want[c])
                assert_int_equal(host.calls[c], 0);
        }
    }
    size_t nrej = 0;
    for (size_t c = 0; rejected && c < f->n; c++)
        nrej += rejected[c];
    assert_int_equal(got + nrej, k);
    assert_int_equal(host.key_changed, 0);
    assert_int_equal(host.after_final, 0);
    assert_int_equal(host.bad_fields, 0);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f->e, "root", f->message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.points_awards, k);
    assert_int_equal(x.points_awarded, got);
    assert_int_equal(x.points_rejected, nrej);
    assert_int_equal(x.points_expired, 0);
    assert_int_equal(x.points, (int64_t)got * PTS);
}

static void awards_once_per_customer(void **state)
{
    (void)state;
    dx f;
    ph_reset(60);
    dx_world(&f, 60, 16, 1, 1);
    eng_message_spec m = points_message();
    /* Without a points callback the execution is refused, with the reason. */
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_REFUSED);
    assert_non_null(strstr(x.reason, "points callback"));
    assert_int_equal(f.prov.envelopes, 0);
    dx_close(&f);

    world(&f, 60, 16);
    /* Every send of customers 3 and 4 rejected: no award; customer 6's SMS rejected, its email accepted: one. */
    for (int ch = 0; ch < DX_CH; ch++) {
        f.prov.fault[dx_pair(3, ch)] = DX_REJECT;
        f.prov.fault[dx_pair(4, ch)] = DX_REJECT;
    }
    f.prov.fault[dx_pair(6, ENG_CH_SMS)] = DX_REJECT;
    dx_run_all(&f, f.t0, NULL);
    unsigned char want[1024];
    size_t k = eligible(&f, want);
    assert_int_equal(want[3] + want[4], 0);
    assert_int_equal(want[6], 1);
    check_awards(&f, want, k, NULL);
    for (size_t c = 0; c < f.n; c++) /* one call each: the outcome was stored */
        assert_int_equal(host.calls[c], want[c]);
    /* The control group and those reachable on nothing were never asked: only test-group customers. */
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    unsigned char in_test[1024] = {0};
    for (size_t i = 0; i < n; i++)
        in_test[ids[i]] = 1;
    for (size_t c = 0; c < f.n; c++)
        if (!in_test[c])
            assert_int_equal(host.calls[c], 0);
    free(ids);
    /* Again, and after a reopen: nobody is asked again. */
    unsigned batches = host.batches;
    dx_run_all(&f, f.t0 + ENG_DAY, NULL);
    reopen(&f);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0 + 2 * ENG_DAY, NULL, &rep), ENG_OK);
    assert_int_equal(host.batches, batches);
    /* Points are not credits: the campaign balance paid the sends only. */
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(1000000 - bal, x.credits);
    /* A version-1 reader of the execution gets no points fields (nothing written past them). */
    unsigned char raw[sizeof(eng_execution_info) + 16];
    memset(raw, 0x5a, sizeof raw);
    eng_execution_info *x1 = (eng_execution_info *)(void *)raw;
    x1->version = 1;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, x1), ENG_OK);
    for (size_t i = offsetof(eng_execution_info, reason) + sizeof x1->reason; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0x5a);
    dx_close(&f);
    ph_reset(0);
}

/* The host's answers: retry and unknown are asked again with the same key after the
 * backoff, rejected never again, no answer counts as unknown, and after
 * ENG_SEND_MAX_ATTEMPTS unanswered calls the award expires. */
static void host_answers(void **state)
{
    (void)state;
    dx f;
    world(&f, 40, 8);
    size_t nt;
    uint32_t *t = dx_test_group(&f, &nt);
    assert_true(nt > 12);
    uint32_t retry = t[1], unknown = t[2], reject = t[3], late = t[9], never = t[12];
    free(t);
    host.fault[retry] = PH_RETRY, host.fault_times[retry] = 2;
    host.fault[unknown] = PH_UNKNOWN, host.fault_times[unknown] = 1;
    host.fault[reject] = PH_REJECT;
    host.fault[late] = PH_UNANSWERED, host.fault_times[late] = 3;
    host.fault[never] = PH_UNANSWERED; /* never answers */
    eng_time end = dx_run_all(&f, f.t0, NULL);
    assert_true(end > f.t0); /* the clock moved over backoffs */
    unsigned char want[1024];
    size_t k = eligible(&f, want);
    assert_true(want[retry] && want[unknown] && want[reject] && want[late] && want[never]);
    assert_int_equal(host.calls[retry], 3);
    assert_int_equal(host.calls[unknown], 2);
    assert_int_equal(host.calls[reject], 1);
    assert_int_equal(host.calls[late], 4);
    assert_int_equal(host.calls[never], ENG_SEND_MAX_ATTEMPTS);
    assert_int_equal(host.key_changed, 0);
    assert_int_equal(host.attempt_wrong, 0);
    assert_int_equal(host.bad_fields, 0);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.points_awards, k);
    assert_int_equal(x.points_rejected, 1);
    assert_int_equal(x.points_expired, 1);
    assert_int_equal(x.points_awarded, k - 2);
    assert_int_equal(x.points, (int64_t)(k - 2) * PTS);
    for (size_t c = 0; c < f.n; c++)
        assert_int_equal(host.awarded[c], want[c] && c != reject && c != never);
    dx_close(&f);
    ph_reset(0);
}

/* Hooks are not stored: after a reopen without them the awards wait (nothing lost, no
 * attempt counted) and the execution is not finished; once set, they are made. */
static void awards_wait_for_the_callback(void **state)
{
    (void)state;
    dx f;
    world(&f, 30, 8);
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 1; /* one transport batch: its customers' awards are due, not yet made */
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    host.broken = 1; /* and the first award call fails */
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_OK);
    dx_reopen(&f); /* no hooks */
    eng_time now = f.t0;
    for (int i = 0; i < 20; i++) {
        rep = (eng_run_report)ENG_RUN_REPORT_INIT;
        assert_int_equal(eng_run_due(f.e, "root", now, NULL, &rep), ENG_OK);
        now = rep.next_due > now ? rep.next_due : now + ENG_HOUR;
    }
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_RUNNING);
    assert_true(x.points_awards > 0);
    assert_int_equal(x.points_awarded + x.points_expired, 0);
    assert_true(rep.pending > 0);
    set_hooks(&f);
    dx_run_all(&f, now, NULL);
    unsigned char want[1024];
    size_t k = eligible(&f, want);
    check_awards(&f, want, k, NULL);
    dx_close(&f);
    ph_reset(0);
}

static int opened_pick(uint32_t customer, int channel, void *user)
{
    (void)customer, (void)channel, (void)user;
    return ENG_TOUCH_OPENED;
}

/* A recurring message: every occurrence awards its customers once more, each with its own key. */
static void awards_per_occurrence(void **state)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    (void)state;
    dx f;
    ph_reset(40);
    dx_world(&f, 40, 16, 1, 1);
    set_hooks(&f);
    eng_message_spec m = points_message();
    sched = *m.schedule; /* start from the fixture's */
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.every = 1;
    sched.unit = ENG_EVERY_DAYS;
    sched.until = m.schedule->at + ENG_DAY;
    m.schedule = &sched;
    dx_approve(&f, &m);
    char first_key[ENG_SEND_KEY_MAX + 1] = "";
    unsigned char pair_sent[40 * DX_CH] = {0}, cust_sent[40] = {0};
    size_t sends = 0;
    for (uint32_t occ = 0; occ < 2; occ++) {
        host.occ = occ;
        host.due = f.t0 + (eng_time)occ * ENG_DAY;
        dx_run_occurrence(&f, occ, host.due);
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        assert_int_equal(eng_execution_get(f.e, "root", f.message, occ, &x), ENG_OK);
        unsigned char want[1024];
        size_t k = eligible(&f, want);
        assert_true(k > 0);
        char o[16];
        snprintf(o, sizeof o, "/o%u/", occ);
        for (size_t c = 0; c < f.n; c++) {
            assert_int_equal(host.awarded[c], want[c]);
            if (want[c])
                assert_non_null(strstr(host.key[c], o));
            if (want[c] && occ == 0 && !first_key[0])
                snprintf(first_key, sizeof first_key, "%s", host.key[c]);
            if (want[c] && occ == 1)
                assert_string_not_equal(host.key[c], first_key);
        }
        assert_int_equal(host.bad_fields, 0);
        assert_int_equal(x.points_awards, k);
        assert_int_equal(x.points_awarded, k);
        assert_int_equal(x.points, (int64_t)k * PTS);
        dx_receipts(&f, host.due + ENG_HOUR, opened_pick, NULL);
        for (uint32_t c = 0; c < f.n; c++)
            for (int ch = 0; ch < DX_CH; ch++)
                if (f.prov.delivered[dx_pair(c, ch)]) {
                    pair_sent[dx_pair(c, ch)] = cust_sent[c] = 1;
                    sends++;
                }
        /* The next occurrence: a provider and a host log of its own (new keys). */
        dx_provider_free(&f.prov);
        dx_provider_init(&f.prov, f.n);
        ph_reset(f.n);
    }
    /* The report counts every occurrence's sends (each occurrence a sending of its own, as
     * the ledger charges it), and customers once over the occurrences. */
    size_t pairs = 0, custs = 0;
    for (size_t i = 0; i < sizeof pair_sent; i++)
        pairs += pair_sent[i];
    for (size_t i = 0; i < sizeof cust_sent; i++)
        custs += cust_sent[i];
    assert_true(sends > pairs); /* customers were sent to in both occurrences */
    eng_report *r = NULL;
    eng_report_figures tot = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &tot), ENG_OK);
    eng_report_free(r);
    assert_int_equal(tot.sent, sends);
    assert_int_equal(tot.delivered, sends);
    assert_int_equal(tot.opened, sends);
    assert_int_equal(tot.contacted, custs);
    eng_message *msg;
    assert_int_equal(eng_message_get(f.e, "root", f.message, &msg), ENG_OK);
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(msg, &st), ENG_OK);
    assert_int_equal(st.state, ENG_STATE_EXECUTED);
    eng_message_free(msg);
    dx_close(&f);
    ph_reset(0);
}

/* ---- faults ---- */

static int finals_cb(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    dx *f = u;
    eng__rec rec;
    eng__chunk c;
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__rec_decode(key, klen, val, vlen, ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &rec), ENG_OK);
    assert_int_equal(eng__chunk_decode(&f->e->mem, "chunk", rec.schema, rec.payload, rec.len, &c), ENG_OK);
    for (uint32_t i = 0; i < c.npts; i++)
        if (c.pts[i].state == ENG_LEDGER_ACCEPTED || c.pts[i].state == ENG_LEDGER_REJECTED)
            host.final_before[c.cust[c.pts[i].cust].id] = 1;
    eng__chunk_free(&c);
    return 0;
}

/* What the stored ledger says is final (read raw, as another process would): asking again is flagged. */
static void mark_finals(dx *f)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "d/l/%016llx/", (unsigned long long)f->message);
    memset(host.final_before, 0, sizeof host.final_before);
    assert_int_equal(eng__kv_scan(f->e->store, prefix, (size_t)n, finals_cb, f), ENG_OK);
}

#define CRASH_N 200
#define CRASH_BATCH 64

static void crash_world(dx *f) { world(f, CRASH_N, CRASH_BATCH); }
static void alloc_world(dx *f) { world(f, 24, 8); }
static void after_trial(void) { ph_reset(0); }

/* The reopened (or same) engine: run to the end; one award per eligible customer. */
static void resume(dx *f)
{
    set_hooks(f);
    mark_finals(f);
    dx_run_all(f, f->t0, NULL);
    unsigned char want[1024];
    size_t k = eligible(f, want);
    check_awards(f, want, k, NULL);
    assert_int_equal(f->prov.key_changed, 0);
}

static void crash_at_every_write(void **state)
{
    (void)state;
    /* every 4th write under valgrind/TSan: the plain and ASan builds try each */
    const dx_crash c = {crash_world, resume, after_trial, test_slow_runtime() ? 4 : 1, NULL};
    dx_crash_counts k = dx_crash_loops(&c);
    printf("points crash injection: %d customers, batches of %d: abandoned at each of %llu storage writes, "
           "%llu commits applied-then-failed; every run resumed to exactly one award per eligible customer\n",
           CRASH_N, CRASH_BATCH, (unsigned long long)k.abandoned, (unsigned long long)k.applied);
}

/* An allocation failure at every allocation of a run (once): ENG_OK or ENG_ENOMEM, and the
 * run resumed afterwards awards each eligible customer once. */
static void allocation_failures(void **state)
{
    (void)state;
    /* every 4th allocation under valgrind/TSan: the plain and ASan builds fail each */
    const dx_crash c = {alloc_world, resume, after_trial, test_slow_runtime() ? 4 : 1, NULL};
    uint64_t n = dx_alloc_loop(&c);
    printf("points allocation failures: %llu runs\n", (unsigned long long)n);
    assert_true(n > 10);
}

/* Several engines on one store: another engine's commit makes the outcome batch of a send
 * fail with ENG_EBUSY (as a serialization failure does), and the engine settles the same
 * answers again and retries. The awards the first try added to the chunk are due once and
 * counted once: every eligible customer awarded once, the counters as without conflicts. */
static test_feed *busy_feed;

static int busy_send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    busy_feed->busy_writer = 1; /* the outcome's first commit, right after this call */
    busy_feed->busy_commits = 1;
    return dx_send_batch(env, n, status, user);
}

static void outcome_retried_after_conflict(void **state)
{
    (void)state;
    dx f;
    world(&f, 60, 16);
    assert_int_equal(eng_close(f.e), ENG_OK);
    test_feed feed;
    test_feed_init(&feed);
    busy_feed = &feed;
    f.tm.send_batch = busy_send_batch;
    f.e = dx_engine_on(&f, test_feed_store(f.ts, &feed, 1));
    set_hooks(&f);
    dx_run_all(&f, f.t0, NULL);
    assert_int_equal(feed.busy_commits, 0); /* the conflicts happened */
    unsigned char want[1024];
    size_t k = eligible(&f, want);
    assert_true(k > 30);
    check_awards(&f, want, k, NULL);
    for (size_t c = 0; c < f.n; c++) /* the conflict came after the call: nobody asked twice */
        assert_int_equal(host.calls[c], want[c]);
    dx_close(&f);
    test_feed_free(&feed);
    busy_feed = NULL;
    ph_reset(0);
}

/* A conflict with another engine at every commit of the execution (dx_conflict_loop). */
static void conflict_at_every_commit(void **state)
{
    (void)state;
    const dx_crash c = {alloc_world, resume, after_trial, test_slow_runtime() ? 3 : 1, set_hooks};
    unsigned k = dx_conflict_loop(&c);
    printf("points on a shared store: a conflict at each of %u commits; every run finished with one award per "
           "eligible customer\n", k);
    assert_true(k > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(awards_once_per_customer),
        cmocka_unit_test(host_answers),
        cmocka_unit_test(awards_wait_for_the_callback),
        cmocka_unit_test(awards_per_occurrence),
        cmocka_unit_test(crash_at_every_write),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(outcome_retried_after_conflict),
        cmocka_unit_test(conflict_at_every_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
