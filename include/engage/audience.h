/**
 * @file engage/audience.h
 * @brief Customers, reachability, CSV import, groups and resolved audiences.
 *
 * The customer table is columnar and keyed by dense internal 32-bit ids
 * (assigned in order of first appearance and never reused or moved); each
 * customer also has an external id (a string or a 64-bit integer, chosen per
 * engine before the first customer exists). Attributes are typed columns
 * declared with eng_customers_add_column(). Contacts, consent and opt-out per
 * channel and a suppression flag decide reachability:
 * reachable on channel c = has a contact for c, has consent for c, has not
 * opted out of c, and is not suppressed.
 *
 * Rows arrive through eng_customers_import_csv() (RFC 4180) or
 * eng_customers_upsert(); both take the same column names:
 * - `id` (required, first column): the external id;
 * - `contact.<channel>` (for example `contact.email`, `contact.sms`), where
 *   `<channel>` is eng_channel_name(); emails must look like `a@b.c`, phone-based
 *   channels (sms, whatsapp, viber, rcs, calltask) take E.164 (`+` and 8-15 digits);
 * - `consent.<channel>` and `optout.<channel>`: `true`/`false`/`1`/`0`/`yes`/`no`,
 *   or a date (`YYYY-MM-DD`) or time (`YYYY-MM-DDTHH:MM:SSZ`; also with a space for
 *   the T, without seconds, with a fraction, or an offset such as `+05:30` for the Z; a time
 *   without its zone is refused) meaning "yes, at that time";
 * - `suppressed`: a boolean;
 * - any declared attribute column. An empty field is NULL and clears the value.
 *
 * An import is atomic: it is validated whole, written to storage in one batch,
 * and only then applied in memory; any failure leaves stored and visible state
 * as they were.
 *
 * Groups: uploaded (a list of external ids), filter (an expression of the
 * rules language over the customer columns) and combined (union or
 * intersection of included groups, minus excluded groups; cycles are refused).
 * eng_audience_resolve() turns include/exclude groups, channel reachability and
 * a test/control ratio into an #eng_audience, which can be frozen under a key
 * with its content hash so that what is contacted is exactly what was approved.
 *
 * Tenancy: customers, columns, consent, groups, imports and frozen audiences
 * belong to one org. Every call that takes an engine names its acting user
 * right after it (as the model's calls do) and works on that actor's org only:
 * two orgs importing the same external ids get separate customers with their
 * own dense ids, a group id or a frozen-audience key of another org is not
 * found, and a message can use only its own org's groups. Access is denied by
 * default (#ENG_EDENIED for an unknown actor, an actor without the role, or a
 * unit-scoped actor: audience data belongs to the org, not to a unit):
 * - #ENG_OP_READ (viewer, author, approver, admin): counts, memory, group
 *   find/kind/count, resolve, test count, loading a frozen audience;
 * - #ENG_OP_EDIT (author, admin): creating, changing, uploading and deleting
 *   groups, freezing an audience;
 * - #ENG_OP_ADMIN (admin with org scope): the id kind and columns, imports and
 *   upserts, compaction, and reading one customer's data (find, external id,
 *   values, reachability), which is personal data.
 * Every call that changes state appends an audit entry (see engage/audit.h) in
 * the same storage batch as the change. An #eng_audience handle belongs to the
 * org it was resolved or loaded for; reading it needs no actor.
 *
 * Thread safety: every function taking an engine locks it. An #eng_audience
 * is immutable after it is made and may be read from several threads; it keeps
 * its engine open until eng_audience_free().
 */
#ifndef ENGAGE_AUDIENCE_H
#define ENGAGE_AUDIENCE_H

#include "common.h"

ENG_BEGIN_DECLS

/** Kind of external customer id. */
typedef enum eng_id_kind {
    ENG_ID_STRING = 1, /**< Any UTF-8 string of 1 to 255 bytes without control characters (the default). */
    ENG_ID_INT64 = 2   /**< A decimal signed 64-bit integer. */
} eng_id_kind;

/** Type of an attribute column. */
typedef enum eng_col_type {
    ENG_COL_STRING = 1,  /**< UTF-8 text (dictionary-encoded), at most 4096 bytes. */
    ENG_COL_INT64 = 2,   /**< Signed 64-bit integer. */
    ENG_COL_DECIMAL = 3, /**< Fixed point with 4 decimals, stored as an int64 scaled by 10^4. */
    ENG_COL_DATE = 4,    /**< A date or UTC time, stored as #eng_time (ms since the epoch); a date (its UTC day) in filter rules. */
    ENG_COL_BOOL = 5     /**< true/false. */
} eng_col_type;

