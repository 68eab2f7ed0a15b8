/* Several engines in several processes over one PostgreSQL table
 * (examples/store-postgres with STORE_PG_SHARED): the world the scale tests
 * share, and a provider whose log lives in files every process appends to.
 *
 * The provider de-duplicates by idempotency key, as real providers do, across
 * processes: under an exclusive flock it reads what the others delivered since
 * it last looked, delivers the envelopes whose key it has not seen, and
 * appends them to `delivered.log` ("customer channel pid key" per line). Every
 * envelope handed to it, delivered or not, also goes to `calls.log`, so a
 * second send of one key (after a worker died holding its chunk) shows there.
 *
 * The world: org "acme" (root admin, ann author, bob approver), N customers
 * c0..c{N-1} with an SMS contact and, for all but every 5th, an email contact,
 * both consented; uploaded group "all"; a campaign with 10 % control. */
#ifndef SCALE_WORLD_H
#define SCALE_WORLD_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "engage.h"
#include "store_pg.h"
#include "test_util.h"

static const char *sw_conninfo;
static pid_t sw_parent; /* a forked worker must never return into cmocka: it exits instead */

#define SW_CHECK(cond, ...)                                                                                          \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            if (getpid() != sw_parent) {                                                                             \
                fprintf(stderr, "worker %d: ", (int)getpid());                                                       \
                fprintf(stderr, __VA_ARGS__);                                                                        \
                fprintf(stderr, "\n");                                                                               \
                _exit(2);                                                                                            \
            }                                                                                                        \
            fail_msg(__VA_ARGS__);                                                                                   \
        }                                                                                                            \
    } while (0)

static inline double sw_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline eng_time sw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (eng_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the engines' clock is ahead of the wall clock: an X-Engage message is due at least
 * 50 hours after its approval, so its test moves the clock forward instead of waiting. Set
 * before the workers are forked; every engine of sw_open reads it. */
static eng_time sw_clock_offset;

static inline eng_time sw_clock(void *user)
{
    (void)user;
    return sw_now() + sw_clock_offset;
}

static inline size_t sw_env(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? (size_t)strtoull(v, NULL, 10) : dflt;
}

/* ---- the provider ---- */

typedef struct sw_prov {
    char dir[512];
    int calls_fd, deliv_fd;
    uint64_t *set; /* hashes of delivered keys (0 = empty slot) */
    size_t cap, n;
    off_t read_to; /* delivered.log read up to here */
    unsigned batches;
    /* coherence: on the first batch, write a byte to signal_fd and wait for one on wait_fd */
    int signal_fd, wait_fd;
    /* the victim: on batch number kill_at, deliver half, signal, and wait to be killed */
    unsigned kill_at;
    /* after the wait of the first batch: close this engine (a server shutting down mid-run) */
    eng_engine *close_after_wait;
} sw_prov;

static inline uint64_t sw_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* 1 when added, 0 when it was there. */
static inline int sw_set_add(sw_prov *p, uint64_t h)
{
    size_t i = h & (p->cap - 1);
    while (p->set[i]) {
        if (p->set[i] == h)
            return 0;
        i = (i + 1) & (p->cap - 1);
    }
    p->set[i] = h;
    p->n++;
    return 1;
}

static inline void sw_prov_open(sw_prov *p, const char *dir, size_t max_keys)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    char path[600];
    snprintf(path, sizeof path, "%s/calls.log", dir);
    p->calls_fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    snprintf(path, sizeof path, "%s/delivered.log", dir);
    p->deliv_fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0644);
    SW_CHECK(p->calls_fd >= 0 && p->deliv_fd >= 0, "provider log in %s", dir);
    for (p->cap = 1024; p->cap < max_keys * 2; p->cap *= 2)
        ;
    p->set = calloc(p->cap, sizeof *p->set);
    SW_CHECK(p->set, "out of memory");
    p->signal_fd = p->wait_fd = -1;
}

static inline void sw_prov_close(sw_prov *p)
{
    close(p->calls_fd);
    close(p->deliv_fd);
    free(p->set);
}

static inline void sw_write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            abort();
        buf += w;
        n -= (size_t)w;
    }
}

