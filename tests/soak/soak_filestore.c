/* Soak (reliability suite): the main scenarios on the embedded *file* store,
 * with the writer killed (SIGKILL) at random moments, for a set time.
 *
 * Each round forks a child that opens the engine on one file and does random
 * work — import customers, create and approve campaigns' messages (one-off or
 * recurring, some with a Facebook creative that leaves through the ad export, some
 * of campaigns with their own uploaded control list), run what is
 * due against a provider, append the provider's receipts, import transactions,
 * compact the customers, the events and the file itself (eng_store_file_compact
 * rewrites it and renames it over the old one, so kills land mid-rewrite too) —
 * while the parent kills it after a
 * random delay (1-250 ms; three rounds in four counted from when the child has
 * opened the engine and done a random number of operations, see below, so that a
 * loaded machine, on which opening a grown file takes longer, does not make most
 * kills land in the open). The parent then opens the
 * file itself and checks:
 *   - the store opens (a torn tail is dropped) and the audit chain verifies;
 *   - every approved message's frozen audience loads (hash verified);
 *   - exactly once: the provider's own log (written before it answers, so a
 *     kill never loses it) never holds two idempotency keys for one
 *     (message, occurrence, customer, channel); the ad platform's log (likewise)
 *     never holds one identifier of a (message, occurrence, channel) under two
 *     parts' keys; no customer of a campaign's control list is sent or exported;
 *     the ledger never counts more accepted sends of an occurrence than the
 *     provider and the platform hold, and the touch log holds one `sent` row
 *     per accepted send (written in the same batch as the ledger's outcome);
 *   - the ledger against the provider's log of every call (soak_calls.h): no call
 *     without its attempt stored, none after the send's final outcome was stored,
 *     a send in doubt at a kill sent again under its key and then stored.
 * Two rounds in three the child also kills itself inside a pool job of a run of
 * what is due (run_due), in the job's work: where a send can be in doubt.
 * Segments are sealed every SEAL_ROWS rows (not 65,536), each seal's record
 * written behind on the file store's thread, so kills land with that write in
 * flight.
 * At the end a last child runs everything due to completion, and every
 * finished occurrence must account for every pair: accepted <= pairs at the
 * provider and the platform <= accepted + expired (an expired send may have
 * arrived), and accepted + rejected + expired + skipped = sends.
 * Once the file passes SOAK_EPOCH_BYTES (1 MiB) the world ends the same way and a
 * new one starts on a new file, so that rounds keep doing operations (on a grown
 * file one run of what is due outlasted most kills' delays). Three kills in four
 * come after a random number of the child's operations, within twice the last
 * one's duration, whatever an operation takes.
 *
 *   soak_filestore [seconds] [directory]     (default 10 s, a fresh temp dir)
 * Prints rounds, kills, operations done, worlds and invariants checked;
 * SOAK_VERBOSE=1 a line a round (file size, open and check times, operations). */
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
#include "crash_point.h"        /* crash_busy_*: kills while the pool's jobs run */
#include "events/events_impl.h" /* eng__seg_seal_rows */
#include "events/keypar.h"      /* eng__keypar_min_rows */
#include "store/file_impl.h"     /* eng__file_spill_min */
#include "store/file_behind.h"   /* eng__behind_writes */

#define ADMIN "root"
#define SPEED 2000 /* virtual milliseconds per real millisecond */
#define OPS_PER_CHILD 60
#define SEAL_ROWS 96 /* rows of a sealed segment: a seal every few runs */
#define CONTROL_LIST 40 /* customers c0..c39: a campaign's own control list */

static char dir[4096], db_path[4200], log_path[4200], ad_path[4200];
static int64_t real_start_ms;
static uint64_t seals_behind; /* segments' records the children wrote behind */
/* The engines' eng_config.threads: each child's chosen by its seed among 1, 2 and 4
 * (SOAK_THREADS=n: n for all), so one file sees them in turn; batches are cut into
 * pool jobs from KEYPAR_ROWS rows on, so that they run at this soak's sizes. */
