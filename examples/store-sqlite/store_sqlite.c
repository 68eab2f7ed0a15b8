/* libengage storage over SQLite: see store_sqlite.h. Each callback maps
 * SQLite's result to a libengage code and attaches SQLite's message. */
#include "store_sqlite.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PFX 32     /* distinct key prefixes logged per commit; more: the empty key ("anything") */
#define PFX_LEN 48     /* longest logged prefix */
#define PRUNE_EVERY 512   /* commits of one handle between prunings of the change log */
#define PRUNE_KEEP 100000 /* change-log rows kept */

typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *del, *scan_from, *scan_range;
    /* STORE_SQLITE_SHARED: the change log (storage contract v3) */
    sqlite3_stmt *log, *poll, *end;
    char prune[600];
    int in_batch;
    unsigned char writer[8]; /* this handle's id in the change log */
    unsigned char pfx[MAX_PFX][PFX_LEN];
    int pfx_len[MAX_PFX];
    int npfx, pfx_all;
    unsigned long commits;
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

/* The prefix a key is logged by: up to its third '/' ("a/o/<org>/" for an
 * org's customers), its fourth for events ("e/<org>/t/c/" an org's touch tail
 * chunks, which other engines read as appends, apart from "e/<org>/t/s/" its
 * sealed segments), else its second ("m/l/"), else its first two bytes (the
 * layer); dispatch keys ("d/...") whole, so engines read one changed ledger
 * chunk again. The same rule as store-postgres, so that engines drop only the
 * caches the prefix covers. */
static int log_prefix(const unsigned char *k, size_t klen)
{
    if (klen > 1 && k[0] == 'd' && k[1] == '/')
        return klen < PFX_LEN ? (int)klen : PFX_LEN;
    int slash[4], ns = 0, want = klen > 1 && k[0] == 'e' && k[1] == '/' ? 4 : 3;
    for (size_t i = 0; i < klen && i < PFX_LEN && ns < want; i++)
        if (k[i] == '/')
            slash[ns++] = (int)i + 1;
    if (ns >= 3)
        return slash[ns - 1];
    if (ns == 2)
        return slash[1];
    return klen < 2 ? (int)klen : 2;
}

/* Shared databases: remember which key prefixes the open batch wrote. */
static void note(sq *s, const void *key, size_t klen)
{
    int n = log_prefix(key, klen);
    for (int i = 0; i < s->npfx; i++)
        if (s->pfx_len[i] == n && memcmp(s->pfx[i], key, (size_t)n) == 0)
            return;
    if (s->npfx == MAX_PFX) {
        s->pfx_all = 1;
        return;
    }
    memcpy(s->pfx[s->npfx], key, (size_t)n);
    s->pfx_len[s->npfx++] = n;
}

static int sq_begin(void *user);
static int sq_commit(void *user);
static int sq_rollback(void *user);

/* One write. On a shared database a write outside a batch is a batch of its
 * own, so that its change-log row commits with it. */
static int write_one(sq *s, sqlite3_stmt *st, const void *key, size_t klen, const void *val, size_t vlen,
                     const char *what)
{
    int own = s->log && !s->in_batch, ret;
    if (own && (ret = sq_begin(s)))
        return ret;
    if (s->log)
        note(s, key, klen);
    int rc = bind_blob(st, 1, key, klen);
    if (rc == SQLITE_OK && val)
        rc = bind_blob(st, 2, val, vlen);
    ret = rc == SQLITE_OK ? step_done(s, st, what) : sq_fail(s, rc, what);
    if (own) {
        if (ret == ENG_OK)
            ret = sq_commit(s);
        if (ret) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
            sq_rollback(s);
            eng_error_set(ret, msg);
        }
    }
    return ret;
}

static int sq_put(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    return write_one(user, ((sq *)user)->put, key, klen, vlen ? val : "", vlen, "put");
}

