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

ENG_BEGIN_DECLS

/** Room reserved for channels in fixed per-channel arrays (#eng_channel has fewer). */
#define ENG_MAX_CHANNELS 16

/* ------------------------------------------------------------------ roles */

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

/* ------------------------------------------------------------------ validation */

/**
 * A validation report: every failure found, each with a code, a field path
 * (`org.settings.xengage_cost`, `campaign.end`, `message.creative[sms].body`, ...) and a message.
 * Owned by the caller; free with eng_validation_free(). It does not depend on
 * the engine and may be freed after eng_close().
 */
typedef struct eng_validation eng_validation;

/**
 * Number of failures in a report.
 * @param v a report, or NULL (0).
 * @return the count.
 */
ENG_API size_t eng_validation_count(const eng_validation *v);

/**
 * One failure of a report.
 * @param v the report.
 * @param i index below eng_validation_count().
 * @param code receives an #eng_code (may be NULL).
 * @param path receives the field path, valid while @p v lives (may be NULL).
 * @param message receives the text, valid while @p v lives (may be NULL).
 * @return #ENG_OK; #ENG_EINVAL for a NULL report; #ENG_ERANGE for a bad index.
 */
ENG_API int eng_validation_item(const eng_validation *v, size_t i, int *code, const char **path,
                                const char **message);

/**
 * Find the first failure with field path @p path.
 * @param v the report.
 * @param path the field path.
 * @return its code, or #ENG_OK if no failure has that path (also for a NULL @p v or @p path).
 */
ENG_API int eng_validation_find(const eng_validation *v, const char *path);

/**
 * Release a report.
 * @param v the report, or NULL.
 */
ENG_API void eng_validation_free(eng_validation *v);

/* ------------------------------------------------------------------ org */

/** X-Engage availability for an org. */
typedef enum eng_xengage_mode {
    ENG_XENGAGE_OFF = 0,     /**< Not available. */
    ENG_XENGAGE_TRIAL = 1,   /**< The trial version (the product's default). */
    ENG_XENGAGE_UNLOCKED = 2 /**< Fully unlocked. */
} eng_xengage_mode;

/** Where conversion tracking starts after a message. */
typedef enum eng_goal_start {
    ENG_GOAL_ON_SENT = 0,      /**< After the message is sent. */
    ENG_GOAL_ON_DELIVERED = 1, /**< After it is delivered. */
    ENG_GOAL_ON_OPENED = 2,    /**< After it is opened. */
    ENG_GOAL_ON_CLICKED = 3    /**< After a click. */
} eng_goal_start;

/**
 * How a conversion (and its amount) is split among the eligible touches of
 * the campaign (see docs/attribution.md).
 */
typedef enum eng_attribution {
    ENG_ATTR_LAST_TOUCH = 0,  /**< All to the most recent eligible interaction. */
    ENG_ATTR_FIRST_TOUCH = 1, /**< All to the first eligible interaction. */
    ENG_ATTR_LINEAR = 2,      /**< Equal shares among the eligible touches. */
    ENG_ATTR_TIME_DECAY = 3,  /**< Shares proportional to 2^(-age/half-life), half-life 7 days by default. */
    ENG_ATTR_POSITION = 4     /**< 40 % first, 40 % last, 20 % shared by the middle; one touch gets all, two half each. */
} eng_attribution;

/** A conversion goal (event, conditions, tracking window, attribution). */
typedef struct eng_goal_spec {
    const char *event;     /**< Conversion event, e.g. "transaction". Required. */
    const char *condition; /**< Rule-language condition over the event; NULL or "" for none. */
    uint32_t window_days;  /**< Event tracking period in days, 1..90 (the product offers 15, 30 and 45). */
    int start_on;          /**< An #eng_goal_start. */
    int attribution;       /**< An #eng_attribution. */
} eng_goal_spec;

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
    eng_goal_spec default_goal;  /**< Copied into new campaigns when has_default_goal and conversion_goals are set. */
} eng_org_settings;

/** Static initialiser equal to what eng_org_settings_init() produces. */
#define ENG_ORG_SETTINGS_INIT                                                                                       \
    {ENG_ORG_SETTINGS_VERSION, 0, ENG_XENGAGE_TRIAL, 0, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 0, \
     {NULL, NULL, 30, ENG_GOAL_ON_SENT, ENG_ATTR_LAST_TOUCH}}

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
 * @param out receives the settings; its goal strings point into engine-owned
 *        storage that stays valid until the next eng_org_settings_get() on this engine.
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

