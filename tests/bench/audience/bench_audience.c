/* Benchmark W1 (resolve an audience) of BENCHMARKS.md, at S always, M when
 * ENG_BENCH_SIZE is M or L, and L when it is L (W3, the CSV import, is
 * bench_w3.c). Data is generated from a fixed seed. When the sqlite3 CLI is on
 * PATH the same data is written as CSV and the equivalent SQL is timed there
 * too; DuckDB (audience_duckdb.mjs, single thread) runs only when
 * tests/bench/node_modules/@duckdb/node-api exists.
 * Prints one line per figure; asserts nothing about time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engage.h"
#include "bench_gen.h"
#include "bench_util.h"

/* gcc with -fsanitize=undefined reports sprintf into checked buffers as a
 * "null destination" (false positive; xmalloc never returns NULL). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-overflow"
#endif

static uint64_t rng;
static uint64_t rnd(void)
{
    uint64_t x = (rng += 0x9e3779b97f4a7c15ull);
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

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s) %s\n", what, eng_errstr(rc), eng_error_last()->message, eng_error_last()->detail);
    exit(1);
}

static int tmp_write(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Run sqlite3 on a script and return its wall time in ms (-1 on failure). */
static double run_sqlite(const char *db, const char *script, char *out, size_t outcap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sqlite3 %s < %s 2>&1", db, script);
    double t0 = bench_wall_s();
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t k = 0;
    int c;
    while ((c = fgetc(p)) != EOF)
        if (k + 1 < outcap)
            out[k++] = (char)c;
    out[k] = 0;
    int st = pclose(p);
    double t = (bench_wall_s() - t0) * 1e3;
    return st == 0 ? t : -1;
}

static void fmt_or_dash(char *buf, double v, int prec)
{
    if (v < 0)
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%.*f", prec, v);
}

#define TA BENCH_TA

/* libengage's split as docs/audiences.md states it, for the DuckDB side to
 * compute the same one: test when mix64(mix64(split_seed) ^ dense_id) <
 * (100 - control_percent) / 100 * 2^64 (dense ids are the import order here). */
static uint64_t split_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t split_seedmix(uint64_t seed) { return split_mix64(seed); }
static uint64_t split_threshold(unsigned control_percent)
{
    double t = (100.0 - (double)control_percent) / 100.0 * 18446744073709551616.0;
    return control_percent == 0 || t >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)t;
}

