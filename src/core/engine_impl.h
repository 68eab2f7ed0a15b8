/* The engine core (layer "core": above base and store, below every other
 * layer): the handle as the layers see it. Public entry points bracket their work
 * with eng__enter()/eng__leave() (magic check + the engine's lock); each layer
 * keeps its in-memory state in a slot, created on first use and released at
 * close in reverse slot order. */
#ifndef ENG_CORE_ENGINE_IMPL_H
#define ENG_CORE_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include "engage/engine.h"
#include "base/mem.h"
#include "base/tpool.h"
#include "store/store_impl.h"
#include "base/error.h"

#define ENG__ENGINE_MAGIC 0x454e4731u /* "ENG1" */

enum eng__slot {
    ENG__SLOT_RULES,
    ENG__SLOT_MODEL,
    ENG__SLOT_AUDIENCE,
    ENG__SLOT_EVENTS,
    ENG__SLOT_DECIDE,
    ENG__SLOT_DISPATCH,
    ENG__SLOT_MEASURE,
    ENG__SLOT_COUNT
};

typedef void (*eng__slot_free_fn)(eng_engine *e, void *state);
/* Told of a key another engine committed (the empty key: anything may have
 * changed): 0 when the slot caches nothing it affects, 1 when it marked the
 * affected part of @p state, which the slot's invalidate then drops. */
typedef int (*eng__slot_watch_fn)(eng_engine *e, void *state, const void *key, size_t klen);
/* Inside a batch just begun (eng__kv_begin_inside): bring what the watch marked
 * up to date by reading in the batch, keeping every pointer into @p state
 * valid; ENG_OK when done, else nonzero with the marks left for invalidate. */
typedef int (*eng__slot_catch_up_fn)(eng_engine *e, void *state);

struct eng_engine {
    uint32_t magic;
    eng__mem mem;
    eng_store *store;
    eng_transport_methods transport; /* always the current version's layout */
    void *transport_user;
    int has_transport;               /* the host configured one (not the refusing default) */
    eng_clock_fn clock_fn;
    void *clock_user;
    eng_log_fn log_fn;
    void *log_user;
    int log_level;
    eng_progress_fn progress_fn;
    void *progress_user;
    unsigned threads; /* eng_config.threads: threads a call may use beside the caller's */
    eng__tpool pool;   /* those threads, kept from first use to eng_close (base/tpool.c) */
    /* The events layer's sealed segments in memory (src/events/resident.c): at most
     * cap (eng_config.events_segments, 0: no limit), with the counts written there and
     * read by eng_info_get. */
    struct {
        uint32_t cap;
        uint64_t segments, resident, reads;
    } evcache;
    pthread_mutex_t lock; /* recursive: an entry point may call another */
    /* What keeps a closed engine from being destroyed (engine.c, "Lifetime"): live child
     * handles and runs (refs), calls inside it or waiting for its lock (pins). Atomic: the
     * last one out decides under the handle table's lock, not always under this one. */
    _Atomic unsigned refs;
    _Atomic unsigned pins;
    _Atomic int closed;
    struct {
        uint32_t format;    /* data format of the stored state */
        eng_time created, last_opened;
        uint64_t opens;
        uint64_t repaired;  /* ENG__REPAIRED_* bits: states older versions left, none left in the store */
    } meta;
    struct {
        void *state;
        eng__slot_free_fn free_fn;
        eng__slot_free_fn invalidate; /* drop what the slot caches of stored state (NULL: free the slot) */
        eng__slot_watch_fn watch;     /* which part of the cache a key committed elsewhere makes stale (NULL: all) */
        eng__slot_catch_up_fn catch_up; /* NULL: a stale cache refuses a batch (ENG_EBUSY) */
    } slots[ENG__SLOT_COUNT];
    uint64_t instance;    /* random id among the engines sharing a store (lease owner) */
    unsigned stale;       /* slots whose caches other engines' commits made stale (bit per slot) */
    unsigned stale_cache; /* of those, the ones a batch writes from, not yet caught up or dropped */
};

/* Check the handle and take the lock. On failure nothing is locked. */
int eng__enter(eng_engine *e);
/* eng__enter for a call that fills the caller's versioned struct @p out: the engine is judged
 * first (ENG_EMISUSE), then eng__out_open. @p out is cleared on every path that can clear it;
 * on failure nothing is locked. */
int eng__enter_out(eng_engine *e, void *out, const size_t *sizes, unsigned n, const char *type, const char *field);
void eng__leave(eng_engine *e);

/* eng__enter for a call that returns a handle through @p out (a T **): *out is NULL on every
 * failure, and a NULL @p out is ENG_EINVAL (detail @p field), judged after the engine. */
#define eng__enter_ptr(e, out, field) ((out) ? (void)(*(out) = NULL) : (void)0, eng__enter_ptr_((e), (out) != NULL, (field)))
int eng__enter_ptr_(eng_engine *e, int have_out, const char *field);

/* Children (campaign handles, compiled rules, ...) hold a reference. */
void eng__engine_ref(eng_engine *e);
void eng__engine_unref(eng_engine *e);
/* For a call that uses the engine without its lock (a measure over the host's columns, a
 * child's creation): check it as eng__enter() does and keep it from being destroyed by
 * another thread's eng_close() until eng__engine_unhold(). */
int eng__engine_hold(eng_engine *e);
void eng__engine_unhold(eng_engine *e);

