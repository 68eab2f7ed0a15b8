/* eng_trace_get version 2 at scale: 10,000 per-customer X-Engage traces of one
 * execution over ENG_BENCH_TRACE_N customers (default 100,000), without the
 * checkpoint cache (every call loads the execution's checkpoint: the model of
 * every customer) and with it (one load). Prints the time of each pass in ms
 * of CPU and of wall time, and checks that both passes give the same traces. */
#include <time.h>

#include "../../unit/dispatch/dispatch_fixture.h"
#include "decide/decide.h"

static uint64_t clock_us(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void pass(dx *f, const uint32_t *who, size_t n, size_t cache, eng_trace *out, const char *what)
{
    eng__xe_trace_cache_max = cache;
    eng__xengage_trace_forget(f->e);
    uint64_t w = clock_us(CLOCK_MONOTONIC), c = clock_us(CLOCK_THREAD_CPUTIME_ID);
    unsigned known = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        eng_trace_init(&out[i], ENG_TRACE_VERSION);
        if (eng_trace_get(f->e, "root", f->message, 0, who[i], &out[i]) != ENG_OK) {
            fprintf(stderr, "eng_trace_get: %s\n", eng_error_last()->message);
            exit(1);
        }
        known += out[i].xe_known;
    }
    printf("xengage trace: %zu v2 traces of %zu customers %-22s CPU %9.1f ms (wall %9.1f), %u replayed\n", n, f->n,
           what, (double)(clock_us(CLOCK_THREAD_CPUTIME_ID) - c) / 1000.0,
           (double)(clock_us(CLOCK_MONOTONIC) - w) / 1000.0, known);
    fflush(stdout);
}

int main(void)
{
    const char *o = getenv("ENG_BENCH_TRACE_N");
    size_t n = o ? strtoul(o, NULL, 10) : 100000;
    dx f;
    dx_world(&f, n, 4096, 1, 1);
    dx_xengage(&f);
    dx_run_all(&f, f.t0 + 3 * ENG_HOUR, NULL);
    size_t ntest = 0;
    uint32_t *test = dx_test_group(&f, &ntest);
    size_t k = ntest < 10000 ? ntest : 10000;
    eng_trace *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
    if (!a || !b)
        abort();
    pass(&f, test, k, 0, a, "(no cache)");
    pass(&f, test, k, 2, b, "(checkpoint cache)");
    for (size_t i = 0; i < k; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            fprintf(stderr, "customer %u: traces differ\n", test[i]);
            return 1;
        }
    free(a);
    free(b);
    free(test);
    dx_close(&f);
    return 0;
}
