/* Personal data stays out of errors and logs (docs/privacy.md): import
 * identifiable values (an email, a phone number, an external id, a name),
 * provoke every error path that sees them, and grep each error message and
 * detail, every row error handed to the host and every log line for them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../dispatch/dispatch_fixture.h"

/* Distinctive parts of the values put in; none may show up in any text. The
 * last three are the dispatch fixture's emails, phones and first names. */
static const char *const secrets[] = {"pat.doe", "15112345678", "PAT-77", "Patricia", "Doe@", "51 12",
                                      "@example.com", "+1555", "Ann1"};

static void assert_clean(const char *what, const char *text)
{
    if (!text)
        return;
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        if (strstr(text, secrets[i])) {
            fprintf(stderr, "%s leaks \"%s\": %s\n", what, secrets[i], text);
            fail();
        }
}

typedef struct seen {
    size_t errors, logs;
} seen;

static void on_row_error(const eng_import_error *err, void *user)
{
    ((seen *)user)->errors++;
    assert_clean("row error message", err->message);
    assert_clean("row error field", err->field);
}

/* Every line, whatever the test, is checked; every_area also keeps them. */
static char **lines;
static size_t nlines;

static void on_log(int level, const char *message, void *user)
{
    (void)level;
    ((seen *)user)->logs++;
    assert_clean("log line", message);
    char **l = realloc(lines, (nlines + 1) * sizeof *lines);
    assert_non_null(l);
    lines = l;
    lines[nlines] = strdup(message);
    assert_non_null(lines[nlines++]);
}

static void lines_free(void)
{
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    lines = NULL;
    nlines = 0;
}

static size_t lines_with(const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < nlines; i++)
        n += strstr(lines[i], part) != NULL;
    return n;
}

static eng_engine *open_logged(test_store *ts, seen *s)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(ts);
    cfg.log_fn = on_log;
    cfg.log_user = s;
    cfg.log_level = ENG_LOG_DEBUG;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    /* customers belong to an org: acme's, imported by its admin */
    assert_int_equal(eng_org_create(e, "acme", NULL, "admin", NULL), ENG_OK);
    return e;
}

/* The call failed: its message and detail must be clean. */
static void assert_failed_clean(int rc, const char *what)
{
    if (rc == ENG_OK) {
        fprintf(stderr, "%s: expected a failure\n", what);
        fail();
    }
    assert_clean(what, eng_error_last()->message);
    assert_clean(what, eng_error_last()->detail);
}

static const char *const bad_customer_csv[] = {
    "id,contact.email\ncust-PAT-77,pat.doe@@example.org\n",         /* bad email */
    "id,contact.email\ncust-PAT-77,pat.doe @example.org\n",         /* space in email */
    "id,contact.email\ncust-PAT-77,Patricia.Doe@\n",                /* no domain */
    "id,contact.sms\ncust-PAT-77,+49 151 12345678\n",               /* bad phone */
    "id,contact.sms\ncust-PAT-77,0015112345678\n",                  /* no + */
    "id,contact.email\ncust-PAT-77\x01,pat.doe@example.org\n",      /* control character in the id */
    "id,contact.email\n,pat.doe@example.org\n",                     /* empty id */
    "id,contact.email\ncust-PAT-77,pat.doe@example.org,Patricia\n", /* too many fields */
    "id,contact.email,name\ncust-PAT-77,pat.doe@example.org\n",     /* too few fields */
    "id,name\ncust-PAT-77,Patricia\xff Doe\n",                      /* invalid UTF-8 */
    "id,name\ncust-PAT-77,\"Patricia Doe\n",                        /* unterminated quote */
    "id,name\ncust-PAT-77,Patricia \"Doe\"\n",                      /* quote in unquoted field */
    "id,age\ncust-PAT-77,Patricia\n",                               /* not an integer */
    "id,born\ncust-PAT-77,Patricia\n",                              /* not a date */
    "id,vip\ncust-PAT-77,Patricia\n",                               /* not a boolean */
    "id,spend\ncust-PAT-77,15112345678.12345\n",                    /* too many decimals */
    "id,consent.email\ncust-PAT-77,Patricia\n",                     /* not a boolean or date */
    "id,pat.doe@example.org\ncust-PAT-77,x\n",                      /* a value in the header */
    "id,contact.pat.doe@example.org\ncust-PAT-77,x\n",              /* unknown channel */
    "pat.doe@example.org,id\nx,cust-PAT-77\n",                      /* id not first */
};

