/* Rule texts inside the model (personalization variant rules, conversion-goal
 * conditions) are compiled by the rules layer against a schema the host (or
 * the audience layer) supplies, so a typo is reported at the field path of the
 * rule, with the line:column of the rules layer's message. */
#include "model/model_impl.h"
#include "audience/audience_link.h"

#include <stdio.h>

static void schema_clear(eng_engine *e, eng__model_state *st, int kind)
{
    for (size_t i = 0; i < st->schema[kind].n; i++)
        eng__free(&e->mem, (char *)st->schema[kind].fields[i].name);
    eng__free(&e->mem, st->schema[kind].fields);
    st->schema[kind].fields = NULL;
    st->schema[kind].n = 0;
}

void eng__model_schemas_free(eng_engine *e, eng__model_state *st)
{
    schema_clear(e, st, ENG_SCHEMA_CUSTOMER);
    schema_clear(e, st, ENG_SCHEMA_EVENT);
}

ENG_API int eng_model_set_rule_schema(eng_engine *e, int kind, const eng_rule_field *fields, size_t nfields)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__model_state *st;
    eng_rule_field *copy = NULL;
    if (kind != ENG_SCHEMA_CUSTOMER && kind != ENG_SCHEMA_EVENT) {
        rc = eng__err(ENG_EINVAL, "kind", "%d is not an eng_rule_schema_kind", kind);
        goto out;
    }
    if ((nfields && !fields) || nfields > 4096) {
        rc = eng__err(ENG_EINVAL, "fields", "fields is NULL or has more than 4096 entries");
        goto out;
    }
    if (!(st = eng__model(e))) {
        rc = eng__nomem();
        goto out;
    }
    if (nfields && !(copy = eng__calloc(&e->mem, nfields, sizeof(*copy)))) {
        rc = eng__nomem();
        goto out;
    }
    for (size_t i = 0; i < nfields; i++) {
        char path[48];
        if (!fields[i].name || !*fields[i].name) {
            snprintf(path, sizeof path, "fields[%zu].name", i);
            rc = eng__err(ENG_EINVAL, path, "field %zu has no name", i);
            break;
        }
        /* Refuse a bad type now rather than failing every later rule with a confusing error. */
        if ((int)fields[i].type <= ENG_RT_NULL || (int)fields[i].type > ENG_RT_STRING_LIST) {
            snprintf(path, sizeof path, "fields[%zu].type", i);
            rc = eng__err(ENG_EINVAL, path, "field '%s': %d is not a field type", fields[i].name, (int)fields[i].type);
            break;
        }
        if (fields[i].scale < 0 || fields[i].scale > ENG_RULE_MAX_SCALE ||
            (fields[i].scale && fields[i].type != ENG_RT_DECIMAL)) {
            snprintf(path, sizeof path, "fields[%zu].scale", i);
            rc = eng__err(ENG_EINVAL, path, "field '%s': scale %d (0..%d, decimals only)", fields[i].name,
                          fields[i].scale, ENG_RULE_MAX_SCALE);
            break;
        }
        copy[i] = fields[i];
        if (!(copy[i].name = eng__strdup(&e->mem, fields[i].name))) {
            rc = eng__nomem();
            break;
        }
    }
    if (rc) {
        for (size_t i = 0; i < nfields; i++)
            eng__free(&e->mem, (char *)copy[i].name);
        eng__free(&e->mem, copy);
        goto out;
    }
    schema_clear(e, st, kind);
    st->schema[kind].fields = copy;
    st->schema[kind].n = nfields;
out:
    eng__leave(e);
    return rc;
}

/* No host schema for customers: the audience layer's columns (what filter
 * groups see) are the schema, so a typo in a variant rule is caught at submit. */
static void audience_check(eng_engine *e, eng_validation *v, const char *org, const char *text, const char *path)
{
    int checked;
    int rc = org ? eng__audience_rule_check(e, org, text, &checked) : ENG_OK;
    if (rc == ENG_ENOMEM) {
        v->oom = 1;
    } else if (rc) {
        const eng_error *le = eng_error_last();
        eng__vr_add(v, rc, path, "%s: %s", le->detail, le->message);
    }
}

