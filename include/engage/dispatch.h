/**
 * @file engage/dispatch.h
 * @brief Executing approved messages: the scheduler, the exactly-once send
 * ledger, transport batches outside the engine lock, and credits.
 *
 * eng_run_due() executes every approved message of the actor's org whose
 * schedule has an occurrence due at @c now: a one-time message once, a
 * recurring one once per occurrence. Each occurrence is an *execution* over
 * the audience frozen at approval (its test group). An execution is worked in
 * chunks of customers; for each chunk the strategy chooses channels, the
 * choice and one ledger entry per (customer, channel) are stored *before* the
 * transport is called, and the outcome is stored after it, together with the
 * credits it costs, in one storage batch.
 *
 * Every send carries a deterministic idempotency key built from campaign,
 * message version (its approval), occurrence, customer and channel
 * (`<org>/c<campaign>/m<message>.<version>/o<occurrence>/u<customer>/<channel>`,
 * the channel as eng_channel_name() gives it); a retry
 * (after #ENG_SEND_RETRY, #ENG_SEND_UNKNOWN, a transport error or a crash
 * between the call and the stored outcome) always carries the same key, and a
 * key whose outcome is stored as final is never handed to the transport again.
 * With a transport that de-duplicates by key, every customer is therefore
 * accepted exactly once per channel; with one that does not, a crash between a
 * provider's acceptance and the stored outcome can repeat that one send (the
 * library cannot know what a provider did before it crashed).
 *
 * An execution is *finished* only when every send of every customer of the
 * audience has a final outcome (accepted, rejected, expired after bounded
 * retries, or skipped because the customer became unreachable before the send);
 * never because a batch came back empty. A message is executed when its last
 * occurrence is finished.
 *
 * eng_run_due() is safe to call again and again and from several threads:
 * threads share the work chunk by chunk, at most the transport's
 * `max_in_flight` batches are at the provider at once, and the engine stays
 * usable by other threads while they are. Progress goes to the engine's
 * progress callback (operation "dispatch.run"), which may cancel; a cancelled
 * or crashed run resumes where it stopped on the next call, from the ledger.
 */
#ifndef ENGAGE_DISPATCH_H
#define ENGAGE_DISPATCH_H

#include "common.h"
#include "transport.h"

ENG_BEGIN_DECLS

/** State of one send in the ledger. Values are stored: never renumbered. */
typedef enum eng_ledger_state {
    ENG_LEDGER_PENDING = 0,  /**< Intent stored; not tried yet, or tried and not answered before a crash. */
    ENG_LEDGER_ACCEPTED = 1, /**< Final: the provider accepted it (charged). */
    ENG_LEDGER_REJECTED = 2, /**< Final: the provider refused it for good. */
    ENG_LEDGER_RETRY = 3,    /**< Transient failure; tried again with the same key after a backoff. */
    ENG_LEDGER_UNKNOWN = 4,  /**< No answer (timeout, broken transport); tried again with the same key. */
    ENG_LEDGER_EXPIRED = 5,  /**< Final: still retry/unknown after the bounded number of attempts, or handed
                                  to the transport with no answer when the customer became unreachable (it may
                                  have arrived; it is never sent again). */
    ENG_LEDGER_SKIPPED = 6   /**< Final: never handed over, the customer was no longer reachable at send time. */
} eng_ledger_state;

/** Most attempts of one send (the first try included) before it expires. */
#define ENG_SEND_MAX_ATTEMPTS 8

/** Current version of #eng_run_options. */
#define ENG_RUN_OPTIONS_VERSION 2

/** Options of eng_run_due(). */
typedef struct eng_run_options {
    unsigned int version;  /**< #ENG_RUN_OPTIONS_VERSION. */
    uint64_t message;      /**< Only this message (0: every due message of the org). */
    uint64_t max_batches;  /**< Stop after this many transport batches (0: no limit); the rest resumes later. */
    /** Version 2. On a store several engines share (storage contract version 3,
     *  docs/scale.md): how long, in milliseconds of the engine's clock, a chunk's
     *  lease lasts without being extended; an engine that dies holding one
     *  delays that chunk by at most this much (0: 30 000). Longer than a
     *  transport batch takes, or another engine may send the chunk again
     *  (same idempotency keys) while the first is still waiting. */
    uint64_t lease_ms;
} eng_run_options;

/** Static initialiser equal to what eng_run_options_init() produces. */
#define ENG_RUN_OPTIONS_INIT {ENG_RUN_OPTIONS_VERSION, 0, 0, 0}

/**
 * Fill @p opts with defaults.
 * @param opts the options. @param version #ENG_RUN_OPTIONS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL), #ENG_EVERSION.
 */
ENG_API int eng_run_options_init(eng_run_options *opts, unsigned int version);

/** Current version of #eng_run_report. */
#define ENG_RUN_REPORT_VERSION 1

