/**
 * @file engage/campaign.h
 * @brief Campaigns: the editable fields, create/update/delete/list, and read-only snapshots.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_CAMPAIGN_H
#define ENGAGE_CAMPAIGN_H

#include "common.h"
#include "goal.h"
#include "validation.h"

ENG_BEGIN_DECLS

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
    ENG_GOAL_CUSTOM = 2   /**< Use #eng_campaign_spec.goal (required). */
} eng_goal_mode;

/** Current version of #eng_campaign_spec. */
#define ENG_CAMPAIGN_SPEC_VERSION 2

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
    /**
     * The goal when goal_mode is #ENG_GOAL_CUSTOM (NULL then fails validation at
     * `campaign.goal`); ignored, and may be NULL, otherwise. Read back: set
     * exactly when goal_mode is #ENG_GOAL_CUSTOM, pointing into the snapshot.
     */
    const eng_goal_spec *goal;
    /**
     * Version 2. The host's own control list: an uploaded group (#ENG_GROUP_UPLOADED) whose
     * members among the customers a message targets are that message's control part, the
     * other targeted customers its test part (control_percent is not applied); frozen when
     * the message is approved, as any split. For a host that randomised the customers itself
     * (an experiment it runs): give the messages the test and the control customers and name
     * the control list here. With the org's global control group on, its members stay in the
     * control part too. 0 (the default): the split by control_percent.
     */
    uint32_t control_group;
} eng_campaign_spec;

/** Static initialiser equal to what eng_campaign_spec_init() produces. */
#define ENG_CAMPAIGN_SPEC_INIT                                                                                  \
    {ENG_CAMPAIGN_SPEC_VERSION, NULL, 0, 0, NULL, ENG_CAMPAIGN_BROADCAST, ENG_OBJ_NONE, NULL, 0, NULL, 0, NULL, 0, \
     NULL, 0, 10, NULL, ENG_GOAL_DEFAULT, NULL, 0}

/**
 * Fill @p c with defaults (broadcast, no objective, 10% control, org default goal, goal NULL).
 * @param c the spec to fill.
 * @param version 1 or #ENG_CAMPAIGN_SPEC_VERSION (only that version's fields are written).
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
 * goal condition) read back as "". The goal is NULL unless goal_mode is
 * #ENG_GOAL_CUSTOM (a default goal reads back as the copy the campaign took).
 * @param c a snapshot.
 * @param[out] out receives a spec whose pointers live as long as @p c; NULL on failure.
 * @return #ENG_OK; #ENG_EMISUSE for a NULL or freed snapshot; #ENG_EINVAL for NULL @p out.
 */
ENG_API int eng_campaign_fields(const eng_campaign *c, const eng_campaign_spec **out);

/** Current version of #eng_campaign_status. */
#define ENG_CAMPAIGN_STATUS_VERSION 1

/** Facts about a campaign snapshot; pointers live as long as the snapshot. */
typedef struct eng_campaign_status {
    unsigned int version;     /**< #ENG_CAMPAIGN_STATUS_VERSION, set by the caller. */
    uint64_t id;              /**< The campaign. */
    const char *created_by;   /**< Actor who created it. */
    int goal_locked;          /**< Non-zero once a message was approved (the goal can no longer change). */
    const uint64_t *messages; /**< Ids of its messages in creation order; NULL when it has none. */
    size_t n_messages;        /**< Entries in messages. */
} eng_campaign_status;

/** Static initialiser equal to what eng_campaign_status_init() produces. */
#define ENG_CAMPAIGN_STATUS_INIT {ENG_CAMPAIGN_STATUS_VERSION, 0, NULL, 0, NULL, 0}

/**
 * Prepare @p st for eng_campaign_status_get() (zeroed, version set).
 * @param st the struct. @param version #ENG_CAMPAIGN_STATUS_VERSION.
 * @return #ENG_OK; #ENG_EINVAL (NULL); #ENG_EVERSION.
 */
ENG_API int eng_campaign_status_init(eng_campaign_status *st, unsigned int version);

/**
 * The facts of a snapshot. Only the fields of the caller's @c out->version are written.
 * @param c a snapshot.
 * @param[out] out the struct to fill; set its version first (eng_campaign_status_init()).
 * @return #ENG_OK; #ENG_EMISUSE (bad snapshot); #ENG_EINVAL (NULL @p out); #ENG_EVERSION.
 */
ENG_API int eng_campaign_status_get(const eng_campaign *c, eng_campaign_status *out);

/**
 * Release a snapshot.
 * @param c the snapshot, or NULL.
 */
ENG_API void eng_campaign_free(eng_campaign *c);

ENG_END_DECLS

#endif /* ENGAGE_CAMPAIGN_H */
