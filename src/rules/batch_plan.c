/* Batch plan: made once per eng_rule_eval_batch() call, per boolean node.
 * Constants become ranges in each column's own units (exact for any decimal
 * scale), `in` sets are converted to column units, and a subtree reading one
 * dictionary-encoded column is evaluated once per dictionary entry. and/or
 * kids are ordered by an estimate of how many rows each decides. */
#include "rules/batch_impl.h"

/* Table building: the one field reads as dictionary entry tab_code (or null). */
static int table_get(void *vctx, uint32_t f, eng__rval *out)
{
    bctx *c = vctx;
    const eng_rule_column *col = col_of(c, f);
    memset(out, 0, sizeof *out);
    if (c->tab_null) {
        out->t = ENG_RT_NULL;
        return ENG_OK;
    }
    out->t = (uint8_t)col->type;
    if (col->type == ENG_RT_BOOL)
        out->i = c->tab_code;
    else if (!col->dict[c->tab_code])
        return dict_hole(c->r->fields[f].name, c->tab_code);
    else
        out->s = dict_str(col, c->tab_code, &out->len);
    return ENG_OK;
}

static int64_t clamp64(i128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static i128 p10(int k)
{
    i128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* Literal (v, ls) in column units of scale cs: floor and exactness. */
static void to_units(int64_t v, int ls, int cs, i128 *fl, int *exact)
{
    if (cs >= ls) {
        *fl = (i128)v * p10(cs - ls);
        *exact = 1;
        return;
    }
    i128 d = p10(ls - cs), q = (i128)v / d, rem = (i128)v % d;
    if (rem < 0)
        q--;
    *fl = q;
    *exact = rem == 0;
}

static int lit_scale(const eng__rnode *n)
{
    return n->lit.t == ENG_RT_DECIMAL ? n->lit.scale : 0;
}

static int num_col(int t)
{
    return t == ENG_RT_INT || t == ENG_RT_DECIMAL || t == ENG_RT_DATE || t == ENG_RT_TIMESTAMP;
}

static void set_range(bplan *p, i128 lo, i128 hi)
{
    p->kind = P_RANGE;
    if (lo > hi || lo > INT64_MAX || hi < INT64_MIN) {
        p->lo = 1;
        p->hi = 0;
        return;
    }
    p->lo = clamp64(lo);
    p->hi = clamp64(hi);
}

/* x op (f, exact) as an inclusive interval of integers x; *neg for != */
static void cmp_interval(int op, i128 f, int ex, i128 *lo, i128 *hi, int *neg)
{
    i128 MIN = INT64_MIN, MAX = INT64_MAX;
    *neg = 0;
    switch (op) {
    case ENG_RULE_OP_EQ: *lo = ex ? f : 1; *hi = ex ? f : 0; break;
    case ENG_RULE_OP_NE: *lo = ex ? f : 1; *hi = ex ? f : 0; *neg = 1; break;
    case ENG_RULE_OP_LT: *lo = MIN; *hi = ex ? f - 1 : f; break;
    case ENG_RULE_OP_LE: *lo = MIN; *hi = f; break;
    case ENG_RULE_OP_GT: *lo = f + 1; *hi = MAX; break;
    default: *lo = ex ? f : f + 1; *hi = MAX; break;
    }
}

/* days_since(d) in [lo, hi]  <=>  d's day in [today - hi, today - lo]: a range on
 * the date column, or on the timestamp column from the first to the last
 * millisecond of those days. Returns 0 when node a is not days_since(field). */
static int days_since_range(bctx *c, const eng__rnode *a, i128 lo, i128 hi, bplan *p)
{
    if (a->kind != N_CALL || a->op != F_DAYS_SINCE || c->r->nodes[a->a].kind != N_FIELD)
        return 0;
    const eng__rnode *f = &c->r->nodes[a->a];
    i128 dlo = (i128)c->r->today - hi, dhi = (i128)c->r->today - lo;
    p->field = f->field;
    if (lo > hi)
        set_range(p, 1, 0);
    else if (f->type == ENG_RT_DATE)
        set_range(p, dlo, dhi);
    else
        set_range(p, dlo * ENG_DAY, (dhi + 1) * ENG_DAY - 1);
    return 1;
}

static int cmp_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a], *b = &c->r->nodes[n->b];
    if (b->kind != N_LIT)
        return 0;
    i128 f, lo, hi;
    int ex, neg;
    if (a->kind == N_CALL && a->op == F_DAYS_SINCE) {
        to_units(b->lit.i, lit_scale(b), 0, &f, &ex);
        cmp_interval(n->op, f, ex, &lo, &hi, &neg);
        if (!days_since_range(c, a, lo, hi, p))
            return 0;
        p->neg = (uint8_t)neg;
        return 1;
    }
    if (a->kind != N_FIELD || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    to_units(b->lit.i, lit_scale(b), cs, &f, &ex);
    cmp_interval(n->op, f, ex, &lo, &hi, &neg);
    p->field = a->field;
    set_range(p, lo, hi);
    p->neg = (uint8_t)neg;
    return 1;
}

static int between_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a], *lo = &c->r->nodes[n->b], *hi = &c->r->nodes[n->c];
    if (lo->kind != N_LIT || hi->kind != N_LIT)
        return 0;
    i128 fl, fh;
    int el, eh;
    if (a->kind == N_CALL && a->op == F_DAYS_SINCE) {
        to_units(lo->lit.i, lit_scale(lo), 0, &fl, &el);
        to_units(hi->lit.i, lit_scale(hi), 0, &fh, &eh);
        if (!days_since_range(c, a, el ? fl : fl + 1, fh, p))
            return 0;
        p->neg = n->neg;
        return 1;
    }
    if (a->kind != N_FIELD || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    to_units(lo->lit.i, lit_scale(lo), cs, &fl, &el);
    to_units(hi->lit.i, lit_scale(hi), cs, &fh, &eh);
    p->field = a->field;
    set_range(p, el ? fl : fl + 1, fh);
    p->neg = n->neg;
    return 1;
}

