/* Parser. Precedence, lowest first:
 *   or  <  and  <  not  <  predicate (== != < <= > >= in between is contains starts/ends with)
 * Predicates do not chain ("a < b < c" is an error).
 *
 * The grammar is recursive but the parser is not: pending constructs live on
 * an explicit frame stack on the heap, so the C stack used is the same for
 * every nesting depth (a rule compiles on a 128 KiB thread whatever
 * max_depth allows). Depth is still bounded by max_depth and size by
 * max_nodes, so a hostile text gets ENG_ETOOBIG. Nodes are created after their
 * children: node order is a post-order of the tree, which the type checker
 * and compiler use to work in one loop, without recursion. */
#include "rules/rules_impl.h"

#include <string.h>
#include <strings.h>

/* What the parser wants next (descending) */
enum goal { G_OR, G_AND, G_NOT, G_VALUE };
/* A construct waiting for a sub-expression */
enum frame_kind { FR_OR, FR_AND, FR_NOT, FR_PRED, FR_PAREN, FR_CALL, FR_QUANT };
/* FR_PRED: which operand comes back */
enum pred_state { PS_LHS, PS_CMP, PS_IN, PS_LO, PS_HI, PS_STROP };

typedef struct frame {
    uint8_t kind, state, neg, op;
    int32_t x, y;     /* PRED: lhs, between's lower bound; QUANT: the list */
    uint32_t start;   /* chains, in-lists, call arguments: first operand on the operand stack */
    int fn;           /* CALL/QUANT: function id */
    unsigned arity;
    eng__token at;    /* where the node is reported: operator, 'not', '(' or function name */
    eng__token var;   /* QUANT: the item name */
} frame;

typedef struct parser {
    eng_rule *r;
    eng__lexer lx;
    eng__token tok;  /* current token */
    unsigned depth;
    eng__token vars[ENG__RULE_MAX_VARS]; /* item variables in scope (any/count), innermost last */
    unsigned nvars;
    frame *fr; size_t nfr, frcap;       /* pending constructs */
    int32_t *ops; size_t nops, opcap;   /* operands of chains, lists and calls */
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

static int push_frame(parser *ps, int kind, frame **out)
{
    if (eng__grow(&ps->r->mem, (void **)&ps->fr, &ps->frcap, ps->nfr + 1, sizeof *ps->fr))
        return eng__nomem();
    frame *f = &ps->fr[ps->nfr++];
    memset(f, 0, sizeof *f);
    f->kind = (uint8_t)kind;
    f->start = (uint32_t)ps->nops;
    f->at = ps->tok;
    *out = f;
    return ENG_OK;
}

static int push_op(parser *ps, int32_t x)
{
    if (eng__grow(&ps->r->mem, (void **)&ps->ops, &ps->opcap, ps->nops + 1, sizeof *ps->ops))
        return eng__nomem();
    ps->ops[ps->nops++] = x;
    return ENG_OK;
}

/* Operands ops[start..] become kids[first .. first+n) of a new node. */
static int finish_list(parser *ps, uint32_t start, int kind, const eng__token *at, int32_t a, int32_t *out)
{
    size_t first = ps->r->nkids, n = ps->nops - start;
    int rc = ENG_OK;
    for (size_t i = start; i < ps->nops && !rc; i++)
        rc = eng__rule_add_kid(ps->r, ps->ops[i]);
    if (!rc)
        rc = node(ps, kind, at, a, -1, -1, out);
    if (!rc) {
        ps->r->nodes[*out].first = (uint32_t)first;
        ps->r->nodes[*out].n = (uint32_t)n;
    }
    ps->nops = start;
    return rc;
}

static int unescape_into_pool(parser *ps, const eng__token *t, const char **s, size_t *len)
{
    char stackbuf[256];
    char *buf = stackbuf;
    if (t->len > sizeof stackbuf) {
        buf = eng__malloc(&ps->r->mem, t->len);
        if (!buf)
            return eng__nomem();
    }
    size_t n = eng__unescape(t->p, t->len, buf);
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

static int no_chain(parser *ps)
{
    int k = ps->tok.kind;
    if (cmp_op(k) >= 0 || k == TK_IN || k == TK_BETWEEN || k == TK_IS || k == TK_CONTAINS || k == TK_STARTS ||
        k == TK_ENDS)
        return eng__rerr(ENG_EPARSE, ps->tok.line, ps->tok.col,
                         "comparisons do not chain; join them with 'and' or use parentheses");
    return ENG_OK;
}

static int literal(parser *ps, int32_t *out)
{
    eng__token t = ps->tok;
    int rc;
    eng__rnode *n;
    switch (t.kind) {
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
        if (num.big && !neg) /* 2^63 units: only -9223372036854775808 fits */
            return eng__rerr(ENG_EPARSE, num.line, num.col, "number out of range (at most 9223372036854775807 units)");
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)))
            return rc;
        n = &ps->r->nodes[*out];
        n->lit.t = num.kind == TK_DEC ? ENG_RT_DECIMAL : ENG_RT_INT;
        n->lit.scale = (int8_t)num.scale;
        n->lit.i = num.big ? INT64_MIN : neg ? -num.i : num.i;
        break;
    }
    case TK_STR: {
        const char *s = NULL;
        size_t len = 0;
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)) || (rc = unescape_into_pool(ps, &t, &s, &len)))
            return rc;
        n = &ps->r->nodes[*out];
        n->lit.t = ENG_RT_STRING;
        n->lit.s = s;
        n->lit.len = len;
        break;
    }
    default: /* TK_TRUE, TK_FALSE */
        if ((rc = node(ps, N_LIT, &t, -1, -1, -1, out)))
            return rc;
        n = &ps->r->nodes[*out];
        n->lit.t = ENG_RT_BOOL;
        n->lit.i = t.kind == TK_TRUE;
        break;
    }
    n->is_const = 1;
    return advance(ps);
}