/** What an import does with a bad row. */
typedef enum eng_on_error {
    ENG_IMPORT_REJECT_FILE = 0, /**< Any bad row rejects the whole input; nothing is applied. */
    ENG_IMPORT_SKIP_ROWS = 1    /**< Skip bad rows; more than max_bad_rows of them rejects the input. */
} eng_on_error;

/** One problem found in an input row (passed to #eng_import_error_fn). */
typedef struct eng_import_error {
    uint64_t line;       /**< 1-based physical line where the field starts (the header is line 1). */
    uint32_t column;     /**< 1-based field number in the row (0 when the whole row is meant). */
    const char *field;   /**< Column name from the header ("" when unknown). */
    int code;            /**< An #eng_code (#ENG_EPARSE, #ENG_ERANGE, #ENG_ETOOBIG, #ENG_ENOTFOUND...). */
    const char *message; /**< Human-readable reason. */
} eng_import_error;

/**
 * Called for each bad row, in input order, during an import. The pointers are
 * valid only during the call.
 * @param err the problem. @param user the options' error_user.
 */
typedef void (*eng_import_error_fn)(const eng_import_error *err, void *user);

/**
 * Supplies input bytes for a streaming import.
 * @param buf where to write. @param cap bytes available in buf. @param user the caller's pointer.
 * @return bytes written (0 at the end of input) or a negative code to abort with.
 */
typedef long (*eng_read_fn)(void *buf, size_t cap, void *user);

/** Version of #eng_import_options. */
#define ENG_IMPORT_OPTIONS_VERSION 2

/** Options of an import. Fill with eng_import_options_init(). */
typedef struct eng_import_options {
    unsigned int version;            /**< #ENG_IMPORT_OPTIONS_VERSION. */
    int on_error;                    /**< An #eng_on_error; default #ENG_IMPORT_REJECT_FILE. */
    uint64_t max_bad_rows;           /**< With #ENG_IMPORT_SKIP_ROWS: most rows that may be skipped (default 0). */
    size_t max_field_bytes;          /**< Longest field accepted (default and upper bound 65536). */
    eng_import_error_fn error_fn;    /**< Optional: told about every bad row. */
    void *error_user;                /**< Passed to error_fn. */
    /** Version 2. The input's expected size in bytes, for an import through
     *  a read callback (0: unknown; a buffer import knows its size and
     *  ignores this). A CSV customer import into an empty table then sizes
     *  the table once for the rows it predicts instead of growing it step by
     *  step. Only a hint: a wrong value changes speed and memory use during
     *  the import, never the result. */
    uint64_t size_hint;
} eng_import_options;

/** Static initialiser equal to what eng_import_options_init() produces. */
#define ENG_IMPORT_OPTIONS_INIT {ENG_IMPORT_OPTIONS_VERSION, ENG_IMPORT_REJECT_FILE, 0, 65536, NULL, NULL, 0}

/**
 * Fill @p opts with defaults.
 * @param opts the struct. @param version #ENG_IMPORT_OPTIONS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL) or #ENG_EVERSION.
 */
ENG_API int eng_import_options_init(eng_import_options *opts, unsigned int version);

/** Version of #eng_import_report. */
#define ENG_IMPORT_REPORT_VERSION 1

/**
 * What an import did. The caller sets @c version (use #ENG_IMPORT_REPORT_INIT);
 * the library fills the rest, even when the import fails.
 */
typedef struct eng_import_report {
    unsigned int version; /**< #ENG_IMPORT_REPORT_VERSION, set by the caller. */
    uint64_t rows;        /**< Data rows read (not counting the header). */
    uint64_t inserted;    /**< New customers (or group members added). */
    uint64_t updated;     /**< Existing customers changed. */
    uint64_t bad_rows;    /**< Rows rejected or skipped. */
    uint64_t bytes;       /**< Input bytes read. */
} eng_import_report;


/** Static initialiser equal to what eng_import_report_init() produces. */
#define ENG_IMPORT_REPORT_INIT {ENG_IMPORT_REPORT_VERSION, 0, 0, 0, 0, 0}

/**
 * Prepare @p x for an import (zeroed, version set).
 * @param x the struct. @param version #ENG_IMPORT_REPORT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_import_report_init(eng_import_report *x, unsigned int version);

/**
 * Choose the kind of external id. Allowed only while the table is empty.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @param kind an #eng_id_kind.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE (bad engine), #ENG_EINVAL (bad kind),
 *         #ENG_ESTATE (customers exist), a storage error.
 */
