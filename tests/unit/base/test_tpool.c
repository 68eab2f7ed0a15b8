/* The threads an engine keeps (base/tpool.c): every job of a group runs exactly once
 * (counted per job), whatever the pool has (no pool, 1 or 3 workers, workers that
 * cannot start, a forked child's copy); the caller runs the jobs no worker takes,
 * so a group finishes while every worker is held by another group, and a job may
 * start a group of its own on the same pool; a job's result is there when the
 * caller's in-order wait returns; dropped jobs not claimed never run; several
 * threads start groups on one pool at once; engines keep their threads from first
 * use to close; a group that goes first is taken before older groups and from
 * inside a long job, not by a worker between two jobs of its group. Timings are
 * never asserted: a worker that is slow to be scheduled only moves jobs to the
 * caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tpool.h"
#include "core/engine_impl.h"
#include "engage.h"

typedef struct count {
    _Atomic unsigned runs[ENG__PIPE_MAX];
    _Atomic unsigned on_caller;
    pthread_t caller;
    uint64_t result[ENG__PIPE_MAX];
} count;

static void count_run(void *user, size_t k)
{
    count *c = user;
    atomic_fetch_add(&c->runs[k], 1);
    if (pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->on_caller, 1);
    uint64_t h = k + 1; /* a little work, so that the workers get some of it */
    for (int i = 0; i < 20000; i++)
        h = h * 6364136223846793005ull + 1442695040888963407ull;
    c->result[k] = h;
}

static uint64_t expected(size_t k)
{
    uint64_t h = k + 1;
    for (int i = 0; i < 20000; i++)
        h = h * 6364136223846793005ull + 1442695040888963407ull;
    return h;
}

static void count_init(count *c)
{
    memset(c, 0, sizeof *c);
    c->caller = pthread_self();
}

static void assert_once(const count *c, size_t n)
{
    for (size_t k = 0; k < ENG__PIPE_MAX; k++)
        assert_int_equal(atomic_load(&c->runs[k]), k < n ? 1 : 0);
}

/* n jobs with @p threads workers asked for, waited for in order (each result checked as its wait returns). */
static void run_group(eng__tpool *p, size_t threads, size_t n, count *c)
{
    count_init(c);
    eng__pipe pp;
    eng__pipe_start(&pp, p, threads, n, count_run, c);
    for (size_t k = 0; k < n; k += 3) {
        eng__pipe_wait(&pp, k);
        assert_true(c->result[k] == expected(k));
    }
    eng__pipe_end(&pp);
    assert_once(c, n);
}

static void jobs_once(void **st)
{
    (void)st;
    count c;
    run_group(NULL, 3, 64, &c); /* no pool: all the caller's */
    assert_int_equal(atomic_load(&c.on_caller), 64);
    eng__tpool p;
    eng__tpool_init(&p);
    run_group(&p, 0, 64, &c); /* no thread asked for */
    assert_int_equal(atomic_load(&c.on_caller), 64);
    assert_int_equal(eng__tpool_started(&p), 0);
    for (int round = 0; round < 50; round++) {
        run_group(&p, 1, 1 + (size_t)round % 64, &c);
        run_group(&p, 3, 64 - (size_t)round % 64, &c);
        run_group(&p, 1, 0, &c); /* no job */
    }
    assert_int_equal(eng__tpool_started(&p), 3); /* kept from group to group, as many as asked for */
    run_group(&p, 100, 64, &c);                  /* more asked than a group has jobs: at most one a job */
    assert_int_equal(eng__tpool_started(&p), 64);
    eng__tpool_close(&p);
    eng__tpool_close(&p); /* closed twice: nothing */
}

/* A job held until released, on a worker (the caller never claims it). */
typedef struct hold {
    _Atomic int started, release;
} hold;

static void hold_run(void *user, size_t k)
{
    (void)k;
    hold *h = user;
    atomic_store(&h->started, 1);
    while (!atomic_load(&h->release))
        sched_yield();
}

