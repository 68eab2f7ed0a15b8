/* libengage storage over PostgreSQL: see store_pg.h. Statements are prepared
 * once per connection and exchange bytea in binary, so keys and values go
 * over the wire as they are. */
#include "store_pg.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTEA_OID 17
#define INT8_OID 20
#define PAGE 256 /* rows per scan page */
#define STR_(x) #x
#define STR(x) STR_(x)

#define MAX_PFX 32 /* distinct key prefixes logged per commit; more: the empty key ("anything") */
#define PFX_LEN 48 /* longest logged prefix */
#define PRUNE_EVERY 512     /* commits of one handle between prunings of the change log */
#define PRUNE_KEEP 100000   /* change-log rows kept */

typedef struct pg {
    PGconn *conn;
    char *conninfo;
    char *table;    /* quoted identifier */
    char *changes;  /* quoted "<table>_changes" (STORE_PG_SHARED) */
    char *horizon;  /* quoted "<table>_horizon": up to which seq the log was pruned */
    unsigned flags;
    int in_batch;
    int scan_depth; /* scans under way (a scan callback may read): the outermost owns the snapshot */
    unsigned char writer[8]; /* this handle's id in the change log */
    unsigned char pfx[MAX_PFX][PFX_LEN];
    int pfx_len[MAX_PFX];
    int npfx, pfx_all;
    unsigned long commits;
} pg;

static void quiet(void *arg, const char *msg) { (void)arg; (void)msg; } /* NOTICEs are not errors */

__attribute__((format(printf, 2, 3))) static int set_err(int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0'; /* libpq's messages end in a newline */
    eng_error_set(code, msg);
    return code;
}

static int lost(const pg *p) { return PQstatus(p->conn) != CONNECTION_OK; }

/* A failed result (consumed here) as a libengage code with the server's message. */
static int pg_fail(pg *p, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char text[300];
    snprintf(text, sizeof text, "%s", msg ? msg : PQerrorMessage(p->conn));
    int rc;
    if (lost(p) || (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)))) {
        const char *then = !p->in_batch ? ""
                           : !strcmp(what, "commit") ? "; the batch may or may not have been committed"
                                                      : "; the open batch is gone";
        rc = set_err(ENG_ESTORAGE, "postgres %s: connection lost%s: %s", what, then, text);
    } else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))) {
        rc = set_err(ENG_EBUSY, "postgres %s: conflict with another transaction (SQLSTATE %s), retry the batch: %s",
                     what, state, text);
    } else if (state && !strcmp(state, "54000")) {
        rc = set_err(ENG_ETOOBIG, "postgres %s: %s", what, text);
    } else if (state && !strncmp(state, "XX00", 4)) {
        rc = set_err(ENG_ECORRUPT, "postgres %s: %s (SQLSTATE %s)", what, text, state);
    } else {
        rc = set_err(ENG_ESTORAGE, "postgres %s failed (SQLSTATE %s): %s", what, state ? state : "none", text);
    }
    PQclear(r);
    return rc;
}

