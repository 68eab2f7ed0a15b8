/* A whole campaign run on the file store, its process crashed at every write in turn:
 * an hourly message of three occurrences with an email and a Facebook creative (a
 * plain message: the Facebook sends leave through the ad export), segments sealed
 * every 64 rows and written behind (engine threads 1).
 *
 * A child process runs the schedule to its end against a provider and an ad
 * platform that keep their own logs (a send's key per call; a part's identifiers
 * between "+" and "=<TAB>key" lines, so a part cut by the crash is one the platform
 * never took) and de-duplicate by key, as real ones do. It dies at its nth write
 * (crash_point.h: the write cut to a prefix, nothing after it reaches the file). The
 * parent reopens the file, runs the schedule to its end with the same provider and
 * platform, and checks exactly once: every occurrence finished and every send
 * accepted; the message executed; one key per (occurrence, customer, channel) at the
 * provider, each an accepted email send of the ledger and each accepted email send
 * there; per occurrence one part per Facebook identifier and the identifiers exactly
 * the ledger's accepted Facebook sends'; one `sent` touch per accepted send; the
 * provider's receipts of every key it holds all join (none pending); the audit chain
 * verifies.
 * killed_while_threads_run: the same with engine threads 3 and batches cut into pool
 * jobs from 4 rows on, killed at every other write, while its jobs run (as one
 * starts, or 1 to 200 us after: crash_point.h's crash_busy_arm) and at random. */
#include "dispatch_fixture.h"
#include "crash_point.h"
#include "events/events_impl.h"
#include "events/keypar.h"
#include "store/file_behind.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define N 60
#define OCC 3

static char dir[1024], db[1100], prov_log[1100], ad_log[1100];

/* ---- the provider and the platform, logging to files ---- */

typedef struct host {
    int fd, ad_fd;
    char keys[4096][ENG_SEND_KEY_MAX + 1]; /* keys held: sends' and parts' */
    size_t nkeys;
    char rkeys[256][ENG_SEND_KEY_MAX + 1]; /* keys answered "retry", once per line "R<TAB>key" */
    size_t nr;
} host;

/* Set by killed_with_retries: the second occurrence's email to every 9th customer is answered
 * "retry" six times (backoff 1 to 32 minutes), so it finishes after the third, the last. */
static int retrying;
/* The engine's threads: 1, or 3 with batches cut into jobs from 4 rows on (killed_while_threads_run). */
static unsigned threads = 1;

static int held(host *h, const char *key, int add)
{
    for (size_t i = 0; i < h->nkeys; i++)
        if (strcmp(h->keys[i], key) == 0)
            return 1;
    if (add) {
        assert_true(h->nkeys < 4096);
        snprintf(h->keys[h->nkeys++], sizeof h->keys[0], "%s", key);
    }
    return 0;
}

static void put_line(int fd, const char *a, const char *b)
{
    char line[400];
    int len = snprintf(line, sizeof line, "%s%s%s\n", a, b ? "\t" : "", b ? b : "");
    if (write(fd, line, (size_t)len) != len)
        _exit(5);
}

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    host *h = user;
    for (size_t i = 0; i < n; i++) {
        size_t tries = 0;
        for (size_t r = 0; r < h->nr; r++)
            tries += strcmp(h->rkeys[r], env[i].idempotency_key) == 0;
        if (retrying && env[i].occurrence == OCC - 2 && env[i].customer % 9 == 4 && tries < 6) {
            assert_true(h->nr < 256);
            snprintf(h->rkeys[h->nr++], sizeof h->rkeys[0], "%s", env[i].idempotency_key);
            put_line(h->fd, "R", env[i].idempotency_key); /* before it answers: a crash keeps the count */
            status[i] = ENG_SEND_RETRY;
            continue;
        }
        if (!held(h, env[i].idempotency_key, 1))
            put_line(h->fd, env[i].idempotency_key, NULL);
        status[i] = ENG_SEND_ACCEPTED;
    }
    return ENG_OK;
}

static int send_one(const eng_envelope *env, int *status, void *user) { return send_batch(env, 1, status, user); }

