/* The threads an engine keeps (base/tpool.c), and groups of jobs run on them.
 *
 * An engine used to start a thread for each piece of work it shared (~2,150 a
 * W6 wave at L: a clone, a stack, and the first job waiting for the new thread
 * to be scheduled). A pool keeps up to eng_config.threads workers, started on
 * first use (as many as a group has asked for) and joined when the engine closes. Work goes to it as a group of
 * jobs (eng__pipe): jobs 0..n-1, each claimed once, in order, by the pool's
 * workers and by the caller, which runs the jobs nobody has claimed while it
 * waits. So a group always finishes, whatever the pool has: no worker (pool of
 * 0, threads that could not start, a forked child), or every worker busy
 * (another group; a job that starts a group of its own on the same pool, which
 * its caller then runs itself). Several threads may start groups on one pool
 * at once; a worker takes the oldest group that still wants workers, except
 * that a group started to go first (eng__pipe_first: short work a caller waits
 * for now, such as a seal's encode) is taken before the others, and by a long
 * job that serves such groups between its steps (eng__tpool_serve: the page
 * job, which the caller does not wait for).
 *
 * Fork: a child forked while no engine call runs may use its engines; their
 * pools have no worker there (the caller runs every job). A child forked while
 * a call runs in another thread must not use that engine (its locks may be
 * held), as before. */
#ifndef ENG_BASE_TPOOL_H
#define ENG_BASE_TPOOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define ENG__TPOOL_MAX 64 /* eng_config.threads' upper bound */
#define ENG__PIPE_MAX 64 /* jobs a group */

typedef struct eng__pipe eng__pipe;

typedef struct eng__tpool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* workers wait for a group */
    pthread_cond_t done; /* callers wait for a job or for the workers to leave their group */
    _Atomic unsigned started; /* changed under mu, read without it (a forked child takes no lock) */
    _Atomic unsigned gen;     /* the fork generation its workers were started in */
    unsigned idle;
    _Atomic unsigned first; /* groups that go first on the list (changed under mu, read without it) */
    int stop, ok; /* ok: mutex and conditions made (else the caller runs every job) */
    eng__pipe *head; /* groups that want workers: those that go first, then the others, oldest first */
    pthread_t tid[ENG__TPOOL_MAX];
} eng__tpool;

/* A pool with no worker yet (it starts them as groups ask, up to ENG__TPOOL_MAX). */
void eng__tpool_init(eng__tpool *p);
/* The workers stopped and joined (the pool must be idle: no group running). */
void eng__tpool_close(eng__tpool *p);
/* At least @p n workers (as many as can start), for a group that must not wait
 * for the others' (a job beside groups that take the workers a call may use). */
void eng__tpool_grow(eng__tpool *p, unsigned n);
/* Workers started (tests). */
unsigned eng__tpool_started(eng__tpool *p);
/* Tests: the next this-many worker starts fail, as pthread_create may. */
extern _Atomic unsigned eng__tpool_refuse;
/* Tests: called with 1 before each job of a group runs (on a worker or the caller)
 * and with 0 after it, so that crash harnesses kill the process while jobs run
 * (tests/helpers/crash_point.h). Set before the engine's first group. */
extern void (*eng__tpool_job_hook)(int starting);

/* Jobs 0..n-1 (at most ENG__PIPE_MAX) run in any order by up to @p threads of
 * the pool's workers and by the caller, each claimed once, in order; the caller
 * may wait for them in order (eng__pipe_wait), running jobs not yet claimed
 * while it waits, and use each job's result (written before the job is done)
 * while the workers run later ones. Lives on the caller's stack from start to
 * end/drop. */
struct eng__pipe {
    eng__tpool *pool; /* NULL: no worker takes it (the caller runs every job) */
    void (*run)(void *user, size_t k);
    void *user;
    size_t n, want;            /* jobs, workers it may take */
    size_t joined;             /* workers that took it (under pool->mu) */
    _Atomic size_t inside;     /* workers in it now (changed under pool->mu) */
    int queued;                /* on pool->head's list (under pool->mu) */
    int first;                 /* goes before the groups that do not (eng__pipe_first) */
    eng__pipe *next_group;     /* that list */
    _Atomic size_t next;       /* the next job to claim */
    _Atomic int waiting;       /* the caller sleeps on pool->done */
    _Atomic unsigned char done[ENG__PIPE_MAX];
};

/* With at most @p threads workers of @p pool (NULL or 0: none; fewer when the
 * pool has fewer or some cannot start: the caller runs what they do not). */
void eng__pipe_start(eng__pipe *pp, eng__tpool *pool, size_t threads, size_t n, void (*run)(void *user, size_t k),
                     void *user);
/* eng__pipe_start for a group that goes first: queued before the groups that do
 * not, and taken by the long jobs that serve such groups (eng__tpool_serve). It
 * should be short: the job that serves it waits. */
void eng__pipe_first(eng__pipe *pp, eng__tpool *pool, size_t threads, size_t n, void (*run)(void *user, size_t k),
                     void *user);
/* From inside a long job: run the jobs of the groups queued to go first, if any,
 * so that they do not wait for it (@p pool may be NULL). 1: some were run. */
int eng__tpool_serve(eng__tpool *pool);
/* Claim and run the next job not claimed: 0 when none is left. */
int eng__pipe_help(eng__pipe *pp);
/* Job @p k done (the caller runs jobs not claimed meanwhile). */
void eng__pipe_wait(eng__pipe *pp, size_t k);
/* 1: job @p k is done (its result may be read), without waiting or running any. */
int eng__pipe_done(eng__pipe *pp, size_t k);
/* Every job run (the caller runs those not claimed), the workers out of it. */
void eng__pipe_end(eng__pipe *pp);
/* The jobs not claimed left unrun, the ones claimed finished, the workers out of it. */
void eng__pipe_drop(eng__pipe *pp);

#endif
