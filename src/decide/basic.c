/* The two rule-free strategies: none (every channel with a creative the
 * customer is reachable on) and channel priority (the first reachable channel
 * of the message's order; channels with a creative but not in the order come
 * after it, in channel order, so nobody reachable is dropped silently). */
#include "decide/decide.h"

static int none_choose(void *state, const eng__dctx *ctx, const eng__dcust *in, size_t n, eng__dchoice *out)
{
    (void)state;
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (eng__dchoice){in[i].reach, -1, in[i].reach ? ENG__RULE_ALL : ENG__RULE_UNREACHABLE, 0, 0};
    return ENG_OK;
}

const eng__strategy eng__strategy_none = {ENG_STRATEGY_NONE, "none", NULL, none_choose, NULL, NULL, NULL};

/* The order: the message's list, then any other channel with a creative. */
static int order_of(const eng__dctx *ctx, uint8_t order[ENG_MAX_CHANNELS])
{
    int n = 0;
    uint32_t seen = 0;
    const eng_message_spec *s = ctx->spec;
    for (size_t i = 0; i < s->n_channel_priority && n < ENG_MAX_CHANNELS; i++) {
        int ch = s->channel_priority[i];
        if (ch >= 0 && ch < ENG_CH_COUNT && (ctx->channels >> ch & 1u) && !(seen >> ch & 1u)) {
            order[n++] = (uint8_t)ch;
            seen |= 1u << ch;
        }
    }
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if ((ctx->channels >> ch & 1u) && !(seen >> ch & 1u))
            order[n++] = (uint8_t)ch;
    return n;
}

static int prio_choose(void *state, const eng__dctx *ctx, const eng__dcust *in, size_t n, eng__dchoice *out)
{
    (void)state;
    uint8_t order[ENG_MAX_CHANNELS];
    int k = order_of(ctx, order);
    for (size_t i = 0; i < n; i++) {
        out[i] = (eng__dchoice){0, -1, ENG__RULE_UNREACHABLE, 0, 0};
        for (int j = 0; j < k; j++)
            if (in[i].reach >> order[j] & 1u) {
                out[i] = (eng__dchoice){1u << order[j], -1, ENG__RULE_PRIORITY, (uint8_t)j, 0};
                break;
            }
    }
    return ENG_OK;
}

const eng__strategy eng__strategy_priority = {ENG_STRATEGY_CHANNEL_PRIORITY, "priority", NULL, prio_choose, NULL,
                                              NULL, NULL};
