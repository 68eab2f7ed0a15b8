/* Campaigns: the fields and rules of the seed's "create campaign" step,
 * persistence (m/c/<id>, name index m/n/<org>/<name>) and read snapshots. */
#include "model/model_impl.h"
#include "base/handle.h"
#include "audience/audience_link.h"

#include <stdio.h>

ENG_API int eng_campaign_spec_init(eng_campaign_spec *c, unsigned int version)
{
    static const eng_campaign_spec init = ENG_CAMPAIGN_SPEC_INIT; /* padding zero: init == INIT */
    return eng__struct_init(c, &init, ENG__SIZES(ENG__UPTO(eng_campaign_spec, goal), sizeof init), version,
                            "eng_campaign_spec");
}

/* Version 2's control list; a version 1 caller's struct ends before it. */
static uint32_t control_group_of(const eng_campaign_spec *s)
{
    return s->version >= 2 ? s->control_group : 0;
}

void eng__camp_spec_enc(eng__wr *w, const eng_campaign_spec *s)
{
    eng__wr_str(w, s->name);
    eng__wr_svar(w, s->start);
    eng__wr_svar(w, s->end);
    eng__wr_str(w, s->unit);
    eng__wr_svar(w, s->type);
    eng__wr_svar(w, s->objective);
    eng__strs_enc(w, s->product_categories, s->n_product_categories);
    eng__strs_enc(w, s->product_items, s->n_product_items);
    eng__strs_enc(w, s->stores, s->n_stores);
    eng__strs_enc(w, s->zones, s->n_zones);
    eng__wr_uvar(w, s->control_percent);
    eng__wr_str(w, s->ga_account);
    eng__wr_svar(w, s->goal_mode);
    if (s->goal_mode == ENG_GOAL_CUSTOM)
        eng__goal_enc(w, s->goal);
    /* An optional tail of tagged fields (a record without it, as every record before version
     * 2, has none): 1 = the control list. Absent when 0, so the bytes (and the message content
     * hashes built on them) of every campaign without one are unchanged. */
    if (control_group_of(s)) {
        eng__wr_u8(w, 1);
        eng__wr_uvar(w, control_group_of(s));
    }
}

void eng__camp_spec_dec(eng__rd *r, eng__pool *p, eng_campaign_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->version = ENG_CAMPAIGN_SPEC_VERSION;
    s->name = eng__pool_rdstr(r, p);
    s->start = eng__rd_svar(r);
    s->end = eng__rd_svar(r);
    s->unit = eng__pool_rdstr(r, p);
    s->type = (int)eng__rd_svar(r);
    s->objective = (int)eng__rd_svar(r);
    s->product_categories = eng__strs_dec(r, p, &s->n_product_categories);
    s->product_items = eng__strs_dec(r, p, &s->n_product_items);
    s->stores = eng__strs_dec(r, p, &s->n_stores);
    s->zones = eng__strs_dec(r, p, &s->n_zones);
    s->control_percent = (uint32_t)eng__rd_uvar(r);
    s->ga_account = eng__pool_rdstr(r, p);
    s->goal_mode = (int)eng__rd_svar(r);
    if (s->goal_mode == ENG_GOAL_CUSTOM)
        s->goal = eng__goal_dec(r, p);
    while (eng__rd_ok(r) && eng__rd_left(r)) {
        uint8_t tag = eng__rd_u8(r);
        if (tag == 1 && !s->control_group) {
            uint64_t g = eng__rd_uvar(r);
            if (g == 0 || g > UINT32_MAX)
                r->err = ENG_ECORRUPT;
            s->control_group = (uint32_t)g;
        } else {
            r->err = ENG_ECORRUPT; /* an unknown tag, or one twice */
        }
    }
}

