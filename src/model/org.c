/* Orgs: settings (feature flags, per-channel costs, default conversion goal)
 * and the tree of org units, kept in one record per org. */
#include "model/model_impl.h"

#include <stdio.h>

#define COST_MAX 1000000000LL

ENG_API int eng_org_settings_init(eng_org_settings *s, unsigned int version)
{
    if (!s)
        return eng__err(ENG_EINVAL, "settings", "settings is NULL");
    if (version == 0 || version > ENG_ORG_SETTINGS_VERSION)
        return eng__err(ENG_EVERSION, "settings.version", "unsupported eng_org_settings version %u", version);
    memset(s, 0, sizeof(*s));
    s->version = version;
    s->xengage = ENG_XENGAGE_TRIAL;
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        s->channel_cost[i] = 1;
    s->xengage_cost = 1;
    return ENG_OK;
}

void eng__settings_enc(eng__wr *w, const eng_org_settings *s)
{
    eng__wr_svar(w, s->conversion_goals);
    eng__wr_svar(w, s->xengage);
    eng__wr_svar(w, s->allow_self_approval);
    eng__wr_svar(w, s->forbid_overdraft);
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        eng__wr_svar(w, s->channel_cost[i]);
    eng__wr_svar(w, s->xengage_cost);
    eng__wr_svar(w, s->has_default_goal);
    eng__goal_enc(w, s->has_default_goal ? s->default_goal : NULL);
}

void eng__settings_dec(eng__rd *r, eng__pool *p, eng_org_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->version = ENG_ORG_SETTINGS_VERSION;
    s->conversion_goals = (int)eng__rd_svar(r);
    s->xengage = (int)eng__rd_svar(r);
    s->allow_self_approval = (int)eng__rd_svar(r);
    s->forbid_overdraft = (int)eng__rd_svar(r);
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        s->channel_cost[i] = eng__rd_svar(r);
    s->xengage_cost = eng__rd_svar(r);
    s->has_default_goal = (int)eng__rd_svar(r);
    const eng_goal_spec *g = eng__goal_dec(r, p);
    s->default_goal = s->has_default_goal ? g : NULL; /* the pool keeps the unused defaults */
}

static void settings_check(eng_engine *e, eng_validation *v, const char *org, const eng_org_settings *s)
{
    if (s->xengage < ENG_XENGAGE_OFF || s->xengage > ENG_XENGAGE_UNLOCKED)
        eng__vr_add(v, ENG_EINVAL, "org.settings.xengage", "%d is not an eng_xengage_mode", s->xengage);
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        if (s->channel_cost[i] < 0 || s->channel_cost[i] > COST_MAX) {
            char p[64];
            snprintf(p, sizeof p, "org.settings.channel_cost[%d]", i);
            eng__vr_add(v, ENG_ERANGE, p, "cost %lld is outside 0..1e9", (long long)s->channel_cost[i]);
        }
    if (s->xengage_cost < 0 || s->xengage_cost > COST_MAX)
        eng__vr_add(v, ENG_ERANGE, "org.settings.xengage_cost", "cost %lld is outside 0..1e9",
                    (long long)s->xengage_cost);
    if (s->has_default_goal) {
        eng__goal_check(v, s->default_goal, "org.settings.default_goal");
        eng__goal_rule_check(e, v, org, s->default_goal, "org.settings.default_goal");
    }
}

static int settings_arg(const eng_org_settings *s)
{
    if (s->version == 0 || s->version > ENG_ORG_SETTINGS_VERSION)
        return eng__err(ENG_EVERSION, "settings.version", "unsupported eng_org_settings version %u", s->version);
    return eng__sub_version(s->default_goal, ENG_GOAL_SPEC_VERSION, "org.settings.default_goal", "eng_goal_spec");
}

/* The stored form: id, settings and the unit tree. */
typedef struct org_rec {
    const char *id;
    const eng_org_settings *s;
    const eng__unit *units;
    size_t n;
} org_rec;

static void org_enc(eng__wr *w, const void *obj)
{
    const org_rec *x = obj;
    eng__wr_str(w, x->id);
    eng__settings_enc(w, x->s);
    eng__wr_uvar(w, x->n);
    for (size_t i = 0; i < x->n; i++) {
        eng__wr_str(w, x->units[i].id);
        eng__wr_str(w, x->units[i].parent);
    }
}

