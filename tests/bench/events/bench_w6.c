/* W6: ingest of touch events (BENCHMARKS.md).
 *
 * A seeded generator plays a dispatcher and a provider: campaigns go out in
 * waves of sends (one `sent` each, written as the dispatcher does, inside its
 * own storage batch, 65,536 sends a batch), then each wave's receipts arrive
 * shuffled (out of order) in batches of 65,536 through eng_touch_append():
 * delivered (90 %) or failed, opened (40 % of delivered), clicked (30 % of
 * opened) — about 2.5 touches a send. Sizes: S 10^5 touches, M 10^7, L 10^8
 * (ENG_BENCH_SIZE=L). The store is the file store without fsync.
 *
 * Figures: events/s through the API (array building excluded), bytes per
 * event (sealed segments alone, and the whole file after compaction),
 * resident bytes per event, reopen time; then the same touches as CSV loaded
 * by libengage (parse + append), SQLite (`.import` into a typed table) and
 * DuckDB (read_csv into a typed table in a database file, 1 thread), with
 * the ratios. Comparisons run at S and M, and at L with ENG_BENCH_COMPARE_L=1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/events_impl.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this thread: the machine is shared, so wall time overstates. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the whole process: with eng_config.threads > 0 the append's
 * threads work beside the calling one. */
/* Bytes this process handed to write calls (wchar) and made dirty in the page cache
 * (write_bytes), from /proc/self/io; 0 where it cannot be read. */
static void io_written(uint64_t *wchar, uint64_t *dirtied)
{
    *wchar = *dirtied = 0;
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "wchar: %llu", &v) == 1)
            *wchar = v;
        else if (sscanf(line, "write_bytes: %llu", &v) == 1)
            *dirtied = v;
    }
    if (f)
        fclose(f);
}

static double proc_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* System CPU time (ms) and minor page faults so far: of the process, and of the calling
 * thread where the system counts them apart (Linux); page faults and the kernel's
 * copies are what the append's sys time is. */
typedef struct sysuse {
    double psys, tsys;
    long pflt, tflt;
} sysuse;

static sysuse sys_now(void)
{
    struct rusage ru;
    sysuse u = {0, 0, 0, 0};
    if (!getrusage(RUSAGE_SELF, &ru))
        u.psys = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, u.pflt = ru.ru_minflt;
#ifdef RUSAGE_THREAD
    if (!getrusage(RUSAGE_THREAD, &ru))
        u.tsys = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, u.tflt = ru.ru_minflt;
#endif
    return u;
}

static void sys_add(sysuse *acc, sysuse a, sysuse b)
{
    acc->psys += b.psys - a.psys, acc->tsys += b.tsys - a.tsys;
    acc->pflt += b.pflt - a.pflt, acc->tflt += b.tflt - a.tflt;
}