static void customer_imports(void **state)
{
    (void)state;
    test_alloc_reset();
    seen s = {0, 0};
    test_store *ts = test_store_new();
    eng_engine *e = open_logged(ts, &s);
    assert_int_equal(eng_customers_add_column(e, "admin", "name", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "born", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "vip", ENG_COL_BOOL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "spend", ENG_COL_DECIMAL), ENG_OK);
    static const char good[] = "id,contact.email,contact.sms,consent.email,name\n"
                               "cust-PAT-77,pat.doe@example.org,+4915112345678,true,Patricia Doe\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", good, sizeof good - 1, NULL, NULL), ENG_OK);

    for (int mode = 0; mode < 2; mode++)
        for (size_t i = 0; i < sizeof bad_customer_csv / sizeof *bad_customer_csv; i++) {
            eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
            o.error_fn = on_row_error;
            o.error_user = &s;
            o.on_error = mode ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
            const char *csv = bad_customer_csv[i];
            int rc = eng_customers_import_csv_buffer(e, "admin", csv, strlen(csv), &o, NULL);
            if (mode == 0 || rc != ENG_OK)
                assert_failed_clean(rc, csv);
        }
    assert_true(s.errors > 0);

    /* The same values through the API upsert, including a value given as a column name. */
    const char *names1[] = {"id", "contact.email"}, *vals1[] = {"cust-PAT-77", "pat.doe@@example.org"};
    assert_failed_clean(eng_customers_upsert(e, "admin", names1, 2, vals1, 1, NULL, NULL), "upsert bad email");
    const char *names2[] = {"id", "pat.doe@example.org"}, *vals2[] = {"cust-PAT-77", "x"};
    assert_failed_clean(eng_customers_upsert(e, "admin", names2, 2, vals2, 1, NULL, NULL), "upsert value as name");
    const char *names3[] = {"id", "contact.sms"}, *vals3[] = {"cust-PAT-77", "+49 151 12345678"};
    assert_failed_clean(eng_customers_upsert(e, "admin", names3, 2, vals3, 1, NULL, NULL), "upsert bad phone");

    /* Look-ups and group uploads by an unknown external id. */
    uint32_t id;
    assert_failed_clean(eng_customer_find(e, "admin", "cust-PAT-777", &id), "find");
    assert_failed_clean(eng_customer_find(e, "admin", "pat.doe@example.org", &id), "find by email");
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, "admin", "vip", &g), ENG_OK);
    const char *ids[] = {"cust-PAT-77", "pat.doe@example.org"};
    eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
    o.error_fn = on_row_error;
    o.error_user = &s;
    assert_failed_clean(eng_group_upload_ids(e, "admin", g, ids, 2, ENG_UPLOAD_REPLACE, &o, NULL), "upload ids");
    static const char up[] = "id\ncust-PAT-77\nPatricia Doe\n";
    assert_failed_clean(eng_group_upload_csv(e, "admin", g, up, sizeof up - 1, ENG_UPLOAD_REPLACE, &o, NULL), "upload csv");
    static const char up2[] = "pat.doe@example.org\ncust-PAT-77\n";
    assert_failed_clean(eng_group_upload_csv(e, "admin", g, up2, sizeof up2 - 1, ENG_UPLOAD_REPLACE, &o, NULL),
                        "upload csv without id header");

    assert_true(s.logs > 0); /* the log half sees real lines (imports, failures, milestones) */
    lines_free();
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static const char *const bad_txn_csv[] = {
    "id,customer,time,amount\nt-PAT-77,cust-PAT-77,Patricia,10\n",
    "id,customer,time,amount\nt1,cust-PAT-77,2026-01-01,15112345678.123456\n",
    "id,customer,time,amount\nt1,cust-PAT-77\xff,2026-01-01,1\n",
    "id,customer,time,amount\nt1,,2026-01-01,1\n",
    "id,customer,time,amount,note\nt1,cust-PAT-77,2026-01-01,1,Patricia\n",
    "id,customer,time,amount,qty\nt1,cust-PAT-77,2026-01-01,1,Patricia\n",
    "id,customer,time,amount\nt1,cust-PAT-77,2026-01-01,1,pat.doe@example.org\n",
    "id,customer,time,pat.doe@example.org\nt1,cust-PAT-77,2026-01-01,1\n",
};

