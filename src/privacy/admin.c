/* The privacy layer's use of the model: the admin check and the audit entry.
 * Kept apart: the one file of the layer that needs the model's internals
 * (whose names clash with the audience's). */
#include "model/model_impl.h"
#include "base/hash.h"

#include <stdio.h>
#include <string.h>

int eng__privacy_admin(eng_engine *e, const char *actor, char *org, size_t cap);
int eng__privacy_audit(eng_engine *e, const char *org, const char *actor, const char *ext, size_t len,
                       const char *action);

int eng__privacy_admin(eng_engine *e, const char *actor, char *org, size_t cap)
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

int eng__privacy_audit(eng_engine *e, const char *org, const char *actor, const char *ext, size_t len,
                       const char *action)
{
    /* The audit names whom by the SHA-256 of the external id, never the id. */
    uint8_t h[ENG__SHA256_LEN];
    char obj[9 + 2 * ENG__SHA256_LEN + 1];
    eng__sha256(ext, len, h);
    memcpy(obj, "customer/", 9);
    eng__hex(h, sizeof h, obj + 9);
    return eng__audit_append(e, org, actor, obj, action, NULL, 0);
}
