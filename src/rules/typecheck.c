/* Type checker: resolves field names against the schema (suggesting the
 * nearest name for a misspelling), gives every node a type, checks operator
 * operands, and turns `in` lists into sorted sets. Errors are ENG_ETYPE with
 * detail line:column. */
#include "rules/rules_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[64];
    if (bn >= 64 || an >= 64)
        return (size_t)-1;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

static int resolve_field(eng_rule *r, eng__rnode *n)
{
    for (size_t i = 0; i < r->nfields; i++) {
        const char *f = r->fields[i].name;
        if (strlen(f) == n->lit.len && memcmp(f, n->lit.s, n->lit.len) == 0) {
            n->field = (uint32_t)i;
            n->type = (uint8_t)r->fields[i].type;
            n->scale = (int8_t)r->fields[i].scale;
            r->used[i] = 1;
            n->lit.s = NULL;
            n->lit.len = 0;
            return ENG_OK;
        }
    }
    size_t best = (size_t)-1, bi = 0;
    for (size_t i = 0; i < r->nfields; i++) {
        size_t d = edit_distance(n->lit.s, n->lit.len, r->fields[i].name, strlen(r->fields[i].name));
        if (d < best) {
            best = d;
            bi = i;
        }
    }
    int shown = (int)(n->lit.len > 64 ? 64 : n->lit.len);
    size_t limit = n->lit.len / 3 > 2 ? n->lit.len / 3 : 2;
    if (r->nfields && best <= limit)
        return eng__rerr(ENG_ETYPE, n->line, n->col, "unknown field '%.*s', did you mean '%s'?", shown, n->lit.s,
                         r->fields[bi].name);
    return eng__rerr(ENG_ETYPE, n->line, n->col, "unknown field '%.*s'", shown, n->lit.s);
}

static void describe(const eng_rule *r, const eng__rnode *n, char *buf, size_t cap)
{
    if (n->kind == N_FIELD)
        snprintf(buf, cap, "field '%s' (%s)", r->fields[n->field].name, eng__rtype_name(n->type));
    else if (n->kind == N_VAR)
        snprintf(buf, cap, "item '%.*s' (string)", (int)n->lit.len, n->lit.s);
    else if (n->kind == N_CALL)
        snprintf(buf, cap, "%s() (%s)", eng__fn_name(n->op), eng__rtype_name(n->type));
    else
        snprintf(buf, cap, "a %s", eng__rtype_name(n->type));
}

static int family(int t)
{
    return t == ENG_RT_DECIMAL ? ENG_RT_INT : t;
}

/* ordered: <, <=, >, >=, between (bool and lists have no order). */
static int check_comparable(const eng_rule *r, const eng__rnode *at, const eng__rnode *x, const eng__rnode *y,
                            int ordered, const char *what)
{
    char dx[160], dy[160];
    if (x->type == ENG_RT_STRING_LIST || y->type == ENG_RT_STRING_LIST) {
        const eng__rnode *l = x->type == ENG_RT_STRING_LIST ? x : y;
        describe(r, l, dx, sizeof dx);
        return eng__rerr(ENG_ETYPE, at->line, at->col, "%s cannot be compared with %s; use 'contains' or len()", dx,
                         what);
    }
    if (family(x->type) != family(y->type)) {
        describe(r, x, dx, sizeof dx);
        describe(r, y, dy, sizeof dy);
        const char *hint = "";
        if ((x->type == ENG_RT_DATE && y->type == ENG_RT_STRING) || (y->type == ENG_RT_DATE && x->type == ENG_RT_STRING))
            hint = "; write dates as date(\"YYYY-MM-DD\")";
        else if ((x->type == ENG_RT_TIMESTAMP && y->type == ENG_RT_STRING) ||
                 (y->type == ENG_RT_TIMESTAMP && x->type == ENG_RT_STRING))
            hint = "; write timestamps as timestamp(\"YYYY-MM-DDTHH:MM:SSZ\")";
        return eng__rerr(ENG_ETYPE, at->line, at->col, "cannot compare %s with %s%s", dx, dy, hint);
    }
    if (ordered && x->type == ENG_RT_BOOL) {
        describe(r, x, dx, sizeof dx);
        return eng__rerr(ENG_ETYPE, at->line, at->col, "%s has no order; only == and != apply to booleans", dx);
    }
    return ENG_OK;
}