ENG_API int eng_customers_set_id_kind(eng_engine *engine, const char *actor, int kind);

/**
 * Declare an attribute column (stored; columns cannot be removed).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @param name 1-64 characters of [A-Za-z0-9_], not starting with a digit, not
 *        `id` or `suppressed`, unique.
 * @param type an #eng_col_type.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE, #ENG_EINVAL (bad name or type), #ENG_EEXISTS,
 *         #ENG_ETOOBIG (more than 1024 columns), a storage error.
 */
ENG_API int eng_customers_add_column(eng_engine *engine, const char *actor, const char *name, int type);

/**
 * Number of customers.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param out receives the count.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE, #ENG_EINVAL, or a storage/corruption error from loading.
 */
ENG_API int eng_customers_count(eng_engine *engine, const char *actor, uint64_t *out);

/**
 * Heap bytes held by the in-memory customer table (ids, columns, contacts,
 * reachability sets), for the "bytes per customer" figure.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param out receives the byte count.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE, #ENG_EINVAL, or a loading error.
 */
ENG_API int eng_customers_memory(eng_engine *engine, const char *actor, uint64_t *out);

/**
 * Import customers from RFC 4180 CSV (header row, quoted fields, `""` escapes,
 * CRLF or LF, embedded newlines, optional UTF-8 BOM; every field must be valid
 * UTF-8). An unquoted empty field is NULL; a quoted `""` is the empty string
 * for a string column (NULL for the other types), as in PostgreSQL. Existing customers (same external id) are updated: only the columns
 * present in the header change. Progress is reported through the engine's
 * progress callback (operation "audience.import"), which may cancel.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @param read supplies the bytes. @param user passed to @p read.
 * @param opts options or NULL for defaults.
 * @param report optional; filled even when the import fails (its version must be set).
 * @return #ENG_EDENIED as for every call naming an actor; otherwise #ENG_OK; #ENG_EVERSION (options or report of an unknown version);
 *         #ENG_EPARSE, #ENG_ERANGE, #ENG_ETOOBIG... for a rejected input
 *         (eng_error_last() detail is "line:column"); #ENG_ECANCELLED; a read
 *         callback's code; a storage error. On failure nothing is applied.
 */
ENG_API int eng_customers_import_csv(eng_engine *engine, const char *actor, eng_read_fn read, void *user,
                                     const eng_import_options *opts, eng_import_report *report);

/**
 * eng_customers_import_csv() over a buffer.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @param data the CSV bytes. @param len their length.
 * @param opts options or NULL. @param report optional.
 * @return #ENG_EDENIED as for every call naming an actor; otherwise as eng_customers_import_csv().
 */
ENG_API int eng_customers_import_csv_buffer(eng_engine *engine, const char *actor, const char *data, size_t len,
                                            const eng_import_options *opts, eng_import_report *report);

/**
 * Bulk upsert through the API, with the same column names and value syntax as
 * the CSV import (row r, column c is values[r * ncols + c]; NULL or "" is NULL).
 * Errors report line r + 2 (as if a header were line 1).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @param names ncols column names, the first being `id`.
 * @param ncols number of columns. @param values nrows * ncols values.
 * @param nrows number of rows. @param opts options or NULL. @param report optional.
 * @return #ENG_EDENIED as for every call naming an actor; otherwise as eng_customers_import_csv(), plus #ENG_EINVAL for NULL arrays.
 */
ENG_API int eng_customers_upsert(eng_engine *engine, const char *actor, const char *const *names, size_t ncols,
                                 const char *const *values, size_t nrows,
                                 const eng_import_options *opts, eng_import_report *report);

/**
 * Compact the stored customer table: the imports that built it are replaced,
 * in one storage batch, by a single record set holding the current state
 * (every customer keeps its dense id). Reopening then replays one delta
 * instead of every import so far. Run it from time to time, for example after
 * a large re-import; the in-memory table is rebuilt on next use.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN (audited).
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE, #ENG_ENOMEM, a storage error (then nothing changed).
 */
ENG_API int eng_customers_compact(eng_engine *engine, const char *actor);

/**
 * Find a customer's dense id by external id (decimal text for #ENG_ID_INT64).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN.
 * @param external_id the id. @param out receives the dense id.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_EMISUSE, #ENG_EINVAL.
 */
ENG_API int eng_customer_find(eng_engine *engine, const char *actor, const char *external_id, uint32_t *out);

