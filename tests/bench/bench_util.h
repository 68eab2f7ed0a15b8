/* Timing and memory helpers shared by the benchmarks (header only).
 *
 * - clocks: wall (CLOCK_MONOTONIC), CPU of the process, of this thread, and of
 *   finished child processes (sqlite3, node), all in seconds;
 * - resident memory from /proc/self/status: VmRSS split into anonymous and
 *   file-backed pages, and the peak (VmHWM, reset by bench_rss_reset_peak());
 *   bench_rss_now() trims the heap first so freed pages are not counted;
 * - best of N: bench_best keeps the run with the least wall time and the least
 *   CPU time seen, and the least CPU time of the calling thread (a call that
 *   hands work to a second thread: process CPU minus it is that thread's).
 * On these shared 2-core machines CPU time is the steadier figure; print both. */
#ifndef ENG_BENCH_UTIL_H
#define ENG_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static inline double bench_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/** Wall-clock seconds (monotonic). */
static inline double bench_wall_s(void) { return bench_clock_s(CLOCK_MONOTONIC); }
/** CPU seconds of the whole process (all threads, user + system). */
static inline double bench_cpu_s(void) { return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID); }
/** CPU seconds of the calling thread. */
static inline double bench_thread_cpu_s(void) { return bench_clock_s(CLOCK_THREAD_CPUTIME_ID); }

/** CPU seconds (user + system) of the child processes waited for so far. */
static inline double bench_child_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e-6;
}

/** Resident bytes of this process (-1 when unknown). */
typedef struct bench_rss {
    long long total, anon, file, peak;
} bench_rss;

/** Resident memory now, without trimming the heap. */
static inline bench_rss bench_rss_read(void)
{
    bench_rss r = {-1, -1, -1, -1};
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            r.total = kb * 1024;
        else if (sscanf(line, "RssAnon: %lld", &kb) == 1)
            r.anon = kb * 1024;
        else if (sscanf(line, "RssFile: %lld", &kb) == 1)
            r.file = kb * 1024;
        else if (sscanf(line, "VmHWM: %lld", &kb) == 1)
            r.peak = kb * 1024;
    }
    if (f)
        fclose(f);
    return r;
}

/** Resident memory now, after returning the heap's free pages (they are nobody's). */
static inline bench_rss bench_rss_now(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return bench_rss_read();
}

/** Resets the peak (VmHWM) to the current resident size; returns 0, or -1 where the kernel cannot. */
static inline int bench_rss_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/** Best of N runs: least wall and least CPU time, each on its own. */
typedef struct bench_best {
    double wall, cpu;
    int runs;
    double tcpu, other; /* least CPU of the calling thread / of the other threads (timers only; else 0) */
} bench_best;

#define BENCH_BEST_INIT {1e300, 1e300, 0, 1e300, 1e300}

static inline void bench_best_add(bench_best *b, double wall, double cpu)
{
    if (wall < b->wall)
        b->wall = wall;
    if (cpu < b->cpu)
        b->cpu = cpu;
    b->runs++;
}

/** A timer: start with bench_timer_start(), read with bench_timer_stop(). */
typedef struct bench_timer {
    double w0, c0, t0;
} bench_timer;

static inline bench_timer bench_timer_start(void)
{
    return (bench_timer){bench_wall_s(), bench_cpu_s(), bench_thread_cpu_s()};
}

/** Adds the time since @p t started to @p b (and returns the wall seconds). */
static inline double bench_timer_stop(bench_timer t, bench_best *b)
{
    double w = bench_wall_s() - t.w0, c = bench_cpu_s() - t.c0, tc = bench_thread_cpu_s() - t.t0;
    if (b) {
        bench_best_add(b, w, c);
        if (tc < b->tcpu)
            b->tcpu = tc;
        if (c - tc < b->other)
            b->other = c - tc;
    }
    return w;
}

/** Repetitions of every timed query, the same for every engine (libengage, SQLite, DuckDB):
 * ENG_BENCH_REPS, 3 when unset; the best run is reported. */
static inline int bench_reps(void)
{
    const char *v = getenv("ENG_BENCH_REPS");
    int n = v && *v ? atoi(v) : 3;
    return n > 0 ? n : 3;
}

#endif
