/* Recursive-descent parser. Precedence, lowest first:
 *   or  <  and  <  not  <  predicate (== != < <= > >= in between is contains starts/ends with)
 * Predicates do not chain ("a < b < c" is an error). Depth is bounded by
 * max_depth and size by max_nodes, so a hostile text gets ENG_ETOOBIG, never
 * a stack overflow. */
#include "rules/rules_impl.h"

#include <string.h>

typedef struct parser {
    eng_rule *r;
    eng__lexer lx;
    eng__token tok;  /* current token */
    unsigned depth;
    eng__token vars[ENG__RULE_MAX_VARS]; /* item variables in scope (any/count), innermost last */
    unsigned nvars;
} parser;

static int advance(parser *ps)
{
    return eng__lex_next(&ps->lx, &ps->tok);
}

static int unexpected(parser *ps, const char *want)
{
    const eng__token *t = &ps->tok;
    if (t->kind == TK_IDENT || t->kind == TK_INT || t->kind == TK_DEC)
        return eng__rerr(ENG_EPARSE, t->line, t->col, "expected %s, found %s '%.*s'", want, eng__tok_name(t->kind),
                         (int)(t->len > 40 ? 40 : t->len), t->p);
    return eng__rerr(ENG_EPARSE, t->line, t->col, "expected %s, found %s", want, eng__tok_name(t->kind));
}

static int expect(parser *ps, int kind, const char *want)
{
    if (ps->tok.kind != kind)
        return unexpected(ps, want);
    return advance(ps);
}

static int node(parser *ps, int kind, const eng__token *at, int32_t a, int32_t b, int32_t c, int32_t *idx)
{
    if (ps->r->nnodes >= ps->r->max_nodes)
        return eng__rerr(ENG_ETOOBIG, at->line, at->col, "expression too large (more than %u nodes)",
                         ps->r->max_nodes);
    eng__rnode n;
    memset(&n, 0, sizeof n);
    n.kind = (uint8_t)kind;
    n.line = at->line;
    n.col = at->col;
    n.a = a;
    n.b = b;
    n.c = c;
    n.set = -1;
    n.single = -1;
    return eng__rule_add_node(ps->r, &n, idx);
}

static int enter(parser *ps)
{
    if (++ps->depth > ps->r->max_depth)
        return eng__rerr(ENG_ETOOBIG, ps->tok.line, ps->tok.col, "expression nested too deeply (more than %u levels)",
                         ps->r->max_depth);
    return ENG_OK;
}

static int parse_or(parser *ps, int32_t *out);

