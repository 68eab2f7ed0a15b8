/* Soak (reliability suite): the main scenarios on the embedded *file* store,
 * with the writer killed (SIGKILL) at random moments, for a set time.
 *
 * Each round forks a child that opens the engine on one file and does random
 * work — import customers, create and approve campaigns' messages, run what is
 * due against a provider, append the provider's receipts, import transactions,
 * compact the customers, the events and the file itself (eng_store_file_compact
 * rewrites it and renames it over the old one, so kills land mid-rewrite too) —
 * while the parent kills it after a
 * random delay. The parent then opens the file itself and checks:
 *   - the store opens (a torn tail is dropped) and the audit chain verifies;
 *   - every approved message's frozen audience loads (hash verified);
 *   - exactly once: the provider's own log (written before it answers, so a
 *     kill never loses it) never holds two idempotency keys for one
 *     (message, customer, channel), and the ledger never counts more accepted
 *     sends of a message than the provider holds.
 * At the end a last child runs everything due to completion, and every
 * finished execution must account for every pair: accepted <= pairs at the
 * provider <= accepted + expired (an expired send may have arrived), and
 * accepted + rejected + expired + skipped = sends.
 *
 *   soak_filestore [seconds] [directory]     (default 10 s, a fresh temp dir)
 * Prints rounds, kills, operations done and invariants checked. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engage.h"

#define ADMIN "root"
#define SPEED 2000 /* virtual milliseconds per real millisecond */
#define OPS_PER_CHILD 60

static char dir[4096], db_path[4200], log_path[4200];
static int64_t real_start_ms;
static const eng_time virtual_start = 1767225600000; /* 2026-01-01T00:00:00Z */

#define CHECK(c)                                                                                               \
    do {                                                                                                       \
        if (!(c)) {                                                                                            \
            fprintf(stderr, "soak: %s failed at line %d (last error %d: %s)\n", #c, __LINE__,                 \
                    eng_error_last()->code, eng_error_last()->message);                                        \
            _exit(1); /* no leak report on the way out: the failure is the finding */                          \
        }                                                                                                      \
    } while (0)

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Virtual time runs SPEED times faster than the wall clock, and on across processes. */
static eng_time vnow(void *u)
{
    (void)u;
    return virtual_start + (real_ms() - real_start_ms) * SPEED;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ------------------------------------------------------------ the provider */

/* A provider that de-duplicates by idempotency key. It appends
 * "key<TAB>message<TAB>customer<TAB>channel" to its log before answering
 * accepted, so what it holds survives a kill of the engine's process. */
typedef struct provider {
    int fd;
    char **keys; /* open-addressing set of keys it holds */
    size_t cap, n;
} provider;

static uint64_t fnv(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int set_add(provider *p, const char *key) /* 1 when new */
{
    if ((p->n + 1) * 2 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        char **k = calloc(cap, sizeof *k);
        CHECK(k != NULL);
        for (size_t i = 0; i < p->cap; i++)
            if (p->keys[i]) {
                size_t j = fnv(p->keys[i]) & (cap - 1);
                while (k[j])
                    j = (j + 1) & (cap - 1);
                k[j] = p->keys[i];
            }
        free(p->keys);
        p->keys = k;
        p->cap = cap;
    }
    size_t j = fnv(key) & (p->cap - 1);
    while (p->keys[j]) {
        if (strcmp(p->keys[j], key) == 0)
            return 0;
        j = (j + 1) & (p->cap - 1);
    }
    CHECK((p->keys[j] = strdup(key)) != NULL);
    p->n++;
    return 1;
}

static void set_free(provider *p)
{
    for (size_t i = 0; i < p->cap; i++)
        free(p->keys[i]);
    free(p->keys);
    memset(p, 0, sizeof *p);
}

typedef struct logged {
    char key[160];
    uint64_t message;
    uint32_t customer;
    int channel;
} logged;

/* Reads the provider's log; a torn last line (killed mid-write) is ignored. */
static logged *read_log(size_t *n)
{
    FILE *f = fopen(log_path, "r");
    size_t cap = 1024;
    logged *v = malloc(cap * sizeof *v);
    CHECK(v != NULL);
    *n = 0;
    if (!f)
        return v;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break;
        logged l;
        unsigned long long m;
        unsigned c;
        if (sscanf(line, "%159[^\t]\t%llu\t%u\t%d", l.key, &m, &c, &l.channel) != 4)
            continue;
        l.message = m;
        l.customer = c;
        if (*n == cap) {
            cap *= 2;
            CHECK((v = realloc(v, cap * sizeof *v)) != NULL);
        }
        v[(*n)++] = l;
    }
    fclose(f);
    return v;
}

static int send_one(const eng_envelope *env, int *status, void *user)
{
    provider *p = user;
    if (rnd() % 20 == 0) { /* a temporary failure: the engine retries with the same key */
        *status = ENG_SEND_RETRY;
        return ENG_OK;
    }
    if (set_add(p, env->idempotency_key)) {
        char line[256];
        int len = snprintf(line, sizeof line, "%s\t%llu\t%u\t%d\n", env->idempotency_key,
                           (unsigned long long)env->message, env->customer, env->channel);
        CHECK(len > 0 && (size_t)len < sizeof line && write(p->fd, line, (size_t)len) == len);
    }
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    for (size_t i = 0; i < n; i++)
        send_one(&env[i], &status[i], user);
    return ENG_OK;
}

/* ------------------------------------------------------------ the engine */

static eng_store *file_store; /* the engine's store, for eng_store_file_compact() */

static eng_engine *open_engine(provider *p)
{
    eng_store *s = NULL;
    CHECK(eng_store_file_open(db_path, ENG_STORE_CREATE | ENG_STORE_NOSYNC, NULL, &s) == ENG_OK);
    file_store = s;
    static eng_transport_methods tm;
    tm = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, send_one, NULL, send_batch, 1, 16};
    eng_config cfg;
    CHECK(eng_config_init(&cfg, ENG_CONFIG_VERSION) == ENG_OK);
    cfg.store = s;
    cfg.transport = p ? &tm : NULL;
    cfg.transport_user = p;
    cfg.clock_fn = vnow;
    eng_engine *e = NULL;
    CHECK(eng_open(&cfg, &e) == ENG_OK);
    return e;
}

