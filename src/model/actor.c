/* Actors: id, org, roles and scope, one record each under m/a/<id>. Actor
 * ids are unique in the engine so every call can name its actor alone. */
#include "model/model_impl.h"
#include "model/snaplist.h"
#include "base/handle.h"

#include <stdio.h>

ENG_API int eng_actor_spec_init(eng_actor_spec *a, unsigned int version)
{
    if (!a)
        return eng__err(ENG_EINVAL, "actor", "actor spec is NULL");
    if (version == 0 || version > ENG_ACTOR_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "actor.version", "unsupported eng_actor_spec version %u", version);
    memset(a, 0, sizeof(*a));
    a->version = version;
    a->scope = ENG_SCOPE_ORG;
    return ENG_OK;
}

/* The stored form: the spec plus the org it belongs to. */
typedef struct actor_rec {
    const eng_actor_spec *s;
    const char *org;
} actor_rec;

static void actor_enc(eng__wr *w, const void *obj)
{
    const actor_rec *x = obj;
    eng__wr_str(w, x->s->id);
    eng__wr_str(w, x->org);
    eng__wr_uvar(w, x->s->roles);
    eng__wr_svar(w, x->s->scope);
    eng__strs_enc(w, x->s->units, x->s->n_units);
}

static int actor_dec(eng__rd *r, eng__pool *p, void *obj)
{
    eng__actor *a = obj;
    a->id = eng__pool_rdstr(r, p);
    a->org = eng__pool_rdstr(r, p);
    a->roles = (unsigned)eng__rd_uvar(r);
    a->scope = (int)eng__rd_svar(r);
    a->units = (char **)eng__strs_dec(r, p, &a->n_units);
    return 0;
}

static void actor_key(char *key, size_t n, char *obj, size_t on, const char *id)
{
    snprintf(key, n, "m/a/%s", id);
    snprintf(obj, on, "actor/%s", id);
}

int eng__actor_store(eng_engine *e, const eng_actor_spec *s, const char *org, const char *by)
{
    char key[96], obj[96];
    actor_key(key, sizeof key, obj, sizeof obj, s->id);
    actor_rec x = {s, org};
    return eng__obj_put(e, key, ENG__REC_ACTOR, actor_enc, &x, org, by, obj, "put");
}

int eng__actor_load(eng_engine *e, const char *id, eng__actor *a)
{
    char key[96];
    snprintf(key, sizeof key, "m/a/%s", id);
    return eng__obj_load(e, key, ENG__REC_ACTOR, "actor", a, sizeof *a, &a->pool, actor_dec);
}

void eng__actor_free(eng__actor *a)
{
    if (a->lent)
        --*a->lent;
    eng__pool_free(&a->pool);
    memset(a, 0, sizeof(*a));
}

/* The actor and its org decoded from their records (@p araw, @p oraw: the records as read,
 * handed over when not NULL). */
static int who_load(eng_engine *e, const char *actor, eng__actor *a, eng__org *o, eng__val *araw, eng__val *oraw)
{
    memset(a, 0, sizeof *a); /* a caller may free them after a failure */
    memset(o, 0, sizeof *o);
    eng__pool_init(&a->pool, &e->mem);
    eng__pool_init(&o->pool, &e->mem);
    if (!eng__id_ok(actor))
        return eng__err(ENG_EDENIED, "actor", "no valid acting user given: access is denied by default");
    char key[96];
    snprintf(key, sizeof key, "m/a/%s", actor);
    int rc = eng__obj_load_raw(e, key, ENG__REC_ACTOR, "actor", a, sizeof *a, &a->pool, actor_dec, araw);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_EDENIED, "actor", "unknown actor '%s': access is denied by default", actor);
    if (rc)
        return rc;
    snprintf(key, sizeof key, "m/o/%s", a->org);
    rc = eng__obj_load_raw(e, key, ENG__REC_ORG, "org", o, sizeof *o, &o->pool, eng__org_dec, oraw);
    if (rc) {
        eng__actor_free(a);
        if (araw)
            eng__val_free(e->store, araw);
        if (rc == ENG_ENOTFOUND)
            return eng__err(ENG_EDENIED, "actor", "actor '%s' belongs to no existing org", actor);
    }
    return rc;
}

/* Does the record under prefix + id read back as @p was, byte for byte? */
static int reads_as(eng_engine *e, const char *prefix, const char *id, const eng__val *was)
{
    char key[96];
    snprintf(key, sizeof key, "%s%s", prefix, id);
    eng__val v;
    if (eng__kv_get(e->store, ENG__K(key), &v) != ENG_OK)
        return 0; /* who_load reads it again and says why */
    int same = v.len == was->len && memcmp(v.data, was->data, v.len) == 0;
    eng__val_free(e->store, &v);
    return same;
}

