/* Which org an acting user administers (for the org's events settings), and
 * whether an org named directly exists. Kept apart from the rest of the
 * layer: it is the one file that needs the model's internals. */
#include "model/model_impl.h"

int eng__ev_admin_org(eng_engine *e, const char *actor, char *org, size_t cap);
int eng__org_exists(eng_engine *e, const char *org);

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

/* ENG_OK when the org was created (eng_org_create), ENG_ENOTFOUND naming it otherwise. */
int eng__org_exists(eng_engine *e, const char *org)
{
    eng__org o;
    int rc = eng__org_load(e, org, &o);
    eng__org_free(&o);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_ENOTFOUND, "org", "org '%.80s' does not exist (create it with eng_org_create())", org);
    return rc;
}