static void import_customers(eng_engine *e, int first, int n)
{
    char *csv = malloc((size_t)n * 96 + 96), *p = csv;
    CHECK(csv != NULL);
    p += sprintf(p, "id,n,contact.sms,consent.sms,contact.email,consent.email\n");
    for (int i = first; i < first + n; i++)
        p += sprintf(p, "c%d,%d,+1555%07d,%s,c%d@example.com,yes\n", i, i, i, rnd() % 8 ? "yes" : "no", i);
    CHECK(eng_customers_import_csv_buffer(e, ADMIN, csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    free(csv);
}

static void set_up(eng_engine *e)
{
    eng_org_settings s;
    CHECK(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION) == ENG_OK);
    s.channel_cost[ENG_CH_SMS] = 2;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    CHECK(eng_org_create(e, "acme", &s, ADMIN, NULL) == ENG_OK);
    eng_actor_spec a;
    CHECK(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION) == ENG_OK);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    CHECK(eng_actor_put(e, ADMIN, &a) == ENG_OK);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    CHECK(eng_actor_put(e, ADMIN, &a) == ENG_OK);
    CHECK(eng_credits_adjust(e, ADMIN, ENG_CREDITS_CAMPAIGN, 100000000) == ENG_OK);
    CHECK(eng_unsubscribe_setup(e, ADMIN, "https://acme.example/unsub", "0123456789abcdef-acme", 21) == ENG_OK);
    CHECK(eng_customers_add_column(e, ADMIN, "n", ENG_COL_INT64) == ENG_OK);
    import_customers(e, 0, 200);
    uint32_t g;
    CHECK(eng_group_create_filter(e, ADMIN, "all", "n >= 0", &g) == ENG_OK);
}