static int want(const eng_rule *r, const eng__rnode *n, int type, const char *ctx)
{
    if (n->type == type)
        return ENG_OK;
    char d[160];
    describe(r, n, d, sizeof d);
    return eng__rerr(ENG_ETYPE, n->line, n->col, "%s needs a %s, but %s is given", ctx, eng__rtype_name(type), d);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    const eng__rstr *x = a, *y = b;
    return eng__rstr_cmp(x->s, x->len, 0, y->s, y->len, 0);
}

typedef struct num_item { int64_t i; int scale; } num_item;

static int cmp_num(const void *a, const void *b)
{
    const num_item *x = a, *y = b;
    int c = eng__num_cmp(x->i, x->scale, y->i, y->scale);
    return c ? c : x->scale - y->scale; /* equal values: the shortest spelling first */
}

static int build_set(eng_rule *r, int32_t idx)
{
    eng__rnode *n = &r->nodes[idx];
    const eng__rnode *lhs = &r->nodes[n->a];
    int lt = lhs->type;
    if (lt == ENG_RT_STRING_LIST) {
        char d[160];
        describe(r, lhs, d, sizeof d);
        return eng__rerr(ENG_ETYPE, n->line, n->col, "%s cannot be tested with 'in'; use 'contains'", d);
    }
    int numeric = lt == ENG_RT_INT || lt == ENG_RT_DECIMAL;
    for (uint32_t k = 0; k < n->n; k++) {
        const eng__rnode *it = &r->nodes[r->kids[n->first + k]];
        if (!it->is_const)
            return eng__rerr(ENG_ETYPE, it->line, it->col, "the items of an 'in' list must be constants");
        int rc = check_comparable(r, n, lhs, it, 0, "a list item");
        if (rc)
            return rc;
    }
    if (eng__grow(&r->mem, (void **)&r->sets, &r->scap, r->nsets + 1, sizeof *r->sets))
        return eng__nomem();
    eng__rset *set = &r->sets[r->nsets];
    memset(set, 0, sizeof *set);
    set->type = lt == ENG_RT_STRING ? ENG_RT_STRING : ENG_RT_INT;
    size_t cap = n->n ? n->n : 1;
    num_item *tmp = NULL;
    if (set->type == ENG_RT_STRING)
        set->strs = eng__calloc(&r->mem, cap, sizeof *set->strs);
    else
        set->ints = eng__calloc(&r->mem, cap, sizeof *set->ints);
    if (numeric) /* each item keeps its own scale: a mixed list is exact, whatever the scales */
        set->scales = eng__calloc(&r->mem, cap, sizeof *set->scales);
    if (numeric)
        tmp = eng__calloc(&r->mem, cap, sizeof *tmp);
    n->set = (int32_t)r->nsets++; /* owned by the rule from here, freed with it */
    if ((!set->strs && !set->ints) || (numeric && (!set->scales || !tmp))) {
        eng__free(&r->mem, tmp);
        return eng__nomem();
    }
    for (uint32_t k = 0; k < n->n; k++) {
        const eng__rnode *it = &r->nodes[r->kids[n->first + k]];
        eng__rval v;
        int rc = eng__rule_eval(r, r->kids[n->first + k], NULL, NULL, &v);
        if (rc) {
            eng__free(&r->mem, tmp);
            return rc;
        }
        if (set->type == ENG_RT_STRING) {
            const char *s = v.s;
            if (v.fold) {
                char *low = eng__malloc(&r->mem, v.len ? v.len : 1);
                if (!low)
                    return eng__nomem();
                for (size_t i = 0; i < v.len; i++) {
                    char c = v.s[i];
                    low[i] = v.fold == 1 && c >= 'A' && c <= 'Z' ? (char)(c + 32)
                             : v.fold == 2 && c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
                }
                rc = eng__rule_pool(r, low, v.len, &s);
                eng__free(&r->mem, low);
                if (rc)
                    return rc;
            }
            set->strs[k].s = s;
            set->strs[k].len = v.len;
        } else if (numeric) {
            tmp[k].i = v.i;
            tmp[k].scale = it->type == ENG_RT_DECIMAL ? v.scale : 0;
        } else {
            set->ints[k] = v.i;
        }
    }
    /* sort and drop duplicates */
    size_t m = 0;
    if (set->type == ENG_RT_STRING) {
        qsort(set->strs, n->n, sizeof *set->strs, cmp_str);
        for (size_t k = 0; k < n->n; k++)
            if (!m || cmp_str(&set->strs[m - 1], &set->strs[k]))
                set->strs[m++] = set->strs[k];
    } else if (numeric) {
        qsort(tmp, n->n, sizeof *tmp, cmp_num);
        for (size_t k = 0; k < n->n; k++)
            if (!m || eng__num_cmp(tmp[m - 1].i, tmp[m - 1].scale, tmp[k].i, tmp[k].scale))
                tmp[m++] = tmp[k];
        for (size_t k = 0; k < m; k++) {
            set->ints[k] = tmp[k].i;
            set->scales[k] = (int8_t)tmp[k].scale;
        }
        eng__free(&r->mem, tmp);
    } else {
        qsort(set->ints, n->n, sizeof *set->ints, cmp_i64);
        for (size_t k = 0; k < n->n; k++)
            if (!m || set->ints[m - 1] != set->ints[k])
                set->ints[m++] = set->ints[k];
    }
    set->n = m;
    return ENG_OK;
}

