/**
 * @file engage/message.h
 * @brief Messages: creatives, incentive, schedule, delivery, the lifecycle table, and read-only snapshots.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_MESSAGE_H
#define ENGAGE_MESSAGE_H

#include "common.h"
#include "validation.h"

ENG_BEGIN_DECLS

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

/** Current version of #eng_incentive. */
#define ENG_INCENTIVE_VERSION 1

/** The incentive of a message (#eng_message_spec.incentive). */
typedef struct eng_incentive {
    unsigned int version;     /**< #ENG_INCENTIVE_VERSION. */
    int kind;                 /**< An #eng_incentive_kind. */
    const char *offer_id;     /**< The claimed offer of the catalogue (engage/offer.h; required for coupons). */
    int coupon_source;        /**< An #eng_coupon_source: copied from the claimed offer (leave it unset). */
    const char *coupon_code;  /**< The common code (#ENG_COUPON_COMMON): copied from the claimed offer. */
    const char *coupon_pool;  /**< The pool id (#ENG_COUPON_UPLOADED, #ENG_COUPON_GENERATED): copied from the claimed offer. */
    int64_t points;           /**< Points allocated per customer (#ENG_INCENTIVE_POINTS), 1..1e9. */
    uint32_t points_expiry_days; /**< Points expire after this many days, 1..3650. */
} eng_incentive;

/** Static initialiser equal to what eng_incentive_init() produces. */
#define ENG_INCENTIVE_INIT {ENG_INCENTIVE_VERSION, ENG_INCENTIVE_NONE, NULL, ENG_COUPON_COMMON, NULL, NULL, 0, 0}

/**
 * Fill @p in with defaults (no incentive).
 * @param in the incentive to fill.
 * @param version #ENG_INCENTIVE_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p in is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_incentive_init(eng_incentive *in, unsigned int version);

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

/** Current version of #eng_schedule. */
#define ENG_SCHEDULE_VERSION 1

/** When a message is sent (#eng_message_spec.schedule). */
typedef struct eng_schedule {
    unsigned int version; /**< #ENG_SCHEDULE_VERSION. */
    int kind;       /**< An #eng_schedule_kind. */
    eng_time at;    /**< The (first) occurrence. */
    uint32_t every; /**< Recurrence interval, 1..1000 units. */
    int unit;       /**< An #eng_schedule_unit. */
    eng_time until; /**< Last possible occurrence of a recurring schedule. */
} eng_schedule;

/** Static initialiser equal to what eng_schedule_init() produces. */
#define ENG_SCHEDULE_INIT {ENG_SCHEDULE_VERSION, ENG_SCHEDULE_NONE, 0, 0, ENG_EVERY_HOURS, 0}

/**
 * Fill @p s with defaults (not scheduled).
 * @param s the schedule to fill.
 * @param version #ENG_SCHEDULE_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p s is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_schedule_init(eng_schedule *s, unsigned int version);

/** A sender id for one channel. */
typedef struct eng_sender {
    int channel;       /**< An #eng_channel. */
    const char *id;    /**< Sender id (no line breaks, 1..64 bytes). */
} eng_sender;

/** Current version of #eng_delivery. */
#define ENG_DELIVERY_VERSION 1

/** Delivery settings (#eng_message_spec.delivery). */
typedef struct eng_delivery {
    unsigned int version;      /**< #ENG_DELIVERY_VERSION. */
    const eng_sender *senders; /**< Sender ids, at most one per channel. */
    size_t n_senders;          /**< Entries in senders. */
    const char *const *poc;    /**< Org POC recipients who also get the message: email addresses or phone numbers
                                    (at most 100); each execution sends each one copy per fitting creative channel,
                                    rendered with defaults, never counted as contacted (docs/dispatch.md). */
    size_t n_poc;              /**< Entries in poc. */
    int tiny_url;              /**< Non-zero: shorten links. */
} eng_delivery;

/** Static initialiser equal to what eng_delivery_init() produces. */
#define ENG_DELIVERY_INIT {ENG_DELIVERY_VERSION, NULL, 0, NULL, 0, 0}

/**
 * Fill @p d with defaults (no sender ids, no POC recipients, links as written).
 * @param d the settings to fill.
 * @param version #ENG_DELIVERY_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p d is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_delivery_init(eng_delivery *d, unsigned int version);

/** Current version of #eng_xengage_options. */
#define ENG_XENGAGE_OPTIONS_VERSION 2

/**
 * X-Engage settings of a message (#ENG_STRATEGY_XENGAGE; docs/xengage.md).
 */
