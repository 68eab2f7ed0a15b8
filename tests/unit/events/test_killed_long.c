/* Kills in the middle of long pool jobs: batches of a host's size on the file store.
 *
 * events_killed cuts its small batches into jobs of a few rows (microseconds each),
 * and its kills in a job hold the job at its start. Here the batches are of 24,576
 * rows and more, cut as a host's are (eng__keypar_min_rows at its default): the
 * receipts' key parse and apply ranges, the `sent` rows' key chunks and the seals'
 * column parts are jobs of thousands of rows each, on engine threads 3, segments
 * sealed every 32,768 rows and written behind. An undisturbed run in the parent
 * measures each job's duration (crash_busy_time); a child running the script is
 * then killed inside a long job, at a random point of its measured duration, while
 * the job works (crash_busy_arm_mid: a job done sooner waits at its end for the
 * kill). After each kill the parent reopens the file and checks:
 *   - the store's digest (every key and value) is that of an undisturbed run of
 *     the first P batches, P the batches acknowledged or one more: nothing of the
 *     batch in flight is half applied;
 *   - every touch of those batches is read back exactly once, nothing else, and
 *     each campaign's sends have the furthest statuses those batches give;
 *   - no receipt pending;
 * then it runs the rest of the script on the reopened file (every other round),
 * which must end in the undisturbed run's digest, byte for byte.
 * ENG_KILLED_KILLS=n: n kills (the default run makes 10, a few seconds);
 * ENG_KILLED_LONG_ROWS=n: batches of n rows (jobs of n / 12 rows and more). */
#include "ev_fixture.h"
#include "crash_point.h"
#include "killed_env.h"
#include "store/file_behind.h"
#include "../model/store_digest.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define NB 8       /* batches: the script's; killed_in_wide_batches runs the first two (nb) */
/* customers, the rows of a batch: 24,576, 16,384 under valgrind and TSan (ENG_KILLED_LONG_ROWS=n:
 * n, for longer jobs in an opt-in run) */
static uint32_t ncust;
#define SEAL 32768 /* rows a segment */

/* A batch: `sent` rows of one (campaign, channel) (status 0), or receipts of one or two
 * ranges of earlier sends. */
typedef struct part {
    uint64_t campaign;
    int ch, status;
    uint32_t lo, hi;
} part;
typedef struct lbat {
    part p[2];
    int np;
} lbat;

static lbat plan[NB];
static int nb = NB; /* the batches run */

static void plan_make(void)
{
    const int D = ENG_TOUCH_DELIVERED, O = ENG_TOUCH_OPENED, C = ENG_TOUCH_CLICKED, E = ENG_CH_EMAIL, S = ENG_CH_SMS;
    const lbat p[NB] = {
        {{{1, E, 0, 0, ncust}}, 1},
        {{{2, S, 0, 0, ncust}}, 1},
        {{{1, E, D, 0, ncust}}, 1},
        {{{1, S, 0, 0, ncust}}, 1},
        {{{1, E, O, 0, ncust * 2 / 3}, {2, S, D, 0, ncust / 3}}, 2},
        {{{1, S, D, 0, ncust}}, 1},
        {{{2, E, 0, 0, ncust}}, 1},
        {{{1, E, C, 0, ncust / 2}, {2, E, D, 0, ncust}}, 2},
    };
    memcpy(plan, p, sizeof plan);
}

/* When a touch happened: one time per (campaign, channel, customer, status). */
static eng_time when(uint64_t campaign, int ch, uint32_t customer, int status)
{
    return 1000000 + (eng_time)campaign * 4000000 + (eng_time)ch * 400000 + (eng_time)customer + status;
}

static char fpath[1024], rpath[1024]; /* the file killed; the reference replays' */
static pid_t parent_pid;

static eng_engine *open_path(const char *path, int create)
{
    eng_store *s = NULL;
    int rc = eng_store_file_open(path, ENG_STORE_NOSYNC | (create ? ENG_STORE_CREATE : 0), test_alloc_get(), &s);
    if (rc && getpid() != parent_pid)
        _exit(5);
    assert_int_equal(rc, ENG_OK);
    eng_engine *e = test_engine_open(s);
    e->threads = 3;
    if (create)
        assert_int_equal(eng_org_create(e, "acme", NULL, "admin", NULL), ENG_OK);
    return e;
}