/* ------------------------------------------------------------------ actors */

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
 * Ask whether @p actor may perform @p op on an object owned by @p unit.
 * @param engine an open engine.
 * @param actor the actor to check.
 * @param op an #eng_op.
 * @param unit owning unit, or NULL/"" for the org itself.
 * @return #ENG_OK if allowed; #ENG_EDENIED if not (also for an unknown actor or unit); #ENG_EINVAL
 *         for an unknown @p op.
 */
ENG_API int eng_access_check(eng_engine *engine, const char *actor, int op, const char *unit);

/* ------------------------------------------------------------------ credits */

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

/* ------------------------------------------------------------------ campaigns */

/** Campaign types (room for more). */
typedef enum eng_campaign_type {
    ENG_CAMPAIGN_BROADCAST = 0 /**< A bulk send to an audience. */
} eng_campaign_type;

/** Marketing objectives. */
typedef enum eng_objective {
    ENG_OBJ_NONE = 0,               /**< No objective tagged. */
    ENG_OBJ_BOOST_SALES = 1,        /**< Boost sales. */
    ENG_OBJ_ACQUIRE = 2,            /**< Acquire customers. */
    ENG_OBJ_PROMOTE_PRODUCTS = 3,   /**< Promote specific products (needs products). */
    ENG_OBJ_FEEDBACK = 4,           /**< Collect feedback from customers. */
    ENG_OBJ_RETENTION = 5,          /**< Improve retention. */
    ENG_OBJ_WINBACK = 6,            /**< Win back lapsed customers. */
    ENG_OBJ_CAPTURE_INFO = 7,       /**< Capture customer information. */
    ENG_OBJ_GREETINGS = 8,          /**< Send greetings. */
    ENG_OBJ_STORE_VISITS = 9        /**< Increase store visits (needs stores or zones). */
} eng_objective;

/** How a campaign's conversion goal is set by create/update. */
typedef enum eng_goal_mode {
    ENG_GOAL_DEFAULT = 0, /**< Copy the org default (none if the org has none). */
    ENG_GOAL_NONE = 1,    /**< No conversion goal. */
    ENG_GOAL_CUSTOM = 2   /**< Use #eng_campaign_spec.goal. */
} eng_goal_mode;

/** Current version of #eng_campaign_spec. */
#define ENG_CAMPAIGN_SPEC_VERSION 1

/** The editable fields of a campaign. */
typedef struct eng_campaign_spec {
    unsigned int version;       /**< #ENG_CAMPAIGN_SPEC_VERSION. */
    const char *name;           /**< 1..128 bytes, unique within the org. */
    eng_time start;             /**< Start of the campaign (coupons valid from). */
    eng_time end;               /**< End; must be after start. */
    const char *unit;           /**< Owning unit, or NULL/"" for the org. Fixed at creation. */
    int type;                   /**< An #eng_campaign_type. */
    int objective;              /**< An #eng_objective. */
    const char *const *product_categories; /**< Categories for #ENG_OBJ_PROMOTE_PRODUCTS. */
    size_t n_product_categories;           /**< Entries in product_categories. */
    const char *const *product_items;      /**< Item codes for #ENG_OBJ_PROMOTE_PRODUCTS. */
    size_t n_product_items;                /**< Entries in product_items. */
    const char *const *stores;  /**< Stores for #ENG_OBJ_STORE_VISITS. */
    size_t n_stores;            /**< Entries in stores. */
    const char *const *zones;   /**< Zones for #ENG_OBJ_STORE_VISITS. */
    size_t n_zones;             /**< Entries in zones. */
    uint32_t control_percent;   /**< Control share of the test-control split, 0..50. Default 10. */
    const char *ga_account;     /**< Google Analytics account ("UA-..." or "G-..."), or NULL. */
    int goal_mode;              /**< An #eng_goal_mode (read back: NONE or CUSTOM). */
    eng_goal_spec goal;         /**< The goal when goal_mode is #ENG_GOAL_CUSTOM. */
} eng_campaign_spec;

