/* The strategy interface: how dispatch asks "which channel (and which
 * content) for each of these customers?".
 *
 * Dispatch works an execution in batches of customers. For each batch it
 * calls choose() once, with the engine locked, on an array of customers (dense
 * id + the channels with a creative each one is reachable on right now), and
 * receives one choice per customer: the channels to send on (0 = none), the
 * content variant, and a trace record saying which rule decided. The choice is
 * written to the send ledger before any transport call, so a strategy need not
 * be deterministic: a resumed execution reads its decisions back instead of
 * asking again. Between batches dispatch feeds update() with what happened to
 * earlier sends (accepted, rejected, ...) so a learning strategy can adapt.
 *
 * A strategy is a table of functions found by eng__strategy_get(); adding one
 * (X-Engage lives in src/decide/xengage*.c) means writing the table and
 * listing it in registry.c. A strategy without a table is not executable:
 * an execution of it is refused with a stored reason. */
#ifndef ENG_DECIDE_H
#define ENG_DECIDE_H

#include <stdint.h>
#include "engage/model.h"
#include "core/engine_impl.h"

/* Everything a strategy may read about the execution. Borrowed for the
 * execution: valid from open() to close(). */
typedef struct eng__dctx {
    eng_engine *e;
    const char *org;
    uint64_t campaign, message;
    uint32_t occurrence;
    eng_time version;                  /* message version (approval time): part of every send key */
    const eng_message_spec *spec;      /* the approved message */
    const eng_org_settings *settings;  /* channel costs, X-Engage cost */
    uint32_t channels;                 /* bit per channel that has a creative */
    eng_time now;                      /* the scheduler's now */
    const char *actor;                 /* who runs it (reads on their behalf) */
    int dry;                           /* a dry run: the strategy must write nothing */
    /* Billing units of sending each of @p n customers on @p channel (SMS parts; 1 elsewhere), as their
     * content renders now ({{coupon_code}} and {{tiny_url}} as a preview renders them, no host
     * callback; 1 when it cannot render). Set by dispatch; NULL: 1 each. */
    int (*units)(const struct eng__dctx *ctx, int channel, const uint32_t *customers, size_t n, uint8_t *out);
    void *units_user;
} eng__dctx;

/* One customer of a batch. */
typedef struct eng__dcust {
    uint32_t id;    /* dense customer id */
    uint32_t reach; /* bit per channel of ctx->channels the customer is reachable on now */
} eng__dcust;

/* Which rule decided (stored in the ledger; the trace shows it). Values are stored: append only. */
enum eng__drule {
    ENG__RULE_UNDECIDED = 0,
    ENG__RULE_ALL = 1,         /* strategy none: every reachable channel with a creative */
    ENG__RULE_PRIORITY = 2,    /* channel priority: detail = position in the list */
    ENG__RULE_VARIANT = 3,     /* personalisation: variant (index in variant) matched */
    ENG__RULE_BASE = 4,        /* personalisation: no variant matched, the creative's own body */
    ENG__RULE_XENGAGE = 5,     /* X-Engage: detail is the strategy's own */
    ENG__RULE_UNREACHABLE = 6, /* no channel: reachable on none of the message's channels */
};

/* One decision (also the trace record). */
typedef struct eng__dchoice {
    uint32_t channels; /* bit per channel to send on; 0 = none */
    int16_t variant;   /* index into spec->variants for the body, -1 = the creative's body */
    uint8_t rule;      /* an eng__drule */
    uint8_t detail;    /* rule-specific detail (priority position, arm, ...) */
    float propensity;  /* X-Engage's explored choice: P(its channel) as logged, stored in the ledger; else 0 */
} eng__dchoice;

/* What dispatch tells a strategy between batches. */
enum eng__devent_kind {
    ENG__DEV_ACCEPTED = 0, /* the provider took it (the "sent" touch) */
    ENG__DEV_REJECTED = 1, /* refused for good */
    ENG__DEV_FAILED = 2,   /* gave up after retries / unknown outcomes */
    ENG__DEV_SKIPPED = 3,  /* not sent: unreachable at send time (e.g. unsubscribed mid-run) */
};
typedef struct eng__devent {
    uint32_t customer;
    uint8_t channel;
    uint8_t kind; /* an eng__devent_kind */
    eng_time at;
} eng__devent;

typedef struct eng__strategy {
    int strategy;     /* an eng_strategy */
    const char *name; /* "none", "priority", ... */
    /* Set up for one execution; *state may stay NULL. Optional. */
    int (*open)(const eng__dctx *ctx, void **state);
    /* Decide for n customers (n >= 1): out[i] for in[i]. Required. Must only
     * choose channels in in[i].reach. ENG_OK or a negative code (the batch is
     * not planned; the execution stops with that error and resumes later). */
    int (*choose)(void *state, const eng__dctx *ctx, const eng__dcust *in, size_t n, eng__dchoice *out);
    /* Outcomes of earlier sends of this execution. Optional; errors are logged, not fatal. */
    int (*update)(void *state, const eng__dctx *ctx, const eng__devent *ev, size_t n);
    /* Release the state. Optional. */
    void (*close)(void *state, const eng__dctx *ctx);
    /* The execution finished: called inside the storage batch that records it, so what it writes
     * (X-Engage: the org's latest model, the next execution's prior) lands with the finish. Optional. */
    int (*finish)(void *state, const eng__dctx *ctx);
} eng__strategy;

/* The table of a strategy, or NULL when it cannot be executed by this build. */
const eng__strategy *eng__strategy_get(int strategy);

/* The built-in tables (registry.c lists them). */
extern const eng__strategy eng__strategy_none;
extern const eng__strategy eng__strategy_priority;
extern const eng__strategy eng__strategy_personalization;
extern const eng__strategy eng__strategy_xengage;

/* X-Engage's account of one decision (eng_trace version 2; xengage_trace.c), per engine channel. */
typedef struct eng__xe_why {
    int known;           /* 0: the execution stored no trace records (older executions) */
    int channel;         /* the replayed choice, -1 none */
    double value;
    eng_time model_time;
    uint32_t reachable;
    unsigned segment;
    double engagement[ENG_CH_COUNT], engagement_used[ENG_CH_COUNT];
    double conversion[ENG_CH_COUNT], conversion_used[ENG_CH_COUNT];
    double delivery[ENG_CH_COUNT], cost[ENG_CH_COUNT], score[ENG_CH_COUNT];
    unsigned sent[ENG_CH_COUNT], engaged[ENG_CH_COUNT];
} eng__xe_why;
/* Replays the decision for @p customer, made in the chunk whose first customer is @p first, reachable
 * on @p reach (engine channel bits) at the decision. */
int eng__xengage_trace(eng_engine *e, uint64_t message, uint32_t occurrence, uint32_t first, uint32_t customer,
                       uint32_t reach, eng__xe_why *out);
/* Drop the checkpoints eng__xengage_trace keeps (the executor calls it when it writes a checkpoint or a
 * population snapshot). At most eng__xe_trace_cache_max executions are kept (0: none; tests). */
void eng__xengage_trace_forget(eng_engine *e);
extern size_t eng__xe_trace_cache_max;

#endif
