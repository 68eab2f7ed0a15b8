/* A public iterator over stored objects collected when it opens (actors,
 * offers): a child handle (core/engine_impl.h) holding an array of decoded
 * objects, so later changes to the store do not move it. */
#ifndef ENG_MODEL_SNAPLIST_H
#define ENG_MODEL_SNAPLIST_H

#include "core/engine_impl.h"

typedef struct eng__snaplist eng__snaplist;
/* Decode the object stored under @p key into @p obj (the list's element size);
 * ENG_ENOTFOUND skips the key. */
typedef int (*eng__snaplist_load_fn)(eng__snaplist *l, const char *key, size_t klen, void *obj);
typedef void (*eng__snaplist_drop_fn)(void *obj);

struct eng__snaplist {
    eng__child h;
    unsigned char *v;
    size_t size, n, cap, pos;
    eng__snaplist_load_fn load;
    eng__snaplist_drop_fn drop;
    const void *user; /* for load, only while the list opens */
};

/* A list of handle @p kind over every key under @p prefix, each loaded by @p load into an
 * element of @p size; on success *out is the given handle, else nothing is left behind. */
int eng__snaplist_open(eng_engine *e, int kind, size_t size, eng__snaplist_load_fn load,
                       eng__snaplist_drop_fn drop, const void *user, const char *prefix, eng__snaplist **out);
/* The next element, or NULL at the end. */
const void *eng__snaplist_next(eng__snaplist *l);
/* Release a given list (its elements, the handle, the engine reference). */
void eng__snaplist_free(eng__snaplist *l);

/* A public listing of an org's objects: what eng_X_list, eng_X_next and eng_X_iter_free share. */
typedef struct eng__snaplist_def {
    int kind;    /* the iterator's handle kind */
    int op;      /* what the acting actor must be allowed (ENG_OP_*) */
    size_t size; /* an element */
    const char *prefix; /* the keys listed: under prefix, then the org's id and '/' when by_org */
    int by_org;
    eng__snaplist_load_fn load; /* l->user: the acting actor's org id */
    eng__snaplist_drop_fn drop;
    const size_t *sizes; /* the versions of the caller's struct that next fills */
    unsigned nsizes;
    const char *type;   /* its name */
    const char *misuse; /* next's message for a NULL or freed iterator */
} eng__snaplist_def;

/* eng_X_list: the objects of @p actor's org, *out NULL on failure (ENG_EINVAL when @p want_out is 0). */
int eng__snaplist_list(eng_engine *e, const char *actor, const eng__snaplist_def *d, int want_out,
                       eng__snaplist **out);
/* eng_X_next up to the copy into @p out: the element in *obj, or ENG_ITEROVER, or the error. */
int eng__snaplist_step(void *it, const eng__snaplist_def *d, void *out, const void **obj);
/* eng_X_iter_free: a NULL or freed iterator is ignored. */
void eng__snaplist_release(void *it, const eng__snaplist_def *d);

#endif