/** Static initialiser equal to what eng_campaign_spec_init() produces. */
#define ENG_CAMPAIGN_SPEC_INIT                                                                                  \
    {ENG_CAMPAIGN_SPEC_VERSION, NULL, 0, 0, NULL, ENG_CAMPAIGN_BROADCAST, ENG_OBJ_NONE, NULL, 0, NULL, 0, NULL, 0, \
     NULL, 0, 10, NULL, ENG_GOAL_DEFAULT, {NULL, NULL, 30, ENG_GOAL_ON_SENT, ENG_ATTR_LAST_TOUCH}}

/**
 * Fill @p c with defaults (broadcast, no objective, 10% control, org default goal).
 * @param c the spec to fill.
 * @param version #ENG_CAMPAIGN_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_campaign_spec_init(eng_campaign_spec *c, unsigned int version);

/**
 * A read-only snapshot of a stored campaign. Holds a reference on its engine
 * (eng_close() finishes when the last snapshot is freed). Free with eng_campaign_free().
 */
typedef struct eng_campaign eng_campaign;

/**
 * Create a campaign. Needs #ENG_OP_EDIT on the owning unit.
 * @param engine an open engine.
 * @param actor acting user.
 * @param spec the campaign.
 * @param id receives the new campaign's id.
 * @param report if not NULL, receives a report when the call fails with
 *        #ENG_EVALIDATION (else NULL); free with eng_validation_free().
 * @return #ENG_OK; #ENG_EDENIED; #ENG_EVALIDATION (every failed rule in the report;
 *         the last error names the first); #ENG_EINVAL; #ENG_EVERSION; storage errors.
 */
ENG_API int eng_campaign_create(eng_engine *engine, const char *actor, const eng_campaign_spec *spec,
                                uint64_t *id, eng_validation **report);

/**
 * Replace the fields of a campaign (the owning unit cannot change). Messages
 * awaiting approval or approved return to draft (their approval is void).
 * Changing the goal after the campaign's first approval is refused.
 * Needs #ENG_OP_EDIT.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the campaign.
 * @param spec the new fields.
 * @param report as for eng_campaign_create().
 * @return as eng_campaign_create(); #ENG_ENOTFOUND; #ENG_EINVAL when @p spec changes the unit
 *         (`campaign.unit`); #ENG_ESTATE when a message is executing or executed (`campaign`) or
 *         the goal would change after the first approval (`campaign.goal`).
 */
ENG_API int eng_campaign_update(eng_engine *engine, const char *actor, uint64_t id, const eng_campaign_spec *spec,
                                eng_validation **report);

/**
 * Delete a campaign and its messages. Refused while any message is executing or
 * executed (their history stays). Needs #ENG_OP_EDIT.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the campaign.
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_EDENIED; #ENG_ESTATE; storage errors.
 */
ENG_API int eng_campaign_delete(eng_engine *engine, const char *actor, uint64_t id);

/**
 * List the campaigns of the actor's org that the actor may read, by id.
 * @param engine an open engine.
 * @param actor acting user.
 * @param ids receives an array (NULL when empty); free with eng_free() on this engine.
 * @param n receives the count.
 * @return #ENG_OK; #ENG_EDENIED for an unknown actor; #ENG_EINVAL for NULL @p ids or @p n;
 *         #ENG_ECORRUPT; storage errors.
 */
ENG_API int eng_campaign_list(eng_engine *engine, const char *actor, uint64_t **ids, size_t *n);

/**
 * Read a campaign. Needs #ENG_OP_READ.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the campaign.
 * @param out receives the snapshot (NULL on failure); free with eng_campaign_free().
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_EDENIED; #ENG_EINVAL for NULL @p out; #ENG_ECORRUPT.
 */
ENG_API int eng_campaign_get(eng_engine *engine, const char *actor, uint64_t id, eng_campaign **out);

/**
 * The fields of a snapshot. Optional strings that were NULL (unit, GA account,
 * goal condition) read back as "".
 * @param c a snapshot.
 * @return a spec whose pointers live as long as @p c; NULL if @p c is NULL.
 */
ENG_API const eng_campaign_spec *eng_campaign_fields(const eng_campaign *c);

/**
 * Facts about a snapshot.
 * @param c a snapshot.
 * @param id receives the id (may be NULL).
 * @param created_by receives the creating actor, valid while @p c lives (may be NULL).
 * @param goal_locked receives non-zero once a message was approved (may be NULL).
 * @return #ENG_OK; #ENG_EINVAL for NULL @p c.
 */
ENG_API int eng_campaign_info(const eng_campaign *c, uint64_t *id, const char **created_by, int *goal_locked);

