/* Filter groups: the stored expression is compiled against the customer
 * schema and run by the rules engine's column-batch evaluator over the whole
 * table in one pass. The table's columns are handed over as they are (codes,
 * int64 values) except where the layouts differ: the rules batch wants a
 * null bitmap (we keep a "present" bitmap), one byte per boolean (we keep
 * bits), days for a date column (we keep milliseconds) and a pointer per
 * dictionary entry (we keep an arena); those views are built per evaluation,
 * O(rows / 64) or O(rows) bytes for the columns used. */
#include "audience/audience_impl.h"
#include "audience/audience_link.h"
#include "engage/rules.h"

#include <string.h>

static eng_rule_type rule_type(int t)
{
    switch (t) {
    case ENG_COL_STRING: return ENG_RT_STRING;
    case ENG_COL_INT64: return ENG_RT_INT;
    case ENG_COL_DECIMAL: return ENG_RT_DECIMAL;
    case ENG_COL_DATE: return ENG_RT_DATE; /* a date column is a date in rules: the UTC day of the stored time */
    default: return ENG_RT_BOOL;
    }
}

/* Compile @p expr against the current schema. */
int eng__filter_compile(eng__aud *a, const char *expr, eng_rule **out)
{
    eng__table *t = &a->t;
    eng_rule_field *f = eng__calloc(&a->e->mem, t->ncols ? t->ncols : 1, sizeof *f);
    if (!f)
        return eng__nomem();
    for (uint32_t i = 0; i < t->ncols; i++) {
        f[i].name = t->cols[i].name;
        f[i].type = rule_type(t->cols[i].type);
        f[i].scale = t->cols[i].type == ENG_COL_DECIMAL ? 4 : 0;
    }
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = f;
    o.nfields = t->ncols;
    int rc = eng_rule_compile(a->e, expr, &o, out);
    eng__free(&a->e->mem, f);
    return rc;
}

int eng__audience_rule_check(eng_engine *e, const char *text, int *checked)
{
    eng__aud *a;
    eng_rule *rule = NULL;
    *checked = 0;
    int rc = eng__aud_get(e, &a);
    if (rc || (a->t.ncols == 0 && a->t.n == 0))
        return rc;
    *checked = 1;
    rc = eng__filter_compile(a, text, &rule);
    eng_rule_free(rule);
    return rc;
}

typedef struct scratch {
    const eng__mem *mem;
    void **p;
    size_t n, cap;
} scratch;

static void *keep(scratch *s, void *p)
{
    if (!p)
        return NULL;
    if (eng__grow(s->mem, (void **)&s->p, &s->cap, s->n + 1, sizeof *s->p)) {
        eng__free(s->mem, p);
        return NULL;
    }
    s->p[s->n++] = p;
    return p;
}

static int column_view(scratch *s, const eng__table *t, const eng__col *c, eng_rule_column *out)
{
    size_t words = ((size_t)t->n + 63) / 64;
    memset(out, 0, sizeof *out);
    out->type = rule_type(c->type);
    out->scale = c->type == ENG_COL_DECIMAL ? 4 : 0;
    uint64_t *nulls = keep(s, eng__calloc(s->mem, words ? words : 1, 8));
    if (!nulls)
        return eng__nomem();
    for (size_t w = 0; w < words; w++)
        nulls[w] = ~c->present[w];
    if (t->n & 63)
        nulls[words - 1] &= (1ull << (t->n & 63)) - 1;
    out->nulls = nulls;
    if (c->type == ENG_COL_STRING) {
        uint32_t nd = c->dict.n ? c->dict.n : 1;
        const char **dict = keep(s, eng__calloc(s->mem, nd, sizeof *dict));
        uint32_t *len = keep(s, eng__calloc(s->mem, nd, sizeof *len));
        if (!dict || !len)
            return eng__nomem();
        dict[0] = ""; /* null rows carry code 0 even when the dictionary is empty */
        for (uint32_t k = 0; k < c->dict.n; k++) {
            size_t l;
            dict[k] = eng__dict_str(&c->dict, k, &l);
            len[k] = (uint32_t)l;
        }
        out->data = c->code;
        out->dict = dict;
        out->dict_len = len;
        out->dict_size = nd;
    } else if (c->type == ENG_COL_BOOL) {
        uint8_t *b = keep(s, eng__malloc(s->mem, t->n ? t->n : 1));
        if (!b)
            return eng__nomem();
        for (uint32_t r = 0; r < t->n; r++)
            b[r] = (uint8_t)eng__bit(c->bits, r);
        out->data = b;
    } else if (c->type == ENG_COL_DATE) {
        int32_t *d = keep(s, eng__malloc(s->mem, (t->n ? t->n : 1) * sizeof *d));
        if (!d)
            return eng__nomem();
        for (uint32_t r = 0; r < t->n; r++) {
            int64_t ms = c->i64[r], q = ms / 86400000;
            d[r] = (int32_t)(q - (ms % 86400000 < 0)); /* floor: the UTC day */
        }
        out->data = d;
    } else {
        out->data = c->i64;
    }
    return ENG_OK;
}

int eng__filter_eval(eng__aud *a, const eng__group *g, eng__idset *out)
{
    eng__idset_free(out);
    eng__table *t = &a->t;
    eng_rule *rule = NULL;
    int rc = eng__filter_compile(a, g->expr, &rule);
    if (rc)
        return eng__err_wrap(rc, "filter group %u (%s)", g->id, g->name);
    scratch s = {&a->e->mem, NULL, 0, 0};
    size_t words = ((size_t)t->n + 63) / 64;
    eng_rule_column *cols = keep(&s, eng__calloc(s.mem, t->ncols ? t->ncols : 1, sizeof *cols));
    uint64_t *sel = keep(&s, eng__calloc(s.mem, words ? words : 1, 8));
    if (!cols || !sel)
        rc = eng__nomem();
    for (uint32_t i = 0; i < t->ncols && !rc; i++)
        rc = column_view(&s, t, &t->cols[i], &cols[i]);
    if (!rc) {
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, t->n, cols, t->ncols};
        rc = eng_rule_eval_batch(rule, &b, NULL, sel, NULL);
    }
    if (!rc)
        rc = eng__idset_from_words(out, sel, words);
    for (size_t i = 0; i < s.n; i++)
        eng__free(s.mem, s.p[i]);
    eng__free(s.mem, s.p);
    eng_rule_free(rule);
    return rc;
}
