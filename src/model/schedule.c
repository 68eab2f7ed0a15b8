/* Schedules: once, or every N hours/days/weeks until an end; every
 * occurrence must fall inside the campaign's duration. */
#include "model/model_impl.h"

#define MAX_OCCURRENCES 100000

static eng_time unit_ms(int unit)
{
    return unit == ENG_EVERY_HOURS ? ENG_HOUR : unit == ENG_EVERY_DAYS ? ENG_DAY : 7 * ENG_DAY;
}

void eng__schedule_check(eng_validation *v, const eng_schedule *s, const eng_campaign_spec *c, int full)
{
    if (s->kind < ENG_SCHEDULE_NONE || s->kind > ENG_SCHEDULE_RECURRING) {
        eng__vr_add(v, ENG_EINVAL, "message.schedule.kind", "%d is not an eng_schedule_kind", s->kind);
        return;
    }
    if (s->kind != ENG_SCHEDULE_NONE && !eng__time_ok(s->at))
        eng__vr_add(v, ENG_ERANGE, "message.schedule.at", "the send time is outside 1970..9999");
    if (s->kind == ENG_SCHEDULE_RECURRING && !eng__time_ok(s->until))
        eng__vr_add(v, ENG_ERANGE, "message.schedule.until", "the end is outside 1970..9999");
    if (s->kind == ENG_SCHEDULE_RECURRING) {
        if (s->unit < ENG_EVERY_HOURS || s->unit > ENG_EVERY_WEEKS)
            eng__vr_add(v, ENG_EINVAL, "message.schedule.unit", "%d is not an eng_schedule_unit", s->unit);
        if (s->every < 1 || s->every > 1000)
            eng__vr_add(v, ENG_ERANGE, "message.schedule.every", "interval %u outside 1..1000", s->every);
    }
    if (!full)
        return;
    if (s->kind == ENG_SCHEDULE_NONE) {
        eng__vr_add(v, ENG_EINVAL, "message.schedule", "the message has no schedule");
        return;
    }
    if (s->at < c->start || s->at > c->end)
        eng__vr_add(v, ENG_ERANGE, "message.schedule.at", "the send time is outside the campaign's duration");
    if (s->kind != ENG_SCHEDULE_RECURRING || s->unit < ENG_EVERY_HOURS || s->unit > ENG_EVERY_WEEKS || s->every < 1 ||
        s->every > 1000)
        return;
    if (s->until <= s->at) {
        eng__vr_add(v, ENG_ERANGE, "message.schedule.until", "a recurring schedule must end after it starts");
        return;
    }
    eng_time step = unit_ms(s->unit) * (eng_time)s->every;
    eng_time count = (s->until - s->at) / step + 1;
    eng_time last = s->at + (count - 1) * step;
    if (count > MAX_OCCURRENCES)
        eng__vr_add(v, ENG_ETOOBIG, "message.schedule", "%lld occurrences; at most %d", (long long)count,
                    MAX_OCCURRENCES);
    if (last > c->end)
        eng__vr_add(v, ENG_ERANGE, "message.schedule.until",
                    "an occurrence falls after the campaign's end (the last is %lld ms past it)",
                    (long long)(last - c->end));
}
