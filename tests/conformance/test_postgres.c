/* examples/store-postgres through the conformance suite against a real server
 * (started by with_postgres.sh, which passes ENGAGE_PG_CONNINFO), then what is
 * particular to it: the rows are bytea in PostgreSQL, a lost connection is a
 * clear error and the next call reconnects, and two serializable batches
 * that conflict give ENG_EBUSY to one of them. Each case uses a table of its
 * own and drops it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "conformance.h"
#include "store_pg.h"
#include "store/store_impl.h"
#include "test_alloc.h"

static const char *conninfo;

typedef struct loc {
    char table[64];
} loc;

static void *pg_create(void *arg)
{
    (void)arg;
    static int n;
    loc *l = calloc(1, sizeof *l);
    snprintf(l->table, sizeof l->table, "conf_%d_%d", (int)getpid(), ++n);
    return l;
}

static int pg_open(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    return store_pg_open(conninfo, ((loc *)ctx)->table, 0, alloc, out);
}

/* The same table shared by several engines: commits also log their key prefixes. */
static int pg_open_shared(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    return store_pg_open(conninfo, ((loc *)ctx)->table, STORE_PG_SHARED, alloc, out);
}

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A connection of the test's own, to look at and disturb the server. */
static PGconn *admin(void)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("admin connection: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notices, NULL); /* "table does not exist, skipping" */
    return c;
}

static void sql_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first column of the first row as text. */
static char *sql_text(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

static void pg_destroy(void *ctx)
{
    loc *l = ctx;
    PGconn *c = admin();
    char sql[300];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s\", \"%s_changes\", \"%s_horizon\"", l->table, l->table,
             l->table);
    sql_ok(c, sql);
    PQfinish(c);
    free(l);
}

static int setup(void **state)
{
    test_alloc_reset();
    *state = pg_create(NULL);
    return 0;
}

static int teardown(void **state)
{
    pg_destroy(*state);
    test_alloc_assert_clean();
    return 0;
}

static eng_store *open_ok(loc *l, unsigned flags)
{
    eng_store *s = NULL;
    int rc = store_pg_open(conninfo, l->table, flags, test_alloc_get(), &s);
    if (rc)
        fail_msg("store_pg_open: %s", eng_error_last()->message);
    return s;
}

static void rows_are_bytea_in_postgres(void **state)
{
    loc *l = *state;
    eng_store *s = open_ok(l, 0);
    assert_int_equal(eng__kv_put(s, "b\x80", 2, "2", 1), ENG_OK);
    assert_int_equal(eng__kv_put(s, "b\x01", 2, "\0", 1), ENG_OK);
    eng_store_free(s);
    PGconn *c = admin();
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT string_agg(encode(k, 'hex') || '=' || encode(v, 'hex'), ',' ORDER BY k) FROM \"%s\"",
             l->table);
    char *got = sql_text(c, sql);
    assert_string_equal(got, "6201=00,6280=32");
    free(got);
    snprintf(sql, sizeof sql, "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) "
                              "FROM pg_attribute WHERE attrelid = '\"%s\"'::regclass AND attnum > 0", l->table);
    got = sql_text(c, sql);
    assert_string_equal(got, "bytea,bytea");
    free(got);
    PQfinish(c);
}

/* Every other client backend of the database is terminated, as a server
 * restart or a network cut would. */
