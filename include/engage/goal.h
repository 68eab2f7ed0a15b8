/**
 * @file engage/goal.h
 * @brief Conversion goals: the event, condition, window and attribution a campaign measures.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_GOAL_H
#define ENGAGE_GOAL_H

#include "common.h"

ENG_BEGIN_DECLS

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

/** Current version of #eng_goal_spec. */
#define ENG_GOAL_SPEC_VERSION 1

/**
 * A conversion goal (event, conditions, tracking window, attribution). Specs
 * reach it through a pointer (`const eng_goal_spec *`) so that it can grow.
 */
typedef struct eng_goal_spec {
    unsigned int version;  /**< #ENG_GOAL_SPEC_VERSION. */
    const char *event;     /**< Conversion event, e.g. "transaction". Required. */
    const char *condition; /**< Rule-language condition over the event; NULL or "" for none. */
    uint32_t window_days;  /**< Event tracking period in days, 1..90 (the product offers 15, 30 and 45). */
    int start_on;          /**< An #eng_goal_start. */
    int attribution;       /**< An #eng_attribution. */
} eng_goal_spec;

/** Static initialiser equal to what eng_goal_spec_init() produces. */
#define ENG_GOAL_SPEC_INIT {ENG_GOAL_SPEC_VERSION, NULL, NULL, 30, ENG_GOAL_ON_SENT, ENG_ATTR_LAST_TOUCH}

/**
 * Fill @p g with defaults (no event, no condition, 30 days from sent, last touch).
 * @param g the goal to fill.
 * @param version #ENG_GOAL_SPEC_VERSION.
 * @return #ENG_OK; #ENG_EINVAL if @p g is NULL; #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_goal_spec_init(eng_goal_spec *g, unsigned int version);

ENG_END_DECLS

#endif /* ENGAGE_GOAL_H */
