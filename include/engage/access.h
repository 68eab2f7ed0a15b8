/**
 * @file engage/access.h
 * @brief Actors, their roles and scopes, and the access check.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_ACCESS_H
#define ENGAGE_ACCESS_H

#include "common.h"

ENG_BEGIN_DECLS

/** Actor roles (a bit set). */
typedef enum eng_role {
    ENG_ROLE_VIEWER = 1u << 0,   /**< Reads campaigns and messages. */
    ENG_ROLE_AUTHOR = 1u << 1,   /**< Reads, creates and edits campaigns and messages; sends for approval. */
    ENG_ROLE_APPROVER = 1u << 2, /**< Reads; approves and rejects messages. */
    ENG_ROLE_ADMIN = 1u << 3     /**< Everything, including org settings, actors, credits, execution and audit. */
} eng_role;

/** The three access levels of an actor. */
typedef enum eng_scope {
    ENG_SCOPE_ORG = 0,   /**< The whole org and all its units. */
    ENG_SCOPE_UNITS = 1, /**< Several units (and their sub-units) but not the org itself. */
    ENG_SCOPE_UNIT = 2   /**< One unit (and its sub-units). */
} eng_scope;

/** Operations checked by the access layer. */
typedef enum eng_op {
    ENG_OP_READ = 0,    /**< Read campaigns and messages. Viewer, author, approver, admin. */
    ENG_OP_EDIT = 1,    /**< Create, edit, send for approval. Author, admin. */
    ENG_OP_APPROVE = 2, /**< Approve or reject. Approver, admin. */
    ENG_OP_EXECUTE = 3, /**< Start, finish or stop execution. Admin. */
    ENG_OP_ADMIN = 4    /**< Org settings, units, actors, credits, audit. Admin with #ENG_SCOPE_ORG only. */
} eng_op;



/** Current version of #eng_actor_spec. */
#define ENG_ACTOR_SPEC_VERSION 1

/** An actor: id, roles and scope. */
typedef struct eng_actor_spec {
    unsigned int version;      /**< #ENG_ACTOR_SPEC_VERSION. */
    const char *id;            /**< Actor id, unique in the engine. */
    unsigned int roles;        /**< A set of #eng_role bits; at least one. */
    int scope;                 /**< An #eng_scope. */
    const char *const *units;  /**< Units of the scope: none for #ENG_SCOPE_ORG, one for #ENG_SCOPE_UNIT, one or more for #ENG_SCOPE_UNITS. */
    size_t n_units;            /**< Number of entries in units. */
} eng_actor_spec;

/** Static initialiser equal to what eng_actor_spec_init() produces. */
#define ENG_ACTOR_SPEC_INIT {ENG_ACTOR_SPEC_VERSION, NULL, 0, ENG_SCOPE_ORG, NULL, 0}

/**
 * Fill @p a with defaults (no roles, org scope).
 * @param a the spec to fill.
 * @param version #ENG_ACTOR_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_actor_spec_init(eng_actor_spec *a, unsigned int version);

/**
 * Create or replace an actor of the acting admin's org. Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param spec the actor to store.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope); #ENG_EEXISTS if the id belongs to
 *         another org; #ENG_ENOTFOUND for a unit that does not exist; #ENG_EINVAL naming the field
 *         (`actor.id`, `actor.roles`, `actor.scope`, `actor.units`); #ENG_EVERSION.
 */
ENG_API int eng_actor_put(eng_engine *engine, const char *actor, const eng_actor_spec *spec);

/**
 * Read an actor of the acting admin's org. Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the actor to read.
 * @param out caller-versioned (set @c version first, for example with #ENG_ACTOR_SPEC_INIT); receives
 *        the actor. Its strings point into engine-owned storage valid until the next eng_actor_get()
 *        on this engine. Zeroed (version kept) on failure.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope, or an actor of another org);
 *         #ENG_ENOTFOUND (no such actor, also once removed); #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_actor_get(eng_engine *engine, const char *actor, const char *id, eng_actor_spec *out);

/** Iterator over the actors of an org (eng_actor_list()). */
typedef struct eng_actor_iter eng_actor_iter;

/**
 * List the actors of the acting admin's org (for example to find its approvers). Needs
 * #ENG_OP_ADMIN. The list is taken when the call is made.
 * @param engine an open engine.
 * @param actor acting user.
 * @param[out] out receives the iterator (free with eng_actor_iter_free()); NULL on failure.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_EINVAL; #ENG_ENOMEM; storage errors.
 */
ENG_API int eng_actor_list(eng_engine *engine, const char *actor, eng_actor_iter **out);

/**
 * The next actor, in id order.
 * @param it the iterator.
 * @param out caller-versioned; its strings stay valid until eng_actor_iter_free().
 * @return #ENG_OK; #ENG_ITEROVER after the last; #ENG_EMISUSE for a bad iterator;
 *         #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_actor_next(eng_actor_iter *it, eng_actor_spec *out);

/**
 * Free an iterator. NULL is a no-op.
 * @param it the iterator.
 */
ENG_API void eng_actor_iter_free(eng_actor_iter *it);

/**
 * Remove an actor of the acting admin's org (someone who leaves). Needs #ENG_OP_ADMIN. From then
 * on every call naming them is refused (#ENG_EDENIED, as for an unknown actor), including
 * approvals they had not given yet and any session a host keeps for them; the audit keeps who
 * they were (their earlier entries, and a "remove" entry on "actor/<id>"). Their id may be given
 * to a new actor later.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the actor to remove.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope, or an actor of another org);
 *         #ENG_ENOTFOUND; #ENG_ESTATE (an actor cannot remove themselves); storage errors.
 */
ENG_API int eng_actor_remove(eng_engine *engine, const char *actor, const char *id);

/**
 * Ask whether @p actor may perform @p op on an object owned by @p unit.
 * @param engine an open engine.
 * @param actor the actor to check.
 * @param op an #eng_op.
 * @param unit owning unit, or NULL/"" for the org itself.
 * @return #ENG_OK if allowed; #ENG_EDENIED if not (also for an unknown actor or unit); #ENG_EINVAL
 *         for an unknown @p op.
 */
ENG_API int eng_access_check(eng_engine *engine, const char *actor, int op, const char *unit);

ENG_END_DECLS

#endif /* ENGAGE_ACCESS_H */