static int unescape_into_pool(parser *ps, const eng__token *t, const char **s, size_t *len)
{
    char stackbuf[256];
    char *buf = stackbuf;
    if (t->len > sizeof stackbuf) {
        buf = eng__malloc(&ps->r->mem, t->len);
        if (!buf)
            return eng__nomem();
    }
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++) {
        char c = t->p[i];
        if (c == '\\') {
            c = t->p[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        buf[n++] = c;
    }
    int rc = eng__rule_pool(ps->r, buf, n, s);
    *len = n;
    if (buf != stackbuf)
        eng__free(&ps->r->mem, buf);
    return rc;
}

static const struct { const char *name; int fn; unsigned arity; } functions[] = {
    {"lower", F_LOWER, 1}, {"upper", F_UPPER, 1}, {"len", F_LEN, 1}, {"days_since", F_DAYS_SINCE, 1},
    {"today", F_TODAY, 0}, {"date", F_DATE, 1}, {"timestamp", F_TIMESTAMP, 1}, {"any", F_ANY, 2},
    {"count", F_COUNT, 2}};

const char *eng__fn_name(int f)
{
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (functions[i].fn == f)
            return functions[i].name;
    return "?";
}

static int parse_operand(parser *ps, int32_t *out);

/* any(x in list, condition) / count(x in list, condition): x names each item
 * of the list inside the condition. */
static int parse_quantifier(parser *ps, eng__token name, int fn, int32_t *out)
{
    int rc;
    eng__token var = ps->tok;
    if (var.kind != TK_IDENT)
        return unexpected(ps, "an item name, as in any(x in items, x == \"a\")");
    if (ps->nvars >= ENG__RULE_MAX_VARS)
        return eng__rerr(ENG_ETOOBIG, var.line, var.col, "any()/count() nested more than %d deep", ENG__RULE_MAX_VARS);
    int32_t list, cond;
    if ((rc = advance(ps)) || (rc = expect(ps, TK_IN, "'in' after the item name")) ||
        (rc = parse_operand(ps, &list)) || (rc = expect(ps, TK_COMMA, "',' before the condition")))
        return rc;
    ps->vars[ps->nvars++] = var;
    rc = parse_or(ps, &cond);
    ps->nvars--;
    if (rc || (rc = expect(ps, TK_RP, "')' after the condition")) ||
        (rc = node(ps, N_CALL, &name, list, cond, -1, out)))
        return rc;
    const char *vname;
    if ((rc = eng__rule_pool(ps->r, var.p, var.len, &vname)))
        return rc;
    eng__rnode *n = &ps->r->nodes[*out];
    n->op = (uint8_t)fn;
    n->field = (uint32_t)(ps->r->nfields + ps->nvars); /* the variable's slot */
    n->lit.s = vname;
    n->lit.len = var.len;
    return ENG_OK;
}

static int parse_call(parser *ps, eng__token name, int32_t *out)
{
    int fn = -1;
    unsigned arity = 0;
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (strlen(functions[i].name) == name.len && memcmp(functions[i].name, name.p, name.len) == 0) {
            fn = functions[i].fn;
            arity = functions[i].arity;
        }
    if (fn < 0)
        return eng__rerr(ENG_ETYPE, name.line, name.col,
                         "unknown function '%.*s' (functions: lower, upper, len, days_since, today, date, timestamp, "
                         "any, count)",
                         (int)(name.len > 40 ? 40 : name.len), name.p);
    int rc = advance(ps); /* '(' */
    if (!rc && (fn == F_ANY || fn == F_COUNT))
        return parse_quantifier(ps, name, fn, out);
    int32_t args[2] = {-1, -1};
    unsigned n = 0;
    if (!rc && ps->tok.kind != TK_RP) {
        for (;;) {
            int32_t a;
            if ((rc = parse_or(ps, &a)))
                return rc;
            if (n < 2)
                args[n] = a;
            n++;
            if (ps->tok.kind != TK_COMMA)
                break;
            if ((rc = advance(ps)))
                return rc;
        }
    }
    if (rc || (rc = expect(ps, TK_RP, "')' or ','")))
        return rc;
    if (n != arity)
        return eng__rerr(ENG_ETYPE, name.line, name.col, "%s() takes %u argument%s, not %u", eng__fn_name(fn), arity,
                         arity == 1 ? "" : "s", n);
    if ((rc = node(ps, N_CALL, &name, args[0], args[1], -1, out)))
        return rc;
    ps->r->nodes[*out].op = (uint8_t)fn;
    return ENG_OK;
}

static int parse_operand(parser *ps, int32_t *out)
{
    eng__token t = ps->tok;
    int rc;
    switch (t.kind) {
    case TK_LP: {
        if ((rc = enter(ps)) || (rc = advance(ps)) || (rc = parse_or(ps, out)) ||
            (rc = expect(ps, TK_RP, "')'")))
            return rc;
        ps->depth--;
        return ENG_OK;
    }
    case TK_INT:
    case TK_DEC:
    case TK_MINUS: {
        int neg = 0;
        if (t.kind == TK_MINUS) {
            if ((rc = advance(ps)))
                return rc;
            if (ps->tok.kind != TK_INT && ps->tok.kind != TK_DEC)
                return unexpected(ps, "a number after '-'");
            neg = 1;
        }
        eng__token num = ps->tok;
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)))
            return rc;
        eng__rnode *n = &ps->r->nodes[*out];
        n->lit.t = num.kind == TK_DEC ? ENG_RT_DECIMAL : ENG_RT_INT;
        n->lit.scale = (int8_t)num.scale;
        n->lit.i = neg ? -num.i : num.i;
        n->is_const = 1;
        return advance(ps);
    }
    case TK_STR: {
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)))
            return rc;
        const char *s = NULL;
        size_t len = 0;
        if ((rc = unescape_into_pool(ps, &t, &s, &len)))
            return rc;
        eng__rnode *n = &ps->r->nodes[*out];
        n->lit.t = ENG_RT_STRING;
        n->lit.s = s;
        n->lit.len = len;
        n->is_const = 1;
        return advance(ps);
    }
    case TK_TRUE:
    case TK_FALSE:
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)))
            return rc;
        ps->r->nodes[*out].lit.t = ENG_RT_BOOL;
        ps->r->nodes[*out].lit.i = t.kind == TK_TRUE;
        ps->r->nodes[*out].is_const = 1;
        return advance(ps);
    case TK_NULL:
        return eng__rerr(ENG_EPARSE, t.line, t.col, "'null' is not a value here; test for it with 'is null' or 'is not null'");
    case TK_IDENT:
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind == TK_LP) {
            if ((rc = enter(ps)) || (rc = parse_call(ps, t, out)))
                return rc;
            ps->depth--;
            return ENG_OK;
        }
        for (unsigned v = ps->nvars; v-- > 0;)
            if (ps->vars[v].len == t.len && memcmp(ps->vars[v].p, t.p, t.len) == 0) {
                const char *vname;
                if ((rc = node(ps, N_VAR, &t, -1, -1, -1, out)) || (rc = eng__rule_pool(ps->r, t.p, t.len, &vname)))
                    return rc;
                ps->r->nodes[*out].field = (uint32_t)(ps->r->nfields + v);
                ps->r->nodes[*out].lit.s = vname;
                ps->r->nodes[*out].lit.len = t.len;
                return ENG_OK;
            }
        if ((rc = node(ps, N_FIELD, &t, -1, -1, -1, out)))
            return rc;
        ps->r->nodes[*out].lit.s = t.p; /* name, resolved by the type checker */
        ps->r->nodes[*out].lit.len = t.len;
        return ENG_OK;
    default:
        return unexpected(ps, "a value, a field name, a function call or '('");
    }
}

