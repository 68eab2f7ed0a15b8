/**
 * @file engage/audit.h
 * @brief The audit log: a hash chain of every change, per org, with an iterator and a verifier.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_AUDIT_H
#define ENGAGE_AUDIT_H

#include "common.h"

ENG_BEGIN_DECLS

/** Current version of #eng_audit_entry. */
#define ENG_AUDIT_ENTRY_VERSION 1

/** One audit entry; strings are valid until the next eng_audit_next() or eng_audit_free(). */
typedef struct eng_audit_entry {
    unsigned int version;   /**< #ENG_AUDIT_ENTRY_VERSION (set by the caller; the library fills that version). */
    uint64_t seq;           /**< Position in the log, from 1. */
    eng_time time;          /**< When. */
    const char *org;        /**< The org. */
    const char *actor;      /**< Who. */
    const char *object;     /**< What ("campaign/3", "message/4", "org", "actor/bob", "credits/campaign"; for the
                                 audience calls "customers", "group/5", "audience/<key>"). */
    const char *action;     /**< "create", "update", "delete" (deleting a campaign logs each of its messages first),
                                 "submit", "approve", "reject", "void" (approval voided by a campaign edit), "lock-goal"
                                 (the campaign's first approval froze its goal), "message-add" and "message-remove"
                                 (on the campaign whose message list a message create or delete changed, right after
                                 the message's own entry), "start", "finish", "stop", "settings",
                                 "unit-add", "put" (actor), "adjust" and "charge" (credits); from engage/audience.h
                                 "id_kind", "add_column", "import", "upsert", "compact", "create", "upload",
                                 "set_combined", "delete" (groups), "freeze" and "global-control" (object
                                 "global-control": eng_global_control_set()). */
    const char *state_hash; /**< SHA-256 (hex) of the new state of the object: its stored record; for credits the two
                                 balances (campaign, X-Engage) as little-endian 64-bit integers; for a deletion the empty string;
                                 for an audience call the short text describing the change (rows imported, members
                                 uploaded, ...). */
    const char *prev_hash;  /**< Hash (hex) of the previous entry; 64 zeros for the first. */
    const char *hash;       /**< Hash (hex) of this entry (covers all fields above). */
} eng_audit_entry;

/** Static initialiser equal to what eng_audit_entry_init() produces. */
#define ENG_AUDIT_ENTRY_INIT {ENG_AUDIT_ENTRY_VERSION, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/**
 * Prepare @p x for eng_audit_next() (zeroed, version set).
 * @param x the entry.
 * @param version #ENG_AUDIT_ENTRY_VERSION.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_audit_entry_init(eng_audit_entry *x, unsigned int version);

/** An iterator over the audit log of one org, oldest first. */
typedef struct eng_audit_iter eng_audit_iter;

/**
 * Start iterating over the audit log of the actor's org. Needs #ENG_OP_ADMIN.
 * The iterator holds a reference on the engine and reads a snapshot taken now.
 * @param engine an open engine.
 * @param actor acting user.
 * @param out receives the iterator (NULL on failure); free with eng_audit_free().
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope); #ENG_EINVAL for NULL @p out;
 *         #ENG_ECORRUPT; storage errors.
 */
ENG_API int eng_audit_open(eng_engine *engine, const char *actor, eng_audit_iter **out);

/**
 * The next entry: `while ((rc = eng_audit_next(it, &x)) == ENG_OK) ...; if (rc != ENG_ITEROVER) fail;`
 * @param it the iterator.
 * @param[out] entry receives the entry (its version set by the caller: #ENG_AUDIT_ENTRY_INIT); its strings
 *        live until the next call or eng_audit_free(); zeroed (but its version) at the end and on failure.
 * @return #ENG_OK; #ENG_ITEROVER after the last entry; #ENG_EMISUSE for a NULL or freed iterator;
 *         #ENG_EINVAL for NULL @p entry; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_audit_next(eng_audit_iter *it, eng_audit_entry *entry);

/**
 * Release an iterator.
 * @param it the iterator, or NULL.
 */
ENG_API void eng_audit_free(eng_audit_iter *it);

/**
 * Verify the whole audit chain (all orgs): each entry's hash, each link to the
 * previous entry, and the stored head. Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param bad_seq receives the first entry that fails (0 if none; may be NULL).
 * @return #ENG_OK if the chain verifies; #ENG_ECORRUPT naming the entry otherwise; #ENG_EDENIED.
 */
ENG_API int eng_audit_verify(eng_engine *engine, const char *actor, uint64_t *bad_seq);

ENG_END_DECLS

#endif /* ENGAGE_AUDIT_H */
