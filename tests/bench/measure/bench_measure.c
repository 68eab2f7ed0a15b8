/* Benchmark W7 of BENCHMARKS.md: attribute the transactions against the touch
 * log with a 2-predicate goal (amount > 3000, store in 20 stores), 30 days
 * from delivered, last touch; then the campaign report. S always, M when
 * ENG_BENCH_SIZE is M or L, L when it is L (10^7 customers, ~10^8 touches,
 * 10^7 transactions).
 *
 * The touch log is generated as a send would write it: message by message,
 * status wave by status wave, customers in a shuffled order (so the pass over
 * it touches the per-customer state at random, as a real log does); 10 % of
 * the customers are the control group and get no touches. The same data goes
 * to CSV for DuckDB (measure_duckdb.mjs, single thread, when
 * tests/bench/node_modules/@duckdb/node-api exists) and SQLite (the sqlite3
 * CLI; at L only with ENG_BENCH_SQLITE_L=1: its import and index take minutes),
 * which run w7.sql; their answers must equal ours. Each engine runs
 * ENG_BENCH_REPS times (3 by default; SQLite once past S) and its best wall
 * and CPU times are printed (ours: the thread's CPU time; DuckDB's: its
 * process's, one DuckDB thread; SQLite's: the sqlite3 process's), with the
 * ratios of both: on a shared, loaded machine wall time swings with the load
 * and CPU time much less. Prints one line per figure; asserts nothing about
 * time.
 *
 * A second libengage line (libengage_flagged_ms) times the path of
 * eng_campaign_report() over the engine's own touch log: the same columns, with
 * every message vouched for as the events layer's `first` flags would (each row
 * here is the only one of its customer, message, channel and status, as for
 * the dispatcher's sends), so that only `sent` rows are deduplicated. Its
 * answers must equal the first line's. A third (libengage_flagged_2threads_ms)
 * is the same with the touch pass on two threads (eng_campaign_report_options
 * .threads = 1): wall time and the process's CPU time. ENG_BENCH_ONLY_FLAGGED=1 runs only
 * these two lines (for a profile of the report's path). ENG_BENCH_STARTING_ONLY=1 adds
 * the experiment of starting_rows_only(): the delivered rows in log order, then in the
 * order ordered segments give them (by customer within each 65,536 rows of the log); and
 * segment_order(). ENG_BENCH_STORE=1 adds libengage_store_report_ms: the same log written
 * into an engine as it arrives and eng_campaign_report() over it (w7_store.c), and the
 * ratio line then also gives DuckDB's CPU over that line's (duckdb/libengage_store). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "engage.h"
#include "measure/measure_impl.h" /* eng__measure_columns: the engine report's path, with the events layer's flags */
#include "w7_store.h"

#define T0 ((eng_time)1767225600000)
#define NMSG 5
#define WINDOW (30 * ENG_DAY)
static const uint32_t msg_ids[NMSG] = {1, 2, 3, 4, 5};
static const uint8_t chans[4] = {ENG_CH_SMS, ENG_CH_EMAIL, ENG_CH_PUSH, ENG_CH_WHATSAPP};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

__attribute__((returns_nonnull, malloc)) static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of the whole process: the two-thread line. */
static double proc_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time (user + system) of the children waited for so far: the SQLite runs. */
static double children_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s) %s\n", what, eng_errstr(rc), eng_error_last()->message, eng_error_last()->detail);
    exit(1);
}

typedef struct data {
    uint32_t nc;
    size_t nt, nx, nctl;
    uint32_t *tcust, *tmsg;
    uint8_t *tch, *tst;
    eng_time *tt;
    uint32_t *xcust, *xstore, *ctl;
    eng_time *xt;
    int64_t *xamt;
} data;

/* Message m goes to every test customer (the last one to half of them). */
static int gets(uint32_t c, int m)
{
    return c % 10 != 9 && (m < NMSG - 1 || mix(c) % 2);
}