/**
 * Ids of the campaign's messages, in creation order.
 * @param c a snapshot.
 * @param n receives the count (may be NULL; 0 for a NULL @p c).
 * @return an array living as long as @p c (NULL when empty or @p c is NULL).
 */
ENG_API const uint64_t *eng_campaign_messages(const eng_campaign *c, size_t *n);

/**
 * Release a snapshot.
 * @param c the snapshot, or NULL.
 */
ENG_API void eng_campaign_free(eng_campaign *c);

/* ------------------------------------------------------------------ messages */

/** Message types (room for more). */
typedef enum eng_message_type {
    ENG_MESSAGE_BROADCAST = 0 /**< A bulk send. */
} eng_message_type;

/** Optimization strategies. */
typedef enum eng_strategy {
    ENG_STRATEGY_NONE = 0,             /**< Send every creative. */
    ENG_STRATEGY_PERSONALIZATION = 1,  /**< Content variants chosen by rules over product, region or time. */
    ENG_STRATEGY_CHANNEL_PRIORITY = 2, /**< Reach each customer on the first reachable channel of a list. */
    ENG_STRATEGY_XENGAGE = 3           /**< X-Engage: learned channel per customer (seed rules apply). */
} eng_strategy;

/** What a personalization variant is chosen by. */
typedef enum eng_variant_dim {
    ENG_VARIANT_PRODUCT = 0, /**< By product. */
    ENG_VARIANT_REGION = 1,  /**< By region. */
    ENG_VARIANT_TIME = 2     /**< By time. */
} eng_variant_dim;

/** One personalization variant: when @p rule holds, @p body replaces the channel's body. */
typedef struct eng_variant {
    int dimension;     /**< An #eng_variant_dim. */
    const char *rule;  /**< Rule-language condition (compiled by the rules layer). */
    int channel;       /**< The #eng_channel whose creative it varies. */
    const char *body;  /**< The variant body (validated like the creative's body). */
} eng_variant;

/** One creative; a message has at most one per channel. */
typedef struct eng_creative {
    int channel;         /**< An #eng_channel. */
    const char *subject; /**< Email subject, push title or ad headline; NULL for none. */
    const char *body;    /**< The content, with `{{tag}}` template tags. */
} eng_creative;

/** Incentive kinds. */
typedef enum eng_incentive_kind {
    ENG_INCENTIVE_NONE = 0,   /**< No incentive. */
    ENG_INCENTIVE_COUPON = 1, /**< A coupon offer. */
    ENG_INCENTIVE_POINTS = 2  /**< A points strategy. */
} eng_incentive_kind;

/** Where coupon codes come from. */
typedef enum eng_coupon_source {
    ENG_COUPON_COMMON = 0,   /**< One common code for everyone (coupon_code). */
    ENG_COUPON_UPLOADED = 1, /**< A pool of uploaded codes (coupon_pool). */
    ENG_COUPON_GENERATED = 2 /**< Codes generated automatically. */
} eng_coupon_source;

/** The incentive of a message. */
typedef struct eng_incentive {
    int kind;                 /**< An #eng_incentive_kind. */
    const char *offer_id;     /**< Offer id for coupons (required for coupons). */
    int coupon_source;        /**< An #eng_coupon_source. */
    const char *coupon_code;  /**< The common code (#ENG_COUPON_COMMON). */
    const char *coupon_pool;  /**< Id of the uploaded pool (#ENG_COUPON_UPLOADED). */
    int64_t points;           /**< Points allocated per customer (#ENG_INCENTIVE_POINTS), 1..1e9. */
    uint32_t points_expiry_days; /**< Points expire after this many days, 1..3650. */
} eng_incentive;

/** Schedule kinds. */
typedef enum eng_schedule_kind {
    ENG_SCHEDULE_NONE = 0,     /**< Not scheduled yet (a draft may have none). */
    ENG_SCHEDULE_ONCE = 1,     /**< Once, at #eng_schedule.at. */
    ENG_SCHEDULE_RECURRING = 2 /**< Every N units from at until until. */
} eng_schedule_kind;

/** Units of a recurring schedule. */
typedef enum eng_schedule_unit {
    ENG_EVERY_HOURS = 0, /**< Hours. */
    ENG_EVERY_DAYS = 1,  /**< Days. */
    ENG_EVERY_WEEKS = 2  /**< Weeks. */
} eng_schedule_unit;