/* Read the other processes' deliveries since the last look (lock held). */
static inline void sw_catch_up(sw_prov *p)
{
    struct stat st;
    if (fstat(p->deliv_fd, &st) != 0)
        abort();
    if (st.st_size <= p->read_to)
        return;
    size_t len = (size_t)(st.st_size - p->read_to);
    char *buf = malloc(len + 1);
    if (!buf || pread(p->deliv_fd, buf, len, p->read_to) != (ssize_t)len)
        abort();
    buf[len] = 0;
    for (char *line = buf, *nl; line < buf + len && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        char key[300];
        if (sscanf(line, "%*u %*d %*d %299s", key) == 1) /* "customer channel pid key code" */
            sw_set_add(p, sw_hash(key));
    }
    free(buf);
    p->read_to = st.st_size;
}

/* The coupon code between "CODE[" and "]" of a body, or "-". */
static inline const char *sw_code(const char *body, size_t len, char *out)
{
    const char *p = body ? memmem(body, len, "CODE[", 5) : NULL;
    const char *q = p ? memchr(p + 5, ']', len - (size_t)(p + 5 - body)) : NULL;
    if (!q || q - p - 5 > ENG_COUPON_CODE_MAX)
        return "-";
    memcpy(out, p + 5, (size_t)(q - p - 5));
    out[q - p - 5] = 0;
    return out;
}

static inline int sw_send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    sw_prov *p = user;
    p->batches++;
    size_t deliver = n;
    int victim = p->kill_at && p->batches == p->kill_at;
    if (victim)
        deliver = n / 2; /* dies with half of the batch at the provider */
    size_t cap = n * 160 + 1, len = 0, clen = 0;
    char *out = malloc(cap), *calls = malloc(cap);
    if (!out || !calls)
        abort();
    for (size_t i = 0; i < deliver; i++)
        clen += (size_t)snprintf(calls + clen, cap - clen, "%u %d %d %s\n", (unsigned)env[i].customer, env[i].channel,
                                 (int)getpid(), env[i].idempotency_key);
    char code[ENG_COUPON_CODE_MAX + 1];
    sw_write_all(p->calls_fd, calls, clen);
    if (flock(p->deliv_fd, LOCK_EX) != 0)
        abort();
    sw_catch_up(p);
    for (size_t i = 0; i < deliver; i++) {
        if (sw_set_add(p, sw_hash(env[i].idempotency_key)))
            len += (size_t)snprintf(out + len, cap - len, "%u %d %d %s %s\n", (unsigned)env[i].customer,
                                    env[i].channel, (int)getpid(), env[i].idempotency_key,
                                    sw_code(env[i].body, env[i].body_len, code));
        status[i] = ENG_SEND_ACCEPTED; /* a repeated key is accepted again and not delivered again */
    }
    sw_write_all(p->deliv_fd, out, len);
    p->read_to += (off_t)len;
    flock(p->deliv_fd, LOCK_UN);
    free(out);
    free(calls);
    if (victim) {
        char c = 'k';
        sw_write_all(p->signal_fd, &c, 1);
        for (;;)
            pause(); /* SIGKILLed here, mid-chunk: half of it delivered, no outcome stored */
    }
    if (p->batches == 1 && p->signal_fd >= 0 && p->wait_fd >= 0) {
        char c = 's';
        sw_write_all(p->signal_fd, &c, 1);
        if (read(p->wait_fd, &c, 1) != 1)
            abort();
        if (p->close_after_wait && eng_close(p->close_after_wait) != ENG_OK) /* the transport may call back in */
            abort();
    }
    return ENG_OK;
}

static inline int sw_send_one(const eng_envelope *env, int *status, void *user)
{
    return sw_send_batch(env, 1, status, user);
}

/* Per (customer, channel): deliveries in delivered.log, calls in calls.log. */
typedef struct sw_log {
    size_t n;
    unsigned *deliv, *calls;
    size_t resent; /* calls beyond the first of a key */
} sw_log;

static inline size_t sw_pair(uint32_t c, int ch) { return (size_t)c * ENG_CH_COUNT + (size_t)ch; }

static inline void sw_log_count(const char *path, size_t n, unsigned *into)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned c, pid;
    int ch;
    char line[512], key[300];
    while (fgets(line, sizeof line, f)) {
        assert_int_equal(sscanf(line, "%u %d %u %299s", &c, &ch, &pid, key), 4);
        assert_true(c < n && ch >= 0 && ch < ENG_CH_COUNT);
        into[sw_pair(c, ch)]++;
    }
    fclose(f);
}

