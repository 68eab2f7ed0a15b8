/* libengage storage over SQLite: see store_sqlite.h. Each callback maps
 * SQLite's result to a libengage code and attaches SQLite's message. */
#include "store_sqlite.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *del, *scan_from, *scan_range;
} sq;

/* SQLite's primary result code as a libengage code, with its message. */
static int sq_fail(sq *s, int rc, const char *what)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED: code = ENG_EBUSY; break;
    case SQLITE_NOMEM: code = ENG_ENOMEM; break;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: code = ENG_ECORRUPT; break;
    case SQLITE_IOERR: case SQLITE_FULL: case SQLITE_CANTOPEN: code = ENG_EIO; break;
    case SQLITE_TOOBIG: code = ENG_ETOOBIG; break;
    default: code = ENG_ESTORAGE; break;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "sqlite %s: %s", what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    eng_error_set(code, msg);
    return code;
}

/* A zero-length blob must be bound as a blob, not as NULL. */
static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    return n ? sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
}

static int sq_get(const void *key, size_t klen, eng_buf *out, void *user)
{
    sq *s = user;
    int rc = bind_blob(s->get, 1, key, klen);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s->get);
    int ret;
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(s->get, 0);
        ret = eng_buf_set(out, v ? v : "", (size_t)sqlite3_column_bytes(s->get, 0));
    } else {
        ret = rc == SQLITE_DONE ? ENG_ENOTFOUND : sq_fail(s, rc, "get");
    }
    sqlite3_reset(s->get);
    return ret;
}

/* Run a prepared write statement once (bindings already made). */
static int step_done(sq *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? ENG_OK : sq_fail(s, rc, what);
    sqlite3_reset(st);
    return ret;
}

static int sq_put(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    sq *s = user;
    int rc = bind_blob(s->put, 1, key, klen);
    if (rc == SQLITE_OK)
        rc = bind_blob(s->put, 2, val, vlen);
    return rc == SQLITE_OK ? step_done(s, s->put, "put") : sq_fail(s, rc, "put");
}

static int sq_del(const void *key, size_t klen, void *user)
{
    sq *s = user;
    int rc = bind_blob(s->del, 1, key, klen);
    return rc == SQLITE_OK ? step_done(s, s->del, "delete") : sq_fail(s, rc, "delete");
}

/* The smallest key above every key that starts with prefix: drop trailing
 * 0xff bytes and add one to the last. Returns 0 when there is none. */
static size_t prefix_end(const unsigned char *p, size_t n, unsigned char *end)
{
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(end, p, n);
    end[n - 1]++;
    return n;
}

static int sq_scan(const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user, void *user)
{
    sq *s = user;
    unsigned char end[ENG_STORE_MAX_KEY];
    size_t elen = prefix_end(prefix, plen, end);
    sqlite3_stmt *st = elen ? s->scan_range : s->scan_from, *own = NULL;
    if (sqlite3_stmt_busy(st)) { /* a scan inside a scan callback: a statement of its own */
        int rc = sqlite3_prepare_v2(s->db, sqlite3_sql(st), -1, &own, NULL);
        if (rc != SQLITE_OK)
            return sq_fail(s, rc, "scan");
        st = own;
    }
    int rc = bind_blob(st, 1, prefix, plen);
    if (rc == SQLITE_OK && elen)
        rc = bind_blob(st, 2, end, elen);
    int ret = ENG_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *k = sqlite3_column_blob(st, 0), *v = sqlite3_column_blob(st, 1);
        int c = cb(k, (size_t)sqlite3_column_bytes(st, 0), v ? v : "", (size_t)sqlite3_column_bytes(st, 1), cb_user);
        if (c != 0) {
            ret = c < 0 ? c : ENG_OK;
            rc = SQLITE_DONE;
            break;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE)
        ret = sq_fail(s, rc, "scan");
    if (own)
        sqlite3_finalize(own);
    else
        sqlite3_reset(st);
    return ret;
}

static int exec(sq *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ENG_OK : sq_fail(s, rc, what);
}

/* Storage contract v2: an erasure deleted personal data. SQLite keeps deleted
 * rows' bytes in free pages until they are reused; VACUUM rewrites the file. */
static int sq_erased(const void *const *keys, const size_t *lens, size_t n, void *user)
{
    (void)keys;
    (void)lens;
    (void)n;
    return exec(user, "VACUUM", "vacuum");
}