/**
 * The external id of a dense id, as text.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN.
 * @param id dense id. @param buf receives a NUL-terminated string.
 * @param cap size of buf (256 is always enough).
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_ERANGE (buf too small), #ENG_EMISUSE, #ENG_EINVAL.
 */
ENG_API int eng_customer_external_id(eng_engine *engine, const char *actor, uint32_t id, char *buf, size_t cap);

/**
 * One value of a customer as text, in the syntax the import accepts (so it
 * re-imports to the same value): any attribute column, `id`,
 * `contact.<channel>`, `consent.<channel>` / `optout.<channel>` (the time
 * given, or `false`) and `suppressed`. Decimals print without trailing zeros,
 * dates as `YYYY-MM-DD` at midnight UTC and as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` otherwise.
 * A NULL attribute or a missing contact gives "" (length 0).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN.
 * @param id dense id. @param column the column name.
 * @param buf receives the NUL-terminated text. @param cap size of buf.
 * @param len receives the text's length (also when buf is too small).
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND (no such customer or column), #ENG_ERANGE
 *         (buf too small), #ENG_EINVAL, #ENG_EMISUSE.
 */
ENG_API int eng_customer_get(eng_engine *engine, const char *actor, uint32_t id, const char *column, char *buf, size_t cap,
                             size_t *len);

/**
 * Whether a customer can be contacted on a channel now (contact, consent, no
 * opt-out, not suppressed). Dispatch asks this again at send time.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN.
 * @param id dense id. @param channel an eng_channel value.
 * @param out receives 1 or 0.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND (no such customer), #ENG_EINVAL, #ENG_EMISUSE.
 */
ENG_API int eng_customer_reachable(eng_engine *engine, const char *actor, uint32_t id, int channel, int *out);

/** Where a consent or opt-out change came from (#eng_consent_change). */
typedef enum eng_consent_source {
    ENG_CONSENT_SOURCE_IMPORT = 1,      /**< A CSV import (eng_customers_import_csv() and its buffer form). */
    ENG_CONSENT_SOURCE_API = 2,         /**< eng_customers_upsert(). */
    ENG_CONSENT_SOURCE_UNSUBSCRIBE = 3, /**< An unsubscribe receipt (engage/events.h). */
    ENG_CONSENT_SOURCE_COMPLAINT = 4    /**< A complaint receipt (engage/events.h). */
} eng_consent_source;

/** What a consent change is about. */
typedef enum eng_consent_kind {
    ENG_CONSENT_KIND_CONSENT = 1, /**< Consent to be contacted on the channel. */
    ENG_CONSENT_KIND_OPTOUT = 2   /**< An opt-out of the channel. */
} eng_consent_kind;

/** Current version of #eng_consent_change. */
#define ENG_CONSENT_CHANGE_VERSION 1

/**
 * One change of a customer's consent or opt-out on a channel, read with
 * eng_consent_next(). The caller sets @c version; the library fills the rest.
 */
typedef struct eng_consent_change {
    unsigned int version; /**< #ENG_CONSENT_CHANGE_VERSION, set by the caller. */
    int channel;          /**< An eng_channel value. */
    int kind;             /**< An #eng_consent_kind. */
    int given;            /**< 1: given (consent granted, or opted out) at @c time; 0: withdrawn. */
    eng_time time;        /**< The time given with the value; for a withdrawal, @c recorded. */
    eng_time recorded;    /**< When the library recorded the change (the engine clock). */
    int source;           /**< An #eng_consent_source. */
    const char *actor;    /**< The acting user who made it; "" for receipts. Valid until the iterator is freed. */
} eng_consent_change;

/** Static initialiser equal to what eng_consent_change_init() produces. */
#define ENG_CONSENT_CHANGE_INIT {ENG_CONSENT_CHANGE_VERSION, 0, 0, 0, 0, 0, 0, NULL}

/**
 * Prepare @p x for eng_consent_next() (zeroed, version set).
 * @param x the struct. @param version #ENG_CONSENT_CHANGE_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_consent_change_init(eng_consent_change *x, unsigned int version);

/** Iterator over one customer's consent history (eng_consent_history()). */
typedef struct eng_consent_iter eng_consent_iter;

/**
 * The consent history of one customer: every change of consent or opt-out on
 * every channel, oldest first, with its time, source and actor — what an org
 * shows a regulator asking when and how a customer consented. A change is a
 * value that differs from the one before: given or withdrawn, or another time
 * given (a re-import of the same time is not one; a bare `true` takes the
 * import's time, so importing it again records consent given again). The history survives compaction; an erasure removes it with the
 * customer. Reading it replays the org's stored imports (see docs/privacy.md).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN.
 * @param id dense id.
 * @param[out] out receives the iterator (free with eng_consent_iter_free()); NULL on failure.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope),
 *         #ENG_ENOTFOUND (no such customer, or erased), #ENG_EINVAL, #ENG_EMISUSE, #ENG_ENOMEM,
 *         a storage error.
 */