static int inset_plan(bctx *c, const eng__rnode *n, bplan *p)
{
    const eng__rnode *a = &c->r->nodes[n->a];
    if (a->kind != N_FIELD || !num_col(a->type))
        return 0;
    const eng_rule_column *col = col_of(c, a->field);
    const eng__rset *set = &c->r->sets[n->set];
    if (!set->n) /* in (): false even for null rows; the row evaluator says so */
        return 0;
    int cs = col->type == ENG_RT_DECIMAL ? col->scale : 0;
    p->set = eng__calloc(&c->r->mem, set->n ? set->n : 1, sizeof *p->set);
    if (!p->set)
        return eng__nomem();
    for (size_t k = 0; k < set->n; k++) {
        i128 f;
        int ex;
        to_units(set->ints[k], set->scales ? set->scales[k] : 0, cs, &f, &ex);
        if (ex && f >= INT64_MIN && f <= INT64_MAX) /* sorted order is kept */
            p->set[p->nset++] = (int64_t)f;
    }
    p->kind = P_INSET;
    p->field = a->field;
    p->neg = n->neg;
    return 1;
}

static int build_table(bctx *c, int32_t idx, bplan *p)
{
    const eng__rnode *n = &c->r->nodes[idx];
    uint32_t f = (uint32_t)n->single;
    const eng_rule_column *col = col_of(c, f);
    uint32_t size = col->type == ENG_RT_BOOL ? 2 : col->dict_size;
    p->tab = eng__malloc(&c->r->mem, (size_t)size + 1);
    if (!p->tab)
        return eng__nomem();
    c->tab_field = f;
    for (uint32_t k = 0; k <= size; k++) {
        eng__rval v;
        c->tab_code = k;
        c->tab_null = k == size;
        int rc = eng__rule_eval_st(c->r, idx, table_get, c, &c->est, &v);
        if (rc)
            return rc;
        int tv = tri_of(&v);
        p->tab[k] = tv == 1 ? 0x80 : tv == 0 ? 0x40 : 0;
    }
    p->kind = P_TABLE;
    p->field = f;
    /* estimate from the dictionary as if codes were uniform */
    uint32_t not_false = 0, not_true = 0;
    for (uint32_t k = 0; k < size; k++) {
        not_false += p->tab[k] != 0x40;
        not_true += p->tab[k] != 0x80;
    }
    p->ncodes = col->type == ENG_RT_STRING ? 0 : -1;
    for (uint32_t k = 0; k < size && p->ncodes >= 0; k++) {
        if (p->tab[k] == 0)
            p->ncodes = -1; /* a non-null string giving null: keep the lookup */
        else if (p->tab[k] == 0x80)
            p->ncodes = p->ncodes < 4 ? (p->codes[p->ncodes] = k, p->ncodes + 1) : -1;
    }
    p->pass_t = size ? (float)not_false / (float)size : 1.0f;
    p->pass_f = size ? (float)not_true / (float)size : 1.0f;
    return ENG_OK;
}

/* and/or once its kids are planned: estimates, and the kids ordered so the
 * one deciding most rows runs first. */
