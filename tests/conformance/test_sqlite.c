/* examples/store-sqlite through the conformance suite, then what is particular
 * to it: the rows are really in SQLite (read back by a connection of our own),
 * the database is in WAL mode, bad files give clear errors, and with
 * STORE_SQLITE_SHARED the change feed reports other handles' commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conformance.h"
#include "store_sqlite.h"
#include "store/store_impl.h"
#include "test_alloc.h"
#include "test_util.h"

typedef struct loc {
    char *dir;
    char path[600];
} loc;

static void *sq_create(void *arg)
{
    (void)arg;
    loc *l = calloc(1, sizeof *l);
    l->dir = test_tmpdir();
    snprintf(l->path, sizeof l->path, "%s/engage.sqlite", l->dir);
    return l;
}

static int sq_open(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    return store_sqlite_open(((loc *)ctx)->path, NULL, STORE_SQLITE_CREATE, alloc, out);
}

/* The same database shared by several engines: commits also log their key prefixes. */
static int sq_open_shared(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    return store_sqlite_open(((loc *)ctx)->path, NULL, STORE_SQLITE_CREATE | STORE_SQLITE_SHARED, alloc, out);
}

static void sq_destroy(void *ctx)
{
    loc *l = ctx;
    test_rmtree(l->dir);
    free(l->dir);
    free(l);
}

static int setup(void **state)
{
    test_alloc_reset();
    *state = sq_create(NULL);
    return 0;
}

static int teardown(void **state)
{
    sq_destroy(*state);
    test_alloc_assert_clean();
    return 0;
}

static void rows_are_in_sqlite_in_wal_mode(void **state)
{
    loc *l = *state;
    eng_store *s = NULL;
    assert_int_equal(sq_open(l, test_alloc_get(), &s), ENG_OK);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "b\x80", 2, "2", 1), ENG_OK);
    assert_int_equal(eng__kv_put(s, "b\x01", 2, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    eng_store_free(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(l->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(hex(k) || '=' || v, ',') FROM "
                                            "(SELECT k, CAST(v AS TEXT) v FROM engage_kv ORDER BY k)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "6201=1,6280=2");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void bad_files_give_clear_errors(void **state)
{
    loc *l = *state;
    eng_store *s = (eng_store *)1;
    assert_int_equal(store_sqlite_open(l->path, NULL, 0, NULL, &s), ENG_ENOTFOUND);
    assert_null(s);
    FILE *f = fopen(l->path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc(i * 7 & 0xff, f);
    fclose(f);
    s = (eng_store *)1;
    assert_int_equal(store_sqlite_open(l->path, NULL, 0, NULL, &s), ENG_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(eng_error_last()->message, "sqlite"));
    assert_int_equal(store_sqlite_open(l->path, "bad\"name", STORE_SQLITE_CREATE, NULL, &s), ENG_EINVAL);
    assert_int_equal(store_sqlite_open(NULL, NULL, 0, NULL, &s), ENG_EINVAL);
}

/* ---- shared databases (storage contract v3, `changes`) ---- */

static eng_store *open_ok(loc *l, unsigned flags)
{
    eng_store *s = NULL;
    int rc = store_sqlite_open(l->path, NULL, STORE_SQLITE_CREATE | flags, test_alloc_get(), &s);
    if (rc)
        fail_msg("store_sqlite_open: %s", eng_error_last()->message);
    return s;
}

/* The log's horizon moved past @p upto, as a pruning by another handle would. */
static void mark_pruned(void *ctx, uint64_t upto)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(((loc *)ctx)->path, &db), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE engage_kv_horizon SET upto = %llu", (unsigned long long)upto);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The change feed (conf_change_feed), and none without the flag. */
static void changes_report_other_handles(void **state)
{
    loc *l = *state;
    eng_store *a = open_ok(l, STORE_SQLITE_SHARED), *b = open_ok(l, STORE_SQLITE_SHARED);
    assert_true(eng__kv_shared(a));
    eng_store *plain = open_ok(l, 0);
    assert_false(eng__kv_shared(plain)); /* without the flag: no change feed */
    eng_store_free(plain);
    conf_change_feed(a, b, mark_pruned, l);
    eng_store_free(a);
    eng_store_free(b);
}

/* Erasure through the adapter (its `erased`: VACUUM): once eng_customer_erase returns, no file
 * of the database's directory (the database, its WAL, its shared memory) holds the erased
 * customer's email or external id, while another customer's email stays (docs/privacy.md). */
static void erased_bytes_leave_every_file(void **state)
{
    loc *l = *state;
    eng_store *s = NULL;
    assert_int_equal(store_sqlite_open(l->path, NULL, STORE_SQLITE_CREATE, test_alloc_get(), &s), ENG_OK);
    eng_engine *e = test_engine_open(s);
    assert_int_equal(eng_org_create(e, "acme", NULL, "admin", NULL), ENG_OK);
    char csv[4096], *p = csv;
    p += sprintf(p, "id,contact.email,consent.email\n");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "cust-%03d-erasable,person%03d@erase.example,yes\n", i, i);
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    const char *pat = "person007@erase.example", *pid = "cust-007-erasable";
    assert_int_equal(test_dir_has_bytes(l->dir, pat, strlen(pat)), 1); /* the search finds what is there */
    assert_int_equal(eng_customer_erase(e, "admin", pid), ENG_OK);
    assert_int_equal(test_dir_has_bytes(l->dir, pat, strlen(pat)), 0);
    assert_int_equal(test_dir_has_bytes(l->dir, pid, strlen(pid)), 0);
    assert_int_equal(test_dir_has_bytes(l->dir, "person008@erase.example", 23), 1);
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(test_dir_has_bytes(l->dir, pat, strlen(pat)), 0);
}

int main(void)
{
    static const conf_backend b = {"sqlite", 1, sq_create, sq_open, sq_destroy, NULL};
    static const conf_backend bs = {"sqlite-shared", 1, sq_create, sq_open_shared, sq_destroy, NULL};
    int failed = conf_run(&b);
    failed += conf_run(&bs);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rows_are_in_sqlite_in_wal_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_files_give_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_report_other_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(erased_bytes_leave_every_file, setup, teardown),
    };
    failed += cmocka_run_group_tests_name("sqlite adapter", tests, NULL, NULL);
    return failed ? 1 : 0;
}