static unsigned engine_threads = 1;
static const char *threads_env;
#define KEYPAR_ROWS 4
static int64_t round_open_ms;  /* the last round's child: milliseconds to its engine open (-1: killed before) */
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
 * "key<TAB>message<TAB>occurrence<TAB>customer<TAB>channel" to its log before answering
 * accepted, so what it holds survives a kill of the engine's process. */
typedef struct provider {
    int fd, calls_fd; /* its accepted log; its call log (soak_calls.h) */
    char **keys; /* open-addressing set of keys it holds */
    size_t cap, n;
} provider;

/* The ad platform is one too (export_part), its keys the parts' (manifest keys): it
 * appends "+", then "key<TAB>message<TAB>occurrence<TAB>channel<TAB>identifier" per
 * identifier, then "=<TAB>key" to its own log before answering accepted. */

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
    uint32_t occurrence, customer;
    int channel;
    char id[65]; /* the ad identifier (ad log), or "" */
} logged;

/* Reads the provider's log (ad = 0) or the platform's (1); a torn last line
 * (killed mid-write) is ignored, and so are the lines of a part the platform had not
 * finished taking (no "=<TAB>key" line after them, before the next "+"): it never
 * accepted that part. */
static logged *read_log_of(int ad, size_t *n)
{
    FILE *f = fopen(ad ? ad_path : log_path, "r");
    size_t cap = 1024, part = 0; /* the lines of the part being read start at part */
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
        unsigned o, c = 0;
        l.id[0] = 0;
        if (ad && line[0] == '+') { /* a part begins: one before it not taken whole was cut by a kill */
            *n = part;
            continue;
        }
        if (ad && sscanf(line, "=\t%159[^\n]", l.key) == 1) {
            if (part < *n && strcmp(v[part].key, l.key) == 0)
                part = *n; /* taken whole */
            continue;
        }
        if (ad ? sscanf(line, "%159[^\t]\t%llu\t%u\t%d\t%64s", l.key, &m, &o, &l.channel, l.id) != 5
               : sscanf(line, "%159[^\t]\t%llu\t%u\t%u\t%d", l.key, &m, &o, &c, &l.channel) != 5)
            continue;
        l.message = m;
        l.occurrence = o;
        l.customer = c;
        if (*n == cap) {
            cap *= 2;
            CHECK((v = realloc(v, cap * sizeof *v)) != NULL);
        }
        v[(*n)++] = l;
    }
    if (ad)
        *n = part;
    fclose(f);
    return v;
}

static logged *read_log(size_t *n) { return read_log_of(0, n); }

#include "soak_calls.h" /* the transport's calls against the ledger */