static int export_part(const eng_ad_manifest *m, const char *const *ids, int *status, void *user)
{
    host *h = user;
    if (!held(h, m->idempotency_key, 1)) {
        put_line(h->ad_fd, "+", NULL);
        for (uint64_t i = 0; i < m->count; i++)
            put_line(h->ad_fd, m->idempotency_key, ids[i]);
        put_line(h->ad_fd, "=", m->idempotency_key);
    }
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

/* Lines of a log: a send's key, or (the platform's) "part-key<TAB>identifier" of the parts
 * taken whole. */
typedef struct lines {
    char (*v)[ENG_SEND_KEY_MAX + 80];
    size_t n;
} lines;

static lines read_lines(const char *path, int ad)
{
    lines l = {calloc(8192, sizeof *l.v), 0};
    FILE *f = fopen(path, "r");
    char buf[512];
    size_t part = 0;
    while (f && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = 0;
        if (!ad && buf[0] == 'R' && buf[1] == '\t') {
            continue; /* a retry answered (host_open counts them) */
        } else if (ad && strcmp(buf, "+") == 0) {
            l.n = part; /* a part the crash cut is dropped */
        } else if (ad && buf[0] == '=' && buf[1] == '\t') {
            part = l.n;
        } else {
            assert_true(l.n < 8192);
            snprintf(l.v[l.n++], sizeof l.v[0], "%.*s", (int)sizeof l.v[0] - 1, buf);
        }
    }
    if (ad)
        l.n = part;
    if (f)
        fclose(f);
    return l;
}

static void host_open(host *h)
{
    h->nkeys = h->nr = 0;
    FILE *f = fopen(prov_log, "r");
    char buf[512];
    while (f && fgets(buf, sizeof buf, f))
        if (buf[0] == 'R' && buf[1] == '\t' && strchr(buf, '\n')) {
            assert_true(h->nr < 256);
            buf[strcspn(buf, "\n")] = 0;
            snprintf(h->rkeys[h->nr++], sizeof h->rkeys[0], "%.*s", (int)sizeof h->rkeys[0] - 1, buf + 2);
        }
    if (f)
        fclose(f);
    lines a = read_lines(prov_log, 0), b = read_lines(ad_log, 1);
    for (size_t i = 0; i < a.n; i++)
        held(h, a.v[i], 1);
    for (size_t i = 0; i < b.n; i++) {
        *strchr(b.v[i], '\t') = 0;
        held(h, b.v[i], 1);
    }
    free(a.v);
    free(b.v);
    h->fd = open(prov_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    h->ad_fd = open(ad_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(h->fd >= 0 && h->ad_fd >= 0);
}

static void host_close(host *h)
{
    close(h->fd);
    close(h->ad_fd);
}

/* ---- the engine and the run ---- */

static eng_engine *engine(host *h)
{
    static eng_transport_methods tm;
    tm = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, send_one, NULL, send_batch, 1, 8};
    eng_store *s = NULL;
    assert_int_equal(eng_store_file_open(db, ENG_STORE_NOSYNC, test_alloc_get(), &s), ENG_OK);
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = s;
    cfg.transport = &tm;
    cfg.transport_user = h;
    cfg.clock_fn = dx_clock;
    cfg.threads = threads; /* seals written behind */
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    eng_dispatch_hooks hk = ENG_DISPATCH_HOOKS_INIT;
    hk.ad_export = export_part;
    assert_int_equal(eng_dispatch_hooks_set(e, &hk, h), ENG_OK);
    return e;
}

/* Runs the schedule from its start (after a crash too: the clock set back) until every
 * occurrence is finished and the message executed: ENG_OK, or the first failure. */
static int run_schedule(dx *f, eng_engine *e)
{
    eng_time now = f->t0;
    for (int round = 0; round < 32; round++) {
        test_clock_now = now;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(e, "root", now, NULL, &rep);
        if (rc)
            return rc;
        int done = 0;
        for (uint32_t o = 0; o < OCC; o++) {
            eng_execution_info x = ENG_EXECUTION_INFO_INIT;
            if ((rc = eng_execution_get(e, "root", f->message, o, &x)))
                return rc;
            done += x.state == ENG_EXEC_FINISHED;
        }
        eng_message *m = NULL;
        eng_message_status st = ENG_MESSAGE_STATUS_INIT;
        if ((rc = eng_message_get(e, "root", f->message, &m)) || (rc = eng_message_status_get(m, &st))) {
            eng_message_free(m);
            return rc;
        }
        eng_message_free(m);
        if (done == OCC && st.state == ENG_STATE_EXECUTED)
            return ENG_OK;
        eng_time next = rep.next_due > now ? rep.next_due : now + 20 * 60000;
        for (uint32_t o = 0; o < OCC; o++) /* each occurrence's due time too, as a host's timer */
            if (f->t0 + (eng_time)o * ENG_HOUR > now && f->t0 + (eng_time)o * ENG_HOUR < next)
                next = f->t0 + (eng_time)o * ENG_HOUR;
        now = next;
    }
    return ENG_ESTATE; /* not finished: a fault of its own */
}

static const eng_creative creatives[] = {
    {ENG_CH_EMAIL, "Offer", "<p>Hello {{first_name}}</p>{{unsubscribe}}"},
    {ENG_CH_FACEBOOK, "Diwali offer", "20% off this week"},
};

/* The world (dx_world on the file) with Facebook contacts and the message approved. */
static void world(dx *f)
{
    dx_file_path = db;
    dx_world(f, N, 8, 1, 1);
    char csv[N * 64 + 64], *p = csv;
    p += sprintf(p, "id,contact.facebook,consent.facebook\n");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "c%d,+1-555-%07d,%s\n", i, i, i % 6 == 5 ? "no" : "yes");
    assert_int_equal(eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f->e, "root", &s), ENG_OK);
    s.channel_cost[ENG_CH_FACEBOOK] = 2;
    assert_int_equal(eng_org_settings_set(f->e, "root", &s, NULL), ENG_OK);
    static eng_schedule sched;
    eng_message_spec m = dx_message();
    sched = *m.schedule;
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.every = 1;
    sched.unit = ENG_EVERY_HOURS;
    sched.until = sched.at + (OCC - 1) * ENG_HOUR;
    m.schedule = &sched;
    m.creatives = creatives;
    m.n_creatives = 2;
    dx_approve(f, &m);
    dx_file_path = NULL;
}

