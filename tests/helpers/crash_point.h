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
#include <sys/mman.h>
#include <sys/prctl.h>
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
typedef struct crash_busy_t {
    _Atomic uint64_t entries;
    _Atomic int inside;
} crash_busy_t;

static crash_busy_t *crash_busy;
static uint64_t crash_busy_nth;
static long crash_busy_ns;
static sem_t crash_busy_go;

static inline void crash_busy_hook(int starting)
{
    if (!starting) {
        atomic_fetch_sub(&crash_busy->inside, 1);
        return;
    }
    atomic_fetch_add(&crash_busy->inside, 1);
    if (atomic_fetch_add(&crash_busy->entries, 1) + 1 != crash_busy_nth)
        return;
    if (!crash_busy_ns)
        kill(getpid(), SIGKILL);
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
}

static inline void crash_busy_arm(uint64_t nth, long ns)
{
    crash_busy_map();
    crash_busy_nth = nth;
    crash_busy_ns = ns;
    if (nth && ns) {
        pthread_t t;
        if (sem_init(&crash_busy_go, 0, 0) || pthread_create(&t, NULL, crash_busy_killer, NULL))
            abort();
        pthread_detach(t);
    }
    eng__tpool_job_hook = crash_busy_hook;
}

static inline void crash_busy_disarm(void) { eng__tpool_job_hook = NULL; }

/* fork() for a child to crash: the output flushed first (not written twice), the
 * counts shared and zeroed. */
static inline pid_t crash_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    crash_busy_map();
    return fork();
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