ENG_API int eng_consent_history(eng_engine *engine, const char *actor, uint32_t id, eng_consent_iter **out);

/**
 * The next change, oldest first.
 * @param it the iterator.
 * @param out caller-versioned (#ENG_CONSENT_CHANGE_INIT); receives the change.
 * @return #ENG_OK; #ENG_ITEROVER after the last; #ENG_EMISUSE for a NULL or freed iterator;
 *         #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_consent_next(eng_consent_iter *it, eng_consent_change *out);

/**
 * Free an iterator. NULL is a no-op.
 * @param it the iterator.
 */
ENG_API void eng_consent_iter_free(eng_consent_iter *it);

/** Kind of group. */
typedef enum eng_group_kind {
    ENG_GROUP_UPLOADED = 1, /**< An explicit list of customers. */
    ENG_GROUP_FILTER = 2,   /**< Customers matching a rules expression. */
    ENG_GROUP_COMBINED = 3  /**< Made from other groups. */
} eng_group_kind;

/** How a combined group joins its included groups. */
typedef enum eng_combine_op {
    ENG_COMBINE_UNION = 1,    /**< In any included group. */
    ENG_COMBINE_INTERSECT = 2 /**< In every included group. */
} eng_combine_op;

/** How an upload changes an uploaded group. */
typedef enum eng_upload_mode {
    ENG_UPLOAD_REPLACE = 1, /**< The group becomes exactly the uploaded customers. */
    ENG_UPLOAD_APPEND = 2   /**< The uploaded customers are added. */
} eng_upload_mode;

/**
 * Create an empty uploaded group.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param name 1-128 bytes of UTF-8, unique among groups.
 * @param out receives the group id (never 0).
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EINVAL, #ENG_EEXISTS, #ENG_ETOOBIG, #ENG_EMISUSE, a storage error.
 */
ENG_API int eng_group_create_uploaded(eng_engine *engine, const char *actor, const char *name, uint32_t *out);

/**
 * Upload members from CSV: a header row with an `id` column (other columns are
 * ignored); each row names one customer by external id. An unknown id is a bad
 * row (#ENG_ENOTFOUND) handled by the options' error mode.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param group an uploaded group.
 * @param data CSV bytes. @param len their length. @param mode an #eng_upload_mode.
 * @param opts options or NULL. @param report optional (inserted = members added).
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND (no such group), #ENG_ESTATE (not an uploaded
 *         group), input errors as eng_customers_import_csv(), a storage error.
 */
ENG_API int eng_group_upload_csv(eng_engine *engine, const char *actor, uint32_t group, const char *data, size_t len,
                                 int mode, const eng_import_options *opts, eng_import_report *report);

/**
 * Upload members by external id, as eng_group_upload_csv() (errors report line i + 2).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param group an uploaded group. @param ids external ids.
 * @param n how many. @param mode an #eng_upload_mode. @param opts options or NULL.
 * @param report optional.
 * @return #ENG_EDENIED as for every call naming an actor; otherwise as eng_group_upload_csv().
 */
ENG_API int eng_group_upload_ids(eng_engine *engine, const char *actor, uint32_t group, const char *const *ids, size_t n,
                                 int mode, const eng_import_options *opts, eng_import_report *report);

/**
 * Create a filter group: an expression of the rules language (see rules.h)
 * over the customer attribute columns (string, int, decimal with scale 4,
 * bool; date columns are timestamps), for example
 * `city == "Pune" and days_since(last_purchase) > 30`. It is compiled now
 * against the current columns (so errors show at once) and stored as text;
 * each resolve compiles it again and evaluates it over the whole table.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param name unique name. @param expr expression text (1-65536 bytes).
 * @param out receives the group id.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EINVAL, #ENG_EEXISTS, #ENG_ETOOBIG, #ENG_EMISUSE;
 *         #ENG_EPARSE or #ENG_ETYPE from the rules compiler (detail "line:column");
 *         a storage error.
 */
ENG_API int eng_group_create_filter(eng_engine *engine, const char *actor, const char *name, const char *expr, uint32_t *out);

