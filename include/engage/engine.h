/**
 * @file engage/engine.h
 * @brief The engine handle: opening, configuration, version, logging and threads.
 *
 * ## Threads
 * One engine may be used from several threads at once: every function that
 * takes an engine locks it inside. Child handles (a campaign being edited, a
 * compiled rule, ...) belong to one thread at a time unless their header says
 * otherwise. Error records are per thread (see engage/errors.h).
 * eng_version(), eng_version_string(), eng_errstr() and the `*_init()` functions
 * are safe from any thread at any time.
 *
 * ## Callbacks
 * Host callbacks run synchronously on the thread of the call that makes them.
 * The one rule for calling back into the engine from a callback:
 * - the workflow event callback (eng_model_set_event_callback(); it runs after
 *   the change is stored), the transport and the ad-export hook
 *   (#eng_dispatch_hooks; both run outside the engine's lock) may call any
 *   engine function, which works as from outside;
 * - every other callback -- storage methods (`changes` included), clock, log, progress, a CSV read
 *   callback, import row-error callbacks, reader callbacks (touches,
 *   transactions), the unmatched-receipt callback and the audience counter --
 *   runs in the middle of an engine call (often inside a storage batch): a call
 *   back into that same engine gives #ENG_EMISUSE and changes nothing; it never
 *   deadlocks. (A rule's value callback, eng_rule_eval_row(), runs without the lock
 *   and may call the engine. The allocator must never call back.)
 * Test `dispatch_reentry` checks each kind (the ad-export hook: `dispatch_adexport`).
 *
 * ## Lifetime
 * Children keep their engine alive: eng_close() on an engine with live children
 * marks it closed and releases it when the last child is freed (as SQLite's
 * sqlite3_close_v2 does), which suits garbage-collected bindings.
 */
#ifndef ENGAGE_ENGINE_H
#define ENGAGE_ENGINE_H

#include "common.h"
#include "alloc.h"
#include "store.h"
#include "transport.h"

ENG_BEGIN_DECLS

/**
 * Log levels for #eng_config.log_fn. A line is delivered only when its level
 * is at or below #eng_config.log_level. Lines carry counts, org ids and object
 * ids, never a customer's external id, contact, name or value.
 */
typedef enum eng_log_level {
    ENG_LOG_ERROR = 0, /**< Something failed: a refused corrupt record (with its key). */
    ENG_LOG_WARN = 1,  /**< An operation below failed (with its code), an execution was refused (with why). */
    ENG_LOG_INFO = 2,  /**< Milestones: engine opened, recovery dropped a torn tail, every customer import,
                            upsert, group upload and transaction import with its counts, approvals and
                            rejections, each execution started and finished with its counts, customer and
                            events compaction, erasures with their counts. */
    ENG_LOG_DEBUG = 3  /**< Detail: each transaction or receipt append with its counts. */
} eng_log_level;

/**
 * Progress of a long operation. One convention for all of them: the first
 * report has done = 0, then reports come at most about 100 ms of work apart
 * (the library aims at 50 ms; a step is a few ms of work), and the
 * last has done = total (or, when total is 0, the final count) before anything
 * is committed; done never goes down and total stays the same within one call.
 * Every long operation follows it; the operations (op) and their units:
 * "audience.import" and "audience.upload" (input bytes read of the input's
 * size, 0 for a read callback; rows of nrows for eng_customers_upsert(), ids
 * of n for eng_group_upload_ids()), "audience.apply" (rows applied to the
 * customer table, of the rows read: inside an import or upsert, after its
 * rows are read and before they are committed), "audience.load" (an org's stored customer
 * parts replayed, total 0: inside the first call that needs an org's
 * customers after the engine opens or after a compaction, when it has any), "events.txn_import" and "privacy.erase_csv"
 * (input bytes, as "audience.import"), "events.load" (touch and transaction
 * rows read, total 0: inside the first call that needs the events state after
 * the engine opens or after it was dropped: a failed write, another engine's commit), "audience.resolve" (groups, channels and the split; also while an
 * approval freezes an audience), "audience.filter" (customer rows, inside any
 * call that evaluates a filter group), "audience.compact" and
 * "audience.erase_rewrite" (customers rewritten), "events.compact" (orgs),
 * "dispatch.run" (sends so far, total 0: after each batch, and while the
 * send index grows before a batch's sends are made),
 * "dispatch.dry_run" (customers), "privacy.erase" (2 per id asked for: looked
 * up, then erased), "privacy.export" (the customer's parts and one per
 * group), "measure.report" (touch and transaction rows read, total 0; the
 * attribution inside it reports as "measure.attribute"), "measure.attribute"
 * (rows fed, eng_measure_campaign()) and "measure.org" (campaigns,
 * eng_measure_org()). One call may run several (nested) operations, each
 * with its own first and last report. The array appends (eng_touch_append(),
 * eng_txn_append()) report nothing: their work is proportional to the batch
 * the host passes, so a host that backfills millions of rows splits them into
 * batches and reports between them (the CSV imports report as listed).
 * @param op short static name of the operation, as listed.
 * @param done units done so far.
 * @param total units in all, or 0 when unknown.
 * @param user the host's #eng_config.progress_user.
 * @return 0 to go on; non-zero to cancel: the operation then fails with
 *         #ENG_ECANCELLED (detail: @p op) and leaves stored state unchanged,
 *         except "dispatch.run", which keeps the sends already made and
 *         resumes on the next eng_run_due() (engage/dispatch.h). Test
 *         `dispatch_progress` cancels each at every report;
 *         `dispatch_progress_gap` bounds the work between two reports and
 *         cancels the long ones at every report at a larger size.
 */