/** When a message is sent. */
typedef struct eng_schedule {
    int kind;       /**< An #eng_schedule_kind. */
    eng_time at;    /**< The (first) occurrence. */
    uint32_t every; /**< Recurrence interval, 1..1000 units. */
    int unit;       /**< An #eng_schedule_unit. */
    eng_time until; /**< Last possible occurrence of a recurring schedule. */
} eng_schedule;

/** A sender id for one channel. */
typedef struct eng_sender {
    int channel;       /**< An #eng_channel. */
    const char *id;    /**< Sender id (no line breaks, 1..64 bytes). */
} eng_sender;

/** Delivery settings. */
typedef struct eng_delivery {
    const eng_sender *senders; /**< Sender ids, at most one per channel. */
    size_t n_senders;          /**< Entries in senders. */
    const char *const *poc;    /**< Org POC recipients who also get the message. */
    size_t n_poc;              /**< Entries in poc. */
    int tiny_url;              /**< Non-zero: shorten links. */
} eng_delivery;

/** Current version of #eng_message_spec. */
#define ENG_MESSAGE_SPEC_VERSION 1

/** The editable fields of a message. */
typedef struct eng_message_spec {
    unsigned int version;          /**< #ENG_MESSAGE_SPEC_VERSION. */
    const char *title;             /**< 1..128 bytes. */
    int type;                      /**< An #eng_message_type. */
    int strategy;                  /**< An #eng_strategy. */
    const eng_variant *variants;   /**< Personalization variants. */
    size_t n_variants;             /**< Entries in variants. */
    const int *channel_priority;   /**< Ordered channels for #ENG_STRATEGY_CHANNEL_PRIORITY. */
    size_t n_channel_priority;     /**< Entries in channel_priority. */
    const char *const *include;    /**< Audience groups to include (ids resolved by the audience layer). */
    size_t n_include;              /**< Entries in include. */
    const char *const *exclude;    /**< Audience groups to exclude. */
    size_t n_exclude;              /**< Entries in exclude. */
    const eng_creative *creatives; /**< Creatives, at most one per channel. */
    size_t n_creatives;            /**< Entries in creatives. */
    eng_incentive incentive;       /**< The incentive. */
    eng_schedule schedule;         /**< The schedule. */
    eng_delivery delivery;         /**< Delivery settings. */
} eng_message_spec;

/** Static initialiser equal to what eng_message_spec_init() produces. */
#define ENG_MESSAGE_SPEC_INIT                                                                                    \
    {ENG_MESSAGE_SPEC_VERSION, NULL, ENG_MESSAGE_BROADCAST, ENG_STRATEGY_NONE, NULL, 0, NULL, 0, NULL, 0, NULL, 0, \
     NULL, 0, {ENG_INCENTIVE_NONE, NULL, ENG_COUPON_COMMON, NULL, NULL, 0, 0},                                     \
     {ENG_SCHEDULE_NONE, 0, 0, ENG_EVERY_HOURS, 0}, {NULL, 0, NULL, 0, 0}}

/**
 * Fill @p m with defaults (broadcast, no strategy, nothing else).
 * @param m the spec to fill.
 * @param version #ENG_MESSAGE_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_message_spec_init(eng_message_spec *m, unsigned int version);

/** Lifecycle states of a message. */
typedef enum eng_message_state {
    ENG_STATE_DRAFT = 0,     /**< Being edited. */
    ENG_STATE_AWAITING = 1,  /**< Sent for approval. */
    ENG_STATE_APPROVED = 2,  /**< Approved; will run on schedule. */
    ENG_STATE_REJECTED = 3,  /**< Rejected; edit to return to draft. */
    ENG_STATE_EXECUTING = 4, /**< Running. */
    ENG_STATE_EXECUTED = 5,  /**< Done; cannot be stopped. */
    ENG_STATE_STOPPED = 6    /**< Stopped before execution; edit to return to draft. */
} eng_message_state;

/** Lifecycle actions (for eng_message_transition()). */
typedef enum eng_action {
    ENG_ACT_EDIT = 0,    /**< Change the content. */
    ENG_ACT_SUBMIT = 1,  /**< Send for approval. */
    ENG_ACT_APPROVE = 2, /**< Approve. */
    ENG_ACT_REJECT = 3,  /**< Reject. */
    ENG_ACT_START = 4,   /**< Start execution. */
    ENG_ACT_FINISH = 5,  /**< Mark executed. */
    ENG_ACT_STOP = 6     /**< Stop before execution. */
} eng_action;

