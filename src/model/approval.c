/* The approval workflow: send for approval (every validator, all failures at
 * once), approve (bound to the content hash, no self-approval unless the org
 * allows it) and reject, each with a comment, an audit entry and an event for
 * the host. The first approval of a campaign locks its conversion goal.
 * Approval also freezes the message's resolved audience (test and control sets
 * with their hash) in the same batch, so what is contacted is exactly what was
 * approved. */
#include "model/model_impl.h"
#include "audience/audience_link.h"
#include "engage/audience.h"

#include <stdio.h>

int eng__comment_ok(const char *c)
{
    if (c && strlen(c) > ENG__COMMENT_MAX)
        return eng__err(ENG_ETOOBIG, "comment", "comment longer than %d bytes", ENG__COMMENT_MAX);
    return eng__str_check(c, 0, "comment");
}

ENG_API int eng_message_submit(eng_engine *e, const char *actor, uint64_t id, eng_validation **report)
{
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_EDIT, &x)))
        goto out;
    int next = eng_message_transition(x.m.state, ENG_ACT_SUBMIT);
    if (next < 0) {
        rc = next;
        goto done;
    }
    eng_validation *v = eng__vr_new(&e->mem);
    if (v)
        eng__msg_check_full(e, v, &x.o, &x.c, &x.m.spec);
    if ((rc = eng__vr_finish(v, report)))
        goto done;
    x.m.state = next;
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__msg_write(e, &x, "submit"));
    if (rc == ENG_OK)
        eng__emit(e, ENG_EVENT_APPROVAL_NEEDED, x.o.id, x.c.id, x.m.id, x.a.id, "");
done:
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

static int hex_equal(const uint8_t h[32], const char *hex)
{
    char mine[65];
    eng__hex(h, 32, mine);
    return strlen(hex) == 64 && strcmp(mine, hex) == 0;
}

void eng__frozen_audience_key(char *buf, size_t n, uint64_t campaign, uint64_t message, eng_time approved_at)
{
    snprintf(buf, n, "c/%llu/m/%llu/%lld", (unsigned long long)campaign, (unsigned long long)message,
             (long long)approved_at);
}

/* Every group the message names exists (unless the host keeps the audiences:
 * its own counter, or no groups in the engine, when *checked stays 0). Each
 * unknown one goes into @p v with its field path; without v the first is the
 * error (for approve). */
static int refs_check(eng_engine *e, eng_validation *v, const char *org, const eng_message_spec *s, int *checked)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    int first = ENG_OK;
    *checked = 0;
    if (st && st->count_fn)
        return ENG_OK;
    for (int ex = 0; ex < 2; ex++) {
        const char *const *names = ex ? s->exclude : s->include;
        size_t n = ex ? s->n_exclude : s->n_include;
        for (size_t i = 0; i < n && names; i++) {
            int rc = eng__audience_group_known(e, org, names[i], checked);
            if (!*checked && !rc)
                return ENG_OK;
            if (!rc)
                continue;
            char path[64];
            snprintf(path, sizeof path, "message.audience.%s[%zu]", ex ? "exclude" : "include", i);
            if (rc == ENG_ENOTFOUND)
                eng__vr_add(v, rc, path, "no audience group \"%.80s\"", names[i] ? names[i] : "");
            else
                eng__vr_add(v, rc, path, "%s", eng_error_last()->message);
            if (v && rc == ENG_ENOMEM)
                v->oom = 1;
            if (!v) /* approve: the first one is the error */
                return rc == ENG_ENOTFOUND
                           ? eng__err(rc, path, "no audience group \"%.80s\"", names[i] ? names[i] : "")
                           : eng__err_wrap(rc, "%s", path);
            first = first ? first : rc;
        }
    }
    return first;
}

int eng__audience_refs_check(eng_engine *e, eng_validation *v, const char *org, const eng_message_spec *s)
{
    int checked;
    return refs_check(e, v, org, s, &checked);
}