/** What one eng_run_due() call did. The caller sets @c version. */
typedef struct eng_run_report {
    unsigned int version; /**< #ENG_RUN_REPORT_VERSION, set by the caller. */
    uint64_t executions;  /**< Executions worked on. */
    uint64_t finished;    /**< Executions that finished during this call. */
    uint64_t refused;     /**< Executions refused (see eng_execution_get() for the reason). */
    uint64_t batches;     /**< Transport batches sent. */
    uint64_t sent;        /**< Envelopes handed to the transport (retries included). */
    uint64_t accepted;    /**< Sends that became accepted. */
    uint64_t rejected;    /**< Sends that became rejected. */
    uint64_t retry;       /**< Outcomes #ENG_SEND_RETRY (to be tried again). */
    uint64_t unknown;     /**< Outcomes #ENG_SEND_UNKNOWN or unanswered (to be tried again). */
    uint64_t expired;     /**< Sends that expired after #ENG_SEND_MAX_ATTEMPTS. */
    uint64_t skipped;     /**< Sends skipped: the customer was no longer reachable. */
    uint64_t pending;     /**< Sends of the executions worked on that are not final yet. */
    eng_time next_due;    /**< Earliest time a retry is due (0: none waiting). */
    int blocked;          /**< #ENG_ECREDITS when an execution waits for credits (org forbids overdraft), else 0. */
} eng_run_report;

/** Static initialiser for #eng_run_report (sets the version). */
#define ENG_RUN_REPORT_INIT {ENG_RUN_REPORT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

/**
 * Prepare @p x for eng_run_due() (zeroed, version set).
 * @param x the struct. @param version #ENG_RUN_REPORT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_run_report_init(eng_run_report *x, unsigned int version);

/**
 * Execute what is due. Needs #ENG_OP_EXECUTE; works on the messages of the
 * actor's org that are approved or executing. Starting an execution moves the
 * message to executing (audited as "start"); finishing its last occurrence
 * moves it to executed ("finish"). An approval that no longer matches the
 * content, or an X-Engage approval given less than 48 hours before the send
 * time, refuses the execution: it is recorded with its reason
 * (eng_execution_get()) and nothing is sent.
 * Transport calls happen without the engine lock. A storage error stops the
 * call with that error; what was stored stays, and the next call resumes.
 * @param engine an open engine.
 * @param actor acting user (admin).
 * @param now the scheduler's time: occurrences at or before it are due, and retry backoffs count from it.
 * @param opts options, or NULL for the defaults.
 * @param report filled when not NULL (also on failure; its version must be set).
 * @return #ENG_OK (also when executions wait for retries: see @c report->pending);
 *         #ENG_ETRANSPORT when the engine has no transport configured; #ENG_ECANCELLED;
 *         #ENG_EDENIED; #ENG_EINVAL; #ENG_EVERSION; #ENG_ERANGE for a @p now outside 1970..9999
 *         (`now`) or a lease longer than that (`opts.lease_ms`); storage errors.
 */
ENG_API int eng_run_due(eng_engine *engine, const char *actor, eng_time now, const eng_run_options *opts,
                        eng_run_report *report);

/** State of an execution. */
typedef enum eng_exec_state {
    ENG_EXEC_NONE = 0,     /**< Not started. */
    ENG_EXEC_RUNNING = 1,  /**< Started; some sends are not final yet. */
    ENG_EXEC_FINISHED = 2, /**< Every send of every customer has a final outcome. */
    ENG_EXEC_REFUSED = 3   /**< Not executed; see the reason. */
} eng_exec_state;

/** Current version of #eng_execution_info. */
#define ENG_EXECUTION_INFO_VERSION 2

/** One execution (one occurrence of a message). */
typedef struct eng_execution_info {
    unsigned int version; /**< #ENG_EXECUTION_INFO_VERSION, set by the caller. */
    int state;            /**< An #eng_exec_state. */
    eng_time due;         /**< When the occurrence was due. */
    uint64_t audience;    /**< Customers in the frozen audience's test group. */
    uint64_t planned;     /**< Customers whose channel choice is stored. */
    uint64_t sends;       /**< Sends planned (customer x channel). */
    uint64_t accepted;    /**< Final: accepted. */
    uint64_t rejected;    /**< Final: rejected. */
    uint64_t expired;     /**< Final: expired. */
    uint64_t skipped;     /**< Final: skipped at send time. */
    uint64_t unreachable; /**< Customers reachable on none of the message's channels when planned. */
    int64_t credits;      /**< Campaign credits charged. */
    char reason[256];     /**< Why it was refused, or "". */
    /* Version 2: the points awards of a message with a points incentive (#eng_points_fn). */
    uint64_t points_awards;   /**< Version 2: customers due an award (one each: a send of theirs was accepted). */
    uint64_t points_awarded;  /**< Version 2: final: awards the host accepted. */
    uint64_t points_rejected; /**< Version 2: final: awards the host refused for good. */
    uint64_t points_expired;  /**< Version 2: final: awards still unanswered after #ENG_SEND_MAX_ATTEMPTS. */
    int64_t points;           /**< Version 2: points awarded in all (accepted awards times the message's points). */
} eng_execution_info;

/** Static initialiser equal to what eng_execution_info_init() produces. */
#define ENG_EXECUTION_INFO_INIT {ENG_EXECUTION_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0, 0}

