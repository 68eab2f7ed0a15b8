/* A process SIGKILLed inside the host's transport callback, on each store that
 * persists: the embedded file store, the SQLite adapter, the PostgreSQL adapter
 * (argv[1]: file, sqlite or postgres; postgres needs ENGAGE_PG_CONNINFO, which
 * with_postgres.sh sets).
 *
 * The world (dispatch_fixture.h): 60 customers, one message with an SMS and an
 * email creative, batches of 8. The provider outside the process keeps the
 * independent ledger: before it answers it appends a line per call ("C" key
 * attempt) and, the first time it accepts a key, "A" key (it de-duplicates by
 * key); it answers the first call of every 7th customer's email "unknown" (the
 * message did arrive). A child runs the message and kills itself inside the
 * callback at its pth envelope: before the provider took it (the call logged
 * only), or after it accepted it with the rest of the batch unanswered, for
 * every p in turn. The parent reopens the store and, before anything runs,
 * reads every called key's ledger entry: its intent stored (attempts >= calls),
 * accepted only if the provider holds it, and each held key not stored final
 * is in doubt (pending or unknown, never skipped or expired); those of the
 * chunk being sent (its outcomes are stored together) are pending. Then it
 * runs the message to its end and checks against the provider's ledger: every send accepted, each key held exactly once, no
 * other key held, one key per (customer, channel), every send in doubt sent
 * again under its key, no send final at the crash handed over again, calls <=
 * attempts, the execution finished and the message executed, one sent touch per
 * accepted send, the audit chain whole. Two crashes in three, two customers
 * leave before the restart (their email consent withdrawn, or they are erased):
 * one whose email is in doubt (its send must end expired: it may have arrived)
 * and one whose email had no attempt yet (skipped, or not planned when its chunk
 * comes); neither is handed over again, and an erased one has nothing to export.
 * The message carries a coupon code drawn from a generated pool: every call of a
 * key carries one rendering (code, subject, body), each customer one code on
 * both channels, no code held for two customers. two_callers: two host threads
 * run it at once (max_in_flight 2), the kill landing while the other batch is
 * at the provider. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch_fixture.h"
#ifdef KT_SQLITE
#include "store_sqlite.h"
#endif
#ifdef KT_POSTGRES
#include <libpq-fe.h>
#include "store_pg.h"
#endif

#define N 60
#define BATCH 8

static const char *backend;
static char *dir;
static char db[700], calls_path[700], acc_path[700], ad_path[700], pg_table[64], pg_world[64];

/* ---- the stores: open the run's, keep the world, put it back ---- */

static unsigned char *world_img;
static long world_len;

static int store_open(eng_store **out)
{
    if (strcmp(backend, "file") == 0)
        return eng_store_file_open(db, ENG_STORE_CREATE | ENG_STORE_NOSYNC, test_alloc_get(), out);
#ifdef KT_SQLITE
    if (strcmp(backend, "sqlite") == 0)
        return store_sqlite_open(db, NULL, STORE_SQLITE_CREATE | STORE_SQLITE_NOSYNC, test_alloc_get(), out);
#endif
#ifdef KT_POSTGRES
    if (strcmp(backend, "postgres") == 0)
        return store_pg_open(getenv("ENGAGE_PG_CONNINFO"), pg_table, 0, test_alloc_get(), out);
#endif
    return ENG_EINVAL;
}

#ifdef KT_POSTGRES
static void pg_sql(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("ENGAGE_PG_CONNINFO"));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}
#endif

/* The world's store closed: keep it (save) or put it back in place of the run's. */
static void world_keep(int save)
{
    char sql[800];
    if (strcmp(backend, "postgres") == 0) {
        if (save)
            snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s AS TABLE %s", pg_world, pg_world,
                     pg_table);
        else
            snprintf(sql, sizeof sql, "TRUNCATE %s; INSERT INTO %s SELECT * FROM %s", pg_table, pg_table, pg_world);
#ifdef KT_POSTGRES
        pg_sql(sql);
#endif
        return;
    }
    if (save) {
        world_img = test_read_file(db, &world_len);
        return;
    }
    snprintf(sql, sizeof sql, "%s-wal", db); /* SQLite's: none after a clean close, a kill's */
    unlink(sql);
    snprintf(sql, sizeof sql, "%s-shm", db);
    unlink(sql);
    test_write_file(db, world_img, world_len);
}