/* A name: an item variable in scope, or a field (resolved by the type checker). */
static int name_ref(parser *ps, const eng__token *t, int32_t *out)
{
    int rc;
    for (unsigned v = ps->nvars; v-- > 0;)
        if (ps->vars[v].len == t->len && memcmp(ps->vars[v].p, t->p, t->len) == 0) {
            const char *vname;
            if ((rc = node(ps, N_VAR, t, -1, -1, -1, out)) || (rc = eng__rule_pool(ps->r, t->p, t->len, &vname)))
                return rc;
            ps->r->nodes[*out].field = (uint32_t)(ps->r->nfields + v);
            ps->r->nodes[*out].lit.s = vname;
            ps->r->nodes[*out].lit.len = t->len;
            return ENG_OK;
        }
    if ((rc = node(ps, N_FIELD, t, -1, -1, -1, out)))
        return rc;
    ps->r->nodes[*out].lit.s = t->p;
    ps->r->nodes[*out].lit.len = t->len;
    return ENG_OK;
}

/* Function names are case-insensitive, like keywords. */
static int lookup_fn(const eng__token *name, unsigned *arity)
{
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (strlen(functions[i].name) == name->len && strncasecmp(functions[i].name, name->p, name->len) == 0) {
            *arity = functions[i].arity;
            return functions[i].fn;
        }
    return -1;
}

/* A finished call (its arguments on the operand stack) becomes a node. */
static int finish_call(parser *ps, frame *f, int32_t *out)
{
    int rc;
    unsigned n = (unsigned)(ps->nops - f->start);
    int32_t a = n > 0 ? ps->ops[f->start] : -1, b = n > 1 ? ps->ops[f->start + 1] : -1;
    ps->nops = f->start;
    if ((rc = expect(ps, TK_RP, "')' or ','")))
        return rc;
    if (n != f->arity)
        return eng__rerr(ENG_ETYPE, f->at.line, f->at.col, "%s() takes %u argument%s, not %u", eng__fn_name(f->fn),
                         f->arity, f->arity == 1 ? "" : "s", n);
    if ((rc = node(ps, N_CALL, &f->at, a, b, -1, out)))
        return rc;
    ps->r->nodes[*out].op = (uint8_t)f->fn;
    return ENG_OK;
}

