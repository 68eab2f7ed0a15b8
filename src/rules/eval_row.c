/* Row evaluator: walks the typed node array. SQL three-valued logic: null
 * operands make comparisons null; and/or/not are Kleene; a row is selected
 * only when the result is true. No allocation: lower()/upper() are views. */
#include "rules/rules_impl.h"

#include <string.h>

/* any()/count(): the condition sees its item variable through this getter,
 * which answers the variable's pseudo-field and passes every other read on. */
typedef struct var_ctx {
    eng__rget_fn get;
    void *ctx;
    uint32_t field;
    const char *s;
    size_t len;
} var_ctx;

static int var_get(void *vctx, uint32_t field, eng__rval *out)
{
    var_ctx *v = vctx;
    if (field != v->field)
        return v->get(v->ctx, field, out);
    memset(out, 0, sizeof *out);
    out->t = ENG_RT_STRING;
    out->s = v->s;
    out->len = v->len;
    return ENG_OK;
}

static void set_bool(eng__rval *o, int b)
{
    memset(o, 0, sizeof *o);
    o->t = ENG_RT_BOOL;
    o->i = b != 0;
}

static void set_null(eng__rval *o)
{
    memset(o, 0, sizeof *o);
    o->t = ENG_RT_NULL;
}

static int cmp_holds(int op, int c)
{
    switch (op) {
    case ENG_RULE_OP_EQ: return c == 0;
    case ENG_RULE_OP_NE: return c != 0;
    case ENG_RULE_OP_LT: return c < 0;
    case ENG_RULE_OP_LE: return c <= 0;
    case ENG_RULE_OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Kleene and of two three-valued results: 0 false, 1 true, 2 null. */
static int k_and(int x, int y)
{
    return (x == 0 || y == 0) ? 0 : (x == 2 || y == 2) ? 2 : 1;
}

int eng__rule_eval(const eng_rule *r, int32_t idx, eng__rget_fn get, void *ctx, eng__rval *out)
{
    const eng__rnode *n = &r->nodes[idx];
    eng__rval x, y, z;
    int rc;
    switch (n->kind) {
    case N_LIT:
        *out = n->lit;
        return ENG_OK;
    case N_FIELD:
    case N_VAR:
        if (!get)
            return eng__err(ENG_ERROR, "", "internal: field read without a row");
        return get(ctx, n->field, out);
    case N_NOT:
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)))
            return rc;
        if (x.t == ENG_RT_NULL)
            set_null(out);
        else
            set_bool(out, !x.i);
        return ENG_OK;
    case N_AND:
    case N_OR: {
        int stop = n->kind == N_AND ? 0 : 1, seen_null = 0;
        for (uint32_t k = 0; k < n->n; k++) {
            if ((rc = eng__rule_eval(r, r->kids[n->first + k], get, ctx, &x)))
                return rc;
            if (x.t == ENG_RT_NULL)
                seen_null = 1;
            else if (x.i == stop) {
                set_bool(out, stop);
                return ENG_OK;
            }
        }
        if (seen_null)
            set_null(out);
        else
            set_bool(out, !stop);
        return ENG_OK;
    }
    case N_CMP:
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)) || (rc = eng__rule_eval(r, n->b, get, ctx, &y)))
            return rc;
        if (x.t == ENG_RT_NULL || y.t == ENG_RT_NULL)
            set_null(out);
        else
            set_bool(out, cmp_holds(n->op, eng__rval_cmp(&x, &y)));
        return ENG_OK;
    case N_IN:
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)))
            return rc;
        if (!r->sets[n->set].n) /* in (): false, even for null (SQL) */
            set_bool(out, n->neg);
        else if (x.t == ENG_RT_NULL)
            set_null(out);
        else
            set_bool(out, eng__rset_has(&r->sets[n->set], &x) != n->neg);
        return ENG_OK;
    case N_BETWEEN: {
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)) || (rc = eng__rule_eval(r, n->b, get, ctx, &y)) ||
            (rc = eng__rule_eval(r, n->c, get, ctx, &z)))
            return rc;
        if (x.t == ENG_RT_NULL) {
            set_null(out);
            return ENG_OK;
        }
        int lo = y.t == ENG_RT_NULL ? 2 : eng__rval_cmp(&x, &y) >= 0;
        int hi = z.t == ENG_RT_NULL ? 2 : eng__rval_cmp(&x, &z) <= 0;
        int res = k_and(lo, hi);
        if (res == 2)
            set_null(out);
        else
            set_bool(out, res != n->neg);
        return ENG_OK;
    }
    case N_ISNULL:
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)))
            return rc;
        set_bool(out, (x.t == ENG_RT_NULL) != n->neg);
        return ENG_OK;
    case N_STROP:
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)) || (rc = eng__rule_eval(r, n->b, get, ctx, &y)))
            return rc;
        if (x.t == ENG_RT_NULL || y.t == ENG_RT_NULL)
            set_null(out);
        else if (x.t == ENG_RT_STRING_LIST)
            set_bool(out, eng__rval_list_has(&x, &y));
        else
            set_bool(out, n->op == ENG_RULE_OP_CONTAINS      ? eng__rval_str_contains(&x, &y)
                          : n->op == ENG_RULE_OP_STARTS_WITH ? eng__rval_str_starts(&x, &y)
                                                             : eng__rval_str_ends(&x, &y));
        return ENG_OK;
    case N_CALL:
        if (n->op == F_TODAY) {
            memset(out, 0, sizeof *out);
            out->t = ENG_RT_DATE;
            out->i = r->today;
            return ENG_OK;
        }
        if ((rc = eng__rule_eval(r, n->a, get, ctx, &x)))
            return rc;
        if (x.t == ENG_RT_NULL) {
            set_null(out);
            return ENG_OK;
        }
        if (n->op == F_ANY || n->op == F_COUNT) {
            var_ctx v = {get, ctx, n->field, NULL, 0};
            int64_t hits = 0, nulls = 0;
            for (size_t k = 0; k < x.count; k++) {
                eng__rval_list_item(&x, k, &v.s, &v.len);
                if ((rc = eng__rule_eval(r, n->b, var_get, &v, &y)))
                    return rc;
                hits += y.t != ENG_RT_NULL && y.i;
                nulls += y.t == ENG_RT_NULL;
                if (n->op == F_ANY && hits)
                    break;
            }
            if (n->op == F_COUNT) {
                memset(out, 0, sizeof *out);
                out->t = ENG_RT_INT;
                out->i = hits;
            } else if (!hits && nulls) {
                set_null(out);
            } else {
                set_bool(out, hits > 0);
            }
            return ENG_OK;
        }
        switch (n->op) {
        case F_LOWER:
        case F_UPPER:
            *out = x;
            out->fold = n->op == F_LOWER ? 1 : 2;
            return ENG_OK;
        case F_LEN:
            memset(out, 0, sizeof *out);
            out->t = ENG_RT_INT;
            out->i = x.t == ENG_RT_STRING_LIST ? eng__rval_list_len(&x) : eng__utf8_len(x.s, x.len);
            return ENG_OK;
        case F_DAYS_SINCE:
            memset(out, 0, sizeof *out);
            out->t = ENG_RT_INT;
            out->i = (int64_t)r->today - (x.t == ENG_RT_TIMESTAMP ? eng__floor_div(x.i, ENG_DAY) : x.i);
            return ENG_OK;
        case F_DATE: {
            int32_t d = 0;
            memset(out, 0, sizeof *out);
            if (!eng__parse_date(x.s, x.len, &d))
                return eng__rerr(ENG_ETYPE, n->line, n->col, "not a date");
            out->t = ENG_RT_DATE;
            out->i = d;
            return ENG_OK;
        }
        case F_TIMESTAMP: {
            int64_t ms = 0;
            memset(out, 0, sizeof *out);
            if (!eng__parse_timestamp(x.s, x.len, &ms))
                return eng__rerr(ENG_ETYPE, n->line, n->col, "not a timestamp");
            out->t = ENG_RT_TIMESTAMP;
            out->i = ms;
            return ENG_OK;
        }
        default:
            break;
        }
        break;
    default:
        break;
    }
    return eng__err(ENG_ERROR, "", "internal: bad rule node");
}

