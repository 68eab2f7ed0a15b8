/* Which org an acting user administers (for the org's events settings).
 * Kept apart from the rest of the layer: it is the one file that needs the
 * model's internals. */
#include "model/model_impl.h"

int eng__ev_admin_org(eng_engine *e, const char *actor, char *org, size_t cap);

#include <stdio.h>

int eng__ev_admin_org(eng_engine *e, const char *actor, char *org, size_t cap)
{
    eng__actor a;
    eng__org o;
    int rc = eng__who(e, actor, &a, &o);
    if (rc)
        return rc;
    if (!(rc = eng__access(&a, &o, ENG_OP_ADMIN, NULL)) && (size_t)snprintf(org, cap, "%s", a.org) >= cap)
        rc = eng__err(ENG_ETOOBIG, "org", "org id too long");
    eng__org_free(&o);
    eng__actor_free(&a);
    return rc;
}