/**
 * Create a combined group: (union or intersection of @p include) minus the
 * union of @p exclude.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param name unique name. @param op an #eng_combine_op.
 * @param include group ids (at least one). @param n_include how many (at most 256).
 * @param exclude group ids or NULL. @param n_exclude how many (at most 256).
 * @param out receives the group id.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EINVAL, #ENG_ENOTFOUND (unknown member), #ENG_EEXISTS,
 *         #ENG_ETOOBIG, #ENG_EMISUSE, a storage error.
 */
ENG_API int eng_group_create_combined(eng_engine *engine, const char *actor, const char *name, int op,
                                      const uint32_t *include, size_t n_include,
                                      const uint32_t *exclude, size_t n_exclude, uint32_t *out);

/**
 * Change the members of a combined group.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param group a combined group. @param op an #eng_combine_op.
 * @param include group ids. @param n_include how many. @param exclude group ids or NULL.
 * @param n_exclude how many.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ECYCLE (the group would contain itself), #ENG_ESTATE (not
 *         combined), #ENG_ENOTFOUND, #ENG_EINVAL, #ENG_EMISUSE, a storage error.
 */
ENG_API int eng_group_set_combined(eng_engine *engine, const char *actor, uint32_t group, int op,
                                   const uint32_t *include, size_t n_include,
                                   const uint32_t *exclude, size_t n_exclude);

/**
 * Find a group by name.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param name the name. @param out receives the id.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_EINVAL, #ENG_EMISUSE.
 */
ENG_API int eng_group_find(eng_engine *engine, const char *actor, const char *name, uint32_t *out);

/**
 * A group's kind.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param group the id. @param out receives an #eng_group_kind.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_EINVAL, #ENG_EMISUSE.
 */
ENG_API int eng_group_kind_of(eng_engine *engine, const char *actor, uint32_t group, int *out);

/**
 * Delete a group. Refused while a combined group refers to it.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_EDIT (audited).
 * @param group the id.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_ESTATE (still referenced), #ENG_EMISUSE, a storage error.
 */
ENG_API int eng_group_delete(eng_engine *engine, const char *actor, uint32_t group);

/**
 * Number of customers in a group now.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param group the id. @param[out] out receives the count; 0 on failure.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_EINVAL, #ENG_EMISUSE; for a filter group
 *         the rules engine's errors (#ENG_ETYPE when a column it names no longer fits).
 */
ENG_API int eng_group_count(eng_engine *engine, const char *actor, uint32_t group, uint64_t *out);

/** How the org-wide global control group is chosen (#eng_global_control.mode). */
typedef enum eng_global_control_mode {
    ENG_GLOBAL_CONTROL_OFF = 0,      /**< No global control group: each campaign splits its own audience. */
    ENG_GLOBAL_CONTROL_RANDOM = 1,   /**< A stable random share of the org's customers (a hash of seed and id). */
    ENG_GLOBAL_CONTROL_UPLOADED = 2  /**< The members of an uploaded group (#ENG_GROUP_UPLOADED). */
} eng_global_control_mode;

/** Current version of #eng_global_control. */
#define ENG_GLOBAL_CONTROL_VERSION 1

/**
 * The org-wide global control group: a persistent holdout that no campaign of
 * the org contacts. While it is on, every audience resolved for the org (and so
 * every message approved) has as its control part the global control's members
 * among the customers the message targets, and as its test part the others; the
 * campaign's own split (control_percent) is not applied. The executor skips a
 * member at send time too (reason #ENG_UNREACH_GLOBAL_CONTROL), so a customer
 * added to it after an approval is not contacted either. Audiences frozen before
 * a change keep their sets: past reports never change.
 */
typedef struct eng_global_control {
    unsigned int version; /**< #ENG_GLOBAL_CONTROL_VERSION; later versions only append fields. */
    int mode;             /**< An #eng_global_control_mode. */
    uint32_t percent;     /**< #ENG_GLOBAL_CONTROL_RANDOM: the share held out, 1..50. */
    uint32_t group;       /**< #ENG_GLOBAL_CONTROL_UPLOADED: the uploaded group (it cannot be deleted while used). */
    uint64_t seed;        /**< #ENG_GLOBAL_CONTROL_RANDOM: a customer is a member when a hash of (seed, id)
                               falls in the share, so adding customers never moves anyone. */
} eng_global_control;

/** Static initialiser equal to what eng_global_control_init() produces (off). */
#define ENG_GLOBAL_CONTROL_INIT {ENG_GLOBAL_CONTROL_VERSION, ENG_GLOBAL_CONTROL_OFF, 0, 0, 0}