static int check(eng_rule *r, int32_t idx)
{
    eng__rnode *n = &r->nodes[idx];
    int rc;
    char d[160];
    int32_t ch[3] = {n->a, n->b, n->c};
    n->is_const = n->kind == N_LIT || (n->kind == N_CALL && n->op == F_TODAY);
    n->now_dep = n->kind == N_CALL && (n->op == F_TODAY || n->op == F_DAYS_SINCE);
    int has_child = 0, all_const = 1;
    for (int i = 0; i < 3; i++)
        if (ch[i] >= 0) {
            has_child = 1;
            all_const &= r->nodes[ch[i]].is_const;
            n->now_dep |= r->nodes[ch[i]].now_dep;
        }
    if (n->kind == N_AND || n->kind == N_OR || n->kind == N_IN)
        for (uint32_t k = 0; k < n->n; k++) {
            has_child = 1;
            all_const &= r->nodes[r->kids[n->first + k]].is_const;
            n->now_dep |= r->nodes[r->kids[n->first + k]].now_dep;
        }
    if (has_child && n->kind != N_IN)
        n->is_const = (uint8_t)all_const;
    const eng__rnode *a = n->a >= 0 ? &r->nodes[n->a] : NULL, *b = n->b >= 0 ? &r->nodes[n->b] : NULL,
                     *c = n->c >= 0 ? &r->nodes[n->c] : NULL;
    switch (n->kind) {
    case N_LIT:
        n->type = n->lit.t;
        n->scale = n->lit.scale;
        return ENG_OK;
    case N_FIELD:
        return resolve_field(r, n);
    case N_VAR:
        n->type = ENG_RT_STRING;
        return ENG_OK;
    case N_NOT:
        n->type = ENG_RT_BOOL;
        return want(r, a, ENG_RT_BOOL, "'not'");
    case N_AND:
    case N_OR:
        n->type = ENG_RT_BOOL;
        for (uint32_t k = 0; k < n->n; k++)
            if ((rc = want(r, &r->nodes[r->kids[n->first + k]], ENG_RT_BOOL, n->kind == N_AND ? "'and'" : "'or'")))
                return rc;
        return ENG_OK;
    case N_CMP:
        n->type = ENG_RT_BOOL;
        return check_comparable(r, n, a, b, n->op >= ENG_RULE_OP_LT, "this value");
    case N_BETWEEN:
        n->type = ENG_RT_BOOL;
        if ((rc = check_comparable(r, n, a, b, 1, "a 'between' bound")))
            return rc;
        return check_comparable(r, n, a, c, 1, "a 'between' bound");
    case N_ISNULL:
        n->type = ENG_RT_BOOL;
        n->is_const = 0; /* a field may be null; a constant never is (folded below) */
        if (a->is_const)
            n->is_const = 1;
        return ENG_OK;
    case N_IN: {
        n->type = ENG_RT_BOOL;
        n->is_const = a->is_const;
        return build_set(r, idx);
    }
    case N_STROP:
        n->type = ENG_RT_BOOL;
        if (n->op == ENG_RULE_OP_CONTAINS && a->type == ENG_RT_STRING_LIST)
            return want(r, b, ENG_RT_STRING, "'contains' on a list");
        if ((rc = want(r, a, ENG_RT_STRING, n->op == ENG_RULE_OP_CONTAINS ? "'contains'"
                                                : n->op == ENG_RULE_OP_STARTS_WITH ? "'starts with'" : "'ends with'")))
            return rc;
        return want(r, b, ENG_RT_STRING, "the right side of this operator");
    case N_CALL:
        switch (n->op) {
        case F_LOWER:
        case F_UPPER:
            n->type = ENG_RT_STRING;
            return want(r, a, ENG_RT_STRING, n->op == F_LOWER ? "lower()" : "upper()");
        case F_LEN:
            n->type = ENG_RT_INT;
            if (a->type == ENG_RT_STRING_LIST)
                return ENG_OK;
            return want(r, a, ENG_RT_STRING, "len()");
        case F_DAYS_SINCE:
            n->type = ENG_RT_INT;
            if (a->type == ENG_RT_TIMESTAMP)
                return ENG_OK;
            return want(r, a, ENG_RT_DATE, "days_since()");
        case F_TODAY:
            n->type = ENG_RT_DATE;
            return ENG_OK;
        case F_ANY:
        case F_COUNT:
            n->type = n->op == F_ANY ? ENG_RT_BOOL : ENG_RT_INT;
            if ((rc = want(r, a, ENG_RT_STRING_LIST, n->op == F_ANY ? "any()" : "count()")))
                return rc;
            return want(r, b, ENG_RT_BOOL, "the condition of any()/count()");
        case F_DATE:
        case F_TIMESTAMP: {
            n->type = n->op == F_DATE ? ENG_RT_DATE : ENG_RT_TIMESTAMP;
            if ((rc = want(r, a, ENG_RT_STRING, n->op == F_DATE ? "date()" : "timestamp()")))
                return rc;
            if (!a->is_const)
                return eng__rerr(ENG_ETYPE, a->line, a->col, "%s() needs a constant string",
                                 eng__fn_name(n->op));
            eng__rval v;
            if ((rc = eng__rule_eval(r, n->a, NULL, NULL, &v)))
                return rc;
            int32_t days;
            int64_t ms;
            int ok = n->op == F_DATE ? eng__parse_date(v.s, v.len, &days) : eng__parse_timestamp(v.s, v.len, &ms);
            if (!ok || v.fold)
                return eng__rerr(ENG_ETYPE, a->line, a->col, "'%.*s' is not a %s", (int)(v.len > 40 ? 40 : v.len),
                                 v.s, n->op == F_DATE ? "date (YYYY-MM-DD)" : "timestamp (YYYY-MM-DDTHH:MM:SS[.mmm]Z)");
            return ENG_OK;
        }
        default:
            break;
        }
        break;
    default:
        break;
    }
    describe(r, n, d, sizeof d);
    return eng__rerr(ENG_ERROR, n->line, n->col, "internal: unknown node %s", d);
}

/* Nodes are stored after their children (parser.c), so one pass in index
 * order types every child before its parent: no recursion, whatever the
 * nesting. Each node is folded as soon as it is typed, so evaluating a
 * constant never goes deeper than one level. */
int eng__rule_typecheck(eng_rule *r)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        int rc = check(r, (int32_t)i);
        if (!rc)
            rc = eng__rule_fold_node(r, (int32_t)i);
        if (rc)
            return rc;
    }
    const eng__rnode *root = &r->nodes[r->root];
    if (root->type != ENG_RT_BOOL) {
        char d[160];
        describe(r, root, d, sizeof d);
        return eng__rerr(ENG_ETYPE, root->line, root->col, "a rule must be a condition (true or false), but this is %s",
                         d);
    }
    return ENG_OK;
}
