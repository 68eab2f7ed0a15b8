/* The re-entrancy rule (engage/engine.h, "Callbacks"; issue 16): a host
 * callback that calls back into the engine whose call is running it gets
 * ENG_EMISUSE and nothing changes -- except the workflow event callback and
 * the transport, from which calls work. Never a deadlock or a crash, and the
 * outer call completes as it would have. */
#include "dispatch_fixture.h"

static eng_engine *g_e;  /* the engine the callbacks call back into */
static int g_rc[16];     /* per callback kind: what its nested call gave (1: not called yet) */
static unsigned g_calls[16];

enum { K_LOG, K_PROGRESS, K_CLOCK, K_READ, K_ROWERR, K_SCAN, K_COUNTER, K_UNMATCHED, K_EVENT, K_TRANSPORT,
       K_CHANGES, K_TINY, K_N };
static const char *const kname[K_N] = {"log",          "progress",         "clock",
                                       "CSV read",     "row error",        "touch scan",
                                       "audience counter", "unmatched receipt", "workflow event",
                                       "transport",    "storage changes", "tiny-URL shortener"};

/* The nested call: a write (an actor) when @p write, else a read. */
static void reenter(int k, int write)
{
    g_calls[k]++;
    if (g_rc[k] != 1)
        return; /* once is enough */
    if (write) {
        eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
        char id[32];
        snprintf(id, sizeof id, "nested%d", k);
        a.id = id;
        a.roles = ENG_ROLE_VIEWER;
        g_rc[k] = eng_actor_put(g_e, "root", &a);
    } else {
        eng_info info = ENG_INFO_INIT;
        g_rc[k] = eng_info_get(g_e, &info);
    }
}

static void cb_log(int level, const char *m, void *u)
{
    (void)level, (void)m, (void)u;
    if (g_e)
        reenter(K_LOG, 1);
}
static int cb_progress(const char *op, uint64_t d, uint64_t t, void *u)
{
    (void)op, (void)d, (void)t, (void)u;
    if (g_e)
        reenter(K_PROGRESS, 1);
    return 0;
}
static eng_time cb_clock(void *u)
{
    (void)u;
    if (g_e)
        reenter(K_CLOCK, 0);
    return test_clock_now;
}
typedef struct src {
    const char *data;
    size_t len, off;
} src;

static long cb_read(void *buf, size_t cap, void *u)
{
    reenter(K_READ, 1);
    src *r = u;
    size_t n = r->len - r->off < cap ? r->len - r->off : cap;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return (long)n;
}
static void cb_rowerr(const eng_import_error *err, void *u)
{
    (void)err, (void)u;
    reenter(K_ROWERR, 1);
}
static int cb_scan(const eng_touch_row *row, void *u)
{
    (void)row, (void)u;
    reenter(K_SCAN, 1);
    return 0;
}
static int cb_counter(const eng_audience_query *q, uint64_t *count, void *u)
{
    (void)q, (void)u;
    reenter(K_COUNTER, 0);
    *count = 1;
    return ENG_OK;
}
static void cb_unmatched(size_t i, const char *key, void *u)
{
    (void)i, (void)key, (void)u;
    reenter(K_UNMATCHED, 1);
}
static void cb_event(const eng_model_event *ev, void *u)
{
    (void)ev, (void)u;
    reenter(K_EVENT, 1);
}
static int cb_send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    reenter(K_TRANSPORT, 1);
    return dx_send_batch(env, n, status, user);
}

static void expect(int k, int rc)
{
    if (!g_calls[k])
        fail_msg("the %s callback was never called", kname[k]);
    if (g_rc[k] != rc)
        fail_msg("a call back into the engine from the %s callback gave %d, not %d", kname[k], g_rc[k], rc);
}

