/**
 * @file engage/events.h
 * @brief The touch log (what happened to each message sent) and transactions.
 *
 * A *touch* is one thing that happened to one message for one customer: it was
 * sent, delivered, not delivered, bounced, opened, clicked, or led to an
 * unsubscribe or a complaint. The library writes `sent` itself when it hands a
 * message to the transport; everything later comes from the host's provider
 * receipts through eng_touch_append(), matched by the idempotency key the
 * transport was given (#eng_envelope.idempotency_key).
 *
 * A *transaction* is a purchase of a customer: id, time, amount, store, items
 * and the custom fields the org declared (eng_txn_field_add()). Transactions
 * come in through eng_txn_append() or the CSV import.
 *
 * Both are stored as columnar segments through the engine's storage, are
 * deduplicated (appending an event that is already stored changes nothing and
 * is counted in #eng_event_report.duplicates) and belong to an org.
 *
 * ## Receipts that arrive late or out of order
 * A receipt may arrive before its `sent` is committed, or an `opened` before
 * its `delivered`. Every receipt is kept; the status a send shows is the
 * furthest one reached (the highest #eng_touch_status value seen), whatever the
 * arrival order. A receipt whose key matches no send yet is counted in
 * #eng_event_report.unmatched, told to #eng_receipts.unmatched_fn, and kept
 * pending until that send is written, when it joins it.
 *
 * ## Identity of an event
 * A touch is identified by its send and its status: a send is delivered once,
 * opened once (the first open), clicked once (the first click, with its link).
 * A transaction is identified by its id within its org.
 *
 * ## Threads
 * As for every engine call: the engine locks inside. Callbacks run on the
 * calling thread inside the lock; a call back into the engine from them gives
 * #ENG_EMISUSE (engage/engine.h, "Callbacks").
 */
#ifndef ENGAGE_EVENTS_H
#define ENGAGE_EVENTS_H

#include "common.h"
#include "audience.h"

ENG_BEGIN_DECLS

/**
 * What happened to a send. The first four values equal the #eng_goal_start
 * values (tracking can start at sent, delivered, opened or clicked).
 * The status a send shows is the furthest one reached, in this order of
 * progress: sent < failed < bounced < delivered < opened < clicked <
 * unsubscribed < complained (a response proves the delivery, so it outranks a
 * failure receipt that arrives late).
 */
typedef enum eng_touch_status {
    ENG_TOUCH_SENT = 0,         /**< Handed to the transport (written by the library). */
    ENG_TOUCH_DELIVERED = 1,    /**< Delivered to the customer. */
    ENG_TOUCH_OPENED = 2,       /**< Opened (the first open). */
    ENG_TOUCH_CLICKED = 3,      /**< A link was clicked (detail: the link id; the first click). */
    ENG_TOUCH_FAILED = 4,       /**< Not delivered (detail: the reason). */
    ENG_TOUCH_UNSUBSCRIBED = 5, /**< The customer unsubscribed: opts them out of the channel. */
    ENG_TOUCH_BOUNCED = 6,      /**< Bounced (detail: the reason). */
    ENG_TOUCH_COMPLAINED = 7    /**< The customer complained (spam report): opts them out of the channel. */
} eng_touch_status;

/** Number of #eng_touch_status values. */
#define ENG_TOUCH_STATUS_COUNT 8

/** Current version of #eng_event_report. */
#define ENG_EVENT_REPORT_VERSION 1

