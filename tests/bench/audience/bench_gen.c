/* Deterministic customer CSV for the audience benchmarks (see bench_gen.h). */
#define _DEFAULT_SOURCE
#include "bench_gen.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* gcc with -fsanitize=undefined reports sprintf into checked buffers as a
 * "null destination" (false positive). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-overflow"
#endif

static const char *cities[] = {"Pune", "Mumbai", "Delhi", "Chennai", "Kolkata", "Goa", "Jaipur", "Surat"};
static const char *tiers[] = {"gold", "silver", "bronze", "none"};

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* One row into p (at most 160 bytes); returns its length. */
static size_t row(uint64_t *s, size_t i, char *p, uint8_t *reach)
{
    char *p0 = p;
    int he = rnd(s) % 100 < 90, ce = rnd(s) % 100 < 94, hs = rnd(s) % 100 < 95;
    reach[i] = (uint8_t)(he && ce);
    uint64_t r = rnd(s);
    p += sprintf(p, "c%zu,%s,%s,%u,%u.%02u,2026-%02u-%02u,", i, cities[r % 8], tiers[(r >> 3) % 4],
                 (unsigned)(18 + (r >> 5) % 60), (unsigned)((r >> 11) % 50000), (unsigned)((r >> 27) % 100),
                 (unsigned)(1 + (r >> 34) % 12), (unsigned)(1 + (r >> 38) % 28));
    if (he)
        p += sprintf(p, "user%zu@example.com", i);
    p += sprintf(p, ",%s,", ce ? "true" : "false");
    if (hs)
        p += sprintf(p, "+91%010zu", 7000000000u + i);
    p += sprintf(p, ",%s\n", rnd(s) % 100 < 80 ? "yes" : "no");
    return (size_t)(p - p0);
}

char *bench_gen_customers(uint64_t seed, size_t n, size_t *len, uint8_t *reach_email)
{
    char *buf = malloc(n * 160 + 256), *p = buf;
    if (!buf)
        return NULL;
    memcpy(p, BENCH_CSV_HEADER, sizeof BENCH_CSV_HEADER - 1);
    p += sizeof BENCH_CSV_HEADER - 1;
    for (size_t i = 0; i < n; i++)
        p += row(&seed, i, p, reach_email);
    *len = (size_t)(p - buf);
    return buf;
}

int bench_gen_customers_file(uint64_t seed, size_t n, const char *path, size_t *len, uint8_t *reach_email)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    char buf[1 << 16];
    size_t k = sizeof BENCH_CSV_HEADER - 1, total = 0;
    memcpy(buf, BENCH_CSV_HEADER, k);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        k += row(&seed, i, buf + k, reach_email);
        if (k > sizeof buf - 200) {
            bad |= fwrite(buf, 1, k, f) != k;
            total += k;
            k = 0;
        }
    }
    bad |= fwrite(buf, 1, k, f) != k;
    total += k;
    bad |= fclose(f) != 0;
    *len = total;
    return bad ? -1 : 0;
}

unsigned bench_gen_threads(void)
{
    const char *t = getenv("ENG_BENCH_THREADS");
    return t && *t ? (unsigned)atoi(t) : 2;
}

int bench_gen_engine(eng_store *store, eng_engine **out)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.store = store;
    cfg.threads = bench_gen_threads();
    int rc = eng_open(&cfg, out);
    if (rc || (rc = eng_org_create(*out, "t", NULL, BENCH_TA, NULL)))
        return rc;
    static const char *const names[] = {"city", "tier", "age", "spend", "last_purchase"};
    static const int types[] = {ENG_COL_STRING, ENG_COL_STRING, ENG_COL_INT64, ENG_COL_DECIMAL, ENG_COL_DATE};
    for (size_t i = 0; i < sizeof names / sizeof *names && !rc; i++)
        rc = eng_customers_add_column(*out, BENCH_TA, names[i], types[i]);
    return rc;
}

static long read_fd(void *buf, size_t cap, void *user)
{
    ssize_t r = read(*(int *)user, buf, cap);
    return r < 0 ? ENG_EIO : (long)r;
}

int bench_gen_import_file(eng_engine *e, const char *path, bench_best *best)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ENG_EIO;
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
    struct stat sb;
    /* The file's size as the hint (ENG_BENCH_NO_HINT=1: none), as a host streaming a file knows it. */
    const char *nh = getenv("ENG_BENCH_NO_HINT");
    if (!(nh && *nh == '1') && fstat(fd, &sb) == 0)
        o.size_hint = (uint64_t)sb.st_size;
    bench_timer t = bench_timer_start();
    int rc = eng_customers_import_csv(e, BENCH_TA, read_fd, &fd, &o, &rep);
    bench_timer_stop(t, best);
    close(fd);
    return rc;
}
