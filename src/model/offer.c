/* The offers catalogue: one record per offer under m/f/<org>/<id>, written
 * and audited through the object layer. Messages claim an offer (claim.c);
 * this file only keeps the catalogue. */
#include "model/model_impl.h"
#include "model/snaplist.h"
#include "base/handle.h"

#include <stdio.h>

ENG_API int eng_offer_spec_init(eng_offer_spec *s, unsigned int version)
{
    static const eng_offer_spec init = ENG_OFFER_SPEC_INIT;
    return eng__struct_init(s, &init, ENG__SIZES(sizeof init), version, "eng_offer_spec");
}

static void offer_enc(eng__wr *w, const void *obj)
{
    const eng_offer_spec *s = obj;
    eng__wr_str(w, s->id);
    eng__wr_str(w, s->name);
    eng__wr_svar(w, s->valid_from);
    eng__wr_svar(w, s->valid_until);
    eng__wr_svar(w, s->coupon_source);
    eng__wr_str(w, s->coupon_code);
    eng__wr_str(w, s->coupon_pool);
}

static int offer_dec(eng__rd *r, eng__pool *p, void *obj)
{
    eng__offer *of = obj;
    of->s.version = ENG_OFFER_SPEC_VERSION;
    of->s.id = eng__pool_rdstr(r, p);
    of->s.name = eng__pool_rdstr(r, p);
    of->s.valid_from = eng__rd_svar(r);
    of->s.valid_until = eng__rd_svar(r);
    of->s.coupon_source = (int)eng__rd_svar(r);
    of->s.coupon_code = eng__pool_rdstr(r, p);
    of->s.coupon_pool = eng__pool_rdstr(r, p);
    return of->s.coupon_source < ENG_COUPON_COMMON || of->s.coupon_source > ENG_COUPON_GENERATED;
}

static void offer_key(char *key, size_t n, const char *org, const char *id)
{
    snprintf(key, n, "m/f/%s/%s", org, id);
}

int eng__offer_load(eng_engine *e, const char *org, const char *id, eng__offer *of)
{
    char key[160];
    if (!eng__id_ok(id)) {
        memset(of, 0, sizeof *of);
        eng__pool_init(&of->pool, &e->mem);
        return ENG_ENOTFOUND;
    }
    offer_key(key, sizeof key, org, id);
    return eng__obj_load(e, key, ENG__REC_OFFER, "offer", of, sizeof *of, &of->pool, offer_dec);
}

void eng__offer_free(eng__offer *of)
{
    eng__pool_free(&of->pool);
    memset(of, 0, sizeof *of);
}

int eng__offer_terms_equal(const eng_offer_spec *of, const eng_incentive *in)
{
    return in->coupon_source == of->coupon_source &&
           strcmp(in->coupon_code ? in->coupon_code : "", of->coupon_code ? of->coupon_code : "") == 0 &&
           strcmp(in->coupon_pool ? in->coupon_pool : "", of->coupon_pool ? of->coupon_pool : "") == 0;
}

/* The first flaw of a spec, as an error naming its field. */
static int offer_check(const eng_offer_spec *s)
{
    if (!s)
        return eng__err(ENG_EINVAL, "offer", "offer spec is NULL");
    if (s->version == 0 || s->version > ENG_OFFER_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "offer.version", "unsupported eng_offer_spec version %u", s->version);
    if (!eng__id_ok(s->id))
        return eng__err(ENG_EINVAL, "offer.id", "offer id must be 1..64 of [A-Za-z0-9_.@-]");
    if (eng__empty(s->name) || strlen(s->name) > ENG__NAME_MAX || eng__name_flaw(s->name))
        return eng__err(ENG_EINVAL, "offer.name", "an offer needs a name of 1..128 bytes of text without control characters");
    if (!eng__time_ok(s->valid_from))
        return eng__err(ENG_ERANGE, "offer.valid_from", "valid_from is outside 1970..9999");
    if (!eng__time_ok(s->valid_until) || s->valid_until <= s->valid_from)
        return eng__err(ENG_ERANGE, "offer.valid_until", "valid_until must be after valid_from (and before 9999)");
    if (s->coupon_source < ENG_COUPON_COMMON || s->coupon_source > ENG_COUPON_GENERATED)
        return eng__err(ENG_EINVAL, "offer.coupon_source", "%d is not an eng_coupon_source", s->coupon_source);
    if (s->coupon_source == ENG_COUPON_COMMON) {
        if (eng__empty(s->coupon_code) || !eng__coupon_code_ok(s->coupon_code))
            return eng__err(ENG_EINVAL, "offer.coupon_code",
                            "a common-code offer needs a code of 1..64 printable bytes without spaces");
        if (!eng__empty(s->coupon_pool))
            return eng__err(ENG_EINVAL, "offer.coupon_pool", "a common-code offer has no pool");
    } else {
        if (!eng__id_ok(s->coupon_pool))
            return eng__err(ENG_EINVAL, "offer.coupon_pool", "an offer of uploaded or generated codes needs a pool id");
        if (!eng__empty(s->coupon_code))
            return eng__err(ENG_EINVAL, "offer.coupon_code", "only a common-code offer has a code");
    }
    return ENG_OK;
}