static int ga_ok(const char *s)
{
    if (strncmp(s, "UA-", 3) != 0 && strncmp(s, "G-", 2) != 0)
        return 0;
    size_t n = strlen(s);
    if (n > 32 || n < 4)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

void eng__camp_check(eng_engine *e, eng_validation *v, const eng_campaign_spec *s, const eng__org *o)
{
    if (eng__empty(s->name))
        eng__vr_add(v, ENG_EINVAL, "campaign.name", "a campaign needs a name");
    else if (strlen(s->name) > ENG__NAME_MAX)
        eng__vr_add(v, ENG_ETOOBIG, "campaign.name", "name longer than %d bytes", ENG__NAME_MAX);
    else
        eng__vr_text(v, "campaign.name", s->name, ENG__TEXT_NAME);
    if (!eng__time_ok(s->start))
        eng__vr_add(v, ENG_ERANGE, "campaign.start", "the start is outside 1970..9999");
    if (!eng__time_ok(s->end))
        eng__vr_add(v, ENG_ERANGE, "campaign.end", "the end is outside 1970..9999");
    else if (s->end <= s->start)
        eng__vr_add(v, ENG_ERANGE, "campaign.end", "the end must be after the start");
    if (!eng__empty(s->unit) && !eng__org_unit(o, s->unit))
        eng__vr_add(v, ENG_ENOTFOUND, "campaign.unit", "unit '%s' does not exist in org '%s'", s->unit, o->id);
    if (s->type != ENG_CAMPAIGN_BROADCAST)
        eng__vr_add(v, ENG_EINVAL, "campaign.type", "%d is not an eng_campaign_type", s->type);
    if (s->objective < ENG_OBJ_NONE || s->objective > ENG_OBJ_STORE_VISITS)
        eng__vr_add(v, ENG_EINVAL, "campaign.objective", "%d is not an eng_objective", s->objective);
    eng__strs_check(v, s->product_categories, s->n_product_categories, "campaign.product_categories", 128);
    eng__strs_check(v, s->product_items, s->n_product_items, "campaign.product_items", 128);
    eng__strs_check(v, s->stores, s->n_stores, "campaign.stores", 128);
    eng__strs_check(v, s->zones, s->n_zones, "campaign.zones", 128);
    size_t products = s->n_product_categories + s->n_product_items, places = s->n_stores + s->n_zones;
    if (s->objective == ENG_OBJ_PROMOTE_PRODUCTS && products == 0)
        eng__vr_add(v, ENG_EINVAL, "campaign.products", "\"promote specific products\" needs a category or item code");
    if (s->objective != ENG_OBJ_PROMOTE_PRODUCTS && products)
        eng__vr_add(v, ENG_EINVAL, "campaign.products", "products belong only to \"promote specific products\"");
    if (s->objective == ENG_OBJ_STORE_VISITS && places == 0)
        eng__vr_add(v, ENG_EINVAL, "campaign.stores", "\"increase store visits\" needs a store or zone");
    if (s->objective != ENG_OBJ_STORE_VISITS && places)
        eng__vr_add(v, ENG_EINVAL, "campaign.stores", "stores and zones belong only to \"increase store visits\"");
    if (s->control_percent > 50)
        eng__vr_add(v, ENG_ERANGE, "campaign.control_percent", "control share %u%% is outside 0..50",
                    s->control_percent);
    if (control_group_of(s) && o) {
        int rc = eng__audience_control_list_check(e, o->id, control_group_of(s), "campaign.control_group");
        if (rc)
            eng__vr_add(v, rc, "campaign.control_group", "%s", eng_error_last()->message);
    }
    if (!eng__empty(s->ga_account) && !ga_ok(s->ga_account))
        eng__vr_add(v, ENG_EINVAL, "campaign.ga_account", "'%s' is not a Google Analytics account (UA-... or G-...)",
                    s->ga_account);
    if (s->goal_mode < ENG_GOAL_DEFAULT || s->goal_mode > ENG_GOAL_CUSTOM) {
        eng__vr_add(v, ENG_EINVAL, "campaign.goal_mode", "%d is not an eng_goal_mode", s->goal_mode);
    } else if (s->goal_mode == ENG_GOAL_CUSTOM) {
        if (!o->settings.conversion_goals)
            eng__vr_add(v, ENG_EUNSUPPORTED, "campaign.goal", "conversion goals are not enabled for org '%s'", o->id);
        else
            eng__goal_check(v, s->goal, "campaign.goal");
        eng__goal_rule_check(e, v, o ? o->id : NULL, s->goal, "campaign.goal");
    }
}

/* ---- records ---- */

static void camp_enc(eng__wr *w, const void *obj)
{
    const eng__camp *c = obj;
    eng__wr_u64(w, c->id);
    eng__wr_str(w, c->org);
    eng__wr_str(w, c->created_by);
    eng__wr_svar(w, c->created_at);
    eng__wr_svar(w, c->updated_at);
    eng__wr_svar(w, c->goal_locked);
    eng__wr_uvar(w, c->n_msgs);
    for (size_t i = 0; i < c->n_msgs; i++)
        eng__wr_u64(w, c->msgs[i]);
    eng__camp_spec_enc(w, &c->spec);
}

static int camp_dec(eng__rd *r, eng__pool *p, void *obj)
{
    eng__camp *c = obj;
    c->id = eng__rd_u64(r);
    c->org = eng__pool_rdstr(r, p);
    c->created_by = eng__pool_rdstr(r, p);
    c->created_at = eng__rd_svar(r);
    c->updated_at = eng__rd_svar(r);
    c->goal_locked = (int)eng__rd_svar(r);
    uint64_t n = eng__rd_uvar(r);
    if (eng__rd_ok(r) && n > eng__rd_left(r) / 8)
        r->err = ENG_ECORRUPT;
    if (eng__rd_ok(r) && n) {
        c->msgs = eng__pool_alloc(p, (size_t)n * 8);
        if (!c->msgs)
            r->err = ENG_ENOMEM;
        for (uint64_t i = 0; eng__rd_ok(r) && i < n; i++)
            c->msgs[i] = eng__rd_u64(r);
        c->n_msgs = (size_t)n;
    }
    eng__camp_spec_dec(r, p, &c->spec);
    return 0;
}

int eng__camp_store(eng_engine *e, const eng__camp *c)
{
    return eng__camp_write(e, c, NULL, NULL);
}

int eng__camp_load(eng_engine *e, uint64_t id, eng__camp *c)
{
    char key[32];
    eng__key_id(key, sizeof key, 'c', id);
    int rc = eng__obj_load(e, key, ENG__REC_CAMPAIGN, "campaign", c, sizeof *c, &c->pool, camp_dec);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_ENOTFOUND, "campaign", "campaign %llu does not exist", (unsigned long long)id);
    if (rc == ENG_OK && c->id != id) {
        eng__camp_free(c);
        return eng__err(ENG_ECORRUPT, key, "campaign record does not decode");
    }
    return rc;
}

