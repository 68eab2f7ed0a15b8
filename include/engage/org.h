/**
 * @file engage/org.h
 * @brief Orgs, their units and settings (feature flags, credit costs, the default conversion goal).
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_ORG_H
#define ENGAGE_ORG_H

#include "common.h"
#include "channel.h"
#include "goal.h"
#include "validation.h"

ENG_BEGIN_DECLS

/** X-Engage availability for an org. */
typedef enum eng_xengage_mode {
    ENG_XENGAGE_OFF = 0,     /**< Not available. */
    ENG_XENGAGE_TRIAL = 1,   /**< The trial version (the product's default). */
    ENG_XENGAGE_UNLOCKED = 2 /**< Fully unlocked. */
} eng_xengage_mode;


/** Current version of #eng_org_settings. */
#define ENG_ORG_SETTINGS_VERSION 1

/** Per-org settings and feature flags. */
typedef struct eng_org_settings {
    unsigned int version;        /**< #ENG_ORG_SETTINGS_VERSION. */
    int conversion_goals;        /**< Non-zero: the conversion goal feature is enabled. Default 0. */
    int xengage;                 /**< An #eng_xengage_mode. Default #ENG_XENGAGE_TRIAL. */
    int allow_self_approval;     /**< Non-zero: an approver may approve a message they created or last edited. Default 0. */
    int forbid_overdraft;        /**< Non-zero: credit balances may not go below zero (#ENG_ECREDITS). Default 0. */
    int64_t channel_cost[ENG_MAX_CHANNELS]; /**< Campaign credits per message, indexed by #eng_channel; each 0..1e9. Default 1. */
    int64_t xengage_cost;        /**< X-Engage credits per test-group recipient, 0..1e9. Default 1. */
    int has_default_goal;        /**< Non-zero: default_goal is the org's default conversion goal. */
    /**
     * Copied into new campaigns when has_default_goal and conversion_goals are
     * set; required (not NULL) when has_default_goal is set, ignored otherwise.
     * Read back by eng_org_settings_get(): NULL when has_default_goal is zero.
     */
    const eng_goal_spec *default_goal;
} eng_org_settings;

/** Static initialiser equal to what eng_org_settings_init() produces. */
#define ENG_ORG_SETTINGS_INIT                                                                                       \
    {ENG_ORG_SETTINGS_VERSION, 0, ENG_XENGAGE_TRIAL, 0, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 0, \
     NULL}

/**
 * Fill @p s with the defaults of version @p version.
 * @param s the settings to fill.
 * @param version #ENG_ORG_SETTINGS_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p s is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_org_settings_init(eng_org_settings *s, unsigned int version);

/**
 * Create an org with its first actor, an admin with org scope. This is the one
 * call without an acting user: whoever holds the engine sets up orgs.
 * @param engine an open engine.
 * @param org_id the new org's id.
 * @param settings the org's settings, or NULL for the defaults.
 * @param admin_id id of the first admin actor (actor ids are unique in the engine).
 * @param report if not NULL, receives a report when the call fails with
 *        #ENG_EVALIDATION (else NULL): every failing setting with its code and field path
 *        (`org.settings.xengage`, `org.settings.channel_cost[<i>]`, `org.settings.xengage_cost`,
 *        `org.settings.default_goal.*`); free with eng_validation_free().
 * @return #ENG_OK; #ENG_EINVAL for a bad id (detail `org.id` or `actor.id`);
 *         #ENG_EVALIDATION for bad settings (every failure in the report; the last error
 *         names the first); #ENG_EEXISTS if the org or the actor exists;
 *         #ENG_EVERSION; storage errors.
 */
ENG_API int eng_org_create(eng_engine *engine, const char *org_id, const eng_org_settings *settings,
                           const char *admin_id, eng_validation **report);

/**
 * Read the settings of the actor's org (its feature flags, costs and default
 * conversion goal). As in the seed, only users with org-level access see them.
 * @param engine an open engine.
 * @param actor acting user (any role, #ENG_SCOPE_ORG; unit-scoped actors get #ENG_EDENIED).
 * @param out receives the settings; its default goal (the #eng_goal_spec and its
 *        strings) points into engine-owned storage that stays valid until the next
 *        eng_org_settings_get() on this engine or eng_close().
 * @return #ENG_OK; #ENG_EDENIED for an unknown actor or one without org scope; #ENG_EINVAL for NULL @p out.
 */
ENG_API int eng_org_settings_get(eng_engine *engine, const char *actor, eng_org_settings *out);

/**
 * Replace the settings of the actor's org. Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param settings the new settings.
 * @param report as for eng_org_create(); an actor who may not change the settings gets
 *        #ENG_EDENIED and no report.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope); #ENG_EINVAL for NULL; #ENG_EVERSION;
 *         #ENG_EVALIDATION when a value is out of range (every failure in the report; the last
 *         error names the first, e.g. `org.settings.channel_cost[1]`).
 */
ENG_API int eng_org_settings_set(eng_engine *engine, const char *actor, const eng_org_settings *settings,
                                 eng_validation **report);

/**
 * Add an org unit under @p parent_id (NULL or "" for the org itself). Needs #ENG_OP_ADMIN.
 * @param engine an open engine.
 * @param actor acting user.
 * @param unit_id the new unit's id, unique in the org.
 * @param parent_id an existing unit, or NULL.
 * @return #ENG_OK; #ENG_EDENIED (not an admin with org scope); #ENG_EEXISTS (detail `unit.id`);
 *         #ENG_ENOTFOUND for a missing parent (`unit.parent`); #ENG_EINVAL for a bad id.
 */
ENG_API int eng_unit_add(eng_engine *engine, const char *actor, const char *unit_id, const char *parent_id);

ENG_END_DECLS

#endif /* ENGAGE_ORG_H */
