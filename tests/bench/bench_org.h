/* The start every engine-level benchmark shares (header only): a failed call
 * ends the run with the library's error, and the org `acme` (owner `root`)
 * with an author `ann` and an approver `bob`, so a campaign can be created and
 * approved. */
#ifndef ENG_BENCH_ORG_H
#define ENG_BENCH_ORG_H

#include <stdio.h>
#include <stdlib.h>

#include "engage.h"

/** Exit with the library's error when @p rc is not #ENG_OK; @p who names the benchmark. */
static inline void bench_check(const char *who, const char *what, int rc)
{
    if (rc) {
        fprintf(stderr, "%s: %s failed: %s: %s (%s)\n", who, what, eng_errstr(rc), eng_error_last()->message,
                eng_error_last()->detail);
        exit(1);
    }
}

/** The org `acme` with `root`, `ann` (author) and `bob` (approver). */
static inline void bench_org_with_actors(eng_engine *e, const char *who)
{
    bench_check(who, "org", eng_org_create(e, "acme", NULL, "root", NULL));
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    bench_check(who, "actor", eng_actor_put(e, "root", &a));
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    bench_check(who, "actor", eng_actor_put(e, "root", &a));
}

#endif
