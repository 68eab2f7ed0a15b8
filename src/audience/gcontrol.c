/* The org-wide global control group: a persistent holdout no campaign of the
 * org contacts. Random (a share chosen by a hash of (seed, id), the same hash
 * as a campaign's split, so adding customers never moves anyone) or the
 * members of an uploaded group. While it is on, resolving an audience splits
 * it into non-members (test) and members (control) instead of the campaign's
 * own split, and the executor's view of a customer (view.c) reports a member
 * as unreachable, so a customer added after an approval is not sent to
 * either. Frozen audiences keep their sets: changing the setting never
 * rewrites what was approved, nor the reports built on it. */
#include "audience/audience_impl.h"
#include "audience/audience_link.h"
#include "base/codec.h"

#include <stdio.h>
#include <string.h>

#define GC_V 1

static double test_ratio(const eng__gcontrol *g)
{
    return (100.0 - (double)g->percent) / 100.0;
}

int eng__gc_member(const eng__aud *a, uint32_t id)
{
    const eng__gcontrol *g = &a->gc;
    if (g->mode == ENG_GLOBAL_CONTROL_RANDOM)
        return !eng__idset_split_side(g->seed, test_ratio(g), id);
    if (g->mode == ENG_GLOBAL_CONTROL_UPLOADED) {
        const eng__group *grp = eng__group_find((eng__aud *)a, g->group);
        return grp && eng__idset_contains(&grp->members, id);
    }
    return 0;
}

int eng__gc_split(eng__aud *a, const eng__idset *all, eng__idset *test, eng__idset *control)
{
    const eng__gcontrol *g = &a->gc;
    if (g->mode == ENG_GLOBAL_CONTROL_RANDOM)
        return eng__split_cached(&a->split, &a->e->mem, all, g->seed, test_ratio(g), test, control);
    const eng__group *grp = eng__group_find((eng__aud *)a, g->group);
    if (!grp) /* set_gc and delete_group keep the group while it is used */
        return eng__err(ENG_ECORRUPT, "global_control.group", "the global control group %u is missing", g->group);
    int rc = eng__idset_op(ENG__SET_AND, control, all, &grp->members);
    return rc ? rc : eng__idset_op(ENG__SET_ANDNOT, test, all, &grp->members);
}

static void gc_key(const eng__aud *a, char *k, size_t cap, size_t *len)
{
    eng__aud_keys(a, k, cap, "gc", len);
}

int eng__gc_load(eng__aud *a)
{
    char k[ENG__AUD_KEY_MAX];
    size_t kl;
    gc_key(a, k, sizeof k, &kl);
    eng__rec rec;
    int rc = eng__rec_get(a->e->store, k, kl, ENG__REC_AUD_GCONTROL, GC_V, &rec);
    if (eng__absent(rc)) /* never set: off */
        return ENG_OK;
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    eng__gcontrol g;
    g.mode = eng__rd_u8(&r);
    g.percent = (uint32_t)eng__rd_uvar(&r);
    g.seed = eng__rd_u64(&r);
    g.group = (uint32_t)eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || eng__rd_left(&r) || g.mode < ENG_GLOBAL_CONTROL_OFF || g.mode > ENG_GLOBAL_CONTROL_UPLOADED ||
        (g.mode == ENG_GLOBAL_CONTROL_RANDOM && (g.percent < 1 || g.percent > 50)))
        rc = eng__err(ENG_ECORRUPT, "gc", "bad global control setting");
    else
        a->gc = g;
    eng__rec_free(a->e->store, &rec);
    return rc;
}

static int check(eng__aud *a, const eng_global_control *in, eng__gcontrol *g)
{
    if (!in)
        return eng__err(ENG_EINVAL, "global_control", "the setting is NULL");
    if (in->version == 0 || in->version > ENG_GLOBAL_CONTROL_VERSION)
        return eng__err(ENG_EVERSION, "global_control.version", "unsupported eng_global_control version %u",
                        in->version);
    memset(g, 0, sizeof *g);
    g->mode = in->mode;
    if (in->mode == ENG_GLOBAL_CONTROL_OFF)
        return ENG_OK;
    if (in->mode == ENG_GLOBAL_CONTROL_RANDOM) {
        if (in->percent < 1 || in->percent > 50)
            return eng__err(ENG_ERANGE, "global_control.percent", "global control share %u%% is outside 1..50",
                            in->percent);
        g->percent = in->percent;
        g->seed = in->seed;
        return ENG_OK;
    }
    if (in->mode != ENG_GLOBAL_CONTROL_UPLOADED)
        return eng__err(ENG_EINVAL, "global_control.mode", "%d is not an eng_global_control_mode", in->mode);
    int rc = eng__aud_control_list_check(a, in->group, "global_control.group");
    if (!rc)
        g->group = in->group;
    return rc;
}

