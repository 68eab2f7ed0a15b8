#include "core/engine_impl.h"
#include "base/error.h"
#include "base/handle.h"
#include "store/file_impl.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int refuse_send(const eng_envelope *env, int *status, void *user)
{
    (void)env;
    (void)user;
    *status = ENG_SEND_REJECTED;
    eng_error_set(ENG_ETRANSPORT, "no transport configured: the default transport refuses every send");
    return ENG_ETRANSPORT;
}

static eng_time system_clock(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (eng_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An id for this engine among those sharing a store (the owner of a lease):
 * random bytes where the system has them, read once per process (an open, a
 * buffered 4 KiB read and a close per eng_open cost more than opening an
 * in-memory engine's store), then each engine of the process its own number
 * through a bijective mix, so two engines of one process never share an id;
 * the time (in the seed) and the process vary it across processes and forks. */
static uint64_t new_instance(void)
{
    static _Atomic uint64_t seed, count;
    uint64_t s = atomic_load_explicit(&seed, memory_order_acquire);
    if (!s) {
        uint64_t v = 0;
        FILE *f = fopen("/dev/urandom", "rb");
        if (f) {
            setvbuf(f, NULL, _IONBF, 0); /* the 8 bytes needed, not a buffer's worth */
            if (fread(&v, sizeof v, 1, f) != 1)
                v = 0;
            fclose(f);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v ^= (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
        v |= 1; /* nonzero: read */
        uint64_t none = 0;
        if (!atomic_compare_exchange_strong_explicit(&seed, &none, v, memory_order_acq_rel, memory_order_acquire))
            v = none; /* another thread's came first */
        s = v;
    }
    uint64_t n = atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    uint64_t z = s + n * 0x9e3779b97f4a7c15ull; /* splitmix64: distinct n, distinct z */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    z ^= (uint64_t)getpid() << 32; /* a fork shares seed and count */
    return z ? z : 1;
}

/* ---- several engines on one store ----
 * Which layer's cache a key committed by another engine makes stale (by the
 * key's first byte, the layer prefix of docs/internals.md), and whether a
 * batch may still start: not when the audience or events layer would write
 * from a stale cache (table deltas, the touch tail), nor after any other
 * change but the ledger's, because the calls of the model and the other
 * layers read what they check before they open their batch (a message's
 * state, then the batch that moves it on). Dispatch re-reads what it writes
 * inside its batches and holds leases, so a ledger change only drops its cache. */
#define STALE_ALL ((1u << ENG__SLOT_COUNT) - 1)

/* A slot with a watch hook marks the part a key affects (an org's tables)
 * and drops only that; nothing cached of it: nothing stale. */
static int slot_stale(eng_engine *e, int slot, const void *key, size_t klen)
{
    void *st = e->slots[slot].state;
    if (st && e->slots[slot].watch && e->slots[slot].watch(e, st, key, klen) == 0)
        return ENG__STALE_NONE;
    e->stale |= 1u << slot;
    if (!st)
        return ENG__STALE_NONE;
    e->stale_cache |= 1u << slot;
    return ENG__STALE_CACHE;
}

/* Everything may have changed: the slots with a watch hook mark all they hold. */
static void stale_all(eng_engine *e)
{
    for (int i = 0; i < ENG__SLOT_COUNT; i++)
        if (e->slots[i].state && e->slots[i].watch)
            e->slots[i].watch(e, e->slots[i].state, "", 0);
    e->stale = e->stale_cache = STALE_ALL;
}

/* A batch of eng__kv_begin_inside() found caches stale: each slot marked brings
 * its part up to date inside the batch (events: other engines' appends), or the
 * batch is refused as before. */
static int catch_up(void *user)
{
    eng_engine *e = user;
    for (int i = 0; i < ENG__SLOT_COUNT; i++) {
        if (!(e->stale_cache >> i & 1u) || !e->slots[i].state)
            continue;
        if (!e->slots[i].catch_up || e->slots[i].catch_up(e, e->slots[i].state) != ENG_OK) {
            eng__log(e, ENG_LOG_DEBUG, "batch refused: another engine's commits made cache %d stale", i);
            eng_error_clear();
            return 0;
        }
        e->stale_cache &= ~(1u << i);
    }
    e->stale_cache = 0;
    eng_error_clear(); /* the reads end at a missing key */
    eng__log(e, ENG_LOG_DEBUG, "batch caught up with another engine's commits");
    return 1;
}

static int watch(const void *key, size_t klen, void *user)
{
    eng_engine *e = user;
    int first = klen ? ((const uint8_t *)key)[0] : -1;
    switch (first) {
    case 'a': /* per org: "a/o/<org>/..." drops that org's customer table and groups only */
        return slot_stale(e, ENG__SLOT_AUDIENCE, key, klen);
    case 'e': /* per org: appends are read, an org's other changes reload that org (events/sync.c);
               * consent written with events has keys of its own ("a/") */
        return slot_stale(e, ENG__SLOT_EVENTS, key, klen);
    case 'd': /* per execution (dispatch/xsync.c); and decide's slot: the checkpoints the X-Engage trace keeps */
        e->stale |= 1u << ENG__SLOT_DECIDE;
        slot_stale(e, ENG__SLOT_DISPATCH, key, klen);
        e->stale_cache &= ~(1u << ENG__SLOT_DISPATCH); /* its batches re-read what they write */
        return ENG__STALE_NONE;
    case -1:
        stale_all(e);
        return ENG__STALE_CACHE;
    default:
        return ENG__STALE_READ;
    }
}

void eng__engine_sync(eng_engine *e)
{
    eng__engine_sync_keep(e, 0);
}

void eng__engine_sync_keep(eng_engine *e, unsigned keep)
{
    if (eng__kv_shared(e->store) && eng__kv_sync(e->store) != ENG_OK) {
        eng__log(e, ENG_LOG_WARN, "cannot read other engines' changes (%s): dropping every cache",
                 eng_error_last()->message);
        stale_all(e);
    }
    for (int i = ENG__SLOT_COUNT - 1; i >= 0; i--) {
        if (!(e->stale >> i & 1u) || !e->slots[i].state || (keep >> i & 1u))
            continue;
        if (e->slots[i].invalidate) {
            e->slots[i].invalidate(e, e->slots[i].state);
        } else if (e->slots[i].free_fn && i != ENG__SLOT_MODEL) { /* the model slot holds host hooks only */
            void *st = e->slots[i].state;
            e->slots[i].state = NULL;
            e->slots[i].free_fn(e, st);
        }
    }
    e->stale &= keep; /* a kept slot is still stale: dropped at the next sync that does not keep it */
    e->stale_cache &= keep;
}

ENG_API int eng_config_init(eng_config *cfg, unsigned int version)
{
    static const eng_config init = ENG_CONFIG_INIT;
    return eng__struct_init(cfg, &init, ENG__SIZES(ENG__UPTO(eng_config, progress_user), ENG__UPTO(eng_config, threads), sizeof init), version,
                            "eng_config");
}

static void destroy(eng_engine *e);

/* Release what eng_open() took ownership of when it cannot finish. */
static void release_inputs(const eng_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->store && eng__store_check(cfg->store) == ENG_OK && !cfg->store->owned)
        eng__store_release(cfg->store);
    if (cfg->transport && cfg->transport->destroy)
        cfg->transport->destroy(cfg->transport_user);
}

ENG_API int eng_open(const eng_config *cfg, eng_engine **out)
{
    int rc;
    eng_config defaults;
    if (out)
        *out = NULL;
    if (!out) {
        release_inputs(cfg);
        return eng__err(ENG_EINVAL, "out", "eng_open: out is NULL");
    }
    if (!cfg) {
        eng_config_init(&defaults, ENG_CONFIG_VERSION);
        cfg = &defaults;
    }
    if (cfg->version == 0 || cfg->version > ENG_CONFIG_VERSION) {
        release_inputs(cfg);
        return eng__err(ENG_EVERSION, "config.version", "unsupported eng_config version %u", cfg->version);
    }
    if (cfg->log_level < ENG_LOG_ERROR || cfg->log_level > ENG_LOG_DEBUG) {
        release_inputs(cfg);
        return eng__err(ENG_EINVAL, "config.log_level", "log_level %d is not an eng_log_level", cfg->log_level);
    }
    unsigned threads = cfg->version >= 2 ? cfg->threads : 1;
    if (threads > 64) {
        release_inputs(cfg);
        return eng__err(ENG_ERANGE, "config.threads", "threads is at most 64, not %u", threads);
    }
    if (cfg->store && (eng__store_check(cfg->store) != ENG_OK || cfg->store->owned)) {
        release_inputs(&(eng_config){.transport = cfg->transport, .transport_user = cfg->transport_user});
        return eng__err(ENG_EMISUSE, "config.store", "config.store is not a valid, unowned store handle");
    }
    if (cfg->transport) {
        const eng_transport_methods *t = cfg->transport;
        if (t->version == 0 || t->version > ENG_TRANSPORT_METHODS_VERSION) {
            release_inputs(cfg);
            return eng__err(ENG_EVERSION, "config.transport.version", "unsupported eng_transport_methods version %u",
                            t->version);
        }
        if (!t->send && (t->version < 2 || !t->send_batch)) {
            release_inputs(cfg);
            return eng__err(ENG_EINVAL, "config.transport.send", "eng_transport_methods.send is required");
        }
        if (t->version >= 2 && (t->max_in_flight > 64 || t->batch_size > 4096)) {
            release_inputs(cfg);
            return eng__err(ENG_ERANGE, t->batch_size > 4096 ? "config.transport.batch_size" : "config.transport.max_in_flight",
                            "batch_size is at most 4096 and max_in_flight at most 64");
        }
    }
    eng__mem mem;
    if ((rc = eng__mem_init(&mem, cfg->allocator)) != ENG_OK) {
        release_inputs(cfg);
        return rc;
    }
    eng_engine *e = eng__handle_new(&mem, sizeof(*e), ENG__H_ENGINE);
    if (!e) {
        release_inputs(cfg);
        return eng__nomem();
    }
    e->mem = mem;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (pthread_mutex_init(&e->lock, &attr) != 0) {
        pthread_mutexattr_destroy(&attr);
        eng__handle_free(&mem, e);
        release_inputs(cfg);
        return eng__err(ENG_ERROR, "", "cannot create the engine lock");
    }
    pthread_mutexattr_destroy(&attr);
    if (cfg->store) {
        e->store = cfg->store;
    } else if ((rc = eng_store_memory_new(cfg->allocator, &e->store)) != ENG_OK) {
        pthread_mutex_destroy(&e->lock);
        eng__handle_free(&mem, e);
        release_inputs(cfg);
        return rc;
    }
    e->store->owned = 1;
    if (cfg->transport) {
        /* Copy only the fields of the host's version: a version-1 table is shorter. */
        const eng_transport_methods *t = cfg->transport;
        e->transport = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, t->send, t->destroy, NULL, 0, 0};
        if (t->version >= 2) {
            e->transport.send_batch = t->send_batch;
            e->transport.max_in_flight = t->max_in_flight;
            e->transport.batch_size = t->batch_size;
        }
        e->transport_user = cfg->transport_user;
        e->has_transport = 1;
    } else {
        e->transport = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, refuse_send, NULL, NULL, 0, 0};
    }
    e->clock_fn = cfg->clock_fn ? cfg->clock_fn : system_clock;
    e->clock_user = cfg->clock_user;
    e->log_fn = cfg->log_fn;
    e->log_user = cfg->log_user;
    e->log_level = cfg->log_level;
    e->progress_fn = cfg->progress_fn;
    e->progress_user = cfg->progress_user;
    e->threads = threads;
    eng__tpool_init(&e->pool); /* no thread yet: the first call that shares work starts them */
    e->evcache.cap = cfg->version >= 3 ? cfg->events_segments : ENG_EVENTS_SEGMENTS_DEFAULT;
    e->magic = ENG__ENGINE_MAGIC;
    e->instance = new_instance();
    e->store->watch = watch;
    e->store->watch_user = e;
    e->store->catch_up = catch_up;
    rc = eng__kv_sync(e->store); /* several engines on one store: start from its current position */
    /* Engines opening together on a shared store count their opens in one record: a loser retries. */
    for (int tries = 0; rc == ENG_OK; tries++) {
        rc = eng__meta_open(e);
        if (rc != ENG_EBUSY || !eng__kv_shared(e->store) || tries == 50)
            break;
        rc = eng__kv_sync(e->store);
    }
    if (rc != ENG_OK) {
        pthread_mutex_lock(&e->lock);
        destroy(e); /* releases the store and transport too */
        return rc;
    }
    *out = e;
    eng_error_clear(); /* opening looked up keys a new store does not have yet */
    eng__log(e, ENG_LOG_INFO, "engine opened: %s store, data format %u, open number %llu",
             e->store->kind == ENG__STORE_FILE ? "file" : e->store->kind == ENG__STORE_MEMORY ? "memory" : "custom",
             (unsigned)e->meta.format, (unsigned long long)e->meta.opens);
    eng__file_stats fst;
    if (eng__file_stats_get(e->store, &fst) == ENG_OK && fst.dropped_bytes)
        eng__log(e, ENG_LOG_INFO, "recovery dropped a torn tail of %llu bytes (a write the crash interrupted)",
                 (unsigned long long)fst.dropped_bytes);
    eng_error_clear();
    return ENG_OK;
}

static void destroy(eng_engine *e)
{
    eng__tpool_close(&e->pool);
    for (int i = ENG__SLOT_COUNT - 1; i >= 0; i--)
        if (e->slots[i].state && e->slots[i].free_fn)
            e->slots[i].free_fn(e, e->slots[i].state);
    eng__store_release(e->store);
    if (e->transport.destroy)
        e->transport.destroy(e->transport_user);
    e->magic = 0;
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_destroy(&e->lock);
    eng__mem mem = e->mem;
    eng__handle_free(&mem, e);
}

/* Calls into an engine on this thread: only the outermost one clears the last
 * error (a host callback calling back in does not wipe the outer call's). */
static _Thread_local unsigned call_depth;

/* The engine of the outermost call in progress on this thread. */
static _Thread_local const eng_engine *call_engine;

/* Lifetime. A closed engine is destroyed by whoever leaves it last: the close, the last
 * child freed, the last call returning (or waiting for the lock when the close came). Every
 * call pins the engine in the handle table before it reads it, and the destroyer retires the
 * handle under the table's lock only when nothing holds it, then takes the engine's lock to
 * destroy it; so no call starts on an engine being destroyed, and none is destroyed under a
 * call. A holder lets go either under the engine's lock (the destroyer waits for it) or inside
 * the table's lock together with the check (eng__handle_retire_if), and never touches the
 * engine after that unless it retired it. */
static void pin(void *p)
{
    atomic_fetch_add(&((eng_engine *)p)->pins, 1);
}

static void unpin(void *p)
{
    atomic_fetch_sub(&((eng_engine *)p)->pins, 1);
}

static void unref(void *p)
{
    atomic_fetch_sub(&((eng_engine *)p)->refs, 1);
}

static int unheld(void *p)
{
    const eng_engine *e = p;
    return atomic_load(&e->closed) && atomic_load(&e->refs) == 0 && atomic_load(&e->pins) == 0;
}

/* Let go of @p e with @p letgo (NULL: already done under the engine's lock, held when
 * @p locked) and destroy it when that was the last hold. Returns 1 when it did. */
static int let_go(eng_engine *e, void (*letgo)(void *), int locked)
{
    if (!eng__handle_retire_if(e, ENG__H_ENGINE, letgo, unheld))
        return 0;
    if (!locked)
        pthread_mutex_lock(&e->lock);
    destroy(e);
    return 1;
}

/* The engine's lock is held: give it up, destroying the engine if it is closed and unheld. */
static void unlock_or_destroy(eng_engine *e)
{
    if (!e->closed || !let_go(e, NULL, 1)) /* not closed: no one destroys it while we hold the lock */
        pthread_mutex_unlock(&e->lock);
}

ENG_API int eng_close(eng_engine *e)
{
    if (!e)
        return ENG_OK;
    if (!eng__handle_pin(e, ENG__H_ENGINE, pin))
        return eng__err(ENG_EMISUSE, "engine", "eng_close: not an open engine");
    pthread_mutex_lock(&e->lock);
    unpin(e);
    int rc = ENG_OK;
    if (e->closed) /* closed before, or by another thread while this one waited */
        rc = eng__err(ENG_EMISUSE, "engine", "eng_close: not an open engine");
    /* From a host callback of a call running on this engine that holds no reference to it (the
     * progress or the workflow event callback; eng_run_due() holds one around its transport
     * calls, so a close from there waits for the run): the call goes on with it. */
    else if (call_depth && call_engine == e && e->refs == 0)
        rc = eng__err(ENG_EMISUSE, "engine",
                      "eng_close from inside a call on this engine (a host callback): close it after the call returns");
    else {
        eng_error_clear(); /* engage/errors.h: a call that succeeds leaves no error behind */
        e->closed = 1;
    }
    unlock_or_destroy(e);
    return rc;
}

/* Checks of an engine this thread has pinned (so its fields can be read). */
static int check_pinned(const eng_engine *e)
{
    if (e->closed)
        return eng__err(ENG_EMISUSE, "engine", "engine handle is not open (closed, freed or not an engine)");
    if (call_depth && call_engine == e && eng__in_callback()) /* engage/engine.h, "Callbacks" */
        return eng__err(ENG_EMISUSE, "engine",
                        "a host callback called back into the engine whose call is running it; only the "
                        "workflow event callback and the transport may");
    return ENG_OK;
}

int eng__engine_hold(eng_engine *e)
{
    if (!e)
        return eng__err(ENG_EMISUSE, "engine", "engine is NULL");
    if (!eng__handle_pin(e, ENG__H_ENGINE, pin))
        return eng__err(ENG_EMISUSE, "engine", "engine handle is not open (closed, freed or not an engine)");
    int rc = check_pinned(e);
    if (rc)
        let_go(e, unpin, 0);
    return rc;
}

void eng__engine_unhold(eng_engine *e)
{
    let_go(e, unpin, 0);
}

int eng__enter(eng_engine *e)
{
    int rc = eng__engine_hold(e);
    if (rc)
        return rc;
    pthread_mutex_lock(&e->lock);
    if (e->closed) { /* another thread closed it while this call waited for the lock */
        unpin(e);
        unlock_or_destroy(e);
        return eng__err(ENG_EMISUSE, "engine", "the engine was closed by another thread before this call started");
    }
    if (call_depth++ == 0) {
        call_engine = e;
        if (eng__kv_shared(e->store) && !e->store->in_batch)
            eng__engine_sync(e); /* see what other engines committed */
        eng_error_clear(); /* engage/errors.h: a call that succeeds leaves no error behind */
    }
    return ENG_OK;
}

int eng__enter_out(eng_engine *e, void *out, const size_t *sizes, unsigned n, const char *type, const char *field)
{
    int rc = eng__enter(e);
    if (rc) {
        eng__out_clear(out, sizes, n);
        return rc;
    }
    if ((rc = eng__out_open(out, sizes, n, type, field)))
        eng__leave(e);
    return rc;
}

void eng__leave(eng_engine *e)
{
    if (call_depth == 1 && eng_error_last()->code == ENG_ECORRUPT) { /* the call refused a damaged record */
        const eng_error *le = eng_error_last();
        eng__log(e, ENG_LOG_ERROR, "refused a corrupt record (%s): %s", le->detail, le->message);
    }
    call_depth--;
    unpin(e); /* under the lock: a destroyer waits for it */
    unlock_or_destroy(e);
}

void eng__engine_ref(eng_engine *e)
{
    atomic_fetch_add(&e->refs, 1);
}

void eng__engine_unref(eng_engine *e)
{
    let_go(e, unref, 0);
}

int eng__enter_ptr_(eng_engine *e, int have_out, const char *field)
{
    int rc = eng__enter(e);
    if (rc || have_out)
        return rc;
    rc = eng__err(ENG_EINVAL, field, "%s is NULL", field);
    eng__leave(e);
    return rc;
}

void *eng__child_new(eng_engine *e, size_t size, int kind)
{
    eng__child *h = eng__handle_new(&e->mem, size, kind);
    if (h)
        h->e = e;
    return h;
}

void *eng__child_give(void *h)
{
    eng__engine_ref(((eng__child *)h)->e);
    return h;
}

void eng__child_drop(void *h)
{
    if (h)
        eng__handle_free(&((eng__child *)h)->e->mem, h);
}

void eng__child_free(void *h)
{
    eng_engine *e = ((eng__child *)h)->e;
    eng__handle_free(&e->mem, h);
    eng__engine_unref(e);
}

int eng__child_out(const void *h, int kind, const char *field, void *out, const size_t *sizes, unsigned n,
                   const char *type)
{
    eng__out_clear(out, sizes, n);
    int rc = eng__child_check(h, kind, field, out);
    return rc ? rc : eng__out_open(out, sizes, n, type, "status");
}

int eng__child_check(const void *h, int kind, const char *field, const void *out)
{
    if (!eng__handle_live(h, kind))
        return eng__err(ENG_EMISUSE, field, "not a %s snapshot (NULL or freed)", field);
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    return ENG_OK;
}

void *eng__slot_get(eng_engine *e, int slot)
{
    return e->slots[slot].state;
}

void eng__slot_set(eng_engine *e, int slot, void *state, eng__slot_free_fn free_fn)
{
    e->slots[slot].state = state;
    e->slots[slot].free_fn = free_fn;
}

void eng__slot_set_invalidate(eng_engine *e, int slot, eng__slot_free_fn fn)
{
    e->slots[slot].invalidate = fn;
}

void eng__slot_set_catch_up(eng_engine *e, int slot, eng__slot_catch_up_fn fn)
{
    e->slots[slot].catch_up = fn;
}

void eng__slot_set_watch(eng_engine *e, int slot, eng__slot_watch_fn fn)
{
    e->slots[slot].watch = fn;
}

eng_time eng__now(eng_engine *e)
{
    eng__callback_begin();
    eng_time t = e->clock_fn(e->clock_user);
    eng__callback_end();
    return t;
}

ENG_API eng_time eng_now(eng_engine *e)
{
    if (eng__enter(e))
        return 0;
    eng_time t = eng__now(e);
    eng__leave(e);
    return t;
}

ENG_API void eng_free(eng_engine *e, void *ptr)
{
    if (!ptr || !eng__handle_pin(e, ENG__H_ENGINE, pin)) /* pinned: another thread's close waits */
        return;
    eng__free(&e->mem, ptr);
    let_go(e, unpin, 0);
}

void eng__log(eng_engine *e, int level, const char *fmt, ...)
{
    if (!e->log_fn || level > e->log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    eng__callback_begin();
    e->log_fn(level, buf, e->log_user);
    eng__callback_end();
}

void eng__log_done(eng_engine *e, int rc, const char *what, const char *fmt, ...)
{
    int level = rc ? ENG_LOG_WARN : ENG_LOG_INFO;
    if (!e->log_fn || level > e->log_level)
        return;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (rc)
        eng__log(e, level, "%s failed (%s)%s%s", what, eng_errstr(rc), buf[0] ? ": " : "", buf);
    else
        eng__log(e, level, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

void eng__log_import(eng_engine *e, const char *what, const char *org, int rc, uint64_t rows, uint64_t added,
                     const char *third, uint64_t nthird, uint64_t bad)
{
    eng__log_done(e, rc, what, "org %s: %llu rows, %llu new, %llu %s, %llu bad", org ? org : "-",
                  (unsigned long long)rows, (unsigned long long)added, (unsigned long long)nthird, third,
                  (unsigned long long)bad);
}

/* A report after 50 ms: with the steps' own length (a few ms) and a loaded
 * machine's jitter, reports stay within the ~100 ms engine.h promises. Tests
 * set 1 (every clock reading reports). */
uint64_t eng__prog_every_ns = 50000000ull;
_Thread_local uint64_t eng__work_units;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int prog_report(eng__prog *p, uint64_t done)
{
    if (done < p->done)
        done = p->done; /* monotone, whatever the caller counts */
    if (p->total && done > p->total)
        done = p->total;
    p->done = done;
    p->last_ns = mono_ns();
    return eng__progress(p->e, p->op, done, p->total);
}

int eng__prog_start(eng__prog *p, eng_engine *e, const char *op, uint64_t total)
{
    *p = (eng__prog){e, op, total, 0, 0, 0};
    return e->progress_fn ? prog_report(p, 0) : ENG_OK;
}

int eng__prog_step(eng__prog *p, uint64_t done)
{
    if (!p->e->progress_fn)
        return ENG_OK;
    if (done > p->done)
        p->done = p->total && done > p->total ? p->total : done;
    if (eng__prog_every_ns == 0)
        return prog_report(p, p->done);
    if ((++p->tick & 63) != 0)
        return ENG_OK;
    return mono_ns() - p->last_ns >= eng__prog_every_ns ? prog_report(p, p->done) : ENG_OK;
}

int eng__prog_batch(eng__prog *p, uint64_t done)
{
    p->tick |= 63; /* the next step reads the clock */
    return eng__prog_step(p, done);
}

int eng__prog_end(eng__prog *p)
{
    return p->e->progress_fn ? prog_report(p, p->total ? p->total : p->done) : ENG_OK;
}

int eng__progress(eng_engine *e, const char *op, uint64_t done, uint64_t total)
{
    if (!e->progress_fn)
        return ENG_OK;
    eng__callback_begin();
    int stop = e->progress_fn(op, done, total, e->progress_user);
    eng__callback_end();
    if (stop)
        return eng__err(ENG_ECANCELLED, op, "%s cancelled by the host at %llu of %llu", op,
                        (unsigned long long)done, (unsigned long long)total);
    return ENG_OK;
}
