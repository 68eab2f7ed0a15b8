/* Compiler passes over the typed nodes: fold constant subtrees into literals,
 * put the field on the left of a field-vs-constant comparison, and record the
 * batch plan (which single field a subtree reads; boolean nesting depth). */
#include "rules/rules_impl.h"

#include <string.h>

static int materialize(eng_rule *r, eng__rval *v)
{
    if (v->t != ENG_RT_STRING || !v->fold)
        return ENG_OK;
    char stackbuf[256];
    char *tmp = v->len <= sizeof stackbuf ? stackbuf : eng__malloc(&r->mem, v->len);
    if (!tmp)
        return eng__nomem();
    for (size_t i = 0; i < v->len; i++) {
        char c = v->s[i];
        tmp[i] = v->fold == 1 && c >= 'A' && c <= 'Z' ? (char)(c + 32)
                 : v->fold == 2 && c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    int rc = eng__rule_pool(r, tmp, v->len, &v->s);
    if (tmp != stackbuf)
        eng__free(&r->mem, tmp);
    v->fold = 0;
    return rc;
}

static int fold(eng_rule *r, int32_t idx)
{
    eng__rnode *n = &r->nodes[idx];
    int rc;
    if (n->kind != N_LIT && n->is_const) {
        eng__rval v;
        if ((rc = eng__rule_eval(r, idx, NULL, NULL, &v)) || (rc = materialize(r, &v)))
            return rc;
        n = &r->nodes[idx];
        n->kind = N_LIT;
        n->lit = v;
        n->a = n->b = n->c = -1;
        n->n = 0;
        n->set = -1;
        n->scale = v.t == ENG_RT_DECIMAL ? v.scale : 0;
        return ENG_OK;
    }
    int32_t ch[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (ch[i] >= 0 && (rc = fold(r, ch[i])))
            return rc;
    n = &r->nodes[idx];
    if (n->kind == N_AND || n->kind == N_OR)
        for (uint32_t k = 0; k < n->n; k++)
            if ((rc = fold(r, r->kids[n->first + k])))
                return rc;
    n = &r->nodes[idx];
    if (n->kind == N_CMP && r->nodes[n->a].kind == N_LIT && r->nodes[n->b].kind != N_LIT) {
        int32_t t = n->a;
        n->a = n->b;
        n->b = t;
        static const uint8_t flip[] = {ENG_RULE_OP_EQ, ENG_RULE_OP_NE, ENG_RULE_OP_GT,
                                       ENG_RULE_OP_GE, ENG_RULE_OP_LT, ENG_RULE_OP_LE};
        n->op = flip[n->op];
    }
    return ENG_OK;
}

/* -2: reads no field; -1: reads several; else the one field it reads. */
static int32_t plan(eng_rule *r, int32_t idx, unsigned depth)
{
    eng__rnode *n = &r->nodes[idx];
    int boolean = n->kind == N_AND || n->kind == N_OR || n->kind == N_NOT;
    if (boolean && depth + 1 > r->bool_depth)
        r->bool_depth = depth + 1;
    /* an item variable is not a column: a subtree reading one is never a single-column table */
    int32_t s = n->kind == N_FIELD ? (int32_t)n->field : n->kind == N_VAR ? -1 : -2;
    int32_t ch[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (ch[i] >= 0) {
            int32_t c = plan(r, ch[i], depth + boolean);
            s = s == -2 ? c : (c == -2 || c == s) ? s : -1;
        }
    if (n->kind == N_CALL && (n->op == F_ANY || n->op == F_COUNT))
        s = -1;
    if (n->kind == N_AND || n->kind == N_OR)
        for (uint32_t k = 0; k < n->n; k++) {
            int32_t c = plan(r, r->kids[n->first + k], depth + 1);
            s = s == -2 ? c : (c == -2 || c == s) ? s : -1;
        }
    r->nodes[idx].single = s;
    return s;
}

int eng__rule_compile_program(eng_rule *r)
{
    int rc = fold(r, r->root);
    if (rc)
        return rc;
    r->bool_depth = 0;
    plan(r, r->root, 0);
    return ENG_OK;
}
