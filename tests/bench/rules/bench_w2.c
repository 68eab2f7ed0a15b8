/* W2 (docs: ../shared/BENCHMARKS.md): rows per second of the 3-predicate
 * filter `tier in ("gold", "platinum") and days_since_purchase > 30 and
 * city == "Pune"` over generated customer columns, evaluated with
 * eng_rule_eval_batch (single thread). The same data goes to SQLite (the
 * sqlite3 CLI) and DuckDB (@duckdb/node-api, single thread) when they are
 * present, and the ratios are printed. Counts are checked against a plain
 * loop and against the SQL engines; timings are only reported. tier and city
 * go in as 1-byte dictionary codes and days as int32 (eng_rule_batch
 * version 2, code_widths: the dictionaries have 4 and 20 entries; DuckDB's
 * ENUM is 1 byte too and its days INTEGER); the line `days8` times the same
 * call with int64 days, `codes4` with 4-byte codes and int64 days, `days16`
 * with int16 days (4 bytes a row; DuckDB gets a SMALLINT form too).
 * Sizes: S = 10^4 always, M = 10^6, L = 10^7 rows, up to ENG_BENCH_SIZE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "engage.h"
#include "bench_util.h"

static uint64_t rng = 0x5eed2026;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *const tiers[] = {"bronze", "silver", "gold", "platinum"};
static const char *const cities[] = {"Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Ahmedabad", "Chennai", "Kolkata",
                                     "Surat", "Pune", "Jaipur", "Lucknow", "Kanpur", "Nagpur", "Indore", "Thane",
                                     "Bhopal", "Visakhapatnam", "Patna", "Vadodara", "Ghaziabad"};
#define NTIERS 4
#define NCITIES 20

static int have(const char *cmd)
{
    char buf[256];
    snprintf(buf, sizeof buf, "command -v %s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

/* Run a shell command, return its stdout (caller frees). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    while (n + 1 < cap) {
        size_t k = fread(out + n, 1, cap - 1 - n, p);
        if (!k)
            break;
        n += k;
    }
    out[n] = 0;
    pclose(p);
    return out;
}

/* Column memory as a host keeping columns would hold it: 2 MiB aligned and
 * offered to the kernel as huge pages (THP is "madvise" on these machines),
 * so sparse reads of a column do not each walk the page table. ENG_BENCH_SMALL_PAGES=1: plain malloc. */
static void *col_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (getenv("ENG_BENCH_SMALL_PAGES")) {
        p = malloc(bytes ? bytes : 1);
    } else {
        size_t len = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, len ? len : huge))
            p = NULL;
#ifdef MADV_HUGEPAGE
        else
            madvise(p, len ? len : huge, MADV_HUGEPAGE);
#endif
    }
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

typedef struct row_src {
    const uint32_t *tier, *city;
    const int64_t *days;
    const uint64_t *city_nulls;
    size_t row;
} row_src;

static int row_get(uint32_t field, eng_rule_value *out, void *user)
{
    const row_src *r = user;
    size_t i = r->row;
    memset(out, 0, sizeof *out);
    if (field == 1) {
        out->type = ENG_RT_INT;
        out->v.i = r->days[i];
        return ENG_OK;
    }
    if (field == 2 && (r->city_nulls[i / 64] >> (i % 64) & 1))
        return ENG_OK;
    const char *s = field == 0 ? tiers[r->tier[i]] : cities[r->city[i]];
    out->type = ENG_RT_STRING;
    out->v.s.ptr = s;
    out->v.s.len = strlen(s);
    return ENG_OK;
}