/* CPU time of finished child processes (sqlite3, node). */
static double child_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static uint64_t rng = 42;
static uint64_t rnd(void)
{
    uint64_t x = (rng += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static long long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

#define BATCH 65536
#define KEYLEN 64

typedef struct run {
    eng_engine *e;
    FILE *csv;       /* when set, rows also go here */
    double api_ms;   /* time inside the append calls */
    double api_cpu;  /* CPU time inside them */
    double sent_cpu; /* of which writing `sent` (the dispatcher's part) */
    double api_pcpu; /* process CPU inside them (the engine's threads included) */
    uint64_t touches, sends;
    double rcpt_pcpu; /* of which the receipts' */
    sysuse sys;       /* system time and minor faults inside them */
} run;

static const int chans[4] = {ENG_CH_EMAIL, ENG_CH_SMS, ENG_CH_PUSH, ENG_CH_WHATSAPP};

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %d %s (%s)\n", what, rc, eng_error_last()->message, eng_error_last()->detail);
    exit(1);
}

/* The dispatcher's key (dispatch/ledger.c eng__send_key) for the context put_sent writes. */
static void key_of(char *buf, uint32_t campaign, uint32_t customer, int ch)
{
    snprintf(buf, KEYLEN, "acme/c%u/m%llu.1000/o0/u%u/%s", campaign, campaign * 10ull, customer, eng_channel_name(ch));
}

static void put_sent(run *r, uint32_t campaign, const eng__sent_row *rows, size_t n)
{
    eng__send_ctx ctx = {"acme", campaign, campaign * 10ull, 1, 0};
    double t0 = now_ms(), c0 = cpu_ms(), p0 = proc_cpu_ms();
    sysuse u0 = sys_now();
    int rc = eng__enter(r->e);
    if (!rc && !(rc = eng__kv_begin(r->e->store))) {
        rc = eng__touch_sent(r->e, &ctx, rows, n, NULL);
        rc = rc ? eng__events_fail(r->e, rc) : eng__kv_commit(r->e->store);
    }
    eng__leave(r->e);
    sys_add(&r->sys, u0, sys_now());
    r->api_ms += now_ms() - t0;
    r->api_cpu += cpu_ms() - c0;
    r->sent_cpu += cpu_ms() - c0;
    r->api_pcpu += proc_cpu_ms() - p0;
    if (rc)
        die("sent", rc);
}

static void put_receipts(run *r, const char *const *keys, const int *st, const eng_time *ts, size_t n)
{
    eng_receipts rc_ = ENG_RECEIPTS_INIT;
    rc_.count = n;
    rc_.keys = keys;
    rc_.statuses = st;
    rc_.times = ts;
    /* ENG_BENCH_KEY_LENGTHS=1: a host that knows its keys' lengths passes them (found here,
     * outside the timed call, as the host's own bookkeeping would have them) */
    static size_t *kl;
    static size_t klcap;
    if (getenv("ENG_BENCH_KEY_LENGTHS")) {
        if (n > klcap && !(kl = realloc(kl, (klcap = n) * sizeof *kl)))
            die("generator: out of memory", -1);
        for (size_t i = 0; i < n; i++)
            kl[i] = strlen(keys[i]);
        rc_.key_lengths = kl;
    }
    double t0 = now_ms(), c0 = cpu_ms(), p0 = proc_cpu_ms();
    sysuse u0 = sys_now();
    int rc = eng_touch_append(r->e, &rc_, NULL);
    sys_add(&r->sys, u0, sys_now());
    r->api_ms += now_ms() - t0;
    r->api_cpu += cpu_ms() - c0;
    r->api_pcpu += proc_cpu_ms() - p0;
    r->rcpt_pcpu += proc_cpu_ms() - p0;
    if (rc)
        die("receipts", rc);
}

/* The generator's arrays, kept from wave to wave: allocated afresh each wave, their first-touch
 * page faults (640 MB of keys a wave at L) were most of the process's system time, outside the
 * timed calls but on the same two cores. */
static struct genbuf {
    eng__sent_row *rows;
    char (*keys)[KEYLEN];
    uint32_t *who;
    int *st;
    eng_time *ts;
    const char **kp;
    char (*kb)[KEYLEN];
    size_t nkeys, cap;
} gb;

static void *grow_buf(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("generator: out of memory", -1);
    return q;
}

static void gen_room(size_t n, size_t cap)
{
    if (!gb.rows) {
        gb.rows = grow_buf(NULL, BATCH * sizeof *gb.rows);
        gb.kp = grow_buf(NULL, BATCH * sizeof *gb.kp);
        gb.kb = grow_buf(NULL, (size_t)BATCH * KEYLEN); /* the host's receipt buffer: keys in arrival order */
    }
    if (n > gb.nkeys)
        gb.keys = grow_buf(gb.keys, n * KEYLEN), gb.nkeys = n;
    if (cap > gb.cap) {
        gb.who = grow_buf(gb.who, cap * sizeof *gb.who);
        gb.st = grow_buf(gb.st, cap * sizeof *gb.st);
        gb.ts = grow_buf(gb.ts, cap * sizeof *gb.ts);
        gb.cap = cap;
    }
}

static void gen_free(void)
{
    free(gb.rows), free(gb.keys), free(gb.who), free(gb.st), free(gb.ts), free(gb.kp), free(gb.kb);
    memset(&gb, 0, sizeof gb);
}

/* One wave of a campaign: sends to customers [lo, hi), then their receipts shuffled. */
static void wave(run *r, uint32_t campaign, uint32_t lo, uint32_t hi, eng_time t, uint64_t *budget)
{
    size_t n = hi - lo;
    size_t cap = n * 3 + 1, k = 0;
    gen_room(n, cap);
    eng__sent_row *rows = gb.rows;
    char (*keys)[KEYLEN] = gb.keys;
    for (size_t i = 0; i < n; i++)
        key_of(keys[i], campaign, lo + (uint32_t)i, chans[(lo + i) % 4]);
    for (size_t b = 0; b < n; b += BATCH) {
        size_t m = n - b < BATCH ? n - b : BATCH;
        for (size_t i = 0; i < m; i++) {
            uint32_t c = lo + (uint32_t)(b + i);
            rows[i] = (eng__sent_row){keys[b + i], strlen(keys[b + i]), c, (uint8_t)chans[c % 4], t + (eng_time)(b + i) / 16};
            if (r->csv)
                fprintf(r->csv, "%lld,%u,%u,%u,1,0,%d,0,%s\n", (long long)rows[i].time, c, campaign, campaign * 10,
                        chans[c % 4], keys[b + i]);
        }
        put_sent(r, campaign, rows, m);
    }
    r->sends += n;
    r->touches += n;
    /* receipts of the wave */
    uint32_t *who = gb.who;
    int *st = gb.st;
    eng_time *ts = gb.ts;
    for (size_t i = 0; i < n && k + 3 <= cap; i++) {
        uint64_t x = rnd();
        eng_time base = t + (eng_time)i / 16;
        if (x % 100 < 90) {
            who[k] = (uint32_t)i, st[k] = ENG_TOUCH_DELIVERED, ts[k++] = base + 60000 + (eng_time)(x >> 40) % 60000;
            if ((x >> 8) % 100 < 40) {
                who[k] = (uint32_t)i, st[k] = ENG_TOUCH_OPENED, ts[k++] = base + 3600000 + (eng_time)(x >> 30) % 7200000;
                if ((x >> 16) % 100 < 30)
                    who[k] = (uint32_t)i, st[k] = ENG_TOUCH_CLICKED, ts[k++] = base + 7200000 + (eng_time)(x >> 20) % 7200000;
            }
        } else {
            who[k] = (uint32_t)i, st[k] = ENG_TOUCH_FAILED, ts[k++] = base + 60000;
        }
    }
    for (size_t i = k; i > 1; i--) { /* out of order */
        size_t j = rnd() % i;
        uint32_t w = who[i - 1]; who[i - 1] = who[j]; who[j] = w;
        int s = st[i - 1]; st[i - 1] = st[j]; st[j] = s;
        eng_time q = ts[i - 1]; ts[i - 1] = ts[j]; ts[j] = q;
    }
    const char **kp = gb.kp;
    char (*kb)[KEYLEN] = gb.kb;
    for (size_t b = 0; b < k; b += BATCH) {
        size_t m = k - b < BATCH ? k - b : BATCH;
        for (size_t i = 0; i < m; i++) {
            memcpy(kb[i], keys[who[b + i]], KEYLEN);
            kp[i] = kb[i];
            if (r->csv) {
                uint32_t c = lo + who[b + i];
                fprintf(r->csv, "%lld,%u,%u,%u,1,0,%d,%d,%s\n", (long long)ts[b + i], c, campaign, campaign * 10,
                        chans[c % 4], st[b + i], kp[i]);
            }
        }
        put_receipts(r, kp, st + b, ts + b, m);
    }
    r->touches += k;
    *budget = *budget > n + k ? *budget - n - k : 0;
}

static eng_engine *open_file(const char *path, unsigned flags)
{
    eng_store *s;
    int rc = eng_store_file_open(path, flags | ENG_STORE_NOSYNC, NULL, &s);
    if (rc)
        die("file store", rc);
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.store = s;
    if (getenv("ENG_BENCH_THREADS")) /* threads beside the caller's (library default 1) */
        cfg.threads = (unsigned)atoi(getenv("ENG_BENCH_THREADS"));
    eng_engine *e;
    if ((rc = eng_open(&cfg, &e)))
        die("open", rc);
    return e;
}

static int seg_bytes_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)key;
    (void)val;
    if (klen > 9 && !memcmp((const char *)key + 7, "t/s/", 4))
        *(uint64_t *)user += vlen;
    return 0;
}