int eng__freeze_audience(eng_engine *e, const eng__org *o, const eng__camp *c, const eng__msg *m)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    if ((st && st->count_fn) || m->spec.n_include == 0)
        return ENG_OK; /* the host counts, so the host keeps the audiences */
    int checked, rc0 = refs_check(e, NULL, o->id, &m->spec, &checked);
    if (rc0)
        return rc0; /* a group deleted since submit: named by its field path */
    if (!checked)
        return ENG_OK; /* the engine keeps no groups: nothing to freeze (as the freeze would find) */
    eng_audience_query q;
    char key[96];
    eng__audience_query_of(o, c, &m->spec, &q);
    eng__frozen_audience_key(key, sizeof key, c->id, m->id, m->decided_at);
    int rc = eng__audience_freeze_query(e, o->id, &q, key);
    if (rc)
        return eng__err_wrap(rc, "message.audience: freezing the approved audience");
    return ENG_OK;
}

int eng__approve_msg(eng_engine *e, const eng__actor *a, const eng__org *o, const eng__camp *c, eng__msg *m,
                     const char *content_hash, const char *comment)
{
    int next = eng_message_transition(m->state, ENG_ACT_APPROVE);
    if (next < 0)
        return next;
    if (!o->settings.allow_self_approval && (strcmp(m->created_by, a->id) == 0 || strcmp(m->edited_by, a->id) == 0))
        return eng__err(ENG_EDENIED, "actor",
                        "actor '%s' created or last edited message %llu and may not approve it (org setting)", a->id,
                        (unsigned long long)m->id);
    uint8_t h[32];
    int rc = eng__msg_hash(&e->mem, &c->spec, &m->spec, h);
    if (rc)
        return rc;
    if (content_hash && !hex_equal(h, content_hash))
        return eng__err(ENG_ESTATE, "message.content_hash",
                        "the message changed since it was reviewed: approve the current content");
    eng_time now = eng__now(e);
    /* The message goes live as per its schedule: once the send time has
     * passed it can no longer be approved (send it again for approval with a
     * new time). */
    if (m->spec.schedule->kind != ENG_SCHEDULE_NONE && now > m->spec.schedule->at)
        return eng__err(ENG_ERANGE, "message.schedule.at",
                        "the send time has passed: a message cannot be approved after it");
    if (m->spec.strategy == ENG_STRATEGY_XENGAGE && now + 48 * ENG_HOUR > m->spec.schedule->at)
        return eng__err(ENG_ERANGE, "message.schedule.at",
                        "an X-Engage message must be approved at least 48 hours before its send time");
    m->state = next;
    m->approved = 1;
    memcpy(m->approved_hash, h, 32);
    m->decided_by = a->id;
    m->decided_at = now;
    m->comment = (char *)(comment ? comment : "");
    return ENG_OK;
}

int eng__reject_msg(eng_engine *e, const eng__actor *a, eng__msg *m, const char *comment)
{
    int next = eng_message_transition(m->state, ENG_ACT_REJECT);
    if (next < 0)
        return next;
    m->state = next;
    m->approved = 0;
    m->decided_by = a->id;
    m->decided_at = eng__now(e);
    m->comment = (char *)(comment ? comment : "");
    return ENG_OK;
}

int eng__report_room(const eng__camp *c, size_t approved)
{
    if (approved > ENG__REPORT_MAX_MESSAGES)
        return eng__err(ENG_ETOOBIG, "campaign",
                        "campaign %llu would have %zu approved messages; its report measures at most %d "
                        "(start another campaign)",
                        (unsigned long long)c->id, approved, ENG__REPORT_MAX_MESSAGES);
    return ENG_OK;
}