static inline void sw_log_read(sw_log *l, const char *dir, size_t n)
{
    l->n = n;
    l->deliv = calloc(n * ENG_CH_COUNT, sizeof *l->deliv);
    l->calls = calloc(n * ENG_CH_COUNT, sizeof *l->calls);
    assert_true(l->deliv && l->calls);
    char path[600];
    snprintf(path, sizeof path, "%s/delivered.log", dir);
    sw_log_count(path, n, l->deliv);
    snprintf(path, sizeof path, "%s/calls.log", dir);
    sw_log_count(path, n, l->calls);
    l->resent = 0;
    for (size_t i = 0; i < n * ENG_CH_COUNT; i++)
        l->resent += l->calls[i] > 1 ? l->calls[i] - 1 : 0;
}

static inline void sw_log_free(sw_log *l)
{
    free(l->deliv);
    free(l->calls);
}

/* ---- engines ---- */

/* A worker's engine counts its batches that found another engine's commits at their start
 * (the library logs each at debug level): [0] refused (ENG_EBUSY, retried), [1] caught up
 * inside the batch. */
static uint64_t sw_batch_counts[2];

static inline void sw_count_batches(int level, const char *message, void *user)
{
    (void)level;
    (void)user;
    if (!strncmp(message, "batch refused", 13))
        sw_batch_counts[0]++;
    else if (!strncmp(message, "batch caught up", 15))
        sw_batch_counts[1]++;
}

typedef struct sw {
    char table[64];
    char dir[128];
    size_t n;
    uint32_t *ext; /* per dense id: the number i of "c<i>" */
    double load_secs; /* a fresh engine: open and load the customer table */
    uint64_t campaign;
    eng_engine *e;
    sw_prov prov;
    eng_transport_methods tm;
} sw;

static inline eng_engine *sw_open(sw *w, unsigned flags, const eng_transport_methods *tm, void *tuser)
{
    eng_store *s = NULL;
    int rc = store_pg_open(sw_conninfo, w->table, flags, NULL, &s);
    SW_CHECK(rc == ENG_OK, "store_pg_open: %s", eng_error_last()->message);
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.store = s;
    cfg.transport = tm;
    cfg.transport_user = tuser;
    cfg.clock_fn = sw_clock;
    cfg.log_fn = sw_count_batches;
    cfg.log_level = ENG_LOG_DEBUG;
    eng_engine *e = NULL;
    rc = eng_open(&cfg, &e);
    SW_CHECK(rc == ENG_OK, "eng_open: %d %s", rc, eng_error_last()->message);
    return e;
}