/**
 * Prepare @p x for eng_execution_get() (zeroed, version set).
 * @param x the struct. @param version #ENG_EXECUTION_INFO_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_execution_info_init(eng_execution_info *x, unsigned int version);

/**
 * Read an execution. Needs #ENG_OP_READ on the message's campaign.
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param occurrence occurrence of its schedule, from 0.
 * @param out filled (its version must be set); state #ENG_EXEC_NONE when not started.
 * @return #ENG_OK; #ENG_ENOTFOUND (no such message); #ENG_EDENIED; #ENG_EINVAL; #ENG_EVERSION; storage errors.
 */
ENG_API int eng_execution_get(eng_engine *engine, const char *actor, uint64_t message, uint32_t occurrence,
                              eng_execution_info *out);

/** Current version of #eng_send_info. */
#define ENG_SEND_INFO_VERSION 1

/** The ledger entry of one send. */
typedef struct eng_send_info {
    unsigned int version;             /**< #ENG_SEND_INFO_VERSION, set by the caller. */
    int state;                        /**< An #eng_ledger_state. */
    uint32_t attempts;                /**< Transport calls made with its key. */
    eng_time next_at;                 /**< When a retry is due (0: none). */
    char key[ENG_SEND_KEY_MAX + 1];   /**< Its idempotency key. */
} eng_send_info;

/** Static initialiser equal to what eng_send_info_init() produces. */
#define ENG_SEND_INFO_INIT {ENG_SEND_INFO_VERSION, 0, 0, 0, {0}}

/**
 * Prepare @p x for eng_send_get() (zeroed, version set).
 * @param x the struct. @param version #ENG_SEND_INFO_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_send_info_init(eng_send_info *x, unsigned int version);

/**
 * Read the ledger entry of a send. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param occurrence the occurrence. @param customer dense customer id. @param channel an #eng_channel.
 * @param out filled (its version must be set).
 * @return #ENG_OK; #ENG_ENOTFOUND (no such send planned); #ENG_EDENIED; #ENG_EINVAL; storage errors.
 */
ENG_API int eng_send_get(eng_engine *engine, const char *actor, uint64_t message, uint32_t occurrence,
                         uint32_t customer, int channel, eng_send_info *out);

/** Why a customer was or was not contacted (see eng_trace_get()). Values are stored: append only. */
typedef enum eng_trace_reason {
    ENG_TRACE_NOT_IN_AUDIENCE = 0, /**< Not in the frozen audience (not included, excluded, or unreachable on every
                                        channel of the message when it was approved). */
    ENG_TRACE_CONTROL = 1,         /**< In the control group: held back on purpose. */
    ENG_TRACE_NOT_PLANNED = 2,     /**< In the test group; the execution has not reached the customer yet. */
    ENG_TRACE_UNREACHABLE = 3,     /**< Planned, but reachable on none of the message's channels at that time. */
    ENG_TRACE_CHOSEN = 4           /**< Planned with one or more channels (see the per-channel entries). */
} eng_trace_reason;

/** Why a customer could not be reached on a channel. Values are stored: append only. */
typedef enum eng_unreach_reason {
    ENG_UNREACH_NONE = 0,        /**< Reachable. */
    ENG_UNREACH_NO_CONTACT = 1,  /**< No contact for the channel. */
    ENG_UNREACH_NO_CONSENT = 2,  /**< No consent for the channel. */
    ENG_UNREACH_OPTED_OUT = 3,   /**< Opted out (unsubscribed) of the channel. */
    ENG_UNREACH_SUPPRESSED = 4,  /**< Suppressed. */
    ENG_UNREACH_NO_COUPON = 5,   /**< The message hands out unique coupon codes and its pool had none left. */
    ENG_UNREACH_GLOBAL_CONTROL = 6, /**< In the org's global control group (eng_global_control_set()): held out of every campaign. */
    ENG_UNREACH_RENDER = 16      /**< The content could not be rendered safely (a header value with a line break). */
} eng_unreach_reason;

/** Which rule of the strategy chose the channels. Values are stored: append only. */
typedef enum eng_trace_rule {
    ENG_RULE_UNDECIDED = 0,   /**< No decision stored. */
    ENG_RULE_ALL = 1,         /**< Strategy none: every reachable channel with a creative. */
    ENG_RULE_PRIORITY = 2,    /**< Channel priority; @c detail is the position in the order. */
    ENG_RULE_VARIANT = 3,     /**< Personalisation: variant @c detail matched. */
    ENG_RULE_BASE = 4,        /**< Personalisation: no variant matched; the creative's own content. */
    ENG_RULE_XENGAGE = 5,     /**< X-Engage. */
    ENG_RULE_UNREACHABLE = 6  /**< Reachable on none of the channels. */
} eng_trace_rule;

/**
 * Set up the org's unsubscribe links. `{{unsubscribe}}` renders
 * `<landing_url>?t=<token>` (or `&t=` when the URL has a query), where the token
 * names campaign, customer, channel and org and is signed with HMAC-SHA-256
 * under @p secret. The host's landing page hands the token back to
 * eng_unsubscribe_apply(). Until this is set, a message whose content uses
 * `{{unsubscribe}}` is refused at execution. Changing the secret invalidates
 * links already sent. Needs #ENG_OP_ADMIN.
 * @param engine an open engine. @param actor acting admin.
 * @param landing_url the landing page, 1..512 bytes of `http://` or `https://` URL without spaces or line breaks.
 * @param secret the key (stored with the org's state). @param secret_len 16..256 bytes.
 * @return #ENG_OK; #ENG_EINVAL (field `landing_url` or `secret`); #ENG_EDENIED; storage errors.
 */