static int prepare_all(pg *p)
{
    static const struct {
        const char *name, *head, *tail;
        int nparams;
    } st[] = {
        {"eng_get", "SELECT v FROM ", " WHERE k = $1", 1},
        {"eng_put", "INSERT INTO ", " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", 2},
        {"eng_del", "DELETE FROM ", " WHERE k = $1", 1},
        {"eng_scan_from", "SELECT k, v FROM ", " WHERE k >= $1 ORDER BY k LIMIT " STR(PAGE), 1},
        {"eng_scan_range", "SELECT k, v FROM ", " WHERE k >= $1 AND k < $2 ORDER BY k LIMIT " STR(PAGE), 2},
    };
    static const Oid types[2] = {BYTEA_OID, BYTEA_OID};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        char sql[400];
        snprintf(sql, sizeof sql, "%s%s%s", st[i].head, p->table, st[i].tail);
        PGresult *r = PQprepare(p->conn, st[i].name, sql, st[i].nparams, types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return pg_fail(p, r, "prepare");
        PQclear(r);
    }
    if (!p->changes)
        return ENG_OK;
    /* The change log: one row per (commit, key prefix); seq orders the commits.
     * The poll reads every row after the cursor (own ones too, to move past
     * them) and, as a row with seq -1, whether the log was pruned past it. */
    char sql[3][600];
    snprintf(sql[0], sizeof sql[0], "INSERT INTO %s (writer, k) VALUES ($1, $2)", p->changes);
    snprintf(sql[1], sizeof sql[1],
             "SELECT seq, k, w FROM (SELECT c.seq, c.k, (c.writer = $2)::int4 AS w FROM %s c WHERE c.seq > $1 "
             "UNION ALL SELECT -1::int8, ''::bytea, 0 FROM %s h WHERE h.upto > $1) x ORDER BY seq",
             p->changes, p->horizon);
    snprintf(sql[2], sizeof sql[2], "SELECT coalesce(max(seq), 0)::int8 FROM %s", p->changes);
    static const char *names[3] = {"eng_log", "eng_changes", "eng_end"};
    static const Oid ctypes[2] = {INT8_OID, BYTEA_OID};
    for (int i = 0; i < 3; i++) {
        PGresult *r = PQprepare(p->conn, names[i], sql[i], i == 2 ? 0 : 2, i == 0 ? types : ctypes);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return pg_fail(p, r, "prepare");
        PQclear(r);
    }
    return ENG_OK;
}

/* Before a call: a connection lost outside a batch and outside a scan is
 * made again (with its prepared statements); inside one, the work is gone. */
static int ready(pg *p)
{
    if (!lost(p))
        return ENG_OK;
    if (p->in_batch || p->scan_depth)
        return set_err(ENG_ESTORAGE, "postgres: connection lost%s", p->in_batch ? "; the open batch is gone" : " during a scan");
    PQreset(p->conn);
    if (lost(p))
        return set_err(ENG_ESTORAGE, "postgres: connection lost, reconnecting failed: %s", PQerrorMessage(p->conn));
    return prepare_all(p);
}

/* Run a prepared statement (stmt) or plain SQL (sql). Outside a batch and a
 * scan every statement here is idempotent, so one that met a lost connection
 * is run once more on a new one. */
static int call(pg *p, const char *what, const char *stmt, const char *sql, int n, const char *const *vals,
                const int *lens, ExecStatusType want, PGresult **out)
{
    static const int binary[2] = {1, 1};
    for (int attempt = 0;; attempt++) {
        int rc = ready(p);
        if (rc)
            return rc;
        PGresult *r = stmt ? PQexecPrepared(p->conn, stmt, n, vals, lens, binary, 1) : PQexec(p->conn, sql);
        if (PQresultStatus(r) == want) {
            if (out)
                *out = r;
            else
                PQclear(r);
            return ENG_OK;
        }
        if (attempt == 0 && lost(p) && !p->in_batch && !p->scan_depth) {
            PQclear(r);
            continue;
        }
        return pg_fail(p, r, what);
    }
}

