/**
 * @file engage/offer.h
 * @brief The offers catalogue: named coupon offers of an org that messages claim.
 *
 * An offer has an id (1..64 of `[A-Za-z0-9_.@-]`, unique in its org), a name,
 * a validity window and a coupon source: one common code, a pool of uploaded
 * codes or a pool of generated codes (engage/coupon.h). A message *claims* an
 * offer by naming it in `incentive.offer_id` (kind #ENG_INCENTIVE_COUPON) when
 * it is created or updated: the offer must exist, and the message then carries
 * the offer's coupon terms (`coupon_source`, `coupon_code`, `coupon_pool` are
 * filled from the offer; a caller leaves them unset or equal to the offer's).
 * The offer's validity must lie inside the campaign's dates, checked at claim
 * and again at eng_message_submit(), which also refuses a message whose offer
 * was changed or removed since the claim (claim it again with
 * eng_message_update()). An approved or executing message keeps the terms it
 * was approved with.
 *
 * Offers are stored one record each and audited ("offer/<id>": "create",
 * "update", "remove"). Editing needs #ENG_OP_EDIT, reading #ENG_OP_READ.
 */
#ifndef ENGAGE_OFFER_H
#define ENGAGE_OFFER_H

#include "common.h"

ENG_BEGIN_DECLS

/** Current version of #eng_offer_spec. */
#define ENG_OFFER_SPEC_VERSION 1

/** An offer of the catalogue (written by the caller for create and update, by the library for reads). */
typedef struct eng_offer_spec {
    unsigned int version;    /**< #ENG_OFFER_SPEC_VERSION, set by the caller. */
    const char *id;          /**< The offer id, 1..64 of `[A-Za-z0-9_.@-]`, unique in the org. */
    const char *name;        /**< Display name, 1..128 bytes of text. */
    eng_time valid_from;     /**< Coupons are valid from this time (inclusive). */
    eng_time valid_until;    /**< ... until this time; after @c valid_from. */
    int coupon_source;       /**< An #eng_coupon_source. */
    const char *coupon_code; /**< The common code (#ENG_COUPON_COMMON): 1..64 printable bytes, no spaces; else NULL. */
    const char *coupon_pool; /**< The pool id (#ENG_COUPON_UPLOADED, #ENG_COUPON_GENERATED); else NULL. */
} eng_offer_spec;

/** Static initialiser equal to what eng_offer_spec_init() produces. */
#define ENG_OFFER_SPEC_INIT {ENG_OFFER_SPEC_VERSION, NULL, NULL, 0, 0, 0, NULL, NULL}

/**
 * Fill @p s with defaults (zeroed, version set).
 * @param s the spec. @param version #ENG_OFFER_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL (NULL @p s); #ENG_EVERSION.
 */
ENG_API int eng_offer_spec_init(eng_offer_spec *s, unsigned int version);

/**
 * Add an offer to the catalogue of the actor's org. Needs #ENG_OP_EDIT.
 * Audited ("offer/<id>", "create"). The pool of an uploaded or generated
 * offer need not exist yet; an execution without it is refused when it starts.
 * @param engine an open engine. @param actor acting user. @param spec the offer.
 * @return #ENG_OK; #ENG_EINVAL (detail: the field, e.g. `offer.coupon_code`); #ENG_ERANGE
 *         (`offer.valid_until`); #ENG_EEXISTS (`offer.id`); #ENG_EVERSION; #ENG_EDENIED; storage errors.
 */
ENG_API int eng_offer_create(eng_engine *engine, const char *actor, const eng_offer_spec *spec);

/**
 * Replace an offer of the actor's org (`spec->id` names it), checked as at
 * creation. Messages that claimed it keep the terms they claimed; one that is
 * not yet approved must claim it again before eng_message_submit(). Needs
 * #ENG_OP_EDIT. Audited ("offer/<id>", "update").
 * @param engine an open engine. @param actor acting user. @param spec the offer.
 * @return as eng_offer_create(), #ENG_ENOTFOUND (`offer.id`) instead of #ENG_EEXISTS.
 */
ENG_API int eng_offer_update(eng_engine *engine, const char *actor, const eng_offer_spec *spec);

/**
 * Remove an offer of the actor's org. A message that claimed it and is not
 * yet approved is refused at eng_message_submit(); approved and executing
 * messages keep their terms. Needs #ENG_OP_EDIT. Audited ("offer/<id>", "remove").
 * @param engine an open engine. @param actor acting user. @param id the offer id.
 * @return #ENG_OK; #ENG_ENOTFOUND (`id`); #ENG_EDENIED; storage errors.
 */
ENG_API int eng_offer_remove(eng_engine *engine, const char *actor, const char *id);

/**
 * Read an offer of the actor's org. Needs #ENG_OP_READ. The strings stay
 * valid until the next eng_offer_get() on this engine or eng_close().
 * @param engine an open engine. @param actor acting user. @param id the offer id.
 * @param out filled (its version must be set); zeroed past the version on failure.
 * @return #ENG_OK; #ENG_ENOTFOUND (`id`); #ENG_EINVAL; #ENG_EVERSION; #ENG_EDENIED; storage errors.
 */
ENG_API int eng_offer_get(eng_engine *engine, const char *actor, const char *id, eng_offer_spec *out);

/** Iterator over the offers of an org (eng_offer_list()), in id order. */
typedef struct eng_offer_iter eng_offer_iter;

/**
 * List the offers of the actor's org, as they are now. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user.
 * @param[out] out receives the iterator (free with eng_offer_iter_free()); NULL on failure.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EDENIED; storage errors.
 */
ENG_API int eng_offer_list(eng_engine *engine, const char *actor, eng_offer_iter **out);

/**
 * The next offer.
 * @param it the iterator.
 * @param out caller-versioned; its strings stay valid until eng_offer_iter_free().
 * @return #ENG_OK; #ENG_ITEROVER after the last; #ENG_EMISUSE (NULL or freed @p it); #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_offer_next(eng_offer_iter *it, eng_offer_spec *out);

/**
 * Free an iterator (NULL is a no-op).
 * @param it the iterator.
 */
ENG_API void eng_offer_iter_free(eng_offer_iter *it);

ENG_END_DECLS

#endif /* ENGAGE_OFFER_H */
