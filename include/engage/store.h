/**
 * @file engage/store.h
 * @brief The storage contract: how libengage keeps its state in a host's storage.
 *
 * The host implements #eng_store_methods (a versioned table of callbacks with a
 * user pointer) over any ordered key-value storage, or uses one of the two
 * built-in backends: eng_store_memory_new() (nothing persists) and
 * eng_store_file_open() (a crash-safe single file, the embedded default).
 *
 * ## Consistency the library relies on
 * - Keys and values are byte strings. Keys are at most #ENG_STORE_MAX_KEY bytes,
 *   values at most #ENG_STORE_MAX_VALUE bytes.
 * - `get` after a successful `put` of the same key returns exactly those bytes,
 *   including when both happen inside one open batch (read your own writes).
 * - `scan` visits every key starting with a prefix in ascending unsigned-byte
 *   (memcmp) order, and sees the writes of the open batch. The library does not
 *   write to the store from inside a scan callback.
 * - A batch (`begin` ... `commit`) is atomic and durable: after `commit` returns
 *   #ENG_OK every write of the batch survives a crash of the process; if the
 *   process dies before `commit` returns, either all of the batch's writes
 *   survive or none do. `rollback` discards them all. The library opens at most
 *   one batch at a time per store and never nests them.
 * - A `put` or `del` outside a batch is atomic on its own.
 * - Callbacks return #ENG_OK or a negative code; `get` returns #ENG_ENOTFOUND
 *   for a missing key. Any other negative code is passed through unchanged to the
 *   caller of the libengage function (use #ENG_EUSER or #ENG_ESTORAGE and attach
 *   text with eng_error_set()).
 * - Callbacks run synchronously on the thread of the libengage call that made
 *   them, under the engine's lock; a call back into the same engine gives
 *   #ENG_EMISUSE (engage/engine.h, "Callbacks").
 *
 * ## Stability
 * This table is a "systems" interface: fields are only appended, and the library
 * calls a field added in version N only when the table's version is at least N.
 */
#ifndef ENGAGE_STORE_H
#define ENGAGE_STORE_H

#include "common.h"
#include "alloc.h"

ENG_BEGIN_DECLS

/** Largest key the library writes, in bytes. */
#define ENG_STORE_MAX_KEY 1024
/** Largest value the library writes, in bytes (256 MiB). */
#define ENG_STORE_MAX_VALUE ((size_t)256 * 1024 * 1024)

/** Current version of #eng_store_methods (2 added `erased`, 3 added `changes`). */
#define ENG_STORE_METHODS_VERSION 3

/**
 * Called by a `scan` implementation once per key, in key order.
 * @return 0 to continue, a positive value to stop early (scan then returns
 *         #ENG_OK), or a negative code to abort (scan returns that code).
 */
typedef int (*eng_store_scan_fn)(const void *key, size_t key_len,
                                 const void *value, size_t value_len, void *cb_user);

/**
 * Called by a `changes` implementation once per key another store handle
 * committed (or a prefix of such keys; the empty key means "anything").
 * @return 0 to continue; a negative code aborts (`changes` returns it).
 */
typedef int (*eng_store_change_fn)(const void *key, size_t key_len, void *cb_user);

