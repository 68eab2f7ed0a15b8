/* Shared by the fuzz targets: an invariant check that names itself, the
 * chunked reader that streams an input in small pieces, and the org with an
 * author and an approver that the world-building targets start from. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"

#define CHECK(cond)                                                                                     \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "%s: %s failed (line %d; last error: %s)\n", __FILE__, #cond, __LINE__,      \
                    eng_error_last()->message);                                                        \
            abort();                                                                                   \
        }                                                                                              \
    } while (0)

typedef struct fuzz_chunks {
    const uint8_t *p;
    size_t left, step;
} fuzz_chunks;

/* eng_read_fn over a buffer, at most c->step bytes per call. */
static inline long fuzz_read_chunk(void *buf, size_t cap, void *user)
{
    fuzz_chunks *c = user;
    size_t n = c->left < c->step ? c->left : c->step;
    if (n > cap)
        n = cap;
    memcpy(buf, c->p, n);
    c->p += n;
    c->left -= n;
    return (long)n;
}

/* Org "acme" (settings @p s) with author "ann" and approver "bob", created by "root". */
static inline void fuzz_org(eng_engine *e, const eng_org_settings *s)
{
    CHECK(eng_org_create(e, "acme", s, "root", NULL) == ENG_OK);
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    CHECK(eng_actor_put(e, "root", &a) == ENG_OK);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    CHECK(eng_actor_put(e, "root", &a) == ENG_OK);
}

#endif