/* libengage loading the CSV: parse each line, group into batches like the generator did. */
static double ingest_csv(const char *csv, const char *dbpath, uint64_t *rows_out)
{
    eng_engine *e = open_file(dbpath, ENG_STORE_CREATE);
    run r = {e, NULL, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0, 0}};
    FILE *f = fopen(csv, "r");
    char line[256];
    eng__sent_row *rows = malloc(BATCH * sizeof *rows);
    char (*keys)[KEYLEN] = malloc((size_t)BATCH * KEYLEN);
    const char **kp = malloc(BATCH * sizeof *kp);
    int *st = malloc(BATCH * sizeof *st);
    eng_time *ts = malloc(BATCH * sizeof *ts);
    size_t ns = 0, nr = 0;
    uint32_t cur = 0;
    uint64_t total = 0;
    double t0 = cpu_ms();
    if (!fgets(line, sizeof line, f)) /* header */
        die("csv", -1);
    for (;;) {
        char *p = fgets(line, sizeof line, f);
        long long t = 0;
        unsigned cust = 0, camp = 0, msg, ver, occ;
        int ch = 0, s = 0, pos = 0;
        if (p && sscanf(line, "%lld,%u,%u,%u,%u,%u,%d,%d,%n", &t, &cust, &camp, &msg, &ver, &occ, &ch, &s, &pos) != 8)
            die("csv line", -1);
        int kind = !p ? -1 : s == ENG_TOUCH_SENT ? 0 : 1;
        if ((ns && (kind != 0 || camp != cur || ns == BATCH))) {
            put_sent(&r, cur, rows, ns);
            ns = 0;
        }
        if (nr && (kind != 1 || nr == BATCH)) {
            put_receipts(&r, kp, st, ts, nr);
            nr = 0;
        }
        if (!p)
            break;
        char *k = line + pos;
        k[strcspn(k, "\r\n")] = 0;
        total++;
        if (kind == 0) {
            cur = camp;
            snprintf(keys[ns], KEYLEN, "%s", k);
            rows[ns] = (eng__sent_row){keys[ns], strlen(keys[ns]), cust, (uint8_t)ch, t};
            ns++;
        } else {
            snprintf(keys[nr], KEYLEN, "%s", k);
            kp[nr] = keys[nr];
            st[nr] = s;
            ts[nr++] = t;
        }
    }
    /* the tail sealed as DuckDB checkpoints on close (timed); the file's dead records
     * dropped after (not timed), so its bytes compare with the others' files */
    if (eng_events_compact(e))
        die("compact", -1);
    double ms = cpu_ms() - t0;
    fclose(f);
    eng_store_file_compact(e->store);
    eng_close(e);
    free(rows);
    free(keys);
    free(kp);
    free(st);
    free(ts);
    *rows_out = total;
    return ms;
}