static void caller_helps(void **st)
{
    (void)st;
    eng__tpool p;
    eng__tpool_init(&p);
    hold h = {0, 0};
    eng__pipe busy;
    eng__pipe_start(&busy, &p, 1, 1, hold_run, &h); /* the one worker takes it */
    assert_non_null(busy.pool);
    while (!atomic_load(&h.started))
        sched_yield();
    count c;
    run_group(&p, 1, 40, &c); /* the worker is held: the caller runs every job */
    assert_int_equal(atomic_load(&c.on_caller), 40);
    atomic_store(&h.release, 1);
    eng__pipe_end(&busy);
    eng__tpool_close(&p);
}

/* The order jobs ran in, across groups: each job logs its tag. */
typedef struct order {
    _Atomic unsigned n, written; /* slots taken; tags written (after their slot's) */
    int tag[80];
    hold *gate; /* job 0 of the logging group waits on it (gate NULL: none) */
    int base;   /* tag = base + job */
    struct order *log;
    eng__tpool *pp_pool; /* serve_run's */
} order;

static void put_tag(struct order *log, int tag)
{
    unsigned at = atomic_fetch_add(&log->n, 1);
    log->tag[at] = tag;
    while (atomic_load(&log->written) != at) /* in slot order, so that written counts whole tags */
        sched_yield();
    atomic_store(&log->written, at + 1);
}

static void log_run(void *user, size_t k)
{
    order *o = user;
    if (k == 0 && o->gate) {
        atomic_store(&o->gate->started, 1);
        while (!atomic_load(&o->gate->release))
            sched_yield();
    }
    put_tag(o->log, o->base + (int)k);
}

/* A long job: logs its start, serves the groups that go first until it has run some, logs its end. */
static void serve_run(void *user, size_t k)
{
    (void)k;
    order *o = user;
    put_tag(o->log, o->base);
    while (!eng__tpool_serve(o->pp_pool))
        sched_yield();
    put_tag(o->log, o->base + 1);
}

static void wait_for(const _Atomic unsigned *n, unsigned want)
{
    while (atomic_load(n) < want)
        sched_yield();
}

/* A group that goes first: not taken by the one worker between two jobs of the
 * group it is in (the caller of that group would be left its jobs), but before a
 * group queued earlier; and run by eng__tpool_serve from inside a long job. The
 * caller claims nothing until the jobs asked about ran, so where they ran is the
 * worker's choice. */
static void first_groups(void **st)
{
    (void)st;
    eng__tpool p;
    eng__tpool_init(&p);
    order log = {0};
    hold gate = {0, 0};
    /* G's job 0 holds the worker while F is queued: G's twenty, then F's two */
    order g = {.gate = &gate, .base = 0, .log = &log}, f = {.base = 100, .log = &log};
    eng__pipe pg, pf;
    eng__pipe_start(&pg, &p, 1, 20, log_run, &g);
    while (!atomic_load(&gate.started))
        sched_yield();
    eng__pipe_first(&pf, &p, 1, 2, log_run, &f);
    assert_non_null(pf.pool);
    atomic_store(&gate.release, 1);
    wait_for(&log.written, 22);
    for (int k = 0; k < 20; k++)
        assert_int_equal(log.tag[k], k);
    assert_int_equal(log.tag[20], 100);
    assert_int_equal(log.tag[21], 101);
    eng__pipe_end(&pf);
    eng__pipe_end(&pg);

    /* before an older group: the worker held by a one-job group while A, then F, are queued */
    memset(&log, 0, sizeof log);
    hold h = {0, 0};
    eng__pipe busy, pa;
    eng__pipe_start(&busy, &p, 1, 1, hold_run, &h);
    while (!atomic_load(&h.started))
        sched_yield();
    order a = {.base = 200, .log = &log};
    f.base = 300;
    eng__pipe_start(&pa, &p, 1, 1, log_run, &a);
    eng__pipe_first(&pf, &p, 1, 1, log_run, &f);
    atomic_store(&h.release, 1);
    wait_for(&log.written, 2);
    assert_int_equal(log.tag[0], 300);
    assert_int_equal(log.tag[1], 200);
    eng__pipe_end(&pa);
    eng__pipe_end(&pf);
    eng__pipe_end(&busy);

    /* from inside a long job (the one worker's): served there */
    memset(&log, 0, sizeof log);
    order l = {.base = 400, .log = &log, .pp_pool = &p};
    f.base = 500;
    eng__pipe pl;
    eng__pipe_start(&pl, &p, 1, 1, serve_run, &l);
    wait_for(&log.written, 1); /* the long job started */
    eng__pipe_first(&pf, &p, 1, 3, log_run, &f);
    wait_for(&log.written, 5); /* F's three inside it, then its end */
    assert_int_equal(log.tag[0], 400);
    assert_int_equal(log.tag[1], 500);
    assert_int_equal(log.tag[2], 501);
    assert_int_equal(log.tag[3], 502);
    assert_int_equal(log.tag[4], 401);
    eng__pipe_end(&pf);
    eng__pipe_end(&pl);
    assert_int_equal(eng__tpool_serve(NULL), 0);
    assert_int_equal(eng__tpool_serve(&p), 0); /* nothing queued */
    eng__tpool_close(&p);
}

