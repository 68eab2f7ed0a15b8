/* Compiler passes over the typed nodes, without recursion (nodes are stored
 * after their children): fold each constant node into a literal as soon as it
 * is typed, put the field on the left of a field-vs-constant comparison, and
 * record the batch plan (which single field a subtree reads; boolean nesting
 * depth). A constant that reads "now" (today(), days_since()) is folded too,
 * but keeps what it was (src_kind and its children) so that the canonical
 * text still says today() and a reloaded rule moves with the clock. */
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

int eng__rule_fold_node(eng_rule *r, int32_t idx)
{
    eng__rnode *n = &r->nodes[idx];
    int rc;
    if (n->kind != N_LIT && n->is_const) {
        eng__rval v;
        /* every child is a literal already: this evaluates one level */
        if ((rc = eng__rule_eval(r, idx, NULL, NULL, &v)) || (rc = materialize(r, &v)))
            return rc;
        n = &r->nodes[idx];
        if (n->now_dep) {
            n->src_kind = n->kind;
        } else {
            n->a = n->b = n->c = -1;
            n->n = 0;
            n->set = -1;
        }
        n->kind = N_LIT;
        n->lit = v;
        n->scale = v.t == ENG_RT_DECIMAL ? v.scale : 0;
        return ENG_OK;
    }
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

static int is_boolop(const eng__rnode *n)
{
    return n->kind == N_AND || n->kind == N_OR || n->kind == N_NOT;
}

int eng__rule_compile_program(eng_rule *r)
{
    /* single: -2 reads no field; -1 reads several; else the one field it
     * reads. Children come first in node order. */
    for (size_t i = 0; i < r->nnodes; i++) {
        eng__rnode *n = &r->nodes[i];
        /* an item variable is not a column: a subtree reading one is never a single-column table */
        int32_t s = n->kind == N_FIELD ? (int32_t)n->field : n->kind == N_VAR ? -1 : -2;
        int32_t ch[3] = {n->a, n->b, n->c};
        for (int k = 0; k < 3; k++)
            if (ch[k] >= 0) {
                int32_t c = r->nodes[ch[k]].single;
                s = s == -2 ? c : (c == -2 || c == s) ? s : -1;
            }
        if (n->kind == N_CALL && (n->op == F_ANY || n->op == F_COUNT))
            s = -1;
        if (n->kind == N_AND || n->kind == N_OR)
            for (uint32_t k = 0; k < n->n; k++) {
                int32_t c = r->nodes[r->kids[n->first + k]].single;
                s = s == -2 ? c : (c == -2 || c == s) ? s : -1;
            }
        n->single = s;
    }
    /* bool_depth: the deepest chain of and/or/not from the root (the batch
     * evaluator's scratch), found top-down: parents come after children. */
    uint32_t *lvl = eng__malloc(&r->mem, r->nnodes * sizeof *lvl);
    if (!lvl)
        return eng__nomem();
    for (size_t i = 0; i < r->nnodes; i++)
        lvl[i] = UINT32_MAX; /* not reached from the root (a folded subtree) */
    lvl[r->root] = 0;
    r->bool_depth = 0;
    for (size_t i = (size_t)r->root + 1; i-- > 0;) {
        const eng__rnode *n = &r->nodes[i];
        if (lvl[i] == UINT32_MAX || n->kind == N_LIT)
            continue;
        uint32_t below = lvl[i] + (uint32_t)is_boolop(n);
        if (is_boolop(n) && below > r->bool_depth)
            r->bool_depth = below;
        int32_t ch[3] = {n->a, n->b, n->c};
        for (int k = 0; k < 3; k++)
            if (ch[k] >= 0)
                lvl[ch[k]] = below;
        if (n->kind == N_AND || n->kind == N_OR)
            for (uint32_t k = 0; k < n->n; k++)
                lvl[r->kids[n->first + k]] = below;
    }
    eng__free(&r->mem, lvl);
    return ENG_OK;
}