static int send_one(const eng_envelope *env, int *status, void *user)
{
    provider *p = user;
    calls_log(p->calls_fd, env);
    if (rnd() % 20 == 0) { /* a temporary failure: the engine retries with the same key */
        *status = ENG_SEND_RETRY;
        return ENG_OK;
    }
    if (set_add(p, env->idempotency_key)) {
        char line[256];
        int len = snprintf(line, sizeof line, "%s\t%llu\t%u\t%u\t%d\n", env->idempotency_key,
                           (unsigned long long)env->message, env->occurrence, env->customer, env->channel);
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

static int export_part(const eng_ad_manifest *m, const char *const *ids, int *status, void *user)
{
    provider *pf = user;
    if (rnd() % 10 == 0) { /* the platform unreachable: the part is tried again with the same key */
        *status = ENG_SEND_UNKNOWN;
        return ENG_OK;
    }
    if (set_add(pf, m->idempotency_key)) { /* its lines, then the line that says it has them all */
        char line[400];
        CHECK(write(pf->fd, "+\n", 2) == 2);
        for (uint64_t i = 0; i < m->count; i++) {
            int len = snprintf(line, sizeof line, "%s\t%llu\t%u\t%d\t%s\n", m->idempotency_key,
                               (unsigned long long)m->message, m->occurrence, m->channel, ids[i]);
            CHECK(len > 0 && (size_t)len < sizeof line && write(pf->fd, line, (size_t)len) == len);
        }
        int len = snprintf(line, sizeof line, "=\t%s\n", m->idempotency_key);
        CHECK(len > 0 && (size_t)len < sizeof line && write(pf->fd, line, (size_t)len) == len);
    }
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

/* ------------------------------------------------------------ the engine */

static eng_store *file_store; /* the engine's store, for eng_store_file_compact() */
static uint32_t holdout;       /* the uploaded control list (set up before the first fork) */

static eng_engine *open_engine(provider *p, provider *pf)
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
    cfg.threads = engine_threads;
    eng_engine *e = NULL;
    CHECK(eng_open(&cfg, &e) == ENG_OK);
    if (pf) {
        eng_dispatch_hooks h;
        CHECK(eng_dispatch_hooks_init(&h, ENG_DISPATCH_HOOKS_VERSION) == ENG_OK);
        h.ad_export = export_part;
        CHECK(eng_dispatch_hooks_set(e, &h, pf) == ENG_OK);
    }
    return e;
}

static void import_customers(eng_engine *e, int first, int n)
{
    char *csv = malloc((size_t)n * 160 + 128), *p = csv;
    CHECK(csv != NULL);
    p += sprintf(p, "id,n,contact.sms,consent.sms,contact.email,consent.email,contact.facebook,consent.facebook\n");
    for (int i = first; i < first + n; i++)
        p += sprintf(p, "c%d,%d,+1555%07d,%s,c%d@example.com,yes,+1666%07d,%s\n", i, i, i, rnd() % 8 ? "yes" : "no", i,
                     i, rnd() % 6 ? "yes" : "no");
    CHECK(eng_customers_import_csv_buffer(e, ADMIN, csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    free(csv);
}

static void set_up(eng_engine *e)
{
    eng_org_settings s;
    CHECK(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION) == ENG_OK);
    s.channel_cost[ENG_CH_SMS] = 2;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    s.channel_cost[ENG_CH_FACEBOOK] = 3;
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
    CHECK(eng_group_create_uploaded(e, ADMIN, "holdout", &g) == ENG_OK);
    holdout = g;
    char ids[CONTROL_LIST][16];
    const char *ip[CONTROL_LIST];
    for (int i = 0; i < CONTROL_LIST; i++) {
        snprintf(ids[i], sizeof ids[i], "c%d", i);
        ip[i] = ids[i];
    }
    CHECK(eng_group_upload_ids(e, ADMIN, g, ip, CONTROL_LIST, ENG_UPLOAD_REPLACE, NULL, NULL) == ENG_OK);
}

/* The org exists and its set-up is whole (done once, before any kill). */
static int org_exists(eng_engine *e)
{
    uint64_t n = 0;
    return eng_customers_count(e, ADMIN, &n) == ENG_OK;
}

/* A message of a new campaign: once or every hour three times; SMS and email, or
 * email and a Facebook creative (exported); the campaign's control by
 * percent or its own control list. */
static void new_message(eng_engine *e)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_time now = vnow(NULL);
    uint64_t shape = rnd();
    eng_campaign_spec c;
    CHECK(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION) == ENG_OK);
    char name[64];
    snprintf(name, sizeof name, "Soak %llu", (unsigned long long)rnd());
    c.name = name;
    c.start = now + 60000;
    c.end = now + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = 10;
    if (shape % 3 == 0)
        c.control_group = holdout;
    uint64_t campaign, message;
    CHECK(eng_campaign_create(e, "ann", &c, &campaign, NULL) == ENG_OK);
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {
        {ENG_CH_SMS, NULL, "Hi, 20% off. {{optout}}"},
        {ENG_CH_EMAIL, "Offer", "<p>Hello, 20% off.</p>{{unsubscribe}}"},
        {ENG_CH_FACEBOOK, "Offer", "20% off this week"},
    };
    eng_message_spec m;
    CHECK(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION) == ENG_OK);
    m.title = "Blast";
    m.include = groups;
    m.n_include = 1;
    int ad = (shape >> 8) % 2;
    m.creatives = ad ? cr + 1 : cr;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = now + 10 * 60000;
    if ((shape >> 16) % 2) { /* 3 occurrences an hour apart (1.8 s of real time) */
        sched.kind = ENG_SCHEDULE_RECURRING;
        sched.every = 1;
        sched.unit = ENG_EVERY_HOURS;
        sched.until = sched.at + 2 * 3600000;
    }
    m.schedule = &sched;
    eng_validation *v = NULL;
    CHECK(eng_message_create(e, "ann", campaign, &m, &message, &v) == ENG_OK);
    eng_validation_free(v);
    v = NULL;
    /* Submit and approve are refused only when the send time has passed already (10 virtual
     * minutes are 0.1 s: a slow, loaded machine, or nice -n 19) */
    int rc = eng_message_submit(e, "ann", message, &v);
    CHECK(rc == ENG_OK || (rc == ENG_EVALIDATION && eng_validation_find(v, "message.schedule.at") == ENG_ERANGE));
    eng_validation_free(v);
    if (rc)
        return;
    rc = eng_message_approve(e, "bob", message, NULL, "ok");
    CHECK(rc == ENG_OK || rc == ENG_ERANGE);
}