int eng__org_dec(eng__rd *r, eng__pool *p, void *obj)
{
    eng__org *o = obj;
    o->id = eng__pool_rdstr(r, p);
    eng__settings_dec(r, p, &o->settings);
    uint64_t n = eng__rd_uvar(r);
    if (eng__rd_ok(r) && n > eng__rd_left(r))
        r->err = ENG_ECORRUPT;
    if (eng__rd_ok(r) && n) {
        o->units = eng__pool_alloc(p, (size_t)n * sizeof(*o->units));
        if (!o->units)
            r->err = ENG_ENOMEM;
        for (uint64_t i = 0; eng__rd_ok(r) && i < n; i++) {
            o->units[i].id = eng__pool_rdstr(r, p);
            o->units[i].parent = eng__pool_rdstr(r, p);
        }
        o->n_units = (size_t)n;
    }
    return !o->id;
}

static int org_store(eng_engine *e, const char *actor, const char *action, const char *id, const eng_org_settings *s,
                     const eng__unit *units, size_t n)
{
    char key[96];
    snprintf(key, sizeof key, "m/o/%s", id);
    org_rec x = {id, s, units, n};
    return eng__obj_put(e, key, ENG__REC_ORG, org_enc, &x, id, actor, "org", action);
}

int eng__org_load(eng_engine *e, const char *org, eng__org *o)
{
    char key[96];
    snprintf(key, sizeof key, "m/o/%s", org);
    return eng__obj_load(e, key, ENG__REC_ORG, "org", o, sizeof *o, &o->pool, eng__org_dec);
}

void eng__org_free(eng__org *o)
{
    if (o->lent)
        --*o->lent;
    eng__pool_free(&o->pool);
    memset(o, 0, sizeof(*o));
}

const eng__unit *eng__org_unit(const eng__org *o, const char *unit)
{
    for (size_t i = 0; i < o->n_units; i++)
        if (strcmp(o->units[i].id, unit) == 0)
            return &o->units[i];
    return NULL;
}

int eng__org_unit_within(const eng__org *o, const char *unit, const char *ancestor)
{
    /* Walk up the parents; the depth is bounded by the unit count (no cycles
     * can be built through eng_unit_add, but a corrupt record must not hang us). */
    const char *cur = unit;
    for (size_t steps = 0; cur && *cur && steps <= o->n_units; steps++) {
        if (strcmp(cur, ancestor) == 0)
            return 1;
        const eng__unit *u = eng__org_unit(o, cur);
        cur = u ? u->parent : NULL;
    }
    return 0;
}

