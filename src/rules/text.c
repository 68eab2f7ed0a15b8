/* Canonical text of a compiled program: every operator spelt one way, every
 * compound operand parenthesised, `in` lists sorted and without duplicates.
 * Compiling the canonical text gives the same program. */
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

static void print(const eng_rule *r, int32_t idx, eng__wr *w)
{
    const eng__rnode *n = &r->nodes[idx];
    switch (n->kind) {
    case N_LIT:
        if (n->lit.t == ENG_RT_STRING)
            put_string(w, n->lit.s, n->lit.len);
        else
            put_value(w, n->lit.t, n->lit.i, n->lit.scale);
        return;
    case N_FIELD: put(w, r->fields[n->field].name); return;
    case N_NOT:
        put(w, "(not ");
        print(r, n->a, w);
        put(w, ")");
        return;
    case N_AND:
    case N_OR:
        put(w, "(");
        for (uint32_t k = 0; k < n->n; k++) {
            if (k)
                put(w, n->kind == N_AND ? " and " : " or ");
            print(r, r->kids[n->first + k], w);
        }
        put(w, ")");
        return;
    case N_CMP:
        put(w, "(");
        print(r, n->a, w);
        put(w, cmp_text[n->op]);
        print(r, n->b, w);
        put(w, ")");
        return;
    case N_IN: {
        const eng__rset *set = &r->sets[n->set];
        int lt = r->nodes[n->a].type;
        put(w, "(");
        print(r, n->a, w);
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
        put(w, "))");
        return;
    }
    case N_BETWEEN:
        put(w, "(");
        print(r, n->a, w);
        put(w, n->neg ? " not between " : " between ");
        print(r, n->b, w);
        put(w, " and ");
        print(r, n->c, w);
        put(w, ")");
        return;
    case N_ISNULL:
        put(w, "(");
        print(r, n->a, w);
        put(w, n->neg ? " is not null)" : " is null)");
        return;
    case N_STROP:
        put(w, "(");
        print(r, n->a, w);
        put(w, n->op == ENG_RULE_OP_CONTAINS ? " contains " : n->op == ENG_RULE_OP_STARTS_WITH ? " starts with "
                                                                                              : " ends with ");
        print(r, n->b, w);
        put(w, ")");
        return;
    case N_CALL:
        put(w, eng__fn_name(n->op));
        put(w, "(");
        if (n->a >= 0)
            print(r, n->a, w);
        put(w, ")");
        return;
    default:
        return;
    }
}

int eng__rule_print(const eng_rule *r, const eng__mem *mem, char **out, size_t *len)
{
    eng__wr w;
    eng__wr_init(&w, mem);
    print(r, r->root, &w);
    eng__wr_u8(&w, 0);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    *out = (char *)eng__wr_take(&w, len);
    (*len)--;
    return ENG_OK;
}
