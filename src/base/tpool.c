/* The threads an engine keeps, and groups of jobs run on them (pool.h).
 *
 * A group is claimed job by job through one atomic counter, so the caller and
 * the workers never wait on each other to take work; the pool's mutex guards
 * only the list of groups that want workers and which workers are inside one.
 * The caller's end waits until no worker is inside its group (a worker that
 * took it may still be reading it after its last job), so the group can live
 * on the caller's stack. */
#include "base/tpool.h"

#include <signal.h>

_Atomic unsigned eng__tpool_refuse;
void (*eng__tpool_job_hook)(int starting);

/* Bumped in a forked child: the pools it inherited have no workers there. */
static _Atomic unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

void eng__tpool_init(eng__tpool *p)
{
    atomic_init(&p->started, 0);
    atomic_init(&p->gen, 0);
    p->idle = 0;
    atomic_init(&p->first, 0);
    p->stop = 0;
    p->head = NULL;
    p->ok = 0;
    if (pthread_mutex_init(&p->mu, NULL))
        return;
    if (pthread_cond_init(&p->work, NULL)) {
        pthread_mutex_destroy(&p->mu);
        return;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        return;
    }
    p->ok = 1;
}

/* Usable here: made, and not a forked child's copy of a pool with workers. */
static int live(const eng__tpool *p)
{
    return p && p->ok &&
           (!atomic_load_explicit(&p->started, memory_order_acquire) ||
            atomic_load_explicit(&p->gen, memory_order_relaxed) == atomic_load_explicit(&fork_gen, memory_order_relaxed));
}

static void unlink_group(eng__tpool *p, eng__pipe *pp)
{
    for (eng__pipe **q = &p->head; *q; q = &(*q)->next_group)
        if (*q == pp) {
            *q = pp->next_group;
            if (pp->first)
                atomic_fetch_sub(&p->first, 1);
            break;
        }
    pp->queued = 0;
}

/* A worker into group pp (under p->mu): unlinked when it has the workers it wants. */
static void enter(eng__tpool *p, eng__pipe *pp)
{
    if (++pp->joined >= pp->want)
        unlink_group(p, pp); /* enough workers: the next group's turn */
    atomic_fetch_add(&pp->inside, 1);
}

/* ... and out of it (under p->mu), its caller woken when it waits for that. */
static void leave(eng__tpool *p, eng__pipe *pp)
{
    if (pp->queued)
        unlink_group(p, pp); /* no job left to claim */
    if (atomic_fetch_sub(&pp->inside, 1) == 1 && atomic_load(&pp->waiting))
        pthread_cond_broadcast(&p->done);
}

static int claim(eng__pipe *pp)
{
    size_t k = atomic_fetch_add_explicit(&pp->next, 1, memory_order_relaxed);
    if (k >= pp->n)
        return 0;
    if (eng__tpool_job_hook)
        eng__tpool_job_hook(1);
    pp->run(pp->user, k);
    if (eng__tpool_job_hook)
        eng__tpool_job_hook(0);
    atomic_store_explicit(&pp->done[k], 1, memory_order_release);
    if (atomic_load(&pp->waiting)) { /* the caller sleeps on this job (seq_cst both sides: no lost wake-up) */
        pthread_mutex_lock(&pp->pool->mu);
        pthread_cond_broadcast(&pp->pool->done);
        pthread_mutex_unlock(&pp->pool->mu);
    }
    return 1;
}

/* Group pp's jobs until none is left to claim; called and returns under p->mu, which is
 * released while the jobs run. */
static void run_group(eng__tpool *p, eng__pipe *pp)
{
    enter(p, pp);
    pthread_mutex_unlock(&p->mu);
    while (claim(pp))
        ;
    pthread_mutex_lock(&p->mu);
    leave(p, pp);
}