ENG_API int eng_unsubscribe_setup(eng_engine *engine, const char *actor, const char *landing_url, const void *secret,
                                  size_t secret_len);

/** Current version of #eng_unsubscribe_info. */
#define ENG_UNSUBSCRIBE_INFO_VERSION 1

/** What a verified unsubscribe token named. */
typedef struct eng_unsubscribe_info {
    unsigned int version; /**< #ENG_UNSUBSCRIBE_INFO_VERSION, set by the caller. */
    uint64_t campaign;    /**< The campaign whose message carried the link. */
    uint32_t customer;    /**< Dense customer id. */
    int channel;          /**< The channel unsubscribed from. */
} eng_unsubscribe_info;

/** Static initialiser equal to what eng_unsubscribe_info_init() produces. */
#define ENG_UNSUBSCRIBE_INFO_INIT {ENG_UNSUBSCRIBE_INFO_VERSION, 0, 0, 0}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_UNSUBSCRIBE_INFO_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_unsubscribe_info_init(eng_unsubscribe_info *x, unsigned int version);

/**
 * Verify an unsubscribe token for @p org and record the opt-out (the customer's
 * `optout.<channel>` becomes true, so every later and every running execution
 * skips them on that channel). Applying the same token twice is harmless.
 * @param engine an open engine. @param org the org whose landing page received the token.
 * @param token the token from the link. @param out filled when not NULL (its version must be set).
 * @return #ENG_OK; #ENG_EINVAL (malformed token); #ENG_EDENIED (forged or altered token, or a token of
 *         another org; nothing is recorded); #ENG_ENOTFOUND (unknown customer, or the org has no set-up);
 *         #ENG_EVERSION; storage errors.
 */
ENG_API int eng_unsubscribe_apply(eng_engine *engine, const char *org, const char *token,
                                  eng_unsubscribe_info *out);

/** Current version of #eng_dry_report. */
#define ENG_DRY_REPORT_VERSION 2

/** What an execution of a message would do now (eng_dry_run()). */
typedef struct eng_dry_report {
    unsigned int version;            /**< #ENG_DRY_REPORT_VERSION, set by the caller. */
    uint64_t audience;               /**< Customers in the frozen test group. */
    uint64_t control;                /**< Customers in the control group (never contacted). */
    uint64_t contacted;              /**< Test-group customers with at least one send. */
    uint64_t unreachable;            /**< Test-group customers reachable on none of the message's channels. */
    uint64_t sends[ENG_CH_COUNT];    /**< Sends per channel. */
    uint64_t segments;               /**< SMS segments in all. */
    int64_t credits;                 /**< Campaign credits the sends would cost (SMS by segments). */
    uint64_t coupons;                /**< New unique coupon codes needed: customers the message would reach who hold no
                                          code of its pool yet (0 for a common code). */
    uint64_t skipped[17];            /**< Sends or customers left out, by #eng_unreach_reason. */
    uint64_t coupons_available;      /**< Version 2: codes the pool has left (0 without a pool). An execution
                                          refuses to start when this is below @c coupons. */
} eng_dry_report;

/** Static initialiser equal to what eng_dry_report_init() produces. */
#define ENG_DRY_REPORT_INIT {.version = ENG_DRY_REPORT_VERSION}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_DRY_REPORT_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_dry_report_init(eng_dry_report *x, unsigned int version);

/**
 * Dry run: the same path as an execution — the frozen audience, the strategy,
 * reachability now, rendering — with a null transport and nothing stored. Works
 * on an approved (or executing) message. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param out filled (its version must be set).
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_ESTATE (not approved); #ENG_EDENIED; #ENG_EINVAL; #ENG_EVERSION;
 *         errors of the strategy (a personalisation rule that does not compile).
 */
ENG_API int eng_dry_run(eng_engine *engine, const char *actor, uint64_t message, eng_dry_report *out);

/** The @c customer of an envelope that is a POC copy (message.delivery.poc): not a customer. Its recipient is
 *  the POC address, its key `<org>/c<campaign>/m<message>.<version>/o<occurrence>/poc<i>/<channel>`. */
#define ENG_POC_CUSTOMER UINT32_MAX

/** A stand-in customer for eng_message_preview(): every attribute reads as missing (defaults render). */
#define ENG_PREVIEW_SAMPLE UINT32_MAX

/** Current version of #eng_preview. */
#define ENG_PREVIEW_VERSION 2

