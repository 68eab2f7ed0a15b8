/**
 * @file engage/approval.h
 * @brief The approval workflow: submit, approve, reject, execute; workflow events; the frozen audience.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_APPROVAL_H
#define ENGAGE_APPROVAL_H

#include "common.h"
#include "validation.h"
#include "audience.h"

ENG_BEGIN_DECLS

/**
 * Send a draft message for approval. Runs every validator (message, campaign,
 * creatives per channel, incentive, schedule, X-Engage) and fails with all
 * failures at once. Every audience group the message names must exist
 * (`message.audience.include[i]`, `message.audience.exclude[i]`, #ENG_ENOTFOUND)
 * unless the host keeps the audiences (an audience counter is set, or the
 * engine holds no groups). X-Engage credits count only when not reserved by
 * approved messages. On success the host's event callback hears
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
 * A message can no longer be approved once its send time has passed. For an
 * X-Engage message the seed's rules are checked again on the audience as it
 * is frozen now: the org still has X-Engage, the test group still has at least
 * 100,000 recipients, and the credits for it (recipients x the org's cost) are
 * not reserved by other approved messages; approval then reserves them until
 * the message leaves approved/executing (edited, stopped, finished, deleted).
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param content_hash the hash the approver reviewed (64 hex digits from
 *        eng_message_hash()), or NULL to approve the current content.
 * @param comment approver's comment (may be NULL; at most 4096 bytes).
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND (also a group deleted since submit,
 *         `message.audience.include[i]`); #ENG_ESTATE if not awaiting approval or the content
 *         changed since @p content_hash (`message.content_hash`); #ENG_ERANGE after the send time, or for an
 *         X-Engage message approved less than 48 hours before it (`message.schedule.at`), or an X-Engage
 *         test group under 100,000 (`message.audience`); #ENG_ECREDITS (`org.credits.xengage`);
 *         #ENG_EUNSUPPORTED (`org.settings.xengage`); #ENG_ETOOBIG.
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
 *         #ENG_ESTATE when no message awaits approval; the errors of eng_message_approve()
 *         (#ENG_ERANGE, #ENG_ECREDITS, #ENG_EUNSUPPORTED, #ENG_ENOTFOUND); #ENG_ETOOBIG; storage errors.
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
 * X-Engage, given at least 48 hours before the schedule, and the org's
 * X-Engage still on); a message goes live as per its schedule, so start is
 * refused before its send time. Needs #ENG_OP_EXECUTE.
 * @param engine an open engine.
 * @param actor acting user.
 * @param id the message.
 * @param action the action.
 * @return #ENG_OK; #ENG_EDENIED; #ENG_ENOTFOUND; #ENG_ESTATE (e.g. stopping an executed message, or
 *         starting one whose approval no longer matches, `message.approval`); #ENG_ERANGE starting
 *         before the send time (`message.schedule.at`); #ENG_EUNSUPPORTED starting an X-Engage message
 *         after the org's X-Engage was turned off (`org.settings.xengage`); #ENG_EINVAL for
 *         another action.
 */
ENG_API int eng_message_execute(eng_engine *engine, const char *actor, uint64_t id, int action);

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

/** Static initialiser equal to what eng_model_event_init() produces. */
#define ENG_MODEL_EVENT_INIT {ENG_MODEL_EVENT_VERSION, 0, NULL, 0, 0, NULL, NULL}

/**
 * Fill @p x with the version and nothing else (for hosts and tests that build events).
 * @param x the struct. @param version #ENG_MODEL_EVENT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_model_event_init(eng_model_event *x, unsigned int version);

/**
 * Receives workflow events after the change is stored. Runs with the engine
 * locked; it may call back into the engine on the same thread (the one
 * callback besides the transport that may: engage/engine.h, "Callbacks"). Its return
 * value is ignored: the change is already stored.
 */
typedef void (*eng_model_event_fn)(const eng_model_event *event, void *user);

/**
 * Set the workflow event callback (NULL to remove).
 * @param engine an open engine.
 * @param fn the callback.
 * @param user passed to @p fn.
 * @return #ENG_OK; #ENG_EMISUSE for a bad engine.
 */
ENG_API int eng_model_set_event_callback(eng_engine *engine, eng_model_event_fn fn, void *user);

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

ENG_END_DECLS

#endif /* ENGAGE_APPROVAL_H */