/* What the file, the provider and the platform hold after the run ended (see the top). */
static void check(dx *f, eng_engine *e)
{
    lines pl = read_lines(prov_log, 0), al = read_lines(ad_log, 1);
    size_t sends = 0, emails = 0, ids = 0;
    for (uint32_t o = 0; o < OCC; o++) {
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        assert_int_equal(eng_execution_get(e, "root", f->message, o, &x), ENG_OK);
        assert_int_equal(x.state, ENG_EXEC_FINISHED);
        assert_int_equal(x.accepted, x.sends);
        sends += x.sends;
        char occ[16];
        snprintf(occ, sizeof occ, "/o%u/", o);
        for (uint32_t c = 0; c < N; c++) {
            eng_send_info si = ENG_SEND_INFO_INIT;
            if (eng_send_get(e, "root", f->message, o, c, ENG_CH_EMAIL, &si) == ENG_OK) {
                assert_int_equal(si.state, ENG_LEDGER_ACCEPTED);
                size_t at = 0;
                for (size_t i = 0; i < pl.n; i++)
                    at += strcmp(pl.v[i], si.key) == 0;
                assert_int_equal(at, 1); /* the key at the provider once (it keeps each key once) */
                emails++;
            }
            if (eng_send_get(e, "root", f->message, o, c, ENG_CH_FACEBOOK, &si) == ENG_OK) {
                assert_int_equal(si.state, ENG_LEDGER_ACCEPTED);
                char phone[32], hash[65];
                snprintf(phone, sizeof phone, "+1-555-%07zu", dx_ext(f, c));
                assert_int_equal(eng_ad_identifier_hash(ENG_CH_FACEBOOK, phone, hash, sizeof hash), ENG_OK);
                size_t at = 0;
                for (size_t i = 0; i < al.n; i++)
                    at += strstr(al.v[i], occ) && strcmp(strchr(al.v[i], '\t') + 1, hash) == 0;
                assert_int_equal(at, 1); /* in one part of its occurrence, once */
                ids++;
            }
        }
    }
    assert_int_equal(emails, pl.n); /* nothing else at the provider (one key per send) */
    assert_int_equal(ids, al.n);    /* nor at the platform */
    assert_int_equal(emails + ids, sends);
    eng_message *m = NULL;
    assert_int_equal(eng_message_get(e, "root", f->message, &m), ENG_OK);
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(m, &st), ENG_OK);
    assert_int_equal(st.state, ENG_STATE_EXECUTED);
    eng_message_free(m);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], touched = 0;
    assert_int_equal(eng_touch_status_counts(e, "acme", f->campaign, f->message, counts, ENG_CH_COUNT *
                                             ENG_TOUCH_STATUS_COUNT), ENG_OK);
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        touched += counts[i];
    assert_int_equal(touched, sends);
    /* The provider's receipt of every key it holds joins its send, those in doubt at the crash
     * too: none waits (docs/dispatch.md), each email send delivered. */
    const char **keys = calloc(pl.n ? pl.n : 1, sizeof *keys);
    int *rs = calloc(pl.n ? pl.n : 1, sizeof *rs);
    eng_time *rt = calloc(pl.n ? pl.n : 1, sizeof *rt);
    assert_true(keys && rs && rt);
    for (size_t i = 0; i < pl.n; i++)
        keys[i] = pl.v[i], rs[i] = ENG_TOUCH_DELIVERED, rt[i] = f->t0 + ENG_DAY;
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = pl.n, r.keys = keys, r.statuses = rs, r.times = rt;
    eng_event_report er = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(e, &r, &er), ENG_OK);
    assert_int_equal(er.accepted, pl.n);
    uint64_t waiting = 1, delivered = 0;
    assert_int_equal(eng_touch_pending(e, &waiting), ENG_OK);
    assert_int_equal(waiting, 0);
    assert_int_equal(eng_touch_status_counts(e, "acme", f->campaign, f->message, counts, ENG_CH_COUNT *
                                             ENG_TOUCH_STATUS_COUNT), ENG_OK);
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        delivered += counts[ch * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED];
    assert_int_equal(delivered, emails);
    free(keys), free(rs), free(rt);
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(e, "root", &bad), ENG_OK);
    assert_int_equal(bad, 0);
    free(pl.v);
    free(al.v);
}

