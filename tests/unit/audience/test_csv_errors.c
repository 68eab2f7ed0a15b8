/* Malformed CSV, bad values, error modes, atomicity under storage faults,
 * read-callback failures, cancellation and the OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/audience_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "../model/store_digest.h"
#include "test_util.h"

/* threads: eng_config.threads (the replay path without the applier needs 0). */
static eng_engine *open_declared_threads(test_store *ts, unsigned threads)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(ts);
    cfg.threads = threads;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(test_org(e), ENG_OK);
    eng__aud *a;
    assert_int_equal(eng__aud_get(e, TEST_ORG, &a), ENG_OK);
    if (a->t.ncols == 0) {
        assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
        assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
        assert_int_equal(eng_customers_add_column(e, TA, "spend", ENG_COL_DECIMAL), ENG_OK);
        assert_int_equal(eng_customers_add_column(e, TA, "born", ENG_COL_DATE), ENG_OK);
        assert_int_equal(eng_customers_add_column(e, TA, "vip", ENG_COL_BOOL), ENG_OK);
    }
    return e;
}

static eng_engine *open_declared(test_store *ts)
{
    return open_declared_threads(ts, 1);
}

typedef struct bad_case {
    const char *csv;
    int code;
    const char *detail; /* line:column */
} bad_case;

static const bad_case cases[] = {
    {"id,city\n1,\"Pune\n", ENG_EPARSE, "2:2"},                   /* unterminated quote */
    {"id,city\n1,Pu\"ne\n", ENG_EPARSE, "2:2"},                   /* quote in unquoted field */
    {"id,city\n1,\"Pune\"x\n", ENG_EPARSE, "2:2"},                /* text after closing quote */
    {"id,city\n1,Pune,extra\n", ENG_EPARSE, "2:0"},               /* too many fields */
    {"id,city,age\n1,Pune\n", ENG_EPARSE, "2:0"},                 /* too few fields */
    {"id,city\r\n1,\"a\r\nb\"\r\n2,\"x\"y\r\n", ENG_EPARSE, "4:2"},/* line count past an embedded CRLF */
    {"id,city\n1,\"a\n\nb\"\n2,Pu\"ne\n", ENG_EPARSE, "5:2"},
    {"id,city\n1,\xff\n", ENG_EPARSE, "2:2"},                     /* invalid UTF-8 */
    {"id,city\n1,\xc0\xaf\n", ENG_EPARSE, "2:2"},                 /* overlong UTF-8 */
    {"id,city\n1,K\xc3\xb6ln am Rhein und M\xfcnchen\n", ENG_EPARSE, "2:2"}, /* Latin-1 after valid text */
    {"id,city\n1,\xed\xa0\x80\n", ENG_EPARSE, "2:2"},             /* surrogate */
    {"id,city\n1,\xe2\x82\n", ENG_EPARSE, "2:2"},                 /* truncated sequence */
    {"id,age\n1,12a\n", ENG_EPARSE, "2:2"},
    {"id,age\n1,9223372036854775808\n", ENG_ERANGE, "2:2"},
    {"id,age\n1,\n2,-\n", ENG_EPARSE, "3:2"},
    {"id,spend\n1,1.23456\n", ENG_ERANGE, "2:2"},
    {"id,spend\n1,1.\n", ENG_EPARSE, "2:2"},
    {"id,spend\n1,1e5\n", ENG_EPARSE, "2:2"},
    {"id,born\n1,2025-02-29\n", ENG_ERANGE, "2:2"},
    {"id,born\n1,2025-13-01\n", ENG_ERANGE, "2:2"},
    {"id,born\n1,2025/01/01\n", ENG_EPARSE, "2:2"},
    {"id,born\n1,2025-01-01T25:00:00Z\n", ENG_ERANGE, "2:2"},
    {"id,born\n1,2025-01-01T10:00:00\n", ENG_EPARSE, "2:2"},      /* no Z */
    {"id,vip\n1,maybe\n", ENG_EPARSE, "2:2"},
    {"id,contact.email\n1,foo@\n", ENG_EPARSE, "2:2"},
    {"id,contact.email\n1,a b@c.de\n", ENG_EPARSE, "2:2"},
    {"id,contact.sms\n1,12345678\n", ENG_EPARSE, "2:2"},
    {"id,contact.sms\n1,+12 345678\n", ENG_EPARSE, "2:2"},
    {"id,consent.sms\n1,sometimes\n", ENG_EPARSE, "2:2"},
    {"id,suppressed\n1,2025-01-01\n", ENG_EPARSE, "2:2"},
    {"id,city\n,Pune\n", ENG_EPARSE, "2:1"},                      /* empty id */
    {"id,city,shoe\n1,Pune,42\n", ENG_ENOTFOUND, "1:3"},          /* unknown column */
    {"id,city,city\n1,Pune,Pune\n", ENG_EINVAL, "1:3"},           /* duplicate column */
    {"city,id\nPune,1\n", ENG_EINVAL, "1:1"},                     /* id not first */
    {"id,contact.pager\n1,x\n", ENG_ENOTFOUND, "1:2"},            /* unknown channel */
    {"id,\"ci\"ty\n1,x\n", ENG_EPARSE, "1:2"},                    /* header syntax */
    {"", ENG_EPARSE, "1:0"},                                      /* empty input */
    {"\n\n", ENG_EPARSE, "1:0"},
    {NULL, ENG_EPARSE, "1:0"},                                    /* NULL buffer of length 0 */
    {"\xef\xbbid\n1\n", ENG_EPARSE, "1:1"},                   /* broken byte order mark */
    {"\xef\xbb\xbfid,city\n1,\"x\"\"\n", ENG_EPARSE, "2:2"},  /* BOM, then an unterminated quote */
};