/**
 * The lifecycle table: the state an action leads to.
 * @param state an #eng_message_state.
 * @param action an #eng_action.
 * @return the next state (>= 0), #ENG_ESTATE if the action is not allowed in
 *         that state, #ENG_EINVAL for an unknown state or action.
 */
ENG_API int eng_message_transition(int state, int action);

/**
 * A read-only snapshot of a stored message. Holds a reference on its engine.
 * Free with eng_message_free().
 */
typedef struct eng_message eng_message;

/**
 * Add a message (in draft) to a campaign. Needs #ENG_OP_EDIT on the campaign's unit.
 * Only structure is checked here (enums, sizes, one creative per channel);
 * completeness is checked by eng_message_submit().
 * @param engine an open engine.
 * @param actor acting user.
 * @param campaign the campaign.
 * @param spec the message.
 * @param id receives the new message's id.
 * @param report as for eng_campaign_create().
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_EVALIDATION; #ENG_EINVAL for NULL @p spec or
 *         @p id; #ENG_EVERSION; #ENG_ETOOBIG when the campaign already has the most messages
 *         (`campaign.messages`); storage errors.
 */
ENG_API int eng_message_create(eng_engine *engine, const char *actor, uint64_t campaign, const eng_message_spec *spec,
                               uint64_t *id, eng_validation **report);

/**
 * Replace a message's fields. A message awaiting approval, approved, rejected or
 * stopped returns to draft and any approval is void. Needs #ENG_OP_EDIT.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param spec the new fields.
 * @param report as for eng_campaign_create().
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_EVALIDATION; #ENG_EINVAL for NULL @p spec;
 *         #ENG_EVERSION; #ENG_ESTATE when executing or executed.
 */
ENG_API int eng_message_update(eng_engine *engine, const char *actor, uint64_t id, const eng_message_spec *spec,
                               eng_validation **report);

/**
 * Delete a message. Refused while executing or executed. Needs #ENG_OP_EDIT.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_EDENIED; #ENG_ESTATE; storage errors.
 */
ENG_API int eng_message_delete(eng_engine *engine, const char *actor, uint64_t id);

/**
 * Run every validator on a message without changing it. Needs #ENG_OP_READ.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param report receives a report (possibly empty); free with eng_validation_free().
 * @return #ENG_OK when valid; #ENG_EVALIDATION when not; #ENG_EDENIED; #ENG_ENOTFOUND;
 *         #ENG_EINVAL for NULL @p report.
 */
ENG_API int eng_message_validate(eng_engine *engine, const char *actor, uint64_t id, eng_validation **report);

/**
 * Send a draft message for approval. Runs every validator (message, campaign,
 * creatives per channel, incentive, schedule, X-Engage) and fails with all
 * failures at once. On success the host's event callback hears
 * #ENG_EVENT_APPROVAL_NEEDED. Needs #ENG_OP_EDIT.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param report as for eng_campaign_create().
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE if not a draft; #ENG_EVALIDATION.
 */
ENG_API int eng_message_submit(eng_engine *engine, const char *actor, uint64_t id, eng_validation **report);

/**
 * Approve a message awaiting approval. The approval binds to the content hash;
 * any later change voids it. Needs #ENG_OP_APPROVE; the approver may not be
 * the message's creator or last editor unless the org allows self-approval.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param content_hash the hash the approver reviewed (64 hex digits from
 *        eng_message_hash()), or NULL to approve the current content.
 * @param comment approver's comment (may be NULL; at most 4096 bytes).
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE if not awaiting approval or the content
 *         changed since @p content_hash (`message.content_hash`); #ENG_ERANGE for an X-Engage message approved
 *         less than 48 hours before its schedule; #ENG_ETOOBIG.
 */
ENG_API int eng_message_approve(eng_engine *engine, const char *actor, uint64_t id, const char *content_hash,
                                const char *comment);