typedef int (*eng_progress_fn)(const char *op, uint64_t done, uint64_t total, void *user);

/** Receives log lines at or below #eng_config.log_level. */
typedef void (*eng_log_fn)(int level, const char *message, void *user);

/** Returns the current time. */
typedef eng_time (*eng_clock_fn)(void *user);

/** Current version of #eng_config. */
#define ENG_CONFIG_VERSION 3

/**
 * Engine configuration. Fill with eng_config_init(), then set what you need.
 * Every pointer may be left NULL for the documented default.
 */
typedef struct eng_config {
    unsigned int version;              /**< #ENG_CONFIG_VERSION. */
    const eng_allocator *allocator;    /**< Copied. NULL: the system allocator. */
    /**
     * Storage; ownership passes to the engine on every outcome of eng_open()
     * (it is released by eng_close(), or by eng_open() itself when that fails).
     * NULL: a new in-memory store.
     */
    eng_store *store;
    const eng_transport_methods *transport; /**< Copied. NULL: a transport that refuses every send. */
    void *transport_user;              /**< Passed last to the transport callbacks. */
    eng_clock_fn clock_fn;             /**< NULL: the system clock (CLOCK_REALTIME). */
    void *clock_user;                  /**< Passed to clock_fn. */
    eng_log_fn log_fn;                 /**< NULL: no logging. */
    void *log_user;                    /**< Passed to log_fn. */
    int log_level;                     /**< Highest #eng_log_level delivered; default #ENG_LOG_WARN. */
    eng_progress_fn progress_fn;       /**< NULL: no progress reports, no cancel. */
    void *progress_user;               /**< Passed to progress_fn. */
    /**
     * Version 2. Threads one call may start beside the caller's, as zstd's nbWorkers:
     * today a CSV import into an empty table applies its rows on one (with any
     * allocator: its hooks are thread-safe by contract, engage/alloc.h), and with
     * 2 or more a CSV import parses on threads - 1 (at most 7) beside the caller; a campaign report
     * asked for parts (#eng_campaign_report_options.threads) starts up to this many; eng_touch_append()
     * and the dispatcher's `sent` rows check, parse and hash the keys of a batch of 16,384 rows or more
     * on up to this many (at most 7), and an event segment of 16,384 rows or more is encoded in two
     * parts at once. The engine keeps the threads of the events layer from their
     * first use to eng_close(); a child forked while no call runs uses none of them
     * (docs/embedding.md, "fork()"). 0: the library never starts a thread. Results
     * are the same either way. Default 1; at most 64. Version 1 callers get the default.
     */
    unsigned int threads;
    /**
     * Version 3. Sealed event segments (touches and transactions, up to 65,536 rows
     * each, about 0.8 MB encoded) an engine keeps in memory at once. Beyond it the
     * least recently used are dropped and read again from the store when a scan needs
     * them, so memory follows this cap instead of the orgs' history; results are the
     * same at any cap. 0: no limit. Default #ENG_EVENTS_SEGMENTS_DEFAULT; version 1 and
     * 2 callers get the default. Reported by eng_info_get() (#eng_info version 3).
     */
    unsigned int events_segments;
} eng_config;

/** Default of #eng_config.events_segments: 4096 segments (2^28 rows, a few GB). */
#define ENG_EVENTS_SEGMENTS_DEFAULT 4096

/** Static initialiser equal to what eng_config_init() produces. */
#define ENG_CONFIG_INIT {ENG_CONFIG_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ENG_LOG_WARN, NULL, NULL, 1, ENG_EVENTS_SEGMENTS_DEFAULT}

