/* What dispatch reads about customers while it works an execution: contacts,
 * reachability now (with the reason when not; a member of the org's global
 * control group is reachable on no channel), attribute text for templates,
 * and the customers matching a personalisation rule. Pointers returned here
 * borrow the in-memory table: valid while the caller holds the engine lock. */
#include "audience/audience_impl.h"
#include "audience/audience_link.h"

#include <string.h>

int eng__customer_view(eng_engine *e, const char *org, eng__customer_view_t *out)
{
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    out->table = &a->t;
    out->aud = a;
    const eng__group *g = a->gc.mode == ENG_GLOBAL_CONTROL_UPLOADED ? eng__group_find(a, a->gc.group) : NULL;
    out->gc_members = g ? &g->members : NULL;
    return ENG_OK;
}

/* In the org's global control group (a group lookup per customer would cost a scan of the groups). */
static int held_out(const eng__customer_view_t *v, uint32_t id)
{
    if (!v->aud->gc.mode)
        return 0;
    if (v->aud->gc.mode == ENG_GLOBAL_CONTROL_UPLOADED)
        return v->gc_members && eng__idset_contains(v->gc_members, id);
    return eng__gc_member(v->aud, id);
}

const char *eng__view_contact(const eng__customer_view_t *v, int ch, uint32_t id, size_t *len)
{
    const eng__table *t = v->table;
    if (id >= t->n || ch < 0 || ch >= ENG_CH_COUNT || !t->ch[ch].used)
        return NULL;
    return eng__table_contact(t, ch, id, len);
}

uint32_t eng__view_size(const eng__customer_view_t *v)
{
    return (uint32_t)v->table->n;
}

int eng__view_unreachable(const eng__customer_view_t *v, int ch, uint32_t id)
{
    const eng__table *t = v->table;
    if (id >= t->n)
        return ENG__UNREACH_NO_CONTACT;
    if (held_out(v, id)) /* held out of every campaign */
        return ENG__UNREACH_GLOBAL_CONTROL;
    if (eng__idset_contains(&t->suppressed, id))
        return ENG__UNREACH_SUPPRESSED;
    const eng__chan *c = &t->ch[ch];
    if (!c->used || !eng__idset_contains(&c->has, id))
        return ENG__UNREACH_NO_CONTACT;
    if (eng__idset_contains(&c->optout, id))
        return ENG__UNREACH_OPTED_OUT;
    if (!eng__idset_contains(&c->consent, id))
        return ENG__UNREACH_NO_CONSENT;
    return 0;
}

uint32_t eng__view_reach(const eng__customer_view_t *v, uint32_t id, uint32_t channels)
{
    const eng__table *t = v->table;
    uint32_t out = 0;
    if (id >= t->n || eng__idset_contains(&t->suppressed, id) || held_out(v, id))
        return 0;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if ((channels >> ch & 1u) && eng__table_reachable(t, ch, id))
            out |= 1u << ch;
    return out;
}

int eng__audience_match_expr(eng_engine *e, const char *org, const char *expr, eng__idset *out)
{
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    eng__group g;
    memset(&g, 0, sizeof g);
    g.expr = (char *)expr;
    g.name = (char *)"personalisation rule";
    return eng__filter_eval(a, &g, out);
}
