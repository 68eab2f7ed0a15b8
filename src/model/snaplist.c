#include "model/snaplist.h"
#include "model/model_impl.h"
#include <stdio.h>
#include <string.h>
#include "base/handle.h"

static void release(eng__snaplist *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->drop(l->v + i * l->size);
    eng__free(&l->h.e->mem, l->v);
}

static int collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)val;
    (void)vlen;
    eng__snaplist *l = user;
    if (eng__grow(&l->h.e->mem, (void **)&l->v, &l->cap, l->n + 1, l->size))
        return eng__nomem();
    int rc = l->load(l, key, klen, l->v + l->n * l->size);
    if (rc == ENG_OK)
        l->n++;
    return eng__absent(rc) ? ENG_OK : rc;
}

int eng__snaplist_open(eng_engine *e, int kind, size_t size, eng__snaplist_load_fn load,
                       eng__snaplist_drop_fn drop, const void *user, const char *prefix, eng__snaplist **out)
{
    eng__snaplist *l = eng__child_new(e, sizeof *l, kind);
    if (!l)
        return eng__nomem();
    l->size = size;
    l->load = load;
    l->drop = drop;
    l->user = user;
    int rc = eng__kv_scan(e->store, prefix, strlen(prefix), collect_cb, l);
    l->user = NULL;
    if (rc) {
        release(l);
        eng__child_drop(l);
        return rc;
    }
    *out = eng__child_give(l);
    return ENG_OK;
}

const void *eng__snaplist_next(eng__snaplist *l)
{
    return l->pos < l->n ? l->v + l->pos++ * l->size : NULL;
}

void eng__snaplist_free(eng__snaplist *l)
{
    release(l);
    eng__child_free(l);
}

int eng__snaplist_list(eng_engine *e, const char *actor, const eng__snaplist_def *d, int want_out,
                       eng__snaplist **out)
{
    *out = NULL;
    int rc = eng__enter_ptr_(e, want_out, "out");
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who_may(e, actor, d->op, NULL, &a, &o)) == ENG_OK) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "%s%s%s", d->prefix, d->by_org ? o.id : "", d->by_org ? "/" : "");
        rc = eng__snaplist_open(e, d->kind, d->size, d->load, d->drop, o.id, prefix, out);
        eng__who_free(&a, &o);
    }
    eng__leave(e);
    return rc;
}

int eng__snaplist_step(void *it, const eng__snaplist_def *d, void *out, const void **obj)
{
    *obj = NULL;
    if (!eng__handle_live(it, d->kind)) {
        eng__out_clear(out, d->sizes, d->nsizes);
        return eng__err(ENG_EMISUSE, "iterator", "%s", d->misuse);
    }
    int rc = eng__out_open(out, d->sizes, d->nsizes, d->type, "out");
    if (rc)
        return rc;
    *obj = eng__snaplist_next(it);
    return *obj ? ENG_OK : ENG_ITEROVER;
}

void eng__snaplist_release(void *it, const eng__snaplist_def *d)
{
    if (eng__handle_live(it, d->kind))
        eng__snaplist_free(it);
}
