/* Progress at scale (issue 16): the largest stretch between two progress
 * reports of each long operation (engage/engine.h promises a report about
 * every 100 ms of work), in ms of the thread's CPU time (work; on a loaded
 * machine wall time also counts the waits for a core) and of wall time, on
 * one org of ENG_BENCH_SIZE customers (S:
 * 10^4, M: 10^6, L: 10^7) that went through the whole life (progress_gap.h):
 * import, a filter group, a two-channel blast executed, receipts, one
 * transaction per customer; the operations are pg_ops, among them a customer import, a group upload, a
 * transaction import, an approval (its freeze) and a whole execution. Prints, per operation, its CPU and wall time, its
 * reports and the largest gaps with where the CPU one began and ended. Asserts nothing
 * about time. Override the size with ENG_BENCH_PROGRESS_N; ENG_BENCH_PROGRESS_ONLY=text runs only the
 * operations whose name holds text; ENG_BENCH_PROGRESS_TRACE=ms prints every stretch longer than ms of
 * CPU with the monotonic clock (us) at its ends (to find it in `perf record -k CLOCK_MONOTONIC`);
 * ENG_BENCH_PROGRESS_EVERY_US=1 reports at every clock reading instead of every 50 ms, so that the
 * largest gap is the longest single step, whatever the machine's load. */
#include <time.h>

#include "../../unit/dispatch/progress_gap.h"

extern uint64_t eng__prog_every_ns;

static uint64_t clock_us(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_us(void) { return clock_us(CLOCK_MONOTONIC); }
static uint64_t cpu_us(void) { return clock_us(CLOCK_THREAD_CPUTIME_ID); }

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    size_t n = size && size[0] == 'L' ? 10000000 : size && size[0] == 'S' ? 10000 : 1000000;
    const char *o = getenv("ENG_BENCH_PROGRESS_N");
    if (o)
        n = strtoul(o, NULL, 10);
    dx f;
    uint64_t t = wall_us();
    pg_world(&f, n, 4096);
    printf("progress: %zu customers, world built in %.1f s\n", n, (double)(wall_us() - t) / 1e6);
    fflush(stdout);
    double worst = 0;
    const char *only = getenv("ENG_BENCH_PROGRESS_ONLY"), *trace = getenv("ENG_BENCH_PROGRESS_TRACE");
    pg.trace_over = trace ? strtoull(trace, NULL, 10) * 1000u : 0;
    const char *every = getenv("ENG_BENCH_PROGRESS_EVERY_US");
    if (every)
        eng__prog_every_ns = strtoull(every, NULL, 10) * 1000u;
    for (size_t i = 0; i < PG_NOPS; i++) {
        const char *name = pg_ops[i].name;
        pg_op_fn prep = pg_ops[i].prep, run = pg_ops[i].run;
        if (only && !strstr(name, only) && !(run == pg_approve && strstr(pg_ops[i + 1].name, only)))
            continue; /* the execution's message is the approval's */
        int rc = prep ? prep(&f) : ENG_OK;
        t = wall_us();
        uint64_t c = cpu_us();
        pg.meter2 = wall_us;
        if (!rc)
            rc = pg_measure(&f, run, cpu_us);
        if (rc) {
            fprintf(stderr, "%s: %s\n", name, eng_error_last()->message);
            return 1;
        }
        double gap = (double)pg.max / 1000.0;
        printf("progress %-36s CPU %8.1f ms (wall %8.1f), %5llu reports, largest gap CPU %7.1f ms (wall %7.1f) "
               "(%s -> %s)\n",
               name, (double)(cpu_us() - c) / 1000.0, (double)(wall_us() - t) / 1000.0,
               (unsigned long long)pg.reports, gap, (double)pg.max2 / 1000.0, pg.max_from, pg.max_to);
        fflush(stdout);
        if (gap > worst)
            worst = gap;
    }
    printf("progress: largest gap of all %.1f ms of CPU at %zu customers\n", worst, n);
    pg_close(&f);
    return 0;
}