/** What a message renders to for one customer on one channel (eng_message_preview()). */
typedef struct eng_preview {
    unsigned int version;  /**< #ENG_PREVIEW_VERSION, set by the caller. */
    int unreach;           /**< An #eng_unreach_reason: 0 when the customer is reachable on the channel now; else
                                why an execution would skip them (the content is rendered all the same). */
    uint32_t segments;     /**< Billing units: SMS segments, 1 for other channels. */
    int64_t cost;          /**< Campaign credits one such send would cost (an execution's, not a test send's). */
    size_t body_len;       /**< Length of the whole rendered body (the buffer holds at most its capacity - 1). */
    char subject[512];     /**< The rendered subject or title ("" for none), cut to fit. */
    char recipient[256];   /**< The customer's contact on the channel ("" for none or the sample). */
    char sender[65];       /**< The sender id of the channel ("" for none). */
    /* Version 2: which content the customer gets, chosen as an execution would choose it now. */
    int rule;              /**< Version 2: an #eng_trace_rule: for a personalised message #ENG_RULE_VARIANT (a variant's
                                rule matched), #ENG_RULE_BASE (none did: the creative's own content) or
                                #ENG_RULE_UNREACHABLE (reachable on none of the message's channels); for the
                                sample and the other strategies #ENG_RULE_UNDECIDED. */
    int variant;           /**< Version 2: index in the message's variants of the variant the strategy chose, or -1
                                (the creative's own content). */
    int variant_channel;   /**< Version 2: the #eng_channel that variant varies, -1 for none. The body rendered is
                                the variant's when it is this channel, else the creative's own. */
    int variant_dimension; /**< Version 2: the variant's #eng_variant_dim, -1 for none. */
    char variant_rule[512]; /**< Version 2: the rule that chose the variant (as written, cut to fit), or "". */
} eng_preview;

/** Static initialiser equal to what eng_preview_init() produces. */
#define ENG_PREVIEW_INIT {.version = ENG_PREVIEW_VERSION}

/**
 * Prepare @p x for eng_message_preview() (zeroed, version set).
 * @param x the struct. @param version #ENG_PREVIEW_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_preview_init(eng_preview *x, unsigned int version);

/**
 * Render a message for one customer on one channel without sending anything:
 * no ledger entry, no credits, no coupon drawn, nothing stored. Works in any
 * state (a draft too). With a version-2 @p out and a personalised message, the
 * variant an execution would choose for the customer now (the first, in the
 * message's order, whose channel the customer is reachable on and whose rule
 * matches) is reported and, on its channel, rendered; a version-1 @p out, and
 * the sample, get the creative's own content. `{{coupon_code}}` renders the common code, or for a pool
 * `COUPON-CODE` (a preview never takes a code from a pool);
 * `{{tiny_url}}` renders the long link; `{{unsubscribe}}` the customer's signed
 * link when the org has the set-up. Needs #ENG_OP_READ.
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param customer dense customer id of the message's org, or #ENG_PREVIEW_SAMPLE.
 * @param channel an #eng_channel the message has a creative for.
 * @param body receives the rendered body, NUL-terminated, cut to @p cap - 1 bytes ("" on failure); may be
 *        NULL when @p cap is 0 (then only @c out->body_len says how long it is).
 * @param cap bytes at @p body.
 * @param out filled (its version must be set); zeroed on failure.
 * @return #ENG_OK; #ENG_ENOTFOUND (no such message or customer, or no creative for @p channel: detail
 *         `channel`); #ENG_EDENIED; #ENG_EINVAL; #ENG_EVERSION; #ENG_EMISUSE (bad engine).
 */
ENG_API int eng_message_preview(eng_engine *engine, const char *actor, uint64_t message, uint32_t customer,
                                int channel, char *body, size_t cap, eng_preview *out);

/**
 * Test send: render the message for @p customer (or #ENG_PREVIEW_SAMPLE) as
 * eng_message_preview() does with a version-2 preview (the customer's
 * personalisation variant included) and hand one envelope per test recipient to the
 * transport, outside the engine lock. Nothing is stored: test recipients are
 * not counted as contacted, no credits are charged, no coupon is drawn, and
 * the send has no ledger entry (a test send is not retried: its status is the
 * transport's answer). Each envelope's idempotency key is
 * `<org>/c<campaign>/m<message>/t<time>.<n>/r<i>/<channel>`, unique per call;
 * its @c occurrence is UINT32_MAX and @c customer the rendered one. Works in
 * any state. Needs #ENG_OP_EDIT (authors test their drafts).
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param customer whose attributes to render, or #ENG_PREVIEW_SAMPLE.
 * @param channel an #eng_channel the message has a creative for (not an ad channel).
 * @param recipients addresses for the channel, 1..100 of them, each 1..255 bytes without line breaks.
 * @param n entries in @p recipients.
 * @param status receives @p n #eng_send_status values (-1 where the transport gave no answer); all -1 on
 *        failure before the transport was called.
 * @return #ENG_OK (look at @p status); #ENG_ENOTFOUND; #ENG_EDENIED; #ENG_EINVAL (field `recipients[i]`,
 *         `channel`, `n`); #ENG_ETRANSPORT (no transport configured); #ENG_EMISUSE.
 */
ENG_API int eng_message_test_send(eng_engine *engine, const char *actor, uint64_t message, uint32_t customer,
                                  int channel, const char *const *recipients, size_t n, int *status);

/** Current version of #eng_trace. */
#define ENG_TRACE_VERSION 2

