/**
 * @file engage/measure.h
 * @brief Measurement: conversion attribution and campaign reports (hit rate,
 * responder sales, control group, incremental sales with confidence).
 *
 * Attribution is a pure function of stored events: the touch log (one row per
 * message status of one customer) and the transactions, both given as column
 * arrays. Recomputing with another model, window or starting status is another
 * call on the same columns; nothing is re-ingested. docs/attribution.md gives
 * the definitions with a worked example.
 *
 * Money is exact: amounts are scaled integers (#ENG_RT_DECIMAL units), shares
 * are kept as exact fractions and rounded once, half-even, to the currency's
 * places when the report is built.
 *
 * Threads: eng_measure_campaign() may run on several threads at once over
 * the same columns; an #eng_report belongs to one thread at a time.
 */
#ifndef ENGAGE_MEASURE_H
#define ENGAGE_MEASURE_H

#include "common.h"
#include "rules.h"
#include "model.h" /* eng_goal_spec, ENG_MAX_CHANNELS */
#include "events.h" /* eng_touch_status */

ENG_BEGIN_DECLS

/* Statuses in the touch log: #eng_touch_status in engage/events.h. */

/** Current version of #eng_touch_columns. */
#define ENG_TOUCH_COLUMNS_VERSION 2

/**
 * The touch log as columns, @c n rows each. Customers are dense ids below
 * #eng_measure_spec.n_customers. Row order does not matter; a repeated
 * (customer, message, occurrence, channel, status) counts once, at its earliest time: each
 * occurrence of a recurring message is a sending of its own (counted, charged, opening goal
 * windows), as in eng_campaign_report().
 */
typedef struct eng_touch_columns {
    unsigned int version;    /**< #ENG_TOUCH_COLUMNS_VERSION. */
    size_t n;                /**< Number of rows. */
    const uint32_t *customer;/**< Dense customer id. */
    const uint32_t *message; /**< Message id (touches of other campaigns' messages are skipped). */
    const uint8_t *channel;  /**< An #eng_channel, below #ENG_MAX_CHANNELS. */
    const uint8_t *status;   /**< An #eng_touch_status. */
    const eng_time *time;    /**< When the status happened. */
    /**
     * Version 2. Per row, the occurrence of the message's schedule
     * (#eng_touch_row.occurrence; 0 for a one-time message), or NULL: every row
     * occurrence 0 (what a version 1 caller gets).
     */
    const uint32_t *occurrence;
} eng_touch_columns;

/** Static initialiser for #eng_touch_columns. */
#define ENG_TOUCH_COLUMNS_INIT {ENG_TOUCH_COLUMNS_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL}

/**
 * Fill @p x with what ENG_TOUCH_COLUMNS_INIT gives.
 * @param x the struct. @param version 1 or #ENG_TOUCH_COLUMNS_VERSION (only that version's fields are written).
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_touch_columns_init(eng_touch_columns *x, unsigned int version);

/** Current version of #eng_txn_columns. */
#define ENG_TXN_COLUMNS_VERSION 1

/**
 * Transactions as columns, @c n rows each. The goal condition is evaluated
 * over @c columns, one per field of @c fields (the event schema: amount,
 * store, items, time, custom fields and any customer attributes the host
 * joins on); columns the condition does not use may be left zeroed.
 */
typedef struct eng_txn_columns {
    unsigned int version;           /**< #ENG_TXN_COLUMNS_VERSION. */
    size_t n;                       /**< Number of rows. */
    const uint32_t *customer;       /**< Dense customer id. */
    const eng_time *time;           /**< When the transaction happened. */
    const int64_t *amount;          /**< Amount in units of 10^-amount_scale. */
    int amount_scale;               /**< Decimal places of @c amount, 0..#ENG_RULE_MAX_SCALE. */
    const eng_rule_field *fields;   /**< Event schema of the goal condition (may be NULL with no condition). */
    size_t nfields;                 /**< Number of fields. */
    const eng_rule_column *columns; /**< One column per field, in schema order. */
} eng_txn_columns;