int eng__camp_report_room(eng_engine *e, const eng__camp *c, uint64_t except, size_t adding)
{
    if (c->n_msgs + adding <= ENG__REPORT_MAX_MESSAGES)
        return ENG_OK; /* cannot be past it: no message read (an approval's storage calls stay as they were) */
    size_t n = 0;
    for (size_t i = 0; i < c->n_msgs; i++) {
        if (c->msgs[i] == except)
            continue;
        eng__msg m;
        int rc = eng__msg_load(e, c->msgs[i], &m);
        if (eng__absent(rc))
            continue; /* deleted */
        if (rc)
            return rc;
        n += m.approved != 0;
        eng__msg_free(&m);
    }
    return eng__report_room(c, n + adding);
}

ENG_API int eng_message_approve(eng_engine *e, const char *actor, uint64_t id, const char *content_hash,
                                const char *comment)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = eng__comment_ok(comment)))
        goto out;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_APPROVE, &x)))
        goto out;
    if ((rc = eng__approve_msg(e, &x.a, &x.o, &x.c, &x.m, content_hash, comment)) ||
        (rc = eng__camp_report_room(e, &x.c, x.m.id, 1)))
        goto done;
    if ((rc = eng__kv_begin(e->store)))
        goto done;
    rc = eng__freeze_audience(e, &x.o, &x.c, &x.m);
    if (rc == ENG_OK)
        rc = eng__xengage_approve(e, &x.o, &x.c, &x.m);
    if (rc == ENG_OK)
        rc = eng__msg_write(e, &x, "approve");
    if (rc == ENG_OK && !x.c.goal_locked) { /* the first approval freezes the campaign's goal: audited too */
        x.c.goal_locked = 1;
        rc = eng__camp_write(e, &x.c, x.a.id, "lock-goal");
    }
    if ((rc = eng__batch_end(e, rc)) == ENG_OK)
        eng__emit(e, ENG_EVENT_APPROVED, x.o.id, x.c.id, x.m.id, x.a.id, x.m.comment);
    eng__log_done(e, rc, "approval", "org %s: message %llu of campaign %llu", x.o.id, (unsigned long long)x.m.id,
                  (unsigned long long)x.c.id);
done:
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_message_reject(eng_engine *e, const char *actor, uint64_t id, const char *comment)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = eng__comment_ok(comment)))
        goto out;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_APPROVE, &x)))
        goto out;
    if ((rc = eng__reject_msg(e, &x.a, &x.m, comment)))
        goto done;
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__msg_write(e, &x, "reject"));
    if (rc == ENG_OK)
        eng__emit(e, ENG_EVENT_REJECTED, x.o.id, x.c.id, x.m.id, x.a.id, x.m.comment);
    eng__log_done(e, rc, "rejection", "org %s: message %llu of campaign %llu", x.o.id, (unsigned long long)x.m.id,
                  (unsigned long long)x.c.id);
done:
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_message_audience(eng_engine *e, const char *actor, uint64_t id, eng_audience **out)
{
    if (out)
        *out = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!out) {
        rc = eng__err(ENG_EINVAL, "out", "eng_message_audience: out is NULL");
        goto out;
    }
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_READ, &x)))
        goto out;
    if (!x.m.approved || (x.m.state != ENG_STATE_APPROVED && x.m.state != ENG_STATE_EXECUTING &&
                          x.m.state != ENG_STATE_EXECUTED)) {
        rc = eng__err(ENG_ESTATE, "message.state", "message %llu has no approved audience (it is %s)",
                      (unsigned long long)id, eng__state_name(x.m.state));
    } else {
        char key[96];
        eng__frozen_audience_key(key, sizeof key, x.c.id, x.m.id, x.m.decided_at);
        rc = eng__audience_load_frozen(e, x.o.id, key, out);
        if (rc == ENG_ENOTFOUND)
            rc = eng__err(ENG_ENOTFOUND, "message.audience",
                          "message %llu was approved without a frozen audience (the host keeps its audiences)",
                          (unsigned long long)id);
    }
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}
