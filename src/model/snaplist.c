#include "model/snaplist.h"
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
    return rc == ENG_ENOTFOUND ? ENG_OK : rc;
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
