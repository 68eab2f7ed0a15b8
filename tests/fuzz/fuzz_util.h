/* Shared by the fuzz targets: an invariant check that names itself, the
 * chunked reader that streams an input in small pieces, the input layout of
 * the CSV import targets, and the org with an author and an approver that the
 * world-building targets start from. */
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

/* The input of a CSV import target: byte 0 the error mode (bit 0) and the skip limit (the
 * rest), byte 1 the chunk size of the streamed import (1..17), then the CSV. 0: too short. */
static inline int fuzz_csv_input(const uint8_t *data, size_t size, eng_import_options *o, size_t *step,
                                 const char **csv, size_t *len)
{
    if (size < 2)
        return 0;
    eng_import_options_init(o, ENG_IMPORT_OPTIONS_VERSION);
    o->on_error = data[0] & 1 ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
    o->max_bad_rows = data[0] >> 1;
    *step = 1 + data[1] % 17;
    *csv = (const char *)data + 2;
    *len = size - 2;
    return 1;
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