/** What an append or import did. The caller sets version; the library fills the rest. */
typedef struct eng_event_report {
    unsigned int version;       /**< #ENG_EVENT_REPORT_VERSION, set by the caller. */
    uint64_t rows;              /**< Events given (data rows read, for a CSV). */
    uint64_t accepted;          /**< New events stored. */
    uint64_t duplicates;        /**< Events already stored: nothing changed for them. */
    uint64_t unmatched;         /**< Receipts whose key matches no send yet, newly kept pending (a repeat of
                                     a pending receipt counts as a duplicate: for receipts,
                                     rows = accepted + duplicates + unmatched). */
    uint64_t unknown_customers; /**< Transactions of customers not in the customer table yet (kept,
                                     joined when the customer arrives). */
    uint64_t consent_changes;   /**< Unsubscribe and complaint receipts that opted a customer out. */
    uint64_t bad_rows;          /**< Rows rejected or skipped (CSV import and bulk append). */
    uint64_t bytes;             /**< Input bytes read (CSV import). */
} eng_event_report;

/** Static initialiser for #eng_event_report. */
#define ENG_EVENT_REPORT_INIT {ENG_EVENT_REPORT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0}

/**
 * Prepare @p x for an append (zeroed, version set).
 * @param x the struct. @param version #ENG_EVENT_REPORT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_event_report_init(eng_event_report *x, unsigned int version);

/**
 * Told about each receipt whose key matches no send.
 * @param index the receipt's index in the batch.
 * @param key its idempotency key, the batch's own pointer (with #eng_receipts.key_lengths
 *        not necessarily NUL-terminated: its length is key_lengths[index]).
 * @param user #eng_receipts.unmatched_user.
 */
typedef void (*eng_receipt_unmatched_fn)(size_t index, const char *key, void *user);

/** Current version of #eng_receipts. */
#define ENG_RECEIPTS_VERSION 2

/** A batch of provider receipts, as parallel arrays of @p count entries. */
typedef struct eng_receipts {
    unsigned int version;                  /**< #ENG_RECEIPTS_VERSION. */
    size_t count;                          /**< Number of receipts (at most 4294967295 a call). */
    const char *const *keys;               /**< Idempotency key the transport was given, per receipt. */
    const int *statuses;                   /**< An #eng_touch_status other than #ENG_TOUCH_SENT, per receipt. */
    const eng_time *times;                 /**< When it happened (not before 1970), per receipt. */
    const char *const *details;            /**< NULL, or per receipt NULL or the reason (not delivered,
                                                bounced) or link id (clicked); at most 255 bytes. */
    eng_receipt_unmatched_fn unmatched_fn; /**< Optional: told about each unmatched receipt. */
    void *unmatched_user;                  /**< Passed to unmatched_fn. */
    /** Version 2. NULL (each key NUL-terminated), or per receipt its key's length in bytes
     *  (1..1024): the key is then keys[i][0, key_lengths[i]), which need not be
     *  NUL-terminated and must hold no NUL byte. A host that knows its keys' lengths saves
     *  the library a scan of each key for its end (a (pointer, length) pair, as SQLite's
     *  sqlite3_bind_text and libcurl's CURLOPT_POSTFIELDSIZE take). */
    const size_t *key_lengths;
} eng_receipts;

/** Static initialiser for #eng_receipts. */
#define ENG_RECEIPTS_INIT {ENG_RECEIPTS_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/**
 * Fill @p r with an empty batch of version @p version.
 * @param r the batch.
 * @param version #ENG_RECEIPTS_VERSION.
 * @return #ENG_OK; #ENG_EINVAL for NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_receipts_init(eng_receipts *r, unsigned int version);

/**
 * Append provider receipts. The whole batch is one storage batch: it is stored
 * entirely or not at all. A receipt already stored (same send and status) is a
 * duplicate and changes nothing. An #ENG_TOUCH_UNSUBSCRIBED or
 * #ENG_TOUCH_COMPLAINED receipt opts the customer out of the send's channel in
 * the same storage batch, so the next audience resolution excludes them.
 * @param engine an open engine.
 * @param receipts the batch.
 * @param report NULL, or filled with what happened (its version set by the caller).
 * @return #ENG_OK; #ENG_EINVAL for a bad receipt (detail `receipts[<i>].<field>`; nothing
 *         stored); #ENG_EVERSION; #ENG_ENOMEM; storage errors (nothing stored).
 */