/* The org exists and its set-up is whole (done once, before any kill). */
static int org_exists(eng_engine *e)
{
    uint64_t n = 0;
    return eng_customers_count(e, ADMIN, &n) == ENG_OK;
}

static void new_message(eng_engine *e)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_time now = vnow(NULL);
    eng_campaign_spec c;
    CHECK(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION) == ENG_OK);
    char name[64];
    snprintf(name, sizeof name, "Soak %llu", (unsigned long long)rnd());
    c.name = name;
    c.start = now + 60000;
    c.end = now + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = 10;
    uint64_t campaign, message;
    CHECK(eng_campaign_create(e, "ann", &c, &campaign, NULL) == ENG_OK);
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {
        {ENG_CH_SMS, NULL, "Hi, 20% off. {{optout}}"},
        {ENG_CH_EMAIL, "Offer", "<p>Hello, 20% off.</p>{{unsubscribe}}"},
    };
    eng_message_spec m;
    CHECK(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION) == ENG_OK);
    m.title = "Blast";
    m.include = groups;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = now + 10 * 60000;
    m.schedule = &sched;
    eng_validation *v = NULL;
    CHECK(eng_message_create(e, "ann", campaign, &m, &message, &v) == ENG_OK);
    eng_validation_free(v);
    v = NULL;
    CHECK(eng_message_submit(e, "ann", message, &v) == ENG_OK);
    eng_validation_free(v);
    /* Refused only when the send time has passed already (a slow, loaded machine). */
    int rc = eng_message_approve(e, "bob", message, NULL, "ok");
    CHECK(rc == ENG_OK || rc == ENG_ERANGE);
}

static void run_due(eng_engine *e)
{
    eng_run_report r = ENG_RUN_REPORT_INIT;
    CHECK(eng_run_due(e, ADMIN, vnow(NULL), NULL, &r) == ENG_OK);
}

static void receipts(eng_engine *e)
{
    size_t n;
    logged *l = read_log(&n);
    size_t k = n < 40 ? n : 40;
    const char *keys[40];
    int st[40];
    eng_time t[40];
    for (size_t i = 0; i < k; i++) {
        keys[i] = l[n - k + i].key;
        uint64_t r = rnd() % 10;
        st[i] = r == 0 ? ENG_TOUCH_UNSUBSCRIBED : r < 5 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
        t[i] = vnow(NULL);
    }
    eng_receipts rc = ENG_RECEIPTS_INIT;
    rc.count = k;
    rc.keys = keys;
    rc.statuses = st;
    rc.times = t;
    if (k)
        CHECK(eng_touch_append(e, &rc, NULL) == ENG_OK);
    free(l);
}

