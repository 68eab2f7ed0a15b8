/* W3 of BENCHMARKS.md: CSV import of customers streamed from a file, typed on
 * every side, best of 3 in one run, with the resident memory of the process.
 *
 * - libengage: eng_customers_import_csv() reading the file through read(2),
 *   into the memory store and into the file store (fsync at commit);
 * - SQLite (sqlite3 CLI, in-memory database): a table with declared types and
 *   `id TEXT PRIMARY KEY` (libengage keeps an id index and merges duplicate
 *   ids too), `.import` inside one transaction;
 * - DuckDB (w3_duckdb.mjs, one thread): `read_csv` with every column's type
 *   declared (no sniffing) into a table.
 * Resident bytes per customer are VmRSS of this process after the import minus
 * VmRSS just before the engine was opened (malloc_trim first), split into
 * anonymous and file-backed pages, from the first import of each store kind;
 * the peak is VmHWM during that import (reset just before) minus the same start.
 * Sizes: S and M by default (ENG_BENCH_SIZE=S for S only), L with
 * ENG_BENCH_SIZE=L. ENG_BENCH_NO_SQL=1 skips SQLite and DuckDB (libengage
 * figures only, e.g. to compare two builds). Best of 3 is the least wall and the least CPU time of the
 * runs, each on its own (bench_util.h). For libengage also the CPU time of the calling
 * thread and of the others (the parts are applied on a second thread) and the
 * rows/s over the longer of the two, the wall time on an idle machine.
 * Prints figures; asserts nothing about time. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engage.h"
#include "bench_gen.h"
#include "bench_util.h"

#define TA BENCH_TA
#define REPS 3

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_w3: %s: %s (%s) %s\n", what, eng_errstr(rc), eng_error_last()->message,
            eng_error_last()->detail);
    exit(1);
}

/* One import into a new engine over @p store (NULL: memory). Returns the engine. */
static eng_engine *import_once(const char *csv, eng_store *store, size_t n, bench_best *best)
{
    eng_engine *e;
    int rc = bench_gen_engine(store, &e);
    if (rc)
        die("open", rc);
    if ((rc = bench_gen_import_file(e, csv, best)))
        die("import", rc);
    uint64_t count = 0;
    if ((rc = eng_customers_count(e, TA, &count)) || count != n) {
        fprintf(stderr, "bench_w3: imported %llu customers, want %zu\n", (unsigned long long)count, n);
        exit(1);
    }
    return e;
}

static void print_fig(const char *label, const char *who, bench_best f, size_t n, size_t bytes)
{
    printf("W3 size=%s engine=%s best_of=%d wall_ms=%.1f cpu_ms=%.1f rows_per_s=%.0f MB_per_s=%.1f", label, who,
           REPS, f.wall * 1e3, f.cpu * 1e3, (double)n / f.wall, (double)bytes / 1e6 / f.wall);
    if (f.tcpu > 0 && f.tcpu < 1e299) {
        /* libengage applies on a second thread: the longer of the two CPU
         * times is what the wall time is on an idle machine. */
        double crit = f.tcpu > f.other ? f.tcpu : f.other;
        printf(" threads=%u", bench_gen_threads()); /* eng_config.threads (ENG_BENCH_THREADS) */
        printf(" caller_cpu_ms=%.1f other_cpu_ms=%.1f rows_per_cpu_path_s=%.0f MB_per_cpu_path_s=%.1f", f.tcpu * 1e3,
               f.other * 1e3, (double)n / crit, (double)bytes / 1e6 / crit);
    }
    printf("\n");
}

/* libengage over the memory store (path NULL) or a file store at @p path. */
static bench_best run_engage(const char *label, const char *csv, const char *path, size_t n, size_t bytes)
{
    bench_best best = BENCH_BEST_INIT;
    for (int rep = 0; rep < REPS; rep++) {
        if (path)
            unlink(path);
        bench_rss before = bench_rss_now();
        bench_rss_reset_peak();
        eng_store *s = NULL;
        int rc;
        if (path && (rc = eng_store_file_open(path, ENG_STORE_CREATE, NULL, &s)))
            die("file store", rc);
        eng_engine *e = import_once(csv, s, n, &best);
        if (rep == 0) {
            bench_rss after = bench_rss_now();
            uint64_t table = 0;
            eng_customers_memory(e, TA, &table);
            printf("W3 size=%s engine=libengage store=%s resident_bytes_per_customer=%.1f anon=%.1f file=%.1f "
                   "table_heap_bytes_per_customer=%.1f peak_bytes_per_customer=%.1f\n",
                   label, path ? "file" : "memory", (double)(after.total - before.total) / (double)n,
                   (double)(after.anon - before.anon) / (double)n, (double)(after.file - before.file) / (double)n,
                   (double)table / (double)n, (double)(after.peak - before.total) / (double)n);
        }
        eng_close(e);
    }
    if (path)
        unlink(path);
    print_fig(label, path ? "libengage_file_store" : "libengage", best, n, bytes);
    return best;
}