/* The child's own kill is aimed at the sending rounds: armed in each run of what is due
 * from the busy_run-th on (its jobs counted from that run's start: the outcome batches'
 * `sent` key chunks, seals and writes behind, after the transport has answered and
 * before the outcome is committed), never in the other operations. */
static uint64_t busy_run_nth;
static int busy_run;

static void run_due(eng_engine *e)
{
    int armed = busy_run_nth && busy_run-- <= 0;
    if (armed) {
        atomic_store(&crash_busy->entries, 0);
        crash_busy_nth = busy_run_nth;
    }
    eng_run_report r = ENG_RUN_REPORT_INIT;
    CHECK(eng_run_due(e, ADMIN, vnow(NULL), NULL, &r) == ENG_OK);
    if (armed)
        crash_busy_nth = 0;
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

/* One child's life: random work until OPS_PER_CHILD operations or a kill (from the
 * parent, or its own @p busy_ns after the @p nth pool job of a sending round started,
 * in that job's work: crash_point.h, run_due above; 0: none). */
static void child(uint64_t seed, int drain, uint64_t nth, long busy_ns)
{
    rng_state = seed * 2654435761u + 1;
    static const unsigned pick[] = {1, 2, 4};
    engine_threads = threads_env ? (unsigned)atoi(threads_env) : pick[(seed * 0x9e3779b97f4a7c15u >> 32) % 3];
    crash_busy_arm_mid(0, busy_ns); /* counts jobs; armed by run_due */
    busy_run_nth = nth;
    provider p = {0};
    CHECK((p.fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644)) >= 0);
    CHECK((p.calls_fd = open(calls_path, O_WRONLY | O_APPEND | O_CREAT, 0644)) >= 0);
    size_t n;
    logged *l = read_log(&n);
    for (size_t i = 0; i < n; i++)
        set_add(&p, l[i].key);
    free(l);
    provider pf = {0}; /* the ad platform */
    CHECK((pf.fd = open(ad_path, O_WRONLY | O_APPEND | O_CREAT, 0644)) >= 0);
    l = read_log_of(1, &n);
    for (size_t i = 0; i < n; i++)
        set_add(&pf, l[i].key);
    free(l);
    eng_engine *e = open_engine(&p, &pf);
    printf("r\n"); /* opened: the parent's kill clock may start now */
    fflush(stdout);
    size_t seals = eng__behind_writes;
    if (drain) { /* run everything due to completion, time moving on */
        for (int i = 0; i < 400; i++) {
            eng_run_report r = ENG_RUN_REPORT_INIT;
            CHECK(eng_run_due(e, ADMIN, vnow(NULL) + (eng_time)i * 3600000, NULL, &r) == ENG_OK);
            /* Not before the clock has passed every schedule (messages go out 10 minutes after they
             * are made): at i == 0 a message approved just before the kill is not due yet. */
            if (r.pending == 0 && r.executions == 0 && i >= 4) /* past every recurring occurrence */
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
            /* the parent counts operations done ('o') and seals written behind ('s') */
            size_t w = eng__behind_writes;
            printf("o\n%.*s", (int)(w - seals < 64 ? w - seals : 64), "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
            seals = w;
            fflush(stdout);
        }
    }
    CHECK(eng_close(e) == ENG_OK);
    set_free(&p);
    close(p.fd);
    close(p.calls_fd);
    set_free(&pf);
    close(pf.fd);
}

/* ------------------------------------------------------------ invariants */

static int cmp_logged(const void *a, const void *b)
{
    const logged *x = a, *y = b;
    if (x->message != y->message)
        return x->message < y->message ? -1 : 1;
    if (x->occurrence != y->occurrence)
        return x->occurrence < y->occurrence ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    if (x->channel != y->channel)
        return x->channel - y->channel;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->key, y->key);
}