/* The public row accessor, checked: the host's value must have the field's type. */
typedef struct row_ctx {
    const eng_rule *r;
    eng_rule_get_fn get;
    void *user;
} row_ctx;

static int row_get(void *vctx, uint32_t field, eng__rval *out)
{
    row_ctx *c = vctx;
    eng_rule_value v;
    memset(&v, 0, sizeof v);
    const eng_rule_field *f = &c->r->fields[field];
    v.type = f->type;
    v.scale = f->scale;
    int rc = c->get(field, &v, c->user);
    if (rc)
        return rc > 0 ? eng__err(ENG_ERROR, f->name, "row accessor returned %d", rc) : rc;
    memset(out, 0, sizeof *out);
    if (v.type == ENG_RT_NULL) {
        out->t = ENG_RT_NULL;
        return ENG_OK;
    }
    if ((int)v.type != (int)f->type)
        return eng__err(ENG_ETYPE, f->name, "row accessor gave a %s for field '%s' of type %s",
                        eng__rtype_name(v.type), f->name, eng__rtype_name(f->type));
    out->t = (uint8_t)v.type;
    switch (v.type) {
    case ENG_RT_BOOL: out->i = v.v.b != 0; break;
    case ENG_RT_DATE: out->i = v.v.date; break;
    case ENG_RT_DECIMAL:
        if (v.scale < 0 || v.scale > ENG_RULE_MAX_SCALE)
            return eng__err(ENG_ETYPE, f->name, "row accessor gave decimal scale %d for field '%s'", v.scale, f->name);
        out->scale = (int8_t)v.scale;
        out->i = v.v.i;
        break;
    case ENG_RT_STRING:
        if (!v.v.s.ptr && v.v.s.len)
            return eng__err(ENG_EINVAL, f->name, "row accessor gave a NULL string for field '%s'", f->name);
        out->s = v.v.s.ptr ? v.v.s.ptr : "";
        out->len = v.v.s.len;
        break;
    case ENG_RT_STRING_LIST:
        if (!v.v.list.items && v.v.list.count)
            return eng__err(ENG_EINVAL, f->name, "row accessor gave a NULL list for field '%s'", f->name);
        for (size_t k = 0; k < v.v.list.count; k++)
            if (!v.v.list.items[k])
                return eng__err(ENG_EINVAL, f->name, "row accessor gave a NULL item in list '%s'", f->name);
        out->items = v.v.list.items;
        out->lens = v.v.list.lens;
        out->count = v.v.list.count;
        break;
    default: out->i = v.v.i; break;
    }
    return ENG_OK;
}

ENG_API int eng_rule_eval_row(const eng_rule *rule, eng_rule_get_fn get, void *user, int *result)
{
    if (result)
        *result = ENG_RULE_NULL;
    int rc = eng__rule_check(rule);
    if (rc)
        return rc;
    if (!get || !result)
        return eng__err(ENG_EINVAL, !get ? "get" : "result", "eng_rule_eval_row: %s is NULL", !get ? "get" : "result");
    row_ctx c = {rule, get, user};
    eng__rval v;
    if ((rc = eng__rule_eval(rule, rule->root, row_get, &c, &v)))
        return rc;
    *result = v.t == ENG_RT_NULL ? ENG_RULE_NULL : v.i ? ENG_RULE_TRUE : ENG_RULE_FALSE;
    return ENG_OK;
}