/* A value: a literal or name gives a node (*done = 1); '(' and calls push a
 * frame and set the next goal (*done = 0). */
static int value(parser *ps, int *goal, int32_t *out, int *done)
{
    eng__token t = ps->tok;
    frame *f = NULL;
    int rc;
    *done = 0;
    switch (t.kind) {
    case TK_LP:
        if ((rc = enter(ps)) || (rc = push_frame(ps, FR_PAREN, &f)) || (rc = advance(ps)))
            return rc;
        *goal = G_OR;
        return ENG_OK;
    case TK_INT:
    case TK_DEC:
    case TK_MINUS:
    case TK_STR:
    case TK_TRUE:
    case TK_FALSE:
        *done = 1;
        return literal(ps, out);
    case TK_NULL:
        return eng__rerr(ENG_EPARSE, t.line, t.col, "'null' is not a value here; test for it with 'is null' or 'is not null'");
    case TK_IDENT:
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind != TK_LP) {
            *done = 1;
            return name_ref(ps, &t, out);
        }
        if ((rc = enter(ps)))
            return rc;
        unsigned arity = 0;
        int fn = lookup_fn(&t, &arity);
        if (fn < 0)
            return eng__rerr(ENG_ETYPE, t.line, t.col,
                             "unknown function '%.*s' (functions: lower, upper, len, days_since, today, date, "
                             "timestamp, any, count)",
                             (int)(t.len > 40 ? 40 : t.len), t.p);
        if ((rc = advance(ps)) || (rc = push_frame(ps, fn == F_ANY || fn == F_COUNT ? FR_QUANT : FR_CALL, &f)))
            return rc;
        f->at = t;
        f->fn = fn;
        f->arity = arity;
        if (fn == F_ANY || fn == F_COUNT) {
            /* any(x in list, condition) / count(x in list, condition) */
            f->var = ps->tok;
            if (f->var.kind != TK_IDENT)
                return unexpected(ps, "an item name, as in any(x in items, x == \"a\")");
            if (ps->nvars >= ENG__RULE_MAX_VARS)
                return eng__rerr(ENG_ETOOBIG, f->var.line, f->var.col, "any()/count() nested more than %d deep",
                                 ENG__RULE_MAX_VARS);
            if ((rc = advance(ps)) || (rc = expect(ps, TK_IN, "'in' after the item name")))
                return rc;
            *goal = G_VALUE;
            return ENG_OK;
        }
        if (ps->tok.kind == TK_RP) { /* no arguments */
            ps->depth--;
            *done = 1;
            rc = finish_call(ps, f, out);
            ps->nfr--;
            return rc;
        }
        *goal = G_OR;
        return ENG_OK;
    default:
        return unexpected(ps, "a value, a field name, a function call or '('");
    }
}

/* The operand after a predicate's left side: decide which predicate it is.
 * *done = 1 when the predicate is complete (*out), 0 when a value follows. */