void eng__who_drop(eng_engine *e, eng__model_state *st)
{
    eng__actor_free(&st->who.a);
    eng__org_free(&st->who.o);
    eng__val_free(e->store, &st->who.araw);
    eng__val_free(e->store, &st->who.oraw);
    st->who.ok = 0;
}

/* Every call authorizes its actor: both records are read each time (another engine, the
 * host or a damaged disk may have changed them), but while they read back byte for byte as
 * when last decoded, the engine's decoded copies are lent instead of decoding them again (a
 * tenth of a small call). The caller gets the structs with empty pools of its own; freeing
 * them (eng__actor_free, eng__org_free) returns the loan. The copies are replaced only when
 * none is lent, so a lent pointer stays valid as long as its holder keeps the struct. */
int eng__who(eng_engine *e, const char *actor, eng__actor *a, eng__org *o)
{
    eng__model_state *st = eng__model(e);
    if (!st || !eng__id_ok(actor))
        return who_load(e, actor, a, o, NULL, NULL);
    if (!st->who.ok || strcmp(st->who.a.id, actor) != 0 || !reads_as(e, "m/a/", actor, &st->who.araw) ||
        !reads_as(e, "m/o/", st->who.a.org, &st->who.oraw)) {
        if (st->who.lent) /* held by a caller: decode for this one alone */
            return who_load(e, actor, a, o, NULL, NULL);
        if (st->who.ok)
            eng__who_drop(e, st);
        int rc = who_load(e, actor, &st->who.a, &st->who.o, &st->who.araw, &st->who.oraw);
        if (rc)
            return rc;
        st->who.ok = 1;
    }
    *a = st->who.a;
    *o = st->who.o;
    eng__pool_init(&a->pool, &e->mem);
    eng__pool_init(&o->pool, &e->mem);
    a->lent = o->lent = &st->who.lent;
    st->who.lent += 2;
    return ENG_OK;
}

ENG_API int eng_actor_put(eng_engine *e, const char *actor, const eng_actor_spec *spec)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a, other;
    eng__org o;
    if (!spec) {
        rc = eng__err(ENG_EINVAL, "actor", "actor spec is NULL");
        goto out;
    }
    if (spec->version == 0 || spec->version > ENG_ACTOR_SPEC_VERSION) {
        rc = eng__err(ENG_EVERSION, "actor.version", "unsupported eng_actor_spec version %u", spec->version);
        goto out;
    }
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    if (!eng__id_ok(spec->id)) {
        rc = eng__err(ENG_EINVAL, "actor.id", "actor id must be 1..64 of [A-Za-z0-9_.@-]");
        goto done;
    }
    if (spec->roles == 0 || (spec->roles & ~0xfu)) {
        rc = eng__err(ENG_EINVAL, "actor.roles", "roles 0x%x: give one or more eng_role bits", spec->roles);
        goto done;
    }
    if (spec->scope < ENG_SCOPE_ORG || spec->scope > ENG_SCOPE_UNIT) {
        rc = eng__err(ENG_EINVAL, "actor.scope", "%d is not an eng_scope", spec->scope);
        goto done;
    }
    size_t want_min = spec->scope == ENG_SCOPE_ORG ? 0 : 1;
    size_t want_max = spec->scope == ENG_SCOPE_ORG ? 0 : spec->scope == ENG_SCOPE_UNIT ? 1 : ENG__LIST_MAX;
    if (spec->n_units < want_min || spec->n_units > want_max || (spec->n_units && !spec->units)) {
        rc = eng__err(ENG_EINVAL, "actor.units", "scope %d takes %zu..%zu units, not %zu", spec->scope, want_min,
                      want_max, spec->n_units);
        goto done;
    }
    for (size_t i = 0; i < spec->n_units; i++)
        if (!spec->units[i] || !eng__org_unit(&o, spec->units[i])) {
            rc = eng__err(ENG_ENOTFOUND, "actor.units", "unit '%s' does not exist in org '%s'",
                          spec->units[i] ? spec->units[i] : "(null)", o.id);
            goto done;
        }
    rc = eng__actor_load(e, spec->id, &other);
    if (rc == ENG_OK) {
        int foreign = strcmp(other.org, o.id) != 0;
        eng__actor_free(&other);
        if (foreign) {
            rc = eng__err(ENG_EEXISTS, "actor.id", "actor id '%s' belongs to another org", spec->id);
            goto done;
        }
    } else if (!eng__absent(rc)) {
        goto done;
    }
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__actor_store(e, spec, o.id, a.id));
done:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

/* ---- reading, listing and removing actors ---- */

/* A stored actor as the caller's spec (strings borrowed from @p a). */
static void actor_out(const eng__actor *a, eng_actor_spec *out)
{
    out->id = a->id;
    out->roles = a->roles;
    out->scope = a->scope;
    out->units = (const char *const *)a->units;
    out->n_units = a->n_units;
}