void eng__camp_free(eng__camp *c)
{
    eng__pool_free(&c->pool);
    memset(c, 0, sizeof(*c));
}

static void name_key(char *buf, size_t n, const char *org, const char *name)
{
    snprintf(buf, n, "m/n/%s/%s", org, name);
}

/* Deep copy of a spec into a pool, through the codec (one code path for both). */
static int spec_copy(eng__pool *p, const eng_campaign_spec *in, eng_campaign_spec *out)
{
    eng__wr w;
    eng__wr_init(&w, p->mem);
    eng__camp_spec_enc(&w, in);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    eng__rd r;
    eng__rd_init(&r, w.data, w.len);
    eng__camp_spec_dec(&r, p, out);
    eng__wr_free(&w);
    return r.err ? eng__nomem() : ENG_OK;
}

/* Resolve ENG_GOAL_DEFAULT against the org's default. */
static void resolve_goal(eng_campaign_spec *s, const eng__org *o)
{
    if (s->goal_mode != ENG_GOAL_DEFAULT)
        return;
    if (o->settings.conversion_goals && o->settings.has_default_goal) {
        s->goal_mode = ENG_GOAL_CUSTOM;
        s->goal = o->settings.default_goal; /* copied into the campaign's pool when stored */
    } else {
        s->goal_mode = ENG_GOAL_NONE;
        s->goal = NULL;
    }
}

