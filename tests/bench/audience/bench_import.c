/* The customer import alone, for profiling (perf record) and for comparing
 * builds: generates the W3 CSV once (bench_gen.c) unless it exists, then
 * imports it ENG_BENCH_REPS times (default 3) through eng_customers_import_csv()
 * and read(2) into a new file store (ENG_BENCH_STORE=memory: the memory
 * store; ENG_BENCH_SOURCE=buffer: the file read into memory first and imported
 * with eng_customers_import_csv_buffer(), so the input size is known), each in
 * a new engine, and prints wall and CPU time of each import.
 * Usage: bench_import [csv-path]; ENG_BENCH_SIZE=S|M|L (default M). The CSV is
 * kept, so the next run (or a perf record of it) skips the generation. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engage.h"
#include "bench_gen.h"
#include "bench_util.h"

#define TA BENCH_TA

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_import: %s: %s (%s) %s\n", what, eng_errstr(rc), eng_error_last()->message,
            eng_error_last()->detail);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *size = getenv("ENG_BENCH_SIZE"), *reps_s = getenv("ENG_BENCH_REPS"), *sk = getenv("ENG_BENCH_STORE");
    size_t n = size && !strcmp(size, "L") ? 10000000 : size && !strcmp(size, "S") ? 10000 : 1000000;
    const char *label = size && *size ? size : "M";
    int reps = reps_s ? atoi(reps_s) : 3, mem = sk && !strcmp(sk, "memory");
    char csv[600], store[640];
    const char *tmp = getenv("TMPDIR");
    if (argc > 1)
        snprintf(csv, sizeof csv, "%s", argv[1]);
    else
        snprintf(csv, sizeof csv, "%s/engage-import-%s.csv", tmp && *tmp ? tmp : "/tmp", label);
    snprintf(store, sizeof store, "%s.eng", csv);
    struct stat sb;
    if (stat(csv, &sb) != 0) {
        size_t bytes;
        uint8_t *reach = malloc(n);
        if (!reach || bench_gen_customers_file(20261125 + n, n, csv, &bytes, reach) != 0)
            die("generate", ENG_EIO);
        free(reach);
        stat(csv, &sb);
    }
    const char *src = getenv("ENG_BENCH_SOURCE");
    char *buf = NULL;
    if (src && !strcmp(src, "buffer")) {
        FILE *f = fopen(csv, "rb");
        if (!f || !(buf = malloc((size_t)sb.st_size + 1)) || fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
            die("read", ENG_EIO);
        fclose(f);
    }
    for (int rep = 0; rep < reps; rep++) {
        unlink(store);
        eng_store *s = NULL;
        eng_engine *e;
        int rc;
        if (!mem && (rc = eng_store_file_open(store, ENG_STORE_CREATE, NULL, &s)))
            die("file store", rc);
        if ((rc = bench_gen_engine(s, &e)))
            die("open", rc);
        bench_best t = BENCH_BEST_INIT;
        if (buf) { /* ENG_BENCH_SOURCE=buffer: the file read first, imported from memory (its size known) */
            bench_timer tm = bench_timer_start();
            rc = eng_customers_import_csv_buffer(e, TA, buf, (size_t)sb.st_size, NULL, NULL);
            bench_timer_stop(tm, &t);
        } else {
            rc = bench_gen_import_file(e, csv, &t);
        }
        if (rc)
            die("import", rc);
        double w = t.wall, c = t.cpu, tc = t.tcpu;
        struct stat ss;
        long long sbytes = !mem && stat(store, &ss) == 0 ? (long long)ss.st_size : -1;
        uint64_t count = 0;
        if ((rc = eng_customers_count(e, TA, &count)) || count != n)
            die("count", rc ? rc : ENG_ESTATE);
        /* Two threads: the longer of the two CPU times is the wall time on an idle machine. */
        double crit = tc > c - tc ? tc : c - tc;
        printf("import size=%s store=%s source=%s threads=%u rows=%zu wall_ms=%.1f cpu_ms=%.1f caller_cpu_ms=%.1f other_cpu_ms=%.1f "
               "rows_per_cpu_s=%.2fM rows_per_crit_s=%.2fM MB_per_crit_s=%.0f store_bytes=%lld\n",
               label, mem ? "memory" : "file", buf ? "buffer" : "read", bench_gen_threads(), n, w * 1e3, c * 1e3, tc * 1e3, (c - tc) * 1e3, (double)n / c / 1e6,
               (double)n / crit / 1e6, (double)sb.st_size / crit / 1e6, sbytes);
        eng_close(e);
    }
    unlink(store);
    free(buf);
    return 0;
}