static void generate(data *d, uint32_t nc)
{
    d->nc = nc;
    size_t cap = (size_t)nc * NMSG * 4;
    d->tcust = xmalloc(cap * 4);
    d->tmsg = xmalloc(cap * 4);
    d->tch = xmalloc(cap);
    d->tst = xmalloc(cap);
    d->tt = xmalloc(cap * 8);
    size_t n = 0;
    uint64_t step = 7919; /* prime, not a divisor of nc: j -> (j * step + off) % nc is a shuffle */
    for (int m = 0; m < NMSG; m++)
        for (int phase = 0; phase < 4; phase++)
            for (uint64_t j = 0; j < nc; j++) {
                uint32_t c = (uint32_t)((j * step + (uint64_t)m * 104729) % nc);
                if (!gets(c, m))
                    continue;
                uint64_t u = mix((uint64_t)c * 8 + (uint64_t)m);
                eng_time sent = T0 + (eng_time)m * 7 * ENG_DAY + (eng_time)j;
                eng_time dl = sent + (eng_time)((u >> 24) % 600000);
                eng_time op = dl + (eng_time)((u >> 32) % 48) * ENG_HOUR;
                int delivered = u % 10 < 9, opened = delivered && (u >> 8) % 10 < 4, clicked = opened && (u >> 16) % 10 < 3;
                int st;
                eng_time t;
                if (phase == 0) {
                    st = ENG_TOUCH_SENT;
                    t = sent;
                } else if (phase == 1) {
                    st = delivered ? ENG_TOUCH_DELIVERED : ENG_TOUCH_FAILED;
                    t = delivered ? dl : sent + 1000;
                } else if (phase == 2) {
                    if (!opened)
                        continue;
                    st = ENG_TOUCH_OPENED;
                    t = op;
                } else {
                    if (!clicked)
                        continue;
                    st = ENG_TOUCH_CLICKED;
                    t = op + (eng_time)((u >> 40) % 60) * 60000;
                }
                d->tcust[n] = c;
                d->tmsg[n] = msg_ids[m];
                d->tch[n] = chans[(u >> 48) % 4];
                d->tst[n] = (uint8_t)st;
                d->tt[n] = t;
                n++;
            }
    d->nt = n;
    d->nx = nc;
    d->xcust = xmalloc(d->nx * 4);
    d->xstore = xmalloc(d->nx * 4);
    d->xt = xmalloc(d->nx * 8);
    d->xamt = xmalloc(d->nx * 8);
    for (size_t j = 0; j < d->nx; j++) {
        uint64_t u = mix(j ^ 0x5eed), v = mix(u);
        d->xcust[j] = (uint32_t)(u % nc);
        d->xt[j] = T0 + (eng_time)(v % (uint64_t)(60 * ENG_DAY));
        d->xamt[j] = 1 + (int64_t)((u >> 32) % 1000000); /* 0.01 .. 10000.00 */
        d->xstore[j] = (uint32_t)((v >> 40) % 100);
    }
    d->ctl = xmalloc((nc / 10 + 1) * 4);
    d->nctl = 0;
    for (uint32_t c = 9; c < nc; c += 10)
        d->ctl[d->nctl++] = c;
}

static void free_data(data *d)
{
    free(d->tcust);
    free(d->tmsg);
    free(d->tch);
    free(d->tst);
    free(d->tt);
    free(d->xcust);
    free(d->xstore);
    free(d->xt);
    free(d->xamt);
    free(d->ctl);
}

/* ------------------------------------------------------------------ CSV */