/* The world's file back as it was before the run, the logs gone, and a child running the
 * schedule on it, killed at its write @p nth (0: none), @p busy_ns after its pool job
 * @p busy_nth started (crash_point.h; 0: none) or by this process after @p kill_us (0:
 * none); then the file reopened, the schedule run to its end and checked. Returns the
 * jobs running when the child died (-1: it was not killed). */
static int crash_and_resume(dx *f, host *h, const unsigned char *img, long len, uint64_t writes, uint64_t nth,
                            uint64_t busy_nth, long busy_ns, long kill_us)
{
    uint64_t campaign = f->campaign, message = f->message;
    eng_time t0 = f->t0;
    test_write_file(db, img, len);
    unlink(prov_log);
    unlink(ad_log);
    pid_t pid = crash_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        host_open(h);
        crash_arm(nth, 0);
        crash_busy_arm(busy_nth, busy_ns);
        f->e = engine(h);
        int rc = run_schedule(f, f->e);
        _exit(crash_dead || !nth ? 0 : rc == ENG_OK ? 3 : 4); /* 3: the crash point was not reached */
    }
    crash_kill_after(pid, kill_us);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    int killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && (busy_nth || kill_us);
    if (!killed && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        fail_msg("crash at write %llu of %llu (job %llu, kill at %ld us): the child ended with status %d",
                 (unsigned long long)nth, (unsigned long long)writes, (unsigned long long)busy_nth, kill_us, st);
    int inside = killed ? atomic_load(&crash_busy->inside) : -1;
    host_open(h);
    f->e = engine(h); /* recovery: the file as the crash left it */
    assert_int_equal(f->campaign, campaign);
    assert_int_equal(f->message, message);
    assert_int_equal(f->t0, t0);
    int rc = run_schedule(f, f->e);
    if (rc)
        fail_msg("crash at write %llu (job %llu, kill at %ld us): the resumed run failed: %s", (unsigned long long)nth,
                 (unsigned long long)busy_nth, kill_us, eng_error_last()->message);
    check(f, f->e);
    assert_int_equal(eng_close(f->e), ENG_OK);
    host_close(h);
    return inside;
}