/* No store at all (each test builds its world afresh). */
static void store_wipe(void)
{
    char path[720];
#ifdef KT_POSTGRES
    if (strcmp(backend, "postgres") == 0) {
        snprintf(path, sizeof path, "DROP TABLE IF EXISTS %s", pg_table);
        pg_sql(path);
    }
#endif
    unlink(db);
    snprintf(path, sizeof path, "%s-wal", db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", db);
    unlink(path);
}

/* ---- the provider: its ledger in two files outside the process ---- */

typedef struct provider {
    pthread_mutex_t mu;
    int calls_fd, acc_fd;
    char (*held)[ENG_SEND_KEY_MAX + 1];
    size_t nheld;
    uint64_t envelopes;         /* envelopes this process handed over */
    uint64_t kill_at;           /* die at this envelope (0: never) ... */
    int kill_before;            /* ... before the provider takes it, else after */
    int in_flight;              /* batches at the provider now */
    int ad_fd;                  /* the ad platform's log (ad_export_killed) */
    uint64_t parts;             /* parts this process handed to the platform */
    uint64_t kill_part;         /* die at this part (0: never), before or after as kill_before */
} provider;

static provider P;

static int prov_holds(const char *key)
{
    for (size_t i = 0; i < P.nheld; i++)
        if (strcmp(P.held[i], key) == 0)
            return 1;
    return 0;
}

/* The rendering's code (between "CODE[" and "]") and a hash of subject and body. */
static void rendering(const eng_envelope *env, char code[32], uint64_t *hash)
{
    const char *b = strstr(env->body, "CODE["), *e = b ? strchr(b, ']') : NULL;
    snprintf(code, 32, "%.*s", b && e ? (int)(e - b - 5) : 1, b && e ? b + 5 : "-");
    uint64_t h = 14695981039346656037ull;
    for (const char *p = env->subject; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = 0; i < env->body_len; i++)
        h = (h ^ (unsigned char)env->body[i]) * 1099511628211ull;
    *hash = h;
}

static void put(int fd, char tag, const eng_envelope *env)
{
    char line[320], code[32];
    uint64_t h;
    rendering(env, code, &h);
    int len = snprintf(line, sizeof line, "%c\t%s\t%u\t%s\t%llx\n", tag, env->idempotency_key, env->attempt, code,
                       (unsigned long long)h);
    if (write(fd, line, (size_t)len) != len)
        _exit(6);
}

/* Lines of the provider's files: tag, key, attempt, coupon code, rendering's hash. */
typedef struct pline {
    char tag;
    char key[ENG_SEND_KEY_MAX + 1];
    uint32_t attempt;
    char code[32];
    unsigned long long hash;
} pline;

static pline *read_log(const char *path, size_t *n)
{
    size_t cap = 4096;
    pline *v = calloc(cap, sizeof *v);
    *n = 0;
    FILE *f = fopen(path, "r");
    char buf[400];
    while (f && fgets(buf, sizeof buf, f)) {
        assert_non_null(strchr(buf, '\n')); /* a kill never tears a line: one write() a line */
        assert_true(*n < cap);
        pline *l = &v[*n];
        assert_int_equal(sscanf(buf, "%c\t%127[^\t]\t%u\t%31[^\t]\t%llx", &l->tag, l->key, &l->attempt, l->code,
                                &l->hash), 5);
        ++*n;
    }
    if (f)
        fclose(f);
    return v;
}

static void prov_open(void)
{
    pthread_mutex_init(&P.mu, NULL);
    P.held = calloc(4096, sizeof *P.held);
    P.nheld = 0;
    size_t n;
    pline *a = read_log(acc_path, &n);
    for (size_t i = 0; i < n; i++)
        snprintf(P.held[P.nheld++], sizeof P.held[0], "%s", a[i].key);
    free(a);
    P.calls_fd = open(calls_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    P.acc_fd = open(acc_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(P.calls_fd >= 0 && P.acc_fd >= 0);
}

static void prov_close(void)
{
    close(P.calls_fd);
    close(P.acc_fd);
    free(P.held);
    pthread_mutex_destroy(&P.mu);
}

/* The kill, inside the callback: first a line (in the provider's or the platform's log)
 * saying how many other batches were at the provider then. */
static void die_in(int fd)
{
    char line[32];
    int len = snprintf(line, sizeof line, "K\t-\t%d\t-\t0\n", P.in_flight - 1);
    if (write(fd, line, (size_t)len) != len)
        _exit(6);
    kill(getpid(), SIGKILL);
}

static void die(void) { die_in(P.calls_fd); }

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    (void)user;
    pthread_mutex_lock(&P.mu);
    P.in_flight++;
    pthread_mutex_unlock(&P.mu);
    for (size_t i = 0; i < n; i++) {
        if (i == n / 2)
            usleep(300); /* a provider's latency: the other caller's batch comes meanwhile */
        pthread_mutex_lock(&P.mu);
        uint64_t k = ++P.envelopes;
        put(P.calls_fd, 'C', &env[i]);
        if (k == P.kill_at && P.kill_before)
            die(); /* the call made, the provider never took it */
        if (!prov_holds(env[i].idempotency_key)) {
            snprintf(P.held[P.nheld++], sizeof P.held[0], "%s", env[i].idempotency_key);
            put(P.acc_fd, 'A', &env[i]);
        }
        status[i] = env[i].channel == ENG_CH_EMAIL && env[i].customer % 7 == 3 && env[i].attempt == 1
                        ? ENG_SEND_UNKNOWN /* arrived; the answer lost */
                        : ENG_SEND_ACCEPTED;
        if (k == P.kill_at)
            die(); /* accepted; this and the rest of the batch unanswered */
        pthread_mutex_unlock(&P.mu);
    }
    pthread_mutex_lock(&P.mu);
    P.in_flight--;
    pthread_mutex_unlock(&P.mu);
    return ENG_OK;
}

/* ---- the run ---- */

static dx F;

/* Runs the message until its execution is finished and the message executed (ENG_OK), or the
 * first failure. Restarts from the message's due time, as a host's scheduler after a crash. */
static int run_message(eng_engine *e)
{
    eng_time now = F.t0;
    for (int round = 0; round < 64; round++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(e, "root", now, NULL, &rep);
        if (rc)
            return rc;
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        if ((rc = eng_execution_get(e, "root", F.message, 0, &x)))
            return rc;
        if (x.state == ENG_EXEC_FINISHED)
            return ENG_OK;
        now = rep.next_due > now ? rep.next_due : now + 60000;
    }
    return ENG_ESTATE;
}

static void *caller(void *arg)
{
    return (void *)(intptr_t)run_message(arg);
}

/* The ledger entries of every (customer, channel) of the world: -1 where none is planned. */
typedef struct entry {
    int state;
    uint32_t attempts;
    char key[ENG_SEND_KEY_MAX + 1];
} entry;

static const int chans[2] = {ENG_CH_SMS, ENG_CH_EMAIL};

static void read_ledger(eng_engine *e, entry *out)
{
    for (uint32_t c = 0; c < N; c++)
        for (int j = 0; j < 2; j++) {
            eng_send_info s = ENG_SEND_INFO_INIT;
            int rc = eng_send_get(e, "root", F.message, 0, c, chans[j], &s);
            entry *x = &out[c * 2 + (uint32_t)j];
            if (rc == ENG_ENOTFOUND) {
                x->state = -1;
                continue;
            }
            assert_int_equal(rc, ENG_OK);
            x->state = s.state;
            x->attempts = s.attempts;
            snprintf(x->key, sizeof x->key, "%s", s.key);
        }
}

static size_t count_key(const pline *v, size_t n, const char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += strcmp(v[i].key, key) == 0;
    return k;
}

/* Every call of @p key carried one rendering (coupon code, subject and body): its code in
 * @p code ("" when never called). */
static void one_rendering(const pline *v, size_t n, const char *key, char code[32])
{
    const pline *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].key, key) != 0)
            continue;
        if (!first)
            first = &v[i];
        else if (strcmp(first->code, v[i].code) != 0 || first->hash != v[i].hash)
            fail_msg("%s sent again with another rendering (code %s, then %s)", key, first->code, v[i].code);
    }
    snprintf(code, 32, "%s", first ? first->code : "");
}