static void run_size(const char *name, size_t n, const char *bench_dir)
{
    uint32_t *tier = col_alloc(n * sizeof *tier), *city = col_alloc(n * sizeof *city);
    int64_t *days = col_alloc(n * sizeof *days);
    uint64_t *city_nulls = col_alloc((n + 63) / 64 * sizeof *city_nulls);
    uint64_t *sel = col_alloc((n + 63) / 64 * sizeof *sel);
    memset(city_nulls, 0, (n + 63) / 64 * sizeof *city_nulls);
    size_t want = 0;
    for (size_t i = 0; i < n; i++) {
        tier[i] = rnd() % NTIERS;
        days[i] = rnd() % 366;
        city[i] = rnd() % NCITIES;
        if (rnd() % 100 == 0)
            city_nulls[i / 64] |= (uint64_t)1 << (i % 64);
        int is_null = (int)(city_nulls[i / 64] >> (i % 64) & 1);
        want += (tier[i] == 2 || tier[i] == 3) && days[i] > 30 && !is_null && city[i] == 8;
    }
    eng_engine *e;
    if (eng_open(NULL, &e)) {
        fprintf(stderr, "eng_open failed\n");
        exit(1);
    }
    static const eng_rule_field fields[] = {
        {"tier", ENG_RT_STRING, 0}, {"days_since_purchase", ENG_RT_INT, 0}, {"city", ENG_RT_STRING, 0}};
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = 3;
    eng_rule *r;
    const char *text = "tier in (\"gold\", \"platinum\") and days_since_purchase > 30 and city == \"Pune\"";
    if (eng_rule_compile(e, text, &o, &r)) {
        fprintf(stderr, "compile: %s\n", eng_error_last()->message);
        exit(1);
    }
    eng_rule_column cols[3];
    memset(cols, 0, sizeof cols);
    cols[0] = (eng_rule_column){ENG_RT_STRING, 0, tier, NULL, tiers, NULL, NTIERS, NULL};
    cols[1] = (eng_rule_column){ENG_RT_INT, 0, days, NULL, NULL, NULL, 0, NULL};
    cols[2] = (eng_rule_column){ENG_RT_STRING, 0, city, city_nulls, cities, NULL, NCITIES, NULL};
    /* the same codes in one byte each */
    uint8_t *tier8 = col_alloc(n), *city8 = col_alloc(n);
    for (size_t i = 0; i < n; i++) {
        tier8[i] = (uint8_t)tier[i];
        city8[i] = (uint8_t)city[i];
    }
    eng_rule_column cols8[3];
    memcpy(cols8, cols, sizeof cols8);
    cols8[0].data = tier8;
    cols8[2].data = city8;
    /* days as int32 too (its values fit): with 1-byte codes, DuckDB's ENUM
     * layout (ENUM tier and city, INTEGER days; 6 bytes a row) */
    int32_t *days32 = col_alloc(n * sizeof *days32);
    for (size_t i = 0; i < n; i++)
        days32[i] = (int32_t)days[i];
    eng_rule_column cols32[3];
    memcpy(cols32, cols8, sizeof cols32);
    cols32[1].data = days32;
    /* and int16 (a day count fits): 4 bytes a row */
    int16_t *days16 = col_alloc(n * sizeof *days16);
    for (size_t i = 0; i < n; i++)
        days16[i] = (int16_t)days[i];
    eng_rule_column cols16[3];
    memcpy(cols16, cols8, sizeof cols16);
    cols16[1].data = days16;
    static const uint8_t widths[3] = {1, 0, 1}, widths32[3] = {1, 4, 1}, widths16[3] = {1, 2, 1};
    /* 0: 1-byte codes, int32 days (the W2 line); 1: int64 days (days8); 2: 4-byte codes, int64 days (codes4);
     * 3: int16 days (days16) */
    eng_rule_batch bs[4] = {{ENG_RULE_BATCH_VERSION, n, cols32, 3, widths32},
                            {ENG_RULE_BATCH_VERSION, n, cols8, 3, widths},
                            {ENG_RULE_BATCH_VERSION, n, cols, 3, NULL},
                            {ENG_RULE_BATCH_VERSION, n, cols16, 3, widths16}};
    double bw[4] = {1e300, 1e300, 1e300, 1e300}, bc[4] = {1e300, 1e300, 1e300, 1e300};
    size_t counts[4] = {0, 0, 0, 0};
    int reps = bench_reps();
    for (int i = 0; i < reps; i++) { /* interleaved, so all see the same machine */
        for (int w = 0; w < 4; w++) {
            double t0 = now_ms(), c0 = bench_cpu_s();
            if (eng_rule_eval_batch(r, &bs[w], NULL, sel, &counts[w])) {
                fprintf(stderr, "eval: %s\n", eng_error_last()->message);
                exit(1);
            }
            double t = now_ms() - t0, tc = (bench_cpu_s() - c0) * 1e3;
            if (t < bw[w])
                bw[w] = t;
            if (tc < bc[w])
                bc[w] = tc;
        }
    }
    if (counts[0] != want || counts[1] != want || counts[2] != want || counts[3] != want) {
        fprintf(stderr, "W2 %s: libengage selected %zu rows (%zu with int64 days, %zu with 4-byte codes, %zu with "
                "int16 days), the plain loop %zu\n", name, counts[0], counts[1], counts[2], counts[3], want);
        exit(1);
    }
    size_t count = counts[0];
    double best = bw[0], best_cpu = bc[0];
    printf("W2 size=%s rows=%zu selected=%zu libengage_best_ms=%.3f libengage_best_cpu_ms=%.3f rows_per_s=%.0f "
           "bytes_per_row=%zu\n", name, n, count, best, best_cpu, (double)n / (best / 1e3),
           sizeof *tier8 + sizeof *days32 + sizeof *city8);
    printf("W2 size=%s days8 libengage_best_ms=%.3f libengage_best_cpu_ms=%.3f bytes_per_row=%zu\n", name, bw[1],
           bc[1], sizeof *tier8 + sizeof *days + sizeof *city8);
    printf("W2 size=%s codes4 libengage_best_ms=%.3f libengage_best_cpu_ms=%.3f bytes_per_row=%zu\n", name, bw[2],
           bc[2], sizeof *tier + sizeof *days + sizeof *city);
    printf("W2 size=%s days16 libengage_best_ms=%.3f libengage_best_cpu_ms=%.3f rows_per_s=%.0f bytes_per_row=%zu\n",
           name, bw[3], bc[3], (double)n / (bw[3] / 1e3), sizeof *tier8 + sizeof *days16 + sizeof *city8);
    fflush(stdout);

    /* The row path (one accessor call per field read) on the first rows, for comparison. */
    {
        size_t m = n < 1000000 ? n : 1000000, rows_true = 0;
        row_src src = {tier, city, days, city_nulls, 0};
        double t0 = now_ms();
        for (size_t i = 0; i < m; i++) {
            int res;
            src.row = i;
            if (eng_rule_eval_row(r, row_get, &src, &res))
                exit(1);
            rows_true += res == ENG_RULE_TRUE;
        }
        double t = now_ms() - t0;
        printf("W2 size=%s row_path rows=%zu selected=%zu ms=%.3f rows_per_s=%.0f\n", name, m, rows_true, t,
               (double)m / (t / 1e3));
        fflush(stdout);
    }

    /* Same data for the SQL engines. */
    int sqlite = have("sqlite3"), duck = 0;
    char modpath[1024];
    snprintf(modpath, sizeof modpath, "%s/../node_modules/@duckdb/node-api/package.json", bench_dir);
    duck = have("node") && access(modpath, R_OK) == 0;
    if (sqlite || duck) {
        char dir[] = "/tmp/eng-w2-XXXXXX";
        if (!mkdtemp(dir))
            goto done;
        char csv[256], cmd[2048];
        snprintf(csv, sizeof csv, "%s/customers.csv", dir);
        FILE *f = fopen(csv, "w");
        fprintf(f, "tier,days_since_purchase,city\n");
        for (size_t i = 0; i < n; i++) {
            int is_null = (int)(city_nulls[i / 64] >> (i % 64) & 1);
            fprintf(f, "%s,%lld,%s\n", tiers[tier[i]], (long long)days[i], is_null ? "" : cities[city[i]]);
        }
        fclose(f);
        if (sqlite) {
            char sql[256];
            snprintf(sql, sizeof sql, "%s/w2.sql", dir);
            f = fopen(sql, "w");
            /* Two layouts: text columns, and the dictionary layout (tier and city as integer codes, the
             * literals as their codes: SQLite's nearest to DuckDB's ENUM). Each query bench_reps() times. */
            fprintf(f, "create table cities(name text);\n");
            for (int k = 0; k < NCITIES; k++)
                fprintf(f, "insert into cities values ('%s');\n", cities[k]);
            fprintf(f, ".mode csv\ncreate table c(tier text, days_since_purchase integer, city text);\n"
                       ".import --skip 1 %s c\n"
                       "create table cd as select (case tier when 'bronze' then 0 when 'silver' then 1 when 'gold' "
                       "then 2 else 3 end) as tier, days_since_purchase, (select rowid - 1 from cities k where "
                       "k.name = c.city) as city from c;\n.mode list\n.timer on\n", csv);
            static const char *const forms[][2] = {
                {"text", "select count(*) from c where tier in ('gold', 'platinum') and days_since_purchase > 30 "
                         "and city = 'Pune';\n"},
                {"codes", "select count(*) from cd where tier in (2, 3) and days_since_purchase > 30 and city = 8;\n"},
                {"codes_city_first", "select count(*) from cd where city = 8 and days_since_purchase > 30 and "
                                     "tier in (2, 3);\n"},
            };
            for (size_t fi = 0; fi < sizeof forms / sizeof forms[0]; fi++) {
                fprintf(f, ".timer off\nselect 'form %s';\n.timer on\n", forms[fi][0]);
                for (int i = 0; i < bench_reps(); i++)
                    fputs(forms[fi][1], f);
            }
            fclose(f);
            snprintf(cmd, sizeof cmd, "sqlite3 :memory: < %s 2>&1", sql);
            char *out = run(cmd);
            double sbest = 1e300, fbest = 1e300;
            long long scount = -1, fcount = -1;
            char form[64] = "";
            for (char *line = out ? strtok(out, "\n") : NULL;; line = strtok(NULL, "\n")) {
                double real;
                if (!line || !strncmp(line, "form ", 5)) { /* a form ends */
                    if (form[0])
                        printf("W2 size=%s sqlite form %s rows %lld ms %.3f\n", name, form, fcount, fbest);
                    if (form[0] && fcount == (long long)count && fbest < sbest) {
                        sbest = fbest;
                        scount = fcount;
                    } else if (form[0] && scount < 0) {
                        scount = fcount;
                    }
                    if (!line)
                        break;
                    snprintf(form, sizeof form, "%s", line + 5);
                    fbest = 1e300;
                    fcount = -1;
                } else if (sscanf(line, "Run Time: real %lf", &real) == 1) {
                    if (real * 1e3 < fbest)
                        fbest = real * 1e3;
                } else if (line[0] >= '0' && line[0] <= '9') {
                    fcount = atoll(line);
                }
            }
            free(out);
            if (scount != (long long)count)
                printf("W2 size=%s sqlite count %lld differs from libengage %zu\n", name, scount, count);
            else if (sbest <= 0)
                printf("W2 size=%s sqlite_best_ms=<1 (below the CLI timer's resolution)\n", name);
            else
                printf("W2 size=%s sqlite_best_ms=%.3f ratio_sqlite_over_libengage=%.1f\n", name, sbest, sbest / best);
        } else {
            printf("W2 size=%s sqlite: skipped (no sqlite3 CLI)\n", name);
        }
        if (duck) {
            snprintf(cmd, sizeof cmd, "node %s/w2_duckdb.mjs %s %d 2>&1", bench_dir, csv, bench_reps());
            char *out = run(cmd);
            long long dcount = -1;
            double dbest = -1;
            char *c = out ? strstr(out, "count ") : NULL, *m = out ? strstr(out, "best_ms ") : NULL;
            char *mc = out ? strstr(out, "best_cpu_ms ") : NULL;
            double dcpu = mc ? atof(mc + 12) : -1;
            if (c)
                dcount = atoll(c + 6);
            if (m)
                dbest = atof(m + 8);
            for (char *l = out ? strstr(out, "form ") : NULL; l; l = strstr(l + 1, "\nform ")) {
                if (*l == '\n')
                    l++;
                int len = (int)strcspn(l, "\n");
                printf("W2 size=%s duckdb_1thread %.*s\n", name, len, l); /* each layout and query form */
            }
            if (dcount != (long long)count || dbest < 0)
                printf("W2 size=%s duckdb failed or differs (count %lld): %.200s\n", name, dcount, out ? out : "");
            else
                printf("W2 size=%s duckdb_1thread_best_ms=%.3f ratio_duckdb_over_libengage=%.1f duckdb_cpu_ms=%.3f "
                       "cpu_ratio_duckdb_over_libengage=%.1f cpu_ratio_duckdb_over_days16=%.1f\n", name, dbest,
                       dbest / best, dcpu, dcpu / best_cpu, dcpu / bc[3]);
            free(out);
        } else {
            printf("W2 size=%s duckdb: skipped (@duckdb/node-api not in tests/bench/node_modules)\n", name);
        }
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    } else {
        printf("W2 size=%s sqlite/duckdb: skipped (neither is installed)\n", name);
    }
done:
    fflush(stdout);
    eng_rule_free(r);
    eng_close(e);
    free(tier);
    free(city);
    free(days);
    free(city_nulls);
    free(sel);
    free(tier8);
    free(city8);
    free(days32);
    free(days16);
}

int main(int argc, char **argv)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    const char *bench_dir = argc > 1 ? argv[1] : ".";
    char top = size && *size ? size[0] : 'S';
    run_size("S", 10000, bench_dir);
    if (top == 'M' || top == 'L')
        run_size("M", 1000000, bench_dir);
    if (top == 'L')
        run_size("L", 10000000, bench_dir);
    return 0;
}
