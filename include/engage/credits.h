/**
 * @file engage/credits.h
 * @brief Credit accounts of an org: balances and adjustments.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_CREDITS_H
#define ENGAGE_CREDITS_H

#include "common.h"

ENG_BEGIN_DECLS

/** Credit accounts of an org. */
typedef enum eng_credit_account {
    ENG_CREDITS_CAMPAIGN = 0, /**< Campaign credits (message sends). */
    ENG_CREDITS_XENGAGE = 1   /**< X-Engage credits. */
} eng_credit_account;

/**
 * Balance of an account of the actor's org. Balances may be negative (the
 * credit limit was exceeded) unless the org forbids overdraft.
 * @param engine an open engine.
 * @param actor acting user (any role).
 * @param account an #eng_credit_account.
 * @param balance receives the balance.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_EINVAL for an unknown account or NULL @p balance.
 */
ENG_API int eng_credits_balance(eng_engine *engine, const char *actor, int account, int64_t *balance);

/**
 * Add @p delta (negative to charge) to an account. Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param account an #eng_credit_account.
 * @param delta the change, |delta| <= 1e15.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope); #ENG_EINVAL for an unknown
 *         account; #ENG_ERANGE for |delta| over 1e15 or a balance leaving the supported range;
 *         #ENG_ECREDITS when the balance would go below zero and the org forbids overdraft
 *         (balance unchanged; detail `org.credits.campaign` or `org.credits.xengage`).
 */
ENG_API int eng_credits_adjust(eng_engine *engine, const char *actor, int account, int64_t delta);

ENG_END_DECLS

#endif /* ENGAGE_CREDITS_H */