/* Entries of the sorted log @p l (n) for (message, occurrence), from *at on. */
static uint64_t take(const logged *l, size_t n, size_t *at, uint64_t message, uint32_t occ)
{
    uint64_t k = 0;
    while (*at < n && (l[*at].message < message || (l[*at].message == message && l[*at].occurrence < occ)))
        (*at)++;
    while (*at < n && l[*at].message == message && l[*at].occurrence == occ) {
        k++;
        (*at)++;
    }
    return k;
}

/* Whether an entry of the sorted log @p l (n) for (message, occurrence) names a customer of the
 * control list (ids: their dense ids; hashes: their Facebook identifiers). */
static int control_reached(const logged *l, size_t n, uint64_t message, const uint32_t *ids, char hashes[][65])
{
    size_t lo = 0, hi = n; /* the message's first entry (the log is sorted by message first) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid].message < message)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && l[i].message == message; i++) {
        for (int c = 0; c < CONTROL_LIST; c++)
            if (l[i].id[0] ? strcmp(l[i].id, hashes[c]) == 0 : l[i].customer == ids[c]) {
                fprintf(stderr, "soak: message %llu reached c%d of its campaign's control list\n",
                        (unsigned long long)message, c);
                return 1;
            }
    }
    return 0;
}

/* Checks everything; returns how many invariants were checked. */
static uint64_t verify(int final)
{
    uint64_t checks = 0;
    eng_engine *e = open_engine(NULL, NULL); /* no transport: the parent never sends */
    checks++;
    CHECK(org_exists(e));
    uint64_t bad = 1;
    CHECK(eng_audit_verify(e, ADMIN, &bad) == ENG_OK && bad == 0);
    checks++;

    size_t n, na;
    logged *l = read_log(&n), *ad = read_log_of(1, &na);
    checks += calls_check(e, l, n, final);
    qsort(l, n, sizeof *l, cmp_logged);
    qsort(ad, na, sizeof *ad, cmp_logged);
    for (size_t i = 1; i < n; i++) { /* one key per (message, occurrence, customer, channel) */
        int same_pair = l[i].message == l[i - 1].message && l[i].occurrence == l[i - 1].occurrence &&
                        l[i].customer == l[i - 1].customer && l[i].channel == l[i - 1].channel;
        if (same_pair) {
            fprintf(stderr, "soak: sent twice: message %llu occurrence %u customer %u channel %d under keys %s and %s\n",
                    (unsigned long long)l[i].message, l[i].occurrence, l[i].customer, l[i].channel, l[i - 1].key,
                    l[i].key);
            _exit(1);
        }
    }
    for (size_t i = 1; i < na; i++) { /* one part per (message, occurrence, channel, identifier) */
        if (ad[i].message == ad[i - 1].message && ad[i].occurrence == ad[i - 1].occurrence &&
            ad[i].channel == ad[i - 1].channel && strcmp(ad[i].id, ad[i - 1].id) == 0) {
            fprintf(stderr, "soak: exported twice: message %llu occurrence %u identifier %s in parts %s and %s\n",
                    (unsigned long long)ad[i].message, ad[i].occurrence, ad[i].id, ad[i - 1].key, ad[i].key);
            _exit(1);
        }
    }
    checks += n + na;

    uint32_t ctl[CONTROL_LIST];
    char ctl_hash[CONTROL_LIST][65];
    for (int c = 0; c < CONTROL_LIST; c++) {
        char ext[16], phone[32];
        snprintf(ext, sizeof ext, "c%d", c);
        snprintf(phone, sizeof phone, "+1666%07d", c);
        CHECK(eng_customer_find(e, ADMIN, ext, &ctl[c]) == ENG_OK);
        CHECK(eng_ad_identifier_hash(ENG_CH_FACEBOOK, phone, ctl_hash[c], sizeof ctl_hash[c]) == ENG_OK);
    }

    /* Messages: ids are dense and never reissued; stop after a run of unknown ids. */
    size_t at = 0, ad_at = 0;
    for (uint64_t id = 1, misses = 0; misses < 64; id++) {
        eng_message *m = NULL;
        if (eng_message_get(e, ADMIN, id, &m) != ENG_OK) {
            misses++;
            continue;
        }
        misses = 0;
        eng_message_status st = ENG_MESSAGE_STATUS_INIT;
        CHECK(eng_message_status_get(m, &st) == ENG_OK);
        uint64_t campaign = st.campaign;
        int state = st.state;
        eng_message_free(m);
        if (state == ENG_STATE_APPROVED || state == ENG_STATE_EXECUTING || state == ENG_STATE_EXECUTED) {
            eng_audience *a = NULL;
            CHECK(eng_message_audience(e, ADMIN, id, &a) == ENG_OK); /* its hash verified */
            eng_audience_free(a);
            checks++;
        }
        eng_campaign *cp = NULL;
        const eng_campaign_spec *cs = NULL;
        CHECK(eng_campaign_get(e, ADMIN, campaign, &cp) == ENG_OK && eng_campaign_fields(cp, &cs) == ENG_OK);
        if (cs->control_group) {
            CHECK(cs->control_group == holdout);
            CHECK(!control_reached(l, n, id, ctl, ctl_hash) && !control_reached(ad, na, id, ctl, ctl_hash));
            checks++;
        }
        eng_campaign_free(cp);
        uint64_t accepted = 0, expired = 0;
        int unfinished = 0;
        for (uint32_t occ = 0; occ < 8; occ++) {
            uint64_t pairs = take(l, n, &at, id, occ), ids = take(ad, na, &ad_at, id, occ);
            eng_execution_info x = ENG_EXECUTION_INFO_INIT;
            CHECK(eng_execution_get(e, ADMIN, id, occ, &x) == ENG_OK);
            if (x.state == ENG_EXEC_NONE) {
                CHECK(pairs == 0 && ids == 0);
                continue;
            }
            unfinished |= x.state == ENG_EXEC_RUNNING;
            accepted += x.accepted;
            expired += x.expired;
            if (x.accepted > pairs + ids) {
                fprintf(stderr, "soak: message %llu occurrence %u: %llu accepted, the provider holds %llu, the "
                        "platform %llu\n", (unsigned long long)id, occ, (unsigned long long)x.accepted,
                        (unsigned long long)pairs, (unsigned long long)ids);
                _exit(1);
            }
            checks++;
            if (final && x.state == ENG_EXEC_FINISHED) {
                if (pairs + ids > x.accepted + x.expired ||
                    x.accepted + x.rejected + x.expired + x.skipped != x.sends) {
                    fprintf(stderr,
                            "soak: message %llu occurrence %u finished: sends %llu = accepted %llu + rejected %llu + "
                            "expired %llu + skipped %llu? provider holds %llu, platform %llu\n",
                            (unsigned long long)id, occ, (unsigned long long)x.sends, (unsigned long long)x.accepted,
                            (unsigned long long)x.rejected, (unsigned long long)x.expired,
                            (unsigned long long)x.skipped, (unsigned long long)pairs, (unsigned long long)ids);
                    _exit(1);
                }
                checks += 2;
            }
            if (final && x.state == ENG_EXEC_RUNNING) {
                fprintf(stderr, "soak: message %llu occurrence %u still running after the final drain\n",
                        (unsigned long long)id, occ);
                _exit(1);
            }
        }
        /* one `sent` row per accepted send, every occurrence's, finished or running (the row is
         * written in the batch that stores the send's outcome and counts it), and one per send
         * expired in doubt whose receipt came (docs/dispatch.md: the receipt proves it left) */
        uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], touched = 0;
        CHECK(eng_touch_status_counts(e, "acme", campaign, id, counts, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT) ==
              ENG_OK);
        for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
            touched += counts[i];
        if (touched < accepted || touched > accepted + expired) {
            fprintf(stderr, "soak: message %llu: %llu sends in the touch log, %llu accepted and %llu expired in the "
                    "ledger\n", (unsigned long long)id, (unsigned long long)touched, (unsigned long long)accepted,
                    (unsigned long long)expired);
            _exit(1);
        }
        checks++;
        if (final && (state == ENG_STATE_APPROVED || state == ENG_STATE_EXECUTING) && unfinished) {
            fprintf(stderr, "soak: message %llu still %d after the final drain\n", (unsigned long long)id, state);
            _exit(1);
        }
    }
    free(l);
    free(ad);
    CHECK(eng_close(e) == ENG_OK);
    return checks;
}