static void callbacks(void **state)
{
    (void)state;
    for (int k = 0; k < K_N; k++)
        g_rc[k] = 1;
    memset(g_calls, 0, sizeof g_calls);
    dx_log_fn = cb_log;
    dx_log_level = ENG_LOG_DEBUG;
    dx_progress_fn = cb_progress;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    f.tm.send_batch = cb_send_batch;
    dx_reopen(&f);
    g_e = f.e;
    /* Refused: log, progress (a run reports it), the CSV reader and the row-error callback. */
    static const char csv[] = "id,first_name\nc1,Bea\nc2,\"unterminated\n";
    src r = {csv, sizeof csv - 1, 0};
    eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
    o.on_error = ENG_IMPORT_SKIP_ROWS;
    o.max_bad_rows = 10;
    o.error_fn = cb_rowerr;
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_customers_import_csv(f.e, "root", cb_read, &r, &o, &rep), ENG_OK);
    assert_int_equal(rep.updated, 1);
    expect(K_READ, ENG_EMISUSE);
    expect(K_ROWERR, ENG_EMISUSE);
    expect(K_LOG, ENG_EMISUSE);
    /* Allowed: the workflow event (after the change is stored) and the transport (outside the lock). */
    assert_int_equal(eng_model_set_event_callback(f.e, cb_event, NULL), ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    expect(K_EVENT, ENG_OK);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    assert_true(total.accepted > 0);
    expect(K_TRANSPORT, ENG_OK);
    expect(K_PROGRESS, ENG_EMISUSE);
    /* Refused: a reader's scan callback, the unmatched-receipt callback. */
    assert_int_equal(eng_touches_of_customer(f.e, "acme", 1, cb_scan, NULL), ENG_OK);
    expect(K_SCAN, ENG_EMISUSE);
    static const char *const keys[] = {"no-such-send"};
    static const int st[] = {ENG_TOUCH_DELIVERED};
    const eng_time at[] = {f.t0 + 1000};
    eng_receipts rc = ENG_RECEIPTS_INIT;
    rc.count = 1;
    rc.keys = keys;
    rc.statuses = st;
    rc.times = at;
    rc.unmatched_fn = cb_unmatched;
    assert_int_equal(eng_touch_append(f.e, &rc, NULL), ENG_OK);
    expect(K_UNMATCHED, ENG_EMISUSE);
    /* Refused: the host's audience counter (called while a message is sent for approval). */
    assert_int_equal(eng_model_set_audience_counter(f.e, cb_counter, NULL), ENG_OK);
    m.title = "Second";
    m.strategy = ENG_STRATEGY_XENGAGE; /* whose audience the counter sizes */
    eng_validation *v = NULL;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, NULL), ENG_OK);
    eng_message_submit(f.e, "ann", id, &v); /* refused or not: only the counter's nested call matters */
    eng_validation_free(v);
    expect(K_COUNTER, ENG_EMISUSE);
    /* The refused calls changed nothing: none of their actors exists; the allowed ones' do. */
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    assert_int_equal(eng_actor_get(f.e, "root", "nested0", &a), ENG_ENOTFOUND); /* log */
    assert_int_equal(eng_actor_get(f.e, "root", "nested3", &a), ENG_ENOTFOUND); /* read */
    assert_int_equal(eng_actor_get(f.e, "root", "nested8", &a), ENG_OK);        /* event */
    assert_int_equal(eng_actor_get(f.e, "root", "nested9", &a), ENG_OK);        /* transport */
    g_e = NULL;
    dx_close(&f);
    dx_log_fn = NULL;
    dx_log_level = ENG_LOG_WARN;
    dx_progress_fn = NULL;
}

/* The storage contract's `changes` (a store several engines share): the
 * library calls it at the start of each call and inside each batch. */
static int cb_changes(void *u)
{
    (void)u;
    if (g_e)
        reenter(K_CHANGES, 1);
    return ENG_OK;
}

static void changes_callback(void **state)
{
    (void)state;
    g_rc[K_CHANGES] = 1;
    g_calls[K_CHANGES] = 0;
    dx f;
    dx_world(&f, 10, 16, 1, 1);
    test_store_set_changes(f.ts, cb_changes, NULL);
    dx_reopen(&f);
    g_e = f.e;
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = "carol";
    a.roles = ENG_ROLE_VIEWER;
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_OK); /* the outer call completes */
    expect(K_CHANGES, ENG_EMISUSE);
    g_e = NULL;
    assert_int_equal(eng_actor_get(f.e, "root", "carol", &a), ENG_OK);
    assert_int_equal(eng_actor_get(f.e, "root", "nested10", &a), ENG_ENOTFOUND);
    dx_close(&f);
}

/* The tiny-URL shortener (eng_dispatch_hooks v2), called while a send is
 * rendered with the engine locked: a call back is refused, the link is used. */
static int cb_tiny(const eng_tiny_url_request *q, char *out, size_t cap, void *u)
{
    (void)u;
    if (g_e)
        reenter(K_TINY, 1);
    snprintf(out, cap, "https://t.example/%u", q->customer);
    return ENG_OK;
}

static void tiny_url_callback(void **state)
{
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)state;
    g_rc[K_TINY] = 1;
    g_calls[K_TINY] = 0;
    dx f;
    dx_world(&f, 10, 16, 1, 1);
    eng_dispatch_hooks h = ENG_DISPATCH_HOOKS_INIT;
    h.tiny_url = cb_tiny;
    assert_int_equal(eng_dispatch_hooks_set(f.e, &h, NULL), ENG_OK);
    g_e = f.e;
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Shop {{tiny_url | \"https://shop.example/d\"}} {{optout}}"}};
    eng_message_spec m = dx_message();
    m.creatives = cr;
    m.n_creatives = 1;
    dlv.tiny_url = 1;
    m.delivery = &dlv;
    dx_approve(&f, &m);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    expect(K_TINY, ENG_EMISUSE);
    g_e = NULL;
    assert_true(total.accepted > 0); /* the outer run completes, with the links */
    assert_non_null(strstr(f.prov.last_body, "https://t.example/"));
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    assert_int_equal(eng_actor_get(f.e, "root", "nested11", &a), ENG_ENOTFOUND);
    dx_close(&f);
}

/* The clock, called inside a write. */
static void clock_callback(void **state)
{
    (void)state;
    test_alloc_reset();
    g_rc[K_CLOCK] = 1;
    g_calls[K_CLOCK] = 0;
    eng_config cfg = ENG_CONFIG_INIT;
    cfg.allocator = test_alloc_get();
    cfg.clock_fn = cb_clock;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    g_e = e;
    assert_int_equal(eng_org_create(e, "acme", NULL, "root", NULL), ENG_OK);
    expect(K_CLOCK, ENG_EMISUSE);
    g_e = NULL;
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(callbacks),
        cmocka_unit_test(clock_callback),
        cmocka_unit_test(changes_callback),
        cmocka_unit_test(tiny_url_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
