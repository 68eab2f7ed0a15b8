/* eng_close() from a host callback of a call running on that same engine: the
 * progress callback (in the middle of an import) and the workflow event callback
 * (after a submit is stored, inside the call). Closing there used to destroy the
 * engine under the running call (a use after free the call then read and
 * unlocked); it must give ENG_EMISUSE, change nothing, and leave the outer call to
 * finish as it would have. (A close from eng_run_due()'s transport is another case:
 * the run holds a reference, the close marks the engine closed and the run ends;
 * test scale_postgres, "stall".) A close after the call returns works, and a close
 * that succeeds leaves no stale error behind (engage/errors.h). */
#include "model_fixture.h"

static eng_engine *g_e;
static int g_close_rc;
static unsigned g_calls;

static int on_progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)op, (void)done, (void)total, (void)user;
    if (g_calls++ == 0)
        g_close_rc = eng_close(g_e);
    return 0;
}

static void on_event(const eng_model_event *ev, void *user)
{
    (void)ev, (void)user;
    if (g_calls++ == 0)
        g_close_rc = eng_close(g_e);
}

static eng_engine *open_org(eng_progress_fn progress)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.progress_fn = progress;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_org_create(e, "o", NULL, "adm", NULL), ENG_OK);
    return e;
}

static void close_from_progress_callback(void **st)
{
    (void)st;
    g_e = open_org(on_progress);
    g_calls = 0;
    g_close_rc = 1;
    const char *csv = "id\nc1\nc2\n";
    assert_int_equal(eng_customers_import_csv_buffer(g_e, "adm", csv, strlen(csv), NULL, NULL), ENG_OK);
    assert_true(g_calls > 0);
    assert_int_equal(g_close_rc, ENG_EMISUSE);
    uint64_t n = 0;
    assert_int_equal(eng_customers_count(g_e, "adm", &n), ENG_OK); /* still open, import applied */
    assert_int_equal(n, 2);
    assert_int_equal(eng_customers_count(g_e, "nobody", &n), ENG_EDENIED);
    assert_int_equal(eng_close(g_e), ENG_OK);
    assert_int_equal(eng_error_last()->code, ENG_OK); /* the denied call's record is gone */
    assert_int_equal(eng_close(g_e), ENG_EMISUSE);
}

static void close_from_event_callback(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    g_e = f.e;
    eng_campaign_spec c = fx_campaign("Diwali");
    eng_message_spec m = fx_message();
    uint64_t cid = 0, mid = 0;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    assert_int_equal(eng_model_set_event_callback(f.e, on_event, NULL), ENG_OK);
    g_calls = 0;
    g_close_rc = 1;
    assert_int_equal(eng_message_submit(f.e, "ann", mid, NULL), ENG_OK);
    assert_int_equal(g_calls, 1);
    assert_int_equal(g_close_rc, ENG_EMISUSE);
    eng_message *snap = NULL; /* still open, the submit stored */
    assert_int_equal(eng_message_get(f.e, "ann", mid, &snap), ENG_OK);
    eng_message_status ms = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(snap, &ms), ENG_OK);
    assert_int_equal(ms.state, ENG_STATE_AWAITING);
    eng_message_free(snap);
    assert_int_equal(eng_model_set_event_callback(f.e, NULL, NULL), ENG_OK);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_from_progress_callback),
        cmocka_unit_test(close_from_event_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