void eng__model_rule_check(eng_engine *e, eng_validation *v, const char *text, int kind, const char *path)
{
    eng__model_rule_check_org(e, v, NULL, text, kind, path);
}

void eng__model_rule_check_org(eng_engine *e, eng_validation *v, const char *org, const char *text, int kind,
                               const char *path)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    if (!v || eng__empty(text))
        return;
    if (kind == ENG_SCHEMA_CUSTOMER && (!st || !st->schema[kind].n)) {
        audience_check(e, v, org, text, path);
        return;
    }
    if (!st || !st->schema[kind].n)
        return;
    eng_rule_options opts;
    eng_rule_options_init(&opts, ENG_RULE_OPTIONS_VERSION);
    opts.fields = st->schema[kind].fields;
    opts.nfields = st->schema[kind].n;
    eng_rule *rule = NULL;
    int rc = eng_rule_compile(e, text, &opts, &rule);
    if (rc == ENG_ENOMEM) {
        v->oom = 1;
    } else if (rc) {
        const eng_error *le = eng_error_last();
        eng__vr_add(v, rc, path, "%s: %s", le->detail, le->message);
    }
    eng_rule_free(rule);
}

/* ---- conversion goals: the built-in transaction schema ---- */

#define TXN_MAX_FIELDS 1024
static const eng_rule_field txn_builtin[] = {
    {"amount", ENG_RT_DECIMAL, 4}, {"store", ENG_RT_STRING, 0}, {"items", ENG_RT_STRING_LIST, 0},
    {"time", ENG_RT_TIMESTAMP, 0}};
#define TXN_NBUILTIN (sizeof txn_builtin / sizeof txn_builtin[0])

void eng__goal_rule_check(eng_engine *e, eng_validation *v, const char *org, const eng_goal_spec *g,
                          const char *path)
{
    char p[128];
    if (!v || !g) /* a missing goal: eng__goal_check says so */
        return;
    snprintf(p, sizeof p, "%s.event", path);
    if (!eng__empty(g->event) && strcmp(g->event, "transaction") != 0)
        eng__vr_add(v, ENG_EUNSUPPORTED, p, "goal event \"%.64s\": only \"transaction\" goals exist", g->event);
    snprintf(p, sizeof p, "%s.condition", path);
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    if (st && st->schema[ENG_SCHEMA_EVENT].n) { /* the host's event schema */
        eng__model_rule_check(e, v, g->condition, ENG_SCHEMA_EVENT, p);
        return;
    }
    if (eng__empty(g->condition) || strlen(g->condition) > 65536) /* too long: eng__goal_check says so */
        return;
    eng_rule_field *f = eng__calloc(&e->mem, TXN_NBUILTIN + TXN_MAX_FIELDS, sizeof *f);
    if (!f) {
        v->oom = 1;
        return;
    }
    memcpy(f, txn_builtin, sizeof txn_builtin);
    size_t n = 0;
    int rc = org ? eng__txn_fields_provider(e, org, f + TXN_NBUILTIN, TXN_MAX_FIELDS, &n) : ENG_OK;
    eng_rule *rule = NULL;
    if (rc == ENG_OK) {
        eng_rule_options opts;
        eng_rule_options_init(&opts, ENG_RULE_OPTIONS_VERSION);
        opts.fields = f;
        opts.nfields = TXN_NBUILTIN + n;
        rc = eng_rule_compile(e, g->condition, &opts, &rule);
        eng_rule_free(rule);
    }
    eng__free(&e->mem, f);
    if (rc == ENG_ENOMEM) {
        v->oom = 1;
    } else if (rc) {
        const eng_error *le = eng_error_last();
        eng__vr_add(v, rc, p, "%s: %s", le->detail, le->message);
    }
}
