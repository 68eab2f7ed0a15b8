/**
 * @file engage/errors.h
 * @brief Result codes and the per-thread "last error" record.
 *
 * Every fallible function returns an int: #ENG_OK (0) on success, a negative
 * `ENG_E*` code on failure. Codes are never renumbered or reused; a retired code
 * stays as a placeholder. When a call fails it also records, for the calling
 * thread only, a message and a detail (a field path such as
 * `message.creative[sms].body`, a key, or `line:column`), readable with
 * eng_error_last() until the next call into an engine on the same thread.
 *
 * Every call that takes an engine (or a handle made by one) and gets past its
 * handle check, and every rule evaluation, starts by clearing the record: after
 * such a call succeeds, eng_error_last()->code is #ENG_OK, and after it fails
 * the record is that failure's. A call that fails its handle or argument
 * checks records its own error. Calls that take no engine (eng_errstr(), the
 * version queries, struct initialisers) leave the record as it was when they
 * succeed; so does a host callback calling back into the engine during a call
 * (only the outermost call clears).
 *
 * ## Handles
 * A handle that is NULL, freed (closed) or of another kind gives #ENG_EMISUSE
 * and is never read: the library looks every handle up in its registry of
 * live handles before touching it, so a use after free or a double free does
 * not crash and reads no freed memory (a void free function then does
 * nothing). One limit, as in SQLite: once the allocator has handed a freed
 * handle's memory to a new handle of the same kind, the stale pointer names
 * that new handle. A new engine or store never takes the address of one of
 * the last 4096 handles released; a new child handle (rule, snapshot,
 * iterator, report, ...) avoids them for up to 64 allocations.
 *
 * Errors are kept per thread (as in libgit2), not per engine: a call returns on
 * the thread that made it, so the record that call wrote is the one the caller
 * reads, even when several threads share one engine.
 */
#ifndef ENGAGE_ERRORS_H
#define ENGAGE_ERRORS_H

#include "common.h"

ENG_BEGIN_DECLS

/** Result codes. Values are part of the ABI. */
typedef enum eng_code {
    ENG_OK = 0,            /**< Success. */
    ENG_ERROR = -1,        /**< Generic failure not covered below. */
    ENG_ENOMEM = -2,       /**< An allocation failed. */
    ENG_EINVAL = -3,       /**< An argument is invalid (NULL, out of range, bad enum). */
    ENG_ENOTFOUND = -4,    /**< The object or key does not exist. */
    ENG_EEXISTS = -5,      /**< The object already exists (for example a duplicate name). */
    ENG_EMISUSE = -6,      /**< A handle is NULL, freed, of the wrong kind, or used wrongly. */
    ENG_EVERSION = -7,     /**< A struct version or stored schema version is not supported. */
    ENG_ESTORAGE = -8,     /**< The storage backend failed. */
    ENG_ECORRUPT = -9,     /**< A stored record failed its checksum or could not be decoded. */
    ENG_ETRANSPORT = -10,  /**< The transport failed or refused to send. */
    ENG_EBUSY = -11,       /**< The object is in use (for example a batch is already open). */
    ENG_ERANGE = -12,      /**< A value is out of its allowed range. */
    ENG_ETOOBIG = -13,     /**< A value or input exceeds a size limit. */
    ENG_ESTATE = -14,      /**< The operation is not allowed in the object's current state. */
    ENG_EDENIED = -15,     /**< The actor is not authorised for this operation. */
    ENG_EVALIDATION = -16, /**< Validation failed; see the validation report for every failure. */
    ENG_EPARSE = -17,      /**< Input text (expression, CSV, template) could not be parsed. */
    ENG_ETYPE = -18,       /**< A type error (for example comparing a string to a number). */
    ENG_ECANCELLED = -19,  /**< The host cancelled a long operation through its progress callback. */
    ENG_EIO = -20,         /**< An operating-system I/O call failed. */
    ENG_ECYCLE = -21,      /**< The request would create a cycle (for example combined groups). */
    ENG_EUNSUPPORTED = -22,/**< The feature is not supported or not enabled. */
    ENG_ECREDITS = -23,    /**< Not enough credits and the org forbids overdraft. */
    ENG_EUSER = -24,       /**< Reserved for host callbacks; never produced by the library itself. */
    ENG_ITEROVER = -25     /**< An iterator has no more items (not an error: the normal end of a loop). */
} eng_code;

/** The last error recorded on the calling thread. */
typedef struct eng_error {
    int code;            /**< An #eng_code value. */
    const char *message; /**< Human-readable text; never NULL. */
    const char *detail;  /**< Field path, key or "line:column" the error is about; "" if none. */
} eng_error;

/**
 * Static text naming a result code (for example "out of memory").
 * @param code any integer; unknown codes give "unknown error".
 * @return a string with static lifetime; never NULL. Safe from any thread.
 */
ENG_API const char *eng_errstr(int code);

/**
 * The last error recorded on the calling thread (see the file's description:
 * a call into an engine that succeeds clears it).
 * @return a pointer valid until the next libengage call on this thread; never NULL.
 *         When no error has been recorded, code is #ENG_OK and message is "".
 */
ENG_API const eng_error *eng_error_last(void);

/** Forget the calling thread's last error. */
ENG_API void eng_error_clear(void);

/**
 * Let a host callback attach a message to the code it is about to return, so the
 * caller of the libengage function sees the host's text in eng_error_last().
 * @param code the negative code the callback will return (usually #ENG_EUSER).
 * @param message text copied into thread-local storage (truncated at 1023 bytes); NULL means "".
 */
ENG_API void eng_error_set(int code, const char *message);

ENG_END_DECLS

#endif /* ENGAGE_ERRORS_H */
