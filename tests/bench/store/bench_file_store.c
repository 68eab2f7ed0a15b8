/* W8: write an M-size org into the file store, then reopen an engine on it.
 *
 * The org is what the audience layer persists for 10^6 customers plus some
 * campaign-sized records: one checksummed record per customer (id, name, city,
 * tier, dates, contacts), written in import-sized batches with fsync at each
 * commit. Figures: write s, reopen s (eng_store_file_open + eng_open +
 * eng_close), compaction s, bytes on disk and bytes per customer.
 * Second part ("org"): the same through the real layers — customers imported
 * from CSV by the audience layer (attributes, two contacts, consent), three
 * groups, 100 campaigns each with an approved message (audience frozen) — then
 * a reopen timed until the engine has loaded its customers and campaigns.
 * Sizes (ENG_BENCH_SIZE): S = 10^4, M = 10^6 (default), L = 10^7 customers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engage.h"
#include "store/record.h"
#include "base/codec.h"
#include "bench_util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process (user + sys): what a loaded machine does not inflate. */
static double cpu(void) { return bench_cpu_s(); }

/* What the open engine keeps resident since @p before: heap and mapped file pages. */
static void print_rss(const char *label, const char *what, bench_rss before, unsigned long n)
{
    bench_rss r = bench_rss_now();
    printf("W8 %s %s resident after reopen: %.1f MB anonymous, %.1f MB file-backed (%.1f B/customer in all)\n",
           label, what, (double)(r.anon - before.anon) / 1e6, (double)(r.file - before.file) / 1e6,
           (double)(r.total - before.total) / (double)n);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_file_store: %s failed: %d %s: %s\n", what, rc, eng_errstr(rc), eng_error_last()->message);
    exit(1);
}

static const char *const cities[] = {"Pune", "Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Jaipur"};