/**
 * Fill @p gc with defaults (off).
 * @param gc the struct. @param version #ENG_GLOBAL_CONTROL_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL) or #ENG_EVERSION.
 */
ENG_API int eng_global_control_init(eng_global_control *gc, unsigned int version);

/**
 * Switch the org's global control group on, off, or change it. Audited; audiences
 * already frozen (and the reports built on them) are not changed.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_ADMIN with org scope (audited).
 * @param gc the setting.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE,
 *         #ENG_EINVAL (NULL, unknown mode, a group that is not uploaded), #ENG_EVERSION, #ENG_ERANGE (percent
 *         outside 1..50), #ENG_ENOTFOUND (no such group), a storage error.
 */
ENG_API int eng_global_control_set(eng_engine *engine, const char *actor, const eng_global_control *gc);

/**
 * The org's global control setting (mode #ENG_GLOBAL_CONTROL_OFF when never set).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param[out] out filled up to the caller's out->version; zeroed (version kept) on failure.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE,
 *         #ENG_EINVAL (NULL), #ENG_EVERSION, a loading error.
 */
ENG_API int eng_global_control_get(eng_engine *engine, const char *actor, eng_global_control *out);

/**
 * Is customer @p id in the org's global control group now?
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param id the dense customer id. @param[out] out 1 when a member, else 0; 0 on failure.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EMISUSE,
 *         #ENG_EINVAL (NULL out), #ENG_ENOTFOUND (no such customer), a loading error.
 */
ENG_API int eng_global_control_contains(eng_engine *engine, const char *actor, uint32_t id, int *out);

/** A resolved audience: immutable; free with eng_audience_free(). */
typedef struct eng_audience eng_audience;

/** Which part of a resolved audience. */
typedef enum eng_audience_part {
    ENG_PART_ALL = 0,    /**< Test and control together. */
    ENG_PART_TEST = 1,   /**< Customers to contact. */
    ENG_PART_CONTROL = 2 /**< Customers held back to measure incrementality. */
} eng_audience_part;

/** Current version of #eng_audience_query. */
#define ENG_AUDIENCE_QUERY_VERSION 2

/**
 * What an audience is: (union of @c include) minus (union of @c exclude), kept
 * if reachable on one of @c channels, split into test and control. The one
 * query struct of the library: eng_audience_resolve() and
 * eng_audience_test_count() take it, the model hands it to an X-Engage
 * audience counter (#eng_audience_count_fn), and a message's audience is one.
 * Fill with eng_audience_query_init() or #ENG_AUDIENCE_QUERY_INIT.
 */
typedef struct eng_audience_query {
    unsigned int version;        /**< #ENG_AUDIENCE_QUERY_VERSION; later versions only append fields. */
    const char *const *include;  /**< Include groups by name (a decimal id is accepted when no group has
                                      that name); at least one, at most 256. */
    size_t n_include;            /**< Entries in include. */
    const char *const *exclude;  /**< Exclude groups, named the same way; may be NULL when n_exclude is 0. */
    size_t n_exclude;            /**< Entries in exclude (at most 256). */
    uint32_t channels;           /**< Bit (1u << channel) per channel: keep customers reachable on at least
                                      one of them; 0 keeps everyone. */
    uint32_t control_percent;    /**< Share held back as the control group, 0..100 (the campaign's
                                      #eng_campaign_spec.control_percent); default 0. */
    uint64_t split_seed;         /**< Split seed (eng_campaign_split_seed() for a campaign); the same seed
                                      gives the same split. */
    const char *org;             /**< Who asks: the campaign's org, for a host counter; NULL when none. */
    uint64_t campaign;           /**< Who asks: the campaign, for a host counter; 0 when none. */
    /**
     * Version 2. An uploaded group whose members are the control part (the campaign's
     * #eng_campaign_spec.control_group): the audience's customers in it are the control,
     * the others the test, and control_percent is not applied; 0 (the default): the split.
     */
    uint32_t control_group;
} eng_audience_query;

/** Static initialiser equal to what eng_audience_query_init() produces. */
#define ENG_AUDIENCE_QUERY_INIT {ENG_AUDIENCE_QUERY_VERSION, NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, 0}

/**
 * Fill @p query with defaults (no groups, every channel, no control group, seed 0).
 * @param query the struct. @param version 1 or #ENG_AUDIENCE_QUERY_VERSION (only that version's fields are written).
 * @return #ENG_OK, #ENG_EINVAL (NULL) or #ENG_EVERSION.
 */
ENG_API int eng_audience_query_init(eng_audience_query *query, unsigned int version);