/* ------------------------------------------------------------ the rounds */

static uint64_t busy_kills, busy_mid; /* children that killed themselves in a sending round's pool job; in its work */

/* Runs one child; kills it @p kill_after_ms after it started (@p after_ops < 0), or after
 * it opened the engine and reported @p after_ops operations done (the kill then within
 * twice the last one's duration, so that it lands in the next operations whatever an
 * operation takes on a grown file; 0 operations: @p kill_after_ms after the open).
 * kill_after_ms 0: let it finish. @p busy_nth: the child kills itself @p busy_ns after
 * its busy_nth pool job started, if that comes first. Returns operations done. */
static uint64_t round_once(uint64_t seed, int64_t kill_after_ms, int after_ops, int drain, uint64_t busy_nth,
                           long busy_ns, int *killed)
{
    crash_busy_map();
    int out[2];
    CHECK(pipe(out) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        dup2(out[1], 1);
        child(seed, drain, busy_nth, busy_ns);
        _exit(0);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    uint64_t ops = 0;
    int64_t forked = real_ms(), t0 = after_ops < 0 ? forked : 0, last = 0;
    round_open_ms = -1;
    *killed = 0;
    for (;;) {
        char buf[256];
        ssize_t r = read(out[0], buf, sizeof buf);
        for (ssize_t i = 0; i < r; i++) {
            seals_behind += buf[i] == 's';
            if (buf[i] != 'r' && buf[i] != 'o')
                continue;
            int64_t now = real_ms();
            if (buf[i] == 'r')
                round_open_ms = now - forked;
            else
                ops++;
            if (after_ops >= 0 && !t0 && ops == (uint64_t)after_ops) {
                t0 = now;
                if (ops && 2 * (now - last) < kill_after_ms)
                    kill_after_ms = 1 + 2 * (now - last);
            }
            last = now;
        }
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            while ((r = read(out[0], buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < r; i++)
                    ops += buf[i] == 'o', seals_behind += buf[i] == 's';
            if (!*killed && busy_nth && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
                *killed = 1; /* its own kill, in a pool job of a sending round */
                busy_kills++;
                busy_mid += atomic_load(&crash_busy->mid);
            }
            if (!*killed && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                fprintf(stderr, "soak: the worker failed (status %d)\n", st);
                _exit(1);
            }
            break;
        }
        if (!*killed && kill_after_ms && t0 && real_ms() - t0 >= kill_after_ms) {
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
    snprintf(ad_path, sizeof ad_path, "%s/platform.log", dir);
    snprintf(calls_path, sizeof calls_path, "%s/calls.log", dir);
    unlink(db_path);
    unlink(log_path);
    unlink(ad_path);
    eng__seg_seal_rows = SEAL_ROWS;
    eng__file_spill_min = 512; /* a segment's record is spilled: written behind */
    eng__keypar_min_rows = KEYPAR_ROWS;
    threads_env = getenv("SOAK_THREADS");
    real_start_ms = real_ms();
    uint64_t seed = (uint64_t)time(NULL);
    if (getenv("SOAK_SEED"))
        seed = strtoull(getenv("SOAK_SEED"), NULL, 10);
    rng_state = seed | 1;
    printf("soak: file store in %s, %d s, seed %llu\n", dir, seconds, (unsigned long long)seed);

    /* A new world (epoch) once the file passes SOAK_EPOCH_BYTES (default 1 MiB): past that,
     * each operation (a run of everything due to a grown audience and message list) took
     * longer than most kills' delays, the child's open and the checks hundreds of
     * milliseconds, and rounds ended with no operation done (a 180 s run at a load of 16:
     * 60 operations a round up to 0.4 MB, 0-3 from 1.2 MB on). Each epoch ends as the run
     * does: everything due run to completion and the final checks. */
    long long epoch_bytes = getenv("SOAK_EPOCH_BYTES") ? atoll(getenv("SOAK_EPOCH_BYTES")) : 1 << 20;
    uint64_t rounds = 0, kills = 0, ops = 0, checks = 0, epochs = 0, doubts = 0, finals = 0;
    size_t sent = 0, exported = 0;
    long long bytes = -1;
    for (int last = 0; !last;) {
        unlink(db_path);
        unlink(log_path);
        unlink(ad_path);
        unlink(calls_path);
        calls_reset();
        eng_engine *e = open_engine(NULL, NULL); /* the world, before the first kill */
        set_up(e);
        CHECK(eng_close(e) == ENG_OK);
        epochs++;
        struct stat sb;
        while (!(last = real_ms() - real_start_ms >= (int64_t)seconds * 1000)) {
            int killed;
            int64_t kill_ms = 1 + (int64_t)(rnd() % 250);
            /* three rounds in four counted from the child's open and its first operations */
            int after_ops = rnd() % 4 ? (int)(rnd() % OPS_PER_CHILD) : -1;
            /* two rounds in three the child also kills itself in a pool job of a sending round (of its
             * busy_run-th run of what is due or a later one that runs that many jobs: most run none,
             * those that send run thousands), if it gets there first: at its nth job, n 1 to 2,048
             * spread over the scales */
            uint64_t busy_nth = rnd() % 3 ? 1 + rnd() % (1u << rnd() % 12) : 0;
            long busy_ns = rnd() % 3 ? (long)(rnd() % 200000) + 1000 : 1;
            busy_run = (int)(rnd() % 3);
            uint64_t o = round_once(seed + rounds, kill_ms, after_ops, 0, busy_nth, busy_ns, &killed);
            ops += o;
            kills += killed;
            rounds++;
            int64_t v0 = real_ms();
            checks += verify(0);
            long long size = stat(db_path, &sb) == 0 ? (long long)sb.st_size : -1;
            if (getenv("SOAK_VERBOSE"))
                printf("round %llu: file %lld bytes, open %lld ms, killed %d after %lld ms or at pool job %llu, %llu "
                       "operations, %llu pool jobs, verify %lld ms\n", (unsigned long long)rounds, size,
                       (long long)round_open_ms, killed, (long long)kill_ms, (unsigned long long)busy_nth,
                       (unsigned long long)o, (unsigned long long)atomic_load(&crash_busy->entries),
                       (long long)(real_ms() - v0));
            if (size >= epoch_bytes) {
                last = real_ms() - real_start_ms >= (int64_t)seconds * 1000;
                break;
            }
        }
        int killed;
        ops += round_once(seed + rounds, 0, -1, 1, 0, 0, &killed);
        checks += verify(1);
        if (stat(db_path, &sb) == 0 && (long long)sb.st_size > bytes)
            bytes = (long long)sb.st_size;
        size_t n;
        free(read_log(&n));
        sent += n;
        doubts += calls.in_doubt;
        finals += calls.finals;
        free(read_log_of(1, &n));
        exported += n;
    }
    printf("soak: %llu rounds, %llu kills (%llu in a sending round's pool job, %llu of them in its work), %llu "
           "operations, %llu worlds, %zu sends at the provider, %llu in doubt at a kill (each sent again under its key, "
           "then stored), %llu stored final and never sent again, %zu identifiers exported, %llu segments written "
           "behind, %llu invariants checked, largest file %lld bytes: all held\n",
           (unsigned long long)rounds, (unsigned long long)kills, (unsigned long long)busy_kills,
           (unsigned long long)busy_mid, (unsigned long long)ops, (unsigned long long)epochs, sent,
           (unsigned long long)doubts, (unsigned long long)finals, exported, (unsigned long long)seals_behind,
           (unsigned long long)checks, bytes);
    calls_reset();
    if (argc <= 2) {
        unlink(db_path);
        unlink(log_path);
        unlink(ad_path);
        unlink(calls_path);
        rmdir(dir);
    }
    return 0;
}