static int is_final(int s)
{
    return s == ENG_LEDGER_ACCEPTED || s == ENG_LEDGER_REJECTED || s == ENG_LEDGER_EXPIRED || s == ENG_LEDGER_SKIPPED;
}

typedef struct tally {
    uint64_t crashes, in_doubt, pending_doubt, resent, final_kept, twice, beside, withdrawn, skipped, erased;
    uint64_t receipts_early, expired_joined, unproven;
} tally;

/* A delivered receipt, by the provider, for every key it holds: all must join their send
 * (those of sends expired in doubt too, docs/dispatch.md); before the run they may wait. */
static eng_event_report provider_receipts(eng_engine *e, const pline *al, size_t na, eng_time at)
{
    const char **keys = calloc(na ? na : 1, sizeof *keys);
    int *st = calloc(na ? na : 1, sizeof *st);
    eng_time *t = calloc(na ? na : 1, sizeof *t);
    assert_true(keys && st && t);
    for (size_t i = 0; i < na; i++)
        keys[i] = al[i].key, st[i] = ENG_TOUCH_DELIVERED, t[i] = at;
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = na, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(e, &r, &rep), ENG_OK);
    assert_int_equal(rep.rows, na);
    free(keys), free(st), free(t);
    return rep;
}

/* The world's store back in place of the run's, the provider's and the platform's logs gone. */
static void world_back(void)
{
    world_keep(0);
    unlink(calls_path);
    unlink(acc_path);
    unlink(ad_path);
}

/* The world back, and a child to run on it (0 in the child). */
static pid_t world_fork(void)
{
    world_back();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    return pid;
}

/* Sends of the message with a touch (each one furthest status). */
static uint64_t touched_sends(void)
{
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], touched = 0;
    assert_int_equal(eng_touch_status_counts(F.e, "acme", F.campaign, F.message, counts,
                                             ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        touched += counts[i];
    return touched;
}

/* The audit chain whole, the engine closed. */
static void audit_whole_close(void)
{
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(F.e, "root", &bad), ENG_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(eng_close(F.e), ENG_OK);
}

static eng_engine *open_engine(unsigned callers)
{
    F.tm = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, send_batch, callers, BATCH};
    return dx_engine(&F);
}

/* The world put back, a child killed at its envelope @p at (before or after the provider
 * took it), the store reopened and checked as the top says. Returns 1 when the child was
 * killed, 0 when it finished first (only two_callers may: the envelopes' order varies). */
