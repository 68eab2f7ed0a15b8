/* Conversion goals: the public init, the record codec and the checks that the
 * campaign, the org's default goal and the measure spec share. */
#include "model/model_impl.h"

#include <stdio.h>

ENG_API int eng_goal_spec_init(eng_goal_spec *g, unsigned int version)
{
    static const eng_goal_spec init = ENG_GOAL_SPEC_INIT;
    return eng__struct_init(g, &init, ENG__SIZES(sizeof init), version, "eng_goal_spec");
}

void eng__goal_enc(eng__wr *w, const eng_goal_spec *g)
{
    static const eng_goal_spec none = ENG_GOAL_SPEC_INIT;
    if (!g)
        g = &none; /* the record keeps its layout */
    eng__wr_str(w, g->event);
    eng__wr_str(w, g->condition);
    eng__wr_uvar(w, g->window_days);
    eng__wr_svar(w, g->start_on);
    eng__wr_svar(w, g->attribution);
}

const eng_goal_spec *eng__goal_dec(eng__rd *r, eng__pool *p)
{
    eng_goal_spec g = {.version = ENG_GOAL_SPEC_VERSION};
    g.event = eng__pool_rdstr(r, p);
    g.condition = eng__pool_rdstr(r, p);
    g.window_days = (uint32_t)eng__rd_uvar(r);
    g.start_on = (int)eng__rd_svar(r);
    g.attribution = (int)eng__rd_svar(r);
    eng_goal_spec *out = eng__pool_alloc(p, sizeof *out);
    if (!out) {
        r->err = ENG_ENOMEM;
        return NULL;
    }
    *out = g;
    return out;
}

void eng__goal_check(eng_validation *v, const eng_goal_spec *g, const char *path)
{
    char p[128];
    if (!g) {
        eng__vr_add(v, ENG_EINVAL, path, "a conversion goal is required here (the pointer is NULL)");
        return;
    }
    snprintf(p, sizeof p, "%s.event", path);
    if (eng__empty(g->event))
        eng__vr_add(v, ENG_EINVAL, p, "a conversion goal needs an event");
    else if (strlen(g->event) > ENG__ID_MAX || eng__name_flaw(g->event))
        eng__vr_add(v, ENG_EINVAL, p, "event name is too long, not UTF-8 or has control characters");
    snprintf(p, sizeof p, "%s.condition", path);
    if (g->condition && strlen(g->condition) > 65536)
        eng__vr_add(v, ENG_ETOOBIG, p, "condition longer than 65536 bytes");
    else
        eng__vr_text(v, p, g->condition, 0);
    snprintf(p, sizeof p, "%s.window_days", path);
    if (g->window_days < 1 || g->window_days > 90)
        eng__vr_add(v, ENG_ERANGE, p, "tracking period %u days is outside 1..90", g->window_days);
    snprintf(p, sizeof p, "%s.start_on", path);
    if (g->start_on < ENG_GOAL_ON_SENT || g->start_on > ENG_GOAL_ON_CLICKED)
        eng__vr_add(v, ENG_EINVAL, p, "%d is not an eng_goal_start", g->start_on);
    snprintf(p, sizeof p, "%s.attribution", path);
    if (g->attribution < ENG_ATTR_LAST_TOUCH || g->attribution > ENG_ATTR_POSITION)
        eng__vr_add(v, ENG_EINVAL, p, "%d is not an eng_attribution", g->attribution);
}
