/**
 * @file engage/model.h
 * @brief The campaign model: orgs and units, actors and access, credits,
 * campaigns, messages (creatives, incentive, schedule, delivery), the
 * approval workflow, validation reports and the audit log.
 *
 * Everything here is kept in the engine's store (records under keys `m/...`)
 * and read back on each call, so a second engine opened on the same store sees
 * the same state. Every call that reads or changes campaign state takes the id
 * of an acting user (an *actor*); the library checks the actor's roles and
 * scope itself and refuses with #ENG_EDENIED by default. See
 * docs/campaign-model.md for the lifecycle and the rule → error table.
 *
 * Threads: the functions taking an engine lock it, so several threads may
 * share one engine. An #eng_campaign, #eng_message, #eng_validation or
 * #eng_audit_iter handle belongs to one thread at a time.
 *
 * Strings are UTF-8 and NUL-terminated. Input structs are borrowed for the
 * call only. Ids of orgs, units and actors are 1..64 bytes of `[A-Za-z0-9_.@-]`.
 *
 * Errors common to every function taking an engine, besides those listed on
 * each: #ENG_EMISUSE for a NULL or closed engine, #ENG_ENOMEM, and the store's
 * #ENG_ESTORAGE / #ENG_ECORRUPT (naming the key). A NULL, malformed or unknown
 * actor gets #ENG_EDENIED. Every failure leaves the store as it was and sets
 * eng_error_last() with a detail (field path) naming what is wrong.
 */
#ifndef ENGAGE_MODEL_H
#define ENGAGE_MODEL_H

#include "common.h"
#include "rules.h"
#include "audience.h" /* eng_audience, eng_audience_query */
#include "validation.h"
#include "goal.h"
#include "org.h"
#include "access.h"
#include "credits.h"
#include "campaign.h"
#include "message.h"
#include "offer.h"
#include "approval.h"
#include "audit.h"

ENG_BEGIN_DECLS


/* ------------------------------------------------------------------ model-wide hooks */
/**
 * Counts the test-group recipients of @p query (include minus exclude, reachable
 * on one of the channels, after the split). Return #ENG_OK and set @p count, or
 * a negative code.
 */
typedef int (*eng_audience_count_fn)(const eng_audience_query *query, uint64_t *count, void *user);

/**
 * The seed a campaign's test/control split uses: a stable hash of org and
 * campaign id, the same in every process and release (stored data depends on it).
 * @param org the org id. @param campaign the campaign id.
 * @return the seed; 0 when @p org is NULL.
 */
ENG_API uint64_t eng_campaign_split_seed(const char *org, uint64_t campaign);

/**
 * Set the audience counter used by the X-Engage audience rule. By default (and
 * after setting NULL) the engine's own audience layer counts
 * (eng_audience_test_count()); a host that keeps customers elsewhere sets its own.
 * @param engine an open engine.
 * @param fn the counter, or NULL for the built-in one.
 * @param user passed to @p fn.
 * @return #ENG_OK; #ENG_EMISUSE for a bad engine.
 */
ENG_API int eng_model_set_audience_counter(eng_engine *engine, eng_audience_count_fn fn, void *user);

/** Which rule texts a schema applies to. */
typedef enum eng_rule_schema_kind {
    ENG_SCHEMA_CUSTOMER = 0, /**< Personalization variant rules (customer, product, region, time fields). */
    ENG_SCHEMA_EVENT = 1     /**< Conversion-goal conditions (fields of the conversion event, e.g. a transaction). */
} eng_rule_schema_kind;

/**
 * Give the model the schema its rule texts are compiled against. With a schema
 * set, validation compiles every rule of that kind and reports syntax errors
 * (#ENG_EPARSE) and type errors such as unknown fields (#ENG_ETYPE) at the
 * rule's field path (`message.variants[0].rule`, `campaign.goal.condition`,
 * `org.settings.default_goal.condition`), the message starting with
 * "line:column". Without one, rule texts are only required to be non-empty.
 * @param engine an open engine.
 * @param kind an #eng_rule_schema_kind.
 * @param fields the schema (copied); NULL with @p nfields 0 removes it.
 * @param nfields number of fields, at most 4096.
 * @return #ENG_OK; #ENG_EINVAL (bad kind; NULL fields with a count or more than 4096, detail `fields`;
 *         a field without a name, with a bad type or scale, detail `fields[i].name/.type/.scale`);
 *         #ENG_EMISUSE; #ENG_ENOMEM. On failure the schema set before stays.
 */
ENG_API int eng_model_set_rule_schema(eng_engine *engine, int kind, const eng_rule_field *fields, size_t nfields);

ENG_END_DECLS

#endif