static int crash_at(uint64_t at, int before, unsigned callers, tally *t)
{
    pid_t pid = world_fork();
    if (pid == 0) {
        prov_open();
        P.envelopes = 0;
        P.kill_at = at;
        P.kill_before = before;
        eng_engine *e = open_engine(callers);
        pthread_t th[2];
        for (unsigned i = 1; i < callers; i++)
            if (pthread_create(&th[i], NULL, caller, e))
                _exit(7);
        int rc = run_message(e);
        for (unsigned i = 1; i < callers; i++) {
            void *r;
            pthread_join(th[i], &r);
            rc = rc ? rc : (int)(intptr_t)r;
        }
        _exit(rc ? 4 : callers > 1 ? 0 : 3); /* 3: one caller always reaches its kill */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            return 0;
        fail_msg("%s: kill at envelope %llu: the child ended with status %d", backend, (unsigned long long)at, st);
    }
    t->crashes++;

    /* The independent ledger against the reopened store's, before anything runs. */
    size_t nc, na;
    pline *cl = read_log(calls_path, &nc), *al = read_log(acc_path, &na);
    assert_true(nc > 0 && cl[nc - 1].tag == 'K'); /* killed in the callback */
    t->beside += cl[nc - 1].attempt > 0; /* another batch at the provider then */
    prov_open();
    P.kill_at = 0;
    F.e = open_engine(1);
    entry before_run[N * 2], after[N * 2];
    size_t calls_then[N * 2];
    read_ledger(F.e, before_run);
    uint64_t doubt = 0, pend = 0;
    for (size_t i = 0; i < N * 2; i++) {
        entry *x = &before_run[i];
        if (x->state < 0)
            continue;
        size_t calls = calls_then[i] = count_key(cl, nc, x->key), held = count_key(al, na, x->key);
        assert_true(held <= 1);
        assert_true(calls <= x->attempts); /* the intent (attempt) stored before the call */
        if (x->state == ENG_LEDGER_ACCEPTED)
            assert_int_equal(held, 1);
        if (held && !is_final(x->state)) { /* in doubt: to be sent again */
            doubt++;
            pend += x->state == ENG_LEDGER_PENDING;
        }
        if (calls) /* handed over: never skipped, expired or rejected here */
            assert_true(x->state == ENG_LEDGER_ACCEPTED || !is_final(x->state));
    }
    /* pending in doubt: the chunks being sent when the kill came (a chunk is batch_size customers, each sent
     * on up to two channels, its outcomes stored once every batch of it is answered) */
    assert_true(pend <= (uint64_t)2 * BATCH * callers);
    t->in_doubt += doubt;
    t->pending_doubt += pend;

    /* Two crashes in three, before the restart, two customers leave: the first whose email is
     * in doubt (an attempt stored, no outcome: it may have arrived, so it becomes expired, never
     * sent again) and the first whose email had no attempt yet (skipped, or never planned);
     * one crash their email consent is withdrawn, the next they are erased (both channels). */
    int gone[2] = {-1, -1}, how = (int)(t->crashes % 3); /* 0: consent withdrawn, 1: erased, 2: neither */
    for (uint32_t c = 0; c < N && how < 2; c++) {
        const entry *x = &before_run[c * 2 + 1];
        if (x->state < 0 ? c % 5 == 0 : is_final(x->state)) /* every 5th has no email */
            continue;
        int k = x->state >= 0 && x->attempts ? 0 : 1; /* an attempt stored: handed over, or about to be */
        if (gone[k] < 0)
            gone[k] = (int)c;
    }
    for (int k = 0; k < 2; k++)
        if (gone[k] >= 0) {
            char ext[32], csv[96];
            assert_int_equal(eng_customer_external_id(F.e, "root", (uint32_t)gone[k], ext, sizeof ext), ENG_OK);
            int len = snprintf(csv, sizeof csv, "id,consent.email\n%s,no\n", ext);
            assert_int_equal(how ? eng_customer_erase(F.e, "root", ext)
                                 : eng_customers_import_csv_buffer(F.e, "root", csv, (size_t)len, NULL, NULL), ENG_OK);
        }

    /* One crash in two the provider's receipts of what it holds come before the run: those of
     * sends in doubt wait for the run's outcome (accepted when sent again, or expired). */
    int early = t->crashes % 2 == 0;
    if (early)
        t->receipts_early += provider_receipts(F.e, al, na, F.t0 + 1).unmatched;

    int rc = run_message(F.e);
    if (rc)
        fail_msg("%s: kill at envelope %llu: the resumed run: %s", backend, (unsigned long long)at,
                 eng_error_last()->message);
    free(cl);
    free(al);
    cl = read_log(calls_path, &nc);
    al = read_log(acc_path, &na);
    read_ledger(F.e, after);
    size_t sends = 0, held_sends = 0, expired = 0, skipped = 0, expired_held = 0;
    char code[N * 2][32];
    memset(code, 0, sizeof code);
    for (size_t i = 0; i < N * 2; i++) {
        entry *x = &after[i], *b = &before_run[i];
        int left = (gone[0] == (int)(i / 2) || gone[1] == (int)(i / 2)) && (how == 1 || i % 2); /* gone at the restart */
        if (x->state < 0) {
            assert_int_equal(b->state, -1);
            if (left) { /* gone before its chunk was planned: never sent */
                char tail[48];
                snprintf(tail, sizeof tail, "/u%zu/%s", i / 2, eng_channel_name(chans[i % 2]));
                for (size_t k = 0; k < nc; k++)
                    assert_false(strlen(cl[k].key) > strlen(tail) &&
                                 strcmp(cl[k].key + strlen(cl[k].key) - strlen(tail), tail) == 0);
                t->withdrawn++;
                t->skipped++;
            }
            continue;
        }
        sends++;
        size_t calls = count_key(cl, nc, x->key);
        if (left && !(b->state >= 0 && is_final(b->state))) {
            /* in doubt: expired; no attempt: skipped; either way never handed over again */
            assert_int_equal(x->state, b->state >= 0 && b->attempts ? ENG_LEDGER_EXPIRED : ENG_LEDGER_SKIPPED);
            assert_int_equal(calls, calls_then[i]);
            assert_int_equal(count_key(al, na, x->key), calls ? 1 : 0);
            t->withdrawn++;
            t->skipped += x->state == ENG_LEDGER_SKIPPED;
            held_sends += calls > 0;
            expired_held += x->state == ENG_LEDGER_EXPIRED && count_key(al, na, x->key); /* in doubt, held */
            expired += x->state == ENG_LEDGER_EXPIRED;
            skipped += x->state == ENG_LEDGER_SKIPPED;
            continue;
        }
        assert_int_equal(x->state, ENG_LEDGER_ACCEPTED);
        assert_int_equal(count_key(al, na, x->key), 1); /* held by the provider once */
        assert_true(calls >= 1 && calls <= x->attempts);
        held_sends++;
        /* the customer's one code, on each channel and in every call (one code a customer, none twice) */
        one_rendering(cl, nc, x->key, code[i]);
        assert_true(strlen(code[i]) == 12 && strncmp(code[i], "FEST-", 5) == 0);
        if (i % 2 && code[i - 1][0])
            assert_string_equal(code[i - 1], code[i]);
        for (size_t j = 0; j + 2 <= i; j++)
            if (code[j][0] && j / 2 != i / 2)
                assert_string_not_equal(code[j], code[i]);
        if (b->state >= 0) {
            assert_string_equal(b->key, x->key); /* sent again only under its key */
            if (is_final(b->state)) {
                assert_int_equal(calls, calls_then[i]); /* final at the crash: never handed over again */
                t->final_kept++;
            } else if (calls_then[i]) {
                assert_true(calls > calls_then[i]); /* handed over, no outcome stored: asked again, under its key */
                t->resent++;
            }
        }
        t->twice += calls > 1;
    }
    for (size_t i = 0; i < na; i++) { /* nothing else at the provider */
        int found = 0;
        for (size_t j = 0; j < N * 2 && !found; j++)
            found = after[j].state >= 0 && strcmp(after[j].key, al[i].key) == 0;
        assert_true(found);
    }
    assert_int_equal(na, held_sends);
    for (int k = 0; k < 2 && how == 1; k++)
        if (gone[k] >= 0) { /* erased: nothing of them left to export */
            char ext[32], *json = NULL;
            size_t len;
            snprintf(ext, sizeof ext, "c%d", gone[k]);
            assert_int_equal(eng_customer_export_json(F.e, "root", ext, &json, &len), ENG_ENOTFOUND);
            t->erased++;
        }
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(F.e, "root", F.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.sends, sends);
    assert_int_equal(x.expired, expired);
    assert_int_equal(x.skipped, skipped);
    assert_int_equal(x.accepted, sends - expired - skipped);
    eng_message *m = NULL;
    eng_message_status ms = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_get(F.e, "root", F.message, &m), ENG_OK);
    assert_int_equal(eng_message_status_get(m, &ms), ENG_OK);
    assert_int_equal(ms.state, ENG_STATE_EXECUTED);
    eng_message_free(m);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], touched;
    assert_int_equal(touched_sends(), x.accepted + (early ? expired_held : 0)); /* a `sent` touch per accepted send */
    /* sends expired in doubt and not proven yet: all, but those the early receipts proved */
    uint64_t unproven = UINT64_MAX;
    assert_int_equal(eng_touch_in_doubt(F.e, &unproven), ENG_OK);
    assert_int_equal(unproven, expired - (early ? expired_held : 0));
    /* Every key the provider holds gets its receipt (after a reopen, one crash in four): all
     * join, none waits, the expired ones' too; each send held is touched once, delivered. */
    if (t->crashes % 4 == 1) {
        assert_int_equal(eng_close(F.e), ENG_OK);
        F.e = open_engine(1);
    }
    eng_event_report er = provider_receipts(F.e, al, na, F.t0 + 2);
    assert_int_equal(er.unmatched, 0);
    assert_int_equal(er.accepted + er.duplicates, na);
    uint64_t waiting = 1;
    assert_int_equal(eng_touch_pending(F.e, &waiting), ENG_OK);
    assert_int_equal(waiting, 0);
    assert_int_equal(eng_touch_status_counts(F.e, "acme", F.campaign, F.message, counts,
                                             ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
    uint64_t delivered = 0;
    touched = 0;
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        touched += counts[i], delivered += i % ENG_TOUCH_STATUS_COUNT == ENG_TOUCH_DELIVERED ? counts[i] : 0;
    assert_int_equal(touched, x.accepted + expired_held);
    assert_int_equal(delivered, touched);
    assert_int_equal(touched, na);
    t->expired_joined += expired_held;
    /* left in doubt: exactly the expired sends the provider never got (no receipt will come) */
    assert_int_equal(eng_touch_in_doubt(F.e, &unproven), ENG_OK);
    assert_int_equal(unproven, expired - expired_held);
    t->unproven += unproven;
    audit_whole_close();
    prov_close();
    free(cl);
    free(al);
    return 1;
}

/* The world, its undisturbed run (its envelopes counted), then kills at every envelope
 * (after the provider took it) and every 5th (before). */
static void killed_in_callback(unsigned callers)
{
    if (test_slow_runtime() && strcmp(backend, "file") != 0)
        skip(); /* valgrind, TSan: the file store's few kills are the share (the adapters' own code is the host's) */
    dx_store_open = store_open;
    store_wipe();
    dx_world(&F, N, BATCH, callers, 1);
    assert_int_equal(eng_coupon_pool_generate(F.e, "ann", "gen", "FEST-####-@@", "secret-for-the-pool!", 20), ENG_OK);
    dx_offer(&F, "gen", ENG_COUPON_GENERATED, NULL, "gen");
    static const eng_creative creatives[] = {
        {ENG_CH_SMS, NULL, "Your code CODE[{{coupon_code}}] {{optout}}"},
        {ENG_CH_EMAIL, "A code for {{first_name | \"you\"}}", "<p>CODE[{{coupon_code}}]</p>{{unsubscribe}}"},
    };
    eng_incentive inc = ENG_INCENTIVE_INIT;
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = "gen";
    eng_message_spec m = dx_message();
    m.creatives = creatives;
    m.incentive = &inc;
    dx_approve(&F, &m);
    assert_int_equal(eng_close(F.e), ENG_OK);
    world_keep(1);

    world_back();
    prov_open();
    P.envelopes = P.kill_at = 0;
    F.e = open_engine(1);
    assert_int_equal(run_message(F.e), ENG_OK);
    uint64_t total = P.envelopes;
    assert_int_equal(eng_close(F.e), ENG_OK);
    prov_close();
    assert_true(total > 4 * BATCH);

    tally t = {0};
    /* every envelope on the file store, every other on SQLite, every 4th on PostgreSQL (a commit
     * is a round trip to the server: 85 s of wall at every other under the parallel suite) */
    uint64_t stride = test_slow_runtime() ? 27 : strcmp(backend, "file") == 0 ? 1 : strcmp(backend, "sqlite") == 0 ? 2 : 4,
             tried = 0;
    if (callers > 1)
        stride *= 3;
    for (uint64_t at = 1; at <= total; at += stride, tried++) {
        crash_at(at, 0, callers, &t);
        if (at % 5 == 1)
            crash_at(at, 1, callers, &t), tried++;
    }
    printf("%s, %u caller%s: %llu kills in the transport callback of %llu tried (%llu envelopes a run): %llu sends in "
           "doubt at a crash (%llu pending: the cut chunks'), %llu sent again under their key, %llu final at the "
           "crash never handed over again, %llu keys called more than once, each held once; %llu kills with another batch at the provider; %llu "
           "sends of customers gone at a restart (consent withdrawn or %llu erased; %llu with no attempt yet: skipped or never "
           "planned), none sent again; %llu receipts waiting before a restarted run, %llu of sends expired in "
           "doubt joined them; %llu sends expired in doubt never held by the provider, left counted in doubt\n",
           backend, callers, callers > 1 ? "s" : "", (unsigned long long)t.crashes, (unsigned long long)tried,
           (unsigned long long)total, (unsigned long long)t.in_doubt, (unsigned long long)t.pending_doubt,
           (unsigned long long)t.resent, (unsigned long long)t.final_kept, (unsigned long long)t.twice,
           (unsigned long long)t.beside, (unsigned long long)t.withdrawn,
           (unsigned long long)t.erased, (unsigned long long)t.skipped, (unsigned long long)t.receipts_early,
           (unsigned long long)t.expired_joined, (unsigned long long)t.unproven);
    assert_true(t.crashes >= (callers > 1 ? tried / 2 : tried));
    assert_true(t.resent > 0 && t.final_kept > 0);
    if (!test_slow_runtime())
        assert_true(t.expired_joined > 0 && t.receipts_early > 0);
    if (callers > 1 && !test_slow_runtime() && strcmp(backend, "file") == 0)
        assert_true(t.beside > 0); /* (the adapters' commits are slower: fewer overlaps) */
    free(world_img);
    world_img = NULL;
    dx_provider_free(&F.prov);
    dx_store_open = NULL;
    test_alloc_assert_clean();
}

/* ---- the ad export killed (ad_export_killed) ----
 * The platform keeps its log beside the provider's: per call "C" part-key count list-hash,
 * and the first time it takes a key, one "I" key 0 identifier line per identifier then "A"
 * key count list-hash (each line one write(): a kill lands between lines). It answers the
 * call that took every third part "unknown" (the list arrived; the answer lost). */

static void ad_put(char tag, const char *key, uint64_t count, const char *text)
{
    char line[400];
    int len = snprintf(line, sizeof line, "%c\t%s\t%llu\t%s\n", tag, key, (unsigned long long)count, text);
    if (write(P.ad_fd, line, (size_t)len) != len)
        _exit(6);
}

static int export_part(const eng_ad_manifest *m, const char *const *ids, int *status, void *user)
{
    (void)user;
    pthread_mutex_lock(&P.mu);
    uint64_t k = ++P.parts;
    ad_put('C', m->idempotency_key, m->count, m->list_sha256);
    if (k == P.kill_part && P.kill_before)
        die_in(P.ad_fd); /* the call made, the platform never took it */
    int took = !prov_holds(m->idempotency_key);
    if (took) {
        snprintf(P.held[P.nheld++], sizeof P.held[0], "%s", m->idempotency_key);
        for (uint64_t i = 0; i < m->count; i++)
            ad_put('I', m->idempotency_key, 0, ids[i]);
        ad_put('A', m->idempotency_key, m->count, m->list_sha256);
    }
    *status = took && m->part % 3 == 1 ? ENG_SEND_UNKNOWN : ENG_SEND_ACCEPTED;
    if (k == P.kill_part)
        die_in(P.ad_fd); /* taken (or held already); the answer never came */
    pthread_mutex_unlock(&P.mu);
    return ENG_OK;
}

typedef struct adline {
    char tag;
    char key[ENG_SEND_KEY_MAX + 1];
    unsigned long long count;
    char text[72];
} adline;

static adline *read_ad(size_t *n)
{
    adline *v = calloc(8192, sizeof *v);
    *n = 0;
    FILE *f = fopen(ad_path, "r");
    char buf[400];
    while (f && fgets(buf, sizeof buf, f)) {
        assert_non_null(strchr(buf, '\n'));
        assert_true(*n < 8192);
        adline *l = &v[*n];
        assert_int_equal(sscanf(buf, "%c\t%127[^\t]\t%llu\t%71s", &l->tag, l->key, &l->count, l->text), 4);
        ++*n;
    }
    if (f)
        fclose(f);
    return v;
}

/* The provider's state (accepted keys: sends' and parts') as its logs hold it, its logs open. */
static void ad_host_open(void)
{
    prov_open();
    size_t n;
    adline *a = read_ad(&n);
    for (size_t i = 0; i < n; i++)
        if (a[i].tag == 'A')
            snprintf(P.held[P.nheld++], sizeof P.held[0], "%s", a[i].key);
    free(a);
    P.ad_fd = open(ad_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(P.ad_fd >= 0);
    P.envelopes = P.parts = P.kill_at = P.kill_part = 0;
}

static void ad_host_close(void)
{
    close(P.ad_fd);
    prov_close();
}

static eng_engine *ad_engine(void)
{
    eng_engine *e = open_engine(1);
    eng_dispatch_hooks hk = ENG_DISPATCH_HOOKS_INIT;
    hk.ad_export = export_part;
    assert_int_equal(eng_dispatch_hooks_set(e, &hk, NULL), ENG_OK);
    return e;
}

/* The part (its key) whose identifiers hold @p hash, and how many parts hold it. */
static const char *part_of(const adline *v, size_t n, const char *hash, size_t *times)
{
    const char *key = NULL;
    *times = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].tag == 'I' && strcmp(v[i].text, hash) == 0)
            key = v[i].key, ++*times;
    return key;
}