static int nerr;
static eng_import_error last;
static char last_field[80];
static void on_err(const eng_import_error *e, void *u)
{
    (void)u;
    nerr++;
    last = *e;
    snprintf(last_field, sizeof last_field, "%s", e->field);
    last.field = last_field;
}

static void malformed_inputs_are_rejected_whole(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared(ts);
    const char *good = "id,city,age\n100,Pune,30\n101,Delhi,40\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, good, strlen(good), NULL, NULL), ENG_OK);
    size_t keys = test_store_count(ts);
    eng_import_options o;
    eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
    o.error_fn = on_err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256];
        const char *csv = cases[i].csv;
        eng_import_report rep = ENG_IMPORT_REPORT_INIT;
        nerr = 0;
        int rc;
        if (csv) {
            snprintf(buf, sizeof buf, "%s", csv);
            rc = eng_customers_import_csv_buffer(e, TA, buf, strlen(buf), &o, &rep);
        } else {
            rc = eng_customers_import_csv_buffer(e, TA, NULL, 0, &o, &rep);
        }
        if (rc != cases[i].code || strcmp(eng_error_last()->detail, cases[i].detail) != 0)
            fail_msg("case %zu: got %d (%s) detail %s, want %d %s", i, rc, eng_error_last()->message,
                     eng_error_last()->detail, cases[i].code, cases[i].detail);
        assert_true(strlen(eng_error_last()->message) > 10);
        assert_int_equal(test_store_count(ts), keys);
        uint64_t n;
        assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
        assert_int_equal(n, 2);
    }
    /* The error callback names line, column and field. */
    nerr = 0;
    const char *two = "id,city,age\n5,Pune,1\n6,\"Mum\nbai\",x\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, two, strlen(two), &o, NULL), ENG_EPARSE);
    assert_int_equal(nerr, 1);
    assert_int_equal(last.line, 3);
    assert_int_equal(last.column, 3);
    assert_string_equal(last.field, "age");
    assert_int_equal(last.code, ENG_EPARSE);
    /* Oversized values. */
    o.max_field_bytes = 16;
    const char *big = "id,city\n1,abcdefghijklmnopq\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, big, strlen(big), &o, NULL), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "2:2");
    const char *bigq = "id,city\n1,\"abcdefghij\nklmnopq\"\n2,x\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, bigq, strlen(bigq), &o, NULL), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "2:2");
    o.max_field_bytes = 65536;
    size_t L = 5000;
    char *huge = malloc(L + 64);
    if (!huge)
        abort();
    strcpy(huge, "id,city\n1,");
    memset(huge + 10, 'x', L);
    strcpy(huge + 10 + L, "\n");
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, huge, strlen(huge), &o, NULL), ENG_ETOOBIG);
    memset(huge + 8, 'y', 300); /* a 300-byte id */
    huge[308] = ',';
    huge[309] = 'x';
    huge[310] = '\n';
    huge[311] = 0;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, huge, strlen(huge), &o, NULL), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "2:1");
    free(huge);
    assert_int_equal(test_store_count(ts), keys);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static void skip_mode_counts_bad_rows(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared(ts);
    const char *csv = "id,city,age\r\n"
                      "1,Pune,30\r\n"
                      "2,Pune,x\r\n"          /* bad */
                      "3,\"Pu\"ne\",1\r\n"    /* bad: text after quote */
                      "4,Delhi,4\r\n"
                      "5,Delhi\r\n"           /* bad: field count */
                      "6,\"Goa\r\nNorth\",6\r\n"
                      "7,Goa,7";
    eng_import_options o;
    eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
    o.on_error = ENG_IMPORT_SKIP_ROWS;
    o.max_bad_rows = 2;
    o.error_fn = on_err;
    nerr = 0;
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    size_t keys = test_store_count(ts);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), &o, &rep), ENG_EPARSE);
    assert_string_equal(eng_error_last()->detail, "6:0");
    assert_int_equal(nerr, 3);
    assert_int_equal(test_store_count(ts), keys);
    o.max_bad_rows = 3;
    nerr = 0;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), &o, &rep), ENG_OK);
    assert_int_equal(nerr, 3);
    assert_int_equal(rep.rows, 7);
    assert_int_equal(rep.bad_rows, 3);
    assert_int_equal(rep.inserted, 4);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, TA, "6", &id), ENG_OK);
    assert_int_equal(eng_customer_find(e, TA, "7", &id), ENG_OK);
    assert_int_equal(eng_customer_find(e, TA, "2", &id), ENG_ENOTFOUND);
    eng__aud *a;
    assert_int_equal(eng__aud_get(e, TEST_ORG, &a), ENG_OK);
    assert_int_equal(eng_customer_find(e, TA, "6", &id), ENG_OK);
    size_t l;
    const char *s = eng__dict_str(&a->t.cols[0].dict, a->t.cols[0].code[id], &l);
    assert_int_equal(l, 10);
    assert_memory_equal(s, "Goa\r\nNorth", 10);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* A file that fails halfway (past the first stored part) leaves no trace. */
