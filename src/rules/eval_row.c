/* Row evaluator: walks the typed node array with an explicit stack (no C
 * recursion: a rule max_depth deep evaluates on a small thread stack). SQL
 * three-valued logic: null operands make comparisons null; and/or/not are
 * Kleene; a row is selected only when the result is true. No allocation for
 * rules up to ENG__EVAL_LOCAL levels deep: lower()/upper() are views. */
#include "rules/rules_impl.h"

#include <string.h>

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

static void set_int(eng__rval *o, int64_t i)
{
    memset(o, 0, sizeof *o);
    o->t = ENG_RT_INT;
    o->i = i;
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

/* One node whose children are being evaluated: the explicit stack replaces
 * the C recursion, so nesting costs heap (about 200 B a level, only past
 * ENG__EVAL_LOCAL levels), never C stack. */
struct eng__eframe {
    int32_t idx;
    uint32_t k;         /* children done (and/or); operands gathered; any/count: items done */
    int64_t hits, nulls;
    eng__rval x, y;     /* operands so far; any/count: x is the list */
    const char *vs;     /* any/count: the variable's outer value, restored when done */
    size_t vlen;
};

/* Value of a simple node (no children to evaluate): 1 when *v is set. */
static int leaf(const eng_rule *r, const eng__rnode *n, eng__rget_fn get, void *ctx, const eng__rstr *vars,
                eng__rval *v, int *rc)
{
    *rc = ENG_OK;
    switch (n->kind) {
    case N_LIT:
        *v = n->lit;
        return 1;
    case N_FIELD:
        *rc = get ? get(ctx, n->field, v) : eng__err(ENG_ERROR, "", "internal: field read without a row");
        return 1;
    case N_VAR:
        memset(v, 0, sizeof *v);
        v->t = ENG_RT_STRING;
        v->s = vars[n->field - r->nfields].s;
        v->len = vars[n->field - r->nfields].len;
        return 1;
    case N_CALL:
        if (n->op != F_TODAY)
            return 0;
        memset(v, 0, sizeof *v);
        v->t = ENG_RT_DATE;
        v->i = r->today;
        return 1;
    default: return 0;
    }
}

/* A one-operand function of a non-null value. */
static int call1(const eng_rule *r, const eng__rnode *n, const eng__rval *x, eng__rval *out)
{
    switch (n->op) {
    case F_LOWER:
    case F_UPPER:
        *out = *x;
        out->fold = n->op == F_LOWER ? 1 : 2;
        return ENG_OK;
    case F_LEN:
        set_int(out, x->t == ENG_RT_STRING_LIST ? eng__rval_list_len(x) : eng__utf8_len(x->s, x->len));
        return ENG_OK;
    case F_DAYS_SINCE:
        set_int(out, (int64_t)r->today - (x->t == ENG_RT_TIMESTAMP ? eng__floor_div(x->i, ENG_DAY) : x->i));
        return ENG_OK;
    case F_DATE: {
        int32_t d = 0;
        if (!eng__parse_date(x->s, x->len, &d))
            return eng__rerr(ENG_ETYPE, n->line, n->col, "not a date");
        memset(out, 0, sizeof *out);
        out->t = ENG_RT_DATE;
        out->i = d;
        return ENG_OK;
    }
    case F_TIMESTAMP: {
        int64_t ms = 0;
        if (!eng__parse_timestamp(x->s, x->len, &ms))
            return eng__rerr(ENG_ETYPE, n->line, n->col, "not a timestamp");
        memset(out, 0, sizeof *out);
        out->t = ENG_RT_TIMESTAMP;
        out->i = ms;
        return ENG_OK;
    }
    default: return eng__err(ENG_ERROR, "", "internal: bad rule function");
    }
}

static int push(const eng_rule *r, eng__estack *st, int32_t idx)
{
    if (st->top == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : ENG__EVAL_LOCAL;
        eng__eframe *f = eng__malloc(&r->mem, cap * sizeof *f);
        if (!f)
            return eng__nomem();
        if (st->top) /* the first growth of an empty stack has nothing (maybe NULL) to copy */
            memcpy(f, st->f, st->top * sizeof *f);
        if (st->heap)
            eng__free(&r->mem, st->f);
        st->f = f;
        st->cap = cap;
        st->heap = 1;
    }
    eng__eframe *f = &st->f[st->top++];
    f->idx = idx;
    f->k = 0;
    f->hits = f->nulls = 0;
    return ENG_OK;
}

int eng__rule_eval_st(const eng_rule *r, int32_t idx, eng__rget_fn get, void *ctx, eng__estack *st, eng__rval *out)
{
    eng__rstr vars[ENG__RULE_MAX_VARS];
    eng__rval v;
    int rc;
    memset(vars, 0, sizeof vars);
    st->top = 0;
descend:
    for (;;) { /* go down to a leaf, pushing every node with children */
        const eng__rnode *n = &r->nodes[idx];
        if (leaf(r, n, get, ctx, vars, &v, &rc)) {
            if (rc)
                return rc;
            break;
        }
        if (n->kind != N_AND && n->kind != N_OR && n->a < 0)
            return eng__err(ENG_ERROR, "", "internal: bad rule node");
        if ((rc = push(r, st, idx)))
            return rc;
        idx = n->kind == N_AND || n->kind == N_OR ? r->kids[n->first] : n->a;
    }
    for (;;) { /* v is the value of the node just finished: hand it to its parent */
        if (!st->top) {
            *out = v;
            return ENG_OK;
        }
        eng__eframe *f = &st->f[st->top - 1];
        const eng__rnode *n = &r->nodes[f->idx];
        switch (n->kind) {
        case N_NOT:
            if (v.t != ENG_RT_NULL)
                set_bool(&v, !v.i);
            break;
        case N_AND:
        case N_OR: {
            int stop = n->kind == N_AND ? 0 : 1;
            if (v.t == ENG_RT_NULL)
                f->nulls = 1;
            else if (v.i == stop) {
                set_bool(&v, stop);
                break;
            }
            if (++f->k < n->n) {
                idx = r->kids[n->first + f->k];
                goto descend;
            }
            if (f->nulls)
                set_null(&v);
            else
                set_bool(&v, !stop);
            break;
        }
        case N_CMP:
        case N_STROP:
            if (f->k++ == 0) {
                f->x = v;
                idx = n->b;
                goto descend;
            }
            if (f->x.t == ENG_RT_NULL || v.t == ENG_RT_NULL)
                set_null(&v);
            else if (n->kind == N_CMP)
                set_bool(&v, cmp_holds(n->op, eng__rval_cmp(&f->x, &v)));
            else if (f->x.t == ENG_RT_STRING_LIST)
                set_bool(&v, eng__rval_list_has(&f->x, &v));
            else
                set_bool(&v, n->op == ENG_RULE_OP_CONTAINS      ? eng__rval_str_contains(&f->x, &v)
                             : n->op == ENG_RULE_OP_STARTS_WITH ? eng__rval_str_starts(&f->x, &v)
                                                                : eng__rval_str_ends(&f->x, &v));
            break;
        case N_IN:
            if (!r->sets[n->set].n) /* in (): false, even for null (SQL) */
                set_bool(&v, n->neg);
            else if (v.t != ENG_RT_NULL)
                set_bool(&v, eng__rset_has(&r->sets[n->set], &v) != n->neg);
            break;
        case N_BETWEEN: {
            if (f->k < 2) {
                if (f->k++ == 0)
                    f->x = v;
                else
                    f->y = v;
                idx = f->k == 1 ? n->b : n->c;
                goto descend;
            }
            if (f->x.t == ENG_RT_NULL) {
                set_null(&v);
                break;
            }
            int lo = f->y.t == ENG_RT_NULL ? 2 : eng__rval_cmp(&f->x, &f->y) >= 0;
            int hi = v.t == ENG_RT_NULL ? 2 : eng__rval_cmp(&f->x, &v) <= 0;
            int res = k_and(lo, hi);
            if (res == 2)
                set_null(&v);
            else
                set_bool(&v, res != n->neg);
            break;
        }
        case N_ISNULL:
            set_bool(&v, (v.t == ENG_RT_NULL) != n->neg);
            break;
        case N_CALL:
            if (n->op != F_ANY && n->op != F_COUNT) {
                if (v.t != ENG_RT_NULL && (rc = call1(r, n, &v, &v)))
                    return rc;
                break;
            }
            {
                eng__rstr *var = &vars[n->field - r->nfields];
                if (f->k == 0) { /* the list */
                    if (v.t == ENG_RT_NULL)
                        break;
                    f->x = v;
                    f->vs = var->s;
                    f->vlen = var->len;
                } else { /* the condition for item k - 1 */
                    f->hits += v.t != ENG_RT_NULL && v.i;
                    f->nulls += v.t == ENG_RT_NULL;
                }
                if (f->k < f->x.count && !(n->op == F_ANY && f->hits)) {
                    eng__rval_list_item(&f->x, f->k++, &var->s, &var->len);
                    idx = n->b;
                    goto descend;
                }
                var->s = f->vs; /* an outer any() of the same variable reads its own item again */
                var->len = f->vlen;
                if (n->op == F_COUNT)
                    set_int(&v, f->hits);
                else if (!f->hits && f->nulls)
                    set_null(&v);
                else
                    set_bool(&v, f->hits > 0);
            }
            break;
        default: return eng__err(ENG_ERROR, "", "internal: bad rule node");
        }
        st->top--;
    }
}

int eng__rule_eval(const eng_rule *r, int32_t idx, eng__rget_fn get, void *ctx, eng__rval *out)
{
    eng__eframe local[ENG__EVAL_LOCAL];
    eng__estack st = {local, ENG__EVAL_LOCAL, 0, 0};
    int rc = eng__rule_eval_st(r, idx, get, ctx, &st, out);
    eng__estack_free(r, &st);
    return rc;
}

void eng__estack_free(const eng_rule *r, eng__estack *st)
{
    if (st->heap)
        eng__free(&r->mem, st->f);
    st->f = NULL;
    st->cap = st->top = 0;
    st->heap = 0;
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
    eng_error_clear();
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