ENG_API int eng_touch_append(eng_engine *engine, const eng_receipts *receipts, eng_event_report *report);

/** One touch as readers give it. Pointers are valid during the callback only. */
typedef struct eng_touch_row {
    unsigned int version;     /**< #ENG_TOUCH_ROW_VERSION (set by the library). */
    eng_time time;            /**< When it happened. */
    uint32_t customer;        /**< Dense customer id. */
    int channel;              /**< An #eng_channel. */
    int status;               /**< An #eng_touch_status. */
    uint64_t campaign;        /**< Campaign id. */
    uint64_t message;         /**< Message id. */
    uint32_t message_version; /**< Version of the message that was sent. */
    uint32_t occurrence;      /**< Occurrence of the schedule (0 for a one-time message). */
    const char *detail;       /**< Reason or link id, or "". */
} eng_touch_row;

/** Static initialiser equal to what eng_touch_row_init() produces. */
#define ENG_TOUCH_ROW_INIT {ENG_TOUCH_ROW_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, NULL}

/**
 * Fill @p x with the version and nothing else.
 * @param x the struct. @param version #ENG_TOUCH_ROW_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_touch_row_init(eng_touch_row *x, unsigned int version);

/** Current version of #eng_touch_row. */
#define ENG_TOUCH_ROW_VERSION 1

/** Receives one touch; return 0 to go on, non-zero to stop (the reader returns that value). */
typedef int (*eng_touch_fn)(const eng_touch_row *row, void *user);

/**
 * One customer's touches in an org, in time order (ties in the order stored).
 * @param engine an open engine.
 * @param org the org.
 * @param customer dense customer id.
 * @param fn called once per touch.
 * @param user passed to @p fn.
 * @return #ENG_OK; the callback's non-zero value; #ENG_EINVAL; #ENG_ECORRUPT for a damaged segment.
 */
ENG_API int eng_touches_of_customer(eng_engine *engine, const char *org, uint32_t customer, eng_touch_fn fn,
                                    void *user);

/**
 * Number of sends of a campaign (or one of its messages) by channel and by the
 * furthest status each reached.
 * @param engine an open engine.
 * @param org the org.
 * @param campaign the campaign.
 * @param message a message of it, or 0 for all its messages.
 * @param counts receives counts[channel * #ENG_TOUCH_STATUS_COUNT + status].
 * @param cap entries in @p counts: at least #ENG_CH_COUNT * #ENG_TOUCH_STATUS_COUNT.
 * @return #ENG_OK (zeros for an unknown campaign); #ENG_EINVAL; #ENG_ERANGE if @p cap is too small.
 */
ENG_API int eng_touch_status_counts(eng_engine *engine, const char *org, uint64_t campaign, uint64_t message,
                                    uint64_t *counts, size_t cap);

/**
 * Number of receipts kept pending because no send matched their key yet.
 * @param engine an open engine.
 * @param out receives the number.
 * @return #ENG_OK; #ENG_EINVAL.
 */
ENG_API int eng_touch_pending(eng_engine *engine, uint64_t *out);

/**
 * Number of sends expired in doubt that no receipt has confirmed yet: handed to the
 * transport without an answer the ledger could trust, then expired (#ENG_LEDGER_EXPIRED,
 * never sent again). Each may have reached the customer. A receipt of one
 * (eng_touch_append()) proves it left: its send is then touched and counted no longer.
 * Sends expired without ever being handed over (#ENG_LEDGER_SKIPPED) are not counted.
 * @param engine an open engine.
 * @param out receives the number.
 * @return #ENG_OK; #ENG_EINVAL; storage errors.
 */
ENG_API int eng_touch_in_doubt(eng_engine *engine, uint64_t *out);

/* ------------------------------------------------------------ transactions */