static int spec_arg(const eng_campaign_spec *s)
{
    if (!s)
        return eng__err(ENG_EINVAL, "campaign", "campaign spec is NULL");
    if (s->version == 0 || s->version > ENG_CAMPAIGN_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "campaign.version", "unsupported eng_campaign_spec version %u", s->version);
    return eng__sub_version(s->goal, ENG_GOAL_SPEC_VERSION, "campaign.goal", "eng_goal_spec");
}

static int name_taken(eng_engine *e, const char *org, const char *name, uint64_t self, int *taken)
{
    char key[256];
    name_key(key, sizeof key, org, name);
    eng__rec rec;
    *taken = 0;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_NAME, ENG__MODEL_SCHEMA, &rec);
    if (eng__absent(rc))
        return ENG_OK;
    if (rc)
        return rc;
    *taken = !(rec.len == 8 && eng__get64(rec.payload) == self);
    eng__rec_free(e->store, &rec);
    return ENG_OK;
}

int eng__camp_access(const eng__actor *a, const eng__org *o, const eng__camp *c, int op, const char *what,
                     uint64_t id)
{
    if (strcmp(c->org, o->id) != 0) /* an org-scope actor of another org must not reach it */
        return eng__err(ENG_EDENIED, "actor", "%s %llu belongs to another org", what, (unsigned long long)id);
    return eng__access(a, o, op, c->spec.unit);
}

int eng__camp_write(eng_engine *e, const eng__camp *c, const char *actor, const char *action)
{
    char key[32], obj[48];
    eng__key_id(key, sizeof key, 'c', c->id);
    snprintf(obj, sizeof obj, "campaign/%llu", (unsigned long long)c->id);
    return eng__obj_put(e, key, ENG__REC_CAMPAIGN, camp_enc, c, c->org, actor, obj, action);
}

ENG_API int eng_campaign_create(eng_engine *e, const char *actor, const eng_campaign_spec *spec, uint64_t *id,
                                eng_validation **report)
{
    if (id)
        *id = 0;
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!id) {
        rc = eng__err(ENG_EINVAL, "id", "id is NULL");
        goto out;
    }
    if ((rc = spec_arg(spec)))
        goto out;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    eng__camp c = {0};
    eng__pool_init(&c.pool, &e->mem);
    /* Deny by default: without a role that edits, no report is given at all. */
    if (!(a.roles & (ENG_ROLE_AUTHOR | ENG_ROLE_ADMIN))) {
        rc = eng__access(&a, &o, ENG_OP_EDIT, NULL);
        goto done;
    }
    /* The owning unit must exist before scope can be judged; report it as a field. */
    if (!eng__empty(spec->unit) && !eng__org_unit(&o, spec->unit)) {
        eng_validation *v = eng__vr_new(&e->mem);
        eng__camp_check(e, v, spec, &o);
        rc = eng__vr_finish(v, report);
        goto done;
    }
    if ((rc = eng__access(&a, &o, ENG_OP_EDIT, spec->unit)))
        goto done;
    eng_campaign_spec s = *spec;
    resolve_goal(&s, &o);
    eng_validation *v = eng__vr_new(&e->mem);
    eng__camp_check(e, v, &s, &o);
    int taken = 0;
    if (!eng__empty(s.name) && strlen(s.name) <= ENG__NAME_MAX && (rc = name_taken(e, o.id, s.name, 0, &taken))) {
        eng_validation_free(v);
        goto done;
    }
    if (taken)
        eng__vr_add(v, ENG_EEXISTS, "campaign.name", "a campaign named '%s' exists in org '%s'", s.name, o.id);
    if ((rc = eng__vr_finish(v, report)))
        goto done;
    if ((rc = spec_copy(&c.pool, &s, &c.spec)))
        goto done;
    c.org = o.id;
    c.created_by = a.id;
    c.created_at = c.updated_at = eng__now(e);
    if ((rc = eng__kv_begin(e->store)))
        goto done;
    rc = eng__next_id(e, &c.id);
    if (rc == ENG_OK) {
        char key[256];
        uint8_t b[8];
        eng__put64(b, c.id);
        name_key(key, sizeof key, o.id, s.name);
        rc = eng__rec_put(e->store, ENG__K(key), ENG__REC_NAME, ENG__MODEL_SCHEMA, b, 8);
    }
    if (rc == ENG_OK)
        rc = eng__camp_write(e, &c, a.id, "create");
    if ((rc = eng__batch_end(e, rc)) == ENG_OK)
        *id = c.id;