/** The decision trace of one customer in one execution. */
typedef struct eng_trace {
    unsigned int version;       /**< #ENG_TRACE_VERSION, set by the caller. */
    int reason;                 /**< An #eng_trace_reason. */
    int rule;                   /**< An #eng_trace_rule (when planned). */
    unsigned int detail;        /**< Rule detail (priority position, variant index). */
    int variant;                /**< Content variant used, or -1 for the creative's own. */
    uint32_t channels;          /**< Bit (1u << channel) per channel chosen. */
    int unreach[ENG_CH_COUNT];  /**< Per channel, an #eng_unreach_reason: for a customer reachable on none, why not
                                     on the first of the message's channels when planned; for a chosen send that
                                     was skipped, why (ENG_UNREACH_OPTED_OUT: unsubscribed mid-run). */
    int state[ENG_CH_COUNT];    /**< Per chosen channel, its #eng_ledger_state; -1 for a channel not chosen. */
    /* Version 2: why X-Engage chose this channel (rule #ENG_RULE_XENGAGE), replayed exactly from the model the
     * decision used (its starting checkpoint and the population statistics of that moment, both stored). */
    int xe_known;               /**< Version 2: 1 when the X-Engage fields below are filled (an X-Engage decision
                                     whose model is stored); 0 otherwise. */
    int xe_channel;             /**< Version 2: the channel the replayed decision picks (an #eng_channel), -1 none;
                                     equal to the one chosen (@c channels) unless the stored model was damaged. */
    int xe_explored;            /**< Version 2: 1 when the channel came from the exploration bucket (uniform over
                                     the reachable channels). */
    int xe_guard;               /**< Version 2: 1 when the priority guard rail chose (no data on any channel). */
    double xe_propensity;       /**< Version 2: probability the policy gave this channel: 1 / reachable channels for
                                     an explored choice; 0 for a Thompson choice (not computed). */
    double xe_value;            /**< Version 2: value of a conversion, in credits. */
    eng_time xe_model_time;     /**< Version 2: scheduler time of the model the decision used. */
    uint32_t xe_reachable;      /**< Version 2: bit (1u << channel) per channel the customer was reachable on. */
    unsigned int xe_segment;    /**< Version 2: the customer's segment (index of the message's include group). */
    double xe_engagement[ENG_CH_COUNT];      /**< Version 2: per reachable channel, posterior mean of engagement
                                                  (open or click) per delivered message. */
    double xe_engagement_used[ENG_CH_COUNT]; /**< Version 2: the engagement the score used (a draw when sampled,
                                                  else the mean). */
    double xe_conversion[ENG_CH_COUNT];      /**< Version 2: posterior mean of incremental conversion given
                                                  engagement. */
    double xe_conversion_used[ENG_CH_COUNT]; /**< Version 2: the conversion the score used (the Thompson draw). */
    double xe_delivery[ENG_CH_COUNT];        /**< Version 2: delivery rate of the channel. */
    double xe_cost[ENG_CH_COUNT];            /**< Version 2: cost of the customer's message, in credits (an SMS
                                                  of several parts: its parts x the channel's cost). */
    double xe_score[ENG_CH_COUNT];           /**< Version 2: value x delivery x engagement used x conversion used -
                                                  cost; the best positive score wins (unless explored). */
    unsigned int xe_sent[ENG_CH_COUNT];      /**< Version 2: the customer's delivered messages before the decision. */
    unsigned int xe_engaged[ENG_CH_COUNT];   /**< Version 2: of those, opened or clicked. */
} eng_trace;

/** Static initialiser equal to what eng_trace_init() produces. */
#define ENG_TRACE_INIT {.version = ENG_TRACE_VERSION}

/**
 * Prepare @p x for a call that fills it (zeroed, version set).
 * @param x the struct. @param version #ENG_TRACE_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_trace_init(eng_trace *x, unsigned int version);

/**
 * Why a customer was or was not contacted by an execution. Needs #ENG_OP_READ.
 * Version 2 replays an X-Engage decision from the execution's stored model: the engine reads
 * it once and keeps the models of the last two executions traced (as much memory as an
 * execution's), so a pass over an audience costs one read, not one per customer.
 * @param engine an open engine. @param actor acting user. @param message the message.
 * @param occurrence the occurrence. @param customer dense customer id.
 * @param out filled (its version must be set).
 * @return #ENG_OK; #ENG_ENOTFOUND (no such message, or the execution has not started); #ENG_EDENIED;
 *         #ENG_EINVAL; #ENG_EVERSION; storage errors.
 */
ENG_API int eng_trace_get(eng_engine *engine, const char *actor, uint64_t message, uint32_t occurrence,
                          uint32_t customer, eng_trace *out);

/** Current version of #eng_ad_manifest. */
#define ENG_AD_MANIFEST_VERSION 1

/**
 * One part of an ad audience handed to the export callback: the customers of
 * one chunk of an execution chosen for one ad channel (#ENG_CH_FACEBOOK,
 * #ENG_CH_INSTAGRAM, #ENG_CH_GOOGLE, #ENG_CH_YOUTUBE).
 */