/** Static initialiser for #eng_txn_columns. */
#define ENG_TXN_COLUMNS_INIT {ENG_TXN_COLUMNS_VERSION, 0, NULL, NULL, NULL, 0, NULL, 0, NULL}

/**
 * Fill @p x with what ENG_TXN_COLUMNS_INIT gives.
 * @param x the struct. @param version #ENG_TXN_COLUMNS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_txn_columns_init(eng_txn_columns *x, unsigned int version);

/** Current version of #eng_measure_spec. */
#define ENG_MEASURE_SPEC_VERSION 1

/** What to measure: one campaign, its goal, its control group, its money. */
typedef struct eng_measure_spec {
    unsigned int version;        /**< #ENG_MEASURE_SPEC_VERSION. */
    uint32_t n_customers;        /**< Customer ids are below this. */
    const uint32_t *messages;    /**< The campaign's message ids (at most 256, distinct). */
    size_t n_messages;           /**< Entries in messages. */
    /**
     * When each message went to the test group (control windows start
     * there), or NULL: the earliest sent touch of each of the message's
     * occurrences (a window each).
     */
    const eng_time *message_sent_at;
    eng_time start;              /**< Campaign start. */
    eng_time end;                /**< Campaign end (the responder window without a goal). */
    int has_goal;                /**< Non-zero: @c goal applies; zero: the seed's hit-rate definition. */
    /**
     * The conversion goal (condition over the event schema): required when
     * has_goal is set (NULL gives #ENG_EINVAL, `spec.goal`), ignored otherwise.
     * Read during the call only.
     */
    const eng_goal_spec *goal;
    eng_time half_life;          /**< Time-decay half-life; 0: 7 days. */
    const uint32_t *control;     /**< Control customers (the campaign's split or the global control group). */
    size_t n_control;            /**< Entries in control. */
    const int64_t *channel_cost; /**< Credits per sent message by channel (#ENG_MAX_CHANNELS entries), or NULL: 0. */
    int currency_places;         /**< Decimal places of the currency, 0..4 (default 2). */
} eng_measure_spec;

/** Static initialiser equal to what eng_measure_spec_init() produces. */
#define ENG_MEASURE_SPEC_INIT                                                                             \
    {ENG_MEASURE_SPEC_VERSION, 0, NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, 0, NULL, 2}

/**
 * Fill @p s with defaults (no goal, goal NULL, 2 places).
 * @param s the spec. @param version #ENG_MEASURE_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_measure_spec_init(eng_measure_spec *s, unsigned int version);

/** An attribution result and its reports. Free with eng_report_free(). */
typedef struct eng_report eng_report;

/**
 * Attribute the transactions to the campaign's touches and build its report.
 *
 * With a goal, a transaction qualifies when the goal condition holds for it;
 * its eligible touches are the customer's touches from the campaign's
 * messages whose starting status happened at or before the transaction and
 * no more than the tracking period before it; the attribution model splits
 * the conversion and its amount among them. A control customer is a responder
 * with a qualifying transaction within the tracking period from when a message
 * went to the test group. Without a goal, a responder is a contacted customer
 * who transacted between their first touch and the campaign end (control:
 * between the first send and the end).
 *
 * @param engine the engine (allocator, rule compiler).
 * @param touches the touch log.
 * @param txns the transactions.
 * @param spec what to measure.
 * @param[out] out the report (NULL on failure).
 * @return #ENG_OK; #ENG_EINVAL (NULL or inconsistent columns, a customer id at
 *         or past n_customers, detail naming the column and row); #ENG_ERANGE
 *         (tracking period outside 1..90 days, places outside 0..4; a money
 *         figure past int64, detail `report.<scope>.<figure>`);
 *         #ENG_ETOOBIG (over 256 messages); #ENG_EVERSION; #ENG_EPARSE /
 *         #ENG_ETYPE (goal condition, detail line:column);
 *         #ENG_EMISUSE; #ENG_ENOMEM.
 */