/**
 * Declare a custom typed field of the org's transactions (for goal conditions).
 * Fields are only added, never removed or retyped.
 * @param engine an open engine.
 * @param org the org.
 * @param name 1-64 of [A-Za-z0-9_], not starting with a digit, not a built-in column
 *        (id, customer, time, amount, store, items).
 * @param type an #eng_col_type.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EEXISTS; #ENG_ENOTFOUND (detail `org`: no org of
 *         that id was created); storage errors.
 */
ENG_API int eng_txn_field_add(eng_engine *engine, const char *org, const char *name, int type);

/** Current version of #eng_txn_batch. */
#define ENG_TXN_BATCH_VERSION 1

/** Transactions as parallel arrays of @p count entries. */
typedef struct eng_txn_batch {
    unsigned int version;              /**< #ENG_TXN_BATCH_VERSION. */
    size_t count;                      /**< Number of transactions. */
    const char *const *ids;            /**< Transaction id (1-255 bytes), unique in the org: a row whose id is
                                            stored already is a duplicate (#eng_event_report.duplicates) and
                                            changes nothing, whatever its other values. Required. */
    const char *const *customers;      /**< Customer external id. Required. */
    const eng_time *times;             /**< Time of the transaction. Required. */
    const int64_t *amounts;            /**< Amount in the org's currency, scaled by 10^4 (exact). Required. */
    const char *const *stores;         /**< NULL, or per row a store code (NULL for none). */
    const uint32_t *item_counts;       /**< NULL, or per row the number of its SKUs in @p items (at most 1024). */
    const char *const *items;          /**< The SKUs of every row, one row after the other (1-255 bytes each). */
    size_t nfields;                    /**< Custom fields given (declared with eng_txn_field_add()). */
    const char *const *field_names;    /**< Their names. */
    const char *const *field_values;   /**< count x nfields values as text, row-major; NULL = null. */
} eng_txn_batch;

/** Static initialiser for #eng_txn_batch. */
#define ENG_TXN_BATCH_INIT {ENG_TXN_BATCH_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL}

/**
 * Fill @p b with an empty batch of version @p version.
 * @return #ENG_OK; #ENG_EINVAL for NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_txn_batch_init(eng_txn_batch *b, unsigned int version);

/**
 * Append transactions of an org. Bad rows follow @p opts as in the CSV import
 * (reject all, or skip up to a limit); the errors name `row:column`.
 * A transaction of a customer the table does not know is kept and joins the
 * customer when they are imported (#eng_event_report.unknown_customers).
 * @param engine an open engine.
 * @param org the org.
 * @param batch the transactions.
 * @param opts NULL for the defaults.
 * @param report NULL, or filled.
 * @return #ENG_OK; #ENG_EINVAL / #ENG_EPARSE / #ENG_ERANGE for bad input (nothing stored);
 *         #ENG_ENOTFOUND (detail `org`: no org of that id was created, nothing stored);
 *         #ENG_EVERSION; #ENG_ENOMEM; storage errors.
 */
ENG_API int eng_txn_append(eng_engine *engine, const char *org, const eng_txn_batch *batch,
                           const eng_import_options *opts, eng_event_report *report);

/**
 * Import transactions from CSV through the audience CSV reader (same errors with
 * line:column, same error modes, progress and cancel). Header columns: `id`,
 * `customer`, `time`, `amount` (required), `store`, `items` (SKUs separated by
 * `|`, at most 1024), and any declared custom field. `time` is milliseconds since 1970 or a date
 * or time as the customer import reads them (`2026-03-01`, `2026-03-01T10:20:30Z`,
 * `2026-03-01 10:20:30.5+05:30`).
 * @param engine an open engine.
 * @param org the org.
 * @param read the host's read callback.
 * @param user passed to @p read.
 * @param opts NULL for the defaults.
 * @param report NULL, or filled.
 * @return as eng_txn_append(); #ENG_ECANCELLED if the progress callback cancels (nothing stored).
 */