/**
 * Fill @p cfg with defaults.
 * @param cfg the struct; @param version #ENG_CONFIG_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_config_init(eng_config *cfg, unsigned int version);

/**
 * Open an engine.
 * @param cfg configuration, or NULL for all defaults.
 * @param[out] out receives the engine; NULL on failure.
 * Opening reads the engine's metadata record from the store (creating it in a
 * new store) and counts the open, so it writes once to a writable store.
 * @return #ENG_OK, #ENG_EINVAL, #ENG_EVERSION (bad config version, or the store
 *         holds a newer data format), #ENG_ENOMEM, or a storage error while
 *         loading state (#ENG_ECORRUPT names the key).
 */
ENG_API int eng_open(const eng_config *cfg, eng_engine **out);

/**
 * Close an engine. NULL is a no-op returning #ENG_OK. Releases the store and
 * transport (calling their destroy callbacks). If child handles are still alive
 * the engine is marked closed (further calls give #ENG_EMISUSE) and released with
 * its last child. Called from a host callback during a call on the same engine
 * (progress, workflow event, ...), it refuses with #ENG_EMISUSE and the engine
 * stays open, unless that call holds its own reference (eng_run_due()'s transport),
 * which then releases the engine when it returns. From another thread it waits for
 * the call holding the engine's lock; calls waiting then, or started later, give
 * #ENG_EMISUSE, and a call running without the lock (a transport's send) finishes
 * first: the engine goes when the last of them returns (docs/embedding.md, Threads).
 * @return #ENG_OK, or #ENG_EMISUSE for a pointer that is not an open engine or a
 *         close from inside a call on it.
 */
ENG_API int eng_close(eng_engine *engine);

/**
 * The engine's current time (its clock callback, or the system clock).
 * @return milliseconds since the epoch; 0 if @p engine is not valid.
 */
ENG_API eng_time eng_now(eng_engine *engine);

/**
 * Release memory that the library allocated and handed to the caller with the
 * engine's allocator (strings and arrays documented as "free with eng_free").
 * NULL is a no-op.
 */
ENG_API void eng_free(eng_engine *engine, void *ptr);

/** Current version of #eng_info. */
#define ENG_INFO_VERSION 3

/**
 * What an engine knows about itself and its stored state (see eng_info_get()).
 * Set @c version to #ENG_INFO_VERSION before the call; fields of later versions
 * are only written when the caller's version asks for them.
 */
typedef struct eng_info {
    unsigned int version;     /**< #ENG_INFO_VERSION, set by the caller. */
    unsigned int data_format; /**< Format of the stored state (refused with #ENG_EVERSION when newer than the library). */
    eng_time created;         /**< When the stored state was first opened by an engine (ms since the epoch). */
    eng_time last_opened;     /**< When this engine opened it. */
    uint64_t open_count;      /**< How many times engines have opened it, this one included. */
    const char *store_kind;   /**< "memory", "file" or "custom"; a static string. */
    /* version 2 */
    uint64_t store_file_bytes; /**< (v2) File store: bytes in the file; 0 for other stores. */
    uint64_t store_live_bytes; /**< (v2) File store: bytes of the file holding live keys and values. */
    uint64_t store_dead_bytes; /**< (v2) File store: the rest (replaced and deleted entries, headers), what compaction frees. */
    uint64_t store_compactions; /**< (v2) File store: compactions since it was opened, automatic ones included. */
    /* version 3 */
    uint64_t events_segments;          /**< (v3) Sealed event segments the loaded events state knows of (0 before it loads). */
    uint64_t events_segments_resident; /**< (v3) Of those, kept in memory: at most #eng_config.events_segments. */
    uint64_t events_segment_reads;     /**< (v3) Dropped segments read again from the store since eng_open(). */
} eng_info;

/** Static initialiser equal to what eng_info_init() produces. */
#define ENG_INFO_INIT {ENG_INFO_VERSION, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0}

/**
 * Prepare @p x for eng_info_get() (zeroed, version set).
 * @param x the struct. @param version #ENG_INFO_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_info_init(eng_info *x, unsigned int version);

/**
 * Describe an open engine and the state in its store.
 * @param engine an open engine.
 * @param[out] info filled in; its @c version must be set (eng_info_init()); only the
 *        fields of that version are written.
 * @return #ENG_OK, #ENG_EMISUSE (engine not open), #ENG_EINVAL (NULL info),
 *         #ENG_EVERSION (unknown info version).
 */
ENG_API int eng_info_get(eng_engine *engine, eng_info *info);

/** Run-time version as a number: MAJOR*10000 + MINOR*100 + PATCH. */
ENG_API unsigned int eng_version(void);

/** Run-time version as "MAJOR.MINOR.PATCH"; static storage. */
ENG_API const char *eng_version_string(void);

ENG_END_DECLS

#endif /* ENGAGE_ENGINE_H */
