/**
 * @file engage/coupon.h
 * @brief Coupon pools: uploaded code lists and codes generated from a pattern,
 * handed out one per customer, never reused, across crashes and threads.
 *
 * A pool belongs to an org and has an id (1..64 of `[A-Za-z0-9_.@-]`). An
 * offer of the catalogue (engage/offer.h) with source #ENG_COUPON_UPLOADED or
 * #ENG_COUPON_GENERATED names its pool; a message that claimed it carries the
 * pool in `incentive.coupon_pool`; when it
 * executes, each customer about to receive it is *assigned* a code of the
 * pool, stored before any envelope carrying it goes to the transport, and
 * `{{coupon_code}}` renders that code. A customer holds at most one code of a
 * pool: every later send from the same pool (another channel, a retry, a
 * resumed or recurring execution, another message) carries the same code.
 * A code is assigned at most once: the pool hands out codes in order and
 * never goes back, also after a crash or a commit whose outcome was lost.
 *
 * An execution whose pool has fewer codes left than its test group needs is
 * refused when it starts (eng_execution_get() gives the reason), and the dry
 * run reports both figures (eng_dry_report `coupons`, `coupons_available`).
 * Should another execution empty the pool meanwhile, a send that finds no code
 * left is skipped with #ENG_UNREACH_NO_COUPON rather than sent without one.
 */
#ifndef ENGAGE_COUPON_H
#define ENGAGE_COUPON_H

#include "common.h"

ENG_BEGIN_DECLS

/** Longest coupon code, in bytes. */
#define ENG_COUPON_CODE_MAX 64

/** Most codes one eng_coupon_pool_upload() call takes. */
#define ENG_COUPON_UPLOAD_MAX 10000000

/** Kinds of coupon pool. Values are stored: never renumbered. */
typedef enum eng_coupon_pool_kind {
    ENG_COUPON_POOL_UPLOADED = 1, /**< Codes uploaded by the org (eng_coupon_pool_upload()). */
    ENG_COUPON_POOL_GENERATED = 2 /**< Codes generated from a pattern (eng_coupon_pool_generate()). */
} eng_coupon_pool_kind;

/**
 * Add uploaded codes to a pool of the actor's org, creating the pool on first
 * use. All or nothing: a code that is empty, longer than
 * #ENG_COUPON_CODE_MAX, holds a space or control byte, repeats another code of
 * the upload or is already in the pool refuses the whole call (detail
 * `codes[i]`), and nothing is stored. Codes are handed out in upload order.
 * Needs #ENG_OP_EDIT. Audited ("coupon_pool/<pool>", "upload").
 * @param engine an open engine. @param actor acting user.
 * @param pool the pool id. @param codes the codes. @param n entries in @p codes, 1..#ENG_COUPON_UPLOAD_MAX.
 * @return #ENG_OK; #ENG_EINVAL (field `pool`, `codes[i]`); #ENG_ETOOBIG (@p n);
 *         #ENG_ESTATE (the pool is a generated one); #ENG_EDENIED; storage errors.
 */
ENG_API int eng_coupon_pool_upload(eng_engine *engine, const char *actor, const char *pool,
                                   const char *const *codes, size_t n);

/**
 * Create a pool of generated codes. The @p pattern is 1..64 printable ASCII
 * bytes without spaces: `#` stands for a digit, `@` for a letter A–Z, `*` for
 * a letter or digit, anything else for itself. The pool holds as many codes as
 * the pattern can spell (at most 2^62). The i-th code handed out is the i-th
 * value of a keyed permutation (a Feistel network over HMAC-SHA-256 under
 * @p secret), so codes are distinct and cannot be guessed from one another
 * without the secret. Needs #ENG_OP_EDIT. Audited ("coupon_pool/<pool>", "generate").
 * @param engine an open engine. @param actor acting user. @param pool the pool id.
 * @param pattern the pattern, with at least one of `#`, `@`, `*`.
 * @param secret the key (stored with the pool). @param secret_len 16..256 bytes.
 * @return #ENG_OK; #ENG_EINVAL (field `pool`, `pattern`, `secret`); #ENG_EEXISTS (a pool of that id exists);
 *         #ENG_EDENIED; storage errors.
 */
ENG_API int eng_coupon_pool_generate(eng_engine *engine, const char *actor, const char *pool, const char *pattern,
                                     const void *secret, size_t secret_len);

/** Current version of #eng_coupon_pool_info. */
#define ENG_COUPON_POOL_INFO_VERSION 1

/** A pool's state (eng_coupon_pool_get()). */
typedef struct eng_coupon_pool_info {
    unsigned int version;                  /**< #ENG_COUPON_POOL_INFO_VERSION, set by the caller. */
    int kind;                              /**< An #eng_coupon_pool_kind. */
    uint64_t size;                         /**< Codes in the pool (uploaded, or the pattern's capacity). */
    uint64_t assigned;                     /**< Codes handed out so far (never handed out again). */
    char pattern[ENG_COUPON_CODE_MAX + 1]; /**< The pattern of a generated pool, or "". */
} eng_coupon_pool_info;

/** Static initialiser equal to what eng_coupon_pool_info_init() produces. */
#define ENG_COUPON_POOL_INFO_INIT {ENG_COUPON_POOL_INFO_VERSION, 0, 0, 0, {0}}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_COUPON_POOL_INFO_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_coupon_pool_info_init(eng_coupon_pool_info *x, unsigned int version);

/**
 * Read a pool of the actor's org. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user. @param pool the pool id.
 * @param out filled (its version must be set); zeroed past the version on failure.
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_EINVAL; #ENG_EVERSION; #ENG_EDENIED; storage errors.
 */
ENG_API int eng_coupon_pool_get(eng_engine *engine, const char *actor, const char *pool, eng_coupon_pool_info *out);

/** Current version of #eng_coupon_assignment. */
#define ENG_COUPON_ASSIGNMENT_VERSION 1

/** The code a customer holds from a pool (eng_coupon_find()). */
typedef struct eng_coupon_assignment {
    unsigned int version;               /**< #ENG_COUPON_ASSIGNMENT_VERSION, set by the caller. */
    char code[ENG_COUPON_CODE_MAX + 1]; /**< The code. */
    uint64_t index;                     /**< Its position in the pool's order of hand-out, from 0. */
    uint64_t message;                   /**< The message whose execution assigned it. */
    uint32_t occurrence;                /**< That execution's occurrence. */
    eng_time at;                        /**< When it was assigned (the scheduler's time). */
} eng_coupon_assignment;

/** Static initialiser equal to what eng_coupon_assignment_init() produces. */
#define ENG_COUPON_ASSIGNMENT_INIT {ENG_COUPON_ASSIGNMENT_VERSION, {0}, 0, 0, 0, 0}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_COUPON_ASSIGNMENT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_coupon_assignment_init(eng_coupon_assignment *x, unsigned int version);

/**
 * The code a customer of the actor's org holds from a pool. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user. @param pool the pool id.
 * @param customer dense customer id.
 * @param out filled (its version must be set); zeroed past the version on failure.
 * @return #ENG_OK; #ENG_ENOTFOUND (no such pool, or no code assigned to the customer); #ENG_EINVAL;
 *         #ENG_EVERSION; #ENG_EDENIED; storage errors.
 */
ENG_API int eng_coupon_find(eng_engine *engine, const char *actor, const char *pool, uint32_t customer,
                            eng_coupon_assignment *out);

ENG_END_DECLS

#endif /* ENGAGE_COUPON_H */