static void failing_halfway_leaves_no_trace(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared(ts);
    size_t rows = 150000;
    char *csv = malloc(rows * 40 + 64), *p = csv;
    p += sprintf(p, "id,city,age\n");
    for (size_t i = 0; i < rows; i++)
        p += sprintf(p, "c%zu,City%zu,%s\n", i, i % 50, i == 140000 ? "old" : "33");
    size_t keys = test_store_count(ts);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_EPARSE);
    assert_string_equal(eng_error_last()->detail, "140002:3");
    assert_int_equal(test_store_count(ts), keys);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, 0);
    /* Storage failing at each put of the batch, and at commit: nothing lands. */
    char *fix = strstr(csv, "old");
    memcpy(fix, "044", 3);
    for (uint64_t k = 1; k <= 4; k++) {
        test_store_fail(ts, TV_PUT | TV_COMMIT, k, 0, TF_ERROR);
        int rc = eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL);
        test_store_nofail(ts);
        assert_int_equal(rc, ENG_ESTORAGE);
        assert_int_equal(test_store_count(ts), keys);
        assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
        assert_int_equal(n, 0);
    }
    /* The parts go to the batch as they fill: failing at the last put and at the commit rolls all back too. */
    for (int at_commit = 0; at_commit < 2; at_commit++) {
        test_store_fail(ts, at_commit ? TV_COMMIT : TV_PUT, at_commit ? 1 : (rows + 8191) / 8192, 0, TF_ERROR);
        int rc = eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL);
        test_store_nofail(ts);
        assert_int_equal(rc, ENG_ESTORAGE);
        assert_int_equal(test_store_count(ts), keys);
        assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
        assert_int_equal(n, 0);
    }
    /* Committed but reported failed: the state reloads from storage and shows it. */
    test_store_fail(ts, TV_COMMIT, 1, 0, TF_COMMITTED_ERROR);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_ESTORAGE);
    test_store_nofail(ts);
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, rows);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, TA, "c140000", &id), ENG_OK);
    assert_int_equal(id, 140000);
    /* Reopen: identical. A get failing at load time is an error, not a crash. */
    assert_int_equal(eng_close(e), ENG_OK);
    e = test_engine_open_org(test_store_handle(ts));
    test_store_fail(ts, TV_GET | TV_SCAN, 1, 0, TF_ERROR);
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_ESTORAGE);
    test_store_nofail(ts);
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, rows);
    assert_int_equal(eng_close(e), ENG_OK);
    free(csv);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* The replay reads the parts back from storage inside the import's batch,
 * before the commit: a read failing there fails the import, nothing is
 * stored, and the table (dropped) reloads from storage with none of it. */
