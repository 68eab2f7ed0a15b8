/* One scenario harness for the fault loops (reliability suite): each main
 * scenario — open, import customers, resolve and freeze an audience, approve a
 * message, import transactions, execute, ingest receipts, attribute and
 * report, compact, erase customers, export a customer — is written once as
 * set-up + action, and every loop below
 * drives all of them:
 *   - allocation N fails, once and from then on;
 *   - storage call N fails: a plain error, and a commit that applies but
 *     reports failure;
 *   - crash at storage write N: every later write is lost, the engine is
 *     abandoned (its open batch dropped), and a new engine opens the store;
 *   - read N returns OK with one bit flipped: the call answers ENG_ECORRUPT
 *     (or did not need the value), never a wrong result;
 *   - a scan stops early with a storage error after N-1 keys, and the N-th key
 *     a scan delivers has one bit flipped (same rule as a flipped read).
 * A scenario that answers something (open, resolve, report) also leaves a
 * digest of its answer: whenever it says ENG_OK, under any fault, the answer
 * equals the fault-free one.
 * Each trial ends in success or a clean error with no leak; the next open
 * accepts the store; an atomic scenario leaves exactly the state before or
 * after; and retrying the action without faults (for an atomic one only if
 * nothing was applied) reaches exactly the state of a fault-free run, with
 * every pair sent at most once and the audit chain verifying. N grows until a
 * trial completes without any injected fault. */
#include "dispatch_fixture.h"

#define NCUST 40

/* The digest of the last action's answer (0 when it answers nothing). */
static uint64_t answer;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

typedef struct scenario {
    const char *name;
    int atomic;                     /* one storage batch: before or after, nothing between */
    int changes;                    /* a fault-free run changes the digest (so the loops can see it) */
    void (*prepare)(dx *f);         /* state before the action (no faults) */
    int (*action)(dx *f);           /* the call under test; ENG_OK or an error */
} scenario;

/* ------------------------------------------------------------ state digest */

/* What a host can see, without ids a failed attempt may have consumed. */
typedef struct digest {
    uint64_t customers, txns, pending, sent_pairs, exec_state, exec_accepted;
    uint64_t found; /* bit i: customer c<i> of the first 16 can be found (erasure) */
    uint64_t counts[ENG_TOUCH_STATUS_COUNT];
    int msg_state;
    int64_t credits;
} digest;

static int count_txn(const eng_txn_row *row, void *user)
{
    (void)row;
    (*(uint64_t *)user)++;
    return 0;
}

static void take(dx *f, digest *d)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(eng_customers_count(f->e, "root", &d->customers), ENG_OK);
    for (int i = 0; i < 16; i++) {
        char ext[16];
        uint32_t id;
        snprintf(ext, sizeof ext, "c%d", i);
        int rc = eng_customer_find(f->e, "root", ext, &id);
        assert_true(rc == ENG_OK || rc == ENG_ENOTFOUND);
        d->found |= (uint64_t)(rc == ENG_OK) << i;
    }
    assert_int_equal(eng_txn_scan(f->e, "acme", NULL, INT64_MIN, INT64_MAX, count_txn, &d->txns), ENG_OK);
    assert_int_equal(eng_touch_pending(f->e, &d->pending), ENG_OK);
    uint64_t c[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    assert_int_equal(eng_touch_status_counts(f->e, "acme", f->campaign, 0, c, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT),
                     ENG_OK);
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        d->counts[i % ENG_TOUCH_STATUS_COUNT] += c[i];
    d->msg_state = -1;
    if (f->message) {
        eng_message *m = NULL;
        assert_int_equal(eng_message_get(f->e, "root", f->message, &m), ENG_OK);
        eng_message_status st = ENG_MESSAGE_STATUS_INIT;
        assert_int_equal(eng_message_status_get(m, &st), ENG_OK);
        d->msg_state = st.state;
        eng_message_free(m);
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        if (eng_execution_get(f->e, "root", f->message, 0, &x) == ENG_OK) {
            d->exec_state = (uint64_t)x.state + 1;
            d->exec_accepted = x.accepted;
        }
    }
    assert_int_equal(eng_credits_balance(f->e, "root", ENG_CREDITS_CAMPAIGN, &d->credits), ENG_OK);
    /* The provider de-duplicates by idempotency key: a pair is sent once as long as every
     * attempt of it carries the same key. */
    assert_int_equal(f->prov.key_changed, 0);
    for (size_t i = 0; i < f->n * DX_CH; i++)
        d->sent_pairs += f->prov.delivered[i];
    uint64_t bad = 0;
    assert_int_equal(eng_audit_verify(f->e, "root", &bad), ENG_OK);
}