/** A storage backend implemented by the host. Every callback takes `user` last. */
typedef struct eng_store_methods {
    unsigned int version; /**< #ENG_STORE_METHODS_VERSION. */
    /** Read @p key into @p out with eng_buf_set(). #ENG_ENOTFOUND when absent. Required. */
    int (*get)(const void *key, size_t key_len, eng_buf *out, void *user);
    /** Insert or replace @p key. Required. */
    int (*put)(const void *key, size_t key_len, const void *value, size_t value_len, void *user);
    /** Remove @p key; removing a missing key is #ENG_OK. Required. */
    int (*del)(const void *key, size_t key_len, void *user);
    /** Visit keys starting with @p prefix in ascending order (see file comment). Required. */
    int (*scan)(const void *prefix, size_t prefix_len, eng_store_scan_fn cb, void *cb_user, void *user);
    /** Open a batch. Required. */
    int (*begin)(void *user);
    /** Make the open batch's writes durable and visible as one. Required. */
    int (*commit)(void *user);
    /** Discard the open batch's writes. Required. */
    int (*rollback)(void *user);
    /** Release the backend. Optional; called exactly once when the store handle is released. */
    void (*destroy)(void *user);
    /**
     * Version 2. Optional. Called after a batch that erased a person's data
     * (docs/privacy.md) has committed, with the keys it deleted or replaced:
     * their old values held personal data, so the backend should make them
     * unrecoverable — vacuum, rewrite the pages, purge old versions and
     * replicas' history. The keys' current values (if any) stay. The built-in
     * file store rewrites its file before returning. A failure is reported to
     * the caller of the erasure (the erasure itself stays committed) and the
     * library calls again with the same keys at the next erasure.
     * @param keys the keys (not NUL-terminated). @param key_lens their lengths.
     * @param n how many. @param user the backend's pointer.
     */
    int (*erased)(const void *const *keys, const size_t *key_lens, size_t n, void *user);
    /**
     * Version 3. Optional (NULL: the store has one engine). For a store that
     * several engines share (several processes or machines over one
     * database): report the keys that commits of *other* handles wrote or
     * deleted after position @p *cursor, then set @p *cursor to the position
     * after the last commit reported. Keys may be shortened to a prefix (the
     * empty key: anything may have changed, for instance when the history
     * was pruned past @p *cursor); reporting more than changed is safe,
     * less is not. With @p cb NULL only set @p *cursor to the current end.
     * The library calls it outside a batch at the start of each call (and
     * drops what it cached of the reported keys) and inside a batch right
     * after `begin`, where its reads must belong to the batch's transaction,
     * so that a commit the batch cannot see conflicts with the batch (see
     * docs/storage-backends.md, "Several engines on one database").
     * @param cursor in: the last position seen; out: the new one.
     * @param cb called per key, or NULL. @param cb_user passed to @p cb.
     * @param user the backend's pointer.
     */
    int (*changes)(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *user);
} eng_store_methods;

/** Static initialiser equal to what eng_store_methods_init() produces. */
#define ENG_STORE_METHODS_INIT {ENG_STORE_METHODS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/**
 * Fill @p x with the version and no callbacks (set them before eng_store_new()).
 * @param x the struct. @param version #ENG_STORE_METHODS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_store_methods_init(eng_store_methods *x, unsigned int version);

/**
 * Copy @p len bytes into a library-owned buffer (the way a `get` callback returns a value).
 * @return #ENG_OK, #ENG_ENOMEM, #ENG_ETOOBIG above #ENG_STORE_MAX_VALUE, #ENG_EMISUSE (NULL @p buf),
 *         #ENG_EINVAL (NULL @p data with a length).
 */
ENG_API int eng_buf_set(eng_buf *buf, const void *data, size_t len);

/**
 * Wrap a host backend in a store handle.
 * The table is copied; @p user is kept. On every outcome, success or failure,
 * `destroy(user)` is called exactly once: when the handle is released, or before
 * this function returns an error.
 * @param methods the callbacks; all entries but destroy are required.
 * @param user passed last to every callback.
 * @param alloc allocator for the handle, or NULL for the system allocator.
 * @param[out] out receives the handle; NULL on failure.
 * @return #ENG_OK, #ENG_EINVAL (missing callback or NULL argument), #ENG_EVERSION, #ENG_ENOMEM.
 */
ENG_API int eng_store_new(const eng_store_methods *methods, void *user, const eng_allocator *alloc,
                          eng_store **out);

/**
 * Create an in-memory store. Nothing persists past eng_store_free() / eng_close().
 * @param alloc allocator, or NULL for the system allocator.
 * @param[out] out receives the handle; NULL on failure.
 * @return #ENG_OK, #ENG_EINVAL, #ENG_ENOMEM.
 */
ENG_API int eng_store_memory_new(const eng_allocator *alloc, eng_store **out);

/** eng_store_file_open() flag: create the file if it does not exist. */
#define ENG_STORE_CREATE 0x1u
/** eng_store_file_open() flag: open read-only; writes fail with #ENG_EMISUSE. */
#define ENG_STORE_READONLY 0x2u
/** eng_store_file_open() flag: skip fsync at commit (faster; a crash may lose recent commits, never corrupt). */
#define ENG_STORE_NOSYNC 0x4u