ENG_API int eng_measure_campaign(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                                 const eng_measure_spec *spec, eng_report **out);

/** Which definition of responder a report used. */
typedef enum eng_responder_def {
    ENG_RESPONDER_HIT_RATE = 0, /**< No goal: transacted between first touch and campaign end. */
    ENG_RESPONDER_GOAL = 1      /**< At least one attributed conversion of the goal. */
} eng_responder_def;

/** Current version of #eng_report_figures. */
#define ENG_REPORT_FIGURES_VERSION 1

/**
 * The figures of a report, for the whole campaign, one channel or one
 * message. Money is in minor units of the currency (10^-places).
 * Figures that cannot be computed (empty control, no responders) have their
 * `*_known` flag at 0 and their value at 0.
 */
typedef struct eng_report_figures {
    unsigned int version;        /**< #ENG_REPORT_FIGURES_VERSION. */
    int responder_def;           /**< An #eng_responder_def. */
    int currency_places;         /**< Decimal places of the money figures. */
    uint64_t contacted;          /**< Customers with a sent touch. */
    /**
     * Messages sent: each (customer, message, occurrence, channel) once, so every occurrence
     * of a recurring message counts (and opens attribution windows of its own; credits_spent
     * follows sent). docs/attribution.md, "Recurring messages: every occurrence a sending".
     */
    uint64_t sent;
    uint64_t delivered;          /**< Messages delivered. */
    uint64_t not_delivered;      /**< Messages that failed or bounced. */
    uint64_t opened;             /**< Messages opened. */
    uint64_t clicked;            /**< Messages clicked. */
    uint64_t unsubscribed;       /**< Unsubscribes. */
    uint64_t responders;         /**< Responders (see responder_def; per message/channel: credited ones). */
    uint64_t conversions;        /**< Attributed conversions (goal) or responder transactions. */
    double hit_rate;             /**< 100 × responders / contacted (0 with nobody contacted). */
    int64_t responder_sales;     /**< Sales of responders (per message/channel: the attributed share). */
    int spend_per_responder_known; /**< Non-zero when there are responders. */
    int64_t spend_per_responder; /**< responder_sales / responders. */
    int64_t credits_spent;       /**< Sent messages × the channel's cost. */
    uint64_t control_contacted;  /**< Control customers. */
    uint64_t control_responders; /**< Control responders. */
    int control_known;           /**< Non-zero when the control group is not empty. */
    double control_hit_rate;     /**< 100 × control responders / control contacted. */
    int lift_known;              /**< Non-zero when both groups are non-empty. */
    double lift;                 /**< hit_rate − control_hit_rate, percentage points. */
    double lift_ci_low;          /**< 95 % confidence interval of the lift (unpooled normal). */
    double lift_ci_high;         /**< Upper end of the interval. */
    double p_value;              /**< Two-sided p-value of the lift (pooled two-proportion z-test). */
    int incremental_known;       /**< Non-zero when lift and spend per responder are known. */
    /** (hit rate − control hit rate) / 100 × contacted × spend per responder, as the seed writes it. */
    int64_t incremental_sales;
} eng_report_figures;

/** Static initialiser (sets the version). */
#define ENG_REPORT_FIGURES_INIT {.version = ENG_REPORT_FIGURES_VERSION}

/**
 * Fill @p x with what ENG_REPORT_FIGURES_INIT gives.
 * @param x the struct. @param version #ENG_REPORT_FIGURES_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_report_figures_init(eng_report_figures *x, unsigned int version);

/**
 * The campaign's figures.
 * @param r a report. @param out receives them; set out->version first.
 * @return #ENG_OK; #ENG_EMISUSE (NULL or freed report); #ENG_EINVAL; #ENG_EVERSION.
 */