typedef struct eng_ad_manifest {
    unsigned int version;        /**< #ENG_AD_MANIFEST_VERSION. */
    const char *idempotency_key; /**< Deterministic per (campaign, message version, occurrence, part, channel); a retry
                                      carries the same key (its list holds the same customers, less any who became
                                      unreachable meanwhile). */
    uint64_t campaign;           /**< The campaign. */
    uint64_t message;            /**< The message. */
    uint32_t occurrence;         /**< Occurrence of the message's schedule. */
    int channel;                 /**< The ad channel. */
    uint32_t part;               /**< Part number within the execution (its chunk), from 0. */
    uint64_t count;              /**< Identifiers in the list. */
    char list_sha256[65];        /**< SHA-256 (lower-case hex) of the list: each identifier followed by a line feed. */
} eng_ad_manifest;

/** Static initialiser equal to what eng_ad_manifest_init() produces. */
#define ENG_AD_MANIFEST_INIT {ENG_AD_MANIFEST_VERSION, NULL, 0, 0, 0, 0, 0, 0, {0}}

/**
 * Prepare @p x (zeroed, version set); the library fills manifests itself, this is for hosts replaying one.
 * @param x the struct. @param version #ENG_AD_MANIFEST_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_ad_manifest_init(eng_ad_manifest *x, unsigned int version);

/**
 * Export one part of an ad audience: @p hashes holds @p manifest->count
 * identifiers, each the SHA-256 (lower-case hex) of a customer's contact on
 * the channel, normalised as eng_ad_identifier_hash() does. Set @p status to
 * an #eng_send_status for the whole part (#ENG_SEND_ACCEPTED once the platform
 * has the list) and return #ENG_OK; a negative return (or @p status left
 * negative) counts as #ENG_SEND_UNKNOWN and the part is tried again with the
 * same key. Called without the engine lock.
 */
typedef int (*eng_ad_export_fn)(const eng_ad_manifest *manifest, const char *const *hashes, int *status,
                                void *user);

/** Current version of #eng_tiny_url_request. */
#define ENG_TINY_URL_REQUEST_VERSION 1

/** One link to shorten: a `{{tiny_url}}` tag of one send (see #eng_tiny_url_fn). */
typedef struct eng_tiny_url_request {
    unsigned int version;        /**< #ENG_TINY_URL_REQUEST_VERSION. */
    const char *idempotency_key; /**< The send's key: a retry of the send asks again with the same key. Handed back
                                      with a click receipt (eng_touch_append()), it records the click on that send. */
    const char *url;             /**< The link to shorten: the tag's default (`{{tiny_url | "https://..."}}`), or "". */
    uint64_t campaign;           /**< The campaign. */
    uint64_t message;            /**< The message. */
    uint32_t occurrence;         /**< Occurrence of the message's schedule. */
    uint32_t customer;           /**< Dense customer id. */
    int channel;                 /**< An #eng_channel. */
} eng_tiny_url_request;

/** Static initialiser equal to what eng_tiny_url_request_init() produces. */
#define ENG_TINY_URL_REQUEST_INIT {ENG_TINY_URL_REQUEST_VERSION, NULL, NULL, 0, 0, 0, 0, 0}

/**
 * Prepare @p x (zeroed, version set); the library fills requests itself, this is for hosts replaying one.
 * @param x the struct. @param version #ENG_TINY_URL_REQUEST_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_tiny_url_request_init(eng_tiny_url_request *x, unsigned int version);

/**
 * Shorten one link of one send: write the short link (NUL-terminated, at most
 * @p cap bytes with the NUL, no white space) to @p out and return #ENG_OK. The
 * host should give the same link for the same key (a retried send renders
 * again). Return a negative code when the shortener is unavailable: the send is
 * not handed to the transport this time and is tried again after a backoff,
 * counted as an attempt answered #ENG_SEND_RETRY (so it expires after
 * #ENG_SEND_MAX_ATTEMPTS). Called with the engine locked: it must not call back
 * into the engine (#ENG_EMISUSE). Never called by eng_dry_run(), which renders
 * the long link.
 */
typedef int (*eng_tiny_url_fn)(const eng_tiny_url_request *req, char *out, size_t cap, void *user);

/** Current version of #eng_points_award. */
#define ENG_POINTS_AWARD_VERSION 1

/**
 * Loyalty points one execution awards one customer (a message whose incentive
 * is #ENG_INCENTIVE_POINTS): once per customer per occurrence, when the first
 * send of that customer in the occurrence is accepted. Handed to the host's
 * #eng_points_fn; the library keeps a ledger entry per award, as it does per send.
 */
typedef struct eng_points_award {
    unsigned int version;        /**< #ENG_POINTS_AWARD_VERSION. */
    const char *idempotency_key; /**< `<org>/c<campaign>/m<message>.<version>/o<occurrence>/u<customer>/points`:
                                      deterministic; every attempt of the award carries the same key, so a host
                                      that de-duplicates by key awards it exactly once. */
    const char *org;             /**< The org whose customer it is. */
    uint64_t campaign;           /**< The campaign. */
    uint64_t message;            /**< The message. */
    uint32_t occurrence;         /**< Occurrence of the message's schedule. */
    uint32_t customer;           /**< Dense customer id (eng_customer_external_id() gives the external id). */
    int64_t points;              /**< Points to award (the message's incentive.points). */
    uint32_t expiry_days;        /**< The incentive's expiry in days. */
    uint32_t attempt;            /**< 1 for the first try; retries carry the same key. */
    eng_time expires_at;         /**< When the points expire: the occurrence's due time plus expiry_days (the same on
                                      every attempt). */
} eng_points_award;