static int same(const digest *a, const digest *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* ------------------------------------------------------------ scenarios */

static void prep_world(dx *f)
{
    dx_world(f, NCUST, 8, 1, 1);
}

static void prep_approved(dx *f)
{
    prep_world(f);
    eng_message_spec m = dx_message();
    dx_approve(f, &m);
}

static void prep_executed(dx *f)
{
    prep_approved(f);
    dx_run_all(f, f->t0, NULL);
}

static int act_import(dx *f)
{
    char csv[NCUST * 64 + 64], *p = csv;
    p += sprintf(p, "id,first_name,contact.sms,consent.sms\n");
    for (int i = 0; i < NCUST; i++) /* half updates, half new customers */
        p += sprintf(p, "c%d,Bea%d,+1666%07d,yes\n", i * 2, i, i);
    return eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL);
}

static int act_approve(dx *f)
{
    eng_message_spec m = dx_message();
    int rc = ENG_OK;
    if (!f->message) {
        eng_validation *v = NULL;
        rc = eng_message_create(f->e, "ann", f->campaign, &m, &f->message, &v);
        eng_validation_free(v);
        if (rc) {
            f->message = 0;
            return rc;
        }
    }
    eng_message *msg = NULL;
    if ((rc = eng_message_get(f->e, "root", f->message, &msg)))
        return rc;
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    eng_message_status_get(msg, &st);
    int state = st.state;
    eng_message_free(msg);
    f->t0 = m.schedule->at;
    if (state == ENG_STATE_DRAFT) {
        eng_validation *v = NULL;
        rc = eng_message_submit(f->e, "ann", f->message, &v);
        eng_validation_free(v);
        if (rc)
            return rc;
        state = ENG_STATE_AWAITING;
    }
    if (state == ENG_STATE_AWAITING)
        rc = eng_message_approve(f->e, "bob", f->message, NULL, "ok");
    return rc;
}

static int act_txns(dx *f)
{
    char csv[NCUST * 64 + 64], *p = csv;
    p += sprintf(p, "id,customer,time,amount,store\n");
    for (int i = 0; i < NCUST; i++)
        p += sprintf(p, "T%d,c%d,2026-01-0%dT10:00:00Z,%d.5,S%d\n", i, i % 7 ? i : i + 1000, 2 + i % 7, i + 1, i % 3);
    return eng_txn_import_csv_buffer(f->e, "acme", csv, (size_t)(p - csv), NULL, NULL);
}

static int act_execute(dx *f)
{
    eng_time now = f->t0;
    for (int round = 0; round < 64; round++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f->e, "root", now, NULL, &rep);
        if (rc)
            return rc;
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        if ((rc = eng_execution_get(f->e, "root", f->message, 0, &x)))
            return rc;
        if (x.state == ENG_EXEC_FINISHED)
            return ENG_OK;
        if (getenv("SCEN_TRACE"))
            fprintf(stderr, "round %d: state %d pending %llu next %lld sent %llu\n", round, x.state,
                    (unsigned long long)rep.pending, (long long)(rep.next_due - now), (unsigned long long)rep.sent);
        now = rep.next_due > now ? rep.next_due : now + 1;
    }
    eng_error_set(ENG_EBUSY, "the execution did not finish in 64 rounds");
    return ENG_EBUSY;
}