static void transactions(void **state)
{
    (void)state;
    test_alloc_reset();
    seen s = {0, 0};
    test_store *ts = test_store_new();
    eng_engine *e = open_logged(ts, &s);
    assert_int_equal(eng_txn_field_add(e, "acme", "qty", ENG_COL_INT64), ENG_OK);
    for (int mode = 0; mode < 2; mode++)
        for (size_t i = 0; i < sizeof bad_txn_csv / sizeof *bad_txn_csv; i++) {
            eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
            o.error_fn = on_row_error;
            o.error_user = &s;
            o.on_error = mode ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
            const char *csv = bad_txn_csv[i];
            int rc = eng_txn_import_csv_buffer(e, "acme", csv, strlen(csv), &o, NULL);
            if (mode == 0 || rc != ENG_OK)
                assert_failed_clean(rc, csv);
        }
    /* The batch API: a bad field value and a bad customer id. */
    const char *tid[] = {"t-PAT-77"}, *cust[] = {"cust-PAT-77\xff"}, *fname[] = {"qty"}, *fval[] = {"Patricia"};
    eng_time t[] = {1000};
    int64_t amt[] = {10000};
    eng_txn_batch b = ENG_TXN_BATCH_INIT;
    b.count = 1;
    b.ids = tid;
    b.customers = cust;
    b.times = t;
    b.amounts = amt;
    assert_failed_clean(eng_txn_append(e, "acme", &b, NULL, NULL), "txn bad customer");
    const char *cust_ok[] = {"cust-PAT-77"};
    b.customers = cust_ok;
    b.nfields = 1;
    b.field_names = fname;
    b.field_values = fval;
    assert_failed_clean(eng_txn_append(e, "acme", &b, NULL, NULL), "txn bad field");
    const char *fname2[] = {"pat.doe@example.org"};
    b.field_names = fname2;
    assert_failed_clean(eng_txn_append(e, "acme", &b, NULL, NULL), "txn value as field name");
    assert_true(s.logs > 0); /* the log half sees real lines (imports, failures, milestones) */
    lines_free();
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static int pick_clicked(uint32_t customer, int channel, void *user)
{
    (void)customer, (void)channel, (void)user;
    return ENG_TOUCH_CLICKED;
}

/* One life of identifiable customers at DEBUG level, through every area that
 * logs -- import, upload, approval, execution, receipts, transactions,
 * compaction, erasure, reopen -- with a failure provoked in each: no log line
 * and no error names them, and lines of every area were seen. */
static void every_area(void **state)
{
    (void)state;
    seen s = {0, 0};
    dx_log_fn = on_log;
    dx_log_user = &s;
    dx_log_level = ENG_LOG_DEBUG;
    dx f;
    dx_world(&f, 30, 8, 1, 1);
    dx_provider_free(&f.prov); /* room for one more customer at the provider */
    dx_provider_init(&f.prov, 31);
    f.n = 31;
    static const char pat[] = "id,first_name,contact.sms,consent.sms,contact.email,consent.email\n"
                              "cust-PAT-77,Patricia,+4915112345678,yes,pat.doe@example.org,yes\n";
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", pat, sizeof pat - 1, NULL, NULL), ENG_OK);
    assert_failed_clean(eng_customers_import_csv_buffer(f.e, "root", bad_customer_csv[0], strlen(bad_customer_csv[0]),
                                                        NULL, NULL),
                        "import");
    uint32_t g, pid;
    assert_int_equal(eng_group_find(f.e, "root", "all", &g), ENG_OK);
    const char *ids[] = {"cust-PAT-77"};
    assert_int_equal(eng_group_upload_ids(f.e, "root", g, ids, 1, ENG_UPLOAD_APPEND, NULL, NULL), ENG_OK);
    assert_int_equal(eng_customer_find(f.e, "root", "cust-PAT-77", &pid), ENG_OK);
    /* approval and execution: the renderings carry the name and the addresses */
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    assert_true(f.prov.calls[dx_pair(pid, ENG_CH_EMAIL)] == 1);
    assert_failed_clean(eng_message_approve(f.e, "bob", f.message, NULL, "again"), "approve twice");
    /* receipts (DEBUG), one unmatched */
    dx_receipts(&f, f.t0 + ENG_HOUR, pick_clicked, NULL);
    static const char *const keys[] = {"pat.doe@example.org"};
    static const int st[] = {ENG_TOUCH_DELIVERED};
    const eng_time at[] = {f.t0 + ENG_HOUR};
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = 1, r.keys = keys, r.statuses = st, r.times = at;
    int rc = eng_touch_append(f.e, &r, NULL);
    assert_clean("unmatched receipt", eng_error_last()->message);
    (void)rc;
    /* transactions: appended (DEBUG) and imported, with bad rows */
    uint32_t buyers[] = {0, 1, pid};
    dx_txns(&f, buyers, 3, f.t0 + ENG_DAY, 100, "buy");
    static const char tx[] = "id,customer,time,amount\nt-1,cust-PAT-77,2026-01-05T10:00:00Z,12.50\n";
    assert_int_equal(eng_txn_import_csv_buffer(f.e, "acme", tx, sizeof tx - 1, NULL, NULL), ENG_OK);
    assert_failed_clean(eng_txn_import_csv_buffer(f.e, "acme", bad_txn_csv[0], strlen(bad_txn_csv[0]), NULL, NULL),
                        "txn import");
    /* compaction of customers and events */
    assert_int_equal(eng_customers_compact(f.e, "root"), ENG_OK);
    assert_int_equal(eng_events_compact(f.e), ENG_OK);
    /* erasure, then the same again: not found, named by field only */
    assert_int_equal(eng_customer_erase(f.e, "root", "cust-PAT-77"), ENG_OK);
    assert_failed_clean(eng_customer_erase(f.e, "root", "cust-PAT-77"), "erase twice");
    assert_failed_clean(eng_customer_export_json(f.e, "root", "cust-PAT-77", &(char *){NULL}, &(size_t){0}),
                        "export erased");
    /* reopen */
    dx_reopen(&f);
    assert_failed_clean(eng_customer_find(f.e, "root", "cust-PAT-77", &pid), "find erased");
    static const char *const areas[] = {"customer import", "group upload", "approval", "execution started",
                                        "execution finished", "receipts appended", "transactions appended",
                                        "transaction import", "customer compaction", "events compaction",
                                        "erasure", "open number 2", "failed ("};
    for (size_t i = 0; i < sizeof areas / sizeof *areas; i++)
        if (!lines_with(areas[i]))
            fail_msg("no log line of \"%s\" at DEBUG level", areas[i]);
    printf("%zu log lines checked\n", nlines);
    dx_close(&f);
    dx_log_fn = NULL;
    dx_log_user = NULL;
    dx_log_level = ENG_LOG_WARN;
    lines_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(customer_imports),
        cmocka_unit_test(transactions),
        cmocka_unit_test(every_area),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