/**
 * Approve a whole campaign: every message of it that awaits approval, as the
 * seed's campaign-level Approve does. Each one is checked as by
 * eng_message_approve() (without a reviewed hash: the current content is
 * approved); if any check fails, nothing changes. Other messages are left as
 * they are. The host hears #ENG_EVENT_APPROVED once per message. Needs
 * #ENG_OP_APPROVE on the campaign's unit.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the campaign.
 * @param comment approver's comment stored on every message (may be NULL; at most 4096 bytes).
 * @return #ENG_OK; #ENG_EDENIED (also when the actor created or last edited one of the
 *         messages and the org does not allow self-approval); #ENG_ENOTFOUND;
 *         #ENG_ESTATE when no message awaits approval; #ENG_ERANGE for an X-Engage message
 *         less than 48 hours before its schedule; #ENG_ETOOBIG; storage errors.
 */
ENG_API int eng_campaign_approve(eng_engine *engine, const char *actor, uint64_t id, const char *comment);

/**
 * Reject a whole campaign: every message of it that awaits approval, in one
 * change. The host hears #ENG_EVENT_REJECTED once per message. Needs
 * #ENG_OP_APPROVE on the campaign's unit.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the campaign.
 * @param comment why (may be NULL; at most 4096 bytes).
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE when no message awaits
 *         approval; #ENG_ETOOBIG; storage errors.
 */
ENG_API int eng_campaign_reject(eng_engine *engine, const char *actor, uint64_t id, const char *comment);

/**
 * Reject a message awaiting approval. Needs #ENG_OP_APPROVE.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param comment why (may be NULL; at most 4096 bytes).
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE if not awaiting approval; #ENG_ETOOBIG.
 */
ENG_API int eng_message_reject(eng_engine *engine, const char *actor, uint64_t id, const char *comment);

/**
 * Apply an execution action (#ENG_ACT_START, #ENG_ACT_FINISH or #ENG_ACT_STOP).
 * Start needs an approval still bound to the current content (and, for
 * X-Engage, given at least 48 hours before the schedule). Needs #ENG_OP_EXECUTE.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param action the action.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE (e.g. stopping an executed message, or
 *         starting one whose approval no longer matches, `message.approval`); #ENG_EINVAL for
 *         another action.
 */
ENG_API int eng_message_execute(eng_engine *engine, const char *actor, uint64_t id, int action);

/**
 * Read a message. Needs #ENG_OP_READ on its campaign's unit.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param out receives the snapshot (NULL on failure); free with eng_message_free().
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_EDENIED; #ENG_EINVAL for NULL @p out; #ENG_ECORRUPT.
 */
ENG_API int eng_message_get(eng_engine *engine, const char *actor, uint64_t id, eng_message **out);

/**
 * The fields of a message snapshot. Optional strings that were NULL read back as
 * "", except a creative's subject, which stays NULL.
 * @param m a snapshot.
 * @return a spec whose pointers live as long as @p m; NULL if @p m is NULL.
 */
ENG_API const eng_message_spec *eng_message_fields(const eng_message *m);

/** Current version of #eng_message_status. */
#define ENG_MESSAGE_STATUS_VERSION 1

/** Workflow facts of a message snapshot; strings live as long as the snapshot. */
typedef struct eng_message_status {
    unsigned int version;     /**< #ENG_MESSAGE_STATUS_VERSION. */
    uint64_t id;              /**< The message. */
    uint64_t campaign;        /**< Its campaign. */
    int state;                /**< An #eng_message_state. */
    const char *created_by;   /**< Actor who created it. */
    const char *edited_by;    /**< Actor who last edited it. */
    eng_time updated_at;      /**< Time of the last change of content. */
    const char *decided_by;   /**< Approver or rejecter, or "". */
    eng_time decided_at;      /**< Time of approval or rejection, or 0. */
    const char *comment;      /**< Approval or rejection comment, or "". */
    const char *approved_hash;/**< Content hash the approval is bound to, or "" when not approved. */
    const char *content_hash; /**< Current content hash (64 hex digits). */
} eng_message_status;

/** Static initialiser for #eng_message_status (sets the version). */
#define ENG_MESSAGE_STATUS_INIT {ENG_MESSAGE_STATUS_VERSION, 0, 0, 0, NULL, NULL, 0, NULL, 0, NULL, NULL, NULL}

/**
 * The workflow facts of a snapshot.
 * @param m a snapshot.
 * @param out receives the facts; set out->version first (#ENG_MESSAGE_STATUS_VERSION).
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_message_status_get(const eng_message *m, eng_message_status *out);

/**
 * The current content hash of a message (SHA-256 over the message and its
 * campaign, 64 lower-case hex digits) as an approver would review it.
 * @param m a snapshot.
 * @return the hash, valid while @p m lives; NULL for NULL @p m.
 */