/* Jobs that start groups of their own on the same pool. */
typedef struct nest {
    eng__tpool *p;
    size_t threads;
    count inner[8];
    _Atomic unsigned runs[8];
} nest;

static void nest_run(void *user, size_t k)
{
    nest *ns = user;
    atomic_fetch_add(&ns->runs[k], 1);
    count *c = &ns->inner[k];
    memset(c, 0, sizeof *c);
    c->caller = pthread_self();
    eng__pipe pp;
    eng__pipe_start(&pp, ns->p, ns->threads, 16, count_run, c);
    eng__pipe_wait(&pp, 15);
    eng__pipe_end(&pp);
}

static void nested(void **st)
{
    (void)st;
    for (size_t threads = 1; threads <= 3; threads += 2) {
        eng__tpool p;
        eng__tpool_init(&p);
        for (int round = 0; round < 20; round++) {
            nest ns;
            memset(&ns, 0, sizeof ns);
            ns.p = &p;
            ns.threads = threads;
            eng__pipe pp;
            eng__pipe_start(&pp, &p, threads, 8, nest_run, &ns);
            eng__pipe_end(&pp);
            for (size_t k = 0; k < 8; k++) {
                assert_int_equal(atomic_load(&ns.runs[k]), 1);
                assert_once(&ns.inner[k], 16);
                for (size_t j = 0; j < 16; j++)
                    assert_true(ns.inner[k].result[j] == expected(j));
            }
        }
        eng__tpool_close(&p);
    }
}

static void start_refused(void **st)
{
    (void)st;
    eng__tpool p;
    eng__tpool_init(&p);
    atomic_store(&eng__tpool_refuse, 1000);
    count c;
    count_init(&c);
    eng__pipe pp;
    eng__pipe_start(&pp, &p, 3, 64, count_run, &c);
    assert_null(pp.pool); /* no worker could start: the caller's */
    eng__pipe_end(&pp);
    assert_once(&c, 64);
    assert_int_equal(atomic_load(&c.on_caller), 64);
    assert_int_equal(eng__tpool_started(&p), 0);
    atomic_store(&eng__tpool_refuse, 0);
    run_group(&p, 1, 64, &c); /* a later group starts them */
    assert_int_equal(eng__tpool_started(&p), 1);
    atomic_store(&eng__tpool_refuse, 1); /* the second of three refused: the group has one */
    run_group(&p, 3, 64, &c);
    assert_int_equal(eng__tpool_started(&p), 1);
    assert_int_equal(atomic_load(&eng__tpool_refuse), 0);
    run_group(&p, 3, 64, &c);
    assert_int_equal(eng__tpool_started(&p), 3);
    atomic_store(&eng__tpool_refuse, 1);
    eng__tpool_grow(&p, 5); /* refused at the fourth */
    assert_int_equal(eng__tpool_started(&p), 3);
    eng__tpool_grow(&p, 5);
    assert_int_equal(eng__tpool_started(&p), 5);
    run_group(&p, 1, 64, &c);
    eng__tpool_close(&p);
}