/* create (exists = 0), update (exists = 1) */
static int offer_write(eng_engine *e, const char *actor, const eng_offer_spec *spec, int exists)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who_may(e, actor, ENG_OP_EDIT, NULL, &a, &o)))
        goto out;
    if ((rc = offer_check(spec)))
        goto done;
    eng__offer old;
    rc = eng__offer_load(e, o.id, spec->id, &old);
    if (rc == ENG_OK)
        eng__offer_free(&old);
    if (rc == ENG_OK && !exists)
        rc = eng__err(ENG_EEXISTS, "offer.id", "the org already has an offer '%s'", spec->id);
    else if (rc == ENG_ENOTFOUND && exists)
        rc = eng__err(ENG_ENOTFOUND, "offer.id", "the org has no offer '%s'", spec->id);
    else if (eng__absent(rc))
        rc = ENG_OK;
    if (rc)
        goto done;
    eng_offer_spec s = *spec; /* stored with "" for an absent string */
    s.version = ENG_OFFER_SPEC_VERSION;
    if (!s.coupon_code)
        s.coupon_code = "";
    if (!s.coupon_pool)
        s.coupon_pool = "";
    char key[160], obj[96];
    offer_key(key, sizeof key, o.id, s.id);
    snprintf(obj, sizeof obj, "offer/%s", s.id);
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__obj_put(e, key, ENG__REC_OFFER, offer_enc, &s, o.id, a.id, obj,
                                             exists ? "update" : "create"));
done:
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_offer_create(eng_engine *e, const char *actor, const eng_offer_spec *spec)
{
    return offer_write(e, actor, spec, 0);
}

ENG_API int eng_offer_update(eng_engine *e, const char *actor, const eng_offer_spec *spec)
{
    return offer_write(e, actor, spec, 1);
}

/* After the engine is entered: the acting actor, allowed @p op, and the offer @p id of their org.
 * On failure nothing is held. */
static int offer_find(eng_engine *e, const char *actor, int op, const char *id, eng__actor *a, eng__org *o,
                      eng__offer *of)
{
    int rc = eng__who_may(e, actor, op, NULL, a, o);
    if (rc)
        return rc;
    if ((rc = eng__offer_load(e, o->id, id ? id : "", of)) == ENG_ENOTFOUND)
        rc = eng__err(ENG_ENOTFOUND, "id", "the org has no such offer");
    if (rc)
        eng__who_free(a, o);
    return rc;
}

ENG_API int eng_offer_remove(eng_engine *e, const char *actor, const char *id)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    eng__offer of;
    if ((rc = offer_find(e, actor, ENG_OP_EDIT, id, &a, &o, &of)) == ENG_OK) {
        eng__offer_free(&of);
        char key[160], obj[96];
        offer_key(key, sizeof key, o.id, id);
        snprintf(obj, sizeof obj, "offer/%s", id);
        if ((rc = eng__kv_begin(e->store)) == ENG_OK) {
            int r2 = eng__kv_del(e->store, ENG__K(key));
            if (!r2)
                r2 = eng__audit_append(e, o.id, a.id, obj, "remove", "", 0);
            rc = eng__batch_end(e, r2);
        }
        eng__who_free(&a, &o);
    }
    eng__leave(e);
    return rc;
}

/* Copy the caller's version of @p s into @p out. */
static void offer_out(eng_offer_spec *out, const eng_offer_spec *s)
{
    unsigned v = out->version;
    *out = *s; /* version 1 is the whole struct */
    out->version = v;
}

static const size_t offer_sizes[] = {sizeof(eng_offer_spec)}; /* one version */

ENG_API int eng_offer_get(eng_engine *e, const char *actor, const char *id, eng_offer_spec *out)
{
    int rc = eng__enter_out(e, out, ENG__SIZES_OF(offer_sizes), "eng_offer_spec", "out");
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    eng__offer of;
    if ((rc = offer_find(e, actor, ENG_OP_READ, id, &a, &o, &of)) == ENG_OK) {
        eng__who_free(&a, &o);
        eng__model_state *st = eng__model(e);
        if (!st) {
            eng__offer_free(&of);
            rc = eng__nomem();
        } else {
            if (st->has_offer_scratch)
                eng__offer_free(&st->offer_scratch);
            st->offer_scratch = of; /* keeps the strings alive until the next eng_offer_get */
            st->has_offer_scratch = 1;
            offer_out(out, &st->offer_scratch.s);
        }
    }
    eng__leave(e);
    return rc;
}

/* ---- listing ---- */

struct eng_offer_iter {
    eng__snaplist l;
};

static int load_offer(eng__snaplist *l, const char *key, size_t klen, void *obj)
{
    char k[160];
    if (klen >= sizeof k)
        return ENG_ENOTFOUND;
    memcpy(k, key, klen);
    k[klen] = 0;
    if (!strrchr(k, '/'))
        return ENG_ENOTFOUND;
    eng__offer *of = obj;
    return eng__obj_load(l->h.e, k, ENG__REC_OFFER, "offer", of, sizeof *of, &of->pool, offer_dec);
}

static void drop_offer(void *obj)
{
    eng__offer_free(obj);
}

static const eng__snaplist_def offers = {ENG__H_OFFER_ITER, ENG_OP_READ, sizeof(eng__offer), "m/f/", 1, load_offer,
                                         drop_offer, ENG__SIZES_OF(offer_sizes), "eng_offer_spec",
                                         "eng_offer_next: not an offer iterator (NULL or freed)"};

ENG_API int eng_offer_list(eng_engine *e, const char *actor, eng_offer_iter **out)
{
    eng__snaplist *l;
    int rc = eng__snaplist_list(e, actor, &offers, out != NULL, &l);
    if (out)
        *out = (eng_offer_iter *)l;
    return rc;
}

ENG_API int eng_offer_next(eng_offer_iter *it, eng_offer_spec *out)
{
    const void *of;
    int rc = eng__snaplist_step(it, &offers, out, &of);
    if (!rc)
        offer_out(out, &((const eng__offer *)of)->s);
    return rc;
}

ENG_API void eng_offer_iter_free(eng_offer_iter *it)
{
    eng__snaplist_release(it, &offers);
}