/* SQLite: typed table, one transaction, in-memory database; best of REPS. */
static bench_best run_sqlite(const char *label, const char *csv, const char *tmpdir, size_t n, size_t bytes)
{
    char script[600], cmd[1400], out[512];
    snprintf(script, sizeof script, "%s/w3_%s.sql", tmpdir, label);
    FILE *f = fopen(script, "w");
    if (!f)
        return (bench_best){-1, -1, 0, 0, 0};
    fprintf(f, "create table customers(id text primary key, city text, tier text, age integer, spend numeric,\n"
               "  last_purchase date, \"contact.email\" text, \"consent.email\" boolean, \"contact.sms\" text,\n"
               "  \"consent.sms\" boolean);\n"
               "begin;\n.import --csv --skip 1 %s customers\ncommit;\nselect count(*) from customers;\n", csv);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sqlite3 < %s 2>&1", script);
    bench_best best = BENCH_BEST_INIT;
    for (int rep = 0; rep < REPS; rep++) {
        double w0 = bench_wall_s(), c0 = bench_child_cpu_s();
        FILE *p = popen(cmd, "r");
        size_t k = p ? fread(out, 1, sizeof out - 1, p) : 0;
        out[k] = 0;
        int st = p ? pclose(p) : -1;
        double gw = bench_wall_s() - w0, gc = bench_child_cpu_s() - c0;
        if (st != 0 || strtoull(out, NULL, 10) != n) {
            printf("W3 size=%s engine=sqlite failed or count differs: %.200s\n", label, out);
            unlink(script);
            return (bench_best){-1, -1, 0, 0, 0};
        }
        bench_best_add(&best, gw, gc);
    }
    unlink(script);
    print_fig(label, "sqlite", best, n, bytes);
    return best;
}

/* DuckDB: w3_duckdb.mjs prints "best_ms", "cpu_ms" and "count". */
static bench_best run_duckdb(const char *label, const char *csv, size_t n, size_t bytes)
{
    char cmd[1400], out[2048];
    snprintf(cmd, sizeof cmd, "node %s/w3_duckdb.mjs %s %d 2>&1", getenv("ENG_BENCH_DIR"), csv, REPS);
    FILE *p = popen(cmd, "r");
    size_t k = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[k] = 0;
    int st = p ? pclose(p) : -1;
    const char *b = strstr(out, "best_ms "), *c = strstr(out, "cpu_ms "), *cnt = strstr(out, "count ");
    if (st != 0 || !b || !c || !cnt || strtoull(cnt + 6, NULL, 10) != n) {
        printf("W3 size=%s engine=duckdb failed or count differs: %.300s\n", label, out);
        return (bench_best){-1, -1, 0, 0, 0};
    }
    bench_best f = {atof(b + 8) / 1e3, atof(c + 7) / 1e3, REPS, 0, 0};
    print_fig(label, "duckdb_1thread", f, n, bytes);
    return f;
}

static void ratio(char *buf, double a, double b)
{
    if (a > 0 && b > 0)
        snprintf(buf, 32, "%.2f", a / b);
    else
        snprintf(buf, 32, "-");
}

static void run_size(const char *label, size_t n, int have_sqlite, int have_duck, const char *tmpdir)
{
    char csv[600], fpath[600];
    snprintf(csv, sizeof csv, "%s/customers_%s.csv", tmpdir, label);
    snprintf(fpath, sizeof fpath, "%s/store_%s.eng", tmpdir, label);
    uint8_t *reach = malloc(n);
    size_t bytes = 0;
    if (!reach || bench_gen_customers_file(20261125 + n, n, csv, &bytes, reach) != 0) {
        fprintf(stderr, "bench_w3: cannot write %s\n", csv);
        exit(1);
    }
    free(reach);
    printf("W3 size=%s customers=%zu csv_bytes=%zu\n", label, n, bytes);
    bench_best mem = run_engage(label, csv, NULL, n, bytes);
    bench_best file = run_engage(label, csv, fpath, n, bytes);
    bench_best sq = have_sqlite ? run_sqlite(label, csv, tmpdir, n, bytes) : (bench_best){-1, -1, 0, 0, 0};
    bench_best dk = have_duck ? run_duckdb(label, csv, n, bytes) : (bench_best){-1, -1, 0, 0, 0};
    char r[4][32];
    ratio(r[0], sq.wall, mem.wall);
    ratio(r[1], dk.wall, mem.wall);
    ratio(r[2], sq.wall, file.wall);
    ratio(r[3], dk.wall, file.wall);
    printf("W3 size=%s ratios wall sqlite/libengage=%s duckdb/libengage=%s sqlite/libengage_file=%s "
           "duckdb/libengage_file=%s\n", label, r[0], r[1], r[2], r[3]);
    unlink(csv);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    int level = size && !strcmp(size, "L") ? 2 : size && !strcmp(size, "S") ? 0 : 1;
    const char *nosql = getenv("ENG_BENCH_NO_SQL");
    int sql = !(nosql && *nosql && strcmp(nosql, "0"));
    int have_sqlite = sql && system("sqlite3 -version >/dev/null 2>&1") == 0;
    const char *dir = getenv("ENG_BENCH_DIR");
    char duck[1200];
    struct stat sb;
    snprintf(duck, sizeof duck, "%s/../node_modules/@duckdb/node-api/package.json", dir ? dir : ".");
    int have_duck = sql && dir && stat(duck, &sb) == 0 && system("node --version >/dev/null 2>&1") == 0;
    if (!sql)
        printf("sqlite, duckdb: skipped (ENG_BENCH_NO_SQL)\n");
    else if (!have_sqlite)
        printf("sqlite: skipped (no sqlite3 on PATH)\n");
    if (sql && !have_duck)
        printf("duckdb: skipped (@duckdb/node-api not in tests/bench/node_modules, or no node)\n");
    const char *base = getenv("TMPDIR");
    char tmpdir[512];
    snprintf(tmpdir, sizeof tmpdir, "%s/engage-w3-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    run_size("S", 10000, have_sqlite, have_duck, tmpdir);
    if (level >= 1)
        run_size("M", 1000000, have_sqlite, have_duck, tmpdir);
    if (level >= 2)
        run_size("L", 10000000, have_sqlite, have_duck, tmpdir);
    rmdir(tmpdir);
    return 0;
}