static int pg_get(const void *key, size_t klen, eng_buf *out, void *user)
{
    pg *p = user;
    const char *vals[1] = {key};
    int lens[1] = {(int)klen};
    PGresult *r = NULL;
    int rc = call(p, "get", "eng_get", NULL, 1, vals, lens, PGRES_TUPLES_OK, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) == 0 ? ENG_ENOTFOUND : eng_buf_set(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The prefix a key is logged by: up to its third '/' ("a/o/<org>/" for an
 * org's customers), its fourth for events
 * ("e/<org>/t/c/" an org's touch tail chunks, which other engines read as
 * appends, apart from "e/<org>/t/s/" its sealed segments), else its second
 * ("m/l/", "a/i/"), else its first two bytes (the layer). Engines drop only
 * the caches of what the prefix covers (an org's customer table, not every
 * org's), and a commit logs a few rows. Dispatch keys ("d/...") are logged
 * whole: engines read one changed ledger chunk again, not the execution. */
static int log_prefix(const unsigned char *k, size_t klen)
{
    if (klen > 1 && k[0] == 'd' && k[1] == '/') /* the whole key: engines read that one ledger chunk again */
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

/* Shared tables: remember which key prefixes the open batch wrote. */
static void note(pg *p, const void *key, size_t klen)
{
    int n = log_prefix(key, klen);
    for (int i = 0; i < p->npfx; i++)
        if (p->pfx_len[i] == n && memcmp(p->pfx[i], key, (size_t)n) == 0)
            return;
    if (p->npfx == MAX_PFX) {
        p->pfx_all = 1;
        return;
    }
    memcpy(p->pfx[p->npfx], key, (size_t)n);
    p->pfx_len[p->npfx++] = n;
}

static int pg_begin(void *user);
static int pg_commit(void *user);
static int pg_rollback(void *user);

/* A write outside a batch on a shared table is a batch of its own, so that
 * it is logged with its commit. */
static int write1(pg *p, const char *what, const char *stmt, int n, const char *const *vals, const int *lens)
{
    if (!p->changes || p->in_batch) {
        if (p->changes)
            note(p, vals[0], (size_t)lens[0]);
        return call(p, what, stmt, NULL, n, vals, lens, PGRES_COMMAND_OK, NULL);
    }
    int rc = pg_begin(p);
    if (rc)
        return rc;
    note(p, vals[0], (size_t)lens[0]);
    rc = call(p, what, stmt, NULL, n, vals, lens, PGRES_COMMAND_OK, NULL);
    if (rc == ENG_OK)
        rc = pg_commit(p);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
        pg_rollback(p);
        eng_error_set(rc, msg);
    }
    return rc;
}

static int pg_put(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    /* a zero-length value still needs a non-NULL pointer: NULL would be SQL NULL */
    const char *vals[2] = {key, vlen ? val : ""};
    int lens[2] = {(int)klen, (int)vlen};
    return write1(user, "put", "eng_put", 2, vals, lens);
}

static int pg_del(const void *key, size_t klen, void *user)
{
    const char *vals[1] = {key};
    int lens[1] = {(int)klen};
    return write1(user, "delete", "eng_del", 1, vals, lens);
}

/* The smallest key above every key that starts with prefix: drop trailing
 * 0xff bytes and add one to the last. Returns 0 when there is none. */
static size_t prefix_end(const unsigned char *pre, size_t n, unsigned char *end)
{
    while (n > 0 && pre[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(end, pre, n);
    end[n - 1]++;
    return n;
}

/* Page through [prefix, end) in key order; each next page starts at the last
 * key plus a zero byte, the smallest key above it. */
static int scan_pages(pg *p, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user)
{
    unsigned char end[ENG_STORE_MAX_KEY], from[ENG_STORE_MAX_KEY + 1];
    size_t elen = prefix_end(prefix, plen, end), flen = plen;
    memcpy(from, prefix, plen);
    for (;;) {
        const char *vals[2] = {(const char *)from, (const char *)end};
        int lens[2] = {(int)flen, (int)elen};
        PGresult *r = NULL;
        int rc = call(p, "scan", elen ? "eng_scan_range" : "eng_scan_from", NULL, elen ? 2 : 1, vals, lens,
                      PGRES_TUPLES_OK, &r);
        if (rc)
            return rc;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            int c = cb(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), PQgetvalue(r, i, 1),
                       (size_t)PQgetlength(r, i, 1), cb_user);
            if (c != 0) {
                PQclear(r);
                return c < 0 ? c : ENG_OK;
            }
        }
        size_t last = n ? (size_t)PQgetlength(r, n - 1, 0) : 0;
        if (n < PAGE || last > ENG_STORE_MAX_KEY) {
            PQclear(r);
            return n < PAGE ? ENG_OK : set_err(ENG_ESTORAGE, "postgres scan: a key longer than %d bytes", ENG_STORE_MAX_KEY);
        }
        memcpy(from, PQgetvalue(r, n - 1, 0), last);
        from[last] = 0;
        flen = last + 1;
        PQclear(r);
    }
}

static int pg_scan(const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user, void *user)
{
    pg *p = user;
    int own = !p->in_batch && !p->scan_depth; /* outside a batch: all pages from one snapshot */
    if (own) {
        int rc = call(p, "scan", NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
                      PGRES_COMMAND_OK, NULL);
        if (rc)
            return rc;
    }
    p->scan_depth++;
    int ret = scan_pages(p, prefix, plen, cb, cb_user);
    p->scan_depth--;
    if (own && !lost(p)) {
        PGresult *r = PQexec(p->conn, ret == ENG_OK ? "COMMIT" : "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK && ret == ENG_OK)
            return pg_fail(p, r, "scan");
        PQclear(r);
    }
    return ret;
}

static int pg_begin(void *user)
{
    pg *p = user;
    const char *sql = p->flags & STORE_PG_READ_COMMITTED ? "BEGIN" : "BEGIN ISOLATION LEVEL SERIALIZABLE";
    int rc = call(p, "begin", NULL, sql, 0, NULL, NULL, PGRES_COMMAND_OK, NULL);
    if (rc == ENG_OK)
        p->in_batch = 1;
    p->npfx = p->pfx_all = 0;
    return rc;
}

/* Shared tables: log the batch's key prefixes in its own transaction, and
 * now and then prune the log (recording how far, so a poller that was
 * behind learns that anything may have changed). */
static int log_changes(pg *p)
{
    if (!p->changes || (!p->npfx && !p->pfx_all))
        return ENG_OK;
    int rc = ENG_OK;
    for (int i = 0; i < (p->pfx_all ? 1 : p->npfx) && !rc; i++) {
        const char *vals[2] = {(const char *)p->writer, p->pfx_all ? "" : (const char *)p->pfx[i]};
        int lens[2] = {8, p->pfx_all ? 0 : p->pfx_len[i]};
        rc = call(p, "commit", "eng_log", NULL, 2, vals, lens, PGRES_COMMAND_OK, NULL);
    }
    if (!rc && ++p->commits % PRUNE_EVERY == 0) {
        char sql[700];
        snprintf(sql, sizeof sql,
                 "WITH m AS (SELECT max(seq) - %d AS upto FROM %s), d AS (DELETE FROM %s WHERE seq <= (SELECT upto "
                 "FROM m)) UPDATE %s SET upto = greatest(upto, (SELECT coalesce(upto, 0) FROM m))",
                 PRUNE_KEEP, p->changes, p->changes, p->horizon);
        rc = call(p, "commit", NULL, sql, 0, NULL, NULL, PGRES_COMMAND_OK, NULL);
    }
    return rc;
}

static int pg_commit(void *user)
{
    pg *p = user;
    if (lost(p))
        return set_err(ENG_ESTORAGE, "postgres commit: connection lost before the commit; the batch is gone");
    int rc = log_changes(p);
    if (rc)
        return rc;
    PGresult *r = PQexec(p->conn, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(p, r, "commit");
    /* COMMIT of a transaction an earlier error aborted "succeeds" as ROLLBACK */
    int rolled_back = strcmp(PQcmdStatus(r), "COMMIT") != 0;
    PQclear(r);
    if (rolled_back)
        return set_err(ENG_ESTORAGE, "postgres commit: the server rolled the batch back after an earlier error");
    p->in_batch = 0;
    return ENG_OK;
}

static uint64_t get_be64(const char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)b[i];
    return v;
}

/* Storage contract v3 (shared tables): what other handles committed after
 * *cursor. Inside a batch the SELECT belongs to the SERIALIZABLE transaction:
 * a commit it does not see inserts log rows into the range it read, so one of
 * the two transactions fails with SQLSTATE 40001 (ENG_EBUSY). */
static int pg_changes(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *user)
{
    pg *p = user;
    PGresult *r = NULL;
    int rc;
    if (!cb) {
        if ((rc = call(p, "changes", "eng_end", NULL, 0, NULL, NULL, PGRES_TUPLES_OK, &r)))
            return rc;
        *cursor = get_be64(PQgetvalue(r, 0, 0));
        PQclear(r);
        return ENG_OK;
    }
    char from[8];
    for (int i = 0; i < 8; i++)
        from[i] = (char)(*cursor >> (56 - 8 * i));
    const char *vals[2] = {from, (const char *)p->writer};
    int lens[2] = {8, 8};
    if ((rc = call(p, "changes", "eng_changes", NULL, 2, vals, lens, PGRES_TUPLES_OK, &r)))
        return rc;
    uint64_t to = *cursor;
    for (int i = 0, n = PQntuples(r); i < n && !rc; i++) {
        const char *seq = PQgetvalue(r, i, 0);
        int own = PQgetvalue(r, i, 2)[3] != 0; /* int4, big-endian */
        if ((unsigned char)seq[0] == 0xff) { /* -1: pruned past the cursor */
            rc = cb("", 0, cb_user);
            continue;
        }
        uint64_t s = get_be64(seq);
        if (s > to)
            to = s;
        if (!own)
            rc = cb(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), cb_user);
    }
    PQclear(r);
    if (rc == ENG_OK)
        *cursor = to;
    return rc;
}

/* Storage contract v2: an erasure deleted personal data. Deleted rows stay in
 * the table's pages as dead tuples until a vacuum; VACUUM FULL rewrites the
 * table (the write-ahead log and backups keep their own history). */
static int pg_erased(const void *const *keys, const size_t *lens, size_t n, void *user)
{
    (void)keys;
    (void)lens;
    (void)n;
    pg *p = user;
    if (lost(p))
        return set_err(ENG_ESTORAGE, "postgres vacuum: connection lost");
    char sql[300];
    snprintf(sql, sizeof sql, "VACUUM FULL %s", p->table);
    PGresult *r = PQexec(p->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(p, r, "vacuum");
    PQclear(r);
    return ENG_OK;
}

static int pg_rollback(void *user)
{
    pg *p = user;
    p->in_batch = 0;
    if (lost(p) || PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return ENG_OK; /* the server has already discarded the transaction */
    PGresult *r = PQexec(p->conn, "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !lost(p))
        return pg_fail(p, r, "rollback");
    PQclear(r);
    return ENG_OK;
}

static void pg_destroy(void *user)
{
    pg *p = user;
    PQfinish(p->conn);
    free(p->conninfo);
    free(p->table);
    free(p->changes);
    free(p->horizon);
    free(p);
}

static int setup(pg *p, const char *table)
{
    p->conn = PQconnectdb(p->conninfo);
    if (!p->conn)
        return set_err(ENG_ENOMEM, "postgres connect: out of memory");
    if (lost(p))
        return set_err(ENG_ESTORAGE, "postgres connect: %s", PQerrorMessage(p->conn));
    PQsetNoticeProcessor(p->conn, quiet, NULL);
    char *q = PQescapeIdentifier(p->conn, table, strlen(table));
    if (!q)
        return set_err(ENG_EINVAL, "postgres: bad table name: %s", PQerrorMessage(p->conn));
    p->table = strdup(q);
    PQfreemem(q);
    if (!p->table)
        return set_err(ENG_ENOMEM, "postgres: out of memory");
    char sql[600];
    snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v bytea NOT NULL)", p->table);
    PGresult *r = PQexec(p->conn, sql);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* two engines creating it at once: the loser sees a duplicate */
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !(state && (!strcmp(state, "42P07") || !strcmp(state, "23505"))))
        return pg_fail(p, r, "create table");
    PQclear(r);
    if (p->flags & STORE_PG_SHARED) {
        char name[300];
        snprintf(name, sizeof name, "%s_changes", table);
        if (!(q = PQescapeIdentifier(p->conn, name, strlen(name))))
            return set_err(ENG_EINVAL, "postgres: bad table name: %s", PQerrorMessage(p->conn));
        p->changes = strdup(q);
        PQfreemem(q);
        snprintf(name, sizeof name, "%s_horizon", table);
        if (!(q = PQescapeIdentifier(p->conn, name, strlen(name))))
            return set_err(ENG_EINVAL, "postgres: bad table name: %s", PQerrorMessage(p->conn));
        p->horizon = strdup(q);
        PQfreemem(q);
        if (!p->changes || !p->horizon)
            return set_err(ENG_ENOMEM, "postgres: out of memory");
        for (int i = 0; i < 3; i++) {
            if (i == 0)
                snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (seq bigserial PRIMARY KEY, writer bytea NOT NULL, "
                         "k bytea NOT NULL)", p->changes);
            else if (i == 1)
                snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (upto bigint NOT NULL)", p->horizon);
            else
                snprintf(sql, sizeof sql, "INSERT INTO %s SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM %s)", p->horizon,
                         p->horizon);
            r = PQexec(p->conn, sql);
            state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (PQresultStatus(r) != PGRES_COMMAND_OK && !(state && (!strcmp(state, "42P07") || !strcmp(state, "23505"))))
                return pg_fail(p, r, "create table");
            PQclear(r);
        }
        /* this handle's writer id: random bytes, told apart from every other handle's */
        FILE *f = fopen("/dev/urandom", "rb");
        size_t got = f ? fread(p->writer, 1, sizeof p->writer, f) : 0;
        if (f)
            fclose(f);
        if (got != sizeof p->writer)
            return set_err(ENG_ESTORAGE, "postgres: cannot read /dev/urandom for a writer id");
    }
    return prepare_all(p);
}

int store_pg_open(const char *conninfo, const char *table, unsigned flags, const eng_allocator *alloc,
                  eng_store **out)
{
    static const eng_store_methods methods = {
        ENG_STORE_METHODS_VERSION, pg_get, pg_put, pg_del, pg_scan, pg_begin, pg_commit, pg_rollback, pg_destroy, pg_erased,
        NULL,
    };
    static const eng_store_methods shared = {
        ENG_STORE_METHODS_VERSION, pg_get, pg_put, pg_del, pg_scan, pg_begin, pg_commit, pg_rollback, pg_destroy, pg_erased,
        pg_changes,
    };
    if (out)
        *out = NULL;
    if (!out || !conninfo)
        return set_err(ENG_EINVAL, "store_pg_open: NULL conninfo or out");
    if ((flags & STORE_PG_SHARED) && (flags & STORE_PG_READ_COMMITTED))
        return set_err(ENG_EINVAL, "store_pg_open: a shared table needs SERIALIZABLE batches, not READ COMMITTED");
    pg *p = calloc(1, sizeof *p);
    if (!p || !(p->conninfo = strdup(conninfo))) {
        free(p);
        return set_err(ENG_ENOMEM, "store_pg_open: out of memory");
    }
    p->flags = flags;
    int rc = setup(p, table ? table : "engage_kv");
    if (rc) {
        char msg[512]; /* the message may live in the connection destroy closes */
        snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
        pg_destroy(p);
        eng_error_set(rc, msg);
        return rc;
    }
    return eng_store_new(flags & STORE_PG_SHARED ? &shared : &methods, p, alloc, out); /* calls pg_destroy on failure */
}
