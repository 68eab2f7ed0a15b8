/* Canonical text of a compiled program: every operator spelt one way,
 * parentheses exactly where the structure needs them, `in` lists sorted and
 * without duplicates, constants folded (but today() and days_since() of a
 * constant kept as written, so stored text moves with the clock). Compiling
 * the canonical text gives the same program, never nested deeper than the
 * text it came from. Printed with an explicit stack (no recursion). */
#include "rules/rules_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/codec.h"

static void put(eng__wr *w, const char *s)
{
    eng__wr_bytes(w, s, strlen(s));
}

/* The one quoting routine of the language (canonical text and the builder):
 * a double-quoted literal the lexer reads back to the same bytes. Control
 * characters are escaped (\n \r \t, others \u{hex}), so any valid UTF-8
 * value can be written. */
void eng__rule_quote(eng__wr *w, const char *s, size_t n)
{
    eng__wr_u8(w, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[16];
        if (c == '"' || c == '\\') {
            eng__wr_u8(w, '\\');
            eng__wr_u8(w, c);
        } else if (c == '\n') {
            put(w, "\\n");
        } else if (c == '\r') {
            put(w, "\\r");
        } else if (c == '\t') {
            put(w, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u{%x}", c);
            put(w, esc);
        } else {
            eng__wr_u8(w, c);
        }
    }
    eng__wr_u8(w, '"');
}

static void put_scaled(eng__wr *w, int64_t v, int scale)
{
    char buf[48];
    if (scale == 0) {
        snprintf(buf, sizeof buf, "%" PRId64, v);
        put(w, buf);
        return;
    }
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t p = 1;
    for (int i = 0; i < scale; i++)
        p *= 10;
    snprintf(buf, sizeof buf, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", u / p, scale, u % p);
    put(w, buf);
}

static void put_value(eng__wr *w, int type, int64_t i, int scale)
{
    char buf[64];
    switch (type) {
    case ENG_RT_BOOL: put(w, i ? "true" : "false"); break;
    case ENG_RT_DATE:
        eng__format_date((int32_t)i, buf);
        put(w, "date(\"");
        put(w, buf);
        put(w, "\")");
        break;
    case ENG_RT_TIMESTAMP:
        eng__format_timestamp(i, buf);
        put(w, "timestamp(\"");
        put(w, buf);
        put(w, "\")");
        break;
    default: put_scaled(w, i, type == ENG_RT_DECIMAL ? scale : 0); break;
    }
}

static const char *const cmp_text[] = {" == ", " != ", " < ", " <= ", " > ", " >= "};
static const char *const strop_text[] = {" contains ", " starts with ", " ends with "};

/* Where a node is printed, for deciding on parentheses. */
enum { AT_TOP, AT_OR, AT_AND, AT_NOT, AT_OPERAND };

/* Parentheses only where the structure needs them, so the canonical text is
 * never nested deeper than the text it came from (and compiles within the
 * same limits). */
static int needs_parens(int kind, int at)
{
    switch (kind) {
    case N_OR: return at != AT_TOP;
    case N_AND: return at == AT_AND || at == AT_NOT || at == AT_OPERAND;
    case N_NOT:
    case N_CMP:
    case N_IN:
    case N_BETWEEN:
    case N_ISNULL:
    case N_STROP: return at == AT_OPERAND;
    default: return 0;
    }
}

/* The kind a node is printed as: a folded constant that reads "now" is
 * printed as it was written. */
static int kind_of(const eng__rnode *n)
{
    return n->kind == N_LIT && n->src_kind ? n->src_kind : n->kind;
}

/* Print tasks, done last-pushed first. */
enum { T_NODE, T_TEXT, T_NAME, T_SET };
typedef struct task {
    uint8_t kind, at;
    int32_t idx;
    const char *text;
} task;

typedef struct printer {
    const eng_rule *r;
    eng__wr *w;
    task *t; size_t n, cap;
    int err;
} printer;

static void push(printer *p, int kind, int32_t idx, int at, const char *text)
{
    if (eng__grow(p->w->mem, (void **)&p->t, &p->cap, p->n + 1, sizeof *p->t)) {
        p->err = 1;
        return;
    }
    p->t[p->n++] = (task){(uint8_t)kind, (uint8_t)at, idx, text};
}

static void print_set(printer *p, const eng__rnode *n)
{
    const eng_rule *r = p->r;
    const eng__rset *set = &r->sets[n->set];
    int lt = r->nodes[n->a].type;
    for (size_t k = 0; k < set->n; k++) {
        if (k)
            put(p->w, ", ");
        if (set->type == ENG_RT_STRING)
            eng__rule_quote(p->w, set->strs[k].s, set->strs[k].len);
        else if (set->scales)
            put_scaled(p->w, set->ints[k], set->scales[k]);
        else
            put_value(p->w, lt, set->ints[k], 0);
    }
}

/* Push the pieces of node idx (printed at position at) in reverse order. */
static void expand(printer *p, int32_t idx, int at)
{
    const eng_rule *r = p->r;
    const eng__rnode *n = &r->nodes[idx];
    int kind = kind_of(n), strop_not = 0;
    /* `not (a contains b)` is printed `a not contains b`: one level, as the language writes it */
    if (kind == N_NOT && kind_of(&r->nodes[n->a]) == N_STROP) {
        kind = N_STROP;
        strop_not = 1;
    }
    int paren = needs_parens(kind, at);
    if (paren)
        push(p, T_TEXT, -1, 0, ")");
    switch (kind) {
    case N_LIT:
        push(p, T_NAME, idx, 0, NULL); /* the literal itself */
        break;
    case N_FIELD:
        push(p, T_TEXT, -1, 0, r->fields[n->field].name);
        break;
    case N_VAR:
        push(p, T_NAME, idx, 0, NULL);
        break;
    case N_NOT:
        push(p, T_NODE, n->a, AT_NOT, NULL);
        push(p, T_TEXT, -1, 0, "not ");
        break;
    case N_AND:
    case N_OR:
        for (uint32_t k = n->n; k-- > 0;) {
            push(p, T_NODE, r->kids[n->first + k], kind == N_AND ? AT_AND : AT_OR, NULL);
            if (k)
                push(p, T_TEXT, -1, 0, kind == N_AND ? " and " : " or ");
        }
        break;
    case N_CMP:
        push(p, T_NODE, n->b, AT_OPERAND, NULL);
        push(p, T_TEXT, -1, 0, cmp_text[n->op]);
        push(p, T_NODE, n->a, AT_OPERAND, NULL);
        break;
    case N_IN: {
        push(p, T_TEXT, -1, 0, ")");
        /* items reading "now" are printed as written (the set holds today's values) */
        int as_written = 0;
        for (uint32_t k = 0; k < n->n; k++)
            as_written |= r->nodes[r->kids[n->first + k]].src_kind != 0;
        if (as_written) {
            for (uint32_t k = n->n; k-- > 0;) {
                push(p, T_NODE, r->kids[n->first + k], AT_OPERAND, NULL);
                if (k)
                    push(p, T_TEXT, -1, 0, ", ");
            }
        } else {
            push(p, T_SET, idx, 0, NULL);
        }
        push(p, T_TEXT, -1, 0, n->neg ? " not in (" : " in (");
        push(p, T_NODE, n->a, AT_OPERAND, NULL);
        break;
    }
    case N_BETWEEN:
        push(p, T_NODE, n->c, AT_OPERAND, NULL);
        push(p, T_TEXT, -1, 0, " and ");
        push(p, T_NODE, n->b, AT_OPERAND, NULL);
        push(p, T_TEXT, -1, 0, n->neg ? " not between " : " between ");
        push(p, T_NODE, n->a, AT_OPERAND, NULL);
        break;
    case N_ISNULL:
        push(p, T_TEXT, -1, 0, n->neg ? " is not null" : " is null");
        push(p, T_NODE, n->a, AT_OPERAND, NULL);
        break;
    case N_STROP: {
        const eng__rnode *s = strop_not ? &r->nodes[n->a] : n;
        push(p, T_NODE, s->b, AT_OPERAND, NULL);
        push(p, T_TEXT, -1, 0, strop_text[s->op - ENG_RULE_OP_CONTAINS]);
        if (strop_not)
            push(p, T_TEXT, -1, 0, " not");
        push(p, T_NODE, s->a, AT_OPERAND, NULL);
        break;
    }
    case N_CALL:
        push(p, T_TEXT, -1, 0, ")");
        if (n->op == F_ANY || n->op == F_COUNT) {
            push(p, T_NODE, n->b, AT_TOP, NULL);
            push(p, T_TEXT, -1, 0, ", ");
            push(p, T_NODE, n->a, AT_OPERAND, NULL);
            push(p, T_TEXT, -1, 0, " in ");
            push(p, T_NAME, idx, 0, NULL);
        } else if (n->a >= 0) {
            push(p, T_NODE, n->a, AT_TOP, NULL);
        }
        push(p, T_TEXT, -1, 0, "(");
        push(p, T_TEXT, -1, 0, eng__fn_name(n->op));
        break;
    default:
        break;
    }
    if (paren)
        push(p, T_TEXT, -1, 0, "(");
}

int eng__rule_print(const eng_rule *r, const eng__mem *mem, char **out, size_t *len)
{
    eng__wr w;
    eng__wr_init(&w, mem);
    printer p = {r, &w, NULL, 0, 0, 0};
    push(&p, T_NODE, r->root, AT_TOP, NULL);
    while (p.n && !p.err) {
        task t = p.t[--p.n];
        const eng__rnode *n = t.idx >= 0 ? &r->nodes[t.idx] : NULL;
        switch (t.kind) {
        case T_NODE: expand(&p, t.idx, t.at); break;
        case T_TEXT: put(&w, t.text); break;
        case T_SET: print_set(&p, n); break;
        default: /* T_NAME: a literal, an item variable or an any()/count() item name */
            if (n->kind == N_LIT && !n->src_kind && n->lit.t == ENG_RT_STRING)
                eng__rule_quote(&w, n->lit.s, n->lit.len);
            else if (n->kind == N_LIT && !n->src_kind)
                put_value(&w, n->lit.t, n->lit.i, n->lit.scale);
            else
                eng__wr_bytes(&w, n->lit.s, n->lit.len);
            break;
        }
    }
    eng__free(mem, p.t);
    eng__wr_u8(&w, 0);
    if (w.err || p.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    *out = (char *)eng__wr_take(&w, len);
    (*len)--;
    return ENG_OK;
}
