/* The goal condition's wide transaction columns (goalcols.h): items as a string list over the
 * SKU dictionary, time as a timestamp, each custom field as its rule type (strings as codes
 * into the field dictionary, dates as days, booleans as bytes), nulls where a row has no value
 * or its segment was written before the field was declared. */
#include "measure/goalcols.h"
#include "measure/measure_impl.h"
#include "model/txn_schema.h"
#include "audience/audience_impl.h"
#include "rules/rules_link.h"

#include <string.h>

#define NBUILTIN 4
#define MAX_FIELDS 1024

int eng__goal_wide(eng_engine *e, const eng_goal_spec *g)
{
    if (!g || !g->condition || !g->condition[0])
        return 0;
    static const eng_rule_field narrow[2] = {{"amount", ENG_RT_DECIMAL, 4}, {"store", ENG_RT_STRING, 0}};
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = narrow;
    o.nfields = 2;
    eng_rule *r = NULL;
    int rc = eng_rule_compile(e, g->condition, &o, &r);
    eng_rule_free(r);
    return rc == ENG_ETYPE; /* an unknown field (or a mismatch the wide schema reports again) */
}

int eng__goalcols_init(eng__goalcols *g, eng_engine *e, const char *org)
{
    memset(g, 0, sizeof *g);
    g->e = e;
    const eng__mem *m = &e->mem;
    g->fields = eng__calloc(m, NBUILTIN + MAX_FIELDS, sizeof *g->fields);
    if (!g->fields)
        return eng__nomem();
    static const eng_rule_field builtin[NBUILTIN] = {
        {"amount", ENG_RT_DECIMAL, 4}, {"store", ENG_RT_STRING, 0}, {"items", ENG_RT_STRING_LIST, 0},
        {"time", ENG_RT_TIMESTAMP, 0}};
    memcpy(g->fields, builtin, sizeof builtin);
    size_t n = 0;
    int rc = eng__txn_fields_provider(e, org, g->fields + NBUILTIN, MAX_FIELDS, &n);
    eng__aud *a = NULL;
    if (rc || (rc = eng__aud_get(e, org, &a)))
        return rc;
    /* the provider gives the transaction's fields (field f at place f), then the customer's
     * attributes: those are read from the customer table below */
    uint32_t idx;
    int ftype;
    while (g->nf < n && eng__txn_field(e, org, g->fields[NBUILTIN + g->nf].name, &idx, &ftype) == ENG_OK &&
           idx == g->nf)
        g->nf++;
    /* the rest are the customer's attributes (the provider chose them and their types, a name
     * they share with the transaction's left out): find each one's column in the table */
    const eng__table *t = g->table = &a->t;
    g->acol = eng__calloc(m, n > g->nf ? n - g->nf : 1, sizeof *g->acol);
    if (!g->acol)
        return eng__nomem();
    for (size_t k = g->nf; k < n; k++) {
        const char *name = g->fields[NBUILTIN + k].name;
        int col = eng__table_col_index(t, name, strlen(name));
        if (col < 0)
            return eng__err(ENG_ERROR, "goal condition", "attribute '%s' is not in the customer table", name);
        g->acol[g->na++] = (uint32_t)col;
    }
    if (!(g->conv = eng__calloc(m, g->nf + g->na ? g->nf + g->na : 1, sizeof *g->conv)))
        return eng__nomem();
    size_t nf = g->nf ? g->nf : 1;
    g->fv = eng__calloc(m, nf, sizeof *g->fv);
    g->fnull = eng__calloc(m, nf, sizeof *g->fnull);
    g->fmax = eng__calloc(m, nf, sizeof *g->fmax);
    g->item_off = eng__calloc(m, 1, sizeof *g->item_off);
    if (!g->fv || !g->fnull || !g->fmax || !g->item_off)
        return eng__nomem();
    return ENG_OK;
}

int eng__goalcols_check(eng__goalcols *g, const char *condition)
{
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = g->fields;
    o.nfields = NBUILTIN + g->nf + g->na;
    eng_rule *r = NULL;
    int rc = eng_rule_compile(g->e, condition, &o, &r);
    g->reads = rc ? NULL : eng__calloc(&g->e->mem, o.nfields, sizeof *g->reads);
    if (!rc && !g->reads)
        rc = eng__nomem();
    for (size_t i = 0; !rc && i < o.nfields; i++)
        g->reads[i] = eng__rule_reads(r, i);
    eng_rule_free(r);
    /* a field the goal was saved with (a host's event schema may name a customer attribute)
     * that the transactions do not have: say which fields there are */
    if (rc == ENG_ETYPE)
        return eng__err_wrap(rc, "goal condition (the report from the stores offers amount, store, items, time, "
                                 "the org's transaction fields and the customer's attributes)");
    return rc;
}

