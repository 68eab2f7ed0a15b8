/* Canonical text of a compiled program: every operator spelt one way,
 * parentheses exactly where the structure needs them, `in` lists sorted and
 * without duplicates, constants folded. Compiling the canonical text gives
 * the same program. */
#include "rules/rules_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/codec.h"

static void put(eng__wr *w, const char *s)
{
    eng__wr_bytes(w, s, strlen(s));
}

static void put_string(eng__wr *w, const char *s, size_t n)
{
    eng__wr_u8(w, '"');
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\\') {
            eng__wr_u8(w, '\\');
            eng__wr_u8(w, (uint8_t)c);
        } else if (c == '\n') {
            put(w, "\\n");
        } else if (c == '\t') {
            put(w, "\\t");
        } else {
            eng__wr_u8(w, (uint8_t)c);
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

static void print(const eng_rule *r, int32_t idx, eng__wr *w, int at)
{
    const eng__rnode *n = &r->nodes[idx];
    int paren = needs_parens(n->kind, at);
    if (paren)
        put(w, "(");
    switch (n->kind) {
    case N_LIT:
        if (n->lit.t == ENG_RT_STRING)
            put_string(w, n->lit.s, n->lit.len);
        else
            put_value(w, n->lit.t, n->lit.i, n->lit.scale);
        break;
    case N_FIELD: put(w, r->fields[n->field].name); break;
    case N_VAR: eng__wr_bytes(w, n->lit.s, n->lit.len); break;
    case N_NOT:
        put(w, "not ");
        print(r, n->a, w, AT_NOT);
        break;
    case N_AND:
    case N_OR:
        for (uint32_t k = 0; k < n->n; k++) {
            if (k)
                put(w, n->kind == N_AND ? " and " : " or ");
            print(r, r->kids[n->first + k], w, n->kind == N_AND ? AT_AND : AT_OR);
        }
        break;
    case N_CMP:
        print(r, n->a, w, AT_OPERAND);
        put(w, cmp_text[n->op]);
        print(r, n->b, w, AT_OPERAND);
        break;
    case N_IN: {
        const eng__rset *set = &r->sets[n->set];
        int lt = r->nodes[n->a].type;
        print(r, n->a, w, AT_OPERAND);
        put(w, n->neg ? " not in (" : " in (");
        for (size_t k = 0; k < set->n; k++) {
            if (k)
                put(w, ", ");
            if (set->type == ENG_RT_STRING)
                put_string(w, set->strs[k].s, set->strs[k].len);
            else if (lt == ENG_RT_INT || lt == ENG_RT_DECIMAL)
                put_scaled(w, set->ints[k], set->scale);
            else
                put_value(w, lt, set->ints[k], 0);
        }
        put(w, ")");
        break;
    }
    case N_BETWEEN:
        print(r, n->a, w, AT_OPERAND);
        put(w, n->neg ? " not between " : " between ");
        print(r, n->b, w, AT_OPERAND);
        put(w, " and ");
        print(r, n->c, w, AT_OPERAND);
        break;
    case N_ISNULL:
        print(r, n->a, w, AT_OPERAND);
        put(w, n->neg ? " is not null" : " is null");
        break;
    case N_STROP:
        print(r, n->a, w, AT_OPERAND);
        put(w, n->op == ENG_RULE_OP_CONTAINS ? " contains " : n->op == ENG_RULE_OP_STARTS_WITH ? " starts with "
                                                                                              : " ends with ");
        print(r, n->b, w, AT_OPERAND);
        break;
    case N_CALL:
        put(w, eng__fn_name(n->op));
        put(w, "(");
        if (n->op == F_ANY || n->op == F_COUNT) {
            eng__wr_bytes(w, n->lit.s, n->lit.len);
            put(w, " in ");
            print(r, n->a, w, AT_OPERAND);
            put(w, ", ");
            print(r, n->b, w, AT_TOP);
        } else if (n->a >= 0) {
            print(r, n->a, w, AT_TOP);
        }
        put(w, ")");
        break;
    default:
        break;
    }
    if (paren)
        put(w, ")");
}

int eng__rule_print(const eng_rule *r, const eng__mem *mem, char **out, size_t *len)
{
    eng__wr w;
    eng__wr_init(&w, mem);
    print(r, r->root, &w, AT_TOP);
    eng__wr_u8(&w, 0);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    *out = (char *)eng__wr_take(&w, len);
    (*len)--;
    return ENG_OK;
}
