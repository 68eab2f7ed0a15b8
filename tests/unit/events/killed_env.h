/* The knobs a killed test of the events layer (events_killed, events_killed_long)
 * changes, saved at a test's start and put back at its end, and the test's directory.
 * killed_env_begin sets the seal size and spills every segment (written behind);
 * killed_env_end removes the directory and checks that nothing leaked. */
#ifndef KILLED_ENV_H
#define KILLED_ENV_H

#include "events/keypar.h"
#include "events/events_impl.h"
#include "store/file_impl.h"
#include "test_alloc.h"
#include "test_util.h"

typedef struct killed_env {
    uint32_t seal;
    size_t spill, minrows;
    char *dir;
} killed_env;

static inline void killed_env_begin(killed_env *v, uint32_t seal_rows)
{
    v->seal = eng__seg_seal_rows;
    v->spill = eng__file_spill_min;
    v->minrows = eng__keypar_min_rows;
    eng__seg_seal_rows = seal_rows;
    eng__file_spill_min = 64; /* every segment a spilled value: written behind */
    v->dir = test_tmpdir();
}

static inline void killed_env_end(killed_env *v)
{
    test_rmtree(v->dir);
    free(v->dir);
    eng__seg_seal_rows = v->seal;
    eng__file_spill_min = v->spill;
    eng__keypar_min_rows = v->minrows;
    test_alloc_assert_clean();
}

#endif