static eng_engine *open_file(int create) { return open_path(fpath, create); }

static int run_batch(eng_engine *e, int k)
{
    const lbat *b = &plan[k];
    if (!b->p[0].status) {
        evfx f = {NULL, e, 0};
        const part *q = &b->p[0];
        return evfx_send_rc(&f, "acme", q->campaign, q->lo, q->hi, q->ch, when(q->campaign, q->ch, q->lo, ENG_TOUCH_SENT), NULL);
    }
    size_t n = 0;
    for (int j = 0; j < b->np; j++)
        n += b->p[j].hi - b->p[j].lo;
    char (*keys)[64] = malloc(n * 64);
    const char **kp = malloc(n * sizeof *kp);
    int *sts = malloc(n * sizeof *sts);
    eng_time *ts = malloc(n * sizeof *ts);
    size_t i = 0;
    for (int j = 0; j < b->np; j++) {
        const part *q = &b->p[j];
        for (uint32_t c = q->lo; c < q->hi; c++, i++) {
            evfx_key(keys[i], 64, q->campaign, 0, c, q->ch);
            kp[i] = keys[i];
            sts[i] = q->status;
            ts[i] = when(q->campaign, q->ch, c, q->status);
        }
    }
    eng_receipts r = evfx_receipts(n, kp, sts, ts, NULL);
    int rc = eng_touch_append(e, &r, NULL);
    free(keys);
    free(kp);
    free(sts);
    free(ts);
    return rc;
}

/* ---- what the file holds ---- */

/* A touch as one number: customer, campaign, channel, status (its time and message
 * are checked as it is read). */
static uint64_t code(uint32_t customer, uint64_t campaign, int ch, int status)
{
    return (uint64_t)customer << 32 | campaign << 16 | (uint64_t)ch << 8 | (uint64_t)status;
}

typedef struct codes {
    uint64_t *v;
    size_t n, cap;
    int bad; /* a touch whose time or message is not its own */
} codes;

static void codes_add(codes *c, uint64_t x)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 65536;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = x;
}