done:
    eng__camp_free(&c);
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

static int goal_same(const eng_campaign_spec *x, const eng_campaign_spec *y, const eng__mem *mem)
{
    if (x->goal_mode != y->goal_mode)
        return 0;
    if (x->goal_mode != ENG_GOAL_CUSTOM)
        return 1;
    eng__wr a, b;
    eng__wr_init(&a, mem);
    eng__wr_init(&b, mem);
    eng__goal_enc(&a, x->goal);
    eng__goal_enc(&b, y->goal);
    int same = !a.err && !b.err && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    eng__wr_free(&a);
    eng__wr_free(&b);
    return same;
}

ENG_API int eng_campaign_update(eng_engine *e, const char *actor, uint64_t id, const eng_campaign_spec *spec,
                                eng_validation **report)
{
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = spec_arg(spec)))
        goto out;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    eng__camp c;
    eng__msg *msgs = NULL;
    size_t nm = 0;
    if ((rc = eng__camp_load(e, id, &c)))
        goto who;
    if ((rc = eng__camp_access(&a, &o, &c, ENG_OP_EDIT, "campaign", id)))
        goto done;
    if (strcmp(spec->unit ? spec->unit : "", c.spec.unit) != 0) {
        rc = eng__err(ENG_EINVAL, "campaign.unit", "the owning unit is fixed when the campaign is created");
        goto done;
    }
    eng_campaign_spec s = *spec;
    resolve_goal(&s, &o);
    if (c.goal_locked && !goal_same(&s, &c.spec, &e->mem)) {
        rc = eng__err(ENG_ESTATE, "campaign.goal",
                      "the conversion goal cannot change after the campaign's first message was approved");
        goto done;
    }
    /* Keep a goal that the org has since disabled only if it is unchanged. */
    eng_validation *v = eng__vr_new(&e->mem);
    eng__camp_check(e, v, &s, &o);
    if (s.goal_mode == ENG_GOAL_CUSTOM && !o.settings.conversion_goals && goal_same(&s, &c.spec, &e->mem))
        eng__vr_drop(v, "campaign.goal", ENG_EUNSUPPORTED);
    int taken = 0;
    if (!eng__empty(s.name) && strlen(s.name) <= ENG__NAME_MAX && (rc = name_taken(e, o.id, s.name, id, &taken))) {
        eng_validation_free(v);
        goto done;
    }
    if (taken)
        eng__vr_add(v, ENG_EEXISTS, "campaign.name", "a campaign named '%s' exists in org '%s'", s.name, o.id);
    if ((rc = eng__vr_finish(v, report)))
        goto done;
    /* Messages: none may be executing or executed; awaiting/approved go back to draft. */
    if (c.n_msgs) {
        msgs = eng__calloc(&e->mem, c.n_msgs, sizeof(*msgs));
        if (!msgs) {
            rc = eng__nomem();
            goto done;
        }
    }
    for (; nm < c.n_msgs; nm++) {
        if ((rc = eng__msg_load(e, c.msgs[nm], &msgs[nm])))
            goto done;
        if (msgs[nm].state == ENG_STATE_EXECUTING || msgs[nm].state == ENG_STATE_EXECUTED) {
            nm++;
            rc = eng__err(ENG_ESTATE, "campaign", "message %llu is %s: the campaign can no longer change",
                          (unsigned long long)c.msgs[nm - 1], eng__state_name(msgs[nm - 1].state));
            goto done;
        }
    }
    char oldname[ENG__NAME_MAX + 1];
    snprintf(oldname, sizeof oldname, "%s", c.spec.name);
    if ((rc = spec_copy(&c.pool, &s, &c.spec)))
        goto done;
    c.updated_at = eng__now(e);
    if ((rc = eng__kv_begin(e->store)))
        goto done;
    if (strcmp(oldname, s.name) != 0) {
        char key[256];
        uint8_t b[8];
        eng__put64(b, c.id);
        name_key(key, sizeof key, o.id, oldname);
        rc = eng__kv_del(e->store, ENG__K(key));
        name_key(key, sizeof key, o.id, s.name);
        if (rc == ENG_OK)
            rc = eng__rec_put(e->store, ENG__K(key), ENG__REC_NAME, ENG__MODEL_SCHEMA, b, 8);
    }
    if (rc == ENG_OK)
        rc = eng__camp_write(e, &c, a.id, "update");
    for (size_t i = 0; rc == ENG_OK && i < nm; i++) {
        eng__msg *m = &msgs[i];
        if (m->state != ENG_STATE_AWAITING && m->state != ENG_STATE_APPROVED)
            continue;
        m->state = ENG_STATE_DRAFT;
        m->approved = 0;
        rc = eng__msg_put_audited(e, o.id, a.id, m, "void");
    }
    rc = eng__batch_end(e, rc);
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

