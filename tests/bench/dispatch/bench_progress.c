/* Progress at scale (issue 16): the largest stretch between two progress
 * reports of each long operation (engage/engine.h promises a report about
 * every 100 ms of work), in ms of the thread's CPU time (work; on a loaded
 * machine wall time also counts the waits for a core) and of wall time, on
 * one org of ENG_BENCH_SIZE customers (S:
 * 10^4, M: 10^6, L: 10^7) that went through the whole life (progress_gap.h):
 * import, a filter group, a two-channel blast executed, receipts, one
 * transaction per customer. Prints, per operation, its CPU and wall time, its
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

/* Two more operations, measured here only (test_progress_gap's unit meter does not count their work
 * yet): the approval of a second message over the whole audience (the audience is frozen), and that
 * message's execution run to the end by eng_run_due, every call one stretch at least. */
static uint64_t second;

static int prep_approve(dx *f)
{
    eng_message_spec m = dx_message();
    m.title = "Second blast";
    m.schedule.at = test_clock_now + ENG_DAY;
    eng_validation *v = NULL;
    int rc = eng_message_create(f->e, "ann", f->campaign, &m, &second, &v);
    eng_validation_free(v);
    v = NULL;
    if (!rc)
        rc = eng_message_submit(f->e, "ann", second, &v);
    eng_validation_free(v);
    return rc;
}

static int run_approve(dx *f)
{
    return eng_message_approve(f->e, "bob", second, NULL, "ok");
}

static int run_execution(dx *f)
{
    eng_time now = test_clock_now + ENG_DAY;
    for (int round = 0; round < 256; round++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f->e, "root", now, NULL, &rep);
        if (rc || rep.pending == 0)
            return rc;
        now = rep.next_due > now ? rep.next_due : now + 1;
    }
    return ENG_OK;
}

static const struct {
    const char *name;
    pg_op_fn prep, run;
} more_ops[] = {
    {"eng_message_approve (freeze)", prep_approve, run_approve},
    {"eng_run_due (execution)", NULL, run_execution},
};

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
    size_t nmore = sizeof more_ops / sizeof more_ops[0];
    for (size_t k = 0; k < PG_NOPS + nmore; k++) {
        /* the extra operations run before retention (the last of pg_ops) ages every event */
        size_t i = k < PG_NOPS - 1 ? k : k < PG_NOPS - 1 + nmore ? PG_NOPS + (k - (PG_NOPS - 1)) : PG_NOPS - 1;
        const char *name = i < PG_NOPS ? pg_ops[i].name : more_ops[i - PG_NOPS].name;
        pg_op_fn prep = i < PG_NOPS ? pg_ops[i].prep : more_ops[i - PG_NOPS].prep;
        pg_op_fn run = i < PG_NOPS ? pg_ops[i].run : more_ops[i - PG_NOPS].run;
        if (only && !strstr(name, only))
            continue;
        if (!strcmp(name, "eng_run_due (execution)") && !second)
            continue; /* its message comes from the approval */
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
    dx_close(&f);
    return 0;
}