/** Static initialiser equal to what eng_points_award_init() produces. */
#define ENG_POINTS_AWARD_INIT {ENG_POINTS_AWARD_VERSION, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0}

/**
 * Prepare @p x (zeroed, version set); the library fills awards itself, this is for hosts replaying one.
 * @param x the struct. @param version #ENG_POINTS_AWARD_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_points_award_init(eng_points_award *x, unsigned int version);

/**
 * Award points: @p n awards in, one #eng_send_status per award out in @p status
 * (#ENG_SEND_ACCEPTED: awarded; #ENG_SEND_REJECTED: refused for good, never
 * asked again; #ENG_SEND_RETRY or #ENG_SEND_UNKNOWN: asked again after a
 * backoff with the same key). Return #ENG_OK; a negative return, or a status
 * left negative, counts as #ENG_SEND_UNKNOWN. Called without the engine lock
 * (the host may call into the engine); the award's intent is stored before
 * the call and its outcome after, so after a crash an award is asked again
 * with the same key only if its outcome was not stored.
 */
typedef int (*eng_points_fn)(const eng_points_award *awards, size_t n, int *status, void *user);

/** Current version of #eng_dispatch_hooks. */
#define ENG_DISPATCH_HOOKS_VERSION 3

/** Host callbacks and settings of the dispatcher beyond the transport (eng_dispatch_hooks_set()). */
typedef struct eng_dispatch_hooks {
    unsigned int version;       /**< #ENG_DISPATCH_HOOKS_VERSION. */
    eng_ad_export_fn ad_export; /**< Where ad audiences go; NULL: a message with an ad creative is refused. */
    /* version 2 */
    eng_tiny_url_fn tiny_url;   /**< Version 2. The link shortener for messages whose delivery settings ask for tiny
                                     URLs; NULL: such a message that uses `{{tiny_url}}` is refused at execution. */
    /** Version 2. Per channel (index an #eng_channel), most messages per second this engine hands to the
     *  transport, across threads, batches and eng_run_due() calls; 0: no limit. Batches are split and
     *  spaced so that in any interval of @c d seconds at most `rate * d + max(1, rate / 10)` messages of
     *  the channel are handed over. Ad channels (exported, not sent) are not limited. */
    unsigned int rate_limit[ENG_CH_COUNT];
    /* version 3 */
    eng_points_fn points;       /**< Version 3. Where loyalty points go (#eng_points_fn); NULL: a message with a points
                                     incentive is refused at execution. */
} eng_dispatch_hooks;

/** Static initialiser equal to what eng_dispatch_hooks_init() produces. */
#define ENG_DISPATCH_HOOKS_INIT {ENG_DISPATCH_HOOKS_VERSION, NULL, NULL, {0}, NULL}

/**
 * Fill @p x with the version and no callbacks.
 * @param x the struct. @param version #ENG_DISPATCH_HOOKS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_dispatch_hooks_init(eng_dispatch_hooks *x, unsigned int version);

/**
 * Set the dispatcher's host callbacks for this engine (not stored: set them
 * after every eng_open(), before eng_run_due()). Customers chosen for an ad
 * channel leave through @c ad_export, never through the transport. An
 * execution of a message with an ad creative starts only when @c ad_export is
 * set; otherwise it is refused with the reason. Likewise a message whose
 * delivery settings ask for tiny URLs (`delivery.tiny_url`) and whose content
 * uses `{{tiny_url}}` starts only when @c tiny_url is set, and one with a
 * points incentive only when @c points is set. Only the fields of
 * @c hooks->version are read; the others are cleared.
 * @param engine an open engine. @param hooks the callbacks (copied), or NULL to clear them.
 * @param user passed last to every callback.
 * @return #ENG_OK; #ENG_EVERSION; #ENG_EMISUSE (bad engine).
 */
ENG_API int eng_dispatch_hooks_set(eng_engine *engine, const eng_dispatch_hooks *hooks, void *user);

/**
 * The identifier an ad export carries for a contact: normalised, then SHA-256
 * in lower-case hex. An email (it has an `@`) is trimmed of surrounding white
 * space and lower-cased; a phone number keeps its digits with the country code
 * (a leading `+` or `00` is the international prefix), for Meta
 * (#ENG_CH_FACEBOOK, #ENG_CH_INSTAGRAM) without `+`, for Google (#ENG_CH_GOOGLE,
 * #ENG_CH_YOUTUBE) as E.164 with `+`.
 * @param channel the ad channel. @param contact the contact as stored.
 * @param out receives 64 hex digits and a NUL ("" on failure). @param cap at least 65.
 * @return #ENG_OK; #ENG_EINVAL (field `channel`: not an ad channel; `contact`: neither an email nor a phone
 *         number of 7..15 digits; `out`).
 */
ENG_API int eng_ad_identifier_hash(int channel, const char *contact, char *out, size_t cap);

ENG_END_DECLS

#endif /* ENGAGE_DISPATCH_H */