static int sq_del(const void *key, size_t klen, void *user)
{
    return write_one(user, ((sq *)user)->del, key, klen, NULL, 0, "delete");
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
 * rows' bytes in free pages until they are reused; VACUUM rewrites the database.
 * In WAL mode the rewrite goes to the WAL and the old pages stay in the database
 * file (and old frames in the WAL) until a checkpoint: a TRUNCATE checkpoint
 * copies the rewrite back, shortens the database and empties the WAL. Another
 * connection reading meanwhile keeps it from finishing: then an error, so the
 * library tells these keys again at the next erasure (docs/privacy.md). */
static int sq_erased(const void *const *keys, const size_t *lens, size_t n, void *user)
{
    (void)keys;
    (void)lens;
    (void)n;
    sq *s = user;
    int rc = exec(s, "VACUUM", "vacuum");
    sqlite3_stmt *st = NULL;
    int src = rc ? SQLITE_OK : sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL);
    if (!rc && src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0)) { /* busy: a reader kept the checkpoint from finishing */
            eng_error_set(ENG_EBUSY, "sqlite vacuum: the WAL is still read by another connection (told again at the "
                                     "next erasure)");
            rc = ENG_EBUSY;
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc ? rc : src != SQLITE_OK ? sq_fail(s, src, "vacuum checkpoint") : ENG_OK;
}

/* IMMEDIATE takes the write lock now: a batch never fails halfway on a lock
 * upgrade, and on a shared database no other handle commits while a batch is
 * open, so the change poll right after begin has seen every commit before it
 * and a batch can never write over a commit it did not see. */
static int sq_begin(void *user)
{
    sq *s = user;
    int rc = exec(s, "BEGIN IMMEDIATE", "begin");
    s->in_batch = rc == ENG_OK;
    s->npfx = s->pfx_all = 0;
    return rc;
}

/* Shared databases: log the batch's key prefixes inside it, and now and then
 * prune the log (recording how far, so a poller that was behind learns that
 * anything may have changed). */
static int log_changes(sq *s)
{
    if (!s->log || (!s->npfx && !s->pfx_all))
        return ENG_OK;
    int ret = ENG_OK;
    for (int i = 0; i < (s->pfx_all ? 1 : s->npfx) && !ret; i++) {
        int rc = sqlite3_bind_blob(s->log, 1, s->writer, 8, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = bind_blob(s->log, 2, s->pfx_all ? "" : (const void *)s->pfx[i], s->pfx_all ? 0 : (size_t)s->pfx_len[i]);
        ret = rc == SQLITE_OK ? step_done(s, s->log, "commit") : sq_fail(s, rc, "commit");
    }
    if (!ret && ++s->commits % PRUNE_EVERY == 0)
        ret = exec(s, s->prune, "commit");
    return ret;
}

static int sq_commit(void *user)
{
    sq *s = user;
    int rc = log_changes(s);
    if (rc == ENG_OK && (rc = exec(s, "COMMIT", "commit")) == ENG_OK)
        s->in_batch = 0;
    return rc;
}

static int sq_rollback(void *user)
{
    sq *s = user;
    s->in_batch = 0;
    if (sqlite3_get_autocommit(s->db))
        return ENG_OK; /* SQLite already rolled back (after an I/O error, for instance) */
    return exec(s, "ROLLBACK", "rollback");
}

/* Storage contract v3 (shared databases): what other handles committed after
 * *cursor, in commit order, as key prefixes; a log pruned past *cursor is
 * reported as the empty key ("anything may have changed"). One statement
 * reads the rows and the horizon, so a pruning between two reads cannot hide
 * a commit. */
static int sq_changes(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *user)
{
    sq *s = user;
    sqlite3_stmt *st = cb ? s->poll : s->end;
    int rc = SQLITE_OK, ret = ENG_OK;
    if (cb) {
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)*cursor);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(st, 2, s->writer, 8, SQLITE_STATIC);
    }
    uint64_t to = *cursor;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 seq = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
        if (!cb) {
            to = (uint64_t)seq;
            continue;
        }
        if (seq < 0) { /* pruned past the cursor */
            if ((ret = cb("", 0, cb_user)))
                break;
            continue;
        }
        if ((uint64_t)seq > to)
            to = (uint64_t)seq;
        if (!sqlite3_column_int(st, 2)) {
            const void *k = sqlite3_column_blob(st, 1);
            if ((ret = cb(k ? k : "", (size_t)sqlite3_column_bytes(st, 1), cb_user)))
                break;
        }
    }
    if (ret == ENG_OK && rc != SQLITE_DONE)
        ret = sq_fail(s, rc, "changes");
    sqlite3_reset(st);
    if (ret == ENG_OK)
        *cursor = to;
    return ret;
}