int eng__aud_control_list_check(eng__aud *a, uint32_t group, const char *what)
{
    const eng__group *grp = eng__group_find(a, group);
    if (!grp)
        return eng__group_missing(a, group, what);
    if (grp->kind != ENG_GROUP_UPLOADED)
        return eng__err(ENG_EINVAL, what, "group %u is not an uploaded group", group);
    return ENG_OK;
}

int eng__audience_control_list_check(eng_engine *e, const char *org, uint32_t group, const char *what)
{
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    return rc ? rc : eng__aud_control_list_check(a, group, what);
}

static int set_gc(eng_engine *e, const eng__aud_cx *cx, const eng_global_control *in)
{
    eng__aud *a;
    eng__gcontrol g;
    int rc = eng__aud_get_cx(e, cx, &a);
    if (rc || (rc = check(a, in, &g)))
        return rc;
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u8(&w, (uint8_t)g.mode);
    eng__wr_uvar(&w, g.percent);
    eng__wr_u64(&w, g.seed);
    eng__wr_uvar(&w, g.group);
    char k[ENG__AUD_KEY_MAX];
    size_t kl;
    gc_key(a, k, sizeof k, &kl);
    if ((rc = w.err ? eng__nomem() : eng__kv_begin(e->store))) {
        eng__wr_free(&w);
        return rc;
    }
    snprintf(a->obj, sizeof a->obj, "global-control");
    if (g.mode == ENG_GLOBAL_CONTROL_OFF)
        snprintf(a->detail, sizeof a->detail, "off");
    else if (g.mode == ENG_GLOBAL_CONTROL_RANDOM)
        snprintf(a->detail, sizeof a->detail, "random %u%% seed %llu", (unsigned)g.percent,
                 (unsigned long long)g.seed);
    else
        snprintf(a->detail, sizeof a->detail, "uploaded group %u", (unsigned)g.group);
    if ((rc = eng__rec_put_wr(e->store, k, kl, ENG__REC_AUD_GCONTROL, GC_V, &w)))
        return eng__aud_abort(e->store, rc);
    if ((rc = eng__aud_commit(a, cx)))
        return rc;
    a->gc = g;
    return ENG_OK;
}

int eng__aud_gc_set(eng_engine *e, const eng__aud_cx *cx, const eng_global_control *gc)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = set_gc(e, cx, gc);
    eng__leave(e);
    return rc;
}

int eng__aud_gc_get(eng_engine *e, const eng__aud_cx *cx, eng_global_control *out)
{
    unsigned v = out ? out->version : 0;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_global_control_get: out is NULL");
    if (v == 0 || v > ENG_GLOBAL_CONTROL_VERSION)
        return eng__err(ENG_EVERSION, "out.version", "unsupported eng_global_control version %u", v);
    memset(out, 0, sizeof *out); /* version 1 is the whole struct */
    out->version = v;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        out->mode = a->gc.mode;
        out->percent = a->gc.percent;
        out->seed = a->gc.seed;
        out->group = a->gc.group;
    }
    eng__leave(e);
    return rc;
}

int eng__aud_gc_contains(eng_engine *e, const eng__aud_cx *cx, uint32_t id, int *out)
{
    if (out)
        *out = 0;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_global_control_contains: out is NULL");
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (id >= a->t.n)
            rc = eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
        else
            *out = eng__gc_member(a, id);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_global_control_init(eng_global_control *gc, unsigned int version)
{
    static const eng_global_control init = ENG_GLOBAL_CONTROL_INIT;
    return eng__struct_init(gc, &init, ENG__SIZES(sizeof init), version, "eng_global_control");
}