/**
 * Resolve an audience: union of include groups minus union of exclude groups,
 * kept if reachable on one of the channels, split into test and control by a
 * stable hash of (split_seed, customer): a customer's side never depends on who
 * else is in the audience.
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param query what to resolve.
 * @param[out] out receives the handle; NULL on failure.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_EINVAL (also a
 *         control_group that is not an uploaded group), #ENG_EVERSION, #ENG_ENOTFOUND (unknown group),
 *         #ENG_ERANGE (control_percent over 100), #ENG_ETOOBIG (more than 256 groups),
 *         errors of filter groups (see eng_group_count()), #ENG_ENOMEM, #ENG_EMISUSE.
 */
ENG_API int eng_audience_resolve(eng_engine *engine, const char *actor, const eng_audience_query *query, eng_audience **out);

/**
 * Number of customers in a part.
 * @param aud the audience. @param part an #eng_audience_part. @param out receives the count.
 * @return #ENG_OK, #ENG_EMISUSE (bad handle), #ENG_EINVAL.
 */
ENG_API int eng_audience_count(const eng_audience *aud, int part, uint64_t *out);

/**
 * Preview: how many customers of the audience (before the channel filter and
 * the split) are reachable on @p channel.
 * @param aud the audience. @param channel an eng_channel value. @param out receives the count.
 * @return #ENG_OK, #ENG_EMISUSE, #ENG_EINVAL; #ENG_ESTATE for a frozen audience
 *         loaded from storage (reach is not frozen).
 */
ENG_API int eng_audience_reach(const eng_audience *aud, int channel, uint64_t *out);

/**
 * Copy dense ids of a part in ascending order, from position @p offset.
 * @param aud the audience. @param part an #eng_audience_part. @param offset first position.
 * @param out receives up to @p cap ids. @param cap room in out. @param n receives how many were copied
 *        (0 past the end, and 0 on failure).
 * @return #ENG_OK, #ENG_EMISUSE, #ENG_EINVAL.
 */
ENG_API int eng_audience_ids(const eng_audience *aud, int part, uint64_t offset, uint32_t *out,
                             size_t cap, size_t *n);

/**
 * Content hash (SHA-256) of the audience: of its canonical serialised test
 * and control sets. Computed on the first call (safe from several threads).
 * @param aud the audience. @param out receives 32 bytes.
 * @return #ENG_OK, #ENG_EMISUSE, #ENG_EINVAL, #ENG_ENOMEM.
 */
ENG_API int eng_audience_hash(const eng_audience *aud, uint8_t out[32]);

/**
 * Store the audience under @p key with its hash, in the org it was resolved
 * for. Freezing the same content again under the same key succeeds and
 * changes nothing.
 * @param aud the audience.
 * @param actor acting user of the audience's org: needs #ENG_OP_EDIT (audited).
 * @param key 1-200 bytes (for example "c/42/m/7/v3"); keys are per org.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role, or an actor of another org),
 *         #ENG_ESTATE (a different audience is already frozen under key),
 *         #ENG_EINVAL, #ENG_EMISUSE, a storage error.
 */
ENG_API int eng_audience_freeze(eng_audience *aud, const char *actor, const char *key);

/**
 * Load a frozen audience (checksums and hash are verified).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param key the key it was frozen under. @param out receives the handle.
 * @return #ENG_OK, #ENG_EDENIED (unknown actor, no role for the operation, not org scope), #ENG_ENOTFOUND, #ENG_ECORRUPT, #ENG_EINVAL, #ENG_EMISUSE.
 */
ENG_API int eng_audience_load_frozen(eng_engine *engine, const char *actor, const char *key, eng_audience **out);

/**
 * Size of the test group of @p query: exactly what eng_audience_count() gives
 * for #ENG_PART_TEST on eng_audience_resolve() of the same query, without
 * keeping the audience. The model's default X-Engage audience counter (see
 * eng_model_set_audience_counter()).
 * @param engine the engine.
 * @param actor acting user: needs #ENG_OP_READ.
 * @param query what to count.
 * @param[out] out receives the test-group size; 0 on failure.
 * @return #ENG_EDENIED as for every call naming an actor; otherwise as eng_audience_resolve().
 */
ENG_API int eng_audience_test_count(eng_engine *engine, const char *actor, const eng_audience_query *query, uint64_t *out);

/**
 * Release an audience. NULL is a no-op.
 * @param aud the handle.
 */
ENG_API void eng_audience_free(eng_audience *aud);

ENG_END_DECLS

#endif /* ENGAGE_AUDIENCE_H */