static void run_size(const char *label, size_t n, int have_sqlite, int have_duck, const char *tmpdir)
{
    rng = 20261125 + n;
    uint8_t *reach = xmalloc(n);
    size_t csvlen;
    char *csv = bench_gen_customers(20261125 + n, n, &csvlen, reach);
    if (!csv)
        die("generate", ENG_ENOMEM);

    eng_engine *e;
    int rc = bench_gen_engine(NULL, &e);
    if (rc)
        die("open", rc);

    /* The customers (W3 times this import: bench_w3.c). */
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    if ((rc = eng_customers_import_csv_buffer(e, TA, csv, csvlen, NULL, &rep)))
        die("import", rc);
    double t0;

    /* W1 setup: three include groups and one exclude group by upload (not timed). */
    static const double dens[4] = {0.30, 0.20, 0.10, 0.05};
    uint32_t g[4];
    uint8_t *mem_of = xmalloc(n);
    memset(mem_of, 0, n); /* bit k: in group k */
    char (*idbuf)[24] = xmalloc(n * sizeof *idbuf);
    const char **ids = xmalloc(n * sizeof *ids);
    for (int k = 0; k < 4; k++) {
        char name[16];
        snprintf(name, sizeof name, "g%d", k);
        if ((rc = eng_group_create_uploaded(e, TA, name, &g[k])))
            die("group", rc);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if ((double)(rnd() % 1000000) < dens[k] * 1e6) {
                snprintf(idbuf[m], sizeof idbuf[m], "c%zu", i);
                ids[m] = idbuf[m];
                m++;
                mem_of[i] |= (uint8_t)(1u << k);
            }
        if ((rc = eng_group_upload_ids(e, TA, g[k], ids, m, ENG_UPLOAD_REPLACE, NULL, NULL)))
            die("upload", rc);
    }
    char gname[4][16]; /* groups named by decimal id */
    const char *gn[4];
    for (int k = 0; k < 4; k++) {
        snprintf(gname[k], sizeof gname[k], "%u", g[k]);
        gn[k] = gname[k];
    }
    eng_audience_query o = ENG_AUDIENCE_QUERY_INIT;
    o.include = gn;
    o.n_include = 3;
    o.exclude = &gn[3];
    o.n_exclude = 1;
    o.channels = 1u << ENG_CH_EMAIL;
    o.split_seed = 42;
    o.control_percent = 10;
    double best = 1e30, best_cpu = 1e30, first = 0;
    uint64_t all = 0, test = 0;
    for (int rep3 = 0; rep3 < bench_reps(); rep3++) {
        eng_audience *a;
        t0 = bench_wall_s();
        double c0 = bench_cpu_s();
        if ((rc = eng_audience_resolve(e, TA, &o, &a)))
            die("resolve", rc);
        double t = (bench_wall_s() - t0) * 1e3, tc = (bench_cpu_s() - c0) * 1e3;
        if (rep3 == 0)
            first = t; /* the first resolve with this seed also fills the org's split cache */
        if (t < best)
            best = t;
        if (tc < best_cpu)
            best_cpu = tc;
        eng_audience_count(a, ENG_PART_ALL, &all);
        eng_audience_count(a, ENG_PART_TEST, &test);
        eng_audience_free(a);
    }
    uint64_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += (mem_of[i] & 7) && !(mem_of[i] & 8) && reach[i];
    if (want != all) {
        fprintf(stderr, "W1: resolved %llu customers, reference says %llu\n", (unsigned long long)all,
                (unsigned long long)want);
        exit(1);
    }
    printf("W1 size=%s customers=%zu resolve_ms=%.2f resolve_cpu_ms=%.2f first_resolve_ms=%.2f audience=%llu test=%llu "
           "control=%llu\n", label, n, best, best_cpu, first,
           (unsigned long long)all, (unsigned long long)test, (unsigned long long)(all - test));

    double duck_w1 = -1, sq_w1 = -1;
    if (have_sqlite || have_duck) {
        /* The same data for SQLite and DuckDB: members(grp, cust), reach(cust, email). */
        char path[512], db[512], script[512], out[4096];
        snprintf(db, sizeof db, "%s/w1_%s.db", tmpdir, label);
        snprintf(script, sizeof script, "%s/w1_%s.sql", tmpdir, label);
        unlink(db);
        snprintf(path, sizeof path, "%s/customers_%s.csv", tmpdir, label);
        tmp_write(path, csv, csvlen);
        size_t cap = n * 24 + 64, k = 0;
        char *mcsv = xmalloc(cap), *rcsv = xmalloc(n * 16 + 64);
        memcpy(mcsv, "grp,cust\n", 9);
        k = 9;
        memcpy(rcsv, "cust,email\n", 11);
        size_t rk = 11, bk = 0;
        char *bcsv = xmalloc(n * 24 + 64); /* membership columns: cust,g1,g2,g3,g4,email */
        bk = (size_t)sprintf(bcsv, "cust,g1,g2,g3,g4,email\n");
        for (size_t i = 0; i < n; i++) {
            for (int b = 0; b < 4; b++)
                if (mem_of[i] & (1u << b))
                    k += (size_t)sprintf(mcsv + k, "%d,%zu\n", b + 1, i);
            rk += (size_t)sprintf(rcsv + rk, "%zu,%d\n", i, reach[i]);
            bk += (size_t)sprintf(bcsv + bk, "%zu,%d,%d,%d,%d,%d\n", i, mem_of[i] & 1, mem_of[i] >> 1 & 1,
                                  mem_of[i] >> 2 & 1, mem_of[i] >> 3 & 1, reach[i]);
        }
        char mpath[512], rpath[512], bpath[512];
        snprintf(mpath, sizeof mpath, "%s/members_%s.csv", tmpdir, label);
        snprintf(rpath, sizeof rpath, "%s/reach_%s.csv", tmpdir, label);
        snprintf(bpath, sizeof bpath, "%s/cb_%s.csv", tmpdir, label);
        tmp_write(mpath, mcsv, k);
        tmp_write(rpath, rcsv, rk);
        tmp_write(bpath, bcsv, bk);
        free(mcsv);
        free(rcsv);
        free(bcsv);
        if (have_duck) {
            char cmd[2048], dout[4096];
            snprintf(cmd, sizeof cmd, "node %s/audience_duckdb.mjs %s %s %s %d %llu %llu 2>&1", getenv("ENG_BENCH_DIR"),
                     path, mpath, rpath, bench_reps(), (unsigned long long)split_seedmix(o.split_seed),
                     (unsigned long long)split_threshold(o.control_percent));
            FILE *pp = popen(cmd, "r");
            size_t dk = 0;
            int ch;
            while (pp && (ch = fgetc(pp)) != EOF)
                if (dk + 1 < sizeof dout)
                    dout[dk++] = (char)ch;
            dout[dk] = 0;
            int st = pp ? pclose(pp) : -1;
            const char *cs = strstr(dout, "count "), *bs = strstr(dout, "best_ms "), *bc = strstr(dout, "best_cpu_ms ");
            unsigned long long dcount = cs ? strtoull(cs + 6, NULL, 10) : 0;
            for (char *l = strstr(dout, "form "); l; l = strstr(l + 1, "\nform ")) {
                if (*l == '\n')
                    l++;
                printf("W1 size=%s duckdb_1thread %.*s\n", label, (int)strcspn(l, "\n"), l); /* each layout and form */
            }
            const char *tm = strstr(dout, "test_mix64 ");
            unsigned long long dtest = tm ? strtoull(tm + 11, NULL, 10) : 0;
            if (tm && dtest == test)
                printf("W1 size=%s duckdb test_mix64=%llu equals libengage test=%llu (same split function)\n", label,
                       dtest, (unsigned long long)test);
            else
                printf("W1 size=%s duckdb test_mix64=%llu DIFFERS from libengage test=%llu\n", label, dtest,
                       (unsigned long long)test);
            if (st != 0 || !cs || !bs || dcount != all || !tm || dtest != test)
                printf("W1 size=%s duckdb: failed or differs (count %llu): %.200s\n", label, dcount, dout);
            else {
                double dw1 = atof(bs + 8);
                duck_w1 = dw1;
                double dc = bc ? atof(bc + 12) : -1;
                printf("W1 size=%s duckdb_1thread_ms=%.2f ratio_duckdb_over_libengage=%.1f duckdb_cpu_ms=%.2f "
                       "cpu_ratio_duckdb_over_libengage=%.1f\n", label, dw1, dw1 / best, dc, dc / best_cpu);
            }
        }
        if (!have_sqlite)
            goto cleanup;
        FILE *f;
        /* W1 setup in SQLite (not timed): tables and indexes. */
        f = fopen(script, "w");
        fprintf(f, "create table members(grp integer, cust integer);\ncreate table reach(cust integer primary key, email integer);\n"
                   "create table cb(cust integer primary key, g1 integer, g2 integer, g3 integer, g4 integer, "
                   "email integer);\n"
                   ".mode csv\n.import --skip 1 %s members\n.import --skip 1 %s reach\n.import --skip 1 %s cb\n"
                   "create index members_grp on members(grp, cust);\nanalyze;\n", mpath, rpath, bpath);
        fclose(f);
        if (run_sqlite(db, script, out, sizeof out) < 0) {
            printf("W1 size=%s sqlite: setup failed: %.200s\n", label, out);
        } else {
            /* Every form runs bench_reps() times in one sqlite3 process; the best run of the best form counts. */
            static const char *const forms[][2] = {
                {"members_except_join",
                 "with aud as (select cust from members where grp in (1,2,3) except select cust from members where "
                 "grp = 4)\nselect count(*), sum(((a.cust * 2654435761) % 1000) < 900) from aud a join reach r on "
                 "r.cust = a.cust where r.email = 1;\n"},
                {"membership_columns", "select count(*), sum(((cust * 2654435761) % 1000) < 900) from cb where "
                                       "(g1 or g2 or g3) and not g4 and email;\n"},
                {"membership_columns_email_first",
                 "select count(*), sum(((cust * 2654435761) % 1000) < 900) from cb where email = 1 and g4 = 0 and "
                 "(g1 = 1 or g2 = 1 or g3 = 1);\n"},
            };
            double bestq = 1e30;
            unsigned long long sq_all = 0;
            for (size_t fi = 0; fi < sizeof forms / sizeof forms[0]; fi++) {
                f = fopen(script, "w");
                fprintf(f, ".timer on\n");
                for (int r = 0; r < bench_reps(); r++)
                    fputs(forms[fi][1], f);
                fclose(f);
                if (run_sqlite(db, script, out, sizeof out) < 0) {
                    printf("W1 size=%s sqlite form %s: query failed: %.200s\n", label, forms[fi][0], out);
                    continue;
                }
                double fb = 1e30;
                for (const char *rt = strstr(out, "Run Time: real "); rt; rt = strstr(rt + 1, "Run Time: real ")) {
                    double q = atof(rt + 15) * 1e3;
                    if (q < fb)
                        fb = q;
                }
                unsigned long long fa = strtoull(out, NULL, 10);
                printf("W1 size=%s sqlite form %s rows %llu ms %.2f\n", label, forms[fi][0], fa, fb);
                if (fa != all)
                    printf("W1 size=%s sqlite form %s: count %llu differs from libengage %llu\n", label,
                           forms[fi][0], fa, (unsigned long long)all);
                else if (fb < bestq) {
                    bestq = fb;
                    sq_all = fa;
                }
            }
            if (bestq < 1e30) {
                sq_w1 = bestq;
                printf("W1 size=%s sqlite_ms=%.2f sqlite_audience=%llu ratio_sqlite_over_libengage=%.1f\n", label,
                       bestq, sq_all, bestq / best);
            }
        }
    cleanup:
        unlink(db);
        unlink(path);
        unlink(mpath);
        unlink(rpath);
        unlink(bpath);
        unlink(script);
    }
    /* One comparison line per workload: libengage / SQLite / DuckDB times in ms and the ratios ("-" when skipped). */
    char f[4][32];
    fmt_or_dash(f[0], sq_w1, 2);
    fmt_or_dash(f[1], duck_w1, 2);
    fmt_or_dash(f[2], sq_w1 >= 0 ? sq_w1 / best : -1, 1);
    fmt_or_dash(f[3], duck_w1 >= 0 ? duck_w1 / best : -1, 1);
    printf("W1 size=%s libengage/sqlite/duckdb_ms=%.2f/%s/%s sqlite/libengage=%s duckdb/libengage=%s\n", label, best,
           f[0], f[1], f[2], f[3]);
    free(idbuf);
    free(ids);
    free(mem_of);
    free(reach);
    free(csv);
    eng_close(e);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    int level = size && !strcmp(size, "L") ? 2 : size && !strcmp(size, "M") ? 1 : 0;
    const char *nosql = getenv("ENG_BENCH_NO_SQL"); /* libengage only: profiling runs */
    int sql = !(nosql && *nosql && strcmp(nosql, "0"));
    int have_sqlite = sql && system("sqlite3 -version >/dev/null 2>&1") == 0;
    const char *base = getenv("TMPDIR");
    char tmpdir[512];
    snprintf(tmpdir, sizeof tmpdir, "%s/engage-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (sql && !have_sqlite)
        printf("sqlite: skipped (no sqlite3 on PATH)\n");
    const char *dir = getenv("ENG_BENCH_DIR");
    char duck[1200];
    struct stat sb;
    snprintf(duck, sizeof duck, "%s/../node_modules/@duckdb/node-api/package.json", dir ? dir : ".");
    int have_duck = sql && dir && stat(duck, &sb) == 0 && system("node --version >/dev/null 2>&1") == 0;
    if (!sql)
        printf("sqlite, duckdb: skipped (ENG_BENCH_NO_SQL)\n");
    else if (!have_duck)
        printf("duckdb: skipped (@duckdb/node-api not in tests/bench/node_modules, or no node)\n");
    run_size("S", 10000, have_sqlite, have_duck, tmpdir);
    if (level >= 1)
        run_size("M", 1000000, have_sqlite, have_duck, tmpdir);
    if (level >= 2)
        run_size("L", 10000000, have_sqlite, have_duck, tmpdir);
    rmdir(tmpdir);
    return 0;
}