ENG_API const char *eng_message_hash(const eng_message *m);

/**
 * Release a snapshot.
 * @param m the snapshot, or NULL.
 */
ENG_API void eng_message_free(eng_message *m);

/* ------------------------------------------------------------------ host hooks */

/** Workflow events the host hears about. */
typedef enum eng_event_kind {
    ENG_EVENT_APPROVAL_NEEDED = 0, /**< A message was sent for approval. */
    ENG_EVENT_APPROVED = 1,        /**< A message was approved. */
    ENG_EVENT_REJECTED = 2         /**< A message was rejected. */
} eng_event_kind;

/** Current version of #eng_model_event. */
#define ENG_MODEL_EVENT_VERSION 1

/** One workflow event; all pointers are borrowed for the callback. */
typedef struct eng_model_event {
    unsigned int version; /**< #ENG_MODEL_EVENT_VERSION (fields are only appended). */
    int kind;             /**< An #eng_event_kind. */
    const char *org;      /**< The org. */
    uint64_t campaign;    /**< The campaign. */
    uint64_t message;     /**< The message. */
    const char *actor;    /**< Who acted. */
    const char *comment;  /**< Approval or rejection comment, or "". */
} eng_model_event;

/**
 * Receives workflow events after the change is stored. Runs with the engine
 * locked (it may call back into the engine on the same thread). Its return
 * value is ignored: the change is already stored.
 */
typedef void (*eng_model_event_fn)(const eng_model_event *event, void *user);

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
 * Set the workflow event callback (NULL to remove).
 * @param engine an open engine.
 * @param fn the callback.
 * @param user passed to @p fn.
 * @return #ENG_OK; #ENG_EMISUSE for a bad engine.
 */
ENG_API int eng_model_set_event_callback(eng_engine *engine, eng_model_event_fn fn, void *user);

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

/**
 * The audience frozen when the message was approved: its test and control sets
 * exactly as approved (checksums and content hash verified on load), however
 * the groups changed since. Approval freezes it when the engine's own audience
 * layer holds the groups (no host counter set, and the layer has groups).
 * Needs #ENG_OP_READ.
 * @param engine the engine. @param actor who asks. @param message the message.
 * @param[out] out receives the audience; free with eng_audience_free().
 * @return #ENG_OK, #ENG_ESTATE (not approved, executing or executed),
 *         #ENG_ENOTFOUND (no such message, or approved without a frozen audience),
 *         #ENG_EDENIED, #ENG_EINVAL, #ENG_ECORRUPT, #ENG_EMISUSE.
 */
ENG_API int eng_message_audience(eng_engine *engine, const char *actor, uint64_t message, eng_audience **out);

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

/* ------------------------------------------------------------------ audit */

/** One audit entry; strings are valid until the next eng_audit_next() or eng_audit_free(). */
typedef struct eng_audit_entry {
    uint64_t seq;           /**< Position in the log, from 1. */
    eng_time time;          /**< When. */
    const char *org;        /**< The org. */
    const char *actor;      /**< Who. */
    const char *object;     /**< What ("campaign/3", "message/4", "org", "actor/bob", "credits/campaign"). */
    const char *action;     /**< "create", "update", "delete" (deleting a campaign logs each of its messages first),
                                 "submit", "approve", "reject", "void" (approval voided by a campaign edit), "lock-goal"
                                 (the campaign's first approval froze its goal), "message-add" and "message-remove"
                                 (on the campaign whose message list a message create or delete changed, right after
                                 the message's own entry), "start", "finish", "stop", "settings",
                                 "unit-add", "put" (actor), "adjust" and "charge" (credits). */
    const char *state_hash; /**< SHA-256 (hex) of the new state of the object: its stored record; for credits the two
                                 balances (campaign, X-Engage) as little-endian 64-bit integers; for a deletion the empty string. */
    const char *prev_hash;  /**< Hash (hex) of the previous entry; 64 zeros for the first. */
    const char *hash;       /**< Hash (hex) of this entry (covers all fields above). */
} eng_audit_entry;

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
 * The next entry.
 * @param it the iterator.
 * @param entry receives the entry; its strings live until the next call or eng_audit_free().
 * @return #ENG_OK; #ENG_ENOTFOUND at the end; #ENG_EINVAL for a NULL or freed iterator or NULL @p entry.
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

#endif