ENG_API int eng_org_create(eng_engine *e, const char *org_id, const eng_org_settings *settings, const char *admin_id,
                           eng_validation **report)
{
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_org_settings defaults;
    eng_org_settings_init(&defaults, ENG_ORG_SETTINGS_VERSION);
    if (!eng__id_ok(org_id)) {
        rc = eng__err(ENG_EINVAL, "org.id", "org id must be 1..64 of [A-Za-z0-9_.@-]");
        goto out;
    }
    if (!eng__id_ok(admin_id)) {
        rc = eng__err(ENG_EINVAL, "actor.id", "actor id must be 1..64 of [A-Za-z0-9_.@-]");
        goto out;
    }
    if (settings && (rc = settings_arg(settings)))
        goto out;
    if (!settings)
        settings = &defaults;
    eng_validation *v = eng__vr_new(&e->mem);
    if (v)
        settings_check(e, v, org_id, settings);
    if ((rc = eng__vr_finish(v, report)))
        goto out;
    eng__org o;
    if ((rc = eng__org_load(e, org_id, &o)) == ENG_OK) {
        eng__org_free(&o);
        rc = eng__err(ENG_EEXISTS, "org.id", "org '%s' exists", org_id);
        goto out;
    } else if (!eng__absent(rc)) {
        goto out;
    }
    eng__actor a;
    if ((rc = eng__actor_load(e, admin_id, &a)) == ENG_OK) {
        eng__actor_free(&a);
        rc = eng__err(ENG_EEXISTS, "actor.id", "actor '%s' exists", admin_id);
        goto out;
    } else if (!eng__absent(rc)) {
        goto out;
    }
    if ((rc = eng__kv_begin(e->store)))
        goto out;
    rc = org_store(e, admin_id, "create", org_id, settings, NULL, 0);
    if (rc == ENG_OK) {
        eng_actor_spec as;
        eng_actor_spec_init(&as, ENG_ACTOR_SPEC_VERSION);
        as.id = admin_id;
        as.roles = ENG_ROLE_ADMIN;
        as.scope = ENG_SCOPE_ORG;
        rc = eng__actor_store(e, &as, org_id, admin_id);
    }
    if (rc == ENG_OK) {
        int64_t zero[2] = {0, 0};
        rc = eng__credits_put(e, org_id, zero);
    }
    rc = eng__batch_end(e, rc);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_org_settings_get(eng_engine *e, const char *actor, eng_org_settings *out)
{
    if (out) /* written whole on success, so the caller need not set its version: not read here, left as it is */
        memset((char *)out + sizeof out->version, 0, sizeof *out - sizeof out->version);
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!out) {
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
        goto out;
    }
    eng__model_state *st = eng__model(e);
    if (!st) {
        rc = eng__nomem();
        goto out;
    }
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    /* The seed shows the org's settings (its "Campaign Attribution", the default
     * goal) only to users with org-level access: any role, but org scope. */
    if (a.scope != ENG_SCOPE_ORG) {
        rc = eng__err(ENG_EDENIED, "actor", "actor '%s' has no org-level access: org settings are not shown", a.id);
        eng__who_free(&a, &o);
        goto out;
    }
    *out = o.settings;
    if (st->has_scratch)
        eng__org_free(&st->settings_scratch);
    st->settings_scratch = o; /* keeps the goal strings alive */
    st->has_scratch = 1;
    eng__actor_free(&a);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_org_settings_set(eng_engine *e, const char *actor, const eng_org_settings *settings,
                                 eng_validation **report)
{
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!settings) {
        rc = eng__err(ENG_EINVAL, "settings", "settings is NULL");
        goto out;
    }
    if ((rc = settings_arg(settings)))
        goto out;
    eng__actor a;
    eng__org o;
    /* Deny by default: only an admin gets a report. */
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    eng_validation *v = eng__vr_new(&e->mem);
    if (v)
        settings_check(e, v, o.id, settings);
    rc = eng__vr_finish(v, report);
    if (rc == ENG_OK && (rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, org_store(e, a.id, "settings", o.id, settings, o.units, o.n_units));
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_unit_add(eng_engine *e, const char *actor, const char *unit_id, const char *parent_id)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    if (!eng__id_ok(unit_id)) {
        rc = eng__err(ENG_EINVAL, "unit.id", "unit id must be 1..64 of [A-Za-z0-9_.@-]");
        goto done;
    }
    if (eng__org_unit(&o, unit_id)) {
        rc = eng__err(ENG_EEXISTS, "unit.id", "unit '%s' exists in org '%s'", unit_id, o.id);
        goto done;
    }
    if (!eng__empty(parent_id) && !eng__org_unit(&o, parent_id)) {
        rc = eng__err(ENG_ENOTFOUND, "unit.parent", "parent unit '%s' does not exist", parent_id);
        goto done;
    }
    if (o.n_units >= ENG__LIST_MAX) {
        rc = eng__err(ENG_ETOOBIG, "unit.id", "an org has at most %d units", ENG__LIST_MAX);
        goto done;
    }
    eng__unit *u = eng__pool_alloc(&o.pool, (o.n_units + 1) * sizeof(*u));
    if (!u) {
        rc = eng__nomem();
        goto done;
    }
    if (o.n_units)
        memcpy(u, o.units, o.n_units * sizeof(*u));
    u[o.n_units].id = (char *)unit_id;
    u[o.n_units].parent = (char *)(parent_id ? parent_id : "");
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, org_store(e, a.id, "unit-add", o.id, &o.settings, u, o.n_units + 1));
done:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}
