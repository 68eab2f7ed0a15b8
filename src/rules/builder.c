/* Structured builder (the product UI's shape): groups of conditions, AND
 * inside a group, OR across groups, each condition include or exclude. It
 * writes the equivalent rule text and compiles that, so the builder and the
 * text form give the same program by construction. */
#include "base/handle.h"
#include "rules/rules_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/engine_impl.h"
#include "base/codec.h"

#define BUILDER_MAGIC 0x424c4452u /* "BLDR" */
#define MAX_GROUPS 1000
#define MAX_VALUES 10000

typedef struct bcond {
    char *text; /* the condition as rule text, without the exclude negation */
    int exclude;
} bcond;

typedef struct bgroup {
    bcond *conds;
    size_t n, cap;
} bgroup;

struct eng_rule_builder {
    uint32_t magic;
    eng_engine *engine;
    eng__mem mem;
    bgroup *groups;
    size_t ngroups, gcap;
};

static int check_builder(const eng_rule_builder *b)
{
    if (!eng__handle_live(b, ENG__H_RULE_BUILDER))
        return eng__err(ENG_EMISUSE, "builder", "not a live builder handle (NULL, freed or foreign)");
    return ENG_OK;
}

ENG_API int eng_rule_builder_new(eng_engine *engine, eng_rule_builder **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_rule_builder_new: out is NULL");
    int rc = eng__engine_hold(engine);
    if (rc)
        return rc;
    eng_rule_builder *b = eng__handle_new(&engine->mem, sizeof *b, ENG__H_RULE_BUILDER);
    if (b) {
        b->magic = BUILDER_MAGIC;
        b->engine = engine;
        b->mem = engine->mem;
        eng__engine_ref(engine);
        *out = b;
    }
    eng__engine_unhold(engine);
    return b ? ENG_OK : eng__nomem();
}

ENG_API void eng_rule_builder_free(eng_rule_builder *b)
{
    if (!eng__handle_live(b, ENG__H_RULE_BUILDER))
        return;
    eng__mem mem = b->mem;
    for (size_t g = 0; g < b->ngroups; g++) {
        for (size_t i = 0; i < b->groups[g].n; i++)
            eng__free(&mem, b->groups[g].conds[i].text);
        eng__free(&mem, b->groups[g].conds);
    }
    eng__free(&mem, b->groups);
    eng_engine *e = b->engine;
    b->magic = 0;
    eng__handle_free(&mem, b);
    eng__engine_unref(e);
}

ENG_API int eng_rule_builder_group(eng_rule_builder *b)
{
    int rc = check_builder(b);
    if (rc)
        return rc;
    if (b->ngroups >= MAX_GROUPS)
        return eng__err(ENG_ETOOBIG, "groups", "too many groups (at most %d)", MAX_GROUPS);
    if (eng__grow(&b->mem, (void **)&b->groups, &b->gcap, b->ngroups + 1, sizeof *b->groups))
        return eng__nomem();
    memset(&b->groups[b->ngroups++], 0, sizeof *b->groups);
    return ENG_OK;
}

static void put(eng__wr *w, const char *s)
{
    eng__wr_bytes(w, s, strlen(s));
}

static int put_value(eng__wr *w, const eng_rule_value *v, size_t idx)
{
    char buf[80], path[32];
    snprintf(path, sizeof path, "values[%zu]", idx);
    switch (v->type) {
    case ENG_RT_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->v.i);
        put(w, buf);
        return ENG_OK;
    case ENG_RT_DECIMAL: {
        if (v->scale < 0 || v->scale > ENG_RULE_MAX_SCALE)
            return eng__err(ENG_EINVAL, path, "bad decimal (scale %d)", v->scale);
        uint64_t u = v->v.i < 0 ? 0 - (uint64_t)v->v.i : (uint64_t)v->v.i, p = 1;
        for (int i = 0; i < v->scale; i++)
            p *= 10;
        if (v->scale)
            snprintf(buf, sizeof buf, "%s%" PRIu64 ".%0*" PRIu64, v->v.i < 0 ? "-" : "", u / p, v->scale, u % p);
        else
            snprintf(buf, sizeof buf, "%" PRId64, v->v.i);
        put(w, buf);
        return ENG_OK;
    }
    case ENG_RT_BOOL:
        put(w, v->v.b ? "true" : "false");
        return ENG_OK;
    case ENG_RT_DATE: {
        char d[32];
        if (v->v.date < -719162 || v->v.date > 2932896) /* years 1..9999 */
            return eng__err(ENG_ERANGE, path, "date out of range");
        eng__format_date(v->v.date, d);
        snprintf(buf, sizeof buf, "date(\"%s\")", d);
        put(w, buf);
        return ENG_OK;
    }
    case ENG_RT_TIMESTAMP: {
        char t[64];
        if (v->v.i < -62135596800000LL || v->v.i > 253402300799999LL)
            return eng__err(ENG_ERANGE, path, "timestamp out of range");
        eng__format_timestamp(v->v.i, t);
        put(w, "timestamp(\"");
        put(w, t);
        put(w, "\")");
        return ENG_OK;
    }
    case ENG_RT_STRING: {
        const char *s = v->v.s.ptr;
        size_t n = v->v.s.len;
        if (!s && n)
            return eng__err(ENG_EINVAL, path, "string pointer is NULL");
        if (n > 65536 || !eng__utf8_valid(s, n))
            return eng__err(ENG_EINVAL, path, "string is not valid UTF-8 or longer than 64 KiB");
        eng__rule_quote(w, s, n);
        return ENG_OK;
    }
    default:
        return eng__err(ENG_EINVAL, path, "a condition value cannot be of type %s", eng__rtype_name(v->type));
    }
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '.' ||
              (*p >= '0' && *p <= '9')))
            return 0;
    return s[strlen(s) - 1] != '.';
}