/* A child handle (snapshot, iterator) starts with this: the engine it belongs to.
 * Made with eng__child_new, filled, then either given to the caller
 * (eng__child_give: it now holds a reference, released by eng__child_free) or,
 * when the call fails, dropped (eng__child_drop). */
typedef struct eng__child {
    eng_engine *e;
} eng__child;
/* A zeroed, registered (base/handle.h) child of @p size and @p kind; NULL on OOM. */
void *eng__child_new(eng_engine *e, size_t size, int kind);
/* Returns @p h, now referencing its engine. */
void *eng__child_give(void *h);
/* Free a child that was never given. */
void eng__child_drop(void *h);
/* Free a given child (its contents already released) and drop its reference. */
void eng__child_free(void *h);
/* The prologue of a call on a child: ENG_EMISUSE (detail @p field) when @p h is not a
 * live @p kind, then ENG_EINVAL for a NULL @p out. */
int eng__child_check(const void *h, int kind, const char *field, const void *out);
/* The prologue of a child's reader that fills the caller's versioned struct @p out (of type @p type):
 * @p out cleared, the child judged as eng__child_check, then eng__out_open (detail "status"). */
int eng__child_out(const void *h, int kind, const char *field, void *out, const size_t *sizes, unsigned n,
                   const char *type);

void *eng__slot_get(eng_engine *e, int slot);
void eng__slot_set(eng_engine *e, int slot, void *state, eng__slot_free_fn free_fn);
/* A slot whose state must survive other engines' commits (claims, hooks) names
 * what drops only its cache of stored state. */
void eng__slot_set_invalidate(eng_engine *e, int slot, eng__slot_free_fn fn);
/* Invalidation by part (an org's tables) instead of the whole slot: @p fn marks,
 * the slot's invalidate drops what is marked. */
void eng__slot_set_watch(eng_engine *e, int slot, eng__slot_watch_fn fn);
/* What brings the marked part up to date inside a batch instead of refusing it. */
void eng__slot_set_catch_up(eng_engine *e, int slot, eng__slot_catch_up_fn fn);
/* Several engines on one store (contract v3): read what the others committed
 * and drop the caches it made stale. Call at a point where no cache pointer is
 * held (eng__enter does at the outermost call). A no-op on a store of one engine. */
void eng__engine_sync(eng_engine *e);
/* The same, keeping the slots of bit mask @p keep (1u << ENG__SLOT_x) even if
 * stale, for a caller that re-reads from storage what it relies on. */
void eng__engine_sync_keep(eng_engine *e, unsigned keep);

eng_time eng__now(eng_engine *e);
/* Read (or create) the engine's metadata record and count this open (meta.c). */
int eng__meta_open(eng_engine *e);
/* Executed messages with an occurrence still running (written before bd2a903): none left. */
#define ENG__REPAIRED_EXECUTED_RUNNING 1u
/* Store @p bits added to meta.repaired (a store created by this version has every bit). */
int eng__meta_repaired(eng_engine *e, uint64_t bits);
void eng__log(eng_engine *e, int level, const char *fmt, ...) ENG__PRINTF(3, 4);
/* Milestones (engage/engine.h): counts, org ids and object ids only, never a
 * name, external id, address or value. INFO when @p rc is ENG_OK, else WARN
 * with the code's name. */
void eng__log_done(eng_engine *e, int rc, const char *what, const char *fmt, ...) ENG__PRINTF(4, 5);
void eng__log_import(eng_engine *e, const char *what, const char *org, int rc, uint64_t rows, uint64_t added,
                     const char *third, uint64_t nthird, uint64_t bad);
/* Report progress; returns ENG_ECANCELLED (with message) if the host cancels. */
int eng__progress(eng_engine *e, const char *op, uint64_t done, uint64_t total);

/* One long operation's progress, with the convention of engage/engine.h
 * ("Progress"): _start reports done = 0; _step(done) reports when
 * eng__prog_every_ns (50 ms) went by since the last report (it reads a monotonic clock
 * every 64 steps, so call it per row); _end reports done = total (total 0:
 * the last done). done never goes down. Each gives ENG_ECANCELLED when the
 * host cancels: the caller then rolls back. Without a progress callback each
 * is a test and a return. */
typedef struct eng__prog {
    eng_engine *e;
    const char *op;
    uint64_t total, done;
    uint64_t last_ns;
    unsigned tick;
} eng__prog;
extern uint64_t eng__prog_every_ns; /* 50 ms; 1 (tests): report at every clock reading */
int eng__prog_start(eng__prog *p, eng_engine *e, const char *op, uint64_t total);
int eng__prog_step(eng__prog *p, uint64_t done);
int eng__prog_end(eng__prog *p);
/* _step for steps that each take a while (a chunk, an org, a slice of rows):
 * reads the clock at every call instead of every 64th. */
int eng__prog_batch(eng__prog *p, uint64_t done);
/* Units of work done on this thread (rows decoded, replayed, rewritten,
 * scanned or attributed), counted where the rows are handled, apart from the
 * progress calls: test_progress_gap reads it at every report to find the
 * largest stretch of work that reported nothing. The library never reads it. */
extern _Thread_local uint64_t eng__work_units;
/* qsort that steps @p p (done unchanged) as it goes (prog_sort.c); NULL or no
 * callback: plain qsort. ENG_ENOMEM (scratch of n elements) or ENG_ECANCELLED,
 * the array then holds its elements in some order. */
int eng__prog_sort(eng__prog *p, void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
#define ENG__WORK(n) (eng__work_units += (uint64_t)(n))

#endif