static char *put_u(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static void write_csv(const data *d, const char *dir)
{
    char path[600];
    size_t bufsz = 1 << 22;
    char *buf = xmalloc(bufsz + 256);
    snprintf(path, sizeof path, "%s/touches.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    char *p = buf;
    for (size_t i = 0; i < d->nt; i++) {
        p = put_u(p, d->tcust[i]);
        *p++ = ',';
        p = put_u(p, d->tmsg[i]);
        *p++ = ',';
        p = put_u(p, d->tch[i]);
        *p++ = ',';
        p = put_u(p, d->tst[i]);
        *p++ = ',';
        p = put_u(p, (uint64_t)d->tt[i]);
        *p++ = '\n';
        if ((size_t)(p - buf) > bufsz) {
            fwrite(buf, 1, (size_t)(p - buf), f);
            p = buf;
        }
    }
    fwrite(buf, 1, (size_t)(p - buf), f);
    fclose(f);
    snprintf(path, sizeof path, "%s/txns.csv", dir);
    f = fopen(path, "w");
    p = buf;
    for (size_t j = 0; j < d->nx; j++) {
        p = put_u(p, j);
        *p++ = ',';
        p = put_u(p, d->xcust[j]);
        *p++ = ',';
        p = put_u(p, (uint64_t)d->xt[j]);
        *p++ = ',';
        p = put_u(p, (uint64_t)d->xamt[j]);
        *p++ = ',';
        p = put_u(p, d->xstore[j]);
        *p++ = '\n';
        if ((size_t)(p - buf) > bufsz) {
            fwrite(buf, 1, (size_t)(p - buf), f);
            p = buf;
        }
    }
    fwrite(buf, 1, (size_t)(p - buf), f);
    fclose(f);
    snprintf(path, sizeof path, "%s/control.csv", dir);
    f = fopen(path, "w");
    for (size_t i = 0; i < d->nctl; i++)
        fprintf(f, "%u\n", d->ctl[i]);
    fclose(f);
    free(buf);
}

/* ------------------------------------------------------------------ SQL answers */

typedef struct answers {
    uint64_t responders, contacted, control_resp, count[ENG_TOUCH_STATUS_COUNT];
    int64_t sales, msg_sales[NMSG];
    int ok;
} answers;

/* Parse key,value lines; returns the value of "<key> <v>" lines through *ms_key. */
static void parse(const char *out, answers *a)
{
    memset(a, 0, sizeof *a);
    const char *p = out;
    while (*p) {
        char key[64];
        long long v;
        if (sscanf(p, "%63[^,\n],%lld", key, &v) == 2) {
            a->ok = 1;
            if (!strcmp(key, "responders"))
                a->responders = (uint64_t)v;
            else if (!strcmp(key, "sales"))
                a->sales = v;
            else if (!strcmp(key, "contacted"))
                a->contacted = (uint64_t)v;
            else if (!strcmp(key, "control_resp"))
                a->control_resp = (uint64_t)v;
            else if (!strncmp(key, "count", 5) && atoi(key + 5) < ENG_TOUCH_STATUS_COUNT)
                a->count[atoi(key + 5)] = (uint64_t)v;
            else if (!strncmp(key, "mc", 2)) {
                int k = atoi(key + 2), m = k / 16 - 1;
                if (m >= 0 && m < NMSG)
                    a->msg_sales[m] += v;
            }
        }
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
}

static double value_of(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    return p ? atof(p + strlen(key)) : -1;
}

static char *run_cmd(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *out = xmalloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap)
            break;
    }
    out[len] = 0;
    pclose(f);
    return out;
}

static int same(const answers *a, const eng_report_figures *f, const int64_t *msg_sales)
{
    int ok = a->ok && a->responders == f->responders && a->sales == f->responder_sales &&
             a->contacted == f->contacted && a->control_resp == f->control_responders &&
             a->count[0] == f->sent && a->count[1] == f->delivered && a->count[2] == f->opened &&
             a->count[3] == f->clicked && a->count[4] == f->not_delivered;
    for (int m = 0; m < NMSG; m++)
        ok = ok && a->msg_sales[m] == msg_sales[m];
    return ok;
}

/* ------------------------------------------------------------------ one size */

/* The report's path (eng__measure_columns) timed: the best wall and CPU times so far
 * lowered (the thread's CPU, the process's with threads). */
static eng_report *timed_report(eng_engine *e, const eng_touch_columns *tc, const eng_txn_columns *xc,
                                const eng_measure_spec *s, const uint8_t *trust, unsigned threads, double *best,
                                double *best_cpu)
{
    eng_report *r = NULL;
    double t0 = now_ms(), c0 = threads ? proc_cpu_ms() : cpu_ms();
    int rc = eng__measure_columns(e, tc, NULL, xc, s, 0, 0, 1, trust, threads, &r);
    double t = now_ms() - t0, ct = (threads ? proc_cpu_ms() : cpu_ms()) - c0;
    if (rc)
        die("eng__measure_columns", rc);
    *best = t < *best ? t : *best;
    *best_cpu = ct < *best_cpu ? ct : *best_cpu;
    return r;
}

/* The attribution's figures of @p r (total @p g) equal the reference's: responders,
 * conversions, responder sales (total and per message), control responders. */
static int same_attribution(const eng_report *r, const eng_report_figures *g, const eng_report_figures *f,
                            const int64_t *msg_sales)
{
    int same_ans = g->responders == f->responders && g->conversions == f->conversions &&
                   g->responder_sales == f->responder_sales && g->control_responders == f->control_responders;
    for (int m = 0; m < NMSG; m++) {
        eng_report_figures h = ENG_REPORT_FIGURES_INIT;
        eng_report_message(r, (size_t)m, NULL, &h);
        same_ans &= h.responder_sales == msg_sales[m];
    }
    return same_ans;
}

/* ENG_BENCH_STARTING_ONLY=1 (an experiment, docs/attribution.md): the report's path fed
 * the starting-status (delivered) rows alone, with each message's first send time
 * given, as it would run if the events layer kept the status counts and the contacted
 * customers per segment. The counts it prints are not the report's (they would come
 * from those summaries); its attribution and control figures must equal the full run's. */
/* Customer order within each run of 65,536 rows of the log, as a sealed segment of
 * payload kind 3 holds them (events/tsum.c); ties in log order. */
static const uint32_t *seg_cust;
static int by_seg_customer(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (x >> 16 != y >> 16)
        return x >> 16 < y >> 16 ? -1 : 1;
    if (seg_cust[x] != seg_cust[y])
        return seg_cust[x] < seg_cust[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static void starting_rows_only(eng_engine *e, const data *d, const eng_txn_columns *xc, const eng_measure_spec *s0,
                               const char *label, int reps, const eng_report_figures *f, const int64_t *msg_sales,
                               int ordered)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nt; i++)
        k += d->tst[i] == ENG_TOUCH_DELIVERED;
    uint32_t *cu = xmalloc(k * 4 + 1), *ms = xmalloc(k * 4 + 1);
    uint8_t *ch = xmalloc(k + 1), *st = xmalloc(k + 1);
    eng_time *t = xmalloc(k * 8 + 1), sent_at[NMSG];
    for (int m = 0; m < NMSG; m++)
        sent_at[m] = INT64_MAX;
    uint32_t *at = xmalloc(k * 4 + 1); /* log row of each delivered row, in the order fed */
    k = 0;
    for (size_t i = 0; i < d->nt; i++) {
        if (d->tst[i] == ENG_TOUCH_SENT && d->tt[i] < sent_at[d->tmsg[i] - 1])
            sent_at[d->tmsg[i] - 1] = d->tt[i];
        if (d->tst[i] == ENG_TOUCH_DELIVERED)
            at[k++] = (uint32_t)i;
    }
    if (ordered) {
        seg_cust = d->tcust;
        qsort(at, k, sizeof *at, by_seg_customer);
    }
    for (size_t j = 0; j < k; j++) {
        size_t i = at[j];
        cu[j] = d->tcust[i], ms[j] = d->tmsg[i], ch[j] = d->tch[i], st[j] = d->tst[i], t[j] = d->tt[i];
    }
    free(at);
    eng_touch_columns tc = {ENG_TOUCH_COLUMNS_VERSION, k, cu, ms, ch, st, t, NULL};
    eng_measure_spec s = *s0;
    s.message_sent_at = sent_at;
    static const uint8_t trust[NMSG] = {1, 1, 1, 1, 1};
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        eng_report *r = timed_report(e, &tc, xc, &s, trust, 0, &best, &best_cpu);
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        eng_report_total(r, &g);
        int same_ans = same_attribution(r, &g, f, msg_sales) && g.control_contacted == f->control_contacted;
        eng_report_free(r);
        if (!same_ans) {
            fprintf(stderr, "W7 size=%s: the starting rows' attribution differs from the full run's\n", label);
            exit(1);
        }
    }
    printf("W7 size=%s libengage_starting_rows%s_ms=%.1f (best of %d; cpu %.1f; %zu of %zu rows; same attribution)\n",
           label, ordered ? "_ordered" : "", best, reps, best_cpu, k, d->nt);
    free(cu);
    free(ms);
    free(ch);
    free(st);
    free(t);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ENG_BENCH_STARTING_ONLY=1, too: the report's path (one thread) over the whole log with
 * each run of 65,536 rows ordered by (status, customer), as the report reads sealed
 * segments of payload kind 3 (events/tsum.c) today; all its answers must equal the
 * flagged line's. */
static void segment_order(eng_engine *e, const data *d, const eng_txn_columns *xc, const eng_measure_spec *s,
                          const char *label, int reps, const eng_report_figures *f, const int64_t *msg_sales)
{
    size_t n = d->nt;
    uint32_t *cu = xmalloc(n * 4 + 1), *ms = xmalloc(n * 4 + 1);
    uint8_t *ch = xmalloc(n + 1), *st = xmalloc(n + 1);
    eng_time *t = xmalloc(n * 8 + 1);
    uint64_t *k = xmalloc(65536 * 8);
    for (size_t from = 0; from < n; from += 65536) {
        size_t m = n - from < 65536 ? n - from : 65536;
        for (size_t i = 0; i < m; i++)
            k[i] = (uint64_t)d->tst[from + i] << 48 | (uint64_t)d->tcust[from + i] << 16 | i;
        qsort(k, m, sizeof *k, cmp_u64);
        for (size_t j = 0; j < m; j++) {
            size_t i = from + (k[j] & 0xffff);
            cu[from + j] = d->tcust[i], ms[from + j] = d->tmsg[i], ch[from + j] = d->tch[i];
            st[from + j] = d->tst[i], t[from + j] = d->tt[i];
        }
    }
    free(k);
    eng_touch_columns tc = {ENG_TOUCH_COLUMNS_VERSION, n, cu, ms, ch, st, t, NULL};
    static const uint8_t trust[NMSG] = {1, 1, 1, 1, 1};
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        eng_report *r = timed_report(e, &tc, xc, s, trust, 0, &best, &best_cpu);
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        eng_report_total(r, &g);
        int same_ans = g.contacted == f->contacted && g.sent == f->sent && g.delivered == f->delivered &&
                       g.not_delivered == f->not_delivered && g.opened == f->opened && g.clicked == f->clicked &&
                       same_attribution(r, &g, f, msg_sales);
        eng_report_free(r);
        if (!same_ans) {
            fprintf(stderr, "W7 size=%s: the segment-ordered log's answers differ\n", label);
            exit(1);
        }
    }
    printf("W7 size=%s libengage_flagged_segment_order_ms=%.1f (best of %d; cpu %.1f; same answers)\n", label, best,
           reps, best_cpu);
    free(cu), free(ms), free(ch), free(st), free(t);
}