static void *worker(void *arg)
{
    eng__tpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        eng__pipe *pp = p->head;
        if (!pp) {
            if (p->stop)
                break;
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
            continue;
        }
        /* Not the groups that go first between two jobs: a worker that left a `sent` batch's
         * chunks for a seal's encode left the chunks to the caller, which took more from them
         * than it saved (W6 at M: the caller's chunks 277-488 -> 607-688 of 2,004) */
        run_group(p, pp);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Workers up to @p want started (under p->mu); signals blocked in them, so that a
 * host's handlers never run on the library's threads. */
static void grow(eng__tpool *p, unsigned want)
{
    if (p->started >= want)
        return;
    pthread_once(&fork_once, watch_forks);
    if (!p->started)
        atomic_store_explicit(&p->gen, atomic_load(&fork_gen), memory_order_relaxed);
    sigset_t all, old;
    sigfillset(&all);
    int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
    while (p->started < want) {
        unsigned r = atomic_load(&eng__tpool_refuse);
        if (r && atomic_compare_exchange_strong(&eng__tpool_refuse, &r, r - 1))
            break;
        if (pthread_create(&p->tid[p->started], NULL, worker, p))
            break; /* the callers run what the workers it has do not; a later group tries again */
        atomic_fetch_add_explicit(&p->started, 1, memory_order_release);
    }
    if (masked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void eng__tpool_grow(eng__tpool *p, unsigned n)
{
    if (!live(p))
        return;
    pthread_mutex_lock(&p->mu);
    grow(p, n < ENG__TPOOL_MAX ? n : ENG__TPOOL_MAX);
    pthread_mutex_unlock(&p->mu);
}

int eng__tpool_serve(eng__tpool *p)
{
    int ran = 0;
    /* read without the lock: a group queued just after is taken by the next look or an idle worker */
    while (p && atomic_load_explicit(&p->first, memory_order_relaxed)) {
        pthread_mutex_lock(&p->mu);
        eng__pipe *pp = p->head;
        if (!pp || !pp->first) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        run_group(p, pp);
        pthread_mutex_unlock(&p->mu);
        ran = 1;
    }
    return ran;
}

unsigned eng__tpool_started(eng__tpool *p)
{
    if (!p->ok)
        return 0;
    pthread_mutex_lock(&p->mu);
    unsigned n = p->started;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void eng__tpool_close(eng__tpool *p)
{
    if (!p->ok)
        return;
    if (!live(p)) { /* a forked child: the workers are not here, their locks may be held */
        p->ok = 0;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned t = 0; t < p->started; t++)
        pthread_join(p->tid[t], NULL);
    atomic_store(&p->started, 0);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    p->ok = 0;
}

static void start(eng__pipe *pp, eng__tpool *pool, size_t threads, size_t n, void (*run)(void *user, size_t k),
                  void *user, int first)
{
    pp->run = run, pp->user = user;
    pp->n = n < ENG__PIPE_MAX ? n : ENG__PIPE_MAX;
    pp->pool = NULL;
    pp->joined = 0, pp->queued = 0, pp->next_group = NULL, pp->first = first;
    atomic_init(&pp->inside, 0);
    atomic_init(&pp->next, 0);
    atomic_init(&pp->waiting, 0);
    for (size_t k = 0; k < pp->n; k++)
        atomic_init(&pp->done[k], 0);
    size_t want = threads < pp->n ? threads : pp->n;
    if (!want || !live(pool))
        return;
    want = want < ENG__TPOOL_MAX ? want : ENG__TPOOL_MAX;
    pthread_mutex_lock(&pool->mu);
    grow(pool, (unsigned)want);
    if (!pool->started) {
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    pp->pool = pool;
    pp->want = want;
    pp->queued = 1;
    eng__pipe **q = &pool->head;
    while (*q && (!first || (*q)->first))
        q = &(*q)->next_group;
    pp->next_group = *q;
    *q = pp;
    if (first)
        atomic_fetch_add(&pool->first, 1);
    size_t wake = pool->idle < want ? pool->idle : want;
    pthread_mutex_unlock(&pool->mu);
    if (wake == 1)
        pthread_cond_signal(&pool->work);
    else if (wake > 1)
        pthread_cond_broadcast(&pool->work);
}

void eng__pipe_start(eng__pipe *pp, eng__tpool *pool, size_t threads, size_t n, void (*run)(void *user, size_t k),
                     void *user)
{
    start(pp, pool, threads, n, run, user, 0);
}

void eng__pipe_first(eng__pipe *pp, eng__tpool *pool, size_t threads, size_t n, void (*run)(void *user, size_t k),
                     void *user)
{
    start(pp, pool, threads, n, run, user, 1);
}

int eng__pipe_done(eng__pipe *pp, size_t k)
{
    return atomic_load_explicit(&pp->done[k], memory_order_acquire);
}

int eng__pipe_help(eng__pipe *pp)
{
    return claim(pp);
}

/* Asleep on the pool's done condition until ready(pp, k). */
static void sleep_until(eng__pipe *pp, int (*ready)(eng__pipe *, size_t), size_t k)
{
    pthread_mutex_lock(&pp->pool->mu);
    atomic_fetch_add(&pp->waiting, 1);
    while (!ready(pp, k))
        pthread_cond_wait(&pp->pool->done, &pp->pool->mu);
    atomic_fetch_sub(&pp->waiting, 1);
    pthread_mutex_unlock(&pp->pool->mu);
}

static int job_done(eng__pipe *pp, size_t k)
{
    return atomic_load(&pp->done[k]);
}

void eng__pipe_wait(eng__pipe *pp, size_t k)
{
    /* a later job while a worker runs this one; none left: a short spin, then asleep until a job is done
     * (on a busy machine the worker may be descheduled for a while) */
    for (unsigned spins = 0; !atomic_load_explicit(&pp->done[k], memory_order_acquire);) {
        if (claim(pp) || ++spins < 512)
            continue;
        sleep_until(pp, job_done, k); /* a job claimed and not done is a worker's: pp->pool is set */
    }
}

static int left(eng__pipe *pp, size_t k)
{
    (void)k;
    return !atomic_load(&pp->inside);
}

void eng__pipe_drop(eng__pipe *pp)
{
    atomic_store(&pp->next, pp->n);
    if (!pp->pool)
        return;
    for (unsigned spins = 0; atomic_load(&pp->inside) && spins < 512; spins++)
        ; /* the worker's last job is most often about to end */
    pthread_mutex_lock(&pp->pool->mu);
    if (pp->queued)
        unlink_group(pp->pool, pp);
    pthread_mutex_unlock(&pp->pool->mu);
    if (!left(pp, 0))
        sleep_until(pp, left, 0); /* once out of the list, no worker enters it */
}

void eng__pipe_end(eng__pipe *pp)
{
    while (claim(pp)) /* every job run, as one thread would */
        ;
    eng__pipe_drop(pp);
}