static void killed_run(int retries, unsigned nthreads)
{
    retrying = retries;
    threads = nthreads;
    uint32_t seal = eng__seg_seal_rows;
    size_t spill = eng__file_spill_min, minrows = eng__keypar_min_rows;
    eng__seg_seal_rows = 64;
    eng__file_spill_min = 48; /* a segment's record is spilled: written behind (one naming its chunks is small) */
    if (threads > 1)
        eng__keypar_min_rows = 4; /* the sends' key chunks, receipts' parts, seals' halves: pool jobs */
    char *tmp = test_tmpdir();
    snprintf(dir, sizeof dir, "%s", tmp);
    snprintf(db, sizeof db, "%s/run.db", dir);
    snprintf(prov_log, sizeof prov_log, "%s/provider.log", dir);
    snprintf(ad_log, sizeof ad_log, "%s/platform.log", dir);
    dx f;
    world(&f);
    assert_int_equal(eng_close(f.e), ENG_OK);
    long len;
    unsigned char *img = test_read_file(db, &len); /* the world, before every run */

    /* the undisturbed run: its writes, its pool jobs, its time */
    host *h = calloc(1, sizeof *h);
    host_open(h);
    crash_arm(0, 0);
    crash_busy_arm(0, 0);
    f.e = engine(h);
    size_t w0 = eng__behind_writes;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run_schedule(&f, f.e), ENG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t writes = crash_writes, jobs = atomic_load(&crash_busy->entries);
    size_t seals = eng__behind_writes - w0;
    crash_busy_disarm();
    crash_disarm();
    long run_us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    assert_true(seals >= 2); /* segments sealed during the run, written behind */
    check(&f, f.e);
    assert_int_equal(eng_close(f.e), ENG_OK);
    host_close(h);

    /* at every write (threads 1), every other (3); about ten writes spread over the run under valgrind and
     * TSan, whatever its length (every 16th was 25 crashes and resumed runs with the retries) */
    uint64_t stride = test_slow_runtime() ? 1 + writes / 10 : threads > 1 ? 2 + writes / 100 : 1 + writes / 200,
             tried = 0;
    for (uint64_t nth = 1 + writes % stride / 2; nth <= writes; nth += stride, tried++)
        crash_and_resume(&f, h, img, len, writes, nth, 0, 0, 0);
    int points = 0, kills = 0, died = 0, busy = 0, reached = 0;
    if (threads > 1) { /* while jobs run: as one starts or 1 to 200 us after; and at random */
        assert_true(jobs >= 32);
        points = test_slow_runtime() ? 2 : 24, kills = test_slow_runtime() ? 1 : 8;
        if (getenv("ENG_KILLED_KILLS"))
            points = kills = atoi(getenv("ENG_KILLED_KILLS"));
        uint64_t r = 5;
        for (int i = 0; i < points + kills; i++) {
            uint64_t x = test_splitmix(&r);
            int inside = i < points ? crash_and_resume(&f, h, img, len, writes, 0, 1 + (uint64_t)i * jobs / (uint64_t)points,
                                                       x % 3 ? (long)(x >> 8) % 200000 + 1000 : 0, 0)
                                    : crash_and_resume(&f, h, img, len, writes, 0, 0, 0, 1 + (long)(x % (uint64_t)(run_us * 2 + 1000)));
            died += inside >= 0;
            busy += inside > 0;
            reached += i < points && inside > 0;
        }
        assert_true(reached >= points - points / 4); /* the jobs chosen came (their number is the run's) */
    }
    printf("campaign run (threads %u) killed at %llu of its %llu writes (3 hourly occurrences, email and Facebook, %zu "
           "seals behind%s)", threads, (unsigned long long)tried, (unsigned long long)writes, seals,
           retries ? ", the second occurrence's retries outlasting the last" : "");
    if (threads > 1)
        printf(", at %d points along its %llu pool jobs and %d times at random (the run %ld us): %d killed, %d with jobs "
               "running",
               points, (unsigned long long)jobs, kills, run_us, died, busy);
    printf(": each send once at the provider or the platform\n");
    assert_true(tried >= (test_slow_runtime() ? 3u : threads > 1 ? 20u : 40u));
    free(h);
    free(img);
    dx_provider_free(&f.prov);
    test_rmtree(tmp);
    free(tmp);
    eng__seg_seal_rows = seal;
    eng__file_spill_min = spill;
    eng__keypar_min_rows = minrows;
    threads = 1;
    test_alloc_assert_clean();
}

static void killed_at_every_write(void **state)
{
    (void)state;
    killed_run(0, 1);
}

/* The same with retries: an occurrence finishing after a later one, crashed at every write
 * (the message executed only once both are final: work.c others_final). */
static void killed_with_retries(void **state)
{
    (void)state;
    killed_run(1, 1);
}

/* Engine threads 3, batches cut into pool jobs: killed at every other write, while jobs
 * run and at random moments; with ENG_KILLED_KILLS (opt-in) the run with retries too. */
static void killed_while_threads_run(void **state)
{
    (void)state;
    killed_run(0, 3);
    if (getenv("ENG_KILLED_KILLS"))
        killed_run(1, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_at_every_write),
        cmocka_unit_test(killed_with_retries),
        cmocka_unit_test(killed_while_threads_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
