/* Shared by the conformance suite's files: the backend under test and the
 * per-case fixture (a fresh storage location). */
#ifndef CONF_INTERNAL_H
#define CONF_INTERNAL_H

#include "conformance.h"
#include "conf_ref.h"

extern const conf_backend *conf_cur;

/* Open a handle over the case's location with the counting allocator (asserts). */
eng_store *conf_open(void *ctx);
/* Release a handle from conf_open; conf_forget when an engine took it over. */
void conf_close(eng_store *s);
void conf_forget(eng_store *s);
/* Skip the running case unless the backend is persistent. */
void conf_need_persistent(void);

/* Cases in conf_durable.c. */
void conf_reopen_persists(void **state);
void conf_free_with_open_batch(void **state);
void conf_killed_inside_batch(void **state);
void conf_killed_at_random_points(void **state);
void conf_engine_round_trip(void **state);

#endif
