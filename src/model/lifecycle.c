/* The message lifecycle as one table, and the execution actions.
 *
 *   draft --submit--> awaiting --approve--> approved --start--> executing --finish--> executed
 *                         \--reject--> rejected        \--stop--> stopped
 *   edit: awaiting, approved, rejected, stopped (and draft) --> draft, voiding any approval
 *   executing and executed refuse edit and stop: an executed campaign cannot be stopped. */
#include "model/model_impl.h"

#include <stdio.h>

#define X (-1)
static const signed char table[7][7] = {
    /*              EDIT              SUBMIT              APPROVE             REJECT              START                FINISH              STOP */
    /* DRAFT     */ {ENG_STATE_DRAFT, ENG_STATE_AWAITING, X,                  X,                  X,                   X,                  X},
    /* AWAITING  */ {ENG_STATE_DRAFT, X,                  ENG_STATE_APPROVED, ENG_STATE_REJECTED, X,                   X,                  X},
    /* APPROVED  */ {ENG_STATE_DRAFT, X,                  X,                  X,                  ENG_STATE_EXECUTING, X,                  ENG_STATE_STOPPED},
    /* REJECTED  */ {ENG_STATE_DRAFT, X,                  X,                  X,                  X,                   X,                  X},
    /* EXECUTING */ {X,               X,                  X,                  X,                  X,                   ENG_STATE_EXECUTED, X},
    /* EXECUTED  */ {X,               X,                  X,                  X,                  X,                   X,                  X},
    /* STOPPED   */ {ENG_STATE_DRAFT, X,                  X,                  X,                  X,                   X,                  X},
};

const char *eng__state_name(int s)
{
    static const char *const n[] = {"draft", "awaiting approval", "approved", "rejected", "executing", "executed",
                                     "stopped"};
    return s >= 0 && s <= ENG_STATE_STOPPED ? n[s] : "?";
}

const char *eng__action_name(int a)
{
    static const char *const n[] = {"edit", "submit", "approve", "reject", "start", "finish", "stop"};
    return a >= 0 && a <= ENG_ACT_STOP ? n[a] : "?";
}

ENG_API int eng_message_transition(int state, int action)
{
    if (state < ENG_STATE_DRAFT || state > ENG_STATE_STOPPED)
        return eng__err(ENG_EINVAL, "state", "%d is not an eng_message_state", state);
    if (action < ENG_ACT_EDIT || action > ENG_ACT_STOP)
        return eng__err(ENG_EINVAL, "action", "%d is not an eng_action", action);
    int next = table[state][action];
    if (next < 0) {
        if (action == ENG_ACT_STOP && (state == ENG_STATE_EXECUTED || state == ENG_STATE_EXECUTING))
            return eng__err(ENG_ESTATE, "message.state", "an executed campaign cannot be stopped");
        return eng__err(ENG_ESTATE, "message.state", "cannot %s a message that is %s", eng__action_name(action),
                        eng__state_name(state));
    }
    return next;
}

ENG_API int eng_message_execute(eng_engine *e, const char *actor, uint64_t id, int action)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (action != ENG_ACT_START && action != ENG_ACT_FINISH && action != ENG_ACT_STOP) {
        rc = eng__err(ENG_EINVAL, "action", "execute takes start, finish or stop, not %d", action);
        eng__leave(e);
        return rc;
    }
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_EXECUTE, &x)))
        goto out;
    int next = eng_message_transition(x.m.state, action);
    if (next < 0) {
        rc = next;
        goto done;
    }
    if (action == ENG_ACT_START) {
        uint8_t h[32];
        if ((rc = eng__msg_hash(&e->mem, &x.c.spec, &x.m.spec, h)))
            goto done;
        if (!x.m.approved || memcmp(h, x.m.approved_hash, 32) != 0) {
            rc = eng__err(ENG_ESTATE, "message.approval", "the approval does not match the current content");
            goto done;
        }
        if (x.m.spec.strategy == ENG_STRATEGY_XENGAGE && x.m.decided_at + 48 * ENG_HOUR > x.m.spec.schedule->at) {
            rc = eng__err(ENG_ESTATE, "message.approval",
                          "an X-Engage message approved less than 48 hours before its schedule does not execute");
            goto done;
        }
        if (x.m.spec.strategy == ENG_STRATEGY_XENGAGE && x.o.settings.xengage == ENG_XENGAGE_OFF) {
            rc = eng__err(ENG_EUNSUPPORTED, "org.settings.xengage", "X-Engage is not enabled for org '%s'", x.o.id);
            goto done;
        }
        /* It goes live as per the schedule: not before its time (the executor
         * runs it when due). */
        if (x.m.spec.schedule->kind != ENG_SCHEDULE_NONE && eng__now(e) < x.m.spec.schedule->at) {
            rc = eng__err(ENG_ERANGE, "message.schedule.at",
                          "message %llu is scheduled later: it cannot start before its send time",
                          (unsigned long long)id);
            goto done;
        }
    }
    x.m.state = next;
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__msg_write(e, &x, eng__action_name(action)));
done:
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}