static void run(const char *label, uint32_t nc, const char *bench_dir, int have_duck, int have_sqlite)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    /* Repetitions, the best reported: ours and DuckDB's alike (SQLite runs once past S). */
    int reps = getenv("ENG_BENCH_REPS") ? atoi(getenv("ENG_BENCH_REPS")) : 3;
    if (reps < 1)
        reps = 3;
    data d;
    double t0 = now_ms();
    generate(&d, nc);
    printf("W7 size=%s customers=%u touches=%zu transactions=%zu control=%zu generate_ms=%.0f\n", label, nc, d.nt,
           d.nx, d.nctl, now_ms() - t0);
    eng_engine *e = NULL;
    int rc = eng_open(NULL, &e);
    if (rc)
        die("eng_open", rc);
    eng_rule_field fields[2] = {{"amount", ENG_RT_DECIMAL, 2}, {"store", ENG_RT_STRING, 0}};
    static char names[100][16];
    static const char *dict[100];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "S%d", i);
        dict[i] = names[i];
    }
    eng_rule_column cols[2];
    memset(cols, 0, sizeof cols);
    cols[0].type = ENG_RT_DECIMAL;
    cols[0].scale = 2;
    cols[0].data = d.xamt;
    cols[1].type = ENG_RT_STRING;
    cols[1].data = d.xstore;
    cols[1].dict = dict;
    cols[1].dict_size = 100;
    eng_touch_columns tc = {ENG_TOUCH_COLUMNS_VERSION, d.nt, d.tcust, d.tmsg, d.tch, d.tst, d.tt, NULL};
    eng_txn_columns xc = {ENG_TXN_COLUMNS_VERSION, d.nx, d.xcust, d.xt, d.xamt, 2, fields, 2, cols};
    eng_measure_spec s;
    eng_measure_spec_init(&s, ENG_MEASURE_SPEC_VERSION);
    s.n_customers = nc;
    s.messages = msg_ids;
    s.n_messages = NMSG;
    s.start = T0;
    s.end = T0 + 60 * ENG_DAY;
    s.has_goal = 1;
    s_goal.event = "transaction";
    s_goal.condition = "amount > 3000 and store in (\"S0\", \"S1\", \"S2\", \"S3\", \"S4\", \"S5\", \"S6\", \"S7\", "
                       "\"S8\", \"S9\", \"S10\", \"S11\", \"S12\", \"S13\", \"S14\", \"S15\", \"S16\", \"S17\", "
                       "\"S18\", \"S19\")";
    s_goal.window_days = 30;
    s_goal.start_on = ENG_GOAL_ON_DELIVERED;
    s_goal.attribution = ENG_ATTR_LAST_TOUCH;
    s.goal = &s_goal;
    s.control = d.ctl;
    s.n_control = d.nctl;
    double best = 1e30, best_cpu = 1e30, store_cpu = -1; /* store_cpu: the store line's (ENG_BENCH_STORE) */
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    int64_t msg_sales[NMSG];
    /* ENG_BENCH_ONLY_FLAGGED: skip the exact path (profiling the report's path alone); the
     * flagged lines are then held to the first flagged run's answers. */
    const int exact = !getenv("ENG_BENCH_ONLY_FLAGGED");
    for (int rep = 0; rep < (exact ? reps : 0); rep++) {
        eng_report *r = NULL;
        t0 = now_ms();
        double c0 = cpu_ms();
        rc = eng_measure_campaign(e, &tc, &xc, &s, &r);
        double t = now_ms() - t0, ct = cpu_ms() - c0;
        if (ct < best_cpu)
            best_cpu = ct;
        if (rc)
            die("eng_measure_campaign", rc);
        if (t < best)
            best = t;
        eng_report_total(r, &f);
        for (int m = 0; m < NMSG; m++) {
            eng_report_figures g = ENG_REPORT_FIGURES_INIT;
            eng_report_message(r, (size_t)m, NULL, &g);
            msg_sales[m] = g.responder_sales;
        }
        eng_report_free(r);
    }
    if (exact)
        printf("W7 size=%s libengage_ms=%.1f (best of %d; cpu %.1f) contacted=%llu sent=%llu delivered=%llu responders=%llu "
           "hit_rate=%.3f responder_sales=%lld.%02lld control_hit_rate=%.3f incremental_sales=%lld.%02lld "
           "p=%.3g bytes_per_touch=%.0f\n",
           label, best, reps, best_cpu, (unsigned long long)f.contacted, (unsigned long long)f.sent,
           (unsigned long long)f.delivered, (unsigned long long)f.responders, f.hit_rate,
           (long long)(f.responder_sales / 100), (long long)(f.responder_sales % 100), f.control_hit_rate,
           (long long)(f.incremental_sales / 100), (long long)(llabs(f.incremental_sales) % 100), f.p_value,
           (double)sizeof(uint32_t) * 2 + 2 + 8);
    for (unsigned threads = 0; threads < 2; threads++) {
        static const uint8_t trust[NMSG] = {1, 1, 1, 1, 1};
        double fbest = 1e30, fbest_cpu = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            eng_report *r = timed_report(e, &tc, &xc, &s, trust, threads, &fbest, &fbest_cpu);
            eng_report_figures g = ENG_REPORT_FIGURES_INIT;
            eng_report_total(r, &g);
            if (!exact && !threads && !rep) { /* the reference the other runs are held to */
                f = g;
                for (int m = 0; m < NMSG; m++) {
                    eng_report_figures h = ENG_REPORT_FIGURES_INIT;
                    eng_report_message(r, (size_t)m, NULL, &h);
                    msg_sales[m] = h.responder_sales;
                }
            }
            int same_ans = g.contacted == f.contacted && g.sent == f.sent && g.delivered == f.delivered &&
                           g.not_delivered == f.not_delivered && g.opened == f.opened && g.clicked == f.clicked &&
                           same_attribution(r, &g, &f, msg_sales);
            eng_report_free(r);
            if (!same_ans) {
                fprintf(stderr, "W7 size=%s: the flagged path's answers differ from eng_measure_campaign's\n", label);
                exit(1);
            }
        }
        if (threads)
            printf("W7 size=%s libengage_flagged_2threads_ms=%.1f (best of %d; process cpu %.1f; same answers)\n",
                   label, fbest, reps, fbest_cpu);
        else
            printf("W7 size=%s libengage_flagged_ms=%.1f (best of %d; cpu %.1f; same answers)\n", label, fbest,
                   reps, fbest_cpu);
    }
    if (getenv("ENG_BENCH_STORE")) { /* the same log through the engine's own store */
        w7_log lg = {nc, d.nt, d.nx, d.nctl, NMSG, d.tcust, d.tmsg, d.tch, d.tst, d.tt, d.xcust, d.xstore, d.ctl,
                     d.xt, d.xamt, s.start, s.end, &s_goal};
        double sw = 0;
        eng_report *r = w7_store(&lg, reps, &store_cpu, &sw);
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        eng_report_total(r, &g);
        int same_ans = g.contacted == f.contacted && g.sent == f.sent && g.delivered == f.delivered &&
                       g.not_delivered == f.not_delivered && g.opened == f.opened && g.clicked == f.clicked &&
                       same_attribution(r, &g, &f, msg_sales);
        eng_report_free(r);
        if (!same_ans) {
            fprintf(stderr, "W7 size=%s: the store-fed report's answers differ from the column-fed ones\n", label);
            exit(1);
        }
        printf("W7 size=%s libengage_store_report_ms=%.1f (best of %d; cpu %.1f; same answers)\n", label, sw,
               reps, store_cpu);
    }
    if (getenv("ENG_BENCH_STARTING_ONLY")) {
        starting_rows_only(e, &d, &xc, &s, label, reps, &f, msg_sales, 0);
        starting_rows_only(e, &d, &xc, &s, label, reps, &f, msg_sales, 1);
        segment_order(e, &d, &xc, &s, label, reps, &f, msg_sales);
    }
    eng_close(e);
    if (!exact || (!have_duck && !have_sqlite)) {
        free_data(&d);
        return;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], stamp[600];
    snprintf(dir, sizeof dir, "%s/engage-w7-%s-%zu", tmp, label, d.nt);
    snprintf(stamp, sizeof stamp, "%s/done", dir);
    struct stat sb;
    if (stat(stamp, &sb) != 0) { /* CSV of this generator and size, reused across runs */
        mkdir(dir, 0755);
        t0 = now_ms();
        write_csv(&d, dir);
        FILE *sf = fopen(stamp, "w");
        if (sf)
            fclose(sf);
        printf("W7 size=%s csv_write_ms=%.0f dir=%s\n", label, now_ms() - t0, dir);
    }
    free_data(&d);
    char cmd[2048];
    char duck_ms[32] = "-", sqlite_ms[32] = "-", duck_ratio[32] = "-", sqlite_ratio[32] = "-";
    char duck_cpu_ratio[32] = "-", sqlite_cpu_ratio[32] = "-", duck_store_ratio[32] = "-";
    if (have_duck) {
        snprintf(cmd, sizeof cmd, "node %s/measure_duckdb.mjs %s %lld %d 2>&1", bench_dir, dir, (long long)WINDOW, reps);
        char *out = run_cmd(cmd);
        answers a;
        parse(out ? out : "", &a);
        double ms = out ? value_of(out, "best_ms ") : -1, attr = out ? value_of(out, "attr_ms ") : -1;
        double cpu = out ? value_of(out, "best_cpu_ms ") : -1;
        if (ms < 0 || !same(&a, &f, msg_sales)) {
            printf("W7 size=%s duckdb: failed or differs: %.400s\n", label, out ? out : "");
        } else {
            printf("W7 size=%s duckdb_1thread_ms=%.1f (best of %d; cpu %.1f; attribution part %.1f, load %.0f) answers equal\n",
                   label, ms, reps, cpu, attr, value_of(out, "load_ms "));
            snprintf(duck_ms, sizeof duck_ms, "%.1f", ms);
            snprintf(duck_ratio, sizeof duck_ratio, "%.1f", ms / best);
            snprintf(duck_cpu_ratio, sizeof duck_cpu_ratio, "%.1f", cpu / best_cpu);
            if (store_cpu > 0)
                snprintf(duck_store_ratio, sizeof duck_store_ratio, "%.1f", cpu / store_cpu);
        }
        free(out);
    }
    if (have_sqlite && (strcmp(label, "L") != 0 || getenv("ENG_BENCH_SQLITE_L"))) {
        char db[600];
        snprintf(db, sizeof db, "%s/w7.sqlite", dir);
        if (stat(db, &sb) != 0) {
            t0 = now_ms();
            snprintf(cmd, sizeof cmd,
                     "cd %s && sqlite3 w7.tmp \"create table touches(cust int, msg int, ch int, st int, t int);"
                     " create table txns(id int, cust int, t int, amount int, store int);"
                     " create table control(cust int);\" \".import --csv touches.csv touches\""
                     " \".import --csv txns.csv txns\" \".import --csv control.csv control\""
                     " \"create index touches_st_cust on touches(st, cust, t);\" \"create index txns_cust on txns(cust);\""
                     " && mv w7.tmp w7.sqlite",
                     dir);
            if (system(cmd) != 0)
                printf("W7 size=%s sqlite: import failed\n", label);
            printf("W7 size=%s sqlite_import_and_index_ms=%.0f\n", label, now_ms() - t0);
        }
        snprintf(cmd, sizeof cmd, "sed 's/@W@/%lld/g' %s/w7.sql > %s/w7_run.sql", (long long)WINDOW, bench_dir, dir);
        if (system(cmd) == 0) {
            double sbest = 1e30, scpu = 1e30;
            char *out = NULL;
            int sreps = strcmp(label, "S") ? 1 : reps; /* a run takes minutes past S */
            for (int rep = 0; rep < sreps; rep++) {
                free(out);
                snprintf(cmd, sizeof cmd, "sqlite3 -csv %s < %s/w7_run.sql 2>&1", db, dir);
                t0 = now_ms();
                double c0 = children_cpu_ms();
                out = run_cmd(cmd);
                double t = now_ms() - t0, ct = children_cpu_ms() - c0;
                if (t < sbest)
                    sbest = t;
                if (ct < scpu)
                    scpu = ct;
            }
            answers a;
            parse(out ? out : "", &a);
            if (!same(&a, &f, msg_sales)) {
                printf("W7 size=%s sqlite: failed or differs: %.400s\n", label, out ? out : "");
            } else {
                printf("W7 size=%s sqlite_ms=%.1f (best of %d; cpu %.1f) answers equal\n", label, sbest, sreps, scpu);
                snprintf(sqlite_ms, sizeof sqlite_ms, "%.1f", sbest);
                snprintf(sqlite_ratio, sizeof sqlite_ratio, "%.1f", sbest / best);
                snprintf(sqlite_cpu_ratio, sizeof sqlite_cpu_ratio, "%.1f", scpu / best_cpu);
            }
            free(out);
        }
    }
    printf("W7 size=%s libengage/sqlite/duckdb_ms=%.1f/%s/%s wall: sqlite/libengage=%s duckdb/libengage=%s"
           " cpu: sqlite/libengage=%s duckdb/libengage=%s duckdb/libengage_store=%s\n",
           label, best, sqlite_ms, duck_ms, sqlite_ratio, duck_ratio, sqlite_cpu_ratio, duck_cpu_ratio,
           duck_store_ratio);
}