static void transactions(eng_engine *e, uint64_t round)
{
    char csv[40 * 80 + 64], *p = csv;
    p += sprintf(p, "id,customer,time,amount,store\n");
    time_t secs = (time_t)(vnow(NULL) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "T%llu-%llu-%d,c%d,%s,%d.25,S%d\n", (unsigned long long)round,
                     (unsigned long long)(rnd() % 1000000), i, (int)(rnd() % 400), when, i + 1, i % 3);
    CHECK(eng_txn_import_csv_buffer(e, "acme", csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
}

/* One child's life: random work until OPS_PER_CHILD operations or a kill. */
static void child(uint64_t seed, int drain)
{
    rng_state = seed * 2654435761u + 1;
    provider p = {0};
    CHECK((p.fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644)) >= 0);
    size_t n;
    logged *l = read_log(&n);
    for (size_t i = 0; i < n; i++)
        set_add(&p, l[i].key);
    free(l);
    eng_engine *e = open_engine(&p);
    if (drain) { /* run everything due to completion, time moving on */
        for (int i = 0; i < 400; i++) {
            eng_run_report r = ENG_RUN_REPORT_INIT;
            CHECK(eng_run_due(e, ADMIN, vnow(NULL) + (eng_time)i * 3600000, NULL, &r) == ENG_OK);
            /* Not before the clock has passed every schedule (messages go out 10 minutes after they
             * are made): at i == 0 a message approved just before the kill is not due yet. */
            if (r.pending == 0 && r.executions == 0 && i >= 1)
                break;
        }
    } else {
        for (int op = 0; op < OPS_PER_CHILD; op++) {
            uint64_t r = rnd() % 100;
            if (r < 15)
                import_customers(e, (int)(rnd() % 300), 20);
            else if (r < 30)
                new_message(e);
            else if (r < 70)
                run_due(e);
            else if (r < 80)
                receipts(e);
            else if (r < 90)
                transactions(e, seed);
            else if (r < 94)
                CHECK(eng_customers_compact(e, ADMIN) == ENG_OK);
            else if (r < 97)
                CHECK(eng_events_compact(e) == ENG_OK);
            else
                CHECK(eng_store_file_compact(file_store) == ENG_OK);
            printf("op\n"); /* the parent counts operations done */
            fflush(stdout);
        }
    }
    CHECK(eng_close(e) == ENG_OK);
    set_free(&p);
    close(p.fd);
}

/* ------------------------------------------------------------ invariants */

static int cmp_logged(const void *a, const void *b)
{
    const logged *x = a, *y = b;
    if (x->message != y->message)
        return x->message < y->message ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    if (x->channel != y->channel)
        return x->channel - y->channel;
    return strcmp(x->key, y->key);
}

/* Checks everything; returns how many invariants were checked. */
static uint64_t verify(int final)
{
    uint64_t checks = 0;
    eng_engine *e = open_engine(NULL); /* no transport: the parent never sends */
    checks++;
    CHECK(org_exists(e));
    uint64_t bad = 1;
    CHECK(eng_audit_verify(e, ADMIN, &bad) == ENG_OK && bad == 0);
    checks++;

    size_t n;
    logged *l = read_log(&n);
    qsort(l, n, sizeof *l, cmp_logged);
    for (size_t i = 1; i < n; i++) { /* one key per (message, customer, channel) */
        int same_pair = l[i].message == l[i - 1].message && l[i].customer == l[i - 1].customer &&
                        l[i].channel == l[i - 1].channel;
        if (same_pair) {
            fprintf(stderr, "soak: sent twice: message %llu customer %u channel %d under keys %s and %s\n",
                    (unsigned long long)l[i].message, l[i].customer, l[i].channel, l[i - 1].key, l[i].key);
            _exit(1);
        }
    }
    checks += n;

    /* Messages: ids are dense and never reissued; stop after a run of unknown ids. */
    size_t at = 0;
    for (uint64_t id = 1, misses = 0; misses < 64; id++) {
        eng_message *m = NULL;
        if (eng_message_get(e, ADMIN, id, &m) != ENG_OK) {
            misses++;
            continue;
        }
        misses = 0;
        eng_message_status st = ENG_MESSAGE_STATUS_INIT;
        CHECK(eng_message_status_get(m, &st) == ENG_OK);
        eng_message_free(m);
        uint64_t pairs = 0;
        while (at < n && l[at].message < id)
            at++;
        while (at < n && l[at].message == id) {
            pairs++;
            at++;
        }
        if (st.state == ENG_STATE_APPROVED || st.state == ENG_STATE_EXECUTING || st.state == ENG_STATE_EXECUTED) {
            eng_audience *a = NULL;
            CHECK(eng_message_audience(e, ADMIN, id, &a) == ENG_OK); /* its hash verified */
            eng_audience_free(a);
            checks++;
        }
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        CHECK(eng_execution_get(e, ADMIN, id, 0, &x) == ENG_OK);
        if (x.accepted > pairs) {
            fprintf(stderr, "soak: message %llu: %llu accepted, the provider holds %llu\n", (unsigned long long)id,
                    (unsigned long long)x.accepted, (unsigned long long)pairs);
            _exit(1);
        }
        checks++;
        if (final && x.state == ENG_EXEC_FINISHED) {
            if (pairs > x.accepted + x.expired ||
                x.accepted + x.rejected + x.expired + x.skipped != x.sends) {
                fprintf(stderr,
                        "soak: message %llu finished: sends %llu = accepted %llu + rejected %llu + expired %llu "
                        "+ skipped %llu? provider holds %llu\n",
                        (unsigned long long)id, (unsigned long long)x.sends, (unsigned long long)x.accepted,
                        (unsigned long long)x.rejected, (unsigned long long)x.expired,
                        (unsigned long long)x.skipped, (unsigned long long)pairs);
                _exit(1);
            }
            checks += 2;
        }
        if (final && (st.state == ENG_STATE_APPROVED || st.state == ENG_STATE_EXECUTING) &&
            x.state != ENG_EXEC_REFUSED) {
            fprintf(stderr, "soak: message %llu still %d after the final drain (execution %d)\n",
                    (unsigned long long)id, st.state, x.state);
            _exit(1);
        }
    }
    free(l);
    CHECK(eng_close(e) == ENG_OK);
    return checks;
}

/* ------------------------------------------------------------ the rounds */

/* Runs one child; kills it after @p kill_after_ms (0: let it finish). Returns operations done. */
static uint64_t round_once(uint64_t seed, int64_t kill_after_ms, int drain, int *killed)
{
    int out[2];
    CHECK(pipe(out) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        dup2(out[1], 1);
        child(seed, drain);
        _exit(0);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    uint64_t ops = 0;
    int64_t t0 = real_ms();
    *killed = 0;
    for (;;) {
        char buf[256];
        ssize_t r = read(out[0], buf, sizeof buf);
        for (ssize_t i = 0; i < r; i++)
            ops += buf[i] == '\n';
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            while ((r = read(out[0], buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < r; i++)
                    ops += buf[i] == '\n';
            if (!*killed && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                fprintf(stderr, "soak: the worker failed (status %d)\n", st);
                _exit(1);
            }
            break;
        }
        if (!*killed && kill_after_ms && real_ms() - t0 >= kill_after_ms) {
            kill(pid, SIGKILL);
            *killed = 1;
        }
        if (r <= 0)
            usleep(1000);
    }
    close(out[0]);
    return ops;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 10;
    if (argc > 2) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/engage-soak-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
    }
    snprintf(db_path, sizeof db_path, "%s/engine.db", dir);
    snprintf(log_path, sizeof log_path, "%s/provider.log", dir);
    unlink(db_path);
    unlink(log_path);
    real_start_ms = real_ms();
    uint64_t seed = (uint64_t)time(NULL);
    if (getenv("SOAK_SEED"))
        seed = strtoull(getenv("SOAK_SEED"), NULL, 10);
    rng_state = seed | 1;
    printf("soak: file store in %s, %d s, seed %llu\n", dir, seconds, (unsigned long long)seed);

    eng_engine *e = open_engine(NULL); /* the world, before the first kill */
    set_up(e);
    CHECK(eng_close(e) == ENG_OK);
    uint64_t rounds = 0, kills = 0, ops = 0, checks = 0;
    while (real_ms() - real_start_ms < (int64_t)seconds * 1000) {
        int killed;
        ops += round_once(seed + rounds, 1 + (int64_t)(rnd() % 250), 0, &killed);
        kills += killed;
        rounds++;
        checks += verify(0);
    }
    int killed;
    ops += round_once(seed + rounds, 0, 1, &killed);
    checks += verify(1);
    struct stat sb;
    long long bytes = stat(db_path, &sb) == 0 ? (long long)sb.st_size : -1;
    size_t sent;
    free(read_log(&sent));
    printf("soak: %llu rounds, %llu kills, %llu operations, %zu sends at the provider, %llu invariants checked, "
           "file %lld bytes: all held\n",
           (unsigned long long)rounds, (unsigned long long)kills, (unsigned long long)ops, sent,
           (unsigned long long)checks, bytes);
    if (argc <= 2) {
        unlink(db_path);
        unlink(log_path);
        rmdir(dir);
    }
    return 0;
}