ENG_API int eng_actor_get(eng_engine *e, const char *actor, const char *id, eng_actor_spec *out)
{
    if (out && out->version >= 1) {
        unsigned v = out->version;
        memset(out, 0, sizeof *out);
        out->version = v;
    }
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a, t;
    eng__org o;
    if (!out || !id) {
        rc = eng__err(ENG_EINVAL, out ? "id" : "out", "argument is NULL");
        goto out;
    }
    if (out->version == 0 || out->version > ENG_ACTOR_SPEC_VERSION) {
        rc = eng__err(ENG_EVERSION, "actor.version", "unsupported eng_actor_spec version %u", out->version);
        goto out;
    }
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    rc = eng__id_ok(id) ? eng__actor_load(e, id, &t) : ENG_ENOTFOUND;
    if (rc == ENG_ENOTFOUND)
        rc = eng__err(ENG_ENOTFOUND, "id", "no actor with that id");
    else if (!rc && strcmp(t.org, o.id) != 0) {
        eng__actor_free(&t);
        rc = eng__err(ENG_EDENIED, "id", "the actor belongs to another org");
    } else if (!rc) {
        eng__model_state *st = eng__model(e);
        if (!st) {
            eng__actor_free(&t);
            rc = eng__nomem();
        } else {
            if (st->has_actor_scratch)
                eng__actor_free(&st->actor_scratch);
            st->actor_scratch = t; /* keeps the strings alive until the next eng_actor_get */
            st->has_actor_scratch = 1;
            actor_out(&t, out);
        }
    }
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

struct eng_actor_iter {
    eng__snaplist l;
};

/* An actor of the listing org (l->user), or ENG_ENOTFOUND to skip the key. */
static int load_actor(eng__snaplist *l, const char *key, size_t klen, void *obj)
{
    char id[ENG__ID_MAX + 1];
    if (klen <= 4 || klen - 4 > ENG__ID_MAX)
        return ENG_ENOTFOUND;
    memcpy(id, key + 4, klen - 4);
    id[klen - 4] = 0;
    eng__actor *a = obj;
    int rc = eng__actor_load(l->h.e, id, a);
    if (rc == ENG_OK && strcmp(a->org, l->user) != 0) {
        eng__actor_free(a);
        rc = ENG_ENOTFOUND;
    }
    return rc;
}

static void drop_actor(void *obj)
{
    eng__actor_free(obj);
}

static const size_t actor_sizes[] = {sizeof(eng_actor_spec)};
static const eng__snaplist_def actors = {ENG__H_ACTOR_ITER, ENG_OP_ADMIN, sizeof(eng__actor), "m/a/", 0, load_actor,
                                         drop_actor, ENG__SIZES_OF(actor_sizes), "eng_actor_spec",
                                         "eng_actor_next: not an actor iterator (NULL or freed)"};

ENG_API int eng_actor_list(eng_engine *e, const char *actor, eng_actor_iter **out)
{
    eng__snaplist *l;
    int rc = eng__snaplist_list(e, actor, &actors, out != NULL, &l);
    if (out)
        *out = (eng_actor_iter *)l;
    return rc;
}

ENG_API int eng_actor_next(eng_actor_iter *it, eng_actor_spec *out)
{
    const void *x;
    int rc = eng__snaplist_step(it, &actors, out, &x);
    if (!rc)
        actor_out(x, out);
    return rc;
}

ENG_API void eng_actor_iter_free(eng_actor_iter *it)
{
    eng__snaplist_release(it, &actors);
}

ENG_API int eng_actor_remove(eng_engine *e, const char *actor, const char *id)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a, t;
    eng__org o;
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    rc = id && eng__id_ok(id) ? eng__actor_load(e, id, &t) : ENG_ENOTFOUND;
    if (rc == ENG_ENOTFOUND) {
        rc = eng__err(ENG_ENOTFOUND, "id", "no actor with that id");
        goto done;
    }
    if (rc)
        goto done;
    int foreign = strcmp(t.org, o.id) != 0, self = strcmp(t.id, a.id) == 0;
    eng__actor_free(&t);
    if (foreign) {
        rc = eng__err(ENG_EDENIED, "id", "the actor belongs to another org");
        goto done;
    }
    if (self) { /* an org always keeps the admin who acts */
        rc = eng__err(ENG_ESTATE, "id", "an actor cannot remove themselves");
        goto done;
    }
    char key[96], obj[96];
    actor_key(key, sizeof key, obj, sizeof obj, id);
    /* The audit keeps who they were: earlier entries name them, and this one the removal. */
    if ((rc = eng__kv_begin(e->store)) == ENG_OK) {
        int r2 = eng__kv_del(e->store, key, strlen(key));
        if (!r2)
            r2 = eng__audit_append(e, o.id, a.id, obj, "remove", "", 0);
        rc = eng__batch_end(e, r2);
    }
done:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}