static int act_receipts(dx *f)
{
    const char *keys[NCUST * 2];
    int st[NCUST * 2];
    eng_time t[NCUST * 2];
    size_t n = 0;
    for (size_t i = 0; i < f->n * DX_CH && n < NCUST * 2; i++)
        if (f->prov.delivered[i]) {
            keys[n] = f->prov.key[i];
            st[n] = i % 5 == 0 ? ENG_TOUCH_UNSUBSCRIBED : i % 2 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
            t[n] = f->t0 + 3600000;
            n++;
        }
    keys[n] = "no-such-key"; /* kept pending */
    st[n] = ENG_TOUCH_DELIVERED;
    t[n] = f->t0;
    n++;
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n;
    r.keys = keys;
    r.statuses = st;
    r.times = t;
    return eng_touch_append(f->e, &r, NULL);
}

/* Like dx_engine, but returns the error instead of asserting. */
static int open_engine(dx *f, eng_engine **out)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(f->ts);
    cfg.transport = &f->tm;
    cfg.transport_user = &f->prov;
    cfg.clock_fn = dx_clock;
    return eng_open(&cfg, out);
}

static void prep_measured(dx *f)
{
    prep_executed(f);
    assert_int_equal(act_receipts(f), ENG_OK);
    assert_int_equal(act_txns(f), ENG_OK);
}

/* Close and open again over the same data: what it reads back is the answer. */
static int act_open(dx *f)
{
    assert_int_equal(eng_close(f->e), ENG_OK);
    f->e = NULL;
    int rc = open_engine(f, &f->e);
    if (rc)
        return rc;
    uint64_t c = 0;
    if ((rc = eng_customers_count(f->e, "root", &c)))
        return rc;
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    if ((rc = eng_execution_get(f->e, "root", f->message, 0, &x)))
        return rc;
    answer = fnv(fnv(14695981039346656037ull, &c, sizeof c), &x.accepted, sizeof x.accepted);
    return ENG_OK;
}

static int act_resolve(dx *f)
{
    static const char *const inc[] = {"all"};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 1;
    q.channels = 1u << ENG_CH_SMS;
    q.control_percent = 20;
    q.split_seed = 7;
    eng_audience *a = NULL;
    int rc = eng_audience_resolve(f->e, "root", &q, &a);
    if (rc)
        return rc;
    uint8_t h[32];
    uint64_t t = 0, c = 0;
    if (!(rc = eng_audience_hash(a, h)) && !(rc = eng_audience_count(a, ENG_PART_TEST, &t)) &&
        !(rc = eng_audience_count(a, ENG_PART_CONTROL, &c)))
        rc = eng_audience_freeze(a, "root", "scenario/resolve");
    eng_audience_free(a);
    if (rc)
        return rc;
    answer = fnv(fnv(fnv(14695981039346656037ull, h, sizeof h), &t, sizeof t), &c, sizeof c);
    return ENG_OK;
}

/* Attribution runs inside the campaign report; its JSON export is the answer. */
static int act_report(dx *f)
{
    eng_report *r = NULL;
    int rc = eng_campaign_report(f->e, "root", f->campaign, NULL, &r);
    if (rc)
        return rc;
    char *text = NULL;
    size_t len = 0;
    rc = eng_report_export(r, ENG_REPORT_JSON, &text, &len);
    if (rc == ENG_OK)
        answer = fnv(14695981039346656037ull, text, len);
    eng_free(f->e, text);
    eng_report_free(r);
    return rc;
}

static int act_compact(dx *f)
{
    int rc = act_import(f); /* leave something to compact away */
    return rc ? rc : eng_customers_compact(f->e, "root");
}

/* Three customers with touches and transactions erased in one batch. */
static int act_erase(dx *f)
{
    static const char *const ids[] = {"c1", "c2", "c5"};
    eng_erase_report rep;
    eng_erase_report_init(&rep, ENG_ERASE_REPORT_VERSION);
    return eng_customers_erase(f->e, "root", ids, 3, &rep);
}