/* A world of n customers in table <name>_<pid>; files of the provider in a fresh directory. */
static inline void sw_world(sw *w, const char *name, size_t n)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    snprintf(w->table, sizeof w->table, "%s_%d", name, (int)getpid());
    snprintf(w->dir, sizeof w->dir, "scale-%s-%d", name, (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", w->dir, w->dir);
    assert_int_equal(system(cmd), 0);
    w->e = sw_open(w, STORE_PG_SHARED, NULL, NULL);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION), ENG_OK);
    s.channel_cost[ENG_CH_SMS] = 3;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    assert_int_equal(eng_org_create(w->e, "acme", &s, "root", NULL), ENG_OK);
    eng_actor_spec a;
    assert_int_equal(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION), ENG_OK);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    assert_int_equal(eng_actor_put(w->e, "root", &a), ENG_OK);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    assert_int_equal(eng_actor_put(w->e, "root", &a), ENG_OK);
    assert_int_equal(eng_credits_adjust(w->e, "root", ENG_CREDITS_CAMPAIGN, 1000000000), ENG_OK);
    assert_int_equal(eng_unsubscribe_setup(w->e, "root", "https://acme.example/unsub", "0123456789abcdef-acme", 21),
                     ENG_OK);
    size_t cap = n * 64 + 128;
    char *csv = malloc(cap), *p = csv;
    assert_non_null(csv);
    p += sprintf(p, "id,contact.sms,consent.sms,contact.email,consent.email\n");
    for (size_t i = 0; i < n; i++)
        p += i % 5 ? sprintf(p, "c%zu,+1555%07zu,yes,c%zu@example.com,yes\n", i, i, i)
                   : sprintf(p, "c%zu,+1555%07zu,yes,,\n", i, i);
    int rc = eng_customers_import_csv_buffer(w->e, "root", csv, (size_t)(p - csv), NULL, NULL);
    if (rc)
        fail_msg("import: %s", eng_error_last()->message);
    free(csv);
    /* Which customer each dense id is, read through an engine on a handle without the change
     * feed: on a shared handle every call asks the database what changed (a round trip). */
    w->ext = malloc(n * sizeof *w->ext);
    assert_non_null(w->ext);
    double t_load = sw_secs();
    eng_engine *plain = sw_open(w, 0, NULL, NULL);
    for (uint32_t id = 0; id < n; id++) {
        if (id == 1)
            w->load_secs = sw_secs() - t_load; /* open, and the customer table read from PostgreSQL */
        char ext[32];
        assert_int_equal(eng_customer_external_id(plain, "root", id, ext, sizeof ext), ENG_OK);
        w->ext[id] = (uint32_t)strtoul(ext + 1, NULL, 10);
    }
    eng_close(plain);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(w->e, "root", "all", &g), ENG_OK);
    char **ids = malloc(n * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = malloc(24);
        snprintf(ids[i], 24, "c%zu", i);
    }
    assert_int_equal(eng_group_upload_ids(w->e, "root", g, (const char *const *)ids, n, ENG_UPLOAD_REPLACE, NULL, NULL),
                     ENG_OK);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = "Scale";
    c.start = sw_now() - ENG_HOUR;
    c.end = sw_now() + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    rc = eng_campaign_create(w->e, "ann", &c, &w->campaign, NULL);
    if (rc)
        fail_msg("campaign: %s", eng_error_last()->message);
}

static const eng_creative sw_creatives[] = {
    {ENG_CH_SMS, NULL, "Hi, 20% off today. {{optout}}"},
    {ENG_CH_EMAIL, "An offer", "<p>Hello</p>{{unsubscribe}}"},
};

static const eng_creative sw_coupon_creative[] = {
    {ENG_CH_SMS, NULL, "Your code CODE[{{coupon_code}}] {{optout}}"},
};

/* Message @p m of the world's campaign, created and submitted by ann, approved by bob. */
static inline uint64_t sw_approved(sw *w, const eng_message_spec *m)
{
    uint64_t id = 0;
    eng_validation *v = NULL;
    int rc = eng_message_create(w->e, "ann", w->campaign, m, &id, &v);
    if (rc == ENG_OK)
        rc = eng_message_submit(w->e, "ann", id, &v);
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        eng_validation_item(v, i, NULL, &path, &msg);
        fprintf(stderr, "validation: %s: %s\n", path, msg);
    }
    eng_validation_free(v);
    if (rc)
        fail_msg("message: %s", eng_error_last()->message);
    if ((rc = eng_message_approve(w->e, "bob", id, NULL, "ok")))
        fail_msg("approve: %s", eng_error_last()->message);
    return id;
}

/* A message over "all" (SMS and email to whoever is reachable; with @p pool, SMS with a code of that
 * uploaded pool), due at @p at; created, submitted, approved. */
static inline uint64_t sw_message_pool(sw *w, const char *title, eng_time at, const char *pool)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    static const char *const groups[] = {"all"};
    eng_message_spec m;
    assert_int_equal(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION), ENG_OK);
    m.title = title;
    m.include = groups;
    m.n_include = 1;
    m.creatives = sw_creatives;
    m.n_creatives = 2;
    if (pool) {
        m.creatives = sw_coupon_creative;
        m.n_creatives = 1;
        inc.kind = ENG_INCENTIVE_COUPON;
        m.incentive = &inc;
        /* The offer of the pool's codes, valid through the campaign's dates, claimed by name. */
        assert_int_equal(test_offer(w->e, "ann", w->campaign, pool, ENG_COUPON_UPLOADED, NULL, pool), ENG_OK);
        inc.offer_id = pool;
    }
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = at;
    m.schedule = &sched;
    return sw_approved(w, &m);
}

static inline uint64_t sw_message(sw *w, const char *title, eng_time at)
{
    return sw_message_pool(w, title, at, NULL);
}