typedef struct eng_xengage_options {
    unsigned int version; /**< #ENG_XENGAGE_OPTIONS_VERSION. */
    int64_t credit_cap;   /**< Most credits the sends of one execution may cost, each send priced at its channel's
                               cost per message (eng_org_settings.channel_cost); within the cap X-Engage spends
                               where the expected value per credit is highest. 0: no cap. */
    double credits_per_unit; /**< Version 2: credits a unit of the org's currency is worth. X-Engage weighs the value
                                  of a conversion (the customers' transaction amounts, in currency) against the
                                  channels' costs (in credits) at this rate: an org whose credit is a hundredth of
                                  its currency says 100. 0: 1 (a credit is a unit of currency). */
} eng_xengage_options;

/** Static initialiser equal to what eng_xengage_options_init() produces. */
#define ENG_XENGAGE_OPTIONS_INIT {ENG_XENGAGE_OPTIONS_VERSION, 0, 0.0}

/**
 * Fill @p x with defaults (no credit cap, a credit worth a unit of currency).
 * @param x the settings to fill.
 * @param version #ENG_XENGAGE_OPTIONS_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p x is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_xengage_options_init(eng_xengage_options *x, unsigned int version);

/** Current version of #eng_message_spec. */
#define ENG_MESSAGE_SPEC_VERSION 2

/**
 * The editable fields of a message.
 *
 * The incentive, schedule and delivery settings are reached through pointers so
 * that each can grow on its own. NULL stands for the defaults of its INIT:
 * no incentive, not scheduled (a draft may have none; submission needs one),
 * no sender ids, no POC recipients and no tiny URLs; no X-Engage credit cap.
 * The spec eng_message_fields() returns has all four set (never NULL), pointing
 * into the snapshot.
 */
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
    const eng_incentive *incentive; /**< The incentive, or NULL for none. */
    const eng_schedule *schedule;   /**< The schedule, or NULL for none yet (#ENG_SCHEDULE_NONE). */
    const eng_delivery *delivery;   /**< Delivery settings, or NULL for the defaults. */
    /* Version 2. */
    const eng_xengage_options *xengage; /**< Version 2: X-Engage settings, or NULL for the defaults (no credit cap). */
} eng_message_spec;

/** Static initialiser equal to what eng_message_spec_init() produces. */
#define ENG_MESSAGE_SPEC_INIT                                                                                    \
    {ENG_MESSAGE_SPEC_VERSION, NULL, ENG_MESSAGE_BROADCAST, ENG_STRATEGY_NONE, NULL, 0, NULL, 0, NULL, 0, NULL, 0, \
     NULL, 0, NULL, NULL, NULL, NULL}

/**
 * Fill @p m with defaults (broadcast, no strategy, nothing else; incentive, schedule and delivery NULL).
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
 * "", except a creative's subject, which stays NULL. The incentive, schedule and
 * delivery pointers are never NULL (a part given as NULL reads back as its
 * defaults, at the current version); like every pointer of the spec they point
 * into the snapshot and live until eng_message_free().
 * @param m a snapshot.
 * @param[out] out receives a spec whose pointers live as long as @p m; NULL on failure.
 * @return #ENG_OK; #ENG_EMISUSE for a NULL or freed snapshot; #ENG_EINVAL for NULL @p out.
 */
ENG_API int eng_message_fields(const eng_message *m, const eng_message_spec **out);

/** Current version of #eng_message_status. */
#define ENG_MESSAGE_STATUS_VERSION 1

/** Workflow facts of a message snapshot; strings live as long as the snapshot. */
typedef struct eng_message_status {
    unsigned int version;     /**< #ENG_MESSAGE_STATUS_VERSION, set by the caller. */
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

/** Static initialiser equal to what eng_message_status_init() produces. */
#define ENG_MESSAGE_STATUS_INIT {ENG_MESSAGE_STATUS_VERSION, 0, 0, 0, NULL, NULL, 0, NULL, 0, NULL, NULL, NULL}

/**
 * Prepare @p st for eng_message_status_get() (zeroed, version set).
 * @param st the struct. @param version #ENG_MESSAGE_STATUS_VERSION.
 * @return #ENG_OK; #ENG_EINVAL (NULL); #ENG_EVERSION.
 */
ENG_API int eng_message_status_init(eng_message_status *st, unsigned int version);

/**
 * The workflow facts of a snapshot, among them the content hash (SHA-256 over
 * the message and its campaign, 64 lower-case hex digits) an approver reviews.
 * Only the fields of the caller's @c out->version are written.
 * @param m a snapshot.
 * @param[out] out the struct to fill; set its version first (eng_message_status_init()).
 * @return #ENG_OK; #ENG_EMISUSE (bad snapshot); #ENG_EINVAL (NULL @p out); #ENG_EVERSION.
 */
ENG_API int eng_message_status_get(const eng_message *m, eng_message_status *out);

/**
 * Release a snapshot.
 * @param m the snapshot, or NULL.
 */
ENG_API void eng_message_free(eng_message *m);

ENG_END_DECLS

#endif /* ENGAGE_MESSAGE_H */