static int boolop_done(bctx *c, const eng__rnode *n, bplan *p)
{
    p->order = eng__malloc(&c->r->mem, n->n * sizeof *p->order);
    if (!p->order)
        return eng__nomem();
    float pt = n->kind == N_AND ? 1.0f : 0.0f, pf = n->kind == N_AND ? 0.0f : 1.0f;
    for (uint32_t k = 0; k < n->n; k++) {
        p->order[k] = k;
        const bplan *kp = &c->plan[c->r->kids[n->first + k]];
        if (n->kind == N_AND) {
            pt *= kp->pass_t;
            pf = 1.0f - pt;
        } else {
            pf *= kp->pass_f;
            pt = 1.0f - pf;
        }
    }
    /* Kleene and/or commute: run the kid that decides most rows first so
     * the later ones see a sparse selection. Insertion sort (n is small). */
    for (uint32_t k = 1; k < n->n; k++) {
        uint32_t x = p->order[k];
        float key = n->kind == N_AND ? c->plan[c->r->kids[n->first + x]].pass_t
                                     : c->plan[c->r->kids[n->first + x]].pass_f;
        uint32_t j = k;
        for (; j > 0; j--) {
            const bplan *q = &c->plan[c->r->kids[n->first + p->order[j - 1]]];
            if ((n->kind == N_AND ? q->pass_t : q->pass_f) <= key)
                break;
            p->order[j] = p->order[j - 1];
        }
        p->order[j] = x;
    }
    p->pass_t = pt;
    p->pass_f = pf;
    eng__batch_fuse_plan(c, n, p);
    return ENG_OK;
}

/* Plan one node on the way down: a leaf plan, or P_BOOLOP with its kids
 * still to plan (*boolop = 1). */
static int plan_node(bctx *c, int32_t idx, int *boolop)
{
    const eng__rnode *n = &c->r->nodes[idx];
    bplan *p = &c->plan[idx];
    int rc;
    *boolop = 0;
    p->pass_t = p->pass_f = 0.75f; /* unknown: assume it decides few rows */
    if (n->kind == N_LIT) {
        p->kind = P_CONST;
        p->cval = (uint8_t)(n->lit.i != 0);
        return ENG_OK;
    }
    if (n->single >= 0) {
        const eng_rule_column *col = col_of(c, (uint32_t)n->single);
        int t = col->type;
        if ((t == ENG_RT_STRING && col->dict_size <= c->b->nrows + 64) || t == ENG_RT_BOOL)
            return build_table(c, idx, p);
    }
    switch (n->kind) {
    case N_AND:
    case N_OR:
    case N_NOT:
        p->kind = P_BOOLOP;
        *boolop = 1;
        return ENG_OK;
    case N_CMP:
        if (cmp_plan(c, n, p))
            return ENG_OK;
        break;
    case N_BETWEEN:
        if (between_plan(c, n, p))
            return ENG_OK;
        break;
    case N_IN:
        if ((rc = inset_plan(c, n, p)) < 0)
            return rc;
        if (rc)
            return ENG_OK;
        break;
    case N_ISNULL:
        if (c->r->nodes[n->a].kind == N_FIELD) {
            p->kind = P_ISNULL;
            p->field = c->r->nodes[n->a].field;
            p->neg = n->neg;
            return ENG_OK;
        }
        break;
    default:
        break;
    }
    p->kind = P_GENERIC;
    p->pass_t = p->pass_f = 1.0f; /* the slow path runs last */
    return ENG_OK;
}

/* Plan the boolean node idx and, through and/or/not, its boolean children:
 * a work list instead of recursion (~idx marks an and/or/not whose kids are
 * done). Every node is pushed at most twice and the list never holds more
 * than the pending kids, so nnodes + 1 entries suffice. */
int eng__batch_plan(bctx *c, int32_t root)
{
    int32_t *st = c->pstack;
    size_t top = 0;
    st[top++] = root;
    while (top) {
        int32_t e = st[--top];
        if (e < 0) {
            int32_t idx = ~e;
            const eng__rnode *n = &c->r->nodes[idx];
            bplan *p = &c->plan[idx];
            if (n->kind == N_NOT) {
                p->pass_t = c->plan[n->a].pass_f;
                p->pass_f = c->plan[n->a].pass_t;
            } else {
                int rc = boolop_done(c, n, p);
                if (rc)
                    return rc;
            }
            continue;
        }
        int boolop, rc = plan_node(c, e, &boolop);
        if (rc)
            return rc;
        if (!boolop)
            continue;
        const eng__rnode *n = &c->r->nodes[e];
        st[top++] = ~e;
        if (n->kind == N_NOT)
            st[top++] = n->a;
        else
            for (uint32_t k = n->n; k-- > 0;)
                st[top++] = c->r->kids[n->first + k];
    }
    return ENG_OK;
}