static void replay_read_failure_stores_nothing(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared_threads(ts, 0); /* the applier's thread reads nothing back */
    size_t rows = 20000; /* three parts of at most 8192 rows */
    char *csv = malloc(rows * 32 + 32), *p = csv;
    p += sprintf(p, "id,city,age\n");
    for (size_t i = 0; i < rows; i++)
        p += sprintf(p, "r%zu,City%zu,%zu\n", i, i % 7, i % 90);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(e, before);
    /* gets: the actor, their org, then the parts (the third fails) */
    test_store_fail(ts, TV_GET, 5, 0, TF_ERROR);
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_ESTORAGE);
    assert_int_equal(test_store_failures(ts), 1);
    test_store_nofail(ts);
    store_digest(e, after);
    assert_memory_equal(before, after, sizeof before);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, 0);
    /* the same import again: stored and loaded */
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, rows);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, TA, "r19999", &id), ENG_OK);
    assert_int_equal(id, 19999);
    assert_int_equal(eng_close(e), ENG_OK);
    free(csv);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static void corrupt_delta_is_reported(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared(ts);
    const char *good = "id,city,age\n100,Pune,30\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, good, strlen(good), NULL, NULL), ENG_OK);
    assert_int_equal(eng_close(e), ENG_OK);
    uint8_t *v;
    size_t len;
    const char *key = "a/o/" TEST_ORG "/t/0000000000000000/00000000";
    assert_int_equal(test_store_raw_get(ts, key, &v, &len), 0);
    v[len - 1] ^= 1;
    assert_int_equal(test_store_raw_put(ts, key, v, len), 0);
    free(v);
    e = test_engine_open_org(test_store_handle(ts));
    uint64_t n;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_ECORRUPT);
    assert_string_equal(eng_error_last()->detail, key);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static long failing_reader(void *buf, size_t cap, void *user)
{
    int *calls = user;
    if ((*calls)++ == 0) {
        const char *s = "id,city\n1,Pune\n2,Del";
        memcpy(buf, s, strlen(s) < cap ? strlen(s) : cap);
        return (long)strlen(s);
    }
    eng_error_set(ENG_EUSER, "disk unplugged");
    return ENG_EUSER;
}

static int cancel_at;
static int progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)op; (void)done; (void)total; (void)user;
    return --cancel_at == 0;
}

static void reader_failure_and_cancel(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = open_declared(ts);
    size_t keys = test_store_count(ts);
    int calls = 0;
    assert_int_equal(eng_customers_import_csv(e, TA, failing_reader, &calls, NULL, NULL), ENG_EUSER);
    assert_string_equal(eng_error_last()->message, "disk unplugged");
    assert_int_equal(test_store_count(ts), keys);
    assert_int_equal(eng_close(e), ENG_OK);

    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(ts);
    cfg.progress_fn = progress;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(test_org(e), ENG_OK);
    size_t rows = 70000;
    char *csv = malloc(rows * 16 + 16), *p = csv;
    p += sprintf(p, "id\n");
    for (size_t i = 0; i < rows; i++)
        p += sprintf(p, "k%zu\n", i);
    cancel_at = 1;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_ECANCELLED);
    assert_int_equal(test_store_count(ts), keys);
    cancel_at = 1000;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, rows);
    free(csv);
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static int oom_import(void *arg)
{
    (void)arg;
    eng_store *s;
    int rc = eng_store_memory_new(test_alloc_get(), &s);
    if (rc)
        return rc;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.store = s;
    eng_engine *e;
    if ((rc = eng_open(&cfg, &e)))
        return rc;
    if ((rc = test_org(e))) {
        eng_close(e);
        return rc;
    }
    const char *csv = "id,city,age,contact.email,consent.email,suppressed\n"
                      "1,Pune,3,a@b.cd,yes,no\n2,\"De\nlhi\",4,,2025-01-01,1\n3,Pune,,x@y.zz,true,\n";
    const char *names[] = {"id", "age"};
    const char *vals[] = {"2", "9", "4", "10"};
    if (!(rc = eng_customers_add_column(e, TA, "city", ENG_COL_STRING)) &&
        !(rc = eng_customers_add_column(e, TA, "age", ENG_COL_INT64)) &&
        !(rc = eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), NULL, NULL)))
        rc = eng_customers_upsert(e, TA, names, 2, vals, 2, NULL, NULL);
    if (!rc)
        rc = eng_customers_compact(e, TA);
    if (!rc) {
        uint64_t n = 0;
        rc = eng_customers_count(e, TA, &n);
        if (!rc)
            assert_int_equal(n, 4);
    }
    eng_close(e);
    return rc;
}

static void oom_loop(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_true(test_oom_loop(oom_import, NULL) > 20);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_inputs_are_rejected_whole),
        cmocka_unit_test(skip_mode_counts_bad_rows),
        cmocka_unit_test(failing_halfway_leaves_no_trace),
        cmocka_unit_test(replay_read_failure_stores_nothing),
        cmocka_unit_test(corrupt_delta_is_reported),
        cmocka_unit_test(reader_failure_and_cancel),
        cmocka_unit_test(oom_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
