/* Per-call overhead of the public API on per-row calls (issue 16): every call
 * checks its handle in the process-wide live-handle registry (base/handle.c)
 * and takes the engine's lock. Figures, CPU time per call:
 *   - the registry check alone (eng__handle_live), one thread;
 *   - eng_customer_get / eng_customer_reachable / eng_audience_count per row,
 *     one thread, and two threads each on its own engine (they share only the
 *     registry) -- the second figure shows contention on the registry;
 *   - the share of the check in the per-row call.
 * Sizes (ENG_BENCH_SIZE): S = 10^5 calls a figure, M = 10^6 (default), L = 10^7. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engage.h"
#include "base/handle.h"

#define NCUST 10000

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(const char *what, int rc)
{
    if (rc) {
        fprintf(stderr, "bench_calls: %s failed: %s: %s (%s)\n", what, eng_errstr(rc), eng_error_last()->message,
                eng_error_last()->detail);
        exit(1);
    }
}

static eng_engine *world(void)
{
    eng_engine *e;
    check("open", eng_open(NULL, &e));
    check("org", eng_org_create(e, "acme", NULL, "root", NULL));
    check("column", eng_customers_add_column(e, "root", "first_name", ENG_COL_STRING));
    char *csv = malloc((size_t)NCUST * 64 + 64), *p = csv;
    p += sprintf(p, "id,first_name,contact.email,consent.email\n");
    for (int i = 0; i < NCUST; i++)
        p += sprintf(p, "c%d,Name%d,c%d@example.com,yes\n", i, i, i);
    check("import", eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL));
    free(csv);
    return e;
}

typedef struct job {
    eng_engine *e;
    eng_audience *aud;
    unsigned long calls;
    int what; /* 0 get, 1 reachable, 2 audience count */
    double ns;
} job;

static void *run(void *u)
{
    job *j = u;
    char buf[64];
    size_t len;
    int r;
    uint64_t cnt;
    double t0 = cpu_now();
    for (unsigned long i = 0; i < j->calls; i++) {
        uint32_t id = (uint32_t)(i % NCUST);
        if (j->what == 0)
            check("get", eng_customer_get(j->e, "root", id, "first_name", buf, sizeof buf, &len));
        else if (j->what == 1)
            check("reachable", eng_customer_reachable(j->e, "root", id, ENG_CH_EMAIL, &r));
        else
            check("count", eng_audience_count(j->aud, ENG_PART_ALL, &cnt));
    }
    j->ns = (cpu_now() - t0) * 1e9 / (double)j->calls;
    return NULL;
}

static const char *const names[] = {"eng_customer_get", "eng_customer_reachable", "eng_audience_count"};

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    unsigned long n = 1000000;
    const char *label = "M";
    if (size && strcmp(size, "S") == 0)
        n = 100000, label = "S";
    else if (size && strcmp(size, "L") == 0)
        n = 10000000, label = "L";
    eng_engine *e[2] = {world(), world()};
    eng_audience *aud[2];
    static const char *const inc[] = {"all"};
    for (int k = 0; k < 2; k++) {
        uint32_t g;
        check("group", eng_group_create_filter(e[k], "root", "all", "first_name != \"\"", &g));
        eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
        q.include = inc;
        q.n_include = 1;
        check("resolve", eng_audience_resolve(e[k], "root", &q, &aud[k]));
    }
    /* The registry check alone. */
    double t0 = cpu_now();
    int live = 0;
    for (unsigned long i = 0; i < n; i++)
        live += eng__handle_live(e[i & 1], ENG__H_ENGINE);
    double check_ns = (cpu_now() - t0) * 1e9 / (double)n;
    if (live != (int)n)
        return 1;
    printf("size %s: registry check (eng__handle_live): %.1f ns CPU a call, %lu calls\n", label, check_ns, n);
    for (int w = 0; w < 3; w++) {
        job one = {e[0], aud[0], n, w, 0};
        run(&one);
        job two[2] = {{e[0], aud[0], n, w, 0}, {e[1], aud[1], n, w, 0}};
        pthread_t th;
        pthread_create(&th, NULL, run, &two[1]);
        run(&two[0]);
        pthread_join(th, NULL);
        double both = (two[0].ns + two[1].ns) / 2;
        printf("size %s: %s: %.1f ns CPU a call (1 thread), %.1f (2 threads, 2 engines); check %.0f%% of a call\n",
               label, names[w], one.ns, both, 100.0 * check_ns / one.ns);
    }
    for (int k = 0; k < 2; k++) {
        eng_audience_free(aud[k]);
        eng_close(e[k]);
    }
    return 0;
}