ENG_API int eng_txn_import_csv(eng_engine *engine, const char *org, eng_read_fn read, void *user,
                               const eng_import_options *opts, eng_event_report *report);

/**
 * eng_txn_import_csv() over a buffer.
 * @param engine an open engine.
 * @param org the org.
 * @param data the CSV bytes.
 * @param len their length.
 * @param opts NULL for the defaults.
 * @param report NULL, or filled.
 * @return as eng_txn_import_csv().
 */
ENG_API int eng_txn_import_csv_buffer(eng_engine *engine, const char *org, const char *data, size_t len,
                                      const eng_import_options *opts, eng_event_report *report);

/** One transaction as readers give it. Pointers are valid during the callback only. */
typedef struct eng_txn_row {
    unsigned int version;       /**< #ENG_TXN_ROW_VERSION (set by the library). */
    const char *id;             /**< Transaction id. */
    uint32_t customer;          /**< Dense customer id, or UINT32_MAX while the customer is unknown. */
    const char *external_id;    /**< The customer's external id as given; "" once the customer is erased. */
    eng_time time;              /**< Time. */
    int64_t amount;             /**< Amount scaled by 10^4. */
    const char *store;          /**< Store code or "". */
    size_t n_items;             /**< Number of SKUs. */
    const char *const *items;   /**< The SKUs. */
} eng_txn_row;

/** Static initialiser equal to what eng_txn_row_init() produces. */
#define ENG_TXN_ROW_INIT {ENG_TXN_ROW_VERSION, NULL, 0, NULL, 0, 0, NULL, 0, NULL}

/**
 * Fill @p x with the version and nothing else.
 * @param x the struct. @param version #ENG_TXN_ROW_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_txn_row_init(eng_txn_row *x, unsigned int version);

/** Current version of #eng_txn_row. */
#define ENG_TXN_ROW_VERSION 1

/** Receives one transaction; return 0 to go on, non-zero to stop (the reader returns that value). */
typedef int (*eng_txn_fn)(const eng_txn_row *row, void *user);

/**
 * Transactions of an org in a time range, optionally of one customer, in the order stored.
 * @param engine an open engine.
 * @param org the org.
 * @param customer a customer's external id, or NULL for all.
 * @param from first time included.
 * @param to first time excluded.
 * @param fn called once per transaction.
 * @param user passed to @p fn.
 * @return #ENG_OK; the callback's non-zero value; #ENG_EINVAL; #ENG_ECORRUPT.
 */
ENG_API int eng_txn_scan(eng_engine *engine, const char *org, const char *customer, eng_time from, eng_time to,
                         eng_txn_fn fn, void *user);

/* ------------------------------------------------------------ retention */

/**
 * Keep an org's events for @p days days (0: keep everything, the default).
 * Older events are dropped at the next eng_events_compact(): a send goes with all
 * its touches when its `sent` is older than the limit.
 * @param engine an open engine.
 * @param actor an admin of the org with org scope (#ENG_OP_ADMIN).
 * @param days 0..36500.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_EINVAL; storage errors.
 */
ENG_API int eng_events_set_retention(eng_engine *engine, const char *actor, uint32_t days);

/**
 * Seal the open segments and apply every org's retention.
 * @param engine an open engine.
 * @return #ENG_OK; storage errors (nothing changed).
 */
ENG_API int eng_events_compact(eng_engine *engine);

/**
 * From when an org's events are complete: the retention cut of the last
 * compaction that dropped something, or 0 when nothing was ever dropped.
 * Reports over earlier times would be missing data.
 * @param engine an open engine.
 * @param org the org.
 * @param out receives the time (0 for an org without events).
 * @return #ENG_OK; #ENG_EINVAL.
 */
ENG_API int eng_events_data_from(eng_engine *engine, const char *org, eng_time *out);

ENG_END_DECLS

#endif /* ENGAGE_EVENTS_H */