/* Everything held about one customer; the JSON is the answer. */
static int act_export(dx *f)
{
    char *json = NULL;
    size_t len = 0;
    int rc = eng_customer_export_json(f->e, "root", "c3", &json, &len);
    if (rc == ENG_OK)
        answer = fnv(14695981039346656037ull, json, len);
    eng_free(f->e, json);
    return rc;
}

static const scenario scenarios[] = {
    {"open", 0, 0, prep_measured, act_open},
    {"import customers", 1, 1, prep_world, act_import},
    {"resolve and freeze", 1, 0, prep_world, act_resolve},
    {"approve a message", 0, 1, prep_world, act_approve},
    {"import transactions", 1, 1, prep_world, act_txns},
    {"execute", 0, 1, prep_approved, act_execute},
    {"ingest receipts", 1, 1, prep_executed, act_receipts},
    {"attribute and report", 1, 0, prep_measured, act_report},
    {"compact customers", 0, 1, prep_world, act_compact},
    {"erase customers", 1, 1, prep_measured, act_erase},
    {"export a customer", 1, 0, prep_measured, act_export},
};
#define NSCEN (sizeof scenarios / sizeof scenarios[0])

/* ------------------------------------------------------------ the loops */

enum fault { F_ALLOC_ONCE, F_ALLOC_ALL, F_STORE_ERR, F_STORE_COMMITTED, F_CRASH, F_FLIP, F_SCAN_CUT, F_SCAN_FLIP };
static const char *const fault_names[] = {"allocation once", "allocation from then on", "storage error",
                                          "commit applied, reported failed", "crash at a write",
                                          "read with a flipped bit", "scan stops early",
                                          "scanned key with a flipped bit"};

/* The state a fault-free run reaches, the state before it, and its answer. */
static void reference(const scenario *s, digest *before, digest *after, uint64_t *ref_answer)
{
    dx f;
    s->prepare(&f);
    take(&f, before);
    answer = 0;
    assert_int_equal(s->action(&f), ENG_OK);
    *ref_answer = answer;
    take(&f, after);
    assert_int_equal(!same(before, after), s->changes);
    dx_close(&f);
}