ENG_API int eng_report_total(const eng_report *r, eng_report_figures *out);

/**
 * The figures of one channel (touches on it; control figures are the campaign's).
 * @param r a report. @param channel an #eng_channel. @param out receives them.
 * @return #ENG_OK; #ENG_EMISUSE (NULL or freed report); #ENG_EINVAL; #ENG_ERANGE for a channel past #ENG_MAX_CHANNELS; #ENG_EVERSION.
 */
ENG_API int eng_report_channel(const eng_report *r, int channel, eng_report_figures *out);

/**
 * The figures of the campaign's i-th message (in #eng_measure_spec order; its
 * control window starts when that message went out).
 * @param r a report. @param i index below the message count. @param[out] message receives its id (may be NULL).
 * @param[out] out receives them.
 * @return #ENG_OK; #ENG_EMISUSE (NULL or freed report); #ENG_EINVAL; #ENG_ERANGE; #ENG_EVERSION.
 */
ENG_API int eng_report_message(const eng_report *r, size_t i, uint32_t *message, eng_report_figures *out);

/**
 * Number of messages in a report.
 * @param r a report (NULL: 0). @return the count.
 */
ENG_API size_t eng_report_message_count(const eng_report *r);

/** Export formats. */
typedef enum eng_report_format {
    ENG_REPORT_JSON = 0, /**< One JSON object: total, channels (those with touches), messages. */
    ENG_REPORT_CSV = 1   /**< RFC 4180 with a header; one row per scope (total, channel:&lt;n&gt;, message:&lt;id&gt;). */
} eng_report_format;

/**
 * Export a report. Money is printed with the currency's places ("1234.50");
 * unknown figures are `null` in JSON and empty in CSV.
 * @param r a report. @param format an #eng_report_format.
 * @param[out] text receives NUL-terminated text; free with eng_free() on the report's engine.
 * @param[out] len receives its length (may be NULL).
 * @return #ENG_OK; #ENG_EMISUSE (NULL or freed report); #ENG_EINVAL; #ENG_ENOMEM.
 */
ENG_API int eng_report_export(const eng_report *r, int format, char **text, size_t *len);

/**
 * Release a report.
 * @param r the report, or NULL.
 */
ENG_API void eng_report_free(eng_report *r);

/* ------------------------------------------------------------ engine-level campaign report */

/** Current version of #eng_campaign_report_options. */
#define ENG_CAMPAIGN_REPORT_OPTIONS_VERSION 2

/** Most parts #eng_campaign_report_options.threads may ask for. */
#define ENG_CAMPAIGN_REPORT_THREADS_MAX 64

/** Options of eng_campaign_report(). */
typedef struct eng_campaign_report_options {
    unsigned int version;   /**< #ENG_CAMPAIGN_REPORT_OPTIONS_VERSION. */
    eng_time half_life;     /**< Time-decay half-life; 0: 7 days. */
    int currency_places;    /**< Decimal places of the currency, 0..4. Default 2. */
    /** Credits one unit of currency is worth, for the net values of the off-policy estimates. Default 1. */
    double credits_per_unit;
    /**
     * Version 2. Parts the attribution run is cut into, the calling thread being
     * one: the pass over the touch log by ranges of rows, the walk by ranges of
     * customers, each other part on a thread the call starts and joins. 0 or 1:
     * the calling thread only (the default, and what version 1 callers get).
     * At most #ENG_CAMPAIGN_REPORT_THREADS_MAX; the call starts no more threads
     * than #eng_config.threads allows beside the caller's (none when it is 0) and
     * uses at most 8 parts, fewer for a small log. The report is identical, byte
     * for byte, whatever the number.
     */
    unsigned int threads;
} eng_campaign_report_options;

