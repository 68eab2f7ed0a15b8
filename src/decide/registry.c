/* Which strategies this build can execute. X-Engage joins the list when its
 * optimizer lands (src/decide/xengage*.c); until then the model refuses to
 * approve X-Engage messages, so none is ever sent by another strategy. */
#include "decide/decide.h"

const eng__strategy *eng__strategy_get(int strategy)
{
    switch (strategy) {
    case ENG_STRATEGY_NONE: return &eng__strategy_none;
    case ENG_STRATEGY_CHANNEL_PRIORITY: return &eng__strategy_priority;
    case ENG_STRATEGY_PERSONALIZATION: return &eng__strategy_personalization;
    default: return NULL;
    }
}
