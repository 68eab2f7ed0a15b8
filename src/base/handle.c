/* Live-handle registry (base/handle.h): an open-addressing table keyed by
 * address under one mutex, plus a ring of the last retired addresses. The
 * table itself is process-wide, so it is the one structure of the library that
 * lives outside any host allocator (libc malloc, 16 bytes a handle). */
#include "base/handle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct slot {
    uintptr_t key; /* 0: empty */
    int kind;      /* 0: retired (kept from reuse), else the live kind */
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot *tab;
static size_t cap, used; /* used: live + retired entries */
static uintptr_t ring[ENG__HANDLE_RETIRED];
static size_t ring_n, ring_head;
/* Bumped (under the lock) by every release: a thread's cached "live" answers
 * taken at an older value are not trusted (eng__handle_live). */
static _Atomic uint64_t generation;

static size_t hash(uintptr_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t find(uintptr_t k) /* index of k, or cap when absent */
{
    if (!cap)
        return 0;
    for (size_t i = hash(k) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (tab[i].key == k)
            return i;
        if (!tab[i].key)
            return cap;
    }
}

static void put(slot *t, size_t n, uintptr_t k, int kind)
{
    size_t i = hash(k) & (n - 1);
    while (t[i].key)
        i = (i + 1) & (n - 1);
    t[i].key = k;
    t[i].kind = kind;
}

static int grow(void)
{
    if ((used + 1) * 2 <= cap)
        return 0;
    size_t n = cap ? cap * 2 : 256;
    slot *t = calloc(n, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].key)
            put(t, n, tab[i].key, tab[i].kind);
    free(tab);
    tab = t;
    cap = n;
    return 0;
}

/* Linear-probing deletion: shift later members of the cluster back. */
static void del_at(size_t i)
{
    tab[i].key = 0;
    used--;
    for (size_t j = (i + 1) & (cap - 1); tab[j].key; j = (j + 1) & (cap - 1)) {
        size_t h = hash(tab[j].key) & (cap - 1);
        /* j's entry may move to i when its home h is not in (i, j]. */
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
            tab[i] = tab[j];
            tab[j].key = 0;
            i = j;
        }
    }
}

/* Allocations a new handle may hold back while it looks for an address no
 * recent handle had. Engines and stores are opened rarely and held long: they
 * search until they find one (at most every retired address, then a fresh
 * one); short-lived children give up after a few tries so that churn stays
 * cheap, and may then reuse a retired address (base/handle.h). */
#define CHILD_TRIES 64

void *eng__handle_new(const eng__mem *mem, size_t size, int kind)
{
    size_t tries = kind == ENG__H_ENGINE || kind == ENG__H_STORE ? ENG__HANDLE_RETIRED + 1 : CHILD_TRIES;
    void *held = NULL; /* a list threaded through the held blocks themselves */
    void *p;
    if (size < sizeof(void *))
        size = sizeof(void *);
    for (size_t n = 0;; n++) {
        if (!(p = eng__calloc(mem, 1, size)))
            break;
        pthread_mutex_lock(&lock);
        size_t i = find((uintptr_t)p);
        if (i == cap || n + 1 >= tries) {
            if (i != cap) /* the least bad choice: its tombstone goes */
                tab[i].kind = kind;
            else if (grow() == 0) {
                put(tab, cap, (uintptr_t)p, kind);
                used++;
            } else {
                pthread_mutex_unlock(&lock);
                eng__free(mem, p);
                p = NULL;
                break;
            }
            pthread_mutex_unlock(&lock);
            break;
        }
        pthread_mutex_unlock(&lock);
        *(void **)p = held; /* a retired address: hold it so the next allocation differs */
        held = p;
    }
    while (held) {
        void *next = *(void **)held;
        eng__free(mem, held);
        held = next;
    }
    return p;
}

/* Retire the live entry at i (under the lock). */
static void retire_at(size_t i, uintptr_t p)
{
    tab[i].kind = 0;
    if (ring_n == ENG__HANDLE_RETIRED) { /* forget the oldest retired address */
        size_t j = find(ring[ring_head]);
        if (j != cap && !tab[j].kind)
            del_at(j);
        ring_head = (ring_head + 1) % ENG__HANDLE_RETIRED;
        ring_n--;
    }
    ring[(ring_head + ring_n++) % ENG__HANDLE_RETIRED] = p;
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
}

void eng__handle_free(const eng__mem *mem, void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&lock);
    size_t i = find((uintptr_t)p);
    if (i != cap && tab[i].kind)
        retire_at(i, (uintptr_t)p);
    pthread_mutex_unlock(&lock);
    eng__free(mem, p);
}

int eng__handle_pin(void *p, int kind, void (*pin)(void *p))
{
    if (!p)
        return 0;
    pthread_mutex_lock(&lock);
    size_t i = find((uintptr_t)p);
    int live = i != cap && tab[i].kind == kind;
    if (live)
        pin(p);
    pthread_mutex_unlock(&lock);
    return live;
}

int eng__handle_retire_if(void *p, int kind, void (*letgo)(void *p), int (*unheld)(void *p))
{
    pthread_mutex_lock(&lock);
    if (letgo)
        letgo(p);
    size_t i = find((uintptr_t)p);
    int go = i != cap && tab[i].kind == kind && unheld(p);
    if (go)
        retire_at(i, (uintptr_t)p);
    pthread_mutex_unlock(&lock);
    return go;
}

static _Thread_local unsigned in_callback;

void eng__callback_begin(void)
{
    in_callback++;
}

void eng__callback_end(void)
{
    in_callback--;
}

int eng__in_callback(void)
{
    return in_callback != 0;
}

/* Per thread: the last handles found live, with the generation then. Per-row
 * calls (a getter in a loop) check the same one or two handles again and
 * again; while no handle has been released since, the answer stands without
 * the process-wide lock (bench core_calls). A release anywhere bumps the
 * generation, so a freed handle is always looked up again and refused. A
 * handle freed by another thread *during* the check is the host's race, as
 * it was with the lock alone. */
#define LIVE_CACHE 4
static _Thread_local struct {
    uintptr_t p;
    int kind;
    uint64_t gen;
} live_cache[LIVE_CACHE];
static _Thread_local unsigned live_next;

int eng__handle_live(const void *p, int kind)
{
    if (!p)
        return 0;
    uint64_t g = atomic_load_explicit(&generation, memory_order_acquire);
    for (unsigned k = 0; k < LIVE_CACHE; k++)
        if (live_cache[k].p == (uintptr_t)p && live_cache[k].kind == kind && live_cache[k].gen == g)
            return 1;
    pthread_mutex_lock(&lock);
    size_t i = find((uintptr_t)p);
    int live = i != cap && tab[i].kind == kind;
    if (live) {
        unsigned k = live_next++ % LIVE_CACHE;
        live_cache[k].p = (uintptr_t)p;
        live_cache[k].kind = kind;
        live_cache[k].gen = atomic_load_explicit(&generation, memory_order_relaxed); /* stable under the lock */
    }
    pthread_mutex_unlock(&lock);
    return live;
}