/* IMMEDIATE takes the write lock now: a batch never fails halfway on a lock upgrade. */
static int sq_begin(void *user) { return exec(user, "BEGIN IMMEDIATE", "begin"); }
static int sq_commit(void *user) { return exec(user, "COMMIT", "commit"); }

static int sq_rollback(void *user)
{
    sq *s = user;
    if (sqlite3_get_autocommit(s->db))
        return ENG_OK; /* SQLite already rolled back (after an I/O error, for instance) */
    return exec(s, "ROLLBACK", "rollback");
}

static void sq_destroy(void *user)
{
    sq *s = user;
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->scan_from);
    sqlite3_finalize(s->scan_range);
    sqlite3_close(s->db);
    free(s);
}

/* @p head "table" @p tail, prepared to be kept. */
static int prepare(sq *s, const char *head, const char *table, const char *tail, sqlite3_stmt **st)
{
    char sql[400];
    snprintf(sql, sizeof sql, "%s\"%s\"%s", head, table, tail);
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? ENG_OK : sq_fail(s, rc, "prepare");
}

static int setup(sq *s, const char *path, const char *table, unsigned flags)
{
    int oflags = SQLITE_OPEN_READWRITE | (flags & STORE_SQLITE_CREATE ? SQLITE_OPEN_CREATE : 0);
    if (!(flags & STORE_SQLITE_CREATE) && access(path, F_OK) != 0) {
        eng_error_set(ENG_ENOTFOUND, "sqlite open: no database file (and no STORE_SQLITE_CREATE)");
        return ENG_ENOTFOUND;
    }
    int rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "open");
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_stmt *st;
    /* journal_mode answers with the mode in force: check that WAL took. */
    if ((rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL)) != SQLITE_OK)
        return sq_fail(s, rc, "open");
    rc = sqlite3_step(st);
    int wal = rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "open");
    if (!wal) {
        eng_error_set(ENG_ESTORAGE, "sqlite open: the database refused WAL mode");
        return ENG_ESTORAGE;
    }
    int ret = exec(s, flags & STORE_SQLITE_NOSYNC ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", "open");
    char sql[300];
    snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS \"%s\" (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID",
             table);
    if (!ret)
        ret = exec(s, sql, "create table");
    if (!ret)
        ret = prepare(s, "SELECT v FROM ", table, " WHERE k = ?1", &s->get);
    if (!ret)
        ret = prepare(s, "INSERT OR REPLACE INTO ", table, " (k, v) VALUES (?1, ?2)", &s->put);
    if (!ret)
        ret = prepare(s, "DELETE FROM ", table, " WHERE k = ?1", &s->del);
    if (!ret)
        ret = prepare(s, "SELECT k, v FROM ", table, " WHERE k >= ?1 ORDER BY k", &s->scan_from);
    if (!ret)
        ret = prepare(s, "SELECT k, v FROM ", table, " WHERE k >= ?1 AND k < ?2 ORDER BY k", &s->scan_range);
    return ret;
}

int store_sqlite_open(const char *path, const char *table, unsigned flags, const eng_allocator *alloc,
                      eng_store **out)
{
    static const eng_store_methods methods = {
        ENG_STORE_METHODS_VERSION, sq_get, sq_put, sq_del, sq_scan, sq_begin, sq_commit, sq_rollback, sq_destroy, sq_erased, NULL,
    };
    if (out)
        *out = NULL;
    if (!out || !path) {
        eng_error_set(ENG_EINVAL, "store_sqlite_open: NULL path or out");
        return ENG_EINVAL;
    }
    if (!table)
        table = "engage_kv";
    if (strlen(table) > 64 || strchr(table, '"')) {
        eng_error_set(ENG_EINVAL, "store_sqlite_open: table name longer than 64 bytes or with a quote");
        return ENG_EINVAL;
    }
    sq *s = calloc(1, sizeof *s);
    if (!s) {
        eng_error_set(ENG_ENOMEM, "store_sqlite_open: out of memory");
        return ENG_ENOMEM;
    }
    int rc = setup(s, path, table, flags);
    if (rc) {
        /* keep SQLite's message: destroy closes the connection it lives in */
        char msg[300];
        snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
        sq_destroy(s);
        eng_error_set(rc, msg);
        return rc;
    }
    return eng_store_new(&methods, s, alloc, out); /* calls sq_destroy itself on failure */
}
