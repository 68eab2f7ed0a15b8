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
#include "rules/rules_link.h"

#include <stdio.h>
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

/* Contact and consent as fields, after the attribute columns (column names
 * cannot hold a '.', so they never collide): for every channel
 * reachable.<ch> (bool: contact, consent, no opt-out, not suppressed),
 * consent.<ch> (bool: consent given) and optout.<ch> (timestamp of the
 * opt-out; null when not opted out). Field ncols + k is kind k / ENG_CH_COUNT
 * of channel k % ENG_CH_COUNT. */
enum { PF_REACHABLE, PF_CONSENT, PF_OPTOUT, PF_KINDS };
#define NPSEUDO (PF_KINDS * ENG_CH_COUNT)
static const char *const pf_prefix[PF_KINDS] = {"reachable.", "consent.", "optout."};

static void pseudo_name(int k, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s", pf_prefix[k / ENG_CH_COUNT], eng_channel_name(k % ENG_CH_COUNT));
}

/* Compile @p expr against the current schema. */
int eng__filter_compile(eng__aud *a, const char *expr, eng_rule **out)
{
    eng__table *t = &a->t;
    eng_rule_field *f = eng__calloc(&a->e->mem, t->ncols + NPSEUDO, sizeof *f);
    char(*names)[32] = eng__calloc(&a->e->mem, NPSEUDO, sizeof *names);
    if (!f || !names) {
        eng__free(&a->e->mem, f);
        eng__free(&a->e->mem, names);
        return eng__nomem();
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        f[i].name = t->cols[i].name;
        f[i].type = rule_type(t->cols[i].type);
        f[i].scale = t->cols[i].type == ENG_COL_DECIMAL ? 4 : 0;
    }
    for (int k = 0; k < NPSEUDO; k++) {
        pseudo_name(k, names[k], sizeof names[k]);
        f[t->ncols + k].name = names[k];
        f[t->ncols + k].type = k / ENG_CH_COUNT == PF_OPTOUT ? ENG_RT_TIMESTAMP : ENG_RT_BOOL;
    }
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = f;
    o.nfields = t->ncols + NPSEUDO;
    int rc = eng_rule_compile(a->e, expr, &o, out);
    eng__free(&a->e->mem, f);
    eng__free(&a->e->mem, names);
    return rc;
}