/** Static initialiser equal to what eng_campaign_report_options_init() produces. */
#define ENG_CAMPAIGN_REPORT_OPTIONS_INIT {ENG_CAMPAIGN_REPORT_OPTIONS_VERSION, 0, 2, 1.0, 1}

/**
 * Fill @p x with the defaults.
 * @param x the options. @param version 1 or #ENG_CAMPAIGN_REPORT_OPTIONS_VERSION (only that version's fields are written).
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION.
 */
ENG_API int eng_campaign_report_options_init(eng_campaign_report_options *x, unsigned int version);

/**
 * The report of a campaign from what the engine stores: the campaign's goal
 * (or the hit-rate definition without one), start and end, the control groups
 * frozen when its messages were approved (their union), the touch log of its
 * messages and the org's transactions (goal conditions may use the
 * transaction fields `amount`, `store`, `items`, `time` and the org's custom
 * fields, the schema the goal was checked against when it was saved, and the
 * customer's attributes, joined on), and the org's channel costs. Same
 * figures as eng_measure_campaign(). For an X-Engage message it also holds
 * the off-policy estimates (eng_report_ope()).
 * @param engine an open engine. @param actor acting user (#ENG_OP_READ on the campaign).
 * @param campaign the campaign. @param opts options, or NULL for the defaults.
 * @param out receives the report (free with eng_report_free()); NULL on failure.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND (no such campaign); #ENG_EINVAL;
 *         #ENG_EVERSION; #ENG_ERANGE (bad option, detail `opts.*`; a money figure past int64,
 *         detail `report.<scope>.<figure>`); rule errors of the goal condition; storage errors.
 */
ENG_API int eng_campaign_report(eng_engine *engine, const char *actor, uint64_t campaign,
                                const eng_campaign_report_options *opts, eng_report **out);

/** Policies whose value on an X-Engage campaign eng_report_ope() estimates. */
typedef enum eng_ope_policy {
    ENG_OPE_XENGAGE = 0,  /**< X-Engage itself, as it ran (on-policy mean over the test group). */
    ENG_OPE_PRIORITY = 1, /**< The first reachable channel of the message's priority order. */
    ENG_OPE_SEND_ALL = 2, /**< Every reachable channel: never estimable from single-channel logs (known = 0). */
    ENG_OPE_GREEDY = 3    /**< Each customer's best engagement ratio in earlier campaigns (3+ sends on 2+
                               channels), else priority. */
} eng_ope_policy;

/** Current version of #eng_ope_estimate. */
#define ENG_OPE_ESTIMATE_VERSION 1

/**
 * Incremental net value per test-group customer of a policy, in credits:
 * revenue in the goal's tracking period after the decision times
 * credits_per_unit, minus the cost of the message, minus the control
 * group's mean revenue. IPW and doubly robust from X-Engage's exploration
 * bucket (logged propensities), each with a 95 % interval.
 */
typedef struct eng_ope_estimate {
    unsigned int version; /**< #ENG_OPE_ESTIMATE_VERSION, set by the caller. */
    int known;            /**< Non-zero when the figures are estimated. */
    uint64_t message;     /**< The X-Engage message they are about. */
    uint64_t rows;        /**< Decisions used (exploration bucket; the test group for #ENG_OPE_XENGAGE). */
    double ipw;           /**< Inverse-propensity estimate (the plain mean for #ENG_OPE_XENGAGE). */
    double ipw_low;       /**< Its 95 % interval, low end. */
    double ipw_high;      /**< High end. */
    double dr;            /**< Doubly robust estimate (equal to ipw for #ENG_OPE_XENGAGE). */
    double dr_low;        /**< Its 95 % interval, low end. */
    double dr_high;       /**< High end. */
} eng_ope_estimate;

/** Static initialiser equal to what eng_ope_estimate_init() produces. */
#define ENG_OPE_ESTIMATE_INIT {.version = ENG_OPE_ESTIMATE_VERSION}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_OPE_ESTIMATE_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION.
 */