static int pred_op(parser *ps, frame *f, int *goal, int32_t *out, int *done)
{
    int rc;
    eng__token at = ps->tok;
    int op = cmp_op(at.kind);
    *done = 0;
    f->at = at;
    *goal = G_VALUE;
    if (op >= 0) {
        f->op = (uint8_t)op;
        f->state = PS_CMP;
        return advance(ps);
    }
    int neg = 0;
    if (at.kind == TK_NOT) {
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind != TK_IN && ps->tok.kind != TK_BETWEEN && ps->tok.kind != TK_CONTAINS &&
            ps->tok.kind != TK_STARTS && ps->tok.kind != TK_ENDS)
            return unexpected(ps, "'in', 'between', 'contains', 'starts with' or 'ends with' after 'not'");
        neg = 1;
    }
    f->neg = (uint8_t)neg;
    eng__token kw = ps->tok;
    switch (kw.kind) {
    case TK_IN:
        if ((rc = advance(ps)) || (rc = expect(ps, TK_LP, "'(' after 'in'")))
            return rc;
        f->start = (uint32_t)ps->nops;
        f->state = PS_IN;
        if (ps->tok.kind != TK_RP)
            return ENG_OK;
        /* in (): no item matches (SQL) */
        if ((rc = advance(ps)) || (rc = finish_list(ps, f->start, N_IN, &f->at, f->x, out)))
            return rc;
        ps->r->nodes[*out].neg = f->neg;
        *done = 1;
        return no_chain(ps);
    case TK_BETWEEN:
        f->state = PS_LO;
        return advance(ps);
    case TK_IS:
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind == TK_NOT) {
            neg = 1;
            if ((rc = advance(ps)))
                return rc;
        }
        if ((rc = expect(ps, TK_NULL, "'null' after 'is' (only 'is null' and 'is not null' exist)")) ||
            (rc = node(ps, N_ISNULL, &at, f->x, -1, -1, out)))
            return rc;
        ps->r->nodes[*out].neg = (uint8_t)neg;
        *done = 1;
        return no_chain(ps);
    case TK_CONTAINS:
    case TK_STARTS:
    case TK_ENDS:
        f->op = (uint8_t)(kw.kind == TK_CONTAINS ? ENG_RULE_OP_CONTAINS
                          : kw.kind == TK_STARTS ? ENG_RULE_OP_STARTS_WITH : ENG_RULE_OP_ENDS_WITH);
        f->state = PS_STROP;
        if ((rc = advance(ps)))
            return rc;
        if (kw.kind != TK_CONTAINS)
            return expect(ps, TK_WITH, kw.kind == TK_STARTS ? "'with' after 'starts'" : "'with' after 'ends'");
        return ENG_OK;
    default:
        *out = f->x; /* a value alone */
        *done = 1;
        return ENG_OK;
    }
}

/* A sub-expression (res) came back to the top frame. *done = 1 when the frame
 * is complete and *res is its result; otherwise *goal says what comes next. */