int eng__audience_rule_check(eng_engine *e, const char *org, const char *text, int *checked)
{
    eng__aud *a;
    eng_rule *rule = NULL;
    *checked = 0;
    int rc = eng__aud_get(e, org, &a);
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

/* Bytes 0/1 from a bitmap of rows. */
static uint8_t *bool_bytes(scratch *s, const uint64_t *words, uint32_t n)
{
    uint8_t *b = keep(s, eng__malloc(s->mem, n ? n : 1));
    if (b)
        for (uint32_t r = 0; r < n; r++)
            b[r] = (uint8_t)(words ? eng__bit(words, r) : 0);
    return b;
}

/* Pseudo field k as a batch column. */
static int pseudo_view(scratch *s, const eng__table *t, int k, eng_rule_column *out)
{
    const eng__chan *ch = &t->ch[k % ENG_CH_COUNT];
    size_t words = ((size_t)t->n + 63) / 64;
    uint64_t *w = keep(s, eng__calloc(s->mem, words ? words : 1, 8));
    if (!w)
        return eng__nomem();
    memset(out, 0, sizeof *out);
    int kind = k / ENG_CH_COUNT, rc = ENG_OK;
    if (kind == PF_REACHABLE) {
        eng__idset set;
        eng__idset_init(&set, s->mem);
        if (!(rc = eng__table_reachable_set(t, k % ENG_CH_COUNT, &set)))
            eng__idset_to_words(&set, w, words);
        eng__idset_free(&set);
    } else if (ch->used) {
        eng__idset_to_words(kind == PF_CONSENT ? &ch->consent : &ch->optout, w, words);
    }
    if (rc)
        return rc;
    if (kind != PF_OPTOUT) {
        out->type = ENG_RT_BOOL;
        out->data = bool_bytes(s, w, t->n);
        return out->data ? ENG_OK : eng__nomem();
    }
    /* optout: the time where the bit is set, null elsewhere */
    for (size_t i = 0; i < words; i++)
        w[i] = ~w[i];
    if (t->n & 63)
        w[words - 1] &= (1ull << (t->n & 63)) - 1;
    out->type = ENG_RT_TIMESTAMP;
    out->nulls = w;
    if (ch->used && ch->optout_ts) {
        out->data = ch->optout_ts;
    } else {
        out->data = keep(s, eng__calloc(s->mem, t->n ? t->n : 1, sizeof(int64_t)));
        if (!out->data)
            return eng__nomem();
    }
    return ENG_OK;
}

/* Rows @p r0 (a multiple of 64) on of column @p c: the same column, its arrays advanced. */
static eng_rule_column column_from(const eng_rule_column *c, size_t r0)
{
    static const unsigned char width[] = {[ENG_RT_BOOL] = 1, [ENG_RT_INT] = 8, [ENG_RT_DECIMAL] = 8,
                                          [ENG_RT_STRING] = 4, [ENG_RT_DATE] = 4, [ENG_RT_TIMESTAMP] = 8,
                                          [ENG_RT_STRING_LIST] = 4};
    eng_rule_column s = *c;
    if (s.data && s.type > 0 && s.type <= ENG_RT_STRING_LIST)
        s.data = (const unsigned char *)s.data + r0 * width[s.type]; /* list offsets index list_codes as before */
    if (s.nulls)
        s.nulls += r0 / 64;
    return s;
}

size_t eng__filter_slice_rows = (size_t)1 << 16; /* a multiple of 64 (a few ms of rows); tests lower it */

/* Evaluate over the table. With a progress callback the rows go in slices of
 * 2^16 ("audience.filter", rows), so a large table reports as it goes and can
 * be cancelled; without one, one pass (a slice repeats the per-call setup). */
static int eval_rows(eng__aud *a, const eng_rule *rule, const eng_rule_column *cols, size_t ncols, uint64_t *sel,
                     scratch *s)
{
    eng_engine *e = a->e;
    size_t n = a->t.n;
    if (!e->progress_fn) {
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n, cols, ncols, NULL};
        return eng_rule_eval_batch(rule, &b, NULL, sel, NULL);
    }
    const size_t SLICE = eng__filter_slice_rows;
    eng_rule_column *part = keep(s, eng__calloc(s->mem, ncols, sizeof *part));
    if (!part)
        return eng__nomem();
    eng__prog pg;
    int rc = eng__prog_start(&pg, e, "audience.filter", n);
    for (size_t r0 = 0; !rc && r0 < n; r0 += SLICE) {
        for (size_t i = 0; i < ncols; i++)
            part[i] = column_from(&cols[i], r0);
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, n - r0 < SLICE ? n - r0 : SLICE, part, ncols, NULL};
        ENG__WORK(b.nrows);
        if (!(rc = eng_rule_eval_batch(rule, &b, NULL, sel + r0 / 64, NULL)))
            rc = eng__prog_batch(&pg, r0 + b.nrows);
    }
    return rc ? rc : eng__prog_end(&pg);
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
    eng_rule_column *cols = keep(&s, eng__calloc(s.mem, t->ncols + NPSEUDO, sizeof *cols));
    uint64_t *sel = keep(&s, eng__calloc(s.mem, words ? words : 1, 8));
    if (!cols || !sel)
        rc = eng__nomem();
    /* views of the columns the rule reads only (a date column's days cost a
     * division a row; the batch never looks at the others) */
    for (uint32_t i = 0; i < t->ncols && !rc; i++) {
        if (eng__rule_reads(rule, i))
            rc = column_view(&s, t, &t->cols[i], &cols[i]);
        else
            cols[i].type = rule_type(t->cols[i].type);
    }
    for (int k = 0; k < NPSEUDO && !rc; k++) {
        if (eng__rule_reads(rule, t->ncols + (size_t)k))
            rc = pseudo_view(&s, t, k, &cols[t->ncols + k]);
        else
            cols[t->ncols + k].type = k / ENG_CH_COUNT == PF_OPTOUT ? ENG_RT_TIMESTAMP : ENG_RT_BOOL;
    }
    if (!rc)
        rc = eval_rows(a, rule, cols, t->ncols + NPSEUDO, sel, &s);
    if (!rc)
        rc = eng__idset_from_words(out, sel, words);
    for (size_t i = 0; i < s.n; i++)
        eng__free(s.mem, s.p[i]);
    eng__free(s.mem, s.p);
    eng_rule_free(rule);
    return rc;
}