static int room(eng__goalcols *g, size_t rows, size_t items)
{
    const eng__mem *m = &g->e->mem;
    if (g->ni + items > g->capi && eng__grow(m, (void **)&g->items, &g->capi, g->ni + items, sizeof *g->items))
        return eng__nomem();
    if (g->n + rows <= g->cap)
        return ENG_OK;
    size_t cap = g->cap * 2 > g->n + rows ? g->cap * 2 : g->n + rows, w0 = (g->cap + 63) / 64, w = (cap + 63) / 64;
    uint32_t *off = eng__realloc_array(m, g->item_off, cap + 1, sizeof *off);
    if (!off)
        return eng__nomem();
    g->item_off = off;
    for (size_t f = 0; f < g->nf; f++) {
        int64_t *v = eng__realloc_array(m, g->fv[f], cap, sizeof *v);
        if (v)
            g->fv[f] = v;
        uint64_t *z = v ? eng__realloc_array(m, g->fnull[f], w, sizeof *z) : NULL;
        if (!z)
            return eng__nomem();
        memset(z + w0, 0, (w - w0) * sizeof *z);
        g->fnull[f] = z;
    }
    g->cap = cap;
    return ENG_OK;
}

int eng__goalcols_add(eng__goalcols *g, const eng__txn_cols *x)
{
    g->org = x->org;
    size_t items = x->item_off ? x->item_off[x->n] - x->item_off[0] : 0;
    if (room(g, x->n, items))
        return eng__nomem();
    for (size_t i = 0; i < x->n; i++) {
        if (x->customer[i] == ENG__NO_CUSTOMER)
            continue; /* as campaign.c's txn_copy: joined when the customer arrives */
        size_t r = g->n++;
        if (x->item_off)
            for (uint32_t k = x->item_off[i]; k < x->item_off[i + 1]; k++) {
                uint32_t s = x->items[k];
                g->items[g->ni++] = s;
                g->nsku = s + 1 > g->nsku ? s + 1 : g->nsku;
            }
        g->item_off[r + 1] = (uint32_t)g->ni;
        for (size_t f = 0; f < g->nf; f++) {
            int has = f < x->nfields && x->field && x->field[f] && x->field_present &&
                      (x->field_present[f][i / 64] >> (i % 64) & 1);
            int64_t v = has ? x->field[f][i] : 0;
            g->fv[f][r] = v;
            if (!has)
                g->fnull[f][r / 64] |= 1ull << (r % 64);
            else if (g->fields[NBUILTIN + f].type == ENG_RT_STRING && (uint64_t)v + 1 > g->fmax[f])
                g->fmax[f] = (uint32_t)v + 1;
        }
    }
    return ENG_OK;
}

/* Dictionary entries [at, at + n) from @p str (SKUs or a field's strings). */
static void fill_dict(eng__goalcols *g, size_t at, uint32_t n, int sku)
{
    for (uint32_t s = 0; s < n; s++) {
        size_t len = 0;
        const char *p = sku ? eng__txn_sku_str(g->e, g->org, s, &len) : eng__txn_fstr(g->e, g->org, s, &len);
        g->dict[at + s] = p ? p : "";
        g->dict_len[at + s] = p ? (uint32_t)len : 0;
    }
}

static void *own(eng__goalcols *g, void *p)
{
    if (p && eng__grow(&g->e->mem, (void **)&g->own, &g->capown, g->nown + 1, sizeof *g->own)) {
        eng__free(&g->e->mem, p);
        return NULL;
    }
    if (p)
        g->own[g->nown++] = p;
    return p;
}

/* Attribute k's column over the rows: the value of each row's customer (null when they have none).
 * An attribute the condition does not read keeps its type only (the batch never reads it). */
static int join_attr(eng__goalcols *g, size_t k, const uint32_t *cust)
{
    const size_t fi = NBUILTIN + g->nf + k, n = g->n ? g->n : 1;
    const eng__col *col = &g->table->cols[g->acol[k]];
    const int type = g->fields[fi].type;
    eng_rule_column *c = &g->cols[fi];
    *c = (eng_rule_column){type, g->fields[fi].scale, NULL, NULL, NULL, NULL, 0, NULL};
    if (!g->reads || !g->reads[fi])
        return ENG_OK;
    const size_t w = type == ENG_RT_BOOL ? 1 : type == ENG_RT_STRING || type == ENG_RT_DATE ? 4 : 8;
    uint64_t *nulls = own(g, eng__calloc(&g->e->mem, (n + 63) / 64, sizeof *nulls));
    void *d = own(g, eng__calloc(&g->e->mem, n, w));
    if (!nulls || !d)
        return ENG_ENOMEM;
    for (size_t r = 0; r < g->n; r++) {
        const uint32_t cu = cust[r];
        if (cu >= g->table->n || !eng__bit(col->present, cu)) {
            nulls[r / 64] |= 1ull << (r % 64);
            continue;
        }
        if (type == ENG_RT_STRING)
            ((uint32_t *)d)[r] = col->code[cu];
        else if (type == ENG_RT_BOOL)
            ((uint8_t *)d)[r] = (uint8_t)eng__bit(col->bits, cu);
        else if (type == ENG_RT_DATE) /* the table keeps ms; the rule wants the UTC day */
            ((int32_t *)d)[r] = (int32_t)((col->i64[cu] - (col->i64[cu] < 0 ? ENG_DAY - 1 : 0)) / ENG_DAY);
        else
            ((int64_t *)d)[r] = col->i64[cu];
    }
    c->data = d, c->nulls = nulls;
    if (type == ENG_RT_STRING) {
        const uint32_t nd = col->dict.n ? col->dict.n : 1;
        const char **dict = own(g, eng__calloc(&g->e->mem, nd, sizeof *dict));
        uint32_t *len = own(g, eng__calloc(&g->e->mem, nd, sizeof *len));
        if (!dict || !len)
            return ENG_ENOMEM;
        dict[0] = ""; /* null rows carry code 0 even when the dictionary is empty */
        for (uint32_t s = 0; s < col->dict.n; s++) {
            size_t l;
            dict[s] = eng__dict_str(&col->dict, s, &l);
            len[s] = (uint32_t)l;
        }
        c->dict = dict, c->dict_len = len, c->dict_size = nd;
    }
    return ENG_OK;
}

