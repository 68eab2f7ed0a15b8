/* X-Engage rules (seed x-engage.md), checked when a message is sent for
 * approval: org enabled and enough X-Engage credits; at least one creative and
 * no mandatory channel; only coupon incentives with a common code or uploaded
 * codes; a fixed send time at least 50 hours away; the campaign ending at
 * least 14 days after it; at least 100,000 test-group recipients. The 48-hour
 * approval rule is checked by approve and again by start; the org setting, the
 * minimum (on the audience as frozen) and the credits again at approval, which
 * reserves the credits (reserve.c); the org setting again at start. */
#include "model/model_impl.h"
#include "base/handle.h"
#include "base/hash.h"
#include "audience/audience_link.h"

#include <string.h>

uint32_t eng__xengage_min_audience = 100000;

#define XE_SUBMIT_LEAD (50 * ENG_HOUR)
#define XE_MIN_TAIL (14 * ENG_DAY)

/* X-Engage credits not reserved by approved messages (other than @p except). */
static int available(eng_engine *e, const eng__org *o, uint64_t except, int64_t *avail)
{
    int64_t bal[2], reserved;
    int rc = eng__credits_get(e, o->id, bal);
    if (!rc)
        rc = eng__xengage_reserved(e, o->id, except, &reserved);
    *avail = rc ? 0 : bal[1] - reserved;
    return rc;
}

void eng__xengage_check(eng_engine *e, eng_validation *v, const eng__org *o, const eng__camp *c,
                        const eng_message_spec *s, eng_time now)
{
    if (o->settings.xengage == ENG_XENGAGE_OFF)
        eng__vr_add(v, ENG_EUNSUPPORTED, "org.settings.xengage", "X-Engage is not enabled for org '%s'", o->id);
    /* No channel is mandatory: any single creative will do. */
    if (s->n_creatives == 0)
        eng__vr_add(v, ENG_EINVAL, "message.creatives", "an X-Engage message needs at least one creative");
    if (s->incentive->kind == ENG_INCENTIVE_POINTS)
        eng__vr_add(v, ENG_EINVAL, "message.incentive.kind", "X-Engage allows coupon incentives only, not points");
    if (s->incentive->kind == ENG_INCENTIVE_COUPON && s->incentive->coupon_source == ENG_COUPON_GENERATED)
        eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_source",
                    "X-Engage allows only offers with a common code or uploaded codes, not generated codes");
    if (s->schedule->kind != ENG_SCHEDULE_ONCE) {
        eng__vr_add(v, ENG_EINVAL, "message.schedule.kind", "an X-Engage message is sent once, at a fixed time");
    } else {
        if (now + XE_SUBMIT_LEAD > s->schedule->at)
            eng__vr_add(v, ENG_ERANGE, "message.schedule.at",
                        "an X-Engage message must be sent for approval at least 50 hours before its send time");
        if (c->spec.end < s->schedule->at + XE_MIN_TAIL)
            eng__vr_add(v, ENG_ERANGE, "campaign.end",
                        "an X-Engage campaign must end at least 14 days after the send time");
    }
    uint64_t count = 0;
    int rc = eng__xengage_count(e, o, c, s, &count);
    if (rc) {
        eng__vr_add(v, rc < 0 ? rc : ENG_ERROR, "message.audience", "the audience counter failed: %s",
                    eng_error_last()->message);
        return;
    }
    if (count < eng__xengage_min_audience)
        eng__vr_add(v, ENG_ERANGE, "message.audience",
                    "X-Engage needs at least %lu test-group recipients; the audience has %llu",
                    (unsigned long)eng__xengage_min_audience, (unsigned long long)count);
    int64_t avail;
    if (available(e, o, 0, &avail) != ENG_OK) {
        eng__vr_add(v, eng_error_last()->code, "org.credits.xengage", "%s", eng_error_last()->message);
        return;
    }
    int64_t cost = o->settings.xengage_cost;
    if (count > (uint64_t)INT64_MAX / (cost ? (uint64_t)cost : 1) || avail < (int64_t)count * cost)
        eng__vr_add(v, ENG_ECREDITS, "org.credits.xengage",
                    "X-Engage needs %llu credits for %llu recipients; the org has %lld not reserved",
                    (unsigned long long)count * (unsigned long long)cost, (unsigned long long)count,
                    (long long)avail);
}

int eng__xengage_count(eng_engine *e, const eng__org *o, const eng__camp *c, const eng_message_spec *s,
                       uint64_t *count)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    eng_audience_query q;
    eng__audience_query_of(o, c, s, &q);
    *count = 0;
    if (!st || !st->count_fn)
        return eng__audience_test_count(e, o->id, &q, count);
    eng__callback_begin();
    int rc = st->count_fn(&q, count, st->count_user);
    eng__callback_end();
    return rc;
}

int eng__xengage_approve(eng_engine *e, const eng__org *o, const eng__camp *c, const eng__msg *m)
{
    if (m->spec.strategy != ENG_STRATEGY_XENGAGE)
        return ENG_OK;
    if (o->settings.xengage == ENG_XENGAGE_OFF)
        return eng__err(ENG_EUNSUPPORTED, "org.settings.xengage", "X-Engage is not enabled for org '%s'", o->id);
    /* Under the engine lock the groups are as the freeze just saw them: this
     * is the frozen test group's size (or the host counter's answer now). */
    uint64_t count = 0;
    int rc = eng__xengage_count(e, o, c, &m->spec, &count);
    if (rc)
        return eng__err_wrap(rc < 0 ? rc : ENG_ERROR, "message.audience: the audience counter failed");
    if (count < eng__xengage_min_audience)
        return eng__err(ENG_ERANGE, "message.audience",
                        "X-Engage needs at least %lu test-group recipients; the audience has %llu",
                        (unsigned long)eng__xengage_min_audience, (unsigned long long)count);
    int64_t cost = o->settings.xengage_cost, avail;
    if ((rc = available(e, o, m->id, &avail)))
        return rc;
    if (count > (uint64_t)INT64_MAX / (cost ? (uint64_t)cost : 1) || avail < (int64_t)count * cost)
        return eng__err(ENG_ECREDITS, "org.credits.xengage",
                        "X-Engage needs %llu credits for %llu recipients; the org has %lld not reserved",
                        (unsigned long long)count * (unsigned long long)cost, (unsigned long long)count,
                        (long long)avail);
    return eng__xengage_reserve(e, o->id, m->id, (int64_t)count * cost);
}

ENG_API uint64_t eng_campaign_split_seed(const char *org, uint64_t campaign)
{
    if (!org)
        return 0;
    return eng__mix64(eng__hash64(org, strlen(org), 0x73706c6974ull /* "split" */) ^ campaign);
}

void eng__audience_query_of(const eng__org *o, const eng__camp *c, const eng_message_spec *s, eng_audience_query *q)
{
    *q = (eng_audience_query){ENG_AUDIENCE_QUERY_VERSION, s->include, s->n_include, s->exclude, s->n_exclude, 0,
                              c->spec.control_percent, eng_campaign_split_seed(o->id, c->id), o->id, c->id,
                              c->spec.control_group};
    for (size_t i = 0; i < s->n_creatives; i++)
        if (s->creatives[i].channel >= 0 && s->creatives[i].channel < ENG_CH_COUNT)
            q->channels |= 1u << s->creatives[i].channel;
}