/* argv[1], when given, is the one size to run (S, M or L). */
int main(int argc, char **argv)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    const char *dir = getenv("ENG_BENCH_DIR");
    char duck[1024];
    struct stat sb;
    snprintf(duck, sizeof duck, "%s/../node_modules/@duckdb/node-api/package.json", dir ? dir : ".");
    int have_duck = dir && stat(duck, &sb) == 0 && system("node --version >/dev/null 2>&1") == 0;
    int have_sqlite = dir && system("sqlite3 -version >/dev/null 2>&1") == 0;
    if (getenv("ENG_BENCH_ONLY_OURS")) /* time libengage alone */
        have_duck = have_sqlite = 0;
    if (!have_duck)
        printf("duckdb: skipped (@duckdb/node-api not in tests/bench/node_modules, or no node)\n");
    if (!have_sqlite)
        printf("sqlite: skipped (no sqlite3 on PATH)\n");
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "S"))
        run("S", 10000, dir, have_duck, have_sqlite);
    if ((only && !strcmp(only, "M")) || (!only && size && (!strcmp(size, "M") || !strcmp(size, "L"))))
        run("M", 1000000, dir, have_duck, have_sqlite);
    if ((only && !strcmp(only, "L")) || (!only && size && !strcmp(size, "L")))
        run("L", 10000000, dir, have_duck, have_sqlite);
    return 0;
}
