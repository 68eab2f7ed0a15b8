/* A crash of the file store's process at its nth write, for crash harnesses that
 * fork a child to die (events_killed, dispatch_killed).
 *
 * crash_arm(nth, 0) installs the store's I/O hook (store/file_impl.h): the nth write
 * is cut to a prefix of itself (none, some or all of it: eighths chosen by nth) and
 * fails; the process then exits (0) at the store's next I/O, before anything is
 * taken back, as a kill would leave the file. The caller exits too when
 * crash_dead is set after a call. crash_arm(nth, 1): the write fails the same way
 * and the process goes on (a storage error, not a crash). nth 0: no fault; the
 * writes are counted in crash_writes either way. Syncs are skipped (a kill keeps
 * the page cache).
 *
 * And kills while the engine's kept threads are busy: crash_busy_* below. */
#ifndef TEST_CRASH_POINT_H
#define TEST_CRASH_POINT_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/tpool.h"
#include "store/file_impl.h"

static uint64_t crash_writes, crash_nth;
static int crash_dead, crash_goes_on;

static inline int crash_hook(int op, size_t *n)
{
    if (crash_dead && !crash_goes_on)
        _exit(0); /* the crash: nothing after the cut write reaches the file */
    if (op != ENG__IO_WRITE)
        return op == ENG__IO_FSYNC ? -1 : 0;
    if (++crash_writes != crash_nth)
        return 0;
    crash_dead = 1;
    if (n)
        *n = (size_t)((*n * ((crash_nth * 5) % 9)) / 8);
    return EIO;
}

static inline void crash_arm(uint64_t nth, int goes_on)
{
    crash_writes = 0;
    crash_nth = nth;
    crash_dead = 0;
    crash_goes_on = goes_on;
    eng__file_io_fault = crash_hook;
}

static inline void crash_disarm(void) { eng__file_io_fault = NULL; }

/* Kills while the engine's kept threads run jobs (base/tpool.h's job hook).
 * crash_busy_map() (in the parent, before its children) maps what the hook counts
 * into memory the parent shares: jobs started since the arm, and jobs running now
 * (read after a kill: what ran when the process died). crash_busy_arm(nth, ns) in
 * the child kills the process as its nth job starts (ns 0), or @p ns nanoseconds
 * after, from a thread of its own, that job running until then as a slow one would
 * (a batch's jobs take microseconds: a delay would land after them) while the other
 * threads go on: the caller's writes, the other jobs; nth 0 only counts. */
#define CRASH_JOBS 16384 /* the jobs whose durations crash_busy_time records */

typedef struct crash_busy_t {
    _Atomic uint64_t entries;
    _Atomic int inside;
    _Atomic int ended; /* crash_busy_arm_mid: the nth job's work was done before the kill */
    _Atomic int mid;   /* ... and the kill went out while it was not */
    uint32_t ns[CRASH_JOBS]; /* crash_busy_time: the kth job's duration (ns, at most ~4 s) */
} crash_busy_t;

static crash_busy_t *crash_busy;
static _Atomic uint64_t crash_busy_nth; /* changed between a child's calls (soak_filestore) */
static long crash_busy_ns;
static int crash_busy_runs, crash_busy_timing; /* crash_busy_arm_mid; crash_busy_time */
static sem_t crash_busy_go;

/* The jobs a thread is in (a long job may run a group's jobs inside it: eng__tpool_serve) */
enum { CRASH_NEST = 8 };
static _Thread_local uint64_t crash_tl_job[CRASH_NEST];
static _Thread_local struct timespec crash_tl_t0[CRASH_NEST];
static _Thread_local int crash_tl_depth;

/* crash_busy_arm_mid: the kill comes from a signal to the job's own thread, where
 * it interrupts the job's work (a thread of its own woke too late: jobs of a few
 * hundred microseconds were done by then). A thread descheduled meanwhile gets the
 * signal when it runs again, where its work had stopped. */
static inline void crash_busy_signal(int sig)
{
    (void)sig;
    atomic_store(&crash_busy->mid, !atomic_load(&crash_busy->ended));
    kill(getpid(), SIGKILL);
}

static inline void crash_busy_timer(void)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGUSR2;
    ev._sigev_un._tid = gettid();
    sigset_t one; /* the pool's workers block every signal */
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    timer_t t;
    struct itimerspec its = {{0, 0}, {crash_busy_ns / 1000000000, crash_busy_ns % 1000000000}};
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) || timer_settime(t, 0, &its, NULL))
        kill(getpid(), SIGKILL);
}

