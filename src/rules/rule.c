/* The compiled-rule handle: options, schema copy, node/kid/set/string
 * storage, compile and free, canonical text. */
#include "base/handle.h"
#include "rules/rules_impl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/engine_impl.h"

ENG_API int eng_rule_options_init(eng_rule_options *opts, unsigned int version)
{
    static const eng_rule_options init = ENG_RULE_OPTIONS_INIT;
    return eng__struct_init(opts, &init, ENG__SIZES(sizeof init), version, "eng_rule_options");
}

/* Only names of 2-8 letters can be keywords: a filter's options carry a field per
 * column and 45 pseudo-fields ("reachable.sms"), checked at every compile. */
static int is_keyword(const char *s, size_t len)
{
    static const char *const kw[] = {"and", "or", "not", "in", "between", "is", "null", "true", "false",
                                     "contains", "starts", "ends", "with"};
    if (len < 2 || len > 8)
        return 0;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcasecmp(kw[i], s) == 0)
            return 1;
    return 0;
}

static int check_options(const eng_rule_options *o)
{
    if (!o)
        return eng__err(ENG_EINVAL, "opts", "rule options are NULL");
    if (o->version != ENG_RULE_OPTIONS_VERSION)
        return eng__err(ENG_EVERSION, "opts.version", "unknown rule options version %u", o->version);
    if (o->nfields > ENG__RULE_MAX_FIELDS)
        return eng__err(ENG_ETOOBIG, "opts.nfields", "too many fields (%zu, at most %d)", o->nfields,
                        ENG__RULE_MAX_FIELDS);
    if (o->nfields && !o->fields)
        return eng__err(ENG_EINVAL, "opts.fields", "fields is NULL but nfields is %zu", o->nfields);
    if (o->max_depth > 1000 || o->max_nodes > 1000000)
        return eng__err(ENG_ERANGE, o->max_depth > 1000 ? "opts.max_depth" : "opts.max_nodes",
                        "limit out of range (max_depth <= 1000, max_nodes <= 1000000)");
    char path[40]; /* "fields[i]", written when there is an error to name */
#define FIELD_ERR(code, ...) (snprintf(path, sizeof path, "fields[%zu]", i), eng__err(code, path, __VA_ARGS__))
    for (size_t i = 0; i < o->nfields; i++) {
        const eng_rule_field *f = &o->fields[i];
        const char *s = f->name;
        size_t len = s ? strlen(s) : 0;
        if (!len || len > 128)
            return FIELD_ERR(ENG_EINVAL, "field name is empty, NULL or longer than 128 bytes");
        int ok = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_';
        for (const char *p = s; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '.' ||
                 (*p >= '0' && *p <= '9');
        if (!ok || s[len - 1] == '.' || is_keyword(s, len))
            return FIELD_ERR(ENG_EINVAL, "field name '%s' is not an identifier (or is a keyword)", s);
        if (f->type < ENG_RT_BOOL || f->type > ENG_RT_STRING_LIST)
            return FIELD_ERR(ENG_EINVAL, "field '%s' has an unknown type %d", s, (int)f->type);
        if (f->scale < 0 || f->scale > ENG_RULE_MAX_SCALE || (f->type != ENG_RT_DECIMAL && f->scale != 0))
            return FIELD_ERR(ENG_EINVAL, "field '%s' has a bad scale %d", s, f->scale);
        for (size_t j = 0; j < i; j++) /* the first byte before the whole name */
            if (o->fields[j].name[0] == s[0] && strcmp(o->fields[j].name, s) == 0)
                return FIELD_ERR(ENG_EINVAL, "duplicate field name '%s'", s);
    }
#undef FIELD_ERR
    return ENG_OK;
}

int eng__rule_check(const eng_rule *r)
{
    if (!eng__handle_live(r, ENG__H_RULE))
        return eng__err(ENG_EMISUSE, "rule", "not a live rule handle (NULL, freed or foreign pointer)");
    return ENG_OK;
}

void eng__rule_destroy(eng_rule *r)
{
    if (!r)
        return;
    eng__mem mem = r->mem;
    for (size_t i = 0; i < r->nsets; i++) {
        eng__free(&mem, r->sets[i].ints);
        eng__free(&mem, r->sets[i].strs);
        eng__free(&mem, r->sets[i].scales);
    }
    for (size_t i = 0; i < r->npool; i++)
        eng__free(&mem, r->pool[i]);
    if (r->fields)
        for (size_t i = 0; i < r->nfields; i++)
            eng__free(&mem, (char *)r->fields[i].name);
    eng__free(&mem, r->fields);
    eng__free(&mem, r->used);
    eng__free(&mem, r->sets);
    eng__free(&mem, r->pool);
    eng__free(&mem, r->kids);
    eng__free(&mem, r->nodes);
    eng_engine *e = r->engine;
    r->magic = 0;
    eng__handle_free(&mem, r);
    if (e)
        eng__engine_unref(e);
}

int eng__rule_reads(const eng_rule *r, size_t i)
{
    return i < r->nfields && r->used[i];
}

int eng__rule_new(eng_engine *e, const eng_rule_options *opts, eng_rule **out)
{
    eng_rule *r = eng__handle_new(&e->mem, sizeof *r, ENG__H_RULE);
    if (!r)
        return eng__nomem();
    r->mem = e->mem;
    r->root = -1;
    r->max_depth = opts->max_depth ? opts->max_depth : 64;
    r->max_nodes = opts->max_nodes ? opts->max_nodes : 10000;
    r->now = opts->now ? opts->now : eng__now(e);
    r->today = (int32_t)eng__floor_div(r->now, ENG_DAY);
    if (opts->nfields) {
        r->fields = eng__calloc(&r->mem, opts->nfields, sizeof *r->fields);
        r->used = eng__calloc(&r->mem, opts->nfields, 1);
        if (!r->fields || !r->used) {
            eng__rule_destroy(r);
            return eng__nomem();
        }
        for (size_t i = 0; i < opts->nfields; i++) {
            r->fields[i] = opts->fields[i];
            r->fields[i].name = eng__strdup(&r->mem, opts->fields[i].name);
            if (!r->fields[i].name) {
                r->nfields = i;
                eng__rule_destroy(r);
                return eng__nomem();
            }
        }
        r->nfields = opts->nfields;
    }
    r->magic = ENG__RULE_MAGIC;
    r->engine = e;
    eng__engine_ref(e);
    *out = r;
    return ENG_OK;
}

int eng__rule_add_node(eng_rule *r, const eng__rnode *n, int32_t *idx)
{
    if (eng__grow(&r->mem, (void **)&r->nodes, &r->ncap, r->nnodes + 1, sizeof *r->nodes))
        return eng__nomem();
    r->nodes[r->nnodes] = *n;
    *idx = (int32_t)r->nnodes++;
    return ENG_OK;
}

int eng__rule_add_kid(eng_rule *r, int32_t kid)
{
    if (eng__grow(&r->mem, (void **)&r->kids, &r->kcap, r->nkids + 1, sizeof *r->kids))
        return eng__nomem();
    r->kids[r->nkids++] = kid;
    return ENG_OK;
}

int eng__rule_pool(eng_rule *r, const char *s, size_t len, const char **out)
{
    if (eng__grow(&r->mem, (void **)&r->pool, &r->pcap, r->npool + 1, sizeof *r->pool))
        return eng__nomem();
    char *c = eng__malloc(&r->mem, len + 1);
    if (!c)
        return eng__nomem();
    if (len)
        memcpy(c, s, len);
    c[len] = 0;
    r->pool[r->npool++] = c;
    *out = c;
    return ENG_OK;
}

/* Called with the engine entered. */
int eng__rule_build(eng_engine *e, const char *text, size_t len, const eng_rule_options *opts, eng_rule **out)
{
    eng_rule *r;
    int rc = check_options(opts);
    if (rc)
        return rc;
    if (len > ENG__RULE_MAX_TEXT)
        return eng__err(ENG_ETOOBIG, "text", "rule text too long (%zu bytes, at most %zu)", len, ENG__RULE_MAX_TEXT);
    if ((rc = eng__rule_new(e, opts, &r)))
        return rc;
    if ((rc = eng__rule_parse(r, text, len)) || (rc = eng__rule_typecheck(r)) ||
        (rc = eng__rule_compile_program(r))) {
        eng__rule_destroy(r);
        return rc;
    }
    *out = r;
    return ENG_OK;
}

ENG_API int eng_rule_compile(eng_engine *engine, const char *text, const eng_rule_options *opts, eng_rule **out)
{
    int rc = eng__enter_ptr(engine, out, "out");
    if (rc)
        return rc;
    rc = !text ? eng__err(ENG_EINVAL, "text", "eng_rule_compile: text is NULL")
               : eng__rule_build(engine, text, strlen(text), opts, out);
    eng__leave(engine);
    return rc;
}

ENG_API void eng_rule_free(eng_rule *rule)
{
    if (!eng__handle_live(rule, ENG__H_RULE))
        return;
    eng__rule_destroy(rule);
}

ENG_API int eng_rule_text(const eng_rule *rule, char *buf, size_t cap, size_t *needed)
{
    if (needed)
        *needed = 0;
    if (buf && cap)
        buf[0] = 0;
    int rc = eng__rule_check(rule);
    if (rc)
        return rc;
    if (!buf && cap)
        return eng__err(ENG_EINVAL, "buf", "eng_rule_text: buf is NULL but cap is %zu", cap);
    char *s;
    size_t len;
    if ((rc = eng__rule_print(rule, &rule->mem, &s, &len)))
        return rc;
    if (needed)
        *needed = len + 1;
    if (cap) {
        size_t n = len < cap ? len : cap - 1;
        memcpy(buf, s, n);
        buf[n] = 0;
    }
    eng__free(&rule->mem, s);
    if (cap < len + 1)
        return eng__err(ENG_ERANGE, "cap", "buffer of %zu bytes too small for %zu", cap, len + 1);
    return ENG_OK;
}