static size_t ad_count(const adline *v, size_t from, size_t n, char tag, const char *key)
{
    size_t k = 0;
    for (size_t i = from; i < n; i++)
        k += v[i].tag == tag && strcmp(v[i].key, key) == 0;
    return k;
}

typedef struct ad_tally {
    uint64_t crashes, accepted_at_crash, parts_in_doubt, parts_resent, parts_final_kept;
} ad_tally;

/* The world put back, a child killed inside the export callback at its part @p at (before or
 * after the platform took it); then the store reopened and checked before the run (a Facebook
 * send stored accepted is in a part the platform holds), the message run to its end and
 * checked against both logs: every send accepted; each email key at the provider once; each
 * customer's identifier in exactly one part the platform took, and the identifiers the
 * accepted Facebook sends' exactly; each part key taken once, every call of it with the same
 * list (count and hash); no part final at the crash handed over again, every part in doubt
 * asked again under its key; one `sent` touch per accepted send; the audit chain whole. */
static void ad_crash_at(uint64_t at, int before, ad_tally *t)
{
    pid_t pid = world_fork();
    if (pid == 0) {
        ad_host_open();
        P.kill_part = at;
        P.kill_before = before;
        eng_engine *e = ad_engine();
        _exit(run_message(e) ? 4 : 3); /* 3: the kill not reached */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("%s: kill at part %llu: the child ended with status %d", backend, (unsigned long long)at, st);
    t->crashes++;
    size_t n0;
    adline *al = read_ad(&n0);
    assert_true(n0 > 0 && al[n0 - 1].tag == 'K');
    free(al);
    ad_host_open();
    F.e = ad_engine();
    /* before the run: accepted only if the platform holds it */
    int acc_then[N];
    char hash[N][65];
    for (uint32_t c = 0; c < N; c++) {
        char ext[32], phone[40];
        acc_then[c] = -1;
        assert_int_equal(eng_customer_external_id(F.e, "root", c, ext, sizeof ext), ENG_OK);
        snprintf(phone, sizeof phone, "+1-555-%07lu", strtoul(ext + 1, NULL, 10));
        assert_int_equal(eng_ad_identifier_hash(ENG_CH_FACEBOOK, phone, hash[c], sizeof hash[c]), ENG_OK);
        eng_send_info s = ENG_SEND_INFO_INIT;
        if (eng_send_get(F.e, "root", F.message, 0, c, ENG_CH_FACEBOOK, &s) != ENG_OK)
            continue;
        acc_then[c] = s.state == ENG_LEDGER_ACCEPTED;
        if (acc_then[c]) {
            al = read_ad(&n0);
            size_t times;
            const char *key = part_of(al, n0, hash[c], &times);
            assert_true(times == 1 && ad_count(al, 0, n0, 'A', key) == 1);
            free(al);
            t->accepted_at_crash++;
        } else {
            assert_false(is_final(s.state)); /* never given up on */
        }
    }
    assert_int_equal(run_message(F.e), ENG_OK);
    size_t n, np;
    al = read_ad(&n);
    pline *pl = read_log(acc_path, &np);
    size_t killed_at = 0;
    for (size_t i = 0; i < n; i++)
        if (al[i].tag == 'K')
            killed_at = i;
    size_t ids = 0, emails = 0, sends = 0;
    for (uint32_t c = 0; c < N; c++) {
        eng_send_info s = ENG_SEND_INFO_INIT;
        if (eng_send_get(F.e, "root", F.message, 0, c, ENG_CH_EMAIL, &s) == ENG_OK) {
            assert_int_equal(s.state, ENG_LEDGER_ACCEPTED);
            assert_int_equal(count_key(pl, np, s.key), 1);
            emails++, sends++;
        }
        if (eng_send_get(F.e, "root", F.message, 0, c, ENG_CH_FACEBOOK, &s) != ENG_OK) {
            assert_int_equal(acc_then[c], -1);
            continue;
        }
        sends++;
        assert_int_equal(s.state, ENG_LEDGER_ACCEPTED);
        size_t times;
        const char *key = part_of(al, n, hash[c], &times);
        assert_int_equal(times, 1); /* in one part the platform took, once */
        assert_int_equal(ad_count(al, 0, n, 'A', key), 1);
        if (acc_then[c] == 1)
            assert_int_equal(ad_count(al, killed_at, n, 'C', key), 0); /* final at the crash: never again */
        ids++;
    }
    size_t nI = 0;
    for (size_t i = 0; i < n; i++) {
        nI += al[i].tag == 'I';
        if (al[i].tag != 'C' && al[i].tag != 'A')
            continue;
        for (size_t j = 0; j < i; j++) /* every call of a key carries one list */
            if ((al[j].tag == 'C' || al[j].tag == 'A') && strcmp(al[j].key, al[i].key) == 0) {
                assert_int_equal(al[j].count, al[i].count);
                assert_string_equal(al[j].text, al[i].text);
            }
        if (al[i].tag == 'A' && i < killed_at) { /* taken before the crash */
            int final = 1;
            for (uint32_t c = 0; c < N; c++) {
                size_t times;
                const char *key = part_of(al, n, hash[c], &times);
                if (key && strcmp(key, al[i].key) == 0 && acc_then[c] != 1)
                    final = 0;
            }
            if (final) {
                t->parts_final_kept++;
            } else {
                t->parts_in_doubt++;
                assert_true(ad_count(al, killed_at, n, 'C', al[i].key) >= 1); /* asked again, under its key */
                t->parts_resent++;
            }
        }
    }
    assert_int_equal(ids, nI); /* nothing else at the platform */
    assert_int_equal(emails, np); /* nor at the provider */
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(F.e, "root", F.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.sends, sends);
    assert_int_equal(x.accepted, sends);
    assert_int_equal(touched_sends(), sends);
    audit_whole_close();
    ad_host_close();
    free(al);
    free(pl);
}

/* The world with Facebook contacts (every 6th withheld consent) and a message with an email
 * and a Facebook creative; its undisturbed run (its parts counted), then a kill at every part,
 * before the platform took it and after. */
static void ad_export_killed(void **state)
{
    (void)state;
    if (test_slow_runtime() && strcmp(backend, "file") != 0)
        skip();
    dx_store_open = store_open;
    store_wipe();
    dx_world(&F, N, BATCH, 1, 1);
    char csv[N * 64 + 64], *p = csv;
    p += sprintf(p, "id,contact.facebook,consent.facebook\n");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "c%d,+1-555-%07d,%s\n", i, i, i % 6 == 5 ? "no" : "yes");
    assert_int_equal(eng_customers_import_csv_buffer(F.e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    static const eng_creative creatives[] = {
        {ENG_CH_EMAIL, "Offer", "<p>Hello {{first_name}}</p>{{unsubscribe}}"},
        {ENG_CH_FACEBOOK, "Diwali offer", "20% off this week"},
    };
    eng_message_spec m = dx_message();
    m.creatives = creatives;
    m.n_creatives = 2;
    dx_approve(&F, &m);
    assert_int_equal(eng_close(F.e), ENG_OK);
    world_keep(1);

    world_back();
    ad_host_open();
    F.e = ad_engine();
    assert_int_equal(run_message(F.e), ENG_OK);
    uint64_t parts = P.parts;
    assert_int_equal(eng_close(F.e), ENG_OK);
    ad_host_close();
    assert_true(parts >= 6); /* one a chunk with Facebook customers, the unknown ones twice */

    ad_tally t = {0};
    /* under valgrind and TSan the middle part only (the file store) */
    uint64_t first = test_slow_runtime() ? parts / 2 : 1, last = test_slow_runtime() ? parts / 2 : parts, tried = 0;
    for (uint64_t at = first; at <= last; at++, tried += 2) {
        ad_crash_at(at, 1, &t);
        ad_crash_at(at, 0, &t);
    }
    printf("%s: %llu kills in the ad export callback (%llu parts a run): %llu Facebook sends accepted at a crash, "
           "%llu parts taken in doubt at a crash all asked again under their key, %llu taken and final never "
           "again; each identifier in one part\n",
           backend, (unsigned long long)t.crashes, (unsigned long long)parts, (unsigned long long)t.accepted_at_crash,
           (unsigned long long)t.parts_in_doubt, (unsigned long long)t.parts_final_kept);
    assert_int_equal(t.crashes, tried);
    assert_true(t.parts_in_doubt > 0 && t.parts_final_kept > 0 && t.accepted_at_crash > 0);
    free(world_img);
    world_img = NULL;
    dx_provider_free(&F.prov);
    dx_store_open = NULL;
    test_alloc_assert_clean();
}

static void one_caller(void **state)
{
    (void)state;
    killed_in_callback(1);
}

static void two_callers(void **state)
{
    (void)state;
    killed_in_callback(2);
}

int main(int argc, char **argv)
{
    backend = argc > 1 ? argv[1] : "file";
    if (strcmp(backend, "postgres") == 0 && !getenv("ENGAGE_PG_CONNINFO")) {
        printf("SKIP: no ENGAGE_PG_CONNINFO (run through with_postgres.sh)\n");
        return 77;
    }
    dir = test_tmpdir();
    snprintf(db, sizeof db, "%s/run.db", dir);
    snprintf(calls_path, sizeof calls_path, "%s/calls.log", dir);
    snprintf(acc_path, sizeof acc_path, "%s/accepted.log", dir);
    snprintf(ad_path, sizeof ad_path, "%s/platform.log", dir);
    snprintf(pg_table, sizeof pg_table, "killed_run_%d", (int)getpid());
    snprintf(pg_world, sizeof pg_world, "killed_world_%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_caller),
        cmocka_unit_test(two_callers),
        cmocka_unit_test(ad_export_killed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef KT_POSTGRES
    if (strcmp(backend, "postgres") == 0) {
        char sql[200];
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; DROP TABLE IF EXISTS %s", pg_table, pg_world);
        pg_sql(sql);
    }
#endif
    test_rmtree(dir);
    free(dir);
    return rc;
}