/* An X-Engage message over "all" (one of SMS and email per customer, chosen by the
 * optimizer), due 51 hours from the engines' now; the clock then moves past it, so the
 * message is due when this returns. Created, submitted, approved. */
static inline uint64_t sw_message_xengage(sw *w, const char *title)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    static const char *const groups[] = {"all"};
    eng_message_spec m;
    assert_int_equal(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION), ENG_OK);
    m.title = title;
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.include = groups;
    m.n_include = 1;
    m.creatives = sw_creatives;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = sw_clock(NULL) + 51 * ENG_HOUR;
    m.schedule = &sched;
    uint64_t id = sw_approved(w, &m);
    sw_clock_offset += 51 * ENG_HOUR + 1000;
    return id;
}

/* The frozen test group (ascending dense ids); free() it. */
static inline uint32_t *sw_test_group(eng_engine *e, uint64_t msg, size_t *n)
{
    eng_audience *aud;
    assert_int_equal(eng_message_audience(e, "root", msg, &aud), ENG_OK);
    uint64_t cnt;
    assert_int_equal(eng_audience_count(aud, ENG_PART_TEST, &cnt), ENG_OK);
    uint32_t *ids = malloc((cnt ? cnt : 1) * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(eng_audience_ids(aud, ENG_PART_TEST, 0, ids, cnt, n), ENG_OK);
    eng_audience_free(aud);
    return ids;
}

/* In a worker process: run the message until its execution is finished. Exits 0, or 2 with a message. */
/* Diagnostics of a worker that makes no progress: the leases in the table. */
static inline void sw_dump_leases(const char *table)
{
    PGconn *c = PQconnectdb(sw_conninfo);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT encode(k, 'escape'), encode(substr(v, 17, 16), 'hex') FROM \"%s\" WHERE k >= 'd/k/' "
             "AND k < 'd/l/'", table);
    PGresult *r = PQexec(c, sql);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        fprintf(stderr, "  lease %s owner+until %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    PQfinish(c);
}

static inline void sw_work(eng_engine *e, const char *table, uint64_t msg, uint64_t lease_ms)
{
    for (unsigned idle = 0;;) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        o.message = msg;
        o.lease_ms = lease_ms;
        int rc = eng_run_due(e, "root", sw_clock(NULL), &o, &rep);
        if (rc && rc != ENG_EBUSY) {
            fprintf(stderr, "worker %d: run_due: %s\n", (int)getpid(), eng_error_last()->message);
            _exit(2);
        }
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        rc = eng_execution_get(e, "root", msg, 0, &x);
        if (rc == ENG_OK && x.state == ENG_EXEC_FINISHED)
            return;
        if (rc == ENG_OK && x.state == ENG_EXEC_REFUSED) {
            fprintf(stderr, "worker %d: execution refused: %s\n", (int)getpid(), x.reason);
            _exit(2);
        }
        if (rep.batches == 0) {
            if (++idle % 250 == 0) {
                fprintf(stderr, "worker %d: idle %u: rc %d, %s; state %d pending %llu planned %llu of %llu\n",
                        (int)getpid(), idle, rc, eng_error_last()->message, x.state,
                        (unsigned long long)rep.pending, (unsigned long long)x.planned,
                        (unsigned long long)x.audience);
                sw_dump_leases(table);
            }
            if (idle > 3000) {
                fprintf(stderr, "worker %d: no progress for a minute\n", (int)getpid());
                _exit(2);
            }
            usleep(20000);
        } else {
            idle = 0;
        }
    }
}

/* What the world's table holds, by layer prefix: rows and bytes of keys and values. */
static inline void sw_sizes(const sw *w)
{
    PGconn *c = PQconnectdb(sw_conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT convert_from(substr(k, 1, 1), 'UTF8'), count(*), sum(length(k) + length(v)) FROM \"%s\" "
             "GROUP BY 1 ORDER BY 1", w->table);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r); i++)
        printf("storage: prefix %s/: %s rows, %s bytes of keys and values\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2));
    PQclear(r);
    snprintf(sql, sizeof sql, "SELECT pg_total_relation_size('\"%s\"'), pg_total_relation_size('\"%s_changes\"')",
             w->table, w->table);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    printf("storage: table %s bytes on disk (with indexes and TOAST), change log %s bytes\n", PQgetvalue(r, 0, 0),
           PQgetvalue(r, 0, 1));
    PQclear(r);
    PQfinish(c);
}