/* One trial with fault @p kind at call @p n; returns 1 when no fault fired (done). */
static int trial(const scenario *s, int kind, uint64_t n, const digest *before, const digest *after,
                 uint64_t ref_answer)
{
    dx f;
    s->prepare(&f);
    answer = 0;
    switch (kind) {
    case F_ALLOC_ONCE: test_alloc_fail_at(n, 0); break;
    case F_ALLOC_ALL: test_alloc_fail_at(n, 1); break;
    case F_STORE_ERR: test_store_fail(f.ts, TV_ALL, n, 0, TF_ERROR); break;
    case F_STORE_COMMITTED: test_store_fail(f.ts, TV_COMMIT, n, 0, TF_COMMITTED_ERROR); break;
    case F_FLIP: test_store_fail(f.ts, TV_GET, n, 0, TF_FLIP); break;
    case F_SCAN_CUT: test_store_fail(f.ts, TV_SCAN_ITEM, n, 0, TF_ERROR); break;
    case F_SCAN_FLIP: test_store_fail(f.ts, TV_SCAN_ITEM, n, 0, TF_FLIP); break;
    default: test_store_fail(f.ts, TV_PUT | TV_DEL | TV_COMMIT, n, 1, TF_ERROR); break;
    }
    int rc = s->action(&f);
    int fired = kind <= F_ALLOC_ALL ? test_alloc_failures() > 0 : test_store_failures(f.ts) > 0;
    int flip = kind == F_FLIP || kind == F_SCAN_FLIP;
    if (flip && fired && rc != ENG_OK && rc != ENG_ECORRUPT)
        fprintf(stderr, "%s, %s %llu: %d %s (want OK or ENG_ECORRUPT)\n", s->name, fault_names[kind],
                (unsigned long long)n, rc, eng_error_last()->message);
    if (flip && fired)
        assert_true(rc == ENG_OK || rc == ENG_ECORRUPT); /* caught by the checksum, or not needed */
    if (rc == ENG_OK && answer != ref_answer) {
        fprintf(stderr, "%s, %s at %llu: answered ENG_OK with a wrong answer\n", s->name, fault_names[kind],
                (unsigned long long)n);
        fail();
    }
    test_alloc_fail_at(0, 0);
    if (rc != ENG_OK && (eng_error_last()->code != rc || !eng_error_last()->message[0])) {
        fprintf(stderr, "%s, %s at %llu: rc %d but last error %d \"%s\"\n", s->name, fault_names[kind],
                (unsigned long long)n, rc, eng_error_last()->code, eng_error_last()->message);
        fail();
    }
    if (kind == F_CRASH) { /* abandoned: nothing after the failing write reaches the store */
        eng_close(f.e);
        test_store_crash(f.ts);
        test_store_nofail(f.ts);
        f.e = dx_engine(&f);
    } else {
        test_store_nofail(f.ts);
        if (f.e)
            dx_reopen(&f); /* the next open accepts what is stored */
        else
            f.e = dx_engine(&f); /* the open under test failed */
    }
    digest now;
    take(&f, &now);
    if (rc == ENG_OK && kind != F_STORE_COMMITTED && kind != F_CRASH) {
        assert_true(same(&now, after));
    } else {
        if (s->atomic)
            assert_true(same(&now, before) || same(&now, after));
        if (!s->atomic || same(&now, before)) { /* retry without faults */
            int r2 = s->action(&f);
            if (r2 != ENG_OK)
                fprintf(stderr, "%s, %s at %llu: retry: %s\n", s->name, fault_names[kind], (unsigned long long)n,
                        eng_error_last()->message);
            assert_int_equal(r2, ENG_OK);
            take(&f, &now);
        }
        if (!same(&now, after))
            fprintf(stderr, "%s, %s at %llu: state differs from a fault-free run\n", s->name, fault_names[kind],
                    (unsigned long long)n);
        assert_true(same(&now, after));
    }
    dx_close(&f); /* no leak */
    return !fired;
}

static void run_loop(int kind)
{
    /* Under valgrind/TSan every 16th point: the plain and ASan builds visit them all. */
    uint64_t step = test_slow_runtime() ? 16 : 1;
    for (size_t i = 0; i < NSCEN; i++) {
        const scenario *s = &scenarios[i];
        digest before, after;
        uint64_t ref_answer;
        reference(s, &before, &after, &ref_answer);
        uint64_t n = 1, trials = 0;
        while (!trial(s, kind, n, &before, &after, ref_answer)) {
            n += step;
            trials++;
            assert_true(n < 200000);
        }
        printf("%-20s %-32s %6llu trials\n", s->name, fault_names[kind], (unsigned long long)trials);
    }
}

static void alloc_once(void **st) { (void)st; run_loop(F_ALLOC_ONCE); }
static void alloc_all(void **st) { (void)st; run_loop(F_ALLOC_ALL); }
static void store_error(void **st) { (void)st; run_loop(F_STORE_ERR); }
static void store_committed(void **st) { (void)st; run_loop(F_STORE_COMMITTED); }
static void crash_points(void **st) { (void)st; run_loop(F_CRASH); }
static void flipped_reads(void **st) { (void)st; run_loop(F_FLIP); }
static void scans_cut(void **st) { (void)st; run_loop(F_SCAN_CUT); }
static void scans_flipped(void **st) { (void)st; run_loop(F_SCAN_FLIP); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_once),  cmocka_unit_test(alloc_all),    cmocka_unit_test(store_error),
        cmocka_unit_test(store_committed), cmocka_unit_test(crash_points), cmocka_unit_test(flipped_reads),
        cmocka_unit_test(scans_cut),   cmocka_unit_test(scans_flipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