static long long file_bytes(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void run(const char *label, unsigned long n, const char *path)
{
    unlink(path);
    eng_store *s = NULL;
    int rc;
    double t0 = now(), w0 = cpu();
    if ((rc = eng_store_file_open(path, ENG_STORE_CREATE, NULL, &s)))
        die("open", rc);
    eng__mem mem;
    eng__mem_init(&mem, NULL);
    eng__wr w;
    eng__wr_init(&w, &mem);
    uint64_t rng = 42;
    const unsigned long batch = 10000;
    for (unsigned long i = 0; i < n; i++) {
        if (i % batch == 0 && (rc = eng__kv_begin(s)))
            die("begin", rc);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        char key[32], name[32], phone[16];
        snprintf(key, sizeof key, "a/c/%010lu", i);
        snprintf(name, sizeof name, "customer %lu", i);
        snprintf(phone, sizeof phone, "+9198%08lu", i % 100000000);
        w.len = 0;
        eng__wr_uvar(&w, i);
        eng__wr_str(&w, name);
        eng__wr_str(&w, cities[(rng >> 33) % 7]);
        eng__wr_u8(&w, (uint8_t)((rng >> 40) % 4));          /* tier */
        eng__wr_svar(&w, 19000 + (int64_t)((rng >> 20) % 2000)); /* last purchase (days) */
        eng__wr_str(&w, phone);
        eng__wr_u8(&w, (uint8_t)(rng >> 60));                 /* consent bits */
        if ((rc = eng__rec_put(s, key, strlen(key), ENG__REC_TEST, 1, w.data, w.len)))
            die("put", rc);
        if ((i + 1) % batch == 0 || i + 1 == n)
            if ((rc = eng__kv_commit(s)))
                die("commit", rc);
    }
    eng__wr_free(&w);
    eng_store_free(s);
    double t_write = now() - t0, c_write = cpu() - w0;
    long long bytes = file_bytes(path);

    double t_reopen = 1e9, c_reopen = 1e9;
    bench_rss rss0 = bench_rss_now();
    for (int rep = 0; rep < 3; rep++) { /* best of 3 */
        t0 = now();
        double c0 = cpu();
        if ((rc = eng_store_file_open(path, 0, NULL, &s)))
            die("reopen", rc);
        eng_config cfg;
        eng_config_init(&cfg, ENG_CONFIG_VERSION);
        cfg.store = s;
        eng_engine *e = NULL;
        if ((rc = eng_open(&cfg, &e)))
            die("eng_open", rc);
        double t = now() - t0, c = cpu() - c0;
        t_reopen = t < t_reopen ? t : t_reopen;
        c_reopen = c < c_reopen ? c : c_reopen;
        if (rep == 2) {
            print_rss(label, "records", rss0, n);
            eng__val v;
            if ((rc = eng__kv_get(s, "a/c/0000000000", 14, &v)))
                die("get after reopen", rc);
            eng__val_free(s, &v);
            /* Rewrite a tenth of the customers, then compact. */
            if ((rc = eng__kv_begin(s)))
                die("begin", rc);
            for (unsigned long i = 0; i < n; i += 10) {
                char key[32];
                snprintf(key, sizeof key, "a/c/%010lu", i);
                if ((rc = eng__rec_put(s, key, strlen(key), ENG__REC_TEST, 1, "updated", 7)))
                    die("update", rc);
            }
            if ((rc = eng__kv_commit(s)))
                die("commit", rc);
            long long before = file_bytes(path);
            t0 = now();
            if ((rc = eng_store_file_compact(s)))
                die("compact", rc);
            double t_compact = now() - t0;
            printf("W8 %s compact: %.3f s (%lld -> %lld bytes)\n", label, t_compact, before, file_bytes(path));
        }
        eng_close(e);
    }
    printf("W8 %s customers=%lu write: %.3f s, cpu %.3f s (%.0f records/s, fsync per 10^4-record batch)\n", label, n,
           t_write, c_write, (double)n / t_write);
    printf("W8 %s reopen engine: %.3f s, cpu %.3f s (target <= 1 s at M)\n", label, t_reopen, c_reopen);
    printf("W8 %s bytes on disk: %lld (%.1f bytes/customer)\n", label, bytes, (double)bytes / (double)n);
    unlink(path);
}

#define OK(call) do { int rc_ = (call); if (rc_) die(#call, rc_); } while (0)

static eng_engine *open_engine(const char *path, unsigned flags)
{
    eng_config cfg;
    eng_engine *e;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    OK(eng_store_file_open(path, flags, NULL, &cfg.store));
    OK(eng_open(&cfg, &e));
    return e;
}

static void run_org(const char *label, unsigned long n, const char *path)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    unlink(path);
    size_t cap = n * 96 + 256, len = 0;
    char *csv = malloc(cap);
    if (!csv)
        die("malloc", ENG_ENOMEM);
    len += (size_t)snprintf(csv, cap, "id,tier,city,days_since_purchase,contact.sms,consent.sms,contact.email,consent.email\n");
    for (unsigned long i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "C%lu,%s,%s,%lu,+9198%08lu,%s,c%lu@example.in,yes\n", i,
                                i % 3 ? "silver" : "gold", cities[i % 7], (i * 37) % 365, i % 100000000,
                                i % 10 ? "yes" : "no", i);
    double t0 = now();
    eng_engine *e = open_engine(path, ENG_STORE_CREATE);
    OK(eng_org_create(e, "acme", NULL, "admin", NULL));
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = "asha";
    a.roles = ENG_ROLE_AUTHOR | ENG_ROLE_APPROVER;
    OK(eng_actor_put(e, "admin", &a));
    OK(eng_customers_add_column(e, "admin", "tier", ENG_COL_STRING));
    OK(eng_customers_add_column(e, "admin", "city", ENG_COL_STRING));
    OK(eng_customers_add_column(e, "admin", "days_since_purchase", ENG_COL_INT64));
    OK(eng_customers_import_csv_buffer(e, "admin", csv, len, NULL, NULL));
    free(csv);
    uint32_t g[3];
    OK(eng_group_create_filter(e, "admin", "pune", "city == 'Pune'", &g[0]));
    OK(eng_group_create_filter(e, "admin", "lapsed", "days_since_purchase > 90", &g[1]));
    OK(eng_group_create_combined(e, "admin", "target", ENG_COMBINE_UNION, g, 2, NULL, 0, &g[2]));
    static const char *const inc[] = {"target"};
    eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name}}, 20% off! {{optout}}"}};
    eng_time t = eng_now(e);
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "campaign %d", i);
        eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
        c.name = name;
        c.start = t + ENG_HOUR;
        c.end = t + 30 * ENG_DAY;
        c.objective = ENG_OBJ_BOOST_SALES;
        c.control_percent = 10;
        uint64_t cid, mid;
        OK(eng_campaign_create(e, "asha", &c, &cid, NULL));
        eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
        m.title = "hello";
        m.include = inc;
        m.n_include = 1;
        m.creatives = cr;
        m.n_creatives = 1;
        sched.kind = ENG_SCHEDULE_ONCE;
        sched.at = t + 2 * ENG_DAY;
        m.schedule = &sched;
        OK(eng_message_create(e, "asha", cid, &m, &mid, NULL));
        OK(eng_message_submit(e, "asha", mid, NULL));
        OK(eng_message_approve(e, "admin", mid, NULL, "ok"));
    }
    OK(eng_close(e));
    double t_write = now() - t0;
    long long bytes = file_bytes(path);
    double best = 1e9, best_cpu = 1e9;
    uint64_t count = 0;
    size_t ncamp = 0;
    bench_rss rss0 = bench_rss_now();
    for (int rep = 0; rep < 3; rep++) {
        t0 = now();
        double c0 = cpu();
        e = open_engine(path, 0);
        uint64_t *ids;
        OK(eng_customers_count(e, "admin", &count)); /* loads the customer table */
        OK(eng_campaign_list(e, "admin", &ids, &ncamp));
        double dt = now() - t0, dc = cpu() - c0;
        best = dt < best ? dt : best;
        best_cpu = dc < best_cpu ? dc : best_cpu;
        eng_free(e, ids);
        if (rep == 2)
            print_rss(label, "org", rss0, n);
        OK(eng_close(e));
    }
    if (count != n || ncamp != 100)
        die("reopened org is incomplete", ENG_ERROR);
    printf("W8 %s org write (import %lu customers, 3 groups, 100 approved campaigns): %.3f s\n", label, n, t_write);
    printf("W8 %s org reopen (engine + customers + campaigns loaded): %.3f s, cpu %.3f s (target <= 1 s at M)\n",
           label, best, best_cpu);
    printf("W8 %s org bytes on disk: %lld (%.1f bytes/customer)\n", label, bytes, (double)bytes / (double)n);
    unlink(path);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/engage-w8-%ld.db", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    run("S", 10000, path);
    run_org("S", 10000, path);
    if (size && (size[0] == 'M' || size[0] == 'L')) {
        run("M", 1000000, path);
        run_org("M", 1000000, path);
    }
    if (size && size[0] == 'L') {
        run("L", 10000000, path);
        run_org("L", 10000000, path);
    }
    return 0;
}
