/* Access checks: roles decide the operation, scope decides the objects.
 * Deny by default: an unknown actor, role or unit is refused. */
#include "model/model_impl.h"

static const char *op_name(int op)
{
    static const char *const n[] = {"read", "edit", "approve", "execute", "administer"};
    return op >= 0 && op <= ENG_OP_ADMIN ? n[op] : "?";
}

/* Roles that grant each operation. */
static unsigned op_roles(int op)
{
    switch (op) {
    case ENG_OP_READ: return ENG_ROLE_VIEWER | ENG_ROLE_AUTHOR | ENG_ROLE_APPROVER | ENG_ROLE_ADMIN;
    case ENG_OP_EDIT: return ENG_ROLE_AUTHOR | ENG_ROLE_ADMIN;
    case ENG_OP_APPROVE: return ENG_ROLE_APPROVER | ENG_ROLE_ADMIN;
    case ENG_OP_EXECUTE: return ENG_ROLE_ADMIN;
    case ENG_OP_ADMIN: return ENG_ROLE_ADMIN;
    default: return 0;
    }
}

/* Does the actor's scope cover an object owned by @p unit ("" = the org)? */
static int covers(const eng__actor *a, const eng__org *o, const char *unit)
{
    if (a->scope == ENG_SCOPE_ORG)
        return 1;
    if (eng__empty(unit))
        return 0; /* unit scopes never reach the org itself */
    for (size_t i = 0; i < a->n_units; i++)
        if (eng__org_unit_within(o, unit, a->units[i]))
            return 1;
    return 0;
}

int eng__may(const eng__actor *a, const eng__org *o, int op, const char *unit)
{
    if (!(a->roles & op_roles(op)) || (op == ENG_OP_ADMIN && a->scope != ENG_SCOPE_ORG))
        return 0;
    if (!eng__empty(unit) && !eng__org_unit(o, unit))
        return 0;
    return covers(a, o, unit);
}

int eng__access(const eng__actor *a, const eng__org *o, int op, const char *unit)
{
    if (!(a->roles & op_roles(op)))
        return eng__err(ENG_EDENIED, "actor", "actor '%s' has no role that may %s", a->id, op_name(op));
    if (op == ENG_OP_ADMIN && a->scope != ENG_SCOPE_ORG)
        return eng__err(ENG_EDENIED, "actor", "actor '%s' may not %s: needs org scope", a->id, op_name(op));
    if (!eng__empty(unit) && !eng__org_unit(o, unit))
        return eng__err(ENG_EDENIED, "unit", "unit '%s' is not a unit of org '%s'", unit, o->id);
    if (!covers(a, o, unit))
        return eng__err(ENG_EDENIED, "actor", "actor '%s' may not %s objects of %s%s: outside their scope", a->id,
                        op_name(op), eng__empty(unit) ? "the org" : "unit ", eng__empty(unit) ? "" : unit);
    return ENG_OK;
}

int eng__who_may(eng_engine *e, const char *actor, int op, const char *unit, eng__actor *a, eng__org *o)
{
    int rc = eng__who(e, actor, a, o);
    if (rc == ENG_OK && op >= 0 && (rc = eng__access(a, o, op, unit)))
        eng__who_free(a, o);
    return rc;
}

void eng__who_free(eng__actor *a, eng__org *o)
{
    eng__org_free(o);
    eng__actor_free(a);
}

ENG_API int eng_access_check(eng_engine *e, const char *actor, int op, const char *unit)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (op < ENG_OP_READ || op > ENG_OP_ADMIN) {
        rc = eng__err(ENG_EINVAL, "op", "%d is not an eng_op", op);
    } else {
        eng__actor a;
        eng__org o;
        if ((rc = eng__who_may(e, actor, op, unit, &a, &o)) == ENG_OK)
            eng__who_free(&a, &o);
    }
    eng__leave(e);
    return rc;
}