static inline void crash_busy_hook(int starting)
{
    if (!starting) {
        int d = crash_tl_depth ? --crash_tl_depth : CRASH_NEST; /* 0: armed inside a job */
        uint64_t k = d < CRASH_NEST ? crash_tl_job[d] : 0;
        if (crash_busy_timing && k && k <= CRASH_JOBS) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            int64_t ns = (int64_t)(t.tv_sec - crash_tl_t0[d].tv_sec) * 1000000000 + (t.tv_nsec - crash_tl_t0[d].tv_nsec);
            crash_busy->ns[k - 1] = ns > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
        }
        if (crash_busy_runs && k == crash_busy_nth) {
            atomic_store(&crash_busy->ended, 1);
            for (int i = 0; i < 10000; i++) /* its work done before the kill: the group never learns it */
                usleep(100);
            kill(getpid(), SIGKILL); /* a signal never delivered: the kill all the same, not mid-work */
        }
        atomic_fetch_sub(&crash_busy->inside, 1);
        return;
    }
    atomic_fetch_add(&crash_busy->inside, 1);
    uint64_t k = atomic_fetch_add(&crash_busy->entries, 1) + 1;
    int d = crash_tl_depth++;
    if (d < CRASH_NEST) {
        crash_tl_job[d] = k;
        if (crash_busy_timing)
            clock_gettime(CLOCK_MONOTONIC, &crash_tl_t0[d]);
    }
    if (k != crash_busy_nth)
        return;
    if (!crash_busy_ns)
        kill(getpid(), SIGKILL);
    if (crash_busy_runs) { /* the job works until the kill */
        crash_busy_timer();
        return;
    }
    sem_post(&crash_busy_go);
    for (;;)
        sched_yield(); /* the job runs until the kill */
}

static inline void *crash_busy_killer(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1UL); /* the sleep as asked, not rounded up by 50 us */
    while (sem_wait(&crash_busy_go) && errno == EINTR)
        ;
    struct timespec ts = {crash_busy_ns / 1000000000, crash_busy_ns % 1000000000};
    nanosleep(&ts, NULL);
    atomic_store(&crash_busy->mid, !atomic_load(&crash_busy->ended));
    kill(getpid(), SIGKILL);
    return NULL;
}

static inline void crash_busy_map(void)
{
    if (!crash_busy) {
        void *m = mmap(NULL, sizeof *crash_busy, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            abort();
        crash_busy = m;
    }
    atomic_store(&crash_busy->entries, 0);
    atomic_store(&crash_busy->inside, 0);
    atomic_store(&crash_busy->ended, 0);
    atomic_store(&crash_busy->mid, 0);
}

static inline void crash_busy_arm(uint64_t nth, long ns)
{
    crash_busy_map();
    crash_busy_nth = nth;
    crash_busy_ns = ns;
    crash_busy_runs = 0;
    if (nth && ns) {
        pthread_t t;
        if (sem_init(&crash_busy_go, 0, 0) || pthread_create(&t, NULL, crash_busy_killer, NULL))
            abort();
        pthread_detach(t);
    }
    eng__tpool_job_hook = crash_busy_hook;
}

static inline void crash_busy_disarm(void)
{
    eng__tpool_job_hook = NULL;
    crash_busy_timing = 0;
}

/* In the middle of a long job's work: the nth job runs on, and a timer's signal to
 * its thread kills the process @p ns nanoseconds after it started (ns > 0, e.g. a
 * fraction of the job's duration that crash_busy_time measured in an undisturbed run),
 * wherever the job's work is then; a job done sooner waits at its end for the kill
 * (crash_busy->ended), so that the kill lands before its group learns it is done.
 * After the kill, crash_busy->mid says it landed in the job's work. Uses SIGUSR2. */
static inline void crash_busy_arm_mid(uint64_t nth, long ns)
{
    crash_busy_arm(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = crash_busy_signal;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGUSR2, &sa, NULL))
        abort();
    crash_busy_ns = ns > 0 ? ns : 1;
    crash_busy_runs = 1;
    crash_busy_nth = nth;
}

/* Counts the jobs, and records the duration of each of the first CRASH_JOBS in
 * crash_busy->ns (by the order they started: a run's jobs start in much the same
 * order each time, their groups in the same order). */
static inline void crash_busy_time(void)
{
    crash_busy_arm(0, 0);
    memset(crash_busy->ns, 0, sizeof crash_busy->ns);
    crash_busy_timing = 1;
}

/* fork() for a child to crash: the output flushed first (not written twice), the
 * counts shared and zeroed. */
static inline pid_t crash_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    crash_busy_map();
    return fork();
}

/* The batches a child acknowledged on @p fd (byte k for batch k, in order) until it died,
 * then the child reaped (its status in *st): their number, or -1 when one came out of
 * order or the child was not reaped. Closes fd. */
static inline int crash_acks(int fd, pid_t pid, int *st)
{
    int acked = 0, ok = 1;
    unsigned char b;
    while (read(fd, &b, 1) == 1) {
        ok &= b == (unsigned char)acked;
        acked++;
    }
    close(fd);
    ok &= waitpid(pid, st, 0) == pid;
    return ok ? acked : -1;
}

/* SIGKILL to @p pid after @p us microseconds (0: none). */
static inline void crash_kill_after(pid_t pid, long us)
{
    if (!us)
        return;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
}

#endif
