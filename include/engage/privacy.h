/**
 * @file engage/privacy.h
 * @brief Erasing a customer everywhere ("delete me"), physically from storage.
 *
 * An erasure removes everything that identifies a customer — external id,
 * contacts, attributes, consent and opt-out and their history, suppression, membership of
 * uploaded groups, the coupon codes they hold — and keeps what the books need without identity: the
 * customer's dense id stays as a tombstone, so frozen audiences keep their
 * size and hash, the send ledger and touches keep their counts, and reports
 * keep their totals. It is audited (who, when, and the SHA-256 of the external
 * id — never the id itself) and cannot be undone: a later import of the same
 * external id creates a new customer.
 *
 * The customer's bytes leave storage too: the erasure rewrites the records
 * that held them in its storage batch, and after the commit tells the backend
 * which keys those were (#eng_store_methods `erased`, contract version 2); the
 * built-in file store rewrites its file before the call returns. See
 * docs/privacy.md for what is erased where and the bound on physical removal.
 *
 * Every call needs an actor with #ENG_OP_ADMIN and acts on that actor's org:
 * its customers, groups, frozen audiences, touches and transactions. Thread safety: as every
 * engine call (the engine is locked).
 */
#ifndef ENGAGE_PRIVACY_H
#define ENGAGE_PRIVACY_H

#include "common.h"

ENG_BEGIN_DECLS

/** Current version of #eng_erase_report. */
#define ENG_ERASE_REPORT_VERSION 1

/** What a batch erasure did. The caller sets @c version; the library fills the rest. */
typedef struct eng_erase_report {
    unsigned int version; /**< #ENG_ERASE_REPORT_VERSION, set by the caller. */
    uint64_t requested;   /**< External ids given (after the CSV header, for the CSV form). */
    uint64_t erased;      /**< Customers erased. */
    uint64_t not_found;   /**< Ids with no customer (never imported, or erased before). */
} eng_erase_report;

/** Static initialiser equal to what eng_erase_report_init() produces. */
#define ENG_ERASE_REPORT_INIT {ENG_ERASE_REPORT_VERSION, 0, 0, 0}

/**
 * Prepare @p x for an erasure (zeroed, version set).
 * @param x the struct. @param version #ENG_ERASE_REPORT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_erase_report_init(eng_erase_report *x, unsigned int version);

/**
 * Erase one customer by external id, everywhere and physically (see the file comment).
 * @param engine an open engine.
 * @param actor acting user; needs #ENG_OP_ADMIN.
 * @param external_id the customer's external id.
 * @return #ENG_OK; #ENG_ENOTFOUND (no such customer, or erased before; the
 *         message does not repeat the id); #ENG_EDENIED; #ENG_EINVAL (NULL);
 *         #ENG_EMISUSE;
 *         #ENG_ENOMEM or a storage error (nothing was erased), or the error of
 *         the backend's `erased` callback (the erasure is committed; see
 *         docs/privacy.md).
 */
ENG_API int eng_customer_erase(eng_engine *engine, const char *actor, const char *external_id);

/**
 * Erase many customers in one storage batch: all of them or none. Ids without a
 * customer are counted in @c not_found and are not an error. Progress goes to
 * the engine's progress callback (operation "privacy.erase"), which may cancel.
 * @param engine an open engine.
 * @param actor acting user; needs #ENG_OP_ADMIN.
 * @param external_ids @p n external ids.
 * @param n how many (at most 16,777,216 per call).
 * @param report NULL, or filled (its version set by the caller), also on failure.
 * @return #ENG_OK; #ENG_ECANCELLED (nothing erased); #ENG_ETOOBIG; otherwise as
 *         eng_customer_erase() (nothing erased unless the backend's `erased` failed).
 */
ENG_API int eng_customers_erase(eng_engine *engine, const char *actor, const char *const *external_ids, size_t n,
                                eng_erase_report *report);

/**
 * eng_customers_erase() over a CSV of external ids: a header row with an `id`
 * column (other columns are ignored), then one customer per row.
 * @param engine an open engine.
 * @param actor acting user; needs #ENG_OP_ADMIN.
 * @param data the CSV bytes. @param len their length.
 * @param report NULL, or filled.
 * @return as eng_customers_erase(), plus #ENG_EPARSE for a malformed CSV
 *         (detail "line:column"; nothing erased).
 */
ENG_API int eng_customers_erase_csv(eng_engine *engine, const char *actor, const char *data, size_t len,
                                    eng_erase_report *report);

/**
 * Everything held about one customer, as one JSON object ("show me what you
 * hold about me"): `external_id`, `customer` (the dense id), `attributes`
 * (declared columns with a value, typed: numbers and booleans bare, strings
 * and dates quoted), `contacts`, `consent` and `optout` (channel to the time
 * given), `suppressed`, `consent_history` (every change, as eng_consent_history()),
 * `groups` (names of the groups the customer is in now),
 * `contacted` (the touches of the actor's org: campaign, message, occurrence,
 * channel, time, status, in time order), `transactions` of the actor's org (id,
 * time, amount, store, items, custom `fields`) and `coupons` (pool, code, message, occurrence, time assigned). Values print as eng_customer_get()
 * prints them, so they re-import unchanged. The export is audited like an
 * erasure (action `export`, the SHA-256 of the external id).
 * @param engine an open engine.
 * @param actor acting user; needs #ENG_OP_ADMIN.
 * @param external_id the customer's external id.
 * @param[out] json receives NUL-terminated UTF-8; free with eng_free(); NULL on failure.
 * @param[out] len receives its length; 0 on failure.
 * @return #ENG_OK; #ENG_ENOTFOUND (no such customer; the message does not repeat
 *         the id); #ENG_EDENIED; #ENG_EINVAL; #ENG_EMISUSE; #ENG_ENOMEM; a storage error.
 */
ENG_API int eng_customer_export_json(eng_engine *engine, const char *actor, const char *external_id, char **json,
                                     size_t *len);

ENG_END_DECLS

#endif /* ENGAGE_PRIVACY_H */
