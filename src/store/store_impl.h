/* The store handle and the internal key-value API the upper layers use.
 * Upper layers never call the host table directly: eng__kv_* check sizes,
 * keep the batch state, and turn a failing callback into an error message
 * that names the operation and the key. */
#ifndef ENG_STORE_IMPL_H
#define ENG_STORE_IMPL_H

#include "engage/store.h"
#include "base/mem.h"

#define ENG__STORE_MAGIC 0x53544f52u /* "STOR" */

enum eng__store_kind { ENG__STORE_CUSTOM, ENG__STORE_MEMORY, ENG__STORE_FILE };

struct eng_store {
    uint32_t magic;
    int kind;
    eng__mem mem;
    eng_store_methods m;
    void *user;
    int in_batch; /* 0, or while a batch is open its serial number (process-wide, never 0): names the
                     batch for what a layer keeps only within it (the audit head) */
    int owned;   /* handed to an engine: eng_store_free() refuses */
    /* The serials of the last batch begun, the last one committed, and the last whose commit failed
     * in a way that may have applied it (not a conflict): a layer that changed its cache inside a
     * batch may take the change back only when that batch is the last and surely did not apply. */
    unsigned last_batch, committed_batch, doubtful_batch;
    /* Several engines on one store (contract v3 `changes`): the position in
     * the other handles' commits up to which the engine's caches are known
     * current, and the engine's hook told of each key committed elsewhere
     * (returns an ENG__STALE_* level). */
    uint64_t cursor;
    int has_cursor;
    int (*watch)(const void *key, size_t klen, void *user);
    void *watch_user;
    /* For a batch of eng__kv_begin_inside() that found stale caches: 1 when the
     * engine brought them up to date by reading inside the batch (another
     * engine's appends), 0 when the batch must be refused. */
    int (*catch_up)(void *user);
};

struct eng_buf {
    const eng__mem *mem;
    uint8_t *data;
    size_t len;
};

/* A library-owned value read from the store; release with eng__val_free. */
typedef struct eng__val {
    uint8_t *data;
    size_t len;
} eng__val;

int eng__store_check(const eng_store *s);
/* 1 when the backend refuses writes (a file store opened with ENG_STORE_READONLY), so
 * callers skip optional writes. Defined by the backend that knows (file.c). */
int eng__store_readonly(const eng_store *s);
/* Release the handle and its backend (destroy runs exactly once). */
void eng__store_release(eng_store *s);

int eng__kv_get(eng_store *s, const void *key, size_t klen, eng__val *out);
int eng__kv_put(eng_store *s, const void *key, size_t klen, const void *val, size_t vlen);
int eng__kv_del(eng_store *s, const void *key, size_t klen);
int eng__kv_scan(eng_store *s, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user);
int eng__kv_begin(eng_store *s);
/* What a change committed by another engine means for a batch about to start. */
enum {
    ENG__STALE_NONE = 0,  /* nothing this engine relies on */
    ENG__STALE_READ = 1,  /* state a call may have read before opening its batch */
    ENG__STALE_CACHE = 2, /* a cache this engine writes from */
};
/* Begin a batch for a caller that reads inside the batch everything it writes
 * from (so another engine's earlier commit to such state cannot be lost) and
 * holds no pointer into the engine's caches across the call: stale caches are
 * first caught up inside the batch (s->catch_up), and only those that cannot
 * be refuse it. eng__kv_begin() also refuses ENG__STALE_READ changes. */
int eng__kv_begin_inside(eng_store *s);
int eng__kv_commit(eng_store *s);
/* 1 when batch @p serial (a value of in_batch) is the last one begun and did not apply: rolled back,
 * refused, or its commit failed with a conflict (ENG_EBUSY). */
int eng__kv_batch_undone(const eng_store *s, unsigned serial);
int eng__kv_rollback(eng_store *s);
void eng__val_free(eng_store *s, eng__val *v);
/* 1 when several engines may share the store (the backend reports `changes`). */
int eng__kv_shared(const eng_store *s);
/* Outside a batch: ask the backend what other engines committed since the
 * cursor and tell s->watch of each key (the first call only sets the cursor). */
int eng__kv_sync(eng_store *s);

/* Keys whose old values held erased personal data (docs/privacy.md). */
typedef struct eng__keys {
    const eng__mem *mem;
    char **key;
    size_t *len;
    size_t n, cap, lcap;
} eng__keys;
void eng__keys_init(eng__keys *k, const eng__mem *mem);
int eng__keys_add(eng__keys *k, const void *key, size_t klen);
void eng__keys_free(eng__keys *k);
/* Tell the backend (contract version 2 `erased`) after the commit; a no-op for
 * older tables and for none. */
int eng__kv_erased(eng_store *s, const eng__keys *k);

/* Printable form of a key for error messages (non-printable bytes as \xNN). */
void eng__key_printable(const void *key, size_t klen, char *out, size_t outsz);

/* Used by the built-in backends. */
int eng__store_wrap(eng_store **out, int kind, const eng_store_methods *methods, void *user,
                    const eng_allocator *alloc);

#endif