static void sq_destroy(void *user)
{
    sq *s = user;
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->scan_from);
    sqlite3_finalize(s->scan_range);
    sqlite3_finalize(s->log);
    sqlite3_finalize(s->poll);
    sqlite3_finalize(s->end);
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

/* STORE_SQLITE_SHARED: the change log "<table>_changes" (one row per commit
 * and key prefix, seq in commit order) and "<table>_horizon" (up to which seq
 * it was pruned), and this handle's writer id. */
static int setup_shared(sq *s, const char *table)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"%s_changes\" (seq INTEGER PRIMARY KEY AUTOINCREMENT, writer BLOB NOT NULL, "
             "k BLOB NOT NULL); CREATE TABLE IF NOT EXISTS \"%s_horizon\" (upto INTEGER NOT NULL); "
             "INSERT INTO \"%s_horizon\" SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM \"%s_horizon\")",
             table, table, table, table);
    int ret = exec(s, "BEGIN IMMEDIATE", "create table");
    if (!ret && (ret = exec(s, sql, "create table")) == ENG_OK)
        ret = exec(s, "COMMIT", "create table");
    else if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    snprintf(sql, sizeof sql, "INSERT INTO \"%s_changes\" (writer, k) VALUES (?1, ?2)", table);
    if (!ret && (ret = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->log, NULL)) != SQLITE_OK)
        ret = sq_fail(s, ret, "prepare");
    snprintf(sql, sizeof sql,
             "SELECT seq, k, writer = ?2 FROM \"%s_changes\" WHERE seq > ?1 "
             "UNION ALL SELECT -1, x'', 0 FROM \"%s_horizon\" WHERE upto > ?1 ORDER BY 1",
             table, table);
    if (!ret && (ret = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->poll, NULL)) != SQLITE_OK)
        ret = sq_fail(s, ret, "prepare");
    snprintf(sql, sizeof sql,
             "SELECT max(coalesce((SELECT max(seq) FROM \"%s_changes\"), 0), (SELECT max(upto) FROM \"%s_horizon\"))",
             table, table);
    if (!ret && (ret = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->end, NULL)) != SQLITE_OK)
        ret = sq_fail(s, ret, "prepare");
    snprintf(s->prune, sizeof s->prune,
             "UPDATE \"%s_horizon\" SET upto = max(upto, coalesce((SELECT max(seq) FROM \"%s_changes\"), 0) - %d); "
             "DELETE FROM \"%s_changes\" WHERE seq <= (SELECT upto FROM \"%s_horizon\")",
             table, table, PRUNE_KEEP, table, table);
    /* random bytes, told apart from every other handle's */
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(s->writer, 1, sizeof s->writer, f) : 0;
    if (f)
        fclose(f);
    if (!ret && got != sizeof s->writer) {
        eng_error_set(ENG_ESTORAGE, "sqlite open: cannot read /dev/urandom for a writer id");
        ret = ENG_ESTORAGE;
    }
    return ret;
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
    if (!ret && (flags & STORE_SQLITE_SHARED))
        ret = setup_shared(s, table);
    return ret;
}

int store_sqlite_open(const char *path, const char *table, unsigned flags, const eng_allocator *alloc,
                      eng_store **out)
{
    static const eng_store_methods methods = {
        ENG_STORE_METHODS_VERSION, sq_get, sq_put, sq_del, sq_scan, sq_begin, sq_commit, sq_rollback, sq_destroy, sq_erased, NULL,
    };
    static const eng_store_methods shared = {
        ENG_STORE_METHODS_VERSION, sq_get, sq_put, sq_del, sq_scan, sq_begin, sq_commit, sq_rollback, sq_destroy, sq_erased,
        sq_changes,
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
    /* calls sq_destroy itself on failure */
    return eng_store_new(flags & STORE_SQLITE_SHARED ? &shared : &methods, s, alloc, out);
}
