/* Which strategies this build can execute (X-Engage: src/decide/xengage_exec.c). */
#include "decide/decide.h"

const eng__strategy *eng__strategy_get(int strategy)
{
    switch (strategy) {
    case ENG_STRATEGY_NONE: return &eng__strategy_none;
    case ENG_STRATEGY_CHANNEL_PRIORITY: return &eng__strategy_priority;
    case ENG_STRATEGY_PERSONALIZATION: return &eng__strategy_personalization;
    case ENG_STRATEGY_XENGAGE: return &eng__strategy_xengage;
    default: return NULL;
    }
}