static void cut_connections(void)
{
    PGconn *c = admin();
    sql_ok(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
              "AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
    PQfinish(c);
    usleep(20000);
}

static int count_cb(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    (void)k; (void)kl; (void)v; (void)vl;
    ++*(int *)u;
    return 0;
}

static int cut_at_first(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    (void)k; (void)kl; (void)v; (void)vl;
    if (++*(int *)u == 1)
        cut_connections();
    return 0;
}

static void lost_connection_is_clear_and_reconnects(void **state)
{
    loc *l = *state;
    eng_store *s = open_ok(l, 0);
    assert_int_equal(eng__kv_put(s, "a", 1, "1", 1), ENG_OK);

    /* Outside a batch: the call reconnects and goes through. */
    cut_connections();
    eng__val v;
    assert_int_equal(eng__kv_get(s, "a", 1, &v), ENG_OK);
    eng__val_free(s, &v);

    /* Inside a batch: the batch is gone, the error says so, rollback is fine,
     * and the next call reconnects; nothing of the batch was written. */
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "b", 1, "1", 1), ENG_OK);
    cut_connections();
    assert_int_equal(eng__kv_put(s, "c", 1, "1", 1), ENG_ESTORAGE);
    assert_non_null(strstr(eng_error_last()->message, "connection lost"));
    assert_non_null(strstr(eng_error_last()->message, "batch is gone"));
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    assert_int_equal(eng__kv_get(s, "b", 1, &v), ENG_ENOTFOUND);

    /* Lost just before the commit. */
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "d", 1, "1", 1), ENG_OK);
    cut_connections();
    assert_int_equal(eng__kv_commit(s), ENG_ESTORAGE);
    assert_non_null(strstr(eng_error_last()->message, "connection lost"));
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    assert_int_equal(eng__kv_get(s, "d", 1, &v), ENG_ENOTFOUND);

    /* Lost between two pages of a scan: the scan fails rather than read the
     * rest from another snapshot; the next call reconnects. */
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    for (int i = 0; i < 600; i++) {
        char k[16];
        snprintf(k, sizeof k, "s/%04d", i);
        assert_int_equal(eng__kv_put(s, k, strlen(k), "x", 1), ENG_OK);
    }
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    int seen = 0;
    assert_int_equal(eng__kv_scan(s, "s/", 2, cut_at_first, &seen), ENG_ESTORAGE);
    assert_non_null(strstr(eng_error_last()->message, "connection lost"));
    assert_true(seen >= 1 && seen < 600);
    seen = 0;
    assert_int_equal(eng__kv_scan(s, "s/", 2, count_cb, &seen), ENG_OK);
    assert_int_equal(seen, 600);
    eng_store_free(s);

    /* A server that is not there. */
    s = (eng_store *)1;
    assert_int_equal(store_pg_open("host=127.0.0.1 port=1 connect_timeout=5", NULL, 0, NULL, &s), ENG_ESTORAGE);
    assert_null(s);
    assert_non_null(strstr(eng_error_last()->message, "postgres connect"));
}

/* Write skew: each batch reads the whole w/ range and adds a key to it. Under
 * SERIALIZABLE one of the two must fail with ENG_EBUSY; its retry succeeds. */
static void conflicting_batches_give_ebusy(void **state)
{
    loc *l = *state;
    eng_store *a = open_ok(l, 0), *b = open_ok(l, 0);
    int na = 0, nb = 0;
    assert_int_equal(eng__kv_begin(a), ENG_OK);
    assert_int_equal(eng__kv_begin(b), ENG_OK);
    assert_int_equal(eng__kv_scan(a, "w/", 2, count_cb, &na), ENG_OK);
    assert_int_equal(eng__kv_scan(b, "w/", 2, count_cb, &nb), ENG_OK);
    assert_int_equal(eng__kv_put(a, "w/a", 3, "0", 1), ENG_OK);
    int rc = eng__kv_put(b, "w/b", 3, "0", 1);
    assert_int_equal(eng__kv_commit(a), ENG_OK);
    if (rc == ENG_OK)
        rc = eng__kv_commit(b);
    assert_int_equal(rc, ENG_EBUSY);
    assert_non_null(strstr(eng_error_last()->message, "40001"));
    assert_int_equal(eng__kv_rollback(b), ENG_OK);
    /* the retry sees a's key and commits */
    nb = 0;
    assert_int_equal(eng__kv_begin(b), ENG_OK);
    assert_int_equal(eng__kv_scan(b, "w/", 2, count_cb, &nb), ENG_OK);
    assert_int_equal(nb, 1);
    assert_int_equal(eng__kv_put(b, "w/b", 3, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_commit(b), ENG_OK);
    eng_store_free(a);
    eng_store_free(b);
}

/* ---- shared tables (storage contract v3, `changes`) ---- */

/* The log's horizon moved past @p upto, as a pruning by another handle would. */
static void mark_pruned(void *ctx, uint64_t upto)
{
    PGconn *c = admin();
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE \"%s_horizon\" SET upto = %llu", ((loc *)ctx)->table, (unsigned long long)upto);
    sql_ok(c, sql);
    PQfinish(c);
}