static void drop_unclaimed(void **st)
{
    (void)st;
    eng__tpool p;
    eng__tpool_init(&p);
    for (int round = 0; round < 50; round++) {
        count c;
        count_init(&c);
        eng__pipe pp;
        eng__pipe_start(&pp, round % 2 ? &p : NULL, 1, 64, count_run, &c);
        eng__pipe_wait(&pp, 9);
        eng__pipe_drop(&pp);
        /* after the drop nothing runs any more: each job ran at most once, the first ten once */
        unsigned ran = 0;
        for (size_t k = 0; k < 64; k++) {
            unsigned r = atomic_load(&c.runs[k]);
            assert_true(r <= 1 && (k > 9 || r == 1));
            if (r)
                assert_true(c.result[k] == expected(k));
            ran += r;
        }
        if (round % 2 == 0)
            assert_int_equal(ran, 10); /* no worker: the caller ran those it waited for */
        usleep(100);
        for (size_t k = 0; k < 64; k++)
            ran -= atomic_load(&c.runs[k]);
        assert_int_equal(ran, 0);
    }
    eng__tpool_close(&p);
}

/* Several host threads starting groups on one pool at once, and on pools of their own. */
typedef struct host {
    eng__tpool *shared;
    int ok;
} host;

static void *host_main(void *arg)
{
    host *h = arg;
    eng__tpool own;
    eng__tpool_init(&own);
    h->ok = 1;
    for (int round = 0; round < 30 && h->ok; round++) {
        count c;
        count_init(&c);
        eng__pipe pp;
        eng__pipe_start(&pp, round % 2 ? h->shared : &own, 1 + (size_t)round % 3, 32, count_run, &c);
        for (size_t k = 0; k < 32; k++)
            eng__pipe_wait(&pp, k);
        eng__pipe_end(&pp);
        for (size_t k = 0; k < 32; k++)
            h->ok &= atomic_load(&c.runs[k]) == 1 && c.result[k] == expected(k);
    }
    eng__tpool_close(&own);
    return NULL;
}

static void many_threads_and_pools(void **st)
{
    (void)st;
    eng__tpool shared;
    eng__tpool_init(&shared);
    host hs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        hs[i].shared = &shared;
        assert_int_equal(pthread_create(&t[i], NULL, host_main, &hs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(hs[i].ok);
    }
    eng__tpool_close(&shared);
}

/* A child forked after the pool's workers started: no worker there, the caller runs every job. */
static void forked_child(void **st)
{
    (void)st;
    eng__tpool p;
    eng__tpool_init(&p);
    count c;
    run_group(&p, 2, 64, &c);
    assert_int_equal(eng__tpool_started(&p), 2);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        count_init(&c);
        eng__pipe pp;
        eng__pipe_start(&pp, &p, 2, 64, count_run, &c);
        int ok = pp.pool == NULL;
        eng__pipe_end(&pp);
        for (size_t k = 0; k < 64; k++)
            ok &= atomic_load(&c.runs[k]) == 1 && c.result[k] == expected(k);
        ok &= atomic_load(&c.on_caller) == 64;
        eng__tpool_close(&p);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    run_group(&p, 2, 64, &c); /* the parent's workers are still there */
    eng__tpool_close(&p);
}

/* Engines: no thread before the first group, closing an engine that never used
 * its pool or whose workers are idle, many engines at once. */
static void engines(void **st)
{
    (void)st;
    eng_engine *es[16];
    for (int i = 0; i < 16; i++) {
        eng_config cfg;
        assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
        cfg.threads = (unsigned)i % 4;
        assert_int_equal(eng_open(&cfg, &es[i]), ENG_OK);
        assert_int_equal(eng__tpool_started(&es[i]->pool), 0);
    }
    for (int i = 0; i < 16; i += 2) {
        count c;
        run_group(&es[i]->pool, es[i]->threads, 64, &c);
        assert_int_equal(eng__tpool_started(&es[i]->pool), es[i]->threads);
    }
    for (int i = 0; i < 16; i++)
        assert_int_equal(eng_close(es[i]), ENG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_once),      cmocka_unit_test(caller_helps),           cmocka_unit_test(nested),
        cmocka_unit_test(start_refused),  cmocka_unit_test(drop_unclaimed),         cmocka_unit_test(many_threads_and_pools),
        cmocka_unit_test(forked_child),   cmocka_unit_test(engines),                cmocka_unit_test(first_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
