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

#endif