static double sqlite_import(const char *dir, const char *csv, long long *bytes)
{
    char script[1024], db[1024], cmd[8192];
    snprintf(script, sizeof script, "%s/w6.sql", dir);
    snprintf(db, sizeof db, "%s/w6.sqlite", dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "PRAGMA journal_mode=OFF;\nPRAGMA synchronous=OFF;\n"
               "CREATE TABLE touches(time INTEGER, customer INTEGER, campaign INTEGER, message INTEGER, "
               "version INTEGER, occurrence INTEGER, channel INTEGER, status INTEGER, key TEXT);\n"
               ".mode csv\n.import --skip 1 %s touches\nSELECT count(*) FROM touches;\n", csv);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -f %s; sqlite3 %s < %s 2>&1", db, db, script);
    double t0 = child_cpu_ms();
    FILE *p = popen(cmd, "r");
    char out[256] = "";
    while (p && fgets(out, sizeof out, p))
        ;
    int rc = p ? pclose(p) : -1;
    double ms = child_cpu_ms() - t0; /* CPU time: the machine is shared */
    *bytes = file_size(db);
    unlink(db);
    return rc == 0 ? ms : -1;
}

static double duckdb_import(const char *benchdir, const char *dir, const char *csv, long long *bytes)
{
    char cmd[8192], db[1024];
    snprintf(db, sizeof db, "%s/w6.duckdb", dir);
    snprintf(cmd, sizeof cmd, "rm -f %s %s.wal; node %s/events_duckdb.mjs %s %s 2>&1", db, db, benchdir, csv, db);
    double c0 = child_cpu_ms();
    FILE *p = popen(cmd, "r");
    char line[256];
    double ms = -1;
    while (p && fgets(line, sizeof line, p))
        if (!strncmp(line, "ingest_ms ", 10))
            ms = atof(line + 10);
    if (p)
        pclose(p);
    if (ms >= 0) /* CPU of the whole node process (start-up included), as the machine is shared */
        ms = child_cpu_ms() - c0;
    *bytes = file_size(db);
    unlink(db);
    return ms;
}