ENG_API int eng_ope_estimate_init(eng_ope_estimate *x, unsigned int version);

/**
 * The off-policy estimate of @p policy on the campaign's (first) X-Engage
 * message; known = 0 when the campaign has none or for #ENG_OPE_SEND_ALL.
 * @param r a report of eng_campaign_report(). @param policy an #eng_ope_policy.
 * @param out filled (its version must be set).
 * @return #ENG_OK; #ENG_EMISUSE (NULL or freed report); #ENG_EINVAL; #ENG_ERANGE (unknown policy); #ENG_EVERSION.
 */
ENG_API int eng_report_ope(const eng_report *r, int policy, eng_ope_estimate *out);

/** Periods of the org dashboard, ending now. */
typedef enum eng_org_period {
    ENG_PERIOD_7_DAYS = 0,  /**< The last 7 days. */
    ENG_PERIOD_1_MONTH = 1, /**< The last calendar month (same day of the month, UTC; clamped to its length). */
    ENG_PERIOD_3_MONTHS = 2,/**< The last 3 calendar months. */
    ENG_PERIOD_6_MONTHS = 3 /**< The last 6 calendar months. */
} eng_org_period;

/** Current version of #eng_org_figures. */
#define ENG_ORG_FIGURES_VERSION 1

/**
 * The org dashboard's headline figures over one period: each campaign
 * measured with its own spec on the touches and transactions of the period,
 * then summed (a customer contacted by two campaigns counts twice).
 */
typedef struct eng_org_figures {
    unsigned int version;     /**< #ENG_ORG_FIGURES_VERSION. */
    int currency_places;      /**< Decimal places of the money figures (the first campaign's). */
    eng_time from;            /**< Start of the period (included). */
    eng_time to;              /**< End of the period (now, included). */
    uint64_t campaigns;       /**< Campaigns with a sent message in the period. */
    uint64_t contacted;       /**< Contacted customers, summed over campaigns. */
    uint64_t sent;            /**< Messages sent. */
    uint64_t delivered;       /**< Messages delivered. */
    double delivery_rate;     /**< 100 × delivered / sent (0 when nothing was sent). */
    uint64_t responders;      /**< Responders, summed over campaigns. */
    double hit_rate;          /**< 100 × responders / contacted (0 with nobody contacted). */
    int64_t responder_sales;  /**< Responder sales. */
    int incremental_known;    /**< Non-zero when some campaign's incremental sales are known. */
    int64_t incremental_sales;/**< Sum of the known incremental sales. */
    int64_t credits_spent;    /**< Credits spent in the period. */
    int64_t credits_remaining;/**< As given by the caller (eng_credits_balance()); negative when overdrawn. */
} eng_org_figures;

/** Static initialiser (sets the version). */
#define ENG_ORG_FIGURES_INIT {.version = ENG_ORG_FIGURES_VERSION}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_ORG_FIGURES_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_org_figures_init(eng_org_figures *x, unsigned int version);

/**
 * The org dashboard over one period ending at @p now.
 * @param engine the engine.
 * @param touches the org's touch log. @param txns the org's transactions.
 * @param campaigns one spec per campaign (as for eng_measure_campaign()). @param n how many.
 * @param now the end of the period. @param period an #eng_org_period.
 * @param credits_remaining the org's campaign credit balance, copied to the figures.
 * @param[out] out the figures; set out->version first (zeroed on failure, version kept).
 * @return #ENG_OK; #ENG_EINVAL (bad period, NULL arguments); #ENG_EVERSION; any error of
 *         eng_measure_campaign() (detail prefixed by the campaign's index).
 */
ENG_API int eng_measure_org(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                            const eng_measure_spec *campaigns, size_t n, eng_time now, int period,
                            int64_t credits_remaining, eng_org_figures *out);

ENG_END_DECLS

#endif
