/* W8: write an M-size org into the file store, then reopen an engine on it.
 *
 * The org is what the audience layer persists for 10^6 customers plus some
 * campaign-sized records: one checksummed record per customer (id, name, city,
 * tier, dates, contacts), written in import-sized batches with fsync at each
 * commit. Figures: write s, reopen s (eng_store_file_open + eng_open +
 * eng_close), compaction s, bytes on disk and bytes per customer.
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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
    double t0 = now();
    if ((rc = eng_store_file_open(&s, path, ENG_STORE_CREATE, NULL)))
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
    double t_write = now() - t0;
    long long bytes = file_bytes(path);

    double t_reopen = 1e9;
    for (int rep = 0; rep < 3; rep++) { /* best of 3 */
        t0 = now();
        if ((rc = eng_store_file_open(&s, path, 0, NULL)))
            die("reopen", rc);
        eng_config cfg;
        eng_config_init(&cfg, ENG_CONFIG_VERSION);
        cfg.store = s;
        eng_engine *e = NULL;
        if ((rc = eng_open(&cfg, &e)))
            die("eng_open", rc);
        double t = now() - t0;
        t_reopen = t < t_reopen ? t : t_reopen;
        if (rep == 2) {
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
    printf("W8 %s customers=%lu write: %.3f s (%.0f records/s, fsync per 10^4-record batch)\n", label, n, t_write,
           (double)n / t_write);
    printf("W8 %s reopen engine: %.3f s (target <= 1 s at M)\n", label, t_reopen);
    printf("W8 %s bytes on disk: %lld (%.1f bytes/customer)\n", label, bytes, (double)bytes / (double)n);
    unlink(path);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/engage-w8-%ld.db", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    run("S", 10000, path);
    if (size && (size[0] == 'M' || size[0] == 'L'))
        run("M", 1000000, path);
    if (size && size[0] == 'L')
        run("L", 10000000, path);
    return 0;
}
