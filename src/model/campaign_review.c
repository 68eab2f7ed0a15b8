/* Approving or rejecting a whole campaign (seed: "Click Approve to approve all
 * the campaign messages"; "You can also Reject a campaign"): every message
 * awaiting approval is decided in one batch with the same checks as a single
 * approval, so either all of them change or none does. */
#include "model/model_impl.h"

#include <stdio.h>

static int review(eng_engine *e, const char *actor, uint64_t id, const char *comment, int approve)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = eng__comment_ok(comment)))
        goto out;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    eng__camp c;
    eng__msg *msgs = NULL;
    size_t nm = 0, decided = 0;
    if ((rc = eng__camp_load(e, id, &c)))
        goto who;
    if ((rc = eng__camp_access(&a, &o, &c, ENG_OP_APPROVE, "campaign", id)))
        goto done;
    if (c.n_msgs && !(msgs = eng__calloc(&e->mem, c.n_msgs, sizeof(*msgs)))) {
        rc = eng__nomem();
        goto done;
    }
    for (; nm < c.n_msgs; nm++) {
        if ((rc = eng__msg_load(e, c.msgs[nm], &msgs[nm])))
            goto done;
        if (msgs[nm].state != ENG_STATE_AWAITING)
            continue;
        rc = approve ? eng__approve_msg(e, &a, &o, &c, &msgs[nm], NULL, comment)
                     : eng__reject_msg(e, &a, &msgs[nm], comment);
        if (rc) {
            nm++;
            goto done;
        }
        decided++;
    }
    if (decided == 0) {
        rc = eng__err(ENG_ESTATE, "campaign", "no message of campaign %llu is awaiting approval",
                      (unsigned long long)id);
        goto done;
    }
    size_t approved = 0; /* every message is loaded: those approved before and by this call */
    for (size_t i = 0; approve && i < nm; i++)
        approved += msgs[i].approved != 0;
    if ((rc = eng__report_room(&c, approved)))
        goto done;
    if ((rc = eng__kv_begin(e->store)))
        goto done;
    for (size_t i = 0; rc == ENG_OK && i < nm; i++)
        if (msgs[i].decided_by == a.id) { /* decided by this call */
            if (approve)
                rc = eng__freeze_audience(e, &o, &c, &msgs[i]);
            if (rc == ENG_OK && approve)
                rc = eng__xengage_approve(e, &o, &c, &msgs[i]);
            if (rc == ENG_OK)
                rc = eng__msg_put_audited(e, o.id, a.id, &msgs[i], approve ? "approve" : "reject");
        }
    if (rc == ENG_OK && approve && !c.goal_locked) {
        c.goal_locked = 1;
        rc = eng__camp_write(e, &c, a.id, "lock-goal");
    }
    if ((rc = eng__batch_end(e, rc)) == ENG_OK)
        for (size_t i = 0; i < nm; i++)
            if (msgs[i].decided_by == a.id)
                eng__emit(e, approve ? ENG_EVENT_APPROVED : ENG_EVENT_REJECTED, o.id, c.id, msgs[i].id, a.id,
                          msgs[i].comment);
done:
    for (size_t i = 0; i < nm; i++)
        eng__msg_free(&msgs[i]);
    eng__free(&e->mem, msgs);
    eng__camp_free(&c);
who:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_campaign_approve(eng_engine *e, const char *actor, uint64_t id, const char *comment)
{
    return review(e, actor, id, comment, 1);
}

ENG_API int eng_campaign_reject(eng_engine *e, const char *actor, uint64_t id, const char *comment)
{
    return review(e, actor, id, comment, 0);
}