static void run_size(const char *label, uint64_t target, uint32_t ncust, int compare)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[1024], csv[1024], path2[1024];
    snprintf(dir, sizeof dir, "%s/engage-w6-XXXXXX", tmp);
    if (!mkdtemp(dir))
        die("mkdtemp", -1);
    snprintf(path, sizeof path, "%s/events.db", dir);
    snprintf(path2, sizeof path2, "%s/events-csv.db", dir);
    snprintf(csv, sizeof csv, "%s/touches.csv", dir);
    long rss0 = rss_kb();
    run r = {open_file(path, ENG_STORE_CREATE), NULL, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0, 0}};
    if (compare) {
        r.csv = fopen(csv, "w");
        fprintf(r.csv, "time,customer,campaign,message,version,occurrence,channel,status,key\n");
    }
    uint64_t budget = target, wc0, wd0, wc1, wd1;
    io_written(&wc0, &wd0);
    eng_time t = 1767225600000;
    for (uint32_t campaign = 1; budget; campaign++) {
        uint32_t wave_n = (uint32_t)(budget / 2.5 < ncust ? budget / 2.5 + 1 : ncust);
        wave(&r, campaign, 0, wave_n, t, &budget);
        t += ENG_DAY;
    }
    if (r.csv)
        fclose(r.csv);
    gen_free();
    io_written(&wc1, &wd1);
    double t0 = now_ms(), sp0 = proc_cpu_ms();
    int rc = eng_events_compact(r.e);
    double seal_ms = now_ms() - t0, seal_pcpu = proc_cpu_ms() - sp0;
    if (rc)
        die("compact", rc);
    uint64_t segb = 0;
    eng__enter(r.e);
    eng__kv_scan(r.e->store, "e/", 2, seg_bytes_cb, &segb);
    eng__leave(r.e);
    long rss1 = rss_kb();
    long long before = file_size(path);
    eng_store_file_compact(r.e->store);
    long long after = file_size(path);
    unsigned threads = r.e->threads;
    eng_close(r.e);
    printf("W6 size=%s touches=%llu sends=%llu events_per_s=%.2fM (cpu) %.2fM (wall) api_cpu_ms=%.0f api_wall_ms=%.0f "
           "seal_ms=%.0f (compaction after the appends, wall; process cpu %.0f)\n", label,
           (unsigned long long)r.touches, (unsigned long long)r.sends, r.touches / r.api_cpu / 1e3,
           r.touches / r.api_ms / 1e3, r.api_cpu, r.api_ms, seal_ms, seal_pcpu);
    printf("W6 size=%s threads=%u process_cpu_ms=%.0f (%.2fM/s of process CPU; the line above: the calling thread's), "
           "receipts %.0f ms\n", label, threads, r.api_pcpu, r.touches / r.api_pcpu / 1e3, r.rcpt_pcpu);
    printf("W6 size=%s cpu split: sent %.2fM/s (%.0f ms), receipts %.2fM/s (%.0f ms)\n", label,
           r.sends / r.sent_cpu / 1e3, r.sent_cpu, (r.touches - r.sends) / (r.api_cpu - r.sent_cpu) / 1e3,
           r.api_cpu - r.sent_cpu);
    printf("W6 size=%s sys inside the append calls: process %.0f ms, calling thread %.0f ms; minor faults process "
           "%ld, calling thread %ld\n", label, r.sys.psys, r.sys.tsys, r.sys.pflt, r.sys.tflt);
    printf("W6 size=%s bytes_per_event segments=%.2f file_compacted=%.2f file_before_compaction=%.2f "
           "resident=%.1f (target <= 16)\n",
           label, (double)segb / r.touches, (double)after / r.touches, (double)before / r.touches,
           (rss1 - rss0) * 1024.0 / r.touches);
    printf("W6 size=%s written by the appends: %.1f MB to write calls, %.1f MB of page cache dirtied "
           "(/proc/self/io)\n", label, (wc1 - wc0) / 1e6, (wd1 - wd0) / 1e6);
    t0 = now_ms();
    double c0 = cpu_ms(), p0 = proc_cpu_ms();
    sysuse u0 = sys_now();
    eng_engine *e = open_file(path, 0);
    uint64_t np;
    if ((rc = eng_touch_pending(e, &np)))
        die("reopen", rc);
    uint64_t c[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    eng_touch_status_counts(e, "acme", 1, 0, c, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT);
    sysuse u1 = sys_now();
    printf("W6 size=%s reopen_ms=%.0f (wall) %.0f (cpu) %.0f (process cpu) (file replay + events load); its sys %.0f ms, "
           "minor faults %ld\n", label, now_ms() - t0, cpu_ms() - c0, proc_cpu_ms() - p0, u1.psys - u0.psys,
           u1.pflt - u0.pflt);
    eng_close(e);
    if (compare) {
        uint64_t rows = 0;
        double ours = ingest_csv(csv, path2, &rows);
        long long sb = -1, db = -1;
        int have_sqlite = system("sqlite3 -version >/dev/null 2>&1") == 0;
        const char *bd = getenv("ENG_BENCH_DIR");
        char probe[1024];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/../node_modules/@duckdb/node-api/package.json", bd ? bd : ".");
        int have_duck = bd && stat(probe, &st) == 0 && system("node --version >/dev/null 2>&1") == 0;
        double sq = have_sqlite ? sqlite_import(dir, csv, &sb) : -1;
        double dk = have_duck ? duckdb_import(bd, dir, csv, &db) : -1;
        printf("W6 size=%s from_csv rows=%llu libengage/sqlite/duckdb_cpu_ms=%.0f/%.0f/%.0f "
               "sqlite/libengage=%.1f duckdb/libengage=%.1f\n",
               label, (unsigned long long)rows, ours, sq, dk, sq > 0 ? sq / ours : -1, dk > 0 ? dk / ours : -1);
        printf("W6 size=%s from_csv bytes_per_event libengage/sqlite/duckdb=%.1f/%.1f/%.1f\n", label,
               (double)file_size(path2) / rows, sb > 0 ? (double)sb / rows : -1, db > 0 ? (double)db / rows : -1);
        if (!have_duck)
            printf("W6 size=%s duckdb: skipped (@duckdb/node-api not in tests/bench/node_modules, or no node)\n", label);
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (getenv("ENG_BENCH_KEEP")) /* the store kept, to time its reopen alone in a fresh process */
        printf("W6 size=%s kept %s\n", label, path);
    else if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    fflush(stdout);
}

/* Receipts before their sends: @p n sends' `delivered` arrive first (shuffled,
 * batches of 65,536, all pending), then the sends (batches of 65,536) join
 * them. Before pending.c had an index this was quadratic in n. */
static void run_pending(const char *label, uint32_t n)
{
    if (getenv("ENG_BENCH_NO_PENDING"))
        return;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[1024], cmd[1100];
    snprintf(dir, sizeof dir, "%s/engage-w6p-XXXXXX", tmp);
    if (!mkdtemp(dir))
        die("mkdtemp", -1);
    snprintf(path, sizeof path, "%s/events.db", dir);
    run r = {open_file(path, ENG_STORE_CREATE), NULL, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0, 0}};
    const uint32_t per = 50000; /* sends a campaign */
    uint32_t *who = malloc((size_t)n * sizeof *who);
    for (uint32_t i = 0; i < n; i++)
        who[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1)), x = who[i];
        who[i] = who[j];
        who[j] = x;
    }
    char (*kb)[KEYLEN] = malloc((size_t)BATCH * KEYLEN);
    const char **keys = malloc(BATCH * sizeof *keys);
    int *st = malloc(BATCH * sizeof *st);
    eng_time *ts = malloc(BATCH * sizeof *ts);
    eng__sent_row *rows = malloc(BATCH * sizeof *rows);
    eng_time t = 1767225600000;
    for (uint32_t at = 0; at < n; at += BATCH) {
        uint32_t m = n - at < BATCH ? n - at : BATCH;
        for (uint32_t i = 0; i < m; i++) {
            key_of(kb[i], 1 + who[at + i] / per, who[at + i] % per, ENG_CH_EMAIL);
            keys[i] = kb[i];
            st[i] = ENG_TOUCH_DELIVERED;
            ts[i] = t + 1000;
        }
        put_receipts(&r, keys, st, ts, m);
    }
    double rcpu = r.api_cpu;
    uint64_t pend = 0;
    eng_touch_pending(r.e, &pend);
    for (uint32_t c = 0; c * per < n; c++) {
        uint32_t hi = n - c * per < per ? n - c * per : per;
        for (uint32_t lo = 0; lo < hi; lo += BATCH) {
            uint32_t m = hi - lo < BATCH ? hi - lo : BATCH;
            for (uint32_t i = 0; i < m; i++) {
                key_of(kb[i], c + 1, lo + i, ENG_CH_EMAIL);
                rows[i].key = kb[i];
                rows[i].klen = strlen(kb[i]);
                rows[i].customer = lo + i;
                rows[i].channel = (uint8_t)ENG_CH_EMAIL;
                rows[i].time = t;
            }
            put_sent(&r, c + 1, rows, m);
        }
    }
    uint64_t left = 0;
    eng_touch_pending(r.e, &left);
    printf("W6 size=%s pending: %u receipts before their sends (%llu pending, %llu after): receipts %.0f ms, "
           "sent + join %.0f ms (cpu), %.2f us a send\n", label, n, (unsigned long long)pend, (unsigned long long)left,
           rcpu, r.sent_cpu, r.sent_cpu * 1000.0 / n);
    eng_close(r.e);
    free(who);
    free(kb);
    free(keys);
    free(st);
    free(ts);
    free(rows);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    int L = size && !strcmp(size, "L");
    int cmp = getenv("ENG_BENCH_ONLY_OURS") == NULL;
    run_size("S", 100000, 10000, cmp);
    run_pending("S", 200000);
    if (size && !strcmp(size, "S"))
        return 0;
    if (!L || getenv("ENG_BENCH_W6_M"))
        run_size("M", 10000000, 1000000, cmp);
    if (!L || getenv("ENG_BENCH_W6_M"))
        run_pending("M", 1000000);
    if (L)
        run_size("L", getenv("ENG_BENCH_L_TOUCHES") ? strtoull(getenv("ENG_BENCH_L_TOUCHES"), NULL, 10) : 100000000,
                 10000000, getenv("ENG_BENCH_COMPARE_L") != NULL); /* fewer touches: L's first waves only */
    return 0;
}
