/* What the generated calls of tests/abi/gen_api_calls.py share with their driver
 * (test_api_calls.c). */
#ifndef API_CALLS_H
#define API_CALLS_H

#include <stddef.h>
#include <string.h>

#include "engage.h"

typedef struct api_call {
    const char *name;
    void (*call)(eng_engine *e);
} api_call;

extern const api_call api_calls[];
extern const size_t api_ncalls;
extern unsigned long calls;

/* A broken rule: @p what of parameter @p param (or of the call) in @p where. */
void bad(const char *where, const char *param, const char *what);
void bad_code(const char *where, int rc, int want);
/* A failure @p rc must be the one eng_error_last() tells, with a message. */
void told(const char *where, int rc);
int all_zero(const void *p, size_t n);
/* An engine on a memory store with the org "acme" (admin "root"); @p store receives the store
 * when not NULL (else the engine owns nothing more to free than the store kept in a list). */
eng_engine *fresh_engine(eng_store **store);

#endif