/* The change feed (conf_change_feed), and none on a table opened without STORE_PG_SHARED. */
static void changes_report_other_handles(void **state)
{
    loc *l = *state;
    eng_store *a = open_ok(l, STORE_PG_SHARED), *b = open_ok(l, STORE_PG_SHARED);
    assert_true(eng__kv_shared(a));
    eng_store *plain = open_ok(l, 0);
    assert_false(eng__kv_shared(plain)); /* a version-1 style handle: no change feed */
    eng_store_free(plain);
    conf_change_feed(a, b, mark_pruned, l);
    eng_store_free(a);
    eng_store_free(b);
}

/* Two batches that each read the change log at their start and commit
 * writes to different keys: the one that commits second could not see the
 * first, so it must fail (ENG_EBUSY). This is what keeps an engine's cache
 * from writing over a commit it did not see. */
static void unseen_commit_conflicts(void **state)
{
    loc *l = *state;
    eng_store *a = open_ok(l, STORE_PG_SHARED), *b = open_ok(l, STORE_PG_SHARED);
    uint64_t ca = 0, cb = 0;
    assert_int_equal(a->m.changes(&ca, NULL, NULL, a->user), ENG_OK);
    assert_int_equal(b->m.changes(&cb, NULL, NULL, b->user), ENG_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(eng__kv_begin(a), ENG_OK);
        assert_int_equal(eng__kv_begin(b), ENG_OK);
        assert_int_equal(conf_poll(a, &ca).n, 0);
        assert_int_equal(conf_poll(b, &cb).n, 0);
        assert_int_equal(eng__kv_put(a, round ? "e/t1" : "a/t1", 4, "1", 1), ENG_OK);
        assert_int_equal(eng__kv_put(b, round ? "e/s1" : "a/t2", 4, "2", 1), ENG_OK);
        assert_int_equal(eng__kv_commit(a), ENG_OK);
        assert_int_equal(eng__kv_commit(b), ENG_EBUSY);
        assert_int_equal(eng__kv_rollback(b), ENG_OK);
        assert_int_equal(conf_poll(b, &cb).n, 1); /* then b learns of a's commit */
        assert_int_equal(conf_poll(a, &ca).n, 0);
    }
    eng_store_free(a);
    eng_store_free(b);
}

int main(void)
{
    conninfo = getenv("ENGAGE_PG_CONNINFO");
    if (!conninfo || !*conninfo) {
        printf("SKIP: ENGAGE_PG_CONNINFO is not set (run through tests/conformance/with_postgres.sh)\n");
        return 77;
    }
    static const conf_backend b = {"postgres", 1, pg_create, pg_open, pg_destroy, NULL};
    static const conf_backend bs = {"postgres-shared", 1, pg_create, pg_open_shared, pg_destroy, NULL};
    int failed = conf_run(&b);
    failed += conf_run(&bs);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rows_are_bytea_in_postgres, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_connection_is_clear_and_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(conflicting_batches_give_ebusy, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_report_other_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(unseen_commit_conflicts, setup, teardown),
    };
    failed += cmocka_run_group_tests_name("postgres adapter", tests, NULL, NULL);
    return failed ? 1 : 0;
}