int eng__goalcols_finish(eng__goalcols *g, const eng_rule_column amount_store[2], const eng_time *time,
                         const uint32_t *cust, eng_txn_columns *out)
{
    const eng__mem *m = &g->e->mem;
    size_t nd = g->nsku;
    for (size_t f = 0; f < g->nf; f++)
        nd += g->fmax[f];
    g->dict = eng__calloc(m, nd ? nd : 1, sizeof *g->dict);
    g->dict_len = eng__calloc(m, nd ? nd : 1, sizeof *g->dict_len);
    g->cols = eng__calloc(m, NBUILTIN + g->nf + g->na, sizeof *g->cols);
    if (!g->dict || !g->dict_len || !g->cols)
        return eng__nomem();
    g->cols[0] = amount_store[0];
    g->cols[1] = amount_store[1];
    fill_dict(g, 0, g->nsku, 1);
    g->cols[2] = (eng_rule_column){ENG_RT_STRING_LIST, 0, g->item_off, NULL, g->dict, g->dict_len, g->nsku, g->items};
    g->cols[3] = (eng_rule_column){ENG_RT_TIMESTAMP, 0, time, NULL, NULL, NULL, 0, NULL};
    size_t at = g->nsku, n = g->n ? g->n : 1;
    for (size_t f = 0; f < g->nf; f++) {
        eng_rule_column *c = &g->cols[NBUILTIN + f];
        const int64_t *v = g->fv[f];
        int type = g->fields[NBUILTIN + f].type;
        *c = (eng_rule_column){type, g->fields[NBUILTIN + f].scale, v, g->fnull[f], NULL, NULL, 0, NULL};
        if (type == ENG_RT_INT || type == ENG_RT_DECIMAL)
            continue;
        size_t w = type == ENG_RT_BOOL ? 1 : 4;
        if (!(g->conv[f] = eng__calloc(m, n, w)))
            return eng__nomem();
        c->data = g->conv[f];
        for (size_t r = 0; r < g->n; r++) {
            if (type == ENG_RT_BOOL)
                ((uint8_t *)g->conv[f])[r] = v[r] != 0;
            else if (type == ENG_RT_STRING)
                ((uint32_t *)g->conv[f])[r] = (uint32_t)v[r];
            else /* a date is stored as its midnight in ms; the rule wants days */
                ((int32_t *)g->conv[f])[r] = (int32_t)((v[r] - (v[r] < 0 ? ENG_DAY - 1 : 0)) / ENG_DAY);
        }
        if (type == ENG_RT_STRING) {
            fill_dict(g, at, g->fmax[f], 0);
            c->dict = g->dict + at, c->dict_len = g->dict_len + at, c->dict_size = g->fmax[f];
            at += g->fmax[f];
        }
    }
    for (size_t k = 0; k < g->na; k++)
        if (join_attr(g, k, cust))
            return eng__nomem();
    out->fields = g->fields;
    out->nfields = NBUILTIN + g->nf + g->na;
    out->columns = g->cols;
    return ENG_OK;
}

void eng__goalcols_free(eng__goalcols *g)
{
    if (!g->e)
        return;
    const eng__mem *m = &g->e->mem;
    for (size_t f = 0; g->fv && f < g->nf; f++) {
        eng__free(m, g->fv[f]);
        eng__free(m, g->fnull[f]);
        if (g->conv)
            eng__free(m, g->conv[f]);
    }
    for (size_t i = 0; i < g->nown; i++)
        eng__free(m, g->own[i]);
    eng__free(m, g->own), eng__free(m, g->acol), eng__free(m, g->reads);
    eng__free(m, g->fv), eng__free(m, g->fnull), eng__free(m, g->fmax), eng__free(m, g->conv);
    eng__free(m, g->item_off), eng__free(m, g->items), eng__free(m, g->fields);
    eng__free(m, g->dict), eng__free(m, g->dict_len), eng__free(m, g->cols);
    memset(g, 0, sizeof *g);
}