/**
 * Open (or create) the crash-safe file store at @p path.
 *
 * The file holds checksummed, length-prefixed frames, one per committed batch,
 * and from time to time a key index (written by compaction and by a close or
 * commit after enough frames). Opening maps the file, takes the keys of the last
 * index from the mapping, replays only the frames after it and drops a torn tail
 * left by a crash; commits append a frame and fsync it. eng_store_file_compact()
 * rewrites the file with only live data. A frame in the middle that fails its
 * checksum gives #ENG_ECORRUPT (at open, or for a frame the index points into,
 * at the first read of a key in it) rather than silently losing data or giving a
 * wrong answer; a damaged index is not an error (open replays every frame).
 * Only one process may open a file at a time (an advisory lock enforces it).
 * Files are format version 2; version 1 files open too.
 *
 * @param path file name.
 * @param flags a combination of ENG_STORE_CREATE, ENG_STORE_READONLY, ENG_STORE_NOSYNC.
 * @param alloc allocator, or NULL for the system allocator.
 * @param[out] out receives the handle; NULL on failure.
 * @return #ENG_OK, #ENG_EINVAL, #ENG_ENOTFOUND (no file and no CREATE), #ENG_EIO,
 *         #ENG_ECORRUPT (detail: byte offset), #ENG_EVERSION (a newer file format),
 *         #ENG_EBUSY (locked by another process), #ENG_ENOMEM.
 */
ENG_API int eng_store_file_open(const char *path, unsigned int flags, const eng_allocator *alloc,
                                eng_store **out);

/**
 * Rewrite a file store's file so it holds only live keys (crash-safe: writes a
 * new file and renames it over the old one).
 * @return #ENG_OK, #ENG_EMISUSE (not a file store), #ENG_EBUSY (batch open), #ENG_EIO.
 */
ENG_API int eng_store_file_compact(eng_store *store);

/** Current version of #eng_file_compaction. */
#define ENG_FILE_COMPACTION_VERSION 1

/**
 * When a file store compacts itself (eng_store_file_set_compaction()). After
 * each commit that wrote a frame, the store compacts (as eng_store_file_compact())
 * when its dead bytes — file bytes not holding a live key or value: overwritten
 * and deleted entries, frame headers — reach both @c min_dead_bytes and
 * @c dead_percent percent of the live bytes. The commit has already succeeded
 * then: a failed compaction leaves the store as it was, does not fail the
 * commit, and is retried only once the file has grown by @c min_dead_bytes more.
 * Readers wait while it runs (it holds the store), for about the time of writing
 * the live bytes once (docs/storage-backends.md).
 */
typedef struct eng_file_compaction {
    unsigned int version;      /**< #ENG_FILE_COMPACTION_VERSION. */
    int enabled;               /**< 1 (the default): compact automatically; 0: only eng_store_file_compact() does. */
    unsigned int dead_percent; /**< Dead bytes needed, in percent of the live bytes (default 100: the file is twice the live data). */
    uint64_t min_dead_bytes;   /**< Dead bytes needed at least (default 64 MiB), so small stores do not compact often. */
} eng_file_compaction;

/** Static initialiser equal to what eng_file_compaction_init() produces (the defaults). */
#define ENG_FILE_COMPACTION_INIT {ENG_FILE_COMPACTION_VERSION, 1, 100, (uint64_t)64 << 20}

/**
 * Prepare @p x with the default policy (version set).
 * @param x the struct. @param version #ENG_FILE_COMPACTION_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_file_compaction_init(eng_file_compaction *x, unsigned int version);

/**
 * Set when a file store compacts itself; a new store uses the defaults
 * (#ENG_FILE_COMPACTION_INIT). May be called before or after eng_open().
 * @param store a file store opened for writing.
 * @param policy the policy (its version must be set).
 * @return #ENG_OK, #ENG_EMISUSE (not a file store, or read-only), #ENG_EINVAL (NULL
 *         @p policy, @c enabled not 0 or 1), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_store_file_set_compaction(eng_store *store, const eng_file_compaction *policy);

/**
 * Release a store that was not handed to eng_open(). NULL is a no-op.
 * (A store handed to eng_open() belongs to the engine and is released by eng_close().)
 */
ENG_API void eng_store_free(eng_store *store);

ENG_END_DECLS

#endif /* ENGAGE_STORE_H */