static int touch_cb(const eng_touch_row *row, void *u)
{
    codes *c = u;
    c->bad += row->time != when(row->campaign, row->channel, row->customer, row->status) ||
              row->message != row->campaign * 10;
    codes_add(c, code(row->customer, row->campaign, row->channel, row->status));
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The touches of batches [0, p) (of customer @p only, or every one: ncust), sorted. */
static void want_touches(int p, uint32_t only, codes *w)
{
    w->n = 0;
    for (int k = 0; k < p; k++)
        for (int j = 0; j < plan[k].np; j++) {
            const part *q = &plan[k].p[j];
            int st = q->status ? q->status : ENG_TOUCH_SENT;
            for (uint32_t c = q->lo; c < q->hi; c++)
                if (only == ncust || c == only)
                    codes_add(w, code(c, q->campaign, q->ch, st));
        }
    if (w->n)
        qsort(w->v, w->n, sizeof *w->v, cmp_u64);
}

/* The sends' furthest statuses by campaign, channel and status after batches [0, p)
 * (each customer's furthest: the last receipt's in the script's order, which only
 * goes forward: sent, delivered, opened, clicked). */
static void want_counts(int p, uint64_t campaign, uint64_t *counts, size_t cap)
{
    memset(counts, 0, cap * sizeof *counts);
    uint8_t (*furthest)[ENG_CH_COUNT] = calloc(ncust, sizeof *furthest); /* by customer, channel */
    assert_non_null(furthest);
    for (int k = 0; k < p; k++)
        for (int j = 0; j < plan[k].np; j++) {
            const part *q = &plan[k].p[j];
            if (q->campaign != campaign)
                continue;
            for (uint32_t c = q->lo; c < q->hi; c++) /* status + 1 (0: not sent); sent < delivered < opened < clicked */
                furthest[c][q->ch] = (uint8_t)(q->status + 1);
        }
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        for (uint32_t c = 0; c < ncust; c++)
            if (furthest[c][ch])
                counts[(size_t)ch * ENG_TOUCH_STATUS_COUNT + furthest[c][ch] - 1]++;
    free(furthest);
}

typedef struct scan_acc {
    codes *c;
    uint64_t campaign;
} scan_acc;

static int scan_cb(const eng__touch_cols *cols, void *u)
{
    scan_acc *a = u;
    for (size_t i = 0; i < cols->n; i++) {
        a->c->bad += cols->time[i] != when(a->campaign, cols->channel[i], cols->customer[i], cols->status[i]);
        codes_add(a->c, code(cols->customer[i], a->campaign, cols->channel[i], cols->status[i]));
    }
    return 0;
}

/* 1 when the engine's events are exactly those of batches [0, p): every touch (a scan
 * of each campaign's; the customers at the ends of the script's ranges by the host's
 * reader too) and each campaign's sends by furthest status. */
static int holds_prefix(eng_engine *e, int p)
{
    codes g = {0}, w = {0};
    assert_int_equal(eng__enter(e), ENG_OK);
    for (uint64_t campaign = 1; campaign <= 2; campaign++) {
        eng__touch_filter f;
        eng__touch_filter_init(&f);
        f.org = "acme";
        f.campaign = campaign;
        scan_acc a = {&g, campaign};
        assert_int_equal(eng__touch_scan(e, &f, scan_cb, &a), ENG_OK);
    }
    eng__leave(e);
    if (g.n) /* (prefix 0: no touch read, no array) */
        qsort(g.v, g.n, sizeof *g.v, cmp_u64);
    want_touches(p, ncust, &w);
    int same = !g.bad && g.n == w.n && (!g.n || memcmp(g.v, w.v, g.n * sizeof *g.v) == 0);
    if (!same)
        fprintf(stderr, "killed_long: %zu touches read (%d not their own), %zu of batches [0, %d)\n", g.n, g.bad, w.n,
                p);
    const uint32_t ends[] = {0,         ncust / 3 - 1,         ncust / 3,         ncust / 2 - 1,
                             ncust / 2, ncust * 2 / 3 - 1, ncust * 2 / 3, ncust - 1};
    for (size_t i = 0; same && i < sizeof ends / sizeof *ends; i++) {
        codes one = {0}, want = {0};
        assert_int_equal(eng_touches_of_customer(e, "acme", ends[i], touch_cb, &one), ENG_OK);
        want_touches(p, ends[i], &want);
        if (one.n)
            qsort(one.v, one.n, sizeof *one.v, cmp_u64);
        same = !one.bad && one.n == want.n && (!one.n || memcmp(one.v, want.v, one.n * sizeof *one.v) == 0);
        if (!same)
            fprintf(stderr, "killed_long: customer %u: %zu touches read (%d not their own), %zu wanted\n", ends[i],
                    one.n, one.bad, want.n);
        free(one.v);
        free(want.v);
    }
    for (uint64_t campaign = 1; same && campaign <= 2; campaign++) {
        uint64_t got[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], want[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
        assert_int_equal(eng_touch_status_counts(e, "acme", campaign, 0, got, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT),
                         ENG_OK);
        want_counts(p, campaign, want, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT);
        same = memcmp(got, want, sizeof got) == 0;
        for (size_t i = 0; !same && i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
            if (got[i] != want[i])
                fprintf(stderr, "killed_long: campaign %llu, channel %zu, status %zu: %llu sends, %llu wanted\n",
                        (unsigned long long)campaign, i / ENG_TOUCH_STATUS_COUNT, i % ENG_TOUCH_STATUS_COUNT,
                        (unsigned long long)got[i], (unsigned long long)want[i]);
    }
    free(g.v);
    free(w.v);
    return same;
}

/* A SHA-256 of every key and value but the engine's metadata record (a recovered store was
 * opened once more). */
static void events_digest(eng_engine *e, uint8_t out[ENG__SHA256_LEN])
{
    assert_int_equal(store_digest_data_rc(e, out), ENG_OK);
}

/* The digests of an undisturbed run after each batch (ref[0]: the org only). */
static uint8_t ref[NB + 1][ENG__SHA256_LEN];

/* The digest of a replay that closes the store after batches [0, p), reopens it and runs
 * the rest: a reopened store's contexts are loaded, and the segments sealed after
 * that differ from an unbroken run's (rows of loaded contexts are not flagged
 * `first`), so a recovered store's rest is compared with this. */
static uint8_t ref_rest[NB + 1][ENG__SHA256_LEN];
static int have_rest[NB + 1];

static const uint8_t *replay_reopened(int p)
{
    if (have_rest[p])
        return ref_rest[p];
    unlink(rpath);
    eng_close(open_path(rpath, 1));
    eng_engine *e = open_path(rpath, 0);
    for (int k = 0; k < p; k++)
        assert_int_equal(run_batch(e, k), ENG_OK);
    eng_close(e);
    e = open_path(rpath, 0);
    for (int k = p; k < nb; k++)
        assert_int_equal(run_batch(e, k), ENG_OK);
    events_digest(e, ref_rest[p]);
    eng_close(e);
    have_rest[p] = 1;
    return ref_rest[p];
}

/* ---- the child ---- */

static void child(int fd)
{
    eng_engine *e = open_file(0);
    for (int k = 0; k < nb; k++) {
        if (run_batch(e, k) != ENG_OK)
            _exit(4);
        unsigned char b = (unsigned char)k;
        if (write(fd, &b, 1) != 1)
            _exit(3);
    }
    _exit(0);
}

/* A child from a file holding the org, killed @p ns after its @p nth pool job started,
 * the job working meanwhile. Returns the batches acknowledged; *mid: the kill landed
 * in the job's work; *killed: it was killed (not done first). */
static int crash_mid(uint64_t nth, long ns, int *mid, int *killed)
{
    unlink(fpath);
    eng_close(open_file(1));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = crash_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        crash_busy_arm_mid(nth, ns);
        child(p[1]);
    }
    close(p[1]);
    int st, acked = crash_acks(p[0], pid, &st);
    assert_true(acked >= 0);
    *killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    if (!*killed)
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    *mid = *killed && atomic_load(&crash_busy->mid);
    return acked;
}

/* The file after a kill that acknowledged @p acked batches: the undisturbed run's
 * state after acked or acked + 1 batches, exactly; with @p rest, the rest of the
 * script run on it ends byte for byte as the undisturbed run. Returns the prefix. */
static int check_recovery(int acked, int rest)
{
    eng_engine *e = open_file(0);
    uint8_t d[ENG__SHA256_LEN];
    events_digest(e, d);
    int p = memcmp(d, ref[acked], sizeof d) == 0                        ? acked
            : acked < nb && memcmp(d, ref[acked + 1], sizeof d) == 0 ? acked + 1
                                                                       : -1;
    if (p < 0)
        fprintf(stderr, "killed_long: the store after %d batches acknowledged is no undisturbed run's prefix\n", acked);
    assert_true(p >= 0);
    assert_true(holds_prefix(e, p));
    uint64_t pending = 1;
    assert_int_equal(eng_touch_pending(e, &pending), ENG_OK);
    assert_int_equal(pending, 0);
    if (rest) {
        for (int k = p; k < nb; k++)
            assert_int_equal(run_batch(e, k), ENG_OK);
        events_digest(e, d);
        assert_true(holds_prefix(e, nb));
        eng_close(e);
        assert_memory_equal(d, replay_reopened(p), sizeof d);
        return p;
    }
    eng_close(e);
    return p;
}

/* Both tests' files in a new directory (v->dir), the seals' size and spill set
 * (killed_env.h: put back by killed_env_end). */
static void set_up(killed_env *v)
{
    killed_env_begin(v, SEAL);
    parent_pid = getpid();
    snprintf(fpath, sizeof fpath, "%s/long.db", v->dir);
    snprintf(rpath, sizeof rpath, "%s/replay.db", v->dir);
    memset(have_rest, 0, sizeof have_rest);
    nb = NB;
    ncust = test_slow_runtime() ? 16384 : 24576; /* valgrind, TSan: the least cut into jobs at the default */
    if (getenv("ENG_KILLED_LONG_ROWS") && atoi(getenv("ENG_KILLED_LONG_ROWS")) >= 64)
        ncust = (uint32_t)atoi(getenv("ENG_KILLED_LONG_ROWS"));
    plan_make();
}

/* The script's first nb batches run undisturbed (their digests, each job's duration),
 * then @p kills kills inside the longest jobs (the longest 1 / @p top of them), along
 * the run, at 5 % to @p max_pct % of the job's measured duration (or of 1 ms); each
 * recovery checked (check_recovery, the rest run every other round). @p what names the
 * run in its line. (No floor in microseconds: how long a job takes is the machine's load.) */
static void kill_in_long_jobs(const char *what, int kills, unsigned top, unsigned max_pct)
{
    unlink(fpath);
    eng_close(open_file(1));
    crash_arm(0, 0); /* syncs skipped, as in the children */
    crash_busy_time();
    eng_engine *e = open_file(0);
    events_digest(e, ref[0]);
    size_t w0 = eng__behind_writes;
    for (int k = 0; k < nb; k++) {
        assert_int_equal(run_batch(e, k), ENG_OK);
        events_digest(e, ref[k + 1]);
        if (getenv("KILLED_VERBOSE"))
            printf("batch %d: jobs to %llu, %zu seals behind\n", k, (unsigned long long)atomic_load(&crash_busy->entries),
                   eng__behind_writes - w0);
    }
    size_t seals = eng__behind_writes - w0;
    assert_true(holds_prefix(e, nb));
    eng_close(e);
    uint64_t jobs = atomic_load(&crash_busy->entries);
    crash_busy_disarm();
    assert_true(jobs > 0 && jobs <= CRASH_JOBS);
    if (getenv("KILLED_VERBOSE"))
        printf("seals %zu\n", seals);
    assert_true(seals >= (nb == NB ? 4u : 1u)); /* (a wide `sent` batch seals in its own batch) */

    /* the long jobs: the longest 1 / top (thousands of rows each) */
    uint32_t *by = malloc(jobs * sizeof *by);
    memcpy(by, crash_busy->ns, jobs * sizeof *by);
    qsort(by, jobs, sizeof *by, cmp_u32);
    uint32_t least = by[jobs - jobs / top], longest = by[jobs - 1];
    free(by);
    uint64_t *longs = malloc(jobs * sizeof *longs), sum = 0;
    size_t nlong = 0;
    for (uint64_t k = 0; k < jobs; k++)
        if (crash_busy->ns[k] >= least)
            longs[nlong++] = k + 1, sum += crash_busy->ns[k];
    if (getenv("KILLED_VERBOSE"))
        for (uint64_t k = 0; k < jobs; k++)
            printf("job %llu: %u us\n", (unsigned long long)k + 1, crash_busy->ns[k] / 1000);
    assert_true(nlong >= 4);

    uint64_t r = 23;
    int mids = 0, died = 0, prefixes[NB + 1] = {0};
    for (int i = 0; i < kills; i++) {
        /* the long jobs along the run, one of each kills-th */
        size_t per = nlong / (size_t)kills ? nlong / (size_t)kills : 1;
        uint64_t x = test_splitmix(&r), nth = longs[((size_t)i * nlong / (size_t)kills + x % per) % nlong];
        /* a point of its work: 5 % to max_pct % of the undisturbed run's duration (of 1 ms at
         * most: a job measured longer on a loaded machine may run faster when killed) */
        uint64_t dur = crash_busy->ns[nth - 1] < 1000000 ? crash_busy->ns[nth - 1] : 1000000;
        long ns = (long)(dur * (5 + (x >> 16) % (max_pct - 4)) / 100);
        int mid, killed, acked = crash_mid(nth, ns, &mid, &killed);
        mids += mid;
        died += killed;
        if (getenv("KILLED_VERBOSE"))
            printf("job %llu (%u us) + %ld us: %s, %d acknowledged\n", (unsigned long long)nth,
                   crash_busy->ns[nth - 1] / 1000, ns / 1000, !killed ? "not reached" : mid ? "in its work" : "at its end",
                   acked);
        prefixes[check_recovery(acked, i % 2 == 0)]++;
    }
    int distinct = 0;
    for (int k = 0; k <= nb; k++)
        distinct += prefixes[k] > 0;
    printf("%s: %d kills (%d batches of %u rows, %llu jobs, the longest %zu of %u us and more, mean %llu us, longest "
           "%u us; %zu seals behind): %d killed, %d in the job's work; %d distinct prefixes recovered\n",
           what, kills, nb, ncust, (unsigned long long)jobs, nlong, least / 1000,
           (unsigned long long)(sum / nlong / 1000), longest / 1000, seals, died, mids, distinct);
    /* the jobs chosen came (their numbers are the run's), and most kills landed while
     * the job worked (a job done sooner than measured waits at its end) */
    assert_true(died >= kills - kills / 4);
    if (!test_slow_runtime()) /* TSan holds a signal to its next intercepted call: the job's end */
        assert_true(mids >= died / 2);
    assert_true(distinct >= (kills >= 8 ? 3 : 1));
    free(longs);
}

static void killed_in_long_jobs(void **st)
{
    (void)st;
    killed_env v;
    set_up(&v);
    int kills = test_slow_runtime() ? 1 : 10;
    if (getenv("ENG_KILLED_KILLS"))
        kills = atoi(getenv("ENG_KILLED_KILLS"));
    kill_in_long_jobs("killed in long jobs", kills, 4, 90);
    killed_env_end(&v);
}

/* The jobs of a host's L-wave batch (10^6 rows: receipts' key parse and apply ranges of
 * ~62,000 rows, 10 to 60 ms each here) in seconds: a batch's receipts are cut into 16
 * ranges (engine threads 3 and the caller, ENG__RANGES_PER each), so two batches of
 * 262,144 rows — `sent` rows of one (campaign, channel) pair, then their delivered
 * receipts — give ranges of 16,384 rows (0.3 to a few ms) and sixteen seals; four kills
 * in the longest eighth of the jobs. ENG_KILLED_WIDE_ROWS=n: n rows (1000000: a host's
 * L wave). */
static void killed_in_wide_batches(void **st)
{
    (void)st;
    if (test_slow_runtime())
        skip(); /* valgrind, TSan: killed_in_long_jobs' one kill is their share */
    killed_env v;
    set_up(&v);
    int kills = 4;
    ncust = 262144;
#ifdef __SANITIZE_ADDRESS__ /* every access checked: half the rows, two kills (ranges of 8,192 rows) */
    ncust = 131072, kills = 2;
#endif
    if (getenv("ENG_KILLED_KILLS"))
        kills = atoi(getenv("ENG_KILLED_KILLS"));
    if (getenv("ENG_KILLED_WIDE_ROWS") && atoi(getenv("ENG_KILLED_WIDE_ROWS")) >= 65536)
        ncust = (uint32_t)atoi(getenv("ENG_KILLED_WIDE_ROWS"));
    plan_make();
    plan[1] = plan[2]; /* the delivered receipts of the first batch's sends */
    nb = 2;
    kill_in_long_jobs("killed in wide batches", kills, 8, 50);
    nb = NB;
    killed_env_end(&v);
}

/* Storage errors in the long batches: every write of the script failing in turn (a
 * sample of them by default, every one with ENG_KILLED_KILLS), with EIO after it was
 * written whole or in part, in one process with engine threads 3. A seal's record
 * written behind by a pool worker reports its failure at the store's next call in that
 * batch. The batch must fail with ENG_EIO (or ENG_ESTORAGE) and a message, the store as it was
 * before it (the undisturbed run's digest after the batches before), and a retry must
 * succeed; the script then ends with every touch once, as a replay that reopened the
 * store at that batch ends, byte for byte (a failed batch drops the events' cache,
 * which is read again as at an open), and so does the store reopened. */
static size_t werr_behind;        /* eng__behind_writes when the failing write came */
static size_t werr_at[CRASH_JOBS]; /* the undisturbed run: eng__behind_writes at each write */
static int werr_hook(int op, size_t *n)
{
    int was = crash_dead, rc = crash_hook(op, n);
    if (crash_dead && !was)
        werr_behind = eng__behind_writes;
    if (op == ENG__IO_WRITE && !crash_nth && crash_writes <= CRASH_JOBS)
        werr_at[crash_writes - 1] = eng__behind_writes;
    return rc;
}

static void write_errors_in_long_batches(void **st)
{
    (void)st;
    killed_env v;
    set_up(&v);

    unlink(fpath);
    eng_close(open_file(1));
    eng_engine *e = open_file(0);
    crash_arm(0, 0); /* the script's writes, as below (a failed open is the engine's own test) */
    eng__file_io_fault = werr_hook;
    events_digest(e, ref[0]);
    for (int k = 0; k < NB; k++) {
        assert_int_equal(run_batch(e, k), ENG_OK);
        events_digest(e, ref[k + 1]);
    }
    size_t behind_end = eng__behind_writes;
    eng_close(e);
    uint64_t writes = crash_writes;
    crash_disarm();
    assert_true(writes <= CRASH_JOBS);

    /* the writes behind (each taken by a worker) and every 4th other one; every write with
     * ENG_KILLED_KILLS; the first write behind only under valgrind and TSan */
    uint64_t *pick = malloc(writes * sizeof *pick);
    int rounds = 0, behinds = 0, others = 0;
    for (uint64_t w = 0; w < writes; w++) {
        int was_behind = (w + 1 < writes ? werr_at[w + 1] : behind_end) > werr_at[w];
        behinds += was_behind;
        int take = getenv("ENG_KILLED_KILLS") ? 1
                   : test_slow_runtime()     ? was_behind && behinds == 1
                                             : was_behind || others++ % 4 == 0;
        if (take)
            pick[rounds++] = w + 1;
    }
    assert_true(behinds >= 4);
    int failed = 0, behind = 0, prefixes[NB + 1] = {0};
    for (int i = 0; i < rounds; i++) {
        uint64_t nth = pick[i];
        unlink(fpath);
        eng_close(open_file(1));
        e = open_file(0);
        crash_arm(nth, 1);
        eng__file_io_fault = werr_hook;
        int at = -1;
        for (int k = 0; k < NB; k++) {
            int was = crash_dead;
            eng_error_clear();
            int rc = run_batch(e, k);
            if (rc == ENG_OK)
                continue;
            assert_true(crash_dead && !was); /* only the batch of the failed write */
            assert_true(rc == ENG_EIO || rc == ENG_ESTORAGE); /* the file's I/O call failed */
            assert_int_equal(eng_error_last()->code, rc);
            assert_true(eng_error_last()->message[0] != 0);
            uint8_t d[ENG__SHA256_LEN];
            events_digest(e, d);
            assert_memory_equal(d, ref[k], sizeof d); /* as it was before the batch */
            behind += eng__behind_writes > werr_behind; /* the failed write was a worker's */
            failed++;
            at = k;
            assert_int_equal(run_batch(e, k), ENG_OK);
        }
        crash_disarm();
        assert_true(holds_prefix(e, NB));
        uint8_t d[ENG__SHA256_LEN], d2[ENG__SHA256_LEN];
        events_digest(e, d);
        assert_memory_equal(d, at < 0 ? ref[NB] : replay_reopened(at), sizeof d);
        eng_close(e);
        e = open_file(0);
        events_digest(e, d2);
        assert_memory_equal(d, d2, sizeof d);
        assert_true(holds_prefix(e, NB));
        eng_close(e);
        prefixes[at < 0 ? NB : at]++;
    }
    printf("write errors in long batches: %d of %llu writes failed in turn (%d written behind), %d batches failed and "
           "retried (%d by a write behind on a worker)\n", rounds, (unsigned long long)writes, behinds, failed, behind);
    assert_true(failed >= rounds / 2);
    assert_true(behind >= (test_slow_runtime() ? 1 : behinds / 2));
    free(pick);
    killed_env_end(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_in_long_jobs),
        cmocka_unit_test(killed_in_wide_batches),
        cmocka_unit_test(write_errors_in_long_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