static inline int sw_wait(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/* ---- where the time goes (docs/scale.md) ---- */

/* As sw_wait; adds the child's CPU seconds (user + system) to *cpu. */
static inline int sw_wait_cpu(pid_t pid, double *cpu)
{
    int st = 0;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            return st;
    *cpu += (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
    return st;
}

/* CPU seconds the PostgreSQL server has used so far: the postmaster
 * (ENGAGE_PG_PID, from with_postgres.sh), its reaped children (backends of
 * closed connections) and its live children. -1 where /proc or the pid is missing. */
static inline double sw_server_cpu(void)
{
    const char *v = getenv("ENGAGE_PG_PID");
    long pm = v ? strtol(v, NULL, 10) : 0;
    if (pm <= 0)
        return -1;
    double ticks = (double)sysconf(_SC_CLK_TCK), sum = 0;
    int found = 0;
    FILE *ls = popen("ls /proc", "r");
    char name[64];
    while (ls && fscanf(ls, "%63s", name) == 1) {
        char path[100], buf[1024];
        if (name[0] < '0' || name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        char *q = strrchr(buf, ')'); /* the command may hold spaces: fields follow its ')' */
        long ppid = 0;
        unsigned long ut = 0, stm = 0;
        long cut = 0, cst = 0;
        if (!q || sscanf(q + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &ppid, &ut, &stm, &cut,
                         &cst) != 5)
            continue;
        long pid = strtol(name, NULL, 10);
        if (pid == pm) {
            sum += (double)(ut + stm) + (double)(cut + cst);
            found = 1;
        } else if (ppid == pm) {
            sum += (double)(ut + stm);
        }
    }
    if (ls)
        pclose(ls);
    return found ? sum / ticks : -1;
}

/* Serialization failures the server logged (ENGAGE_PG_LOG, from with_postgres.sh) past byte
 * @p from: [0] on a row another transaction updated, [1] read/write dependencies (SSI). Returns
 * the log's length, the next call's @p from. */
static inline long sw_serial_failures(long from, uint64_t n[2])
{
    const char *path = getenv("ENGAGE_PG_LOG");
    FILE *f = path ? fopen(path, "r") : NULL;
    n[0] = n[1] = 0;
    if (!f)
        return 0;
    char line[1024];
    if (fseek(f, from, SEEK_SET) != 0)
        rewind(f);
    while (fgets(line, sizeof line, f)) {
        n[0] += strstr(line, "ERROR:  could not serialize access due to concurrent update") != NULL;
        n[1] += strstr(line, "ERROR:  could not serialize access due to read/write dependencies") != NULL;
    }
    long end = ftell(f);
    fclose(f);
    return end;
}

/* The server's transaction counters of the database: commits and rollbacks. */
static inline void sw_xacts(uint64_t *commits, uint64_t *rollbacks)
{
    PGconn *c = PQconnectdb(sw_conninfo);
    PGresult *r = PQexec(c, "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()");
    *commits = *rollbacks = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *commits = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        *rollbacks = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
}

/* With ENGAGE_SCALE_STATS=1 and a server started with pg_stat_statements
 * preloaded (ENGAGE_PG_OPTS="-c shared_preload_libraries=pg_stat_statements"):
 * reset the statement statistics (before a run) or print them (after). */
static inline void sw_statements(int print, const char *title)
{
    if (!getenv("ENGAGE_SCALE_STATS"))
        return;
    PGconn *c = PQconnectdb(sw_conninfo);
    PQclear(PQexec(c, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
    PGresult *r = PQexec(c, print ? "SELECT calls, round(total_exec_time::numeric, 1), rows, left(regexp_replace(query, "
                                    "'\\s+', ' ', 'g'), 90) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' "
                                    "ORDER BY total_exec_time DESC LIMIT 14"
                                  : "SELECT pg_stat_statements_reset()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "pg_stat_statements: %s", PQerrorMessage(c));
    for (int i = 0; print && PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        printf("statements %s: %8s calls %10s ms %9s rows  %s\n", title, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
    PQfinish(c);
}

#endif