static int resume(parser *ps, int *goal, int32_t *res, int *done)
{
    frame *f = &ps->fr[ps->nfr - 1];
    int rc;
    *done = 0;
    switch (f->kind) {
    case FR_OR:
    case FR_AND: {
        int tk = f->kind == FR_OR ? TK_OR : TK_AND;
        if ((rc = push_op(ps, *res)))
            return rc;
        if (ps->tok.kind == tk) {
            if (ps->nops - f->start == 1)
                f->at = ps->tok; /* the chain is reported at its first operator */
            *goal = f->kind == FR_OR ? G_AND : G_NOT;
            return advance(ps);
        }
        *done = 1;
        if (ps->nops - f->start == 1) {
            ps->nops = f->start;
            return ENG_OK;
        }
        return finish_list(ps, f->start, f->kind == FR_OR ? N_OR : N_AND, &f->at, -1, res);
    }
    case FR_NOT:
        ps->depth--;
        *done = 1;
        return node(ps, N_NOT, &f->at, *res, -1, -1, res);
    case FR_PAREN:
        ps->depth--;
        *done = 1;
        return expect(ps, TK_RP, "')'");
    case FR_CALL:
        if ((rc = push_op(ps, *res)))
            return rc;
        if (ps->tok.kind == TK_COMMA) {
            *goal = G_OR;
            return advance(ps);
        }
        ps->depth--;
        *done = 1;
        return finish_call(ps, f, res);
    case FR_QUANT:
        if (f->state == 0) { /* the list came back: the condition follows, with the item in scope */
            f->x = *res;
            f->state = 1;
            ps->vars[ps->nvars++] = f->var;
            *goal = G_OR;
            return expect(ps, TK_COMMA, "',' before the condition");
        } else {
            int32_t cond = *res;
            const char *vname;
            ps->nvars--;
            ps->depth--;
            *done = 1;
            if ((rc = expect(ps, TK_RP, "')' after the condition")) ||
                (rc = node(ps, N_CALL, &f->at, f->x, cond, -1, res)) ||
                (rc = eng__rule_pool(ps->r, f->var.p, f->var.len, &vname)))
                return rc;
            eng__rnode *n = &ps->r->nodes[*res];
            n->op = (uint8_t)f->fn;
            n->field = (uint32_t)(ps->r->nfields + ps->nvars); /* the variable's slot */
            n->lit.s = vname;
            n->lit.len = f->var.len;
            return ENG_OK;
        }
    default: /* FR_PRED */
        switch (f->state) {
        case PS_LHS:
            f->x = *res;
            return pred_op(ps, f, goal, res, done);
        case PS_CMP:
            if ((rc = node(ps, N_CMP, &f->at, f->x, *res, -1, res)))
                return rc;
            ps->r->nodes[*res].op = f->op;
            break;
        case PS_IN:
            if ((rc = push_op(ps, *res)))
                return rc;
            if (ps->tok.kind != TK_RP) {
                *goal = G_VALUE;
                return expect(ps, TK_COMMA, "',' or ')' in the list");
            }
            if ((rc = advance(ps)) || (rc = finish_list(ps, f->start, N_IN, &f->at, f->x, res)))
                return rc;
            ps->r->nodes[*res].neg = f->neg;
            break;
        case PS_LO:
            f->y = *res;
            f->state = PS_HI;
            *goal = G_VALUE;
            return expect(ps, TK_AND, "'and' in 'between ... and ...'");
        case PS_HI:
            if ((rc = node(ps, N_BETWEEN, &f->at, f->x, f->y, *res, res)))
                return rc;
            ps->r->nodes[*res].neg = f->neg;
            break;
        default: /* PS_STROP */
            if ((rc = node(ps, N_STROP, &f->at, f->x, *res, -1, res)))
                return rc;
            ps->r->nodes[*res].op = f->op;
            if (f->neg && (rc = node(ps, N_NOT, &f->at, *res, -1, -1, res)))
                return rc;
            break;
        }
        *done = 1;
        return no_chain(ps);
    }
}

static int run(parser *ps)
{
    int goal = G_OR, rc, done = 0;
    int32_t res = -1;
    frame *f = NULL;
    for (;;) {
        if (!done) { /* descend towards a value */
            switch (goal) {
            case G_OR:
                if ((rc = push_frame(ps, FR_OR, &f)))
                    return rc;
                goal = G_AND;
                continue;
            case G_AND:
                if ((rc = push_frame(ps, FR_AND, &f)))
                    return rc;
                goal = G_NOT;
                continue;
            case G_NOT:
                if (ps->tok.kind == TK_NOT) {
                    if ((rc = enter(ps)) || (rc = push_frame(ps, FR_NOT, &f)) || (rc = advance(ps)))
                        return rc;
                    continue;
                }
                if ((rc = push_frame(ps, FR_PRED, &f)))
                    return rc;
                goal = G_VALUE;
                continue;
            default:
                if ((rc = value(ps, &goal, &res, &done)))
                    return rc;
                continue;
            }
        }
        /* a sub-expression is complete: hand it to the construct waiting for it */
        if (ps->nfr == 0) {
            ps->r->root = res;
            return ENG_OK;
        }
        if ((rc = resume(ps, &goal, &res, &done)))
            return rc;
        if (done)
            ps->nfr--;
    }
}

int eng__rule_parse(eng_rule *r, const char *text, size_t len)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.r = r;
    eng__lex_init(&ps.lx, text, len);
    int rc = advance(&ps);
    if (!rc && ps.tok.kind == TK_EOF)
        rc = eng__rerr(ENG_EPARSE, ps.tok.line, ps.tok.col, "empty rule (write a condition, or 'true')");
    if (!rc)
        rc = run(&ps);
    if (!rc && ps.tok.kind != TK_EOF)
        rc = unexpected(&ps, "'and', 'or' or the end of the rule");
    eng__free(&r->mem, ps.fr);
    eng__free(&r->mem, ps.ops);
    return rc;
}