/* ---- snapshots ---- */
struct eng_campaign {
    eng__child h;
    eng__camp c;
};

ENG_API int eng_campaign_get(eng_engine *e, const char *actor, uint64_t id, eng_campaign **out)
{
    int rc = eng__enter_ptr(e, out, "out");
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    eng_campaign *h = eng__child_new(e, sizeof(*h), ENG__H_CAMPAIGN);
    if (!h) {
        rc = eng__nomem();
    } else if ((rc = eng__camp_load(e, id, &h->c)) == ENG_OK) {
        if ((rc = eng__camp_access(&a, &o, &h->c, ENG_OP_READ, "campaign", id)))
            eng__camp_free(&h->c);
    }
    if (rc)
        eng__child_drop(h);
    else
        *out = eng__child_give(h);
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_campaign_fields(const eng_campaign *c, const eng_campaign_spec **out)
{
    if (out)
        *out = NULL;
    int rc = eng__child_check(c, ENG__H_CAMPAIGN, "campaign", out);
    if (!rc)
        *out = &c->c.spec;
    return rc;
}

ENG_API int eng_campaign_status_init(eng_campaign_status *x, unsigned int version)
{
    static const eng_campaign_status init = ENG_CAMPAIGN_STATUS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_campaign_status");
}

ENG_API int eng_campaign_status_get(const eng_campaign *c, eng_campaign_status *out)
{
    int rc = eng__child_out(c, ENG__H_CAMPAIGN, "campaign", out, ENG__SIZES(sizeof *out), "eng_campaign_status");
    if (rc)
        return rc;
    eng_campaign_status full = {out->version, c->c.id, c->c.created_by, c->c.goal_locked, c->c.msgs, c->c.n_msgs};
    memcpy(out, &full, ENG__UPTO(eng_campaign_status, n_messages)); /* the fields of version 1 */
    return ENG_OK;
}

ENG_API void eng_campaign_free(eng_campaign *c)
{
    if (!eng__handle_live(c, ENG__H_CAMPAIGN))
        return;
    eng__camp_free(&c->c);
    eng__child_free(c);
}

/* ---- delete and list ---- */

ENG_API int eng_campaign_delete(eng_engine *e, const char *actor, uint64_t id)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    eng__camp c;
    if ((rc = eng__camp_load(e, id, &c)))
        goto who;
    rc = eng__camp_access(&a, &o, &c, ENG_OP_EDIT, "campaign", id);
    for (size_t i = 0; rc == ENG_OK && i < c.n_msgs; i++) {
        eng__msg m;
        if ((rc = eng__msg_load(e, c.msgs[i], &m)))
            break;
        if (m.state == ENG_STATE_EXECUTING || m.state == ENG_STATE_EXECUTED)
            rc = eng__err(ENG_ESTATE, "campaign", "message %llu is %s: the campaign cannot be deleted",
                          (unsigned long long)m.id, eng__state_name(m.state));
        eng__msg_free(&m);
    }
    if (rc == ENG_OK && (rc = eng__kv_begin(e->store)) == ENG_OK) {
        char key[256], obj[48];
        /* Each message goes with its own entry, so every object's history ends in "delete". */
        for (size_t i = 0; rc == ENG_OK && i < c.n_msgs; i++) {
            eng__key_id(key, sizeof key, 'g', c.msgs[i]);
            rc = eng__kv_del(e->store, ENG__K(key));
            snprintf(obj, sizeof obj, "message/%llu", (unsigned long long)c.msgs[i]);
            if (rc == ENG_OK)
                rc = eng__xengage_release(e, o.id, c.msgs[i]);
            if (rc == ENG_OK)
                rc = eng__audit_append(e, o.id, a.id, obj, "delete", "", 0);
        }
        name_key(key, sizeof key, o.id, c.spec.name);
        if (rc == ENG_OK)
            rc = eng__kv_del(e->store, ENG__K(key));
        eng__key_id(key, sizeof key, 'c', id);
        if (rc == ENG_OK)
            rc = eng__kv_del(e->store, ENG__K(key));
        snprintf(obj, sizeof obj, "campaign/%llu", (unsigned long long)id);
        if (rc == ENG_OK)
            rc = eng__audit_append(e, o.id, a.id, obj, "delete", "", 0);
        rc = eng__batch_end(e, rc);
    }
    eng__camp_free(&c);
who:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

typedef struct list_ctx {
    eng_engine *e;
    const eng__actor *a;
    const eng__org *o;
    uint64_t *ids;
    size_t n, cap;
    int rc;
} list_ctx;

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    list_ctx *l = user;
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_CAMPAIGN, ENG__MODEL_SCHEMA, &rec);
    if (rc)
        return l->rc = rc;
    /* Only the head of the record is needed: id, org; the unit is in the spec. */
    eng__pool p;
    eng__pool_init(&p, &l->e->mem);
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    uint64_t id = eng__rd_u64(&r);
    char *org = eng__pool_rdstr(&r, &p);
    eng__pool_rdstr(&r, &p);
    eng__rd_svar(&r);
    eng__rd_svar(&r);
    eng__rd_svar(&r);
    uint64_t nm = eng__rd_uvar(&r);
    if (eng__rd_ok(&r) && nm <= eng__rd_left(&r) / 8)
        eng__rd_bytes(&r, (size_t)nm * 8);
    else
        r.err = ENG_ECORRUPT;
    eng_campaign_spec s;
    eng__camp_spec_dec(&r, &p, &s);
    if (p.oom) {
        rc = l->rc = eng__nomem();
    } else if (r.err) {
        char k[64];
        eng__key_printable(key, klen, k, sizeof k);
        rc = l->rc = eng__err(ENG_ECORRUPT, k, "campaign record does not decode");
    } else if (strcmp(org, l->o->id) == 0) {
        if (eng__may(l->a, l->o, ENG_OP_READ, s.unit)) { /* skip quietly what the actor may not read */
            if (eng__grow(&l->e->mem, (void **)&l->ids, &l->cap, l->n + 1, sizeof(uint64_t)))
                rc = l->rc = eng__nomem();
            else
                l->ids[l->n++] = id;
        }
    }
    eng__pool_free(&p);
    return rc;
}

ENG_API int eng_campaign_list(eng_engine *e, const char *actor, uint64_t **ids, size_t *n)
{
    if (ids)
        *ids = NULL;
    if (n)
        *n = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!ids || !n) {
        rc = eng__err(ENG_EINVAL, ids ? "n" : "ids", "NULL out-parameter");
        goto out;
    }
    *ids = NULL;
    *n = 0;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    list_ctx l = {e, &a, &o, NULL, 0, 0, 0};
    rc = eng__kv_scan(e->store, ENG__K("m/c/"), list_cb, &l);
    if (l.rc)
        rc = l.rc;
    if (rc) {
        eng__free(&e->mem, l.ids);
    } else {
        *ids = l.ids;
        *n = l.n;
    }
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}