ENG_API int eng_rule_builder_add(eng_rule_builder *b, const char *field, int op, int exclude,
                                 const eng_rule_value *values, size_t nvalues)
{
    int rc = check_builder(b);
    if (rc)
        return rc;
    if (!valid_name(field))
        return eng__err(ENG_EINVAL, "field", "field name is NULL or not an identifier");
    if ((int)op < ENG_RULE_OP_EQ || op > ENG_RULE_OP_IS_NULL)
        return eng__err(ENG_EINVAL, "op", "unknown operator %d", (int)op);
    if (exclude != 0 && exclude != 1)
        return eng__err(ENG_EINVAL, "exclude", "exclude must be 0 or 1");
    size_t want_min = op == ENG_RULE_OP_IS_NULL ? 0 : op == ENG_RULE_OP_BETWEEN ? 2 : 1;
    size_t want_max = op == ENG_RULE_OP_IN ? MAX_VALUES : want_min;
    if (nvalues < want_min || nvalues > want_max || (nvalues && !values))
        return eng__err(ENG_EINVAL, "values", "operator %d takes %zu..%zu values, got %zu%s", (int)op, want_min,
                        want_max, nvalues, nvalues && !values ? " (values is NULL)" : "");
    static const char *const ops[] = {" == ", " != ", " < ", " <= ", " > ", " >= ", " in (", " between ",
                                      " contains ", " starts with ", " ends with ", " is null"};
    eng__wr w;
    eng__wr_init(&w, &b->mem);
    put(&w, field);
    put(&w, ops[op]);
    for (size_t i = 0; i < nvalues && !rc; i++) {
        if (i)
            put(&w, op == ENG_RULE_OP_BETWEEN ? " and " : ", ");
        rc = put_value(&w, &values[i], i);
    }
    if (op == ENG_RULE_OP_IN)
        put(&w, ")");
    eng__wr_u8(&w, 0);
    if (!rc && w.err)
        rc = eng__nomem();
    if (!rc && b->ngroups == 0)
        rc = eng_rule_builder_group(b);
    bgroup *g = rc ? NULL : &b->groups[b->ngroups - 1];
    if (!rc && eng__grow(&b->mem, (void **)&g->conds, &g->cap, g->n + 1, sizeof *g->conds))
        rc = eng__nomem();
    if (rc) {
        eng__wr_free(&w);
        return rc;
    }
    size_t len;
    g->conds[g->n].text = (char *)eng__wr_take(&w, &len);
    g->conds[g->n].exclude = exclude;
    g->n++;
    return ENG_OK;
}

ENG_API int eng_rule_builder_compile(const eng_rule_builder *b, const eng_rule_options *opts, eng_rule **out)
{
    if (out)
        *out = NULL;
    int rc = check_builder(b);
    if (rc)
        return rc;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_rule_builder_compile: out is NULL");
    eng__wr w;
    eng__wr_init(&w, &b->mem);
    size_t written = 0;
    for (size_t g = 0; g < b->ngroups; g++) {
        const bgroup *gr = &b->groups[g];
        if (!gr->n)
            continue; /* an empty group adds nothing */
        put(&w, written++ ? " or (" : "(");
        for (size_t i = 0; i < gr->n; i++) {
            if (i)
                put(&w, " and ");
            put(&w, gr->conds[i].exclude ? "not (" : "(");
            put(&w, gr->conds[i].text);
            put(&w, ")");
        }
        put(&w, ")");
    }
    if (!written)
        put(&w, "true");
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    if (!(rc = eng__enter(b->engine))) {
        rc = eng__rule_build(b->engine, (const char *)w.data, w.len, opts, out);
        eng__leave(b->engine);
    }
    eng__wr_free(&w);
    return rc;
}