static int cmp_op(int kind)
{
    switch (kind) {
    case TK_EQ: return ENG_RULE_OP_EQ;
    case TK_NE: return ENG_RULE_OP_NE;
    case TK_LT: return ENG_RULE_OP_LT;
    case TK_LE: return ENG_RULE_OP_LE;
    case TK_GT: return ENG_RULE_OP_GT;
    case TK_GE: return ENG_RULE_OP_GE;
    default: return -1;
    }
}

/* Operand lists (in-lists, and/or chains) are collected here, then copied to
 * rule->kids in one run: nested lists cannot interleave. */
typedef struct idlist { int32_t *v; size_t n, cap; } idlist;

static int idlist_push(parser *ps, idlist *l, int32_t x)
{
    if (eng__grow(&ps->r->mem, (void **)&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return eng__nomem();
    l->v[l->n++] = x;
    return ENG_OK;
}

static int idlist_finish(parser *ps, idlist *l, int kind, const eng__token *at, int32_t a, int32_t *out)
{
    size_t first = ps->r->nkids;
    int rc = ENG_OK;
    for (size_t i = 0; i < l->n && !rc; i++)
        rc = eng__rule_add_kid(ps->r, l->v[i]);
    if (!rc)
        rc = node(ps, kind, at, a, -1, -1, out);
    if (!rc) {
        ps->r->nodes[*out].first = (uint32_t)first;
        ps->r->nodes[*out].n = (uint32_t)l->n;
    }
    return rc;
}

static int parse_in_list(parser *ps, int32_t lhs, const eng__token *at, int neg, int32_t *out)
{
    int rc;
    if ((rc = advance(ps)) || (rc = expect(ps, TK_LP, "'(' after 'in'")))
        return rc;
    idlist l = {NULL, 0, 0};
    for (;;) {
        int32_t item;
        if ((rc = parse_operand(ps, &item)) || (rc = idlist_push(ps, &l, item)))
            break;
        if (ps->tok.kind == TK_RP)
            break;
        if ((rc = expect(ps, TK_COMMA, "',' or ')' in the list")))
            break;
    }
    if (!rc && !(rc = advance(ps)) && !(rc = idlist_finish(ps, &l, N_IN, at, lhs, out)))
        ps->r->nodes[*out].neg = (uint8_t)neg;
    eng__free(&ps->r->mem, l.v);
    return rc;
}

static int parse_pred(parser *ps, int32_t *out)
{
    int32_t lhs, rhs;
    int rc = parse_operand(ps, &lhs);
    if (rc)
        return rc;
    eng__token at = ps->tok;
    int op = cmp_op(at.kind);
    int neg = 0;
    if (op >= 0) {
        if ((rc = advance(ps)) || (rc = parse_operand(ps, &rhs)) || (rc = node(ps, N_CMP, &at, lhs, rhs, -1, out)))
            return rc;
        ps->r->nodes[*out].op = (uint8_t)op;
    } else {
        if (at.kind == TK_NOT) {
            if ((rc = advance(ps)))
                return rc;
            if (ps->tok.kind != TK_IN && ps->tok.kind != TK_BETWEEN && ps->tok.kind != TK_CONTAINS &&
                ps->tok.kind != TK_STARTS && ps->tok.kind != TK_ENDS)
                return unexpected(ps, "'in', 'between', 'contains', 'starts with' or 'ends with' after 'not'");
            neg = 1;
        }
        eng__token kw = ps->tok;
        switch (kw.kind) {
        case TK_IN:
            if ((rc = parse_in_list(ps, lhs, &at, neg, out)))
                return rc;
            break;
        case TK_BETWEEN: {
            int32_t lo, hi;
            if ((rc = advance(ps)) || (rc = parse_operand(ps, &lo)) ||
                (rc = expect(ps, TK_AND, "'and' in 'between ... and ...'")) || (rc = parse_operand(ps, &hi)) ||
                (rc = node(ps, N_BETWEEN, &at, lhs, lo, hi, out)))
                return rc;
            ps->r->nodes[*out].neg = (uint8_t)neg;
            break;
        }
        case TK_IS:
            if (neg)
                return unexpected(ps, "'in' or 'between'");
            if ((rc = advance(ps)))
                return rc;
            if (ps->tok.kind == TK_NOT) {
                neg = 1;
                if ((rc = advance(ps)))
                    return rc;
            }
            if ((rc = expect(ps, TK_NULL, "'null' after 'is' (only 'is null' and 'is not null' exist)")) ||
                (rc = node(ps, N_ISNULL, &at, lhs, -1, -1, out)))
                return rc;
            ps->r->nodes[*out].neg = (uint8_t)neg;
            break;
        case TK_CONTAINS:
        case TK_STARTS:
        case TK_ENDS: {
            int sop = kw.kind == TK_CONTAINS ? ENG_RULE_OP_CONTAINS
                      : kw.kind == TK_STARTS ? ENG_RULE_OP_STARTS_WITH : ENG_RULE_OP_ENDS_WITH;
            if ((rc = advance(ps)))
                return rc;
            if (kw.kind != TK_CONTAINS && (rc = expect(ps, TK_WITH, kw.kind == TK_STARTS ? "'with' after 'starts'"
                                                                                     : "'with' after 'ends'")))
                return rc;
            if ((rc = parse_operand(ps, &rhs)) || (rc = node(ps, N_STROP, &at, lhs, rhs, -1, out)))
                return rc;
            ps->r->nodes[*out].op = (uint8_t)sop;
            if (neg) {
                int32_t inner = *out;
                if ((rc = node(ps, N_NOT, &at, inner, -1, -1, out)))
                    return rc;
            }
            break;
        }
        default:
            *out = lhs;
            return ENG_OK;
        }
    }
    int k = ps->tok.kind;
    if (cmp_op(k) >= 0 || k == TK_IN || k == TK_BETWEEN || k == TK_IS || k == TK_CONTAINS || k == TK_STARTS ||
        k == TK_ENDS)
        return eng__rerr(ENG_EPARSE, ps->tok.line, ps->tok.col,
                         "comparisons do not chain; join them with 'and' or use parentheses");
    return ENG_OK;
}

static int parse_not(parser *ps, int32_t *out)
{
    if (ps->tok.kind != TK_NOT)
        return parse_pred(ps, out);
    eng__token at = ps->tok;
    int32_t a;
    int rc;
    if ((rc = enter(ps)) || (rc = advance(ps)) || (rc = parse_not(ps, &a)) ||
        (rc = node(ps, N_NOT, &at, a, -1, -1, out)))
        return rc;
    ps->depth--;
    return ENG_OK;
}

/* and/or chains become one n-ary node (kids[first .. first+n)): the tree
 * stays as shallow as the text's nesting however long the chain. */
static int parse_chain(parser *ps, int kind, int32_t *out)
{
    int tk = kind == N_AND ? TK_AND : TK_OR;
    int rc = kind == N_AND ? parse_not(ps, out) : parse_chain(ps, N_AND, out);
    if (rc || ps->tok.kind != tk)
        return rc;
    eng__token at = ps->tok;
    idlist l = {NULL, 0, 0};
    rc = idlist_push(ps, &l, *out);
    while (!rc && ps->tok.kind == tk) {
        int32_t b;
        if ((rc = advance(ps)) || (rc = kind == N_AND ? parse_not(ps, &b) : parse_chain(ps, N_AND, &b)) ||
            (rc = idlist_push(ps, &l, b)))
            break;
    }
    if (!rc)
        rc = idlist_finish(ps, &l, kind, &at, -1, out);
    eng__free(&ps->r->mem, l.v);
    return rc;
}

static int parse_or(parser *ps, int32_t *out)
{
    return parse_chain(ps, N_OR, out);
}

int eng__rule_parse(eng_rule *r, const char *text, size_t len)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.r = r;
    eng__lex_init(&ps.lx, text, len);
    int rc = advance(&ps);
    if (rc)
        return rc;
    if (ps.tok.kind == TK_EOF)
        return eng__rerr(ENG_EPARSE, ps.tok.line, ps.tok.col, "empty rule (write a condition, or 'true')");
    if ((rc = parse_or(&ps, &r->root)))
        return rc;
    if (ps.tok.kind != TK_EOF)
        return unexpected(&ps, "'and', 'or' or the end of the rule");
    return ENG_OK;
}
